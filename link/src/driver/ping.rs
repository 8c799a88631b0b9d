//! The ping node driver: a [`Pinger`] over raw ICMP and ICMPv6 sockets.
//!
//! Raw sockets (root, or `CAP_NET_RAW`) rather than unprivileged ICMP
//! datagram sockets, because those depend on `net.ipv4.ping_group_range`,
//! which is closed by default in a fresh network namespace. A raw socket is
//! handed to tokio as a UDP socket: the kernel's `recvfrom`/`sendto` work the
//! same on both and the port of the addresses is simply 0. Only the sockets
//! of the families the targets use are opened.

use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use crate::proto::ping::{PingConfig, PingEvent, Pinger};
use crate::wire::icmp;
use crate::Error;

/// The largest ICMP datagram we read (replies to us are 16 bytes + headers).
const RECV_BUFFER: usize = 1500;

/// A change of reachability, with the connectivity after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PingOutput {
    /// The change.
    pub event: PingEvent,
    /// How many targets are up now.
    pub connectivity: u32,
}

/// Pings the configured targets until the receiver of its outputs is gone.
#[derive(Debug)]
pub struct PingDriver {
    pinger: Pinger,
    v4: Option<UdpSocket>,
    v6: Option<UdpSocket>,
}

fn open(domain: Domain, protocol: Protocol) -> Result<UdpSocket, Error> {
    let family = if domain == Domain::IPV6 {
        "ICMPv6"
    } else {
        "ICMP"
    };
    let socket = Socket::new(domain, Type::RAW, Some(protocol)).map_err(|e| {
        Error::io(
            format!("open a raw {family} socket for ping nodes (needs root or CAP_NET_RAW)"),
            e,
        )
    })?;
    socket
        .set_nonblocking(true)
        .map_err(|e| Error::io(format!("make the {family} socket non-blocking"), e))?;
    UdpSocket::from_std(std::net::UdpSocket::from(socket))
        .map_err(|e| Error::io(format!("register the {family} socket with the runtime"), e))
}

impl PingDriver {
    /// Opens the sockets the targets need. Must run inside a tokio runtime.
    pub fn open(config: PingConfig, now: Instant) -> Result<PingDriver, Error> {
        let hosts = || config.targets.iter().flat_map(|t| t.hosts.iter());
        let v4 = if hosts().any(IpAddr::is_ipv4) {
            Some(open(Domain::IPV4, Protocol::ICMPV4)?)
        } else {
            None
        };
        let v6 = if hosts().any(IpAddr::is_ipv6) {
            Some(open(Domain::IPV6, Protocol::ICMPV6)?)
        } else {
            None
        };
        Ok(PingDriver {
            pinger: Pinger::new(config, now),
            v4,
            v6,
        })
    }

    /// Runs until `outputs` is closed. Send errors (no route, interface
    /// down) are what a dead ping node looks like and are not reported
    /// separately: the target goes down after `deadping`.
    pub async fn run(mut self, outputs: mpsc::Sender<PingOutput>) {
        let mut buf4 = vec![0u8; RECV_BUFFER];
        let mut buf6 = vec![0u8; RECV_BUFFER];
        loop {
            while let Some(transmit) = self.pinger.poll_transmit() {
                let socket = if transmit.to.is_ipv6() {
                    self.v6.as_ref()
                } else {
                    self.v4.as_ref()
                };
                if let Some(socket) = socket {
                    let _ = socket.try_send_to(&transmit.message, SocketAddr::new(transmit.to, 0));
                }
            }
            while let Some(event) = self.pinger.poll_event() {
                let output = PingOutput {
                    event,
                    connectivity: self.pinger.connectivity(),
                };
                if outputs.send(output).await.is_err() {
                    return;
                }
            }
            let deadline = tokio::time::Instant::from_std(self.pinger.poll_timeout());
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => {
                    self.pinger.handle_timeout(Instant::now());
                }
                received = recv(self.v4.as_ref(), &mut buf4) => {
                    if let Some((len, from)) = received {
                        if let Some(message) = icmp::strip_ipv4_header(&buf4[..len]) {
                            self.pinger.handle_reply(Instant::now(), from, message);
                        }
                    }
                }
                received = recv(self.v6.as_ref(), &mut buf6) => {
                    if let Some((len, from)) = received {
                        self.pinger.handle_reply(Instant::now(), from, &buf6[..len]);
                    }
                }
                _ = outputs.closed() => return,
            }
        }
    }
}

/// Receives one datagram; never completes without a socket.
async fn recv(socket: Option<&UdpSocket>, buf: &mut [u8]) -> Option<(usize, IpAddr)> {
    match socket {
        Some(socket) => socket
            .recv_from(buf)
            .await
            .ok()
            .map(|(len, from)| (len, from.ip())),
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::ping::PingTarget;
    use std::net::Ipv4Addr;
    use std::time::Duration;

    /// The kernel's own echo replies over loopback, IPv4 and IPv6, bring both
    /// targets up (going down is the sans-I/O core's, tested there).
    #[tokio::test]
    async fn loopback_targets_come_up() {
        if !nix::unistd::Uid::effective().is_root() {
            eprintln!("SKIPPED: raw ICMP sockets need root");
            return;
        }
        let config = PingConfig {
            targets: vec![
                PingTarget {
                    name: "loopback".into(),
                    hosts: vec![IpAddr::V4(Ipv4Addr::LOCALHOST)],
                },
                PingTarget {
                    name: "v6-loopback".into(),
                    hosts: vec!["::1".parse().expect("literal")],
                },
            ],
            interval: Duration::from_millis(20),
            deadping: Duration::from_millis(200),
            ident: 0x7e57,
            token: 42,
        };
        let driver = match PingDriver::open(config, Instant::now()) {
            Ok(driver) => driver,
            Err(e) => panic!("{e}"),
        };
        let (tx, mut rx) = mpsc::channel(8);
        let task = tokio::spawn(driver.run(tx));
        let mut up = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
        while up.len() < 2 {
            match tokio::time::timeout_at(deadline, rx.recv()).await {
                Ok(Some(PingOutput {
                    event: PingEvent::Up { target },
                    connectivity,
                })) => {
                    up.push(target);
                    assert_eq!(connectivity as usize, up.len());
                }
                other => panic!("expected Up events, got {other:?} after {up:?}"),
            }
        }
        up.sort();
        assert_eq!(up, ["loopback", "v6-loopback"]);
        drop(rx);
        let _ = tokio::time::timeout(Duration::from_secs(1), task).await;
    }
}
