//! Measuring one command the way the benchmarks do: the bench binary
//! re-executes itself with `--measure-one ARGV…` ([`MEASURE_ONE`]), that copy
//! starts the command, waits for it and reads `getrusage(RUSAGE_CHILDREN)`,
//! so CPU time and peak RSS cover exactly the command's process tree and
//! nothing of the harness. The parent reads the one JSON line it prints.

use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::Context;
use nix::sys::resource::{getrusage, UsageWho};

use crate::{cmd, Result};

/// The argument that puts a bench binary into its measuring mode.
pub const MEASURE_ONE: &str = "--measure-one";

/// What one command cost, and what it printed.
#[derive(Debug, Clone, Default)]
pub struct Measured {
    /// Wall time from spawn to exit, µs.
    pub wall_us: u64,
    /// User + system CPU time of the whole process tree, µs.
    pub cpu_us: u64,
    /// Peak RSS of the largest single process of the tree, KiB.
    pub rss_kib: u64,
    /// Exit code (-1: killed, or could not start).
    pub code: i64,
    /// Standard output.
    pub stdout: String,
    /// Standard error (or why the command could not run).
    pub stderr: String,
}

/// The measuring copy's side: runs `argv` (with `env` added) to completion,
/// at most `limit`, and prints one JSON line for [`measure`].
pub fn measure_one(argv: &[String], env: &[(&str, &str)], limit: Duration) -> Result<()> {
    let (program, args) = argv
        .split_first()
        .context("--measure-one needs a command")?;
    let mut command = Command::new(program);
    command.args(args).envs(env.iter().copied());
    let start = Instant::now();
    let out = cmd::run(&mut command, limit);
    let wall = start.elapsed();
    let usage = getrusage(UsageWho::RUSAGE_CHILDREN).context("getrusage")?;
    let cpu = |t: nix::sys::time::TimeVal| t.tv_sec() as u64 * 1_000_000 + t.tv_usec() as u64;
    let (code, stdout, stderr) = match &out {
        Ok(o) => (
            o.status.code().unwrap_or(-1),
            o.stdout.clone(),
            o.stderr.clone(),
        ),
        Err(e) => (-1, String::new(), format!("{e:#}")),
    };
    let line = serde_json::json!({
        "wall_us": wall.as_micros() as u64,
        "cpu_us": cpu(usage.user_time()) + cpu(usage.system_time()),
        // Linux reports ru_maxrss in KiB.
        "rss_kib": usage.max_rss(),
        "code": code,
        "stdout": stdout,
        "stderr": stderr,
    });
    println!("{line}");
    Ok(())
}

/// The parent's side: runs `argv` under a fresh copy of this binary in
/// measuring mode (which gives up on the command after `limit`).
pub fn measure(argv: &[String], limit: Duration) -> Result<Measured> {
    let me = std::env::current_exe().context("current_exe")?;
    let out = cmd::run(
        Command::new(me).arg(MEASURE_ONE).args(argv),
        limit + Duration::from_secs(5),
    )?;
    let v: serde_json::Value = serde_json::from_str(out.stdout.trim())
        .with_context(|| format!("{MEASURE_ONE} printed {:?} {:?}", out.stdout, out.stderr))?;
    let num = |k: &str| v[k].as_u64().unwrap_or(0);
    let text = |k: &str| v[k].as_str().unwrap_or("").to_string();
    Ok(Measured {
        wall_us: num("wall_us"),
        cpu_us: num("cpu_us"),
        rss_kib: num("rss_kib"),
        code: v["code"].as_i64().unwrap_or(-1),
        stdout: text("stdout"),
        stderr: text("stderr"),
    })
}

/// The installed version of a Debian package (empty when unknown).
pub fn package_version(package: &str) -> String {
    cmd::run(
        Command::new("dpkg-query").args(["-W", "-f", "${Version}", package]),
        cmd::SHORT,
    )
    .map(|o| o.stdout)
    .unwrap_or_default()
}

/// The 1, 5 and 15 minute load averages, as `/proc/loadavg` gives them.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}
