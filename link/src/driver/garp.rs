//! Gratuitous ARP and unsolicited IPv6 neighbour advertisements on one
//! interface: drives [`proto::garp::Announcer`](crate::proto::garp::Announcer)
//! over a raw packet socket (`ironbeat link send-arp`, virtual IPs).

use std::io;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::ether::{interface_mac, RawSender};
use crate::proto::garp::{Announcer, GarpConfig, GarpMode};
use crate::wire::arp::MacAddr;
use crate::Error;

/// What a burst of announcements did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Announced {
    /// The MAC address announced as the addresses' new home.
    pub mac: MacAddr,
    /// Frames handed to the interface.
    pub sent: u64,
    /// Frames dropped because the interface's queue was full.
    pub dropped: u64,
}

/// Announces `addresses` on `iface`: `count` rounds `interval` apart in
/// `mode` (IPv6 addresses get one advertisement per round). The MAC is the
/// interface's unless `mac` overrides it. Returns once the last frame is sent.
pub async fn send_announcements(
    iface: &str,
    addresses: Vec<IpAddr>,
    mode: GarpMode,
    count: u32,
    interval: Duration,
    mac: Option<MacAddr>,
) -> Result<Announced, Error> {
    let mac = match mac {
        Some(mac) => mac,
        None => MacAddr(interface_mac(iface)?),
    };
    let mut announcer = Announcer::new(GarpConfig {
        mode,
        count,
        interval,
        ..GarpConfig::new(mac, addresses)
    })?;
    let mut sender = RawSender::open(iface)?;
    let mut done = Announced {
        mac,
        sent: 0,
        dropped: 0,
    };
    announcer.announce(Instant::now());
    loop {
        while let Some(frame) = announcer.poll_transmit() {
            match sender.send(&frame) {
                Ok(()) => done.sent += 1,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => done.dropped += 1,
                Err(e) => {
                    return Err(Error::io(
                        format!("cannot send gratuitous ARP/NA on {iface} (is it up?)"),
                        e,
                    ))
                }
            }
        }
        let Some(at) = announcer.poll_timeout() else {
            return Ok(done);
        };
        tokio::time::sleep_until(at.into()).await;
        announcer.handle_timeout(Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::arp;

    #[tokio::test(flavor = "current_thread")]
    async fn announces_on_loopback_as_scheduled() {
        // `lo` has the all-zero MAC, so give one; frames loop back to a
        // packet socket bound to the ARP EtherType on `lo`.
        let (_, mut rx) = super::super::ether::open_channel("lo", arp::ETHERTYPE_ARP).unwrap();
        let ip: IpAddr = "198.18.0.77".parse().unwrap();
        let mac: MacAddr = "02:00:c6:12:00:4d".parse().unwrap();
        let started = Instant::now();
        let done = send_announcements(
            "lo",
            vec![ip],
            GarpMode::Both,
            3,
            Duration::from_millis(40),
            Some(mac),
        )
        .await
        .unwrap();
        let took = started.elapsed();
        assert_eq!(done.sent, 6);
        assert_eq!(done.dropped, 0);
        // 3 rounds 40 ms apart, reply 20 ms after each request: 100 ms.
        assert!(took >= Duration::from_millis(100), "{took:?}");
        assert!(took < Duration::from_millis(400), "{took:?}");
        let frames = tokio::task::spawn_blocking(move || {
            let mut frames = Vec::new();
            while frames.len() < 6 {
                match rx.next() {
                    Ok(frame) => frames.push(frame.to_vec()),
                    Err(_) => break,
                }
            }
            frames
        })
        .await
        .unwrap();
        assert_eq!(frames.len(), 6);
        let ops: Vec<arp::Operation> = frames
            .iter()
            .map(|f| {
                let packet = arp::Packet::new_checked(&f[..]).unwrap();
                let repr = arp::Repr::parse(&packet).unwrap();
                assert_eq!(repr.sender_hardware_addr, mac);
                assert_eq!(IpAddr::V4(repr.sender_protocol_addr), ip);
                assert_eq!(repr.target_protocol_addr, repr.sender_protocol_addr);
                repr.operation
            })
            .collect();
        assert_eq!(
            ops,
            [
                arp::Operation::Request,
                arp::Operation::Reply,
                arp::Operation::Request,
                arp::Operation::Reply,
                arp::Operation::Request,
                arp::Operation::Reply
            ]
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn loopback_mac_is_refused_without_override() {
        let err = send_announcements(
            "lo",
            vec!["198.18.0.77".parse().unwrap()],
            GarpMode::Both,
            1,
            Duration::from_millis(10),
            None,
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("unicast"), "{err}");
    }
}
