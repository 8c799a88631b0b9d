//! OpenIPMI's `ipmi_sim` as a private BMC, the real peer of the IPMI tests and
//! benchmark: two network namespaces joined by a veth pair, the BMC in one
//! (`NET.2:623`, and `NET.4` assigned with nothing listening), the clients in
//! the other (`NET.1`); `NET.3` is unassigned (a black-holed BMC).
//!
//! The BMC's set-up is ironbeat-fence's (`fence/tests/ipmi_sim/`: lan.conf.in,
//! bmc.emu, chassis-control.sh; users admin/labpass, operator/oppass,
//! viewer/viewpass). The hook keeps the machine's power in `STATE/power` and
//! logs every operation to `STATE/events.log`. Dropping a [`SimBmc`] kills its
//! ipmi_sim (by PID), deletes both namespaces and the state directory.
//!
//! [`SimBmc::start_with_vm`] starts the same BMC powering a real QEMU guest
//! instead of the hook (`hw-tests/ipmi_sim/lan-vm.conf.in`): "power on" runs
//! qemu through ipmi_sim's `startcmd` in the BMC's namespace, the power state is
//! "that process exists", and power off and hard reset reach qemu over the KCS
//! link (VM codec). Dropping it also stops that qemu, by the PID in its
//! `-pidfile` ([`crate::qemu::Vm::kill`]).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::binary;
use crate::cmd::{self, run as run_limited};
use crate::qemu::{GuestImage, Vm};

/// The TCP port, on the BMC namespace's loopback, of the VM's KCS link.
const KCS_PORT: u16 = 9002;

/// One private ipmi_sim BMC.
#[derive(Debug)]
pub struct SimBmc {
    net: String,
    bmc_ns: String,
    cli_ns: String,
    state: PathBuf,
    sim: Option<Child>,
    vm: Option<Vm>,
}

impl SimBmc {
    /// Starts a BMC in namespaces `PREFIX-<pid>-<n>-{bmc,cli}` on the /24
    /// `net` (three octets, inside 198.18.0.0/15), after removing namespaces
    /// of `prefix` left by test processes that no longer exist.
    pub fn start(prefix: &str, net: &str) -> Result<SimBmc> {
        Self::launch(prefix, net, None)
    }

    /// Like [`SimBmc::start`], but the BMC powers a QEMU guest named
    /// `vm_name` booting `image` (power off at start: nothing runs until a
    /// "power on"). Users as in [`SimBmc::start`] (admin/labpass,
    /// operator/oppass); no hook, so [`SimBmc::power_on`] and the other hook
    /// methods do not apply: ask the BMC, and look at [`SimBmc::vm`].
    pub fn start_with_vm(
        prefix: &str,
        net: &str,
        vm_name: &str,
        image: &GuestImage,
    ) -> Result<SimBmc> {
        Self::launch(prefix, net, Some((vm_name, image)))
    }

    fn launch(prefix: &str, net: &str, vm: Option<(&str, &GuestImage)>) -> Result<SimBmc> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        sweep_stale(prefix);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let pid = std::process::id();
        let state = std::env::temp_dir().join(format!("{prefix}-{pid}-{n}"));
        let vm = match vm {
            Some((name, image)) => Some(Vm::new(name, image, &state, KCS_PORT)?),
            None => None,
        };
        let mut bmc = SimBmc {
            net: net.to_string(),
            bmc_ns: format!("{prefix}-{pid}-{n}-bmc"),
            cli_ns: format!("{prefix}-{pid}-{n}-cli"),
            state,
            sim: None,
            vm,
        };
        bmc.network()?;
        bmc.start_sim()?;
        Ok(bmc)
    }

    /// The QEMU guest this BMC powers ([`SimBmc::start_with_vm`]).
    pub fn vm(&self) -> Option<&Vm> {
        self.vm.as_ref()
    }

    /// The BMC's address (`NET.2`).
    pub fn bmc_ip(&self) -> String {
        format!("{}.2", self.net)
    }

    /// The clients' address (`NET.1`).
    pub fn client_ip(&self) -> String {
        format!("{}.1", self.net)
    }

    /// An unassigned address: nobody answers ARP (`NET.3`).
    pub fn black_hole_ip(&self) -> String {
        format!("{}.3", self.net)
    }

    /// Assigned on the BMC's side, nothing listens on UDP 623 (`NET.4`).
    pub fn closed_port_ip(&self) -> String {
        format!("{}.4", self.net)
    }

    /// The BMC's namespace.
    pub fn bmc_ns(&self) -> &str {
        &self.bmc_ns
    }

    /// The clients' namespace.
    pub fn cli_ns(&self) -> &str {
        &self.cli_ns
    }

    /// The state directory (power file, hook log, ipmi_sim log).
    pub fn state(&self) -> &Path {
        &self.state
    }

    /// `ip netns exec CLIENT_NS program`: a command in the clients' namespace.
    pub fn client_command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.cli_ns]).arg(program);
        c
    }

    /// The simulated machine's power (the hook's state file).
    pub fn power_on(&self) -> bool {
        fs::read_to_string(self.state.join("power")).is_ok_and(|p| p.trim() == "1")
    }

    /// Sets the simulated machine's power directly.
    pub fn set_power(&self, on: bool) -> Result<()> {
        fs::write(self.state.join("power"), if on { "1\n" } else { "0\n" })
            .context("writing the power file")
    }

    /// Makes the machine ignore power changes (a broken power controller).
    pub fn set_stuck(&self, stuck: bool) -> Result<()> {
        let path = self.state.join("stuck");
        if stuck {
            fs::write(path, "").context("writing the stuck file")
        } else {
            let _ = fs::remove_file(path);
            Ok(())
        }
    }

    /// The hook's operation log, one line per operation.
    pub fn events(&self) -> String {
        fs::read_to_string(self.state.join("events.log")).unwrap_or_default()
    }

    /// Whether ipmi_sim is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.sim.as_mut().map(Child::try_wait), Some(Ok(None)))
    }

    /// ipmi_sim's own output.
    pub fn log(&self) -> String {
        fs::read_to_string(self.state.join("ipmi_sim.log")).unwrap_or_default()
    }

    fn ip(args: &[&str]) -> Result<()> {
        cmd::ip(args).map(|_| ())
    }

    fn network(&self) -> Result<()> {
        Self::ip(&["netns", "add", &self.bmc_ns])?;
        Self::ip(&["netns", "add", &self.cli_ns])?;
        Self::ip(&[
            "link",
            "add",
            "b0",
            "netns",
            &self.bmc_ns,
            "type",
            "veth",
            "peer",
            "name",
            "c0",
            "netns",
            &self.cli_ns,
        ])?;
        let bmc_side = [self.bmc_ip(), self.closed_port_ip()];
        let cli_side = [self.client_ip()];
        for (ns, dev, addresses) in [
            (&self.bmc_ns, "b0", &bmc_side[..]),
            (&self.cli_ns, "c0", &cli_side[..]),
        ] {
            for a in addresses {
                Self::ip(&["-n", ns, "addr", "add", &format!("{a}/24"), "dev", dev])?;
            }
            Self::ip(&["-n", ns, "link", "set", "lo", "up"])?;
            Self::ip(&["-n", ns, "link", "set", dev, "up"])?;
        }
        Ok(())
    }

    fn start_sim(&mut self) -> Result<()> {
        let setup = binary::workspace_root().join("fence/tests/ipmi_sim");
        let persist = self.state.join("persist");
        fs::create_dir_all(&persist).context("creating the state directory")?;
        fs::copy(setup.join("bmc.emu"), self.state.join("bmc.emu")).context("bmc.emu")?;
        if let Some(vm) = &self.vm {
            let template = binary::workspace_root().join("hw-tests/ipmi_sim/lan-vm.conf.in");
            let conf = fs::read_to_string(&template)
                .with_context(|| template.display().to_string())?
                .replace("@ADDR@", &self.bmc_ip())
                .replace("@PORT@", "623")
                .replace("@KCS_PORT@", &vm.kcs_port().to_string())
                .replace("@STARTCMD@", &vm.start_command());
            fs::write(self.state.join("lan.conf"), conf)?;
        } else {
            let hook = self.state.join("chassis-control.sh");
            fs::copy(setup.join("chassis-control.sh"), &hook).context("chassis-control.sh")?;
            fs::set_permissions(&hook, fs::Permissions::from_mode(0o755))?;
            let conf = fs::read_to_string(setup.join("lan.conf.in"))
                .context("lan.conf.in")?
                .replace("@ADDR@", &self.bmc_ip())
                .replace("@PORT@", "623")
                .replace("@CHASSIS@", &hook.to_string_lossy());
            fs::write(self.state.join("lan.conf"), conf)?;
            fs::write(self.state.join("power"), "1\n")?;
        }
        let log = fs::File::create(self.state.join("ipmi_sim.log"))?;
        let child = Command::new("ip")
            .args(["netns", "exec", &self.bmc_ns, "ipmi_sim", "-n", "-c"])
            .arg(self.state.join("lan.conf"))
            .arg("-f")
            .arg(self.state.join("bmc.emu"))
            .arg("-s")
            .arg(&persist)
            .env("IBF_BMC_STATE", &self.state)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .context("starting ipmi_sim (apt-get install openipmi)")?;
        self.sim = Some(child);
        // Bounded: 100 x 50 ms for the UDP socket to open.
        let listening = format!("{}:623", self.bmc_ip());
        for _ in 0..100 {
            let out = run_limited(
                Command::new("ip").args([
                    "netns",
                    "exec",
                    &self.bmc_ns,
                    "ss",
                    "-Hlun",
                    "src",
                    &listening,
                ]),
                Duration::from_secs(5),
            )?;
            if !out.stdout.is_empty() {
                return Ok(());
            }
            if let Some(Ok(Some(status))) = self.sim.as_mut().map(Child::try_wait) {
                bail!("ipmi_sim exited ({status}): {}", self.log());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        bail!(
            "ipmi_sim did not open {listening} within 5 s: {}",
            self.log()
        )
    }
}

impl Drop for SimBmc {
    fn drop(&mut self) {
        // The guest first, while ipmi_sim (its parent) still runs to reap it
        // (an orphan would wait for init): the PID in its pid file, and any
        // process of the BMC's namespace started with that pid file (a qemu
        // that has not written it yet).
        let mut stopped = Vec::new();
        if let Some(vm) = &self.vm {
            stopped.extend(vm.kill(Duration::from_secs(3)));
            let limit = Duration::from_secs(5);
            if let Ok(pids) = run_limited(
                Command::new("ip").args(["netns", "pids", &self.bmc_ns]),
                limit,
            ) {
                for pid in pids
                    .stdout
                    .split_whitespace()
                    .filter_map(|p| p.parse().ok())
                {
                    if vm.kill_process(pid, Duration::from_secs(3)) {
                        stopped.push(pid);
                    }
                }
            }
        }
        if let Some(mut child) = self.sim.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        for ns in [&self.bmc_ns, &self.cli_ns] {
            let _ = run_limited(
                Command::new("ip").args(["netns", "del", ns]),
                Duration::from_secs(5),
            );
        }
        if std::thread::panicking() {
            eprintln!(
                "ipmi_sim log ({}):\n{}\nevents:\n{}",
                self.state.display(),
                self.log(),
                self.events()
            );
            if let Some(vm) = &self.vm {
                eprintln!(
                    "guest {} (qemu PIDs stopped at drop: {stopped:?}); console:\n{}\nqemu:\n{}",
                    vm.name(),
                    vm.console_tail(),
                    fs::read_to_string(vm.log_path()).unwrap_or_default()
                );
            }
        }
        let _ = fs::remove_dir_all(&self.state);
    }
}

/// Deletes `PREFIX-<pid>-…` namespaces of processes that no longer exist (a
/// crashed earlier run), after stopping the ipmi_sim and the qemu inside them.
pub fn sweep_stale(prefix: &str) {
    let Ok(entries) = fs::read_dir("/run/netns") else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let Some(pid) = name
            .strip_prefix(prefix)
            .and_then(|rest| rest.strip_prefix('-'))
            .and_then(|rest| rest.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let limit = Duration::from_secs(5);
        if let Ok(pids) = run_limited(Command::new("ip").args(["netns", "pids", &name]), limit) {
            for p in pids.stdout.split_whitespace() {
                let comm = fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default();
                let comm = comm.trim();
                if comm == "ipmi_sim" || comm.starts_with("qemu-system-") {
                    let _ = Command::new("kill").arg(p).status();
                }
            }
        }
        let _ = run_limited(Command::new("ip").args(["netns", "del", &name]), limit);
        if let Some(stem) = name
            .strip_suffix("-bmc")
            .or_else(|| name.strip_suffix("-cli"))
        {
            let _ = fs::remove_dir_all(std::env::temp_dir().join(stem));
        }
    }
}
