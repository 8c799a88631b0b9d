//! APC switched PDUs over SNMP behind `stonith` (`-t apc`, and cluster-glue's
//! `-t apcmastersnmp` and `-t external/rackpdu` with their parameter names),
//! `fence_ironbeat` (as `fence_ironbeat_apc`, with fence_apc_snmp's options)
//! and the daemon (`[[fence.device]]` type `apc`), run by
//! `ironbeat_fence::driver::snmp`.
//!
//! A PDU powers many nodes: the node's outlet is the one carrying its name
//! (every one of them: a dual-PSU node has two), or the `plug` given. Unlike
//! the peers: every state change is verified (rackpdu never reads back,
//! apcmastersnmp trusts RebootDuration), one deadline bounds a request, and
//! a wrong community is reported as what it looks like (no response).

use std::fmt::Write as _;
use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

use ironbeat_fence::driver::snmp::{self as driver, ApcRequest};
use ironbeat_fence::power::{Action, PowerState};
use ironbeat_fence::snmp::{
    Config, Credentials, Outcome, Outlet, Profile, Request as ApcAction, Version,
};
use ironbeat_fence::Error as FenceError;

use super::agent_input::{self, fence_agents_alias, o, AgentInput, AgentOpt, AgentSpec};
use super::device::{parse_port, run_password_script, xml_escape, Done, Problem, Secret, Target};
use super::{codes, DeviceType, Failure, Key, Params, Request, ResetKind, Settings, Switches};
use crate::cli::exit::{self, Fault};
use crate::config::fence_apc::{snmp_version, ApcDevice, SNMP_PORT};
use crate::config::RebootMethod;

/// The default deadline of one request.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);

/// The `-t` names served here.
pub const TYPES: &[&str] = &["apc", "apcmastersnmp", "external/rackpdu"];

/// An APC PDU ready to run (credentials read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApcTarget {
    /// The PDU's address.
    pub host: String,
    /// Its SNMP port.
    pub port: u16,
    /// SNMP version and USM protocols.
    pub version: Version,
    /// Community or USM user and passphrases (never shown).
    pub credentials: Credentials,
    /// The outlet(s) of the node (None: listing only).
    pub outlet: Option<Outlet>,
    /// Forced table set.
    pub profile: Option<Profile>,
    /// The deadline of one request.
    pub timeout: Duration,
    /// Pause after a state is seen.
    pub power_wait: Duration,
}

impl ApcTarget {
    /// The target of `node` on a configured device (reads the credentials file).
    pub fn from_device(node: &str, d: &ApcDevice) -> Result<Self, Problem> {
        let credentials = driver::read_credentials(&d.credentials_file)
            .map_err(|e| Problem::config(e.to_string()))?;
        credentials
            .check(&d.version)
            .map_err(|e| Problem::config(e.message().to_string()))?;
        Ok(ApcTarget {
            host: d.address.clone(),
            port: d.port.unwrap_or(SNMP_PORT),
            version: d.version,
            credentials,
            outlet: Some(d.outlet_of(node)),
            profile: d.profile,
            timeout: d.timeout.unwrap_or(DEFAULT_TIMEOUT),
            power_wait: d.power_wait,
        })
    }

    /// `PDU 198.18.2.10:161 (APC, SNMPv1, outlet(s) named "node2")`; never a secret.
    pub fn describe(&self) -> String {
        let outlet = self
            .outlet
            .as_ref()
            .map(|o| format!(", {o}"))
            .unwrap_or_default();
        format!(
            "PDU {}:{} (APC, {}{outlet})",
            self.host, self.port, self.version
        )
    }

    /// The same device aimed at another outlet.
    pub fn with_outlet(&self, outlet: Outlet) -> Self {
        ApcTarget {
            outlet: Some(outlet),
            ..self.clone()
        }
    }

    fn request(&self, action: ApcAction, verbose: bool) -> ApcRequest {
        let mut config = Config::new(
            self.version,
            self.credentials.clone(),
            action,
            self.outlet.clone(),
        );
        config.profile = self.profile;
        config.timing.timeout = self.timeout;
        config.timing.power_wait = self.power_wait;
        let mut r = ApcRequest::new(self.host.clone(), config);
        r.port = self.port;
        r.verbose = verbose;
        r
    }

    /// Lists the outlets (`list`) or their states too (`list-status`).
    pub fn list(&self, with_states: bool, verbose: bool) -> Result<Outcome, FenceError> {
        let action = if with_states {
            ApcAction::ListStatus
        } else {
            ApcAction::List
        };
        let mut r = self.request(action, verbose);
        r.config.outlet = None;
        driver::run_blocking(r)
    }
}

fn done(outcome: Outcome) -> Done {
    Done {
        power: outcome.power.unwrap_or(PowerState::Off),
        changed: outcome.commands_sent > 0,
        warning: outcome
            .power_on_failed
            .as_ref()
            .map(|why| format!("the node was seen off (fenced), but switching its outlet(s) on again failed: {why}")),
        off_seen: outcome.off_seen,
    }
}

/// Runs `action` (blocking); with `verbose`, every SNMP operation goes to stderr.
pub fn execute(target: &ApcTarget, action: Action, verbose: bool) -> Result<Done, FenceError> {
    let request = ApcAction::from_action(action)?;
    driver::run_blocking(target.request(request, verbose)).map(done)
}

/// [`execute`] on the caller's tokio runtime (the daemon's fencer), quiet.
pub async fn execute_async(target: &ApcTarget, action: Action) -> Result<Done, FenceError> {
    let request = ApcAction::from_action(action)?;
    driver::run(target.request(request, false)).await.map(done)
}

/// [`Settings`] of a `[[fence.device]]` of type `apc` for `node`.
pub fn settings_from_device(node: &str, d: &ApcDevice) -> Result<Settings, Problem> {
    Ok(Settings {
        hostname: Some(node.to_string()),
        target: Target::Apc(ApcTarget::from_device(node, d)?),
        reset: RebootMethod::OnOff,
        notes: Vec::new(),
    })
}

// ---------------------------------------------------------------------------
// stonith parameters

fn parse_duration_param(name: &str, text: &str) -> Result<Duration, Problem> {
    ironbeat_link::parse_duration(text).ok_or_else(|| {
        Problem::invalid(format!(
            "{name} `{}` is not a duration; write seconds (10) or a number with a unit (500ms, 10s)",
            text.trim()
        ))
    })
}

/// Credentials from `credentials_file` (0600), or inline `community` /
/// `userid` + `passwd` + `snmp_priv_passwd` (cluster-glue's way).
fn credentials(params: &Params, version: &Version) -> Result<Credentials, Problem> {
    let file = params.get(Key::CredentialsFile);
    let inline = params.get(Key::Community).is_some() || params.get(Key::Passwd).is_some();
    let c = match (file, inline) {
        (Some(_), true) => {
            return Err(Problem::config(
                "both credentials_file and community/passwd are given; keep credentials_file (a 0600 file)",
            ))
        }
        (Some(path), false) => driver::read_credentials(&PathBuf::from(path.trim())).map_err(|e| Problem::config(e.to_string()))?,
        (None, _) => Credentials {
            community: params.get(Key::Community).map(|c| Secret::new(c.as_bytes())),
            user: params.get(Key::Userid).map(|u| u.trim().to_string()),
            auth_password: params.get(Key::Passwd).map(|p| Secret::new(p.as_bytes())),
            priv_password: params.get(Key::SnmpPrivPasswd).map(|p| Secret::new(p.as_bytes())),
        },
    };
    c.check(version)
        .map_err(|e| Problem::config(e.message().to_string()))?;
    Ok(c)
}

/// `stonith` parameters of an APC type into a target without an outlet.
fn target_from_params(ty: &DeviceType, params: &Params) -> Result<ApcTarget, Problem> {
    let host = params
        .get(Key::Ipaddr)
        .filter(|h| !h.trim().is_empty())
        .ok_or_else(|| {
            Problem::config(if ty.name == "external/rackpdu" {
                "missing parameter pduip (the PDU's address); give pduip=ADDRESS"
            } else {
                "missing parameter ipaddr (the PDU's address); give ipaddr=ADDRESS"
            })
        })?
        .trim()
        .to_string();
    // rackpdu's pduip may carry the port (host:port).
    let (host, port_in_host) = match host.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') && p.parse::<u16>().is_ok() => {
            (h.to_string(), p.parse::<u16>().ok())
        }
        _ => (host, None),
    };
    let version = snmp_version(
        params.get(Key::SnmpVersion),
        params.get(Key::SnmpSecLevel),
        params.get(Key::SnmpAuthProt),
        params.get(Key::SnmpPrivProt),
    )
    .map_err(Problem::invalid)?;
    let profile = params
        .get(Key::ApcProfile)
        .map(|p| {
            p.parse::<Profile>()
                .map_err(|e| Problem::invalid(e.message().to_string()))
        })
        .transpose()?;
    let timeout = params
        .get(Key::Timeout)
        .map(|t| parse_duration_param("timeout", t))
        .transpose()?
        .filter(|d| !d.is_zero())
        .unwrap_or(DEFAULT_TIMEOUT);
    let outlet = params
        .get(Key::Plug)
        .map(|p| {
            p.parse::<Outlet>()
                .map_err(|e| Problem::invalid(e.message().to_string()))
        })
        .transpose()?;
    Ok(ApcTarget {
        host,
        port: match params.get(Key::Ipport) {
            Some(p) => parse_port(p)?,
            None => port_in_host.unwrap_or(SNMP_PORT),
        },
        credentials: credentials(params, &version)?,
        version,
        outlet,
        profile,
        timeout,
        power_wait: Duration::ZERO,
    })
}

/// `stonith` parameters of an APC type into [`Settings`] for one node
/// (`hostname`; its outlet is `plug`, or the outlets named like it).
pub fn settings(ty: &DeviceType, params: &Params) -> Result<Settings, Problem> {
    let mut target = target_from_params(ty, params)?;
    let hostname = params.get(Key::Hostname).map(|h| h.trim().to_string());
    if target.outlet.is_none() {
        target.outlet = hostname.clone().map(Outlet::Name);
    }
    let mut notes = Vec::new();
    if ty.name == "apcmastersnmp" && params.get(Key::Ipport).is_some() {
        notes.push("port is the PDU's SNMP port here (cluster-glue's apcmastersnmp ignored it and always used 161)".to_string());
    }
    Ok(Settings {
        hostname,
        target: Target::Apc(target),
        reset: RebootMethod::OnOff,
        notes,
    })
}

/// How a type names its hosts from outlet names.
fn host_of(ty: &str, name: &str) -> String {
    match ty {
        // cluster-glue's apcmastersnmp lower-cases, rackpdu maps spaces to `_`.
        "apcmastersnmp" => name.to_lowercase(),
        "external/rackpdu" => name.replace(' ', "_"),
        _ => name.to_string(),
    }
}

/// Serves a `stonith` device request (`-S`, `-l`, `-T`) of an APC type and
/// returns its exit code; `None` for other types.
pub(super) fn intercept(request: &Request, switches: Switches) -> Option<u8> {
    let Request::Device(d) = request else {
        return None;
    };
    if !TYPES.contains(&d.type_name.as_str()) {
        return None;
    }
    Some(match serve(d, switches) {
        Ok(code) => code,
        Err(Failure::Input(p)) => {
            eprintln!("ERROR: {}", p.message);
            exit::stonith_fault_code(p.fault)
        }
        Err(Failure::Fence(e)) => {
            eprintln!("ERROR: {e}");
            exit::stonith_code(&e)
        }
    })
}

fn serve(d: &super::DeviceRequest, switches: Switches) -> Result<u8, Failure> {
    let ty = super::known_type(&d.type_name)?;
    let params = super::read_params(ty, &d.source)?;
    let target = target_from_params(ty, &params)?;
    if switches.verbose {
        eprintln!("info: device {}", target.describe());
    }
    // rackpdu's hostlist: AUTO (the outlet names) or the hosts it may fence.
    let hostlist: Option<Vec<String>> = params
        .get(Key::Hostlist)
        .map(|h| {
            h.split([' ', ','])
                .filter(|w| !w.is_empty())
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .filter(|h| !(h.len() == 1 && h[0].eq_ignore_ascii_case("auto")));
    let mut code = codes::S_OK;
    for _ in 0..d.count {
        code = codes::S_OK;
        if d.status {
            match target.list(false, switches.verbose) {
                Ok(o) => {
                    if !switches.silent {
                        eprintln!(
                            "info: {} device OK ({}, {} outlets).",
                            ty.name,
                            o.profile,
                            o.outlets.len()
                        );
                    }
                }
                Err(e) => {
                    eprintln!("ERROR: {} device not accessible: {e}", ty.name);
                    code = exit::stonith_code(&e);
                }
            }
        }
        if d.list_hosts {
            let hosts = match &hostlist {
                Some(h) => h.clone(),
                None => {
                    let o = target.list(false, switches.verbose)?;
                    let mut hosts: Vec<String> = Vec::new();
                    for outlet in o.outlets {
                        let h = host_of(ty.name, outlet.name.as_deref().unwrap_or_default());
                        if !h.is_empty() && !hosts.contains(&h) {
                            hosts.push(h);
                        }
                    }
                    hosts
                }
            };
            for h in hosts {
                println!("{h}");
            }
        }
        if let Some((kind, node)) = &d.reset {
            if let Some(h) = &hostlist {
                if !h.iter().any(|x| x.eq_ignore_ascii_case(node)) {
                    return Err(Problem::new(
                        Fault::UnknownNode,
                        format!(
                            "{node} is not controlled by this device: hostlist is {}",
                            h.join(" ")
                        ),
                    )
                    .into());
                }
            }
            let outlet = match (&target.outlet, params.get(Key::Hostname)) {
                (Some(o), Some(h)) if h.trim().eq_ignore_ascii_case(node) => o.clone(),
                (Some(_), Some(h)) => {
                    return Err(Problem::new(
                        Fault::UnknownNode,
                        format!(
                            "{node} is not controlled by this device: plug belongs to hostname={}",
                            h.trim()
                        ),
                    )
                    .into())
                }
                (Some(o), None) => o.clone(),
                (None, _) => Outlet::Name(node.clone()),
            };
            let action = match kind {
                ResetKind::Reset => Action::Reboot,
                ResetKind::On => Action::On,
                ResetKind::Off => Action::Off,
            };
            let result = execute(&target.with_outlet(outlet), action, switches.verbose);
            let done = match result {
                Err(e)
                    if e.kind() == ironbeat_fence::ErrorKind::Config
                        && e.message().contains("no outlet") =>
                {
                    return Err(Problem::new(Fault::UnknownNode, e.message().to_string()).into())
                }
                other => other?,
            };
            super::report(node, action, &done, switches);
        }
    }
    Ok(code)
}

/// The device of `node` from ha.cf's `stonith_host` lines of an APC type
/// (`stonith_host * apcmastersnmp 198.18.2.10 161 private`): the first line
/// usable from `local` whose hostlist (rackpdu) names the node, or that has
/// none (the node's outlets are then the ones named like it).
pub fn node_settings_from_ha_cf(
    ha_d: &std::path::Path,
    local: &str,
    node: &str,
) -> Result<Option<(Settings, String)>, Problem> {
    let path = ha_d.join("ha.cf");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    let cf =
        crate::config::parse_ha_cf(&text, &path).map_err(|e| Problem::config(e.to_string()))?;
    for line in &cf.options.stonith_hosts {
        let host = &line.value;
        if !TYPES.contains(&host.kind.as_str()) || (host.from != "*" && host.from != local) {
            continue;
        }
        let Some(ty) = super::device_type(&host.kind) else {
            continue;
        };
        let origin = line.location.to_string();
        let params = Params::from_words(ty, &host.params, &origin)?;
        let listed = params
            .get(Key::Hostlist)
            .map(|h| {
                h.split([' ', ','])
                    .filter(|w| !w.is_empty())
                    .map(str::to_string)
                    .collect::<Vec<_>>()
            })
            .filter(|h| !(h.len() == 1 && h[0].eq_ignore_ascii_case("auto")));
        if listed.is_some_and(|h| !h.iter().any(|x| x.eq_ignore_ascii_case(node))) {
            continue;
        }
        let mut target = target_from_params(ty, &params)
            .map_err(|p| Problem::new(p.fault, format!("{origin}: {}", p.message)))?;
        if target.outlet.is_none() {
            target.outlet = Some(Outlet::Name(node.to_string()));
        }
        let settings = Settings {
            hostname: Some(node.to_string()),
            target: Target::Apc(target),
            reset: RebootMethod::OnOff,
            notes: Vec::new(),
        };
        return Ok(Some((settings, format!("{origin}, {}", host.kind))));
    }
    Ok(None)
}

// ---------------------------------------------------------------------------
// fence_ironbeat_apc: fence_apc_snmp's options and the fence-agents protocol.

/// The agent names served here.
pub const AGENTS: &[&str] = &["fence_ironbeat_apc", "fence_ironbeat_apc_snmp"];

/// fence_apc_snmp's options (4.12), plus ours: credentials_file, apc_profile, timeout.
const AGENT_OPTS: &[AgentOpt] = &[
    o("action", "action", Some('o'), true, "Fencing action (on, off, reboot, status, list, list-status, monitor, metadata, validate-all)"),
    o("ip", "ip", Some('a'), true, "IP address or hostname of the PDU"),
    o("ipport", "ipport", Some('u'), true, "UDP port (161)"),
    o("community", "community", Some('c'), true, "SNMP community (default private)"),
    o("snmp_version", "snmp-version", Some('d'), true, "SNMP version (1, 2c, 3; default 1)"),
    o("username", "username", Some('l'), true, "SNMPv3 user"),
    o("password", "password", Some('p'), true, "SNMPv3 authentication passphrase"),
    o("password_script", "password-script", Some('S'), true, "Script that prints the authentication passphrase"),
    o("snmp_auth_prot", "snmp-auth-prot", Some('b'), true, "SNMPv3 authentication protocol (MD5, SHA, SHA-256...)"),
    o("snmp_sec_level", "snmp-sec-level", Some('E'), true, "SNMPv3 security level (noAuthNoPriv, authNoPriv, authPriv)"),
    o("snmp_priv_prot", "snmp-priv-prot", Some('B'), true, "SNMPv3 privacy protocol (DES, AES...)"),
    o("snmp_priv_passwd", "snmp-priv-passwd", Some('P'), true, "SNMPv3 privacy passphrase"),
    o("snmp_priv_passwd_script", "snmp-priv-passwd-script", Some('R'), true, "Script that prints the privacy passphrase"),
    o("credentials_file", "credentials-file", None, true, "A 0600 file: community = … or user/auth_password/priv_password"),
    o("apc_profile", "apc-profile", None, true, "rpdu, rpdu2 or masterswitch (default: by sysObjectID)"),
    o("plug", "plug", Some('n'), true, "Outlet number or name (every outlet with the name)"),
    o("timeout", "timeout", None, true, "Deadline of the whole request, seconds"),
    o("power_timeout", "power-timeout", None, true, "Seconds to wait for the outlet state (one deadline)"),
    o("power_wait", "power-wait", None, true, "Seconds to wait after a state is seen"),
    o("delay", "delay", None, true, "Seconds to wait before fencing"),
    o("login_timeout", "login-timeout", None, true, "Accepted; the one deadline bounds everything"),
    o("shell_timeout", "shell-timeout", None, true, "Accepted; unused"),
    o("retry_on", "retry-on", None, true, "Accepted; retries happen inside the deadline"),
    o("inet4_only", "inet4-only", Some('4'), false, "Accepted; the address chooses"),
    o("inet6_only", "inet6-only", Some('6'), false, "Accepted; the address chooses"),
    o("verbose", "verbose", Some('v'), false, "Verbose mode"),
    o("quiet", "quiet", Some('q'), false, "No messages on stderr"),
    o("debug_file", "debug-file", Some('D'), true, "Accepted; verbose output goes to stderr"),
    o("help", "help", Some('h'), false, "Display help and exit"),
    o("version", "version", Some('V'), false, "Display version and exit"),
];

fn agent_opt(key: &str) -> Option<&'static AgentOpt> {
    let k = fence_agents_alias(key);
    // fence_apc_snmp's own old name.
    let k = if k == "udpport" { "ipport" } else { k.as_str() };
    AGENT_OPTS.iter().find(|o| o.name == k)
}

/// This agent's options and aliases, for [`agent_input`](super::agent_input).
const SPEC: AgentSpec = AgentSpec {
    opts: AGENT_OPTS,
    lookup: agent_opt,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AgentAction {
    Power(Action),
    Status,
    List,
    ListStatus,
    Monitor,
    ValidateAll,
}

struct AgentRequest {
    action: AgentAction,
    target: ApcTarget,
    delay: Duration,
    verbose: bool,
}

fn check(input: &AgentInput) -> Result<AgentRequest, Problem> {
    let action_text = input
        .get("action")
        .unwrap_or("reboot")
        .trim()
        .to_ascii_lowercase();
    let action = match action_text.as_str() {
        "on" => AgentAction::Power(Action::On),
        "off" => AgentAction::Power(Action::Off),
        "reboot" => AgentAction::Power(Action::Reboot),
        "status" => AgentAction::Status,
        "list" => AgentAction::List,
        "list-status" => AgentAction::ListStatus,
        "monitor" => AgentAction::Monitor,
        "validate-all" => AgentAction::ValidateAll,
        other => {
            return Err(Problem::usage(format!(
                "Failed: Unrecognised action '{}'; use on, off, reboot, status, list, list-status, monitor, metadata or validate-all",
                other.chars().take(40).collect::<String>()
            )))
        }
    };
    let host = input
        .get("ip")
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| Problem::config("Failed: You have to enter fence address (ip)"))?
        .trim()
        .to_string();
    let version = snmp_version(
        input.get("snmp_version"),
        input.get("snmp_sec_level"),
        input.get("snmp_auth_prot"),
        input.get("snmp_priv_prot"),
    )
    .map_err(Problem::invalid)?;
    let credentials = match input.get("credentials_file") {
        Some(path) => driver::read_credentials(&PathBuf::from(path.trim()))
            .map_err(|e| Problem::config(e.to_string()))?,
        None => {
            let auth = match (input.get("password"), input.get("password_script")) {
                (Some(p), _) => Some(Secret::new(p.as_bytes())),
                (None, Some(s)) => Some(run_password_script(s)?),
                (None, None) => None,
            };
            let privacy = match (
                input.get("snmp_priv_passwd"),
                input.get("snmp_priv_passwd_script"),
            ) {
                (Some(p), _) => Some(Secret::new(p.as_bytes())),
                (None, Some(s)) => Some(run_password_script(s)?),
                (None, None) => None,
            };
            Credentials {
                // fence_apc_snmp's default community.
                community: Some(Secret::new(
                    input.get("community").unwrap_or("private").as_bytes(),
                )),
                user: input.get("username").map(|u| u.trim().to_string()),
                auth_password: auth,
                priv_password: privacy,
            }
        }
    };
    credentials
        .check(&version)
        .map_err(|e| Problem::config(format!("Failed: {}", e.message())))?;
    let outlet = match input.get("plug") {
        Some(p) => Some(
            p.parse::<Outlet>()
                .map_err(|e| Problem::invalid(format!("Failed: {}", e.message())))?,
        ),
        None => None,
    };
    if matches!(action, AgentAction::Power(_) | AgentAction::Status) && outlet.is_none() {
        return Err(Problem::config(
            "Failed: You have to enter plug number or machine identification (plug)",
        ));
    }
    let profile = input
        .get("apc_profile")
        .map(|p| {
            p.parse::<Profile>()
                .map_err(|e| Problem::invalid(e.message().to_string()))
        })
        .transpose()?;
    let timeout = match (input.seconds("timeout")?, input.seconds("power_timeout")?) {
        (Some(t), _) => t,
        (None, Some(p)) => p + Duration::from_secs(5),
        (None, None) => DEFAULT_TIMEOUT,
    };
    Ok(AgentRequest {
        action,
        target: ApcTarget {
            host,
            port: input
                .get("ipport")
                .map(parse_port)
                .transpose()?
                .unwrap_or(SNMP_PORT),
            version,
            credentials,
            outlet,
            profile,
            timeout: timeout.max(Duration::from_millis(100)),
            power_wait: input.seconds("power_wait")?.unwrap_or_default(),
        },
        delay: input.seconds("delay")?.unwrap_or_default(),
        verbose: input.flag("verbose"),
    })
}

/// The fence-agents metadata of `program`.
pub fn metadata(program: &str) -> String {
    let mut xml = String::new();
    let _ = write!(
        xml,
        "<?xml version=\"1.0\" ?>\n<resource-agent name=\"{}\" shortdesc=\"Fence agent for APC switched PDUs over SNMP (ironbeat)\" >\n<longdesc>{}</longdesc>\n<vendor-url>http://www.apc.com</vendor-url>\n<parameters>\n",
        xml_escape(program),
        xml_escape(
            "Switches the outlets of an APC Switched Rack PDU (AP79xx), Rack PDU 2G (AP8xxx) or \
             MasterSwitch (AP92xx), detected by sysObjectID, over SNMP v1, v2c or v3. \
             fence_apc_snmp's options; plug is an outlet number or name (every outlet with the \
             name is switched: a dual-PSU host). A host is reported off only once every outlet \
             is seen off with no command pending."
        )
    );
    for opt in AGENT_OPTS {
        if matches!(opt.name, "help" | "version") {
            continue;
        }
        let content = if opt.value { "string" } else { "boolean" };
        let required = matches!(opt.name, "ip" | "plug");
        let _ = write!(
            xml,
            "\t<parameter name=\"{}\" unique=\"0\" required=\"{}\">\n\t\t<getopt mixed=\"{}--{}{}\" />\n\t\t<content type=\"{content}\" />\n\t\t<shortdesc lang=\"en\">{}</shortdesc>\n\t</parameter>\n",
            opt.name,
            u8::from(required),
            opt.short.map(|c| format!("-{c}, ")).unwrap_or_default(),
            opt.long,
            if opt.value { "=[value]" } else { "" },
            xml_escape(opt.desc)
        );
    }
    xml.push_str(
        "</parameters>\n<actions>\n\t<action name=\"on\" automatic=\"0\"/>\n\t<action name=\"off\" />\n\t<action name=\"reboot\" />\n\t<action name=\"status\" />\n\t<action name=\"list\" />\n\t<action name=\"list-status\" />\n\t<action name=\"monitor\" />\n\t<action name=\"metadata\" />\n\t<action name=\"validate-all\" />\n</actions>\n</resource-agent>\n",
    );
    xml
}

/// Runs one fence-agents invocation as `program`; returns the exit code.
pub fn agent_run(program: &str, args: &[String], stdin: impl Read) -> u8 {
    let input = match agent_input::read(args, stdin, &SPEC) {
        Ok(input) => input,
        Err(code) => return code,
    };
    let quiet = input.flag("quiet");
    let say = |text: &str| {
        if !quiet {
            eprintln!("{text}");
        }
    };
    for w in &input.warnings {
        say(w);
    }
    if input.flag("help") {
        print!("{}", agent_input::help(program, &SPEC));
        return exit::fence_agent::SUCCESS;
    }
    if input.flag("version") {
        println!("{program} (ironbeat) {}", env!("CARGO_PKG_VERSION"));
        return exit::fence_agent::SUCCESS;
    }
    if input
        .get("action")
        .is_some_and(|a| a.trim().eq_ignore_ascii_case("metadata"))
    {
        print!("{}", metadata(program));
        return exit::fence_agent::SUCCESS;
    }
    let request = match check(&input) {
        Ok(r) => r,
        Err(p) => {
            say(&p.message);
            return exit::fence_agent_fault_code(p.fault);
        }
    };
    let fail = |e: &FenceError| {
        say(&format!("Failed: {e}"));
        exit::fence_agent_code(Err(e))
    };
    match request.action {
        AgentAction::ValidateAll => exit::fence_agent::SUCCESS,
        AgentAction::Monitor | AgentAction::List | AgentAction::ListStatus => {
            let states = request.action == AgentAction::ListStatus;
            match request.target.list(states, request.verbose) {
                Ok(o) => {
                    if request.action != AgentAction::Monitor {
                        for x in &o.outlets {
                            let name = x.name.as_deref().unwrap_or_default();
                            match x.power {
                                Some(p) if states => {
                                    println!("{},{name},{}", x.number, p.to_string().to_uppercase())
                                }
                                _ if states => println!("{},{name},UNKNOWN", x.number),
                                _ => println!("{},{name}", x.number),
                            }
                        }
                    }
                    exit::fence_agent::SUCCESS
                }
                Err(e) => fail(&e),
            }
        }
        AgentAction::Status => match execute(&request.target, Action::Status, request.verbose) {
            Ok(done) => {
                println!("Status: {}", done.power.to_string().to_uppercase());
                exit::fence_agent_code(Ok(Some(done.power)))
            }
            Err(e) => fail(&e),
        },
        AgentAction::Power(action) => {
            if matches!(action, Action::Off | Action::Reboot) && !request.delay.is_zero() {
                std::thread::sleep(request.delay);
            }
            match execute(&request.target, action, request.verbose) {
                Ok(done) => {
                    if let Some(w) = &done.warning {
                        say(&format!("WARNING: {w}"));
                    }
                    println!(
                        "{}",
                        match action {
                            Action::On if !done.changed => "Success: Already ON",
                            Action::Off if !done.changed => "Success: Already OFF",
                            Action::On => "Success: Powered ON",
                            Action::Off => "Success: Powered OFF",
                            _ => "Success: Rebooted",
                        }
                    );
                    exit::fence_agent_code(Ok(None))
                }
                Err(e) => fail(&e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fence_apc_snmp_command_lines_and_stdin_parse_alike() {
        let args: Vec<String> = [
            "--ip=198.18.2.10",
            "--ipport",
            "16161",
            "-c",
            "s3cret",
            "-d",
            "2c",
            "--plug=node2",
            "--action=off",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let a = check(&SPEC.args(&args).unwrap()).unwrap();
        let b = check(&SPEC.lines(
            "ip=198.18.2.10\nipport=16161\ncommunity=s3cret\nsnmp_version=2c\nport=node2\naction=off\nnodename=n1\n",
        ))
        .unwrap();
        assert_eq!(a.target, b.target);
        assert_eq!(a.action, AgentAction::Power(Action::Off));
        assert_eq!(a.target.outlet, Some(Outlet::Name("node2".into())));
        assert!(!format!("{:?}", a.target).contains("s3cret"));
        assert!(!a.target.describe().contains("s3cret"));
        let v3 = check(&SPEC.lines(
            "ip=x\nsnmp_version=3\nusername=fenceuser\npassword=fenceauth1\nsnmp_auth_prot=MD5\n\
             snmp_sec_level=authPriv\nsnmp_priv_prot=DES\nsnmp_priv_passwd=fencepriv1\nplug=3\naction=status",
        ))
        .unwrap();
        assert!(matches!(v3.target.version, Version::V3(_)));
        assert!(
            check(&SPEC.lines("ip=x\nsnmp_version=3\nplug=1")).is_err(),
            "v3 without a user"
        );
        assert!(
            check(&SPEC.lines("ip=x\naction=off")).is_err(),
            "off without a plug"
        );
        assert!(check(&SPEC.lines("ip=x\naction=list")).is_ok());
        assert!(check(&SPEC.lines("ip=x\nsnmp_version=1\nsnmp_priv_prot=AES\nplug=1")).is_err());
        let unknown = SPEC.lines("ip=x\nsecret_thing=hunter2\n");
        assert!(unknown.warnings.iter().all(|w| !w.contains("hunter2")));
        assert!(metadata("fence_ironbeat_apc").contains("snmp_priv_passwd"));
    }

    #[test]
    fn host_names_follow_each_plugin() {
        assert_eq!(host_of("apcmastersnmp", "Node 1"), "node 1");
        assert_eq!(host_of("external/rackpdu", "Outlet 5"), "Outlet_5");
        assert_eq!(host_of("apc", "Outlet 5"), "Outlet 5");
    }
}
