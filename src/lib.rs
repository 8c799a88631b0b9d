//! ironbeat: the cluster daemon, its admin CLI and the compact CRM.
//!
//! # Layers
//!
//! ```text
//!   cli/      command line: parsing, output formats, exit codes (chosen once, in cli::exit)
//!   demo      `ironbeat demo`: a real two-node cluster in network namespaces
//!   config/   the two front doors (classic /etc/ha.d, native TOML) into one model
//!      │
//!   ironbeat_link (link/)   heartbeat frames, liveness, reliable channel, GARP
//! ```
//!
//! The library crates under it hold the protocol cores (sans-I/O) and their
//! thin drivers; this crate wires configuration, drivers and output together.
#![forbid(unsafe_code)]

pub mod cli;
pub mod config;
pub mod daemon;
pub mod demo;
pub mod lab;
