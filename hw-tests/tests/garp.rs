//! Gratuitous ARP and IPv6 unsolicited neighbour advertisements, judged by
//! real kernels and by tcpdump.
//!
//! Three nodes on one switch (a bridge namespace). Node A takes over a service
//! address and changes its MAC (as a failover to new hardware does), then runs
//! `ironbeat link send-arp`. The neighbour tables of the other nodes must
//! follow: C (arp_accept=1) had a stale entry pointing at an old MAC, B
//! (arp_accept=1) had none and learns one. tcpdump in C decodes the frames as
//! ARP requests and replies (IPv6: neighbor advertisements) from the new MAC.

use std::time::Duration;

use ironbeat_hw_tests::netns::{Bridge, Subnet};
use ironbeat_hw_tests::tcpdump::Tcpdump;
use ironbeat_hw_tests::{binary, cmd, env, Netns};

struct Segment {
    a: Netns,
    b: Netns,
    c: Netns,
    subnet: Subnet,
    _switch: Bridge,
}

fn segment(tag: &str) -> Segment {
    let subnet = Subnet::next();
    let switch = Bridge::new(tag, "sw").unwrap();
    let a = Netns::new(tag, "a").unwrap();
    let b = Netns::new(tag, "b").unwrap();
    let c = Netns::new(tag, "c").unwrap();
    for (ns, h) in [(&a, 1), (&b, 2), (&c, 3)] {
        // The kernel must not announce address changes itself (these default
        // to 0; set explicitly so only ironbeat's frames can update the tables).
        ns.sysctl("net.ipv4.conf.all.arp_notify", "0").unwrap();
        ns.sysctl("net.ipv6.conf.all.ndisc_notify", "0").unwrap();
        ns.sysctl("net.ipv6.conf.default.ndisc_notify", "0")
            .unwrap();
        ns.sysctl("net.ipv6.conf.default.accept_dad", "0").unwrap();
        switch
            .attach(ns, "eth0", Some(&subnet.mac(h)), Some(&subnet.cidr(h)))
            .unwrap();
    }
    for ns in [&b, &c] {
        ns.sysctl("net.ipv4.conf.all.arp_accept", "1").unwrap();
        ns.sysctl("net.ipv4.conf.eth0.arp_accept", "1").unwrap();
    }
    Segment {
        a,
        b,
        c,
        subnet,
        _switch: switch,
    }
}

/// The lladdr of `ip` in `ns`'s neighbour table, if any.
fn neighbour(ns: &Netns, ip: &str) -> Option<String> {
    let family = if ip.contains(':') { "-6" } else { "-4" };
    let out = ns.ip(&[family, "neigh", "show", ip, "dev", "eth0"]).ok()?;
    let words: Vec<&str> = out.stdout.split_whitespace().collect();
    words
        .iter()
        .position(|w| *w == "lladdr")
        .and_then(|i| words.get(i + 1))
        .map(|m| m.to_ascii_lowercase())
}

fn wait_neighbour(ns: &Netns, ip: &str, mac: &str) {
    let seen = cmd::poll(Duration::from_secs(3), Duration::from_millis(20), || {
        (neighbour(ns, ip).as_deref() == Some(mac)).then_some(())
    });
    assert!(
        seen.is_some(),
        "{}: neighbour {ip} is {:?}, expected {mac}",
        ns.name(),
        neighbour(ns, ip)
    );
}

fn send_arp(ns: &Netns, args: &[&str]) -> cmd::Output {
    let bin = binary::ironbeat().unwrap();
    let bin = bin.to_str().unwrap();
    let mut all = vec!["link", "send-arp", "--iface", "eth0"];
    all.extend_from_slice(args);
    cmd::check(ns.command(bin).args(&all), Duration::from_secs(20)).unwrap()
}

#[test]
fn gratuitous_arp_moves_the_neighbour_entries_to_the_new_mac() {
    if !env::can_run("garp::ipv4", &["tcpdump"]) {
        return;
    }
    let seg = segment("garp4");
    let vip = seg.subnet.host(100).to_string();
    let old_mac = seg.subnet.mac(0xee);
    let new_mac = seg.subnet.mac(0xaa);
    seg.c
        .ip(&[
            "neigh", "replace", &vip, "lladdr", &old_mac, "dev", "eth0", "nud", "stale",
        ])
        .unwrap();
    seg.a
        .ip(&["addr", "add", &format!("{vip}/24"), "dev", "eth0"])
        .unwrap();
    seg.a.set_mac("eth0", &new_mac).unwrap();
    // Nothing has told C yet.
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(neighbour(&seg.c, &vip).as_deref(), Some(old_mac.as_str()));
    assert_eq!(neighbour(&seg.b, &vip), None);

    let mut dump = Tcpdump::start(&seg.c, "eth0", &["arp"]).unwrap();
    send_arp(
        &seg.a,
        &[
            "--ip",
            &vip,
            "--count",
            "2",
            "--interval",
            "100ms",
            "--mode",
            "both",
        ],
    );
    wait_neighbour(&seg.c, &vip, &new_mac);
    wait_neighbour(&seg.b, &vip, &new_mac);

    let is_request = |l: &str| {
        l.contains(&format!("Request who-has {vip} ")) && l.contains(&format!("tell {vip},"))
    };
    let reply = format!("Reply {vip} is-at {new_mac}");
    let from = format!("{new_mac} > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806)");
    assert!(dump.wait_lines(2, Duration::from_secs(2), is_request));
    assert!(dump.wait_lines(2, Duration::from_secs(2), |l| l.contains(&reply)));
    let lines = dump.stop();
    let ours: Vec<&String> = lines.iter().filter(|l| l.contains(&vip)).collect();
    assert!(
        ours.iter().all(|l| l.contains(&from)),
        "every frame for {vip} is a broadcast from {new_mac}:\n{}",
        lines.join("\n")
    );
    assert_eq!(
        ours.iter().filter(|l| is_request(l)).count(),
        2,
        "{}",
        lines.join("\n")
    );
    assert_eq!(
        ours.iter().filter(|l| l.contains(&reply)).count(),
        2,
        "{}",
        lines.join("\n")
    );
}

#[test]
fn reply_mode_with_an_explicit_mac_sends_only_replies_for_that_mac() {
    if !env::can_run("garp::reply_mac", &["tcpdump"]) {
        return;
    }
    let seg = segment("garpr");
    let vip = seg.subnet.host(101).to_string();
    let announced = seg.subnet.mac(0xbb);
    seg.c
        .ip(&[
            "neigh",
            "replace",
            &vip,
            "lladdr",
            &seg.subnet.mac(0xee),
            "dev",
            "eth0",
            "nud",
            "stale",
        ])
        .unwrap();
    let mut dump = Tcpdump::start(&seg.c, "eth0", &["arp"]).unwrap();
    send_arp(
        &seg.a,
        &[
            "--ip", &vip, "--count", "1", "--mode", "reply", "--mac", &announced,
        ],
    );
    wait_neighbour(&seg.c, &vip, &announced);
    let reply = format!("Reply {vip} is-at {announced}");
    assert!(dump.wait_lines(1, Duration::from_secs(2), |l| l.contains(&reply)));
    let lines = dump.stop();
    assert!(
        !lines
            .iter()
            .any(|l| l.contains("Request who-has") && l.contains(&vip)),
        "--mode reply sends no requests:\n{}",
        lines.join("\n")
    );
}

#[test]
fn unsolicited_neighbour_advertisement_overrides_the_ipv6_entry() {
    if !env::can_run("garp::ipv6_na", &["tcpdump"]) {
        return;
    }
    let seg = segment("garp6");
    let vip = seg.subnet.v6_host(0x100).to_string();
    let old_mac = seg.subnet.mac(0xee);
    let new_mac = seg.subnet.mac(0xaa);
    seg.a
        .ip(&[
            "-6",
            "addr",
            "add",
            &seg.subnet.v6_cidr(0x100),
            "dev",
            "eth0",
            "nodad",
        ])
        .unwrap();
    seg.a.set_mac("eth0", &new_mac).unwrap();
    seg.c
        .ip(&[
            "-6", "neigh", "replace", &vip, "lladdr", &old_mac, "dev", "eth0", "nud", "stale",
        ])
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(neighbour(&seg.c, &vip).as_deref(), Some(old_mac.as_str()));

    let mut dump = Tcpdump::start(&seg.c, "eth0", &["icmp6"]).unwrap();
    send_arp(
        &seg.a,
        &["--ip", &vip, "--count", "2", "--interval", "100ms"],
    );
    wait_neighbour(&seg.c, &vip, &new_mac);
    let na = format!("neighbor advertisement, tgt is {vip}");
    assert!(
        dump.wait_lines(2, Duration::from_secs(2), |l| l.contains(&na)),
        "{}",
        dump.lines().join("\n")
    );
    let lines = dump.stop();
    for l in lines.iter().filter(|l| l.contains(&na)) {
        assert!(
            l.contains(&format!(" {new_mac} > 33:33:00:00:00:01")),
            "NA from {new_mac} to the all-nodes group: {l}"
        );
    }
}
