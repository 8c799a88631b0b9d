//! APC device profiles (PowerNet-MIB), keyed by sysObjectID: which table
//! columns name, read and switch an outlet, and what their values mean.
//!
//! | profile | hardware | sysObjectID | state values | command values |
//! |---|---|---|---|---|
//! | [`Profile::RackPdu`] (rPDU) | Switched Rack PDU AP79xx | `.318.1.3.4.5` | on 1, off 2 | on 1, off 2, reboot 3 |
//! | [`Profile::RackPdu2`] (rPDU2) | Rack PDU 2G AP8xxx | `.318.1.3.4.6` | **off 1, on 2** | on 1, off 2, reboot 3, then shifted by one from 4 |
//! | [`Profile::MasterSwitch`] (sPDU) | MasterSwitch AP92xx | `.318.1.3.4.1`/`.2` (and other APC ids) | on 1, off 2, unknown 4 | on 1, off 2, reboot 3 |
//!
//! Every value read from a device goes through [`Profile::decode_state`] and
//! [`Profile::decode_pending`], which accept nothing outside the enumeration.

use std::fmt;
use std::str::FromStr;

use super::oid::Oid;
use crate::power::PowerState;
use crate::{Error, ErrorKind};

/// sysObjectID.0.
pub const SYS_OBJECT_ID: &[u32] = &[1, 3, 6, 1, 2, 1, 1, 2, 0];

/// APC's enterprise subtree (PowerNet-MIB), `.1.3.6.1.4.1.318`.
pub const APC: &[u32] = &[1, 3, 6, 1, 4, 1, 318];

const RPDU: &[u32] = &[1, 3, 6, 1, 4, 1, 318, 1, 1, 12];
const RPDU2_OUTLETS: &[u32] = &[1, 3, 6, 1, 4, 1, 318, 1, 1, 26, 9, 2];
const SPDU: &[u32] = &[1, 3, 6, 1, 4, 1, 318, 1, 1, 4];

/// An outlet command the flow sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Immediate on.
    On,
    /// Immediate off.
    Off,
}

/// One APC command table and its value conventions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// Switched Rack PDU (AP79xx, AOS 3.x): the rPDU tables.
    RackPdu,
    /// Rack PDU 2G (AP8xxx, AOS 6.x): the rPDU2 tables, state off 1 / on 2.
    RackPdu2,
    /// MasterSwitch (AP92xx): the sPDU tables.
    MasterSwitch,
}

/// How a sysObjectID was matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identified {
    /// A sysObjectID listed for this profile.
    Known(Profile),
    /// Another APC sysObjectID: the MasterSwitch tables are the common
    /// denominator (fence_apc_snmp's fallback too).
    ApcFallback(Profile),
}

impl Profile {
    /// Every profile.
    pub const ALL: [Profile; 3] = [Profile::RackPdu, Profile::RackPdu2, Profile::MasterSwitch];

    /// The profile for a sysObjectID; `Err` says what the device is and how to
    /// override the choice.
    pub fn identify(sys_object_id: &Oid) -> Result<Identified, Error> {
        let arcs = sys_object_id.arcs();
        let under = |tail: &[u32]| arcs.len() == APC.len() + tail.len() && arcs.ends_with(tail);
        if arcs.starts_with(APC) {
            if under(&[1, 3, 4, 5]) {
                return Ok(Identified::Known(Profile::RackPdu));
            }
            if under(&[1, 3, 4, 6]) {
                return Ok(Identified::Known(Profile::RackPdu2));
            }
            if under(&[1, 3, 4, 1]) || under(&[1, 3, 4, 2]) {
                return Ok(Identified::Known(Profile::MasterSwitch));
            }
            if under(&[1, 3, 4, 4]) {
                return Err(Error::new(
                    ErrorKind::DeviceIncompatible,
                    format!(
                        "sysObjectID {sys_object_id} is an APC MasterSwitch Plus, whose outlet \
                         tables are not supported; if it also answers another table set, set \
                         profile (rpdu, rpdu2 or masterswitch) explicitly"
                    ),
                ));
            }
            return Ok(Identified::ApcFallback(Profile::MasterSwitch));
        }
        Err(Error::new(
            ErrorKind::DeviceIncompatible,
            format!(
                "sysObjectID {sys_object_id} is not an APC device (expected .1.3.6.1.4.1.318.…); \
                 check the address, or set profile (rpdu, rpdu2 or masterswitch) if this device \
                 speaks APC's PowerNet-MIB anyway"
            ),
        ))
    }

    /// The short name used in configuration (`rpdu`, `rpdu2`, `masterswitch`).
    pub fn name(self) -> &'static str {
        match self {
            Profile::RackPdu => "rpdu",
            Profile::RackPdu2 => "rpdu2",
            Profile::MasterSwitch => "masterswitch",
        }
    }

    /// The outlet-name column (read-only status names).
    pub fn name_column(self) -> Oid {
        match self {
            Profile::RackPdu => oid(RPDU, &[3, 5, 1, 1, 2]),
            Profile::RackPdu2 => oid(RPDU2_OUTLETS, &[3, 1, 3]),
            Profile::MasterSwitch => oid(SPDU, &[4, 2, 1, 4]),
        }
    }

    /// The outlet-state column.
    pub fn state_column(self) -> Oid {
        match self {
            Profile::RackPdu => oid(RPDU, &[3, 5, 1, 1, 4]),
            Profile::RackPdu2 => oid(RPDU2_OUTLETS, &[3, 1, 5]),
            Profile::MasterSwitch => oid(SPDU, &[4, 2, 1, 3]),
        }
    }

    /// The command-pending column.
    pub fn pending_column(self) -> Oid {
        match self {
            Profile::RackPdu => oid(RPDU, &[3, 5, 1, 1, 5]),
            Profile::RackPdu2 => oid(RPDU2_OUTLETS, &[3, 1, 6]),
            Profile::MasterSwitch => oid(SPDU, &[4, 2, 1, 2]),
        }
    }

    /// The outlet-command column (written).
    pub fn command_column(self) -> Oid {
        match self {
            Profile::RackPdu => oid(RPDU, &[3, 3, 1, 1, 4]),
            Profile::RackPdu2 => oid(RPDU2_OUTLETS, &[4, 1, 5]),
            Profile::MasterSwitch => oid(SPDU, &[4, 2, 1, 3]),
        }
    }

    /// The INTEGER written to the command column. (Immediate on/off are 1/2
    /// in all three tables; the tables differ from value 4 on.)
    pub fn command_value(self, command: Command) -> i64 {
        match command {
            Command::On => 1,
            Command::Off => 2,
        }
    }

    /// An outlet state read from [`Profile::state_column`].
    pub fn decode_state(self, raw: i64) -> Result<PowerState, Error> {
        let state = match (self, raw) {
            (Profile::RackPdu | Profile::MasterSwitch, 1) => Some(PowerState::On),
            (Profile::RackPdu | Profile::MasterSwitch, 2) => Some(PowerState::Off),
            (Profile::RackPdu2, 1) => Some(PowerState::Off),
            (Profile::RackPdu2, 2) => Some(PowerState::On),
            _ => None,
        };
        state.ok_or_else(|| {
            let known = match self {
                Profile::RackPdu2 => "off 1, on 2",
                _ => "on 1, off 2",
            };
            Error::new(
                ErrorKind::DeviceMisbehaved,
                format!(
                    "outlet state value {raw} is neither on nor off for the {self} profile \
                     (expected {known}{}); if the profile is wrong, set it explicitly",
                    if raw == 4 {
                        "; 4 is outletUnknown: the PDU cannot tell the outlet's state"
                    } else {
                        ""
                    }
                ),
            )
            .with_code(raw.clamp(0, i64::from(u32::MAX)) as u32)
        })
    }

    /// A command-pending value: `Some(true)` pending, `Some(false)` none,
    /// `None` unknown (sPDU's commandPendingUnknown 3, or any other value).
    pub fn decode_pending(self, raw: i64) -> Option<bool> {
        match raw {
            1 => Some(true),
            2 => Some(false),
            _ => None,
        }
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Profile::RackPdu => "Switched Rack PDU (rPDU, AP79xx)",
            Profile::RackPdu2 => "Rack PDU 2G (rPDU2, AP8xxx)",
            Profile::MasterSwitch => "MasterSwitch (sPDU, AP92xx)",
        })
    }
}

impl FromStr for Profile {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "rpdu" | "ap79xx" | "rackpdu" => Profile::RackPdu,
            "rpdu2" | "ap8xxx" | "rackpdu2" => Profile::RackPdu2,
            "masterswitch" | "spdu" | "ms" | "ap92xx" => Profile::MasterSwitch,
            other => {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!(
                        "unknown APC profile {:?}; use rpdu (AP79xx), rpdu2 (AP8xxx) or \
                         masterswitch (AP92xx), or leave it out to detect it",
                        other.chars().take(40).collect::<String>()
                    ),
                ))
            }
        })
    }
}

fn oid(base: &[u32], tail: &[u32]) -> Oid {
    let mut arcs = base.to_vec();
    arcs.extend_from_slice(tail);
    Oid::new(&arcs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identify_by_sys_object_id() {
        let id = |s: &str| Profile::identify(&s.parse().unwrap());
        assert_eq!(
            id(".1.3.6.1.4.1.318.1.3.4.5").unwrap(),
            Identified::Known(Profile::RackPdu)
        );
        assert_eq!(
            id(".1.3.6.1.4.1.318.1.3.4.6").unwrap(),
            Identified::Known(Profile::RackPdu2)
        );
        assert_eq!(
            id(".1.3.6.1.4.1.318.1.3.4.2").unwrap(),
            Identified::Known(Profile::MasterSwitch)
        );
        assert_eq!(
            id(".1.3.6.1.4.1.318.1.3.7").unwrap(),
            Identified::ApcFallback(Profile::MasterSwitch)
        );
        assert_eq!(
            id(".1.3.6.1.4.1.318.1.3.4.4").unwrap_err().kind(),
            ErrorKind::DeviceIncompatible
        );
        let e = id(".1.3.6.1.4.1.8072.3.2.10").unwrap_err();
        assert!(e.message().contains("not an APC device"));
        // A longer OID under a known one is not that device.
        assert_eq!(
            id(".1.3.6.1.4.1.318.1.3.4.5.1").unwrap(),
            Identified::ApcFallback(Profile::MasterSwitch)
        );
    }

    #[test]
    fn rpdu2_state_is_inverted() {
        assert_eq!(Profile::RackPdu.decode_state(1).unwrap(), PowerState::On);
        assert_eq!(Profile::RackPdu2.decode_state(1).unwrap(), PowerState::Off);
        assert_eq!(Profile::RackPdu2.decode_state(2).unwrap(), PowerState::On);
        assert_eq!(
            Profile::MasterSwitch.decode_state(2).unwrap(),
            PowerState::Off
        );
        let e = Profile::MasterSwitch.decode_state(4).unwrap_err();
        assert!(e.message().contains("outletUnknown"));
        assert_eq!(e.code(), Some(4));
    }

    #[test]
    fn hostile_values_never_decode() {
        for p in Profile::ALL {
            for raw in [i64::MIN, -1, 0, 3, 4, 5, 255, 256, i64::MAX] {
                assert!(p.decode_state(raw).is_err(), "{p} {raw}");
                if raw != 3 {
                    assert_eq!(p.decode_pending(raw), None);
                }
            }
            assert_eq!(p.decode_pending(1), Some(true));
            assert_eq!(p.decode_pending(2), Some(false));
        }
        assert!("ap7921".parse::<Profile>().is_err());
        assert_eq!("RPDU2".parse::<Profile>().unwrap(), Profile::RackPdu2);
    }

    #[test]
    fn columns_match_the_mib() {
        assert_eq!(
            Profile::RackPdu.command_column().to_string(),
            ".1.3.6.1.4.1.318.1.1.12.3.3.1.1.4"
        );
        assert_eq!(
            Profile::RackPdu2.state_column().to_string(),
            ".1.3.6.1.4.1.318.1.1.26.9.2.3.1.5"
        );
        assert_eq!(
            Profile::RackPdu2.command_column().to_string(),
            ".1.3.6.1.4.1.318.1.1.26.9.2.4.1.5"
        );
        assert_eq!(
            Profile::MasterSwitch.name_column().to_string(),
            ".1.3.6.1.4.1.318.1.1.4.4.2.1.4"
        );
    }
}
