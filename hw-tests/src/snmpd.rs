//! net-snmp's `snmpd` as a simulated APC PDU, the real peer of the APC tests
//! and benchmark: snmpd does SNMP (v1, v2c, v3 USM), a `pass_persist` script
//! (`hw-tests/fixtures/pdu/apc-pdu-sim.py`) keeps the outlets' state behind
//! the three APC table sets (sPDU, rPDU, rPDU2).
//!
//! Two placements: on loopback at a free high port ([`Pdu::start_loopback`],
//! no root needed), or in a network namespace of its own at `NET.2:161`
//! with the clients' namespace at `NET.1` ([`Pdu::start_in_netns`]; for
//! cluster-glue's apcmastersnmp, which always uses port 161).
//!
//! Credentials (the lab's): v1/v2c `public` (read-only) and `private`
//! (read-write); v3 `fenceuser` SHA/AES and `apclegacy` MD5/DES authPriv,
//! `monitor` SHA authNoPriv read-only; passphrases `fenceauth1`/`fencepriv1`.
//! Dropping a [`Pdu`] kills its snmpd (by PID; the script exits on EOF),
//! deletes its namespaces and its state directory.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::binary;
use crate::cmd;

/// Which APC device the agent pretends to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Personality {
    /// Switched Rack PDU AP7921 (rPDU tables), sysObjectID `.318.1.3.4.5`.
    Rpdu,
    /// Rack PDU 2G AP8941 (rPDU2 tables too), sysObjectID `.318.1.3.4.6`.
    Rpdu2,
    /// MasterSwitch AP9212 (sPDU tables only), sysObjectID `.318.1.3.4.2`.
    MasterSwitch,
}

impl Personality {
    /// Every personality.
    pub const ALL: [Personality; 3] = [
        Personality::Rpdu,
        Personality::Rpdu2,
        Personality::MasterSwitch,
    ];

    /// The simulator's name for it.
    pub fn name(self) -> &'static str {
        match self {
            Personality::Rpdu => "rpdu",
            Personality::Rpdu2 => "rpdu2",
            Personality::MasterSwitch => "ms",
        }
    }

    fn sys_object_id(self) -> &'static str {
        match self {
            Personality::Rpdu => ".1.3.6.1.4.1.318.1.3.4.5",
            Personality::Rpdu2 => ".1.3.6.1.4.1.318.1.3.4.6",
            Personality::MasterSwitch => ".1.3.6.1.4.1.318.1.3.4.2",
        }
    }

    fn model(self) -> &'static str {
        match self {
            Personality::Rpdu => "AP7921",
            Personality::Rpdu2 => "AP8941",
            Personality::MasterSwitch => "AP9212",
        }
    }
}

/// How the PDU starts.
#[derive(Debug, Clone)]
pub struct PduSpec {
    /// The device.
    pub personality: Personality,
    /// Outlet names, outlet 1 first; the PDU has this many outlets.
    pub names: Vec<String>,
    /// Seconds an outlet stays off after immediateReboot (APC: 5..60).
    pub reboot_duration: u32,
}

impl PduSpec {
    /// 8 outlets: `node1`..`node4`, then `Outlet 5`..`Outlet 8`; reboot 5 s.
    pub fn new(personality: Personality) -> Self {
        PduSpec {
            personality,
            names: [
                "node1", "node2", "node3", "node4", "Outlet 5", "Outlet 6", "Outlet 7", "Outlet 8",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            reboot_duration: 5,
        }
    }
}

/// One running simulated PDU.
#[derive(Debug)]
pub struct Pdu {
    dir: PathBuf,
    host: String,
    port: u16,
    snmpd: Option<Child>,
    /// (PDU namespace, clients' namespace) in netns mode.
    namespaces: Option<(String, String)>,
    personality: Personality,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl Pdu {
    /// On 127.0.0.1 at a free UDP port.
    pub fn start_loopback(spec: &PduSpec) -> Result<Pdu> {
        let port = free_udp_port()?;
        let mut pdu = Pdu::prepare(spec, "127.0.0.1", port, None)?;
        pdu.launch(spec)?;
        Ok(pdu)
    }

    /// In namespace `ibt-<tag><n>-<pid>-pdu` at `NET.2:161`; clients run in
    /// `…-cli` at `NET.1` ([`Pdu::client_command`]). `net`: three octets
    /// inside 198.18.0.0/15. Needs root.
    pub fn start_in_netns(tag: &str, net: &str, spec: &PduSpec) -> Result<Pdu> {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let pid = std::process::id();
        // `ibt-<tag>-<pid>-<role>`: the form netns::sweep_stale understands.
        let pdu_ns = format!("ibt-{tag}{n}-{pid}-pdu");
        let cli_ns = format!("ibt-{tag}{n}-{pid}-cli");
        let host = format!("{net}.2");
        let mut pdu = Pdu::prepare(spec, &host, 161, Some((pdu_ns.clone(), cli_ns.clone())))?;
        for ns in [&pdu_ns, &cli_ns] {
            cmd::ip(&["netns", "add", ns])?;
            cmd::ip(&["-n", ns, "link", "set", "lo", "up"])?;
        }
        cmd::ip(&[
            "link", "add", "p0", "netns", &pdu_ns, "type", "veth", "peer", "name", "c0", "netns",
            &cli_ns,
        ])?;
        cmd::ip(&[
            "-n",
            &pdu_ns,
            "addr",
            "add",
            &format!("{net}.2/24"),
            "dev",
            "p0",
        ])?;
        cmd::ip(&[
            "-n",
            &cli_ns,
            "addr",
            "add",
            &format!("{net}.1/24"),
            "dev",
            "c0",
        ])?;
        cmd::ip(&["-n", &pdu_ns, "link", "set", "p0", "up"])?;
        cmd::ip(&["-n", &cli_ns, "link", "set", "c0", "up"])?;
        pdu.launch(spec)?;
        Ok(pdu)
    }

    fn prepare(
        spec: &PduSpec,
        host: &str,
        port: u16,
        namespaces: Option<(String, String)>,
    ) -> Result<Pdu> {
        sweep_stale();
        crate::netns::sweep_stale();
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        // `ibt-<tag>-<pid>`: the form netns::sweep_stale understands too.
        let dir = std::env::temp_dir().join(format!("ibt-pdu{n}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("persist")).context("creating the PDU's directory")?;
        Ok(Pdu {
            dir,
            host: host.to_string(),
            port,
            snmpd: None,
            namespaces,
            personality: spec.personality,
        })
    }

    fn launch(&mut self, spec: &PduSpec) -> Result<()> {
        let fixtures = binary::workspace_root().join("hw-tests/fixtures/pdu");
        let conf = serde_json::json!({
            "personality": spec.personality.name(),
            "model": spec.personality.model(),
            "outlets": spec.names.len(),
            "names": spec.names,
            "initial_state": "on",
            "reboot_duration": spec.reboot_duration,
            "power_on_time": 0,
            "power_off_time": 0,
        });
        fs::write(self.dir.join("pdu.json"), conf.to_string())?;
        let template = fs::read_to_string(fixtures.join("snmpd.conf.in"))
            .context("reading hw-tests/fixtures/pdu/snmpd.conf.in")?;
        let snmpd_conf = template
            .replace("@RUNDIR@", &self.dir.to_string_lossy())
            .replace("@AGENTADDR@", &format!("udp:{}:{}", self.host, self.port))
            .replace("@PERSONALITY@", self.personality.name())
            .replace("@SYSOBJECTID@", self.personality.sys_object_id())
            .replace("@MODEL@", self.personality.model())
            .replace("@SIM@", &fixtures.join("apc-pdu-sim.py").to_string_lossy());
        fs::write(self.dir.join("snmpd.conf"), snmpd_conf)?;
        let log = fs::File::create(self.dir.join("snmpd.out"))?;
        let mut command = match &self.namespaces {
            Some((pdu_ns, _)) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", pdu_ns, "snmpd"]);
                c
            }
            None => Command::new("snmpd"),
        };
        command
            .args(["-f", "-C", "-c"])
            .arg(self.dir.join("snmpd.conf"))
            .arg("-Lf")
            .arg(self.dir.join("snmpd.log"))
            .arg("-p")
            .arg(self.dir.join("snmpd.pid"))
            .args(["-r", "-I", "-smux,mteTrigger,mteTriggerConf"])
            .env("MIBS", "")
            .env("MIBDIRS", "/nonexistent")
            .env("SNMP_PERSISTENT_DIR", self.dir.join("persist"))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        self.snmpd = Some(
            command
                .spawn()
                .context("starting snmpd (apt-get install snmpd snmp)")?,
        );
        // Bounded: 100 x 50 ms until the agent answers a v2c GET.
        for _ in 0..100 {
            let mut probe = self.client_command("snmpget");
            probe.args(["-v2c", "-c", "public", "-t", "0.2", "-r", "0", "-On"]);
            probe.arg(self.target()).arg(".1.3.6.1.2.1.1.2.0");
            if let Ok(out) = cmd::run(&mut probe, Duration::from_secs(3)) {
                if out.stdout.contains("1.3.6.1.4.1.318") {
                    return Ok(());
                }
            }
            if let Some(Ok(Some(status))) = self.snmpd.as_mut().map(Child::try_wait) {
                bail!("snmpd exited ({status}): {}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!("snmpd did not answer within 5 s: {}", self.log())
    }

    /// The agent's address.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The agent's UDP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `host:port` (net-snmp's and fence_apc_snmp's target syntax).
    pub fn target(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// The device.
    pub fn personality(&self) -> Personality {
        self.personality
    }

    /// The clients' namespace (netns mode).
    pub fn client_ns(&self) -> Option<&str> {
        self.namespaces.as_ref().map(|(_, c)| c.as_str())
    }

    /// `program` to run as a client: in the clients' namespace in netns mode.
    pub fn client_command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        match &self.namespaces {
            Some((_, cli)) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", cli]).arg(program);
                c
            }
            None => Command::new(program),
        }
    }

    /// Outlet `n`'s state in the simulator (`Some(true)` on), read from its
    /// state file; applies nothing (timed transitions happen on requests).
    pub fn outlet_on(&self, n: u32) -> Option<bool> {
        let text = fs::read_to_string(self.dir.join("state.json")).ok()?;
        let v: serde_json::Value = serde_json::from_str(&text).ok()?;
        let outlet = v
            .get("outlets")?
            .get(usize::try_from(n).ok()?.checked_sub(1)?)?;
        Some(outlet.get("state")?.as_str()? == "on")
    }

    /// Outlet `n`'s pending timed transitions (a reboot in progress).
    pub fn outlet_pending(&self, n: u32) -> bool {
        let read = || -> Option<bool> {
            let text = fs::read_to_string(self.dir.join("state.json")).ok()?;
            let v: serde_json::Value = serde_json::from_str(&text).ok()?;
            let outlet = v
                .get("outlets")?
                .get(usize::try_from(n).ok()?.checked_sub(1)?)?;
            Some(!outlet.get("pending")?.as_array()?.is_empty())
        };
        read().unwrap_or(false)
    }

    /// The simulator's SET log, one line per change.
    pub fn events(&self) -> String {
        fs::read_to_string(self.dir.join("events.log")).unwrap_or_default()
    }

    /// snmpd's own log.
    pub fn log(&self) -> String {
        let mut s = fs::read_to_string(self.dir.join("snmpd.log")).unwrap_or_default();
        s.push_str(&fs::read_to_string(self.dir.join("snmpd.out")).unwrap_or_default());
        s
    }

    /// The state directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Pdu {
    fn drop(&mut self) {
        if let Some(mut child) = self.snmpd.take() {
            cmd::stop_child(&mut child, Duration::from_secs(2));
        }
        if let Some((a, b)) = &self.namespaces {
            for ns in [a, b] {
                let _ = cmd::run(
                    Command::new("ip").args(["netns", "del", ns]),
                    Duration::from_secs(5),
                );
            }
        }
        if std::thread::panicking() {
            eprintln!(
                "snmpd log ({}):\n{}\nevents:\n{}",
                self.dir.display(),
                self.log(),
                self.events()
            );
        }
        if std::env::var_os("IBT_KEEP").is_none() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// Stops the snmpd and removes the directory of every `/tmp/ibt-pdu<n>-<pid>`
/// whose test process no longer exists (it crashed before its `Drop`). Only
/// an snmpd whose command line names that directory's snmpd.conf is signalled.
pub fn sweep_stale() {
    let Ok(entries) = fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let Some(pid) = name
            .strip_prefix("ibt-pdu")
            .and_then(|rest| rest.split_once('-'))
            .and_then(|(_, p)| p.parse::<u32>().ok())
        else {
            continue;
        };
        if Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let dir = entry.path();
        let conf = dir.join("snmpd.conf").to_string_lossy().to_string();
        if let Some(agent) = fs::read_to_string(dir.join("snmpd.pid"))
            .ok()
            .and_then(|p| p.trim().parse::<i32>().ok())
        {
            let cmdline = fs::read(format!("/proc/{agent}/cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains(&conf) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(agent),
                    nix::sys::signal::Signal::SIGTERM,
                );
            }
        }
        let _ = fs::remove_dir_all(&dir);
    }
}

/// A UDP port on 127.0.0.1 that was free a moment ago.
pub fn free_udp_port() -> Result<u16> {
    let s = std::net::UdpSocket::bind("127.0.0.1:0").context("binding a UDP socket")?;
    Ok(s.local_addr()?.port())
}
