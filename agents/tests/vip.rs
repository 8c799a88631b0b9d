//! The built-in IP address agent against a real kernel, in namespaces this
//! test creates (198.18.0.0/15 and 2001:2::/48 only): add, announce (seen by
//! tcpdump on the peer), findif, monitor, remove; IPv6 with neighbour
//! advertisements; interop with the real OCF IPaddr2 script.

mod common;

use std::time::Duration;

use common::{in_ns, spec, TIMEOUT};
use ironbeat_agents::{execute, Class, ExecEnv, OcfCode, Operation};
use ironbeat_hw_tests::tcpdump::Tcpdump;
use ironbeat_hw_tests::{Cable, Netns};

fn has_addr(ns: &Netns, iface: &str, cidr: &str) -> bool {
    ns.ip(&["-o", "addr", "show", "dev", iface])
        .map(|o| o.stdout.contains(&format!(" {cidr} ")))
        .unwrap_or(false)
}

#[test]
fn ipv4_start_announces_every_time_findif_monitor_stop() {
    if !common::can_run(
        "ipv4_start_announces_every_time_findif_monitor_stop",
        true,
        &["tcpdump"],
    ) {
        return;
    }
    let node = Netns::new("agv4", "n1").unwrap();
    let peer = Netns::new("agv4", "n2").unwrap();
    let c0 = Cable::connect("agv4", "c0", &node, "eth0", &peer, "eth0").unwrap();
    let c1 = Cable::connect("agv4", "c1", &node, "eth1", &peer, "eth1").unwrap();
    // The VIP is in eth1's subnet: findif must pick eth1, not eth0.
    let vip = c1.subnet.host(100).to_string();
    let decoy = c0.subnet.host(100).to_string();
    let mut dump = Tcpdump::start(&peer, "eth1", &["arp"]).unwrap();
    let s = spec(
        "vip",
        Class::Ocf,
        Some("heartbeat"),
        "IPaddr2",
        &[("ip", &vip)],
    );
    let probe = in_ns(&node, {
        let s = s.clone();
        move || async move { execute(&s, Operation::Probe, TIMEOUT, &ExecEnv::default()).await }
    });
    assert_eq!(probe.code, OcfCode::NotRunning, "{probe:?}");

    let started = in_ns(&node, {
        let s = s.clone();
        move || async move {
            let r = execute(&s, Operation::Start, TIMEOUT, &ExecEnv::default()).await;
            // Keep the runtime alive for the background announcements.
            tokio::time::sleep(Duration::from_millis(1200)).await;
            r
        }
    });
    assert_eq!(started.code, OcfCode::Ok, "{started:?}");
    assert!(
        started.elapsed < Duration::from_millis(1000),
        "start waited for the burst: {started:?}"
    );
    assert!(
        has_addr(&node, "eth1", &format!("{vip}/24")),
        "VIP not on eth1"
    );
    assert!(!has_addr(&node, "eth0", &format!("{vip}/24")));
    let gratuitous = |l: &str| l.contains(&format!("Request who-has {vip} tell {vip}"));
    assert!(
        dump.wait_lines(5, Duration::from_secs(5), gratuitous),
        "{:#?}",
        dump.lines()
    );

    // Already present: start is Ok and announces again (5 more).
    let again = in_ns(&node, {
        let s = s.clone();
        move || async move {
            let r = execute(&s, Operation::Start, TIMEOUT, &ExecEnv::default()).await;
            tokio::time::sleep(Duration::from_millis(1200)).await;
            r
        }
    });
    assert_eq!(again.code, OcfCode::Ok, "{again:?}");
    assert!(
        dump.wait_lines(10, Duration::from_secs(5), gratuitous),
        "{:#?}",
        dump.lines()
    );
    let lines = dump.stop();
    let replies = lines
        .iter()
        .filter(|l| l.contains(&format!("Reply {vip} is-at")))
        .count();
    assert!(
        replies >= 10,
        "heartbeat's send_arp pattern sends a reply per round: {lines:#?}"
    );

    let monitor = in_ns(&node, {
        let s = s.clone();
        move || async move {
            execute(
                &s,
                Operation::Monitor {
                    interval: Duration::from_secs(10),
                },
                TIMEOUT,
                &ExecEnv::default(),
            )
            .await
        }
    });
    assert_eq!(monitor.code, OcfCode::Ok, "{monitor:?}");

    // The decoy in eth0's subnet lands on eth0.
    let d = spec("decoy", Class::Heartbeat, None, "IPaddr", &[("1", &decoy)]);
    let r = in_ns(&node, {
        let d = d.clone();
        move || async move {
            let mut d = d;
            // arp_bg is the default; use a foreground burst of 1 for speed.
            d.params.clear();
            d.params.insert("1".into(), decoy.clone());
            execute(&d, Operation::Start, TIMEOUT, &ExecEnv::default()).await
        }
    });
    assert_eq!(r.code, OcfCode::Ok, "{r:?}");
    assert!(has_addr(
        &node,
        "eth0",
        &format!("{}/24", c0.subnet.host(100))
    ));
    let r = in_ns(&node, move || async move {
        execute(&d, Operation::Stop, TIMEOUT, &ExecEnv::default()).await
    });
    assert_eq!(r.code, OcfCode::Ok, "{r:?}");

    for _ in 0..2 {
        let stopped = in_ns(&node, {
            let s = s.clone();
            move || async move { execute(&s, Operation::Stop, TIMEOUT, &ExecEnv::default()).await }
        });
        assert_eq!(stopped.code, OcfCode::Ok, "{stopped:?}");
        assert!(!has_addr(&node, "eth1", &format!("{vip}/24")));
    }
    let monitor = in_ns(&node, move || async move {
        execute(&s, Operation::Probe, TIMEOUT, &ExecEnv::default()).await
    });
    assert_eq!(monitor.code, OcfCode::NotRunning, "{monitor:?}");
}

#[test]
fn unknown_parameter_and_unplaceable_address_are_not_configured() {
    if !common::can_run(
        "unknown_parameter_and_unplaceable_address_are_not_configured",
        true,
        &[],
    ) {
        return;
    }
    let node = Netns::new("agcfg", "n1").unwrap();
    let r = in_ns(&node, move || async move {
        let bad = spec(
            "v",
            Class::Ocf,
            Some("heartbeat"),
            "IPaddr2",
            &[("ip", "198.18.9.9"), ("colour", "red")],
        );
        let nowhere = spec(
            "v",
            Class::Ocf,
            Some("heartbeat"),
            "IPaddr2",
            &[("ip", "198.18.9.9")],
        );
        (
            execute(&bad, Operation::Start, TIMEOUT, &ExecEnv::default()).await,
            execute(&nowhere, Operation::Start, TIMEOUT, &ExecEnv::default()).await,
        )
    });
    assert_eq!(r.0.code, OcfCode::NotConfigured);
    assert!(
        r.0.exit_reason.as_deref().unwrap_or("").contains("colour"),
        "{:?}",
        r.0
    );
    assert_eq!(r.1.code, OcfCode::NotConfigured);
    assert!(
        r.1.exit_reason
            .as_deref()
            .unwrap_or("")
            .contains("no up interface"),
        "{:?}",
        r.1
    );
}

#[test]
fn ipv6_start_sends_unsolicited_neighbour_advertisements() {
    if !common::can_run(
        "ipv6_start_sends_unsolicited_neighbour_advertisements",
        true,
        &["tcpdump"],
    ) {
        return;
    }
    let node = Netns::new("agv6", "n1").unwrap();
    let peer = Netns::new("agv6", "n2").unwrap();
    let c0 = Cable::connect("agv6", "c0", &node, "eth0", &peer, "eth0").unwrap();
    node.ip(&["addr", "add", &c0.subnet.v6_cidr(1), "dev", "eth0", "nodad"])
        .unwrap();
    peer.ip(&["addr", "add", &c0.subnet.v6_cidr(2), "dev", "eth0", "nodad"])
        .unwrap();
    let vip = c0.subnet.v6_host(0x100).to_string();
    let mut dump = Tcpdump::start(&peer, "eth0", &["icmp6"]).unwrap();
    let s = spec(
        "vip6",
        Class::Ocf,
        Some("heartbeat"),
        "IPaddr2",
        &[("ip", &vip), ("arp_bg", "false")],
    );
    let (start, monitor) = in_ns(&node, {
        let s = s.clone();
        move || async move {
            let start = execute(&s, Operation::Start, TIMEOUT, &ExecEnv::default()).await;
            let monitor = execute(&s, Operation::Probe, TIMEOUT, &ExecEnv::default()).await;
            (start, monitor)
        }
    });
    assert_eq!(start.code, OcfCode::Ok, "{start:?}");
    // Foreground burst: 5 rounds 200 ms apart.
    assert!(start.elapsed >= Duration::from_millis(750), "{start:?}");
    assert_eq!(monitor.code, OcfCode::Ok, "{monitor:?}");
    assert!(
        has_addr(&node, "eth0", &format!("{vip}/64")),
        "findif's /64 expected"
    );
    let na = |l: &str| l.contains("neighbor advertisement") && l.contains(&format!("tgt is {vip}"));
    assert!(
        dump.wait_lines(5, Duration::from_secs(5), na),
        "{:#?}",
        dump.lines()
    );
    dump.stop();
    let (stop, probe) = in_ns(&node, move || async move {
        (
            execute(&s, Operation::Stop, TIMEOUT, &ExecEnv::default()).await,
            execute(&s, Operation::Probe, TIMEOUT, &ExecEnv::default()).await,
        )
    });
    assert_eq!(stop.code, OcfCode::Ok, "{stop:?}");
    assert_eq!(probe.code, OcfCode::NotRunning, "{probe:?}");
}

#[test]
fn builtin_and_ocf_ipaddr2_script_agree() {
    if !common::can_run(
        "builtin_and_ocf_ipaddr2_script_agree",
        true,
        &[common::OCF_IPADDR2],
    ) {
        return;
    }
    let node = Netns::new("agiop", "n1").unwrap();
    let peer = Netns::new("agiop", "n2").unwrap();
    let c0 = Cable::connect("agiop", "c0", &node, "eth0", &peer, "eth0").unwrap();
    let vip = c0.subnet.host(100).to_string();
    let params = [
        ("ip", vip.as_str()),
        ("cidr_netmask", "24"),
        ("nic", "eth0"),
    ];
    let ours = spec("vip", Class::Ocf, Some("heartbeat"), "IPaddr2", &params);
    let mut theirs = ours.clone();
    theirs.builtin = false;
    let results = in_ns(&node, move || async move {
        let env = ExecEnv::default();
        let mut out = Vec::new();
        out.push((
            "ours start",
            execute(&ours, Operation::Start, TIMEOUT, &env).await,
        ));
        out.push((
            "theirs monitor (ours added)",
            execute(&theirs, Operation::Probe, TIMEOUT, &env).await,
        ));
        out.push((
            "ours stop",
            execute(&ours, Operation::Stop, TIMEOUT, &env).await,
        ));
        out.push((
            "theirs probe (stopped)",
            execute(&theirs, Operation::Probe, TIMEOUT, &env).await,
        ));
        out.push((
            "theirs start",
            execute(&theirs, Operation::Start, TIMEOUT, &env).await,
        ));
        out.push((
            "ours monitor (theirs added)",
            execute(&ours, Operation::Probe, TIMEOUT, &env).await,
        ));
        out.push((
            "theirs stop",
            execute(&theirs, Operation::Stop, TIMEOUT, &env).await,
        ));
        out.push((
            "ours probe (stopped)",
            execute(&ours, Operation::Probe, TIMEOUT, &env).await,
        ));
        out
    });
    let expected = [
        OcfCode::Ok,
        OcfCode::Ok,
        OcfCode::Ok,
        OcfCode::NotRunning,
        OcfCode::Ok,
        OcfCode::Ok,
        OcfCode::Ok,
        OcfCode::NotRunning,
    ];
    for ((what, result), want) in results.iter().zip(expected) {
        assert_eq!(result.code, want, "{what}: {result:?}");
    }
}

#[test]
fn stop_cancels_the_background_announcements() {
    if !common::can_run(
        "stop_cancels_the_background_announcements",
        true,
        &["tcpdump"],
    ) {
        return;
    }
    let node = Netns::new("agcan", "n1").unwrap();
    let peer = Netns::new("agcan", "n2").unwrap();
    let c0 = Cable::connect("agcan", "c0", &node, "eth0", &peer, "eth0").unwrap();
    let vip = c0.subnet.host(100).to_string();
    let mut dump = Tcpdump::start(&peer, "eth0", &["arp"]).unwrap();
    let s = spec(
        "vip",
        Class::Ocf,
        Some("heartbeat"),
        "IPaddr2",
        &[("ip", &vip)],
    );
    let (start, stop) = in_ns(&node, move || async move {
        let env = ExecEnv::default();
        let start = execute(&s, Operation::Start, TIMEOUT, &env).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let stop = execute(&s, Operation::Stop, TIMEOUT, &env).await;
        // Long enough for the rest of a 5 x 200 ms burst, had it continued.
        tokio::time::sleep(Duration::from_millis(1200)).await;
        (start, stop)
    });
    assert_eq!(start.code, OcfCode::Ok, "{start:?}");
    assert_eq!(stop.code, OcfCode::Ok, "{stop:?}");
    let lines = dump.stop();
    let requests = lines
        .iter()
        .filter(|l| l.contains(&format!("Request who-has {vip} tell {vip}")))
        .count();
    // Rounds at 0 and 200 ms went out before the stop at ~300 ms; no more after it.
    assert!(
        (1..=2).contains(&requests),
        "{requests} requests: {lines:#?}"
    );
}
