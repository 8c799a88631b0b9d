//! From the history to the current state: which instance of a clone each
//! history entry belongs to, where resources run, in which role, what
//! failed and what the failures ask for ("Pacemaker Explained": *Resource
//! operations*, *Failure handling*).

use crate::model::{MultipleActive, OnFail, ResourceKind, Role};

use super::arith::{ABSENT, INF};
use super::working::{NodeIx, RscIx, Variant, WorkingSet};

impl WorkingSet<'_> {
    /// Applies every history entry to the working resources.
    pub fn unpack_history(&mut self) {
        let cluster = self.cluster;
        for (index, h) in cluster.history.iter().enumerate() {
            let node = h.node.0;
            if node >= self.nodes.len() || h.resource.0 >= cluster.resources.len() {
                continue;
            }
            if !matches!(
                cluster.resources[h.resource.0].kind,
                ResourceKind::Primitive(_)
            ) {
                continue;
            }
            // Without fencing, the history of offline nodes is not trusted:
            // their resources are simply considered stopped.
            if !self.stonith_enabled && !self.nodes[node].online {
                continue;
            }
            let Some(rsc) = self.instance_for_history(h.resource, h.instance, node) else {
                continue;
            };
            // Fail counts alone do not make the resource known there (no
            // probe is skipped for them).
            let known = !cluster.failcount_only.contains(&index);
            self.apply_history(rsc, node, h, known);
        }
    }

    /// Finds (or creates, as an orphan) the working primitive a history
    /// entry belongs to.
    fn instance_for_history(
        &mut self,
        model: crate::model::ResourceId,
        instance: Option<u32>,
        node: NodeIx,
    ) -> Option<RscIx> {
        let candidates = self.by_model.get(model.0)?.clone();
        let first = *candidates.first()?;
        // The clone this primitive belongs to, if any.
        let mut clone = None;
        let mut cur = self.rscs[first].parent;
        while let Some(p) = cur {
            if self.rscs[p].variant == Variant::Clone {
                clone = Some(p);
                break;
            }
            cur = self.rscs[p].parent;
        }
        let Some(clone) = clone else {
            return Some(first);
        };
        let unique = self.rscs[clone]
            .clone
            .as_ref()
            .map(|c| c.unique)
            .unwrap_or(false);
        if unique {
            let number = instance.unwrap_or(0);
            if let Some(&r) = candidates
                .iter()
                .find(|&&r| self.rscs[r].instance == Some(number))
            {
                return Some(r);
            }
            let created = self.create_orphan_instance(clone, number);
            return self.member_for_model(created, model);
        }
        // Anonymous: the instance already active on this node, else the
        // first inactive one, else a new orphan.
        let children = self.rscs[clone].children.clone();
        let mut inactive = None;
        for &child in &children {
            let locations = self.locations(child, true);
            if !locations.is_empty() {
                if locations.len() == 1 && locations[0] == node {
                    if let Some(member) = self.member_for_model(child, model) {
                        if self.rscs[member].running_on.is_empty() {
                            return self.check_anonymous_clean(clone, member, node);
                        }
                        // Several histories of one anonymous clone on one
                        // node: the extra ones are orphans.
                        let number = self.next_instance_number(clone);
                        let created = self.create_orphan_instance(clone, number);
                        return self.member_for_model(created, model);
                    }
                }
            } else if inactive.is_none() && !self.any_blocked(child) {
                inactive = self.member_for_model(child, model);
            }
        }
        if let Some(member) = inactive {
            return self.check_anonymous_clean(clone, member, node);
        }
        let number = self.next_instance_number(clone);
        let created = self.create_orphan_instance(clone, number);
        self.member_for_model(created, model)
    }

    /// An anonymous instance on an offline or unclean node does not use up
    /// an instance number unless the resource needs fencing.
    fn check_anonymous_clean(
        &mut self,
        clone: RscIx,
        member: RscIx,
        node: NodeIx,
    ) -> Option<RscIx> {
        let n = &self.nodes[node];
        let universal = self.rscs[clone]
            .clone
            .as_ref()
            .map(|c| c.max as usize >= self.nodes.len())
            .unwrap_or(false);
        if self.rscs[member].needs != super::working::Needs::Fencing
            && (!n.online || n.unclean)
            && !universal
        {
            let model = self.rscs[member].model;
            let number = self.next_instance_number(clone);
            let created = self.create_orphan_instance(clone, number);
            return self.member_for_model(created, model);
        }
        Some(member)
    }

    /// The primitive for `model` inside the instance `child` (the child
    /// itself, or a member of a cloned group).
    fn member_for_model(&self, child: RscIx, model: crate::model::ResourceId) -> Option<RscIx> {
        if self.rscs[child].model == model {
            return Some(child);
        }
        self.rscs[child]
            .children
            .iter()
            .copied()
            .find(|&m| self.rscs[m].model == model)
    }

    fn next_instance_number(&self, clone: RscIx) -> u32 {
        self.rscs[clone]
            .children
            .iter()
            .filter_map(|&c| self.rscs[c].instance)
            .max()
            .map(|m| m + 1)
            .unwrap_or(0)
    }

    /// Adds an instance beyond clone-max, flagged orphan and banned
    /// everywhere (it only exists to be stopped).
    fn create_orphan_instance(&mut self, clone: RscIx, number: u32) -> RscIx {
        let child_model = match &self.cluster.resources[self.rscs[clone].model.0].kind {
            ResourceKind::Clone(c) => c.child,
            _ => self.rscs[clone].model,
        };
        let ix = self.build_instance(clone, child_model, number);
        self.rscs[clone].children.push(ix);
        self.mark_orphan(ix);
        ix
    }

    fn mark_orphan(&mut self, rsc: RscIx) {
        self.rscs[rsc].orphan = true;
        self.allowed_mut(rsc).fill(ABSENT);
        let children = self.rscs[rsc].children.clone();
        for c in children {
            self.mark_orphan(c);
        }
    }

    /// Applies one history entry to a primitive on a node
    /// (`unpack_lrm_resource` + `process_rsc_state`).
    fn apply_history(&mut self, rsc: RscIx, node: NodeIx, h: &crate::model::History, known: bool) {
        // Known on this node (and, for anonymous clones, their parents).
        let mut cur = if known { Some(rsc) } else { None };
        while let Some(r) = cur {
            if !self.rscs[r].known_on.contains(&node) {
                self.rscs[r].known_on.push(node);
            }
            if self.rscs[r].unique {
                break;
            }
            cur = self.rscs[r].parent;
        }

        let timeout = self.rscs[rsc].failure_timeout;
        let expired = |last: Option<i64>, now: i64| -> bool {
            timeout > 0
                && match last {
                    Some(t) => now >= t.saturating_add(timeout as i64),
                    None => false,
                }
        };
        let failure_expired = h.failed && expired(h.last_failure, self.now);
        let mut fail_count = h.fail_count;
        if fail_count > 0 && expired(h.last_failure, self.now) {
            fail_count = 0;
        }
        if fail_count > 0 {
            self.rscs[rsc]
                .fail_counts
                .push((node, fail_count, h.last_failure));
        }

        let role = h.role;
        // The reader already unpacked the failure (`process_rsc_state`):
        // `failed` is final, and its effects on nodes (fencing, standby)
        // are in the node states. What stays for the engine: blocking,
        // stopping for good, and the resource's flags.
        let failed = h.failed && !failure_expired;
        let on_fail = if failed {
            h.on_fail.unwrap_or(OnFail::Restart)
        } else {
            OnFail::Ignore
        };
        if h.failure_ignored {
            self.rscs[rsc].failure_ignored = true;
        }
        if let Some(cap) = h.next_role {
            let next = self.rscs[rsc].next_role;
            self.rscs[rsc].next_role = Some(match next {
                Some(x) if x < cap => x,
                _ => cap,
            });
        }
        if h.pending == Some(crate::model::Task::Start) {
            self.rscs[rsc].start_pending = true;
        }
        let active = role > Role::Stopped;
        if active
            && !self.nodes[node].online
            && !self.nodes[node].maintenance
            && self.rscs[rsc].managed
            && self.stonith_enabled
        {
            let reason = format!("{} is thought to be active there", self.rsc_id(rsc));
            self.fence_node(node, reason);
        }
        match on_fail {
            OnFail::Fence => {
                let reason = format!("{} failed there", self.rsc_id(rsc));
                self.fence_node(node, reason);
            }
            OnFail::Block => {
                self.rscs[rsc].managed = false;
                self.rscs[rsc].block = true;
            }
            OnFail::Stop => {
                self.rscs[rsc].next_role = Some(Role::Stopped);
                // Make sure it does not come up again (for anonymous clone
                // instances: the whole clone).
                let mut target = rsc;
                let top = self.top_of(rsc);
                if self.is_clone(top) && !self.rscs[rsc].unique {
                    target = top;
                }
                self.ban_everywhere(target);
            }
            _ => {}
        }

        if active && !self.rscs[rsc].unique {
            let base = &self.cluster.resources[self.rscs[rsc].model.0].id;
            self.rscs[rsc].clone_name = Some(match h.instance {
                Some(n) => format!("{base}:{n}"),
                None => base.clone(),
            });
        }
        if role > self.rscs[rsc].role {
            self.rscs[rsc].role = role;
        }
        if active {
            self.add_running(rsc, node);
            match on_fail {
                OnFail::Ignore => {}
                OnFail::Block => self.rscs[rsc].failed = true,
                _ => {
                    self.rscs[rsc].failed = true;
                    self.rscs[rsc].stop = true;
                }
            }
        }
    }

    /// Replaces every allowed score of `rsc` and its descendants with
    /// -INFINITY.
    fn ban_everywhere(&mut self, rsc: RscIx) {
        self.allowed_mut(rsc).fill(-INF);
        let children = self.rscs[rsc].children.clone();
        for c in children {
            self.ban_everywhere(c);
        }
    }

    /// Records a resource as active on a node (`native_add_running`).
    fn add_running(&mut self, rsc: RscIx, node: NodeIx) {
        if self.rscs[rsc].running_on.contains(&node) {
            return;
        }
        self.rscs[rsc].running_on.push(node);
        let primitive = self.rscs[rsc].variant == Variant::Primitive;
        if primitive && self.nodes[node].maintenance {
            self.rscs[rsc].managed = false;
        }
        if !self.rscs[rsc].managed {
            self.resource_location(rsc, Some(node), INF);
            let mut p = self.rscs[rsc].parent;
            while let Some(parent) = p {
                if !self.nodes[node].online {
                    break;
                }
                self.rscs[parent].running_on.push(node);
                p = self.rscs[parent].parent;
            }
            return;
        }
        if primitive && self.rscs[rsc].running_on.len() > 1 {
            match self.rscs[rsc].recovery {
                MultipleActive::StopOnly => self.ban_everywhere(rsc),
                MultipleActive::Block => {
                    self.rscs[rsc].managed = false;
                    self.rscs[rsc].block = true;
                    if let Some(parent) = self.rscs[rsc].parent {
                        if self.rscs[parent].variant == Variant::Group
                            && self.rscs[parent].recovery == MultipleActive::Block
                        {
                            for m in self.rscs[parent].children.clone() {
                                self.rscs[m].managed = false;
                                self.rscs[m].block = true;
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        if let Some(parent) = self.rscs[rsc].parent {
            self.add_running(parent, node);
        }
    }

    /// The fail count of `rsc` on `node` (expired failures excluded).
    pub fn fail_count(&self, rsc: RscIx, node: NodeIx) -> u32 {
        self.rscs[rsc]
            .fail_counts
            .iter()
            .filter(|(n, _, _)| *n == node)
            .map(|(_, c, _)| *c)
            .fold(0u32, |a, c| a.saturating_add(c))
    }

    /// Builds one more instance of a clone's child.
    fn build_instance(
        &mut self,
        clone: RscIx,
        child_model: crate::model::ResourceId,
        number: u32,
    ) -> RscIx {
        self.build_child_for_orphan(clone, child_model, number)
    }
}
