//! ironbeat's BMC responder (`ironbeat-bmc`) against real IPMI clients on
//! loopback: ipmitool (`-I lanplus -C 17`, `-C 3`, no `-C`, `-I lan` MD5 and
//! straight password), fence_ipmilan (`--lanplus --cipher=17|3`, IPMI 1.5),
//! and our own client; plus a live capture of `ipmitool -C 17 -vvvv` whose
//! RAKP codes and keys our crypto must reproduce.
//!
//! Each test starts its own BMC on `127.0.0.1:<free port>` with its power in
//! a scratch file, and stops it (SIGTERM to its PID) when done. Tools that
//! are missing make a test SKIP loudly (fail with `CI=true`/`IBT_REQUIRE=1`).

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use ironbeat_fence::driver::client::{run_blocking, FenceRequest};
use ironbeat_fence::ipmi::client::{CipherPolicy, Config, Protocol, SessionProtocol, V15Auth};
use ironbeat_fence::ipmi::crypto::{CipherSuite, RakpExchange, Secret, SessionKeys};
use ironbeat_fence::ipmi::wire::open_session::AuthAlgorithm;
use ironbeat_fence::ipmi::wire::rakp::{Rakp1, Rakp2, Rakp3, Rakp4};
use ironbeat_fence::ipmi::wire::rmcp;
use ironbeat_fence::ipmi::wire::v20::{self, PayloadType};
use ironbeat_fence::power::{Action, PowerState};
use ironbeat_fence::ErrorKind;
use ironbeat_hw_tests::cmd::{self, Output};
use ironbeat_hw_tests::{env, Scratch};

/// Users every test BMC has.
const USERS: [&str; 3] = [
    "admin:labpass:admin",
    "operator:oppass:operator",
    "viewer:viewpass:user",
];

/// True when `tools` are on PATH; otherwise SKIPPED (or a failure in CI).
fn have(test: &str, tools: &[&str]) -> bool {
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|t| !env::has_tool(t))
        .collect();
    if missing.is_empty() {
        return true;
    }
    let why = format!(
        "missing {} (apt-get install ipmitool fence-agents tcpdump)",
        missing.join(", ")
    );
    if env::required() {
        panic!("{test}: {why}");
    }
    let _ = std::io::stderr().write_all(format!("\nSKIPPED: {test}: {why}\n").as_bytes());
    false
}

/// A running `ironbeat-bmc`.
struct BmcProcess {
    child: Child,
    addr: SocketAddr,
    lines: Arc<Mutex<Vec<String>>>,
    power: PathBuf,
    scratch: Scratch,
}

impl BmcProcess {
    fn start(tag: &str, extra: &[&str]) -> BmcProcess {
        let scratch = Scratch::new(&format!("bmc-{tag}")).unwrap();
        let power = scratch.join("power");
        let mut command = Command::new(env!("CARGO_BIN_EXE_ironbeat-bmc"));
        command
            .args(["--listen", "127.0.0.1:0", "--power-file"])
            .arg(&power);
        for user in USERS {
            command.args(["--user", user]);
        }
        let mut child = command
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start ironbeat-bmc");
        let stdout = child.stdout.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&lines);
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let mut bmc = BmcProcess {
            child,
            addr: "127.0.0.1:0".parse().unwrap(),
            lines,
            power,
            scratch,
        };
        let listening = cmd::poll(Duration::from_secs(10), Duration::from_millis(10), || {
            bmc.lines()
                .iter()
                .find_map(|l| l.strip_prefix("listening on ").map(str::to_string))
        });
        bmc.addr = listening
            .expect("ironbeat-bmc did not start listening within 10 s")
            .parse()
            .unwrap();
        bmc
    }

    fn port(&self) -> String {
        self.addr.port().to_string()
    }

    fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    fn count(&self, needle: &str) -> usize {
        self.lines().iter().filter(|l| l.contains(needle)).count()
    }

    /// Waits (up to 3 s) until `needle` was printed `n` times: the BMC prints
    /// an event after it answered, so a client may finish first.
    fn wait_count(&self, needle: &str, n: usize) -> usize {
        cmd::poll(Duration::from_secs(3), Duration::from_millis(10), || {
            (self.count(needle) >= n).then_some(())
        });
        self.count(needle)
    }

    /// The power file: "1" or "0".
    fn power(&self) -> String {
        std::fs::read_to_string(&self.power)
            .unwrap()
            .trim()
            .to_string()
    }

    fn set_power(&self, on: bool) {
        std::fs::write(&self.power, if on { "1\n" } else { "0\n" }).unwrap();
    }

    /// The operations log, without timestamps.
    fn operations(&self) -> Vec<String> {
        let log = self.scratch.join("power.log");
        std::fs::read_to_string(log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_once(' ').map(|(_, op)| op.to_string()))
            .collect()
    }

    /// Unix timestamps of the log lines whose operation starts with `op`.
    fn times_of(&self, op: &str) -> Vec<f64> {
        let log = self.scratch.join("power.log");
        std::fs::read_to_string(log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_once(' '))
            .filter(|(_, o)| o.starts_with(op))
            .map(|(t, _)| t.parse().unwrap())
            .collect()
    }

    /// Stops the BMC; its last line is the counters.
    fn stop(&mut self) -> String {
        cmd::stop_child(&mut self.child, Duration::from_secs(5));
        thread::sleep(Duration::from_millis(50));
        self.lines()
            .into_iter()
            .rev()
            .find(|l| l.starts_with("counters"))
            .unwrap_or_default()
    }

    fn ipmitool(&self, args: &[&str]) -> Output {
        let port = self.port();
        let mut c = Command::new("ipmitool");
        c.args(["-H", "127.0.0.1", "-p", &port]).args(args);
        cmd::run(&mut c, Duration::from_secs(60)).unwrap()
    }

    /// ipmitool as admin over lanplus with suite `suite`: `chassis power ACTION`.
    fn power_cmd(&self, suite: &str, action: &str) -> Output {
        self.ipmitool(&[
            "-I", "lanplus", "-C", suite, "-U", "admin", "-P", "labpass", "chassis", "power",
            action,
        ])
    }

    fn fence_ipmilan(&self, args: &[&str]) -> Output {
        let port = self.port();
        let mut c = Command::new("fence_ipmilan");
        c.args([
            "--ip=127.0.0.1",
            &format!("--ipport={port}"),
            "--username=admin",
            "--password=labpass",
        ])
        .args(args);
        cmd::run(&mut c, Duration::from_secs(90)).unwrap()
    }
}

/// A child that is stopped (SIGINT, then SIGKILL) when dropped, also when
/// a test panics.
struct Guarded(Child);

impl Drop for Guarded {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let pid = nix::unistd::Pid::from_raw(self.0.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT);
            if cmd::wait_deadline(&mut self.0, Duration::from_secs(5)).is_none() {
                let _ = self.0.kill();
                let _ = self.0.wait();
            }
        }
    }
}

impl Drop for BmcProcess {
    fn drop(&mut self) {
        cmd::stop_child(&mut self.child, Duration::from_secs(5));
    }
}

fn ok(out: &Output, expect: &str) {
    assert!(
        out.status.success() && out.stdout.contains(expect),
        "expected success with {expect:?}; got {}: {}{}",
        out.status,
        out.stdout,
        out.stderr
    );
}

fn failed(out: &Output, expect: &str) {
    let all = format!("{}{}", out.stdout, out.stderr);
    assert!(
        !out.status.success() && all.contains(expect),
        "expected failure with {expect:?}; got {}: {all}",
        out.status
    );
}

fn wait_power(bmc: &BmcProcess, want: &str, within: Duration) -> bool {
    cmd::poll(within, Duration::from_millis(20), || {
        (bmc.power() == want).then_some(())
    })
    .is_some()
}

#[test]
fn ipmitool_lanplus_suites_17_and_3_control_power() {
    if !have("ipmi_bmc::ipmitool_lanplus", &["ipmitool"]) {
        return;
    }
    // Suite 3 first: a suite-17-only failure then shows as such.
    for suite in ["3", "17"] {
        let mut bmc = BmcProcess::start(&format!("lanplus{suite}"), &[]);
        ok(&bmc.power_cmd(suite, "status"), "Chassis Power is on");
        ok(
            &bmc.power_cmd(suite, "off"),
            "Chassis Power Control: Down/Off",
        );
        assert_eq!(bmc.power(), "0");
        ok(&bmc.power_cmd(suite, "status"), "Chassis Power is off");
        ok(&bmc.power_cmd(suite, "on"), "Chassis Power Control: Up/On");
        assert_eq!(bmc.power(), "1");
        // We read back the state somebody else set.
        bmc.set_power(false);
        ok(&bmc.power_cmd(suite, "status"), "Chassis Power is off");
        bmc.set_power(true);
        ok(
            &bmc.power_cmd(suite, "cycle"),
            "Chassis Power Control: Cycle",
        );
        assert_eq!(bmc.power(), "0", "cycle: off at once");
        assert!(
            wait_power(&bmc, "1", Duration::from_secs(5)),
            "cycle: on again"
        );
        // The log line follows the file by a moment.
        cmd::poll(Duration::from_secs(2), Duration::from_millis(10), || {
            (bmc.times_of("set power 1").len() == 2).then_some(())
        });
        let off = bmc.times_of("set power 0");
        let on = bmc.times_of("set power 1");
        // The BMC's 1 s timer starts when the request arrives; the log
        // stamps come after each file write, so allow a little on the left.
        let gap = on.last().unwrap() - off.last().unwrap();
        assert!((0.95..2.0).contains(&gap), "cycle kept power off {gap} s");
        ok(
            &bmc.power_cmd(suite, "reset"),
            "Chassis Power Control: Reset",
        );
        assert_eq!(
            bmc.operations().last().map(String::as_str),
            Some("reset (power 1->1)")
        );
        // Every session was opened with this suite and closed by ipmitool.
        let counters = bmc.stop();
        assert_eq!(
            bmc.count(&format!("RMCP+ suite {suite},")),
            7,
            "{:#?}",
            bmc.lines()
        );
        assert!(
            counters.contains("sessions_opened: 7, sessions_closed: 7"),
            "{counters}"
        );
    }
}

#[test]
fn ipmitool_without_a_suite_discovers_17_at_once() {
    if !have("ipmi_bmc::ipmitool_discovery", &["ipmitool"]) {
        return;
    }
    let bmc = BmcProcess::start("discover", &[]);
    let start = Instant::now();
    let out = bmc.ipmitool(&[
        "-I", "lanplus", "-U", "admin", "-P", "labpass", "chassis", "power", "status",
    ]);
    ok(&out, "Chassis Power is on");
    // ipmi_sim 2.0.33 costs 10 s here (it drops the cipher-suite query).
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(
        bmc.wait_count("RMCP+ suite 17,", 1),
        1,
        "{:#?}",
        bmc.lines()
    );
    // Only suite 3 enabled: ipmitool finds that one.
    let bmc = BmcProcess::start("discover3", &["--suites", "3"]);
    ok(
        &bmc.ipmitool(&[
            "-I", "lanplus", "-U", "admin", "-P", "labpass", "chassis", "power", "status",
        ]),
        "Chassis Power is on",
    );
    assert_eq!(bmc.wait_count("RMCP+ suite 3,", 1), 1);
}

#[test]
fn ipmitool_lan_md5_and_straight_password() {
    if !have("ipmi_bmc::ipmitool_lan", &["ipmitool"]) {
        return;
    }
    let mut bmc = BmcProcess::start("lan15", &[]);
    let lan = |auth: &str, action: &str| {
        bmc.ipmitool(&[
            "-I", "lan", "-A", auth, "-U", "admin", "-P", "labpass", "chassis", "power", action,
        ])
    };
    ok(&lan("MD5", "status"), "Chassis Power is on");
    ok(&lan("MD5", "off"), "Chassis Power Control: Down/Off");
    assert_eq!(bmc.power(), "0");
    ok(&lan("PASSWORD", "on"), "Chassis Power Control: Up/On");
    assert_eq!(bmc.power(), "1");
    ok(&lan("MD5", "reset"), "Chassis Power Control: Reset");
    // ipmitool's own choice (MD5, after an ASF ping).
    ok(
        &bmc.ipmitool(&[
            "-I", "lan", "-U", "admin", "-P", "labpass", "chassis", "status",
        ]),
        "System Power         : on",
    );
    let counters = bmc.stop();
    assert_eq!(bmc.count("IPMI 1.5 MD5"), 4, "{:#?}", bmc.lines());
    assert_eq!(bmc.count("IPMI 1.5 straight password"), 1);
    assert!(
        counters.contains("sessions_opened: 5, sessions_closed: 5"),
        "{counters}"
    );
}

#[test]
fn ipmitool_refusals_wrong_credentials_privilege_and_suite_0() {
    if !have("ipmi_bmc::ipmitool_refusals", &["ipmitool"]) {
        return;
    }
    let bmc = BmcProcess::start("refuse", &["--handshake-timeout", "0.5"]);
    let quick = ["-N", "1", "-R", "1"];
    for suite in ["17", "3"] {
        let start = Instant::now();
        let mut args = vec!["-I", "lanplus", "-C", suite, "-U", "admin", "-P", "wrong"];
        args.extend(quick);
        args.extend(["chassis", "power", "off"]);
        failed(
            &bmc.ipmitool(&args),
            "Unable to establish IPMI v2 / RMCP+ session",
        );
        assert!(start.elapsed() < Duration::from_secs(5));
    }
    // ipmitool finds our RAKP 2 code wrong and walks away; the half-open
    // sessions wait for RAKP 3 until the handshake timeout.
    assert_eq!(
        bmc.wait_count("abandoned after RAKP 2", 2),
        2,
        "{:#?}",
        bmc.lines()
    );
    failed(
        &bmc.ipmitool(&[
            "-v", "-I", "lanplus", "-C", "17", "-U", "root", "-P", "x", "chassis", "power",
            "status",
        ]),
        "unauthorized name",
    );
    failed(
        &bmc.ipmitool(&[
            "-I", "lanplus", "-C", "0", "-U", "admin", "-P", "labpass", "chassis", "power",
            "status",
        ]),
        "no matching cipher suite",
    );
    // A user-level account: ipmitool's default (administrator) cannot be set…
    failed(
        &bmc.ipmitool(&[
            "-I", "lanplus", "-C", "17", "-U", "viewer", "-P", "viewpass", "chassis", "power",
            "off",
        ]),
        "Set Session Privilege Level to ADMINISTRATOR failed",
    );
    // …and at user level, Chassis Control answers 0xd4.
    let user = |iface: &str, action: &str| {
        let mut args = vec!["-I", iface];
        if iface == "lanplus" {
            args.extend(["-C", "17"]);
        }
        args.extend([
            "-L", "USER", "-U", "viewer", "-P", "viewpass", "chassis", "power", action,
        ]);
        bmc.ipmitool(&args)
    };
    failed(&user("lanplus", "off"), "Insufficient privilege level");
    ok(&user("lanplus", "status"), "Chassis Power is on");
    failed(&user("lan", "off"), "Insufficient privilege level");
    assert_eq!(bmc.power(), "1");
    failed(
        &bmc.ipmitool(&[
            "-I", "lan", "-U", "viewer", "-P", "viewpass", "chassis", "power", "status",
        ]),
        "Requested privilege level exceeds limit",
    );
    // IPMI 1.5 with a wrong password: the BMC stays silent, as BMCs do.
    let mut args = vec!["-I", "lan", "-U", "admin", "-P", "wrong"];
    args.extend(quick);
    args.extend(["chassis", "power", "status"]);
    let out = bmc.ipmitool(&args);
    assert!(!out.status.success());
    assert!(
        bmc.wait_count(": wrong password", 1) >= 1,
        "{:#?}",
        bmc.lines()
    );
    assert_eq!(
        bmc.operations(),
        Vec::<String>::new(),
        "nothing was switched"
    );
}

#[test]
fn sessions_are_closed_and_leaked_ones_expire() {
    if !have("ipmi_bmc::sessions", &["ipmitool"]) {
        return;
    }
    // Two slots in all: 30 runs only work if every session is closed.
    let mut bmc = BmcProcess::start(
        "sessions",
        &[
            "--max-sessions",
            "2",
            "--session-timeout",
            "2",
            "--handshake-timeout",
            "2",
        ],
    );
    for i in 0..30 {
        let suite = if i % 2 == 0 { "17" } else { "3" };
        ok(&bmc.power_cmd(suite, "status"), "Chassis Power is on");
    }
    // A wrong password leaves a half-open session behind (ipmitool never
    // sends RAKP 3): two fill the table.
    for _ in 0..2 {
        failed(
            &bmc.ipmitool(&[
                "-I", "lanplus", "-C", "3", "-U", "admin", "-P", "wrong", "chassis", "power",
                "status",
            ]),
            "Unable to establish IPMI v2 / RMCP+ session",
        );
    }
    failed(
        &bmc.ipmitool(&[
            "-I", "lanplus", "-C", "3", "-N", "1", "-R", "1", "-U", "admin", "-P", "labpass",
            "chassis", "power", "status",
        ]),
        "insufficient resources for session",
    );
    // The handshake timeout frees them.
    assert_eq!(
        bmc.wait_count("abandoned after RAKP 2", 2),
        2,
        "{:#?}",
        bmc.lines()
    );
    ok(&bmc.power_cmd("17", "status"), "Chassis Power is on");
    let counters = bmc.stop();
    assert!(
        counters.contains("sessions_opened: 31, sessions_closed: 31, sessions_expired: 2"),
        "{counters}"
    );
}

#[test]
fn fence_ipmilan_against_our_bmc() {
    if !have("ipmi_bmc::fence_ipmilan", &["ipmitool", "fence_ipmilan"]) {
        return;
    }
    for cipher in ["3", "17"] {
        let bmc = BmcProcess::start(&format!("fence{cipher}"), &[]);
        let lanplus = format!("--cipher={cipher}");
        let run = |action: &str| {
            bmc.fence_ipmilan(&[
                "--lanplus",
                &lanplus,
                &format!("--action={action}"),
                "--power-wait=0",
            ])
        };
        ok(&run("status"), "Status: ON");
        ok(&run("off"), "Success: Powered OFF");
        assert_eq!(bmc.power(), "0");
        let out = run("status");
        assert_eq!(
            out.status.code(),
            Some(2),
            "status of an off node: {}",
            out.stdout
        );
        assert!(out.stdout.contains("Status: OFF"));
        ok(&run("on"), "Success: Powered ON");
        assert_eq!(bmc.power(), "1");
        ok(&run("reboot"), "Success: Rebooted");
        assert_eq!(bmc.power(), "1");
        let ops = bmc.operations();
        assert_eq!(
            ops[ops.len() - 2..],
            [
                "set power 0 (power 1->0)".to_string(),
                "set power 1 (power 0->1)".to_string()
            ]
        );
        ok(&run("monitor"), "");
        let wrong =
            bmc.fence_ipmilan(&["--lanplus", &lanplus, "--action=status", "--password=wrong"]);
        assert!(!wrong.status.success());
        let mut bmc = bmc;
        bmc.stop();
        assert!(
            bmc.count(&format!("RMCP+ suite {cipher},")) >= 6,
            "{:#?}",
            bmc.lines()
        );
        assert_eq!(
            bmc.count(" opened: "),
            bmc.count("closed by the client"),
            "{:#?}",
            bmc.lines()
        );
    }
    // fence_ipmilan's default is IPMI 1.5.
    let bmc = BmcProcess::start("fence15", &[]);
    ok(
        &bmc.fence_ipmilan(&["--action=off", "--power-wait=0"]),
        "Success: Powered OFF",
    );
    assert_eq!(bmc.power(), "0");
    assert!(bmc.wait_count("IPMI 1.5 MD5", 1) >= 1);
}

fn our_client(
    bmc: &BmcProcess,
    user: &str,
    password: &str,
    protocol: Protocol,
    action: Action,
) -> FenceRequest {
    let mut config = Config::new(user, Secret::from(password), action);
    config.protocol = protocol;
    config.timing.timeout = Duration::from_secs(10);
    let mut request = FenceRequest::new("127.0.0.1", config);
    request.port = bmc.addr.port();
    request
}

#[test]
fn our_client_against_our_bmc() {
    let bmc = BmcProcess::start("ourclient", &[]);
    let suite17 = Protocol::LanPlus(CipherPolicy::Fixed(CipherSuite::SUITE_17));
    let run = |protocol: Protocol, action: Action| {
        run_blocking(our_client(&bmc, "admin", "labpass", protocol, action))
    };
    let off = run(suite17, Action::Off).unwrap();
    assert_eq!(off.power, PowerState::Off);
    assert!(off.off_seen && off.session_closed);
    assert_eq!(off.session, SessionProtocol::V20(CipherSuite::SUITE_17));
    assert_eq!(bmc.power(), "0");
    let on = run(suite17, Action::On).unwrap();
    assert_eq!((on.power, bmc.power().as_str()), (PowerState::On, "1"));
    let reboot = run(Protocol::LanPlus(CipherPolicy::Auto), Action::Reboot).unwrap();
    assert!(reboot.off_seen);
    assert_eq!(reboot.session, SessionProtocol::V20(CipherSuite::SUITE_17));
    let ops = bmc.operations();
    assert_eq!(
        ops[ops.len() - 2..],
        [
            "set power 0 (power 1->0)".to_string(),
            "set power 1 (power 0->1)".to_string()
        ]
    );
    let status = run(
        Protocol::LanPlus(CipherPolicy::Fixed(CipherSuite::SUITE_3)),
        Action::Status,
    )
    .unwrap();
    assert_eq!(status.power, PowerState::On);
    let status = run(Protocol::Lan15(V15Auth::Md5), Action::Status).unwrap();
    assert!(matches!(status.session, SessionProtocol::V15(_)));
    // Wrong password: an authentication error, quickly.
    let start = Instant::now();
    let err =
        run_blocking(our_client(&bmc, "admin", "wrong", suite17, Action::Status)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert!(start.elapsed() < Duration::from_secs(3));
    // A user-level account cannot reach operator.
    let err =
        run_blocking(our_client(&bmc, "viewer", "viewpass", suite17, Action::Off)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Auth, "{err}");
    assert_eq!(bmc.power(), "1");
    // With 17 disabled, Auto falls back to 3.
    let bmc3 = BmcProcess::start("ourclient3", &["--suites", "3"]);
    let status = run_blocking(our_client(
        &bmc3,
        "admin",
        "labpass",
        Protocol::LanPlus(CipherPolicy::Auto),
        Action::Status,
    ))
    .unwrap();
    assert_eq!(status.session, SessionProtocol::V20(CipherSuite::SUITE_3));
    // Every session our client opened was closed.
    let mut bmc = bmc;
    bmc.stop();
    assert_eq!(
        bmc.count(" opened: "),
        bmc.count("closed by the client"),
        "{:#?}",
        bmc.lines()
    );
}

/// The UDP payloads of an Ethernet pcap (tcpdump on `lo`).
fn udp_payloads(pcap: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut at = 24;
    while at + 16 <= pcap.len() {
        let len = u32::from_le_bytes(pcap[at + 8..at + 12].try_into().unwrap()) as usize;
        let frame = &pcap[at + 16..(at + 16 + len).min(pcap.len())];
        at += 16 + len;
        if frame.len() < 14 + 20 + 8 || frame[12..14] != [0x08, 0x00] || frame[14 + 9] != 17 {
            continue;
        }
        let ihl = usize::from(frame[14] & 0x0f) * 4;
        out.push(frame[14 + ihl + 8..].to_vec());
    }
    out
}

/// The bytes ipmitool -vvvv printed after the line containing `title`.
fn printed(text: &str, title: &str, len: usize) -> Vec<u8> {
    let mut lines = text.lines().skip_while(|l| !l.contains(title)).skip(1);
    let mut out = Vec::new();
    while out.len() < len {
        let line = lines
            .next()
            .unwrap_or_else(|| panic!("{title} not printed"));
        out.extend(
            line.split_whitespace()
                .map(|b| u8::from_str_radix(b, 16).unwrap()),
        );
    }
    out
}

#[test]
fn live_capture_of_ipmitool_suite_17_matches_our_crypto() {
    if !have("ipmi_bmc::capture17", &["ipmitool", "tcpdump"]) {
        return;
    }
    if !nix::unistd::geteuid().is_root() {
        if env::required() {
            panic!("ipmi_bmc::capture17: tcpdump on lo needs root");
        }
        eprintln!("\nSKIPPED: ipmi_bmc::capture17: tcpdump on lo needs root\n");
        return;
    }
    let bmc = BmcProcess::start("capture17", &[]);
    let pcap = bmc.scratch.join("c17.pcap");
    let mut dump = Guarded(
        Command::new("tcpdump")
            .args(["-Z", "root", "-U", "--immediate-mode", "-i", "lo", "-w"])
            .arg(&pcap)
            .args(["udp", "port", &bmc.port()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut err = BufReader::new(dump.0.stderr.take().unwrap());
    let mut first = String::new();
    err.read_line(&mut first).unwrap();
    assert!(first.contains("listening"), "tcpdump: {first}");
    // "listening" comes a moment before packets are caught: ping the BMC
    // until a packet reaches the file.
    let probe = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let ping = rmcp::wrap(rmcp::MessageClass::Asf, &rmcp::asf::Repr::ping(1).to_vec());
    let capturing = cmd::poll(Duration::from_secs(5), Duration::from_millis(50), || {
        probe.send_to(&ping, bmc.addr).unwrap();
        (std::fs::metadata(&pcap).map(|m| m.len()).unwrap_or(0) > 24).then_some(())
    });
    assert!(capturing.is_some(), "tcpdump captured nothing on lo");
    let out = bmc.ipmitool(&[
        "-I", "lanplus", "-C", "17", "-U", "admin", "-P", "labpass", "-vvvv", "chassis", "power",
        "status",
    ]);
    ok(&out, "Chassis Power is on");
    // Until the Close Session answer (the last datagram) is in the file.
    cmd::poll(Duration::from_secs(5), Duration::from_millis(50), || {
        let payloads = udp_payloads(&std::fs::read(&pcap).unwrap_or_default());
        (payloads.iter().filter(|p| p.get(5) == Some(&0xc0)).count() >= 14).then_some(())
    });
    drop(dump);
    let payloads = udp_payloads(&std::fs::read(&pcap).unwrap());
    let find = |t: PayloadType| -> Vec<u8> {
        payloads
            .iter()
            .filter_map(|p| {
                v20::Repr::parse(&p[rmcp::HEADER_LEN..], None)
                    .ok()
                    .map(|r| (r.payload_type, r.payload.to_vec()))
            })
            .find(|(pt, _)| *pt == t)
            .map(|(_, p)| p)
            .unwrap_or_else(|| panic!("no {t} captured"))
    };
    let (b1, b2, b3, b4) = (
        find(PayloadType::Rakp1),
        find(PayloadType::Rakp2),
        find(PayloadType::Rakp3),
        find(PayloadType::Rakp4),
    );
    let (r1, r2, r3, r4) = (
        Rakp1::parse(&b1).unwrap(),
        Rakp2::parse(&b2).unwrap(),
        Rakp3::parse(&b3).unwrap(),
        Rakp4::parse(&b4).unwrap(),
    );
    let x = RakpExchange {
        algorithm: AuthAlgorithm::HmacSha256,
        console_session_id: r2.console_session_id,
        managed_session_id: r1.managed_session_id,
        console_random: r1.console_random,
        managed_random: r2.managed_random,
        managed_guid: r2.managed_guid,
        role: r1.role.to_byte(),
        user_name: r1.user_name,
    };
    // ipmitool's code, from fresh random numbers.
    assert_eq!(x.rakp3_auth_code(b"labpass").unwrap(), r3.auth_code);
    let sik = x.session_integrity_key(b"labpass").unwrap();
    let text = format!("{}{}", out.stdout, out.stderr);
    assert_eq!(sik, printed(&text, "Generated session integrity key", 32));
    assert_eq!(
        x.rakp4_integrity_check_value(&sik).unwrap(),
        r4.integrity_check_value
    );
    let keys = SessionKeys::derive(CipherSuite::SUITE_17.algorithms(), &sik).unwrap();
    assert_eq!(keys.k1(), printed(&text, "Generated K1", 32));
    assert_eq!(keys.k2(), printed(&text, "Generated K2", 32));
}
