//! One fence request through an external agent, sans I/O: which runs of the
//! agent to make, in which order, and what their exits mean.
//!
//! The driver loops: [`Fence::next`] says [`Next::Run`] (run this
//! [`Invocation`] and report its [`Exit`] with [`Fence::handle_exit`], or
//! [`Fence::handle_deadline`] when it was killed at the deadline),
//! [`Next::Sleep`] (call `next` again at that instant) or [`Next::Done`].
//!
//! Verification: a fence-agents agent is asked `action=status` after `off`
//! until it answers "off" (exit 2); a node is reported fenced only then, and
//! reboot is off, verify off, on, verify on. A cluster-glue plugin's `status`
//! speaks of the device, never of the host, so its `off` and `reset` cannot be
//! verified: they are reported unverified, which fails unless the device was
//! configured with [`Device::accept_unverified`].

use std::fmt;
use std::time::{Duration, Instant};

use super::output::{self, agent_status};
use super::params::{agent_stdin, plugin_environment, redact, Params};
use crate::deadline::Deadline;
use crate::power::{Action, PowerState};
use crate::{Error, ErrorKind};

/// Which project's protocol the agent speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A cluster-glue `external/*` plugin: `PLUGIN COMMAND [HOST]`,
    /// parameters in the environment, exit 0 for success.
    Plugin,
    /// A fence-agents `fence_*` agent: `name=value` lines on stdin,
    /// `action=` among them; status exit 0 on, 2 off, 1 error.
    Agent,
}

/// An external device: the agent and its parameters.
#[derive(Debug, Clone)]
pub struct Device {
    /// The protocol.
    pub kind: Kind,
    /// The plugin's name (`ipmi` for `external/ipmi`) or the agent's
    /// (`fence_ipmilan`); used in messages.
    pub name: String,
    /// Parameters, handed over as the protocol says.
    pub params: Params,
    /// Report a plugin's off/reset as done although nobody saw the host off
    /// (parameter `accept_unverified`): the operator vouches for the device.
    pub accept_unverified: bool,
    /// The pause between two status polls.
    pub status_interval: Duration,
}

impl Device {
    /// A device with no parameters, status polled every 500 ms.
    pub fn new(kind: Kind, name: impl Into<String>) -> Self {
        Device {
            kind,
            name: name.into(),
            params: Params::new(),
            accept_unverified: false,
            status_interval: Duration::from_millis(500),
        }
    }

    /// How it is shown: `external/ipmi` or `fence_ipmilan`.
    pub fn label(&self) -> String {
        match self.kind {
            Kind::Plugin => format!("external/{}", self.name),
            Kind::Agent => self.name.clone(),
        }
    }
}

/// What the agent is run for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// cluster-glue `gethosts`, before a power command: is the host ours?
    Hosts,
    /// The power command (`on`, `off`, `reset`, fence-agents' `reboot`, `diag`).
    Command(&'static str),
    /// A status read (fence-agents: the power state; cluster-glue: the device).
    Status,
    /// An information query (`getconfignames`, `metadata`, `list`...).
    Query(&'static str),
}

/// One run of the agent: arguments after the program, the complete
/// environment (nothing else is inherited), stdin. `Debug` shows no values.
#[derive(Clone)]
pub struct Invocation {
    /// Arguments (cluster-glue: the command and host; fence-agents: none).
    pub args: Vec<String>,
    /// The whole environment.
    pub env: Vec<(String, Vec<u8>)>,
    /// Bytes written to stdin, then closed.
    pub stdin: Vec<u8>,
    /// Why.
    pub step: Step,
}

impl fmt::Debug for Invocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.env.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("Invocation")
            .field("args", &self.args)
            .field("env_names", &names)
            .field("stdin_bytes", &self.stdin.len())
            .field("step", &self.step)
            .finish()
    }
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exit {
    /// The exit code; `None` when a signal ended it.
    pub code: Option<i32>,
    /// Its stdout (bounded by the driver).
    pub stdout: Vec<u8>,
    /// Its stderr (bounded by the driver).
    pub stderr: Vec<u8>,
}

/// What a request did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The power state last read back (fence-agents), `None` when the agent
    /// cannot tell (cluster-glue).
    pub power: Option<PowerState>,
    /// Whether a power command was run.
    pub command_sent: bool,
    /// Off was read back during the request.
    pub off_seen: bool,
    /// The result was read back, not taken on the agent's word.
    pub verified: bool,
    /// Something the operator should know although the request succeeded.
    pub warning: Option<String>,
    /// How many times the agent ran.
    pub runs: u32,
}

/// What the driver does next.
#[derive(Debug)]
pub enum Next {
    /// Run the agent, report with [`Fence::handle_exit`] or [`Fence::handle_deadline`].
    Run(Invocation),
    /// Call [`Fence::next`] again at this instant.
    Sleep(Instant),
    /// Finished.
    Done(Result<Outcome, Error>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    CheckHosts,
    Command(&'static str),
    Poll(PowerState),
    PollAfter(PowerState, Instant),
    Status,
    Finished,
}

/// One fence request (see the module documentation for the protocol).
#[derive(Debug)]
pub struct Fence {
    device: Device,
    host: String,
    action: Action,
    deadline: Deadline,
    phase: Phase,
    running: bool,
    outcome: Outcome,
    /// The last status poll: what it said (state, or the error).
    last_poll: Option<Result<PowerState, String>>,
    result: Option<Result<Outcome, Error>>,
}

impl Fence {
    /// A request of `action` on `host` (the plugin's host argument, or the
    /// agent's `plug=` when the device has none: several plugs per agent),
    /// to be over by `deadline`.
    pub fn new(
        device: Device,
        host: &str,
        action: Action,
        deadline: Deadline,
    ) -> Result<Self, Error> {
        if host.is_empty() && device.kind == Kind::Plugin && action != Action::Status {
            return Err(Error::new(
                ErrorKind::Config,
                format!("{}: no host to fence; name the node", device.label()),
            ));
        }
        if host.bytes().any(|b| b.is_ascii_control() || b == b' ') || host.len() > 255 {
            return Err(Error::new(
                ErrorKind::Config,
                "the host name has spaces or control characters; give the node's name",
            ));
        }
        let phase = match (device.kind, action) {
            (_, Action::Status) => Phase::Status,
            (Kind::Plugin, Action::Diag) => {
                return Err(Error::new(
                    ErrorKind::DeviceIncompatible,
                    format!(
                        "{}: cluster-glue plugins have no diag (NMI) command; use on, off or reset",
                        device.label()
                    ),
                ))
            }
            (Kind::Plugin, _) => Phase::CheckHosts,
            (Kind::Agent, Action::On) => Phase::Command("on"),
            (Kind::Agent, Action::Off | Action::Reboot) => Phase::Command("off"),
            (Kind::Agent, Action::Cycle | Action::Reset) => Phase::Command("reboot"),
            (Kind::Agent, Action::Diag) => Phase::Command("diag"),
        };
        let mut device = device;
        if device.kind == Kind::Agent && !host.is_empty() && device.params.get("plug").is_none() {
            device.params.set("plug", host)?;
        }
        Ok(Fence {
            device,
            host: host.to_string(),
            action,
            deadline,
            phase,
            running: false,
            outcome: Outcome {
                power: None,
                command_sent: false,
                off_seen: false,
                verified: false,
                warning: None,
                runs: 0,
            },
            last_poll: None,
            result: None,
        })
    }

    /// The request's deadline.
    pub fn deadline(&self) -> Deadline {
        self.deadline
    }

    /// The device.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// What to do next, at `now`.
    pub fn next(&mut self, now: Instant) -> Next {
        if let Some(result) = self.result.take() {
            self.phase = Phase::Finished;
            return Next::Done(result);
        }
        if self.phase == Phase::Finished {
            return Next::Done(Err(Error::new(
                ErrorKind::Config,
                "the request is already finished",
            )));
        }
        if self.running {
            // A driver bug: treat as the deadline.
            return Next::Sleep(self.deadline.end());
        }
        if self.deadline.expired(now) {
            self.on_deadline(now);
            return self.next(now);
        }
        let invocation = match self.phase {
            Phase::CheckHosts => self.plugin_run(Step::Hosts, &["gethosts"]),
            Phase::Command(command) => match self.device.kind {
                Kind::Plugin => {
                    let host = self.host.clone();
                    self.plugin_run(Step::Command(command), &[command, &host])
                }
                Kind::Agent => self.agent_run(Step::Command(command), command),
            },
            Phase::Poll(_) => self.status_run(),
            Phase::PollAfter(want, at) => {
                if now < at {
                    return Next::Sleep(at.min(self.deadline.end()));
                }
                self.phase = Phase::Poll(want);
                self.status_run()
            }
            Phase::Status => self.status_run(),
            Phase::Finished => unreachable_done(),
        };
        match invocation {
            Ok(inv) => {
                self.running = true;
                self.outcome.runs += 1;
                Next::Run(inv)
            }
            Err(e) => {
                self.phase = Phase::Finished;
                Next::Done(Err(e))
            }
        }
    }

    /// The run asked for by the last [`Next::Run`] ended.
    pub fn handle_exit(&mut self, now: Instant, exit: Exit) {
        if !self.running {
            return;
        }
        self.running = false;
        let label = self.device.label();
        match self.phase {
            Phase::CheckHosts => {
                if exit.code != Some(0) {
                    self.fail(self.run_error("gethosts", &exit));
                    return;
                }
                match output::parse_hosts(&exit.stdout) {
                    Ok(hosts) if hosts.iter().any(|h| h.eq_ignore_ascii_case(&self.host)) => {
                        let command = match self.action {
                            Action::On => "on",
                            Action::Off => "off",
                            _ => "reset",
                        };
                        self.phase = Phase::Command(command);
                    }
                    Ok(hosts) => self.fail(Error::new(
                        ErrorKind::Config,
                        format!(
                            "{label} does not control {}: its gethosts lists {}; check the \
                             plugin's host parameter (hostname, hostlist...)",
                            self.host,
                            if hosts.is_empty() {
                                "no host".to_string()
                            } else {
                                hosts.join(", ")
                            }
                        ),
                    )),
                    Err(e) => self.fail(e),
                }
            }
            Phase::Command(command) => self.after_command(now, command, exit),
            Phase::Poll(want) => {
                let code = exit.code.unwrap_or(-1);
                match agent_status(code) {
                    Some(seen) => {
                        self.outcome.power = Some(seen);
                        self.last_poll = Some(Ok(seen));
                        if seen == PowerState::Off {
                            self.outcome.off_seen = true;
                        }
                        if seen == want {
                            self.reached(now, want);
                        } else {
                            self.phase = Phase::PollAfter(want, now + self.device.status_interval);
                        }
                    }
                    None => {
                        self.last_poll = Some(Err(self.run_error("status", &exit).to_string()));
                        self.phase = Phase::PollAfter(want, now + self.device.status_interval);
                    }
                }
            }
            Phase::Status => {
                let code = exit.code.unwrap_or(-1);
                match self.device.kind {
                    Kind::Agent => match agent_status(code) {
                        Some(seen) => {
                            self.outcome.power = Some(seen);
                            self.outcome.off_seen = seen == PowerState::Off;
                            self.outcome.verified = true;
                            self.succeed();
                        }
                        None => self.fail(self.run_error("status", &exit)),
                    },
                    Kind::Plugin => {
                        if code == 0 {
                            self.outcome.warning = Some(format!(
                                "{label}'s status says only that the device answers; \
                                 cluster-glue plugins cannot read a host's power state"
                            ));
                            self.succeed();
                        } else {
                            self.fail(self.run_error("status", &exit));
                        }
                    }
                }
            }
            Phase::PollAfter(..) | Phase::Finished => {}
        }
    }

    /// The run asked for was killed at the deadline.
    pub fn handle_deadline(&mut self, now: Instant) {
        self.running = false;
        self.on_deadline(now);
    }

    fn after_command(&mut self, now: Instant, command: &'static str, exit: Exit) {
        let label = self.device.label();
        if exit.code != Some(0) {
            let error = self.run_error(command, &exit);
            // Reboot's on half after off was seen: fenced anyway.
            if command == "on" && self.action == Action::Reboot && self.outcome.off_seen {
                self.outcome.warning = Some(format!(
                    "the node was seen off (fenced), but powering it on again failed: {error}"
                ));
                self.succeed();
            } else {
                self.fail(error);
            }
            return;
        }
        self.outcome.command_sent = true;
        match self.device.kind {
            Kind::Plugin => {
                if command == "on" {
                    self.outcome.warning = Some(format!(
                        "{label} said on succeeded; cluster-glue plugins cannot read the power \
                         state back, so this is its word only"
                    ));
                    self.succeed();
                } else if self.device.accept_unverified {
                    self.outcome.warning = Some(format!(
                        "{label} said {command} succeeded; unverified (cluster-glue plugins \
                         cannot read a host's power state), accepted because of \
                         accept_unverified=yes"
                    ));
                    self.succeed();
                } else {
                    self.fail(Error::new(
                        ErrorKind::DeviceIncompatible,
                        format!(
                            "{label} said `{command} {}` succeeded, but that is unverified: a \
                             cluster-glue plugin's status speaks of the device, not the host, \
                             so nobody saw the node off and it is not reported fenced. Use a \
                             device that reads power back (type ipmi, or a fence-agents agent), \
                             or set accept_unverified=yes to take the plugin's word",
                            self.host
                        ),
                    ));
                }
            }
            Kind::Agent => match command {
                "off" => self.phase = Phase::Poll(PowerState::Off),
                "on" => self.phase = Phase::Poll(PowerState::On),
                "reboot" => {
                    self.outcome.warning = Some(format!(
                        "{label} rebooted the node in one command ({}): off was not observed",
                        self.action
                    ));
                    self.phase = Phase::PollAfter(PowerState::On, now);
                }
                _ => {
                    self.outcome.verified = false;
                    self.succeed();
                }
            },
        }
    }

    fn reached(&mut self, now: Instant, state: PowerState) {
        match (self.action, state) {
            (Action::Reboot, PowerState::Off) => self.phase = Phase::Command("on"),
            _ => {
                let _ = now;
                // The final state was read back, not taken on the agent's word.
                self.outcome.verified = true;
                self.succeed();
            }
        }
    }

    fn on_deadline(&mut self, now: Instant) {
        let label = self.device.label();
        let secs = self.deadline.elapsed(now).as_secs_f64();
        // Reboot's on half after off was seen: fenced anyway.
        if self.action == Action::Reboot && self.outcome.off_seen {
            self.outcome.warning = Some(format!(
                "the node was seen off (fenced), but it was not seen on again within the \
                 deadline ({secs:.1} s)"
            ));
            self.succeed();
            return;
        }
        let error = match (self.phase, &self.last_poll) {
            (Phase::Poll(want) | Phase::PollAfter(want, _), Some(Ok(seen))) => Error::new(
                ErrorKind::DeviceMisbehaved,
                format!(
                    "{label} said {} succeeded, but its status still reads {seen} after \
                     {secs:.1} s (wanted {want}): the agent or the device did not do it; check \
                     the plug/host parameter and the device",
                    self.command_name(want)
                ),
            ),
            (Phase::Poll(want) | Phase::PollAfter(want, _), Some(Err(why))) => Error::new(
                ErrorKind::Timeout,
                format!(
                    "{label}: {want} never read back within the deadline ({secs:.1} s); last \
                     status: {why}"
                ),
            ),
            _ => Error::new(
                ErrorKind::Timeout,
                format!(
                    "{label} did not finish within the deadline ({secs:.1} s) and was killed \
                     with its process group; raise timeout, or check that the agent can reach \
                     its device"
                ),
            ),
        };
        self.fail(error);
    }

    fn command_name(&self, want: PowerState) -> &'static str {
        match want {
            PowerState::Off => "off",
            PowerState::On => "on",
        }
    }

    fn succeed(&mut self) {
        self.result = Some(Ok(self.outcome.clone()));
    }

    fn fail(&mut self, error: Error) {
        self.result = Some(Err(error));
    }

    /// The error for a failed run: what ran, its exit, the tail of its
    /// stderr with secrets removed, who is at fault.
    fn run_error(&self, what: &str, exit: &Exit) -> Error {
        let secrets = self.device.params.secrets();
        let stderr = redact(&exit.stderr, &secrets);
        let stdout = redact(&exit.stdout, &secrets);
        let (kind, _) = output::classify_agent_failure(&stderr);
        let mut tail = output::stderr_tail(&stderr, 3);
        if tail.is_empty() {
            tail = output::stderr_tail(&stdout, 3);
        }
        let status = match exit.code {
            Some(code) => format!("exit {code}"),
            None => "killed by a signal".to_string(),
        };
        let said = if tail.is_empty() {
            "it printed nothing".to_string()
        } else {
            format!("it said: {tail}")
        };
        let error = Error::new(
            kind,
            format!("{} `{what}` failed ({status}); {said}", self.device.label()),
        );
        match exit.code {
            Some(code) => error.with_code(code as u32),
            None => error,
        }
    }

    fn plugin_run(&self, step: Step, args: &[&str]) -> Result<Invocation, Error> {
        Ok(Invocation {
            args: args.iter().map(|a| a.to_string()).collect(),
            env: plugin_environment(&self.device.params)?,
            stdin: Vec::new(),
            step,
        })
    }

    fn agent_run(&self, step: Step, action: &str) -> Result<Invocation, Error> {
        Ok(Invocation {
            args: Vec::new(),
            env: minimal_env(),
            stdin: agent_stdin(action, &self.device.params)?,
            step,
        })
    }

    fn status_run(&self) -> Result<Invocation, Error> {
        match self.device.kind {
            Kind::Plugin => self.plugin_run(Step::Status, &["status"]),
            Kind::Agent => self.agent_run(Step::Status, "status"),
        }
    }
}

fn unreachable_done() -> Result<Invocation, Error> {
    Err(Error::new(
        ErrorKind::Config,
        "the request is already finished",
    ))
}

/// The environment of a fence-agents agent: `PATH` and the C locale only.
pub fn minimal_env() -> Vec<(String, Vec<u8>)> {
    vec![
        (
            "PATH".to_string(),
            b"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_vec(),
        ),
        ("LANG".to_string(), b"C".to_vec()),
        ("LC_ALL".to_string(), b"C".to_vec()),
    ]
}

/// An information query (no power change).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Query {
    /// Parameter names (`getconfignames`; fence-agents: from the metadata).
    ConfigNames,
    /// The metadata XML (`getinfo-xml`, `action=metadata`).
    Metadata,
    /// The hosts or plugs it controls (`gethosts`, `action=list`).
    Hosts,
    /// cluster-glue's `getinfo-devid`.
    DeviceId,
    /// cluster-glue's `getinfo-devname`.
    DeviceName,
    /// cluster-glue's `getinfo-devdescr`.
    DeviceDescription,
    /// cluster-glue's `getinfo-devurl`.
    DeviceUrl,
}

/// The answer to a [`Query`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// Names (parameter names, hosts, plug ids).
    Names(Vec<String>),
    /// Text as printed (metadata XML, device information), secrets removed.
    Text(String),
}

/// The run that answers `query`.
pub fn query_invocation(device: &Device, query: Query) -> Result<Invocation, Error> {
    let plugin_command = match query {
        Query::ConfigNames => "getconfignames",
        Query::Metadata => "getinfo-xml",
        Query::Hosts => "gethosts",
        Query::DeviceId => "getinfo-devid",
        Query::DeviceName => "getinfo-devname",
        Query::DeviceDescription => "getinfo-devdescr",
        Query::DeviceUrl => "getinfo-devurl",
    };
    match device.kind {
        Kind::Plugin => Ok(Invocation {
            args: vec![plugin_command.to_string()],
            env: plugin_environment(&device.params)?,
            stdin: Vec::new(),
            step: Step::Query(plugin_command),
        }),
        Kind::Agent => {
            let action = match query {
                Query::ConfigNames | Query::Metadata => "metadata",
                Query::Hosts => "list",
                _ => {
                    return Err(Error::new(
                        ErrorKind::DeviceIncompatible,
                        format!(
                            "{} is a fence-agents agent: it has no {plugin_command}; ask for \
                             its metadata",
                            device.label()
                        ),
                    ))
                }
            };
            let params = if action == "metadata" {
                Params::new()
            } else {
                device.params.clone()
            };
            Ok(Invocation {
                args: Vec::new(),
                env: minimal_env(),
                stdin: agent_stdin(action, &params)?,
                step: Step::Query(action),
            })
        }
    }
}

/// Reads the answer to `query` from the run's exit.
pub fn query_answer(device: &Device, query: Query, exit: &Exit) -> Result<Answer, Error> {
    let secrets = device.params.secrets();
    let stdout = redact(&exit.stdout, &secrets);
    if exit.code != Some(0) {
        let stderr = redact(&exit.stderr, &secrets);
        let (kind, _) = output::classify_agent_failure(&stderr);
        let mut tail = output::stderr_tail(&stderr, 3);
        if tail.is_empty() {
            tail = output::stderr_tail(&stdout, 3);
        }
        return Err(Error::new(
            kind,
            format!(
                "{} failed to answer {query:?} ({}); it said: {}",
                device.label(),
                exit.code
                    .map_or("killed by a signal".to_string(), |c| format!("exit {c}")),
                if tail.is_empty() { "nothing" } else { &tail }
            ),
        ));
    }
    match (device.kind, query) {
        (Kind::Plugin, Query::ConfigNames) => Ok(Answer::Names(output::parse_words(
            "getconfignames",
            &stdout,
        )?)),
        (Kind::Agent, Query::ConfigNames) => {
            let meta = output::parse_metadata(&stdout)?;
            Ok(Answer::Names(
                meta.params
                    .into_iter()
                    .map(|p| p.name)
                    .filter(|n| n != "action")
                    .collect(),
            ))
        }
        (Kind::Plugin, Query::Hosts) => Ok(Answer::Names(output::parse_hosts(&stdout)?)),
        (Kind::Agent, Query::Hosts) => {
            let separator = device
                .params
                .get("separator")
                .and_then(|s| s.first().copied())
                .unwrap_or(b',');
            match output::parse_agent_list(&stdout, separator)? {
                output::AgentList::Plugs(plugs) => {
                    Ok(Answer::Names(plugs.into_iter().map(|p| p.id).collect()))
                }
                output::AgentList::Unsupported(note) => Err(Error::new(
                    ErrorKind::DeviceIncompatible,
                    format!(
                        "{} cannot list its plugs ({note}); it powers the one machine its \
                         parameters name",
                        device.label()
                    ),
                )),
            }
        }
        (_, Query::Metadata) => {
            output::parse_metadata(&stdout)?;
            Ok(Answer::Text(String::from_utf8_lossy(&stdout).into_owned()))
        }
        _ => Ok(Answer::Text(
            String::from_utf8_lossy(&stdout).trim().to_string(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fence of `device` on `host` doing `action` within `secs`, from now.
    fn start(device: Device, host: &str, action: Action, secs: u64) -> (Fence, Instant) {
        let t0 = Instant::now();
        let deadline = Deadline::after(t0, Duration::from_secs(secs));
        (Fence::new(device, host, action, deadline).unwrap(), t0)
    }

    fn agent() -> Device {
        let mut d = Device::new(Kind::Agent, "fence_test");
        d.params.insert("ip", "198.18.10.2").unwrap();
        d.params.insert("password", "labpass").unwrap();
        d
    }

    fn plugin(accept: bool) -> Device {
        let mut d = Device::new(Kind::Plugin, "ipmi");
        d.params.insert("hostname", "node2").unwrap();
        d.params.insert("passwd", "labpass").unwrap();
        d.accept_unverified = accept;
        d
    }

    fn exit(code: i32) -> Exit {
        Exit {
            code: Some(code),
            stdout: Vec::new(),
            stderr: Vec::new(),
        }
    }

    /// Drives a request with scripted exits; returns the result and the steps run.
    fn drive(
        mut f: Fence,
        t0: Instant,
        mut answer: impl FnMut(&Invocation) -> Option<Exit>,
    ) -> (Result<Outcome, Error>, Vec<String>) {
        let mut now = t0;
        let mut steps = Vec::new();
        for _ in 0..1000 {
            match f.next(now) {
                Next::Run(inv) => {
                    let stdin = String::from_utf8_lossy(&inv.stdin).into_owned();
                    let action = stdin.lines().next().unwrap_or("").to_string();
                    steps.push(if inv.args.is_empty() {
                        action
                    } else {
                        inv.args.join(" ")
                    });
                    now += Duration::from_millis(100);
                    match answer(&inv) {
                        Some(e) => f.handle_exit(now, e),
                        None => {
                            now = f.deadline().end();
                            f.handle_deadline(now);
                        }
                    }
                }
                Next::Sleep(at) => now = at.max(now),
                Next::Done(r) => return (r, steps),
            }
        }
        panic!("no end");
    }

    fn action_of(inv: &Invocation) -> String {
        String::from_utf8_lossy(&inv.stdin)
            .lines()
            .next()
            .unwrap_or("")
            .trim_start_matches("action=")
            .to_string()
    }

    #[test]
    fn agent_reboot_is_off_verify_on_verify() {
        let (f, t0) = start(agent(), "node2", Action::Reboot, 20);
        let mut on = true;
        let mut polls_after_off = 0;
        let (r, steps) = drive(f, t0, |inv| {
            assert!(String::from_utf8_lossy(&inv.stdin).contains("plug=node2\n"));
            Some(match action_of(inv).as_str() {
                "off" => {
                    on = false;
                    exit(0)
                }
                "on" => {
                    on = true;
                    exit(0)
                }
                "status" => {
                    polls_after_off += 1;
                    exit(if on { 0 } else { 2 })
                }
                other => panic!("{other}"),
            })
        });
        let o = r.unwrap();
        assert!(o.off_seen && o.verified && o.command_sent);
        assert_eq!(o.power, Some(PowerState::On));
        assert_eq!(
            steps,
            ["action=off", "action=status", "action=on", "action=status"]
        );
    }

    #[test]
    fn a_lying_agent_is_caught() {
        let (f, t0) = start(agent(), "", Action::Off, 5);
        let (r, steps) = drive(f, t0, |inv| {
            // Every action "succeeds", and status (exit 0) keeps saying on.
            let _ = action_of(inv);
            Some(exit(0))
        });
        let e = r.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::DeviceMisbehaved);
        assert!(e.message().contains("still reads on"), "{e}");
        assert!(steps.len() > 3 && steps.len() < 20, "{steps:?}");
    }

    #[test]
    fn agent_failure_is_classified_and_redacted() {
        let (f, t0) = start(agent(), "", Action::Off, 5);
        let (r, _) = drive(f, t0, |_| {
            Some(Exit {
                code: Some(1),
                stdout: Vec::new(),
                stderr: b"2026-11-22 14:02:52,817 ERROR: Unable to connect/login to fencing device (ipmitool -P labpass)\n".to_vec(),
            })
        });
        let e = r.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Auth);
        assert_eq!(e.code(), Some(1));
        assert!(!e.message().contains("labpass"), "{e}");
        assert!(e.message().contains("<redacted>"), "{e}");
    }

    #[test]
    fn hanging_agent_times_out() {
        let (f, t0) = start(agent(), "", Action::Status, 2);
        let (r, _) = drive(f, t0, |_| None);
        let e = r.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Timeout);
        assert!(e.message().contains("killed"), "{e}");
    }

    #[test]
    fn plugin_reset_is_unverified_unless_accepted() {
        let t0 = Instant::now();
        let answer = |inv: &Invocation| {
            assert!(inv.stdin.is_empty());
            assert!(inv
                .env
                .iter()
                .any(|(n, v)| n == "passwd" && v == b"labpass"));
            Some(match inv.args[0].as_str() {
                "gethosts" => Exit {
                    code: Some(0),
                    stdout: b"node2\n".to_vec(),
                    stderr: Vec::new(),
                },
                _ => exit(0),
            })
        };
        let f = Fence::new(
            plugin(false),
            "NODE2",
            Action::Reboot,
            Deadline::after(t0, Duration::from_secs(5)),
        )
        .unwrap();
        let (r, steps) = drive(f, t0, answer);
        let e = r.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::DeviceIncompatible);
        assert!(e.message().contains("accept_unverified=yes"), "{e}");
        assert_eq!(steps, ["gethosts", "reset NODE2"]);
        let f = Fence::new(
            plugin(true),
            "node2",
            Action::Off,
            Deadline::after(t0, Duration::from_secs(5)),
        )
        .unwrap();
        let (r, steps) = drive(f, t0, answer);
        let o = r.unwrap();
        assert!(!o.verified && !o.off_seen && o.command_sent);
        assert!(o.warning.unwrap().contains("unverified"));
        assert_eq!(steps, ["gethosts", "off node2"]);
    }

    #[test]
    fn plugin_refuses_foreign_host() {
        let (f, t0) = start(plugin(true), "node9", Action::Off, 5);
        let (r, steps) = drive(f, t0, |_| {
            Some(Exit {
                code: Some(0),
                stdout: b"node2\n".to_vec(),
                stderr: Vec::new(),
            })
        });
        let e = r.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(e.message().contains("does not control node9"), "{e}");
        assert_eq!(steps, ["gethosts"]);
    }

    #[test]
    fn reboot_on_half_failure_is_a_warning() {
        let (f, t0) = start(agent(), "", Action::Reboot, 5);
        let (r, _) = drive(f, t0, |inv| {
            Some(match action_of(inv).as_str() {
                "off" => exit(0),
                "status" => exit(2),
                _ => exit(1),
            })
        });
        let o = r.unwrap();
        assert!(o.off_seen);
        assert!(o.warning.unwrap().contains("seen off (fenced)"));
    }

    #[test]
    fn queries() {
        let d = plugin(false);
        let inv = query_invocation(&d, Query::ConfigNames).unwrap();
        assert_eq!(inv.args, ["getconfignames"]);
        let a = query_answer(
            &d,
            Query::ConfigNames,
            &Exit {
                code: Some(0),
                stdout: b"hostname\nipaddr\n".to_vec(),
                stderr: vec![],
            },
        )
        .unwrap();
        assert_eq!(a, Answer::Names(vec!["hostname".into(), "ipaddr".into()]));
        let a = agent();
        let inv = query_invocation(&a, Query::Metadata).unwrap();
        assert_eq!(inv.stdin, b"action=metadata\n");
        assert!(!format!("{inv:?}").contains("labpass"));
        let inv = query_invocation(&a, Query::Hosts).unwrap();
        assert!(format!("{inv:?}").contains("stdin_bytes"));
        assert!(!format!("{inv:?}").contains("labpass"));
        assert!(query_invocation(&a, Query::DeviceUrl).is_err());
        let xml = include_bytes!("testdata/fence_ipmilan_metadata.xml");
        let names = query_answer(
            &a,
            Query::ConfigNames,
            &Exit {
                code: Some(0),
                stdout: xml.to_vec(),
                stderr: vec![],
            },
        )
        .unwrap();
        let Answer::Names(names) = names else {
            panic!()
        };
        assert!(names.contains(&"ip".to_string()) && !names.contains(&"action".to_string()));
    }

    #[test]
    fn plugin_has_no_diag() {
        let t0 = Instant::now();
        let e = Fence::new(
            plugin(false),
            "node2",
            Action::Diag,
            Deadline::after(t0, Duration::from_secs(1)),
        )
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::DeviceIncompatible);
    }
}
