//! Why a CIB could not be read: the XML is malformed, or the configuration
//! is invalid in a way Pacemaker's schema rejects (a missing required
//! attribute, a score or interval that does not parse, an unknown role).
//!
//! Problems Pacemaker itself tolerates (a constraint naming an element that
//! is not a resource, an invalid `kind`) are not errors: the reader does
//! what Pacemaker does and records a [`super::Warning`]. A constraint naming
//! an id that no element has is one: Pacemaker's schema rejects the CIB.

use std::fmt;

/// Who is at fault, for callers choosing an exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The text is not well-formed XML, or not a CIB at all.
    Xml,
    /// The XML is a CIB, but its configuration is invalid.
    Config,
}

/// A CIB that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    element: String,
    id: Option<String>,
    line: Option<u32>,
    message: String,
}

impl Error {
    /// An error about an element (`element` is its tag name).
    pub(crate) fn config(
        element: &str,
        id: Option<&str>,
        line: Option<u32>,
        message: impl Into<String>,
    ) -> Error {
        Error {
            kind: ErrorKind::Config,
            element: element.to_string(),
            id: id.map(str::to_string),
            line,
            message: message.into(),
        }
    }

    /// Malformed XML (or a document that is not a CIB).
    pub(crate) fn xml(line: Option<u32>, message: impl Into<String>) -> Error {
        Error {
            kind: ErrorKind::Xml,
            element: "cib".to_string(),
            id: None,
            line,
            message: message.into(),
        }
    }

    /// Who is at fault.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The element the problem is in (`rsc_location`, `op`, …).
    pub fn element(&self) -> &str {
        &self.element
    }

    /// The `id` of that element, when it has one.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The line of the element in the input (1-based), when known.
    pub fn line(&self) -> Option<u32> {
        self.line
    }

    /// What is wrong and how to fix it.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(line) = self.line {
            write!(f, "line {line}: ")?;
        }
        match self.kind {
            ErrorKind::Xml => write!(f, "malformed CIB: {}", self.message),
            ErrorKind::Config => {
                write!(f, "<{}", self.element)?;
                if let Some(id) = &self.id {
                    write!(f, " id=\"{id}\"")?;
                }
                write!(f, ">: {}", self.message)
            }
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_element_id_and_line() {
        let e = Error::config(
            "rsc_location",
            Some("loc1"),
            Some(12),
            "score `abc` is not a score",
        );
        assert_eq!(
            e.to_string(),
            "line 12: <rsc_location id=\"loc1\">: score `abc` is not a score"
        );
        assert_eq!(e.kind(), ErrorKind::Config);
        assert_eq!(e.id(), Some("loc1"));
        let x = Error::xml(None, "unexpected end of stream");
        assert_eq!(x.to_string(), "malformed CIB: unexpected end of stream");
    }
}
