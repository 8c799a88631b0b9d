//! heartbeat's `ha.cf`, read as heartbeat 3.0.6 reads it.
//!
//! One directive per line; `#` starts a comment anywhere on a line; there are
//! no continuation lines. Most directives take a list of values separated by
//! blanks, tabs or commas (`node a b`, `node a,b`); `mcast`, `ucast`, `stonith`,
//! `apiauth`, `respawn` … take the rest of the line. Directive names are
//! case-sensitive; booleans (`on`, `yes`, `true`, `y`, `1` and their opposites)
//! are not. Node names are lower-cased, as heartbeat does.
//!
//! Unlike heartbeat, nothing is silently ignored: an unknown directive, a
//! malformed value, a directive given twice or extra words on a line are
//! errors at `FILE:LINE` with the fix.
//!
//! # Order-dependent settings (reproduced on purpose)
//!
//! heartbeat applies `udpport` and `baud` while it reads the media lines, and
//! each medium plugin takes the value once, when its first line is read:
//! - every `ucast` line uses the `udpport` in force at the *first* `ucast` line
//!   (the default 694 if none came before it); the same holds, separately, for
//!   `ucast6` and for `bcast`. `mcast`/`mcast6` carry their own port.
//! - every `serial` line uses the `baud` in force at the first `serial` line
//!   (19200 if `baud` comes later).
//!
//! [`Medium`]'s ports and bauds are those the legacy daemon would have used, so
//! a converted cluster keeps talking to itself. The native TOML format has no
//! such ordering.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ironbeat_link::{parse_duration, Timing};

use super::error::ConfigError;
use super::model::{
    heartbeat_timing, timing_blame, timing_message, ApiAuth, AutoFailback, Autojoin, ClientChild,
    Compression, EnvVar, GenerationMethod, HeartbeatOptions, Link, Located, Location, LogFacility,
    Medium, MessageFormat, Pacemaker, PingGroup, PingNode, Stonith, StonithHost, TimingField,
    UuidFrom, DEFAULT_BAUD, DEFAULT_CLUSTER_NAME, DEFAULT_UDP_PORT, MAX_LINKS,
};
use super::values::{
    check_baud, check_host, check_iface, check_mcast_group, check_node_name, check_tty, first_word,
    nearest, parse_bool,
};

/// Every directive accepted in ha.cf, with a usage example: heartbeat 3.0.6's
/// `Directives[]` and `WLdirectives[]` tables (heartbeat/config.c), the medium
/// plugins Debian ships (`/usr/lib/heartbeat/plugins/HBcomm/`), the `udp` alias
/// of `bcast`, and ironbeat's `ether`.
pub const DIRECTIVES: &[(&str, &str)] = &[
    ("apiauth", "apiauth ipfail uid=hacluster"),
    ("auto_failback", "auto_failback on"),
    ("autojoin", "autojoin none"),
    ("baud", "baud 19200"),
    ("bcast", "bcast eth0"),
    ("cluster", "cluster linux-ha"),
    ("compression", "compression zlib"),
    ("compression_threshold", "compression_threshold 2"),
    ("conn_logd_time", "conn_logd_time 60"),
    ("coredumps", "coredumps true"),
    ("coreroot", "coreroot /var/lib/heartbeat/cores"),
    ("crm", "crm respawn"),
    ("crm_daemon_dir", "crm_daemon_dir /usr/lib/pacemaker"),
    ("crmd_spawns_pengine", "crmd_spawns_pengine off"),
    ("deadping", "deadping 30"),
    ("deadtime", "deadtime 30"),
    ("debug", "debug 0"),
    ("debugfile", "debugfile /var/log/ha-debug"),
    ("enable_config_writes", "enable_config_writes on"),
    ("env", "env logpriority=debug"),
    ("ether", "ether eth1"),
    ("failfast", "failfast hacluster /usr/lib/heartbeat/ccm"),
    ("hbgenmethod", "hbgenmethod file"),
    ("hopfudge", "hopfudge 1"),
    ("initdead", "initdead 120"),
    ("keepalive", "keepalive 2"),
    ("log_badpack", "log_badpack true"),
    ("logfacility", "logfacility local0"),
    ("logfile", "logfile /var/log/ha-log"),
    ("max_rexmit_delay", "max_rexmit_delay 250"),
    ("mcast", "mcast eth0 239.192.0.42 694 1 0"),
    ("mcast6", "mcast6 eth0 ff12::1:2:3:4 694 1 0"),
    ("memreserve", "memreserve 6500"),
    ("msgfmt", "msgfmt classic"),
    ("nice_failback", "nice_failback on"),
    ("node", "node node1 node2"),
    ("pacemaker", "pacemaker respawn"),
    ("ping", "ping 198.18.0.254"),
    ("ping6", "ping6 2001:db8::1"),
    ("ping_group", "ping_group routers 198.18.0.253 198.18.0.254"),
    ("priority_fencing_delay", "priority_fencing_delay 10s"),
    ("quorum_server", "quorum_server qs.example"),
    ("realtime", "realtime on"),
    ("record_config_changes", "record_config_changes on"),
    ("record_pengine_inputs", "record_pengine_inputs on"),
    ("respawn", "respawn hacluster /usr/lib/heartbeat/ipfail"),
    ("rtprio", "rtprio 5"),
    ("serial", "serial /dev/ttyS0"),
    ("stonith", "stonith baytech /etc/ha.d/conf/stonith.baytech"),
    (
        "stonith_host",
        "stonith_host * baytech 10.0.0.3 mylogin mysecretpassword",
    ),
    ("syslogmsgfmt", "syslogmsgfmt true"),
    ("traditional_compression", "traditional_compression off"),
    ("ucast", "ucast eth0 198.18.0.2"),
    ("ucast6", "ucast6 eth1 fe80::5054:ff:fe29:3949"),
    ("udp", "udp eth0"),
    ("udpport", "udpport 694"),
    ("use_apphbd", "use_apphbd no"),
    ("use_logd", "use_logd yes"),
    ("uuidfrom", "uuidfrom file"),
    ("warntime", "warntime 10"),
    ("watchdog", "watchdog /dev/watchdog"),
];

/// Names heartbeat's sources know but its 3.0.6 packages never accepted;
/// recognised so the error can say why.
const NEVER_BUILT: &[(&str, &str)] = &[
    (
        "hbaping",
        "Fibre Channel ping nodes were never part of heartbeat 3.0.6 packages",
    ),
    (
        "rds",
        "the RDS medium was never part of heartbeat 3.0.6 packages",
    ),
    (
        "normalpoll",
        "heartbeat 3.0.6 was built without it (ALLOWPOLLCHOICE)",
    ),
];

/// Syslog facility names (`cl_syslogfac_str2int`), which `logfacility` (and
/// the native `[log] facility`) accept.
pub(crate) const FACILITIES: &[&str] = &[
    "auth", "authpriv", "cron", "daemon", "ftp", "kern", "lpr", "mail", "news", "syslog", "user",
    "uucp", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
];

/// A parsed ha.cf: every directive typed and located, before it is combined
/// with this node's name and the keys.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HaCf {
    /// The file (for messages).
    pub origin: PathBuf,
    /// `cluster`.
    pub cluster: Option<Located<String>>,
    /// `node` names (lower-cased), one entry per name.
    pub nodes: Vec<Located<String>>,
    /// `keepalive`.
    pub keepalive: Option<Located<Duration>>,
    /// `warntime`.
    pub warntime: Option<Located<Duration>>,
    /// `deadtime`.
    pub deadtime: Option<Located<Duration>>,
    /// `initdead`.
    pub initdead: Option<Located<Duration>>,
    /// Every `udpport` line, in order (it may legally change between media).
    pub udpport: Vec<Located<u16>>,
    /// `baud`.
    pub baud: Option<Located<u32>>,
    /// The media lines, one link per interface/tty, ports and bauds resolved
    /// with heartbeat's ordering rules.
    pub links: Vec<Link>,
    /// `autojoin`.
    pub autojoin: Option<Located<Autojoin>>,
    /// Everything else.
    pub options: HeartbeatOptions,
    /// Accepted but deprecated spellings (`udp`, `nice_failback`), with the
    /// modern form.
    pub warnings: Vec<Located<String>>,
}

impl HaCf {
    /// The cluster name (`linux-ha` unless `cluster` says otherwise).
    pub fn cluster_name(&self) -> &str {
        self.cluster
            .as_ref()
            .map_or(DEFAULT_CLUSTER_NAME, |c| c.value.as_str())
    }

    /// The cluster's UDP port: the last `udpport`, else 694.
    pub fn udp_port(&self) -> u16 {
        self.udpport.last().map_or(DEFAULT_UDP_PORT, |p| p.value)
    }

    /// `autojoin`, default `none`.
    pub fn autojoin(&self) -> Autojoin {
        self.autojoin.as_ref().map_or(Autojoin::None, |a| a.value)
    }

    /// The timers with heartbeat's defaults for those not written, validated;
    /// an error points at the line of the timer to change. Also checks
    /// `deadping` against `keepalive`, as heartbeat does.
    pub fn timing(&self) -> Result<Timing, ConfigError> {
        let value = |d: &Option<Located<Duration>>| d.as_ref().map(|l| l.value);
        let timing = heartbeat_timing(
            value(&self.keepalive),
            value(&self.warntime),
            value(&self.deadtime),
            value(&self.initdead),
        );
        if let Err(e) = timing.validate() {
            let written = |field: TimingField| {
                match field {
                    TimingField::Keepalive => &self.keepalive,
                    TimingField::Warntime => &self.warntime,
                    TimingField::Deadtime => &self.deadtime,
                    TimingField::Initdead => &self.initdead,
                }
                .as_ref()
                .map(|l| &l.location)
            };
            let blamed = timing_blame(&timing);
            let message = timing_message(&e, blamed, |f| written(f).is_some());
            return Err(match blamed.iter().find_map(|f| written(*f)) {
                Some(location) => ConfigError::at(location, message),
                None => ConfigError::in_file(&self.origin, message),
            });
        }
        if let Some(deadping) = &self.options.deadping {
            if deadping.value <= timing.keepalive * 2 {
                return Err(ConfigError::at(
                    &deadping.location,
                    format!(
                        "deadping ({}) must be more than twice keepalive ({}); raise deadping",
                        fmt_duration(deadping.value),
                        fmt_duration(timing.keepalive)
                    ),
                ));
            }
        }
        Ok(timing)
    }

    /// The member list and this node's name, checked as heartbeat checks them:
    /// at least one `node` line, and this node among them — unless `autojoin
    /// any`, which adds this node when it is missing. Names are lower-cased.
    pub fn members(&self, local_node: &str) -> Result<(Vec<String>, String), ConfigError> {
        let local = local_node.to_ascii_lowercase();
        check_node_name(&local).map_err(|m| {
            ConfigError::in_file(
                &self.origin,
                format!("this node's name: {m}; pass --node NAME"),
            )
        })?;
        let mut nodes: Vec<String> = self.nodes.iter().map(|n| n.value.clone()).collect();
        let autojoin = self.autojoin();
        if nodes.is_empty() && autojoin != Autojoin::Any {
            return Err(ConfigError::in_file(
                &self.origin,
                format!(
                    "no `node` line: add one `node NAME` line per cluster member, with the name \
                     `uname -n` prints on it (this node is `{local}`), or `autojoin any`"
                ),
            ));
        }
        if !nodes.contains(&local) {
            if autojoin == Autojoin::Any {
                nodes.push(local.clone());
            } else {
                let listed = nodes.join(", ");
                let message = format!(
                    "this node `{local}` is not among the nodes ({listed}); add `node {local}`, \
                     or pass --node NAME if `uname -n` is not the cluster name of this machine"
                );
                return Err(match self.nodes.first() {
                    Some(first) => ConfigError::at(&first.location, message),
                    None => ConfigError::in_file(&self.origin, message),
                });
            }
        }
        Ok((nodes, local))
    }

    /// Checks that at least one heartbeat medium is configured.
    pub fn check_links(&self) -> Result<(), ConfigError> {
        if self.links.is_empty() {
            return Err(ConfigError::in_file(
                &self.origin,
                "no heartbeat medium: add at least one `ucast IFACE PEER-IP`, `bcast IFACE`, \
                 `mcast IFACE GROUP PORT TTL LOOP`, `serial TTY` or `ether IFACE` line \
                 (two independent ones are better than one)",
            ));
        }
        Ok(())
    }
}

/// Parses ha.cf text; `origin` names the file in errors and locations.
pub fn parse_ha_cf(text: &str, origin: &Path) -> Result<HaCf, ConfigError> {
    let mut parser = Parser::new(origin);
    for (index, raw) in text.split('\n').enumerate() {
        let line = index + 1;
        // heartbeat: zap from `#`, cut at the first CR or LF, skip white space.
        let content = raw.split('#').next().unwrap_or("");
        let content = content.split('\r').next().unwrap_or("").trim();
        if content.is_empty() {
            continue;
        }
        let (directive, rest) = match content.find(char::is_whitespace) {
            Some(at) => (&content[..at], content[at..].trim()),
            None => (content, ""),
        };
        // heartbeat skips blanks, tabs and commas after the directive name.
        let rest = rest.trim_start_matches([' ', '\t', ',']);
        parser.directive(line, directive, rest)?;
    }
    Ok(parser.cf)
}

/// The parse state: the file so far, plus the ports and baud each medium
/// plugin captured at its first line.
struct Parser {
    cf: HaCf,
    ucast_port: Option<u16>,
    ucast6_port: Option<u16>,
    bcast_port: Option<u16>,
    serial_baud: Option<u32>,
}

impl Parser {
    fn new(origin: &Path) -> Self {
        Parser {
            cf: HaCf {
                origin: origin.to_path_buf(),
                cluster: None,
                nodes: Vec::new(),
                keepalive: None,
                warntime: None,
                deadtime: None,
                initdead: None,
                udpport: Vec::new(),
                baud: None,
                links: Vec::new(),
                autojoin: None,
                options: HeartbeatOptions::default(),
                warnings: Vec::new(),
            },
            ucast_port: None,
            ucast6_port: None,
            bcast_port: None,
            serial_baud: None,
        }
    }

    fn location(&self, line: usize) -> Location {
        Location {
            file: self.cf.origin.clone(),
            line,
        }
    }

    fn located<T>(&self, line: usize, value: T) -> Located<T> {
        Located {
            value,
            location: self.location(line),
        }
    }

    fn error(&self, line: usize, message: impl Into<String>) -> ConfigError {
        ConfigError::at_line(&self.cf.origin, line, message)
    }

    fn directive(&mut self, line: usize, name: &str, rest: &str) -> Result<(), ConfigError> {
        let list: Vec<&str> = rest
            .split([' ', '\t', ','])
            .filter(|w| !w.is_empty())
            .collect();
        let words: Vec<&str> = rest.split_whitespace().collect();
        if self.setting(line, name, &list)?
            || self.medium(line, name, &list, &words)?
            || self.legacy(line, name, rest, &list, &words)?
        {
            Ok(())
        } else {
            Err(self.unknown(line, name))
        }
    }

    /// Directives that set values: members, timers, ports, flags, paths, names.
    fn setting(&mut self, line: usize, name: &str, list: &[&str]) -> Result<bool, ConfigError> {
        match name {
            "cluster" => {
                let v = self.one(line, name, list)?;
                if v.len() > 255 || v.chars().any(|c| c.is_control()) {
                    return Err(self.error(
                        line,
                        "the cluster name must be 1 to 255 printable characters",
                    ));
                }
                let v = self.located(line, v.to_string());
                set_once(&mut self.cf.cluster, name, v)?;
            }
            "node" => {
                if list.is_empty() {
                    return Err(self.usage(line, name, "needs at least one node name"));
                }
                for n in list {
                    let n = n.to_ascii_lowercase();
                    check_node_name(&n).map_err(|m| self.error(line, m))?;
                    if let Some(prev) = self.cf.nodes.iter().find(|p| p.value == n) {
                        return Err(self.error(
                            line,
                            format!(
                                "node `{n}` is already listed at line {}; list each node once",
                                prev.location.line
                            ),
                        ));
                    }
                    let n = self.located(line, n);
                    self.cf.nodes.push(n);
                }
            }
            "keepalive" | "warntime" | "deadtime" | "initdead" => {
                let d = self.duration(line, name, list)?;
                let d = self.located(line, d);
                let slot = match name {
                    "keepalive" => &mut self.cf.keepalive,
                    "warntime" => &mut self.cf.warntime,
                    "deadtime" => &mut self.cf.deadtime,
                    _ => &mut self.cf.initdead,
                };
                set_once(slot, name, d)?;
            }
            "deadping" => {
                let d = self.duration(line, name, list)?;
                let d = self.located(line, d);
                set_once(&mut self.cf.options.deadping, name, d)?;
            }
            "priority_fencing_delay" => {
                let d = self.duration(line, name, list)?;
                let d = self.located(line, d);
                set_once(&mut self.cf.options.priority_fencing_delay, name, d)?;
            }
            "conn_logd_time" => {
                let d = self.duration(line, name, list)?;
                if d.is_zero() {
                    return Err(self.usage(line, name, "must be more than zero"));
                }
                let d = self.located(line, d);
                set_once(&mut self.cf.options.conn_logd_time, name, d)?;
            }
            "max_rexmit_delay" => {
                // heartbeat reads milliseconds with atoi(); a unit is accepted too.
                let v = self.one(line, name, list)?;
                let d = match v.parse::<u64>() {
                    Ok(ms) => Some(Duration::from_millis(ms)),
                    Err(_) if v.ends_with(|c: char| c.is_ascii_alphabetic()) => parse_duration(v),
                    Err(_) => None,
                };
                match d {
                    Some(d) if !d.is_zero() => {
                        let d = self.located(line, d);
                        set_once(&mut self.cf.options.max_rexmit_delay, name, d)?;
                    }
                    _ => {
                        return Err(self.usage(
                            line,
                            name,
                            &format!("takes milliseconds greater than zero, found `{v}`"),
                        ))
                    }
                }
            }
            "udpport" => {
                let v = self.one(line, name, list)?;
                let port = self.port(line, name, v)?;
                let port = self.located(line, port);
                self.cf.udpport.push(port);
            }
            "baud" => {
                let v = self.one(line, name, list)?;
                let baud = v
                    .parse::<u64>()
                    .map_err(|_| format!("baud `{v}` is not a number"))
                    .and_then(check_baud)
                    .map_err(|m| self.error(line, m))?;
                let baud = self.located(line, baud);
                set_once(&mut self.cf.baud, name, baud)?;
            }
            "autojoin" => {
                let v = self.one(line, name, list)?;
                let a = Autojoin::parse(v).ok_or_else(|| {
                    self.usage(
                        line,
                        name,
                        &format!("takes none, other or any, found `{v}`"),
                    )
                })?;
                let a = self.located(line, a);
                set_once(&mut self.cf.autojoin, name, a)?;
            }
            "hopfudge" | "debug" => {
                let v = self.one(line, name, list)?;
                let n = v.parse::<u8>().map_err(|_| {
                    self.usage(line, name, &format!("takes a number 0 to 255, found `{v}`"))
                })?;
                let n = self.located(line, n);
                let slot = if name == "debug" {
                    &mut self.cf.options.debug
                } else {
                    &mut self.cf.options.hopfudge
                };
                set_once(slot, name, n)?;
            }
            "rtprio" => {
                let v = self.one(line, name, list)?;
                match v.parse::<u8>() {
                    Ok(n @ 1..=99) => {
                        let n = self.located(line, n);
                        set_once(&mut self.cf.options.rtprio, name, n)?;
                    }
                    _ => {
                        return Err(self.usage(
                            line,
                            name,
                            &format!("takes a SCHED_FIFO priority 1 to 99, found `{v}`"),
                        ))
                    }
                }
            }
            "compression_threshold" | "memreserve" => {
                let v = self.one(line, name, list)?;
                match v.parse::<u32>() {
                    Ok(n) if n > 0 => {
                        let n = self.located(line, n);
                        let slot = if name == "memreserve" {
                            &mut self.cf.options.memreserve
                        } else {
                            &mut self.cf.options.compression_threshold
                        };
                        set_once(slot, name, n)?;
                    }
                    _ => {
                        return Err(self.usage(
                            line,
                            name,
                            &format!("takes a number of KiB greater than zero, found `{v}`"),
                        ))
                    }
                }
            }
            "realtime"
            | "use_logd"
            | "use_apphbd"
            | "log_badpack"
            | "syslogmsgfmt"
            | "coredumps"
            | "traditional_compression"
            | "record_config_changes"
            | "record_pengine_inputs"
            | "enable_config_writes"
            | "crmd_spawns_pengine" => {
                let v = self.one(line, name, list)?;
                let b = parse_bool(v).ok_or_else(|| {
                    self.usage(
                        line,
                        name,
                        &format!("takes on or off (yes/no, true/false), found `{v}`"),
                    )
                })?;
                if name == "crmd_spawns_pengine" {
                    self.before_pacemaker(line, name)?;
                }
                let b = self.located(line, b);
                set_once(flag_slot(&mut self.cf.options, name), name, b)?;
            }
            "watchdog" | "logfile" | "debugfile" | "coreroot" | "crm_daemon_dir" => {
                let v = self.one(line, name, list)?;
                if !v.starts_with('/') {
                    return Err(self.usage(
                        line,
                        name,
                        &format!("takes an absolute path, found `{v}`"),
                    ));
                }
                if name == "crm_daemon_dir" {
                    self.before_pacemaker(line, name)?;
                }
                let p = self.located(line, PathBuf::from(v));
                set_once(path_slot(&mut self.cf.options, name), name, p)?;
            }
            "logfacility" => {
                let v = self.one(line, name, list)?.to_ascii_lowercase();
                let facility = if v == "none" {
                    LogFacility::None
                } else if FACILITIES.contains(&v.as_str()) {
                    LogFacility::Syslog(v)
                } else {
                    let hint = nearest(&v, FACILITIES.iter().copied())
                        .map(|n| format!("did you mean `{n}`? "))
                        .unwrap_or_default();
                    return Err(self.error(
                        line,
                        format!(
                            "`{v}` is not a syslog facility; {hint}use daemon, local0 … local7, \
                             or none to log only to files"
                        ),
                    ));
                };
                let f = self.located(line, facility);
                set_once(&mut self.cf.options.logfacility, name, f)?;
            }
            "auto_failback" | "nice_failback" => {
                let v = self.one(line, name, list)?;
                let value = match (name, parse_bool(v)) {
                    ("auto_failback", Some(true)) => AutoFailback::On,
                    ("auto_failback", Some(false)) => AutoFailback::Off,
                    ("auto_failback", None) if v.eq_ignore_ascii_case("legacy") => {
                        AutoFailback::Legacy
                    }
                    ("nice_failback", Some(true)) => AutoFailback::Off,
                    ("nice_failback", Some(false)) => AutoFailback::Legacy,
                    _ => {
                        return Err(self.usage(
                            line,
                            name,
                            &format!("takes on, off or legacy, found `{v}`"),
                        ))
                    }
                };
                if name == "nice_failback" {
                    let modern = if value == AutoFailback::Off {
                        "off"
                    } else {
                        "legacy"
                    };
                    let w = self.located(
                        line,
                        format!("nice_failback is obsolete; write `auto_failback {modern}`"),
                    );
                    self.cf.warnings.push(w);
                }
                if let Some(prev) = &self.cf.options.auto_failback {
                    return Err(self.error(
                        line,
                        format!(
                            "failback is already set at line {}; keep one auto_failback line",
                            prev.location.line
                        ),
                    ));
                }
                self.cf.options.auto_failback = Some(self.located(line, value));
            }
            "crm" | "pacemaker" => {
                let v = self.one(line, name, list)?;
                let p = match v.to_ascii_lowercase().as_str() {
                    "respawn" => Pacemaker::Respawn,
                    "minimal" | "manual" => Pacemaker::Minimal,
                    "ccm-only" => Pacemaker::CcmOnly,
                    "valgrind" => Pacemaker::Valgrind,
                    other => match parse_bool(other) {
                        Some(true) => Pacemaker::On,
                        Some(false) => Pacemaker::Off,
                        None => {
                            return Err(self.usage(
                                line,
                                name,
                                &format!("takes respawn, on, off, minimal, ccm-only or valgrind, found `{v}`"),
                            ))
                        }
                    },
                };
                if let Some(prev) = &self.cf.options.pacemaker {
                    return Err(self.error(
                        line,
                        format!(
                            "pacemaker/crm is already set at line {}; keep one of the two lines",
                            prev.location.line
                        ),
                    ));
                }
                self.cf.options.pacemaker = Some(self.located(line, p));
            }
            "hbgenmethod" => {
                let v = self.one(line, name, list)?;
                let m = match v {
                    "file" => GenerationMethod::File,
                    "time" => GenerationMethod::Time,
                    _ => {
                        return Err(self.usage(
                            line,
                            name,
                            &format!("takes file or time, found `{v}`"),
                        ))
                    }
                };
                let m = self.located(line, m);
                set_once(&mut self.cf.options.hbgenmethod, name, m)?;
            }
            "uuidfrom" => {
                let v = self.one(line, name, list)?;
                let m = match v {
                    "file" => UuidFrom::File,
                    "nodename" => UuidFrom::Nodename,
                    _ => {
                        return Err(self.usage(
                            line,
                            name,
                            &format!("takes file or nodename, found `{v}`"),
                        ))
                    }
                };
                let m = self.located(line, m);
                set_once(&mut self.cf.options.uuidfrom, name, m)?;
            }
            "msgfmt" => {
                let v = self.one(line, name, list)?;
                let m = match v {
                    "classic" => MessageFormat::Classic,
                    "netstring" => MessageFormat::Netstring,
                    _ => {
                        return Err(self.usage(
                            line,
                            name,
                            &format!("takes classic or netstring, found `{v}`"),
                        ))
                    }
                };
                let m = self.located(line, m);
                set_once(&mut self.cf.options.msgfmt, name, m)?;
            }
            "compression" => {
                let v = self.one(line, name, list)?;
                let c = match v {
                    "zlib" => Compression::Zlib,
                    "bz2" => Compression::Bz2,
                    _ => {
                        return Err(self.usage(
                            line,
                            name,
                            &format!("takes zlib or bz2, found `{v}`"),
                        ))
                    }
                };
                let c = self.located(line, c);
                set_once(&mut self.cf.options.compression, name, c)?;
            }
            "quorum_server" => {
                let v = self.one(line, name, list)?;
                check_host(v).map_err(|m| self.error(line, m))?;
                let v = self.located(line, v.to_string());
                set_once(&mut self.cf.options.quorum_server, name, v)?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Media lines: one link per interface or tty.
    fn medium(
        &mut self,
        line: usize,
        name: &str,
        list: &[&str],
        words: &[&str],
    ) -> Result<bool, ConfigError> {
        match name {
            "bcast" | "udp" | "ether" => {
                if list.is_empty() {
                    return Err(self.usage(line, name, "needs at least one interface"));
                }
                if name == "udp" {
                    let w = self.located(
                        line,
                        "`udp` is an old name of `bcast`; write `bcast`".to_string(),
                    );
                    self.cf.warnings.push(w);
                }
                for iface in list {
                    check_iface(iface).map_err(|m| self.error(line, m))?;
                    let medium = if name == "ether" {
                        Medium::Ether {
                            iface: iface.to_string(),
                        }
                    } else {
                        let current = self.current_port();
                        let port = *self.bcast_port.get_or_insert(current);
                        Medium::Bcast {
                            iface: iface.to_string(),
                            port,
                        }
                    };
                    self.push_link(line, medium)?;
                }
            }
            "ucast" | "ucast6" => {
                let [iface, address] = words[..] else {
                    return Err(self.usage(
                        line,
                        name,
                        "takes an interface and one peer address; write one line per peer",
                    ));
                };
                check_iface(iface).map_err(|m| self.error(line, m))?;
                let peer = self.ucast_peer(line, name, iface, address)?;
                let current = self.current_port();
                let slot = if name == "ucast" {
                    &mut self.ucast_port
                } else {
                    &mut self.ucast6_port
                };
                let port = *slot.get_or_insert(current);
                self.push_link(
                    line,
                    Medium::Ucast {
                        iface: iface.to_string(),
                        peer,
                        port,
                    },
                )?;
            }
            "mcast" | "mcast6" => {
                let medium = self.mcast(line, name, words)?;
                self.push_link(line, medium)?;
            }
            "serial" => {
                if list.is_empty() {
                    return Err(self.usage(line, name, "needs at least one device"));
                }
                let current = self.cf.baud.as_ref().map_or(DEFAULT_BAUD, |b| b.value);
                let baud = *self.serial_baud.get_or_insert(current);
                for tty in list {
                    let tty = check_tty(tty).map_err(|m| self.error(line, m))?;
                    self.push_link(line, Medium::Serial { tty, baud })?;
                }
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Legacy directives that may repeat (stonith, apiauth, respawn, ping …).
    fn legacy(
        &mut self,
        line: usize,
        name: &str,
        rest: &str,
        list: &[&str],
        words: &[&str],
    ) -> Result<bool, ConfigError> {
        match name {
            "env" => {
                if list.is_empty() {
                    return Err(self.usage(line, name, "needs NAME=VALUE"));
                }
                for pair in list {
                    match pair.split_once('=') {
                        Some((n, v)) if !n.is_empty() => {
                            let e = self.located(
                                line,
                                EnvVar {
                                    name: n.to_string(),
                                    value: v.to_string(),
                                },
                            );
                            self.cf.options.env.push(e);
                        }
                        _ => {
                            return Err(self.usage(
                                line,
                                name,
                                &format!("takes NAME=VALUE, found `{pair}`"),
                            ))
                        }
                    }
                }
            }
            "stonith" => {
                let [kind, file] = words[..] else {
                    return Err(self.usage(
                        line,
                        name,
                        "takes a device type and its configuration file",
                    ));
                };
                if !file.starts_with('/') {
                    return Err(self.usage(
                        line,
                        name,
                        &format!("needs an absolute configuration file path, found `{file}`"),
                    ));
                }
                let s = self.located(
                    line,
                    Stonith {
                        kind: kind.to_string(),
                        config_file: PathBuf::from(file),
                    },
                );
                set_once(&mut self.cf.options.stonith, name, s)?;
            }
            "stonith_host" => {
                let (from, rest) = first_word(rest);
                let (kind, params) = first_word(rest);
                let (from, params) = (from.to_ascii_lowercase(), params.to_string());
                if from.is_empty() || kind.is_empty() {
                    return Err(self.usage(line, name, "takes the node that reaches the device (or *), the device type and its parameters"));
                }
                if from != "*" {
                    check_node_name(&from).map_err(|m| self.error(line, m))?;
                }
                let h = self.located(
                    line,
                    StonithHost {
                        from,
                        kind: kind.to_string(),
                        params,
                    },
                );
                self.cf.options.stonith_hosts.push(h);
            }
            "apiauth" => {
                let a = self.apiauth(line, words)?;
                self.cf.options.apiauth.push(a);
            }
            "respawn" | "failfast" => {
                let (user, command) = first_word(rest);
                let (path, _) = first_word(command);
                if user.is_empty() || !path.starts_with('/') {
                    return Err(self.usage(
                        line,
                        name,
                        "takes a user and the absolute path of the program",
                    ));
                }
                let c = self.located(
                    line,
                    ClientChild {
                        user: user.to_string(),
                        path: PathBuf::from(path),
                        command: command.to_string(),
                        failfast: name == "failfast",
                    },
                );
                self.cf.options.children.push(c);
            }
            "ping" | "ping6" => {
                if list.is_empty() {
                    return Err(self.usage(line, name, "needs at least one address"));
                }
                for host in list {
                    check_host(host).map_err(|m| self.error(line, m))?;
                    if name == "ping6" && host.parse::<Ipv4Addr>().is_ok() {
                        return Err(self.error(
                            line,
                            format!("{host} is an IPv4 address; write `ping {host}`"),
                        ));
                    }
                    if name == "ping" && host.parse::<Ipv6Addr>().is_ok() {
                        return Err(self.error(
                            line,
                            format!("{host} is an IPv6 address; write `ping6 {host}`"),
                        ));
                    }
                    let p = self.located(
                        line,
                        PingNode {
                            host: host.to_string(),
                            ipv6: name == "ping6",
                        },
                    );
                    self.cf.options.ping.push(p);
                }
            }
            "ping_group" => {
                let Some((group, hosts)) = words.split_first() else {
                    return Err(self.usage(
                        line,
                        name,
                        "takes a group name and at least one address",
                    ));
                };
                if hosts.is_empty() {
                    return Err(self.usage(
                        line,
                        name,
                        "takes a group name and at least one address",
                    ));
                }
                check_node_name(group).map_err(|m| self.error(line, m))?;
                for host in hosts {
                    check_host(host).map_err(|m| self.error(line, m))?;
                }
                let g = self.located(
                    line,
                    PingGroup {
                        name: group.to_string(),
                        hosts: hosts.iter().map(|h| h.to_string()).collect(),
                    },
                );
                self.cf.options.ping_groups.push(g);
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The `udpport` in force now.
    fn current_port(&self) -> u16 {
        self.cf.udp_port()
    }

    fn push_link(&mut self, line: usize, medium: Medium) -> Result<(), ConfigError> {
        if let Some(prev) = self.cf.links.iter().find(|l| l.medium == medium) {
            return Err(self.error(
                line,
                format!(
                    "`{medium}` is already configured at line {}; list each medium once",
                    prev.location.line
                ),
            ));
        }
        if self.cf.links.len() >= MAX_LINKS {
            return Err(self.error(
                line,
                format!("more than {MAX_LINKS} media; heartbeat allows {MAX_LINKS}, remove some"),
            ));
        }
        let location = self.location(line);
        self.cf.links.push(Link { medium, location });
        Ok(())
    }

    fn one<'a>(&self, line: usize, name: &str, list: &[&'a str]) -> Result<&'a str, ConfigError> {
        match list {
            [one] => Ok(one),
            [] => Err(self.usage(line, name, "needs a value")),
            more => Err(self.usage(
                line,
                name,
                &format!(
                    "takes one value, found {} (`{}`)",
                    more.len(),
                    more.join(" ")
                ),
            )),
        }
    }

    fn duration(&self, line: usize, name: &str, list: &[&str]) -> Result<Duration, ConfigError> {
        let v = self.one(line, name, list)?;
        parse_duration(v).ok_or_else(|| {
            self.error(
                line,
                format!(
                    "{name} `{v}` is not a duration; write seconds (`{name} 2`, `{name} 0.5`) or \
                     milliseconds (`{name} 500ms`)"
                ),
            )
        })
    }

    fn port(&self, line: usize, name: &str, v: &str) -> Result<u16, ConfigError> {
        match v.parse::<u16>() {
            Ok(p) if p > 0 => Ok(p),
            _ => Err(self.usage(
                line,
                name,
                &format!("takes a UDP port 1 to 65535, found `{v}`"),
            )),
        }
    }

    fn ucast_peer(
        &self,
        line: usize,
        name: &str,
        iface: &str,
        address: &str,
    ) -> Result<IpAddr, ConfigError> {
        // ucast6 accepts `ADDR%IFACE` for link-local scopes; the scope must be the interface.
        let (text, scope) = match address.split_once('%') {
            Some((a, s)) if name == "ucast6" => (a, Some(s)),
            _ => (address, None),
        };
        if let Some(scope) = scope {
            if scope != iface {
                return Err(self.error(
                    line,
                    format!(
                        "scope `%{scope}` differs from the interface `{iface}`; drop `%{scope}`"
                    ),
                ));
            }
        }
        let peer: IpAddr = text.parse().map_err(|_| {
            self.error(
                line,
                format!(
                    "`{address}` is not an IP address; write the peer's address (e.g. `{name} \
                     {iface} {}`): host names would make heartbeats depend on DNS",
                    if name == "ucast" {
                        "198.18.0.2"
                    } else {
                        "fe80::2"
                    }
                ),
            )
        })?;
        match (name, peer) {
            ("ucast", IpAddr::V6(_)) => {
                return Err(self.error(
                    line,
                    format!("{peer} is an IPv6 address; write `ucast6 {iface} {peer}`"),
                ))
            }
            ("ucast6", IpAddr::V4(_)) => {
                return Err(self.error(
                    line,
                    format!("{peer} is an IPv4 address; write `ucast {iface} {peer}`"),
                ))
            }
            _ => {}
        }
        if peer.is_unspecified() || peer.is_multicast() || peer == IpAddr::V4(Ipv4Addr::BROADCAST) {
            return Err(self.error(
                line,
                format!(
                    "{peer} is not a unicast address; write the peer's own address, or use \
                     `bcast`/`mcast` to reach several nodes"
                ),
            ));
        }
        Ok(peer)
    }

    fn mcast(&self, line: usize, name: &str, words: &[&str]) -> Result<Medium, ConfigError> {
        let [iface, group, port, ttl, loop_] = words[..] else {
            return Err(self.usage(
                line,
                name,
                "takes five values: interface, group, port, ttl, loop",
            ));
        };
        check_iface(iface).map_err(|m| self.error(line, m))?;
        let group: IpAddr = group.parse().map_err(|_| {
            self.error(
                line,
                format!("`{group}` is not a multicast group address; e.g. 239.192.0.42"),
            )
        })?;
        match (name, group) {
            ("mcast", IpAddr::V6(_)) => {
                return Err(self.error(line, format!("{group} is an IPv6 group; write `mcast6`")))
            }
            ("mcast6", IpAddr::V4(_)) => {
                return Err(self.error(line, format!("{group} is an IPv4 group; write `mcast`")))
            }
            _ => {}
        }
        check_mcast_group(group).map_err(|m| self.error(line, m))?;
        let port = self.port(line, name, port)?;
        let ttl = match ttl.parse::<u8>() {
            Ok(t) if t > 0 => t,
            _ => {
                return Err(self.error(
                    line,
                    format!(
                    "{name} ttl `{ttl}` must be 1 to 255; 1 keeps heartbeats on the local subnet"
                ),
                ))
            }
        };
        let loop_ = match loop_ {
            "0" => false,
            "1" => true,
            _ => {
                return Err(self.error(
                    line,
                    format!("{name} loop `{loop_}` must be 0 or 1 (0 is usual)"),
                ))
            }
        };
        Ok(Medium::Mcast {
            iface: iface.to_string(),
            group,
            port,
            ttl,
            loop_,
        })
    }

    fn apiauth(&self, line: usize, words: &[&str]) -> Result<Located<ApiAuth>, ConfigError> {
        let usage = "takes a client name and uid=LIST and/or gid=LIST";
        let Some((client, specs)) = words.split_first() else {
            return Err(self.usage(line, "apiauth", usage));
        };
        let (mut uids, mut gids): (Option<Vec<String>>, Option<Vec<String>>) = (None, None);
        for spec in specs {
            let (slot, list) = if let Some(l) = spec.strip_prefix("uid=") {
                (&mut uids, l)
            } else if let Some(l) = spec.strip_prefix("gid=") {
                (&mut gids, l)
            } else {
                return Err(self.usage(
                    line,
                    "apiauth",
                    &format!("takes uid=LIST or gid=LIST after the client name, found `{spec}`"),
                ));
            };
            if slot.is_some() {
                return Err(self.error(
                    line,
                    format!("apiauth {client}: `{spec}` repeats a list; merge them"),
                ));
            }
            let names: Vec<String> = list
                .split(',')
                .filter(|s| !s.is_empty())
                .map(String::from)
                .collect();
            if names.is_empty() {
                return Err(self.error(line, format!("apiauth {client}: `{spec}` lists nobody")));
            }
            *slot = Some(names);
        }
        if uids.is_none() && gids.is_none() {
            return Err(self.usage(line, "apiauth", usage));
        }
        if let Some(prev) = self
            .cf
            .options
            .apiauth
            .iter()
            .find(|a| a.value.client == *client)
        {
            return Err(self.error(
                line,
                format!(
                    "apiauth for `{client}` is already given at line {}; merge the two",
                    prev.location.line
                ),
            ));
        }
        Ok(self.located(
            line,
            ApiAuth {
                client: client.to_string(),
                uids: uids.unwrap_or_default(),
                gids: gids.unwrap_or_default(),
            },
        ))
    }

    /// heartbeat refuses `crm_daemon_dir` and `crmd_spawns_pengine` after
    /// `pacemaker`/`crm`.
    fn before_pacemaker(&self, line: usize, name: &str) -> Result<(), ConfigError> {
        match &self.cf.options.pacemaker {
            Some(p) => Err(self.error(
                line,
                format!(
                    "`{name}` must come before the pacemaker/crm line (line {}), as heartbeat \
                     requires; move it up",
                    p.location.line
                ),
            )),
            None => Ok(()),
        }
    }

    fn usage(&self, line: usize, name: &str, problem: &str) -> ConfigError {
        let example = DIRECTIVES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, u)| format!("; e.g. `{u}`"))
            .unwrap_or_default();
        self.error(line, format!("`{name}` {problem}{example}"))
    }

    fn unknown(&self, line: usize, name: &str) -> ConfigError {
        if let Some((_, why)) = NEVER_BUILT.iter().find(|(n, _)| *n == name) {
            return self.error(
                line,
                format!("`{name}` is not supported: {why}; remove the line"),
            );
        }
        let names = DIRECTIVES.iter().map(|(n, _)| *n);
        match nearest(name, names) {
            Some(near) => self.error(
                line,
                format!("unknown directive `{name}`; did you mean `{near}`? (ha.cf(5) lists them)"),
            ),
            None => self.error(
                line,
                format!(
                    "unknown directive `{name}`; heartbeat 3.0.6 has no such directive: check the \
                     spelling against ha.cf(5) or remove the line"
                ),
            ),
        }
    }
}

/// The option a boolean directive sets.
fn flag_slot<'a>(options: &'a mut HeartbeatOptions, name: &str) -> &'a mut Option<Located<bool>> {
    match name {
        "realtime" => &mut options.realtime,
        "use_logd" => &mut options.use_logd,
        "use_apphbd" => &mut options.use_apphbd,
        "log_badpack" => &mut options.log_badpack,
        "syslogmsgfmt" => &mut options.syslogmsgfmt,
        "coredumps" => &mut options.coredumps,
        "traditional_compression" => &mut options.traditional_compression,
        "record_config_changes" => &mut options.record_config_changes,
        "record_pengine_inputs" => &mut options.record_pengine_inputs,
        "enable_config_writes" => &mut options.enable_config_writes,
        _ => &mut options.crmd_spawns_pengine,
    }
}

/// The option a path directive sets.
fn path_slot<'a>(
    options: &'a mut HeartbeatOptions,
    name: &str,
) -> &'a mut Option<Located<PathBuf>> {
    match name {
        "watchdog" => &mut options.watchdog,
        "logfile" => &mut options.logfile,
        "debugfile" => &mut options.debugfile,
        "coreroot" => &mut options.coreroot,
        _ => &mut options.crm_daemon_dir,
    }
}

fn set_once<T>(
    slot: &mut Option<Located<T>>,
    name: &str,
    value: Located<T>,
) -> Result<(), ConfigError> {
    if let Some(prev) = slot {
        return Err(ConfigError::at(
            &value.location,
            format!(
                "`{name}` is already set at line {}; keep one of the two lines",
                prev.location.line
            ),
        ));
    }
    *slot = Some(value);
    Ok(())
}

pub(crate) fn fmt_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms % 1000 == 0 && ms > 0 {
        format!("{}s", ms / 1000)
    } else if d.subsec_micros() % 1000 == 0 {
        format!("{ms}ms")
    } else {
        format!("{}us", d.as_micros())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<HaCf, ConfigError> {
        parse_ha_cf(text, Path::new("ha.cf"))
    }

    fn err(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn reads_the_lab_config() {
        // shared/lab/heartbeat/conf/rendered/node1/ha.cf (profile tight), as
        // heartbeat 3.0.6 ran it in the lab.
        let text = "# ha.cf for node1\nuse_logd        no\nlogfile         /var/lib/heartbeat/ha-log\n\
                    debugfile       /var/lib/heartbeat/ha-debug\nlogfacility     none\n\
                    keepalive       100ms\ndeadtime        500ms\nwarntime        300ms\n\
                    initdead        10\nudpport         694\nucast eth0 198.18.4.2\n\
                    auto_failback   on\nnode            node1\nnode            node2\ncrm             no\n";
        let cf = parse(text).unwrap();
        assert_eq!(cf.cluster_name(), "linux-ha");
        assert_eq!(cf.links.len(), 1);
        assert_eq!(cf.links[0].name(), "ucast eth0 198.18.4.2");
        assert_eq!(cf.links[0].location.line, 11);
        let t = cf.timing().unwrap();
        assert_eq!(t.keepalive, Duration::from_millis(100));
        assert_eq!(t.initdead, Duration::from_secs(10));
        let (nodes, local) = cf.members("node1").unwrap();
        assert_eq!(nodes, ["node1", "node2"]);
        assert_eq!(local, "node1");
        assert_eq!(cf.options.pacemaker.as_ref().unwrap().value, Pacemaker::Off);
        assert_eq!(
            cf.options.logfacility.as_ref().unwrap().value,
            LogFacility::None
        );
        assert!(!cf.options.use_logd.as_ref().unwrap().value);
    }

    #[test]
    fn udpport_applies_to_the_first_medium_line_of_each_kind() {
        let cf = parse(
            "ucast eth0 198.18.0.2\nudpport 700\nucast eth0 198.18.0.3\nbcast eth1\n\
             udpport 800\nbcast eth2\nmcast eth0 239.1.2.3 900 1 0\nucast6 eth0 fe80::1\n",
        )
        .unwrap();
        let ports: Vec<u16> = cf
            .links
            .iter()
            .map(|l| match l.medium {
                Medium::Ucast { port, .. }
                | Medium::Bcast { port, .. }
                | Medium::Mcast { port, .. } => port,
                _ => 0,
            })
            .collect();
        // ucast took 694 at its first line; bcast took 700 at its first line;
        // mcast has its own; ucast6 (a separate plugin) took 800.
        assert_eq!(ports, [694, 694, 700, 700, 900, 800]);
        assert_eq!(cf.udp_port(), 800);
    }

    #[test]
    fn baud_applies_only_if_it_precedes_serial() {
        let cf = parse("serial /dev/ttyS0\nbaud 115200\nserial /dev/ttyS1\n").unwrap();
        let bauds: Vec<u32> = cf
            .links
            .iter()
            .map(|l| match l.medium {
                Medium::Serial { baud, .. } => baud,
                _ => 0,
            })
            .collect();
        assert_eq!(bauds, [19200, 19200]);
        let cf = parse("baud 115200\nserial /dev/ttyS0 /dev/ttyS1\n").unwrap();
        assert!(cf
            .links
            .iter()
            .all(|l| matches!(l.medium, Medium::Serial { baud: 115200, .. })));
        assert_eq!(cf.links[1].name(), "serial /dev/ttyS1");
    }

    #[test]
    fn lists_split_on_blanks_and_commas() {
        let cf = parse("node A, b\tc\nbcast eth0,eth1\nping 198.18.0.254 198.18.0.253\n").unwrap();
        let nodes: Vec<&str> = cf.nodes.iter().map(|n| n.value.as_str()).collect();
        assert_eq!(nodes, ["a", "b", "c"]);
        assert_eq!(cf.links.len(), 2);
        assert_eq!(cf.options.ping.len(), 2);
    }

    #[test]
    fn comments_crlf_and_blank_lines() {
        let cf = parse("  # comment\r\n\r\nkeepalive 2 # seconds\r\nnode n1\r\n").unwrap();
        assert_eq!(cf.keepalive.as_ref().unwrap().value, Duration::from_secs(2));
        assert_eq!(cf.keepalive.as_ref().unwrap().location.line, 3);
    }

    #[test]
    fn timing_errors_point_at_the_guilty_line() {
        let cf = parse("keepalive 100ms\ndeadtime 200ms\n").unwrap();
        let e = cf.timing().unwrap_err();
        assert_eq!(e.line(), Some(2), "{e}");
        assert!(e.message().contains("more than twice keepalive"), "{e}");
        // deadtime defaults to 30 s: keepalive is to blame.
        let cf = parse("\nkeepalive 20\n").unwrap();
        assert_eq!(cf.timing().unwrap_err().line(), Some(2));
        let cf = parse("deadtime 10\nwarntime 10\n").unwrap();
        assert_eq!(cf.timing().unwrap_err().line(), Some(2));
        let cf = parse("deadtime 30\ninitdead 20\n").unwrap();
        assert_eq!(cf.timing().unwrap_err().line(), Some(2));
        let cf = parse("keepalive 1\ndeadping 2\n").unwrap();
        assert_eq!(cf.timing().unwrap_err().line(), Some(2));
    }

    #[test]
    fn members_and_autojoin() {
        let cf = parse("node node1 node2\n").unwrap();
        assert_eq!(cf.members("NODE2").unwrap().1, "node2");
        let e = cf.members("node3").unwrap_err();
        assert_eq!(e.line(), Some(1));
        assert!(e.message().contains("add `node node3`"), "{e}");
        let cf = parse("autojoin any\n").unwrap();
        assert_eq!(cf.members("n9").unwrap().0, ["n9"]);
        let cf = parse("autojoin other\n").unwrap();
        assert!(cf.members("n9").is_err());
        let cf = parse("keepalive 1\n").unwrap();
        assert!(cf
            .members("n1")
            .unwrap_err()
            .message()
            .contains("no `node` line"));
        assert!(cf.check_links().is_err());
    }

    #[test]
    fn errors_name_line_and_fix() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "node a\nkeepalivee 2\n",
                "ha.cf:2:",
                "did you mean `keepalive`",
            ),
            (
                "frobnicate 1\n",
                "ha.cf:1:",
                "unknown directive `frobnicate`",
            ),
            ("hbaping fc0\n", "ha.cf:1:", "not supported"),
            ("keepalive 2x\n", "ha.cf:1:", "not a duration"),
            ("keepalive\n", "ha.cf:1:", "e.g. `keepalive 2`"),
            ("keepalive 1 2\n", "ha.cf:1:", "takes one value"),
            (
                "keepalive 1\nkeepalive 2\n",
                "ha.cf:2:",
                "already set at line 1",
            ),
            ("baud 12345\n", "ha.cf:1:", "not a supported serial speed"),
            ("baud 9600\nbaud 9600\n", "ha.cf:2:", "already set"),
            ("ucast eth0 peer.example\n", "ha.cf:1:", "not an IP address"),
            ("ucast eth0 fe80::1\n", "ha.cf:1:", "write `ucast6"),
            ("ucast eth0\n", "ha.cf:1:", "one peer address"),
            (
                "ucast eth0 1.2.3.4 5.6.7.8\n",
                "ha.cf:1:",
                "one line per peer",
            ),
            (
                "ucast eth0 224.0.0.1\n",
                "ha.cf:1:",
                "not a unicast address",
            ),
            (
                "ucast6 eth1 fe80::1%eth0\n",
                "ha.cf:1:",
                "differs from the interface",
            ),
            (
                "mcast eth0 10.0.0.1 694 1 0\n",
                "ha.cf:1:",
                "not a multicast group",
            ),
            ("mcast eth0 239.0.0.1 694 1\n", "ha.cf:1:", "five values"),
            ("mcast eth0 239.0.0.1 694 0 0\n", "ha.cf:1:", "ttl"),
            ("mcast eth0 239.0.0.1 694 1 2\n", "ha.cf:1:", "loop"),
            ("mcast eth0 239.0.0.1 0 1 0\n", "ha.cf:1:", "UDP port"),
            ("udpport 70000\n", "ha.cf:1:", "1 to 65535"),
            ("bcast a/b\n", "ha.cf:1:", "not an interface name"),
            (
                "bcast eth0\nbcast eth0\n",
                "ha.cf:2:",
                "already configured at line 1",
            ),
            ("serial ttyS0\n", "ha.cf:1:", "absolute path"),
            ("node a\nnode A\n", "ha.cf:2:", "already listed at line 1"),
            ("node a/b\n", "ha.cf:1:", "node name"),
            ("auto_failback maybe\n", "ha.cf:1:", "on, off or legacy"),
            ("autojoin some\n", "ha.cf:1:", "none, other or any"),
            ("logfacility local9\n", "ha.cf:1:", "did you mean `local0`"),
            (
                "crm yes\ncrm_daemon_dir /usr/lib/pacemaker\n",
                "ha.cf:2:",
                "must come before",
            ),
            (
                "crm yes\npacemaker respawn\n",
                "ha.cf:2:",
                "already set at line 1",
            ),
            ("apiauth ipfail\n", "ha.cf:1:", "uid=LIST"),
            ("apiauth ipfail uid=a uid=b\n", "ha.cf:1:", "repeats a list"),
            ("respawn hacluster ipfail\n", "ha.cf:1:", "absolute path"),
            ("stonith baytech\n", "ha.cf:1:", "device type"),
            ("env novalue\n", "ha.cf:1:", "NAME=VALUE"),
            ("rtprio 0\n", "ha.cf:1:", "1 to 99"),
            ("memreserve -1\n", "ha.cf:1:", "greater than zero"),
            ("max_rexmit_delay 0\n", "ha.cf:1:", "greater than zero"),
            ("ping ::1\n", "ha.cf:1:", "write `ping6"),
            ("ping_group g\n", "ha.cf:1:", "at least one address"),
            ("watchdog watchdog\n", "ha.cf:1:", "absolute path"),
            ("hbgenmethod clock\n", "ha.cf:1:", "file or time"),
        ];
        for (text, location, needle) in cases {
            let e = err(text);
            assert!(e.starts_with(location), "{text:?}: {e}");
            assert!(e.contains(needle), "{text:?}: {e}");
        }
    }

    #[test]
    fn deprecated_spellings_warn() {
        let cf = parse("udp eth0\nnice_failback on\n").unwrap();
        assert_eq!(cf.links[0].name(), "bcast eth0");
        assert_eq!(cf.warnings.len(), 2);
        assert_eq!(
            cf.options.auto_failback.as_ref().unwrap().value,
            AutoFailback::Off
        );
    }

    #[test]
    fn every_listed_directive_is_recognised() {
        for (name, usage) in DIRECTIVES {
            let text = format!("{usage}\n");
            let result = parse(&text);
            assert!(result.is_ok(), "{usage}: {:?}", result.err());
            assert!(usage.starts_with(name));
        }
    }

    #[test]
    fn hostile_input_never_panics() {
        let seed = b"node a b\nmcast eth0 239.0.0.1 694 1 0\nucast6 eth0 fe80::1%eth0\n\
                     stonith_host * t p\napiauth x uid=,\nenv =\n#\xff";
        let seed = String::from_utf8_lossy(seed).into_owned();
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for _ in 0..2000 {
            let mut bytes = seed.clone().into_bytes();
            for _ in 0..4 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let at = (state as usize) % bytes.len();
                bytes[at] = (state >> 32) as u8;
            }
            let text = String::from_utf8_lossy(&bytes);
            if let Ok(cf) = parse(&text) {
                let _ = cf.timing();
                let _ = cf.members("a");
            }
        }
    }
}
