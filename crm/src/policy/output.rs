//! From the scheduled actions to the [`Transition`]: the summary in
//! crm_simulate's vocabulary, the graph of required actions, the score
//! lines, and where everything stands once the transition has run.

use crate::model::{NodeId, Role, Task};
use crate::score::Score;
use crate::transition::{
    Action, AllocationScore, Change, ChangeNote, Instance, Name, NodeAfter, Placed, Transition,
};

use super::actions::{flags, Op};
use super::few::Few;
use super::working::{ActIx, NodeIx, RscIx, Stage, Variant, WorkingSet};

/// State a summary line needs from the unpacked resource before the
/// scheduler touched its flags.
#[derive(Debug, Clone, Copy)]
pub(super) struct Unpacked {
    pub managed: bool,
    pub block: bool,
}

impl WorkingSet<'_> {
    /// The instance a working primitive stands for.
    fn instance(&self, rsc: RscIx) -> Instance {
        Instance {
            resource: self.rscs[rsc].model,
            number: self.rscs[rsc].instance,
        }
    }

    /// Builds the transition from the scheduled actions.
    pub fn transition(&self, unpacked: &[Unpacked]) -> Transition {
        let mut t = Transition::default();
        self.fence_summary(&mut t);
        for &r in &self.top {
            self.summarize(r, &mut t);
        }
        let index = self.graph(&mut t);
        t.never_run = never_run(&t, &self.inputs_never_done(&index));
        // What actually runs: executed, and not stuck behind a cycle.
        let mut stuck = vec![false; self.actions.len()];
        for (a, &i) in index.iter().enumerate() {
            if i != usize::MAX && t.never_run.binary_search(&i).is_ok() {
                stuck[a] = true;
            }
        }
        // One shared name per stage and per resource with score lines.
        let mut stages: Vec<(Stage, Name)> = Vec::new();
        let mut names: Vec<Option<Name>> = vec![None; self.rscs.len()];
        t.scores = self
            .scores
            .iter()
            .map(|&(stage, rsc, node, score)| AllocationScore {
                stage: match stages.iter().find(|(s, _)| *s == stage) {
                    Some((_, name)) => name.clone(),
                    None => {
                        let name = Name::from(stage.name());
                        stages.push((stage, name.clone()));
                        name
                    }
                },
                resource: names[rsc]
                    .get_or_insert_with(|| Name::from(self.rsc_id(rsc)))
                    .clone(),
                node: NodeId(node),
                score: Score::new(i64::from(score)),
            })
            .collect();
        let fenced = self.fenced_nodes(&stuck);
        self.stop_orphans(&fenced, &mut t);
        for &r in &self.top_config {
            self.place(r, &fenced, unpacked, &stuck, &mut t);
        }
        for (i, n) in self.nodes.iter().enumerate() {
            let was_fenced = fenced.contains(&i);
            t.nodes.push(NodeAfter {
                node: NodeId(i),
                online: n.online && !was_fenced,
                unclean: n.unclean && !was_fenced,
                standby: n.standby,
            });
        }
        t
    }

    fn executed(&self, a: ActIx) -> bool {
        let act = &self.actions[a];
        !act.optional && act.runnable && !self.left_alone(a)
    }

    /// An action of an unmanaged resource other than a monitor: the graph
    /// leaves it out (`should_add_action_to_graph`), whatever the
    /// orderings made of it.
    fn left_alone(&self, a: ActIx) -> bool {
        let act = &self.actions[a];
        match act.rsc {
            Some(r) => !self.rscs[r].managed && act.op != Op::Monitor,
            None => false,
        }
    }

    fn fenced_nodes(&self, stuck: &[bool]) -> Vec<NodeIx> {
        self.actions
            .iter()
            .enumerate()
            .filter(|(i, a)| a.op == Op::Fence && self.executed(*i) && !stuck[*i])
            .filter_map(|(_, a)| a.node)
            .collect()
    }

    /// The Fence lines. Pacemaker creates a node's fencing action when the
    /// status first finds it unclean ([`crate::model::Cluster::unclean_order`]),
    /// or, for a node unclean from the start, when it schedules fencing (in
    /// node order), and lists them newest first.
    fn fence_summary(&self, t: &mut Transition) {
        let action = self.cluster.options.stonith_action;
        let order = &self.cluster.unclean_order;
        let mut fences: Vec<(usize, NodeIx)> = Vec::new();
        for a in self.actions.iter().rev() {
            if a.op != Op::Fence || a.rsc.is_some() || a.optional {
                continue;
            }
            let Some(node) = a.node else {
                continue;
            };
            let created = match order.iter().position(|n| n.0 == node) {
                Some(p) => p,
                None => {
                    order.len()
                        + self
                            .node_order
                            .iter()
                            .position(|&n| n == node)
                            .unwrap_or(usize::MAX - order.len())
                }
            };
            fences.push((created, node));
        }
        // Newest first; stable, so equal keys keep the actions' order.
        fences.sort_by_key(|&(created, _)| std::cmp::Reverse(created));
        for (_, node) in fences {
            let reason = self.nodes[node]
                .fence_reason
                .clone()
                .unwrap_or_else(|| "node is unclean".to_string());
            t.summary.push(Change::Fence {
                node: NodeId(node),
                action,
                reason,
            });
        }
    }

    fn note(&self, t: &mut Transition, action: Option<ActIx>, source: Option<ActIx>) {
        let change = t.summary.len() - 1;
        let source = source.or(action);
        let reason = source.and_then(|s| self.actions[s].reason.clone());
        let blocked = action.map(|a| !self.actions[a].runnable).unwrap_or(false);
        if reason.is_some() || blocked {
            t.notes.push(ChangeNote {
                change,
                reason,
                blocked,
            });
        }
    }

    fn first_action(&self, rsc: RscIx, op: Op, node: Option<NodeIx>) -> Option<ActIx> {
        self.rscs[rsc].actions.iter().copied().find(|&a| {
            let act = &self.actions[a];
            act.op == op
                && act.interval_ms == 0
                && match node {
                    None => true,
                    Some(n) => act.node.is_none() || act.node == Some(n),
                }
        })
    }

    /// The stop the summary reports (`pe__resource_actions(rsc, node,
    /// stop)`: the oldest). Pacemaker creates the stop of a failure to
    /// recover while unpacking the history, before any other: on the first
    /// node (in history order) where the resource failed, with the default
    /// `on-fail`, on a node that is not unclean (the reader leaves those
    /// histories unfailed).
    fn first_stop(&self, rsc: RscIx, node: Option<NodeIx>) -> Option<ActIx> {
        let r = &self.rscs[rsc];
        if node.is_none() && r.failed && r.running_on.len() > 1 {
            let unpacked = self.cluster.history.iter().find(|h| {
                h.resource == r.model
                    && h.failed
                    && h.role > Role::Stopped
                    && matches!(h.on_fail, None | Some(crate::model::OnFail::Restart))
                    && r.running_on.contains(&h.node.0)
                    && (!r.unique || r.instance.is_none() || h.instance == r.instance)
            });
            if let Some(h) = unpacked {
                if let Some(a) = self.first_action(rsc, Op::Stop, Some(h.node.0)) {
                    return Some(a);
                }
            }
        }
        self.first_action(rsc, Op::Stop, node)
    }

    /// Summary lines for a resource (`rsc_action_default`).
    fn summarize(&self, rsc: RscIx, t: &mut Transition) {
        let r = &self.rscs[rsc];
        if r.variant != Variant::Primitive {
            for &c in &r.children {
                self.summarize(c, t);
            }
            return;
        }
        let current = if r.running_on.is_empty() {
            None
        } else {
            self.current_node(rsc)
        };
        let next = r.allocated_to;
        if !r.managed || (current.is_none() && next.is_none()) {
            return;
        }
        if current.is_none() && r.orphan {
            return;
        }
        let mut role = r.role;
        if current.is_some() && role == Role::Stopped {
            role = Role::Started;
        }
        let next_role = r.next_role.unwrap_or(Role::Stopped);
        let inst = self.instance(rsc);
        let moving = matches!((current, next), (Some(c), Some(n)) if c != n);
        let start = self.first_action(rsc, Op::Start, next);
        let start_node = match start {
            Some(s) if self.actions[s].runnable => current,
            _ => None,
        };
        let mut stop = self.first_stop(rsc, start_node);
        if stop.is_none() && r.stop_unexpected {
            stop = self.first_stop(rsc, None);
        }
        let promote = self.first_action(rsc, Op::Promote, next);
        let demote = self.first_action(rsc, Op::Demote, next);

        if role == next_role {
            let Some(next_node) = next else {
                return;
            };
            let Some(s) = start.filter(|&s| !self.actions[s].optional) else {
                return;
            };
            let Some(cur) = current else {
                if !self.actions[s].runnable {
                    return;
                }
                return;
            };
            if !self.actions[s].runnable {
                t.summary.push(Change::Stop {
                    instance: inst,
                    node: NodeId(cur),
                });
                let src = match stop {
                    Some(st) if self.actions[st].reason.is_some() => Some(st),
                    _ => Some(s),
                };
                self.note(t, stop.or(Some(s)), src);
            } else if moving {
                if r.failed {
                    t.summary.push(Change::Recover {
                        instance: inst,
                        from: NodeId(cur),
                        to: NodeId(next_node),
                    });
                } else {
                    t.summary.push(Change::Move {
                        instance: inst,
                        from: NodeId(cur),
                        to: NodeId(next_node),
                    });
                }
                self.note(t, stop.or(Some(s)), None);
            } else if r.failed {
                t.summary.push(Change::Recover {
                    instance: inst,
                    from: NodeId(cur),
                    to: NodeId(cur),
                });
                self.note(t, stop.or(Some(s)), None);
            } else {
                t.summary.push(Change::Restart {
                    instance: inst,
                    node: NodeId(cur),
                });
                self.note(t, Some(s), None);
            }
            return;
        }

        let start_unrunnable = start.map(|s| !self.actions[s].runnable).unwrap_or(false);
        if stop.is_some() && (next_role == Role::Stopped || start_unrunnable) {
            for &node in &r.running_on {
                let stop_op = self.first_action(rsc, Op::Stop, Some(node));
                if role == Role::Promoted {
                    t.summary.push(Change::Demote {
                        instance: inst,
                        to: Role::Stopped,
                        node: NodeId(node),
                    });
                } else {
                    t.summary.push(Change::Stop {
                        instance: inst,
                        node: NodeId(node),
                    });
                }
                let src = match stop_op {
                    Some(s) if self.actions[s].reason.is_some() => Some(s),
                    _ => start,
                };
                self.note(t, stop_op.or(start), src);
            }
        } else if stop.is_some() && r.failed && r.stop {
            let (Some(cur), Some(n)) = (current, next) else {
                return;
            };
            t.summary.push(Change::Recover {
                instance: inst,
                from: NodeId(cur),
                to: NodeId(n),
            });
            self.note(t, stop, start);
        } else if moving {
            let (Some(cur), Some(n)) = (current, next) else {
                return;
            };
            t.summary.push(Change::Move {
                instance: inst,
                from: NodeId(cur),
                to: NodeId(n),
            });
            self.note(t, stop, None);
        } else if stop.map(|s| !self.actions[s].optional).unwrap_or(false) {
            let Some(cur) = current else {
                return;
            };
            t.summary.push(Change::Restart {
                instance: inst,
                node: NodeId(cur),
            });
            self.note(t, start, None);
        } else if role == Role::Promoted {
            let Some(cur) = current else {
                return;
            };
            t.summary.push(Change::Demote {
                instance: inst,
                to: next_role,
                node: NodeId(cur),
            });
            self.note(t, demote, None);
        } else if next_role == Role::Promoted {
            let Some(n) = next else {
                return;
            };
            t.summary.push(Change::Promote {
                instance: inst,
                from: role,
                node: NodeId(n),
            });
            self.note(t, promote, None);
        } else if role == Role::Stopped && next_role > Role::Stopped {
            let Some(n) = next else {
                return;
            };
            t.summary.push(Change::Start {
                instance: inst,
                node: NodeId(n),
            });
            self.note(t, start, None);
        }
    }

    /// The required actions and the edges between them; returns where each
    /// working action went in [`Transition::actions`] (`usize::MAX`: not in
    /// the graph).
    fn graph(&self, t: &mut Transition) -> Vec<usize> {
        let mut index = vec![usize::MAX; self.actions.len()];
        for (i, a) in self.actions.iter().enumerate() {
            let in_graph = !a.optional && (a.runnable || a.pseudo) && !self.left_alone(i);
            if !in_graph {
                continue;
            }
            let action = match (a.op, a.rsc) {
                (Op::Fence, _) => match a.node {
                    Some(n) => Action::Fence {
                        node: NodeId(n),
                        action: self.cluster.options.stonith_action,
                    },
                    None => continue,
                },
                (Op::Monitor, Some(r)) => match a.node {
                    Some(n) if a.interval_ms == 0 => Action::Probe {
                        instance: self.instance(r),
                        node: NodeId(n),
                    },
                    Some(n) => Action::Monitor {
                        instance: self.instance(r),
                        node: NodeId(n),
                        interval_ms: a.interval_ms,
                    },
                    None => continue,
                },
                (op, Some(r)) if self.rscs[r].variant == Variant::Primitive && !a.pseudo => {
                    let task = match op {
                        Op::Start => Task::Start,
                        Op::Stop => Task::Stop,
                        Op::Promote => Task::Promote,
                        Op::Demote => Task::Demote,
                        _ => continue,
                    };
                    match a.node {
                        Some(n) => Action::Resource {
                            instance: self.instance(r),
                            task,
                            node: NodeId(n),
                        },
                        None => continue,
                    }
                }
                (op, Some(r)) => {
                    let (task, done) = match op {
                        Op::Start => (Task::Start, false),
                        Op::Running => (Task::Start, true),
                        Op::Stop => (Task::Stop, false),
                        Op::Stopped => (Task::Stop, true),
                        Op::Promote => (Task::Promote, false),
                        Op::Promoted => (Task::Promote, true),
                        Op::Demote => (Task::Demote, false),
                        Op::Demoted => (Task::Demote, true),
                        _ => continue,
                    };
                    Action::Pseudo {
                        resource: self.rscs[r].model,
                        task,
                        done,
                    }
                }
                _ => continue,
            };
            index[i] = t.actions.len();
            t.actions.push(action);
        }
        for &(rsc, node, target) in &self.probes {
            let probe = t.actions.len();
            t.actions.push(Action::Probe {
                instance: self.instance(rsc),
                node: NodeId(node),
            });
            for &a in &self.rscs[target].actions {
                let act = &self.actions[a];
                if act.op == Op::Start && act.interval_ms == 0 && index[a] != usize::MAX {
                    t.edges.push((probe, index[a]));
                }
            }
        }
        for e in &self.edges {
            if e.flags == 0 {
                continue;
            }
            let (a, b) = (index[e.first], index[e.then]);
            if a != usize::MAX && b != usize::MAX {
                t.edges.push((a, b));
            }
        }
        t.edges.sort_unstable();
        t.edges.dedup();
        index
    }

    /// Graph actions (indexes into the transition's actions, per `index`)
    /// with an input that is not in the graph yet stays their input, so
    /// they wait for it forever (`should_add_input_to_graph`): an
    /// unrunnable, required action ordered before them by an ordering that
    /// does not make them unrunnable too (Serialize).
    fn inputs_never_done(&self, index: &[usize]) -> Vec<usize> {
        let mut out = Vec::new();
        for e in &self.edges {
            let (first, then) = (&self.actions[e.first], e.then);
            if e.flags == 0 || index[then] == usize::MAX || index[e.first] != usize::MAX {
                continue;
            }
            let can_change = e.flags
                & !(flags::OPTIONAL | flags::IMPLIES_FIRST_PRINTED | flags::IMPLIES_THEN_PRINTED)
                != 0;
            let kept = !first.runnable
                && can_change
                && e.flags & flags::ONE_OR_MORE == 0
                && (!first.optional || first.print_always)
                && !(e.flags & flags::ANTI_COLOCATION != 0
                    && (first.optional || first.node != self.actions[then].node));
            if kept {
                out.push(index[then]);
            }
        }
        out
    }

    /// Active orphans are stopped (`stop-orphan-resources`, when managed
    /// and not blocked) where that can happen: the node is up, or is fenced
    /// by this transition. On an unclean node that is not fenced the stop
    /// is scheduled but cannot run (blocked).
    fn stop_orphans(&self, fenced: &[NodeIx], t: &mut Transition) {
        let options = &self.cluster.options;
        if !options.stop_orphan_resources || options.maintenance_mode {
            return;
        }
        for (i, o) in self.cluster.orphans.iter().enumerate() {
            let n = o.node.0;
            if o.role == Role::Stopped || n >= self.nodes.len() || !o.managed || o.blocked {
                continue;
            }
            if self.nodes[n].online || fenced.contains(&n) {
                t.stopped_orphans.push(i);
            } else if self.nodes[n].unclean {
                t.blocked_orphans.push(i);
            }
        }
    }

    /// Where a resource's primitives stand after the transition.
    fn place(
        &self,
        rsc: RscIx,
        fenced: &[NodeIx],
        unpacked: &[Unpacked],
        stuck: &[bool],
        t: &mut Transition,
    ) {
        let r = &self.rscs[rsc];
        if r.variant != Variant::Primitive {
            let mut children = r.children.clone();
            if r.variant == Variant::Clone {
                children.sort_by_key(|&c| self.rscs[c].instance.unwrap_or(0));
            }
            for c in children {
                self.place(c, fenced, unpacked, stuck, t);
            }
            return;
        }
        let mut nodes: Vec<NodeIx> = r.running_on.clone();
        let mut role = r.role;
        let mut stopped_somewhere = false;
        let mut started = false;
        let mut promoted = false;
        let mut demoted = false;
        let mut monitored: Few<2> = Few::new();
        // Stops (and demotes) happen before starts (and promotes).
        let mut executed: Few<6> = Few::new();
        for &a in r.actions.iter().chain(r.monitors.iter()) {
            if self.executed(a) && !stuck[a] {
                executed.push(a);
            }
        }
        executed.sort_by_key(|&a| match self.actions[a].op {
            Op::Demote => 0,
            Op::Stop => 1,
            Op::Start => 2,
            _ => 3,
        });
        for a in executed {
            let act = &self.actions[a];
            let Some(n) = act.node else {
                continue;
            };
            match act.op {
                Op::Stop => {
                    nodes.retain(|&x| x != n);
                    stopped_somewhere = true;
                }
                Op::Start => {
                    if !nodes.contains(&n) {
                        nodes.push(n);
                    }
                    started = true;
                }
                Op::Monitor if act.interval_ms > 0 => {
                    monitored.push(n);
                    // A recurring monitor scheduled for the promoted role
                    // expects (and, simulated, records) "running promoted".
                    if r.next_role == Some(Role::Promoted) {
                        promoted = true;
                    }
                }
                Op::Promote => promoted = true,
                Op::Demote => demoted = true,
                _ => {}
            }
        }
        nodes.retain(|n| !fenced.contains(n));
        let promotable = r.promotable;
        if nodes.is_empty() {
            role = Role::Stopped;
        } else if promoted {
            role = Role::Promoted;
        } else if demoted || started {
            role = if promotable {
                Role::Unpromoted
            } else {
                Role::Started
            };
        }
        if promotable && role == Role::Started {
            role = Role::Unpromoted;
        }
        let u = unpacked.get(rsc).copied().unwrap_or(Unpacked {
            managed: r.managed,
            block: r.block,
        });
        // A failure is cleared by a stop, or by the failed monitor running
        // again (a failed start, whose fail count is INFINITY, is not).
        let monitor_cleared = !r.block
            && nodes
                .iter()
                .all(|&n| monitored.contains(&n) && i64::from(self.fail_count(rsc, n)) < 1_000_000);
        let failed = r.failed && !stopped_somewhere && !nodes.is_empty() && !monitor_cleared;
        let instance = self.instance(rsc);
        if nodes.is_empty() {
            t.placement.push(Placed {
                instance,
                node: None,
                role: Role::Stopped,
                failed: false,
                managed: u.managed,
                blocked: u.block,
            });
        } else {
            for n in nodes {
                t.placement.push(Placed {
                    instance,
                    node: Some(NodeId(n)),
                    role,
                    failed,
                    managed: u.managed,
                    blocked: u.block,
                });
            }
        }
    }
}

/// The graph's actions that can never run, sorted: Kahn's algorithm runs
/// every action whose inputs all ran; what is left is on a cycle, ordered
/// after one, or waits for an input that is never done (`never_done`:
/// graph actions with such an input).
fn never_run(t: &Transition, never_done: &[usize]) -> Vec<usize> {
    let n = t.actions.len();
    let mut waiting = vec![0usize; n];
    for &a in never_done {
        if a < n {
            waiting[a] += 1;
        }
    }
    // What follows each action: `after[first[a]..first[a + 1]]` (one list
    // for all, not one per action).
    let mut first = vec![0usize; n + 1];
    for &(a, b) in &t.edges {
        if a < n && b < n {
            first[a + 1] += 1;
            waiting[b] += 1;
        }
    }
    for a in 0..n {
        first[a + 1] += first[a];
    }
    let mut after = vec![0usize; first[n]];
    let mut next = first.clone();
    for &(a, b) in &t.edges {
        if a < n && b < n {
            after[next[a]] = b;
            next[a] += 1;
        }
    }
    let mut ready: Vec<usize> = (0..n).filter(|&i| waiting[i] == 0).collect();
    let mut ran = vec![false; n];
    while let Some(a) = ready.pop() {
        ran[a] = true;
        for &b in &after[first[a]..first[a + 1]] {
            waiting[b] -= 1;
            if waiting[b] == 0 {
                ready.push(b);
            }
        }
    }
    (0..n).filter(|&i| !ran[i]).collect()
}
