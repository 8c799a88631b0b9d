//! What the policy engine decides ([`crate::policy::schedule`]): the
//! transition summary, the low-level actions with their ordering graph, the
//! allocation scores, and where everything stands once the transition has
//! run. Renderers ([`crate::simulate`]) and the daemon's executor read this.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use crate::model::{FenceAction, NodeId, ResourceId, Role, Task};
use crate::score::Score;

/// One instance of a primitive: the primitive, and for clones the instance
/// number the engine gave it (`rsc:1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instance {
    /// The primitive (inside a clone: the clone's primitive, or a member of
    /// the clone's group).
    pub resource: ResourceId,
    /// The clone instance; None outside clones.
    pub number: Option<u32>,
}

/// A line of the Transition Summary, in crm_simulate's vocabulary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// `Start rsc ( node )`
    Start {
        /// What starts.
        instance: Instance,
        /// Where.
        node: NodeId,
    },
    /// `Stop rsc ( node )`
    Stop {
        /// What stops.
        instance: Instance,
        /// Where.
        node: NodeId,
    },
    /// `Move rsc ( from -> to )`: stopped on one node, started on another.
    Move {
        /// What moves.
        instance: Instance,
        /// From.
        from: NodeId,
        /// To.
        to: NodeId,
    },
    /// `Recover rsc ( node )` or `( from -> to )`: a failed resource is
    /// stopped and started again, in place or elsewhere.
    Recover {
        /// What is recovered.
        instance: Instance,
        /// Where it failed.
        from: NodeId,
        /// Where it starts again (equal to `from` in place).
        to: NodeId,
    },
    /// `Restart rsc ( node )`: stopped and started in place because
    /// something it depends on restarts.
    Restart {
        /// What restarts.
        instance: Instance,
        /// Where.
        node: NodeId,
    },
    /// `Promote rsc ( Unpromoted -> Promoted node )`, also with a start
    /// (`Stopped -> Promoted`).
    Promote {
        /// What is promoted.
        instance: Instance,
        /// The role it has before.
        from: Role,
        /// Where.
        node: NodeId,
    },
    /// `Demote rsc ( Promoted -> Unpromoted node )`, also with a stop
    /// (`Promoted -> Stopped`).
    Demote {
        /// What is demoted.
        instance: Instance,
        /// The role it ends in.
        to: Role,
        /// Where.
        node: NodeId,
    },
    /// `Fence (reboot) node 'reason'`.
    Fence {
        /// The node to fence.
        node: NodeId,
        /// Reboot or off.
        action: FenceAction,
        /// Why (`peer is no longer part of the cluster`, …).
        reason: String,
    },
}

/// A low-level action of the transition graph.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// A resource operation on a node.
    Resource {
        /// The instance.
        instance: Instance,
        /// start, stop, promote, demote.
        task: Task,
        /// Where it runs.
        node: NodeId,
    },
    /// A probe (one-shot monitor) of a resource on a node.
    Probe {
        /// The instance.
        instance: Instance,
        /// Where.
        node: NodeId,
    },
    /// A recurring monitor started after a start or promote.
    Monitor {
        /// The instance.
        instance: Instance,
        /// Where.
        node: NodeId,
        /// Its interval.
        interval_ms: u64,
    },
    /// Fence a node.
    Fence {
        /// The node.
        node: NodeId,
        /// Reboot or off.
        action: FenceAction,
    },
    /// A pseudo-action marking a collective step (`grp_start_0`,
    /// `clone_running_0`), which orders many actions at once.
    Pseudo {
        /// The group or clone.
        resource: ResourceId,
        /// What it marks: start, stop, promote, demote.
        task: Task,
        /// true for the "done" marker (`running`, `stopped`, `promoted`,
        /// `demoted`), false for the "begin" marker.
        done: bool,
    },
}

/// One allocation score line (`crm_simulate --show-scores`):
/// `pcmk__primitive_assign: rsc allocation score on node1: 100`.
///
/// A large cluster has hundreds of thousands of these lines (every
/// resource, node and assignment stage), so the stage and the resource are
/// shared [`Name`]s: building them allocates nothing per line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllocationScore {
    /// The function-style prefix crm_simulate prints
    /// (`pcmk__primitive_assign`, `pcmk__group_assign`,
    /// `pcmk__clone_assign`, `pcmk__native_allocate`,
    /// `pcmk__clone_allocate`, `promotion`…), which identifies the stage.
    pub stage: Name,
    /// The resource (`rsc`, `rsc:0`, `grp`).
    pub resource: Name,
    /// The node. In the `promotion` stage an instance that will not be
    /// active has none: [`AllocationScore::NO_NODE`] (crm_simulate prints
    /// `none`).
    pub node: NodeId,
    /// The score.
    pub score: Score,
}

/// An immutable name shared by reference counting: cloning it does not
/// allocate. Reads as a `&str` (`Deref`), prints and serialises as one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Name(Arc<str>);

impl Name {
    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for Name {
    fn from(s: &str) -> Self {
        Name(Arc::from(s))
    }
}

impl From<String> for Name {
    fn from(s: String) -> Self {
        Name(Arc::from(s))
    }
}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

impl serde::Serialize for Name {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl AllocationScore {
    /// The node of a `promotion` line for an instance that will not run.
    pub const NO_NODE: NodeId = NodeId(usize::MAX);
}

/// Where one instance stands after the transition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    /// The instance.
    pub instance: Instance,
    /// Its node (None when stopped).
    pub node: Option<NodeId>,
    /// Its role there.
    pub role: Role,
    /// Still failed (not recovered by this transition).
    pub failed: bool,
    /// Left alone: unmanaged, in maintenance, or blocked by a failure.
    pub managed: bool,
    /// Blocked: cannot be stopped or started (for example an `on-fail=block`
    /// failure, or a stop that needs fencing that cannot happen).
    pub blocked: bool,
}

/// A node's state after the transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NodeAfter {
    /// The node.
    pub node: NodeId,
    /// Online after the transition (a fenced node is offline, clean).
    pub online: bool,
    /// Still unclean (fencing was needed but cannot run).
    pub unclean: bool,
    /// In standby (configured, or because of an `on-fail=standby` failure).
    pub standby: bool,
}

/// Everything the engine decided.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Transition {
    /// The Transition Summary, in crm_simulate's order (resources in
    /// configuration order, then fencing).
    pub summary: Vec<Change>,
    /// Every action of the graph.
    pub actions: Vec<Action>,
    /// The graph's edges: (before, after) as indexes into `actions`.
    pub edges: Vec<(usize, usize)>,
    /// Allocation scores.
    pub scores: Vec<AllocationScore>,
    /// Every instance after the transition (stopped ones included), in
    /// configuration order.
    pub placement: Vec<Placed>,
    /// Every node after the transition.
    pub nodes: Vec<NodeAfter>,
    /// Why summary lines happen and which cannot run; lines without a note
    /// have no reason shown and are runnable.
    pub notes: Vec<ChangeNote>,
    /// Resources the history has but the configuration no longer does,
    /// stopped by this transition (`stop-orphan-resources`): indexes into
    /// [`crate::model::Cluster::orphans`] (`Stop rsc ( node )  due to node
    /// availability`; gone from the revised status).
    pub stopped_orphans: Vec<usize>,
    /// Active orphans whose stop cannot run: their node is unclean and is
    /// not fenced by this transition (indexes into
    /// [`crate::model::Cluster::orphans`]; `Stop rsc ( node )  due to node
    /// availability (blocked)`; still active in the revised status).
    pub blocked_orphans: Vec<usize>,
    /// Actions of the graph (indexes into [`Transition::actions`], sorted)
    /// that can never run: they are on a cycle of the graph (ordering
    /// constraints that loop), or wait for an action that never runs (one
    /// on a cycle, or an unrunnable action a Serialize ordering keeps as
    /// their input, as Pacemaker does). crm_simulate stops there
    /// (`Transition failed: terminated`), and so would an executor; the
    /// placement after the transition leaves them out.
    pub never_run: Vec<usize>,
}

/// Detail of one Transition Summary line: crm_simulate's `due to <reason>`
/// and `(blocked)` (the line's action cannot run: no quorum, an unrunnable
/// mandatory order, a stop that needs fencing that cannot happen, …).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChangeNote {
    /// Index of the line in [`Transition::summary`].
    pub change: usize,
    /// Why (`node availability`, `no quorum`, `required rsc4 start`, …).
    pub reason: Option<String>,
    /// The action cannot run in this transition.
    pub blocked: bool,
}
