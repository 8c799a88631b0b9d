//! The policy engine on models no front door should produce but a caller
//! could build: dangling indexes, cycles, absurd counts, contradictory
//! constraints and history. It must return a transition, never panic, and
//! stay deterministic.

use ironbeat_crm::model::{
    Clone, Cluster, Colocation, Discovery, Group, History, HistoryBan, Location, Meta, Node,
    NodeId, OnFail, Operation, Order, OrderKind, Orphan, Primitive, Resource, ResourceId,
    ResourceKind, Role, Task,
};
use ironbeat_crm::policy::schedule;
use ironbeat_crm::score::Score;

/// A tiny deterministic generator (xorshift).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % (n.max(1) as u64)) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

fn role(rng: &mut Rng) -> Role {
    [
        Role::Stopped,
        Role::Started,
        Role::Unpromoted,
        Role::Promoted,
    ][rng.below(4)]
}

fn score(rng: &mut Rng) -> Score {
    match rng.below(6) {
        0 => Score::INFINITY,
        1 => Score::MINUS_INFINITY,
        2 => Score::ZERO,
        _ => Score::new(rng.below(2001) as i64 - 1000),
    }
}

/// Any index, sometimes out of range.
fn index(rng: &mut Rng, len: usize) -> usize {
    if rng.chance(10) {
        len + rng.below(5)
    } else {
        rng.below(len.max(1))
    }
}

fn random_cluster(seed: u64) -> Cluster {
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let mut c = Cluster {
        have_quorum: rng.chance(70),
        ..Cluster::default()
    };
    c.options.stonith_enabled = rng.chance(50);
    c.options.symmetric_cluster = rng.chance(80);
    c.options.stop_all_resources = rng.chance(5);
    c.options.maintenance_mode = rng.chance(5);
    let n_nodes = rng.below(6);
    for i in 0..n_nodes {
        c.nodes.push(Node {
            name: format!("n{i}"),
            id: format!("{i}"),
            online: rng.chance(75),
            standby: rng.chance(10),
            unclean: rng.chance(10),
            maintenance: rng.chance(5),
            shutdown: rng.chance(5),
            pending: rng.chance(5),
            score: score(&mut rng),
            ..Node::default()
        });
    }
    let n_rsc = rng.below(12);
    for i in 0..n_rsc {
        let kind = match rng.below(5) {
            0 => ResourceKind::Group(Group {
                members: (0..rng.below(4))
                    .map(|_| ResourceId(index(&mut rng, n_rsc)))
                    .collect(),
                ordered: rng.chance(80),
                collocated: rng.chance(80),
            }),
            1 => ResourceKind::Clone(Clone {
                child: ResourceId(index(&mut rng, n_rsc)),
                promotable: rng.chance(40),
                clone_max: if rng.chance(10) {
                    Some(u32::MAX)
                } else {
                    Some(rng.below(8) as u32)
                },
                clone_node_max: rng.below(4) as u32,
                promoted_max: rng.below(4) as u32,
                promoted_node_max: rng.below(3) as u32,
                clone_min: rng.below(4) as u32,
                interleave: rng.chance(30),
                globally_unique: rng.chance(30),
                ordered: rng.chance(20),
            }),
            _ => ResourceKind::Primitive(Primitive {
                class: if rng.chance(10) {
                    "stonith".into()
                } else {
                    "ocf".into()
                },
                provider: Some("heartbeat".into()),
                agent: "Dummy".into(),
                operations: vec![Operation {
                    name: "monitor".into(),
                    interval_ms: 10_000,
                    role: if rng.chance(30) {
                        Some(role(&mut rng))
                    } else {
                        None
                    },
                    enabled: true,
                    ..Operation::default()
                }],
                ..Primitive::default()
            }),
        };
        c.resources.push(Resource {
            id: format!("r{i}"),
            parent: if rng.chance(30) {
                Some(ResourceId(index(&mut rng, n_rsc)))
            } else {
                None
            },
            kind,
            meta: Meta {
                priority: rng.below(3) as i32,
                stickiness: if rng.chance(50) {
                    Some(score(&mut rng))
                } else {
                    None
                },
                migration_threshold: rng.below(4) as u32,
                failure_timeout_s: if rng.chance(20) { u64::MAX } else { 0 },
                target_role: if rng.chance(20) {
                    Some(role(&mut rng))
                } else {
                    None
                },
                managed: rng.chance(90),
                ..Meta::default()
            },
        });
    }
    for i in 0..rng.below(8) {
        c.locations.push(Location {
            id: format!("l{i}"),
            resource: ResourceId(index(&mut rng, n_rsc)),
            role: if rng.chance(20) {
                Some(role(&mut rng))
            } else {
                None
            },
            scores: vec![(NodeId(index(&mut rng, n_nodes)), score(&mut rng))],
            discovery: [Discovery::Always, Discovery::Never, Discovery::Exclusive][rng.below(3)],
        });
    }
    for i in 0..rng.below(8) {
        c.colocations.push(Colocation {
            id: format!("c{i}"),
            dependent: ResourceId(index(&mut rng, n_rsc)),
            primary: ResourceId(index(&mut rng, n_rsc)),
            score: score(&mut rng),
            dependent_role: if rng.chance(30) {
                Some(role(&mut rng))
            } else {
                None
            },
            primary_role: if rng.chance(30) {
                Some(role(&mut rng))
            } else {
                None
            },
            influence: rng.chance(80),
        });
    }
    let tasks = [Task::Start, Task::Stop, Task::Promote, Task::Demote];
    for i in 0..rng.below(8) {
        c.orders.push(Order {
            id: format!("o{i}"),
            first: ResourceId(index(&mut rng, n_rsc)),
            first_action: tasks[rng.below(4)],
            then: ResourceId(index(&mut rng, n_rsc)),
            then_action: tasks[rng.below(4)],
            kind: [
                OrderKind::Mandatory,
                OrderKind::Optional,
                OrderKind::Serialize,
            ][rng.below(3)],
            symmetrical: rng.chance(70),
            require_all: rng.chance(80),
        });
    }
    for _ in 0..rng.below(10) {
        let failed = rng.chance(30);
        c.history.push(History {
            resource: ResourceId(index(&mut rng, n_rsc)),
            instance: if rng.chance(30) {
                Some(rng.below(10) as u32)
            } else {
                None
            },
            node: NodeId(index(&mut rng, n_nodes)),
            role: role(&mut rng),
            failed,
            on_fail: if failed {
                Some(
                    [
                        OnFail::Ignore,
                        OnFail::Stop,
                        OnFail::Restart,
                        OnFail::Block,
                        OnFail::Fence,
                        OnFail::Standby,
                    ][rng.below(6)],
                )
            } else {
                None
            },
            pending: if rng.chance(10) {
                Some(Task::Start)
            } else {
                None
            },
            fail_count: if rng.chance(20) {
                u32::MAX
            } else {
                rng.below(3) as u32
            },
            last_failure: if rng.chance(50) { Some(i64::MAX) } else { None },
            next_role: if rng.chance(10) {
                Some(role(&mut rng))
            } else {
                None
            },
            failure_ignored: rng.chance(5),
        });
    }
    for _ in 0..rng.below(3) {
        c.history_bans.push(HistoryBan {
            resource: ResourceId(index(&mut rng, n_rsc)),
            node: if rng.chance(50) {
                Some(NodeId(index(&mut rng, n_nodes)))
            } else {
                None
            },
            instance_only: rng.chance(30),
        });
    }
    for i in 0..rng.below(3) {
        c.orphans.push(Orphan {
            id: format!("gone{i}"),
            agent_spec: "ocf:heartbeat:Dummy".into(),
            node: NodeId(index(&mut rng, n_nodes)),
            role: role(&mut rng),
            failed: rng.chance(30),
            managed: rng.chance(80),
            blocked: rng.chance(10),
        });
    }
    if rng.chance(50) {
        c.dc = Some(NodeId(index(&mut rng, n_nodes)));
    }
    c
}

#[test]
fn random_malformed_models_never_panic() {
    for seed in 0..3000u64 {
        let c = random_cluster(seed);
        let now = if seed % 2 == 0 { i64::MAX } else { i64::MIN };
        let t = schedule(&c, now);
        // Every summary node and placement node is a real node.
        for p in &t.placement {
            if let Some(n) = p.node {
                assert!(
                    n.0 < c.nodes.len(),
                    "seed {seed}: placed on a node that does not exist"
                );
            }
        }
        assert_eq!(schedule(&c, now), t, "seed {seed}: not deterministic");
    }
}

#[test]
fn a_group_containing_itself_is_cut_off() {
    let mut c = Cluster {
        have_quorum: true,
        ..Cluster::default()
    };
    c.options.stonith_enabled = false;
    c.nodes.push(Node {
        name: "n1".into(),
        id: "1".into(),
        online: true,
        ..Node::default()
    });
    c.resources.push(Resource {
        id: "loop".into(),
        parent: None,
        kind: ResourceKind::Group(Group {
            members: vec![ResourceId(0)],
            ordered: true,
            collocated: true,
        }),
        meta: Meta::default(),
    });
    let t = schedule(&c, 0);
    assert!(t.summary.is_empty());
}

#[test]
fn an_absurd_clone_max_stays_bounded() {
    let mut c = Cluster {
        have_quorum: true,
        ..Cluster::default()
    };
    c.options.stonith_enabled = false;
    c.nodes.push(Node {
        name: "n1".into(),
        id: "1".into(),
        online: true,
        ..Node::default()
    });
    c.resources.push(Resource {
        id: "many".into(),
        parent: None,
        kind: ResourceKind::Clone(Clone {
            child: ResourceId(1),
            promotable: false,
            clone_max: Some(u32::MAX),
            clone_node_max: 1,
            promoted_max: 1,
            promoted_node_max: 1,
            clone_min: 0,
            interleave: false,
            globally_unique: false,
            ordered: false,
        }),
        meta: Meta::default(),
    });
    c.resources.push(Resource {
        id: "child".into(),
        parent: Some(ResourceId(0)),
        kind: ResourceKind::Primitive(Primitive::default()),
        meta: Meta::default(),
    });
    let t = schedule(&c, 0);
    assert!(t.placement.len() <= 65);
    assert_eq!(t.summary.len(), 1);
}
