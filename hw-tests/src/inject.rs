//! Code that runs inside a namespace: capture datagrams off the wire, send
//! crafted ones.
//!
//! [`in_netns`] runs a closure on a fresh thread that first joins the target
//! network namespace (`setns(CLONE_NEWNET)` affects only the calling thread),
//! so sockets it opens live in that namespace.

use std::fs::File;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::os::fd::AsRawFd;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use nix::sched::{setns, CloneFlags};
use nix::sys::socket::{self, sockopt, AddressFamily, MsgFlags, SockFlag, SockProtocol, SockType};
use nix::sys::time::{TimeVal, TimeValLike};

use crate::Result;

/// Runs `f` on a thread inside network namespace `ns` and returns its result.
pub fn in_netns<T, F>(ns: &str, f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    let handle = File::open(format!("/run/netns/{ns}"))
        .with_context(|| format!("namespace {ns} does not exist"))?;
    thread::spawn(move || {
        setns(&handle, CloneFlags::CLONE_NEWNET).context("setns")?;
        f()
    })
    .join()
    .map_err(|_| anyhow!("thread in namespace panicked"))?
}

/// A UDP datagram seen on the wire.
#[derive(Debug, Clone)]
pub struct Datagram {
    /// Source address and port.
    pub src: SocketAddrV4,
    /// Destination address and port.
    pub dst: SocketAddrV4,
    /// The UDP payload.
    pub payload: Vec<u8>,
}

/// Captures, on every interface of namespace `ns` (AF_PACKET, both
/// directions), the first IPv4 UDP datagram to `port` whose payload satisfies
/// `wanted`, waiting up to `timeout`.
pub fn capture_udp(
    ns: &str,
    port: u16,
    timeout: Duration,
    wanted: impl Fn(&[u8]) -> bool + Send + 'static,
) -> Result<Datagram> {
    in_netns(ns, move || {
        let fd = socket::socket(
            AddressFamily::Packet,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::EthAll,
        )
        .context("AF_PACKET socket")?;
        socket::setsockopt(&fd, sockopt::ReceiveTimeout, &TimeVal::milliseconds(50))?;
        let end = Instant::now() + timeout;
        let mut buf = vec![0u8; 65536];
        while Instant::now() < end {
            let n = match socket::recv(fd.as_raw_fd(), &mut buf, MsgFlags::empty()) {
                Ok(n) => n,
                Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR) => continue,
                Err(e) => return Err(e).context("recv on AF_PACKET socket"),
            };
            if let Some(d) = parse_udp(&buf[..n]) {
                if d.dst.port() == port && wanted(&d.payload) {
                    return Ok(d);
                }
            }
        }
        bail!("no matching UDP datagram to port {port} within {timeout:?}")
    })
}

/// Sends each payload as one UDP datagram from an ephemeral port in `ns` to
/// `dest`, `gap` apart.
pub fn send_udp(ns: &str, dest: SocketAddr, payloads: Vec<Vec<u8>>, gap: Duration) -> Result<()> {
    in_netns(ns, move || {
        let sock = UdpSocket::bind("0.0.0.0:0")?;
        sock.set_broadcast(true)?;
        for (i, p) in payloads.iter().enumerate() {
            if i > 0 {
                thread::sleep(gap);
            }
            sock.send_to(p, dest)
                .with_context(|| format!("send to {dest}"))?;
        }
        Ok(())
    })
}

/// Parses Ethernet II / IPv4 / UDP; `None` for anything else.
pub fn parse_udp(frame: &[u8]) -> Option<Datagram> {
    let ethertype = u16::from_be_bytes([*frame.get(12)?, *frame.get(13)?]);
    if ethertype != 0x0800 {
        return None;
    }
    let ip = frame.get(14..)?;
    let version_ihl = *ip.first()?;
    if version_ihl >> 4 != 4 || *ip.get(9)? != 17 {
        return None;
    }
    let ihl = usize::from(version_ihl & 0x0f) * 4;
    let total = usize::from(u16::from_be_bytes([*ip.get(2)?, *ip.get(3)?]));
    let src = Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15]);
    let dst = Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19]);
    let udp = ip.get(ihl..total.min(ip.len()))?;
    let sport = u16::from_be_bytes([*udp.first()?, *udp.get(1)?]);
    let dport = u16::from_be_bytes([*udp.get(2)?, *udp.get(3)?]);
    let payload = udp.get(8..)?.to_vec();
    Some(Datagram {
        src: SocketAddrV4::new(src, sport),
        dst: SocketAddrV4::new(dst, dport),
        payload,
    })
}
