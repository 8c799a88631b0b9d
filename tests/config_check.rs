//! `ironbeat config check [--runnable]` on real files: a good heartbeat
//! directory and a good native file, each kind of mistake, and the checks of
//! this machine (interfaces, agents, password files, state directory).

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use common::{run, Outcome, CONFIG, IRONBEAT, OK};

const NOT_RUNNABLE: i32 = 7;
const KEY: &str = "Cc-key-40417";
const BMC_PASSWORD: &str = "Cc-bmc-8812";

/// A private directory of configuration files, removed at the end.
struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let path =
            std::env::temp_dir().join(format!("ironbeat-check-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Dir(path)
    }

    fn write(&self, name: &str, text: &str, mode: u32) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    fn path(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn check(args: &[&str]) -> Outcome {
    let mut all = vec!["config", "check"];
    all.extend_from_slice(args);
    run(IRONBEAT, &all, None)
}

/// A heartbeat directory: two nodes on loopback, IPMI fencing with a
/// password file, one haresources line.
fn ha_d(dir: &Dir) {
    dir.write("authkeys", &format!("auth 1\n1 sha256 {KEY}\n"), 0o600);
    dir.write("node2.pw", &format!("{BMC_PASSWORD}\n"), 0o600);
    dir.write(
        "ha.cf",
        &format!(
            "# two nodes\nnode node1 node2\nkeepalive 100ms\ndeadtime 1s\nucast lo 127.0.0.2\n\
             auto_failback off\nstonith_host * external/ipmi node2 198.18.1.2 admin \
             interface=lanplus passwd_file={}\n",
            dir.path("node2.pw")
        ),
        0o644,
    );
    dir.write("haresources", "node1 IPaddr2::198.18.4.100/24/lo\n", 0o644);
}

/// A native file: two nodes, a fence device, an OCF Dummy and a VIP, logging.
fn native(dir: &Dir, extra: &str) -> String {
    dir.write("authkeys", &format!("auth 1\n1 sha256 {KEY}\n"), 0o600);
    dir.write("node2.pass", &format!("{BMC_PASSWORD}\n"), 0o600);
    dir.write(
        "ironbeat.toml",
        &format!(
            "[cluster]\nnodes = [\"node1\", \"node2\"]\n\n[timing]\nkeepalive = \"100ms\"\n\
             deadtime = \"1s\"\n\n[[link]]\nkind = \"ucast\"\niface = \"lo\"\n\
             peer = \"127.0.0.2\"\n\n[[fence.device]]\nname = \"node2-bmc\"\ntype = \"ipmi\"\n\
             nodes = [\"node2\"]\nip = \"198.18.1.2\"\nusername = \"admin\"\n\
             password_file = \"{}\"\n\n[[resource]]\nid = \"vip\"\n\
             agent = \"ocf:heartbeat:IPaddr2\"\nparams = {{ ip = \"198.18.4.100\" }}\n\n\
             [[resource]]\nid = \"app\"\nagent = \"ocf:heartbeat:Dummy\"\n\n\
             [log]\nfacility = \"daemon\"\nlevel = \"info\"\n{extra}",
            dir.path("node2.pass")
        ),
        0o644,
    )
    .display()
    .to_string()
}

fn assert_no_secret(out: &Outcome) {
    for secret in [KEY, BMC_PASSWORD] {
        assert!(
            !out.stdout.contains(secret) && !out.stderr.contains(secret),
            "{secret} printed:\n{}\n{}",
            out.stdout,
            out.stderr
        );
    }
}

#[test]
fn a_good_heartbeat_directory_is_summarised() {
    let dir = Dir::new("good-ha-d");
    ha_d(&dir);
    let ha = dir.0.display().to_string();
    let out = check(&["--ha-d", &ha, "--node", "node1"]);
    out.expect(OK);
    assert_no_secret(&out);
    for needle in [
        "this node node1, nodes node1, node2",
        "timing: keepalive 100 ms, warntime 500 ms, deadtime 1000 ms",
        "link 0: ucast lo 127.0.0.2",
        "signing with key 1 (sha256)",
        "ha.cf:7: type external/ipmi usable from * (parameters not shown)",
        "resources: 1",
        "IPaddr2_198.18.4.100_24_lo in group_1: heartbeat:IPaddr2 (built-in IP address agent)",
        "The configuration is valid (add --runnable",
    ] {
        assert!(out.stdout.contains(needle), "{needle:?}:\n{}", out.stdout);
    }
}

#[test]
fn a_good_native_file_is_summarised_and_runnable_here() {
    let dir = Dir::new("good-native");
    let file = native(&dir, &format!("file = \"{}\"\n", dir.path("ib.log")));
    let state = dir.path("state");
    let out = check(&["--config", &file, "--node", "node1"]);
    out.expect(OK);
    assert_no_secret(&out);
    for needle in [
        "fence device node2-bmc (ipmi) for node2 at 198.18.1.2:623",
        "vip: ocf:heartbeat:IPaddr2 (built-in IP address agent)",
        "app: ocf:heartbeat:Dummy",
    ] {
        assert!(out.stdout.contains(needle), "{needle:?}:\n{}", out.stdout);
    }

    let out = check(&[
        "--config",
        &file,
        "--node",
        "node1",
        "--runnable",
        "--state-dir",
        &state,
    ]);
    out.expect(OK);
    assert_no_secret(&out);
    for needle in [
        "  ok    running as root",
        "  ok    this node node1 is in the node list",
        "  ok    interface lo (",
        "  ok    password file ",
        "  ok    resource vip runs a built-in agent (ocf:heartbeat:IPaddr2)",
        "  ok    resource app runs /usr/lib/ocf/resource.d/heartbeat/Dummy",
        "  ok    state directory ",
        "  ok    log file ",
        "and this machine can run it",
    ] {
        assert!(out.stdout.contains(needle), "{needle:?}:\n{}", out.stdout);
    }
}

#[test]
fn every_kind_of_mistake_is_located_with_its_fix() {
    // (name, how to break a good heartbeat directory, expected text)
    type Breaker = fn(&Dir);
    let cases: Vec<(&str, Breaker, &str)> = vec![
        (
            "hacf-syntax",
            |d| {
                let text = std::fs::read_to_string(d.0.join("ha.cf")).unwrap();
                d.write(
                    "ha.cf",
                    &text.replace("deadtime 1s", "deadtime soon"),
                    0o644,
                );
            },
            "ha.cf:4:",
        ),
        (
            "authkeys-mode",
            |d| {
                std::fs::set_permissions(
                    d.0.join("authkeys"),
                    std::fs::Permissions::from_mode(0o644),
                )
                .unwrap();
            },
            "run chmod 600",
        ),
        (
            "haresources",
            |d| {
                d.write("haresources", "node1\n", 0o644);
            },
            "haresources:1: node `node1` is given no resources",
        ),
        (
            "stonith-type",
            |d| {
                let text = std::fs::read_to_string(d.0.join("ha.cf")).unwrap();
                d.write(
                    "ha.cf",
                    &text.replace("external/ipmi", "external/nonesuch"),
                    0o644,
                );
            },
            "ha.cf:7: stonith_host type `external/nonesuch`: ",
        ),
        (
            "password-file-missing",
            |d| {
                std::fs::remove_file(d.0.join("node2.pw")).unwrap();
            },
            "ha.cf:7: cannot read password file",
        ),
        (
            "password-file-mode",
            |d| {
                std::fs::set_permissions(
                    d.0.join("node2.pw"),
                    std::fs::Permissions::from_mode(0o644),
                )
                .unwrap();
            },
            "other users can read the BMC password; run chmod 600",
        ),
        (
            "ipv6-link",
            |d| {
                let text = std::fs::read_to_string(d.0.join("ha.cf")).unwrap();
                d.write(
                    "ha.cf",
                    &text.replace("ucast lo 127.0.0.2", "ucast6 lo ::2"),
                    0o644,
                );
            },
            "IPv6 heartbeat media are not supported",
        ),
        (
            "stonith-directive",
            |d| {
                let text = std::fs::read_to_string(d.0.join("ha.cf")).unwrap();
                d.write(
                    "ha.cf",
                    &format!("{text}stonith baytech /etc/ha.d/baytech.cfg\n"),
                    0o644,
                );
            },
            "ha.cf:8: `stonith baytech /etc/ha.d/baytech.cfg` runs a cluster-glue plugin",
        ),
    ];
    for (name, breaker, needle) in cases {
        let dir = Dir::new(name);
        ha_d(&dir);
        breaker(&dir);
        let ha = dir.0.display().to_string();
        let out = check(&["--ha-d", &ha, "--node", "node1"]);
        out.expect(CONFIG);
        assert!(
            out.stdout.contains(needle),
            "{name}: {needle:?} missing:\n{}",
            out.stdout
        );
        assert!(out.stdout.contains("error: "), "{name}");
        assert!(
            out.stderr.contains("fix them and run"),
            "{name}: {}",
            out.stderr
        );
        assert_no_secret(&out);
    }
}

#[test]
fn errors_of_several_files_are_all_reported() {
    let dir = Dir::new("several");
    ha_d(&dir);
    std::fs::set_permissions(
        dir.0.join("authkeys"),
        std::fs::Permissions::from_mode(0o640),
    )
    .unwrap();
    dir.write("haresources", "node3 IPaddr2::198.18.4.100\n", 0o644);
    let ha = dir.0.display().to_string();
    let out = check(&["--ha-d", &ha, "--node", "node1"]);
    out.expect(CONFIG);
    let errors: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(errors.len(), 2, "{}", out.stdout);
    assert!(errors[0].contains("authkeys"), "{errors:?}");
    assert!(errors[1].contains("haresources:1:"), "{errors:?}");
    assert!(out.stderr.contains("2 error(s)"), "{}", out.stderr);
}

#[test]
fn native_mistakes_are_located() {
    let cases = [
        ("[log]\nlevel = \"loud\"\n", "not a log level", 0),
        ("", "this node \"node9\" is not in `nodes`", 9),
        ("[cluster2]\n", "unknown key `cluster2`", 0),
    ];
    for (i, (extra, needle, node)) in cases.iter().enumerate() {
        let dir = Dir::new(&format!("native-bad-{i}"));
        // `[log]` is the last table: a second [log] would be a TOML error, so
        // the bad level replaces the good one.
        let file = native(&dir, "");
        let text = std::fs::read_to_string(&file).unwrap();
        let text = if extra.starts_with("[log]") {
            text.replace("level = \"info\"", "level = \"loud\"")
        } else {
            format!("{text}{extra}")
        };
        std::fs::write(&file, text).unwrap();
        let node = if *node == 9 { "node9" } else { "node1" };
        let out = check(&["--config", &file, "--node", node]);
        out.expect(CONFIG);
        assert!(out.stdout.contains(needle), "{needle}:\n{}", out.stdout);
        assert!(
            out.stdout.contains(&format!("error: {file}:")),
            "{needle}: no file:line:\n{}",
            out.stdout
        );
    }

    let dir = Dir::new("native-password");
    let file = native(&dir, "");
    std::fs::remove_file(dir.0.join("node2.pass")).unwrap();
    let out = check(&["--config", &file, "--node", "node1"]);
    out.expect(CONFIG);
    assert!(out.stdout.contains("node2.pass"), "{}", out.stdout);
}

#[test]
fn runnable_says_what_this_machine_lacks() {
    let dir = Dir::new("not-runnable");
    let file = native(&dir, "");
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace("iface = \"lo\"", "iface = \"nosuchif0\"")
        .replace("heartbeat:Dummy", "heartbeat:NoSuchAgent")
        .replace(
            "level = \"info\"",
            "level = \"info\"\nfile = \"/nonexistent-ironbeat-dir/ironbeat.log\"",
        );
    std::fs::write(&file, text).unwrap();
    // A state directory under a regular file cannot be created.
    dir.write("plain", "", 0o644);
    let state = dir.0.join("plain").join("state").display().to_string();
    let out = check(&[
        "--config",
        &file,
        "--node",
        "node1",
        "--runnable",
        "--state-dir",
        &state,
    ]);
    out.expect(NOT_RUNNABLE);
    for needle in [
        "  FAIL  interface nosuchif0 (",
        "no interface nosuchif0 on this machine (it has ",
        "  FAIL  resource app runs /usr/lib/ocf/resource.d/heartbeat/NoSuchAgent: not installed",
        "  FAIL  state directory ",
        "  FAIL  log file /nonexistent-ironbeat-dir/ironbeat.log (",
        "its directory does not exist; create /nonexistent-ironbeat-dir",
        "  ok    resource vip runs a built-in agent",
    ] {
        assert!(out.stdout.contains(needle), "{needle:?}:\n{}", out.stdout);
    }
    assert!(
        out.stderr.contains("4 check(s) of this machine failed"),
        "{}",
        out.stderr
    );

    // Without --runnable the same file is valid.
    check(&["--config", &file, "--node", "node1"]).expect(OK);
}

#[test]
fn a_two_node_cluster_without_fencing_is_warned_about() {
    let dir = Dir::new("nofence");
    ha_d(&dir);
    let text = std::fs::read_to_string(dir.0.join("ha.cf")).unwrap();
    let text: String = text
        .lines()
        .filter(|l| !l.starts_with("stonith_host"))
        .map(|l| format!("{l}\n"))
        .collect();
    dir.write("ha.cf", &text, 0o644);
    let ha = dir.0.display().to_string();
    let out = check(&["--ha-d", &ha, "--node", "node1"]);
    out.expect(OK);
    assert!(
        out.stdout.contains("warning: ") && out.stdout.contains("two-node cluster without fencing"),
        "{}",
        out.stdout
    );

    // A stonith_host line for a node that is not a peer fences nobody.
    ha_d(&dir);
    let text = std::fs::read_to_string(dir.0.join("ha.cf")).unwrap();
    dir.write("ha.cf", &text.replace("ipmi node2", "ipmi node3"), 0o644);
    let out = check(&["--ha-d", &ha, "--node", "node1"]);
    out.expect(OK);
    assert!(
        out.stdout
            .contains("no stonith_host line is usable by node1")
            && out.stdout.contains("two-node cluster without fencing"),
        "{}",
        out.stdout
    );
}

#[test]
fn directives_without_effect_are_named() {
    let dir = Dir::new("no-effect");
    ha_d(&dir);
    let text = std::fs::read_to_string(dir.0.join("ha.cf")).unwrap();
    dir.write(
        "ha.cf",
        &format!(
            "{text}watchdog /dev/watchdog\nping 198.18.0.254\nrespawn hacluster /usr/lib/heartbeat/ipfail\nuse_logd yes\n"
        ),
        0o644,
    );
    let ha = dir.0.display().to_string();
    let out = check(&["--ha-d", &ha, "--node", "node1"]);
    out.expect(OK);
    // The watchdog is armed now (docs/watchdog.md): summarised, no warning.
    assert!(
        out.stdout.contains("watchdog /dev/watchdog (timeout 10s")
            && !out.stdout.contains("ha.cf:8:"),
        "{}",
        out.stdout
    );
    for needle in [
        "ha.cf:10: `respawn` children are not run by ironbeat",
        "ha.cf:11: `use_logd` has no effect",
    ] {
        assert!(
            out.stdout.contains(&format!("warning: {}", dir.path(""))),
            "{}",
            out.stdout
        );
        assert!(out.stdout.contains(needle), "{needle:?}:\n{}", out.stdout);
    }
    // Ping nodes are used (connectivity): no warning for them.
    assert!(!out.stdout.contains("ha.cf:9:"), "{}", out.stdout);
}

#[test]
fn a_missing_directory_says_where_to_point() {
    let out = check(&["--ha-d", "/nonexistent/ha.d", "--node", "node1"]);
    out.expect(CONFIG);
    assert!(
        out.stdout.contains("/nonexistent/ha.d/ha.cf"),
        "{}",
        out.stdout
    );
}

#[test]
fn runnable_checks_that_ping_nodes_resolve() {
    let dir = Dir::new("ping-names");
    ha_d(&dir);
    let text = std::fs::read_to_string(dir.0.join("ha.cf")).unwrap();
    let ha = dir.0.display().to_string();
    let state = dir.0.join("state").display().to_string();
    let runnable = || {
        check(&[
            "--ha-d",
            &ha,
            "--node",
            "node1",
            "--runnable",
            "--state-dir",
            &state,
        ])
    };
    dir.write("ha.cf", &format!("{text}ping 198.18.0.254\n"), 0o644);
    let out = runnable();
    assert!(
        out.stdout
            .contains("  ok    every ping node resolves to an address"),
        "{}",
        out.stdout
    );
    dir.write(
        "ha.cf",
        &format!("{text}ping 198.18.0.254 no-such-host.invalid\n"),
        0o644,
    );
    let out = runnable();
    out.expect(NOT_RUNNABLE);
    assert!(
        out.stdout
            .contains("  FAIL  every ping node resolves to an address: ")
            && out
                .stdout
                .contains("ha.cf:8: ping node no-such-host.invalid"),
        "{}",
        out.stdout
    );
}
