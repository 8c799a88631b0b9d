//! Redfish fencing against real peers on loopback, started by each test:
//! our minibmc fixture (iLO and iDRAC personalities, hw-tests/fixtures/redfish)
//! and OpenStack sushy-tools `--fake`; `fence_redfish` (Debian fence-agents)
//! runs against the same emulators and must agree with us.
//!
//! Needs python3 and openssl; the sushy tests need the venv made by
//! scripts/install-test-deps.sh, fence_redfish the fence-agents package. A
//! missing peer prints `SKIPPED: <test>: why` (and fails under CI=true).

use std::time::{Duration, Instant};

use ironbeat_fence::driver::redfish::{
    parse_fingerprint, run_blocking, run_with_events, RedfishRequest, TlsMode,
};
use ironbeat_fence::ipmi::crypto::Secret;
use ironbeat_fence::power::{Action, PowerState};
use ironbeat_fence::redfish::{Auth, Config, Outcome, ResetType, Vendor};
use ironbeat_fence::{Error, ErrorKind};
use ironbeat_hw_tests::env;
use ironbeat_hw_tests::redfish::{
    fence_redfish, sushy_available, BlackHole, LabCerts, MiniBmc, MiniBmcSpec, SilentListener,
    Sushy, SUSHY_PASSWORD, SUSHY_USER,
};
use ironbeat_hw_tests::Scratch;

fn can_run(test: &str, tools: &[&str]) -> bool {
    let missing: Vec<&&str> = tools.iter().filter(|t| !env::has_tool(t)).collect();
    if missing.is_empty() {
        return true;
    }
    let why = format!("missing tools: {missing:?} (scripts/install-test-deps.sh installs them)");
    if env::required() {
        panic!("{test}: {why}");
    }
    eprintln!("SKIPPED: {test}: {why}");
    false
}

fn sushy_ok(test: &str) -> bool {
    if sushy_available() {
        return true;
    }
    let why = "sushy-tools is not installed in the test venv (scripts/install-test-deps.sh)";
    if env::required() {
        panic!("{test}: {why}");
    }
    eprintln!("SKIPPED: {test}: {why}");
    false
}

fn req(bmc: &MiniBmc, tls: TlsMode, vendor: Vendor, action: Action) -> RedfishRequest {
    let mut config = Config::new(
        vendor,
        bmc.spec.user.clone(),
        Secret::from(bmc.spec.password.as_str()),
        action,
    );
    config.timing.timeout = Duration::from_secs(10);
    config.timing.poll_interval = Duration::from_millis(50);
    config.timing.retry_interval = Duration::from_millis(100);
    let plain = tls == TlsMode::PlainHttp;
    RedfishRequest {
        host: "127.0.0.1".into(),
        port: if plain { bmc.http_port } else { bmc.https_port },
        tls,
        config,
        verbose: false,
    }
}

fn with_action(mut r: RedfishRequest, action: Action) -> RedfishRequest {
    r.config.action = action;
    r
}

fn ok(r: RedfishRequest) -> Outcome {
    let what = format!("{} {}", r.config.vendor.name(), r.config.action);
    run_blocking(r).unwrap_or_else(|e| panic!("{what}: {e} ({:?})", e.kind()))
}

fn err(r: RedfishRequest) -> Error {
    match run_blocking(r) {
        Ok(o) => panic!("expected an error, got {o}"),
        Err(e) => e,
    }
}

#[test]
fn ilo_factory_cert_needs_pinning_and_session_reboot_verifies_off() {
    if !can_run(
        "ilo_factory_cert_needs_pinning_and_session_reboot_verifies_off",
        &["python3", "openssl"],
    ) {
        return;
    }
    let s = Scratch::new("rf-ilo").unwrap();
    let certs = LabCerts::generate(s.path()).unwrap();
    let bmc = MiniBmc::start(
        &s,
        "ilo",
        MiniBmcSpec::vendor("ilo")
            .tls(&certs.nosan_cert, &certs.nosan_key)
            .args(&["--off-delay", "0.3", "--on-delay", "0.2"]),
    )
    .unwrap();

    // A cert without subjectAltName fails verification even with itself as the CA.
    let e = err(req(
        &bmc,
        TlsMode::Verify(Some(certs.nosan_cert.clone())),
        Vendor::Ilo,
        Action::Status,
    ));
    assert_eq!(e.kind(), ErrorKind::Config, "{e}");
    assert!(e.message().contains("ssl_fingerprint"), "{e}");
    // The wrong pin names the presented fingerprint.
    let e = err(req(
        &bmc,
        TlsMode::Pinned([7; 32]),
        Vendor::Ilo,
        Action::Status,
    ));
    let fp = LabCerts::fingerprint(&certs.nosan_cert).unwrap();
    assert!(e.message().contains(&fp), "{e} should show {fp}");

    let pinned = TlsMode::Pinned(parse_fingerprint(&fp).unwrap());
    let base = req(&bmc, pinned, Vendor::Ilo, Action::Status);
    let o = ok(base.clone());
    assert_eq!(
        (o.power, o.auth, o.session_closed),
        (PowerState::On, Auth::Session, true)
    );
    assert_eq!(o.system_uri, "/redfish/v1/Systems/1");

    let t = Instant::now();
    let o = ok(with_action(base.clone(), Action::Reboot));
    assert!(o.off_seen && o.power == PowerState::On, "{o:?}");
    assert_eq!(o.resets_sent, vec![ResetType::ForceOff, ResetType::On]);
    assert!(
        t.elapsed() >= Duration::from_millis(500),
        "reboot must wait for Off and On"
    );
    assert_eq!(bmc.power().unwrap(), "On");

    let o = ok(with_action(base.clone(), Action::Off));
    assert!(o.off_seen && o.command_sent);
    assert_eq!(bmc.power().unwrap(), "Off");
    // Off when off: nothing sent.
    let o = ok(with_action(base.clone(), Action::Off));
    assert!(!o.command_sent && o.power == PowerState::Off);
    let o = ok(with_action(base, Action::On));
    assert_eq!(o.power, PowerState::On);
    assert_eq!(bmc.sessions().unwrap(), 0, "every session deleted");
    let events = bmc.events();
    assert!(events.contains("\"reset\": \"ForceOff\""), "{events}");
}

#[test]
fn idrac_ca_verified_204_and_409_noop_only_when_state_agrees() {
    if !can_run(
        "idrac_ca_verified_204_and_409_noop_only_when_state_agrees",
        &["python3", "openssl"],
    ) {
        return;
    }
    let s = Scratch::new("rf-idrac").unwrap();
    let certs = LabCerts::generate(s.path()).unwrap();
    let bmc = MiniBmc::start(
        &s,
        "idrac",
        MiniBmcSpec::vendor("idrac").tls(&certs.signed_cert, &certs.signed_key),
    )
    .unwrap();
    let base = req(
        &bmc,
        TlsMode::Verify(Some(certs.ca.clone())),
        Vendor::Idrac,
        Action::Off,
    );
    let o = ok(base.clone());
    assert!(o.off_seen);
    assert_eq!(o.system_uri, "/redfish/v1/Systems/System.Embedded.1");
    // Unknown CA: refused.
    let e = err(req(
        &bmc,
        TlsMode::Verify(Some(certs.nosan_cert.clone())),
        Vendor::Idrac,
        Action::Status,
    ));
    assert_eq!(e.kind(), ErrorKind::Config);

    // A stale read says On; ForceOff answers 409 PSU501; the next read agrees (Off).
    bmc.configure(r#"{"stale_reads": 1}"#).unwrap();
    let o = ok(base.clone());
    assert_eq!((o.power, o.command_sent), (PowerState::Off, true));
    // Two stale reads: the confirming read disagrees -> refused, with the MessageId.
    bmc.configure(r#"{"stale_reads": 2}"#).unwrap();
    let e = err(base.clone());
    assert_eq!(e.kind(), ErrorKind::DeviceMisbehaved);
    assert!(e.message().contains("PSU501"), "{e}");
    assert_eq!(bmc.sessions().unwrap(), 0);
}

#[test]
fn ilo_400_invalid_operation_is_benign_when_confirmed() {
    if !can_run(
        "ilo_400_invalid_operation_is_benign_when_confirmed",
        &["python3"],
    ) {
        return;
    }
    let s = Scratch::new("rf-ilo400").unwrap();
    let bmc = MiniBmc::start(&s, "ilo", MiniBmcSpec::vendor("ilo")).unwrap();
    bmc.configure(r#"{"stale_reads": 1}"#).unwrap();
    let o = ok(req(&bmc, TlsMode::PlainHttp, Vendor::Ilo, Action::On));
    assert_eq!(
        (o.power, o.resets_sent.as_slice()),
        (PowerState::On, &[ResetType::On][..])
    );
    // The BMC refused the On as a no-op (no reset counted); the read confirmed On.
    let state = bmc.state().unwrap();
    assert_eq!(state["counters"]["resets"], 0, "{state}");
    assert_eq!(state["PowerState"], "On");
}

#[test]
fn not_ready_bmc_is_retried_inside_the_deadline() {
    if !can_run("not_ready_bmc_is_retried_inside_the_deadline", &["python3"]) {
        return;
    }
    let s = Scratch::new("rf-503").unwrap();
    let bmc = MiniBmc::start(
        &s,
        "gen",
        MiniBmcSpec::vendor("generic").args(&["--not-ready", "3", "--empty-members", "2"]),
    )
    .unwrap();
    let mut r = req(&bmc, TlsMode::PlainHttp, Vendor::Generic, Action::Status);
    r.config.systems_uri = None;
    let o = ok(r.clone());
    assert_eq!(
        (o.power, o.system_uri.as_str()),
        (PowerState::On, "/redfish/v1/Systems/1")
    );
    // Still not ready at the deadline: a timeout, at the deadline.
    bmc.configure(r#"{"not_ready": 1000}"#).unwrap();
    r.config.timing.timeout = Duration::from_millis(800);
    let t = Instant::now();
    let e = err(r);
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(
        t.elapsed() < Duration::from_millis(1500),
        "{:?}",
        t.elapsed()
    );
}

#[test]
fn several_members_are_listed_never_guessed() {
    if !can_run("several_members_are_listed_never_guessed", &["python3"]) {
        return;
    }
    let s = Scratch::new("rf-members").unwrap();
    let bmc = MiniBmc::start(
        &s,
        "idrac",
        MiniBmcSpec::vendor("idrac").args(&["--members", "3"]),
    )
    .unwrap();
    let mut r = req(&bmc, TlsMode::PlainHttp, Vendor::Idrac, Action::Off);
    r.config.systems_uri = None;
    let e = err(r.clone());
    assert_eq!(e.kind(), ErrorKind::Config);
    for m in [
        "System.Embedded.1",
        "System.Embedded.1-2",
        "System.Embedded.1-3",
    ] {
        assert!(
            e.message().contains(&format!("/redfish/v1/Systems/{m}")),
            "{e}"
        );
    }
    assert!(e.message().contains("systems_uri"));
    assert_eq!(bmc.power().unwrap(), "On", "nothing was fenced");
    assert_eq!(
        bmc.sessions().unwrap(),
        0,
        "the session is deleted after the error"
    );
    r.config.systems_uri = Some("/redfish/v1/Systems/System.Embedded.1-2".into());
    r.config.action = Action::Status;
    assert_eq!(ok(r).system_uri, "/redfish/v1/Systems/System.Embedded.1-2");
}

#[test]
fn wrong_password_fails_fast_as_auth_without_leaking_it() {
    if !can_run(
        "wrong_password_fails_fast_as_auth_without_leaking_it",
        &["python3"],
    ) {
        return;
    }
    let s = Scratch::new("rf-401").unwrap();
    let bmc = MiniBmc::start(&s, "ilo", MiniBmcSpec::vendor("ilo")).unwrap();
    for auth in [Auth::Session, Auth::Basic] {
        let mut r = req(&bmc, TlsMode::PlainHttp, Vendor::Ilo, Action::Off);
        r.config.password = Secret::from("hunter2-wrong");
        r.config.auth = auth;
        let t = Instant::now();
        let mut seen = Vec::new();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let e = rt
            .block_on(run_with_events(r, |ev| seen.push(ev.to_string())))
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Auth, "{auth}: {e}");
        assert!(t.elapsed() < Duration::from_secs(2));
        assert!(e.message().contains("NoValidSession"), "{e}");
        let all = format!("{e} {e:?} {}", seen.join("\n"));
        assert!(!all.contains("hunter2"), "secret leaked: {all}");
        assert!(!all.contains("Basic "), "credentials leaked: {all}");
    }
    assert_eq!(bmc.power().unwrap(), "On");
}

#[test]
fn session_limit_of_16_falls_back_to_basic() {
    if !can_run("session_limit_of_16_falls_back_to_basic", &["python3"]) {
        return;
    }
    let s = Scratch::new("rf-16").unwrap();
    let bmc = MiniBmc::start(&s, "ilo", MiniBmcSpec::vendor("ilo")).unwrap();
    for _ in 0..16 {
        bmc.open_session().unwrap();
    }
    assert_eq!(bmc.sessions().unwrap(), 16);
    let o = ok(req(&bmc, TlsMode::PlainHttp, Vendor::Ilo, Action::Off));
    assert_eq!((o.auth, o.power), (Auth::Basic, PowerState::Off));
    assert!(
        o.warnings.iter().any(|w| w.contains("session limit")),
        "{:?}",
        o.warnings
    );
    assert_eq!(bmc.sessions().unwrap(), 16);
}

#[test]
fn black_holed_bmc_fails_at_the_deadline() {
    let budget = Duration::from_millis(1500);
    let mut config = Config::new(Vendor::Ilo, "Administrator", Secret::from("x"), Action::Off);
    config.timing.timeout = budget;
    // SYNs dropped (full accept queue).
    let hole = BlackHole::new().unwrap();
    let mut r = RedfishRequest::new("127.0.0.1", config.clone());
    r.port = hole.port;
    r.tls = TlsMode::Insecure;
    let t = Instant::now();
    let e = run_blocking(r).unwrap_err();
    let took = t.elapsed();
    assert_eq!(e.kind(), ErrorKind::Unreachable, "{e}");
    assert!(
        took >= budget - Duration::from_millis(50) && took < budget + Duration::from_millis(800),
        "{took:?}"
    );
    // TCP up, TLS never answered.
    let silent = SilentListener::new().unwrap();
    let mut r = RedfishRequest::new("127.0.0.1", config);
    r.port = silent.port;
    r.tls = TlsMode::Insecure;
    let t = Instant::now();
    let e = run_blocking(r).unwrap_err();
    let took = t.elapsed();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(
        took >= budget - Duration::from_millis(50) && took < budget + Duration::from_millis(800),
        "{took:?}"
    );
    // Connection refused: at once.
    let closed = ironbeat_hw_tests::redfish::free_port().unwrap();
    let mut r = RedfishRequest::new(
        "127.0.0.1",
        Config::new(Vendor::Ilo, "a", Secret::from("b"), Action::Status),
    );
    r.port = closed;
    let e = run_blocking(r).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Unreachable);
    assert!(e.message().contains("refused"), "{e}");
}

fn fr_args(
    port: u16,
    user: &str,
    password: &str,
    systems_uri: Option<&str>,
    action: &str,
) -> Vec<String> {
    let mut v = vec![
        "--ip=127.0.0.1".to_string(),
        format!("--ipport={port}"),
        format!("--username={user}"),
        format!("--password={password}"),
        "--ssl-insecure".into(),
        format!("--action={action}"),
        "--power-timeout=10".into(),
    ];
    if let Some(u) = systems_uri {
        v.push(format!("--systems-uri={u}"));
    }
    v
}

/// Ours and fence_redfish, alternately, against one emulator: both must
/// report the same state after every action.
fn agree(
    port: u16,
    user: &str,
    password: &str,
    systems_uri: Option<&str>,
    ours: RedfishRequest,
    truth: &dyn Fn() -> Option<String>,
) {
    for action in [
        "status", "off", "status", "on", "status", "reboot", "status",
    ] {
        let (code, out) = fence_redfish(
            &fr_args(port, user, password, systems_uri, action),
            Duration::from_secs(40),
        )
        .unwrap();
        // fence-agents: status exits 0 when on, 2 when off.
        let want_codes: &[i32] = if action == "status" { &[0, 2] } else { &[0] };
        assert!(
            want_codes.contains(&code),
            "fence_redfish {action} exited {code}: {out}"
        );
        let theirs_on = if action == "status" {
            Some(out.contains("Status: ON"))
        } else {
            None
        };
        let a: Action = action.parse().unwrap();
        let o = ok(with_action(ours.clone(), a));
        if let Some(on) = theirs_on {
            assert_eq!(
                o.power == PowerState::On,
                on,
                "status disagrees: ours {o}, fence_redfish {out}"
            );
        }
        match a {
            Action::Off => assert_eq!(o.power, PowerState::Off),
            Action::On | Action::Reboot => assert_eq!(o.power, PowerState::On),
            _ => {}
        }
        if let Some(t) = truth() {
            assert_eq!(
                t,
                if o.power == PowerState::On {
                    "On"
                } else {
                    "Off"
                }
            );
        }
        // Then fence_redfish again right after our action.
        let (code, out) = fence_redfish(
            &fr_args(port, user, password, systems_uri, "status"),
            Duration::from_secs(40),
        )
        .unwrap();
        assert_eq!(code, if o.power == PowerState::On { 0 } else { 2 }, "{out}");
        assert_eq!(
            out.contains("Status: ON"),
            o.power == PowerState::On,
            "after our {action}: ours {o}, fence_redfish {out}"
        );
    }
}

#[test]
fn fixture_agrees_with_fence_redfish() {
    if !can_run(
        "fixture_agrees_with_fence_redfish",
        &["python3", "openssl", "fence_redfish"],
    ) {
        return;
    }
    let s = Scratch::new("rf-agree").unwrap();
    let certs = LabCerts::generate(s.path()).unwrap();
    for vendor in ["ilo", "idrac"] {
        let bmc = MiniBmc::start(
            &s,
            vendor,
            MiniBmcSpec::vendor(vendor).tls(&certs.signed_cert, &certs.signed_key),
        )
        .unwrap();
        let v: Vendor = vendor.parse().unwrap();
        let ours = req(
            &bmc,
            TlsMode::Verify(Some(certs.ca.clone())),
            v,
            Action::Status,
        );
        let uri = v.default_systems_uri();
        agree(
            bmc.https_port,
            &bmc.spec.user,
            &bmc.spec.password,
            uri,
            ours,
            &|| bmc.power().ok(),
        );
        assert_eq!(bmc.sessions().unwrap(), 0);
    }
}

#[test]
fn sushy_agrees_with_fence_redfish() {
    if !can_run(
        "sushy_agrees_with_fence_redfish",
        &["openssl", "fence_redfish"],
    ) || !sushy_ok("sushy_agrees_with_fence_redfish")
    {
        return;
    }
    let s = Scratch::new("rf-sushy").unwrap();
    let certs = LabCerts::generate(s.path()).unwrap();
    let sushy = Sushy::start(
        &s,
        "sushy",
        Some((&certs.signed_cert, &certs.signed_key)),
        1,
    )
    .unwrap();
    let mut config = Config::new(
        Vendor::Generic,
        SUSHY_USER,
        Secret::from(SUSHY_PASSWORD),
        Action::Status,
    );
    config.timing.timeout = Duration::from_secs(15);
    config.timing.poll_interval = Duration::from_millis(100);
    let mut ours = RedfishRequest::new("127.0.0.1", config);
    ours.port = sushy.port;
    ours.tls = TlsMode::Verify(Some(certs.ca.clone()));
    // Discovery (sushy addresses systems by UUID) and Basic auth.
    let o = ok(ours.clone());
    assert_eq!(o.system_uri, sushy.system_uri());
    assert_eq!(o.auth, Auth::Basic);
    // sushy does not list PowerCycle among the allowed ResetTypes: refused before sending.
    let e = err(with_action(ours.clone(), Action::Cycle));
    assert_eq!(e.kind(), ErrorKind::DeviceIncompatible, "{e}");
    assert!(e.message().contains("allowed: On, ForceOff"), "{e}");
    agree(
        sushy.port,
        SUSHY_USER,
        SUSHY_PASSWORD,
        None,
        ours.clone(),
        &|| None,
    );
    // Session auth asked for: sushy has no SessionService -> Basic, with a warning.
    let mut sess = ours;
    sess.config.auth = Auth::Session;
    let o = ok(sess);
    assert_eq!(o.auth, Auth::Basic);
    assert!(!o.warnings.is_empty());
}

#[test]
fn plain_http_sushy_discovery() {
    if !sushy_ok("plain_http_sushy_discovery") {
        return;
    }
    let s = Scratch::new("rf-sushy-http").unwrap();
    let sushy = Sushy::start(&s, "sushy", None, 1).unwrap();
    let mut config = Config::new(
        Vendor::Generic,
        SUSHY_USER,
        Secret::from(SUSHY_PASSWORD),
        Action::Off,
    );
    config.timing.timeout = Duration::from_secs(15);
    config.timing.poll_interval = Duration::from_millis(100);
    let mut r = RedfishRequest::new("127.0.0.1", config);
    r.port = sushy.port;
    r.tls = TlsMode::PlainHttp;
    let o = ok(r.clone());
    assert!(o.off_seen && o.power == PowerState::Off);
    let o = ok(with_action(r, Action::Reboot));
    assert!(o.off_seen && o.power == PowerState::On);
}

#[test]
fn graceful_shutdown_ignored_by_the_os_is_never_reported_fenced() {
    if !can_run(
        "graceful_shutdown_ignored_by_the_os_is_never_reported_fenced",
        &["python3"],
    ) {
        return;
    }
    let s = Scratch::new("rf-graceful").unwrap();
    let bmc = MiniBmc::start(
        &s,
        "gen",
        MiniBmcSpec::vendor("generic").args(&["--graceful-delay", "0.2"]),
    )
    .unwrap();
    let mut r = req(&bmc, TlsMode::PlainHttp, Vendor::Generic, Action::Off);
    r.config.off_reset = ResetType::GracefulShutdown;
    let o = ok(r.clone());
    assert_eq!(o.resets_sent, vec![ResetType::GracefulShutdown]);
    assert!(o.off_seen);
    // The OS ignores the ACPI button: Off is never seen -> a timeout at the
    // deadline, never a success.
    bmc.set_power("On").unwrap();
    bmc.configure(r#"{"graceful_delay": -1}"#).unwrap();
    r.config.timing.timeout = Duration::from_millis(700);
    let t = Instant::now();
    let e = err(r);
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(e.message().contains("NOT fenced"), "{e}");
    assert!(t.elapsed() < Duration::from_millis(1500));
    assert_eq!(bmc.power().unwrap(), "On");
}
