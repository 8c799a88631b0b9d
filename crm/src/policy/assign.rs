//! Placement: location scores, stickiness, failure thresholds, colocation,
//! and choosing a node for every primitive, group and clone instance
//! ("Pacemaker Explained": *Resource Constraints*, *Colocation*,
//! *Resource stickiness*, *Clones*).

use std::cmp::Ordering as CmpOrdering;

use crate::model::{Discovery, ResourceId, Role};

use super::arith::{add, factor_of, scaled, ABSENT, INF, UNUSABLE};
use super::few::Few;
use super::working::{Coloc, ColocIx, Loc, LocIx, NodeIx, RscIx, Stage, Variant, WorkingSet};

/// Flags of the colocation merge (`pcmk__coloc_select`).
pub(super) const SELECT_THIS_WITH: u8 = 1;
pub(super) const SELECT_NONNEGATIVE: u8 = 2;
pub(super) const SELECT_ACTIVE: u8 = 4;

/// How [`WorkingSet::sorted_allowed`] orders nodes: (negated weight,
/// assigned resources, not the current node, name rank).
type NodeKey = (i64, u32, u8, u32);

/// What a colocation affects at this point of scheduling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Affects {
    Nothing,
    Location,
    Role,
}

impl WorkingSet<'_> {
    /// The working resource a constraint on a configured resource applies
    /// to: constraints naming something inside a clone apply to the clone.
    pub fn constraint_rsc(&self, id: ResourceId) -> Option<RscIx> {
        let list = self.by_model.get(id.0)?;
        let first = *list.first()?;
        if self.rscs[first].instance.is_none() {
            Some(first)
        } else {
            Some(self.top_of(first))
        }
    }

    /// Unpacks location and colocation constraints.
    pub fn unpack_placement_constraints(&mut self) {
        let cluster = self.cluster;
        for l in &cluster.locations {
            let Some(rsc) = self.constraint_rsc(l.resource) else {
                continue;
            };
            let role_filter = match l.role {
                Some(Role::Promoted) => Some(Role::Promoted),
                Some(Role::Stopped) => Some(Role::Stopped),
                _ => None,
            };
            let nodes = l
                .scores
                .iter()
                .filter(|(n, _)| n.0 < self.nodes.len())
                .map(|(n, s)| (n.0, s.value()))
                .collect();
            let ix = self.locs.len();
            self.locs.push(Loc {
                rsc,
                role_filter,
                nodes,
                discovery: l.discovery,
            });
            self.rscs[rsc].locations.push(ix);
            if l.discovery == Discovery::Exclusive {
                self.rscs[rsc].exclusive_discover = true;
            }
        }
        for c in &cluster.colocations {
            let score = c.score.value();
            if score == 0 {
                continue;
            }
            let (Some(dependent), Some(primary)) = (
                self.constraint_rsc(c.dependent),
                self.constraint_rsc(c.primary),
            ) else {
                continue;
            };
            if dependent == primary {
                continue;
            }
            self.new_colocation(Coloc {
                dependent,
                primary,
                score,
                dependent_role: normalize_coloc_role(c.dependent_role),
                primary_role: normalize_coloc_role(c.primary_role),
                influence: c.influence,
            });
        }
    }

    /// Adds a colocation to both resources' sorted lists; mandatory
    /// anti-colocations also order the role changes.
    pub fn new_colocation(&mut self, c: Coloc) -> ColocIx {
        let ix = self.colocs.len();
        let (dependent, primary, score) = (c.dependent, c.primary, c.score);
        let (drole, prole) = (c.dependent_role, c.primary_role);
        self.colocs.push(c);
        self.add_this_with(dependent, ix);
        self.add_with_this(primary, ix);
        if score <= -INF {
            self.anti_colocation_order(dependent, drole, primary, prole);
            self.anti_colocation_order(primary, prole, dependent, drole);
        }
        ix
    }

    /// Inserts into `rsc.this_with`, sorted by the primary's priority,
    /// variant (clones first), promotable, then id.
    pub fn add_this_with(&mut self, rsc: RscIx, coloc: ColocIx) {
        let key = self.colocs[coloc].primary;
        let pos = {
            let list = &self.rscs[rsc].this_with;
            list.iter()
                .position(|&c| {
                    self.cmp_coloc_rsc(key, self.colocs[c].primary) != CmpOrdering::Greater
                })
                .unwrap_or(list.len())
        };
        self.rscs[rsc].this_with.insert(pos, coloc);
    }

    /// Inserts into `rsc.with_this`, sorted by the dependent's priority,
    /// variant, promotable, then id.
    pub fn add_with_this(&mut self, rsc: RscIx, coloc: ColocIx) {
        let key = self.colocs[coloc].dependent;
        let pos = {
            let list = &self.rscs[rsc].with_this;
            list.iter()
                .position(|&c| {
                    self.cmp_coloc_rsc(key, self.colocs[c].dependent) != CmpOrdering::Greater
                })
                .unwrap_or(list.len())
        };
        self.rscs[rsc].with_this.insert(pos, coloc);
    }

    fn cmp_coloc_rsc(&self, a: RscIx, b: RscIx) -> CmpOrdering {
        let (ra, rb) = (&self.rscs[a], &self.rscs[b]);
        rb.priority
            .cmp(&ra.priority)
            .then(rb.variant.cmp(&ra.variant))
            .then_with(|| {
                if ra.variant == Variant::Clone {
                    rb.promotable.cmp(&ra.promotable)
                } else {
                    CmpOrdering::Equal
                }
            })
            .then_with(|| self.rsc_id(a).as_bytes().cmp(self.rsc_id(b).as_bytes()))
    }

    /// Location constraints, stickiness, failure thresholds and exclusive
    /// discovery (`apply_node_criteria`).
    pub fn apply_node_criteria(&mut self) {
        // Locations (Pacemaker applies them newest first).
        for l in (0..self.locs.len()).rev() {
            let rsc = self.locs[l].rsc;
            self.apply_location(rsc, l, false);
        }
        // History bans.
        let cluster = self.cluster;
        for ban in &cluster.history_bans {
            let Some(list) = self.by_model.get(ban.resource.0) else {
                continue;
            };
            let Some(&first) = list.first() else {
                continue;
            };
            let target = if self.rscs[first].unique {
                first
            } else {
                self.top_of(first)
            };
            match ban.node {
                Some(n) if n.0 < self.nodes.len() => {
                    self.resource_location(target, Some(n.0), -INF)
                }
                Some(_) => {}
                None => self.resource_location(target, None, -INF),
            }
        }
        for &r in &self.top.clone() {
            self.apply_stickiness(r);
        }
        // Migration thresholds: only primitives with failures matter, and
        // bans commute, so no need to visit every node of every resource.
        for r in 0..self.rscs.len() {
            if self.rscs[r].variant != Variant::Primitive || self.rscs[r].fail_counts.is_empty() {
                continue;
            }
            let mut nodes: Vec<NodeIx> = self.rscs[r].fail_counts.iter().map(|f| f.0).collect();
            nodes.sort_unstable();
            nodes.dedup();
            for n in nodes {
                self.check_failure_threshold(r, n);
            }
        }
        if self.rscs.iter().any(|r| r.exclusive_discover) {
            for n in self.node_order.clone() {
                for r in self.top.clone() {
                    self.apply_exclusive_discovery(r, n);
                }
            }
        }
    }

    /// Applies a location constraint to `rsc` the way its variant does.
    fn apply_location(&mut self, rsc: RscIx, loc: LocIx, zeroed: bool) {
        match self.rscs[rsc].variant {
            Variant::Primitive => self.apply_location_to(rsc, loc, zeroed),
            Variant::Group => {
                self.apply_location_to(rsc, loc, zeroed);
                let colocated = self.rscs[rsc].group_colocated;
                let mut zero_rest = zeroed;
                for m in self.rscs[rsc].children.clone() {
                    self.apply_location(m, loc, zero_rest);
                    if colocated {
                        // Later members use zero scores: the first member's
                        // scores already include theirs.
                        zero_rest = true;
                    }
                }
            }
            Variant::Clone => {
                self.apply_location_to(rsc, loc, zeroed);
                for c in self.rscs[rsc].children.clone() {
                    self.apply_location(c, loc, zeroed);
                }
            }
        }
    }

    fn apply_location_to(&mut self, rsc: RscIx, loc: LocIx, zeroed: bool) {
        let l = &self.locs[loc];
        if let Some(role) = l.role_filter {
            if self.rscs[rsc].next_role != Some(role) {
                return;
            }
        }
        let mode = match l.discovery {
            Discovery::Always => 0u8,
            Discovery::Never => 1,
            Discovery::Exclusive => 2,
        };
        let nodes = l.nodes.clone();
        let n_nodes = self.nodes.len();
        let r = &mut self.rscs[rsc];
        for (n, w) in nodes {
            let w = if zeroed { 0 } else { w };
            let slot = &mut self.allowed_table[rsc * n_nodes + n];
            *slot = if *slot == ABSENT { w } else { add(*slot, w) };
            if mode > 0 {
                if r.discover.is_empty() {
                    r.discover = vec![0; n_nodes];
                }
                if r.discover[n] < mode {
                    r.discover[n] = mode;
                }
                if mode == 2 {
                    r.exclusive_discover = true;
                }
            }
        }
    }

    /// Adds stickiness where a managed resource runs on exactly one node.
    fn apply_stickiness(&mut self, rsc: RscIx) {
        if !self.rscs[rsc].children.is_empty() {
            for c in self.rscs[rsc].children.clone() {
                self.apply_stickiness(c);
            }
            return;
        }
        let r = &self.rscs[rsc];
        if !r.managed || r.stickiness < 1 || r.running_on.len() != 1 {
            return;
        }
        let node = r.running_on[0];
        if !self.symmetric && self.allowed(rsc)[node] == ABSENT {
            return;
        }
        let s = r.stickiness;
        self.resource_location(rsc, Some(node), s);
    }

    /// Bans a resource from a node where it reached its migration
    /// threshold (the whole clone, for anonymous instances).
    fn check_failure_threshold(&mut self, rsc: RscIx, node: NodeIx) {
        let r = &self.rscs[rsc];
        if r.migration_threshold == 0 || r.failure_ignored {
            return;
        }
        let count = self.fail_count(rsc, node);
        if count == 0 {
            return;
        }
        let count = i64::from(count).min(i64::from(INF));
        if i64::from(r.migration_threshold) - count <= 0 {
            let target = if r.unique { rsc } else { self.top_of(rsc) };
            self.resource_location(target, Some(node), -INF);
        }
    }

    fn apply_exclusive_discovery(&mut self, rsc: RscIx, node: NodeIx) {
        let top = self.top_of(rsc);
        if !(self.rscs[rsc].exclusive_discover || self.rscs[top].exclusive_discover) {
            return;
        }
        for c in self.rscs[rsc].children.clone() {
            self.apply_exclusive_discovery(c, node);
        }
        if self.allowed(rsc)[node] != ABSENT {
            let mode = self.rscs[rsc].discover.get(node).copied().unwrap_or(0);
            if mode != 2 {
                self.allowed_mut(rsc)[node] = -INF;
            }
        }
    }

    /// Assigns every resource, in scheduling order.
    pub fn assign_all(&mut self) {
        for r in self.top.clone() {
            self.assign(r, None);
        }
    }

    /// Assigns a resource (and what it needs first) to a node.
    pub fn assign(&mut self, rsc: RscIx, prefer: Option<NodeIx>) -> Option<NodeIx> {
        match self.rscs[rsc].variant {
            Variant::Primitive => self.primitive_assign(rsc, prefer),
            Variant::Group => self.group_assign(rsc, prefer),
            Variant::Clone => {
                self.clone_assign(rsc, prefer);
                None
            }
        }
    }

    fn primitive_assign(&mut self, rsc: RscIx, prefer: Option<NodeIx>) -> Option<NodeIx> {
        if let Some(p) = self.rscs[rsc].parent {
            if !self.rscs[p].allocating {
                self.assign(p, prefer);
            }
        }
        if !self.rscs[rsc].provisional {
            return self.rscs[rsc].allocated_to;
        }
        if self.rscs[rsc].allocating {
            return None;
        }
        self.rscs[rsc].allocating = true;

        // The lists as they are now (applying one may add to them).
        for c in Few::<6>::copied(&self.rscs[rsc].this_with) {
            self.apply_this_with(rsc, c);
        }
        for c in Few::<6>::copied(&self.rscs[rsc].with_this) {
            self.apply_with_this(rsc, c);
        }

        let r = &self.rscs[rsc];
        if r.next_role == Some(Role::Stopped) {
            self.resource_location(rsc, None, -INF);
        } else if r.next_role.is_some()
            && r.next_role > Some(r.role)
            && !self.have_quorum
            && self.no_quorum_policy == crate::model::NoQuorumPolicy::Freeze
        {
            self.rscs[rsc].next_role = Some(self.rscs[rsc].role);
        }
        self.show_scores(Stage::PrimitiveAssign, rsc);

        if self.stonith_enabled && !self.have_stonith_resource {
            self.rscs[rsc].managed = false;
        }
        if !self.rscs[rsc].managed {
            let role = self.rscs[rsc].role;
            self.rscs[rsc].next_role = Some(role);
            let to = self.current_node(rsc);
            self.finalize_assignment(rsc, to, true);
        } else if self.stop_everything {
            self.finalize_assignment(rsc, None, true);
        } else if self.rscs[rsc].provisional {
            self.assign_best_node(rsc, prefer);
        }
        self.rscs[rsc].allocating = false;
        self.rscs[rsc].allocated_to
    }

    /// Allowed nodes sorted best first (`pcmk__sort_nodes`).
    pub fn sorted_allowed(&self, table: &[i32], active: Option<NodeIx>) -> Vec<NodeIx> {
        let mut keyed: Vec<(NodeKey, NodeIx)> = (0..table.len())
            .filter(|&n| table[n] != ABSENT)
            .map(|n| (self.node_key(table, n, active), n))
            .collect();
        keyed.sort_unstable();
        keyed.into_iter().map(|k| k.1).collect()
    }

    /// The first node of [`Self::sorted_allowed`], found without sorting
    /// or allocating: the highest weight, then [`NodeKey`]'s tie-breaks.
    pub fn best_allowed(&self, table: &[i32], active: Option<NodeIx>) -> Option<NodeIx> {
        let mut best = None;
        // Every allowed node's weight is above i32::MIN: the first one is
        // taken, then only a better one.
        let (mut best_weight, mut best_rest) = (i32::MIN, u64::MAX);
        let nodes = table.iter().zip(&self.nodes).zip(&self.name_rank);
        for (n, ((&w, node), &rank)) in nodes.enumerate() {
            if w == ABSENT {
                continue;
            }
            let weight = if node.available() { w } else { -INF };
            if weight < best_weight {
                continue;
            }
            // (assigned resources, not the current node, name rank).
            let rest = (u64::from(node.num_resources) << 33)
                | (u64::from(active != Some(n)) << 32)
                | u64::from(rank);
            if weight > best_weight || rest < best_rest {
                best = Some(n);
                best_weight = weight;
                best_rest = rest;
            }
        }
        best
    }

    /// A node's sort key (`compare_nodes`): best weight first (unavailable
    /// nodes count as -INFINITY), then fewest assigned resources, then the
    /// current node, then the name.
    fn node_key(&self, table: &[i32], n: NodeIx, active: Option<NodeIx>) -> NodeKey {
        let w = if self.nodes[n].available() {
            table[n]
        } else {
            -INF
        };
        (
            -i64::from(w),
            self.nodes[n].num_resources,
            u8::from(active != Some(n)),
            self.name_rank[n],
        )
    }

    fn assign_best_node(&mut self, rsc: RscIx, prefer: Option<NodeIx>) -> bool {
        if !self.rscs[rsc].provisional {
            return self.rscs[rsc].allocated_to.is_some();
        }
        let current = self.current_node(rsc);
        let table = self.allowed(rsc);
        let best = self.best_allowed(table, current);
        let mut chosen = None;
        if let (Some(p), Some(b)) = (prefer, best) {
            if table[p] == ABSENT || table[p] < table[b] || !self.node_available(p, Some(table[p]))
            {
                chosen = None;
            } else {
                chosen = Some(p);
            }
        }
        if chosen.is_none() {
            if let Some(b) = best {
                chosen = Some(b);
                let parent_unique_clone = self.rscs[rsc]
                    .parent
                    .map(|p| {
                        self.is_clone(p)
                            && self.rscs[p]
                                .clone
                                .as_ref()
                                .map(|c| c.unique)
                                .unwrap_or(false)
                    })
                    .unwrap_or(false);
                if !parent_unique_clone && table[b] > 0 && self.node_available(b, None) {
                    // Among the nodes as good as the best, keep the one it
                    // runs on. Those nodes come right after the best in
                    // sorted order (available, same score), so no sort is
                    // needed to find whether the current node is one.
                    if let Some(running) = current {
                        if running != b
                            && table[running] == table[b]
                            && self.node_available(running, Some(self.node_weight(running)))
                        {
                            chosen = Some(running);
                        }
                    }
                }
            }
        }
        self.finalize_assignment(rsc, chosen, false)
    }

    /// Records the choice for a primitive (`pcmk__finalize_assignment`).
    pub fn finalize_assignment(&mut self, rsc: RscIx, chosen: Option<NodeIx>, force: bool) -> bool {
        let mut chosen = chosen;
        if !force {
            if let Some(c) = chosen {
                let w = self.allowed(rsc)[c];
                if w < 0 || !self.node_available(c, Some(w)) {
                    self.rscs[rsc].next_role = Some(Role::Stopped);
                    chosen = None;
                }
            }
        }
        self.unassign(rsc);
        self.rscs[rsc].provisional = false;
        match chosen {
            None => {
                self.rscs[rsc].next_role = Some(Role::Stopped);
                self.update_actions_for_unassigned(rsc);
                false
            }
            Some(c) => {
                self.rscs[rsc].allocated_to = Some(c);
                self.rscs[rsc].allocated_weight = if force {
                    self.node_weight(c)
                } else {
                    self.allowed(rsc)[c]
                };
                self.nodes[c].num_resources += 1;
                if let Some(count) = self.rscs[rsc].count.get_mut(c) {
                    *count += 1;
                }
                true
            }
        }
    }

    /// Clears an assignment (`pcmk__unassign_resource`).
    pub fn unassign(&mut self, rsc: RscIx) {
        if let Some(old) = self.rscs[rsc].allocated_to.take() {
            self.rscs[rsc].provisional = true;
            self.nodes[old].num_resources = self.nodes[old].num_resources.saturating_sub(1);
        }
    }

    /// Assigns `rsc` (or every primitive under it) to `node`, forced.
    pub fn assign_resource(&mut self, rsc: RscIx, node: Option<NodeIx>, force: bool) -> bool {
        if self.rscs[rsc].children.is_empty() {
            let changed = self.rscs[rsc].allocated_to.is_some();
            self.finalize_assignment(rsc, node, force);
            changed
        } else {
            let mut changed = false;
            for c in self.rscs[rsc].children.clone() {
                changed |= self.assign_resource(c, node, force);
            }
            changed
        }
    }

    fn apply_this_with(&mut self, rsc: RscIx, coloc: ColocIx) {
        let (primary, score, drole) = {
            let c = &self.colocs[coloc];
            (c.primary, c.score, c.dependent_role)
        };
        let archive = if drole >= Some(Role::Promoted) || (score < 0 && score > -INF) {
            Some(self.allowed(rsc).to_vec())
        } else {
            None
        };
        self.assign(primary, None);
        self.apply_coloc_score(rsc, primary, coloc);
        if let Some(a) = archive {
            if !self.any_node_available(self.allowed(rsc)) {
                self.allowed_mut(rsc).copy_from_slice(&a);
            }
        }
    }

    fn apply_with_this(&mut self, rsc: RscIx, coloc: ColocIx) {
        if !self.coloc_has_influence(coloc, None) {
            return;
        }
        let (dependent, score) = {
            let c = &self.colocs[coloc];
            (c.dependent, c.score)
        };
        let mut table = Some(self.allowed(rsc).to_vec());
        self.add_colocated_node_scores(dependent, &mut table, factor_of(score), SELECT_ACTIVE);
        if let Some(t) = table {
            self.allowed_mut(rsc).copy_from_slice(&t);
        }
    }

    /// Whether the dependent of a colocation influences the primary
    /// (`pcmk__colocation_has_influence`).
    pub fn coloc_has_influence(&self, coloc: ColocIx, rsc: Option<RscIx>) -> bool {
        let c = &self.colocs[coloc];
        let rsc = rsc.unwrap_or(c.primary);
        c.influence || self.rscs[rsc].running_on.is_empty()
    }

    /// Applies a colocation on behalf of a primitive dependent: dispatches on
    /// the primary's variant.
    pub fn apply_coloc_score(&mut self, dependent: RscIx, primary: RscIx, coloc: ColocIx) {
        match self.rscs[primary].variant {
            Variant::Primitive => self.primitive_coloc_for_primary(dependent, primary, coloc),
            Variant::Group => self.colocate_with_group(dependent, primary, coloc),
            Variant::Clone => self.colocate_with_clone(dependent, primary, coloc),
        }
    }

    fn primitive_coloc_for_primary(&mut self, dependent: RscIx, primary: RscIx, coloc: ColocIx) {
        match self.colocation_affects(dependent, primary, coloc, false) {
            Affects::Role => self.apply_coloc_to_priority(dependent, primary, coloc),
            Affects::Location => self.apply_coloc_to_weights(dependent, primary, coloc),
            Affects::Nothing => {}
        }
    }

    /// What a colocation affects now (`pcmk__colocation_affects`).
    pub fn colocation_affects(
        &self,
        dependent: RscIx,
        primary: RscIx,
        coloc: ColocIx,
        preview: bool,
    ) -> Affects {
        let c = &self.colocs[coloc];
        let (d, p) = (&self.rscs[dependent], &self.rscs[primary]);
        if !preview && p.provisional {
            return Affects::Nothing;
        }
        if c.dependent_role >= Some(Role::Unpromoted)
            && d.parent.map(|x| self.rscs[x].promotable).unwrap_or(false)
            && !d.provisional
        {
            return Affects::Role;
        }
        if !preview && !d.provisional {
            return Affects::Nothing;
        }
        if c.score > 0 && c.dependent_role.is_some() && c.dependent_role != d.next_role {
            return Affects::Nothing;
        }
        if c.score > 0 && c.primary_role.is_some() && c.primary_role != p.next_role {
            return Affects::Nothing;
        }
        if c.score < 0 && c.dependent_role.is_some() && c.dependent_role == d.next_role {
            return Affects::Nothing;
        }
        if c.score < 0 && c.primary_role.is_some() && c.primary_role == p.next_role {
            return Affects::Nothing;
        }
        Affects::Location
    }

    fn apply_coloc_to_weights(&mut self, dependent: RscIx, primary: RscIx, coloc: ColocIx) {
        let score = self.colocs[coloc].score;
        let pnode = self.rscs[primary].allocated_to;
        if pnode.is_none() && score < 0 {
            return;
        }
        let mut work = self.allowed(dependent).to_vec();
        for (n, w) in work.iter_mut().enumerate() {
            if *w == ABSENT {
                continue;
            }
            match pnode {
                None => *w = add(-score, *w),
                Some(p) if p == n => {
                    if score < INF {
                        *w = add(score, *w);
                    }
                }
                Some(_) => {
                    if score >= INF {
                        *w = add(-score, *w);
                    }
                }
            }
        }
        if score <= -INF || score >= INF || self.any_node_available(&work) {
            self.allowed_mut(dependent).copy_from_slice(&work);
        }
    }

    fn apply_coloc_to_priority(&mut self, dependent: RscIx, primary: RscIx, coloc: ColocIx) {
        let (score, drole, prole) = {
            let c = &self.colocs[coloc];
            (c.score, c.dependent_role, c.primary_role)
        };
        let (Some(pn), Some(dn)) = (
            self.rscs[primary].allocated_to,
            self.rscs[dependent].allocated_to,
        ) else {
            return;
        };
        if pn != dn {
            if score >= INF && drole == Some(Role::Promoted) {
                self.rscs[dependent].priority = -INF;
            }
            return;
        }
        if prole.is_some() && prole != self.rscs[primary].next_role {
            return;
        }
        let mult = if drole == Some(Role::Unpromoted) {
            -1
        } else {
            1
        };
        self.rscs[dependent].priority = add(mult * score, self.rscs[dependent].priority);
    }

    fn colocate_with_group(&mut self, dependent: RscIx, primary: RscIx, coloc: ColocIx) {
        if self.rscs[primary].provisional {
            return;
        }
        let score = self.colocs[coloc].score;
        if self.rscs[primary].group_colocated {
            let member = if score >= INF {
                self.rscs[primary].children.last().copied()
            } else {
                self.rscs[primary].children.first().copied()
            };
            if let Some(m) = member {
                self.apply_coloc_score(dependent, m, coloc);
            }
            return;
        }
        if score >= INF {
            return;
        }
        for m in self.rscs[primary].children.clone() {
            self.apply_coloc_score(dependent, m, coloc);
        }
    }

    /// Merges the (scaled) scores of `rsc` and of what is colocated with
    /// it into `table` (`pcmk__add_colocated_node_scores`).
    pub fn add_colocated_node_scores(
        &mut self,
        rsc: RscIx,
        table: &mut Option<Vec<i32>>,
        factor: f32,
        flags: u8,
    ) {
        if self.rscs[rsc].merging {
            return;
        }
        self.rscs[rsc].merging = true;
        let work = if self.rscs[rsc].variant == Variant::Group {
            if self.rscs[rsc].children.is_empty() {
                None
            } else {
                let member = if table.is_none() {
                    *self.rscs[rsc].children.last().unwrap_or(&rsc)
                } else {
                    self.rscs[rsc].children[0]
                };
                let mut work = table.clone();
                self.add_colocated_node_scores(member, &mut work, factor, flags);
                work
            }
        } else {
            match table {
                None => Some(self.allowed(rsc).to_vec()),
                Some(t) => {
                    let mut work = t.clone();
                    self.add_node_scores_matching(
                        &mut work,
                        rsc,
                        factor,
                        flags & SELECT_NONNEGATIVE != 0,
                    );
                    Some(work)
                }
            }
        };
        let Some(mut work) = work else {
            self.rscs[rsc].merging = false;
            return;
        };
        if self.any_node_available(&work) {
            let multiplier = if factor < 0.0 { -1.0 } else { 1.0 };
            let this_with = flags & SELECT_THIS_WITH != 0;
            let list: Vec<ColocIx> = if this_with {
                self.rscs[rsc].this_with.clone()
            } else if self.rscs[rsc].variant == Variant::Group {
                match self.rscs[rsc].children.last() {
                    Some(&last) => self.rscs[last].with_this.clone(),
                    None => Vec::new(),
                }
            } else {
                self.rscs[rsc].with_this.clone()
            };
            for c in list {
                let other = if this_with {
                    self.colocs[c].primary
                } else if !self.coloc_has_influence(c, None) {
                    continue;
                } else {
                    self.colocs[c].dependent
                };
                let f = multiplier * factor_of(self.colocs[c].score);
                let mut t = Some(work);
                self.add_colocated_node_scores(other, &mut t, f, flags | SELECT_ACTIVE);
                work = t.unwrap_or_default();
            }
        } else if flags & SELECT_ACTIVE != 0 {
            self.rscs[rsc].merging = false;
            return;
        }
        if flags & SELECT_NONNEGATIVE != 0 {
            for w in work.iter_mut() {
                if *w == UNUSABLE {
                    *w = 1;
                }
            }
        }
        *table = Some(work);
        self.rscs[rsc].merging = false;
    }

    fn add_node_scores_matching(
        &self,
        work: &mut [i32],
        rsc: RscIx,
        factor: f32,
        only_positive: bool,
    ) {
        let allowed = self.allowed(rsc);
        for n in 0..work.len() {
            if work[n] == ABSENT {
                continue;
            }
            let score = if allowed[n] != ABSENT && allowed[n] > -INF && self.nodes[n].available() {
                allowed[n]
            } else {
                -INF
            };
            if factor < 0.0 && score < 0 {
                continue;
            }
            if work[n] == UNUSABLE {
                continue;
            }
            let weight = scaled(factor, score);
            let new = add(weight, work[n]);
            if only_positive && new < 0 && work[n] > 0 {
                work[n] = UNUSABLE;
                continue;
            }
            if only_positive && new < 0 && work[n] == 0 {
                continue;
            }
            work[n] = new;
        }
    }

    fn group_assign(&mut self, rsc: RscIx, prefer: Option<NodeIx>) -> Option<NodeIx> {
        if !self.rscs[rsc].provisional {
            return self.rscs[rsc].allocated_to;
        }
        if self.rscs[rsc].allocating {
            return None;
        }
        if self.rscs[rsc].children.is_empty() {
            self.rscs[rsc].provisional = false;
            return None;
        }
        self.rscs[rsc].allocating = true;
        let first = self.rscs[rsc].children[0];
        self.rscs[rsc].role = self.rscs[first].role;
        self.expand_group_colocations(rsc);
        self.show_scores(Stage::GroupAssign, rsc);
        let mut first_assigned = None;
        for m in self.rscs[rsc].children.clone() {
            let node = self.assign(m, prefer);
            if first_assigned.is_none() {
                first_assigned = node;
            }
        }
        let next = self.rscs[first].next_role;
        self.rscs[rsc].next_role = next;
        self.rscs[rsc].allocating = false;
        self.rscs[rsc].provisional = false;
        if !self.rscs[rsc].group_colocated {
            return None;
        }
        first_assigned
    }

    /// "Group with R" becomes "first member with R"; "R with group"
    /// becomes "R with last member".
    fn expand_group_colocations(&mut self, rsc: RscIx) {
        let members = self.rscs[rsc].children.clone();
        let Some(&first) = members.first() else {
            return;
        };
        let this_with = std::mem::take(&mut self.rscs[rsc].this_with);
        for &c in &this_with {
            self.add_this_with(first, c);
        }
        let mut any_unmanaged = !self.rscs[first].managed;
        for &m in members.iter().skip(1) {
            if any_unmanaged {
                for &c in &this_with {
                    if self.colocs[c].score >= INF {
                        self.add_this_with(m, c);
                    }
                }
            } else if !self.rscs[m].managed {
                any_unmanaged = true;
            }
        }
        let with_this = std::mem::take(&mut self.rscs[rsc].with_this);
        if let Some(&last) = members.last() {
            for c in with_this {
                self.add_with_this(last, c);
            }
        }
    }
}

/// `Started` in a colocation means any role.
fn normalize_coloc_role(role: Option<Role>) -> Option<Role> {
    match role {
        Some(Role::Started) | None => None,
        other => other,
    }
}
