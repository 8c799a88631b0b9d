//! The BMC responder (`ipmi::bmc::Bmc::handle_datagram`) with live sessions:
//! each run builds a BMC, opens genuine sessions on it with our client
//! (RMCP+ suites 17 and 3, IPMI 1.5 MD5; each left open by withholding its
//! Close Session), then plays the input as a script of raw datagrams,
//! mutated and replayed genuine ones, from the sessions' address or another,
//! and clock jumps. Nothing may panic, every answer must be a well-formed
//! RMCP datagram, and the session table must stay within its limit.
#![no_main]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ironbeat_fence::ipmi::bmc::{Bmc, BmcConfig, MemoryPower, User};
use ironbeat_fence::ipmi::client::{CipherPolicy, Client, Config, EventKind, Protocol, V15Auth};
use ironbeat_fence::ipmi::crypto::{CipherSuite, Secret};
use ironbeat_fence::ipmi::wire::rmcp;
use ironbeat_fence::ipmi::Privilege;
use ironbeat_fence::power::{Action, PowerState};
use libfuzzer_sys::fuzz_target;

const CLIENT: &str = "198.18.12.1:40000";
const OTHER: &str = "198.18.12.9:40001";

fn bmc() -> Bmc<MemoryPower> {
    let mut config = BmcConfig::new(vec![
        User::new("admin", b"labpass", Privilege::Administrator),
        User::new("operator", b"oppass", Privilege::Operator),
    ]);
    config.cipher_suites = vec![17, 3, 2, 1];
    config.max_sessions = 4;
    Bmc::new(config, MemoryPower::new(PowerState::On), [7; 32]).expect("valid BMC config")
}

fn protocols() -> [Protocol; 3] {
    let fixed = |id| {
        Protocol::LanPlus(CipherPolicy::Fixed(
            CipherSuite::from_id(id).expect("known suite"),
        ))
    };
    [fixed(17), fixed(3), Protocol::Lan15(V15Auth::Md5)]
}

/// Delivers what the BMC queued; checks that each answer is RMCP.
fn drain(bmc: &mut Bmc<MemoryPower>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    while let Some(t) = bmc.poll_transmit() {
        assert!(
            rmcp::Packet::new_checked(&t.bytes[..]).is_ok(),
            "the BMC sent a datagram that is not RMCP"
        );
        out.push(t.bytes);
    }
    while bmc.poll_event().is_some() {}
    assert!(bmc.active_sessions() <= bmc.config().max_sessions);
    out
}

/// Runs a Status request up to (not including) its Close Session; returns
/// every datagram the client sent.
fn open_session(
    bmc: &mut Bmc<MemoryPower>,
    now: Instant,
    protocol: Protocol,
    seed: u8,
) -> Vec<Vec<u8>> {
    let from: SocketAddr = CLIENT.parse().expect("literal address");
    let mut config = Config::new("admin", Secret::from("labpass"), Action::Status);
    config.protocol = protocol;
    let mut client = Client::new(config, now, [seed; 32]).expect("valid client config");
    let mut sent = Vec::new();
    for _ in 0..64 {
        // Each datagram queued has its Sent event, in the same order.
        let summaries: Vec<String> = std::iter::from_fn(|| client.poll_event())
            .filter_map(|e| match e.kind {
                EventKind::Sent { summary, .. } => Some(summary),
                _ => None,
            })
            .collect();
        let datagrams: Vec<Vec<u8>> = std::iter::from_fn(|| client.poll_transmit()).collect();
        if datagrams.is_empty() {
            break;
        }
        for (d, summary) in datagrams.into_iter().zip(summaries) {
            if summary.contains("Close Session") {
                return sent;
            }
            bmc.handle_datagram(now, from, &d);
            sent.push(d);
        }
        for answer in drain(bmc) {
            client.handle_datagram(now, &answer);
        }
    }
    sent
}

fuzz_target!(|data: &[u8]| {
    let t0 = Instant::now();
    let mut now = t0;
    let mut bmc = bmc();
    let mut genuine = Vec::new();
    for (i, protocol) in protocols().into_iter().enumerate() {
        genuine.extend(open_session(&mut bmc, now, protocol, i as u8 + 1));
    }
    assert_eq!(bmc.active_sessions(), 3, "the genuine sessions are open");
    let addrs: [SocketAddr; 2] = [
        CLIENT.parse().expect("literal address"),
        OTHER.parse().expect("literal address"),
    ];
    let mut rest = data;
    for _ in 0..256 {
        let [op, len, tail @ ..] = rest else { break };
        let len = usize::from(*len).min(tail.len());
        let (arg, next) = tail.split_at(len);
        rest = next;
        let from = addrs[usize::from(op >> 7)];
        match op & 3 {
            0 => bmc.handle_datagram(now, from, arg),
            1 | 2 if !genuine.is_empty() => {
                let pick = usize::from(arg.first().copied().unwrap_or(0)) % genuine.len();
                let mut d = genuine[pick].clone();
                if op & 3 == 1 && !d.is_empty() {
                    let at = usize::from(arg.get(1).copied().unwrap_or(0));
                    for (k, x) in arg.iter().skip(2).enumerate() {
                        let i = (at + k) % d.len();
                        d[i] ^= x;
                    }
                }
                bmc.handle_datagram(now, from, &d);
            }
            _ => {
                let step = u64::from(arg.first().copied().unwrap_or(1));
                now += Duration::from_millis(step * 250);
                bmc.handle_timeout(now);
            }
        }
        drain(&mut bmc);
    }
    // The clock runs out: every session expires.
    now += Duration::from_secs(3600);
    bmc.handle_timeout(now);
    drain(&mut bmc);
    assert_eq!(bmc.active_sessions(), 0, "sessions outlived their timeout");
});
