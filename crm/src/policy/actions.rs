//! Actions and orderings: what each resource must do to get from its
//! current role to its next one (stop, start, promote, demote, recover,
//! restart), the pseudo-actions of groups and clones, probes, recurring
//! monitors and fencing, and the ordering constraints between them
//! (implicit ones and the configured `rsc_order`s).

use crate::model::{NoQuorumPolicy, OrderKind, Role, Task};

use super::arith::INF;
use super::few::Few;
use super::working::{ActIx, Needs, NodeIx, RscIx, Variant, WorkingSet};

/// What an action does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Op {
    Start,
    Stop,
    Promote,
    Demote,
    /// `running`: all starts done.
    Running,
    /// `stopped`: all stops done.
    Stopped,
    /// `promoted`: all promotions done.
    Promoted,
    /// `demoted`: all demotions done.
    Demoted,
    /// A monitor: a probe (interval 0) or recurring.
    Monitor,
    /// Fence a node.
    Fence,
    /// Shut a node down.
    Shutdown,
    /// Enough instances of a clone are runnable (clone-min).
    ClonesMin,
}

impl Op {
    /// The "done" counterpart used when ordering after a collective
    /// resource (`start` → `running`).
    pub fn done(self) -> Option<Op> {
        match self {
            Op::Start => Some(Op::Running),
            Op::Stop => Some(Op::Stopped),
            Op::Promote => Some(Op::Promoted),
            Op::Demote => Some(Op::Demoted),
            Op::Running | Op::Stopped | Op::Promoted | Op::Demoted => Some(self),
            _ => None,
        }
    }

    /// The atomic action a primitive does for a collective's step
    /// (`running` → `start`).
    pub fn atomic(self) -> Op {
        match self {
            Op::Running => Op::Start,
            Op::Stopped => Op::Stop,
            Op::Promoted => Op::Promote,
            Op::Demoted => Op::Demote,
            other => other,
        }
    }

    /// The inverse used by symmetrical orderings.
    pub fn invert(self) -> Op {
        match self {
            Op::Start => Op::Stop,
            Op::Stop => Op::Start,
            Op::Promote => Op::Demote,
            Op::Demote => Op::Promote,
            Op::Promoted => Op::Demoted,
            Op::Demoted => Op::Promoted,
            Op::Running => Op::Stopped,
            Op::Stopped => Op::Running,
            other => other,
        }
    }

    /// This op's bit in a resource's `ops`.
    pub fn bit(self) -> u16 {
        1 << (self as u16)
    }

    /// The action name as Pacemaker spells it.
    pub fn name(self) -> &'static str {
        match self {
            Op::Start => "start",
            Op::Stop => "stop",
            Op::Promote => "promote",
            Op::Demote => "demote",
            Op::Running => "running",
            Op::Stopped => "stopped",
            Op::Promoted => "promoted",
            Op::Demoted => "demoted",
            Op::Monitor => "monitor",
            Op::Fence => "stonith",
            Op::Shutdown => "do_shutdown",
            Op::ClonesMin => "clone-one-or-more",
        }
    }
}

impl From<Task> for Op {
    fn from(t: Task) -> Op {
        match t {
            Task::Start => Op::Start,
            Task::Stop => Op::Stop,
            Task::Promote => Op::Promote,
            Task::Demote => Op::Demote,
        }
    }
}

/// Ordering flags (Pacemaker's `pe_ordering` bits that matter here).
pub(super) mod flags {
    pub const OPTIONAL: u32 = 0x1;
    pub const IMPLIES_THEN: u32 = 0x10;
    pub const IMPLIES_FIRST: u32 = 0x20;
    pub const RESTART: u32 = 0x40;
    pub const RUNNABLE_LEFT: u32 = 0x80;
    pub const ONE_OR_MORE: u32 = 0x100;
    pub const ASYMMETRICAL: u32 = 0x200;
    pub const PROMOTED_IMPLIES_FIRST: u32 = 0x400;
    pub const SAME_NODE: u32 = 0x800;
    pub const IMPLIES_FIRST_PRINTED: u32 = 0x1000;
    pub const IMPLIES_THEN_PRINTED: u32 = 0x2000;
    pub const SERIALIZE_ONLY: u32 = 0x4000;
    pub const ANTI_COLOCATION: u32 = 0x8000;
    pub const PRESERVE: u32 = 0x10000;
}

/// One action.
#[derive(Debug, Clone)]
pub(super) struct Act {
    pub op: Op,
    pub rsc: Option<RscIx>,
    pub node: Option<NodeIx>,
    pub interval_ms: u64,
    pub optional: bool,
    pub runnable: bool,
    pub pseudo: bool,
    pub migrate_runnable: bool,
    pub requires_any: bool,
    pub required_runnable_before: u32,
    pub runnable_before: u32,
    pub needs: Needs,
    pub implied_by_fencing: bool,
    pub print_always: bool,
    pub reason: Option<String>,
    /// The newest edge into this action (an index into
    /// [`WorkingSet::edges`], [`NO_EDGE`] when none); the others follow
    /// through [`Edge::next_before`], newest first.
    pub before: usize,
    /// The newest edge out of this action; the others follow through
    /// [`Edge::next_after`].
    pub after: usize,
}

/// The end of an edge list.
pub(super) const NO_EDGE: usize = usize::MAX;

/// An edge of the action graph with its ordering flags (0 once disabled).
///
/// Each action's edges in and out are lists threaded through the edges
/// themselves, newest first (Pacemaker prepends to its lists): adding an
/// edge allocates nothing, and a walk that starts before an edge is added
/// does not meet it.
#[derive(Debug, Clone)]
pub(super) struct Edge {
    pub first: ActIx,
    pub then: ActIx,
    pub flags: u32,
    /// The next older edge into `then`.
    pub next_before: usize,
    /// The next older edge out of `first`.
    pub next_after: usize,
}

/// One side of a not-yet-resolved ordering.
#[derive(Debug, Clone, Copy)]
pub(super) enum Side {
    /// The actions of a resource with a task.
    Task(RscIx, Op),
    /// One specific action.
    Action(ActIx),
}

/// An ordering between resources' actions, resolved to action edges once
/// all actions exist (`pe__ordering_t`).
#[derive(Debug, Clone)]
pub(super) struct Ordering {
    pub first: Side,
    pub then: Side,
    pub flags: u32,
}

impl WorkingSet<'_> {
    /// Adds an ordering to resolve later (`pcmk__new_ordering`).
    pub fn new_ordering(&mut self, first: Side, then: Side, flags: u32) {
        self.orderings.push(Ordering { first, then, flags });
    }

    /// Orders `task` of one resource before `task` of another.
    pub fn order_rsc(&mut self, first: RscIx, first_op: Op, then: RscIx, then_op: Op, flags: u32) {
        self.new_ordering(
            Side::Task(first, first_op),
            Side::Task(then, then_op),
            flags,
        );
    }

    /// Adds an edge between two actions unless an equivalent one exists
    /// (`order_actions`). Returns whether it was added.
    pub fn order_actions(&mut self, first: ActIx, then: ActIx, flags: u32) -> bool {
        if flags == 0 || first == then {
            return false;
        }
        let mut e = self.actions[first].after;
        while e != NO_EDGE {
            let edge = &self.edges[e];
            if edge.then == then && (edge.flags & flags) != 0 {
                return false;
            }
            e = edge.next_after;
        }
        let e = self.edges.len();
        self.edges.push(Edge {
            first,
            then,
            flags,
            next_before: self.actions[then].before,
            next_after: self.actions[first].after,
        });
        self.actions[first].after = e;
        self.actions[then].before = e;
        true
    }

    /// Finds or creates a resource (or node) action (`custom_action`).
    pub fn custom_action(
        &mut self,
        rsc: Option<RscIx>,
        op: Op,
        interval_ms: u64,
        node: Option<NodeIx>,
        optional: bool,
    ) -> ActIx {
        let existing = match rsc {
            Some(r) => self.find_existing(r, op, interval_ms, node),
            None => self.actions.iter().position(|a| {
                a.rsc.is_none() && a.op == op && a.node == node && a.interval_ms == interval_ms
            }),
        };
        let a = match existing {
            Some(a) => a,
            None => {
                let needs = match (rsc, op) {
                    (Some(r), Op::Start) | (Some(r), Op::Promote) => self.rscs[r].needs,
                    _ => Needs::Nothing,
                };
                let ix = self.actions.len();
                self.actions.push(Act {
                    op,
                    rsc,
                    node,
                    interval_ms,
                    optional,
                    runnable: true,
                    pseudo: false,
                    migrate_runnable: false,
                    requires_any: false,
                    required_runnable_before: 0,
                    runnable_before: 0,
                    needs,
                    implied_by_fencing: false,
                    print_always: false,
                    reason: None,
                    before: NO_EDGE,
                    after: NO_EDGE,
                });
                if let Some(r) = rsc {
                    self.rsc_list_mut(r, op).push(ix);
                    self.rscs[r].ops |= op.bit();
                    self.action_changed(ix);
                }
                ix
            }
        };
        // Non-recurring actions of unmanaged resources stay optional.
        if let Some(r) = rsc {
            if self.actions[a].node.is_some()
                && !self.actions[a].pseudo
                && !self.rscs[r].managed
                && interval_ms == 0
            {
                self.set_optional(a, true);
            } else if !optional {
                self.set_optional(a, false);
            }
            self.update_action_runnable(a);
        } else if !optional {
            self.set_optional(a, false);
        }
        a
    }

    /// Whether the action can run given its node and the quorum policy.
    fn update_action_runnable(&mut self, a: ActIx) {
        if self.actions[a].pseudo {
            return;
        }
        let Some(r) = self.actions[a].rsc else {
            return;
        };
        let Some(node) = self.actions[a].node else {
            self.set_runnable(a, false);
            return;
        };
        if !self.nodes[node].online {
            self.set_runnable(a, false);
            if self.rscs[r].managed && self.actions[a].op == Op::Stop && !self.nodes[node].unclean {
                self.fence_node(node, "stop is unrunnable".to_string());
            }
            return;
        }
        if self.nodes[node].pending {
            self.set_runnable(a, false);
            return;
        }
        if self.actions[a].needs == Needs::Nothing {
            self.set_runnable(a, true);
            return;
        }
        let policy = if self.have_quorum {
            NoQuorumPolicy::Ignore
        } else {
            self.no_quorum_policy
        };
        match policy {
            NoQuorumPolicy::Stop => {
                self.set_runnable(a, false);
                self.set_reason(a, "no quorum".to_string(), true);
            }
            NoQuorumPolicy::Freeze => {
                let rsc = &self.rscs[r];
                if !self.rsc_active(r) || rsc.next_role > Some(rsc.role) {
                    self.set_runnable(a, false);
                    self.set_reason(a, "quorum freeze".to_string(), true);
                }
            }
            _ => self.set_runnable(a, true),
        }
    }

    /// Whether a primitive is active (`native_active`).
    pub fn rsc_active(&self, r: RscIx) -> bool {
        for &n in &self.rscs[r].running_on {
            let node = &self.nodes[n];
            if node.unclean {
                return true;
            } else if !node.online && self.rscs[r].managed {
                continue;
            } else {
                return true;
            }
        }
        false
    }

    /// Sets an action's reason (only if none yet, unless `overwrite`).
    pub fn set_reason(&mut self, a: ActIx, reason: String, overwrite: bool) {
        let act = &mut self.actions[a];
        if act.reason.is_none() || overwrite {
            act.reason = Some(reason);
        }
    }

    /// Sets whether an action is optional.
    ///
    /// Every change to an action's `optional`, `runnable` or `node` goes
    /// through [`Self::set_optional`], [`Self::set_runnable`] and
    /// [`Self::set_node`] (and every new action of a resource through
    /// [`Self::action_changed`]): the propagation caches what a clone
    /// derives from its instances' actions, and these keep
    /// [`WorkingSet::changes`] counting what would invalidate it.
    pub fn set_optional(&mut self, a: ActIx, optional: bool) {
        if self.actions[a].optional != optional {
            self.actions[a].optional = optional;
            self.action_changed(a);
        }
    }

    /// Sets whether an action is runnable (see [`Self::set_optional`]).
    pub fn set_runnable(&mut self, a: ActIx, runnable: bool) {
        if self.actions[a].runnable != runnable {
            self.actions[a].runnable = runnable;
            self.action_changed(a);
        }
    }

    /// Gives a node-less action its node (see [`Self::set_optional`]).
    pub fn set_node(&mut self, a: ActIx, node: NodeIx) {
        if self.actions[a].node != Some(node) {
            self.actions[a].node = Some(node);
            self.action_changed(a);
        }
    }

    /// Counts a change of (or a new) action of a resource in every
    /// collective above that resource.
    pub fn action_changed(&mut self, a: ActIx) {
        let Some(r) = self.actions[a].rsc else {
            return;
        };
        let mut up = self.rscs[r].parent;
        while let Some(p) = up {
            if let Some(c) = self.changes.get_mut(p) {
                *c = c.wrapping_add(1);
            }
            up = self.rscs[p].parent;
        }
    }

    /// Actions of `rsc` with this op (and interval) on `node` (any node when
    /// None), oldest first (`find_actions`); an action without a node
    /// matches any node and takes it.
    pub fn find_actions(
        &mut self,
        rsc: RscIx,
        op: Op,
        interval_ms: u64,
        node: Option<NodeIx>,
    ) -> Few<4> {
        let mut out = Few::new();
        if self.rscs[rsc].ops & op.bit() == 0 {
            return out;
        }
        for i in 0..self.rsc_list(rsc, op).len() {
            let a = self.rsc_list(rsc, op)[i];
            let act = &self.actions[a];
            if act.op != op || act.interval_ms != interval_ms {
                continue;
            }
            match node {
                None => out.push(a),
                Some(n) => match act.node {
                    None => {
                        self.set_node(a, n);
                        out.push(a);
                    }
                    Some(x) if x == n => out.push(a),
                    Some(_) => {}
                },
            }
        }
        out
    }

    /// The list a resource keeps actions of this op in.
    pub fn rsc_list(&self, rsc: RscIx, op: Op) -> &[ActIx] {
        if op == Op::Monitor {
            &self.rscs[rsc].monitors
        } else {
            &self.rscs[rsc].actions
        }
    }

    fn rsc_list_mut(&mut self, rsc: RscIx, op: Op) -> &mut Few<3> {
        if op == Op::Monitor {
            &mut self.rscs[rsc].monitors
        } else {
            &mut self.rscs[rsc].actions
        }
    }

    /// The oldest action [`Self::find_actions`] would return, without
    /// building the list.
    fn find_existing(
        &mut self,
        rsc: RscIx,
        op: Op,
        interval_ms: u64,
        node: Option<NodeIx>,
    ) -> Option<ActIx> {
        let mut found = None;
        if self.rscs[rsc].ops & op.bit() == 0 {
            return found;
        }
        for i in 0..self.rsc_list(rsc, op).len() {
            let a = self.rsc_list(rsc, op)[i];
            let act = &self.actions[a];
            if act.op != op || act.interval_ms != interval_ms {
                continue;
            }
            let matches = match (node, act.node) {
                (None, _) => true,
                (Some(n), None) => {
                    self.set_node(a, n);
                    true
                }
                (Some(n), Some(x)) => x == n,
            };
            if matches && found.is_none() {
                found = Some(a);
            }
        }
        found
    }

    /// The newest action of `rsc` with this op on `node` (any node when
    /// None) (`find_first_action`).
    pub fn find_first_action(&self, rsc: RscIx, op: Op, node: Option<NodeIx>) -> Option<ActIx> {
        if self.rscs[rsc].ops & op.bit() == 0 {
            return None;
        }
        self.rsc_list(rsc, op).iter().rev().copied().find(|&a| {
            let act = &self.actions[a];
            act.op == op
                && act.interval_ms == 0
                && match node {
                    None => true,
                    Some(n) => act.node == Some(n),
                }
        })
    }

    /// A resource that cannot be assigned: its stops become required, its
    /// starts and recurring monitors unrunnable.
    pub fn update_actions_for_unassigned(&mut self, rsc: RscIx) {
        let all: Vec<ActIx> = self.rscs[rsc]
            .actions
            .iter()
            .chain(self.rscs[rsc].monitors.iter())
            .copied()
            .collect();
        for a in all {
            let act = &self.actions[a];
            match act.op {
                Op::Stop => self.set_optional(a, false),
                Op::Start => self.set_runnable(a, false),
                Op::Monitor if act.interval_ms > 0 => self.set_runnable(a, false),
                _ => {}
            }
        }
    }

    fn pseudo_action(&mut self, rsc: RscIx, op: Op, optional: bool, runnable: bool) -> ActIx {
        let a = self.custom_action(Some(rsc), op, 0, None, optional);
        self.actions[a].pseudo = true;
        if runnable {
            self.set_runnable(a, true);
        }
        a
    }

    // ---------------------------------------------------------------
    // Creating actions
    // ---------------------------------------------------------------

    /// Creates every resource's actions, in scheduling order.
    pub fn create_all_actions(&mut self) {
        if self.startup_probes {
            self.schedule_probes();
        }
        for r in self.top.clone() {
            self.create_actions(r);
        }
    }

    fn create_actions(&mut self, rsc: RscIx) {
        match self.rscs[rsc].variant {
            Variant::Primitive => self.primitive_create_actions(rsc),
            Variant::Group => {
                for m in self.rscs[rsc].children.clone() {
                    self.create_actions(m);
                }
                for op in [Op::Start, Op::Running, Op::Stop, Op::Stopped] {
                    self.group_pseudo(rsc, op);
                }
                if self.rscs[rsc].promotable {
                    for op in [Op::Demote, Op::Demoted, Op::Promote, Op::Promoted] {
                        self.group_pseudo(rsc, op);
                    }
                }
            }
            Variant::Clone => self.clone_create_actions(rsc),
        }
    }

    fn group_pseudo(&mut self, rsc: RscIx, op: Op) {
        let a = self.custom_action(Some(rsc), op, 0, None, true);
        self.actions[a].pseudo = true;
        self.set_runnable(a, true);
    }

    fn clone_create_actions(&mut self, rsc: RscIx) {
        let mut any_starting = false;
        let mut any_stopping = false;
        let mut any_active = false;
        let mut allow_migrations = true;
        for child in self.rscs[rsc].children.clone() {
            self.create_actions(child);
            let (mut stopping, mut starting) = (false, false);
            self.pseudo_status(child, &mut stopping, &mut starting, &mut any_active);
            if stopping && starting {
                allow_migrations = false;
            }
            any_starting |= starting;
            any_stopping |= stopping;
        }
        self.pseudo_action(rsc, Op::Start, !any_starting, true);
        let running = self.pseudo_action(rsc, Op::Running, !any_starting, false);
        if any_active || any_starting {
            self.set_runnable(running, true);
        }
        let stop = self.pseudo_action(rsc, Op::Stop, !any_stopping, true);
        self.pseudo_action(rsc, Op::Stopped, !any_stopping, true);
        if allow_migrations {
            self.actions[stop].migrate_runnable = true;
        }
        self.child_ordering_constraints(rsc);
        if self.rscs[rsc]
            .clone
            .as_ref()
            .map(|c| c.promotable)
            .unwrap_or(false)
        {
            let (mut promoting, mut demoting) = (false, false);
            for child in self.rscs[rsc].children.clone() {
                self.check_role_change(child, &mut demoting, &mut promoting);
            }
            self.pseudo_action(rsc, Op::Promote, !promoting, true);
            self.pseudo_action(rsc, Op::Promoted, !promoting, true);
            self.pseudo_action(rsc, Op::Demote, !demoting, true);
            self.pseudo_action(rsc, Op::Demoted, !demoting, true);
            // Undo the temporary use of priority for promotion.
            let p = self.rscs[rsc].priority;
            for child in self.rscs[rsc].children.clone() {
                self.rscs[child].priority = p;
            }
        }
    }

    fn pseudo_status(
        &self,
        rsc: RscIx,
        stopping: &mut bool,
        starting: &mut bool,
        active: &mut bool,
    ) {
        let r = &self.rscs[rsc];
        if !r.children.is_empty() {
            for &c in &r.children {
                self.pseudo_status(c, stopping, starting, active);
            }
            return;
        }
        if !r.running_on.is_empty() {
            *active = true;
        }
        for &a in r.actions.iter().rev() {
            if *starting && *stopping {
                return;
            }
            let act = &self.actions[a];
            if act.optional || !(act.pseudo || act.runnable) {
                continue;
            }
            match act.op {
                Op::Stop => *stopping = true,
                Op::Start if act.runnable => *starting = true,
                _ => {}
            }
        }
    }

    fn check_role_change(&self, rsc: RscIx, demoting: &mut bool, promoting: &mut bool) {
        let r = &self.rscs[rsc];
        if !r.children.is_empty() {
            for &c in &r.children {
                self.check_role_change(c, demoting, promoting);
            }
            return;
        }
        for &a in &r.actions {
            if *promoting && *demoting {
                return;
            }
            let act = &self.actions[a];
            if act.optional {
                continue;
            }
            match act.op {
                Op::Demote => *demoting = true,
                Op::Promote => *promoting = true,
                _ => {}
            }
        }
    }

    /// For `ordered` clones, each instance's start and stop in turn.
    fn child_ordering_constraints(&mut self, rsc: RscIx) {
        if !self.rscs[rsc]
            .clone
            .as_ref()
            .map(|c| c.ordered)
            .unwrap_or(false)
        {
            return;
        }
        let mut children = self.rscs[rsc].children.clone();
        children.sort_by_key(|&c| self.rscs[c].instance.unwrap_or(0));
        let (mut last_stop, mut last_start) = (None, None);
        for child in children {
            if let Some(stop) = self.single_required_action(child, Op::Stop) {
                if let Some(l) = last_stop {
                    self.order_actions(stop, l, flags::OPTIONAL);
                }
                last_stop = Some(stop);
            }
            if let Some(start) = self.single_required_action(child, Op::Start) {
                if let Some(l) = last_start {
                    self.order_actions(l, start, flags::OPTIONAL);
                }
                last_start = Some(start);
            }
        }
    }

    fn single_required_action(&self, rsc: RscIx, op: Op) -> Option<ActIx> {
        let mut found = None;
        for &a in &self.rscs[rsc].actions {
            let act = &self.actions[a];
            if act.op == op && act.interval_ms == 0 && !act.optional {
                if found.is_some() {
                    return None;
                }
                found = Some(a);
            }
        }
        found
    }

    /// Actions to take a primitive from its role to its next role
    /// (`pcmk__primitive_create_actions`).
    fn primitive_create_actions(&mut self, rsc: RscIx) {
        if self.rscs[rsc].next_role.is_none() {
            let next = if self.rscs[rsc].allocated_to.is_some() {
                Role::Started
            } else {
                Role::Stopped
            };
            self.rscs[rsc].next_role = Some(next);
        }
        let current = self.current_node(rsc);
        let (num_all, num_clean) = self.active_counts(rsc);
        let r = &self.rscs[rsc];
        let next_role = r.next_role.unwrap_or(Role::Stopped);
        let mut need_stop = false;
        let mut need_promote = false;
        let mut is_moving = false;
        if let (Some(c), Some(a)) = (current, r.allocated_to) {
            if c != a && next_role >= Role::Started {
                is_moving = true;
                need_stop = true;
            }
        }
        let multiply_active = if r.needs == Needs::Fencing {
            num_all > 1
        } else {
            num_clean > 1
        };
        if multiply_active {
            match r.recovery {
                crate::model::MultipleActive::StopStart => need_stop = true,
                crate::model::MultipleActive::StopUnexpected => {
                    need_stop = true;
                    self.rscs[rsc].stop_unexpected = true;
                }
                _ => {}
            }
        } else {
            self.rscs[rsc].stop_unexpected = false;
        }
        if self.rscs[rsc].start_pending {
            if let Some(node) = self.rscs[rsc].allocated_to {
                let a = self.custom_action(Some(rsc), Op::Start, 0, Some(node), true);
                self.actions[a].print_always = true;
            }
        }
        let r = &self.rscs[rsc];
        if is_moving {
        } else if r.failed {
            if r.stop {
                need_stop = true;
            } else if next_role == Role::Promoted {
                need_promote = true;
            }
        } else if r.block {
            need_stop = true;
        } else if r.role > Role::Started && current.is_some() && r.allocated_to.is_some() {
            let node = r.allocated_to;
            let start = self.custom_action(Some(rsc), Op::Start, 0, node, true);
            if !self.actions[start].optional {
                need_stop = true;
            }
        }
        self.schedule_restart_actions(rsc, current, need_stop, need_promote);
        self.schedule_role_transition_actions(rsc);
        self.create_recurring_actions(rsc);
    }

    /// The immediate next role on the way from `from` to `to`.
    fn next_role_step(from: Role, to: Role) -> Role {
        use Role::*;
        match (from, to) {
            (Stopped, Stopped) => Stopped,
            (Stopped, Started) => Started,
            (Stopped, Unpromoted) | (Stopped, Promoted) => Unpromoted,
            (Started, Stopped) => Stopped,
            (Started, Started) => Started,
            (Started, Unpromoted) => Unpromoted,
            (Started, Promoted) => Promoted,
            (Unpromoted, Stopped) | (Unpromoted, Started) => Stopped,
            (Unpromoted, Unpromoted) => Unpromoted,
            (Unpromoted, Promoted) => Promoted,
            (Promoted, Promoted) => Promoted,
            (Promoted, _) => Unpromoted,
        }
    }

    /// Runs the transition function from one role to the next; returns
    /// false when there is none.
    fn role_step(
        &mut self,
        rsc: RscIx,
        from: Role,
        to: Role,
        node: Option<NodeIx>,
        optional: bool,
    ) -> bool {
        use Role::*;
        match (from, to) {
            (Stopped, Started) | (Stopped, Unpromoted) => {
                if let Some(n) = node {
                    self.start_resource(rsc, n, optional);
                }
                true
            }
            (Started, Stopped) | (Unpromoted, Stopped) | (Unpromoted, Started) => {
                self.stop_resource(rsc, optional);
                true
            }
            (Started, Promoted) | (Unpromoted, Promoted) => {
                if let Some(n) = node {
                    self.promote_resource(rsc, n, optional);
                }
                true
            }
            (Promoted, Stopped) | (Promoted, Started) | (Promoted, Unpromoted) => {
                self.demote_resource(rsc, optional);
                true
            }
            _ => false,
        }
    }

    fn schedule_restart_actions(
        &mut self,
        rsc: RscIx,
        _current: Option<NodeIx>,
        need_stop: bool,
        need_promote: bool,
    ) {
        self.rscs[rsc].restarting = true;
        let mut role = self.rscs[rsc].role;
        while role != Role::Stopped {
            let next = Self::next_role_step(role, Role::Stopped);
            if !self.role_step(rsc, role, next, None, !need_stop) {
                break;
            }
            role = next;
        }
        let (cur_role, next_role, block) = {
            let r = &self.rscs[rsc];
            (r.role, r.next_role.unwrap_or(Role::Stopped), r.block)
        };
        while cur_role <= next_role && role != cur_role && !block {
            let mut required = need_stop;
            let next = Self::next_role_step(role, cur_role);
            if next == Role::Promoted && need_promote {
                required = true;
            }
            let node = self.rscs[rsc].allocated_to;
            if !self.role_step(rsc, role, next, node, !required) {
                break;
            }
            role = next;
        }
        self.rscs[rsc].restarting = false;
    }

    fn schedule_role_transition_actions(&mut self, rsc: RscIx) {
        let mut role = self.rscs[rsc].role;
        let target = self.rscs[rsc].next_role.unwrap_or(Role::Stopped);
        let mut guard = 0;
        while role != target && guard < 8 {
            guard += 1;
            let next = Self::next_role_step(role, target);
            let node = self.rscs[rsc].allocated_to;
            if !self.role_step(rsc, role, next, node, false) {
                break;
            }
            role = next;
        }
    }

    /// Whether `node` is where a multiply-active resource with
    /// multiple-active=stop_unexpected stays.
    fn is_expected_node(&self, rsc: RscIx, node: NodeIx) -> bool {
        let r = &self.rscs[rsc];
        r.stop_unexpected
            && r.restarting
            && r.next_role > Some(Role::Stopped)
            && r.allocated_to == Some(node)
    }

    fn stop_resource(&mut self, rsc: RscIx, optional: bool) {
        for node in self.rscs[rsc].running_on.clone() {
            if self.is_expected_node(rsc, node) {
                continue;
            }
            let stop = self.custom_action(Some(rsc), Op::Stop, 0, Some(node), optional);
            if self.rscs[rsc].allocated_to.is_none() {
                self.set_reason(stop, "node availability".to_string(), true);
            } else if self.rscs[rsc].restarting && self.rscs[rsc].stop_unexpected {
                self.set_reason(stop, "being multiply active".to_string(), true);
            }
            if !self.rscs[rsc].managed {
                self.set_runnable(stop, false);
            }
        }
    }

    fn start_resource(&mut self, rsc: RscIx, node: NodeIx, optional: bool) {
        let start = self.custom_action(Some(rsc), Op::Start, 0, Some(node), true);
        if self.actions[start].runnable && !optional {
            self.set_optional(start, false);
        }
        if self.is_expected_node(rsc, node) {
            self.actions[start].pseudo = true;
        }
    }

    fn promote_resource(&mut self, rsc: RscIx, node: NodeIx, optional: bool) {
        let starts = self.find_actions(rsc, Op::Start, 0, Some(node));
        let runnable = starts.as_slice().iter().all(|&a| self.actions[a].runnable);
        if runnable {
            let p = self.custom_action(Some(rsc), Op::Promote, 0, Some(node), optional);
            if self.is_expected_node(rsc, node) {
                self.actions[p].pseudo = true;
            }
        } else {
            for &p in self
                .find_actions(rsc, Op::Promote, 0, Some(node))
                .as_slice()
            {
                self.set_runnable(p, false);
            }
        }
    }

    fn demote_resource(&mut self, rsc: RscIx, optional: bool) {
        for node in self.rscs[rsc].running_on.clone() {
            if self.is_expected_node(rsc, node) {
                continue;
            }
            self.custom_action(Some(rsc), Op::Demote, 0, Some(node), optional);
        }
    }

    /// Recurring monitors for the role the resource will have, where it
    /// will be.
    fn create_recurring_actions(&mut self, rsc: RscIx) {
        if self.rscs[rsc].block || self.rscs[rsc].maintenance {
            return;
        }
        let Some(node) = self.rscs[rsc].allocated_to else {
            return;
        };
        if self.nodes[node].maintenance {
            return;
        }
        let next = self.rscs[rsc].next_role.unwrap_or(Role::Stopped);
        if next == Role::Stopped && self.rscs[rsc].managed {
            return;
        }
        // Active roles need a start where the resource will be (optional
        // unless something requires it: a move makes it required).
        let start = self.custom_action(Some(rsc), Op::Start, 0, Some(node), true);
        let model = self.rscs[rsc].model;
        // The model outlives the working set: read its operations in place.
        let cluster = self.cluster;
        let ops = match &cluster.resources[model.0].kind {
            crate::model::ResourceKind::Primitive(p) => &p.operations,
            _ => return,
        };
        for op in ops {
            if op.name != "monitor" || op.interval_ms == 0 || !op.enabled {
                continue;
            }
            let applies = match op.role {
                None => next != Role::Promoted,
                Some(Role::Stopped) => false,
                Some(role) => next == role,
            };
            if !applies {
                continue;
            }
            // The monitor stays as it is (optional) when it already runs
            // there: the resource is active on the node in the role the
            // monitor is for. Otherwise it has to be (re)scheduled.
            let r = &self.rscs[rsc];
            let active_role = match op.role {
                None => r.role != Role::Promoted,
                Some(role) => {
                    r.role == role || (role == Role::Started && r.role == Role::Unpromoted)
                }
            };
            let already_running = r.running_on.contains(&node) && active_role;
            let optional = self.actions[start].optional && already_running;
            let m =
                self.custom_action(Some(rsc), Op::Monitor, op.interval_ms, Some(node), optional);
            let n = &self.nodes[node];
            if !self.actions[start].runnable || !n.online || n.unclean {
                self.set_runnable(m, false);
            }
            if self.rscs[rsc].managed {
                self.new_ordering(
                    Side::Task(rsc, Op::Start),
                    Side::Action(m),
                    flags::IMPLIES_THEN | flags::RUNNABLE_LEFT,
                );
                if next == Role::Promoted {
                    self.new_ordering(
                        Side::Task(rsc, Op::Promote),
                        Side::Action(m),
                        flags::OPTIONAL | flags::RUNNABLE_LEFT,
                    );
                } else if self.rscs[rsc].role == Role::Promoted {
                    self.new_ordering(
                        Side::Task(rsc, Op::Demote),
                        Side::Action(m),
                        flags::OPTIONAL | flags::RUNNABLE_LEFT,
                    );
                }
            }
        }
    }

    // ---------------------------------------------------------------
    // Probes
    // ---------------------------------------------------------------

    fn schedule_probes(&mut self) {
        // Clone instances in instance order, computed once.
        let by_number: Vec<Vec<RscIx>> = self
            .rscs
            .iter()
            .map(|r| {
                if r.variant == Variant::Clone {
                    let mut children = r.children.clone();
                    children.sort_by_key(|&c| self.rscs[c].instance.unwrap_or(0));
                    children
                } else {
                    Vec::new()
                }
            })
            .collect();
        for i in 0..self.node_order.len() {
            let node = self.node_order[i];
            let n = &self.nodes[node];
            if !n.online || n.unclean {
                continue;
            }
            for j in 0..self.top.len() {
                let r = self.top[j];
                self.probe_rsc(r, node, &by_number);
            }
        }
    }

    fn probe_rsc(&mut self, rsc: RscIx, node: NodeIx, by_number: &[Vec<RscIx>]) -> bool {
        match self.rscs[rsc].variant {
            Variant::Group => {
                let mut any = false;
                for i in 0..self.rscs[rsc].children.len() {
                    let c = self.rscs[rsc].children[i];
                    any |= self.probe_rsc(c, node, by_number);
                }
                any
            }
            Variant::Clone => {
                let r = &self.rscs[rsc];
                let unique = r.clone.as_ref().map(|c| c.unique).unwrap_or(false);
                if r.exclusive_discover {
                    let mode = r.discover.get(node).copied().unwrap_or(0);
                    if self.allowed(rsc)[node] != super::arith::ABSENT && mode != 2 {
                        return false;
                    }
                }
                let children = &by_number[rsc];
                if unique {
                    let mut any = false;
                    for &c in children {
                        any |= self.probe_rsc(c, node, by_number);
                    }
                    return any;
                }
                let known = children
                    .iter()
                    .copied()
                    .find(|&c| self.known_anywhere_below(c, node));
                let chosen = known.or_else(|| {
                    children
                        .iter()
                        .copied()
                        .find(|&c| self.location(c, false) == Some(node))
                });
                match chosen.or(children.first().copied()) {
                    Some(c) => self.probe_rsc(c, node, by_number),
                    None => false,
                }
            }
            Variant::Primitive => self.probe_primitive(rsc, node),
        }
    }

    fn known_anywhere_below(&self, rsc: RscIx, node: NodeIx) -> bool {
        let r = &self.rscs[rsc];
        if r.children.is_empty() {
            r.known_on.contains(&node)
        } else {
            r.children
                .iter()
                .any(|&c| self.known_anywhere_below(c, node))
        }
    }

    fn probe_primitive(&mut self, rsc: RscIx, node: NodeIx) -> bool {
        let top = self.top_of(rsc);
        let r = &self.rscs[rsc];
        if r.orphan || r.known_on.contains(&node) {
            return false;
        }
        let allowed = self.allowed(rsc)[node];
        if r.exclusive_discover || self.rscs[top].exclusive_discover {
            if allowed == super::arith::ABSENT {
                return false;
            }
            if r.discover.get(node).copied().unwrap_or(0) != 2 {
                return false;
            }
        }
        if r.discover.get(node).copied().unwrap_or(0) == 1 {
            return false;
        }
        // A probe on a node that can run it only orders the start after it
        // (an optional ordering that changes no flags): keep it out of the
        // graph being propagated, and add it to the transition at the end.
        if !self.nodes[node].pending && self.nodes[node].online {
            let top_clone = self.is_clone(top);
            self.probes
                .push((rsc, node, if top_clone { top } else { rsc }));
            return true;
        }
        // A probe is created once per resource and node: no lookup needed.
        let probe = self.actions.len();
        self.actions.push(Act {
            op: Op::Monitor,
            rsc: Some(rsc),
            node: Some(node),
            interval_ms: 0,
            optional: false,
            runnable: true,
            pseudo: false,
            migrate_runnable: false,
            requires_any: false,
            required_runnable_before: 0,
            runnable_before: 0,
            needs: Needs::Nothing,
            implied_by_fencing: false,
            print_always: false,
            reason: None,
            before: NO_EDGE,
            after: NO_EDGE,
        });
        self.rscs[rsc].monitors.push(probe);
        self.rscs[rsc].ops |= Op::Monitor.bit();
        self.action_changed(probe);
        self.update_action_runnable(probe);
        let target = if self.is_clone(top) { top } else { rsc };
        let mut f = flags::OPTIONAL;
        if !self.actions[probe].runnable && self.rscs[rsc].running_on.is_empty() {
            f |= flags::RUNNABLE_LEFT;
        }
        self.new_ordering(Side::Action(probe), Side::Task(target, Op::Start), f);
        true
    }

    // ---------------------------------------------------------------
    // Implicit orderings
    // ---------------------------------------------------------------

    /// The orderings every resource implies (`internal_constraints`).
    pub fn internal_constraints(&mut self) {
        // About six orderings and three actions per resource: reserve them
        // once rather than grow (and copy) the lists many times.
        self.orderings.reserve(self.rscs.len().saturating_mul(8));
        self.actions.reserve(self.rscs.len().saturating_mul(3));
        for r in self.top.clone() {
            self.rsc_internal_constraints(r);
        }
    }

    fn rsc_internal_constraints(&mut self, rsc: RscIx) {
        use flags::*;
        match self.rscs[rsc].variant {
            Variant::Primitive => {
                if !self.rscs[rsc].managed {
                    return;
                }
                self.order_rsc(
                    rsc,
                    Op::Stop,
                    rsc,
                    Op::Start,
                    OPTIONAL | IMPLIES_THEN | RESTART,
                );
                let top = self.top_of(rsc);
                if self.rscs[top].promotable || self.rscs[rsc].role > Role::Unpromoted {
                    self.order_rsc(rsc, Op::Demote, rsc, Op::Stop, PROMOTED_IMPLIES_FIRST);
                    self.order_rsc(rsc, Op::Start, rsc, Op::Promote, RUNNABLE_LEFT);
                }
            }
            Variant::Group => self.group_internal_constraints(rsc),
            Variant::Clone => self.clone_internal_constraints(rsc),
        }
    }

    fn group_internal_constraints(&mut self, rsc: RscIx) {
        use flags::*;
        self.order_rsc(rsc, Op::Stop, rsc, Op::Stopped, RUNNABLE_LEFT);
        self.order_rsc(rsc, Op::Stopped, rsc, Op::Start, OPTIONAL);
        self.order_rsc(rsc, Op::Start, rsc, Op::Running, RUNNABLE_LEFT);
        let ordered = self.rscs[rsc].group_ordered;
        let colocated = self.rscs[rsc].group_colocated;
        let top = self.top_of(rsc);
        let promotable = self.rscs[top].promotable;
        let mut previous: Option<RscIx> = None;
        let mut last_active: Option<RscIx> = None;
        for member in self.rscs[rsc].children.clone() {
            let mut down = IMPLIES_FIRST_PRINTED;
            let mut post_down = IMPLIES_THEN_PRINTED;
            self.rsc_internal_constraints(member);
            match previous {
                None => {
                    if ordered {
                        down |= OPTIONAL;
                        post_down = IMPLIES_THEN;
                    }
                }
                Some(prev) if colocated => {
                    let critical = self.rscs[member].critical;
                    self.new_colocation(super::working::Coloc {
                        dependent: member,
                        primary: prev,
                        score: INF,
                        dependent_role: None,
                        primary_role: None,
                        influence: critical,
                    });
                }
                Some(_) => {}
            }
            if promotable {
                self.order_rsc(rsc, Op::Demote, member, Op::Demote, down);
                self.order_rsc(member, Op::Demote, rsc, Op::Demoted, post_down);
                self.order_rsc(
                    member,
                    Op::Promote,
                    rsc,
                    Op::Promoted,
                    RUNNABLE_LEFT | IMPLIES_THEN | IMPLIES_THEN_PRINTED,
                );
                self.order_rsc(rsc, Op::Promote, member, Op::Promote, IMPLIES_FIRST_PRINTED);
            }
            self.order_rsc(rsc, Op::Stop, member, Op::Stop, down);
            self.order_rsc(member, Op::Stop, rsc, Op::Stopped, post_down);
            self.order_rsc(rsc, Op::Start, member, Op::Start, IMPLIES_FIRST_PRINTED);
            self.order_rsc(
                member,
                Op::Start,
                rsc,
                Op::Running,
                RUNNABLE_LEFT | IMPLIES_THEN | IMPLIES_THEN_PRINTED,
            );
            if !ordered {
                self.order_rsc(
                    rsc,
                    Op::Start,
                    member,
                    Op::Start,
                    IMPLIES_THEN | RUNNABLE_LEFT | IMPLIES_FIRST_PRINTED,
                );
                if promotable {
                    self.order_rsc(
                        rsc,
                        Op::Promote,
                        member,
                        Op::Promote,
                        IMPLIES_THEN | RUNNABLE_LEFT | IMPLIES_FIRST_PRINTED,
                    );
                }
            } else if let Some(prev) = previous {
                self.order_rsc(
                    prev,
                    Op::Start,
                    member,
                    Op::Start,
                    IMPLIES_THEN | RUNNABLE_LEFT,
                );
                self.order_rsc(member, Op::Stop, prev, Op::Stop, OPTIONAL | RESTART);
                if promotable {
                    self.order_rsc(
                        prev,
                        Op::Promote,
                        member,
                        Op::Promote,
                        IMPLIES_THEN | RUNNABLE_LEFT,
                    );
                    self.order_rsc(member, Op::Demote, prev, Op::Demote, OPTIONAL);
                }
            }
            if !self.rscs[member].running_on.is_empty() {
                if let (true, Some(prev), Some(last)) = (ordered, previous, last_active) {
                    if self.rscs[prev].running_on.is_empty()
                        && !self.rscs[last].running_on.is_empty()
                    {
                        self.order_rsc(member, Op::Stop, last, Op::Stop, OPTIONAL);
                    }
                }
                last_active = Some(member);
            }
            previous = Some(member);
        }
    }

    fn clone_internal_constraints(&mut self, rsc: RscIx) {
        use flags::*;
        let (ordered, promotable) = {
            let c = self.rscs[rsc].clone.as_ref();
            (
                c.map(|c| c.ordered).unwrap_or(false),
                c.map(|c| c.promotable).unwrap_or(false),
            )
        };
        self.order_rsc(rsc, Op::Stopped, rsc, Op::Start, OPTIONAL);
        self.order_rsc(rsc, Op::Start, rsc, Op::Running, RUNNABLE_LEFT);
        self.order_rsc(rsc, Op::Stop, rsc, Op::Stopped, RUNNABLE_LEFT);
        if promotable {
            self.order_rsc(rsc, Op::Demoted, rsc, Op::Stop, OPTIONAL);
            self.order_rsc(rsc, Op::Running, rsc, Op::Promote, RUNNABLE_LEFT);
        }
        let mut children = self.rscs[rsc].children.clone();
        if ordered {
            children.sort_by_key(|&c| self.rscs[c].instance.unwrap_or(0));
            self.rscs[rsc].children = children.clone();
        }
        let mut last: Option<RscIx> = None;
        for &child in &children {
            self.rsc_internal_constraints(child);
            self.order_rsc(
                rsc,
                Op::Start,
                child,
                Op::Start,
                RUNNABLE_LEFT | IMPLIES_FIRST_PRINTED,
            );
            self.order_rsc(child, Op::Start, rsc, Op::Running, IMPLIES_THEN_PRINTED);
            if let (true, Some(l)) = (ordered, last) {
                self.order_rsc(l, Op::Start, child, Op::Start, OPTIONAL);
            }
            self.order_rsc(rsc, Op::Stop, child, Op::Stop, IMPLIES_FIRST_PRINTED);
            self.order_rsc(child, Op::Stop, rsc, Op::Stopped, IMPLIES_THEN_PRINTED);
            if let (true, Some(l)) = (ordered, last) {
                self.order_rsc(child, Op::Stop, l, Op::Stop, OPTIONAL);
            }
            last = Some(child);
        }
        if promotable {
            self.order_rsc(rsc, Op::Stopped, rsc, Op::Start, OPTIONAL);
            self.order_rsc(rsc, Op::Stopped, rsc, Op::Promote, OPTIONAL);
            self.order_rsc(rsc, Op::Demoted, rsc, Op::Stop, OPTIONAL);
            self.order_rsc(rsc, Op::Demoted, rsc, Op::Start, OPTIONAL);
            self.order_rsc(rsc, Op::Demoted, rsc, Op::Promote, OPTIONAL);
            self.order_rsc(rsc, Op::Running, rsc, Op::Promote, OPTIONAL);
            self.order_rsc(rsc, Op::Demote, rsc, Op::Demoted, OPTIONAL);
            let mut previous: Option<RscIx> = None;
            for &child in &children {
                self.order_rsc(child, Op::Demote, child, Op::Promote, OPTIONAL);
                self.order_rsc(rsc, Op::Promote, child, Op::Promote, OPTIONAL);
                self.order_rsc(child, Op::Promote, rsc, Op::Promoted, OPTIONAL);
                if let (true, Some(p)) = (ordered, previous) {
                    self.order_rsc(p, Op::Promote, child, Op::Promote, OPTIONAL);
                }
                self.order_rsc(rsc, Op::Demote, child, Op::Demote, IMPLIES_FIRST_PRINTED);
                self.order_rsc(child, Op::Demote, rsc, Op::Demoted, IMPLIES_THEN_PRINTED);
                if let (true, Some(p)) = (ordered, previous) {
                    self.order_rsc(child, Op::Demote, p, Op::Demote, OPTIONAL);
                }
                previous = Some(child);
            }
        }
    }

    /// Orders the actions that take the primary of a mandatory
    /// anti-colocation out of its role before the dependent takes it.
    pub fn anti_colocation_order(
        &mut self,
        first: RscIx,
        first_role: Option<Role>,
        then: RscIx,
        then_role: Option<Role>,
    ) {
        let first_tasks: Vec<Op> = match first_role {
            Some(Role::Promoted) => vec![Op::Demote],
            Some(Role::Unpromoted) => vec![Op::Stop, Op::Promote],
            _ => vec![Op::Stop],
        };
        let then_tasks: Vec<Op> = match then_role {
            Some(Role::Promoted) => vec![Op::Promote],
            Some(Role::Unpromoted) => vec![Op::Start, Op::Demote],
            _ => vec![Op::Start],
        };
        for &f in &first_tasks {
            for &t in &then_tasks {
                self.order_rsc(first, f, then, t, flags::ANTI_COLOCATION);
            }
        }
    }

    /// The configured `rsc_order` constraints.
    pub fn unpack_orders(&mut self) {
        use flags::*;
        let cluster = self.cluster;
        for o in &cluster.orders {
            let (Some(first), Some(then)) =
                (self.constraint_rsc(o.first), self.constraint_rsc(o.then))
            else {
                continue;
            };
            let first_op = Op::from(o.first_action);
            let then_op = Op::from(o.then_action);
            let symmetric = o.symmetrical && o.kind != OrderKind::Serialize;
            let mut flags = OPTIONAL;
            match o.kind {
                OrderKind::Optional => {}
                OrderKind::Serialize => flags |= SERIALIZE_ONLY,
                OrderKind::Mandatory => {
                    if symmetric {
                        flags |= IMPLIES_THEN;
                        if matches!(first_op, Op::Start | Op::Promote) {
                            flags |= RUNNABLE_LEFT;
                        }
                    } else {
                        flags |= ASYMMETRICAL;
                    }
                }
            }
            let restart_type =
                o.kind == OrderKind::Optional && self.rscs[then].restart_type_restart;
            if restart_type {
                flags |= IMPLIES_THEN;
            }
            let clone_min = if self.is_clone(first) {
                match self.rscs[first].clone.as_ref().map(|c| c.min).unwrap_or(0) {
                    0 if !o.require_all => 1,
                    min => min,
                }
            } else {
                0
            };
            if clone_min > 0 {
                self.clone_min_ordering(&o.id, first, first_op, then, then_op, flags, clone_min);
            } else {
                self.order_rsc(first, first_op, then, then_op, flags);
            }
            if symmetric {
                let mut inv = OPTIONAL;
                if o.kind == OrderKind::Mandatory || restart_type {
                    inv |= IMPLIES_FIRST;
                }
                self.order_rsc(then, then_op.invert(), first, first_op.invert(), inv);
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn clone_min_ordering(
        &mut self,
        id: &str,
        first: RscIx,
        first_op: Op,
        then: RscIx,
        then_op: Op,
        flags: u32,
        min: u32,
    ) {
        let ix = self.actions.len();
        self.clone_min_names
            .push((ix, format!("clone-one-or-more:{id}")));
        self.actions.push(Act {
            op: Op::ClonesMin,
            rsc: None,
            node: None,
            interval_ms: ix as u64,
            optional: true,
            runnable: true,
            pseudo: true,
            migrate_runnable: false,
            requires_any: true,
            required_runnable_before: min,
            runnable_before: 0,
            needs: Needs::Nothing,
            implied_by_fencing: false,
            print_always: false,
            reason: None,
            before: NO_EDGE,
            after: NO_EDGE,
        });
        for child in self.rscs[first].children.clone() {
            self.new_ordering(
                Side::Task(child, first_op),
                Side::Action(ix),
                flags::ONE_OR_MORE | flags::IMPLIES_THEN_PRINTED,
            );
        }
        self.new_ordering(
            Side::Action(ix),
            Side::Task(then, then_op),
            flags | flags::RUNNABLE_LEFT,
        );
    }

    // ---------------------------------------------------------------
    // Fencing
    // ---------------------------------------------------------------

    /// Fences unclean nodes (when possible) and orders what depends on it.
    pub fn schedule_fencing(&mut self) {
        let have_managed = self.top.iter().any(|&r| self.any_managed(r));
        let mut fencing: Vec<ActIx> = Vec::new();
        let mut dc_down: Option<ActIx> = None;
        for node in self.node_order.clone() {
            let n = &self.nodes[node];
            if have_managed && n.unclean && self.can_fence(Some(node)) {
                let f = self.custom_action(None, Op::Fence, 0, Some(node), false);
                self.set_optional(f, false);
                self.order_vs_fence(f, node);
                if self.nodes[node].is_dc {
                    dc_down = Some(f);
                } else {
                    if !self.concurrent_fencing {
                        if let Some(&last) = fencing.last() {
                            self.order_actions(last, f, flags::OPTIONAL);
                        }
                    }
                    fencing.push(f);
                }
            } else if n.online && n.shutdown {
                let s = self.custom_action(None, Op::Shutdown, 0, Some(node), false);
                self.order_stops_before_shutdown(node, s);
                if self.nodes[node].is_dc {
                    dc_down = Some(s);
                }
            }
        }
        if let Some(dc) = dc_down {
            if let Some(&last) = fencing.last() {
                self.order_actions(last, dc, flags::OPTIONAL);
            }
        }
    }

    fn order_stops_before_shutdown(&mut self, node: NodeIx, shutdown: ActIx) {
        for a in 0..self.actions.len() {
            let act = &self.actions[a];
            let Some(r) = act.rsc else {
                continue;
            };
            if act.node != Some(node) || act.op != Op::Stop || act.interval_ms != 0 {
                continue;
            }
            if self.rscs[r].maintenance || self.nodes[node].maintenance {
                continue;
            }
            if !(self.rscs[r].managed || self.rscs[r].block) {
                continue;
            }
            self.set_optional(a, false);
            self.order_actions(a, shutdown, flags::OPTIONAL | flags::RUNNABLE_LEFT);
        }
    }

    fn order_vs_fence(&mut self, fence: ActIx, target: NodeIx) {
        for r in self.top.clone() {
            self.rsc_fence_ordering(r, fence, target);
        }
    }

    fn rsc_fence_ordering(&mut self, rsc: RscIx, fence: ActIx, target: NodeIx) {
        if !self.rscs[rsc].children.is_empty() {
            for c in self.rscs[rsc].children.clone() {
                self.rsc_fence_ordering(c, fence, target);
            }
            return;
        }
        if !self.rscs[rsc].managed {
            return;
        }
        // Starts (and promotes) that need fencing come after it.
        for a in self.rscs[rsc].actions.clone() {
            match self.actions[a].needs {
                Needs::Nothing => {}
                Needs::Fencing => {
                    self.order_actions(fence, a, flags::OPTIONAL);
                }
                Needs::Quorum => {
                    if self.actions[a].op == Op::Start
                        && self.allowed(rsc)[target] != super::arith::ABSENT
                        && !self.rsc_known_on_for_fencing(rsc, target)
                    {
                        self.order_actions(fence, a, flags::OPTIONAL | flags::RUNNABLE_LEFT);
                    }
                }
            }
        }
        // Stops on the fenced node are implied by the fencing.
        let implicit = self.rscs[rsc].needs == Needs::Fencing;
        let stops = self.find_actions(rsc, Op::Stop, 0, Some(target));
        let top = self.top_of(rsc);
        let parent_stop = if implicit && !stops.is_empty() {
            self.find_first_action(top, Op::Stop, None)
        } else {
            None
        };
        for &s in stops.as_slice() {
            self.actions[s].pseudo = true;
            self.set_runnable(s, true);
            if implicit {
                self.actions[s].implied_by_fencing = true;
                self.order_actions(fence, s, flags::PRESERVE);
                if let Some(p) = parent_stop {
                    self.order_actions(fence, p, flags::PRESERVE);
                }
            }
        }
        let failed = self.rscs[rsc].failed;
        for &d in self
            .find_actions(rsc, Op::Demote, 0, Some(target))
            .as_slice()
        {
            let node = &self.nodes[target];
            if !node.online || node.unclean || failed {
                self.actions[d].pseudo = true;
                self.set_runnable(d, true);
                if implicit {
                    self.order_actions(fence, d, flags::PRESERVE | flags::OPTIONAL);
                }
            }
        }
    }

    fn rsc_known_on_for_fencing(&self, rsc: RscIx, node: NodeIx) -> bool {
        if self.rscs[rsc].known_on.contains(&node) {
            return true;
        }
        if let Some(p) = self.rscs[rsc].parent {
            let anon_clone = self.is_clone(p)
                && !self.rscs[p]
                    .clone
                    .as_ref()
                    .map(|c| c.unique)
                    .unwrap_or(false);
            if anon_clone && self.rscs[p].known_on.contains(&node) {
                return true;
            }
        }
        false
    }
}
