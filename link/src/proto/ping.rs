//! Ping nodes: heartbeat's `ping`, `ping6` and `ping_group` directives.
//!
//! A ping node is a host that is not a cluster member (typically the
//! gateway) and tells a node whether it is still connected to the network
//! its clients are on. Every `interval` each host gets an ICMP echo request;
//! a target (one ping node, or a group, which is up while any of its hosts
//! answers) is up once a reply comes back and down when none has for
//! `deadping` (ha.cf `deadping`, default deadtime). A target never heard is
//! reported down `deadping` after start. [`Pinger::connectivity`], the
//! number of targets up, is what the cluster compares between nodes: a node
//! that reaches fewer targets than another gives its resources away.
//!
//! Replies are accepted only from the target's own address, with our
//! identifier, a sequence number among the last [`SEQ_WINDOW`] sent, and
//! the 8-byte token of this pinger in the payload: stray replies of other
//! pingers on the machine, or old ones, do not count.

use std::collections::VecDeque;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::wire::icmp;

/// How many of the latest sequence numbers a reply may carry.
pub const SEQ_WINDOW: u16 = 64;

/// One thing to reach: a ping node (one host) or a ping group (any host).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PingTarget {
    /// The name in events: the host for `ping`, the group name for `ping_group`.
    pub name: String,
    /// Its addresses.
    pub hosts: Vec<IpAddr>,
}

/// How a [`Pinger`] runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PingConfig {
    /// The targets.
    pub targets: Vec<PingTarget>,
    /// Time between echo requests to each host (ha.cf `keepalive`).
    pub interval: Duration,
    /// Silence after which a target is down (ha.cf `deadping`).
    pub deadping: Duration,
    /// The ICMP identifier of our requests.
    pub ident: u16,
    /// Echoed in every payload: replies without it are not ours.
    pub token: u64,
}

/// A reachability change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PingEvent {
    /// The target answers (first time, or again).
    Up {
        /// [`PingTarget::name`].
        target: String,
    },
    /// The target has not answered for `deadping` (or never did).
    Down {
        /// [`PingTarget::name`].
        target: String,
    },
}

/// An echo request to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// The host.
    pub to: IpAddr,
    /// The ICMP or ICMPv6 message (no IP header).
    pub message: Vec<u8>,
}

#[derive(Debug)]
struct Host {
    addr: IpAddr,
    target: usize,
    last_reply: Option<Instant>,
}

#[derive(Debug)]
struct Target {
    name: String,
    up: Option<bool>,
}

/// The ping state machine: see the module documentation.
#[derive(Debug)]
pub struct Pinger {
    config: PingConfig,
    hosts: Vec<Host>,
    targets: Vec<Target>,
    started: Instant,
    next_send: Instant,
    seq: u16,
    transmits: VecDeque<Transmit>,
    events: VecDeque<PingEvent>,
}

impl Pinger {
    /// A pinger starting at `now`; its first requests are due at once.
    pub fn new(config: PingConfig, now: Instant) -> Pinger {
        let mut hosts = Vec::new();
        let mut targets = Vec::new();
        for (index, target) in config.targets.iter().enumerate() {
            targets.push(Target {
                name: target.name.clone(),
                up: None,
            });
            for addr in &target.hosts {
                hosts.push(Host {
                    addr: *addr,
                    target: index,
                    last_reply: None,
                });
            }
        }
        Pinger {
            config,
            hosts,
            targets,
            started: now,
            next_send: now,
            seq: 0,
            transmits: VecDeque::new(),
            events: VecDeque::new(),
        }
    }

    /// Sends the requests that are due and judges every target.
    pub fn handle_timeout(&mut self, now: Instant) {
        if now >= self.next_send {
            self.seq = self.seq.wrapping_add(1);
            let payload = self.config.token.to_be_bytes();
            for host in &self.hosts {
                self.transmits.push_back(Transmit {
                    to: host.addr,
                    message: icmp::echo_request(
                        host.addr.is_ipv6(),
                        self.config.ident,
                        self.seq,
                        &payload,
                    ),
                });
            }
            self.next_send += self.config.interval;
            if self.next_send <= now {
                // After a stall, keep the pace from now instead of bursting.
                self.next_send = now + self.config.interval;
            }
        }
        self.judge(now);
    }

    /// Takes an ICMP message (no IP header) received from `from`; returns
    /// whether it was a reply to us.
    pub fn handle_reply(&mut self, now: Instant, from: IpAddr, message: &[u8]) -> bool {
        let Some(reply) = icmp::parse_echo_reply(from.is_ipv6(), message) else {
            return false;
        };
        if reply.ident != self.config.ident
            || reply.payload != self.config.token.to_be_bytes()
            || self.seq.wrapping_sub(reply.seq) >= SEQ_WINDOW
        {
            return false;
        }
        let mut accepted = false;
        for host in self.hosts.iter_mut().filter(|h| h.addr == from) {
            host.last_reply = Some(now);
            accepted = true;
        }
        if accepted {
            self.judge(now);
        }
        accepted
    }

    fn judge(&mut self, now: Instant) {
        let deadping = self.config.deadping;
        for (index, target) in self.targets.iter_mut().enumerate() {
            let heard = self
                .hosts
                .iter()
                .filter(|h| h.target == index)
                .filter_map(|h| h.last_reply)
                .any(|at| now.saturating_duration_since(at) < deadping);
            let verdict = if heard {
                Some(true)
            } else if target.up == Some(true)
                || now.saturating_duration_since(self.started) >= deadping
            {
                Some(false)
            } else {
                None
            };
            if verdict.is_some() && verdict != target.up {
                target.up = verdict;
                let name = target.name.clone();
                self.events.push_back(if heard {
                    PingEvent::Up { target: name }
                } else {
                    PingEvent::Down { target: name }
                });
            }
        }
    }

    /// The next request to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next reachability change.
    pub fn poll_event(&mut self) -> Option<PingEvent> {
        self.events.pop_front()
    }

    /// When [`Pinger::handle_timeout`] must run next: the next send, or the
    /// instant an up target would go down, whichever comes first.
    pub fn poll_timeout(&self) -> Instant {
        let deadping = self.config.deadping;
        let mut next = self.next_send;
        for (index, target) in self.targets.iter().enumerate() {
            let latest = self
                .hosts
                .iter()
                .filter(|h| h.target == index)
                .filter_map(|h| h.last_reply)
                .max();
            let deadline = match (target.up, latest) {
                (Some(true), Some(at)) => Some(at + deadping),
                (None, _) => Some(self.started + deadping),
                _ => None,
            };
            if let Some(deadline) = deadline {
                next = next.min(deadline);
            }
        }
        next
    }

    /// How many targets are up.
    pub fn connectivity(&self) -> u32 {
        let up = self.targets.iter().filter(|t| t.up == Some(true)).count();
        u32::try_from(up).unwrap_or(u32::MAX)
    }

    /// Every target with its state (`None`: not judged yet).
    pub fn targets(&self) -> impl Iterator<Item = (&str, Option<bool>)> {
        self.targets.iter().map(|t| (t.name.as_str(), t.up))
    }

    /// The identifier our requests carry.
    pub fn ident(&self) -> u16 {
        self.config.ident
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    const GW: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 254));
    const R1: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 252));
    const R2: IpAddr = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 253));

    fn pinger(now: Instant) -> Pinger {
        Pinger::new(
            PingConfig {
                targets: vec![
                    PingTarget {
                        name: "198.18.0.254".into(),
                        hosts: vec![GW],
                    },
                    PingTarget {
                        name: "routers".into(),
                        hosts: vec![R1, R2],
                    },
                ],
                interval: Duration::from_millis(100),
                deadping: Duration::from_millis(500),
                ident: 0x1b1b,
                token: 0x0102_0304_0506_0708,
            },
            now,
        )
    }

    /// The reply a host would send to `request`.
    fn reply_to(request: &[u8]) -> Vec<u8> {
        let mut reply = request.to_vec();
        reply[0] = icmp::ECHO_REPLY_V4;
        reply[2] = 0;
        reply[3] = 0;
        let sum = icmp::checksum(&reply);
        reply[2..4].copy_from_slice(&sum.to_be_bytes());
        reply
    }

    fn drain(p: &mut Pinger) -> Vec<Transmit> {
        std::iter::from_fn(|| p.poll_transmit()).collect()
    }

    fn events(p: &mut Pinger) -> Vec<PingEvent> {
        std::iter::from_fn(|| p.poll_event()).collect()
    }

    #[test]
    fn targets_go_up_on_replies_and_down_after_deadping() {
        let t0 = Instant::now();
        let mut p = pinger(t0);
        p.handle_timeout(t0);
        let sent = drain(&mut p);
        assert_eq!(sent.iter().map(|t| t.to).collect::<Vec<_>>(), [GW, R1, R2]);
        assert!(p.handle_reply(
            t0 + Duration::from_millis(1),
            GW,
            &reply_to(&sent[0].message)
        ));
        // One router of the group is enough.
        assert!(p.handle_reply(
            t0 + Duration::from_millis(2),
            R2,
            &reply_to(&sent[2].message)
        ));
        assert_eq!(
            events(&mut p),
            [
                PingEvent::Up {
                    target: "198.18.0.254".into()
                },
                PingEvent::Up {
                    target: "routers".into()
                }
            ]
        );
        assert_eq!(p.connectivity(), 2);
        // The gateway keeps answering; the routers fall silent.
        let mut now = t0;
        for _ in 0..8 {
            now = p.poll_timeout();
            p.handle_timeout(now);
            for t in drain(&mut p) {
                if t.to == GW {
                    p.handle_reply(now, GW, &reply_to(&t.message));
                }
            }
        }
        assert_eq!(
            events(&mut p),
            [PingEvent::Down {
                target: "routers".into()
            }]
        );
        assert_eq!(p.connectivity(), 1);
        assert!(now >= t0 + Duration::from_millis(502));
    }

    #[test]
    fn never_heard_targets_are_down_after_deadping() {
        let t0 = Instant::now();
        let mut p = pinger(t0);
        p.handle_timeout(t0);
        p.handle_timeout(t0 + Duration::from_millis(499));
        assert!(events(&mut p).is_empty());
        assert_eq!(p.poll_timeout(), t0 + Duration::from_millis(500));
        p.handle_timeout(t0 + Duration::from_millis(500));
        assert_eq!(events(&mut p).len(), 2);
        assert_eq!(p.connectivity(), 0);
    }

    #[test]
    fn foreign_and_stale_replies_do_not_count() {
        let t0 = Instant::now();
        let mut p = pinger(t0);
        p.handle_timeout(t0);
        let request = drain(&mut p).remove(0).message;
        // Another address.
        let stranger = IpAddr::V4(Ipv4Addr::new(198, 18, 9, 9));
        assert!(!p.handle_reply(t0, stranger, &reply_to(&request)));
        // Another identifier.
        let mut other = request.clone();
        other[4] ^= 0xff;
        assert!(!p.handle_reply(t0, GW, &reply_to(&other)));
        // Another token.
        let mut other = request.clone();
        other[9] ^= 0xff;
        assert!(!p.handle_reply(t0, GW, &reply_to(&other)));
        // The request itself (loopback delivers our own requests).
        assert!(!p.handle_reply(t0, GW, &request));
        // A sequence number from long ago.
        for i in 1..=u64::from(SEQ_WINDOW) {
            p.handle_timeout(t0 + Duration::from_millis(100 * i));
        }
        assert!(!p.handle_reply(t0, GW, &reply_to(&request)));
        assert_eq!(p.connectivity(), 0);
    }

    #[test]
    fn hostile_replies_never_panic() {
        let t0 = Instant::now();
        let mut p = pinger(t0);
        let mut state = 0x2545_f491_u32;
        for len in 0..64 {
            for _ in 0..100 {
                let bytes: Vec<u8> = (0..len)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 17;
                        state ^= state << 5;
                        state as u8
                    })
                    .collect();
                p.handle_reply(t0, GW, &bytes);
            }
        }
    }
}
