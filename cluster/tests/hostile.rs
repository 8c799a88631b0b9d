//! Hostile input: whatever bytes arrive, `handle_message` never panics and
//! reports what it dropped; the codec keeps its bounds.

mod sim;

use std::time::{Duration, Instant};

use ironbeat_cluster::wire::{
    AdminCommand, AdminState, Entry, Message, MAX_MESSAGE_LEN, MAX_NAME_LEN, STATUS_CHUNK,
};
use ironbeat_cluster::*;
use sim::Setup;

fn node() -> (Node, Instant) {
    let now = Instant::now();
    let setup = Setup::new(&["a", "b", "c"], &["vip", "web"]);
    let n = Node::new(setup.config("a", 1, 42), now);
    (n, now)
}

fn events(n: &mut Node) -> Vec<Event> {
    std::iter::from_fn(|| n.poll_event()).collect()
}

fn bad_reasons(n: &mut Node) -> Vec<String> {
    events(n)
        .into_iter()
        .filter_map(|e| match e {
            Event::BadMessage { reason, .. } => Some(reason),
            _ => None,
        })
        .collect()
}

fn samples() -> Vec<Message> {
    vec![
        Message::Hello {
            digest: 42,
            incarnation: 3,
            dc: Some("b".into()),
            settling: false,
        },
        Message::Members {
            epoch: 9,
            members: vec!["a".into(), "b".into()],
        },
        Message::Status {
            incarnation: 3,
            probed: true,
            first: true,
            settling: false,
            entries: vec![Entry {
                resource: 0,
                active: true,
                failed: false,
                fail_count: 2,
                last_failure: Some(1_800_000_000),
            }],
        },
        Message::Admin(AdminState {
            generation: 4,
            standby: vec!["b".into()],
            moves: vec![(0, "c".into())],
            stopped: vec![1],
            cleanups: vec![(0, 5)],
        }),
        Message::Fenced(FenceRecord {
            node: "c".into(),
            by: "b".into(),
            at: 7,
            outcome: FenceOutcome::Confirmed,
        }),
        Message::Op {
            id: 1,
            resource: 0,
            kind: OpKind::Start,
            interval_ms: 0,
            timeout_ms: 20_000,
        },
        Message::OpDone {
            id: 1,
            outcome: OpOutcome::Failed(7),
        },
        Message::Admin2(AdminCommand::Move(0, "b".into())),
        Message::Resync,
        Message::Leaving,
        Message::LeavingSeen,
        Message::Connectivity {
            incarnation: 3,
            value: 2,
        },
    ]
}

#[test]
fn every_message_round_trips_within_bounds() {
    for m in samples() {
        let bytes = m.encode().expect("fits");
        assert!(bytes.len() <= MAX_MESSAGE_LEN);
        assert_eq!(Message::decode(&bytes).unwrap(), m);
    }
}

#[test]
fn worst_case_messages_fit_the_channel() {
    let e = Entry {
        resource: u16::MAX,
        active: true,
        failed: true,
        fail_count: u32::MAX,
        last_failure: Some(i64::MIN),
    };
    let m = Message::Status {
        incarnation: u64::MAX,
        probed: true,
        first: true,
        settling: false,
        entries: vec![e; STATUS_CHUNK],
    };
    assert!(m.encode().is_some(), "a full status chunk must fit");
    let name = "n".repeat(MAX_NAME_LEN);
    let m = Message::Members {
        epoch: u64::MAX,
        members: vec![name.clone(); 16],
    };
    assert!(
        m.encode().is_some(),
        "16 members with the longest names must fit"
    );
    let m = Message::Hello {
        digest: u64::MAX,
        incarnation: u64::MAX,
        dc: Some(name),
        settling: false,
    };
    assert!(m.encode().unwrap().len() < 100);
}

#[test]
fn decode_refuses_what_breaks_the_bounds() {
    let long = "x".repeat(MAX_NAME_LEN + 1);
    let bad = [
        Message::Hello {
            digest: 1,
            incarnation: 1,
            dc: Some(long.clone()),
            settling: false,
        },
        Message::Hello {
            digest: 1,
            incarnation: 1,
            dc: Some(String::new()),
            settling: false,
        },
        Message::Members {
            epoch: 1,
            members: vec![long.clone()],
        },
        Message::Admin2(AdminCommand::Standby(long.clone(), true)),
        Message::Status {
            incarnation: 1,
            probed: true,
            first: true,
            settling: false,
            entries: vec![
                Entry {
                    resource: 0,
                    active: true,
                    failed: false,
                    fail_count: 0,
                    last_failure: None
                };
                STATUS_CHUNK + 1
            ],
        },
    ];
    for m in bad {
        let bytes = postcard_bytes(&m);
        assert!(Message::decode(&bytes).is_err(), "{m:?}");
    }
    let mut ok = Message::Resync.encode().unwrap();
    ok.push(0);
    let err = Message::decode(&ok).unwrap_err();
    assert!(err.0.contains("trailing"), "{err:?}");
    let err = Message::decode(&vec![0u8; MAX_MESSAGE_LEN + 1]).unwrap_err();
    assert!(err.0.contains("exceeds"), "{err:?}");
    assert!(Message::decode(&[]).is_err());
    assert!(Message::decode(&[0xff; 8]).is_err());
}

/// Encodes without the bounds check of `decode`.
fn postcard_bytes(m: &Message) -> Vec<u8> {
    m.encode().expect("the test messages fit the size limit")
}

#[test]
fn random_bytes_and_truncations_never_panic() {
    let (mut n, now) = node();
    let mut x: u64 = 0x1234_5678_9abc_def1;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for i in 0..20_000u64 {
        let len = (rnd() % 64) as usize;
        let bytes: Vec<u8> = (0..len).map(|_| rnd() as u8).collect();
        let from = if i % 3 == 0 { "c" } else { "b" };
        n.handle_message(now, from, &bytes);
        while n.poll_message().is_some() {}
        while n.poll_op().is_some() {}
        while n.poll_event().is_some() {}
    }
    for m in samples() {
        let bytes = m.encode().unwrap();
        for cut in 0..bytes.len() {
            n.handle_message(now, "b", &bytes[..cut]);
        }
        // Flipped bytes.
        for i in 0..bytes.len() {
            let mut b = bytes.clone();
            b[i] ^= 0xa5;
            n.handle_message(now, "b", &b);
        }
    }
    n.handle_timeout(now + Duration::from_secs(5));
    let st = n.status();
    assert_eq!(st.node, "a");
}

#[test]
fn messages_from_strangers_and_out_of_place_are_dropped_with_a_reason() {
    let (mut n, now) = node();
    events(&mut n);
    let hello = Message::Hello {
        digest: 42,
        incarnation: 1,
        dc: None,
        settling: false,
    }
    .encode()
    .unwrap();
    n.handle_message(now, "mallory", &hello);
    let r = bad_reasons(&mut n);
    assert!(
        r.iter().any(|r| r.contains("not a configured node")),
        "{r:?}"
    );

    // An operation from a node that is not our DC.
    let op = Message::Op {
        id: 1,
        resource: 0,
        kind: OpKind::Start,
        interval_ms: 0,
        timeout_ms: 1000,
    };
    n.handle_message(now, "b", &op.encode().unwrap());
    let r = bad_reasons(&mut n);
    assert!(r.iter().any(|r| r.contains("not our DC")), "{r:?}");
    assert!(std::iter::from_fn(|| n.poll_op()).all(|o| o.kind == OpKind::Probe));

    // Status of a resource index the configuration does not have.
    let st = Message::Status {
        incarnation: 1,
        probed: true,
        first: true,
        settling: false,
        entries: vec![Entry {
            resource: 999,
            active: true,
            failed: false,
            fail_count: 0,
            last_failure: None,
        }],
    };
    n.handle_message(now, "b", &st.encode().unwrap());
    let r = bad_reasons(&mut n);
    assert!(
        r.iter().any(|r| r.contains("unknown resource #999")),
        "{r:?}"
    );
    assert!(n.status().resources.iter().all(|r| r.running_on.is_empty()));

    // Fencing of a node that does not exist.
    let f = Message::Fenced(FenceRecord {
        node: "zz".into(),
        by: "b".into(),
        at: 0,
        outcome: FenceOutcome::Confirmed,
    });
    n.handle_message(now, "b", &f.encode().unwrap());
    let r = bad_reasons(&mut n);
    assert!(r.iter().any(|r| r.contains("unknown node")), "{r:?}");

    // Admin state naming resources out of range is ignored.
    let a = Message::Admin(AdminState {
        generation: 9,
        stopped: vec![500],
        ..AdminState::default()
    });
    n.handle_message(now, "b", &a.encode().unwrap());
    assert!(n.status().nodes.iter().all(|x| !x.standby));

    // A result for an operation that was never sent.
    n.handle_message(
        now,
        "b",
        &Message::OpDone {
            id: 77,
            outcome: OpOutcome::Ok,
        }
        .encode()
        .unwrap(),
    );
    n.handle_op_result(
        now,
        OpResult {
            id: 12345,
            outcome: OpOutcome::Ok,
        },
    );
    n.handle_fence_result(now, "zz", FenceOutcome::Confirmed);
}

#[test]
fn mismatched_configuration_event_says_how_to_fix_it() {
    let (mut n, now) = node();
    n.handle_link_event(
        now,
        LinkEvent::Alive {
            node: "b".into(),
            generation: 1,
        },
    );
    let hello = Message::Hello {
        digest: 7,
        incarnation: 1,
        dc: None,
        settling: false,
    }
    .encode()
    .unwrap();
    n.handle_message(now, "b", &hello);
    let ev = events(&mut n)
        .into_iter()
        .find(|e| matches!(e, Event::ConfigMismatch { .. }))
        .expect("mismatch reported");
    let text = ev.to_string();
    assert!(
        text.contains("000000000000002a") && text.contains("0000000000000007"),
        "{text}"
    );
    assert!(text.contains("same configuration files"), "{text}");
    // Its messages are not taken into account.
    let st = Message::Status {
        incarnation: 1,
        probed: true,
        first: true,
        settling: false,
        entries: vec![Entry {
            resource: 0,
            active: true,
            failed: false,
            fail_count: 0,
            last_failure: None,
        }],
    };
    n.handle_message(now, "b", &st.encode().unwrap());
    assert!(n.status().resources[0].running_on.is_empty());
    assert!(!n.status().nodes[1].member);
}

/// The fuzz target's seeds (fuzz/seeds/cluster_message: a sender byte, then
/// a message) decode; IRONBEAT_WRITE_SEEDS=1 regenerates them.
#[test]
fn fuzz_seeds_are_valid_messages() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/cluster_message");
    if std::env::var_os("IRONBEAT_WRITE_SEEDS").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        for (i, m) in samples().iter().enumerate() {
            let mut bytes = vec![(i % 3) as u8];
            bytes.extend(m.encode().unwrap());
            std::fs::write(dir.join(format!("{i:02}-{}.bin", m.kind())), bytes).unwrap();
        }
    }
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).expect("seed directory exists") {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "bin") {
            let bytes = std::fs::read(&path).unwrap();
            assert!(Message::decode(&bytes[1..]).is_ok(), "{}", path.display());
            count += 1;
        }
    }
    assert_eq!(count, samples().len());
}

/// The link lost messages of a peer: we ask it to resend its state, and a
/// peer asked to do so sends its hello and full status.
#[test]
fn lost_messages_are_recovered_by_a_resync() {
    let (mut n, now) = node();
    n.handle_link_event(
        now,
        LinkEvent::Alive {
            node: "b".into(),
            generation: 1,
        },
    );
    while n.poll_message().is_some() {}
    n.handle_link_event(now, LinkEvent::MessagesLost { node: "b".into() });
    let sent: Vec<(Option<String>, Message)> = std::iter::from_fn(|| n.poll_message())
        .map(|(d, b)| (d, Message::decode(&b).unwrap()))
        .collect();
    assert_eq!(sent, vec![(Some("b".to_string()), Message::Resync)]);
    n.handle_message(now, "b", &Message::Resync.encode().unwrap());
    let kinds: Vec<(Option<String>, &'static str)> = std::iter::from_fn(|| n.poll_message())
        .map(|(d, b)| (d, Message::decode(&b).unwrap().kind()))
        .collect();
    assert!(
        kinds.contains(&(Some("b".to_string()), "Hello")),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&(Some("b".to_string()), "Status")),
        "{kinds:?}"
    );
}

/// `Leaving` and `LeavingSeen` out of place: a stranger's is dropped with a
/// reason, an unsolicited answer changes nothing, and a node that is not
/// leaving never may leave.
#[test]
fn leaving_messages_out_of_place_change_nothing() {
    let (mut n, now) = node();
    events(&mut n);
    let leaving = Message::Leaving.encode().unwrap();
    let seen = Message::LeavingSeen.encode().unwrap();
    n.handle_message(now, "zz", &leaving);
    assert_eq!(bad_reasons(&mut n).len(), 1);
    n.handle_message(now, "b", &seen);
    assert!(!n.can_leave(), "not leaving: may not leave");
    // b says it leaves: we answer, and it counts as leaving.
    while n.poll_message().is_some() {}
    n.handle_message(now, "b", &leaving);
    let answers: Vec<_> = std::iter::from_fn(|| n.poll_message()).collect();
    assert!(answers.iter().any(|(to, bytes)| to.as_deref() == Some("b")
        && Message::decode(bytes) == Ok(Message::LeavingSeen)));
    assert!(events(&mut n).contains(&Event::Leaving("b".into())));
    // We leave: not before every member has answered (b and c are not
    // members here, so at once once nothing runs and the probes are in).
    n.leave(now);
    let ops: Vec<_> = std::iter::from_fn(|| n.poll_op()).collect();
    assert!(!n.can_leave(), "probes still under way");
    for op in ops {
        n.handle_op_result(
            now,
            OpResult {
                id: op.id,
                outcome: OpOutcome::NotRunning,
            },
        );
    }
    assert!(n.can_leave());
}
