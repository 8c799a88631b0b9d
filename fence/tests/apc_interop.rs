//! APC PDUs over SNMP against a real agent: net-snmp's snmpd with the PDU
//! simulator (hw-tests/fixtures/pdu), started by each test on loopback, for
//! the three device profiles and v1, v2c, v3 (SHA/AES and MD5/DES authPriv).
//! fence_apc_snmp (fence-agents) runs against the same agent to show both
//! tools agree on every state change. The failures a user meets — wrong
//! community, wrong outlet, wrong v3 password, read-only community,
//! unreachable agent — each end in a clear error within the deadline.

use std::time::{Duration, Instant};

use ironbeat_fence::driver::snmp::{run_blocking, run_with_events, ApcRequest};
use ironbeat_fence::power::PowerState;
use ironbeat_fence::snmp::{
    AuthProtocol, Config, Credentials, Outcome, Outlet, PrivProtocol, Profile, Request,
    SecurityLevel, Usm, Version,
};
use ironbeat_fence::{Error, ErrorKind};
use ironbeat_hw_tests::cmd;
use ironbeat_hw_tests::snmpd::{Pdu, PduSpec, Personality};

fn tools_present(test: &str) -> bool {
    let missing: Vec<&str> = ["snmpd", "snmpget", "fence_apc_snmp", "python3"]
        .into_iter()
        .filter(|t| !ironbeat_hw_tests::env::has_tool(t))
        .collect();
    if missing.is_empty() {
        return true;
    }
    if ironbeat_hw_tests::env::required() {
        panic!("{test}: missing {missing:?}; run scripts/install-test-deps.sh");
    }
    eprintln!("SKIPPED: {test}: missing {missing:?} (scripts/install-test-deps.sh)");
    false
}

fn v1() -> (Version, Credentials) {
    (Version::V1, Credentials::community("private"))
}

fn v2c() -> (Version, Credentials) {
    (Version::V2c, Credentials::community("private"))
}

fn v3_sha_aes() -> (Version, Credentials) {
    (
        Version::V3(Usm::default()),
        Credentials::usm("fenceuser", "fenceauth1", Some("fencepriv1")),
    )
}

fn v3_md5_des() -> (Version, Credentials) {
    (
        Version::V3(Usm {
            level: SecurityLevel::AuthPriv,
            auth: AuthProtocol::Md5,
            privacy: PrivProtocol::Des,
        }),
        Credentials::usm("apclegacy", "fenceauth1", Some("fencepriv1")),
    )
}

fn request(
    pdu: &Pdu,
    (version, credentials): (Version, Credentials),
    req: Request,
    outlet: Option<&str>,
    timeout: Duration,
) -> ApcRequest {
    let mut config = Config::new(
        version,
        credentials,
        req,
        outlet.map(|o| o.parse::<Outlet>().unwrap()),
    );
    config.timing.timeout = timeout;
    let mut r = ApcRequest::new(pdu.host(), config);
    r.port = pdu.port();
    r
}

fn ours(pdu: &Pdu, auth: (Version, Credentials), req: Request, outlet: &str) -> Outcome {
    run_blocking(request(
        pdu,
        auth,
        req,
        Some(outlet),
        Duration::from_secs(10),
    ))
    .unwrap_or_else(|e| panic!("{req} {outlet}: {e}"))
}

fn ours_err(
    pdu: &Pdu,
    auth: (Version, Credentials),
    req: Request,
    outlet: &str,
    timeout: Duration,
) -> (Error, Duration) {
    let t0 = Instant::now();
    let e = run_blocking(request(pdu, auth, req, Some(outlet), timeout))
        .expect_err("expected an error");
    (e, t0.elapsed())
}

/// fence_apc_snmp's verdict: `Some(true)` on (exit 0), `Some(false)` off (exit 2).
fn theirs(pdu: &Pdu, args: &[&str]) -> (i32, String) {
    let mut c = pdu.client_command("fence_apc_snmp");
    c.arg(format!("--ip={}", pdu.host()))
        .arg(format!("--ipport={}", pdu.port()))
        .args(args);
    let out = cmd::run(&mut c, Duration::from_secs(30)).expect("running fence_apc_snmp");
    (
        out.status.code().unwrap_or(-1),
        format!("{}{}", out.stdout, out.stderr),
    )
}

fn theirs_status(pdu: &Pdu, plug: &str) -> PowerState {
    let (code, text) = theirs(
        pdu,
        &[
            "--community=private",
            &format!("--plug={plug}"),
            "--action=status",
        ],
    );
    match code {
        0 => PowerState::On,
        2 => PowerState::Off,
        _ => panic!("fence_apc_snmp status failed ({code}): {text}"),
    }
}

fn theirs_action(pdu: &Pdu, plug: &str, action: &str) {
    let (code, text) = theirs(
        pdu,
        &[
            "--community=private",
            &format!("--plug={plug}"),
            &format!("--action={action}"),
        ],
    );
    assert_eq!(code, 0, "fence_apc_snmp {action} {plug}: {text}");
}

#[test]
fn every_profile_and_version_agrees_with_fence_apc_snmp() {
    if !tools_present("every_profile_and_version_agrees_with_fence_apc_snmp") {
        return;
    }
    for personality in Personality::ALL {
        let pdu = Pdu::start_loopback(&PduSpec::new(personality)).expect("starting snmpd");
        let profile = match personality {
            Personality::Rpdu => Profile::RackPdu,
            Personality::Rpdu2 => Profile::RackPdu2,
            Personality::MasterSwitch => Profile::MasterSwitch,
        };
        for (label, auth) in [
            ("v1", v1()),
            ("v2c", v2c()),
            ("v3 SHA/AES", v3_sha_aes()),
            ("v3 MD5/DES", v3_md5_des()),
        ] {
            let ctx = format!("{personality:?} {label}");
            // ours off -> theirs sees off; simulator agrees.
            let o = ours(&pdu, auth.clone(), Request::Off, "2");
            assert_eq!(o.profile, profile, "{ctx}");
            assert_eq!(o.power, Some(PowerState::Off), "{ctx}");
            assert!(o.off_seen && o.commands_sent == 1, "{ctx}: {o:?}");
            assert_eq!(pdu.outlet_on(2), Some(false), "{ctx}");
            assert_eq!(theirs_status(&pdu, "2"), PowerState::Off, "{ctx}");
            // off again: already off, nothing sent.
            let o = ours(&pdu, auth.clone(), Request::Off, "2");
            assert_eq!(o.commands_sent, 0, "{ctx}");
            // theirs on -> ours sees on.
            theirs_action(&pdu, "2", "on");
            assert_eq!(
                ours(&pdu, auth.clone(), Request::Status, "2").power,
                Some(PowerState::On),
                "{ctx}"
            );
            // theirs off -> ours sees off; ours on -> theirs sees on.
            theirs_action(&pdu, "2", "off");
            assert_eq!(
                ours(&pdu, auth.clone(), Request::Status, "2").power,
                Some(PowerState::Off),
                "{ctx}"
            );
            let o = ours(&pdu, auth.clone(), Request::On, "2");
            assert_eq!(o.power, Some(PowerState::On), "{ctx}");
            assert_eq!(theirs_status(&pdu, "2"), PowerState::On, "{ctx}");
            // ours reboot by name: off seen, then on.
            let events_before = pdu.events().lines().count();
            let o = ours(&pdu, auth.clone(), Request::Reboot, "node3");
            assert!(o.off_seen && o.power_on_failed.is_none(), "{ctx}: {o:?}");
            assert_eq!(o.power, Some(PowerState::On), "{ctx}");
            assert_eq!(o.outlets.len(), 1);
            assert_eq!(o.outlets[0].number, 3);
            assert_eq!(o.commands_sent, 2, "{ctx}");
            let log: Vec<String> = pdu
                .events()
                .lines()
                .skip(events_before)
                .map(str::to_string)
                .collect();
            assert!(
                log.iter().any(|l| l.contains("outlet 3 off")),
                "{ctx}: {log:?}"
            );
            assert!(
                log.iter().any(|l| l.contains("outlet 3 on")),
                "{ctx}: {log:?}"
            );
            assert_eq!(theirs_status(&pdu, "node3"), PowerState::On, "{ctx}");
        }
    }
}

#[test]
fn dual_psu_host_switches_every_outlet_with_its_name() {
    if !tools_present("dual_psu_host_switches_every_outlet_with_its_name") {
        return;
    }
    for personality in [Personality::Rpdu, Personality::Rpdu2] {
        let mut spec = PduSpec::new(personality);
        spec.names = ["db1", "web1", "db1", "web2"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let pdu = Pdu::start_loopback(&spec).expect("starting snmpd");
        let o = ours(&pdu, v2c(), Request::Off, "db1");
        let numbers: Vec<u32> = o.outlets.iter().map(|x| x.number).collect();
        assert_eq!(numbers, vec![1, 3]);
        assert_eq!(o.commands_sent, 2);
        assert_eq!(pdu.outlet_on(1), Some(false));
        assert_eq!(pdu.outlet_on(3), Some(false));
        assert_eq!(pdu.outlet_on(2), Some(true));
        assert_eq!(theirs_status(&pdu, "1"), PowerState::Off);
        assert_eq!(theirs_status(&pdu, "3"), PowerState::Off);
        // One PSU back on: the host counts as on.
        theirs_action(&pdu, "3", "on");
        assert_eq!(
            ours(&pdu, v1(), Request::Status, "db1").power,
            Some(PowerState::On)
        );
        let o = ours(&pdu, v1(), Request::On, "DB1");
        assert_eq!(o.commands_sent, 1, "only outlet 1 was off: {o:?}");
        assert_eq!(pdu.outlet_on(1), Some(true));
    }
}

#[test]
fn list_and_list_status() {
    if !tools_present("list_and_list_status") {
        return;
    }
    let pdu = Pdu::start_loopback(&PduSpec::new(Personality::Rpdu2)).expect("starting snmpd");
    theirs_action(&pdu, "4", "off");
    let o = run_blocking(request(
        &pdu,
        v1(),
        Request::ListStatus,
        None,
        Duration::from_secs(10),
    ))
    .unwrap();
    assert_eq!(o.outlets.len(), 8);
    assert_eq!(o.outlets[3].name.as_deref(), Some("node4"));
    assert_eq!(o.outlets[3].power, Some(PowerState::Off));
    assert_eq!(o.outlets[0].power, Some(PowerState::On));
    assert_eq!(o.outlets[4].name.as_deref(), Some("Outlet 5"));
    let o = run_blocking(request(
        &pdu,
        v3_sha_aes(),
        Request::List,
        None,
        Duration::from_secs(10),
    ))
    .unwrap();
    assert_eq!(o.outlets.len(), 8);
    assert!(o.outlets.iter().all(|x| x.power.is_none()));
    // fence_apc_snmp lists the same numbers and names.
    let (code, text) = theirs(&pdu, &["--community=private", "--action=list"]);
    assert_eq!(code, 0, "{text}");
    for x in &o.outlets {
        assert!(
            text.contains(&format!("{},{}", x.number, x.name.as_deref().unwrap())),
            "{text}"
        );
    }
}

#[test]
fn immediate_reboot_in_progress_is_not_off() {
    if !tools_present("immediate_reboot_in_progress_is_not_off") {
        return;
    }
    // Outlet 1 is rebooting (off now, on again in 2 s, command pending): an
    // off request must cancel that and see it off with nothing pending.
    let mut spec = PduSpec::new(Personality::Rpdu);
    spec.reboot_duration = 2;
    let pdu = Pdu::start_loopback(&spec).expect("starting snmpd");
    let mut set = pdu.client_command("snmpset");
    set.args(["-v1", "-c", "private", "-t", "1", "-r", "0"])
        .arg(pdu.target())
        .args([".1.3.6.1.4.1.318.1.1.12.3.3.1.1.4.1", "i", "3"]);
    assert!(cmd::run(&mut set, Duration::from_secs(10))
        .unwrap()
        .status
        .success());
    assert!(pdu.outlet_pending(1));
    let o = ours(&pdu, v1(), Request::Off, "1");
    assert_eq!(
        o.commands_sent, 1,
        "off while a reboot is pending must still send off: {o:?}"
    );
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        ours(&pdu, v1(), Request::Status, "1").power,
        Some(PowerState::Off)
    );
    assert_eq!(pdu.outlet_on(1), Some(false));
}

#[test]
fn failures_are_clear_and_within_the_deadline() {
    if !tools_present("failures_are_clear_and_within_the_deadline") {
        return;
    }
    let pdu = Pdu::start_loopback(&PduSpec::new(Personality::Rpdu)).expect("starting snmpd");
    let limit = Duration::from_millis(1500);

    // Wrong community: silence, reported at the deadline.
    let (e, took) = ours_err(
        &pdu,
        (Version::V2c, Credentials::community("wrongcommunity")),
        Request::Status,
        "1",
        limit,
    );
    assert_eq!(e.kind(), ErrorKind::Unreachable, "{e}");
    assert!(
        e.message().contains("no response")
            && e.message().contains("wrong community or unreachable"),
        "{e}"
    );
    assert!(
        !e.message().contains("wrongcommunity"),
        "the community leaked: {e}"
    );
    assert!(
        took >= limit && took < limit + Duration::from_millis(1200),
        "{took:?}"
    );

    // Wrong outlet, v1 (noSuchName) and v2c (noSuchInstance), by number and by name.
    for auth in [v1(), v2c(), v3_sha_aes()] {
        let (e, took) = ours_err(&pdu, auth, Request::Off, "99", Duration::from_secs(5));
        assert_eq!(e.kind(), ErrorKind::Config, "{e}");
        assert!(e.message().contains("outlet 99 does not exist"), "{e}");
        assert!(took < Duration::from_secs(2), "{took:?}");
    }
    let (e, _) = ours_err(
        &pdu,
        v1(),
        Request::Off,
        "nosuchhost",
        Duration::from_secs(5),
    );
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(
        e.message().contains("no outlet") && e.message().contains("node1"),
        "{e}"
    );

    // Wrong v3 password: the agent answers with a Report; fails fast.
    let (e, took) = ours_err(
        &pdu,
        (
            Version::V3(Usm::default()),
            Credentials::usm("fenceuser", "wrongpassword", Some("fencepriv1")),
        ),
        Request::Status,
        "1",
        Duration::from_secs(5),
    );
    assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
    assert!(!e.message().contains("wrongpassword"), "{e}");
    assert!(took < Duration::from_secs(2), "{took:?}");

    // Read-only community (v1 answers noSuchName, v2c noAccess) and read-only v3 user.
    for auth in [
        (Version::V1, Credentials::community("public")),
        (Version::V2c, Credentials::community("public")),
        (
            Version::V3(Usm {
                level: SecurityLevel::AuthNoPriv,
                ..Usm::default()
            }),
            Credentials::usm("monitor", "fenceauth1", None),
        ),
    ] {
        let (e, _) = ours_err(&pdu, auth, Request::Off, "1", Duration::from_secs(5));
        assert_eq!(e.kind(), ErrorKind::Auth, "{e}");
        assert!(e.message().contains("read-write"), "{e}");
    }
    assert_eq!(pdu.outlet_on(1), Some(true), "nothing was switched");

    // Nothing listening on the port (ICMP port unreachable): unreachable at the deadline.
    let closed = ironbeat_hw_tests::snmpd::free_udp_port().unwrap();
    let mut r = request(&pdu, v1(), Request::Status, Some("1"), limit);
    r.port = closed;
    let t0 = Instant::now();
    let mut events = Vec::new();
    let e = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(run_with_events(r, |ev| events.push(ev.to_string())))
        .expect_err("closed port");
    let took = t0.elapsed();
    assert_eq!(e.kind(), ErrorKind::Unreachable, "{e}");
    assert!(
        took >= limit && took < limit + Duration::from_millis(1200),
        "{took:?}"
    );
    assert!(
        events.iter().filter(|l| l.contains("retransmit")).count() >= 1,
        "{events:?}"
    );
    assert!(events.len() < 40, "bounded retransmits: {events:?}");
}

#[test]
fn black_holed_agent_in_a_namespace() {
    if !tools_present("black_holed_agent_in_a_namespace") {
        return;
    }
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("SKIPPED: black_holed_agent_in_a_namespace: needs root for network namespaces");
        return;
    }
    let pdu = Pdu::start_in_netns("apcbh", "198.18.61", &PduSpec::new(Personality::Rpdu))
        .expect("starting snmpd in a namespace");
    // Run our client inside the clients' namespace: a forked copy of this test binary is
    // not needed, the stonith binary is tested elsewhere; use fence_apc_snmp's view and
    // ours via setns in a thread.
    let cli = pdu.client_ns().unwrap().to_string();
    let host_ok = pdu.host().to_string();
    let result = std::thread::spawn(move || -> Vec<(String, Result<Outcome, Error>, Duration)> {
        let f = std::fs::File::open(format!("/run/netns/{cli}")).expect("netns file");
        nix::sched::setns(f, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
        let mut out = Vec::new();
        for (label, host) in [("agent", host_ok.as_str()), ("black hole", "198.18.61.3")] {
            let mut config = Config::new(
                Version::V1,
                Credentials::community("private"),
                Request::Off,
                Some(Outlet::Number(1)),
            );
            config.timing.timeout = Duration::from_millis(1500);
            let r = ApcRequest::new(host, config);
            let t0 = Instant::now();
            let res = run_blocking(r);
            out.push((label.to_string(), res, t0.elapsed()));
        }
        out
    })
    .join()
    .expect("client thread");
    let (_, ok, _) = &result[0];
    assert_eq!(
        ok.as_ref().expect("off on port 161").power,
        Some(PowerState::Off)
    );
    let (_, bad, took) = &result[1];
    let e = bad.as_ref().expect_err("black hole");
    assert_eq!(e.kind(), ErrorKind::Unreachable, "{e}");
    assert!(
        *took >= Duration::from_millis(1500) && *took < Duration::from_millis(2700),
        "{took:?}"
    );
}

#[test]
fn verbose_events_never_carry_secrets() {
    if !tools_present("verbose_events_never_carry_secrets") {
        return;
    }
    let pdu =
        Pdu::start_loopback(&PduSpec::new(Personality::MasterSwitch)).expect("starting snmpd");
    for auth in [v1(), v3_sha_aes()] {
        let dbg = format!(
            "{:?}",
            request(
                &pdu,
                auth.clone(),
                Request::Reboot,
                Some("node1"),
                Duration::from_secs(5)
            )
        );
        let mut lines = Vec::new();
        let o = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(run_with_events(
                request(
                    &pdu,
                    auth,
                    Request::Reboot,
                    Some("node1"),
                    Duration::from_secs(10),
                ),
                |e| lines.push(e.to_string()),
            ))
            .unwrap();
        assert!(o.off_seen);
        let all = format!("{dbg}\n{}", lines.join("\n"));
        for secret in ["private", "fenceauth1", "fencepriv1"] {
            assert!(!all.contains(secret), "{secret} leaked:\n{all}");
        }
        assert!(
            lines.iter().any(|l| l.contains("every outlet seen off")),
            "{lines:?}"
        );
    }
}
