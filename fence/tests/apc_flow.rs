//! The APC fence flow on a fake clock against an in-memory PDU model: what it
//! sends, when it retransmits, and how every limit ends inside one deadline.
//! (The same flow against the real snmpd peer: apc_interop.rs.)

use std::time::{Duration, Instant};

use ironbeat_fence::power::PowerState;
use ironbeat_fence::snmp::message::ErrorStatus;
use ironbeat_fence::snmp::profile::SYS_OBJECT_ID;
use ironbeat_fence::snmp::{
    Config, Credentials, Fence, Oid, Op, Outcome, Outlet, Profile, Request, Response, Usm, Value,
    Version,
};
use ironbeat_fence::{Error, ErrorKind};

struct Model {
    profile: Profile,
    on: Vec<bool>,
    pending: Vec<bool>,
    names: Vec<&'static str>,
    /// Polls a command takes before it shows.
    lag: u32,
    /// (outlet index, polls left, new state)
    changes: Vec<(usize, u32, bool)>,
    /// Outlets that ignore commands.
    stuck: Vec<usize>,
    read_only: bool,
    /// Drop this many requests before answering.
    drop: u32,
    silent: bool,
    sets: Vec<(u32, i64)>,
}

impl Model {
    fn new(profile: Profile) -> Self {
        Model {
            profile,
            on: vec![true; 4],
            pending: vec![false; 4],
            names: vec!["node1", "db1", "node3", "db1"],
            lag: 0,
            changes: Vec::new(),
            stuck: Vec::new(),
            read_only: false,
            drop: 0,
            silent: false,
            sets: Vec::new(),
        }
    }

    fn sys_object_id(&self) -> Oid {
        match self.profile {
            Profile::RackPdu => ".1.3.6.1.4.1.318.1.3.4.5",
            Profile::RackPdu2 => ".1.3.6.1.4.1.318.1.3.4.6",
            Profile::MasterSwitch => ".1.3.6.1.4.1.318.1.3.4.2",
        }
        .parse()
        .unwrap()
    }

    fn state_value(&self, on: bool) -> i64 {
        match (self.profile, on) {
            (Profile::RackPdu2, true) => 2,
            (Profile::RackPdu2, false) => 1,
            (_, true) => 1,
            (_, false) => 2,
        }
    }

    fn value(&self, oid: &Oid) -> Value {
        if oid.arcs() == SYS_OBJECT_ID {
            return Value::ObjectId(self.sys_object_id());
        }
        let index = |col: Oid| {
            oid.index_below(&col)
                .map(|i| i as usize)
                .filter(|&i| (1..=self.on.len()).contains(&i))
        };
        if let Some(i) = index(self.profile.state_column()) {
            return Value::Integer(self.state_value(self.on[i - 1]));
        }
        if let Some(i) = index(self.profile.pending_column()) {
            return Value::Integer(if self.pending[i - 1] { 1 } else { 2 });
        }
        Value::NoSuchInstance
    }

    fn tick(&mut self) {
        for c in &mut self.changes {
            if c.1 > 0 {
                c.1 -= 1;
            }
        }
        let due: Vec<(usize, u32, bool)> =
            self.changes.iter().filter(|c| c.1 == 0).cloned().collect();
        self.changes.retain(|c| c.1 > 0);
        for (i, _, state) in due {
            self.on[i] = state;
            self.pending[i] = false;
        }
    }

    fn answer(&mut self, op: &Op) -> Option<Response> {
        if self.silent {
            return None;
        }
        if self.drop > 0 {
            self.drop -= 1;
            return None;
        }
        let ok = |varbinds| {
            Some(Response {
                error_status: ErrorStatus(0),
                error_index: 0,
                varbinds,
            })
        };
        match op {
            Op::Discover => ok(vec![]),
            Op::Get(oids) => {
                self.tick();
                ok(oids.iter().map(|o| (o.clone(), self.value(o))).collect())
            }
            Op::GetNext(after) => {
                let col = self.profile.name_column();
                let next = (1..=self.names.len() as u32)
                    .map(|i| col.child(i))
                    .find(|o| o > after);
                match next {
                    Some(o) => {
                        let i = o.index_below(&col).unwrap() as usize;
                        ok(vec![(
                            o,
                            Value::OctetString(self.names[i - 1].as_bytes().to_vec()),
                        )])
                    }
                    None => ok(vec![(after.clone(), Value::EndOfMibView)]),
                }
            }
            Op::Set(oid, v) => {
                if self.read_only {
                    return Some(Response {
                        error_status: ErrorStatus::NO_ACCESS,
                        error_index: 1,
                        varbinds: vec![(oid.clone(), Value::Integer(*v))],
                    });
                }
                let i = oid.index_below(&self.profile.command_column()).unwrap() as usize;
                self.sets.push((i as u32, *v));
                if !self.stuck.contains(&(i - 1)) {
                    let state = *v == 1;
                    if self.lag == 0 {
                        self.on[i - 1] = state;
                    } else {
                        self.pending[i - 1] = true;
                        self.changes.push((i - 1, self.lag, state));
                    }
                }
                ok(vec![(oid.clone(), Value::Integer(*v))])
            }
        }
    }
}

/// Runs the flow to its end on a fake clock: each answer takes 1 ms.
fn run(config: &Config, model: &mut Model) -> (Result<Outcome, Error>, Duration, Vec<Op>) {
    let t0 = Instant::now();
    let mut now = t0;
    let mut f = Fence::new(config, "the model PDU", now);
    let mut ops = Vec::new();
    for _ in 0..100_000 {
        while f.poll_event().is_some() {}
        if let Some(r) = f.poll_outcome() {
            return (r, now - t0, ops);
        }
        if let Some(op) = f.poll_op(now) {
            ops.push(op.clone());
            match model.answer(&op) {
                Some(r) => {
                    now += Duration::from_millis(1);
                    if op == Op::Discover {
                        f.handle_discovered(now);
                    } else {
                        f.handle_response(now, r);
                    }
                }
                None => {
                    now = f.poll_timeout().expect("a timer");
                    f.handle_timeout(now);
                }
            }
        } else {
            let wake = f.poll_timeout().expect("a timer");
            assert!(wake >= now, "timer in the past");
            now = wake;
            f.handle_timeout(now);
        }
    }
    panic!("the flow did not finish");
}

fn cfg(request: Request, outlet: &str) -> Config {
    let mut c = Config::new(
        Version::V2c,
        Credentials::community("private"),
        request,
        Some(outlet.parse::<Outlet>().unwrap()),
    );
    c.timing.timeout = Duration::from_secs(5);
    c
}

#[test]
fn off_sends_one_set_and_verifies() {
    for profile in Profile::ALL {
        let mut m = Model::new(profile);
        let (r, _, ops) = run(&cfg(Request::Off, "3"), &mut m);
        let o = r.unwrap();
        assert_eq!(o.power, Some(PowerState::Off), "{profile}");
        assert_eq!(m.sets, vec![(3, 2)]);
        assert!(matches!(ops[0], Op::Get(_)));
        assert!(matches!(ops[2], Op::Set(..)));
        assert_eq!(ops.len(), 4, "{ops:?}");
    }
}

#[test]
fn dual_psu_waits_for_every_outlet() {
    let mut m = Model::new(Profile::RackPdu2);
    m.lag = 3;
    let (r, elapsed, _) = run(&cfg(Request::Off, "db1"), &mut m);
    let o = r.unwrap();
    assert_eq!(
        o.outlets.iter().map(|x| x.number).collect::<Vec<_>>(),
        vec![2, 4]
    );
    assert_eq!(m.sets, vec![(2, 2), (4, 2)]);
    assert!(o.off_seen);
    assert!(elapsed >= Duration::from_millis(400), "polled: {elapsed:?}");
    // One PSU's relay is stuck on: the host is NOT fenced, at the deadline.
    let mut m = Model::new(Profile::RackPdu);
    m.stuck = vec![3];
    let (r, elapsed, _) = run(&cfg(Request::Off, "db1"), &mut m);
    let e = r.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout);
    assert!(
        e.message().contains("NOT fenced") && e.message().contains("4=on"),
        "{e}"
    );
    assert_eq!(elapsed, Duration::from_secs(5));
}

#[test]
fn reboot_is_off_verify_on_and_a_failed_on_still_fences() {
    let mut m = Model::new(Profile::MasterSwitch);
    m.lag = 2;
    let (r, _, _) = run(&cfg(Request::Reboot, "1"), &mut m);
    let o = r.unwrap();
    assert!(o.off_seen && o.power_on_failed.is_none());
    assert_eq!(o.power, Some(PowerState::On));
    assert_eq!(m.sets, vec![(1, 2), (1, 1)]);
    // Off is seen, then the PDU goes silent: a fence, with the failure told.
    let mut m = Model::new(Profile::RackPdu);
    let t0 = Instant::now();
    let mut f = Fence::new(&cfg(Request::Reboot, "1"), "pdu", t0);
    let mut now = t0;
    let mut sets = 0;
    let outcome = loop {
        if let Some(r) = f.poll_outcome() {
            break r;
        }
        match f.poll_op(now) {
            Some(op) => {
                if matches!(op, Op::Set(..)) {
                    sets += 1;
                }
                if sets >= 2 {
                    m.silent = true;
                }
                match m.answer(&op) {
                    Some(r) => f.handle_response(now, r),
                    None => {
                        now = f.poll_timeout().unwrap();
                        f.handle_timeout(now)
                    }
                }
            }
            None => {
                now = f.poll_timeout().unwrap();
                f.handle_timeout(now)
            }
        }
    };
    let o = outcome.unwrap();
    assert!(o.off_seen);
    assert!(o.power_on_failed.is_some());
}

#[test]
fn retransmits_back_off_and_stop_at_the_deadline() {
    let mut m = Model::new(Profile::RackPdu);
    m.silent = true;
    let (r, elapsed, ops) = run(&cfg(Request::Status, "1"), &mut m);
    let e = r.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unreachable);
    assert!(
        e.message().contains("wrong community or unreachable"),
        "{e}"
    );
    assert_eq!(elapsed, Duration::from_secs(5));
    // 0, 0.5, 1.5, 3.5 s: intervals 500 ms doubling to 2 s.
    assert_eq!(ops.len(), 4, "{ops:?}");
    // Two lost requests, then answers: fine, and counted.
    let mut m = Model::new(Profile::RackPdu);
    m.drop = 2;
    let (r, elapsed, _) = run(&cfg(Request::Status, "1"), &mut m);
    let o = r.unwrap();
    assert_eq!(o.retransmits, 2);
    assert!(elapsed >= Duration::from_millis(1500));
}

#[test]
fn read_only_and_missing_outlets_fail_fast() {
    let mut m = Model::new(Profile::RackPdu);
    m.read_only = true;
    let (r, elapsed, _) = run(&cfg(Request::Off, "1"), &mut m);
    let e = r.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth);
    assert!(elapsed < Duration::from_millis(10));
    let mut m = Model::new(Profile::RackPdu2);
    let (r, _, _) = run(&cfg(Request::Off, "9"), &mut m);
    assert!(r.unwrap_err().message().contains("outlet 9 does not exist"));
    let (r, _, _) = run(
        &cfg(Request::Off, "web9"),
        &mut Model::new(Profile::MasterSwitch),
    );
    let e = r.unwrap_err();
    assert!(
        e.message().contains("no outlet") && e.message().contains("2 \"db1\""),
        "{e}"
    );
    assert!(m.sets.is_empty());
}

#[test]
fn names_match_exactly_first_then_loosely() {
    let mut m = Model::new(Profile::RackPdu);
    m.names = vec!["Node 1", "node_1", "x", "y"];
    let (r, _, _) = run(&cfg(Request::Status, "node_1"), &mut m);
    assert_eq!(
        r.unwrap()
            .outlets
            .iter()
            .map(|o| o.number)
            .collect::<Vec<_>>(),
        vec![2]
    );
    let (r, _, _) = run(&cfg(Request::Status, "NODE_1"), &mut m);
    assert_eq!(
        r.unwrap()
            .outlets
            .iter()
            .map(|o| o.number)
            .collect::<Vec<_>>(),
        vec![1, 2]
    );
}

#[test]
fn power_wait_and_v3_discovery_and_auth_failure() {
    let mut c = cfg(Request::On, "1");
    c.version = Version::V3(Usm::default());
    c.credentials = Credentials::usm("u", "authpass1", Some("privpass1"));
    c.timing.power_wait = Duration::from_secs(2);
    let mut m = Model::new(Profile::RackPdu);
    m.on[0] = false;
    let (r, elapsed, ops) = run(&c, &mut m);
    assert!(r.is_ok());
    assert_eq!(ops[0], Op::Discover);
    assert!(elapsed >= Duration::from_secs(2));
    // power_wait never outlives the deadline.
    c.timing.power_wait = Duration::from_secs(60);
    m.on[0] = false;
    let (r, elapsed, _) = run(&c, &mut m);
    assert!(r.is_ok());
    assert_eq!(elapsed, Duration::from_secs(5));
    let t0 = Instant::now();
    let mut f = Fence::new(&c, "pdu", t0);
    assert_eq!(f.poll_op(t0), Some(Op::Discover));
    f.handle_discovered(t0);
    assert!(matches!(f.poll_op(t0), Some(Op::Get(_))));
    f.handle_auth_failure(t0, "HMAC signature mismatch");
    let e = f.poll_outcome().unwrap().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth);
    assert!(e.message().contains("auth_password"));
}

#[test]
fn stale_replies_are_bounded() {
    let t0 = Instant::now();
    let mut f = Fence::new(&cfg(Request::Status, "1"), "pdu", t0);
    for _ in 0..40 {
        if f.poll_op(t0).is_none() {
            break;
        }
        f.handle_bad_reply(t0, "request id mismatch");
    }
    let e = f.poll_outcome().unwrap().unwrap_err();
    assert_eq!(e.kind(), ErrorKind::DeviceMisbehaved);
}

#[test]
fn list_status_reads_in_chunks() {
    let mut m = Model::new(Profile::RackPdu);
    m.names = (0..40)
        .map(|i| &*Box::leak(format!("o{i}").into_boxed_str()))
        .collect();
    m.on = vec![true; 40];
    m.pending = vec![false; 40];
    m.on[33] = false;
    let mut c = cfg(Request::ListStatus, "1");
    c.outlet = None;
    let (r, _, ops) = run(&c, &mut m);
    let o = r.unwrap();
    assert_eq!(o.outlets.len(), 40);
    assert_eq!(o.outlets[33].power, Some(PowerState::Off));
    assert_eq!(
        ops.iter()
            .filter(|op| matches!(op, Op::Get(v) if v.len() > 1))
            .count(),
        3
    );
}
