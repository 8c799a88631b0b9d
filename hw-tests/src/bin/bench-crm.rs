//! bench-crm: the policy engine's placement cost beside Pacemaker's
//! `crm_simulate` on the same generated CIBs, measured in the same run.
//!
//! Run it through `bench/crm-placement.sh` (builds release binaries).
//!
//! * The CIBs: a deterministic generator (below; seeded, no randomness
//!   from the system) writes clusters of N primitives over M nodes, all
//!   online with quorum, stonith disabled, feature set 3.16.1 (what Debian's
//!   crm_simulate 2.1.5 accepts), an empty status ("cold start") and
//!   `enable-startup-probes=false`, so both engines do pure placement plus
//!   the start graph. The mix follows the research generator (Pacemaker
//!   scale anchor, research/pacemaker.md §3): 30 % of the primitives in
//!   groups of 2–5, 2 % anonymous clones, 1 % promotable clones with a
//!   `role=Promoted` `#uname` rule, the rest standalone; over the T
//!   top-level resources 0.2·T location constraints (80 % node + score in
//!   −500..500 with 5 % ±INFINITY, 20 % `#uname` rules), 0.1·T acyclic
//!   colocations (70 % INFINITY, 15 % −INFINITY, 15 % finite) and 0.1·T
//!   orders (80 % Mandatory, 20 % Optional); `resource-stickiness=100`,
//!   `migration-threshold=3` in rsc_defaults.
//! * Each measured command runs under a fresh copy of this binary
//!   (`--measure-one`), which starts it, waits for it and reads
//!   `getrusage(RUSAGE_CHILDREN)`: wall time from spawn to exit, CPU time
//!   (user + system) and `ru_maxrss` (peak RSS of the largest process).
//!   Ours runs `--runs` times (default 5), crm_simulate `--peer-runs` times
//!   (default 3); each side's median run is reported.
//! * Rows: *ours in-process* (`--in-process FILE`: read the CIB, then
//!   `policy::schedule`, timed inside the process; its RSS is that child's),
//!   *ours as a process* (`ironbeat crm simulate --xml FILE --json`), and
//!   *crm_simulate* (`crm_simulate -R --output-as=xml -x FILE`: scheduler
//!   only, no simulated execution). The same placement is checked: the
//!   Transition Summary actions of both, anonymous clone instance numbers
//!   stripped, are compared as multisets.
//! * The linearity check schedules N = 10,000 over 32 nodes with the
//!   constraint counts scaled ×¼ … ×4 and prints the time per constraint
//!   and the growth exponent between the smallest and largest.
//!
//! Usage: `bench-crm [--runs N] [--peer-runs N] [--sizes 100x3,1000x16,…]
//! [--out FILE] [--keep DIR] [--no-peer] [--no-linearity]`; `bench-crm
//! --generate N M [--seed S] [--constraints X]` prints one CIB.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use ironbeat_hw_tests::measure::{self, loadavg, package_version as version, Measured};
use ironbeat_hw_tests::{binary, env, Result};

/// The longest one measured command may run (crm_simulate on 10,000
/// resources over 32 nodes takes tens of seconds on a slow machine).
const COMMAND_LIMIT: Duration = Duration::from_secs(900);

/// The default matrix: N resources × M nodes.
const SIZES: &[(usize, usize)] = &[
    (100, 3),
    (100, 16),
    (100, 32),
    (1000, 3),
    (1000, 16),
    (1000, 32),
    (10_000, 3),
    (10_000, 16),
    (10_000, 32),
];

/// Constraint scale factors of the linearity check.
const CONSTRAINT_SCALES: &[f64] = &[0.25, 0.5, 1.0, 2.0, 4.0];

// ---------------------------------------------------------------------------
// The generator

/// A small deterministic PRNG (SplitMix64): the same seed gives the same CIB
/// on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in 0..n (n > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// Uniform in lo..=hi.
    fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// What [`generate`] produced.
struct Generated {
    xml: String,
    primitives: usize,
    top_level: usize,
    constraints: usize,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Primitive,
    Group,
    Clone,
    Promotable,
}

/// Writes a cold-start CIB of `n` primitives over `m` nodes; `constraint_scale`
/// multiplies the number of location, colocation and order constraints.
fn generate(n: usize, m: usize, seed: u64, constraint_scale: f64) -> Generated {
    let mut rng = Rng(seed ^ ((n as u64) << 20) ^ m as u64);
    let nodes: Vec<String> = (1..=m).map(|i| format!("node{i}")).collect();
    let n_promo = n / 100;
    let n_clone = n * 2 / 100;
    let n_grouped = n * 30 / 100;
    let n_plain = n - n_promo - n_clone - n_grouped;
    let mut resources = String::new();
    let mut top: Vec<(String, Kind)> = Vec::new();
    let mut next_id = 0usize;
    fn primitive(next_id: &mut usize, indent: &str, out: &mut String) -> String {
        *next_id += 1;
        let id = format!("r{next_id}");
        let _ = write!(
            out,
            "{indent}<primitive id=\"{id}\" class=\"ocf\" provider=\"pacemaker\" type=\"Dummy\">\n\
             {indent}  <operations><op id=\"{id}-mon\" name=\"monitor\" interval=\"10s\" timeout=\"20s\"/></operations>\n\
             {indent}</primitive>\n"
        );
        id
    }
    let mut left = n_grouped;
    let mut groups = 0;
    while left > 0 {
        let size = left.min(2 + rng.below(4));
        groups += 1;
        let gid = format!("g{groups}");
        let _ = writeln!(resources, "      <group id=\"{gid}\">");
        for _ in 0..size {
            primitive(&mut next_id, "        ", &mut resources);
        }
        resources.push_str("      </group>\n");
        top.push((gid, Kind::Group));
        left -= size;
    }
    for _ in 0..n_clone {
        let mut body = String::new();
        let rid = primitive(&mut next_id, "        ", &mut body);
        let cid = format!("{rid}-clone");
        let _ = write!(
            resources,
            "      <clone id=\"{cid}\">\n        <meta_attributes id=\"{cid}-meta\">\
             <nvpair id=\"{cid}-ilv\" name=\"interleave\" value=\"false\"/></meta_attributes>\n\
             {body}      </clone>\n"
        );
        top.push((cid, Kind::Clone));
    }
    for _ in 0..n_promo {
        next_id += 1;
        let rid = format!("r{next_id}");
        let cid = format!("{rid}-promo");
        let _ = write!(
            resources,
            "      <clone id=\"{cid}\">\n        <meta_attributes id=\"{cid}-meta\">\
             <nvpair id=\"{cid}-p\" name=\"promotable\" value=\"true\"/>\
             <nvpair id=\"{cid}-pm\" name=\"promoted-max\" value=\"1\"/></meta_attributes>\n\
             \x20       <primitive id=\"{rid}\" class=\"ocf\" provider=\"pacemaker\" type=\"Stateful\">\n\
             \x20         <operations><op id=\"{rid}-m1\" name=\"monitor\" interval=\"10s\" role=\"Promoted\"/>\
             <op id=\"{rid}-m2\" name=\"monitor\" interval=\"11s\" role=\"Unpromoted\"/></operations>\n\
             \x20       </primitive>\n      </clone>\n"
        );
        top.push((cid, Kind::Promotable));
    }
    for _ in 0..n_plain {
        let rid = primitive(&mut next_id, "      ", &mut resources);
        top.push((rid, Kind::Primitive));
    }
    // Shuffle (Fisher–Yates): constraint indexes are over this order.
    for i in (1..top.len()).rev() {
        let j = rng.below(i + 1);
        top.swap(i, j);
    }
    let t = top.len();
    let scaled = |fraction: f64| ((t as f64) * fraction * constraint_scale) as usize;
    let mut constraints = String::new();
    let mut count = 0usize;
    for _ in 0..scaled(0.2) {
        count += 1;
        let rid = &top[rng.below(t)].0;
        if rng.unit() < 0.8 {
            let r = rng.unit();
            let score = if r < 0.05 {
                "INFINITY".to_string()
            } else if r < 0.10 {
                "-INFINITY".to_string()
            } else {
                rng.range(-500, 500).to_string()
            };
            let node = &nodes[rng.below(m)];
            let _ = writeln!(
                constraints,
                "      <rsc_location id=\"loc{count}\" rsc=\"{rid}\" node=\"{node}\" score=\"{score}\"/>"
            );
        } else {
            let op = if rng.unit() < 0.5 { "eq" } else { "ne" };
            let score = rng.range(50, 500);
            let node = &nodes[rng.below(m)];
            let _ = write!(
                constraints,
                "      <rsc_location id=\"loc{count}\" rsc=\"{rid}\">\n        \
                 <rule id=\"loc{count}-r\" score=\"{score}\"><expression id=\"loc{count}-e\" \
                 attribute=\"#uname\" operation=\"{op}\" value=\"{node}\"/></rule>\n      </rsc_location>\n"
            );
        }
    }
    for (rid, kind) in &top {
        if *kind == Kind::Promotable {
            count += 1;
            let node = &nodes[rng.below(m)];
            let _ = write!(
                constraints,
                "      <rsc_location id=\"loc{count}\" rsc=\"{rid}\">\n        \
                 <rule id=\"loc{count}-r\" role=\"Promoted\" score=\"100\"><expression \
                 id=\"loc{count}-e\" attribute=\"#uname\" operation=\"eq\" value=\"{node}\"/></rule>\n      \
                 </rsc_location>\n"
            );
        }
    }
    for k in 0..scaled(0.1) {
        if t < 2 {
            break;
        }
        let i = 1 + rng.below(t - 1);
        let j = rng.below(i);
        let r = rng.unit();
        if matches!(top[i].1, Kind::Clone | Kind::Promotable) {
            continue; // clones are colocation targets only
        }
        count += 1;
        let score = if r < 0.70 {
            "INFINITY".to_string()
        } else if r < 0.85 {
            "-INFINITY".to_string()
        } else {
            rng.range(-200, 200).to_string()
        };
        let role = if top[j].1 == Kind::Promotable && score == "INFINITY" {
            " with-rsc-role=\"Promoted\""
        } else {
            ""
        };
        let _ = writeln!(
            constraints,
            "      <rsc_colocation id=\"col{k}\" rsc=\"{}\" with-rsc=\"{}\" score=\"{score}\"{role}/>",
            top[i].0, top[j].0
        );
    }
    for k in 0..scaled(0.1) {
        if t < 2 {
            break;
        }
        let i = 1 + rng.below(t - 1);
        let j = rng.below(i);
        let kind = if rng.unit() < 0.8 {
            "Mandatory"
        } else {
            "Optional"
        };
        count += 1;
        let _ = writeln!(
            constraints,
            "      <rsc_order id=\"ord{k}\" first=\"{}\" then=\"{}\" kind=\"{kind}\"/>",
            top[j].0, top[i].0
        );
    }
    let mut xml = String::with_capacity(resources.len() + constraints.len() + 4096);
    xml.push_str(
        "<cib crm_feature_set=\"3.16.1\" validate-with=\"pacemaker-3.7\" epoch=\"1\" \
         num_updates=\"0\" admin_epoch=\"0\" have-quorum=\"1\" dc-uuid=\"1\">\n  <configuration>\n    \
         <crm_config>\n      <cluster_property_set id=\"cib-bootstrap-options\">\n        \
         <nvpair id=\"o1\" name=\"stonith-enabled\" value=\"false\"/>\n        \
         <nvpair id=\"o2\" name=\"no-quorum-policy\" value=\"stop\"/>\n        \
         <nvpair id=\"o3\" name=\"enable-startup-probes\" value=\"false\"/>\n      \
         </cluster_property_set>\n    </crm_config>\n    <nodes>\n",
    );
    for (i, name) in nodes.iter().enumerate() {
        let _ = writeln!(xml, "      <node id=\"{}\" uname=\"{name}\"/>", i + 1);
    }
    xml.push_str("    </nodes>\n    <resources>\n");
    xml.push_str(&resources);
    xml.push_str("    </resources>\n    <constraints>\n");
    xml.push_str(&constraints);
    xml.push_str(
        "    </constraints>\n    <rsc_defaults>\n      <meta_attributes id=\"rsc-options\">\n        \
         <nvpair id=\"d1\" name=\"resource-stickiness\" value=\"100\"/>\n        \
         <nvpair id=\"d2\" name=\"migration-threshold\" value=\"3\"/>\n      </meta_attributes>\n    \
         </rsc_defaults>\n  </configuration>\n  <status>\n",
    );
    for (i, name) in nodes.iter().enumerate() {
        let _ = writeln!(
            xml,
            "    <node_state id=\"{}\" uname=\"{name}\" in_ccm=\"true\" crmd=\"online\" \
             join=\"member\" expected=\"member\" crm-debug-origin=\"bench-crm\"/>",
            i + 1
        );
    }
    xml.push_str("  </status>\n</cib>\n");
    Generated {
        xml,
        primitives: next_id,
        top_level: t,
        constraints: count,
    }
}

// ---------------------------------------------------------------------------
// Measuring

/// What one measured command cost.
type Cost = Measured;

fn measure(argv: &[String]) -> Result<Cost> {
    measure::measure(argv, COMMAND_LIMIT)
}

/// `--in-process FILE RUNS`: reads the CIB and schedules it RUNS times in
/// this process; prints the median read and schedule times (µs) and the
/// summary actions of the last run as JSON.
fn in_process(file: &Path, runs: usize) -> Result<()> {
    let text = fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let mut read_us = Vec::new();
    let mut schedule_us = Vec::new();
    let mut render_us = Vec::new();
    let mut actions = Vec::new();
    for _ in 0..runs.max(1) {
        let start = Instant::now();
        let document = ironbeat_crm::cib::read(&text)
            .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
        read_us.push(start.elapsed().as_micros() as u64);
        let start = Instant::now();
        // Placement as the daemon and `crm simulate` without --show-scores
        // run it: no allocation-score lines (crm_simulate -R prints none).
        let transition = ironbeat_crm::policy::schedule_with(
            &document.cluster,
            0,
            ironbeat_crm::policy::Options { scores: false },
        );
        schedule_us.push(start.elapsed().as_micros() as u64);
        let start = Instant::now();
        actions = ironbeat_crm::simulate::placement_lines(&document.cluster, &transition)
            .into_iter()
            .filter(|l| l.starts_with("action\t"))
            .collect();
        render_us.push(start.elapsed().as_micros() as u64);
    }
    let v = serde_json::json!({
        "read_us": median(&read_us),
        "schedule_us": median(&schedule_us),
        "render_us": median(&render_us),
        "actions": actions,
    });
    println!("{v}");
    Ok(())
}

fn median(v: &[u64]) -> u64 {
    let mut v = v.to_vec();
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or(0)
}

/// The Transition Summary of `crm_simulate --output-as=xml` as the corpus's
/// `action` lines (reason dropped), anonymous clone numbers stripped.
fn peer_actions(xml: &str) -> Result<Vec<String>> {
    let doc = roxmltree::Document::parse(xml).context("crm_simulate printed no XML")?;
    let mut out = Vec::new();
    if let Some(actions) = doc.descendants().find(|n| n.has_tag_name("actions")) {
        for a in actions.children().filter(|n| n.is_element()) {
            let rank = |k: &str| match k {
                "action" | "task" => 0,
                "resource" => 1,
                "node" => 2,
                "source" => 3,
                "dest" => 4,
                _ => 9,
            };
            let mut attrs: Vec<(String, String)> = a
                .attributes()
                .filter(|x| x.name() != "reason")
                .map(|x| (x.name().to_string(), x.value().to_string()))
                .collect();
            attrs.sort_by(|x, y| rank(&x.0).cmp(&rank(&y.0)).then(x.0.cmp(&y.0)));
            let line: Vec<String> = attrs.iter().map(|(k, v)| format!("{k}={v}")).collect();
            out.push(format!("action\t{}", line.join("\t")));
        }
    }
    Ok(out)
}

/// Drops `reason=` and anonymous clone numbers (`rsc:3` → `rsc`; the
/// generator's clones are all anonymous) so two summaries compare.
fn normalise(lines: &[String]) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for l in lines {
        let fields: Vec<String> = l
            .split('\t')
            .filter(|f| !f.starts_with("reason="))
            .map(|f| match f.strip_prefix("resource=") {
                Some(r) => format!("resource={}", r.split(':').next().unwrap_or(r)),
                None => f.to_string(),
            })
            .collect();
        *out.entry(fields.join("\t")).or_insert(0) += 1;
    }
    out
}

/// How many lines of `a` and `b` (multisets) agree, of the larger count.
fn agreement(a: &BTreeMap<String, usize>, b: &BTreeMap<String, usize>) -> (usize, usize) {
    let common: usize = a
        .iter()
        .map(|(k, n)| (*n).min(b.get(k).copied().unwrap_or(0)))
        .sum();
    let total = a.values().sum::<usize>().max(b.values().sum::<usize>());
    (common, total)
}

// ---------------------------------------------------------------------------
// The run

struct Options {
    runs: usize,
    /// crm_simulate runs per size (the median is reported).
    peer_runs: usize,
    sizes: Vec<(usize, usize)>,
    out: Option<PathBuf>,
    keep: Option<PathBuf>,
    peer: bool,
    linearity: bool,
}

fn options(args: &[String]) -> Result<Options> {
    let mut o = Options {
        runs: 5,
        peer_runs: 3,
        sizes: SIZES.to_vec(),
        out: None,
        keep: None,
        peer: true,
        linearity: true,
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .with_context(|| format!("{name} needs a value"))
        };
        match a.as_str() {
            "--runs" => o.runs = value("--runs")?.parse().context("--runs")?,
            "--peer-runs" => o.peer_runs = value("--peer-runs")?.parse().context("--peer-runs")?,
            "--sizes" => {
                o.sizes = value("--sizes")?
                    .split(',')
                    .map(|s| {
                        let (n, m) = s.split_once('x').context("--sizes takes NxM,NxM…")?;
                        Ok((n.trim().parse()?, m.trim().parse()?))
                    })
                    .collect::<Result<_>>()?;
            }
            "--out" => o.out = Some(PathBuf::from(value("--out")?)),
            "--keep" => o.keep = Some(PathBuf::from(value("--keep")?)),
            "--no-peer" => o.peer = false,
            "--no-linearity" => o.linearity = false,
            "-h" | "--help" => {
                println!(
                    "bench-crm [--runs N] [--peer-runs N] [--sizes 100x3,1000x16,…] [--out FILE] \
                     [--keep DIR] [--no-peer] [--no-linearity]\n\
                     bench-crm --generate N M [--seed S] [--constraints X]"
                );
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?} (try --help)"),
        }
    }
    if o.runs == 0 || o.peer_runs == 0 {
        bail!("--runs and --peer-runs must be at least 1");
    }
    if o.sizes.iter().any(|&(n, m)| n == 0 || m == 0) {
        bail!("--sizes: N and M must be at least 1");
    }
    Ok(o)
}

/// One row of the table.
struct Row {
    n: usize,
    m: usize,
    primitives: usize,
    constraints: usize,
    xml_bytes: usize,
    read_us: u64,
    schedule_us: u64,
    in_process: Cost,
    process: Cost,
    /// The median CPU time (user + system) of the process runs, µs: what
    /// the other work on a shared machine changes least.
    process_cpu_us: u64,
    peer: Option<Cost>,
    agreement: Option<(usize, usize)>,
    ours_actions: usize,
    /// The transition has actions stuck on an ordering loop: `ironbeat crm
    /// simulate` printed the whole document and exited 1 (see
    /// [`completed_with_loop`]).
    ordering_loop: bool,
}

/// Whether `ironbeat crm simulate --json` did all its work on a CIB whose
/// transition cannot complete: random constraints can order actions in a
/// loop (a mandatory anti-colocation's stop-before-start against a
/// mandatory order), which `crm_simulate -S` reports as "Transition failed:
/// terminated" too. The document is complete and the exit status 1 says
/// so; the run is timed like any other.
fn completed_with_loop(c: &Cost) -> bool {
    c.code == 1
        && c.stderr.contains("the transition cannot complete")
        && serde_json::from_str::<serde_json::Value>(&c.stdout)
            .is_ok_and(|v| v.get("summary").is_some())
}

fn ms(us: f64) -> String {
    if us >= 100_000.0 {
        format!("{:.2} s", us / 1e6)
    } else if us >= 1000.0 {
        format!("{:.1} ms", us / 1000.0)
    } else {
        format!("{:.2} ms", us / 1000.0)
    }
}

fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

fn ratio(theirs: f64, ours: f64) -> String {
    if ours > 0.0 && theirs > 0.0 {
        format!("{:.0}×", theirs / ours)
    } else {
        "—".into()
    }
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let result = match argv.first().map(String::as_str) {
        Some(measure::MEASURE_ONE) => {
            measure::measure_one(&argv[1..], &[("LC_ALL", "C")], COMMAND_LIMIT)
        }
        Some("--in-process") => match (argv.get(1), argv.get(2)) {
            (Some(file), runs) => in_process(
                Path::new(file),
                runs.and_then(|r| r.parse().ok()).unwrap_or(1),
            ),
            _ => Err(anyhow::anyhow!("--in-process FILE [RUNS]")),
        },
        Some("--generate") => generate_cmd(&argv[1..]),
        _ => options(&argv).and_then(|o| run(&o)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench-crm: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn generate_cmd(args: &[String]) -> Result<()> {
    let n: usize = args.first().context("--generate N M")?.parse()?;
    let m: usize = args.get(1).context("--generate N M")?.parse()?;
    let mut seed = 1u64;
    let mut scale = 1.0f64;
    let mut it = args[2..].iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seed" => seed = it.next().context("--seed S")?.parse()?,
            "--constraints" => scale = it.next().context("--constraints X")?.parse()?,
            other => bail!("unknown argument {other:?}"),
        }
    }
    if n == 0 || m == 0 {
        bail!("N and M must be at least 1");
    }
    let g = generate(n, m, seed, scale);
    print!("{}", g.xml);
    eprintln!(
        "primitives={} top-level={} constraints={}",
        g.primitives, g.top_level, g.constraints
    );
    Ok(())
}

fn run(o: &Options) -> Result<()> {
    let ironbeat = binary::target_dir().join("release").join("ironbeat");
    if !ironbeat.is_file() {
        bail!(
            "{} not found: cargo build --release -p ironbeat (bench/crm-placement.sh does)",
            ironbeat.display()
        );
    }
    let peer = o.peer && env::has_tool("crm_simulate");
    if o.peer && !peer {
        bail!(
            "crm_simulate not found: apt-get install pacemaker-cli-utils \
             (or scripts/install-test-deps.sh), or pass --no-peer"
        );
    }
    let scratch = match &o.keep {
        Some(dir) => {
            fs::create_dir_all(dir)?;
            dir.clone()
        }
        None => {
            let dir = std::env::temp_dir().join(format!("bench-crm-{}", std::process::id()));
            fs::create_dir_all(&dir)?;
            dir
        }
    };
    let load_start = loadavg();
    let started = Instant::now();
    let me = std::env::current_exe()?.to_string_lossy().into_owned();
    let mut rows = Vec::new();
    for &(n, m) in &o.sizes {
        eprint!("\r  {n} resources × {m} nodes   ");
        let g = generate(n, m, 1, 1.0);
        let file = scratch.join(format!("cib-{n}x{m}.xml"));
        fs::write(&file, &g.xml)?;
        let path = file.to_string_lossy().into_owned();
        let in_process = measure(&[
            me.clone(),
            "--in-process".into(),
            path.clone(),
            o.runs.to_string(),
        ])?;
        if in_process.code != 0 {
            bail!("in-process run failed on {path}: {}", in_process.stderr);
        }
        let v: serde_json::Value = serde_json::from_str(in_process.stdout.trim())?;
        let ours: Vec<String> = v["actions"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        let mut process_costs = Vec::new();
        let mut ordering_loop = false;
        for _ in 0..o.runs {
            let c = measure(&[
                ironbeat.to_string_lossy().into_owned(),
                "crm".into(),
                "simulate".into(),
                "--xml".into(),
                path.clone(),
                "--json".into(),
            ])?;
            if c.code != 0 && !completed_with_loop(&c) {
                bail!("ironbeat crm simulate failed on {path}: {}", c.stderr);
            }
            ordering_loop |= c.code != 0;
            process_costs.push(c);
        }
        let process_cpu_us = median(&process_costs.iter().map(|c| c.cpu_us).collect::<Vec<_>>());
        process_costs.sort_by_key(|c| c.wall_us);
        let process = process_costs[process_costs.len() / 2].clone();
        let (peer_cost, agree) = if peer {
            let mut costs = Vec::new();
            for _ in 0..o.peer_runs {
                costs.push(measure(&[
                    "crm_simulate".into(),
                    "-R".into(),
                    "--output-as=xml".into(),
                    "-x".into(),
                    path.clone(),
                ])?);
            }
            // The median run by wall time, as for ours.
            costs.sort_by_key(|c| c.wall_us);
            let c = costs.swap_remove(costs.len() / 2);
            let theirs = peer_actions(&c.stdout).unwrap_or_default();
            let agree = agreement(&normalise(&ours), &normalise(&theirs));
            (Some(c), Some(agree))
        } else {
            (None, None)
        };
        rows.push(Row {
            n,
            m,
            primitives: g.primitives,
            constraints: g.constraints,
            xml_bytes: g.xml.len(),
            read_us: v["read_us"].as_u64().unwrap_or(0),
            schedule_us: v["schedule_us"].as_u64().unwrap_or(0),
            in_process,
            process,
            process_cpu_us,
            peer: peer_cost,
            agreement: agree,
            ours_actions: ours.len(),
            ordering_loop,
        });
    }
    let mut linear = Vec::new();
    if o.linearity {
        for &scale in CONSTRAINT_SCALES {
            eprint!("\r  linearity ×{scale}            ");
            let g = generate(10_000, 32, 1, scale);
            let file = scratch.join(format!("cib-10000x32-c{scale}.xml"));
            fs::write(&file, &g.xml)?;
            let c = measure(&[
                me.clone(),
                "--in-process".into(),
                file.to_string_lossy().into_owned(),
                o.runs.to_string(),
            ])?;
            let v: serde_json::Value = serde_json::from_str(c.stdout.trim())
                .with_context(|| format!("in-process run failed: {}", c.stderr))?;
            linear.push((scale, g.constraints, v["schedule_us"].as_u64().unwrap_or(0)));
        }
    }
    eprintln!();
    if o.keep.is_none() {
        let _ = fs::remove_dir_all(&scratch);
    }
    let t = report(o, &rows, &linear, &load_start, started.elapsed());
    print!("{t}");
    if let Some(path) = &o.out {
        fs::write(path, &t).with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("written to {}", path.display());
    }
    Ok(())
}

fn report(
    o: &Options,
    rows: &[Row],
    linear: &[(f64, usize, u64)],
    load_start: &str,
    elapsed: Duration,
) -> String {
    let mut t = String::new();
    let uname = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    let _ = writeln!(
        t,
        "bench-crm — kernel {uname}, {} CPUs, load average {load_start} → {}; \
         pacemaker-cli-utils {}; ours: median of {} runs, crm_simulate: median of {}; {:.0} s \
         in all\n",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        loadavg(),
        version("pacemaker-cli-utils"),
        o.runs,
        o.peer_runs,
        elapsed.as_secs_f64()
    );
    let _ = writeln!(
        t,
        "| N × M | constraints | CIB | ours: schedule | ours: read+schedule, RSS | \
         `ironbeat crm simulate` wall, RSS | `crm_simulate -R` wall, RSS | wall ratio (process) | \
         CPU ratio (process) | schedule ratio | RSS ratio | same summary |"
    );
    let _ = writeln!(
        t,
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for r in rows {
        let (peer_wall, peer_rss) = r
            .peer
            .as_ref()
            .map_or((String::from("—"), String::from("—")), |c| {
                (ms(c.wall_us as f64), mib(c.rss_kib))
            });
        let peer_us = r.peer.as_ref().map_or(0.0, |c| c.wall_us as f64);
        let peer_cpu_us = r.peer.as_ref().map_or(0.0, |c| c.cpu_us as f64);
        let peer_kib = r.peer.as_ref().map_or(0.0, |c| c.rss_kib as f64);
        let same = r.agreement.map_or("—".to_string(), |(a, b)| {
            format!("{a}/{b} ({} ours)", r.ours_actions)
        });
        let _ = writeln!(
            t,
            "| {} × {} ({} prim.) | {} | {} kB | {} | {}, {} MiB | {}, {} MiB | {}, {} MiB | {} | {} | {} | {} | {} |",
            r.n,
            r.m,
            r.primitives,
            r.constraints,
            r.xml_bytes.div_ceil(1000),
            ms(r.schedule_us as f64),
            ms((r.read_us + r.schedule_us) as f64),
            mib(r.in_process.rss_kib),
            ms(r.process.wall_us as f64),
            mib(r.process.rss_kib),
            peer_wall,
            peer_rss,
            ratio(peer_us, r.process.wall_us as f64),
            ratio(peer_cpu_us, r.process_cpu_us as f64),
            ratio(peer_us, r.schedule_us as f64),
            if r.process.rss_kib > 0 && peer_kib > 0.0 {
                format!("{:.1}×", peer_kib / r.process.rss_kib as f64)
            } else {
                "—".into()
            },
            same
        );
    }
    let _ = writeln!(
        t,
        "\nschedule = `policy::schedule` alone in-process (median); read = `cib::read` of the \
         XML. Wall ratio = crm_simulate wall / `ironbeat crm simulate` wall, both whole \
         processes (start, read, schedule, print); CPU ratio = the same with user + system \
         CPU time (ours: median of the runs), which other load on the machine changes less \
         than wall time. Schedule ratio = crm_simulate wall / our \
         schedule time. Same summary = Transition Summary lines identical (multiset, anonymous \
         clone numbers and reasons dropped) / the larger of the two counts."
    );
    let looped: Vec<String> = rows
        .iter()
        .filter(|r| r.ordering_loop)
        .map(|r| format!("{} × {}", r.n, r.m))
        .collect();
    if !looped.is_empty() {
        let _ = writeln!(
            t,
            "\nThe generated CIB of {} orders some actions in a loop (random mandatory \
             anti-colocations and orders): `ironbeat crm simulate` prints the whole placement \
             and exits 1, as `crm_simulate -S` reports \"Transition failed: terminated\" on \
             such CIBs; it is timed like the others.",
            looped.join(", ")
        );
    }
    if !linear.is_empty() {
        let _ = writeln!(
            t,
            "\nCost in constraints (10,000 resources × 32 nodes, constraint counts scaled):\n"
        );
        let _ = writeln!(t, "| scale | constraints | schedule | µs per constraint |");
        let _ = writeln!(t, "|---:|---:|---:|---:|");
        for (scale, c, us) in linear {
            let _ = writeln!(
                t,
                "| ×{scale} | {c} | {} | {:.2} |",
                ms(*us as f64),
                *us as f64 / (*c).max(1) as f64
            );
        }
        if let (Some(first), Some(last)) = (linear.first(), linear.last()) {
            let c_ratio = last.1 as f64 / first.1.max(1) as f64;
            let t_ratio = last.2 as f64 / first.2.max(1) as f64;
            let exponent = t_ratio.ln() / c_ratio.ln();
            let _ = writeln!(
                t,
                "\n{:.0}× the constraints cost {:.2}× the time: growth exponent {:.2} \
                 ({}; 1.0 is linear, the fixed per-resource cost pulls it below 1).",
                c_ratio,
                t_ratio,
                exponent,
                if exponent <= 1.1 {
                    "no worse than linear"
                } else {
                    "WORSE than linear"
                }
            );
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generator_is_deterministic_and_well_formed() {
        let a = generate(200, 5, 7, 1.0);
        let b = generate(200, 5, 7, 1.0);
        assert_eq!(a.xml, b.xml);
        assert_ne!(a.xml, generate(200, 5, 8, 1.0).xml);
        let doc = roxmltree::Document::parse(&a.xml).unwrap();
        let primitives = doc
            .descendants()
            .filter(|n| n.has_tag_name("primitive"))
            .count();
        assert_eq!(primitives, a.primitives);
        assert_eq!(a.primitives, 200);
        let doubled = generate(200, 5, 7, 2.0);
        assert!(
            doubled.constraints > a.constraints * 3 / 2,
            "{} {}",
            doubled.constraints,
            a.constraints
        );
    }

    #[test]
    fn only_a_complete_document_with_a_loop_counts_as_done() {
        let done = Cost {
            code: 1,
            stdout: r#"{"summary": [], "actions": []}"#.into(),
            stderr: "ironbeat: f.xml: the transition cannot complete: 1 action(s) wait".into(),
            ..Cost::default()
        };
        assert!(completed_with_loop(&done));
        let cut = Cost {
            stdout: r#"{"summary": ["#.into(),
            ..done.clone()
        };
        assert!(!completed_with_loop(&cut));
        let other = Cost {
            stderr: "ironbeat: f.xml: line 3: not XML".into(),
            ..done.clone()
        };
        assert!(!completed_with_loop(&other));
        let crashed = Cost { code: -1, ..done };
        assert!(!completed_with_loop(&crashed));
    }

    #[test]
    fn peer_actions_normalise_like_ours() {
        let xml = r#"<pacemaker-result><actions>
            <rsc_action action="start" resource="r1:3" node="node2" reason="x"/>
            <rsc_action action="move" resource="r2" source="node1" dest="node2"/>
        </actions></pacemaker-result>"#;
        let lines = peer_actions(xml).unwrap();
        assert_eq!(
            lines,
            vec![
                "action\taction=start\tresource=r1:3\tnode=node2",
                "action\taction=move\tresource=r2\tsource=node1\tdest=node2"
            ]
        );
        let ours = vec!["action\taction=start\tresource=r1:0\tnode=node2\treason=y".to_string()];
        let (same, total) = agreement(&normalise(&ours), &normalise(&lines));
        assert_eq!((same, total), (1, 2));
    }
}
