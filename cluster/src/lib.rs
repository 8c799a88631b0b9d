//! ironbeat-cluster: the cluster core — membership, quorum, the designated
//! coordinator (DC), the replicated cluster state and the execution of the
//! policy engine's transitions. Pure: no sockets, files, clocks or tasks;
//! `now: Instant` is an argument, so whole clusters run in one test on a fake
//! clock (`tests/sim/mod.rs`, `tests/scenarios.rs`).
//!
//! # Layers
//!
//! ```text
//!   node      Node: the state machine of one daemon (handle_* in, poll_* out)
//!   api       what goes in and out: config, link events, ops, fencing, admin,
//!             events, status
//!   wire      the messages nodes exchange over the link's reliable channel
//!             (postcard, bounded: they cross 19200-baud serial lines)
//!   connectivity  ping nodes: members reaching fewer targets give way
//! ```
//!
//! The daemon drives a [`Node`] with the link layer's liveness events and
//! reliable messages, the local agent executor's results and the fence
//! client's outcomes; see [`Node`] for the poll order. docs/cluster.md
//! explains the protocol and its safety rules.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod api;
pub mod connectivity;
mod node;
pub mod wire;

pub use api::*;
pub use node::Node;
