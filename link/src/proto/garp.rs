//! Sans-I/O announcement schedule for addresses that moved to this node:
//! gratuitous ARP for IPv4, unsolicited neighbour advertisements for IPv6.
//!
//! The default is what heartbeat's IPaddr2 ran, `send_arp -i 200 -r 5`: five
//! rounds 200 ms apart; in each round an ARP request, then 100 ms later an ARP
//! reply (some hosts heed only one of the two), all to broadcast. IPv6
//! addresses get one advertisement per round, at the round's start, as
//! resource-agents' `send_ua -i 200 -c 5` sends them. An optional refresh
//! repeats the whole burst a bounded number of times (keepalived's
//! `vrrp_garp_master_refresh` / `_repeat`).
//!
//! ```text
//!  t:      0     100    200    300   …  800    900 ms
//!  IPv4:   req   reply  req    reply    req    reply
//!  IPv6:   NA           NA              NA
//! ```
//!
//! Driver loop: after [`Announcer::announce`] or [`Announcer::handle_timeout`],
//! send every frame [`Announcer::poll_transmit`] yields on the interface, then
//! sleep until [`Announcer::poll_timeout`] (`None`: nothing scheduled).

use std::collections::VecDeque;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::{Duration, Instant};

use crate::wire::arp::{self, MacAddr, Operation};
use crate::wire::ndp;
use crate::Error;

/// Rounds per burst by default (`send_arp -r 5`).
pub const DEFAULT_COUNT: u32 = 5;
/// Time between rounds by default (`send_arp -i 200`).
pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(200);
/// Most rounds one burst may have.
pub const MAX_COUNT: u32 = 100;
/// Most refresh bursts after the first.
pub const MAX_REFRESH_BURSTS: u32 = 100;

/// Which ARP forms each round sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum GarpMode {
    /// ARP requests only (target MAC 00:00:00:00:00:00).
    Request,
    /// ARP replies only (target MAC = own MAC).
    Reply,
    /// A request, then half an interval later a reply (heartbeat's `send_arp`).
    #[default]
    Both,
}

impl fmt::Display for GarpMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GarpMode::Request => "request",
            GarpMode::Reply => "reply",
            GarpMode::Both => "both",
        })
    }
}

impl FromStr for GarpMode {
    type Err = Error;

    /// Parses `request`, `reply` or `both`.
    fn from_str(s: &str) -> Result<Self, Error> {
        match s {
            "request" => Ok(GarpMode::Request),
            "reply" => Ok(GarpMode::Reply),
            "both" => Ok(GarpMode::Both),
            other => Err(Error::config(format!(
                "unknown GARP mode {other:?}: use request, reply or both"
            ))),
        }
    }
}

/// Repeats the whole burst later, a bounded number of times.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Refresh {
    /// From the start of one burst to the start of the next.
    pub period: Duration,
    /// Bursts after the first (1..=[`MAX_REFRESH_BURSTS`]).
    pub bursts: u32,
}

/// What to announce and how often.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GarpConfig {
    /// The interface's MAC address, which the addresses now live at.
    pub mac: MacAddr,
    /// The addresses to announce, in this order within each round.
    pub addresses: Vec<IpAddr>,
    /// ARP forms per round (IPv6 always gets one advertisement per round).
    pub mode: GarpMode,
    /// Rounds per burst (1..=[`MAX_COUNT`]).
    pub count: u32,
    /// Time between rounds.
    pub interval: Duration,
    /// Optional repetition of the burst.
    pub refresh: Option<Refresh>,
}

impl GarpConfig {
    /// `send_arp -i 200 -r 5` for `addresses`: 5 rounds, 200 ms, both forms,
    /// no refresh.
    pub fn new(mac: MacAddr, addresses: Vec<IpAddr>) -> Self {
        GarpConfig {
            mac,
            addresses,
            mode: GarpMode::Both,
            count: DEFAULT_COUNT,
            interval: DEFAULT_INTERVAL,
            refresh: None,
        }
    }

    /// From a burst's first frame to its last.
    pub fn burst_duration(&self) -> Duration {
        let rounds = self.count.saturating_sub(1);
        let last_round = self.interval.checked_mul(rounds).unwrap_or(Duration::MAX);
        match self.mode {
            GarpMode::Both => last_round.saturating_add(self.interval / 2),
            GarpMode::Request | GarpMode::Reply => last_round,
        }
    }

    /// Checks the limits [`Announcer::new`] relies on.
    pub fn validate(&self) -> Result<(), Error> {
        if !self.mac.is_unicast() {
            return Err(Error::config(format!(
                "GARP source MAC {} is not a unicast address; give the interface's own MAC",
                self.mac
            )));
        }
        if self.addresses.is_empty() {
            return Err(Error::config("GARP needs at least one address to announce"));
        }
        for addr in &self.addresses {
            let bad = match addr {
                IpAddr::V4(v4) => v4.is_unspecified() || v4.is_broadcast() || v4.is_multicast(),
                IpAddr::V6(v6) => v6.is_unspecified() || v6.is_multicast(),
            };
            if bad {
                return Err(Error::config(format!(
                    "cannot announce {addr}: give a unicast address that this node takes over"
                )));
            }
        }
        if self.count == 0 || self.count > MAX_COUNT {
            return Err(Error::config(format!(
                "GARP count {} outside 1..={MAX_COUNT}",
                self.count
            )));
        }
        if let Some(refresh) = self.refresh {
            if refresh.bursts == 0 || refresh.bursts > MAX_REFRESH_BURSTS {
                return Err(Error::config(format!(
                    "GARP refresh count {} outside 1..={MAX_REFRESH_BURSTS}",
                    refresh.bursts
                )));
            }
            if refresh.period <= self.burst_duration() {
                return Err(Error::config(format!(
                    "GARP refresh period {:?} must be longer than one burst ({:?}); \
                     raise it or lower count/interval",
                    refresh.period,
                    self.burst_duration()
                )));
            }
        }
        Ok(())
    }

    fn steps_per_burst(&self) -> u32 {
        match self.mode {
            GarpMode::Both => self.count * 2, // count ≤ MAX_COUNT, no overflow
            GarpMode::Request | GarpMode::Reply => self.count,
        }
    }

    /// Offset of a step from the start of its burst.
    fn step_offset(&self, step: u32) -> Option<Duration> {
        match self.mode {
            GarpMode::Both => {
                let round = self.interval.checked_mul(step / 2)?;
                round.checked_add((self.interval / 2).checked_mul(step % 2)?)
            }
            GarpMode::Request | GarpMode::Reply => self.interval.checked_mul(step),
        }
    }
}

/// Prebuilt frames for one address.
#[derive(Debug, Clone)]
enum Frames {
    V4 { request: Vec<u8>, reply: Vec<u8> },
    V6 { advertisement: Vec<u8> },
}

/// Position in the schedule: which burst, which step within it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Cursor {
    burst: u32,
    step: u32,
}

/// The announcement schedule of one interface.
#[derive(Debug, Clone)]
pub struct Announcer {
    config: GarpConfig,
    frames: Vec<Frames>,
    start: Option<Instant>,
    cursor: Option<Cursor>,
    queue: VecDeque<Vec<u8>>,
    frames_queued: u64,
}

impl Announcer {
    /// An idle announcer; [`announce`](Self::announce) starts a burst.
    pub fn new(config: GarpConfig) -> Result<Self, Error> {
        config.validate()?;
        let frames = config
            .addresses
            .iter()
            .map(|addr| match addr {
                IpAddr::V4(v4) => Frames::V4 {
                    request: arp::gratuitous(config.mac, *v4, Operation::Request).to_vec(),
                    reply: arp::gratuitous(config.mac, *v4, Operation::Reply).to_vec(),
                },
                IpAddr::V6(v6) => Frames::V6 {
                    advertisement: ndp::unsolicited(config.mac, *v6).to_vec(),
                },
            })
            .collect();
        Ok(Announcer {
            config,
            frames,
            start: None,
            cursor: None,
            queue: VecDeque::new(),
            frames_queued: 0,
        })
    }

    /// (Re)starts the schedule at `now`: frames not yet polled are dropped and
    /// the first round's frames are ready at once.
    pub fn announce(&mut self, now: Instant) {
        self.queue.clear();
        self.start = Some(now);
        self.cursor = Some(Cursor { burst: 0, step: 0 });
        self.handle_timeout(now);
    }

    /// Cancels the schedule (the addresses left this node); drops unsent frames.
    pub fn stop(&mut self) {
        self.queue.clear();
        self.start = None;
        self.cursor = None;
    }

    /// Queues the frames of every step due at `now`. A driver that woke late
    /// gets at most one burst's worth of the most recent due steps; older ones
    /// are skipped rather than flooded onto the wire.
    pub fn handle_timeout(&mut self, now: Instant) {
        let mut due = 0u32;
        let mut probe = self.cursor;
        while let Some(cursor) = probe {
            match self.time_of(cursor) {
                Some(at) if at <= now => {
                    due += 1;
                    probe = self.after(cursor);
                }
                _ => break,
            }
        }
        let skip = due.saturating_sub(self.config.steps_per_burst());
        for index in 0..due {
            let Some(cursor) = self.cursor else { break };
            if index >= skip {
                self.queue_step(cursor.step);
            }
            self.cursor = self.after(cursor);
        }
        if self.cursor.is_none() {
            self.start = None;
        }
    }

    /// The next frame to send: a complete Ethernet frame for the interface.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.queue.pop_front()
    }

    /// When to call [`handle_timeout`](Self::handle_timeout) next; `None` when
    /// the schedule has ended or was never started.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.time_of(self.cursor?)
    }

    /// True while steps remain or frames wait to be polled.
    pub fn is_active(&self) -> bool {
        self.cursor.is_some() || !self.queue.is_empty()
    }

    /// Frames queued since creation (sent or still waiting).
    pub fn frames_queued(&self) -> u64 {
        self.frames_queued
    }

    /// The configuration.
    pub fn config(&self) -> &GarpConfig {
        &self.config
    }

    fn time_of(&self, cursor: Cursor) -> Option<Instant> {
        let start = self.start?;
        let burst_start = match (cursor.burst, self.config.refresh) {
            (0, _) => start,
            (n, Some(refresh)) => start.checked_add(refresh.period.checked_mul(n)?)?,
            (_, None) => return None,
        };
        burst_start.checked_add(self.config.step_offset(cursor.step)?)
    }

    fn after(&self, cursor: Cursor) -> Option<Cursor> {
        if cursor.step + 1 < self.config.steps_per_burst() {
            return Some(Cursor {
                step: cursor.step + 1,
                ..cursor
            });
        }
        let bursts = self.config.refresh.map_or(0, |r| r.bursts);
        (cursor.burst < bursts).then_some(Cursor {
            burst: cursor.burst + 1,
            step: 0,
        })
    }

    fn queue_step(&mut self, step: u32) {
        let (arp_reply, round_start) = match self.config.mode {
            GarpMode::Both => (step % 2 == 1, step % 2 == 0),
            GarpMode::Request => (false, true),
            GarpMode::Reply => (true, true),
        };
        for frames in &self.frames {
            let frame = match frames {
                Frames::V4 { reply, .. } if arp_reply => reply,
                Frames::V4 { request, .. } => request,
                Frames::V6 { advertisement } if round_start => advertisement,
                Frames::V6 { .. } => continue,
            };
            self.queue.push_back(frame.clone());
            self.frames_queued += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    const MAC: MacAddr = MacAddr([0x02, 0x00, 0xc6, 0x12, 0x04, 0x01]);
    const VIP: Ipv4Addr = Ipv4Addr::new(198, 18, 4, 100);
    const VIP6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x64);

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Kind {
        Request(Ipv4Addr),
        Reply(Ipv4Addr),
        Advert(Ipv6Addr),
    }

    fn kind(frame: &[u8]) -> Kind {
        if let Ok(repr) = arp::Packet::new_checked(frame).and_then(|p| arp::Repr::parse(&p)) {
            assert_eq!(repr.sender_hardware_addr, MAC);
            assert!(repr.is_gratuitous());
            assert_eq!(
                frame,
                arp::gratuitous(MAC, repr.target_protocol_addr, repr.operation).to_vec()
            );
            return match repr.operation {
                Operation::Request => Kind::Request(repr.target_protocol_addr),
                Operation::Reply => Kind::Reply(repr.target_protocol_addr),
                Operation::Unknown(n) => panic!("operation {n}"),
            };
        }
        let repr = ndp::Repr::parse(&ndp::Packet::new_checked(frame).unwrap()).unwrap();
        assert_eq!(repr, ndp::unsolicited(MAC, repr.target_addr));
        Kind::Advert(repr.target_addr)
    }

    /// Drives the announcer on a fake clock, always waking exactly at
    /// `poll_timeout`; returns (ms since t0, kind) for every frame.
    fn run(announcer: &mut Announcer, t0: Instant) -> Vec<(u64, Kind)> {
        let mut out = Vec::new();
        let mut now = t0;
        for _ in 0..10_000 {
            while let Some(frame) = announcer.poll_transmit() {
                out.push(((now - t0).as_millis() as u64, kind(&frame)));
            }
            match announcer.poll_timeout() {
                Some(at) => {
                    assert!(at >= now, "deadline in the past");
                    now = at;
                    announcer.handle_timeout(now);
                }
                None => return out,
            }
        }
        panic!("schedule did not end");
    }

    fn v4(addresses: &[IpAddr]) -> GarpConfig {
        GarpConfig::new(MAC, addresses.to_vec())
    }

    #[test]
    fn default_is_send_arp_i200_r5() {
        let t0 = Instant::now();
        let mut a = Announcer::new(v4(&[VIP.into()])).unwrap();
        assert_eq!(a.poll_timeout(), None);
        assert!(!a.is_active());
        a.announce(t0);
        let frames = run(&mut a, t0);
        let expected: Vec<(u64, Kind)> = (0..10)
            .map(|i| {
                let k = if i % 2 == 0 {
                    Kind::Request(VIP)
                } else {
                    Kind::Reply(VIP)
                };
                (i * 100, k)
            })
            .collect();
        assert_eq!(frames, expected);
        assert!(!a.is_active());
        assert_eq!(a.frames_queued(), 10);
        assert_eq!(a.config().burst_duration(), Duration::from_millis(900));
    }

    #[test]
    fn ipv6_gets_one_advertisement_per_round_in_address_order() {
        let t0 = Instant::now();
        let mut config = v4(&[VIP6.into(), VIP.into()]);
        config.count = 2;
        let mut a = Announcer::new(config).unwrap();
        a.announce(t0);
        assert_eq!(
            run(&mut a, t0),
            vec![
                (0, Kind::Advert(VIP6)),
                (0, Kind::Request(VIP)),
                (100, Kind::Reply(VIP)),
                (200, Kind::Advert(VIP6)),
                (200, Kind::Request(VIP)),
                (300, Kind::Reply(VIP)),
            ]
        );
    }

    #[test]
    fn single_form_modes_send_one_frame_per_round() {
        for (mode, make) in [
            (GarpMode::Request, Kind::Request as fn(Ipv4Addr) -> Kind),
            (GarpMode::Reply, Kind::Reply as fn(Ipv4Addr) -> Kind),
        ] {
            let t0 = Instant::now();
            let mut config = v4(&[VIP.into(), VIP6.into()]);
            config.mode = mode;
            config.count = 3;
            config.interval = Duration::from_secs(1);
            let mut a = Announcer::new(config).unwrap();
            a.announce(t0);
            let mut expected = Vec::new();
            for ms in [0, 1000, 2000] {
                expected.push((ms, make(VIP)));
                expected.push((ms, Kind::Advert(VIP6)));
            }
            assert_eq!(run(&mut a, t0), expected, "{mode}");
        }
    }

    #[test]
    fn refresh_repeats_the_burst_a_bounded_number_of_times() {
        let t0 = Instant::now();
        let mut config = v4(&[VIP.into()]);
        config.count = 2;
        config.refresh = Some(Refresh {
            period: Duration::from_secs(5),
            bursts: 2,
        });
        let mut a = Announcer::new(config).unwrap();
        a.announce(t0);
        let times: Vec<u64> = run(&mut a, t0).into_iter().map(|(ms, _)| ms).collect();
        assert_eq!(
            times,
            vec![0, 100, 200, 300, 5000, 5100, 5200, 5300, 10000, 10100, 10200, 10300]
        );
    }

    #[test]
    fn announce_again_restarts_the_schedule() {
        let t0 = Instant::now();
        let mut a = Announcer::new(v4(&[VIP.into()])).unwrap();
        a.announce(t0);
        assert_eq!(
            a.poll_transmit().map(|f| kind(&f)),
            Some(Kind::Request(VIP))
        );
        a.handle_timeout(t0 + Duration::from_millis(100));
        a.handle_timeout(t0 + Duration::from_millis(200));
        // Two frames wait; a re-announce drops them and starts over.
        let t1 = t0 + Duration::from_millis(250);
        a.announce(t1);
        let frames = run(&mut a, t1);
        assert_eq!(frames.len(), 10);
        assert_eq!(frames[0], (0, Kind::Request(VIP)));
        assert_eq!(frames[9], (900, Kind::Reply(VIP)));
        assert_eq!(a.frames_queued(), 3 + 10);
    }

    #[test]
    fn early_wakeups_send_nothing_and_stop_cancels() {
        let t0 = Instant::now();
        let mut a = Announcer::new(v4(&[VIP.into()])).unwrap();
        a.announce(t0);
        assert!(a.poll_transmit().is_some());
        a.handle_timeout(t0 + Duration::from_millis(99));
        assert!(a.poll_transmit().is_none());
        assert_eq!(a.poll_timeout(), Some(t0 + Duration::from_millis(100)));
        a.stop();
        assert_eq!(a.poll_timeout(), None);
        assert!(!a.is_active());
        a.handle_timeout(t0 + Duration::from_secs(10));
        assert!(a.poll_transmit().is_none());
    }

    #[test]
    fn a_late_driver_gets_at_most_one_burst() {
        let t0 = Instant::now();
        let mut config = v4(&[VIP.into()]);
        config.count = 2;
        config.refresh = Some(Refresh {
            period: Duration::from_secs(1),
            bursts: 3,
        });
        let mut a = Announcer::new(config).unwrap();
        a.announce(t0);
        while a.poll_transmit().is_some() {}
        // Wake up after the third burst (t = 2 s … 2.3 s) is entirely due.
        a.handle_timeout(t0 + Duration::from_millis(2500));
        let late: Vec<Kind> = std::iter::from_fn(|| a.poll_transmit())
            .map(|f| kind(&f))
            .collect();
        assert_eq!(
            late,
            vec![
                Kind::Request(VIP),
                Kind::Reply(VIP),
                Kind::Request(VIP),
                Kind::Reply(VIP)
            ]
        );
        assert_eq!(a.poll_timeout(), Some(t0 + Duration::from_secs(3)));
    }

    #[test]
    fn zero_interval_sends_the_burst_at_once() {
        let t0 = Instant::now();
        let mut config = v4(&[VIP.into()]);
        config.interval = Duration::ZERO;
        let mut a = Announcer::new(config).unwrap();
        a.announce(t0);
        assert_eq!(std::iter::from_fn(|| a.poll_transmit()).count(), 10);
        assert_eq!(a.poll_timeout(), None);
    }

    #[test]
    fn invalid_configs_are_rejected_with_a_fix() {
        let good = v4(&[VIP.into()]);
        assert!(good.validate().is_ok());
        let mut cases = Vec::new();
        cases.push(GarpConfig {
            addresses: vec![],
            ..good.clone()
        });
        cases.push(GarpConfig {
            mac: MacAddr::BROADCAST,
            ..good.clone()
        });
        for addr in [
            IpAddr::from(Ipv4Addr::UNSPECIFIED),
            Ipv4Addr::BROADCAST.into(),
            Ipv4Addr::new(224, 0, 0, 18).into(),
            Ipv6Addr::UNSPECIFIED.into(),
            "ff02::1".parse().unwrap(),
        ] {
            cases.push(GarpConfig {
                addresses: vec![addr],
                ..good.clone()
            });
        }
        cases.push(GarpConfig {
            count: 0,
            ..good.clone()
        });
        cases.push(GarpConfig {
            count: MAX_COUNT + 1,
            ..good.clone()
        });
        cases.push(GarpConfig {
            refresh: Some(Refresh {
                period: Duration::from_millis(900),
                bursts: 1,
            }),
            ..good.clone()
        });
        cases.push(GarpConfig {
            refresh: Some(Refresh {
                period: Duration::from_secs(5),
                bursts: 0,
            }),
            ..good.clone()
        });
        for config in cases {
            let err = Announcer::new(config.clone()).unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::Config, "{config:?}");
        }
        assert_eq!("both".parse::<GarpMode>().unwrap(), GarpMode::Both);
        assert_eq!("reply".parse::<GarpMode>().unwrap().to_string(), "reply");
        assert!("gratuitous".parse::<GarpMode>().is_err());
    }
}
