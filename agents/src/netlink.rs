//! The few rtnetlink messages the IP address agent needs: dump links and
//! addresses, add and delete an address.
//!
//! [`wire`] builds and parses the bytes (pure: no sockets); [`Route`] is the
//! thin driver on a `NETLINK_ROUTE` socket. Its requests are answered by the
//! kernel in microseconds and run inline, so they act in the network
//! namespace of the calling thread (tests rely on that).

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};

use nix::sys::socket::{
    bind, recv, send, setsockopt, socket, sockopt, AddressFamily, MsgFlags, NetlinkAddr, SockFlag,
    SockProtocol, SockType,
};
use nix::sys::time::TimeVal;

pub use wire::{AddrInfo, AddrRequest, LinkInfo};

/// Interface flag: administratively up.
pub const IFF_UP: u32 = 0x1;

/// A `NETLINK_ROUTE` socket.
#[derive(Debug)]
pub struct Route {
    fd: OwnedFd,
    seq: u32,
}

impl Route {
    /// Opens a socket in the calling thread's network namespace.
    pub fn open() -> io::Result<Self> {
        let fd = socket(
            AddressFamily::Netlink,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::NetlinkRoute,
        )?;
        bind(fd.as_raw_fd(), &NetlinkAddr::new(0, 0))?;
        let timeout = TimeVal::new(2, 0);
        setsockopt(&fd, sockopt::ReceiveTimeout, &timeout)?;
        Ok(Route { fd, seq: 1 })
    }

    /// Every interface.
    pub fn links(&mut self) -> io::Result<Vec<LinkInfo>> {
        let seq = self.next_seq();
        let request = wire::dump_request(wire::RTM_GETLINK, seq);
        let mut links = Vec::new();
        self.exchange(&request, seq, |kind, payload| {
            if kind == wire::RTM_NEWLINK {
                if let Some(link) = wire::parse_link(payload) {
                    links.push(link);
                }
            }
        })?;
        Ok(links)
    }

    /// Every address of every interface (IPv4 and IPv6).
    pub fn addresses(&mut self) -> io::Result<Vec<AddrInfo>> {
        let seq = self.next_seq();
        let request = wire::dump_request(wire::RTM_GETADDR, seq);
        let mut addresses = Vec::new();
        self.exchange(&request, seq, |kind, payload| {
            if kind == wire::RTM_NEWADDR {
                if let Some(addr) = wire::parse_addr(payload) {
                    addresses.push(addr);
                }
            }
        })?;
        Ok(addresses)
    }

    /// Adds an address; an address already present is `ErrorKind::AlreadyExists`.
    pub fn add_address(&mut self, request: &AddrRequest) -> io::Result<()> {
        let seq = self.next_seq();
        let bytes = wire::addr_request(wire::RTM_NEWADDR, seq, request);
        self.exchange(&bytes, seq, |_, _| {})
    }

    /// Deletes an address; an absent one is `ErrorKind::AddrNotAvailable`
    /// (EADDRNOTAVAIL).
    pub fn delete_address(&mut self, request: &AddrRequest) -> io::Result<()> {
        let seq = self.next_seq();
        let bytes = wire::addr_request(wire::RTM_DELADDR, seq, request);
        self.exchange(&bytes, seq, |_, _| {})
    }

    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    /// Sends `request` and reads replies with sequence `seq` until the dump
    /// ends or the kernel acknowledges (bounded in messages and by the
    /// socket's receive timeout).
    fn exchange(
        &mut self,
        request: &[u8],
        seq: u32,
        mut each: impl FnMut(u16, &[u8]),
    ) -> io::Result<()> {
        const MAX_READS: usize = 100_000;
        send(self.fd.as_raw_fd(), request, MsgFlags::empty())?;
        let mut buffer = vec![0u8; 64 * 1024];
        for _ in 0..MAX_READS {
            let n = recv(self.fd.as_raw_fd(), &mut buffer, MsgFlags::empty())?;
            for message in wire::Messages::new(&buffer[..n]) {
                let message = message.map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                if message.seq != seq {
                    continue;
                }
                match message.kind {
                    wire::NLMSG_DONE => return Ok(()),
                    wire::NLMSG_ERROR => {
                        let errno = wire::parse_error(message.payload).ok_or_else(|| {
                            io::Error::new(
                                io::ErrorKind::InvalidData,
                                "short netlink error message",
                            )
                        })?;
                        return if errno == 0 {
                            Ok(())
                        } else {
                            Err(io::Error::from_raw_os_error(-errno))
                        };
                    }
                    kind => each(kind, message.payload),
                }
            }
        }
        Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "netlink reply did not end after 100000 reads",
        ))
    }
}

pub mod wire {
    //! rtnetlink bytes. Contract: parsing never panics on any input;
    //! builders emit well-formed messages.

    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

    /// `NLMSG_ERROR` (also the ACK, with error 0).
    pub const NLMSG_ERROR: u16 = 2;
    /// `NLMSG_DONE`: end of a dump.
    pub const NLMSG_DONE: u16 = 3;
    /// `RTM_NEWLINK`.
    pub const RTM_NEWLINK: u16 = 16;
    /// `RTM_GETLINK`.
    pub const RTM_GETLINK: u16 = 18;
    /// `RTM_NEWADDR`.
    pub const RTM_NEWADDR: u16 = 20;
    /// `RTM_DELADDR`.
    pub const RTM_DELADDR: u16 = 21;
    /// `RTM_GETADDR`.
    pub const RTM_GETADDR: u16 = 22;

    const NLM_F_REQUEST: u16 = 0x1;
    const NLM_F_ACK: u16 = 0x4;
    const NLM_F_DUMP: u16 = 0x300;
    const NLM_F_CREATE: u16 = 0x400;
    const NLM_F_EXCL: u16 = 0x200;

    const IFA_ADDRESS: u16 = 1;
    const IFA_LOCAL: u16 = 2;
    const IFA_LABEL: u16 = 3;
    const IFA_BROADCAST: u16 = 4;
    const IFA_FLAGS: u16 = 8;
    const IFLA_IFNAME: u16 = 3;

    /// `IFA_F_NODAD`: skip duplicate address detection (IPv6).
    pub const IFA_F_NODAD: u32 = 0x02;
    /// `IFA_F_TENTATIVE`: DAD not yet finished (IPv6).
    pub const IFA_F_TENTATIVE: u32 = 0x40;
    /// `IFA_F_DADFAILED`.
    pub const IFA_F_DADFAILED: u32 = 0x08;

    const AF_INET: u8 = 2;
    const AF_INET6: u8 = 10;
    const HEADER_LEN: usize = 16;

    /// One address on one interface.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct AddrInfo {
        /// Interface index.
        pub index: u32,
        /// The address (IFA_LOCAL for IPv4, IFA_ADDRESS for IPv6).
        pub address: IpAddr,
        /// Prefix length.
        pub prefix_len: u8,
        /// The label (IPv4), e.g. `eth0:vip`.
        pub label: Option<String>,
        /// The broadcast address (IPv4), if set.
        pub broadcast: Option<Ipv4Addr>,
        /// `IFA_F_*` flags.
        pub flags: u32,
    }

    /// One interface.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct LinkInfo {
        /// Interface index.
        pub index: u32,
        /// Its name.
        pub name: String,
        /// `IFF_*` flags.
        pub flags: u32,
    }

    /// An address to add or delete.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct AddrRequest {
        /// Interface index.
        pub index: u32,
        /// The address.
        pub address: IpAddr,
        /// Prefix length.
        pub prefix_len: u8,
        /// IPv4 broadcast address.
        pub broadcast: Option<Ipv4Addr>,
        /// IPv4 label (at most 15 bytes).
        pub label: Option<String>,
        /// `IFA_F_*` flags to set (e.g. [`IFA_F_NODAD`]).
        pub flags: u32,
    }

    /// One message of a netlink datagram.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub struct Message<'a> {
        /// `nlmsg_type`.
        pub kind: u16,
        /// `nlmsg_seq`.
        pub seq: u32,
        /// The bytes after the header.
        pub payload: &'a [u8],
    }

    /// Iterates the messages of a datagram; a malformed header ends it with
    /// one error.
    #[derive(Debug)]
    pub struct Messages<'a> {
        rest: &'a [u8],
    }

    impl<'a> Messages<'a> {
        /// Messages of `datagram`.
        pub fn new(datagram: &'a [u8]) -> Self {
            Messages { rest: datagram }
        }
    }

    impl<'a> Iterator for Messages<'a> {
        type Item = Result<Message<'a>, String>;

        fn next(&mut self) -> Option<Self::Item> {
            if self.rest.is_empty() {
                return None;
            }
            if self.rest.len() < HEADER_LEN {
                self.rest = &[];
                return Some(Err("truncated netlink header".to_string()));
            }
            let len = u32_at(self.rest, 0) as usize;
            if len < HEADER_LEN || len > self.rest.len() {
                self.rest = &[];
                return Some(Err(format!("netlink message length {len} out of range")));
            }
            let message = Message {
                kind: u16_at(self.rest, 4),
                seq: u32_at(self.rest, 8),
                payload: &self.rest[HEADER_LEN..len],
            };
            let next = align(len).min(self.rest.len());
            self.rest = &self.rest[next..];
            Some(Ok(message))
        }
    }

    /// A dump request (`RTM_GETLINK` / `RTM_GETADDR`) for all families.
    pub fn dump_request(kind: u16, seq: u32) -> Vec<u8> {
        // rtgenmsg / ifinfomsg-sized zeroed body: family AF_UNSPEC.
        let body_len = if kind == RTM_GETLINK { 16 } else { 8 };
        let mut out = header(kind, NLM_F_REQUEST | NLM_F_DUMP, seq);
        out.extend(std::iter::repeat(0u8).take(body_len));
        finish(out)
    }

    /// `RTM_NEWADDR` (create, fail if present) or `RTM_DELADDR` with an ACK.
    pub fn addr_request(kind: u16, seq: u32, request: &AddrRequest) -> Vec<u8> {
        let flags = if kind == RTM_NEWADDR {
            NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL
        } else {
            NLM_F_REQUEST | NLM_F_ACK
        };
        let mut out = header(kind, flags, seq);
        let family = match request.address {
            IpAddr::V4(_) => AF_INET,
            IpAddr::V6(_) => AF_INET6,
        };
        out.extend_from_slice(&[family, request.prefix_len, 0, 0]);
        out.extend_from_slice(&request.index.to_ne_bytes());
        match request.address {
            IpAddr::V4(ip) => {
                attribute(&mut out, IFA_LOCAL, &ip.octets());
                attribute(&mut out, IFA_ADDRESS, &ip.octets());
            }
            IpAddr::V6(ip) => attribute(&mut out, IFA_ADDRESS, &ip.octets()),
        }
        if let Some(broadcast) = request.broadcast {
            attribute(&mut out, IFA_BROADCAST, &broadcast.octets());
        }
        if let Some(label) = &request.label {
            let mut bytes = label.as_bytes().to_vec();
            bytes.push(0);
            attribute(&mut out, IFA_LABEL, &bytes);
        }
        if request.flags != 0 && kind == RTM_NEWADDR {
            attribute(&mut out, IFA_FLAGS, &request.flags.to_ne_bytes());
        }
        finish(out)
    }

    /// The (negative) errno of an `NLMSG_ERROR` payload; 0 is an ACK.
    pub fn parse_error(payload: &[u8]) -> Option<i32> {
        payload
            .get(..4)
            .map(|b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// An `RTM_NEWADDR` payload.
    pub fn parse_addr(payload: &[u8]) -> Option<AddrInfo> {
        let head = payload.get(..8)?;
        let family = head[0];
        let prefix_len = head[1];
        let mut flags = u32::from(head[2]);
        let index = u32_at(head, 4);
        let mut address = None;
        let mut local = None;
        let mut label = None;
        let mut broadcast = None;
        for (kind, value) in Attributes::new(payload.get(8..)?) {
            match kind {
                IFA_ADDRESS => address = ip(family, value),
                IFA_LOCAL => local = ip(family, value),
                IFA_LABEL => {
                    let end = value.iter().position(|&b| b == 0).unwrap_or(value.len());
                    label = Some(String::from_utf8_lossy(&value[..end]).into_owned());
                }
                IFA_BROADCAST => {
                    if let Some(IpAddr::V4(b)) = ip(AF_INET, value) {
                        broadcast = Some(b);
                    }
                }
                IFA_FLAGS if value.len() >= 4 => flags = u32_at(value, 0),
                _ => {}
            }
        }
        Some(AddrInfo {
            index,
            address: local.or(address)?,
            prefix_len,
            label,
            broadcast,
            flags,
        })
    }

    /// An `RTM_NEWLINK` payload.
    pub fn parse_link(payload: &[u8]) -> Option<LinkInfo> {
        let head = payload.get(..16)?;
        let index = u32_at(head, 4);
        let flags = u32_at(head, 8);
        let name = Attributes::new(payload.get(16..)?).find_map(|(kind, value)| {
            (kind == IFLA_IFNAME).then(|| {
                let end = value.iter().position(|&b| b == 0).unwrap_or(value.len());
                String::from_utf8_lossy(&value[..end]).into_owned()
            })
        })?;
        Some(LinkInfo { index, name, flags })
    }

    struct Attributes<'a> {
        rest: &'a [u8],
    }

    impl<'a> Attributes<'a> {
        fn new(rest: &'a [u8]) -> Self {
            Attributes { rest }
        }
    }

    impl<'a> Iterator for Attributes<'a> {
        type Item = (u16, &'a [u8]);

        fn next(&mut self) -> Option<Self::Item> {
            if self.rest.len() < 4 {
                return None;
            }
            let len = u16_at(self.rest, 0) as usize;
            let kind = u16_at(self.rest, 2) & 0x3fff;
            if len < 4 || len > self.rest.len() {
                self.rest = &[];
                return None;
            }
            let value = &self.rest[4..len];
            let next = align(len).min(self.rest.len());
            self.rest = &self.rest[next..];
            Some((kind, value))
        }
    }

    fn ip(family: u8, value: &[u8]) -> Option<IpAddr> {
        match family {
            AF_INET => {
                let b: [u8; 4] = value.get(..4)?.try_into().ok()?;
                Some(IpAddr::V4(Ipv4Addr::from(b)))
            }
            AF_INET6 => {
                let b: [u8; 16] = value.get(..16)?.try_into().ok()?;
                Some(IpAddr::V6(Ipv6Addr::from(b)))
            }
            _ => None,
        }
    }

    fn header(kind: u16, flags: u16, seq: u32) -> Vec<u8> {
        let mut out = Vec::with_capacity(128);
        out.extend_from_slice(&0u32.to_ne_bytes());
        out.extend_from_slice(&kind.to_ne_bytes());
        out.extend_from_slice(&flags.to_ne_bytes());
        out.extend_from_slice(&seq.to_ne_bytes());
        out.extend_from_slice(&0u32.to_ne_bytes());
        out
    }

    fn attribute(out: &mut Vec<u8>, kind: u16, value: &[u8]) {
        let len = 4 + value.len();
        out.extend_from_slice(&(len as u16).to_ne_bytes());
        out.extend_from_slice(&kind.to_ne_bytes());
        out.extend_from_slice(value);
        out.resize(align(out.len()), 0);
    }

    fn finish(mut out: Vec<u8>) -> Vec<u8> {
        let len = (out.len() as u32).to_ne_bytes();
        out[..4].copy_from_slice(&len);
        out
    }

    fn align(len: usize) -> usize {
        len.saturating_add(3) & !3
    }

    // Callers check lengths first; these read within bounds.
    fn u16_at(b: &[u8], at: usize) -> u16 {
        u16::from_ne_bytes([b[at], b[at + 1]])
    }

    fn u32_at(b: &[u8], at: usize) -> u32 {
        u32::from_ne_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn add_request_round_trips_through_the_parser() {
            let request = AddrRequest {
                index: 7,
                address: "198.18.4.100".parse().unwrap(),
                prefix_len: 24,
                broadcast: Some("198.18.4.255".parse().unwrap()),
                label: Some("veth0:vip".into()),
                flags: 0,
            };
            let bytes = addr_request(RTM_NEWADDR, 9, &request);
            let messages: Vec<_> = Messages::new(&bytes).collect();
            assert_eq!(messages.len(), 1);
            let message = messages[0].clone().unwrap();
            assert_eq!((message.kind, message.seq), (RTM_NEWADDR, 9));
            let parsed = parse_addr(message.payload).unwrap();
            assert_eq!(parsed.index, 7);
            assert_eq!(parsed.address, request.address);
            assert_eq!(parsed.prefix_len, 24);
            assert_eq!(parsed.label.as_deref(), Some("veth0:vip"));
            assert_eq!(parsed.broadcast, request.broadcast);
            assert_eq!(bytes.len() % 4, 0);
        }

        #[test]
        fn hostile_bytes_never_panic() {
            let mut seed = 0x1234_5678u32;
            for len in 0..200 {
                let bytes: Vec<u8> = (0..len)
                    .map(|_| {
                        seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                        (seed >> 16) as u8
                    })
                    .collect();
                for m in Messages::new(&bytes).flatten() {
                    let _ = parse_addr(m.payload);
                    let _ = parse_link(m.payload);
                    let _ = parse_error(m.payload);
                }
                let _ = parse_addr(&bytes);
                let _ = parse_link(&bytes);
            }
            // A header claiming more bytes than there are.
            let mut bytes = vec![0u8; 16];
            bytes[0] = 200;
            assert!(Messages::new(&bytes).next().unwrap().is_err());
            // Zero-length attribute.
            let mut payload = vec![2u8, 24, 0, 0, 1, 0, 0, 0];
            payload.extend_from_slice(&[0, 0, 1, 0]);
            assert_eq!(parse_addr(&payload), None);
        }
    }
}
