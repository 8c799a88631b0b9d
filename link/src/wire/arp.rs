//! Ethernet II + ARP (RFC 826) for IPv4 over Ethernet, and gratuitous ARP.
//!
//! ```text
//!  0            6            12     14     16     18  19  20     22
//!  +------------+------------+------+------+------+---+---+------+
//!  | dst MAC    | src MAC    | 0806 | htype| ptype|hln|pln| oper |
//!  +------------+------------+------+------+------+---+---+------+
//!  22           28           32           38           42
//!  +------------+------------+------------+------------+
//!  | sender MAC | sender IP  | target MAC | target IP  |
//!  +------------+------------+------------+------------+
//! ```
//!
//! A gratuitous ARP announces that an IPv4 address now lives at a MAC address.
//! heartbeat's `send_arp` (IPaddr2) sends it in two forms, both to
//! `ff:ff:ff:ff:ff:ff` with sender IP = target IP = the address: a request with
//! target MAC `00:00:00:00:00:00` and a reply with target MAC = own MAC.
//! [`gratuitous`] builds both, byte-identical to `send_arp`'s 42-byte frames
//! (the NIC pads them to the 60-byte Ethernet minimum).
//!
//! Panic contract: [`Packet::new_checked`] validates the length; after it no
//! accessor or setter panics. [`Repr::parse`] never panics on any input;
//! [`Repr::emit`] never panics (it writes nothing into a buffer shorter than
//! [`Repr::buffer_len`]).

use std::fmt;
use std::net::Ipv4Addr;
use std::str::FromStr;

use crate::Error;

/// EtherType of ARP.
pub const ETHERTYPE_ARP: u16 = 0x0806;
/// ARP hardware type of Ethernet.
pub const HARDWARE_ETHERNET: u16 = 0x0001;
/// ARP protocol type of IPv4 (its EtherType).
pub const PROTOCOL_IPV4: u16 = 0x0800;
/// Length of the Ethernet II header.
pub const ETHERNET_HEADER_LEN: usize = 14;
/// Length of an Ethernet + ARP frame for IPv4 (without padding).
pub const FRAME_LEN: usize = field::TARGET_IP.end;

mod field {
    use std::ops::Range;

    pub const DESTINATION: Range<usize> = 0..6;
    pub const SOURCE: Range<usize> = 6..12;
    pub const ETHERTYPE: Range<usize> = 12..14;
    pub const HARDWARE_TYPE: Range<usize> = 14..16;
    pub const PROTOCOL_TYPE: Range<usize> = 16..18;
    pub const HARDWARE_LEN: usize = 18;
    pub const PROTOCOL_LEN: usize = 19;
    pub const OPERATION: Range<usize> = 20..22;
    pub const SENDER_MAC: Range<usize> = 22..28;
    pub const SENDER_IP: Range<usize> = 28..32;
    pub const TARGET_MAC: Range<usize> = 32..38;
    pub const TARGET_IP: Range<usize> = 38..42;
}

/// A 48-bit Ethernet (MAC) address.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct MacAddr(pub [u8; 6]);

impl MacAddr {
    /// `ff:ff:ff:ff:ff:ff`.
    pub const BROADCAST: MacAddr = MacAddr([0xff; 6]);
    /// `00:00:00:00:00:00` (the "unknown" target of an ARP request).
    pub const ZERO: MacAddr = MacAddr([0; 6]);

    /// The six bytes.
    pub fn octets(&self) -> [u8; 6] {
        self.0
    }
    /// True for `ff:ff:ff:ff:ff:ff`.
    pub fn is_broadcast(&self) -> bool {
        *self == Self::BROADCAST
    }
    /// True when the group bit is set (broadcast included).
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0
    }
    /// True for an address one interface can own (not group, not all-zero).
    pub fn is_unicast(&self) -> bool {
        !self.is_multicast() && *self != Self::ZERO
    }
    fn from_slice(b: &[u8]) -> Self {
        let mut a = [0u8; 6];
        a.copy_from_slice(b);
        MacAddr(a)
    }
}

impl fmt::Display for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

impl fmt::Debug for MacAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for MacAddr {
    type Err = Error;

    /// Parses six hex bytes separated by `:` or `-` (`02:00:c6:12:04:01`).
    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = || {
            Error::config(format!(
                "invalid MAC address {s:?}: write six hex bytes separated by ':', like 02:00:c6:12:04:01"
            ))
        };
        let separator = if s.contains('-') { '-' } else { ':' };
        let mut out = [0u8; 6];
        let mut parts = s.split(separator);
        for byte in out.iter_mut() {
            let part = parts.next().ok_or_else(bad)?;
            if part.is_empty() || part.len() > 2 || !part.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad());
            }
            *byte = u8::from_str_radix(part, 16).map_err(|_| bad())?;
        }
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(MacAddr(out))
    }
}

/// The ARP operation code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// 1: "who has target IP? tell sender".
    Request,
    /// 2: "sender IP is at sender MAC".
    Reply,
    /// Any other code (RARP, InARP, …), kept for logs.
    Unknown(u16),
}

impl From<u16> for Operation {
    fn from(raw: u16) -> Self {
        match raw {
            0x0001 => Operation::Request,
            0x0002 => Operation::Reply,
            other => Operation::Unknown(other),
        }
    }
}

impl From<Operation> for u16 {
    fn from(op: Operation) -> u16 {
        match op {
            Operation::Request => 0x0001,
            Operation::Reply => 0x0002,
            Operation::Unknown(raw) => raw,
        }
    }
}

/// A read/write view of an Ethernet + ARP frame in a buffer.
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

    /// Wraps a buffer and checks that it holds a whole IPv4-over-Ethernet ARP frame.
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Checks that the buffer holds at least [`FRAME_LEN`] bytes (trailing
    /// Ethernet padding is allowed and ignored).
    pub fn check_len(&self) -> Result<(), Error> {
        let len = self.buffer.as_ref().len();
        if len < FRAME_LEN {
            return Err(Error::invalid_message(format!(
                "ARP frame truncated: {len} bytes, Ethernet + ARP for IPv4 needs {FRAME_LEN}"
            )));
        }
        Ok(())
    }

    /// Consumes the view, returning the buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn be_u16(&self, range: std::ops::Range<usize>) -> u16 {
        let b = &self.buffer.as_ref()[range];
        u16::from_be_bytes([b[0], b[1]])
    }
    fn mac(&self, range: std::ops::Range<usize>) -> MacAddr {
        MacAddr::from_slice(&self.buffer.as_ref()[range])
    }
    fn ipv4(&self, range: std::ops::Range<usize>) -> Ipv4Addr {
        let b = &self.buffer.as_ref()[range];
        Ipv4Addr::new(b[0], b[1], b[2], b[3])
    }

    /// Ethernet destination.
    pub fn destination(&self) -> MacAddr {
        self.mac(field::DESTINATION)
    }
    /// Ethernet source.
    pub fn source(&self) -> MacAddr {
        self.mac(field::SOURCE)
    }
    /// EtherType (should be [`ETHERTYPE_ARP`]).
    pub fn ethertype(&self) -> u16 {
        self.be_u16(field::ETHERTYPE)
    }
    /// ARP hardware type (should be [`HARDWARE_ETHERNET`]).
    pub fn hardware_type(&self) -> u16 {
        self.be_u16(field::HARDWARE_TYPE)
    }
    /// ARP protocol type (should be [`PROTOCOL_IPV4`]).
    pub fn protocol_type(&self) -> u16 {
        self.be_u16(field::PROTOCOL_TYPE)
    }
    /// Hardware address length (should be 6).
    pub fn hardware_len(&self) -> u8 {
        self.buffer.as_ref()[field::HARDWARE_LEN]
    }
    /// Protocol address length (should be 4).
    pub fn protocol_len(&self) -> u8 {
        self.buffer.as_ref()[field::PROTOCOL_LEN]
    }
    /// Operation code.
    pub fn operation(&self) -> Operation {
        Operation::from(self.be_u16(field::OPERATION))
    }
    /// Sender hardware address.
    pub fn sender_hardware_addr(&self) -> MacAddr {
        self.mac(field::SENDER_MAC)
    }
    /// Sender protocol address.
    pub fn sender_protocol_addr(&self) -> Ipv4Addr {
        self.ipv4(field::SENDER_IP)
    }
    /// Target hardware address.
    pub fn target_hardware_addr(&self) -> MacAddr {
        self.mac(field::TARGET_MAC)
    }
    /// Target protocol address.
    pub fn target_protocol_addr(&self) -> Ipv4Addr {
        self.ipv4(field::TARGET_IP)
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn put(&mut self, range: std::ops::Range<usize>, bytes: &[u8]) {
        self.buffer.as_mut()[range].copy_from_slice(bytes);
    }

    /// Sets the Ethernet destination.
    pub fn set_destination(&mut self, mac: MacAddr) {
        self.put(field::DESTINATION, &mac.0);
    }
    /// Sets the Ethernet source.
    pub fn set_source(&mut self, mac: MacAddr) {
        self.put(field::SOURCE, &mac.0);
    }
    /// Sets the EtherType.
    pub fn set_ethertype(&mut self, ethertype: u16) {
        self.put(field::ETHERTYPE, &ethertype.to_be_bytes());
    }
    /// Sets the ARP hardware type.
    pub fn set_hardware_type(&mut self, value: u16) {
        self.put(field::HARDWARE_TYPE, &value.to_be_bytes());
    }
    /// Sets the ARP protocol type.
    pub fn set_protocol_type(&mut self, value: u16) {
        self.put(field::PROTOCOL_TYPE, &value.to_be_bytes());
    }
    /// Sets the hardware address length.
    pub fn set_hardware_len(&mut self, value: u8) {
        self.buffer.as_mut()[field::HARDWARE_LEN] = value;
    }
    /// Sets the protocol address length.
    pub fn set_protocol_len(&mut self, value: u8) {
        self.buffer.as_mut()[field::PROTOCOL_LEN] = value;
    }
    /// Sets the operation code.
    pub fn set_operation(&mut self, op: Operation) {
        self.put(field::OPERATION, &u16::from(op).to_be_bytes());
    }
    /// Sets the sender hardware address.
    pub fn set_sender_hardware_addr(&mut self, mac: MacAddr) {
        self.put(field::SENDER_MAC, &mac.0);
    }
    /// Sets the sender protocol address.
    pub fn set_sender_protocol_addr(&mut self, ip: Ipv4Addr) {
        self.put(field::SENDER_IP, &ip.octets());
    }
    /// Sets the target hardware address.
    pub fn set_target_hardware_addr(&mut self, mac: MacAddr) {
        self.put(field::TARGET_MAC, &mac.0);
    }
    /// Sets the target protocol address.
    pub fn set_target_protocol_addr(&mut self, ip: Ipv4Addr) {
        self.put(field::TARGET_IP, &ip.octets());
    }
}

/// An IPv4-over-Ethernet ARP frame, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Repr {
    /// Ethernet destination (broadcast for gratuitous ARP).
    pub destination: MacAddr,
    /// Ethernet source.
    pub source: MacAddr,
    /// Operation code.
    pub operation: Operation,
    /// Sender hardware address.
    pub sender_hardware_addr: MacAddr,
    /// Sender protocol address.
    pub sender_protocol_addr: Ipv4Addr,
    /// Target hardware address.
    pub target_hardware_addr: MacAddr,
    /// Target protocol address.
    pub target_protocol_addr: Ipv4Addr,
}

/// A gratuitous ARP announcing that `ip` is at `mac`, as heartbeat's `send_arp`
/// sends it: to broadcast, sender IP = target IP = `ip`. [`Operation::Reply`]
/// gives the reply form (target MAC = `mac`); any other operation gives the
/// request form (target MAC `00:00:00:00:00:00`) with that operation code.
pub fn gratuitous(mac: MacAddr, ip: Ipv4Addr, operation: Operation) -> Repr {
    let target_hardware_addr = match operation {
        Operation::Reply => mac,
        Operation::Request | Operation::Unknown(_) => MacAddr::ZERO,
    };
    Repr {
        destination: MacAddr::BROADCAST,
        source: mac,
        operation,
        sender_hardware_addr: mac,
        sender_protocol_addr: ip,
        target_hardware_addr,
        target_protocol_addr: ip,
    }
}

impl Repr {
    /// Parses a frame; rejects other EtherTypes and anything but Ethernet/IPv4
    /// address types and lengths. Unknown operation codes are kept.
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Self, Error> {
        packet.check_len()?;
        if packet.ethertype() != ETHERTYPE_ARP {
            return Err(Error::invalid_message(format!(
                "EtherType {:#06x} is not ARP ({ETHERTYPE_ARP:#06x})",
                packet.ethertype()
            )));
        }
        if packet.hardware_type() != HARDWARE_ETHERNET
            || packet.protocol_type() != PROTOCOL_IPV4
            || packet.hardware_len() != 6
            || packet.protocol_len() != 4
        {
            return Err(Error::invalid_message(format!(
                "ARP for hardware type {:#06x} / protocol {:#06x} (lengths {}/{}) is not supported; \
                 only Ethernet/IPv4 is",
                packet.hardware_type(),
                packet.protocol_type(),
                packet.hardware_len(),
                packet.protocol_len()
            )));
        }
        Ok(Repr {
            destination: packet.destination(),
            source: packet.source(),
            operation: packet.operation(),
            sender_hardware_addr: packet.sender_hardware_addr(),
            sender_protocol_addr: packet.sender_protocol_addr(),
            target_hardware_addr: packet.target_hardware_addr(),
            target_protocol_addr: packet.target_protocol_addr(),
        })
    }

    /// Frame length: [`FRAME_LEN`] (42).
    pub fn buffer_len(&self) -> usize {
        FRAME_LEN
    }

    /// True when the frame announces its sender's own address (sender IP =
    /// target IP), whichever form it takes.
    pub fn is_gratuitous(&self) -> bool {
        self.sender_protocol_addr == self.target_protocol_addr
    }

    /// Writes the frame into the first [`buffer_len`](Self::buffer_len) bytes of
    /// `packet`; a shorter buffer is left untouched.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        if packet.buffer.as_ref().len() < FRAME_LEN {
            return;
        }
        packet.set_destination(self.destination);
        packet.set_source(self.source);
        packet.set_ethertype(ETHERTYPE_ARP);
        packet.set_hardware_type(HARDWARE_ETHERNET);
        packet.set_protocol_type(PROTOCOL_IPV4);
        packet.set_hardware_len(6);
        packet.set_protocol_len(4);
        packet.set_operation(self.operation);
        packet.set_sender_hardware_addr(self.sender_hardware_addr);
        packet.set_sender_protocol_addr(self.sender_protocol_addr);
        packet.set_target_hardware_addr(self.target_hardware_addr);
        packet.set_target_protocol_addr(self.target_protocol_addr);
    }

    /// Emits into a new vector of [`FRAME_LEN`] bytes.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut buf = vec![0u8; FRAME_LEN];
        self.emit(&mut Packet::new_unchecked(&mut buf[..]));
        buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Captured from a real peer: heartbeat 3.0.6's IPaddr2 running
    // `send_arp -i 200 -r 5` on node1 (02:00:c6:12:04:01) for VIP 198.18.4.100,
    // shared/lab/heartbeat/pcap/hb-failover-tight-kill9.pcap frames 310 (request)
    // and 313 (reply); extracted with
    // `tcpdump -r hb-failover-tight-kill9.pcap -nn -e -xx arp`.
    const HEARTBEAT_GARP_REQUEST: [u8; 42] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0xc6, 0x12, 0x04, 0x01, 0x08, 0x06, 0x00,
        0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x00, 0xc6, 0x12, 0x04, 0x01, 0xc6, 0x12,
        0x04, 0x64, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc6, 0x12, 0x04, 0x64,
    ];
    const HEARTBEAT_GARP_REPLY: [u8; 42] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0xc6, 0x12, 0x04, 0x01, 0x08, 0x06, 0x00,
        0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02, 0x02, 0x00, 0xc6, 0x12, 0x04, 0x01, 0xc6, 0x12,
        0x04, 0x64, 0x02, 0x00, 0xc6, 0x12, 0x04, 0x01, 0xc6, 0x12, 0x04, 0x64,
    ];
    // Same pcap, frames 1-2: the Linux kernel resolving 198.18.4.2 and the
    // peer kernel's unicast reply (ordinary, not gratuitous).
    const KERNEL_REQUEST: [u8; 42] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0xc6, 0x12, 0x04, 0x01, 0x08, 0x06, 0x00,
        0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x00, 0xc6, 0x12, 0x04, 0x01, 0xc6, 0x12,
        0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc6, 0x12, 0x04, 0x02,
    ];
    const KERNEL_REPLY: [u8; 42] = [
        0x02, 0x00, 0xc6, 0x12, 0x04, 0x01, 0x02, 0x00, 0xc6, 0x12, 0x04, 0x02, 0x08, 0x06, 0x00,
        0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02, 0x02, 0x00, 0xc6, 0x12, 0x04, 0x02, 0xc6, 0x12,
        0x04, 0x02, 0x02, 0x00, 0xc6, 0x12, 0x04, 0x01, 0xc6, 0x12, 0x04, 0x01,
    ];
    // arping 2.23 (Debian package arping) in a network namespace of our own,
    // captured on the far end of a veth pair:
    //   ip netns add ibt-ndp-$$; ip -n … link add ibt0 type veth peer name ibt1
    //   ip -n … link set ibt0 address 02:00:c6:12:00:01; … addr add 198.18.0.1/24 dev ibt0
    //   ip netns exec … tcpdump -i ibt1 -U -w k.pcap 'arp or icmp6' &
    //   ip netns exec … arping -U -c 1 -i ibt0 -S 198.18.0.1 198.18.0.1      (request)
    //   ip netns exec … arping -U -P -c 1 -i ibt0 -S 198.18.0.1 198.18.0.1   (reply)
    // arping fills the target MAC with ff:ff:ff:ff:ff:ff in both forms and pads
    // the frame to 58 bytes itself.
    const ARPING_U_REQUEST: [u8; 58] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0xc6, 0x12, 0x00, 0x01, 0x08, 0x06, 0x00,
        0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x00, 0xc6, 0x12, 0x00, 0x01, 0xc6, 0x12,
        0x00, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xc6, 0x12, 0x00, 0x01, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    const ARPING_UP_REPLY: [u8; 58] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0xc6, 0x12, 0x00, 0x01, 0x08, 0x06, 0x00,
        0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02, 0x02, 0x00, 0xc6, 0x12, 0x00, 0x01, 0xc6, 0x12,
        0x00, 0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xc6, 0x12, 0x00, 0x01, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    // The local send_arp (resource-agents 4.12, /usr/libexec/heartbeat/send_arp)
    // in the same namespace:
    //   ip netns exec … /usr/libexec/heartbeat/send_arp -i 200 -r 2 ibt0 198.18.0.1 auto not_used not_used
    const SEND_ARP_REQUEST: [u8; 42] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0xc6, 0x12, 0x00, 0x01, 0x08, 0x06, 0x00,
        0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x00, 0xc6, 0x12, 0x00, 0x01, 0xc6, 0x12,
        0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc6, 0x12, 0x00, 0x01,
    ];
    const SEND_ARP_REPLY: [u8; 42] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0xc6, 0x12, 0x00, 0x01, 0x08, 0x06, 0x00,
        0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02, 0x02, 0x00, 0xc6, 0x12, 0x00, 0x01, 0xc6, 0x12,
        0x00, 0x01, 0x02, 0x00, 0xc6, 0x12, 0x00, 0x01, 0xc6, 0x12, 0x00, 0x01,
    ];

    const NODE1: MacAddr = MacAddr([0x02, 0x00, 0xc6, 0x12, 0x04, 0x01]);
    const VIP: Ipv4Addr = Ipv4Addr::new(198, 18, 4, 100);

    fn parse(bytes: &[u8]) -> Repr {
        Repr::parse(&Packet::new_checked(bytes).unwrap()).unwrap()
    }

    #[test]
    fn deconstructs_heartbeat_request() {
        let packet = Packet::new_checked(&HEARTBEAT_GARP_REQUEST[..]).unwrap();
        assert_eq!(packet.destination(), MacAddr::BROADCAST);
        assert_eq!(packet.source(), NODE1);
        assert_eq!(packet.ethertype(), ETHERTYPE_ARP);
        assert_eq!(packet.hardware_type(), 1);
        assert_eq!(packet.protocol_type(), 0x0800);
        assert_eq!((packet.hardware_len(), packet.protocol_len()), (6, 4));
        assert_eq!(packet.operation(), Operation::Request);
        assert_eq!(packet.sender_hardware_addr(), NODE1);
        assert_eq!(packet.sender_protocol_addr(), VIP);
        assert_eq!(packet.target_hardware_addr(), MacAddr::ZERO);
        assert_eq!(packet.target_protocol_addr(), VIP);
        assert!(parse(&HEARTBEAT_GARP_REQUEST).is_gratuitous());
    }

    #[test]
    fn builder_matches_heartbeat_send_arp_byte_for_byte() {
        let request = gratuitous(NODE1, VIP, Operation::Request);
        let reply = gratuitous(NODE1, VIP, Operation::Reply);
        assert_eq!(parse(&HEARTBEAT_GARP_REQUEST), request);
        assert_eq!(parse(&HEARTBEAT_GARP_REPLY), reply);
        assert_eq!(request.to_vec(), HEARTBEAT_GARP_REQUEST);
        assert_eq!(reply.to_vec(), HEARTBEAT_GARP_REPLY);

        let mac: MacAddr = "02:00:c6:12:00:01".parse().unwrap();
        let ip = Ipv4Addr::new(198, 18, 0, 1);
        assert_eq!(
            gratuitous(mac, ip, Operation::Request).to_vec(),
            SEND_ARP_REQUEST
        );
        assert_eq!(
            gratuitous(mac, ip, Operation::Reply).to_vec(),
            SEND_ARP_REPLY
        );
    }

    #[test]
    fn parses_ordinary_kernel_request_and_reply() {
        let request = parse(&KERNEL_REQUEST);
        assert_eq!(request.operation, Operation::Request);
        assert_eq!(request.sender_protocol_addr, Ipv4Addr::new(198, 18, 4, 1));
        assert_eq!(request.target_protocol_addr, Ipv4Addr::new(198, 18, 4, 2));
        assert!(!request.is_gratuitous());
        let reply = parse(&KERNEL_REPLY);
        assert_eq!(reply.destination, NODE1);
        assert_eq!(reply.target_hardware_addr, NODE1);
        assert_eq!(reply.operation, Operation::Reply);
        assert_eq!(reply.to_vec(), KERNEL_REPLY);
        assert_eq!(request.to_vec(), KERNEL_REQUEST);
    }

    #[test]
    fn parses_padded_arping_frames() {
        let mac: MacAddr = "02:00:c6:12:00:01".parse().unwrap();
        let ip = Ipv4Addr::new(198, 18, 0, 1);
        for (bytes, op) in [
            (&ARPING_U_REQUEST, Operation::Request),
            (&ARPING_UP_REPLY, Operation::Reply),
        ] {
            let repr = parse(bytes);
            assert_eq!(repr.operation, op);
            assert!(repr.is_gratuitous());
            assert_eq!(repr.sender_hardware_addr, mac);
            assert_eq!(repr.target_hardware_addr, MacAddr::BROADCAST);
            // The first 42 bytes are the frame; the rest is arping's padding.
            let ours = Repr {
                target_hardware_addr: MacAddr::BROADCAST,
                ..gratuitous(mac, ip, op)
            };
            assert_eq!(ours.to_vec(), bytes[..FRAME_LEN]);
        }
    }

    #[test]
    fn rejects_truncation_and_foreign_types() {
        for len in 0..FRAME_LEN {
            assert!(Packet::new_checked(&HEARTBEAT_GARP_REQUEST[..len]).is_err());
        }
        let cases = [(12, 0x86), (15, 6), (17, 0xdd), (18, 8), (19, 16)];
        for (at, value) in cases {
            let mut b = HEARTBEAT_GARP_REQUEST;
            b[at] = value;
            assert!(
                Repr::parse(&Packet::new_unchecked(&b[..])).is_err(),
                "byte {at}"
            );
        }
        let mut b = HEARTBEAT_GARP_REQUEST;
        b[21] = 3;
        assert_eq!(parse(&b).operation, Operation::Unknown(3));
        assert_eq!(parse(&b).to_vec(), b);
        // parse re-checks the length of an unchecked view.
        assert!(Repr::parse(&Packet::new_unchecked(&b[..41])).is_err());
    }

    #[test]
    fn setters_and_short_buffer_emit() {
        let mut buf = [0u8; FRAME_LEN];
        let mut packet = Packet::new_unchecked(&mut buf[..]);
        gratuitous(NODE1, VIP, Operation::Request).emit(&mut packet);
        packet.set_operation(Operation::Reply);
        packet.set_target_hardware_addr(NODE1);
        assert_eq!(packet.into_inner(), &HEARTBEAT_GARP_REPLY[..]);
        let mut short = [0u8; 10];
        gratuitous(NODE1, VIP, Operation::Reply).emit(&mut Packet::new_unchecked(&mut short[..]));
        assert_eq!(short, [0u8; 10]);
    }

    #[test]
    fn mac_addresses_parse_and_print() {
        let mac: MacAddr = "02:00:C6:12:04:01".parse().unwrap();
        assert_eq!(mac, NODE1);
        assert_eq!(mac.to_string(), "02:00:c6:12:04:01");
        assert_eq!("02-00-c6-12-04-01".parse::<MacAddr>().unwrap(), NODE1);
        assert_eq!("2:0:c6:12:4:1".parse::<MacAddr>().unwrap(), NODE1);
        for bad in [
            "",
            "02:00:c6:12:04",
            "02:00:c6:12:04:01:ff",
            "02:00:c6:12:04:zz",
            "002:00:c6:12:04:01",
            "02::c6:12:04:01",
            "+2:00:c6:12:04:01",
        ] {
            let err = bad.parse::<MacAddr>().unwrap_err();
            assert!(err.to_string().contains("invalid MAC"), "{bad}");
        }
        assert!(MacAddr::BROADCAST.is_broadcast() && MacAddr::BROADCAST.is_multicast());
        assert!(NODE1.is_unicast() && !MacAddr::ZERO.is_unicast());
        assert!(!MacAddr([0x33, 0x33, 0, 0, 0, 1]).is_unicast());
    }
}
