//! ironbeat-fence's IPMI client against a real BMC implementation: OpenIPMI's
//! `ipmi_sim`, started by each test in its own network namespaces (see
//! `ipmi_sim/lab.rs`), with ipmitool as the independent second client.
//!
//! The simulated machine's power lives in the chassis hook's state file, so
//! every power test checks what the "hardware" saw, not only what we report.

#[path = "ipmi_sim/lab.rs"]
mod lab;

use std::time::{Duration, Instant};

use ironbeat_fence::ipmi::client::{
    CipherPolicy, Config, EventKind, Outcome, Protocol, SessionProtocol, V15Auth,
};
use ironbeat_fence::ipmi::crypto::{CipherSuite, Secret};
use ironbeat_fence::ipmi::wire::v15::AuthType;
use ironbeat_fence::ipmi::Privilege;
use ironbeat_fence::power::{Action, PowerState};
use ironbeat_fence::ErrorKind;
use lab::{Lab, BLACK_HOLE_IP, CLOSED_PORT_IP};

fn config(user: &str, password: &str, action: Action, protocol: Protocol) -> Config {
    let mut c = Config::new(user, Secret::from(password), action);
    c.protocol = protocol;
    c
}

fn suite(id: u8) -> Protocol {
    Protocol::LanPlus(CipherPolicy::Fixed(CipherSuite::from_id(id).unwrap()))
}

fn admin(action: Action, protocol: Protocol) -> Config {
    config("admin", "labpass", action, protocol)
}

fn ok(lab: &Lab, c: Config) -> Outcome {
    let (result, events) = lab.fence(c);
    match result {
        Ok(o) => o,
        Err(e) => {
            for ev in &events {
                eprintln!("{ev}");
            }
            panic!("fence request failed: {e} ({:?})", e.kind());
        }
    }
}

fn ipmitool_status(lab: &Lab) -> String {
    let out = lab.ipmitool(&[
        "-I", "lanplus", "-C", "3", "-U", "admin", "-P", "labpass", "chassis", "power", "status",
    ]);
    assert!(
        out.status.success(),
        "ipmitool failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

#[test]
fn rmcp_plus_suites_1_2_3_read_status() {
    let Some(lab) = Lab::start("rmcp_plus_suites_1_2_3_read_status") else {
        return;
    };
    for id in [1, 2, 3] {
        for on in [true, false] {
            lab.set_power(on);
            let o = ok(&lab, admin(Action::Status, suite(id)));
            assert_eq!(o.power, if on { PowerState::On } else { PowerState::Off });
            assert_eq!(
                o.session,
                SessionProtocol::V20(CipherSuite::from_id(id).unwrap())
            );
            assert!(
                o.session_closed,
                "suite {id}: Close Session must be confirmed"
            );
            assert!(!o.command_sent);
        }
    }
}

#[test]
fn default_policy_falls_back_from_17_to_3() {
    let Some(lab) = Lab::start("default_policy_falls_back_from_17_to_3") else {
        return;
    };
    let (result, events) = lab.fence(admin(Action::Status, Protocol::LanPlus(CipherPolicy::Auto)));
    let o = result.expect("auto policy must fall back to suite 3");
    assert_eq!(o.session, SessionProtocol::V20(CipherSuite::SUITE_3));
    let fallback = events.iter().any(|e| {
        matches!(&e.kind, EventKind::Note(t) if t.contains("cipher suite 17") && t.contains("0x04")
            && t.contains("trying cipher suite 3"))
    });
    assert!(fallback, "no fallback note in {events:#?}");
    // A suite the BMC lacks, configured explicitly, is not silently replaced.
    let (result, _) = lab.fence(admin(Action::Status, suite(17)));
    let e = result.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::DeviceIncompatible);
    assert_eq!(e.code(), Some(0x04));
    assert!(e.message().contains("cipher suite 17"), "{e}");
}

#[test]
fn ipmi15_md5_password_and_none() {
    let Some(lab) = Lab::start("ipmi15_md5_password_and_none") else {
        return;
    };
    for (auth, want) in [
        (V15Auth::Auto, AuthType::Md5),
        (V15Auth::Md5, AuthType::Md5),
        (V15Auth::Password, AuthType::Password),
        (V15Auth::None, AuthType::None),
    ] {
        let o = ok(&lab, admin(Action::Status, Protocol::Lan15(auth)));
        assert_eq!(o.session, SessionProtocol::V15(want));
        assert_eq!(o.power, PowerState::On);
        assert!(o.session_closed);
    }
    // Power control over 1.5 too.
    let o = ok(&lab, admin(Action::Off, Protocol::Lan15(V15Auth::Md5)));
    assert_eq!(o.power, PowerState::Off);
    assert!(!lab.power_on());
}

#[test]
fn wrong_user() {
    let Some(lab) = Lab::start("wrong_user") else {
        return;
    };
    for protocol in [suite(3), Protocol::Lan15(V15Auth::Md5)] {
        let start = Instant::now();
        let (result, _) = lab.fence(config("nobody", "labpass", Action::Status, protocol));
        let e = result.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Auth, "{protocol:?}: {e}");
        assert!(
            e.message().contains("nobody") || e.message().contains("user"),
            "{e}"
        );
        assert!(e.code().is_some(), "{e} carries no raw code");
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );
    }
}

#[test]
fn wrong_password() {
    let Some(lab) = Lab::start("wrong_password") else {
        return;
    };
    // RMCP+: RAKP 2 does not verify; we fail at once and tell the BMC.
    let start = Instant::now();
    let (result, events) = lab.fence(config("admin", "wrong", Action::Off, suite(3)));
    let e = result.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth);
    assert!(e.message().contains("wrong password"), "{e}");
    assert!(start.elapsed() < Duration::from_secs(2));
    assert!(events.iter().any(|e| matches!(&e.kind,
        EventKind::Sent { summary, .. } if summary.contains("RAKP 3: status 0x0f"))));
    assert!(lab.power_on(), "nothing may happen with a wrong password");
    // IPMI 1.5: the BMC drops Activate Session silently; reported as a
    // probable wrong password once the silence limit passes.
    let mut c = config("admin", "wrong", Action::Off, Protocol::Lan15(V15Auth::Md5));
    c.timing.unreachable_after = Duration::from_millis(1500);
    let start = Instant::now();
    let (result, _) = lab.fence(c);
    let e = result.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth);
    assert!(e.message().contains("password"), "{e}");
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(1400) && took < Duration::from_secs(3),
        "{took:?}"
    );
    assert!(lab.power_on());
}

#[test]
fn operator_account() {
    let Some(lab) = Lab::start("operator_account") else {
        return;
    };
    for protocol in [suite(3), Protocol::Lan15(V15Auth::Md5)] {
        let mut c = config("operator", "oppass", Action::Off, protocol);
        c.privilege = Privilege::Operator;
        let o = ok(&lab, c.clone());
        assert_eq!(
            (o.power, o.privilege),
            (PowerState::Off, Privilege::Operator)
        );
        assert!(!lab.power_on());
        c.action = Action::On;
        assert_eq!(ok(&lab, c).power, PowerState::On);
        assert!(lab.power_on());
    }
    // Asking for more than the account may have: refused with the fix.
    let c = config(
        "operator",
        "oppass",
        Action::Off,
        Protocol::Lan15(V15Auth::Md5),
    );
    let (result, _) = lab.fence(c);
    let e = result.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Auth);
    assert!(e.message().contains("privilege=operator"), "{e}");
    assert!(lab.power_on());
    // The viewer account (user privilege) may read the status only.
    let mut c = config("viewer", "viewpass", Action::Status, suite(3));
    c.privilege = Privilege::User;
    assert_eq!(ok(&lab, c.clone()).power, PowerState::On);
    c.action = Action::Off;
    assert_eq!(c.validate().unwrap_err().kind(), ErrorKind::Config);
}

#[test]
fn black_holed_and_closed_port_fail_within_the_deadline() {
    let Some(lab) = Lab::start("black_holed_and_closed_port_fail_within_the_deadline") else {
        return;
    };
    // Default timing: an unreachable BMC is declared failed at 5 s.
    for host in [BLACK_HOLE_IP, CLOSED_PORT_IP] {
        let start = Instant::now();
        let (result, events) = lab.fence_at(host, admin(Action::Off, suite(3)));
        let took = start.elapsed();
        let e = result.unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Unreachable, "{host}: {e}");
        assert!(
            took >= Duration::from_millis(4900) && took < Duration::from_millis(5600),
            "{host}: failed after {took:?}"
        );
        let (mut sent, mut pings) = (0, 0);
        for e in &events {
            if let EventKind::Sent { summary, .. } = &e.kind {
                if summary.starts_with("ASF Presence Ping") {
                    pings += 1;
                } else {
                    sent += 1;
                }
            }
        }
        assert!((3..=6).contains(&sent), "{host}: {sent} datagrams");
        assert_eq!(pings, sent, "{host}: a presence ping beside each try");
        assert!(e.message().contains("presence pings either"), "{e}");
        if host == CLOSED_PORT_IP {
            assert!(e.message().contains("port unreachable"), "{e}");
        }
    }
}

#[test]
fn cipher_suite_zero_is_refused_unless_allowed() {
    let Some(lab) = Lab::start("cipher_suite_zero_is_refused_unless_allowed") else {
        return;
    };
    let c = config("admin", "not-the-password", Action::Status, suite(0));
    let (result, events) = lab.fence(c.clone());
    let e = result.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(e.message().contains("allow_cipher_zero"), "{e}");
    assert!(events.is_empty(), "nothing may be sent");
    // Allowed explicitly, it shows why it is refused: any password works.
    let mut c = c;
    c.allow_cipher_zero = true;
    let (result, events) = lab.fence(c);
    assert_eq!(result.unwrap().power, PowerState::On);
    assert!(events.iter().any(|e| matches!(&e.kind,
        EventKind::Note(t) if t.contains("does not check the password"))));
}

#[test]
fn power_actions_change_the_machine() {
    let Some(lab) = Lab::start("power_actions_change_the_machine") else {
        return;
    };
    let c = |a| admin(a, suite(3));
    // off: seen Off, and the hardware is off.
    let o = ok(&lab, c(Action::Off));
    assert_eq!(
        (o.initial, o.power, o.command_sent, o.off_seen),
        (Some(PowerState::On), PowerState::Off, true, true)
    );
    assert!(!lab.power_on());
    // off again: already off, no command.
    let o = ok(&lab, c(Action::Off));
    assert!(!o.command_sent && o.off_seen);
    // on.
    let o = ok(&lab, c(Action::On));
    assert_eq!((o.power, o.command_sent), (PowerState::On, true));
    assert!(lab.power_on());
    // reboot: off, seen off, on, seen on.
    let before = lab.events().lines().count();
    let o = ok(&lab, c(Action::Reboot));
    assert_eq!((o.power, o.off_seen), (PowerState::On, true));
    assert!(lab.power_on());
    let log: Vec<String> = lab
        .events()
        .lines()
        .skip(before)
        .map(str::to_string)
        .collect();
    assert!(
        log.len() == 2 && log[0].contains("set power 0") && log[1].contains("set power 1"),
        "{log:#?}"
    );
    // reset: one hard reset, power unchanged.
    let before = lab.events().lines().count();
    let o = ok(&lab, c(Action::Reset));
    assert_eq!(o.power, PowerState::On);
    let log: Vec<String> = lab
        .events()
        .lines()
        .skip(before)
        .map(str::to_string)
        .collect();
    assert!(log.len() == 1 && log[0].contains("set reset 1"), "{log:#?}");
    // cycle: ipmi_sim powers off, then on again a second later.
    let before = lab.events().lines().count();
    let o = ok(&lab, c(Action::Cycle));
    assert!(o.command_sent);
    std::thread::sleep(Duration::from_millis(1600));
    assert!(lab.power_on());
    let log: Vec<String> = lab
        .events()
        .lines()
        .skip(before)
        .map(str::to_string)
        .collect();
    assert!(
        log.len() == 2 && log[0].contains("set power 0") && log[1].contains("set power 1"),
        "{log:#?}"
    );
    // status reads what the hardware says.
    lab.set_power(false);
    assert_eq!(ok(&lab, c(Action::Status)).power, PowerState::Off);
    // reboot of a machine that is off: just on.
    let before = lab.events().lines().count();
    let o = ok(&lab, c(Action::Reboot));
    assert_eq!(
        (o.initial, o.power, o.off_seen),
        (Some(PowerState::Off), PowerState::On, true)
    );
    assert_eq!(lab.events().lines().skip(before).count(), 1);
}

#[test]
fn diag_is_reported_unsupported_with_the_raw_code() {
    let Some(lab) = Lab::start("diag_is_reported_unsupported_with_the_raw_code") else {
        return;
    };
    let (result, events) = lab.fence(admin(Action::Diag, suite(3)));
    let e = result.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::DeviceIncompatible);
    assert_eq!(e.code(), Some(0xcc));
    assert!(
        e.message().contains("0xcc") && e.message().contains("diag"),
        "{e}"
    );
    // The session was closed on the error path too.
    assert!(events
        .iter()
        .any(|e| matches!(&e.kind, EventKind::Note(t) if t == "session closed")));
}

#[test]
fn off_that_never_shows_off_times_out_and_says_not_fenced() {
    let Some(lab) = Lab::start("off_that_never_shows_off_times_out_and_says_not_fenced") else {
        return;
    };
    lab.set_stuck(true);
    let mut c = admin(Action::Off, suite(3));
    c.timing.timeout = Duration::from_secs(2);
    let start = Instant::now();
    let (result, events) = lab.fence(c);
    let took = start.elapsed();
    let e = result.unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Timeout);
    assert!(e.message().contains("NOT fenced"), "{e}");
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_millis(2600),
        "{took:?}"
    );
    let polls = events
        .iter()
        .filter(|e| matches!(&e.kind, EventKind::Sent { summary, .. } if summary.contains("Get Chassis Status request")))
        .count();
    assert!(polls >= 5, "only {polls} status polls");
    assert!(lab.power_on());
}

#[test]
fn ipmitool_and_we_agree_on_the_power_state() {
    let Some(lab) = Lab::start("ipmitool_and_we_agree_on_the_power_state") else {
        return;
    };
    ok(&lab, admin(Action::Off, suite(3)));
    assert_eq!(ipmitool_status(&lab), "Chassis Power is off");
    ok(&lab, admin(Action::On, Protocol::Lan15(V15Auth::Md5)));
    assert_eq!(ipmitool_status(&lab), "Chassis Power is on");
    let out = lab.ipmitool(&[
        "-I", "lanplus", "-C", "3", "-U", "admin", "-P", "labpass", "chassis", "power", "off",
    ]);
    assert!(out.status.success());
    assert_eq!(
        ok(&lab, admin(Action::Status, suite(2))).power,
        PowerState::Off
    );
    let out = lab.ipmitool(&[
        "-I", "lan", "-U", "admin", "-P", "labpass", "chassis", "power", "on",
    ]);
    assert!(out.status.success());
    assert_eq!(
        ok(&lab, admin(Action::Status, suite(1))).power,
        PowerState::On
    );
}

#[test]
fn two_hundred_requests_leak_no_session() {
    let Some(lab) = Lab::start("two_hundred_requests_leak_no_session") else {
        return;
    };
    // ipmi_sim allows each user 10 sessions; one leaked per request would lock
    // the account out after 10.
    let protocols = [suite(3), suite(2), suite(1), Protocol::Lan15(V15Auth::Md5)];
    for i in 0..200 {
        let action = if i % 50 == 0 {
            Action::Reset
        } else {
            Action::Status
        };
        let o = ok(&lab, admin(action, protocols[i % protocols.len()]));
        assert!(o.session_closed, "request {i} did not close its session");
    }
    // Failed requests close their sessions too.
    for _ in 0..12 {
        let (result, _) = lab.fence(admin(Action::Diag, suite(3)));
        assert_eq!(result.unwrap_err().code(), Some(0xcc));
    }
    assert_eq!(ipmitool_status(&lab), "Chassis Power is on");
}

#[test]
fn verbose_events_decode_the_exchange_and_never_show_the_password() {
    let Some(lab) = Lab::start("verbose_events_decode_the_exchange_and_never_show_the_password")
    else {
        return;
    };
    for protocol in [
        suite(3),
        Protocol::Lan15(V15Auth::Password),
        Protocol::Lan15(V15Auth::Md5),
    ] {
        let (result, events) = lab.fence(admin(Action::Reboot, protocol));
        result.unwrap();
        let text: Vec<String> = events.iter().map(|e| e.to_string()).collect();
        let all = text.join("\n");
        assert!(!all.contains("labpass"), "password in the log:\n{all}");
        for needle in [
            "Set Session Privilege Level",
            "Chassis Control request power down",
            "power seen off",
            "Chassis Control request power up",
            "Close Session",
        ] {
            assert!(all.contains(needle), "{needle:?} missing from:\n{all}");
        }
        assert!(text.iter().all(|l| !l.contains('\n')), "one line per event");
    }
}

#[path = "ipmi_sim/transcripts.rs"]
mod transcripts;

/// Records each transcript against ipmi_sim and replays it offline: the
/// replay must send exactly the recorded bytes and reach the same outcome.
/// With IBF_RECORD_TRANSCRIPTS=1 the recordings replace the stored ones that
/// `ipmi_hostile.rs` replays without a BMC.
#[test]
fn transcripts_record_and_replay() {
    let Some(lab) = Lab::start("transcripts_record_and_replay") else {
        return;
    };
    let store = std::env::var("IBF_RECORD_TRANSCRIPTS").is_ok_and(|v| v == "1");
    for name in transcripts::NAMES {
        lab.set_power(!name.ends_with("-on"));
        let (result, datagrams) = lab.record(transcripts::config(name), transcripts::seed(name));
        let live = result.unwrap_or_else(|e| panic!("{name}: {e}"));
        let t = transcripts::Transcript {
            name: name.to_string(),
            seed: transcripts::seed(name),
            datagrams,
        };
        let replay = transcripts::replay(&transcripts::Transcript::parse(&t.to_text()), |_, d| {
            vec![d.to_vec()]
        });
        assert!(
            replay.identical,
            "{name}: the replay sent other bytes than the recording"
        );
        let again = replay
            .result
            .unwrap_or_else(|e| panic!("{name} replay: {e}"));
        assert_eq!(
            (again.power, again.off_seen, again.session),
            (live.power, live.off_seen, live.session)
        );
        if store {
            std::fs::create_dir_all(transcripts::dir()).unwrap();
            std::fs::write(transcripts::dir().join(format!("{name}.txt")), t.to_text()).unwrap();
        }
    }
}
