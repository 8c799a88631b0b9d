//! Writes a node's `/etc/ha.d`-style directory: `ha.cf` and `authkeys`.
//!
//! The files use heartbeat's syntax, which ironbeat reads unchanged, plus our
//! `ether IFACE` medium (raw Ethernet). Order follows ha.cf(5): timers and
//! `udpport`/`baud` before the media lines, `node` lines last.

use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::Result;

/// One heartbeat medium, as an ha.cf line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Medium {
    /// `ucast IF PEER` — UDP to the peer's address.
    Ucast {
        /// Interface.
        iface: String,
        /// The peer's address.
        peer: Ipv4Addr,
    },
    /// `mcast IF GROUP PORT TTL LOOP`.
    Mcast {
        /// Interface.
        iface: String,
        /// Multicast group.
        group: Ipv4Addr,
        /// UDP port.
        port: u16,
    },
    /// `bcast IF` — UDP to the interface broadcast address.
    Bcast {
        /// Interface.
        iface: String,
    },
    /// `ether IF` — raw Ethernet frames (ironbeat's own medium).
    Ether {
        /// Interface.
        iface: String,
    },
    /// `serial DEV` — a serial line (a `baud` line precedes it).
    Serial {
        /// The tty.
        device: PathBuf,
    },
}

impl Medium {
    /// The ha.cf line, which is also the path name `ironbeat link watch` reports.
    pub fn line(&self) -> String {
        match self {
            Medium::Ucast { iface, peer } => format!("ucast {iface} {peer}"),
            Medium::Mcast { iface, group, port } => format!("mcast {iface} {group} {port} 1 0"),
            Medium::Bcast { iface } => format!("bcast {iface}"),
            Medium::Ether { iface } => format!("ether {iface}"),
            Medium::Serial { device } => format!("serial {}", device.display()),
        }
    }
}

/// What goes into one node's ha.cf and authkeys.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// This node's name (`--node`).
    pub node: String,
    /// Every node of the cluster, this one included (`node` lines).
    pub nodes: Vec<String>,
    /// `keepalive`, e.g. `50ms`.
    pub keepalive: String,
    /// `warntime`.
    pub warntime: String,
    /// `deadtime`.
    pub deadtime: String,
    /// `initdead`.
    pub initdead: String,
    /// `udpport`.
    pub udpport: u16,
    /// `baud` for serial media.
    pub baud: u32,
    /// The media, in order.
    pub media: Vec<Medium>,
    /// `cluster NAME`, if set (default: none written).
    pub cluster: Option<String>,
    /// The authkeys file's text.
    pub authkeys: String,
}

/// The shared secret of test clusters.
pub const TEST_SECRET: &str = "ibt-lab-secret-0123456789";

impl NodeConfig {
    /// A test node: keepalive 50 ms, warntime 150 ms, deadtime 250 ms,
    /// initdead 2 s, udpport 694, baud 115200, key 1 sha256 [`TEST_SECRET`].
    pub fn new(node: &str, nodes: &[&str]) -> Self {
        NodeConfig {
            node: node.to_string(),
            nodes: nodes.iter().map(|n| n.to_string()).collect(),
            keepalive: "50ms".into(),
            warntime: "150ms".into(),
            deadtime: "250ms".into(),
            initdead: "2s".into(),
            udpport: 694,
            baud: 115_200,
            media: Vec::new(),
            cluster: None,
            authkeys: format!("auth 1\n1 sha256 {TEST_SECRET}\n"),
        }
    }

    /// Sets the four timers.
    pub fn timing(
        mut self,
        keepalive: &str,
        warntime: &str,
        deadtime: &str,
        initdead: &str,
    ) -> Self {
        self.keepalive = keepalive.into();
        self.warntime = warntime.into();
        self.deadtime = deadtime.into();
        self.initdead = initdead.into();
        self
    }

    /// Adds a medium.
    pub fn medium(mut self, medium: Medium) -> Self {
        self.media.push(medium);
        self
    }

    /// The ha.cf text.
    pub fn ha_cf(&self) -> String {
        let mut t = String::new();
        let _ = writeln!(
            t,
            "# ha.cf for {} — written by ironbeat-hw-tests",
            self.node
        );
        if let Some(c) = &self.cluster {
            let _ = writeln!(t, "cluster {c}");
        }
        let _ = writeln!(t, "keepalive {}", self.keepalive);
        let _ = writeln!(t, "warntime {}", self.warntime);
        let _ = writeln!(t, "deadtime {}", self.deadtime);
        let _ = writeln!(t, "initdead {}", self.initdead);
        let _ = writeln!(t, "udpport {}", self.udpport);
        if self
            .media
            .iter()
            .any(|m| matches!(m, Medium::Serial { .. }))
        {
            let _ = writeln!(t, "baud {}", self.baud);
        }
        for m in &self.media {
            let _ = writeln!(t, "{}", m.line());
        }
        for n in &self.nodes {
            let _ = writeln!(t, "node {n}");
        }
        t
    }

    /// The path names `ironbeat link watch` reports for this node's media.
    pub fn path_names(&self) -> Vec<String> {
        self.media.iter().map(Medium::line).collect()
    }
}

/// A written ha.d directory (kept until the test's scratch directory goes).
#[derive(Debug, Clone)]
pub struct HaDir {
    /// The directory (`--ha-d`).
    pub path: PathBuf,
}

impl HaDir {
    /// Writes `config` into `dir` (created): ha.cf 0644, authkeys 0600.
    pub fn write(dir: &Path, config: &NodeConfig) -> Result<Self> {
        Self::write_raw(dir, &config.ha_cf(), &config.authkeys, 0o600)
    }

    /// Writes the two files verbatim, authkeys with permission bits `mode`.
    pub fn write_raw(dir: &Path, ha_cf: &str, authkeys: &str, mode: u32) -> Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        std::fs::write(dir.join("ha.cf"), ha_cf)?;
        let keys = dir.join("authkeys");
        std::fs::write(&keys, authkeys)?;
        std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(mode))?;
        Ok(HaDir {
            path: dir.to_path_buf(),
        })
    }
}
