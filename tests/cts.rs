//! The cluster test suite: heartbeat's Cluster Test Suite scenarios (its
//! `CTStests.py`: start, stop, restart, flip, simultaneous start and stop,
//! standby, resource recovery, STONITH, redundant paths, split brain,
//! partition heal, the DC's death) run against `ironbeat run` on two- and
//! three-node clusters built by `ironbeat::lab`, with a client probing the
//! VIP every 20 ms and watching who answers ARP for it.
//!
//! Every scenario asserts, besides its own expectation (with bounded
//! waits): at no probe instant do two nodes answer for the VIP (UDP or ARP),
//! and no node's `ironbeat status --json`, polled all along, shows a
//! resource running on two nodes (`Cluster::finish`). Timing: keepalive
//! 50 ms, deadtime 300 ms. Each scenario builds its own lab and tears it
//! down on every path. Needs root; otherwise each test prints
//! `SKIPPED: <name>: needs root` and passes.
//!
//! ```sh
//! cargo test --test cts -- --test-threads=1
//! ```

mod common;

use std::thread;
use std::time::{Duration, Instant};

use common::cluster::{root, Cluster, Options, Resources, DEADTIME};
use ironbeat::daemon::protocol::StatusReport;
use ironbeat::lab::{Link, NodeCommand, PowerCause};

/// The longest gap the client may see where the VIP must not move: a few
/// probe periods (one lost probe, plus scheduling on a loaded machine).
const NO_GAP: Duration = Duration::from_millis(100);

/// Where `resource` runs according to `report`.
fn running_on(report: &StatusReport, resource: &str) -> Vec<String> {
    report
        .cluster
        .resources
        .iter()
        .find(|r| r.name == resource)
        .map(|r| r.running_on.clone())
        .unwrap_or_default()
}

/// `resource`'s fail count on `node` according to `report`.
fn fail_count(report: &StatusReport, resource: &str, node: &str) -> u32 {
    report
        .cluster
        .resources
        .iter()
        .find(|r| r.name == resource)
        .and_then(|r| r.fail_counts.iter().find(|(n, _)| n == node))
        .map_or(0, |(_, c)| *c)
}

/// Whether `report`'s node counts `node` as a member.
fn is_member(report: &StatusReport, node: &str) -> bool {
    report
        .cluster
        .nodes
        .iter()
        .any(|n| n.name == node && n.member)
}

/// Asserts that the client saw no gap longer than [`NO_GAP`] between
/// `from` and `to`, and that only `node` answered then.
fn assert_undisturbed(c: &Cluster, node: &str, from: Instant, to: Instant, what: &str) {
    let trace = c.trace();
    let gap = trace.longest_gap(from, to);
    assert!(
        gap <= NO_GAP,
        "{}: {what}: the VIP was unanswered for {gap:?}\n{}",
        c.name,
        c.logs()
    );
    let others: Vec<_> = trace
        .ticks()
        .iter()
        .filter(|t| t.at >= from && t.at <= to)
        .filter_map(|t| t.answered_by())
        .filter(|n| *n != node)
        .collect();
    assert!(
        others.is_empty(),
        "{}: {what}: the VIP answered from {others:?}, not only {node}\n{}",
        c.name,
        c.logs()
    );
    c.step(&format!(
        "{what}: only {node} answered, longest gap {gap:?}"
    ));
}

/// Removes the VIP from node `n` by hand (`ip addr del` in its namespace).
fn delete_vip(c: &Cluster, n: usize) -> Instant {
    let vip = format!("{}/24", c.lab.vip());
    let at = Instant::now();
    let out = c
        .node(n)
        .run(
            &NodeCommand::new("ip", &["addr", "del", &vip, "dev", "eth0"]),
            Duration::from_secs(10),
        )
        .expect("running ip in the node");
    assert!(out.status.success(), "ip addr del {vip}: {out:?}");
    c.step(&format!("node{n}: ip addr del {vip} dev eth0"));
    at
}

fn start(name: &str, tag: &str, nodes: usize) {
    let c = Cluster::start(name, tag, &Options::new(nodes));
    for n in 1..=nodes {
        let report = c.wait_status(n, "the VIP on node1", Duration::from_secs(5), |r| {
            running_on(r, &c.resource) == ["node1"]
        });
        assert_eq!(report.cluster.nodes.len(), nodes, "{report:#?}");
        assert!(
            report.links.iter().all(|l| l.liveness == "alive"),
            "{report:#?}"
        );
    }
    // Idle: nothing moves.
    let idle = Instant::now();
    thread::sleep(Duration::from_secs(2));
    assert_undisturbed(&c, "node1", idle, Instant::now(), "idle for 2 s");
    assert_eq!(c.holders(), [1]);
    c.finish(&[]);
}

/// Start: every node starts; the VIP comes up on the preferred node; every
/// node sees all members, one DC and quorum.
#[test]
fn start_two_nodes() {
    if root("start_two_nodes") {
        start("start_two_nodes", "start2", 2);
    }
}

/// Start, three nodes.
#[test]
fn start_three_nodes() {
    if root("start_three_nodes") {
        start("start_three_nodes", "start3", 3);
    }
}

/// Start one by one (CTS StartOnebyOne), three nodes: with wait-for-all
/// (always on, docs/daemon.md "At start") a node started alone, or two of
/// three, start nothing; once the third is up the VIP comes up on node1.
#[test]
fn start_one_by_one() {
    if !root("start_one_by_one") {
        return;
    }
    let c = Cluster::build("start_one_by_one", "onebyone", &Options::new(3));
    for n in 1..=2 {
        c.start_node(n);
        // Past initdead (2 s) and the startup wait.
        thread::sleep(Duration::from_millis(2500));
        let report = c
            .status(1)
            .unwrap_or_else(|| panic!("node1 does not answer\n{}", c.logs()));
        assert!(
            c.holders().is_empty() && running_on(&report, &c.resource).is_empty(),
            "with {n} of 3 nodes started the VIP runs on {:?} (status {:?}): a node that \
             has not seen every node yet must start nothing (wait-for-all)\n{}",
            c.holders(),
            report.cluster.resources,
            c.logs()
        );
        assert!(
            !report.cluster.quorum,
            "quorum with {n} of 3 nodes before all were seen"
        );
        c.step(&format!("{n} of 3 started: nothing runs, no quorum"));
    }
    c.start_node(3);
    c.wait_steady(1, Duration::from_secs(30));
    c.wait_converged(Duration::from_secs(15));
    c.finish(&[]);
}

/// Stop (CTS StopOnebyOne): SIGTERM of the holder hands the VIP over, then
/// SIGTERM of the last node stops it; no process is left on any node.
#[test]
fn stop_one_by_one() {
    if !root("stop_one_by_one") {
        return;
    }
    let c = Cluster::start("stop_one_by_one", "stop", &Options::new(2));
    let at = c.signal_stop(1);
    c.wait_steady(2, Duration::from_secs(10));
    c.wait_exit(1, at, Duration::from_secs(30));
    let handover = c.trace().longest_gap(at, Instant::now());
    c.step(&format!("handover gap {handover:?}"));
    assert!(
        handover < Duration::from_millis(500),
        "a clean handover left the VIP unanswered for {handover:?}"
    );
    c.wait_status(2, "node1 gone", Duration::from_secs(5), |r| {
        !is_member(r, "node1")
    });
    c.stop_node(2);
    let stopped = Instant::now();
    assert!(
        c.holders().is_empty(),
        "the VIP survived: {:?}",
        c.holders()
    );
    thread::sleep(Duration::from_millis(300));
    let trace = c.trace();
    let after = stopped + Duration::from_millis(60);
    for node in ["node1", "node2"] {
        assert_eq!(
            trace.answers_from(node, after),
            (0, 0),
            "{node} still answers for the VIP"
        );
    }
    for n in 1..=2 {
        c.assert_no_process(n);
        assert!(
            !c.node(n).socket().exists(),
            "node{n}'s socket was left behind"
        );
    }
    c.finish(&[]);
}

fn restart_holder(name: &str, tag: &str, auto_failback: bool) {
    let mut options = Options::new(2);
    options.auto_failback = auto_failback;
    let c = Cluster::start(name, tag, &options);
    c.stop_node(1);
    c.wait_steady(2, Duration::from_secs(10));
    let back = Instant::now();
    c.start_node(1);
    c.wait_converged(Duration::from_secs(15));
    if auto_failback {
        c.wait_steady(1, Duration::from_secs(15));
        let gap = c.trace().longest_gap(back, Instant::now());
        c.step(&format!("failback gap {gap:?}"));
        assert!(gap < Duration::from_millis(500), "failback gap {gap:?}");
    } else {
        // Sticky: the VIP stays where it is.
        thread::sleep(Duration::from_secs(2));
        assert_undisturbed(&c, "node2", back, Instant::now(), "node1 rejoined");
        assert_eq!(c.holders(), [2]);
    }
    c.finish(&[]);
}

/// Restart of the holder with auto_failback on: the VIP moves away at its
/// stop and comes back when it returns.
#[test]
fn restart_holder_with_auto_failback() {
    if root("restart_holder_with_auto_failback") {
        restart_holder("restart_holder_with_auto_failback", "restarta", true);
    }
}

/// Restart of the holder with auto_failback off: the VIP stays on the
/// other node.
#[test]
fn restart_holder_without_auto_failback() {
    if root("restart_holder_without_auto_failback") {
        restart_holder("restart_holder_without_auto_failback", "restartb", false);
    }
}

/// Flip: stop a node that holds nothing, then start it again; the VIP is
/// not disturbed, and the others see it leave and come back.
#[test]
fn flip_of_the_standby_node() {
    if !root("flip_of_the_standby_node") {
        return;
    }
    let c = Cluster::start("flip_of_the_standby_node", "flip", &Options::new(3));
    let from = Instant::now();
    c.stop_node(2);
    for n in [1, 3] {
        c.wait_status(n, "node2 gone", Duration::from_secs(5), |r| {
            !is_member(r, "node2") && r.cluster.quorum
        });
    }
    c.start_node(2);
    c.wait_converged(Duration::from_secs(15));
    thread::sleep(Duration::from_millis(500));
    assert_undisturbed(
        &c,
        "node1",
        from,
        Instant::now(),
        "node2 stopped and started",
    );
    c.finish(&[]);
}

/// Simultaneous start and simultaneous stop of three nodes.
#[test]
fn simultaneous_start_and_stop() {
    if !root("simultaneous_start_and_stop") {
        return;
    }
    let c = Cluster::build("simultaneous_start_and_stop", "simul", &Options::new(3));
    c.start_all();
    c.wait_steady(1, Duration::from_secs(30));
    c.wait_converged(Duration::from_secs(15));
    let at: Vec<Instant> = (1..=3).map(|n| c.signal_stop(n)).collect();
    for n in 1..=3 {
        c.wait_exit(n, at[n - 1], Duration::from_secs(30));
    }
    assert!(
        c.holders().is_empty(),
        "the VIP survived: {:?}",
        c.holders()
    );
    for n in 1..=3 {
        c.assert_no_process(n);
    }
    c.finish(&[]);
}

/// Standby and takeover (hb_standby / hb_takeover): the VIP moves away
/// from a node in standby and comes back with `online` (auto_failback on)
/// or `takeover`, never with two owners.
#[test]
fn standby_online_and_takeover() {
    if !root("standby_online_and_takeover") {
        return;
    }
    let c = Cluster::start("standby_online_and_takeover", "standby", &Options::new(2));
    c.admin_ok(1, &["standby"]);
    c.wait_steady(2, Duration::from_secs(10));
    c.wait_status(1, "node1 in standby", Duration::from_secs(5), |r| {
        r.cluster
            .nodes
            .iter()
            .any(|n| n.name == "node1" && n.standby)
    });
    c.admin_ok(1, &["online"]);
    c.wait_steady(1, Duration::from_secs(10));
    c.admin_ok(1, &["standby"]);
    c.wait_steady(2, Duration::from_secs(10));
    c.admin_ok(1, &["takeover"]);
    c.wait_steady(1, Duration::from_secs(10));
    let report = c.wait_status(2, "node1 out of standby", Duration::from_secs(5), |r| {
        r.cluster.nodes.iter().all(|n| !n.standby)
    });
    assert_eq!(running_on(&report, &c.resource), ["node1"], "{report:#?}");
    c.finish(&[]);
}

/// Resource failure and recovery: the VIP deleted by hand on its node is
/// restarted there (fail count 1); deleted again it reaches the migration
/// threshold (2) and moves; `resource cleanup` forgets the failures, the
/// VIP returns to its preferred node, and a new failure there counts from
/// zero again (restarted in place, fail count 1).
#[test]
fn resource_failure_restart_then_move() {
    if !root("resource_failure_restart_then_move") {
        return;
    }
    let mut options = Options::new(2);
    options.resources = Resources::Native {
        monitor: Duration::from_millis(200),
        migration_threshold: 2,
    };
    let c = Cluster::start("resource_failure_restart_then_move", "rscfail", &options);
    let vip = c.resource.clone();

    let first = delete_vip(&c, 1);
    let report = c.wait_status(2, "fail count 1 on node1", Duration::from_secs(10), |r| {
        fail_count(r, &vip, "node1") == 1 && running_on(r, &vip) == ["node1"]
    });
    c.step(&format!(
        "restarted in place: {:?}",
        report.cluster.resources
    ));
    let back = c
        .prober()
        .wait_for_answer(
            "node1",
            first + Duration::from_millis(1),
            Duration::from_secs(10),
        )
        .expect("node1 answers again");
    c.wait_steady(1, Duration::from_secs(10));
    c.step(&format!(
        "the VIP answered again from node1 {:?} after the deletion",
        back - first
    ));

    delete_vip(&c, 1);
    c.wait_steady(2, Duration::from_secs(10));
    let report = c.wait_status(1, "fail count 2 on node1", Duration::from_secs(5), |r| {
        fail_count(r, &vip, "node1") == 2 && running_on(r, &vip) == ["node2"]
    });
    c.step(&format!(
        "moved after the threshold: {:?}",
        report.cluster.resources
    ));

    c.admin_ok(1, &["resource", "cleanup", &vip]);
    let cleaned = Instant::now();
    c.wait_steady(1, Duration::from_secs(10));
    // Failures are stamped in whole seconds: a failure in the second of
    // the cleanup would be forgotten with the others. Wait past it.
    thread::sleep(Duration::from_millis(1100).saturating_sub(cleaned.elapsed()));
    // After the cleanup the count starts again: one failure is restarted
    // in place, not moved.
    let third = delete_vip(&c, 1);
    // The monitor (200 ms) sees it; the restart takes milliseconds.
    thread::sleep(Duration::from_secs(1));
    let holders = c.holders();
    assert_eq!(
        holders,
        [1],
        "one failure after the cleanup moved the VIP to {holders:?}: the cleanup did not reset \
         node1's fail count ({:?})\n{}",
        c.status(2).map(|r| r.cluster.resources),
        c.logs()
    );
    c.prober()
        .wait_for_answer(
            "node1",
            third + Duration::from_millis(1),
            Duration::from_secs(10),
        )
        .unwrap_or_else(|| panic!("node1 did not answer again after the cleanup\n{}", c.logs()));
    let report = c.wait_status(
        2,
        "fail count 1 after the cleanup",
        Duration::from_secs(5),
        |r| fail_count(r, &vip, "node1") == 1 && running_on(r, &vip) == ["node1"],
    );
    assert!(
        report
            .cluster
            .resources
            .iter()
            .all(|r| r.failed_on.is_empty()),
        "{report:#?}"
    );
    c.finish(&[]);
}

/// kill -9 of the holder's daemon with IPMI fencing: the survivor fences it
/// through its BMC (the lab sees the BMC power it off) before it takes the
/// VIP; the fenced node reboots and rejoins. `auto_failback off`: a lab
/// node reboots in milliseconds, so with failback the VIP would be back
/// before the client could see it move.
#[test]
fn kill9_of_the_holder_is_fenced_then_taken_over() {
    if !root("kill9_of_the_holder_is_fenced_then_taken_over") {
        return;
    }
    let mut options = Options::new(2);
    options.fencing = true;
    options.auto_failback = false;
    let c = Cluster::start(
        "kill9_of_the_holder_is_fenced_then_taken_over",
        "kill9",
        &options,
    );
    let killed = c.kill_daemon(1);
    let taken = c
        .prober()
        .wait_for_answer("node2", killed, Duration::from_secs(30))
        .unwrap_or_else(|| panic!("node2 never answered for the VIP\n{}", c.logs()));
    c.step(&format!(
        "node2 answers {:?} after the kill",
        taken - killed
    ));
    node1_fenced_before(&c, killed, taken, "node2");
    assert_eq!(c.fenced_off(), [1], "{:?}", c.power_events());
    let report = c.wait_status(
        2,
        "node1 in the fencing history",
        Duration::from_secs(5),
        |r| {
            r.cluster
                .fencing
                .iter()
                .any(|f| f.node == "node1" && f.by == "node2")
        },
    );
    c.step(&format!("fencing history: {:?}", report.cluster.fencing));
    c.wait_steady(2, Duration::from_secs(10));
    // The fence was a reboot: node1 comes back and rejoins; the VIP stays.
    let back = Instant::now();
    c.wait_converged(Duration::from_secs(15));
    thread::sleep(Duration::from_secs(1));
    assert_undisturbed(
        &c,
        "node2",
        back,
        Instant::now(),
        "node1 rebooted and rejoined",
    );
    assert_eq!(c.holders(), [2]);
    c.finish(&[]);
}

/// kill -9 of the holder's daemon in a three-node cluster with fencing: the
/// majority (no priority delay: it has quorum by votes) fences the lost node
/// before the VIP starts on one of the two others.
#[test]
fn kill9_of_the_holder_three_nodes_fenced_by_the_majority() {
    let name = "kill9_of_the_holder_three_nodes_fenced_by_the_majority";
    if !root(name) {
        return;
    }
    let mut options = Options::new(3);
    options.fencing = true;
    options.auto_failback = false;
    let c = Cluster::start(name, "kill9of3", &options);
    let killed = c.kill_daemon(1);
    let end = Instant::now() + Duration::from_secs(20);
    let (taker, taken) = loop {
        let answered = [2, 3].into_iter().find_map(|n| {
            c.trace()
                .first_answer(&format!("node{n}"), killed)
                .map(|at| (n, at))
        });
        if let Some(found) = answered {
            break found;
        }
        assert!(
            Instant::now() < end,
            "nobody took the VIP over within 20 s\n{}",
            c.logs()
        );
        thread::sleep(Duration::from_millis(20));
    };
    c.step(&format!(
        "node{taker} answers {:?} after the kill",
        taken - killed
    ));
    node1_fenced_before(&c, killed, taken, &format!("node{taker}"));
    assert_eq!(c.fenced_off(), [1], "{:?}", c.power_events());
    c.wait_steady(taker, Duration::from_secs(10));
    let back = Instant::now();
    c.wait_converged(Duration::from_secs(15));
    thread::sleep(Duration::from_secs(1));
    assert_undisturbed(
        &c,
        &format!("node{taker}"),
        back,
        Instant::now(),
        "node1 rebooted and rejoined",
    );
    c.finish(&[]);
}

/// Cable pull of one link (CTS RedundantpathTest): the crossover cable,
/// then node2's LAN cable; the other link carries on, nothing fails over,
/// and the status shows the pulled path DOWN, then up again.
#[test]
fn cable_pull_of_one_link_is_no_failover() {
    if !root("cable_pull_of_one_link_is_no_failover") {
        return;
    }
    let c = Cluster::start(
        "cable_pull_of_one_link_is_no_failover",
        "cable",
        &Options::new(2),
    );
    let from = Instant::now();
    let path_up = |r: &StatusReport, prefix: &str| {
        r.links
            .iter()
            .find(|l| l.node == "node2")
            .and_then(|l| l.paths.iter().find(|p| p.name.starts_with(prefix)))
            .map(|p| p.up)
    };
    for (link, prefix) in [(Link::Crossover(2), "ether"), (Link::Lan, "ucast")] {
        let node = if link == Link::Lan { 2 } else { 1 };
        c.lab.cut(node, link).expect("pulling the cable");
        c.step(&format!("node{node}: {link:?} cable pulled"));
        let report = c.wait_status(1, "the path DOWN", Duration::from_secs(5), |r| {
            path_up(r, prefix) == Some(false)
        });
        assert!(
            report
                .links
                .iter()
                .any(|l| l.node == "node2" && l.liveness == "alive"),
            "{report:#?}"
        );
        assert!(is_member(&report, "node2"), "{report:#?}");
        thread::sleep(Duration::from_secs(1));
        assert!(is_member(&c.status(1).expect("node1 answers"), "node2"));
        assert!(is_member(&c.status(2).expect("node2 answers"), "node1"));
        c.lab.heal(node, link).expect("plugging the cable back");
        c.step(&format!("node{node}: {link:?} cable back"));
        c.wait_status(1, "the path up again", Duration::from_secs(5), |r| {
            path_up(r, prefix) == Some(true)
        });
    }
    assert_undisturbed(
        &c,
        "node1",
        from,
        Instant::now(),
        "one cable pulled at a time",
    );
    assert_eq!(c.holders(), [1]);
    c.finish(&[]);
}

/// Split brain with fencing: every link of the holder cut both ways. Both
/// sides want to fence; the holder (which runs the service) shoots first,
/// so exactly one node is powered off, and the holder keeps the VIP. The
/// fenced node reboots, cannot reach the holder and starts nothing (its
/// previous run did not end cleanly, so it fences no one at start:
/// docs/daemon.md); its links come back, it rejoins and the VIP stays.
#[test]
fn split_brain_fencing_leaves_one_owner() {
    if !root("split_brain_fencing_leaves_one_owner") {
        return;
    }
    let mut options = Options::new(2);
    options.fencing = true;
    let c = Cluster::start("split_brain_fencing_leaves_one_owner", "split", &options);
    let cut = c.lab.isolate(1).expect("isolating node1");
    c.step("node1 isolated: every cluster link cut both ways");
    let end = Instant::now() + Duration::from_secs(20);
    while c.fenced_off().is_empty() {
        assert!(
            Instant::now() < end,
            "nobody was fenced within 20 s of the split\n{}",
            c.logs()
        );
        thread::sleep(Duration::from_millis(20));
    }
    let fenced = c.fenced_off();
    c.step(&format!("fenced: {fenced:?} after {:?}", cut.elapsed()));
    // node2 reboots (the fence is a reboot): wait for its new daemon.
    let end = Instant::now() + Duration::from_secs(10);
    while !(c.power_events().iter().any(|(n, e)| *n == 2 && e.on)
        && c.node(2).daemon_pid().is_some())
    {
        assert!(
            Instant::now() < end,
            "node2's daemon did not start at power-on\n{}",
            c.logs()
        );
        thread::sleep(Duration::from_millis(20));
    }
    c.step("node2 powered on again, its daemon runs (alone, links still cut)");
    assert!(
        c.holders() == [1],
        "the survivor must hold the VIP: {:?}",
        c.holders()
    );
    let report = c.wait_status(1, "node2 fenced", Duration::from_secs(5), |r| {
        r.cluster.fencing.iter().any(|f| f.node == "node2")
    });
    assert_eq!(running_on(&report, &c.resource), ["node1"], "{report:#?}");
    c.lab.rejoin(1).expect("rejoining node1");
    c.step("node1's links back (before node2's initdead)");
    // Past the other side's priority fencing delay and node2's initdead:
    // still only one.
    thread::sleep(common::cluster::PRIORITY_FENCING_DELAY + Duration::from_secs(3));
    assert_eq!(
        c.fenced_off(),
        [2],
        "exactly node2 must be powered off; power events {:?}\n{}",
        c.power_events()
            .iter()
            .map(|(n, e)| (format!("node{n}"), e.on, e.cause, e.at - cut))
            .collect::<Vec<_>>(),
        c.logs()
    );
    assert_eq!(c.holders(), [1], "the survivor must hold the VIP");
    c.wait_converged(Duration::from_secs(20));
    c.wait_steady(1, Duration::from_secs(10));
    assert_eq!(
        c.fenced_off(),
        [2],
        "exactly node2 must be powered off; power events {:?}\n{}",
        c.power_events()
            .iter()
            .map(|(n, e)| (format!("node{n}"), e.on, e.cause, e.at - cut))
            .collect::<Vec<_>>(),
        c.logs()
    );
    c.finish(&[]);
}

/// Split brain where the holder is the isolated one: every cable of node1,
/// its client LAN too, is pulled, so it reaches neither node2 nor its ping
/// node (the client's address) nor any client. node1 runs the VIP, so by
/// services alone it would shoot first and keep a VIP nobody can reach;
/// connectivity ranks first: node1 yields, node2 (which still reaches the
/// gateway) fences it after its priority delay and takes the VIP over.
#[test]
fn split_brain_the_isolated_holder_yields_the_fence_race() {
    let name = "split_brain_the_isolated_holder_yields_the_fence_race";
    if !root(name) {
        return;
    }
    let mut options = Options::new(2);
    options.fencing = true;
    options.ping_gateway = true;
    let c = Cluster::start(name, "yield", &options);
    // Both must have judged their ping target before the cut.
    for n in 1..=2 {
        c.wait_status(n, "connectivity judged", Duration::from_secs(10), |r| {
            r.cluster.nodes.iter().all(|s| s.connectivity == Some(1))
        });
    }
    let cut = c.lab.isolate(1).expect("isolating node1");
    c.step("node1 isolated: every cable cut, its LAN (clients, ping node) too");
    let taken = c.wait_answering(2, Duration::from_secs(20));
    c.step(&format!(
        "the VIP answers from node2 after {:?}",
        taken - cut
    ));
    assert_eq!(
        c.fenced_off(),
        [1],
        "exactly node1 must be powered off; power events {:?}\n{}",
        c.power_events()
            .iter()
            .map(|(n, e)| (format!("node{n}"), e.on, e.cause, e.at - cut))
            .collect::<Vec<_>>(),
        c.logs()
    );
    let report = c.wait_status(2, "node1 fenced", Duration::from_secs(5), |r| {
        r.cluster.fencing.iter().any(|f| f.node == "node1")
    });
    assert_eq!(running_on(&report, &c.resource), ["node2"], "{report:#?}");
    let log = std::fs::read_to_string(c.node(1).logs().join("ironbeat.log")).unwrap_or_default();
    assert!(
        log.contains("it yields the fence race to node2"),
        "node1 did not say why it yielded:\n{}",
        c.logs()
    );
    // node1 reboots (a fence is a reboot), its cables still out: it starts
    // nothing and shoots no one (its run did not end cleanly).
    thread::sleep(common::cluster::PRIORITY_FENCING_DELAY + Duration::from_secs(2));
    assert_eq!(c.fenced_off(), [1], "{:?}", c.power_events());
    assert_eq!(c.holders(), [2]);
    c.lab.rejoin(1).expect("rejoining node1");
    c.step("node1's cables back");
    c.wait_converged(Duration::from_secs(20));
    c.finish(&[]);
}

/// Manual fencing (cluster-glue's meatware): kill -9 of the holder. The
/// survivor logs that node1 must be fenced by hand and starts nothing; the
/// "operator" powers node1 off and runs `ironbeat fence confirm node1` on
/// node2, which then takes the VIP over. Never two owners.
#[test]
fn manual_fencing_waits_for_the_operator() {
    let name = "manual_fencing_waits_for_the_operator";
    if !root(name) {
        return;
    }
    let mut options = Options::new(2);
    options.manual_fencing = true;
    let c = Cluster::start(name, "manual", &options);
    let killed = c.kill_daemon(1);
    c.step("node1's daemon killed (-9)");
    let log2 = c.node(2).logs().join("ironbeat.log");
    let end = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&log2)
        .unwrap_or_default()
        .contains("node1 must be fenced by hand")
    {
        assert!(
            Instant::now() < end,
            "no manual-fencing notice\n{}",
            c.logs()
        );
        thread::sleep(Duration::from_millis(20));
    }
    c.step(&format!(
        "node2 asks for manual fencing after {:?}",
        killed.elapsed()
    ));
    // The survivor waits: it must not take the VIP while node1 may hold it.
    thread::sleep(Duration::from_secs(2));
    assert_eq!(
        c.holders(),
        [1],
        "node2 started the VIP before the operator confirmed"
    );
    let early = c.admin(2, &["fence", "confirm", "node2"]);
    assert_ne!(early.code, 0, "confirming node2 itself must be refused");
    c.lab.power_off(1).expect("powering node1 off");
    c.step("the operator powered node1 off");
    let confirmed = Instant::now();
    let out = c.admin_ok(2, &["fence", "confirm", "node1"]);
    c.step(&format!(
        "ironbeat fence confirm node1: {}",
        out.stdout.trim()
    ));
    let taken = c.wait_answering(2, Duration::from_secs(10));
    c.step(&format!(
        "the VIP answers from node2 {:?} after the confirmation",
        taken - confirmed
    ));
    let report = c.wait_status(2, "node1 fenced", Duration::from_secs(5), |r| {
        r.cluster
            .fencing
            .iter()
            .any(|f| f.node == "node1" && f.by == "node2 (operator)")
    });
    assert_eq!(running_on(&report, &c.resource), ["node2"], "{report:#?}");
    c.finish(&[]);
}

/// Fencing levels from ha.cf: node1 has two `stonith_host` lines, first a
/// BMC address where nothing answers (timeout=1), then its real BMC. kill -9
/// of the holder: level 1 fails at its deadline, level 2 powers node1 off,
/// and only then does node2 take the VIP over.
#[test]
fn kill9_fenced_by_the_second_level_when_the_first_is_dead() {
    let name = "kill9_fenced_by_the_second_level_when_the_first_is_dead";
    if !root(name) {
        return;
    }
    let mut options = Options::new(2);
    options.fencing = true;
    options.auto_failback = false;
    let c = Cluster::build(name, "levels", &options);
    for node in c.lab.nodes() {
        let cf = node.ha_d().join("ha.cf");
        let text = std::fs::read_to_string(&cf).expect("ha.cf");
        let real = text
            .lines()
            .find(|l| l.starts_with("stonith_host") && l.contains("hostname=node1 "))
            .expect("node1's stonith_host line")
            .to_string();
        // The same line towards an address of the management network that
        // no BMC has, first: level 1.
        let ip = real
            .split_whitespace()
            .find_map(|w| w.strip_prefix("ipaddr="))
            .expect("ipaddr=")
            .to_string();
        let dead_ip = format!("{}.99", ip.rsplit_once('.').expect("IPv4").0);
        let dead = format!("{} timeout=1", real.replace(&ip, &dead_ip));
        std::fs::write(&cf, text.replace(&real, &format!("{dead}\n{real}"))).expect("ha.cf");
    }
    c.start_all();
    c.wait_steady(1, Duration::from_secs(30));
    c.wait_converged(Duration::from_secs(15));
    let killed = c.kill_daemon(1);
    let taken = c
        .prober()
        .wait_for_answer("node2", killed, Duration::from_secs(30))
        .unwrap_or_else(|| panic!("node2 never answered for the VIP\n{}", c.logs()));
    c.step(&format!(
        "node2 answers {:?} after the kill",
        taken - killed
    ));
    node1_fenced_before(&c, killed, taken, "node2");
    assert_eq!(c.fenced_off(), [1], "{:?}", c.power_events());
    let log = std::fs::read_to_string(c.node(2).logs().join("ironbeat.log")).unwrap_or_default();
    assert!(
        log.contains("node1 fenced by level 2") && log.contains("after level 1:"),
        "node2's log does not tell the levels:\n{}",
        c.logs()
    );
    c.finish(&[]);
}

/// Partition heal without fencing: node `cut` loses every link; the other
/// side recovers the VIP without fencing (two copies, one unreachable);
/// at the heal the cluster keeps one copy without dropping the service:
/// the client sees no gap longer than a few probe periods.
fn partition_heal(name: &str, tag: &str, cut: usize) {
    let c = Cluster::start(name, tag, &Options::new(2));
    let other = 3 - cut;
    let split = c.lab.isolate(cut).expect("isolating");
    c.step(&format!("node{cut} isolated"));
    // Both sides end up holding the VIP: the cut side keeps it or takes it.
    let end = Instant::now() + Duration::from_secs(10);
    while c.holders().len() < 2 {
        assert!(
            Instant::now() < end,
            "no recovery without fencing within 10 s: holders {:?}\n{}",
            c.holders(),
            c.logs()
        );
        thread::sleep(Duration::from_millis(20));
    }
    c.step(&format!(
        "both sides hold the VIP after {:?}",
        split.elapsed()
    ));
    if cut == 1 {
        c.wait_answering(other, Duration::from_secs(10));
    }
    thread::sleep(Duration::from_secs(1));
    let heal = c.lab.rejoin(cut).expect("rejoining");
    c.step(&format!("node{cut} back"));
    let end = Instant::now() + Duration::from_secs(15);
    while c.holders().len() != 1 {
        assert!(
            Instant::now() < end,
            "two copies still run 15 s after the heal: {:?}\n{}",
            c.holders(),
            c.logs()
        );
        thread::sleep(Duration::from_millis(20));
    }
    let merged = heal.elapsed();
    let holder = c.holders()[0];
    c.step(&format!(
        "one copy left (node{holder}) {merged:?} after the heal"
    ));
    c.wait_converged(Duration::from_secs(15));
    c.wait_steady(holder, Duration::from_secs(10));
    thread::sleep(Duration::from_secs(1));
    let trace = c.trace();
    let gap = trace.longest_gap(heal, Instant::now());
    c.step(&format!("longest gap from the heal on: {gap:?}"));
    assert!(
        gap <= NO_GAP,
        "the heal dropped the VIP for {gap:?} (heartbeat: deadtime + 14 s; we must not)\n{}",
        c.logs()
    );
    // Before the heal only the reachable side answered.
    let before: Vec<_> = trace
        .ticks()
        .iter()
        .filter(|t| t.at >= split && t.at < heal && t.is_violation())
        .collect();
    assert!(
        before.is_empty(),
        "two owners seen during the split: {before:?}"
    );
    let after = trace.violations_after(heal);
    c.step(&format!(
        "two nodes answered ARP at {} probe instants after the heal (the second copy \
         until it stopped)",
        after.len()
    ));
    // Two copies are expected from the split until one is stopped after
    // the heal (no fencing: the cut side cannot be stopped before).
    c.finish(&[(split, heal - split + merged + Duration::from_secs(2))]);
}

/// Partition heal without fencing, the node without the VIP cut off.
#[test]
fn partition_heal_keeps_the_vip_when_the_standby_was_cut() {
    if root("partition_heal_keeps_the_vip_when_the_standby_was_cut") {
        partition_heal(
            "partition_heal_keeps_the_vip_when_the_standby_was_cut",
            "healsb",
            2,
        );
    }
}

/// Partition heal without fencing, the holder cut off (the client follows
/// the other node meanwhile).
#[test]
fn partition_heal_keeps_the_vip_when_the_holder_was_cut() {
    if root("partition_heal_keeps_the_vip_when_the_holder_was_cut") {
        partition_heal(
            "partition_heal_keeps_the_vip_when_the_holder_was_cut",
            "healh",
            1,
        );
    }
}

/// The DC's death (three nodes, the DC does not hold the VIP): the
/// survivors elect a new DC within about a deadtime and the VIP is never
/// interrupted.
#[test]
fn dc_death_is_reelected_without_touching_the_vip() {
    if !root("dc_death_is_reelected_without_touching_the_vip") {
        return;
    }
    let mut options = Options::new(3);
    options.preferred = 3;
    let c = Cluster::start(
        "dc_death_is_reelected_without_touching_the_vip",
        "dcdeath",
        &options,
    );
    let dc = c.wait_converged(Duration::from_secs(10));
    let dc_index: usize = dc
        .strip_prefix("node")
        .and_then(|n| n.parse().ok())
        .expect("a lab node name");
    assert_ne!(
        dc_index, 3,
        "the DC holds the VIP: this scenario needs them apart"
    );
    let killed = c.kill_daemon(dc_index);
    let survivors: Vec<usize> = (1..=3).filter(|n| *n != dc_index).collect();
    let new_dc = c.wait_converged(Duration::from_secs(10));
    assert_ne!(new_dc, dc);
    // When the survivors' status first named the new DC.
    let seen = c.seen_since(killed);
    let elected = survivors
        .iter()
        .map(|n| {
            seen.iter()
                .find(|s| s.node == *n && s.report.cluster.dc.as_deref() == Some(&new_dc))
                .map(|s| s.at - killed)
                .unwrap_or_else(|| killed.elapsed())
        })
        .max()
        .unwrap_or_default();
    c.step(&format!(
        "new DC {new_dc} seen by every survivor {elected:?} after the kill (deadtime {DEADTIME:?})"
    ));
    assert!(
        elected <= DEADTIME * 2 + Duration::from_millis(700),
        "re-election took {elected:?} (deadtime {DEADTIME:?})\n{}",
        c.logs()
    );
    thread::sleep(Duration::from_secs(1));
    assert_undisturbed(&c, "node3", killed, Instant::now(), "the DC died");
    assert_eq!(c.holders(), [3]);
    c.finish(&[]);
}

/// Asserts that node1's BMC powered it off before `taker` answered for the
/// VIP at `taken` (fencing before recovery), and logs when.
fn node1_fenced_before(c: &Cluster, killed: Instant, taken: Instant, taker: &str) {
    let off = c
        .node(1)
        .power_events()
        .into_iter()
        .find(|e| !e.on && e.cause == PowerCause::Bmc)
        .unwrap_or_else(|| panic!("node1 was never powered off by its BMC\n{}", c.logs()));
    assert!(
        off.at < taken,
        "{taker} answered {:?} before node1 was powered off\n{}",
        off.at - taken,
        c.logs()
    );
    c.step(&format!(
        "node1 fenced {:?} after the kill",
        off.at - killed
    ));
}
