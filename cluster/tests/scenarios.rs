//! Cluster Test Suite scenarios on the simulated cluster (tests/sim).

mod sim;

use std::collections::BTreeSet;
use std::time::Duration;

use ironbeat_cluster::{AdminReply, AdminRequest, Event, FenceAction, OpKind};
use ironbeat_crm::model::NoQuorumPolicy;
use sim::{Setup, Sim};

const S: Duration = Duration::from_secs(1);

fn started(names: &[&str], rscs: &[&str], setup: impl FnOnce(&mut Setup)) -> Sim {
    let mut s = Setup::new(names, rscs);
    setup(&mut s);
    let mut sim = Sim::new(s);
    for n in names {
        sim.start(n);
    }
    let rscs: Vec<String> = rscs.iter().map(|s| s.to_string()).collect();
    let ok = sim.run_until(10 * S, |sim| rscs.iter().all(|r| sim.owners(r).len() == 1));
    assert!(ok, "resources not placed:\n{}", sim.dump());
    sim
}

fn dc_of(sim: &mut Sim, n: &str) -> Option<String> {
    sim.node(n).status().dc
}

#[test]
fn two_node_simultaneous_start_places_the_vip_once() {
    let mut sim = started(&["a", "b"], &["vip"], |_| {});
    sim.run(3 * S);
    assert_eq!(sim.owners("vip").len(), 1);
    assert_eq!(dc_of(&mut sim, "a"), Some("a".into()));
    assert_eq!(dc_of(&mut sim, "b"), Some("a".into()));
    let st = sim.node("b").status();
    assert!(st.quorum);
    assert_eq!(st.resources[0].running_on.len(), 1);
    // Started exactly once, never stopped.
    let starts: usize = ["a", "b"]
        .iter()
        .map(|n| sim.count(n, "vip", OpKind::Start))
        .sum();
    assert_eq!(starts, 1, "{}", sim.dump());
}

#[test]
fn two_node_waits_for_all_before_the_first_quorum() {
    let mut setup = Setup::new(&["a", "b"], &["vip"]);
    setup.fencing = false;
    let mut sim = Sim::new(setup);
    sim.start("a");
    sim.run(3 * S);
    assert!(sim.owners("vip").is_empty(), "{}", sim.dump());
    assert!(!sim.node("a").status().quorum);
    sim.start("b");
    assert!(
        sim.run_until(5 * S, |s| s.owners("vip").len() == 1),
        "{}",
        sim.dump()
    );
}

#[test]
fn three_node_start_and_one_by_one() {
    let mut sim = Sim::new(Setup::new(&["a", "b", "c"], &["vip", "web"]));
    sim.start("c");
    sim.run(2 * S);
    // Alone: no quorum (1 of 3 votes), nothing starts.
    assert!(sim.owners("vip").is_empty());
    sim.start("b");
    assert!(sim.run_until(5 * S, |s| s.owners("vip").len() == 1
        && s.owners("web").len() == 1));
    let dc = dc_of(&mut sim, "b");
    sim.start("a");
    sim.run(3 * S);
    // The incumbent keeps the role when a lower name joins.
    assert_eq!(dc_of(&mut sim, "a"), dc);
    assert_eq!(dc_of(&mut sim, "c"), dc);
    assert_eq!(sim.node("a").status().epoch, sim.node("c").status().epoch);
}

#[test]
fn kill_of_the_active_node_fences_before_recovery() {
    let mut sim = started(&["a", "b"], &["vip"], |_| {});
    let owner = sim.owners("vip")[0].clone();
    let other = if owner == "a" { "b" } else { "a" }.to_string();
    sim.kill(&owner);
    assert!(
        sim.run_until(10 * S, |s| s.owners("vip") == vec![other.clone()]),
        "{}",
        sim.dump()
    );
    assert_eq!(sim.unfenced_recoveries, 0);
    assert_eq!(sim.fenced.len(), 1);
    assert_eq!(sim.fenced[0].2, owner);
    let st = sim.node(&other).status();
    assert_eq!(st.dc.as_deref(), Some(other.as_str()));
    assert_eq!(st.fencing.len(), 1);
}

#[test]
fn dc_death_reelects_within_one_deadtime() {
    let mut sim = started(&["a", "b", "c"], &["vip"], |_| {});
    sim.run(S);
    assert_eq!(dc_of(&mut sim, "b"), Some("a".into()));
    let t = sim.elapsed();
    sim.kill("a");
    assert!(
        sim.run_until(5 * S, |s| s.daemons["b"].as_ref().is_some_and(|n| n
            .status()
            .dc
            .as_deref()
            == Some("b")))
    );
    assert!(
        sim.elapsed() - t <= sim::DEADTIME + 2 * sim::TICK,
        "{:?}",
        sim.elapsed() - t
    );
    assert_eq!(dc_of(&mut sim, "c"), Some("b".into()));
    // a is fenced, its VIP (if it had it) recovered after that.
    assert!(sim.run_until(10 * S, |s| s.owners("vip").len() == 1
        && !s.powered.contains("a")));
    assert_eq!(sim.unfenced_recoveries, 0);
}

#[test]
fn all_links_cut_leaves_exactly_one_owner_and_the_holder_wins() {
    let mut sim = started(&["a", "b"], &["vip"], |_| {});
    let owner = sim.owners("vip")[0].clone();
    let other = if owner == "a" { "b" } else { "a" }.to_string();
    sim.cut("a", "b");
    sim.run(10 * S);
    assert_eq!(sim.owners("vip"), vec![owner.clone()], "{}", sim.dump());
    assert_eq!(sim.fenced.len(), 1, "{}", sim.dump());
    assert_eq!(sim.fenced[0].2, other);
    assert_eq!(sim.count(&owner, "vip", OpKind::Stop), 0);
}

#[test]
fn standby_and_takeover_hand_over_without_double_ownership() {
    let mut sim = started(&["a", "b"], &["vip", "web"], |_| {});
    let owner = sim.owners("vip")[0].clone();
    let other = if owner == "a" { "b" } else { "a" }.to_string();
    let reply = sim.admin(&owner, AdminRequest::Standby);
    assert!(matches!(reply, AdminReply::Accepted(_)), "{reply:?}");
    assert!(
        sim.run_until(5 * S, |s| s.owners("vip") == vec![other.clone()]
            && s.owners("web") == vec![other.clone()]),
        "{}",
        sim.dump()
    );
    // Takeover from the standby node (a follower forwards it to the DC).
    let reply = sim.admin(&owner, AdminRequest::Takeover);
    assert!(matches!(reply, AdminReply::Accepted(_)), "{reply:?}");
    assert!(
        sim.run_until(5 * S, |s| s.owners("vip") == vec![owner.clone()]
            && s.owners("web") == vec![owner.clone()]),
        "{}",
        sim.dump()
    );
    assert_eq!(sim.double_active_ticks, 0);
}

#[test]
fn monitor_failure_restarts_in_place_then_moves_after_the_threshold() {
    let mut sim = started(&["a", "b"], &["vip"], |s| s.migration_threshold = 2);
    let owner = sim.owners("vip")[0].clone();
    let other = if owner == "a" { "b" } else { "a" }.to_string();
    sim.kill_rsc.insert((owner.clone(), "vip".into()));
    assert!(
        sim.run_until(5 * S, |s| s.count(&owner, "vip", OpKind::Start) == 2),
        "{}",
        sim.dump()
    );
    assert_eq!(sim.owners("vip"), vec![owner.clone()]);
    sim.run(S);
    sim.kill_rsc.insert((owner.clone(), "vip".into()));
    assert!(
        sim.run_until(5 * S, |s| s.owners("vip") == vec![other.clone()]),
        "{}",
        sim.dump()
    );
    let st = sim.node(&other).status();
    assert_eq!(st.resources[0].fail_counts, vec![(owner.clone(), 2)]);
}

#[test]
fn partition_heal_keeps_the_winners_vip_up() {
    let mut sim = started(&["a", "b"], &["vip"], |s| s.fencing = false);
    let owner = sim.owners("vip")[0].clone();
    sim.allow_double = true;
    sim.cut("a", "b");
    // Without fencing each side recovers: the VIP runs on both.
    assert!(
        sim.run_until(5 * S, |s| s.owners("vip").len() == 2),
        "{}",
        sim.dump()
    );
    assert!(sim
        .events
        .iter()
        .any(|(_, _, e)| matches!(e, Event::RecoveryWithoutFencing(_))));
    sim.heal();
    assert!(
        sim.run_until(5 * S, |s| s.owners("vip").len() == 1),
        "{}",
        sim.dump()
    );
    let keeper = sim.owners("vip")[0].clone();
    // The survivor's copy was never stopped: the VIP stayed up there.
    assert_eq!(sim.count(&keeper, "vip", OpKind::Stop), 0, "{}", sim.dump());
    // Once the other copy is stopped, the kept one is started again (an
    // idempotent start: the address agent announces it), so the network
    // follows the keeper again.
    let loser = if keeper == "a" { "b" } else { "a" };
    let stopped = sim
        .log
        .iter()
        .find(|(_, n, r, k)| n == loser && r == "vip" && *k == OpKind::Stop)
        .map(|(t, _, _, _)| *t)
        .expect("the other copy was stopped");
    assert!(
        sim.run_until(S, |s| s.log.iter().any(|(t, n, r, k)| *t >= stopped
            && *n == keeper
            && r == "vip"
            && *k == OpKind::Start)),
        "the kept copy was not announced again:\n{}",
        sim.dump()
    );
    let _ = owner;
    // Bounded: resolved within a few seconds of the heal.
    assert!(sim.double_active_ticks < 800, "{}", sim.double_active_ticks);
    sim.run(3 * S);
    assert_eq!(sim.owners("vip").len(), 1);
    assert_eq!(dc_of(&mut sim, "a"), dc_of(&mut sim, "b"));
}

#[test]
fn a_joiner_already_running_a_resource_is_probed_not_started_twice() {
    let mut sim = Sim::new(Setup::new(&["a", "b"], &["vip"]));
    sim.running.get_mut("b").unwrap().insert("vip".into());
    sim.start("a");
    sim.run(S);
    sim.start("b");
    sim.run(5 * S);
    assert_eq!(sim.owners("vip"), vec!["b".to_string()], "{}", sim.dump());
    assert_eq!(
        sim.count("a", "vip", OpKind::Start) + sim.count("b", "vip", OpKind::Start),
        0
    );
}

#[test]
fn flip_stop_and_start_one_node() {
    let mut sim = started(&["a", "b", "c"], &["vip"], |s| s.fencing = false);
    let owner = sim.owners("vip")[0].clone();
    // A clean stop: the operator stops the daemon after its resources moved.
    let reply = sim.admin(&owner, AdminRequest::Standby);
    assert!(matches!(reply, AdminReply::Accepted(_)));
    assert!(sim.run_until(5 * S, |s| s.owners("vip").len() == 1
        && s.owners("vip")[0] != owner));
    sim.kill(&owner);
    sim.run(2 * S);
    assert_eq!(sim.owners("vip").len(), 1);
    sim.start(&owner);
    sim.run(3 * S);
    assert_eq!(sim.owners("vip").len(), 1);
    assert!(sim.node(&owner).status().nodes.iter().all(|n| n.member));
}

#[test]
fn a_member_with_another_configuration_is_refused() {
    let mut setup = Setup::new(&["a", "b", "c"], &["vip"]);
    setup.fencing = false;
    let mut sim = Sim::new(setup);
    sim.digests.insert("c".into(), 7);
    for n in ["a", "b", "c"] {
        sim.start(n);
    }
    sim.run(3 * S);
    let st = sim.node("a").status();
    let c = st.nodes.iter().find(|n| n.name == "c").unwrap();
    assert!(!c.member && c.config_mismatch);
    assert!(sim.events.iter().any(|(_, n, e)| n == "a"
        && matches!(e, Event::ConfigMismatch { node, ours: 42, theirs: 7 } if node == "c")));
    assert_eq!(sim.owners("vip").len(), 1);
}

#[test]
fn an_isolated_node_without_quorum_stops_and_the_majority_recovers_after_fencing() {
    let mut sim = started(&["a", "b", "c"], &["vip"], |_| {});
    sim.run(S);
    let owner = sim.owners("vip")[0].clone();
    let others: Vec<String> = ["a", "b", "c"]
        .iter()
        .filter(|n| **n != owner)
        .map(|n| n.to_string())
        .collect();
    for o in &others {
        sim.cut(&owner, o);
    }
    assert!(
        sim.run_until(10 * S, |s| s.owners("vip").len() == 1
            && s.owners("vip")[0] != owner),
        "{}",
        sim.dump()
    );
    // The minority lost quorum and stopped its copy (no-quorum-policy stop)
    // before it was fenced, or was fenced first.
    assert_eq!(sim.fenced.len(), 1);
    assert_eq!(sim.fenced[0].2, owner);
    assert_eq!(sim.unfenced_recoveries, 0);
}

#[test]
fn no_quorum_policy_freeze_keeps_what_runs() {
    let mut sim = started(&["a", "b", "c"], &["vip"], |s| {
        s.fencing = false;
        s.no_quorum_policy = ironbeat_crm::model::NoQuorumPolicy::Freeze;
    });
    sim.run(S);
    let owner = sim.owners("vip")[0].clone();
    sim.allow_double = true;
    for o in ["a", "b", "c"] {
        if o != owner {
            sim.cut(&owner, o);
        }
    }
    sim.run(3 * S);
    assert!(!sim.node(&owner).status().quorum);
    assert!(sim.owners("vip").contains(&owner), "{}", sim.dump());
    assert_eq!(sim.count(&owner, "vip", OpKind::Stop), 0);
}

#[test]
fn no_quorum_policy_stop_stops_what_runs() {
    let mut sim = started(&["a", "b", "c"], &["vip"], |s| s.fencing = false);
    sim.run(S);
    let owner = sim.owners("vip")[0].clone();
    sim.allow_double = true;
    for o in ["a", "b", "c"] {
        if o != owner {
            sim.cut(&owner, o);
        }
    }
    sim.run(3 * S);
    assert_eq!(sim.count(&owner, "vip", OpKind::Stop), 1, "{}", sim.dump());
    assert_eq!(sim.owners("vip").len(), 1);
    assert_ne!(sim.owners("vip")[0], owner);
}

#[test]
fn auto_failback_follows_stickiness() {
    // Preferred node a (score 50). Stickiness 0: the VIP fails back to a.
    let mut sim = started(&["a", "b"], &["vip"], |s| {
        s.preferred = Some(("a".into(), 50));
        s.stickiness = 0;
    });
    assert_eq!(sim.owners("vip"), vec!["a".to_string()]);
    sim.kill("a");
    assert!(sim.run_until(10 * S, |s| s.owners("vip") == vec!["b".to_string()]));
    sim.start("a");
    assert!(
        sim.run_until(5 * S, |s| s.owners("vip") == vec!["a".to_string()]),
        "{}",
        sim.dump()
    );
    // Stickiness above the preference: it stays on b.
    let mut sim = started(&["a", "b"], &["vip"], |s| {
        s.preferred = Some(("a".into(), 50));
        s.stickiness = 100;
    });
    sim.kill("a");
    assert!(sim.run_until(10 * S, |s| s.owners("vip") == vec!["b".to_string()]));
    sim.start("a");
    sim.run(5 * S);
    assert_eq!(sim.owners("vip"), vec!["b".to_string()]);
}

#[test]
fn resource_stop_start_move_and_cleanup() {
    let mut sim = started(&["a", "b", "c"], &["vip"], |s| s.migration_threshold = 1);
    let r = sim.admin("c", AdminRequest::ResourceStop("vip".into()));
    assert!(matches!(r, AdminReply::Accepted(_)), "{r:?}");
    assert!(sim.run_until(5 * S, |s| s.owners("vip").is_empty()));
    sim.admin("b", AdminRequest::ResourceStart("vip".into()));
    assert!(sim.run_until(5 * S, |s| s.owners("vip").len() == 1));
    sim.admin(
        "b",
        AdminRequest::ResourceMove {
            resource: "vip".into(),
            node: "c".into(),
        },
    );
    assert!(
        sim.run_until(5 * S, |s| s.owners("vip") == vec!["c".to_string()]),
        "{}",
        sim.dump()
    );
    // A failure bans c (threshold 1); cleanup lifts the ban and the move
    // brings it back.
    sim.kill_rsc.insert(("c".into(), "vip".into()));
    assert!(sim.run_until(5 * S, |s| s.owners("vip").len() == 1
        && s.owners("vip")[0] != "c"));
    sim.admin("a", AdminRequest::ResourceCleanup("vip".into()));
    assert!(
        sim.run_until(5 * S, |s| s.owners("vip") == vec!["c".to_string()]),
        "{}",
        sim.dump()
    );
    // Unknown names are refused with the list.
    let r = sim.admin("a", AdminRequest::ResourceStop("nope".into()));
    assert!(
        matches!(&r, AdminReply::Refused(m) if m.contains("vip")),
        "{r:?}"
    );
    let r = sim.admin(
        "a",
        AdminRequest::ResourceMove {
            resource: "vip".into(),
            node: "zz".into(),
        },
    );
    assert!(
        matches!(&r, AdminReply::Refused(m) if m.contains("a, b, c")),
        "{r:?}"
    );
    assert_eq!(sim.double_active_ticks, 0);
}

#[test]
fn simultaneous_start_of_three_elects_one_dc() {
    let mut sim = started(&["a", "b", "c"], &["r1", "r2", "r3"], |_| {});
    sim.run(2 * S);
    let dcs: Vec<Option<String>> = ["a", "b", "c"].iter().map(|n| dc_of(&mut sim, n)).collect();
    assert!(dcs.iter().all(|d| d.as_deref() == Some("a")), "{dcs:?}");
    // Load spreading: one resource per node.
    let mut owners: Vec<String> = ["r1", "r2", "r3"]
        .iter()
        .map(|r| sim.owners(r)[0].clone())
        .collect();
    owners.sort();
    assert_eq!(owners, vec!["a", "b", "c"]);
}

/// Random kills, restarts, cuts, heals, standbys and resource failures on
/// three nodes with fencing, message loss and jitter: at no simulated
/// instant does a resource run on two powered nodes, nothing is recovered
/// from an unfenced node, and once everything is healed and restarted every
/// resource runs exactly once.
#[test]
fn random_faults_keep_the_invariants_three_nodes() {
    random_faults(&["a", "b", "c"], 1..=seeds(60));
}

#[test]
fn random_faults_keep_the_invariants_two_nodes() {
    random_faults(&["a", "b"], 1..=seeds(60));
}

/// Seeds to run: IRONBEAT_SIM_SEEDS overrides the default count.
fn seeds(default: u64) -> u64 {
    std::env::var("IRONBEAT_SIM_SEEDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn random_faults(names: &[&str], seeds: std::ops::RangeInclusive<u64>) {
    for seed in seeds {
        let mut setup = Setup::new(names, &["r1", "r2", "r3"]);
        setup.migration_threshold = 3;
        let mut sim = Sim::new(setup);
        sim.seed(seed);
        sim.loss_percent = 5;
        sim.jitter = Duration::from_millis(20);
        for &n in names {
            sim.start(n);
        }
        sim.run(2 * S);
        // Nodes shutting down cleanly (SIGTERM): they exit once they may.
        let mut leaving: BTreeSet<String> = BTreeSet::new();
        for _ in 0..30 {
            let n = names[(sim.random() % names.len() as u64) as usize].to_string();
            match sim.random() % 8 {
                0 if sim.daemons[&n].is_some() => {
                    leaving.remove(&n);
                    sim.kill(&n);
                }
                1 if sim.daemons[&n].is_none() => sim.start(&n),
                6 if sim.daemons[&n].is_some() && leaving.insert(n.clone()) => sim.leave(&n),
                2 => {
                    let m = names[(sim.random() % names.len() as u64) as usize].to_string();
                    if m != n {
                        sim.cut(&n, &m);
                    }
                }
                3 => sim.heal(),
                4 if sim.daemons[&n].is_some() => {
                    let req = if sim.random() % 2 == 0 {
                        AdminRequest::Standby
                    } else {
                        AdminRequest::Online
                    };
                    sim.admin(&n, req);
                }
                5 => {
                    let r = ["r1", "r2", "r3"][(sim.random() % 3) as usize].to_string();
                    sim.kill_rsc.insert((n, r));
                }
                _ => {}
            }
            let wait = 200 + sim.random() % 1500;
            sim.run(Duration::from_millis(wait));
            let gone: Vec<String> = leaving
                .iter()
                .filter(|n| sim.daemons[*n].as_ref().is_some_and(|d| d.can_leave()))
                .cloned()
                .collect();
            for n in gone {
                // Asserts that nothing runs there any more.
                sim.exit(&n);
                leaving.remove(&n);
            }
        }
        // A node still leaving when the faults stop gives up: kill -9.
        for n in std::mem::take(&mut leaving) {
            if sim.daemons[&n].is_some() {
                sim.kill(&n);
            }
        }
        sim.heal();
        sim.kill_rsc.clear();
        for &n in names {
            if sim.daemons[n].is_some() {
                sim.admin(n, AdminRequest::Online);
            }
        }
        // Restart what is down (a fencing still in flight may take a node
        // down again: restart until every daemon stays up).
        for _ in 0..4 {
            sim.run(3 * S);
            for &n in names {
                if sim.daemons[n].is_none() {
                    sim.start(n);
                }
            }
        }
        for &n in names {
            sim.admin(n, AdminRequest::Online);
            for r in ["r1", "r2", "r3"] {
                sim.admin(n, AdminRequest::ResourceCleanup(r.into()));
            }
        }
        let ok = sim.run_until(20 * S, |s| {
            s.daemons.values().all(|d| d.is_some())
                && ["r1", "r2", "r3"].iter().all(|r| s.owners(r).len() == 1)
        });
        assert!(
            ok,
            "seed {seed}: not every resource runs once:\n{}",
            sim.dump()
        );
        assert_eq!(sim.unfenced_recoveries, 0, "seed {seed}");
        sim.run(3 * S);
        assert!(
            ["r1", "r2", "r3"].iter().all(|r| sim.owners(r).len() == 1),
            "seed {seed}: a resource stopped again:\n{}",
            sim.dump()
        );
        let dcs: BTreeSet<Option<String>> = names.iter().map(|n| dc_of(&mut sim, n)).collect();
        assert_eq!(dcs.len(), 1, "seed {seed}: {dcs:?}\n{}", sim.dump());
    }
}

#[test]
fn a_start_whose_result_never_comes_times_out_and_recovers_elsewhere() {
    let mut setup = Setup::new(&["a", "b"], &["vip"]);
    setup.fencing = true;
    let mut sim = Sim::new(setup);
    sim.hang_next_start = true;
    sim.start("a");
    sim.start("b");
    // The start ran (the VIP is up there) but nobody heard of it.
    assert!(sim.run_until(S, |s| !s.hang_next_start));
    let first = sim.owners("vip");
    assert_eq!(first.len(), 1);
    // Default op timeout 5 s + deadtime: the node reports a timeout, the
    // failed start is stopped there and the VIP starts on the other node.
    assert!(
        sim.run_until(10 * S, |s| s.owners("vip").len() == 1
            && s.owners("vip") != first),
        "{}",
        sim.dump()
    );
    assert!(sim.events.iter().any(|(_, _, e)| matches!(
        e,
        Event::OpFailed {
            kind: OpKind::Start,
            outcome: ironbeat_cluster::OpOutcome::TimedOut,
            ..
        }
    )));
    assert_eq!(sim.count(&first[0], "vip", OpKind::Stop), 1);
}

#[test]
fn no_quorum_policy_ignore_carries_on() {
    let mut sim = started(&["a", "b", "c"], &["vip"], |s| {
        s.fencing = false;
        s.no_quorum_policy = ironbeat_crm::model::NoQuorumPolicy::Ignore;
    });
    sim.run(S);
    let owner = sim.owners("vip")[0].clone();
    sim.allow_double = true;
    for o in ["a", "b", "c"] {
        if o != owner {
            sim.cut(&owner, o);
        }
    }
    sim.run(3 * S);
    assert!(!sim.node(&owner).status().quorum);
    assert_eq!(sim.count(&owner, "vip", OpKind::Stop), 0);
    assert!(sim.owners("vip").contains(&owner));
}

#[test]
fn a_clean_shutdown_hands_over_and_is_not_fenced() {
    // Fencing on: a node that leaves cleanly moves its resources away (stop
    // before start) and its death afterwards is no loss.
    let mut sim = started(&["a", "b"], &["vip", "web"], |_| {});
    sim.run(2 * S);
    let holder = sim.owners("vip")[0].clone();
    let other = if holder == "a" { "b" } else { "a" };
    sim.leave(&holder);
    let handed = sim.run_until(5 * S, |s| {
        s.owners("vip") == [other.to_string()] && s.owners("web") == [other.to_string()]
    });
    assert!(handed, "resources not handed over:\n{}", sim.dump());
    assert!(
        sim.run_until(2 * S, |s| s.daemons[&holder]
            .as_ref()
            .is_some_and(|n| n.can_leave())),
        "{holder} may never leave:\n{}",
        sim.dump()
    );
    sim.exit(&holder);
    sim.run(10 * S);
    assert!(
        sim.fenced.is_empty(),
        "a clean shutdown was fenced:\n{}",
        sim.dump()
    );
    assert_eq!(sim.owners("vip"), [other.to_string()]);
    assert_eq!(sim.double_active_ticks, 0);
    assert!(sim
        .events
        .iter()
        .any(|(_, n, e)| n == other && matches!(e, Event::Leaving(l) if *l == holder)));
    // It comes back: not in standby any more, it rejoins normally.
    sim.start(&holder);
    assert!(
        sim.run_until(5 * S, |s| {
            let st = s.daemons[other].as_ref().map(|n| n.status());
            st.is_some_and(|st| st.nodes.iter().all(|n| n.member && !n.standby))
        }),
        "{}",
        sim.dump()
    );
    assert!(sim.fenced.is_empty(), "{}", sim.dump());
}

#[test]
fn the_last_node_leaving_stops_its_resources() {
    let mut sim = started(&["a", "b"], &["vip"], |_| {});
    let holder = sim.owners("vip")[0].clone();
    let other = if holder == "a" { "b" } else { "a" };
    sim.leave(other);
    assert!(sim.run_until(3 * S, |s| s.daemons[other]
        .as_ref()
        .is_some_and(|n| n.can_leave())));
    sim.exit(other);
    sim.run(3 * S);
    assert!(sim.fenced.is_empty(), "{}", sim.dump());
    assert_eq!(sim.owners("vip"), std::slice::from_ref(&holder));
    // Now the survivor leaves too: alone (two-node quorum), it stops the VIP.
    sim.leave(&holder);
    assert!(
        sim.run_until(3 * S, |s| s.daemons[&holder]
            .as_ref()
            .is_some_and(|n| n.can_leave())),
        "{}",
        sim.dump()
    );
    assert!(sim.owners("vip").is_empty(), "{}", sim.dump());
    sim.exit(&holder);
}

#[test]
fn fence_devices_do_not_count_as_services_in_a_split() {
    // Each node runs the fence device of the other. Cut every link: the
    // node running only a device waits the priority fencing delay, so the
    // VIP holder shoots first and keeps the VIP.
    let mut sim = started(&["a", "b"], &["vip", "fence_a", "fence_b"], |s| {
        s.devices = true;
        s.resources = vec!["vip".into()];
    });
    let owner = sim.owners("vip")[0].clone();
    let other = if owner == "a" { "b" } else { "a" }.to_string();
    assert_eq!(
        sim.owners(&format!("fence_{owner}")),
        std::slice::from_ref(&other),
        "{}",
        sim.dump()
    );
    sim.cut("a", "b");
    sim.run(10 * S);
    assert_eq!(sim.fenced.len(), 1, "{}", sim.dump());
    assert_eq!(sim.fenced[0].2, other, "{}", sim.dump());
    assert_eq!(
        sim.owners("vip"),
        std::slice::from_ref(&owner),
        "{}",
        sim.dump()
    );
}

/// haresources sets no-quorum-policy=ignore (heartbeat had no quorum): a
/// node booting alone without fencing must still start nothing and fence
/// no one before it has seen its peer (wait-for-all), and say once why.
#[test]
fn alone_with_ignore_and_without_fencing_waits_and_says_so_once() {
    let mut setup = Setup::new(&["a", "b"], &["vip"]);
    setup.fencing = false;
    setup.no_quorum_policy = NoQuorumPolicy::Ignore;
    setup.requires = Some(ironbeat_crm::model::Requires::Nothing);
    let mut sim = Sim::new(setup);
    sim.start("a");
    sim.run(3 * sim::INITDEAD);
    assert!(sim.owners("vip").is_empty(), "{}", sim.dump());
    assert!(sim.fence_requests.is_empty(), "{}", sim.dump());
    let said: Vec<_> = sim
        .events
        .iter()
        .filter(|(_, _, e)| matches!(e, Event::WaitingForAll(m) if m == &["b".to_string()]))
        .collect();
    assert_eq!(said.len(), 1, "{}", sim.dump());
    assert!(said[0].0 >= sim::INITDEAD, "{said:?}");
    let text = said[0].2.to_string();
    assert!(
        text.contains("wait_for_all") && text.contains("start b") && text.contains("fencing"),
        "{text}"
    );
    let st = sim.node("a").status();
    assert!(!st.quorum);
    assert_eq!(st.waiting.as_deref(), Some(text.as_str()));
    sim.start("b");
    assert!(
        sim.run_until(5 * S, |s| s.owners("vip").len() == 1),
        "{}",
        sim.dump()
    );
    assert_eq!(sim.node("a").status().waiting, None);
    // Seen once: ignore now carries on, as heartbeat's survivor did.
    let owner = sim.owners("vip")[0].clone();
    let other = if owner == "a" { "b" } else { "a" }.to_string();
    sim.allow_double = true;
    sim.kill(&owner);
    assert!(
        sim.run_until(5 * S, |s| s.owners("vip").contains(&other)),
        "{}",
        sim.dump()
    );
}

/// Startup fencing (heartbeat's initdead): a node booting alone with
/// fencing powers its unseen peer off after initdead (off, never reboot),
/// then counts it as seen and starts the services; no fence loop.
#[test]
fn alone_with_fencing_fences_the_unseen_peer_off_at_initdead_then_starts() {
    let mut setup = Setup::new(&["a", "b"], &["vip"]);
    setup.no_quorum_policy = NoQuorumPolicy::Ignore;
    let mut sim = Sim::new(setup);
    sim.start("a");
    sim.run(sim::INITDEAD - 2 * sim::TICK);
    assert!(sim.fence_requests.is_empty(), "{}", sim.dump());
    assert!(sim.owners("vip").is_empty());
    assert!(sim.node("a").status().waiting.is_some());
    assert!(
        sim.run_until(5 * S, |s| s.owners("vip") == vec!["a".to_string()]),
        "{}",
        sim.dump()
    );
    assert_eq!(sim.fence_requests.len(), 1, "{}", sim.dump());
    let (at, by, target, action) = &sim.fence_requests[0];
    assert!(*at >= sim::INITDEAD, "{at:?}");
    assert_eq!(
        (by.as_str(), target.as_str(), *action),
        ("a", "b", FenceAction::Off)
    );
    assert!(!sim.powered.contains("b"));
    let st = sim.node("a").status();
    assert!(st.quorum && st.waiting.is_none(), "{st:?}");
    sim.run(10 * S);
    assert_eq!(sim.fence_requests.len(), 1, "{}", sim.dump());
    // b powered on again later joins normally; nothing moves twice.
    sim.start("b");
    sim.run(3 * S);
    assert!(sim.node("b").status().nodes.iter().all(|n| n.member));
    assert_eq!(sim.owners("vip"), vec!["a".to_string()]);
    assert_eq!(sim.fence_requests.len(), 1, "{}", sim.dump());
}

/// A node rebooted by a fence (its previous run did not end cleanly) that
/// comes back while its links are still cut must not power off the healthy
/// node that fenced it: it fences no one at start and waits for all nodes.
#[test]
fn a_node_back_from_an_unclean_end_fences_no_one_at_start() {
    let mut setup = Setup::new(&["a", "b"], &["vip"]);
    setup.no_quorum_policy = NoQuorumPolicy::Ignore;
    let mut sim = Sim::new(setup);
    sim.start_unclean("a");
    sim.run(10 * S);
    assert!(sim.fence_requests.is_empty(), "{}", sim.dump());
    assert!(sim.owners("vip").is_empty(), "{}", sim.dump());
    assert!(sim.node("a").status().waiting.is_some());
    sim.start("b");
    assert!(
        sim.run_until(5 * S, |s| s.owners("vip").len() == 1),
        "{}",
        sim.dump()
    );
    assert!(sim.fence_requests.is_empty(), "{}", sim.dump());
}

/// Both nodes boot with every link cut: both would fence the other at
/// initdead; the lower name shoots at once, the higher waits the priority
/// fencing delay, so exactly one survives and runs the services.
#[test]
fn both_booting_with_cut_links_exactly_one_fences_the_other() {
    let mut setup = Setup::new(&["a", "b"], &["vip"]);
    setup.no_quorum_policy = NoQuorumPolicy::Ignore;
    let mut sim = Sim::new(setup);
    sim.cut("a", "b");
    sim.start("b");
    sim.start("a");
    sim.run(10 * S);
    assert_eq!(sim.fenced.len(), 1, "{}", sim.dump());
    assert_eq!(
        (sim.fenced[0].1.as_str(), sim.fenced[0].2.as_str()),
        ("a", "b")
    );
    assert_eq!(sim.fence_requests.len(), 1, "{}", sim.dump());
    assert_eq!(sim.owners("vip"), vec!["a".to_string()], "{}", sim.dump());
}

/// A fencing (reboot) whose outcome arrives after the fenced node is back
/// with a new incarnation and has reported: only the lost incarnation's
/// report is void; the DC schedules with the new one (it used to wipe it
/// and wait for the node's probes for ever).
#[test]
fn a_fence_result_after_the_node_rejoined_keeps_its_new_report() {
    let mut sim = started(&["a", "b"], &["vip"], |_| {});
    sim.fence_reboots = Some(S);
    let owner = sim.owners("vip")[0].clone();
    let other = if owner == "a" { "b" } else { "a" }.to_string();
    sim.kill(&owner);
    // Without the fix the DC waited for the rebooted node's probes for
    // ever and the VIP never came back.
    assert!(
        sim.run_until(15 * S, |s| s.fenced.len() == 1
            && s.fence_requests.len() == 1
            && s.log.last().is_some_and(
                |(t, _, _, k)| *t > s.fenced[0].0 && *k == OpKind::Start
            )
            && s.owners("vip").len() == 1),
        "{}",
        sim.dump()
    );
    assert_eq!(sim.fenced[0].2, owner);
    let st = sim.node(&other).status();
    assert!(st.nodes.iter().all(|n| n.member && n.probed), "{st:?}");
    // The DC still schedules: a move to the node not holding it happens.
    let to = if sim.owners("vip")[0] == owner {
        other.clone()
    } else {
        owner.clone()
    };
    sim.admin(
        &other,
        AdminRequest::ResourceMove {
            resource: "vip".into(),
            node: to.clone(),
        },
    );
    assert!(
        sim.run_until(5 * S, |s| s.owners("vip") == vec![to.clone()]),
        "{}",
        sim.dump()
    );
    assert_eq!(sim.unfenced_recoveries, 0);
}

/// `resource cleanup` resets the owner's fail count in every node's status
/// and in the DC's model, exactly: a failure just after the cleanup (in the
/// same second) counts again.
#[test]
fn cleanup_resets_the_fail_count_everywhere_and_exactly() {
    let mut sim = started(&["a", "b"], &["vip"], |s| s.migration_threshold = 2);
    let owner = sim.owners("vip")[0].clone();
    let other = if owner == "a" { "b" } else { "a" }.to_string();
    sim.kill_rsc.insert((owner.clone(), "vip".into()));
    assert!(
        sim.run_until(5 * S, |s| s.count(&owner, "vip", OpKind::Start) == 2),
        "{}",
        sim.dump()
    );
    sim.run(S);
    for n in [&owner, &other] {
        let st = sim.node(n).status();
        assert_eq!(st.resources[0].fail_counts, vec![(owner.clone(), 1)], "{n}");
    }
    sim.admin(&other, AdminRequest::ResourceCleanup("vip".into()));
    sim.run(S);
    for n in [&owner, &other] {
        let st = sim.node(n).status();
        assert!(st.resources[0].fail_counts.is_empty(), "{n}: {st:?}");
        assert!(st.resources[0].failed_on.is_empty(), "{n}: {st:?}");
    }
    // Cleaned: one more failure restarts in place (threshold 2 not met)…
    sim.kill_rsc.insert((owner.clone(), "vip".into()));
    assert!(
        sim.run_until(5 * S, |s| s.count(&owner, "vip", OpKind::Start) == 3),
        "{}",
        sim.dump()
    );
    assert_eq!(sim.owners("vip"), vec![owner.clone()]);
    sim.run(S);
    let st = sim.node(&other).status();
    assert_eq!(st.resources[0].fail_counts, vec![(owner.clone(), 1)]);
    // …and the next one, counted, moves it.
    sim.kill_rsc.insert((owner.clone(), "vip".into()));
    assert!(
        sim.run_until(5 * S, |s| s.owners("vip") == vec![other.clone()]),
        "{}",
        sim.dump()
    );
}

/// Three nodes with wait-for-all (as `ironbeat run` sets it) and the
/// haresources policy (ignore), no fencing: two of three have the votes but
/// have not seen the third since start, so nothing starts; the third
/// arriving starts the services.
#[test]
fn three_nodes_wait_for_all_start_nothing_before_the_third_is_seen() {
    let mut setup = Setup::new(&["a", "b", "c"], &["vip"]);
    setup.fencing = false;
    setup.wait_for_all = true;
    setup.no_quorum_policy = NoQuorumPolicy::Ignore;
    setup.requires = Some(ironbeat_crm::model::Requires::Nothing);
    let mut sim = Sim::new(setup);
    sim.start("c");
    sim.start("b");
    sim.run(2 * sim::INITDEAD);
    assert!(sim.owners("vip").is_empty(), "{}", sim.dump());
    let st = sim.node("b").status();
    assert!(!st.quorum);
    assert!(
        st.waiting.as_deref().is_some_and(|w| w.contains("start a")),
        "{st:?}"
    );
    sim.start("a");
    assert!(
        sim.run_until(5 * S, |s| s.owners("vip").len() == 1),
        "{}",
        sim.dump()
    );
    assert!(sim.fence_requests.is_empty());
}

/// One side alone declares the other dead and comes back (its loop stalled,
/// or frames were lost one way): it elects itself and starts the resources,
/// while the other never saw it leave. When it hears the DC again, its
/// Hello claims the DC role: the DC must answer, so that the two merge (the
/// soak found them apart for 100 s, both holding the VIP).
#[test]
fn a_one_sided_death_merges_back_at_once() {
    let mut sim = started(&["a", "b"], &["vip"], |_| {});
    let owner = sim.owners("vip")[0].clone();
    let other = if owner == "a" { "b" } else { "a" }.to_string();
    sim.allow_double = true;
    sim.cut_one_way(&other, &owner);
    sim.run(2 * sim::DEADTIME);
    sim.heal();
    assert!(
        sim.run_until(5 * S, |s| s.owners("vip").len() == 1),
        "{}",
        sim.dump()
    );
    sim.run(S);
    let (a, b) = (sim.node("a").status(), sim.node("b").status());
    assert_eq!(a.dc, b.dc, "{}", sim.dump());
    assert!(
        a.nodes.iter().chain(&b.nodes).all(|n| n.member),
        "{}",
        sim.dump()
    );
    assert_eq!(sim.owners("vip").len(), 1, "{}", sim.dump());
}

/// After a site-wide power loss only a comes back (its run ended uncleanly,
/// so it fences no one at start and waits for every node). The operator,
/// who has seen that b is dead, confirms it: a treats b as fenced and starts
/// the services. Refused: this node, an unknown one, and a live peer.
#[test]
fn an_operator_confirms_a_peer_that_never_came_back() {
    let mut setup = Setup::new(&["a", "b"], &["vip"]);
    setup.no_quorum_policy = NoQuorumPolicy::Ignore;
    let mut sim = Sim::new(setup);
    sim.start_unclean("a");
    sim.run(10 * S);
    assert!(sim.owners("vip").is_empty(), "{}", sim.dump());
    for (who, why) in [("a", "is this node"), ("zz", "no node named")] {
        let reply = sim.admin("a", AdminRequest::FenceConfirm(who.into()));
        assert!(
            matches!(&reply, AdminReply::Refused(m) if m.contains(why)),
            "{who}: {reply:?}"
        );
    }
    let reply = sim.admin("a", AdminRequest::FenceConfirm("B".into()));
    assert!(matches!(reply, AdminReply::Accepted(_)), "{reply:?}");
    assert!(
        sim.run_until(5 * S, |s| s.owners("vip") == vec!["a".to_string()]),
        "{}",
        sim.dump()
    );
    assert!(sim.fence_requests.is_empty(), "{}", sim.dump());
    let st = sim.node("a").status();
    assert!(
        st.fencing
            .iter()
            .any(|f| f.node == "b" && f.by == "a (operator)"),
        "{:?}",
        st.fencing
    );
    assert!(sim
        .events
        .iter()
        .any(|(_, n, e)| n == "a" && matches!(e, Event::FenceConfirmedByOperator(b) if b == "b")));

    // b comes back: it joins; a live b cannot be confirmed fenced.
    sim.start("b");
    sim.run(3 * S);
    assert!(sim.node("a").status().nodes.iter().all(|n| n.member));
    let reply = sim.admin("a", AdminRequest::FenceConfirm("b".into()));
    assert!(
        matches!(&reply, AdminReply::Refused(m) if m.contains("alive on the cluster links")),
        "{reply:?}"
    );
    assert_eq!(sim.owners("vip"), vec!["a".to_string()]);
}

/// Watchdog-only fencing on three nodes: the VIP holder dies; the two
/// others keep quorum, wait stonith-watchdog-timeout (the dead node's
/// watchdog has reset it by then: it lost quorum and sees no peer) and only
/// then recover the VIP. No fence request is ever made.
#[test]
fn watchdog_fencing_waits_then_recovers() {
    let mut setup = Setup::new(&["a", "b", "c"], &["vip"]);
    setup.fencing = false;
    setup.watchdog_fencing = Some(4 * S);
    let mut sim = Sim::new(setup);
    for n in ["a", "b", "c"] {
        sim.start(n);
    }
    assert!(
        sim.run_until(10 * S, |s| s.owners("vip").len() == 1),
        "{}",
        sim.dump()
    );
    let holder = sim.owners("vip")[0].clone();
    let killed_at = sim.elapsed();
    sim.kill(&holder);
    // (The dead node still holds its copy until its watchdog resets it.)
    let elsewhere = |s: &Sim| s.owners("vip").into_iter().any(|n| n != holder);
    sim.run(3 * S);
    assert!(
        !elsewhere(&sim),
        "recovered before the watchdog timeout:\n{}",
        sim.dump()
    );
    assert!(sim.run_until(5 * S, elsewhere), "{}", sim.dump());
    let started = sim.elapsed() - killed_at;
    assert!(started >= 4 * S, "{started:?}");
    assert!(sim.fence_requests.is_empty(), "{}", sim.dump());
    assert!(sim
        .events
        .iter()
        .any(|(_, _, e)| matches!(e, Event::SelfFenced { node, .. } if *node == holder)));
    assert!(!sim
        .events
        .iter()
        .any(|(_, _, e)| matches!(e, Event::RecoveryWithoutFencing(_))));
}
