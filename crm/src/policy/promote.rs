//! Promotable clones: promotion scores from node attributes, role-specific
//! locations and colocations, and choosing which instances are promoted
//! ("Pacemaker Explained": *Promotable clones*).

use std::cmp::Ordering as CmpOrdering;

use crate::model::{NoQuorumPolicy, Role};

use super::arith::{add, factor_of, ABSENT, INF};
use super::assign::{SELECT_ACTIVE, SELECT_NONNEGATIVE};
use super::working::{ColocIx, NodeIx, RscIx, Stage, Variant, WorkingSet};

impl WorkingSet<'_> {
    /// Adds positive promotion scores to the instances' node scores and
    /// raises their priority (`pcmk__add_promotion_scores`).
    pub fn add_promotion_scores(&mut self, clone: RscIx) {
        if self.rscs[clone].promotion_added {
            return;
        }
        self.rscs[clone].promotion_added = true;
        for child in self.rscs[clone].children.clone() {
            for node in 0..self.nodes.len() {
                if self.allowed(child)[node] == ABSENT || !self.nodes[node].available() {
                    continue;
                }
                let (score, _) = self.promotion_score(child, node);
                if score > 0 {
                    let w = self.allowed(child)[node];
                    self.allowed_mut(child)[node] = add(w, score);
                }
                if score > self.rscs[child].priority {
                    self.rscs[child].priority = score;
                }
            }
        }
    }

    /// The promotion score of an instance on a node, and whether it is the
    /// default (no attribute).
    fn promotion_score(&self, rsc: RscIx, node: NodeIx) -> (i32, bool) {
        let r = &self.rscs[rsc];
        if !r.children.is_empty() {
            let mut total = 0;
            let mut default = true;
            for &c in &r.children {
                let (s, d) = self.promotion_score(c, node);
                if !d {
                    default = false;
                }
                total += s;
            }
            return (total, default);
        }
        let base = &self.cluster.resources[r.model.0].id;
        let name = r.clone_name.as_deref().unwrap_or(self.rsc_id(rsc));
        let by_name = self.promotion_attrs.get(name);
        let by_base = if r.unique {
            None
        } else {
            self.promotion_attrs.get(base.as_str())
        };
        if by_name.is_none() && by_base.is_none() {
            // No node has a promotion score for it at all.
            return (0, true);
        }
        if !self.promotion_score_applies(rsc, node) {
            return (0, true);
        }
        let value = by_name
            .and_then(|v| v.get(node).copied().flatten())
            .or_else(|| by_base.and_then(|v| v.get(node).copied().flatten()));
        match value {
            Some(v) => (v, false),
            None => (0, true),
        }
    }

    fn promotion_score_applies(&self, rsc: RscIx, node: NodeIx) -> bool {
        let r = &self.rscs[rsc];
        let w = self.allowed(rsc)[node];
        let allowed = w != ABSENT && w >= 0;
        if !r.unique {
            let clone = self.top_of(rsc);
            let active = self.find_active_anon_instance(clone, r.model, node);
            if active == Some(rsc) {
                return allowed;
            }
            if active.is_none() && self.anonymous_known_on(clone, r.model, node) {
                return allowed;
            }
        }
        if r.running_on.is_empty() && r.known_on.is_empty() {
            return allowed;
        }
        if r.known_on.contains(&node) || r.running_on.contains(&node) {
            return allowed;
        }
        false
    }

    fn instance_member(&self, child: RscIx, model: crate::model::ResourceId) -> Option<RscIx> {
        if self.rscs[child].model == model {
            return Some(child);
        }
        self.rscs[child]
            .children
            .iter()
            .copied()
            .find(|&m| self.rscs[m].model == model)
    }

    fn find_active_anon_instance(
        &self,
        clone: RscIx,
        model: crate::model::ResourceId,
        node: NodeIx,
    ) -> Option<RscIx> {
        for &child in &self.rscs[clone].children {
            if let Some(m) = self.instance_member(child, model) {
                if self.rscs[m].running_on.contains(&node) {
                    return Some(m);
                }
            }
        }
        None
    }

    fn anonymous_known_on(
        &self,
        clone: RscIx,
        model: crate::model::ResourceId,
        node: NodeIx,
    ) -> bool {
        self.rscs[clone].children.iter().any(|&child| {
            self.instance_member(child, model)
                .map(|m| self.rscs[m].known_on.contains(&node))
                .unwrap_or(false)
        })
    }

    /// Chooses the instances to promote (`pcmk__set_instance_roles`).
    pub fn set_instance_roles(&mut self, clone: RscIx) {
        for n in 0..self.nodes.len() {
            self.rscs[clone].count[n] = 0;
        }
        for child in self.rscs[clone].children.clone() {
            self.set_instance_priority(clone, child);
        }
        self.sort_promotable_instances(clone);
        let mut promoted = 0u32;
        for child in self.rscs[clone].children.clone() {
            self.set_instance_role(clone, child, &mut promoted);
        }
    }

    fn set_current_role_unpromoted(&mut self, rsc: RscIx) {
        if self.rscs[rsc].role == Role::Started {
            self.rscs[rsc].role = Role::Unpromoted;
        }
        for c in self.rscs[rsc].children.clone() {
            self.set_current_role_unpromoted(c);
        }
    }

    fn set_instance_priority(&mut self, clone: RscIx, instance: RscIx) {
        if self.state(instance, true) == Some(Role::Started) {
            self.set_current_role_unpromoted(instance);
        }
        let Some(chosen) = self.location(instance, false) else {
            return;
        };
        match self.state(instance, false) {
            None | Some(Role::Started) => {
                let (score, default) = self.promotion_score(instance, chosen);
                self.rscs[instance].priority = if default { -1 } else { score };
            }
            Some(Role::Unpromoted) | Some(Role::Stopped) => {
                self.rscs[instance].priority = -INF;
            }
            Some(Role::Promoted) => {}
        }
        let next = self.state(instance, false);
        let own = self.rscs[instance].locations.clone();
        let parent_locs = self.rscs[clone].locations.clone();
        for l in own.into_iter().chain(parent_locs) {
            let loc = &self.locs[l];
            if loc.role_filter != Some(Role::Promoted) {
                continue;
            }
            if let Some(&(_, w)) = loc.nodes.iter().find(|(n, _)| *n == chosen) {
                self.rscs[instance].priority = add(self.rscs[instance].priority, w);
            }
        }
        for c in self.rscs[instance].this_with.clone() {
            let primary = self.colocs[c].primary;
            self.apply_coloc_for_instance(instance, primary, c);
        }
        self.rscs[instance].sort_index = self.rscs[instance].priority;
        if next == Some(Role::Promoted) {
            self.rscs[instance].sort_index = INF;
        }
    }

    /// `instance->cmds->apply_coloc_score(instance, primary, c, true)`.
    fn apply_coloc_for_instance(&mut self, instance: RscIx, primary: RscIx, coloc: ColocIx) {
        if self.rscs[instance].variant == Variant::Group {
            if self.rscs[instance].group_colocated {
                if let Some(&first) = self.rscs[instance].children.first() {
                    self.apply_coloc_score(first, primary, coloc);
                }
            } else if self.colocs[coloc].score < INF {
                for m in self.rscs[instance].children.clone() {
                    self.apply_coloc_score(m, primary, coloc);
                }
            }
        } else {
            self.apply_coloc_score(instance, primary, coloc);
        }
    }

    fn sort_promotable_instances(&mut self, clone: RscIx) {
        if self.rscs[clone].promotion_constrained {
            return;
        }
        self.rscs[clone].promotion_constrained = true;
        self.rscs[clone].merging = true;
        for child in self.rscs[clone].children.clone() {
            let si = self.rscs[child].sort_index;
            if si < 0 {
                continue;
            }
            if let Some(chosen) = self.location(child, false) {
                let w = self.allowed(clone)[chosen];
                if w != ABSENT {
                    self.allowed_mut(clone)[chosen] = add(si, w);
                }
            }
        }
        for c in self.rscs[clone].this_with.clone() {
            let (drole, score, primary) = {
                let x = &self.colocs[c];
                (x.dependent_role, x.score, x.primary)
            };
            if drole != Some(Role::Promoted) {
                continue;
            }
            let flags = if score < INF { SELECT_ACTIVE } else { 0 };
            let mut table = Some(self.allowed(clone).to_vec());
            self.add_colocated_node_scores(primary, &mut table, factor_of(score), flags);
            if let Some(t) = table {
                self.allowed_mut(clone).copy_from_slice(&t);
            }
        }
        for c in self.rscs[clone].with_this.clone() {
            let (prole, score, dependent) = {
                let x = &self.colocs[c];
                (x.primary_role, x.score, x.dependent)
            };
            if prole != Some(Role::Promoted) || !self.coloc_has_influence(c, None) {
                continue;
            }
            let mut table = Some(self.allowed(clone).to_vec());
            self.add_colocated_node_scores(
                dependent,
                &mut table,
                factor_of(score),
                SELECT_ACTIVE | SELECT_NONNEGATIVE,
            );
            if let Some(t) = table {
                self.allowed_mut(clone).copy_from_slice(&t);
            }
        }
        for child in self.rscs[clone].children.clone() {
            let chosen = self.location(child, false);
            if !self.rscs[child].managed && self.rscs[child].next_role == Some(Role::Promoted) {
                self.rscs[child].sort_index = INF;
            } else if let Some(c) = chosen {
                if self.rscs[child].sort_index >= 0 {
                    let w = self.allowed(clone)[c];
                    self.rscs[child].sort_index = if w == ABSENT { 0 } else { w };
                }
            }
        }
        self.compute_instance_coloc(clone);
        let mut children = self.rscs[clone].children.clone();
        children.sort_by(|&a, &b| self.cmp_promotable_instance(a, b));
        self.rscs[clone].children = children;
        self.rscs[clone].merging = false;
    }

    fn cmp_promotable_instance(&self, a: RscIx, b: RscIx) -> CmpOrdering {
        let (sa, sb) = (self.rscs[a].sort_index, self.rscs[b].sort_index);
        if sa != sb {
            return sb.cmp(&sa);
        }
        let (ra, rb) = (self.state(a, true), self.state(b, true));
        if ra != rb {
            return rb.cmp(&ra);
        }
        self.cmp_instance(a, b)
    }

    fn set_instance_role(&mut self, clone: RscIx, instance: RscIx, count: &mut u32) {
        let promoted_max = self.rscs[clone]
            .clone
            .as_ref()
            .map(|c| c.promoted_max)
            .unwrap_or(1);
        if self.record_scores {
            let node = self.location(instance, false).unwrap_or(usize::MAX);
            let si = self.rscs[instance].sort_index;
            self.scores.push((Stage::Promotion, instance, node, si));
        }
        let mut chosen = None;
        if self.rscs[instance].sort_index < 0 {
            // Not supposed to be promoted.
        } else if *count < promoted_max || !self.rscs[clone].managed {
            chosen = self.node_to_be_promoted_on(clone, instance);
        }
        let Some(chosen) = chosen else {
            self.set_next_role_unpromoted(instance);
            return;
        };
        if self.rscs[instance].role < Role::Promoted
            && !self.have_quorum
            && self.no_quorum_policy == NoQuorumPolicy::Freeze
        {
            self.set_next_role_unpromoted(instance);
            return;
        }
        self.rscs[clone].count[chosen] += 1;
        self.set_next_role_promoted(instance);
        *count += 1;
    }

    fn node_to_be_promoted_on(&self, clone: RscIx, rsc: RscIx) -> Option<NodeIx> {
        for &c in &self.rscs[rsc].children {
            self.node_to_be_promoted_on(clone, c)?;
        }
        let node = self.location(rsc, false)?;
        let r = &self.rscs[rsc];
        if !r.managed {
            if self.state(rsc, true) != Some(Role::Promoted) {
                return None;
            }
        } else if r.priority < 0 || !self.nodes[node].available() {
            return None;
        }
        if self.allowed(clone)[node] == ABSENT {
            return None;
        }
        let node_max = self.rscs[clone]
            .clone
            .as_ref()
            .map(|c| c.promoted_node_max)
            .unwrap_or(1);
        if self.rscs[clone].count[node] >= node_max && r.managed {
            return None;
        }
        Some(node)
    }

    fn set_next_role_unpromoted(&mut self, rsc: RscIx) {
        let assigned = !self.locations(rsc, false).is_empty();
        self.rscs[rsc].next_role = Some(if assigned {
            Role::Unpromoted
        } else {
            Role::Stopped
        });
        for c in self.rscs[rsc].children.clone() {
            self.set_next_role_unpromoted(c);
        }
    }

    fn set_next_role_promoted(&mut self, rsc: RscIx) {
        if self.rscs[rsc].next_role.is_none() {
            self.rscs[rsc].next_role = Some(Role::Promoted);
        }
        for c in self.rscs[rsc].children.clone() {
            self.set_next_role_promoted(c);
        }
    }

    /// A dependent being placed with a role of a promotable clone
    /// (`pcmk__update_dependent_with_promotable`).
    pub fn update_dependent_with_promotable(
        &mut self,
        primary: RscIx,
        dependent: RscIx,
        coloc: ColocIx,
    ) {
        let (score, drole, prole) = {
            let c = &self.colocs[coloc];
            (c.score, c.dependent_role, c.primary_role)
        };
        let mut affected: Vec<(NodeIx, i32)> = Vec::new();
        for instance in self.rscs[primary].children.clone() {
            let Some(node) = self.location(instance, false) else {
                continue;
            };
            if self.state(instance, false) == prole {
                if score < INF {
                    let w = self.allowed(dependent)[node];
                    if w != ABSENT {
                        self.allowed_mut(dependent)[node] = add(w, score);
                    }
                }
                let weight = self.assigned_weight(instance);
                affected.push((node, weight));
            }
        }
        if score >= INF && (drole != Some(Role::Promoted) || prole != Some(Role::Promoted)) {
            let table = self.allowed_mut(dependent);
            for (n, w) in table.iter_mut().enumerate() {
                if *w == ABSENT {
                    continue;
                }
                match affected.iter().find(|(a, _)| *a == n) {
                    None => *w = -INF,
                    Some(&(_, other)) => *w = add(*w, other),
                }
            }
            for &(n, _) in &affected {
                if table[n] == ABSENT {
                    table[n] = -INF;
                }
            }
        }
    }

    /// The weight the instance (or its first member) was assigned with.
    fn assigned_weight(&self, rsc: RscIx) -> i32 {
        let r = &self.rscs[rsc];
        if r.children.is_empty() {
            r.allocated_weight
        } else {
            r.children
                .first()
                .map(|&c| self.rscs[c].allocated_weight)
                .unwrap_or(0)
        }
    }

    /// A promoted-role dependent's priority from the primary's role
    /// (`pcmk__update_promotable_dependent_priority`).
    pub fn update_promotable_dependent_priority(
        &mut self,
        primary: RscIx,
        dependent: RscIx,
        coloc: ColocIx,
    ) {
        let (score, prole) = {
            let c = &self.colocs[coloc];
            (c.score, c.primary_role)
        };
        if self
            .find_compatible_child(dependent, primary, prole, false)
            .is_some()
        {
            self.rscs[dependent].priority = add(self.rscs[dependent].priority, score);
        } else if score >= INF {
            self.rscs[dependent].priority = -INF;
        }
    }
}

/// A node attribute as a score (integers, ±INFINITY; anything else 0).
pub(super) fn parse_score(text: &str) -> i32 {
    match text.parse::<crate::score::Score>() {
        Ok(s) => s.value(),
        Err(_) => 0,
    }
}
