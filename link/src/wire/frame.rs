//! The heartbeat frame: one per datagram, Ethernet frame or serial record.
//!
//! ```text
//!  0      2   3     4     5      6     7      8            12          16
//!  +------+---+-----+-----+------+-----+------+------------+-----------+
//!  | "IB" |ver|type |key# |authln|path |namlen| cluster id | node id   |
//!  +------+---+-----+-----+------+-----+------+------------+-----------+
//!  16                      24                      32      34      36
//!  +-----------------------+-----------------------+-------+-------+
//!  | generation (u64)      | sequence (u64)        |paylen | 0     |
//!  +-----------------------+-----------------------+-------+-------+
//!  36: node name (namlen bytes, UTF-8) | payload (paylen) | auth tag (authln)
//! ```
//!
//! All integers are big-endian. The auth tag covers every byte before it.
//! `sequence` counts every frame a node sends in one generation (all paths
//! share the counter), so a per-peer replay window accepts each frame once.
//!
//! Panic contract: [`Packet::new_checked`] validates lengths; after it no
//! accessor panics. [`Repr::parse`] never panics on any input; [`Repr::emit`]
//! never panics into a buffer of [`Repr::buffer_len`] bytes.

use crate::{ClusterId, Error, Generation, NodeId, PathId};

/// The two magic bytes that open every frame.
pub const MAGIC: [u8; 2] = *b"IB";
/// The frame format version this code speaks.
pub const VERSION: u8 = 1;
/// Length of the fixed header.
pub const HEADER_LEN: usize = field::NAME_START;
/// Longest node name a frame carries (a hostname label is at most 63 bytes).
pub const MAX_NAME_LEN: usize = 64;
/// Longest payload: keeps every frame within one Ethernet frame / UDP datagram.
pub const MAX_PAYLOAD_LEN: usize = 1200;
/// Longest auth tag (HMAC-SHA-256).
pub const MAX_AUTH_LEN: usize = 32;
/// Longest frame this format allows.
pub const MAX_FRAME_LEN: usize = HEADER_LEN + MAX_NAME_LEN + MAX_PAYLOAD_LEN + MAX_AUTH_LEN;

mod field {
    use std::ops::Range;

    pub const MAGIC: Range<usize> = 0..2;
    pub const VERSION: usize = 2;
    pub const MSG_TYPE: usize = 3;
    pub const KEY_INDEX: usize = 4;
    pub const AUTH_LEN: usize = 5;
    pub const PATH_ID: usize = 6;
    pub const NAME_LEN: usize = 7;
    pub const CLUSTER_ID: Range<usize> = 8..12;
    pub const NODE_ID: Range<usize> = 12..16;
    pub const GENERATION: Range<usize> = 16..24;
    pub const SEQUENCE: Range<usize> = 24..32;
    pub const PAYLOAD_LEN: Range<usize> = 32..34;
    pub const RESERVED: Range<usize> = 34..36;
    pub const NAME_START: usize = 36;
}

/// What a frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    /// "I am alive", sent every keepalive on every path.
    Heartbeat,
    /// A message of the reliable channel.
    Data,
    /// A request to resend a range of channel messages.
    RetransmitRequest,
    /// Acknowledges channel messages up to a sequence number.
    Ack,
    /// A type this version does not know (kept for logs).
    Unknown(u8),
}

impl From<u8> for MessageType {
    fn from(raw: u8) -> Self {
        match raw {
            0x01 => MessageType::Heartbeat,
            0x02 => MessageType::Data,
            0x03 => MessageType::RetransmitRequest,
            0x04 => MessageType::Ack,
            other => MessageType::Unknown(other),
        }
    }
}

impl From<MessageType> for u8 {
    fn from(t: MessageType) -> u8 {
        match t {
            MessageType::Heartbeat => 0x01,
            MessageType::Data => 0x02,
            MessageType::RetransmitRequest => 0x03,
            MessageType::Ack => 0x04,
            MessageType::Unknown(raw) => raw,
        }
    }
}

/// A read/write view of a heartbeat frame in a buffer.
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

    /// Wraps a buffer and checks that every length field fits it exactly.
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Checks that the header is present and the buffer is exactly as long as
    /// the header's name, payload and auth lengths say.
    pub fn check_len(&self) -> Result<(), Error> {
        let data = self.buffer.as_ref();
        if data.len() < HEADER_LEN {
            return Err(Error::invalid_message(format!(
                "frame truncated: {} bytes, header needs {HEADER_LEN}",
                data.len()
            )));
        }
        let expected = HEADER_LEN
            + usize::from(self.name_len())
            + usize::from(self.payload_len())
            + usize::from(self.auth_len());
        if data.len() != expected {
            return Err(Error::invalid_message(format!(
                "frame length {} does not match its header ({expected})",
                data.len()
            )));
        }
        Ok(())
    }

    /// Consumes the view, returning the buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn byte(&self, at: usize) -> u8 {
        self.buffer.as_ref()[at]
    }

    fn be_u16(&self, range: std::ops::Range<usize>) -> u16 {
        let b = &self.buffer.as_ref()[range];
        u16::from_be_bytes([b[0], b[1]])
    }

    fn be_u32(&self, range: std::ops::Range<usize>) -> u32 {
        let b = &self.buffer.as_ref()[range];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }

    fn be_u64(&self, range: std::ops::Range<usize>) -> u64 {
        let b = &self.buffer.as_ref()[range];
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        u64::from_be_bytes(a)
    }

    /// The magic bytes (should be [`MAGIC`]).
    pub fn magic(&self) -> [u8; 2] {
        [self.byte(0), self.byte(1)]
    }
    /// The format version.
    pub fn version(&self) -> u8 {
        self.byte(field::VERSION)
    }
    /// The message type.
    pub fn msg_type(&self) -> MessageType {
        MessageType::from(self.byte(field::MSG_TYPE))
    }
    /// The number of the key in authkeys that signed the frame.
    pub fn key_index(&self) -> u8 {
        self.byte(field::KEY_INDEX)
    }
    /// Length of the trailing auth tag.
    pub fn auth_len(&self) -> u8 {
        self.byte(field::AUTH_LEN)
    }
    /// The sender's path id.
    pub fn path_id(&self) -> u8 {
        self.byte(field::PATH_ID)
    }
    /// Length of the node name.
    pub fn name_len(&self) -> u8 {
        self.byte(field::NAME_LEN)
    }
    /// The cluster id.
    pub fn cluster_id(&self) -> u32 {
        self.be_u32(field::CLUSTER_ID)
    }
    /// The sender's node id.
    pub fn node_id(&self) -> u32 {
        self.be_u32(field::NODE_ID)
    }
    /// The sender's generation (incarnation).
    pub fn generation(&self) -> u64 {
        self.be_u64(field::GENERATION)
    }
    /// The frame's sequence number within the sender's generation.
    pub fn sequence(&self) -> u64 {
        self.be_u64(field::SEQUENCE)
    }
    /// Length of the payload.
    pub fn payload_len(&self) -> u16 {
        self.be_u16(field::PAYLOAD_LEN)
    }
    /// The reserved field (zero in version 1).
    pub fn reserved(&self) -> u16 {
        self.be_u16(field::RESERVED)
    }
    /// The node name bytes.
    pub fn name(&self) -> &[u8] {
        let end = field::NAME_START + usize::from(self.name_len());
        &self.buffer.as_ref()[field::NAME_START..end]
    }
    /// The payload bytes.
    pub fn payload(&self) -> &[u8] {
        let start = field::NAME_START + usize::from(self.name_len());
        &self.buffer.as_ref()[start..start + usize::from(self.payload_len())]
    }
    /// The bytes the auth tag covers (everything before the tag).
    pub fn signed_bytes(&self) -> &[u8] {
        let end =
            field::NAME_START + usize::from(self.name_len()) + usize::from(self.payload_len());
        &self.buffer.as_ref()[..end]
    }
    /// The auth tag.
    pub fn auth_tag(&self) -> &[u8] {
        let start =
            field::NAME_START + usize::from(self.name_len()) + usize::from(self.payload_len());
        &self.buffer.as_ref()[start..start + usize::from(self.auth_len())]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn put(&mut self, range: std::ops::Range<usize>, bytes: &[u8]) {
        self.buffer.as_mut()[range].copy_from_slice(bytes);
    }

    /// Sets the message type.
    pub fn set_msg_type(&mut self, t: MessageType) {
        self.buffer.as_mut()[field::MSG_TYPE] = t.into();
    }
    /// Sets the sequence number.
    pub fn set_sequence(&mut self, sequence: u64) {
        self.put(field::SEQUENCE, &sequence.to_be_bytes());
    }
    /// Sets the path id.
    pub fn set_path_id(&mut self, path: u8) {
        self.buffer.as_mut()[field::PATH_ID] = path;
    }
    /// The auth tag, writable (fill it after signing [`signed_bytes`](Self::signed_bytes)).
    pub fn auth_tag_mut(&mut self) -> &mut [u8] {
        let start =
            field::NAME_START + usize::from(self.name_len()) + usize::from(self.payload_len());
        let len = usize::from(self.auth_len());
        &mut self.buffer.as_mut()[start..start + len]
    }
}

/// The frame fields we support, parsed and validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repr<'a> {
    /// Cluster the sender belongs to.
    pub cluster_id: ClusterId,
    /// The sender's node id.
    pub node_id: NodeId,
    /// The sender's node name (`uname -n`).
    pub node_name: &'a str,
    /// The sender's generation.
    pub generation: Generation,
    /// Frame sequence number within the generation (starts at 1).
    pub sequence: u64,
    /// The sender's path id.
    pub path_id: PathId,
    /// What the frame carries.
    pub msg_type: MessageType,
    /// Key number (1–15, as in authkeys).
    pub key_index: u8,
    /// Length of the auth tag that follows the payload.
    pub auth_len: u8,
    /// The payload.
    pub payload: &'a [u8],
}

impl<'a> Repr<'a> {
    /// Parses a checked packet. Rejects a foreign magic, an unknown version,
    /// a non-zero reserved field, a name that is empty, too long or not UTF-8,
    /// an oversize payload or auth tag, and sequence 0.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &'a Packet<&'a T>) -> Result<Self, Error> {
        packet.check_len()?;
        if packet.magic() != MAGIC {
            return Err(Error::invalid_message(format!(
                "not an ironbeat frame (magic {:02x}{:02x})",
                packet.magic()[0],
                packet.magic()[1]
            )));
        }
        if packet.version() != VERSION {
            return Err(Error::invalid_message(format!(
                "frame version {} not supported (this node speaks {VERSION}); upgrade the older node",
                packet.version()
            )));
        }
        if packet.reserved() != 0 {
            return Err(Error::invalid_message("reserved header field is not zero"));
        }
        let name_len = usize::from(packet.name_len());
        if name_len == 0 || name_len > MAX_NAME_LEN {
            return Err(Error::invalid_message(format!(
                "node name length {name_len} outside 1..={MAX_NAME_LEN}"
            )));
        }
        if usize::from(packet.payload_len()) > MAX_PAYLOAD_LEN {
            return Err(Error::invalid_message(format!(
                "payload of {} bytes exceeds {MAX_PAYLOAD_LEN}",
                packet.payload_len()
            )));
        }
        if usize::from(packet.auth_len()) > MAX_AUTH_LEN {
            return Err(Error::invalid_message(format!(
                "auth tag of {} bytes exceeds {MAX_AUTH_LEN}",
                packet.auth_len()
            )));
        }
        let node_name = std::str::from_utf8(packet.name())
            .map_err(|_| Error::invalid_message("node name is not UTF-8"))?;
        if packet.sequence() == 0 {
            return Err(Error::invalid_message("sequence number 0 is never sent"));
        }
        Ok(Repr {
            cluster_id: ClusterId(packet.cluster_id()),
            node_id: NodeId(packet.node_id()),
            node_name,
            generation: Generation(packet.generation()),
            sequence: packet.sequence(),
            path_id: PathId(packet.path_id()),
            msg_type: packet.msg_type(),
            key_index: packet.key_index(),
            auth_len: packet.auth_len(),
            payload: packet.payload(),
        })
    }

    /// Total frame length, auth tag included.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.node_name.len() + self.payload.len() + usize::from(self.auth_len)
    }

    /// Checks the limits `emit` relies on; call once before emitting.
    pub fn check_limits(&self) -> Result<(), Error> {
        if self.node_name.is_empty() || self.node_name.len() > MAX_NAME_LEN {
            return Err(Error::config(format!(
                "node name {:?} must be 1 to {MAX_NAME_LEN} bytes",
                self.node_name
            )));
        }
        if self.payload.len() > MAX_PAYLOAD_LEN {
            return Err(Error::invalid_message(format!(
                "payload of {} bytes exceeds {MAX_PAYLOAD_LEN}",
                self.payload.len()
            )));
        }
        if usize::from(self.auth_len) > MAX_AUTH_LEN {
            return Err(Error::invalid_message("auth tag too long"));
        }
        Ok(())
    }

    /// Writes the frame into `packet` (of [`buffer_len`](Self::buffer_len) bytes),
    /// leaving the auth tag zeroed for the signer. Name and payload are truncated
    /// to their limits rather than panicking; call [`check_limits`](Self::check_limits)
    /// first to get an error instead.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        let name = &self.node_name.as_bytes()[..self.node_name.len().min(MAX_NAME_LEN)];
        let payload = &self.payload[..self.payload.len().min(MAX_PAYLOAD_LEN)];
        let auth_len = self.auth_len.min(MAX_AUTH_LEN as u8);
        let buf = packet.buffer.as_mut();
        let total = HEADER_LEN + name.len() + payload.len() + usize::from(auth_len);
        if buf.len() < total {
            return;
        }
        buf[field::MAGIC].copy_from_slice(&MAGIC);
        buf[field::VERSION] = VERSION;
        buf[field::MSG_TYPE] = self.msg_type.into();
        buf[field::KEY_INDEX] = self.key_index;
        buf[field::AUTH_LEN] = auth_len;
        buf[field::PATH_ID] = self.path_id.0;
        buf[field::NAME_LEN] = name.len() as u8; // ≤ MAX_NAME_LEN (64) fits u8
        buf[field::CLUSTER_ID].copy_from_slice(&self.cluster_id.0.to_be_bytes());
        buf[field::NODE_ID].copy_from_slice(&self.node_id.0.to_be_bytes());
        buf[field::GENERATION].copy_from_slice(&self.generation.0.to_be_bytes());
        buf[field::SEQUENCE].copy_from_slice(&self.sequence.to_be_bytes());
        // ≤ MAX_PAYLOAD_LEN (1200) fits u16
        buf[field::PAYLOAD_LEN].copy_from_slice(&(payload.len() as u16).to_be_bytes());
        buf[field::RESERVED].copy_from_slice(&[0, 0]);
        let name_end = field::NAME_START + name.len();
        buf[field::NAME_START..name_end].copy_from_slice(name);
        buf[name_end..name_end + payload.len()].copy_from_slice(payload);
        buf[name_end + payload.len()..total].fill(0);
    }

    /// Emits into a new vector of exactly [`buffer_len`](Self::buffer_len) bytes.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut buf = vec![0u8; self.buffer_len()];
        self.emit(&mut Packet::new_unchecked(&mut buf[..]));
        buf
    }
}

/// Payloads of the message types, each a fixed big-endian layout.
pub mod payload {
    use crate::{Error, NodeId};

    fn u64_at(b: &[u8], at: usize) -> u64 {
        let mut a = [0u8; 8];
        a.copy_from_slice(&b[at..at + 8]);
        u64::from_be_bytes(a)
    }
    fn u32_at(b: &[u8], at: usize) -> u32 {
        u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
    }

    /// Heartbeat payload: the highest channel sequence the sender has sent, so
    /// receivers notice a lost last message without waiting for the next one.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Heartbeat {
        /// Highest reliable-channel sequence sent in this generation (0: none).
        pub channel_high: u64,
    }

    impl Heartbeat {
        /// Encoded length.
        pub const LEN: usize = 8;
        /// Parses; trailing bytes are rejected.
        pub fn parse(b: &[u8]) -> Result<Self, Error> {
            if b.len() != Self::LEN {
                return Err(Error::invalid_message("heartbeat payload must be 8 bytes"));
            }
            Ok(Heartbeat {
                channel_high: u64_at(b, 0),
            })
        }
        /// Encodes.
        pub fn to_bytes(&self) -> [u8; Self::LEN] {
            self.channel_high.to_be_bytes()
        }
    }

    /// Header of a data message; the body follows it.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Data {
        /// Channel sequence (per sender and generation, from 1).
        pub channel_seq: u64,
        /// Addressee; `None` (0 on the wire) means every node.
        pub dest: Option<NodeId>,
    }

    impl Data {
        /// Encoded header length.
        pub const LEN: usize = 12;
        /// Parses the header and returns the body after it.
        pub fn parse(b: &[u8]) -> Result<(Self, &[u8]), Error> {
            if b.len() < Self::LEN {
                return Err(Error::invalid_message(
                    "data payload shorter than its header",
                ));
            }
            let seq = u64_at(b, 0);
            if seq == 0 {
                return Err(Error::invalid_message("channel sequence 0 is never sent"));
            }
            let dest = match u32_at(b, 8) {
                0 => None,
                n => Some(NodeId(n)),
            };
            Ok((
                Data {
                    channel_seq: seq,
                    dest,
                },
                &b[Self::LEN..],
            ))
        }
        /// Encodes the header followed by `body`.
        pub fn to_bytes(&self, body: &[u8]) -> Vec<u8> {
            let mut v = Vec::with_capacity(Self::LEN + body.len());
            v.extend_from_slice(&self.channel_seq.to_be_bytes());
            v.extend_from_slice(&self.dest.map_or(0, |n| n.0).to_be_bytes());
            v.extend_from_slice(body);
            v
        }
    }

    /// "Resend `first..=last` of `origin`'s channel."
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct RetransmitRequest {
        /// Whose messages are missing.
        pub origin: NodeId,
        /// First missing sequence.
        pub first: u64,
        /// Last missing sequence (inclusive).
        pub last: u64,
    }

    impl RetransmitRequest {
        /// Encoded length.
        pub const LEN: usize = 20;
        /// Parses; rejects empty or reversed ranges.
        pub fn parse(b: &[u8]) -> Result<Self, Error> {
            if b.len() != Self::LEN {
                return Err(Error::invalid_message(
                    "retransmit request payload must be 20 bytes",
                ));
            }
            let r = RetransmitRequest {
                origin: NodeId(u32_at(b, 0)),
                first: u64_at(b, 4),
                last: u64_at(b, 12),
            };
            if r.first == 0 || r.first > r.last {
                return Err(Error::invalid_message("retransmit request range is empty"));
            }
            Ok(r)
        }
        /// Encodes.
        pub fn to_bytes(&self) -> [u8; Self::LEN] {
            let mut a = [0u8; Self::LEN];
            a[0..4].copy_from_slice(&self.origin.0.to_be_bytes());
            a[4..12].copy_from_slice(&self.first.to_be_bytes());
            a[12..20].copy_from_slice(&self.last.to_be_bytes());
            a
        }
    }

    /// "I have delivered every message of `origin` up to `cumulative`."
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Ack {
        /// Whose channel is acknowledged.
        pub origin: NodeId,
        /// Highest sequence delivered in order.
        pub cumulative: u64,
    }

    impl Ack {
        /// Encoded length.
        pub const LEN: usize = 12;
        /// Parses.
        pub fn parse(b: &[u8]) -> Result<Self, Error> {
            if b.len() != Self::LEN {
                return Err(Error::invalid_message("ack payload must be 12 bytes"));
            }
            Ok(Ack {
                origin: NodeId(u32_at(b, 0)),
                cumulative: u64_at(b, 4),
            })
        }
        /// Encodes.
        pub fn to_bytes(&self) -> [u8; Self::LEN] {
            let mut a = [0u8; Self::LEN];
            a[0..4].copy_from_slice(&self.origin.0.to_be_bytes());
            a[4..12].copy_from_slice(&self.cumulative.to_be_bytes());
            a
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Repr<'static> {
        Repr {
            cluster_id: ClusterId(0x0102_0304),
            node_id: NodeId(0x0a0b_0c0d),
            node_name: "node1",
            generation: Generation(7),
            sequence: 42,
            path_id: PathId(2),
            msg_type: MessageType::Heartbeat,
            key_index: 1,
            auth_len: 4,
            payload: &[0, 0, 0, 0, 0, 0, 0, 9],
        }
    }

    #[test]
    fn emit_then_parse_round_trips() {
        let repr = sample();
        let bytes = repr.to_vec();
        assert_eq!(bytes.len(), repr.buffer_len());
        assert_eq!(&bytes[..4], &[b'I', b'B', 1, 1]);
        let packet = Packet::new_checked(&bytes[..]).unwrap();
        assert_eq!(Repr::parse(&packet).unwrap(), repr);
        assert_eq!(packet.auth_tag(), &[0, 0, 0, 0]);
        assert_eq!(packet.signed_bytes().len(), bytes.len() - 4);
    }

    #[test]
    fn every_truncation_and_extension_is_an_error() {
        let bytes = sample().to_vec();
        for len in 0..bytes.len() {
            assert!(Packet::new_checked(&bytes[..len]).is_err(), "len {len}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(Packet::new_checked(&longer[..]).is_err());
    }

    #[test]
    fn parse_rejects_bad_fields() {
        let good = sample().to_vec();
        let cases: [(usize, u8); 5] = [(0, b'X'), (2, 9), (34, 1), (31, 0), (7, 0)];
        for (at, value) in cases {
            let mut b = good.clone();
            b[at] = value;
            if at == 31 {
                b[24..32].fill(0);
            }
            let ok = Packet::new_checked(&b[..]).and_then(|p| Repr::parse(&p).map(|_| ()));
            assert!(ok.is_err(), "byte {at} = {value}");
        }
    }

    #[test]
    fn unknown_message_types_are_kept() {
        let mut b = sample().to_vec();
        b[3] = 0x7f;
        let packet = Packet::new_checked(&b[..]).unwrap();
        assert_eq!(
            Repr::parse(&packet).unwrap().msg_type,
            MessageType::Unknown(0x7f)
        );
    }

    #[test]
    fn payload_codecs_round_trip_and_reject() {
        use payload::*;
        let hb = Heartbeat { channel_high: 5 };
        assert_eq!(Heartbeat::parse(&hb.to_bytes()).unwrap(), hb);
        assert!(Heartbeat::parse(&[0; 7]).is_err());
        let d = Data {
            channel_seq: 3,
            dest: Some(NodeId(9)),
        };
        let bytes = d.to_bytes(b"hello");
        assert_eq!(Data::parse(&bytes).unwrap(), (d, &b"hello"[..]));
        assert!(Data::parse(&bytes[..11]).is_err());
        let r = RetransmitRequest {
            origin: NodeId(1),
            first: 2,
            last: 4,
        };
        assert_eq!(RetransmitRequest::parse(&r.to_bytes()).unwrap(), r);
        let bad = RetransmitRequest {
            first: 5,
            last: 4,
            ..r
        };
        assert!(RetransmitRequest::parse(&bad.to_bytes()).is_err());
        let a = Ack {
            origin: NodeId(1),
            cumulative: 8,
        };
        assert_eq!(Ack::parse(&a.to_bytes()).unwrap(), a);
    }
}
