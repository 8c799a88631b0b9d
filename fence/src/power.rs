//! The vocabulary every fence device shares.

use std::fmt;
use std::str::FromStr;

/// A machine's power state, as read back from its device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowerState {
    /// Powered on.
    On,
    /// Powered off.
    Off,
}

/// What an operator or the cluster asks of a fence device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Read the power state.
    Status,
    /// Power on; succeeds once On is seen.
    On,
    /// Power off; succeeds only once Off is *seen*.
    Off,
    /// Off, verify Off, then On (the default reboot: a node is never reported
    /// fenced before it was seen off).
    Reboot,
    /// A hardware power cycle in one command (only when asked for; Off is not
    /// observable in between).
    Cycle,
    /// A hard reset (cluster-glue's `reset`; does not pass through Off).
    Reset,
    /// A diagnostic interrupt (NMI): for crash dumps, not for fencing.
    Diag,
}

impl fmt::Display for PowerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PowerState::On => "on",
            PowerState::Off => "off",
        })
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Status => "status",
            Action::On => "on",
            Action::Off => "off",
            Action::Reboot => "reboot",
            Action::Cycle => "cycle",
            Action::Reset => "reset",
            Action::Diag => "diag",
        })
    }
}

impl FromStr for Action {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "status" | "monitor" => Action::Status,
            "on" | "poweron" => Action::On,
            "off" | "poweroff" => Action::Off,
            "reboot" => Action::Reboot,
            "cycle" => Action::Cycle,
            "reset" => Action::Reset,
            "diag" | "nmi" => Action::Diag,
            other => {
                return Err(format!(
                    "unknown action {other:?}; use status, on, off, reboot, cycle, reset or diag"
                ))
            }
        })
    }
}
