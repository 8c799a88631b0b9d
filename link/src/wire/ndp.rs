//! IPv6 Neighbor Discovery (RFC 4861) over Ethernet: the unsolicited neighbour
//! advertisement that moves an IPv6 address to a new MAC (§7.2.6), the IPv6
//! counterpart of gratuitous ARP.
//!
//! ```text
//!  0          6          12   14                                          54
//!  +----------+----------+----+-------------------------------------------+
//!  | dst MAC  | src MAC  |86dd| IPv6 header: ver 6, next header 58 (ICMPv6),|
//!  |          |          |    | hop limit 255, source, destination         |
//!  +----------+----------+----+-------------------------------------------+
//!  54    55    56      58  59        62                 78
//!  +-----+-----+--------+---+---------+------------------+---------------+
//!  |type |code |checksum|RSO| reserved| target address   | options (TLV) |
//!  +-----+-----+--------+---+---------+------------------+---------------+
//! ```
//!
//! An unsolicited advertisement goes from the address itself to all-nodes
//! `ff02::1` (MAC `33:33:00:00:00:01`) with Override=1, Solicited=0 and a target
//! link-layer address option carrying the new MAC — what the Linux kernel
//! (`ndisc_notify`) and resource-agents' `send_ua` (IPaddr2, IPv6addr) send.
//!
//! The view covers the messages that carry a target address (neighbour
//! solicitation and advertisement); [`Repr`] supports advertisements only.
//!
//! Panic contract: [`Packet::new_checked`] validates the lengths; after it no
//! accessor or setter panics. [`Repr::parse`] never panics on any input;
//! [`Repr::emit`] never panics (it writes nothing into a buffer shorter than
//! [`Repr::buffer_len`]).

use std::net::Ipv6Addr;

use crate::wire::arp::MacAddr;
use crate::Error;

/// EtherType of IPv6.
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
/// IPv6 next-header value of ICMPv6.
pub const NEXT_HEADER_ICMPV6: u8 = 58;
/// The hop limit every Neighbor Discovery message carries (RFC 4861 §7.1).
pub const HOP_LIMIT: u8 = 255;
/// All-nodes multicast address, destination of unsolicited advertisements.
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
/// Length of the ICMPv6 part of a solicitation or advertisement without options.
pub const MESSAGE_LEN: usize = 24;
/// Shortest frame the view accepts (Ethernet + IPv6 + message without options).
pub const MIN_FRAME_LEN: usize = field::ICMP_START + MESSAGE_LEN;
/// Length of an unsolicited advertisement with its target link-layer option.
pub const FRAME_LEN: usize = MIN_FRAME_LEN + 8;

mod field {
    use std::ops::Range;

    pub const DESTINATION: Range<usize> = 0..6;
    pub const SOURCE: Range<usize> = 6..12;
    pub const ETHERTYPE: Range<usize> = 12..14;
    pub const VERSION_CLASS_FLOW: Range<usize> = 14..18;
    pub const PAYLOAD_LEN: Range<usize> = 18..20;
    pub const NEXT_HEADER: usize = 20;
    pub const HOP_LIMIT: usize = 21;
    pub const SRC_ADDR: Range<usize> = 22..38;
    pub const DST_ADDR: Range<usize> = 38..54;
    pub const ICMP_START: usize = 54;
    pub const ICMP_TYPE: usize = 54;
    pub const ICMP_CODE: usize = 55;
    pub const CHECKSUM: Range<usize> = 56..58;
    pub const FLAGS: usize = 58;
    pub const RESERVED: Range<usize> = 59..62;
    pub const TARGET: Range<usize> = 62..78;
    pub const OPTIONS_START: usize = 78;
}

const FLAG_ROUTER: u8 = 0x80;
const FLAG_SOLICITED: u8 = 0x40;
const FLAG_OVERRIDE: u8 = 0x20;

/// ICMPv6 message types of Neighbor Discovery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IcmpType {
    /// 133.
    RouterSolicitation,
    /// 134.
    RouterAdvertisement,
    /// 135.
    NeighborSolicitation,
    /// 136.
    NeighborAdvertisement,
    /// 137.
    Redirect,
    /// Any other type, kept for logs.
    Unknown(u8),
}

impl From<u8> for IcmpType {
    fn from(raw: u8) -> Self {
        match raw {
            133 => IcmpType::RouterSolicitation,
            134 => IcmpType::RouterAdvertisement,
            135 => IcmpType::NeighborSolicitation,
            136 => IcmpType::NeighborAdvertisement,
            137 => IcmpType::Redirect,
            other => IcmpType::Unknown(other),
        }
    }
}

impl From<IcmpType> for u8 {
    fn from(t: IcmpType) -> u8 {
        match t {
            IcmpType::RouterSolicitation => 133,
            IcmpType::RouterAdvertisement => 134,
            IcmpType::NeighborSolicitation => 135,
            IcmpType::NeighborAdvertisement => 136,
            IcmpType::Redirect => 137,
            IcmpType::Unknown(raw) => raw,
        }
    }
}

/// Neighbor Discovery option types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OptionType {
    /// 1: the sender's link-layer address.
    SourceLinkLayerAddr,
    /// 2: the target's link-layer address.
    TargetLinkLayerAddr,
    /// 3: prefix information (router advertisements).
    PrefixInformation,
    /// 4: redirected header.
    RedirectedHeader,
    /// 5: link MTU.
    Mtu,
    /// 14: nonce (RFC 3971, sent with duplicate address detection).
    Nonce,
    /// Any other type; receivers skip it (RFC 4861 §4.6).
    Unknown(u8),
}

impl From<u8> for OptionType {
    fn from(raw: u8) -> Self {
        match raw {
            1 => OptionType::SourceLinkLayerAddr,
            2 => OptionType::TargetLinkLayerAddr,
            3 => OptionType::PrefixInformation,
            4 => OptionType::RedirectedHeader,
            5 => OptionType::Mtu,
            14 => OptionType::Nonce,
            other => OptionType::Unknown(other),
        }
    }
}

impl From<OptionType> for u8 {
    fn from(t: OptionType) -> u8 {
        match t {
            OptionType::SourceLinkLayerAddr => 1,
            OptionType::TargetLinkLayerAddr => 2,
            OptionType::PrefixInformation => 3,
            OptionType::RedirectedHeader => 4,
            OptionType::Mtu => 5,
            OptionType::Nonce => 14,
            OptionType::Unknown(raw) => raw,
        }
    }
}

/// One option: its type and the bytes after its type and length fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NdpOption<'a> {
    /// The option type.
    pub kind: OptionType,
    /// The option body (length × 8 − 2 bytes).
    pub data: &'a [u8],
}

/// Iterator over the options of a message; yields one error and stops at an
/// option of length 0 or one that runs past the message.
#[derive(Debug, Clone)]
pub struct Options<'a> {
    rest: &'a [u8],
    failed: bool,
}

impl<'a> Iterator for Options<'a> {
    type Item = Result<NdpOption<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.rest.is_empty() {
            return None;
        }
        let (kind, len) = match self.rest {
            [kind, len, ..] => (*kind, usize::from(*len) * 8),
            _ => (0, 0),
        };
        if len == 0 || len > self.rest.len() {
            self.failed = true;
            return Some(Err(Error::invalid_message(format!(
                "neighbor discovery option of {len} bytes with {} left in the message",
                self.rest.len()
            ))));
        }
        let (option, rest) = self.rest.split_at(len);
        self.rest = rest;
        Some(Ok(NdpOption {
            kind: OptionType::from(kind),
            data: &option[2..],
        }))
    }
}

/// A read/write view of an Ethernet + IPv6 + ICMPv6 neighbour solicitation or
/// advertisement in a buffer.
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

    /// Wraps a buffer and checks its lengths.
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Checks that the buffer holds the headers and a message of at least
    /// [`MESSAGE_LEN`] bytes, and that the IPv6 payload length fits the buffer
    /// (trailing Ethernet padding is allowed and ignored).
    pub fn check_len(&self) -> Result<(), Error> {
        let len = self.buffer.as_ref().len();
        if len < MIN_FRAME_LEN {
            return Err(Error::invalid_message(format!(
                "neighbor discovery frame truncated: {len} bytes, needs at least {MIN_FRAME_LEN}"
            )));
        }
        let payload = usize::from(self.payload_len());
        if payload < MESSAGE_LEN {
            return Err(Error::invalid_message(format!(
                "IPv6 payload of {payload} bytes is too short for a neighbor discovery message \
                 ({MESSAGE_LEN})"
            )));
        }
        if field::ICMP_START + payload > len {
            return Err(Error::invalid_message(format!(
                "IPv6 payload length {payload} runs past the {len}-byte frame"
            )));
        }
        Ok(())
    }

    /// Consumes the view, returning the buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn bytes(&self) -> &[u8] {
        self.buffer.as_ref()
    }
    fn be_u16(&self, range: std::ops::Range<usize>) -> u16 {
        let b = &self.bytes()[range];
        u16::from_be_bytes([b[0], b[1]])
    }
    fn mac(&self, range: std::ops::Range<usize>) -> MacAddr {
        let mut a = [0u8; 6];
        a.copy_from_slice(&self.bytes()[range]);
        MacAddr(a)
    }
    fn ipv6(&self, range: std::ops::Range<usize>) -> Ipv6Addr {
        let mut a = [0u8; 16];
        a.copy_from_slice(&self.bytes()[range]);
        Ipv6Addr::from(a)
    }
    fn version_class_flow(&self) -> u32 {
        let b = &self.bytes()[field::VERSION_CLASS_FLOW];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }

    /// Ethernet destination.
    pub fn destination(&self) -> MacAddr {
        self.mac(field::DESTINATION)
    }
    /// Ethernet source.
    pub fn source(&self) -> MacAddr {
        self.mac(field::SOURCE)
    }
    /// EtherType (should be [`ETHERTYPE_IPV6`]).
    pub fn ethertype(&self) -> u16 {
        self.be_u16(field::ETHERTYPE)
    }
    /// IP version (should be 6).
    pub fn ip_version(&self) -> u8 {
        (self.version_class_flow() >> 28) as u8
    }
    /// IPv6 traffic class.
    pub fn traffic_class(&self) -> u8 {
        (self.version_class_flow() >> 20) as u8
    }
    /// IPv6 flow label (20 bits).
    pub fn flow_label(&self) -> u32 {
        self.version_class_flow() & 0x000f_ffff
    }
    /// IPv6 payload length (the ICMPv6 message, options included).
    pub fn payload_len(&self) -> u16 {
        self.be_u16(field::PAYLOAD_LEN)
    }
    /// IPv6 next header (should be [`NEXT_HEADER_ICMPV6`]).
    pub fn next_header(&self) -> u8 {
        self.bytes()[field::NEXT_HEADER]
    }
    /// IPv6 hop limit (must be [`HOP_LIMIT`]).
    pub fn hop_limit(&self) -> u8 {
        self.bytes()[field::HOP_LIMIT]
    }
    /// IPv6 source address.
    pub fn src_addr(&self) -> Ipv6Addr {
        self.ipv6(field::SRC_ADDR)
    }
    /// IPv6 destination address.
    pub fn dst_addr(&self) -> Ipv6Addr {
        self.ipv6(field::DST_ADDR)
    }
    /// ICMPv6 type.
    pub fn icmp_type(&self) -> IcmpType {
        IcmpType::from(self.bytes()[field::ICMP_TYPE])
    }
    /// ICMPv6 code (0 for Neighbor Discovery).
    pub fn icmp_code(&self) -> u8 {
        self.bytes()[field::ICMP_CODE]
    }
    /// ICMPv6 checksum as carried.
    pub fn checksum(&self) -> u16 {
        self.be_u16(field::CHECKSUM)
    }
    /// Router flag (advertisements).
    pub fn router_flag(&self) -> bool {
        self.bytes()[field::FLAGS] & FLAG_ROUTER != 0
    }
    /// Solicited flag (advertisements).
    pub fn solicited_flag(&self) -> bool {
        self.bytes()[field::FLAGS] & FLAG_SOLICITED != 0
    }
    /// Override flag (advertisements).
    pub fn override_flag(&self) -> bool {
        self.bytes()[field::FLAGS] & FLAG_OVERRIDE != 0
    }
    /// The 29 reserved bits after the flags (zero when sent).
    pub fn reserved(&self) -> u32 {
        let b = self.bytes();
        let r = &b[field::RESERVED];
        u32::from_be_bytes([b[field::FLAGS] & 0x1f, r[0], r[1], r[2]])
    }
    /// Target address.
    pub fn target_addr(&self) -> Ipv6Addr {
        self.ipv6(field::TARGET)
    }
    /// The whole ICMPv6 message (what the checksum covers after the pseudo-header).
    pub fn icmp_message(&self) -> &[u8] {
        &self.bytes()[field::ICMP_START..field::ICMP_START + usize::from(self.payload_len())]
    }
    /// The options after the target address.
    pub fn options(&self) -> Options<'_> {
        Options {
            rest: &self.icmp_message()[MESSAGE_LEN..],
            failed: false,
        }
    }
    /// True when the ICMPv6 checksum over pseudo-header and message is right.
    pub fn verify_checksum(&self) -> bool {
        sum_pseudo_header_and(&self.src_addr(), &self.dst_addr(), self.icmp_message()) == 0xffff
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    /// Sets the IPv6 flow label (low 20 bits of `label`).
    pub fn set_flow_label(&mut self, label: u32) {
        let word = (self.version_class_flow() & 0xfff0_0000) | (label & 0x000f_ffff);
        self.buffer.as_mut()[field::VERSION_CLASS_FLOW].copy_from_slice(&word.to_be_bytes());
    }
    /// Sets the IPv6 hop limit.
    pub fn set_hop_limit(&mut self, hop_limit: u8) {
        self.buffer.as_mut()[field::HOP_LIMIT] = hop_limit;
    }
    /// Sets the Override flag.
    pub fn set_override_flag(&mut self, on: bool) {
        self.set_flag(FLAG_OVERRIDE, on);
    }
    /// Sets the Solicited flag.
    pub fn set_solicited_flag(&mut self, on: bool) {
        self.set_flag(FLAG_SOLICITED, on);
    }
    /// Sets the Router flag.
    pub fn set_router_flag(&mut self, on: bool) {
        self.set_flag(FLAG_ROUTER, on);
    }
    /// Recomputes the ICMPv6 checksum (after changing any covered field).
    pub fn fill_checksum(&mut self) {
        let buf = self.buffer.as_mut();
        buf[field::CHECKSUM].fill(0);
        let sum = {
            let view = Packet::new_unchecked(&*buf);
            sum_pseudo_header_and(&view.src_addr(), &view.dst_addr(), view.icmp_message())
        };
        buf[field::CHECKSUM].copy_from_slice(&(!sum).to_be_bytes());
    }
    fn set_flag(&mut self, flag: u8, on: bool) {
        let b = &mut self.buffer.as_mut()[field::FLAGS];
        if on {
            *b |= flag;
        } else {
            *b &= !flag;
        }
    }
}

/// One's-complement sum (folded, not inverted) of the ICMPv6 pseudo-header
/// and `message`.
fn sum_pseudo_header_and(src: &Ipv6Addr, dst: &Ipv6Addr, message: &[u8]) -> u16 {
    fn add(sum: &mut u64, bytes: &[u8]) {
        for pair in bytes.chunks(2) {
            let word = match pair {
                [hi, lo] => u16::from_be_bytes([*hi, *lo]),
                [hi] => u16::from(*hi) << 8,
                _ => 0,
            };
            *sum += u64::from(word);
        }
    }
    let mut sum = 0u64;
    add(&mut sum, &src.octets());
    add(&mut sum, &dst.octets());
    // A message longer than 4 GiB cannot exist; saturate rather than wrap.
    let len = u32::try_from(message.len()).unwrap_or(u32::MAX);
    add(&mut sum, &len.to_be_bytes());
    add(&mut sum, &[0, 0, 0, NEXT_HEADER_ICMPV6]);
    add(&mut sum, message);
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16 // folded to 16 bits above
}

/// The Ethernet multicast address an IPv6 multicast address maps to
/// (`33:33` + its last four bytes, RFC 2464 §7).
pub fn multicast_mac(addr: &Ipv6Addr) -> MacAddr {
    let o = addr.octets();
    MacAddr([0x33, 0x33, o[12], o[13], o[14], o[15]])
}

/// A neighbour advertisement, parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Repr {
    /// Ethernet destination.
    pub destination: MacAddr,
    /// Ethernet source.
    pub source: MacAddr,
    /// IPv6 source address.
    pub src_addr: Ipv6Addr,
    /// IPv6 destination address.
    pub dst_addr: Ipv6Addr,
    /// Router flag: the sender is a router.
    pub router_flag: bool,
    /// Solicited flag: an answer to a solicitation (0 when unsolicited).
    pub solicited_flag: bool,
    /// Override flag: replace cached link-layer addresses.
    pub override_flag: bool,
    /// The address being advertised.
    pub target_addr: Ipv6Addr,
    /// The target link-layer address option, when present.
    pub target_link_layer_addr: Option<MacAddr>,
}

/// An unsolicited neighbour advertisement announcing that `addr` is at `mac`
/// (RFC 4861 §7.2.6): from `addr` to all-nodes, Override=1, Solicited=0,
/// Router=0, with the target link-layer address option.
pub fn unsolicited(mac: MacAddr, addr: Ipv6Addr) -> Repr {
    Repr {
        destination: multicast_mac(&ALL_NODES),
        source: mac,
        src_addr: addr,
        dst_addr: ALL_NODES,
        router_flag: false,
        solicited_flag: false,
        override_flag: true,
        target_addr: addr,
        target_link_layer_addr: Some(mac),
    }
}

impl Repr {
    /// Parses an advertisement and validates it as RFC 4861 §7.1.2 requires:
    /// IPv6 without extension headers, hop limit 255, ICMPv6 type 136 code 0,
    /// a correct checksum, a unicast target, Solicited=0 towards a multicast
    /// destination, and well-formed options. Unknown options are skipped.
    pub fn parse<T: AsRef<[u8]>>(packet: &Packet<T>) -> Result<Self, Error> {
        packet.check_len()?;
        if packet.ethertype() != ETHERTYPE_IPV6 {
            return Err(Error::invalid_message(format!(
                "EtherType {:#06x} is not IPv6 ({ETHERTYPE_IPV6:#06x})",
                packet.ethertype()
            )));
        }
        if packet.ip_version() != 6 {
            return Err(Error::invalid_message(format!(
                "IP version {} in an IPv6 frame",
                packet.ip_version()
            )));
        }
        if packet.next_header() != NEXT_HEADER_ICMPV6 {
            return Err(Error::invalid_message(format!(
                "IPv6 next header {} is not ICMPv6 (extension headers are not supported)",
                packet.next_header()
            )));
        }
        if packet.hop_limit() != HOP_LIMIT {
            return Err(Error::invalid_message(format!(
                "neighbor discovery with hop limit {} (must be 255): it crossed a router",
                packet.hop_limit()
            )));
        }
        if packet.icmp_type() != IcmpType::NeighborAdvertisement {
            return Err(Error::invalid_message(format!(
                "ICMPv6 type {} ({:?}) is not a neighbor advertisement (136)",
                u8::from(packet.icmp_type()),
                packet.icmp_type()
            )));
        }
        if packet.icmp_code() != 0 {
            return Err(Error::invalid_message(format!(
                "neighbor advertisement with ICMPv6 code {} (must be 0)",
                packet.icmp_code()
            )));
        }
        if !packet.verify_checksum() {
            return Err(Error::invalid_message(format!(
                "neighbor advertisement checksum {:#06x} is wrong",
                packet.checksum()
            )));
        }
        let target_addr = packet.target_addr();
        if target_addr.is_multicast() {
            return Err(Error::invalid_message(format!(
                "neighbor advertisement for multicast target {target_addr}"
            )));
        }
        let dst_addr = packet.dst_addr();
        if dst_addr.is_multicast() && packet.solicited_flag() {
            return Err(Error::invalid_message(
                "solicited neighbor advertisement sent to a multicast address",
            ));
        }
        let mut target_link_layer_addr = None;
        for option in packet.options() {
            let option = option?;
            if option.kind == OptionType::TargetLinkLayerAddr {
                if option.data.len() != 6 {
                    return Err(Error::invalid_message(format!(
                        "target link-layer address option of {} bytes; Ethernet needs 6",
                        option.data.len()
                    )));
                }
                if target_link_layer_addr.is_none() {
                    let mut a = [0u8; 6];
                    a.copy_from_slice(option.data);
                    target_link_layer_addr = Some(MacAddr(a));
                }
            }
        }
        Ok(Repr {
            destination: packet.destination(),
            source: packet.source(),
            src_addr: packet.src_addr(),
            dst_addr,
            router_flag: packet.router_flag(),
            solicited_flag: packet.solicited_flag(),
            override_flag: packet.override_flag(),
            target_addr,
            target_link_layer_addr,
        })
    }

    /// Frame length: [`FRAME_LEN`] with the link-layer option, 8 less without.
    pub fn buffer_len(&self) -> usize {
        MIN_FRAME_LEN
            + if self.target_link_layer_addr.is_some() {
                8
            } else {
                0
            }
    }

    /// Writes the frame (traffic class and flow label 0, checksum filled) into
    /// the first [`buffer_len`](Self::buffer_len) bytes of `packet`; a shorter
    /// buffer is left untouched.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        let total = self.buffer_len();
        let buf = packet.buffer.as_mut();
        if buf.len() < total {
            return;
        }
        let payload_len = (total - field::ICMP_START) as u16; // 24 or 32
        buf[field::DESTINATION].copy_from_slice(&self.destination.0);
        buf[field::SOURCE].copy_from_slice(&self.source.0);
        buf[field::ETHERTYPE].copy_from_slice(&ETHERTYPE_IPV6.to_be_bytes());
        buf[field::VERSION_CLASS_FLOW].copy_from_slice(&[0x60, 0, 0, 0]);
        buf[field::PAYLOAD_LEN].copy_from_slice(&payload_len.to_be_bytes());
        buf[field::NEXT_HEADER] = NEXT_HEADER_ICMPV6;
        buf[field::HOP_LIMIT] = HOP_LIMIT;
        buf[field::SRC_ADDR].copy_from_slice(&self.src_addr.octets());
        buf[field::DST_ADDR].copy_from_slice(&self.dst_addr.octets());
        buf[field::ICMP_TYPE] = IcmpType::NeighborAdvertisement.into();
        buf[field::ICMP_CODE] = 0;
        let mut flags = 0;
        if self.router_flag {
            flags |= FLAG_ROUTER;
        }
        if self.solicited_flag {
            flags |= FLAG_SOLICITED;
        }
        if self.override_flag {
            flags |= FLAG_OVERRIDE;
        }
        buf[field::FLAGS] = flags;
        buf[field::RESERVED].fill(0);
        buf[field::TARGET].copy_from_slice(&self.target_addr.octets());
        if let Some(mac) = self.target_link_layer_addr {
            let at = field::OPTIONS_START;
            buf[at] = OptionType::TargetLinkLayerAddr.into();
            buf[at + 1] = 1; // in units of 8 bytes
            buf[at + 2..at + 8].copy_from_slice(&mac.0);
        }
        packet.fill_checksum();
    }

    /// Emits into a new vector of [`buffer_len`](Self::buffer_len) bytes.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut buf = vec![0u8; self.buffer_len()];
        self.emit(&mut Packet::new_unchecked(&mut buf[..]));
        buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Real peers, captured inside a network namespace of our own (removed
    // afterwards) on the far end of a veth pair:
    //   NS=ibt-ndp-$$; ip netns add $NS
    //   ip -n $NS link add ibt0 type veth peer name ibt1
    //   ip -n $NS link set ibt0 address 02:00:c6:12:00:01
    //   ip -n $NS link set ibt1 address 02:00:c6:12:00:02
    //   ip netns exec $NS sysctl -qw net.ipv6.conf.ibt0.ndisc_notify=1
    //   ip -n $NS link set ibt1 up
    //   ip netns exec $NS tcpdump -i ibt1 -U -w k.pcap 'arp or icmp6' &
    //   ip -n $NS link set ibt0 up; ip -n $NS addr add 2001:db8::1/64 dev ibt0
    // The Linux 6.18 kernel sends an unsolicited NA after DAD (ndisc_notify=1).
    const KERNEL_NA: [u8; 86] = [
        0x33, 0x33, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0xc6, 0x12, 0x00, 0x01, 0x86, 0xdd, 0x60,
        0x00, 0x00, 0x00, 0x00, 0x20, 0x3a, 0xff, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x88, 0x00, 0x33, 0x18, 0x20, 0x00,
        0x00, 0x00, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x01, 0x02, 0x01, 0x02, 0x00, 0xc6, 0x12, 0x00, 0x01,
    ];
    // Same capture: the kernel's NA for the link-local address fe80::c6ff:fe12:1.
    const KERNEL_NA_LINK_LOCAL: [u8; 86] = [
        0x33, 0x33, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0xc6, 0x12, 0x00, 0x01, 0x86, 0xdd, 0x60,
        0x00, 0x00, 0x00, 0x00, 0x20, 0x3a, 0xff, 0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0xc6, 0xff, 0xfe, 0x12, 0x00, 0x01, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x88, 0x00, 0x07, 0x63, 0x20, 0x00,
        0x00, 0x00, 0xfe, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc6, 0xff, 0xfe,
        0x12, 0x00, 0x01, 0x02, 0x01, 0x02, 0x00, 0xc6, 0x12, 0x00, 0x01,
    ];
    // Same capture: the kernel's duplicate-address-detection solicitation for
    // 2001:db8::1 (type 135, from ::, with a nonce option 14).
    const KERNEL_DAD_NS: [u8; 86] = [
        0x33, 0x33, 0xff, 0x00, 0x00, 0x01, 0x02, 0x00, 0xc6, 0x12, 0x00, 0x01, 0x86, 0xdd, 0x60,
        0x00, 0x00, 0x00, 0x00, 0x20, 0x3a, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x01, 0xff, 0x00, 0x00, 0x01, 0x87, 0x00, 0x80, 0xd7, 0x00, 0x00,
        0x00, 0x00, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x01, 0x0e, 0x01, 0xcb, 0xcd, 0x0a, 0x05, 0xe8, 0x39,
    ];
    // resource-agents 4.12's send_ua (what IPaddr2/IPv6addr run), same
    // namespace with DAD off (accept_dad=0, `addr add … nodad`):
    //   ip netns exec $NS /usr/libexec/heartbeat/send_ua -i 200 -c 2 2001:db8::1 64 ibt0
    // It sends through a raw ICMPv6 socket, so the kernel set a flow label
    // (0xedaa4, bytes 15..18); everything else equals the kernel's frame.
    const SEND_UA_NA: [u8; 86] = [
        0x33, 0x33, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0xc6, 0x12, 0x00, 0x01, 0x86, 0xdd, 0x60,
        0x0e, 0xda, 0xa4, 0x00, 0x20, 0x3a, 0xff, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x88, 0x00, 0x33, 0x18, 0x20, 0x00,
        0x00, 0x00, 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x01, 0x02, 0x01, 0x02, 0x00, 0xc6, 0x12, 0x00, 0x01,
    ];

    const MAC: MacAddr = MacAddr([0x02, 0x00, 0xc6, 0x12, 0x00, 0x01]);
    const ADDR: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);

    fn parse(bytes: &[u8]) -> Result<Repr, Error> {
        Repr::parse(&Packet::new_checked(bytes)?)
    }

    #[test]
    fn deconstructs_kernel_advertisement() {
        let p = Packet::new_checked(&KERNEL_NA[..]).unwrap();
        assert_eq!(p.destination(), MacAddr([0x33, 0x33, 0, 0, 0, 1]));
        assert_eq!(p.source(), MAC);
        assert_eq!(p.ethertype(), ETHERTYPE_IPV6);
        assert_eq!(
            (p.ip_version(), p.traffic_class(), p.flow_label()),
            (6, 0, 0)
        );
        assert_eq!(p.payload_len(), 32);
        assert_eq!((p.next_header(), p.hop_limit()), (58, 255));
        assert_eq!(p.src_addr(), ADDR);
        assert_eq!(p.dst_addr(), ALL_NODES);
        assert_eq!(p.icmp_type(), IcmpType::NeighborAdvertisement);
        assert_eq!((p.icmp_code(), p.checksum()), (0, 0x3318));
        assert!(p.override_flag() && !p.solicited_flag() && !p.router_flag());
        assert_eq!(p.reserved(), 0);
        assert_eq!(p.target_addr(), ADDR);
        assert!(p.verify_checksum());
        let options: Vec<_> = p.options().collect::<Result<_, _>>().unwrap();
        assert_eq!(
            options,
            vec![NdpOption {
                kind: OptionType::TargetLinkLayerAddr,
                data: &MAC.0[..],
            }]
        );
    }

    #[test]
    fn builder_matches_kernel_byte_for_byte() {
        assert_eq!(parse(&KERNEL_NA).unwrap(), unsolicited(MAC, ADDR));
        assert_eq!(unsolicited(MAC, ADDR).to_vec(), KERNEL_NA);
        let link_local: Ipv6Addr = "fe80::c6ff:fe12:1".parse().unwrap();
        assert_eq!(unsolicited(MAC, link_local).to_vec(), KERNEL_NA_LINK_LOCAL);
        assert_eq!(
            parse(&KERNEL_NA_LINK_LOCAL).unwrap(),
            unsolicited(MAC, link_local)
        );
    }

    #[test]
    fn builder_matches_send_ua_except_the_flow_label() {
        let repr = parse(&SEND_UA_NA).unwrap();
        assert_eq!(repr, unsolicited(MAC, ADDR));
        assert_eq!(Packet::new_unchecked(&SEND_UA_NA[..]).flow_label(), 0xedaa4);
        let mut ours = unsolicited(MAC, ADDR).to_vec();
        // The flow label is chosen by the sender's kernel per socket; it is not
        // covered by the checksum, so the checksum bytes agree too.
        Packet::new_unchecked(&mut ours[..]).set_flow_label(0xedaa4);
        assert_eq!(ours, SEND_UA_NA);
    }

    #[test]
    fn solicitation_is_viewed_but_not_parsed_as_advertisement() {
        let p = Packet::new_checked(&KERNEL_DAD_NS[..]).unwrap();
        assert_eq!(p.icmp_type(), IcmpType::NeighborSolicitation);
        assert!(p.verify_checksum());
        assert_eq!(p.src_addr(), Ipv6Addr::UNSPECIFIED);
        assert_eq!(p.target_addr(), ADDR);
        let option = p.options().next().unwrap().unwrap();
        assert_eq!(option.kind, OptionType::Nonce);
        assert_eq!(option.data, &[0xcb, 0xcd, 0x0a, 0x05, 0xe8, 0x39]);
        let err = parse(&KERNEL_DAD_NS).unwrap_err();
        assert!(err.to_string().contains("type 135"), "{err}");
    }

    #[test]
    fn rejects_what_rfc_4861_says_to_drop() {
        let mutate = |at: usize, value: u8| {
            let mut b = KERNEL_NA;
            b[at] = value;
            b
        };
        // Each case breaks one rule; the checksum is re-filled where the
        // change is covered by it, so the rule itself is what rejects.
        let cases: Vec<(&str, [u8; 86], bool)> = vec![
            ("ethertype", mutate(13, 0x00), false),
            ("version", mutate(14, 0x40), false),
            ("next header", mutate(20, 17), true),
            ("hop limit", mutate(21, 64), false),
            ("code", mutate(55, 1), true),
            ("checksum", mutate(57, 0x19), false),
            ("solicited to multicast", mutate(58, 0x60), true),
            ("multicast target", mutate(62, 0xff), true),
            ("option length 0", mutate(79, 0), true),
            ("option past the end", mutate(79, 2), true),
        ];
        for (what, mut bytes, refill) in cases {
            if refill {
                Packet::new_unchecked(&mut bytes[..]).fill_checksum();
            }
            assert!(parse(&bytes).is_err(), "{what}");
        }
        for len in 0..MIN_FRAME_LEN {
            assert!(Packet::new_checked(&KERNEL_NA[..len]).is_err(), "len {len}");
        }
        // Payload length larger than the frame, or below the message size.
        let mut b = KERNEL_NA;
        b[19] = 0x21;
        assert!(Packet::new_checked(&b[..]).is_err());
        b[19] = 0x17;
        assert!(Packet::new_checked(&b[..]).is_err());
        // A wrong option size for the link-layer address.
        let mut long = KERNEL_NA.to_vec();
        long.extend_from_slice(&[0; 8]);
        long[19] = 40;
        long[79] = 2;
        Packet::new_unchecked(&mut long[..]).fill_checksum();
        assert!(parse(&long).unwrap_err().to_string().contains("6"));
    }

    #[test]
    fn padding_is_ignored_and_unknown_options_skipped() {
        // Ethernet padding after the message.
        let mut padded = KERNEL_NA.to_vec();
        padded.extend_from_slice(&[0xee; 10]);
        assert_eq!(parse(&padded).unwrap(), unsolicited(MAC, ADDR));
        // An unknown option before the link-layer one.
        let mut b = KERNEL_NA[..78].to_vec();
        b.extend_from_slice(&[200, 1, 1, 2, 3, 4, 5, 6]);
        b.extend_from_slice(&KERNEL_NA[78..]);
        b[19] = 40;
        Packet::new_unchecked(&mut b[..]).fill_checksum();
        let repr = parse(&b).unwrap();
        assert_eq!(repr.target_link_layer_addr, Some(MAC));
        // No option at all.
        let bare = Repr {
            target_link_layer_addr: None,
            ..unsolicited(MAC, ADDR)
        };
        let bytes = bare.to_vec();
        assert_eq!(bytes.len(), MIN_FRAME_LEN);
        assert_eq!(parse(&bytes).unwrap(), bare);
    }

    #[test]
    fn setters_and_short_buffer_emit() {
        let mut bytes = unsolicited(MAC, ADDR).to_vec();
        let mut p = Packet::new_unchecked(&mut bytes[..]);
        p.set_router_flag(true);
        p.set_override_flag(false);
        p.set_solicited_flag(true);
        p.set_hop_limit(255);
        p.fill_checksum();
        assert!(p.verify_checksum());
        assert!(p.router_flag() && p.solicited_flag() && !p.override_flag());
        let mut short = [0u8; FRAME_LEN - 1];
        unsolicited(MAC, ADDR).emit(&mut Packet::new_unchecked(&mut short[..]));
        assert_eq!(short, [0u8; FRAME_LEN - 1]);
        assert_eq!(
            multicast_mac(&"ff02::1:ff00:1".parse().unwrap()).0,
            [0x33, 0x33, 0xff, 0, 0, 1]
        );
    }
}
