//! CPU time and memory of processes, read from `/proc`.

use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::Result;

/// Clock ticks per second of `utime`/`stime` in `/proc/PID/stat`.
pub fn clock_ticks() -> u64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .and_then(|v| u64::try_from(v).ok())
        .unwrap_or(100)
}

fn stat_fields(pid: u32) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("process {pid} is gone"))?;
    // The command name is in parentheses and may contain spaces: split after it.
    let rest = text
        .rsplit_once(')')
        .map(|(_, r)| r)
        .context("unexpected /proc/PID/stat")?;
    Ok(rest.split_whitespace().map(str::to_string).collect())
}

/// `utime + stime` of a process, in clock ticks.
pub fn cpu_ticks(pid: u32) -> Result<u64> {
    let f = stat_fields(pid)?;
    // Fields after the name start at field 3 (state): utime is 14, stime 15.
    let utime: u64 = f.get(11).context("utime")?.parse()?;
    let stime: u64 = f.get(12).context("stime")?.parse()?;
    Ok(utime + stime)
}

/// The direct children of a process.
pub fn children(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Ok(p) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            if let Ok(f) = stat_fields(p) {
                if f.get(1).and_then(|pp| pp.parse::<u32>().ok()) == Some(pid) {
                    out.push(p);
                }
            }
        }
    }
    out
}

/// Resident memory of a process.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Memory {
    /// `VmRSS` in KiB (shared pages counted in full).
    pub rss_kib: u64,
    /// `Pss` in KiB from `smaps_rollup` (shared pages split among sharers).
    pub pss_kib: u64,
}

/// Reads VmRSS and PSS of a process.
pub fn memory(pid: u32) -> Result<Memory> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup"))?;
    let field = |text: &str, name: &str| -> Option<u64> {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
    };
    Ok(Memory {
        rss_kib: field(&status, "VmRSS:").unwrap_or(0),
        pss_kib: field(&rollup, "Pss:").unwrap_or(0),
    })
}

/// Usage of a set of processes over a window.
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    /// CPU time used over the window, percent of one core.
    pub cpu_percent: f64,
    /// Sum of VmRSS at the end of the window, KiB.
    pub rss_kib: u64,
    /// Sum of PSS at the end of the window, KiB.
    pub pss_kib: u64,
    /// The window actually measured.
    pub window: Duration,
}

/// Measures the CPU used by `pids` over `window` (Δ utime+stime) and their
/// memory at the end. All processes must live through the window.
pub fn measure(pids: &[u32], window: Duration) -> Result<Usage> {
    if pids.is_empty() {
        bail!("no processes to measure");
    }
    let start = Instant::now();
    let before: Vec<u64> = pids.iter().map(|&p| cpu_ticks(p)).collect::<Result<_>>()?;
    thread::sleep(window);
    let after: Vec<u64> = pids.iter().map(|&p| cpu_ticks(p)).collect::<Result<_>>()?;
    let elapsed = start.elapsed();
    let ticks: u64 = after
        .iter()
        .zip(&before)
        .map(|(a, b)| a.saturating_sub(*b))
        .sum();
    let mut usage = Usage {
        cpu_percent: 100.0 * ticks as f64 / clock_ticks() as f64 / elapsed.as_secs_f64(),
        window: elapsed,
        ..Usage::default()
    };
    for &p in pids {
        let m = memory(p)?;
        usage.rss_kib += m.rss_kib;
        usage.pss_kib += m.pss_kib;
    }
    Ok(usage)
}

/// Like [`measure`], but one [`Usage`] per process, all over the same window.
pub fn measure_each(pids: &[u32], window: Duration) -> Result<Vec<Usage>> {
    let start = Instant::now();
    let before: Vec<u64> = pids.iter().map(|&p| cpu_ticks(p)).collect::<Result<_>>()?;
    thread::sleep(window);
    let after: Vec<u64> = pids.iter().map(|&p| cpu_ticks(p)).collect::<Result<_>>()?;
    let elapsed = start.elapsed();
    pids.iter()
        .zip(after.iter().zip(&before))
        .map(|(&p, (a, b))| {
            let m = memory(p)?;
            Ok(Usage {
                cpu_percent: 100.0 * a.saturating_sub(*b) as f64
                    / clock_ticks() as f64
                    / elapsed.as_secs_f64(),
                rss_kib: m.rss_kib,
                pss_kib: m.pss_kib,
                window: elapsed,
            })
        })
        .collect()
}
