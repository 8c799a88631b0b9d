//! systemd units as resources, through `systemctl` where systemd is PID 1
//! (`/run/systemd/system` exists). `start`/`stop` wait for the job to
//! complete; monitor is `systemctl is-active`. Where systemd does not run,
//! every operation is "not installed" and says so.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::{child, ocf, AgentSpec, ExecEnv, OcfCode, OpResult, Operation};

/// The reason given when systemd does not run here.
pub const NOT_RUNNING_REASON: &str =
    "systemd is not running on this node (no /run/systemd/system): use an lsb: or ocf: resource instead";

/// systemd is the init system here.
pub fn is_running() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

/// The unit name: `NAME.service` unless NAME has a unit suffix.
pub fn unit_name(agent: &str) -> String {
    const SUFFIXES: [&str; 11] = [
        ".service",
        ".socket",
        ".target",
        ".mount",
        ".timer",
        ".path",
        ".swap",
        ".slice",
        ".scope",
        ".device",
        ".automount",
    ];
    if SUFFIXES.iter().any(|s| agent.ends_with(s)) {
        agent.to_string()
    } else {
        format!("{agent}.service")
    }
}

/// Runs a systemd operation.
pub async fn execute(
    spec: &AgentSpec,
    op: Operation,
    timeout: Duration,
    env: &ExecEnv,
) -> OpResult {
    let started = Instant::now();
    if !is_running() {
        return OpResult::new(
            OcfCode::NotInstalled,
            Some(NOT_RUNNING_REASON.to_string()),
            started,
        );
    }
    let unit = unit_name(&spec.agent);
    let action = match op {
        Operation::Start => "start",
        Operation::Stop => "stop",
        Operation::Monitor { .. } | Operation::Probe => "is-active",
        other => {
            return OpResult::new(
                OcfCode::Unimplemented,
                Some(format!("systemd units have no {} action", other.action())),
                started,
            )
        }
    };
    let systemctl = Path::new("/bin/systemctl");
    let args = vec![action.to_string(), "--".to_string(), unit.clone()];
    let run = child::run(systemctl, &args, &[], timeout, env).await;
    if op.is_monitor() {
        if let Ok(done) = &run {
            if !done.timed_out && done.exit.is_some() {
                let state = done.stdout.trim();
                let (code, reason) = match state {
                    "active" | "reloading" => (OcfCode::Ok, None),
                    "inactive" | "failed" | "dead" => (OcfCode::NotRunning, None),
                    other => (
                        OcfCode::Error,
                        Some(format!("{unit} is {other:?} (neither active nor inactive)")),
                    ),
                };
                return OpResult::new(code, reason, started);
            }
        }
    }
    ocf::from_run(run, systemctl, timeout, started, |code| match (op, code) {
        (_, 0) => OcfCode::Ok,
        // systemctl stop of an unknown unit is a clean "already stopped".
        (Operation::Stop, 5) => OcfCode::Ok,
        (_, 5) => OcfCode::NotInstalled,
        _ => OcfCode::Error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_names() {
        assert_eq!(unit_name("nginx"), "nginx.service");
        assert_eq!(unit_name("web.socket"), "web.socket");
    }
}
