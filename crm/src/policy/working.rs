//! The engine's working set: the model expanded into the resources the
//! scheduler reasons about (clone instances are resources of their own),
//! each with its allowed-node scores, current state and flags, plus the
//! working state of every node.
//!
//! Everything is indexed: resources by [`RscIx`] into [`WorkingSet::rscs`],
//! nodes by [`NodeIx`] (equal to [`crate::model::NodeId`]'s index), actions
//! by [`ActIx`]. Per-node tables are plain vectors as long as the node
//! list, so copying one (the colocation merge does) is a memcpy.

use std::fmt::Write as _;

use crate::model::{
    Cluster, Discovery, MultipleActive, NoQuorumPolicy, Requires, ResourceId, ResourceKind, Role,
};

use super::actions::{Act, Edge, Ordering};
use super::arith::{add, numeric_name_cmp, ABSENT, INF};
use super::few::Few;
use super::graph::Summary;

/// Index of a working resource.
pub(super) type RscIx = usize;
/// Index of a node (same as `NodeId.0`).
pub(super) type NodeIx = usize;
/// Index of an action.
pub(super) type ActIx = usize;
/// Index of a colocation.
pub(super) type ColocIx = usize;
/// Index of a location constraint.
pub(super) type LocIx = usize;

/// The scheduling stage a score line comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Stage {
    PrimitiveAssign,
    GroupAssign,
    CloneAllocate,
    /// `rsc:0 promotion score on node1: 10`.
    Promotion,
}

impl Stage {
    /// The function name crm_simulate prints.
    pub fn name(self) -> &'static str {
        match self {
            Stage::PrimitiveAssign => "pcmk__primitive_assign",
            Stage::GroupAssign => "pcmk__group_assign",
            Stage::CloneAllocate => "pcmk__clone_allocate",
            Stage::Promotion => "promotion",
        }
    }
}

/// Resource variants, in Pacemaker's order (colocation lists sort clones
/// before groups before primitives).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Variant {
    Primitive,
    Group,
    Clone,
}

/// What a resource's start (and promote) needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Needs {
    Nothing,
    Quorum,
    Fencing,
}

/// Clone settings.
#[derive(Debug, Clone)]
pub(super) struct CloneSpec {
    pub max: u32,
    pub node_max: u32,
    pub promoted_max: u32,
    pub promoted_node_max: u32,
    pub min: u32,
    pub interleave: bool,
    pub unique: bool,
    pub ordered: bool,
    pub promotable: bool,
}

/// A resource as the scheduler sees it.
#[derive(Debug, Clone)]
pub(super) struct Rsc {
    /// Where in [`WorkingSet::instance_names`] the name of a clone
    /// instance is (`rsc:2`, `grp:0`, and `member:0` in a cloned group);
    /// other resources are named by their configured id
    /// ([`WorkingSet::rsc_id`] gives either).
    pub instance_id: std::ops::Range<usize>,
    /// The name the history knows an anonymous instance by, when it runs
    /// (`rsc:1` recorded for what is here `rsc:0`).
    pub clone_name: Option<String>,
    /// The configured resource it comes from.
    pub model: ResourceId,
    /// Clone instance number (also set on members of a cloned group).
    pub instance: Option<u32>,
    pub variant: Variant,
    pub parent: Option<RscIx>,
    pub children: Vec<RscIx>,
    pub clone: Option<CloneSpec>,
    pub group_ordered: bool,
    pub group_colocated: bool,

    pub priority: i32,
    pub stickiness: i32,
    pub migration_threshold: i32,
    pub failure_timeout: u64,
    pub managed: bool,
    pub maintenance: bool,
    /// Not an anonymous clone instance.
    pub unique: bool,
    /// Inside (or being) a promotable clone.
    pub promotable: bool,
    pub critical: bool,
    pub needs: Needs,
    pub recovery: MultipleActive,
    pub orphan: bool,
    /// Deprecated `restart-type=restart`: optional orderings with this
    /// resource as `then` restart it when `first` restarts.
    pub restart_type_restart: bool,

    pub role: Role,
    pub next_role: Option<Role>,
    pub running_on: Vec<NodeIx>,
    pub known_on: Vec<NodeIx>,
    pub failed: bool,
    pub stop: bool,
    pub block: bool,
    pub provisional: bool,
    pub allocating: bool,
    pub merging: bool,
    pub failure_ignored: bool,
    pub start_pending: bool,
    pub restarting: bool,
    pub stop_unexpected: bool,
    pub exclusive_discover: bool,
    pub promotion_constrained: bool,
    pub promotion_added: bool,

    /// Per node: instances placed there (clone bookkeeping; empty for
    /// resources other than clones).
    pub count: Vec<u32>,
    /// Per allowed node: resource-discovery mode (0 always, 1 never,
    /// 2 exclusive), allocated on first use.
    pub discover: Vec<u8>,
    pub allocated_to: Option<NodeIx>,
    /// The score the chosen node had when it was chosen.
    pub allocated_weight: i32,
    pub this_with: Vec<ColocIx>,
    pub with_this: Vec<ColocIx>,
    pub locations: Vec<LocIx>,
    /// Actions other than monitors, oldest first.
    pub actions: Few<3>,
    /// The ops of `actions` and `monitors` (bits of [`super::actions::Op::bit`]):
    /// a lookup of an op the resource has no action for (the stop of a
    /// resource that is not running, most of them) reads no action.
    pub ops: u16,
    /// Probes and recurring monitors, oldest first.
    pub monitors: Few<3>,
    pub sort_index: i32,
    /// Fail counts from the history: (node, count, last failure).
    pub fail_counts: Vec<(NodeIx, u32, Option<i64>)>,
}

/// A node's working state.
#[derive(Debug, Clone)]
pub(super) struct NodeState {
    pub name: String,
    pub online: bool,
    pub standby: bool,
    pub unclean: bool,
    pub maintenance: bool,
    pub shutdown: bool,
    pub pending: bool,
    /// Resources assigned so far (load spreading).
    pub num_resources: u32,
    pub fence_reason: Option<String>,
    pub is_dc: bool,
}

impl NodeState {
    /// Can run resources at all (`pcmk__node_available` without scores).
    pub fn available(&self) -> bool {
        self.online && !self.shutdown && !self.unclean && !self.standby && !self.maintenance
    }
}

/// A colocation between working resources.
#[derive(Debug, Clone)]
pub(super) struct Coloc {
    pub dependent: RscIx,
    pub primary: RscIx,
    pub score: i32,
    pub dependent_role: Option<Role>,
    pub primary_role: Option<Role>,
    pub influence: bool,
}

/// A location constraint on a working resource.
#[derive(Debug, Clone)]
pub(super) struct Loc {
    pub rsc: RscIx,
    pub role_filter: Option<Role>,
    pub nodes: Vec<(NodeIx, i32)>,
    pub discovery: Discovery,
}

/// Everything the scheduler works on.
pub(super) struct WorkingSet<'a> {
    pub cluster: &'a Cluster,
    pub now: i64,
    pub nodes: Vec<NodeState>,
    /// Nodes in Pacemaker's list order (sorted by name, digits numerically).
    pub node_order: Vec<NodeIx>,
    /// Each node's rank in byte-wise name order (the final tie-break
    /// between equally good nodes).
    pub name_rank: Vec<u32>,
    /// Whether to record allocation score lines.
    pub record_scores: bool,
    /// Per clone instance: its colocated score on its current node, for
    /// ordering instances (see `compute_instance_coloc`).
    pub instance_coloc: Vec<i32>,
    /// Promotion scores from `master-<name>` node attributes: name →
    /// value per node.
    pub promotion_attrs: std::collections::BTreeMap<String, Vec<Option<i32>>>,
    pub rscs: Vec<Rsc>,
    /// The names of clone instances, one after another (see
    /// [`Rsc::instance_id`]): one string rather than one per instance.
    pub instance_names: String,
    /// Every resource's allowed-node scores ([`ABSENT`] where a node is not
    /// allowed), one row of `nodes.len()` per resource in `rscs` order:
    /// see [`WorkingSet::allowed`].
    pub allowed_table: Vec<i32>,
    /// Top-level resources in scheduling order (priority, then
    /// configuration order).
    pub top: Vec<RscIx>,
    /// Top-level resources in configuration order.
    pub top_config: Vec<RscIx>,
    /// Working resources of each configured resource (instances of clones).
    pub by_model: Vec<Few<1>>,
    pub colocs: Vec<Coloc>,
    pub locs: Vec<Loc>,
    pub orderings: Vec<Ordering>,
    pub actions: Vec<Act>,
    pub edges: Vec<Edge>,
    /// Probes kept out of the propagated graph: (primitive, node, the
    /// resource whose start waits for it).
    pub probes: Vec<(RscIx, NodeIx, RscIx)>,
    /// Names of the clone-min pseudo-actions (`clone-one-or-more:<order>`).
    pub clone_min_names: Vec<(ActIx, String)>,
    /// Per resource: how many times an action of a resource below it was
    /// created or changed (`optional`, `runnable`, `node`); a clone's
    /// cached summary is good while its count stays the same.
    pub changes: Vec<u64>,
    /// Per action: its slot in `summaries`, if it has one.
    pub summary_slots: Vec<u32>,
    /// What clone actions derive from their instances' actions.
    pub summaries: Vec<Summary>,
    /// Work list of the propagation, and which actions are on it.
    pub stack: Vec<ActIx>,
    pub queued: Vec<bool>,
    /// Nesting of the propagation's updates (deeper ones are deferred to
    /// the work list), and how many updates it may still run.
    pub update_depth: u32,
    pub update_budget: u64,

    pub stonith_enabled: bool,
    pub have_stonith_resource: bool,
    pub have_quorum: bool,
    pub no_quorum_policy: NoQuorumPolicy,
    pub symmetric: bool,
    pub stop_everything: bool,
    pub startup_probes: bool,
    pub concurrent_fencing: bool,

    /// Allocation score lines, in the order they were produced.
    pub scores: Vec<(Stage, RscIx, NodeIx, i32)>,
}

impl<'a> WorkingSet<'a> {
    /// Expands the model into working resources (clones into instances),
    /// with Pacemaker's defaults and each resource's initial allowed nodes.
    pub fn new(cluster: &'a Cluster, now: i64) -> WorkingSet<'a> {
        let options = &cluster.options;
        let nodes: Vec<NodeState> = cluster
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| NodeState {
                name: n.name.clone(),
                online: n.online,
                standby: n.standby || n.standby_onfail,
                unclean: n.unclean,
                maintenance: n.maintenance,
                shutdown: n.shutdown,
                pending: n.pending,
                num_resources: 0,
                fence_reason: if n.unclean {
                    n.unclean_reason.clone()
                } else {
                    None
                },
                is_dc: cluster.dc.map(|d| d.0) == Some(i),
            })
            .collect();
        let mut node_order: Vec<NodeIx> = (0..nodes.len()).collect();
        node_order.sort_by(|&a, &b| numeric_name_cmp(&nodes[a].name, &nodes[b].name));
        let mut by_bytes: Vec<NodeIx> = (0..nodes.len()).collect();
        by_bytes.sort_by(|&a, &b| nodes[a].name.as_bytes().cmp(nodes[b].name.as_bytes()));
        let mut name_rank = vec![0u32; nodes.len()];
        for (rank, &n) in by_bytes.iter().enumerate() {
            name_rank[n] = rank as u32;
        }

        let have_stonith_resource = cluster.resources.iter().any(|r| {
            matches!(&r.kind, ResourceKind::Primitive(p) if p.class.eq_ignore_ascii_case("stonith"))
        });

        let expected = expected_resources(cluster);
        let mut ws = WorkingSet {
            cluster,
            now,
            nodes,
            node_order,
            name_rank,
            record_scores: true,
            instance_coloc: Vec::new(),
            promotion_attrs: promotion_attributes(cluster),
            rscs: Vec::with_capacity(expected),
            instance_names: String::new(),
            allowed_table: Vec::with_capacity(expected.saturating_mul(cluster.nodes.len())),
            top: Vec::new(),
            top_config: Vec::new(),
            by_model: vec![Few::new(); cluster.resources.len()],
            colocs: Vec::new(),
            locs: Vec::new(),
            orderings: Vec::new(),
            actions: Vec::new(),
            edges: Vec::new(),
            probes: Vec::new(),
            clone_min_names: Vec::new(),
            changes: Vec::with_capacity(expected),
            summary_slots: Vec::new(),
            summaries: Vec::new(),
            stack: Vec::new(),
            queued: Vec::new(),
            update_depth: 0,
            update_budget: 0,
            stonith_enabled: options.stonith_enabled,
            have_stonith_resource,
            have_quorum: cluster.have_quorum,
            no_quorum_policy: options.no_quorum_policy,
            symmetric: options.symmetric_cluster,
            stop_everything: options.stop_all_resources,
            startup_probes: options.startup_probes,
            concurrent_fencing: options.concurrent_fencing,
            scores: Vec::new(),
        };
        for id in cluster.top_level().collect::<Vec<_>>() {
            if let Some(ix) = ws.build(id, None, None) {
                ws.top_config.push(ix);
            }
        }
        let mut top = ws.top_config.clone();
        // Stable: equal priorities keep configuration order.
        top.sort_by(|&a, &b| ws.rscs[b].priority.cmp(&ws.rscs[a].priority));
        ws.top = top;
        ws
    }

    /// Builds one more instance of a clone (an orphan beyond clone-max).
    pub fn build_child_for_orphan(
        &mut self,
        clone: RscIx,
        child_model: ResourceId,
        number: u32,
    ) -> RscIx {
        match self.build(child_model, Some(clone), Some(number)) {
            Some(ix) => ix,
            // The clone's child is a primitive or group by construction; an
            // index out of range falls back to a primitive of the clone.
            None => self.new_rsc(
                self.rscs[clone].model,
                Some(clone),
                Some(number),
                Variant::Primitive,
                false,
            ),
        }
    }

    /// Builds the working resource(s) for a configured resource.
    fn build(
        &mut self,
        id: ResourceId,
        parent: Option<RscIx>,
        instance: Option<u32>,
    ) -> Option<RscIx> {
        let cluster = self.cluster;
        let res = cluster.resources.get(id.0)?;
        // A configuration nests at most clone → group → primitive; deeper
        // (or cyclic) nesting from a malformed model is cut off.
        let mut depth = 0;
        let mut up = parent;
        while let Some(p) = up {
            depth += 1;
            up = self.rscs[p].parent;
        }
        if depth > 2 {
            return None;
        }
        // Clones exist only at the top, groups at the top or in a clone
        // (Pacemaker's schema); anything else in a malformed model is cut.
        let parent_variant = parent.map(|p| self.rscs[p].variant);
        match (&res.kind, parent_variant) {
            (ResourceKind::Clone(_), Some(_)) => return None,
            (ResourceKind::Group(_), Some(Variant::Group)) => return None,
            _ => {}
        }
        match &res.kind {
            ResourceKind::Primitive(p) => {
                let fence_device = p.class.eq_ignore_ascii_case("stonith");
                let ix = self.new_rsc(id, parent, instance, Variant::Primitive, fence_device);
                Some(ix)
            }
            ResourceKind::Group(g) => {
                let ix = self.new_rsc(id, parent, instance, Variant::Group, false);
                self.rscs[ix].group_ordered = g.ordered;
                self.rscs[ix].group_colocated = g.collocated;
                for &m in &g.members {
                    if let Some(child) = self.build(m, Some(ix), instance) {
                        self.rscs[ix].children.push(child);
                    }
                }
                Some(ix)
            }
            ResourceKind::Clone(c) => {
                let ix = self.new_rsc(id, parent, None, Variant::Clone, false);
                let nodes = self.nodes.len().max(1) as u32;
                let mut spec = CloneSpec {
                    max: c.clone_max.unwrap_or(nodes),
                    node_max: c.clone_node_max,
                    promoted_max: c.promoted_max,
                    promoted_node_max: c.promoted_node_max,
                    min: c.clone_min,
                    interleave: c.interleave,
                    unique: c.globally_unique,
                    ordered: c.ordered,
                    promotable: c.promotable,
                };
                // Agents without unique-clone support (lsb, systemd,
                // service, upstart, nagios) are cloned anonymously.
                if spec.unique && !self.supports_unique(c.child) {
                    spec.unique = false;
                    spec.node_max = 1;
                    spec.max = spec.max.min(self.nodes.len() as u32);
                }
                if !spec.unique && spec.node_max > 1 {
                    spec.node_max = 1;
                }
                // Instances beyond what the nodes can hold never run; keep
                // a malformed clone-max from allocating without bound.
                let useful = nodes
                    .saturating_mul(spec.node_max.max(1))
                    .saturating_add(64);
                spec.max = spec.max.min(useful);
                self.rscs[ix].clone = Some(spec.clone());
                self.rscs[ix].promotable = c.promotable;
                for i in 0..spec.max {
                    if let Some(child) = self.build(c.child, Some(ix), Some(i)) {
                        self.rscs[ix].children.push(child);
                    }
                }
                Some(ix)
            }
        }
    }

    /// Whether every primitive at or under `id` has an agent class that
    /// supports globally-unique clones (ocf, stonith).
    fn supports_unique(&self, id: ResourceId) -> bool {
        self.supports_unique_at(id, 0)
    }

    fn supports_unique_at(&self, id: ResourceId, depth: u8) -> bool {
        if depth > 2 {
            return true;
        }
        match self.cluster.resources.get(id.0).map(|r| &r.kind) {
            Some(ResourceKind::Primitive(p)) => {
                p.class.eq_ignore_ascii_case("ocf") || p.class.eq_ignore_ascii_case("stonith")
            }
            Some(ResourceKind::Group(g)) => g
                .members
                .iter()
                .all(|&m| self.supports_unique_at(m, depth + 1)),
            Some(ResourceKind::Clone(c)) => self.supports_unique_at(c.child, depth + 1),
            None => true,
        }
    }

    /// Creates one working resource with its effective settings.
    fn new_rsc(
        &mut self,
        id: ResourceId,
        parent: Option<RscIx>,
        instance: Option<u32>,
        variant: Variant,
        fence_device: bool,
    ) -> RscIx {
        let cluster = self.cluster;
        let res = &cluster.resources[id.0];
        let meta = &res.meta;
        let in_clone = self.clone_ancestor_spec(parent);
        let unique = match &in_clone {
            Some(spec) => spec.unique,
            None => true,
        };
        let promotable = in_clone.as_ref().map(|s| s.promotable).unwrap_or(false);
        let stickiness = match meta.stickiness {
            Some(s) => s.value(),
            None if in_clone.is_some() || variant == Variant::Clone => 1,
            None => 0,
        };
        let maintenance = meta.maintenance || cluster.options.maintenance_mode;
        let managed = meta.managed && !maintenance;
        let needs = match meta.requires {
            Some(Requires::Nothing) => Needs::Nothing,
            Some(Requires::Quorum) => Needs::Quorum,
            Some(Requires::Fencing) => Needs::Fencing,
            None if fence_device => Needs::Quorum,
            None if cluster.options.stonith_enabled => Needs::Fencing,
            None if cluster.options.no_quorum_policy == NoQuorumPolicy::Ignore => Needs::Nothing,
            None => Needs::Quorum,
        };
        let promotable_here =
            promotable || matches!(&res.kind, ResourceKind::Clone(c) if c.promotable);
        let next_role = match meta.target_role {
            None | Some(Role::Started) => None,
            Some(Role::Stopped) => Some(Role::Stopped),
            Some(Role::Unpromoted) if promotable_here => Some(Role::Unpromoted),
            Some(Role::Unpromoted) | Some(Role::Promoted) => None,
        };
        let migration_threshold = i32::try_from(meta.migration_threshold)
            .unwrap_or(INF)
            .min(INF);
        let instance_id = match instance {
            Some(i) => {
                let start = self.instance_names.len();
                let _ = write!(self.instance_names, "{}:{}", res.id, i);
                start..self.instance_names.len()
            }
            None => 0..0,
        };
        let n = self.nodes.len();
        // Symmetric clusters start every resource at each node's base
        // score (the node's `score` attribute).
        if self.symmetric {
            self.allowed_table
                .extend(cluster.nodes.iter().map(|n| n.score.value()));
        } else {
            self.allowed_table.extend(std::iter::repeat(ABSENT).take(n));
        }
        let rsc = Rsc {
            instance_id,
            clone_name: None,
            model: id,
            instance,
            variant,
            parent,
            children: Vec::new(),
            clone: None,
            group_ordered: true,
            group_colocated: true,
            priority: meta.priority,
            stickiness,
            migration_threshold,
            failure_timeout: meta.failure_timeout_s,
            managed,
            maintenance,
            unique,
            promotable: promotable_here,
            critical: meta.critical,
            needs,
            recovery: meta.multiple_active,
            orphan: false,
            restart_type_restart: meta
                .other
                .get("restart-type")
                .map(|v| v.eq_ignore_ascii_case("restart"))
                .unwrap_or(false),
            role: Role::Stopped,
            next_role,
            running_on: Vec::new(),
            known_on: Vec::new(),
            failed: false,
            stop: false,
            block: false,
            provisional: true,
            allocating: false,
            merging: false,
            failure_ignored: false,
            start_pending: false,
            restarting: false,
            stop_unexpected: false,
            exclusive_discover: false,
            promotion_constrained: false,
            promotion_added: false,
            // Only a clone's counts are read (instances per node); other
            // resources keep none.
            count: if variant == Variant::Clone {
                vec![0; n]
            } else {
                Vec::new()
            },
            discover: Vec::new(),
            allocated_to: None,
            allocated_weight: 0,
            this_with: Vec::new(),
            with_this: Vec::new(),
            locations: Vec::new(),
            actions: Few::new(),
            ops: 0,
            monitors: Few::new(),
            sort_index: 0,
            fail_counts: Vec::new(),
        };
        let ix = self.rscs.len();
        self.rscs.push(rsc);
        self.changes.push(0);
        if id.0 < self.by_model.len() {
            self.by_model[id.0].push(ix);
        }
        ix
    }

    /// A resource's name: `rsc`, or `rsc:2` for a clone instance.
    pub fn rsc_id(&self, rsc: RscIx) -> &str {
        let r = &self.rscs[rsc];
        if r.instance.is_some() {
            self.instance_names
                .get(r.instance_id.clone())
                .unwrap_or_default()
        } else {
            self.cluster
                .resources
                .get(r.model.0)
                .map_or("", |m| m.id.as_str())
        }
    }

    /// The settings of the nearest clone at or above `rsc`.
    fn clone_ancestor_spec(&self, mut rsc: Option<RscIx>) -> Option<CloneSpec> {
        while let Some(r) = rsc {
            if let Some(spec) = &self.rscs[r].clone {
                return Some(spec.clone());
            }
            rsc = self.rscs[r].parent;
        }
        None
    }

    /// The top-most ancestor (`uber_parent`).
    pub fn top_of(&self, mut rsc: RscIx) -> RscIx {
        while let Some(p) = self.rscs[rsc].parent {
            rsc = p;
        }
        rsc
    }

    /// Whether `rsc` is a clone.
    pub fn is_clone(&self, rsc: RscIx) -> bool {
        self.rscs[rsc].variant == Variant::Clone
    }

    /// Whether `ancestor` is `rsc` or one of its parents.
    pub fn is_ancestor(&self, ancestor: RscIx, mut rsc: RscIx) -> bool {
        loop {
            if rsc == ancestor {
                return true;
            }
            match self.rscs[rsc].parent {
                Some(p) => rsc = p,
                None => return false,
            }
        }
    }

    /// `rsc`'s allowed-node scores, one per node ([`ABSENT`] where the node
    /// is not allowed).
    pub fn allowed(&self, rsc: RscIx) -> &[i32] {
        let n = self.nodes.len();
        &self.allowed_table[rsc * n..(rsc + 1) * n]
    }

    /// `rsc`'s allowed-node scores, to change.
    pub fn allowed_mut(&mut self, rsc: RscIx) -> &mut [i32] {
        let n = self.nodes.len();
        &mut self.allowed_table[rsc * n..(rsc + 1) * n]
    }

    /// Whether a node can run resources, optionally also requiring a
    /// non-negative score in `allowed`.
    pub fn node_available(&self, node: NodeIx, weight: Option<i32>) -> bool {
        if !self.nodes[node].available() {
            return false;
        }
        match weight {
            Some(w) => w >= 0,
            None => true,
        }
    }

    /// Whether any node in an allowed table can run resources
    /// (`pcmk__any_node_available`).
    pub fn any_node_available(&self, allowed: &[i32]) -> bool {
        allowed
            .iter()
            .enumerate()
            .any(|(n, &w)| w != ABSENT && self.node_available(n, Some(w)))
    }

    /// Adds `score` to `rsc`'s allowed node `node` (creating the entry), and
    /// to all its descendants (`resource_location`).
    pub fn resource_location(&mut self, rsc: RscIx, node: Option<NodeIx>, score: i32) {
        match node {
            Some(n) => self.node_score(rsc, n, score),
            None => {
                for n in 0..self.nodes.len() {
                    self.node_score(rsc, n, score);
                }
                if score <= -INF {
                    self.rscs[rsc].allocated_to = None;
                }
            }
        }
    }

    fn node_score(&mut self, rsc: RscIx, node: NodeIx, score: i32) {
        for i in 0..self.rscs[rsc].children.len() {
            let c = self.rscs[rsc].children[i];
            self.node_score(c, node, score);
        }
        // A node not allowed yet enters with its own weight.
        let base = self.node_weight(node);
        let slot = &mut self.allowed_mut(rsc)[node];
        *slot = if *slot == ABSENT {
            add(base, score)
        } else {
            add(*slot, score)
        };
    }

    /// A node's own weight once the status is known: its base score, or
    /// -INFINITY when it is offline or shutting down.
    pub fn node_weight(&self, node: NodeIx) -> i32 {
        let n = &self.nodes[node];
        if !n.online || n.shutdown {
            -INF
        } else {
            self.cluster
                .nodes
                .get(node)
                .map(|n| n.score.value())
                .unwrap_or(0)
        }
    }

    /// Adds `score` to existing allowed entries of `rsc` and its
    /// descendants (`common_update_score`).
    pub fn update_score(&mut self, rsc: RscIx, node: NodeIx, score: i32) {
        let slot = &mut self.allowed_mut(rsc)[node];
        if *slot != ABSENT {
            *slot = add(*slot, score);
        }
        for i in 0..self.rscs[rsc].children.len() {
            let c = self.rscs[rsc].children[i];
            self.update_score(c, node, score);
        }
    }

    /// The node a resource is active on (`pe__current_node`): the first
    /// clean node for resources that do not need fencing, else the first.
    pub fn current_node(&self, rsc: RscIx) -> Option<NodeIx> {
        let r = &self.rscs[rsc];
        let mut active: Option<NodeIx> = None;
        for &n in &r.running_on {
            let happy = self.nodes[n].online && !self.nodes[n].unclean;
            if r.needs != Needs::Fencing && happy {
                match active {
                    Some(a) if self.nodes[a].online && !self.nodes[a].unclean => {}
                    _ => active = Some(n),
                }
            }
            if active.is_none() {
                active = Some(n);
            }
            if r.needs == Needs::Fencing {
                break;
            }
        }
        active
    }

    /// (active on, number of nodes, number of clean nodes).
    pub fn active_counts(&self, rsc: RscIx) -> (usize, usize) {
        let r = &self.rscs[rsc];
        let all = r.running_on.len();
        let clean = r
            .running_on
            .iter()
            .filter(|&&n| self.nodes[n].online && !self.nodes[n].unclean)
            .count();
        (all, clean)
    }

    /// Nodes a resource (or its descendants) is on: currently running
    /// (`current`) or assigned (`native_location`), each once.
    pub fn locations(&self, rsc: RscIx, current: bool) -> Few<4> {
        let mut out = Few::new();
        self.for_each_location(rsc, current, &mut |n| {
            if !out.contains(&n) {
                out.push(n);
            }
        });
        out
    }

    /// Calls `f` with every node of every primitive at or under `rsc`
    /// (repeats included).
    fn for_each_location(&self, rsc: RscIx, current: bool, f: &mut impl FnMut(NodeIx)) {
        let r = &self.rscs[rsc];
        if !r.children.is_empty() {
            for &c in &r.children {
                self.for_each_location(c, current, f);
            }
        } else if current {
            for &n in &r.running_on {
                f(n);
            }
        } else if let Some(n) = r.allocated_to {
            f(n);
        }
    }

    /// The single node of [`Self::locations`], if exactly one.
    pub fn location(&self, rsc: RscIx, current: bool) -> Option<NodeIx> {
        let mut only = None;
        let mut several = false;
        self.for_each_location(rsc, current, &mut |n| match only {
            None => only = Some(n),
            Some(o) if o != n => several = true,
            Some(_) => {}
        });
        if several {
            None
        } else {
            only
        }
    }

    /// Current (`current`) or next role, the highest among descendants.
    pub fn state(&self, rsc: RscIx, current: bool) -> Option<Role> {
        let r = &self.rscs[rsc];
        if r.children.is_empty() {
            if current {
                Some(r.role)
            } else {
                r.next_role
            }
        } else {
            r.children
                .iter()
                .filter_map(|&c| self.state(c, current))
                .max()
        }
    }

    /// Whether `rsc` or a descendant is blocked.
    pub fn any_blocked(&self, rsc: RscIx) -> bool {
        let r = &self.rscs[rsc];
        r.block || r.children.iter().any(|&c| self.any_blocked(c))
    }

    /// Whether a resource or descendant failed.
    pub fn did_fail(&self, rsc: RscIx) -> bool {
        let r = &self.rscs[rsc];
        r.failed || r.children.iter().any(|&c| self.did_fail(c))
    }

    /// Whether a resource or descendant is managed.
    pub fn any_managed(&self, rsc: RscIx) -> bool {
        let r = &self.rscs[rsc];
        r.managed || r.children.iter().any(|&c| self.any_managed(c))
    }

    /// Marks a node for fencing (`pe_fence_node`).
    pub fn fence_node(&mut self, node: NodeIx, reason: String) {
        let n = &mut self.nodes[node];
        if !n.unclean {
            n.unclean = true;
            n.fence_reason = Some(reason);
        } else if n.fence_reason.is_none() {
            n.fence_reason = Some(reason);
        }
    }

    /// Whether fencing is possible for a node (`pe_can_fence`).
    pub fn can_fence(&self, node: Option<NodeIx>) -> bool {
        if !self.stonith_enabled || !self.have_stonith_resource {
            return false;
        }
        if self.have_quorum || self.no_quorum_policy == NoQuorumPolicy::Ignore {
            return true;
        }
        match node {
            Some(n) => self.nodes[n].online,
            None => false,
        }
    }

    /// Records allocation-score lines for `rsc`'s table and, recursively,
    /// its children's (`pe__show_node_weights`).
    pub fn show_scores(&mut self, stage: Stage, rsc: RscIx) {
        if !self.record_scores || self.rscs[rsc].orphan {
            return;
        }
        for n in 0..self.nodes.len() {
            let w = self.allowed(rsc)[n];
            if w != ABSENT {
                self.scores.push((stage, rsc, n, w));
            }
        }
        for i in 0..self.rscs[rsc].children.len() {
            let c = self.rscs[rsc].children[i];
            self.show_scores(stage, c);
        }
    }
}

/// About how many working resources [`WorkingSet::new`] builds (clones
/// expand into instances), so the list is allocated once.
fn expected_resources(cluster: &Cluster) -> usize {
    let nodes = cluster.nodes.len().max(1);
    let mut total = cluster.resources.len();
    for r in &cluster.resources {
        if let ResourceKind::Clone(c) = &r.kind {
            let per_node = c.clone_node_max.max(1) as usize;
            let instances = c
                .clone_max
                .map_or(nodes, |m| m as usize)
                .min(nodes.saturating_mul(per_node).saturating_add(64));
            let size = match cluster.resources.get(c.child.0).map(|r| &r.kind) {
                Some(ResourceKind::Group(g)) => 1 + g.members.len(),
                _ => 1,
            };
            total = total.saturating_add(instances.saturating_mul(size));
        }
    }
    total
}

/// The `master-<name>` node attributes (promotion scores), by name.
fn promotion_attributes(cluster: &Cluster) -> std::collections::BTreeMap<String, Vec<Option<i32>>> {
    let mut out: std::collections::BTreeMap<String, Vec<Option<i32>>> = Default::default();
    for (i, node) in cluster.nodes.iter().enumerate() {
        for (key, value) in node.attributes.range("master-".to_string()..) {
            let Some(name) = key.strip_prefix("master-") else {
                break;
            };
            let slot = out
                .entry(name.to_string())
                .or_insert_with(|| vec![None; cluster.nodes.len()]);
            slot[i] = Some(super::promote::parse_score(value));
        }
    }
    out
}
