//! The cluster as the policy engine sees it: nodes, resources, constraints,
//! cluster options and the current state of every resource on every node.
//!
//! Every front door produces this model: Pacemaker's CIB XML
//! ([`crate::cib`]), and (in the root package) the native configuration and
//! heartbeat's haresources. The engine reads only this.
//!
//! Resources and nodes live in arenas ([`Cluster::resources`],
//! [`Cluster::nodes`]) and refer to each other by index ([`ResourceId`],
//! [`NodeId`]). Resources are stored parent before children, in
//! configuration order, so a forward walk visits them as the CIB lists them.
//! Meta attributes are stored *effective*: `rsc_defaults`, then the parent's
//! meta attributes, then the resource's own, as Pacemaker resolves them.

use std::collections::BTreeMap;
use std::fmt;

use crate::score::Score;

/// Index of a node in [`Cluster::nodes`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub usize);

/// Index of a resource in [`Cluster::resources`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResourceId(pub usize);

/// A whole cluster: configuration and current state.
#[derive(Debug, Clone, Default)]
pub struct Cluster {
    /// Cluster options (`crm_config`).
    pub options: ClusterOptions,
    /// Every node, in configuration order.
    pub nodes: Vec<Node>,
    /// Every resource, parents before children, in configuration order.
    pub resources: Vec<Resource>,
    /// Location constraints (and location preferences from other front doors).
    pub locations: Vec<Location>,
    /// Colocation constraints.
    pub colocations: Vec<Colocation>,
    /// Ordering constraints.
    pub orders: Vec<Order>,
    /// What the resource history says is running where, and what failed.
    pub history: Vec<History>,
    /// Resources found in the history but not in the configuration.
    pub orphans: Vec<Orphan>,
    /// Nodes the history bans a resource from (-INFINITY there), whatever
    /// the constraints say: a probe that found the agent not installed or
    /// not configured, a hard error (the node cannot run it), a fatal error
    /// (no node can), a failed stop.
    pub history_bans: Vec<HistoryBan>,
    /// Probes whose failure Pacemaker masks (the agent is not installed or
    /// its parameters are invalid on that node), in history order; status
    /// output shows them as `Stopped (not installed)`.
    pub failed_probes: Vec<FailedProbe>,
    /// Whether the partition has quorum (`have-quorum`).
    pub have_quorum: bool,
    /// The designated coordinator, when known.
    pub dc: Option<NodeId>,
    /// Nodes in the order reading the status found them unclean
    /// (Pacemaker's `pe_fence_node` on a clean node, which creates the
    /// node's fencing action then). crm_simulate lists Fence lines newest
    /// action first: these nodes last, in reverse; nodes unclean without
    /// being listed here (never seen, with startup-fencing) first.
    pub unclean_order: Vec<NodeId>,
    /// Indexes into [`Cluster::history`] of entries made from fail-count
    /// attributes alone (the node's status has no operation history for
    /// the resource): they carry fail counts for the engine, but status
    /// output does not count the resource as known on that node.
    pub failcount_only: Vec<usize>,
}

/// `crm_config` properties this engine honours, with Pacemaker's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterOptions {
    /// `stonith-enabled` (default true).
    pub stonith_enabled: bool,
    /// `stonith-action`: reboot (default), off or poweroff.
    pub stonith_action: FenceAction,
    /// `symmetric-cluster` (default true: resources may run anywhere).
    pub symmetric_cluster: bool,
    /// `no-quorum-policy` (default stop).
    pub no_quorum_policy: NoQuorumPolicy,
    /// `start-failure-is-fatal` (default true).
    pub start_failure_is_fatal: bool,
    /// `stop-orphan-resources` (default true).
    pub stop_orphan_resources: bool,
    /// `stop-orphan-actions` (default true).
    pub stop_orphan_actions: bool,
    /// `maintenance-mode` (default false).
    pub maintenance_mode: bool,
    /// `stop-all-resources` (default false).
    pub stop_all_resources: bool,
    /// `startup-fencing` (default true).
    pub startup_fencing: bool,
    /// `concurrent-fencing` (default false in 2.1.5).
    pub concurrent_fencing: bool,
    /// `enable-startup-probes` (default true).
    pub startup_probes: bool,
    /// Every other property, as written (reported by name when it changes
    /// behaviour this engine does not implement).
    pub other: BTreeMap<String, String>,
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            stonith_enabled: true,
            stonith_action: FenceAction::Reboot,
            symmetric_cluster: true,
            no_quorum_policy: NoQuorumPolicy::Stop,
            start_failure_is_fatal: true,
            stop_orphan_resources: true,
            stop_orphan_actions: true,
            maintenance_mode: false,
            stop_all_resources: false,
            startup_fencing: true,
            concurrent_fencing: false,
            startup_probes: true,
            other: BTreeMap::new(),
        }
    }
}

/// What fencing a node does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FenceAction {
    /// Power cycle (the default).
    Reboot,
    /// Power off (`off`, or the deprecated `poweroff`).
    Off,
}

/// What a partition without quorum does with its resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoQuorumPolicy {
    /// Stop every resource in the partition (the default).
    Stop,
    /// Keep what runs, start nothing new.
    Freeze,
    /// Carry on as if quorate.
    Ignore,
    /// Fence every node in the partition.
    Suicide,
}

/// A cluster node and its current state.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Node {
    /// The node's name (`uname`), what constraints and `#uname` refer to.
    pub name: String,
    /// The node's id in the CIB (may equal the name).
    pub id: String,
    /// Member of the cluster now (joined, controller up).
    pub online: bool,
    /// In standby: runs nothing.
    pub standby: bool,
    /// Put in standby by an `on-fail=standby` failure.
    pub standby_onfail: bool,
    /// Maintenance: resources on it are left alone (unmanaged).
    pub maintenance: bool,
    /// State unknown: must be fenced before its resources may run elsewhere.
    pub unclean: bool,
    /// Shutting down: its resources move away.
    pub shutdown: bool,
    /// Joining, not yet a full member.
    pub pending: bool,
    /// Node attributes (configuration and transient), `#uname` included.
    pub attributes: BTreeMap<String, String>,
    /// The node's base score (`score` attribute of `<node>`, default 0):
    /// every resource starts with this score on the node.
    pub score: Score,
    /// Why an unclean node must be fenced, in Pacemaker's words (`peer is
    /// no longer part of the cluster`, `rsc1 failed there`, …); None when
    /// unknown (the Fence line then says `node is unclean`).
    pub unclean_reason: Option<String>,
}

/// A resource: primitive, group or clone.
#[derive(Debug, Clone, PartialEq)]
pub struct Resource {
    /// The resource's id.
    pub id: String,
    /// The group or clone holding it.
    pub parent: Option<ResourceId>,
    /// What it is.
    pub kind: ResourceKind,
    /// Effective meta attributes.
    pub meta: Meta,
}

/// The kinds of resources.
#[derive(Debug, Clone, PartialEq)]
pub enum ResourceKind {
    /// One agent instance.
    Primitive(Primitive),
    /// Members placed together; start in order, stop in reverse.
    Group(Group),
    /// Copies of one child (a primitive or a group), optionally promotable.
    Clone(Clone),
}

/// A primitive's agent and operations.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Primitive {
    /// `ocf`, `lsb`, `systemd`, `stonith`, `service`, `heartbeat`, …
    pub class: String,
    /// The OCF provider (`heartbeat`, `pacemaker`, …).
    pub provider: Option<String>,
    /// The agent (`IPaddr2`, `Dummy`, `fence_ipmilan`, …).
    pub agent: String,
    /// Configured operations (op_defaults applied).
    pub operations: Vec<Operation>,
    /// Instance attributes (the agent's parameters), as written.
    pub parameters: BTreeMap<String, String>,
}

impl Primitive {
    /// `class:provider:type` (or `class:type`), as crm_simulate prints it.
    pub fn agent_spec(&self) -> String {
        // Joined by hand: `format!` costs several times more, and status
        // output builds this for every primitive.
        let provider = self.provider.as_deref();
        let mut spec = String::with_capacity(
            self.class.len() + provider.map_or(0, |p| p.len() + 1) + self.agent.len() + 1,
        );
        spec.push_str(&self.class);
        spec.push(':');
        if let Some(p) = provider {
            spec.push_str(p);
            spec.push(':');
        }
        spec.push_str(&self.agent);
        spec
    }
}

/// A configured operation.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Operation {
    /// `start`, `stop`, `monitor`, `promote`, `demote`, …
    pub name: String,
    /// Milliseconds between recurring runs; 0 for one-shot operations.
    pub interval_ms: u64,
    /// The role it applies to (monitors per role).
    pub role: Option<Role>,
    /// What a failure of this operation asks for (None: the default for
    /// the operation, per Pacemaker Explained).
    pub on_fail: Option<OnFail>,
    /// `enabled=false` operations are not scheduled.
    pub enabled: bool,
    /// The operation's timeout, milliseconds.
    pub timeout_ms: Option<u64>,
    /// `start-delay`, milliseconds (0: none).
    pub start_delay_ms: u64,
}

/// A group.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// Members, in start order.
    pub members: Vec<ResourceId>,
    /// `ordered` (default true).
    pub ordered: bool,
    /// `collocated` (default true).
    pub collocated: bool,
}

/// A clone or promotable clone.
#[derive(Debug, Clone, PartialEq)]
pub struct Clone {
    /// The cloned resource (a primitive or a group).
    pub child: ResourceId,
    /// `promotable` (or a `<master>` element).
    pub promotable: bool,
    /// `clone-max` (None: the number of nodes).
    pub clone_max: Option<u32>,
    /// `clone-node-max` (default 1).
    pub clone_node_max: u32,
    /// `promoted-max` / `master-max` (default 1).
    pub promoted_max: u32,
    /// `promoted-node-max` / `master-node-max` (default 1).
    pub promoted_node_max: u32,
    /// `clone-min` (default 0).
    pub clone_min: u32,
    /// `interleave` (default false).
    pub interleave: bool,
    /// `globally-unique` (default false: anonymous).
    pub globally_unique: bool,
    /// `ordered` (default false).
    pub ordered: bool,
}

/// Effective meta attributes of a resource.
#[derive(Debug, Clone, PartialEq)]
pub struct Meta {
    /// `priority` (default 0): who gets a node first.
    pub priority: i32,
    /// `target-role` (default Started; Promoted for promotable children).
    pub target_role: Option<Role>,
    /// `is-managed` (default true).
    pub managed: bool,
    /// `maintenance` (default false).
    pub maintenance: bool,
    /// `resource-stickiness` (default 0; 1 for clone instances in 2.1.5).
    pub stickiness: Option<Score>,
    /// `migration-threshold` (default INFINITY: 1 000 000; 0 disables).
    pub migration_threshold: u32,
    /// `failure-timeout` in seconds (0: failures never expire).
    pub failure_timeout_s: u64,
    /// `requires` (default: fencing when stonith is enabled, else quorum).
    pub requires: Option<Requires>,
    /// `multiple-active` (default stop_start).
    pub multiple_active: MultipleActive,
    /// `critical` (default true).
    pub critical: bool,
    /// `allow-migrate` is outside the subset; kept to report it.
    pub allow_migrate: bool,
    /// Every other meta attribute, as written.
    pub other: BTreeMap<String, String>,
}

impl Default for Meta {
    fn default() -> Self {
        Meta {
            priority: 0,
            target_role: None,
            managed: true,
            maintenance: false,
            stickiness: None,
            migration_threshold: 1_000_000,
            failure_timeout_s: 0,
            requires: None,
            multiple_active: MultipleActive::StopStart,
            critical: true,
            allow_migrate: false,
            other: BTreeMap::new(),
        }
    }
}

/// A resource role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Not running.
    Stopped,
    /// Running (a primitive, or a clone instance that is not promotable).
    Started,
    /// Running as a promotable clone's secondary (formerly Slave).
    Unpromoted,
    /// Running as a promotable clone's primary (formerly Master).
    Promoted,
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Role::Stopped => "Stopped",
            Role::Started => "Started",
            Role::Unpromoted => "Unpromoted",
            Role::Promoted => "Promoted",
        })
    }
}

/// What a failed operation asks for (`on-fail`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnFail {
    /// Pretend it did not fail.
    Ignore,
    /// Stop the resource and leave it stopped.
    Stop,
    /// Stop and start it again (in place first, moved after the threshold).
    Restart,
    /// Leave it alone (unmanaged, blocked).
    Block,
    /// Fence the node.
    Fence,
    /// Move everything off the node (node standby).
    Standby,
}

/// What a resource needs before it may start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requires {
    /// Nothing.
    Nothing,
    /// Quorum.
    Quorum,
    /// Quorum, and every unclean node fenced.
    Fencing,
}

/// What happens when a resource is found active on more than one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MultipleActive {
    /// Stop everywhere, start in one place (the default).
    StopStart,
    /// Stop everywhere.
    StopOnly,
    /// Leave it alone (unmanaged).
    Block,
    /// Stop the extra copies only.
    StopUnexpected,
}

/// A location constraint, resolved to per-node scores (rules on `#uname`
/// are evaluated by the front door: the node list is known then).
#[derive(Debug, Clone, PartialEq)]
pub struct Location {
    /// The constraint's id.
    pub id: String,
    /// The constrained resource.
    pub resource: ResourceId,
    /// The role it applies to (promotable clones), None: any.
    pub role: Option<Role>,
    /// Scores per node; nodes not listed are not affected.
    pub scores: Vec<(NodeId, Score)>,
    /// `resource-discovery` (default always).
    pub discovery: Discovery,
}

/// `resource-discovery`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discovery {
    /// Probe on the nodes (the default).
    Always,
    /// Never probe there.
    Never,
    /// Probe only on the nodes of such constraints.
    Exclusive,
}

/// A colocation constraint: `dependent` is placed relative to `primary`
/// (CIB: `rsc` with `with-rsc`).
#[derive(Debug, Clone, PartialEq)]
pub struct Colocation {
    /// The constraint's id.
    pub id: String,
    /// `rsc`: placed after and relative to the primary.
    pub dependent: ResourceId,
    /// `with-rsc`.
    pub primary: ResourceId,
    /// ±INFINITY: must/must not; finite: preference.
    pub score: Score,
    /// `rsc-role`.
    pub dependent_role: Option<Role>,
    /// `with-rsc-role`.
    pub primary_role: Option<Role>,
    /// `influence` (default true): the primary's placement considers the
    /// dependent.
    pub influence: bool,
}

/// The actions an ordering constraint can tie.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Task {
    /// start
    Start,
    /// stop
    Stop,
    /// promote
    Promote,
    /// demote
    Demote,
}

impl fmt::Display for Task {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Task::Start => "start",
            Task::Stop => "stop",
            Task::Promote => "promote",
            Task::Demote => "demote",
        })
    }
}

/// `kind` of an ordering constraint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderKind {
    /// `then` only after `first`; if `first` cannot run, neither can `then`.
    Mandatory,
    /// Only when both happen in the same transition.
    Optional,
    /// Never at the same time, in either order.
    Serialize,
}

/// An ordering constraint.
#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    /// The constraint's id.
    pub id: String,
    /// `first`.
    pub first: ResourceId,
    /// `first-action` (default start).
    pub first_action: Task,
    /// `then`.
    pub then: ResourceId,
    /// `then-action` (default: first-action).
    pub then_action: Task,
    /// `kind` (or the deprecated `score`: 0 is Optional).
    pub kind: OrderKind,
    /// `symmetrical` (default true, false for Serialize): the reverse
    /// order applies to the inverse actions.
    pub symmetrical: bool,
    /// `require-all` (default true; deprecated): false lets `then` start
    /// once any one instance of the clone `first` is up, as `clone-min=1`
    /// would (an explicit `clone-min` on `first` takes precedence).
    pub require_all: bool,
}

/// What the history of one primitive on one node leaves: its role there,
/// and its failures. One entry per (primitive, clone instance, node) the
/// local resource manager knows.
#[derive(Debug, Clone, PartialEq)]
pub struct History {
    /// The primitive (for clones: the primitive inside the clone).
    pub resource: ResourceId,
    /// The clone instance as recorded (`rsc:2` → 2); None for primitives
    /// outside clones, and for anonymous instances recorded without one.
    pub instance: Option<u32>,
    /// The node.
    pub node: NodeId,
    /// The role the history leaves it in.
    pub role: Role,
    /// The last result was a failure that still needs handling.
    pub failed: bool,
    /// What that failure asks for (the failed operation's `on-fail`).
    pub on_fail: Option<OnFail>,
    /// An operation is in flight (pending).
    pub pending: Option<Task>,
    /// Failures counted for this resource on this node (fail-count-*).
    pub fail_count: u32,
    /// Unix time of the last failure (last-failure-*), for failure-timeout.
    pub last_failure: Option<i64>,
    /// A role the failures cap the resource at for now, whatever its
    /// target role: Stopped after `on-fail=stop` (or a demote failure with
    /// `on-fail=block`), Unpromoted after a failed promote.
    pub next_role: Option<Role>,
    /// A failure was ignored (`on-fail=ignore`): the resource counts as
    /// running, and status output says "failure ignored".
    pub failure_ignored: bool,
}

/// A ban the history imposes (Pacemaker's `hard-error`,
/// `masked-probe-failure`, `fatal-error` and `__stop_fail__` locations).
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryBan {
    /// The resource as named in the history (the engine bans the whole
    /// clone for a clone's primitive, as Pacemaker does).
    pub resource: ResourceId,
    /// The node, or None for every node (a fatal error).
    pub node: Option<NodeId>,
    /// Pacemaker bans only the clone instance the history names
    /// (`__stop_fail__` after a failed stop, `__action_migration_auto__`
    /// for `on-fail=migrate`); the other bans (hard and fatal errors,
    /// masked probe failures, `on-fail=stop`) are on the whole anonymous
    /// clone, whose node list (`Stopped: [ … ]`) they extend.
    pub instance_only: bool,
}

/// A probe that failed in a way Pacemaker masks: exit code 5 (not
/// installed) or 2 (invalid parameter), or execution status "not installed".
#[derive(Debug, Clone, PartialEq)]
pub struct FailedProbe {
    /// The resource as named in the history (a clone's primitive).
    pub resource: ResourceId,
    /// The node it was probed on.
    pub node: NodeId,
    /// The probe's OCF exit code.
    pub rc: i32,
}

/// A resource in the history that the configuration no longer has.
#[derive(Debug, Clone, PartialEq)]
pub struct Orphan {
    /// The id as recorded.
    pub id: String,
    /// `class:provider:type` as recorded.
    pub agent_spec: String,
    /// Where it is active.
    pub node: NodeId,
    /// Its role there.
    pub role: Role,
    /// It failed there.
    pub failed: bool,
    /// The cluster may stop it: not left alone by `stop-orphan-resources`
    /// false, maintenance, `is-managed` false in `rsc_defaults`, or by being
    /// active on a node in maintenance. A property of the resource: every
    /// entry of the same id has the same value.
    pub managed: bool,
    /// A failure blocks it (`on-fail=block`, or a stop that failed without
    /// fencing); also per resource, like `managed`.
    pub blocked: bool,
}

impl Cluster {
    /// The resource with this id.
    pub fn resource(&self, id: ResourceId) -> &Resource {
        &self.resources[id.0]
    }

    /// The node with this id.
    pub fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.0]
    }

    /// Finds a resource by its CIB id.
    pub fn resource_by_name(&self, name: &str) -> Option<ResourceId> {
        self.resources
            .iter()
            .position(|r| r.id == name)
            .map(ResourceId)
    }

    /// Finds a node by name.
    pub fn node_by_name(&self, name: &str) -> Option<NodeId> {
        self.nodes.iter().position(|n| n.name == name).map(NodeId)
    }

    /// Top-level resources (no parent), in configuration order.
    pub fn top_level(&self) -> impl Iterator<Item = ResourceId> + '_ {
        self.resources
            .iter()
            .enumerate()
            .filter(|(_, r)| r.parent.is_none())
            .map(|(i, _)| ResourceId(i))
    }
}
