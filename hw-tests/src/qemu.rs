//! QEMU guests for the hardware tier: a real Linux kernel that a BMC powers on,
//! resets and powers off, so a fencing test can check what *happened to the
//! machine*, not only what the BMC said.
//!
//! The guest is a stock Debian kernel and a busybox initramfs built by
//! `scripts/build-qemu-guest.sh` into `$IRONBEAT_QEMU_DIR` (default
//! `<target>/qemu-guest`); [`GuestImage::ensure`] runs the script (once per
//! process; it is a no-op when its cache is current). The guest's `/init`
//! prints one [`BOOT_MARKER`] line per kernel start on its console,
//!
//! ```text
//! IRONBEAT-GUEST-BOOT boot_id=<uuid> uptime=<seconds> name=<name>
//! ```
//!
//! and `boot_id` (the kernel's `/proc/sys/kernel/random/boot_id`) is new on
//! every start: a second line with another id proves the kernel booted again.
//!
//! A [`Vm`] is the QEMU command line and the files of one guest, all in a
//! directory the test owns: the console (appended across power cycles), qemu's
//! `-pidfile` and its stderr. Who starts qemu is the BMC (ipmi_sim's `startcmd`,
//! see [`crate::ipmi_sim::SimBmc::start_with_vm`]); the test only reads the
//! pid file and kills that PID (and only when its command line names this pid
//! file) when it is done. Emulation is TCG (`-accel tcg`): /dev/kvm on this
//! kind of machine is a paravirtual nested hypervisor that cannot run a stock
//! kernel, and TCG boots this guest to `/init` in about 3 s.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::{bail, Context};

use crate::binary;
use crate::cmd;
use crate::Result;

/// The first word of the line the guest's `/init` prints at every boot.
pub const BOOT_MARKER: &str = "IRONBEAT-GUEST-BOOT";

/// How long building the guest may take (a 70 MB download on a slow mirror).
pub const BUILD_DEADLINE: Duration = Duration::from_secs(900);

/// The guest's memory (MiB): the kernel and a 1 MiB initramfs.
const MEMORY_MIB: u32 = 256;

/// After this long the guest powers itself off (ACPI: qemu exits), so a VM
/// nobody stops ends by itself.
const LIFETIME: Duration = Duration::from_secs(600);

/// The kernel and initramfs of the test guest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestImage {
    /// The decompressed kernel (ELF, booted through its PVH entry point).
    pub vmlinux: PathBuf,
    /// busybox and `/init`.
    pub initramfs: PathBuf,
    /// The kernel's release string (`6.1.0-56-amd64`).
    pub kernel_release: String,
}

/// One kernel start, read from the console.
#[derive(Debug, Clone, PartialEq)]
pub struct Boot {
    /// The kernel's boot id: different for every start.
    pub boot_id: String,
    /// Seconds since the kernel started, when `/init` ran.
    pub uptime: f64,
    /// The guest's name (`ironbeat.guest=` on the kernel command line).
    pub name: String,
}

/// A QEMU guest's command line and files.
#[derive(Debug, Clone)]
pub struct Vm {
    name: String,
    dir: PathBuf,
    image: GuestImage,
    kcs_port: u16,
}

impl GuestImage {
    /// The directory the guest is cached in: `$IRONBEAT_QEMU_DIR`, or
    /// `<target>/qemu-guest`.
    pub fn dir() -> PathBuf {
        match std::env::var_os("IRONBEAT_QEMU_DIR") {
            Some(dir) if !dir.is_empty() => {
                let dir = PathBuf::from(dir);
                if dir.is_absolute() {
                    dir
                } else {
                    binary::workspace_root().join(dir)
                }
            }
            _ => binary::target_dir().join("qemu-guest"),
        }
    }

    /// Builds the guest with `scripts/build-qemu-guest.sh` unless its cache is
    /// current (about 1 s then; 5–15 s from scratch), once per process.
    pub fn ensure() -> Result<GuestImage> {
        static BUILT: Mutex<Option<GuestImage>> = Mutex::new(None);
        let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(image) = built.as_ref() {
            return Ok(image.clone());
        }
        let dir = Self::dir();
        let script = binary::workspace_root().join("scripts/build-qemu-guest.sh");
        let out = cmd::run(
            Command::new("sh")
                .arg(&script)
                .env("IRONBEAT_QEMU_DIR", &dir),
            BUILD_DEADLINE,
        )?;
        if !out.status.success() {
            bail!(
                "{} failed ({}): {}\nIt needs apt-get with current lists (apt-get update) and \
                 network access to the Debian mirror once; the guest is cached in {} afterwards",
                script.display(),
                out.status,
                out.stderr.trim(),
                dir.display()
            );
        }
        let image = Self::at(&dir)?;
        *built = Some(image.clone());
        Ok(image)
    }

    /// The guest already built in `dir`.
    pub fn at(dir: &Path) -> Result<GuestImage> {
        let image = GuestImage {
            vmlinux: dir.join("vmlinux"),
            initramfs: dir.join("initramfs.cpio.gz"),
            kernel_release: fs::read_to_string(dir.join("kernel-release"))
                .with_context(|| {
                    format!(
                        "no guest in {}: run scripts/build-qemu-guest.sh",
                        dir.display()
                    )
                })?
                .trim()
                .to_string(),
        };
        for file in [&image.vmlinux, &image.initramfs] {
            if !file.is_file() {
                bail!(
                    "{} is missing: run scripts/build-qemu-guest.sh --force",
                    file.display()
                );
            }
        }
        Ok(image)
    }
}

impl Vm {
    /// A guest named `name` (letters, digits, `-`, `_`) whose files live in
    /// `dir`; its BMC link (ipmi-bmc-extern) connects to `127.0.0.1:kcs_port`.
    pub fn new(name: &str, image: &GuestImage, dir: &Path, kcs_port: u16) -> Result<Vm> {
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            bail!("VM name {name:?} must be non-empty letters, digits, - or _");
        }
        let vm = Vm {
            name: name.to_string(),
            dir: dir.to_path_buf(),
            image: image.clone(),
            kcs_port,
        };
        // The command line goes through `sh -c` inside a quoted lan.conf string.
        for path in [&vm.dir, &vm.image.vmlinux, &vm.image.initramfs] {
            let text = path.to_string_lossy();
            if !text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "/._-+".contains(c))
            {
                bail!(
                    "path {text:?} has characters a shell command line would need quoted; \
                     use a directory of letters, digits and /._-+ (IRONBEAT_QEMU_DIR, TMPDIR)"
                );
            }
        }
        Ok(vm)
    }

    /// The guest's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The console (ttyS0), appended across power cycles.
    pub fn console_path(&self) -> PathBuf {
        self.dir.join("console.log")
    }

    /// qemu's `-pidfile`.
    pub fn pidfile(&self) -> PathBuf {
        self.dir.join("qemu.pid")
    }

    /// qemu's own stderr.
    pub fn log_path(&self) -> PathBuf {
        self.dir.join("qemu.log")
    }

    /// The TCP port of the BMC's VM-codec KCS interface (loopback).
    pub fn kcs_port(&self) -> u16 {
        self.kcs_port
    }

    /// qemu's arguments (program first).
    pub fn argv(&self) -> Vec<String> {
        let mut argv: Vec<String> = [
            "qemu-system-x86_64",
            "-accel",
            "tcg",
            "-cpu",
            "max",
            "-M",
            "pc",
            "-smp",
            "1",
            "-nodefaults",
            "-no-user-config",
            "-display",
            "none",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        argv.extend([
            "-m".into(),
            MEMORY_MIB.to_string(),
            "-chardev".into(),
            format!(
                "file,id=con,path={},append=on",
                self.console_path().display()
            ),
            "-serial".into(),
            "chardev:con".into(),
            "-pidfile".into(),
            self.pidfile().display().to_string(),
            // The KCS system interface, wired to the BMC: power off and reset
            // orders arrive here.
            "-chardev".into(),
            format!(
                "socket,id=ipmi0,host=127.0.0.1,port={},reconnect=1",
                self.kcs_port
            ),
            "-device".into(),
            "ipmi-bmc-extern,id=bmc0,chardev=ipmi0".into(),
            "-device".into(),
            "isa-ipmi-kcs,bmc=bmc0".into(),
            "-kernel".into(),
            self.image.vmlinux.display().to_string(),
            "-initrd".into(),
            self.image.initramfs.display().to_string(),
            // No -no-reboot: a reset must reboot the guest, not end qemu.
            "-append".into(),
            format!(
                "console=ttyS0 panic=-1 quiet ironbeat.guest={} ironbeat.lifetime={}",
                self.name,
                LIFETIME.as_secs()
            ),
        ]);
        argv
    }

    /// The command line for a BMC's `startcmd`: [`Vm::argv`] quoted, output
    /// to [`Vm::log_path`]. ipmi_sim runs it as `/bin/sh -c "exec CMD"`, so
    /// the process it watches (and qemu's pid file) is qemu itself.
    pub fn start_command(&self) -> String {
        let words: Vec<String> = self
            .argv()
            .iter()
            .map(|w| {
                if w.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "/._-+=,:".contains(c))
                {
                    w.clone()
                } else {
                    // Only the -append value has spaces; no word has a quote.
                    format!("'{w}'")
                }
            })
            .collect();
        format!(
            "{} </dev/null >>{} 2>&1",
            words.join(" "),
            self.log_path().display()
        )
    }

    /// Every boot so far, in order.
    pub fn boots(&self) -> Vec<Boot> {
        fs::read(self.console_path())
            .map(|bytes| parse_boots(&bytes))
            .unwrap_or_default()
    }

    /// Waits until the console shows `count` boots (at most `limit`).
    pub fn wait_boots(&self, count: usize, limit: Duration) -> Result<Vec<Boot>> {
        cmd::poll(limit, Duration::from_millis(20), || {
            let boots = self.boots();
            (boots.len() >= count).then_some(boots)
        })
        .with_context(|| {
            format!(
                "guest {} did not boot {count} time(s) within {limit:?}; console:\n{}\nqemu:\n{}",
                self.name,
                self.console_tail(),
                fs::read_to_string(self.log_path()).unwrap_or_default()
            )
        })
    }

    /// The end of the console (for failure messages).
    pub fn console_tail(&self) -> String {
        let text = fs::read(self.console_path())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// The PID in the pid file, if that process is this guest's qemu and is
    /// running (not a zombie).
    pub fn pid(&self) -> Option<u32> {
        let pid = fs::read_to_string(self.pidfile())
            .ok()?
            .trim()
            .parse::<u32>()
            .ok()?;
        self.is_running(pid).then_some(pid)
    }

    /// Waits for qemu to write its pid file (at most `limit`).
    pub fn wait_pid(&self, limit: Duration) -> Result<u32> {
        cmd::poll(limit, Duration::from_millis(10), || self.pid()).with_context(|| {
            format!(
                "no running qemu in {} within {limit:?}; qemu:\n{}",
                self.pidfile().display(),
                fs::read_to_string(self.log_path()).unwrap_or_default()
            )
        })
    }

    /// Whether `pid` is a running process started with this guest's pid file.
    pub fn is_running(&self, pid: u32) -> bool {
        process_state(pid).is_some_and(|s| s != 'Z') && self.is_ours(pid)
    }

    /// Stops this guest's qemu, if it runs: [`Vm::kill_process`] of the PID
    /// in the pid file. Returns the PID it stopped.
    pub fn kill(&self, grace: Duration) -> Option<u32> {
        let pid = self.pid()?;
        self.kill_process(pid, grace).then_some(pid)
    }

    /// Stops process `pid` if it is this guest's qemu (its command line names
    /// this guest's pid file, so a qemu that has not written the file yet is
    /// found too): SIGTERM, up to `grace`, then SIGKILL; then waits (bounded)
    /// until its parent has reaped it. Returns whether it signalled.
    pub fn kill_process(&self, pid: u32, grace: Duration) -> bool {
        if !self.is_running(pid) {
            return false;
        }
        let Ok(raw) = i32::try_from(pid) else {
            return false;
        };
        let target = nix::unistd::Pid::from_raw(raw);
        let step = Duration::from_millis(10);
        let ended = |p| process_state(p).map_or(true, |s| s == 'Z');
        let _ = nix::sys::signal::kill(target, nix::sys::signal::Signal::SIGTERM);
        if cmd::poll(grace, step, || ended(pid).then_some(())).is_none() && self.is_ours(pid) {
            let _ = nix::sys::signal::kill(target, nix::sys::signal::Signal::SIGKILL);
        }
        let _ = cmd::poll(Duration::from_secs(5), step, || {
            process_state(pid).is_none().then_some(())
        });
        true
    }

    fn is_ours(&self, pid: u32) -> bool {
        let pidfile = self.pidfile();
        let wanted = pidfile.as_os_str().as_encoded_bytes();
        fs::read(format!("/proc/{pid}/cmdline"))
            .is_ok_and(|c| c.split(|b| *b == 0).any(|arg| arg == wanted))
    }
}

/// The state letter of `/proc/PID/stat` (`R`, `S`, `Z`, …), `None` if there
/// is no such process.
pub fn process_state(pid: u32) -> Option<char> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) S ...": comm may hold spaces and parentheses; the state
    // follows the last ')'.
    let after = &stat[stat.rfind(')')? + 1..];
    after.trim_start().chars().next()
}

/// The boots a console shows: every complete line (ended by `\n`) that
/// starts with [`BOOT_MARKER`] and carries a well-formed `boot_id` and
/// `uptime`. Anything else (kernel messages, a half-written last line,
/// garbage) is skipped.
pub fn parse_boots(console: &[u8]) -> Vec<Boot> {
    let complete = match console.iter().rposition(|b| *b == b'\n') {
        Some(end) => &console[..end],
        None => return Vec::new(),
    };
    complete
        .split(|b| *b == b'\n')
        .filter_map(|line| parse_boot_line(&String::from_utf8_lossy(line)))
        .collect()
}

fn parse_boot_line(line: &str) -> Option<Boot> {
    let rest = line.trim_end_matches('\r').strip_prefix(BOOT_MARKER)?;
    if !rest.starts_with(' ') {
        return None;
    }
    let (mut boot_id, mut uptime, mut name) = (None, None, String::new());
    for field in rest.split_ascii_whitespace() {
        let (key, value) = field.split_once('=')?;
        match key {
            "boot_id" => {
                let well_formed = value.len() == 36
                    && value.chars().enumerate().all(|(i, c)| match i {
                        8 | 13 | 18 | 23 => c == '-',
                        _ => c.is_ascii_hexdigit(),
                    });
                boot_id = well_formed.then(|| value.to_string());
            }
            "uptime" => {
                uptime = value
                    .parse::<f64>()
                    .ok()
                    .filter(|u| u.is_finite() && *u >= 0.0)
            }
            "name" => name = value.to_string(),
            _ => {}
        }
    }
    Some(Boot {
        boot_id: boot_id?,
        uptime: uptime?,
        name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID1: &str = "fd7ef2e3-4d57-4fdc-ae15-5fc68cc58715";
    const ID2: &str = "0a1b2c3d-4e5f-6789-abcd-ef0123456789";

    #[test]
    fn boots_are_read_from_a_console_with_kernel_noise() {
        let console = format!(
            "[    0.000000] Linux version 6.1.0\r\n\
             {BOOT_MARKER} boot_id={ID1} uptime=2.32 name=vm1\r\n\
             [    5.1] reboot: Restarting system\n\
             {BOOT_MARKER} boot_id={ID2} uptime=2.10 name=vm1\n"
        );
        let boots = parse_boots(console.as_bytes());
        assert_eq!(boots.len(), 2);
        assert_eq!(boots[0].boot_id, ID1);
        assert_eq!(boots[0].uptime, 2.32);
        assert_eq!(boots[0].name, "vm1");
        assert_eq!(boots[1].boot_id, ID2);
    }

    #[test]
    fn hostile_console_lines_are_skipped() {
        let bad = [
            // half-written last line
            format!("{BOOT_MARKER} boot_id={ID1} uptime=2.3"),
            format!("{BOOT_MARKER}boot_id={ID1} uptime=1\n"),
            format!("x{BOOT_MARKER} boot_id={ID1} uptime=1\n"),
            format!("{BOOT_MARKER} uptime=1\n"),
            format!("{BOOT_MARKER} boot_id={ID1}\n"),
            format!("{BOOT_MARKER} boot_id={ID1} uptime=-1\n"),
            format!("{BOOT_MARKER} boot_id={ID1} uptime=NaN\n"),
            format!("{BOOT_MARKER} boot_id={ID1} uptime=inf\n"),
            format!("{BOOT_MARKER} boot_id=zz7ef2e3-4d57-4fdc-ae15-5fc68cc58715 uptime=1\n"),
            format!("{BOOT_MARKER} boot_id={ID1}0 uptime=1\n"),
            format!("{BOOT_MARKER} boot_id={ID1} uptime=1 junk\n"),
            format!("{BOOT_MARKER} boot_id=é{} uptime=1\n", &ID1[2..]),
            "\n\n\r\n".to_string(),
            String::new(),
        ];
        for text in &bad {
            assert_eq!(parse_boots(text.as_bytes()), vec![], "{text:?}");
        }
        // Invalid UTF-8 and NULs around a good line do not hide it.
        let mut bytes = vec![0xff, 0xfe, 0, b'\n'];
        bytes.extend(format!("{BOOT_MARKER} boot_id={ID2} uptime=0.5 name=\n").as_bytes());
        bytes.extend([0xc3, 0x28, b'\n']);
        let boots = parse_boots(&bytes);
        assert_eq!(boots.len(), 1);
        assert_eq!(boots[0].boot_id, ID2);
        assert_eq!(boots[0].name, "");
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for len in 0..400 {
            let mut bytes = Vec::with_capacity(len);
            for _ in 0..len {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                bytes.push(match seed % 5 {
                    0 => b'\n',
                    1 => b' ',
                    2 => b'=',
                    _ => (seed >> 8) as u8,
                });
            }
            let mut with_marker = BOOT_MARKER.as_bytes().to_vec();
            with_marker.extend(&bytes);
            let _ = parse_boots(&bytes);
            let _ = parse_boots(&with_marker);
        }
    }

    #[test]
    fn start_command_quotes_only_the_kernel_command_line() {
        let image = GuestImage {
            vmlinux: "/t/vmlinux".into(),
            initramfs: "/t/initramfs.cpio.gz".into(),
            kernel_release: "6.1.0-56-amd64".into(),
        };
        let vm = Vm::new("vm1", &image, Path::new("/tmp/ibq-1-0"), 9002).unwrap();
        let command = vm.start_command();
        assert!(command.starts_with("qemu-system-x86_64 -accel tcg "));
        assert!(command.contains(" -pidfile /tmp/ibq-1-0/qemu.pid "));
        assert!(command.contains("port=9002,reconnect=1"));
        assert!(command.contains(" -append 'console=ttyS0 panic=-1 quiet ironbeat.guest=vm1 "));
        assert!(command.ends_with(" >>/tmp/ibq-1-0/qemu.log 2>&1"));
        assert!(!command.contains('"'));
        assert!(!command.contains("-no-reboot"));
        assert!(Vm::new("vm 1", &image, Path::new("/tmp/x"), 1).is_err());
        assert!(Vm::new("vm1", &image, Path::new("/tmp/a b"), 1).is_err());
        assert!(Vm::new("vm1", &image, Path::new("/tmp/a\"b"), 1).is_err());
    }

    #[test]
    fn process_state_of_this_process_and_of_none() {
        assert!(process_state(std::process::id()).is_some());
        assert_eq!(process_state(u32::MAX), None);
    }
}
