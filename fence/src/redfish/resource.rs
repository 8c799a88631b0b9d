//! The Redfish resources the fence request reads, from JSON bodies.
//!
//! Every function takes untrusted bytes and never panics: a body that is not
//! JSON, or lacks what we need, is an error that names the resource.
//! serde_json bounds nesting depth (128), and bodies are already bounded by
//! [`super::http::MAX_BODY`].

use std::fmt;
use std::str::FromStr;

use serde_json::Value;

use crate::power::PowerState;
use crate::{Error, ErrorKind};

/// The most members or allowable values we keep (a chassis has a few dozen).
const MAX_LIST: usize = 256;
/// The longest URI or string value we keep.
const MAX_STR: usize = 1024;

/// A `ComputerSystem.PowerState` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedfishPower {
    /// `On`.
    On,
    /// `Off`.
    Off,
    /// `PoweringOn`: not yet On.
    PoweringOn,
    /// `PoweringOff`: not yet Off.
    PoweringOff,
    /// `Paused` (power is on).
    Paused,
    /// Anything else, kept for the message.
    Other(String),
}

impl RedfishPower {
    fn parse(s: &str) -> Self {
        match s {
            "On" => RedfishPower::On,
            "Off" => RedfishPower::Off,
            "PoweringOn" => RedfishPower::PoweringOn,
            "PoweringOff" => RedfishPower::PoweringOff,
            "Paused" => RedfishPower::Paused,
            other => RedfishPower::Other(other.chars().take(64).collect()),
        }
    }

    /// The power state for a report: only `Off` is off (power is present in
    /// every other state, as fence_redfish reports it).
    pub fn report(&self) -> PowerState {
        if *self == RedfishPower::Off {
            PowerState::Off
        } else {
            PowerState::On
        }
    }

    /// Whether `want` is *seen* (transitional states are not yet).
    pub fn is(&self, want: PowerState) -> bool {
        matches!(
            (self, want),
            (RedfishPower::On, PowerState::On) | (RedfishPower::Off, PowerState::Off)
        )
    }

    /// Whether the machine is on its way to `want`.
    pub fn heading_to(&self, want: PowerState) -> bool {
        matches!(
            (self, want),
            (RedfishPower::PoweringOn, PowerState::On)
                | (RedfishPower::PoweringOff, PowerState::Off)
        )
    }
}

impl fmt::Display for RedfishPower {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RedfishPower::On => f.write_str("On"),
            RedfishPower::Off => f.write_str("Off"),
            RedfishPower::PoweringOn => f.write_str("PoweringOn"),
            RedfishPower::PoweringOff => f.write_str("PoweringOff"),
            RedfishPower::Paused => f.write_str("Paused"),
            RedfishPower::Other(s) => write!(f, "{s:?}"),
        }
    }
}

/// A `ComputerSystem.Reset` `ResetType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetType {
    /// Power on.
    On,
    /// Power on (some BMCs only list this one).
    ForceOn,
    /// Hard power off: what fencing uses.
    ForceOff,
    /// Ask the OS to shut down (ACPI); may never power off.
    GracefulShutdown,
    /// Hard reset without passing through Off.
    ForceRestart,
    /// OS restart.
    GracefulRestart,
    /// Power off, then on, in one command.
    PowerCycle,
    /// Press the power button.
    PushPowerButton,
    /// Diagnostic interrupt.
    Nmi,
}

impl ResetType {
    /// The JSON string.
    pub fn as_str(self) -> &'static str {
        match self {
            ResetType::On => "On",
            ResetType::ForceOn => "ForceOn",
            ResetType::ForceOff => "ForceOff",
            ResetType::GracefulShutdown => "GracefulShutdown",
            ResetType::ForceRestart => "ForceRestart",
            ResetType::GracefulRestart => "GracefulRestart",
            ResetType::PowerCycle => "PowerCycle",
            ResetType::PushPowerButton => "PushPowerButton",
            ResetType::Nmi => "Nmi",
        }
    }
}

impl fmt::Display for ResetType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ResetType {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "on" => ResetType::On,
            "forceon" => ResetType::ForceOn,
            "forceoff" => ResetType::ForceOff,
            "gracefulshutdown" => ResetType::GracefulShutdown,
            "forcerestart" => ResetType::ForceRestart,
            "gracefulrestart" => ResetType::GracefulRestart,
            "powercycle" => ResetType::PowerCycle,
            "pushpowerbutton" => ResetType::PushPowerButton,
            "nmi" => ResetType::Nmi,
            _ => {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!(
                        "unknown Redfish ResetType {s:?}; use On, ForceOff, GracefulShutdown, \
                         ForceRestart, PowerCycle or Nmi"
                    ),
                ))
            }
        })
    }
}

/// What the fence request needs from a ComputerSystem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct System {
    /// `PowerState`.
    pub power: RedfishPower,
    /// `Actions.#ComputerSystem.Reset.target`.
    pub reset_target: Option<String>,
    /// `ResetType@Redfish.AllowableValues` (None: not advertised).
    pub allowed: Option<Vec<String>>,
}

/// The links of the service root.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ServiceRoot {
    /// `Systems.@odata.id`.
    pub systems: Option<String>,
    /// `Links.Sessions.@odata.id` (or `SessionService` + `/Sessions`).
    pub sessions: Option<String>,
}

fn json(body: &[u8], what: &str) -> Result<Value, Error> {
    serde_json::from_slice(body).map_err(|e| {
        Error::new(
            ErrorKind::InvalidMessage,
            format!("the BMC's {what} is not valid JSON ({e})"),
        )
    })
}

fn short_str(v: &Value) -> Option<String> {
    v.as_str()
        .filter(|s| s.len() <= MAX_STR)
        .map(str::to_string)
}

fn odata_id(v: Option<&Value>) -> Option<String> {
    v.and_then(|v| v.get("@odata.id")).and_then(short_str)
}

/// Parses the service root (`/redfish/v1/`).
pub fn parse_root(body: &[u8]) -> Result<ServiceRoot, Error> {
    let v = json(body, "service root")?;
    if !v.is_object() {
        return Err(Error::new(
            ErrorKind::InvalidMessage,
            "the BMC's service root is not a JSON object; is this a Redfish service?",
        ));
    }
    let sessions = odata_id(v.get("Links").and_then(|l| l.get("Sessions"))).or_else(|| {
        odata_id(v.get("SessionService")).map(|s| format!("{}/Sessions", s.trim_end_matches('/')))
    });
    Ok(ServiceRoot {
        systems: odata_id(v.get("Systems")),
        sessions,
    })
}

/// Parses a collection's `Members` into their `@odata.id`s.
pub fn parse_members(body: &[u8]) -> Result<Vec<String>, Error> {
    let v = json(body, "Systems collection")?;
    let members = v.get("Members").and_then(Value::as_array).ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidMessage,
            "the BMC's Systems collection has no Members list",
        )
    })?;
    if members.len() > MAX_LIST {
        return Err(Error::new(
            ErrorKind::InvalidMessage,
            format!(
                "the BMC's Systems collection lists {} members",
                members.len()
            ),
        ));
    }
    members
        .iter()
        .map(|m| {
            odata_id(Some(m)).ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidMessage,
                    "a member of the BMC's Systems collection has no @odata.id",
                )
            })
        })
        .collect()
}

/// Parses a ComputerSystem.
pub fn parse_system(body: &[u8]) -> Result<System, Error> {
    let v = json(body, "ComputerSystem resource")?;
    let power =
        match v.get("PowerState") {
            Some(Value::String(s)) => RedfishPower::parse(s),
            _ => return Err(Error::new(
                ErrorKind::DeviceMisbehaved,
                "the BMC's ComputerSystem has no PowerState (is the systems URI a ComputerSystem?)",
            )),
        };
    let reset = v
        .get("Actions")
        .and_then(|a| a.get("#ComputerSystem.Reset"));
    let reset_target = reset.and_then(|r| r.get("target")).and_then(short_str);
    let allowed = reset
        .and_then(|r| r.get("ResetType@Redfish.AllowableValues"))
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .take(MAX_LIST)
                .filter_map(short_str)
                .collect::<Vec<_>>()
        });
    Ok(System {
        power,
        reset_target,
        allowed,
    })
}

/// The Redfish message ids in an error body (`error.@Message.ExtendedInfo[].MessageId`,
/// then `error.code`), empty when the body is not a Redfish error.
pub fn message_ids(body: &[u8]) -> Vec<String> {
    let Ok(v) = serde_json::from_slice::<Value>(body) else {
        return Vec::new();
    };
    let Some(err) = v.get("error") else {
        // Some BMCs answer with a bare message list.
        return v
            .get("@Message.ExtendedInfo")
            .and_then(Value::as_array)
            .map(|l| {
                l.iter()
                    .take(8)
                    .filter_map(|m| m.get("MessageId").and_then(short_str))
                    .collect()
            })
            .unwrap_or_default();
    };
    let mut ids: Vec<String> = err
        .get("@Message.ExtendedInfo")
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .take(8)
                .filter_map(|m| m.get("MessageId").and_then(short_str))
                .collect()
        })
        .unwrap_or_default();
    if ids.is_empty() {
        if let Some(code) = err.get("code").and_then(short_str) {
            ids.push(code);
        }
    }
    ids
}

/// The first human message in a Redfish error body, if any (for operators).
pub fn error_message(body: &[u8]) -> Option<String> {
    let v = serde_json::from_slice::<Value>(body).ok()?;
    let err = v.get("error")?;
    err.get("@Message.ExtendedInfo")
        .and_then(Value::as_array)
        .and_then(|l| l.first())
        .and_then(|m| m.get("Message"))
        .or_else(|| err.get("message"))
        .and_then(short_str)
        .map(|s| s.chars().take(200).collect())
}

/// The session login body `{"UserName": .., "Password": ..}` (a secret).
pub fn login_body(user: &str, password: &[u8]) -> Vec<u8> {
    let password = String::from_utf8_lossy(password);
    let v = serde_json::json!({ "UserName": user, "Password": password.as_ref() });
    v.to_string().into_bytes()
}

/// The reset action body.
pub fn reset_body(reset: ResetType) -> Vec<u8> {
    format!("{{\"ResetType\":\"{}\"}}", reset.as_str()).into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_fields() {
        let s = parse_system(br##"{"PowerState":"PoweringOff","Actions":{"#ComputerSystem.Reset":{"target":"/x/Reset","ResetType@Redfish.AllowableValues":["On","ForceOff"]}}}"##).unwrap();
        assert_eq!(s.power, RedfishPower::PoweringOff);
        assert!(!s.power.is(PowerState::Off) && s.power.heading_to(PowerState::Off));
        assert_eq!(s.power.report(), PowerState::On);
        assert_eq!(s.reset_target.as_deref(), Some("/x/Reset"));
        assert_eq!(s.allowed.unwrap(), vec!["On", "ForceOff"]);
        assert!(parse_system(br#"{"PowerState":null}"#).is_err());
        assert!(parse_system(b"[1,2]").is_err());
    }

    #[test]
    fn message_ids_and_login_escaping() {
        let body = br#"{"error":{"code":"Base.1.8.GeneralError","@Message.ExtendedInfo":[{"MessageId":"IDRAC.2.8.PSU501"}]}}"#;
        assert_eq!(message_ids(body), vec!["IDRAC.2.8.PSU501"]);
        assert_eq!(message_ids(br#"{"error":{"code":"X.Y"}}"#), vec!["X.Y"]);
        assert!(message_ids(b"<html>").is_empty());
        let v: Value = serde_json::from_slice(&login_body("a\"b", b"p\"\\w")).unwrap();
        assert_eq!(v["Password"], "p\"\\w");
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = "[".repeat(100_000);
        assert!(parse_system(deep.as_bytes()).is_err());
        assert!(message_ids(deep.as_bytes()).is_empty());
    }
}
