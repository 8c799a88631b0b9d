//! The APC fence flow fed arbitrary agent responses: the first byte picks the
//! request and the SNMP version, the rest is a sequence of length-prefixed
//! messages, each decoded as an SNMP v1/v2c message (snmp2's codec) and
//! handed to the flow as the answer to what it asked, or as a bad reply.
//! Nothing panics, the flow always ends by its deadline, and the credentials
//! parser survives the same bytes as text.
#![no_main]

use std::time::{Duration, Instant};

use ironbeat_fence::snmp::message::decode;
use ironbeat_fence::snmp::{Config, Credentials, Fence, Op, Outlet, Request, Usm, Version};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = Credentials::parse(&String::from_utf8_lossy(data));
    let Some((&selector, mut rest)) = data.split_first() else {
        return;
    };
    let request = [
        Request::Status,
        Request::On,
        Request::Off,
        Request::Reboot,
        Request::List,
        Request::ListStatus,
    ][usize::from(selector % 6)];
    let outlet = match selector / 6 % 3 {
        0 => Some(Outlet::Number(1 + u32::from(selector >> 5))),
        1 => Some(Outlet::Name("node1".into())),
        _ => None,
    };
    let version = if selector & 0x80 != 0 {
        Version::V3(Usm::default())
    } else {
        Version::V2c
    };
    let mut config = Config::new(version, Credentials::community("x"), request, outlet);
    config.timing.timeout = Duration::from_secs(3);
    let t0 = Instant::now();
    let mut now = t0;
    let mut f = Fence::new(&config, "fuzz", t0);
    for _ in 0..10_000 {
        while f.poll_event().is_some() {}
        if f.poll_outcome().is_some() {
            return;
        }
        let Some(op) = f.poll_op(now) else {
            let wake = f.poll_timeout().expect("a timer while unfinished");
            assert!(wake >= now);
            now = wake;
            f.handle_timeout(now);
            continue;
        };
        now += Duration::from_millis(7);
        if op == Op::Discover {
            f.handle_discovered(now);
            continue;
        }
        let Some((&len, tail)) = rest.split_first() else {
            now = f.poll_timeout().expect("a timer");
            f.handle_timeout(now);
            continue;
        };
        let take = usize::from(len).min(tail.len());
        let (message, tail) = tail.split_at(take);
        rest = tail;
        match decode(message) {
            Ok(response) => f.handle_response(now, response),
            Err(e) => f.handle_bad_reply(now, e.message()),
        }
    }
    panic!("the flow did not finish within 10000 steps");
});
