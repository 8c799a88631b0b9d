//! What goes into and comes out of a [`crate::Node`].

use std::fmt;
use std::time::Duration;

use ironbeat_crm::model::{Cluster, NoQuorumPolicy};
use serde::{Deserialize, Serialize};

/// The default priority fencing delay (see [`NodeConfig::priority_fencing_delay`]).
///
/// In a two-node split both sides are quorate and both want to fence the
/// other. The side that runs no services waits this long before it shoots,
/// so the side that runs them fences first and keeps them (Pacemaker's
/// `priority-fencing-delay`, whose default 0 leaves the race to chance).
/// 10 s covers an IPMI `chassis power off` and its verification, which
/// complete within a few seconds on the BMCs measured; longer only delays
/// recovery when the service holder really died.
pub const DEFAULT_PRIORITY_FENCING_DELAY: Duration = Duration::from_secs(10);

/// The configuration one node runs with. Every member must run the same
/// configuration: [`NodeConfig::digest`] is compared at join.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// This node's name (`uname -n`).
    pub name: String,
    /// Every configured node with its votes, this one included.
    pub nodes: Vec<(String, u32)>,
    /// Two-node mode: quorum is kept by a single survivor; fencing breaks
    /// the tie.
    pub two_node: bool,
    /// The first quorum needs every configured node seen at once (implied
    /// by `two_node`).
    pub wait_for_all: bool,
    /// What a partition without quorum does with its resources.
    pub no_quorum_policy: NoQuorumPolicy,
    /// The crm model of the configuration (nodes, resources, constraints,
    /// options), as `src/config/to_crm.rs` builds it; its history is ignored.
    pub model: Cluster,
    /// A digest of the configuration files; members with another digest are
    /// refused.
    pub digest: u64,
    /// A fencing device is configured: lost nodes are fenced before their
    /// resources start elsewhere. Without it recovery is unsafe (a node
    /// that is only cut off still runs its resources).
    pub fencing: bool,
    /// The link layer's deadtime: the startup wait before electing a DC.
    pub deadtime: Duration,
    /// heartbeat's `initdead`: with `wait_for_all` and fencing, a peer not
    /// seen within this time of the start is fenced off (startup fencing),
    /// and then counts as seen; without fencing the node keeps waiting.
    pub initdead: Duration,
    /// This node's previous run ended cleanly (it left the cluster), or
    /// there was none. Only then may it fence at start a peer it has not
    /// seen: a node that was fenced (rebooted) or crashed comes back
    /// waiting for all nodes, so a node rebooted by a fence while its links
    /// are still cut cannot power off the healthy node that fenced it.
    pub clean_start: bool,
    /// How long the side that runs no services waits before fencing in a
    /// split ([`DEFAULT_PRIORITY_FENCING_DELAY`]).
    pub priority_fencing_delay: Duration,
    /// With ping nodes: how long after a peer is lost the pinger may take to
    /// judge this node's own connectivity (`deadping` plus one interval).
    /// In a two-node fence race connectivity then ranks before services: a
    /// node that runs services waits this long (at most half the priority
    /// delay) instead of shooting at once, and a node that lost ping
    /// targets waits two priority delays more, so an isolated holder never
    /// wins the race and keeps services nobody can reach. `None`: no ping
    /// nodes, services alone decide.
    pub connectivity_grace: Option<Duration>,
    /// Watchdog-only fencing: no fence device, but every node's watchdog
    /// resets it once it has lost quorum and sees no peer. A lost node then
    /// counts as fenced this long after it was lost (`stonith-watchdog-
    /// timeout`, at least twice the watchdog timeout), by a partition that
    /// has quorum; `None`: no watchdog fencing.
    pub watchdog_fencing: Option<Duration>,
    /// Timeout of operations the configuration gives none.
    pub default_op_timeout: Duration,
    /// This node's incarnation (the link layer's persisted generation).
    pub incarnation: u64,
    /// Unix time (seconds) at `Node::new`'s `now`: the clock the policy
    /// engine needs for `failure-timeout`.
    pub unix_time_at_start: i64,
}

/// Liveness of a peer, from the link layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkEvent {
    /// The peer is heard (first time, or again) with this generation; a new
    /// generation means it restarted.
    Alive {
        /// The peer.
        node: String,
        /// Its generation (incarnation).
        generation: u64,
    },
    /// The peer has been silent on every path for deadtime.
    Dead {
        /// The peer.
        node: String,
    },
    /// Messages from the peer could not be recovered (the link's
    /// `MessagesLost`): both sides resend their state.
    MessagesLost {
        /// The peer.
        node: String,
    },
}

/// The kind of an agent operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OpKind {
    /// One-shot monitor finding whether the resource runs (interval 0).
    Probe,
    /// Start.
    Start,
    /// Stop (also cancels the resource's recurring monitor).
    Stop,
    /// Recurring monitor: the executor runs it every interval and reports
    /// the first result and every change.
    Monitor,
    /// Promote.
    Promote,
    /// Demote.
    Demote,
}

/// An operation the local executor runs (from [`crate::Node::poll_op`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpRequest {
    /// Identifies the result ([`OpResult::id`]).
    pub id: u64,
    /// The primitive's id.
    pub resource: String,
    /// What to do.
    pub kind: OpKind,
    /// Recurring interval (monitors), 0 otherwise.
    pub interval: Duration,
    /// The executor gives up (and reports [`OpOutcome::TimedOut`]) after this.
    pub timeout: Duration,
}

/// How an operation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OpOutcome {
    /// Success; for probes and monitors: running.
    Ok,
    /// Probes and monitors: not running (OCF 7).
    NotRunning,
    /// Failed with this OCF exit code.
    Failed(i32),
    /// Did not finish within its timeout.
    TimedOut,
}

/// The result of an [`OpRequest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpResult {
    /// The request's id.
    pub id: u64,
    /// The outcome.
    pub outcome: OpOutcome,
}

/// A node to fence (from [`crate::Node::poll_fence`], already delayed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FenceRequest {
    /// The node.
    pub node: String,
    /// What to do to it.
    pub action: FenceAction,
}

/// What a [`FenceRequest`] asks of the fence device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FenceAction {
    /// The cluster's `stonith-action` with the device's method (reboot by
    /// default): a lost member.
    Configured,
    /// Power off and leave off: a node never seen since this node started
    /// (startup fencing). Never a reboot: a node that came back with broken
    /// links would shoot back after its own `initdead`.
    Off,
}

/// How fencing ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FenceOutcome {
    /// The node is confirmed off (or rebooted): its resources are stopped.
    Confirmed,
    /// Fencing failed; it is retried after a deadtime.
    Failed,
}

/// An operator's request (`ironbeat status|standby|takeover|resource …`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AdminRequest {
    /// The cluster status.
    Status,
    /// hb_standby: put this node in standby (its resources move away).
    Standby,
    /// Leave standby.
    Online,
    /// hb_takeover: bring the resources to this node.
    Takeover,
    /// Let the cluster start a resource stopped by `ResourceStop`.
    ResourceStart(String),
    /// Stop a resource and keep it stopped.
    ResourceStop(String),
    /// Move a resource to a node.
    ResourceMove {
        /// The resource.
        resource: String,
        /// The node.
        node: String,
    },
    /// Forget a resource's failures.
    ResourceCleanup(String),
    /// The operator vouches that a node is powered off (manual fencing,
    /// the seeds' meatware; or a peer lost for good after a site-wide power
    /// loss): it counts as fenced, as if a device had seen it off.
    FenceConfirm(String),
}

/// The answer to an [`AdminRequest`].
#[derive(Debug, Clone, PartialEq)]
pub enum AdminReply {
    /// The status.
    Status(Status),
    /// Accepted (applied here, or forwarded to the DC).
    Accepted(String),
    /// Refused, with the reason and the fix.
    Refused(String),
}

/// Something worth logging and showing in `ironbeat events`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Event {
    /// A peer was admitted as a member.
    NodeJoined(String),
    /// A peer left (dead on every link).
    NodeLeft(String),
    /// A node is shutting down cleanly: its resources move away first.
    Leaving(String),
    /// A peer runs another configuration and is not admitted.
    ConfigMismatch {
        /// The peer.
        node: String,
        /// Our digest.
        ours: u64,
        /// Its digest.
        theirs: u64,
    },
    /// This node sees a new DC.
    DcElected(String),
    /// Quorum was gained or lost.
    Quorum(bool),
    /// The member list the DC announced.
    Membership {
        /// The DC's epoch.
        epoch: u64,
        /// The members.
        members: Vec<String>,
    },
    /// A node will be fenced after this delay.
    FenceScheduled {
        /// The node.
        node: String,
        /// The delay (priority fencing delay, or zero).
        delay_ms: u64,
    },
    /// This node lost ping targets while a fence race was on: it yields,
    /// and waits longer so that the better connected peer shoots first.
    FenceRaceYielded {
        /// The node it would have fenced.
        node: String,
        /// Ping targets this node reaches now.
        connectivity: u32,
        /// The best value known (its own before, or the peer's).
        best: u32,
        /// The new delay from now.
        delay_ms: u64,
    },
    /// An operator confirmed a node powered off (`ironbeat fence confirm`).
    FenceConfirmedByOperator(String),
    /// A lost node counts as self-fenced: its watchdog has reset it by now.
    SelfFenced {
        /// The node.
        node: String,
        /// How long after its loss.
        after_ms: u64,
    },
    /// Fencing ended.
    Fenced {
        /// The node.
        node: String,
        /// The outcome.
        outcome: FenceOutcome,
    },
    /// A lost node's resources are recovered without fencing: unsafe, the
    /// node may only be cut off and still run them.
    RecoveryWithoutFencing(String),
    /// `initdead` passed without every node seen and without fencing
    /// configured: nothing starts until these nodes are seen (said once).
    WaitingForAll(Vec<String>),
    /// The DC computed a transition of this many actions.
    Transition(usize),
    /// An operation was sent to a node.
    OpSent {
        /// The node.
        node: String,
        /// The resource.
        resource: String,
        /// The operation.
        kind: OpKind,
    },
    /// An operation failed.
    OpFailed {
        /// The node.
        node: String,
        /// The resource.
        resource: String,
        /// The operation.
        kind: OpKind,
        /// The outcome.
        outcome: OpOutcome,
    },
    /// A message could not be sent (it would exceed the channel's limit).
    NotSent(String),
    /// A message was dropped.
    BadMessage {
        /// The sender.
        from: String,
        /// Why.
        reason: String,
    },
    /// A node's connectivity (ping targets it reaches) changed.
    Connectivity {
        /// The node.
        node: String,
        /// Ping targets up.
        value: u32,
    },
}

/// The cluster as this node sees it (`ironbeat status --json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// This node.
    pub node: String,
    /// The DC, when known.
    pub dc: Option<String>,
    /// The DC's membership epoch.
    pub epoch: u64,
    /// The partition has quorum.
    pub quorum: bool,
    /// Every configured node.
    pub nodes: Vec<NodeStatus>,
    /// Every primitive.
    pub resources: Vec<ResourceStatus>,
    /// Fencing history, oldest first (bounded).
    pub fencing: Vec<FenceRecord>,
    /// Why nothing starts yet, when every node has not been seen since
    /// start (wait-for-all), with what to do about it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waiting: Option<String>,
}

/// One node in [`Status`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeStatus {
    /// The name.
    pub name: String,
    /// A member of this partition.
    pub member: bool,
    /// Its probes are complete.
    pub probed: bool,
    /// In standby.
    pub standby: bool,
    /// Runs another configuration.
    pub config_mismatch: bool,
    /// Ping targets it reaches, as it last reported (None: no ping nodes,
    /// or not judged yet).
    #[serde(default)]
    pub connectivity: Option<u32>,
}

/// One primitive in [`Status`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceStatus {
    /// The id.
    pub name: String,
    /// Nodes it runs on (by their own reports).
    pub running_on: Vec<String>,
    /// Nodes where it failed and is not yet recovered.
    pub failed_on: Vec<String>,
    /// Fail counts per node.
    pub fail_counts: Vec<(String, u32)>,
}

/// One fencing in [`Status`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FenceRecord {
    /// The node fenced.
    pub node: String,
    /// By whom.
    pub by: String,
    /// Unix time.
    pub at: i64,
    /// The outcome.
    pub outcome: FenceOutcome,
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::NodeJoined(n) => write!(f, "node {n} joined"),
            Event::NodeLeft(n) => write!(f, "node {n} left (dead on every link, or restarted)"),
            Event::Leaving(n) => write!(
                f,
                "node {n} is shutting down: its resources move away before it leaves"
            ),
            Event::ConfigMismatch { node, ours, theirs } => write!(
                f,
                "node {node} runs another configuration (digest {theirs:016x}, ours \
                 {ours:016x}) and is not admitted; copy the same configuration files to \
                 every node and restart ironbeat there"
            ),
            Event::DcElected(n) => write!(f, "{n} is the DC"),
            Event::Quorum(true) => f.write_str("quorum gained"),
            Event::Quorum(false) => f.write_str(
                "no quorum: this partition lacks a majority, or (wait-for-all) not every node \
                 has been seen yet",
            ),
            Event::Membership { epoch, members } => {
                write!(f, "membership epoch {epoch}: {}", members.join(", "))
            }
            Event::FenceScheduled { node, delay_ms } => {
                write!(f, "fencing {node} in {delay_ms} ms")
            }
            Event::FenceRaceYielded {
                node,
                connectivity,
                best,
                delay_ms,
            } => write!(
                f,
                "this node reaches {connectivity} ping target(s), fewer than the {best} known \
                 before the split: it yields the fence race to {node} (fencing it only in \
                 {delay_ms} ms if {node} has not fenced this node by then)"
            ),
            Event::SelfFenced { node, after_ms } => write!(
                f,
                "{node} counts as fenced: lost {after_ms} ms ago without quorum, its watchdog \
                 has reset it (watchdog-only fencing, stonith_watchdog_timeout)"
            ),
            Event::FenceConfirmedByOperator(node) => write!(
                f,
                "an operator confirmed {node} powered off (ironbeat fence confirm): it counts \
                 as fenced"
            ),
            Event::Fenced { node, outcome } => write!(f, "fencing {node}: {outcome:?}"),
            Event::RecoveryWithoutFencing(n) => write!(
                f,
                "node {n} is lost and no fencing is configured: its resources are started \
                 elsewhere although it may still run them (configure stonith_host or a \
                 fence device to make recovery safe)"
            ),
            Event::WaitingForAll(missing) => f.write_str(&waiting_text(missing)),
            Event::Transition(n) => write!(f, "transition of {n} actions"),
            Event::OpSent {
                node,
                resource,
                kind,
            } => write!(f, "{kind:?} {resource} on {node}"),
            Event::OpFailed {
                node,
                resource,
                kind,
                outcome,
            } => write!(f, "{kind:?} {resource} on {node} failed: {outcome:?}"),
            Event::NotSent(why) => write!(f, "message not sent: {why}"),
            Event::BadMessage { from, reason } => {
                write!(f, "dropped a message from {from}: {reason}")
            }
            Event::Connectivity { node, value } => {
                write!(f, "{node} reaches {value} ping target(s)")
            }
        }
    }
}

/// What a node that waits for all nodes says (event and status).
pub(crate) fn waiting_text(missing: &[String]) -> String {
    let peers = missing.join(", ");
    format!(
        "waiting for all nodes before starting resources (wait_for_all): start {peers}, or \
         configure fencing so a dead peer can be fenced at start"
    )
}
