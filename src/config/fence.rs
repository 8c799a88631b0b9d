//! The native file's `[fence]` section: `[[fence.device]]` tables, checked
//! into [`Fencing`] with every error at `FILE:LINE`.
//!
//! ```toml
//! [[fence.device]]
//! name = "node2-bmc"                 # unique
//! type = "ipmi"                      # the keys below are ipmi's
//! nodes = ["node2"]                  # the node it powers
//! ip = "198.18.1.2"
//! username = "admin"
//! password_file = "/etc/ironbeat/node2-bmc.pass"   # mode 0600, owner root
//! ```
//!
//! Common to every type: `name`, `type`, `nodes`. The IPMI keys mean what
//! the parameters of `stonith -t ipmi` mean (docs/fencing.md): both front
//! doors produce the same [`IpmiDevice`].

use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ironbeat_fence::ipmi::crypto::{
    CipherSuite, Secret, MAX_PASSWORD_LEN_V15, MAX_PASSWORD_LEN_V20,
};
use ironbeat_fence::ipmi::wire::rakp::MAX_USER_NAME_LEN;
use ironbeat_link::ErrorKind;
use serde::de::IgnoredAny;
use serde::Deserialize;
use toml::Spanned;

use super::error::ConfigError;
use super::model::{
    Autojoin, FenceAgent, FenceDevice, FenceLevel, Fencing, IpmiAuth, IpmiDevice, IpmiInterface,
    IpmiPrivilege, PasswordSource, RebootMethod,
};
use super::native::{duration, Source};
use super::values::{check_host, check_node_name, nearest};

/// `type = "fence-agent"` and `type = "external"` (external agents).
#[path = "fence_external.rs"]
pub mod external;

/// `type = "redfish"`, `"ilo"`, `"idrac"` (Redfish BMCs).
#[path = "fence_redfish.rs"]
pub mod redfish;

/// `type = "apc"` (APC switched PDUs over SNMP).
#[path = "fence_apc.rs"]
pub mod apc;

/// The device types `type` accepts.
pub const DEVICE_TYPES: &[&str] = &[
    "ipmi",
    "manual",
    "fence-agent",
    "external",
    "redfish",
    "ilo",
    "idrac",
    "apc",
];

/// The longest `delay` a device takes.
const MAX_DEVICE_DELAY: Duration = Duration::from_secs(300);

/// The RMCP port of a BMC.
const IPMI_PORT: u16 = 623;

/// The client's deadline when `timeout` is not written (the IPMI client's
/// default), for the `power_wait` check.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);

/// `[fence]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFence {
    #[serde(default)]
    device: Vec<Spanned<RawDevice>>,
    #[serde(default)]
    level: Vec<Spanned<RawLevel>>,
}

/// One `[[fence.level]]`: for `node`, a level of devices that must all
/// succeed; a node's levels are tried in file order.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLevel {
    node: Option<Spanned<String>>,
    devices: Option<Spanned<Vec<Spanned<String>>>>,
}

/// One `[[fence.device]]`, every key any type takes.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDevice {
    name: Option<Spanned<String>>,
    #[serde(rename = "type")]
    type_: Option<Spanned<String>>,
    nodes: Option<Spanned<Vec<Spanned<String>>>>,
    ip: Option<Spanned<String>>,
    port: Option<Spanned<i64>>,
    username: Option<Spanned<String>>,
    password_file: Option<Spanned<String>>,
    /// Refused with the fix; its value (a secret) is never kept or shown.
    password: Option<Spanned<IgnoredAny>>,
    interface: Option<Spanned<String>>,
    cipher: Option<Spanned<i64>>,
    auth: Option<Spanned<String>>,
    privilege: Option<Spanned<String>>,
    allow_cipher_zero: Option<Spanned<bool>>,
    timeout: Option<Spanned<String>>,
    power_wait: Option<Spanned<String>>,
    method: Option<Spanned<String>>,
    /// `fence-agent`: the fence-agents agent.
    agent: Option<Spanned<String>>,
    /// `external`: the cluster-glue plugin.
    plugin: Option<Spanned<String>>,
    /// `fence-agent`, `external`: the agent's own parameters.
    params: Option<Spanned<external::ParamsTable>>,
    /// `fence-agent`, `external`: secret parameters from 0600 files.
    secret_files: Option<Spanned<external::SecretFilesTable>>,
    /// `external`: take the plugin's word for off/reset.
    accept_unverified: Option<Spanned<bool>>,
    /// Redfish: the ComputerSystem's URI.
    systems_uri: Option<Spanned<String>>,
    /// Redfish: CA file (PEM).
    ssl_ca: Option<Spanned<String>>,
    /// Redfish: the certificate's SHA-256 fingerprint.
    ssl_fingerprint: Option<Spanned<String>>,
    /// Redfish: accept any certificate.
    ssl_insecure: Option<Spanned<bool>>,
    /// Redfish: false = plain HTTP.
    ssl: Option<Spanned<bool>>,
    /// APC: the 0600 file with the community or the SNMPv3 user and passphrases.
    credentials_file: Option<Spanned<String>>,
    /// APC: SNMP version (1, 2c, 3).
    snmp_version: Option<Spanned<String>>,
    /// APC, SNMPv3: noAuthNoPriv, authNoPriv, authPriv.
    snmp_sec_level: Option<Spanned<String>>,
    /// APC, SNMPv3: MD5, SHA, SHA-256...
    snmp_auth_prot: Option<Spanned<String>>,
    /// APC, SNMPv3: DES, AES...
    snmp_priv_prot: Option<Spanned<String>>,
    /// APC: each node's outlet (number or name), in the order of nodes.
    outlets: Option<Spanned<Vec<Spanned<String>>>>,
    /// APC: the table set (rpdu, rpdu2, masterswitch) instead of detection.
    profile: Option<Spanned<String>>,
    /// Waited before the device acts (any type).
    delay: Option<Spanned<String>>,
}

/// Whether password files are opened and checked (loading) or only named
/// (checking text, fuzzing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Files {
    /// Check each password file: present, private, owned by root (or us),
    /// a password of the right length on its first line.
    Check,
    /// Leave the file system alone.
    Skip,
}

/// The cluster facts a device is checked against.
pub(super) struct Cluster<'a> {
    /// `[cluster] nodes`.
    pub members: &'a [String],
    /// Whether unlisted nodes may join (then devices may name them).
    pub autojoin: Autojoin,
}

/// Checks `[fence]` into the model.
pub(super) fn fencing(
    src: &Source<'_>,
    raw: Option<&RawFence>,
    cluster: &Cluster<'_>,
    files: Files,
) -> Result<Fencing, ConfigError> {
    let mut devices: Vec<FenceDevice> = Vec::new();
    for raw_device in raw.map_or(&[][..], |f| &f.device[..]) {
        let device = device(src, raw_device, cluster, &devices, files)?;
        devices.push(device);
    }
    let mut levels: Vec<FenceLevel> = Vec::new();
    for raw_level in raw.map_or(&[][..], |f| &f.level[..]) {
        levels.push(level(src, raw_level, &devices, &levels)?);
    }
    check_topology(src, raw, &devices, &levels)?;
    Ok(Fencing { devices, levels })
}

fn level(
    src: &Source<'_>,
    raw: &Spanned<RawLevel>,
    devices: &[FenceDevice],
    earlier: &[FenceLevel],
) -> Result<FenceLevel, ConfigError> {
    let span = raw.span();
    let raw = raw.get_ref();
    let Some(node) = &raw.node else {
        return Err(src.error(
            &span,
            "this [[fence.level]] has no `node`; add the node it fences, e.g. node = \"node2\"",
        ));
    };
    let node_span = node.span();
    let node = node.get_ref().clone();
    let Some(list) = &raw.devices else {
        return Err(src.error(
            &node_span,
            format!(
                "this level of {node} has no `devices`; list the devices that must all succeed, \
                 e.g. devices = [\"{node}-bmc\"] (a level per line of attack: IPMI first, then \
                 both PDU outlets of a dual-PSU server)"
            ),
        ));
    };
    if list.get_ref().is_empty() {
        return Err(src.error(
            &list.span(),
            "`devices` is empty; list at least one device of this level",
        ));
    }
    let mut names: Vec<String> = Vec::new();
    for name in list.get_ref() {
        let value = name.get_ref();
        let Some(device) = devices.iter().find(|d| d.name == *value) else {
            let hint = nearest(value, devices.iter().map(|d| d.name.as_str()))
                .map(|n| format!("did you mean {n:?}? "))
                .unwrap_or_default();
            return Err(src.error(
                &name.span(),
                format!(
                    "no [[fence.device]] is named {value:?}; {hint}the devices are {}",
                    devices
                        .iter()
                        .map(|d| d.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        };
        if !device.nodes.iter().any(|n| n.eq_ignore_ascii_case(&node)) {
            return Err(src.error(
                &name.span(),
                format!(
                    "device {value:?} (line {}) does not fence {node}: add {node:?} to its \
                     `nodes`, or take it out of this level",
                    device.location.line
                ),
            ));
        }
        if names.contains(value) {
            return Err(src.error(
                &name.span(),
                format!("device {value:?} is listed twice in this level; list it once"),
            ));
        }
        names.push(value.clone());
    }
    if let Some(same) = earlier
        .iter()
        .find(|l| l.node.eq_ignore_ascii_case(&node) && l.devices == names)
    {
        return Err(src.error(
            &list.span(),
            format!(
                "{node} already has this level at line {}; a second try with the same devices \
                 adds nothing (the fencer retries after a failure anyway): remove one",
                same.location.line
            ),
        ));
    }
    Ok(FenceLevel {
        node,
        devices: names,
        location: src.location(&node_span),
    })
}

/// A node fenced by several devices needs levels saying in which order
/// (and which together); with levels, every device of that node must be
/// in one, or it would never be used.
fn check_topology(
    src: &Source<'_>,
    raw: Option<&RawFence>,
    devices: &[FenceDevice],
    levels: &[FenceLevel],
) -> Result<(), ConfigError> {
    for (i, device) in devices.iter().enumerate() {
        for node in &device.nodes {
            let has_levels = levels.iter().any(|l| l.node.eq_ignore_ascii_case(node));
            let other = devices[..i]
                .iter()
                .find(|d| d.nodes.iter().any(|n| n.eq_ignore_ascii_case(node)));
            // Point at this node in the device's `nodes`.
            let at = raw
                .and_then(|r| r.device.get(i))
                .and_then(|d| d.get_ref().nodes.as_ref())
                .and_then(|list| {
                    list.get_ref()
                        .iter()
                        .find(|n| n.get_ref().eq_ignore_ascii_case(node))
                        .map(|n| n.span())
                })
                .unwrap_or(0..0);
            if let (Some(other), false) = (other, has_levels) {
                return Err(src.error(
                    &at,
                    format!(
                        "{node} is fenced by {:?} (line {}) and by {:?}, and nothing says in \
                         which order: add a [[fence.level]] per attempt, e.g. node = \
                         \"{node}\", devices = [\"{}\"], then node = \"{node}\", devices = \
                         [\"{}\"] (devices of one level must all succeed)",
                        other.name, other.location.line, device.name, other.name, device.name
                    ),
                ));
            }
            let used = levels
                .iter()
                .any(|l| l.node.eq_ignore_ascii_case(node) && l.devices.contains(&device.name));
            if has_levels && !used {
                return Err(src.error(
                    &at,
                    format!(
                        "device {:?} fences {node}, but no [[fence.level]] of {node} uses it, so \
                         it would never be tried: add it to a level, or remove {node:?} from its \
                         `nodes`",
                        device.name
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn device(
    src: &Source<'_>,
    raw: &Spanned<RawDevice>,
    cluster: &Cluster<'_>,
    earlier: &[FenceDevice],
    files: Files,
) -> Result<FenceDevice, ConfigError> {
    let table_span = raw.span();
    let raw = raw.get_ref();
    let Some(name) = &raw.name else {
        return Err(src.error(
            &table_span,
            "this [[fence.device]] has no `name`; add one, e.g. name = \"node2-bmc\" (unique: \
             messages name the device by it)",
        ));
    };
    let name_span = name.span();
    let name = name.get_ref();
    check_device_name(name).map_err(|m| src.error(&name_span, m))?;
    if let Some(first) = earlier.iter().find(|d| d.name == *name) {
        return Err(src.error(
            &name_span,
            format!(
                "device name {name:?} is already used at line {}; give each [[fence.device]] \
                 its own name",
                first.location.line
            ),
        ));
    }
    let Some(type_) = &raw.type_ else {
        return Err(src.error(
            &name_span,
            format!(
                "device {name:?} has no `type`; add type = \"ipmi\" (known types: {})",
                DEVICE_TYPES.join(", ")
            ),
        ));
    };
    let type_name = type_.get_ref().as_str();
    let unknown_type = || {
        let hint = if matches!(type_name, "external/ipmi" | "ipmilan") {
            format!("cluster-glue's {type_name} is written type = \"ipmi\" here; ")
        } else {
            nearest(type_name, DEVICE_TYPES.iter().copied())
                .map(|n| format!("did you mean \"{n}\"? "))
                .unwrap_or_default()
        };
        src.error(
            &type_.span(),
            format!(
                "unknown fence device type {type_name:?}; {hint}known types: {} \
                 (docs/fencing.md)",
                DEVICE_TYPES.join(", ")
            ),
        )
    };
    // The type first: what the other keys mean depends on it.
    if !DEVICE_TYPES.contains(&type_name) {
        return Err(unknown_type());
    }
    let nodes = nodes(src, raw, name, &name_span, cluster)?;
    let agent = match type_name {
        "ipmi" => FenceAgent::Ipmi(ipmi(src, raw, name, &name_span, &nodes, files)?),
        "manual" => {
            manual(src, raw)?;
            FenceAgent::Manual
        }
        "redfish" | "ilo" | "idrac" => FenceAgent::Redfish(redfish::parse(
            src, raw, type_name, name, &name_span, &nodes, files,
        )?),
        "apc" => FenceAgent::Apc(apc::parse(src, raw, name, &name_span, &nodes, files)?),
        "fence-agent" | "external" => FenceAgent::External(external::external(
            src, raw, type_name, name, &name_span, files,
        )?),
        _ => return Err(unknown_type()),
    };
    let delay = match &raw.delay {
        None => Duration::ZERO,
        Some(d) => {
            let delay = duration(src, "delay", d)?;
            if delay > MAX_DEVICE_DELAY {
                return Err(src.error(
                    &d.span(),
                    format!(
                        "delay {delay:?} is longer than {MAX_DEVICE_DELAY:?}: the node's \
                         resources would wait that long at every fencing; a few seconds \
                         decide a race (e.g. delay = \"5s\")"
                    ),
                ));
            }
            delay
        }
    };
    Ok(FenceDevice {
        name: name.clone(),
        nodes,
        agent,
        delay,
        location: src.location(&name_span),
    })
}

/// `type = "manual"` (fencing by hand, `ironbeat fence confirm`) takes no
/// device keys: each one given is an error at its line.
fn manual(src: &Source<'_>, raw: &RawDevice) -> Result<(), ConfigError> {
    let spans = [
        ("ip", raw.ip.as_ref().map(|v| v.span())),
        ("port", raw.port.as_ref().map(|v| v.span())),
        ("username", raw.username.as_ref().map(|v| v.span())),
        (
            "password_file",
            raw.password_file.as_ref().map(|v| v.span()),
        ),
        ("password", raw.password.as_ref().map(|v| v.span())),
        ("interface", raw.interface.as_ref().map(|v| v.span())),
        ("cipher", raw.cipher.as_ref().map(|v| v.span())),
        ("auth", raw.auth.as_ref().map(|v| v.span())),
        ("privilege", raw.privilege.as_ref().map(|v| v.span())),
        (
            "allow_cipher_zero",
            raw.allow_cipher_zero.as_ref().map(|v| v.span()),
        ),
        ("timeout", raw.timeout.as_ref().map(|v| v.span())),
        ("power_wait", raw.power_wait.as_ref().map(|v| v.span())),
        ("method", raw.method.as_ref().map(|v| v.span())),
    ];
    match spans
        .into_iter()
        .find_map(|(key, span)| span.map(|s| (key, s)))
    {
        Some((key, span)) => Err(src.error(
            &span,
            format!(
                "a manual device has no `{key}`: an operator powers its nodes off and runs \
                 `ironbeat fence confirm NODE`; remove `{key}` (or use type = \"ipmi\")"
            ),
        )),
        None => Ok(()),
    }
}

/// A device name: 1–64 letters, digits, `-`, `_`, `.` (the node-name rule,
/// so names read the same in messages and can be referred to later).
fn check_device_name(name: &str) -> Result<(), String> {
    check_node_name(name).map_err(|_| {
        format!(
            "device name {name:?} must be 1 to 64 letters, digits, `-`, `_` or `.`, e.g. \
             \"node2-bmc\""
        )
    })
}

fn nodes(
    src: &Source<'_>,
    raw: &RawDevice,
    name: &str,
    name_span: &std::ops::Range<usize>,
    cluster: &Cluster<'_>,
) -> Result<Vec<String>, ConfigError> {
    let Some(list) = &raw.nodes else {
        return Err(src.error(
            name_span,
            format!(
                "device {name:?} has no `nodes`; add the node it powers, e.g. nodes = [\"node2\"]"
            ),
        ));
    };
    if list.get_ref().is_empty() {
        return Err(src.error(
            &list.span(),
            "`nodes` is empty; list the node this device powers, e.g. nodes = [\"node2\"]",
        ));
    }
    let mut nodes: Vec<String> = Vec::new();
    for node in list.get_ref() {
        let value = node.get_ref();
        let span = node.span();
        check_node_name(value).map_err(|m| src.error(&span, m))?;
        if cluster.autojoin == Autojoin::None && !cluster.members.contains(value) {
            return Err(src.error(
                &span,
                format!(
                    "node {value:?} is not a member; add it to [cluster] nodes, or fix the name \
                     (members: {}; names are case-sensitive)",
                    cluster.members.join(", ")
                ),
            ));
        }
        if nodes.iter().any(|n| n.eq_ignore_ascii_case(value)) {
            return Err(src.error(
                &span,
                format!("node {value:?} is listed twice; list it once"),
            ));
        }
        nodes.push(value.clone());
    }
    Ok(nodes)
}

fn ipmi(
    src: &Source<'_>,
    raw: &RawDevice,
    name: &str,
    name_span: &std::ops::Range<usize>,
    nodes: &[String],
    files: Files,
) -> Result<IpmiDevice, ConfigError> {
    if nodes.len() > 1 {
        let span = raw.nodes.as_ref().map_or(name_span.clone(), Spanned::span);
        return Err(src.error(
            &span,
            format!(
                "an ipmi device is the BMC of one machine, but {name:?} lists {} nodes; keep \
                 one, and write a [[fence.device]] for each other node's BMC",
                nodes.len()
            ),
        ));
    }
    let required = |key: &str, value: Option<&Spanned<String>>, example: &str| {
        value.cloned().ok_or_else(|| {
            src.error(
                name_span,
                format!("ipmi device {name:?} needs `{key}`; add {key} = \"{example}\""),
            )
        })
    };

    let ip = required("ip", raw.ip.as_ref(), "198.18.1.2")?;
    check_host(ip.get_ref().trim()).map_err(|m| src.error(&ip.span(), m))?;

    let port = match &raw.port {
        Some(p) => match u16::try_from(*p.get_ref()) {
            Ok(v) if v > 0 => v,
            _ => {
                return Err(src.error(
                    &p.span(),
                    format!(
                        "port {} is not a UDP port; use 1 to 65535 (a BMC listens on {IPMI_PORT})",
                        p.get_ref()
                    ),
                ))
            }
        },
        None => IPMI_PORT,
    };

    let username = required("username", raw.username.as_ref(), "admin")?;
    if username.get_ref().len() > MAX_USER_NAME_LEN {
        return Err(src.error(
            &username.span(),
            format!(
                "username is {} bytes long; IPMI user names have at most {MAX_USER_NAME_LEN}",
                username.get_ref().len()
            ),
        ));
    }

    if let Some(p) = &raw.password {
        return Err(src.error(
            &p.span(),
            format!(
                "a BMC password is not written in this file (it is usually readable by every \
                 user, and copied between nodes); put it on the first line of a file only \
                 root can read: install -m 600 /dev/null /etc/ironbeat/{name}.pass, write the \
                 password into it, and replace this line with password_file = \
                 \"/etc/ironbeat/{name}.pass\""
            ),
        ));
    }
    let Some(password_file) = &raw.password_file else {
        return Err(src.error(
            name_span,
            format!(
                "ipmi device {name:?} needs `password_file`, a file only root can read whose \
                 first line is the BMC password: install -m 600 /dev/null \
                 /etc/ironbeat/{name}.pass, write the password into it, and add password_file \
                 = \"/etc/ironbeat/{name}.pass\""
            ),
        ));
    };
    if password_file.get_ref().trim().is_empty() {
        return Err(src.error(
            &password_file.span(),
            "`password_file` is empty; give the path of the file holding the BMC password",
        ));
    }
    let password_path = {
        let p = PathBuf::from(password_file.get_ref());
        if p.is_absolute() {
            p
        } else {
            src.path.parent().unwrap_or(Path::new(".")).join(p)
        }
    };

    let lanplus = match &raw.interface {
        None => true,
        Some(i) => match i.get_ref().as_str() {
            "lanplus" => true,
            "lan" => false,
            other => {
                return Err(src.error(
                    &i.span(),
                    format!(
                        "interface {other:?} is not an IPMI LAN interface; use \"lanplus\" \
                         (IPMI 2.0, the default) or \"lan\" (IPMI 1.5); a cipher suite goes in \
                         `cipher`"
                    ),
                ))
            }
        },
    };
    let allow_cipher_zero = raw.allow_cipher_zero.as_ref().is_some_and(|a| *a.get_ref());
    let interface = if lanplus {
        if let Some(a) = &raw.auth {
            return Err(src.error(
                &a.span(),
                "`auth` (IPMI 1.5 authentication) applies to interface = \"lan\"; remove it, \
                 or write interface = \"lan\"",
            ));
        }
        let cipher = match &raw.cipher {
            None => None,
            Some(c) => {
                let id = u8::try_from(*c.get_ref())
                    .map_err(|_| format!("cipher suite {} does not exist", c.get_ref()))
                    .and_then(|id| {
                        CipherSuite::from_id(id)
                            .map(|s| s.id())
                            .map_err(|e| e.message().to_string())
                    })
                    .map_err(|m| {
                        src.error(
                            &c.span(),
                            format!("{m}; or remove `cipher` to try 17, then 3"),
                        )
                    })?;
                if id == 0 && !allow_cipher_zero {
                    return Err(src.error(
                        &c.span(),
                        "cipher suite 0 has no authentication: the BMC logs anyone in with any \
                         password; use 17 or 3 (or remove `cipher` to try 17, then 3), or add \
                         allow_cipher_zero = true if this BMC offers nothing else",
                    ));
                }
                Some(id)
            }
        };
        IpmiInterface::Lanplus { cipher }
    } else {
        if let Some(c) = &raw.cipher {
            return Err(src.error(
                &c.span(),
                "`cipher` (an RMCP+ cipher suite) applies to interface = \"lanplus\"; remove \
                 it, or write interface = \"lanplus\"",
            ));
        }
        let auth = match &raw.auth {
            None => None,
            Some(a) => Some(IpmiAuth::parse(a.get_ref()).map_err(|m| src.error(&a.span(), m))?),
        };
        IpmiInterface::Lan { auth }
    };

    let privilege = match &raw.privilege {
        None => IpmiPrivilege::Administrator,
        Some(p) => IpmiPrivilege::parse(p.get_ref()).map_err(|m| src.error(&p.span(), m))?,
    };
    let timeout = match &raw.timeout {
        None => None,
        Some(t) => {
            let d = duration(src, "timeout", t)?;
            if d.is_zero() {
                return Err(src.error(
                    &t.span(),
                    "timeout 0 leaves no time to reach the BMC; write e.g. \"10s\" (or remove \
                     it: 20s)",
                ));
            }
            Some(d)
        }
    };
    let power_wait = match &raw.power_wait {
        None => Duration::ZERO,
        Some(w) => {
            let d = duration(src, "power_wait", w)?;
            let deadline = timeout.unwrap_or(DEFAULT_TIMEOUT);
            if d >= deadline {
                return Err(src.error(
                    &w.span(),
                    format!(
                        "power_wait {:?} is not shorter than the request's deadline ({} ms{}): \
                         every request would time out; shorten power_wait or raise timeout",
                        w.get_ref(),
                        deadline.as_millis(),
                        if timeout.is_none() {
                            ", the default timeout"
                        } else {
                            ""
                        }
                    ),
                ));
            }
            d
        }
    };
    let method = match &raw.method {
        None => RebootMethod::OnOff,
        Some(m) => RebootMethod::parse(m.get_ref()).map_err(|e| src.error(&m.span(), e))?,
    };

    if files == Files::Check {
        check_password_file(src, &password_file.span(), &password_path, lanplus)?;
    }

    Ok(IpmiDevice {
        address: ip.get_ref().trim().to_string(),
        port,
        username: username.into_inner(),
        password: PasswordSource::File(password_path),
        interface,
        privilege,
        allow_cipher_zero,
        timeout,
        power_wait,
        method,
    })
}

/// A password file must be a regular file that only its owner can read
/// (mode 0600 or stricter), owned by root or by the user we run as (any
/// other owner could read or replace the password), whose first line is a
/// password the protocol can carry. The password itself never reaches a
/// message.
fn check_password_file(
    src: &Source<'_>,
    span: &std::ops::Range<usize>,
    path: &Path,
    lanplus: bool,
) -> Result<(), ConfigError> {
    let shown = path.display();
    let at = |message: String| src.error(span, message);
    let cannot_read = |e: &io::Error| match e.kind() {
        io::ErrorKind::NotFound => at(format!(
            "password file {shown} does not exist; create it: install -m 600 /dev/null {shown}, \
             then write the BMC password on its first line"
        )),
        io::ErrorKind::PermissionDenied => at(format!(
            "cannot read password file {shown}: {e}; run as root (fencing runs as root)"
        ))
        .with_kind(ErrorKind::Io),
        _ => at(format!("cannot read password file {shown}: {e}")).with_kind(ErrorKind::Io),
    };
    let metadata = fs::metadata(path).map_err(|e| cannot_read(&e))?;
    if !metadata.is_file() {
        return Err(at(format!(
            "password file {shown} is not a regular file; it must hold the BMC password on its \
             first line"
        )));
    }
    let mode = metadata.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(at(format!(
            "password file {shown} has mode {mode:04o}: other users can read the BMC password; \
             run chmod 600 {shown}"
        ))
        .with_kind(ErrorKind::Auth));
    }
    let owner = metadata.uid();
    let us = nix::unistd::geteuid().as_raw();
    if owner != 0 && owner != us {
        return Err(at(format!(
            "password file {shown} belongs to uid {owner}, who can read or replace the BMC \
             password; run chown root: {shown}"
        ))
        .with_kind(ErrorKind::Auth));
    }
    // Held as a Secret so the bytes are zeroed when dropped.
    let bytes = Secret::new(fs::read(path).map_err(|e| cannot_read(&e))?);
    let first = bytes
        .expose()
        .split(|b| *b == b'\n')
        .next()
        .unwrap_or_default();
    let first = first.strip_suffix(b"\r").unwrap_or(first);
    if first.is_empty() {
        return Err(at(format!(
            "password file {shown} has an empty first line; write the BMC password there"
        )));
    }
    let (limit, which) = if lanplus {
        (MAX_PASSWORD_LEN_V20, "IPMI 2.0 (interface \"lanplus\")")
    } else {
        (MAX_PASSWORD_LEN_V15, "IPMI 1.5 (interface \"lan\")")
    };
    if first.len() > limit {
        return Err(at(format!(
            "the password in {shown} is {} bytes long; {which} passwords have at most {limit} \
             (the BMC would truncate or refuse it)",
            first.len()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::native::parse_native;
    use super::*;

    /// Five lines: a cluster of three and one link.
    const HEAD: &str = "[cluster]\nnodes = [\"node1\", \"node2\", \"node3\"]\n\
                        [[link]]\nkind = \"ether\"\niface = \"eth0\"\n";
    /// Lines 6 to 12.
    const DEVICE: &str = "[[fence.device]]\nname = \"node2-bmc\"\ntype = \"ipmi\"\n\
                          nodes = [\"node2\"]\nip = \"198.18.1.2\"\nusername = \"admin\"\n\
                          password_file = \"/etc/ironbeat/node2-bmc.pass\"\n";

    fn parse(text: &str) -> Result<Fencing, ConfigError> {
        parse_native(
            text,
            Path::new("/etc/ironbeat/ironbeat.toml"),
            Some("node1"),
            Files::Skip,
        )
        .map(|n| n.fencing)
    }

    fn ipmi(fencing: &Fencing, node: &str) -> IpmiDevice {
        match &fencing.device_for(node).unwrap().agent {
            FenceAgent::Ipmi(d) => d.clone(),
            other => panic!("{node}'s device is not IPMI: {other:?}"),
        }
    }

    /// Lines 13 to 16: a manual device for node2 beside its BMC.
    const HANDS: &str = "[[fence.device]]\nname = \"hands\"\ntype = \"manual\"\n\
                         nodes = [\"node2\"]\n";

    #[test]
    fn levels_order_the_devices_of_a_node() {
        let f = parse(&format!(
            "{HEAD}{DEVICE}{HANDS}[[fence.level]]\nnode = \"node2\"\ndevices = [\"node2-bmc\"]\n\
             [[fence.level]]\nnode = \"node2\"\ndevices = [\"hands\"]\n"
        ))
        .unwrap();
        let names = |node: &str| -> Vec<Vec<String>> {
            f.levels_for(node)
                .iter()
                .map(|l| l.iter().map(|d| d.name.clone()).collect())
                .collect()
        };
        assert_eq!(names("node2"), [["node2-bmc"], ["hands"]]);
        assert_eq!(f.levels[1].location.line, 21);
        assert!(names("node3").is_empty());
        // Without levels a node's one device is its only level.
        let f = parse(&format!("{HEAD}{DEVICE}")).unwrap();
        assert_eq!(
            f.levels_for("node2")
                .iter()
                .map(Vec::len)
                .collect::<Vec<_>>(),
            [1]
        );
    }

    #[test]
    fn bad_levels_say_where_and_what_to_do() {
        let level = |body: &str| format!("{HEAD}{DEVICE}{HANDS}[[fence.level]]\n{body}");
        let cases: Vec<(String, usize, &[&str])> =
            vec![
            (
                format!("{HEAD}{DEVICE}{HANDS}"),
                16,
                &["nothing says in which order", "[[fence.level]]"],
            ),
            (level("devices = [\"hands\"]\n"), 17, &["has no `node`"]),
            (level("node = \"node2\"\n"), 18, &["has no `devices`"]),
            (
                level("node = \"node2\"\ndevices = [\"hand\"]\n"),
                19,
                &["no [[fence.device]] is named \"hand\"", "did you mean \"hands\""],
            ),
            (
                level("node = \"node3\"\ndevices = [\"hands\"]\n"),
                19,
                &["does not fence node3", "add \"node3\" to its `nodes`"],
            ),
            (
                level("node = \"node2\"\ndevices = [\"hands\", \"hands\"]\n"),
                19,
                &["listed twice in this level"],
            ),
            (
                level("node = \"node2\"\ndevices = [\"hands\"]\n"),
                9,
                &["\"node2-bmc\" fences node2, but no [[fence.level]] of node2 uses it"],
            ),
            (
                level(
                    "node = \"node2\"\ndevices = [\"hands\"]\n[[fence.level]]\nnode = \"node2\"\n\
                     devices = [\"hands\"]\n",
                ),
                22,
                &["already has this level at line 18"],
            ),
        ];
        for (text, line, wanted) in cases {
            let e = parse(&text).expect_err(&text).to_string();
            assert!(
                e.contains(&format!("ironbeat.toml:{line}:")),
                "line {line}: {e}"
            );
            for w in wanted {
                assert!(e.contains(w), "{w:?} not in: {e}");
            }
        }
    }

    #[test]
    fn every_key() {
        let f = parse(&format!(
            "{HEAD}{DEVICE}port = 6230\ninterface = \"lanplus\"\ncipher = 3\n\
             privilege = \"operator\"\nallow_cipher_zero = false\ntimeout = \"5s\"\n\
             power_wait = \"500ms\"\nmethod = \"cycle\"\n\
             [[fence.device]]\nname = \"node3-bmc\"\ntype = \"ipmi\"\nnodes = [\"node3\"]\n\
             ip = \"bmc3.example\"\nusername = \"\"\npassword_file = \"node3.pass\"\n\
             interface = \"lan\"\nauth = \"md5\"\nmethod = \"hard_reset\"\n"
        ))
        .unwrap();
        assert_eq!(f.devices.len(), 2);
        let d = &f.devices[0];
        assert_eq!(d.name, "node2-bmc");
        assert_eq!(d.nodes, ["node2"]);
        assert_eq!(d.location.line, 7);
        assert_eq!(d.agent.type_name(), "ipmi");
        let two = ipmi(&f, "NODE2");
        assert_eq!(
            two,
            IpmiDevice {
                address: "198.18.1.2".into(),
                port: 6230,
                username: "admin".into(),
                password: PasswordSource::File("/etc/ironbeat/node2-bmc.pass".into()),
                interface: IpmiInterface::Lanplus { cipher: Some(3) },
                privilege: IpmiPrivilege::Operator,
                allow_cipher_zero: false,
                timeout: Some(Duration::from_secs(5)),
                power_wait: Duration::from_millis(500),
                method: RebootMethod::PowerCycle,
            }
        );
        let three = ipmi(&f, "node3");
        assert_eq!(three.address, "bmc3.example");
        assert_eq!(three.username, "");
        assert_eq!(
            three.password,
            PasswordSource::File("/etc/ironbeat/node3.pass".into()),
            "relative to the configuration's directory"
        );
        assert_eq!(
            three.interface,
            IpmiInterface::Lan {
                auth: Some(IpmiAuth::Md5)
            }
        );
        assert_eq!(three.method, RebootMethod::HardReset);
        assert_eq!(f.fenced_nodes(), ["node2", "node3"]);
        assert!(f.device_for("node1").is_none());
    }

    #[test]
    fn defaults() {
        let d = ipmi(&parse(&format!("{HEAD}{DEVICE}")).unwrap(), "node2");
        assert_eq!(d.port, 623);
        assert_eq!(d.interface, IpmiInterface::Lanplus { cipher: None });
        assert_eq!(d.privilege, IpmiPrivilege::Administrator);
        assert!(!d.allow_cipher_zero);
        assert_eq!(d.timeout, None);
        assert_eq!(d.power_wait, Duration::ZERO);
        assert_eq!(d.method, RebootMethod::OnOff);
        assert!(parse(HEAD).unwrap().devices.is_empty());
        assert!(parse(&format!("{HEAD}[fence]\n"))
            .unwrap()
            .devices
            .is_empty());
        // With autojoin = "any", a device may power a node not listed yet.
        let f = parse(&format!(
            "[cluster]\nautojoin = \"any\"\n[[link]]\nkind = \"ether\"\niface = \"e\"\n\
             {}",
            DEVICE.replace("node2\"]", "node9\"]")
        ))
        .unwrap();
        assert!(f.device_for("node9").is_some());
        // Suite 0 with consent.
        let d = ipmi(
            &parse(&format!(
                "{HEAD}{DEVICE}cipher = 0\nallow_cipher_zero = true\n"
            ))
            .unwrap(),
            "node2",
        );
        assert_eq!(d.interface, IpmiInterface::Lanplus { cipher: Some(0) });
    }

    #[test]
    fn errors_are_located_and_say_the_fix() {
        let without = |key: &str| -> String {
            DEVICE
                .lines()
                .filter(|l| !l.starts_with(&format!("{key} =")))
                .map(|l| format!("{l}\n"))
                .collect()
        };
        let with = |line: &str| format!("{HEAD}{DEVICE}{line}\n");
        let second = |nodes: &str| {
            format!(
                "{HEAD}{DEVICE}[[fence.device]]\nname = \"spare\"\ntype = \"ipmi\"\n\
                 nodes = {nodes}\nip = \"198.18.1.9\"\nusername = \"u\"\npassword_file = \"p\"\n"
            )
        };
        let cases: Vec<(String, usize, &[&str])> = vec![
            (
                with("colour = \"red\""),
                13,
                &["unknown key `colour`", "valid here:", "password_file"],
            ),
            (with("passwd = \"x\""), 13, &["unknown key `passwd`"]),
            (
                format!("{HEAD}[fence]\ndelay = 1\n"),
                7,
                &["unknown key `delay`", "valid here: device"],
            ),
            (
                format!("{HEAD}{}", without("name")),
                6,
                &["has no `name`", "name = \"node2-bmc\""],
            ),
            (
                format!("{HEAD}{}", DEVICE.replace("node2-bmc\"", "node 2\"")),
                7,
                &["device name \"node 2\""],
            ),
            (
                second("[\"node3\"]").replace("spare", "node2-bmc"),
                14,
                &["already used at line 7", "its own name"],
            ),
            (
                format!("{HEAD}{}", without("type")),
                7,
                &["has no `type`", "known types: ipmi"],
            ),
            (
                format!("{HEAD}{}", DEVICE.replace("\"ipmi\"", "\"vmware\"")),
                8,
                &["unknown fence device type \"vmware\"", "known types: ipmi"],
            ),
            (
                format!("{HEAD}{}", DEVICE.replace("\"ipmi\"", "\"ipmj\"")),
                8,
                &["did you mean \"ipmi\""],
            ),
            (
                format!("{HEAD}{}", DEVICE.replace("\"ipmi\"", "\"external/ipmi\"")),
                8,
                &["written type = \"ipmi\" here"],
            ),
            (
                format!("{HEAD}{}", without("nodes")),
                7,
                &["has no `nodes`", "nodes = [\"node2\"]"],
            ),
            (
                format!("{HEAD}{}", DEVICE.replace("[\"node2\"]", "[]")),
                9,
                &["`nodes` is empty"],
            ),
            (
                format!("{HEAD}{}", DEVICE.replace("[\"node2\"]", "[\"node4\"]")),
                9,
                &[
                    "\"node4\" is not a member",
                    "[cluster] nodes",
                    "node1, node2, node3",
                ],
            ),
            (
                format!(
                    "{HEAD}{}",
                    DEVICE.replace("[\"node2\"]", "[\"node2\", \"node2\"]")
                ),
                9,
                &["listed twice"],
            ),
            (
                format!(
                    "{HEAD}{}",
                    DEVICE.replace("[\"node2\"]", "[\"node2\", \"node3\"]")
                ),
                9,
                &["BMC of one machine", "lists 2 nodes"],
            ),
            (
                second("[\"node2\"]"),
                16,
                &[
                    "node2 is fenced by \"node2-bmc\" (line 7) and by",
                    "nothing says in which order",
                    "add a [[fence.level]] per attempt",
                ],
            ),
            (
                format!("{HEAD}{}", DEVICE.replace("[\"node2\"]", "\"node2\"")),
                9,
                &["invalid type", "a list"],
            ),
            (
                format!("{HEAD}{}", without("ip")),
                7,
                &["needs `ip`", "ip = \"198.18.1.2\""],
            ),
            (
                format!("{HEAD}{}", DEVICE.replace("198.18.1.2", "bmc two")),
                10,
                &["neither an IP address nor a host name"],
            ),
            (with("port = 0"), 13, &["port 0 is not a UDP port", "623"]),
            (with("port = 70000"), 13, &["not a UDP port"]),
            (
                with("port = \"623\""),
                13,
                &["invalid type", "without quotes"],
            ),
            (
                format!("{HEAD}{}", without("username")),
                7,
                &["needs `username`"],
            ),
            (
                format!(
                    "{HEAD}{}",
                    DEVICE.replace("\"admin\"", "\"an-operator-name-too-long\"")
                ),
                11,
                &["25 bytes", "at most 16"],
            ),
            (
                with("password = \"hunter2-secret\""),
                13,
                &[
                    "not written in this file",
                    "install -m 600",
                    "password_file = \"/etc/ironbeat/node2-bmc.pass\"",
                ],
            ),
            (
                format!("{HEAD}{}", without("password_file")),
                7,
                &[
                    "needs `password_file`",
                    "install -m 600 /dev/null /etc/ironbeat/node2-bmc.pass",
                ],
            ),
            (
                format!(
                    "{HEAD}{}",
                    DEVICE.replace("\"/etc/ironbeat/node2-bmc.pass\"", "\" \"")
                ),
                12,
                &["`password_file` is empty"],
            ),
            (
                with("interface = \"lanplus -C 3\""),
                13,
                &["not an IPMI LAN interface", "`cipher`"],
            ),
            (
                with("cipher = 5"),
                13,
                &[
                    "cipher suite 5 is not supported",
                    "use 17 or 3",
                    "remove `cipher`",
                ],
            ),
            (
                with("cipher = 300"),
                13,
                &["cipher suite 300 does not exist"],
            ),
            (with("cipher = -1"), 13, &["cipher suite -1 does not exist"]),
            (
                with("cipher = \"17\""),
                13,
                &["invalid type", "without quotes"],
            ),
            (
                with("cipher = 0"),
                13,
                &["no authentication", "allow_cipher_zero = true"],
            ),
            (
                with("interface = \"lan\"\ncipher = 3"),
                14,
                &["applies to interface = \"lanplus\""],
            ),
            (
                with("auth = \"md5\""),
                13,
                &["applies to interface = \"lan\""],
            ),
            (
                with("interface = \"lan\"\nauth = \"md2\""),
                14,
                &["md2 is not supported", "use md5"],
            ),
            (
                with("interface = \"lan\"\nauth = \"kerberos\""),
                14,
                &["`kerberos` is unknown"],
            ),
            (
                with("privilege = \"user\""),
                13,
                &["cannot control chassis power", "operator"],
            ),
            (
                with("privilege = \"boss\""),
                13,
                &["not an IPMI privilege level"],
            ),
            (with("allow_cipher_zero = \"yes\""), 13, &["true or false"]),
            (
                with("timeout = \"5\""),
                13,
                &["timeout \"5\" has no unit", "\"5s\""],
            ),
            (with("timeout = \"soon\""), 13, &["not a duration"]),
            (with("timeout = \"0s\""), 13, &["leaves no time"]),
            (
                with("power_wait = \"20s\""),
                13,
                &["not shorter than the request's deadline (20000 ms, the default timeout)"],
            ),
            (
                with("timeout = \"5s\"\npower_wait = \"5s\""),
                14,
                &["not shorter", "raise timeout"],
            ),
            (
                with("method = \"kick\""),
                13,
                &["method `kick` is unknown", "onoff", "cycle"],
            ),
        ];
        for (text, line, needles) in &cases {
            let e = match parse(text) {
                Ok(_) => panic!("accepted:\n{text}"),
                Err(e) => e,
            };
            let shown = e.to_string();
            assert_eq!(e.line(), Some(*line), "{text}\n{shown}");
            assert!(
                shown.starts_with(&format!("/etc/ironbeat/ironbeat.toml:{line}: ")),
                "{shown}"
            );
            for needle in *needles {
                assert!(
                    shown.contains(needle),
                    "missing {needle:?}:\n{text}\n{shown}"
                );
            }
            assert!(!shown.contains("hunter2"), "{shown}");
        }
        // cluster-glue's spelling of the cycle method is taken too.
        let d = ipmi(&parse(&with("method = \"power_cycle\"")).unwrap(), "node2");
        assert_eq!(d.method, RebootMethod::PowerCycle);
    }

    #[test]
    fn debug_output_hides_passwords() {
        let mut d = ipmi(&parse(&format!("{HEAD}{DEVICE}")).unwrap(), "node2");
        d.password = PasswordSource::Inline(Secret::new("hunter2-secret"));
        let shown = format!("{d:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("redacted"), "{shown}");
    }

    #[test]
    fn hostile_input_never_panics() {
        let good = format!(
            "{HEAD}{DEVICE}port = 623\ninterface = \"lanplus\"\ncipher = 17\n\
             privilege = \"operator\"\ntimeout = \"5s\"\npower_wait = \"1s\"\nmethod = \"onoff\"\n"
        );
        assert!(parse(&good).is_ok());
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut errors = 0;
        for _ in 0..3000 {
            let mut bytes = good.as_bytes().to_vec();
            for _ in 0..3 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let at = (state as usize) % bytes.len();
                bytes[at] = b"[]=\"'#\n.,x0 -\\{}7"[(state >> 40) as usize % 17];
            }
            if let Err(e) = parse(&String::from_utf8_lossy(&bytes)) {
                errors += 1;
                assert!(
                    e.to_string().starts_with("/etc/ironbeat/ironbeat.toml"),
                    "{e}"
                );
            }
        }
        assert!(errors > 500, "{errors}");
    }
}
