//! bench-link: failure detection, CPU and memory of `ironbeat link watch`,
//! beside legacy heartbeat 3.0.6 measured in the same run on the same lab.
//!
//! Run it through `bench/link-detection.sh` (root; builds release binaries).
//!
//! * Detection: two nodes in network namespaces; node1 is SIGKILLed at a
//!   random phase of its keepalive cycle and node2's "dead" verdict is timed
//!   against the kill instant on the same clock (Unix µs). For ironbeat the
//!   `node_dead` event's own `ts_us` and the instant its line reached us; for
//!   heartbeat (1-second log timestamps) the instant its `node node1: is dead`
//!   log line appeared, by polling the log every 2 ms. The node is restarted
//!   between trials.
//! * Resources: Δ(utime+stime) from `/proc/PID/stat` over a window while the
//!   pair idles, and VmRSS / PSS (`smaps_rollup`) at its end, per node (for
//!   heartbeat: all of a node's processes).
//!
//! Usage: `bench-link [--trials N] [--hb-trials N] [--window SECS] [--no-legacy | --only-legacy] [--out FILE]`

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use ironbeat_hw_tests::legacy::{LegacyNode, LogTail, HEARTBEAT};
use ironbeat_hw_tests::resources::{measure_each, Usage};
use ironbeat_hw_tests::topology::{Media, Pair, Timers};
use ironbeat_hw_tests::{binary, cmd, env, unix_us, Result};

struct Options {
    trials: usize,
    hb_trials: usize,
    window: Duration,
    legacy: bool,
    only_legacy: bool,
    out: Option<PathBuf>,
}

fn options() -> Result<Options> {
    let mut o = Options {
        trials: 20,
        hb_trials: 10,
        window: Duration::from_secs(30),
        legacy: true,
        only_legacy: false,
        out: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().with_context(|| format!("{name} needs a value"));
        match a.as_str() {
            "--trials" => o.trials = value("--trials")?.parse()?,
            "--hb-trials" => o.hb_trials = value("--hb-trials")?.parse()?,
            "--window" => o.window = Duration::from_secs(value("--window")?.parse()?),
            "--no-legacy" => o.legacy = false,
            "--only-legacy" => o.only_legacy = true,
            "--out" => o.out = Some(PathBuf::from(value("--out")?)),
            "-h" | "--help" => {
                println!("bench-link [--trials N] [--hb-trials N] [--window SECS] [--no-legacy | --only-legacy] [--out FILE]");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?} (try --help)"),
        }
    }
    if o.trials == 0 || o.hb_trials == 0 {
        bail!("--trials and --hb-trials must be at least 1");
    }
    Ok(o)
}

/// Latency samples in µs.
#[derive(Debug, Default, Clone)]
struct Samples(Vec<u64>);

impl Samples {
    fn quantile(&self, q: f64) -> f64 {
        let mut v = self.0.clone();
        v.sort_unstable();
        if v.is_empty() {
            return f64::NAN;
        }
        let i = ((v.len() - 1) as f64 * q).round() as usize;
        v[i] as f64 / 1000.0
    }
    fn cell(&self) -> String {
        if self.0.is_empty() {
            return "—".into();
        }
        format!(
            "{:.1} / {:.1} / {:.1} / {:.1} (n={})",
            self.quantile(0.5),
            self.quantile(0.95),
            self.quantile(0.0),
            self.quantile(1.0),
            self.0.len()
        )
    }
}

/// A small xorshift for kill phases (no need for a crate).
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

struct OursDetection {
    by_ts: Samples,
    by_arrival: Samples,
    within_bound: usize,
}

fn ours_detection(
    tag: &str,
    media: Media,
    timers: Timers,
    trials: usize,
    rng: &mut Rng,
) -> Result<OursDetection> {
    let pair = Pair::build(tag, media, timers.clone())?;
    let mut n1 = pair.start(0)?;
    let n2 = pair.start(1)?;
    n2.wait_for(0, "node_alive node1", Duration::from_secs(10), |e| {
        e.is("node_alive", "node1")
    })?;
    let bound_us = (timers.deadtime + timers.keepalive).as_micros() as u64;
    let mut out = OursDetection {
        by_ts: Samples::default(),
        by_arrival: Samples::default(),
        within_bound: 0,
    };
    for trial in 0..trials {
        let phase = rng.below(timers.keepalive.as_micros() as u64);
        std::thread::sleep(timers.deadtime * 2 + Duration::from_micros(phase));
        let mark = n2.mark();
        let killed = n1.kill9();
        let dead = n2.wait_for(mark, "node_dead node1", Duration::from_secs(5), |e| {
            e.is("node_dead", "node1")
        })?;
        let ts = dead.ts_us().context("ts_us")?.saturating_sub(killed);
        out.by_ts.0.push(ts);
        out.by_arrival
            .0
            .push(dead.received_us.saturating_sub(killed));
        if ts <= bound_us {
            out.within_bound += 1;
        }
        eprint!(
            "\r  {tag}: trial {}/{trials}: {:.1} ms   ",
            trial + 1,
            ts as f64 / 1000.0
        );
        drop(n1);
        n1 = pair.start(0)?;
        n2.wait_for(mark, "node_back node1", Duration::from_secs(10), |e| {
            e.is("node_back", "node1")
        })?;
    }
    eprintln!();
    Ok(out)
}

fn ours_resources(tag: &str, timers: Timers, window: Duration) -> Result<Vec<Usage>> {
    let pair = Pair::build(tag, Media::UCAST, timers)?;
    let n1 = pair.start(0)?;
    let n2 = pair.start(1)?;
    for (w, peer) in [(&n1, "node2"), (&n2, "node1")] {
        w.wait_for(0, "node_alive", Duration::from_secs(10), |e| {
            e.is("node_alive", peer)
        })?;
    }
    std::thread::sleep(Duration::from_secs(2));
    eprintln!("  {tag}: measuring {window:?}…");
    let usage = measure_each(&[n1.pid(), n2.pid()], window)?;
    for w in [&n1, &n2] {
        if w.events()
            .iter()
            .any(|e| e.kind() == "node_dead" || e.kind() == "path_down")
        {
            bail!("{tag}: a false failure while idle\n{}", w.diagnostics());
        }
    }
    Ok(usage)
}

fn legacy_ha_cf(peer_line: &str, serial: bool) -> String {
    let media = if serial {
        format!("baud 115200\nserial {peer_line}\n")
    } else {
        format!("ucast eth0 {peer_line}\n")
    };
    format!(
        "use_logd no\nlogfile /var/lib/heartbeat/ha-log\nlogfacility none\n\
         keepalive 10ms\ndeadtime 50ms\nwarntime 30ms\ninitdead 10\nudpport 694\n{media}\
         auto_failback on\nnode node1\nnode node2\ncrm no\n"
    )
}

const LEGACY_KEYS: &str = "auth 1\n1 sha1 ibt-bench-secret\n";

struct LegacyPair {
    nodes: [LegacyNode; 2],
    _pair: Pair,
}

fn legacy_pair(tag: &str, serial: bool) -> Result<LegacyPair> {
    let pair = Pair::build(
        tag,
        if serial { Media::SERIAL } else { Media::UCAST },
        Timers::millis(10, 50),
    )?;
    let mut nodes = Vec::new();
    for (i, (name, ns)) in [("node1", &pair.n1), ("node2", &pair.n2)]
        .into_iter()
        .enumerate()
    {
        let peer = if serial {
            let pty = pair.pty.as_ref().context("pty")?;
            let dev = if i == 0 {
                pty.a_device()?
            } else {
                pty.b_device()?
            };
            dev.display().to_string()
        } else {
            let c0 = pair.c0.as_ref().context("c0")?;
            (if i == 0 { c0.b_addr() } else { c0.a_addr() }).to_string()
        };
        let root = pair.scratch.join(&format!("hb-{name}"));
        nodes.push(LegacyNode::prepare(
            &root,
            name,
            ns.name(),
            &legacy_ha_cf(&peer, serial),
            LEGACY_KEYS,
        )?);
    }
    let [a, b]: [LegacyNode; 2] = nodes.try_into().map_err(|_| anyhow::anyhow!("two nodes"))?;
    Ok(LegacyPair {
        nodes: [a, b],
        _pair: pair,
    })
}

struct LegacyDetection {
    samples: Samples,
    spurious: usize,
}

/// heartbeat's steady state: after comm up it waits ~10 s, then runs its
/// initial resource acquisition. A peer killed before that is declared dead
/// late, and so is a peer killed after a restart of itself: the survivor's
/// history queue of unacknowledged messages fills and it logs a warning per
/// message ("Message hist queue is filling up"), stalling its main loop for
/// ~2 s. To measure heartbeat at its best, every trial starts a fresh pair,
/// waits until both nodes logged `Initial resource acquisition complete`,
/// lets it idle one more second, then kills node1.
const STEADY: &str = "Initial resource acquisition complete";

fn legacy_detection(
    tag: &str,
    serial: bool,
    trials: usize,
    rng: &mut Rng,
) -> Result<LegacyDetection> {
    let lp = legacy_pair(tag, serial)?;
    let [n1, n2] = &lp.nodes;
    let mut tail1 = LogTail::new(&n1.log_path());
    let mut tail2 = LogTail::new(&n2.log_path());
    let mut out = LegacyDetection {
        samples: Samples::default(),
        spurious: 0,
    };
    for trial in 0..trials {
        n2.start()?;
        n1.start()?;
        tail1.wait_for(STEADY, Duration::from_secs(60))?;
        tail2.wait_for(STEADY, Duration::from_secs(60))?;
        std::thread::sleep(Duration::from_millis(1000 + rng.below(10)));
        if tail2
            .read_new()
            .iter()
            .any(|l| l.contains("node node1: is dead"))
        {
            // heartbeat declared the live node dead: a false positive.
            out.spurious += 1;
        }
        let killed = n1.kill9();
        let (at, _) = tail2.wait_for("node node1: is dead", Duration::from_secs(10))?;
        out.samples.0.push(at.saturating_sub(killed));
        eprint!(
            "\r  {tag}: trial {}/{trials}: {:.1} ms   ",
            trial + 1,
            at.saturating_sub(killed) as f64 / 1000.0
        );
        n2.kill9();
    }
    eprintln!();
    Ok(out)
}

fn legacy_resources(tag: &str, window: Duration) -> Result<Vec<Usage>> {
    let lp = legacy_pair(tag, false)?;
    let mut tails: Vec<LogTail> = lp
        .nodes
        .iter()
        .map(|n| LogTail::new(&n.log_path()))
        .collect();
    for n in &lp.nodes {
        n.start()?;
    }
    // After the link is up heartbeat waits ~10 s, then runs its resource
    // scripts once: measure the idle state after that.
    for t in &mut tails {
        t.wait_for(
            "Initial resource acquisition complete",
            Duration::from_secs(60),
        )?;
    }
    std::thread::sleep(Duration::from_secs(3));
    eprintln!("  {tag}: measuring {window:?}…");
    let pids: Vec<Vec<u32>> = lp.nodes.iter().map(LegacyNode::pids).collect();
    let flat: Vec<u32> = pids.iter().flatten().copied().collect();
    let each = measure_each(&flat, window)?;
    // Sum per node.
    let mut i = 0;
    let mut per_node = Vec::new();
    for p in &pids {
        let mut u = Usage::default();
        for _ in p {
            u.cpu_percent += each[i].cpu_percent;
            u.rss_kib += each[i].rss_kib;
            u.pss_kib += each[i].pss_kib;
            u.window = each[i].window;
            i += 1;
        }
        per_node.push(u);
    }
    let spurious: usize = tails
        .iter_mut()
        .map(|t| {
            t.read_new()
                .iter()
                .filter(|l| l.contains(": is dead"))
                .count()
        })
        .sum();
    if spurious > 0 {
        eprintln!("  {tag}: heartbeat logged {spurious} false 'is dead' while idle");
    }
    Ok(per_node)
}

fn avg(u: &[Usage]) -> Usage {
    let n = u.len().max(1) as f64;
    Usage {
        cpu_percent: u.iter().map(|x| x.cpu_percent).sum::<f64>() / n,
        rss_kib: (u.iter().map(|x| x.rss_kib).sum::<u64>() as f64 / n) as u64,
        pss_kib: (u.iter().map(|x| x.pss_kib).sum::<u64>() as f64 / n) as u64,
        window: u.first().map(|x| x.window).unwrap_or_default(),
    }
}

fn ratio(legacy: f64, ours: f64) -> String {
    if ours > 0.0 && legacy.is_finite() {
        format!("{:.1}×", legacy / ours)
    } else {
        "—".into()
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench-link: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let o = options()?;
    if !nix::unistd::geteuid().is_root() {
        bail!("needs root (network namespaces): sudo bench/link-detection.sh");
    }
    let ready = if o.only_legacy {
        env::has_tool("socat") && env::has_tool("ip")
    } else {
        env::can_run("bench-link", &["socat"])
    };
    if !ready {
        bail!("prerequisites missing: run scripts/install-test-deps.sh and build ironbeat");
    }
    if o.legacy && !env::has_tool(HEARTBEAT) {
        bail!("{HEARTBEAT} missing: apt-get install heartbeat, or pass --no-legacy");
    }
    let mut rng = Rng(unix_us() | 1);
    let fast = Timers::millis(20, 100);
    let tight = Timers::millis(10, 50);

    let mut ours: [Option<OursDetection>; 4] = [None, None, None, None];
    let (mut res20, mut res10) = (None, None);
    if !o.only_legacy {
        eprintln!("ironbeat detection (kill -9 → node_dead):");
        // No "bs10": ironbeat refuses a 10 ms keepalive on a 115200-baud line
        // (heartbeats alone would take 77 % of a real line; see docs/link.md).
        // A pty ignores baud, so heartbeat's serial row at 10 ms stays as a
        // measure of heartbeat, beside our tightest serial setting (20 ms).
        let plan = [
            ("bu20", Media::UCAST, &fast),
            ("bs20", Media::SERIAL, &fast),
            ("bu10", Media::UCAST, &tight),
        ];
        for (slot, (tag, media, timers)) in ours.iter_mut().zip(plan) {
            *slot = Some(ours_detection(
                tag,
                media,
                timers.clone(),
                o.trials,
                &mut rng,
            )?);
        }
        eprintln!("ironbeat resources:");
        res20 = Some(avg(&ours_resources("br20", fast.clone(), o.window)?));
        res10 = Some(avg(&ours_resources("br10", tight.clone(), o.window)?));
    }
    let (mut h_udp, mut h_ser, mut h_res) = (None, None, None);
    if o.legacy {
        eprintln!("heartbeat 3.0.6 detection (kill -9 → 'node node1: is dead' in its log):");
        h_udp = Some(legacy_detection("hu10", false, o.hb_trials, &mut rng));
        h_ser = Some(legacy_detection("hs10", true, o.hb_trials, &mut rng));
        eprintln!("heartbeat 3.0.6 resources:");
        h_res = Some(legacy_resources("hr10", o.window));
    }

    let t = report(&o, &ours, res20, res10, &h_udp, &h_ser, &h_res);
    print!("{t}");
    if let Some(path) = &o.out {
        std::fs::write(path, &t).with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("written to {}", path.display());
    }
    Ok(())
}

fn legacy_cell(r: &Option<Result<LegacyDetection>>) -> (String, f64) {
    match r {
        None => ("not run".to_string(), f64::NAN),
        Some(Ok(d)) => {
            let extra = if d.spurious > 0 {
                format!(", {} false deaths", d.spurious)
            } else {
                String::new()
            };
            (
                format!("{}{extra}", d.samples.cell()),
                d.samples.quantile(0.5),
            )
        }
        Some(Err(e)) => (format!("failed: {e}"), f64::NAN),
    }
}

fn report(
    o: &Options,
    ours: &[Option<OursDetection>; 4],
    res20: Option<Usage>,
    res10: Option<Usage>,
    h_udp: &Option<Result<LegacyDetection>>,
    h_ser: &Option<Result<LegacyDetection>>,
    h_res: &Option<Result<Vec<Usage>>>,
) -> String {
    let mut t = String::new();
    let uname = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    let hb_version = cmd::run(
        std::process::Command::new("dpkg-query").args(["-W", "-f", "${Version}", "heartbeat"]),
        cmd::SHORT,
    )
    .map(|o| o.stdout)
    .unwrap_or_default();
    let _ = writeln!(
        t,
        "bench-link — kernel {uname}, {} CPUs, ironbeat {}, heartbeat {hb_version}; \
         {} ironbeat trials, {} heartbeat trials, {} s windows\n",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        binary::ironbeat()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| "(not built)".into()),
        o.trials,
        o.hb_trials,
        o.window.as_secs()
    );
    let _ = writeln!(
        t,
        "Detection after kill -9, ms: median / p95 / min / max (n)\n"
    );
    let _ = writeln!(
        t,
        "| medium | keepalive / deadtime | ironbeat, event ts_us | ironbeat, line arrival | \
         ironbeat within deadtime+keepalive | heartbeat 3.0.6, log line arrival | \
         hb / ironbeat (medians, arrival) |"
    );
    let _ = writeln!(t, "|---|---|---|---|---|---|---|");
    let none = ("—".to_string(), f64::NAN);
    let rows = [
        ("UDP ucast", "20 ms / 100 ms", &ours[0], none.clone()),
        (
            "serial (pty, 115200)",
            "20 ms / 100 ms",
            &ours[1],
            none.clone(),
        ),
        ("UDP ucast", "10 ms / 50 ms", &ours[2], legacy_cell(h_udp)),
        (
            "serial (pty, 115200); ironbeat refuses 10 ms at 115200 baud (line budget)",
            "10 ms / 50 ms",
            &ours[3],
            legacy_cell(h_ser),
        ),
    ];
    for (medium, settings, d, (lc, lm)) in rows {
        let (ts, arrival, within, ratio_cell) = match d {
            Some(d) => (
                d.by_ts.cell(),
                d.by_arrival.cell(),
                format!("{}/{}", d.within_bound, d.by_ts.0.len()),
                ratio(lm, d.by_arrival.quantile(0.5)),
            ),
            None => ("not run".into(), "not run".into(), "—".into(), "—".into()),
        };
        let _ = writeln!(
            t,
            "| {medium} | {settings} | {ts} | {arrival} | {within} | {lc} | {ratio_cell} |"
        );
    }

    let _ = writeln!(
        t,
        "\nIdle resources per node (UDP ucast pair; CPU over the window, memory at its end)\n"
    );
    let _ = writeln!(
        t,
        "| | ironbeat 20 ms | ironbeat 10 ms | heartbeat 3.0.6 10 ms (all its processes) | \
         hb / ironbeat at 10 ms |"
    );
    let _ = writeln!(t, "|---|---|---|---|---|");
    let hr = match h_res {
        Some(Ok(u)) => Some(avg(u)),
        Some(Err(e)) => {
            let _ = writeln!(t, "(heartbeat resources failed: {e})");
            None
        }
        None => None,
    };
    type Metric = (&'static str, fn(&Usage) -> f64, fn(&Usage) -> String);
    let metrics: [Metric; 3] = [
        (
            "CPU, % of one core",
            |u| u.cpu_percent,
            |u| format!("{:.2} %", u.cpu_percent),
        ),
        (
            "VmRSS",
            |u| u.rss_kib as f64,
            |u| format!("{:.1} MiB", u.rss_kib as f64 / 1024.0),
        ),
        (
            "PSS",
            |u| u.pss_kib as f64,
            |u| format!("{:.1} MiB", u.pss_kib as f64 / 1024.0),
        ),
    ];
    let show =
        |u: Option<Usage>, f: fn(&Usage) -> String| u.as_ref().map(f).unwrap_or_else(|| "—".into());
    for (name, value, fmt) in metrics {
        let r = match (hr, res10) {
            (Some(h), Some(us)) => ratio(value(&h), value(&us)),
            _ => "—".into(),
        };
        let _ = writeln!(
            t,
            "| {name} | {} | {} | {} | {r} |",
            show(res20, fmt),
            show(res10, fmt),
            show(hr, fmt)
        );
    }
    if let (Some(u20), [Some(a), Some(b), Some(c), _]) = (res20, ours) {
        let _ = writeln!(
            t,
            "\nTargets: detection ≤ deadtime + keepalive — UDP {}/{} and {}/{}, serial {}/{} \
             trials; RSS < 8 MiB — {:.1} MiB; idle CPU < 0.5 % at 20 ms — {:.2} %.",
            a.within_bound,
            a.by_ts.0.len(),
            c.within_bound,
            c.by_ts.0.len(),
            b.within_bound,
            b.by_ts.0.len(),
            u20.rss_kib as f64 / 1024.0,
            u20.cpu_percent
        );
    }
    t
}
