//! IPMI-over-LAN byte formats, sans-I/O, both directions (console and BMC).
//!
//! A datagram to UDP port 623 nests like this:
//!
//! ```text
//!  RMCP header (rmcp)                          class ASF  -> ASF presence ping/pong (rmcp::asf)
//!   └ session header                           class IPMI -> auth type 0x06 ? RMCP+ (v20) : IPMI 1.5 (v15)
//!      └ payload
//!          IPMI 1.5:  IPMI LAN message (message)
//!          RMCP+:     IPMI LAN message (possibly AES-encrypted), Open Session
//!                     Request/Response (open_session), RAKP 1-4 (rakp)
//! ```
//!
//! Multi-byte IPMI fields are little-endian; the ASF fields are big-endian.
//!
//! Contract of every module here: after the length check nothing panics;
//! `parse` never panics on any input; `emit` never panics into a buffer of
//! `buffer_len()` bytes. Protocol codes are open enums that keep unknown values
//! (`Unknown(raw)`), so logs can show the raw code.

pub mod message;
pub mod open_session;
pub mod rakp;
pub mod rmcp;
pub mod v15;
pub mod v20;

use std::fmt;
use std::str::FromStr;

use crate::{Error, ErrorKind};

/// An IPMI privilege level (session privilege, user limit, RAKP role).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Privilege {
    /// 0x01: callback (dial-back).
    Callback,
    /// 0x02: user — read-only commands such as Get Chassis Status.
    User,
    /// 0x03: operator — Chassis Control is allowed.
    Operator,
    /// 0x04: administrator.
    Administrator,
    /// 0x05: OEM proprietary.
    Oem,
    /// A value this code does not know (0 means "highest allowed" in requests).
    Unknown(u8),
}

impl From<u8> for Privilege {
    fn from(raw: u8) -> Self {
        match raw {
            0x01 => Privilege::Callback,
            0x02 => Privilege::User,
            0x03 => Privilege::Operator,
            0x04 => Privilege::Administrator,
            0x05 => Privilege::Oem,
            other => Privilege::Unknown(other),
        }
    }
}

impl From<Privilege> for u8 {
    fn from(p: Privilege) -> u8 {
        match p {
            Privilege::Callback => 0x01,
            Privilege::User => 0x02,
            Privilege::Operator => 0x03,
            Privilege::Administrator => 0x04,
            Privilege::Oem => 0x05,
            Privilege::Unknown(raw) => raw,
        }
    }
}

impl fmt::Display for Privilege {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Privilege::Callback => f.write_str("callback"),
            Privilege::User => f.write_str("user"),
            Privilege::Operator => f.write_str("operator"),
            Privilege::Administrator => f.write_str("administrator"),
            Privilege::Oem => f.write_str("oem"),
            Privilege::Unknown(raw) => write!(f, "privilege 0x{raw:02x}"),
        }
    }
}

impl FromStr for Privilege {
    type Err = Error;

    /// Accepts ipmitool's and fence-agents' spellings, case-insensitive:
    /// `user`, `operator`, `administrator`/`admin`, `callback`, `oem`.
    fn from_str(s: &str) -> Result<Self, Error> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "callback" => Privilege::Callback,
            "user" => Privilege::User,
            "operator" | "oper" => Privilege::Operator,
            "administrator" | "admin" => Privilege::Administrator,
            "oem" => Privilege::Oem,
            _ => {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!("unknown privilege level {s:?}; use operator or administrator"),
                ))
            }
        })
    }
}

/// A bounded cursor over received bytes: every read checks the length first,
/// and a short input is an [`ErrorKind::InvalidMessage`] naming what was read.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    what: &'static str,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader over `bytes`, which hold a `what` (named in errors).
    pub fn new(what: &'static str, bytes: &'a [u8]) -> Self {
        Reader {
            what,
            bytes,
            pos: 0,
        }
    }

    /// Reads `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len());
        match end {
            Some(end) => {
                let out = &self.bytes[self.pos..end];
                self.pos = end;
                Ok(out)
            }
            None => Err(malformed(format!(
                "{} truncated: {} bytes, needs at least {}",
                self.what,
                self.bytes.len(),
                self.pos.saturating_add(n)
            ))),
        }
    }

    /// Reads one byte.
    pub fn u8(&mut self) -> Result<u8, Error> {
        Ok(self.take(1)?[0])
    }

    /// Reads a little-endian `u16`.
    pub fn u16_le(&mut self) -> Result<u16, Error> {
        Ok(u16::from_le_bytes(self.array()?))
    }

    /// Reads a little-endian `u32`.
    pub fn u32_le(&mut self) -> Result<u32, Error> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    /// Reads a big-endian `u32` (ASF fields).
    pub fn u32_be(&mut self) -> Result<u32, Error> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    /// Reads a fixed-size array.
    pub fn array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    /// Everything not read yet.
    pub fn rest(&mut self) -> &'a [u8] {
        let out = &self.bytes[self.pos.min(self.bytes.len())..];
        self.pos = self.bytes.len();
        out
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.bytes.len().saturating_sub(self.pos)
    }

    /// Fails if bytes are left over.
    pub fn finish(&self) -> Result<(), Error> {
        match self.remaining() {
            0 => Ok(()),
            n => Err(malformed(format!(
                "{}: {n} unexpected bytes after the last field",
                self.what
            ))),
        }
    }
}

/// An [`ErrorKind::InvalidMessage`] error.
pub fn malformed(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidMessage, message)
}

/// Writes `value` little-endian at `buf[at..at + 2]`.
pub(crate) fn put_u16_le(buf: &mut [u8], at: usize, value: u16) {
    buf[at..at + 2].copy_from_slice(&value.to_le_bytes());
}

/// Writes `value` little-endian at `buf[at..at + 4]`.
pub(crate) fn put_u32_le(buf: &mut [u8], at: usize, value: u32) {
    buf[at..at + 4].copy_from_slice(&value.to_le_bytes());
}

/// Reads a little-endian `u16` at `buf[at..at + 2]` (caller checked the length).
pub(crate) fn u16_le_at(buf: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([buf[at], buf[at + 1]])
}

/// Reads a little-endian `u32` at `buf[at..at + 4]` (caller checked the length).
pub(crate) fn u32_le_at(buf: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]])
}

/// Lowercase hex of `bytes` (for test vectors and logs of non-secret fields).
pub fn hex(bytes: &[u8]) -> String {
    use fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
pub(crate) mod testutil {
    /// Decodes a hex test vector (whitespace allowed).
    pub fn unhex(s: &str) -> Vec<u8> {
        let digits: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        assert!(digits.len() % 2 == 0, "odd hex length");
        digits
            .chunks(2)
            .map(|pair| u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn privilege_codes_round_trip() {
        for raw in 0..=255u8 {
            assert_eq!(u8::from(Privilege::from(raw)), raw);
        }
        assert_eq!(
            "ADMIN".parse::<Privilege>().unwrap(),
            Privilege::Administrator
        );
        assert_eq!(
            "operator".parse::<Privilege>().unwrap(),
            Privilege::Operator
        );
        assert!("root".parse::<Privilege>().is_err());
        assert!(Privilege::Operator < Privilege::Administrator);
    }

    #[test]
    fn reader_bounds() {
        let mut r = Reader::new("thing", &[1, 2, 3, 4, 5]);
        assert_eq!(r.u8().unwrap(), 1);
        assert_eq!(r.u16_le().unwrap(), 0x0302);
        assert!(r.u32_le().is_err());
        assert_eq!(r.remaining(), 2);
        assert!(r.finish().is_err());
        assert_eq!(
            r.take(usize::MAX).unwrap_err().kind(),
            ErrorKind::InvalidMessage
        );
        assert_eq!(r.rest(), &[4, 5]);
        assert!(r.finish().is_ok());
    }
}
