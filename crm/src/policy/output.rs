//! From the scheduled actions to the [`Transition`]: the summary in
//! crm_simulate's vocabulary, the graph of required actions, the score
//! lines, and where everything stands once the transition has run.

use crate::model::{NodeId, Role, Task};
use crate::score::Score;
use crate::transition::{
    Action, AllocationScore, Change, ChangeNote, Instance, Name, NodeAfter, Placed, Transition,
};

use super::actions::Op;
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
        self.graph(&mut t);
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
                    .get_or_insert_with(|| Name::from(self.rscs[rsc].id.as_str()))
                    .clone(),
                node: NodeId(node),
                score: Score::new(i64::from(score)),
            })
            .collect();
        let fenced = self.fenced_nodes();
        self.stop_orphans(&fenced, &mut t);
        for &r in &self.top_config {
            self.place(r, &fenced, unpacked, &mut t);
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
        !act.optional && act.runnable
    }

    fn fenced_nodes(&self) -> Vec<NodeIx> {
        self.actions
            .iter()
            .enumerate()
            .filter(|(i, a)| a.op == Op::Fence && self.executed(*i))
            .filter_map(|(_, a)| a.node)
            .collect()
    }

    fn fence_summary(&self, t: &mut Transition) {
        let action = self.cluster.options.stonith_action;
        for (i, a) in self.actions.iter().enumerate().rev() {
            if a.op != Op::Fence || a.rsc.is_some() || a.optional {
                continue;
            }
            let Some(node) = a.node else {
                continue;
            };
            let reason = self.nodes[node]
                .fence_reason
                .clone()
                .unwrap_or_else(|| "node is unclean".to_string());
            t.summary.push(Change::Fence {
                node: NodeId(node),
                action,
                reason,
            });
            let _ = i;
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
        let mut stop = self.first_action(rsc, Op::Stop, start_node);
        if stop.is_none() && r.stop_unexpected {
            stop = self.first_action(rsc, Op::Stop, None);
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

    /// The required actions and the edges between them.
    fn graph(&self, t: &mut Transition) {
        let mut index = vec![usize::MAX; self.actions.len()];
        for (i, a) in self.actions.iter().enumerate() {
            let in_graph = !a.optional && (a.runnable || a.pseudo);
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
    }

    /// Active orphans are stopped where that can happen: the node is up,
    /// or is fenced by this transition (`stop-orphan-resources`).
    fn stop_orphans(&self, fenced: &[NodeIx], t: &mut Transition) {
        if !self.cluster.options.stop_orphan_resources {
            return;
        }
        for (i, o) in self.cluster.orphans.iter().enumerate() {
            let n = o.node.0;
            if o.role == Role::Stopped || n >= self.nodes.len() {
                continue;
            }
            if self.nodes[n].online || fenced.contains(&n) {
                t.stopped_orphans.push(i);
            }
        }
    }

    /// Where a resource's primitives stand after the transition.
    fn place(&self, rsc: RscIx, fenced: &[NodeIx], unpacked: &[Unpacked], t: &mut Transition) {
        let r = &self.rscs[rsc];
        if r.variant != Variant::Primitive {
            let mut children = r.children.clone();
            if r.variant == Variant::Clone {
                children.sort_by_key(|&c| self.rscs[c].instance.unwrap_or(0));
            }
            for c in children {
                self.place(c, fenced, unpacked, t);
            }
            return;
        }
        let mut nodes: Vec<NodeIx> = r.running_on.clone();
        let mut role = r.role;
        let mut stopped_somewhere = false;
        let mut started = false;
        let mut promoted = false;
        let mut demoted = false;
        let mut monitored: Vec<NodeIx> = Vec::new();
        // Stops (and demotes) happen before starts (and promotes).
        let mut executed: Vec<ActIx> = r
            .actions
            .iter()
            .chain(r.monitors.iter())
            .copied()
            .filter(|&a| self.executed(a))
            .collect();
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
