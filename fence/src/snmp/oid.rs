//! Object identifiers as plain arcs: parsed from dotted text, compared,
//! printed with a leading dot (net-snmp's `-On` form).

use std::fmt;
use std::str::FromStr;

use crate::{Error, ErrorKind};

/// Longest OID we accept (RFC 2578 allows 128 sub-identifiers).
pub const MAX_ARCS: usize = 128;

/// An object identifier.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Oid(Vec<u32>);

impl Oid {
    /// The OID with these arcs.
    pub fn new(arcs: &[u32]) -> Self {
        Oid(arcs.to_vec())
    }

    /// The arcs.
    pub fn arcs(&self) -> &[u32] {
        &self.0
    }

    /// This OID with `index` appended (a table column's instance).
    pub fn child(&self, index: u32) -> Oid {
        let mut arcs = self.0.clone();
        arcs.push(index);
        Oid(arcs)
    }

    /// Whether `self` lies inside the subtree `prefix` (strictly below it).
    pub fn is_below(&self, prefix: &Oid) -> bool {
        self.0.len() > prefix.0.len() && self.0.starts_with(&prefix.0)
    }

    /// The last arc when `self` is exactly one arc below `column` (a table
    /// column's instance index).
    pub fn index_below(&self, column: &Oid) -> Option<u32> {
        if self.0.len() == column.0.len() + 1 && self.0.starts_with(&column.0) {
            self.0.last().copied()
        } else {
            None
        }
    }
}

impl fmt::Display for Oid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for arc in &self.0 {
            write!(f, ".{arc}")?;
        }
        Ok(())
    }
}

impl FromStr for Oid {
    type Err = Error;

    /// `.1.3.6.1…` or `1.3.6.1…`: at least two arcs, each a decimal `u32`.
    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = |why: &str| {
            Error::new(
                ErrorKind::Config,
                format!(
                    "{:?} is not a numeric OID ({why}); write it like .1.3.6.1.4.1.318",
                    s.chars().take(80).collect::<String>()
                ),
            )
        };
        let body = s.trim().strip_prefix('.').unwrap_or(s.trim());
        if body.is_empty() {
            return Err(bad("empty"));
        }
        let mut arcs = Vec::new();
        for part in body.split('.') {
            if arcs.len() == MAX_ARCS {
                return Err(bad("more than 128 arcs"));
            }
            if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad("arcs must be decimal numbers"));
            }
            arcs.push(part.parse::<u32>().map_err(|_| bad("arc too large"))?);
        }
        if arcs.len() < 2 {
            return Err(bad("fewer than two arcs"));
        }
        Ok(Oid(arcs))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_print_compare() {
        let o: Oid = ".1.3.6.1.4.1.318.1.1.12.3.5.1.1.4.1".parse().unwrap();
        assert_eq!(o.to_string(), ".1.3.6.1.4.1.318.1.1.12.3.5.1.1.4.1");
        let column: Oid = "1.3.6.1.4.1.318.1.1.12.3.5.1.1.4".parse().unwrap();
        assert_eq!(o.index_below(&column), Some(1));
        assert!(o.is_below(&column));
        assert!(!column.is_below(&column));
        assert_eq!(column.child(7).index_below(&column), Some(7));
        for bad in ["", ".", "1", "1..3", "1.x", "1.3.99999999999", " .1.-3"] {
            assert!(bad.parse::<Oid>().is_err(), "{bad:?}");
        }
        let long = vec!["1"; 129].join(".");
        assert!(long.parse::<Oid>().is_err());
    }
}
