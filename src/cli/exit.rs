//! Exit codes of `ironbeat`, chosen here and nowhere else.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | the command failed at run time (I/O, a device, a peer) |
//! | 2 | the command line is wrong |
//! | 3 | the configuration is wrong (the message names file:line and the fix) |
//! | 4 | keys or permissions are wrong (authkeys mode, crc refused, not root) |
//! | 5 | admin commands: ironbeat is not running on this node (no socket, nobody listening) |
//! | 6 | admin commands: the daemon refused the request (its message says why) |
//! | 7 | `config check --runnable`: the configuration is valid but this machine cannot run it |
//!
//! The fencing front ends keep the codes of the tools they replace:
//! `stonith` cluster-glue's `S_*` result codes ([`stonith_code`],
//! [`stonith_fault_code`]), `fence_ironbeat` fence-agents' 0/1 and 0/1/2 for
//! `status` ([`fence_agent_code`], [`fence_agent_fault_code`]).

use std::process::ExitCode;

use ironbeat_link::ErrorKind;

/// Success.
pub const OK: ExitCode = ExitCode::SUCCESS;
/// A run-time failure.
pub const FAILURE: u8 = 1;
/// A wrong command line.
pub const USAGE: u8 = 2;
/// A wrong configuration.
pub const CONFIG: u8 = 3;
/// Wrong keys or permissions.
pub const AUTH: u8 = 4;
/// The daemon is not running on this node (admin commands).
pub const NOT_RUNNING: u8 = 5;
/// The daemon refused an admin request.
pub const REFUSED: u8 = 6;
/// `config check --runnable`: a check of this machine failed.
pub const NOT_RUNNABLE: u8 = 7;

/// The exit code for an error, from the kind of the first typed error in its chain.
pub fn for_error(error: &anyhow::Error) -> ExitCode {
    for cause in error.chain() {
        if let Some(e) = cause.downcast_ref::<super::admin::AdminError>() {
            return ExitCode::from(e.exit_code());
        }
        if let Some(e) = cause.downcast_ref::<super::config_check::CheckFailed>() {
            return ExitCode::from(e.exit_code());
        }
        if let Some(e) = cause.downcast_ref::<ironbeat_link::Error>() {
            return ExitCode::from(match e.kind() {
                ErrorKind::Config => CONFIG,
                ErrorKind::Auth => AUTH,
                _ => FAILURE,
            });
        }
        if let Some(e) = cause.downcast_ref::<super::crm::CrmError>() {
            return ExitCode::from(if e.is_usage() {
                USAGE
            } else if e.is_config() {
                CONFIG
            } else {
                FAILURE
            });
        }
        if let Some(e) = cause.downcast_ref::<crate::config::ConfigError>() {
            return ExitCode::from(match e.kind() {
                ErrorKind::Auth => AUTH,
                ErrorKind::Io => FAILURE,
                _ => CONFIG,
            });
        }
    }
    ExitCode::from(FAILURE)
}

/// What went wrong before a fence device was contacted: decided by the front
/// ends (`stonith`, `fence_ironbeat`) while reading their input, turned into
/// an exit code by [`stonith_fault_code`] and [`fence_agent_fault_code`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The command line is malformed (unknown option, conflicting options,
    /// missing node name, bad `-T` type).
    Usage,
    /// A parameter is missing or unknown, or a file it names cannot be used
    /// (unreadable, mode lets others read a password).
    Config,
    /// A parameter has a value that can never work (cipher suite 5, privilege
    /// `boss`, port 70000).
    InvalidValue,
    /// The device type is not one we implement.
    UnknownType,
    /// The node is not one this device (or the cluster configuration) fences.
    UnknownNode,
}

/// cluster-glue `stonith` result codes (`include/stonith/stonith.h`).
pub mod stonith {
    /// It worked.
    pub const S_OK: u8 = 0;
    /// The configuration (device parameters) is bad.
    pub const S_BADCONFIG: u8 = 1;
    /// The device cannot be accessed: unreachable, or it refused our login.
    pub const S_ACCESS: u8 = 2;
    /// An invalid argument.
    pub const S_INVAL: u8 = 3;
    /// The node is not one this device controls.
    pub const S_BADHOST: u8 = 4;
    /// The device failed to do it (refused, incompatible, answered nonsense).
    pub const S_RESETFAIL: u8 = 5;
    /// The deadline passed (device slow, or Off never seen in time).
    pub const S_TIMEOUT: u8 = 6;
    /// The node is powered off (`status` of our short form).
    pub const S_ISOFF: u8 = 7;
    /// Something else: a local OS failure, an unknown device type.
    pub const S_OOPS: u8 = 8;
}

/// fence-agents exit codes (`doc/FenceAgentAPI.md`).
pub mod fence_agent {
    /// Success; for `status`/`monitor`: reachable and on.
    pub const SUCCESS: u8 = 0;
    /// Failure, or the result could not be verified (device unreachable included).
    pub const FAILURE: u8 = 1;
    /// `status`/`monitor` only: reachable and off.
    pub const OFF: u8 = 2;
}

/// The `stonith` exit code of a fence error, by who is at fault:
///
/// | kind | code |
/// |---|---|
/// | Config | 1 `S_BADCONFIG` |
/// | Auth, Unreachable | 2 `S_ACCESS` |
/// | DeviceIncompatible, DeviceMisbehaved, InvalidMessage | 5 `S_RESETFAIL` |
/// | Timeout | 6 `S_TIMEOUT` |
/// | Io and anything newer | 8 `S_OOPS` |
pub fn stonith_code(error: &ironbeat_fence::Error) -> u8 {
    use ironbeat_fence::ErrorKind as K;
    match error.kind() {
        K::Config => stonith::S_BADCONFIG,
        K::Auth | K::Unreachable => stonith::S_ACCESS,
        K::DeviceIncompatible | K::DeviceMisbehaved | K::InvalidMessage => stonith::S_RESETFAIL,
        K::Timeout => stonith::S_TIMEOUT,
        _ => stonith::S_OOPS,
    }
}

/// The `stonith` exit code of a fault found before the device was contacted:
/// usage and configuration 1 (cluster-glue exits 1 after its usage text too),
/// invalid value 3 `S_INVAL`, unknown node 4 `S_BADHOST`, unknown type
/// 8 `S_OOPS` (what cluster-glue returns for "Invalid device type").
pub fn stonith_fault_code(fault: Fault) -> u8 {
    match fault {
        Fault::Usage | Fault::Config => stonith::S_BADCONFIG,
        Fault::InvalidValue => stonith::S_INVAL,
        Fault::UnknownNode => stonith::S_BADHOST,
        Fault::UnknownType => stonith::S_OOPS,
    }
}

/// The fence-agents exit code of an action's result: 0 success, 1 any
/// failure; `status` and `monitor` answer 0 on, 2 off, 1 error.
pub fn fence_agent_code(
    result: Result<Option<ironbeat_fence::power::PowerState>, &ironbeat_fence::Error>,
) -> u8 {
    match result {
        Ok(Some(ironbeat_fence::power::PowerState::Off)) => fence_agent::OFF,
        Ok(_) => fence_agent::SUCCESS,
        Err(_) => fence_agent::FAILURE,
    }
}

/// The fence-agents exit code of a fault in the input: always 1 (the API has
/// no other failure code).
pub fn fence_agent_fault_code(_fault: Fault) -> u8 {
    fence_agent::FAILURE
}
