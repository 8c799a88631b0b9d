//! An open watchdog device: identity, timeout, feeding, magic close.
//!
//! Opening `/dev/watchdogN` arms it: from then on someone must feed it
//! within its timeout or the machine resets. [`Watchdog::close`] disarms it
//! (magic close: `V`, then close) unless the driver has `nowayout` set; just
//! dropping a [`Watchdog`] closes the file *without* the magic character,
//! which leaves it armed (the kernel logs "watchdog did not stop!").

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::info::{identity_from_bytes, Options, SysfsEntry};
use super::ioctl;
use super::sysfs;
use crate::{Error, ErrorKind};

/// The longest timeout asked of a driver (the ioctl takes an `int` of
/// seconds; real devices stop far below: i6300esb 2046 s).
pub const MAX_TIMEOUT: Duration = Duration::from_secs(65535);

/// What the device says about itself (`WDIOC_GETSUPPORT`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Support {
    /// Its name (`i6300ESB timer`, `Software Watchdog`).
    pub identity: String,
    /// Firmware version (driver-defined).
    pub firmware_version: u32,
    /// What it supports.
    pub options: Options,
}

/// How a [`Watchdog::close`] left the device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Closed {
    /// Magic close accepted: the watchdog is stopped.
    Disarmed,
    /// It is still running and will reset the machine unless something
    /// feeds it; why.
    StillArmed(String),
}

/// An open (hence armed) watchdog device.
#[derive(Debug)]
pub struct Watchdog {
    file: File,
    path: PathBuf,
    support: Support,
    sysfs: Option<SysfsEntry>,
}

impl Watchdog {
    /// Opens (and so arms) the watchdog at `path`, and reads what it
    /// supports and its sysfs entry (for `nowayout`).
    pub fn open(path: &Path) -> Result<Watchdog, Error> {
        let meta = std::fs::metadata(path).map_err(|e| {
            Error::io(
                format!(
                    "watchdog device {}: cannot be read (load the driver, e.g. `modprobe \
                     i6300esb` or `modprobe softdog`, and check the path; `ironbeat watchdog \
                     list` shows the devices)",
                    path.display()
                ),
                e,
            )
        })?;
        if !meta.file_type().is_char_device() {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "{} is not a character device; give a watchdog device such as \
                     /dev/watchdog0 (`ironbeat watchdog list`)",
                    path.display()
                ),
            ));
        }
        let file = OpenOptions::new().write(true).open(path).map_err(|e| {
            let hint = match e.raw_os_error() {
                Some(nix::libc::EBUSY) => {
                    "another process holds it open (only one may: wdctl, sbd, watchdog(8), \
                     systemd's RuntimeWatchdogSec=); stop that one or use another device"
                }
                Some(nix::libc::EACCES) | Some(nix::libc::EPERM) => "run as root",
                _ => "check the device and its driver",
            };
            Error::io(format!("opening watchdog {}: {hint}", path.display()), e)
        })?;
        let info = ioctl::get_support(file.as_fd()).map_err(|e| {
            Error::new(
                ErrorKind::DeviceIncompatible,
                format!(
                    "{} does not answer WDIOC_GETSUPPORT ({e}); it is not a Linux watchdog \
                     device",
                    path.display()
                ),
            )
        })?;
        let support = Support {
            identity: identity_from_bytes(&info.identity),
            firmware_version: info.firmware_version,
            options: Options(info.options),
        };
        let sysfs = sysfs::entry_for_rdev(meta.rdev());
        Ok(Watchdog {
            file,
            path: path.to_path_buf(),
            support,
            sysfs,
        })
    }

    /// The device path it was opened at.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What it supports.
    pub fn support(&self) -> &Support {
        &self.support
    }

    /// Its sysfs entry, when the kernel publishes one.
    pub fn sysfs(&self) -> Option<&SysfsEntry> {
        self.sysfs.as_ref()
    }

    /// Whether it cannot be stopped once armed (`nowayout`); `None` when the
    /// kernel does not say.
    pub fn nowayout(&self) -> Option<bool> {
        self.sysfs.as_ref().and_then(|s| s.nowayout)
    }

    /// Sets the timeout (whole seconds, rounded up) and returns the one the
    /// driver actually set (drivers round to what the hardware can do).
    pub fn set_timeout(&mut self, timeout: Duration) -> Result<Duration, Error> {
        if !self.support.options.has(Options::SETTIMEOUT) {
            let current = self.timeout()?;
            if current == timeout {
                return Ok(current);
            }
            return Err(Error::new(
                ErrorKind::DeviceIncompatible,
                format!(
                    "{} ({}) cannot change its timeout (it is {}s); set the driver's module \
                     parameter instead or configure timeout = \"{}s\"",
                    self.path.display(),
                    self.support.identity,
                    current.as_secs(),
                    current.as_secs()
                ),
            ));
        }
        if timeout.is_zero() || timeout > MAX_TIMEOUT {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "watchdog timeout {timeout:?} is out of range; use 1s to {}s",
                    MAX_TIMEOUT.as_secs()
                ),
            ));
        }
        let mut seconds = timeout.as_secs();
        if timeout.subsec_nanos() > 0 {
            seconds += 1;
        }
        // In range: at most MAX_TIMEOUT (65535 s).
        let wanted = i32::try_from(seconds).unwrap_or(i32::MAX);
        let set = ioctl::set_timeout(self.file.as_fd(), wanted).map_err(|e| {
            Error::new(
                ErrorKind::DeviceIncompatible,
                format!(
                    "{} ({}) refused a timeout of {seconds}s ({e}); choose one the device \
                     supports (i6300esb: 1-2046 s, softdog: 1-65535 s)",
                    self.path.display(),
                    self.support.identity
                ),
            )
        })?;
        Ok(Duration::from_secs(u64::try_from(set).unwrap_or(0)))
    }

    /// The timeout in force (`WDIOC_GETTIMEOUT`).
    pub fn timeout(&self) -> Result<Duration, Error> {
        let seconds = ioctl::get_timeout(self.file.as_fd()).map_err(|e| {
            Error::new(
                ErrorKind::DeviceIncompatible,
                format!("{}: WDIOC_GETTIMEOUT failed ({e})", self.path.display()),
            )
        })?;
        Ok(Duration::from_secs(u64::try_from(seconds).unwrap_or(0)))
    }

    /// Feeds it: `WDIOC_KEEPALIVE`, or a write for a driver without it.
    pub fn keepalive(&mut self) -> Result<(), Error> {
        if self.support.options.has(Options::KEEPALIVEPING) {
            ioctl::keepalive(self.file.as_fd()).map_err(|e| {
                Error::io(
                    format!("feeding watchdog {}", self.path.display()),
                    std::io::Error::from(e),
                )
            })
        } else {
            // Any byte but 'V' is a ping.
            self.file
                .write_all(b"\0")
                .map_err(|e| Error::io(format!("feeding watchdog {}", self.path.display()), e))
        }
    }

    /// Seconds until it fires (`WDIOC_GETTIMELEFT`); `None` when the driver
    /// cannot tell.
    pub fn time_left(&self) -> Result<Option<Duration>, Error> {
        match ioctl::get_time_left(self.file.as_fd()) {
            Ok(seconds) => Ok(Some(Duration::from_secs(
                u64::try_from(seconds).unwrap_or(0),
            ))),
            Err(nix::errno::Errno::EOPNOTSUPP) | Err(nix::errno::Errno::ENOTTY) => Ok(None),
            Err(e) => Err(Error::new(
                ErrorKind::DeviceMisbehaved,
                format!("{}: WDIOC_GETTIMELEFT failed ({e})", self.path.display()),
            )),
        }
    }

    /// A clean stop: magic close (`V`, then close). Says whether the device
    /// is now stopped; with `nowayout` (or no magic close) it stays armed
    /// and the machine resets unless something else feeds it.
    pub fn close(mut self) -> Result<Closed, Error> {
        if self.nowayout() == Some(true) {
            return Ok(Closed::StillArmed(format!(
                "{} has nowayout set (/sys/class/watchdog/{}/nowayout is 1): a clean stop \
                 cannot disarm it; this machine resets within the timeout unless something \
                 feeds it",
                self.path.display(),
                self.sysfs.as_ref().map_or("watchdogN", |s| s.name.as_str())
            )));
        }
        self.file.write_all(b"V").map_err(|e| {
            Error::io(
                format!("magic close of watchdog {}", self.path.display()),
                e,
            )
        })?;
        // The kernel stops it on release once it saw the 'V' (or always, for
        // a driver without magic close), unless nowayout.
        drop(self.file);
        // Verified, not assumed: the kernel's own state, when it publishes one.
        let name = self.sysfs.as_ref().map(|s| s.name.clone());
        match name.and_then(|n| sysfs::entry(&n)).and_then(|e| e.state) {
            Some(super::info::State::Active) => Ok(Closed::StillArmed(format!(
                "{} ({}) is still active after magic close; this machine resets within the                  timeout unless something feeds it",
                self.path.display(),
                self.support.identity
            ))),
            _ => Ok(Closed::Disarmed),
        }
    }
}
