//! Running commands with a deadline.

use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};

use crate::Result;

/// What a finished command printed.
#[derive(Debug, Clone)]
pub struct Output {
    /// Exit status.
    pub status: ExitStatus,
    /// Everything written to stdout.
    pub stdout: String,
    /// Everything written to stderr.
    pub stderr: String,
}

/// Default deadline for the small commands (`ip`, `sysctl`) the harness runs.
pub const SHORT: Duration = Duration::from_secs(10);

/// Runs `command` to completion within `deadline`, capturing its output. The
/// command is killed (by PID) if it overruns; that is an error.
pub fn run(command: &mut Command, deadline: Duration) -> Result<Output> {
    let shown = format!("{command:?}");
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {shown}"))?;
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let status = wait_deadline(&mut child, deadline);
    let status = match status {
        Some(s) => s,
        None => {
            let _ = child.kill();
            let _ = child.wait();
            bail!("{shown} did not finish within {deadline:?}");
        }
    };
    Ok(Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

/// Like [`run`], but a non-zero exit status is an error that quotes stderr.
pub fn check(command: &mut Command, deadline: Duration) -> Result<Output> {
    let shown = format!("{command:?}");
    let out = run(command, deadline)?;
    if !out.status.success() {
        return Err(anyhow!(
            "{shown} failed ({}): {}{}",
            out.status,
            out.stderr.trim(),
            out.stdout.trim()
        ));
    }
    Ok(out)
}

/// Runs `ip ARGS…` and fails on a non-zero exit.
pub fn ip(args: &[&str]) -> Result<Output> {
    check(Command::new("ip").args(args), SHORT)
}

/// Runs `ip netns exec NS PROGRAM ARGS…` and fails on a non-zero exit.
pub fn in_ns(ns: &str, program: &str, args: &[&str]) -> Result<Output> {
    check(
        Command::new("ip")
            .args(["netns", "exec", ns, program])
            .args(args),
        SHORT,
    )
}

/// Waits for `child` up to `deadline`; `None` if it is still running.
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
        // Poll often at first, so that a command that exits within
        // milliseconds is seen within 0.1 ms of it (the benchmarks time
        // commands of 1-3 ms this way), then every 5 ms.
        thread::sleep(if waited < Duration::from_millis(100) {
            Duration::from_micros(100)
        } else {
            Duration::from_millis(5)
        });
    }
}

/// Stops a child we started: SIGTERM, up to `grace` to exit, then SIGKILL.
/// Signals go to this PID only.
pub fn stop_child(child: &mut Child, grace: Duration) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
    if wait_deadline(child, grace).is_none() {
        let _ = child.kill();
        let _ = child.wait();
    }
}

fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut p) = pipe {
            let mut bytes = Vec::new();
            let _ = p.read_to_end(&mut bytes);
            text = String::from_utf8_lossy(&bytes).into_owned();
        }
        text
    })
}

/// Polls `probe` every `step` until it returns `Some` or `deadline` passes.
pub fn poll<T>(
    deadline: Duration,
    step: Duration,
    mut probe: impl FnMut() -> Option<T>,
) -> Option<T> {
    let end = Instant::now() + deadline;
    loop {
        if let Some(v) = probe() {
            return Some(v);
        }
        if Instant::now() >= end {
            return None;
        }
        thread::sleep(step);
    }
}
