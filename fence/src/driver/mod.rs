//! Drivers (feature `io`): UDP sockets and clocks around the sans-I/O cores.
//!
//! - [`client`]: one fence request against a BMC over IPMI-over-LAN.
//! - [`bmc`]: the BMC responder served on a UDP socket.
//! - [`redfish`]: one Redfish fence request over TCP + TLS (rustls, ring).
//! - [`snmp`]: one APC PDU fence request over SNMP (snmp2's tokio session).

pub mod bmc;
pub mod client;
pub mod external;
pub mod redfish;
pub mod snmp;

use std::future::Future;
use std::io::Read;

use crate::Error;

/// Runs `request` to completion on a single-threaded runtime of its own:
/// the blocking entry points of the command-line tools.
pub fn block_on<F: Future>(request: F) -> Result<F::Output, Error> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::io("starting the I/O runtime", e))?;
    Ok(runtime.block_on(request))
}

/// 32 bytes from the kernel's CSPRNG, the seed of a client's or a BMC's
/// random numbers (session IDs, RAKP random numbers, AES IVs).
pub fn kernel_seed() -> Result<[u8; 32], Error> {
    let mut seed = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut seed))
        .map_err(|e| Error::io("reading /dev/urandom for session randomness", e))?;
    Ok(seed)
}
