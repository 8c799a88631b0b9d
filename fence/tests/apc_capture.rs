//! SNMP responses captured off net-snmp's snmpd serving the APC PDU simulator
//! (fence/tests/data/snmp/capture.sh): decoded field by field, then replayed
//! into the fence flow as the answers to the operations it asks for.

use std::time::{Duration, Instant};

use ironbeat_fence::power::PowerState;
use ironbeat_fence::snmp::message::{decode, ErrorStatus};
use ironbeat_fence::snmp::{
    Config, Credentials, Fence, Op, Outlet, Profile, Request, Response, Value, Version,
};
use ironbeat_fence::ErrorKind;

fn capture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/data/snmp/{name}.hex", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let text = text.trim();
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

fn response(name: &str) -> Response {
    decode(&capture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn oid(s: &str) -> ironbeat_fence::snmp::Oid {
    s.parse().unwrap()
}

#[test]
fn decode_captured_responses() {
    let r = response("v1_sysobjectid");
    assert_eq!(r.error_status, ErrorStatus(0));
    assert_eq!(
        r.varbinds,
        vec![(
            oid(".1.3.6.1.2.1.1.2.0"),
            Value::ObjectId(oid(".1.3.6.1.4.1.318.1.3.4.5"))
        )]
    );

    let r = response("v1_state_pending");
    assert_eq!(
        r.varbinds,
        vec![
            (
                oid(".1.3.6.1.4.1.318.1.1.12.3.5.1.1.4.1"),
                Value::Integer(1)
            ),
            (
                oid(".1.3.6.1.4.1.318.1.1.12.3.5.1.1.5.1"),
                Value::Integer(2)
            ),
        ]
    );
    let r = response("v1_state_pending_off");
    assert_eq!(r.varbinds[0].1, Value::Integer(2));

    let r = response("v1_nosuchname");
    assert_eq!(r.error_status, ErrorStatus::NO_SUCH_NAME);
    assert_eq!(r.error_index, 2);

    let r = response("v2c_nosuchinstance");
    assert_eq!(r.error_status, ErrorStatus(0));
    assert_eq!(r.varbinds[0].1, Value::NoSuchInstance);
    assert_eq!(r.varbinds[1].1, Value::NoSuchInstance);

    let r = response("v2c_noaccess");
    assert_eq!(r.error_status, ErrorStatus::NO_ACCESS);
    assert_eq!(r.error_index, 1);
    assert_eq!(r.error_status.to_string(), "noAccess(6)");

    assert_eq!(
        response("v2c_wrongvalue").error_status,
        ErrorStatus::WRONG_VALUE
    );

    let r = response("v2c_walk_first");
    assert_eq!(
        r.varbinds,
        vec![(
            oid(".1.3.6.1.4.1.318.1.1.12.3.5.1.1.2.1"),
            Value::OctetString(b"node1".to_vec())
        )]
    );
    assert_eq!(
        response("v2c_end_of_mib").varbinds[0].1,
        Value::EndOfMibView
    );

    // rPDU2: outlet 2 was switched off; its state reads 1 (off), not 2.
    let r = response("rpdu2_states");
    assert_eq!(
        r.varbinds[0],
        (
            oid(".1.3.6.1.4.1.318.1.1.26.9.2.3.1.5.2"),
            Value::Integer(1)
        )
    );
    assert_eq!(Profile::RackPdu2.decode_state(1).unwrap(), PowerState::Off);
    assert_eq!(
        response("rpdu2_sysobjectid").varbinds[0].1,
        Value::ObjectId(oid(".1.3.6.1.4.1.318.1.3.4.6"))
    );
}

/// Drives a flow whose every operation is answered by the next capture.
fn replay(
    config: &Config,
    answers: &[&str],
) -> (
    Vec<Op>,
    Result<ironbeat_fence::snmp::Outcome, ironbeat_fence::Error>,
) {
    let t0 = Instant::now();
    let mut f = Fence::new(config, "the captured PDU", t0);
    let mut ops = Vec::new();
    let mut answers = answers.iter();
    for _ in 0..32 {
        if let Some(r) = f.poll_outcome() {
            return (ops, r);
        }
        let op = f.poll_op(t0).expect("an operation");
        ops.push(op);
        let name = answers
            .next()
            .expect("the flow asked for more than was captured");
        f.handle_response(t0, response(name));
    }
    panic!("no outcome");
}

fn config(request: Request, outlet: &str) -> Config {
    let mut c = Config::new(
        Version::V1,
        Credentials::community("private"),
        request,
        Some(outlet.parse::<Outlet>().unwrap()),
    );
    c.timing.timeout = Duration::from_secs(5);
    c
}

#[test]
fn replay_off_by_number() {
    let (ops, r) = replay(
        &config(Request::Off, "1"),
        &[
            "v1_sysobjectid",
            "v1_state_pending",
            "v1_set_off",
            "v1_state_pending_off",
        ],
    );
    let o = r.unwrap();
    assert_eq!(o.profile, Profile::RackPdu);
    assert_eq!(o.power, Some(PowerState::Off));
    assert!(o.off_seen);
    assert_eq!(o.commands_sent, 1);
    assert_eq!(
        ops[2],
        Op::Set(oid(".1.3.6.1.4.1.318.1.1.12.3.3.1.1.4.1"), 2)
    );
}

#[test]
fn replay_errors() {
    let (_, r) = replay(
        &config(Request::Status, "99"),
        &["v1_sysobjectid", "v1_nosuchname"],
    );
    let e = r.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(e.message().contains("outlet 99 does not exist"), "{e}");

    let (_, r) = replay(
        &config(Request::Status, "99"),
        &["v1_sysobjectid", "v2c_nosuchinstance"],
    );
    assert!(r.unwrap_err().message().contains("noSuchInstance"));

    let (_, r) = replay(
        &config(Request::On, "1"),
        &["v1_sysobjectid", "v1_state_pending_off", "v2c_noaccess"],
    );
    let e = r.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth);
    assert_eq!(e.code(), Some(6));
    assert!(e.message().contains("read-write"), "{e}");

    let (_, r) = replay(
        &config(Request::On, "1"),
        &["v1_sysobjectid", "v1_state_pending_off", "v2c_wrongvalue"],
    );
    assert_eq!(r.unwrap_err().kind(), ErrorKind::DeviceIncompatible);

    // The answer to another request (state instead of sysObjectID): refused.
    let (_, r) = replay(&config(Request::Status, "1"), &["v1_state_pending"]);
    assert_eq!(r.unwrap_err().kind(), ErrorKind::DeviceMisbehaved);
}

#[test]
fn replay_rpdu2_identification() {
    let (ops, r) = replay(
        &config(Request::Status, "2"),
        &["rpdu2_sysobjectid", "rpdu2_states"],
    );
    let o = r.unwrap();
    assert_eq!(o.profile, Profile::RackPdu2);
    assert_eq!(o.power, Some(PowerState::Off));
    assert_eq!(
        ops[1],
        Op::Get(vec![
            oid(".1.3.6.1.4.1.318.1.1.26.9.2.3.1.5.2"),
            oid(".1.3.6.1.4.1.318.1.1.26.9.2.3.1.6.2")
        ])
    );
}
