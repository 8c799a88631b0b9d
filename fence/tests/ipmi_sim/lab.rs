//! A private ipmi_sim BMC per test: two network namespaces joined by a veth
//! pair, OpenIPMI's `ipmi_sim` in one (198.18.10.2:623), the client side in
//! the other (198.18.10.1). 198.18.10.3 is unassigned (ARP never answers: a
//! black-holed BMC) and 198.18.10.4 is assigned with no listener (ICMP port
//! unreachable).
//!
//! The client runs in-process: a thread enters the client namespace
//! (setns) and runs the tokio driver there. ipmitool runs through
//! `ip netns exec`. Without root or ipmi_sim a test prints `SKIPPED:` and
//! passes, except under CI=true (or IBF_REQUIRE=1), where it fails.
//!
//! Dropping the [`Lab`] kills our ipmi_sim (by PID) and deletes both
//! namespaces and the state directory.

#![allow(dead_code)]

use std::fs;
use std::io::Write;

use std::process::{Command, Output, Stdio};

use std::time::{Duration, Instant};

use ironbeat_fence::driver::client::{run_with_events, FenceRequest};
use ironbeat_fence::ipmi::client::{Client, Config, Event, Outcome};
use ironbeat_fence::Error;
use ironbeat_hw_tests::ipmi_sim::SimBmc;

/// The BMC's address in every lab.
pub const BMC_IP: &str = "198.18.10.2";
/// The client's address.
pub const CLIENT_IP: &str = "198.18.10.1";
/// Unassigned: nobody answers ARP.
pub const BLACK_HOLE_IP: &str = "198.18.10.3";
/// Assigned to the BMC's namespace, nothing listens on 623.
pub const CLOSED_PORT_IP: &str = "198.18.10.4";

/// Datagrams of one exchange: (sent by us?, bytes).
pub type Recording = Vec<(bool, Vec<u8>)>;

/// One private BMC.
pub struct Lab {
    sim: SimBmc,
}

fn required() -> bool {
    let set = |name: &str| {
        std::env::var(name)
            .map(|v| !v.is_empty() && v != "0" && v != "false")
            .unwrap_or(false)
    };
    set("CI") || set("IBF_REQUIRE")
}

fn skip(test: &str, why: &str) -> Option<Lab> {
    if required() {
        panic!("{test}: {why} — the ipmi_sim tests must run here (CI=true); apt-get install openipmi ipmitool, run as root");
    }
    let _ = std::io::stderr().write_all(
        format!("\nSKIPPED: {test}: {why} (run as root with openipmi and ipmitool installed)\n")
            .as_bytes(),
    );
    None
}

fn has_tool(tool: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        .unwrap_or(false)
}

/// Runs a command to completion within `limit` (killed by PID after it).
pub fn run_limited(cmd: &mut Command, limit: Duration) -> Output {
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawning {cmd:?}: {e}"));
    let start = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if start.elapsed() > limit => {
                let _ = child.kill();
                break;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(e) => panic!("waiting for {cmd:?}: {e}"),
        }
    }
    child.wait_with_output().expect("collecting output")
}

impl Lab {
    /// Starts a BMC for `test`, or returns None after printing SKIPPED.
    pub fn start(test: &str) -> Option<Lab> {
        if !nix_is_root() {
            return skip(test, "not root (network namespaces need it)");
        }
        for tool in ["ip", "ipmi_sim", "ipmitool", "ss"] {
            if !has_tool(tool) {
                return skip(test, &format!("{tool} is not installed"));
            }
        }
        let sim = SimBmc::start("ibf", "198.18.10").expect("starting ipmi_sim");
        assert_eq!(sim.bmc_ip(), BMC_IP);
        Some(Lab { sim })
    }

    /// The simulated machine's power (the hook's state file).
    pub fn power_on(&self) -> bool {
        self.sim.power_on()
    }

    /// Sets the simulated machine's power directly.
    pub fn set_power(&self, on: bool) {
        self.sim.set_power(on).expect("power file");
    }

    /// Makes the machine ignore power changes (a broken power controller).
    pub fn set_stuck(&self, stuck: bool) {
        self.sim.set_stuck(stuck).expect("stuck file");
    }

    /// The hook's operation log.
    pub fn events(&self) -> String {
        self.sim.events()
    }

    /// Runs ipmitool in the client namespace against the BMC (10 s limit).
    pub fn ipmitool(&self, args: &[&str]) -> Output {
        run_limited(
            Command::new("ip")
                .args(["netns", "exec", self.sim.cli_ns(), "ipmitool", "-H", BMC_IP])
                .args(args),
            Duration::from_secs(10),
        )
    }

    /// Runs `f` on a thread inside the client namespace.
    pub fn in_client_ns<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let ns_path = format!("/run/netns/{}", self.sim.cli_ns());
        std::thread::spawn(move || {
            let ns = fs::File::open(&ns_path).expect("open netns");
            nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
            f()
        })
        .join()
        .expect("client thread panicked")
    }

    /// Runs one fence request against `host` from the client namespace;
    /// returns the result and every event.
    pub fn fence_at(&self, host: &str, config: Config) -> (Result<Outcome, Error>, Vec<Event>) {
        let host = host.to_string();
        self.in_client_ns(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            let mut events = Vec::new();
            let result = runtime.block_on(run_with_events(FenceRequest::new(host, config), |e| {
                events.push(e.clone())
            }));
            (result, events)
        })
    }

    /// Runs one fence request against the BMC.
    pub fn fence(&self, config: Config) -> (Result<Outcome, Error>, Vec<Event>) {
        self.fence_at(BMC_IP, config)
    }
}

impl Lab {
    /// Runs the sans-I/O client with a fixed `seed` over a blocking socket
    /// from the client namespace, recording every datagram both ways:
    /// (sent by us?, bytes).
    pub fn record(&self, config: Config, seed: [u8; 32]) -> (Result<Outcome, Error>, Recording) {
        self.in_client_ns(move || {
            let socket = std::net::UdpSocket::bind("0.0.0.0:0").expect("bind");
            socket.connect((BMC_IP, 623)).expect("connect");
            let mut client = Client::new(config, Instant::now(), seed).expect("config");
            let mut log = Vec::new();
            let mut buf = [0u8; 2048];
            loop {
                while let Some(d) = client.poll_transmit() {
                    let _ = socket.send(&d);
                    log.push((true, d));
                }
                while client.poll_event().is_some() {}
                if let Some(result) = client.poll_outcome() {
                    return (result, log);
                }
                let wake = client
                    .poll_timeout()
                    .expect("a running client has a timeout");
                let wait = wake.saturating_duration_since(Instant::now());
                if wait.is_zero() {
                    client.handle_timeout(Instant::now());
                    continue;
                }
                socket.set_read_timeout(Some(wait)).expect("timeout");
                match socket.recv(&mut buf) {
                    Ok(n) => {
                        log.push((false, buf[..n].to_vec()));
                        client.handle_datagram(Instant::now(), &buf[..n]);
                    }
                    Err(_) => client.handle_timeout(Instant::now()),
                }
            }
        })
    }
}

fn nix_is_root() -> bool {
    nix::unistd::geteuid().is_root()
}
