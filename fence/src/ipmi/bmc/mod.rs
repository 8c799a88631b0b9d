//! A sans-I/O IPMI BMC: the server end of IPMI over LAN, built from the same
//! wire formats and crypto as the client.
//!
//! It answers what a fencing client (ipmitool, fence_ipmilan, ours) needs:
//!
//! * RMCP/ASF presence ping → pong;
//! * session-less Get Channel Authentication Capabilities, Get Channel Cipher
//!   Suites, Get System GUID;
//! * IPMI 1.5 sessions: Get Session Challenge, Activate Session with MD5 or
//!   straight-password auth codes (a bad auth code is dropped silently, as
//!   the spec and real BMCs do);
//! * RMCP+ sessions: Open Session (the enabled suites only — 17 and 3 by
//!   default; suite 0 is refused with status 0x11), RAKP 1–4 with the spec's
//!   status codes (0x0d unknown user, 0x0f bad RAKP 3 code, 0x01 no slot, …),
//!   integrity and AES-CBC-128 on every session packet, a sequence window;
//! * in a session: Set Session Privilege Level, Close Session, Get Device ID,
//!   Get Chassis Status, Chassis Control (off, on, cycle with 1 s off, hard
//!   reset, diagnostic interrupt, soft off), each checked against the
//!   session's privilege (0xd4 when it is too low).
//!
//! Power goes through a [`PowerBackend`]: [`MemoryPower`] here, a state file
//! in the driver. Sessions live in a bounded table with per-user limits, an
//! idle timeout and a handshake timeout, so a client that leaks sessions
//! cannot lock the BMC for good.
//!
//! # Driving it
//!
//! ```text
//!   bmc.handle_datagram(now, from, &bytes);   // or bmc.handle_timeout(now)
//!   while let Some(t) = bmc.poll_transmit() { socket.send_to(&t.bytes, t.to) }
//!   while let Some(e) = bmc.poll_event() { log(e) }
//!   sleep until bmc.poll_timeout() or the next datagram
//! ```
//!
//! Randomness (session IDs, challenges, RAKP random numbers, IVs) comes from
//! a generator seeded by the caller: the driver seeds it from the kernel,
//! tests with a constant, which makes every exchange reproducible.

mod commands;
mod config;
mod power;
mod session;
#[cfg(test)]
mod tests;
mod v15;
mod v20;

use std::collections::VecDeque;
use std::fmt;
use std::net::SocketAddr;
use std::time::Instant;

pub use config::{BmcConfig, DeviceIdentity, User, V15Auth};
pub use power::{BackendError, MemoryPower, PowerBackend, PowerOperation};

use crate::ipmi::crypto::{CipherSuite, Random};
use crate::ipmi::wire::open_session::Status;
use crate::ipmi::wire::rmcp::{self, asf, MessageClass};
use crate::ipmi::wire::v15::AuthType;
use crate::ipmi::wire::Privilege;
use crate::power::PowerState;
use crate::Error;
use session::{SessionTable, State};

/// At most this many events wait for [`Bmc::poll_event`]; older ones are
/// dropped (and counted) when a driver does not drain them.
const MAX_QUEUED_EVENTS: usize = 1024;

/// A datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Destination (the sender of the request).
    pub to: SocketAddr,
    /// The UDP payload (RMCP header included).
    pub bytes: Vec<u8>,
}

/// How a session authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// IPMI 1.5 with MD5 or straight password.
    V15(AuthType),
    /// RMCP+ with this cipher suite.
    V20(CipherSuite),
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Protocol::V15(auth) => write!(f, "IPMI 1.5 {auth}"),
            Protocol::V20(suite) => write!(f, "RMCP+ suite {}", suite.id()),
        }
    }
}

/// Why a session ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The client sent Close Session.
    Requested,
    /// Another session (an administrator) closed it.
    ClosedBy(u32),
    /// Idle longer than the session timeout.
    IdleTimeout,
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::Requested => f.write_str("closed by the client"),
            CloseReason::ClosedBy(id) => write!(f, "closed by session 0x{id:08x}"),
            CloseReason::IdleTimeout => f.write_str("idle timeout"),
        }
    }
}

/// Why a login failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginRefusal {
    /// No account of that name (RAKP 2 status 0x0d; 1.5 completion 0x81).
    UnknownUser,
    /// The auth code did not match the account's password (1.5: the
    /// Activate Session is dropped; RMCP+: RAKP 4 status 0x0f).
    WrongPassword,
    /// The console rejected RAKP 2 (its RAKP 3 carried this status; 0x0f
    /// means it found our code wrong: the password it has differs).
    RejectedByConsole(Status),
    /// The requested privilege exceeds the account's or channel's limit.
    PrivilegeExceeded(Privilege),
    /// The proposed algorithms match no enabled cipher suite.
    CipherSuite(Status),
    /// The session table (or the account's share of it) is full.
    NoSlot,
    /// Another RMCP+ status refused the handshake.
    Refused(Status),
    /// An IPMI 1.5 auth type that is not enabled.
    AuthType(AuthType),
}

impl fmt::Display for LoginRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoginRefusal::UnknownUser => f.write_str("unknown user"),
            LoginRefusal::WrongPassword => f.write_str("wrong password"),
            LoginRefusal::RejectedByConsole(s) => write!(f, "console rejected RAKP 2: {s}"),
            LoginRefusal::PrivilegeExceeded(p) => write!(f, "privilege {p} exceeds the limit"),
            LoginRefusal::CipherSuite(s) => write!(f, "cipher suite refused: {s}"),
            LoginRefusal::NoSlot => f.write_str("no free session slot"),
            LoginRefusal::Refused(s) => write!(f, "refused: {s}"),
            LoginRefusal::AuthType(a) => write!(f, "IPMI 1.5 auth type {a} not enabled"),
        }
    }
}

/// Something the BMC did or saw, for logs and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A session was established.
    SessionOpened {
        /// The BMC's session ID.
        session_id: u32,
        /// The account.
        user: String,
        /// IPMI 1.5 or RMCP+ and how.
        protocol: Protocol,
        /// Highest privilege the session may reach.
        max_privilege: Privilege,
        /// The client.
        peer: SocketAddr,
    },
    /// A session ended.
    SessionClosed {
        /// The BMC's session ID.
        session_id: u32,
        /// The account.
        user: String,
        /// Why.
        reason: CloseReason,
    },
    /// A session being negotiated timed out: the client never sent the next
    /// message. After RAKP 2 this is usually a wrong password: the client
    /// found our RAKP 2 code wrong and gave up without telling us.
    HandshakeAbandoned {
        /// The BMC's session ID.
        session_id: u32,
        /// The account, when RAKP 1 named one.
        user: Option<String>,
        /// The last message the BMC sent: "Open Session" or "RAKP 2".
        after: &'static str,
        /// The client.
        peer: SocketAddr,
    },
    /// A login attempt failed.
    LoginRefused {
        /// The client.
        peer: SocketAddr,
        /// The account named, when one was.
        user: Option<String>,
        /// Why.
        reason: LoginRefusal,
    },
    /// A command was answered inside a session.
    Command {
        /// The BMC's session ID.
        session_id: u32,
        /// The network function (request code).
        netfn: u8,
        /// The command code.
        command: u8,
        /// The completion code answered.
        completion: u8,
    },
    /// The chassis power changed.
    PowerChanged {
        /// Before.
        from: PowerState,
        /// After.
        to: PowerState,
        /// What did it ("chassis control off by admin", "power cycle timer").
        cause: String,
    },
    /// A hard reset or diagnostic interrupt was pulsed.
    Pulsed {
        /// "hard reset" or "diagnostic interrupt".
        what: &'static str,
        /// The account that asked.
        user: String,
    },
    /// The power backend failed; the client got completion code 0xff.
    BackendFailed {
        /// What it was asked to do.
        operation: String,
        /// Its error.
        error: String,
    },
    /// A datagram was ignored.
    Dropped {
        /// The sender.
        peer: SocketAddr,
        /// Why.
        reason: String,
    },
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::SessionOpened {
                session_id,
                user,
                protocol,
                max_privilege,
                peer,
            } => write!(
                f,
                "session 0x{session_id:08x} opened: user {user} from {peer}, {protocol}, max privilege {max_privilege}"
            ),
            Event::SessionClosed {
                session_id,
                user,
                reason,
            } => write!(f, "session 0x{session_id:08x} of {user} {reason}"),
            Event::HandshakeAbandoned {
                session_id,
                user,
                after,
                peer,
            } => {
                write!(f, "session 0x{session_id:08x} from {peer}")?;
                if let Some(u) = user {
                    write!(f, " (user {u})")?;
                }
                write!(f, " abandoned after {after}")?;
                if *after == "RAKP 2" {
                    f.write_str(": the client may have a wrong password")?;
                }
                Ok(())
            }
            Event::LoginRefused { peer, user, reason } => match user {
                Some(u) => write!(f, "login refused: user {u} from {peer}: {reason}"),
                None => write!(f, "login refused: {peer}: {reason}"),
            },
            Event::Command {
                session_id,
                netfn,
                command,
                completion,
            } => write!(
                f,
                "session 0x{session_id:08x} netfn 0x{netfn:02x} cmd 0x{command:02x} -> cc 0x{completion:02x}"
            ),
            Event::PowerChanged { from, to, cause } => {
                write!(f, "power {from} -> {to} ({cause})")
            }
            Event::Pulsed { what, user } => write!(f, "{what} by {user}"),
            Event::BackendFailed { operation, error } => {
                write!(f, "power backend failed to {operation}: {error}")
            }
            Event::Dropped { peer, reason } => write!(f, "dropped datagram from {peer}: {reason}"),
        }
    }
}

/// What the BMC counted since it started.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Datagrams handled.
    pub received: u64,
    /// Datagrams queued for sending.
    pub sent: u64,
    /// Datagrams that did not parse.
    pub malformed: u64,
    /// Session packets with a bad auth code or integrity check.
    pub bad_auth: u64,
    /// Session packets outside the sequence window (replays).
    pub replayed: u64,
    /// Packets for a session that does not exist (closed, timed out).
    pub unknown_session: u64,
    /// Sessions established.
    pub sessions_opened: u64,
    /// Sessions closed by request.
    pub sessions_closed: u64,
    /// Sessions closed by the idle timeout, and negotiations abandoned.
    pub sessions_expired: u64,
    /// Logins refused.
    pub logins_refused: u64,
    /// Events dropped because nobody polled them.
    pub events_dropped: u64,
}

/// The chassis state the responder keeps besides the backend's.
#[derive(Debug, Clone, Default)]
struct Chassis {
    /// A power cycle in progress turns the power back on at this instant.
    cycle_on_at: Option<Instant>,
    /// Whether the last power-on came from an IPMI command (Get Chassis
    /// Status, last power event bit 4).
    last_on_by_command: bool,
}

/// The BMC responder. See the [module documentation](self) for the polling
/// order.
#[derive(Debug)]
pub struct Bmc<P: PowerBackend> {
    config: BmcConfig,
    power: P,
    random: Random,
    table: SessionTable,
    chassis: Chassis,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    counters: Counters,
}

impl<P: PowerBackend> Bmc<P> {
    /// A BMC with `config`, switching power through `power`, its random
    /// numbers seeded by `seed` (give it 32 bytes from the kernel in
    /// production; a constant makes tests reproducible).
    pub fn new(config: BmcConfig, power: P, seed: [u8; 32]) -> Result<Self, Error> {
        config.validate()?;
        Ok(Bmc {
            config,
            power,
            random: Random::from_seed(seed),
            table: SessionTable::default(),
            chassis: Chassis::default(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            counters: Counters::default(),
        })
    }

    /// Feeds a datagram received from `from`.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) {
        self.counters.received += 1;
        // Timers first: a session that timed out must not accept this packet.
        self.handle_timeout(now);
        let header = rmcp::Packet::new_checked(bytes).and_then(|p| rmcp::Repr::parse(&p));
        let header = match header {
            Ok(h) => h,
            Err(e) => return self.malformed(from, e.message()),
        };
        let body = &bytes[rmcp::HEADER_LEN..];
        if header.ack {
            return self.drop_datagram(from, "RMCP ACK (this BMC never asks for ACKs)".into());
        }
        match header.class {
            MessageClass::Asf => self.handle_asf(from, body),
            MessageClass::Ipmi => match body.first() {
                Some(&0x06) => self.handle_v20(now, from, body),
                Some(_) => self.handle_v15(now, from, body),
                None => self.malformed(from, "RMCP IPMI message without a session header"),
            },
            other => self.drop_datagram(from, format!("RMCP class {other:?} not served")),
        }
    }

    /// Runs the timers due at `now`: session and handshake timeouts, the
    /// power-on half of a power cycle.
    pub fn handle_timeout(&mut self, now: Instant) {
        for session in self.table.expire(now) {
            self.counters.sessions_expired += 1;
            let user = session.user().map(|u| self.user_name(u));
            let event = match &session.state {
                State::Active(_) => Event::SessionClosed {
                    session_id: session.id,
                    user: user.unwrap_or_default(),
                    reason: CloseReason::IdleTimeout,
                },
                State::Opened(_) => Event::HandshakeAbandoned {
                    session_id: session.id,
                    user,
                    after: "Open Session",
                    peer: session.peer,
                },
                State::Rakp2Sent(_) => Event::HandshakeAbandoned {
                    session_id: session.id,
                    user,
                    after: "RAKP 2",
                    peer: session.peer,
                },
            };
            self.event(event);
        }
        if let Some(at) = self.chassis.cycle_on_at {
            if now >= at {
                self.chassis.cycle_on_at = None;
                // A failure is reported as an event; there is nobody to answer.
                let _ = self.set_power(PowerState::On, "power cycle: on again".into());
            }
        }
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must run next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match (self.table.next_deadline(), self.chassis.cycle_on_at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The counters.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Session slots in use (established and negotiating).
    pub fn session_count(&self) -> usize {
        self.table.len()
    }

    /// Established sessions.
    pub fn active_sessions(&self) -> usize {
        self.table.iter().filter(|s| s.active().is_some()).count()
    }

    /// The power backend.
    pub fn power(&self) -> &P {
        &self.power
    }

    /// The power backend, mutably (a test or demo may flip power behind the
    /// BMC's back, as a person at the machine would).
    pub fn power_mut(&mut self) -> &mut P {
        &mut self.power
    }

    /// The configuration.
    pub fn config(&self) -> &BmcConfig {
        &self.config
    }

    fn handle_asf(&mut self, from: SocketAddr, body: &[u8]) {
        let message = match asf::Repr::parse(body) {
            Ok(m) => m,
            Err(e) => return self.malformed(from, e.message()),
        };
        if message.message_type != asf::MessageType::PresencePing {
            return self.drop_datagram(
                from,
                format!("ASF message type {:?} not served", message.message_type),
            );
        }
        let pong = asf::Pong {
            enterprise: rmcp::ASF_IANA,
            oem: 0,
            // IPMI supported, ASF version 1.0.
            supported_entities: asf::ENTITY_IPMI | 0x01,
            supported_interactions: 0,
        };
        let data = pong.to_bytes();
        let reply = asf::Repr {
            iana: rmcp::ASF_IANA,
            message_type: asf::MessageType::PresencePong,
            tag: message.tag,
            data: &data,
        };
        self.send(from, rmcp::wrap(MessageClass::Asf, &reply.to_vec()));
    }

    fn send(&mut self, to: SocketAddr, bytes: Vec<u8>) {
        self.counters.sent += 1;
        self.transmits.push_back(Transmit { to, bytes });
    }

    fn event(&mut self, event: Event) {
        if self.events.len() >= MAX_QUEUED_EVENTS {
            self.events.pop_front();
            self.counters.events_dropped += 1;
        }
        self.events.push_back(event);
    }

    fn malformed(&mut self, peer: SocketAddr, why: &str) {
        self.counters.malformed += 1;
        self.drop_datagram(peer, why.to_string());
    }

    fn drop_datagram(&mut self, peer: SocketAddr, reason: String) {
        self.event(Event::Dropped { peer, reason });
    }

    fn refuse(&mut self, peer: SocketAddr, user: Option<usize>, reason: LoginRefusal) {
        self.counters.logins_refused += 1;
        let user = user.map(|u| self.user_name(u));
        self.event(Event::LoginRefused { peer, user, reason });
    }

    fn user_name(&self, user: usize) -> String {
        self.config
            .users
            .get(user)
            .map(|u| u.name.clone())
            .unwrap_or_default()
    }

    /// A fresh non-zero ID not used by any session or challenge.
    fn fresh_id(&mut self) -> u32 {
        loop {
            let id = self.random.nonzero_u32();
            if !self.table.id_in_use(id) {
                return id;
            }
        }
    }

    /// Whether a new session for `user` (None: not known yet) fits.
    fn has_slot(&self, user: Option<usize>) -> bool {
        if self.table.len() >= self.config.max_sessions {
            return false;
        }
        match user {
            Some(u) => self.table.count_user(u) < self.config.users[u].max_sessions,
            None => true,
        }
    }

    /// The session's highest privilege: the lowest of what was asked and the
    /// account's and channel's limits.
    fn cap_privilege(&self, requested: Privilege, user: usize) -> Privilege {
        requested
            .min(self.config.users[user].privilege_limit)
            .min(self.config.channel_privilege_limit)
    }

    /// Applies what a command changed in the session table.
    fn apply_effect(&mut self, caller: &commands::Caller, effect: commands::Effect) {
        match effect {
            commands::Effect::None => {}
            commands::Effect::Privilege(p) => {
                if let Some(State::Active(active)) =
                    self.table.get_mut(caller.id).map(|s| &mut s.state)
                {
                    active.privilege = p;
                }
            }
            commands::Effect::Close(id) => {
                if let Some(session) = self.table.remove(id) {
                    self.counters.sessions_closed += 1;
                    let user = session
                        .user()
                        .map(|u| self.user_name(u))
                        .unwrap_or_default();
                    let reason = if id == caller.id {
                        CloseReason::Requested
                    } else {
                        CloseReason::ClosedBy(caller.id)
                    };
                    self.event(Event::SessionClosed {
                        session_id: id,
                        user,
                        reason,
                    });
                }
            }
        }
    }
}
