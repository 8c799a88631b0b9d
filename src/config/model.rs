//! The configuration model: what both front doors (`/etc/ha.d` and the native
//! TOML file) produce, and what the link layer and later the CRM consume.

use super::error::ConfigError;
use std::fmt;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use ironbeat_fence::ipmi::crypto::Secret;
use ironbeat_fence::power::Action;
use ironbeat_link::auth::KeyRing;
use ironbeat_link::{ClusterId, NodeId, PathId, Timing};

/// heartbeat's default cluster name (`cluster` directive).
pub const DEFAULT_CLUSTER_NAME: &str = "linux-ha";
/// The IANA port of heartbeat (`ha-cluster`, UDP 694).
pub const DEFAULT_UDP_PORT: u16 = 694;
/// heartbeat's default serial speed.
pub const DEFAULT_BAUD: u32 = 19200;
/// At most this many links (heartbeat's `MAXMEDIA`).
pub const MAX_LINKS: usize = 64;

/// Where a setting was written: file and 1-based line.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Location {
    /// The file.
    pub file: PathBuf,
    /// The 1-based line.
    pub line: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file.display(), self.line)
    }
}

/// A value and the place it was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located<T> {
    /// The value.
    pub value: T,
    /// Where it was written.
    pub location: Location,
}

/// One heartbeat medium: how frames reach the peers.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Medium {
    /// UDP unicast to one peer (`ucast IFACE IPv4`, `ucast6 IFACE IPv6`).
    Ucast {
        /// Interface the socket is bound to.
        iface: String,
        /// The peer's address.
        peer: IpAddr,
        /// UDP port (ha.cf: the `udpport` in force at the first ucast line).
        port: u16,
    },
    /// UDP broadcast on an interface (`bcast IFACE`).
    Bcast {
        /// Interface.
        iface: String,
        /// UDP port (ha.cf: the `udpport` in force at the first bcast line).
        port: u16,
    },
    /// UDP multicast (`mcast IFACE GROUP PORT TTL LOOP`, `mcast6 …` for IPv6).
    Mcast {
        /// Interface.
        iface: String,
        /// Multicast group (224.0.0.0/4 or ff00::/8).
        group: IpAddr,
        /// UDP port.
        port: u16,
        /// TTL (IPv4) or hop limit (IPv6).
        ttl: u8,
        /// Whether our own frames loop back to us.
        loop_: bool,
    },
    /// Raw Ethernet frames on a (crossover) interface (`ether IFACE`; ours,
    /// heartbeat 3.0.6 has no such medium).
    Ether {
        /// Interface.
        iface: String,
    },
    /// A serial null-modem line (`serial TTY`).
    Serial {
        /// Device path.
        tty: PathBuf,
        /// Line speed (ha.cf: the `baud` in force at the first serial line).
        baud: u32,
    },
}

impl Medium {
    /// The medium's keyword as ha.cf writes it (`ucast6`/`mcast6` for IPv6).
    pub fn keyword(&self) -> &'static str {
        match self {
            Medium::Ucast { peer, .. } if peer.is_ipv6() => "ucast6",
            Medium::Ucast { .. } => "ucast",
            Medium::Bcast { .. } => "bcast",
            Medium::Mcast { group, .. } if group.is_ipv6() => "mcast6",
            Medium::Mcast { .. } => "mcast",
            Medium::Ether { .. } => "ether",
            Medium::Serial { .. } => "serial",
        }
    }

    /// The network interface, for every medium but serial.
    pub fn iface(&self) -> Option<&str> {
        match self {
            Medium::Ucast { iface, .. }
            | Medium::Bcast { iface, .. }
            | Medium::Mcast { iface, .. }
            | Medium::Ether { iface } => Some(iface),
            Medium::Serial { .. } => None,
        }
    }
}

/// The medium as an ha.cf line: `ucast eth0 198.18.0.2`, `bcast eth0`,
/// `mcast eth0 239.198.18.4 694 1 0`, `serial /dev/ttyS0`, `ether eth1`.
/// This is the path name shown by `ironbeat link watch`.
impl fmt::Display for Medium {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keyword = self.keyword();
        match self {
            Medium::Ucast { iface, peer, .. } => write!(f, "{keyword} {iface} {peer}"),
            Medium::Bcast { iface, .. } | Medium::Ether { iface } => write!(f, "{keyword} {iface}"),
            Medium::Mcast {
                iface,
                group,
                port,
                ttl,
                loop_,
            } => write!(
                f,
                "{keyword} {iface} {group} {port} {ttl} {}",
                u8::from(*loop_)
            ),
            Medium::Serial { tty, .. } => write!(f, "{keyword} {}", tty.display()),
        }
    }
}

/// A configured link: a medium and where it was configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// How frames travel.
    pub medium: Medium,
    /// The line that configured it.
    pub location: Location,
}

impl Link {
    /// The display name (the ha.cf line, see [`Medium`]'s `Display`).
    pub fn name(&self) -> String {
        self.medium.to_string()
    }
}

/// Whether nodes not listed in the configuration may join (`autojoin`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Autojoin {
    /// Only listed nodes (the default).
    #[default]
    None,
    /// Other nodes may join unlisted; this node must be listed.
    Other,
    /// Any node may join, this one included.
    Any,
}

impl Autojoin {
    /// Parses `none`, `other`, `any` (case-insensitive, as heartbeat does).
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "none" => Some(Autojoin::None),
            "other" => Some(Autojoin::Other),
            "any" => Some(Autojoin::Any),
            _ => None,
        }
    }

    /// The configuration spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Autojoin::None => "none",
            Autojoin::Other => "other",
            Autojoin::Any => "any",
        }
    }

    /// Whether authenticated nodes that are not listed are accepted.
    pub fn accepts_unlisted(self) -> bool {
        self != Autojoin::None
    }
}

/// The `[fence]` section: the devices that power nodes off.
///
/// Today a node has at most one device; fencing levels (try one device, then
/// the next) will extend this without changing how a device is written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Fencing {
    /// The `[[fence.device]]` tables, in file order; names are unique.
    pub devices: Vec<FenceDevice>,
    /// The `[[fence.level]]` tables (fencing topology), in file order.
    pub levels: Vec<FenceLevel>,
}

/// One `[[fence.level]]`: devices that must all succeed for one attempt at
/// fencing `node` (for example both PDU outlets of a dual-PSU server).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FenceLevel {
    /// The node.
    pub node: String,
    /// Device names, each fencing `node`.
    pub devices: Vec<String>,
    /// The line of its `node`.
    pub location: Location,
}

impl Fencing {
    /// The device that fences `node` (node names compare ignoring ASCII
    /// case, as cluster-glue's `stonith` lower-cases them).
    pub fn device_for(&self, node: &str) -> Option<&FenceDevice> {
        self.devices
            .iter()
            .find(|d| d.nodes.iter().any(|n| n.eq_ignore_ascii_case(node)))
    }

    /// The levels to try for `node`, in order, each a list of devices that
    /// must all succeed: its `[[fence.level]]`s, or its one device as the
    /// only level.
    pub fn levels_for(&self, node: &str) -> Vec<Vec<&FenceDevice>> {
        let named = |name: &String| self.devices.iter().find(|d| d.name == *name);
        let levels: Vec<Vec<&FenceDevice>> = self
            .levels
            .iter()
            .filter(|l| l.node.eq_ignore_ascii_case(node))
            .map(|l| l.devices.iter().filter_map(named).collect())
            .collect();
        if levels.is_empty() {
            self.device_for(node)
                .map(|d| vec![vec![d]])
                .unwrap_or_default()
        } else {
            levels
        }
    }

    /// Every node some device fences, in file order.
    pub fn fenced_nodes(&self) -> Vec<&str> {
        self.devices
            .iter()
            .flat_map(|d| d.nodes.iter().map(String::as_str))
            .collect()
    }
}

/// One `[[fence.device]]`: a named device and the nodes it powers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FenceDevice {
    /// Its unique name (letters, digits, `-`, `_`, `.`).
    pub name: String,
    /// The nodes it fences.
    pub nodes: Vec<String>,
    /// The device type and its settings.
    pub agent: FenceAgent,
    /// Waited before the device acts (`delay`; Pacemaker's
    /// `pcmk_delay_base`): in a two-node cluster, a longer delay on the
    /// device that fences one node makes that node the likely survivor.
    pub delay: Duration,
    /// The line of its `name`.
    pub location: Location,
}

/// A device type and its settings (`type = "…"`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FenceAgent {
    /// `ipmi`: a BMC over IPMI-over-LAN.
    Ipmi(IpmiDevice),
    /// `manual`: an operator fences by hand and confirms with `ironbeat
    /// fence confirm NODE` (cluster-glue's meatware).
    Manual,
    /// `fence-agent` / `external`: a fence-agents agent or a cluster-glue
    /// plugin, run by ironbeat.
    External(super::fence::external::ExternalDevice),
    /// `redfish`, `ilo`, `idrac`: a BMC over Redfish.
    Redfish(super::fence::redfish::RedfishDevice),
    /// `apc`: an APC switched PDU over SNMP.
    Apc(super::fence::apc::ApcDevice),
}

impl FenceAgent {
    /// The `type` as written in the configuration.
    pub fn type_name(&self) -> &'static str {
        match self {
            FenceAgent::Ipmi(_) => "ipmi",
            FenceAgent::Manual => "manual",
            FenceAgent::External(d) => match d.kind {
                ironbeat_fence::external::Kind::Agent => "fence-agent",
                ironbeat_fence::external::Kind::Plugin => "external",
            },
            FenceAgent::Redfish(d) => d.vendor.name(),
            FenceAgent::Apc(_) => "apc",
        }
    }
}

/// How to reach, log in to and command one BMC. The same settings whichever
/// front door they came through: the native file's `[[fence.device]]`, or
/// the parameters of cluster-glue's `stonith` (`-p`, ha.cf `stonith_host`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpmiDevice {
    /// The BMC's IP address or host name.
    pub address: String,
    /// Its UDP port (623 unless configured).
    pub port: u16,
    /// The BMC user (at most 16 bytes; may be empty for the anonymous user).
    pub username: String,
    /// Where the password comes from.
    pub password: PasswordSource,
    /// IPMI 1.5 or 2.0, and how to authenticate.
    pub interface: IpmiInterface,
    /// The session privilege.
    pub privilege: IpmiPrivilege,
    /// Whether cipher suite 0 (no authentication) was explicitly allowed.
    pub allow_cipher_zero: bool,
    /// The deadline of one request, every step included (the client's
    /// default, 20 s, when unset).
    pub timeout: Option<Duration>,
    /// Pause after a power state is seen, inside the deadline.
    pub power_wait: Duration,
    /// What `reset` / `reboot` does.
    pub method: RebootMethod,
}

/// Where a BMC password comes from. `Debug` never shows a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordSource {
    /// A file only its owner may read; the first line is the password. The
    /// only form the native file takes.
    File(PathBuf),
    /// The password itself: cluster-glue's `passwd=` (command lines, ha.cf).
    Inline(Secret),
}

/// IPMI 1.5 (`lan`) or IPMI 2.0 RMCP+ (`lanplus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpmiInterface {
    /// IPMI 1.5 sessions (ipmitool `-I lan`).
    Lan {
        /// The authentication type; `None`: the best the BMC offers (MD5,
        /// then straight password).
        auth: Option<IpmiAuth>,
    },
    /// IPMI 2.0 RMCP+ sessions (ipmitool `-I lanplus`).
    Lanplus {
        /// The cipher suite; `None`: try 17, then 3.
        cipher: Option<u8>,
    },
}

/// IPMI 1.5 authentication types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpmiAuth {
    /// No authentication code (the BMC must allow it).
    None,
    /// The password in clear in every packet.
    Password,
    /// MD5 of the session and the password.
    Md5,
}

impl IpmiAuth {
    /// `md5`, `password` (or cluster-glue's `straight`), `none`, any case.
    /// MD2 is refused (broken since 1997).
    pub fn parse(text: &str) -> Result<IpmiAuth, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "none" => Ok(IpmiAuth::None),
            "password" | "straight" => Ok(IpmiAuth::Password),
            "md5" => Ok(IpmiAuth::Md5),
            "md2" => {
                Err("authentication type md2 is not supported (MD2 is broken); use md5".into())
            }
            other => Err(format!(
                "authentication type `{other}` is unknown; use md5, password or none"
            )),
        }
    }
}

/// The session privilege to ask for; lower levels cannot control power.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpmiPrivilege {
    /// Operator: the least privilege that controls chassis power.
    Operator,
    /// Administrator (ipmitool's and fence_ipmilan's default).
    Administrator,
}

impl IpmiPrivilege {
    /// `operator`, `administrator` (or `admin`), any case.
    pub fn parse(text: &str) -> Result<IpmiPrivilege, String> {
        match text.trim().to_ascii_lowercase().as_str() {
            "operator" => Ok(IpmiPrivilege::Operator),
            "administrator" | "admin" => Ok(IpmiPrivilege::Administrator),
            "user" | "callback" => Err(format!(
                "privilege `{}` cannot control chassis power; use operator (least privilege \
                 that can) or administrator",
                text.trim()
            )),
            other => Err(format!(
                "privilege `{other}` is not an IPMI privilege level; use operator or administrator"
            )),
        }
    }
}

impl fmt::Display for IpmiPrivilege {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IpmiPrivilege::Operator => "operator",
            IpmiPrivilege::Administrator => "administrator",
        })
    }
}

/// What a reset (fence-agents: reboot) sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RebootMethod {
    /// Off, verify off, on (the default: the node is seen off).
    #[default]
    OnOff,
    /// One chassis power cycle (off is never observed).
    PowerCycle,
    /// One chassis hard reset (the node never loses power).
    HardReset,
}

impl RebootMethod {
    /// `onoff`, `cycle` (or cluster-glue's `power_cycle`), `hard_reset`.
    pub fn parse(text: &str) -> Result<RebootMethod, String> {
        match text.trim() {
            "onoff" => Ok(RebootMethod::OnOff),
            "cycle" | "power_cycle" => Ok(RebootMethod::PowerCycle),
            "hard_reset" => Ok(RebootMethod::HardReset),
            other => Err(format!(
                "method `{other}` is unknown; use onoff (off, verify off, on), cycle or hard_reset"
            )),
        }
    }

    /// The fence action of a reset.
    pub fn action(self) -> Action {
        match self {
            RebootMethod::OnOff => Action::Reboot,
            RebootMethod::PowerCycle => Action::Cycle,
            RebootMethod::HardReset => Action::Reset,
        }
    }
}

/// Everything the daemon needs, from either front door.
#[derive(Debug, Clone)]
pub struct Config {
    /// The file the configuration came from (ha.cf or ironbeat.toml).
    pub origin: PathBuf,
    /// Cluster name; frames of other clusters are dropped.
    pub cluster: String,
    /// All member names, this node included (unless `autojoin` lets it be absent).
    pub nodes: Vec<String>,
    /// This node's name (`uname -n` or `--node`).
    pub local_node: String,
    /// Liveness timers, validated.
    pub timing: Timing,
    /// The cluster's UDP port (ha.cf `udpport`, last value; native `udp_port`).
    pub udp_port: u16,
    /// The links, in configuration order; link `i` is `PathId(i)`.
    pub links: Vec<Link>,
    /// The authkeys file the keys came from.
    pub authkeys: PathBuf,
    /// The keys.
    pub keys: KeyRing,
    /// Whether CRC "keys" were allowed.
    pub allow_insecure_crc: bool,
    /// Whether unlisted nodes may join.
    pub autojoin: Autojoin,
    /// ha.cf directives beyond the link layer, for later stages (for
    /// native configs only the logging ones, from `[log]`).
    pub heartbeat: HeartbeatOptions,
    /// The native file's `[fence]` section (empty for ha.cf, whose
    /// `stonith_host` lines stay in [`HeartbeatOptions::stonith_hosts`]).
    pub fencing: Fencing,
}

impl Config {
    /// The other nodes: [`Config::nodes`] without this one.
    pub fn peers(&self) -> Vec<String> {
        self.nodes
            .iter()
            .filter(|n| **n != self.local_node)
            .cloned()
            .collect()
    }

    /// The cluster's wire id.
    pub fn cluster_id(&self) -> ClusterId {
        ClusterId::from_name(&self.cluster)
    }

    /// This node's wire id.
    pub fn node_id(&self) -> NodeId {
        NodeId::from_name(&self.local_node)
    }

    /// One path id per link, in order (`links[i]` is `PathId(i)`).
    pub fn path_ids(&self) -> Vec<PathId> {
        // MAX_LINKS (64) < 256, enforced by both front doors, so the cast is exact.
        (0..self.links.len().min(MAX_LINKS))
            .map(|i| PathId(i as u8))
            .collect()
    }

    /// The link behind a path id.
    pub fn link(&self, path: PathId) -> Option<&Link> {
        self.links.get(usize::from(path.0))
    }

    /// Refuses a serial link whose line cannot carry the heartbeat rate with
    /// room to spare (half the line is kept for channel messages and
    /// retransmits). A real UART at 9600 baud moves 960 bytes/s; heartbeat's
    /// 200-byte text frames at a 100 ms keepalive saturated such lines, and
    /// frames then wait seconds in the tty buffer: liveness lies.
    pub fn check_serial_budget(&self) -> Result<(), ConfigError> {
        use ironbeat_link::wire::frame::{payload, HEADER_LEN};
        let name_len = self.nodes.iter().map(String::len).max().unwrap_or(0);
        let tag_len = self.keys.active().algorithm().tag_len();
        // Header, name, heartbeat payload, tag; then serial framing: 2 flags,
        // CRC-32, and about 1 byte in 64 escaped.
        let frame = HEADER_LEN + name_len + payload::Heartbeat::LEN + tag_len;
        let on_line = (frame + 6) as f64 * (1.0 + 1.0 / 64.0);
        let per_second = 1.0 / self.timing.keepalive.as_secs_f64();
        for link in &self.links {
            let Medium::Serial { baud, .. } = &link.medium else {
                continue;
            };
            // 8N1: ten bit times per byte.
            let capacity = f64::from(*baud) / 10.0;
            let share = on_line * per_second / capacity;
            if share > 0.5 {
                let min_keepalive_ms = (on_line / (capacity * 0.5) * 1000.0).ceil();
                let min_baud = super::values::STANDARD_BAUDS
                    .iter()
                    .copied()
                    .find(|b| on_line * per_second / (f64::from(*b) / 10.0) <= 0.5);
                let faster = match min_baud {
                    Some(b) => format!(" or baud to {b}"),
                    None => String::new(),
                };
                return Err(ConfigError::at(
                    &link.location,
                    format!(
                        "`{}` at {baud} baud cannot carry a heartbeat every {} ms: each frame \
                         is about {} bytes on the line, so heartbeats alone would take {:.0} % \
                         of it (at most 50 %, the rest is for messages and retransmits); raise \
                         keepalive to at least {min_keepalive_ms} ms{faster}",
                        link.name(),
                        self.timing.keepalive.as_millis(),
                        on_line.round(),
                        share * 100.0,
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// Applies heartbeat 3.0.6's defaults to the timers not written
/// (`init_config()` in heartbeat's config.c): keepalive 1 s, deadtime 30 s,
/// warntime = deadtime / 2, initdead = deadtime if deadtime > 10 s, else 12 s
/// if deadtime < 6 s, else 2 × deadtime.
pub fn heartbeat_timing(
    keepalive: Option<Duration>,
    warntime: Option<Duration>,
    deadtime: Option<Duration>,
    initdead: Option<Duration>,
) -> Timing {
    let keepalive = keepalive.unwrap_or(Duration::from_secs(1));
    let deadtime = deadtime.unwrap_or(Duration::from_secs(30));
    let warntime = warntime.unwrap_or(deadtime / 2);
    let initdead = initdead.unwrap_or(if deadtime > Duration::from_secs(10) {
        deadtime
    } else if deadtime < Duration::from_secs(6) {
        Duration::from_secs(12)
    } else {
        deadtime * 2
    });
    Timing {
        keepalive,
        warntime,
        deadtime,
        initdead,
    }
}

/// One of the four timers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimingField {
    Keepalive,
    Warntime,
    Deadtime,
    Initdead,
}

impl TimingField {
    /// The directive / key name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            TimingField::Keepalive => "keepalive",
            TimingField::Warntime => "warntime",
            TimingField::Deadtime => "deadtime",
            TimingField::Initdead => "initdead",
        }
    }

    /// heartbeat's default, in words.
    pub(crate) fn default_text(self) -> &'static str {
        match self {
            TimingField::Keepalive => "1s",
            TimingField::Warntime => "deadtime/2",
            TimingField::Deadtime => "30s",
            TimingField::Initdead => "deadtime, at least 12s below 6s",
        }
    }
}

/// Appends to a `Timing::validate` message which of the blamed timers were
/// not written (their defaults applied), so the operator knows what to add.
pub(crate) fn timing_message(
    error: &ironbeat_link::Error,
    blamed: &[TimingField],
    written: impl Fn(TimingField) -> bool,
) -> String {
    let defaulted: Vec<String> = blamed
        .iter()
        .filter(|f| !written(**f))
        .map(|f| {
            format!(
                "{} is not set, so heartbeat's default ({}) applies",
                f.name(),
                f.default_text()
            )
        })
        .collect();
    if defaulted.is_empty() {
        error.to_string()
    } else {
        format!("{error} ({})", defaulted.join("; "))
    }
}

/// Which timers to blame when `Timing::validate` fails, most likely first
/// (re-evaluates its rules in the same order).
pub(crate) fn timing_blame(t: &Timing) -> &'static [TimingField] {
    use TimingField::*;
    if t.keepalive.is_zero() {
        &[Keepalive]
    } else if t.deadtime <= t.keepalive * 2 {
        &[Deadtime, Keepalive]
    } else if t.warntime >= t.deadtime {
        &[Warntime, Deadtime]
    } else if t.warntime < t.keepalive {
        &[Warntime, Keepalive]
    } else if t.initdead < t.deadtime {
        &[Initdead, Deadtime]
    } else {
        &[Deadtime, Keepalive, Warntime, Initdead]
    }
}

/// `auto_failback` (deprecated in heartbeat, kept for haresources clusters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AutoFailback {
    /// Resources move back to their preferred node when it returns.
    On,
    /// Resources stay where they are.
    Off,
    /// heartbeat's pre-1.2 behaviour (warns at start).
    Legacy,
}

/// `pacemaker` / `crm`: whether heartbeat spawned a CRM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pacemaker {
    /// `off`/`no`: heartbeat v1 resource management (haresources).
    Off,
    /// `on`/`yes`.
    On,
    /// `respawn`.
    Respawn,
    /// `minimal` or `manual`.
    Minimal,
    /// `ccm-only`.
    CcmOnly,
    /// `valgrind`.
    Valgrind,
}

/// `hbgenmethod`: how heartbeat derived its generation number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GenerationMethod {
    /// Stored in a file (default).
    File,
    /// From the clock.
    Time,
}

/// `uuidfrom`: where heartbeat took a node's uuid from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UuidFrom {
    /// Generated and stored in a file (default).
    File,
    /// The node name.
    Nodename,
}

/// `msgfmt`: heartbeat's wire format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageFormat {
    /// Text `name=value` lines (default).
    Classic,
    /// Netstrings.
    Netstring,
}

/// `compression`: heartbeat's compression plugin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// zlib.
    Zlib,
    /// bzip2.
    Bz2,
}

/// `logfacility`: a syslog facility, or `none`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogFacility {
    /// Do not log to syslog.
    None,
    /// A facility name (`daemon`, `local0` …), lower-case.
    Syslog(String),
}

/// The least severe message written (native `[log] level`; ha.cf has no
/// such directive: `debug N` with N > 0 means `Debug`, otherwise `Info`).
/// Ordered from most to least severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LogLevel {
    /// Something failed (syslog `err`).
    Error,
    /// Something may fail (syslog `warning`).
    Warning,
    /// A significant normal event: membership, failover (syslog `notice`).
    Notice,
    /// Routine events (syslog `info`).
    Info,
    /// Details for developers (syslog `debug`; only to `debugfile`, never
    /// to `logfile`).
    Debug,
}

/// A `ping`/`ping6` node: a router whose reachability counts as a pseudo-member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PingNode {
    /// Address or host name.
    pub host: String,
    /// Whether it was a `ping6` line.
    pub ipv6: bool,
}

/// A `ping_group`: reachable if any of its hosts is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PingGroup {
    /// The group's pseudo-node name.
    pub name: String,
    /// Its hosts.
    pub hosts: Vec<String>,
}

/// A `respawn` or `failfast` child: a program heartbeat ran and restarted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientChild {
    /// User to run as.
    pub user: String,
    /// Absolute program path.
    pub path: PathBuf,
    /// The whole command line (program and arguments).
    pub command: String,
    /// `failfast`: reboot the node if the child dies.
    pub failfast: bool,
}

/// An `apiauth` line: who may use an API group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiAuth {
    /// API group (client) name; `default` covers the rest.
    pub client: String,
    /// Allowed users.
    pub uids: Vec<String>,
    /// Allowed groups.
    pub gids: Vec<String>,
}

/// `stonith TYPE CONFIGFILE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stonith {
    /// cluster-glue plugin type (`baytech`, `external/ipmi` …).
    pub kind: String,
    /// Its configuration file.
    pub config_file: PathBuf,
}

/// `stonith_host FROM TYPE PARAMS…`. Parameters may hold passwords, so
/// `Debug` hides them.
#[derive(Clone, PartialEq, Eq)]
pub struct StonithHost {
    /// The node that can reach the device, or `*` for any.
    pub from: String,
    /// cluster-glue plugin type.
    pub kind: String,
    /// The plugin's parameters, as written.
    pub params: String,
}

impl fmt::Debug for StonithHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StonithHost")
            .field("from", &self.from)
            .field("kind", &self.kind)
            .field("params", &"<redacted>")
            .finish()
    }
}

/// An `env NAME=VALUE` for respawned children (heartbeat prefixed `HA_`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvVar {
    /// Name as written (without heartbeat's `HA_` prefix).
    pub name: String,
    /// Value.
    pub value: String,
}

/// The ha.cf directives beyond the link layer, typed and located, kept for the
/// stages that use them (resource management, logging, fencing, watchdog).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct HeartbeatOptions {
    /// `auto_failback` (or the obsolete `nice_failback`).
    pub auto_failback: Option<Located<AutoFailback>>,
    /// `ping`/`ping6` nodes.
    pub ping: Vec<Located<PingNode>>,
    /// `ping_group`s.
    pub ping_groups: Vec<Located<PingGroup>>,
    /// `deadping`: deadtime of ping nodes.
    pub deadping: Option<Located<Duration>>,
    /// `respawn` and `failfast` children.
    pub children: Vec<Located<ClientChild>>,
    /// `apiauth` lines.
    pub apiauth: Vec<Located<ApiAuth>>,
    /// `pacemaker` or its alias `crm`.
    pub pacemaker: Option<Located<Pacemaker>>,
    /// `crm_daemon_dir`.
    pub crm_daemon_dir: Option<Located<PathBuf>>,
    /// `crmd_spawns_pengine`.
    pub crmd_spawns_pengine: Option<Located<bool>>,
    /// `stonith`.
    pub stonith: Option<Located<Stonith>>,
    /// `stonith_host` lines.
    pub stonith_hosts: Vec<Located<StonithHost>>,
    /// `watchdog` device.
    pub watchdog: Option<Located<PathBuf>>,
    /// The watchdog timeout (native `[watchdog] timeout`; ha.cf has none).
    pub watchdog_timeout: Option<Located<Duration>>,
    /// How long a peer waits before it takes a silent node for self-fenced
    /// (native `[watchdog] stonith_watchdog_timeout`; default twice the timeout).
    pub stonith_watchdog_timeout: Option<Located<Duration>>,
    /// `logfile`.
    pub logfile: Option<Located<PathBuf>>,
    /// `debugfile`.
    pub debugfile: Option<Located<PathBuf>>,
    /// `logfacility`.
    pub logfacility: Option<Located<LogFacility>>,
    /// The native file's `[log] level` (ha.cf has none; `debug` decides).
    pub log_level: Option<Located<LogLevel>>,
    /// `use_logd`.
    pub use_logd: Option<Located<bool>>,
    /// `conn_logd_time`.
    pub conn_logd_time: Option<Located<Duration>>,
    /// `syslogmsgfmt`: log files in syslog format.
    pub syslogmsgfmt: Option<Located<bool>>,
    /// `log_badpack`: warn about bad packets.
    pub log_badpack: Option<Located<bool>>,
    /// `use_apphbd`: register with apphbd.
    pub use_apphbd: Option<Located<bool>>,
    /// `debug` level 0–255.
    pub debug: Option<Located<u8>>,
    /// `realtime` (native `[cluster] realtime`).
    pub realtime: Option<Located<bool>>,
    /// ironbeat's `priority_fencing_delay` (native `[cluster]
    /// priority_fencing_delay`): how long the side of a two-node split that
    /// runs no services waits before fencing.
    pub priority_fencing_delay: Option<Located<Duration>>,
    /// `rtprio` (SCHED_FIFO priority 1–99).
    pub rtprio: Option<Located<u8>>,
    /// `hopfudge`.
    pub hopfudge: Option<Located<u8>>,
    /// `hbgenmethod`.
    pub hbgenmethod: Option<Located<GenerationMethod>>,
    /// `uuidfrom`.
    pub uuidfrom: Option<Located<UuidFrom>>,
    /// `msgfmt`.
    pub msgfmt: Option<Located<MessageFormat>>,
    /// `compression`.
    pub compression: Option<Located<Compression>>,
    /// `compression_threshold` in KiB.
    pub compression_threshold: Option<Located<u32>>,
    /// `traditional_compression`.
    pub traditional_compression: Option<Located<bool>>,
    /// `max_rexmit_delay`.
    pub max_rexmit_delay: Option<Located<Duration>>,
    /// `env` lines.
    pub env: Vec<Located<EnvVar>>,
    /// `coredumps`.
    pub coredumps: Option<Located<bool>>,
    /// `coreroot`.
    pub coreroot: Option<Located<PathBuf>>,
    /// `record_config_changes`.
    pub record_config_changes: Option<Located<bool>>,
    /// `record_pengine_inputs`.
    pub record_pengine_inputs: Option<Located<bool>>,
    /// `enable_config_writes`.
    pub enable_config_writes: Option<Located<bool>>,
    /// `memreserve` in KiB.
    pub memreserve: Option<Located<u32>>,
    /// `quorum_server`.
    pub quorum_server: Option<Located<String>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_display_as_hacf_lines() {
        let ucast = Medium::Ucast {
            iface: "eth0".into(),
            peer: "198.18.0.2".parse().unwrap(),
            port: 694,
        };
        assert_eq!(ucast.to_string(), "ucast eth0 198.18.0.2");
        let ucast6 = Medium::Ucast {
            iface: "eth1".into(),
            peer: "fe80::1".parse().unwrap(),
            port: 694,
        };
        assert_eq!(ucast6.to_string(), "ucast6 eth1 fe80::1");
        let mcast = Medium::Mcast {
            iface: "eth0".into(),
            group: "239.198.18.4".parse().unwrap(),
            port: 694,
            ttl: 1,
            loop_: false,
        };
        assert_eq!(mcast.to_string(), "mcast eth0 239.198.18.4 694 1 0");
        let bcast = Medium::Bcast {
            iface: "eth0".into(),
            port: 694,
        };
        assert_eq!(bcast.to_string(), "bcast eth0");
        let serial = Medium::Serial {
            tty: "/dev/ttyS0".into(),
            baud: 19200,
        };
        assert_eq!(serial.to_string(), "serial /dev/ttyS0");
        assert_eq!(serial.iface(), None);
        let ether = Medium::Ether {
            iface: "eth1".into(),
        };
        assert_eq!(ether.to_string(), "ether eth1");
        assert_eq!(ether.iface(), Some("eth1"));
    }

    #[test]
    fn heartbeat_timing_defaults() {
        let s = Duration::from_secs;
        let ms = Duration::from_millis;
        let t = heartbeat_timing(None, None, None, None);
        assert_eq!(
            (t.keepalive, t.warntime, t.deadtime, t.initdead),
            (s(1), s(15), s(30), s(30))
        );
        let t = heartbeat_timing(Some(ms(100)), None, Some(ms(500)), None);
        assert_eq!((t.warntime, t.initdead), (ms(250), s(12)));
        let t = heartbeat_timing(None, None, Some(s(8)), None);
        assert_eq!(t.initdead, s(16));
        let t = heartbeat_timing(None, None, Some(s(10)), None);
        assert_eq!(t.initdead, s(20));
        assert!(heartbeat_timing(None, None, None, None).validate().is_ok());
    }

    #[test]
    fn blame_follows_validate_order() {
        let ms = Duration::from_millis;
        let t = |k, w, d, i| Timing {
            keepalive: ms(k),
            warntime: ms(w),
            deadtime: ms(d),
            initdead: ms(i),
        };
        assert_eq!(timing_blame(&t(0, 1, 2, 3))[0], TimingField::Keepalive);
        assert_eq!(
            timing_blame(&t(100, 150, 200, 1000))[0],
            TimingField::Deadtime
        );
        assert_eq!(
            timing_blame(&t(100, 600, 500, 1000))[0],
            TimingField::Warntime
        );
        assert_eq!(
            timing_blame(&t(100, 50, 500, 1000))[0],
            TimingField::Warntime
        );
        assert_eq!(
            timing_blame(&t(100, 300, 500, 400))[0],
            TimingField::Initdead
        );
    }

    #[test]
    fn stonith_host_debug_hides_params() {
        let h = StonithHost {
            from: "*".into(),
            kind: "baytech".into(),
            params: "10.0.0.3 mylogin mysecretpassword".into(),
        };
        let debug = format!("{h:?}");
        assert!(!debug.contains("mysecretpassword"), "{debug}");
    }
}
