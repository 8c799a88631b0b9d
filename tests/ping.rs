//! Ping nodes for real: two `ironbeat run` daemons on the virtual lab
//! (`ironbeat::lab`), joined by a crossover cable (raw Ethernet link) and a
//! null-modem cable (serial link), with the VIP on node1 (haresources) and
//! the client's address on the LAN as their ping node (the "gateway").
//!
//! Pulling node1's LAN cable cuts its path to the gateway but none of the
//! cluster links: node1 reaches 0 targets, node2 still 1, so node1 gives
//! the VIP away and the client sees node2 answer for it, never both at
//! once; `ironbeat status` says why and `ironbeat events` tells it.
//! Plugging the cable back in makes them equal again, and `auto_failback
//! on` brings the VIP home. When the gateway itself goes away (both reach
//! nothing), the VIP stays where it is. Needs root; skips loudly otherwise.
//!
//! ```sh
//! cargo test -p ironbeat --test ping -- --nocapture
//! ```

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use ironbeat::daemon::protocol::{EventRecord, Reply, StatusReport};
use ironbeat::lab::{ironbeat_starter, HaConfig, Lab, LabSpec, Link, Links, ProbeOptions, Prober};

const KEEPALIVE: Duration = Duration::from_millis(50);
const DEADTIME: Duration = Duration::from_millis(300);

/// The daemon under test: `$IRONBEAT_BIN` or `target/$IBT_PROFILE/ironbeat`
/// (hw-tests' lookup), else the one cargo built for this test.
fn ironbeat() -> PathBuf {
    ironbeat_hw_tests::binary::ironbeat()
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_BIN_EXE_ironbeat")))
}

/// `status` over the raw admin protocol.
fn status(socket: &Path) -> Option<StatusReport> {
    let mut stream = UnixStream::connect(socket).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    stream.write_all(b"{\"request\":\"status\"}\n").ok()?;
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).ok()?;
    match serde_json::from_str(&line).ok()? {
        Reply::Status(report) => Some(*report),
        _ => None,
    }
}

/// Subscribes to `ironbeat events`; every record arrives on the channel.
fn events(socket: &Path) -> mpsc::Receiver<EventRecord> {
    let mut stream = UnixStream::connect(socket).expect("events");
    stream
        .write_all(b"{\"request\":\"events\"}\n")
        .expect("events");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().skip(1) {
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

/// Every node's connectivity as `report`'s node sees it.
fn connectivity(report: &StatusReport) -> Vec<(String, Option<u32>)> {
    report
        .cluster
        .nodes
        .iter()
        .map(|n| (n.name.clone(), n.connectivity))
        .collect()
}

fn running_on(report: &StatusReport, resource_prefix: &str) -> Vec<String> {
    report
        .cluster
        .resources
        .iter()
        .filter(|r| r.name.starts_with(resource_prefix))
        .flat_map(|r| r.running_on.clone())
        .collect()
}

/// Polls `check` every 20 ms until it holds or `limit` passes.
fn wait_until(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if check() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn logs(lab: &Lab) -> String {
    lab.nodes()
        .iter()
        .map(|n| {
            let log = std::fs::read_to_string(n.logs().join("ironbeat.log")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(60).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            format!("--- {} ---\n{}\n", n.name(), tail.join("\n"))
        })
        .collect()
}

/// Two nodes pinging the client's address, the VIP on node1 answering
/// steadily and both nodes at connectivity 1; `None` without root.
fn cluster(tag: &str) -> Option<(Lab, Prober, Vec<PathBuf>)> {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("SKIPPED: {tag}: the lab needs root (network namespaces, raw ICMP sockets)");
        return None;
    }
    let spec = LabSpec::new(tag, 2)
        .crossover(true)
        .null_modem(true)
        .bmc(false);
    let lab = Lab::build(spec, &mut |_| {}).expect("lab");
    let mut ha = HaConfig::new(KEEPALIVE, DEADTIME);
    ha.links = Links {
        ucast: false,
        bcast: false,
        ether: true,
        serial: true,
    };
    ha.write(&lab).expect("ha.d");
    let gateway = lab.client_ip();
    for node in lab.nodes() {
        let cf = node.ha_d().join("ha.cf");
        let text = std::fs::read_to_string(&cf).expect("ha.cf");
        std::fs::write(&cf, format!("{text}ping {gateway}\n")).expect("ha.cf");
        node.set_starter(ironbeat_starter(ironbeat(), Vec::new()));
        node.start_daemon().expect("daemon");
    }
    let prober = lab.prober(ProbeOptions::default()).expect("prober");
    let sockets: Vec<PathBuf> = lab.nodes().iter().map(|n| n.socket()).collect();

    // Both reach the gateway, and both know it of each other.
    let both_up = vec![
        ("node1".to_string(), Some(1)),
        ("node2".to_string(), Some(1)),
    ];
    let judged = wait_until(Duration::from_secs(30), || {
        sockets
            .iter()
            .all(|s| status(s).is_some_and(|r| connectivity(&r) == both_up))
    });
    assert!(judged, "connectivity never 1 on both:\n{}", logs(&lab));
    assert!(
        prober
            .wait_for_steady("node1", 25, Duration::from_secs(30))
            .is_some(),
        "the VIP does not answer steadily from node1:\n{}",
        logs(&lab)
    );
    Some((lab, prober, sockets))
}

#[test]
fn the_node_that_loses_its_gateway_gives_the_vip_away() {
    let Some((lab, prober, sockets)) = cluster("ping") else {
        return;
    };
    let seen = events(&sockets[1]);

    // node1's LAN cable: its path to the gateway (and the VIP's to the
    // client), not a cluster link.
    let cut = lab.cut(1, Link::Lan).expect("cut");
    let answered = prober.wait_for_answer("node2", cut, Duration::from_secs(10));
    let Some(answered) = answered else {
        panic!("the VIP never answered from node2:\n{}", logs(&lab));
    };
    eprintln!(
        "gateway lost by the VIP holder -> the VIP answers from node2 after {:?} \
         (deadping {DEADTIME:?} + a deadtime of hold + the handover)",
        answered - cut
    );
    assert!(
        prober
            .wait_for_steady("node2", 10, Duration::from_secs(5))
            .is_some(),
        "{}",
        logs(&lab)
    );
    let report = status(&sockets[1]).expect("node2's status");
    assert_eq!(
        connectivity(&report),
        [
            ("node1".to_string(), Some(0)),
            ("node2".to_string(), Some(1))
        ],
        "{}",
        logs(&lab)
    );
    assert!(
        report.cluster.nodes.iter().all(|n| n.member),
        "the cluster links were cut too: {report:?}"
    );
    assert_eq!(running_on(&report, "IPaddr2"), ["node2"], "{report:?}");
    let records: Vec<EventRecord> = seen.try_iter().collect();
    assert!(
        records.iter().any(|r| r.kind == "connectivity"
            && r.data["Connectivity"]["node"] == "node1"
            && r.data["Connectivity"]["value"] == 0),
        "no connectivity event for node1: {records:?}"
    );
    let node1 = status(&sockets[0]).expect("node1's status");
    assert!(
        node1
            .cluster
            .resources
            .iter()
            .all(|r| r.running_on != ["node1"]),
        "{node1:?}"
    );
    let text = std::process::Command::new(ironbeat())
        .args(["status", "--socket"])
        .arg(&sockets[0])
        .output()
        .expect("ironbeat status");
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("node1  online, 0 ping targets up (fewer than another node")
            && text.contains("node2  online, 1 ping target up"),
        "{text}"
    );

    // Equal again: auto_failback on brings the VIP home.
    let healed = lab.heal(1, Link::Lan).expect("heal");
    let back = prober.wait_for_answer("node1", healed, Duration::from_secs(10));
    assert!(back.is_some(), "no failback:\n{}", logs(&lab));
    let trace = prober.snapshot();
    let violations: Vec<_> = trace.ticks().iter().filter(|t| t.is_violation()).collect();
    assert!(
        violations.is_empty(),
        "two nodes answered for the VIP: {violations:?}"
    );
}

#[test]
fn the_gateway_going_away_for_everyone_moves_nothing() {
    let Some((lab, prober, sockets)) = cluster("pingall") else {
        return;
    };
    // The "gateway" (the client) leaves the LAN: nobody reaches anything.
    let client = lab.client_netns().to_string();
    let ip = |up: &str| {
        let out = std::process::Command::new("ip")
            .args(["-n", &client, "link", "set", "eth0", up])
            .output()
            .expect("ip");
        assert!(out.status.success(), "{out:?}");
    };
    ip("down");
    let both_down = vec![
        ("node1".to_string(), Some(0)),
        ("node2".to_string(), Some(0)),
    ];
    let judged = wait_until(Duration::from_secs(10), || {
        sockets
            .iter()
            .all(|s| status(s).is_some_and(|r| connectivity(&r) == both_down))
    });
    assert!(judged, "connectivity never 0 on both:\n{}", logs(&lab));
    // Longer than deadping + the hold + a handover: the VIP stays.
    let until = Instant::now() + 4 * DEADTIME;
    while Instant::now() < until {
        for socket in &sockets {
            let report = status(socket).expect("status");
            assert_eq!(running_on(&report, "IPaddr2"), ["node1"], "{report:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // Back: still node1, answering again.
    let back = Instant::now();
    ip("up");
    assert!(
        prober
            .wait_for_answer("node1", back, Duration::from_secs(10))
            .is_some(),
        "{}",
        logs(&lab)
    );
    std::thread::sleep(4 * DEADTIME);
    let report = status(&sockets[1]).expect("status");
    assert_eq!(running_on(&report, "IPaddr2"), ["node1"], "{report:?}");
    let violations = prober
        .snapshot()
        .ticks()
        .iter()
        .filter(|t| t.is_violation())
        .count();
    assert_eq!(violations, 0);
}
