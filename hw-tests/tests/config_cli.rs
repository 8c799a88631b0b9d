//! Bad configuration through the real binary: `ironbeat link watch` must
//! refuse to start, exit non-zero, and name the file and line to fix.
//!
//! A sample of each kind of error (the config layer's unit tests are the
//! exhaustive ones): unknown directive, malformed value, missing value,
//! timer rules, authkeys syntax and permissions, native TOML unknown key.
//! No root needed: the binary stops before it opens any socket.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::Duration;

use ironbeat_hw_tests::hadir::TEST_SECRET;
use ironbeat_hw_tests::{binary, cmd, env, HaDir, Scratch};

const KEYS: &str = "auth 1\n1 sha256 some-long-secret-value\n";

/// A valid ha.cf; cases replace one of its lines.
const GOOD: &[&str] = &[
    "# line 1: comment",
    "keepalive 100ms",
    "warntime 300ms",
    "deadtime 500ms",
    "initdead 2s",
    "udpport 694",
    "ucast eth0 198.18.200.2",
    "node node1",
    "node node2",
];

/// Runs `ironbeat link watch ARGS` and returns (exit code, stderr); the
/// process must stop by itself within 10 s.
fn watch(args: &[&str]) -> (i32, String) {
    let bin = binary::ironbeat().unwrap();
    let out = cmd::run(
        Command::new(bin)
            .args(["link", "watch", "--node", "node1"])
            .args(args),
        Duration::from_secs(10),
    )
    .expect("a bad config must make ironbeat exit, not run");
    (out.status.code().unwrap_or(-1), out.stderr)
}

fn ha_d_case(name: &str, ha_cf: &str, authkeys: &str, mode: u32) -> (i32, String, String) {
    let scratch = Scratch::new(&format!("cfg{name}")).unwrap();
    let dir = HaDir::write_raw(&scratch.join("ha.d"), ha_cf, authkeys, mode).unwrap();
    let state = scratch.join("state");
    let (code, stderr) = watch(&[
        "--ha-d",
        dir.path.to_str().unwrap(),
        "--state-dir",
        state.to_str().unwrap(),
    ]);
    (code, stderr, dir.path.display().to_string())
}

/// The GOOD file with line `line` (1-based) replaced.
fn with_line(line: usize, text: &str) -> String {
    let mut lines: Vec<&str> = GOOD.to_vec();
    lines[line - 1] = text;
    lines.join("\n") + "\n"
}

fn assert_located(
    case: &str,
    code: i32,
    stderr: &str,
    file: &str,
    lines: &[usize],
    words: &[&str],
) {
    assert_ne!(code, 0, "{case}: must fail; stderr: {stderr}");
    assert!(
        lines
            .iter()
            .any(|l| stderr.contains(&format!("{file}:{l}:"))),
        "{case}: error must point at {file}:{lines:?}; got: {stderr}"
    );
    for w in words {
        assert!(
            stderr.contains(w),
            "{case}: error should mention {w:?}; got: {stderr}"
        );
    }
}

#[test]
fn ha_cf_errors_name_file_and_line() {
    if !env::has_binary("config_cli::ha_cf_errors_name_file_and_line") {
        return;
    }
    let cases: &[(&str, usize, &str, &[&str])] = &[
        ("unknown", 6, "frobnicate yes", &["frobnicate"]),
        ("badduration", 2, "keepalive 5x", &["keepalive"]),
        ("missingarg", 7, "ucast eth0", &["ucast"]),
        (
            "badgroup",
            7,
            "mcast eth0 198.18.0.9 694 1 0",
            &["multicast"],
        ),
        ("badport", 6, "udpport 70000", &["udpport"]),
    ];
    for (name, line, text, words) in cases {
        let (code, stderr, dir) = ha_d_case(name, &with_line(*line, text), KEYS, 0o600);
        assert_located(
            name,
            code,
            &stderr,
            &format!("{dir}/ha.cf"),
            &[*line],
            words,
        );
    }
}

#[test]
fn timer_rules_blame_the_timer_lines() {
    if !env::has_binary("config_cli::timer_rules_blame_the_timer_lines") {
        return;
    }
    // deadtime must exceed 2 × keepalive: blame deadtime (line 4) or keepalive (line 2).
    let (code, stderr, dir) = ha_d_case("dead2ka", &with_line(4, "deadtime 150ms"), KEYS, 0o600);
    assert_located(
        "deadtime ≤ 2×keepalive",
        code,
        &stderr,
        &format!("{dir}/ha.cf"),
        &[4, 2],
        &["deadtime"],
    );
    // warntime must be below deadtime.
    let (code, stderr, dir) = ha_d_case("warn", &with_line(3, "warntime 600ms"), KEYS, 0o600);
    assert_located(
        "warntime ≥ deadtime",
        code,
        &stderr,
        &format!("{dir}/ha.cf"),
        &[3, 4],
        &["warntime"],
    );
}

#[test]
fn authkeys_errors_name_the_file() {
    if !env::has_binary("config_cli::authkeys_errors_name_the_file") {
        return;
    }
    let good = with_line(1, "# ok");
    let (code, stderr, dir) = ha_d_case("method", &good, "auth 1\n1 rot13 secret\n", 0o600);
    assert_located(
        "unknown method",
        code,
        &stderr,
        &format!("{dir}/authkeys"),
        &[2],
        &["rot13"],
    );
    let (code, stderr, dir) = ha_d_case("noactive", &good, "auth 2\n1 sha256 secret\n", 0o600);
    assert_located(
        "active key undefined",
        code,
        &stderr,
        &format!("{dir}/authkeys"),
        &[1, 2],
        &[],
    );

    // World-readable keys: refused, with the chmod that fixes it (root bypasses
    // nothing here: the check is on the mode bits, as heartbeat's).
    let (code, stderr, dir) = ha_d_case(
        "mode",
        &good,
        &format!("auth 1\n1 sha256 {TEST_SECRET}\n"),
        0o644,
    );
    assert_ne!(code, 0, "authkeys 0644 must be refused: {stderr}");
    assert!(stderr.contains(&format!("{dir}/authkeys")), "{stderr}");
    assert!(
        stderr.contains("chmod 600") || stderr.contains("0600"),
        "{stderr}"
    );
}

#[test]
fn native_toml_unknown_key_names_file_and_line() {
    if !env::has_binary("config_cli::native_toml_unknown_key_names_file_and_line") {
        return;
    }
    let scratch = Scratch::new("cfgtoml").unwrap();
    let keys = scratch.join("authkeys");
    std::fs::write(&keys, KEYS).unwrap();
    std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o600)).unwrap();
    let file = scratch.join("ironbeat.toml");
    let text = "[cluster]\nnodes = [\"node1\", \"node2\"]\n\n[timing]\nkeepalive = \"100ms\"\nkeeplive = \"1s\"\n";
    std::fs::write(&file, text).unwrap();
    let state = scratch.join("state");
    let (code, stderr) = watch(&[
        "--config",
        file.to_str().unwrap(),
        "--state-dir",
        state.to_str().unwrap(),
    ]);
    assert_located(
        "toml unknown key",
        code,
        &stderr,
        file.to_str().unwrap(),
        &[6],
        &["keeplive"],
    );
}

#[test]
fn missing_directory_is_an_error_not_a_hang() {
    if !env::has_binary("config_cli::missing_directory_is_an_error_not_a_hang") {
        return;
    }
    let scratch = Scratch::new("cfgmissing").unwrap();
    let state = scratch.join("state");
    let (code, stderr) = watch(&[
        "--ha-d",
        "/nonexistent/ibt-ha.d",
        "--state-dir",
        state.to_str().unwrap(),
    ]);
    assert_ne!(code, 0);
    assert!(stderr.contains("/nonexistent/ibt-ha.d"), "{stderr}");
}
