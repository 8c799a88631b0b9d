//! The IPMI-over-LAN console, sans-I/O: one [`Client`] runs one fence request
//! from the first datagram to Close Session.
//!
//! ```text
//!  IPMI 1.5: ExpectAuthCaps -> ExpectChallenge -> ExpectActivate ─┐
//!  RMCP+:    ExpectOpenSessionResponse -> ExpectRakp2 -> ExpectRakp4 ─┤
//!                                                                  ▼
//!            ExpectPrivilege (Set Session Privilege Level) -> Active (the fence
//!            request: chassis commands, polls) -> Closing (Close Session) -> Done
//! ```
//!
//! Each handshake state is its own type (modules `v15` and `v20`); handling a
//! datagram consumes it and yields the next state, an ignored datagram, or an
//! error. One outstanding request at a time, retransmitted with backoff; every
//! wait is bounded by one [`Deadline`]. Once a session exists it is closed on
//! success, on error and on timeout (then with one unanswered Close Session).
//!
//! # Driving it
//!
//! ```text
//!  let mut c = Client::new(config, now, seed)?;      // queues the first datagram
//!  loop {
//!      while let Some(d) = c.poll_transmit() { send(d) }
//!      while let Some(e) = c.poll_event() { log(e) }
//!      if let Some(result) = c.poll_outcome() { return result }
//!      wait for a datagram (-> c.handle_datagram(now, bytes))
//!        or until c.poll_timeout() (-> c.handle_timeout(now))
//!  }
//! ```
//!
//! Drain `poll_transmit` before taking the outcome: a last Close Session or
//! RAKP 3 may be queued with it.

mod config;
mod fence;
mod session;
mod v15;
mod v20;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

pub use config::{
    CipherPolicy, Config, Event, EventKind, Outcome, Protocol, SessionProtocol, Timing, V15Auth,
};

use self::fence::{Command, FenceMachine, Next, Report};
use self::session::Session;
use super::commands::{
    self, Body, ChassisControlRequest, ChassisStatus, CloseSession, GetChassisStatus, Request,
    SetSessionPrivilegeLevel,
};
use super::crypto::Random;
use super::wire::message::{NetFn, Repr as Message};
use super::wire::rmcp::{self, asf, MessageClass};
use crate::deadline::Deadline;
use crate::power::{Action, PowerState};
use crate::{Error, ErrorKind};

/// Longest retransmit interval.
const MAX_RETRANSMIT: Duration = Duration::from_secs(2);

/// A fence request against one BMC, sans-I/O. See the module documentation
/// for the order in which a driver calls it.
#[derive(Debug)]
pub struct Client {
    config: Config,
    rng: Random,
    io: Io,
    deadline: Deadline,
    phase: Phase,
    session: Option<Session>,
    fence: FenceMachine,
    pending: Option<Pending>,
    sleep_until: Option<Instant>,
    outcome: Option<Result<Outcome, Error>>,
    finished: bool,
    heard_from_bmc: bool,
    /// The tag of our ASF Presence Pings (never 0xFF).
    ping_tag: u8,
    /// The BMC's Presence Pong, once one came.
    pong: Option<asf::Pong>,
    network_error: Option<String>,
    session_closed: bool,
}

/// Where the request is.
#[derive(Debug)]
enum Phase {
    V15AuthCaps(v15::ExpectAuthCaps),
    V15Challenge(v15::ExpectChallenge),
    V15Activate(v15::ExpectActivate),
    V20OpenSession(v20::ExpectOpenSessionResponse),
    V20Rakp2(v20::ExpectRakp2),
    V20Rakp4(v20::ExpectRakp4),
    /// Sent Set Session Privilege Level.
    ExpectPrivilege,
    /// The fence request runs.
    Active,
    /// Sent Close Session; holds the request's result.
    Closing(Result<Report, Error>),
    /// Over.
    Done,
}

impl Phase {
    fn name(&self) -> &'static str {
        match self {
            Phase::V15AuthCaps(_) => "waiting for Get Channel Authentication Capabilities",
            Phase::V15Challenge(_) => "waiting for Get Session Challenge",
            Phase::V15Activate(_) => "waiting for Activate Session",
            Phase::V20OpenSession(_) => "waiting for Open Session Response",
            Phase::V20Rakp2(_) => "waiting for RAKP 2",
            Phase::V20Rakp4(_) => "waiting for RAKP 4",
            Phase::ExpectPrivilege => "waiting for Set Session Privilege Level",
            Phase::Active => "running the fence request",
            Phase::Closing(_) => "closing the session",
            Phase::Done => "done",
        }
    }
}

/// What a handshake state did with a datagram.
enum Step {
    /// Not for us: stay in this phase; why.
    Ignore(Phase, String),
    /// Next phase, and the request that starts it.
    Send(Phase, Outgoing),
    /// The session is up.
    Established(Session),
}

/// A request to send and wait for.
struct Outgoing {
    datagram: Vec<u8>,
    summary: String,
    /// What we wait for, for errors ("RAKP 2", "Get Chassis Status response").
    expect: String,
    /// In a session: the IPMI message, re-wrapped (new session sequence
    /// number) on every retransmit.
    message: Option<InSession>,
}

#[derive(Debug, Clone)]
struct InSession {
    message: Vec<u8>,
    netfn: NetFn,
    command: u8,
    sequence: u8,
}

/// The outstanding request.
#[derive(Debug)]
struct Pending {
    expect: String,
    datagram: Vec<u8>,
    message: Option<InSession>,
    summary: String,
    first_sent: Instant,
    next_retransmit: Instant,
    interval: Duration,
    attempts: u32,
    give_up: Instant,
}

/// Outputs and counters shared by every phase.
#[derive(Debug)]
struct Io {
    start: Instant,
    transmit: VecDeque<Vec<u8>>,
    events: VecDeque<Event>,
    rq_seq: u8,
    sent: u32,
    retransmits: u32,
}

impl Io {
    fn event(&mut self, now: Instant, kind: EventKind) {
        self.events.push_back(Event {
            elapsed: now.saturating_duration_since(self.start),
            kind,
        });
    }

    fn transmit(&mut self, now: Instant, datagram: Vec<u8>, summary: String, attempt: u32) {
        self.sent += 1;
        if attempt > 1 {
            self.retransmits += 1;
        }
        self.event(
            now,
            EventKind::Sent {
                bytes: datagram.len(),
                attempt,
                summary,
            },
        );
        self.transmit.push_back(datagram);
    }
}

/// What a handshake state may use while handling a datagram.
pub(super) struct Context<'a> {
    config: &'a Config,
    rng: &'a mut Random,
    io: &'a mut Io,
    now: Instant,
    datagram_len: usize,
}

impl Context<'_> {
    /// The next IPMI request sequence number (6 bits), also used as RMCP+ tag.
    fn next_rq_seq(&mut self) -> u8 {
        self.io.rq_seq = (self.io.rq_seq + 1) & 0x3f;
        self.io.rq_seq
    }

    /// Logs the datagram being handled as received and accepted.
    fn accepted(&mut self, summary: String) {
        let bytes = self.datagram_len;
        self.io
            .event(self.now, EventKind::Received { bytes, summary });
    }

    /// Logs a decision.
    fn note(&mut self, text: String) {
        self.io.event(self.now, EventKind::Note(text));
    }

    /// Sends a datagram without waiting for an answer.
    fn send_once(&mut self, datagram: Vec<u8>, summary: String) {
        self.io.transmit(self.now, datagram, summary, 1);
    }
}

impl Client {
    /// Starts a request at `now`: validates `config` and queues the first
    /// datagram. `seed` is 32 bytes of OS entropy (session IDs, RAKP random,
    /// AES IVs come from it).
    pub fn new(config: Config, now: Instant, seed: [u8; 32]) -> Result<Client, Error> {
        config.validate()?;
        let deadline = Deadline::after(now, config.timing.timeout);
        let fence = FenceMachine::new(
            config.action,
            config.timing.poll_interval,
            config.timing.power_wait,
            deadline.end(),
        );
        let mut client = Client {
            rng: Random::from_seed(seed),
            io: Io {
                start: now,
                transmit: VecDeque::new(),
                events: VecDeque::new(),
                rq_seq: 0,
                sent: 0,
                retransmits: 0,
            },
            deadline,
            phase: Phase::Done,
            session: None,
            fence,
            pending: None,
            sleep_until: None,
            outcome: None,
            finished: false,
            heard_from_bmc: false,
            ping_tag: 0,
            pong: None,
            network_error: None,
            session_closed: false,
            config,
        };
        let protocol = client.config.protocol;
        let (phase, out) = {
            let mut cx = client.context(now, 0);
            match protocol {
                Protocol::Lan15(auth) => v15::ExpectAuthCaps::start(&mut cx, auth),
                Protocol::LanPlus(policy) => {
                    v20::ExpectOpenSessionResponse::start(&mut cx, policy.suites())
                }
            }
        };
        client.phase = phase;
        client.ping_tag = client.rng.array::<1>()[0] % 0xff;
        client.send(now, out);
        client.presence_ping(now);
        Ok(client)
    }

    fn context(&mut self, now: Instant, datagram_len: usize) -> Context<'_> {
        Context {
            config: &self.config,
            rng: &mut self.rng,
            io: &mut self.io,
            now,
            datagram_len,
        }
    }

    /// A datagram arrived from the BMC.
    pub fn handle_datagram(&mut self, now: Instant, bytes: &[u8]) {
        if self.finished {
            self.io.event(
                now,
                EventKind::Ignored {
                    bytes: bytes.len(),
                    reason: "the request is over".into(),
                },
            );
            return;
        }
        if rmcp::Packet::new_checked(bytes).is_ok_and(|p| p.class() == MessageClass::Asf) {
            return self.asf_datagram(now, bytes);
        }
        self.heard_from_bmc = true;
        let phase = std::mem::replace(&mut self.phase, Phase::Done);
        let step = {
            let mut cx = Context {
                config: &self.config,
                rng: &mut self.rng,
                io: &mut self.io,
                now,
                datagram_len: bytes.len(),
            };
            match phase {
                Phase::V15AuthCaps(s) => s.handle(&mut cx, bytes),
                Phase::V15Challenge(s) => s.handle(&mut cx, bytes),
                Phase::V15Activate(s) => s.handle(&mut cx, bytes),
                Phase::V20OpenSession(s) => s.handle(&mut cx, bytes),
                Phase::V20Rakp2(s) => s.handle(&mut cx, bytes),
                Phase::V20Rakp4(s) => s.handle(&mut cx, bytes),
                in_session => {
                    self.phase = in_session;
                    self.in_session_datagram(now, bytes);
                    return;
                }
            }
        };
        match step {
            Ok(Step::Ignore(phase, reason)) => {
                self.phase = phase;
                self.ignored(now, bytes.len(), reason);
            }
            Ok(Step::Send(phase, out)) => {
                self.phase = phase;
                self.send(now, out);
            }
            Ok(Step::Established(session)) => {
                self.pending = None;
                self.io.event(
                    now,
                    EventKind::Note(format!("session established: {}", session.protocol())),
                );
                self.session = Some(session);
                self.phase = Phase::ExpectPrivilege;
                let body = SetSessionPrivilegeLevel {
                    privilege: self.config.privilege,
                };
                self.send_request(now, &body);
            }
            Err(e) => self.finish(now, Err(e)),
        }
    }

    /// The driver's socket reported a network error for the BMC's address
    /// (ICMP port or host unreachable: a connected socket reports them as
    /// "connection refused" or "no route to host"). Noted for the error
    /// message; retransmits go on until the deadline, as ICMP is rate-limited,
    /// transient and spoofable.
    pub fn handle_network_error(&mut self, now: Instant, what: &str) {
        if self.network_error.is_none() && !self.finished {
            self.network_error = Some(what.to_string());
            self.io.event(
                now,
                EventKind::Note(format!("network error from the BMC's address: {what}")),
            );
        }
    }

    /// Time passed: retransmit, give up, or take the next step.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.finished {
            return;
        }
        if let Some(p) = &self.pending {
            if now >= p.give_up {
                self.silence(now);
            } else if now >= p.next_retransmit {
                self.retransmit(now);
            }
            return;
        }
        if let Some(t) = self.sleep_until {
            if now >= t {
                self.sleep_until = None;
                self.drive_fence(now);
            }
        }
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.io.transmit.pop_front()
    }

    /// The next verbose-log event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.io.events.pop_front()
    }

    /// When to call [`handle_timeout`](Self::handle_timeout) (None once over).
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.finished {
            return None;
        }
        match &self.pending {
            Some(p) => Some(p.next_retransmit.min(p.give_up)),
            None => self.sleep_until,
        }
    }

    /// The result, once (after that the client stays finished).
    pub fn poll_outcome(&mut self) -> Option<Result<Outcome, Error>> {
        self.outcome.take()
    }

    /// Whether the request is over (its outcome may have been taken already).
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Sends an ASF Presence Ping beside the handshake's first request and
    /// its retransmits, until the BMC answers anything. It costs no round
    /// trip; if the session request stays unanswered, the Pong (or its
    /// absence) says whether anything at that address speaks RMCP at all.
    fn presence_ping(&mut self, now: Instant) {
        if self.heard_from_bmc || self.pong.is_some() || self.session.is_some() {
            return;
        }
        let ping = asf::Repr::ping(self.ping_tag).to_vec();
        let summary = format!("ASF Presence Ping (tag {})", self.ping_tag);
        self.io
            .transmit(now, rmcp::wrap(MessageClass::Asf, &ping), summary, 1);
    }

    /// An ASF datagram: our Pong, or noise.
    fn asf_datagram(&mut self, now: Instant, bytes: &[u8]) {
        let message = asf::Repr::parse(&bytes[rmcp::HEADER_LEN..]);
        let pong = message.and_then(|m| {
            if m.tag != self.ping_tag {
                return Err(Error::new(
                    ErrorKind::InvalidMessage,
                    format!("ASF message with tag {}, ours is {}", m.tag, self.ping_tag),
                ));
            }
            m.pong()
        });
        match pong {
            Ok(pong) => {
                self.io.event(
                    now,
                    EventKind::Received {
                        bytes: bytes.len(),
                        summary: format!(
                            "ASF Presence Pong (tag {}): {}",
                            self.ping_tag,
                            describe_pong(&pong)
                        ),
                    },
                );
                self.pong.get_or_insert(pong);
            }
            Err(e) => self.ignored(now, bytes.len(), e.message().to_string()),
        }
    }

    fn ignored(&mut self, now: Instant, bytes: usize, reason: String) {
        self.io.event(now, EventKind::Ignored { bytes, reason });
    }

    /// Sends a new request and waits for it.
    fn send(&mut self, now: Instant, out: Outgoing) {
        let give_up = self
            .deadline
            .end()
            .min(now + self.config.timing.unreachable_after)
            .max(now);
        let interval = self.config.timing.retransmit;
        self.io
            .transmit(now, out.datagram.clone(), out.summary.clone(), 1);
        self.pending = Some(Pending {
            expect: out.expect,
            datagram: out.datagram,
            message: out.message,
            summary: out.summary,
            first_sent: now,
            next_retransmit: (now + interval).min(give_up),
            interval,
            attempts: 1,
            give_up,
        });
    }

    fn retransmit(&mut self, now: Instant) {
        let Some(p) = self.pending.as_mut() else {
            return;
        };
        let datagram = match (&p.message, self.session.as_mut()) {
            (Some(m), Some(session)) => session.wrap(&m.message, &mut self.rng),
            _ => p.datagram.clone(),
        };
        p.attempts += 1;
        p.interval = (p.interval * 2).min(MAX_RETRANSMIT);
        p.next_retransmit = (now + p.interval).min(p.give_up);
        let (summary, attempt) = (p.summary.clone(), p.attempts);
        self.io.transmit(now, datagram, summary, attempt);
        self.presence_ping(now);
    }

    /// Sends `body` in the session.
    fn send_request<R: Request>(&mut self, now: Instant, body: &R) {
        let Some(session) = self.session.as_mut() else {
            return;
        };
        self.io.rq_seq = (self.io.rq_seq + 1) & 0x3f;
        let sequence = self.io.rq_seq;
        let data = body.to_vec();
        let repr = Message::request(R::NETFN, R::COMMAND, sequence, &data);
        let message = repr.to_vec();
        let summary = format!("{} {}", session.describe(), commands::summary(&repr));
        let datagram = session.wrap(&message, &mut self.rng);
        self.send(
            now,
            Outgoing {
                datagram,
                summary,
                expect: format!("{} response", R::NAME),
                message: Some(InSession {
                    message,
                    netfn: R::NETFN,
                    command: R::COMMAND,
                    sequence,
                }),
            },
        );
    }

    /// A datagram while the session is up.
    fn in_session_datagram(&mut self, now: Instant, bytes: &[u8]) {
        let Some(session) = self.session.as_mut() else {
            self.ignored(now, bytes.len(), "no session".into());
            return;
        };
        let unwrapped = match session.unwrap(bytes) {
            Ok(x) => x,
            Err(e) => return self.ignored(now, bytes.len(), e.message().to_string()),
        };
        let header = unwrapped.header.clone();
        let message = match Message::parse(&unwrapped.message) {
            Ok(m) => m,
            Err(e) => return self.ignored(now, bytes.len(), format!("{header}: {}", e.message())),
        };
        let wanted = self.pending.as_ref().and_then(|p| p.message.clone());
        let matches = wanted.as_ref().is_some_and(|w| {
            message.response
                && message.netfn == w.netfn
                && message.command == w.command
                && message.sequence == w.sequence
        });
        if !matches {
            let expected = wanted
                .map(|w| {
                    format!(
                        "{} response (rqSeq {})",
                        commands::command_name(w.netfn, w.command).unwrap_or("a"),
                        w.sequence
                    )
                })
                .unwrap_or_else(|| "nothing".into());
            let reason = format!(
                "{header}: expected {expected}, got {}",
                commands::summary(&message)
            );
            return self.ignored(now, bytes.len(), reason);
        }
        session.commit(&unwrapped);
        self.io.event(
            now,
            EventKind::Received {
                bytes: bytes.len(),
                summary: format!("{header} {}", commands::summary(&message)),
            },
        );
        self.pending = None;
        let code = message.completion_code().map(u8::from).unwrap_or(0xff);
        let data = message.response_data().to_vec();
        let phase = std::mem::replace(&mut self.phase, Phase::Done);
        match phase {
            Phase::ExpectPrivilege => self.on_privilege(now, code, &data),
            Phase::Active => {
                self.phase = Phase::Active;
                self.on_fence_response(now, code, &data);
            }
            Phase::Closing(result) => {
                if code == 0 {
                    self.session_closed = true;
                    self.io.event(now, EventKind::Note("session closed".into()));
                } else {
                    let text = commands::describe_completion(
                        CloseSession::NETFN,
                        CloseSession::COMMAND,
                        code,
                    );
                    self.io.event(
                        now,
                        EventKind::Note(format!("Close Session failed: {text}")),
                    );
                }
                self.finish(now, result);
            }
            other => self.phase = other,
        }
    }

    fn on_privilege(&mut self, now: Instant, code: u8, data: &[u8]) {
        if code != 0 {
            let text = commands::describe_completion(
                SetSessionPrivilegeLevel::NETFN,
                SetSessionPrivilegeLevel::COMMAND,
                code,
            );
            let err = Error::new(
                ErrorKind::Auth,
                format!(
                    "Set Session Privilege Level {} for user {:?} failed: {text}",
                    self.config.privilege, self.config.user
                ),
            )
            .with_code(u32::from(code));
            return self.begin_close(now, Err(err));
        }
        match SetSessionPrivilegeLevel::decode(data) {
            Ok(p) if p.privilege == self.config.privilege => {
                self.io.event(
                    now,
                    EventKind::Note(format!("session privilege is {}", p.privilege)),
                );
                self.phase = Phase::Active;
                self.drive_fence(now);
            }
            Ok(p) => {
                let err = Error::new(
                    ErrorKind::DeviceMisbehaved,
                    format!(
                        "asked for privilege {}, the BMC set {}",
                        self.config.privilege, p.privilege
                    ),
                );
                self.begin_close(now, Err(err));
            }
            Err(e) => self.begin_close(
                now,
                Err(Error::new(
                    ErrorKind::DeviceMisbehaved,
                    e.message().to_string(),
                )),
            ),
        }
    }

    fn on_fence_response(&mut self, now: Instant, code: u8, data: &[u8]) {
        let waiting = self.fence.waiting();
        if code != 0 {
            let (netfn, cmd, what) = match waiting {
                Some(Command::Control(c)) => (
                    ChassisControlRequest::NETFN,
                    ChassisControlRequest::COMMAND,
                    format!("Chassis Control ({c})"),
                ),
                _ => (
                    GetChassisStatus::NETFN,
                    GetChassisStatus::COMMAND,
                    GetChassisStatus::NAME.to_string(),
                ),
            };
            let text = commands::describe_completion(netfn, cmd, code);
            let kind = match code {
                0xd4 => ErrorKind::Auth,
                0xc1 | 0xc9 | 0xcc | 0xd5 | 0xd6 => ErrorKind::DeviceIncompatible,
                _ => ErrorKind::DeviceMisbehaved,
            };
            let err = Error::new(
                kind,
                format!("{}: {what} failed: {text}", self.fence.action()),
            )
            .with_code(u32::from(code));
            return self.begin_close(now, Err(err));
        }
        match waiting {
            Some(Command::Status) => match ChassisStatus::decode(data) {
                Ok(status) => {
                    self.io.event(
                        now,
                        EventKind::Note(format!("power seen {}", status.power())),
                    );
                    self.fence.on_status(now, &status);
                }
                Err(e) => {
                    let err = Error::new(
                        ErrorKind::DeviceMisbehaved,
                        format!("Get Chassis Status response: {}", e.message()),
                    );
                    return self.begin_close(now, Err(err));
                }
            },
            Some(Command::Control(c)) => {
                self.io
                    .event(now, EventKind::Note(format!("the BMC accepted {c}")));
                self.fence.on_control_done(now);
            }
            None => {}
        }
        self.drive_fence(now);
    }

    fn drive_fence(&mut self, now: Instant) {
        match self.fence.next(now) {
            Next::Send(Command::Status) => self.send_request(now, &GetChassisStatus),
            Next::Send(Command::Control(control)) => {
                self.send_request(now, &ChassisControlRequest { control })
            }
            Next::Sleep(t) => self.sleep_until = Some(t.max(now)),
            Next::Done(result) => self.begin_close(now, result),
        }
    }

    /// Ends the request with `result`, closing the session first.
    fn begin_close(&mut self, now: Instant, result: Result<Report, Error>) {
        self.sleep_until = None;
        let Some(session) = self.session.as_ref() else {
            return self.finish(now, result);
        };
        let close = session.close_request();
        if self.deadline.expired(now) {
            self.send_close_once(now, close);
            return self.finish(now, result);
        }
        self.phase = Phase::Closing(result);
        self.send_request(now, &close);
    }

    fn send_close_once(&mut self, now: Instant, close: CloseSession) {
        let Some(session) = self.session.as_mut() else {
            return;
        };
        self.io.rq_seq = (self.io.rq_seq + 1) & 0x3f;
        let data = close.to_vec();
        let repr = Message::request(
            CloseSession::NETFN,
            CloseSession::COMMAND,
            self.io.rq_seq,
            &data,
        );
        let summary = format!(
            "{} {} (not waiting for the answer)",
            session.describe(),
            commands::summary(&repr)
        );
        let datagram = session.wrap(&repr.to_vec(), &mut self.rng);
        self.io.transmit(now, datagram, summary, 1);
    }

    /// The outstanding request was never answered.
    fn silence(&mut self, now: Instant) {
        let Some(p) = self.pending.take() else {
            return;
        };
        let waited = now.saturating_duration_since(p.first_sent).as_secs_f64();
        let tries = p.attempts;
        let phase = std::mem::replace(&mut self.phase, Phase::Done);
        if let Phase::Closing(result) = phase {
            self.io.event(
                now,
                EventKind::Note(format!(
                    "no answer to Close Session after {tries} tries; the BMC will time the session out"
                )),
            );
            return self.finish(now, result);
        }
        let err = if !self.heard_from_bmc {
            let diagnosis = match &self.pong {
                Some(pong) if pong.ipmi_supported() => format!(
                    "; it does answer RMCP presence pings ({}), so the address is right but \
                     IPMI over LAN does not answer: enable it on the BMC's LAN channel \
                     (`ipmitool lan set 1 access on`, or the BMC's web setup){}",
                    describe_pong(pong),
                    match self.config.protocol {
                        Protocol::LanPlus(_) => {
                            "; an IPMI 1.5-only BMC ignores RMCP+: try interface=lan"
                        }
                        Protocol::Lan15(_) => "",
                    }
                ),
                Some(pong) => format!(
                    "; the device at this address answers RMCP presence pings but says it does \
                     not support IPMI ({}): check that the address is the BMC's, not the host's",
                    describe_pong(pong)
                ),
                None => "; it did not answer RMCP presence pings either: check the address and \
                         port, that the BMC is powered and cabled, and that UDP 623 passes"
                    .to_string(),
            };
            Error::new(
                ErrorKind::Unreachable,
                format!(
                    "no answer from the BMC (waited for {}; {tries} tries in {waited:.1} s){}{diagnosis}",
                    p.expect,
                    self.network_error
                        .as_ref()
                        .map(|e| format!(" (the network reported: {e})"))
                        .unwrap_or_default()
                ),
            )
        } else if matches!(phase, Phase::V15Activate(_)) {
            Error::new(
                ErrorKind::Auth,
                format!(
                    "no answer to Activate Session after {tries} tries in {waited:.1} s: an IPMI \
                     1.5 BMC silently drops a request with a wrong auth code, so the password \
                     for user {:?} is probably wrong",
                    self.config.user
                ),
            )
        } else {
            Error::new(
                ErrorKind::Timeout,
                format!(
                    "the BMC stopped answering ({}): waited for {} ({tries} tries in {waited:.1} \
                     s){}",
                    phase.name(),
                    p.expect,
                    if self.deadline.expired(now) {
                        format!(
                            "; the request's {} s deadline passed",
                            self.config.timing.timeout.as_secs_f64()
                        )
                    } else {
                        String::new()
                    }
                ),
            )
        };
        if let Some(session) = self.session.as_ref() {
            let close = session.close_request();
            self.send_close_once(now, close);
        }
        self.finish(now, Err(err));
    }

    fn finish(&mut self, now: Instant, result: Result<Report, Error>) {
        self.pending = None;
        self.sleep_until = None;
        self.phase = Phase::Done;
        self.finished = true;
        // A reboot that saw Off has fenced the node: a failure of its On half
        // is reported, not turned into a failed fence.
        let (result, power_on_failed) = match result {
            Err(e) if self.config.action == Action::Reboot && self.fence.report().off_seen => {
                let mut report = self.fence.report();
                report.command_sent = true;
                (Ok(report), Some(e.to_string()))
            }
            other => (other, None),
        };
        let outcome = result.and_then(|report| {
            let power = report.power.ok_or_else(|| {
                Error::new(
                    ErrorKind::DeviceMisbehaved,
                    "the request ended without reading the power state",
                )
            })?;
            let session = self
                .session
                .as_ref()
                .map(Session::protocol)
                .ok_or_else(|| {
                    Error::new(
                        ErrorKind::DeviceMisbehaved,
                        "the request ended without a session",
                    )
                })?;
            Ok(Outcome {
                action: self.config.action,
                power,
                initial: report.initial,
                command_sent: report.command_sent,
                off_seen: report.off_seen || power == PowerState::Off,
                session,
                privilege: self.config.privilege,
                elapsed: now.saturating_duration_since(self.io.start),
                datagrams_sent: self.io.sent,
                retransmits: self.io.retransmits,
                session_closed: self.session_closed,
                power_on_failed,
            })
        });
        let note = match &outcome {
            Ok(o) => format!("done: {o}"),
            Err(e) => format!("failed: {e}"),
        };
        self.io.event(now, EventKind::Note(note));
        self.outcome = Some(outcome);
    }
}

/// "IPMI supported, ASF 1.0" and the like.
fn describe_pong(pong: &asf::Pong) -> String {
    let ipmi = if pong.ipmi_supported() {
        "IPMI supported"
    } else {
        "no IPMI"
    };
    let version = pong.supported_entities & 0x0f;
    if pong.enterprise == rmcp::ASF_IANA {
        format!("{ipmi}, ASF version {version}")
    } else {
        format!(
            "{ipmi}, ASF version {version}, enterprise {}",
            pong.enterprise
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipmi::crypto::Secret;
    use crate::power::Action;

    /// Runs against a BMC that never answers; returns when each IPMI
    /// datagram went out (ASF pings are checked and left out).
    fn silent_run(config: Config) -> (Vec<Duration>, Instant, Instant, Error) {
        let t0 = Instant::now();
        let mut c = Client::new(config, t0, [3; 32]).unwrap();
        let mut now = t0;
        let mut sends = Vec::new();
        let mut pings = Vec::new();
        for _ in 0..100 {
            while let Some(d) = c.poll_transmit() {
                if d[3] == 0x06 {
                    pings.push(now - t0);
                } else {
                    sends.push(now - t0);
                }
            }
            if c.is_finished() {
                assert_eq!(pings, sends, "one presence ping beside each try");
            }
            if let Some(result) = c.poll_outcome() {
                return (sends, t0, now, result.unwrap_err());
            }
            now = c.poll_timeout().expect("a timeout while running");
            c.handle_timeout(now);
        }
        panic!("never finished");
    }

    #[test]
    fn a_silent_bmc_is_unreachable_at_the_silence_limit() {
        let config = Config::new("admin", Secret::from("labpass"), Action::Off);
        let (sends, t0, end, err) = silent_run(config);
        let ms: Vec<u128> = sends.iter().map(|d| d.as_millis()).collect();
        assert_eq!(ms, vec![0, 500, 1500, 3500]);
        assert_eq!(end - t0, Duration::from_secs(5));
        assert_eq!(err.kind(), ErrorKind::Unreachable);
        assert!(err.message().contains("Open Session Response"), "{err}");
        assert!(err.message().contains("presence pings either"), "{err}");
    }

    /// The BMC's Pong captured from ipmi_sim (lab pcap lan15-md5-power-reset,
    /// frame 2), with the tag replaced by the client's.
    fn ipmi_sim_pong(tag: u8) -> Vec<u8> {
        let mut pong = vec![
            0x06, 0x00, 0xff, 0x06, 0x00, 0x00, 0x11, 0xbe, 0x40, 0x00, 0x00, 0x10, 0x00, 0x00,
            0x11, 0xbe, 0x00, 0x00, 0x00, 0x00, 0x81, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        ];
        pong[9] = tag;
        pong
    }

    #[test]
    fn a_pong_without_ipmi_answers_says_ipmi_over_lan_is_off() {
        let t0 = Instant::now();
        let config = Config::new("admin", Secret::from("labpass"), Action::Status);
        let mut c = Client::new(config, t0, [3; 32]).unwrap();
        let sent: Vec<Vec<u8>> = std::iter::from_fn(|| c.poll_transmit()).collect();
        let ping = sent.iter().find(|d| d[3] == 0x06).expect("a ping");
        let tag = ping[9];
        assert_eq!(&ping[4..8], &[0, 0, 0x11, 0xbe]);
        assert_ne!(tag, 0xff);
        // A pong with another tag is not ours.
        c.handle_datagram(t0, &ipmi_sim_pong(tag.wrapping_add(1)));
        c.handle_datagram(t0, &ipmi_sim_pong(tag));
        for _ in 0..100 {
            if let Some(result) = c.poll_outcome() {
                let err = result.unwrap_err();
                assert_eq!(err.kind(), ErrorKind::Unreachable);
                assert!(err.message().contains("lan set 1 access on"), "{err}");
                assert!(
                    err.message().contains("IPMI supported, ASF version 1"),
                    "{err}"
                );
                assert!(err.message().contains("interface=lan"), "{err}");
                return;
            }
            // Once the BMC answered the ping, no more pings go out.
            while let Some(d) = c.poll_transmit() {
                assert_ne!(d[3], 0x06, "ping after the pong");
            }
            let now = c.poll_timeout().expect("a timeout while running");
            c.handle_timeout(now);
        }
        panic!("never finished");
    }

    #[test]
    fn the_overall_deadline_caps_every_wait() {
        let mut config = Config::new("admin", Secret::from("labpass"), Action::Off);
        config.protocol = Protocol::Lan15(V15Auth::Md5);
        config.timing.timeout = Duration::from_millis(1200);
        let (sends, t0, end, err) = silent_run(config);
        assert_eq!(sends.len(), 2);
        assert_eq!(end - t0, Duration::from_millis(1200));
        assert!(err.message().contains("presence pings either"), "{err}");
        assert_eq!(err.kind(), ErrorKind::Unreachable);
    }

    #[test]
    fn garbage_before_any_answer_is_ignored_and_reported() {
        let t0 = Instant::now();
        let config = Config::new("admin", Secret::from("labpass"), Action::Status);
        let mut c = Client::new(config, t0, [1; 32]).unwrap();
        assert_eq!(std::iter::from_fn(|| c.poll_transmit()).count(), 2);
        for bytes in [
            &[][..],
            &[6, 0, 0xff, 7][..],
            &[6, 0, 0xff, 7, 6, 0x11, 0, 0][..],
            &[0xff; 70][..],
        ] {
            c.handle_datagram(t0, bytes);
        }
        assert!(c.poll_transmit().is_none());
        assert!(c.poll_outcome().is_none());
        let ignored = std::iter::from_fn(|| c.poll_event())
            .filter(|e| matches!(e.kind, EventKind::Ignored { .. }))
            .count();
        assert_eq!(ignored, 4);
    }

    #[test]
    fn invalid_configs_send_nothing() {
        let mut config = Config::new("admin", Secret::from("labpass"), Action::Off);
        config.protocol = Protocol::LanPlus("0".parse().unwrap());
        let e = Client::new(config, Instant::now(), [0; 32]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
    }
}
