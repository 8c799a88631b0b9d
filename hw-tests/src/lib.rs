//! ironbeat-hw-tests: tests of ironbeat against real kernels and real peers.
//!
//! The unit tests of each crate drive the sans-I/O cores on a fake clock. This
//! crate proves the same code on real kernels: it builds small networks out of
//! Linux network namespaces and veth pairs ("crossover cables"), joins nodes by
//! pty pairs ("null-modem cables"), runs the real `ironbeat` binary in them and
//! reads its JSON-lines events.
//!
//! # Building blocks
//!
//! | module | what |
//! |---|---|
//! | [`env`] | privilege and tool checks: tests SKIP loudly without root, but must run in CI |
//! | [`cmd`] | running commands with a deadline |
//! | [`netns`] | [`Netns`], [`Cable`] (crossover cable, `pull`/`plug`), [`Bridge`], address plan |
//! | [`pty`] | [`PtyPair`]: two ptys joined by socat, a null-modem cable |
//! | [`hadir`] | [`HaDir`]: writes a node's `/etc/ha.d`-style directory |
//! | [`watcher`] | [`Watcher`]: `ironbeat link watch --json` in a namespace, events with timestamps |
//! | [`inject`] | runs code inside a namespace: capture frames, send forged ones |
//! | [`binary`] | finds the `ironbeat` binary built by `scripts/test-all.sh` |
//! | [`legacy`] | heartbeat 3.0.6, the legacy peer of the benchmark |
//! | [`redfish`] | Redfish peers: our minibmc fixture, sushy-tools, lab certificates, black holes |
//! | [`resources`] | CPU and memory of a process from `/proc` |
//! | [`tcpdump`] | tcpdump as an independent decoder of what we send |
//! | [`snmpd`] | net-snmp snmpd as a simulated APC PDU (v1/v2c/v3), on loopback or in a namespace |
//! | [`topology`] | [`topology::Pair`]: the two-node lab (cables, null modem, ha.d dirs) |
//!
//! # Rules every test follows
//!
//! * Names are unique per process: namespaces are `ibt-<tag>-<pid>-<role>`, so
//!   tests run in parallel and leftovers of a crashed run are recognised
//!   ([`netns::sweep_stale`]) and removed.
//! * Addresses come from 198.18.0.0/15 (RFC 2544 benchmarking space), one /24
//!   per cable ([`netns::Subnet::next`]); IPv6 tests use 2001:2::/48 (RFC 5180).
//!   Nothing leaves the namespaces a test creates.
//! * Every wait has a deadline; every `Drop` kills only the processes this
//!   harness started (by PID) and deletes only its own namespaces, also when a
//!   test panics.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod binary;
pub mod cmd;
pub mod env;
pub mod hadir;
pub mod inject;
pub mod ipmi_sim;
pub mod legacy;
pub mod measure;
pub mod netns;
pub mod pty;
pub mod qemu;
pub mod redfish;
pub mod resources;
pub mod snmpd;
pub mod tcpdump;
pub mod topology;
pub mod watcher;

pub use hadir::{HaDir, Medium, NodeConfig};
pub use netns::{Bridge, Cable, Netns, Subnet};
pub use pty::PtyPair;
pub use watcher::{Event, WatchSpec, Watcher};

/// The harness's result type: errors carry enough context to debug a failed run.
pub type Result<T> = anyhow::Result<T>;

/// Microseconds since the Unix epoch, the clock of the `ts_us` event field.
pub fn unix_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// A per-process scratch directory under `/tmp` for a test's files
/// (`/tmp/ibt-<tag>-<pid>`), removed on drop.
#[derive(Debug)]
pub struct Scratch {
    path: std::path::PathBuf,
}

impl Scratch {
    /// Creates (empty) `/tmp/ibt-<tag>-<pid>`.
    pub fn new(tag: &str) -> Result<Self> {
        let path = std::env::temp_dir().join(format!("ibt-{tag}-{}", std::process::id()));
        if path.exists() {
            std::fs::remove_dir_all(&path)?;
        }
        std::fs::create_dir_all(&path)?;
        Ok(Scratch { path })
    }

    /// The directory.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    /// A path inside the directory.
    pub fn join(&self, name: &str) -> std::path::PathBuf {
        self.path.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::env::var_os("IBT_KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}
