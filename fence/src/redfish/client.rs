//! The Redfish fence request as a state machine, sans-I/O: told about
//! responses and the time, it says which HTTP request to send next, when to
//! wake up, and finally the outcome.
//!
//! ```text
//!  GET /redfish/v1/                     (skipped when systems_uri is given)
//!  POST SessionService/Sessions         -> X-Auth-Token   (auth = session; Basic otherwise,
//!                                          or when the service has no sessions / is full)
//!  GET Systems -> exactly one member    (several: error listing them; none: not ready, retry)
//!  GET system  -> PowerState, Reset target, ResetType@Redfish.AllowableValues
//!  on/off:  POST Reset {On|ForceOff}; GET system until the state is SEEN
//!  reboot:  ForceOff, until Off seen, power_wait, On, until On seen
//!  cycle/reset/diag: POST Reset {PowerCycle|ForceRestart|Nmi}; one GET for the report
//!  DELETE the session (within the deadline)
//! ```
//!
//! Every response's status is checked: 401/403 fail fast ([`ErrorKind::Auth`]);
//! 503 means not ready and is retried inside the deadline; a 400/409 Redfish
//! error names its MessageId. iLO's 400 `InvalidOperationForSystemState` and
//! iDRAC's 409 `PSU501/PSU502` ("already in that state") are accepted only when
//! the following state read agrees.

use std::collections::VecDeque;
use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

use super::http::{basic_auth, valid_path, Method, Request, Response};
use super::resource::{self, RedfishPower, ResetType};
use crate::deadline::Deadline;
use crate::ipmi::crypto::Secret;
use crate::power::{Action, PowerState};
use crate::{Error, ErrorKind};

/// The default service root.
pub const SERVICE_ROOT: &str = "/redfish/v1/";

/// Vendor personalities: defaults only (the protocol is the same).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Vendor {
    /// Any DMTF Redfish service (`redfish`): discovery, Basic auth.
    Generic,
    /// HPE iLO 4 (FW 2.30+), 5, 6: `/redfish/v1/Systems/1`, sessions.
    Ilo,
    /// Dell iDRAC 7/8 (FW 2.40.40.40+), 9: `/redfish/v1/Systems/System.Embedded.1`, sessions.
    Idrac,
}

impl Vendor {
    /// The systems URI used when none is configured (`None`: discover).
    pub fn default_systems_uri(self) -> Option<&'static str> {
        match self {
            Vendor::Generic => None,
            Vendor::Ilo => Some("/redfish/v1/Systems/1"),
            Vendor::Idrac => Some("/redfish/v1/Systems/System.Embedded.1"),
        }
    }

    /// The authentication used when none is configured.
    pub fn default_auth(self) -> Auth {
        match self {
            Vendor::Generic => Auth::Basic,
            Vendor::Ilo | Vendor::Idrac => Auth::Session,
        }
    }

    /// The type name (`redfish`, `ilo`, `idrac`).
    pub fn name(self) -> &'static str {
        match self {
            Vendor::Generic => "redfish",
            Vendor::Ilo => "ilo",
            Vendor::Idrac => "idrac",
        }
    }
}

impl FromStr for Vendor {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s.to_ascii_lowercase().as_str() {
            "redfish" | "generic" => Ok(Vendor::Generic),
            "ilo" | "ilo4" | "ilo5" | "ilo6" | "hpe" => Ok(Vendor::Ilo),
            "idrac" | "dell" => Ok(Vendor::Idrac),
            other => Err(Error::new(
                ErrorKind::Config,
                format!("unknown Redfish vendor {other:?}; use redfish, ilo or idrac"),
            )),
        }
    }
}

/// How requests authenticate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// A Redfish session (`X-Auth-Token`), deleted at the end; falls back to
    /// Basic when the service has no sessions or no free session slot.
    Session,
    /// HTTP Basic on every request.
    Basic,
}

impl FromStr for Auth {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s.to_ascii_lowercase().as_str() {
            "session" | "token" => Ok(Auth::Session),
            "basic" => Ok(Auth::Basic),
            other => Err(Error::new(
                ErrorKind::Config,
                format!("unknown Redfish auth {other:?}; use session or basic"),
            )),
        }
    }
}

impl fmt::Display for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Auth::Session => "session",
            Auth::Basic => "basic",
        })
    }
}

/// Timing of one request; everything lives inside `timeout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// The whole request (connect, TLS, every step, power waits) ends by then.
    pub timeout: Duration,
    /// How often the power state is read while waiting for it.
    pub poll_interval: Duration,
    /// How long to wait before asking a not-ready BMC (503, no members) again.
    pub retry_interval: Duration,
    /// Extra wait after Off is seen in a reboot, before On (fence-agents' `power_wait`).
    pub power_wait: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            timeout: Duration::from_secs(20),
            poll_interval: Duration::from_millis(250),
            retry_interval: Duration::from_millis(500),
            power_wait: Duration::ZERO,
        }
    }
}

/// The request's configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Vendor defaults.
    pub vendor: Vendor,
    /// The account.
    pub username: String,
    /// Its password (never shown).
    pub password: Secret,
    /// Session or Basic.
    pub auth: Auth,
    /// The ComputerSystem to act on; `None`: discover (exactly one member).
    pub systems_uri: Option<String>,
    /// What to do.
    pub action: Action,
    /// The ResetType that powers off (ForceOff; GracefulShutdown if asked).
    pub off_reset: ResetType,
    /// Timing.
    pub timing: Timing,
    /// The `Host` header (`host` or `host:port`); set by the driver.
    pub host: String,
}

impl Config {
    /// A configuration with the vendor's defaults.
    pub fn new(
        vendor: Vendor,
        username: impl Into<String>,
        password: Secret,
        action: Action,
    ) -> Self {
        Config {
            vendor,
            username: username.into(),
            password,
            auth: vendor.default_auth(),
            systems_uri: vendor.default_systems_uri().map(str::to_string),
            action,
            off_reset: ResetType::ForceOff,
            timing: Timing::default(),
            host: String::new(),
        }
    }

    /// Checks what can be checked before talking to the BMC.
    pub fn validate(&self) -> Result<(), Error> {
        if self.username.is_empty() {
            return Err(Error::new(
                ErrorKind::Config,
                "Redfish needs a user name (username / login)",
            ));
        }
        if self.username.contains(':') && self.auth == Auth::Basic {
            return Err(Error::new(
                ErrorKind::Config,
                "a user name with ':' cannot be sent with HTTP Basic auth; use auth=session",
            ));
        }
        if let Some(uri) = &self.systems_uri {
            if !valid_path(uri) || !uri.starts_with("/redfish/") {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!(
                        "systems_uri {uri:?} must be a path like /redfish/v1/Systems/1 (no host, \
                         no spaces)"
                    ),
                ));
            }
        }
        if !matches!(
            self.off_reset,
            ResetType::ForceOff | ResetType::GracefulShutdown
        ) {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "the off method must be ForceOff or GracefulShutdown, not {}",
                    self.off_reset
                ),
            ));
        }
        if self.timing.timeout.is_zero() || self.timing.poll_interval.is_zero() {
            return Err(Error::new(
                ErrorKind::Config,
                "the Redfish timeout and poll interval must be above zero",
            ));
        }
        Ok(())
    }
}

/// What the request did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The action done.
    pub action: Action,
    /// The power state last read (only `Off` is off).
    pub power: PowerState,
    /// The raw `PowerState` last read.
    pub redfish_power: RedfishPower,
    /// The power state before any command (status, on, off, reboot).
    pub initial: Option<PowerState>,
    /// Whether a Reset was sent (false: already as asked).
    pub command_sent: bool,
    /// The ResetTypes sent, in order.
    pub resets_sent: Vec<ResetType>,
    /// Whether Off was seen (always true after off and reboot).
    pub off_seen: bool,
    /// The ComputerSystem acted on.
    pub system_uri: String,
    /// The authentication used in the end.
    pub auth: Auth,
    /// Whether the session was deleted (false for Basic).
    pub session_closed: bool,
    /// HTTP requests sent.
    pub requests: u32,
    /// Time from start to the outcome.
    pub elapsed: Duration,
    /// Reboot only: Off was seen (the node is fenced) but powering on failed.
    pub power_on_failed: Option<String>,
    /// Notes for the operator (e.g. fell back to Basic auth).
    pub warnings: Vec<String>,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: power {} (PowerState {}) via {} ({} requests, {} ms)",
            self.action,
            self.power,
            self.redfish_power,
            self.system_uri,
            self.requests,
            self.elapsed.as_millis()
        )
    }
}

/// Something worth telling a verbose operator (never a secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A request went out.
    Sent {
        /// Method.
        method: Method,
        /// Path.
        path: String,
    },
    /// A response came in.
    Received {
        /// Status code.
        status: u16,
        /// Body bytes.
        bytes: usize,
        /// Redfish MessageIds in the body, if any.
        message_ids: Vec<String>,
    },
    /// A decision or a retry.
    Note(String),
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Sent { method, path } => write!(f, "-> {method} {path}"),
            Event::Received {
                status,
                bytes,
                message_ids,
            } => {
                write!(f, "<- {status} ({bytes} bytes)")?;
                if !message_ids.is_empty() {
                    write!(f, " {}", message_ids.join(", "))?;
                }
                Ok(())
            }
            Event::Note(s) => f.write_str(s),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Root,
    Login,
    Systems,
    ReadInitial,
    Issue(ResetType),
    /// Read the state at `at` until `want` is seen. `noop` holds the MessageId
    /// of a "nothing to do" error that the next read must confirm.
    Poll {
        want: PowerState,
        at: Instant,
        noop: bool,
    },
    Settle {
        until: Instant,
    },
    ReadFinal,
    Logout,
    Finished,
}

/// The Redfish fence request.
#[derive(Debug)]
pub struct Client {
    config: Config,
    deadline: Deadline,
    step: Step,
    /// Nothing to send before this (a not-ready BMC).
    retry_at: Option<Instant>,
    /// A request is outstanding.
    waiting: Option<(Method, String)>,
    /// The request to hand out next.
    queued: Option<Request>,
    systems_link: String,
    sessions_link: String,
    system_uri: String,
    reset_target: Option<String>,
    allowed: Option<Vec<String>>,
    auth: Auth,
    token: Option<Secret>,
    session_location: Option<String>,
    session_closed: bool,
    basic: Option<Secret>,
    powering_on: bool,
    noop_id: Option<String>,
    power: Option<RedfishPower>,
    initial: Option<PowerState>,
    resets_sent: Vec<ResetType>,
    off_seen: bool,
    requests: u32,
    warnings: Vec<String>,
    events: VecDeque<Event>,
    /// The result, once decided (the session may still be deleted).
    result: Option<Result<(), Error>>,
    outcome: Option<Result<Outcome, Error>>,
}

impl Client {
    /// A request starting at `now`; its deadline is `now + config.timing.timeout`.
    pub fn new(config: Config, now: Instant) -> Result<Self, Error> {
        config.validate()?;
        let deadline = Deadline::after(now, config.timing.timeout);
        let auth = config.auth;
        let (step, system_uri) = match &config.systems_uri {
            Some(uri) => (
                if auth == Auth::Session {
                    Step::Login
                } else {
                    Step::ReadInitial
                },
                uri.clone(),
            ),
            None => (Step::Root, String::new()),
        };
        let basic = Some(Secret::new(basic_auth(
            &config.username,
            config.password.expose(),
        )));
        let mut c = Client {
            deadline,
            step,
            retry_at: None,
            waiting: None,
            queued: None,
            systems_link: "/redfish/v1/Systems".into(),
            sessions_link: "/redfish/v1/SessionService/Sessions".into(),
            system_uri,
            reset_target: None,
            allowed: None,
            auth,
            token: None,
            session_location: None,
            session_closed: false,
            basic,
            powering_on: false,
            noop_id: None,
            power: None,
            initial: None,
            resets_sent: Vec::new(),
            off_seen: false,
            requests: 0,
            warnings: Vec::new(),
            events: VecDeque::new(),
            result: None,
            outcome: None,
            config,
        };
        c.advance(now);
        Ok(c)
    }

    /// The next request to send, if any (one at a time: wait for its response).
    pub fn poll_request(&mut self) -> Option<Request> {
        self.queued.take()
    }

    /// The next event for a verbose operator.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The outcome, once the request is over.
    pub fn poll_outcome(&mut self) -> Option<Result<Outcome, Error>> {
        self.outcome.take()
    }

    /// When to call [`Client::handle_timeout`] (the retry or poll instant, or
    /// the deadline while a response is outstanding).
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.outcome.is_some() || self.step == Step::Finished {
            return None;
        }
        if self.waiting.is_some() || self.queued.is_some() {
            return Some(self.deadline.end());
        }
        let at = match self.step {
            Step::Poll { at, .. } => Some(at),
            Step::Settle { until } => Some(until),
            _ => None,
        };
        let wake = match (self.retry_at, at) {
            (Some(r), Some(a)) => r.max(a),
            (Some(r), None) => r,
            (None, Some(a)) => a,
            (None, None) => self.deadline.end(),
        };
        Some(wake.min(self.deadline.end()))
    }

    /// The request's deadline.
    pub fn deadline(&self) -> Deadline {
        self.deadline
    }

    /// Time passed (a wait ended, or the deadline passed with a response outstanding).
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.deadline.expired(now) && self.step != Step::Finished {
            if let Some((m, p)) = self.waiting.take() {
                let msg = format!(
                    "the BMC did not answer {m} {p} before the request's deadline ({} ms); \
                     check that it is reachable and not overloaded, or raise the timeout",
                    self.config.timing.timeout.as_millis()
                );
                if self.step == Step::Logout {
                    self.note("the session was not deleted in time; the BMC expires it");
                    self.finish(now);
                } else {
                    self.fail(now, Error::new(ErrorKind::Timeout, msg));
                }
                return;
            }
        }
        self.advance(now);
    }

    /// The connection failed (refused, reset, TLS): the request is over,
    /// unless only the session's deletion was left.
    pub fn handle_transport_error(&mut self, now: Instant, error: Error) {
        self.waiting = None;
        self.queued = None;
        if self.step == Step::Logout {
            self.note(format!(
                "deleting the session failed ({error}); the BMC expires it"
            ));
            self.finish(now);
        } else {
            self.token = None;
            self.fail(now, error);
        }
    }

    /// The outstanding request's response arrived.
    pub fn handle_response(&mut self, now: Instant, response: &Response) {
        let Some((method, path)) = self.waiting.take() else {
            self.note("ignoring a response nobody asked for");
            return;
        };
        let ids = resource::message_ids(&response.body);
        self.events.push_back(Event::Received {
            status: response.status,
            bytes: response.body.len(),
            message_ids: ids.clone(),
        });
        if let Err(e) = self.on_response(now, method, &path, response, &ids) {
            self.fail(now, e);
        }
        self.advance(now);
    }

    fn note(&mut self, s: impl Into<String>) {
        self.events.push_back(Event::Note(s.into()));
    }

    fn fail(&mut self, now: Instant, e: Error) {
        // Reboot: once Off was seen the node is fenced; a failing On is reported, not fatal.
        if self.config.action == Action::Reboot && self.powering_on && self.off_seen {
            self.warnings
                .push(format!("powering on again failed: {}", e.message()));
            self.result = Some(Ok(()));
        } else {
            self.result = Some(Err(e));
        }
        self.retry_at = None;
        self.begin_logout(now);
    }

    fn succeed(&mut self, now: Instant) {
        self.result = Some(Ok(()));
        self.begin_logout(now);
    }

    fn begin_logout(&mut self, now: Instant) {
        if self.token.is_some() && self.session_location.is_some() && !self.deadline.expired(now) {
            self.step = Step::Logout;
        } else {
            if self.token.is_some() {
                self.note("the session is left to expire on the BMC (no time left to delete it)");
            }
            self.finish(now);
        }
    }

    fn finish(&mut self, now: Instant) {
        self.step = Step::Finished;
        self.waiting = None;
        self.queued = None;
        let result = self.result.take().unwrap_or_else(|| {
            Err(Error::new(
                ErrorKind::DeviceMisbehaved,
                "the Redfish request ended without a result",
            ))
        });
        self.outcome = Some(result.and_then(|()| {
            let power = self.power.clone().ok_or_else(|| {
                Error::new(
                    ErrorKind::DeviceMisbehaved,
                    "the request ended before the power state was read",
                )
            })?;
            let (power_on_failed, warnings) = if self.config.action == Action::Reboot
                && self.powering_on
                && self
                    .warnings
                    .last()
                    .is_some_and(|w| w.starts_with("powering on again failed"))
            {
                let mut w = self.warnings.clone();
                let last = w.pop();
                (last, w)
            } else {
                (None, self.warnings.clone())
            };
            Ok(Outcome {
                action: self.config.action,
                power: power.report(),
                redfish_power: power,
                initial: self.initial,
                command_sent: !self.resets_sent.is_empty(),
                resets_sent: self.resets_sent.clone(),
                off_seen: self.off_seen,
                system_uri: self.system_uri.clone(),
                auth: self.auth,
                session_closed: self.session_closed,
                requests: self.requests,
                elapsed: self.deadline.elapsed(now),
                power_on_failed,
                warnings,
            })
        }));
    }

    fn authorize(&self, r: &mut Request) {
        match (&self.token, &self.basic) {
            (Some(t), _) => r.headers.push((
                "X-Auth-Token".into(),
                String::from_utf8_lossy(t.expose()).into_owned(),
            )),
            (None, Some(b)) => r.headers.push((
                "Authorization".into(),
                String::from_utf8_lossy(b.expose()).into_owned(),
            )),
            (None, None) => {}
        }
    }

    fn send(&mut self, mut r: Request, authorized: bool) {
        if authorized {
            self.authorize(&mut r);
        }
        self.requests += 1;
        self.events.push_back(Event::Sent {
            method: r.method,
            path: r.path.clone(),
        });
        self.waiting = Some((r.method, r.path.clone()));
        self.queued = Some(r);
    }

    fn get(&mut self, path: String) {
        self.send(Request::new(Method::Get, path), true);
    }

    /// Decides what to send, if nothing is outstanding.
    fn advance(&mut self, now: Instant) {
        if self.waiting.is_some() || matches!(self.step, Step::Finished) {
            return;
        }
        if self.step == Step::Logout {
            let loc = self.session_location.clone().unwrap_or_default();
            self.send(Request::new(Method::Delete, loc), true);
            return;
        }
        if self.deadline.expired(now) {
            let last = self
                .power
                .as_ref()
                .map(|p| p.to_string())
                .unwrap_or_else(|| "unknown".into());
            let e = match self.step {
                Step::Poll { want, .. } => Error::new(
                    ErrorKind::Timeout,
                    format!(
                        "{}: the BMC accepted the command but power was not seen {want} before \
                         the deadline (PowerState last seen {last}); the node must be treated as \
                         NOT fenced. Raise the timeout if this machine powers {want} slowly",
                        self.config.action
                    ),
                ),
                _ => Error::new(
                    ErrorKind::Timeout,
                    format!(
                        "{}: the request's deadline passed before it could finish (PowerState \
                         last seen {last}); the BMC was not ready or too slow; raise the timeout",
                        self.config.action
                    ),
                ),
            };
            self.fail(now, e);
            if self.step == Step::Logout {
                self.advance(now);
            }
            return;
        }
        if let Some(at) = self.retry_at {
            if now < at {
                return;
            }
            self.retry_at = None;
        }
        match self.step {
            Step::Root => self.send(Request::new(Method::Get, SERVICE_ROOT), false),
            Step::Login => {
                let mut r = Request::new(Method::Post, self.sessions_link.clone());
                r.body = Some(resource::login_body(
                    &self.config.username,
                    self.config.password.expose(),
                ));
                r.secret_body = true;
                self.send(r, false);
            }
            Step::Systems => self.get(self.systems_link.clone()),
            Step::ReadInitial | Step::ReadFinal => self.get(self.system_uri.clone()),
            Step::Issue(reset) => {
                let target = self.reset_target.clone().unwrap_or_else(|| {
                    format!(
                        "{}/Actions/ComputerSystem.Reset",
                        self.system_uri.trim_end_matches('/')
                    )
                });
                let mut r = Request::new(Method::Post, target);
                r.body = Some(resource::reset_body(reset));
                self.resets_sent.push(reset);
                self.send(r, true);
            }
            Step::Poll { at, .. } => {
                if now >= at {
                    self.get(self.system_uri.clone());
                }
            }
            Step::Settle { until } => {
                if now >= until {
                    self.step = Step::Issue(self.pick_on_reset());
                    self.advance(now);
                }
            }
            Step::Logout | Step::Finished => {}
        }
    }

    fn pick_on_reset(&self) -> ResetType {
        match &self.allowed {
            Some(list)
                if !list.iter().any(|v| v == "On") && list.iter().any(|v| v == "ForceOn") =>
            {
                ResetType::ForceOn
            }
            _ => ResetType::On,
        }
    }

    /// The ResetType for `action`, checked against the allowed values.
    fn choose(&self, action: Action) -> Result<ResetType, Error> {
        let wanted: &[ResetType] = match action {
            Action::On => &[ResetType::On, ResetType::ForceOn],
            Action::Off | Action::Reboot => &[self.config.off_reset],
            Action::Cycle => &[ResetType::PowerCycle],
            Action::Reset => &[ResetType::ForceRestart],
            Action::Diag => &[ResetType::Nmi],
            Action::Status => &[],
        };
        let Some(allowed) = &self.allowed else {
            return wanted
                .first()
                .copied()
                .ok_or_else(|| Error::new(ErrorKind::Config, "status sends no reset"));
        };
        wanted
            .iter()
            .copied()
            .find(|w| allowed.iter().any(|a| a == w.as_str()))
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::DeviceIncompatible,
                    format!(
                        "{action}: the BMC does not allow ResetType {} on {} (allowed: {}); \
                         use another action or method",
                        wanted.first().map(|w| w.as_str()).unwrap_or("?"),
                        self.system_uri,
                        allowed.join(", ")
                    ),
                )
            })
    }

    fn status_error(&self, method: Method, path: &str, r: &Response, ids: &[String]) -> Error {
        let id = ids
            .first()
            .map(|s| format!(", MessageId {s}"))
            .unwrap_or_default();
        let text = resource::error_message(&r.body)
            .map(|m| format!(": {m}"))
            .unwrap_or_default();
        match r.status {
            401 => Error::new(
                ErrorKind::Auth,
                format!(
                    "the BMC refused the credentials of user {:?} (HTTP 401{id}); check the user \
                     name and password",
                    self.config.username
                ),
            ),
            403 => Error::new(
                ErrorKind::Auth,
                format!(
                    "user {:?} may not {method} {path} (HTTP 403{id}); the account needs the \
                     ConfigureComponents privilege (iLO: Virtual Power and Reset; iDRAC: \
                     Operator)",
                    self.config.username
                ),
            ),
            404 => Error::new(
                ErrorKind::Config,
                format!(
                    "the BMC has no resource at {path} (HTTP 404{id}); check systems_uri \
                     (e.g. /redfish/v1/Systems/1 for iLO, /redfish/v1/Systems/System.Embedded.1 \
                     for iDRAC)"
                ),
            )
            .with_code(404),
            s => Error::new(
                if (400..500).contains(&s) {
                    ErrorKind::DeviceIncompatible
                } else {
                    ErrorKind::DeviceMisbehaved
                },
                format!("{method} {path} failed: HTTP {s}{id}{text}"),
            )
            .with_code(u32::from(s)),
        }
    }

    fn not_ready(&mut self, now: Instant, why: String) {
        self.note(format!("BMC not ready ({why}); retrying"));
        self.retry_at = Some(now + self.config.timing.retry_interval);
    }

    fn on_response(
        &mut self,
        now: Instant,
        method: Method,
        path: &str,
        r: &Response,
        ids: &[String],
    ) -> Result<(), Error> {
        let step = self.step;
        if step == Step::Logout {
            self.session_closed = (200..300).contains(&r.status);
            if !self.session_closed {
                self.note(format!("deleting the session answered HTTP {}", r.status));
            }
            self.token = None;
            self.finish(now);
            return Ok(());
        }
        if r.status == 503 {
            if step == Step::Login && ids.iter().any(|i| i.ends_with("SessionLimitExceeded")) {
                self.fall_back_to_basic("the BMC's session limit is reached");
                return Ok(());
            }
            self.not_ready(now, format!("{method} {path}: HTTP 503"));
            return Ok(());
        }
        match step {
            Step::Root => {
                if r.status != 200 {
                    return Err(self.status_error(method, path, r, ids));
                }
                let root = resource::parse_root(&r.body)?;
                if let Some(s) = root.systems.filter(|s| valid_path(s)) {
                    self.systems_link = s;
                }
                let has_sessions = root.sessions.is_some();
                if let Some(s) = root.sessions.filter(|s| valid_path(s)) {
                    self.sessions_link = s;
                }
                if self.auth == Auth::Session && !has_sessions {
                    self.fall_back_to_basic("the service root lists no SessionService");
                } else if self.auth == Auth::Session {
                    self.step = Step::Login;
                } else {
                    self.step = Step::Systems;
                }
            }
            Step::Login => match r.status {
                200 | 201 => {
                    let token = r.header("X-Auth-Token").filter(|t| {
                        !t.is_empty() && super::http::valid_header_value(t) && t.len() <= 1024
                    });
                    let Some(token) = token else {
                        return Err(Error::new(
                            ErrorKind::DeviceMisbehaved,
                            "the BMC created a session but sent no usable X-Auth-Token; use auth=basic",
                        ));
                    };
                    self.token = Some(Secret::from(token));
                    self.session_location = r
                        .header("Location")
                        .map(origin_form)
                        .filter(|l| valid_path(l))
                        .or_else(|| {
                            // Without a Location, the body's @odata.id names the session.
                            serde_json::from_slice::<serde_json::Value>(&r.body)
                                .ok()
                                .and_then(|v| v.get("@odata.id")?.as_str().map(str::to_string))
                                .filter(|l| valid_path(l))
                        });
                    if self.session_location.is_none() {
                        self.warnings.push(
                            "the BMC named no session URI; the session is left to expire".into(),
                        );
                    }
                    self.note("session created");
                    self.step = if self.system_uri.is_empty() {
                        Step::Systems
                    } else {
                        Step::ReadInitial
                    };
                }
                401 | 403 => return Err(self.status_error(method, path, r, ids)),
                404 | 405 | 501 => {
                    self.fall_back_to_basic("the BMC has no Redfish session service");
                }
                _ => return Err(self.status_error(method, path, r, ids)),
            },
            Step::Systems => {
                if r.status != 200 {
                    return Err(self.status_error(method, path, r, ids));
                }
                let members = resource::parse_members(&r.body)?;
                match members.as_slice() {
                    [] => self.not_ready(now, "the Systems collection is empty".into()),
                    [one] => {
                        if !valid_path(one) {
                            return Err(Error::new(
                                ErrorKind::InvalidMessage,
                                "the BMC's only system member has an invalid URI",
                            ));
                        }
                        self.system_uri = one.clone();
                        self.step = Step::ReadInitial;
                    }
                    many => {
                        return Err(Error::new(
                            ErrorKind::Config,
                            format!(
                                "the BMC manages {} systems ({}); refusing to guess which one to \
                                 fence: set systems_uri to the node's system",
                                many.len(),
                                many.join(", ")
                            ),
                        ))
                    }
                }
            }
            Step::ReadInitial | Step::ReadFinal | Step::Poll { .. } => {
                if r.status != 200 {
                    return Err(self.status_error(method, path, r, ids));
                }
                let sys = resource::parse_system(&r.body)?;
                if step == Step::ReadInitial {
                    if let Some(t) = sys.reset_target.as_ref().filter(|t| valid_path(t)) {
                        self.reset_target = Some(t.clone());
                    }
                    self.allowed = sys.allowed.clone();
                }
                self.on_power(now, sys.power)?;
            }
            Step::Issue(reset) => {
                if (200..300).contains(&r.status) {
                    self.note(format!("{reset} accepted (HTTP {})", r.status));
                    self.after_issue(now, reset);
                } else if matches!(r.status, 400 | 409)
                    && ids.iter().any(|i| is_noop_id(i))
                    && matches!(
                        reset,
                        ResetType::On
                            | ResetType::ForceOn
                            | ResetType::ForceOff
                            | ResetType::GracefulShutdown
                    )
                {
                    let id = ids.first().cloned().unwrap_or_default();
                    self.note(format!(
                        "{reset} answered HTTP {} {id} (already in that state?); reading the state to confirm",
                        r.status
                    ));
                    self.noop_id = Some(id);
                    self.after_issue(now, reset);
                    if let Step::Poll { want, .. } = self.step {
                        self.step = Step::Poll {
                            want,
                            at: now,
                            noop: true,
                        };
                    }
                } else {
                    return Err(self.status_error(method, path, r, ids));
                }
            }
            Step::Settle { .. } | Step::Logout | Step::Finished => {}
        }
        Ok(())
    }

    fn fall_back_to_basic(&mut self, why: &str) {
        let w = format!("{why}; using HTTP Basic auth instead of a session");
        self.note(w.clone());
        self.warnings.push(w);
        self.auth = Auth::Basic;
        self.step = if self.system_uri.is_empty() {
            Step::Systems
        } else {
            Step::ReadInitial
        };
    }

    fn after_issue(&mut self, now: Instant, reset: ResetType) {
        let want = match reset {
            ResetType::On | ResetType::ForceOn => Some(PowerState::On),
            ResetType::ForceOff | ResetType::GracefulShutdown => Some(PowerState::Off),
            _ => None,
        };
        self.step = match want {
            Some(want) => Step::Poll {
                want,
                at: now,
                noop: false,
            },
            None => Step::ReadFinal,
        };
    }

    fn on_power(&mut self, now: Instant, power: RedfishPower) -> Result<(), Error> {
        if power == RedfishPower::Off {
            self.off_seen = true;
        }
        self.note(format!("PowerState {power}"));
        self.power = Some(power.clone());
        match self.step {
            Step::ReadInitial => {
                let state = power.report();
                self.initial = Some(state);
                let action = self.config.action;
                match action {
                    Action::Status => self.succeed(now),
                    Action::On | Action::Off
                        if power.is(if action == Action::On {
                            PowerState::On
                        } else {
                            PowerState::Off
                        }) =>
                    {
                        self.note(format!("already {state}; nothing to send"));
                        self.succeed(now);
                    }
                    Action::Reboot if power == RedfishPower::Off => {
                        self.powering_on = true;
                        self.step = Step::Issue(self.choose(Action::On)?);
                    }
                    Action::On
                    | Action::Off
                    | Action::Reboot
                    | Action::Cycle
                    | Action::Reset
                    | Action::Diag => {
                        if action == Action::On {
                            self.powering_on = true;
                        }
                        self.step = Step::Issue(self.choose(action)?);
                    }
                }
            }
            Step::ReadFinal => self.succeed(now),
            Step::Poll { want, noop, .. } => {
                if power.is(want) {
                    self.noop_id = None;
                    if want == PowerState::Off && self.config.action == Action::Reboot {
                        self.powering_on = true;
                        self.step = Step::Settle {
                            until: now + self.config.timing.power_wait,
                        };
                    } else {
                        self.succeed(now);
                    }
                } else if noop && !power.heading_to(want) {
                    let id = self.noop_id.take().unwrap_or_default();
                    return Err(Error::new(
                        ErrorKind::DeviceMisbehaved,
                        format!(
                            "the BMC refused the reset with {id} (\"already in that state\"), but \
                             PowerState is {power}, not {want}; check the BMC's event log"
                        ),
                    ));
                } else {
                    self.step = Step::Poll {
                        want,
                        at: now + self.config.timing.poll_interval,
                        noop: false,
                    };
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// Whether a Redfish MessageId means "the system is already in that state".
fn is_noop_id(id: &str) -> bool {
    id.ends_with("InvalidOperationForSystemState")
        || id.ends_with(".PSU501")
        || id.ends_with(".PSU502")
        || id.ends_with("NoOperation")
}

/// `https://host/path` -> `/path`; a path stays as it is.
fn origin_form(location: &str) -> String {
    match location.split_once("://") {
        Some((_, rest)) => match rest.find('/') {
            Some(i) => rest[i..].to_string(),
            None => "/".to_string(),
        },
        None => location.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resp(status: u16, headers: &[(&str, &str)], body: &str) -> Response {
        Response {
            status,
            reason: String::new(),
            headers: headers
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
            body: body.as_bytes().to_vec(),
            keep_alive: true,
        }
    }

    fn system(state: &str) -> Response {
        resp(
            200,
            &[],
            &format!(
                r##"{{"PowerState":"{state}","Actions":{{"#ComputerSystem.Reset":{{"target":"/redfish/v1/Systems/1/Actions/ComputerSystem.Reset","ResetType@Redfish.AllowableValues":["On","ForceOff","ForceRestart"]}}}}}}"##
            ),
        )
    }

    fn expect(c: &mut Client, method: Method, path: &str) -> Request {
        let r = c.poll_request().expect("a request");
        assert_eq!((r.method, r.path.as_str()), (method, path));
        r
    }

    fn config(action: Action, vendor: Vendor) -> Config {
        Config::new(vendor, "admin", Secret::from("pw"), action)
    }

    #[test]
    fn ilo_reboot_with_session_and_noop_confirmed() {
        let t0 = Instant::now();
        let mut c = Client::new(config(Action::Reboot, Vendor::Ilo), t0).unwrap();
        let login = expect(&mut c, Method::Post, "/redfish/v1/SessionService/Sessions");
        assert!(!format!("{login:?}").contains("\"pw\""));
        c.handle_response(
            t0,
            &resp(
                201,
                &[
                    ("X-Auth-Token", "tok"),
                    ("Location", "https://h/redfish/v1/SessionService/Sessions/7"),
                ],
                "{}",
            ),
        );
        let r = expect(&mut c, Method::Get, "/redfish/v1/Systems/1");
        assert!(r
            .headers
            .iter()
            .any(|(n, v)| n == "X-Auth-Token" && v == "tok"));
        c.handle_response(t0, &system("On"));
        expect(
            &mut c,
            Method::Post,
            "/redfish/v1/Systems/1/Actions/ComputerSystem.Reset",
        );
        c.handle_response(t0, &resp(200, &[], "{}"));
        expect(&mut c, Method::Get, "/redfish/v1/Systems/1");
        c.handle_response(t0, &system("PoweringOff"));
        assert!(c.poll_request().is_none());
        let t1 = c.poll_timeout().unwrap();
        c.handle_timeout(t1);
        expect(&mut c, Method::Get, "/redfish/v1/Systems/1");
        c.handle_response(t1, &system("Off"));
        c.handle_timeout(t1);
        expect(
            &mut c,
            Method::Post,
            "/redfish/v1/Systems/1/Actions/ComputerSystem.Reset",
        );
        // iLO: 400 InvalidOperationForSystemState, and the state read agrees.
        c.handle_response(t1, &resp(400, &[], r#"{"error":{"@Message.ExtendedInfo":[{"MessageId":"iLO.2.14.InvalidOperationForSystemState"}]}}"#));
        expect(&mut c, Method::Get, "/redfish/v1/Systems/1");
        c.handle_response(t1, &system("On"));
        expect(
            &mut c,
            Method::Delete,
            "/redfish/v1/SessionService/Sessions/7",
        );
        c.handle_response(t1, &resp(200, &[], "{}"));
        let o = c.poll_outcome().unwrap().unwrap();
        assert!(o.off_seen && o.session_closed && o.power == PowerState::On);
        assert_eq!(o.resets_sent, vec![ResetType::ForceOff, ResetType::On]);
    }

    #[test]
    fn noop_refused_when_state_disagrees() {
        let t0 = Instant::now();
        let mut c = Client::new(config(Action::Off, Vendor::Idrac), t0).unwrap();
        expect(&mut c, Method::Post, "/redfish/v1/SessionService/Sessions");
        c.handle_response(
            t0,
            &resp(201, &[("X-Auth-Token", "t"), ("Location", "/s/1")], "{}"),
        );
        expect(&mut c, Method::Get, "/redfish/v1/Systems/System.Embedded.1");
        c.handle_response(t0, &system("On"));
        expect(
            &mut c,
            Method::Post,
            "/redfish/v1/Systems/1/Actions/ComputerSystem.Reset",
        );
        c.handle_response(
            t0,
            &resp(
                409,
                &[],
                r#"{"error":{"@Message.ExtendedInfo":[{"MessageId":"IDRAC.2.8.PSU501"}]}}"#,
            ),
        );
        expect(&mut c, Method::Get, "/redfish/v1/Systems/System.Embedded.1");
        c.handle_response(t0, &system("On"));
        expect(&mut c, Method::Delete, "/s/1");
        c.handle_response(t0, &resp(204, &[], ""));
        let e = c.poll_outcome().unwrap().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::DeviceMisbehaved);
        assert!(e.message().contains("PSU501"), "{e}");
    }

    #[test]
    fn discovery_refuses_to_guess_and_retries_when_not_ready() {
        let t0 = Instant::now();
        let mut c = Client::new(config(Action::Status, Vendor::Generic), t0).unwrap();
        expect(&mut c, Method::Get, "/redfish/v1/");
        c.handle_response(
            t0,
            &resp(
                200,
                &[],
                r#"{"Systems":{"@odata.id":"/redfish/v1/Systems"}}"#,
            ),
        );
        let r = expect(&mut c, Method::Get, "/redfish/v1/Systems");
        assert!(r
            .headers
            .iter()
            .any(|(n, v)| n == "Authorization" && v.starts_with("Basic ")));
        c.handle_response(t0, &resp(200, &[], r#"{"Members":[]}"#));
        assert!(c.poll_request().is_none());
        let t1 = c.poll_timeout().unwrap();
        assert!(t1 > t0);
        c.handle_timeout(t1);
        expect(&mut c, Method::Get, "/redfish/v1/Systems");
        c.handle_response(t1, &resp(200, &[], r#"{"Members":[{"@odata.id":"/redfish/v1/Systems/a"},{"@odata.id":"/redfish/v1/Systems/b"}]}"#));
        let e = c.poll_outcome().unwrap().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(
            e.message()
                .contains("/redfish/v1/Systems/a, /redfish/v1/Systems/b")
                && e.message().contains("systems_uri")
        );
    }

    #[test]
    fn auth_fails_fast_and_deadline_bounds_polling() {
        let t0 = Instant::now();
        let mut cfg = config(Action::Off, Vendor::Generic);
        cfg.systems_uri = Some("/redfish/v1/Systems/1".into());
        let mut c = Client::new(cfg.clone(), t0).unwrap();
        expect(&mut c, Method::Get, "/redfish/v1/Systems/1");
        c.handle_response(
            t0,
            &resp(
                401,
                &[],
                r#"{"error":{"@Message.ExtendedInfo":[{"MessageId":"Base.1.4.NoValidSession"}]}}"#,
            ),
        );
        let e = c.poll_outcome().unwrap().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Auth);
        assert!(e.message().contains("NoValidSession"));

        cfg.timing.timeout = Duration::from_secs(2);
        let mut c = Client::new(cfg, t0).unwrap();
        expect(&mut c, Method::Get, "/redfish/v1/Systems/1");
        c.handle_response(t0, &system("On"));
        expect(
            &mut c,
            Method::Post,
            "/redfish/v1/Systems/1/Actions/ComputerSystem.Reset",
        );
        c.handle_response(t0, &resp(204, &[], ""));
        let mut now = t0;
        for _ in 0..100 {
            if let Some(o) = c.poll_outcome() {
                let e = o.unwrap_err();
                assert_eq!(e.kind(), ErrorKind::Timeout);
                assert!(now <= t0 + Duration::from_secs(2));
                return;
            }
            if c.poll_request().is_some() {
                c.handle_response(now, &system("On"));
            } else {
                now = c.poll_timeout().unwrap();
                c.handle_timeout(now);
            }
        }
        panic!("never timed out");
    }

    #[test]
    fn disallowed_reset_type_is_incompatible() {
        let t0 = Instant::now();
        let mut cfg = config(Action::Cycle, Vendor::Generic);
        cfg.systems_uri = Some("/redfish/v1/Systems/1".into());
        let mut c = Client::new(cfg, t0).unwrap();
        expect(&mut c, Method::Get, "/redfish/v1/Systems/1");
        c.handle_response(t0, &system("On"));
        let e = c.poll_outcome().unwrap().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::DeviceIncompatible);
        assert!(e.message().contains("allowed: On, ForceOff, ForceRestart"));
    }

    #[test]
    fn session_limit_falls_back_to_basic() {
        let t0 = Instant::now();
        let mut c = Client::new(config(Action::Status, Vendor::Ilo), t0).unwrap();
        expect(&mut c, Method::Post, "/redfish/v1/SessionService/Sessions");
        c.handle_response(t0, &resp(503, &[], r#"{"error":{"@Message.ExtendedInfo":[{"MessageId":"Base.1.8.SessionLimitExceeded"}]}}"#));
        let r = expect(&mut c, Method::Get, "/redfish/v1/Systems/1");
        assert!(r.headers.iter().any(|(n, _)| n == "Authorization"));
        c.handle_response(t0, &system("Off"));
        let o = c.poll_outcome().unwrap().unwrap();
        assert_eq!((o.power, o.auth), (PowerState::Off, Auth::Basic));
        assert_eq!(o.warnings.len(), 1);
    }
}
