//! The BMC responder ([`crate::ipmi::bmc`]) on a UDP socket, and
//! [`FilePower`], a chassis whose power state lives in a file (what the lab's
//! `chassis-control.sh` does for ipmi_sim), so tests and demos can watch and
//! flip it from outside.
//!
//! ```no_run
//! # async fn demo() -> Result<(), ironbeat_fence::Error> {
//! use ironbeat_fence::driver::bmc::{BmcServer, FilePower};
//! use ironbeat_fence::ipmi::bmc::{Bmc, BmcConfig, User};
//! use ironbeat_fence::ipmi::Privilege;
//!
//! let config = BmcConfig::new(vec![User::new("admin", b"labpass", Privilege::Administrator)]);
//! let power = FilePower::open("/run/node2.power".as_ref())?;
//! let bmc = Bmc::new(config, power, ironbeat_fence::driver::kernel_seed()?)?;
//! let mut server = BmcServer::bind("127.0.0.1:6230".parse().unwrap(), bmc).await?;
//! server.run(std::future::pending(), |event| eprintln!("{event}")).await?;
//! # Ok(()) }
//! ```

use std::fs;
use std::future::Future;
use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use tokio::net::UdpSocket;

use crate::ipmi::bmc::{BackendError, Bmc, Event, PowerBackend};
use crate::power::PowerState;
use crate::Error;

/// The largest datagram read; IPMI-over-LAN packets are far smaller, so a
/// longer one is cut and then dropped as malformed.
const MAX_DATAGRAM: usize = 4096;

/// A BMC serving one UDP socket.
#[derive(Debug)]
pub struct BmcServer<P: PowerBackend> {
    socket: UdpSocket,
    bmc: Bmc<P>,
}

impl<P: PowerBackend> BmcServer<P> {
    /// Binds `addr` (port 623 needs root; tests use a high port).
    pub async fn bind(addr: SocketAddr, bmc: Bmc<P>) -> Result<Self, Error> {
        let socket = UdpSocket::bind(addr).await.map_err(|e| {
            Error::io(
                format!(
                    "cannot bind the BMC to UDP {addr} (port in use, or below 1024 without root?)"
                ),
                e,
            )
        })?;
        Ok(BmcServer { socket, bmc })
    }

    /// Serves on a socket the caller bound.
    pub fn from_socket(socket: UdpSocket, bmc: Bmc<P>) -> Self {
        BmcServer { socket, bmc }
    }

    /// The address served.
    pub fn local_addr(&self) -> Result<SocketAddr, Error> {
        self.socket
            .local_addr()
            .map_err(|e| Error::io("reading the BMC socket's address", e))
    }

    /// The responder.
    pub fn bmc(&self) -> &Bmc<P> {
        &self.bmc
    }

    /// The responder, mutably.
    pub fn bmc_mut(&mut self) -> &mut Bmc<P> {
        &mut self.bmc
    }

    /// Serves until `shutdown` completes, handing every event to `on_event`.
    /// A send that fails (the client's address vanished) is reported as an
    /// event-less drop; only a failing receive ends the loop with an error.
    pub async fn run(
        &mut self,
        shutdown: impl Future<Output = ()>,
        mut on_event: impl FnMut(&Event),
    ) -> Result<(), Error> {
        tokio::pin!(shutdown);
        let mut buf = vec![0u8; MAX_DATAGRAM];
        loop {
            while let Some(t) = self.bmc.poll_transmit() {
                // UDP: a lost answer is what a retransmission is for.
                let _ = self.socket.send_to(&t.bytes, t.to).await;
            }
            while let Some(event) = self.bmc.poll_event() {
                on_event(&event);
            }
            let deadline = self.bmc.poll_timeout();
            let sleep = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = &mut shutdown => return Ok(()),
                received = self.socket.recv_from(&mut buf) => match received {
                    Ok((n, from)) => self.bmc.handle_datagram(Instant::now(), from, &buf[..n]),
                    // ICMP errors of earlier sends surface here on some systems.
                    Err(e) if matches!(
                        e.kind(),
                        io::ErrorKind::ConnectionRefused
                            | io::ErrorKind::ConnectionReset
                            | io::ErrorKind::Interrupted
                    ) => {}
                    Err(e) => return Err(Error::io("receiving on the BMC socket", e)),
                },
                () = sleep => self.bmc.handle_timeout(Instant::now()),
            }
        }
    }
}

/// A chassis whose power state is a file holding `1` (on) or `0` (off);
/// every operation is appended to `<file>.log` as
/// `<unix seconds.nanoseconds> <operation> (power <before>-><after>)`.
///
/// Whoever else writes the file changes the power (a test, a demo's "node"),
/// and the BMC reports it; a file with anything else makes reads fail (the
/// client gets completion code 0xff).
#[derive(Debug, Clone)]
pub struct FilePower {
    path: PathBuf,
    log: PathBuf,
}

impl FilePower {
    /// Uses `path`; creates it holding `1` (on) when it does not exist.
    pub fn open(path: &Path) -> Result<Self, Error> {
        let mut log = path.as_os_str().to_owned();
        log.push(".log");
        let power = FilePower {
            path: path.to_path_buf(),
            log: PathBuf::from(log),
        };
        if !path.exists() {
            power.write(PowerState::On).map_err(|e| {
                Error::io(
                    format!("creating the power state file {}", path.display()),
                    e,
                )
            })?;
        }
        power.read().map_err(|e| {
            Error::new(
                crate::ErrorKind::Config,
                format!(
                    "power state file {}: {e}; write 1 or 0 into it",
                    path.display()
                ),
            )
        })?;
        Ok(power)
    }

    /// The state file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The operation log.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    fn read(&self) -> Result<PowerState, BackendError> {
        let text = fs::read_to_string(&self.path).map_err(|e| {
            BackendError::Failed(format!("cannot read {}: {e}", self.path.display()))
        })?;
        match text.trim() {
            "1" => Ok(PowerState::On),
            "0" => Ok(PowerState::Off),
            other => Err(BackendError::Failed(format!(
                "{} holds {other:?}, expected 1 or 0",
                self.path.display()
            ))),
        }
    }

    /// Replaces the file atomically (write a sibling, rename over).
    fn write(&self, state: PowerState) -> io::Result<()> {
        let mut tmp = self.path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = PathBuf::from(tmp);
        fs::write(
            &tmp,
            if state == PowerState::On {
                "1\n"
            } else {
                "0\n"
            },
        )?;
        fs::rename(&tmp, &self.path)
    }

    fn record(&self, operation: &str, before: PowerState, after: PowerState) {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let bit = |s: PowerState| u8::from(s == PowerState::On);
        let line = format!(
            "{}.{:09} {operation} (power {}->{})\n",
            now.as_secs(),
            now.subsec_nanos(),
            bit(before),
            bit(after)
        );
        // The log is for people and tests; failing to write it fails nothing.
        let _ = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .and_then(|mut f| f.write_all(line.as_bytes()));
    }

    fn failed(&self, e: io::Error) -> BackendError {
        BackendError::Failed(format!("cannot write {}: {e}", self.path.display()))
    }
}

impl PowerBackend for FilePower {
    fn power(&mut self) -> Result<PowerState, BackendError> {
        self.read()
    }

    fn set_power(&mut self, state: PowerState) -> Result<(), BackendError> {
        let before = self.read()?;
        self.write(state).map_err(|e| self.failed(e))?;
        let op = if state == PowerState::On {
            "set power 1"
        } else {
            "set power 0"
        };
        self.record(op, before, state);
        Ok(())
    }

    fn hard_reset(&mut self) -> Result<(), BackendError> {
        let state = self.read()?;
        self.record("reset", state, state);
        Ok(())
    }

    fn diagnostic_interrupt(&mut self) -> Result<(), BackendError> {
        let state = self.read()?;
        self.record("diag", state, state);
        Ok(())
    }

    fn soft_off(&mut self) -> Result<(), BackendError> {
        let before = self.read()?;
        self.write(PowerState::Off).map_err(|e| self.failed(e))?;
        self.record("soft off", before, PowerState::Off);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipmi::bmc::{BmcConfig, User};
    use crate::ipmi::wire::rmcp;
    use crate::ipmi::Privilege;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ibb-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn file_power_reads_writes_and_logs() {
        let dir = scratch("filepower");
        let path = dir.join("power");
        let mut p = FilePower::open(&path).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "1\n");
        p.set_power(PowerState::Off).unwrap();
        assert_eq!(p.power().unwrap(), PowerState::Off);
        p.hard_reset().unwrap();
        fs::write(&path, "1").unwrap();
        assert_eq!(p.power().unwrap(), PowerState::On, "changed from outside");
        p.soft_off().unwrap();
        let log = fs::read_to_string(p.log_path()).unwrap();
        let ops: Vec<&str> = log.lines().map(|l| l.split_once(' ').unwrap().1).collect();
        assert_eq!(
            ops,
            [
                "set power 0 (power 1->0)",
                "reset (power 0->0)",
                "soft off (power 1->0)"
            ]
        );
        fs::write(&path, "maybe").unwrap();
        assert!(matches!(p.power(), Err(BackendError::Failed(_))));
        assert!(FilePower::open(&path).is_err());
        fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test(flavor = "current_thread")]
    async fn serves_a_ping_and_stops() {
        let config = BmcConfig::new(vec![User::new("admin", b"x", Privilege::Administrator)]);
        let bmc = Bmc::new(
            config,
            crate::ipmi::bmc::MemoryPower::new(PowerState::On),
            crate::driver::kernel_seed().unwrap(),
        )
        .unwrap();
        let mut server = BmcServer::bind("127.0.0.1:0".parse().unwrap(), bmc)
            .await
            .unwrap();
        let addr = server.local_addr().unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let ping = rmcp::wrap(rmcp::MessageClass::Asf, &rmcp::asf::Repr::ping(7).to_vec());
        let exchange = async {
            client.send_to(&ping, addr).await.unwrap();
            let mut buf = [0u8; 64];
            let (n, from) = tokio::time::timeout(
                std::time::Duration::from_secs(5),
                client.recv_from(&mut buf),
            )
            .await
            .unwrap()
            .unwrap();
            let _ = stop.send(());
            (buf[..n].to_vec(), from)
        };
        let mut events = 0;
        let (served, (pong, from)) = tokio::join!(
            server.run(
                async {
                    let _ = stopped.await;
                },
                |_| events += 1
            ),
            exchange
        );
        served.unwrap();
        assert_eq!(from, addr);
        let asf = rmcp::asf::Repr::parse(&pong[4..]).unwrap();
        assert_eq!(asf.tag, 7);
        assert!(asf.pong().unwrap().ipmi_supported());
        assert_eq!(server.bmc().counters().received, 1);
    }
}
