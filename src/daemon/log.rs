//! The daemon's log, with heartbeat's destinations and systemd's conventions.
//!
//! | configuration | where a message goes |
//! |---|---|
//! | `logfacility FAC` (native `[log] facility`) | syslog through `/dev/log`: an RFC 3164 line, facility FAC, tag `ironbeat[PID]` |
//! | `logfacility none`, or absent | no syslog |
//! | `logfile F` (native `file`) | appended to F, every level but debug |
//! | `debugfile F` (native `debug_file`) | appended to F, every level |
//! | under systemd (`JOURNAL_STREAM` names stderr) | stderr, one line per message with a `<N>` priority prefix (sd-daemon), so the journal keeps the level |
//! | `--foreground`, or no other destination | stderr, with a UTC timestamp |
//!
//! The least severe level written is the native `[log] level`, or for ha.cf
//! `debug` (N > 0: debug, else info). Every message is one line: newlines
//! and other control characters are replaced, so a message cannot forge
//! another entry.
//!
//! **Secrets.** A [`Logger`] must never be given a secret (authkeys key,
//! BMC password, SNMP community): log names, addresses and paths only. What
//! the daemon logs about its configuration at start comes from
//! [`describe_config`], which names nodes, links, keys by number and
//! algorithm, and fence devices by name and address.

use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::cli::output::rfc3339_millis;
use crate::config::{Config, ConfigError, FenceAgent, Location, LogFacility, PasswordSource};

pub use crate::config::LogLevel as Level;

/// The syslog socket of the local machine.
pub const DEV_LOG: &str = "/dev/log";

/// The syslog tag (program name) of every message.
pub const TAG: &str = "ironbeat";

/// Writes the daemon's messages to the configured destinations. Shared by
/// every task (`Send + Sync`); each message is written with one `write` per
/// destination, so concurrent messages never interleave within a line.
#[derive(Debug)]
pub struct Logger {
    threshold: Level,
    pid: u32,
    stderr: Option<StderrFormat>,
    syslog: Option<Syslog>,
    logfile: Option<LogFile>,
    debugfile: Option<LogFile>,
    /// Set once a syslog failure has been reported on stderr.
    syslog_failed: AtomicBool,
}

/// How stderr lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StderrFormat {
    /// `<6>message`: journald reads the priority.
    Journal,
    /// `2026-11-22T11:02:33.123Z info: message`.
    Timestamped,
}

#[derive(Debug)]
struct Syslog {
    facility: u8,
    socket_path: PathBuf,
    socket: Mutex<Option<UnixDatagram>>,
}

#[derive(Debug)]
struct LogFile {
    path: PathBuf,
    location: Location,
    file: Mutex<File>,
}

impl Logger {
    /// The logger of `config` (see the module documentation for where each
    /// message goes). Opens the log files now, so that a file that cannot be
    /// written is a configuration error at start, located at its directive.
    pub fn from_config(config: &Config, foreground: bool) -> Result<Logger, ConfigError> {
        Logger::from_config_at(config, foreground, Path::new(DEV_LOG), journal_is_stderr())
    }

    /// [`Logger::from_config`] with the syslog socket at `syslog_socket` and
    /// stderr known to be (or not to be) the journal.
    pub fn from_config_at(
        config: &Config,
        foreground: bool,
        syslog_socket: &Path,
        journal: bool,
    ) -> Result<Logger, ConfigError> {
        let options = &config.heartbeat;
        let threshold = match (&options.log_level, &options.debug) {
            (Some(level), _) => level.value,
            (None, Some(debug)) if debug.value > 0 => Level::Debug,
            _ => Level::Info,
        };
        let syslog = match options.logfacility.as_ref().map(|f| &f.value) {
            Some(LogFacility::Syslog(name)) => Some(Syslog {
                facility: facility_code(name).ok_or_else(|| {
                    // Both front doors accept only known names; this is a
                    // model built by hand.
                    ConfigError::in_file(
                        &config.origin,
                        format!("`{name}` is not a syslog facility; use daemon or local0 … local7"),
                    )
                })?,
                socket_path: syslog_socket.to_path_buf(),
                socket: Mutex::new(sending_socket().ok()),
            }),
            Some(LogFacility::None) | None => None,
        };
        let open = |slot: &Option<crate::config::Located<PathBuf>>| {
            slot.as_ref()
                .map(|f| LogFile::open(&f.value, &f.location))
                .transpose()
        };
        let logfile = open(&options.logfile)?;
        let debugfile = open(&options.debugfile)?;
        let stderr = if journal {
            Some(StderrFormat::Journal)
        } else if foreground || (syslog.is_none() && logfile.is_none() && debugfile.is_none()) {
            Some(StderrFormat::Timestamped)
        } else {
            None
        };
        Ok(Logger {
            threshold,
            pid: std::process::id(),
            stderr,
            syslog,
            logfile,
            debugfile,
            syslog_failed: AtomicBool::new(false),
        })
    }

    /// A logger writing only to stderr (journal format under systemd), for
    /// what happens before the configuration is loaded.
    pub fn stderr(threshold: Level) -> Logger {
        Logger {
            threshold,
            pid: std::process::id(),
            stderr: Some(if journal_is_stderr() {
                StderrFormat::Journal
            } else {
                StderrFormat::Timestamped
            }),
            syslog: None,
            logfile: None,
            debugfile: None,
            syslog_failed: AtomicBool::new(false),
        }
    }

    /// The least severe level written.
    pub fn threshold(&self) -> Level {
        self.threshold
    }

    /// Whether a message of `level` would be written (skip building costly
    /// debug text otherwise).
    pub fn enabled(&self, level: Level) -> bool {
        level <= self.threshold
    }

    /// Where messages go, in words (for the daemon's first log line).
    pub fn destinations(&self) -> String {
        let mut parts = Vec::new();
        match self.stderr {
            Some(StderrFormat::Journal) => parts.push("the journal".to_string()),
            Some(StderrFormat::Timestamped) => parts.push("stderr".to_string()),
            None => {}
        }
        if let Some(s) = &self.syslog {
            parts.push(format!(
                "syslog facility {} via {}",
                facility_name(s.facility),
                s.socket_path.display()
            ));
        }
        if let Some(f) = &self.logfile {
            parts.push(format!("logfile {}", f.path.display()));
        }
        if let Some(f) = &self.debugfile {
            parts.push(format!("debugfile {}", f.path.display()));
        }
        format!(
            "logging {} and above to {}",
            level_name(self.threshold),
            parts.join(", ")
        )
    }

    /// Writes one message. Never fails: a destination that refuses is
    /// skipped (a syslog failure is reported once on stderr).
    pub fn log(&self, level: Level, message: &str) {
        if !self.enabled(level) {
            return;
        }
        let message = one_line(message);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let stamp = rfc3339_millis(now);
        let name = level_name(level);
        if let Some(format) = self.stderr {
            let line = match format {
                StderrFormat::Journal => format!("<{}>{message}\n", severity(level)),
                StderrFormat::Timestamped => format!("{stamp} {name}: {message}\n"),
            };
            let _ = io::stderr().lock().write_all(line.as_bytes());
        }
        if let Some(syslog) = &self.syslog {
            let line = format!(
                "<{}>{} {TAG}[{}]: {message}",
                u16::from(syslog.facility) * 8 + u16::from(severity(level)),
                rfc3164_time(&stamp),
                self.pid
            );
            if let Err(e) = syslog.send(line.as_bytes()) {
                if !self.syslog_failed.swap(true, Ordering::Relaxed)
                    && self.stderr != Some(StderrFormat::Journal)
                {
                    let _ = writeln!(
                        io::stderr().lock(),
                        "{stamp} warning: cannot log to syslog at {}: {e}; is a syslog daemon \
                         (rsyslog, or systemd-journald's /dev/log) running?",
                        syslog.socket_path.display()
                    );
                }
            } else {
                self.syslog_failed.store(false, Ordering::Relaxed);
            }
        }
        let file_line = format!("{stamp} {TAG}[{}]: {name}: {message}\n", self.pid);
        if level != Level::Debug {
            if let Some(f) = &self.logfile {
                f.append(file_line.as_bytes());
            }
        }
        if let Some(f) = &self.debugfile {
            f.append(file_line.as_bytes());
        }
    }

    /// [`Logger::log`] at [`Level::Error`].
    pub fn error(&self, message: &str) {
        self.log(Level::Error, message);
    }

    /// [`Logger::log`] at [`Level::Warning`].
    pub fn warning(&self, message: &str) {
        self.log(Level::Warning, message);
    }

    /// [`Logger::log`] at [`Level::Notice`].
    pub fn notice(&self, message: &str) {
        self.log(Level::Notice, message);
    }

    /// [`Logger::log`] at [`Level::Info`].
    pub fn info(&self, message: &str) {
        self.log(Level::Info, message);
    }

    /// [`Logger::log`] at [`Level::Debug`].
    pub fn debug(&self, message: &str) {
        self.log(Level::Debug, message);
    }

    /// Reopens the log files (after logrotate moved them: SIGHUP).
    pub fn reopen(&self) -> Result<(), ConfigError> {
        for file in [&self.logfile, &self.debugfile].into_iter().flatten() {
            let fresh = LogFile::open(&file.path, &file.location)?;
            let fresh = fresh.file.into_inner().unwrap_or_else(|e| e.into_inner());
            *file.file.lock().unwrap_or_else(|e| e.into_inner()) = fresh;
        }
        Ok(())
    }
}

impl Syslog {
    /// Sends one datagram, reconnecting once (syslogd restarted).
    fn send(&self, line: &[u8]) -> io::Result<()> {
        let mut socket = self.socket.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(s) = socket.as_ref() {
            if s.send_to(line, &self.socket_path).is_ok() {
                return Ok(());
            }
        }
        let fresh = sending_socket()?;
        let result = fresh.send_to(line, &self.socket_path).map(|_| ());
        *socket = Some(fresh);
        result
    }
}

impl LogFile {
    fn open(path: &Path, location: &Location) -> Result<LogFile, ConfigError> {
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o640)
            .open(path)
            .map_err(|e| {
                let fix = match e.kind() {
                    io::ErrorKind::NotFound => format!(
                        "create the directory {} or choose another file",
                        path.parent().unwrap_or(Path::new("/")).display()
                    ),
                    io::ErrorKind::PermissionDenied => {
                        "run ironbeat as root, or choose a file it may write".to_string()
                    }
                    _ => "choose another file".to_string(),
                };
                ConfigError::at(
                    location,
                    format!("cannot open {} for appending: {e}; {fix}", path.display()),
                )
            })?;
        Ok(LogFile {
            path: path.to_path_buf(),
            location: location.clone(),
            file: Mutex::new(file),
        })
    }

    fn append(&self, line: &[u8]) {
        let file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        let _ = (&*file).write_all(line);
    }
}

/// What the daemon logs about its configuration at start: one line each for
/// the cluster, the timers, every link, the keys (number and algorithm, never
/// the secret), every fence device (name, type, address and nodes; never a
/// user, password or parameter string) and the log destinations.
pub fn describe_config(config: &Config) -> Vec<String> {
    let mut lines = vec![format!(
        "configuration {}: cluster {:?}, this node {}, nodes {}",
        config.origin.display(),
        config.cluster,
        config.local_node,
        config.nodes.join(", ")
    )];
    let t = &config.timing;
    lines.push(format!(
        "timing: keepalive {} ms, warntime {} ms, deadtime {} ms, initdead {} ms",
        t.keepalive.as_millis(),
        t.warntime.as_millis(),
        t.deadtime.as_millis(),
        t.initdead.as_millis()
    ));
    for (i, link) in config.links.iter().enumerate() {
        lines.push(format!("link {i}: {} ({})", link.name(), link.location));
    }
    let key = config.keys.active();
    let mut keys = format!(
        "keys: {}, signing with key {} ({})",
        config.authkeys.display(),
        key.index(),
        key.algorithm().name()
    );
    if config.allow_insecure_crc {
        keys.push_str(", crc allowed (insecure)");
    }
    lines.push(keys);
    for device in &config.fencing.devices {
        let mut line = format!(
            "fence device {} ({}) for {}",
            device.name,
            device.agent.type_name(),
            device.nodes.join(", ")
        );
        match &device.agent {
            FenceAgent::Ipmi(ipmi) => {
                let _ = write!(line, " at {}:{}", ipmi.address, ipmi.port);
                if let PasswordSource::File(path) = &ipmi.password {
                    let _ = write!(line, ", password in {}", path.display());
                }
            }
            FenceAgent::Manual => line.push_str(", confirmed by an operator"),
            FenceAgent::External(d) => {
                let _ = write!(line, " run by {}", d.program);
            }
            FenceAgent::Redfish(d) => {
                let _ = write!(line, " at {} (Redfish)", d.address);
            }
            FenceAgent::Apc(d) => {
                let _ = write!(line, " at {} (APC PDU, SNMP)", d.address);
            }
        }
        if !device.delay.is_zero() {
            let _ = write!(line, ", delay {:?}", device.delay);
        }
        lines.push(line);
    }
    let mut leveled: Vec<&str> = Vec::new();
    for level in &config.fencing.levels {
        if !leveled.contains(&level.node.as_str()) {
            leveled.push(&level.node);
        }
    }
    for node in leveled {
        let levels: Vec<String> = config
            .fencing
            .levels
            .iter()
            .filter(|l| l.node == node)
            .enumerate()
            .map(|(i, l)| format!("{}) {}", i + 1, l.devices.join(" + ")))
            .collect();
        lines.push(format!("fence levels of {node}: {}", levels.join(", ")));
    }
    if let Some(stonith) = &config.heartbeat.stonith {
        lines.push(format!(
            "stonith {} configured by {} ({})",
            stonith.value.kind,
            stonith.value.config_file.display(),
            stonith.location
        ));
    }
    for host in &config.heartbeat.stonith_hosts {
        lines.push(format!(
            "stonith_host {}: type {} usable from {} (parameters not shown)",
            host.location, host.value.kind, host.value.from
        ));
    }
    if config.fencing.devices.is_empty()
        && config.heartbeat.stonith.is_none()
        && config.heartbeat.stonith_hosts.is_empty()
    {
        lines.push(
            "no fencing configured: a lost node's resources are started elsewhere although it \
             may still run them"
                .to_string(),
        );
    }
    lines
}

/// A socket to send syslog datagrams from. Non-blocking: when the syslog
/// daemon is stuck, messages are dropped rather than stall the daemon loop.
fn sending_socket() -> io::Result<UnixDatagram> {
    let socket = UnixDatagram::unbound()?;
    socket.set_nonblocking(true)?;
    Ok(socket)
}

/// Whether stderr is the journal: `JOURNAL_STREAM` (`DEV:INODE`, set by
/// systemd for units whose stderr goes to the journal) names fd 2.
fn journal_is_stderr() -> bool {
    let Some(value) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Some((dev, ino)) = value.to_str().and_then(|v| v.split_once(':')) else {
        return false;
    };
    let (Ok(dev), Ok(ino)) = (dev.parse::<u64>(), ino.parse::<u64>()) else {
        return false;
    };
    match nix::sys::stat::fstat(io::stderr().as_raw_fd()) {
        Ok(stat) => stat.st_dev == dev && stat.st_ino == ino,
        Err(_) => false,
    }
}

/// The syslog facilities by name, with their codes (`<sys/syslog.h>`).
const FACILITY_CODES: &[(&str, u8)] = &[
    ("kern", 0),
    ("user", 1),
    ("mail", 2),
    ("daemon", 3),
    ("auth", 4),
    ("syslog", 5),
    ("lpr", 6),
    ("news", 7),
    ("uucp", 8),
    ("cron", 9),
    ("authpriv", 10),
    ("ftp", 11),
    ("local0", 16),
    ("local1", 17),
    ("local2", 18),
    ("local3", 19),
    ("local4", 20),
    ("local5", 21),
    ("local6", 22),
    ("local7", 23),
];

fn facility_code(name: &str) -> Option<u8> {
    FACILITY_CODES
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, c)| *c)
}

fn facility_name(code: u8) -> &'static str {
    FACILITY_CODES
        .iter()
        .find(|(_, c)| *c == code)
        .map_or("user", |(n, _)| n)
}

/// The syslog severity of a level.
fn severity(level: Level) -> u8 {
    match level {
        Level::Error => 3,
        Level::Warning => 4,
        Level::Notice => 5,
        Level::Info => 6,
        Level::Debug => 7,
    }
}

/// The level's name in log lines.
fn level_name(level: Level) -> &'static str {
    match level {
        Level::Error => "error",
        Level::Warning => "warning",
        Level::Notice => "notice",
        Level::Info => "info",
        Level::Debug => "debug",
    }
}

/// RFC 3164's `Mmm dd hh:mm:ss` from an RFC 3339 UTC stamp (syslog daemons
/// reading `/dev/log` stamp messages with their own clock anyway).
fn rfc3164_time(stamp: &str) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = stamp
        .get(5..7)
        .and_then(|m| m.parse::<usize>().ok())
        .and_then(|m| MONTHS.get(m.wrapping_sub(1)))
        .unwrap_or(&"Jan");
    let day = stamp
        .get(8..10)
        .and_then(|d| d.parse::<u8>().ok())
        .unwrap_or(1);
    let time = stamp.get(11..19).unwrap_or("00:00:00");
    format!("{month} {day:>2} {time}")
}

/// One line: control characters (newlines included) become spaces or `?`.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '\n' | '\r' | '\t' => ' ',
            c if c.is_control() => '?',
            c => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::time::Duration;

    struct Dir(PathBuf);

    impl Dir {
        fn new(name: &str) -> Dir {
            let path =
                std::env::temp_dir().join(format!("ironbeat-log-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&path);
            std::fs::create_dir_all(&path).unwrap();
            Dir(path)
        }

        fn write(&self, name: &str, text: &str, mode: u32) -> PathBuf {
            let path = self.0.join(name);
            std::fs::write(&path, text).unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            path
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    const KEY: &str = "Kee9-vault-7781-secret";
    const BMC_PASSWORD: &str = "Bmc-pw-3391";
    const INLINE_PASSWORD: &str = "Inline-pw-5520";

    fn native(dir: &Dir, log: &str) -> Config {
        dir.write("authkeys", &format!("auth 1\n1 sha256 {KEY}\n"), 0o600);
        let pass = dir.write("node2.pass", &format!("{BMC_PASSWORD}\n"), 0o600);
        let toml = dir.write(
            "ironbeat.toml",
            &format!(
                "[cluster]\nnodes = [\"node1\", \"node2\"]\n[[link]]\nkind = \"ucast\"\n\
                 iface = \"lo\"\npeer = \"127.0.0.2\"\n[[fence.device]]\nname = \"node2-bmc\"\n\
                 type = \"ipmi\"\nnodes = [\"node2\"]\nip = \"198.18.1.2\"\n\
                 username = \"admin\"\npassword_file = \"{}\"\n{log}",
                pass.display()
            ),
            0o644,
        );
        crate::config::load_native(&toml, "node1").unwrap()
    }

    fn logged(path: &Path) -> String {
        std::fs::read_to_string(path).unwrap_or_default()
    }

    #[test]
    fn files_get_their_levels_and_syslog_gets_rfc3164() {
        let dir = Dir::new("levels");
        let syslog_path = dir.0.join("dev-log");
        let syslog = UnixDatagram::bind(&syslog_path).unwrap();
        syslog
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let log = dir.0.join("ha-log");
        let debug = dir.0.join("ha-debug");
        let config = native(
            &dir,
            &format!(
                "[log]\nfacility = \"local0\"\nfile = \"{}\"\ndebug_file = \"{}\"\nlevel = \"debug\"\n",
                log.display(),
                debug.display()
            ),
        );
        let logger = Logger::from_config_at(&config, false, &syslog_path, false).unwrap();
        assert_eq!(logger.threshold(), Level::Debug);
        assert!(
            logger.destinations().contains("syslog facility local0"),
            "{}",
            logger.destinations()
        );
        logger.notice("node node2 joined");
        logger.debug("frame from node2\nforged: line");

        let mut buffer = [0u8; 2048];
        let n = syslog.recv(&mut buffer).unwrap();
        let line = String::from_utf8_lossy(&buffer[..n]).to_string();
        // local0 (16) * 8 + notice (5) = 133.
        let pid = std::process::id();
        assert!(line.starts_with("<133>"), "{line}");
        assert!(
            line.ends_with(&format!(" ironbeat[{pid}]: node node2 joined")),
            "{line}"
        );
        let n = syslog.recv(&mut buffer).unwrap();
        let line = String::from_utf8_lossy(&buffer[..n]).to_string();
        assert!(
            line.starts_with("<135>") && line.ends_with("frame from node2 forged: line"),
            "{line}"
        );

        let log_text = logged(&log);
        assert!(log_text.contains("notice: node node2 joined"), "{log_text}");
        assert!(
            !log_text.contains("frame from"),
            "debug went to logfile: {log_text}"
        );
        let debug_text = logged(&debug);
        assert_eq!(debug_text.lines().count(), 2, "{debug_text}");
        assert!(debug_text.contains("debug: frame from node2 forged: line"));

        // logrotate: move the file away, reopen, the next line lands in a new one.
        std::fs::rename(&log, dir.0.join("ha-log.1")).unwrap();
        logger.reopen().unwrap();
        logger.error("after rotation");
        assert!(logged(&log).contains("error: after rotation"));
    }

    #[test]
    fn thresholds_and_defaults() {
        let dir = Dir::new("threshold");
        let log = dir.0.join("log");
        let config = native(
            &dir,
            &format!("[log]\nfile = \"{}\"\nlevel = \"warning\"\n", log.display()),
        );
        let logger =
            Logger::from_config_at(&config, false, Path::new("/nonexistent"), false).unwrap();
        logger.notice("quiet");
        logger.warning("loud");
        let text = logged(&log);
        assert!(
            !text.contains("quiet") && text.contains("warning: loud"),
            "{text}"
        );
        assert!(!logger.enabled(Level::Info));
        assert!(logger
            .destinations()
            .ends_with(&format!("logfile {}", log.display())));

        // No destination at all: stderr, at info.
        let config = native(&dir, "");
        let logger =
            Logger::from_config_at(&config, false, Path::new("/nonexistent"), false).unwrap();
        assert_eq!(logger.threshold(), Level::Info);
        assert_eq!(logger.destinations(), "logging info and above to stderr");
        // Under systemd: the journal.
        let logger =
            Logger::from_config_at(&config, false, Path::new("/nonexistent"), true).unwrap();
        assert_eq!(
            logger.destinations(),
            "logging info and above to the journal"
        );
    }

    #[test]
    fn unwritable_files_are_config_errors_at_their_line() {
        let dir = Dir::new("unwritable");
        let config = native(&dir, "[log]\nfile = \"/nonexistent-dir/ironbeat.log\"\n");
        let e = Logger::from_config(&config, true).unwrap_err();
        assert_eq!(e.line(), Some(15), "{e}");
        assert!(
            e.to_string()
                .contains("create the directory /nonexistent-dir"),
            "{e}"
        );
    }

    #[test]
    fn hacf_debug_and_facility() {
        let dir = Dir::new("hacf");
        dir.write("authkeys", &format!("auth 1\n1 sha1 {KEY}\n"), 0o600);
        let debug = dir.0.join("ha-debug");
        dir.write(
            "ha.cf",
            &format!(
                "node node1 node2\nucast lo 127.0.0.2\nlogfacility daemon\ndebug 1\n\
                 debugfile {}\nstonith_host * external/ipmi node2 198.18.1.2 admin {INLINE_PASSWORD} lanplus\n",
                debug.display()
            ),
            0o644,
        );
        let config = crate::config::load_ha_d(&dir.0, "node1", false).unwrap();
        let syslog_path = dir.0.join("dev-log");
        let syslog = UnixDatagram::bind(&syslog_path).unwrap();
        syslog
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let logger = Logger::from_config_at(&config, true, &syslog_path, false).unwrap();
        assert_eq!(logger.threshold(), Level::Debug);
        logger.info("x");
        let mut buffer = [0u8; 512];
        let n = syslog.recv(&mut buffer).unwrap();
        // daemon (3) * 8 + info (6) = 30.
        assert!(buffer[..n].starts_with(b"<30>"));
        for line in describe_config(&config) {
            logger.info(&line);
        }
        logger.debug(&format!("{config:?}"));
        let text = logged(&debug);
        assert!(text.contains("stonith_host"), "{text}");
        assert!(
            !text.contains(INLINE_PASSWORD) && !text.contains(KEY),
            "{text}"
        );
    }

    #[test]
    fn secrets_never_reach_the_startup_log() {
        let dir = Dir::new("secrets");
        let log = dir.0.join("log");
        let debug = dir.0.join("debug");
        let config = native(
            &dir,
            &format!(
                "[log]\nfile = \"{}\"\ndebug_file = \"{}\"\nlevel = \"debug\"\n",
                log.display(),
                debug.display()
            ),
        );
        let logger =
            Logger::from_config_at(&config, false, Path::new("/nonexistent"), false).unwrap();
        let lines = describe_config(&config);
        assert!(
            lines
                .iter()
                .any(|l| l.contains("fence device node2-bmc (ipmi) for node2 at 198.18.1.2:623")),
            "{lines:#?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.contains("signing with key 1 (sha256)")),
            "{lines:#?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("link 0: ucast lo 127.0.0.2")),
            "{lines:#?}"
        );
        logger.info(&logger.destinations());
        for line in &lines {
            logger.info(line);
        }
        // The configuration's Debug form is what a careless `{:?}` would log.
        logger.debug(&format!("{config:?}"));
        for text in [logged(&log), logged(&debug), lines.join("\n")] {
            assert!(!text.is_empty());
            for secret in [KEY, BMC_PASSWORD] {
                assert!(!text.contains(secret), "{secret} logged:\n{text}");
            }
        }
    }

    #[test]
    fn hostile_messages_stay_one_line() {
        assert_eq!(one_line("a\nb\r\tc\u{1b}[31m\0"), "a b  c?[31m?");
        assert_eq!(rfc3164_time("2026-11-02T03:04:05.123Z"), "Nov  2 03:04:05");
        assert_eq!(rfc3164_time("garbage"), "Jan  1 00:00:00");
        assert_eq!(facility_code("local7"), Some(23));
        assert_eq!(facility_code("LOCAL7"), None);
        assert_eq!(facility_name(3), "daemon");
    }
}
