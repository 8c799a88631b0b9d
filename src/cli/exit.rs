//! Exit codes of `ironbeat`, chosen here and nowhere else.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success |
//! | 1 | the command failed at run time (I/O, a device, a peer) |
//! | 2 | the command line is wrong |
//! | 3 | the configuration is wrong (the message names file:line and the fix) |
//! | 4 | keys or permissions are wrong (authkeys mode, crc refused, not root) |

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

/// The exit code for an error, from the kind of the first typed error in its chain.
pub fn for_error(error: &anyhow::Error) -> ExitCode {
    for cause in error.chain() {
        if let Some(e) = cause.downcast_ref::<ironbeat_link::Error>() {
            return ExitCode::from(match e.kind() {
                ErrorKind::Config => CONFIG,
                ErrorKind::Auth => AUTH,
                _ => FAILURE,
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
