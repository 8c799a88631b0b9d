//! APC PDUs over SNMP (v1, v2c, v3 USM), sans-I/O.
//!
//! ```text
//!   profile   APC table sets keyed by sysObjectID: Switched Rack PDU (rPDU),
//!             Rack PDU 2G (rPDU2: state values inverted), MasterSwitch (sPDU)
//!   flow      the fence request: identify, find the outlet(s) by number or
//!             name, status / on / off / reboot (off, verify off, on, verify
//!             on) / list / list-status, retransmits under one deadline
//!   message   the operations the flow asks for and the responses it reads
//!             (the BER codec and the USM are the snmp2 crate's)
//!   config    request, SNMP version, credentials (redacted), outcome
//!   oid       object identifiers
//! ```
//!
//! The driver (`crate::driver::snmp`, feature `io`) performs the operations
//! through snmp2's tokio session.
#![forbid(unsafe_code)]

pub mod config;
pub mod flow;
pub mod message;
pub mod oid;
pub mod profile;

pub use config::{
    AuthProtocol, Config, Credentials, Event, Outcome, Outlet, OutletStatus, PrivProtocol, Request,
    SecurityLevel, Timing, Usm, Version,
};
pub use flow::Fence;
pub use message::{Op, Response, Value};
pub use oid::Oid;
pub use profile::Profile;
