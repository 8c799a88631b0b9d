//! Network namespaces, cables and switches built from veth pairs.
//!
//! A [`Cable`] is the crossover cable between two nodes: a veth pair from each
//! node into a small "cable" namespace whose bridge joins them. Pulling it sets
//! both bridge ports down, so **both** nodes' NICs lose carrier while staying
//! administratively up — what unplugging a real cable does. [`Netns::link_down`]
//! is the other failure, `ip link set IF down` on a node (ENETDOWN on its sockets).
//! A [`Bridge`] is a switch with any number of nodes (the GARP test's segment).

use std::net::{Ipv4Addr, Ipv6Addr};
use std::process::Command;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Mutex, OnceLock};

use anyhow::{bail, Context};

use crate::cmd::{self, Output};
use crate::Result;

/// A network namespace named `ibt-<tag>-<pid>-<role>`, deleted on drop.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates the namespace and brings its loopback up. `tag` names the test
    /// (letters, digits, `_`), `role` the node (`n1`, `sw`, …).
    pub fn new(tag: &str, role: &str) -> Result<Self> {
        for part in [tag, role] {
            if part.is_empty() || !part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                bail!("namespace tag/role {part:?} must be non-empty letters, digits or _");
            }
        }
        let name = format!("ibt-{tag}-{}-{role}", std::process::id());
        // A leftover of this very process (a previous test with the same tag) is ours to reuse.
        let _ = cmd::run(Command::new("ip").args(["netns", "del", &name]), cmd::SHORT);
        cmd::ip(&["netns", "add", &name])?;
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// The namespace's name (for `ip netns exec`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `ip -n NAME ARGS…`.
    pub fn ip(&self, args: &[&str]) -> Result<Output> {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        cmd::ip(&all)
    }

    /// Runs `PROGRAM ARGS…` inside the namespace, to completion (short deadline).
    pub fn exec(&self, program: &str, args: &[&str]) -> Result<Output> {
        cmd::in_ns(&self.name, program, args)
    }

    /// A command that runs `program` inside the namespace (`ip netns exec`, which
    /// execs in place: the child's PID is the program's PID).
    pub fn command(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program]);
        c
    }

    /// Sets a sysctl inside the namespace (`net.ipv4.conf.all.arp_accept`, …).
    pub fn sysctl(&self, key: &str, value: &str) -> Result<()> {
        self.exec("sysctl", &["-qw", &format!("{key}={value}")])?;
        Ok(())
    }

    /// `ip link set IF down` on this node: its sockets see ENETDOWN.
    pub fn link_down(&self, ifname: &str) -> Result<()> {
        self.ip(&["link", "set", ifname, "down"])?;
        Ok(())
    }

    /// `ip link set IF up` again.
    pub fn link_up(&self, ifname: &str) -> Result<()> {
        self.ip(&["link", "set", ifname, "up"])?;
        Ok(())
    }

    /// The MAC address of an interface, lowercase `aa:bb:…`.
    pub fn mac(&self, ifname: &str) -> Result<String> {
        let out = self.ip(&["-br", "link", "show", "dev", ifname])?;
        out.stdout
            .split_whitespace()
            .nth(2)
            .map(str::to_ascii_lowercase)
            .with_context(|| format!("no MAC in {:?}", out.stdout))
    }

    /// Sets an interface's MAC address (briefly taking it down if needed).
    pub fn set_mac(&self, ifname: &str, mac: &str) -> Result<()> {
        if self
            .ip(&["link", "set", "dev", ifname, "address", mac])
            .is_err()
        {
            self.ip(&["link", "set", "dev", ifname, "down"])?;
            self.ip(&["link", "set", "dev", ifname, "address", mac])?;
            self.ip(&["link", "set", "dev", ifname, "up"])?;
        }
        Ok(())
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = cmd::run(
            Command::new("ip").args(["netns", "del", &self.name]),
            cmd::SHORT,
        );
    }
}

/// One /24 of 198.18.0.0/15 (and the matching /64 of 2001:2::/48), unique
/// within this process. Namespaces isolate tests from each other anyway; unique
/// subnets keep captures and logs of parallel tests unambiguous.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subnet {
    index: u16,
}

impl Subnet {
    /// The next unused subnet (198.18.1.0/24, 198.18.2.0/24, … 198.19.255.0/24, then wraps).
    pub fn next() -> Self {
        static NEXT: AtomicU16 = AtomicU16::new(1);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        Subnet {
            index: 1 + (n - 1) % 511,
        }
    }

    /// IPv4 address `h` in the subnet.
    pub fn host(&self, h: u8) -> Ipv4Addr {
        Ipv4Addr::new(
            198,
            18 + (self.index >> 8) as u8,
            (self.index & 0xff) as u8,
            h,
        )
    }

    /// `198.18.x.h/24`.
    pub fn cidr(&self, h: u8) -> String {
        format!("{}/24", self.host(h))
    }

    /// A locally administered MAC for host `h`: `02:00:c6:12:<x>:<h>`.
    pub fn mac(&self, h: u8) -> String {
        format!(
            "02:00:c6:{:02x}:{:02x}:{h:02x}",
            18 + (self.index >> 8),
            self.index & 0xff
        )
    }

    /// IPv6 address `h` in `2001:2:0:<x>::/64`.
    pub fn v6_host(&self, h: u16) -> Ipv6Addr {
        Ipv6Addr::new(0x2001, 2, 0, self.index, 0, 0, 0, h)
    }

    /// `2001:2:0:<x>::h/64`.
    pub fn v6_cidr(&self, h: u16) -> String {
        format!("{}/64", self.v6_host(h))
    }
}

/// A switch: a bridge `br0` in its own namespace; nodes attach by veth pairs.
#[derive(Debug)]
pub struct Bridge {
    ns: Netns,
    ports: Mutex<u32>,
}

/// A node attached to a [`Bridge`].
#[derive(Debug, Clone)]
pub struct Port {
    /// The port's interface name inside the switch namespace.
    pub switch_if: String,
    /// The node's interface name.
    pub node_if: String,
}

impl Bridge {
    /// Creates the switch namespace (`ibt-<tag>-<pid>-<role>`) and its bridge
    /// (no STP, no forwarding delay, no multicast snooping: every frame floods
    /// like on a cable).
    pub fn new(tag: &str, role: &str) -> Result<Self> {
        let ns = Netns::new(tag, role)?;
        ns.ip(&[
            "link",
            "add",
            "br0",
            "type",
            "bridge",
            "stp_state",
            "0",
            "forward_delay",
            "0",
            "mcast_snooping",
            "0",
        ])?;
        ns.ip(&["link", "set", "br0", "up"])?;
        // The switch itself stays silent.
        ns.sysctl("net.ipv6.conf.all.disable_ipv6", "1")?;
        Ok(Bridge {
            ns,
            ports: Mutex::new(0),
        })
    }

    /// The switch's namespace.
    pub fn netns(&self) -> &Netns {
        &self.ns
    }

    /// Plugs `node` into the switch: creates `ifname` in the node (with `mac`
    /// and IPv4 `cidr` if given; broadcast address set) and brings both ends up.
    pub fn attach(
        &self,
        node: &Netns,
        ifname: &str,
        mac: Option<&str>,
        cidr: Option<&str>,
    ) -> Result<Port> {
        let index = {
            let mut n = self.ports.lock().unwrap_or_else(|e| e.into_inner());
            *n += 1;
            *n
        };
        let port = format!("p{index}");
        cmd::ip(&[
            "link",
            "add",
            &port,
            "netns",
            self.ns.name(),
            "type",
            "veth",
            "peer",
            "name",
            ifname,
            "netns",
            node.name(),
        ])?;
        if let Some(mac) = mac {
            node.ip(&["link", "set", "dev", ifname, "address", mac])?;
        }
        if let Some(cidr) = cidr {
            // `brd +`: the bcast medium sends to the interface broadcast address.
            node.ip(&["addr", "add", cidr, "brd", "+", "dev", ifname])?;
        }
        self.ns.ip(&["link", "set", &port, "master", "br0", "up"])?;
        node.ip(&["link", "set", ifname, "up"])?;
        Ok(Port {
            switch_if: port,
            node_if: ifname.to_string(),
        })
    }

    /// Unplugs a port: the node's NIC loses carrier.
    pub fn port_down(&self, port: &Port) -> Result<()> {
        self.ns.ip(&["link", "set", &port.switch_if, "down"])?;
        Ok(())
    }

    /// Plugs a port back in.
    pub fn port_up(&self, port: &Port) -> Result<()> {
        self.ns.ip(&["link", "set", &port.switch_if, "up"])?;
        Ok(())
    }
}

/// A crossover cable between two nodes, on its own subnet: node A gets host
/// address .1, node B .2, MACs from [`Subnet::mac`].
#[derive(Debug)]
pub struct Cable {
    wire: Bridge,
    a: Port,
    b: Port,
    /// The cable's subnet.
    pub subnet: Subnet,
}

impl Cable {
    /// Connects `a`'s interface `a_if` to `b`'s `b_if`. `role` names the cable's
    /// namespace (`c0`, `c1`, …).
    pub fn connect(
        tag: &str,
        role: &str,
        a: &Netns,
        a_if: &str,
        b: &Netns,
        b_if: &str,
    ) -> Result<Self> {
        let subnet = Subnet::next();
        let wire = Bridge::new(tag, role)?;
        let pa = wire.attach(a, a_if, Some(&subnet.mac(1)), Some(&subnet.cidr(1)))?;
        let pb = wire.attach(b, b_if, Some(&subnet.mac(2)), Some(&subnet.cidr(2)))?;
        Ok(Cable {
            wire,
            a: pa,
            b: pb,
            subnet,
        })
    }

    /// Node A's address on this cable.
    pub fn a_addr(&self) -> Ipv4Addr {
        self.subnet.host(1)
    }

    /// Node B's address on this cable.
    pub fn b_addr(&self) -> Ipv4Addr {
        self.subnet.host(2)
    }

    /// Pulls the cable: both NICs lose carrier (they stay administratively up).
    pub fn pull(&self) -> Result<()> {
        self.wire.port_down(&self.a)?;
        self.wire.port_down(&self.b)
    }

    /// Plugs the cable back in.
    pub fn plug(&self) -> Result<()> {
        self.wire.port_up(&self.a)?;
        self.wire.port_up(&self.b)
    }
}

/// Deletes `ibt-*` namespaces and `/tmp/ibt-*` directories left behind by
/// test processes that no longer exist (a crash, SIGKILL). Runs once per process.
pub fn sweep_stale() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        let dead = |pid: &str| {
            pid.parse::<u32>()
                .map(|p| !std::path::Path::new(&format!("/proc/{p}")).exists())
                .unwrap_or(false)
        };
        if let Ok(out) = cmd::run(Command::new("ip").args(["netns", "list"]), cmd::SHORT) {
            for name in out
                .stdout
                .lines()
                .filter_map(|l| l.split_whitespace().next())
            {
                let Some(rest) = name.strip_prefix("ibt-") else {
                    continue;
                };
                let mut parts = rest.rsplitn(3, '-');
                let (_role, pid) = (parts.next(), parts.next());
                if pid.is_some_and(dead) {
                    let _ = cmd::run(Command::new("ip").args(["netns", "del", name]), cmd::SHORT);
                }
            }
        }
        if let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if let Some((_, pid)) = name.strip_prefix("ibt-").and_then(|r| r.rsplit_once('-')) {
                    if dead(pid) {
                        let _ = std::fs::remove_dir_all(entry.path());
                    }
                }
            }
        }
    });
}
