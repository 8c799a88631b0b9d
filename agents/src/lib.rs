//! ironbeat-agents: starts, stops and monitors the resources a cluster moves.
//!
//! The cluster daemon's local resource manager calls one async entry point,
//! usable from any tokio runtime:
//!
//! ```no_run
//! # async fn demo(p: &ironbeat_crm::model::Primitive) -> Result<(), ironbeat_agents::Error> {
//! use std::time::Duration;
//! use ironbeat_agents::{execute, AgentSpec, ExecEnv, Operation};
//! let spec = AgentSpec::from_primitive("vip", p)?;
//! let result = execute(&spec, Operation::Start, Duration::from_secs(20), &ExecEnv::default()).await;
//! println!("{} ({:?})", result.code, result.exit_reason);
//! # Ok(()) }
//! ```
//!
//! * [`AgentSpec::from_primitive`] turns a CRM model primitive (class,
//!   provider, type, parameters) into what to run;
//! * [`Operation`] is the action (`Probe` is a monitor with interval 0);
//! * [`execute`] never panics and never blocks the runtime; it returns an
//!   [`OpResult`] whose [`OcfCode`] is the OCF exit code every kind is
//!   mapped to, with the agent's `exit_reason`, whether it timed out and how
//!   long it took.
//!
//! Kinds (chosen by [`AgentSpec::backend`]):
//! * **built-in IP address** ([`vip`]) for `ocf:heartbeat:IPaddr2`/`IPaddr`,
//!   heartbeat-class `IPaddr`/`IPaddr2` and bare addresses: netlink
//!   (`RTM_NEWADDR`/`RTM_DELADDR`, [`netlink`]), no fork/exec; start always
//!   announces the address (gratuitous ARP / unsolicited NA through
//!   `ironbeat_link::driver::garp`), also when it was already configured;
//! * **built-in Filesystem** ([`filesystem`]) for `ocf:heartbeat:Filesystem`:
//!   mount(2)/umount2(2), stop kills the processes holding the mount;
//! * **OCF** scripts ([`ocf`]) from `$OCF_ROOT/resource.d/PROVIDER/TYPE` with
//!   Pacemaker's environment;
//! * **LSB** init scripts ([`lsb`]);
//! * **heartbeat `resource.d`** scripts ([`legacy`]), then `/etc/init.d`;
//! * **systemd** units ([`systemd`]) where systemd is PID 1.
//!
//! Every child process ([`child`]) runs in its own process group with stdin
//! on `/dev/null`, its output captured up to a cap, and a timeout that sends
//! SIGTERM then SIGKILL to the group. Parameters whose name contains `pass`
//! are never logged or shown in `Debug` output.
#![forbid(unsafe_code)]

pub mod child;
mod error;
pub mod filesystem;
pub mod legacy;
pub mod lsb;
pub mod netlink;
pub mod ocf;
pub mod systemd;
pub mod vip;

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub use error::{Error, ErrorKind};

/// The resource class: which standard the agent follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// OCF resource agents (`ocf:PROVIDER:TYPE`).
    Ocf,
    /// LSB init scripts in `/etc/init.d`.
    Lsb,
    /// heartbeat v1 `resource.d` scripts (`NAME::ARG1::ARG2` in haresources).
    Heartbeat,
    /// systemd units.
    Systemd,
    /// Pacemaker's `service` class: systemd where it runs, else LSB.
    Service,
}

/// Which implementation runs an [`AgentSpec`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// The built-in IP address agent (netlink + gratuitous ARP).
    BuiltinIp,
    /// The built-in Filesystem agent (mount/umount).
    BuiltinFilesystem,
    /// An OCF script.
    OcfScript,
    /// An LSB init script.
    Lsb,
    /// A heartbeat `resource.d` script (or `/etc/init.d` fallback).
    Heartbeat,
    /// A systemd unit.
    Systemd,
}

/// What to run for one resource: parsed from a CRM model primitive.
#[derive(Clone, PartialEq, Eq)]
pub struct AgentSpec {
    /// The resource's id (`OCF_RESOURCE_INSTANCE`).
    pub id: String,
    /// The class.
    pub class: Class,
    /// The OCF provider (`heartbeat`, `pacemaker`, …); `None` for other classes.
    pub provider: Option<String>,
    /// The agent type (`IPaddr2`, `Dummy`, an init script's or unit's name).
    pub agent: String,
    /// The instance parameters (heartbeat class: `1`, `2`, … in order).
    pub params: BTreeMap<String, String>,
    /// Use the built-in agent where one exists (default); `false` runs the
    /// script even for IPaddr2/Filesystem (interop tests, benchmarks).
    pub builtin: bool,
}

/// An action on a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// Start (idempotent: running is success).
    Start,
    /// Stop (idempotent: stopped is success).
    Stop,
    /// A recurring monitor with its interval.
    Monitor {
        /// The monitor's interval (`OCF_RESKEY_CRM_meta_interval`).
        interval: Duration,
    },
    /// A one-shot monitor finding out whether the resource runs here
    /// (monitor with interval 0).
    Probe,
    /// Promote a promotable clone instance.
    Promote,
    /// Demote a promotable clone instance.
    Demote,
    /// Clone notification.
    Notify,
    /// Print the agent's meta-data (in [`OpResult::output`]).
    MetaData,
    /// Validate the parameters.
    ValidateAll,
}

/// The OCF exit code of an operation (open enum: unknown codes are kept).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OcfCode {
    /// 0: success / running.
    Ok,
    /// 1: generic error.
    Error,
    /// 2: invalid parameter values.
    InvalidParam,
    /// 3: action not implemented.
    Unimplemented,
    /// 4: insufficient privilege.
    InsufficientPriv,
    /// 5: a program or file the agent needs is not installed.
    NotInstalled,
    /// 6: the configuration is incomplete or wrong.
    NotConfigured,
    /// 7: not running (a clean stop).
    NotRunning,
    /// 8: running in the promoted role.
    RunningPromoted,
    /// 9: failed in the promoted role.
    FailedPromoted,
    /// 190: running, degraded.
    Degraded,
    /// 191: promoted, degraded.
    DegradedPromoted,
    /// Any other exit code, kept raw.
    Unknown(i32),
}

/// The outcome of one [`execute`] call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpResult {
    /// The OCF code.
    pub code: OcfCode,
    /// One line saying why, when the operation did not succeed (OCF agents'
    /// `ocf-exit-reason:` stderr lines, or our own message).
    pub exit_reason: Option<String>,
    /// The operation was killed at its timeout.
    pub timed_out: bool,
    /// Wall time spent.
    pub elapsed: Duration,
    /// The agent's standard output (capped; meta-data lands here).
    pub output: String,
}

/// Where agents live and how children are run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecEnv {
    /// `OCF_ROOT` (default `/usr/lib/ocf`).
    pub ocf_root: PathBuf,
    /// LSB init scripts (default `/etc/init.d`).
    pub init_dir: PathBuf,
    /// heartbeat `resource.d` (default `/etc/ha.d/resource.d`).
    pub heartbeat_resource_dir: PathBuf,
    /// Bytes kept of each of a child's stdout and stderr (default 64 KiB).
    pub output_cap: usize,
    /// Time between SIGTERM and SIGKILL of a timed-out child's group
    /// (default 2 s).
    pub kill_grace: Duration,
    /// `PATH` given to children.
    pub path: String,
}

impl Default for ExecEnv {
    fn default() -> Self {
        ExecEnv {
            ocf_root: PathBuf::from("/usr/lib/ocf"),
            init_dir: PathBuf::from("/etc/init.d"),
            heartbeat_resource_dir: PathBuf::from("/etc/ha.d/resource.d"),
            output_cap: 64 * 1024,
            kill_grace: Duration::from_secs(2),
            path: "/usr/sbin:/usr/bin:/sbin:/bin".to_string(),
        }
    }
}

impl AgentSpec {
    /// Parses a CRM model primitive `p` of resource `id`. Refuses classes
    /// that are not resources here (`stonith`: the fencer runs those) and an
    /// `ocf` class without a provider.
    pub fn from_primitive(id: &str, p: &ironbeat_crm::model::Primitive) -> Result<Self, Error> {
        let class = match p.class.as_str() {
            "ocf" => Class::Ocf,
            "lsb" => Class::Lsb,
            "heartbeat" => Class::Heartbeat,
            "systemd" => Class::Systemd,
            "service" => Class::Service,
            "stonith" => {
                return Err(Error::config(format!(
                    "resource {id}: stonith-class primitives are fencing devices, run by the \
                     fencer, not by the resource agents"
                )))
            }
            other => {
                return Err(Error::config(format!(
                    "resource {id}: unknown resource class {other:?}; use ocf, lsb, heartbeat, \
                     systemd or service"
                )))
            }
        };
        if class == Class::Ocf && p.provider.as_deref().unwrap_or("").is_empty() {
            return Err(Error::config(format!(
                "resource {id}: an ocf resource needs a provider (ocf:PROVIDER:{}, e.g. \
                 ocf:heartbeat:{})",
                p.agent, p.agent
            )));
        }
        if p.agent.is_empty() || p.agent.contains('/') || p.agent == ".." || p.agent == "." {
            return Err(Error::config(format!(
                "resource {id}: agent type {:?} is not a plain name (no `/`)",
                p.agent
            )));
        }
        if let Some(provider) = &p.provider {
            if provider.contains('/') || provider == ".." || provider == "." {
                return Err(Error::config(format!(
                    "resource {id}: provider {provider:?} is not a plain name (no `/`)"
                )));
            }
        }
        Ok(AgentSpec {
            id: id.to_string(),
            class,
            provider: if class == Class::Ocf {
                p.provider.clone()
            } else {
                None
            },
            agent: p.agent.clone(),
            params: p.parameters.clone(),
            builtin: true,
        })
    }

    /// The implementation that will run this spec.
    pub fn backend(&self) -> Backend {
        let heartbeat_provider = self.provider.as_deref() == Some("heartbeat");
        match self.class {
            Class::Ocf
                if self.builtin
                    && heartbeat_provider
                    && matches!(self.agent.as_str(), "IPaddr2" | "IPaddr") =>
            {
                Backend::BuiltinIp
            }
            Class::Ocf if self.builtin && heartbeat_provider && self.agent == "Filesystem" => {
                Backend::BuiltinFilesystem
            }
            Class::Heartbeat
                if self.builtin && matches!(self.agent.as_str(), "IPaddr2" | "IPaddr") =>
            {
                Backend::BuiltinIp
            }
            Class::Ocf => Backend::OcfScript,
            Class::Lsb => Backend::Lsb,
            Class::Heartbeat => Backend::Heartbeat,
            Class::Systemd => Backend::Systemd,
            Class::Service if systemd::is_running() => Backend::Systemd,
            Class::Service => Backend::Lsb,
        }
    }

    /// `class:provider:type` (or `class:type`).
    pub fn name(&self) -> String {
        let class = match self.class {
            Class::Ocf => "ocf",
            Class::Lsb => "lsb",
            Class::Heartbeat => "heartbeat",
            Class::Systemd => "systemd",
            Class::Service => "service",
        };
        match &self.provider {
            Some(p) => format!("{class}:{p}:{}", self.agent),
            None => format!("{class}:{}", self.agent),
        }
    }
}

impl fmt::Debug for AgentSpec {
    /// Parameters whose name contains `pass` are shown as `[set]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let params: BTreeMap<&str, &str> = self
            .params
            .iter()
            .map(|(k, v)| {
                let shown = if is_secret(k) { "[set]" } else { v.as_str() };
                (k.as_str(), shown)
            })
            .collect();
        f.debug_struct("AgentSpec")
            .field("id", &self.id)
            .field("agent", &self.name())
            .field("params", &params)
            .field("builtin", &self.builtin)
            .finish()
    }
}

/// A parameter whose value must never be logged (its name contains `pass`).
pub fn is_secret(name: &str) -> bool {
    name.to_ascii_lowercase().contains("pass")
}

impl Operation {
    /// The action name agents are called with (`start`, `monitor`, `meta-data`, …).
    pub fn action(&self) -> &'static str {
        match self {
            Operation::Start => "start",
            Operation::Stop => "stop",
            Operation::Monitor { .. } | Operation::Probe => "monitor",
            Operation::Promote => "promote",
            Operation::Demote => "demote",
            Operation::Notify => "notify",
            Operation::MetaData => "meta-data",
            Operation::ValidateAll => "validate-all",
        }
    }

    /// The monitor interval (zero for everything but a recurring monitor).
    pub fn interval(&self) -> Duration {
        match self {
            Operation::Monitor { interval } => *interval,
            _ => Duration::ZERO,
        }
    }

    /// A monitor or probe.
    pub fn is_monitor(&self) -> bool {
        matches!(self, Operation::Monitor { .. } | Operation::Probe)
    }
}

impl OcfCode {
    /// Maps an exit status.
    pub fn from_exit(code: i32) -> Self {
        match code {
            0 => OcfCode::Ok,
            1 => OcfCode::Error,
            2 => OcfCode::InvalidParam,
            3 => OcfCode::Unimplemented,
            4 => OcfCode::InsufficientPriv,
            5 => OcfCode::NotInstalled,
            6 => OcfCode::NotConfigured,
            7 => OcfCode::NotRunning,
            8 => OcfCode::RunningPromoted,
            9 => OcfCode::FailedPromoted,
            190 => OcfCode::Degraded,
            191 => OcfCode::DegradedPromoted,
            other => OcfCode::Unknown(other),
        }
    }

    /// The numeric exit code.
    pub fn code(&self) -> i32 {
        match self {
            OcfCode::Ok => 0,
            OcfCode::Error => 1,
            OcfCode::InvalidParam => 2,
            OcfCode::Unimplemented => 3,
            OcfCode::InsufficientPriv => 4,
            OcfCode::NotInstalled => 5,
            OcfCode::NotConfigured => 6,
            OcfCode::NotRunning => 7,
            OcfCode::RunningPromoted => 8,
            OcfCode::FailedPromoted => 9,
            OcfCode::Degraded => 190,
            OcfCode::DegradedPromoted => 191,
            OcfCode::Unknown(raw) => *raw,
        }
    }
}

impl fmt::Display for OcfCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            OcfCode::Ok => "ok",
            OcfCode::Error => "error",
            OcfCode::InvalidParam => "invalid parameter",
            OcfCode::Unimplemented => "unimplemented feature",
            OcfCode::InsufficientPriv => "insufficient privileges",
            OcfCode::NotInstalled => "not installed",
            OcfCode::NotConfigured => "not configured",
            OcfCode::NotRunning => "not running",
            OcfCode::RunningPromoted => "promoted",
            OcfCode::FailedPromoted => "promoted (failed)",
            OcfCode::Degraded => "OCF_DEGRADED",
            OcfCode::DegradedPromoted => "promoted (degraded)",
            OcfCode::Unknown(_) => "unknown",
        };
        write!(f, "{name} ({})", self.code())
    }
}

impl OpResult {
    /// A result without output; `started` is when the operation began.
    pub fn new(code: OcfCode, exit_reason: Option<String>, started: Instant) -> Self {
        OpResult {
            code,
            exit_reason,
            timed_out: false,
            elapsed: started.elapsed(),
            output: String::new(),
        }
    }

    /// Success.
    pub fn is_ok(&self) -> bool {
        self.code == OcfCode::Ok
    }
}

/// Runs `op` on `spec` within `timeout`. Never panics; every failure is an
/// [`OpResult`] with a code and a reason.
pub async fn execute(
    spec: &AgentSpec,
    op: Operation,
    timeout: Duration,
    env: &ExecEnv,
) -> OpResult {
    let started = Instant::now();
    let mut result = match spec.backend() {
        Backend::BuiltinIp => vip::execute(spec, op, timeout, started).await,
        Backend::BuiltinFilesystem => filesystem::execute(spec, op, timeout, started).await,
        Backend::OcfScript => ocf::execute(spec, op, timeout, env).await,
        Backend::Lsb => lsb::execute(spec, op, timeout, env).await,
        Backend::Heartbeat => legacy::execute(spec, op, timeout, env).await,
        Backend::Systemd => systemd::execute(spec, op, timeout, env).await,
    };
    result.elapsed = started.elapsed();
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use ironbeat_crm::model::Primitive;

    fn primitive(class: &str, provider: Option<&str>, agent: &str) -> Primitive {
        Primitive {
            class: class.to_string(),
            provider: provider.map(str::to_string),
            agent: agent.to_string(),
            operations: Vec::new(),
            parameters: [("ip".to_string(), "198.18.0.1".to_string())].into(),
        }
    }

    #[test]
    fn backends() {
        let ip = AgentSpec::from_primitive("v", &primitive("ocf", Some("heartbeat"), "IPaddr2"))
            .unwrap();
        assert_eq!(ip.backend(), Backend::BuiltinIp);
        let script = AgentSpec {
            builtin: false,
            ..ip.clone()
        };
        assert_eq!(script.backend(), Backend::OcfScript);
        let hb = AgentSpec::from_primitive("v", &primitive("heartbeat", None, "IPaddr")).unwrap();
        assert_eq!(hb.backend(), Backend::BuiltinIp);
        let fs = AgentSpec::from_primitive("f", &primitive("ocf", Some("heartbeat"), "Filesystem"))
            .unwrap();
        assert_eq!(fs.backend(), Backend::BuiltinFilesystem);
        let lsb = AgentSpec::from_primitive("l", &primitive("lsb", None, "cron")).unwrap();
        assert_eq!(lsb.backend(), Backend::Lsb);
        assert_eq!(lsb.name(), "lsb:cron");
    }

    #[test]
    fn hostile_primitives_are_refused() {
        assert!(
            AgentSpec::from_primitive("x", &primitive("stonith", None, "fence_ipmilan")).is_err()
        );
        assert!(AgentSpec::from_primitive("x", &primitive("ocf", None, "Dummy")).is_err());
        assert!(AgentSpec::from_primitive("x", &primitive("ocf", Some("../.."), "Dummy")).is_err());
        assert!(AgentSpec::from_primitive("x", &primitive("lsb", None, "../../bin/sh")).is_err());
        assert!(AgentSpec::from_primitive("x", &primitive("lsb", None, "")).is_err());
        assert!(AgentSpec::from_primitive("x", &primitive("weird", None, "a")).is_err());
    }

    #[test]
    fn secrets_are_masked_in_debug() {
        let mut spec =
            AgentSpec::from_primitive("x", &primitive("ocf", Some("heartbeat"), "Dummy")).unwrap();
        spec.params
            .insert("db_password".to_string(), "hunter2".to_string());
        let shown = format!("{spec:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("[set]"), "{shown}");
    }

    #[test]
    fn codes_round_trip() {
        for raw in [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 190, 191, 42, -1] {
            assert_eq!(OcfCode::from_exit(raw).code(), raw);
        }
        assert_eq!(OcfCode::from_exit(42), OcfCode::Unknown(42));
    }
}
