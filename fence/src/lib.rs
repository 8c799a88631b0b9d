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
//!   deadline  one overall deadline per request, divided across its steps
//!   power     the vocabulary: actions and power states
//! ```
//!
//! A node is reported fenced only after its power state is *seen* Off.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod deadline;
#[cfg(feature = "io")]
pub mod driver;
mod error;
pub mod ipmi;
pub mod power;

pub use error::{Error, ErrorKind};
