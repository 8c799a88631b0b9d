//! The native front door: `/etc/ironbeat/ironbeat.toml`.
//!
//! Parsed in three steps ("parse, don't validate"): TOML text → raw tables
//! with byte spans (`toml::Spanned`, unknown keys refused by serde) → the typed
//! [`Config`], every rule checked and every error located at `FILE:LINE`.
//! The schema is documented in `docs/config.md`:
//!
//! ```toml
//! [cluster]
//! name = "prod"                       # default "linux-ha"
//! nodes = ["node1", "node2"]
//! authkeys = "/etc/ironbeat/authkeys" # default: `authkeys` beside this file
//! allow_insecure_crc = false
//! autojoin = "none"                   # none | other | any
//! udp_port = 694                      # default port of UDP links
//! priority_fencing_delay = "10s"      # two-node split: the side without services waits
//! realtime = true                     # mlockall + SCHED_RR, as ha.cf's realtime
//!
//! [timing]                            # durations with units; heartbeat's defaults
//! keepalive = "20ms"
//! warntime = "60ms"
//! deadtime = "100ms"
//! initdead = "10s"
//! deadping = "100ms"                  # ping nodes: silence before down; default deadtime
//!
//! [[link]]
//! kind = "ucast"                      # ucast | bcast | mcast | ether | serial
//! iface = "eth0"
//! peer = "198.18.0.2"
//!
//! [[ping]]                            # optional: ha.cf ping / ping6 / ping_group
//! hosts = ["198.18.0.254"]            # one target, up while any host answers
//! name = "gateway"                    # required with several hosts (a group)
//!
//! [[fence.device]]                    # optional; see the `fence` module
//! name = "node2-bmc"
//! type = "ipmi"
//! nodes = ["node2"]
//! ip = "198.18.1.2"
//! username = "admin"
//! password_file = "/etc/ironbeat/node2-bmc.pass"
//!
//! [[resource]]                        # optional; see the `resources` module
//! id = "vip"
//! agent = "ocf:heartbeat:IPaddr2"
//! params = { ip = "198.18.0.10" }
//!
//! [log]                               # optional; ha.cf's logfacility/logfile/debugfile
//! facility = "daemon"                 # a syslog facility, or "none" (the default)
//! file = "/var/log/ironbeat.log"      # everything but debug messages
//! debug_file = "/var/log/ironbeat-debug.log"   # everything
//! level = "info"                      # error | warning | notice | info | debug
//! ```
//!
//! The resource tables (`[resource_defaults]`, `[[resource]]`,
//! `[[group]]`, `[[clone]]`, `[[location]]`, `[[colocation]]`,
//! `[[order]]`) and the policy keys of `[cluster]` are checked and compiled
//! into the CRM model by [`super::resources`] while the file is parsed, so
//! every loader reports their errors.

use std::net::{IpAddr, Ipv4Addr};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::error::ConfigError;
use super::fence::{self, Files, RawFence};
use super::hacf::{fmt_duration, FACILITIES};
use super::hadir::{read_authkeys, read_text};
use super::model::{
    heartbeat_timing, timing_blame, timing_message, Autojoin, Config, Fencing, HeartbeatOptions,
    Link, Located, Location, LogFacility, LogLevel, Medium, PingGroup, PingNode, TimingField,
    DEFAULT_BAUD, DEFAULT_CLUSTER_NAME, DEFAULT_UDP_PORT, MAX_LINKS,
};
use super::resources::{
    self, NativeCrm, RawClone, RawColocation, RawDefaults, RawGroup, RawLocation, RawOrder,
    RawPolicy, RawResource, RawSections,
};
use super::to_crm::fence_primitive_id;
use super::values::{
    check_baud, check_iface, check_mcast_group, check_node_name, check_tty, line_of, nearest,
};

/// Where the native configuration lives unless a command is told otherwise.
pub const DEFAULT_NATIVE_CONFIG: &str = "/etc/ironbeat/ironbeat.toml";

/// The link kinds and the keys each accepts besides `kind`.
const LINK_KINDS: &[(&str, &[&str])] = &[
    ("ucast", &["iface", "peer", "port"]),
    ("bcast", &["iface", "port"]),
    ("mcast", &["iface", "group", "port", "ttl", "loop"]),
    ("ether", &["iface"]),
    ("serial", &["tty", "baud"]),
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    cluster: Option<Spanned<RawCluster>>,
    timing: Option<RawTiming>,
    #[serde(default)]
    link: Vec<Spanned<RawLink>>,
    #[serde(default)]
    ping: Vec<Spanned<RawPing>>,
    fence: Option<RawFence>,
    resource_defaults: Option<Spanned<RawDefaults>>,
    #[serde(default)]
    resource: Vec<Spanned<RawResource>>,
    #[serde(default)]
    group: Vec<Spanned<RawGroup>>,
    #[serde(default)]
    clone: Vec<Spanned<RawClone>>,
    #[serde(default)]
    location: Vec<Spanned<RawLocation>>,
    #[serde(default)]
    colocation: Vec<Spanned<RawColocation>>,
    #[serde(default)]
    order: Vec<Spanned<RawOrder>>,
    log: Option<RawLog>,
    watchdog: Option<Spanned<super::watchdog::RawWatchdog>>,
}

/// `[log]`: where the daemon logs (ha.cf's `logfacility`, `logfile`,
/// `debugfile`) and from which level.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLog {
    facility: Option<Spanned<String>>,
    file: Option<Spanned<String>>,
    debug_file: Option<Spanned<String>>,
    level: Option<Spanned<String>>,
}

/// The `[log] level` names, most severe first.
const LOG_LEVELS: &[(&str, LogLevel)] = &[
    ("error", LogLevel::Error),
    ("warning", LogLevel::Warning),
    ("notice", LogLevel::Notice),
    ("info", LogLevel::Info),
    ("debug", LogLevel::Debug),
];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCluster {
    name: Option<Spanned<String>>,
    nodes: Option<Spanned<Vec<Spanned<String>>>>,
    authkeys: Option<Spanned<String>>,
    allow_insecure_crc: Option<bool>,
    autojoin: Option<Spanned<String>>,
    udp_port: Option<Spanned<i64>>,
    stonith_enabled: Option<Spanned<bool>>,
    stonith_action: Option<Spanned<String>>,
    no_quorum_policy: Option<Spanned<String>>,
    symmetric_cluster: Option<Spanned<bool>>,
    start_failure_is_fatal: Option<Spanned<bool>>,
    maintenance_mode: Option<Spanned<bool>>,
    priority_fencing_delay: Option<Spanned<String>>,
    realtime: Option<Spanned<bool>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTiming {
    keepalive: Option<Spanned<String>>,
    warntime: Option<Spanned<String>>,
    deadtime: Option<Spanned<String>>,
    initdead: Option<Spanned<String>>,
    deadping: Option<Spanned<String>>,
}

/// `[[ping]]`: one ping target (ha.cf `ping`, `ping6`, `ping_group`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPing {
    hosts: Option<Spanned<Vec<Spanned<String>>>>,
    name: Option<Spanned<String>>,
}

/// The most `[[ping]]` tables, and hosts in one.
const MAX_PING: usize = 64;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLink {
    kind: Option<Spanned<String>>,
    iface: Option<Spanned<String>>,
    peer: Option<Spanned<String>>,
    group: Option<Spanned<String>>,
    port: Option<Spanned<i64>>,
    ttl: Option<Spanned<i64>>,
    #[serde(rename = "loop")]
    loop_: Option<Spanned<bool>>,
    tty: Option<Spanned<String>>,
    baud: Option<Spanned<i64>>,
}

/// Loads a native configuration file for `local_node` (`uname -n` or
/// `--node`), including its authkeys file and a check of every fence
/// device's password file.
pub fn load_native(path: &Path, local_node: &str) -> Result<Config, ConfigError> {
    let text = read_native(path)?;
    let native = parse_native(&text, path, Some(local_node), Files::Check)?;
    let keys = read_authkeys(&native.authkeys, native.allow_insecure_crc)?;
    let config = Config {
        origin: path.to_path_buf(),
        cluster: native.cluster,
        nodes: native.nodes,
        local_node: native.local_node,
        timing: native.timing,
        udp_port: native.udp_port,
        links: native.links,
        authkeys: native.authkeys,
        keys,
        allow_insecure_crc: native.allow_insecure_crc,
        autojoin: native.autojoin,
        heartbeat: native.heartbeat,
        fencing: native.fencing,
    };
    config.check_serial_budget()?;
    Ok(config)
}

/// Loads only what fencing needs from a native file: the whole file is
/// checked as [`load_native`] checks it, and every password file, but the
/// authkeys file is not read and this node need not be a member (fencing may
/// be run from any machine that can reach the BMCs).
pub fn load_fencing(path: &Path) -> Result<Fencing, ConfigError> {
    let text = read_native(path)?;
    Ok(parse_native(&text, path, None, Files::Check)?.fencing)
}

fn read_native(path: &Path) -> Result<String, ConfigError> {
    read_text(path, "the configuration", || {
        "write one (docs/config.md shows a complete example), or pass --ha-d to use a \
         heartbeat /etc/ha.d directory"
            .to_string()
    })
}

/// A checked native file, before its keys are read.
pub(super) struct Native {
    cluster: String,
    nodes: Vec<String>,
    local_node: String,
    timing: ironbeat_link::Timing,
    udp_port: u16,
    links: Vec<Link>,
    authkeys: PathBuf,
    allow_insecure_crc: bool,
    autojoin: Autojoin,
    /// What ha.cf's directives beyond the link layer would fill: `[log]`,
    /// `[[ping]]`, `deadping` and the `[cluster]` daemon keys.
    heartbeat: HeartbeatOptions,
    /// `[fence]`.
    pub(super) fencing: Fencing,
    /// The CRM model: members, policy, fence devices, resources and
    /// constraints.
    pub(super) crm: NativeCrm,
}

/// Spans to lines for one file.
pub(super) struct Source<'a> {
    text: &'a str,
    /// The file, as errors name it.
    pub(super) path: &'a Path,
}

impl Source<'_> {
    /// The file and line of a byte span.
    pub(super) fn location(&self, span: &Range<usize>) -> Location {
        Location {
            file: self.path.to_path_buf(),
            line: line_of(self.text, span.start),
        }
    }

    /// An error at the line of a byte span.
    pub(super) fn error(&self, span: &Range<usize>, message: impl Into<String>) -> ConfigError {
        ConfigError::at(&self.location(span), message)
    }
}

/// Checks the text of a native file as [`load_native`] would, except that the
/// files it names (authkeys, password files) are not read (for `config check`
/// of a file being written, and for fuzzing). `origin` names the file in errors.
pub fn validate_native(text: &str, origin: &Path, local_node: &str) -> Result<(), ConfigError> {
    parse_native(text, origin, Some(local_node), Files::Skip).map(|_| ())
}

/// Parses and checks a native file. Without `local_node`, this node's
/// membership is not checked (nor added under `autojoin = "any"`).
pub(super) fn parse_native(
    text: &str,
    path: &Path,
    local_node: Option<&str>,
    files: Files,
) -> Result<Native, ConfigError> {
    let src = Source { text, path };
    let raw: RawFile = toml::from_str(text).map_err(|e| toml_error(&src, &e))?;

    let Some(cluster) = raw.cluster else {
        return Err(ConfigError::in_file(
            path,
            "no [cluster] table; add one with `nodes = [\"node1\", \"node2\"]` (docs/config.md)",
        ));
    };
    let cluster_span = cluster.span();
    let cluster = cluster.into_inner();

    let name = match cluster.name {
        Some(n) => {
            let value = n.get_ref();
            if value.is_empty() || value.len() > 255 || value.chars().any(char::is_control) {
                return Err(src.error(
                    &n.span(),
                    "the cluster name must be 1 to 255 printable characters",
                ));
            }
            value.clone()
        }
        None => DEFAULT_CLUSTER_NAME.to_string(),
    };

    let autojoin = match &cluster.autojoin {
        Some(a) => Autojoin::parse(a.get_ref()).ok_or_else(|| {
            src.error(
                &a.span(),
                format!(
                    "autojoin {:?} must be \"none\", \"other\" or \"any\"",
                    a.get_ref()
                ),
            )
        })?,
        None => Autojoin::None,
    };

    let udp_port = match &cluster.udp_port {
        Some(p) => port(&src, p)?,
        None => DEFAULT_UDP_PORT,
    };

    if let Some(local_node) = local_node {
        check_node_name(local_node).map_err(|m| {
            ConfigError::in_file(path, format!("this node's name: {m}; pass --node NAME"))
        })?;
    }
    let mut nodes: Vec<String> = Vec::new();
    match &cluster.nodes {
        Some(list) => {
            for node in list.get_ref() {
                let value = node.get_ref();
                check_node_name(value).map_err(|m| src.error(&node.span(), m))?;
                if nodes.contains(value) {
                    return Err(src.error(
                        &node.span(),
                        format!("node {value:?} is listed twice; list each node once"),
                    ));
                }
                nodes.push(value.clone());
            }
            if nodes.is_empty() && autojoin != Autojoin::Any {
                return Err(src.error(
                    &list.span(),
                    "`nodes` is empty; list every member as `uname -n` prints it",
                ));
            }
        }
        None if autojoin == Autojoin::Any => {}
        None => {
            return Err(src.error(
                &cluster_span,
                format!(
                    "[cluster] has no `nodes`; add `nodes = [\"{}\", \"OTHER-NODE\"]` \
                     with every member as `uname -n` prints it",
                    local_node.unwrap_or("node1")
                ),
            ))
        }
    }
    if let Some(local_node) = local_node.filter(|l| !nodes.iter().any(|n| n == l)) {
        if autojoin == Autojoin::Any {
            nodes.push(local_node.to_string());
        } else {
            let span = cluster
                .nodes
                .as_ref()
                .map_or(cluster_span.clone(), |n| n.span());
            return Err(src.error(
                &span,
                format!(
                    "this node {local_node:?} is not in `nodes`; add it, or pass --node NAME if \
                     `uname -n` is not this machine's cluster name (names are case-sensitive)"
                ),
            ));
        }
    }

    let timing = timing(&src, raw.timing.as_ref(), &cluster_span)?;
    let mut heartbeat = logging(&src, raw.log.as_ref())?;
    ping(
        &src,
        &raw.ping,
        raw.timing.as_ref(),
        &timing,
        &mut heartbeat,
    )?;
    if let Some(delay) = &cluster.priority_fencing_delay {
        heartbeat.priority_fencing_delay = Some(Located {
            value: duration(&src, "priority_fencing_delay", delay)?,
            location: src.location(&delay.span()),
        });
    }
    if let Some(realtime) = &cluster.realtime {
        heartbeat.realtime = Some(Located {
            value: *realtime.get_ref(),
            location: src.location(&realtime.span()),
        });
    }
    if let Some(watchdog) = &raw.watchdog {
        super::watchdog::native(&src, watchdog, &mut heartbeat)?;
    }

    if raw.link.is_empty() {
        return Err(ConfigError::in_file(
            path,
            "no [[link]]; add at least one, e.g. `[[link]]` `kind = \"ucast\"` `iface = \"eth0\"` \
             `peer = \"198.18.0.2\"` (two independent links are better than one)",
        ));
    }
    let mut links: Vec<Link> = Vec::new();
    for raw_link in &raw.link {
        let link = link(&src, raw_link, udp_port)?;
        if let Some(prev) = links.iter().find(|l| l.medium == link.medium) {
            return Err(ConfigError::at(
                &link.location,
                format!(
                    "this link (`{}`) repeats the one at line {}; list each link once",
                    link.medium, prev.location.line
                ),
            ));
        }
        if links.len() >= MAX_LINKS {
            return Err(ConfigError::at(
                &link.location,
                format!("more than {MAX_LINKS} links; remove some"),
            ));
        }
        links.push(link);
    }

    let authkeys = match &cluster.authkeys {
        Some(a) => {
            let p = PathBuf::from(a.get_ref());
            if a.get_ref().is_empty() {
                return Err(src.error(&a.span(), "`authkeys` is empty; give the keys file's path"));
            }
            if p.is_absolute() {
                p
            } else {
                path.parent().unwrap_or(Path::new(".")).join(p)
            }
        }
        None => path.parent().unwrap_or(Path::new(".")).join("authkeys"),
    };

    let fencing = fence::fencing(
        &src,
        raw.fence.as_ref(),
        &fence::Cluster {
            members: &nodes,
            autojoin,
        },
        files,
    )?;

    let fence_devices: Vec<(String, Location)> = fencing
        .devices
        .iter()
        .map(|d| (fence_primitive_id(&d.name), d.location.clone()))
        .collect();
    let crm = resources::compile(
        &src,
        &RawSections {
            defaults: raw.resource_defaults.as_ref(),
            resources: &raw.resource,
            groups: &raw.group,
            clones: &raw.clone,
            locations: &raw.location,
            colocations: &raw.colocation,
            orders: &raw.order,
        },
        &RawPolicy {
            stonith_enabled: cluster.stonith_enabled.as_ref(),
            stonith_action: cluster.stonith_action.as_ref(),
            no_quorum_policy: cluster.no_quorum_policy.as_ref(),
            symmetric_cluster: cluster.symmetric_cluster.as_ref(),
            start_failure_is_fatal: cluster.start_failure_is_fatal.as_ref(),
            maintenance_mode: cluster.maintenance_mode.as_ref(),
        },
        &resources::Members {
            name: &name,
            nodes: &nodes,
            fence_devices: &fence_devices,
        },
    )?;

    Ok(Native {
        cluster: name,
        nodes,
        local_node: local_node.unwrap_or_default().to_string(),
        timing,
        udp_port,
        links,
        authkeys,
        allow_insecure_crc: cluster.allow_insecure_crc.unwrap_or(false),
        autojoin,
        heartbeat,
        fencing,
        crm,
    })
}

/// `[[ping]]` tables and `[timing] deadping` into the ping fields of
/// [`HeartbeatOptions`]: a table with one host and no name is a ping node
/// (`ping`/`ping6`), any other a group (`ping_group`). Hosts are IP
/// addresses: a ping node must not depend on DNS.
fn ping(
    src: &Source<'_>,
    raw: &[Spanned<RawPing>],
    timing_raw: Option<&RawTiming>,
    timing: &ironbeat_link::Timing,
    options: &mut HeartbeatOptions,
) -> Result<(), ConfigError> {
    if let Some(value) = timing_raw.and_then(|t| t.deadping.as_ref()) {
        let deadping = duration(src, "deadping", value)?;
        if deadping <= timing.keepalive * 2 {
            return Err(src.error(
                &value.span(),
                format!(
                    "deadping ({}) must be more than twice keepalive ({}); raise deadping",
                    fmt_duration(deadping),
                    fmt_duration(timing.keepalive)
                ),
            ));
        }
        options.deadping = Some(Located {
            value: deadping,
            location: src.location(&value.span()),
        });
    }
    let mut names: Vec<String> = Vec::new();
    for table in raw {
        let location = src.location(&table.span());
        if names.len() >= MAX_PING {
            return Err(ConfigError::at(
                &location,
                format!("more than {MAX_PING} [[ping]] tables; remove some"),
            ));
        }
        let table_span = table.span();
        let table = table.get_ref();
        let Some(hosts) = &table.hosts else {
            return Err(src.error(
                &table_span,
                "this [[ping]] has no `hosts`; add hosts = [\"198.18.0.254\"] (the gateway \
                 your clients come through)",
            ));
        };
        if hosts.get_ref().is_empty() || hosts.get_ref().len() > MAX_PING {
            return Err(src.error(
                &hosts.span(),
                format!("`hosts` must list 1 to {MAX_PING} addresses"),
            ));
        }
        let mut addresses: Vec<IpAddr> = Vec::new();
        for host in hosts.get_ref() {
            let address: IpAddr = host.get_ref().trim().parse().map_err(|_| {
                src.error(
                    &host.span(),
                    format!(
                        "ping host {:?} is not an IP address; write the address (a ping node \
                         must not depend on DNS)",
                        host.get_ref()
                    ),
                )
            })?;
            if address.is_unspecified()
                || address.is_multicast()
                || address == IpAddr::V4(Ipv4Addr::BROADCAST)
            {
                return Err(src.error(
                    &host.span(),
                    format!(
                        "ping host {address} is not a unicast address; write a router's address"
                    ),
                ));
            }
            if addresses.contains(&address) {
                return Err(src.error(
                    &host.span(),
                    format!("ping host {address} is listed twice; list each host once"),
                ));
            }
            addresses.push(address);
        }
        let name = match &table.name {
            Some(n) => {
                check_node_name(n.get_ref()).map_err(|m| {
                    src.error(&n.span(), m.replace("node name", "ping target name"))
                })?;
                Some(n.get_ref().clone())
            }
            None if addresses.len() > 1 => {
                return Err(src.error(
                    &hosts.span(),
                    "a [[ping]] with several hosts is a group, up while any of them answers; \
                     name it: add name = \"routers\"",
                ))
            }
            None => None,
        };
        let target = name.clone().unwrap_or_else(|| addresses[0].to_string());
        if names.contains(&target) {
            let span = table.name.as_ref().map_or(hosts.span(), Spanned::span);
            return Err(src.error(
                &span,
                format!("ping target {target:?} is listed twice; list each target once"),
            ));
        }
        names.push(target);
        match name {
            Some(name) => options.ping_groups.push(Located {
                value: PingGroup {
                    name,
                    hosts: addresses.iter().map(IpAddr::to_string).collect(),
                },
                location,
            }),
            None => options.ping.push(Located {
                value: PingNode {
                    host: addresses[0].to_string(),
                    ipv6: addresses[0].is_ipv6(),
                },
                location,
            }),
        }
    }
    Ok(())
}

/// `[log]` into the logging fields of [`HeartbeatOptions`].
fn logging(src: &Source<'_>, raw: Option<&RawLog>) -> Result<HeartbeatOptions, ConfigError> {
    let mut options = HeartbeatOptions::default();
    let Some(raw) = raw else {
        return Ok(options);
    };
    let located = |span: &Range<usize>| src.location(span);
    if let Some(f) = &raw.facility {
        let name = f.get_ref().trim().to_ascii_lowercase();
        let facility = if name == "none" {
            LogFacility::None
        } else if FACILITIES.contains(&name.as_str()) {
            LogFacility::Syslog(name)
        } else {
            let hint = nearest(&name, FACILITIES.iter().copied())
                .map(|n| format!("did you mean \"{n}\"? "))
                .unwrap_or_default();
            return Err(src.error(
                &f.span(),
                format!(
                    "facility {:?} is not a syslog facility; {hint}use \"daemon\", \"local0\" … \
                     \"local7\", or \"none\" to log only to files and the journal",
                    f.get_ref()
                ),
            ));
        };
        options.logfacility = Some(Located {
            value: facility,
            location: located(&f.span()),
        });
    }
    let path = |key: &str, value: &Spanned<String>| -> Result<Located<PathBuf>, ConfigError> {
        let text = value.get_ref();
        if text.is_empty() || !text.starts_with('/') || text.ends_with('/') {
            return Err(src.error(
                &value.span(),
                format!(
                    "{key} {text:?} is not an absolute file path; write e.g. \
                     \"/var/log/ironbeat.log\""
                ),
            ));
        }
        if text.chars().any(char::is_control) {
            return Err(src.error(
                &value.span(),
                format!("{key} holds a control character; write a plain file path"),
            ));
        }
        Ok(Located {
            value: PathBuf::from(text),
            location: located(&value.span()),
        })
    };
    options.logfile = raw.file.as_ref().map(|f| path("file", f)).transpose()?;
    options.debugfile = raw
        .debug_file
        .as_ref()
        .map(|f| path("debug_file", f))
        .transpose()?;
    if let (Some(file), Some(debug)) = (&options.logfile, &options.debugfile) {
        if file.value == debug.value {
            return Err(ConfigError::at(
                &debug.location,
                "debug_file is the same file as `file`; give it its own file (it receives \
                 every message, `file` all but debug ones)",
            ));
        }
    }
    if let Some(level) = &raw.level {
        let name = level.get_ref().trim().to_ascii_lowercase();
        let Some((_, value)) = LOG_LEVELS.iter().find(|(n, _)| *n == name) else {
            let names = LOG_LEVELS.iter().map(|(n, _)| *n);
            let hint = LOG_LEVELS
                .iter()
                .map(|(n, _)| *n)
                .find(|n| name.len() >= 3 && n.starts_with(name.as_str()))
                .or_else(|| nearest(&name, names))
                .map(|n| format!("did you mean \"{n}\"? "))
                .unwrap_or_default();
            return Err(src.error(
                &level.span(),
                format!(
                    "level {:?} is not a log level; {hint}use \"error\", \"warning\", \
                     \"notice\", \"info\" (the default) or \"debug\"",
                    level.get_ref()
                ),
            ));
        };
        options.log_level = Some(Located {
            value: *value,
            location: located(&level.span()),
        });
    }
    Ok(options)
}

/// A duration written with a unit (`"500ms"`, `"10s"`), at the line of its value.
pub(super) fn duration(
    src: &Source<'_>,
    name: &str,
    value: &Spanned<String>,
) -> Result<Duration, ConfigError> {
    let text = value.get_ref().trim();
    if !text.ends_with(|c: char| c.is_ascii_alphabetic()) {
        return Err(src.error(
            &value.span(),
            format!("{name} {text:?} has no unit; write e.g. \"{text}s\" or \"{text}ms\""),
        ));
    }
    ironbeat_link::parse_duration(text).ok_or_else(|| {
        src.error(
            &value.span(),
            format!("{name} {text:?} is not a duration; write e.g. \"100ms\", \"2s\" or \"1m\""),
        )
    })
}

fn timing(
    src: &Source<'_>,
    raw: Option<&RawTiming>,
    fallback: &Range<usize>,
) -> Result<ironbeat_link::Timing, ConfigError> {
    let field =
        |name: &str, value: Option<&Spanned<String>>| -> Result<Option<Duration>, ConfigError> {
            value.map(|v| duration(src, name, v)).transpose()
        };
    let (k, w, d, i) = match raw {
        Some(t) => (
            field("keepalive", t.keepalive.as_ref())?,
            field("warntime", t.warntime.as_ref())?,
            field("deadtime", t.deadtime.as_ref())?,
            field("initdead", t.initdead.as_ref())?,
        ),
        None => (None, None, None, None),
    };
    let timing = heartbeat_timing(k, w, d, i);
    if let Err(e) = timing.validate() {
        let span_of = |f: TimingField| {
            let t = raw?;
            match f {
                TimingField::Keepalive => t.keepalive.as_ref(),
                TimingField::Warntime => t.warntime.as_ref(),
                TimingField::Deadtime => t.deadtime.as_ref(),
                TimingField::Initdead => t.initdead.as_ref(),
            }
            .map(Spanned::span)
        };
        let blamed = timing_blame(&timing);
        let span = blamed
            .iter()
            .find_map(|f| span_of(*f))
            .unwrap_or_else(|| fallback.clone());
        return Err(src.error(&span, timing_message(&e, blamed, |f| span_of(f).is_some())));
    }
    Ok(timing)
}

fn link(src: &Source<'_>, raw: &Spanned<RawLink>, udp_port: u16) -> Result<Link, ConfigError> {
    let table_span = raw.span();
    let raw = raw.get_ref();
    let kinds = LINK_KINDS.iter().map(|(k, _)| *k);
    let Some(kind) = &raw.kind else {
        return Err(src.error(
            &table_span,
            "this [[link]] has no `kind`; add kind = \"ucast\", \"bcast\", \"mcast\", \"ether\" \
             or \"serial\"",
        ));
    };
    let Some((kind_name, allowed)) = LINK_KINDS.iter().find(|(k, _)| *k == kind.get_ref()) else {
        let hint = nearest(kind.get_ref(), kinds)
            .map(|n| format!("did you mean \"{n}\"? "))
            .unwrap_or_default();
        return Err(src.error(
            &kind.span(),
            format!(
                "unknown link kind {:?}; {hint}use \"ucast\", \"bcast\", \"mcast\", \"ether\" or \
                 \"serial\"",
                kind.get_ref()
            ),
        ));
    };
    let present: [(&str, Option<Range<usize>>); 8] = [
        ("iface", raw.iface.as_ref().map(Spanned::span)),
        ("peer", raw.peer.as_ref().map(Spanned::span)),
        ("group", raw.group.as_ref().map(Spanned::span)),
        ("port", raw.port.as_ref().map(Spanned::span)),
        ("ttl", raw.ttl.as_ref().map(Spanned::span)),
        ("loop", raw.loop_.as_ref().map(Spanned::span)),
        ("tty", raw.tty.as_ref().map(Spanned::span)),
        ("baud", raw.baud.as_ref().map(Spanned::span)),
    ];
    for (key, span) in &present {
        if let Some(span) = span {
            if !allowed.contains(key) {
                return Err(src.error(
                    span,
                    format!(
                        "`{key}` does not apply to a {kind_name} link; remove it ({kind_name} \
                         takes {})",
                        allowed.join(", ")
                    ),
                ));
            }
        }
    }
    let required = |key: &str, value: Option<&Spanned<String>>, example: &str| {
        value.cloned().ok_or_else(|| {
            src.error(
                &kind.span(),
                format!("a {kind_name} link needs `{key}`; add {key} = \"{example}\""),
            )
        })
    };
    let iface = |value: Option<&Spanned<String>>| -> Result<String, ConfigError> {
        let iface = required("iface", value, "eth0")?;
        check_iface(iface.get_ref()).map_err(|m| src.error(&iface.span(), m))?;
        Ok(iface.into_inner())
    };
    let link_port = |p: Option<&Spanned<i64>>| -> Result<u16, ConfigError> {
        p.map_or(Ok(udp_port), |p| port(src, p))
    };
    let medium = match *kind_name {
        "ucast" => {
            let iface = iface(raw.iface.as_ref())?;
            let peer = required("peer", raw.peer.as_ref(), "198.18.0.2")?;
            let address: IpAddr = peer.get_ref().parse().map_err(|_| {
                src.error(
                    &peer.span(),
                    format!(
                        "peer {:?} is not an IP address; write the peer's address (host names \
                         would make heartbeats depend on DNS)",
                        peer.get_ref()
                    ),
                )
            })?;
            if address.is_unspecified()
                || address.is_multicast()
                || address == IpAddr::V4(Ipv4Addr::BROADCAST)
            {
                return Err(src.error(
                    &peer.span(),
                    format!(
                        "peer {address} is not a unicast address; use kind = \"bcast\" or \
                         \"mcast\" to reach several nodes"
                    ),
                ));
            }
            Medium::Ucast {
                iface,
                peer: address,
                port: link_port(raw.port.as_ref())?,
            }
        }
        "bcast" => Medium::Bcast {
            iface: iface(raw.iface.as_ref())?,
            port: link_port(raw.port.as_ref())?,
        },
        "mcast" => {
            let iface = iface(raw.iface.as_ref())?;
            let group = required("group", raw.group.as_ref(), "239.192.0.42")?;
            let address: IpAddr = group.get_ref().parse().map_err(|_| {
                src.error(
                    &group.span(),
                    format!(
                        "group {:?} is not an IP address; e.g. \"239.192.0.42\"",
                        group.get_ref()
                    ),
                )
            })?;
            check_mcast_group(address).map_err(|m| src.error(&group.span(), m))?;
            let ttl = match &raw.ttl {
                Some(t) => match u8::try_from(*t.get_ref()) {
                    Ok(v) if v > 0 => v,
                    _ => {
                        return Err(src.error(
                            &t.span(),
                            format!(
                                "ttl {} must be 1 to 255; 1 keeps heartbeats on the local subnet",
                                t.get_ref()
                            ),
                        ))
                    }
                },
                None => 1,
            };
            Medium::Mcast {
                iface,
                group: address,
                port: link_port(raw.port.as_ref())?,
                ttl,
                loop_: raw.loop_.as_ref().is_some_and(|l| *l.get_ref()),
            }
        }
        "ether" => Medium::Ether {
            iface: iface(raw.iface.as_ref())?,
        },
        _ => {
            let tty = required("tty", raw.tty.as_ref(), "/dev/ttyS0")?;
            let tty_path = check_tty(tty.get_ref()).map_err(|m| src.error(&tty.span(), m))?;
            let baud = match &raw.baud {
                Some(b) => u64::try_from(*b.get_ref())
                    .map_err(|_| format!("baud {} is not a serial speed", b.get_ref()))
                    .and_then(check_baud)
                    .map_err(|m| src.error(&b.span(), m))?,
                None => DEFAULT_BAUD,
            };
            Medium::Serial {
                tty: tty_path,
                baud,
            }
        }
    };
    Ok(Link {
        medium,
        location: src.location(&kind.span()),
    })
}

fn port(src: &Source<'_>, p: &Spanned<i64>) -> Result<u16, ConfigError> {
    match u16::try_from(*p.get_ref()) {
        Ok(v) if v > 0 => Ok(v),
        _ => Err(src.error(
            &p.span(),
            format!(
                "port {} is not a UDP port; use 1 to 65535 (694 is heartbeat's)",
                p.get_ref()
            ),
        )),
    }
}

/// Turns a TOML/serde error into `FILE:LINE: message; fix`.
fn toml_error(src: &Source<'_>, error: &toml::de::Error) -> ConfigError {
    // toml's messages may span lines ("invalid table header\nexpected `.`, `]`");
    // keep ours on one line, in words an operator knows.
    let message = error
        .message()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(": ")
        .replace("expected i64", "expected an integer")
        .replace("expected a sequence", "expected a list");
    let fixed = if let Some(rest) = message.strip_prefix("unknown field `") {
        let (key, expected) = rest.split_once('`').unwrap_or((rest, ""));
        let valid: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
        let hint = nearest(key, valid.iter().copied())
            .map(|n| format!(" (did you mean `{n}`?)"))
            .unwrap_or_default();
        let list = if valid.is_empty() {
            String::new()
        } else {
            format!("; valid here: {}", valid.join(", "))
        };
        format!("unknown key `{key}`{hint}; remove it or fix the spelling{list}")
    } else if message.starts_with("invalid type") {
        let hint = if message.ends_with("expected a string") {
            "quote it, e.g. \"100ms\", \"eth0\", \"198.18.0.2\""
        } else if message.ends_with("expected a boolean") {
            "write true or false, without quotes"
        } else if message.ends_with("expected an integer") {
            "write a number without quotes"
        } else if message.ends_with("expected a list") {
            "write a list, e.g. [\"node1\", \"node2\"]"
        } else {
            "docs/config.md gives each key's type"
        };
        format!("{message}; {hint}")
    } else {
        format!("{message}; fix the TOML syntax here (https://toml.io)")
    };
    match error.span() {
        Some(span) => src.error(&span, fixed),
        None => ConfigError::in_file(src.path, fixed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[cluster]
name = "prod"
nodes = ["node1", "node2"]
allow_insecure_crc = false
autojoin = "none"

[timing]
keepalive = "20ms"
warntime = "60ms"
deadtime = "100ms"
initdead = "10s"

[[link]]
kind = "ucast"
iface = "eth0"
peer = "198.18.0.2"

[[link]]
kind = "mcast"
iface = "eth1"
group = "239.198.18.4"

[[link]]
kind = "serial"
tty = "/dev/ttyS0"
baud = 115200

[[link]]
kind = "ether"
iface = "eth2"

[[link]]
kind = "bcast"
iface = "eth3"
port = 695
"#;

    fn parse(text: &str) -> Result<Native, ConfigError> {
        parse_native(
            text,
            Path::new("/etc/ironbeat/ironbeat.toml"),
            Some("node1"),
            Files::Skip,
        )
    }

    fn err(text: &str) -> ConfigError {
        match parse(text) {
            Ok(_) => panic!("accepted: {text}"),
            Err(e) => e,
        }
    }

    #[test]
    fn parses_a_complete_file() {
        let n = parse(GOOD).unwrap();
        assert_eq!(n.cluster, "prod");
        assert_eq!(n.nodes, ["node1", "node2"]);
        assert_eq!(n.timing.keepalive, Duration::from_millis(20));
        assert_eq!(n.timing.initdead, Duration::from_secs(10));
        let names: Vec<String> = n.links.iter().map(Link::name).collect();
        assert_eq!(
            names,
            [
                "ucast eth0 198.18.0.2",
                "mcast eth1 239.198.18.4 694 1 0",
                "serial /dev/ttyS0",
                "ether eth2",
                "bcast eth3"
            ]
        );
        assert_eq!(n.links[0].location.line, 15);
        assert!(matches!(
            n.links[2].medium,
            Medium::Serial { baud: 115200, .. }
        ));
        assert!(matches!(n.links[4].medium, Medium::Bcast { port: 695, .. }));
        assert_eq!(n.authkeys, Path::new("/etc/ironbeat/authkeys"));
    }

    #[test]
    fn defaults() {
        let n =
            parse("[cluster]\nnodes = [\"node1\"]\n[[link]]\nkind = \"bcast\"\niface = \"eth0\"\n")
                .unwrap();
        assert_eq!(n.cluster, "linux-ha");
        assert_eq!(n.timing, heartbeat_timing(None, None, None, None));
        assert_eq!(n.udp_port, 694);
        assert_eq!(n.autojoin, Autojoin::None);
        let n = parse("[cluster]\nautojoin = \"any\"\n[[link]]\nkind = \"ether\"\niface = \"e\"\n")
            .unwrap();
        assert_eq!(n.nodes, ["node1"]);
        let n = parse(
            "[cluster]\nnodes=[\"node1\"]\nauthkeys=\"keys/a\"\nudp_port=700\n[[link]]\nkind=\"ucast\"\niface=\"lo\"\npeer=\"127.0.0.2\"\n",
        )
        .unwrap();
        assert_eq!(n.authkeys, Path::new("/etc/ironbeat/keys/a"));
        assert!(matches!(n.links[0].medium, Medium::Ucast { port: 700, .. }));
    }

    #[test]
    fn errors_are_located_and_say_the_fix() {
        let base = "[cluster]\nnodes = [\"node1\", \"node2\"]\n";
        let link = "[[link]]\nkind = \"ucast\"\niface = \"eth0\"\npeer = \"198.18.0.2\"\n";
        let cases: Vec<(String, usize, &str)> = vec![
            (format!("{base}nodez = 1\n{link}"), 3, "unknown key `nodez`"),
            (format!("{base}[timing]\nkeepalive = 20\n{link}"), 4, "quote it"),
            (format!("{base}[timing]\nkeepalive = \"20\"\n{link}"), 4, "no unit"),
            (format!("{base}[timing]\nkeepalive = \"2x\"\n{link}"), 4, "not a duration"),
            (
                format!("{base}[timing]\nkeepalive = \"100ms\"\ndeadtime = \"200ms\"\n{link}"),
                5,
                "more than twice keepalive",
            ),
            (format!("{base}[[link]]\nkind = \"ucast\"\niface = \"eth0\"\n"), 4, "needs `peer`"),
            (format!("{base}[[link]]\nkind = \"ucst\"\n"), 4, "did you mean \"ucast\""),
            (format!("{base}[[link]]\nkind = \"ucast\"\niface = \"eth0\"\npeer = \"x\"\n"), 6, "not an IP address"),
            (format!("{base}{link}tty = \"/dev/ttyS0\"\n"), 7, "does not apply to a ucast link"),
            (format!("{base}[[link]]\nkind = \"serial\"\ntty = \"/dev/ttyS0\"\nbaud = 1234\n"), 6, "supported serial speed"),
            (format!("{base}[[link]]\nkind = \"mcast\"\niface = \"e\"\ngroup = \"10.0.0.1\"\n"), 6, "not a multicast group"),
            (format!("{base}[[link]]\nkind = \"mcast\"\niface = \"e\"\ngroup = \"239.0.0.1\"\nttl = 0\n"), 7, "1 to 255"),
            (format!("{base}{link}port = 0\n"), 7, "not a UDP port"),
            (format!("{base}{link}{link}"), 8, "repeats the one at line 4"),
            ("[cluster]\nnodes = [\"node2\"]\n[[link]]\nkind=\"ether\"\niface=\"e\"\n".into(), 2, "not in `nodes`"),
            ("[cluster]\nnodes = [\"node1\", \"node1\"]\n".into(), 2, "listed twice"),
            ("[cluster]\nname = \"x\"\n".into(), 1, "has no `nodes`"),
            ("[cluster]\nautojoin = \"all\"\n".into(), 2, "must be \"none\""),
            (format!("{base}allow_insecure_crc = \"no\"\n"), 3, "true or false"),
            (format!("{base}[[link]]\niface = \"eth0\"\n"), 3, "no `kind`"),
            ("[cluster\n".into(), 1, "TOML syntax"),
        ];
        for (text, line, needle) in &cases {
            let e = err(text);
            assert_eq!(e.line(), Some(*line), "{text}\n{e}");
            assert!(e.to_string().contains(needle), "{text}\n{e}");
            assert!(
                e.to_string()
                    .starts_with(&format!("/etc/ironbeat/ironbeat.toml:{line}: ")),
                "{e}"
            );
        }
        let e = err("");
        assert!(e.to_string().contains("no [cluster] table"), "{e}");
        let e = err("[cluster]\nnodes = [\"node1\"]\n");
        assert!(e.to_string().contains("no [[link]]"), "{e}");
    }

    #[test]
    fn log_section() {
        let base = "[cluster]\nnodes = [\"node1\"]\n[[link]]\nkind = \"ether\"\niface = \"e\"\n";
        let n = parse(base).unwrap();
        assert!(n.heartbeat.logfacility.is_none() && n.heartbeat.log_level.is_none());
        let n = parse(&format!(
            "{base}[log]\nfacility = \"Local3\"\nfile = \"/var/log/ib.log\"\n\
             debug_file = \"/var/log/ib-debug.log\"\nlevel = \"debug\"\n"
        ))
        .unwrap();
        let l = &n.heartbeat;
        assert_eq!(
            l.logfacility.as_ref().map(|f| &f.value),
            Some(&LogFacility::Syslog("local3".into()))
        );
        assert_eq!(l.logfacility.as_ref().unwrap().location.line, 7);
        assert_eq!(
            l.logfile.as_ref().unwrap().value,
            Path::new("/var/log/ib.log")
        );
        assert_eq!(l.debugfile.as_ref().unwrap().location.line, 9);
        assert_eq!(l.log_level.as_ref().unwrap().value, LogLevel::Debug);
        let n = parse(&format!(
            "{base}[log]\nfacility = \"none\"\nlevel = \"Notice\"\n"
        ))
        .unwrap();
        assert_eq!(n.heartbeat.logfacility.unwrap().value, LogFacility::None);
        assert_eq!(n.heartbeat.log_level.unwrap().value, LogLevel::Notice);

        let cases = [
            ("facility = \"local9\"", 7, "did you mean \"local0\""),
            ("facility = 3", 7, "quote it"),
            ("file = \"ib.log\"", 7, "absolute file path"),
            ("file = \"/var/log/\"", 7, "absolute file path"),
            ("file = \"/a\"\ndebug_file = \"/a\"", 8, "same file"),
            ("level = \"verbose\"", 7, "not a log level"),
            ("level = \"debg\"", 7, "did you mean \"debug\""),
            ("level = \"warn\"", 7, "did you mean \"warning\""),
            ("levle = \"info\"", 7, "did you mean `level`"),
        ];
        for (text, line, needle) in cases {
            let e = err(&format!("{base}[log]\n{text}\n"));
            assert_eq!(e.line(), Some(line), "{text}: {e}");
            assert!(e.to_string().contains(needle), "{text}: {e}");
        }

        // Hostile [log] sections: errors, never panics.
        let good = format!(
            "{base}[log]\nfacility = \"local0\"\nfile = \"/var/log/a\"\n\
             debug_file = \"/var/log/b\"\nlevel = \"debug\"\n"
        );
        mutate_and_parse(
            &good,
            base.len(),
            0x9e37_79b9_7f4a_7c15,
            b"[]=\"/\n\0\x7f.x \\{}#\t",
            1000,
            2,
        );
    }

    #[test]
    fn ping_tables() {
        let base = "[cluster]\nnodes = [\"node1\"]\n[[link]]\nkind = \"ether\"\niface = \"e\"\n";
        let n = parse(base).unwrap();
        assert!(n.heartbeat.ping.is_empty() && n.heartbeat.ping_groups.is_empty());
        assert!(n.heartbeat.deadping.is_none());
        let n = parse(&format!(
            "{base}[[ping]]\nhosts = [\"198.18.0.254\"]\n[[ping]]\nhosts = [\"2001:db8::1\"]\n\
             [[ping]]\nname = \"routers\"\nhosts = [\"198.18.0.252\", \"198.18.0.253\"]\n\
             [[ping]]\nname = \"gw\"\nhosts = [\"198.18.1.1\"]\n\
             [timing]\nkeepalive = \"100ms\"\ndeadtime = \"1s\"\ndeadping = \"2s\"\n"
        ))
        .unwrap();
        let o = &n.heartbeat;
        let nodes: Vec<(&str, bool, usize)> = o
            .ping
            .iter()
            .map(|p| (p.value.host.as_str(), p.value.ipv6, p.location.line))
            .collect();
        assert_eq!(
            nodes,
            [("198.18.0.254", false, 6), ("2001:db8::1", true, 8)]
        );
        let groups: Vec<(&str, Vec<&str>)> = o
            .ping_groups
            .iter()
            .map(|g| {
                let hosts = g.value.hosts.iter().map(String::as_str).collect();
                (g.value.name.as_str(), hosts)
            })
            .collect();
        assert_eq!(
            groups,
            [
                ("routers", vec!["198.18.0.252", "198.18.0.253"]),
                ("gw", vec!["198.18.1.1"])
            ]
        );
        let deadping = o.deadping.as_ref().unwrap();
        assert_eq!(deadping.value, Duration::from_secs(2));
        assert_eq!(deadping.location.line, 19);

        let cases = [
            ("[[ping]]\nname = \"x\"\n", 6, "no `hosts`"),
            ("[[ping]]\nhosts = []\n", 7, "1 to 64 addresses"),
            (
                "[[ping]]\nhosts = [\"gateway.example\"]\n",
                7,
                "not an IP address",
            ),
            (
                "[[ping]]\nhosts = [\"224.0.0.1\"]\n",
                7,
                "not a unicast address",
            ),
            (
                "[[ping]]\nhosts = [\"0.0.0.0\"]\n",
                7,
                "not a unicast address",
            ),
            (
                "[[ping]]\nhosts = [\"198.18.0.1\", \"198.18.0.1\"]\n",
                7,
                "listed twice",
            ),
            (
                "[[ping]]\nhosts = [\"198.18.0.1\", \"198.18.0.2\"]\n",
                7,
                "name it",
            ),
            (
                "[[ping]]\nhosts = [\"198.18.0.1\"]\nname = \"a b\"\n",
                8,
                "ping target name",
            ),
            (
                "[[ping]]\nhosts = [\"198.18.0.1\"]\n[[ping]]\nhosts = [\"198.18.0.1\"]\n",
                9,
                "listed twice",
            ),
            (
                "[[ping]]\nname = \"g\"\nhosts = [\"198.18.0.1\"]\n[[ping]]\nname = \"g\"\n\
                 hosts = [\"198.18.0.2\"]\n",
                10,
                "listed twice",
            ),
            (
                "[[ping]]\nhosts = [\"198.18.0.1\"]\nhost = \"x\"\n",
                8,
                "did you mean `hosts`",
            ),
            ("[[ping]]\nhosts = \"198.18.0.1\"\n", 7, "write a list"),
            ("[timing]\ndeadping = \"2\"\n", 7, "no unit"),
            (
                "[timing]\nkeepalive = \"1s\"\ndeadtime = \"3s\"\ndeadping = \"2s\"\n",
                9,
                "more than twice keepalive",
            ),
        ];
        for (text, line, needle) in cases {
            let e = err(&format!("{base}{text}"));
            assert_eq!(e.line(), Some(line), "{text}: {e}");
            assert!(e.to_string().contains(needle), "{text}: {e}");
        }
        let many: String = (0..65)
            .map(|i| format!("[[ping]]\nhosts = [\"198.18.1.{i}\"]\n"))
            .collect();
        let e = err(&format!("{base}{many}"));
        assert!(e.to_string().contains("more than 64 [[ping]]"), "{e}");

        // Hostile [[ping]] tables: errors, never panics.
        let good = format!(
            "{base}[[ping]]\nname = \"routers\"\nhosts = [\"198.18.0.1\", \"::1\"]\n\
             [timing]\ndeadping = \"5s\"\n"
        );
        mutate_and_parse(
            &good,
            base.len(),
            0x51_7cc1_b727_220a,
            b"[]=\":.,\n\0x 9f#\\{}",
            1000,
            2,
        );
    }

    #[test]
    fn hostile_input_never_panics() {
        mutate_and_parse(
            GOOD,
            0,
            0x2545_f491_4f6c_dd1d,
            b"[]=\"'#\n.,x0 -\\{}",
            1500,
            3,
        );
    }

    /// Parses `rounds` copies of `good`, each with `edits` bytes after the
    /// first `keep` replaced by one of the first 16 bytes of `alphabet`
    /// (xorshift from `seed`):
    /// errors are fine, panics are not.
    fn mutate_and_parse(
        good: &str,
        keep: usize,
        seed: u64,
        alphabet: &[u8],
        rounds: usize,
        edits: usize,
    ) {
        let mut state = seed;
        for _ in 0..rounds {
            let mut bytes = good.as_bytes().to_vec();
            for _ in 0..edits {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let at = keep + (state as usize) % (bytes.len() - keep);
                bytes[at] = alphabet[(state >> 40) as usize % 16];
            }
            let _ = parse(&String::from_utf8_lossy(&bytes));
        }
    }
}
