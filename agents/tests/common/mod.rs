//! Shared helpers: run agent code inside a network namespace the test made.

#![allow(dead_code)]

use std::future::Future;
use std::time::Duration;

use ironbeat_agents::{AgentSpec, Class};
use ironbeat_hw_tests::Netns;

/// Runs `f` on a current-thread runtime in a thread that joined `ns`'s
/// network namespace: netlink and packet sockets, and children, live there.
pub fn in_ns<T, F, Fut>(ns: &Netns, f: F) -> T
where
    T: Send + 'static,
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = T>,
{
    let path = format!("/run/netns/{}", ns.name());
    std::thread::spawn(move || {
        let file = std::fs::File::open(&path).expect("open netns");
        nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(f())
    })
    .join()
    .expect("namespace thread panicked")
}

/// A spec of `class[:provider]:agent` with `params`.
pub fn spec(
    id: &str,
    class: Class,
    provider: Option<&str>,
    agent: &str,
    params: &[(&str, &str)],
) -> AgentSpec {
    AgentSpec {
        id: id.to_string(),
        class,
        provider: provider.map(str::to_string),
        agent: agent.to_string(),
        params: params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        builtin: true,
    }
}

/// The usual operation timeout in tests.
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// Whether this machine can run `test`: root when `root`, and every one of
/// `tools` (names on PATH or absolute paths). Otherwise prints
/// `SKIPPED: test: why` and returns false — or panics in CI / with
/// `IBT_REQUIRE=1`, where these tests must run.
pub fn can_run(test: &str, root: bool, tools: &[&str]) -> bool {
    use std::io::Write;
    let mut missing: Vec<String> = tools
        .iter()
        .filter(|t| !ironbeat_hw_tests::env::has_tool(t))
        .map(|t| t.to_string())
        .collect();
    if root && !nix::unistd::Uid::effective().is_root() {
        missing.insert(0, "root".to_string());
    }
    if missing.is_empty() {
        if root {
            ironbeat_hw_tests::netns::sweep_stale();
        }
        return true;
    }
    let why = format!(
        "needs {} (run scripts/install-test-deps.sh as root)",
        missing.join(", ")
    );
    if ironbeat_hw_tests::env::required() {
        panic!("{test}: {why}");
    }
    let _ = std::io::stderr().write_all(format!("\nSKIPPED: {test}: {why}\n").as_bytes());
    false
}

/// The real OCF scripts of resource-agents.
pub const OCF_DUMMY: &str = "/usr/lib/ocf/resource.d/heartbeat/Dummy";
/// The real OCF IPaddr2 script.
pub const OCF_IPADDR2: &str = "/usr/lib/ocf/resource.d/heartbeat/IPaddr2";
