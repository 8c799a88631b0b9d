//! `ironbeat demo`: a real two-node cluster on this machine.
//!
//! Builds the [`crate::lab`]: two nodes in network namespaces joined by a LAN
//! switch, a veth crossover cable (raw Ethernet link) and a pty null-modem
//! cable (serial link), UDP unicast and broadcast on the LAN, a client that
//! probes the virtual IP every 20 ms and watches ARP, and an IPMI BMC per
//! node (ironbeat's own BMC responder) that really powers its node off and
//! on. It writes a classic `/etc/ha.d` per node (`ha.cf` with
//! `stonith_host`, `haresources` with an `IPaddr2` VIP, `authkeys`), starts
//! `ironbeat run` on both, shows the status, kills the active node's daemon
//! and prints the timeline as the survivor and the client saw it:
//! detection, fencing through the BMC, takeover, the VIP answering from the
//! other node; then the fenced node reboots, rejoins and takes its VIP back
//! (`auto_failback on`). Everything is removed at the end, also on Ctrl-C.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context, Result};

use crate::daemon::protocol::{self, EventRecord, Reply, Request};
use crate::lab::{self, Lab, LabSpec, PowerCause, ProbeOptions};
use crate::lab::{ironbeat_command, DaemonPid, HaConfig, Links, NodeCommand, Starter};

/// Options of `ironbeat demo`.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Path of the `ironbeat` binary to run in the namespaces.
    pub binary: PathBuf,
    /// keepalive, in milliseconds.
    pub keepalive_ms: u64,
    /// deadtime, in milliseconds.
    pub deadtime_ms: u64,
    /// The priority fencing delay, in milliseconds.
    pub fence_delay_ms: u64,
}

/// How long each phase may take before the demo gives up and says so.
const START_LIMIT: Duration = Duration::from_secs(30);

/// Runs the demo; returns when it is over and everything is cleaned up.
pub fn run(options: &DemoOptions) -> Result<()> {
    if !nix::unistd::Uid::effective().is_root() {
        bail!("the demo creates network namespaces and needs root: run it with sudo");
    }
    if options.keepalive_ms == 0 || options.deadtime_ms < 2 * options.keepalive_ms {
        bail!(
            "deadtime ({} ms) must be at least twice keepalive ({} ms): raise --deadtime-ms",
            options.deadtime_ms,
            options.keepalive_ms
        );
    }
    // Before any thread starts, so the lab's interrupt thread alone gets them.
    lab::block_interrupts();
    say("building the cluster: two nodes, a switch, a client and a BMC per node");
    let mut progress = |step: &str| println!("   {step}");
    let lab = Lab::build(
        LabSpec::new("demo", 2).crossover(true).null_modem(true),
        &mut progress,
    )?;
    lab::tear_down_on_interrupt(&lab)?;
    let result = walk_through(&lab, options);
    if result.is_err() {
        // The logs go with the lab: show their ends before removing it.
        for node in lab.nodes() {
            let log = node.logs().join("ironbeat.log");
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            println!("\n-- the last lines of {}", log.display());
            for line in &lines[lines.len().saturating_sub(25)..] {
                println!("   {line}");
            }
        }
    }
    drop(lab);
    println!("\ncleaned up: namespaces, cables, BMCs and files removed");
    result
}

fn say(text: &str) {
    println!("\n== {text}");
}

fn ms(d: Duration) -> String {
    format!("{} ms", d.as_millis())
}

fn unix_ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn walk_through(lab: &Lab, o: &DemoOptions) -> Result<()> {
    let keepalive = Duration::from_millis(o.keepalive_ms);
    let deadtime = Duration::from_millis(o.deadtime_ms);
    let mut config = HaConfig::new(keepalive, deadtime);
    config.links = Links::ALL;
    config.fencing = true;
    config.auto_failback = true;
    config.write(lab)?;
    for node in lab.nodes() {
        let cf = node.ha_d().join("ha.cf");
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&cf)
            .with_context(|| format!("opening {}", cf.display()))?;
        writeln!(file, "priority_fencing_delay {}ms", o.fence_delay_ms)?;
    }
    let node1 = lab.node(1)?;
    let node2 = lab.node(2)?;
    say(&format!(
        "the configuration: a classic /etc/ha.d per node ({})",
        node1.ha_d().display()
    ));
    let ha_cf = std::fs::read_to_string(node1.ha_d().join("ha.cf"))?;
    for line in ha_cf.lines() {
        // The BMC password lives in a 0600 file; the line only names it.
        println!("   ha.cf       | {line}");
    }
    let haresources = std::fs::read_to_string(node1.ha_d().join("haresources"))?;
    for line in haresources.lines() {
        println!("   haresources | {line}");
    }

    say("starting `ironbeat run` on both nodes; the client probes the VIP every 20 ms");
    let prober = lab.prober(ProbeOptions::default())?;
    let started = Instant::now();
    for node in lab.nodes() {
        node.set_starter(booting_starter(o.binary.clone()));
        node.start_daemon()?;
    }
    let vip = lab.vip();
    let Some(first) = prober.wait_for_answer("node1", started, START_LIMIT) else {
        bail!(
            "the VIP {vip} did not answer from node1 within {}: see the daemons' logs in {} and {}",
            ms(START_LIMIT),
            node1.logs().display(),
            node2.logs().display()
        );
    };
    println!(
        "   {vip} answers from node1 {} after the daemons started",
        ms(first.saturating_duration_since(started))
    );
    let events = EventStreams::start(lab)?;
    thread::sleep(Duration::from_millis(300));
    show_status(&o.binary, &node2.socket())?;

    say("killing the active node: kill -9 of node1's ironbeat (its VIP stays configured)");
    println!(
        "   node2 must not start the VIP while node1 may still hold it: it fences node1 \
         through node1's BMC first.\n   node2 runs no service, so it waits the priority \
         fencing delay ({} ms here, 10 s by default) before it shoots: in a split brain the \
         node that runs the services fences first and keeps them.",
        o.fence_delay_ms
    );
    let wall = SystemTime::now();
    let killed = lab.kill_daemon(1)?;
    let limit = deadtime + Duration::from_millis(o.fence_delay_ms) + START_LIMIT;
    let Some(taken) = prober.wait_for_answer("node2", killed, limit) else {
        bail!(
            "the VIP did not answer from node2 within {} of the kill: see {}",
            ms(limit),
            node2.logs().display()
        );
    };
    println!(
        "   {vip} answers from node2 {} after the kill; node1 reboots (the fence was a \
         power cycle; it boots in {} s), rejoins and takes its VIP back (auto_failback on)",
        ms(taken.saturating_duration_since(killed)),
        BOOT_TIME.as_secs()
    );
    let Some(returned) = wait_for_power_on(node1, killed, START_LIMIT) else {
        bail!("node1 did not power on again after the fence");
    };
    let Some(failback) = prober.wait_for_steady("node1", 5, START_LIMIT + BOOT_TIME) else {
        bail!(
            "node1 did not take the VIP back within {}: see {}",
            ms(START_LIMIT),
            node1.logs().display()
        );
    };
    thread::sleep(Duration::from_millis(300));

    say("the timeline, as node2 and the client saw it (ms after the kill)");
    let mut timeline = Timeline::new(killed, wall);
    timeline.mark(killed, "kill -9 of node1's ironbeat");
    timeline.events(&events.drain(), &["node2"]);
    timeline.power(node1.power_events(), killed, "node1");
    let trace = prober.snapshot();
    if let Some(last) = trace
        .ticks()
        .iter()
        .rev()
        .find(|t| t.at < taken && t.answered_by() == Some("node1"))
    {
        timeline.mark(last.at, "client: last answer from node1");
    }
    timeline.mark(taken, &format!("client: {vip} answers from node2"));
    if let Some(first) = trace.first_answer("node1", returned) {
        timeline.mark(first, &format!("client: {vip} answers from node1 again"));
    }
    timeline.print();
    println!(
        "   failover as the client saw it: {} (detection {}, priority fencing delay {} ms, \
         fencing, takeover); failback: {} after node1 powered on",
        ms(taken.saturating_duration_since(killed)),
        ms(deadtime),
        o.fence_delay_ms,
        ms(failback.saturating_duration_since(returned))
    );

    say("what the client saw");
    let trace = prober.stop();
    let violations = trace.violations();
    let gap = trace.longest_gap(failback, Instant::now());
    if violations.is_empty() {
        println!(
            "   {} probes, never two nodes answering for {vip} (UDP replies and ARP)",
            trace.ticks().len()
        );
    } else {
        println!(
            "   {} probes; {} with two nodes answering for {vip}: a bug, please report it",
            trace.ticks().len(),
            violations.len()
        );
    }
    println!("   longest silence after failback: {}", ms(gap));
    show_status(&o.binary, &node1.socket())?;
    say("stopping both daemons");
    for node in lab.nodes() {
        if let Some(pid) = node.daemon_pid() {
            let pid = nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap_or(i32::MAX));
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        }
    }
    Ok(())
}

/// How long a virtual node "boots" after its BMC powers it on before its
/// daemon starts (a real server takes minutes; the demo keeps it short).
const BOOT_TIME: Duration = Duration::from_secs(2);

/// Starts `ironbeat run` at once the first time, and [`BOOT_TIME`] after
/// each later power-on, as a machine boots: the daemon's PID is the shell's,
/// which execs it.
fn booting_starter(binary: PathBuf) -> Starter {
    let mut boots = 0u32;
    Box::new(move |n: &lab::Node| {
        let command = ironbeat_command(&binary, n, &[]);
        boots += 1;
        if boots == 1 {
            return Ok(DaemonPid::Known(n.spawn(&command)?));
        }
        let script = format!("sleep {} && exec \"$0\" \"$@\"", BOOT_TIME.as_secs());
        let mut args = vec![
            "-c".to_string(),
            script,
            binary.to_string_lossy().into_owned(),
        ];
        args.extend(command.args.iter().cloned());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut booting = NodeCommand::new("/bin/sh", &args);
        booting.log = command.log.clone();
        Ok(DaemonPid::Known(n.spawn(&booting)?))
    })
}

/// Waits for the first power-on of `node` after `after`.
fn wait_for_power_on(node: &lab::Node, after: Instant, limit: Duration) -> Option<Instant> {
    let end = Instant::now() + limit;
    loop {
        if let Some(e) = node
            .power_events()
            .iter()
            .find(|e| e.on && e.at > after && e.cause == PowerCause::Bmc)
        {
            return Some(e.at);
        }
        if Instant::now() >= end {
            return None;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Prints `ironbeat status` of the node behind `socket`, as an operator
/// would see it.
fn show_status(binary: &Path, socket: &Path) -> Result<()> {
    let output = Command::new(binary)
        .args(["status", "--socket"])
        .arg(socket)
        .output()
        .with_context(|| format!("running {} status", binary.display()))?;
    println!("\n   $ ironbeat status");
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        println!("   {line}");
    }
    for line in String::from_utf8_lossy(&output.stderr).lines() {
        println!("   {line}");
    }
    Ok(())
}

/// `ironbeat events` of every node, collected by one thread per node.
struct EventStreams {
    tx: mpsc::Sender<(String, EventRecord)>,
    rx: mpsc::Receiver<(String, EventRecord)>,
}

impl EventStreams {
    fn start(lab: &Lab) -> Result<EventStreams> {
        let (tx, rx) = mpsc::channel();
        let streams = EventStreams { tx, rx };
        for node in lab.nodes() {
            streams.follow(node.name(), &node.socket())?;
        }
        Ok(streams)
    }

    fn follow(&self, node: &str, socket: &Path) -> Result<()> {
        let mut stream = UnixStream::connect(socket)
            .with_context(|| format!("connecting to {}", socket.display()))?;
        stream.write_all(&protocol::encode(&Request::Events))?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        let mut reader = BufReader::new(stream);
        let mut line = Vec::new();
        reader.read_until(b'\n', &mut line)?;
        match protocol::decode::<Reply>(&line) {
            Ok(Reply::Streaming) => {}
            other => bail!("{node} refused the event stream: {other:?}"),
        }
        reader.get_ref().set_read_timeout(None)?;
        let tx = self.tx.clone();
        let node = node.to_owned();
        thread::Builder::new()
            .name(format!("demo-events-{node}"))
            .spawn(move || {
                let mut line = Vec::new();
                loop {
                    line.clear();
                    let mut limited = (&mut reader).take(protocol::MAX_LINE as u64);
                    match limited.read_until(b'\n', &mut line) {
                        Ok(0) | Err(_) => return,
                        Ok(_) => {}
                    }
                    if let Ok(record) = protocol::decode::<EventRecord>(&line) {
                        if tx.send((node.clone(), record)).is_err() {
                            return;
                        }
                    }
                }
            })?;
        Ok(())
    }

    fn drain(&self) -> Vec<(String, EventRecord)> {
        self.rx.try_iter().collect()
    }
}

/// Lines of a timeline, relative to its start.
struct Timeline {
    start: Instant,
    start_ms: u64,
    lines: Vec<(i64, String)>,
}

impl Timeline {
    fn new(start: Instant, wall: SystemTime) -> Timeline {
        Timeline {
            start,
            start_ms: unix_ms(wall),
            lines: Vec::new(),
        }
    }

    fn offset(&self, at: Instant) -> i64 {
        match at.checked_duration_since(self.start) {
            Some(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
            None => -i64::try_from(self.start.duration_since(at).as_millis()).unwrap_or(i64::MAX),
        }
    }

    fn mark(&mut self, at: Instant, text: &str) {
        let offset = self.offset(at);
        self.lines.push((offset, text.to_owned()));
    }

    /// The daemons' own events (their clocks are this machine's clock).
    fn events(&mut self, records: &[(String, EventRecord)], nodes: &[&str]) {
        for (node, record) in records {
            if !nodes.contains(&node.as_str()) || !interesting(&record.kind) {
                continue;
            }
            let offset = i64::try_from(record.at_ms).unwrap_or(i64::MAX)
                - i64::try_from(self.start_ms).unwrap_or(i64::MAX);
            if offset < 0 {
                continue;
            }
            self.lines
                .push((offset, format!("{node}: {}", record.text)));
        }
    }

    fn power(&mut self, events: Vec<lab::PowerEvent>, after: Instant, node: &str) {
        for e in events.iter().filter(|e| e.at >= after) {
            let how = match e.cause {
                PowerCause::Bmc => "its BMC",
                PowerCause::Lab => "the lab",
            };
            let state = if e.on { "on" } else { "off" };
            self.mark(e.at, &format!("{node} is powered {state} by {how}"));
        }
    }

    fn print(&mut self) {
        self.lines.sort_by_key(|(offset, _)| *offset);
        for (offset, text) in &self.lines {
            println!("   {offset:>+7} ms  {text}");
        }
    }
}

/// The event kinds a timeline shows (op results and the like would drown it).
fn interesting(kind: &str) -> bool {
    !matches!(kind, "transition" | "membership" | "path_up" | "op_sent")
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
