//! Ping nodes as connectivity on the simulated cluster (tests/sim): a member
//! that reaches fewer ping targets than another gives its resources away;
//! equal connectivity keeps placement; when no member reaches anything,
//! nothing changes.

mod sim;

use std::time::Duration;

use ironbeat_cluster::wire::Message;
use ironbeat_cluster::{Event, OpKind};
use sim::{Setup, Sim};

const S: Duration = Duration::from_secs(1);

fn started(names: &[&str], rscs: &[&str]) -> Sim {
    let mut sim = Sim::new(Setup::new(names, rscs));
    for n in names {
        sim.start(n);
    }
    let rscs: Vec<String> = rscs.iter().map(|s| s.to_string()).collect();
    let ok = sim.run_until(10 * S, |sim| rscs.iter().all(|r| sim.owners(r).len() == 1));
    assert!(ok, "resources not placed:\n{}", sim.dump());
    sim
}

/// `node`'s pinger judged every target: `value` of them answer.
fn connectivity(sim: &mut Sim, node: &str, value: u32) {
    let now = sim.now;
    sim.node(node).handle_connectivity(now, value);
    sim.drain(node);
}

fn owner(sim: &Sim, rsc: &str) -> String {
    let owners = sim.owners(rsc);
    assert_eq!(owners.len(), 1, "{rsc} on {owners:?}:\n{}", sim.dump());
    owners[0].clone()
}

fn other<'a>(names: &[&'a str], than: &str) -> &'a str {
    names
        .iter()
        .find(|n| **n != than)
        .copied()
        .expect("two nodes")
}

#[test]
fn the_holder_that_loses_its_gateway_gives_way_and_stays_away() {
    let names = ["a", "b"];
    let mut sim = started(&names, &["vip"]);
    let holder = owner(&sim, "vip");
    let standby = other(&names, &holder);
    connectivity(&mut sim, &holder, 1);
    connectivity(&mut sim, standby, 1);
    sim.run(2 * S);
    assert_eq!(owner(&sim, "vip"), holder, "equal connectivity moved it");

    // The holder's path to the gateway breaks: its pinger says 0.
    connectivity(&mut sim, &holder, 0);
    let moved = sim.run_until(2 * S, |sim| sim.owners("vip") == [standby.to_string()]);
    assert!(moved, "the VIP stayed on {holder}:\n{}", sim.dump());
    sim.run(S);
    assert_eq!(owner(&sim, "vip"), standby);
    // Every member knows, and says so in its status and events.
    for n in names {
        let status = sim.node(n).status();
        let seen: Vec<Option<u32>> = status.nodes.iter().map(|s| s.connectivity).collect();
        let expected: Vec<Option<u32>> = status
            .nodes
            .iter()
            .map(|s| Some(u32::from(s.name != holder)))
            .collect();
        assert_eq!(seen, expected, "{n}'s status");
    }
    assert!(sim.events.iter().any(|(_, n, e)| n.as_str() == standby
        && *e
            == Event::Connectivity {
                node: holder.clone(),
                value: 0
            }));

    // Reachable again: equal connectivity, and stickiness keeps the VIP
    // where it is (no flapping back).
    connectivity(&mut sim, &holder, 1);
    sim.run(3 * S);
    assert_eq!(owner(&sim, "vip"), standby);
    assert_eq!(sim.count(standby, "vip", OpKind::Stop), 0, "{}", sim.dump());
}

#[test]
fn equal_connectivity_keeps_placement() {
    let names = ["a", "b", "c"];
    let mut sim = started(&names, &["vip", "web"]);
    let before = (owner(&sim, "vip"), owner(&sim, "web"));
    let stops = |sim: &Sim| {
        names
            .iter()
            .map(|n| sim.count(n, "vip", OpKind::Stop) + sim.count(n, "web", OpKind::Stop))
            .sum::<usize>()
    };
    let stopped_before = stops(&sim);
    for value in [2, 1, 2] {
        for n in names {
            connectivity(&mut sim, n, value);
            sim.run(S / 10);
        }
        sim.run(2 * S);
        assert_eq!((owner(&sim, "vip"), owner(&sim, "web")), before);
    }
    assert_eq!(stops(&sim), stopped_before, "{}", sim.dump());
}

#[test]
fn nobody_reaching_anything_changes_nothing() {
    let names = ["a", "b"];
    let mut sim = started(&names, &["vip"]);
    let holder = owner(&sim, "vip");
    let standby = other(&names, &holder);
    connectivity(&mut sim, &holder, 1);
    connectivity(&mut sim, standby, 1);
    sim.run(S);
    // The gateway itself dies: both reach nothing (the holder's pinger
    // notices first, the other's a ping interval later). Stopping the
    // services would not help anyone.
    connectivity(&mut sim, &holder, 0);
    sim.run(S / 5);
    connectivity(&mut sim, standby, 0);
    sim.run(3 * S);
    assert_eq!(owner(&sim, "vip"), holder);
    // It comes back, seen first by the other node: no move either.
    connectivity(&mut sim, standby, 1);
    sim.run(S / 5);
    connectivity(&mut sim, &holder, 1);
    sim.run(3 * S);
    assert_eq!(owner(&sim, "vip"), holder);
    assert_eq!(sim.count(&holder, "vip", OpKind::Stop), 0, "{}", sim.dump());
}

#[test]
fn a_member_not_judged_yet_is_not_the_lower_one() {
    let names = ["a", "b"];
    let mut sim = started(&names, &["vip"]);
    let holder = owner(&sim, "vip");
    let standby = other(&names, &holder);
    // Only the other node has reported; the holder's pinger has not judged
    // every target yet.
    connectivity(&mut sim, standby, 1);
    sim.run(3 * S);
    assert_eq!(owner(&sim, "vip"), holder);
    // Its report comes: lower, so it gives way.
    connectivity(&mut sim, &holder, 0);
    assert!(
        sim.run_until(2 * S, |sim| sim.owners("vip") == [standby.to_string()]),
        "{}",
        sim.dump()
    );
}

#[test]
fn a_restarted_node_reports_again_and_joiners_learn_the_values() {
    let names = ["a", "b", "c"];
    let mut sim = started(&names, &["vip"]);
    for n in names {
        connectivity(&mut sim, n, 2);
    }
    sim.run(S);
    let holder = owner(&sim, "vip");
    // A node that restarts has not judged yet: its old value is gone.
    let restarted = names
        .iter()
        .copied()
        .find(|n| *n != holder)
        .expect("3 nodes");
    sim.kill(restarted);
    sim.run(S / 10);
    sim.start(restarted);
    assert!(sim.run_until(5 * S, |sim| {
        sim.daemons[restarted]
            .as_ref()
            .is_some_and(|d| d.status().nodes.iter().all(|n| n.member))
    }));
    sim.run(S);
    let status = sim.node(restarted).status();
    for n in &status.nodes {
        let expected = (n.name != restarted).then_some(2);
        assert_eq!(n.connectivity, expected, "{} at {restarted}", n.name);
    }
    // Its first report reaches everyone, and the holder's drop moves the VIP.
    connectivity(&mut sim, restarted, 2);
    connectivity(&mut sim, &holder, 1);
    assert!(
        sim.run_until(3 * S, |sim| sim
            .owners("vip")
            .first()
            .is_some_and(|o| *o != holder)),
        "{}",
        sim.dump()
    );
    sim.run(S);
    assert_ne!(owner(&sim, "vip"), holder);
}

#[test]
fn the_connectivity_message_round_trips_and_truncations_are_refused() {
    let m = Message::Connectivity {
        incarnation: u64::MAX,
        value: u32::MAX,
    };
    let bytes = m.encode().expect("fits");
    assert!(bytes.len() < 24, "{} bytes", bytes.len());
    assert_eq!(Message::decode(&bytes).expect("decodes"), m);
    for len in 0..bytes.len() {
        assert!(Message::decode(&bytes[..len]).is_err(), "{len} bytes");
    }
}

#[test]
fn a_node_in_standby_does_not_push_the_others_out() {
    let names = ["a", "b"];
    let mut sim = started(&names, &["vip"]);
    let holder = owner(&sim, "vip");
    let standby = other(&names, &holder);
    sim.admin(standby, ironbeat_cluster::AdminRequest::Standby);
    sim.run(S);
    // The node in standby reaches more, but takes nothing: the holder,
    // the only node that may run the VIP, keeps it.
    connectivity(&mut sim, standby, 2);
    connectivity(&mut sim, &holder, 1);
    sim.run(3 * S);
    assert_eq!(owner(&sim, "vip"), holder);
    // Back online, it is the better connected node: the VIP moves there.
    sim.admin(standby, ironbeat_cluster::AdminRequest::Online);
    assert!(
        sim.run_until(3 * S, |sim| sim.owners("vip") == [standby.to_string()]),
        "{}",
        sim.dump()
    );
}

#[test]
fn in_three_nodes_only_the_best_connected_run_resources() {
    let names = ["a", "b", "c"];
    let mut sim = started(&names, &["vip", "web", "db"]);
    connectivity(&mut sim, "a", 1);
    connectivity(&mut sim, "b", 2);
    connectivity(&mut sim, "c", 2);
    let placed = sim.run_until(5 * S, |sim| {
        ["vip", "web", "db"]
            .iter()
            .all(|r| matches!(sim.owners(r).as_slice(), [n] if n != "a"))
    });
    assert!(placed, "{}", sim.dump());
    sim.run(S);
    for r in ["vip", "web", "db"] {
        assert_ne!(owner(&sim, r), "a");
    }
}

/// Two nodes with fencing and ping nodes (each reaching its one target),
/// the VIP placed; returns the sim, the holder and the other node.
fn racing() -> (Sim, String, String) {
    let mut setup = Setup::new(&["a", "b"], &["vip"]);
    setup.connectivity_grace = Some(Duration::from_millis(300));
    let mut sim = Sim::new(setup);
    sim.start("a");
    sim.start("b");
    assert!(
        sim.run_until(10 * S, |s| s.owners("vip").len() == 1),
        "{}",
        sim.dump()
    );
    connectivity(&mut sim, "a", 1);
    connectivity(&mut sim, "b", 1);
    sim.run(S);
    let holder = owner(&sim, "vip");
    let standby = other(&["a", "b"], &holder).to_string();
    (sim, holder, standby)
}

#[test]
fn an_isolated_holder_yields_the_fence_race_to_the_connected_node() {
    // The holder's every cable is pulled, its client LAN too: its links die
    // and, a moment later, its ping target stops answering. Before, it shot
    // first and kept a VIP nobody could reach.
    let (mut sim, holder, standby) = racing();
    let cut_at = sim.elapsed();
    sim.cut("a", "b");
    sim.run(Duration::from_millis(100));
    connectivity(&mut sim, &holder, 0);
    assert!(
        sim.run_until(10 * S, |s| !s.fenced.is_empty()),
        "{}",
        sim.dump()
    );
    let (_, by, target) = sim.fenced[0].clone();
    assert_eq!(
        (by.as_str(), target.as_str()),
        (standby.as_str(), holder.as_str())
    );
    // The standby asked after its usual priority delay (3 s here), no longer.
    let asked = sim.fence_requests[0].0 - cut_at;
    assert!(asked < Duration::from_secs(4), "{asked:?}");
    assert!(
        sim.run_until(5 * S, |s| s.owners("vip") == vec![standby.clone()]),
        "{}",
        sim.dump()
    );
    assert!(
        !sim.fence_requests.iter().any(|(_, by, _, _)| *by == holder),
        "the isolated holder shot too:\n{}",
        sim.dump()
    );
    let yielded: Vec<String> = sim
        .events
        .iter()
        .filter(|(_, n, e)| *n == holder && matches!(e, Event::FenceRaceYielded { .. }))
        .map(|(_, _, e)| e.to_string())
        .collect();
    assert_eq!(yielded.len(), 1, "{}", sim.dump());
    assert!(
        yielded[0].contains("reaches 0 ping target(s), fewer than the 1"),
        "{}",
        yielded[0]
    );
}

#[test]
fn a_connected_holder_still_wins_the_race_after_its_pingers_verdict() {
    // A plain split, both sides still reach their ping target: the holder
    // shoots once its pinger could have judged (the grace), well before the
    // standby's priority delay, and keeps the VIP.
    let (mut sim, holder, standby) = racing();
    let cut_at = sim.elapsed();
    sim.cut("a", "b");
    assert!(
        sim.run_until(10 * S, |s| !s.fenced.is_empty()),
        "{}",
        sim.dump()
    );
    let (_, by, target) = sim.fenced[0].clone();
    assert_eq!(
        (by.as_str(), target.as_str()),
        (holder.as_str(), standby.as_str())
    );
    let took = sim.fence_requests[0].0 - cut_at;
    assert!(
        took >= Duration::from_millis(300) && took < Duration::from_secs(2),
        "{took:?}"
    );
    sim.run(2 * S);
    assert_eq!(sim.owners("vip"), vec![holder.clone()], "{}", sim.dump());
    assert_eq!(sim.fence_requests.len(), 1, "{}", sim.dump());
}

#[test]
fn when_the_gateway_dies_for_both_the_holder_still_wins() {
    // Both lose their ping target with the split (the switch died): both
    // yield, the holder's yield is the shorter, so it keeps the VIP.
    let (mut sim, holder, standby) = racing();
    sim.cut("a", "b");
    sim.run(Duration::from_millis(100));
    connectivity(&mut sim, "a", 0);
    connectivity(&mut sim, "b", 0);
    assert!(
        sim.run_until(20 * S, |s| !s.fenced.is_empty()),
        "{}",
        sim.dump()
    );
    let (_, by, target) = sim.fenced[0].clone();
    assert_eq!(
        (by.as_str(), target.as_str()),
        (holder.as_str(), standby.as_str())
    );
    sim.run(2 * S);
    assert_eq!(sim.owners("vip"), vec![holder.clone()], "{}", sim.dump());
}
