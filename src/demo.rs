//! `ironbeat demo`: a real two-node link layer on this machine.
//!
//! Builds two network namespaces joined by two veth "crossover cables" (one
//! with IP addresses for UDP unicast and broadcast, one bare for raw Ethernet)
//! and a "null-modem cable" (two pty pairs bridged by this process, as socat
//! would), writes a classic `/etc/ha.d` per node, runs `ironbeat link watch` in
//! each namespace, and walks through what an operator tests before trusting a
//! cluster: all paths up, a cable pulled and plugged back, a node killed
//! (detection time measured) and restarted (new generation). Everything it
//! created is removed at the end, also on Ctrl-C.

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use serde_json::Value;

/// Options of `ironbeat demo`.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Path of the `ironbeat` binary to run in the namespaces.
    pub binary: PathBuf,
    /// keepalive, in milliseconds.
    pub keepalive_ms: u64,
    /// deadtime, in milliseconds.
    pub deadtime_ms: u64,
}

/// Runs the demo; returns when it is over and everything is cleaned up.
pub fn run(options: &DemoOptions) -> Result<()> {
    if !nix::unistd::Uid::effective().is_root() {
        bail!("the demo creates network namespaces and needs root: run it with sudo");
    }
    // Before any thread starts, so the interrupt thread alone receives them.
    set_interrupts_blocked(true);
    let tag = std::process::id();
    let lab = Lab::new(tag)?;
    let lab = Arc::new(Mutex::new(lab));
    let interrupted = Arc::new(AtomicBool::new(false));
    {
        let lab = Arc::clone(&lab);
        let interrupted = Arc::clone(&interrupted);
        thread::spawn(move || wait_for_interrupt(lab, interrupted));
    }
    let result = walk_through(&lab, options, &interrupted);
    if let Ok(mut lab) = lab.lock() {
        lab.clean_up();
    }
    println!("\ncleaned up: namespaces, cables and files removed");
    result
}

fn say(text: &str) {
    println!("\n== {text}");
}

fn walk_through(lab: &Arc<Mutex<Lab>>, o: &DemoOptions, interrupted: &AtomicBool) -> Result<()> {
    let keepalive = o.keepalive_ms;
    let deadtime = o.deadtime_ms;
    let (events_tx, events) = mpsc::channel::<(String, Value)>();
    let n1 = ns("n1", lock(lab)?.tag);
    say(&format!(
        "building two nodes: namespaces, a veth crossover cable with 198.18.0.1/2 \
         (ucast + bcast), a bare veth for raw Ethernet, a pty null-modem cable at \
         115200 baud; keepalive {keepalive}ms, deadtime {deadtime}ms"
    ));
    {
        let mut l = lock(lab)?;
        l.build()?;
        for node in ["node1", "node2"] {
            l.write_ha_d(node, keepalive, deadtime)?;
        }
        for node in ["node1", "node2"] {
            l.start_watch(&o.binary, node, events_tx.clone())?;
        }
    }
    let mut watch = Watch {
        events,
        interrupted,
    };
    let paths = 4;
    say("waiting for every path to come up on both nodes");
    let mut up = std::collections::BTreeSet::new();
    watch.until(Duration::from_secs(10), |who, e| {
        if e["event"] == "path_up" {
            up.insert((who.to_owned(), e["path"].as_str().unwrap_or("").to_owned()));
        }
        up.len() >= 2 * paths
    })?;

    say("pulling the IP cable (veth eth0 down in node1): its paths go down, the node stays alive over the others");
    lock(lab)?.ip(&["-n", &n1, "link", "set", "eth0", "down"])?;
    let mut down = 0;
    watch.until(Duration::from_millis(deadtime * 4 + 2000), |_, e| {
        if e["event"] == "node_dead" {
            return true;
        }
        if e["event"] == "path_down" {
            down += 1;
        }
        down >= 4
    })?;
    thread::sleep(Duration::from_millis(deadtime));
    say("plugging it back in");
    lock(lab)?.ip(&["-n", &n1, "link", "set", "eth0", "up"])?;
    let mut back = 0;
    watch.until(Duration::from_secs(5), |_, e| {
        if e["event"] == "path_up" {
            back += 1;
        }
        back >= 4
    })?;

    say("killing node2 with SIGKILL: node1 must declare it dead within deadtime + one keepalive");
    let killed_at = lock(lab)?.kill("node2")?;
    let mut detected = None;
    watch.until(Duration::from_millis(deadtime * 4 + 2000), |who, e| {
        if who == "node1" && e["event"] == "node_dead" {
            detected = e["ts_us"].as_u64();
            return true;
        }
        false
    })?;
    if let Some(ts) = detected {
        let ms = (ts as f64 - killed_at as f64) / 1000.0;
        println!(
            "   detection: {ms:.1} ms after the kill (bound: deadtime + keepalive = {} ms)",
            deadtime + keepalive
        );
    }

    say("restarting node2: node1 sees it back with a new generation");
    lock(lab)?.start_watch(&o.binary, "node2", events_tx.clone())?;
    watch.until(Duration::from_secs(5), |who, e| {
        who == "node1" && e["event"] == "node_back"
    })?;
    thread::sleep(Duration::from_millis(300));
    watch.drain();
    say("done");
    Ok(())
}

struct Watch<'a> {
    events: mpsc::Receiver<(String, Value)>,
    interrupted: &'a AtomicBool,
}

impl Watch<'_> {
    /// Prints events until `done` says so, or fails after `limit`.
    fn until(&mut self, limit: Duration, mut done: impl FnMut(&str, &Value) -> bool) -> Result<()> {
        let deadline = Instant::now() + limit;
        loop {
            if self.interrupted.load(Ordering::SeqCst) {
                bail!("interrupted");
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                bail!("the expected event did not come within {limit:?}");
            }
            match self
                .events
                .recv_timeout(left.min(Duration::from_millis(200)))
            {
                Ok((who, event)) => {
                    print_event(&who, &event);
                    if done(&who, &event) {
                        return Ok(());
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => bail!("both watchers stopped"),
            }
        }
    }

    fn drain(&mut self) {
        while let Ok((who, event)) = self.events.try_recv() {
            print_event(&who, &event);
        }
    }
}

fn print_event(who: &str, e: &Value) {
    let kind = e["event"].as_str().unwrap_or("?");
    let detail = match kind {
        "started" => format!("generation {}", e["generation"]),
        "path_up" | "path_down" => {
            format!(
                "{} via {}",
                e["node"].as_str().unwrap_or(""),
                e["path"].as_str().unwrap_or("")
            )
        }
        "node_late" => format!(
            "{} silent {} ms",
            e["node"].as_str().unwrap_or(""),
            e["silent_ms"]
        ),
        "node_alive" | "node_back" => format!(
            "{} generation {}",
            e["node"].as_str().unwrap_or(""),
            e["generation"]
        ),
        "rejected" => e["detail"].as_str().unwrap_or("").to_owned(),
        "path_fault" => format!(
            "{}: {}",
            e["path"].as_str().unwrap_or(""),
            e["detail"].as_str().unwrap_or("")
        ),
        "path_restored" => e["path"].as_str().unwrap_or("").to_owned(),
        _ => e["node"].as_str().unwrap_or("").to_owned(),
    };
    let ts = e["ts_us"].as_u64().unwrap_or(0);
    let clock = crate::cli::output::rfc3339_millis(Duration::from_micros(ts));
    println!("   {} [{who}] {kind:<10} {detail}", &clock[11..23]);
}

fn lock(lab: &Arc<Mutex<Lab>>) -> Result<std::sync::MutexGuard<'_, Lab>> {
    lab.lock()
        .map_err(|_| anyhow::anyhow!("demo state poisoned by a panic"))
}

fn ns(node: &str, tag: u32) -> String {
    format!("ibdemo{tag}-{node}")
}

fn now_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

fn wait_for_interrupt(lab: Arc<Mutex<Lab>>, interrupted: Arc<AtomicBool>) {
    use nix::sys::signal::{SigSet, Signal};
    let mut set = SigSet::empty();
    set.add(Signal::SIGINT);
    set.add(Signal::SIGTERM);
    if set.wait().is_ok() {
        interrupted.store(true, Ordering::SeqCst);
        if let Ok(mut lab) = lab.lock() {
            lab.clean_up();
        }
        eprintln!("\ninterrupted: cleaned up");
        std::process::exit(130);
    }
}

/// Blocks (or unblocks) SIGINT and SIGTERM in the calling thread; threads it
/// starts, and programs they run, inherit the mask.
pub fn set_interrupts_blocked(blocked: bool) {
    use nix::sys::signal::{SigSet, SigmaskHow, Signal};
    let mut set = SigSet::empty();
    set.add(Signal::SIGINT);
    set.add(Signal::SIGTERM);
    let how = if blocked {
        SigmaskHow::SIG_BLOCK
    } else {
        SigmaskHow::SIG_UNBLOCK
    };
    let _ = nix::sys::signal::pthread_sigmask(how, Some(&set), None);
}

/// Everything the demo created, so it can all be removed.
struct Lab {
    tag: u32,
    dir: PathBuf,
    namespaces: Vec<String>,
    children: Vec<(String, Child)>,
    null_modem: Option<NullModem>,
}

impl Lab {
    fn new(tag: u32) -> Result<Self> {
        let dir = std::env::temp_dir().join(format!("ibdemo-{tag}"));
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(Lab {
            tag,
            dir,
            namespaces: Vec::new(),
            children: Vec::new(),
            null_modem: None,
        })
    }

    fn ip(&self, args: &[&str]) -> Result<()> {
        let out = Command::new("ip")
            .args(args)
            .output()
            .context("running `ip` (install iproute2)")?;
        if !out.status.success() {
            bail!(
                "ip {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(())
    }

    fn build(&mut self) -> Result<()> {
        let (n1, n2) = (ns("n1", self.tag), ns("n2", self.tag));
        for n in [&n1, &n2] {
            self.ip(&["netns", "add", n])?;
            self.namespaces.push(n.clone());
            self.ip(&["-n", n, "link", "set", "lo", "up"])?;
        }
        for iface in ["eth0", "eth1"] {
            self.ip(&[
                "-n", &n1, "link", "add", iface, "type", "veth", "peer", "name", iface, "netns",
                &n2,
            ])?;
        }
        for (n, addr) in [(&n1, "198.18.0.1/24"), (&n2, "198.18.0.2/24")] {
            self.ip(&["-n", n, "addr", "add", addr, "brd", "+", "dev", "eth0"])?;
            for iface in ["eth0", "eth1"] {
                self.ip(&["-n", n, "link", "set", iface, "up"])?;
            }
        }
        self.null_modem = Some(NullModem::open(&self.dir)?);
        Ok(())
    }

    fn write_ha_d(&self, node: &str, keepalive: u64, deadtime: u64) -> Result<()> {
        let dir = self.dir.join(node).join("ha.d");
        fs::create_dir_all(&dir)?;
        let (peer_ip, tty) = match node {
            "node1" => ("198.18.0.2", "ttyS-node1"),
            _ => ("198.18.0.1", "ttyS-node2"),
        };
        let warntime = deadtime * 3 / 5;
        let ha_cf = format!(
            "# ha.cf written by `ironbeat demo`\n\
             cluster ironbeat-demo\n\
             keepalive {keepalive}ms\n\
             warntime {warntime}ms\n\
             deadtime {deadtime}ms\n\
             initdead 5\n\
             udpport 694\n\
             baud 115200\n\
             ucast eth0 {peer_ip}\n\
             bcast eth0\n\
             ether eth1\n\
             serial {}\n\
             auto_failback on\n\
             node node1\n\
             node node2\n",
            self.dir.join(tty).display()
        );
        fs::write(dir.join("ha.cf"), ha_cf)?;
        let keys = dir.join("authkeys");
        fs::write(
            &keys,
            format!("auth 1\n1 sha256 demo-secret-{}\n", self.tag),
        )?;
        fs::set_permissions(&keys, fs::Permissions::from_mode(0o600))?;
        Ok(())
    }

    fn start_watch(
        &mut self,
        binary: &Path,
        node: &str,
        events: mpsc::Sender<(String, Value)>,
    ) -> Result<()> {
        let n = if node == "node1" { "n1" } else { "n2" };
        let base = self.dir.join(node);
        let mut child = Command::new("ip")
            .args(["netns", "exec", &ns(n, self.tag)])
            .arg(binary)
            .args(["link", "watch", "--json", "--node", node, "--ha-d"])
            .arg(base.join("ha.d"))
            .arg("--state-dir")
            .arg(base.join("state"))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let stdout = child
            .stdout
            .take()
            .context("the watcher's stdout was not captured")?;
        let who = node.to_owned();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(value) = serde_json::from_str::<Value>(&line) {
                    if events.send((who.clone(), value)).is_err() {
                        break;
                    }
                }
            }
        });
        self.children.push((node.to_owned(), child));
        Ok(())
    }

    /// SIGKILLs a node's watcher; returns the instant (µs since the epoch).
    fn kill(&mut self, node: &str) -> Result<u64> {
        let index = self
            .children
            .iter()
            .position(|(n, _)| n == node)
            .context("no such node running")?;
        let (_, mut child) = self.children.remove(index);
        // `ip netns exec` execs the binary, so the child PID is the watcher itself.
        let at = now_us();
        child.kill().context("killing the watcher")?;
        let _ = child.wait();
        Ok(at)
    }

    fn clean_up(&mut self) {
        for (_, child) in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.children.clear();
        if let Some(modem) = self.null_modem.take() {
            modem.stop();
        }
        for n in std::mem::take(&mut self.namespaces) {
            let _ = Command::new("ip").args(["netns", "del", &n]).status();
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// Two pty pairs whose masters are bridged byte for byte: a null-modem cable
/// between the two slave ttys (what `socat pty pty` does).
struct NullModem {
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl NullModem {
    fn open(dir: &Path) -> Result<Self> {
        let a = nix::pty::openpty(None, None).context("openpty")?;
        let b = nix::pty::openpty(None, None).context("openpty")?;
        for (pty, name) in [(&a, "ttyS-node1"), (&b, "ttyS-node2")] {
            // Raw from the start: a cooked slave would echo bridged bytes back.
            let mut termios = nix::sys::termios::tcgetattr(pty.slave.as_fd())?;
            nix::sys::termios::cfmakeraw(&mut termios);
            nix::sys::termios::tcsetattr(
                pty.slave.as_fd(),
                nix::sys::termios::SetArg::TCSANOW,
                &termios,
            )?;
            let slave = nix::unistd::ttyname(pty.slave.as_fd()).context("ttyname")?;
            let link = dir.join(name);
            let _ = fs::remove_file(&link);
            std::os::unix::fs::symlink(&slave, &link)?;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            // Keep the slaves open here too, so a watcher restart never hangs
            // up the line.
            let _slaves = (a.slave, b.slave);
            bridge(a.master, b.master, &flag);
        });
        Ok(NullModem {
            stop,
            thread: Some(thread),
        })
    }

    fn stop(mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn bridge(a: OwnedFd, b: OwnedFd, stop: &AtomicBool) {
    let mut fa = fs::File::from(a);
    let mut fb = fs::File::from(b);
    let mut buf = [0u8; 4096];
    while !stop.load(Ordering::SeqCst) {
        let (ra, rb) = {
            let mut fds = [
                PollFd::new(fa.as_fd(), PollFlags::POLLIN),
                PollFd::new(fb.as_fd(), PollFlags::POLLIN),
            ];
            if poll(&mut fds, PollTimeout::from(100u16)).is_err() {
                continue;
            }
            let ready = |fd: &PollFd| fd.revents().is_some_and(|r| r.contains(PollFlags::POLLIN));
            (ready(&fds[0]), ready(&fds[1]))
        };
        if ra {
            if let Ok(n) = fa.read(&mut buf) {
                let _ = fb.write_all(&buf[..n]);
            }
        }
        if rb {
            if let Ok(n) = fb.read(&mut buf) {
                let _ = fa.write_all(&buf[..n]);
            }
        }
    }
}
