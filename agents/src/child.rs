//! Runs an agent's child process: its own process group, stdin on
//! `/dev/null`, stdout and stderr captured up to a cap, and a timeout that
//! sends SIGTERM, then after a grace period SIGKILL, to the whole group.
//! Only `PATH` and the variables given are in its environment (no
//! `NOTIFY_SOCKET` or other daemon state leaks into agents).

use std::io;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;
use tokio::sync::watch;

use crate::ExecEnv;

/// How long output is still read after the group leader exited. What it
/// wrote is in the pipe already; background children (IPaddr2's `send_arp`)
/// may keep the pipe open, and waiting for their EOF would delay the result
/// (Pacemaker's executor does not wait for it either).
const LINGER_AFTER_EXIT: Duration = Duration::from_millis(10);

/// What a child did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildRun {
    /// Its exit code; `None` when a signal ended it.
    pub exit: Option<i32>,
    /// The signal that ended it, if any.
    pub signal: Option<i32>,
    /// Its standard output (lossy UTF-8, at most the cap).
    pub stdout: String,
    /// Its standard error (lossy UTF-8, at most the cap).
    pub stderr: String,
    /// It was still running at the timeout and its group was killed.
    pub timed_out: bool,
}

/// Runs `program args…` with `vars` in its environment, within `timeout`.
/// `Err` only when it cannot be started (not found, not executable).
pub async fn run(
    program: &Path,
    args: &[String],
    vars: &[(String, String)],
    timeout: Duration,
    env: &ExecEnv,
) -> io::Result<ChildRun> {
    let mut command = Command::new(program);
    command
        .args(args)
        .env_clear()
        .env("PATH", &env.path)
        .envs(vars.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(false);
    let mut child = command.spawn()?;
    // The group id is the child's pid (process_group(0)); `id()` is Some
    // until the child has been waited for, which has not happened yet.
    let group = child.id().map(|id| Pid::from_raw(id as i32));
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let (exited_tx, exited_rx) = watch::channel(false);
    let cap = env.output_cap;
    let grace = env.kill_grace;

    let waiting = async move {
        let (status, timed_out) = match tokio::time::timeout(timeout, child.wait()).await {
            Ok(status) => (status, false),
            Err(_) => {
                signal_group(group, Signal::SIGTERM);
                let status = match tokio::time::timeout(grace, child.wait()).await {
                    Ok(status) => status,
                    Err(_) => {
                        signal_group(group, Signal::SIGKILL);
                        child.wait().await
                    }
                };
                // Whatever the leader left behind in its group goes too.
                signal_group(group, Signal::SIGKILL);
                (status, true)
            }
        };
        let _ = exited_tx.send(true);
        (status, timed_out)
    };
    let reading = async {
        tokio::join!(
            read_capped(stdout, cap, exited_rx.clone()),
            read_capped(stderr, cap, exited_rx.clone())
        )
    };
    let ((status, timed_out), (out, err)) = tokio::join!(waiting, reading);
    let status = status?;
    use std::os::unix::process::ExitStatusExt;
    Ok(ChildRun {
        exit: status.code(),
        signal: status.signal(),
        stdout: String::from_utf8_lossy(&out).into_owned(),
        stderr: String::from_utf8_lossy(&err).into_owned(),
        timed_out,
    })
}

fn signal_group(group: Option<Pid>, signal: Signal) {
    if let Some(group) = group {
        // ESRCH (the group is gone) is the expected outcome of a late kill.
        let _ = killpg(group, signal);
    }
}

/// Reads `pipe` to its end, keeping the first `cap` bytes; gives up
/// [`LINGER_AFTER_EXIT`] after the child exited.
async fn read_capped<R: AsyncRead + Unpin>(
    pipe: Option<R>,
    cap: usize,
    mut exited: watch::Receiver<bool>,
) -> Vec<u8> {
    let mut kept = Vec::new();
    let Some(mut pipe) = pipe else {
        return kept;
    };
    let mut chunk = [0u8; 4096];
    let linger = async {
        // An error means the sender is gone: the child was waited for.
        let _ = exited.wait_for(|done| *done).await;
        tokio::time::sleep(LINGER_AFTER_EXIT).await;
    };
    tokio::pin!(linger);
    loop {
        tokio::select! {
            read = pipe.read(&mut chunk) => match read {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let room = cap.saturating_sub(kept.len());
                    kept.extend_from_slice(&chunk[..n.min(room)]);
                }
            },
            _ = &mut linger => break,
        }
    }
    kept
}

/// The text after the last `ocf-exit-reason:` prefix in `stderr` (how OCF
/// agents say why they failed), trimmed; `None` when there is none.
pub fn exit_reason(stderr: &str) -> Option<String> {
    const PREFIX: &str = "ocf-exit-reason:";
    stderr
        .lines()
        .filter_map(|line| line.find(PREFIX).map(|at| line[at + PREFIX.len()..].trim()))
        .rfind(|reason| !reason.is_empty())
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn sh(script: &str) -> Vec<String> {
        vec!["-c".to_string(), script.to_string()]
    }

    #[tokio::test(flavor = "current_thread")]
    async fn captures_exit_code_and_output() {
        let env = ExecEnv::default();
        let run = run(
            Path::new("/bin/sh"),
            &sh("echo out; echo 'ocf-exit-reason:bad thing' >&2; read x; echo \"[$x][$FOO][$HOME]\"; exit 6"),
            &[("FOO".to_string(), "bar".to_string())],
            Duration::from_secs(5),
            &env,
        )
        .await
        .unwrap();
        assert_eq!(run.exit, Some(6));
        assert!(!run.timed_out);
        // stdin is /dev/null (read fails, x empty); HOME is not inherited.
        assert_eq!(run.stdout, "out\n[][bar][]\n");
        assert_eq!(exit_reason(&run.stderr).as_deref(), Some("bad thing"));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn output_is_capped() {
        let env = ExecEnv {
            output_cap: 100,
            ..ExecEnv::default()
        };
        let run = run(
            Path::new("/bin/sh"),
            &sh("head -c 1000000 /dev/zero | tr '\\0' x; exit 0"),
            &[],
            Duration::from_secs(10),
            &env,
        )
        .await
        .unwrap();
        assert_eq!(run.exit, Some(0));
        assert_eq!(run.stdout.len(), 100);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn timeout_kills_the_whole_group() {
        let env = ExecEnv {
            kill_grace: Duration::from_millis(300),
            ..ExecEnv::default()
        };
        let dir =
            std::env::temp_dir().join(format!("ironbeat-agents-child-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let pidfile = dir.join("grandchild.pid");
        // The grandchild ignores SIGTERM; SIGKILL of the group must get it.
        let script = format!(
            "sh -c 'trap \"\" TERM; while :; do sleep 0.05; done' & echo $! > {}; trap '' TERM; while :; do sleep 0.05; done",
            pidfile.display()
        );
        let started = Instant::now();
        let run = run(
            Path::new("/bin/sh"),
            &sh(&script),
            &[],
            Duration::from_millis(300),
            &env,
        )
        .await
        .unwrap();
        let took = started.elapsed();
        assert!(run.timed_out);
        assert!(took < Duration::from_secs(3), "{took:?}");
        let pid: i32 = std::fs::read_to_string(&pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let mut gone = false;
        for _ in 0..100 {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            // Gone, or a zombie waiting for init to reap it.
            if stat.is_empty() || stat.split(") ").nth(1).is_some_and(|s| s.starts_with('Z')) {
                gone = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = std::fs::remove_dir_all(&dir);
        assert!(gone, "grandchild {pid} survived the group kill");
    }

    #[test]
    fn exit_reason_hostile_input() {
        assert_eq!(exit_reason(""), None);
        assert_eq!(exit_reason("ocf-exit-reason:"), None);
        assert_eq!(
            exit_reason("x ocf-exit-reason: a\nocf-exit-reason:b \n"),
            Some("b".into())
        );
        assert_eq!(
            exit_reason("\u{fffd}ocf-exit-reason:\u{e9}t\u{e9}"),
            Some("\u{e9}t\u{e9}".into())
        );
    }
}
