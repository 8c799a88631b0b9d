//! Whether this machine can run a hardware test, and what to do when it cannot.
//!
//! Hardware tests need root (namespaces, raw sockets) and a few tools. Without
//! them a test prints a loud `SKIPPED:` line and passes, so `cargo test` works
//! for anyone — except in CI (`CI=true`) or with `IBT_REQUIRE=1`, where a missing
//! prerequisite fails the test: there the hardware tests must run.

use std::io::Write;
use std::process::Command;
use std::sync::OnceLock;

use crate::cmd;

/// Tools that every namespace test uses.
pub const BASE_TOOLS: &[&str] = &["ip", "sysctl"];

/// Checks root, network namespaces and `tools` on PATH. Returns `true` when
/// the test can run; otherwise prints `SKIPPED: <test>: <why>` and returns
/// `false` — or panics when running in CI, where skipping is not allowed.
pub fn can_run(test: &str, tools: &[&str]) -> bool {
    let verdict = namespaces_work()
        .clone()
        .and_then(|()| missing_tools(BASE_TOOLS.iter().chain(tools)))
        .and_then(|()| binary_built());
    match verdict {
        Ok(()) => {
            crate::netns::sweep_stale();
            true
        }
        Err(why) => skip(test, &why),
    }
}

/// For tests that need only the `ironbeat` binary (no root): `true` when it
/// is built; otherwise skips (or fails in CI) like [`can_run`].
pub fn has_binary(test: &str) -> bool {
    match binary_built() {
        Ok(()) => true,
        Err(why) => skip(test, &why),
    }
}

fn binary_built() -> Result<(), String> {
    crate::binary::ironbeat()
        .map(drop)
        .map_err(|e| e.to_string())
}

fn skip(test: &str, why: &str) -> bool {
    if required() {
        panic!(
            "{test}: {why} — hardware tests must run here (CI=true or IBT_REQUIRE=1); \
             run scripts/install-test-deps.sh as root"
        );
    }
    // Straight to the stderr handle: libtest captures print!/eprint! of
    // passing tests, and a skip must be seen.
    let _ = std::io::stderr().write_all(
        format!(
            "\nSKIPPED: {test}: {why}\n  (run as root with the binary built: \
             sudo ./scripts/test-all.sh)\n"
        )
        .as_bytes(),
    );
    false
}

/// Whether a skip must be a failure instead (CI, or `IBT_REQUIRE=1`).
pub fn required() -> bool {
    let set = |name: &str| {
        std::env::var(name)
            .map(|v| !v.is_empty() && v != "0" && v != "false")
            .unwrap_or(false)
    };
    set("CI") || set("IBT_REQUIRE")
}

/// Whether `tool` is an executable on PATH (or an absolute path that exists).
pub fn has_tool(tool: &str) -> bool {
    if tool.contains('/') {
        return std::path::Path::new(tool).exists();
    }
    std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|dir| dir.join(tool).is_file()))
        .unwrap_or(false)
}

fn missing_tools<'a>(tools: impl Iterator<Item = &'a &'a str>) -> Result<(), String> {
    let missing: Vec<&str> = tools.copied().filter(|t| !has_tool(t)).collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "missing tools: {} (scripts/install-test-deps.sh installs them)",
            missing.join(", ")
        ))
    }
}

fn namespaces_work() -> &'static Result<(), String> {
    static VERDICT: OnceLock<Result<(), String>> = OnceLock::new();
    VERDICT.get_or_init(|| {
        if !nix::unistd::geteuid().is_root() {
            return Err("needs root (network namespaces, raw sockets)".into());
        }
        if !has_tool("ip") {
            return Err("missing tool: ip (package iproute2)".into());
        }
        let probe = format!("ibt-probe-{}", std::process::id());
        let created = cmd::run(
            Command::new("ip").args(["netns", "add", &probe]),
            cmd::SHORT,
        );
        let ok = matches!(&created, Ok(out) if out.status.success());
        let _ = cmd::run(
            Command::new("ip").args(["netns", "del", &probe]),
            cmd::SHORT,
        );
        if ok {
            Ok(())
        } else {
            let detail = match created {
                Ok(out) => out.stderr.trim().to_string(),
                Err(e) => e.to_string(),
            };
            Err(format!("cannot create network namespaces: {detail}"))
        }
    })
}
