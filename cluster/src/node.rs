//! The state machine of one daemon: membership, quorum, DC election,
//! replicated state, fencing and transition execution.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use ironbeat_crm::model::{
    Cluster, Discovery, History, Location, NoQuorumPolicy, NodeId, ResourceId, ResourceKind, Role,
    Task,
};
use ironbeat_crm::policy::{schedule_with, Options};
use ironbeat_crm::score::Score;
use ironbeat_crm::transition::{Action, Transition};

use crate::api::*;
use crate::wire::{AdminCommand, AdminState, Entry, Message, STATUS_CHUNK};

/// Fail count a failed start sets (`start-failure-is-fatal`): INFINITY.
const FATAL_FAIL_COUNT: u32 = 1_000_000;
/// Fencing history kept.
const FENCE_HISTORY: usize = 32;

/// `t + d`, with durations from the configuration capped at a year so that
/// no value can overflow the clock.
fn later(t: Instant, d: Duration) -> Instant {
    const YEAR: Duration = Duration::from_secs(365 * 24 * 3600);
    t.checked_add(d.min(YEAR)).unwrap_or(t)
}

/// One cluster daemon's core.
///
/// # Driver loop
///
/// After every input (`handle_link_event`, `handle_message`,
/// `handle_op_result`, `handle_fence_result`, `handle_admin`, and
/// `handle_timeout` when the instant of [`Node::poll_timeout`] has come),
/// drain in this order: [`Node::poll_message`] until None (send each on the
/// link's reliable channel: `None` destination = every node),
/// [`Node::poll_fence`] (give each to the fence client),
/// [`Node::poll_op`] (give each to the local executor), [`Node::poll_event`]
/// (log), then re-arm the timer with [`Node::poll_timeout`].
///
/// # Safety rules
///
/// - Per-node status is owned by its node: a node's reports of what runs on
///   it are the truth, merged by incarnation.
/// - The DC schedules nothing while a member's probes are outstanding.
/// - While a lost (or never seen) node awaits fencing, or a restarted one
///   its probes, every resource that does not run in this partition is left
///   alone (unmanaged): that node may run it. Without fencing configured a
///   lost node's resources are recovered as soon as it is dead, which is
///   unsafe (the node may only be cut off).
/// - Only a quorate partition fences, after half a deadtime of settling
///   (plus the priority fencing delay in two-node mode, on the side that
///   runs no services).
/// - A new DC schedules nothing until every member follows it and runs no
///   operation of a former DC.
/// - Stops precede starts elsewhere: the policy engine's graph is executed
///   in dependency order and an action waits for its predecessors' results.
pub struct Node {
    cfg: NodeConfig,
    start: Instant,
    /// Primitive indexes, in configuration order.
    primitives: Vec<usize>,
    /// Primitives of class `stonith` (fence devices): not services, for
    /// the priority fencing delay.
    devices: BTreeSet<u16>,
    peers: BTreeMap<String, Peer>,
    dc: Option<String>,
    epoch: u64,
    /// The highest epoch any DC announced.
    max_epoch: u64,
    members: Vec<String>,
    all_seen: bool,
    /// Peers confirmed off by startup fencing before every node was seen:
    /// they count as seen for wait-for-all.
    fenced_at_start: BTreeSet<String>,
    /// `initdead` has passed since the start.
    initdead_over: bool,
    /// The `WaitingForAll` event was given.
    said_waiting: bool,
    /// Per peer to be fenced: the newest incarnation the fencing ends. A
    /// report of a later one (the node rebooted by the fencing and back
    /// before its outcome arrived) is kept.
    lost_incarnation: BTreeMap<String, u64>,
    /// Per resource: the cleanup generation last applied to our own report.
    cleaned: BTreeMap<u16, u64>,
    last_quorum: Option<bool>,
    reports: BTreeMap<String, Report>,
    admin: AdminState,
    needs_fence: BTreeMap<String, FenceState>,
    /// Two-node fence races with ping nodes: when each began, and whether
    /// this node already yielded it for lost connectivity.
    races: BTreeMap<String, Race>,
    fence_history: Vec<FenceRecord>,
    /// Ops the local executor runs: local id → origin.
    local_ops: BTreeMap<u64, LocalOp>,
    next_local: u64,
    /// DC: ops sent and not yet answered.
    inflight: BTreeMap<u64, Inflight>,
    /// DC: (node, resource) whose op result never came.
    uncertain: BTreeSet<(String, u16)>,
    next_op: u64,
    running: Option<Running>,
    dirty: bool,
    /// The startup wait (one deadtime) is over.
    settled: bool,
    /// This node is shutting down cleanly ([`Node::leave`]).
    leaving: bool,
    /// Peers that answered our `Leaving`.
    leave_seen: BTreeSet<String>,
    probes_left: usize,
    out_msgs: VecDeque<(Option<String>, Vec<u8>)>,
    out_ops: VecDeque<OpRequest>,
    out_fence: VecDeque<FenceRequest>,
    events: VecDeque<Event>,
}

#[derive(Debug, Default)]
struct Peer {
    alive: bool,
    /// Hello received with our digest since it became alive.
    joined: bool,
    incarnation: Option<u64>,
    mismatch: Option<u64>,
    /// The DC it follows (itself when it claims the role).
    follows: Option<String>,
    /// Fencing was confirmed while the link still heard it: its coming
    /// death is that fencing, not a new loss.
    fenced_off: bool,
    /// It said it is shutting down cleanly (`Leaving`).
    leaving: bool,
    /// It joined at least once since this node started.
    seen: bool,
}

#[derive(Debug, Clone, Default)]
struct Report {
    incarnation: u64,
    probed: bool,
    /// Fenced: nothing of this incarnation runs.
    void: bool,
    /// Runs operations a former DC sent.
    settling: bool,
    entries: BTreeMap<u16, Entry>,
    /// Ping targets it reaches (`Message::Connectivity`), once judged.
    connectivity: crate::connectivity::Reported,
}

/// A two-node fence race that connectivity weighs ([`NodeConfig::connectivity_grace`]).
#[derive(Debug, Clone, Copy)]
struct Race {
    /// When the peer was found lost (the race's start).
    since: Instant,
    /// This node's delay without the connectivity penalty.
    base: Duration,
    yielded: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FenceState {
    Waiting,
    Scheduled(Instant),
    Requested,
}

#[derive(Debug)]
struct LocalOp {
    origin: String,
    origin_id: u64,
    resource: u16,
    kind: OpKind,
    answered: bool,
    /// The executor must have answered by then (timeout plus a deadtime).
    deadline: Instant,
}

#[derive(Debug)]
struct Inflight {
    node: String,
    resource: u16,
    kind: OpKind,
    action: usize,
    deadline: Instant,
}

#[derive(Debug)]
struct Running {
    transition: Transition,
    preds: Vec<Vec<usize>>,
    done: Vec<bool>,
    sent: Vec<bool>,
    aborted: bool,
}

impl Node {
    /// A node starting now; it probes every resource locally at once.
    pub fn new(config: NodeConfig, now: Instant) -> Self {
        let primitives: Vec<usize> = config
            .model
            .resources
            .iter()
            .enumerate()
            .filter(|(_, r)| matches!(r.kind, ResourceKind::Primitive(_)))
            .map(|(i, _)| i)
            .take(u16::MAX as usize)
            .collect();
        let devices = primitives
            .iter()
            .filter(|&&i| {
                matches!(&config.model.resources[i].kind,
                    ResourceKind::Primitive(p) if p.class == "stonith")
            })
            .map(|&i| i as u16)
            .collect();
        let peers = config
            .nodes
            .iter()
            .filter(|(n, _)| *n != config.name)
            .map(|(n, _)| (n.clone(), Peer::default()))
            .collect();
        let mut reports = BTreeMap::new();
        reports.insert(
            config.name.clone(),
            Report {
                incarnation: config.incarnation,
                ..Report::default()
            },
        );
        let all_seen = !(config.two_node || config.wait_for_all);
        let mut node = Node {
            start: now,
            primitives,
            devices,
            peers,
            dc: None,
            epoch: 0,
            max_epoch: 0,
            members: vec![config.name.clone()],
            all_seen,
            fenced_at_start: BTreeSet::new(),
            initdead_over: false,
            said_waiting: false,
            lost_incarnation: BTreeMap::new(),
            cleaned: BTreeMap::new(),
            last_quorum: None,
            reports,
            admin: AdminState::default(),
            needs_fence: BTreeMap::new(),
            races: BTreeMap::new(),
            fence_history: Vec::new(),
            local_ops: BTreeMap::new(),
            next_local: 1,
            inflight: BTreeMap::new(),
            uncertain: BTreeSet::new(),
            next_op: 1,
            running: None,
            dirty: true,
            settled: false,
            leaving: false,
            leave_seen: BTreeSet::new(),
            probes_left: 0,
            out_msgs: VecDeque::new(),
            out_ops: VecDeque::new(),
            out_fence: VecDeque::new(),
            events: VecDeque::new(),
            cfg: config,
        };
        if node.cfg.fencing && node.cfg.model.options.startup_fencing {
            // Startup fencing: a node never seen may run anything; it is
            // fenced (once this partition has quorum) unless it shows up.
            let peers: Vec<String> = node.peers.keys().cloned().collect();
            for p in peers {
                node.needs_fence.insert(p, FenceState::Waiting);
            }
        }
        let me = node.cfg.name.clone();
        for p in node.primitives.clone() {
            node.probes_left += 1;
            node.local_op(now, &me, 0, p as u16, OpKind::Probe, 0);
        }
        if node.probes_left == 0 {
            node.own_report_mut().probed = true;
        }
        node.drive(now);
        node
    }

    /// Feeds a liveness change from the link layer.
    pub fn handle_link_event(&mut self, now: Instant, ev: LinkEvent) {
        match ev {
            LinkEvent::Alive { node, generation } => {
                let Some(peer) = self.peers.get_mut(&node) else {
                    return;
                };
                let restarted = peer.incarnation.is_some_and(|i| i != generation);
                let previous = peer.incarnation;
                let was_alive = peer.alive;
                if restarted || !was_alive {
                    peer.fenced_off = false;
                    peer.leaving = false;
                }
                peer.alive = true;
                peer.incarnation = Some(generation);
                if restarted {
                    let was_member = peer.joined;
                    peer.joined = false;
                    peer.follows = None;
                    if was_member || self.reports.get(&node).is_some_and(|r| r.runs_anything()) {
                        // Restarted (kill -9 and respawn within a deadtime):
                        // what its old incarnation ran may still run. Frozen
                        // until its new incarnation's probes report.
                        self.events.push_back(Event::NodeLeft(node.clone()));
                        self.needs_fence
                            .entry(node.clone())
                            .or_insert(FenceState::Waiting);
                        if let Some(old) = previous {
                            self.note_lost(&node, old);
                        }
                        self.dirty = true;
                    }
                    if let Some(r) = self.reports.get_mut(&node) {
                        if r.incarnation < generation {
                            *r = Report {
                                incarnation: generation,
                                ..Report::default()
                            };
                        }
                    }
                }
                if !was_alive || restarted {
                    // A node back is not shot (unless fencing was already
                    // requested); it stays "to be fenced", which freezes what
                    // might run there, until its probed status arrives.
                    if let Some(s @ FenceState::Scheduled(_)) = self.needs_fence.get_mut(&node) {
                        *s = FenceState::Waiting;
                    }
                    self.send_hello(Some(node.clone()));
                    self.send_full_status(Some(node.clone()));
                    if self.is_dc() {
                        self.send(Some(node.clone()), &Message::Admin(self.admin.clone()));
                    }
                    if self.leaving {
                        self.send(Some(node.clone()), &Message::Leaving);
                    }
                }
            }
            LinkEvent::MessagesLost { node } => {
                if self.peers.get(&node).is_some_and(|p| p.alive) {
                    // Ask the sender for its state again.
                    self.send(Some(node), &Message::Resync);
                }
            }
            LinkEvent::Dead { node } => {
                let Some(peer) = self.peers.get_mut(&node) else {
                    return;
                };
                let was_member = peer.joined && !peer.fenced_off;
                let incarnation = peer.incarnation;
                // It said it was leaving and its own last report shows
                // nothing running: a clean shutdown, nothing to fence.
                let left_cleanly =
                    peer.leaving && !self.reports.get(&node).is_some_and(|r| r.runs_anything());
                peer.fenced_off = false;
                peer.alive = false;
                peer.joined = false;
                peer.follows = None;
                peer.leaving = false;
                if was_member && left_cleanly {
                    self.events.push_back(Event::NodeLeft(node.clone()));
                    self.needs_fence.remove(&node);
                } else if was_member {
                    self.events.push_back(Event::NodeLeft(node.clone()));
                    if self.cfg.fencing || self.cfg.watchdog_fencing.is_some() {
                        self.needs_fence.insert(node.clone(), FenceState::Waiting);
                        if let Some(i) = incarnation {
                            self.note_lost(&node, i);
                        }
                    } else {
                        self.needs_fence.remove(&node);
                        self.events
                            .push_back(Event::RecoveryWithoutFencing(node.clone()));
                    }
                }
                self.uncertain.retain(|(n, _)| *n != node);
                // Ops sent there are lost.
                let lost: Vec<u64> = self
                    .inflight
                    .iter()
                    .filter(|(_, f)| f.node == node)
                    .map(|(id, _)| *id)
                    .collect();
                for id in lost {
                    self.inflight.remove(&id);
                    if let Some(r) = self.running.as_mut() {
                        r.aborted = true;
                    }
                }
                self.dirty = true;
            }
        }
        self.drive(now);
    }

    /// Feeds a message from the reliable channel.
    pub fn handle_message(&mut self, now: Instant, from: &str, bytes: &[u8]) {
        if !self.peers.contains_key(from) {
            self.bad(from, "the sender is not a configured node".into());
            return;
        }
        let msg = match Message::decode(bytes) {
            Ok(m) => m,
            Err(e) => {
                self.bad(from, e.0);
                return;
            }
        };
        if let Some(p) = self.peers.get(from) {
            if p.mismatch.is_some() && !matches!(msg, Message::Hello { .. }) {
                return;
            }
        }
        match msg {
            Message::Hello {
                digest,
                incarnation,
                dc,
                settling,
            } => self.on_hello(from, digest, incarnation, dc, settling),
            Message::Members { epoch, members } => {
                if let Some(p) = self.peers.get_mut(from) {
                    p.follows = Some(from.to_string());
                }
                // Epochs of two partitions are unrelated: take the DC's list
                // as it comes, and number ours above anything seen.
                let from_our_dc = self.dc.as_deref() == Some(from) || self.dc.is_none();
                if from_our_dc && !self.is_dc() && (epoch, &members) != (self.epoch, &self.members)
                {
                    self.epoch = epoch;
                    self.members = members.clone();
                    self.events.push_back(Event::Membership { epoch, members });
                }
                self.max_epoch = self.max_epoch.max(epoch);
            }
            Message::Status {
                incarnation,
                probed,
                first,
                settling,
                entries,
            } => self.on_status(from, incarnation, probed, first, settling, entries),
            Message::Admin(a) => {
                if a.generation > self.admin.generation && self.valid_admin(&a) {
                    self.admin = a;
                    self.dirty = true;
                    self.apply_cleanups();
                }
            }
            Message::Fenced(rec) if self.cfg.model.node_by_name(&rec.node).is_none() => {
                self.bad(from, format!("fencing of unknown node {:?}", rec.node));
            }
            Message::Fenced(rec) if rec.node == self.cfg.name => self.push_history(rec),
            Message::Fenced(rec) if rec.outcome == FenceOutcome::Confirmed => self.on_fenced(rec),
            Message::Fenced(rec) => self.push_history(rec),
            Message::Op {
                id,
                resource,
                kind,
                interval_ms,
                timeout_ms: _,
            } => {
                if self.dc.as_deref() != Some(from) {
                    self.bad(
                        from,
                        format!("an operation from {from}, which is not our DC"),
                    );
                } else if !self.primitives.contains(&(resource as usize)) {
                    self.bad(
                        from,
                        format!("an operation on unknown resource #{resource}"),
                    );
                } else {
                    self.local_op(now, from, id, resource, kind, interval_ms);
                }
            }
            Message::OpDone { id, outcome } => self.on_op_done(from, id, outcome),
            Message::Leaving => {
                if let Some(p) = self.peers.get_mut(from) {
                    if !p.leaving {
                        p.leaving = true;
                        self.events.push_back(Event::Leaving(from.to_string()));
                        self.dirty = true;
                    }
                }
                self.send(Some(from.to_string()), &Message::LeavingSeen);
            }
            Message::LeavingSeen => {
                if self.leaving {
                    self.leave_seen.insert(from.to_string());
                }
            }
            Message::Resync => {
                if self.leaving {
                    self.send(Some(from.to_string()), &Message::Leaving);
                }
                self.send_hello(Some(from.to_string()));
                self.send_full_status(Some(from.to_string()));
                if self.is_dc() {
                    self.send(
                        Some(from.to_string()),
                        &Message::Members {
                            epoch: self.epoch,
                            members: self.members.clone(),
                        },
                    );
                    self.send(Some(from.to_string()), &Message::Admin(self.admin.clone()));
                }
            }
            Message::Admin2(cmd) => {
                if self.is_dc() {
                    self.apply_admin(cmd);
                }
            }
            Message::Connectivity { incarnation, value } => {
                self.on_connectivity(now, from, incarnation, value);
            }
        }
        self.drive(now);
    }

    /// Feeds the result of an operation from [`Node::poll_op`].
    pub fn handle_op_result(&mut self, now: Instant, result: OpResult) {
        let Some(op) = self.local_ops.get_mut(&result.id) else {
            return;
        };
        let first = !op.answered;
        op.answered = true;
        let (resource, kind, origin, origin_id) =
            (op.resource, op.kind, op.origin.clone(), op.origin_id);
        if kind != OpKind::Monitor {
            self.local_ops.remove(&result.id);
        }
        if kind == OpKind::Stop || kind == OpKind::Probe {
            // A stop cancels the recurring monitor (the executor does the same).
            let ids: Vec<u64> = self
                .local_ops
                .iter()
                .filter(|(_, o)| o.resource == resource && o.kind == OpKind::Monitor)
                .map(|(i, _)| *i)
                .collect();
            for i in ids {
                self.local_ops.remove(&i);
            }
        }
        let was_settling = self.settling();
        let mut changed = self.apply_local_result(now, resource, kind, result.outcome);
        if was_settling && !self.settling() {
            changed = true;
        }
        if kind == OpKind::Probe && origin_id == 0 {
            self.probes_left = self.probes_left.saturating_sub(1);
            if self.probes_left == 0 {
                self.own_report_mut().probed = true;
                self.send_full_status(None);
                self.dirty = true;
            }
        } else if changed {
            if let Some(e) = self.own_report().entries.get(&resource).copied() {
                self.send_status_entries(None, false, vec![e]);
            } else {
                let e = Entry {
                    resource,
                    active: false,
                    failed: false,
                    fail_count: 0,
                    last_failure: None,
                };
                self.send_status_entries(None, false, vec![e]);
            }
        }
        if first && origin_id != 0 {
            if origin == self.cfg.name {
                self.on_op_done(&origin.clone(), origin_id, result.outcome);
            } else {
                self.send(
                    Some(origin),
                    &Message::OpDone {
                        id: origin_id,
                        outcome: result.outcome,
                    },
                );
            }
        } else if changed && !first {
            // A recurring monitor changed its mind: the DC must recompute.
            self.dirty = true;
        }
        self.drive(now);
    }

    /// Feeds the outcome of a [`FenceRequest`].
    pub fn handle_fence_result(&mut self, now: Instant, node: &str, outcome: FenceOutcome) {
        self.events.push_back(Event::Fenced {
            node: node.to_string(),
            outcome,
        });
        let rec = FenceRecord {
            node: node.to_string(),
            by: self.cfg.name.clone(),
            at: self.now_secs(now),
            outcome,
        };
        match outcome {
            FenceOutcome::Confirmed => {
                self.send(None, &Message::Fenced(rec.clone()));
                self.on_fenced(rec);
            }
            FenceOutcome::Failed => {
                self.send(None, &Message::Fenced(rec.clone()));
                self.push_history(rec);
                if self.needs_fence.contains_key(node) {
                    self.needs_fence.insert(
                        node.to_string(),
                        FenceState::Scheduled(later(now, self.cfg.deadtime)),
                    );
                }
            }
        }
        self.drive(now);
    }

    /// Serves an operator's request.
    pub fn handle_admin(&mut self, now: Instant, request: AdminRequest) -> AdminReply {
        let me = self.cfg.name.clone();
        let cmd = match request {
            AdminRequest::Status => return AdminReply::Status(self.status()),
            AdminRequest::Standby => AdminCommand::Standby(me, true),
            AdminRequest::Online => AdminCommand::Standby(me, false),
            AdminRequest::Takeover => AdminCommand::Takeover(me),
            AdminRequest::ResourceStart(r) => match self.resource_index(&r) {
                Ok(i) => AdminCommand::Stop(i, false),
                Err(e) => return AdminReply::Refused(e),
            },
            AdminRequest::ResourceStop(r) => match self.resource_index(&r) {
                Ok(i) => AdminCommand::Stop(i, true),
                Err(e) => return AdminReply::Refused(e),
            },
            AdminRequest::ResourceCleanup(r) => match self.resource_index(&r) {
                Ok(i) => AdminCommand::Cleanup(i),
                Err(e) => return AdminReply::Refused(e),
            },
            AdminRequest::FenceConfirm(node) => return self.confirm_fenced(now, &node),
            AdminRequest::ResourceMove { resource, node } => {
                if self.cfg.model.node_by_name(&node).is_none() {
                    return AdminReply::Refused(format!(
                        "no node named {node:?}; the nodes are {}",
                        self.node_names().join(", ")
                    ));
                }
                match self.resource_index(&resource) {
                    Ok(i) => AdminCommand::Move(i, node),
                    Err(e) => return AdminReply::Refused(e),
                }
            }
        };
        let reply = if self.is_dc() {
            self.apply_admin(cmd);
            AdminReply::Accepted("applied by this node, the DC".into())
        } else if let Some(dc) = self.dc.clone() {
            self.send(Some(dc.clone()), &Message::Admin2(cmd));
            AdminReply::Accepted(format!("forwarded to the DC, {dc}"))
        } else {
            AdminReply::Refused(
                "no DC is elected yet (the cluster is starting or this node is alone \
                 before its deadtime); retry in a few seconds"
                    .into(),
            )
        };
        self.drive(now);
        reply
    }

    /// An operator's `ironbeat fence confirm NODE`: refused for this node,
    /// an unknown one, or one still heard on the links (confirming a live
    /// node would let its resources run twice); else the node counts as
    /// fenced everywhere, as a device's confirmed fencing would.
    fn confirm_fenced(&mut self, now: Instant, node: &str) -> AdminReply {
        let Some((name, _)) = self
            .cfg
            .nodes
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(node))
        else {
            return AdminReply::Refused(format!(
                "no node named {node:?}; the nodes are {}",
                self.node_names().join(", ")
            ));
        };
        let name = name.clone();
        if name == self.cfg.name {
            return AdminReply::Refused(format!(
                "{name} is this node: run `ironbeat fence confirm {name}` on another node, \
                 once this one is powered off"
            ));
        }
        if self.peers.get(&name).is_some_and(|p| p.alive) {
            return AdminReply::Refused(format!(
                "{name} is alive on the cluster links: it is not down, and confirming it \
                 fenced would let its resources run twice; power it off first (its links \
                 then go silent within a deadtime), or let it leave with `systemctl stop \
                 ironbeat` there"
            ));
        }
        self.events
            .push_back(Event::FenceConfirmedByOperator(name.clone()));
        let rec = FenceRecord {
            node: name.clone(),
            by: format!("{} (operator)", self.cfg.name),
            at: self.now_secs(now),
            outcome: FenceOutcome::Confirmed,
        };
        self.send(None, &Message::Fenced(rec.clone()));
        self.on_fenced(rec);
        self.drive(now);
        AdminReply::Accepted(format!(
            "{name} counts as fenced on every node that hears this one; its resources may \
                 start elsewhere"
        ))
    }

    /// Starts a clean shutdown: this node tells every peer it is leaving and
    /// counts as in standby, so the DC (this node or another) stops its
    /// resources here and starts them elsewhere, stop before start. Once
    /// [`Node::can_leave`] says so the daemon may exit; its peers then see
    /// its death as a clean departure (no fencing, no unsafe recovery),
    /// since its own last report shows nothing running.
    pub fn leave(&mut self, now: Instant) {
        if !self.leaving {
            self.leaving = true;
            self.events.push_back(Event::Leaving(self.cfg.name.clone()));
            self.send(None, &Message::Leaving);
            self.dirty = true;
        }
        self.drive(now);
    }

    /// After [`Node::leave`]: every member knows, nothing runs here any
    /// more, no operation is under way here, and (when this node is the DC)
    /// no operation it sent awaits its result, so the resources' new homes
    /// have confirmed their starts.
    pub fn can_leave(&self) -> bool {
        self.leaving
            && self
                .partition()
                .iter()
                .all(|n| *n == self.cfg.name || self.leave_seen.contains(n))
            && !self.own_report().runs_anything()
            && self
                .local_ops
                .values()
                .all(|o| o.kind == OpKind::Monitor || o.answered)
            && (!self.is_dc() || self.inflight.is_empty())
    }

    /// Call when the instant of [`Node::poll_timeout`] has come.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.settle_connectivity(now);
        // An executor that never answers: the operation timed out.
        let hung: Vec<u64> = self
            .local_ops
            .iter()
            .filter(|(_, o)| !o.answered && o.deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in hung {
            self.handle_op_result(
                now,
                OpResult {
                    id,
                    outcome: OpOutcome::TimedOut,
                },
            );
        }
        let expired: Vec<u64> = self
            .inflight
            .iter()
            .filter(|(_, f)| f.deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            if let Some(f) = self.inflight.remove(&id) {
                if f.kind != OpKind::Monitor && f.kind != OpKind::Probe {
                    // Its outcome is unknown: until the node reports the
                    // resource, count it active and failed there.
                    self.uncertain.insert((f.node.clone(), f.resource));
                }
                self.events.push_back(Event::OpFailed {
                    node: f.node,
                    resource: self.resource_name(f.resource),
                    kind: f.kind,
                    outcome: OpOutcome::TimedOut,
                });
                if let Some(r) = self.running.as_mut() {
                    r.aborted = true;
                }
                self.dirty = true;
            }
        }
        self.drive(now);
    }

    /// The next message to send: (destination, None = every node; bytes).
    pub fn poll_message(&mut self) -> Option<(Option<String>, Vec<u8>)> {
        self.out_msgs.pop_front()
    }

    /// The next operation for the local executor.
    pub fn poll_op(&mut self) -> Option<OpRequest> {
        self.out_ops.pop_front()
    }

    /// The next node to fence (its delay has already passed).
    pub fn poll_fence(&mut self) -> Option<FenceRequest> {
        self.out_fence.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When to call [`Node::handle_timeout`].
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut next: Option<Instant> = None;
        let mut consider = |t: Instant| {
            next = Some(next.map_or(t, |n: Instant| n.min(t)));
        };
        if !self.settled {
            consider(later(self.start, self.cfg.deadtime));
        }
        if !self.initdead_over && !self.all_seen {
            consider(later(self.start, self.cfg.initdead));
        }
        for f in self.inflight.values() {
            consider(f.deadline);
        }
        for o in self.local_ops.values().filter(|o| !o.answered) {
            consider(o.deadline);
        }
        for s in self.needs_fence.values() {
            if let FenceState::Scheduled(t) = s {
                consider(*t);
            }
        }
        if let Some(t) = self.connectivity_deadline() {
            consider(t);
        }
        next
    }

    /// The cluster as this node sees it.
    pub fn status(&self) -> Status {
        let partition = self.partition();
        let nodes = self
            .cfg
            .nodes
            .iter()
            .map(|(n, _)| NodeStatus {
                name: n.clone(),
                member: partition.contains(n),
                probed: self.reports.get(n).is_some_and(|r| r.probed),
                standby: self.admin.standby.contains(n),
                config_mismatch: self.peers.get(n).is_some_and(|p| p.mismatch.is_some()),
                connectivity: self.reports.get(n).and_then(|r| r.connectivity.latest()),
            })
            .collect();
        let resources = self
            .primitives
            .iter()
            .map(|&p| {
                let idx = p as u16;
                let mut s = ResourceStatus {
                    name: self.cfg.model.resources[p].id.clone(),
                    running_on: vec![],
                    failed_on: vec![],
                    fail_counts: vec![],
                };
                for (node, r) in &self.reports {
                    if r.void || (node != &self.cfg.name && !partition.contains(node)) {
                        continue;
                    }
                    if let Some(e) = r.entries.get(&idx) {
                        if e.active {
                            s.running_on.push(node.clone());
                        }
                        if e.failed {
                            s.failed_on.push(node.clone());
                        }
                        if e.fail_count > 0 {
                            s.fail_counts.push((node.clone(), e.fail_count));
                        }
                    }
                }
                s
            })
            .collect();
        Status {
            node: self.cfg.name.clone(),
            dc: self.dc.clone(),
            epoch: self.epoch,
            quorum: self.have_quorum(),
            nodes,
            resources,
            fencing: self.fence_history.clone(),
            waiting: self.waiting(),
        }
    }

    /// Why nothing starts yet (wait-for-all), for the status.
    fn waiting(&self) -> Option<String> {
        if self.all_seen {
            return None;
        }
        let missing = self.missing();
        if self.cfg.fencing && self.cfg.model.options.startup_fencing {
            Some(format!(
                "waiting for all nodes before starting resources (wait_for_all): {} not seen \
                 yet; a peer never seen within initdead ({:?}) of this node's start is fenced \
                 (power off), then resources start",
                missing.join(", "),
                self.cfg.initdead
            ))
        } else {
            Some(waiting_text(&missing))
        }
    }

    // ---- membership and election ----

    fn is_dc(&self) -> bool {
        self.dc.as_deref() == Some(self.cfg.name.as_str())
    }

    /// This node and the peers alive, with our configuration, that said hello.
    fn partition(&self) -> BTreeSet<String> {
        let mut set: BTreeSet<String> = self
            .peers
            .iter()
            .filter(|(_, p)| p.alive && p.joined)
            .map(|(n, _)| n.clone())
            .collect();
        set.insert(self.cfg.name.clone());
        set
    }

    fn on_hello(
        &mut self,
        from: &str,
        digest: u64,
        incarnation: u64,
        dc: Option<String>,
        settling: bool,
    ) {
        let ours = self.cfg.digest;
        // A member claiming the DC role while we hold it: it declared us
        // dead on its own (a stalled loop, frames lost one way) and elected
        // itself, and we never saw it leave, so we sent it nothing. Answer
        // with our Hello and status: it rejoins us and yields (lower name).
        let rival = self.is_dc() && dc.as_deref() == Some(from);
        let Some(peer) = self.peers.get_mut(from) else {
            return;
        };
        if digest != ours {
            if peer.mismatch != Some(digest) {
                peer.mismatch = Some(digest);
                peer.joined = false;
                self.events.push_back(Event::ConfigMismatch {
                    node: from.to_string(),
                    ours,
                    theirs: digest,
                });
                self.dirty = true;
            }
            return;
        }
        peer.mismatch = None;
        if peer.incarnation.is_some_and(|i| i > incarnation) {
            return;
        }
        peer.incarnation = Some(incarnation);
        peer.follows = dc;
        if let Some(r) = self.reports.get_mut(from) {
            if r.incarnation == incarnation && r.settling != settling {
                r.settling = settling;
                self.dirty = true;
            }
        }
        if !peer.joined {
            peer.joined = true;
            peer.seen = true;
            peer.alive = true;
            self.events.push_back(Event::NodeJoined(from.to_string()));
            self.dirty = true;
            // Our own Hello and status, sent when the link reported it
            // alive, may not have reached it (a peer whose link came up a
            // moment later drops them): answer its first Hello with ours.
            // It is a member for it then, and it does not answer again.
            self.send_hello(Some(from.to_string()));
            self.send_full_status(Some(from.to_string()));
        } else if rival {
            self.send_hello(Some(from.to_string()));
            self.send_full_status(Some(from.to_string()));
            self.send(Some(from.to_string()), &Message::Admin(self.admin.clone()));
        }
    }

    fn elect(&mut self) {
        let partition = self.partition();
        let me = self.cfg.name.clone();
        let mut claimants: BTreeSet<String> = self
            .peers
            .iter()
            .filter(|(n, p)| partition.contains(*n) && p.follows.as_deref() == Some(n.as_str()))
            .map(|(n, _)| n.clone())
            .collect();
        if self.is_dc() {
            claimants.insert(me.clone());
        }
        let new_dc = if let Some(first) = claimants.iter().next() {
            // The incumbent keeps the role; two DCs meeting (partition heal)
            // leave it to the lower name.
            Some(first.clone())
        } else if self.dc.as_ref().is_some_and(|d| partition.contains(d)) {
            self.dc.clone()
        } else if self.peers.iter().any(|(n, p)| {
            partition.contains(n)
                && p.follows
                    .as_ref()
                    .is_some_and(|d| d != &me && !partition.contains(d))
        }) {
            // A member still follows a DC we cannot hear: either it has not
            // noticed that DC's death yet (it will tell us), or the cut is
            // not transitive and that DC's side decides (and fences us).
            None
        } else if self.dc.is_some() || partition.len() == self.cfg.nodes.len() || self.settled {
            // No DC in the partition: the lowest name takes over at once.
            partition.iter().next().cloned()
        } else {
            None
        };
        if new_dc != self.dc {
            self.dc = new_dc.clone();
            if let Some(d) = new_dc {
                self.events.push_back(Event::DcElected(d.clone()));
                if d == me {
                    self.epoch = self.epoch.max(self.max_epoch) + 1;
                    self.members.clear();
                    // Recompute from the state this node holds (the previous
                    // DC pushed it while alive).
                    self.inflight.clear();
                    self.running = None;
                }
            }
            self.dirty = true;
            self.send_hello(None);
            self.send_full_status(None);
        }
        if self.is_dc() {
            let list: Vec<String> = partition.into_iter().collect();
            if list != self.members {
                self.epoch = self.epoch.max(self.max_epoch) + 1;
                self.members = list.clone();
                self.events.push_back(Event::Membership {
                    epoch: self.epoch,
                    members: list.clone(),
                });
                self.send(
                    None,
                    &Message::Members {
                        epoch: self.epoch,
                        members: list,
                    },
                );
                self.send(None, &Message::Admin(self.admin.clone()));
                self.dirty = true;
            }
        }
    }

    /// `node` runs a service by its report: an active primitive that is not
    /// a fence device (the engine places those too, on either side).
    fn runs_services(&self, node: &str) -> bool {
        self.reports.get(node).is_some_and(|r| {
            !r.void
                && r.entries
                    .values()
                    .any(|e| e.active && !self.devices.contains(&e.resource))
        })
    }

    fn have_quorum(&self) -> bool {
        if !self.all_seen {
            return false;
        }
        if self.cfg.two_node {
            return true;
        }
        let partition = self.partition();
        let total: u64 = self.cfg.nodes.iter().map(|(_, v)| u64::from(*v)).sum();
        let ours: u64 = self
            .cfg
            .nodes
            .iter()
            .filter(|(n, _)| partition.contains(n))
            .map(|(_, v)| u64::from(*v))
            .sum();
        ours * 2 > total
    }

    // ---- replicated state ----

    fn own_report(&self) -> &Report {
        // Inserted in `new` and never removed.
        &self.reports[&self.cfg.name]
    }

    fn own_report_mut(&mut self) -> &mut Report {
        let me = self.cfg.name.clone();
        self.reports.entry(me).or_default()
    }

    fn on_status(
        &mut self,
        from: &str,
        incarnation: u64,
        probed: bool,
        first: bool,
        settling: bool,
        entries: Vec<Entry>,
    ) {
        if let Some(bad) = entries
            .iter()
            .find(|e| !self.primitives.contains(&(e.resource as usize)))
        {
            self.bad(
                from,
                format!("status of unknown resource #{}", bad.resource),
            );
            return;
        }
        let report = self.reports.entry(from.to_string()).or_default();
        if incarnation < report.incarnation || (incarnation == report.incarnation && report.void) {
            return;
        }
        if incarnation > report.incarnation {
            *report = Report {
                incarnation,
                ..Report::default()
            };
        }
        let before = report.entries.clone();
        let was_probed = report.probed;
        if first {
            report.entries.clear();
        }
        for e in &entries {
            self.uncertain.remove(&(from.to_string(), e.resource));
        }
        let report = self.reports.entry(from.to_string()).or_default();
        for e in entries {
            if e.active || e.failed || e.fail_count > 0 {
                report.entries.insert(e.resource, e);
            } else {
                report.entries.remove(&e.resource);
            }
        }
        report.probed = probed;
        if report.settling != settling {
            report.settling = settling;
            self.dirty = true;
        }
        let joined = self.peers.get(from).is_some_and(|p| p.alive && p.joined);
        if probed
            && joined
            && self
                .needs_fence
                .get(from)
                .is_some_and(|s| *s != FenceState::Requested)
        {
            // Its own probed report tells what runs there: no fencing needed.
            self.needs_fence.remove(from);
            self.dirty = true;
        }
        // A change an op in flight explains is judged by its result.
        let changed: Vec<u16> = before
            .keys()
            .chain(report.entries.keys())
            .filter(|k| before.get(k) != report.entries.get(k))
            .copied()
            .collect();
        let explained = changed.iter().all(|rsc| {
            self.inflight
                .values()
                .any(|f| f.node == from && f.resource == *rsc)
        });
        if !explained || was_probed != probed {
            self.dirty = true;
        }
    }

    fn on_fenced(&mut self, rec: FenceRecord) {
        self.needs_fence.remove(&rec.node);
        let recorded = self.lost_incarnation.remove(&rec.node);
        let report_incarnation = self.reports.get(&rec.node).map(|r| r.incarnation);
        if let Some(p) = self.peers.get_mut(&rec.node) {
            // The incarnations the fencing ends: a node never seen since our
            // start may have run any (startup fencing powers it off); else
            // the one lost, as recorded when it was (or, for a fencing we
            // learn of without having seen the loss, its current report's).
            let lost = if !p.seen {
                u64::MAX
            } else {
                recorded.or(report_incarnation).unwrap_or(u64::MAX)
            };
            if !p.seen && !self.all_seen {
                // Confirmed off: it counts as seen for wait-for-all.
                self.fenced_at_start.insert(rec.node.clone());
            }
            if p.alive && p.incarnation.map_or(true, |i| i <= lost) {
                p.fenced_off = true;
            }
            if let Some(r) = self.reports.get_mut(&rec.node) {
                // A later incarnation (rebooted by this fencing and back
                // before its outcome came) reported afresh: keep that.
                if r.incarnation <= lost {
                    r.void = true;
                    r.entries.clear();
                    r.probed = false;
                }
            }
        }
        self.push_history(rec);
        self.dirty = true;
    }

    /// `node`'s incarnation `incarnation` is lost: a fencing ends it.
    fn note_lost(&mut self, node: &str, incarnation: u64) {
        let lost = self.lost_incarnation.entry(node.to_string()).or_insert(0);
        *lost = (*lost).max(incarnation);
    }

    fn push_history(&mut self, rec: FenceRecord) {
        if self.fence_history.contains(&rec) {
            return;
        }
        self.fence_history.push(rec);
        if self.fence_history.len() > FENCE_HISTORY {
            self.fence_history.remove(0);
        }
    }

    fn valid_admin(&self, a: &AdminState) -> bool {
        let n = self.cfg.model.resources.len();
        a.moves.iter().all(|(r, _)| (*r as usize) < n)
            && a.stopped.iter().all(|r| (*r as usize) < n)
            && a.cleanups.iter().all(|(r, _)| (*r as usize) < n)
    }

    fn apply_admin(&mut self, cmd: AdminCommand) {
        let n = self.cfg.model.resources.len();
        let known = |node: &str| self.cfg.model.node_by_name(node).is_some();
        let valid = match &cmd {
            AdminCommand::Standby(node, _)
            | AdminCommand::Takeover(node)
            | AdminCommand::Move(_, node) => known(node),
            _ => true,
        };
        if !valid {
            return;
        }
        let a = &mut self.admin;
        match cmd {
            AdminCommand::Standby(node, on) => {
                a.standby.retain(|s| *s != node);
                if on {
                    a.moves.retain(|(_, m)| *m != node);
                    a.standby.push(node);
                }
            }
            AdminCommand::Takeover(node) => {
                a.standby.retain(|s| *s != node);
                for (i, r) in self.cfg.model.resources.iter().enumerate() {
                    if r.parent.is_none() {
                        a.moves.retain(|(m, _)| *m as usize != i);
                        a.moves.push((i as u16, node.clone()));
                    }
                }
            }
            AdminCommand::Stop(r, on) if (r as usize) < n => {
                a.stopped.retain(|s| *s != r);
                if on {
                    a.stopped.push(r);
                }
            }
            AdminCommand::Move(r, node) if (r as usize) < n => {
                a.moves.retain(|(m, _)| *m != r);
                a.moves.push((r, node));
            }
            AdminCommand::Cleanup(r) if (r as usize) < n => {
                // Numbered by the generation this change gets: every node
                // applies it once to its own report (exact, no clocks).
                a.cleanups.retain(|(m, _)| *m != r);
                a.cleanups.push((r, a.generation + 1));
            }
            _ => return,
        }
        a.generation += 1;
        let state = a.clone();
        self.send(None, &Message::Admin(state));
        self.dirty = true;
        self.apply_cleanups();
    }

    /// Applies the cleanups of the administrative state not yet applied to
    /// this node's own report: the fail count and last failure of the
    /// resource go (and its failed mark, unless it still runs failed and
    /// awaits its recovery, which clears it). Every node then sees the
    /// owner's report without them.
    fn apply_cleanups(&mut self) {
        let mut changed = Vec::new();
        for (r, generation) in self.admin.cleanups.clone() {
            let applied = self.cleaned.entry(r).or_insert(0);
            if generation <= *applied {
                continue;
            }
            *applied = generation;
            let report = self.own_report_mut();
            let Some(e) = report.entries.get_mut(&r) else {
                continue;
            };
            let before = *e;
            e.fail_count = 0;
            e.last_failure = None;
            if !e.active {
                e.failed = false;
            }
            let after = *e;
            if !after.active && !after.failed {
                report.entries.remove(&r);
            }
            if after != before {
                changed.push(after);
            }
        }
        if !changed.is_empty() {
            for chunk in changed.chunks(STATUS_CHUNK) {
                self.send_status_entries(None, false, chunk.to_vec());
            }
            self.dirty = true;
        }
    }

    // ---- local operations ----

    fn local_op(
        &mut self,
        now: Instant,
        origin: &str,
        origin_id: u64,
        resource: u16,
        kind: OpKind,
        interval_ms: u32,
    ) {
        let id = self.next_local;
        self.next_local += 1;
        let timeout = self.op_timeout(resource, kind);
        self.local_ops.insert(
            id,
            LocalOp {
                origin: origin.to_string(),
                origin_id,
                resource,
                kind,
                answered: false,
                deadline: later(now, timeout.saturating_add(self.cfg.deadtime)),
            },
        );
        self.out_ops.push_back(OpRequest {
            id,
            resource: self.resource_name(resource),
            kind,
            interval: Duration::from_millis(u64::from(interval_ms)),
            timeout: self.op_timeout(resource, kind),
        });
    }

    /// Updates this node's own report; true when it changed.
    fn apply_local_result(
        &mut self,
        now: Instant,
        resource: u16,
        kind: OpKind,
        outcome: OpOutcome,
    ) -> bool {
        let t = self.now_secs(now);
        let fatal = self.cfg.model.options.start_failure_is_fatal;
        let report = self.own_report_mut();
        let mut e = report.entries.get(&resource).copied().unwrap_or(Entry {
            resource,
            active: false,
            failed: false,
            fail_count: 0,
            last_failure: None,
        });
        let before = e;
        let ok = outcome == OpOutcome::Ok;
        let fail = |e: &mut Entry, count: u32| {
            e.active = true;
            e.failed = true;
            e.fail_count = e.fail_count.saturating_add(count).min(FATAL_FAIL_COUNT);
            e.last_failure = Some(t);
        };
        match (kind, outcome) {
            (OpKind::Probe, OpOutcome::Ok) => e.active = true,
            (OpKind::Probe, OpOutcome::NotRunning) => {
                e.active = false;
                e.failed = false;
            }
            (OpKind::Monitor, OpOutcome::Ok) => e.active = true,
            (OpKind::Start, _) if !ok => fail(&mut e, if fatal { FATAL_FAIL_COUNT } else { 1 }),
            (OpKind::Stop, OpOutcome::Ok) => {
                e.active = false;
                e.failed = false;
            }
            (_, _) if ok => {
                e.active = true;
                e.failed = false;
            }
            (_, _) => fail(&mut e, 1),
        }
        if e.active || e.failed || e.fail_count > 0 {
            report.entries.insert(resource, e);
        } else {
            report.entries.remove(&resource);
        }
        e != before
    }

    fn op_timeout(&self, resource: u16, kind: OpKind) -> Duration {
        let name = match kind {
            OpKind::Probe | OpKind::Monitor => "monitor",
            OpKind::Start => "start",
            OpKind::Stop => "stop",
            OpKind::Promote => "promote",
            OpKind::Demote => "demote",
        };
        if let Some(ResourceKind::Primitive(p)) = self
            .cfg
            .model
            .resources
            .get(resource as usize)
            .map(|r| &r.kind)
        {
            if let Some(ms) = p
                .operations
                .iter()
                .filter(|o| o.name == name)
                .find_map(|o| o.timeout_ms)
            {
                return Duration::from_millis(ms);
            }
        }
        self.cfg.default_op_timeout
    }

    // ---- the DC: transitions ----

    fn on_op_done(&mut self, from: &str, id: u64, outcome: OpOutcome) {
        let Some(f) = self.inflight.get(&id) else {
            return;
        };
        if f.node != from {
            self.bad(
                from,
                format!("a result for operation {id}, sent to {}", f.node),
            );
            return;
        }
        let Some(f) = self.inflight.remove(&id) else {
            return;
        };
        if outcome == OpOutcome::Ok {
            self.uncertain.remove(&(f.node.clone(), f.resource));
            if let Some(r) = self.running.as_mut() {
                if let Some(d) = r.done.get_mut(f.action) {
                    *d = true;
                }
            }
        } else {
            self.events.push_back(Event::OpFailed {
                node: f.node.clone(),
                resource: self.resource_name(f.resource),
                kind: f.kind,
                outcome,
            });
            if let Some(r) = self.running.as_mut() {
                r.aborted = true;
            }
            self.dirty = true;
        }
    }

    /// Runs after every input: election, quorum, fencing, transitions.
    fn drive(&mut self, now: Instant) {
        if !self.settled && now >= later(self.start, self.cfg.deadtime) {
            self.settled = true;
        }
        if !self.initdead_over && now >= later(self.start, self.cfg.initdead) {
            self.initdead_over = true;
        }
        if !self.all_seen && self.missing().is_empty() {
            self.all_seen = true;
        }
        let fences_at_start = self.cfg.fencing && self.cfg.model.options.startup_fencing;
        if !self.all_seen && self.initdead_over && !self.said_waiting && !fences_at_start {
            // Nothing will fence the missing nodes: say once what to do.
            self.said_waiting = true;
            self.events.push_back(Event::WaitingForAll(self.missing()));
        }
        self.elect();
        let q = self.have_quorum();
        if self.last_quorum != Some(q) {
            self.last_quorum = Some(q);
            self.events.push_back(Event::Quorum(q));
            self.dirty = true;
        }
        if !self.is_dc() {
            self.running = None;
            self.inflight.clear();
            return;
        }
        self.drive_fencing(now);
        for _ in 0..4 {
            if let Some(r) = self.running.as_mut() {
                if self.dirty {
                    r.aborted = true;
                }
                if r.aborted && self.inflight.is_empty() {
                    self.running = None;
                }
            }
            if self.running.is_none() && self.dirty {
                if !self.ready_to_schedule() {
                    return;
                }
                self.dirty = false;
                self.compute(now);
            }
            if !self.dispatch(now) {
                break;
            }
        }
    }

    /// Every member has probed, follows this DC, and runs no operation of
    /// a former DC (Pacemaker's join: the new DC learns everything first).
    fn ready_to_schedule(&self) -> bool {
        if self.settling() {
            return false;
        }
        self.partition().iter().all(|n| {
            let follows = n == &self.cfg.name
                || self
                    .peers
                    .get(n)
                    .is_some_and(|p| p.follows.as_deref() == Some(self.cfg.name.as_str()));
            follows
                && self
                    .reports
                    .get(n)
                    .is_some_and(|r| r.probed && (n == &self.cfg.name || !r.settling))
        })
    }

    fn drive_fencing(&mut self, now: Instant) {
        if self.settled && !self.all_seen {
            // Before every node was seen (wait-for-all) nothing is fenced,
            // whatever no-quorum-policy says, but by startup fencing.
            self.drive_startup_fencing(now);
            return;
        }
        if !self.settled
            || !self.have_quorum() && self.cfg.no_quorum_policy != NoQuorumPolicy::Ignore
        {
            // A partition without quorum never shoots (the majority will
            // fence it); what it had scheduled waits for quorum again.
            for s in self.needs_fence.values_mut() {
                if matches!(s, FenceState::Scheduled(_)) {
                    *s = FenceState::Waiting;
                }
            }
            return;
        }
        if let (false, Some(wait)) = (self.cfg.fencing, self.cfg.watchdog_fencing) {
            self.drive_watchdog_fencing(now, wait);
            return;
        }
        if !self.cfg.fencing {
            // Entries are only freeze markers for restarted nodes then.
            return;
        }
        let mine_runs = self.runs_services(&self.cfg.name);
        let names: Vec<String> = self.needs_fence.keys().cloned().collect();
        for node in names {
            let state = self.needs_fence[&node];
            if self.peers.get(&node).is_some_and(|p| p.alive) {
                // Back on the links: it rejoins and reports instead.
                self.races.remove(&node);
                if matches!(state, FenceState::Scheduled(_)) {
                    self.needs_fence.insert(node, FenceState::Waiting);
                }
                continue;
            }
            match state {
                FenceState::Waiting => {
                    let theirs = self.runs_services(&node);
                    // The side that runs services shoots at once; the other
                    // waits the priority fencing delay (half of it when
                    // neither side runs anything and its name is the lower,
                    // so that two idle nodes do not shoot each other either).
                    // With more than two nodes only a majority fences: no race.
                    let priority = if mine_runs || !self.cfg.two_node {
                        Duration::ZERO
                    } else if !theirs && self.cfg.name < node {
                        self.cfg.priority_fencing_delay / 2
                    } else {
                        self.cfg.priority_fencing_delay
                    };
                    // The settle time lets the other deaths of the same cut
                    // arrive: a node that is losing its majority learns it
                    // before it shoots (quorum is checked again then). Two
                    // nodes have no majority to lose: no settling there.
                    let settle = if self.cfg.two_node {
                        Duration::ZERO
                    } else {
                        self.cfg.deadtime / 2
                    };
                    let mut delay = priority.saturating_add(settle);
                    if let (true, Some(grace)) = (self.cfg.two_node, self.cfg.connectivity_grace) {
                        // Connectivity ranks first: the holder waits for its
                        // pinger's verdict before it shoots (checked again
                        // when the time comes, as every racer's is).
                        if mine_runs {
                            delay = grace.min(self.cfg.priority_fencing_delay / 2);
                        }
                        let race = Race {
                            since: now,
                            base: delay,
                            yielded: false,
                        };
                        self.races.insert(node.clone(), race);
                    }
                    self.events.push_back(Event::FenceScheduled {
                        node: node.clone(),
                        delay_ms: delay.as_millis() as u64,
                    });
                    self.needs_fence
                        .insert(node.clone(), FenceState::Scheduled(later(now, delay)));
                }
                FenceState::Scheduled(t) if t <= now => {
                    if let Some(at) = self.yield_race(now, &node) {
                        self.needs_fence.insert(node, FenceState::Scheduled(at));
                        continue;
                    }
                    self.races.remove(&node);
                    self.request_fencing(node);
                }
                _ => {}
            }
        }
    }

    /// Watchdog-only fencing, in a partition with quorum: a lost node has
    /// lost quorum too, so its watchdog resets it within its timeout; once
    /// `wait` has passed since its loss it counts as fenced, as if a device
    /// had seen it off. Coming back before that cancels it.
    fn drive_watchdog_fencing(&mut self, now: Instant, wait: Duration) {
        let names: Vec<String> = self.needs_fence.keys().cloned().collect();
        for node in names {
            if self.peers.get(&node).is_some_and(|p| p.alive) {
                if matches!(self.needs_fence[&node], FenceState::Scheduled(_)) {
                    self.needs_fence.insert(node, FenceState::Waiting);
                }
                continue;
            }
            match self.needs_fence[&node] {
                FenceState::Waiting => {
                    self.events.push_back(Event::FenceScheduled {
                        node: node.clone(),
                        delay_ms: wait.as_millis() as u64,
                    });
                    self.needs_fence
                        .insert(node, FenceState::Scheduled(later(now, wait)));
                }
                FenceState::Scheduled(t) if t <= now => {
                    self.events.push_back(Event::SelfFenced {
                        node: node.clone(),
                        after_ms: wait.as_millis() as u64,
                    });
                    let rec = FenceRecord {
                        node: node.clone(),
                        by: format!("{} (watchdog)", self.cfg.name),
                        at: self.now_secs(now),
                        outcome: FenceOutcome::Confirmed,
                    };
                    self.send(None, &Message::Fenced(rec.clone()));
                    self.on_fenced(rec);
                }
                _ => {}
            }
        }
    }

    /// A two-node race's check when its time comes: a node that reaches
    /// fewer ping targets than the best known (its own value before, or the
    /// peer's last report) lost its connectivity, so it is likely the
    /// isolated side; it yields, shooting only two priority delays later
    /// than it would have, so the better connected peer shoots first. Said
    /// once; the new time is returned while it lies ahead.
    fn yield_race(&mut self, now: Instant, node: &str) -> Option<Instant> {
        let race = *self.races.get(node)?;
        let own = &self.own_report().connectivity;
        let mine = own.latest()?;
        let best = [
            own.effective(),
            self.reports.get(node).and_then(|r| r.connectivity.latest()),
        ]
        .into_iter()
        .flatten()
        .max()
        .unwrap_or(0);
        if mine >= best {
            return None;
        }
        let penalty = self.cfg.priority_fencing_delay.saturating_mul(2);
        let at = later(race.since, race.base.saturating_add(penalty));
        if at <= now {
            return None;
        }
        if !race.yielded {
            self.races.insert(
                node.to_owned(),
                Race {
                    yielded: true,
                    ..race
                },
            );
            self.events.push_back(Event::FenceRaceYielded {
                node: node.to_owned(),
                connectivity: mine,
                best,
                delay_ms: at.saturating_duration_since(now).as_millis() as u64,
            });
        }
        Some(at)
    }

    /// Before every node was seen (wait-for-all): with fencing configured,
    /// a peer not seen within `initdead` of our start is fenced off (never
    /// rebooted, so it cannot come back with broken links and shoot back);
    /// once confirmed it counts as seen. Two nodes booting with cut links
    /// both want to: the lower name fences at once, a higher one waits the
    /// priority fencing delay, so exactly one survives.
    fn drive_startup_fencing(&mut self, now: Instant) {
        let armed =
            self.cfg.fencing && self.cfg.model.options.startup_fencing && self.cfg.clean_start;
        let names: Vec<String> = self.peers.keys().cloned().collect();
        for node in names {
            let (alive, seen) = self
                .peers
                .get(&node)
                .map_or((false, true), |p| (p.alive, p.seen));
            let state = self.needs_fence.get(&node).copied();
            if alive || seen || !armed || !self.initdead_over {
                if let Some(FenceState::Scheduled(_)) = state {
                    self.needs_fence.insert(node, FenceState::Waiting);
                }
                continue;
            }
            match state {
                None | Some(FenceState::Waiting) => {
                    let delay = if self.cfg.name < node {
                        Duration::ZERO
                    } else {
                        self.cfg.priority_fencing_delay
                    };
                    self.events.push_back(Event::FenceScheduled {
                        node: node.clone(),
                        delay_ms: delay.as_millis() as u64,
                    });
                    self.needs_fence
                        .insert(node, FenceState::Scheduled(later(now, delay)));
                }
                Some(FenceState::Scheduled(t)) if t <= now => self.request_fencing(node),
                _ => {}
            }
        }
    }

    /// Asks the fencer for `node`: powered off when never seen since our
    /// start, else the configured action.
    fn request_fencing(&mut self, node: String) {
        let seen = self.peers.get(&node).is_some_and(|p| p.seen);
        let action = if seen {
            FenceAction::Configured
        } else {
            FenceAction::Off
        };
        self.needs_fence.insert(node.clone(), FenceState::Requested);
        self.out_fence.push_back(FenceRequest { node, action });
    }

    /// Configured nodes neither in this partition nor confirmed off by
    /// startup fencing (wait-for-all waits for them).
    fn missing(&self) -> Vec<String> {
        let partition = self.partition();
        self.cfg
            .nodes
            .iter()
            .map(|(n, _)| n)
            .filter(|n| !partition.contains(*n) && !self.fenced_at_start.contains(*n))
            .cloned()
            .collect()
    }

    /// The no-quorum-policy the engine gets: before every node was seen
    /// (wait-for-all) `ignore` is `freeze` (nothing starts; heartbeat had no
    /// quorum, and a node booting alone must not start what its peer may
    /// run). Afterwards `ignore` carries on, as heartbeat's survivor did.
    fn no_quorum_policy(&self) -> NoQuorumPolicy {
        match self.cfg.no_quorum_policy {
            NoQuorumPolicy::Ignore if !self.all_seen => NoQuorumPolicy::Freeze,
            p => p,
        }
    }

    fn compute(&mut self, now: Instant) {
        let model = self.build_model();
        let mut t = schedule_with(&model, self.now_secs(now), Options { scores: false });
        announce_kept_copies(&model, &mut t);
        let n = t.actions.len();
        let mut preds = vec![Vec::new(); n];
        for &(a, b) in &t.edges {
            if a < n && b < n {
                preds[b].push(a);
            }
        }
        let mut done = vec![false; n];
        for &i in &t.never_run {
            if i < n {
                done[i] = true;
            }
        }
        if n > 0 {
            self.events.push_back(Event::Transition(n));
        }
        self.running = Some(Running {
            transition: t,
            preds,
            sent: done.clone(),
            done,
            aborted: false,
        });
    }

    /// Sends the actions whose predecessors are done; true when a pass
    /// finished the transition and another computation may be due.
    fn dispatch(&mut self, now: Instant) -> bool {
        let Some(mut r) = self.running.take() else {
            return false;
        };
        if !r.aborted {
            loop {
                let mut progress = false;
                for i in 0..r.transition.actions.len() {
                    if r.sent[i] || !r.preds[i].iter().all(|&p| r.done[p]) {
                        continue;
                    }
                    r.sent[i] = true;
                    match r.transition.actions[i].clone() {
                        Action::Resource {
                            instance,
                            task,
                            node,
                        } => {
                            let kind = match task {
                                Task::Start => OpKind::Start,
                                Task::Stop => OpKind::Stop,
                                Task::Promote => OpKind::Promote,
                                Task::Demote => OpKind::Demote,
                            };
                            self.send_op(now, i, instance.resource, node, kind, 0);
                        }
                        Action::Monitor {
                            instance,
                            node,
                            interval_ms,
                        } => {
                            self.send_op(
                                now,
                                i,
                                instance.resource,
                                node,
                                OpKind::Monitor,
                                interval_ms,
                            );
                        }
                        Action::Probe { instance, node } => {
                            self.send_op(now, i, instance.resource, node, OpKind::Probe, 0);
                        }
                        Action::Fence { .. } | Action::Pseudo { .. } => {
                            r.done[i] = true;
                            progress = true;
                        }
                    }
                }
                if !progress {
                    break;
                }
            }
        }
        let finished = r.done.iter().all(|d| *d) || (r.aborted && self.inflight.is_empty());
        if finished {
            self.running = None;
            return self.dirty;
        }
        self.running = Some(r);
        false
    }

    fn send_op(
        &mut self,
        now: Instant,
        action: usize,
        rsc: ResourceId,
        node: NodeId,
        kind: OpKind,
        interval_ms: u64,
    ) {
        let resource = rsc.0 as u16;
        let node_name = self.cfg.model.node(node).name.clone();
        let id = self.next_op;
        self.next_op += 1;
        let timeout = self.op_timeout(resource, kind);
        self.inflight.insert(
            id,
            Inflight {
                node: node_name.clone(),
                resource,
                kind,
                action,
                deadline: later(now, timeout.saturating_add(self.cfg.deadtime)),
            },
        );
        self.events.push_back(Event::OpSent {
            node: node_name.clone(),
            resource: self.resource_name(resource),
            kind,
        });
        let interval_ms = interval_ms.min(u64::from(u32::MAX)) as u32;
        if node_name == self.cfg.name {
            let me = self.cfg.name.clone();
            self.local_op(now, &me, id, resource, kind, interval_ms);
        } else {
            self.send(
                Some(node_name),
                &Message::Op {
                    id,
                    resource,
                    kind,
                    interval_ms,
                    timeout_ms: timeout.as_millis().min(u128::from(u32::MAX)) as u32,
                },
            );
        }
    }

    /// The crm model of the cluster as this node knows it.
    fn build_model(&self) -> Cluster {
        let mut m = self.cfg.model.clone();
        let partition = self.partition();
        // Fencing and probes are this core's business, not the engine's:
        // with stonith disabled the engine trusts no offline node's history,
        // and this core leaves alone (unmanaged) what ran on a lost node
        // until fencing is confirmed.
        m.options.stonith_enabled = false;
        m.options.startup_probes = false;
        m.options.no_quorum_policy = self.no_quorum_policy();
        m.have_quorum = self.have_quorum();
        m.history.clear();
        m.orphans.clear();
        m.history_bans.clear();
        m.failed_probes.clear();
        m.unclean_order.clear();
        m.failcount_only.clear();
        m.dc = self.dc.as_deref().and_then(|d| m.node_by_name(d));
        for r in &mut m.resources {
            // A resource active on two nodes (partition heal) keeps the copy
            // the placement chooses and stops only the others.
            r.meta.multiple_active = ironbeat_crm::model::MultipleActive::StopUnexpected;
        }
        for node in &mut m.nodes {
            let report = self.reports.get(&node.name);
            node.online =
                partition.contains(&node.name) && report.is_some_and(|r| r.probed && !r.void);
            node.unclean = false;
            node.pending = false;
            // A node leaving cleanly is in standby until it is gone.
            let leaving = if node.name == self.cfg.name {
                self.leaving
            } else {
                self.peers.get(&node.name).is_some_and(|p| p.leaving)
            };
            node.standby = self.admin.standby.contains(&node.name) || leaving;
        }
        let mut frozen: BTreeSet<usize> = BTreeSet::new();
        for (name, report) in &self.reports {
            let Some(nid) = m.node_by_name(name) else {
                continue;
            };
            if report.void {
                continue;
            }
            if !m.nodes[nid.0].online {
                continue;
            }
            for e in report.entries.values() {
                if !e.active && e.fail_count == 0 && !e.failed {
                    continue;
                }
                m.history.push(History {
                    resource: ResourceId(e.resource as usize),
                    instance: None,
                    node: nid,
                    role: if e.active {
                        Role::Started
                    } else {
                        Role::Stopped
                    },
                    failed: e.failed,
                    on_fail: None,
                    pending: None,
                    fail_count: e.fail_count,
                    last_failure: e.last_failure,
                    next_role: None,
                    failure_ignored: false,
                });
            }
        }
        if !self.needs_fence.is_empty() || !self.all_seen {
            // A lost node may run anything its last report (or an op sent to
            // it just before it was lost) left there: until it is fenced,
            // nothing that does not run in this partition may start. Before
            // every node was seen (wait-for-all) nothing starts either,
            // whatever the engine would make of no-quorum-policy (some
            // resources need no quorum to start).
            let active_here: BTreeSet<usize> = m
                .history
                .iter()
                .filter(|h| h.role != Role::Stopped)
                .map(|h| h.resource.0)
                .collect();
            frozen.extend(
                self.primitives
                    .iter()
                    .filter(|p| !active_here.contains(p))
                    .copied(),
            );
        }
        for (node, rsc) in &self.uncertain {
            let Some(nid) = m.node_by_name(node) else {
                continue;
            };
            let known = m
                .history
                .iter()
                .any(|h| h.node == nid && h.resource.0 == *rsc as usize);
            if m.nodes[nid.0].online && !known {
                m.history.push(History {
                    resource: ResourceId(*rsc as usize),
                    instance: None,
                    node: nid,
                    role: Role::Started,
                    failed: true,
                    on_fail: None,
                    pending: None,
                    fail_count: 0,
                    last_failure: None,
                    next_role: None,
                    failure_ignored: false,
                });
            }
        }
        for idx in frozen {
            let mut cur = Some(idx);
            while let Some(i) = cur {
                m.resources[i].meta.managed = false;
                cur = m.resources[i].parent.map(|p| p.0);
            }
        }
        for (rsc, node) in &self.admin.moves {
            if let Some(nid) = m.node_by_name(node) {
                m.locations.push(Location {
                    id: format!("ironbeat-move-{rsc}"),
                    resource: ResourceId(*rsc as usize),
                    role: None,
                    scores: vec![(nid, Score::INFINITY)],
                    discovery: Discovery::Always,
                });
            }
        }
        for &rsc in &self.admin.stopped {
            for i in 0..m.resources.len() {
                let mut cur = Some(i);
                while let Some(c) = cur {
                    if c == rsc as usize {
                        m.resources[i].meta.target_role = Some(Role::Stopped);
                        break;
                    }
                    cur = m.resources[c].parent.map(|p| p.0);
                }
            }
        }
        self.ban_outranked(&mut m);
        m
    }

    // ---- helpers ----

    fn now_secs(&self, now: Instant) -> i64 {
        let elapsed = now.saturating_duration_since(self.start).as_secs();
        self.cfg
            .unix_time_at_start
            .saturating_add(i64::try_from(elapsed).unwrap_or(i64::MAX))
    }

    fn resource_name(&self, idx: u16) -> String {
        self.cfg
            .model
            .resources
            .get(idx as usize)
            .map(|r| r.id.clone())
            .unwrap_or_else(|| format!("#{idx}"))
    }

    fn resource_index(&self, name: &str) -> Result<u16, String> {
        match self.cfg.model.resource_by_name(name) {
            Some(r) if r.0 <= u16::MAX as usize => Ok(r.0 as u16),
            _ => Err(format!(
                "no resource named {name:?}; the resources are {}",
                self.cfg
                    .model
                    .resources
                    .iter()
                    .map(|r| r.id.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }

    fn node_names(&self) -> Vec<String> {
        self.cfg.nodes.iter().map(|(n, _)| n.clone()).collect()
    }

    fn bad(&mut self, from: &str, reason: String) {
        self.events.push_back(Event::BadMessage {
            from: from.chars().take(64).collect(),
            reason,
        });
    }

    fn send(&mut self, dest: Option<String>, msg: &Message) {
        match msg.encode() {
            Some(bytes) => self.out_msgs.push_back((dest, bytes)),
            None => self.events.push_back(Event::NotSent(format!(
                "a {} message exceeds {} bytes (too many nodes, moves or resources \
                 for one message)",
                msg.kind(),
                crate::wire::MAX_MESSAGE_LEN
            ))),
        }
    }

    fn send_hello(&mut self, dest: Option<String>) {
        let msg = Message::Hello {
            digest: self.cfg.digest,
            incarnation: self.cfg.incarnation,
            dc: self.dc.clone(),
            settling: self.settling(),
        };
        self.send(dest, &msg);
    }

    fn send_full_status(&mut self, dest: Option<String>) {
        let entries: Vec<Entry> = self.own_report().entries.values().copied().collect();
        if entries.is_empty() {
            self.send_status_entries(dest.clone(), true, vec![]);
        }
        for (i, chunk) in entries.chunks(STATUS_CHUNK).enumerate() {
            self.send_status_entries(dest.clone(), i == 0, chunk.to_vec());
        }
        self.send_connectivity(dest);
    }

    fn send_status_entries(&mut self, dest: Option<String>, first: bool, entries: Vec<Entry>) {
        let r = self.own_report();
        let msg = Message::Status {
            incarnation: r.incarnation,
            probed: r.probed,
            first,
            settling: self.settling(),
            entries,
        };
        self.send(dest, &msg);
    }
}

impl Node {
    /// Operations a DC other than ours sent still run here.
    fn settling(&self) -> bool {
        self.local_ops.values().any(|o| {
            o.kind != OpKind::Monitor && o.origin_id != 0 && Some(&o.origin) != self.dc.as_ref()
        })
    }
}

/// Partition heal: a resource active on two nodes is stopped where the
/// engine does not place it, and the copy kept is started again once that
/// stop is done. Starts are idempotent, and the IP address agent announces
/// its address (gratuitous ARP) on every start, also when it was already
/// configured: the stopped copy's announcements pointed the network at the
/// other node, this points it back.
fn announce_kept_copies(model: &Cluster, t: &mut Transition) {
    let mut active: BTreeMap<usize, Vec<NodeId>> = BTreeMap::new();
    for h in &model.history {
        if h.role != Role::Stopped && !h.failed {
            active.entry(h.resource.0).or_default().push(h.node);
        }
    }
    for i in 0..t.actions.len() {
        let Action::Resource {
            instance,
            task: Task::Stop,
            node,
        } = t.actions[i].clone()
        else {
            continue;
        };
        let Some(nodes) = active.get(&instance.resource.0) else {
            continue;
        };
        for &keeper in nodes {
            let touched = t.actions.iter().any(|a| {
                matches!(a, Action::Resource { instance: j, node: k, .. }
                    if j.resource == instance.resource && *k == keeper)
            });
            if keeper == node || touched {
                continue;
            }
            t.actions.push(Action::Resource {
                instance,
                task: Task::Start,
                node: keeper,
            });
            t.edges.push((i, t.actions.len() - 1));
        }
    }
}

impl Report {
    /// Something runs there by this report (fence devices included).
    fn runs_anything(&self) -> bool {
        !self.void && self.entries.values().any(|e| e.active)
    }
}

/// Ping nodes (`crate::connectivity`): this node's own value, its peers'
/// reports, and the bans the DC adds to the model.
impl Node {
    /// Feeds this node's connectivity: how many ping targets answer (the
    /// daemon's pinger, once it has judged every target). It is broadcast
    /// with this node's status; a DC bans every resource from the members
    /// that reach fewer targets than the best of them, once the values have
    /// held for a deadtime.
    pub fn handle_connectivity(&mut self, now: Instant, value: u32) {
        if self.own_report_mut().connectivity.report(now, value) {
            self.events.push_back(Event::Connectivity {
                node: self.cfg.name.clone(),
                value,
            });
            self.send_connectivity(None);
        }
        self.drive(now);
    }

    fn on_connectivity(&mut self, now: Instant, from: &str, incarnation: u64, value: u32) {
        let report = self.reports.entry(from.to_string()).or_default();
        if incarnation < report.incarnation || (incarnation == report.incarnation && report.void) {
            return;
        }
        if incarnation > report.incarnation {
            *report = Report {
                incarnation,
                ..Report::default()
            };
        }
        if report.connectivity.report(now, value) {
            self.events.push_back(Event::Connectivity {
                node: from.to_string(),
                value,
            });
        }
    }

    /// When the values reported last will count: a deadtime after the
    /// latest change of any node's (see `crate::connectivity`).
    fn connectivity_deadline(&self) -> Option<Instant> {
        let hold = self.cfg.deadtime;
        self.reports
            .values()
            .filter_map(|r| r.connectivity.deadline(hold))
            .max()
    }

    /// Once no node's value has changed for a deadtime, the latest values
    /// count, all at once: nodes that see the same gateway die (or come
    /// back) a moment apart are never compared in between. The DC
    /// computes again.
    fn settle_connectivity(&mut self, now: Instant) {
        if !self.connectivity_deadline().is_some_and(|t| t <= now) {
            return;
        }
        let hold = self.cfg.deadtime;
        for r in self.reports.values_mut() {
            r.connectivity.settle(now, hold);
        }
        self.dirty = true;
    }

    fn send_connectivity(&mut self, dest: Option<String>) {
        let r = self.own_report();
        if let Some(value) = r.connectivity.latest() {
            let msg = Message::Connectivity {
                incarnation: r.incarnation,
                value,
            };
            self.send(dest, &msg);
        }
    }

    /// Bans every resource from the online members (standby ones aside:
    /// they take nothing) that reach fewer ping targets than the best.
    fn ban_outranked(&self, m: &mut Cluster) {
        let members: Vec<(&str, Option<u32>)> = m
            .nodes
            .iter()
            .filter(|n| n.online && !n.standby)
            .map(|n| {
                let counted = self
                    .reports
                    .get(&n.name)
                    .and_then(|r| r.connectivity.effective());
                (n.name.as_str(), counted)
            })
            .collect();
        let banned: Vec<NodeId> = crate::connectivity::outranked(&members)
            .into_iter()
            .filter_map(|n| m.node_by_name(n))
            .collect();
        crate::connectivity::ban(m, &banned);
    }
}
