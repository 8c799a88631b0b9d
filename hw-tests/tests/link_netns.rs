//! The link layer on real kernels: two `ironbeat link watch` nodes in network
//! namespaces, joined by every medium at once —
//!
//! * cable c0 (eth0): `ucast`, `mcast` and `bcast` UDP,
//! * cable c1 (eth1): `ether` raw Ethernet,
//! * a socat pty pair: `serial` at 115200 baud,
//!
//! with keepalive 50 ms, warntime 150 ms, deadtime 250 ms.
//!
//! Timing bound. A node that dies was last heard at most one keepalive before
//! its death (it sends every keepalive on every path), so its peer must report
//! it dead at most `deadtime` after the death — we allow `deadtime + keepalive`
//! as the contract says, plus [`SLACK`] for scheduling on a loaded 2-core CI
//! machine (two tokio timers, a context switch, the pipe to the harness; all
//! well under 1 ms when idle, tens of ms when cargo builds in parallel).

use std::collections::BTreeSet;
use std::time::Duration;

use ironbeat_hw_tests::topology::{Media, Pair, Timers};
use ironbeat_hw_tests::{env, unix_us, Event, Watcher};

/// Scheduling slack on top of deadtime + keepalive (see the module doc).
const SLACK: Duration = Duration::from_millis(30);

/// Waits until `w` reported `path_up` from `peer` on every one of `paths`
/// (events from index `since` on).
fn wait_paths_up(w: &Watcher, since: usize, peer: &str, paths: &[String], timeout: Duration) {
    for p in paths {
        w.wait_for(since, &format!("path_up {peer} via {p}"), timeout, |e| {
            e.is("path_up", peer) && e.path() == Some(p)
        })
        .unwrap();
    }
}

fn set<'a>(events: impl Iterator<Item = &'a Event>, kind: &str, peer: &str) -> BTreeSet<String> {
    events
        .filter(|e| e.is(kind, peer))
        .filter_map(|e| e.path().map(str::to_string))
        .collect()
}

fn names(paths: &[String], prefix: &str) -> Vec<String> {
    paths
        .iter()
        .filter(|p| p.starts_with(prefix))
        .cloned()
        .collect()
}

#[test]
fn all_media_come_up_and_a_pulled_cable_takes_down_only_its_paths() {
    if !env::can_run("link_netns::cable_pull", &["socat"]) {
        return;
    }
    let timers = Timers::test();
    let pair = Pair::build("pull", Media::ALL, timers.clone()).unwrap();
    let n1 = pair.start(0).unwrap();
    let n2 = pair.start(1).unwrap();
    let paths = [pair.path_names(0), pair.path_names(1)];
    assert_eq!(paths[0].len(), 5, "five media configured");

    // The started event lists the configured paths, named as in ha.cf.
    for (i, w) in [&n1, &n2].into_iter().enumerate() {
        let started = w.wait_started(Duration::from_secs(1)).unwrap();
        let listed: BTreeSet<String> = started.json["paths"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|p| p["name"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let expected: BTreeSet<String> = paths[i].iter().cloned().collect();
        assert_eq!(
            listed,
            expected,
            "started event of node{}: {}",
            i + 1,
            started.json
        );
    }

    // Every path comes up on both nodes, and each node sees the other alive.
    wait_paths_up(&n1, 0, "node2", &paths[0], Duration::from_secs(5));
    wait_paths_up(&n2, 0, "node1", &paths[1], Duration::from_secs(5));
    n1.wait_for(0, "node_alive node2", Duration::from_secs(1), |e| {
        e.is("node_alive", "node2")
    })
    .unwrap();
    n2.wait_for(0, "node_alive node1", Duration::from_secs(1), |e| {
        e.is("node_alive", "node1")
    })
    .unwrap();

    // Pull cable c0: exactly the three UDP paths go down, on both nodes, in time.
    let (m1, m2) = (n1.mark(), n2.mark());
    let pulled_at = unix_us();
    pair.c0.as_ref().unwrap().pull().unwrap();
    let udp = [
        [
            names(&paths[0], "ucast"),
            names(&paths[0], "mcast"),
            names(&paths[0], "bcast"),
        ]
        .concat(),
        [
            names(&paths[1], "ucast"),
            names(&paths[1], "mcast"),
            names(&paths[1], "bcast"),
        ]
        .concat(),
    ];
    let bound = timers.deadtime + timers.keepalive + SLACK + Duration::from_millis(20);
    for (w, peer, since, expect) in [(&n1, "node2", m1, &udp[0]), (&n2, "node1", m2, &udp[1])] {
        for p in expect {
            let e = w
                .wait_for(
                    since,
                    &format!("path_down {p}"),
                    Duration::from_secs(2),
                    |e| e.is("path_down", peer) && e.path() == Some(p),
                )
                .unwrap();
            let took = e.ts_us().unwrap().saturating_sub(pulled_at);
            assert!(
                took <= bound.as_micros() as u64,
                "{}: path_down {p} {took} µs after the pull, bound {bound:?}",
                w.node()
            );
        }
    }
    // Watch a while longer: nothing else goes down, nobody is late or dead.
    std::thread::sleep(timers.deadtime * 3);
    for (w, peer, since, expect) in [(&n1, "node2", m1, &udp[0]), (&n2, "node1", m2, &udp[1])] {
        let events = w.events_since(since);
        let down = set(events.iter(), "path_down", peer);
        let expect: BTreeSet<String> = expect.iter().cloned().collect();
        assert_eq!(down, expect, "{}: paths down after pulling c0", w.node());
        for bad in ["node_late", "node_dead"] {
            assert!(
                !events.iter().any(|e| e.kind() == bad),
                "{}: {bad} while ether and serial still carry heartbeats\n{}",
                w.node(),
                w.diagnostics()
            );
        }
    }

    // Plug it back: the three paths come up again.
    let (m1, m2) = (n1.mark(), n2.mark());
    pair.c0.as_ref().unwrap().plug().unwrap();
    wait_paths_up(&n1, m1, "node2", &udp[0], Duration::from_secs(3));
    wait_paths_up(&n2, m2, "node1", &udp[1], Duration::from_secs(3));

    // The other failure: node1 takes eth1 down (ENETDOWN on its raw socket).
    // Only the ether path goes down; it comes back when eth1 is up again.
    let ether = [names(&paths[0], "ether"), names(&paths[1], "ether")];
    let (m1, m2) = (n1.mark(), n2.mark());
    pair.n1.link_down("eth1").unwrap();
    n1.wait_for(m1, "path_down ether", Duration::from_secs(2), |e| {
        e.is("path_down", "node2") && e.path() == Some(&ether[0][0])
    })
    .unwrap();
    n2.wait_for(m2, "path_down ether", Duration::from_secs(2), |e| {
        e.is("path_down", "node1") && e.path() == Some(&ether[1][0])
    })
    .unwrap();
    std::thread::sleep(timers.deadtime * 2);
    for (w, peer, since, expect) in [(&n1, "node2", m1, &ether[0]), (&n2, "node1", m2, &ether[1])] {
        let events = w.events_since(since);
        let expect: BTreeSet<String> = expect.iter().cloned().collect();
        assert_eq!(
            set(events.iter(), "path_down", peer),
            expect,
            "{}",
            w.node()
        );
        assert!(
            !events.iter().any(|e| e.kind() == "node_dead"),
            "{}",
            w.diagnostics()
        );
    }
    // node1 knows why: its own side of the path failed — reported once, and
    // not "restored" while the interface is still down (no fault/restore flood
    // like heartbeat's `EOF in ttygets` loop).
    n1.wait_for(m1, "path_fault on ether", Duration::from_secs(2), |e| {
        e.kind() == "path_fault" && e.path() == Some(&ether[0][0])
    })
    .unwrap();
    let while_down = n1.events_since(m1);
    let on_ether = |kind: &str| {
        while_down
            .iter()
            .filter(|e| e.kind() == kind && e.path() == Some(&ether[0][0]))
            .count()
    };
    assert!(
        on_ether("path_fault") <= 1 && on_ether("path_restored") == 0,
        "while eth1 was down: {} path_fault and {} path_restored events for ether eth1 \
         (expected one fault, no restore)\n{}",
        on_ether("path_fault"),
        on_ether("path_restored"),
        n1.diagnostics()
    );
    let (m1, m2) = (n1.mark(), n2.mark());
    pair.n1.link_up("eth1").unwrap();
    wait_paths_up(&n1, m1, "node2", &ether[0], Duration::from_secs(3));
    wait_paths_up(&n2, m2, "node1", &ether[1], Duration::from_secs(3));
    n1.wait_for(m1, "path_restored on ether", Duration::from_secs(2), |e| {
        e.kind() == "path_restored" && e.path() == Some(&ether[0][0])
    })
    .unwrap();
}

#[test]
fn kill9_is_detected_within_deadtime_on_every_path_and_restart_is_a_new_generation() {
    if !env::can_run("link_netns::kill9", &["socat"]) {
        return;
    }
    let timers = Timers::test();
    let pair = Pair::build("kill", Media::ALL, timers.clone()).unwrap();
    let mut n1 = pair.start(0).unwrap();
    let n2 = pair.start(1).unwrap();
    let paths2 = pair.path_names(1);
    wait_paths_up(&n2, 0, "node1", &paths2, Duration::from_secs(5));
    wait_paths_up(&n1, 0, "node2", &pair.path_names(0), Duration::from_secs(5));
    let alive = n2
        .wait_for(0, "node_alive node1", Duration::from_secs(1), |e| {
            e.is("node_alive", "node1")
        })
        .unwrap();
    let first_generation = alive
        .u64("generation")
        .expect("node_alive carries generation");
    let own = n1.wait_started(Duration::from_secs(1)).unwrap();
    assert_eq!(
        own.u64("generation"),
        Some(first_generation),
        "node2 reports node1's own generation"
    );

    // Let the link run steady for a few deadtimes, then kill node1 outright.
    std::thread::sleep(timers.deadtime * 4);
    let mark = n2.mark();
    let killed_at = n1.kill9();
    let bound = timers.deadtime + timers.keepalive + SLACK;
    let dead = n2
        .wait_for(mark, "node_dead node1", Duration::from_secs(3), |e| {
            e.is("node_dead", "node1")
        })
        .unwrap();
    let took = dead.ts_us().unwrap().saturating_sub(killed_at);
    assert!(
        took <= bound.as_micros() as u64,
        "node_dead {took} µs after kill -9, bound {bound:?}\n{}",
        n2.diagnostics()
    );
    // Not early either: node1 was heard until the kill, so at least
    // deadtime - keepalive must pass (minus 10 ms of send/receive skew).
    let floor = timers.deadtime - timers.keepalive - Duration::from_millis(10);
    assert!(
        took >= floor.as_micros() as u64,
        "node_dead after only {took} µs"
    );

    let after = n2.events_since(mark);
    // warntime comes before deadtime: the node was late first.
    let late = after.iter().position(|e| e.is("node_late", "node1"));
    let dead_at = after.iter().position(|e| e.is("node_dead", "node1"));
    assert!(
        late.is_some() && late < dead_at,
        "node_late must precede node_dead\n{}",
        n2.diagnostics()
    );
    // Every path went down, each within the bound.
    for p in &paths2 {
        let e = after
            .iter()
            .find(|e| e.is("path_down", "node1") && e.path() == Some(p))
            .unwrap_or_else(|| panic!("no path_down for {p}\n{}", n2.diagnostics()));
        let took = e.ts_us().unwrap().saturating_sub(killed_at);
        assert!(
            took <= bound.as_micros() as u64,
            "path_down {p} after {took} µs, bound {bound:?}"
        );
    }

    // Restart node1 with the same state dir: node2 reports it back with a
    // newer generation, and every path comes up again.
    let mark = n2.mark();
    drop(n1);
    let n1 = pair.start(0).unwrap();
    let restarted = n1.wait_started(Duration::from_secs(1)).unwrap();
    let second_generation = restarted.u64("generation").unwrap();
    assert!(
        second_generation > first_generation,
        "generation must grow across restarts: {first_generation} then {second_generation}"
    );
    let back = n2
        .wait_for(mark, "node_back node1", Duration::from_secs(3), |e| {
            e.is("node_back", "node1")
        })
        .unwrap();
    assert_eq!(
        back.u64("generation"),
        Some(second_generation),
        "{}",
        back.json
    );
    wait_paths_up(&n2, mark, "node1", &paths2, Duration::from_secs(5));
    wait_paths_up(&n1, 0, "node2", &pair.path_names(0), Duration::from_secs(5));
}

/// The native TOML front door runs the same links as ha.d: the two nodes are
/// configured with `ironbeat.toml` files (same cables, keys and timers as the
/// ha.d of the pair) and every path comes up, named as its ha.cf line.
#[test]
fn native_toml_config_brings_up_the_same_links() {
    if !env::can_run("link_netns::native_toml", &["socat"]) {
        return;
    }
    let media = Media {
        ucast: true,
        mcast: false,
        bcast: false,
        ether: true,
        serial: true,
    };
    let mut pair = Pair::build("toml", media, Timers::test()).unwrap();
    let c0 = pair.c0.as_ref().unwrap();
    let pty = pair.pty.as_ref().unwrap();
    let peers = [c0.b_addr().to_string(), c0.a_addr().to_string()];
    let ttys = [pty.a().to_path_buf(), pty.b().to_path_buf()];
    let t = &pair.timers;
    for i in 0..2 {
        let ha_d = pair.specs[i].ha_d.clone();
        let toml = format!(
            "[cluster]\nname = \"linux-ha\"\nnodes = [\"node1\", \"node2\"]\n\
             authkeys = \"{keys}\"\n\n[timing]\nkeepalive = \"{k}ms\"\nwarntime = \"{w}ms\"\n\
             deadtime = \"{d}ms\"\ninitdead = \"{i0}ms\"\n\n\
             [[link]]\nkind = \"ucast\"\niface = \"eth0\"\npeer = \"{peer}\"\n\n\
             [[link]]\nkind = \"ether\"\niface = \"eth1\"\n\n\
             [[link]]\nkind = \"serial\"\ntty = \"{tty}\"\nbaud = 115200\n",
            keys = ha_d.join("authkeys").display(),
            k = t.keepalive.as_millis(),
            w = t.warntime.as_millis(),
            d = t.deadtime.as_millis(),
            i0 = t.initdead.as_millis(),
            peer = peers[i],
            tty = ttys[i].display(),
        );
        let file = ha_d.with_file_name("ironbeat.toml");
        std::fs::write(&file, toml).unwrap();
        pair.specs[i].native = Some(file);
    }
    let n1 = pair.start(0).unwrap();
    let n2 = pair.start(1).unwrap();
    let up = Duration::from_secs(5);
    wait_paths_up(&n1, 0, "node2", &pair.path_names(0), up);
    wait_paths_up(&n2, 0, "node1", &pair.path_names(1), up);
    assert!(n1.events().iter().any(|e| e.is("node_alive", "node2")));
    assert!(n2.events().iter().any(|e| e.is("node_alive", "node1")));
}
