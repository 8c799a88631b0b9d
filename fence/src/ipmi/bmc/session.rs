//! The BMC's session table: sessions being negotiated (RMCP+ after Open
//! Session and after RAKP 2) and established ones (IPMI 1.5 or RMCP+), with
//! their keys, privilege, sequence windows and deadlines; and the IPMI 1.5
//! challenges handed out by Get Session Challenge.
//!
//! Limits: at most `max_sessions` entries in all (a negotiation holds a slot
//! too, until it completes or `handshake_timeout` passes), at most
//! `User::max_sessions` per account; an established session idle for
//! `session_timeout` is closed. A slot is never leaked: every entry has a
//! deadline.

use std::net::SocketAddr;
use std::time::Instant;

use crate::ipmi::crypto::{CipherSuite, SessionKeys};
use crate::ipmi::wire::v15::AuthType;
use crate::ipmi::wire::Privilege;

/// A sliding window over a session's inbound sequence numbers: rejects
/// replays and numbers too far from the highest seen.
#[derive(Debug, Clone)]
pub(crate) struct SeqWindow {
    /// Highest sequence number accepted so far (`None`: nothing yet).
    highest: Option<u32>,
    /// Bit `i` set: `highest - i` was accepted.
    seen: u64,
}

/// How far behind the highest number a late packet may be.
const WINDOW_BEHIND: u32 = 16;
/// How far ahead of the highest number a packet may jump (lost packets).
const WINDOW_AHEAD: u32 = 32;

impl SeqWindow {
    /// A window that accepts any non-zero first number (RMCP+: the console
    /// picks its start).
    pub(crate) fn open() -> Self {
        SeqWindow {
            highest: None,
            seen: 0,
        }
    }

    /// A window whose first number must be `first` or a little after it
    /// (IPMI 1.5: the BMC named the console's initial sequence number).
    pub(crate) fn starting_at(first: u32) -> Self {
        // Everything before `first` counts as seen: it was never issued.
        SeqWindow {
            highest: Some(first.wrapping_sub(1)),
            seen: u64::MAX,
        }
    }

    /// Whether `seq` is acceptable now (does not record it).
    pub(crate) fn check(&self, seq: u32) -> bool {
        if seq == 0 {
            return false;
        }
        let Some(highest) = self.highest else {
            return true;
        };
        let ahead = seq.wrapping_sub(highest);
        if ahead != 0 && ahead <= WINDOW_AHEAD {
            return true;
        }
        let behind = highest.wrapping_sub(seq);
        behind < WINDOW_BEHIND && self.seen & (1u64 << behind) == 0
    }

    /// Records an accepted `seq` (call after the packet authenticated).
    pub(crate) fn record(&mut self, seq: u32) {
        let Some(highest) = self.highest else {
            self.highest = Some(seq);
            self.seen = 1;
            return;
        };
        let ahead = seq.wrapping_sub(highest);
        if ahead != 0 && ahead <= WINDOW_AHEAD {
            self.seen = if ahead >= 64 { 0 } else { self.seen << ahead };
            self.seen |= 1;
            self.highest = Some(seq);
        } else {
            let behind = highest.wrapping_sub(seq);
            if behind < 64 {
                self.seen |= 1u64 << behind;
            }
        }
    }
}

/// A slot of the session table.
#[derive(Debug)]
pub(crate) struct Session {
    /// The BMC's session ID (never 0).
    pub(crate) id: u32,
    /// Where the last valid packet came from; answers go there.
    pub(crate) peer: SocketAddr,
    /// When the slot is freed unless something valid arrives.
    pub(crate) expires: Instant,
    /// Where the session stands.
    pub(crate) state: State,
}

/// Where a session stands.
#[derive(Debug)]
pub(crate) enum State {
    /// RMCP+: Open Session answered, waiting for RAKP 1.
    Opened(Opened),
    /// RMCP+: RAKP 2 sent, waiting for RAKP 3.
    Rakp2Sent(Rakp2Sent),
    /// Established (either protocol).
    Active(Active),
}

/// An RMCP+ session after Open Session.
#[derive(Debug, Clone)]
pub(crate) struct Opened {
    /// The console's session ID (in everything the BMC sends).
    pub(crate) console_id: u32,
    /// The suite chosen.
    pub(crate) suite: CipherSuite,
    /// Highest privilege granted by Open Session.
    pub(crate) max_privilege: Privilege,
    /// The Open Session Request payload, to recognise a retransmission.
    pub(crate) request: Vec<u8>,
    /// The datagram answered, sent again for a retransmission.
    pub(crate) response: Vec<u8>,
}

/// An RMCP+ session after RAKP 2.
#[derive(Debug, Clone)]
pub(crate) struct Rakp2Sent {
    /// What Open Session established.
    pub(crate) opened: Opened,
    /// The user (index into the configuration).
    pub(crate) user: usize,
    /// The RAKP 1 role byte, as sent (it enters the HMACs).
    pub(crate) role: u8,
    /// The console's random number (Rm).
    pub(crate) console_random: [u8; 16],
    /// The BMC's random number (Rc).
    pub(crate) managed_random: [u8; 16],
    /// Highest privilege the session may reach (requested, user and channel
    /// limits).
    pub(crate) max_privilege: Privilege,
    /// The RAKP 1 payload, to recognise a retransmission.
    pub(crate) rakp1: Vec<u8>,
    /// The RAKP 2 datagram, sent again for a retransmission.
    pub(crate) rakp2: Vec<u8>,
}

/// An established session.
#[derive(Debug)]
pub(crate) struct Active {
    /// The user (index into the configuration).
    pub(crate) user: usize,
    /// Highest privilege the session may reach.
    pub(crate) max_privilege: Privilege,
    /// Current privilege (starts at User, or lower if the maximum is lower).
    pub(crate) privilege: Privilege,
    /// Inbound sequence numbers.
    pub(crate) inbound: SeqWindow,
    /// Next outbound session sequence number.
    pub(crate) outbound: u32,
    /// Protocol and keys.
    pub(crate) link: Link,
    /// The handshake's last request and answer (Activate Session or RAKP 3),
    /// to answer a retransmission; dropped at the first in-session packet.
    pub(crate) last_handshake: Option<(Vec<u8>, Vec<u8>)>,
}

/// How an established session authenticates its packets.
#[derive(Debug)]
pub(crate) enum Link {
    /// IPMI 1.5 with this auth type; `temp_id` is the Get Session Challenge
    /// ID the session was activated from.
    V15 {
        /// MD5 or straight password.
        auth_type: AuthType,
        /// The temporary session ID.
        temp_id: u32,
    },
    /// RMCP+.
    V20 {
        /// The console's session ID.
        console_id: u32,
        /// K1 (integrity) and K2 (confidentiality).
        keys: Box<SessionKeys>,
    },
}

impl Active {
    /// The next outbound sequence number (never 0).
    pub(crate) fn next_outbound(&mut self) -> u32 {
        let seq = self.outbound;
        self.outbound = self.outbound.wrapping_add(1);
        if self.outbound == 0 {
            self.outbound = 1;
        }
        seq
    }
}

impl Session {
    /// The user holding this slot, once known.
    pub(crate) fn user(&self) -> Option<usize> {
        match &self.state {
            State::Opened(_) => None,
            State::Rakp2Sent(r) => Some(r.user),
            State::Active(a) => Some(a.user),
        }
    }

    /// The established session, if it is one.
    pub(crate) fn active(&self) -> Option<&Active> {
        match &self.state {
            State::Active(a) => Some(a),
            _ => None,
        }
    }
}

/// An IPMI 1.5 challenge handed out by Get Session Challenge.
#[derive(Debug, Clone)]
pub(crate) struct Challenge {
    /// The temporary session ID.
    pub(crate) temp_id: u32,
    /// The user who asked.
    pub(crate) user: usize,
    /// The challenge string.
    pub(crate) challenge: [u8; 16],
    /// When it lapses.
    pub(crate) expires: Instant,
}

/// All sessions and challenges.
#[derive(Debug, Default)]
pub(crate) struct SessionTable {
    sessions: Vec<Session>,
    challenges: Vec<Challenge>,
}

impl SessionTable {
    /// Number of slots in use.
    pub(crate) fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Number of slots held by `user`.
    pub(crate) fn count_user(&self, user: usize) -> usize {
        self.sessions
            .iter()
            .filter(|s| s.user() == Some(user))
            .count()
    }

    /// Whether `id` is in use as a session or challenge ID.
    pub(crate) fn id_in_use(&self, id: u32) -> bool {
        self.sessions.iter().any(|s| s.id == id) || self.challenges.iter().any(|c| c.temp_id == id)
    }

    /// Adds a session (the caller checked the limits).
    pub(crate) fn insert(&mut self, session: Session) {
        self.sessions.push(session);
    }

    /// The session with BMC ID `id`.
    pub(crate) fn get_mut(&mut self, id: u32) -> Option<&mut Session> {
        self.sessions.iter_mut().find(|s| s.id == id)
    }

    /// The session with BMC ID `id`.
    pub(crate) fn get(&self, id: u32) -> Option<&Session> {
        self.sessions.iter().find(|s| s.id == id)
    }

    /// Removes and returns the session with BMC ID `id`.
    pub(crate) fn remove(&mut self, id: u32) -> Option<Session> {
        let at = self.sessions.iter().position(|s| s.id == id)?;
        Some(self.sessions.swap_remove(at))
    }

    /// The RMCP+ session still negotiating that answered this console's
    /// Open Session Request `request` from `peer` (a retransmission).
    pub(crate) fn find_opened(&self, peer: SocketAddr, request: &[u8]) -> Option<&Session> {
        self.sessions.iter().find(|s| {
            s.peer == peer && matches!(&s.state, State::Opened(o) if o.request == request)
        })
    }

    /// The IPMI 1.5 session activated from challenge `temp_id`.
    pub(crate) fn find_by_temp_id(&self, temp_id: u32) -> Option<&Session> {
        self.sessions.iter().find(|s| {
            matches!(&s.state, State::Active(Active { link: Link::V15 { temp_id: t, .. }, .. }) if *t == temp_id)
        })
    }

    /// Adds a challenge, evicting the oldest beyond `limit`.
    pub(crate) fn add_challenge(&mut self, challenge: Challenge, limit: usize) {
        while self.challenges.len() >= limit.max(1) {
            self.challenges.remove(0);
        }
        self.challenges.push(challenge);
    }

    /// Removes and returns the challenge `temp_id`.
    pub(crate) fn take_challenge(&mut self, temp_id: u32) -> Option<Challenge> {
        let at = self.challenges.iter().position(|c| c.temp_id == temp_id)?;
        Some(self.challenges.remove(at))
    }

    /// Removes the sessions and challenges expired at `now`; returns the
    /// sessions removed.
    pub(crate) fn expire(&mut self, now: Instant) -> Vec<Session> {
        self.challenges.retain(|c| c.expires > now);
        let mut gone = Vec::new();
        let mut i = 0;
        while i < self.sessions.len() {
            if self.sessions[i].expires <= now {
                gone.push(self.sessions.swap_remove(i));
            } else {
                i += 1;
            }
        }
        gone
    }

    /// The earliest deadline of any session or challenge.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let s = self.sessions.iter().map(|s| s.expires);
        let c = self.challenges.iter().map(|c| c.expires);
        s.chain(c).min()
    }

    /// All sessions (for diagnostics).
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Session> {
        self.sessions.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_window_rejects_zero_replays_and_far_jumps() {
        let mut w = SeqWindow::open();
        assert!(!w.check(0));
        assert!(w.check(3));
        w.record(3);
        assert!(!w.check(3), "replay");
        assert!(w.check(4));
        w.record(5);
        assert!(w.check(4), "late but unseen");
        w.record(4);
        assert!(!w.check(4));
        assert!(w.check(5 + 32));
        assert!(!w.check(5 + 33), "too far ahead");
        assert!(!w.check(5u32.wrapping_sub(16)), "too far behind");
        assert!(w.check(2), "late but unseen, within the window");
    }

    #[test]
    fn window_wraps() {
        let mut w = SeqWindow::starting_at(u32::MAX - 1);
        assert!(w.check(u32::MAX - 1));
        assert!(!w.check(u32::MAX - 3));
        w.record(u32::MAX - 1);
        w.record(u32::MAX);
        assert!(!w.check(0), "0 is never valid");
        assert!(w.check(1));
        w.record(1);
        assert!(!w.check(u32::MAX), "seen before the wrap");
        assert!(w.check(2));
    }

    #[test]
    fn starting_window_bounds_the_first_number() {
        let w = SeqWindow::starting_at(1000);
        assert!(w.check(1000));
        assert!(w.check(1031));
        assert!(!w.check(1032));
        assert!(
            !w.check(999),
            "the BMC's initial number minus one was never issued"
        );
    }
}
