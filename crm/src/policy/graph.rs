//! Resolving orderings into edges of the action graph and propagating
//! what they imply until nothing changes: a required `first` makes `then`
//! required, an unrunnable mandatory `first` makes `then` unrunnable (and
//! the resource stays or becomes stopped), a restart of what a resource
//! needs restarts it, and mandatory colocations block the dependents of
//! what cannot start.
//!
//! Every step only clears flags (optional → required, runnable →
//! unrunnable), so the flags reach the same fixpoint whatever order actions
//! are visited in. The *reasons* do not: an action keeps the first reason
//! given (`required X start` when its optional flag is cleared first,
//! `unrunnable X running` when its runnable flag is), and crm_simulate
//! prints them. So the updates run in Pacemaker's order: every action,
//! newest first; within one, its orderings newest first; and a change
//! re-evaluates what it affects at once, depth first
//! (`pcmk__update_action_for_orderings`), nesting up to [`MAX_DEPTH`]
//! (deeper updates wait on a work list, so hostile chains cannot exhaust
//! the stack) within a budget of updates.

use super::actions::{flags, Op, Side, NO_EDGE};
use super::few::Few;
use super::working::{ActIx, RscIx, Variant, WorkingSet};

/// Flags of an action, as the propagation reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct AFlags {
    pub optional: bool,
    pub runnable: bool,
    pub pseudo: bool,
    pub migrate_runnable: bool,
}

/// What a clone's action derives from its instances' actions (see
/// `WorkingSet::cached_summary`), for every node at once.
#[derive(Debug, Clone)]
pub(super) struct Summary {
    /// The clone's `WorkingSet::changes` when this was computed.
    stamp: u64,
    /// Over all instances: no action required, some action runnable.
    optional: bool,
    runnable: bool,
    /// Per node: [`Summary::REQUIRED`] and [`Summary::RUNNABLE`] bits of
    /// the instances' actions there.
    nodes: Vec<u8>,
}

impl Summary {
    const REQUIRED: u8 = 1;
    const RUNNABLE: u8 = 2;
}

/// Which side of an ordering changed.
#[derive(Debug, Clone, Copy, Default)]
struct Changed {
    first: bool,
    then: bool,
}

impl std::ops::BitOrAssign for Changed {
    fn bitor_assign(&mut self, o: Changed) {
        self.first |= o.first;
        self.then |= o.then;
    }
}

const F_OPTIONAL: u8 = 1;
const F_RUNNABLE: u8 = 2;

/// Nested updates beyond this depth are deferred to the work list.
const MAX_DEPTH: u32 = 64;
/// Updates one propagation may run at most (it needs far fewer: every
/// update that recurses follows a flag change, and flags only clear).
const UPDATE_BUDGET: u64 = 50_000_000;

impl WorkingSet<'_> {
    fn aflags(&self, a: ActIx) -> AFlags {
        let act = &self.actions[a];
        AFlags {
            optional: act.optional,
            runnable: act.runnable,
            pseudo: act.pseudo,
            migrate_runnable: act.migrate_runnable,
        }
    }

    /// Resolves every ordering and propagates (`pcmk__apply_orderings`).
    pub fn apply_orderings(&mut self) {
        let orderings = std::mem::take(&mut self.orderings);
        self.edges.reserve(orderings.len());
        for o in &orderings {
            match o.first {
                Side::Task(rsc, op) => self.rsc_order_first(rsc, op, o.then, o.flags),
                Side::Action(a) => match o.then {
                    Side::Task(then_rsc, then_op) => {
                        self.order_resource_actions_after(Some(a), then_rsc, then_op, o.flags)
                    }
                    Side::Action(t) => {
                        self.order_actions(a, t, o.flags);
                    }
                },
            }
        }
        self.orderings = orderings;
        self.queued = vec![false; self.actions.len()];
        self.update_budget = UPDATE_BUDGET;
        // Pacemaker walks its action list, newest action first.
        for a in (0..self.actions.len()).rev() {
            self.block_colocation_dependents(a);
            self.drain();
        }
        for a in (0..self.actions.len()).rev() {
            self.update_action(a);
            self.drain();
        }
    }

    fn rsc_order_first(&mut self, first_rsc: RscIx, op: Op, then: Side, flags_: u32) {
        let mut firsts = self.find_actions(first_rsc, op, 0, None);
        let then_rsc = match then {
            Side::Task(r, _) => Some(r),
            Side::Action(a) => self.actions[a].rsc,
        };
        if firsts.is_empty() && Some(first_rsc) != then_rsc {
            let state = self.state(first_rsc, true);
            let skip = (state == Some(crate::model::Role::Stopped) || state.is_none())
                && op == Op::Stop
                || state == Some(crate::model::Role::Unpromoted) && op == Op::Demote;
            if !skip {
                let a = self.custom_action(Some(first_rsc), op, 0, None, true);
                firsts.push(a);
            }
        }
        for &f in firsts.as_slice() {
            match then {
                Side::Task(r, top) => self.order_resource_actions_after(Some(f), r, top, flags_),
                Side::Action(t) => {
                    self.order_actions(f, t, flags_);
                }
            }
        }
    }

    fn order_resource_actions_after(
        &mut self,
        first: Option<ActIx>,
        then_rsc: RscIx,
        op: Op,
        flags_: u32,
    ) {
        let thens = self.find_actions(then_rsc, op, 0, None);
        if thens.is_empty() {
            return;
        }
        if first.is_none() && flags_ & flags::IMPLIES_THEN == 0 {
            return;
        }
        for &t in thens.as_slice() {
            match first {
                Some(f) => {
                    self.order_actions(f, t, flags_);
                }
                None => self.set_runnable(t, false),
            }
        }
    }

    /// Runs the updates deferred for depth until none is left.
    fn drain(&mut self) {
        while let Some(a) = self.stack.pop() {
            if let Some(q) = self.queued.get_mut(a) {
                *q = false;
            }
            if self.update_budget == 0 {
                self.stack.clear();
                break;
            }
            self.update_action(a);
        }
    }

    fn enqueue(&mut self, a: ActIx) {
        if a >= self.queued.len() {
            self.queued.resize(self.actions.len().max(a + 1), false);
        }
        if !self.queued[a] {
            self.queued[a] = true;
            self.stack.push(a);
        }
    }

    /// Updates everything ordered after `a`, newest ordering first.
    fn update_after(&mut self, a: ActIx) {
        // Edges added meanwhile go before the one this walk started at.
        let mut e = self.actions[a].after;
        while e != NO_EDGE {
            let (then, next) = (self.edges[e].then, self.edges[e].next_after);
            self.update_action(then);
            e = next;
        }
    }

    /// Re-evaluates an action against everything ordered before it
    /// (`pcmk__update_action_for_orderings`), now, or (too deep) later.
    fn update_action(&mut self, then: ActIx) {
        if self.update_budget == 0 {
            return;
        }
        if self.update_depth >= MAX_DEPTH {
            self.enqueue(then);
            return;
        }
        self.update_budget -= 1;
        self.update_depth += 1;
        self.update_action_now(then);
        self.update_depth -= 1;
    }

    fn update_action_now(&mut self, then: ActIx) {
        let last = self.aflags(then);
        if self.actions[then].requires_any {
            self.actions[then].runnable_before = 0;
            if self.actions[then].required_runnable_before == 0 {
                self.actions[then].required_runnable_before = 1;
            }
            self.set_runnable(then, false);
        }
        let mut changed_then = false;
        // Newest ordering first; orderings added meanwhile are not visited
        // (Pacemaker prepends them to the list it is walking).
        let mut next = self.actions[then].before;
        while next != NO_EDGE {
            let e = next;
            next = self.edges[e].next_before;
            let eflags = self.edges[e].flags;
            if eflags == 0 {
                continue;
            }
            let first = self.edges[e].first;
            let mut then_node = self.actions[then].node;
            let mut first_node = self.actions[first].node;
            if let Some(r) = self.actions[first].rsc {
                if self.rscs[r].variant == Variant::Group && self.actions[first].op == Op::Start {
                    first_node = self.location(r, false);
                }
            }
            if let Some(r) = self.actions[then].rsc {
                if self.rscs[r].variant == Variant::Group && self.actions[then].op == Op::Start {
                    then_node = self.location(r, false);
                }
            }
            if eflags & flags::SAME_NODE != 0 {
                if let (Some(a), Some(b)) = (first_node, then_node) {
                    if a != b {
                        self.edges[e].flags = 0;
                        continue;
                    }
                }
            }
            let mut f = first;
            if let (Some(fr), Some(tr)) = (self.actions[first].rsc, self.actions[then].rsc) {
                if fr != tr && !self.is_ancestor(fr, tr) {
                    f = self.action_for_ordering(first);
                }
            }
            let mut changed = Changed::default();
            if f == first {
                let first_flags = self.flags_for_ordering(first, then_node);
                let then_flags = self.flags_for_ordering(then, first_node);
                changed =
                    self.update_for_ordering_flags(first, then, first_flags, then_flags, eflags);
            } else if self.order_actions(f, then, eflags) {
                changed.then = true;
                self.edges[e].flags = 0;
            }
            if changed.first {
                self.update_after(first);
                self.update_action(first);
            }
            changed_then |= changed.then;
        }
        if self.actions[then].requires_any {
            changed_then = last != self.aflags(then);
        }
        if changed_then {
            if last.runnable && !self.actions[then].runnable {
                self.block_colocation_dependents(then);
            }
            self.update_action(then);
            self.update_after(then);
        }
    }

    /// A collective's `start` ordered before something else means its
    /// `running` (`action_for_ordering`).
    fn action_for_ordering(&self, a: ActIx) -> ActIx {
        let act = &self.actions[a];
        let Some(r) = act.rsc else {
            return a;
        };
        if self.rscs[r].variant == Variant::Primitive || act.interval_ms != 0 {
            return a;
        }
        let Some(done) = act.op.done() else {
            return a;
        };
        self.find_first_action(r, done, None).unwrap_or(a)
    }

    /// `action_flags_for_ordering`.
    fn flags_for_ordering(&mut self, a: ActIx, node: Option<usize>) -> AFlags {
        let Some(r) = self.actions[a].rsc else {
            return self.aflags(a);
        };
        let flags_ = self.action_flags(a, None);
        if node.is_none() || self.rscs[r].variant != Variant::Clone {
            return flags_;
        }
        let runnable = flags_.runnable;
        let mut f = self.action_flags(a, node);
        if runnable && !f.runnable {
            f.runnable = true;
        }
        f
    }

    /// Flags of an action by its resource's variant (collectives derive
    /// theirs from their children).
    pub fn action_flags(&mut self, a: ActIx, node: Option<usize>) -> AFlags {
        let Some(r) = self.actions[a].rsc else {
            return self.aflags(a);
        };
        match self.rscs[r].variant {
            Variant::Primitive => self.aflags(a),
            Variant::Group => self.group_action_flags(a, r, node),
            Variant::Clone => self.summary_action_flags(a, r, node),
        }
    }

    fn group_action_flags(&mut self, a: ActIx, group: RscIx, node: Option<usize>) -> AFlags {
        let mut f = AFlags {
            optional: true,
            runnable: true,
            pseudo: true,
            migrate_runnable: false,
        };
        let op = self.actions[a].op;
        // Children lists do not change once actions exist: walk by index.
        for i in 0..self.rscs[group].children.len() {
            let member = self.rscs[group].children[i];
            let task = if self.rscs[member].variant == Variant::Primitive {
                op.atomic()
            } else {
                op
            };
            match self.find_first_action(member, task, node) {
                Some(ma) => {
                    let mf = self.action_flags(ma, node);
                    if f.optional && !mf.optional {
                        f.optional = false;
                        self.set_optional(a, false);
                    }
                    if task != op && f.runnable && !mf.runnable {
                        f.runnable = false;
                        self.set_runnable(a, false);
                    }
                }
                None => {
                    if task != Op::Stop && task != Op::Demote {
                        f.runnable = false;
                    }
                }
            }
        }
        f
    }

    fn summary_action_flags(&mut self, a: ActIx, clone: RscIx, node: Option<usize>) -> AFlags {
        if let Some(f) = self.cached_summary(a, clone, node) {
            return f;
        }
        let op = self.actions[a].op;
        let task = match self.rscs[clone].children.first() {
            Some(&c) if self.rscs[c].variant == Variant::Primitive => op.atomic(),
            _ => op,
        };
        let mut f = AFlags {
            optional: true,
            runnable: true,
            pseudo: true,
            migrate_runnable: false,
        };
        let mut any_runnable = false;
        for i in 0..self.rscs[clone].children.len() {
            let child = self.rscs[clone].children[i];
            let n = if self.rscs[child].children.is_empty() {
                node
            } else {
                None
            };
            if let Some(ca) = self.find_first_action(child, task, n) {
                let cf = self.action_flags(ca, node);
                if f.optional && !cf.optional {
                    f.optional = false;
                    self.set_optional(a, false);
                }
                if cf.runnable {
                    any_runnable = true;
                }
            }
        }
        if !any_runnable {
            f.runnable = false;
            if node.is_none() {
                self.set_runnable(a, false);
            }
        }
        f
    }

    /// [`Self::summary_action_flags`] for a clone of primitives, from the
    /// clone's [`Summary`] (recomputed once an instance's action changed),
    /// with the same effect on the clone's action; None for a clone of
    /// groups.
    ///
    /// The propagation asks for a clone action's flags once per ordering
    /// it visits, and a clone's `running` has an ordering from every
    /// instance: without the cache, each visit walks all instances again.
    fn cached_summary(&mut self, a: ActIx, clone: RscIx, node: Option<usize>) -> Option<AFlags> {
        if self.summary_slots.len() <= a {
            self.summary_slots
                .resize(self.actions.len().max(a + 1), u32::MAX);
        }
        let stamp = self.changes[clone];
        let mut slot = self.summary_slots[a] as usize;
        if self.summaries.get(slot).map(|s| s.stamp) != Some(stamp) {
            let mut nodes = match self.summaries.get_mut(slot) {
                Some(s) => std::mem::take(&mut s.nodes),
                None => Vec::new(),
            };
            let (optional, runnable) = self.summarize_instances(a, clone, &mut nodes)?;
            let summary = Summary {
                stamp,
                optional,
                runnable,
                nodes,
            };
            if slot < self.summaries.len() {
                self.summaries[slot] = summary;
            } else {
                slot = self.summaries.len();
                self.summaries.push(summary);
                self.summary_slots[a] = u32::try_from(slot).unwrap_or(u32::MAX);
            }
        }
        let s = &self.summaries[slot];
        let (optional, runnable) = match node {
            None => (s.optional, s.runnable),
            Some(n) => {
                let bits = s.nodes.get(n).copied().unwrap_or(0);
                (bits & Summary::REQUIRED == 0, bits & Summary::RUNNABLE != 0)
            }
        };
        debug_assert_eq!(
            (optional, runnable),
            self.summary_uncached(a, clone, node),
            "stale clone summary: an action changed without set_optional, set_runnable, \
             set_node or action_changed"
        );
        if !optional {
            self.set_optional(a, false);
        }
        if !runnable && node.is_none() {
            self.set_runnable(a, false);
        }
        Some(AFlags {
            optional,
            runnable,
            pseudo: true,
            migrate_runnable: false,
        })
    }

    /// Over a clone's primitive instances: whether each one's newest action
    /// for the clone action's task is optional (all) and runnable (any),
    /// and per node, the same for each one's newest such action on that
    /// node (in `nodes`). None when an instance is not a primitive.
    fn summarize_instances(
        &self,
        a: ActIx,
        clone: RscIx,
        nodes: &mut Vec<u8>,
    ) -> Option<(bool, bool)> {
        let task = self.actions[a].op.atomic();
        nodes.clear();
        nodes.resize(self.nodes.len(), 0);
        let (mut optional, mut runnable) = (true, false);
        for &child in &self.rscs[clone].children {
            if self.rscs[child].variant != Variant::Primitive {
                return None;
            }
            let mut newest = true;
            let mut seen: Few<4> = Few::new();
            for &ca in self.rsc_list(child, task).iter().rev() {
                let act = &self.actions[ca];
                if act.op != task || act.interval_ms != 0 {
                    continue;
                }
                if newest {
                    newest = false;
                    optional &= act.optional;
                    runnable |= act.runnable;
                }
                if let Some(n) = act.node {
                    if !seen.contains(&n) {
                        seen.push(n);
                        if let Some(bits) = nodes.get_mut(n) {
                            if !act.optional {
                                *bits |= Summary::REQUIRED;
                            }
                            if act.runnable {
                                *bits |= Summary::RUNNABLE;
                            }
                        }
                    }
                }
            }
        }
        Some((optional, runnable))
    }

    /// What [`Self::summary_action_flags`] computes for a clone of
    /// primitives, without the cache or effects: (optional, runnable).
    fn summary_uncached(&self, a: ActIx, clone: RscIx, node: Option<usize>) -> (bool, bool) {
        let task = self.actions[a].op.atomic();
        let (mut optional, mut runnable) = (true, false);
        for &child in &self.rscs[clone].children {
            if let Some(ca) = self.find_first_action(child, task, node) {
                optional &= self.actions[ca].optional;
                runnable |= self.actions[ca].runnable;
            }
        }
        (optional, runnable)
    }

    /// `update_action_for_ordering_flags`.
    fn update_for_ordering_flags(
        &mut self,
        first: ActIx,
        then: ActIx,
        ff: AFlags,
        tf: AFlags,
        t: u32,
    ) -> Changed {
        let mut changed = Changed::default();
        let node = self.actions[then].node;
        let then_rsc = self.actions[then].rsc;
        let first_rsc = self.actions[first].rsc;
        if t & flags::IMPLIES_THEN != 0 {
            match then_rsc {
                Some(r) => {
                    let fl = AFlags {
                        optional: ff.optional,
                        runnable: false,
                        pseudo: false,
                        migrate_runnable: false,
                    };
                    changed |= self.update_ordered(
                        r,
                        first,
                        then,
                        node,
                        fl,
                        F_OPTIONAL,
                        flags::IMPLIES_THEN,
                    );
                }
                None => {
                    if !ff.optional && self.actions[then].optional {
                        self.set_optional(then, false);
                        changed.then = true;
                    }
                }
            }
        }
        if t & flags::RESTART != 0 {
            if let Some(r) = then_rsc {
                changed |= self.update_ordered(
                    r,
                    first,
                    then,
                    node,
                    ff,
                    F_OPTIONAL | F_RUNNABLE,
                    flags::RESTART,
                );
            }
        }
        if t & flags::IMPLIES_FIRST != 0 {
            match first_rsc {
                Some(r) => {
                    changed |= self.update_ordered(
                        r,
                        first,
                        then,
                        node,
                        ff,
                        F_OPTIONAL,
                        flags::IMPLIES_FIRST,
                    );
                }
                None => {
                    if !ff.optional && self.actions[first].runnable {
                        self.set_runnable(first, false);
                        changed.first = true;
                    }
                }
            }
        }
        if t & flags::PROMOTED_IMPLIES_FIRST != 0 {
            if let Some(r) = then_rsc {
                let fl = AFlags {
                    optional: ff.optional,
                    runnable: false,
                    pseudo: false,
                    migrate_runnable: false,
                };
                changed |= self.update_ordered(
                    r,
                    first,
                    then,
                    node,
                    fl,
                    F_OPTIONAL,
                    flags::PROMOTED_IMPLIES_FIRST,
                );
            }
        }
        if t & flags::ONE_OR_MORE != 0 {
            match then_rsc {
                Some(r) => {
                    changed |= self.update_ordered(
                        r,
                        first,
                        then,
                        node,
                        ff,
                        F_RUNNABLE,
                        flags::ONE_OR_MORE,
                    );
                }
                None => {
                    if ff.runnable {
                        self.actions[then].runnable_before += 1;
                        let act = &self.actions[then];
                        if act.runnable_before >= act.required_runnable_before && !act.runnable {
                            self.set_runnable(then, true);
                            changed.then = true;
                        }
                    }
                }
            }
        }
        if t & flags::RUNNABLE_LEFT != 0 {
            match then_rsc {
                Some(r) => {
                    changed |= self.update_ordered(
                        r,
                        first,
                        then,
                        node,
                        ff,
                        F_RUNNABLE,
                        flags::RUNNABLE_LEFT,
                    );
                }
                None => {
                    if !ff.runnable && self.actions[then].runnable {
                        self.set_runnable(then, false);
                        let reason = self.reason_from(first, false);
                        self.set_reason(then, reason, false);
                        changed.then = true;
                    }
                }
            }
        }
        if t & flags::OPTIONAL != 0 {
            if let Some(r) = then_rsc {
                changed |=
                    self.update_ordered(r, first, then, node, ff, F_RUNNABLE, flags::OPTIONAL);
            }
        }
        if t & flags::ASYMMETRICAL != 0 {
            if let Some(r) = then_rsc {
                changed |=
                    self.update_ordered(r, first, then, node, ff, F_RUNNABLE, flags::ASYMMETRICAL);
            }
        }
        if self.actions[first].runnable && t & flags::IMPLIES_THEN_PRINTED != 0 && !ff.optional {
            self.actions[then].print_always = true;
        }
        if t & flags::IMPLIES_FIRST_PRINTED != 0 && !tf.optional {
            self.actions[first].print_always = true;
        }
        if t & (flags::IMPLIES_THEN | flags::IMPLIES_FIRST | flags::RESTART) != 0 {
            if let Some(fr) = first_rsc {
                let r = &self.rscs[fr];
                if !r.managed
                    && r.block
                    && !self.actions[first].runnable
                    && self.actions[first].op == Op::Stop
                    && self.actions[then].runnable
                {
                    self.set_runnable(then, false);
                    changed.then = true;
                }
            }
        }
        changed
    }

    /// Dispatches `update_ordered_actions` on a resource's variant.
    #[allow(clippy::too_many_arguments)]
    fn update_ordered(
        &mut self,
        rsc: RscIx,
        first: ActIx,
        then: ActIx,
        node: Option<usize>,
        fl: AFlags,
        filter: u8,
        t: u32,
    ) -> Changed {
        match self.rscs[rsc].variant {
            Variant::Primitive => self.update_ordered_primitive(first, then, node, fl, filter, t),
            Variant::Group => {
                let mut changed = self.update_ordered_primitive(first, then, node, fl, filter, t);
                let Some(tr) = self.actions[then].rsc else {
                    return changed;
                };
                let op = self.actions[then].op;
                for i in 0..self.rscs[tr].children.len() {
                    let member = self.rscs[tr].children[i];
                    if let Some(ma) = self.find_first_action(member, op, node) {
                        changed |= self.update_ordered(member, first, ma, node, fl, filter, t);
                    }
                }
                changed
            }
            Variant::Clone => self.multi_update(first, then, node, fl, filter, t),
        }
    }

    /// `pcmk__update_ordered_actions`.
    fn update_ordered_primitive(
        &mut self,
        first: ActIx,
        then: ActIx,
        _node: Option<usize>,
        fl: AFlags,
        filter: u8,
        t: u32,
    ) -> Changed {
        let mut changed = Changed::default();
        let then0 = self.aflags(then);
        let first0 = self.aflags(first);
        if t & flags::ASYMMETRICAL != 0 {
            self.handle_asymmetric(first, then);
        }
        if t & flags::IMPLIES_FIRST != 0
            && !then0.optional
            && filter & F_OPTIONAL != 0
            && !fl.optional
            && first0.optional
        {
            self.clear_optional(first, then);
        }
        if t & flags::PROMOTED_IMPLIES_FIRST != 0 {
            if let Some(tr) = self.actions[then].rsc {
                if self.rscs[tr].role == crate::model::Role::Promoted
                    && filter & F_OPTIONAL != 0
                    && !self.actions[then].optional
                {
                    self.clear_optional(first, then);
                }
            }
        }
        if t & flags::RUNNABLE_LEFT != 0
            && filter & F_RUNNABLE != 0
            && self.actions[then].runnable
            && !fl.runnable
        {
            self.clear_runnable(then, first);
            self.actions[then].migrate_runnable = false;
        }
        if t & flags::IMPLIES_THEN != 0
            && filter & F_OPTIONAL != 0
            && self.actions[then].optional
            && !fl.optional
            && !self.actions[first].migrate_runnable
        {
            self.clear_optional(then, first);
        }
        if t & flags::RESTART != 0 {
            self.handle_restart(first, then, filter);
        }
        if self.aflags(then) != then0 {
            changed.then = true;
            if let Some(tr) = self.actions[then].rsc {
                if self.rscs[tr].parent.is_some() {
                    self.update_action(then);
                }
            }
        }
        if self.aflags(first) != first0 {
            changed.first = true;
        }
        changed
    }

    fn clear_optional(&mut self, a: ActIx, because: ActIx) {
        if self.actions[a].optional {
            self.set_optional(a, false);
            if self.actions[a].rsc != self.actions[because].rsc {
                let reason = self.reason_from(because, true);
                self.set_reason(a, reason, false);
            }
        }
    }

    fn clear_runnable(&mut self, a: ActIx, because: ActIx) {
        if self.actions[a].runnable {
            self.set_runnable(a, false);
            if self.actions[a].rsc != self.actions[because].rsc {
                let reason = self.reason_from(because, false);
                self.set_reason(a, reason, false);
            }
        }
    }

    /// `required X start` / `unrunnable X start`.
    fn reason_from(&self, a: ActIx, optional: bool) -> String {
        let act = &self.actions[a];
        let what = if optional { "required" } else { "unrunnable" };
        match act.rsc {
            Some(r) => format!("{} {} {}", what, self.rsc_id(r), act.op.name()),
            None => {
                let name = self
                    .clone_min_names
                    .iter()
                    .find(|(ix, _)| *ix == a)
                    .map(|(_, n)| n.as_str())
                    .unwrap_or(act.op.name());
                format!("{what} {name}")
            }
        }
    }

    fn handle_asymmetric(&mut self, first: ActIx, then: ActIx) {
        let Some(tr) = self.actions[then].rsc else {
            return;
        };
        let role = self.state(tr, true);
        let op = self.actions[then].op;
        if (role == Some(crate::model::Role::Stopped) || role.is_none()) && op == Op::Stop {
            return;
        }
        let on = self.locations(tr, true);
        if role >= Some(crate::model::Role::Started)
            && self.actions[then].optional
            && self.actions[then].node.is_some()
            && on.len() == 1
            && self.actions[then].node == Some(on[0])
            && op == Op::Start
        {
            return;
        }
        if !self.actions[first].runnable {
            self.clear_optional(then, first);
            self.clear_runnable(then, first);
        }
    }

    fn handle_restart(&mut self, first: ActIx, then: ActIx, filter: u8) {
        let mut reason = false;
        if filter & F_OPTIONAL != 0 && !self.actions[then].optional {
            reason = true;
        }
        if filter & F_RUNNABLE != 0
            && !self.actions[then].runnable
            && self.actions[then]
                .rsc
                .map(|r| self.rscs[r].managed)
                .unwrap_or(false)
            && self.actions[first].rsc == self.actions[then].rsc
        {
            reason = true;
        }
        if !reason {
            return;
        }
        if self.actions[first].runnable {
            self.clear_optional(first, then);
        }
        if !self.actions[then].optional {
            self.clear_optional(first, then);
        }
        if !self.actions[then].migrate_runnable {
            self.actions[first].migrate_runnable = false;
        }
        if !self.actions[first].optional && !self.actions[first].runnable {
            self.clear_runnable(then, first);
        }
    }

    /// `pcmk__multi_update_actions`.
    fn multi_update(
        &mut self,
        first: ActIx,
        then: ActIx,
        node: Option<usize>,
        fl: AFlags,
        filter: u8,
        t: u32,
    ) -> Changed {
        if self.can_interleave(first, then) {
            return self.interleave_update(first, then, node, filter, t);
        }
        let mut changed = Changed::default();
        let Some(tr) = self.actions[then].rsc else {
            return changed;
        };
        changed |= self.update_ordered_primitive(first, then, node, fl, filter, t);
        let op = self.actions[then].op;
        for i in 0..self.rscs[tr].children.len() {
            let child = self.rscs[tr].children[i];
            let Some(ca) = self.find_first_action(child, op, node) else {
                continue;
            };
            let cf = self.action_flags(ca, node);
            let mut cc = Changed::default();
            if cf.runnable {
                cc = self.update_ordered(child, first, ca, node, fl, filter, t);
            }
            changed |= cc;
            if cc.then {
                self.update_after(ca);
            }
        }
        changed
    }

    fn can_interleave(&self, first: ActIx, then: ActIx) -> bool {
        let (Some(fr), Some(tr)) = (self.actions[first].rsc, self.actions[then].rsc) else {
            return false;
        };
        if fr == tr
            || self.rscs[fr].variant != Variant::Clone
            || self.rscs[tr].variant != Variant::Clone
        {
            return false;
        }
        let r = if matches!(self.actions[then].op, Op::Stop | Op::Demote) {
            fr
        } else {
            tr
        };
        self.rscs[r]
            .clone
            .as_ref()
            .map(|c| c.interleave)
            .unwrap_or(false)
    }

    fn interleave_update(
        &mut self,
        first: ActIx,
        then: ActIx,
        node: Option<usize>,
        filter: u8,
        t: u32,
    ) -> Changed {
        let mut changed = Changed::default();
        let (Some(fr), Some(tr)) = (self.actions[first].rsc, self.actions[then].rsc) else {
            return changed;
        };
        let current = matches!(self.actions[first].op, Op::Stopped | Op::Demoted);
        let then_op = self.actions[then].op;
        let first_op = self.actions[first].op;
        for i in 0..self.rscs[tr].children.len() {
            let then_child = self.rscs[tr].children[i];
            let first_child = self.find_compatible_child(then_child, fr, None, current);
            match first_child {
                None if current => {}
                None => {
                    if t & (flags::RUNNABLE_LEFT | flags::IMPLIES_THEN) != 0
                        && self.assign_resource(then_child, None, true)
                    {
                        changed.then = true;
                    }
                }
                Some(fc) => {
                    let task = if self.rscs[fc].variant == Variant::Primitive {
                        first_op.atomic()
                    } else {
                        first_op
                    };
                    let Some(fa) = self.find_first_action(fc, task, node) else {
                        continue;
                    };
                    let Some(ta) = self.find_first_action(then_child, then_op, node) else {
                        continue;
                    };
                    if self.order_actions(fa, ta, t) {
                        changed.first = true;
                        changed.then = true;
                    }
                    let ffl = self.action_flags(fa, node);
                    changed |= self.update_ordered(then_child, fa, ta, node, ffl, filter, t);
                }
            }
        }
        changed
    }

    /// Blocks the starts (promotes) of mandatory dependents of a resource
    /// that cannot start (be promoted) anywhere.
    pub fn block_colocation_dependents(&mut self, a: ActIx) {
        let act = &self.actions[a];
        if act.runnable || !matches!(act.op, Op::Start | Op::Promote) {
            return;
        }
        let is_start = act.op == Op::Start;
        let op = act.op;
        let Some(r) = act.rsc else {
            return;
        };
        let top = self.top_of(r);
        if self.rscs[top].with_this.is_empty() {
            return;
        }
        for &child in &self.rscs[top].children {
            match self.find_first_action(child, op, None) {
                None => return,
                Some(ca) if self.actions[ca].runnable => return,
                Some(_) => {}
            }
        }
        for c in self.rscs[top].with_this.clone() {
            let coloc = &self.colocs[c];
            if coloc.score < super::arith::INF {
                continue;
            }
            if !is_start && coloc.primary_role != Some(crate::model::Role::Promoted) {
                continue;
            }
            let dependent = coloc.dependent;
            let task = if coloc.dependent_role == Some(crate::model::Role::Promoted) {
                Op::Promote
            } else {
                Op::Start
            };
            let reason = format!("colocation with {}", self.rsc_id(r));
            self.mark_blocked(dependent, task, &reason);
        }
    }

    fn mark_blocked(&mut self, rsc: RscIx, task: Op, reason: &str) {
        for a in self.rscs[rsc].actions.clone().into_iter().rev() {
            if self.actions[a].runnable
                && self.actions[a].op == task
                && self.actions[a].interval_ms == 0
            {
                self.set_runnable(a, false);
                self.set_reason(a, reason.to_string(), false);
                self.block_colocation_dependents(a);
                self.update_action(a);
            }
        }
        for c in self.rscs[rsc].children.clone() {
            self.mark_blocked(c, task, reason);
        }
    }
}
