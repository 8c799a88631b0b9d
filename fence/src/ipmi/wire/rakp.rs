//! RAKP Messages 1-4 (IPMI 2.0 spec §13.20-13.23): the RMCP+ key exchange.
//!
//! ```text
//!  RAKP 1 (console -> BMC):
//!   0 tag | 1..4 reserved | 4..8 managed system session ID | 8..24 console random
//!   24 role (bits 3..0 privilege, bit 4 name-only lookup) | 25..27 reserved
//!   27 user name length (0..16) | 28.. user name
//!  RAKP 2 (BMC -> console):
//!   0 tag | 1 status | 2..4 reserved | 4..8 console session ID | 8..24 BMC random
//!   24..40 BMC GUID | 40.. key exchange auth code (0, 20 or 32 bytes by algorithm)
//!  RAKP 3 (console -> BMC):
//!   0 tag | 1 status | 2..4 reserved | 4..8 managed system session ID | 8.. auth code
//!  RAKP 4 (BMC -> console):
//!   0 tag | 1 status | 2..4 reserved | 4..8 console session ID | 8.. integrity check value
//! ```
//!
//! The auth code lengths are not in the messages: they follow from the
//! negotiated authentication algorithm, so the codes are kept as the bytes that
//! remain; [`crate::ipmi::crypto`] checks their length and value. An error
//! RAKP 2 may stop after the console session ID.
//!
//! Panic contract: `parse` never panics on any input; `emit` never panics into
//! a buffer of `buffer_len()` bytes.

use super::open_session::Status;
use super::{malformed, put_u32_le, Privilege, Reader};
use crate::Error;

/// Longest user name (IPMI 2.0: 16 bytes).
pub const MAX_USER_NAME_LEN: usize = 16;
/// Role bit 4: look the user up by name only (not by name and privilege).
pub const NAME_ONLY_LOOKUP: u8 = 0x10;

/// The role byte of RAKP 1 (it also enters the HMACs as sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Role {
    /// Requested maximum privilege.
    pub privilege: Privilege,
    /// Whether the BMC looks the user up by name only (what ipmitool sends).
    pub name_only_lookup: bool,
}

impl Role {
    /// The byte as sent.
    pub fn to_byte(self) -> u8 {
        (u8::from(self.privilege) & 0x0f)
            | if self.name_only_lookup {
                NAME_ONLY_LOOKUP
            } else {
                0
            }
    }

    /// From the byte as received (reserved bits ignored).
    pub fn from_byte(raw: u8) -> Role {
        Role {
            privilege: Privilege::from(raw & 0x0f),
            name_only_lookup: raw & NAME_ONLY_LOOKUP != 0,
        }
    }
}

/// RAKP Message 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rakp1<'a> {
    /// Echoed by RAKP 2.
    pub tag: u8,
    /// The BMC's session ID from the Open Session Response.
    pub managed_session_id: u32,
    /// The console's random number (Rm).
    pub console_random: [u8; 16],
    /// The requested role.
    pub role: Role,
    /// The user name (at most 16 bytes; empty for the null user).
    pub user_name: &'a [u8],
}

impl<'a> Rakp1<'a> {
    /// Parses RAKP 1.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, Error> {
        let mut r = Reader::new("RAKP 1", bytes);
        let tag = r.u8()?;
        let _reserved = r.take(3)?;
        let managed_session_id = r.u32_le()?;
        let console_random = r.array()?;
        let role = Role::from_byte(r.u8()?);
        let _reserved = r.take(2)?;
        let len = usize::from(r.u8()?);
        if len > MAX_USER_NAME_LEN {
            return Err(malformed(format!(
                "RAKP 1 user name length {len}, at most {MAX_USER_NAME_LEN}"
            )));
        }
        let user_name = r.take(len)?;
        r.finish()?;
        Ok(Rakp1 {
            tag,
            managed_session_id,
            console_random,
            role,
            user_name,
        })
    }

    fn name_len(&self) -> usize {
        self.user_name.len().min(MAX_USER_NAME_LEN)
    }

    /// Length of the encoded message (user name cut to 16 bytes).
    pub fn buffer_len(&self) -> usize {
        28 + self.name_len()
    }

    /// Writes the message into a buffer of at least `buffer_len()` bytes.
    pub fn emit(&self, buf: &mut [u8]) {
        let len = self.name_len();
        buf[..28].fill(0);
        buf[0] = self.tag;
        put_u32_le(buf, 4, self.managed_session_id);
        buf[8..24].copy_from_slice(&self.console_random);
        buf[24] = self.role.to_byte();
        buf[27] = len as u8; // len <= 16
        buf[28..28 + len].copy_from_slice(&self.user_name[..len]);
    }

    /// The message as bytes.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = vec![0; self.buffer_len()];
        self.emit(&mut out);
        out
    }
}

/// RAKP Message 2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rakp2<'a> {
    /// RAKP 1's tag.
    pub tag: u8,
    /// Status; anything but no errors ends the exchange.
    pub status: Status,
    /// The console's session ID.
    pub console_session_id: u32,
    /// The BMC's random number (Rc), absent in a short error message.
    pub managed_random: [u8; 16],
    /// The BMC's GUID, absent in a short error message.
    pub managed_guid: [u8; 16],
    /// The key exchange auth code (empty for RAKP-none or a short error).
    pub auth_code: &'a [u8],
}

impl<'a> Rakp2<'a> {
    /// Parses RAKP 2; with an error status, 8 bytes are enough.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, Error> {
        let mut r = Reader::new("RAKP 2", bytes);
        let tag = r.u8()?;
        let status = Status::from(r.u8()?);
        let _reserved = r.take(2)?;
        let console_session_id = r.u32_le()?;
        if status != Status::NoErrors && r.remaining() < 32 {
            return Ok(Rakp2 {
                tag,
                status,
                console_session_id,
                managed_random: [0; 16],
                managed_guid: [0; 16],
                auth_code: r.rest(),
            });
        }
        Ok(Rakp2 {
            tag,
            status,
            console_session_id,
            managed_random: r.array()?,
            managed_guid: r.array()?,
            auth_code: r.rest(),
        })
    }

    /// Length of the encoded message.
    pub fn buffer_len(&self) -> usize {
        40 + self.auth_code.len()
    }

    /// Writes the message into a buffer of at least `buffer_len()` bytes.
    pub fn emit(&self, buf: &mut [u8]) {
        buf[0] = self.tag;
        buf[1] = self.status.into();
        buf[2] = 0;
        buf[3] = 0;
        put_u32_le(buf, 4, self.console_session_id);
        buf[8..24].copy_from_slice(&self.managed_random);
        buf[24..40].copy_from_slice(&self.managed_guid);
        buf[40..40 + self.auth_code.len()].copy_from_slice(self.auth_code);
    }

    /// The message as bytes.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = vec![0; self.buffer_len()];
        self.emit(&mut out);
        out
    }
}

/// RAKP Message 3 or 4: tag, status, a session ID, a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Short<'a> {
    tag: u8,
    status: Status,
    session_id: u32,
    code: &'a [u8],
}

impl<'a> Short<'a> {
    fn parse(what: &'static str, bytes: &'a [u8]) -> Result<Self, Error> {
        let mut r = Reader::new(what, bytes);
        let tag = r.u8()?;
        let status = Status::from(r.u8()?);
        let _reserved = r.take(2)?;
        let session_id = r.u32_le()?;
        Ok(Short {
            tag,
            status,
            session_id,
            code: r.rest(),
        })
    }

    fn emit(&self, buf: &mut [u8]) {
        buf[0] = self.tag;
        buf[1] = self.status.into();
        buf[2] = 0;
        buf[3] = 0;
        put_u32_le(buf, 4, self.session_id);
        buf[8..8 + self.code.len()].copy_from_slice(self.code);
    }
}

/// RAKP Message 3.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rakp3<'a> {
    /// Tag (echoed by RAKP 4).
    pub tag: u8,
    /// Status: a console that rejects RAKP 2 sends an error here, and the BMC
    /// drops the half-open session.
    pub status: Status,
    /// The BMC's session ID.
    pub managed_session_id: u32,
    /// The auth code (empty with an error status or RAKP-none).
    pub auth_code: &'a [u8],
}

impl<'a> Rakp3<'a> {
    /// Parses RAKP 3.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, Error> {
        let s = Short::parse("RAKP 3", bytes)?;
        Ok(Rakp3 {
            tag: s.tag,
            status: s.status,
            managed_session_id: s.session_id,
            auth_code: s.code,
        })
    }

    /// Length of the encoded message.
    pub fn buffer_len(&self) -> usize {
        8 + self.auth_code.len()
    }

    /// Writes the message into a buffer of at least `buffer_len()` bytes.
    pub fn emit(&self, buf: &mut [u8]) {
        Short {
            tag: self.tag,
            status: self.status,
            session_id: self.managed_session_id,
            code: self.auth_code,
        }
        .emit(buf)
    }

    /// The message as bytes.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = vec![0; self.buffer_len()];
        self.emit(&mut out);
        out
    }
}

/// RAKP Message 4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rakp4<'a> {
    /// RAKP 3's tag.
    pub tag: u8,
    /// Status (0x0f: the BMC rejected RAKP 3's code).
    pub status: Status,
    /// The console's session ID.
    pub console_session_id: u32,
    /// The integrity check value (empty with an error status or RAKP-none).
    pub integrity_check_value: &'a [u8],
}

impl<'a> Rakp4<'a> {
    /// Parses RAKP 4.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, Error> {
        let s = Short::parse("RAKP 4", bytes)?;
        Ok(Rakp4 {
            tag: s.tag,
            status: s.status,
            console_session_id: s.session_id,
            integrity_check_value: s.code,
        })
    }

    /// Length of the encoded message.
    pub fn buffer_len(&self) -> usize {
        8 + self.integrity_check_value.len()
    }

    /// Writes the message into a buffer of at least `buffer_len()` bytes.
    pub fn emit(&self, buf: &mut [u8]) {
        Short {
            tag: self.tag,
            status: self.status,
            session_id: self.console_session_id,
            code: self.integrity_check_value,
        }
        .emit(buf)
    }

    /// The message as bytes.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = vec![0; self.buffer_len()];
        self.emit(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipmi::wire::testutil::unhex;

    // lab/ipmi/lanplus-c3-power-reset.pcap frames 5-8, RMCP+ payloads (user admin, suite 3).
    const RAKP1: &str = "00000000841900008fc4230bb7a5a867ddc100927e8df1ec1400000561646d696e";
    const RAKP2: &str = "00000000a4a3a2a01675400ad638cab1880f975a43e5d43fa123456789abcdefa123456789abcdef726dc32d8a92d649dbd1e02a9bcd9b345755e6f8";
    const RAKP3: &str = "0000000084190000903b9153bc8deeaeb61c8461c3a618970c2c20a7";
    const RAKP4: &str = "00000000a4a3a2a0c80ae1bf937198cee2dd104c";

    #[test]
    fn captured_rakp1() {
        let bytes = unhex(RAKP1);
        let m = Rakp1::parse(&bytes).unwrap();
        assert_eq!(m.managed_session_id, 0x1984);
        assert_eq!(
            m.console_random.to_vec(),
            unhex("8fc4230bb7a5a867ddc100927e8df1ec")
        );
        assert_eq!(
            m.role,
            Role {
                privilege: Privilege::Administrator,
                name_only_lookup: true
            }
        );
        assert_eq!(m.role.to_byte(), 0x14);
        assert_eq!(m.user_name, b"admin");
        assert_eq!(m.to_vec(), bytes);
    }

    #[test]
    fn captured_rakp2() {
        let bytes = unhex(RAKP2);
        let m = Rakp2::parse(&bytes).unwrap();
        assert_eq!(m.status, Status::NoErrors);
        assert_eq!(m.console_session_id, 0xa0a2a3a4);
        assert_eq!(
            m.managed_guid.to_vec(),
            unhex("a123456789abcdefa123456789abcdef")
        );
        assert_eq!(m.auth_code.len(), 20);
        assert_eq!(m.to_vec(), bytes);
    }

    #[test]
    fn captured_rakp3_and_4() {
        let bytes = unhex(RAKP3);
        let m = Rakp3::parse(&bytes).unwrap();
        assert_eq!((m.status, m.managed_session_id), (Status::NoErrors, 0x1984));
        assert_eq!(m.auth_code.len(), 20);
        assert_eq!(m.to_vec(), bytes);
        let bytes = unhex(RAKP4);
        let m = Rakp4::parse(&bytes).unwrap();
        assert_eq!(m.console_session_id, 0xa0a2a3a4);
        assert_eq!(
            m.integrity_check_value,
            &unhex("c80ae1bf937198cee2dd104c")[..]
        );
        assert_eq!(m.to_vec(), bytes);
    }

    #[test]
    fn errors_and_bad_lengths() {
        let short = unhex("000d0000a4a3a2a0");
        let m = Rakp2::parse(&short).unwrap();
        assert_eq!(m.status, Status::UnauthorizedName);
        assert!(Rakp2::parse(&unhex("00000000a4a3a2a0")).is_err());
        let mut bytes = unhex(RAKP1);
        bytes[27] = 17;
        assert!(Rakp1::parse(&bytes).is_err());
        bytes[27] = 6;
        assert!(Rakp1::parse(&bytes).is_err());
        bytes[27] = 4;
        assert!(Rakp1::parse(&bytes).is_err());
        assert!(Rakp3::parse(&[0; 7]).is_err());
        assert!(Rakp4::parse(&[0; 3]).is_err());
    }
}
