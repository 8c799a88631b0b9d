//! Failover benchmark: how long the virtual IP is gone, as a client sees it,
//! when the active node's daemon is killed (kill -9) or all its cluster
//! links are cut — ironbeat beside heartbeat 3.0.6 (haresources + IPaddr2)
//! and keepalived 2.2.7 (VRRPv3), on the same virtual cluster
//! (`ironbeat::lab`: two nodes, a switch, a client) and the same probe
//! (UDP to VIP:7777 every 20 ms, 50 ms timeout, plus an ARP watch), in one run.
//!
//! ```text
//! sudo bench/failover.sh [--trials N] [--quick] [--stacks LIST] [--faults LIST]
//!                        [--soak SECS] [--binary PATH] [--out FILE]
//! ```
//!
//! One trial: VIP on node1 and answering from node1 (25 probes in a row),
//! then `--settle` (4 s) more; fault at T0 (kill9: just before kill(2); linkdown: when the
//! `ip link set … down` on the switch has returned, so ip's own start-up is not counted);
//! failover = first probe node2 answers − T0. Repair at T1
//! (kill9: node1's stale VIP removed — a reboot — and its daemon restarted;
//! linkdown: links back); failback = first probe node1 answers − T1.
//! "two owners" counts probes at which two nodes answered (UDP or ARP).
//!
//! `--soak SECS`: each stack holds the VIP for SECS while `stress-ng` loads
//! every core; any probe not answered by node1 is counted, any answer by
//! node2 is a false failover.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use ironbeat::lab::{
    self, DaemonPid, HaConfig, Lab, LabSpec, Mounts, Node, NodeCommand, ProbeOptions, Prober,
};

const HEARTBEAT: &str = "/usr/libexec/heartbeat/heartbeat";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Kill9,
    Linkdown,
}

impl Fault {
    fn name(self) -> &'static str {
        match self {
            Fault::Kill9 => "kill -9 of the active node",
            Fault::Linkdown => "all its links cut",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Stack {
    /// heartbeat 3.0.6 with keepalive/deadtime/warntime.
    Heartbeat {
        keepalive: &'static str,
        deadtime: &'static str,
        warntime: &'static str,
    },
    /// keepalived 2.2.7, VRRPv3 with this advert interval (seconds).
    Keepalived { advert: &'static str },
    /// `ironbeat run`, optionally with IPMI fencing through the lab's BMCs
    /// and a `--priority-fencing-delay` (default: the daemon's, 10 s).
    Ironbeat {
        fenced: bool,
        fence_delay: Option<&'static str>,
        /// Deadtime in ms (keepalive is always 10 ms).
        deadtime_ms: u64,
    },
}

impl Stack {
    fn parse(name: &str) -> Result<Stack> {
        Ok(match name {
            "heartbeat" | "heartbeat-10ms" => Stack::Heartbeat {
                keepalive: "10ms",
                deadtime: "50ms",
                warntime: "30ms",
            },
            "heartbeat-100ms" => Stack::Heartbeat {
                keepalive: "100ms",
                deadtime: "500ms",
                warntime: "300ms",
            },
            "keepalived" | "keepalived-0.1s" => Stack::Keepalived { advert: "0.1" },
            "keepalived-0.01s" => Stack::Keepalived { advert: "0.01" },
            "ironbeat" => Stack::Ironbeat {
                fenced: false,
                fence_delay: None,
                deadtime_ms: 50,
            },
            "ironbeat-40ms" => Stack::Ironbeat {
                fenced: false,
                fence_delay: None,
                deadtime_ms: 40,
            },
            "ironbeat-fenced" => Stack::Ironbeat {
                fenced: true,
                fence_delay: None,
                deadtime_ms: 50,
            },
            "ironbeat-fenced-nodelay" => Stack::Ironbeat {
                fenced: true,
                fence_delay: Some("0s"),
                deadtime_ms: 50,
            },
            other => bail!(
                "unknown stack {other:?}: use heartbeat, heartbeat-100ms, keepalived-0.1s, \
                 keepalived-0.01s, ironbeat, ironbeat-40ms, ironbeat-fenced, \
                 ironbeat-fenced-nodelay"
            ),
        })
    }

    fn label(&self) -> String {
        match self {
            Stack::Heartbeat {
                keepalive,
                deadtime,
                ..
            } => format!("heartbeat 3.0.6 (keepalive {keepalive}, deadtime {deadtime}, IPaddr2)"),
            Stack::Keepalived { advert } => {
                format!("keepalived 2.2.7 (VRRPv3, advert_int {advert} s)")
            }
            Stack::Ironbeat {
                fenced,
                fence_delay,
                deadtime_ms,
            } => {
                let fencing = match (fenced, fence_delay) {
                    (false, _) => "no fencing".to_string(),
                    (true, None) => "IPMI fencing, default priority delay".to_string(),
                    (true, Some(d)) => format!("IPMI fencing, priority delay {d}"),
                };
                format!("ironbeat (keepalive 10ms, deadtime {deadtime_ms}ms, {fencing})")
            }
        }
    }

    fn is_ours(&self) -> bool {
        matches!(self, Stack::Ironbeat { .. })
    }
}

#[derive(Debug)]
struct Args {
    trials: usize,
    stacks: Vec<Stack>,
    faults: Vec<Fault>,
    /// No --faults: the fenced rows skip the links-cut fault.
    faults_defaulted: bool,
    soak: Option<u64>,
    binary: Option<PathBuf>,
    out: Option<PathBuf>,
    settle: Duration,
}

fn parse_args() -> Result<Args> {
    let mut a = Args {
        trials: 20,
        stacks: [
            "heartbeat",
            "keepalived-0.1s",
            "keepalived-0.01s",
            "ironbeat",
            "ironbeat-40ms",
            "ironbeat-fenced",
            "ironbeat-fenced-nodelay",
        ]
        .iter()
        .map(|s| Stack::parse(s))
        .collect::<Result<_>>()?,
        faults: vec![Fault::Kill9, Fault::Linkdown],
        faults_defaulted: true,
        soak: None,
        binary: std::env::var_os("IRONBEAT_BIN").map(PathBuf::from),
        out: None,
        settle: Duration::from_secs(4),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |what: &str| it.next().with_context(|| format!("{arg} needs {what}"));
        match arg.as_str() {
            "--trials" => {
                a.trials = value("a number")?
                    .parse()
                    .context("--trials takes a number")?
            }
            "--quick" => a.trials = 3,
            "--stacks" => {
                a.stacks = value("a list")?
                    .split(',')
                    .map(Stack::parse)
                    .collect::<Result<_>>()?
            }
            "--faults" => {
                a.faults_defaulted = false;
                a.faults = value("a list")?
                    .split(',')
                    .map(|f| match f {
                        "kill9" => Ok(Fault::Kill9),
                        "linkdown" => Ok(Fault::Linkdown),
                        other => bail!("unknown fault {other:?}: use kill9, linkdown"),
                    })
                    .collect::<Result<_>>()?
            }
            "--soak" => a.soak = Some(value("seconds")?.parse().context("--soak takes seconds")?),
            "--settle" => {
                a.settle = Duration::from_secs_f64(
                    value("seconds")?
                        .parse::<f64>()
                        .ok()
                        .filter(|s| s.is_finite() && (0.0..=600.0).contains(s))
                        .context("--settle takes seconds, 0 to 600")?,
                )
            }
            "--binary" => a.binary = Some(PathBuf::from(value("a path")?)),
            "--out" => a.out = Some(PathBuf::from(value("a path")?)),
            // cargo bench passes --bench to harness = false benches.
            "--bench" => {}
            "-h" | "--help" => {
                println!(
                    "failover benchmark: sudo bench/failover.sh [--trials N] [--quick] \
                     [--stacks heartbeat,heartbeat-100ms,keepalived-0.1s,keepalived-0.01s,\
                     ironbeat,ironbeat-fenced,ironbeat-fenced-nodelay] [--faults kill9,linkdown] [--settle SECS] [--soak SECS] \
                     [--binary PATH] [--out FILE]"
                );
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?} (see --help)"),
        }
    }
    if a.trials == 0 {
        bail!("--trials must be at least 1");
    }
    Ok(a)
}

fn log(text: &str) {
    eprintln!("[failover {}] {text}", clock());
}

fn clock() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let s = now.as_secs() % 86_400;
    format!("{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
}

fn main() {
    match run() {
        Ok(()) => {}
        Err(e) => {
            eprintln!("failover benchmark: {e:#}");
            std::process::exit(1);
        }
    }
}

/// The ironbeat binary, if `ironbeat run` exists: `--binary`/`IRONBEAT_BIN`,
/// else the first of target/release and target/debug that has it.
fn ironbeat_run(binary: &Option<PathBuf>) -> std::result::Result<PathBuf, String> {
    let candidates: Vec<PathBuf> = match binary {
        Some(b) => vec![b.clone()],
        None => ["target/release/ironbeat", "target/debug/ironbeat"]
            .iter()
            .map(PathBuf::from)
            .collect(),
    };
    let mut tried = Vec::new();
    for bin in candidates {
        if !bin.exists() {
            continue;
        }
        match Command::new(&bin).args(["run", "--help"]).output() {
            Ok(o) if o.status.success() => return Ok(fs::canonicalize(&bin).unwrap_or(bin)),
            _ => tried.push(bin.display().to_string()),
        }
    }
    if tried.is_empty() {
        return Err("ironbeat binary not built (cargo build --release --bin ironbeat)".into());
    }
    Err(format!(
        "ironbeat run not available (`run --help` fails for {})",
        tried.join(", ")
    ))
}

fn run() -> Result<()> {
    let args = parse_args()?;
    if !nix::unistd::Uid::effective().is_root() {
        bail!("needs root (network namespaces): sudo bench/failover.sh");
    }
    lab::block_interrupts();
    let ours = ironbeat_run(&args.binary);
    log("building the lab: 2 nodes, a switch, a client, a BMC per node");
    // A fenced node reboots in 3 s, so its takeover and failback are apart.
    let spec = LabSpec::new("fo", 2).boot_time(Duration::from_secs(3));
    let mut lab = Lab::build(spec, &mut |step| log(step))?;
    lab::tear_down_on_interrupt(&lab)?;
    let mut rows = Vec::new();
    let mut soaks = Vec::new();
    for stack in &args.stacks {
        let binary = if stack.is_ours() {
            match &ours {
                Ok(b) => Some(b.clone()),
                Err(why) => {
                    log(&format!("{}: {why}", stack.label()));
                    for fault in &args.faults {
                        rows.push(Row::unavailable(stack, *fault, why));
                    }
                    if args.soak.is_some() {
                        soaks.push((stack.label(), Err(why.clone())));
                    }
                    continue;
                }
            }
        } else {
            None
        };
        if let Err(e) = preflight(stack) {
            log(&format!("{}: {e:#}", stack.label()));
            for fault in &args.faults {
                rows.push(Row::unavailable(stack, *fault, &format!("{e:#}")));
            }
            continue;
        }
        configure(&lab, stack, binary.as_deref())?;
        if let Some(secs) = args.soak {
            let result = soak(&lab, stack, secs);
            if let Err(e) = &result {
                log(&format!("{}: soak failed: {e:#}", stack.label()));
            }
            soaks.push((stack.label(), result.map_err(|e| format!("{e:#}"))));
        } else {
            for fault in &args.faults {
                if args.faults_defaulted
                    && *fault == Fault::Linkdown
                    && matches!(stack, Stack::Ironbeat { fenced: true, .. })
                {
                    // Every link of the holder cut, with fencing and no ping
                    // nodes: the holder wins the split and keeps the VIP
                    // (docs/fencing-topology.md); node2 never answers, so
                    // each trial would wait out its 60 s limit. Ask for it
                    // with --faults linkdown.
                    continue;
                }
                let trials = measure(&lab, stack, *fault, args.trials, args.settle);
                rows.push(Row::from_trials(stack, *fault, trials));
            }
        }
        stop_stack(&lab);
    }
    let mut report = String::new();
    if args.soak.is_some() {
        soak_table(&mut report, &soaks);
    } else {
        table(&mut report, &rows, args.trials);
    }
    println!("{report}");
    if let Some(out) = &args.out {
        fs::write(out, &report).with_context(|| format!("writing {}", out.display()))?;
    }
    lab.teardown();
    Ok(())
}

fn preflight(stack: &Stack) -> Result<()> {
    let need = match stack {
        Stack::Heartbeat { .. } => HEARTBEAT,
        Stack::Keepalived { .. } => "/usr/sbin/keepalived",
        Stack::Ironbeat { .. } => return Ok(()),
    };
    if !Path::new(need).exists() {
        bail!("{need} is missing: run scripts/install-test-deps.sh");
    }
    Ok(())
}

fn stop_stack(lab: &Lab) {
    for node in lab.nodes() {
        node.kill_all();
        let _ = node.reset_lan();
        if !node.is_powered().unwrap_or(true) {
            let _ = node.power_on(lab::PowerCause::Lab);
            node.kill_all();
        }
    }
}

fn peer(lab: &Lab, node: &Node) -> Result<std::net::Ipv4Addr> {
    Ok(lab.node(3 - node.index())?.lan_ip())
}

fn write(path: &Path, text: &str) -> Result<()> {
    fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// Writes every node's files and sets its daemon starter.
fn configure(lab: &Lab, stack: &Stack, binary: Option<&Path>) -> Result<()> {
    let vip = lab.vip();
    for node in lab.nodes() {
        let node = Arc::clone(node);
        let peer_ip = peer(lab, &node)?;
        match stack {
            Stack::Heartbeat {
                keepalive,
                deadtime,
                warntime,
            } => {
                let ha_d = node.ha_d();
                // The stock scripts (harc, rc.d, resource.d, shellfuncs), then our three files.
                run_checked(Command::new("cp").arg("-a").arg("/etc/ha.d/.").arg(&ha_d))?;
                let lib = node.dir().join("var-lib-heartbeat");
                if !lib.join("api").exists() {
                    run_checked(
                        Command::new("cp")
                            .arg("-a")
                            .arg("/var/lib/heartbeat/.")
                            .arg(&lib),
                    )?;
                }
                // A node keeps its own uuid; never one copied from the host.
                let _ = fs::remove_file(lib.join("hb_uuid"));
                let _ = fs::remove_file(lib.join("hb_generation"));
                let run = node.run_dir();
                for d in [
                    "heartbeat/ccm",
                    "heartbeat/crm",
                    "heartbeat/dopd",
                    "resource-agents",
                    "lock",
                ] {
                    fs::create_dir_all(run.join(d))?;
                }
                run_checked(
                    Command::new("chown")
                        .args(["-R", "hacluster:haclient"])
                        .arg(run.join("heartbeat")),
                )?;
                run_checked(Command::new("chmod").arg("750").arg(run.join("heartbeat")))?;
                write(
                    &ha_d.join("ha.cf"),
                    &format!(
                        "# written by benches/failover.rs (heartbeat's tightest stable setting)\n\
                         use_logd no\nlogfile /var/lib/heartbeat/ha-log\nlogfacility none\n\
                         keepalive {keepalive}\ndeadtime {deadtime}\nwarntime {warntime}\n\
                         initdead 10\nudpport 694\nucast eth0 {peer_ip}\n\
                         auto_failback on\nnode node1\nnode node2\ncrm no\n"
                    ),
                )?;
                write(
                    &ha_d.join("haresources"),
                    &format!("node1 IPaddr2::{vip}/24/eth0\n"),
                )?;
                lab::write_secret(&ha_d.join("authkeys"), "auth 1\n1 sha1 failover-bench")?;
                let pid_file = run.join("heartbeat.pid");
                node.set_starter(Box::new(move |n: &Node| {
                    let _ = fs::remove_file(&pid_file);
                    n.spawn(&NodeCommand::new(HEARTBEAT, &[]).with_mounts(Mounts::Heartbeat))?;
                    Ok(DaemonPid::File(pid_file.clone()))
                }));
            }
            Stack::Keepalived { advert } => {
                let dir = node.dir().join("keepalived");
                fs::create_dir_all(&dir)?;
                let priority = if node.index() == 1 { 150 } else { 100 };
                let conf = dir.join("keepalived.conf");
                write(
                    &conf,
                    &format!(
                        "# written by benches/failover.rs\n\
                         global_defs {{\n  router_id {name}\n  vrrp_garp_master_repeat 5\n  \
                         vrrp_garp_master_delay 5\n  script_user root\n  enable_script_security\n}}\n\
                         vrrp_instance VI_1 {{\n  state BACKUP\n  interface eth0\n  \
                         virtual_router_id 51\n  priority {priority}\n  advert_int {advert}\n  \
                         version 3\n  preempt_delay 0\n  virtual_ipaddress {{\n    {vip}/24 dev eth0\n  }}\n}}\n",
                        name = node.name()
                    ),
                )?;
                node.set_starter(Box::new(move |n: &Node| {
                    // keepalived refuses to start while a pid file names a
                    // live process, and PIDs get reused: start clean.
                    for f in ["keepalived.pid", "vrrp.pid", "checkers.pid"] {
                        let _ = fs::remove_file(dir.join(f));
                    }
                    let p = |f: &str| dir.join(f).to_string_lossy().into_owned();
                    let args = [
                        "-n".to_string(),
                        "-l".into(),
                        "-D".into(),
                        "-P".into(),
                        "-f".into(),
                        p("keepalived.conf"),
                        "-p".into(),
                        p("keepalived.pid"),
                        "-r".into(),
                        p("vrrp.pid"),
                        "-c".into(),
                        p("checkers.pid"),
                        "-i".into(),
                        n.name().to_owned(),
                    ];
                    let args: Vec<&str> = args.iter().map(String::as_str).collect();
                    let pid = n.spawn(&NodeCommand::new("/usr/sbin/keepalived", &args))?;
                    Ok(DaemonPid::Known(pid))
                }));
            }
            Stack::Ironbeat { fence_delay, .. } => {
                let binary = binary.context("ironbeat run not available")?.to_path_buf();
                let extra = fence_delay
                    .map(|d| vec!["--priority-fencing-delay".to_string(), d.to_string()])
                    .unwrap_or_default();
                node.set_starter(lab::ironbeat_starter(binary, extra));
            }
        }
    }
    if let Stack::Ironbeat {
        fenced,
        deadtime_ms,
        ..
    } = stack
    {
        // heartbeat's row's timers (or a shorter deadtime), on the same
        // single LAN link.
        let mut config = HaConfig::new(
            Duration::from_millis(10),
            Duration::from_millis(*deadtime_ms),
        );
        config.warntime = Duration::from_millis(30);
        config.fencing = *fenced;
        config.write(lab)?;
    }
    Ok(())
}

fn run_checked(cmd: &mut Command) -> Result<()> {
    let shown = format!("{cmd:?}");
    let out = cmd.output().with_context(|| format!("running {shown}"))?;
    if !out.status.success() {
        bail!("{shown}: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(())
}

/// Starts whatever is not running and waits until node1 alone holds the VIP
/// and answers 25 probes in a row.
fn steady(lab: &Lab, prober: &Prober, limit: Duration) -> Result<()> {
    let end = Instant::now() + limit;
    for node in lab.nodes() {
        if !node.is_powered()? {
            node.power_on(lab::PowerCause::Lab)?;
        } else if node.daemon_pid().is_none() {
            node.start_daemon()?;
        }
    }
    let vip = lab.vip();
    let mut restarted = Instant::now();
    loop {
        // A daemon that died while starting is started again (every 5 s).
        if restarted.elapsed() > Duration::from_secs(5) {
            restarted = Instant::now();
            for node in lab.nodes() {
                if node.is_powered()? && node.daemon_pid().is_none() {
                    log(&format!(
                        "{}: daemon not running, starting it again",
                        node.name()
                    ));
                    node.start_daemon()?;
                }
            }
        }
        let n1 = lab.node(1)?.holds(vip)?;
        let n2 = lab.node(2)?.holds(vip)?;
        if n1 && !n2 {
            let left = end.saturating_duration_since(Instant::now());
            if prober
                .wait_for_steady("node1", 25, left.min(Duration::from_secs(5)))
                .is_some()
            {
                return Ok(());
            }
        }
        if Instant::now() >= end {
            bail!(
                "node1 did not hold the VIP alone within {limit:?} (node1 {n1}, node2 {n2}); \
                 logs in {}",
                lab.dir().display()
            );
        }
        thread::sleep(Duration::from_millis(100));
    }
}

#[derive(Debug, Clone, Default)]
struct Trial {
    failover: Option<Duration>,
    failback: Option<Duration>,
    failback_outage: Duration,
    two_owners: usize,
    stale_vip: bool,
    node1_after_switch: usize,
    error: Option<String>,
}

fn measure(lab: &Lab, stack: &Stack, fault: Fault, trials: usize, settle: Duration) -> Vec<Trial> {
    let mut out = Vec::new();
    let prober = match lab.prober(ProbeOptions::default()) {
        Ok(p) => p,
        Err(e) => {
            log(&format!("prober: {e:#}"));
            return out;
        }
    };
    for i in 1..=trials {
        let t = trial(lab, &prober, fault, settle).unwrap_or_else(|e| Trial {
            error: Some(format!("{e:#}")),
            ..Trial::default()
        });
        log(&format!(
            "{} / {}: trial {i}/{trials}: failover {} failback {} outage {:.3} s, two owners {}{}{}",
            stack.label(),
            fault.name(),
            secs(t.failover),
            secs(t.failback),
            t.failback_outage.as_secs_f64(),
            t.two_owners,
            if t.stale_vip { ", stale VIP on node1" } else { "" },
            t.error.as_deref().map(|e| format!(", error: {e}")).unwrap_or_default()
        ));
        out.push(t);
    }
    out
}

fn secs(d: Option<Duration>) -> String {
    d.map_or("-".into(), |d| format!("{:.3} s", d.as_secs_f64()))
}

fn trial(lab: &Lab, prober: &Prober, fault: Fault, settle: Duration) -> Result<Trial> {
    steady(lab, prober, Duration::from_secs(120))?;
    // heartbeat detects a death ~2 s late for a few seconds after a handover:
    // like the research lab, fault a cluster that has settled.
    thread::sleep(settle);
    let node1 = lab.node(1)?;
    let t0 = match fault {
        Fault::Kill9 => lab.kill_daemon(1)?,
        // The cable is out when the `ip link set … down` on the switch has
        // returned: its fork/exec (a few ms, more under load) came before
        // the carrier change and is not failover time. The netlink request
        // itself ends microseconds before the command does.
        Fault::Linkdown => {
            lab.isolate(1)?;
            Instant::now()
        }
    };
    let fo = prober.wait_for_answer("node2", t0, Duration::from_secs(60));
    // The stale-VIP problem: node1 still up, its daemon dead, the VIP still
    // configured on it once node2 has taken over (fencing powers it off).
    let stale_vip = fault == Fault::Kill9
        && fo.is_some()
        && node1.daemon_pid().is_none()
        && node1.is_powered()?
        && node1.holds(lab.vip())?;
    thread::sleep(Duration::from_secs(2));
    let mut t = Trial {
        failover: fo.map(|x| x - t0),
        ..Trial::default()
    };
    let trace = prober.snapshot();
    t.two_owners = trace.violations_after(t0).len();
    t.stale_vip = stale_vip;
    t.node1_after_switch = fo.map_or(0, |fo| {
        let (udp, arp) = trace.answers_from("node1", fo);
        udp.max(arp)
    });
    // Repair.
    let rebooted = node1
        .power_events()
        .iter()
        .rev()
        .find(|e| e.on && e.at > t0)
        .map(|e| e.at);
    let t1 = match (fault, rebooted) {
        // Fenced by a reboot: its BMC powered it on again, which restarted
        // the daemon; failback counts from that power-on.
        (Fault::Kill9, Some(on)) => on,
        (Fault::Kill9, None) if !node1.is_powered()? => lab.power_on(1)?,
        (Fault::Kill9, None) => {
            // A reboot: the stale VIP goes, the daemon starts again.
            node1.kill_all();
            node1.reset_lan()?;
            let t1 = Instant::now();
            node1.start_daemon()?;
            t1
        }
        (Fault::Linkdown, _) => lab.rejoin(1)?,
    };
    let fb = prober.wait_for_answer("node1", t1, Duration::from_secs(120));
    t.failback = fb.map(|x| x - t1);
    thread::sleep(Duration::from_millis(500));
    let trace = prober.snapshot();
    let end = fb.unwrap_or_else(Instant::now) + Duration::from_millis(400);
    t.failback_outage = trace.longest_gap(t1, end);
    t.two_owners += trace
        .violations_after(t1)
        .iter()
        .filter(|x| x.at <= end)
        .count();
    Ok(t)
}

#[derive(Debug, Clone)]
struct Row {
    stack: String,
    ours: bool,
    fault: Fault,
    trials: Vec<Trial>,
    unavailable: Option<String>,
}

impl Row {
    fn unavailable(stack: &Stack, fault: Fault, why: &str) -> Row {
        Row {
            stack: stack.label(),
            ours: stack.is_ours(),
            fault,
            trials: Vec::new(),
            unavailable: Some(why.to_owned()),
        }
    }

    fn from_trials(stack: &Stack, fault: Fault, trials: Vec<Trial>) -> Row {
        Row {
            stack: stack.label(),
            ours: stack.is_ours(),
            fault,
            trials,
            unavailable: None,
        }
    }

    fn failovers(&self) -> Vec<f64> {
        sorted(self.trials.iter().filter_map(|t| t.failover))
    }

    fn median(&self) -> Option<f64> {
        percentile(&self.failovers(), 50.0)
    }
}

fn sorted(v: impl Iterator<Item = Duration>) -> Vec<f64> {
    let mut v: Vec<f64> = v.map(|d| d.as_secs_f64()).collect();
    v.sort_by(f64::total_cmp);
    v
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    if p == 50.0 {
        let n = sorted.len();
        return Some(if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        });
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

fn f(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.3}"))
}

fn table(out: &mut String, rows: &[Row], trials: usize) {
    let _ = writeln!(
        out,
        "Failover as the client sees it (first probe answered by node2 − fault), seconds; \
         {trials} trials per row; probe every 20 ms (50 ms timeout) + ARP watch; one run, one lab.\n"
    );
    let _ = writeln!(
        out,
        "| stack | fault | n | failover median | p90 | min | max | failback median | max outage during failback | probes with two owners | stale VIP on node1 at takeover | failed trials |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in rows {
        if let Some(why) = &r.unavailable {
            let _ = writeln!(
                out,
                "| {} | {} | 0 | {why} | | | | | | | | |",
                r.stack,
                r.fault.name()
            );
            continue;
        }
        let fo = r.failovers();
        let fb = sorted(r.trials.iter().filter_map(|t| t.failback));
        let outage = sorted(r.trials.iter().map(|t| t.failback_outage));
        let failed = r.trials.len() - fo.len();
        let errors: Vec<&str> = r.trials.iter().filter_map(|t| t.error.as_deref()).collect();
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {}/{} | {}{} |",
            r.stack,
            r.fault.name(),
            fo.len(),
            f(percentile(&fo, 50.0)),
            f(percentile(&fo, 90.0)),
            f(fo.first().copied()),
            f(fo.last().copied()),
            f(percentile(&fb, 50.0)),
            f(outage.last().copied()),
            r.trials.iter().map(|t| t.two_owners).sum::<usize>(),
            r.trials.iter().filter(|t| t.stale_vip).count(),
            r.trials.len(),
            failed,
            errors
                .first()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default()
        );
    }
    // Ratios: ours against each peer, per fault.
    let _ = writeln!(
        out,
        "\nRatios of median failover (peer / ironbeat; > 1: ironbeat is faster):\n"
    );
    let _ = writeln!(out, "| ironbeat row | fault | peer | ratio |");
    let _ = writeln!(out, "|---|---|---|---|");
    for ours in rows.iter().filter(|r| r.ours) {
        for peer in rows.iter().filter(|r| !r.ours && r.fault == ours.fault) {
            let ratio = match (&ours.unavailable, ours.median(), peer.median()) {
                (Some(why), _, _) => format!("n/a: {why}"),
                (None, Some(o), Some(p)) if o > 0.0 => format!("{:.1}×", p / o),
                _ => "n/a: no failover measured".into(),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {ratio} |",
                ours.stack,
                ours.fault.name(),
                peer.stack
            );
        }
    }
}

/// A stress-ng run we started; killed (by PID) on drop.
struct Load(Option<std::process::Child>);

impl Drop for Load {
    fn drop(&mut self) {
        if let Some(c) = &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[derive(Debug)]
struct SoakResult {
    secs: u64,
    probes: usize,
    unanswered: usize,
    by_node2: usize,
    two_owners: usize,
    longest_gap: Duration,
}

fn soak(lab: &Lab, stack: &Stack, secs: u64) -> Result<SoakResult> {
    let prober = lab.prober(ProbeOptions::default())?;
    steady(lab, &prober, Duration::from_secs(120))?;
    let cores = thread::available_parallelism().map_or(2, |n| n.get());
    log(&format!(
        "{}: soak {secs} s with stress-ng loading {cores} cores",
        stack.label()
    ));
    let _load = Load(Some(
        Command::new("stress-ng")
            .args(["--cpu", &cores.to_string(), "--timeout"])
            .arg(format!("{}s", secs + 5))
            .arg("--quiet")
            .spawn()
            .context("starting stress-ng (scripts/install-test-deps.sh installs it)")?,
    ));
    let start = Instant::now();
    thread::sleep(Duration::from_secs(secs));
    let end = Instant::now();
    drop(_load);
    let trace = prober.stop();
    let ticks: Vec<_> = trace
        .ticks()
        .iter()
        .filter(|t| t.at >= start && t.at + Duration::from_millis(60) <= end)
        .collect();
    Ok(SoakResult {
        secs,
        probes: ticks.len(),
        unanswered: ticks.iter().filter(|t| t.answered_by().is_none()).count(),
        by_node2: ticks
            .iter()
            .filter(|t| t.answered_by() == Some("node2"))
            .count(),
        two_owners: ticks.iter().filter(|t| t.is_violation()).count(),
        longest_gap: trace.longest_gap(start, end),
    })
}

fn soak_table(out: &mut String, soaks: &[(String, std::result::Result<SoakResult, String>)]) {
    let _ = writeln!(
        out,
        "Soak: VIP held by node1 while stress-ng loads every core; probe every 20 ms.\n"
    );
    let _ = writeln!(
        out,
        "| stack | seconds | probes | unanswered | answered by node2 (false failover) | probes with two owners | longest gap s |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|");
    for (label, r) in soaks {
        match r {
            Ok(s) => {
                let _ = writeln!(
                    out,
                    "| {label} | {} | {} | {} | {} | {} | {:.3} |",
                    s.secs,
                    s.probes,
                    s.unanswered,
                    s.by_node2,
                    s.two_owners,
                    s.longest_gap.as_secs_f64()
                );
            }
            Err(why) => {
                let _ = writeln!(out, "| {label} | {why} | | | | | |");
            }
        }
    }
}
