//! Redfish (DMTF DSP0266) fencing, sans-I/O: iLO 4 (FW 2.30+) / 5 / 6,
//! iDRAC 7/8 (FW 2.40.40.40+) / 9, and any Redfish BMC.
//!
//! ```text
//!   http      HTTP/1.1 codec: request emission, response parsing (Content-Length,
//!             chunked, keep-alive), hard size limits, never panics
//!   resource  the JSON resources read (service root, Systems, ComputerSystem,
//!             Redfish error bodies)
//!   client    the fence request as a state machine: discovery, session or Basic
//!             auth, Reset honouring the allowed ResetTypes, power read back until
//!             SEEN, status checks of every response, one deadline
//! ```
//!
//! The TCP/TLS driver is [`crate::driver::redfish`] (feature `io`).

pub mod client;
pub mod http;
pub mod resource;

pub use client::{Auth, Client, Config, Event, Outcome, Timing, Vendor};
pub use resource::{RedfishPower, ResetType};
