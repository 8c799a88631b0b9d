//! The Redfish HTTP codec and JSON handling against bytes captured from the
//! real peers (sushy-tools 2.2.0 and our minibmc fixture, captured with
//! hw-tests/fixtures/redfish/capture.py into tests/data/redfish/), and
//! against hostile input: truncations, mutations, random bytes, and a client
//! state machine fed garbage. Nothing may panic; every run must end.

use std::path::Path;
use std::time::{Duration, Instant};

use ironbeat_fence::ipmi::crypto::Secret;
use ironbeat_fence::power::{Action, PowerState};
use ironbeat_fence::redfish::http::{parse_at_eof, parse_response, Parse, Response};
use ironbeat_fence::redfish::resource::{self, RedfishPower};
use ironbeat_fence::redfish::{Client, Config, Vendor};

fn capture(name: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/redfish")
        .join(name);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn all_captures() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/redfish");
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    v.sort();
    assert!(v.len() >= 15, "captures missing");
    v
}

/// The captures use `Connection: close`; sushy also sends no length on 204.
fn parse(raw: &[u8]) -> Response {
    match parse_response(raw, false).unwrap() {
        Parse::Complete { response, consumed } => {
            assert_eq!(consumed, raw.len());
            response
        }
        Parse::Incomplete => parse_at_eof(raw, false).unwrap(),
    }
}

#[test]
fn captured_responses_parse_to_what_the_peers_sent() {
    let expect = [
        ("idrac-reset-forceoff-204.http", 204),
        ("idrac-reset-on-when-on-409.http", 409),
        ("idrac-system-off.http", 200),
        ("idrac-systems-2-members.http", 200),
        ("ilo-401.http", 401),
        ("ilo-503-not-ready.http", 503),
        ("ilo-reset-bad-type-400.http", 400),
        ("ilo-reset-forceoff-200.http", 200),
        ("ilo-reset-on-when-on-400.http", 400),
        ("ilo-root.http", 200),
        ("ilo-session-201.http", 201),
        ("ilo-system-off.http", 200),
        ("ilo-system-on.http", 200),
        ("sushy-401.http", 401),
        ("sushy-reset-forceoff.http", 204),
        ("sushy-reset-powercycle-501.http", 501),
        ("sushy-root.http", 200),
        ("sushy-system-on.http", 200),
        ("sushy-systems.http", 200),
    ];
    for (name, status) in expect {
        let r = parse(&capture(name));
        assert_eq!(r.status, status, "{name}");
        // Werkzeug (sushy) answers `Connection: close`; minibmc keeps HTTP/1.1 alive.
        assert_eq!(r.keep_alive, !name.starts_with("sushy"), "{name}");
    }
    let ilo_on = resource::parse_system(&parse(&capture("ilo-system-on.http")).body).unwrap();
    assert_eq!(ilo_on.power, RedfishPower::On);
    assert_eq!(
        ilo_on.reset_target.as_deref(),
        Some("/redfish/v1/Systems/1/Actions/ComputerSystem.Reset")
    );
    assert!(ilo_on
        .allowed
        .as_ref()
        .unwrap()
        .iter()
        .any(|v| v == "ForceOff"));
    assert!(!ilo_on.allowed.unwrap().iter().any(|v| v == "PowerCycle"));
    let idrac_off = resource::parse_system(&parse(&capture("idrac-system-off.http")).body).unwrap();
    assert_eq!(idrac_off.power.report(), PowerState::Off);
    let sushy = resource::parse_system(&parse(&capture("sushy-system-on.http")).body).unwrap();
    assert_eq!(sushy.power, RedfishPower::On);
    assert!(sushy
        .reset_target
        .unwrap()
        .ends_with("/Actions/ComputerSystem.Reset"));

    let members =
        resource::parse_members(&parse(&capture("idrac-systems-2-members.http")).body).unwrap();
    assert_eq!(
        members,
        vec![
            "/redfish/v1/Systems/System.Embedded.1",
            "/redfish/v1/Systems/System.Embedded.1-2"
        ]
    );
    let members = resource::parse_members(&parse(&capture("sushy-systems.http")).body).unwrap();
    assert_eq!(
        members,
        vec!["/redfish/v1/Systems/27946b59-9e44-4fa7-8e91-f3527a1ef094"]
    );

    let root = resource::parse_root(&parse(&capture("sushy-root.http")).body).unwrap();
    assert_eq!(
        (root.systems.as_deref(), root.sessions.as_deref()),
        (Some("/redfish/v1/Systems"), None)
    );
    let root = resource::parse_root(&parse(&capture("ilo-root.http")).body).unwrap();
    assert_eq!(
        root.sessions.as_deref(),
        Some("/redfish/v1/SessionService/Sessions")
    );

    let ids = |n: &str| resource::message_ids(&parse(&capture(n)).body);
    assert_eq!(
        ids("ilo-reset-on-when-on-400.http"),
        vec!["iLO.2.14.InvalidOperationForSystemState"]
    );
    assert_eq!(
        ids("idrac-reset-on-when-on-409.http"),
        vec!["IDRAC.2.8.PSU501"]
    );
    assert_eq!(ids("ilo-401.http"), vec!["Base.1.4.NoValidSession"]);
    assert_eq!(
        ids("ilo-503-not-ready.http"),
        vec!["Base.1.8.ServiceTemporarilyUnavailable"]
    );
    assert_eq!(
        ids("ilo-reset-bad-type-400.http"),
        vec!["Base.1.8.ActionParameterValueNotInList"]
    );
    assert_eq!(ids("sushy-401.http"), vec!["Base.1.0.GeneralError"]);
    let session = parse(&capture("ilo-session-201.http"));
    assert_eq!(session.header("x-auth-token").map(str::len), Some(32));
    assert!(session
        .header("Location")
        .unwrap()
        .starts_with("/redfish/v1/SessionService/Sessions/"));
}

#[test]
fn keep_alive_stream_of_captured_responses_splits_exactly() {
    // Two responses back to back (as on a kept-alive connection), the first
    // rewritten to keep-alive framing.
    let first = String::from_utf8(capture("ilo-system-on.http"))
        .unwrap()
        .replace("Connection: close\r\n", "");
    let mut stream = first.clone().into_bytes();
    stream.extend_from_slice(&capture("idrac-reset-forceoff-204.http"));
    match parse_response(&stream, false).unwrap() {
        Parse::Complete { response, consumed } => {
            assert_eq!(consumed, first.len());
            assert_eq!(response.status, 200);
            let rest = parse(&stream[consumed..]);
            assert_eq!(rest.status, 204);
        }
        Parse::Incomplete => panic!("first response incomplete"),
    }
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn exercise(bytes: &[u8]) {
    let _ = parse_response(bytes, false);
    let _ = parse_response(bytes, true);
    let _ = parse_at_eof(bytes, false);
    let _ = resource::parse_root(bytes);
    let _ = resource::parse_members(bytes);
    let _ = resource::parse_system(bytes);
    let _ = resource::message_ids(bytes);
    let _ = resource::error_message(bytes);
}

#[test]
fn truncations_and_mutations_never_panic() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for (name, raw) in all_captures() {
        for cut in 0..=raw.len() {
            let part = &raw[..cut];
            exercise(part);
            if cut < raw.len() {
                // A strict prefix is never a different complete response.
                if let Ok(Parse::Complete { consumed, .. }) = parse_response(part, false) {
                    assert!(consumed <= cut, "{name} cut {cut}");
                }
            }
        }
        let body_at = raw
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(0, |p| p + 4);
        let body = &raw[body_at..];
        for _ in 0..1500 {
            let mut m = raw.clone();
            for _ in 0..1 + rng.below(4) {
                let i = rng.below(m.len());
                match rng.below(4) {
                    0 => m[i] = rng.next() as u8,
                    1 => m[i] ^= 1 << rng.below(8),
                    2 => {
                        m.insert(i, b"\r\n:0{}\"[]-9,"[rng.below(12)]);
                    }
                    _ => {
                        m.remove(i);
                    }
                }
                if m.is_empty() {
                    break;
                }
            }
            exercise(&m);
            let mut b = body.to_vec();
            if !b.is_empty() {
                let i = rng.below(b.len());
                b[i] = b"{}[]\",:0aZ\\"[rng.below(11)];
                exercise(&b);
            }
        }
    }
    for _ in 0..20_000 {
        let len = rng.below(300);
        let mut v: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        if rng.below(2) == 0 {
            let mut h = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
            h.extend(v.iter().map(|b| b"0123456789abcdef\r\n;"[*b as usize % 19]));
            v = h;
        }
        exercise(&v);
    }
}

#[test]
fn limits_hold_against_oversized_peers() {
    let mut huge = b"HTTP/1.1 200 OK\r\nContent-Length: 99999999\r\n\r\n".to_vec();
    assert!(parse_response(&huge, false).is_err());
    huge = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..300 {
        huge.extend_from_slice(b"1000\r\n");
        huge.extend(std::iter::repeat(b'x').take(0x1000));
        huge.extend_from_slice(b"\r\n");
    }
    assert!(
        parse_response(&huge, false).is_err(),
        "chunked body above 1 MiB refused"
    );
    let mut many = b"HTTP/1.1 200 OK\r\n".to_vec();
    for i in 0..100 {
        many.extend_from_slice(format!("X-H{i}: v\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    assert!(parse_response(&many, false).is_err());
    let mut members = String::from("{\"Members\":[");
    for i in 0..1000 {
        members.push_str(&format!("{{\"@odata.id\":\"/redfish/v1/Systems/{i}\"}},"));
    }
    members.push_str("{}]}");
    assert!(resource::parse_members(members.as_bytes()).is_err());
}

/// A client fed random (often captured, often mangled) responses always ends,
/// within its deadline, without panicking.
#[test]
fn client_fed_garbage_always_ends() {
    let caps: Vec<Response> = all_captures().iter().map(|(_, raw)| parse(raw)).collect();
    let mut rng = Rng(42);
    for round in 0..3000 {
        let action = [
            Action::Status,
            Action::On,
            Action::Off,
            Action::Reboot,
            Action::Cycle,
            Action::Diag,
        ][round % 6];
        let vendor = [Vendor::Generic, Vendor::Ilo, Vendor::Idrac][round % 3];
        let mut cfg = Config::new(vendor, "u", Secret::from("p"), action);
        cfg.timing.timeout = Duration::from_secs(5);
        if round % 5 == 0 {
            cfg.systems_uri = None;
        }
        let t0 = Instant::now();
        let mut now = t0;
        let mut c = Client::new(cfg, t0).unwrap();
        let mut ended = false;
        for _ in 0..400 {
            while c.poll_event().is_some() {}
            if let Some(o) = c.poll_outcome() {
                if let Ok(o) = &o {
                    // Off and reboot are never reported done without Off seen.
                    if matches!(action, Action::Off | Action::Reboot) {
                        assert!(o.off_seen, "{o:?}");
                    }
                }
                ended = true;
                break;
            }
            if c.poll_request().is_some() {
                let mut r = caps[rng.below(caps.len())].clone();
                if rng.below(3) == 0 {
                    r.status = [200, 201, 204, 400, 401, 404, 409, 500, 503][rng.below(9)];
                }
                if rng.below(3) == 0 && !r.body.is_empty() {
                    let i = rng.below(r.body.len());
                    r.body[i] = rng.next() as u8;
                }
                if rng.below(4) == 0 {
                    r.headers.push(("X-Auth-Token".into(), "tok".into()));
                    r.headers.push((
                        "Location".into(),
                        "/redfish/v1/SessionService/Sessions/1".into(),
                    ));
                }
                c.handle_response(now, &r);
            } else if let Some(t) = c.poll_timeout() {
                assert!(t <= t0 + Duration::from_secs(5));
                now = t.max(now);
                c.handle_timeout(now);
            } else {
                panic!("neither request, timeout nor outcome");
            }
        }
        assert!(ended, "round {round} never ended");
    }
}
