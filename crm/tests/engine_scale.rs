//! Scale of the policy engine on generated clusters shaped like the
//! benchmark's (`lab/pacemaker/gen-cib.py`): 30 % of the resources in
//! groups of 2–5, 2 % anonymous clones, 1 % promotable clones, location,
//! colocation and order constraints over the top-level resources,
//! stickiness 100. Prints the time per run; asserts only that every
//! resource is placed and that the run is deterministic (timing is the
//! benchmark's business, not a test's).

use std::time::Instant;

use ironbeat_crm::model::{
    Clone, Cluster, Colocation, Discovery, Group, Location, Meta, Node, NodeId, Order, OrderKind,
    Primitive, Resource, ResourceId, ResourceKind, Task,
};
use ironbeat_crm::policy::{schedule, schedule_with, Options};
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

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn primitive(c: &mut Cluster, id: String, parent: Option<ResourceId>) -> ResourceId {
    c.resources.push(Resource {
        id,
        parent,
        kind: ResourceKind::Primitive(Primitive {
            class: "ocf".into(),
            provider: Some("heartbeat".into()),
            agent: "Dummy".into(),
            ..Primitive::default()
        }),
        meta: Meta {
            stickiness: Some(Score::new(100)),
            migration_threshold: 3,
            ..Meta::default()
        },
    });
    ResourceId(c.resources.len() - 1)
}

fn generate(n: usize, m: usize, seed: u64) -> Cluster {
    let mut rng = Rng(seed | 1);
    let mut c = Cluster {
        have_quorum: true,
        ..Cluster::default()
    };
    c.options.stonith_enabled = false;
    for i in 0..m {
        c.nodes.push(Node {
            name: format!("node{}", i + 1),
            id: format!("{}", i + 1),
            online: true,
            ..Node::default()
        });
    }
    let mut top = Vec::new();
    let mut made = 0;
    let mut k = 0;
    while made < n {
        k += 1;
        let roll = rng.below(100);
        if roll < 30 && n - made >= 2 {
            let size = (2 + rng.below(4) as usize).min(n - made);
            c.resources.push(Resource {
                id: format!("grp{k}"),
                parent: None,
                kind: ResourceKind::Group(Group {
                    members: vec![],
                    ordered: true,
                    collocated: true,
                }),
                meta: Meta::default(),
            });
            let g = ResourceId(c.resources.len() - 1);
            let mut members = vec![];
            for j in 0..size {
                members.push(primitive(&mut c, format!("grp{k}-m{j}"), Some(g)));
            }
            if let ResourceKind::Group(grp) = &mut c.resources[g.0].kind {
                grp.members = members;
            }
            top.push(g);
            made += size;
        } else if roll < 33 {
            let promotable = roll >= 32;
            c.resources.push(Resource {
                id: format!("clone{k}"),
                parent: None,
                kind: ResourceKind::Clone(Clone {
                    child: ResourceId(0),
                    promotable,
                    clone_max: Some(m as u32),
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
            let cl = ResourceId(c.resources.len() - 1);
            let child = primitive(&mut c, format!("clone{k}-child"), Some(cl));
            if let ResourceKind::Clone(x) = &mut c.resources[cl.0].kind {
                x.child = child;
            }
            if promotable {
                let node = NodeId(rng.below(m as u64) as usize);
                c.locations.push(Location {
                    id: format!("prom{k}"),
                    resource: cl,
                    role: Some(ironbeat_crm::model::Role::Promoted),
                    scores: vec![(node, Score::new(100))],
                    discovery: Discovery::Always,
                });
            }
            top.push(cl);
            made += 1;
        } else {
            top.push(primitive(&mut c, format!("rsc{k}"), None));
            made += 1;
        }
    }
    let t = top.len();
    for i in 0..t / 5 {
        let r = top[rng.below(t as u64) as usize];
        let node = NodeId(rng.below(m as u64) as usize);
        let score = if rng.below(20) == 0 {
            1_000_000
        } else {
            rng.below(1001) as i64 - 500
        };
        c.locations.push(Location {
            id: format!("loc{i}"),
            resource: r,
            role: None,
            scores: vec![(node, Score::new(score))],
            discovery: Discovery::Always,
        });
    }
    for i in 0..t / 10 {
        // Acyclic: dependent after primary in the top list.
        let a = rng.below(t as u64 - 1) as usize;
        let b = a + 1 + rng.below((t - a - 1) as u64) as usize;
        let roll = rng.below(100);
        let score = if roll < 70 {
            1_000_000
        } else if roll < 85 {
            -1_000_000
        } else {
            rng.below(1000) as i64 - 500
        };
        c.colocations.push(Colocation {
            id: format!("col{i}"),
            dependent: top[b],
            primary: top[a],
            score: Score::new(score),
            dependent_role: None,
            primary_role: None,
            influence: true,
        });
    }
    for i in 0..t / 10 {
        let a = rng.below(t as u64 - 1) as usize;
        let b = a + 1 + rng.below((t - a - 1) as u64) as usize;
        c.orders.push(Order {
            id: format!("ord{i}"),
            first: top[a],
            first_action: Task::Start,
            then: top[b],
            then_action: Task::Start,
            kind: if rng.below(5) == 0 {
                OrderKind::Optional
            } else {
                OrderKind::Mandatory
            },
            symmetrical: true,
            require_all: true,
        });
    }
    c
}

fn run(n: usize, m: usize) {
    let c = generate(n, m, 0x5eed + n as u64 * 31 + m as u64);
    // The machine is shared: report the best of a few runs.
    let mut took = std::time::Duration::MAX;
    let mut full = None;
    for _ in 0..5 {
        let start = Instant::now();
        let f = schedule(&c, 2_000_000_000);
        took = took.min(start.elapsed());
        full = Some(f);
    }
    let Some(t) = full else {
        unreachable!("five runs");
    };
    let mut took_fast = std::time::Duration::MAX;
    let mut fast = None;
    for _ in 0..5 {
        let start = Instant::now();
        let f = schedule_with(&c, 2_000_000_000, Options { scores: false });
        took_fast = took_fast.min(start.elapsed());
        fast = Some(f);
    }
    let Some(fast) = fast else {
        unreachable!("five runs");
    };
    assert_eq!(fast.summary, t.summary);
    assert_eq!(fast.placement, t.placement);
    let primitives = c
        .resources
        .iter()
        .filter(|r| matches!(r.kind, ResourceKind::Primitive(_)))
        .count();
    eprintln!(
        "{n} resources x {m} nodes: {took:?} with score lines, {took_fast:?} without ({} summary lines, {} actions, {} placed)",
        t.summary.len(),
        t.actions.len(),
        t.placement.len()
    );
    assert!(t.placement.len() >= primitives);
    assert_eq!(schedule(&c, 2_000_000_000), t);
}

#[test]
fn scale_100_on_3() {
    run(100, 3);
}

#[test]
fn scale_1000_on_16() {
    run(1000, 16);
}

#[test]
fn scale_10000_on_32() {
    run(10_000, 32);
}
