//! The RMCP+ (IPMI 2.0) session wrapper (IPMI 2.0 spec §13.6, table 13-8),
//! after the RMCP header.
//!
//! ```text
//!  0      1             2               6               10           12 (18 with OEM fields)
//!  +------+-------------+---------------+---------------+------------+---------+
//!  | 0x06 | payload type| session ID LE | session seq LE| payload len| payload |
//!  |      | b7 encrypted|               |               | LE         |         |
//!  |      | b6 authent. |  (payload type 0x02 inserts OEM IANA (4) and OEM payload ID (2) first)
//!  +------+-------------+---------------+---------------+------------+---------+
//!  only when authenticated:
//!  +--------------------+---------+-------------+-------------------------+
//!  | integrity pad 0xff | pad len | next header | auth code (12/16 bytes) |
//!  | (to a multiple of 4, counted from byte 0 through next header)         |
//!  +--------------------+---------+-------------+-------------------------+
//! ```
//!
//! The auth code's length is not in the packet: it follows from the session's
//! integrity algorithm, so [`Packet::split_auth_code`] and [`Repr::emit`] take it.
//!
//! Panic contract: [`Packet::new_checked`] validates the lengths; after it no
//! accessor panics. [`Repr::parse`] never panics on any input; [`Repr::emit`]
//! never panics into a buffer of [`Repr::buffer_len`] bytes.

use std::fmt;

use super::{malformed, put_u16_le, put_u32_le, u16_le_at, u32_le_at};
use crate::Error;

/// The auth type byte that marks RMCP+.
pub const AUTH_TYPE_RMCP_PLUS: u8 = 0x06;
/// Header length without the OEM fields.
pub const HEADER_LEN: usize = 12;
/// Header length with the OEM fields (payload type 0x02).
pub const HEADER_LEN_OEM: usize = 18;
/// The "next header" byte of the trailer.
pub const NEXT_HEADER: u8 = 0x07;
/// Bit 7 of the payload type byte.
pub const ENCRYPTED: u8 = 0x80;
/// Bit 6 of the payload type byte.
pub const AUTHENTICATED: u8 = 0x40;

/// What an RMCP+ packet carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PayloadType {
    /// 0x00: an IPMI LAN message.
    Ipmi,
    /// 0x01: Serial over LAN.
    Sol,
    /// 0x02: OEM explicit (OEM IANA and payload ID in the header).
    OemExplicit,
    /// 0x10: RMCP+ Open Session Request.
    OpenSessionRequest,
    /// 0x11: RMCP+ Open Session Response.
    OpenSessionResponse,
    /// 0x12: RAKP Message 1.
    Rakp1,
    /// 0x13: RAKP Message 2.
    Rakp2,
    /// 0x14: RAKP Message 3.
    Rakp3,
    /// 0x15: RAKP Message 4.
    Rakp4,
    /// A type this code does not know (6 bits).
    Unknown(u8),
}

impl From<u8> for PayloadType {
    /// From the low 6 bits of the payload type byte.
    fn from(raw: u8) -> Self {
        match raw & 0x3f {
            0x00 => PayloadType::Ipmi,
            0x01 => PayloadType::Sol,
            0x02 => PayloadType::OemExplicit,
            0x10 => PayloadType::OpenSessionRequest,
            0x11 => PayloadType::OpenSessionResponse,
            0x12 => PayloadType::Rakp1,
            0x13 => PayloadType::Rakp2,
            0x14 => PayloadType::Rakp3,
            0x15 => PayloadType::Rakp4,
            other => PayloadType::Unknown(other),
        }
    }
}

impl From<PayloadType> for u8 {
    fn from(t: PayloadType) -> u8 {
        match t {
            PayloadType::Ipmi => 0x00,
            PayloadType::Sol => 0x01,
            PayloadType::OemExplicit => 0x02,
            PayloadType::OpenSessionRequest => 0x10,
            PayloadType::OpenSessionResponse => 0x11,
            PayloadType::Rakp1 => 0x12,
            PayloadType::Rakp2 => 0x13,
            PayloadType::Rakp3 => 0x14,
            PayloadType::Rakp4 => 0x15,
            PayloadType::Unknown(raw) => raw & 0x3f,
        }
    }
}

impl fmt::Display for PayloadType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PayloadType::Ipmi => f.write_str("IPMI message"),
            PayloadType::Sol => f.write_str("SOL"),
            PayloadType::OemExplicit => f.write_str("OEM explicit"),
            PayloadType::OpenSessionRequest => f.write_str("Open Session Request"),
            PayloadType::OpenSessionResponse => f.write_str("Open Session Response"),
            PayloadType::Rakp1 => f.write_str("RAKP 1"),
            PayloadType::Rakp2 => f.write_str("RAKP 2"),
            PayloadType::Rakp3 => f.write_str("RAKP 3"),
            PayloadType::Rakp4 => f.write_str("RAKP 4"),
            PayloadType::Unknown(raw) => write!(f, "payload type 0x{raw:02x}"),
        }
    }
}

/// The OEM fields of payload type 0x02.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Oem {
    /// OEM IANA enterprise number (3 bytes used, little-endian).
    pub iana: u32,
    /// OEM payload ID.
    pub payload_id: u16,
}

/// A read/write view of an RMCP+ session packet (after the RMCP header).
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

    /// Wraps a buffer and checks the header and payload length.
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Checks the auth type (0x06), that the header is complete and that the
    /// payload fits; an unauthenticated packet must end with its payload.
    pub fn check_len(&self) -> Result<(), Error> {
        let data = self.buffer.as_ref();
        if data.len() < 2 {
            return Err(malformed(format!(
                "RMCP+ session header truncated: {} bytes",
                data.len()
            )));
        }
        if data[0] != AUTH_TYPE_RMCP_PLUS {
            return Err(malformed(format!(
                "auth type 0x{:02x} is not RMCP+ (0x06)",
                data[0]
            )));
        }
        let header = self.header_len();
        if data.len() < header {
            return Err(malformed(format!(
                "RMCP+ session header truncated: {} bytes, needs {header}",
                data.len()
            )));
        }
        let end = header + usize::from(self.payload_len());
        if data.len() < end {
            return Err(malformed(format!(
                "RMCP+ payload length {} exceeds the {} bytes after the header",
                self.payload_len(),
                data.len() - header
            )));
        }
        if !self.authenticated() && data.len() != end {
            return Err(malformed(format!(
                "{} bytes after the payload of an unauthenticated RMCP+ packet",
                data.len() - end
            )));
        }
        Ok(())
    }

    fn offset(&self) -> usize {
        if self.payload_type() == PayloadType::OemExplicit {
            HEADER_LEN_OEM - HEADER_LEN
        } else {
            0
        }
    }

    /// Length of the session header.
    pub fn header_len(&self) -> usize {
        HEADER_LEN + self.offset()
    }

    /// The payload type.
    pub fn payload_type(&self) -> PayloadType {
        PayloadType::from(self.buffer.as_ref()[1])
    }

    /// Whether the payload is encrypted.
    pub fn encrypted(&self) -> bool {
        self.buffer.as_ref()[1] & ENCRYPTED != 0
    }

    /// Whether the packet has a trailer with an auth code.
    pub fn authenticated(&self) -> bool {
        self.buffer.as_ref()[1] & AUTHENTICATED != 0
    }

    /// The OEM fields (payload type 0x02 only).
    pub fn oem(&self) -> Option<Oem> {
        (self.payload_type() == PayloadType::OemExplicit).then(|| Oem {
            iana: u32_le_at(self.buffer.as_ref(), 2),
            payload_id: u16_le_at(self.buffer.as_ref(), 6),
        })
    }

    /// The session ID (the receiver's ID; 0 before the session exists).
    pub fn session_id(&self) -> u32 {
        u32_le_at(self.buffer.as_ref(), 2 + self.offset())
    }

    /// The session sequence number (0 before the session exists).
    pub fn sequence(&self) -> u32 {
        u32_le_at(self.buffer.as_ref(), 6 + self.offset())
    }

    /// The payload length.
    pub fn payload_len(&self) -> u16 {
        u16_le_at(self.buffer.as_ref(), 10 + self.offset())
    }

    /// The payload (possibly encrypted).
    pub fn payload(&self) -> &[u8] {
        let start = self.header_len();
        &self.buffer.as_ref()[start..start + usize::from(self.payload_len())]
    }

    /// The bytes after the payload (the trailer; empty when unauthenticated).
    pub fn trailer(&self) -> &[u8] {
        let start = self.header_len() + usize::from(self.payload_len());
        &self.buffer.as_ref()[start..]
    }

    /// Splits an authenticated packet into the bytes the auth code covers
    /// (auth type through next header) and the auth code of `auth_code_len`
    /// bytes, after checking the trailer's pad length and next header.
    pub fn split_auth_code(&self, auth_code_len: usize) -> Result<(&[u8], &[u8]), Error> {
        if !self.authenticated() {
            return Err(malformed("RMCP+ packet is not authenticated"));
        }
        let trailer = self.trailer();
        if trailer.len() < auth_code_len + 2 {
            return Err(malformed(format!(
                "RMCP+ trailer of {} bytes cannot hold a {auth_code_len}-byte auth code",
                trailer.len()
            )));
        }
        let next_header = trailer[trailer.len() - auth_code_len - 1];
        let pad_len = trailer[trailer.len() - auth_code_len - 2];
        if next_header != NEXT_HEADER {
            return Err(malformed(format!(
                "RMCP+ trailer next header 0x{next_header:02x}, expected 0x07"
            )));
        }
        if usize::from(pad_len) + 2 + auth_code_len != trailer.len() {
            return Err(malformed(format!(
                "RMCP+ integrity pad length {pad_len} does not match the {}-byte trailer",
                trailer.len()
            )));
        }
        let data = self.buffer.as_ref();
        let split = data.len() - auth_code_len;
        Ok((&data[..split], &data[split..]))
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// The mutable payload (after [`Repr::emit`] set the lengths).
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let start = self.header_len();
        let len = usize::from(self.payload_len());
        &mut self.buffer.as_mut()[start..start + len]
    }
}

/// Number of 0xff integrity pad bytes after a header and payload of
/// `covered` bytes, so that covered + pad + 2 is a multiple of 4.
pub fn integrity_pad_len(covered: usize) -> usize {
    (4 - (covered + 2) % 4) % 4
}

/// An RMCP+ session packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr<'a> {
    /// The payload type.
    pub payload_type: PayloadType,
    /// Whether `payload` is encrypted (the caller encrypts).
    pub encrypted: bool,
    /// Whether a trailer with an auth code follows (the caller signs).
    pub authenticated: bool,
    /// OEM fields, emitted only for [`PayloadType::OemExplicit`].
    pub oem: Option<Oem>,
    /// The receiver's session ID.
    pub session_id: u32,
    /// The session sequence number.
    pub sequence: u32,
    /// The payload as sent (at most 65535 bytes).
    pub payload: &'a [u8],
}

impl<'a> Repr<'a> {
    /// Parses a packet. The trailer is checked for shape only when
    /// `auth_code_len` is given; verifying the code is the session's job.
    pub fn parse(bytes: &'a [u8], auth_code_len: Option<usize>) -> Result<Self, Error> {
        let packet = Packet::new_checked(bytes)?;
        if let (true, Some(len)) = (packet.authenticated(), auth_code_len) {
            packet.split_auth_code(len)?;
        }
        let start = packet.header_len();
        let len = usize::from(packet.payload_len());
        Ok(Repr {
            payload_type: packet.payload_type(),
            encrypted: packet.encrypted(),
            authenticated: packet.authenticated(),
            oem: packet.oem(),
            session_id: packet.session_id(),
            sequence: packet.sequence(),
            payload: &bytes[start..start + len],
        })
    }

    fn header_len(&self) -> usize {
        if self.payload_type == PayloadType::OemExplicit {
            HEADER_LEN_OEM
        } else {
            HEADER_LEN
        }
    }

    fn payload_len(&self) -> usize {
        self.payload.len().min(usize::from(u16::MAX))
    }

    /// Length of the encoded packet with an auth code of `auth_code_len`
    /// bytes (ignored when not authenticated).
    pub fn buffer_len(&self, auth_code_len: usize) -> usize {
        let covered = self.header_len() + self.payload_len();
        if self.authenticated {
            covered + integrity_pad_len(covered) + 2 + auth_code_len
        } else {
            covered
        }
    }

    /// Writes the packet into a buffer of at least
    /// [`buffer_len(auth_code_len)`](Self::buffer_len) bytes. The auth code
    /// bytes (the last `auth_code_len`) are left zero: compute them over
    /// everything before them and copy them in.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>, auth_code_len: usize) {
        let len = self.payload_len();
        let header = self.header_len();
        let buf = packet.buffer.as_mut();
        buf[0] = AUTH_TYPE_RMCP_PLUS;
        buf[1] = u8::from(self.payload_type)
            | if self.encrypted { ENCRYPTED } else { 0 }
            | if self.authenticated { AUTHENTICATED } else { 0 };
        let at = header - HEADER_LEN;
        if at > 0 {
            let oem = self.oem.unwrap_or(Oem {
                iana: 0,
                payload_id: 0,
            });
            put_u32_le(buf, 2, oem.iana);
            put_u16_le(buf, 6, oem.payload_id);
        }
        put_u32_le(buf, 2 + at, self.session_id);
        put_u32_le(buf, 6 + at, self.sequence);
        put_u16_le(buf, 10 + at, len as u16); // len <= u16::MAX above
        buf[header..header + len].copy_from_slice(&self.payload[..len]);
        if self.authenticated {
            let covered = header + len;
            let pad = integrity_pad_len(covered);
            buf[covered..covered + pad].fill(0xff);
            buf[covered + pad] = pad as u8; // pad <= 3
            buf[covered + pad + 1] = NEXT_HEADER;
            let code = covered + pad + 2;
            buf[code..code + auth_code_len].fill(0);
        }
    }

    /// The packet as bytes, with `auth_code` (if authenticated) computed by
    /// `sign` over the covered bytes.
    pub fn to_vec_signed(
        &self,
        auth_code_len: usize,
        sign: impl FnOnce(&[u8]) -> Vec<u8>,
    ) -> Vec<u8> {
        let mut out = vec![0; self.buffer_len(auth_code_len)];
        self.emit(&mut Packet::new_unchecked(&mut out[..]), auth_code_len);
        if self.authenticated {
            let split = out.len() - auth_code_len;
            let code = sign(&out[..split]);
            let n = code.len().min(auth_code_len);
            out[split..split + n].copy_from_slice(&code[..n]);
        }
        out
    }

    /// An unauthenticated packet as bytes.
    pub fn to_vec(&self) -> Vec<u8> {
        self.to_vec_signed(0, |_| Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipmi::wire::rmcp;
    use crate::ipmi::wire::testutil::unhex;

    // lab/ipmi/lanplus-c3-power-reset.pcap frame 3: Open Session Request (no session yet).
    const OPEN_SESSION: &str = "0600ff0706100000000000000000200000000000a4a3a2a0000000080100000001000008010000000200000801000000";
    // lab/ipmi/lanplus-c2-power-reset-plaintext.pcap frame 9: Set Session
    // Privilege Level, authenticated (HMAC-SHA1-96), not encrypted.
    const SET_PRIV_C2: &str =
        "0600ff070640841a00000300000008002018c881043b043cffff0207466a5636241176d49caec017";
    // lab/ipmi/lanplus-c3-power-reset.pcap frame 9: the same, encrypted and authenticated.
    const SET_PRIV_C3: &str = "0600ff0706c084190000030000002000c1039db4ed14995bdccd1c40246c545b89eeac9dec9c483623c4d1ec0e335fceffff0207f171477258422a32c8d1ddca";

    #[test]
    fn captured_unauthenticated() {
        let bytes = unhex(OPEN_SESSION);
        let repr = Repr::parse(&bytes[rmcp::HEADER_LEN..], None).unwrap();
        assert_eq!(repr.payload_type, PayloadType::OpenSessionRequest);
        assert!(!repr.encrypted && !repr.authenticated);
        assert_eq!((repr.session_id, repr.sequence), (0, 0));
        assert_eq!(repr.payload.len(), 32);
        assert_eq!(rmcp::wrap(rmcp::MessageClass::Ipmi, &repr.to_vec()), bytes);
    }

    #[test]
    fn captured_authenticated() {
        let bytes = unhex(SET_PRIV_C2);
        let session = &bytes[rmcp::HEADER_LEN..];
        let packet = Packet::new_checked(session).unwrap();
        let (covered, code) = packet.split_auth_code(12).unwrap();
        assert_eq!(covered.len() % 4, 0);
        assert_eq!(code, &unhex("466a5636241176d49caec017")[..]);
        let repr = Repr::parse(session, Some(12)).unwrap();
        assert_eq!(repr.payload_type, PayloadType::Ipmi);
        assert!(repr.authenticated && !repr.encrypted);
        assert_eq!(repr.session_id, 0x1a84);
        assert_eq!(repr.sequence, 3);
        assert_eq!(repr.payload, &unhex("2018c881043b043c")[..]);
        let rebuilt = repr.to_vec_signed(12, |c| {
            assert_eq!(c, covered);
            code.to_vec()
        });
        assert_eq!(rmcp::wrap(rmcp::MessageClass::Ipmi, &rebuilt), bytes);
        // A wrong auth code length is caught by the trailer shape.
        assert!(packet.split_auth_code(16).is_err());
    }

    #[test]
    fn captured_encrypted() {
        let bytes = unhex(SET_PRIV_C3);
        let repr = Repr::parse(&bytes[rmcp::HEADER_LEN..], Some(12)).unwrap();
        assert!(repr.encrypted && repr.authenticated);
        assert_eq!(repr.payload.len(), 32);
        assert_eq!(repr.session_id, 0x1984);
    }

    #[test]
    fn oem_header_round_trip() {
        let repr = Repr {
            payload_type: PayloadType::OemExplicit,
            encrypted: false,
            authenticated: true,
            oem: Some(Oem {
                iana: 0x0000_1291,
                payload_id: 7,
            }),
            session_id: 9,
            sequence: 10,
            payload: &[1, 2, 3],
        };
        let bytes = repr.to_vec_signed(16, |_| vec![0xaa; 16]);
        assert_eq!(bytes.len(), repr.buffer_len(16));
        assert_eq!((bytes.len() - 16) % 4, 0);
        assert_eq!(Repr::parse(&bytes, Some(16)).unwrap(), repr);
    }

    #[test]
    fn bad_packets() {
        assert!(Packet::new_checked(&[6u8][..]).is_err());
        assert!(Packet::new_checked(&[2u8; 12][..]).is_err());
        let mut b = unhex(OPEN_SESSION)[rmcp::HEADER_LEN..].to_vec();
        b.push(0);
        assert!(Packet::new_checked(&b[..]).is_err());
        b.truncate(20);
        assert!(Packet::new_checked(&b[..]).is_err());
        let open = unhex(OPEN_SESSION);
        let unauth = Packet::new_checked(&open[rmcp::HEADER_LEN..]).unwrap();
        assert!(unauth.split_auth_code(12).is_err());
        assert_eq!(PayloadType::from(0x3f), PayloadType::Unknown(0x3f));
    }
}
