//! A running ironbeat cluster on the virtual lab (`ironbeat::lab`), for the
//! cluster test suite (`tests/cts.rs`): the lab (nodes, switch, client,
//! BMCs), every node's configuration (`/etc/ha.d` through
//! [`HaConfig`], or a native TOML file when a scenario needs a monitor and a
//! migration threshold), `ironbeat run` on every node, the client's prober
//! (the VIP probed every 20 ms, ARP watched), and a status watcher that runs
//! `ironbeat status --json` against every node all along and records any
//! resource reported running on two nodes.
//!
//! Everything is torn down on drop, also when a test panics; a panicking
//! test first copies every node's logs to `target/tmp/cts-<tag>/` and says
//! so.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use ironbeat::daemon::protocol::StatusReport;
use ironbeat::lab::{
    ironbeat_starter, pids_in_netns, DaemonPid, HaConfig, Lab, LabSpec, Links, Node, NodeCommand,
    PowerCause, ProbeOptions, Prober, Trace,
};

use super::{run, Outcome, IRONBEAT, OK};

/// The CTS timing: fast, but with room for a loaded two-core machine.
pub const KEEPALIVE: Duration = Duration::from_millis(50);
/// See [`KEEPALIVE`].
pub const DEADTIME: Duration = Duration::from_millis(300);
/// The two-node split tie-breaker given to every daemon (docs/daemon.md).
pub const PRIORITY_FENCING_DELAY: Duration = Duration::from_secs(2);

/// Whether the test can run (root); otherwise prints the skip line.
pub fn root(test: &str) -> bool {
    if nix::unistd::Uid::effective().is_root() {
        return true;
    }
    eprintln!("SKIPPED: {test}: needs root");
    false
}

/// The resource configuration of a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resources {
    /// `haresources`: `node<preferred> IPaddr2::VIP/24/eth0` (no monitor:
    /// heartbeat v1 had none).
    HaResources,
    /// A native `ironbeat.toml` with the VIP as `ocf:heartbeat:IPaddr2`,
    /// a monitor every `monitor`, and `migration_threshold`.
    Native {
        /// The monitor's interval.
        monitor: Duration,
        /// Failures on a node before the VIP leaves it.
        migration_threshold: u32,
    },
}

/// What to build.
#[derive(Debug, Clone)]
pub struct Options {
    /// Node count (2 or 3 here).
    pub nodes: usize,
    /// IPMI fencing through the lab's BMCs (`stonith_host` lines).
    pub fencing: bool,
    /// `auto_failback`.
    pub auto_failback: bool,
    /// The node the VIP prefers (1-based).
    pub preferred: usize,
    /// haresources or native.
    pub resources: Resources,
    /// Every node pings the client's LAN address (its "gateway"; haresources only).
    pub ping_gateway: bool,
    /// Fencing by hand (`stonith_host * meatware …`; haresources only).
    pub manual_fencing: bool,
}

impl Options {
    /// `nodes` nodes, no fencing, auto_failback on, the VIP on node1.
    pub fn new(nodes: usize) -> Options {
        Options {
            nodes,
            fencing: false,
            auto_failback: true,
            preferred: 1,
            resources: Resources::HaResources,
            ping_gateway: false,
            manual_fencing: false,
        }
    }
}

/// What one `ironbeat status --json` said, kept by the status watcher.
#[derive(Debug, Clone)]
pub struct Seen {
    /// When the answer came.
    pub at: Instant,
    /// The node asked (1-based).
    pub node: usize,
    /// Its report.
    pub report: StatusReport,
}

/// A resource reported running on two nodes.
#[derive(Debug, Clone)]
pub struct DoubleActive {
    /// When.
    pub at: Instant,
    /// Who reported it (1-based).
    pub node: usize,
    /// The resource.
    pub resource: String,
    /// Where it was said to run.
    pub running_on: Vec<String>,
}

#[derive(Default)]
struct Watched {
    seen: Vec<Seen>,
    doubles: Vec<DoubleActive>,
}

/// Polls `ironbeat status --json` on every node until stopped.
struct StatusWatcher {
    stop: Arc<AtomicBool>,
    shared: Arc<Mutex<Watched>>,
    thread: Option<thread::JoinHandle<()>>,
}

/// How many status samples the watcher keeps (the older half is dropped
/// when full; double activity is kept for the whole test).
const SEEN_KEPT: usize = 20_000;

impl StatusWatcher {
    fn start(sockets: Vec<PathBuf>) -> StatusWatcher {
        let stop = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(Mutex::new(Watched::default()));
        let (flag, out) = (Arc::clone(&stop), Arc::clone(&shared));
        let thread = thread::Builder::new()
            .name("cts-status".into())
            .spawn(move || {
                // Bounded by the stop flag and, as a backstop, 20 minutes.
                let end = Instant::now() + Duration::from_secs(1200);
                while !flag.load(Ordering::SeqCst) && Instant::now() < end {
                    for (i, socket) in sockets.iter().enumerate() {
                        let Some(report) = status_at(socket) else {
                            continue;
                        };
                        let at = Instant::now();
                        let mut w = out.lock().unwrap_or_else(|e| e.into_inner());
                        for r in &report.cluster.resources {
                            if r.running_on.len() > 1 {
                                w.doubles.push(DoubleActive {
                                    at,
                                    node: i + 1,
                                    resource: r.name.clone(),
                                    running_on: r.running_on.clone(),
                                });
                            }
                        }
                        if w.seen.len() >= SEEN_KEPT {
                            w.seen.drain(..SEEN_KEPT / 2);
                        }
                        w.seen.push(Seen {
                            at,
                            node: i + 1,
                            report,
                        });
                    }
                    thread::sleep(Duration::from_millis(50));
                }
            })
            .expect("starting the status watcher");
        StatusWatcher {
            stop,
            shared,
            thread: Some(thread),
        }
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for StatusWatcher {
    fn drop(&mut self) {
        self.halt();
    }
}

/// `ironbeat status --json --socket SOCKET`, parsed; `None` when no daemon
/// answers there.
pub fn status_at(socket: &Path) -> Option<StatusReport> {
    let out = std::process::Command::new(IRONBEAT)
        .args(["status", "--json", "--socket"])
        .arg(socket)
        .env("LC_ALL", "C")
        .stdin(std::process::Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    serde_json::from_slice(&out.stdout).ok()
}

/// A lab with `ironbeat run` on its nodes, the prober and the status watcher.
pub struct Cluster {
    /// The scenario's name (for messages and the kept logs).
    pub name: String,
    watcher: Option<StatusWatcher>,
    prober: Option<Prober>,
    /// The lab (torn down after the rest, on drop).
    pub lab: Lab,
    /// The VIP's resource id.
    pub resource: String,
    started: Instant,
    /// Held from build to teardown: one cluster at a time per test binary.
    _serial: MutexGuard<'static, ()>,
}

/// Scenarios measure failover in hundreds of milliseconds: two clusters at
/// once on a two-core machine would disturb each other, so they run one at
/// a time even under `cargo test`'s parallel test threads.
static SERIAL: Mutex<()> = Mutex::new(());

impl Cluster {
    /// Builds the lab (crossover cables, BMCs), writes every node's
    /// configuration (links: ucast on the LAN and raw Ethernet on every
    /// crossover cable), sets the daemons' starters, starts the prober and
    /// the status watcher. No daemon runs yet.
    pub fn build(name: &str, tag: &str, options: &Options) -> Cluster {
        // A test that panicked poisoned it; its lab is gone all the same.
        let serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
        let started = Instant::now();
        let lab = Lab::build(
            LabSpec::new(tag, options.nodes).crossover(true),
            &mut |_| {},
        )
        .unwrap_or_else(|e| panic!("{name}: building the lab: {e:#}"));
        let vip = lab.vip();
        let resource = match options.resources {
            Resources::HaResources => {
                let mut config = HaConfig::new(KEEPALIVE, DEADTIME);
                config.links = Links {
                    ucast: true,
                    bcast: false,
                    ether: true,
                    serial: false,
                };
                config.auto_failback = options.auto_failback;
                config.fencing = options.fencing;
                config.manual_fencing = options.manual_fencing;
                config.haresources = Some(format!(
                    "node{} IPaddr2::{vip}/24/eth0\n",
                    options.preferred
                ));
                config
                    .write(&lab)
                    .unwrap_or_else(|e| panic!("{name}: writing ha.d: {e:#}"));
                if options.ping_gateway {
                    for node in lab.nodes() {
                        let cf = node.ha_d().join("ha.cf");
                        let text = std::fs::read_to_string(&cf).expect("ha.cf");
                        let ping = format!("{text}ping {}\n", lab.client_ip());
                        std::fs::write(&cf, ping).expect("ha.cf");
                    }
                }
                let delay = format!("{}ms", PRIORITY_FENCING_DELAY.as_millis());
                for node in lab.nodes() {
                    node.set_starter(ironbeat_starter(
                        PathBuf::from(IRONBEAT),
                        vec!["--priority-fencing-delay".into(), delay.clone()],
                    ));
                }
                format!("IPaddr2_{vip}_24_eth0")
            }
            Resources::Native {
                monitor,
                migration_threshold,
            } => {
                assert!(
                    !options.fencing,
                    "the native scenarios of this suite run without fencing"
                );
                write_native(&lab, options, monitor, migration_threshold);
                for node in lab.nodes() {
                    node.set_starter(native_starter());
                }
                "vip".to_owned()
            }
        };
        let prober = lab
            .prober(ProbeOptions::default())
            .unwrap_or_else(|e| panic!("{name}: starting the prober: {e:#}"));
        let watcher = StatusWatcher::start(lab.nodes().iter().map(|n| n.socket()).collect());
        let cluster = Cluster {
            name: name.to_owned(),
            watcher: Some(watcher),
            prober: Some(prober),
            lab,
            resource,
            started,
            _serial: serial,
        };
        cluster.step(&format!(
            "lab built: {} nodes, VIP {vip} preferring node{}, fencing {}, auto_failback {}",
            options.nodes,
            options.preferred,
            if options.fencing { "on" } else { "off" },
            if options.auto_failback { "on" } else { "off" },
        ));
        cluster
    }

    /// Builds and starts every daemon, then waits (at most 30 s) until the
    /// VIP answers steadily from the preferred node and every node reports
    /// the full membership, one DC and quorum.
    pub fn start(name: &str, tag: &str, options: &Options) -> Cluster {
        let cluster = Cluster::build(name, tag, options);
        cluster.start_all();
        cluster.wait_steady(options.preferred, Duration::from_secs(30));
        cluster.wait_converged(Duration::from_secs(15));
        cluster
    }

    /// Prints a line for the test's output (shown when it fails).
    pub fn step(&self, what: &str) {
        eprintln!(
            "[{} +{:.3}s] {what}",
            self.name,
            self.started.elapsed().as_secs_f64()
        );
    }

    /// Node `n` (1-based).
    pub fn node(&self, n: usize) -> &Arc<Node> {
        self.lab.node(n).expect("a node of this lab")
    }

    /// Node count.
    pub fn len(&self) -> usize {
        self.lab.nodes().len()
    }

    /// Starts every node's daemon, one right after the other (within
    /// milliseconds: a simultaneous start).
    pub fn start_all(&self) {
        for n in 1..=self.len() {
            self.start_node(n);
        }
    }

    /// Starts node `n`'s daemon.
    pub fn start_node(&self, n: usize) {
        self.lab
            .start_daemon(n)
            .unwrap_or_else(|e| panic!("{}: starting node{n}: {e:#}", self.name));
        self.step(&format!("node{n}: ironbeat run started"));
    }

    /// Sends SIGTERM to node `n`'s daemon (its recorded PID); the instant.
    pub fn signal_stop(&self, n: usize) -> Instant {
        let pid = self
            .node(n)
            .daemon_pid()
            .unwrap_or_else(|| panic!("{}: node{n} runs no daemon to stop", self.name));
        let at = Instant::now();
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        self.step(&format!("node{n}: SIGTERM to ironbeat (pid {pid})"));
        at
    }

    /// Waits (at most `limit`) for node `n`'s daemon to exit; how long it took
    /// since `since`.
    pub fn wait_exit(&self, n: usize, since: Instant, limit: Duration) -> Duration {
        let end = Instant::now() + limit;
        while self.node(n).daemon_pid().is_some() {
            assert!(
                Instant::now() < end,
                "{}: node{n}'s daemon did not exit within {limit:?} of SIGTERM\n{}",
                self.name,
                self.logs()
            );
            thread::sleep(Duration::from_millis(10));
        }
        let took = since.elapsed();
        // A clean leave: after its last start the daemon logged leaving.
        let log =
            std::fs::read_to_string(self.node(n).logs().join("ironbeat.log")).unwrap_or_default();
        let started = log.rfind(" starting: generation ").unwrap_or(0);
        assert!(
            log[started..].contains("left the cluster"),
            "{}: node{n}'s daemon exited without leaving the cluster cleanly\n{}",
            self.name,
            self.logs()
        );
        self.step(&format!(
            "node{n}: ironbeat left the cluster and exited after {took:?}"
        ));
        took
    }

    /// SIGTERM to node `n` and waits (at most 30 s) for the exit.
    pub fn stop_node(&self, n: usize) -> Duration {
        let at = self.signal_stop(n);
        self.wait_exit(n, at, Duration::from_secs(30))
    }

    /// kill -9 of node `n`'s daemon; the instant before.
    pub fn kill_daemon(&self, n: usize) -> Instant {
        let at = self
            .lab
            .kill_daemon(n)
            .unwrap_or_else(|e| panic!("{}: kill -9 of node{n}: {e:#}", self.name));
        let end = Instant::now() + Duration::from_secs(5);
        while self.node(n).daemon_pid().is_some() {
            assert!(
                Instant::now() < end,
                "{}: node{n}'s daemon lives on 5 s after kill -9",
                self.name
            );
            thread::sleep(Duration::from_millis(5));
        }
        self.step(&format!("node{n}: kill -9 of ironbeat"));
        at
    }

    /// The prober.
    pub fn prober(&self) -> &Prober {
        self.prober.as_ref().expect("the prober runs until finish")
    }

    /// What the prober saw so far.
    pub fn trace(&self) -> Trace {
        self.prober().snapshot()
    }

    /// The nodes whose `eth0` holds the VIP now (1-based).
    pub fn holders(&self) -> Vec<usize> {
        let vip = self.lab.vip();
        self.lab
            .nodes()
            .iter()
            .filter(|n| n.holds(vip).unwrap_or(false))
            .map(|n| n.index())
            .collect()
    }

    /// Waits (at most `limit`) until node `n` alone holds the VIP and the
    /// client got 10 answers in a row from it; the first of them.
    pub fn wait_steady(&self, n: usize, limit: Duration) -> Instant {
        let end = Instant::now() + limit;
        let at = self.wait_answering(n, limit);
        loop {
            let holders = self.holders();
            if holders == [n] {
                break;
            }
            assert!(
                Instant::now() < end,
                "{}: the VIP is held by {holders:?}, not node{n} alone\n{}",
                self.name,
                self.logs()
            );
            thread::sleep(Duration::from_millis(20));
        }
        self.step(&format!("node{n} alone holds the VIP"));
        at
    }

    /// Waits (at most `limit`) until the client got 10 answers in a row
    /// from node `n` (another node may hold the VIP unseen); the first.
    pub fn wait_answering(&self, n: usize, limit: Duration) -> Instant {
        let name = format!("node{n}");
        let at = self
            .prober()
            .wait_for_steady(&name, 10, limit)
            .unwrap_or_else(|| {
                panic!(
                    "{}: the VIP did not answer steadily from {name} within {limit:?} \
                     (holders now {:?}, last answers {:?})\n{}",
                    self.name,
                    self.holders(),
                    self.last_answers(10),
                    self.logs()
                )
            });
        self.step(&format!("the VIP answers steadily from {name}"));
        at
    }

    /// Who answered the last `count` probes (for messages).
    pub fn last_answers(&self, count: usize) -> Vec<Option<String>> {
        let trace = self.trace();
        let ticks = trace.ticks();
        ticks[ticks.len().saturating_sub(count)..]
            .iter()
            .map(|t| t.answered_by().map(str::to_owned))
            .collect()
    }

    /// Node `n`'s status now, if its daemon answers.
    pub fn status(&self, n: usize) -> Option<StatusReport> {
        status_at(&self.node(n).socket())
    }

    /// Polls node `n`'s status (every 50 ms, at most `limit`) until `check`
    /// accepts it; panics with `what` and the logs otherwise.
    pub fn wait_status(
        &self,
        n: usize,
        what: &str,
        limit: Duration,
        check: impl Fn(&StatusReport) -> bool,
    ) -> StatusReport {
        let end = Instant::now() + limit;
        let mut last = None;
        loop {
            if let Some(report) = self.status(n) {
                if check(&report) {
                    return report;
                }
                last = Some(report);
            }
            assert!(
                Instant::now() < end,
                "{}: node{n}: {what} not seen within {limit:?}; last status:\n{last:#?}\n{}",
                self.name,
                self.logs()
            );
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// The nodes whose daemon runs (1-based).
    pub fn running(&self) -> Vec<usize> {
        self.lab
            .nodes()
            .iter()
            .filter(|n| n.daemon_pid().is_some())
            .map(|n| n.index())
            .collect()
    }

    /// Waits until every running node reports every running node as a
    /// member, the same DC (one of them), and quorum; returns the DC.
    pub fn wait_converged(&self, limit: Duration) -> String {
        let end = Instant::now() + limit;
        loop {
            let running = self.running();
            let names: Vec<String> = running.iter().map(|n| format!("node{n}")).collect();
            let reports: Vec<Option<StatusReport>> =
                running.iter().map(|&n| self.status(n)).collect();
            let dcs: Vec<Option<String>> = reports
                .iter()
                .map(|r| r.as_ref().and_then(|r| r.cluster.dc.clone()))
                .collect();
            let agreed = dcs
                .first()
                .cloned()
                .flatten()
                .filter(|dc| dcs.iter().all(|d| d.as_ref() == Some(dc)) && names.contains(dc));
            let complete = reports.iter().all(|r| {
                r.as_ref().is_some_and(|r| {
                    r.cluster.quorum
                        && names.iter().all(|name| {
                            r.cluster
                                .nodes
                                .iter()
                                .any(|s| &s.name == name && s.member && s.probed)
                        })
                })
            });
            if let (Some(dc), true) = (agreed, complete) {
                self.step(&format!("converged: members {names:?}, DC {dc}, quorum"));
                return dc;
            }
            assert!(
                Instant::now() < end,
                "{}: nodes {running:?} did not agree on members {names:?}, one DC and quorum \
                 within {limit:?}:\n{reports:#?}\n{}",
                self.name,
                self.logs()
            );
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Runs `ironbeat ARGS --socket <node n's socket>`.
    pub fn admin(&self, n: usize, args: &[&str]) -> Outcome {
        let socket = self.node(n).socket();
        let mut all = args.to_vec();
        let socket = socket.to_string_lossy().into_owned();
        all.extend(["--socket", &socket]);
        let out = run(IRONBEAT, &all, None);
        self.step(&format!(
            "node{n}: ironbeat {} → exit {}: {}{}",
            args.join(" "),
            out.code,
            out.stdout.trim(),
            out.stderr.trim()
        ));
        out
    }

    /// Like [`Cluster::admin`], and the command must succeed.
    pub fn admin_ok(&self, n: usize, args: &[&str]) -> Outcome {
        let out = self.admin(n, args);
        assert_eq!(
            out.code,
            OK,
            "{}: ironbeat {args:?} on node{n} failed:\n{}{}\n{}",
            self.name,
            out.stdout,
            out.stderr,
            self.logs()
        );
        out
    }

    /// Every status sample the watcher took at or after `after`.
    pub fn seen_since(&self, after: Instant) -> Vec<Seen> {
        let watcher = self
            .watcher
            .as_ref()
            .expect("the watcher runs until finish");
        let w = watcher.shared.lock().unwrap_or_else(|e| e.into_inner());
        w.seen.iter().filter(|s| s.at >= after).cloned().collect()
    }

    /// Every node's power changes, as (node, event).
    pub fn power_events(&self) -> Vec<(usize, ironbeat::lab::PowerEvent)> {
        self.lab
            .nodes()
            .iter()
            .flat_map(|n| n.power_events().into_iter().map(|e| (n.index(), e)))
            .collect()
    }

    /// The nodes the BMCs powered off (1-based, each once).
    pub fn fenced_off(&self) -> Vec<usize> {
        let mut off: Vec<usize> = self
            .power_events()
            .into_iter()
            .filter(|(_, e)| !e.on && e.cause == PowerCause::Bmc)
            .map(|(n, _)| n)
            .collect();
        off.dedup();
        off
    }

    /// The last 40 lines of every node's daemon log, and where the logs are.
    pub fn logs(&self) -> String {
        let mut text = String::new();
        for node in self.lab.nodes() {
            let path = node.logs().join("ironbeat.log");
            let log = std::fs::read_to_string(&path).unwrap_or_default();
            let lines: Vec<&str> = log.lines().collect();
            let _ = writeln!(
                text,
                "---- {} ({}, last {} of {} lines)",
                node.name(),
                path.display(),
                lines.len().min(40),
                lines.len()
            );
            for line in &lines[lines.len().saturating_sub(40)..] {
                let _ = writeln!(text, "{line}");
            }
        }
        text
    }

    /// Stops the prober and the watcher and checks the suite's invariants
    /// over the whole run: at no probe instant did two nodes answer for the
    /// VIP (UDP or ARP), no status of any node showed a resource running on
    /// two nodes, and no daemon panicked. `allowed` lists windows (start,
    /// length) in which double answers and double activity are expected and
    /// only counted (a partition healing without fencing); UDP answers from
    /// two nodes at one instant are never allowed. Returns the trace.
    pub fn finish(mut self, allowed: &[(Instant, Duration)]) -> Trace {
        let trace = self.prober.take().expect("finish runs once").stop();
        let mut watcher = self.watcher.take().expect("finish runs once");
        watcher.halt();
        let doubles = watcher
            .shared
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .doubles
            .clone();
        let inside = |at: Instant| {
            allowed
                .iter()
                .any(|(from, length)| at >= *from && at <= *from + *length)
        };
        let two_udp: Vec<_> = trace
            .ticks()
            .iter()
            .filter(|t| t.responders.len() > 1)
            .collect();
        assert!(
            two_udp.is_empty(),
            "{}: two nodes answered the client at one probe instant: {:?}\n{}",
            self.name,
            two_udp
                .iter()
                .map(|t| (t.at - self.started, &t.responders))
                .collect::<Vec<_>>(),
            self.logs()
        );
        let violations: Vec<_> = trace
            .violations()
            .into_iter()
            .filter(|t| !inside(t.at))
            .map(|t| (t.at - self.started, t.responders.clone(), t.arp.clone()))
            .collect();
        assert!(
            violations.is_empty(),
            "{}: two nodes answered for the VIP at {} probe instants (time since build, UDP, \
             ARP): {:?}\n{}",
            self.name,
            violations.len(),
            &violations[..violations.len().min(20)],
            self.logs()
        );
        let doubles: Vec<_> = doubles.into_iter().filter(|d| !inside(d.at)).collect();
        assert!(
            doubles.is_empty(),
            "{}: a resource was reported running on two nodes: {:?}\n{}",
            self.name,
            doubles
                .iter()
                .take(10)
                .map(|d| (
                    d.at - self.started,
                    format!("node{}", d.node),
                    &d.resource,
                    &d.running_on
                ))
                .collect::<Vec<_>>(),
            self.logs()
        );
        for node in self.lab.nodes() {
            let log = std::fs::read_to_string(node.logs().join("ironbeat.log")).unwrap_or_default();
            assert!(
                !log.contains("panicked at"),
                "{}: the daemon on {} panicked:\n{}",
                self.name,
                node.name(),
                self.logs()
            );
        }
        self.step(&format!(
            "invariants held over {} probes and the status of every node",
            trace.ticks().len()
        ));
        trace
    }

    /// Asserts that node `n` runs no process any more (its network
    /// namespace is empty).
    pub fn assert_no_process(&self, n: usize) {
        let left = pids_in_netns(self.node(n).netns());
        assert!(
            left.is_empty(),
            "{}: node{n} still runs processes {left:?}",
            self.name
        );
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if thread::panicking() {
            let keep = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
                .join(format!("cts-{}", self.lab.spec().tag));
            let _ = std::fs::remove_dir_all(&keep);
            for node in self.lab.nodes() {
                let to = keep.join(node.name());
                if std::fs::create_dir_all(&to).is_ok() {
                    for file in std::fs::read_dir(node.logs())
                        .into_iter()
                        .flatten()
                        .flatten()
                    {
                        let _ = std::fs::copy(file.path(), to.join(file.file_name()));
                    }
                    for file in std::fs::read_dir(node.ha_d())
                        .into_iter()
                        .flatten()
                        .flatten()
                    {
                        if file.file_name() != "authkeys" {
                            let _ = std::fs::copy(file.path(), to.join(file.file_name()));
                        }
                    }
                }
            }
            eprintln!(
                "{}: logs and configuration kept in {}",
                self.name,
                keep.display()
            );
        }
        // The watcher and the prober stop before the lab goes.
        self.watcher.take();
        self.prober.take();
    }
}

/// Writes `ironbeat.toml` and `authkeys` into every node's ha.d directory:
/// the same cluster as the haresources scenarios, with the VIP as a native
/// resource that has a monitor and a migration threshold.
fn write_native(lab: &Lab, options: &Options, monitor: Duration, threshold: u32) {
    let mut bytes = [0u8; 16];
    std::io::Read::read_exact(
        &mut std::fs::File::open("/dev/urandom").expect("opening /dev/urandom"),
        &mut bytes,
    )
    .expect("reading /dev/urandom");
    let key: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let nodes: Vec<String> = lab
        .nodes()
        .iter()
        .map(|n| format!("\"{}\"", n.name()))
        .collect();
    for node in lab.nodes() {
        let mut toml = String::new();
        let _ = writeln!(toml, "[cluster]\nnodes = [{}]\n", nodes.join(", "));
        let _ = writeln!(
            toml,
            "[timing]\nkeepalive = \"{}ms\"\nwarntime = \"{}ms\"\ndeadtime = \"{}ms\"\n\
             initdead = \"2s\"\n",
            KEEPALIVE.as_millis(),
            (DEADTIME * 3 / 5).as_millis(),
            DEADTIME.as_millis()
        );
        for peer in lab.nodes().iter().filter(|p| p.index() != node.index()) {
            let _ = writeln!(
                toml,
                "[[link]]\nkind = \"ucast\"\niface = \"eth0\"\npeer = \"{}\"\n",
                peer.lan_ip()
            );
            let _ = writeln!(
                toml,
                "[[link]]\nkind = \"ether\"\niface = \"{}\"\n",
                node.crossover_interface(lab.nodes().len(), peer.index())
            );
        }
        let _ = writeln!(
            toml,
            "[resource_defaults]\nstickiness = {}\n",
            if options.auto_failback {
                "0"
            } else {
                "\"INFINITY\""
            }
        );
        let _ = writeln!(
            toml,
            "[[resource]]\nid = \"vip\"\nagent = \"ocf:heartbeat:IPaddr2\"\n\
             params = {{ ip = \"{}\", cidr_netmask = \"24\", nic = \"eth0\" }}\n\
             migration_threshold = {threshold}\n\n\
             [[resource.op]]\nname = \"monitor\"\ninterval = \"{}ms\"\ntimeout = \"5s\"\n",
            lab.vip(),
            monitor.as_millis()
        );
        let _ = writeln!(
            toml,
            "[[location]]\nresource = \"vip\"\nnode = \"node{}\"\nscore = 100",
            options.preferred
        );
        let dir = node.ha_d();
        std::fs::create_dir_all(&dir).expect("creating the node's configuration directory");
        std::fs::write(dir.join("ironbeat.toml"), toml).expect("writing ironbeat.toml");
        ironbeat::lab::write_secret(&dir.join("authkeys"), &format!("auth 1\n1 sha256 {key}"))
            .expect("writing authkeys");
    }
}

/// `ironbeat run --foreground --config <ha.d>/ironbeat.toml` on the node.
fn native_starter() -> ironbeat::lab::Starter {
    Box::new(|n: &Node| {
        let config = n.ha_d().join("ironbeat.toml");
        let (state, socket) = (n.state_dir(), n.socket());
        let args = [
            "run".to_string(),
            "--foreground".into(),
            "--node".into(),
            n.name().to_owned(),
            "--config".into(),
            config.to_string_lossy().into_owned(),
            "--state-dir".into(),
            state.to_string_lossy().into_owned(),
            "--socket".into(),
            socket.to_string_lossy().into_owned(),
        ];
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut command = NodeCommand::new(IRONBEAT, &args);
        command.log = "ironbeat.log".into();
        Ok(DaemonPid::Known(n.spawn(&command)?))
    })
}
