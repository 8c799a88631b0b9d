//! `ironbeat link watch --json` running inside a namespace, its events read on
//! a thread and stamped on arrival.
//!
//! Each stdout line is one JSON object (`event`, `ts_us`, `self`, …; the
//! contract is in README/docs). Tests wait for events with a predicate and a
//! deadline; a timeout error shows what the node did print, and its stderr.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use serde_json::Value;

use crate::{binary, cmd, unix_us, Netns, Result};

/// One event printed by `ironbeat link watch --json`.
#[derive(Debug, Clone)]
pub struct Event {
    /// When the harness read the line (monotonic).
    pub received: Instant,
    /// When the harness read the line (Unix µs, same clock as `ts_us`).
    pub received_us: u64,
    /// The parsed object.
    pub json: Value,
}

impl Event {
    /// The `event` field (`started`, `path_up`, `node_dead`, …).
    pub fn kind(&self) -> &str {
        self.str("event").unwrap_or("")
    }

    /// A string field.
    pub fn str(&self, key: &str) -> Option<&str> {
        self.json.get(key).and_then(Value::as_str)
    }

    /// An unsigned integer field.
    pub fn u64(&self, key: &str) -> Option<u64> {
        self.json.get(key).and_then(Value::as_u64)
    }

    /// The event's own timestamp (`ts_us`, Unix µs).
    pub fn ts_us(&self) -> Option<u64> {
        self.u64("ts_us")
    }

    /// The peer the event is about (`node`).
    pub fn peer(&self) -> Option<&str> {
        self.str("node")
    }

    /// The path the event is about (`path`).
    pub fn path(&self) -> Option<&str> {
        self.str("path")
    }

    /// Whether this is event `kind` about peer `node`.
    pub fn is(&self, kind: &str, node: &str) -> bool {
        self.kind() == kind && self.peer() == Some(node)
    }
}

/// How to start one node's watcher.
#[derive(Debug, Clone)]
pub struct WatchSpec {
    /// Namespace to run in.
    pub ns: String,
    /// `--ha-d` directory.
    pub ha_d: PathBuf,
    /// A native TOML file: when set, `--config FILE` replaces `--ha-d`.
    pub native: Option<PathBuf>,
    /// `--node`.
    pub node: String,
    /// `--state-dir` (keeps the generation across restarts).
    pub state_dir: PathBuf,
    /// Extra arguments appended to the command line.
    pub extra_args: Vec<String>,
}

impl WatchSpec {
    /// A spec for `node` in `ns` reading `ha_d`, keeping state in `state_dir`.
    pub fn new(ns: &Netns, ha_d: PathBuf, node: &str, state_dir: PathBuf) -> Self {
        WatchSpec {
            ns: ns.name().to_string(),
            ha_d,
            native: None,
            node: node.to_string(),
            state_dir,
            extra_args: Vec::new(),
        }
    }
}

#[derive(Default)]
struct State {
    events: Vec<Event>,
    unparsed: Vec<String>,
    stderr: String,
    stdout_closed: bool,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running `ironbeat link watch`; killed on drop.
pub struct Watcher {
    spec: WatchSpec,
    child: Child,
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Watcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watcher")
            .field("node", &self.spec.node)
            .field("pid", &self.child.id())
            .finish()
    }
}

impl Watcher {
    /// Starts the watcher. It runs until killed, stopped or dropped.
    pub fn spawn(spec: &WatchSpec) -> Result<Self> {
        let bin = binary::ironbeat()?;
        std::fs::create_dir_all(&spec.state_dir)?;
        let mut command = std::process::Command::new("ip");
        command
            .args(["netns", "exec", &spec.ns])
            .arg(&bin)
            .args(["link", "watch", "--json"]);
        match &spec.native {
            Some(file) => command.arg("--config").arg(file),
            None => command.arg("--ha-d").arg(&spec.ha_d),
        };
        command
            .args(["--node", &spec.node, "--state-dir"])
            .arg(&spec.state_dir)
            .args(&spec.extra_args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .with_context(|| format!("cannot start {command:?}"))?;
        let shared = Arc::new(Shared::default());
        let stdout = child.stdout.take().context("no stdout pipe")?;
        let stderr = child.stderr.take().context("no stderr pipe")?;
        let out_shared = Arc::clone(&shared);
        let verbose = std::env::var_os("IBT_VERBOSE")
            .is_some()
            .then(|| spec.node.clone());
        thread::spawn(move || read_events(stdout, &out_shared, verbose));
        let err_shared = Arc::clone(&shared);
        thread::spawn(move || read_stderr(stderr, &err_shared));
        Ok(Watcher {
            spec: spec.clone(),
            child,
            shared,
        })
    }

    /// The spec it was started from (to restart the node).
    pub fn spec(&self) -> &WatchSpec {
        &self.spec
    }

    /// The node name.
    pub fn node(&self) -> &str {
        &self.spec.node
    }

    /// The process ID (`ip netns exec` execs in place, so it is ironbeat's).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether the process still runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// How many events arrived so far: pass it to [`wait_for`](Self::wait_for)
    /// to wait only for later events.
    pub fn mark(&self) -> usize {
        self.shared.lock().events.len()
    }

    /// A copy of all events so far.
    pub fn events(&self) -> Vec<Event> {
        self.shared.lock().events.clone()
    }

    /// A copy of the events from index `since` on.
    pub fn events_since(&self, since: usize) -> Vec<Event> {
        let state = self.shared.lock();
        state
            .events
            .get(since..)
            .map(<[Event]>::to_vec)
            .unwrap_or_default()
    }

    /// What the process wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.shared.lock().stderr.clone()
    }

    /// Waits up to `timeout` for the first event at index ≥ `since` matching
    /// `matches`. `what` describes it for the error message.
    pub fn wait_for(
        &self,
        since: usize,
        what: &str,
        timeout: Duration,
        matches: impl Fn(&Event) -> bool,
    ) -> Result<Event> {
        let end = Instant::now() + timeout;
        let mut state = self.shared.lock();
        loop {
            if let Some(e) = state.events.iter().skip(since).find(|e| matches(e)) {
                return Ok(e.clone());
            }
            let now = Instant::now();
            if now >= end || state.stdout_closed {
                let why = if state.stdout_closed {
                    "the process exited"
                } else {
                    "timed out"
                };
                drop(state);
                return Err(anyhow!(
                    "{}: waiting for {what} ({timeout:?}): {why}\n{}",
                    self.spec.node,
                    self.diagnostics()
                ));
            }
            state = self
                .shared
                .changed
                .wait_timeout(state, end - now)
                .map(|(s, _)| s)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }

    /// Waits for the `started` event.
    pub fn wait_started(&self, timeout: Duration) -> Result<Event> {
        self.wait_for(0, "the started event", timeout, |e| e.kind() == "started")
    }

    /// SIGKILLs the process and reaps it; returns the kill instant (Unix µs,
    /// taken just before the signal).
    pub fn kill9(&mut self) -> u64 {
        let at = unix_us();
        let _ = self.child.kill();
        let _ = cmd::wait_deadline(&mut self.child, Duration::from_secs(5));
        at
    }

    /// Sends `signal` to the process.
    pub fn signal(&self, signal: nix::sys::signal::Signal) -> Result<()> {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.child.id() as i32), signal)?;
        Ok(())
    }

    /// Stops the process: SIGTERM, up to 3 s, then SIGKILL.
    pub fn stop(&mut self) {
        cmd::stop_child(&mut self.child, Duration::from_secs(3));
    }

    /// The last events and stderr, for failure messages.
    pub fn diagnostics(&self) -> String {
        let state = self.shared.lock();
        let mut t = String::new();
        let skip = state.events.len().saturating_sub(60);
        let _ = writeln!(
            t,
            "--- {} events ({} total, last 60):",
            self.spec.node,
            state.events.len()
        );
        for e in state.events.iter().skip(skip) {
            let _ = writeln!(t, "  {}", e.json);
        }
        for line in state.unparsed.iter().take(20) {
            let _ = writeln!(t, "  (not JSON) {line}");
        }
        let tail: String = {
            let s = &state.stderr;
            let start = s.len().saturating_sub(3000);
            let start = (start..s.len())
                .find(|&i| s.is_char_boundary(i))
                .unwrap_or(s.len());
            s[start..].to_string()
        };
        let _ = writeln!(t, "--- {} stderr:\n{tail}", self.spec.node);
        t
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Reads JSON lines; with `verbose` (the node name, from `IBT_VERBOSE`) also
/// echoes them to stderr as they arrive.
fn read_events(stdout: impl Read, shared: &Shared, verbose: Option<String>) {
    let reader = BufReader::new(stdout);
    for line in reader.lines() {
        let Ok(line) = line else { break };
        let received = Instant::now();
        let received_us = unix_us();
        let trimmed = line.trim();
        if trimmed.is_empty() {
            continue;
        }
        if let Some(node) = &verbose {
            let _ = std::io::Write::write_all(
                &mut std::io::stderr(),
                format!("[{node}] {trimmed}\n").as_bytes(),
            );
        }
        let mut state = shared.lock();
        match serde_json::from_str::<Value>(trimmed) {
            Ok(json) if json.is_object() => state.events.push(Event {
                received,
                received_us,
                json,
            }),
            _ => state.unparsed.push(line),
        }
        drop(state);
        shared.changed.notify_all();
    }
    shared.lock().stdout_closed = true;
    shared.changed.notify_all();
}

fn read_stderr(stderr: impl Read, shared: &Shared) {
    let mut reader = BufReader::new(stderr);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                let mut state = shared.lock();
                if state.stderr.len() < 1 << 20 {
                    state.stderr.push_str(&String::from_utf8_lossy(&buf));
                }
            }
        }
    }
}
