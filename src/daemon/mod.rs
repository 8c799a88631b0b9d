//! `ironbeat run`: the cluster daemon, and the admin socket it serves.
//!
//! The daemon is a thin driver around the pure cores: the link layer's
//! `Endpoint` (heartbeats, liveness, reliable channel), the cluster core's
//! `Node` (membership, quorum, DC, transitions) and the resource agents and
//! fence clients that carry out what the core decides.
//!
//! ```text
//!   setup     configuration → the core's NodeConfig (digest), fence devices
//!   run       the main loop: link outputs, results, admin asks → Node → drain
//!   lrm       the local resource manager (agents, recurring monitors)
//!   fencer    verified fencing through each peer's device
//!   control   the admin socket (protocol: its JSON lines)
//!   log, notify  where messages go; systemd's READY/STATUS/WATCHDOG
//! ```

pub mod control;
pub mod fencer;
pub mod log;
pub mod lrm;
pub mod notify;
pub mod protocol;
pub mod run;
pub mod setup;
pub mod watchdog;
