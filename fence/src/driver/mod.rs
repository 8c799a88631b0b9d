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

use std::fmt::Display;
use std::future::Future;
use std::io::Read;
use std::net::SocketAddr;

use crate::{Error, ErrorKind};

/// The address of `host` (an IP address, bracketed or not, or a name
/// resolved by the system), preferring IPv4, by `end`. `what` names the
/// device in messages ("BMC", "PDU").
pub async fn resolve(
    what: &str,
    host: &str,
    port: u16,
    end: tokio::time::Instant,
) -> Result<SocketAddr, Error> {
    if let Ok(ip) = host.trim_matches(['[', ']']).parse::<std::net::IpAddr>() {
        return Ok(SocketAddr::new(ip, port));
    }
    let lookup = tokio::net::lookup_host((host, port));
    let addrs = tokio::time::timeout_at(end, lookup)
        .await
        .map_err(|_| {
            Error::new(
                ErrorKind::Timeout,
                format!(
                    "resolving the {what}'s name {host:?} took longer than the request's timeout"
                ),
            )
        })?
        .map_err(|e| {
            Error::new(
                ErrorKind::Config,
                format!("cannot resolve the {what}'s name {host:?}: {e}; check the host name"),
            )
        })?;
    let all: Vec<SocketAddr> = addrs.collect();
    all.iter()
        .find(|a| a.is_ipv4())
        .or_else(|| all.first())
        .copied()
        .ok_or_else(|| {
            Error::new(
                ErrorKind::Config,
                format!("the {what}'s name {host:?} has no address; check the host name"),
            )
        })
}

/// The event handler of a request's `run`: with `verbose`, each event goes
/// to stderr behind `prefix` (e.g. `ipmi 10.0.0.2:623`) as it happens.
pub fn stderr_events<E: Display>(prefix: String, verbose: bool) -> impl FnMut(&E) {
    move |e| {
        if verbose {
            eprintln!("{prefix} {e}");
        }
    }
}

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
