//! The built-in IP address agent (IPaddr2 / IPaddr semantics, no fork/exec).
//!
//! * Parameters are IPaddr2's (`ip`, `cidr_netmask`, `nic`, `broadcast`,
//!   `iflabel`, `arp_count`, `arp_interval`, `arp_bg`, …) for the `ocf`
//!   class, or heartbeat's `ip[/netmask[/interface[/broadcast]]]` as
//!   argument `1` for the heartbeat class. A parameter we do not know is
//!   "not configured", naming it.
//! * The interface, when `nic` is not given, is found as heartbeat's findif
//!   did: the up interface (not `lo`) with an address whose prefix contains
//!   the virtual IP (longest prefix wins); the netmask comes from there when
//!   not given.
//! * Start adds the address with netlink (already present is fine) and
//!   **always** announces it: `arp_count` rounds `arp_interval` ms apart
//!   (5 × 200 ms, a request and a reply per round, as heartbeat's send_arp;
//!   IPv6: unsolicited neighbour advertisements), also when the address was
//!   already there — a stale address without an announcement blackholes the
//!   VIP for the clients' ARP timeout. With `arp_bg=true` (the default, as
//!   IPaddr2) start returns once the first round is queued and the rest runs
//!   in a task on the caller's runtime (which must keep running for the
//!   burst to finish) that a stop of the same address cancels.
//! * Stop removes it (absent is fine). Monitor: present on an up interface
//!   → ok, else not running.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use ironbeat_link::driver::garp::send_announcements;
use ironbeat_link::proto::garp::{GarpMode, DEFAULT_COUNT, DEFAULT_INTERVAL, MAX_COUNT};

use crate::netlink::{self, AddrInfo, AddrRequest, LinkInfo, Route, IFF_UP};
use crate::{AgentSpec, Class, OcfCode, OpResult, Operation};

/// The parsed parameters of one virtual IP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VipConfig {
    /// The address.
    pub ip: IpAddr,
    /// Prefix length, when given.
    pub prefix_len: Option<u8>,
    /// Interface, when given.
    pub nic: Option<String>,
    /// IPv4 broadcast address, when given (`+`/absent: computed).
    pub broadcast: Option<Ipv4Addr>,
    /// Label suffix (`iflabel`): the label is `NIC:LABEL`.
    pub label: Option<String>,
    /// Announcement rounds.
    pub arp_count: u32,
    /// Time between rounds.
    pub arp_interval: Duration,
    /// Announce in the background (start returns at once).
    pub arp_background: bool,
}

/// Where a [`VipConfig`] lands on this host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// The interface.
    pub link: LinkInfo,
    /// Prefix length.
    pub prefix_len: u8,
    /// IPv4 broadcast.
    pub broadcast: Option<Ipv4Addr>,
    /// Full label (`nic:iflabel`).
    pub label: Option<String>,
}

/// IPaddr2 parameters we accept without acting on them (they tune how the
/// shell agent runs its helpers).
const ACCEPTED_NO_EFFECT: [&str; 6] = [
    "arp_sender",
    "send_arp_opts",
    "run_arping",
    "flush_routes",
    "OCF_CHECK_LEVEL",
    "preferred_lft",
];

/// IPaddr2 parameters with features the built-in agent does not have.
const UNSUPPORTED: [&str; 7] = [
    "lvs_support",
    "lvs_ipv6_addrlabel",
    "lvs_ipv6_addrlabel_value",
    "mac",
    "clusterip_hash",
    "unique_clone_address",
    "network_namespace",
];

impl VipConfig {
    /// Parses a spec's parameters (`Err`: the reason, naming the parameter).
    pub fn from_spec(spec: &AgentSpec) -> Result<Self, String> {
        if spec.class == Class::Heartbeat {
            return Self::from_heartbeat(spec);
        }
        let mut config = VipConfig {
            ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            prefix_len: None,
            nic: None,
            broadcast: None,
            label: None,
            arp_count: DEFAULT_COUNT,
            arp_interval: DEFAULT_INTERVAL,
            arp_background: true,
        };
        let mut ip = None;
        for (name, value) in &spec.params {
            match name.as_str() {
                "ip" => ip = Some(parse_ip(value)?),
                "cidr_netmask" => config.prefix_len = Some(parse_netmask(value)?),
                "nic" => config.nic = Some(parse_nic(value)?),
                "broadcast" => config.broadcast = parse_broadcast(value)?,
                "iflabel" => {
                    config.label = (!value.is_empty()).then(|| value.clone());
                }
                "arp_count" => {
                    config.arp_count = value
                        .parse::<u32>()
                        .ok()
                        .filter(|n| (1..=MAX_COUNT).contains(n))
                        .ok_or(format!(
                            "arp_count {value:?} is not a number from 1 to {MAX_COUNT}"
                        ))?
                }
                "arp_interval" => {
                    let ms = value
                        .parse::<u64>()
                        .ok()
                        .filter(|n| (1..=10_000).contains(n))
                        .ok_or(format!(
                            "arp_interval {value:?} is not milliseconds from 1 to 10000"
                        ))?;
                    config.arp_interval = Duration::from_millis(ms);
                }
                "arp_bg" => config.arp_background = parse_bool(name, value)?,
                "arp_count_refresh" if value == "0" => {}
                "nodad" if parse_bool(name, value)? => {}
                "noprefixroute" if !parse_bool(name, value)? => {}
                "nodad" => {
                    return Err(
                        "nodad=false: the built-in agent always skips duplicate address \
                                detection (the cluster owns the address); remove nodad"
                            .to_string(),
                    )
                }
                known if ACCEPTED_NO_EFFECT.contains(&known) => {}
                unsupported
                    if UNSUPPORTED.contains(&unsupported)
                        || unsupported == "arp_count_refresh"
                        || unsupported == "noprefixroute" =>
                {
                    return Err(format!(
                        "parameter {unsupported}={value:?} is not supported by the built-in IP \
                         agent; remove it, or run the IPaddr2 script (builtin = false)"
                    ))
                }
                unknown => {
                    return Err(format!(
                        "unknown parameter {unknown:?} for an IP address (known: ip, cidr_netmask, \
                         nic, broadcast, iflabel, arp_count, arp_interval, arp_bg, …)"
                    ))
                }
            }
        }
        config.ip = ip.ok_or("parameter ip is required (the virtual IP address)")?;
        config.check()?;
        Ok(config)
    }

    /// heartbeat's `IPaddr::ip[/netmask[/interface[/broadcast]]]`.
    fn from_heartbeat(spec: &AgentSpec) -> Result<Self, String> {
        let mut arg = None;
        for (name, value) in &spec.params {
            match name.as_str() {
                "1" => arg = Some(value.as_str()),
                other => {
                    return Err(format!(
                    "{} takes one argument (ip/netmask/interface/broadcast); {other:?} is extra",
                    spec.agent
                ))
                }
            }
        }
        let arg = arg.ok_or(format!(
            "{} needs an address: {}::198.18.4.100/24/eth0",
            spec.agent, spec.agent
        ))?;
        let mut parts = arg.split('/');
        let ip = parse_ip(parts.next().unwrap_or(""))?;
        let prefix_len = parts
            .next()
            .filter(|s| !s.is_empty())
            .map(parse_netmask)
            .transpose()?;
        let nic = parts
            .next()
            .filter(|s| !s.is_empty())
            .map(parse_nic)
            .transpose()?;
        let broadcast = match parts.next() {
            Some(b) => parse_broadcast(b)?,
            None => None,
        };
        if parts.next().is_some() {
            return Err(format!(
                "{arg:?} has more than ip/netmask/interface/broadcast"
            ));
        }
        let config = VipConfig {
            ip,
            prefix_len,
            nic,
            broadcast,
            label: None,
            arp_count: DEFAULT_COUNT,
            arp_interval: DEFAULT_INTERVAL,
            arp_background: true,
        };
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), String> {
        let max = if self.ip.is_ipv4() { 32 } else { 128 };
        if let Some(p) = self.prefix_len {
            if p > max {
                return Err(format!(
                    "netmask /{p} is longer than /{max} for {}",
                    self.ip
                ));
            }
        }
        if self.ip.is_unspecified() || self.ip.is_multicast() || self.ip.is_loopback() {
            return Err(format!("{} cannot be a virtual IP address", self.ip));
        }
        if self.ip.is_ipv6() && (self.broadcast.is_some() || self.label.is_some()) {
            return Err("broadcast and iflabel are IPv4-only".to_string());
        }
        Ok(())
    }

    /// Finds the interface, prefix, broadcast and label on this host (findif).
    pub fn place(&self, links: &[LinkInfo], addresses: &[AddrInfo]) -> Result<Placement, String> {
        let (link, matched) = match &self.nic {
            Some(nic) => {
                let link = links.iter().find(|l| &l.name == nic).ok_or(format!(
                    "interface {nic:?} (nic) does not exist on this node"
                ))?;
                let matched =
                    longest_match(self.ip, addresses.iter().filter(|a| a.index == link.index));
                (link, matched)
            }
            None => {
                let up: Vec<&LinkInfo> = links
                    .iter()
                    .filter(|l| l.flags & IFF_UP != 0 && l.name != "lo")
                    .collect();
                let matched = longest_match(
                    self.ip,
                    addresses
                        .iter()
                        .filter(|a| up.iter().any(|l| l.index == a.index)),
                )
                .ok_or(format!(
                    "no up interface has an address in a subnet containing {}: give nic (and \
                     cidr_netmask), or configure an address in that subnet first",
                    self.ip
                ))?;
                let link = up
                    .into_iter()
                    .find(|l| l.index == matched.index)
                    .ok_or("interface vanished while searching")?;
                (link, Some(matched))
            }
        };
        let prefix_len = match (self.prefix_len, matched, self.ip) {
            (Some(p), _, _) => p,
            (None, Some(m), _) => m.prefix_len,
            (None, None, IpAddr::V6(_)) => 128,
            (None, None, IpAddr::V4(_)) => {
                return Err(format!(
                    "no address on {} has a subnet containing {}: give cidr_netmask",
                    link.name, self.ip
                ))
            }
        };
        let broadcast = match self.ip {
            IpAddr::V4(ip) => self.broadcast.or_else(|| {
                (prefix_len < 31).then(|| {
                    let mask = u32::MAX
                        .checked_shl(32 - u32::from(prefix_len))
                        .unwrap_or(0);
                    Ipv4Addr::from(u32::from(ip) | !mask)
                })
            }),
            IpAddr::V6(_) => None,
        };
        let label = match &self.label {
            Some(l) => {
                let full = format!("{}:{l}", link.name);
                if full.len() > 15 {
                    return Err(format!(
                        "label {full:?} is longer than 15 bytes (the kernel's limit): shorten iflabel"
                    ));
                }
                Some(full)
            }
            None => None,
        };
        Ok(Placement {
            link: link.clone(),
            prefix_len,
            broadcast,
            label,
        })
    }
}

/// Runs one operation of the built-in IP agent.
pub async fn execute(
    spec: &AgentSpec,
    op: Operation,
    _timeout: Duration,
    started: Instant,
) -> OpResult {
    if op == Operation::MetaData {
        let mut result = OpResult::new(OcfCode::Ok, None, started);
        result.output = META_DATA.to_string();
        return result;
    }
    let config = match VipConfig::from_spec(spec) {
        Ok(config) => config,
        Err(reason) => return OpResult::new(OcfCode::NotConfigured, Some(reason), started),
    };
    let (code, reason) = match op {
        Operation::Start => start(&config).await,
        Operation::Stop => stop(&config),
        Operation::Monitor { .. } | Operation::Probe => monitor(&config),
        Operation::ValidateAll => match snapshot().and_then(|(l, a)| {
            config
                .place(&l, &a)
                .map_err(|e| (OcfCode::NotConfigured, e))
        }) {
            Ok(_) => (OcfCode::Ok, None),
            Err((code, reason)) => (code, Some(reason)),
        },
        other => (
            OcfCode::Unimplemented,
            Some(format!("an IP address has no {} action", other.action())),
        ),
    };
    OpResult::new(code, reason, started)
}

type Outcome = (OcfCode, Option<String>);

fn snapshot() -> Result<(Vec<LinkInfo>, Vec<AddrInfo>), (OcfCode, String)> {
    let io = |e: std::io::Error| (OcfCode::Error, format!("netlink: {e}"));
    let mut route = Route::open().map_err(io)?;
    let links = route.links().map_err(io)?;
    let addresses = route.addresses().map_err(io)?;
    Ok((links, addresses))
}

async fn start(config: &VipConfig) -> Outcome {
    let (links, addresses) = match snapshot() {
        Ok(s) => s,
        Err((code, reason)) => return (code, Some(reason)),
    };
    let placement = match config.place(&links, &addresses) {
        Ok(p) => p,
        Err(reason) => return (OcfCode::NotConfigured, Some(reason)),
    };
    if placement.link.flags & IFF_UP == 0 {
        return (
            OcfCode::Error,
            Some(format!(
                "interface {} is down: bring it up (ip link set {} up)",
                placement.link.name, placement.link.name
            )),
        );
    }
    let request = AddrRequest {
        index: placement.link.index,
        address: config.ip,
        prefix_len: placement.prefix_len,
        broadcast: placement.broadcast,
        label: placement.label.clone(),
        flags: if config.ip.is_ipv6() {
            netlink::wire::IFA_F_NODAD
        } else {
            0
        },
    };
    let added = Route::open().and_then(|mut r| r.add_address(&request));
    match added {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => {
            return (
                OcfCode::Error,
                Some(format!(
                    "cannot add {}/{} to {}: {e}",
                    config.ip, placement.prefix_len, placement.link.name
                )),
            )
        }
    }
    announce(config, &placement.link.name).await
}

async fn announce(config: &VipConfig, iface: &str) -> Outcome {
    cancel_announcements(config.ip);
    let iface = iface.to_string();
    let ip = config.ip;
    let count = config.arp_count;
    let interval = config.arp_interval;
    let burst = async move {
        send_announcements(&iface, vec![ip], GarpMode::Both, count, interval, None).await
    };
    if config.arp_background {
        // The raw socket is opened when the task first runs, on this
        // thread for a current-thread runtime; a failure to announce later
        // cannot change the start's result, as with IPaddr2's arp_bg.
        let task = tokio::spawn(burst);
        if let Ok(mut running) = announcements().lock() {
            running.insert(ip, task.abort_handle());
        }
        // Let the first round go out before start reports success.
        tokio::task::yield_now().await;
        (OcfCode::Ok, None)
    } else {
        match burst.await {
            Ok(_) => (OcfCode::Ok, None),
            Err(e) => (
                OcfCode::Error,
                Some(format!("added, but cannot announce {ip}: {e}")),
            ),
        }
    }
}

fn announcements() -> &'static Mutex<HashMap<IpAddr, tokio::task::AbortHandle>> {
    static RUNNING: OnceLock<Mutex<HashMap<IpAddr, tokio::task::AbortHandle>>> = OnceLock::new();
    RUNNING.get_or_init(|| Mutex::new(HashMap::new()))
}

fn cancel_announcements(ip: IpAddr) {
    if let Ok(mut running) = announcements().lock() {
        if let Some(task) = running.remove(&ip) {
            task.abort();
        }
    }
}

fn present<'a>(
    config: &VipConfig,
    links: &'a [LinkInfo],
    addresses: &'a [AddrInfo],
) -> Vec<(&'a AddrInfo, Option<&'a LinkInfo>)> {
    addresses
        .iter()
        .filter(|a| a.address == config.ip)
        .map(|a| (a, links.iter().find(|l| l.index == a.index)))
        .filter(|(_, l)| match (&config.nic, l) {
            (Some(nic), Some(l)) => &l.name == nic,
            (Some(_), None) => false,
            (None, _) => true,
        })
        .collect()
}

fn stop(config: &VipConfig) -> Outcome {
    cancel_announcements(config.ip);
    let (links, addresses) = match snapshot() {
        Ok(s) => s,
        Err((code, reason)) => return (code, Some(reason)),
    };
    let mut route = match Route::open() {
        Ok(r) => r,
        Err(e) => return (OcfCode::Error, Some(format!("netlink: {e}"))),
    };
    for (addr, _) in present(config, &links, &addresses) {
        let request = AddrRequest {
            index: addr.index,
            address: addr.address,
            prefix_len: addr.prefix_len,
            broadcast: None,
            label: None,
            flags: 0,
        };
        match route.delete_address(&request) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EADDRNOTAVAIL) => {}
            Err(e) => {
                return (
                    OcfCode::Error,
                    Some(format!("cannot remove {}: {e}", config.ip)),
                )
            }
        }
    }
    (OcfCode::Ok, None)
}

fn monitor(config: &VipConfig) -> Outcome {
    let (links, addresses) = match snapshot() {
        Ok(s) => s,
        Err((code, reason)) => return (code, Some(reason)),
    };
    let found = present(config, &links, &addresses);
    if found.is_empty() {
        return (OcfCode::NotRunning, None);
    }
    for (addr, link) in &found {
        let up = link.is_some_and(|l| l.flags & IFF_UP != 0);
        if up && addr.flags & netlink::wire::IFA_F_DADFAILED == 0 {
            return (OcfCode::Ok, None);
        }
    }
    (
        OcfCode::NotRunning,
        Some(format!(
            "{} is configured but its interface is down (or DAD failed)",
            config.ip
        )),
    )
}

fn longest_match<'a>(
    ip: IpAddr,
    candidates: impl Iterator<Item = &'a AddrInfo>,
) -> Option<&'a AddrInfo> {
    candidates
        .filter(|a| contains(a.address, a.prefix_len, ip))
        .max_by_key(|a| a.prefix_len)
}

/// `ip` is in `network/prefix_len`.
pub fn contains(network: IpAddr, prefix_len: u8, ip: IpAddr) -> bool {
    match (network, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) if prefix_len <= 32 => {
            let mask = u32::MAX
                .checked_shl(32 - u32::from(prefix_len))
                .unwrap_or(0);
            u32::from(n) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(i)) if prefix_len <= 128 => {
            let mask = u128::MAX
                .checked_shl(128 - u32::from(prefix_len))
                .unwrap_or(0);
            u128::from(n) & mask == u128::from(i) & mask
        }
        _ => false,
    }
}

fn parse_ip(value: &str) -> Result<IpAddr, String> {
    value
        .trim()
        .parse()
        .map_err(|_| format!("ip {value:?} is not an IPv4 or IPv6 address"))
}

fn parse_netmask(value: &str) -> Result<u8, String> {
    if let Ok(bits) = value.parse::<u8>() {
        if bits <= 128 {
            return Ok(bits);
        }
    }
    if let Ok(mask) = value.parse::<Ipv4Addr>() {
        let bits = u32::from(mask);
        if bits.leading_ones() + bits.trailing_zeros() == 32 {
            return Ok(bits.leading_ones() as u8);
        }
    }
    Err(format!(
        "netmask {value:?} is neither a prefix length (24) nor a contiguous dotted mask (255.255.255.0)"
    ))
}

fn parse_nic(value: &str) -> Result<String, String> {
    // IPaddr2 accepts `eth0:label` here (old style); the label part is ignored.
    let name = value.split(':').next().unwrap_or("");
    if name.is_empty()
        || name.len() > 15
        || name.contains('/')
        || name.chars().any(char::is_whitespace)
    {
        return Err(format!("nic {value:?} is not an interface name"));
    }
    Ok(name.to_string())
}

fn parse_broadcast(value: &str) -> Result<Option<Ipv4Addr>, String> {
    match value {
        "" | "+" => Ok(None),
        other => other
            .parse()
            .map(Some)
            .map_err(|_| format!("broadcast {other:?} is not an IPv4 address (or +)")),
    }
}

fn parse_bool(name: &str, value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" | "1" => Ok(true),
        "false" | "no" | "off" | "0" => Ok(false),
        _ => Err(format!("{name}={value:?} is not a boolean (true/false)")),
    }
}

const META_DATA: &str = r#"<?xml version="1.0"?>
<!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd">
<resource-agent name="IPaddr2" version="ironbeat">
<version>1.1</version>
<longdesc lang="en">ironbeat's built-in IP address agent: netlink, no fork/exec; always announces the address on start.</longdesc>
<shortdesc lang="en">Manages a virtual IPv4 or IPv6 address</shortdesc>
<parameters>
<parameter name="ip" unique="1" required="1"><shortdesc lang="en">The address</shortdesc><content type="string"/></parameter>
<parameter name="nic"><shortdesc lang="en">Interface (default: found from the subnet)</shortdesc><content type="string"/></parameter>
<parameter name="cidr_netmask"><shortdesc lang="en">Prefix length (default: from the interface)</shortdesc><content type="string"/></parameter>
<parameter name="broadcast"><shortdesc lang="en">IPv4 broadcast (default: computed)</shortdesc><content type="string"/></parameter>
<parameter name="iflabel"><shortdesc lang="en">Label suffix</shortdesc><content type="string"/></parameter>
<parameter name="arp_count"><shortdesc lang="en">Announcement rounds</shortdesc><content type="integer" default="5"/></parameter>
<parameter name="arp_interval"><shortdesc lang="en">Milliseconds between rounds</shortdesc><content type="integer" default="200"/></parameter>
<parameter name="arp_bg"><shortdesc lang="en">Announce in the background</shortdesc><content type="boolean" default="true"/></parameter>
</parameters>
<actions>
<action name="start" timeout="20s"/>
<action name="stop" timeout="20s"/>
<action name="monitor" timeout="20s" interval="10s" depth="0"/>
<action name="meta-data" timeout="5s"/>
<action name="validate-all" timeout="20s"/>
</actions>
</resource-agent>
"#;

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn spec(class: Class, params: &[(&str, &str)]) -> AgentSpec {
        AgentSpec {
            id: "vip".into(),
            class,
            provider: (class == Class::Ocf).then(|| "heartbeat".to_string()),
            agent: "IPaddr2".into(),
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<BTreeMap<_, _>>(),
            builtin: true,
        }
    }

    fn link(index: u32, name: &str) -> LinkInfo {
        LinkInfo {
            index,
            name: name.into(),
            flags: IFF_UP,
        }
    }

    fn addr(index: u32, ip: &str, prefix_len: u8) -> AddrInfo {
        AddrInfo {
            index,
            address: ip.parse().unwrap(),
            prefix_len,
            label: None,
            broadcast: None,
            flags: 0,
        }
    }

    #[test]
    fn parameters() {
        let c = VipConfig::from_spec(&spec(
            Class::Ocf,
            &[
                ("ip", "198.18.4.100"),
                ("cidr_netmask", "255.255.255.0"),
                ("arp_count", "3"),
            ],
        ))
        .unwrap();
        assert_eq!(c.prefix_len, Some(24));
        assert_eq!(c.arp_count, 3);
        let err = VipConfig::from_spec(&spec(
            Class::Ocf,
            &[("ip", "198.18.4.100"), ("colour", "red")],
        ))
        .unwrap_err();
        assert!(err.contains("colour"), "{err}");
        let err = VipConfig::from_spec(&spec(Class::Ocf, &[("cidr_netmask", "24")])).unwrap_err();
        assert!(err.contains("ip is required"), "{err}");
        let err = VipConfig::from_spec(&spec(
            Class::Ocf,
            &[("ip", "198.18.4.100"), ("lvs_support", "true")],
        ))
        .unwrap_err();
        assert!(err.contains("lvs_support"), "{err}");
        for hostile in ["", "1.2.3", "198.18.4.1/24", "::g", "\u{0}"] {
            assert!(
                VipConfig::from_spec(&spec(Class::Ocf, &[("ip", hostile)])).is_err(),
                "{hostile:?}"
            );
        }
        for hostile in ["33x", "255.0.255.0", "129", "-1"] {
            assert!(
                VipConfig::from_spec(&spec(
                    Class::Ocf,
                    &[("ip", "198.18.4.1"), ("cidr_netmask", hostile)]
                ))
                .is_err(),
                "{hostile:?}"
            );
        }
        assert!(VipConfig::from_spec(&spec(
            Class::Ocf,
            &[("ip", "198.18.4.1"), ("cidr_netmask", "33")]
        ))
        .is_err());
        assert!(VipConfig::from_spec(&spec(
            Class::Ocf,
            &[("ip", "198.18.4.1"), ("arp_count", "0")]
        ))
        .is_err());
    }

    #[test]
    fn heartbeat_argument() {
        let c = VipConfig::from_spec(&spec(
            Class::Heartbeat,
            &[("1", "198.18.4.100/24/eth0/198.18.4.255")],
        ))
        .unwrap();
        assert_eq!(c.prefix_len, Some(24));
        assert_eq!(c.nic.as_deref(), Some("eth0"));
        assert_eq!(c.broadcast, Some("198.18.4.255".parse().unwrap()));
        let c = VipConfig::from_spec(&spec(Class::Heartbeat, &[("1", "198.18.4.100")])).unwrap();
        assert_eq!((c.prefix_len, c.nic), (None, None));
        assert!(VipConfig::from_spec(&spec(
            Class::Heartbeat,
            &[("1", "198.18.4.100/24/eth0/+/x")]
        ))
        .is_err());
        assert!(VipConfig::from_spec(&spec(Class::Heartbeat, &[("1", "///")])).is_err());
        assert!(VipConfig::from_spec(&spec(Class::Heartbeat, &[])).is_err());
    }

    #[test]
    fn findif_picks_the_longest_matching_prefix_on_an_up_interface() {
        let links = [
            link(1, "lo"),
            link(2, "eth0"),
            link(3, "eth1"),
            LinkInfo {
                index: 4,
                name: "down0".into(),
                flags: 0,
            },
        ];
        let addresses = [
            addr(1, "127.0.0.1", 8),
            addr(2, "198.18.0.1", 15),
            addr(3, "198.18.4.1", 24),
            addr(4, "198.18.4.2", 28),
        ];
        let c = VipConfig::from_spec(&spec(
            Class::Ocf,
            &[("ip", "198.18.4.100"), ("iflabel", "vip")],
        ))
        .unwrap();
        let p = c.place(&links, &addresses).unwrap();
        assert_eq!(p.link.name, "eth1");
        assert_eq!(p.prefix_len, 24);
        assert_eq!(p.broadcast, Some("198.18.4.255".parse().unwrap()));
        assert_eq!(p.label.as_deref(), Some("eth1:vip"));
        let c = VipConfig::from_spec(&spec(Class::Ocf, &[("ip", "198.19.200.1")])).unwrap();
        assert_eq!(c.place(&links, &addresses).unwrap().link.name, "eth0");
        let c = VipConfig::from_spec(&spec(Class::Ocf, &[("ip", "203.0.113.5")])).unwrap();
        assert!(c
            .place(&links, &addresses)
            .unwrap_err()
            .contains("no up interface"));
        let c = VipConfig::from_spec(&spec(
            Class::Ocf,
            &[("ip", "198.18.4.100"), ("nic", "nope0")],
        ))
        .unwrap();
        assert!(c.place(&links, &addresses).unwrap_err().contains("nope0"));
        let c = VipConfig::from_spec(&spec(
            Class::Ocf,
            &[("ip", "198.18.4.100"), ("iflabel", "muchtoolonglabel")],
        ))
        .unwrap();
        assert!(c
            .place(&links, &addresses)
            .unwrap_err()
            .contains("15 bytes"));
    }

    #[test]
    fn prefix_containment() {
        assert!(contains(
            "198.18.0.0".parse().unwrap(),
            15,
            "198.19.255.255".parse().unwrap()
        ));
        assert!(!contains(
            "198.18.0.0".parse().unwrap(),
            16,
            "198.19.0.1".parse().unwrap()
        ));
        assert!(contains(
            "198.18.0.0".parse().unwrap(),
            0,
            "1.1.1.1".parse().unwrap()
        ));
        assert!(contains(
            "fd00::1".parse().unwrap(),
            64,
            "fd00::abcd".parse().unwrap()
        ));
        assert!(!contains(
            "fd00::1".parse().unwrap(),
            129,
            "fd00::1".parse().unwrap()
        ));
        assert!(!contains(
            "fd00::1".parse().unwrap(),
            64,
            "198.18.0.1".parse().unwrap()
        ));
    }
}
