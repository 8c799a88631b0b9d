//! Hostile input, without a BMC: every IPMI parser against truncated,
//! bit-flipped and random bytes (nothing may panic; what parses re-emits to
//! the same bytes), and the client fed garbage, replays, foreign and forged
//! datagrams in the middle of genuine sessions recorded against ipmi_sim
//! (`ipmi_sim/transcripts/`). The client must ignore them and reach the same
//! outcome, or fail; it must never report a power state it did not see.

#[path = "ipmi_sim/transcripts.rs"]
mod transcripts;

use ironbeat_fence::ipmi::commands::{
    ActivateSession, Body, ChannelAuthCapabilities, ChassisControlRequest, ChassisStatus,
    CloseSession, GetChannelAuthCapabilities, GetSessionChallenge, SessionActivated,
    SessionChallenge, SetSessionPrivilegeLevel,
};
use ironbeat_fence::ipmi::crypto::{CipherSuite, SessionKeys};
use ironbeat_fence::ipmi::wire::{message, open_session, rakp, rmcp, v15, v20};
use transcripts::{replay, Transcript, NAMES};

/// xorshift64*: deterministic, so a failure reproduces.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// Every parser on `bytes`; what parses must re-emit identically.
fn parse_everything(bytes: &[u8]) {
    if let Ok(p) = rmcp::Packet::new_checked(bytes) {
        let _ = (
            p.version(),
            p.sequence(),
            p.class(),
            p.is_ack(),
            p.payload(),
        );
        if let Ok(r) = rmcp::Repr::parse(&p) {
            let mut out = bytes.to_vec();
            r.emit(&mut rmcp::Packet::new_unchecked(&mut out[..]));
            // Version, sequence and class survive; the reserved byte is zeroed.
            assert_eq!((out[0], out[2], out[3]), (bytes[0], bytes[2], bytes[3]));
        }
        let payload = p.payload();
        if let Ok(a) = rmcp::asf::Repr::parse(payload) {
            let again = a.to_vec();
            assert_eq!(rmcp::asf::Repr::parse(&again).unwrap(), a);
            let _ = a.pong();
        }
        session_layers(payload);
    }
    session_layers(bytes);
    bodies(bytes);
}

fn session_layers(bytes: &[u8]) {
    if let Ok(r) = v15::Repr::parse_bytes(bytes) {
        let again = r.to_vec();
        assert_eq!(&again[..], &bytes[..again.len()]);
        assert!(bytes.len() - again.len() <= 1);
        bodies(r.message);
    }
    for auth_len in [None, Some(0), Some(12), Some(16), Some(20)] {
        if let Ok(r) = v20::Repr::parse(bytes, auth_len) {
            if !r.authenticated {
                assert_eq!(r.to_vec(), bytes);
            }
            bodies(r.payload);
        }
    }
    if let Ok(p) = v20::Packet::new_checked(bytes) {
        let _ = (p.oem(), p.session_id(), p.sequence(), p.trailer());
        for n in [0, 12, 16, 32, usize::MAX / 2] {
            let _ = p.split_auth_code(n);
        }
    }
}

fn bodies(bytes: &[u8]) {
    if let Ok(m) = message::Repr::parse(bytes) {
        assert_eq!(m.to_vec(), bytes);
        let _ = (m.completion_code(), m.response_data());
        let _ = ironbeat_fence::ipmi::commands::summary(&m);
        bodies(m.body);
        bodies(m.response_data());
    }
    if let Ok(r) = open_session::Request::parse(bytes) {
        assert_eq!(open_session::Request::parse(&r.to_vec()).unwrap(), r);
    }
    if let Ok(r) = open_session::Response::parse(bytes) {
        assert_eq!(open_session::Response::parse(&r.to_vec()).unwrap(), r);
    }
    if let Ok(r) = rakp::Rakp1::parse(bytes) {
        // Reserved bytes are not kept: re-emitting is stable from then on.
        let again = r.to_vec();
        assert_eq!(rakp::Rakp1::parse(&again).unwrap(), r);
        assert_eq!(again.len(), bytes.len());
    }
    if let Ok(r) = rakp::Rakp2::parse(bytes) {
        let again = r.to_vec();
        let back = rakp::Rakp2::parse(&again).unwrap();
        assert_eq!(
            (back.status, back.console_session_id),
            (r.status, r.console_session_id)
        );
    }
    if let Ok(r) = rakp::Rakp3::parse(bytes) {
        // Reserved bytes are not kept: re-emitting is stable from then on.
        let again = r.to_vec();
        assert_eq!(rakp::Rakp3::parse(&again).unwrap(), r);
        assert_eq!(again.len(), bytes.len());
    }
    if let Ok(r) = rakp::Rakp4::parse(bytes) {
        // Reserved bytes are not kept: re-emitting is stable from then on.
        let again = r.to_vec();
        assert_eq!(rakp::Rakp4::parse(&again).unwrap(), r);
        assert_eq!(again.len(), bytes.len());
    }
    macro_rules! body {
        ($($t:ty),*) => {$(
            if let Ok(b) = <$t>::decode(bytes) {
                let _ = b.to_vec();
            }
        )*};
    }
    body!(
        GetChannelAuthCapabilities,
        ChannelAuthCapabilities,
        GetSessionChallenge,
        SessionChallenge,
        ActivateSession,
        SessionActivated,
        SetSessionPrivilegeLevel,
        CloseSession,
        ChassisStatus,
        ChassisControlRequest
    );
    let keys = SessionKeys::derive(CipherSuite::SUITE_3.algorithms(), &[7; 20]).unwrap();
    let _ = keys.decrypt(bytes);
    let _ = keys.verify(bytes, &[0; 12]);
}

fn all_datagrams() -> Vec<Vec<u8>> {
    NAMES
        .iter()
        .flat_map(|n| Transcript::load(n).datagrams.into_iter().map(|(_, d)| d))
        .collect()
}

#[test]
fn parsers_survive_truncation_flips_and_noise() {
    let mut rng = Rng(0x1bf_2026);
    let mut inputs = 0usize;
    for d in all_datagrams() {
        for n in 0..=d.len() {
            parse_everything(&d[..n]);
            parse_everything(&d[rmcp::HEADER_LEN.min(n)..n]);
            inputs += 2;
        }
        for _ in 0..300 {
            let mut m = d.clone();
            for _ in 0..=rng.below(3) {
                let at = rng.below(m.len());
                match rng.below(3) {
                    0 => m[at] ^= 1 << rng.below(8),
                    1 => m[at] = rng.next() as u8,
                    _ => m[at] = [0, 0xff, 0x06, 0x07, 0x10, 0x40, 0xc0][rng.below(7)],
                }
            }
            parse_everything(&m);
            inputs += 1;
        }
    }
    for _ in 0..20_000 {
        let len = rng.below(120);
        let mut g = rng.bytes(len);
        if len >= 5 && rng.below(2) == 0 {
            // Plausible headers reach the deeper layers.
            g[..4].copy_from_slice(&[0x06, 0x00, 0xff, 0x07]);
            g[4] = [0x00, 0x02, 0x04, 0x06][rng.below(4)];
        }
        parse_everything(&g);
        inputs += 1;
    }
    assert!(inputs > 50_000, "{inputs}");
}

#[test]
fn stored_transcripts_replay_byte_for_byte() {
    for name in NAMES {
        let t = Transcript::load(name);
        let r = replay(&t, |_, d| vec![d.to_vec()]);
        assert!(r.identical, "{name}: sent bytes differ from the recording");
        let o = r.result.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(o.session_closed, "{name}");
    }
}

fn genuine_outcome(t: &Transcript) -> ironbeat_fence::ipmi::client::Outcome {
    replay(t, |_, d| vec![d.to_vec()]).result.unwrap()
}

#[test]
fn garbage_and_foreign_datagrams_are_ignored() {
    let others = all_datagrams();
    let mut rng = Rng(7);
    for name in NAMES {
        let t = Transcript::load(name);
        let want = genuine_outcome(&t);
        let mut earlier: Vec<Vec<u8>> = Vec::new();
        let r = replay(&t, |_, genuine| {
            let mut out = Vec::new();
            // Random noise, truncations, other sessions' datagrams, replays
            // of this session's earlier datagrams, then the real one.
            for _ in 0..5 {
                let len = rng.below(100);
                out.push(rng.bytes(len));
            }
            out.push(genuine[..rng.below(genuine.len())].to_vec());
            for _ in 0..5 {
                out.push(others[rng.below(others.len())].clone());
            }
            out.extend(earlier.iter().cloned());
            out.push(genuine.to_vec());
            out.push(genuine.to_vec());
            earlier.push(genuine.to_vec());
            out
        });
        assert!(r.identical, "{name}: noise changed what the client sent");
        let got = r.result.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            (got.power, got.off_seen, got.command_sent, got.session),
            (want.power, want.off_seen, want.command_sent, want.session),
            "{name}"
        );
        let ignored = r
            .events
            .iter()
            .filter(|e| {
                matches!(
                    e.kind,
                    ironbeat_fence::ipmi::client::EventKind::Ignored { .. }
                )
            })
            .count();
        assert!(ignored > 20, "{name}: only {ignored} datagrams ignored");
    }
}

#[test]
fn forged_responses_never_become_a_power_state() {
    let mut rng = Rng(99);
    for name in NAMES {
        let t = Transcript::load(name);
        let want = genuine_outcome(&t);
        let received: Vec<usize> = t
            .datagrams
            .iter()
            .enumerate()
            .filter(|(_, (s, _))| !s)
            .map(|(i, _)| i)
            .collect();
        for &target in &received {
            for _ in 0..12 {
                let len = t.datagrams[target].1.len();
                // Flip one bit outside the RMCP header (which no code covers
                // and which carries nothing we act on).
                let at = rmcp::HEADER_LEN + rng.below(len - rmcp::HEADER_LEN);
                let bit = 1u8 << rng.below(8);
                let r = replay(&t, |i, genuine| {
                    let mut d = genuine.to_vec();
                    if i == target {
                        d[at] ^= bit;
                    }
                    vec![d]
                });
                if let Ok(o) = r.result {
                    if o.power_on_failed.is_some() {
                        // A reboot whose on half was spoiled: fenced, and
                        // only because Off really was seen.
                        assert!(want.off_seen && o.off_seen, "{name}");
                        assert_eq!(o.power, ironbeat_fence::power::PowerState::Off, "{name}");
                        continue;
                    }
                    // Only an unauthenticated, meaningless field may have
                    // changed; what we report must be what the BMC said.
                    assert_eq!(
                        (o.power, o.off_seen),
                        (want.power, want.off_seen),
                        "{name}: datagram {target} byte {at} bit {bit:#04x} changed the outcome"
                    );
                }
            }
        }
    }
}
