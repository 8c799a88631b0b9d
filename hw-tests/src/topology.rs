//! The two-node lab most link tests and the benchmark use.
//!
//! ```text
//!   ibt-<tag>-<pid>-n1 (node1)                         ibt-<tag>-<pid>-n2 (node2)
//!     eth0 198.18.a.1  ══ cable c0 (ucast, mcast, bcast) ══  eth0 198.18.a.2
//!     eth1 198.18.b.1  ══ cable c1 (ether)               ══  eth1 198.18.b.2
//!     <scratch>/ttyA   ── socat null-modem (serial)      ──  <scratch>/ttyB
//! ```
//!
//! Every piece is optional ([`Media`]); files live in `/tmp/ibt-<tag>-<pid>/`.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use crate::hadir::{HaDir, Medium, NodeConfig};
use crate::netns::{Cable, Netns, Subnet};
use crate::pty::PtyPair;
use crate::watcher::{WatchSpec, Watcher};
use crate::{Result, Scratch};

/// Which media the two nodes share.
#[derive(Debug, Clone, Copy, Default)]
pub struct Media {
    /// `ucast eth0 PEER`.
    pub ucast: bool,
    /// `mcast eth0 GROUP 694 1 0`.
    pub mcast: bool,
    /// `bcast eth0`.
    pub bcast: bool,
    /// `ether eth1` on a second cable.
    pub ether: bool,
    /// `serial` over a pty pair.
    pub serial: bool,
}

impl Media {
    /// All five media.
    pub const ALL: Media = Media {
        ucast: true,
        mcast: true,
        bcast: true,
        ether: true,
        serial: true,
    };
    /// UDP unicast only.
    pub const UCAST: Media = Media {
        ucast: true,
        mcast: false,
        bcast: false,
        ether: false,
        serial: false,
    };
    /// The serial line only.
    pub const SERIAL: Media = Media {
        ucast: false,
        mcast: false,
        bcast: false,
        ether: false,
        serial: true,
    };
}

/// Liveness timers for a lab, as ha.cf strings.
#[derive(Debug, Clone)]
pub struct Timers {
    /// `keepalive`.
    pub keepalive: Duration,
    /// `warntime`.
    pub warntime: Duration,
    /// `deadtime`.
    pub deadtime: Duration,
    /// `initdead`.
    pub initdead: Duration,
}

impl Timers {
    /// The tests' timers: 50 ms / 150 ms / 250 ms, initdead 2 s.
    pub fn test() -> Self {
        Timers {
            keepalive: Duration::from_millis(50),
            warntime: Duration::from_millis(150),
            deadtime: Duration::from_millis(250),
            initdead: Duration::from_secs(2),
        }
    }

    /// Keepalive `k` ms, deadtime `d` ms, warntime `d·3/5`, initdead 2 s.
    pub fn millis(k: u64, d: u64) -> Self {
        Timers {
            keepalive: Duration::from_millis(k),
            warntime: Duration::from_millis(d * 3 / 5),
            deadtime: Duration::from_millis(d),
            initdead: Duration::from_secs(2),
        }
    }
}

fn ms(d: Duration) -> String {
    format!("{}ms", d.as_millis())
}

/// The multicast group of the labs (administratively scoped, stays on the cable).
pub const MCAST_GROUP: Ipv4Addr = Ipv4Addr::new(239, 198, 18, 4);

/// Two nodes joined by the chosen media.
#[derive(Debug)]
pub struct Pair {
    /// node1's namespace.
    pub n1: Netns,
    /// node2's namespace.
    pub n2: Netns,
    /// The eth0 cable (UDP media), if any.
    pub c0: Option<Cable>,
    /// The eth1 cable (raw Ethernet), if any.
    pub c1: Option<Cable>,
    /// The null-modem cable, if any.
    pub pty: Option<PtyPair>,
    /// The two nodes' configurations.
    pub configs: [NodeConfig; 2],
    /// How to start each node.
    pub specs: [WatchSpec; 2],
    /// The timers.
    pub timers: Timers,
    /// Scratch directory (last: removed after everything else is gone).
    pub scratch: Scratch,
}

/// The node names.
pub const NODES: [&str; 2] = ["node1", "node2"];

impl Pair {
    /// Builds the namespaces, cables, pty pair and ha.d directories.
    pub fn build(tag: &str, media: Media, timers: Timers) -> Result<Self> {
        let scratch = Scratch::new(tag)?;
        let n1 = Netns::new(tag, "n1")?;
        let n2 = Netns::new(tag, "n2")?;
        let c0 = if media.ucast || media.mcast || media.bcast {
            Some(Cable::connect(tag, "c0", &n1, "eth0", &n2, "eth0")?)
        } else {
            None
        };
        let c1 = if media.ether {
            Some(Cable::connect(tag, "c1", &n1, "eth1", &n2, "eth1")?)
        } else {
            None
        };
        let pty = if media.serial {
            Some(PtyPair::new(scratch.path(), "tty")?)
        } else {
            None
        };
        let mut configs = Vec::new();
        let mut specs = Vec::new();
        for (i, ns) in [&n1, &n2].into_iter().enumerate() {
            let me = NODES[i];
            let mut cfg = NodeConfig::new(me, &NODES).timing(
                &ms(timers.keepalive),
                &ms(timers.warntime),
                &ms(timers.deadtime),
                &ms(timers.initdead),
            );
            if let Some(c) = &c0 {
                let peer = if i == 0 { c.b_addr() } else { c.a_addr() };
                if media.ucast {
                    cfg = cfg.medium(Medium::Ucast {
                        iface: "eth0".into(),
                        peer,
                    });
                }
                if media.mcast {
                    cfg = cfg.medium(Medium::Mcast {
                        iface: "eth0".into(),
                        group: MCAST_GROUP,
                        port: 694,
                    });
                }
                if media.bcast {
                    cfg = cfg.medium(Medium::Bcast {
                        iface: "eth0".into(),
                    });
                }
            }
            if c1.is_some() {
                cfg = cfg.medium(Medium::Ether {
                    iface: "eth1".into(),
                });
            }
            if let Some(p) = &pty {
                let device: PathBuf = if i == 0 { p.a() } else { p.b() }.to_path_buf();
                cfg = cfg.medium(Medium::Serial { device });
            }
            let dir = scratch.join(me);
            let ha = HaDir::write(&dir.join("ha.d"), &cfg)?;
            specs.push(WatchSpec::new(ns, ha.path, me, dir.join("state")));
            configs.push(cfg);
        }
        let [cfg1, cfg2]: [NodeConfig; 2] = configs
            .try_into()
            .map_err(|_| anyhow::anyhow!("two configs"))?;
        let [spec1, spec2]: [WatchSpec; 2] =
            specs.try_into().map_err(|_| anyhow::anyhow!("two specs"))?;
        Ok(Pair {
            n1,
            n2,
            c0,
            c1,
            pty,
            configs: [cfg1, cfg2],
            specs: [spec1, spec2],
            timers,
            scratch,
        })
    }

    /// Starts node `i` (0 or 1) and waits for its `started` event.
    pub fn start(&self, i: usize) -> Result<Watcher> {
        let w = Watcher::spawn(&self.specs[i])?;
        w.wait_started(Duration::from_secs(10))?;
        Ok(w)
    }

    /// The path names node `i` reports (its ha.cf media lines).
    pub fn path_names(&self, i: usize) -> Vec<String> {
        self.configs[i].path_names()
    }

    /// The subnet of cable c0 (UDP media).
    pub fn subnet0(&self) -> Option<Subnet> {
        self.c0.as_ref().map(|c| c.subnet)
    }
}
