//! A private OpenIPMI `ipmi_sim` BMC for the command-line tests: two network
//! namespaces joined by a veth pair, the BMC in one (198.18.11.2:623), our
//! binaries and ipmitool in the other (198.18.11.1). 198.18.11.3 is
//! unassigned (nobody answers ARP: a black-holed BMC); 198.18.11.4 is
//! assigned with nothing listening (ICMP port unreachable).
//!
//! The BMC's configuration is ironbeat-fence's interop set-up, read by path
//! (`fence/tests/ipmi_sim/`: lan.conf.in, bmc.emu, chassis-control.sh; users
//! admin/labpass, operator/oppass, viewer/viewpass).
//!
//! Without root, `ip`, `ipmi_sim` or `ipmitool` a test prints `SKIPPED:` and
//! passes, unless CI=true (or IBF_REQUIRE=1): then it fails. Dropping the
//! [`Bmc`] kills our ipmi_sim (by PID), deletes both namespaces and the state
//! directory.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::{run, Outcome};

/// The BMC's address.
pub const BMC_IP: &str = "198.18.11.2";
/// Our address.
pub const CLIENT_IP: &str = "198.18.11.1";
/// Unassigned: ARP never answers.
pub const BLACK_HOLE_IP: &str = "198.18.11.3";
/// Assigned on the BMC's side, nothing listens on UDP 623.
pub const CLOSED_PORT_IP: &str = "198.18.11.4";

const SETUP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/fence/tests/ipmi_sim");

/// One private BMC.
pub struct Bmc {
    bmc_ns: String,
    cli_ns: String,
    state: PathBuf,
    sim: Option<Child>,
}

fn required() -> bool {
    ["CI", "IBF_REQUIRE"]
        .iter()
        .any(|name| std::env::var(name).is_ok_and(|v| !v.is_empty() && v != "0" && v != "false"))
}

fn has_tool(tool: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
}

#[track_caller]
fn ip(args: &[&str]) {
    let out = run("ip", args, &[], None);
    assert_eq!(out.code, 0, "ip {}: {}", args.join(" "), out.stderr);
}

impl Bmc {
    /// Starts a BMC for `test`; `None` (after printing SKIPPED) when this
    /// machine cannot.
    pub fn start(test: &str) -> Option<Bmc> {
        let missing = if !nix::unistd::geteuid().is_root() {
            Some("not root (network namespaces need it)".to_string())
        } else {
            ["ip", "ipmi_sim", "ipmitool"]
                .iter()
                .find(|t| !has_tool(t))
                .map(|t| format!("{t} is not installed"))
        };
        if let Some(why) = missing {
            assert!(
                !required(),
                "{test}: {why}; under CI the ipmi_sim tests must run \
                 (apt-get install openipmi ipmitool, run as root)"
            );
            eprintln!("\nSKIPPED: {test}: {why}");
            return None;
        }
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let pid = std::process::id();
        let mut bmc = Bmc {
            bmc_ns: format!("ibc-{pid}-{n}-bmc"),
            cli_ns: format!("ibc-{pid}-{n}-cli"),
            state: std::env::temp_dir().join(format!("ibc-{pid}-{n}")),
            sim: None,
        };
        bmc.network();
        bmc.start_sim();
        Some(bmc)
    }

    fn network(&self) {
        ip(&["netns", "add", &self.bmc_ns]);
        ip(&["netns", "add", &self.cli_ns]);
        ip(&[
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
        ]);
        for (ns, dev, addresses) in [
            (&self.bmc_ns, "b0", &[BMC_IP, CLOSED_PORT_IP][..]),
            (&self.cli_ns, "c0", &[CLIENT_IP][..]),
        ] {
            for a in addresses {
                ip(&["-n", ns, "addr", "add", &format!("{a}/24"), "dev", dev]);
            }
            ip(&["-n", ns, "link", "set", "lo", "up"]);
            ip(&["-n", ns, "link", "set", dev, "up"]);
        }
    }

    fn start_sim(&mut self) {
        let setup = Path::new(SETUP);
        let persist = self.state.join("persist");
        fs::create_dir_all(&persist).unwrap();
        let hook = self.state.join("chassis-control.sh");
        fs::copy(setup.join("chassis-control.sh"), &hook).unwrap();
        fs::set_permissions(&hook, fs::Permissions::from_mode(0o755)).unwrap();
        fs::copy(setup.join("bmc.emu"), self.state.join("bmc.emu")).unwrap();
        let conf = fs::read_to_string(setup.join("lan.conf.in"))
            .unwrap()
            .replace("@ADDR@", BMC_IP)
            .replace("@PORT@", "623")
            .replace("@CHASSIS@", &hook.to_string_lossy());
        fs::write(self.state.join("lan.conf"), conf).unwrap();
        fs::write(self.state.join("power"), "1\n").unwrap();
        let log = fs::File::create(self.state.join("ipmi_sim.log")).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &self.bmc_ns, "ipmi_sim", "-n", "-c"])
            .arg(self.state.join("lan.conf"))
            .arg("-f")
            .arg(self.state.join("bmc.emu"))
            .arg("-s")
            .arg(&persist)
            .env("IBF_BMC_STATE", &self.state)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.sim = Some(child);
        // Bounded: 100 x 50 ms for the BMC to answer ipmitool.
        for _ in 0..100 {
            if self
                .ipmitool(&[
                    "-I", "lan", "-U", "admin", "-P", "labpass", "-N", "1", "-R", "1", "chassis",
                    "power", "status",
                ])
                .code
                == 0
            {
                return;
            }
            if let Some(Ok(Some(status))) = self.sim.as_mut().map(Child::try_wait) {
                panic!(
                    "ipmi_sim exited ({status}): {}",
                    fs::read_to_string(self.state.join("ipmi_sim.log")).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("ipmi_sim did not answer within 5 s");
    }

    /// Runs a program in our (client) namespace.
    pub fn run(&self, program: &str, args: &[&str], stdin: Option<&str>) -> Outcome {
        let mut full = vec!["netns", "exec", &self.cli_ns, program];
        full.extend_from_slice(args);
        run("ip", &full, &[], stdin)
    }

    /// Runs ipmitool against the BMC from our namespace.
    pub fn ipmitool(&self, args: &[&str]) -> Outcome {
        let mut full = vec!["-H", BMC_IP];
        full.extend_from_slice(args);
        self.run("ipmitool", &full, None)
    }

    /// What ipmitool (suite 3) says about the power.
    pub fn ipmitool_power(&self) -> String {
        self.ipmitool(&[
            "-I", "lanplus", "-C", "3", "-U", "admin", "-P", "labpass", "chassis", "power",
            "status",
        ])
        .stdout
        .trim()
        .to_string()
    }

    /// The simulated machine's power (the hook's state file).
    pub fn power_on(&self) -> bool {
        fs::read_to_string(self.state.join("power")).unwrap().trim() == "1"
    }

    /// Makes the machine ignore power changes (a broken power controller).
    pub fn set_stuck(&self, stuck: bool) {
        let path = self.state.join("stuck");
        if stuck {
            fs::write(path, "").unwrap();
        } else {
            let _ = fs::remove_file(path);
        }
    }

    /// The hook's operation log, one line per operation.
    pub fn events(&self) -> Vec<String> {
        fs::read_to_string(self.state.join("events.log"))
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }
}

impl Drop for Bmc {
    fn drop(&mut self) {
        if let Some(mut child) = self.sim.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        for ns in [&self.bmc_ns, &self.cli_ns] {
            let _ = run("ip", &["netns", "del", ns], &[], None);
        }
        if std::thread::panicking() {
            eprintln!(
                "ipmi_sim log:\n{}\nevents:\n{}",
                fs::read_to_string(self.state.join("ipmi_sim.log")).unwrap_or_default(),
                self.events().join("\n")
            );
        }
        let _ = fs::remove_dir_all(&self.state);
    }
}
