//! The policy engine: Pacemaker 2.1.5's scheduling rules, as "Pacemaker
//! Explained" documents them, applied to a [`Cluster`]: where every
//! resource should run, in which role, and the actions (with their
//! ordering graph) that get it there.
//!
//! # Stages
//!
//! ```text
//!   working   the model expanded: clone instances, defaults, node state
//!   unpack    history → where resources run, failures, what they ask for
//!   assign    locations, stickiness, thresholds, colocations → a node each
//!   clone     clone instances over nodes; promote: which are promoted
//!   actions   stop/start/promote/demote, probes, monitors, fencing, orders
//!   graph     orderings resolved and propagated (required / runnable)
//!   output    summary, graph, scores, placement after the transition
//! ```
//!
//! Pure and deterministic: no I/O, `now` is an argument, and every
//! iteration is over vectors in a fixed order.

mod actions;
mod arith;
mod assign;
mod clone;
mod few;
mod graph;
mod output;
mod promote;
mod unpack;
mod working;

use crate::model::Cluster;
use crate::transition::Transition;

/// What [`schedule_with`] computes besides placement and actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Record the allocation score lines (`crm_simulate --show-scores`);
    /// the daemon does not need them, and at 10,000 resources on 32 nodes
    /// they are most of the work.
    pub scores: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options { scores: true }
    }
}

/// Decides what the cluster should do now: the transition from the
/// current state to the placement the configuration asks for, with the
/// allocation scores.
///
/// `now` (Unix seconds) decides which failures have expired
/// (`failure-timeout`).
pub fn schedule(cluster: &Cluster, now: i64) -> Transition {
    schedule_with(cluster, now, Options::default())
}

/// [`schedule`], choosing what to compute besides the decisions.
pub fn schedule_with(cluster: &Cluster, now: i64, options: Options) -> Transition {
    let mut ws = working::WorkingSet::new(cluster, now);
    ws.record_scores = options.scores;
    ws.unpack_history();
    let unpacked: Vec<output::Unpacked> = ws
        .rscs
        .iter()
        .map(|r| output::Unpacked {
            managed: r.managed,
            block: r.block,
        })
        .collect();
    ws.unpack_placement_constraints();
    ws.unpack_orders();
    ws.apply_node_criteria();
    ws.internal_constraints();
    ws.assign_all();
    ws.create_all_actions();
    ws.schedule_fencing();
    ws.apply_orderings();
    ws.transition(&unpacked)
}
