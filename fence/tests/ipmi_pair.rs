//! The client against ironbeat's own BMC responder (`ipmi::bmc`), both
//! sans-I/O, on one simulated clock and network: cipher suite 17 (which
//! ipmi_sim lacks) end to end, fallback to 3, IPMI 1.5, and a lossy network
//! where retransmits must carry the request through and leave no session
//! behind. ipmi_sim (`ipmi_interop.rs`) is the independent peer; this is the
//! deterministic one.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ironbeat_fence::ipmi::bmc::{BackendError, Bmc, BmcConfig, MemoryPower, PowerBackend, User};
use ironbeat_fence::ipmi::client::{
    CipherPolicy, Client, Config, Outcome, Protocol, SessionProtocol, V15Auth,
};
use ironbeat_fence::ipmi::crypto::{CipherSuite, Secret};
use ironbeat_fence::ipmi::wire::v15::AuthType;
use ironbeat_fence::ipmi::Privilege;
use ironbeat_fence::power::{Action, PowerState};
use ironbeat_fence::{Error, ErrorKind};

const CLIENT: &str = "198.18.11.1:40000";

struct Net {
    /// Drop the n-th datagram (counting both directions) when `drop(n)`.
    drop: fn(usize) -> bool,
    count: usize,
    dropped: usize,
}

fn bmc(suites: Vec<u8>, power: PowerState) -> Bmc<MemoryPower> {
    let mut config = BmcConfig::new(vec![
        User::new("admin", b"labpass", Privilege::Administrator),
        User::new("operator", b"oppass", Privilege::Operator),
    ]);
    config.cipher_suites = suites;
    Bmc::new(config, MemoryPower::new(power), [9; 32]).expect("BMC config")
}

/// Runs one request over the simulated network; returns the result and the
/// simulated time it took.
fn run<P: PowerBackend>(
    bmc: &mut Bmc<P>,
    config: Config,
    net: &mut Net,
) -> (Result<Outcome, Error>, Duration) {
    let from: SocketAddr = CLIENT.parse().unwrap();
    let t0 = Instant::now();
    let mut now = t0;
    let mut client = Client::new(config, now, [5; 32]).expect("client config");
    for _ in 0..10_000 {
        let mut moved = false;
        while let Some(d) = client.poll_transmit() {
            moved = true;
            net.count += 1;
            if (net.drop)(net.count) {
                net.dropped += 1;
                continue;
            }
            bmc.handle_datagram(now, from, &d);
        }
        while let Some(t) = bmc.poll_transmit() {
            moved = true;
            net.count += 1;
            if (net.drop)(net.count) {
                net.dropped += 1;
                continue;
            }
            assert_eq!(t.to, from);
            client.handle_datagram(now, &t.bytes);
        }
        while client.poll_event().is_some() {}
        while bmc.poll_event().is_some() {}
        if let Some(result) = client.poll_outcome() {
            // Let the BMC see any last datagram.
            while let Some(d) = client.poll_transmit() {
                bmc.handle_datagram(now, from, &d);
            }
            return (result, now - t0);
        }
        if moved {
            continue;
        }
        let next = [client.poll_timeout(), bmc.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
            .expect("someone waits for something");
        now = now.max(next);
        client.handle_timeout(now);
        bmc.handle_timeout(now);
    }
    panic!("the simulation did not finish");
}

fn clean() -> Net {
    Net {
        drop: |_| false,
        count: 0,
        dropped: 0,
    }
}

fn admin(action: Action, protocol: Protocol) -> Config {
    let mut c = Config::new("admin", Secret::from("labpass"), action);
    c.protocol = protocol;
    c
}

#[test]
fn suite_17_by_default_then_power_off_and_on() {
    let mut b = bmc(vec![17, 3], PowerState::On);
    let auto = Protocol::LanPlus(CipherPolicy::Auto);
    let (r, _) = run(&mut b, admin(Action::Off, auto), &mut clean());
    let o = r.unwrap();
    assert_eq!(o.session, SessionProtocol::V20(CipherSuite::SUITE_17));
    assert_eq!(
        (o.power, o.off_seen, o.session_closed),
        (PowerState::Off, true, true)
    );
    assert_eq!(b.power().state(), PowerState::Off);
    assert_eq!(b.session_count(), 0);
    let (r, _) = run(&mut b, admin(Action::Reboot, auto), &mut clean());
    assert_eq!(r.unwrap().power, PowerState::On);
    assert_eq!(b.power().state(), PowerState::On);
    assert_eq!(b.session_count(), 0);
}

#[test]
fn a_bmc_without_17_gets_suite_3() {
    let mut b = bmc(vec![3], PowerState::On);
    let (r, _) = run(
        &mut b,
        admin(Action::Status, Protocol::LanPlus(CipherPolicy::Auto)),
        &mut clean(),
    );
    assert_eq!(
        r.unwrap().session,
        SessionProtocol::V20(CipherSuite::SUITE_3)
    );
    // Configured 17 is not replaced silently.
    let fixed = Protocol::LanPlus(CipherPolicy::Fixed(CipherSuite::SUITE_17));
    let (r, _) = run(&mut b, admin(Action::Status, fixed), &mut clean());
    assert_eq!(r.unwrap_err().kind(), ErrorKind::DeviceIncompatible);
    assert_eq!(b.session_count(), 0);
}

#[test]
fn every_suite_and_ipmi15() {
    let mut b = bmc(vec![17, 16, 15, 3, 2, 1], PowerState::On);
    for id in [1, 2, 3, 15, 16, 17] {
        let protocol = Protocol::LanPlus(CipherPolicy::Fixed(CipherSuite::from_id(id).unwrap()));
        let (r, _) = run(&mut b, admin(Action::Reset, protocol), &mut clean());
        let o = r.unwrap_or_else(|e| panic!("suite {id}: {e}"));
        assert_eq!(
            o.session,
            SessionProtocol::V20(CipherSuite::from_id(id).unwrap())
        );
    }
    assert_eq!(b.power().resets(), 6);
    for (auth, want) in [
        (V15Auth::Md5, AuthType::Md5),
        (V15Auth::Password, AuthType::Password),
    ] {
        let (r, _) = run(
            &mut b,
            admin(Action::Off, Protocol::Lan15(auth)),
            &mut clean(),
        );
        assert_eq!(r.unwrap().session, SessionProtocol::V15(want));
        b.power_mut().set_power(PowerState::On).unwrap();
    }
    assert_eq!(b.session_count(), 0);
}

#[test]
fn wrong_password_leaves_no_half_open_session() {
    let mut b = bmc(vec![17, 3], PowerState::On);
    let mut c = admin(Action::Off, Protocol::LanPlus(CipherPolicy::Auto));
    c.password = Secret::from("wrong");
    let (r, took) = run(&mut b, c, &mut clean());
    let e = r.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth);
    assert!(took < Duration::from_millis(10), "{took:?}");
    assert_eq!(b.session_count(), 0, "the RAKP 3 error must free the slot");
    assert_eq!(b.power().state(), PowerState::On);
}

#[test]
fn lost_datagrams_are_retransmitted_within_the_deadline() {
    for (name, drop) in [
        ("every 3rd", (|n| n % 3 == 0) as fn(usize) -> bool),
        ("every 4th", |n| n % 4 == 2),
        ("first 3", |n| n <= 3),
    ] {
        let mut b = bmc(vec![17, 3], PowerState::On);
        let mut net = Net {
            drop,
            count: 0,
            dropped: 0,
        };
        let (r, took) = run(
            &mut b,
            admin(Action::Reboot, Protocol::LanPlus(CipherPolicy::Auto)),
            &mut net,
        );
        let o = r.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(net.dropped > 0);
        assert!(o.retransmits > 0, "{name}");
        assert_eq!((o.power, o.off_seen), (PowerState::On, true), "{name}");
        assert!(took < Duration::from_secs(20), "{name}: {took:?}");
        assert_eq!(b.power().state(), PowerState::On);
        // No session left behind, whether or not the Close Session answer got through.
        assert!(
            b.session_count() <= 1,
            "{name}: {} sessions",
            b.session_count()
        );
        if o.session_closed {
            assert_eq!(b.session_count(), 0, "{name}");
        }
    }
}

#[test]
fn operator_may_fence_but_not_ask_for_administrator() {
    let mut b = bmc(vec![17, 3], PowerState::On);
    let mut c = Config::new("operator", Secret::from("oppass"), Action::Off);
    c.privilege = Privilege::Operator;
    let (r, _) = run(&mut b, c.clone(), &mut clean());
    assert_eq!(r.unwrap().power, PowerState::Off);
    c.privilege = Privilege::Administrator;
    let (r, _) = run(&mut b, c, &mut clean());
    let e = r.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth);
    assert!(e.message().contains("privilege=operator"), "{e}");
    assert_eq!(b.session_count(), 0);
}

#[test]
fn a_bmc_silent_for_five_seconds_is_unreachable() {
    let mut b = bmc(vec![17, 3], PowerState::On);
    // Four tries, each an Open Session Request and a presence ping: all lost.
    let mut net = Net {
        drop: |n| n <= 8,
        count: 0,
        dropped: 0,
    };
    let (r, took) = run(
        &mut b,
        admin(Action::Off, Protocol::LanPlus(CipherPolicy::Auto)),
        &mut net,
    );
    assert_eq!(r.unwrap_err().kind(), ErrorKind::Unreachable);
    assert_eq!(took, Duration::from_secs(5));
    assert_eq!(b.power().state(), PowerState::On);
}

#[test]
fn a_bmc_key_must_be_configured_to_match() {
    let mut config = BmcConfig::new(vec![User::new(
        "admin",
        b"labpass",
        Privilege::Administrator,
    )]);
    config.kg = b"kg-secret".to_vec();
    let mut b = Bmc::new(config, MemoryPower::new(PowerState::On), [9; 32]).unwrap();
    let auto = Protocol::LanPlus(CipherPolicy::Auto);
    let (r, _) = run(&mut b, admin(Action::Status, auto), &mut clean());
    let e = r.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth);
    assert!(e.message().contains("BMC key"), "{e}");
    let mut c = admin(Action::Off, auto);
    c.bmc_key = Some(Secret::from("kg-secret"));
    let (r, _) = run(&mut b, c, &mut clean());
    assert_eq!(r.unwrap().power, PowerState::Off);
}

/// A chassis whose power supply switches off but will not come back on.
struct WontPowerOn(MemoryPower);

impl PowerBackend for WontPowerOn {
    fn power(&mut self) -> Result<PowerState, BackendError> {
        self.0.power()
    }
    fn set_power(&mut self, state: PowerState) -> Result<(), BackendError> {
        match state {
            PowerState::On => Err(BackendError::Failed("power supply fault".into())),
            PowerState::Off => self.0.set_power(state),
        }
    }
    fn hard_reset(&mut self) -> Result<(), BackendError> {
        self.0.hard_reset()
    }
}

#[test]
fn a_reboot_is_one_session_and_fenced_once_off_is_seen() {
    let mut config = BmcConfig::new(vec![User::new(
        "admin",
        b"labpass",
        Privilege::Administrator,
    )]);
    config.cipher_suites = vec![17, 3];
    let mut b = Bmc::new(
        config,
        WontPowerOn(MemoryPower::new(PowerState::On)),
        [9; 32],
    )
    .expect("BMC config");
    let auto = Protocol::LanPlus(CipherPolicy::Auto);
    let (r, _) = run(&mut b, admin(Action::Reboot, auto), &mut clean());
    let o = r.expect("off was seen: the node is fenced");
    assert_eq!(
        (o.power, o.off_seen, o.command_sent),
        (PowerState::Off, true, true)
    );
    let why = o.power_on_failed.expect("the failed on half is reported");
    assert!(why.contains("Chassis Control"), "{why}");
    assert!(o.session_closed);
    assert_eq!(
        b.counters().sessions_opened,
        1,
        "one session for off and on"
    );
    assert_eq!(b.session_count(), 0);

    // A healthy chassis: off, seen off, on, seen on, in one session.
    let mut b = bmc(vec![17], PowerState::On);
    let (r, _) = run(&mut b, admin(Action::Reboot, auto), &mut clean());
    let o = r.unwrap();
    assert_eq!((o.power, o.power_on_failed), (PowerState::On, None));
    assert_eq!(b.counters().sessions_opened, 1);
}
