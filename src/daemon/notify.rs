//! systemd's readiness protocol (`sd_notify(3)`), spoken by `ironbeat run`
//! under a `Type=notify` unit.
//!
//! systemd passes a datagram socket in `NOTIFY_SOCKET` (a path, or an
//! abstract name written `@name`) and, with `WatchdogSec=`, the watchdog
//! period in `WATCHDOG_USEC` (for the process in `WATCHDOG_PID`, when set).
//! The daemon sends newline-separated `KEY=VALUE` assignments:
//! `READY=1` once it serves, `STATUS=…` for `systemctl status`,
//! `WATCHDOG=1` at least every half period, `STOPPING=1` on the way out.
//! Without `NOTIFY_SOCKET` (run by hand, or by another init) every call is a
//! no-op.
//!
//! Children (resource agents, hooks) must not inherit these variables, or
//! they could notify on the daemon's behalf: spawn them without
//! [`CHILD_ENV_REMOVE`].

use std::ffi::OsStr;
use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::time::Duration;

/// The variables a child process must not inherit from the daemon.
pub const CHILD_ENV_REMOVE: [&str; 3] = ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"];

/// The daemon's side of the notification socket; cheap to keep for the
/// daemon's lifetime.
#[derive(Debug)]
pub struct Notifier {
    target: Option<Target>,
    watchdog: Option<Duration>,
    problem: Option<String>,
}

#[derive(Debug)]
struct Target {
    socket: UnixDatagram,
    address: SocketAddr,
}

impl Notifier {
    /// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` from the
    /// environment. Never fails: a variable that cannot be used leaves the
    /// notifier (or its watchdog) off and is described by
    /// [`Notifier::problem`], for the daemon to log.
    pub fn from_env() -> Notifier {
        let socket = std::env::var_os("NOTIFY_SOCKET");
        let usec = std::env::var_os("WATCHDOG_USEC");
        let pid = std::env::var_os("WATCHDOG_PID");
        Notifier::from_values(
            socket.as_deref(),
            usec.as_deref(),
            pid.as_deref(),
            std::process::id(),
        )
    }

    /// [`Notifier::from_env`] with the variables' values given (`None`:
    /// unset) and this process's id `own_pid`.
    pub fn from_values(
        notify_socket: Option<&OsStr>,
        watchdog_usec: Option<&OsStr>,
        watchdog_pid: Option<&OsStr>,
        own_pid: u32,
    ) -> Notifier {
        let mut problems = Vec::new();
        let target = match notify_socket.filter(|s| !s.is_empty()) {
            None => None,
            Some(value) => match open(value) {
                Ok(target) => Some(target),
                Err(message) => {
                    problems.push(message);
                    None
                }
            },
        };
        let watchdog = match watchdog_usec.filter(|s| !s.is_empty()) {
            None => None,
            Some(usec) => match watchdog_period(usec, watchdog_pid, own_pid) {
                Ok(period) => period,
                Err(message) => {
                    problems.push(message);
                    None
                }
            },
        };
        Notifier {
            // A watchdog without a socket to feed it through is no watchdog.
            watchdog: watchdog.filter(|_| target.is_some()),
            target,
            problem: (!problems.is_empty()).then(|| problems.join("; ")),
        }
    }

    /// A notifier that sends nothing (not under systemd).
    pub fn disabled() -> Notifier {
        Notifier {
            target: None,
            watchdog: None,
            problem: None,
        }
    }

    /// Whether systemd listens.
    pub fn is_enabled(&self) -> bool {
        self.target.is_some()
    }

    /// Why a variable systemd set could not be used, if one could not.
    pub fn problem(&self) -> Option<&str> {
        self.problem.as_deref()
    }

    /// The daemon serves: `READY=1` and `STATUS=status`.
    pub fn ready(&self, status: &str) -> io::Result<()> {
        self.send(&format!("READY=1\nSTATUS={}", one_line(status)))
    }

    /// `STATUS=status`: the line `systemctl status` shows.
    pub fn status(&self, status: &str) -> io::Result<()> {
        self.send(&format!("STATUS={}", one_line(status)))
    }

    /// `STOPPING=1`: the daemon is shutting down.
    pub fn stopping(&self) -> io::Result<()> {
        self.send("STOPPING=1")
    }

    /// `EXTEND_TIMEOUT_USEC=…`: starting (or stopping) takes up to `by`
    /// longer than the unit allows; send it again before it runs out.
    pub fn extend_timeout(&self, by: Duration) -> io::Result<()> {
        self.send(&format!("EXTEND_TIMEOUT_USEC={}", by.as_micros()))
    }

    /// How often to call [`Notifier::watchdog`]: half of `WATCHDOG_USEC`,
    /// when systemd supervises this process.
    pub fn watchdog_interval(&self) -> Option<Duration> {
        self.watchdog
    }

    /// `WATCHDOG=1`: the daemon's loop is alive (no-op without a watchdog).
    pub fn watchdog(&self) -> io::Result<()> {
        if self.watchdog.is_none() {
            return Ok(());
        }
        self.send("WATCHDOG=1")
    }

    fn send(&self, message: &str) -> io::Result<()> {
        let Some(target) = &self.target else {
            return Ok(());
        };
        target
            .socket
            .send_to_addr(message.as_bytes(), &target.address)
            .map(|_| ())
    }
}

/// `NOTIFY_SOCKET`'s value as an address, and an unbound socket to send from.
fn open(value: &OsStr) -> Result<Target, String> {
    let bytes = value.as_bytes();
    let address = match bytes.first() {
        Some(b'@') => SocketAddr::from_abstract_name(&bytes[1..]),
        Some(b'/') => SocketAddr::from_pathname(std::path::Path::new(value)),
        _ => {
            return Err(format!(
                "NOTIFY_SOCKET {:?} is neither a path nor an abstract socket (@name); \
                 systemd notifications are off (use Type=notify with systemd's own socket)",
                value.to_string_lossy()
            ))
        }
    }
    .map_err(|e| {
        format!(
            "NOTIFY_SOCKET {:?} is not a usable socket address ({e}); systemd notifications are off",
            value.to_string_lossy()
        )
    })?;
    // Non-blocking: a busy systemd costs a lost notification, never a
    // stalled daemon loop (heartbeats are sent from the same loop).
    let socket = UnixDatagram::unbound()
        .and_then(|s| s.set_nonblocking(true).map(|()| s))
        .map_err(|e| format!("cannot create the systemd notification socket: {e}"))?;
    Ok(Target { socket, address })
}

/// Half of `WATCHDOG_USEC` when `WATCHDOG_PID` is unset or names us.
fn watchdog_period(
    usec: &OsStr,
    pid: Option<&OsStr>,
    own_pid: u32,
) -> Result<Option<Duration>, String> {
    let text = usec.to_string_lossy();
    let micros: u64 = match text.trim().parse() {
        Ok(m) if m > 0 => m,
        _ => {
            return Err(format!(
                "WATCHDOG_USEC {text:?} is not a positive number of microseconds; the systemd \
                 watchdog is off (check WatchdogSec= in the unit)"
            ))
        }
    };
    if let Some(pid) = pid.filter(|p| !p.is_empty()) {
        let text = pid.to_string_lossy();
        match text.trim().parse::<u32>() {
            Ok(p) if p == own_pid => {}
            Ok(_) => return Ok(None),
            Err(_) => {
                return Err(format!(
                    "WATCHDOG_PID {text:?} is not a process id; the systemd watchdog is off"
                ))
            }
        }
    }
    Ok(Some(Duration::from_micros(micros / 2)))
}

/// A status on one line (a newline would start another assignment).
fn one_line(text: &str) -> String {
    text.replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    fn os(s: &str) -> OsString {
        OsString::from(s)
    }

    fn receive(socket: &UnixDatagram) -> String {
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut buffer = [0u8; 4096];
        let n = socket.recv(&mut buffer).unwrap();
        String::from_utf8(buffer[..n].to_vec()).unwrap()
    }

    #[test]
    fn speaks_to_a_path_socket() {
        let dir = std::env::temp_dir().join(format!("ironbeat-notify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify.sock");
        let _ = std::fs::remove_file(&path);
        let systemd = UnixDatagram::bind(&path).unwrap();
        let pid = std::process::id();
        let n = Notifier::from_values(
            Some(path.as_os_str()),
            Some(&os("3000000")),
            Some(&os(&pid.to_string())),
            pid,
        );
        assert!(n.is_enabled());
        assert_eq!(n.problem(), None);
        assert_eq!(n.watchdog_interval(), Some(Duration::from_millis(1500)));
        n.ready("2 nodes, quorum,\nDC node1").unwrap();
        assert_eq!(
            receive(&systemd),
            "READY=1\nSTATUS=2 nodes, quorum, DC node1"
        );
        n.status("node2 lost").unwrap();
        assert_eq!(receive(&systemd), "STATUS=node2 lost");
        n.watchdog().unwrap();
        assert_eq!(receive(&systemd), "WATCHDOG=1");
        n.extend_timeout(Duration::from_secs(20)).unwrap();
        assert_eq!(receive(&systemd), "EXTEND_TIMEOUT_USEC=20000000");
        n.stopping().unwrap();
        assert_eq!(receive(&systemd), "STOPPING=1");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn speaks_to_an_abstract_socket() {
        let name = format!("ironbeat-notify-test-{}", std::process::id());
        let address = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let systemd = UnixDatagram::bind_addr(&address).unwrap();
        let n = Notifier::from_values(Some(&os(&format!("@{name}"))), None, None, 1);
        assert!(n.is_enabled());
        assert_eq!(n.watchdog_interval(), None);
        n.watchdog().unwrap();
        n.ready("up").unwrap();
        // The watchdog call sent nothing: the first datagram is READY.
        assert_eq!(receive(&systemd), "READY=1\nSTATUS=up");
    }

    #[test]
    fn a_full_queue_never_blocks_the_daemon() {
        let dir = std::env::temp_dir().join(format!("ironbeat-notify-full-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify.sock");
        let _ = std::fs::remove_file(&path);
        // Bound, never read: the kernel queue fills up (max_dgram_qlen).
        let _systemd = UnixDatagram::bind(&path).unwrap();
        let n = Notifier::from_values(Some(path.as_os_str()), Some(&os("1000")), None, 1);
        let results: Vec<io::Result<()>> = (0..2000).map(|_| n.watchdog()).collect();
        assert!(
            results
                .iter()
                .any(|r| matches!(r, Err(e) if e.kind() == io::ErrorKind::WouldBlock)),
            "the queue never filled"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn unset_is_a_no_op_and_bad_values_are_explained() {
        let n = Notifier::from_values(None, Some(&os("1000")), None, 1);
        assert!(!n.is_enabled());
        assert_eq!(n.watchdog_interval(), None);
        n.ready("x").unwrap();
        n.watchdog().unwrap();
        assert!(Notifier::disabled().stopping().is_ok());

        let n = Notifier::from_values(Some(&os("vsock:2:1")), None, None, 1);
        assert!(!n.is_enabled());
        assert!(n.problem().unwrap().contains("neither a path"), "{n:?}");

        let path = os("/nonexistent/ironbeat.sock");
        let cases = [("0", None), ("-5", None), ("many", None), ("10", Some("x"))];
        for (usec, pid) in cases {
            let n = Notifier::from_values(Some(&path), Some(&os(usec)), pid.map(os).as_deref(), 1);
            assert_eq!(n.watchdog_interval(), None, "{usec}");
            assert!(n.problem().is_some(), "{usec}");
        }
        // Another process's watchdog is not ours, and that is no problem.
        let n = Notifier::from_values(Some(&path), Some(&os("1000")), Some(&os("77")), 1);
        assert_eq!((n.watchdog_interval(), n.problem()), (None, None));
        // Sending to a socket nobody listens on is an error the daemon logs.
        assert!(n.ready("x").is_err());
        // Hostile values never panic.
        for value in ["@", "/", "", "@\0\0", &"/x".repeat(200)] {
            let _ = Notifier::from_values(Some(&os(value)), Some(&os(value)), Some(&os(value)), 1);
        }
    }
}
