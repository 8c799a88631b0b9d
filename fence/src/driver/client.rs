//! Runs one IPMI-over-LAN fence request ([`crate::ipmi::client::Client`])
//! over a tokio UDP socket connected to the BMC.
//!
//! The driver only moves bytes and time: it resolves the address, seeds the
//! client from the OS, sends what the client queues, feeds it datagrams and
//! timer expiries, and passes its events to the caller (or to stderr in
//! verbose mode). Every limit lives in the client's one deadline.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::net::UdpSocket;

use crate::ipmi::client::{Client, Config, Event, Outcome};
use crate::ipmi::wire::rmcp;
use crate::{Error, ErrorKind};

/// One fence request: where the BMC is, and what to do there.
#[derive(Debug, Clone)]
pub struct FenceRequest {
    /// The BMC's host name or address.
    pub host: String,
    /// The BMC's UDP port (623).
    pub port: u16,
    /// Credentials, privilege, protocol and cipher policy, action, timing.
    pub config: Config,
    /// Print every datagram sent and received, decoded, to stderr.
    pub verbose: bool,
}

impl FenceRequest {
    /// A request to `host` on port 623, not verbose.
    pub fn new(host: impl Into<String>, config: Config) -> Self {
        FenceRequest {
            host: host.into(),
            port: rmcp::PORT,
            config,
            verbose: false,
        }
    }
}

/// Runs `request`; with `verbose`, events go to stderr as they happen.
pub async fn run(request: FenceRequest) -> Result<Outcome, Error> {
    let prefix = format!("ipmi {}:{}", request.host, request.port);
    let events = super::stderr_events(prefix, request.verbose);
    run_with_events(request, events).await
}

/// Runs `request` on a new single-threaded runtime (for synchronous callers).
pub fn run_blocking(request: FenceRequest) -> Result<Outcome, Error> {
    super::block_on(run(request))?
}

/// Runs `request`, handing every event to `on_event` as it happens.
pub async fn run_with_events(
    request: FenceRequest,
    mut on_event: impl FnMut(&Event),
) -> Result<Outcome, Error> {
    let start = Instant::now();
    request.config.validate()?;
    let budget = request.config.timing.timeout;
    let end = tokio::time::Instant::from_std(start) + budget;
    let addr = super::resolve("BMC", &request.host, request.port, end).await?;
    let local: SocketAddr = if addr.is_ipv4() {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(local)
        .await
        .map_err(|e| Error::io("binding a UDP socket", e))?;
    socket
        .connect(addr)
        .await
        .map_err(|e| network_setup_error(addr, e))?;

    let mut config = request.config;
    // Name resolution spent part of the budget.
    config.timing.timeout = budget
        .saturating_sub(start.elapsed())
        .max(Duration::from_millis(1));
    let mut client = Client::new(config, Instant::now(), super::kernel_seed()?)?;
    let mut buf = vec![0u8; 4096];
    loop {
        while let Some(datagram) = client.poll_transmit() {
            if let Err(e) = socket.send(&datagram).await {
                match transient(&e) {
                    Some(what) => client.handle_network_error(Instant::now(), what),
                    None => return Err(Error::io(format!("sending to the BMC at {addr}"), e)),
                }
            }
        }
        while let Some(event) = client.poll_event() {
            on_event(&event);
        }
        if let Some(result) = client.poll_outcome() {
            return result;
        }
        let Some(wake) = client.poll_timeout() else {
            return Err(Error::new(
                ErrorKind::DeviceMisbehaved,
                "the IPMI client stopped without a result",
            ));
        };
        tokio::select! {
            received = socket.recv(&mut buf) => match received {
                Ok(n) => client.handle_datagram(Instant::now(), &buf[..n]),
                Err(e) => match transient(&e) {
                    Some(what) => client.handle_network_error(Instant::now(), what),
                    None => return Err(Error::io(format!("receiving from the BMC at {addr}"), e)),
                },
            },
            () = tokio::time::sleep_until(tokio::time::Instant::from_std(wake)) => {
                client.handle_timeout(Instant::now());
            }
        }
    }
}

/// Errors a connected UDP socket reports for ICMP messages or failed
/// neighbour resolution: the BMC may still answer a retransmit.
fn transient(e: &io::Error) -> Option<&'static str> {
    const ENETUNREACH: i32 = 101;
    const EHOSTUNREACH: i32 = 113;
    if e.kind() == io::ErrorKind::ConnectionRefused {
        return Some("port unreachable (nothing listens on the BMC's UDP port?)");
    }
    match e.raw_os_error() {
        Some(EHOSTUNREACH) => Some("host unreachable (no ARP/neighbour answer or ICMP)"),
        Some(ENETUNREACH) => Some("network unreachable (no route)"),
        _ => None,
    }
}

fn network_setup_error(addr: SocketAddr, e: io::Error) -> Error {
    if transient(&e).is_some() {
        Error::new(
            ErrorKind::Unreachable,
            format!("cannot reach the BMC at {addr}: {e}; check the address and the routes"),
        )
    } else {
        Error::io(format!("connecting a UDP socket to {addr}"), e)
    }
}
