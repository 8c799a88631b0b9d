//! heartbeat v1 `resource.d` scripts, as heartbeat's `ResourceManager` ran
//! them: `NAME::ARG1::ARG2` in haresources becomes parameters `1`, `2`, …;
//! the script is `resource.d/NAME`, else `/etc/init.d/NAME`; it is called
//! `SCRIPT ARG1 ARG2 … start|stop|status`. `status` is judged by its output,
//! not its exit code: "not … running" → stopped, "running" or "OK" →
//! running, anything else → stopped.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::{child, ocf, AgentSpec, ExecEnv, OcfCode, OpResult, Operation};

/// The script heartbeat would run: `resource.d` first, then `init.d`.
pub fn script_path(spec: &AgentSpec, env: &ExecEnv) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    [&env.heartbeat_resource_dir, &env.init_dir]
        .into_iter()
        .map(|dir| dir.join(&spec.agent))
        .find(|path| {
            std::fs::metadata(path)
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
}

/// The positional arguments (`1`, `2`, … in numeric order); `Err` names a
/// parameter that is not positional or a gap in the numbering.
pub fn arguments(spec: &AgentSpec) -> Result<Vec<String>, String> {
    let mut numbered = Vec::new();
    for (name, value) in &spec.params {
        match name.parse::<usize>() {
            Ok(n) if n >= 1 && !name.starts_with('0') && !name.starts_with('+') => {
                numbered.push((n, value.clone()))
            }
            _ => {
                return Err(format!(
                    "parameter {name:?} is not a positional argument (1, 2, …)"
                ))
            }
        }
    }
    numbered.sort();
    for (i, (n, _)) in numbered.iter().enumerate() {
        if *n != i + 1 {
            return Err(format!(
                "argument {} is missing (arguments are 1, 2, … without gaps)",
                i + 1
            ));
        }
    }
    Ok(numbered.into_iter().map(|(_, v)| v).collect())
}

/// heartbeat's reading of a `status` output.
pub fn status_says_running(output: &str) -> bool {
    let lower = output.to_ascii_lowercase();
    // `*[Nn][Oo][Tt]\ *[Rr]unning*`: "not " then, anywhere later, "running".
    if let Some(at) = lower.find("not ") {
        if lower[at + 4..].contains("running") {
            return false;
        }
    }
    // `*[Rr]unning*|*OK*`: only the R is case-insensitive, OK is upper case.
    output.contains("running") || output.contains("Running") || output.contains("OK")
}

/// Runs a heartbeat resource script.
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
                    "heartbeat resource scripts have no {} action",
                    other.action()
                )),
                started,
            )
        }
    };
    let mut args = match arguments(spec) {
        Ok(args) => args,
        Err(reason) => return OpResult::new(OcfCode::NotConfigured, Some(reason), started),
    };
    let Some(script) = script_path(spec, env) else {
        return OpResult::new(
            OcfCode::NotInstalled,
            Some(format!(
                "no executable {} in {} or {}: install the script or fix the name in haresources",
                spec.agent,
                env.heartbeat_resource_dir.display(),
                env.init_dir.display()
            )),
            started,
        );
    };
    args.push(action.to_string());
    let run = child::run(&script, &args, &[], timeout, env).await;
    if op.is_monitor() {
        if let Ok(done) = &run {
            if !done.timed_out && done.exit.is_some() {
                let code = if status_says_running(&done.stdout) {
                    OcfCode::Ok
                } else {
                    OcfCode::NotRunning
                };
                let mut result = OpResult::new(code, None, started);
                result.output = done.stdout.clone();
                return result;
            }
        }
    }
    ocf::from_run(run, &script, timeout, started, OcfCode::from_exit)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Class;

    #[test]
    fn status_words() {
        assert!(status_says_running("running"));
        assert!(status_says_running("OK"));
        assert!(status_says_running("apache is Running"));
        assert!(!status_says_running("stopped"));
        assert!(!status_says_running("apache is not running"));
        assert!(!status_says_running("NOT Running"));
        assert!(!status_says_running("ok"));
        assert!(!status_says_running(""));
        assert!(!status_says_running("\u{fffd}\u{0}"));
    }

    #[test]
    fn positional_arguments() {
        let spec = |params: &[(&str, &str)]| AgentSpec {
            id: "r".into(),
            class: Class::Heartbeat,
            provider: None,
            agent: "IPaddr2".into(),
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            builtin: false,
        };
        let args: Vec<(&str, &str)> = (1..=11)
            .map(|i| {
                (
                    ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11"][i - 1],
                    "a",
                )
            })
            .collect();
        assert_eq!(arguments(&spec(&args)).unwrap().len(), 11);
        assert_eq!(
            arguments(&spec(&[("2", "b"), ("1", "a")])).unwrap(),
            ["a", "b"]
        );
        assert!(arguments(&spec(&[("2", "b")])).is_err());
        assert!(arguments(&spec(&[("01", "b")])).is_err());
        assert!(arguments(&spec(&[("ip", "b")])).is_err());
        assert!(arguments(&spec(&[("0", "b")])).is_err());
        assert!(arguments(&spec(&[("99999999999999999999999", "b")])).is_err());
    }
}
