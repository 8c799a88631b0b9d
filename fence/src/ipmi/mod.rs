//! IPMI over LAN, sans-I/O: RMCP/ASF, IPMI 1.5 sessions and RMCP+ (IPMI 2.0).
//!
//! ```text
//!   bmc/      the BMC responder: the other end of the same protocols
//!   client/   the console: session machines (states as types) for 1.5 and 2.0,
//!             retransmits and sequence numbers under one deadline, and the
//!             fence request (command, then poll until the power state is seen)
//!   commands  the IPMI commands fencing needs, requests and responses
//!   crypto    cipher suites, RAKP codes, SIK/K1/K2, integrity, AES-CBC-128,
//!             IPMI 1.5 auth codes
//!   wire/     byte formats: RMCP, ASF, 1.5 and RMCP+ session wrappers, IPMI
//!             messages, Open Session, RAKP 1-4
//! ```
//!
//! Everything here takes bytes and `now` and gives bytes, events and deadlines:
//! no sockets, clocks or files. The drivers in `crate::driver` (feature `io`)
//! run it over UDP. The wire, crypto and command modules serve both ends of a
//! session, so a BMC responder is built from the same parts.

pub mod bmc;
pub mod client;
pub mod commands;
pub mod crypto;
pub mod wire;

pub use wire::Privilege;
