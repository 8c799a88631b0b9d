//! Hostile input against a running node, on real sockets and a real pty.
//!
//! UDP: a frame captured off the wire and sent again (replay), frames signed
//! with the wrong key (forgery), frames of another cluster, of a node not in
//! ha.cf, of an older incarnation, and bytes that are no frame at all. Each
//! must be rejected with its reason and counted, and none may disturb the
//! real peer's liveness (a forged frame with a huge sequence number must not
//! poison the replay window).
//!
//! Serial: line noise, long runs without any frame boundary and truncated
//! frames written into the null-modem cable must not crash the node; the
//! serial path resynchronises (the next well-framed record decodes) and stays
//! (or comes back) up.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use ironbeat_hw_tests::hadir::TEST_SECRET;
use ironbeat_hw_tests::inject::{capture_udp, send_udp};
use ironbeat_hw_tests::topology::{Media, Pair, Timers};
use ironbeat_hw_tests::{env, Watcher};
use ironbeat_link::auth::{parse_authkeys, KeyRing};
use ironbeat_link::wire::frame::{MessageType, Packet, Repr};
use ironbeat_link::wire::serial::encode_to_vec;
use ironbeat_link::{ClusterId, Generation, NodeId};

fn ring(secret: &str) -> KeyRing {
    parse_authkeys(&format!("auth 1\n1 sha256 {secret}\n"), "test", false).unwrap()
}

/// Re-emits `template` with `edit` applied, signed by `keys`.
fn craft(template: &[u8], keys: &KeyRing, edit: impl FnOnce(&mut Repr<'_>)) -> Vec<u8> {
    let packet = Packet::new_checked(template).unwrap();
    let mut repr = Repr::parse(&packet).unwrap();
    edit(&mut repr);
    let key = keys.active();
    repr.key_index = key.index();
    repr.auth_len = key.algorithm().tag_len() as u8;
    let mut bytes = repr.to_vec();
    keys.sign(&mut Packet::new_unchecked(&mut bytes[..]));
    bytes
}

fn is_heartbeat_of(bytes: &[u8], node: &str) -> bool {
    let Ok(packet) = Packet::new_checked(bytes) else {
        return false;
    };
    matches!(Repr::parse(&packet), Ok(r) if r.node_name == node && r.msg_type == MessageType::Heartbeat)
}

fn wait_rejected(w: &Watcher, since: usize, reason: &str) {
    w.wait_for(
        since,
        &format!("rejected {reason}"),
        Duration::from_secs(3),
        |e| e.kind() == "rejected" && e.str("reason") == Some(reason),
    )
    .unwrap();
}

#[test]
fn forged_replayed_foreign_unknown_stale_and_malformed_frames_are_rejected_and_counted() {
    if !env::can_run("link_security::udp", &[]) {
        return;
    }
    let timers = Timers::test();
    let pair = Pair::build("sec", Media::UCAST, timers.clone()).unwrap();
    // Start node1 once before the real run, so its generation is at least 2
    // and an older incarnation exists to impersonate.
    {
        let mut first = pair.start(0).unwrap();
        first.stop();
    }
    let n1 = pair.start(0).unwrap();
    let n2 = pair.start(1).unwrap();
    let ucast1 = pair.path_names(1)[0].clone();
    n2.wait_for(0, "path_up node1", Duration::from_secs(5), |e| {
        e.is("path_up", "node1")
    })
    .unwrap();
    n1.wait_for(0, "path_up node2", Duration::from_secs(5), |e| {
        e.is("path_up", "node2")
    })
    .unwrap();

    let c0 = pair.c0.as_ref().unwrap();
    let target: SocketAddr = (c0.b_addr(), 694).into();
    let ours = ring(TEST_SECRET);
    let gap = Duration::from_millis(5);

    // Replay: a genuine heartbeat of node1, captured as it reached node2, sent again.
    let captured = capture_udp(pair.n2.name(), 694, Duration::from_secs(3), |p| {
        is_heartbeat_of(p, "node1")
    })
    .unwrap();
    let template = captured.payload.clone();
    let mark = n2.mark();
    send_udp(
        pair.n1.name(),
        target,
        vec![template.clone(), template.clone()],
        gap,
    )
    .unwrap();
    wait_rejected(&n2, mark, "replayed");

    let (generation, sequence, cluster) = {
        let packet = Packet::new_checked(&template[..]).unwrap();
        let r = Repr::parse(&packet).unwrap();
        (r.generation.0, r.sequence, r.cluster_id)
    };
    assert!(
        generation >= 2,
        "node1 was started twice, generation {generation}"
    );

    // Forgery: node1's frame, far-future sequence, signed with a wrong key.
    let forged = craft(&template, &ring("not-the-secret"), |r| {
        r.sequence = sequence + 1_000_000
    });
    // Another cluster: right key, right node, different cluster id.
    let other = ClusterId::from_name("ibt-some-other-cluster");
    assert_ne!(other, cluster);
    let foreign = craft(&template, &ours, |r| {
        r.cluster_id = other;
        r.sequence = sequence + 1_000_001;
    });
    // A node that is not in ha.cf (autojoin is off by default, as in heartbeat).
    let unknown = craft(&template, &ours, |r| {
        r.node_name = "mallory";
        r.node_id = NodeId::from_name("mallory");
        r.sequence = 1;
    });
    // node1's previous incarnation.
    let stale = craft(&template, &ours, |r| {
        r.generation = Generation(generation - 1);
        r.sequence = sequence + 1_000_002;
    });
    // Not frames at all: junk, and a genuine frame cut short.
    let junk = b"\x00\x01garbage that is not a frame".to_vec();
    let truncated = template[..template.len() / 2].to_vec();

    for (bytes, reason) in [
        (forged, "forged"),
        (foreign, "foreign_cluster"),
        (unknown, "unknown_node"),
        (stale, "stale_generation"),
        (junk, "malformed"),
        (truncated, "malformed"),
    ] {
        let mark = n2.mark();
        send_udp(pair.n1.name(), target, vec![bytes], gap).unwrap();
        wait_rejected(&n2, mark, reason);
        let e = n2
            .wait_for(mark, "rejected", Duration::from_millis(1), |e| {
                e.kind() == "rejected"
            })
            .unwrap();
        assert!(
            e.str("path").is_some(),
            "rejected names its path: {}",
            e.json
        );
    }

    // The genuine node1 is undisturbed: its next heartbeats are still accepted.
    let quiet_since = n2.mark();
    std::thread::sleep(timers.deadtime * 3);
    let after = n2.events_since(quiet_since);
    for bad in ["node_late", "node_dead", "path_down"] {
        assert!(
            !after.iter().any(|e| e.kind() == bad),
            "{bad} after the attack: the rejected frames disturbed liveness\n{}",
            n2.diagnostics()
        );
    }
    assert!(
        !n2.events()
            .iter()
            .any(|e| e.is("path_down", "node1") && e.path() == Some(&ucast1)),
        "{}",
        n2.diagnostics()
    );

    // The counters account for every rejection.
    let mark = n2.mark();
    n2.signal(nix::sys::signal::Signal::SIGUSR1).unwrap();
    let counters = n2
        .wait_for(
            mark,
            "counters after SIGUSR1",
            Duration::from_secs(3),
            |e| e.kind() == "counters",
        )
        .unwrap();
    let want: BTreeMap<&str, u64> = [
        ("replayed", 1),
        ("forged", 1),
        ("foreign_cluster", 1),
        ("unknown_node", 1),
        ("stale_generation", 1),
        ("malformed", 2),
        ("received", 10),
        ("sent", 10),
    ]
    .into();
    for (field, at_least) in want {
        let v = counters
            .u64(field)
            .unwrap_or_else(|| panic!("counters lack {field}: {}", counters.json));
        assert!(
            v >= at_least,
            "counter {field} = {v}, expected ≥ {at_least}: {}",
            counters.json
        );
    }
}

/// A small deterministic generator for line noise (xorshift64).
fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 24) as u8
        })
        .collect()
}

#[test]
fn serial_line_noise_and_truncated_frames_leave_the_serial_path_up() {
    if !env::can_run("link_security::serial_noise", &["socat"]) {
        return;
    }
    let timers = Timers::test();
    let pair = Pair::build("noise", Media::SERIAL, timers.clone()).unwrap();
    let mut n1 = pair.start(0).unwrap();
    let mut n2 = pair.start(1).unwrap();
    let serial = [pair.path_names(0)[0].clone(), pair.path_names(1)[0].clone()];
    n1.wait_for(0, "serial up", Duration::from_secs(5), |e| {
        e.is("path_up", "node2")
    })
    .unwrap();
    n2.wait_for(0, "serial up", Duration::from_secs(5), |e| {
        e.is("path_up", "node1")
    })
    .unwrap();

    // A genuine frame of ours (correct key), unframed and cut: what a line
    // glitch in the middle of a frame leaves behind.
    let frame = {
        let repr = Repr {
            cluster_id: ClusterId::from_name("linux-ha"),
            node_id: NodeId::from_name("node1"),
            node_name: "node1",
            generation: Generation(1),
            sequence: 7,
            path_id: ironbeat_link::PathId(0),
            msg_type: MessageType::Heartbeat,
            key_index: 1,
            auth_len: 32,
            payload: &[0; 8],
        };
        let mut bytes = repr.to_vec();
        ring(TEST_SECRET).sign(&mut Packet::new_unchecked(&mut bytes[..]));
        bytes
    };
    let bursts: Vec<Vec<u8>> = vec![
        noise(4096, 0x9e37_79b9_7f4a_7c15),
        frame[..frame.len() / 2].to_vec(),
        [&frame[..10], &noise(300, 7)[..], &frame[10..]].concat(),
        vec![0x7e; 512],
        vec![0xc0; 512],
        vec![0x00; 512],
        b">>>\nt=status\nsrc=node1\n<<<\n".repeat(20),
        vec![b'A'; 65536],
        frame[frame.len() / 3..].to_vec(),
        noise(16384, 42),
    ];
    let pty = pair.pty.as_ref().unwrap();
    let (m1, m2) = (n1.mark(), n2.mark());
    for (i, b) in bursts.iter().enumerate() {
        // End A's bytes reach node2, end B's reach node1.
        pty.inject(pty.a(), b).unwrap();
        pty.inject(pty.b(), &noise(b.len().min(8192), i as u64 + 1))
            .unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }

    // Both nodes survive; the serial path is up at the end (it may have
    // dropped while a 64 KiB burst crossed the line, but must come back).
    std::thread::sleep(timers.deadtime * 2);
    for (w, peer, since, path) in [
        (&mut n1, "node2", m1, &serial[0]),
        (&mut n2, "node1", m2, &serial[1]),
    ] {
        assert!(
            w.is_running(),
            "{} died on line noise\n{}",
            w.node(),
            w.diagnostics()
        );
        let events = w.events_since(since);
        let last_down = events
            .iter()
            .rposition(|e| {
                e.path() == Some(path.as_str()) && e.peer() == Some(peer) && {
                    e.kind() == "path_up" || e.kind() == "path_down"
                }
            })
            .filter(|&i| events[i].kind() == "path_down");
        if let Some(i) = last_down {
            w.wait_for(
                since + i + 1,
                "serial path back up",
                Duration::from_secs(2),
                |e| e.is("path_up", peer) && e.path() == Some(path.as_str()),
            )
            .unwrap();
        }
        assert!(
            !w.events_since(since)
                .iter()
                .any(|e| e.kind() == "node_dead"),
            "{}: node_dead during line noise\n{}",
            w.node(),
            w.diagnostics()
        );
    }
    // The decoder is back in step right after the noise: a well-framed record
    // holding junk is decoded and rejected as malformed, a well-framed frame
    // signed with the wrong key as forged — both on the serial path.
    let wrong_key = {
        let mut bytes = frame.clone();
        ring("not-the-secret").sign(&mut Packet::new_unchecked(&mut bytes[..]));
        bytes
    };
    for (record, reason) in [
        (b"\x00\x01 not a heartbeat frame".to_vec(), "malformed"),
        (wrong_key, "forged"),
    ] {
        let mark = n2.mark();
        pty.inject(
            pty.a(),
            &[&noise(100, 3)[..], &encode_to_vec(&record)[..]].concat(),
        )
        .unwrap();
        n2.wait_for(
            mark,
            &format!("rejected {reason} on serial"),
            Duration::from_secs(2),
            |e| {
                e.kind() == "rejected"
                    && e.str("reason") == Some(reason)
                    && e.path() == Some(serial[1].as_str())
            },
        )
        .unwrap();
    }

    // And the link still carries heartbeats: kill node1, node2 notices over serial.
    let mark = n2.mark();
    n1.kill9();
    n2.wait_for(mark, "node_dead over serial", Duration::from_secs(2), |e| {
        e.is("node_dead", "node1")
    })
    .unwrap();
}
