//! LSB init scripts as resources: `INIT_DIR/NAME start|stop|status`.
//! Non-status exit codes are OCF codes already (LSB 0–7); `status` codes
//! are mapped as Pacemaker does: 0 running, 1 (dead, pid file), 2 (dead,
//! lock file) and 3 (stopped) not running, 4 (unknown) an error,
//! 150/151 not installed / insufficient privileges.

use std::time::{Duration, Instant};

use crate::{child, ocf, AgentSpec, ExecEnv, OcfCode, OpResult, Operation};

/// Maps an LSB `status` exit code to OCF.
pub fn status_code(code: i32) -> OcfCode {
    match code {
        0 => OcfCode::Ok,
        1..=3 => OcfCode::NotRunning,
        150 => OcfCode::NotInstalled,
        151 => OcfCode::InsufficientPriv,
        _ => OcfCode::Error,
    }
}

/// Runs an init script.
pub async fn execute(
    spec: &AgentSpec,
    op: Operation,
    timeout: Duration,
    env: &ExecEnv,
) -> OpResult {
    let started = Instant::now();
    let action = match op {
        Operation::Start => "start",
        Operation::Stop => "stop",
        Operation::Monitor { .. } | Operation::Probe => "status",
        other => {
            return OpResult::new(
                OcfCode::Unimplemented,
                Some(format!(
                    "LSB init scripts have no {} action",
                    other.action()
                )),
                started,
            )
        }
    };
    let script = env.init_dir.join(&spec.agent);
    let run = child::run(&script, &[action.to_string()], &[], timeout, env).await;
    ocf::from_run(run, &script, timeout, started, |code| {
        if op.is_monitor() {
            status_code(code)
        } else {
            OcfCode::from_exit(code)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_mapping() {
        assert_eq!(status_code(0), OcfCode::Ok);
        for c in [1, 2, 3] {
            assert_eq!(status_code(c), OcfCode::NotRunning);
        }
        assert_eq!(status_code(4), OcfCode::Error);
        assert_eq!(status_code(150), OcfCode::NotInstalled);
        assert_eq!(status_code(-7), OcfCode::Error);
    }
}
