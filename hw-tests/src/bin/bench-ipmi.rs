//! bench-ipmi: IPMI-over-LAN fencing latency, CPU and peak memory of
//! ironbeat's `stonith -t ipmi` and `fence_ironbeat`, beside ipmitool,
//! fence_ipmilan and cluster-glue's `external/ipmi` and `ipmilan` plugins,
//! measured in the same run against the same OpenIPMI `ipmi_sim`.
//!
//! Run it through `bench/ipmi-fencing.sh` (root; builds release binaries).
//!
//! * The lab: two network namespaces `ibbench-<pid>-bmc` (198.18.30.2, with
//!   `ipmi_sim` on UDP 623 and the chassis hook of `fence/tests/ipmi_sim/`)
//!   and `ibbench-<pid>-cli` (198.18.30.1), joined by a veth pair. The
//!   harness moves itself into the client namespace (setns), so every tool
//!   is started directly, without `ip netns exec` in its figures.
//! * Each measured command runs under a fresh copy of this binary
//!   (`--measure-one`), which starts it, waits for it and reads
//!   `getrusage(RUSAGE_CHILDREN)`: the command's utime + stime (its whole
//!   process tree, µs resolution) and `ru_maxrss` (the largest single process
//!   of that tree), plus the wall time from spawn to exit.
//! * The cases run round-robin (one run of each, N times, after one warm-up
//!   round), so a change of machine load hits every tool alike. The machine
//!   is powered on again (the hook's state file) before every run.
//!
//! Usage: `bench-ipmi [--runs N] [--out FILE]`

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use ironbeat_hw_tests::ipmi_sim::SimBmc;
use ironbeat_hw_tests::measure::{self, loadavg, package_version as version};
use ironbeat_hw_tests::{binary, env, Result};

/// The BMC's address (the lab's /24 is 198.18.30.0/24).
const BMC_IP: &str = "198.18.30.2";
/// The client's address.
const CLIENT_IP: &str = "198.18.30.1";
/// The BMC account of `fence/tests/ipmi_sim/lan.conf.in`.
const USER: &str = "admin";
const PASSWORD: &str = "labpass";
/// The node the BMC powers, as the stonith plugins name it.
const NODE: &str = "node2";
/// The longest one measured command may run (cluster-glue `ipmilan` never
/// gives up on its own).
const COMMAND_LIMIT: Duration = Duration::from_secs(30);
/// cluster-glue's `stonith`, which has the same name as ours.
const GLUE_STONITH: &str = "/usr/sbin/stonith";

struct Options {
    runs: usize,
    out: Option<PathBuf>,
}

fn options() -> Result<Options> {
    let mut o = Options {
        runs: 10,
        out: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().with_context(|| format!("{name} needs a value"));
        match a.as_str() {
            "--runs" => o.runs = value("--runs")?.parse()?,
            "--out" => o.out = Some(PathBuf::from(value("--out")?)),
            "-h" | "--help" => {
                println!("bench-ipmi [--runs N] [--out FILE]");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?} (try --help)"),
        }
    }
    if o.runs == 0 {
        bail!("--runs must be at least 1");
    }
    Ok(o)
}

/// What one measured command cost.
#[derive(Debug, Clone, Copy, Default)]
struct Cost {
    wall_us: u64,
    cpu_us: u64,
    rss_kib: u64,
    ok: bool,
}

/// The output of a `--measure-one` child.
struct Measured {
    cost: Cost,
    code: i64,
    output: String,
}

fn measure(argv: &[String]) -> Result<Measured> {
    let m = measure::measure(argv, COMMAND_LIMIT)?;
    Ok(Measured {
        cost: Cost {
            wall_us: m.wall_us,
            cpu_us: m.cpu_us,
            rss_kib: m.rss_kib,
            ok: false,
        },
        code: m.code,
        output: format!("{}{}", m.stdout, m.stderr),
    })
}

/// The lab: ipmi_sim in one namespace, the client side in the other
/// (hw-tests' [`SimBmc`] on 198.18.30.0/24).
struct Lab {
    sim: SimBmc,
}

impl Lab {
    fn start() -> Result<Lab> {
        let sim = SimBmc::start("ibbench", "198.18.30")?;
        if sim.bmc_ip() != BMC_IP || sim.client_ip() != CLIENT_IP {
            bail!(
                "the lab's addresses moved: {} / {}",
                sim.bmc_ip(),
                sim.client_ip()
            );
        }
        Ok(Lab { sim })
    }

    fn state(&self) -> &Path {
        self.sim.state()
    }

    fn hook(&self) -> PathBuf {
        self.state().join("chassis-control.sh")
    }

    fn set_power_on(&self) -> Result<()> {
        self.sim.set_power(true)
    }

    fn power_on(&self) -> bool {
        self.sim.power_on()
    }

    fn events_len(&self) -> usize {
        self.sim.events().lines().count()
    }

    fn events_since(&self, from: usize) -> Vec<String> {
        self.sim
            .events()
            .lines()
            .skip(from)
            .map(str::to_string)
            .collect()
    }

    /// Moves this (single-threaded) process into the client namespace.
    fn enter_client(&self) -> Result<()> {
        let ns = fs::File::open(format!("/run/netns/{}", self.sim.cli_ns()))?;
        nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET)
            .context("setns into the client namespace")?;
        Ok(())
    }

    fn sim_alive(&mut self) -> bool {
        self.sim.is_running()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Act {
    Status,
    Reboot,
}

/// Whom a row is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ours {
    /// This row is ours.
    Itself,
    /// Compared with our `stonith` (same command-line family, or ipmitool).
    Stonith,
    /// Compared with `fence_ironbeat` (the fence-agents protocol).
    Agent,
}

/// One benchmarked case: a tool doing one action, as one or more commands.
struct Case {
    tool: &'static str,
    act: Act,
    how: &'static str,
    verifies_off: &'static str,
    versus: Ours,
    commands: Vec<Vec<String>>,
    /// Expected exit code.
    expect: i64,
    costs: Vec<Cost>,
    failures: Vec<String>,
}

fn words(s: &[&str]) -> Vec<String> {
    s.iter().map(|w| w.to_string()).collect()
}

fn cases(stonith: &str, agent: &str, pwfile: &str) -> Vec<Case> {
    let script = format!("cat {pwfile}");
    let ours_stonith = |tail: &[&str]| {
        let mut v = words(&[
            stonith,
            "-t",
            "ipmi",
            &format!("hostname={NODE}"),
            &format!("ipaddr={BMC_IP}"),
            &format!("userid={USER}"),
            &format!("passwd_file={pwfile}"),
            "interface=lanplus -C 3",
        ]);
        v.extend(words(tail));
        v
    };
    let ours_agent = |action: &str| {
        words(&[
            agent,
            "--ip",
            BMC_IP,
            "--username",
            USER,
            "--password-script",
            &script,
            "--lanplus",
            "--cipher",
            "3",
            "-o",
            action,
        ])
    };
    let ipmitool = |op: &str| {
        words(&[
            "ipmitool", "-I", "lanplus", "-C", "3", "-H", BMC_IP, "-U", USER, "-P", PASSWORD,
            "chassis", "power", op,
        ])
    };
    let ipmilan = |action: &str, extra: &[&str]| {
        let mut v = words(&[
            "fence_ipmilan",
            &format!("--ip={BMC_IP}"),
            &format!("--username={USER}"),
            &format!("--password-script={script}"),
            "--lanplus",
            "--cipher=3",
            &format!("--action={action}"),
        ]);
        v.extend(words(extra));
        v
    };
    let external = |tail: &[&str]| {
        let mut v = words(&[
            GLUE_STONITH,
            "-t",
            "external/ipmi",
            &format!("hostname={NODE}"),
            &format!("ipaddr={BMC_IP}"),
            &format!("userid={USER}"),
            &format!("passwd={PASSWORD}"),
            "interface=lanplus -C 3",
        ]);
        v.extend(words(tail));
        v
    };
    let glue_ipmilan = |tail: &[&str]| {
        let mut v = words(&[
            GLUE_STONITH,
            "-t",
            "ipmilan",
            &format!("hostname={NODE}"),
            &format!("ipaddr={BMC_IP}"),
            "port=623",
            "auth=md5",
            "priv=admin",
            &format!("login={USER}"),
            &format!("password={PASSWORD}"),
        ]);
        v.extend(words(tail));
        v
    };
    let case = |tool, act, how, verifies_off, versus, commands, expect| Case {
        tool,
        act,
        how,
        verifies_off,
        versus,
        commands,
        expect,
        costs: Vec::new(),
        failures: Vec::new(),
    };
    use Act::{Reboot, Status};
    vec![
        case(
            "ironbeat `stonith -t ipmi`",
            Status,
            "`-S`",
            "—",
            Ours::Itself,
            vec![ours_stonith(&["-S"])],
            0,
        ),
        case(
            "ironbeat `fence_ironbeat`",
            Status,
            "`-o status`",
            "—",
            Ours::Itself,
            vec![ours_agent("status")],
            0,
        ),
        case(
            "ipmitool `-I lanplus -C 3`",
            Status,
            "`chassis power status`",
            "—",
            Ours::Stonith,
            vec![ipmitool("status")],
            0,
        ),
        case(
            "fence_ipmilan `--lanplus --cipher=3`",
            Status,
            "`-o status`",
            "—",
            Ours::Agent,
            vec![ipmilan("status", &[])],
            0,
        ),
        case(
            "cluster-glue `external/ipmi`",
            Status,
            "`-S` (ipmitool power status)",
            "—",
            Ours::Stonith,
            vec![external(&["-S"])],
            0,
        ),
        case(
            "cluster-glue `ipmilan` (IPMI 1.5, MD5)",
            Status,
            "`-S` (Get Device ID only)",
            "—",
            Ours::Stonith,
            vec![glue_ipmilan(&["-S"])],
            0,
        ),
        case(
            "ironbeat `stonith -t ipmi`",
            Reboot,
            "`-T reset` (off, verify, on, verify)",
            "yes",
            Ours::Itself,
            vec![ours_stonith(&["-T", "reset", NODE])],
            0,
        ),
        case(
            "ironbeat `fence_ironbeat`",
            Reboot,
            "`-o reboot` (off, verify, on, verify)",
            "yes",
            Ours::Itself,
            vec![ours_agent("reboot")],
            0,
        ),
        case(
            "ipmitool `-I lanplus -C 3`",
            Reboot,
            "`chassis power reset`",
            "no",
            Ours::Stonith,
            vec![ipmitool("reset")],
            0,
        ),
        case(
            "ipmitool `-I lanplus -C 3`",
            Reboot,
            "`power off` + `power on` (2 runs)",
            "no",
            Ours::Stonith,
            vec![ipmitool("off"), ipmitool("on")],
            0,
        ),
        case(
            "fence_ipmilan `--lanplus --cipher=3`",
            Reboot,
            "`-o reboot`, defaults (power_wait=2)",
            "yes",
            Ours::Agent,
            vec![ipmilan("reboot", &[])],
            0,
        ),
        case(
            "fence_ipmilan `--lanplus --cipher=3`",
            Reboot,
            "`-o reboot --power-wait=0`",
            "yes",
            Ours::Agent,
            vec![ipmilan("reboot", &["--power-wait=0"])],
            0,
        ),
        case(
            "cluster-glue `external/ipmi`",
            Reboot,
            "`-T reset` (status, then chassis reset)",
            "no",
            Ours::Stonith,
            vec![external(&["-T", "reset", NODE])],
            0,
        ),
        case(
            "cluster-glue `ipmilan` (IPMI 1.5, MD5)",
            Reboot,
            "`-T reset` (hard reset)",
            "no",
            Ours::Stonith,
            vec![glue_ipmilan(&["-T", "reset", NODE])],
            0,
        ),
    ]
}

/// Runs one case once: its commands in sequence, costs summed (RSS: the max).
fn run_case(lab: &Lab, case: &Case) -> Result<(Cost, Option<String>)> {
    lab.set_power_on()?;
    let before = lab.events_len();
    let mut total = Cost {
        ok: true,
        ..Cost::default()
    };
    let mut failure = None;
    for argv in &case.commands {
        let m = measure(argv)?;
        total.wall_us += m.cost.wall_us;
        total.cpu_us += m.cost.cpu_us;
        total.rss_kib = total.rss_kib.max(m.cost.rss_kib);
        if m.code != case.expect {
            total.ok = false;
            failure.get_or_insert_with(|| {
                format!(
                    "exit {} (expected {}): {}",
                    m.code,
                    case.expect,
                    m.output.trim().lines().last().unwrap_or("")
                )
            });
        }
    }
    if case.act == Act::Reboot {
        let ops = lab.events_since(before);
        let off_seen = ops.iter().any(|l| l.contains("set power 0"));
        let reset_seen = ops.iter().any(|l| l.contains("set reset"));
        if !(off_seen || reset_seen) || !lab.power_on() {
            total.ok = false;
            failure.get_or_insert_with(|| {
                format!("the hook saw no power-off or reset, or the machine ended off: {ops:?}")
            });
        }
    }
    Ok((total, failure))
}

/// Nearest-rank quantile of `v` (any order).
fn quantile(v: &[u64], q: f64) -> f64 {
    let mut v = v.to_vec();
    v.sort_unstable();
    if v.is_empty() {
        return f64::NAN;
    }
    v[((v.len() - 1) as f64 * q).round() as usize] as f64
}

fn median_of(costs: &[Cost], f: fn(&Cost) -> u64) -> f64 {
    quantile(&costs.iter().map(f).collect::<Vec<_>>(), 0.5)
}

fn ms(us: f64) -> String {
    if us >= 100_000.0 {
        format!("{:.2} s", us / 1e6)
    } else {
        format!("{:.1} ms", us / 1000.0)
    }
}

fn ratio(theirs: f64, ours: f64) -> String {
    if ours > 0.0 && theirs.is_finite() && ours.is_finite() {
        format!("{:.1}×", theirs / ours)
    } else {
        "—".into()
    }
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let result = match argv.first().map(String::as_str) {
        Some(measure::MEASURE_ONE) => measure::measure_one(&argv[1..], &[], COMMAND_LIMIT),
        _ => run(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench-ipmi: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let o = options()?;
    if !nix::unistd::geteuid().is_root() {
        bail!("needs root (network namespaces): sudo bench/ipmi-fencing.sh");
    }
    let release = binary::target_dir().join("release");
    let stonith = release.join("stonith");
    let agent = release.join("fence_ironbeat");
    for b in [&stonith, &agent] {
        if !b.is_file() {
            bail!(
                "{} not found: cargo build --release -p ironbeat (bench/ipmi-fencing.sh does)",
                b.display()
            );
        }
    }
    let tools = [
        "ip",
        "ss",
        "ipmi_sim",
        "ipmitool",
        "fence_ipmilan",
        GLUE_STONITH,
    ];
    let missing: Vec<&str> = tools.into_iter().filter(|t| !env::has_tool(t)).collect();
    if !missing.is_empty() {
        bail!(
            "missing: {} (apt-get install openipmi ipmitool fence-agents cluster-glue, \
             or scripts/install-test-deps.sh)",
            missing.join(", ")
        );
    }

    let load_start = loadavg();
    let started = Instant::now();
    let mut lab = Lab::start()?;
    let pwfile = lab.state().join("bmc.pass");
    fs::write(&pwfile, format!("{PASSWORD}\n"))?;
    fs::set_permissions(&pwfile, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    lab.enter_client()?;

    let mut cases = cases(
        &stonith.to_string_lossy(),
        &agent.to_string_lossy(),
        &pwfile.to_string_lossy(),
    );

    // The simulator's chassis hook: ipmi_sim runs it with popen() (sh -c) for
    // every power read and change; its cost is inside every figure.
    let hook_line = format!(
        "IBF_BMC_STATE={} {} 0x20 get power",
        lab.state().display(),
        lab.hook().display()
    );
    let mut hook_costs = Vec::new();
    for _ in 0..o.runs.max(10) {
        let m = measure(&words(&["sh", "-c", &hook_line]))?;
        hook_costs.push(m.cost.wall_us);
    }

    for round in 0..=o.runs {
        let warm_up = round == 0;
        eprint!(
            "\r  {} {round}/{}   ",
            if warm_up { "warm-up" } else { "round" },
            o.runs
        );
        for c in cases.iter_mut() {
            if !lab.sim_alive() {
                bail!(
                    "ipmi_sim exited: {}",
                    fs::read_to_string(lab.state().join("ipmi_sim.log")).unwrap_or_default()
                );
            }
            let (cost, failure) = run_case(&lab, c)?;
            if warm_up {
                continue;
            }
            c.costs.push(cost);
            if let Some(f) = failure {
                c.failures.push(f);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    eprintln!();
    let elapsed = started.elapsed();
    let load_end = loadavg();

    let t = report(&o, &cases, &hook_costs, &load_start, &load_end, elapsed);
    print!("{t}");
    if let Some(path) = &o.out {
        fs::write(path, &t).with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("written to {}", path.display());
    }
    drop(lab);
    Ok(())
}

fn report(
    o: &Options,
    cases: &[Case],
    hook: &[u64],
    load_start: &str,
    load_end: &str,
    elapsed: Duration,
) -> String {
    let mut t = String::new();
    let uname = nix::sys::utsname::uname()
        .map(|u| u.release().to_string_lossy().into_owned())
        .unwrap_or_default();
    let _ = writeln!(
        t,
        "bench-ipmi — kernel {uname}, {} CPUs, load average {load_start} → {load_end}; \
         openipmi {}, ipmitool {}, fence-agents {}, cluster-glue {}; \
         {} runs per row after 1 warm-up round, {:.0} s in all\n",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0),
        version("openipmi"),
        version("ipmitool"),
        version("fence-agents"),
        version("cluster-glue"),
        o.runs,
        elapsed.as_secs_f64()
    );
    let _ = writeln!(
        t,
        "Wall time from spawn to exit, median / p95 (nearest rank: with 10 runs, the maximum); \
         CPU = utime + stime of the whole process tree, median; peak RSS = ru_maxrss, the \
         largest single process, median. Ratios: the tool's median over ours (`stonith` for \
         ipmitool and the cluster-glue plugins, `fence_ironbeat` for fence_ipmilan).\n"
    );
    let _ = writeln!(
        t,
        "| tool | action | verifies Off | wall median / p95 | CPU | peak RSS | ok | \
         wall ÷ ours | CPU ÷ ours | RSS ÷ ours |"
    );
    let _ = writeln!(t, "|---|---|---|---|---|---|---|---|---|---|");
    let reference = |act: Act, versus: Ours| -> Option<&Case> {
        let wanted = match versus {
            Ours::Itself => return None,
            Ours::Stonith => "ironbeat `stonith -t ipmi`",
            Ours::Agent => "ironbeat `fence_ironbeat`",
        };
        cases.iter().find(|c| c.act == act && c.tool == wanted)
    };
    for c in cases {
        let wall = median_of(&c.costs, |x| x.wall_us);
        let p95 = quantile(&c.costs.iter().map(|x| x.wall_us).collect::<Vec<_>>(), 0.95);
        let cpu = median_of(&c.costs, |x| x.cpu_us);
        let rss = median_of(&c.costs, |x| x.rss_kib);
        let ok = c.costs.iter().filter(|x| x.ok).count();
        let (rw, rc, rr) = match reference(c.act, c.versus) {
            Some(r) => (
                ratio(wall, median_of(&r.costs, |x| x.wall_us)),
                ratio(cpu, median_of(&r.costs, |x| x.cpu_us)),
                ratio(rss, median_of(&r.costs, |x| x.rss_kib)),
            ),
            None => ("1×".into(), "1×".into(), "1×".into()),
        };
        let _ = writeln!(
            t,
            "| {} | {} {} | {} | {} / {} | {} | {:.1} MiB | {ok}/{} | {rw} | {rc} | {rr} |",
            c.tool,
            match c.act {
                Act::Status => "status",
                Act::Reboot => "reboot",
            },
            c.how,
            c.verifies_off,
            ms(wall),
            ms(p95),
            ms(cpu),
            rss / 1024.0,
            c.costs.len()
        );
    }
    let _ = writeln!(
        t,
        "\nipmi_sim's chassis hook (`sh -c 'chassis-control.sh 0x20 get power'`, as its popen() \
         runs it), alone: wall median {} / p95 {} (n={}). ipmi_sim runs it for every power \
         read and change, so it is part of every figure above.",
        ms(quantile(hook, 0.5)),
        ms(quantile(hook, 0.95)),
        hook.len()
    );
    let failures: Vec<String> = cases
        .iter()
        .flat_map(|c| {
            c.failures
                .iter()
                .map(move |f| format!("* {} {}: {f}", c.tool, c.how))
        })
        .collect();
    if !failures.is_empty() {
        let _ = writeln!(t, "\nFailed runs:\n{}", failures.join("\n"));
    }
    targets(&mut t, cases);
    let _ = writeln!(t, "\nCommands (one run of each row):\n");
    for c in cases {
        let lines: Vec<String> = c.commands.iter().map(|a| shell_words(a)).collect();
        let _ = writeln!(t, "    {}", lines.join(" && "));
    }
    t
}

fn targets(t: &mut String, cases: &[Case]) {
    let find = |tool: &str, act: Act, how: &str| {
        cases
            .iter()
            .find(|c| c.tool.contains(tool) && c.act == act && c.how.contains(how))
            .map(|c| median_of(&c.costs, |x| x.wall_us))
            .unwrap_or(f64::NAN)
    };
    let s_status = find("stonith -t ipmi", Act::Status, "");
    let a_status = find("fence_ironbeat", Act::Status, "");
    let s_reboot = find("stonith -t ipmi", Act::Reboot, "");
    let a_reboot = find("fence_ironbeat", Act::Reboot, "");
    let it_status = find("ipmitool", Act::Status, "");
    let it_reset = find("ipmitool", Act::Reboot, "reset");
    let it_offon = find("ipmitool", Act::Reboot, "off");
    let fi_reboot = find("fence_ipmilan", Act::Reboot, "defaults");
    let max_rss = cases
        .iter()
        .filter(|c| c.versus == Ours::Itself)
        .flat_map(|c| c.costs.iter().map(|x| x.rss_kib))
        .max()
        .unwrap_or(0);
    let pct = |a: f64, b: f64| format!("{:.0} %", 100.0 * a / b);
    let _ = writeln!(
        t,
        "\nTargets: wall ≤ ½ ipmitool — status: stonith {} and fence_ironbeat {} of ipmitool's; \
         reboot (verified) against ipmitool's unverified reset: {} and {}, against its off + on: \
         {} and {}. Peak RSS < 4 MiB — largest of all our runs {:.2} MiB. Reboot ≥ 10× faster \
         than fence_ipmilan's defaults — fence_ironbeat {}, stonith {}.",
        pct(s_status, it_status),
        pct(a_status, it_status),
        pct(s_reboot, it_reset),
        pct(a_reboot, it_reset),
        pct(s_reboot, it_offon),
        pct(a_reboot, it_offon),
        max_rss as f64 / 1024.0,
        ratio(fi_reboot, a_reboot),
        ratio(fi_reboot, s_reboot),
    );
}

fn shell_words(argv: &[String]) -> String {
    argv.iter()
        .map(|w| {
            if w.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_=./:,".contains(c))
            {
                w.clone()
            } else {
                format!("'{}'", w.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
