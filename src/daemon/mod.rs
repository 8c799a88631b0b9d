//! `ironbeat run`: the cluster daemon, and the admin socket it serves.
//!
//! The daemon is a thin driver around the pure cores: the link layer's
//! `Endpoint` (heartbeats, liveness, reliable channel), the cluster core's
//! `Node` (membership, quorum, DC, transitions) and the resource agents and
//! fence clients that carry out what the core decides.

pub mod protocol;
