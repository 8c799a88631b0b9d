//! Self-fencing with a hardware (or software) watchdog.
//!
//! ```text
//!   policy   sans-I/O: when to feed (healthy = main loop turning AND
//!            (quorum held OR a peer seen)), every timeout/3; stop once, for good
//!   info     pure parsers: option bits, identity, /sys/class/watchdog entries
//!   device   (feature "io") /dev/watchdogN: open (arms), WDIOC_GETSUPPORT,
//!            SETTIMEOUT/GETTIMEOUT, KEEPALIVE, GETTIMELEFT, magic close
//!   sysfs    (feature "io") listing /sys/class/watchdog
//! ```
//!
//! A node that stops feeding resets within the device's timeout, so a peer
//! that waits at least twice that timeout after losing it may treat it as
//! fenced (docs/watchdog.md).

#[cfg(feature = "io")]
pub mod device;
pub mod info;
#[cfg(feature = "io")]
#[allow(unsafe_code)]
mod ioctl;
pub mod policy;
#[cfg(feature = "io")]
pub mod sysfs;

#[cfg(feature = "io")]
pub use device::{Closed, Support, Watchdog};
pub use info::{Options, State, SysfsEntry};
pub use policy::{Decision, FeedPolicy, Health, Phase, Unhealthy};
