//! ironbeat's compact CRM core: pure code, no I/O. Cluster state and
//! configuration in, a transition out (the seeds' pengine).
//!
//! # Layers
//!
//! ```text
//!   cib/        Pacemaker CIB XML (configuration + status) → model
//!   model       nodes, resources, constraints, options, what runs where
//!   score       Pacemaker's score arithmetic (±INFINITY)
//!   policy/     placement and actions: model → transition
//!   transition  the engine's output: summary, action graph, scores, placement
//!   simulate    crm_simulate-style rendering of a model and its transition
//! ```
//!
//! The root package turns its own configuration (native TOML, haresources)
//! into the same model, runs [`policy::schedule`] in the daemon, and prints
//! with [`simulate`] in `ironbeat crm simulate`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cib;
pub mod model;
pub mod policy;
pub mod score;
pub mod simulate;
pub mod transition;
