//! Drivers (feature `io`): UDP sockets and clocks around the sans-I/O cores.
//!
//! - [`client`]: one fence request against a BMC over IPMI-over-LAN.
//! - [`bmc`]: the BMC responder served on a UDP socket.

pub mod bmc;
pub mod client;
