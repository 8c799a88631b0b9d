//! A private OpenIPMI `ipmi_sim` BMC for the command-line tests: two network
//! namespaces joined by a veth pair, the BMC in one (198.18.11.2:623), our
//! binaries and ipmitool in the other (198.18.11.1). 198.18.11.3 is
//! unassigned (nobody answers ARP: a black-holed BMC); 198.18.11.4 is
//! assigned with nothing listening (ICMP port unreachable).
//!
//! The BMC is hw-tests' [`SimBmc`] (ironbeat-fence's interop set-up; users
//! admin/labpass, operator/oppass, viewer/viewpass).
//!
//! Without root, `ip`, `ipmi_sim` or `ipmitool` a test prints `SKIPPED:` and
//! passes, unless CI=true (or IBF_REQUIRE=1): then it fails. Dropping the
//! [`Bmc`] kills our ipmi_sim (by PID), deletes both namespaces and the state
//! directory.

use std::path::PathBuf;

use ironbeat_hw_tests::ipmi_sim::SimBmc;

use super::{run, Outcome, Scratch};

/// The BMC's address.
pub const BMC_IP: &str = "198.18.11.2";
/// Our address.
pub const CLIENT_IP: &str = "198.18.11.1";
/// Unassigned: ARP never answers.
pub const BLACK_HOLE_IP: &str = "198.18.11.3";
/// Assigned on the BMC's side, nothing listens on UDP 623.
pub const CLOSED_PORT_IP: &str = "198.18.11.4";

/// One private BMC.
pub struct Bmc {
    sim: SimBmc,
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

impl Bmc {
    /// Starts a BMC for `test`; `None` (after printing SKIPPED) when this
    /// machine cannot.
    pub fn start(test: &str) -> Option<Bmc> {
        let missing = if !nix::unistd::geteuid().is_root() {
            Some("not root (network namespaces need it)".to_string())
        } else {
            ["ip", "ipmi_sim", "ipmitool", "ss"]
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
        let sim = SimBmc::start("ibc", "198.18.11").expect("starting ipmi_sim");
        assert_eq!(sim.bmc_ip(), BMC_IP);
        Some(Bmc { sim })
    }

    /// Runs a program in our (client) namespace.
    pub fn run(&self, program: &str, args: &[&str], stdin: Option<&str>) -> Outcome {
        let mut full = vec!["netns", "exec", self.sim.cli_ns(), program];
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
        self.sim.power_on()
    }

    /// Makes the machine ignore power changes (a broken power controller).
    pub fn set_stuck(&self, stuck: bool) {
        self.sim.set_stuck(stuck).unwrap();
    }

    /// The hook's operation log, one line per operation.
    pub fn events(&self) -> Vec<String> {
        self.sim.events().lines().map(String::from).collect()
    }

    /// Writes a native configuration into `dir`: a cluster of node1 and
    /// node2 whose `[[fence.device]]` "node2-bmc" is this BMC, logging in as
    /// `user` with `password` from `node2-bmc.pass` (mode 0600, beside the
    /// file), plus the `extra` device keys. Returns the configuration's path.
    pub fn native_config(&self, dir: &Scratch, user: &str, password: &str, extra: &str) -> PathBuf {
        dir.write("node2-bmc.pass", &format!("{password}\n"));
        dir.write(
            "ironbeat.toml",
            &format!(
                "[cluster]\nnodes = [\"node1\", \"node2\"]\n\n\
                 [[link]]\nkind = \"ucast\"\niface = \"eth0\"\npeer = \"{CLIENT_IP}\"\n\n\
                 [[fence.device]]\nname = \"node2-bmc\"\ntype = \"ipmi\"\nnodes = [\"node2\"]\n\
                 ip = \"{BMC_IP}\"\nusername = \"{user}\"\npassword_file = \"node2-bmc.pass\"\n\
                 {extra}"
            ),
        )
    }
}
