//! Running the small commands a lab needs (`ip`, `ipmitool`) with a deadline,
//! and running code inside a network namespace.

use std::fs::File;
use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// Deadline of one `ip` or `sysctl` command.
pub const SHORT: Duration = Duration::from_secs(10);

/// What a finished command printed.
#[derive(Debug, Clone)]
pub struct Output {
    /// Exit status.
    pub status: ExitStatus,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// Runs `command` to completion within `deadline` (killed, by PID, when it
/// overruns: an error), capturing its output.
pub fn run(command: &mut Command, deadline: Duration) -> Result<Output> {
    let shown = format!("{command:?}");
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {shown} (is it installed? scripts/install-test-deps.sh installs what the lab needs)"))?;
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let Some(status) = wait_deadline(&mut child, deadline) else {
        let _ = child.kill();
        let _ = child.wait();
        bail!("{shown} did not finish within {deadline:?}");
    };
    Ok(Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

/// Like [`run`]; a non-zero exit status is an error quoting stderr.
pub fn check(command: &mut Command, deadline: Duration) -> Result<Output> {
    let shown = format!("{command:?}");
    let out = run(command, deadline)?;
    if !out.status.success() {
        bail!("{shown} failed ({}): {}", out.status, out.stderr.trim());
    }
    Ok(out)
}

/// `ip ARGS…`, failing on a non-zero exit.
pub fn ip(args: &[&str]) -> Result<Output> {
    check(Command::new("ip").args(args), SHORT)
}

/// `ip -n NS ARGS…`, failing on a non-zero exit.
pub fn ip_in(ns: &str, args: &[&str]) -> Result<Output> {
    check(Command::new("ip").args(["-n", ns]).args(args), SHORT)
}

/// Waits for `child` up to `deadline`; `None` if it still runs.
pub fn wait_deadline(child: &mut Child, deadline: Duration) -> Option<ExitStatus> {
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) => {}
            Err(_) => return None,
        }
        let waited = start.elapsed();
        if waited >= deadline {
            return None;
        }
        thread::sleep(if waited < Duration::from_millis(50) {
            Duration::from_micros(200)
        } else {
            Duration::from_millis(5)
        });
    }
}

fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut bytes);
        }
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

/// Moves the calling thread into network namespace `ns` (`setns(2)` changes
/// only the calling thread; sockets it then creates live in `ns`).
pub fn enter_netns(ns: &str) -> Result<()> {
    let path = format!("/run/netns/{ns}");
    let file = File::open(&path).with_context(|| format!("opening {path}"))?;
    nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET)
        .with_context(|| format!("entering network namespace {ns}"))?;
    Ok(())
}

/// Starts a named thread that first enters network namespace `ns`, then runs
/// `body`.
pub fn spawn_in_netns<T: Send + 'static>(
    name: &str,
    ns: &str,
    body: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<thread::JoinHandle<Result<T>>> {
    let ns = ns.to_owned();
    thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            enter_netns(&ns)?;
            body()
        })
        .with_context(|| format!("starting thread {name}"))
}
