//! The script kinds against real scripts: the Debian resource-agents Dummy
//! and IPaddr2 through the OCF path, an LSB init script written here,
//! heartbeat's own resource.d/IPaddr2 in a namespace, and systemd (skipped
//! where systemd is not PID 1).

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{in_ns, spec, TIMEOUT};
use ironbeat_agents::{execute, Class, ExecEnv, OcfCode, Operation};
use ironbeat_hw_tests::{Cable, Netns, Scratch};

fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

fn write_script(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn ocf_dummy_start_monitor_stop_is_idempotent() {
    if !common::can_run(
        "ocf_dummy_start_monitor_stop_is_idempotent",
        false,
        &[common::OCF_DUMMY],
    ) {
        return;
    }
    let scratch = Scratch::new("agdummy").unwrap();
    let state = scratch.join("dummy.state");
    let s = spec(
        "dummy1",
        Class::Ocf,
        Some("heartbeat"),
        "Dummy",
        &[("state", state.to_str().unwrap())],
    );
    let env = ExecEnv::default();
    let codes = block_on(async {
        let mut codes = Vec::new();
        for op in [
            Operation::Probe,
            Operation::Start,
            Operation::Start,
            Operation::Monitor {
                interval: Duration::from_secs(10),
            },
            Operation::Stop,
            Operation::Stop,
            Operation::Probe,
        ] {
            codes.push(execute(&s, op, TIMEOUT, &env).await.code);
        }
        let meta = execute(&s, Operation::MetaData, TIMEOUT, &env).await;
        (codes, meta)
    });
    assert_eq!(
        codes.0,
        [
            OcfCode::NotRunning,
            OcfCode::Ok,
            OcfCode::Ok,
            OcfCode::Ok,
            OcfCode::Ok,
            OcfCode::Ok,
            OcfCode::NotRunning
        ]
    );
    assert_eq!(codes.1.code, OcfCode::Ok);
    assert!(
        codes.1.output.contains("<resource-agent name=\"Dummy\""),
        "{}",
        codes.1.output
    );
}

#[test]
fn ocf_missing_required_parameter_is_not_configured_with_reason() {
    if !common::can_run(
        "ocf_missing_required_parameter_is_not_configured_with_reason",
        false,
        &[common::OCF_IPADDR2],
    ) {
        return;
    }
    let s = spec("vip", Class::Ocf, Some("heartbeat"), "IPaddr2", &[]);
    let mut script = s.clone();
    script.builtin = false;
    let (theirs, ours) = block_on(async {
        (
            execute(&script, Operation::Start, TIMEOUT, &ExecEnv::default()).await,
            execute(&s, Operation::Start, TIMEOUT, &ExecEnv::default()).await,
        )
    });
    assert_eq!(theirs.code, OcfCode::NotConfigured, "{theirs:?}");
    let reason = theirs.exit_reason.unwrap_or_default();
    assert_eq!(reason, "IP address (the ip parameter) is mandatory");
    assert_eq!(ours.code, OcfCode::NotConfigured, "{ours:?}");
    assert!(ours
        .exit_reason
        .unwrap_or_default()
        .contains("ip is required"));
}

#[test]
fn ocf_missing_agent_is_not_installed() {
    let s = spec("x", Class::Ocf, Some("heartbeat"), "NoSuchAgentHere", &[]);
    let r = block_on(execute(&s, Operation::Start, TIMEOUT, &ExecEnv::default()));
    assert_eq!(r.code, OcfCode::NotInstalled, "{r:?}");
    assert!(r
        .exit_reason
        .unwrap_or_default()
        .contains("NoSuchAgentHere"));
}

#[test]
fn ocf_timeout_kills_the_process_group_and_passes_meta_timeout() {
    let scratch = Scratch::new("agslow").unwrap();
    let root = scratch.join("ocf");
    let marker = scratch.join("env.txt");
    let pids = scratch.join("pids");
    write_script(
        &root.join("resource.d/test/Slow"),
        &format!(
            "#!/bin/sh\n\
             echo \"$OCF_RESKEY_CRM_meta_timeout $OCF_RESKEY_CRM_meta_interval $OCF_RESOURCE_INSTANCE $OCF_RESKEY_colour $1\" > {marker}\n\
             sleep 60 &\necho $! >> {pids}\n\
             trap '' TERM\nwhile :; do sleep 0.05; done\n",
            marker = marker.display(),
            pids = pids.display()
        ),
    );
    let env = ExecEnv {
        ocf_root: root,
        kill_grace: Duration::from_millis(300),
        ..ExecEnv::default()
    };
    let s = spec(
        "slow1",
        Class::Ocf,
        Some("test"),
        "Slow",
        &[("colour", "blue")],
    );
    let started = Instant::now();
    let r = block_on(execute(
        &s,
        Operation::Start,
        Duration::from_millis(500),
        &env,
    ));
    assert!(r.timed_out, "{r:?}");
    assert_eq!(r.code, OcfCode::Error);
    assert!(started.elapsed() < Duration::from_secs(3), "{r:?}");
    assert_eq!(
        std::fs::read_to_string(&marker).unwrap().trim(),
        "500 0 slow1 blue start"
    );
    let pid: i32 = std::fs::read_to_string(&pids)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let alive = || {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|s| !s.rsplit_once(") ").is_some_and(|(_, r)| r.starts_with('Z')))
            .unwrap_or(false)
    };
    let gone =
        ironbeat_hw_tests::cmd::poll(Duration::from_secs(2), Duration::from_millis(20), || {
            (!alive()).then_some(())
        });
    assert!(
        gone.is_some(),
        "the agent's background child {pid} survived"
    );
}

const INIT_SCRIPT: &str = r#"#!/bin/sh
PIDFILE="@DIR@/daemon.pid"
running() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }
case "$1" in
start) running && exit 0
       sleep 300 >/dev/null 2>&1 &
       echo $! > "$PIDFILE"; exit 0 ;;
stop)  running || { rm -f "$PIDFILE"; exit 0; }
       kill "$(cat "$PIDFILE")"; rm -f "$PIDFILE"; exit 0 ;;
status) running && { echo running; exit 0; }
       [ -f "$PIDFILE" ] && exit 1
       echo stopped; exit 3 ;;
*) exit 3 ;;
esac
"#;

#[test]
fn lsb_init_script_start_status_stop() {
    let scratch = Scratch::new("aglsb").unwrap();
    let init = scratch.join("init.d");
    write_script(
        &init.join("testd"),
        &INIT_SCRIPT.replace("@DIR@", scratch.path().to_str().unwrap()),
    );
    let env = ExecEnv {
        init_dir: init,
        ..ExecEnv::default()
    };
    let s = spec("testd", Class::Lsb, None, "testd", &[]);
    let codes = block_on(async {
        let mut codes = Vec::new();
        for op in [
            Operation::Probe,
            Operation::Start,
            Operation::Start,
            Operation::Probe,
            Operation::Stop,
            Operation::Stop,
            Operation::Probe,
        ] {
            codes.push(execute(&s, op, TIMEOUT, &env).await.code);
        }
        codes
    });
    assert_eq!(
        codes,
        [
            OcfCode::NotRunning,
            OcfCode::Ok,
            OcfCode::Ok,
            OcfCode::Ok,
            OcfCode::Ok,
            OcfCode::Ok,
            OcfCode::NotRunning
        ]
    );
    // Dead with a pid file left behind (LSB status 1) is "not running", as Pacemaker maps it.
    std::fs::write(scratch.join("daemon.pid"), "999999999\n").unwrap();
    let r = block_on(execute(&s, Operation::Probe, TIMEOUT, &env));
    assert_eq!(r.code, OcfCode::NotRunning, "{r:?}");
    let r = block_on(execute(&s, Operation::Promote, TIMEOUT, &env));
    assert_eq!(r.code, OcfCode::Unimplemented, "{r:?}");
}

#[test]
fn heartbeat_resource_d_scripts_resource_d_then_init_d() {
    let scratch = Scratch::new("aghb").unwrap();
    let resource_d = scratch.join("resource.d");
    let init = scratch.join("init.d");
    // Only in init.d: heartbeat falls back to it; args come first.
    write_script(
        &init.join("svc"),
        &format!(
            "#!/bin/sh\nS={}/svc.on\ncase \"$2\" in start) echo \"$1\" > $S;; stop) rm -f $S;; status) [ -f $S ] && echo \"svc OK\" || echo \"svc is not running\";; esac\nexit 0\n",
            scratch.path().display()
        ),
    );
    let env = ExecEnv {
        heartbeat_resource_dir: resource_d,
        init_dir: init,
        ..ExecEnv::default()
    };
    let s = spec("svc", Class::Heartbeat, None, "svc", &[("1", "hello")]);
    let codes = block_on(async {
        let mut codes = Vec::new();
        for op in [
            Operation::Probe,
            Operation::Start,
            Operation::Probe,
            Operation::Stop,
            Operation::Probe,
        ] {
            codes.push(execute(&s, op, TIMEOUT, &env).await.code);
        }
        codes
    });
    assert_eq!(
        codes,
        [
            OcfCode::NotRunning,
            OcfCode::Ok,
            OcfCode::Ok,
            OcfCode::Ok,
            OcfCode::NotRunning
        ]
    );
    let missing = spec("nope", Class::Heartbeat, None, "nope", &[]);
    let r = block_on(execute(&missing, Operation::Start, TIMEOUT, &env));
    assert_eq!(r.code, OcfCode::NotInstalled, "{r:?}");
}

#[test]
fn heartbeat_ipaddr2_script_from_the_heartbeat_package_in_a_namespace() {
    if !common::can_run(
        "heartbeat_ipaddr2_script_from_the_heartbeat_package_in_a_namespace",
        true,
        &["/etc/ha.d/resource.d/IPaddr2", common::OCF_IPADDR2],
    ) {
        return;
    }
    let node = Netns::new("aghbip", "n1").unwrap();
    let peer = Netns::new("aghbip", "n2").unwrap();
    let c0 = Cable::connect("aghbip", "c0", &node, "eth0", &peer, "eth0").unwrap();
    let vip = c0.subnet.host(100).to_string();
    let mut s = spec(
        "ip",
        Class::Heartbeat,
        None,
        "IPaddr2",
        &[("1", &format!("{vip}/24/eth0"))],
    );
    s.builtin = false;
    let ours = spec(
        "ip",
        Class::Heartbeat,
        None,
        "IPaddr2",
        &[("1", &format!("{vip}/24/eth0"))],
    );
    let results = in_ns(&node, move || async move {
        let env = ExecEnv::default();
        let mut out = Vec::new();
        for (what, spec, op) in [
            ("status (stopped)", &s, Operation::Probe),
            ("start", &s, Operation::Start),
            ("status", &s, Operation::Probe),
            ("our monitor", &ours, Operation::Probe),
            ("stop", &s, Operation::Stop),
            ("status (stopped again)", &s, Operation::Probe),
        ] {
            out.push((what, execute(spec, op, TIMEOUT, &env).await));
        }
        out
    });
    let expected = [
        OcfCode::NotRunning,
        OcfCode::Ok,
        OcfCode::Ok,
        OcfCode::Ok,
        OcfCode::Ok,
        OcfCode::NotRunning,
    ];
    for ((what, r), want) in results.iter().zip(expected) {
        assert_eq!(r.code, want, "{what}: {r:?}");
    }
}

#[test]
fn systemd_units() {
    let s = spec("web", Class::Systemd, None, "nginx", &[]);
    let r = block_on(execute(&s, Operation::Probe, TIMEOUT, &ExecEnv::default()));
    if !ironbeat_agents::systemd::is_running() {
        assert_eq!(r.code, OcfCode::NotInstalled, "{r:?}");
        assert!(r
            .exit_reason
            .unwrap_or_default()
            .contains("systemd is not running on this node"));
        // Straight to the stderr handle: libtest captures print!/eprint!.
        use std::io::Write;
        let _ = std::io::stderr().write_all(
            b"\nSKIPPED: systemd_units: systemd is not running on this node \
              (only the NotInstalled answer was checked)\n",
        );
        return;
    }
    assert!(
        matches!(
            r.code,
            OcfCode::Ok | OcfCode::NotRunning | OcfCode::NotInstalled
        ),
        "{r:?}"
    );
}

#[test]
fn ocf_exit_codes_map_to_ocf_codes() {
    let scratch = Scratch::new("agrc").unwrap();
    let root = scratch.join("ocf");
    write_script(
        &root.join("resource.d/test/Rc"),
        "#!/bin/sh\n[ \"$OCF_RESKEY_rc\" = 0 ] || echo \"ocf-exit-reason:code $OCF_RESKEY_rc\" >&2\nexit $OCF_RESKEY_rc\n",
    );
    let env = ExecEnv {
        ocf_root: root,
        ..ExecEnv::default()
    };
    let expected = [
        (0, OcfCode::Ok),
        (1, OcfCode::Error),
        (2, OcfCode::InvalidParam),
        (3, OcfCode::Unimplemented),
        (4, OcfCode::InsufficientPriv),
        (5, OcfCode::NotInstalled),
        (6, OcfCode::NotConfigured),
        (7, OcfCode::NotRunning),
        (8, OcfCode::RunningPromoted),
        (9, OcfCode::FailedPromoted),
        (190, OcfCode::Degraded),
        (191, OcfCode::DegradedPromoted),
        (42, OcfCode::Unknown(42)),
    ];
    for (rc, code) in expected {
        let s = spec(
            "rc",
            Class::Ocf,
            Some("test"),
            "Rc",
            &[("rc", &rc.to_string())],
        );
        let r = block_on(execute(&s, Operation::Probe, TIMEOUT, &env));
        assert_eq!(r.code, code, "exit {rc}: {r:?}");
        assert!(!r.timed_out);
        if rc != 0 {
            assert_eq!(r.exit_reason, Some(format!("code {rc}")));
        } else {
            assert_eq!(r.exit_reason, None);
        }
    }
}
