//! The RMCP header (DMTF ASF 2.0 §3.2.2) and the ASF presence ping/pong.
//!
//! ```text
//!  0          1          2          3
//!  +----------+----------+----------+-----------------------+
//!  | version  | reserved | sequence | class (bit 7 = ACK)   |
//!  | 0x06     | 0x00     | 0xff     | 0x06 ASF, 0x07 IPMI   |
//!  +----------+----------+----------+-----------------------+
//!  4: the class's message
//! ```
//!
//! IPMI always sends sequence 0xff (no RMCP ACKs). An ASF message:
//!
//! ```text
//!  0..4 IANA enterprise (big-endian, 4542 = ASF) | 4 type | 5 tag | 6 reserved | 7 data length | 8.. data
//! ```
//!
//! Panic contract: [`Packet::new_checked`] validates the length; after it no
//! accessor panics. `parse` never panics on any input; `emit` never panics
//! into a buffer of `buffer_len()` bytes.

use super::{malformed, Reader};
use crate::Error;

/// The RMCP version IPMI uses (RMCP 1.0).
pub const VERSION: u8 = 0x06;
/// Sequence number meaning "no RMCP ACK wanted" (always used by IPMI).
pub const SEQUENCE_NO_ACK: u8 = 0xff;
/// Length of the RMCP header.
pub const HEADER_LEN: usize = 4;
/// The UDP port of RMCP ("asf-rmcp").
pub const PORT: u16 = 623;
/// The ASF IANA enterprise number.
pub const ASF_IANA: u32 = 4542;

mod field {
    pub const VERSION: usize = 0;
    pub const SEQUENCE: usize = 2;
    pub const CLASS: usize = 3;
}

/// What an RMCP message carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageClass {
    /// 0x06: ASF (presence ping/pong).
    Asf,
    /// 0x07: IPMI (1.5 session or RMCP+).
    Ipmi,
    /// 0x08: OEM-defined.
    Oem,
    /// A class this code does not know.
    Unknown(u8),
}

impl From<u8> for MessageClass {
    fn from(raw: u8) -> Self {
        match raw {
            0x06 => MessageClass::Asf,
            0x07 => MessageClass::Ipmi,
            0x08 => MessageClass::Oem,
            other => MessageClass::Unknown(other),
        }
    }
}

impl From<MessageClass> for u8 {
    fn from(c: MessageClass) -> u8 {
        match c {
            MessageClass::Asf => 0x06,
            MessageClass::Ipmi => 0x07,
            MessageClass::Oem => 0x08,
            MessageClass::Unknown(raw) => raw,
        }
    }
}

/// A read/write view of an RMCP packet.
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

    /// Wraps a buffer and checks that it holds the header.
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Checks that the header is present.
    pub fn check_len(&self) -> Result<(), Error> {
        let len = self.buffer.as_ref().len();
        if len < HEADER_LEN {
            return Err(malformed(format!(
                "RMCP packet truncated: {len} bytes, the header needs {HEADER_LEN}"
            )));
        }
        Ok(())
    }

    /// The RMCP version (0x06).
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VERSION]
    }

    /// The RMCP sequence number (0xff: no ACK).
    pub fn sequence(&self) -> u8 {
        self.buffer.as_ref()[field::SEQUENCE]
    }

    /// The message class.
    pub fn class(&self) -> MessageClass {
        MessageClass::from(self.buffer.as_ref()[field::CLASS] & 0x7f)
    }

    /// Whether this is an RMCP ACK.
    pub fn is_ack(&self) -> bool {
        self.buffer.as_ref()[field::CLASS] & 0x80 != 0
    }

    /// The class's message after the header.
    pub fn payload(&self) -> &[u8] {
        &self.buffer.as_ref()[HEADER_LEN..]
    }

    /// Consumes the view, returning the buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the version byte (and clears the reserved byte).
    pub fn set_version(&mut self, version: u8) {
        let b = self.buffer.as_mut();
        b[field::VERSION] = version;
        b[field::VERSION + 1] = 0;
    }

    /// Sets the sequence number.
    pub fn set_sequence(&mut self, sequence: u8) {
        self.buffer.as_mut()[field::SEQUENCE] = sequence;
    }

    /// Sets the class and ACK bit.
    pub fn set_class(&mut self, class: MessageClass, ack: bool) {
        self.buffer.as_mut()[field::CLASS] = (u8::from(class) & 0x7f) | if ack { 0x80 } else { 0 };
    }

    /// The mutable message after the header.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buffer.as_mut()[HEADER_LEN..]
    }
}

/// The RMCP header fields we support.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr {
    /// The RMCP sequence number (IPMI: [`SEQUENCE_NO_ACK`]).
    pub sequence: u8,
    /// What follows the header.
    pub class: MessageClass,
    /// Whether this is an RMCP ACK.
    pub ack: bool,
}

impl Repr {
    /// The header IPMI messages use: no ACK, class IPMI.
    pub const IPMI: Repr = Repr {
        sequence: SEQUENCE_NO_ACK,
        class: MessageClass::Ipmi,
        ack: false,
    };

    /// The header ASF messages use: no ACK, class ASF.
    pub const ASF: Repr = Repr {
        sequence: SEQUENCE_NO_ACK,
        class: MessageClass::Asf,
        ack: false,
    };

    /// Parses a checked packet; fails on an RMCP version other than 0x06.
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Repr, Error> {
        packet.check_len()?;
        if packet.version() != VERSION {
            return Err(malformed(format!(
                "RMCP version 0x{:02x}, expected 0x{VERSION:02x}: not an RMCP packet",
                packet.version()
            )));
        }
        Ok(Repr {
            sequence: packet.sequence(),
            class: packet.class(),
            ack: packet.is_ack(),
        })
    }

    /// Length of the header.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN
    }

    /// Writes the header into the first [`HEADER_LEN`] bytes of `packet`.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        packet.set_version(VERSION);
        packet.set_sequence(self.sequence);
        packet.set_class(self.class, self.ack);
    }
}

/// Prepends an RMCP header to `payload` (class IPMI or ASF, no ACK).
pub fn wrap(class: MessageClass, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; HEADER_LEN + payload.len()];
    let mut packet = Packet::new_unchecked(&mut out[..]);
    Repr {
        sequence: SEQUENCE_NO_ACK,
        class,
        ack: false,
    }
    .emit(&mut packet);
    packet.payload_mut().copy_from_slice(payload);
    out
}

/// The ASF presence ping/pong (and any other ASF message, kept raw).
pub mod asf {
    use super::{malformed, Error, Reader, ASF_IANA};

    /// The ASF message types we know.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub enum MessageType {
        /// 0x80: Presence Ping.
        PresencePing,
        /// 0x40: Presence Pong.
        PresencePong,
        /// Another ASF message type.
        Unknown(u8),
    }

    impl From<u8> for MessageType {
        fn from(raw: u8) -> Self {
            match raw {
                0x80 => MessageType::PresencePing,
                0x40 => MessageType::PresencePong,
                other => MessageType::Unknown(other),
            }
        }
    }

    impl From<MessageType> for u8 {
        fn from(t: MessageType) -> u8 {
            match t {
                MessageType::PresencePing => 0x80,
                MessageType::PresencePong => 0x40,
                MessageType::Unknown(raw) => raw,
            }
        }
    }

    /// Length of the ASF message header.
    pub const HEADER_LEN: usize = 8;
    /// Length of a Presence Pong's data.
    pub const PONG_DATA_LEN: usize = 16;
    /// "Supported entities" bit 7: IPMI is supported.
    pub const ENTITY_IPMI: u8 = 0x80;

    /// An ASF message (after the RMCP header).
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Repr<'a> {
        /// IANA enterprise number of the message's definer (4542 for ASF's own).
        pub iana: u32,
        /// The message type.
        pub message_type: MessageType,
        /// Echoed by the answer.
        pub tag: u8,
        /// The message data.
        pub data: &'a [u8],
    }

    /// A Presence Pong's data.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Pong {
        /// IANA enterprise number (4542 unless an OEM extends ASF).
        pub enterprise: u32,
        /// OEM-defined.
        pub oem: u32,
        /// Bit 7: IPMI supported; bits 3..0: ASF version (1 = 1.0).
        pub supported_entities: u8,
        /// Supported interactions (bit 5: RMCP security extensions).
        pub supported_interactions: u8,
    }

    impl<'a> Repr<'a> {
        /// A Presence Ping with `tag`.
        pub fn ping(tag: u8) -> Repr<'static> {
            Repr {
                iana: ASF_IANA,
                message_type: MessageType::PresencePing,
                tag,
                data: &[],
            }
        }

        /// Parses an ASF message; the data length must match the buffer.
        pub fn parse(bytes: &'a [u8]) -> Result<Self, Error> {
            let mut r = Reader::new("ASF message", bytes);
            let iana = r.u32_be()?;
            let message_type = MessageType::from(r.u8()?);
            let tag = r.u8()?;
            let _reserved = r.u8()?;
            let len = usize::from(r.u8()?);
            let data = r.take(len)?;
            r.finish()?;
            Ok(Repr {
                iana,
                message_type,
                tag,
                data,
            })
        }

        /// Length of the encoded message.
        pub fn buffer_len(&self) -> usize {
            HEADER_LEN + self.data.len().min(255)
        }

        /// Writes the message into `buf` (at least `buffer_len()` bytes); data
        /// beyond 255 bytes is cut (the length field is one byte).
        pub fn emit(&self, buf: &mut [u8]) {
            let len = self.data.len().min(255);
            buf[0..4].copy_from_slice(&self.iana.to_be_bytes());
            buf[4] = self.message_type.into();
            buf[5] = self.tag;
            buf[6] = 0;
            buf[7] = len as u8; // len <= 255 above
            buf[HEADER_LEN..HEADER_LEN + len].copy_from_slice(&self.data[..len]);
        }

        /// The message as bytes.
        pub fn to_vec(&self) -> Vec<u8> {
            let mut out = vec![0; self.buffer_len()];
            self.emit(&mut out);
            out
        }

        /// The Pong data of a Presence Pong.
        pub fn pong(&self) -> Result<Pong, Error> {
            if self.message_type != MessageType::PresencePong {
                return Err(malformed(format!(
                    "expected an ASF Presence Pong, got ASF type 0x{:02x}",
                    u8::from(self.message_type)
                )));
            }
            Pong::parse(self.data)
        }
    }

    impl Pong {
        /// Parses the 16 data bytes of a Presence Pong.
        pub fn parse(data: &[u8]) -> Result<Pong, Error> {
            let mut r = Reader::new("ASF Presence Pong", data);
            let pong = Pong {
                enterprise: r.u32_be()?,
                oem: r.u32_be()?,
                supported_entities: r.u8()?,
                supported_interactions: r.u8()?,
            };
            let _reserved = r.take(6)?;
            r.finish()?;
            Ok(pong)
        }

        /// Whether the device says it supports IPMI.
        pub fn ipmi_supported(&self) -> bool {
            self.supported_entities & ENTITY_IPMI != 0
        }

        /// The 16 data bytes.
        pub fn to_bytes(&self) -> [u8; PONG_DATA_LEN] {
            let mut out = [0u8; PONG_DATA_LEN];
            out[0..4].copy_from_slice(&self.enterprise.to_be_bytes());
            out[4..8].copy_from_slice(&self.oem.to_be_bytes());
            out[8] = self.supported_entities;
            out[9] = self.supported_interactions;
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::asf::{MessageType, Pong};
    use super::*;
    use crate::ipmi::wire::testutil::unhex;

    // lab/ipmi/lan15-md5-power-reset.pcap frame 1: ipmitool -I lan's ASF Presence Ping.
    const PING: &str = "0600ff06000011be80000000";
    // Same pcap, frame 2: ipmi_sim's Presence Pong.
    const PONG: &str = "0600ff06000011be40000010000011be000000008100000000000000";

    #[test]
    fn captured_ping() {
        let bytes = unhex(PING);
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        let repr = Repr::parse(&packet).unwrap();
        assert_eq!(repr, Repr::ASF);
        let asf = asf::Repr::parse(packet.payload()).unwrap();
        assert_eq!(asf, asf::Repr::ping(0));
        assert_eq!(wrap(MessageClass::Asf, &asf.to_vec()), bytes);
    }

    #[test]
    fn captured_pong() {
        let bytes = unhex(PONG);
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(Repr::parse(&packet).unwrap().class, MessageClass::Asf);
        let asf = asf::Repr::parse(packet.payload()).unwrap();
        assert_eq!(asf.message_type, MessageType::PresencePong);
        let pong = asf.pong().unwrap();
        assert_eq!(
            pong,
            Pong {
                enterprise: ASF_IANA,
                oem: 0,
                supported_entities: 0x81,
                supported_interactions: 0
            }
        );
        assert!(pong.ipmi_supported());
        let rebuilt = asf::Repr {
            iana: ASF_IANA,
            message_type: MessageType::PresencePong,
            tag: 0,
            data: &pong.to_bytes(),
        };
        assert_eq!(wrap(MessageClass::Asf, &rebuilt.to_vec()), bytes);
    }

    #[test]
    fn bad_headers() {
        assert!(Packet::new_checked(&[6u8, 0, 0xff][..]).is_err());
        let p = Packet::new_checked(&[5u8, 0, 0xff, 7][..]).unwrap();
        assert!(Repr::parse(&p).is_err());
        let p = Packet::new_checked(&[6u8, 0, 0xff, 0x87][..]).unwrap();
        let r = Repr::parse(&p).unwrap();
        assert!(r.ack);
        assert_eq!(r.class, MessageClass::Ipmi);
        assert_eq!(MessageClass::from(0x33), MessageClass::Unknown(0x33));
        // ASF length longer than the data, or trailing bytes.
        assert!(asf::Repr::parse(&unhex("000011be80000001")).is_err());
        assert!(asf::Repr::parse(&unhex("000011be8000000000")).is_err());
        assert!(asf::Repr::ping(1).pong().is_err());
    }
}
