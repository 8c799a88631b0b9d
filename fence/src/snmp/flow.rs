//! The APC fence request, sans-I/O: a [`Fence`] asks for SNMP operations
//! ([`Op`]) and consumes their results; the driver performs them with the
//! session of the configured version. One overall deadline bounds every wait,
//! and retransmits are ours (the SNMP library sends each request once).
//!
//! ```text
//!  [v3: Discover] -> Identify (GET sysObjectID.0 -> profile)
//!    -> by name, list, list-status: walk the name column (GETNEXT … until it ends)
//!       by number: that outlet
//!    -> GET state + command-pending of every target outlet
//!    -> status: done
//!       on / off: SET the command on every outlet not yet as asked, then GET
//!                 until EVERY outlet is seen as asked with no command pending
//!       reboot:   off as above, verify off, then on, verify on
//! ```
//!
//! Several outlets with the requested name (a dual-PSU host) are all acted
//! on: the host is off only when every one of them is seen off.
//!
//! # Driving it
//!
//! ```text
//!  let mut f = Fence::new(&config, device, now);
//!  loop {
//!      while let Some(e) = f.poll_event() { log(e) }
//!      if let Some(result) = f.poll_outcome() { return result }
//!      if let Some(op) = f.poll_op(now) {
//!          perform op, giving up at f.poll_timeout():
//!            answer        -> f.handle_response(now, response)   (Discover: f.handle_discovered(now))
//!            no answer     -> f.handle_timeout(now)
//!            v3 auth error -> f.handle_auth_failure(now, why)
//!            stale/garbled -> f.handle_bad_reply(now, why)
//!            ICMP error    -> f.handle_network_error(now, why)
//!      } else { sleep until f.poll_timeout(), then f.handle_timeout(now) }
//!  }
//! ```

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::config::{Config, Event, Outcome, Outlet, OutletStatus, Request, Timing, Version};
use super::message::{printable, ErrorStatus, Op, Response, Value};
use super::oid::Oid;
use super::profile::{Command, Identified, Profile, SYS_OBJECT_ID};
use crate::deadline::Deadline;
use crate::power::PowerState;
use crate::{Error, ErrorKind};

/// Longest retransmit interval.
const MAX_RETRANSMIT: Duration = Duration::from_secs(2);
/// Most rows a name walk reads.
pub const MAX_WALK: u32 = 1024;
/// Most outlets one request acts on (the names of a host).
pub const MAX_TARGETS: usize = 16;
/// Most outlets read per GET while listing states.
const LIST_CHUNK: usize = 16;
/// Most stale or undecodable replies tolerated in one request.
const MAX_BAD_REPLIES: u32 = 32;

/// One APC fence request. See the module documentation for the driving order.
#[derive(Debug)]
pub struct Fence {
    request: Request,
    outlet: Option<Outlet>,
    forced_profile: Option<Profile>,
    v3: bool,
    timing: Timing,
    device: String,
    start: Instant,
    deadline: Deadline,
    phase: Phase,
    profile: Profile,
    sys_object_id: Option<Oid>,
    /// The outlets acted on (or listed).
    targets: Vec<Target>,
    /// Power goals still to reach, in order (reboot: off, then on).
    goals: VecDeque<PowerState>,
    pending: Option<Pending>,
    sleep_until: Option<Instant>,
    events: VecDeque<Event>,
    outcome: Option<Result<Outcome, Error>>,
    heard: bool,
    sent: u32,
    retransmits: u32,
    commands_sent: u32,
    off_seen: bool,
    off_half_done: bool,
    network_error: Option<String>,
    bad_replies: u32,
}

#[derive(Debug, Clone)]
struct Target {
    number: u32,
    name: Option<Vec<u8>>,
    power: Option<PowerState>,
    pending: Option<bool>,
}

impl Target {
    fn new(number: u32, name: Option<Vec<u8>>) -> Self {
        Target {
            number,
            name,
            power: None,
            pending: None,
        }
    }

    fn satisfies(&self, want: PowerState) -> bool {
        self.power == Some(want) && self.pending != Some(true)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// The first read: decides what to send.
    Initial,
    /// Polling until every target is in this state.
    Verify(PowerState),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    Discover,
    Identify,
    /// Walking the name column; the last OID seen.
    Walk {
        after: Oid,
        rows: u32,
    },
    /// list-status: reading states from this target on.
    ListStates {
        from: usize,
        count: usize,
    },
    /// Reading the targets' states.
    States(Stage),
    /// Sending the command to targets[queue[next]].
    Issue {
        command: Command,
        queue: Vec<usize>,
        next: usize,
    },
    /// Waiting to poll again.
    Wait(PowerState),
    /// power_wait after a goal was reached.
    Settle,
    Finished,
}

#[derive(Debug)]
struct Pending {
    op: Op,
    due: bool,
    attempts: u32,
    next_retransmit: Instant,
    interval: Duration,
}

impl Fence {
    /// A request per `config` (validate it first) against `device` (an
    /// address for messages, no secrets), starting at `now`.
    pub fn new(config: &Config, device: impl Into<String>, now: Instant) -> Fence {
        let goals = match config.request {
            Request::On => VecDeque::from([PowerState::On]),
            Request::Off => VecDeque::from([PowerState::Off]),
            Request::Reboot => VecDeque::from([PowerState::Off, PowerState::On]),
            _ => VecDeque::new(),
        };
        let mut fence = Fence {
            request: config.request,
            outlet: config.outlet.clone(),
            forced_profile: config.profile,
            v3: matches!(config.version, Version::V3(_)),
            timing: config.timing,
            device: device.into(),
            start: now,
            deadline: Deadline::after(now, config.timing.timeout),
            phase: Phase::Identify,
            profile: config.profile.unwrap_or(Profile::RackPdu),
            sys_object_id: None,
            targets: Vec::new(),
            goals,
            pending: None,
            sleep_until: None,
            events: VecDeque::new(),
            outcome: None,
            heard: false,
            sent: 0,
            retransmits: 0,
            commands_sent: 0,
            off_seen: false,
            off_half_done: false,
            network_error: None,
            bad_replies: 0,
        };
        if fence.v3 {
            fence.issue(Phase::Discover, Op::Discover);
        } else {
            fence.identify(now);
        }
        fence
    }

    /// The next operation to perform now, if one is due.
    pub fn poll_op(&mut self, now: Instant) -> Option<Op> {
        if self.outcome.is_some() {
            return None;
        }
        let p = self.pending.as_mut()?;
        if !p.due {
            return None;
        }
        p.due = false;
        p.attempts += 1;
        p.next_retransmit = self.deadline.retransmit_at(now, p.interval);
        p.interval = (p.interval * 2).min(MAX_RETRANSMIT);
        self.sent += 1;
        let text = if p.attempts > 1 {
            self.retransmits += 1;
            format!("-> {} (retransmit {})", p.op, p.attempts - 1)
        } else {
            format!("-> {}", p.op)
        };
        let op = p.op.clone();
        self.event(now, text);
        Some(op)
    }

    /// When to call [`Fence::handle_timeout`] (or give up on the operation
    /// in flight); `None` once over.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.outcome.is_some() {
            return None;
        }
        let mut wake = self.deadline.end();
        if let Some(p) = &self.pending {
            wake = wake.min(p.next_retransmit);
        }
        if let Some(s) = self.sleep_until {
            wake = wake.min(s);
        }
        Some(wake)
    }

    /// The next verbose-log line.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The result, once there is one (taken once).
    pub fn poll_outcome(&mut self) -> Option<Result<Outcome, Error>> {
        self.outcome.take()
    }

    /// Whether the request is over (its outcome may have been taken).
    pub fn is_finished(&self) -> bool {
        self.phase == Phase::Finished
    }

    /// A timer fired: retransmit, poll again, or give up at the deadline.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.phase == Phase::Finished {
            return;
        }
        // A goal already seen is not undone by the deadline ending its power_wait.
        if self.phase == Phase::Settle && self.sleep_until.is_some_and(|u| now >= u) {
            self.sleep_until = None;
            self.next_goal(now);
            if self.phase == Phase::Finished {
                return;
            }
        }
        if self.deadline.expired(now) {
            self.deadline_passed(now);
            return;
        }
        if let Some(p) = self.pending.as_mut() {
            if !p.due && now >= p.next_retransmit {
                p.due = true;
            }
        }
        if let Some(until) = self.sleep_until {
            if now >= until {
                self.sleep_until = None;
                match std::mem::replace(&mut self.phase, Phase::Finished) {
                    Phase::Wait(want) => self.read_states(Stage::Verify(want)),
                    Phase::Settle => self.next_goal(now),
                    other => self.phase = other,
                }
            }
        }
    }

    /// The SNMPv3 engine discovery succeeded.
    pub fn handle_discovered(&mut self, now: Instant) {
        if self.phase != Phase::Discover || self.pending.as_ref().map_or(true, |p| p.due) {
            return;
        }
        self.pending = None;
        self.heard = true;
        self.event(now, "<- engine discovered".into());
        self.identify(now);
    }

    /// The answer to the operation in flight.
    pub fn handle_response(&mut self, now: Instant, response: Response) {
        if self.phase == Phase::Finished {
            return;
        }
        let Some(p) = self.pending.as_ref() else {
            self.event(
                now,
                format!("<- unexpected {response} (nothing outstanding): ignored"),
            );
            return;
        };
        if p.due {
            return;
        }
        let Some(p) = self.pending.take() else { return };
        self.heard = true;
        self.event(now, format!("<- {response}"));
        let result = match self.phase.clone() {
            Phase::Discover => {
                self.identify(now);
                Ok(())
            }
            Phase::Identify => self.on_identify(now, &response),
            Phase::Walk { after, rows } => self.on_walk_row(now, &response, after, rows),
            Phase::ListStates { from, count } => {
                self.on_list_states(now, &p.op, &response, from, count)
            }
            Phase::States(stage) => self.on_states(now, &p.op, &response, stage),
            Phase::Issue {
                command,
                queue,
                next,
            } => self.on_set(now, &p.op, &response, command, queue, next),
            Phase::Wait(_) | Phase::Settle | Phase::Finished => Ok(()),
        };
        if let Err(e) = result {
            self.fail(now, e);
        }
    }

    /// SNMPv3 authentication failed (wrong passphrase, unknown user, wrong
    /// protocol): fatal, retrying cannot help.
    pub fn handle_auth_failure(&mut self, now: Instant, why: &str) {
        if self.phase == Phase::Finished {
            return;
        }
        self.heard = true;
        self.fail(
            now,
            Error::new(
                ErrorKind::Auth,
                format!(
                    "SNMPv3 authentication with {} failed ({why}): check the user name, \
                     auth_password and snmp_auth_prot, and for authPriv priv_password and \
                     snmp_priv_prot",
                    self.device
                ),
            ),
        );
    }

    /// A reply that is not the answer (stale request id, undecodable): the
    /// operation is sent again.
    pub fn handle_bad_reply(&mut self, now: Instant, why: &str) {
        if self.phase == Phase::Finished {
            return;
        }
        self.bad_replies += 1;
        self.event(now, format!("<- ignored: {why}"));
        if self.bad_replies > MAX_BAD_REPLIES {
            self.fail(
                now,
                Error::new(
                    ErrorKind::DeviceMisbehaved,
                    format!(
                        "{} sent {} replies that do not answer our requests (last: {why}); \
                         check that only one SNMP agent answers at this address",
                        self.device, self.bad_replies
                    ),
                ),
            );
        } else if let Some(p) = self.pending.as_mut() {
            p.due = true;
        }
    }

    /// The network reported an error (ICMP unreachable): kept for the final
    /// message; the operation is retransmitted on its timer.
    pub fn handle_network_error(&mut self, now: Instant, why: &str) {
        if self.phase == Phase::Finished {
            return;
        }
        self.event(now, format!("network: {why}"));
        self.network_error = Some(why.to_string());
    }

    // ----- steps -----

    fn identify(&mut self, now: Instant) {
        if let Some(p) = self.forced_profile {
            self.profile = p;
            self.event(now, format!("profile {p} (configured)"));
            self.after_identify(now);
        } else {
            self.issue(Phase::Identify, Op::Get(vec![Oid::new(SYS_OBJECT_ID)]));
        }
    }

    fn on_identify(&mut self, now: Instant, r: &Response) -> Result<(), Error> {
        if r.error_status.0 != 0 {
            return Err(self.misbehaved(format!(
                "answered {} to a GET of sysObjectID.0; is this an APC PDU?",
                r.error_status
            )));
        }
        let oid = match r.varbinds.as_slice() {
            [(name, Value::ObjectId(oid))] if name.arcs() == SYS_OBJECT_ID => oid.clone(),
            [(_, v)] => {
                return Err(Error::new(
                    ErrorKind::DeviceIncompatible,
                    format!(
                        "{} has no usable sysObjectID ({v}); set profile (rpdu, rpdu2 or \
                         masterswitch) explicitly",
                        self.device
                    ),
                ))
            }
            _ => {
                return Err(self
                    .misbehaved("answered a GET of sysObjectID.0 with the wrong varbinds".into()))
            }
        };
        match Profile::identify(&oid)? {
            Identified::Known(p) => {
                self.event(now, format!("sysObjectID {oid}: {p}"));
                self.profile = p;
            }
            Identified::ApcFallback(p) => {
                self.event(
                    now,
                    format!(
                        "sysObjectID {oid} is not a known APC PDU model: trying the {p} tables"
                    ),
                );
                self.profile = p;
            }
        }
        self.sys_object_id = Some(oid);
        self.after_identify(now);
        Ok(())
    }

    fn after_identify(&mut self, now: Instant) {
        match (&self.outlet, self.request) {
            (_, Request::List | Request::ListStatus) | (Some(Outlet::Name(_)), _) => {
                let column = self.profile.name_column();
                self.issue(
                    Phase::Walk {
                        after: column.clone(),
                        rows: 0,
                    },
                    Op::GetNext(column),
                );
            }
            (Some(Outlet::Number(n)), _) => {
                self.targets = vec![Target::new(*n, None)];
                self.read_states(Stage::Initial);
            }
            (None, _) => {
                let e = Error::new(
                    ErrorKind::Config,
                    format!("{} needs an outlet (plug)", self.request),
                );
                self.fail(now, e);
            }
        }
    }

    fn on_walk_row(
        &mut self,
        now: Instant,
        r: &Response,
        after: Oid,
        rows: u32,
    ) -> Result<(), Error> {
        let column = self.profile.name_column();
        if r.error_status == ErrorStatus::NO_SUCH_NAME {
            // SNMPv1's end of the MIB view.
            return self.walk_done(now);
        }
        if r.error_status.0 != 0 {
            return Err(self.misbehaved(format!(
                "answered {} while walking the outlet names",
                r.error_status
            )));
        }
        let [(oid, value)] = r.varbinds.as_slice() else {
            return Err(self.misbehaved(format!(
                "answered a GETNEXT with {} varbinds",
                r.varbinds.len()
            )));
        };
        if *value == Value::EndOfMibView || !oid.is_below(&column) {
            return self.walk_done(now);
        }
        if *oid <= after {
            return Err(self.misbehaved(format!("walk went backwards ({oid} after {after})")));
        }
        let Some(index) = oid.index_below(&column) else {
            return Err(self.misbehaved(format!("{oid} is not an outlet-name instance")));
        };
        let Value::OctetString(name) = value else {
            return Err(self.misbehaved(format!("outlet {index}'s name is {value}, not a string")));
        };
        if rows >= MAX_WALK {
            return Err(self.misbehaved(format!("lists more than {MAX_WALK} outlets")));
        }
        self.targets.push(Target::new(index, Some(name.clone())));
        self.issue(
            Phase::Walk {
                after: oid.clone(),
                rows: rows + 1,
            },
            Op::GetNext(oid.clone()),
        );
        Ok(())
    }

    fn walk_done(&mut self, now: Instant) -> Result<(), Error> {
        self.event(now, format!("{} outlet names read", self.targets.len()));
        match self.request {
            Request::List => {
                self.finish(now);
                Ok(())
            }
            Request::ListStatus => {
                self.list_states(0);
                if self.targets.is_empty() {
                    self.finish(now);
                }
                Ok(())
            }
            _ => {
                let Some(Outlet::Name(wanted)) = self.outlet.clone() else {
                    return Ok(());
                };
                let all = std::mem::take(&mut self.targets);
                let exact: Vec<Target> = all
                    .iter()
                    .filter(|t| t.name.as_deref() == Some(wanted.as_bytes()))
                    .cloned()
                    .collect();
                let matched = if exact.is_empty() {
                    let norm = normalize(wanted.as_bytes());
                    all.iter()
                        .filter(|t| t.name.as_deref().map(normalize) == Some(norm.clone()))
                        .cloned()
                        .collect()
                } else {
                    exact
                };
                if matched.is_empty() {
                    let known: Vec<String> = all
                        .iter()
                        .take(16)
                        .map(|t| {
                            format!(
                                "{} {}",
                                t.number,
                                printable(t.name.as_deref().unwrap_or_default())
                            )
                        })
                        .collect();
                    return Err(Error::new(
                        ErrorKind::Config,
                        format!(
                            "no outlet of {} is named {:?} (outlets: {}{}); check the name, or give the outlet number",
                            self.device,
                            wanted,
                            if known.is_empty() { "none".to_string() } else { known.join(", ") },
                            if all.len() > 16 { ", …" } else { "" }
                        ),
                    ));
                }
                if matched.len() > MAX_TARGETS {
                    return Err(Error::new(
                        ErrorKind::Config,
                        format!(
                            "{} outlets are named {wanted:?}; at most {MAX_TARGETS} per request",
                            matched.len()
                        ),
                    ));
                }
                let numbers: Vec<String> = matched.iter().map(|t| t.number.to_string()).collect();
                self.event(
                    now,
                    format!("name {wanted:?} is outlet(s) {}", numbers.join(",")),
                );
                self.targets = matched;
                self.read_states(Stage::Initial);
                Ok(())
            }
        }
    }

    fn list_states(&mut self, from: usize) {
        let count = LIST_CHUNK.min(self.targets.len().saturating_sub(from));
        if count == 0 {
            return;
        }
        let column = self.profile.state_column();
        let oids = self.targets[from..from + count]
            .iter()
            .map(|t| column.child(t.number))
            .collect();
        self.issue(Phase::ListStates { from, count }, Op::Get(oids));
    }

    fn on_list_states(
        &mut self,
        now: Instant,
        op: &Op,
        r: &Response,
        from: usize,
        count: usize,
    ) -> Result<(), Error> {
        self.check_get(op, r, 1)?;
        for (i, (_, value)) in r.varbinds.iter().enumerate() {
            let t = &mut self.targets[from + i];
            t.power = match value {
                Value::Integer(raw) => self.profile.decode_state(*raw).ok(),
                _ => None,
            };
        }
        if from + count < self.targets.len() {
            self.list_states(from + count);
        } else {
            self.finish(now);
        }
        Ok(())
    }

    /// GET state and command-pending of every target.
    fn read_states(&mut self, stage: Stage) {
        let state = self.profile.state_column();
        let pending = self.profile.pending_column();
        let mut oids = Vec::with_capacity(self.targets.len() * 2);
        for t in &self.targets {
            oids.push(state.child(t.number));
            oids.push(pending.child(t.number));
        }
        self.issue(Phase::States(stage), Op::Get(oids));
    }

    /// Checks a GET's answer: no error, the requested OIDs in order. For
    /// v1's noSuchName and v2's exceptions on an outlet column, says which
    /// outlet does not exist. `per_target`: varbinds per target.
    fn check_get(&self, op: &Op, r: &Response, per_target: usize) -> Result<(), Error> {
        let Op::Get(asked) = op else {
            return Err(self.misbehaved("internal: not a GET".into()));
        };
        let outlet_of = |index: usize| -> u32 {
            asked
                .get(index)
                .and_then(|o| o.arcs().last().copied())
                .unwrap_or(0)
        };
        if r.error_status == ErrorStatus::NO_SUCH_NAME {
            let index = (r.error_index as usize).saturating_sub(1);
            return Err(self.no_such_outlet(outlet_of(index), "noSuchName"));
        }
        if r.error_status.0 != 0 {
            return Err(self.misbehaved(format!(
                "answered {} (index {}) to a GET",
                r.error_status, r.error_index
            )));
        }
        if r.varbinds.len() != asked.len() || r.varbinds.iter().zip(asked).any(|((o, _), a)| o != a)
        {
            return Err(self.misbehaved("answered a GET with other varbinds than asked".into()));
        }
        for (i, (_, v)) in r.varbinds.iter().enumerate() {
            // The first varbind of each target is its state: it must exist.
            if i % per_target == 0 && v.is_exception() {
                return Err(self.no_such_outlet(outlet_of(i), &v.to_string()));
            }
        }
        Ok(())
    }

    fn no_such_outlet(&self, number: u32, why: &str) -> Error {
        Error::new(
            ErrorKind::Config,
            format!(
                "outlet {number} does not exist on {} ({why} in the {} tables); list the \
                 outlets (action list) and use one of their numbers or names",
                self.device,
                self.profile.name()
            ),
        )
    }

    fn on_states(
        &mut self,
        now: Instant,
        op: &Op,
        r: &Response,
        stage: Stage,
    ) -> Result<(), Error> {
        self.check_get(op, r, 2)?;
        for (i, pair) in r.varbinds.chunks(2).enumerate() {
            let power = match &pair[0].1 {
                Value::Integer(raw) => self.profile.decode_state(*raw).map_err(|e| {
                    Error::new(
                        e.kind(),
                        format!(
                            "{}: outlet {}: {}",
                            self.device,
                            self.targets[i].number,
                            e.message()
                        ),
                    )
                })?,
                other => {
                    return Err(self.misbehaved(format!(
                        "outlet {}'s state is {other}, not an INTEGER",
                        self.targets[i].number
                    )))
                }
            };
            let pending = match pair.get(1).map(|p| &p.1) {
                Some(Value::Integer(raw)) => self.profile.decode_pending(*raw),
                _ => None,
            };
            let t = &mut self.targets[i];
            t.power = Some(power);
            t.pending = pending;
        }
        if self
            .targets
            .iter()
            .all(|t| t.power == Some(PowerState::Off))
        {
            self.off_seen = true;
        }
        let states: Vec<String> = self
            .targets
            .iter()
            .map(|t| {
                format!(
                    "{}={}{}",
                    t.number,
                    t.power.map_or("?".to_string(), |p| p.to_string()),
                    if t.pending == Some(true) {
                        " (command pending)"
                    } else {
                        ""
                    }
                )
            })
            .collect();
        self.event(now, format!("outlets {}", states.join(" ")));
        match stage {
            Stage::Initial => {
                if self.request == Request::Status {
                    self.finish(now);
                } else {
                    self.pursue_goal(now);
                }
            }
            Stage::Verify(want) => {
                if self.targets.iter().all(|t| t.satisfies(want)) {
                    self.event(now, format!("every outlet seen {want}"));
                    if want == PowerState::Off {
                        self.off_half_done = true;
                    }
                    self.settle(now);
                } else {
                    let at = (now + self.timing.poll_interval).min(self.deadline.end());
                    self.phase = Phase::Wait(want);
                    self.sleep_until = Some(at);
                }
            }
        }
        Ok(())
    }

    /// Sends the command of the current goal to every outlet not yet there.
    fn pursue_goal(&mut self, now: Instant) {
        let Some(&want) = self.goals.front() else {
            self.finish(now);
            return;
        };
        let queue: Vec<usize> = (0..self.targets.len())
            .filter(|&i| !self.targets[i].satisfies(want))
            .collect();
        if queue.is_empty() {
            self.event(now, format!("every outlet already {want}: nothing to send"));
            if want == PowerState::Off {
                self.off_half_done = true;
            }
            self.goals.pop_front();
            self.pursue_goal(now);
            return;
        }
        let command = match want {
            PowerState::On => Command::On,
            PowerState::Off => Command::Off,
        };
        self.send_command(command, queue, 0);
    }

    fn send_command(&mut self, command: Command, queue: Vec<usize>, next: usize) {
        let number = self.targets[queue[next]].number;
        let oid = self.profile.command_column().child(number);
        let value = self.profile.command_value(command);
        self.issue(
            Phase::Issue {
                command,
                queue,
                next,
            },
            Op::Set(oid, value),
        );
    }

    fn on_set(
        &mut self,
        now: Instant,
        op: &Op,
        r: &Response,
        command: Command,
        queue: Vec<usize>,
        next: usize,
    ) -> Result<(), Error> {
        let Op::Set(oid, value) = op else {
            return Err(self.misbehaved("internal: not a SET".into()));
        };
        if r.error_status.0 != 0 {
            return Err(self.set_refused(oid, *value, r.error_status));
        }
        self.commands_sent += 1;
        if next + 1 < queue.len() {
            self.send_command(command, queue, next + 1);
        } else {
            let want = match command {
                Command::On => PowerState::On,
                Command::Off => PowerState::Off,
            };
            let _ = now;
            self.read_states(Stage::Verify(want));
        }
        Ok(())
    }

    fn set_refused(&self, oid: &Oid, value: i64, status: ErrorStatus) -> Error {
        let (kind, fix) = match status {
            ErrorStatus::NO_SUCH_NAME
            | ErrorStatus::READ_ONLY
            | ErrorStatus::NO_ACCESS
            | ErrorStatus::NOT_WRITABLE
            | ErrorStatus::AUTHORIZATION_ERROR => (
                ErrorKind::Auth,
                "these credentials may read but not switch outlets: use the read-write community \
                 (APC's default is private) or an SNMPv3 user with write access",
            ),
            ErrorStatus::WRONG_VALUE | ErrorStatus::BAD_VALUE | ErrorStatus::WRONG_TYPE => (
                ErrorKind::DeviceIncompatible,
                "the PDU does not accept this command value in this table: the profile may be \
                 wrong for this model; set profile (rpdu, rpdu2, masterswitch) explicitly",
            ),
            _ => (
                ErrorKind::DeviceMisbehaved,
                "the PDU failed the command; check its event log",
            ),
        };
        Error::new(
            kind,
            format!(
                "{} refused SET {oid} = {value}: {status}; {fix}",
                self.device
            ),
        )
        .with_code(status.0)
    }

    fn settle(&mut self, now: Instant) {
        self.goals.pop_front();
        if self.timing.power_wait.is_zero() {
            self.pursue_goal(now);
        } else {
            self.phase = Phase::Settle;
            self.sleep_until = Some((now + self.timing.power_wait).min(self.deadline.end()));
        }
    }

    fn next_goal(&mut self, now: Instant) {
        self.pursue_goal(now);
    }

    fn deadline_passed(&mut self, now: Instant) {
        let budget = self.timing.timeout.as_secs_f64();
        let op = self.pending.as_ref().map(|p| p.op.to_string());
        let net = self
            .network_error
            .as_deref()
            .map(|n| format!("; the network said: {n}"))
            .unwrap_or_default();
        let error = if !self.heard {
            Error::new(
                ErrorKind::Unreachable,
                format!(
                    "no response from {} within {budget:.1} s (wrong community or unreachable){net}: \
                     an SNMP agent silently drops requests with a wrong community, so check the \
                     community, the address and port, and that SNMP is enabled on the PDU",
                    self.device
                ),
            )
        } else if let Phase::Wait(want) | Phase::States(Stage::Verify(want)) = self.phase {
            let states: Vec<String> = self
                .targets
                .iter()
                .map(|t| {
                    format!(
                        "{}={}",
                        t.number,
                        t.power.map_or("?".to_string(), |p| p.to_string())
                    )
                })
                .collect();
            Error::new(
                ErrorKind::Timeout,
                format!(
                    "{}: the PDU accepted the command but not every outlet was seen {want} within \
                     {budget:.1} s (last seen {}){}; raise the timeout, or check the PDU",
                    self.request,
                    states.join(" "),
                    if want == PowerState::Off {
                        "; the host must be treated as NOT fenced"
                    } else {
                        ""
                    }
                ),
            )
        } else {
            Error::new(
                ErrorKind::Timeout,
                format!(
                    "{}: {} stopped answering{} before the request's {budget:.1} s deadline{net}; \
                     raise the timeout or check the PDU's network",
                    self.request,
                    self.device,
                    op.map(|o| format!(" ({o})")).unwrap_or_default()
                ),
            )
        };
        self.fail(now, error);
    }

    fn issue(&mut self, phase: Phase, op: Op) {
        self.phase = phase;
        self.pending = Some(Pending {
            op,
            due: true,
            attempts: 0,
            next_retransmit: self.deadline.end(),
            interval: self.timing.retransmit,
        });
    }

    fn fail(&mut self, now: Instant, error: Error) {
        if self.request == Request::Reboot && self.off_half_done {
            // fence-agents' rule: a reboot whose off half was seen is a fence.
            let why = error.message().to_string();
            self.event(
                now,
                format!("switching on failed after off was seen: {why}"),
            );
            self.finish_with(now, Some(why));
            return;
        }
        self.event(now, format!("failed: {}", error.message()));
        self.phase = Phase::Finished;
        self.pending = None;
        self.sleep_until = None;
        self.outcome = Some(Err(error));
    }

    fn finish(&mut self, now: Instant) {
        self.finish_with(now, None);
    }

    fn finish_with(&mut self, now: Instant, power_on_failed: Option<String>) {
        self.phase = Phase::Finished;
        self.pending = None;
        self.sleep_until = None;
        let power = if self.request.needs_outlet() {
            if self.targets.iter().any(|t| t.power == Some(PowerState::On)) {
                Some(PowerState::On)
            } else if !self.targets.is_empty()
                && self
                    .targets
                    .iter()
                    .all(|t| t.power == Some(PowerState::Off))
            {
                Some(PowerState::Off)
            } else {
                None
            }
        } else {
            None
        };
        let outlets = self
            .targets
            .iter()
            .map(|t| OutletStatus {
                number: t.number,
                name: t.name.as_deref().map(display_name),
                power: t.power,
            })
            .collect();
        self.outcome = Some(Ok(Outcome {
            request: self.request,
            profile: self.profile,
            sys_object_id: self.sys_object_id.clone(),
            power,
            outlets,
            commands_sent: self.commands_sent,
            off_seen: self.off_seen,
            elapsed: now.saturating_duration_since(self.start),
            requests_sent: self.sent,
            retransmits: self.retransmits,
            power_on_failed,
        }));
    }

    fn misbehaved(&self, what: String) -> Error {
        Error::new(
            ErrorKind::DeviceMisbehaved,
            format!("{} {what}", self.device),
        )
    }

    fn event(&mut self, now: Instant, text: String) {
        self.events.push_back(Event {
            elapsed: now.saturating_duration_since(self.start),
            text,
        });
    }
}

/// Name comparison when no exact match exists: ASCII case ignored, `_` and
/// space equal (cluster-glue lower-cases host names; rackpdu maps spaces to `_`).
fn normalize(name: &[u8]) -> Vec<u8> {
    name.iter()
        .map(|b| match b.to_ascii_lowercase() {
            b' ' => b'_',
            other => other,
        })
        .collect()
}

/// An outlet name for output: lossy UTF-8, control characters replaced.
fn display_name(name: &[u8]) -> String {
    String::from_utf8_lossy(name)
        .chars()
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect()
}
