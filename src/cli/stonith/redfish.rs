//! Redfish devices behind `stonith` (`-t redfish|ilo|idrac`), `fence_ironbeat`
//! (as `fence_ironbeat_redfish`, `fence_ironbeat_ilo`, `fence_ironbeat_idrac`,
//! with fence_redfish's options) and the daemon (`[[fence.device]]` type
//! `redfish`/`ilo`/`idrac`), run by `ironbeat_fence::driver::redfish`.
//!
//! Differences from fence_redfish, on purpose: the certificate is verified
//! unless `ssl_insecure` is asked (or pinned by `ssl_fingerprint`), every
//! HTTP status is checked, one deadline bounds the request (a black-holed BMC
//! fails at it, not after ~135 s), several systems are never guessed between,
//! and one kept-alive connection carries the whole request.

use std::fmt::Write as _;
use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

use ironbeat_fence::driver::redfish::{self as driver, RedfishRequest, TlsMode};
use ironbeat_fence::power::Action;
use ironbeat_fence::redfish::{Auth, Config, Outcome, Vendor};
use ironbeat_fence::Error as FenceError;

use super::agent_input::{self, fence_agents_alias, o, AgentInput, AgentOpt, AgentSpec};
use super::device::{
    parse_bool, parse_port, read_password_file, run_password_script, xml_escape, Done, Problem,
    Secret, Target,
};
use super::{DeviceType, Key, Params, Settings};
use crate::cli::exit;
use crate::config::fence_redfish::{
    check_systems_uri, parse_auth, tls_mode, RedfishDevice, TlsKeys,
};
use crate::config::{PasswordSource, RebootMethod};

/// The default deadline of one request.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);

/// A Redfish device ready to run (password read).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedfishTarget {
    /// Vendor defaults.
    pub vendor: Vendor,
    /// The BMC's address.
    pub host: String,
    /// Its TCP port.
    pub port: u16,
    /// The account.
    pub username: String,
    /// Its password (never shown).
    pub password: Secret,
    /// Session or Basic.
    pub auth: Auth,
    /// The ComputerSystem (None: discover).
    pub systems_uri: Option<String>,
    /// Certificate checking.
    pub tls: TlsMode,
    /// The deadline of one request.
    pub timeout: Duration,
    /// Pause after Off is seen in a reboot.
    pub power_wait: Duration,
}

impl RedfishTarget {
    /// Builds it from a device of the configuration (reads the password file).
    pub fn from_device(d: &RedfishDevice) -> Result<Self, Problem> {
        let password = match &d.password {
            PasswordSource::File(path) => read_password_file(path)?,
            PasswordSource::Inline(secret) => secret.clone(),
        };
        let port = d
            .port
            .unwrap_or(if d.tls == TlsMode::PlainHttp { 80 } else { 443 });
        Ok(RedfishTarget {
            vendor: d.vendor,
            host: d.address.trim().to_string(),
            port,
            username: d.username.clone(),
            password,
            auth: d.auth.unwrap_or(d.vendor.default_auth()),
            systems_uri: d
                .systems_uri
                .clone()
                .or_else(|| d.vendor.default_systems_uri().map(str::to_string)),
            tls: d.tls.clone(),
            timeout: d.timeout.unwrap_or(DEFAULT_TIMEOUT),
            power_wait: d.power_wait,
        })
    }

    /// `host:port (Redfish, ilo)` for messages; never a secret.
    pub fn describe(&self) -> String {
        let scheme = if self.tls == TlsMode::PlainHttp {
            "http"
        } else {
            "https"
        };
        format!(
            "BMC {scheme}://{}:{} (Redfish, {})",
            self.host,
            self.port,
            self.vendor.name()
        )
    }

    fn request(&self, action: Action, verbose: bool) -> RedfishRequest {
        let mut config = Config::new(
            self.vendor,
            self.username.clone(),
            self.password.clone(),
            action,
        );
        config.auth = self.auth;
        config.systems_uri = self.systems_uri.clone();
        config.timing.timeout = self.timeout;
        config.timing.power_wait = self.power_wait;
        RedfishRequest {
            host: self.host.clone(),
            port: self.port,
            tls: self.tls.clone(),
            config,
            verbose,
        }
    }
}

fn done(outcome: Outcome) -> Done {
    let mut warnings = outcome.warnings.clone();
    if let Some(why) = &outcome.power_on_failed {
        warnings.push(format!(
            "the node was seen off (fenced), but powering it on again failed: {why}"
        ));
    }
    Done {
        power: outcome.power,
        changed: outcome.command_sent,
        warning: (!warnings.is_empty()).then(|| warnings.join("; ")),
        off_seen: outcome.off_seen,
    }
}

/// Runs `action` (blocking); with `verbose`, every request and response line
/// goes to stderr.
pub fn execute(target: &RedfishTarget, action: Action, verbose: bool) -> Result<Done, FenceError> {
    driver::run_blocking(target.request(action, verbose)).map(done)
}

/// [`execute`] on the caller's tokio runtime (the daemon's fencer), quiet.
pub async fn execute_async(target: &RedfishTarget, action: Action) -> Result<Done, FenceError> {
    driver::run(target.request(action, false)).await.map(done)
}

fn parse_duration_param(name: &str, text: &str) -> Result<Duration, Problem> {
    match ironbeat_link::parse_duration(text) {
        Some(d) => Ok(d),
        None => Err(Problem::invalid(format!(
            "{name} `{}` is not a duration; write seconds (10) or a number with a unit (500ms, 10s)",
            text.trim()
        ))),
    }
}

fn flag(params: &Params, key: Key, name: &str) -> Result<bool, Problem> {
    match params.get(key) {
        None => Ok(false),
        Some(t) if t.trim().is_empty() => Ok(true),
        Some(t) => parse_bool(t)
            .ok_or_else(|| Problem::invalid(format!("{name} `{}` is not yes or no", t.trim()))),
    }
}

/// `stonith` parameters of a Redfish type into [`Settings`].
pub fn settings(ty: &DeviceType, params: &Params) -> Result<Settings, Problem> {
    let vendor: Vendor = ty
        .name
        .parse()
        .map_err(|e: FenceError| Problem::config(e.message().to_string()))?;
    let address = params
        .get(Key::Ipaddr)
        .ok_or_else(|| {
            Problem::config("missing parameter ipaddr (the BMC's address); give ipaddr=ADDRESS")
        })?
        .trim()
        .to_string();
    let username = params
        .get(Key::Userid)
        .ok_or_else(|| {
            Problem::config("missing parameter userid (the Redfish account); give userid=NAME")
        })?
        .to_string();
    let password = match (params.get(Key::Passwd), params.get(Key::PasswdFile)) {
        (Some(_), Some(_)) => {
            return Err(Problem::config(
                "both passwd and passwd_file are given; keep passwd_file (a 0600 file)",
            ))
        }
        (None, Some(path)) => PasswordSource::File(PathBuf::from(path.trim())),
        (Some(text), None) => PasswordSource::Inline(Secret::new(text.as_bytes())),
        (None, None) => return Err(Problem::config(
            "missing parameter passwd_file (a file, mode 0600, holding the BMC password) or passwd",
        )),
    };
    let keys = TlsKeys {
        ca: params.get(Key::SslCa),
        fingerprint: params.get(Key::SslFingerprint),
        insecure: flag(params, Key::SslInsecure, "ssl_insecure")?,
        plain: match params.get(Key::Ssl) {
            None => false,
            Some(t) => !parse_bool(t)
                .ok_or_else(|| Problem::invalid(format!("ssl `{}` is not yes or no", t.trim())))?,
        },
    };
    let tls = tls_mode(&keys, None).map_err(Problem::invalid)?;
    let systems_uri = match params.get(Key::SystemsUri) {
        Some(u) => {
            check_systems_uri(u.trim()).map_err(Problem::invalid)?;
            Some(u.trim().to_string())
        }
        None => None,
    };
    let auth = params
        .get(Key::Auth)
        .map(|a| parse_auth(a).map_err(Problem::invalid))
        .transpose()?;
    let timeout = params
        .get(Key::Timeout)
        .map(|t| parse_duration_param("timeout", t))
        .transpose()?
        .filter(|d| !d.is_zero());
    let method = match params.get(Key::ResetMethod) {
        None => RebootMethod::OnOff,
        Some(text) => RebootMethod::parse(text).map_err(Problem::invalid)?,
    };
    let device = RedfishDevice {
        vendor,
        address,
        port: params.get(Key::Ipport).map(parse_port).transpose()?,
        username,
        password,
        auth,
        systems_uri,
        tls,
        timeout,
        power_wait: Duration::ZERO,
        method,
    };
    let target = RedfishTarget::from_device(&device)?;
    Ok(Settings {
        hostname: params.get(Key::Hostname).map(|h| h.trim().to_string()),
        target: Target::Redfish(target),
        reset: method,
        notes: Vec::new(),
    })
}

/// [`Settings`] of a `[[fence.device]]` of a Redfish type (reads the password file).
pub fn settings_from_device(node: &str, d: &RedfishDevice) -> Result<Settings, Problem> {
    Ok(Settings {
        hostname: Some(node.to_string()),
        target: Target::Redfish(RedfishTarget::from_device(d)?),
        reset: d.method,
        notes: Vec::new(),
    })
}

// ---------------------------------------------------------------------------
// fence_ironbeat_redfish: fence_redfish's options and the fence-agents protocol.

/// The agent names served here, with their vendor.
pub const AGENTS: &[(&str, Vendor)] = &[
    ("fence_ironbeat_redfish", Vendor::Generic),
    ("fence_ironbeat_ilo", Vendor::Ilo),
    ("fence_ironbeat_idrac", Vendor::Idrac),
];

/// fence_redfish's options (4.12), plus ours: ssl_ca, ssl_fingerprint, auth, timeout.
const AGENT_OPTS: &[AgentOpt] = &[
    o(
        "action",
        "action",
        Some('o'),
        true,
        "Fencing action (on, off, reboot, status, monitor, metadata, validate-all)",
    ),
    o(
        "ip",
        "ip",
        Some('a'),
        true,
        "IP address or hostname of the BMC",
    ),
    o(
        "ipport",
        "ipport",
        Some('u'),
        true,
        "TCP port (443; 80 with ssl=0)",
    ),
    o("username", "username", Some('l'), true, "Login name"),
    o("password", "password", Some('p'), true, "Login password"),
    o(
        "password_script",
        "password-script",
        Some('S'),
        true,
        "Script that prints the password",
    ),
    o("ssl", "ssl", Some('z'), false, "Use HTTPS (the default)"),
    o(
        "notls",
        "notls",
        Some('t'),
        false,
        "Plain HTTP (emulators only)",
    ),
    o(
        "ssl_secure",
        "ssl-secure",
        None,
        false,
        "Verify the certificate (the default)",
    ),
    o(
        "ssl_insecure",
        "ssl-insecure",
        None,
        false,
        "Do not verify the certificate",
    ),
    o(
        "ssl_ca",
        "ssl-ca",
        None,
        true,
        "CA file (PEM) that signed the BMC's certificate",
    ),
    o(
        "ssl_fingerprint",
        "ssl-fingerprint",
        None,
        true,
        "SHA-256 fingerprint of the BMC's certificate",
    ),
    o(
        "systems_uri",
        "systems-uri",
        None,
        true,
        "Redfish systems URI (e.g. /redfish/v1/Systems/1)",
    ),
    o(
        "redfish_uri",
        "redfish-uri",
        None,
        true,
        "Redfish base URI (only /redfish/v1 is supported)",
    ),
    o(
        "auth",
        "auth",
        None,
        true,
        "session (X-Auth-Token, deleted afterwards) or basic",
    ),
    o(
        "plug",
        "plug",
        Some('n'),
        true,
        "Ignored (a BMC powers one system; see systems_uri)",
    ),
    o(
        "power_timeout",
        "power-timeout",
        None,
        true,
        "Seconds to wait for the power state (one deadline)",
    ),
    o(
        "timeout",
        "timeout",
        None,
        true,
        "Deadline of the whole request, seconds",
    ),
    o(
        "power_wait",
        "power-wait",
        None,
        true,
        "Seconds to wait after Off is seen in a reboot",
    ),
    o(
        "delay",
        "delay",
        None,
        true,
        "Seconds to wait before fencing",
    ),
    o(
        "login_timeout",
        "login-timeout",
        None,
        true,
        "Accepted; the one deadline bounds the login",
    ),
    o(
        "shell_timeout",
        "shell-timeout",
        None,
        true,
        "Accepted; unused",
    ),
    o(
        "retry_on",
        "retry-on",
        None,
        true,
        "Accepted; retries happen inside the deadline",
    ),
    o(
        "method",
        "method",
        Some('m'),
        true,
        "onoff (default) or cycle",
    ),
    o("verbose", "verbose", Some('v'), false, "Verbose mode"),
    o("quiet", "quiet", Some('q'), false, "No messages on stderr"),
    o(
        "debug_file",
        "debug-file",
        Some('D'),
        true,
        "Accepted; verbose output goes to stderr",
    ),
    o("help", "help", Some('h'), false, "Display help and exit"),
    o(
        "version",
        "version",
        Some('V'),
        false,
        "Display version and exit",
    ),
];

fn agent_opt(key: &str) -> Option<&'static AgentOpt> {
    let k = fence_agents_alias(key);
    AGENT_OPTS.iter().find(|o| o.name == k)
}

/// This agent's options and aliases, for [`agent_input`](super::agent_input).
const SPEC: AgentSpec = AgentSpec {
    opts: AGENT_OPTS,
    lookup: agent_opt,
};

/// What one invocation asks.
struct AgentRequest {
    action: AgentAction,
    target: RedfishTarget,
    method: RebootMethod,
    delay: Duration,
    verbose: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AgentAction {
    Power(Action),
    Status,
    Monitor,
    ValidateAll,
}

fn check(input: &AgentInput, vendor: Vendor) -> Result<AgentRequest, Problem> {
    let action_text = input
        .get("action")
        .unwrap_or("reboot")
        .trim()
        .to_ascii_lowercase();
    let action = match action_text.as_str() {
        "on" => AgentAction::Power(Action::On),
        "off" => AgentAction::Power(Action::Off),
        "reboot" => AgentAction::Power(Action::Reboot),
        "diag" => AgentAction::Power(Action::Diag),
        "status" => AgentAction::Status,
        "monitor" | "list" => AgentAction::Monitor,
        "validate-all" => AgentAction::ValidateAll,
        other => {
            return Err(Problem::usage(format!(
            "Failed: Unrecognised action '{other}'; use on, off, reboot, status, monitor, diag, \
                 metadata or validate-all"
        )))
        }
    };
    let host = input
        .get("ip")
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| Problem::config("Failed: You have to enter fence address (ip)"))?
        .trim()
        .to_string();
    let username = input
        .get("username")
        .ok_or_else(|| Problem::config("Failed: You have to set login name (username)"))?
        .to_string();
    let password =
        match (input.get("password"), input.get("password_script")) {
            (Some(p), _) => Secret::new(p.as_bytes()),
            (None, Some(script)) => run_password_script(script)?,
            (None, None) => return Err(Problem::config(
                "Failed: You have to enter password or password script (password, password_script)",
            )),
        };
    if let Some(base) = input.get("redfish_uri") {
        if base.trim().trim_end_matches('/') != "/redfish/v1" {
            return Err(Problem::invalid(format!(
                "redfish_uri {base:?}: only /redfish/v1 is supported; set systems_uri instead"
            )));
        }
    }
    let keys = TlsKeys {
        ca: input.get("ssl_ca"),
        fingerprint: input.get("ssl_fingerprint"),
        insecure: input.flag("ssl_insecure"),
        plain: input.flag("notls"),
    };
    let tls = tls_mode(&keys, None).map_err(Problem::invalid)?;
    let systems_uri = match input.get("systems_uri") {
        Some(u) => {
            check_systems_uri(u.trim()).map_err(Problem::invalid)?;
            Some(u.trim().to_string())
        }
        None => None,
    };
    let auth = input
        .get("auth")
        .map(|a| parse_auth(a).map_err(Problem::invalid))
        .transpose()?;
    // fence-agents' default budget: login + power_timeout (20 s) + margin.
    let timeout = match (input.seconds("timeout")?, input.seconds("power_timeout")?) {
        (Some(t), _) => t,
        (None, Some(p)) => p + Duration::from_secs(5),
        (None, None) => DEFAULT_TIMEOUT,
    };
    let method = match input.get("method").map(str::trim) {
        None | Some("onoff") => RebootMethod::OnOff,
        Some("cycle") => RebootMethod::PowerCycle,
        Some(other) => {
            return Err(Problem::invalid(format!(
                "method `{other}` is unknown; use onoff or cycle"
            )))
        }
    };
    let device = RedfishDevice {
        vendor,
        address: host,
        port: input.get("ipport").map(parse_port).transpose()?,
        username,
        password: PasswordSource::Inline(password),
        auth,
        systems_uri,
        tls,
        timeout: Some(timeout),
        power_wait: input.seconds("power_wait")?.unwrap_or_default(),
        method,
    };
    Ok(AgentRequest {
        action,
        target: RedfishTarget::from_device(&device)?,
        method,
        delay: input.seconds("delay")?.unwrap_or_default(),
        verbose: input.flag("verbose"),
    })
}

/// The fence-agents metadata of `program`.
pub fn metadata(program: &str, vendor: Vendor) -> String {
    let mut xml = String::new();
    let _ = write!(
        xml,
        "<?xml version=\"1.0\" ?>\n<resource-agent name=\"{}\" shortdesc=\"Fence agent for Redfish \
         ({}, ironbeat)\" >\n<longdesc>{}</longdesc>\n<vendor-url>https://www.dmtf.org/standards/redfish</vendor-url>\n<parameters>\n",
        xml_escape(program),
        vendor.name(),
        xml_escape(
            "Powers a machine off and on through its BMC's Redfish service (iLO 4 2.30+, iLO 5/6, \
             iDRAC 7/8 2.40.40.40+, iDRAC 9, any DMTF Redfish BMC). fence_redfish's options; the \
             certificate is verified unless ssl_insecure (or pinned with ssl_fingerprint); a node \
             is reported off only after its PowerState is seen Off."
        )
    );
    for opt in AGENT_OPTS {
        if matches!(opt.name, "help" | "version") {
            continue;
        }
        let content = if opt.value { "string" } else { "boolean" };
        let required = matches!(opt.name, "ip" | "username");
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
        "</parameters>\n<actions>\n\t<action name=\"on\" automatic=\"0\"/>\n\t<action name=\"off\" />\n\t<action name=\"reboot\" />\n\t<action name=\"status\" />\n\t<action name=\"monitor\" />\n\t<action name=\"diag\" />\n\t<action name=\"metadata\" />\n\t<action name=\"validate-all\" />\n</actions>\n</resource-agent>\n",
    );
    xml
}

/// Runs one fence-agents invocation as `program`; returns the exit code.
pub fn agent_run(program: &str, args: &[String], stdin: impl Read) -> u8 {
    let vendor = AGENTS
        .iter()
        .find(|(n, _)| *n == program)
        .map_or(Vendor::Generic, |(_, v)| *v);
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
        print!("{}", metadata(program, vendor));
        return exit::fence_agent::SUCCESS;
    }
    let request = match check(&input, vendor) {
        Ok(r) => r,
        Err(p) => {
            say(&p.message);
            return exit::fence_agent_fault_code(p.fault);
        }
    };
    match request.action {
        AgentAction::ValidateAll => exit::fence_agent::SUCCESS,
        AgentAction::Status | AgentAction::Monitor => {
            match execute(&request.target, Action::Status, request.verbose) {
                Ok(done) if request.action == AgentAction::Status => {
                    println!("Status: {}", done.power.to_string().to_uppercase());
                    exit::fence_agent_code(Ok(Some(done.power)))
                }
                Ok(_) => exit::fence_agent_code(Ok(None)),
                Err(e) => {
                    say(&format!("Failed: {e}"));
                    exit::fence_agent_code(Err(&e))
                }
            }
        }
        AgentAction::Power(action) => {
            let action = if action == Action::Reboot {
                request.method.action()
            } else {
                action
            };
            if matches!(action, Action::Off | Action::Reboot | Action::Cycle)
                && !request.delay.is_zero()
            {
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
                            Action::Diag => "Success: Diagnostic interrupt sent",
                            _ => "Success: Rebooted",
                        }
                    );
                    exit::fence_agent_code(Ok(None))
                }
                Err(e) => {
                    say(&format!("Failed: {e}"));
                    exit::fence_agent_code(Err(&e))
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fence_redfish_command_lines_and_stdin_parse_alike() {
        let args: Vec<String> = [
            "--ip=198.18.3.10",
            "--ipport",
            "8443",
            "-l",
            "Administrator",
            "--password=s3cret",
            "--ssl-insecure",
            "--systems-uri=/redfish/v1/Systems/1",
            "--action=off",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let a = check(&SPEC.args(&args).unwrap(), Vendor::Generic).unwrap();
        let b = check(
            &SPEC.lines(
                "ip=198.18.3.10\nipport=8443\nlogin=Administrator\npasswd=s3cret\nssl_insecure=1\n\
                 systems_uri=/redfish/v1/Systems/1\naction=off\nnodename=n1\n",
            ),
            Vendor::Generic,
        )
        .unwrap();
        assert_eq!(a.target, b.target);
        assert_eq!(a.action, AgentAction::Power(Action::Off));
        assert_eq!(
            (a.target.port, a.target.tls.clone()),
            (8443, TlsMode::Insecure)
        );
        assert!(!format!("{:?}", a.target).contains("s3cret"));
        assert!(SPEC.args(&["--bogus".to_string()]).is_err());
        let x = SPEC.lines("ip=x\nusername=u\npassword=p\nssl_ca=a.pem\nssl_insecure=1\n");
        assert!(check(&x, Vendor::Ilo).is_err(), "two TLS modes");
        let ilo = check(
            &SPEC.lines("ip=x\nusername=u\npassword=p\naction=status"),
            Vendor::Ilo,
        )
        .unwrap();
        assert_eq!(
            ilo.target.systems_uri.as_deref(),
            Some("/redfish/v1/Systems/1")
        );
        assert_eq!(ilo.target.auth, Auth::Session);
        assert!(metadata("fence_ironbeat_ilo", Vendor::Ilo).contains("ssl_fingerprint"));
    }
}
