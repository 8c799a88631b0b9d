//! UDP paths: heartbeat's `ucast`, `bcast` and `mcast` media (IPv4).
//!
//! All media of one interface and port share one receiving socket, bound to
//! `0.0.0.0:port` with `SO_BINDTODEVICE`, so datagrams that arrive on another
//! NIC never count for this one. The kernel hands a unicast datagram to only
//! one socket of a port, so one socket per medium could not tell two `ucast`
//! lines (or `ucast` and `bcast`) on one NIC apart; instead the socket reports
//! each datagram's destination (`IP_PKTINFO`) and the driver routes it:
//! multicast destination → the `mcast` medium of that group, broadcast →
//! `bcast`, unicast → the `ucast` medium whose peer sent it (else the first
//! medium of the socket). `IP_MULTICAST_ALL` is off, so only groups this socket
//! joined are delivered.
//!
//! Each medium sends from its own socket (bound to the device, `IP_TOS` 0x10
//! low delay, ephemeral port), which carries that medium's broadcast or
//! multicast TTL/loop options.
//!
//! Neither `SO_REUSEADDR` nor `SO_REUSEPORT` is set on the receiving socket
//! (heartbeat set both): with either, a second process on the same port (a
//! `link watch` next to the daemon) silently takes some or all unicast
//! heartbeats away from the first. Binding fails instead, with the fix.

use std::future::Future;
use std::io::{self, IoSliceMut};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::fd::AsRawFd;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use nix::sys::socket::{recvmsg, sockopt, ControlMessageOwned, MsgFlags, SockaddrIn};
use socket2::{Domain, InterfaceIndexOrAddress, Protocol, SockAddr, Socket, Type};
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::time::Sleep;

use crate::{Error, PathId};

/// heartbeat's IANA port (`udpport` default).
pub const DEFAULT_PORT: u16 = 694;
/// `IPTOS_LOWDELAY`, as heartbeat sets it.
const TOS_LOW_DELAY: u32 = 0x10;

/// How a UDP medium reaches its peers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UdpKind {
    /// `ucast IF ADDR`: to one peer (address and its port).
    Unicast {
        /// The peer.
        peer: SocketAddrV4,
    },
    /// `bcast IF`: to the interface's broadcast address.
    Broadcast,
    /// `mcast IF GROUP PORT TTL LOOP`: to a multicast group joined on the interface.
    Multicast {
        /// The group (224.0.0.0/4).
        group: Ipv4Addr,
        /// IP TTL of sent datagrams.
        ttl: u8,
        /// Whether our own datagrams loop back to local sockets.
        loopback: bool,
    },
}

/// One configured UDP medium.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UdpMedium {
    /// The local path id.
    pub path: PathId,
    /// The network interface (`eth0`).
    pub iface: String,
    /// The local port we receive on (and, for bcast/mcast, send to).
    pub port: u16,
    /// How peers are addressed.
    pub kind: UdpKind,
}

/// The UDP media of one interface and port: one receiving socket, one sending
/// socket per medium.
#[derive(Debug)]
pub struct UdpDriver {
    iface: String,
    socket: UdpSocket,
    control: Vec<u8>,
    routes: Vec<Route>,
    /// After a receive error, the socket rests until this fires (no spinning).
    pause: Option<Pin<Box<Sleep>>>,
}

#[derive(Debug)]
struct Route {
    path: PathId,
    kind: UdpKind,
    /// Where this medium's datagrams go.
    dest: SockAddr,
    /// For bcast: the interface broadcast address.
    broadcast: Option<Ipv4Addr>,
    sender: Socket,
}

impl UdpDriver {
    /// Opens every medium, one driver per distinct (interface, port).
    /// Must run inside a tokio runtime.
    pub fn open_all(media: &[UdpMedium]) -> Result<Vec<UdpDriver>, Error> {
        let mut groups: Vec<Vec<UdpMedium>> = Vec::new();
        for medium in media {
            match groups
                .iter_mut()
                .find(|g| g[0].iface == medium.iface && g[0].port == medium.port)
            {
                Some(group) => group.push(medium.clone()),
                None => groups.push(vec![medium.clone()]),
            }
        }
        groups.iter().map(|g| UdpDriver::open(g)).collect()
    }

    /// Opens media that share one interface and port (the first medium's).
    /// Must run inside a tokio runtime.
    pub fn open(media: &[UdpMedium]) -> Result<UdpDriver, Error> {
        let Some(first) = media.first() else {
            return Err(Error::config("a UDP driver needs at least one medium"));
        };
        let (iface, port) = (first.iface.clone(), first.port);
        if let Some(odd) = media.iter().find(|m| m.iface != iface || m.port != port) {
            return Err(Error::config(format!(
                "UDP media {} and {} differ in interface or port; open them separately",
                first.path, odd.path
            )));
        }
        let index = nix::net::if_::if_nametoindex(iface.as_str()).map_err(|_| {
            Error::config(format!(
                "interface {iface:?} does not exist; check the medium line against `ip link`"
            ))
        })?;
        let receiver = new_socket(&iface)?;
        let ctx = |what: &str| format!("UDP {iface} port {port}: cannot {what}");
        receiver
            .set_multicast_all_v4(false)
            .map_err(|e| Error::io(ctx("clear IP_MULTICAST_ALL"), e))?;
        nix::sys::socket::setsockopt(&receiver, sockopt::Ipv4PacketInfo, &true)
            .map_err(|e| Error::io(ctx("enable IP_PKTINFO"), e.into()))?;
        let any = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, port);
        receiver.bind(&any.into()).map_err(|e| {
            if e.kind() == io::ErrorKind::AddrInUse {
                Error::io(
                    format!(
                        "UDP port {port} on {iface} is taken by another process (heartbeat or \
                         another ironbeat?); stop it or choose another udpport \
                         (find it with `ss -ulpn 'sport = :{port}'`)"
                    ),
                    e,
                )
            } else {
                Error::io(ctx("bind"), e)
            }
        })?;
        let mut routes = Vec::with_capacity(media.len());
        for medium in media {
            routes.push(open_route(medium, index, &receiver)?);
        }
        let socket = UdpSocket::from_std(receiver.into())
            .map_err(|e| Error::io(ctx("register with the runtime"), e))?;
        Ok(UdpDriver {
            iface,
            socket,
            control: nix::cmsg_space!(nix::libc::in_pktinfo),
            routes,
            pause: None,
        })
    }

    /// The interface these media use.
    pub fn iface(&self) -> &str {
        &self.iface
    }

    /// The paths this driver serves.
    pub fn paths(&self) -> impl Iterator<Item = PathId> + '_ {
        self.routes.iter().map(|r| r.path)
    }

    /// Sends one frame on `path`; never blocks (`WouldBlock` when the socket
    /// buffer is full).
    pub fn send(&self, path: PathId, bytes: &[u8]) -> io::Result<()> {
        let route = self
            .routes
            .iter()
            .find(|r| r.path == path)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such UDP path"))?;
        route.sender.send_to(bytes, &route.dest).map(|_| ())
    }

    /// Receives the next datagram into `buf`: its path and length. After an
    /// error (returned with the socket's first path) the socket rests for
    /// 100 ms, so a persistent error cannot spin.
    pub fn poll_recv(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<Result<(PathId, usize), (PathId, io::Error)>> {
        if let Some(pause) = self.pause.as_mut() {
            std::task::ready!(pause.as_mut().poll(cx));
            self.pause = None;
        }
        let result = std::task::ready!(self.poll_recv_inner(cx, buf));
        Poll::Ready(result.map_err(|e| {
            self.pause = Some(Box::pin(tokio::time::sleep(Duration::from_millis(100))));
            // `open` refuses an empty medium list, so routes[0] exists.
            (self.routes[0].path, e)
        }))
    }

    fn poll_recv_inner(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<(PathId, usize)>> {
        // Oversized datagrams are skipped; after this many, yield to the other
        // paths and come back.
        for _ in 0..64 {
            if let Err(e) = std::task::ready!(self.socket.poll_recv_ready(cx)) {
                return Poll::Ready(Err(e));
            }
            let fd = self.socket.as_raw_fd();
            let control = &mut self.control;
            let received = self.socket.try_io(Interest::READABLE, || {
                let mut iov = [IoSliceMut::new(&mut *buf)];
                let msg = recvmsg::<SockaddrIn>(fd, &mut iov, Some(control), MsgFlags::empty())
                    .map_err(io::Error::from)?;
                let mut dest = None;
                if let Ok(cmsgs) = msg.cmsgs() {
                    for cmsg in cmsgs {
                        if let ControlMessageOwned::Ipv4PacketInfo(info) = cmsg {
                            dest = Some(Ipv4Addr::from(u32::from_be(info.ipi_addr.s_addr)));
                        }
                    }
                }
                let truncated = msg.flags.contains(MsgFlags::MSG_TRUNC);
                Ok((msg.bytes, msg.address.map(|a| a.ip()), dest, truncated))
            });
            match received {
                // Longer than any frame: not ours; drop it and read on.
                Ok((_, _, _, true)) => continue,
                Ok((len, source, dest, false)) => {
                    return Poll::Ready(Ok((self.route(source, dest), len)))
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    fn route(&self, source: Option<Ipv4Addr>, dest: Option<Ipv4Addr>) -> PathId {
        let by = |f: &dyn Fn(&Route) -> bool| self.routes.iter().find(|r| f(r)).map(|r| r.path);
        let routed = match dest {
            Some(d) if d.is_multicast() => {
                by(&|r| matches!(r.kind, UdpKind::Multicast { group, .. } if group == d))
            }
            Some(d) if d.is_broadcast() || self.routes.iter().any(|r| r.broadcast == Some(d)) => {
                by(&|r| r.kind == UdpKind::Broadcast)
            }
            _ => by(&|r| matches!(r.kind, UdpKind::Unicast { peer } if Some(*peer.ip()) == source)),
        };
        // `open` refuses an empty medium list, so routes[0] exists.
        routed.unwrap_or(self.routes[0].path)
    }
}

fn new_socket(iface: &str) -> Result<Socket, Error> {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))
        .map_err(|e| Error::io("cannot create a UDP socket", e))?;
    socket.bind_device(Some(iface.as_bytes())).map_err(|e| {
        Error::io(
            format!("cannot bind a UDP socket to {iface} (SO_BINDTODEVICE needs CAP_NET_RAW: run as root)"),
            e,
        )
    })?;
    socket
        .set_tos(TOS_LOW_DELAY)
        .and_then(|()| socket.set_nonblocking(true))
        .map_err(|e| Error::io(format!("cannot configure a UDP socket on {iface}"), e))?;
    Ok(socket)
}

fn open_route(medium: &UdpMedium, index: u32, receiver: &Socket) -> Result<Route, Error> {
    let iface = &medium.iface;
    let sender = new_socket(iface)?;
    let ctx = |what: &str| format!("UDP path {} on {iface}: cannot {what}", medium.path);
    let (dest, broadcast) = match medium.kind {
        UdpKind::Unicast { peer } => (peer, None),
        UdpKind::Broadcast => {
            let brd = broadcast_address(iface)?;
            sender
                .set_broadcast(true)
                .map_err(|e| Error::io(ctx("enable SO_BROADCAST"), e))?;
            (SocketAddrV4::new(brd, medium.port), Some(brd))
        }
        UdpKind::Multicast {
            group,
            ttl,
            loopback,
        } => {
            if !group.is_multicast() {
                return Err(Error::config(format!(
                    "mcast {iface} {group}: not a multicast group; use an address in \
                     224.0.0.0/4, e.g. 239.198.18.4"
                )));
            }
            receiver
                .join_multicast_v4_n(&group, &InterfaceIndexOrAddress::Index(index))
                .map_err(|e| Error::io(ctx(&format!("join multicast group {group}")), e))?;
            sender
                .set_multicast_ttl_v4(u32::from(ttl))
                .and_then(|()| sender.set_multicast_loop_v4(loopback))
                .map_err(|e| Error::io(ctx("set multicast TTL and loop"), e))?;
            (SocketAddrV4::new(group, medium.port), None)
        }
    };
    Ok(Route {
        path: medium.path,
        kind: medium.kind,
        dest: dest.into(),
        broadcast,
        sender,
    })
}

/// The IPv4 broadcast address of `iface`, or an error that says how to add one.
pub fn broadcast_address(iface: &str) -> Result<Ipv4Addr, Error> {
    let addrs = nix::ifaddrs::getifaddrs()
        .map_err(|e| Error::io("cannot list interface addresses", e.into()))?;
    let v4 = |s: Option<nix::sys::socket::SockaddrStorage>| {
        s.and_then(|s| s.as_sockaddr_in().map(|a| a.ip()))
    };
    let entries: Vec<InterfaceV4> = addrs
        .filter(|a| a.interface_name == iface)
        .filter_map(|a| {
            Some(InterfaceV4 {
                address: v4(a.address)?,
                netmask: v4(a.netmask),
                broadcast: v4(a.broadcast),
            })
        })
        .collect();
    choose_broadcast(iface, &entries)
}

/// One IPv4 address of an interface, as getifaddrs reports it.
#[derive(Debug, Clone, Copy)]
struct InterfaceV4 {
    address: Ipv4Addr,
    netmask: Option<Ipv4Addr>,
    broadcast: Option<Ipv4Addr>,
}

fn choose_broadcast(iface: &str, entries: &[InterfaceV4]) -> Result<Ipv4Addr, Error> {
    let usable = |b: &Option<Ipv4Addr>| b.filter(|b| !b.is_unspecified());
    if let Some(brd) = entries.iter().find_map(|e| usable(&e.broadcast)) {
        return Ok(brd);
    }
    let Some(first) = entries.first() else {
        return Err(Error::config(format!(
            "bcast {iface}: the interface has no IPv4 address; add one with a broadcast \
             address, e.g. `ip addr add 198.18.0.1/24 brd + dev {iface}`, or use ucast/mcast"
        )));
    };
    let prefix = first.netmask.map_or(24, |m| u32::from(m).leading_ones());
    Err(Error::config(format!(
        "bcast {iface}: {addr}/{prefix} has no broadcast address (it was added without `brd`), \
         so broadcasts would only reach this host (heartbeat silently talked to itself here); \
         fix: `ip addr del {addr}/{prefix} dev {iface} && ip addr add {addr}/{prefix} brd + \
         dev {iface}`",
        addr = first.address
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(address: [u8; 4], broadcast: Option<[u8; 4]>) -> InterfaceV4 {
        InterfaceV4 {
            address: address.into(),
            netmask: Some([255, 255, 255, 0].into()),
            broadcast: broadcast.map(Ipv4Addr::from),
        }
    }

    #[test]
    fn broadcast_address_is_taken_from_the_interface() {
        let entries = [
            entry([198, 18, 0, 1], None),
            entry([198, 18, 1, 1], Some([198, 18, 1, 255])),
        ];
        assert_eq!(
            choose_broadcast("eth0", &entries).unwrap(),
            Ipv4Addr::new(198, 18, 1, 255)
        );
    }

    #[test]
    fn missing_broadcast_is_refused_with_the_fix() {
        for entries in [
            vec![entry([198, 18, 0, 1], None)],
            vec![entry([198, 18, 0, 1], Some([0, 0, 0, 0]))],
        ] {
            let msg = choose_broadcast("eth0", &entries).unwrap_err().to_string();
            assert!(msg.contains("198.18.0.1/24"), "{msg}");
            assert!(msg.contains("brd +"), "{msg}");
        }
        let msg = choose_broadcast("eth9", &[]).unwrap_err().to_string();
        assert!(msg.contains("no IPv4 address"), "{msg}");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn loopback_has_no_broadcast_so_bcast_lo_is_refused() {
        // `lo` carries 127.0.0.1/8 without a broadcast address in every netns.
        let err = UdpDriver::open(&[UdpMedium {
            path: PathId(0),
            iface: "lo".into(),
            port: 0,
            kind: UdpKind::Broadcast,
        }])
        .unwrap_err();
        assert!(err.to_string().contains("brd +"), "{err}");
    }

    #[tokio::test(flavor = "current_thread")]
    async fn missing_interface_is_a_config_error() {
        let err = UdpDriver::open(&[UdpMedium {
            path: PathId(0),
            iface: "ib-nonexist0".into(),
            port: 0,
            kind: UdpKind::Broadcast,
        }])
        .unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Config);
        assert!(err.to_string().contains("ip link"), "{err}");
    }

    fn free_port() -> u16 {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.local_addr().unwrap().port()
    }

    #[tokio::test(flavor = "current_thread")]
    async fn two_unicast_media_on_one_port_are_told_apart_by_source() {
        let port = free_port();
        let peer_port = free_port();
        let at = |n, port| SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, n), port);
        let medium = |path, n| UdpMedium {
            path: PathId(path),
            iface: "lo".into(),
            port,
            kind: UdpKind::Unicast {
                peer: at(n, peer_port),
            },
        };
        let mut drivers = UdpDriver::open_all(&[medium(3, 2), medium(4, 3)]).unwrap();
        assert_eq!(drivers.len(), 1);
        let driver = &mut drivers[0];
        assert_eq!(driver.paths().collect::<Vec<_>>(), [PathId(3), PathId(4)]);
        // Two peers on other loopback addresses send to our port.
        let two = std::net::UdpSocket::bind(at(2, peer_port)).unwrap();
        let three = std::net::UdpSocket::bind(at(3, peer_port)).unwrap();
        three.send_to(b"from three", at(1, port)).unwrap();
        two.send_to(b"from two", at(1, port)).unwrap();
        let mut buf = [0u8; 64];
        let mut got = Vec::new();
        for _ in 0..2 {
            let recv = std::future::poll_fn(|cx| driver.poll_recv(cx, &mut buf));
            let (path, len) = tokio::time::timeout(Duration::from_secs(2), recv)
                .await
                .unwrap()
                .unwrap();
            got.push((path, buf[..len].to_vec()));
        }
        got.sort();
        assert_eq!(
            got,
            [
                (PathId(3), b"from two".to_vec()),
                (PathId(4), b"from three".to_vec())
            ]
        );
        // Each path sends to its own peer.
        driver.send(PathId(4), b"to three").unwrap();
        three
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        let (len, from) = three.recv_from(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"to three");
        assert_eq!(from.ip(), std::net::IpAddr::from([127, 0, 0, 1]));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn multicast_and_unicast_on_one_port_are_told_apart_by_destination() {
        let port = free_port();
        let group = Ipv4Addr::new(239, 198, 18, 4);
        let media = [
            UdpMedium {
                path: PathId(1),
                iface: "lo".into(),
                port,
                kind: UdpKind::Unicast {
                    peer: SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 2), port),
                },
            },
            UdpMedium {
                path: PathId(2),
                iface: "lo".into(),
                port,
                kind: UdpKind::Multicast {
                    group,
                    ttl: 1,
                    loopback: true,
                },
            },
        ];
        let mut drivers = UdpDriver::open_all(&media).unwrap();
        let driver = &mut drivers[0];
        // Our multicast send loops back to our own socket (loop on).
        driver.send(PathId(2), b"to the group").unwrap();
        // The unicast peer (127.0.0.2) sends to us directly.
        let peer = std::net::UdpSocket::bind("127.0.0.2:0").unwrap();
        peer.send_to(b"direct", SocketAddrV4::new(Ipv4Addr::LOCALHOST, port))
            .unwrap();
        let mut buf = [0u8; 64];
        let mut got = Vec::new();
        for _ in 0..2 {
            let recv = std::future::poll_fn(|cx| driver.poll_recv(cx, &mut buf));
            let (path, len) = tokio::time::timeout(Duration::from_secs(2), recv)
                .await
                .unwrap()
                .unwrap();
            got.push((path, buf[..len].to_vec()));
        }
        got.sort();
        assert_eq!(
            got,
            [
                (PathId(1), b"direct".to_vec()),
                (PathId(2), b"to the group".to_vec())
            ]
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_second_process_on_the_port_is_refused_not_shared() {
        let port = free_port();
        let medium = UdpMedium {
            path: PathId(0),
            iface: "lo".into(),
            port,
            kind: UdpKind::Unicast {
                peer: SocketAddrV4::new(Ipv4Addr::LOCALHOST, 9),
            },
        };
        let _first = UdpDriver::open(std::slice::from_ref(&medium)).unwrap();
        let err = UdpDriver::open(&[medium]).unwrap_err();
        assert!(
            err.to_string().contains("taken by another process"),
            "{err}"
        );
    }
}
