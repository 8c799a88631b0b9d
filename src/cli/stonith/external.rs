//! External agents behind `stonith` and the daemon: cluster-glue
//! `external/*` plugins (`-t external/ssh`, every plugin but `external/ipmi`,
//! which ironbeat serves natively) and fence-agents agents (`-t fence_ipmilan`
//! or any `fence_*`), run by `ironbeat_fence::driver::external`.
//!
//! Parameters: `-p` / `-F` / ha.cf words in the plugin's `getconfignames`
//! order, or `name=value` words (any name: they go to the agent as they
//! are), or `name=value` arguments. ironbeat's own, never passed on:
//! - `accept_unverified=yes`: take a cluster-glue plugin's word that off or
//!   reset succeeded (its `status` cannot see the host, so otherwise the
//!   request fails as unverified);
//! - `timeout=60s`: the one deadline of a request (status polls included);
//! - `hostname=NODE` (fence-agents agents only; plugins get it as they
//!   always did): the node the agent fences, for `-l` and ha.cf;
//! - `NAME_file=PATH` for a secret parameter NAME (`passwd_file`,
//!   `password_file`...): the value is read from a 0600 file.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ironbeat_fence::deadline::Deadline;
use ironbeat_fence::driver::external as driver;
use ironbeat_fence::external::params::is_secret_name;
use ironbeat_fence::external::{Answer, Device, Fence, Kind, Query};
use ironbeat_fence::power::{Action, PowerState};
use ironbeat_fence::Error as FenceError;

use super::device::{parse_bool, read_password_file, Done, Problem, Target};
use super::{codes, device_type, Failure, ParamSource, Request, ResetKind, Settings, Switches};
use crate::cli::exit::{self, Fault};
use crate::config::{ExternalDevice, RebootMethod};

/// The deadline of one request when `timeout=` is not given: fence-agents
/// agents are Python programs run several times per request (off, status...).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
/// How long an information query (`-n`, `-m`, `-l`) may take.
const QUERY_BUDGET: Duration = Duration::from_secs(30);

/// An external device ready to run: the agent, its parameters, the node.
#[derive(Debug, Clone)]
pub struct ExternalTarget {
    /// The agent and its parameters (values never printed).
    pub device: Device,
    /// Its program.
    pub program: PathBuf,
    /// The node it fences (the plugin's host argument / the agent's plug).
    pub host: String,
    /// The one deadline of a request.
    pub timeout: Duration,
}

impl PartialEq for ExternalTarget {
    fn eq(&self, other: &Self) -> bool {
        let params = |d: &Device| -> Vec<(String, Vec<u8>)> {
            d.params
                .iter()
                .map(|p| (p.name().to_string(), p.value().to_vec()))
                .collect()
        };
        self.device.kind == other.device.kind
            && self.device.name == other.device.name
            && self.device.accept_unverified == other.device.accept_unverified
            && params(&self.device) == params(&other.device)
            && self.program == other.program
            && self.host == other.host
            && self.timeout == other.timeout
    }
}

impl Eq for ExternalTarget {}

impl ExternalTarget {
    /// `external/ssh (/usr/lib/...)` for `-v` (no parameter values).
    pub fn describe(&self) -> String {
        format!("{} ({})", self.device.label(), self.program.display())
    }
}

/// Whether `-t NAME` is served here: `external/*` types ironbeat does not
/// serve natively, and `fence_*` agents.
pub fn is_external_type(name: &str) -> bool {
    (name.starts_with("external/") && device_type(name).is_none()) || name.starts_with("fence_")
}

fn kind_and_name(type_name: &str) -> (Kind, &str) {
    match type_name.strip_prefix("external/") {
        Some(plugin) => (Kind::Plugin, plugin),
        None => (Kind::Agent, type_name),
    }
}

fn fence_problem(e: &FenceError) -> Problem {
    Problem::config(e.to_string())
}

/// An unconfigured device of `-t TYPE` and its program.
fn bare_device(type_name: &str) -> Result<(Device, PathBuf), Problem> {
    let (kind, name) = kind_and_name(type_name);
    let device = Device::new(kind, name);
    let program = driver::program(&device).map_err(|e| {
        Problem::new(
            Fault::UnknownType,
            format!("Invalid device type: '{type_name}': {}", e.message()),
        )
    })?;
    Ok((device, program))
}

/// The parameter names of the agent, in `-p` order.
fn config_names(device: &Device, program: &Path) -> Result<Vec<String>, FenceError> {
    match driver::query_blocking(program, device, Query::ConfigNames, QUERY_BUDGET)? {
        Answer::Names(names) => Ok(names),
        Answer::Text(_) => Ok(Vec::new()),
    }
}

/// Builds a ready device from `-p`-style words and `name=value` pairs.
/// `names` is the positional order (the plugin's `getconfignames`).
pub fn target_from_words(
    type_name: &str,
    words: &[String],
    names: Option<&[String]>,
    origin: &str,
) -> Result<ExternalTarget, Problem> {
    let (mut device, program) = bare_device(type_name)?;
    let mut position = 0;
    let mut named_seen = false;
    let mut host = None;
    let mut timeout = DEFAULT_TIMEOUT;
    let mut positional_names: Option<Vec<String>> = names.map(<[String]>::to_vec);
    // cluster-glue: the last positional name takes the rest of the words
    // (`-p "node1 node2"` is external/ssh's hostlist).
    // (up to the first name=value word).
    let named = |word: &str| {
        word.split_once('=').is_some_and(|(n, _)| {
            !n.is_empty()
                && n.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        })
    };
    let mut consumed_until = 0;
    for (index, word) in words.iter().enumerate() {
        if index < consumed_until {
            continue;
        }
        let (name, value) = match word.split_once('=') {
            Some((n, v)) if named(word) => {
                named_seen = true;
                (n.to_string(), v.to_string())
            }
            _ => {
                if named_seen {
                    return Err(Problem::config(format!(
                        "{origin}: a value without a name follows name=value words; give values \
                         in -n order first, or name every value"
                    )));
                }
                if positional_names.is_none() {
                    positional_names =
                        Some(config_names(&device, &program).map_err(|e| fence_problem(&e))?);
                }
                let order = positional_names.as_deref().unwrap_or_default();
                let Some(name) = order.get(position) else {
                    return Err(Problem::config(format!(
                        "{origin}: more values than {type_name} takes ({}); values go in this \
                         order: {}",
                        order.len(),
                        order.join(" ")
                    )));
                };
                position += 1;
                if position == order.len() {
                    consumed_until = words[index..]
                        .iter()
                        .position(|w| named(w))
                        .map_or(words.len(), |p| index + p);
                    (name.clone(), words[index..consumed_until].join(" "))
                } else {
                    (name.clone(), word.clone())
                }
            }
        };
        match name.as_str() {
            "accept_unverified" => {
                device.accept_unverified = parse_bool(&value).ok_or_else(|| {
                    Problem::invalid(format!(
                        "{origin}: accept_unverified={value} is not yes or no"
                    ))
                })?;
                continue;
            }
            "timeout" => {
                timeout = match ironbeat_link::parse_duration(&value) {
                    Some(d) if !d.is_zero() => d,
                    _ => {
                        return Err(Problem::invalid(format!(
                            "{origin}: timeout `{value}` is not a duration; write seconds (60) \
                             or a number with a unit (500ms, 60s)"
                        )))
                    }
                };
                continue;
            }
            "hostname" if device.kind == Kind::Agent => {
                host = Some(value);
                continue;
            }
            _ => {}
        }
        if let Some(secret) = name.strip_suffix("_file").filter(|s| is_secret_name(s)) {
            let value = read_password_file(Path::new(&value))?;
            device
                .params
                .insert(secret, value.expose().to_vec())
                .map_err(|e| Problem::config(format!("{origin}: {}", e.message())))?;
            continue;
        }
        if name == "hostname" {
            host = Some(value.clone());
        }
        device
            .params
            .insert(&name, value.into_bytes())
            .map_err(|e| Problem::config(format!("{origin}: {}", e.message())))?;
    }
    if device.kind == Kind::Agent && host.is_none() {
        host = device
            .params
            .get("plug")
            .map(|p| String::from_utf8_lossy(p).into_owned());
    }
    Ok(ExternalTarget {
        device,
        program,
        host: host.unwrap_or_default(),
        timeout,
    })
}

/// Runs one action (blocking; `stonith`, `fence_ironbeat`); with `verbose`
/// every run of the agent is printed on stderr (never a parameter value).
pub fn execute(target: &ExternalTarget, action: Action, verbose: bool) -> Result<Done, FenceError> {
    let fence = request(target, action)?;
    let outcome = driver::fence_blocking(&target.program, fence, |line| {
        if verbose {
            eprintln!("info: {line}");
        }
    })?;
    Ok(done(target, action, outcome))
}

/// [`execute`] on the caller's tokio runtime (the daemon's fencer), quiet.
pub async fn execute_async(target: &ExternalTarget, action: Action) -> Result<Done, FenceError> {
    let fence = request(target, action)?;
    let outcome = driver::fence(&target.program, fence).await?;
    Ok(done(target, action, outcome))
}

fn request(target: &ExternalTarget, action: Action) -> Result<Fence, FenceError> {
    Fence::new(
        target.device.clone(),
        &target.host,
        action,
        Deadline::after(Instant::now(), target.timeout),
    )
}

fn done(target: &ExternalTarget, action: Action, o: ironbeat_fence::external::Outcome) -> Done {
    // A plugin's off/reset accepted unverified counts as fenced: the operator
    // vouched for it with accept_unverified=yes (the warning says so).
    let accepted = target.device.kind == Kind::Plugin
        && o.command_sent
        && matches!(
            action,
            Action::Off | Action::Reboot | Action::Reset | Action::Cycle
        );
    let power = match (o.power, action) {
        (Some(p), _) => p,
        (None, Action::Off | Action::Reboot | Action::Reset | Action::Cycle) if accepted => {
            if action == Action::Off {
                PowerState::Off
            } else {
                PowerState::On
            }
        }
        (None, _) => PowerState::On,
    };
    Done {
        power,
        changed: o.command_sent,
        warning: o.warning,
        off_seen: o.off_seen || accepted,
    }
}

/// Serves a `stonith` request for an external type and returns its exit
/// code; `None` when the type is not one ([`is_external_type`]).
pub(super) fn intercept(request: &Request, switches: Switches) -> Option<u8> {
    let type_name = match request {
        Request::Names(t) | Request::Metadata(t) | Request::Help(Some(t)) => t,
        Request::Device(d) => &d.type_name,
        _ => return None,
    };
    if !is_external_type(type_name) {
        return None;
    }
    Some(match serve(request, type_name, switches) {
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

fn serve(request: &Request, type_name: &str, switches: Switches) -> Result<u8, Failure> {
    match request {
        Request::Names(_) => {
            let (device, program) = bare_device(type_name)?;
            let names = config_names(&device, &program)?;
            println!("{}  ", names.join("  "));
            Ok(codes::S_OK)
        }
        Request::Metadata(_) | Request::Help(_) => {
            let (device, program) = bare_device(type_name)?;
            print!("{}", metadata(type_name, &device, &program)?);
            Ok(codes::S_OK)
        }
        Request::Device(d) => {
            let words: Vec<String> = match &d.source {
                ParamSource::Words(text) => text.split_whitespace().map(String::from).collect(),
                ParamSource::File(path) => {
                    let text = std::fs::read_to_string(path).map_err(|e| {
                        Problem::config(format!(
                            "cannot read the parameter file {}: {e}; give its path to -F",
                            path.display()
                        ))
                    })?;
                    text.lines()
                        .filter(|l| !l.trim_start().starts_with('#'))
                        .flat_map(|l| l.split_whitespace().map(String::from).collect::<Vec<_>>())
                        .collect()
                }
                ParamSource::Env => env_words(type_name)?,
                ParamSource::Pairs(pairs) => {
                    pairs.iter().map(|(n, v)| format!("{n}={v}")).collect()
                }
            };
            let target = target_from_words(type_name, &words, None, "-p")?;
            if switches.verbose {
                eprintln!("info: device {}", target.describe());
            }
            device_request(d, &target, switches)
        }
        _ => Ok(codes::S_OK),
    }
}

/// `-m`: a fence-agents agent's own metadata; for a cluster-glue plugin,
/// the document cluster-glue's `stonith -m` builds around its
/// `getinfo-xml` (name, `getinfo-devdescr` as longdesc, `getinfo-devid`
/// as shortdesc, the standard actions), byte for byte.
fn metadata(type_name: &str, device: &Device, program: &Path) -> Result<String, FenceError> {
    let text = |query| -> Result<String, FenceError> {
        match driver::query_blocking(program, device, query, QUERY_BUDGET)? {
            Answer::Text(t) => Ok(t),
            Answer::Names(n) => Ok(n.join(" ")),
        }
    };
    let xml = text(Query::Metadata)?;
    if device.kind == Kind::Agent {
        return Ok(xml);
    }
    let descr = text(Query::DeviceDescription)?;
    let id = text(Query::DeviceId)?;
    Ok(format!(
        "<?xml version=\"1.0\"?>\n<!DOCTYPE resource-agent SYSTEM \"ra-api-1.dtd\">\n\
         <resource-agent name=\"{type_name}\">\n<version>1.0</version>\n\
         <longdesc lang=\"en\">\n{descr}\n\n</longdesc>\n<shortdesc lang=\"en\">{id}\n</shortdesc>\n\
         {}\n<actions>\n\
         <action name=\"start\"   timeout=\"20\" />\n\
         <action name=\"stop\"    timeout=\"15\" />\n\
         <action name=\"status\"  timeout=\"20\" />\n\
         <action name=\"monitor\" timeout=\"20\" interval=\"3600\" />\n\
         <action name=\"meta-data\"  timeout=\"15\" />\n\
         </actions>\n\
         <special tag=\"heartbeat\">\n<version>2.0</version>\n</special>\n</resource-agent>\n",
        xml
    ))
}

/// `-E`: the environment variables named by the plugin's `getconfignames`.
fn env_words(type_name: &str) -> Result<Vec<String>, Failure> {
    let (device, program) = bare_device(type_name)?;
    let mut words = Vec::new();
    for name in config_names(&device, &program)? {
        if let Some(value) = std::env::var_os(&name) {
            let value = value.into_string().map_err(|_| {
                Problem::config(format!("environment variable {name} is not UTF-8 text"))
            })?;
            words.push(format!("{name}={value}"));
        }
    }
    Ok(words)
}

fn device_request(
    d: &super::DeviceRequest,
    target: &ExternalTarget,
    switches: Switches,
) -> Result<u8, Failure> {
    let label = target.device.label();
    let mut code = codes::S_OK;
    for _ in 0..d.count {
        code = codes::S_OK;
        if d.status {
            match execute(target, Action::Status, switches.verbose) {
                Ok(done) => {
                    if !switches.silent {
                        let power = match target.device.kind {
                            Kind::Agent => format!(" (power {})", done.power),
                            Kind::Plugin => String::new(),
                        };
                        eprintln!("info: {label} device OK{power}.");
                    }
                }
                Err(e) => {
                    eprintln!("ERROR: {label} device not accessible: {e}");
                    code = exit::stonith_code(&e);
                }
            }
        }
        if d.list_hosts {
            match target.device.kind {
                Kind::Plugin => {
                    match driver::query_blocking(
                        &target.program,
                        &target.device,
                        Query::Hosts,
                        target.timeout.min(QUERY_BUDGET),
                    )? {
                        Answer::Names(hosts) => {
                            for h in hosts {
                                println!("{h}");
                            }
                        }
                        Answer::Text(t) => println!("{t}"),
                    }
                }
                Kind::Agent => {
                    if target.host.is_empty() {
                        return Err(Problem::config(format!(
                            "{label}: give hostname=NODE (the node this agent fences) or plug="
                        ))
                        .into());
                    }
                    println!("{}", target.host);
                }
            }
        }
        if let Some((kind, node)) = &d.reset {
            let mut target = target.clone();
            if target.device.kind == Kind::Plugin || target.host.is_empty() {
                target.host = node.clone();
            } else if !target.host.eq_ignore_ascii_case(node) {
                return Err(Problem::new(
                    Fault::UnknownNode,
                    format!(
                        "{node} is not controlled by this device: it fences {} (hostname={})",
                        target.host, target.host
                    ),
                )
                .into());
            }
            let action = match kind {
                ResetKind::Reset => Action::Reboot,
                ResetKind::On => Action::On,
                ResetKind::Off => Action::Off,
            };
            let done = execute(&target, action, switches.verbose)?;
            if let Some(w) = &done.warning {
                eprintln!("WARN: {node}: {w}");
            }
            if !switches.silent {
                let verified = if done.off_seen && target.device.kind == Kind::Agent {
                    " (seen off)"
                } else {
                    ""
                };
                eprintln!(
                    "info: {node}: {action} done{verified}; power is {}",
                    done.power
                );
            }
        }
    }
    Ok(code)
}

/// Settings of an external device for the daemon and `-H`: `stonith_host`
/// words, the node to fence.
pub fn settings(
    type_name: &str,
    words: &str,
    node: &str,
    origin: &str,
) -> Result<Settings, Problem> {
    let words: Vec<String> = words.split_whitespace().map(String::from).collect();
    let mut target = target_from_words(type_name, &words, None, origin)?;
    if target.host.is_empty() || target.device.kind == Kind::Plugin {
        target.host = node.to_string();
    }
    Ok(Settings {
        hostname: Some(node.to_string()),
        target: Target::External(target),
        reset: RebootMethod::OnOff,
        notes: Vec::new(),
    })
}

/// Settings of a native `[[fence.device]]` of type `fence-agent` or
/// `external` fencing `node`: secret files read (0600 checked) now.
pub fn settings_from_device(node: &str, d: &ExternalDevice) -> Result<Settings, Problem> {
    let mut device = Device::new(d.kind, d.program.clone());
    let program = driver::program(&device).map_err(|e| Problem::config(e.message().to_string()))?;
    if d.program.starts_with('/') {
        device.name = Path::new(&d.program)
            .file_name()
            .map_or(d.program.clone(), |n| n.to_string_lossy().into_owned());
    }
    device.accept_unverified = d.accept_unverified;
    for (name, value) in &d.params {
        device
            .params
            .insert(name, value.clone().into_bytes())
            .map_err(|e| Problem::config(e.message().to_string()))?;
    }
    for (name, path) in &d.secret_files {
        let secret = read_password_file(path)?;
        device
            .params
            .insert(name, secret.expose().to_vec())
            .map_err(|e| Problem::config(e.message().to_string()))?;
    }
    let host = match d.kind {
        Kind::Agent => device.params.get("plug").map_or(node.to_string(), |p| {
            String::from_utf8_lossy(p).into_owned()
        }),
        Kind::Plugin => node.to_string(),
    };
    Ok(Settings {
        hostname: Some(node.to_string()),
        target: Target::External(ExternalTarget {
            device,
            program,
            host,
            timeout: d.timeout.unwrap_or(DEFAULT_TIMEOUT),
        }),
        reset: RebootMethod::OnOff,
        notes: Vec::new(),
    })
}

/// Whether a `stonith_host` line of an external type covers `node`: a
/// plugin's `gethosts` lists it, an agent's `hostname=` or `plug=` names it.
pub fn covers(type_name: &str, words: &str, node: &str, origin: &str) -> Result<bool, Problem> {
    let words: Vec<String> = words.split_whitespace().map(String::from).collect();
    let target = target_from_words(type_name, &words, None, origin)?;
    match target.device.kind {
        Kind::Agent => Ok(target.host.eq_ignore_ascii_case(node)),
        Kind::Plugin => {
            let hosts = driver::query_blocking(
                &target.program,
                &target.device,
                Query::Hosts,
                target.timeout.min(QUERY_BUDGET),
            )
            .map_err(|e| Problem::config(format!("{origin}: {e}")))?;
            Ok(matches!(hosts, Answer::Names(h) if h.iter().any(|h| h.eq_ignore_ascii_case(node))))
        }
    }
}

/// `Settings` of the first external `stonith_host` line of ha.cf in
/// `ha_d` that covers `node` for `local`, if any.
pub fn node_settings_from_ha_cf(
    ha_d: &Path,
    local: &str,
    node: &str,
) -> Result<Option<(Settings, String)>, Problem> {
    let path = ha_d.join("ha.cf");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    let cf =
        crate::config::parse_ha_cf(&text, &path).map_err(|e| Problem::config(e.to_string()))?;
    let mut problems = String::new();
    for line in &cf.options.stonith_hosts {
        let host = &line.value;
        if !is_external_type(&host.kind) || (host.from != "*" && host.from != local) {
            continue;
        }
        let origin = line.location.to_string();
        match covers(&host.kind, &host.params, node, &origin) {
            Ok(true) => {
                let s = settings(&host.kind, &host.params, node, &origin)?;
                return Ok(Some((s, format!("{origin}, {}", host.kind))));
            }
            Ok(false) => {}
            Err(p) => {
                let _ = write!(problems, "{}; ", p.message);
            }
        }
    }
    if problems.is_empty() {
        Ok(None)
    } else {
        Err(Problem::config(problems.trim_end_matches("; ").to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_served_here() {
        assert!(is_external_type("external/ssh"));
        assert!(is_external_type("fence_ipmilan"));
        assert!(!is_external_type("external/ipmi"));
        assert!(!is_external_type("ipmi"));
    }

    #[test]
    fn words_and_reserved_parameters() {
        if !Path::new("/usr/lib/stonith/plugins/external/ssh").is_file() {
            eprintln!("SKIPPED: words_and_reserved_parameters: cluster-glue not installed");
            return;
        }
        let words: Vec<String> = ["node1,node2", "accept_unverified=yes", "timeout=5s"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let t = target_from_words("external/ssh", &words, None, "-p").unwrap();
        assert_eq!(t.device.params.get("hostlist"), Some(&b"node1,node2"[..]));
        assert!(t.device.accept_unverified);
        assert_eq!(t.timeout, Duration::from_secs(5));
        assert!(t.device.params.get("timeout").is_none());
        let words: Vec<String> = vec!["a".into(), "b".into()];
        let t = target_from_words("external/ssh", &words, None, "-p").unwrap();
        assert_eq!(t.device.params.get("hostlist"), Some(&b"a b"[..]));
        let e = target_from_words("external/nonesuch", &[], None, "-p").unwrap_err();
        assert_eq!(e.fault, Fault::UnknownType);
        let bad: Vec<String> = vec!["accept_unverified=maybe".into()];
        assert!(target_from_words("external/ssh", &bad, None, "-p").is_err());
    }

    #[test]
    fn hostile_words_never_panic() {
        if !Path::new("/usr/lib/stonith/plugins/external/ssh").is_file() {
            eprintln!("SKIPPED: hostile_words_never_panic: cluster-glue not installed");
            return;
        }
        let names = vec!["hostlist".to_string(), "extra".to_string()];
        let base = b"node1 node2 accept_unverified=yes timeout=5s passwd=x=y a_b=\xc3\xa9".to_vec();
        let alphabet = b"= \t_-0x9.\xc3\xa9\x00\n";
        for bytes in crate::cli::mutate::mutations(&base, alphabet, 0x5eed_1234, 3_000, b' ') {
            let text = String::from_utf8_lossy(&bytes);
            let words: Vec<String> = text.split_whitespace().map(String::from).collect();
            if let Ok(t) = target_from_words("external/ssh", &words, Some(&names), "-p") {
                assert!(!format!("{t:?}").contains("passwd=x"));
            }
        }
    }
}
