//! The fencing error type, grouped by who is at fault.

use std::fmt;

/// Who is at fault: decides exit codes (`stonith`, fence-agents) and whether
/// another device of the topology is worth trying.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The configuration or command line is wrong.
    Config,
    /// The BMC refused our credentials or privilege.
    Auth,
    /// The device does not support what we need (cipher suite, command).
    DeviceIncompatible,
    /// The device answered something that makes no sense, or failed the command.
    DeviceMisbehaved,
    /// Bytes that do not parse as the protocol requires.
    InvalidMessage,
    /// The overall deadline passed (device slow, or power state never seen).
    Timeout,
    /// The device never answered (down, wrong address, black-holed).
    Unreachable,
    /// An operating-system call failed.
    Io,
}

/// A fencing error: what went wrong, the raw protocol code when there is one,
/// and what the operator can do about it.
#[derive(Debug)]
#[non_exhaustive]
pub struct Error {
    kind: ErrorKind,
    message: String,
    /// The raw completion code (IPMI), HTTP status or SNMP error status.
    code: Option<u32>,
    source: Option<std::io::Error>,
}

impl Error {
    /// An error of `kind` with a message that says what to fix.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            code: None,
            source: None,
        }
    }

    /// The same error carrying the raw protocol code.
    pub fn with_code(mut self, code: u32) -> Self {
        self.code = Some(code);
        self
    }

    /// An I/O error, with what we were doing.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Error {
            kind: ErrorKind::Io,
            message: context.into(),
            code: None,
            source: Some(source),
        }
    }

    /// Who is at fault.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The raw protocol code, if any.
    pub fn code(&self) -> Option<u32> {
        self.code
    }

    /// The message (without the source).
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(source) = &self.source {
            write!(f, ": {source}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}
