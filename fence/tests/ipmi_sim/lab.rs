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
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use ironbeat_fence::driver::client::{run_with_events, FenceRequest};
use ironbeat_fence::ipmi::client::{Client, Config, Event, Outcome};
use ironbeat_fence::Error;

/// The BMC's address in every lab.
pub const BMC_IP: &str = "198.18.10.2";
/// The client's address.
pub const CLIENT_IP: &str = "198.18.10.1";
/// Unassigned: nobody answers ARP.
pub const BLACK_HOLE_IP: &str = "198.18.10.3";
/// Assigned to the BMC's namespace, nothing listens on 623.
pub const CLOSED_PORT_IP: &str = "198.18.10.4";

const SETUP_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/ipmi_sim");

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Datagrams of one exchange: (sent by us?, bytes).
pub type Recording = Vec<(bool, Vec<u8>)>;

/// One private BMC.
pub struct Lab {
    bmc_ns: String,
    cli_ns: String,
    state: PathBuf,
    sim: Option<Child>,
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

fn ip(args: &[&str]) {
    let out = run_limited(Command::new("ip").args(args), Duration::from_secs(10));
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Deletes `ibf-<pid>-…` namespaces left by test processes that no longer
/// exist (a crashed earlier run), after killing the ipmi_sim inside them.
fn sweep_stale() {
    let Ok(entries) = fs::read_dir("/run/netns") else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let Some(pid) = name
            .strip_prefix("ibf-")
            .and_then(|rest| rest.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let pids = run_limited(
            Command::new("ip").args(["netns", "pids", &name]),
            Duration::from_secs(5),
        );
        for p in String::from_utf8_lossy(&pids.stdout).split_whitespace() {
            let comm = fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default();
            if comm.trim() == "ipmi_sim" {
                let _ = Command::new("kill").arg(p).status();
            }
        }
        let _ = run_limited(
            Command::new("ip").args(["netns", "del", &name]),
            Duration::from_secs(5),
        );
    }
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
        sweep_stale();
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let pid = std::process::id();
        let bmc_ns = format!("ibf-{pid}-{n}-bmc");
        let cli_ns = format!("ibf-{pid}-{n}-cli");
        let state = std::env::temp_dir().join(format!("ibf-{pid}-{n}"));
        let mut lab = Lab {
            bmc_ns,
            cli_ns,
            state,
            sim: None,
        };
        lab.network();
        lab.start_sim();
        Some(lab)
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
        for (ns, dev, addrs) in [
            (&self.bmc_ns, "b0", vec![BMC_IP, CLOSED_PORT_IP]),
            (&self.cli_ns, "c0", vec![CLIENT_IP]),
        ] {
            for a in addrs {
                ip(&["-n", ns, "addr", "add", &format!("{a}/24"), "dev", dev]);
            }
            ip(&["-n", ns, "link", "set", "lo", "up"]);
            ip(&["-n", ns, "link", "set", dev, "up"]);
        }
    }

    fn start_sim(&mut self) {
        let persist = self.state.join("persist");
        fs::create_dir_all(&persist).expect("state dir");
        let hook = self.state.join("chassis-control.sh");
        fs::copy(Path::new(SETUP_DIR).join("chassis-control.sh"), &hook).expect("copy hook");
        let mut perms = fs::metadata(&hook).expect("hook").permissions();
        std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
        fs::set_permissions(&hook, perms).expect("chmod hook");
        fs::copy(
            Path::new(SETUP_DIR).join("bmc.emu"),
            self.state.join("bmc.emu"),
        )
        .expect("emu");
        let template =
            fs::read_to_string(Path::new(SETUP_DIR).join("lan.conf.in")).expect("lan.conf.in");
        let conf = template
            .replace("@ADDR@", BMC_IP)
            .replace("@PORT@", "623")
            .replace("@CHASSIS@", &hook.to_string_lossy());
        fs::write(self.state.join("lan.conf"), conf).expect("lan.conf");
        fs::write(self.state.join("power"), "1\n").expect("power");
        let log = fs::File::create(self.state.join("ipmi_sim.log")).expect("log");
        let child = Command::new("ip")
            .args(["netns", "exec", &self.bmc_ns, "ipmi_sim", "-n", "-c"])
            .arg(self.state.join("lan.conf"))
            .arg("-f")
            .arg(self.state.join("bmc.emu"))
            .arg("-s")
            .arg(&persist)
            .env("IBF_BMC_STATE", &self.state)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("spawning ipmi_sim");
        self.sim = Some(child);
        // Bounded wait for the UDP socket: 100 x 50 ms.
        for _ in 0..100 {
            let out = run_limited(
                Command::new("ip").args([
                    "netns",
                    "exec",
                    &self.bmc_ns,
                    "ss",
                    "-Hlun",
                    "src",
                    &format!("{BMC_IP}:623"),
                ]),
                Duration::from_secs(5),
            );
            if !out.stdout.is_empty() {
                return;
            }
            if let Some(Ok(Some(status))) = self.sim.as_mut().map(|c| c.try_wait()) {
                panic!(
                    "ipmi_sim exited ({status}): {}",
                    fs::read_to_string(self.state.join("ipmi_sim.log")).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("ipmi_sim did not open UDP 623 within 5 s");
    }

    /// The simulated machine's power (the hook's state file).
    pub fn power_on(&self) -> bool {
        fs::read_to_string(self.state.join("power"))
            .expect("power file")
            .trim()
            == "1"
    }

    /// Sets the simulated machine's power directly.
    pub fn set_power(&self, on: bool) {
        fs::write(self.state.join("power"), if on { "1\n" } else { "0\n" }).expect("power file");
    }

    /// Makes the machine ignore power changes (a broken power controller).
    pub fn set_stuck(&self, stuck: bool) {
        let p = self.state.join("stuck");
        if stuck {
            fs::write(p, "").expect("stuck file");
        } else {
            let _ = fs::remove_file(p);
        }
    }

    /// The hook's operation log.
    pub fn events(&self) -> String {
        fs::read_to_string(self.state.join("events.log")).unwrap_or_default()
    }

    /// Runs ipmitool in the client namespace against the BMC (10 s limit).
    pub fn ipmitool(&self, args: &[&str]) -> Output {
        run_limited(
            Command::new("ip")
                .args(["netns", "exec", &self.cli_ns, "ipmitool", "-H", BMC_IP])
                .args(args),
            Duration::from_secs(10),
        )
    }

    /// Runs `f` on a thread inside the client namespace.
    pub fn in_client_ns<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let ns_path = format!("/run/netns/{}", self.cli_ns);
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

impl Drop for Lab {
    fn drop(&mut self) {
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
                fs::read_to_string(self.state.join("ipmi_sim.log")).unwrap_or_default(),
                self.events()
            );
        }
        let _ = fs::remove_dir_all(&self.state);
    }
}
