//! When to feed the watchdog: a small sans-I/O state machine, `now` passed in.
//!
//! The daemon feeds its watchdog only while the node is *healthy*:
//!
//! ```text
//!   healthy = main loop turning AND (quorum held OR a peer seen)
//! ```
//!
//! ```text
//!            first quorum / peer seen
//!   Joining ─────────────────────────► Member ──── unhealthy ───► Starving (final)
//!      │  (fed while the loop turns)     (fed every timeout/3)       (never fed again:
//!      └──────── loop stalled ──────────────────────────────────►     the machine resets)
//! ```
//!
//! * While **joining** (no quorum and no peer seen yet since the start) the
//!   node runs nothing that needs protecting from it, so only a stalled main
//!   loop counts: a lone node that boots while its peers are down does not
//!   reset itself in a loop.
//! * Once a **member**, losing quorum *and* every peer (an isolated node), or
//!   a main loop that stops turning (a hung node), ends feeding.
//! * **Starving** is final: the policy says so once ([`Decision::StopFeeding`])
//!   and never feeds again, and a clean stop must not disarm the device
//!   ([`FeedPolicy::may_disarm`]): the peers count on this node resetting.
//!
//! Feeding happens every `timeout / 3`, so one late or lost feed never lets
//! the watchdog fire.

use std::fmt;
use std::time::{Duration, Instant};

/// What the node looks like to the policy at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Health {
    /// The main loop is turning: its own deadlines are served in time.
    pub loop_turning: bool,
    /// This node's partition holds quorum.
    pub quorum: bool,
    /// At least one peer is a member right now.
    pub peer_seen: bool,
}

/// Why the policy stopped feeding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unhealthy {
    /// The main loop stopped serving its deadlines (a hung or starved node).
    LoopStalled,
    /// No quorum and no peer: this node is isolated.
    Isolated,
}

impl fmt::Display for Unhealthy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Unhealthy::LoopStalled => "the main loop stopped serving its deadlines",
            Unhealthy::Isolated => "this node lost quorum and sees no peer",
        })
    }
}

/// What the driver does now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Feed the device now.
    Feed,
    /// Nothing to do until [`FeedPolicy::next_poll`].
    Wait,
    /// Healthy no longer: stop feeding, say why (returned once).
    StopFeeding(Unhealthy),
    /// Already starving; nothing to do (said before).
    Starving,
}

/// The policy's phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// No quorum and no peer seen yet since the start.
    Joining,
    /// Quorum held or a peer seen at least once.
    Member,
    /// Feeding has stopped for good; the watchdog will reset the machine.
    Starving {
        /// Why.
        why: Unhealthy,
        /// When feeding stopped.
        since: Instant,
    },
}

/// The feeding policy of one watchdog device.
#[derive(Debug, Clone)]
pub struct FeedPolicy {
    timeout: Duration,
    interval: Duration,
    phase: Phase,
    last_feed: Option<Instant>,
}

impl FeedPolicy {
    /// A policy for a device whose timeout is `timeout` (fed every
    /// `timeout / 3`, at least every millisecond).
    pub fn new(timeout: Duration) -> FeedPolicy {
        FeedPolicy {
            timeout,
            interval: (timeout / 3).max(Duration::from_millis(1)),
            phase: Phase::Joining,
            last_feed: None,
        }
    }

    /// The device timeout this policy feeds for.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// How often the device is fed: a third of its timeout.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// The current phase.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// When the device was last fed (by [`FeedPolicy::fed`]).
    pub fn last_feed(&self) -> Option<Instant> {
        self.last_feed
    }

    /// Decides what to do at `now`, given the node's `health`.
    pub fn poll(&mut self, now: Instant, health: Health) -> Decision {
        if let Phase::Starving { .. } = self.phase {
            return Decision::Starving;
        }
        if health.quorum || health.peer_seen {
            self.phase = Phase::Member;
        }
        let why = if !health.loop_turning {
            Some(Unhealthy::LoopStalled)
        } else if self.phase == Phase::Member && !health.quorum && !health.peer_seen {
            Some(Unhealthy::Isolated)
        } else {
            None
        };
        if let Some(why) = why {
            self.phase = Phase::Starving { why, since: now };
            return Decision::StopFeeding(why);
        }
        match self.last_feed {
            Some(at) if now.saturating_duration_since(at) < self.interval => Decision::Wait,
            _ => Decision::Feed,
        }
    }

    /// The driver fed the device at `now`.
    pub fn fed(&mut self, now: Instant) {
        self.last_feed = Some(now);
    }

    /// When [`FeedPolicy::poll`] should run next: the next feed, or `None`
    /// once starving (nothing will ever be due).
    pub fn next_poll(&self, now: Instant) -> Option<Instant> {
        match self.phase {
            Phase::Starving { .. } => None,
            _ => match self.last_feed {
                None => Some(now),
                // An interval too long for the clock: nothing is ever due.
                Some(at) => at.checked_add(self.interval),
            },
        }
    }

    /// Whether a clean stop may disarm the device (magic close): not once
    /// starving, because the peers then count on this node resetting.
    pub fn may_disarm(&self) -> bool {
        !matches!(self.phase, Phase::Starving { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEALTHY: Health = Health {
        loop_turning: true,
        quorum: true,
        peer_seen: true,
    };
    const ALONE: Health = Health {
        loop_turning: true,
        quorum: false,
        peer_seen: false,
    };

    fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    #[test]
    fn a_healthy_node_is_fed_every_third_of_the_timeout() {
        let t0 = Instant::now();
        let mut p = FeedPolicy::new(s(9));
        assert_eq!(p.interval(), s(3));
        assert_eq!(p.next_poll(t0), Some(t0));
        assert_eq!(p.poll(t0, HEALTHY), Decision::Feed);
        p.fed(t0);
        assert_eq!(p.next_poll(t0), Some(t0 + s(3)));
        assert_eq!(p.poll(t0 + s(1), HEALTHY), Decision::Wait);
        assert_eq!(
            p.poll(t0 + Duration::from_millis(2999), HEALTHY),
            Decision::Wait
        );
        assert_eq!(p.poll(t0 + s(3), HEALTHY), Decision::Feed);
        p.fed(t0 + s(3));
        assert_eq!(p.last_feed(), Some(t0 + s(3)));
        assert_eq!(p.phase(), Phase::Member);
        assert!(p.may_disarm());
    }

    #[test]
    fn quorum_or_a_peer_is_enough() {
        let t0 = Instant::now();
        for health in [
            Health {
                quorum: false,
                ..HEALTHY
            },
            Health {
                peer_seen: false,
                ..HEALTHY
            },
        ] {
            let mut p = FeedPolicy::new(s(6));
            for i in 0..10 {
                let now = t0 + s(2 * i);
                assert_eq!(p.poll(now, health), Decision::Feed, "{health:?} {i}");
                p.fed(now);
            }
        }
    }

    #[test]
    fn a_node_that_never_joined_is_fed_while_its_loop_turns() {
        let t0 = Instant::now();
        let mut p = FeedPolicy::new(s(3));
        for i in 0..100 {
            let now = t0 + s(i);
            assert_eq!(p.poll(now, ALONE), Decision::Feed);
            p.fed(now);
        }
        assert_eq!(p.phase(), Phase::Joining);
    }

    #[test]
    fn an_isolated_member_stops_feeding_once_and_for_good() {
        let t0 = Instant::now();
        let mut p = FeedPolicy::new(s(3));
        assert_eq!(p.poll(t0, HEALTHY), Decision::Feed);
        p.fed(t0);
        let lost = t0 + Duration::from_millis(500);
        assert_eq!(
            p.poll(lost, ALONE),
            Decision::StopFeeding(Unhealthy::Isolated)
        );
        assert_eq!(
            p.phase(),
            Phase::Starving {
                why: Unhealthy::Isolated,
                since: lost
            }
        );
        assert!(!p.may_disarm());
        assert_eq!(p.next_poll(lost), None);
        // Said once; health coming back does not resume feeding.
        for i in 1..10 {
            assert_eq!(p.poll(lost + s(i), HEALTHY), Decision::Starving);
        }
    }

    #[test]
    fn a_stalled_loop_stops_feeding_even_before_joining() {
        let t0 = Instant::now();
        let mut p = FeedPolicy::new(s(3));
        assert_eq!(p.poll(t0, ALONE), Decision::Feed);
        p.fed(t0);
        let stalled = Health {
            loop_turning: false,
            ..ALONE
        };
        assert_eq!(
            p.poll(t0 + s(2), stalled),
            Decision::StopFeeding(Unhealthy::LoopStalled)
        );
        assert_eq!(p.poll(t0 + s(3), HEALTHY), Decision::Starving);
        let mut q = FeedPolicy::new(s(3));
        assert_eq!(
            q.poll(
                t0,
                Health {
                    loop_turning: false,
                    ..HEALTHY
                }
            ),
            Decision::StopFeeding(Unhealthy::LoopStalled)
        );
    }

    #[test]
    fn tiny_timeouts_and_clock_oddities_do_not_panic() {
        let t0 = Instant::now();
        let mut p = FeedPolicy::new(Duration::ZERO);
        assert_eq!(p.interval(), Duration::from_millis(1));
        assert_eq!(p.poll(t0, HEALTHY), Decision::Feed);
        p.fed(t0 + s(5));
        // `now` before the last feed: wait, do not underflow.
        assert_eq!(p.poll(t0, HEALTHY), Decision::Wait);
        let mut q = FeedPolicy::new(Duration::MAX);
        assert_eq!(q.poll(t0, HEALTHY), Decision::Feed);
        q.fed(t0);
        assert_eq!(q.poll(t0 + s(1), HEALTHY), Decision::Wait);
        // Whether the clock can hold it or not: no panic.
        let _ = q.next_poll(t0);
    }

    #[test]
    fn unhealthy_reasons_read_as_sentences() {
        assert!(Unhealthy::Isolated.to_string().contains("quorum"));
        assert!(Unhealthy::LoopStalled.to_string().contains("main loop"));
    }
}
