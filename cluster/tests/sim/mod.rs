//! A deterministic cluster simulation: N `Node`s on a fake clock, messages
//! and link events routed in memory with cuts, a fake executor that keeps
//! what runs where (it survives a daemon's kill -9, not a fencing), and a
//! fake fencer that powers nodes off. The invariants are checked at every
//! simulated instant.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use ironbeat_cluster::*;
use ironbeat_crm::model::{
    Cluster, Meta, NoQuorumPolicy, Node as CrmNode, Operation, Primitive, Resource, ResourceKind,
};
use ironbeat_crm::score::Score;

/// Simulation step.
pub const TICK: Duration = Duration::from_millis(10);
/// Link deadtime.
pub const DEADTIME: Duration = Duration::from_millis(500);
/// How long an agent operation takes.
pub const OP_TIME: Duration = Duration::from_millis(40);
/// How long fencing takes.
pub const FENCE_TIME: Duration = Duration::from_millis(800);
/// Message latency.
pub const LATENCY: Duration = Duration::from_millis(5);
/// Monitor interval configured.
pub const MONITOR_MS: u64 = 200;
/// heartbeat's initdead: the startup fencing of a peer never seen.
pub const INITDEAD: Duration = Duration::from_secs(2);

/// What a test cluster looks like.
#[derive(Clone)]
pub struct Setup {
    pub names: Vec<String>,
    pub resources: Vec<String>,
    pub two_node: bool,
    pub fencing: bool,
    pub stickiness: i64,
    pub migration_threshold: u32,
    pub preferred: Option<(String, i64)>,
    pub no_quorum_policy: NoQuorumPolicy,
    /// wait-for-all (two-node mode implies it; `ironbeat run` always sets it).
    pub wait_for_all: bool,
    /// The services' `requires` (haresources without fencing: nothing, as
    /// heartbeat had no quorum).
    pub requires: Option<ironbeat_crm::model::Requires>,
    /// Fence devices (`stonith`-class primitives) named `fence_<node>`, one
    /// per node, each preferring to run on another node (as the engine
    /// would place a device away from the node it powers).
    pub devices: bool,
    /// Ping nodes: the pinger's verdict time (`NodeConfig::connectivity_grace`).
    pub connectivity_grace: Option<Duration>,
    /// Watchdog-only fencing (`NodeConfig::watchdog_fencing`).
    pub watchdog_fencing: Option<Duration>,
}

impl Setup {
    pub fn new(names: &[&str], resources: &[&str]) -> Setup {
        Setup {
            names: names.iter().map(|s| s.to_string()).collect(),
            resources: resources.iter().map(|s| s.to_string()).collect(),
            two_node: names.len() == 2,
            fencing: true,
            stickiness: 100,
            migration_threshold: 1_000_000,
            preferred: None,
            no_quorum_policy: NoQuorumPolicy::Stop,
            wait_for_all: names.len() == 2,
            requires: None,
            devices: false,
            connectivity_grace: None,
            watchdog_fencing: None,
        }
    }

    pub fn model(&self) -> Cluster {
        let mut m = Cluster::default();
        m.options.stonith_enabled = false;
        for n in &self.names {
            m.nodes.push(CrmNode {
                name: n.clone(),
                id: n.clone(),
                ..CrmNode::default()
            });
        }
        for r in &self.resources {
            let meta = Meta {
                stickiness: Some(Score::new(self.stickiness)),
                migration_threshold: self.migration_threshold,
                requires: self.requires,
                ..Meta::default()
            };
            m.resources.push(Resource {
                id: r.clone(),
                parent: None,
                kind: ResourceKind::Primitive(Primitive {
                    class: "ocf".into(),
                    provider: Some("heartbeat".into()),
                    agent: "IPaddr2".into(),
                    operations: vec![Operation {
                        name: "monitor".into(),
                        interval_ms: MONITOR_MS,
                        enabled: true,
                        timeout_ms: Some(2000),
                        ..Operation::default()
                    }],
                    parameters: BTreeMap::new(),
                }),
                meta,
            });
        }
        let services = m.resources.len();
        if self.devices {
            for (i, n) in self.names.iter().enumerate() {
                m.resources.push(Resource {
                    id: format!("fence_{n}"),
                    parent: None,
                    kind: ResourceKind::Primitive(Primitive {
                        class: "stonith".into(),
                        provider: None,
                        agent: "fence_ipmilan".into(),
                        operations: Vec::new(),
                        parameters: BTreeMap::new(),
                    }),
                    meta: Meta::default(),
                });
                let elsewhere = ironbeat_crm::model::NodeId((i + 1) % self.names.len());
                m.locations.push(ironbeat_crm::model::Location {
                    id: format!("fence-{n}-elsewhere"),
                    resource: ironbeat_crm::model::ResourceId(m.resources.len() - 1),
                    role: None,
                    scores: vec![(elsewhere, Score::new(1000))],
                    discovery: ironbeat_crm::model::Discovery::Always,
                });
            }
        }
        if let Some((node, score)) = &self.preferred {
            let nid = m.node_by_name(node).expect("preferred node exists");
            for i in 0..services {
                m.locations.push(ironbeat_crm::model::Location {
                    id: format!("prefer-{i}"),
                    resource: ironbeat_crm::model::ResourceId(i),
                    role: None,
                    scores: vec![(nid, Score::new(*score))],
                    discovery: ironbeat_crm::model::Discovery::Always,
                });
            }
        }
        m
    }

    pub fn config(&self, name: &str, incarnation: u64, digest: u64) -> NodeConfig {
        NodeConfig {
            name: name.to_string(),
            nodes: self.names.iter().map(|n| (n.clone(), 1)).collect(),
            two_node: self.two_node,
            wait_for_all: self.wait_for_all,
            no_quorum_policy: self.no_quorum_policy,
            model: self.model(),
            digest,
            fencing: self.fencing,
            deadtime: DEADTIME,
            initdead: INITDEAD,
            clean_start: true,
            priority_fencing_delay: Duration::from_secs(3),
            connectivity_grace: self.connectivity_grace,
            watchdog_fencing: self.watchdog_fencing,
            default_op_timeout: Duration::from_secs(5),
            incarnation,
            unix_time_at_start: 1_800_000_000,
        }
    }
}

enum Work {
    Msg {
        to: String,
        from: String,
        from_incarnation: u64,
        to_incarnation: u64,
        bytes: Vec<u8>,
    },
    OpDone {
        node: String,
        incarnation: u64,
        id: u64,
        rsc: String,
        kind: OpKind,
    },
    FenceDone {
        by: String,
        incarnation: u64,
        target: String,
    },
    /// A reboot's outcome reaching the fencer after the node is back.
    FenceConfirm {
        by: String,
        incarnation: u64,
        target: String,
    },
    /// A killed node's watchdog resets its machine (watchdog fencing).
    WatchdogReset { target: String },
}

struct Monitor {
    id: u64,
    rsc: String,
    incarnation: u64,
    interval: Duration,
    next: Instant,
    last: Option<OpOutcome>,
}

/// The simulated cluster.
pub struct Sim {
    pub setup: Setup,
    pub now: Instant,
    pub t0: Instant,
    pub daemons: BTreeMap<String, Option<Node>>,
    pub incarnation: BTreeMap<String, u64>,
    pub powered: BTreeSet<String>,
    pub cut: BTreeSet<(String, String)>,
    /// What runs where (the fake executor's truth).
    pub running: BTreeMap<String, BTreeSet<String>>,
    /// Per observer, per peer: perceived alive (and generation), last heard.
    perceived: BTreeMap<(String, String), (bool, u64, Instant)>,
    work: Vec<(Instant, u64, Work)>,
    seq: u64,
    monitors: BTreeMap<String, Vec<Monitor>>,
    /// (node, rsc): the resource dies there at the next monitor.
    pub kill_rsc: BTreeSet<(String, String)>,
    /// Every executed op: (time since t0, node, rsc, kind).
    pub log: Vec<(Duration, String, String, OpKind)>,
    /// Fencings done: (time since t0, by, target).
    pub fenced: Vec<(Duration, String, String)>,
    /// Fencings requested: (time since t0, by, target, action).
    pub fence_requests: Vec<(Duration, String, String, FenceAction)>,
    /// Instants (ticks) at which a resource was active on two powered nodes.
    pub double_active_ticks: u32,
    /// Tolerate double activity (partition heal tests count it instead).
    pub allow_double: bool,
    /// Starts of a resource while its previous owner was lost and not fenced.
    pub unfenced_recoveries: u32,
    /// Nodes lost (daemon dead or cut) and not yet fenced or returned.
    pub lost: BTreeSet<String>,
    pub digests: BTreeMap<String, u64>,
    pub events: Vec<(Duration, String, Event)>,
    /// Percentage of messages the link has to retransmit (delivered
    /// [`RETRANSMIT`] later, order kept: the reliable channel loses nothing
    /// while the link is up).
    pub loss_percent: u64,
    /// Extra random delay per message, up to this.
    pub jitter: Duration,
    rng: u64,
    /// The next start is executed but its result never reported (a hung
    /// executor).
    pub hang_next_start: bool,
    /// Fencing reboots: the node powers on and its daemon starts again at
    /// once, and the fencer reports the outcome this long after.
    pub fence_reboots: Option<Duration>,
    /// Watchdog fencing: a killed daemon's machine resets this long after.
    pub watchdog_reset: Option<Duration>,
    /// What the test did, for the dump.
    pub actions: Vec<(Duration, String)>,
    last_delivery: BTreeMap<(String, String), Instant>,
}

/// Delay of a message the link had to retransmit.
pub const RETRANSMIT: Duration = Duration::from_millis(100);

impl Sim {
    pub fn new(setup: Setup) -> Sim {
        let now = Instant::now();
        let watchdog_reset = setup.watchdog_fencing.map(|w| w / 2);
        let mut running = BTreeMap::new();
        for n in &setup.names {
            running.insert(n.clone(), BTreeSet::new());
        }
        Sim {
            powered: setup.names.iter().cloned().collect(),
            daemons: setup.names.iter().map(|n| (n.clone(), None)).collect(),
            incarnation: setup.names.iter().map(|n| (n.clone(), 0)).collect(),
            setup,
            now,
            t0: now,
            cut: BTreeSet::new(),
            running,
            perceived: BTreeMap::new(),
            work: Vec::new(),
            seq: 0,
            monitors: BTreeMap::new(),
            kill_rsc: BTreeSet::new(),
            log: Vec::new(),
            fenced: Vec::new(),
            fence_requests: Vec::new(),
            double_active_ticks: 0,
            allow_double: false,
            unfenced_recoveries: 0,
            lost: BTreeSet::new(),
            digests: BTreeMap::new(),
            events: Vec::new(),
            loss_percent: 0,
            jitter: Duration::ZERO,
            rng: 0x9e37_79b9_7f4a_7c15,
            actions: Vec::new(),
            hang_next_start: false,
            fence_reboots: None,
            watchdog_reset,
            last_delivery: BTreeMap::new(),
        }
    }

    /// Starts (or restarts) a node's daemon.
    pub fn start(&mut self, name: &str) {
        self.start_with(name, true);
    }

    /// Starts a node whose previous run did not end cleanly (it was fenced
    /// or crashed): it fences no unseen peer at start.
    pub fn start_unclean(&mut self, name: &str) {
        self.start_with(name, false);
    }

    fn start_with(&mut self, name: &str, clean_start: bool) {
        self.actions
            .push((self.elapsed(), format!("TEST: start {name}")));
        self.powered.insert(name.to_string());
        let inc = self.incarnation[name] + 1;
        self.incarnation.insert(name.to_string(), inc);
        let digest = self.digests.get(name).copied().unwrap_or(42);
        let mut config = self.setup.config(name, inc, digest);
        config.clean_start = clean_start;
        let node = Node::new(config, self.now);
        self.daemons.insert(name.to_string(), Some(node));
        self.monitors.remove(name);
        self.perceived.retain(|(o, _), _| o != name);
        self.lost.remove(name);
        self.drain(name);
    }

    /// kill -9 of a daemon: its resources keep running.
    pub fn kill(&mut self, name: &str) {
        self.actions
            .push((self.elapsed(), format!("TEST: kill -9 {name}")));
        self.daemons.insert(name.to_string(), None);
        self.monitors.remove(name);
        self.lost.insert(name.to_string());
        if let Some(after) = self.watchdog_reset {
            let at = self.now + after;
            self.push(
                at,
                Work::WatchdogReset {
                    target: name.to_string(),
                },
            );
        }
    }

    /// Starts a clean shutdown of a node's daemon (`Node::leave`).
    pub fn leave(&mut self, name: &str) {
        self.actions
            .push((self.elapsed(), format!("TEST: leave {name}")));
        let now = self.now;
        self.node(name).leave(now);
        self.drain(name);
    }

    /// The daemon exits after a clean shutdown: nothing of it runs any more.
    pub fn exit(&mut self, name: &str) {
        self.actions
            .push((self.elapsed(), format!("TEST: exit {name}")));
        assert!(
            self.running[name].is_empty(),
            "{name} exits while running {:?}",
            self.running[name]
        );
        self.daemons.insert(name.to_string(), None);
        self.monitors.remove(name);
    }

    /// Cuts every link between two nodes (both ways).
    pub fn cut(&mut self, a: &str, b: &str) {
        self.actions
            .push((self.elapsed(), format!("TEST: cut {a} {b}")));
        self.cut.insert((a.to_string(), b.to_string()));
        self.cut.insert((b.to_string(), a.to_string()));
    }

    /// `observer` stops hearing `peer` (one way: `peer` still hears it), as
    /// when one side's event loop stalls or its frames are lost one way.
    pub fn cut_one_way(&mut self, observer: &str, peer: &str) {
        self.actions.push((
            self.elapsed(),
            format!("TEST: {observer} no longer hears {peer}"),
        ));
        self.cut.insert((observer.to_string(), peer.to_string()));
    }

    /// Heals every cut.
    pub fn heal(&mut self) {
        self.actions
            .push((self.elapsed(), "TEST: heal".to_string()));
        self.cut.clear();
    }

    fn connected(&self, a: &str, b: &str) -> bool {
        self.daemons[a].is_some()
            && self.daemons[b].is_some()
            && !self.cut.contains(&(a.to_string(), b.to_string()))
    }

    pub fn node(&mut self, name: &str) -> &mut Node {
        self.daemons
            .get_mut(name)
            .and_then(|d| d.as_mut())
            .expect("daemon runs")
    }

    pub fn owners(&self, rsc: &str) -> Vec<String> {
        self.running
            .iter()
            .filter(|(n, set)| self.powered.contains(*n) && set.contains(rsc))
            .map(|(n, _)| n.clone())
            .collect()
    }

    pub fn elapsed(&self) -> Duration {
        self.now - self.t0
    }

    /// Deterministic pseudo-random numbers (xorshift64).
    pub fn random(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x
    }

    /// Seeds the generator.
    pub fn seed(&mut self, seed: u64) {
        self.rng = seed.wrapping_mul(0x2545_f491_4f6c_dd1d) | 1;
    }

    fn push(&mut self, at: Instant, w: Work) {
        self.seq += 1;
        self.work.push((at, self.seq, w));
    }

    /// Runs for `d` of simulated time.
    pub fn run(&mut self, d: Duration) {
        let end = self.now + d;
        while self.now < end {
            self.now += TICK;
            self.step();
        }
    }

    /// Runs until `cond` holds or `limit` passes; returns whether it held.
    pub fn run_until(&mut self, limit: Duration, mut cond: impl FnMut(&Sim) -> bool) -> bool {
        let end = self.now + limit;
        while self.now < end {
            if cond(self) {
                return true;
            }
            self.now += TICK;
            self.step();
        }
        cond(self)
    }

    fn step(&mut self) {
        let now = self.now;
        let names = self.setup.names.clone();
        // Link liveness.
        for o in &names {
            if self.daemons[o].is_none() {
                continue;
            }
            for p in &names {
                if o == p {
                    continue;
                }
                let key = (o.clone(), p.clone());
                let conn = self.connected(o, p);
                let gen = self.incarnation[p];
                let entry = self.perceived.get(&key).copied();
                if conn {
                    let fire = match entry {
                        Some((true, g, _)) => g != gen,
                        _ => true,
                    };
                    self.perceived.insert(key, (true, gen, self.now));
                    if fire {
                        self.node(o).handle_link_event(
                            now,
                            LinkEvent::Alive {
                                node: p.clone(),
                                generation: gen,
                            },
                        );
                        self.drain(o);
                    }
                } else if let Some((true, g, heard)) = entry {
                    if self.now - heard >= DEADTIME {
                        self.perceived.insert(key, (false, g, heard));
                        self.node(o)
                            .handle_link_event(now, LinkEvent::Dead { node: p.clone() });
                        self.drain(o);
                    }
                }
            }
        }
        // Due work, in order.
        loop {
            let due = self
                .work
                .iter()
                .enumerate()
                .filter(|(_, (t, _, _))| *t <= self.now)
                .min_by_key(|(_, (t, s, _))| (*t, *s))
                .map(|(i, _)| i);
            let Some(i) = due else { break };
            let (_, _, w) = self.work.remove(i);
            self.perform(w);
        }
        // Monitors.
        for n in names.clone() {
            let mut results = Vec::new();
            if let Some(ms) = self.monitors.get_mut(&n) {
                for m in ms.iter_mut() {
                    if m.next <= self.now {
                        m.next = self.now + m.interval;
                        if self.kill_rsc.remove(&(n.clone(), m.rsc.clone())) {
                            self.running.get_mut(&n).expect("node").remove(&m.rsc);
                        }
                        let out = if self.running[&n].contains(&m.rsc) {
                            OpOutcome::Ok
                        } else {
                            OpOutcome::NotRunning
                        };
                        if m.last != Some(out) {
                            m.last = Some(out);
                            results.push((m.id, out));
                        }
                    }
                }
            }
            for (id, out) in results {
                if self.daemons[&n].is_some() {
                    self.node(&n)
                        .handle_op_result(now, OpResult { id, outcome: out });
                    self.drain(&n);
                }
            }
        }
        // Timers.
        for n in &names {
            let due = self.daemons[n]
                .as_ref()
                .and_then(|d| d.poll_timeout())
                .is_some_and(|t| t <= self.now);
            if due {
                self.node(n).handle_timeout(now);
                self.drain(n);
            }
        }
        self.check();
    }

    fn check(&mut self) {
        for r in self.setup.resources.clone() {
            if self.owners(&r).len() > 1 {
                self.double_active_ticks += 1;
                assert!(
                    self.allow_double,
                    "{r} active on {:?} at {:?}\n{}",
                    self.owners(&r),
                    self.elapsed(),
                    self.dump()
                );
            }
        }
    }

    fn perform(&mut self, w: Work) {
        let now = self.now;
        match w {
            Work::Msg {
                to,
                from,
                from_incarnation,
                to_incarnation,
                bytes,
            } => {
                let same = self.incarnation[&from] == from_incarnation
                    && self.incarnation[&to] == to_incarnation
                    && self.daemons[&to].is_some()
                    && self.daemons[&from].is_some();
                if !same {
                    return;
                }
                if self.connected(&to, &from) {
                    self.node(&to).handle_message(now, &from, &bytes);
                    self.drain(&to);
                } else if self
                    .perceived
                    .get(&(to.clone(), from.clone()))
                    .is_some_and(|(alive, _, _)| *alive)
                {
                    // The reliable channel retransmits until the link is
                    // declared dead; after that the peers resynchronise.
                    let at = now + RETRANSMIT;
                    self.push(
                        at,
                        Work::Msg {
                            to,
                            from,
                            from_incarnation,
                            to_incarnation,
                            bytes,
                        },
                    );
                }
            }
            Work::OpDone {
                node,
                incarnation,
                id,
                rsc,
                kind,
            } => {
                if !self.powered.contains(&node) {
                    return;
                }
                let set = self.running.get_mut(&node).expect("node");
                let outcome = match kind {
                    OpKind::Start | OpKind::Promote | OpKind::Demote => {
                        set.insert(rsc.clone());
                        OpOutcome::Ok
                    }
                    OpKind::Stop => {
                        set.remove(&rsc);
                        OpOutcome::Ok
                    }
                    OpKind::Probe | OpKind::Monitor => {
                        if set.contains(&rsc) {
                            OpOutcome::Ok
                        } else {
                            OpOutcome::NotRunning
                        }
                    }
                };
                if kind == OpKind::Start {
                    self.log
                        .push((self.elapsed(), node.clone(), rsc.clone(), kind));
                }
                if self.incarnation[&node] != incarnation || self.daemons[&node].is_none() {
                    return;
                }
                if kind == OpKind::Start && self.hang_next_start {
                    self.hang_next_start = false;
                    self.actions.push((
                        self.elapsed(),
                        format!("TEST: {node} {rsc} start result lost"),
                    ));
                    return;
                }
                if kind == OpKind::Monitor {
                    if let Some(m) = self
                        .monitors
                        .get_mut(&node)
                        .and_then(|ms| ms.iter_mut().find(|m| m.id == id))
                    {
                        m.last = Some(outcome);
                    }
                }
                self.node(&node)
                    .handle_op_result(now, OpResult { id, outcome });
                self.drain(&node);
            }
            Work::FenceDone {
                by,
                incarnation,
                target,
            } => {
                self.fenced
                    .push((self.elapsed(), by.clone(), target.clone()));
                self.powered.remove(&target);
                self.daemons.insert(target.clone(), None);
                self.running.get_mut(&target).expect("node").clear();
                self.monitors.remove(&target);
                self.lost.remove(&target);
                if let Some(lag) = self.fence_reboots {
                    // A reboot: the node is back (new incarnation) before
                    // the fencer reports.
                    self.start(&target);
                    let at = now + lag;
                    self.push(
                        at,
                        Work::FenceConfirm {
                            by,
                            incarnation,
                            target,
                        },
                    );
                    return;
                }
                if self.daemons[&by].is_some() && self.incarnation[&by] == incarnation {
                    self.node(&by)
                        .handle_fence_result(now, &target, FenceOutcome::Confirmed);
                    self.drain(&by);
                }
            }
            Work::WatchdogReset { target } => {
                if self.daemons.get(&target).is_some_and(Option::is_none) {
                    self.actions
                        .push((self.elapsed(), format!("watchdog reset {target}")));
                    self.powered.remove(&target);
                    self.running.get_mut(&target).expect("node").clear();
                    self.lost.remove(&target);
                }
            }
            Work::FenceConfirm {
                by,
                incarnation,
                target,
            } => {
                if self.daemons[&by].is_some() && self.incarnation[&by] == incarnation {
                    self.node(&by)
                        .handle_fence_result(now, &target, FenceOutcome::Confirmed);
                    self.drain(&by);
                }
            }
        }
    }

    /// Drains a node's outputs, in the documented order.
    pub fn drain(&mut self, name: &str) {
        let names = self.setup.names.clone();
        let inc = self.incarnation[name];
        loop {
            let Some(node) = self.daemons.get_mut(name).and_then(|d| d.as_mut()) else {
                return;
            };
            let mut msgs = Vec::new();
            while let Some(m) = node.poll_message() {
                msgs.push(m);
            }
            let mut fences = Vec::new();
            while let Some(f) = node.poll_fence() {
                fences.push(f);
            }
            let mut ops = Vec::new();
            while let Some(o) = node.poll_op() {
                ops.push(o);
            }
            let mut evs = Vec::new();
            while let Some(e) = node.poll_event() {
                evs.push(e);
            }
            if msgs.is_empty() && fences.is_empty() && ops.is_empty() && evs.is_empty() {
                return;
            }
            for e in evs {
                self.events.push((self.elapsed(), name.to_string(), e));
            }
            for (dest, bytes) in msgs {
                let targets: Vec<String> = match dest {
                    Some(d) => vec![d],
                    None => names.iter().filter(|n| *n != name).cloned().collect(),
                };
                for t in targets {
                    let buffered = self
                        .perceived
                        .get(&(name.to_string(), t.clone()))
                        .is_some_and(|(alive, _, _)| *alive)
                        && self.daemons[&t].is_some();
                    if self.connected(name, &t) || buffered {
                        let mut at = self.now + LATENCY;
                        if !self.jitter.is_zero() {
                            let j = self.random() % (self.jitter.as_micros() as u64 + 1);
                            at += Duration::from_micros(j);
                        }
                        if self.loss_percent > 0 && self.random() % 100 < self.loss_percent {
                            at += RETRANSMIT;
                        }
                        let key = (name.to_string(), t.clone());
                        if let Some(last) = self.last_delivery.get(&key) {
                            at = at.max(*last);
                        }
                        self.last_delivery.insert(key, at);
                        self.push(
                            at,
                            Work::Msg {
                                to_incarnation: self.incarnation[&t],
                                to: t,
                                from: name.to_string(),
                                from_incarnation: inc,
                                bytes: bytes.clone(),
                            },
                        );
                    }
                }
            }
            for f in fences {
                self.fence_requests.push((
                    self.elapsed(),
                    name.to_string(),
                    f.node.clone(),
                    f.action,
                ));
                let at = self.now + FENCE_TIME;
                self.push(
                    at,
                    Work::FenceDone {
                        by: name.to_string(),
                        incarnation: inc,
                        target: f.node,
                    },
                );
            }
            for o in ops {
                if o.kind == OpKind::Start
                    && self.lost.iter().any(|l| {
                        l != name
                            && self.running[l].contains(&o.resource)
                            && self.powered.contains(l)
                    })
                {
                    self.unfenced_recoveries += 1;
                }
                if matches!(o.kind, OpKind::Stop | OpKind::Probe) {
                    if let Some(ms) = self.monitors.get_mut(name) {
                        ms.retain(|m| m.rsc != o.resource);
                    }
                }
                if o.kind == OpKind::Monitor {
                    self.monitors
                        .entry(name.to_string())
                        .or_default()
                        .push(Monitor {
                            id: o.id,
                            rsc: o.resource.clone(),
                            incarnation: inc,
                            interval: o.interval,
                            next: self.now + o.interval,
                            last: None,
                        });
                }
                if o.kind == OpKind::Stop {
                    self.log.push((
                        self.elapsed(),
                        name.to_string(),
                        o.resource.clone(),
                        OpKind::Stop,
                    ));
                }
                let at = self.now + OP_TIME;
                self.push(
                    at,
                    Work::OpDone {
                        node: name.to_string(),
                        incarnation: inc,
                        id: o.id,
                        rsc: o.resource,
                        kind: o.kind,
                    },
                );
            }
        }
    }

    /// An operator request on a node, outputs drained.
    pub fn admin(&mut self, name: &str, req: ironbeat_cluster::AdminRequest) -> AdminReply {
        let now = self.now;
        self.actions
            .push((self.elapsed(), format!("TEST: {name} {req:?}")));
        let reply = self.node(name).handle_admin(now, req);
        self.drain(name);
        reply
    }

    /// Ops of a kind on a node for a resource, in the log.
    pub fn count(&self, node: &str, rsc: &str, kind: OpKind) -> usize {
        self.log
            .iter()
            .filter(|(_, n, r, k)| n == node && r == rsc && *k == kind)
            .count()
    }

    pub fn dump(&self) -> String {
        let mut lines: Vec<(Duration, String)> = Vec::new();
        for (t, n, e) in &self.events {
            lines.push((*t, format!("{t:?} {n}: {e:?}")));
        }
        for (t, n, r, k) in &self.log {
            lines.push((*t, format!("{t:?} {n} {r} {k:?} (executed)")));
        }
        for (t, by, target) in &self.fenced {
            lines.push((*t, format!("{t:?} {by} FENCED {target} (executed)")));
        }
        for (t, a) in &self.actions {
            lines.push((*t, format!("{t:?} {a}")));
        }
        lines.sort_by_key(|(t, _)| *t);
        let keep = lines.len().saturating_sub(150);
        lines[keep..]
            .iter()
            .map(|(_, l)| l.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    }
}
