//! Raw Ethernet paths (`ether IF`): heartbeat frames straight on the wire, no IP.
//!
//! Frames go to `ff:ff:ff:ff:ff:ff` with EtherType 0x88B5 (IEEE 802 "local
//! experimental EtherType 1"); the heartbeat frame follows the 14-byte header
//! and is trimmed to the length its own header states (short Ethernet frames
//! arrive padded to 60 bytes).
//!
//! Receiving uses an `AF_PACKET` socket bound to 0x88B5 on the interface, so the
//! kernel filters by EtherType and the reader sees nothing else. pnet's receiver
//! blocks, so it runs on a dedicated thread that forwards frames through a
//! channel and wakes every [`READ_TIMEOUT`] to notice the driver was dropped.
//! Sending uses a second packet socket bound to protocol 0, which receives
//! nothing. Both reopen the interface by name after errors (interface removed
//! and recreated), backing off from 100 ms to 1 s.

use std::io;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use pnet_datalink::{Channel, ChannelType, DataLinkReceiver, DataLinkSender};
use socket2::{Domain, Socket, Type};
use std::os::fd::IntoRawFd;
use tokio::sync::mpsc;

use crate::wire::frame::{Packet, HEADER_LEN};
use crate::{Error, PathId};

/// Our EtherType: IEEE 802 local experimental EtherType 1.
pub const ETHERTYPE: u16 = 0x88B5;
/// The broadcast MAC address.
pub const BROADCAST_MAC: [u8; 6] = [0xff; 6];
/// Length of the Ethernet header (destination, source, EtherType).
pub const ETHERNET_HEADER_LEN: usize = 14;
/// How often the reader thread wakes without traffic to check for shutdown.
pub const READ_TIMEOUT: Duration = Duration::from_millis(250);
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(1);
const QUEUE: usize = 64;

/// What the reader thread reports.
#[derive(Debug)]
enum ReaderInput {
    Frame(Vec<u8>),
    Fault(String),
    Restored,
}

/// What an Ethernet path yields to the runner.
#[derive(Debug, PartialEq, Eq)]
pub enum EtherInput {
    /// A heartbeat frame of `len` bytes was copied into the caller's buffer.
    Frame(usize),
    /// The interface failed (reported once per outage).
    Fault(String),
    /// The interface works again.
    Restored,
}

/// A raw Ethernet path on one interface.
pub struct EtherDriver {
    path: PathId,
    iface: String,
    sender: RawSender,
    frame: Vec<u8>,
    inbound: mpsc::Receiver<ReaderInput>,
}

impl std::fmt::Debug for EtherDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtherDriver")
            .field("path", &self.path)
            .field("iface", &self.iface)
            .finish_non_exhaustive()
    }
}

/// Sends complete Ethernet frames on one interface (GARP, IPv6 NA, ours).
pub struct RawSender {
    iface: String,
    mac: [u8; 6],
    tx: Option<Box<dyn DataLinkSender>>,
    retry_at: Instant,
    backoff: Duration,
}

impl std::fmt::Debug for RawSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawSender")
            .field("iface", &self.iface)
            .field("mac", &self.mac)
            .finish_non_exhaustive()
    }
}

impl EtherDriver {
    /// Opens `iface` for path `path` and starts its reader thread.
    pub fn open(path: PathId, iface: &str) -> Result<Self, Error> {
        let sender = RawSender::open(iface)?;
        let rx = open_channel(iface, ETHERTYPE)?.1;
        let (tx, inbound) = mpsc::channel(QUEUE);
        let (name, mac) = (iface.to_owned(), sender.mac);
        std::thread::Builder::new()
            .name(format!("ether-{iface}"))
            .spawn(move || read_loop(&name, mac, rx, &tx))
            .map_err(|e| Error::io(format!("cannot start the reader thread for {iface}"), e))?;
        let mut frame = Vec::with_capacity(ETHERNET_HEADER_LEN + crate::wire::frame::MAX_FRAME_LEN);
        frame.extend_from_slice(&BROADCAST_MAC);
        frame.extend_from_slice(&mac);
        frame.extend_from_slice(&ETHERTYPE.to_be_bytes());
        Ok(EtherDriver {
            path,
            iface: iface.to_owned(),
            sender,
            frame,
            inbound,
        })
    }

    /// The path this driver serves.
    pub fn path(&self) -> PathId {
        self.path
    }

    /// The interface.
    pub fn iface(&self) -> &str {
        &self.iface
    }

    /// Broadcasts one heartbeat frame; never blocks.
    pub fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.frame.truncate(ETHERNET_HEADER_LEN);
        self.frame.extend_from_slice(bytes);
        self.sender.send(&self.frame)
    }

    /// The next frame (copied into `buf`) or a change of the interface's state.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<EtherInput> {
        match self.inbound.poll_recv(cx) {
            Poll::Ready(Some(ReaderInput::Frame(frame))) => {
                let len = frame.len().min(buf.len());
                buf[..len].copy_from_slice(&frame[..len]);
                Poll::Ready(EtherInput::Frame(len))
            }
            Poll::Ready(Some(ReaderInput::Fault(detail))) => Poll::Ready(EtherInput::Fault(detail)),
            Poll::Ready(Some(ReaderInput::Restored)) => Poll::Ready(EtherInput::Restored),
            // The reader thread ends only when we are dropped; stay quiet.
            Poll::Ready(None) | Poll::Pending => Poll::Pending,
        }
    }
}

impl RawSender {
    /// Opens a send-only packet socket on `iface`.
    pub fn open(iface: &str) -> Result<Self, Error> {
        let (tx, _) = open_channel(iface, 0)?;
        Ok(RawSender {
            iface: iface.to_owned(),
            mac: interface_mac(iface)?,
            tx: Some(tx),
            retry_at: Instant::now(),
            backoff: FIRST_BACKOFF,
        })
    }

    /// The interface's MAC address.
    pub fn mac(&self) -> [u8; 6] {
        self.mac
    }

    /// Sends one complete Ethernet frame; never blocks (`WouldBlock`: the
    /// kernel queue is full, the frame is dropped). After an error the socket
    /// is reopened on a later call (at most once per backoff period).
    pub fn send(&mut self, frame: &[u8]) -> io::Result<()> {
        if self.tx.is_none() {
            let now = Instant::now();
            if now < self.retry_at {
                return Err(io::Error::new(
                    io::ErrorKind::NotConnected,
                    format!("{} is being reopened", self.iface),
                ));
            }
            match open_channel(&self.iface, 0) {
                Ok((tx, _)) => self.tx = Some(tx),
                Err(e) => {
                    self.retry_at = now + self.backoff;
                    self.backoff = (self.backoff * 2).min(MAX_BACKOFF);
                    return Err(io::Error::other(e.to_string()));
                }
            }
        }
        let result = match self.tx.as_mut().and_then(|tx| tx.send_to(frame, None)) {
            Some(result) => result,
            None => Err(io::Error::other("the frame exceeds pnet's write buffer")),
        };
        match result {
            Ok(()) => {
                self.backoff = FIRST_BACKOFF;
                Ok(())
            }
            // pnet polls with our zero timeout: "timed out" means the queue is full.
            Err(e) if e.kind() == io::ErrorKind::TimedOut => Err(io::ErrorKind::WouldBlock.into()),
            Err(e) => {
                self.tx = None;
                self.retry_at = Instant::now() + self.backoff;
                Err(e)
            }
        }
    }
}

/// Sends one complete Ethernet frame on `iface` (used by `send-arp`).
pub fn send_raw(iface: &str, frame: &[u8]) -> Result<(), Error> {
    RawSender::open(iface)?
        .send(frame)
        .map_err(|e| Error::io(format!("cannot send a raw frame on {iface}"), e))
}

/// The MAC address of `iface`.
pub fn interface_mac(iface: &str) -> Result<[u8; 6], Error> {
    let interface = find_interface(iface)?;
    interface.mac.map(|m| m.octets()).ok_or_else(|| {
        Error::config(format!(
            "interface {iface} has no MAC address (not Ethernet?); raw Ethernet paths and \
             gratuitous ARP need an Ethernet interface"
        ))
    })
}

/// The heartbeat frame inside an Ethernet frame of ours, trimmed of padding;
/// `None` for other EtherTypes, our own frames and runts.
pub fn decode(ethernet: &[u8], own_mac: [u8; 6]) -> Option<&[u8]> {
    if ethernet.len() < ETHERNET_HEADER_LEN || ethernet[12..14] != ETHERTYPE.to_be_bytes() {
        return None;
    }
    // The loopback device has the all-zero MAC on both ends: it cannot tell us
    // apart from a peer, so the endpoint's own-node check decides there.
    if ethernet[6..12] == own_mac && own_mac != [0; 6] {
        return None;
    }
    let body = &ethernet[ETHERNET_HEADER_LEN..];
    if body.len() < HEADER_LEN {
        return Some(body);
    }
    let header = Packet::new_unchecked(body);
    let stated = HEADER_LEN
        + usize::from(header.name_len())
        + usize::from(header.payload_len())
        + usize::from(header.auth_len());
    Some(&body[..stated.min(body.len())])
}

fn find_interface(iface: &str) -> Result<pnet_datalink::NetworkInterface, Error> {
    pnet_datalink::interfaces()
        .into_iter()
        .find(|i| i.name == iface)
        .ok_or_else(|| {
            Error::config(format!(
                "interface {iface:?} does not exist; check the medium line against `ip link`"
            ))
        })
}

/// The two halves of one packet socket.
type PacketChannel = (Box<dyn DataLinkSender>, Box<dyn DataLinkReceiver>);

/// A packet socket on `iface` bound to `ethertype` (0: send only).
pub(crate) fn open_channel(iface: &str, ethertype: u16) -> Result<PacketChannel, Error> {
    let interface = find_interface(iface)?;
    // Created with protocol 0 so it receives nothing until pnet binds it to
    // `ethertype` on this interface only (SOCK_RAW: whole frames both ways).
    let socket = Socket::new(Domain::PACKET, Type::RAW, None).map_err(|e| {
        Error::io(
            format!("cannot open a packet socket for {iface} (needs CAP_NET_RAW: run as root)"),
            e,
        )
    })?;
    let config = pnet_datalink::Config {
        read_timeout: Some(READ_TIMEOUT),
        write_timeout: Some(Duration::ZERO),
        channel_type: ChannelType::Layer3(ethertype),
        promiscuous: false,
        socket_fd: Some(socket.into_raw_fd()),
        ..Default::default()
    };
    match pnet_datalink::channel(&interface, config) {
        Ok(Channel::Ethernet(tx, rx)) => Ok((tx, rx)),
        Ok(_) => Err(Error::config(format!("{iface}: not an Ethernet channel"))),
        Err(e) => Err(Error::io(
            format!("cannot bind a packet socket to {iface}"),
            e,
        )),
    }
}

/// The reader thread: forwards our frames until the driver is dropped.
///
/// After a receive error it reports one fault and reopens the interface with a
/// growing backoff. Reopening a packet socket succeeds even on an interface
/// that is down, so the path is reported restored only when a frame of ours
/// arrives again; until then the backoff keeps growing (a down interface
/// costs one wake-up per second, not a fault/restore pair every 100 ms).
fn read_loop(
    iface: &str,
    mac: [u8; 6],
    mut rx: Box<dyn DataLinkReceiver>,
    out: &mpsc::Sender<ReaderInput>,
) {
    let mut faulted = false;
    let mut backoff = FIRST_BACKOFF;
    loop {
        match rx.next() {
            Ok(ethernet) => {
                if let Some(frame) = decode(ethernet, mac) {
                    if faulted {
                        faulted = false;
                        backoff = FIRST_BACKOFF;
                        let _ = out.try_send(ReaderInput::Restored);
                    }
                    let frame = ReaderInput::Frame(frame.to_vec());
                    if let Err(mpsc::error::TrySendError::Closed(_)) = out.try_send(frame) {
                        return;
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                if out.is_closed() {
                    return;
                }
            }
            Err(e) => {
                if !faulted {
                    faulted = true;
                    let detail = format!("ether {iface}: receive failed ({e}); reopening");
                    if out.try_send(ReaderInput::Fault(detail)).is_err() && out.is_closed() {
                        return;
                    }
                }
                rx = loop {
                    std::thread::sleep(backoff);
                    if out.is_closed() {
                        return;
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    if let Ok((_, rx)) = open_channel(iface, ETHERTYPE) {
                        break rx;
                    }
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ethernet(src: [u8; 6], ethertype: u16, body: &[u8]) -> Vec<u8> {
        let mut f = BROADCAST_MAC.to_vec();
        f.extend_from_slice(&src);
        f.extend_from_slice(&ethertype.to_be_bytes());
        f.extend_from_slice(body);
        f
    }

    fn frame() -> Vec<u8> {
        use crate::wire::frame::{MessageType, Repr};
        use crate::{ClusterId, Generation, NodeId};
        Repr {
            cluster_id: ClusterId(1),
            node_id: NodeId(2),
            node_name: "n",
            generation: Generation(1),
            sequence: 1,
            path_id: PathId(0),
            msg_type: MessageType::Heartbeat,
            key_index: 1,
            auth_len: 4,
            payload: &[0; 8],
        }
        .to_vec()
    }

    #[test]
    fn decode_trims_padding_and_filters() {
        let peer = [2, 0, 0, 0, 0, 1];
        let own = [2, 0, 0, 0, 0, 2];
        let f = frame();
        let mut padded = ethernet(peer, ETHERTYPE, &f);
        padded.extend_from_slice(&[0; 20]);
        assert_eq!(decode(&padded, own), Some(&f[..]));
        assert_eq!(decode(&ethernet(own, ETHERTYPE, &f), own), None);
        assert_eq!(decode(&ethernet(peer, 0x0800, &f), own), None);
        // Loopback: all-zero MACs are not filtered.
        assert_eq!(
            decode(&ethernet([0; 6], ETHERTYPE, &f), [0; 6]),
            Some(&f[..])
        );
    }

    #[test]
    fn decode_never_panics_on_hostile_bytes() {
        let f = frame();
        let full = ethernet([2, 0, 0, 0, 0, 1], ETHERTYPE, &f);
        for len in 0..=full.len() {
            let _ = decode(&full[..len], [2; 6]);
        }
        let mut lying = full.clone();
        lying[ETHERNET_HEADER_LEN + 32] = 0xff; // payload length far beyond the frame
        let body = decode(&lying, [2; 6]).unwrap();
        assert_eq!(body.len(), f.len());
        assert!(Packet::new_checked(body).is_err());
    }

    #[test]
    fn unknown_interface_is_a_config_error() {
        let err = interface_mac("ib-nonexist0").unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Config);
        assert!(err.to_string().contains("ip link"));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn two_drivers_on_loopback_exchange_frames() {
        let mut a = EtherDriver::open(PathId(0), "lo").unwrap();
        let mut b = EtherDriver::open(PathId(1), "lo").unwrap();
        let f = frame();
        let mut buf = [0u8; 1600];
        // The reader threads need a moment to be bound; retry a bounded number of times.
        let mut got = None;
        for _ in 0..20 {
            a.send(&f).unwrap();
            let recv = std::future::poll_fn(|cx| b.poll_recv(cx, &mut buf));
            if let Ok(input) = tokio::time::timeout(Duration::from_millis(100), recv).await {
                got = Some(input);
                break;
            }
        }
        assert_eq!(got, Some(EtherInput::Frame(f.len())));
        assert_eq!(&buf[..f.len()], &f[..]);
    }
}
