//! Configuration: one model, two front doors.
//!
//! ```text
//!   /etc/ha.d/{ha.cf, authkeys}  ──► hacf (heartbeat 3.0.6 semantics) ──┐
//!                                                                      ├─► Config
//!   /etc/ironbeat/ironbeat.toml  ──► native (raw → spanned → typed) ───┘
//! ```
//!
//! Both doors produce the same [`Config`]: cluster name, members, this node,
//! [`Timing`](ironbeat_link::Timing), the links ([`Medium`] each, named as its
//! ha.cf line), the [`KeyRing`](ironbeat_link::auth::KeyRing) read from an
//! authkeys file that only its owner may read, and — from ha.cf — every other
//! heartbeat directive, typed and located ([`HeartbeatOptions`]); from the
//! native file, the fence devices ([`Fencing`], password files checked:
//! present, mode 0600, owned by root).
//!
//! Every error is a [`ConfigError`] displayed as `FILE:LINE: what is wrong;
//! how to fix it`. Nothing is silently ignored. The formats are documented in
//! `docs/config.md`.

mod error;
mod fence;
mod hacf;
mod hadir;
mod model;
mod native;
mod resources;
pub mod to_crm;
mod values;
mod watchdog;

pub use error::ConfigError;
pub use fence::apc as fence_apc;
pub use fence::external::ExternalDevice;
pub use fence::redfish as fence_redfish;
pub use fence::redfish::RedfishDevice;
pub use fence::DEVICE_TYPES;
pub use hacf::{parse_ha_cf, HaCf, DIRECTIVES};
pub use hadir::{load_ha_d, read_authkeys};
pub use model::{
    heartbeat_timing, ApiAuth, AutoFailback, Autojoin, ClientChild, Compression, Config, EnvVar,
    FenceAgent, FenceDevice, FenceLevel, Fencing, GenerationMethod, HeartbeatOptions, IpmiAuth,
    IpmiDevice, IpmiInterface, IpmiPrivilege, Link, Located, Location, LogFacility, LogLevel,
    Medium, MessageFormat, Pacemaker, PasswordSource, PingGroup, PingNode, RebootMethod, Stonith,
    StonithHost, UuidFrom, DEFAULT_BAUD, DEFAULT_CLUSTER_NAME, DEFAULT_UDP_PORT, MAX_LINKS,
};
pub use native::{load_fencing, load_native, validate_native, DEFAULT_NATIVE_CONFIG};
pub use watchdog::{
    describe as describe_watchdog, stonith_watchdog_timeout, watchdog_errors, watchdog_timeout,
    DEFAULT_WATCHDOG_TIMEOUT, MAX_WATCHDOG_TIMEOUT,
};
