//! OCF resource agents: `$OCF_ROOT/resource.d/PROVIDER/TYPE ACTION` with
//! the environment Pacemaker's executor sets (`OCF_ROOT`,
//! `OCF_RA_VERSION_MAJOR/MINOR`, `OCF_RESOURCE_INSTANCE/TYPE/PROVIDER`,
//! `OCF_EXIT_REASON_PREFIX`, `OCF_RESKEY_<param>`, `OCF_RESKEY_CRM_meta_timeout`
//! and `OCF_RESKEY_CRM_meta_interval` in milliseconds; `OCF_CHECK_LEVEL`
//! passes unprefixed). The exit status is the OCF code; the last
//! `ocf-exit-reason:` line on stderr is the reason.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::child::{self, ChildRun};
use crate::{AgentSpec, ExecEnv, OcfCode, OpResult, Operation};

/// The OCF API version we speak.
pub const RA_VERSION: (&str, &str) = ("1", "1");

/// The script of an OCF spec.
pub fn script_path(spec: &AgentSpec, env: &ExecEnv) -> PathBuf {
    env.ocf_root
        .join("resource.d")
        .join(spec.provider.as_deref().unwrap_or("heartbeat"))
        .join(&spec.agent)
}

/// The environment of one OCF call, or the name of a parameter that cannot
/// be passed (not a valid variable name, or a NUL byte in its value).
pub fn environment(
    spec: &AgentSpec,
    op: Operation,
    timeout: Duration,
    env: &ExecEnv,
) -> Result<Vec<(String, String)>, String> {
    let mut vars = vec![
        ("OCF_RA_VERSION_MAJOR".to_string(), RA_VERSION.0.to_string()),
        ("OCF_RA_VERSION_MINOR".to_string(), RA_VERSION.1.to_string()),
        ("OCF_ROOT".to_string(), env.ocf_root.display().to_string()),
        (
            "OCF_EXIT_REASON_PREFIX".to_string(),
            "ocf-exit-reason:".to_string(),
        ),
        ("OCF_RESOURCE_INSTANCE".to_string(), spec.id.clone()),
        ("OCF_RESOURCE_TYPE".to_string(), spec.agent.clone()),
    ];
    if let Some(provider) = &spec.provider {
        vars.push(("OCF_RESOURCE_PROVIDER".to_string(), provider.clone()));
    }
    for (name, value) in &spec.params {
        let valid = !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !value.contains('\0');
        if !valid {
            return Err(name.clone());
        }
        let key = if name == "OCF_CHECK_LEVEL" {
            name.clone()
        } else {
            format!("OCF_RESKEY_{name}")
        };
        vars.push((key, value.clone()));
    }
    vars.push((
        "OCF_RESKEY_CRM_meta_timeout".to_string(),
        timeout.as_millis().to_string(),
    ));
    vars.push((
        "OCF_RESKEY_CRM_meta_interval".to_string(),
        op.interval().as_millis().to_string(),
    ));
    Ok(vars)
}

/// Runs an OCF script.
pub async fn execute(
    spec: &AgentSpec,
    op: Operation,
    timeout: Duration,
    env: &ExecEnv,
) -> OpResult {
    let started = Instant::now();
    let script = script_path(spec, env);
    let vars = match environment(spec, op, timeout, env) {
        Ok(vars) => vars,
        Err(name) => {
            return OpResult::new(
                OcfCode::NotConfigured,
                Some(format!(
                    "parameter {name:?} cannot be passed to an OCF agent: names are letters, \
                     digits and `_`, values have no NUL byte"
                )),
                started,
            )
        }
    };
    let run = child::run(&script, &[op.action().to_string()], &vars, timeout, env).await;
    from_run(run, &script, timeout, started, |code| {
        OcfCode::from_exit(code)
    })
}

/// Turns a child's outcome into an [`OpResult`]; `map` maps its exit code.
pub(crate) fn from_run(
    run: std::io::Result<ChildRun>,
    program: &std::path::Path,
    timeout: Duration,
    started: Instant,
    map: impl FnOnce(i32) -> OcfCode,
) -> OpResult {
    let run = match run {
        Ok(run) => run,
        Err(e) => {
            let code = match e.kind() {
                std::io::ErrorKind::PermissionDenied => OcfCode::InsufficientPriv,
                _ => OcfCode::NotInstalled,
            };
            return OpResult::new(
                code,
                Some(format!(
                    "cannot run {}: {e} (is the agent installed and executable?)",
                    program.display()
                )),
                started,
            );
        }
    };
    let reason = child::exit_reason(&run.stderr);
    let mut result = if run.timed_out {
        OpResult {
            timed_out: true,
            ..OpResult::new(
                OcfCode::Error,
                Some(format!(
                    "{} did not finish within {} ms and was killed",
                    program.display(),
                    timeout.as_millis()
                )),
                started,
            )
        }
    } else if let Some(code) = run.exit {
        let code = map(code);
        let reason = reason.or_else(|| {
            (code != OcfCode::Ok && code != OcfCode::NotRunning)
                .then(|| last_line(&run.stderr))
                .flatten()
        });
        OpResult::new(code, reason, started)
    } else {
        OpResult::new(
            OcfCode::Error,
            Some(format!(
                "{} was killed by signal {}",
                program.display(),
                run.signal.unwrap_or(0)
            )),
            started,
        )
    };
    result.output = run.stdout;
    result
}

fn last_line(text: &str) -> Option<String> {
    text.lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .map(|l| l.chars().take(300).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Class;

    #[test]
    fn environment_is_pacemakers() {
        let spec = AgentSpec {
            id: "dummy1".into(),
            class: Class::Ocf,
            provider: Some("heartbeat".into()),
            agent: "Dummy".into(),
            params: [
                ("state".to_string(), "/tmp/x".to_string()),
                ("OCF_CHECK_LEVEL".to_string(), "10".to_string()),
            ]
            .into(),
            builtin: true,
        };
        let vars = environment(
            &spec,
            Operation::Monitor {
                interval: Duration::from_secs(10),
            },
            Duration::from_secs(20),
            &ExecEnv::default(),
        )
        .unwrap();
        let get = |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("OCF_RESKEY_state"), Some("/tmp/x"));
        assert_eq!(get("OCF_CHECK_LEVEL"), Some("10"));
        assert_eq!(get("OCF_RESKEY_CRM_meta_timeout"), Some("20000"));
        assert_eq!(get("OCF_RESKEY_CRM_meta_interval"), Some("10000"));
        assert_eq!(get("OCF_RESOURCE_INSTANCE"), Some("dummy1"));
        assert_eq!(get("OCF_RESOURCE_PROVIDER"), Some("heartbeat"));
        assert_eq!(get("OCF_ROOT"), Some("/usr/lib/ocf"));
        let mut bad = spec.clone();
        bad.params.insert("a=b".into(), "x".into());
        assert_eq!(
            environment(&bad, Operation::Start, Duration::ZERO, &ExecEnv::default()),
            Err("a=b".to_string())
        );
        let mut bad = spec;
        bad.params.insert("nul".into(), "x\0y".into());
        assert!(environment(&bad, Operation::Start, Duration::ZERO, &ExecEnv::default()).is_err());
    }
}
