//! The BMC settings both fencing front ends share (`stonith` and
//! `fence_ironbeat`): how to reach and log in to a BMC, read and checked
//! before any packet is sent, with the secrets kept out of every message.

use std::fmt;
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ironbeat_fence::driver::client::{self, FenceRequest};
use ironbeat_fence::ipmi::client::{CipherPolicy, Config, Protocol, V15Auth};
use ironbeat_fence::ipmi::crypto::CipherSuite;
use ironbeat_fence::ipmi::Privilege as IpmiPrivilege;
use ironbeat_fence::power::{Action, PowerState};
use ironbeat_fence::Error as FenceError;

use crate::cli::exit::Fault;

/// The longest IPMI 1.5 password (the session's 16-byte authcode key).
pub const MAX_PASSWORD_V15: usize = 16;
/// The longest RMCP+ password (IPMI 2.0 user key, 20 bytes).
pub const MAX_PASSWORD_V20: usize = 20;
/// The longest IPMI user name.
pub const MAX_USERNAME: usize = 16;
/// The standard RMCP port.
pub const DEFAULT_PORT: u16 = 623;
/// How long a password script may run.
const PASSWORD_SCRIPT_BUDGET: Duration = Duration::from_secs(10);

/// A problem found in the input before any device was contacted: what is
/// wrong and how to fix it, and which exit code that deserves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Decides the exit code (see `cli::exit`).
    pub fault: Fault,
    /// What is wrong and how to fix it. Never holds a password.
    pub message: String,
}

impl Problem {
    /// A problem of `fault` kind.
    pub fn new(fault: Fault, message: impl Into<String>) -> Self {
        Problem {
            fault,
            message: message.into(),
        }
    }

    /// A missing or unusable parameter or file.
    pub fn config(message: impl Into<String>) -> Self {
        Problem::new(Fault::Config, message)
    }

    /// A value that can never work.
    pub fn invalid(message: impl Into<String>) -> Self {
        Problem::new(Fault::InvalidValue, message)
    }

    /// A malformed command line.
    pub fn usage(message: impl Into<String>) -> Self {
        Problem::new(Fault::Usage, message)
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// A password or key: never printed, zeroed when dropped (the client's type).
pub use ironbeat_fence::ipmi::crypto::Secret;

/// The session protocol, IPMI 1.5 authentication type and privilege: the
/// configuration model's types, so the native file, cluster-glue's
/// parameters and fence-agents' options all describe a BMC the same way.
pub use crate::config::{
    IpmiAuth as LanAuth, IpmiInterface as Interface, IpmiPrivilege as Privilege,
};

/// Everything needed to open a session with one BMC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bmc {
    /// Host name or address, as configured.
    pub host: String,
    /// UDP port (623 unless configured).
    pub port: u16,
    /// User name (may be empty: the anonymous user).
    pub username: String,
    /// The password.
    pub password: Secret,
    /// IPMI 1.5 or 2.0, and how to authenticate.
    pub interface: Interface,
    /// The session privilege.
    pub privilege: Privilege,
    /// Whether cipher suite 0 (no authentication) was explicitly allowed.
    pub allow_cipher_zero: bool,
    /// The BMC key Kg, when the BMC has one set (RMCP+ only).
    pub bmc_key: Option<Secret>,
    /// The overall deadline of one request (the client's default if unset).
    pub timeout: Option<Duration>,
    /// How long a silent BMC is waited for (the client's default if unset).
    pub unreachable_after: Option<Duration>,
    /// Pause after a power state is seen, before the next step.
    pub power_wait: Duration,
}

impl Bmc {
    /// Checks what no BMC would accept: name and password lengths for the
    /// chosen protocol, cipher suite 0 unless allowed.
    pub fn check(&self) -> Result<(), Problem> {
        if self.host.trim().is_empty() {
            return Err(Problem::config(
                "the BMC address is empty; give its IP address or host name",
            ));
        }
        if self.username.len() > MAX_USERNAME {
            return Err(Problem::invalid(format!(
                "the user name is {} bytes long; IPMI user names have at most {MAX_USERNAME}",
                self.username.len()
            )));
        }
        let (limit, which) = match self.interface {
            Interface::Lan { .. } => (MAX_PASSWORD_V15, "IPMI 1.5 (interface lan)"),
            Interface::Lanplus { .. } => (MAX_PASSWORD_V20, "IPMI 2.0 (interface lanplus)"),
        };
        if self.password.len() > limit {
            return Err(Problem::invalid(format!(
                "the password is {} bytes long; {which} passwords have at most {limit} \
                 (the BMC would truncate or refuse it)",
                self.password.len()
            )));
        }
        if let (Some(_), Interface::Lan { .. }) = (&self.bmc_key, self.interface) {
            return Err(Problem::invalid(
                "a BMC key (Kg) is an IPMI 2.0 setting; use lanplus, or drop the key",
            ));
        }
        if let Interface::Lanplus { cipher: Some(0) } = self.interface {
            if !self.allow_cipher_zero {
                return Err(Problem::invalid(cipher_zero_refusal()));
            }
        }
        Ok(())
    }
}

/// Why cipher suite 0 is refused, and how to allow it anyway.
pub fn cipher_zero_refusal() -> String {
    "cipher suite 0 has no authentication: the BMC logs anyone in with any password; \
     use 17 or 3 (or leave the cipher unset to try 17 then 3), or allow suite 0 \
     explicitly (allow_cipher_zero=yes) if this BMC offers nothing else"
        .to_string()
}

/// Parses a cipher suite number; any suite the client implements passes
/// (0 too: whether it was allowed is checked with the rest).
pub fn parse_cipher(text: &str) -> Result<u8, Problem> {
    let text = text.trim();
    let suite: u8 = text.parse().map_err(|_| {
        Problem::invalid(format!(
            "cipher suite `{text}` is not a number; use 17 or 3, or leave it unset to try 17 \
             then 3"
        ))
    })?;
    ironbeat_fence::ipmi::crypto::CipherSuite::from_id(suite)
        .map(|s| s.id())
        .map_err(|e| Problem::invalid(e.message().to_string()))
}

/// Parses a privilege level: `operator`, `administrator` (or `admin`),
/// in any case. Lower levels cannot control chassis power.
pub fn parse_privilege(text: &str) -> Result<Privilege, Problem> {
    Privilege::parse(text).map_err(Problem::invalid)
}

/// Parses an IPMI 1.5 authentication type: `none`, `password`/`straight`,
/// `md5`. MD2 is refused (broken since 1997).
pub fn parse_lan_auth(text: &str) -> Result<LanAuth, Problem> {
    LanAuth::parse(text).map_err(Problem::invalid)
}

/// Parses a UDP port (1–65535).
pub fn parse_port(text: &str) -> Result<u16, Problem> {
    match text.trim().parse::<u16>() {
        Ok(port) if port > 0 => Ok(port),
        _ => Err(Problem::invalid(format!(
            "port `{}` is not a UDP port (1-65535); the IPMI default is 623",
            text.trim()
        ))),
    }
}

/// Parses a boolean the way fence-agents and heartbeat do: `1 yes on true y`
/// and `0 no off false n`, in any case.
pub fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "1" | "yes" | "on" | "true" | "y" => Some(true),
        "0" | "no" | "off" | "false" | "n" => Some(false),
        _ => None,
    }
}

/// Reads a password file: a regular file only its owner may read (mode
/// 0600 or stricter, as heartbeat demanded of authkeys), whose first line is
/// the password (a trailing CR is dropped).
pub fn read_password_file(path: &Path) -> Result<Secret, Problem> {
    let shown = path.display();
    let metadata = fs::metadata(path).map_err(|e| unreadable(path, &e))?;
    if !metadata.is_file() {
        return Err(Problem::config(format!(
            "password file {shown} is not a regular file; it must hold the BMC password on \
             its first line"
        )));
    }
    let mode = metadata.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(Problem::config(format!(
            "password file {shown} has mode {mode:04o}: other users can read the BMC password; \
             run chmod 600 {shown}"
        )));
    }
    let mut bytes = Vec::new();
    fs::File::open(path)
        .and_then(|mut f| f.read_to_end(&mut bytes))
        .map_err(|e| unreadable(path, &e))?;
    let line = bytes.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    Ok(Secret::new(line))
}

fn unreadable(path: &Path, error: &io::Error) -> Problem {
    let shown = path.display();
    let fix = match error.kind() {
        io::ErrorKind::NotFound => {
            format!("create it with the BMC password on one line, then chmod 600 {shown}")
        }
        io::ErrorKind::PermissionDenied => {
            "run as root or as the file's owner (fencing runs as root anyway)".to_string()
        }
        _ => format!("check {shown}"),
    };
    Problem::config(format!("cannot read password file {shown}: {error}; {fix}"))
}

/// Runs a password script (`sh -c SCRIPT`, fence-agents' `password_script`)
/// and takes the first line it prints. The script has 10 s; its stderr is
/// passed through, its output is never shown.
pub fn run_password_script(script: &str) -> Result<Secret, Problem> {
    let mut child = Command::new("/bin/sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| Problem::config(format!("cannot run the password script: {e}")))?;
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if started.elapsed() < PASSWORD_SCRIPT_BUDGET => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Problem::config(format!(
                    "the password script did not finish within {} s; make it print the \
                     password and exit",
                    PASSWORD_SCRIPT_BUDGET.as_secs()
                )));
            }
            Err(e) => {
                return Err(Problem::config(format!(
                    "cannot wait for the password script: {e}"
                )))
            }
        }
    };
    let mut out = Vec::new();
    if let Some(mut stdout) = child.stdout.take() {
        stdout
            .read_to_end(&mut out)
            .map_err(|e| Problem::config(format!("cannot read the password script: {e}")))?;
    }
    if !status.success() {
        return Err(Problem::config(format!(
            "the password script failed ({status}); run it by hand to see why"
        )));
    }
    let line = out.split(|b| *b == b'\n').next().unwrap_or_default();
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    Ok(Secret::new(line))
}

/// What an action did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done {
    /// The power state last seen.
    pub power: PowerState,
    /// Whether a power command was sent (false: it already was as asked).
    pub changed: bool,
    /// Something the operator should know although the action succeeded.
    pub warning: Option<String>,
    /// Off was seen during the action (always after off and reboot; never
    /// after a cycle or a hard reset).
    pub off_seen: bool,
}

/// The client's configuration for one action against `bmc`.
pub fn client_config(bmc: &Bmc, action: Action) -> Result<Config, FenceError> {
    let mut config = Config::new(bmc.username.clone(), bmc.password.clone(), action);
    config.bmc_key = bmc.bmc_key.clone();
    config.privilege = match bmc.privilege {
        Privilege::Operator => IpmiPrivilege::Operator,
        Privilege::Administrator => IpmiPrivilege::Administrator,
    };
    config.protocol = match bmc.interface {
        Interface::Lan { auth } => Protocol::Lan15(match auth {
            None => V15Auth::Auto,
            Some(LanAuth::Md5) => V15Auth::Md5,
            Some(LanAuth::Password) => V15Auth::Password,
            Some(LanAuth::None) => V15Auth::None,
        }),
        Interface::Lanplus { cipher: None } => Protocol::LanPlus(CipherPolicy::Auto),
        Interface::Lanplus { cipher: Some(id) } => {
            Protocol::LanPlus(CipherPolicy::Fixed(CipherSuite::from_id(id)?))
        }
    };
    config.allow_cipher_zero = bmc.allow_cipher_zero;
    if let Some(timeout) = bmc.timeout {
        config.timing.timeout = timeout;
    }
    if let Some(silence) = bmc.unreachable_after {
        config.timing.unreachable_after = silence;
    }
    config.timing.unreachable_after = config.timing.unreachable_after.min(config.timing.timeout);
    config.timing.power_wait = bmc.power_wait;
    Ok(config)
}

/// Runs one action against a BMC, in one session under one deadline; with
/// `verbose`, every datagram is printed on stderr as it goes (decoded,
/// without key material).
///
/// `Reboot` is off, verify off, on. Once off was seen the node is fenced, so
/// a failure of the on half is a warning in [`Done`], not an error
/// (fence-agents' API: "0 if the off portion was successful").
pub fn execute(bmc: &Bmc, action: Action, verbose: bool) -> Result<Done, FenceError> {
    let outcome = client::run_blocking(request(bmc, action, verbose)?)?;
    Ok(done(outcome))
}

/// [`execute`] on the caller's tokio runtime (the daemon's fencer), quiet.
pub async fn execute_async(bmc: &Bmc, action: Action) -> Result<Done, FenceError> {
    let outcome = client::run(request(bmc, action, false)?).await?;
    Ok(done(outcome))
}

fn request(bmc: &Bmc, action: Action, verbose: bool) -> Result<FenceRequest, FenceError> {
    let config = client_config(bmc, action)?;
    let mut request = FenceRequest::new(bmc.host.trim(), config);
    request.port = bmc.port;
    request.verbose = verbose;
    Ok(request)
}

fn done(outcome: ironbeat_fence::ipmi::client::Outcome) -> Done {
    Done {
        power: outcome.power,
        changed: outcome.command_sent,
        warning: outcome.power_on_failed.map(|why| {
            format!("the node was seen off (fenced), but powering it on again failed: {why}")
        }),
        off_seen: outcome.off_seen,
    }
}

/// A fence device, whichever protocol reaches it: what `stonith`,
/// `fence_ironbeat` and the daemon's fencer act on.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Target {
    /// A BMC over IPMI-over-LAN.
    Ipmi(Bmc),
    /// Fencing by hand: an operator powers these nodes off and confirms it
    /// (`ironbeat fence confirm NODE`); nothing can be run or verified here.
    Manual {
        /// The nodes, lower-cased.
        hosts: Vec<String>,
    },
    /// A cluster-glue `external/*` plugin or a fence-agents `fence_*` agent.
    External(super::external::ExternalTarget),
    /// A BMC over Redfish (iLO, iDRAC, any Redfish service).
    Redfish(super::redfish::RedfishTarget),
    /// An APC switched PDU over SNMP: the node's outlet(s).
    Apc(super::apc::ApcTarget),
}

impl Target {
    /// Where the device is, for `-v` and logs (never a secret).
    pub fn describe(&self) -> String {
        match self {
            Target::Ipmi(bmc) => format!("BMC {}:{} (IPMI)", bmc.host, bmc.port),
            Target::Manual { .. } => "an operator (manual fencing)".to_string(),
            Target::External(t) => t.describe(),
            Target::Redfish(t) => t.describe(),
            Target::Apc(t) => t.describe(),
        }
    }

    /// The configured deadline of one request, if any.
    pub fn timeout(&self) -> Option<Duration> {
        match self {
            Target::Ipmi(bmc) => bmc.timeout,
            Target::Manual { .. } => None,
            Target::External(t) => Some(t.timeout),
            Target::Redfish(t) => Some(t.timeout),
            Target::Apc(t) => Some(t.timeout),
        }
    }

    /// The IPMI settings, for an IPMI device.
    pub fn bmc(&self) -> Option<&Bmc> {
        match self {
            Target::Ipmi(bmc) => Some(bmc),
            _ => None,
        }
    }

    /// The IPMI settings to change, for an IPMI device.
    pub fn bmc_mut(&mut self) -> Option<&mut Bmc> {
        match self {
            Target::Ipmi(bmc) => Some(bmc),
            _ => None,
        }
    }
}

/// Runs one action against any device (blocking; `stonith`, `fence_ironbeat`).
/// Off, and the off half of a reboot, succeed only once the node is *seen*
/// off ([`Done::off_seen`]).
pub fn execute_target(target: &Target, action: Action, verbose: bool) -> Result<Done, FenceError> {
    match target {
        Target::Ipmi(bmc) => execute(bmc, action, verbose),
        Target::Manual { hosts } => Err(manual_refusal(hosts, action)),
        Target::External(t) => super::external::execute(t, action, verbose),
        Target::Redfish(t) => super::redfish::execute(t, action, verbose),
        Target::Apc(t) => super::apc::execute(t, action, verbose),
    }
}

/// [`execute_target`] on the caller's tokio runtime (the daemon's fencer), quiet.
pub async fn execute_target_async(target: &Target, action: Action) -> Result<Done, FenceError> {
    match target {
        Target::Ipmi(bmc) => execute_async(bmc, action).await,
        Target::Manual { hosts } => Err(manual_refusal(hosts, action)),
        Target::External(t) => super::external::execute_async(t, action).await,
        Target::Redfish(t) => super::redfish::execute_async(t, action).await,
        Target::Apc(t) => super::apc::execute_async(t, action).await,
    }
}

/// Why a manual device cannot be run: only an operator can do it.
fn manual_refusal(hosts: &[String], action: Action) -> FenceError {
    FenceError::new(
        ironbeat_fence::ErrorKind::Config,
        format!(
            "manual fencing ({}): nothing here can {action} these nodes or see their power; \
             do it by hand, then run `ironbeat fence confirm NODE` on a cluster node",
            hosts.join(", ")
        ),
    )
}

/// Escapes text for XML character data and attribute values.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bmc(interface: Interface) -> Bmc {
        Bmc {
            host: "198.18.1.2".into(),
            port: DEFAULT_PORT,
            username: "admin".into(),
            password: Secret::new("labpass"),
            interface,
            privilege: Privilege::Administrator,
            allow_cipher_zero: false,
            bmc_key: None,
            timeout: None,
            unreachable_after: None,
            power_wait: Duration::ZERO,
        }
    }

    #[test]
    fn secrets_never_print() {
        let b = bmc(Interface::Lanplus { cipher: Some(3) });
        assert!(!format!("{b:?}").contains("labpass"));
    }

    #[test]
    fn cipher_suites() {
        assert_eq!(parse_cipher(" 17 "), Ok(17));
        assert_eq!(parse_cipher("3"), Ok(3));
        assert_eq!(parse_cipher("0"), Ok(0));
        for bad in ["4", "12", "18", "255", "256", "-1", "x", ""] {
            let e = parse_cipher(bad).unwrap_err();
            assert_eq!(e.fault, Fault::InvalidValue, "{bad}");
        }
        assert!(parse_cipher("5")
            .unwrap_err()
            .message
            .contains("use 17 or 3"));
    }

    #[test]
    fn cipher_zero_needs_consent() {
        let mut b = bmc(Interface::Lanplus { cipher: Some(0) });
        assert!(b.check().unwrap_err().message.contains("any password"));
        b.allow_cipher_zero = true;
        assert!(b.check().is_ok());
    }

    #[test]
    fn password_limits_follow_the_protocol() {
        let mut b = bmc(Interface::Lan { auth: None });
        b.password = Secret::new("x".repeat(17));
        assert_eq!(b.check().unwrap_err().fault, Fault::InvalidValue);
        b.interface = Interface::Lanplus { cipher: None };
        assert!(b.check().is_ok());
        b.password = Secret::new("x".repeat(21));
        assert!(b.check().is_err());
        b.password = Secret::new("p");
        b.username = "u".repeat(17);
        assert!(b.check().is_err());
    }

    #[test]
    fn privileges_and_auth() {
        assert_eq!(parse_privilege("OPERATOR"), Ok(Privilege::Operator));
        assert_eq!(parse_privilege("admin"), Ok(Privilege::Administrator));
        assert!(parse_privilege("user")
            .unwrap_err()
            .message
            .contains("cannot control"));
        assert!(parse_privilege("boss").is_err());
        assert_eq!(parse_lan_auth("straight"), Ok(LanAuth::Password));
        assert_eq!(parse_lan_auth("MD5"), Ok(LanAuth::Md5));
        assert!(parse_lan_auth("md2").is_err());
        assert_eq!(parse_port("6230"), Ok(6230));
        assert!(parse_port("0").is_err());
        assert!(parse_port("70000").is_err());
        assert_eq!(parse_bool("Yes"), Some(true));
        assert_eq!(parse_bool("off"), Some(false));
        assert_eq!(parse_bool("maybe"), None);
    }

    #[test]
    fn xml_is_escaped() {
        assert_eq!(xml_escape(r#"a<b>&"c'"#), "a&lt;b&gt;&amp;&quot;c&apos;");
    }

    #[test]
    fn password_script_first_line() {
        let s = run_password_script("printf 'sekrit\\r\\nnext\\n'").unwrap();
        assert_eq!(s.expose(), b"sekrit");
        let e = run_password_script("exit 3").unwrap_err();
        assert!(e.message.contains("failed"), "{}", e.message);
    }
}
