//! A virtual cluster on one machine: nodes, a switch, a client and a BMC per
//! node, built from Linux network namespaces. `ironbeat demo`, the cluster
//! test suite (`tests/cts*.rs`) and the failover benchmark
//! (`benches/failover.rs`) all run on it. Needs root.
//!
//! ```text
//!                       ib<tag>-<pid>-sw  (the switch)
//!   ib<tag>-<pid>-n1    br0: LAN 198.18.k.0/24      ib<tag>-<pid>-cl (client)
//!     eth0 .1 ───────── n1 ┐                  ┌ cl ── eth0 .250  (prober)
//!     eth1 ─── x1-2a ─ x1-2 (crossover) ─ x1-2b ─── eth1 of node2
//!     mgmt0 198.19.k.1 ─ m1 ┐ br1: management 198.19.k.0/24
//!                           └ BMC of node i listens on 198.19.k.(200+i):623
//!   <dir>/tty-node1 ═══ null-modem cable (pty pair bridged here) ═══ tty-node2
//! ```
//!
//! * **Nodes** (2 to 16): `eth0` on the LAN (UDP links, the virtual IP
//!   198.18.k.100), optional crossover cables (2 nodes: `eth1`, otherwise
//!   `x<peer>`; for the raw Ethernet link), an optional null-modem cable
//!   (2 nodes), and `mgmt0` on the management network. Every process a node
//!   runs gets a UTS namespace whose host name is the node name, and
//!   optionally heartbeat's private `/etc/ha.d`, `/var/lib/heartbeat` and
//!   `/run` ([`Mounts::Heartbeat`]).
//! * **BMCs** sit on a separate management bridge in the switch namespace,
//!   so a node's BMC stays reachable when its LAN and crossover cables are
//!   cut (as on real servers, where the BMC has its own port): in a
//!   split brain both halves can still fence. A BMC's power really powers the
//!   node: off SIGKILLs every process the node runs and takes its interfaces
//!   down (its VIP vanishes from the LAN); on "reboots" it (LAN addresses
//!   back to the base address, interfaces up) and starts the node's daemon
//!   with the [`Starter`] the user gave.
//! * **Faults**: [`Lab::kill_daemon`] (kill -9 of the daemon's process tree
//!   only), [`Lab::cut`]/[`Lab::heal`] one link, [`Lab::isolate`]/
//!   [`Lab::rejoin`] (every cluster link of a node, both ways; the management
//!   network stays), [`Lab::power_off`]/[`Lab::power_on`] (or through the
//!   BMC with any IPMI client).
//! * **Observation**: each node runs a responder (UDP 7777, answers with the
//!   node name) and the client runs a [`probe::Prober`]: a UDP probe of the
//!   VIP every 20 ms through the client's real ARP cache, plus an ARP watch
//!   recording every MAC that answers for the VIP.
//!
//! Names are unique per run (`ib<tag>-<pid>-<role>`, files in
//! `/tmp/ib<tag>-<pid>/`); [`Lab::teardown`] (also run on drop) kills only the
//! lab's processes and deletes only its namespaces. A program that wants
//! clean-up on Ctrl-C calls [`block_interrupts`] before building the lab and
//! [`tear_down_on_interrupt`] after. Every wait in this module is bounded.
//! `IRONBEAT_LAB_KEEP=1` keeps the directory (configurations, logs) for a
//! post-mortem.
//!
//! ```no_run
//! use std::time::Duration;
//! use ironbeat::lab::{DaemonPid, Lab, LabSpec, NodeCommand, ProbeOptions};
//!
//! let spec = LabSpec::new("demo", 2).crossover(true).null_modem(true);
//! let lab = Lab::build(spec, &mut |step| println!("{step}"))?;
//! for node in lab.nodes() {
//!     // (write node.ha_d()'s ha.cf, haresources and authkeys first)
//!     node.set_starter(Box::new(|n| {
//!         let (ha_d, state) = (n.ha_d(), n.state_dir());
//!         let args = ["run", "--node", n.name(), "--ha-d", ha_d.to_str().unwrap_or(""),
//!                     "--state-dir", state.to_str().unwrap_or("")];
//!         Ok(DaemonPid::Known(n.spawn(&NodeCommand::new("/usr/sbin/ironbeat", &args))?))
//!     }));
//!     node.start_daemon()?;
//! }
//! let prober = lab.prober(ProbeOptions::default())?;
//! prober.wait_for_steady("node1", 25, Duration::from_secs(30));
//! let killed = lab.kill_daemon(1)?;
//! if let Some(at) = prober.wait_for_answer("node2", killed, Duration::from_secs(10)) {
//!     println!("the VIP answers from node2 {:?} after the kill", at - killed);
//! }
//! # Ok::<(), anyhow::Error>(())
//! ```

mod command;
mod ha_d;
mod power;
pub mod probe;
mod process;
mod serial;

use std::fmt;
use std::fs;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

pub use command::{enter_netns, Output};
pub use ha_d::{ironbeat_command, ironbeat_starter, HaConfig, Links};
pub use power::NodePower;
pub use probe::{ProbeOptions, Prober, Trace};
pub use process::{kill_tree, pids_in_netns, process_tree, Mounts, NodeCommand};
pub use serial::NullModem;

use power::BmcFarm;
use probe::Responder;
use process::Processes;

/// The UDP port of the responders the prober talks to.
pub const RESPONDER_PORT: u16 = 7777;
/// The BMC user the lab configures.
pub const BMC_USER: &str = "admin";
/// The largest number of nodes a lab builds.
pub const MAX_NODES: usize = 16;

/// What to build.
#[derive(Debug, Clone)]
pub struct LabSpec {
    /// Names the run: 1 to 8 lowercase letters or digits (`ib<tag>-<pid>-…`).
    pub tag: String,
    /// Number of nodes, 2 to [`MAX_NODES`].
    pub nodes: usize,
    /// Crossover veth cables between every two nodes.
    pub crossover: bool,
    /// A pty null-modem cable (two nodes only).
    pub null_modem: bool,
    /// A BMC per node on the management network.
    pub bmc: bool,
    /// How long a node takes from power-on until its daemon starts (0: at
    /// once). Real servers take a minute; a few seconds make a fence's
    /// reboot visible in a timeline.
    pub boot_time: Duration,
}

impl LabSpec {
    /// `nodes` nodes on the LAN with BMCs; no crossover, no null modem.
    pub fn new(tag: &str, nodes: usize) -> Self {
        LabSpec {
            tag: tag.to_owned(),
            nodes,
            crossover: false,
            null_modem: false,
            bmc: true,
            boot_time: Duration::ZERO,
        }
    }

    /// Adds crossover cables.
    pub fn crossover(mut self, on: bool) -> Self {
        self.crossover = on;
        self
    }

    /// Adds the null-modem cable.
    pub fn null_modem(mut self, on: bool) -> Self {
        self.null_modem = on;
        self
    }

    /// Sets the boot time (power-on to daemon start).
    pub fn boot_time(mut self, time: Duration) -> Self {
        self.boot_time = time;
        self
    }

    /// Adds (or leaves out) the BMCs.
    pub fn bmc(mut self, on: bool) -> Self {
        self.bmc = on;
        self
    }

    fn validate(&self) -> Result<()> {
        if self.tag.is_empty()
            || self.tag.len() > 8
            || !self
                .tag
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        {
            bail!(
                "lab tag {:?}: use 1 to 8 lowercase letters or digits (it names the namespaces)",
                self.tag
            );
        }
        if !(2..=MAX_NODES).contains(&self.nodes) {
            bail!(
                "a lab has 2 to {MAX_NODES} nodes, not {}: change the node count",
                self.nodes
            );
        }
        if self.null_modem && self.nodes != 2 {
            bail!(
                "a null-modem cable joins exactly two nodes; this lab has {}: turn it off",
                self.nodes
            );
        }
        Ok(())
    }
}

/// One link of a node, for [`Lab::cut`] and [`Lab::heal`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// The node's LAN port (`eth0`; the switch port goes down, the node's
    /// NIC loses carrier).
    Lan,
    /// The crossover cable to node `peer` (1-based); both ends lose carrier.
    Crossover(usize),
    /// The null-modem cable (bytes dropped both ways).
    Serial,
    /// The node's management port (its fencing path to the BMCs).
    Management,
}

/// How to find a node's daemon, as its [`Starter`] reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DaemonPid {
    /// The PID the lab started (the daemon does not fork away).
    Known(u32),
    /// A daemon that forks away writes its PID to this file.
    File(PathBuf),
}

/// Starts a node's daemon (at [`Lab::start_daemon`] and at every power-on);
/// typically builds a [`NodeCommand`] and calls [`Node::spawn`].
pub type Starter = Box<dyn FnMut(&Node) -> Result<DaemonPid> + Send>;

/// Who switched a node's power.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PowerCause {
    /// An IPMI request to the node's BMC (a fence).
    Bmc,
    /// The lab's own API ([`Lab::power_off`] …).
    Lab,
}

/// A power change of a node, for timelines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PowerEvent {
    /// When it was done.
    pub at: Instant,
    /// On (`true`) or off.
    pub on: bool,
    /// Through the BMC or the lab.
    pub cause: PowerCause,
}

/// One virtual node.
pub struct Node {
    index: usize,
    name: String,
    netns: String,
    dir: PathBuf,
    lan_ip: Ipv4Addr,
    mac: [u8; 6],
    mgmt_ip: Ipv4Addr,
    bmc: Option<SocketAddrV4>,
    interfaces: Vec<String>,
    serial: Option<PathBuf>,
    processes: Mutex<Processes>,
    starter: Mutex<Option<Starter>>,
    daemon: Mutex<Option<DaemonPid>>,
    power_events: Mutex<Vec<PowerEvent>>,
    boot_time: Duration,
    /// Counts power changes, so a delayed boot knows it is still current.
    power_cycles: AtomicU64,
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Node")
            .field("name", &self.name)
            .field("netns", &self.netns)
            .field("lan_ip", &self.lan_ip)
            .field("bmc", &self.bmc)
            .finish_non_exhaustive()
    }
}

fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data behind; keep going.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Node {
    /// 1-based index (`node1` is 1).
    pub fn index(&self) -> usize {
        self.index
    }

    /// The node name (`node1`…), also its host name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its network namespace (for `ip netns exec`).
    pub fn netns(&self) -> &str {
        &self.netns
    }

    /// Its directory: `etc-ha.d/`, `var-lib-heartbeat/`, `run/`, `state/`, `logs/`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `<dir>/etc-ha.d`: its `/etc/ha.d` (bound there with [`Mounts::Heartbeat`]).
    pub fn ha_d(&self) -> PathBuf {
        self.dir.join("etc-ha.d")
    }

    /// `<dir>/state`: a state directory for our daemon (`--state-dir`).
    pub fn state_dir(&self) -> PathBuf {
        self.dir.join("state")
    }

    /// `<dir>/run`: its `/run` (with [`Mounts::Heartbeat`]).
    pub fn run_dir(&self) -> PathBuf {
        self.dir.join("run")
    }

    /// `<dir>/run/ironbeat.sock`: an admin socket path (`--socket`).
    pub fn socket(&self) -> PathBuf {
        self.run_dir().join("ironbeat.sock")
    }

    /// `<dir>/logs`: where the lab writes its processes' output.
    pub fn logs(&self) -> PathBuf {
        self.dir.join("logs")
    }

    /// Its LAN address (on `eth0`, /24).
    pub fn lan_ip(&self) -> Ipv4Addr {
        self.lan_ip
    }

    /// Its LAN MAC address.
    pub fn mac(&self) -> [u8; 6] {
        self.mac
    }

    /// Its management address (on `mgmt0`, /24).
    pub fn mgmt_ip(&self) -> Ipv4Addr {
        self.mgmt_ip
    }

    /// Where its BMC listens (with BMCs).
    pub fn bmc_addr(&self) -> Option<SocketAddrV4> {
        self.bmc
    }

    /// Its interfaces: `eth0`, crossovers, `mgmt0`.
    pub fn interfaces(&self) -> &[String] {
        &self.interfaces
    }

    /// The interface of the crossover cable to node `peer` (1-based).
    pub fn crossover_interface(&self, nodes: usize, peer: usize) -> String {
        if nodes == 2 {
            "eth1".into()
        } else {
            format!("x{peer}")
        }
    }

    /// Its end of the null-modem cable.
    pub fn serial(&self) -> Option<&Path> {
        self.serial.as_deref()
    }

    /// Starts `command` in this node (its namespaces, host name, mounts);
    /// records it; returns its PID.
    pub fn spawn(&self, command: &NodeCommand) -> Result<u32> {
        let cmd = process::node_command(&self.netns, &self.name, &self.dir, command);
        let child = process::spawn_logged(cmd, &self.logs().join(&command.log))?;
        let pid = child.id();
        locked(&self.processes).push(child);
        Ok(pid)
    }

    /// Runs `command` in this node to completion (deadline `limit`).
    pub fn run(&self, command: &NodeCommand, limit: Duration) -> Result<Output> {
        let mut cmd = process::node_command(&self.netns, &self.name, &self.dir, command);
        command::run(&mut cmd, limit)
    }

    /// Sets how the node's daemon starts (at power-on, [`Lab::start_daemon`]).
    pub fn set_starter(&self, starter: Starter) {
        *locked(&self.starter) = Some(starter);
    }

    /// Starts the daemon with the starter.
    pub fn start_daemon(&self) -> Result<()> {
        let mut starter = locked(&self.starter);
        let Some(start) = starter.as_mut() else {
            bail!("{}: no daemon starter set (Node::set_starter)", self.name);
        };
        let pid = start(self)?;
        *locked(&self.daemon) = Some(pid);
        Ok(())
    }

    /// The daemon's PID, if it runs.
    pub fn daemon_pid(&self) -> Option<u32> {
        let pid = match locked(&self.daemon).as_ref()? {
            DaemonPid::Known(pid) => *pid,
            DaemonPid::File(path) => fs::read_to_string(path).ok()?.trim().parse::<u32>().ok()?,
        };
        process::is_alive(pid).then_some(pid)
    }

    /// SIGKILLs the daemon's whole process tree (children first, one pass);
    /// returns the instant just before the signals.
    pub fn kill_daemon(&self) -> Result<Instant> {
        let pid = self
            .daemon_pid()
            .with_context(|| format!("{}: the daemon is not running", self.name))?;
        let tree = process_tree(pid);
        let at = Instant::now();
        for p in &tree {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(*p as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        locked(&self.processes).reap();
        Ok(at)
    }

    /// Whether the node is powered: its `eth0` is administratively up.
    pub fn is_powered(&self) -> Result<bool> {
        let out = command::ip_in(&self.netns, &["-o", "link", "show", "dev", "eth0"])?;
        Ok(link_is_up(&out.stdout))
    }

    /// Powers the node off: SIGKILL to every process it runs, every
    /// interface down.
    pub fn power_off(&self, cause: PowerCause) -> Result<()> {
        let at = Instant::now();
        self.power_cycles.fetch_add(1, Ordering::SeqCst);
        locked(&self.processes).kill_all(&self.netns);
        for iface in &self.interfaces {
            command::ip_in(&self.netns, &["link", "set", iface, "down"])?;
        }
        locked(&self.power_events).push(PowerEvent {
            at,
            on: false,
            cause,
        });
        Ok(())
    }

    /// SIGKILLs every process the node runs (the power stays on); the
    /// daemon is not restarted.
    pub fn kill_all(&self) {
        locked(&self.processes).kill_all(&self.netns);
        locked(&self.daemon).take();
    }

    /// Leaves only the base address on `eth0` (removes a VIP left behind).
    pub fn reset_lan(&self) -> Result<()> {
        command::ip_in(&self.netns, &["addr", "flush", "dev", "eth0"])?;
        let base = format!("{}/24", self.lan_ip);
        command::ip_in(
            &self.netns,
            &["addr", "add", &base, "brd", "+", "dev", "eth0"],
        )?;
        Ok(())
    }

    /// Powers the node on: a fresh boot (the LAN holds only the base address,
    /// a VIP left behind is gone), interfaces up, then the daemon's starter.
    pub fn power_on(self: &Arc<Self>, cause: PowerCause) -> Result<()> {
        let at = Instant::now();
        if self.is_powered()? {
            return Ok(());
        }
        locked(&self.processes).kill_all(&self.netns);
        self.reset_lan()?;
        for iface in &self.interfaces {
            command::ip_in(&self.netns, &["link", "set", iface, "up"])?;
        }
        let _ = command::ip_in(
            &self.netns,
            &["route", "replace", "224.0.0.0/4", "dev", "eth0"],
        );
        locked(&self.power_events).push(PowerEvent {
            at,
            on: true,
            cause,
        });
        let cycle = self.power_cycles.fetch_add(1, Ordering::SeqCst) + 1;
        if locked(&self.starter).is_none() {
            return Ok(());
        }
        if self.boot_time.is_zero() {
            return self.start_daemon();
        }
        // Boot in the background (the BMC answers at once); a power change
        // meanwhile cancels it.
        let node = Arc::clone(self);
        thread::Builder::new()
            .name(format!("lab-boot-{}", self.name))
            .spawn(move || {
                let end = Instant::now() + node.boot_time;
                while Instant::now() < end {
                    if node.power_cycles.load(Ordering::SeqCst) != cycle {
                        return;
                    }
                    thread::sleep(Duration::from_millis(10).min(node.boot_time));
                }
                if node.power_cycles.load(Ordering::SeqCst) == cycle {
                    if let Err(e) = node.start_daemon() {
                        eprintln!("lab: {} did not boot: {e:#}", node.name);
                    }
                }
            })
            .context("starting the boot thread")?;
        Ok(())
    }

    /// Every power change so far.
    pub fn power_events(&self) -> Vec<PowerEvent> {
        locked(&self.power_events).clone()
    }

    /// Whether `addr` is configured on the node's `eth0`.
    pub fn holds(&self, addr: Ipv4Addr) -> Result<bool> {
        let out = command::ip_in(&self.netns, &["-o", "-4", "addr", "show", "dev", "eth0"])?;
        let needle = format!(" {addr}/");
        Ok(out.stdout.contains(&needle))
    }
}

/// A built lab. Dropping it tears it down.
#[derive(Debug)]
pub struct Lab {
    spec: LabSpec,
    k: u8,
    dir: PathBuf,
    switch: String,
    client: String,
    nodes: Vec<Arc<Node>>,
    namespaces: Vec<String>,
    null_modem: Option<NullModem>,
    bmcs: Option<BmcFarm>,
    bmc_password_file: Option<PathBuf>,
    responders: Vec<Responder>,
    built_at: Instant,
    torn_down: bool,
}

/// Deletes namespaces (`ib<tag>-<pid>-<role>`) and directories
/// (`/tmp/ib<tag>-<pid>`) of labs whose process no longer exists (a crash,
/// SIGKILL). Labs of live processes are never touched.
pub fn sweep_stale() {
    let dead = |pid: &str| {
        pid.parse::<u32>()
            .map(|p| !Path::new(&format!("/proc/{p}")).exists())
            .unwrap_or(false)
    };
    let ours = |name: &str| -> Option<(String, String)> {
        let rest = name.strip_prefix("ib")?;
        let mut parts = rest.splitn(3, '-');
        let (tag, pid, role) = (parts.next()?, parts.next()?, parts.next()?);
        let tag_ok = !tag.is_empty()
            && tag.len() <= 8
            && tag
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
        let role_ok = role == "sw"
            || role == "cl"
            || role.strip_prefix('n').is_some_and(|n| {
                n.parse::<usize>()
                    .is_ok_and(|n| (1..=MAX_NODES).contains(&n))
            });
        (tag_ok && role_ok).then(|| (tag.to_owned(), pid.to_owned()))
    };
    if let Ok(out) = command::run(
        std::process::Command::new("ip").args(["netns", "list"]),
        command::SHORT,
    ) {
        for name in out
            .stdout
            .lines()
            .filter_map(|l| l.split_whitespace().next())
        {
            if let Some((tag, pid)) = ours(name) {
                if dead(&pid) {
                    let _ = command::ip(&["netns", "del", name]);
                    let _ = fs::remove_dir_all(std::env::temp_dir().join(format!("ib{tag}-{pid}")));
                }
            }
        }
    }
    // Directories left without namespaces (a run killed while building).
    if let Ok(entries) = fs::read_dir(std::env::temp_dir()) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some((_, pid)) = ours(&format!("{name}-sw")) {
                // Only a lab's layout: every lab has a node1 directory.
                if dead(&pid) && entry.path().join("node1").is_dir() {
                    let _ = fs::remove_dir_all(entry.path());
                }
            }
        }
    }
}

impl Lab {
    /// Builds the lab, reporting each step to `progress`. Needs root.
    pub fn build(spec: LabSpec, progress: &mut dyn FnMut(&str)) -> Result<Lab> {
        spec.validate()?;
        if !nix::unistd::Uid::effective().is_root() {
            bail!("the lab creates network namespaces and needs root: run it with sudo");
        }
        sweep_stale();
        static NEXT: AtomicU8 = AtomicU8::new(0);
        let k = NEXT.fetch_add(1, Ordering::Relaxed) % 250 + 1;
        let pid = std::process::id();
        let prefix = format!("ib{}-{pid}", spec.tag);
        let dir = std::env::temp_dir().join(&prefix);
        if dir.exists() {
            bail!(
                "{} exists: a lab tagged {:?} already runs in this process; pick another tag",
                dir.display(),
                spec.tag
            );
        }
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut lab = Lab {
            spec: spec.clone(),
            k,
            dir,
            switch: format!("{prefix}-sw"),
            client: format!("{prefix}-cl"),
            nodes: Vec::new(),
            namespaces: Vec::new(),
            null_modem: None,
            bmcs: None,
            bmc_password_file: None,
            responders: Vec::new(),
            built_at: Instant::now(),
            torn_down: false,
        };
        // On error the half-built lab is dropped, which removes what exists.
        lab.build_network(&prefix, progress)?;
        progress("responders: UDP 7777 in every node answers with the node's name");
        for node in &lab.nodes {
            lab.responders
                .push(Responder::start(node.netns(), node.name())?);
        }
        if spec.bmc {
            let password = random_password()?;
            let file = lab.dir.join("bmc.pass");
            write_secret(&file, &password)?;
            lab.bmc_password_file = Some(file);
            progress(&format!(
                "BMCs: IPMI responders on the management network, 198.19.{k}.201…, user {BMC_USER}"
            ));
            lab.bmcs = Some(BmcFarm::start(
                &lab.switch,
                &lab.nodes,
                BMC_USER,
                password.as_bytes(),
            )?);
        }
        Ok(lab)
    }

    fn add_netns(&mut self, name: &str) -> Result<()> {
        command::ip(&["netns", "add", name])?;
        self.namespaces.push(name.to_owned());
        command::ip_in(name, &["link", "set", "lo", "up"])?;
        // No IPv6 chatter (RS, DAD, MLD) on the lab's segments.
        command::check(
            std::process::Command::new("ip").args([
                "netns",
                "exec",
                name,
                "sysctl",
                "-qw",
                "net.ipv6.conf.all.disable_ipv6=1",
                "net.ipv6.conf.default.disable_ipv6=1",
            ]),
            command::SHORT,
        )?;
        Ok(())
    }

    fn build_network(&mut self, prefix: &str, progress: &mut dyn FnMut(&str)) -> Result<()> {
        let k = self.k;
        let n = self.spec.nodes;
        progress(&format!(
            "switch {}: bridge br0 (LAN 198.18.{k}.0/24, STP off) and br1 (management 198.19.{k}.0/24)",
            self.switch
        ));
        let sw = self.switch.clone();
        self.add_netns(&sw)?;
        for br in ["br0", "br1"] {
            command::ip_in(
                &sw,
                &[
                    "link",
                    "add",
                    br,
                    "type",
                    "bridge",
                    "stp_state",
                    "0",
                    "forward_delay",
                    "0",
                    "mcast_snooping",
                    "0",
                ],
            )?;
            command::ip_in(&sw, &["link", "set", br, "up"])?;
        }
        let mut nodes = Vec::new();
        for i in 1..=n {
            let name = format!("node{i}");
            let netns = format!("{prefix}-n{i}");
            progress(&format!("{name}: namespace {netns}, eth0 198.18.{k}.{i}"));
            self.add_netns(&netns)?;
            let mac = [0x02, 0x00, 0xc6, 0x12, k, i as u8];
            let lan_ip = Ipv4Addr::new(198, 18, k, i as u8);
            let mgmt_ip = Ipv4Addr::new(198, 19, k, i as u8);
            self.plug(
                &format!("n{i}"),
                "br0",
                &netns,
                "eth0",
                Some(&mac_text(mac)),
                &format!("{lan_ip}/24"),
            )?;
            self.plug(
                &format!("m{i}"),
                "br1",
                &netns,
                "mgmt0",
                None,
                &format!("{mgmt_ip}/24"),
            )?;
            command::ip_in(&netns, &["route", "replace", "224.0.0.0/4", "dev", "eth0"])?;
            let bmc = self
                .spec
                .bmc
                .then(|| SocketAddrV4::new(Ipv4Addr::new(198, 19, k, 200 + i as u8), 623));
            if let Some(b) = bmc {
                command::ip_in(
                    &sw,
                    &["addr", "add", &format!("{}/24", b.ip()), "dev", "br1"],
                )?;
            }
            let dir = self.dir.join(&name);
            for sub in ["etc-ha.d", "var-lib-heartbeat", "run", "state", "logs"] {
                fs::create_dir_all(dir.join(sub))?;
            }
            nodes.push(Node {
                index: i,
                name,
                netns,
                dir,
                lan_ip,
                mac,
                mgmt_ip,
                bmc,
                interfaces: vec!["eth0".into(), "mgmt0".into()],
                serial: None,
                processes: Mutex::new(Processes::default()),
                starter: Mutex::new(None),
                daemon: Mutex::new(None),
                power_events: Mutex::new(Vec::new()),
                boot_time: self.spec.boot_time,
                power_cycles: AtomicU64::new(0),
            });
        }
        if self.spec.crossover {
            progress("crossover cables: a veth pair through a two-port bridge per node pair");
            for a in 1..=n {
                for b in a + 1..=n {
                    let cable = format!("x{a}-{b}");
                    command::ip_in(
                        &sw,
                        &[
                            "link",
                            "add",
                            &cable,
                            "type",
                            "bridge",
                            "stp_state",
                            "0",
                            "forward_delay",
                            "0",
                        ],
                    )?;
                    command::ip_in(&sw, &["link", "set", &cable, "up"])?;
                    let a_if = nodes[a - 1].crossover_interface(n, b);
                    let b_if = nodes[b - 1].crossover_interface(n, a);
                    let a_ns = nodes[a - 1].netns.clone();
                    let b_ns = nodes[b - 1].netns.clone();
                    self.plug_bare(&format!("{cable}a"), &cable, &a_ns, &a_if)?;
                    self.plug_bare(&format!("{cable}b"), &cable, &b_ns, &b_if)?;
                    nodes[a - 1].interfaces.push(a_if);
                    nodes[b - 1].interfaces.push(b_if);
                }
            }
        }
        if self.spec.null_modem {
            progress("null-modem cable: two ptys bridged by this process");
            let modem = NullModem::open(&self.dir, ["tty-node1", "tty-node2"])?;
            for (i, node) in nodes.iter_mut().enumerate() {
                node.serial = Some(modem.end(i).to_path_buf());
            }
            self.null_modem = Some(modem);
        }
        self.nodes = nodes.into_iter().map(Arc::new).collect();
        progress(&format!(
            "client {}: eth0 198.18.{k}.250 probes the VIP 198.18.{k}.100",
            self.client
        ));
        let cl = self.client.clone();
        self.add_netns(&cl)?;
        let client_mac = mac_text([0x02, 0x00, 0xc6, 0x12, k, 0xfa]);
        self.plug(
            "cl",
            "br0",
            &cl,
            "eth0",
            Some(&client_mac),
            &format!("198.18.{k}.250/24"),
        )?;
        Ok(())
    }

    /// A veth from switch port `port` (on bridge `bridge`) to `ifname` in
    /// `ns`, with a MAC and an address, both ends up.
    fn plug(
        &self,
        port: &str,
        bridge: &str,
        ns: &str,
        ifname: &str,
        mac: Option<&str>,
        cidr: &str,
    ) -> Result<()> {
        command::ip(&[
            "link",
            "add",
            port,
            "netns",
            &self.switch,
            "type",
            "veth",
            "peer",
            "name",
            ifname,
            "netns",
            ns,
        ])?;
        if let Some(mac) = mac {
            command::ip_in(ns, &["link", "set", "dev", ifname, "address", mac])?;
        }
        // `brd +`: heartbeat's bcast medium sends to the interface broadcast address.
        command::ip_in(ns, &["addr", "add", cidr, "brd", "+", "dev", ifname])?;
        command::ip_in(&self.switch, &["link", "set", port, "master", bridge, "up"])?;
        command::ip_in(ns, &["link", "set", ifname, "up"])?;
        Ok(())
    }

    fn plug_bare(&self, port: &str, bridge: &str, ns: &str, ifname: &str) -> Result<()> {
        command::ip(&[
            "link",
            "add",
            port,
            "netns",
            &self.switch,
            "type",
            "veth",
            "peer",
            "name",
            ifname,
            "netns",
            ns,
        ])?;
        command::ip_in(&self.switch, &["link", "set", port, "master", bridge, "up"])?;
        command::ip_in(ns, &["link", "set", ifname, "up"])?;
        Ok(())
    }

    /// What was built.
    pub fn spec(&self) -> &LabSpec {
        &self.spec
    }

    /// The lab's directory (`/tmp/ib<tag>-<pid>`).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// When the lab was built (the zero of timelines).
    pub fn built_at(&self) -> Instant {
        self.built_at
    }

    /// Every node, `node1` first.
    pub fn nodes(&self) -> &[Arc<Node>] {
        &self.nodes
    }

    /// Node `n` (1-based).
    pub fn node(&self, n: usize) -> Result<&Arc<Node>> {
        n.checked_sub(1)
            .and_then(|i| self.nodes.get(i))
            .with_context(|| format!("no node{n}: this lab has nodes 1 to {}", self.nodes.len()))
    }

    /// The node whose LAN MAC is `mac`.
    pub fn node_by_mac(&self, mac: [u8; 6]) -> Option<&Arc<Node>> {
        self.nodes.iter().find(|n| n.mac == mac)
    }

    /// The virtual IP address (198.18.k.100).
    pub fn vip(&self) -> Ipv4Addr {
        Ipv4Addr::new(198, 18, self.k, 100)
    }

    /// The LAN's third octet `k` (198.18.k.0/24, management 198.19.k.0/24).
    pub fn subnet(&self) -> u8 {
        self.k
    }

    /// The client's namespace.
    pub fn client_netns(&self) -> &str {
        &self.client
    }

    /// The client's address.
    pub fn client_ip(&self) -> Ipv4Addr {
        Ipv4Addr::new(198, 18, self.k, 250)
    }

    /// The switch's namespace (the BMCs listen there).
    pub fn switch_netns(&self) -> &str {
        &self.switch
    }

    /// The BMC password file (mode 0600), with BMCs.
    pub fn bmc_password_file(&self) -> Option<&Path> {
        self.bmc_password_file.as_deref()
    }

    /// The switch interfaces behind `link` of node `n`.
    fn ports(&self, n: usize, link: Link) -> Result<Vec<String>> {
        self.node(n)?;
        Ok(match link {
            Link::Lan => vec![format!("n{n}")],
            Link::Management => vec![format!("m{n}")],
            Link::Serial => Vec::new(),
            Link::Crossover(peer) => {
                if !self.spec.crossover || peer == n {
                    bail!("node{n} has no crossover cable to node{peer}");
                }
                self.node(peer)?;
                let (a, b) = (n.min(peer), n.max(peer));
                vec![format!("x{a}-{b}a"), format!("x{a}-{b}b")]
            }
        })
    }

    fn set_link(&self, n: usize, link: Link, up: bool) -> Result<()> {
        if link == Link::Serial {
            let modem = self
                .null_modem
                .as_ref()
                .context("this lab has no null-modem cable")?;
            modem.set_cut(!up);
            return Ok(());
        }
        for port in self.ports(n, link)? {
            command::ip_in(
                &self.switch,
                &["link", "set", &port, if up { "up" } else { "down" }],
            )?;
        }
        Ok(())
    }

    /// Pulls one cable of node `n`; returns the instant just before.
    pub fn cut(&self, n: usize, link: Link) -> Result<Instant> {
        let at = Instant::now();
        self.set_link(n, link, false)?;
        Ok(at)
    }

    /// Plugs it back in; returns the instant just before.
    pub fn heal(&self, n: usize, link: Link) -> Result<Instant> {
        let at = Instant::now();
        self.set_link(n, link, true)?;
        Ok(at)
    }

    /// Every cluster link of node `n` (LAN, crossovers, null modem; not the
    /// management port): the node is cut off both ways.
    pub fn cluster_links(&self, n: usize) -> Vec<Link> {
        let mut links = vec![Link::Lan];
        if self.spec.crossover {
            links.extend(
                (1..=self.nodes.len())
                    .filter(|p| *p != n)
                    .map(Link::Crossover),
            );
        }
        if self.null_modem.is_some() {
            links.push(Link::Serial);
        }
        links
    }

    /// Cuts every cluster link of node `n`; returns the instant just before.
    pub fn isolate(&self, n: usize) -> Result<Instant> {
        let at = Instant::now();
        for link in self.cluster_links(n) {
            self.set_link(n, link, false)?;
        }
        Ok(at)
    }

    /// Restores every cluster link of node `n`; returns the instant just before.
    pub fn rejoin(&self, n: usize) -> Result<Instant> {
        let at = Instant::now();
        for link in self.cluster_links(n) {
            self.set_link(n, link, true)?;
        }
        Ok(at)
    }

    /// Starts node `n`'s daemon with its starter.
    pub fn start_daemon(&self, n: usize) -> Result<()> {
        self.node(n)?.start_daemon()
    }

    /// kill -9 of node `n`'s daemon (its process tree); the instant before.
    pub fn kill_daemon(&self, n: usize) -> Result<Instant> {
        self.node(n)?.kill_daemon()
    }

    /// Powers node `n` off (as its BMC would); the instant before.
    pub fn power_off(&self, n: usize) -> Result<Instant> {
        let at = Instant::now();
        self.node(n)?.power_off(PowerCause::Lab)?;
        Ok(at)
    }

    /// Powers node `n` on (and starts its daemon); the instant before.
    pub fn power_on(&self, n: usize) -> Result<Instant> {
        let at = Instant::now();
        self.node(n)?.power_on(PowerCause::Lab)?;
        Ok(at)
    }

    /// Runs `ipmitool -I lanplus … ARGS` from node `from` against node
    /// `target`'s BMC (the password goes by file, never on the command line).
    pub fn ipmitool(&self, from: usize, target: usize, args: &[&str]) -> Result<Output> {
        let bmc = self
            .node(target)?
            .bmc_addr()
            .context("this lab has no BMCs")?;
        let pass = self.bmc_password_file().context("this lab has no BMCs")?;
        let host = bmc.ip().to_string();
        let mut cmd = std::process::Command::new("ip");
        cmd.args([
            "netns",
            "exec",
            self.node(from)?.netns(),
            "ipmitool",
            "-I",
            "lanplus",
            "-H",
        ])
        .arg(&host)
        .args(["-U", BMC_USER, "-f"])
        .arg(pass)
        .args(args);
        command::run(&mut cmd, Duration::from_secs(30))
    }

    /// Starts the prober in the client namespace.
    pub fn prober(&self, options: ProbeOptions) -> Result<Prober> {
        Prober::start(self, options)
    }

    /// Removes everything: the daemons and every other process the nodes run
    /// (by recorded PID and by namespace), the BMCs, the responders, the
    /// null modem, the namespaces and the directory. Idempotent.
    pub fn teardown(&mut self) {
        if self.torn_down {
            return;
        }
        self.torn_down = true;
        // BMCs first: a fence arriving now must not power a node back on.
        self.bmcs = None;
        for node in &self.nodes {
            locked(&node.starter).take();
            locked(&node.processes).kill_all(&node.netns);
        }
        for r in &mut self.responders {
            r.stop();
        }
        self.responders.clear();
        if let Some(mut modem) = self.null_modem.take() {
            modem.stop();
        }
        for ns in std::mem::take(&mut self.namespaces).iter().rev() {
            let _ = command::ip(&["netns", "del", ns]);
        }
        if std::env::var_os("IRONBEAT_LAB_KEEP").is_none() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.teardown();
    }
}

/// Whether a line of `ip -o link show` has the administrative `UP` flag
/// (`2: eth0@if3: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 …`).
fn link_is_up(line: &str) -> bool {
    line.split_once('<')
        .and_then(|(_, rest)| rest.split_once('>'))
        .is_some_and(|(flags, _)| flags.split(',').any(|f| f == "UP"))
}

fn mac_text(mac: [u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn random_password() -> Result<String> {
    let mut bytes = [0u8; 8];
    use std::io::Read;
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("reading /dev/urandom")?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Writes `secret` (and a newline) to a new file of mode 0600.
pub fn write_secret(path: &Path, secret: &str) -> Result<()> {
    fs::write(path, format!("{secret}\n"))
        .with_context(|| format!("writing {}", path.display()))?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600))?;
    Ok(())
}

/// Blocks SIGINT and SIGTERM in the calling thread; threads (and the lab's
/// threads) started afterwards inherit the mask, so only the thread of
/// [`tear_down_on_interrupt`] receives them. Call before [`Lab::build`].
pub fn block_interrupts() {
    use nix::sys::signal::{SigSet, SigmaskHow, Signal};
    let mut set = SigSet::empty();
    set.add(Signal::SIGINT);
    set.add(Signal::SIGTERM);
    let _ = nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), None);
}

/// Starts a thread that waits for SIGINT or SIGTERM (blocked with
/// [`block_interrupts`]), then removes what `lab` made — kills the nodes'
/// processes, deletes the namespaces and the directory — and lets the signal
/// end the process as it would have (exit status 130 / 143 in a shell). It
/// needs no lock on the lab, so it works while the lab is in use.
pub fn tear_down_on_interrupt(lab: &Lab) -> Result<()> {
    use nix::sys::signal::{SigSet, SigmaskHow, Signal};
    let nodes: Vec<Arc<Node>> = lab.nodes.clone();
    let namespaces = lab.namespaces.clone();
    let dir = lab.dir.clone();
    thread::Builder::new()
        .name("lab-interrupt".into())
        .spawn(move || {
            let mut set = SigSet::empty();
            set.add(Signal::SIGINT);
            set.add(Signal::SIGTERM);
            let Ok(signal) = set.wait() else {
                return;
            };
            eprintln!("\ninterrupted: tearing the lab down");
            for node in &nodes {
                locked(&node.starter).take();
                locked(&node.processes).kill_all(&node.netns);
            }
            for ns in namespaces.iter().rev() {
                let _ = command::ip(&["netns", "del", ns]);
            }
            let _ = fs::remove_dir_all(&dir);
            // Deliver the signal to this thread with its default action.
            let mut one = SigSet::empty();
            one.add(signal);
            let _ = nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_UNBLOCK, Some(&one), None);
            let _ = nix::sys::signal::raise(signal);
        })
        .context("starting the interrupt thread")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_flags_parse_and_hostile_lines_read_as_down() {
        assert!(link_is_up(
            "2: eth0@if3: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1500 qdisc noqueue"
        ));
        assert!(link_is_up("2: eth0: <UP> mtu 1500"));
        for down in [
            "2: eth0@if3: <BROADCAST,MULTICAST> mtu 1500 state DOWN",
            "2: eth0: <NO-CARRIER,BROADCAST,MULTICAST,UP_NOT> mtu",
            "2: eth0: UP,LOWER_UP mtu",
            "2: eth0: <BROADCAST,MULTICAST mtu UP",
            "2: eth0: >UP< mtu",
            "",
            "<",
            "\u{0}<\u{ff}>",
        ] {
            assert!(!link_is_up(down), "{down:?}");
        }
    }

    #[test]
    fn spec_validation() {
        assert!(LabSpec::new("a1", 2).validate().is_ok());
        assert!(LabSpec::new("a1", 16).crossover(true).validate().is_ok());
        assert!(LabSpec::new("a1", 2).null_modem(true).validate().is_ok());
        for bad in [
            LabSpec::new("", 2),
            LabSpec::new("A", 2),
            LabSpec::new("a-b", 2),
            LabSpec::new("a b", 2),
            LabSpec::new("123456789", 2),
            LabSpec::new("é", 2),
            LabSpec::new("a", 0),
            LabSpec::new("a", 1),
            LabSpec::new("a", 17),
            LabSpec::new("a", 3).null_modem(true),
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }
}
