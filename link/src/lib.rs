//! ironbeat-link: the cluster's heartbeat links.
//!
//! Every node sends small authenticated, sequenced frames over every configured
//! path — UDP (unicast, multicast, broadcast), raw Ethernet on a crossover cable,
//! serial null-modem lines — and judges each peer alive, late, dead or back exactly
//! as heartbeat's `ha.cf` timers (`keepalive`, `warntime`, `deadtime`, `initdead`)
//! define. On top runs a reliable, ordered message channel for the cluster manager.
//!
//! # Layers
//!
//! ```text
//!   driver/   (feature "io") sockets, raw Ethernet, serial ports, files, tokio
//!      │  bytes + now in, bytes out
//!   proto/    sans-I/O state machines: Endpoint (liveness per path and node,
//!      │      replay windows, reliable channel), GARP schedule
//!   auth      keys (authkeys format), HMAC sign/verify, replay window
//!   wire/     byte formats: heartbeat frame, serial framing, ARP, IPv6 NA
//! ```
//!
//! Nothing below `driver/` touches a socket, file or clock: time is an argument
//! (`now: Instant`), so whole clusters are simulated deterministically in tests.
//! Build with `--no-default-features` to get only the cores.
// `deny`, not `forbid`: driver/realtime.rs alone allows the two libc calls
// nix has no safe wrapper for (mlockall with MCL_ONFAULT, sched_setscheduler).
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod auth;
mod error;
mod ids;
pub mod proto;
mod timing;
pub mod wire;

#[cfg(feature = "io")]
pub mod driver;

pub use error::{Error, ErrorKind};
pub use ids::{ClusterId, Generation, NodeId, PathId};
pub use timing::{parse_duration, Timing};
