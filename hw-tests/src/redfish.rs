//! Redfish peers for the fencing tests, all on loopback and started by the
//! tests themselves:
//!
//! * [`MiniBmc`]: our fixture `fixtures/redfish/minibmc.py` (python3 stdlib),
//!   deterministic, with iLO and iDRAC personalities (200 vs 204 resets, 400 vs
//!   409 no-ops, sessions and their 16-session limit, 503 not-ready, several
//!   Members, wrong password 401) and a control API (`/_sim/*`).
//! * [`Sushy`]: OpenStack sushy-tools `--fake` (PyPI), the independent peer,
//!   from the venv that `scripts/install-test-deps.sh` creates.
//! * [`LabCerts`]: a lab CA, a CA-signed certificate with IP SANs, and a
//!   factory-iLO-style self-signed certificate without subjectAltName.
//! * [`BlackHole`] and [`SilentListener`]: a BMC whose SYNs are dropped (full
//!   accept queue) and one that accepts but never answers.
//!
//! Every process is killed by PID on drop; files live in a [`Scratch`] dir.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};

use crate::{cmd, Result, Scratch};

/// The fixtures directory (`hw-tests/fixtures/redfish`).
pub fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/redfish")
}

/// The venv holding sushy-tools (`IRONBEAT_TEST_VENV`, default
/// `/var/tmp/ironbeat-venv`, made by `scripts/install-test-deps.sh`).
pub fn venv() -> PathBuf {
    std::env::var_os("IRONBEAT_TEST_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp/ironbeat-venv"))
}

/// Whether sushy-tools and bcrypt are installed in [`venv`].
pub fn sushy_available() -> bool {
    let py = venv().join("bin/python");
    py.exists()
        && Command::new(&py)
            .args(["-c", "import sushy_tools, bcrypt"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false)
}

fn python3() -> &'static str {
    if Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    }
}

/// A loopback TCP port that was free a moment ago.
pub fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

/// Certificates made with `openssl` for one test run.
#[derive(Debug)]
pub struct LabCerts {
    /// The lab CA (PEM): what `ssl_ca` points to.
    pub ca: PathBuf,
    /// iDRAC/sushy-style certificate signed by the CA, SANs 127.0.0.1 and localhost.
    pub signed_cert: PathBuf,
    /// Its key.
    pub signed_key: PathBuf,
    /// Factory-iLO-style self-signed certificate: subject CN only, no subjectAltName.
    pub nosan_cert: PathBuf,
    /// Its key.
    pub nosan_key: PathBuf,
}

impl LabCerts {
    /// Generates the certificates into `dir`.
    pub fn generate(dir: &Path) -> Result<Self> {
        let p = |n: &str| dir.join(n);
        let run = |args: &[&str]| -> Result<()> {
            cmd::check(
                Command::new("openssl").args(args).current_dir(dir),
                Duration::from_secs(30),
            )
            .map(drop)
        };
        run(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "30",
            "-subj",
            "/CN=ironbeat test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ])?;
        std::fs::write(p("nosan.cnf"), "[req]\ndistinguished_name=dn\n[dn]\n")?;
        run(&[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "nosan.key",
            "-out",
            "nosan.pem",
            "-days",
            "30",
            "-subj",
            "/C=US/ST=Texas/L=Houston/O=Hewlett Packard Enterprise/OU=ISS/CN=ILOTEST0001",
            "-config",
            "nosan.cnf",
            "-addext",
            "basicConstraints=critical,CA:FALSE",
            "-addext",
            "keyUsage=critical,digitalSignature,keyEncipherment",
        ])?;
        run(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "signed.key",
            "-out",
            "signed.csr",
            "-subj",
            "/O=ironbeat/CN=bmc.test",
        ])?;
        std::fs::write(
            p("san.ext"),
            "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n\
             extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n",
        )?;
        run(&[
            "x509",
            "-req",
            "-in",
            "signed.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "signed.pem",
            "-days",
            "30",
            "-extfile",
            "san.ext",
        ])?;
        Ok(LabCerts {
            ca: p("ca.pem"),
            signed_cert: p("signed.pem"),
            signed_key: p("signed.key"),
            nosan_cert: p("nosan.pem"),
            nosan_key: p("nosan.key"),
        })
    }

    /// `openssl x509 -fingerprint -sha256` of a certificate (`AB:CD:...`).
    pub fn fingerprint(cert: &Path) -> Result<String> {
        let out = cmd::check(
            Command::new("openssl")
                .args(["x509", "-noout", "-fingerprint", "-sha256", "-in"])
                .arg(cert),
            Duration::from_secs(10),
        )?;
        out.stdout
            .trim()
            .split_once('=')
            .map(|(_, fp)| fp.to_string())
            .ok_or_else(|| anyhow!("no fingerprint in {:?}", out.stdout))
    }
}

/// How to start a [`MiniBmc`].
#[derive(Debug, Clone)]
pub struct MiniBmcSpec {
    /// `ilo`, `idrac` or `generic`.
    pub vendor: String,
    /// The account.
    pub user: String,
    /// Its password.
    pub password: String,
    /// Certificate and key for HTTPS (None: plain HTTP only).
    pub tls: Option<(PathBuf, PathBuf)>,
    /// More minibmc flags (`--off-delay 1`, `--members 2`, ...).
    pub args: Vec<String>,
}

impl MiniBmcSpec {
    /// The lab's defaults for `vendor`: iLO Administrator/ilo-secret1, iDRAC root/calvin.
    pub fn vendor(vendor: &str) -> Self {
        let (user, password) = match vendor {
            "ilo" => ("Administrator", "ilo-secret1"),
            "idrac" => ("root", "calvin"),
            _ => ("admin", "password"),
        };
        MiniBmcSpec {
            vendor: vendor.into(),
            user: user.into(),
            password: password.into(),
            tls: None,
            args: Vec::new(),
        }
    }

    /// Serves HTTPS with this certificate too.
    pub fn tls(mut self, cert: &Path, key: &Path) -> Self {
        self.tls = Some((cert.to_path_buf(), key.to_path_buf()));
        self
    }

    /// Adds minibmc flags.
    pub fn args(mut self, args: &[&str]) -> Self {
        self.args.extend(args.iter().map(|s| s.to_string()));
        self
    }
}

/// A running `minibmc.py` on 127.0.0.1.
#[derive(Debug)]
pub struct MiniBmc {
    child: Child,
    /// What it was started with.
    pub spec: MiniBmcSpec,
    /// The HTTPS port (0 when not serving HTTPS).
    pub https_port: u16,
    /// The plain HTTP port (always served: the control API is there).
    pub http_port: u16,
    dir: PathBuf,
    name: String,
}

impl MiniBmc {
    /// Starts it; files go to `scratch/<name>.*`.
    pub fn start(scratch: &Scratch, name: &str, spec: MiniBmcSpec) -> Result<Self> {
        let dir = scratch.path().to_path_buf();
        let port_file = dir.join(format!("{name}.ports"));
        let _ = std::fs::remove_file(&port_file);
        let mut c = Command::new(python3());
        c.arg(fixture_dir().join("minibmc.py"))
            .args([
                "--bind",
                "127.0.0.1",
                "--vendor",
                &spec.vendor,
                "--user",
                &spec.user,
            ])
            .args(["--password", &spec.password, "--http-port", "-1"])
            .arg("--port-file")
            .arg(&port_file)
            .arg("--event-log")
            .arg(dir.join(format!("{name}.events.jsonl")));
        match &spec.tls {
            Some((cert, key)) => {
                c.args(["--https-port", "-1", "--cert"])
                    .arg(cert)
                    .arg("--key")
                    .arg(key);
            }
            None => {
                c.args(["--https-port", "0"]);
            }
        }
        c.args(&spec.args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join(format!("{name}.log")))?);
        let mut child = c.spawn().context("starting minibmc.py (python3)")?;
        let ports = cmd::poll(Duration::from_secs(10), Duration::from_millis(20), || {
            std::fs::read_to_string(&port_file).ok()
        });
        let Some(ports) = ports else {
            cmd::stop_child(&mut child, Duration::from_secs(1));
            bail!(
                "minibmc did not start: {}",
                std::fs::read_to_string(dir.join(format!("{name}.log"))).unwrap_or_default()
            );
        };
        let port = |k: &str| -> u16 {
            ports
                .split_whitespace()
                .find_map(|kv| kv.strip_prefix(k)?.strip_prefix('=')?.parse().ok())
                .unwrap_or(0)
        };
        Ok(MiniBmc {
            https_port: port("https"),
            http_port: port("http"),
            child,
            spec,
            dir,
            name: name.to_string(),
        })
    }

    /// Its event log (JSON lines: resets, sessions, auth failures, TLS failures).
    pub fn events(&self) -> String {
        std::fs::read_to_string(self.dir.join(format!("{}.events.jsonl", self.name)))
            .unwrap_or_default()
    }

    /// `GET /_sim/state`: PowerState, pending transitions, counters, sessions.
    pub fn state(&self) -> Result<serde_json::Value> {
        let body = http_plain(self.http_port, "GET", "/_sim/state", None)?;
        Ok(serde_json::from_slice(&body)?)
    }

    /// The simulated PowerState (`On`/`Off`).
    pub fn power(&self) -> Result<String> {
        Ok(self.state()?["PowerState"]
            .as_str()
            .unwrap_or("?")
            .to_string())
    }

    /// Forces the PowerState, cancelling pending transitions.
    pub fn set_power(&self, state: &str) -> Result<()> {
        http_plain(
            self.http_port,
            "POST",
            "/_sim/state",
            Some(format!("{{\"PowerState\":\"{state}\"}}").as_bytes()),
        )
        .map(drop)
    }

    /// Changes timing / behaviour knobs at run time (`{"off_delay": 1, "not_ready": 2}`).
    pub fn configure(&self, json: &str) -> Result<()> {
        http_plain(
            self.http_port,
            "POST",
            "/_sim/config",
            Some(json.as_bytes()),
        )
        .map(drop)
    }

    /// Opens a Redfish session as another client would (and leaves it open).
    pub fn open_session(&self) -> Result<()> {
        let body = format!(
            "{{\"UserName\":\"{}\",\"Password\":\"{}\"}}",
            self.spec.user, self.spec.password
        );
        http_plain(
            self.http_port,
            "POST",
            "/redfish/v1/SessionService/Sessions",
            Some(body.as_bytes()),
        )
        .map(drop)
    }

    /// The number of open Redfish sessions.
    pub fn sessions(&self) -> Result<u64> {
        Ok(self.state()?["sessions"].as_u64().unwrap_or(0))
    }
}

impl Drop for MiniBmc {
    fn drop(&mut self) {
        cmd::stop_child(&mut self.child, Duration::from_secs(2));
    }
}

/// One plain-HTTP request to 127.0.0.1:`port` (control API), body returned.
fn http_plain(port: u16, method: &str, path: &str, body: Option<&[u8]>) -> Result<Vec<u8>> {
    let mut s = TcpStream::connect_timeout(
        &SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_secs(5),
    )?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    let body = body.unwrap_or(b"");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes())?;
    s.write_all(body)?;
    let mut out = Vec::new();
    s.read_to_end(&mut out)?;
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| anyhow!("bad control API answer"))?;
    if !out.starts_with(b"HTTP/1.1 20") && !out.starts_with(b"HTTP/1.0 20") {
        bail!("control API: {}", String::from_utf8_lossy(&out[..split]));
    }
    Ok(out[split + 4..].to_vec())
}

/// sushy-tools `--fake` with one system, on 127.0.0.1.
#[derive(Debug)]
pub struct Sushy {
    child: Child,
    /// Its port.
    pub port: u16,
    /// Whether it serves HTTPS.
    pub https: bool,
}

/// The fake system's UUID.
pub const SUSHY_UUID: &str = "27946b59-9e44-4fa7-8e91-f3527a1ef094";
/// The sushy account.
pub const SUSHY_USER: &str = "admin";
/// Its password.
pub const SUSHY_PASSWORD: &str = "password";

impl Sushy {
    /// Starts it (HTTPS with `tls` = (cert, key)); power changes take
    /// `delay_s` seconds (0..1 s observed for 1; upstream is random 1..11 s).
    pub fn start(
        scratch: &Scratch,
        name: &str,
        tls: Option<(&Path, &Path)>,
        delay_s: u32,
    ) -> Result<Self> {
        let py = venv().join("bin/python");
        let dir = scratch.path().join(name);
        std::fs::create_dir_all(dir.join("state"))?;
        let htpasswd = cmd::check(
            Command::new(&py).args([
                "-c",
                "import bcrypt; print('admin:' + bcrypt.hashpw(b'password', bcrypt.gensalt(rounds=4)).decode())",
            ]),
            Duration::from_secs(30),
        )?;
        std::fs::write(dir.join("htpasswd"), htpasswd.stdout)?;
        let conf = format!(
            "SUSHY_EMULATOR_LISTEN_IP = '127.0.0.1'\n\
             SUSHY_EMULATOR_AUTH_FILE = '{d}/htpasswd'\n\
             SUSHY_EMULATOR_FAKE_DRIVER = True\n\
             SUSHY_EMULATOR_STATE_DIR = '{d}/state'\n\
             SUSHY_EMULATOR_FEATURE_SET = 'full'\n\
             SUSHY_EMULATOR_FAKE_SYSTEMS = [{{'uuid': '{SUSHY_UUID}', 'name': 'sushy-node', \
             'power_state': 'On', 'external_notifier': False, \
             'nics': [{{'mac': '52:54:00:12:34:56', 'ip': '198.18.3.99'}}]}}]\n",
            d = dir.display()
        );
        std::fs::write(dir.join("sushy.conf"), conf)?;
        let port = free_port()?;
        let mut c = Command::new(&py);
        c.arg(fixture_dir().join("sushy-run.py"))
            .arg("--config")
            .arg(dir.join("sushy.conf"))
            .args(["--fake", "-i", "127.0.0.1", "-p", &port.to_string()])
            .env("SUSHY_FAKE_DELAY", delay_s.to_string());
        if let Some((cert, key)) = tls {
            c.arg("--ssl-certificate")
                .arg(cert)
                .arg("--ssl-key")
                .arg(key);
        }
        c.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("sushy.log"))?);
        let mut child = c.spawn().context("starting sushy-emulator")?;
        let up = cmd::poll(Duration::from_secs(20), Duration::from_millis(50), || {
            TcpStream::connect(("127.0.0.1", port)).ok()
        });
        if up.is_none() {
            cmd::stop_child(&mut child, Duration::from_secs(1));
            bail!(
                "sushy-emulator did not listen: {}",
                std::fs::read_to_string(dir.join("sushy.log")).unwrap_or_default()
            );
        }
        Ok(Sushy {
            child,
            port,
            https: tls.is_some(),
        })
    }

    /// The fake system's URI.
    pub fn system_uri(&self) -> String {
        format!("/redfish/v1/Systems/{SUSHY_UUID}")
    }
}

impl Drop for Sushy {
    fn drop(&mut self) {
        cmd::stop_child(&mut self.child, Duration::from_secs(2));
    }
}

/// A loopback listener whose accept queue is full and never drained: the
/// kernel drops further SYNs, so a client's connect hangs (a black-holed BMC).
#[derive(Debug)]
pub struct BlackHole {
    _listener: OwnedFd,
    _fillers: Vec<TcpStream>,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl BlackHole {
    /// Creates it and fills its queue.
    pub fn new() -> Result<Self> {
        use nix::sys::socket::{
            bind, getsockname, listen, socket, AddressFamily, Backlog, SockFlag, SockType,
            SockaddrIn,
        };
        let fd = socket(
            AddressFamily::Inet,
            SockType::Stream,
            SockFlag::SOCK_CLOEXEC,
            None,
        )?;
        bind(fd.as_raw_fd(), &SockaddrIn::new(127, 0, 0, 1, 0))?;
        listen(&fd, Backlog::new(0)?)?;
        let port = getsockname::<SockaddrIn>(fd.as_raw_fd())?.port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut fillers = Vec::new();
        for _ in 0..8 {
            match TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
                Ok(s) => fillers.push(s),
                Err(_) => {
                    return Ok(BlackHole {
                        _listener: fd,
                        _fillers: fillers,
                        port,
                    })
                }
            }
        }
        bail!("the accept queue of a backlog-0 listener never filled")
    }
}

/// A loopback listener that accepts connections and never sends a byte
/// (a hung BMC web server: TCP is up, TLS or HTTP never answers).
#[derive(Debug)]
pub struct SilentListener {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

impl SilentListener {
    /// Starts it.
    pub fn new() -> Result<Self> {
        let l = TcpListener::bind("127.0.0.1:0")?;
        l.set_nonblocking(true)?;
        let port = l.local_addr()?.port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut held = Vec::new();
            // Bounded: at most 10 minutes, or until dropped.
            for _ in 0..60_000 {
                if flag.load(Ordering::Relaxed) {
                    break;
                }
                if let Ok((s, _)) = l.accept() {
                    held.push(s);
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        });
        Ok(SilentListener {
            stop,
            thread: Some(thread),
            port,
        })
    }
}

impl Drop for SilentListener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Runs the system `fence_redfish` (Debian fence-agents) with `args`, bounded
/// by `deadline`; returns (exit code, stdout + stderr).
pub fn fence_redfish(args: &[String], deadline: Duration) -> Result<(i32, String)> {
    let out = cmd::run(Command::new("fence_redfish").args(args), deadline)?;
    Ok((
        out.status.code().unwrap_or(-1),
        format!("{}{}", out.stdout, out.stderr),
    ))
}
