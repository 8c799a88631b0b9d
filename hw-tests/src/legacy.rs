//! heartbeat 3.0.6 (Debian package `heartbeat`), the legacy peer the
//! benchmark compares against, run as one node per network namespace.
//!
//! heartbeat takes its identity from `uname -n` and keeps its state in fixed
//! paths, so each node runs in its own UTS and mount namespace with private
//! bind mounts of `/etc/ha.d`, `/var/lib/heartbeat` and all of `/run` (pid file,
//! API sockets, UUCP locks under `/run/lock`). The daemon forks into the
//! background; its master PID comes from the node's private `heartbeat.pid`.
//! heartbeat logs with 1-second timestamps, so events are timed from outside:
//! [`LogTail`] polls the log file every 2 ms and stamps each new line.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use crate::resources::children;
use crate::{cmd, unix_us, Result};

/// The heartbeat daemon binary of the Debian package.
pub const HEARTBEAT: &str = "/usr/libexec/heartbeat/heartbeat";

/// One legacy heartbeat node: its files under `root` and its namespace.
#[derive(Debug)]
pub struct LegacyNode {
    /// Node name (its hostname inside its UTS namespace).
    pub name: String,
    ns: String,
    root: PathBuf,
    /// The private mount namespace of the running instance (`mnt:[…]`): every
    /// process heartbeat starts, even a script orphaned by a kill, lives in it.
    mount_ns: std::sync::Mutex<Option<String>>,
}

impl LegacyNode {
    /// Lays out the node's private directories under `root` (a copy of the
    /// stock `/etc/ha.d` with our `ha.cf`, an empty `haresources` and
    /// `authkeys` 0600; `/var/lib/heartbeat` kept across restarts; `/run`).
    pub fn prepare(root: &Path, name: &str, ns: &str, ha_cf: &str, authkeys: &str) -> Result<Self> {
        let etc = root.join("etc-ha.d");
        let lib = root.join("var-lib-heartbeat");
        let run = root.join("run");
        std::fs::create_dir_all(&etc)?;
        std::fs::create_dir_all(&lib)?;
        cmd::check(
            Command::new("cp").args(["-a", "/etc/ha.d/."]).arg(&etc),
            cmd::SHORT,
        )?;
        if !lib.join("api").exists() {
            cmd::check(
                Command::new("cp")
                    .args(["-a", "/var/lib/heartbeat/."])
                    .arg(&lib),
                cmd::SHORT,
            )?;
        }
        for d in [
            "heartbeat/ccm",
            "heartbeat/crm",
            "heartbeat/dopd",
            "resource-agents",
            "lock",
        ] {
            std::fs::create_dir_all(run.join(d))?;
        }
        cmd::check(
            Command::new("chown")
                .args(["-R", "hacluster:haclient"])
                .arg(run.join("heartbeat")),
            cmd::SHORT,
        )?;
        cmd::check(
            Command::new("chmod").arg("750").arg(run.join("heartbeat")),
            cmd::SHORT,
        )?;
        std::fs::write(etc.join("haresources"), "")?;
        crate::HaDir::write_raw(&etc, ha_cf, authkeys, 0o600)?;
        Ok(LegacyNode {
            name: name.to_string(),
            ns: ns.to_string(),
            root: root.to_path_buf(),
            mount_ns: std::sync::Mutex::new(None),
        })
    }

    /// The node's log file (`logfile /var/lib/heartbeat/ha-log` in ha.cf).
    pub fn log_path(&self) -> PathBuf {
        self.root.join("var-lib-heartbeat").join("ha-log")
    }

    /// Starts heartbeat; returns the master PID once the pid file names a live daemon.
    pub fn start(&self) -> Result<u32> {
        if let Some(pid) = self.master_pid() {
            return Ok(pid);
        }
        let _ = std::fs::remove_file(self.root.join("run/heartbeat.pid"));
        let script = format!(
            "hostname {name} && mount --bind {etc} /etc/ha.d && mount --bind {lib} /var/lib/heartbeat \
             && mount --bind {run} /run && exec {HEARTBEAT}",
            name = self.name,
            etc = self.root.join("etc-ha.d").display(),
            lib = self.root.join("var-lib-heartbeat").display(),
            run = self.root.join("run").display(),
        );
        let out = cmd::run(
            Command::new("ip").args([
                "netns",
                "exec",
                &self.ns,
                "unshare",
                "-m",
                "-u",
                "--propagation",
                "private",
                "/bin/sh",
                "-c",
                &script,
            ]),
            Duration::from_secs(30),
        )?;
        std::fs::write(
            self.root.join("start.out"),
            format!("{}{}", out.stdout, out.stderr),
        )?;
        let master = cmd::poll(Duration::from_secs(10), Duration::from_millis(20), || {
            self.master_pid()
        })
        .with_context(|| {
            format!(
                "heartbeat {} did not start: {}{}",
                self.name,
                out.stderr.trim(),
                std::fs::read_to_string(self.log_path())
                    .map(|l| l.lines().rev().take(10).collect::<Vec<_>>().join("\n"))
                    .unwrap_or_default()
            )
        })?;
        *self.mount_ns.lock().unwrap_or_else(|e| e.into_inner()) = mount_ns_of(master);
        Ok(master)
    }

    /// The running master's PID, if any (checked against its command line).
    pub fn master_pid(&self) -> Option<u32> {
        let text = std::fs::read_to_string(self.root.join("run/heartbeat.pid")).ok()?;
        let pid: u32 = text.trim().parse().ok()?;
        is_heartbeat(pid).then_some(pid)
    }

    /// The daemon's own processes: the master and its children (FIFO reader,
    /// one read and one write process per medium).
    pub fn pids(&self) -> Vec<u32> {
        let Some(master) = self.master_pid() else {
            return Vec::new();
        };
        let mut all = vec![master];
        all.extend(children(master).into_iter().filter(|&p| is_heartbeat(p)));
        all
    }

    /// Every process of this instance: all processes in its private mount
    /// namespace (the daemon, and the scripts it forked, orphaned or not).
    pub fn all_pids(&self) -> Vec<u32> {
        let Some(ns) = self
            .mount_ns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
        else {
            return self.pids();
        };
        let mut out = Vec::new();
        if let Ok(entries) = std::fs::read_dir("/proc") {
            for entry in entries.flatten() {
                if let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() {
                    if mount_ns_of(pid).as_deref() == Some(ns.as_str()) {
                        out.push(pid);
                    }
                }
            }
        }
        out
    }

    /// SIGKILLs the whole instance at once (daemon and forked scripts, like a
    /// crash of the node); returns the instant (Unix µs) taken just before the
    /// first signal.
    pub fn kill9(&self) -> u64 {
        let mut pids = self.pids();
        for p in self.all_pids() {
            if !pids.contains(&p) {
                pids.push(p);
            }
        }
        let at = unix_us();
        for p in &pids {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(*p as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = cmd::poll(Duration::from_secs(5), Duration::from_millis(5), || {
            pids.iter()
                .all(|p| !Path::new(&format!("/proc/{p}")).exists() || zombie(*p))
                .then_some(())
        });
        let _ = std::fs::remove_file(self.root.join("run/heartbeat.pid"));
        // Every process of the instance is gone, and with them the namespace,
        // whose number the kernel may reuse: forget it.
        *self.mount_ns.lock().unwrap_or_else(|e| e.into_inner()) = None;
        at
    }
}

impl Drop for LegacyNode {
    fn drop(&mut self) {
        if !self.all_pids().is_empty() {
            self.kill9();
        }
    }
}

/// The mount namespace of a process (`mnt:[4026532…]`).
fn mount_ns_of(pid: u32) -> Option<String> {
    std::fs::read_link(format!("/proc/{pid}/ns/mnt"))
        .ok()
        .map(|p| p.display().to_string())
}

fn is_heartbeat(pid: u32) -> bool {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|c| String::from_utf8_lossy(&c).contains("heartbeat"))
        .unwrap_or(false)
        && !zombie(pid)
}

fn zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            s.rsplit_once(')')
                .map(|(_, r)| r.trim_start().starts_with('Z'))
                .unwrap_or(false)
        })
        .unwrap_or(false)
}

/// Follows a growing log file, stamping each complete line on arrival.
#[derive(Debug)]
pub struct LogTail {
    path: PathBuf,
    offset: u64,
    partial: String,
}

impl LogTail {
    /// Starts at the current end of `path` (or its start, if it does not exist yet).
    pub fn new(path: &Path) -> Self {
        let offset = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        LogTail {
            path: path.to_path_buf(),
            offset,
            partial: String::new(),
        }
    }

    fn read_lines(&mut self) -> Vec<String> {
        let Ok(mut f) = std::fs::File::open(&self.path) else {
            return Vec::new();
        };
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        if len < self.offset {
            self.offset = 0; // truncated or replaced
        }
        if len == self.offset || f.seek(SeekFrom::Start(self.offset)).is_err() {
            return Vec::new();
        }
        let mut bytes = Vec::new();
        if f.read_to_end(&mut bytes).is_err() {
            return Vec::new();
        }
        self.offset += bytes.len() as u64;
        self.partial.push_str(&String::from_utf8_lossy(&bytes));
        let mut lines = Vec::new();
        while let Some(i) = self.partial.find('\n') {
            lines.push(self.partial[..i].to_string());
            self.partial.drain(..=i);
        }
        lines
    }

    /// The complete lines added since the last read (no waiting).
    pub fn read_new(&mut self) -> Vec<String> {
        self.read_lines()
    }

    /// Polls every 2 ms until a new line contains `needle`; returns the arrival
    /// instant (Unix µs) and the line.
    pub fn wait_for(&mut self, needle: &str, timeout: Duration) -> Result<(u64, String)> {
        self.wait_until(needle, timeout, |l| l.contains(needle))
    }

    /// Polls every 2 ms until a new line satisfies `pred` (`what` describes it
    /// for the error); returns the arrival instant (Unix µs) and the line.
    pub fn wait_until(
        &mut self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> Result<(u64, String)> {
        let end = Instant::now() + timeout;
        loop {
            let lines = self.read_lines();
            let at = unix_us();
            if let Some(line) = lines.into_iter().find(|l| pred(l)) {
                return Ok((at, line));
            }
            if Instant::now() >= end {
                bail!(
                    "{}: no line with {what:?} within {timeout:?}",
                    self.path.display()
                );
            }
            thread::sleep(Duration::from_millis(2));
        }
    }
}
