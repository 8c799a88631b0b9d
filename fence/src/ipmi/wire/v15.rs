//! The IPMI 1.5 session wrapper (IPMI 2.0 spec §13.6, table 13-8), after the
//! RMCP header.
//!
//! ```text
//!  0          1                5                9                     25 (9 without auth)
//!  +----------+----------------+----------------+---------------------+---------+---------+-----+
//!  |auth type | session seq LE | session ID LE  | auth code (16 bytes,| msg len | message | pad |
//!  |          |                |                | absent for type 0)  |         |         |(0/1)|
//!  +----------+----------------+----------------+---------------------+---------+---------+-----+
//! ```
//!
//! The optional trailing pad byte is the "legacy pad" some BMCs need for
//! certain lengths; parsing accepts (and ignores) one such byte. Auth type
//! 0x06 means the packet is RMCP+ ([`super::v20`]), not 1.5.
//!
//! Panic contract: [`Packet::new_checked`] validates the lengths; after it no
//! accessor panics. [`Repr::parse`] never panics on any input; [`Repr::emit`]
//! never panics into a buffer of [`Repr::buffer_len`] bytes.

use std::fmt;

use super::{malformed, put_u32_le, u32_le_at};
use crate::Error;

/// Length of an auth code.
pub const AUTH_CODE_LEN: usize = 16;
/// Header length without an auth code (auth type none).
pub const HEADER_LEN_NO_AUTH: usize = 10;
/// Header length with an auth code.
pub const HEADER_LEN_AUTH: usize = HEADER_LEN_NO_AUTH + AUTH_CODE_LEN;

mod field {
    use std::ops::Range;

    pub const AUTH_TYPE: usize = 0;
    pub const SEQUENCE: Range<usize> = 1..5;
    pub const SESSION_ID: Range<usize> = 5..9;
    pub const AUTH_CODE: Range<usize> = 9..25;
}

/// The authentication type of a 1.5 session (also the "format" byte that
/// tells 1.5 from RMCP+).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthType {
    /// 0x00: no authentication.
    None,
    /// 0x01: MD2.
    Md2,
    /// 0x02: MD5.
    Md5,
    /// 0x04: straight password ("key").
    Password,
    /// 0x05: OEM proprietary.
    Oem,
    /// 0x06: RMCP+ (IPMI 2.0): not a 1.5 session header.
    RmcpPlus,
    /// A value this code does not know.
    Unknown(u8),
}

impl AuthType {
    /// Whether the session header carries a 16-byte auth code.
    pub fn has_auth_code(self) -> bool {
        self != AuthType::None
    }

    /// This type's bit in Get Channel Authentication Capabilities.
    pub fn support_bit(self) -> u8 {
        match self {
            AuthType::None => 0x01,
            AuthType::Md2 => 0x02,
            AuthType::Md5 => 0x04,
            AuthType::Password => 0x10,
            AuthType::Oem => 0x20,
            AuthType::RmcpPlus | AuthType::Unknown(_) => 0,
        }
    }
}

impl From<u8> for AuthType {
    fn from(raw: u8) -> Self {
        match raw {
            0x00 => AuthType::None,
            0x01 => AuthType::Md2,
            0x02 => AuthType::Md5,
            0x04 => AuthType::Password,
            0x05 => AuthType::Oem,
            0x06 => AuthType::RmcpPlus,
            other => AuthType::Unknown(other),
        }
    }
}

impl From<AuthType> for u8 {
    fn from(t: AuthType) -> u8 {
        match t {
            AuthType::None => 0x00,
            AuthType::Md2 => 0x01,
            AuthType::Md5 => 0x02,
            AuthType::Password => 0x04,
            AuthType::Oem => 0x05,
            AuthType::RmcpPlus => 0x06,
            AuthType::Unknown(raw) => raw,
        }
    }
}

impl fmt::Display for AuthType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthType::None => f.write_str("none"),
            AuthType::Md2 => f.write_str("MD2"),
            AuthType::Md5 => f.write_str("MD5"),
            AuthType::Password => f.write_str("straight password"),
            AuthType::Oem => f.write_str("OEM"),
            AuthType::RmcpPlus => f.write_str("RMCP+"),
            AuthType::Unknown(raw) => write!(f, "auth type 0x{raw:02x}"),
        }
    }
}

/// A read/write view of an IPMI 1.5 session packet (after the RMCP header).
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checking it; accessors may panic until
    /// [`check_len`](Self::check_len) succeeded.
    pub fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }

    /// Wraps a buffer and checks the header and message length.
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Checks that the header is complete, the message fits, and at most one
    /// legacy pad byte follows it. Fails on auth type RMCP+.
    pub fn check_len(&self) -> Result<(), Error> {
        let data = self.buffer.as_ref();
        let Some(&auth) = data.first() else {
            return Err(malformed("IPMI 1.5 session packet is empty"));
        };
        if AuthType::from(auth) == AuthType::RmcpPlus {
            return Err(malformed(
                "auth type 0x06 is RMCP+ (IPMI 2.0), not an IPMI 1.5 session",
            ));
        }
        let header = self.header_len();
        if data.len() < header {
            return Err(malformed(format!(
                "IPMI 1.5 session header truncated: {} bytes, needs {header}",
                data.len()
            )));
        }
        let end = header + usize::from(data[header - 1]);
        if data.len() < end || data.len() > end + 1 {
            return Err(malformed(format!(
                "IPMI 1.5 message length {} does not fit the {} bytes after the session header",
                data[header - 1],
                data.len() - header
            )));
        }
        Ok(())
    }

    /// The authentication type.
    pub fn auth_type(&self) -> AuthType {
        AuthType::from(self.buffer.as_ref()[field::AUTH_TYPE])
    }

    /// Length of the session header (including the message length byte).
    pub fn header_len(&self) -> usize {
        if self.auth_type().has_auth_code() {
            HEADER_LEN_AUTH
        } else {
            HEADER_LEN_NO_AUTH
        }
    }

    /// The session sequence number.
    pub fn sequence(&self) -> u32 {
        u32_le_at(self.buffer.as_ref(), field::SEQUENCE.start)
    }

    /// The session ID (0 outside a session).
    pub fn session_id(&self) -> u32 {
        u32_le_at(self.buffer.as_ref(), field::SESSION_ID.start)
    }

    /// The auth code, when the auth type has one.
    pub fn auth_code(&self) -> Option<&[u8]> {
        self.auth_type()
            .has_auth_code()
            .then(|| &self.buffer.as_ref()[field::AUTH_CODE])
    }

    /// The IPMI message length.
    pub fn message_len(&self) -> u8 {
        self.buffer.as_ref()[self.header_len() - 1]
    }

    /// The IPMI message.
    pub fn message(&self) -> &[u8] {
        let start = self.header_len();
        &self.buffer.as_ref()[start..start + usize::from(self.message_len())]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// The mutable IPMI message (after [`Repr::emit`] set the lengths).
    pub fn message_mut(&mut self) -> &mut [u8] {
        let start = self.header_len();
        let len = usize::from(self.message_len());
        &mut self.buffer.as_mut()[start..start + len]
    }
}

/// An IPMI 1.5 session packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr<'a> {
    /// The authentication type (never [`AuthType::RmcpPlus`]).
    pub auth_type: AuthType,
    /// The session sequence number (0 outside a session and for Activate Session).
    pub sequence: u32,
    /// The session ID (0 outside a session).
    pub session_id: u32,
    /// The auth code; all zero when `auth_type` is none (then not emitted).
    pub auth_code: [u8; AUTH_CODE_LEN],
    /// The IPMI message (at most 255 bytes).
    pub message: &'a [u8],
}

impl<'a> Repr<'a> {
    /// Parses a packet (the view is checked again, so any input is safe).
    pub fn parse(packet: &Packet<&'a [u8]>) -> Result<Self, Error> {
        Self::parse_bytes(packet.buffer)
    }

    /// Parses a packet from bytes.
    pub fn parse_bytes(bytes: &'a [u8]) -> Result<Self, Error> {
        let packet = Packet::new_checked(bytes)?;
        let mut auth_code = [0u8; AUTH_CODE_LEN];
        if let Some(code) = packet.auth_code() {
            auth_code.copy_from_slice(code);
        }
        let start = packet.header_len();
        let len = usize::from(packet.message_len());
        Ok(Repr {
            auth_type: packet.auth_type(),
            sequence: packet.sequence(),
            session_id: packet.session_id(),
            auth_code,
            message: &bytes[start..start + len],
        })
    }

    /// Length of the encoded packet (message cut to 255 bytes).
    pub fn buffer_len(&self) -> usize {
        let header = if self.auth_type.has_auth_code() {
            HEADER_LEN_AUTH
        } else {
            HEADER_LEN_NO_AUTH
        };
        header + self.message.len().min(255)
    }

    /// Writes the packet into a buffer of at least [`buffer_len`](Self::buffer_len) bytes.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        let len = self.message.len().min(255);
        let buf = packet.buffer.as_mut();
        buf[field::AUTH_TYPE] = self.auth_type.into();
        put_u32_le(buf, field::SEQUENCE.start, self.sequence);
        put_u32_le(buf, field::SESSION_ID.start, self.session_id);
        let header = if self.auth_type.has_auth_code() {
            buf[field::AUTH_CODE].copy_from_slice(&self.auth_code);
            HEADER_LEN_AUTH
        } else {
            HEADER_LEN_NO_AUTH
        };
        buf[header - 1] = len as u8; // len <= 255 above
        buf[header..header + len].copy_from_slice(&self.message[..len]);
    }

    /// The packet as bytes.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = vec![0; self.buffer_len()];
        self.emit(&mut Packet::new_unchecked(&mut out[..]));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipmi::wire::rmcp;
    use crate::ipmi::wire::testutil::unhex;

    // lab/ipmi/lan15-md5-power-reset.pcap frame 3: Get Channel Auth Capabilities, no session.
    const AUTH_CAPS_REQ: &str = "0600ff07000000000000000000092018c88104380e0431";
    // Same pcap, frame 9: Set Session Privilege Level (admin), MD5-authenticated.
    const SET_PRIV_REQ: &str =
        "0600ff0702781a1c3f021b00006c17f1d7753c2aa53f792f1ab42d77c7082018c881103b0430";

    #[test]
    fn captured_no_auth() {
        let bytes = unhex(AUTH_CAPS_REQ);
        let session = &bytes[rmcp::HEADER_LEN..];
        let packet = Packet::new_checked(session).unwrap();
        let repr = Repr::parse(&packet).unwrap();
        assert_eq!(repr.auth_type, AuthType::None);
        assert_eq!(repr.sequence, 0);
        assert_eq!(repr.session_id, 0);
        assert_eq!(repr.message, &unhex("2018c88104380e0431")[..]);
        assert_eq!(rmcp::wrap(rmcp::MessageClass::Ipmi, &repr.to_vec()), bytes);
    }

    #[test]
    fn captured_md5() {
        let bytes = unhex(SET_PRIV_REQ);
        let repr = Repr::parse_bytes(&bytes[rmcp::HEADER_LEN..]).unwrap();
        assert_eq!(repr.auth_type, AuthType::Md5);
        assert_eq!(repr.sequence, 0x3f1c1a78);
        assert_eq!(repr.session_id, 0x00001b02);
        assert_eq!(
            repr.auth_code.to_vec(),
            unhex("6c17f1d7753c2aa53f792f1ab42d77c7")
        );
        assert_eq!(repr.message, &unhex("2018c881103b0430")[..]);
        assert_eq!(rmcp::wrap(rmcp::MessageClass::Ipmi, &repr.to_vec()), bytes);
    }

    #[test]
    fn legacy_pad_and_bad_lengths() {
        let mut s = unhex(AUTH_CAPS_REQ)[rmcp::HEADER_LEN..].to_vec();
        s.push(0);
        assert!(Packet::new_checked(&s[..]).is_ok());
        s.push(0);
        assert!(Packet::new_checked(&s[..]).is_err());
        s.truncate(12);
        assert!(Packet::new_checked(&s[..]).is_err());
        assert!(Packet::new_checked(&[][..]).is_err());
        assert!(Packet::new_checked(&[6u8; 40][..]).is_err());
        assert!(Packet::new_checked(&[2u8; 20][..]).is_err());
        assert_eq!(AuthType::from(3), AuthType::Unknown(3));
    }
}
