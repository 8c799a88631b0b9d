//! A classic `/etc/ha.d` for every node of a lab (`ha.cf`, `haresources`,
//! `authkeys`), and the [`Starter`] that runs `ironbeat run` on it: what the
//! demo, the cluster test suite and the benchmark's ironbeat rows share.

use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};

use super::{write_secret, DaemonPid, Lab, Node, NodeCommand, Starter, BMC_USER};

/// Which cluster links the nodes use (each needs the matching lab part).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Links {
    /// `ucast eth0 PEER`, one line per peer.
    pub ucast: bool,
    /// `bcast eth0`.
    pub bcast: bool,
    /// `ether IF` on every crossover cable (needs [`super::LabSpec::crossover`]).
    pub ether: bool,
    /// `serial TTY` on the null-modem cable (needs [`super::LabSpec::null_modem`]).
    pub serial: bool,
}

impl Links {
    /// UDP unicast on the LAN only.
    pub const UCAST: Links = Links {
        ucast: true,
        bcast: false,
        ether: false,
        serial: false,
    };
    /// Every kind: ucast + bcast on the LAN, raw Ethernet, serial.
    pub const ALL: Links = Links {
        ucast: true,
        bcast: true,
        ether: true,
        serial: true,
    };
}

/// The cluster's settings, written to every node's `/etc/ha.d`.
#[derive(Debug, Clone)]
pub struct HaConfig {
    /// `keepalive`.
    pub keepalive: Duration,
    /// `warntime`.
    pub warntime: Duration,
    /// `deadtime`.
    pub deadtime: Duration,
    /// `initdead`.
    pub initdead: Duration,
    /// The links.
    pub links: Links,
    /// `auto_failback on|off`.
    pub auto_failback: bool,
    /// A `stonith_host` line per node for its lab BMC (IPMI, lanplus).
    pub fencing: bool,
    /// One `stonith_host * meatware NODES…` line: fencing by hand, an
    /// operator confirms with `ironbeat fence confirm NODE`.
    pub manual_fencing: bool,
    /// The `haresources` lines; `None`: `node1 IPaddr2::<VIP>/24/eth0`.
    pub haresources: Option<String>,
}

impl HaConfig {
    /// keepalive `keepalive`, deadtime `deadtime`, warntime 3/5 of it,
    /// initdead 2 s, UDP unicast, auto_failback on, no fencing, the VIP on
    /// node1.
    pub fn new(keepalive: Duration, deadtime: Duration) -> Self {
        HaConfig {
            keepalive,
            warntime: deadtime * 3 / 5,
            deadtime,
            initdead: Duration::from_secs(2),
            links: Links::UCAST,
            auto_failback: true,
            fencing: false,
            manual_fencing: false,
            haresources: None,
        }
    }

    /// The `ha.cf` of `node`.
    pub fn ha_cf(&self, lab: &Lab, node: &Node) -> Result<String> {
        let ms = |d: Duration| format!("{}ms", d.as_millis());
        let mut cf = String::new();
        let _ = writeln!(cf, "# ha.cf of {} written by ironbeat's lab", node.name());
        let _ = writeln!(cf, "keepalive {}", ms(self.keepalive));
        let _ = writeln!(cf, "warntime {}", ms(self.warntime));
        let _ = writeln!(cf, "deadtime {}", ms(self.deadtime));
        let _ = writeln!(cf, "initdead {}", ms(self.initdead));
        let _ = writeln!(cf, "udpport 694");
        if self.links.serial {
            let _ = writeln!(cf, "baud 115200");
        }
        let peers: Vec<&std::sync::Arc<Node>> = lab
            .nodes()
            .iter()
            .filter(|n| n.name() != node.name())
            .collect();
        if self.links.ucast {
            for peer in &peers {
                let _ = writeln!(cf, "ucast eth0 {}", peer.lan_ip());
            }
        }
        if self.links.bcast {
            let _ = writeln!(cf, "bcast eth0");
        }
        if self.links.ether {
            if !lab.spec().crossover {
                anyhow::bail!(
                    "ether links need crossover cables: build the lab with .crossover(true)"
                );
            }
            for peer in &peers {
                let iface = node.crossover_interface(lab.nodes().len(), peer.index());
                let _ = writeln!(cf, "ether {iface}");
            }
        }
        if self.links.serial {
            let tty = node.serial().context(
                "serial links need the null-modem cable: build the lab with .null_modem(true)",
            )?;
            let _ = writeln!(cf, "serial {}", tty.display());
        }
        let _ = writeln!(
            cf,
            "auto_failback {}",
            if self.auto_failback { "on" } else { "off" }
        );
        for n in lab.nodes() {
            let _ = writeln!(cf, "node {}", n.name());
        }
        if self.fencing {
            let pass = lab
                .bmc_password_file()
                .context("fencing needs the lab's BMCs: build the lab with .bmc(true)")?;
            for target in lab.nodes() {
                let bmc = target.bmc_addr().context("the lab has no BMCs")?;
                let _ = writeln!(
                    cf,
                    "stonith_host * external/ipmi hostname={} ipaddr={} userid={BMC_USER} \
                     passwd_file={} interface=lanplus",
                    target.name(),
                    bmc.ip(),
                    pass.display()
                );
            }
        }
        if self.manual_fencing {
            let names: Vec<&str> = lab.nodes().iter().map(|n| n.name()).collect();
            let _ = writeln!(cf, "stonith_host * meatware {}", names.join(" "));
        }
        Ok(cf)
    }

    /// Writes `ha.cf`, `haresources` and `authkeys` (a random key, mode
    /// 0600) into every node's [`Node::ha_d`].
    pub fn write(&self, lab: &Lab) -> Result<()> {
        let key = super::random_password()?;
        let haresources = self
            .haresources
            .clone()
            .unwrap_or_else(|| format!("node1 IPaddr2::{}/24/eth0\n", lab.vip()));
        for node in lab.nodes() {
            let dir = node.ha_d();
            fs::create_dir_all(&dir)?;
            let cf = dir.join("ha.cf");
            fs::write(&cf, self.ha_cf(lab, node)?)
                .with_context(|| format!("writing {}", cf.display()))?;
            fs::write(dir.join("haresources"), &haresources)?;
            write_secret(&dir.join("authkeys"), &format!("auth 1\n1 sha256 {key}"))?;
        }
        Ok(())
    }
}

/// The command that runs `BINARY run --foreground` on `n`'s ha.d, state
/// directory and socket, plus `extra` arguments, logging to `ironbeat.log`.
pub fn ironbeat_command(binary: &std::path::Path, n: &Node, extra: &[String]) -> NodeCommand {
    let (ha_d, state, socket) = (n.ha_d(), n.state_dir(), n.socket());
    let mut args = vec![
        "run".to_string(),
        "--foreground".into(),
        "--node".into(),
        n.name().to_owned(),
        "--ha-d".into(),
        ha_d.to_string_lossy().into_owned(),
        "--state-dir".into(),
        state.to_string_lossy().into_owned(),
        "--socket".into(),
        socket.to_string_lossy().into_owned(),
    ];
    args.extend(extra.iter().cloned());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut command = NodeCommand::new(binary, &args);
    command.log = "ironbeat.log".into();
    command
}

/// A [`Starter`] that runs [`ironbeat_command`].
pub fn ironbeat_starter(binary: PathBuf, extra: Vec<String>) -> Starter {
    Box::new(move |n: &Node| {
        Ok(DaemonPid::Known(
            n.spawn(&ironbeat_command(&binary, n, &extra))?,
        ))
    })
}
