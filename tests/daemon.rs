//! `ironbeat run` for real: two daemons in two network namespaces, joined by
//! a veth "crossover cable" (ucast) and a pty null-modem cable (serial),
//! with a haresources VIP.
//!
//! Asserts: exactly one node holds the VIP; `status` over the admin socket
//! (raw protocol lines) shows both nodes, the DC and quorum; SIGTERM of the
//! holder hands the VIP over (no loss reported) and a restart brings it
//! back; after kill -9 of the holder's daemon and its interfaces down, the
//! other node holds the VIP within a bound and reports
//! `recovery_without_fencing` (no fencing is configured); SIGTERM of the
//! last node stops the VIP (socket removed, exit 0). Needs root, `ip` and
//! `socat`; skips loudly otherwise.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ironbeat::daemon::protocol::{EventRecord, Reply, StatusReport};
use ironbeat_hw_tests::env;
use ironbeat_hw_tests::netns::Netns;
use ironbeat_hw_tests::topology::{Media, Pair, Timers};

/// The daemon under test: `$IRONBEAT_BIN` or `target/$IBT_PROFILE/ironbeat`
/// (hw-tests' lookup), else the one cargo built for this test.
fn ironbeat() -> PathBuf {
    ironbeat_hw_tests::binary::ironbeat()
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_BIN_EXE_ironbeat")))
}

/// Resources in the test's haresources line: the VIP and nine more
/// addresses (the RSS target is for two nodes and ten resources).
const RESOURCES: u8 = 10;

/// A daemon started by this test; killed (by its PID) when dropped.
struct Daemon {
    child: Child,
    socket: PathBuf,
    log: PathBuf,
}

impl Daemon {
    fn start(ns: &Netns, dir: &Path, node: &str) -> Daemon {
        Daemon::start_with(ns, dir, node, &[], &[])
    }

    fn start_with(
        ns: &Netns,
        dir: &Path,
        node: &str,
        extra: &[&str],
        envs: &[(&str, &str)],
    ) -> Daemon {
        let socket = dir.join("run").join("ironbeat.sock");
        let log = dir.join("daemon.log");
        let stderr = std::fs::File::create(&log).unwrap();
        // `ip netns exec` execs in place: the child's PID is the daemon's.
        let child = ns
            .command(&ironbeat().to_string_lossy())
            .args(["run", "--ha-d"])
            .arg(dir.join("ha.d"))
            .args(["--node", node, "--state-dir"])
            .arg(dir.join("state"))
            .arg("--socket")
            .arg(&socket)
            .arg("--foreground")
            .args(extra)
            .envs(envs.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap();
        Daemon { child, socket, log }
    }

    fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// One request, one reply, over the raw protocol.
    fn ask(&self, line: &str) -> Option<Reply> {
        let mut stream = UnixStream::connect(&self.socket).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        stream.write_all(line.as_bytes()).ok()?;
        let mut reply = String::new();
        BufReader::new(stream).read_line(&mut reply).ok()?;
        serde_json::from_str(&reply).ok()
    }

    fn status(&self) -> Option<StatusReport> {
        match self.ask("{\"request\":\"status\"}\n")? {
            Reply::Status(report) => Some(*report),
            _ => None,
        }
    }

    /// Subscribes to events; every record arrives on the returned channel.
    fn events(&self) -> mpsc::Receiver<EventRecord> {
        let mut stream = UnixStream::connect(&self.socket).unwrap();
        stream.write_all(b"{\"request\":\"events\"}\n").unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stream);
            let mut first = String::new();
            if reader.read_line(&mut first).is_err() || !first.contains("streaming") {
                return;
            }
            for line in reader.lines() {
                let Ok(line) = line else { return };
                if let Ok(record) = serde_json::from_str::<EventRecord>(&line) {
                    if tx.send(record).is_err() {
                        return;
                    }
                }
            }
        });
        rx
    }

    fn signal(&self, signal: nix::sys::signal::Signal) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid()), signal);
    }

    /// Waits for the process to exit within `limit`; its exit code.
    fn wait_exit(&mut self, limit: Duration) -> Option<i32> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status.code().unwrap_or(-1));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn has_address(ns: &Netns, address: &str) -> bool {
    ns.ip(&["-4", "addr", "show", "dev", "eth0"])
        .map(|o| o.stdout.contains(&format!("inet {address}/")))
        .unwrap_or(false)
}

/// Polls `check` every 10 ms until it holds or `limit` passes.
fn wait_until(limit: Duration, mut check: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if check() {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

#[test]
fn two_daemons_hold_one_vip_and_fail_over() {
    if !env::can_run("daemon", &["socat"]) {
        return;
    }
    let media = Media {
        ucast: true,
        serial: true,
        ..Media::default()
    };
    let pair = Pair::build("daemon", media, Timers::millis(50, 500)).unwrap();
    let subnet = pair.subnet0().unwrap();
    let vip = subnet.host(100).to_string();
    let dirs: Vec<PathBuf> = ["node1", "node2"]
        .iter()
        .map(|n| pair.scratch.join(n))
        .collect();
    let mut line = "node1".to_string();
    for i in 0..RESOURCES {
        line.push_str(&format!(" IPaddr2::{}/24/eth0", subnet.host(100 + i)));
    }
    for dir in &dirs {
        std::fs::write(dir.join("ha.d").join("haresources"), format!("{line}\n")).unwrap();
    }
    let nss = [&pair.n1, &pair.n2];
    // node2 runs as under systemd Type=notify with WatchdogSec=0.4s.
    let notify_path = pair.scratch.join("notify.sock");
    let notify = std::os::unix::net::UnixDatagram::bind(&notify_path).unwrap();
    notify
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let notify_env = notify_path.to_string_lossy().into_owned();
    let mut daemons = vec![
        Daemon::start(nss[0], &dirs[0], "node1"),
        Daemon::start_with(
            nss[1],
            &dirs[1],
            "node2",
            &[],
            &[
                ("NOTIFY_SOCKET", notify_env.as_str()),
                ("WATCHDOG_USEC", "400000"),
            ],
        ),
    ];
    // Read as systemd does, all the time (the queue of a datagram socket is
    // short): until the test ends, bounded at two minutes.
    let notified = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let reader = {
        let notified = notified.clone();
        std::thread::spawn(move || {
            let start = Instant::now();
            let mut buf = [0u8; 4096];
            while start.elapsed() < Duration::from_secs(120) {
                match notify.recv(&mut buf) {
                    Ok(n) => {
                        let m = String::from_utf8_lossy(&buf[..n]).into_owned();
                        let stop = m == "STOPPING=1";
                        notified.lock().unwrap().push(m);
                        if stop {
                            return;
                        }
                    }
                    Err(_) => continue,
                }
            }
        })
    };
    let seen = || notified.lock().unwrap().clone();
    let logs = |daemons: &[Daemon]| {
        daemons
            .iter()
            .map(|d| d.log())
            .collect::<Vec<_>>()
            .join("\n----\n")
    };

    // Exactly one node gets the VIP: node1, the preferred one.
    let took = wait_until(Duration::from_secs(20), || has_address(nss[0], &vip));
    assert!(took.is_some(), "node1 never got {vip}:\n{}", logs(&daemons));
    std::thread::sleep(Duration::from_millis(500));
    assert!(has_address(nss[0], &vip));
    assert!(!has_address(nss[1], &vip), "both nodes hold {vip}");

    // systemd heard READY=1, a STATUS= naming the DC and quorum, and the
    // watchdog fed at half its period (0.2 s).
    std::thread::sleep(Duration::from_millis(1000));
    let notified_now = seen();
    assert!(
        notified_now
            .iter()
            .any(|m| m.starts_with("READY=1\nSTATUS=")),
        "{notified_now:?}"
    );
    assert!(
        notified_now
            .iter()
            .any(|m| m.starts_with("STATUS=DC node") && m.contains(", quorum,")),
        "{notified_now:?}"
    );
    let fed = notified_now.iter().filter(|m| *m == "WATCHDOG=1").count();
    assert!(fed >= 3, "watchdog fed {fed} times: {notified_now:?}");

    // Status over the socket: both nodes members, a DC, quorum, both links.
    let mut report = None;
    wait_until(Duration::from_secs(5), || {
        report = daemons[1].status();
        report
            .as_ref()
            .is_some_and(|r| r.cluster.dc.is_some() && r.cluster.nodes.iter().all(|n| n.member))
    });
    let report = report.unwrap_or_else(|| panic!("no status:\n{}", logs(&daemons)));
    assert!(report.cluster.quorum, "{report:#?}");
    assert_eq!(report.cluster.nodes.len(), 2);
    assert!(report.cluster.nodes.iter().all(|n| n.member), "{report:#?}");
    let dc = report.cluster.dc.clone().unwrap();
    assert!(dc == "node1" || dc == "node2");
    let vip_status = &report.cluster.resources[0];
    assert_eq!(vip_status.running_on, ["node1"], "{report:#?}");
    assert_eq!(report.links.len(), 1, "{report:#?}");
    assert_eq!(report.links[0].node, "node1");
    assert_eq!(report.links[0].liveness, "alive");
    assert_eq!(
        report.links[0].paths.len(),
        2,
        "ucast and serial: {report:#?}"
    );
    assert!(report.links[0].paths.iter().all(|p| p.up), "{report:#?}");
    assert_eq!(report.daemon.pid, daemons[1].pid() as u32);
    assert!(report.daemon.rss_kib > 0);
    assert_eq!(report.cluster.resources.len(), usize::from(RESOURCES));
    // Idle for a while (monitors running), then the RSS of both daemons.
    std::thread::sleep(Duration::from_secs(2));
    let rss: Vec<u64> = daemons
        .iter()
        .map(|d| d.status().map_or(0, |r| r.daemon.rss_kib))
        .collect();
    let profile = std::env::var("IBT_PROFILE").unwrap_or_else(|_| "debug".into());
    eprintln!(
        "idle RSS, 2 nodes, {RESOURCES} resources: node1 {} KiB, node2 {} KiB ({profile} \
         build {})",
        rss[0],
        rss[1],
        ironbeat().display()
    );
    if profile == "release" {
        assert!(
            rss.iter().all(|&kib| kib < 8 * 1024),
            "the 8 MiB target is missed: {rss:?} KiB"
        );
    }
    // A second daemon for node2 is refused: same socket, or same state
    // directory behind another socket.
    let second = |socket: &Path, state: &Path| {
        let out = nss[1]
            .command(&ironbeat().to_string_lossy())
            .args(["run", "--node", "node2", "--ha-d"])
            .arg(dirs[1].join("ha.d"))
            .arg("--state-dir")
            .arg(state)
            .arg("--socket")
            .arg(socket)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = second(&daemons[1].socket, &pair.scratch.join("other-state"));
    assert_ne!(code, Some(0), "{err}");
    assert!(err.contains("another ironbeat daemon is running"), "{err}");
    let (code, err) = second(&pair.scratch.join("other.sock"), &dirs[1].join("state"));
    assert_ne!(code, Some(0), "{err}");
    assert!(err.contains("uses the state directory"), "{err}");
    assert!(
        daemons[1].status().is_some(),
        "the running daemon was disturbed"
    );

    // A bad request gets bad_request, not a crash.
    assert!(matches!(
        daemons[1].ask("{\"request\":\"reboot\"}\n"),
        Some(Reply::BadRequest { .. })
    ));

    // SIGTERM of the holder: it leaves cleanly, the VIP moves to node2 (stop
    // before start), and node2 does not treat it as a loss.
    let events = daemons[1].events();
    std::thread::sleep(Duration::from_millis(200));
    daemons[0].signal(nix::sys::signal::Signal::SIGTERM);
    let handed = wait_until(Duration::from_secs(10), || has_address(nss[1], &vip));
    assert!(handed.is_some(), "no handover:\n{}", logs(&daemons));
    let code = daemons[0].wait_exit(Duration::from_secs(10));
    assert_eq!(code, Some(0), "{}", daemons[0].log());
    assert!(!has_address(nss[0], &vip), "node1 kept {vip} after leaving");
    let kinds = drain_kinds(&events, Duration::from_millis(1500));
    assert!(kinds.iter().any(|k| k == "leaving"), "{kinds:?}");
    assert!(
        !kinds.iter().any(|k| k == "recovery_without_fencing"),
        "a clean stop was treated as a loss: {kinds:?}"
    );
    drop(events);

    // node1 comes back and, being preferred (auto_failback default), gets
    // the VIP back.
    daemons[0] = Daemon::start(nss[0], &dirs[0], "node1");
    let back = wait_until(Duration::from_secs(20), || {
        has_address(nss[0], &vip) && !has_address(nss[1], &vip)
    });
    assert!(back.is_some(), "no failback:\n{}", logs(&daemons));

    // kill -9 of the holder's daemon, and its interfaces down.
    let events = daemons[1].events();
    std::thread::sleep(Duration::from_millis(200));
    daemons[0].signal(nix::sys::signal::Signal::SIGKILL);
    let killed = Instant::now();
    assert!(daemons[0].wait_exit(Duration::from_secs(5)).is_some());
    nss[0].link_down("eth0").unwrap();
    let moved = wait_until(Duration::from_secs(15), || has_address(nss[1], &vip));
    let moved = moved.map(|_| killed.elapsed());
    let Some(moved) = moved else {
        panic!("node2 never took {vip} over:\n{}", logs(&daemons));
    };
    eprintln!("kill -9 of node1's daemon → VIP on node2 after {moved:?} (deadtime 500 ms)");
    assert!(moved < Duration::from_secs(5), "took {moved:?}");
    let kinds = drain_kinds(&events, Duration::from_secs(2));
    assert!(
        kinds.iter().any(|k| k == "recovery_without_fencing"),
        "no recovery_without_fencing event: {kinds:?}"
    );
    assert!(kinds.iter().any(|k| k == "node_dead"), "{kinds:?}");

    // SIGTERM of the last node: alone, it stops the VIP itself and exits 0;
    // its socket is removed.
    daemons[1].signal(nix::sys::signal::Signal::SIGTERM);
    let code = daemons[1].wait_exit(Duration::from_secs(15));
    assert_eq!(code, Some(0), "{}", daemons[1].log());
    reader.join().unwrap();
    let notified = seen();
    assert!(notified.iter().any(|m| m == "STOPPING=1"), "{notified:?}");
    assert!(!has_address(nss[1], &vip), "the VIP survived a clean stop");
    assert!(!daemons[1].socket.exists(), "the socket file is left");
    let log = daemons[1].log();
    assert!(log.contains("left the cluster"), "{log}");
}

/// The kinds of the events received within `limit` (until quiet for it).
fn drain_kinds(events: &mpsc::Receiver<EventRecord>, limit: Duration) -> Vec<String> {
    let mut kinds = Vec::new();
    while let Ok(record) = events.recv_timeout(limit) {
        kinds.push(record.kind);
        if kinds.len() > 1000 {
            break;
        }
    }
    kinds
}

/// The BMC of `target`, served inside namespace `ns` on 127.0.0.1:`port`
/// by issue 3's responder (a chassis in memory, powered on). Stops when
/// `stop` is dropped; returns the power operations it carried out.
fn bmc_in(
    ns: &Netns,
    port: u16,
) -> (
    std::sync::mpsc::Sender<()>,
    std::thread::JoinHandle<Vec<String>>,
) {
    use ironbeat_fence::driver::bmc::BmcServer;
    use ironbeat_fence::ipmi::bmc::{Bmc, BmcConfig, MemoryPower, User};
    use ironbeat_fence::ipmi::Privilege;
    use ironbeat_fence::power::PowerState;

    let socket = ironbeat_hw_tests::inject::in_netns(ns.name(), move || {
        Ok(std::net::UdpSocket::bind(("127.0.0.1", port))?)
    })
    .unwrap();
    socket.set_nonblocking(true).unwrap();
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let config = BmcConfig::new(vec![User::new(
                "admin",
                b"daemon-test",
                Privilege::Administrator,
            )]);
            let bmc = Bmc::new(config, MemoryPower::new(PowerState::On), [3; 32]).unwrap();
            let socket = tokio::net::UdpSocket::from_std(socket).unwrap();
            let mut server = BmcServer::from_socket(socket, bmc);
            let shutdown = async {
                loop {
                    if !matches!(
                        stopped.try_recv(),
                        Err(std::sync::mpsc::TryRecvError::Empty)
                    ) {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            };
            let _ = server.run(shutdown, |_| {}).await;
            server
                .bmc()
                .power()
                .operations()
                .iter()
                .map(|o| format!("{o:?}"))
                .collect()
        })
    });
    (stop, thread)
}

#[test]
fn a_lost_node_is_fenced_before_its_vip_starts_elsewhere() {
    if !env::can_run("daemon_fencing", &["socat"]) {
        return;
    }
    let media = Media {
        ucast: true,
        serial: true,
        ..Media::default()
    };
    let pair = Pair::build("dfence", media, Timers::millis(50, 500)).unwrap();
    let vip = pair.subnet0().unwrap().host(100).to_string();
    let nss = [&pair.n1, &pair.n2];
    // Each node reaches its peer's BMC on its own loopback: node2 fences
    // node1 through 127.0.0.1:6231 in its namespace, node1 fences node2
    // through 127.0.0.1:6232 in its own. The same ha.cf lines on both.
    let (stop1, bmc1) = bmc_in(nss[1], 6231);
    let (stop2, bmc2) = bmc_in(nss[0], 6232);
    let dirs: Vec<PathBuf> = ["node1", "node2"]
        .iter()
        .map(|n| pair.scratch.join(n))
        .collect();
    for dir in &dirs {
        let ha_cf = dir.join("ha.d").join("ha.cf");
        let mut text = std::fs::read_to_string(&ha_cf).unwrap();
        text.push_str(
            "stonith_host * ipmi node1 127.0.0.1 admin passwd=daemon-test ipport=6231 timeout=5\n\
             stonith_host * ipmi node2 127.0.0.1 admin passwd=daemon-test ipport=6232 timeout=5\n",
        );
        std::fs::write(&ha_cf, text).unwrap();
        std::fs::set_permissions(&ha_cf, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .unwrap();
        std::fs::write(
            dir.join("ha.d").join("haresources"),
            format!("node1 IPaddr2::{vip}/24/eth0\n"),
        )
        .unwrap();
    }
    let extra = ["--priority-fencing-delay", "1s"];
    let mut daemons = vec![
        Daemon::start_with(nss[0], &dirs[0], "node1", &extra, &[]),
        Daemon::start_with(nss[1], &dirs[1], "node2", &extra, &[]),
    ];
    let logs = |daemons: &[Daemon]| {
        daemons
            .iter()
            .map(|d| d.log())
            .collect::<Vec<_>>()
            .join("\n----\n")
    };
    assert!(
        wait_until(Duration::from_secs(20), || has_address(nss[0], &vip)).is_some(),
        "node1 never got {vip}:\n{}",
        logs(&daemons)
    );
    assert!(
        daemons[1].log().contains("fencing on"),
        "{}",
        daemons[1].log()
    );

    let events = daemons[1].events();
    std::thread::sleep(Duration::from_millis(200));
    daemons[0].signal(nix::sys::signal::Signal::SIGKILL);
    let killed = Instant::now();
    assert!(daemons[0].wait_exit(Duration::from_secs(5)).is_some());
    nss[0].link_down("eth0").unwrap();
    let moved = wait_until(Duration::from_secs(20), || has_address(nss[1], &vip));
    assert!(moved.is_some(), "no takeover:\n{}", logs(&daemons));
    // node2 ran only a fence device, no service: it waited the priority
    // fencing delay (1 s) after the death (deadtime, ~0.5 s) before shooting.
    assert!(
        killed.elapsed() >= Duration::from_millis(1300),
        "no priority fencing delay: {:?}",
        killed.elapsed()
    );
    eprintln!(
        "kill -9 → node1 fenced → VIP on node2 after {:?} (deadtime 500 ms, priority \
         fencing delay 1 s)",
        killed.elapsed()
    );
    let mut kinds = Vec::new();
    while let Ok(record) = events.recv_timeout(Duration::from_millis(500)) {
        kinds.push((record.kind, record.text));
    }
    let position = |kind: &str| kinds.iter().position(|(k, _)| k == kind);
    let fenced = position("fenced").unwrap_or_else(|| panic!("not fenced: {kinds:?}"));
    let started = position("resource_started").unwrap_or_else(|| panic!("{kinds:?}"));
    assert!(
        fenced < started,
        "the VIP started before fencing: {kinds:?}"
    );
    assert!(kinds[fenced].1.contains("Confirmed"), "{kinds:?}");
    assert!(position("recovery_without_fencing").is_none(), "{kinds:?}");
    let report = daemons[1].status().unwrap();
    assert!(
        report
            .cluster
            .fencing
            .iter()
            .any(|f| f.node == "node1" && f.by == "node2"),
        "{report:#?}"
    );

    daemons[1].signal(nix::sys::signal::Signal::SIGTERM);
    assert_eq!(daemons[1].wait_exit(Duration::from_secs(15)), Some(0));
    drop(stop1);
    drop(stop2);
    let ops1 = bmc1.join().unwrap();
    let ops2 = bmc2.join().unwrap();
    assert!(
        ops1.iter().any(|o| o.contains("Off")),
        "node1's BMC never powered it off: {ops1:?}"
    );
    assert!(ops2.is_empty(), "node2 was never to be fenced: {ops2:?}");
}
