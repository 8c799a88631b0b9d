//! ICMP/ICMPv6 echo: IPv4 header stripping, reply parsing, and a Pinger fed
//! the bytes as replies from its own targets.
#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use ironbeat_link::proto::ping::{PingConfig, PingTarget, Pinger};
use ironbeat_link::wire::icmp;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let message = icmp::strip_ipv4_header(data);
    if let Some(message) = message {
        assert!(message.len() <= data.len());
    }
    let _ = icmp::parse_echo_reply(false, data);
    let _ = icmp::parse_echo_reply(true, data);
    let v4 = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 254));
    let v6 = IpAddr::V6(Ipv6Addr::LOCALHOST);
    let now = Instant::now();
    let mut pinger = Pinger::new(
        PingConfig {
            targets: vec![PingTarget {
                name: "gw".into(),
                hosts: vec![v4, v6],
            }],
            interval: Duration::from_millis(10),
            deadping: Duration::from_millis(50),
            ident: u16::from_be_bytes([data.first().copied().unwrap_or(0), 0]),
            token: 0,
        },
        now,
    );
    pinger.handle_timeout(now);
    while pinger.poll_transmit().is_some() {}
    pinger.handle_reply(now, v4, data);
    pinger.handle_reply(now, v6, data);
    pinger.handle_timeout(now + Duration::from_millis(60));
    assert!(pinger.connectivity() <= 1);
});
