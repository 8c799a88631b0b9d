//! `tcpdump` as an independent decoder: what it prints is what a third-party
//! dissector makes of our frames.

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use anyhow::{bail, Context};

use crate::{cmd, Netns, Result};

/// A running `tcpdump -n -e -l -i IF FILTER…` inside a namespace.
#[derive(Debug)]
pub struct Tcpdump {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<String>>,
}

impl Tcpdump {
    /// Starts the capture and waits (up to 10 s) until tcpdump listens.
    pub fn start(ns: &Netns, iface: &str, filter: &[&str]) -> Result<Self> {
        let mut child = ns
            .command("tcpdump")
            .args(["-n", "-e", "-l", "-i", iface])
            .args(filter)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("cannot start tcpdump (package tcpdump)")?;
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let out = child.stdout.take().context("stdout")?;
        let err = child.stderr.take().context("stderr")?;
        let l = Arc::clone(&lines);
        thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(|l| l.ok()) {
                l.lock().unwrap_or_else(|e| e.into_inner()).push(line);
            }
        });
        let s = Arc::clone(&stderr);
        thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(|l| l.ok()) {
                let mut t = s.lock().unwrap_or_else(|e| e.into_inner());
                t.push_str(&line);
                t.push('\n');
            }
        });
        let mut dump = Tcpdump {
            child,
            lines,
            stderr,
        };
        let listening = cmd::poll(Duration::from_secs(10), Duration::from_millis(10), || {
            dump.stderr_text().contains("listening on").then_some(())
        });
        if listening.is_none() {
            let text = dump.stderr_text();
            dump.stop();
            bail!("tcpdump did not start listening: {text}");
        }
        Ok(dump)
    }

    fn stderr_text(&self) -> String {
        self.stderr
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The lines printed so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Waits up to `timeout` until at least `count` lines satisfy `pred`.
    pub fn wait_lines(&self, count: usize, timeout: Duration, pred: impl Fn(&str) -> bool) -> bool {
        cmd::poll(timeout, Duration::from_millis(10), || {
            (self.lines().iter().filter(|l| pred(l)).count() >= count).then_some(())
        })
        .is_some()
    }

    /// Stops the capture (SIGINT flushes tcpdump's output) and returns all lines.
    pub fn stop(&mut self) -> Vec<String> {
        if let Ok(None) = self.child.try_wait() {
            let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT);
            if cmd::wait_deadline(&mut self.child, Duration::from_secs(3)).is_none() {
                let _ = self.child.kill();
                let _ = self.child.wait();
            }
        }
        // Let the reader threads drain the pipe.
        thread::sleep(Duration::from_millis(50));
        self.lines()
    }
}

impl Drop for Tcpdump {
    fn drop(&mut self) {
        self.stop();
    }
}
