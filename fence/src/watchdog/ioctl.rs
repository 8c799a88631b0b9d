//! The watchdog ioctls of linux/watchdog.h, the only `unsafe` of the crate.
//!
//! Each is one `ioctl(2)` on a file descriptor the caller holds open (a
//! `BorrowedFd`, so it cannot be closed under us), passing a pointer to a
//! local value of exactly the type the kernel reads or writes for that
//! request number (nix computes the number from the type's size, per
//! architecture). The kernel touches nothing else of ours.

use std::os::fd::{AsRawFd, BorrowedFd};

use nix::libc::c_int;

/// `struct watchdog_info` (linux/watchdog.h).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub(super) struct WatchdogInfo {
    /// `WDIOF_*` bits.
    pub options: u32,
    /// Firmware version (driver-defined).
    pub firmware_version: u32,
    /// NUL-padded name.
    pub identity: [u8; 32],
}

mod raw {
    use super::WatchdogInfo;
    use nix::libc::c_int;
    nix::ioctl_read!(getsupport, b'W', 0, WatchdogInfo);
    nix::ioctl_read!(keepalive, b'W', 5, c_int);
    nix::ioctl_readwrite!(settimeout, b'W', 6, c_int);
    nix::ioctl_read!(gettimeout, b'W', 7, c_int);
    nix::ioctl_read!(gettimeleft, b'W', 10, c_int);
}

/// `WDIOC_GETSUPPORT`: options, firmware version, identity.
pub(super) fn get_support(fd: BorrowedFd<'_>) -> nix::Result<WatchdogInfo> {
    let mut info = WatchdogInfo {
        options: 0,
        firmware_version: 0,
        identity: [0; 32],
    };
    // SAFETY: `fd` is open for the call (borrowed); `info` is a live, owned
    // `#[repr(C)]` struct of the size and layout WDIOC_GETSUPPORT writes.
    unsafe { raw::getsupport(fd.as_raw_fd(), &mut info) }?;
    Ok(info)
}

/// `WDIOC_KEEPALIVE`: feed it.
pub(super) fn keepalive(fd: BorrowedFd<'_>) -> nix::Result<()> {
    let mut dummy: c_int = 0;
    // SAFETY: `fd` is open; the request is declared as reading an int, and
    // `dummy` is a live local int (the kernel ignores the argument).
    unsafe { raw::keepalive(fd.as_raw_fd(), &mut dummy) }?;
    Ok(())
}

/// `WDIOC_SETTIMEOUT`: ask for `seconds`; returns what the driver set.
pub(super) fn set_timeout(fd: BorrowedFd<'_>, seconds: c_int) -> nix::Result<c_int> {
    let mut value = seconds;
    // SAFETY: `fd` is open; `value` is a live local int the kernel reads and
    // then overwrites with the timeout it set.
    unsafe { raw::settimeout(fd.as_raw_fd(), &mut value) }?;
    Ok(value)
}

/// `WDIOC_GETTIMEOUT`, seconds.
pub(super) fn get_timeout(fd: BorrowedFd<'_>) -> nix::Result<c_int> {
    let mut value: c_int = 0;
    // SAFETY: `fd` is open; `value` is a live local int the kernel writes.
    unsafe { raw::gettimeout(fd.as_raw_fd(), &mut value) }?;
    Ok(value)
}

/// `WDIOC_GETTIMELEFT`, seconds (`EOPNOTSUPP`/`ENOTTY` when the driver
/// cannot tell).
pub(super) fn get_time_left(fd: BorrowedFd<'_>) -> nix::Result<c_int> {
    let mut value: c_int = 0;
    // SAFETY: `fd` is open; `value` is a live local int the kernel writes.
    unsafe { raw::gettimeleft(fd.as_raw_fd(), &mut value) }?;
    Ok(value)
}
