//! Clones: distributing instances over nodes (current nodes first, at most
//! clone-node-max per node, clone-max in all), colocations with clones,
//! and pairing instances of interleaved clones ("Pacemaker Explained":
//! *Clones*).

use std::cmp::Ordering as CmpOrdering;

use crate::model::Role;

use super::arith::{factor_of, ABSENT, INF};
use super::assign::{SELECT_ACTIVE, SELECT_NONNEGATIVE};
use super::working::{ColocIx, NodeIx, RscIx, Stage, WorkingSet};

impl WorkingSet<'_> {
    /// Assigns a clone's instances (`pcmk__clone_allocate`).
    pub fn clone_assign(&mut self, rsc: RscIx, prefer: Option<NodeIx>) {
        if !self.rscs[rsc].provisional || self.rscs[rsc].allocating {
            return;
        }
        let promotable = self.rscs[rsc]
            .clone
            .as_ref()
            .map(|c| c.promotable)
            .unwrap_or(false);
        if promotable {
            self.add_promotion_scores(rsc);
        }
        self.rscs[rsc].allocating = true;

        for c in self.rscs[rsc].this_with.clone() {
            let primary = self.colocs[c].primary;
            self.assign(primary, prefer);
        }
        for c in self.rscs[rsc].with_this.clone() {
            if self.coloc_has_influence(c, None) {
                let dependent = self.colocs[c].dependent;
                let score = self.colocs[c].score;
                let mut table = Some(self.allowed(rsc).to_vec());
                self.add_colocated_node_scores(
                    dependent,
                    &mut table,
                    factor_of(score),
                    SELECT_ACTIVE | SELECT_NONNEGATIVE,
                );
                if let Some(t) = table {
                    self.allowed_mut(rsc).copy_from_slice(&t);
                }
            }
        }
        self.show_scores(Stage::CloneAllocate, rsc);

        // The clone's allowed nodes (distribution only counts them, in
        // no particular order).
        let nodes: Vec<NodeIx> = (0..self.nodes.len())
            .filter(|&n| self.allowed(rsc)[n] != ABSENT)
            .collect();
        self.compute_instance_coloc(rsc);
        let mut children = self.rscs[rsc].children.clone();
        children.sort_by(|&a, &b| self.cmp_instance(a, b));
        self.rscs[rsc].children = children.clone();
        let (max, node_max) = {
            let spec = self.rscs[rsc].clone.as_ref();
            (
                spec.map(|c| c.max).unwrap_or(0),
                spec.map(|c| c.node_max).unwrap_or(1),
            )
        };
        self.distribute_children(rsc, &children, &nodes, max, node_max);

        if promotable {
            self.set_instance_roles(rsc);
        }
        self.rscs[rsc].provisional = false;
        self.rscs[rsc].allocating = false;
    }

    /// Places instances: first each active instance on its current node
    /// (up to an even share per node), then the rest by score.
    fn distribute_children(
        &mut self,
        clone: RscIx,
        children: &[RscIx],
        nodes: &[NodeIx],
        max: u32,
        per_host_max: u32,
    ) {
        let mut available_nodes = 0u32;
        for &n in nodes {
            self.rscs[clone].count[n] = 0;
            if self.nodes[n].available() {
                available_nodes += 1;
            }
        }
        let all_coloc = max < available_nodes;
        let mut loop_max = max.checked_div(available_nodes).unwrap_or(0);
        if loop_max < 1 {
            loop_max = 1;
        }
        let mut allocated = 0u32;
        for &child in children {
            if allocated >= max {
                break;
            }
            let c = &self.rscs[child];
            if c.running_on.is_empty() || !c.provisional || c.failed {
                continue;
            }
            let Some(child_node) = self.current_node(child) else {
                continue;
            };
            let w = self.node_weight(child_node);
            if !self.node_available(child_node, Some(w)) {
                continue;
            }
            if self.allowed(clone)[child_node] != ABSENT
                && self.rscs[clone].count[child_node] >= loop_max
            {
                continue;
            }
            if self
                .allocate_instance(child, Some(child_node), all_coloc, per_host_max)
                .is_some()
            {
                allocated += 1;
            }
        }
        for &child in children {
            if !self.rscs[child].provisional {
                continue;
            }
            if allocated >= max {
                self.resource_location(child, None, -INF);
            } else if self
                .allocate_instance(child, None, all_coloc, per_host_max)
                .is_some()
            {
                allocated += 1;
            }
        }
    }

    fn allocate_instance(
        &mut self,
        rsc: RscIx,
        prefer: Option<NodeIx>,
        all_coloc: bool,
        limit: u32,
    ) -> Option<NodeIx> {
        if !self.rscs[rsc].provisional {
            return self.location(rsc, false);
        }
        if self.rscs[rsc].allocating {
            return None;
        }
        let parent = self.rscs[rsc].parent?;
        self.append_parent_colocation(parent, rsc, all_coloc);
        if let Some(p) = prefer {
            let w = self.allowed(rsc)[p];
            if w == ABSENT || w < 0 {
                return None;
            }
        }
        self.can_run_instance_all(rsc, limit);
        // Only an assignment to a preferred node can be undone.
        let backup = prefer.map(|_| self.allowed(rsc).to_vec());
        let mut chosen = self.assign(rsc, prefer);
        if let (Some(c), Some(p), Some(backup)) = (chosen, prefer, backup) {
            if c != p {
                // Only the instance's own table and assignment are undone
                // (a cloned group's members keep theirs, as in Pacemaker).
                self.allowed_mut(rsc).copy_from_slice(&backup);
                self.unassign(rsc);
                chosen = None;
            }
        }
        if let Some(c) = chosen {
            if self.allowed(parent)[c] != ABSENT {
                self.rscs[parent].count[c] += 1;
            }
        }
        chosen
    }

    /// Bans an instance from nodes its clone cannot use, or that are full.
    fn can_run_instance_all(&mut self, rsc: RscIx, limit: u32) {
        let n_nodes = self.nodes.len();
        for node in 0..n_nodes {
            if self.allowed(rsc)[node] == ABSENT {
                continue;
            }
            self.can_run_instance(rsc, node, limit);
        }
    }

    fn can_run_instance(&mut self, rsc: RscIx, node: NodeIx, limit: u32) {
        let ok = 'check: {
            if !self.nodes[node].available() || self.rscs[rsc].orphan {
                break 'check false;
            }
            let parent = match self.rscs[rsc].parent {
                Some(p) => p,
                None => break 'check true,
            };
            let pw = self.allowed(parent)[node];
            if pw == ABSENT {
                break 'check false;
            }
            if pw < 0 {
                break 'check false;
            }
            if self.rscs[parent].count[node] < limit {
                break 'check true;
            }
            false
        };
        if !ok {
            self.update_score(rsc, node, -INF);
        }
    }

    /// Gives an instance the clone's colocations (`append_parent_colocation`).
    fn append_parent_colocation(&mut self, clone: RscIx, child: RscIx, all: bool) {
        for c in self.rscs[clone].this_with.clone() {
            let score = self.colocs[c].score;
            // Appended on every attempt, duplicates included (a retried
            // instance then applies the colocation twice, as Pacemaker
            // does).
            if all || !(0..INF).contains(&score) {
                self.add_this_with(child, c);
            }
        }
        for c in self.rscs[clone].with_this.clone() {
            if !self.coloc_has_influence(c, Some(child)) {
                continue;
            }
            if all || self.colocs[c].score < 0 {
                self.add_with_this(child, c);
            }
        }
    }

    /// Instance assignment order (`pcmk__cmp_instance`).
    pub fn cmp_instance(&self, a: RscIx, b: RscIx) -> CmpOrdering {
        let la = self.locations(a, true);
        let lb = self.locations(b, true);
        let (n1, n2) = (la.len(), lb.len());
        if n1 > 0 && n2 > 0 {
            match n1.cmp(&n2) {
                CmpOrdering::Equal => {}
                other => return other,
            }
        }
        let mut node1 = if n1 == 1 {
            Some(la[0])
        } else {
            self.first_active(a)
        };
        let mut node2 = if n2 == 1 {
            Some(lb[0])
        } else {
            self.first_active(b)
        };
        let can1 = self.node_is_allowed(a, &mut node1);
        let can2 = self.node_is_allowed(b, &mut node2);
        if can1 && !can2 {
            return CmpOrdering::Less;
        } else if !can1 && can2 {
            return CmpOrdering::Greater;
        }
        let (pa, pb) = (self.rscs[a].priority, self.rscs[b].priority);
        if pa != pb {
            return pb.cmp(&pa);
        }
        let (node1, node2) = match (node1, node2) {
            (None, None) => return CmpOrdering::Equal,
            (None, Some(_)) => return CmpOrdering::Greater,
            (Some(_), None) => return CmpOrdering::Less,
            (Some(x), Some(y)) => (x, y),
        };
        let c1 = self.nodes[node1].available();
        let c2 = self.nodes[node2].available();
        if c1 && !c2 {
            return CmpOrdering::Less;
        } else if !c1 && c2 {
            return CmpOrdering::Greater;
        }
        let top1 = self.top_allowed(a, node1);
        let top2 = self.top_allowed(b, node2);
        let (cnt1, cnt2) = match (top1, top2) {
            (None, None) => return CmpOrdering::Equal,
            (None, Some(_)) => return CmpOrdering::Greater,
            (Some(_), None) => return CmpOrdering::Less,
            (Some(x), Some(y)) => (x, y),
        };
        if cnt1 != cnt2 {
            return cnt1.cmp(&cnt2);
        }
        let f1 = self.did_fail(a);
        let f2 = self.did_fail(b);
        if !f1 && f2 {
            return CmpOrdering::Less;
        } else if f1 && !f2 {
            return CmpOrdering::Greater;
        }
        match self.cmp_instance_by_colocation(a, b) {
            CmpOrdering::Equal => {}
            other => return other,
        }
        let i1 = self.rscs[a].instance.unwrap_or(0);
        let i2 = self.rscs[b].instance.unwrap_or(0);
        i1.cmp(&i2)
    }

    /// The first node an instance is active on (`pe__find_active_on`).
    fn first_active(&self, rsc: RscIx) -> Option<NodeIx> {
        if self.rscs[rsc].children.is_empty() {
            self.current_node(rsc)
        } else {
            self.locations(rsc, true).first().copied()
        }
    }

    fn node_is_allowed(&self, rsc: RscIx, node: &mut Option<NodeIx>) -> bool {
        if let Some(n) = *node {
            let w = self.allowed(rsc)[n];
            if w == ABSENT || w < 0 {
                *node = None;
                return false;
            }
        }
        true
    }

    /// The count of instances on `node` in the parent's table, if the parent
    /// allows the node (`pcmk__top_allowed_node`).
    fn top_allowed(&self, rsc: RscIx, node: NodeIx) -> Option<u32> {
        let table_owner = self.rscs[rsc].parent.unwrap_or(rsc);
        if self.allowed(table_owner)[node] == ABSENT {
            None
        } else {
            Some(self.rscs[table_owner].count.get(node).copied().unwrap_or(0))
        }
    }

    fn cmp_instance_by_colocation(&self, a: RscIx, b: RscIx) -> CmpOrdering {
        let s1 = self.instance_coloc.get(a).copied().unwrap_or(0);
        let s2 = self.instance_coloc.get(b).copied().unwrap_or(0);
        s2.cmp(&s1)
    }

    /// Computes, for every instance of `clone` active somewhere, its
    /// score on its current node once the clone's colocations are merged
    /// in (`cmp_instance_by_colocation`), for the instance sort to read.
    pub fn compute_instance_coloc(&mut self, clone: RscIx) {
        if self.instance_coloc.len() < self.rscs.len() {
            self.instance_coloc.resize(self.rscs.len(), 0);
        }
        for child in self.rscs[clone].children.clone() {
            let node = if self.rscs[child].children.is_empty() {
                self.current_node(child)
            } else {
                self.locations(child, true).first().copied()
            };
            let Some(node) = node else {
                continue;
            };
            let mut table = vec![ABSENT; self.nodes.len()];
            table[node] = self.node_weight(node);
            let mut work = Some(table);
            for c in self.rscs[clone].this_with.clone() {
                let primary = self.colocs[c].primary;
                let f = factor_of(self.colocs[c].score);
                self.add_colocated_node_scores(primary, &mut work, f, 0);
            }
            for c in self.rscs[clone].with_this.clone() {
                if !self.coloc_has_influence(c, Some(child)) {
                    continue;
                }
                let dependent = self.colocs[c].dependent;
                let f = factor_of(self.colocs[c].score);
                self.add_colocated_node_scores(dependent, &mut work, f, SELECT_NONNEGATIVE);
            }
            self.instance_coloc[child] = work.map(|t| t[node]).unwrap_or(0);
        }
    }

    /// Applies a colocation whose primary is a clone
    /// (`pcmk__clone_apply_coloc_score`, for a primitive dependent).
    pub fn colocate_with_clone(&mut self, dependent: RscIx, primary: RscIx, coloc: ColocIx) {
        let (score, drole, prole) = {
            let c = &self.colocs[coloc];
            (c.score, c.dependent_role, c.primary_role)
        };
        let promotable = self.rscs[primary]
            .clone
            .as_ref()
            .map(|c| c.promotable)
            .unwrap_or(false);
        if promotable {
            if self.rscs[primary].provisional {
                return;
            } else if prole.is_none() {
                // Handled like any clone colocation.
            } else if self.rscs[dependent].provisional {
                self.update_dependent_with_promotable(primary, dependent, coloc);
                return;
            } else if drole == Some(Role::Promoted) {
                self.update_promotable_dependent_priority(primary, dependent, coloc);
                return;
            }
        }
        let dep_coloc = self.colocs[coloc].dependent;
        let interleave = self.rscs[dep_coloc].variant == super::working::Variant::Clone
            && self.rscs[dep_coloc]
                .clone
                .as_ref()
                .map(|c| c.interleave)
                .unwrap_or(false)
            && self.copies_per_node(dep_coloc) == self.copies_per_node(primary);
        if self.rscs[primary].provisional {
            return;
        }
        if interleave {
            match self.find_compatible_child(dependent, primary, None, false) {
                Some(pi) => self.apply_coloc_score(dependent, pi, coloc),
                None => {
                    if score >= INF {
                        self.assign_resource(dependent, None, true);
                    }
                }
            }
            return;
        }
        if score >= INF {
            let mut affected = Vec::new();
            for child in self.rscs[primary].children.clone() {
                if let Some(n) = self.location(child, false) {
                    if !self.any_blocked(child) && !affected.contains(&n) {
                        affected.push(n);
                    }
                }
            }
            let table = self.allowed_mut(dependent);
            for (n, w) in table.iter_mut().enumerate() {
                if *w != ABSENT && !affected.contains(&n) {
                    *w = -INF;
                }
            }
            for n in affected {
                if table[n] == ABSENT {
                    table[n] = -INF;
                }
            }
            return;
        }
        for child in self.rscs[primary].children.clone() {
            self.apply_coloc_score(dependent, child, coloc);
        }
    }

    fn copies_per_node(&self, rsc: RscIx) -> u32 {
        self.rscs[rsc]
            .clone
            .as_ref()
            .map(|c| c.node_max)
            .unwrap_or(1)
    }

    /// An instance of `clone` on the node where `local` is (or could go)
    /// (`find_compatible_child`).
    pub fn find_compatible_child(
        &self,
        local: RscIx,
        clone: RscIx,
        filter: Option<Role>,
        current: bool,
    ) -> Option<RscIx> {
        if let Some(node) = self.location(local, current) {
            return self.find_compatible_child_by_node(node, clone, filter, current);
        }
        let table = self.allowed(local).to_vec();
        for n in self.sorted_allowed(&table, None) {
            if let Some(pair) = self.find_compatible_child_by_node(n, clone, filter, current) {
                return Some(pair);
            }
        }
        None
    }

    /// An instance of `clone` on `node` in role `filter`.
    pub fn find_compatible_child_by_node(
        &self,
        node: NodeIx,
        clone: RscIx,
        filter: Option<Role>,
        current: bool,
    ) -> Option<RscIx> {
        self.rscs[clone]
            .children
            .iter()
            .copied()
            .find(|&child| self.is_child_compatible(child, node, filter, current))
    }

    fn is_child_compatible(
        &self,
        child: RscIx,
        node: NodeIx,
        filter: Option<Role>,
        current: bool,
    ) -> bool {
        let next = self.state(child, current);
        let loc = if !self.any_blocked(child) {
            self.location(child, current)
        } else {
            None
        };
        if filter.is_some() && next != filter {
            return false;
        }
        loc == Some(node)
    }
}
