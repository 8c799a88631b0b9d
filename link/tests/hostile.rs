//! Deterministic hostile-input tests for every parser of the link layer: the
//! heartbeat frame and its payloads, serial framing, ARP, IPv6 neighbour
//! advertisements and authkeys. Each gets 20 000+ inputs from a fixed-seed
//! PRNG — random bytes and mutated valid inputs (truncations, extensions, bit
//! flips, length fields that lie) — and must neither panic nor reject the
//! valid originals. Bounded and fast; `fuzz/` runs the same parsers open-ended.

use std::net::{Ipv4Addr, Ipv6Addr};

use ironbeat_link::auth::{parse_authkeys, KeyRing};
use ironbeat_link::wire::arp::{self, MacAddr, Operation};
use ironbeat_link::wire::frame::{self, payload, MessageType};
use ironbeat_link::wire::{ndp, serial};
use ironbeat_link::{ClusterId, Generation, NodeId, PathId};

const CASES: usize = 20_000;

/// xorshift64*: tiny, deterministic, good enough to mutate bytes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
    fn byte(&mut self) -> u8 {
        self.next() as u8
    }
    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.byte()).collect()
    }
    /// A byte biased towards values that matter to parsers.
    fn interesting(&mut self) -> u8 {
        const SPECIAL: [u8; 12] = [0, 1, 2, 4, 6, 0x20, 0x3a, 0x7d, 0x7e, 0x7f, 0x80, 0xff];
        if self.chance(2) {
            SPECIAL[self.below(SPECIAL.len())]
        } else {
            self.byte()
        }
    }

    /// One mutation of `valid`: truncate, extend, flip bits, overwrite bytes,
    /// or make one of the `length_fields` (offsets) lie.
    fn mutate(&mut self, valid: &[u8], length_fields: &[usize]) -> Vec<u8> {
        let mut b = valid.to_vec();
        let rounds = 1 + self.below(3);
        for _ in 0..rounds {
            match self.below(6) {
                0 => {
                    let cut = self.below(b.len() + 1);
                    b.truncate(cut);
                }
                1 => {
                    let extra = 1 + self.below(16);
                    for _ in 0..extra {
                        let v = self.interesting();
                        b.push(v);
                    }
                }
                2 if !b.is_empty() => {
                    let at = self.below(b.len());
                    b[at] ^= 1 << self.below(8);
                }
                3 if !b.is_empty() => {
                    let at = self.below(b.len());
                    b[at] = self.interesting();
                }
                4 if !length_fields.is_empty() => {
                    let at = length_fields[self.below(length_fields.len())];
                    if at < b.len() {
                        b[at] = self.interesting();
                    }
                }
                _ if b.len() > 1 => {
                    // Remove a byte range from the middle.
                    let start = self.below(b.len() - 1);
                    let end = (start + 1 + self.below(8)).min(b.len());
                    b.drain(start..end);
                }
                _ => {}
            }
        }
        b
    }
}

fn keys() -> KeyRing {
    parse_authkeys("auth 1\n1 sha256 hostile-test-secret\n", "hostile", false).unwrap()
}

fn valid_frames() -> Vec<Vec<u8>> {
    let keys = keys();
    let hb = payload::Heartbeat { channel_high: 3 }.to_bytes();
    let data = payload::Data {
        channel_seq: 4,
        dest: Some(NodeId(7)),
    }
    .to_bytes(b"cluster message");
    let rexmit = payload::RetransmitRequest {
        origin: NodeId(9),
        first: 1,
        last: 3,
    }
    .to_bytes();
    let ack = payload::Ack {
        origin: NodeId(9),
        cumulative: 2,
    }
    .to_bytes();
    let cases: [(MessageType, &[u8]); 4] = [
        (MessageType::Heartbeat, &hb),
        (MessageType::Data, &data),
        (MessageType::RetransmitRequest, &rexmit),
        (MessageType::Ack, &ack),
    ];
    cases
        .iter()
        .enumerate()
        .map(|(i, (msg_type, body))| {
            let repr = frame::Repr {
                cluster_id: ClusterId(0xc0ff_ee00),
                node_id: NodeId::from_name("node1"),
                node_name: "node1",
                generation: Generation(5),
                sequence: 10 + i as u64,
                path_id: PathId(1),
                msg_type: *msg_type,
                key_index: 1,
                auth_len: 32,
                payload: body,
            };
            let mut bytes = repr.to_vec();
            keys.sign(&mut frame::Packet::new_unchecked(&mut bytes[..]));
            bytes
        })
        .collect()
}

/// Runs every frame accessor and parser on `bytes`; returns whether it parsed.
fn exercise_frame(bytes: &[u8], keys: &KeyRing) -> bool {
    let Ok(packet) = frame::Packet::new_checked(bytes) else {
        return false;
    };
    let _ = (
        packet.magic(),
        packet.version(),
        packet.msg_type(),
        packet.key_index(),
        packet.path_id(),
        packet.cluster_id(),
        packet.node_id(),
        packet.generation(),
        packet.sequence(),
        packet.reserved(),
        packet.name(),
        packet.signed_bytes(),
        packet.auth_tag(),
    );
    let _ = keys.verify(&packet);
    let Ok(repr) = frame::Repr::parse(&packet) else {
        return false;
    };
    // A parsed frame re-emits to the same signed bytes.
    let again = repr.to_vec();
    assert_eq!(again.len(), bytes.len());
    assert_eq!(&again[..packet.signed_bytes().len()], packet.signed_bytes());
    exercise_payloads(repr.payload);
    true
}

fn exercise_payloads(b: &[u8]) {
    if let Ok(hb) = payload::Heartbeat::parse(b) {
        assert_eq!(hb.to_bytes(), b);
    }
    if let Ok((data, body)) = payload::Data::parse(b) {
        assert_eq!(data.to_bytes(body), b);
    }
    if let Ok(r) = payload::RetransmitRequest::parse(b) {
        assert!(r.first >= 1 && r.first <= r.last);
        assert_eq!(r.to_bytes(), b);
    }
    if let Ok(a) = payload::Ack::parse(b) {
        assert_eq!(a.to_bytes(), b);
    }
}

#[test]
fn frame_and_payloads_survive_hostile_input() {
    let keys = keys();
    let valid = valid_frames();
    for v in &valid {
        assert!(exercise_frame(v, &keys));
        let packet = frame::Packet::new_checked(&v[..]).unwrap();
        assert!(keys.verify(&packet).is_ok());
    }
    // Offsets of name_len, auth_len and payload_len.
    let length_fields = [5, 7, 32, 33];
    let mut rng = Rng(0x1b_f4a3_0001);
    let mut parsed = 0;
    for i in 0..CASES {
        let input = match i % 3 {
            0 => {
                let len = rng.below(frame::HEADER_LEN + 80);
                let mut b = rng.bytes(len);
                if b.len() >= 3 && rng.chance(2) {
                    b[..3].copy_from_slice(b"IB\x01");
                }
                b
            }
            _ => {
                let base = &valid[rng.below(valid.len())];
                rng.mutate(base, &length_fields)
            }
        };
        if exercise_frame(&input, &keys) {
            parsed += 1;
        }
        let len = rng.below(40);
        exercise_payloads(&rng.bytes(len));
    }
    // Some mutations (a flipped sequence bit, say) still parse: the loop did
    // reach Repr::parse's success path, not only its length check.
    assert!(parsed > 100, "only {parsed} mutated frames parsed");
}

#[test]
fn serial_decoder_survives_hostile_streams() {
    let valid = valid_frames();
    let mut clean = Vec::new();
    for v in &valid {
        serial::encode(v, &mut clean);
    }
    let mut rng = Rng(0x1b_f4a3_0002);
    for i in 0..CASES {
        let stream = match i % 4 {
            0 => {
                let len = rng.below(300);
                (0..len).map(|_| rng.interesting()).collect()
            }
            1 => rng.mutate(&clean, &[]),
            2 => {
                // Valid records with noise between them: every record must come out.
                let mut s = Vec::new();
                for v in &valid {
                    let noise = rng.below(12);
                    for _ in 0..noise {
                        let b = rng.interesting();
                        s.push(b);
                    }
                    serial::encode(v, &mut s);
                }
                s
            }
            _ => {
                // A record with a length beyond the limit, then a good one.
                let len = serial::MAX_RECORD_LEN + rng.below(64);
                let big = rng.bytes(len);
                let mut s = serial::encode_to_vec(&big);
                serial::encode(&valid[0], &mut s);
                s
            }
        };
        let mut decoder = serial::Decoder::new();
        let mut good = Vec::new();
        let mut bad = 0u64;
        let mut at = 0;
        while at < stream.len() {
            let n = (1 + rng.below(97)).min(stream.len() - at);
            decoder.push(&stream[at..at + n]);
            at += n;
            while let Some(result) = decoder.next_frame() {
                match result {
                    Ok(f) => {
                        assert!(f.len() <= frame::MAX_FRAME_LEN);
                        good.push(f);
                    }
                    Err(_) => bad += 1,
                }
            }
        }
        let c = decoder.counters();
        assert_eq!(c.frames, good.len() as u64);
        assert_eq!(c.crc_errors + c.oversize + c.short + c.aborted, bad);
        match i % 4 {
            2 => assert_eq!(good, valid, "case {i}"),
            3 => assert_eq!(good.last(), Some(&valid[0]), "case {i}"),
            _ => {}
        }
    }
}

#[test]
fn arp_survives_hostile_input() {
    let mac = MacAddr([0x02, 0x00, 0xc6, 0x12, 0x04, 0x01]);
    let ip = Ipv4Addr::new(198, 18, 4, 100);
    let valid = [
        arp::gratuitous(mac, ip, Operation::Request).to_vec(),
        arp::gratuitous(mac, ip, Operation::Reply).to_vec(),
    ];
    // EtherType, hardware/protocol types and address lengths.
    let length_fields = [12, 13, 15, 17, 18, 19];
    let mut rng = Rng(0x1b_f4a3_0003);
    for v in &valid {
        assert!(arp::Repr::parse(&arp::Packet::new_checked(&v[..]).unwrap()).is_ok());
    }
    for i in 0..CASES {
        let input = if i % 3 == 0 {
            let len = rng.below(80);
            rng.bytes(len)
        } else {
            let pick = rng.below(2);
            rng.mutate(&valid[pick], &length_fields)
        };
        // parse re-checks the length even through an unchecked view.
        let unchecked = arp::Repr::parse(&arp::Packet::new_unchecked(&input[..]));
        let Ok(packet) = arp::Packet::new_checked(&input[..]) else {
            assert!(unchecked.is_err());
            continue;
        };
        let _ = (
            packet.destination(),
            packet.source(),
            packet.ethertype(),
            packet.operation(),
            packet.sender_hardware_addr(),
            packet.target_protocol_addr(),
        );
        if let Ok(repr) = arp::Repr::parse(&packet) {
            assert_eq!(repr.to_vec(), input[..arp::FRAME_LEN]);
        }
        // Emitting into any buffer size never panics.
        let mut out = vec![0u8; rng.below(60)];
        arp::gratuitous(mac, ip, Operation::Unknown(rng.byte().into()))
            .emit(&mut arp::Packet::new_unchecked(&mut out[..]));
    }
}

#[test]
fn ndp_survives_hostile_input() {
    let mac = MacAddr([0x02, 0x00, 0xc6, 0x12, 0x00, 0x01]);
    let addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);
    let valid = ndp::unsolicited(mac, addr).to_vec();
    // Payload length, next header, hop limit, ICMP type and code, option length.
    let length_fields = [18, 19, 20, 21, 54, 55, 79];
    let mut rng = Rng(0x1b_f4a3_0004);
    assert!(ndp::Repr::parse(&ndp::Packet::new_checked(&valid[..]).unwrap()).is_ok());
    let mut parsed = 0;
    for i in 0..CASES {
        let mut input = if i % 3 == 0 {
            let len = rng.below(120);
            rng.bytes(len)
        } else {
            rng.mutate(&valid, &length_fields)
        };
        let unchecked = ndp::Repr::parse(&ndp::Packet::new_unchecked(&input[..]));
        if ndp::Packet::new_checked(&input[..]).is_err() {
            assert!(unchecked.is_err());
            continue;
        }
        // Half the time fix the checksum so the checks behind it are reached.
        if rng.chance(2) {
            ndp::Packet::new_unchecked(&mut input[..]).fill_checksum();
        }
        let packet = ndp::Packet::new_checked(&input[..]).unwrap();
        let _ = (
            packet.ip_version(),
            packet.traffic_class(),
            packet.flow_label(),
            packet.icmp_type(),
            packet.reserved(),
            packet.target_addr(),
            packet.verify_checksum(),
        );
        for option in packet.options().take(200) {
            let _ = option;
        }
        if let Ok(repr) = ndp::Repr::parse(&packet) {
            parsed += 1;
            let again = repr.to_vec();
            let reparsed = ndp::Repr::parse(&ndp::Packet::new_checked(&again[..]).unwrap());
            assert_eq!(reparsed.unwrap(), repr);
        }
    }
    assert!(parsed > 100, "only {parsed} mutated advertisements parsed");
}

#[test]
fn authkeys_survive_hostile_text() {
    let valid = [
        "# lab authkeys\nauth 1\n1 sha1 0123456789abcdef\n",
        "auth 2\n1 md5 old secret with spaces\n2 sha256 new-secret # comment\n",
        "auth 15\n15 SHA256 x\n",
    ];
    for v in valid {
        assert!(parse_authkeys(v, "valid", false).is_ok(), "{v}");
    }
    const TOKENS: [&str; 22] = [
        "auth",
        "1",
        "2",
        "15",
        "16",
        "0",
        "-1",
        "99999999999999999999",
        "sha1",
        "md5",
        "sha256",
        "crc",
        "SHA1",
        "#",
        " ",
        "\t",
        "\n",
        "\r\n",
        "é",
        "\u{0}",
        "secret",
        "﻿",
    ];
    let mut rng = Rng(0x1b_f4a3_0005);
    for i in 0..CASES {
        let text = if i % 2 == 0 {
            let n = rng.below(24);
            (0..n)
                .map(|_| TOKENS[rng.below(TOKENS.len())])
                .collect::<String>()
        } else {
            let pick = rng.below(valid.len());
            let base = valid[pick].as_bytes();
            let mutated = rng.mutate(base, &[]);
            String::from_utf8_lossy(&mutated).into_owned()
        };
        let allow_crc = rng.chance(2);
        if let Err(e) = parse_authkeys(&text, "authkeys", allow_crc) {
            // Every error names the file and line.
            assert!(e.to_string().starts_with("authkeys"), "{e}");
        }
    }
}

/// The seed corpus in `fuzz/seeds/` must stay valid as the formats evolve,
/// or the fuzzers start from noise.
#[test]
fn fuzz_seeds_are_valid_inputs() {
    let seeds = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds");
    let read = |target: &str| -> Vec<(String, Vec<u8>)> {
        let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(seeds.join(target))
            .unwrap()
            .map(|entry| {
                let path = entry.unwrap().path();
                (path.display().to_string(), std::fs::read(&path).unwrap())
            })
            .collect();
        out.sort();
        assert!(!out.is_empty(), "no seeds for {target}");
        out
    };
    let fuzz_keys = parse_authkeys("auth 1\n1 sha256 fuzz\n", "fuzz", false).unwrap();
    for (name, bytes) in read("frame") {
        let packet = frame::Packet::new_checked(&bytes[..]).unwrap();
        let repr = frame::Repr::parse(&packet).unwrap();
        assert!(fuzz_keys.verify(&packet).is_ok(), "{name}");
        let ok = match repr.msg_type {
            MessageType::Heartbeat => payload::Heartbeat::parse(repr.payload).is_ok(),
            MessageType::Data => payload::Data::parse(repr.payload).is_ok(),
            MessageType::RetransmitRequest => {
                payload::RetransmitRequest::parse(repr.payload).is_ok()
            }
            MessageType::Ack => payload::Ack::parse(repr.payload).is_ok(),
            MessageType::Unknown(_) => false,
        };
        assert!(ok, "{name}");
    }
    for (name, bytes) in read("serial_decoder") {
        let mut decoder = serial::Decoder::new();
        decoder.push(&bytes[1..]);
        let results: Vec<_> = std::iter::from_fn(|| decoder.next_frame()).collect();
        assert!(
            !results.is_empty() && results.iter().all(|r| r.is_ok()),
            "{name}"
        );
    }
    for (name, bytes) in read("arp") {
        let repr = arp::Repr::parse(&arp::Packet::new_checked(&bytes[..]).unwrap()).unwrap();
        assert!(repr.is_gratuitous(), "{name}");
    }
    for (name, bytes) in read("ndp") {
        let packet = ndp::Packet::new_checked(&bytes[1..]).unwrap();
        assert!(ndp::Repr::parse(&packet).is_ok(), "{name}");
    }
    for (name, bytes) in read("authkeys") {
        let text = String::from_utf8(bytes).unwrap();
        assert!(parse_authkeys(&text, &name, true).is_ok(), "{name}");
    }
}
