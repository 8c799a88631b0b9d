//! The one error type of the config layer: `FILE:LINE: what is wrong; how to fix it`.

use std::fmt;
use std::path::{Path, PathBuf};

use ironbeat_link::ErrorKind;

use super::model::Location;

/// A configuration error, located in a file (and a line when one is to blame).
///
/// Displays as `FILE:LINE: message` (or `FILE: message` when the whole file is
/// at fault); the message says what is wrong and how to fix it. It is `Send +
/// Sync + 'static`, so `?` turns it into an `anyhow::Error`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    kind: ErrorKind,
    file: Option<PathBuf>,
    line: Option<usize>,
    message: String,
}

impl ConfigError {
    /// An error at one line of a file.
    pub fn at(location: &Location, message: impl Into<String>) -> Self {
        Self::at_line(&location.file, location.line, message)
    }

    /// An error at `line` (1-based) of `file`.
    pub fn at_line(file: &Path, line: usize, message: impl Into<String>) -> Self {
        ConfigError {
            kind: ErrorKind::Config,
            file: Some(file.to_path_buf()),
            line: Some(line),
            message: message.into(),
        }
    }

    /// An error about a whole file (something missing from it, or the file itself).
    pub fn in_file(file: &Path, message: impl Into<String>) -> Self {
        ConfigError {
            kind: ErrorKind::Config,
            file: Some(file.to_path_buf()),
            line: None,
            message: message.into(),
        }
    }

    /// The same error, attributed to another party (`Auth` for insecure keys,
    /// `Io` when the operating system refused).
    pub fn with_kind(mut self, kind: ErrorKind) -> Self {
        self.kind = kind;
        self
    }

    /// Wraps an error of `ironbeat_link` whose message starts with
    /// `ORIGIN:LINE: ` or `ORIGIN: ` (as `parse_authkeys` and `Timing` write them),
    /// keeping file and line as structured fields.
    pub(crate) fn from_link(file: &Path, origin: &str, error: &ironbeat_link::Error) -> Self {
        let text = error.to_string();
        let (line, message) = match text.strip_prefix(origin).and_then(|t| t.strip_prefix(':')) {
            Some(rest) => match rest.split_once(": ") {
                Some((number, message)) if number.parse::<usize>().is_ok() => {
                    (number.parse::<usize>().ok(), message.to_string())
                }
                _ => (None, rest.trim_start().to_string()),
            },
            None => (None, text.clone()),
        };
        ConfigError {
            kind: error.kind(),
            file: Some(file.to_path_buf()),
            line,
            message,
        }
    }

    /// Who must act: `Config` (change the file), `Auth` (keys wrong or
    /// insecure) or `Io` (the system refused to read a file).
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The file at fault, if any.
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
    }

    /// The 1-based line at fault, if one is.
    pub fn line(&self) -> Option<usize> {
        self.line
    }

    /// What is wrong and how to fix it, without the location.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.file, self.line) {
            (Some(file), Some(line)) => write!(f, "{}:{}: {}", file.display(), line, self.message),
            (Some(file), None) => write!(f, "{}: {}", file.display(), self.message),
            (None, _) => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

impl From<ConfigError> for ironbeat_link::Error {
    fn from(error: ConfigError) -> Self {
        match error.kind {
            ErrorKind::Auth => ironbeat_link::Error::auth(error.to_string()),
            _ => ironbeat_link::Error::config(error.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_file_line_message() {
        let e = ConfigError::at_line(Path::new("/etc/ha.d/ha.cf"), 7, "bad; fix");
        assert_eq!(e.to_string(), "/etc/ha.d/ha.cf:7: bad; fix");
        let e = ConfigError::in_file(Path::new("x.toml"), "empty");
        assert_eq!(e.to_string(), "x.toml: empty");
        assert_eq!(e.line(), None);
        assert_eq!(e.kind(), ErrorKind::Config);
    }

    #[test]
    fn keeps_the_line_of_a_link_error() {
        let link = ironbeat_link::Error::config("/d/authkeys:3: key 1 defined twice; keep one");
        let e = ConfigError::from_link(Path::new("/d/authkeys"), "/d/authkeys", &link);
        assert_eq!(e.line(), Some(3));
        assert_eq!(e.message(), "key 1 defined twice; keep one");
        assert_eq!(
            e.to_string(),
            "/d/authkeys:3: key 1 defined twice; keep one"
        );
        let link = ironbeat_link::Error::config("/d/authkeys: no `auth N` line");
        let e = ConfigError::from_link(Path::new("/d/authkeys"), "/d/authkeys", &link);
        assert_eq!(e.line(), None);
        assert_eq!(e.to_string(), "/d/authkeys: no `auth N` line");
    }

    #[test]
    fn is_usable_with_anyhow() {
        fn f() -> anyhow::Result<()> {
            Err(ConfigError::in_file(Path::new("f"), "m"))?;
            Ok(())
        }
        assert_eq!(f().unwrap_err().to_string(), "f: m");
    }
}
