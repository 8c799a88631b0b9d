//! Hostile input for everything the APC code parses: SNMP messages (captured
//! off snmpd, then truncated, mutated and random), agent responses fed to the
//! fence flow, the credentials file, outlet names and numbers, profile values.
//! Nothing panics; the flow always ends by its deadline; secrets never echo.

use std::time::{Duration, Instant};

use ironbeat_fence::snmp::message::{decode, ErrorStatus};
use ironbeat_fence::snmp::{
    Config, Credentials, Fence, Oid, Op, Outlet, Profile, Request, Response, Usm, Value, Version,
};

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
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn captures() -> Vec<Vec<u8>> {
    let dir = format!("{}/tests/data/snmp", env!("CARGO_MANIFEST_DIR"));
    let mut all = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("capture directory") {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "hex") {
            let text = std::fs::read_to_string(&path).unwrap();
            let text = text.trim();
            all.push(
                (0..text.len())
                    .step_by(2)
                    .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
                    .collect(),
            );
        }
    }
    assert!(all.len() >= 10, "captures missing in {dir}");
    all
}

#[test]
fn decode_survives_truncation_mutation_and_noise() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let caps = captures();
    for c in &caps {
        assert!(decode(c).is_ok());
        for cut in 0..c.len() {
            let _ = decode(&c[..cut]);
        }
        for _ in 0..500 {
            let mut m = c.clone();
            for _ in 0..=rng.below(4) {
                let i = rng.below(m.len());
                m[i] = rng.next() as u8;
            }
            if let Ok(r) = decode(&m) {
                // Whatever decodes displays without control characters.
                let shown = r.to_string();
                assert!(!shown.chars().any(|ch| ch.is_control()), "{shown:?}");
            }
        }
    }
    for _ in 0..5000 {
        let n = rng.below(200);
        let _ = decode(&rng.bytes(n));
    }
    // Length fields claiming more than there is, deep nesting.
    let _ = decode(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]);
    let _ = decode(&[0x30; 4096]);
    let _ = decode(&[0x30, 0x82, 0x01, 0x00, 0x02, 0x01, 0x01, 0x04, 0x00]);
}

fn random_value(rng: &mut Rng, asked: &Oid) -> Value {
    match rng.below(9) {
        0 => Value::Integer(rng.next() as i64),
        1 => Value::Integer(rng.below(5) as i64),
        2 => {
            let n = rng.below(40);
            Value::OctetString(rng.bytes(n))
        }
        3 => Value::ObjectId(asked.child(rng.below(10) as u32)),
        4 => Value::NoSuchInstance,
        5 => Value::EndOfMibView,
        6 => Value::Null,
        7 => Value::OctetString(b"node1".to_vec()),
        _ => Value::Other("Counter32"),
    }
}

fn random_response(rng: &mut Rng, op: &Op) -> Response {
    let asked: Vec<Oid> = match op {
        Op::Get(v) => v.clone(),
        Op::GetNext(o) | Op::Set(o, _) => vec![o.clone()],
        Op::Discover => vec![],
    };
    let mut varbinds: Vec<(Oid, Value)> = asked
        .iter()
        .map(|o| {
            let name = match rng.below(6) {
                0 => o.child(rng.below(3) as u32 + 1),
                1 => ".1.3.6.1.2.1.1.2.0".parse().unwrap(),
                _ => o.clone(),
            };
            let value = random_value(rng, o);
            (name, value)
        })
        .collect();
    if rng.below(8) == 0 {
        varbinds.truncate(rng.below(varbinds.len() + 1));
    }
    Response {
        error_status: ErrorStatus(if rng.below(5) == 0 {
            rng.below(20) as u32
        } else {
            0
        }),
        error_index: rng.below(4) as u32,
        varbinds,
    }
}

#[test]
fn flow_survives_random_agents() {
    let mut rng = Rng(0xfeed_0bad_f00d_0002);
    let requests = [
        Request::Status,
        Request::On,
        Request::Off,
        Request::Reboot,
        Request::List,
        Request::ListStatus,
    ];
    for round in 0..3000 {
        let request = requests[round % requests.len()];
        let outlet = match rng.below(3) {
            0 => Some(Outlet::Number(rng.below(9) as u32 + 1)),
            1 => Some(Outlet::Name("node1".into())),
            _ => None,
        };
        let version = if rng.below(2) == 0 {
            Version::V1
        } else {
            Version::V3(Usm::default())
        };
        let mut config = Config::new(version, Credentials::community("c"), request, outlet);
        config.profile = match rng.below(4) {
            0 => Some(Profile::RackPdu2),
            1 => Some(Profile::MasterSwitch),
            _ => None,
        };
        config.timing.timeout = Duration::from_secs(2);
        let t0 = Instant::now();
        let mut now = t0;
        let mut f = Fence::new(&config, "hostile", t0);
        let mut finished = false;
        for _ in 0..20_000 {
            while let Some(e) = f.poll_event() {
                assert!(!e.text.chars().any(|c| c.is_control()), "{:?}", e.text);
            }
            if f.poll_outcome().is_some() {
                finished = true;
                break;
            }
            assert!(now <= t0 + Duration::from_secs(2), "past the deadline");
            match f.poll_op(now) {
                Some(op) => {
                    now += Duration::from_millis(rng.below(30) as u64);
                    match rng.below(12) {
                        0 => {
                            now = f.poll_timeout().unwrap();
                            f.handle_timeout(now)
                        }
                        1 => f.handle_bad_reply(now, "garbled"),
                        2 => f.handle_network_error(now, "port unreachable"),
                        _ if op == Op::Discover => f.handle_discovered(now),
                        _ => {
                            let r = random_response(&mut rng, &op);
                            f.handle_response(now, r)
                        }
                    }
                }
                None => {
                    let wake = f.poll_timeout().expect("unfinished flows have a timer");
                    now = wake.max(now);
                    f.handle_timeout(now);
                }
            }
        }
        assert!(finished, "round {round}: {request} did not finish");
    }
}

#[test]
fn credentials_file_survives_anything_and_never_echoes() {
    let mut rng = Rng(0xc0ff_ee00_1234_0003);
    let good = "# pdu\ncommunity = \"s3cretcomm\"\nuser = fenceuser\nauth_password = s3cretauth\npriv_password = s3cretpriv\n";
    assert!(Credentials::parse(good).is_ok());
    for _ in 0..5000 {
        let mut b = good.as_bytes().to_vec();
        for _ in 0..=rng.below(6) {
            let i = rng.below(b.len());
            b[i] = match rng.below(4) {
                0 => b'=',
                1 => b'\n',
                2 => b'"',
                _ => rng.next() as u8,
            };
        }
        let text = String::from_utf8_lossy(&b);
        match Credentials::parse(&text) {
            Ok(c) => {
                let dbg = format!("{c:?}");
                let user = c.user.clone().unwrap_or_default();
                for secret in [&c.community, &c.auth_password, &c.priv_password]
                    .into_iter()
                    .flatten()
                {
                    let v = String::from_utf8_lossy(secret.expose()).to_string();
                    if v.len() >= 4 && !user.contains(&v) {
                        assert!(!dbg.contains(&v), "{dbg}");
                    }
                }
            }
            Err(e) => assert!(!e.message().contains("s3cret"), "{}", e.message()),
        }
    }
    for _ in 0..2000 {
        let n = rng.below(300);
        let _ = Credentials::parse(&String::from_utf8_lossy(&rng.bytes(n)));
    }
    assert!(Credentials::parse(&"community = x\n".repeat(400)).is_err());
}

#[test]
fn outlet_and_profile_values_are_bounded() {
    let mut rng = Rng(0xabad_cafe_0000_0004);
    for _ in 0..5000 {
        let n = rng.below(80);
        let s = String::from_utf8_lossy(&rng.bytes(n)).to_string();
        if let Ok(o) = s.parse::<Outlet>() {
            match o {
                Outlet::Number(n) => assert!((1..=1024).contains(&n)),
                Outlet::Name(name) => {
                    assert!(name.len() <= 64 && !name.chars().any(char::is_control))
                }
            }
        }
        let raw = rng.next() as i64;
        for p in Profile::ALL {
            if let Ok(state) = p.decode_state(raw) {
                assert!(raw == 1 || raw == 2, "{p} {raw} -> {state}");
            }
        }
        let _ = s.parse::<Oid>();
        let _ = s.parse::<Profile>();
    }
}
