//! ICMP and ICMPv6 echo (RFC 792, RFC 4443 §4): what heartbeat's `ping`,
//! `ping6` and `ping_group` nodes are probed with.
//!
//! ```text
//!  0      1      2          4            6            8
//!  +------+------+----------+------------+------------+------------------+
//!  | type | code | checksum | identifier | sequence   | payload …        |
//!  +------+------+----------+------------+------------+------------------+
//! ```
//!
//! Echo request is type 8 (ICMP) or 128 (ICMPv6), reply 0 or 129. The ICMP
//! checksum is ours to compute; the kernel computes ICMPv6's (it covers a
//! pseudo-header with addresses only the kernel knows for sure). A raw ICMP
//! socket delivers the IPv4 header in front of the message
//! ([`strip_ipv4_header`]); a raw ICMPv6 socket does not.
//!
//! Panic contract: [`parse_echo_reply`] and [`strip_ipv4_header`] never
//! panic on any input.

/// ICMP echo request type.
pub const ECHO_REQUEST_V4: u8 = 8;
/// ICMP echo reply type.
pub const ECHO_REPLY_V4: u8 = 0;
/// ICMPv6 echo request type.
pub const ECHO_REQUEST_V6: u8 = 128;
/// ICMPv6 echo reply type.
pub const ECHO_REPLY_V6: u8 = 129;
/// Length of the echo header (type, code, checksum, identifier, sequence).
pub const HEADER_LEN: usize = 8;

/// A received echo reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EchoReply<'a> {
    /// The identifier the request carried.
    pub ident: u16,
    /// The sequence number the request carried.
    pub seq: u16,
    /// The payload, echoed.
    pub payload: &'a [u8],
}

/// An echo request with `payload`, ready for a raw socket of the family.
pub fn echo_request(ipv6: bool, ident: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(HEADER_LEN + payload.len());
    message.push(if ipv6 {
        ECHO_REQUEST_V6
    } else {
        ECHO_REQUEST_V4
    });
    message.push(0);
    message.extend_from_slice(&[0, 0]);
    message.extend_from_slice(&ident.to_be_bytes());
    message.extend_from_slice(&seq.to_be_bytes());
    message.extend_from_slice(payload);
    if !ipv6 {
        let sum = checksum(&message);
        message[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    message
}

/// The echo reply in `message` (an ICMP message without IP header), if it is
/// one. ICMP replies with a wrong checksum are rejected; ICMPv6 checksums
/// were verified by the kernel.
pub fn parse_echo_reply(ipv6: bool, message: &[u8]) -> Option<EchoReply<'_>> {
    let header = message.get(..HEADER_LEN)?;
    let expected = if ipv6 { ECHO_REPLY_V6 } else { ECHO_REPLY_V4 };
    if header[0] != expected || header[1] != 0 {
        return None;
    }
    if !ipv6 && checksum(message) != 0 {
        return None;
    }
    Some(EchoReply {
        ident: u16::from_be_bytes([header[4], header[5]]),
        seq: u16::from_be_bytes([header[6], header[7]]),
        payload: &message[HEADER_LEN..],
    })
}

/// The ICMP message inside an IPv4 datagram as a raw ICMP socket delivers
/// it (header length from IHL; total length trims padding).
pub fn strip_ipv4_header(datagram: &[u8]) -> Option<&[u8]> {
    let first = *datagram.first()?;
    if first >> 4 != 4 {
        return None;
    }
    let header_len = usize::from(first & 0x0f) * 4;
    if header_len < 20 {
        return None;
    }
    let total = usize::from(u16::from_be_bytes([*datagram.get(2)?, *datagram.get(3)?]));
    let end = total.min(datagram.len());
    datagram.get(header_len..end)
}

/// The Internet checksum (RFC 1071) of `bytes`: 0 over a message that
/// carries its correct checksum.
pub fn checksum(bytes: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    let mut chunks = bytes.chunks_exact(2);
    for pair in &mut chunks {
        sum += u32::from(u16::from_be_bytes([pair[0], pair[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u32::from(*last) << 8;
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    // After folding, `sum` fits 16 bits.
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An echo reply from the Linux kernel to `ping -c1 -p 41 -s 8 127.0.0.1`
    /// (iputils 20221126) as a raw ICMP socket delivered it (IPv4 header
    /// included), captured on this project's lab VM.
    const KERNEL_REPLY: [u8; 36] = [
        0x45, 0x00, 0x00, 0x24, 0xcc, 0xc9, 0x00, 0x00, 0x40, 0x01, 0xb0, 0x0d, 0x7f, 0x00, 0x00,
        0x01, 0x7f, 0x00, 0x00, 0x01, 0x00, 0x00, 0xa0, 0xa7, 0x5a, 0x53, 0x00, 0x00, 0x41, 0x41,
        0x41, 0x41, 0x41, 0x41, 0x41, 0x41,
    ];

    #[test]
    fn a_kernel_reply_parses() {
        let message = strip_ipv4_header(&KERNEL_REPLY).expect("ipv4 header");
        assert_eq!(checksum(message), 0);
        let reply = parse_echo_reply(false, message).expect("echo reply");
        assert_eq!(reply.ident, 0x5a53);
        assert_eq!(reply.seq, 0);
        assert_eq!(reply.payload, b"AAAAAAAA");
    }

    #[test]
    fn requests_carry_a_valid_checksum() {
        let request = echo_request(false, 0x1234, 9, b"hello");
        assert_eq!(request[0], ECHO_REQUEST_V4);
        assert_eq!(checksum(&request), 0);
        // A request is not a reply.
        assert_eq!(parse_echo_reply(false, &request), None);
        let v6 = echo_request(true, 1, 2, b"x");
        assert_eq!(v6[0], ECHO_REQUEST_V6);
        assert_eq!(&v6[2..4], &[0, 0]);
    }

    #[test]
    fn a_corrupted_reply_is_rejected() {
        let mut datagram = KERNEL_REPLY;
        datagram[30] ^= 1;
        let message = strip_ipv4_header(&datagram).expect("ipv4 header");
        assert_eq!(parse_echo_reply(false, message), None);
    }

    #[test]
    fn hostile_input_never_panics() {
        let mut state = 0x9e37_79b9_u32;
        for len in 0..80 {
            for _ in 0..200 {
                let bytes: Vec<u8> = (0..len)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 17;
                        state ^= state << 5;
                        state as u8
                    })
                    .collect();
                let _ = strip_ipv4_header(&bytes);
                let _ = parse_echo_reply(false, &bytes);
                let _ = parse_echo_reply(true, &bytes);
            }
        }
        assert_eq!(strip_ipv4_header(&[0x4f]), None);
        assert_eq!(strip_ipv4_header(&[0x41, 0, 0, 20]), None);
    }
}
