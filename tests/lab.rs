//! The virtual cluster lab (src/lab/) against the real kernel: namespaces,
//! the prober and its ARP watch, the BMCs driven by ipmitool, the faults.
//! Needs root (skips loudly without it).

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use ironbeat::lab::{DaemonPid, HaConfig, Lab, LabSpec, Link, Links, NodeCommand, ProbeOptions};
use ironbeat_link::wire::arp::{self, MacAddr, Operation};

fn root() -> bool {
    if nix::unistd::Uid::effective().is_root() {
        return true;
    }
    eprintln!("SKIP: the lab tests need root (network namespaces)");
    false
}

fn quiet(_: &str) {}

/// Adds the VIP on `node` and announces it with a gratuitous ARP, as an
/// IP agent does.
fn take_vip(lab: &Lab, n: usize) {
    let node = lab.node(n).unwrap();
    let vip = lab.vip();
    let out = std::process::Command::new("ip")
        .args([
            "-n",
            node.netns(),
            "addr",
            "add",
            &format!("{vip}/24"),
            "dev",
            "eth0",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    garp(node.netns(), node.mac(), vip);
}

fn garp(netns: &str, mac: [u8; 6], ip: Ipv4Addr) {
    let ns = netns.to_owned();
    std::thread::spawn(move || {
        ironbeat::lab::enter_netns(&ns).unwrap();
        let repr = arp::gratuitous(MacAddr(mac), ip, Operation::Request);
        let mut frame = [0u8; arp::FRAME_LEN];
        repr.emit(&mut arp::Packet::new_unchecked(&mut frame[..]));
        ironbeat_link::driver::ether::send_raw("eth0", &frame).unwrap();
    })
    .join()
    .unwrap();
}

fn drop_vip(lab: &Lab, n: usize) {
    let node = lab.node(n).unwrap();
    let out = std::process::Command::new("ip")
        .args([
            "-n",
            node.netns(),
            "addr",
            "del",
            &format!("{}/24", lab.vip()),
            "dev",
            "eth0",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
}

#[test]
fn spec_errors_say_what_to_change() {
    for (spec, needle) in [
        (LabSpec::new("", 2), "lowercase letters or digits"),
        (LabSpec::new("Bad-Tag", 2), "lowercase letters or digits"),
        (LabSpec::new("waytoolongtag", 2), "1 to 8"),
        (LabSpec::new("ok", 1), "2 to 16 nodes"),
        (LabSpec::new("ok", 17), "2 to 16 nodes"),
        (LabSpec::new("ok", 3).null_modem(true), "exactly two nodes"),
    ] {
        let err = Lab::build(spec, &mut quiet).unwrap_err().to_string();
        assert!(err.contains(needle), "{err}");
    }
}

#[test]
fn prober_follows_the_vip_and_flags_two_owners() {
    if !root() {
        return;
    }
    let lab = Lab::build(LabSpec::new("vip", 2), &mut quiet).unwrap();
    let prober = lab.prober(ProbeOptions::default()).unwrap();
    // Nobody holds the VIP: nothing answers.
    std::thread::sleep(Duration::from_millis(200));
    let trace = prober.snapshot();
    assert!(trace.ticks().len() >= 5, "{} ticks", trace.ticks().len());
    assert!(trace
        .ticks()
        .iter()
        .all(|t| t.answered_by().is_none() && t.arp.is_empty()));

    let t1 = Instant::now();
    take_vip(&lab, 1);
    let seen1 = prober
        .wait_for_answer("node1", t1, Duration::from_secs(5))
        .expect("node1 answers");
    assert!(prober
        .wait_for_steady("node1", 10, Duration::from_secs(5))
        .is_some());

    // Moved by hand: node1 lets go, node2 takes it and announces it.
    drop_vip(&lab, 1);
    let t2 = Instant::now();
    take_vip(&lab, 2);
    let seen2 = prober
        .wait_for_answer("node2", t2, Duration::from_secs(5))
        .expect("node2 answers");
    assert!(seen2 > seen1);
    assert!(
        seen2 - t2 < Duration::from_millis(500),
        "the client followed the GARP late: {:?}",
        seen2 - t2
    );
    assert!(prober
        .wait_for_steady("node2", 10, Duration::from_secs(5))
        .is_some());
    let before_both = Instant::now();
    assert!(
        prober.snapshot().violations().is_empty(),
        "a clean move has no two owners"
    );

    // Both hold it: the ARP watch sees two MACs answer at one instant.
    take_vip(&lab, 1);
    std::thread::sleep(Duration::from_millis(300));
    let trace = prober.stop();
    let violations = trace.violations_after(before_both);
    assert!(!violations.is_empty(), "two owners not flagged");
    let v = violations[0];
    assert!(
        v.arp.contains(&"node1".to_owned()) && v.arp.contains(&"node2".to_owned()),
        "{v:?}"
    );
    let gaps = trace.gaps(t1, Instant::now());
    assert!(
        gaps.iter().all(|g| g.length < Duration::from_millis(500)),
        "{gaps:?}"
    );
}

#[test]
fn power_off_through_the_bmc_darkens_the_node_and_on_restarts_its_daemon() {
    if !root() {
        return;
    }
    let lab = Lab::build(LabSpec::new("bmc", 2), &mut quiet).unwrap();
    let node1 = lab.node(1).unwrap();
    // The "daemon": a process that stays; the starter records its PID.
    node1.set_starter(Box::new(|n| {
        let pid = n.spawn(&NodeCommand::new("sleep", &["300"]))?;
        Ok(DaemonPid::Known(pid))
    }));
    lab.start_daemon(1).unwrap();
    let first = node1.daemon_pid().expect("daemon runs");
    take_vip(&lab, 1);
    let prober = lab.prober(ProbeOptions::default()).unwrap();
    assert!(prober
        .wait_for_steady("node1", 5, Duration::from_secs(5))
        .is_some());

    // The host name is the node name inside the node.
    let out = node1
        .run(&NodeCommand::new("uname", &["-n"]), Duration::from_secs(10))
        .unwrap();
    assert_eq!(out.stdout.trim(), "node1");

    let status = lab.ipmitool(2, 1, &["chassis", "power", "status"]).unwrap();
    assert!(status.stdout.contains("is on"), "{status:?}");
    let off_at = Instant::now();
    let off = lab.ipmitool(2, 1, &["chassis", "power", "off"]).unwrap();
    assert!(off.status.success(), "{off:?}");
    assert!(!node1.is_powered().unwrap());
    assert!(
        node1.daemon_pid().is_none(),
        "the daemon died with the power"
    );
    assert!(
        !std::path::Path::new(&format!("/proc/{first}")).exists() || {
            // A zombie until reaped is gone from the namespace scan already.
            ironbeat::lab::pids_in_netns(node1.netns()).is_empty()
        }
    );
    let status = lab.ipmitool(2, 1, &["chassis", "power", "status"]).unwrap();
    assert!(status.stdout.contains("is off"), "{status:?}");
    // Dark: no answer from node1 after the power went.
    std::thread::sleep(Duration::from_millis(400));
    let trace = prober.snapshot();
    let settle = off_at + Duration::from_millis(100);
    assert_eq!(
        trace.answers_from("node1", settle),
        (0, 0),
        "node1 still answers"
    );
    let events = node1.power_events();
    assert_eq!(events.len(), 1);
    assert!(!events[0].on);

    // The BMC stays reachable from node1's peer while node1's LAN is cut too.
    lab.cut(1, Link::Lan).unwrap();
    let on = lab.ipmitool(2, 1, &["chassis", "power", "on"]).unwrap();
    assert!(on.status.success(), "{on:?}");
    lab.heal(1, Link::Lan).unwrap();
    assert!(node1.is_powered().unwrap());
    let second = node1.daemon_pid().expect("the starter ran at power-on");
    assert_ne!(first, second);
    assert!(!node1.holds(lab.vip()).unwrap(), "a reboot forgets the VIP");

    // kill -9 of the daemon only: the node stays powered.
    node1.kill_daemon().unwrap();
    std::thread::sleep(Duration::from_millis(50));
    assert!(node1.daemon_pid().is_none());
    assert!(node1.is_powered().unwrap());
}

#[test]
fn isolation_cuts_every_cluster_link_both_ways_and_heals() {
    if !root() {
        return;
    }
    let lab = Lab::build(
        LabSpec::new("iso", 3).crossover(true).bmc(false),
        &mut quiet,
    )
    .unwrap();
    let ping = |from: usize, to: Ipv4Addr| {
        lab.node(from)
            .unwrap()
            .run(
                &NodeCommand::new("ping", &["-c", "1", "-W", "1", &to.to_string()]),
                Duration::from_secs(5),
            )
            .unwrap()
            .status
            .success()
    };
    let n1 = lab.node(1).unwrap().lan_ip();
    let n3 = lab.node(3).unwrap().lan_ip();
    assert!(ping(2, n1));
    assert_eq!(
        lab.node(1).unwrap().interfaces(),
        ["eth0", "mgmt0", "x2", "x3"]
    );
    lab.isolate(1).unwrap();
    assert!(!ping(2, n1), "node1 still reachable");
    assert!(!ping(1, n3), "node1 still reaches out");
    assert!(ping(2, n3), "the others stay connected");
    lab.rejoin(1).unwrap();
    assert!(ping(2, n1));
    assert!(
        lab.cut(1, Link::Crossover(1)).is_err(),
        "no cable to itself"
    );
}

#[test]
fn the_lab_ha_d_passes_config_check_inside_each_node() {
    if !root() {
        return;
    }
    let lab = Lab::build(
        LabSpec::new("cfg", 2).crossover(true).null_modem(true),
        &mut quiet,
    )
    .unwrap();
    let mut config = HaConfig::new(Duration::from_millis(50), Duration::from_millis(250));
    config.links = Links::ALL;
    config.fencing = true;
    config.write(&lab).unwrap();
    let binary = env!("CARGO_BIN_EXE_ironbeat");
    for node in lab.nodes() {
        let cf = std::fs::read_to_string(node.ha_d().join("ha.cf")).unwrap();
        for line in [
            "ucast eth0 ",
            "bcast eth0",
            "ether eth1",
            "serial ",
            "stonith_host * external/ipmi hostname=node2",
        ] {
            assert!(cf.contains(line), "{line:?} missing from\n{cf}");
        }
        let ha_d = node.ha_d();
        let state = node.state_dir();
        let out = node
            .run(
                &NodeCommand::new(
                    binary,
                    &[
                        "config",
                        "check",
                        "--runnable",
                        "--node",
                        node.name(),
                        "--ha-d",
                        ha_d.to_str().unwrap(),
                        "--state-dir",
                        state.to_str().unwrap(),
                    ],
                ),
                Duration::from_secs(30),
            )
            .unwrap();
        assert!(
            out.status.success(),
            "{}: {}{}\n{cf}",
            node.name(),
            out.stdout,
            out.stderr
        );
    }
}

#[test]
fn a_node_boots_its_daemon_after_the_boot_time_and_a_power_off_cancels_it() {
    if !root() {
        return;
    }
    let lab = Lab::build(
        LabSpec::new("boot", 2)
            .bmc(false)
            .boot_time(Duration::from_millis(400)),
        &mut quiet,
    )
    .unwrap();
    let node = lab.node(2).unwrap();
    node.set_starter(Box::new(|n| {
        Ok(DaemonPid::Known(
            n.spawn(&NodeCommand::new("sleep", &["300"]))?,
        ))
    }));
    lab.power_off(2).unwrap();
    lab.power_on(2).unwrap();
    assert!(node.is_powered().unwrap());
    assert!(node.daemon_pid().is_none(), "still booting");
    std::thread::sleep(Duration::from_millis(700));
    assert!(node.daemon_pid().is_some(), "booted");
    // Off, on, and off again within the boot time: nothing starts.
    lab.power_off(2).unwrap();
    lab.power_on(2).unwrap();
    lab.power_off(2).unwrap();
    std::thread::sleep(Duration::from_millis(700));
    assert!(node.daemon_pid().is_none());
    assert!(ironbeat::lab::pids_in_netns(node.netns()).is_empty());
    let events = node.power_events();
    assert_eq!(events.iter().filter(|e| e.on).count(), 2);
}
