//! The built-in Filesystem agent (`ocf:heartbeat:Filesystem` parameters
//! `device`, `directory`, `fstype`, `options`): mount(2) and umount2(2),
//! no fork/exec.
//!
//! * Start: already mounted there → ok; otherwise create the directory and
//!   mount. Options that are mount flags (`ro`, `nosuid`, `noatime`, `bind`,
//!   …) become flags; the rest is passed to the filesystem as data.
//! * Stop: not mounted → ok; otherwise every process holding the mount (its
//!   cwd, root, exe, an open file or a mapped file under the mountpoint) gets
//!   SIGTERM, then SIGKILL after a bounded wait, then the filesystem is
//!   unmounted.
//! * Monitor: mounted per `/proc/self/mountinfo` → ok, else not running.
//!
//! The blocking system calls run on tokio's blocking pool.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::{AgentSpec, OcfCode, OpResult, Operation};

/// The parsed parameters (`Debug` hides `data`, which may hold a password
/// such as cifs's `password=`).
#[derive(Clone, PartialEq, Eq)]
pub struct FsConfig {
    /// What to mount (a block device, or a directory for `bind`, or a
    /// pseudo source such as `tmpfs`).
    pub device: String,
    /// The mountpoint (absolute, no trailing `/`).
    pub directory: PathBuf,
    /// The filesystem type (`ext4`, `tmpfs`, …; `none` for bind mounts).
    pub fstype: String,
    /// Mount flags from `options`.
    pub flags: MsFlags,
    /// The remaining options, passed to the filesystem.
    pub data: String,
}

/// One line of `/proc/self/mountinfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountEntry {
    /// The mountpoint.
    pub mountpoint: PathBuf,
    /// The filesystem type.
    pub fstype: String,
    /// The mount source.
    pub source: String,
}

/// Filesystem parameters we accept without acting on them.
const ACCEPTED_NO_EFFECT: [&str; 6] = [
    "run_fsck",
    "fast_stop",
    "force_unmount",
    "statusfile_prefix",
    "OCF_CHECK_LEVEL",
    "force_clones",
];

impl FsConfig {
    /// Parses a spec's parameters (`Err`: the reason, naming the parameter).
    pub fn from_spec(spec: &AgentSpec) -> Result<Self, String> {
        let (mut device, mut directory, mut fstype, mut options) =
            (None, None, None, String::new());
        for (name, value) in &spec.params {
            match name.as_str() {
                "device" => device = Some(value.clone()),
                "directory" => directory = Some(value.clone()),
                "fstype" => fstype = Some(value.clone()),
                "options" => options = value.clone(),
                known if ACCEPTED_NO_EFFECT.contains(&known) => {}
                unknown => {
                    return Err(format!(
                        "unknown parameter {unknown:?} for a Filesystem (known: device, directory, \
                         fstype, options)"
                    ))
                }
            }
        }
        let device = device
            .filter(|d| !d.is_empty())
            .ok_or("parameter device is required (what to mount)")?;
        let directory = directory
            .filter(|d| d.starts_with('/') && d.len() > 1)
            .ok_or("parameter directory is required and must be an absolute path other than /")?;
        let directory = PathBuf::from(directory.trim_end_matches('/'));
        if device.contains('\0')
            || directory.as_os_str().as_encoded_bytes().contains(&0)
            || options.contains('\0')
        {
            return Err("device, directory and options cannot contain NUL bytes".to_string());
        }
        let mut flags = MsFlags::empty();
        let mut data = Vec::new();
        for option in options.split(',').map(str::trim).filter(|o| !o.is_empty()) {
            match option {
                "ro" => flags |= MsFlags::MS_RDONLY,
                "rw" | "defaults" | "auto" | "noauto" | "nouser" | "_netdev" => {}
                "nosuid" => flags |= MsFlags::MS_NOSUID,
                "nodev" => flags |= MsFlags::MS_NODEV,
                "noexec" => flags |= MsFlags::MS_NOEXEC,
                "sync" => flags |= MsFlags::MS_SYNCHRONOUS,
                "dirsync" => flags |= MsFlags::MS_DIRSYNC,
                "noatime" => flags |= MsFlags::MS_NOATIME,
                "nodiratime" => flags |= MsFlags::MS_NODIRATIME,
                "relatime" => flags |= MsFlags::MS_RELATIME,
                "strictatime" => flags |= MsFlags::MS_STRICTATIME,
                "bind" => flags |= MsFlags::MS_BIND,
                "rbind" => flags |= MsFlags::MS_BIND | MsFlags::MS_REC,
                "loop" | "remount" => {
                    return Err(format!(
                        "option {option:?} is not supported by the built-in Filesystem agent (give \
                         a loop device from losetup as device)"
                    ))
                }
                other => data.push(other.to_string()),
            }
        }
        let fstype = match fstype.filter(|f| !f.is_empty()) {
            Some(f) => f,
            None if flags.contains(MsFlags::MS_BIND) => "none".to_string(),
            None => return Err("parameter fstype is required (ext4, xfs, tmpfs, …)".to_string()),
        };
        Ok(FsConfig {
            device,
            directory,
            fstype,
            flags,
            data: data.join(","),
        })
    }
}

impl std::fmt::Debug for FsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let data = if crate::is_secret(&self.data) {
            "[set]"
        } else {
            self.data.as_str()
        };
        f.debug_struct("FsConfig")
            .field("device", &self.device)
            .field("directory", &self.directory)
            .field("fstype", &self.fstype)
            .field("flags", &self.flags)
            .field("data", &data)
            .finish()
    }
}

/// Runs one operation of the built-in Filesystem agent.
pub async fn execute(
    spec: &AgentSpec,
    op: Operation,
    timeout: Duration,
    started: Instant,
) -> OpResult {
    let config = match FsConfig::from_spec(spec) {
        Ok(config) => config,
        Err(reason) => return OpResult::new(OcfCode::NotConfigured, Some(reason), started),
    };
    let work = move || match op {
        Operation::Start => start(&config),
        Operation::Stop => stop(&config, timeout),
        Operation::Monitor { .. } | Operation::Probe => monitor(&config),
        Operation::ValidateAll => (OcfCode::Ok, None),
        other => (
            OcfCode::Unimplemented,
            Some(format!("a Filesystem has no {} action", other.action())),
        ),
    };
    let (code, reason) =
        match tokio::time::timeout(timeout, tokio::task::spawn_blocking(work)).await {
            Ok(Ok(outcome)) => outcome,
            Ok(Err(e)) => (
                OcfCode::Error,
                Some(format!("the Filesystem operation failed: {e}")),
            ),
            Err(_) => {
                let mut result = OpResult::new(
                    OcfCode::Error,
                    Some(format!("did not finish within {} ms", timeout.as_millis())),
                    started,
                );
                result.timed_out = true;
                return result;
            }
        };
    OpResult::new(code, reason, started)
}

type Outcome = (OcfCode, Option<String>);

fn mounted(directory: &Path) -> Result<Option<MountEntry>, String> {
    let text = std::fs::read_to_string("/proc/self/mountinfo")
        .map_err(|e| format!("cannot read /proc/self/mountinfo: {e}"))?;
    // The last entry for a mountpoint is the one on top.
    Ok(parse_mountinfo(&text)
        .into_iter()
        .rfind(|m| m.mountpoint == directory))
}

fn start(config: &FsConfig) -> Outcome {
    match mounted(&config.directory) {
        Err(reason) => return (OcfCode::Error, Some(reason)),
        Ok(Some(entry))
            if entry.source == config.device || config.flags.contains(MsFlags::MS_BIND) =>
        {
            return (OcfCode::Ok, None)
        }
        Ok(Some(entry)) => {
            return (
                OcfCode::Error,
                Some(format!(
                    "{} already has {} ({}) mounted: unmount it first",
                    config.directory.display(),
                    entry.source,
                    entry.fstype
                )),
            )
        }
        Ok(None) => {}
    }
    if let Err(e) = std::fs::create_dir_all(&config.directory) {
        return (
            OcfCode::Error,
            Some(format!("cannot create {}: {e}", config.directory.display())),
        );
    }
    let data = (!config.data.is_empty()).then_some(config.data.as_str());
    match mount(
        Some(config.device.as_str()),
        &config.directory,
        Some(config.fstype.as_str()),
        config.flags,
        data,
    ) {
        Ok(()) => (OcfCode::Ok, None),
        Err(e) => {
            let code = match e {
                nix::errno::Errno::ENODEV => OcfCode::NotInstalled,
                nix::errno::Errno::EPERM => OcfCode::InsufficientPriv,
                _ => OcfCode::Error,
            };
            (
                code,
                Some(format!(
                    "cannot mount {} on {} ({}): {e}",
                    config.device,
                    config.directory.display(),
                    config.fstype
                )),
            )
        }
    }
}

fn monitor(config: &FsConfig) -> Outcome {
    match mounted(&config.directory) {
        Ok(Some(_)) => (OcfCode::Ok, None),
        Ok(None) => (OcfCode::NotRunning, None),
        Err(reason) => (OcfCode::Error, Some(reason)),
    }
}

fn stop(config: &FsConfig, timeout: Duration) -> Outcome {
    match mounted(&config.directory) {
        Ok(Some(_)) => {}
        Ok(None) => return (OcfCode::Ok, None),
        Err(reason) => return (OcfCode::Error, Some(reason)),
    }
    // A third of the budget for SIGTERM, a third for SIGKILL, at most 5 s each.
    let wait = (timeout / 3).min(Duration::from_secs(5));
    for (round, signal) in [Signal::SIGTERM, Signal::SIGKILL].into_iter().enumerate() {
        let holders = holders(&config.directory);
        if holders.is_empty() {
            break;
        }
        for pid in &holders {
            // ESRCH: it exited meanwhile, which is the goal.
            let _ = kill(Pid::from_raw(*pid), signal);
        }
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline && holders.iter().any(|&p| alive(p)) {
            std::thread::sleep(Duration::from_millis(20));
        }
        if round == 1 && holders.iter().any(|&p| alive(p)) {
            return (
                OcfCode::Error,
                Some(format!(
                    "processes {holders:?} still hold {} after SIGKILL",
                    config.directory.display()
                )),
            );
        }
    }
    let mut last = None;
    for _ in 0..10 {
        match umount2(&config.directory, MntFlags::empty()) {
            Ok(()) => return (OcfCode::Ok, None),
            Err(nix::errno::Errno::EINVAL) if matches!(mounted(&config.directory), Ok(None)) => {
                return (OcfCode::Ok, None)
            }
            Err(e) => last = Some(e),
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    (
        OcfCode::Error,
        Some(format!(
            "cannot unmount {}: {} (something outside /proc's view holds it: a mount below it, a \
             loop device, a swap file?)",
            config.directory.display(),
            last.map(|e| e.to_string()).unwrap_or_default()
        )),
    )
}

/// A process exists and is not a zombie.
fn alive(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z')),
        Err(_) => false,
    }
}

/// Processes (not us) whose cwd, root, exe, open files or mapped files are
/// under `directory`.
pub fn holders(directory: &Path) -> Vec<i32> {
    let me = std::process::id() as i32;
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let under = |p: &Path| p == directory || p.starts_with(directory);
    let mut found = Vec::new();
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        if pid == me {
            continue;
        }
        let base = entry.path();
        let links = ["cwd", "root", "exe"]
            .iter()
            .filter_map(|l| std::fs::read_link(base.join(l)).ok())
            .any(|p| under(&p));
        let fds = || {
            std::fs::read_dir(base.join("fd"))
                .map(|d| {
                    d.flatten()
                        .filter_map(|f| std::fs::read_link(f.path()).ok())
                        .any(|p| under(&p))
                })
                .unwrap_or(false)
        };
        let maps = || {
            std::fs::read_to_string(base.join("maps"))
                .map(|m| {
                    m.lines()
                        .filter_map(|l| l.split_whitespace().nth(5))
                        .any(|p| under(Path::new(p)))
                })
                .unwrap_or(false)
        };
        if links || fds() || maps() {
            found.push(pid);
        }
    }
    found
}

/// Parses `/proc/self/mountinfo` (malformed lines are skipped).
pub fn parse_mountinfo(text: &str) -> Vec<MountEntry> {
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(' ').collect();
            let separator = fields.iter().position(|f| *f == "-")?;
            if separator < 6 {
                return None;
            }
            Some(MountEntry {
                mountpoint: PathBuf::from(unescape(fields.get(4)?)),
                fstype: unescape(fields.get(separator + 1)?),
                source: unescape(fields.get(separator + 2)?),
            })
        })
        .collect()
}

/// Undoes the kernel's octal escapes (`\040` for a space).
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 4 <= bytes.len() && field.is_char_boundary(i + 4) {
            let digits = &field[i + 1..i + 4];
            if let Ok(v) = u8::from_str_radix(digits, 8) {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Class;

    fn spec(params: &[(&str, &str)]) -> AgentSpec {
        AgentSpec {
            id: "fs".into(),
            class: Class::Ocf,
            provider: Some("heartbeat".into()),
            agent: "Filesystem".into(),
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            builtin: true,
        }
    }

    #[test]
    fn parameters() {
        let c = FsConfig::from_spec(&spec(&[
            ("device", "/dev/loop0"),
            ("directory", "/mnt/x/"),
            ("fstype", "ext4"),
            ("options", "ro,noatime,errors=remount-ro"),
        ]))
        .unwrap();
        assert_eq!(c.directory, PathBuf::from("/mnt/x"));
        assert!(c.flags.contains(MsFlags::MS_RDONLY | MsFlags::MS_NOATIME));
        assert_eq!(c.data, "errors=remount-ro");
        let secret = FsConfig::from_spec(&spec(&[
            ("device", "//srv/share"),
            ("directory", "/mnt/s"),
            ("fstype", "cifs"),
            ("options", "username=u,password=hunter2"),
        ]))
        .unwrap();
        assert!(!format!("{secret:?}").contains("hunter2"));
        assert!(
            FsConfig::from_spec(&spec(&[("device", "/dev/x"), ("directory", "/mnt")]))
                .unwrap_err()
                .contains("fstype")
        );
        assert!(FsConfig::from_spec(&spec(&[
            ("device", "/dev/x"),
            ("directory", "rel"),
            ("fstype", "ext4")
        ]))
        .is_err());
        assert!(FsConfig::from_spec(&spec(&[
            ("device", "/dev/x"),
            ("directory", "/"),
            ("fstype", "ext4")
        ]))
        .is_err());
        assert!(FsConfig::from_spec(&spec(&[
            ("device", "/dev/x"),
            ("directory", "/m"),
            ("fstype", "ext4"),
            ("colour", "red")
        ]))
        .unwrap_err()
        .contains("colour"));
        assert!(FsConfig::from_spec(&spec(&[
            ("device", "a\0b"),
            ("directory", "/m"),
            ("fstype", "ext4")
        ]))
        .is_err());
        assert!(FsConfig::from_spec(&spec(&[
            ("device", "/img"),
            ("directory", "/m"),
            ("fstype", "ext4"),
            ("options", "loop")
        ]))
        .is_err());
    }

    #[test]
    fn mountinfo() {
        let text = "22 1 0:21 / /proc rw,nosuid - proc proc rw\n\
                    99 22 7:0 / /mnt/with\\040space rw - ext4 /dev/loop0 rw\n\
                    garbage\n - \n1 2 3 4 - x\n\\\\\\ - - -\n";
        let entries = parse_mountinfo(text);
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[1].mountpoint, PathBuf::from("/mnt/with space"));
        assert_eq!(entries[1].source, "/dev/loop0");
        assert_eq!(unescape("a\\04"), "a\\04");
        assert_eq!(unescape("\\999"), "\\999");
        assert_eq!(unescape("é\\040"), "é ");
    }
}
