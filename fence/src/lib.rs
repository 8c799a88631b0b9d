//! ironbeat-fence: STONITH devices, starting with IPMI over LAN.
//!
//! # Layers
//!
//! ```text
//!   driver/   (feature "io") UDP sockets and clocks: runs the cores below
//!      │
//!   ipmi/     sans-I/O: wire formats (RMCP, ASF, IPMI 1.5, RMCP+), crypto
//!             (RAKP, integrity, AES-CBC-128), the client session machine
//!             (states as types), the fence request (command, then poll until
//!             the power state is seen), and a BMC responder
//!   external/ sans-I/O: running cluster-glue plugins and fence-agents
//!             agents (parameters to env/stdin, output parsers, command then
//!             status until the state is read back); driver/external runs them
//!   snmp/     sans-I/O: APC PDU profiles keyed by sysObjectID and the
//!             outlet fence flow (identify, outlet(s) by number or name,
//!             command, read back every outlet); driver/snmp runs it over snmp2
//!   deadline  one overall deadline per request, divided across its steps
//!   power     the vocabulary: actions and power states
//! ```
//!
//! A node is reported fenced only after its power state is *seen* Off.
// The one exception: watchdog/ioctl.rs (`#[allow(unsafe_code)]`, SAFETY comments).
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod deadline;
#[cfg(feature = "io")]
pub mod driver;
mod error;
pub mod external;
pub mod ipmi;
pub mod power;
pub mod redfish;
pub mod snmp;
pub mod watchdog;

pub use error::{Error, ErrorKind};
