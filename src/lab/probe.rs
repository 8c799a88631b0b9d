//! Who answers for the VIP, as a client sees it.
//!
//! * [`Responder`]: a thread in a node's namespace, UDP `0.0.0.0:7777`,
//!   answering every probe with `<node name> <probe payload>`.
//! * [`Prober`]: in the client namespace, every tick (20 ms by default) one
//!   UDP datagram to VIP:7777 through the client's real ARP cache (reply
//!   timeout 50 ms), and one ARP who-has VIP from a watcher address
//!   (198.18.k.251, its own MAC, so the answers never touch the client's
//!   ARP cache) whose every answering MAC is recorded.
//! * [`Trace`]: the ticks, and what the tests and the benchmark ask of them:
//!   the first answer from a node after an instant, gaps, and violations of
//!   "at no probe instant do two nodes answer for the VIP" (two different
//!   responders, or two different MACs, within one tick).

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use ironbeat_link::wire::arp::{self, MacAddr, Operation};
use pnet_datalink::{Channel, ChannelType, DataLinkReceiver, DataLinkSender};

use super::command::spawn_in_netns;
use super::{Lab, RESPONDER_PORT};

/// A node's "who owns the VIP" responder; stops on drop.
#[derive(Debug)]
pub struct Responder {
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<Result<()>>>,
}

impl Responder {
    /// Binds UDP 7777 in `netns` and answers with `name`.
    pub fn start(netns: &str, name: &str) -> Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<()>>();
        let tag = name.as_bytes().to_vec();
        let thread = spawn_in_netns(&format!("lab-responder-{name}"), netns, move || {
            let socket = match UdpSocket::bind(("0.0.0.0", RESPONDER_PORT)) {
                Ok(s) => s,
                Err(e) => {
                    let _ =
                        ready_tx.send(Err(anyhow::anyhow!("binding UDP {RESPONDER_PORT}: {e}")));
                    return Ok(());
                }
            };
            socket.set_read_timeout(Some(Duration::from_millis(100)))?;
            let _ = ready_tx.send(Ok(()));
            let mut buf = [0u8; 256];
            let mut reply = Vec::with_capacity(128);
            while !flag.load(Ordering::SeqCst) {
                let Ok((n, peer)) = socket.recv_from(&mut buf) else {
                    continue;
                };
                // Lab addresses only (198.18.0.0/15).
                let std::net::SocketAddr::V4(v4) = peer else {
                    continue;
                };
                let o = v4.ip().octets();
                if o[0] != 198 || (o[1] != 18 && o[1] != 19) {
                    continue;
                }
                reply.clear();
                reply.extend_from_slice(&tag);
                reply.push(b' ');
                reply.extend_from_slice(&buf[..n.min(64)]);
                let _ = socket.send_to(&reply, peer);
            }
            Ok(())
        })?;
        ready_rx
            .recv_timeout(Duration::from_secs(5))
            .context("the responder thread did not start")??;
        Ok(Responder {
            stop,
            thread: Some(thread),
        })
    }

    /// Stops the thread (within 100 ms).
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        self.stop();
    }
}

/// How the prober probes.
#[derive(Debug, Clone)]
pub struct ProbeOptions {
    /// Time between probes (20 ms).
    pub interval: Duration,
    /// How long a reply may take (50 ms).
    pub timeout: Duration,
    /// The prober stops by itself after this long (1 h).
    pub max_duration: Duration,
    /// Watch ARP as well (on).
    pub arp: bool,
}

impl Default for ProbeOptions {
    fn default() -> Self {
        ProbeOptions {
            interval: Duration::from_millis(20),
            timeout: Duration::from_millis(50),
            max_duration: Duration::from_secs(3600),
            arp: true,
        }
    }
}

/// One probe instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tick {
    /// When the probe was sent.
    pub at: Instant,
    /// Every node that answered the UDP probe in time (first first).
    pub responders: Vec<String>,
    /// The round trip of the first answer.
    pub rtt: Option<Duration>,
    /// Every node (or unknown MAC, as text) that answered the ARP who-has
    /// during this tick.
    pub arp: Vec<String>,
}

impl Tick {
    /// The first node that answered, if any.
    pub fn answered_by(&self) -> Option<&str> {
        self.responders.first().map(String::as_str)
    }

    /// Two different nodes answered at this instant (UDP or ARP).
    pub fn is_violation(&self) -> bool {
        self.responders.len() > 1 || self.arp.len() > 1
    }
}

/// A run of unanswered probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gap {
    /// The first unanswered probe.
    pub start: Instant,
    /// From it to the next answered probe (a multiple of the interval).
    pub length: Duration,
}

/// What the prober saw.
#[derive(Debug, Clone)]
pub struct Trace {
    ticks: Vec<Tick>,
    interval: Duration,
}

impl Trace {
    /// Every tick, oldest first.
    pub fn ticks(&self) -> &[Tick] {
        &self.ticks
    }

    fn from(&self, after: Instant) -> &[Tick] {
        let i = self.ticks.partition_point(|t| t.at < after);
        &self.ticks[i..]
    }

    /// The first probe at or after `after` that `node` answered (UDP).
    pub fn first_answer(&self, node: &str, after: Instant) -> Option<Instant> {
        self.from(after)
            .iter()
            .find(|t| t.answered_by() == Some(node))
            .map(|t| t.at)
    }

    /// How many probes at or after `after` `node` answered (UDP), and in how
    /// many it answered the ARP watch.
    pub fn answers_from(&self, node: &str, after: Instant) -> (usize, usize) {
        let ticks = self.from(after);
        (
            ticks
                .iter()
                .filter(|t| t.answered_by() == Some(node))
                .count(),
            ticks
                .iter()
                .filter(|t| t.arp.iter().any(|n| n == node))
                .count(),
        )
    }

    /// Runs of unanswered probes between `from` and `to`.
    pub fn gaps(&self, from: Instant, to: Instant) -> Vec<Gap> {
        let mut gaps = Vec::new();
        let mut open: Option<Instant> = None;
        for t in self.from(from).iter().take_while(|t| t.at <= to) {
            match (t.answered_by(), open) {
                (None, None) => open = Some(t.at),
                (Some(_), Some(start)) => {
                    gaps.push(Gap {
                        start,
                        length: t.at - start,
                    });
                    open = None;
                }
                _ => {}
            }
        }
        if let (Some(start), Some(last)) = (open, self.ticks.last()) {
            gaps.push(Gap {
                start,
                length: last.at.min(to) - start + self.interval,
            });
        }
        gaps
    }

    /// The longest gap between `from` and `to` (zero if none).
    pub fn longest_gap(&self, from: Instant, to: Instant) -> Duration {
        self.gaps(from, to)
            .iter()
            .map(|g| g.length)
            .max()
            .unwrap_or_default()
    }

    /// Every tick at which two different nodes answered for the VIP.
    pub fn violations(&self) -> Vec<&Tick> {
        self.ticks.iter().filter(|t| t.is_violation()).collect()
    }

    /// Violations at or after `after`.
    pub fn violations_after(&self, after: Instant) -> Vec<&Tick> {
        self.from(after)
            .iter()
            .filter(|t| t.is_violation())
            .collect()
    }
}

#[derive(Debug, Default)]
struct Shared {
    ticks: Vec<Tick>,
}

/// The running prober (client namespace); stops on drop.
#[derive(Debug)]
pub struct Prober {
    shared: Arc<Mutex<Shared>>,
    stop: Arc<AtomicBool>,
    threads: Vec<thread::JoinHandle<Result<()>>>,
    interval: Duration,
    timeout: Duration,
}

fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    // A panic while holding the lock leaves plain data behind; keep going.
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

type ArpChannel = (Box<dyn DataLinkSender>, Box<dyn DataLinkReceiver>);

fn arp_channel() -> Result<ArpChannel> {
    let interface = pnet_datalink::interfaces()
        .into_iter()
        .find(|i| i.name == "eth0")
        .context("the client has no eth0")?;
    // A SOCK_RAW packet socket (whole Ethernet frames both ways), created
    // with protocol 0 so it receives nothing until pnet binds it to ARP on
    // eth0 (pnet's own Layer3 sockets would be SOCK_DGRAM, without headers).
    let socket = nix::sys::socket::socket(
        nix::sys::socket::AddressFamily::Packet,
        nix::sys::socket::SockType::Raw,
        nix::sys::socket::SockFlag::SOCK_CLOEXEC,
        None,
    )
    .context("opening a packet socket in the client namespace (root needed)")?;
    let config = pnet_datalink::Config {
        socket_fd: Some(std::os::fd::IntoRawFd::into_raw_fd(socket)),
        read_timeout: Some(Duration::from_millis(20)),
        write_timeout: Some(Duration::from_millis(5)),
        channel_type: ChannelType::Layer3(arp::ETHERTYPE_ARP),
        promiscuous: true,
        ..Default::default()
    };
    match pnet_datalink::channel(&interface, config) {
        Ok(Channel::Ethernet(tx, rx)) => Ok((tx, rx)),
        Ok(_) => bail!("eth0 is not an Ethernet channel"),
        Err(e) => Err(e).context("opening a packet socket on the client's eth0 (root needed)"),
    }
}

impl Prober {
    /// Starts probing `lab`'s VIP from its client namespace.
    pub fn start(lab: &Lab, options: ProbeOptions) -> Result<Self> {
        let vip = lab.vip();
        let k = lab.subnet();
        let names: BTreeMap<[u8; 6], String> = lab
            .nodes()
            .iter()
            .map(|n| (n.mac(), n.name().to_owned()))
            .collect();
        let watcher_mac = MacAddr([0x02, 0x00, 0xc6, 0x12, k, 0xfb]);
        let watcher_ip = Ipv4Addr::new(198, 18, k, 251);
        let shared = Arc::new(Mutex::new(Shared::default()));
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<()>>();
        let mut threads = Vec::new();
        let (s, flag) = (Arc::clone(&shared), Arc::clone(&stop));
        let o = options.clone();
        threads.push(spawn_in_netns(
            "lab-prober",
            lab.client_netns(),
            move || {
                let setup = (|| -> Result<(UdpSocket, Option<ArpChannel>)> {
                    let socket = UdpSocket::bind("0.0.0.0:0")?;
                    socket.set_read_timeout(Some(Duration::from_millis(1)))?;
                    let arp = if o.arp { Some(arp_channel()?) } else { None };
                    Ok((socket, arp))
                })();
                let (socket, arp) = match setup {
                    Ok(x) => x,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return Ok(());
                    }
                };
                let (tx, rx) = match arp {
                    Some((tx, rx)) => (Some(tx), Some(rx)),
                    None => (None, None),
                };
                let watch = rx.map(|rx| {
                    let (s2, f2) = (Arc::clone(&s), Arc::clone(&flag));
                    thread::Builder::new()
                        .name("lab-arp-watch".into())
                        .spawn(move || arp_watch(rx, &s2, &f2, vip, watcher_ip, &names))
                });
                let _ = ready_tx.send(Ok(()));
                probe_loop(&socket, tx, &s, &flag, &o, vip, (watcher_mac, watcher_ip));
                flag.store(true, Ordering::SeqCst);
                if let Some(Ok(w)) = watch {
                    let _ = w.join();
                }
                Ok(())
            },
        )?);
        ready_rx
            .recv_timeout(Duration::from_secs(5))
            .context("the prober did not start")??;
        Ok(Prober {
            shared,
            stop,
            threads,
            interval: options.interval,
            timeout: options.timeout,
        })
    }

    /// A copy of what was seen so far.
    pub fn snapshot(&self) -> Trace {
        Trace {
            ticks: lock(&self.shared).ticks.clone(),
            interval: self.interval,
        }
    }

    /// Waits (at most `limit`) for the first probe at or after `after`
    /// answered by `node`; the probe's instant.
    pub fn wait_for_answer(&self, node: &str, after: Instant, limit: Duration) -> Option<Instant> {
        let end = Instant::now() + limit;
        let mut from = 0;
        loop {
            {
                let shared = lock(&self.shared);
                let start = from.max(shared.ticks.partition_point(|t| t.at < after));
                if let Some(t) = shared.ticks[start..]
                    .iter()
                    .find(|t| t.answered_by() == Some(node))
                {
                    return Some(t.at);
                }
                // Ticks younger than a timeout may still get their answer.
                let pending =
                    (self.timeout.as_micros() / self.interval.as_micros().max(1)) as usize + 2;
                from = shared.ticks.len().saturating_sub(pending).max(start);
            }
            if Instant::now() >= end {
                return None;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits until `node` answered `count` probes in a row (at most
    /// `limit`); the instant of the first of them.
    pub fn wait_for_steady(&self, node: &str, count: usize, limit: Duration) -> Option<Instant> {
        let end = Instant::now() + limit;
        let since = Instant::now();
        loop {
            {
                let shared = lock(&self.shared);
                let ticks = &shared.ticks[shared.ticks.partition_point(|t| t.at < since)..];
                let mut run = 0;
                for (i, t) in ticks.iter().enumerate() {
                    if t.answered_by() == Some(node) && !t.is_violation() {
                        run += 1;
                        if run >= count {
                            return Some(ticks[i + 1 - count].at);
                        }
                    } else {
                        run = 0;
                    }
                }
            }
            if Instant::now() >= end {
                return None;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Stops probing and returns everything seen.
    pub fn stop(mut self) -> Trace {
        self.halt();
        self.snapshot()
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

impl Drop for Prober {
    fn drop(&mut self) {
        self.halt();
    }
}

fn probe_loop(
    socket: &UdpSocket,
    mut arp_tx: Option<Box<dyn DataLinkSender>>,
    shared: &Mutex<Shared>,
    stop: &AtomicBool,
    o: &ProbeOptions,
    vip: Ipv4Addr,
    (watcher_mac, watcher_ip): (MacAddr, Ipv4Addr),
) {
    let target = SocketAddrV4::new(vip, RESPONDER_PORT);
    let who_has = arp::Repr {
        destination: MacAddr::BROADCAST,
        source: watcher_mac,
        operation: Operation::Request,
        sender_hardware_addr: watcher_mac,
        sender_protocol_addr: watcher_ip,
        target_hardware_addr: MacAddr::ZERO,
        target_protocol_addr: vip,
    };
    let mut frame = [0u8; arp::FRAME_LEN];
    who_has.emit(&mut arp::Packet::new_unchecked(&mut frame[..]));
    let start = Instant::now();
    let max_ticks = (o.max_duration.as_millis() / o.interval.as_millis().max(1)) as usize + 1;
    let mut next = start;
    let mut buf = [0u8; 256];
    while !stop.load(Ordering::SeqCst) && start.elapsed() < o.max_duration {
        let now = Instant::now();
        if now >= next {
            let seq = {
                let mut s = lock(shared);
                if s.ticks.len() >= max_ticks {
                    break;
                }
                s.ticks.push(Tick {
                    at: now,
                    responders: Vec::new(),
                    rtt: None,
                    arp: Vec::new(),
                });
                s.ticks.len() - 1
            };
            let _ = socket.send_to(seq.to_string().as_bytes(), target);
            if let Some(tx) = arp_tx.as_mut() {
                let _ = tx.send_to(&frame, None);
            }
            next += o.interval;
            if next < now {
                // Fell behind: do not burst.
                next = now + o.interval;
            }
        }
        if let Ok((n, _)) = socket.recv_from(&mut buf) {
            let received = Instant::now();
            if let Some((node, seq)) = parse_reply(&buf[..n]) {
                let mut s = lock(shared);
                if let Some(t) = s.ticks.get_mut(seq) {
                    if received - t.at <= o.timeout && !t.responders.iter().any(|r| r == node) {
                        if t.responders.is_empty() {
                            t.rtt = Some(received - t.at);
                        }
                        t.responders.push(node.to_owned());
                    }
                }
            }
        }
    }
}

/// A responder's answer: `<node name> <probe sequence number>`, both
/// printable ASCII; anything else is ignored.
fn parse_reply(bytes: &[u8]) -> Option<(&str, usize)> {
    let text = std::str::from_utf8(bytes).ok()?;
    let (node, seq) = text.split_once(' ')?;
    let printable = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_graphic());
    if !printable(node) || !printable(seq) || node.len() > 64 {
        return None;
    }
    Some((node, seq.parse().ok()?))
}

fn arp_watch(
    mut rx: Box<dyn DataLinkReceiver>,
    shared: &Mutex<Shared>,
    stop: &AtomicBool,
    vip: Ipv4Addr,
    watcher_ip: Ipv4Addr,
    names: &BTreeMap<[u8; 6], String>,
) {
    while !stop.load(Ordering::SeqCst) {
        let Ok(bytes) = rx.next() else {
            continue;
        };
        let received = Instant::now();
        let Ok(packet) = arp::Packet::new_checked(bytes) else {
            continue;
        };
        let Ok(repr) = arp::Repr::parse(&packet) else {
            continue;
        };
        if repr.operation != Operation::Reply
            || repr.sender_protocol_addr != vip
            || repr.target_protocol_addr != watcher_ip
        {
            continue;
        }
        let mac = repr.sender_hardware_addr.octets();
        let who = names
            .get(&mac)
            .cloned()
            .unwrap_or_else(|| repr.sender_hardware_addr.to_string());
        let mut s = lock(shared);
        let i = s.ticks.partition_point(|t| t.at <= received);
        if let Some(t) = i.checked_sub(1).and_then(|i| s.ticks.get_mut(i)) {
            if !t.arp.contains(&who) {
                t.arp.push(who);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tick(at: Instant, responders: &[&str], arp: &[&str]) -> Tick {
        Tick {
            at,
            responders: responders.iter().map(|s| (*s).to_owned()).collect(),
            rtt: None,
            arp: arp.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn replies_parse_and_hostile_ones_are_ignored() {
        assert_eq!(parse_reply(b"node1 0"), Some(("node1", 0)));
        assert_eq!(parse_reply(b"node12 4711"), Some(("node12", 4711)));
        for bad in [
            &b""[..],
            b" ",
            b"node1",
            b"node1 ",
            b" 5",
            b"node1 -1",
            b"node1 5 6",
            b"node1 99999999999999999999999",
            b"no\xffde 1",
            b"node1\n 1",
            b"node1 1\n",
            &[b'n'; 300],
        ] {
            assert_eq!(parse_reply(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn trace_answers_gaps_and_violations() {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let trace = Trace {
            ticks: vec![
                tick(ms(0), &["node1"], &["node1"]),
                tick(ms(20), &[], &[]),
                tick(ms(40), &[], &["node1", "node2"]),
                tick(ms(60), &["node2"], &["node2"]),
                tick(ms(80), &["node2", "node1"], &["node2"]),
                tick(ms(100), &[], &[]),
            ],
            interval: Duration::from_millis(20),
        };
        assert_eq!(trace.first_answer("node2", ms(0)), Some(ms(60)));
        assert_eq!(trace.first_answer("node1", ms(1)), None);
        assert_eq!(trace.answers_from("node2", ms(0)), (2, 3));
        let gaps = trace.gaps(ms(0), ms(1000));
        assert_eq!(gaps.len(), 2);
        assert_eq!(gaps[0].start, ms(20));
        assert_eq!(gaps[0].length, Duration::from_millis(40));
        assert_eq!(gaps[1].length, Duration::from_millis(20));
        assert_eq!(
            trace.longest_gap(ms(0), ms(1000)),
            Duration::from_millis(40)
        );
        let v: Vec<Instant> = trace.violations().iter().map(|t| t.at).collect();
        assert_eq!(v, vec![ms(40), ms(80)]);
        assert_eq!(trace.violations_after(ms(50)).len(), 1);
    }
}
