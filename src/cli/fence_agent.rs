//! `fence_ironbeat`: the fence-agents protocol (`doc/FenceAgentAPI.md`), so
//! Pacemaker's fencer can run it where it ran `fence_ipmilan`.
//!
//! Input: options on the command line (`--ip=…`, `-a …`), or, when there are
//! no arguments, `key=value` lines on stdin (the same names without dashes,
//! plus fence_ipmilan's old names: `ipaddr`, `login`, `passwd`,
//! `passwd_script`, `port`). On stdin `#` lines are skipped, `-` and `_` are
//! alike, surrounding quotes are dropped, the last value wins, and unknown
//! names are ignored with a warning (as fence-agents' library does; `nodename`
//! silently).
//!
//! Actions and exit codes (chosen in [`crate::cli::exit`]):
//!
//! | action | 0 | 1 | 2 |
//! |---|---|---|---|
//! | `on`, `off`, `reboot`, `diag` | done and verified | failed or not verifiable | — |
//! | `status` | on | BMC unreachable, refused, … | off |
//! | `monitor`, `list` | BMC answers | BMC unreachable, refused, … | — |
//! | `metadata`, `validate-all` | input fine | input wrong | — |
//!
//! `reboot` is off, verify off, on (`method=cycle`: one power cycle); it
//! succeeds once off was seen, as the API asks, and warns if the node then
//! failed to come back on. `monitor` answers 0 for a BMC that reports the node
//! off (fence-agents' library does the same): Pacemaker would otherwise mark
//! the fence device failed whenever its node is down. `list` is not announced
//! in the metadata: a BMC has no outlets to list, and an announced `list`
//! makes Pacemaker expect node names from it (`pcmk_host_check=dynamic-list`).
//!
//! One binary, several names: the metadata's `name` is the name it was run
//! as; `<symlink>` lists the others.

use std::fmt::Write as _;
use std::io::{self, Read};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use ironbeat_fence::power::Action;

use crate::cli::exit::{self, Fault};
use crate::cli::stonith::args::{self, Argument, Item, Spec};
use crate::cli::stonith::device::{
    self, parse_bool, parse_cipher, parse_lan_auth, parse_port, parse_privilege,
    run_password_script, xml_escape, Bmc, Interface, Privilege, Problem, Secret, DEFAULT_PORT,
};
use crate::cli::stonith::Protocol;

/// The names this binary answers to (the first is the main one).
pub const NAMES: &[(&str, &str)] = &[
    ("fence_ironbeat", "Fence agent for IPMI over LAN (ironbeat)"),
    (
        "fence_ironbeat_ipmi",
        "Fence agent for IPMI over LAN (ironbeat)",
    ),
];

/// A parameter's value type, as the metadata declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    /// Free text.
    String,
    /// `1 yes on true` / `0 no off false`; a flag on the command line.
    Boolean,
    /// A whole number.
    Integer,
    /// Seconds.
    Second,
    /// One of a list.
    Select(&'static [&'static str]),
}

/// One option of the agent.
#[derive(Debug)]
pub struct Opt {
    /// The stdin key and metadata name.
    pub name: &'static str,
    /// The name it replaces (still accepted; listed as deprecated).
    pub old_name: Option<&'static str>,
    /// Short option letter.
    pub short: Option<char>,
    /// Long option (without `--`).
    pub long: &'static str,
    /// Value type.
    pub content: Content,
    /// Default shown in the metadata.
    pub default: Option<&'static str>,
    /// Whether the metadata calls it required.
    pub required: bool,
    /// One line for `--help` and the metadata.
    pub shortdesc: &'static str,
    /// Whether the metadata lists it (compatibility options it does not).
    pub listed: bool,
}

const fn opt(
    name: &'static str,
    short: Option<char>,
    long: &'static str,
    content: Content,
    shortdesc: &'static str,
) -> Opt {
    Opt {
        name,
        old_name: None,
        short,
        long,
        content,
        default: None,
        required: false,
        shortdesc,
        listed: true,
    }
}

const fn with_default(mut o: Opt, default: &'static str) -> Opt {
    o.default = Some(default);
    o
}

const fn obsoletes(mut o: Opt, old: &'static str) -> Opt {
    o.old_name = Some(old);
    o
}

const fn required(mut o: Opt) -> Opt {
    o.required = true;
    o
}

const fn unlisted(mut o: Opt) -> Opt {
    o.listed = false;
    o
}

/// fence_ipmilan options that drive ipmitool and mean nothing here: accepted
/// (so migrated configurations keep working), checked for shape, and named
/// by `validate-all` and `--verbose`.
const UNUSED: &[&str] = &[
    "shell_timeout",
    "ipmitool_timeout",
    "ipmitool_path",
    "stonith_status_sleep",
    "retry_on",
    "disable_timeout",
    "use_sudo",
    "sudo_path",
    "plug_separator",
    "verbose_level",
    "debug_file",
];

/// Every option, in `--help` and metadata order.
pub const OPTIONS: &[Opt] = &[
    required(with_default(
        opt(
            "action",
            Some('o'),
            "action",
            Content::String,
            "Fencing action",
        ),
        "reboot",
    )),
    required(obsoletes(
        opt(
            "ip",
            Some('a'),
            "ip",
            Content::String,
            "IP address or hostname of fencing device",
        ),
        "ipaddr",
    )),
    with_default(
        opt(
            "ipport",
            Some('u'),
            "ipport",
            Content::Integer,
            "UDP port to use for connection with device",
        ),
        "623",
    ),
    obsoletes(
        opt(
            "username",
            Some('l'),
            "username",
            Content::String,
            "Login name",
        ),
        "login",
    ),
    obsoletes(
        opt(
            "password",
            Some('p'),
            "password",
            Content::String,
            "Login password or passphrase",
        ),
        "passwd",
    ),
    obsoletes(
        opt(
            "password_script",
            Some('S'),
            "password-script",
            Content::String,
            "Script to run to retrieve password",
        ),
        "passwd_script",
    ),
    with_default(
        opt(
            "lanplus",
            Some('P'),
            "lanplus",
            Content::Boolean,
            "Use IPMI 2.0 RMCP+ (lanplus); 0 for IPMI 1.5",
        ),
        "1",
    ),
    opt(
        "cipher",
        Some('C'),
        "cipher",
        Content::Integer,
        "RMCP+ cipher suite: 17, 3, 2 or 1 (unset: try 17, then 3)",
    ),
    opt(
        "allow_cipher_zero",
        None,
        "allow-cipher-zero",
        Content::Boolean,
        "Allow cipher suite 0 (no authentication: any password is accepted)",
    ),
    opt(
        "auth",
        Some('A'),
        "auth",
        Content::Select(&["md5", "password", "none"]),
        "IPMI 1.5 authentication type (lanplus=0 only)",
    ),
    with_default(
        opt(
            "privlvl",
            Some('L'),
            "privlvl",
            Content::Select(&["operator", "administrator"]),
            "Privilege level on IPMI device",
        ),
        "administrator",
    ),
    with_default(
        opt(
            "method",
            Some('m'),
            "method",
            Content::Select(&["onoff", "cycle"]),
            "Method to fence: onoff (off, verify off, on) or cycle (one power cycle, unverified)",
        ),
        "onoff",
    ),
    obsoletes(
        opt(
            "plug",
            Some('n'),
            "plug",
            Content::String,
            "The node Pacemaker fences (a BMC powers one machine: used in messages only)",
        ),
        "port",
    ),
    with_default(
        opt(
            "power_timeout",
            None,
            "power-timeout",
            Content::Second,
            "Deadline of one request, power change and its verification included",
        ),
        "20",
    ),
    with_default(
        opt(
            "power_wait",
            None,
            "power-wait",
            Content::Second,
            "Wait X seconds after power is seen off before powering on (reboot)",
        ),
        "0",
    ),
    with_default(
        opt(
            "delay",
            None,
            "delay",
            Content::Second,
            "Wait X seconds before fencing is started (off, reboot)",
        ),
        "0",
    ),
    with_default(
        opt(
            "login_timeout",
            None,
            "login-timeout",
            Content::Second,
            "Seconds a silent BMC is waited for before it is declared unreachable",
        ),
        "5",
    ),
    opt(
        "quiet",
        Some('q'),
        "quiet",
        Content::Boolean,
        "Disable logging to stderr",
    ),
    opt(
        "verbose",
        Some('v'),
        "verbose",
        Content::Boolean,
        "Verbose mode: print the exchange with the BMC, packet by packet",
    ),
    opt(
        "version",
        Some('V'),
        "version",
        Content::Boolean,
        "Display version information and exit",
    ),
    opt(
        "help",
        Some('h'),
        "help",
        Content::Boolean,
        "Display help and exit",
    ),
    unlisted(opt(
        "shell_timeout",
        None,
        "shell-timeout",
        Content::Second,
        "",
    )),
    unlisted(opt(
        "ipmitool_timeout",
        None,
        "ipmitool-timeout",
        Content::Second,
        "",
    )),
    unlisted(opt(
        "ipmitool_path",
        None,
        "ipmitool-path",
        Content::String,
        "",
    )),
    unlisted(opt(
        "stonith_status_sleep",
        None,
        "stonith-status-sleep",
        Content::Second,
        "",
    )),
    unlisted(opt("retry_on", None, "retry-on", Content::Integer, "")),
    unlisted(opt(
        "disable_timeout",
        None,
        "disable-timeout",
        Content::String,
        "",
    )),
    unlisted(opt("use_sudo", None, "use-sudo", Content::Boolean, "")),
    unlisted(opt("sudo_path", None, "sudo-path", Content::String, "")),
    unlisted(opt(
        "plug_separator",
        None,
        "plug-separator",
        Content::String,
        "",
    )),
    unlisted(opt(
        "verbose_level",
        None,
        "verbose-level",
        Content::Integer,
        "",
    )),
    unlisted(opt(
        "debug_file",
        Some('D'),
        "debug-file",
        Content::String,
        "",
    )),
    opt(
        "hexadecimal_kg",
        None,
        "hexadecimal-kg",
        Content::String,
        "Hexadecimal-encoded Kg key for IPMIv2 authentication",
    ),
    unlisted(opt("target", None, "target", Content::String, "")),
];

/// The actions, and whether the metadata announces them.
pub const ACTIONS: &[(&str, bool)] = &[
    ("on", true),
    ("off", true),
    ("reboot", true),
    ("status", true),
    ("monitor", true),
    ("metadata", true),
    ("validate-all", true),
    ("diag", true),
    ("list", false),
];

/// An action of the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentAction {
    /// A power action (on, off, reboot, diag).
    Power(Action),
    /// Read the power state: 0 on, 2 off.
    Status,
    /// Is the BMC there: 0 yes.
    Monitor,
    /// Like monitor, prints nothing (a BMC has no outlets).
    List,
    /// Print the metadata.
    Metadata,
    /// Check the input only.
    ValidateAll,
}

fn parse_action(text: &str) -> Option<AgentAction> {
    Some(match text.trim().to_ascii_lowercase().as_str() {
        "on" => AgentAction::Power(Action::On),
        "off" => AgentAction::Power(Action::Off),
        "reboot" => AgentAction::Power(Action::Reboot),
        "diag" => AgentAction::Power(Action::Diag),
        "status" => AgentAction::Status,
        "monitor" => AgentAction::Monitor,
        "list" => AgentAction::List,
        "metadata" => AgentAction::Metadata,
        "validate-all" => AgentAction::ValidateAll,
        _ => return None,
    })
}

/// Finds an option by its stdin key (name or old name; `-` and `_` alike).
pub fn option_by_key(key: &str) -> Option<&'static Opt> {
    let mut key = key.replace('-', "_");
    if key == "option" {
        // The API's deprecated name of `action`.
        key = "action".to_string();
    }
    OPTIONS
        .iter()
        .find(|o| o.name == key || o.old_name == Some(key.as_str()))
}

/// The options as given: option name → value (`"1"`/`"0"` for booleans).
#[derive(Debug, Default, Clone)]
pub struct Input {
    values: Vec<(&'static str, String)>,
    /// Warnings about ignored lines (shown unless quiet).
    pub warnings: Vec<String>,
}

impl Input {
    fn set(&mut self, name: &'static str, value: String) {
        self.values.retain(|(n, _)| *n != name);
        self.values.push((name, value));
    }

    /// The value of an option, if given.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    fn flag(&self, name: &str) -> bool {
        self.get(name).and_then(parse_bool).unwrap_or(false)
    }

    /// Reads `key=value` lines (the stdin protocol).
    pub fn from_lines(text: &str) -> Input {
        let mut input = Input::default();
        for (number, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                // Not shown: a stray line may be a password.
                input.warnings.push(format!(
                    "Parse error: Ignoring line {} of stdin: it has no '='",
                    number + 1
                ));
                continue;
            };
            let key = key.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            let Some(o) = option_by_key(key) else {
                if key != "nodename" {
                    input
                        .warnings
                        .push(format!("Parse error: Ignoring unknown option '{key}'"));
                }
                continue;
            };
            if o.content == Content::Boolean {
                match parse_bool(value) {
                    Some(b) => input.set(o.name, if b { "1" } else { "0" }.to_string()),
                    None => input.warnings.push(format!(
                        "Parse error: Ignoring option '{}' because it does not have value",
                        o.name
                    )),
                }
            } else {
                input.set(o.name, value.to_string());
            }
        }
        input
    }

    /// Reads command-line options (fence-agents' getopt spellings).
    pub fn from_args(args: &[String]) -> Result<Input, Problem> {
        let spellings = Spellings::new();
        let mut input = Input::default();
        for item in args::parse(args, &spellings.spec())? {
            let (o, value) = match item {
                Item::Short(c, value) => (OPTIONS.iter().find(|o| o.short == Some(c)), value),
                Item::Long(long, value) => (OPTIONS.iter().find(|o| o.long == long), value),
                Item::Operand(word) => {
                    input
                        .warnings
                        .push(format!("Unused argument on command line: {word}"));
                    continue;
                }
            };
            let Some(o) = o else {
                return Err(Problem::usage("Parse error: unknown option"));
            };
            let value = match (o.content, value) {
                (Content::Boolean, None) => "1".to_string(),
                (Content::Boolean, Some(v)) => match parse_bool(&v) {
                    Some(b) => if b { "1" } else { "0" }.to_string(),
                    None => {
                        return Err(Problem::usage(format!(
                            "Parse error: --{} takes 1 or 0 (yes/no, on/off, true/false)",
                            o.long
                        )))
                    }
                },
                (_, v) => v.unwrap_or_default(),
            };
            input.set(o.name, value);
        }
        Ok(input)
    }
}

/// The getopt spellings of [`OPTIONS`].
struct Spellings {
    with_argument: String,
    flags: String,
    long: Vec<(&'static str, Argument)>,
}

impl Spellings {
    fn new() -> Self {
        let takes = |o: &&Opt| o.content != Content::Boolean;
        Spellings {
            with_argument: OPTIONS
                .iter()
                .filter(takes)
                .filter_map(|o| o.short)
                .collect(),
            flags: OPTIONS
                .iter()
                .filter(|o| !takes(o))
                .filter_map(|o| o.short)
                .collect(),
            long: OPTIONS
                .iter()
                .map(|o| {
                    let argument = if takes(&o) {
                        Argument::Required
                    } else {
                        Argument::Optional
                    };
                    (o.long, argument)
                })
                .collect(),
        }
    }

    fn spec(&self) -> Spec<'_> {
        Spec {
            short_with_argument: &self.with_argument,
            short_flags: &self.flags,
            long: &self.long,
        }
    }
}

/// A checked request.
#[derive(Debug, Clone)]
pub struct Request {
    /// What to do.
    pub action: AgentAction,
    /// The BMC (absent for metadata).
    pub bmc: Bmc,
    /// `plug`, for messages.
    pub plug: Option<String>,
    /// Seconds to wait before off/reboot.
    pub delay: Duration,
    /// Options accepted for compatibility that change nothing.
    pub unused: Vec<&'static str>,
    /// Print the exchange.
    pub verbose: bool,
}

fn seconds(input: &Input, name: &str, default: f64) -> Result<Duration, Problem> {
    let Some(text) = input.get(name) else {
        return Ok(Duration::from_secs_f64(default));
    };
    match text.trim().parse::<f64>() {
        Ok(s) if s.is_finite() && (0.0..=86_400.0).contains(&s) => Ok(Duration::from_secs_f64(s)),
        _ => Err(Problem::invalid(format!(
            "Failed: The value you have entered for --{} is not a valid time in seconds",
            name.replace('_', "-")
        ))),
    }
}

/// Checks everything an action needs (`validate-all` stops here).
pub fn check(input: &Input) -> Result<Request, Problem> {
    let action_text = input.get("action").unwrap_or("reboot");
    let action = parse_action(action_text).ok_or_else(|| {
        Problem::usage(format!(
            "Failed: Unrecognised action '{action_text}'; use one of {}",
            ACTIONS
                .iter()
                .map(|(a, _)| *a)
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    for o in OPTIONS {
        let Some(value) = input.get(o.name) else {
            continue;
        };
        match o.content {
            Content::Select(choices)
                if !choices.contains(&value.trim().to_ascii_lowercase().as_str()) =>
            {
                return Err(Problem::invalid(format!(
                    "Failed: You have to enter a valid choice for --{} from the valid values: {}",
                    o.long,
                    choices.join(", ")
                )))
            }
            Content::Integer if value.trim().parse::<i64>().is_err() => {
                return Err(Problem::invalid(format!(
                    "Failed: The value you have entered for --{} is not a valid integer",
                    o.long
                )))
            }
            Content::Second => {
                seconds(input, o.name, 0.0)?;
            }
            _ => {}
        }
    }
    if input.get("target").is_some_and(|t| !t.trim().is_empty()) {
        return Err(Problem::invalid(
            "Failed: target (IPMB bridging) is not supported; fence the target's own BMC",
        ));
    }
    let host = match input.get("ip") {
        Some(ip) if !ip.trim().is_empty() => ip.trim().to_string(),
        _ => return Err(Problem::config("Failed: You have to enter fence address")),
    };
    let password = match (input.get("password"), input.get("password_script")) {
        (Some(p), _) => Secret::new(p.as_bytes()),
        (None, Some(script)) => run_password_script(script)
            .map_err(|p| Problem::new(p.fault, format!("Failed: {}", p.message)))?,
        (None, None) => {
            return Err(Problem::config(
                "Failed: You have to enter password or password script",
            ))
        }
    };
    let lanplus_given = input.get("lanplus").map(|v| v == "1");
    let cipher = input
        .get("cipher")
        .map(parse_cipher)
        .transpose()
        .map_err(failed)?;
    let auth = input
        .get("auth")
        .map(parse_lan_auth)
        .transpose()
        .map_err(failed)?;
    let interface = match (lanplus_given, cipher, auth) {
        (Some(false), Some(_), _) => {
            return Err(Problem::invalid(
                "Failed: cipher applies to lanplus; drop cipher or set lanplus=1",
            ))
        }
        (Some(true), _, Some(_)) | (None, Some(_), Some(_)) => {
            return Err(Problem::invalid(
                "Failed: auth applies to IPMI 1.5 (lanplus=0); drop auth or set lanplus=0",
            ))
        }
        (Some(false), None, auth) | (None, None, auth @ Some(_)) => Interface::Lan { auth },
        (_, cipher, None) => Interface::Lanplus { cipher },
    };
    let privilege = match input.get("privlvl") {
        Some(p) => parse_privilege(p).map_err(failed)?,
        None => Privilege::Administrator,
    };
    let port = match input.get("ipport") {
        Some(p) => parse_port(p).map_err(failed)?,
        None => DEFAULT_PORT,
    };
    let cycle = input
        .get("method")
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("cycle"));
    let action = match action {
        AgentAction::Power(Action::Reboot) if cycle => AgentAction::Power(Action::Cycle),
        other => other,
    };
    let timeout = seconds(input, "power_timeout", 20.0)?;
    let unreachable_after = seconds(input, "login_timeout", 5.0)?;
    if timeout.is_zero() || unreachable_after.is_zero() {
        return Err(Problem::invalid(
            "Failed: a zero timeout leaves no time to reach the BMC; use at least 1",
        ));
    }
    let bmc_key = match input.get("hexadecimal_kg").map(str::trim) {
        None | Some("") => None,
        Some(hex) => Some(decode_hex(hex).ok_or_else(|| {
            Problem::invalid(
                "Failed: hexadecimal_kg is not an even number of hexadecimal digits (the BMC \
                 key Kg, at most 20 bytes = 40 digits)",
            )
        })?),
    };
    let bmc = Bmc {
        host,
        port,
        username: input.get("username").unwrap_or_default().to_string(),
        password,
        interface,
        privilege,
        allow_cipher_zero: input.flag("allow_cipher_zero"),
        bmc_key,
        timeout: Some(timeout),
        unreachable_after: Some(unreachable_after.min(timeout)),
        power_wait: seconds(input, "power_wait", 0.0)?,
    };
    bmc.check().map_err(failed)?;
    Ok(Request {
        action,
        bmc,
        plug: input.get("plug").map(str::to_string),
        delay: seconds(input, "delay", 0.0)?,
        unused: UNUSED
            .iter()
            .copied()
            .filter(|n| input.get(n).is_some())
            .collect(),
        verbose: input.flag("verbose"),
    })
}

/// Decodes hex digits (an even number of them) into a secret.
fn decode_hex(hex: &str) -> Option<Secret> {
    let hex = hex.strip_prefix("0x").unwrap_or(hex);
    if hex.len() % 2 != 0 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let bytes = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).ok())
        .collect::<Option<Vec<u8>>>()?;
    Some(Secret::new(bytes))
}

fn failed(p: Problem) -> Problem {
    Problem::new(p.fault, format!("Failed: {}", p.message))
}

/// The metadata XML for the agent run as `name`.
pub fn metadata(name: &str) -> String {
    let shortdesc = NAMES
        .iter()
        .find(|(n, _)| *n == name)
        .map_or(NAMES[0].1, |(_, d)| *d);
    let mut xml = format!(
        "<?xml version=\"1.0\" ?>\n<resource-agent name=\"{}\" shortdesc=\"{}\" >\n",
        xml_escape(name),
        xml_escape(shortdesc)
    );
    for (n, d) in NAMES.iter().skip(1) {
        let _ = writeln!(
            xml,
            "<symlink name=\"{}\" shortdesc=\"{}\"/>",
            xml_escape(n),
            xml_escape(d)
        );
    }
    xml.push_str(
        "<longdesc>fence_ironbeat is an I/O fencing agent for machines with an IPMI BMC. It \
         speaks IPMI over LAN itself (no ipmitool): IPMI 2.0 RMCP+ with cipher suites 17, 3, 2 \
         and 1 (by default 17, then 3), or IPMI 1.5 with MD5 or password authentication. off \
         succeeds only once the power is seen off; reboot is off, verify off, on. Each \
         request has one deadline (power_timeout for power changes, login_timeout for status \
         and monitor), and its session is always closed. Cipher suite 0 is refused unless \
         allow_cipher_zero is set.</longdesc>\n<vendor-url>https://www.intel.com/content/www/us/en/products/docs/servers/ipmi/ipmi-home.html</vendor-url>\n<parameters>\n",
    );
    for o in OPTIONS.iter().filter(|o| o.listed) {
        parameter_xml(&mut xml, o, o.name, false);
        if let Some(old) = o.old_name {
            parameter_xml(&mut xml, o, old, true);
        }
    }
    xml.push_str("</parameters>\n<actions>\n");
    for (action, announced) in ACTIONS {
        if *announced {
            let automatic = if *action == "on" {
                " automatic=\"0\""
            } else {
                ""
            };
            let _ = writeln!(xml, "\t<action name=\"{action}\"{automatic} />");
        }
    }
    xml.push_str("</actions>\n</resource-agent>\n");
    xml
}

fn parameter_xml(xml: &mut String, o: &Opt, name: &str, deprecated: bool) {
    let mut attributes = format!(
        "name=\"{name}\" unique=\"0\" required=\"{}\"",
        u8::from(o.required && !deprecated)
    );
    if deprecated {
        attributes.push_str(" deprecated=\"1\"");
    } else if let Some(old) = o.old_name {
        let _ = write!(attributes, " obsoletes=\"{old}\"");
    }
    let mixed = match (o.short, o.content) {
        (Some(c), Content::Boolean) => format!("-{c}, --{}", o.long),
        (None, Content::Boolean) => format!("--{}", o.long),
        (Some(c), _) => format!("-{c}, --{}=[{}]", o.long, value_word(o)),
        (None, _) => format!("--{}=[{}]", o.long, value_word(o)),
    };
    let (kind, options) = match o.content {
        Content::String => ("string", &[][..]),
        Content::Boolean => ("boolean", &[][..]),
        Content::Integer => ("integer", &[][..]),
        Content::Second => ("second", &[][..]),
        Content::Select(choices) => ("select", choices),
    };
    let default = o
        .default
        .map(|d| format!(" default=\"{}\"", xml_escape(d)))
        .unwrap_or_default();
    let _ = writeln!(
        xml,
        "\t<parameter {attributes}>\n\t\t<getopt mixed=\"{}\" />",
        xml_escape(&mixed)
    );
    if options.is_empty() {
        let _ = writeln!(xml, "\t\t<content type=\"{kind}\"{default} />");
    } else {
        let _ = writeln!(xml, "\t\t<content type=\"{kind}\"{default} >");
        for choice in options {
            let _ = writeln!(xml, "\t\t\t<option value=\"{choice}\" />");
        }
        xml.push_str("\t\t</content>\n");
    }
    let _ = writeln!(
        xml,
        "\t\t<shortdesc lang=\"en\">{}</shortdesc>\n\t</parameter>",
        xml_escape(o.shortdesc)
    );
}

fn value_word(o: &Opt) -> &'static str {
    match o.name {
        "ip" => "ip",
        "username" => "name",
        "password" => "password",
        "password_script" => "script",
        "ipport" => "port",
        "plug" => "id",
        "privlvl" => "level",
        "action" => "action",
        _ => match o.content {
            Content::Second => "seconds",
            Content::Integer => "number",
            _ => "value",
        },
    }
}

/// The `--help` text.
pub fn usage(name: &str) -> String {
    let mut text = format!("Usage:\n\t{name} [options]\nOptions:\n");
    for o in OPTIONS.iter().filter(|o| o.listed) {
        let spelled = match (o.short, o.content) {
            (Some(c), Content::Boolean) => format!("-{c}, --{}", o.long),
            (None, Content::Boolean) => format!("--{}", o.long),
            (Some(c), _) => format!("-{c}, --{}=[{}]", o.long, value_word(o)),
            (None, _) => format!("--{}=[{}]", o.long, value_word(o)),
        };
        let mut line = format!("   {spelled:<31}{}", o.shortdesc);
        if let Some(d) = o.default {
            let _ = write!(line, " (Default: {d})");
        }
        text.push_str(&line);
        text.push('\n');
    }
    text.push_str(
        "Actions: on, off, reboot (default), status, monitor, list, metadata, validate-all, \
         diag\nWith no arguments, options are read from stdin as key=value lines.\n\
         Exit status: 0 success (status: on), 1 failure, 2 status: off.\n",
    );
    text
}

/// Runs `fence_ironbeat` with the process's arguments and stdin.
pub fn main() -> ExitCode {
    let mut all = std::env::args_os();
    let program = all
        .next()
        .map(|p| {
            Path::new(&p)
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
        })
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| NAMES[0].0.to_string());
    let args = match args::utf8_args(all) {
        Ok(a) => a,
        Err(p) => {
            eprintln!("{}", p.message);
            return ExitCode::from(exit::fence_agent_fault_code(p.fault));
        }
    };
    ExitCode::from(run(&program, &args, io::stdin()))
}

/// The names served by another protocol's agent (each in its own module,
/// with its own options and metadata); every other name, `fence_ironbeat`
/// included, is the IPMI agent of this module.
pub const OTHER_AGENTS: &[(&str, Protocol)] = &[
    ("fence_ironbeat_redfish", Protocol::Redfish),
    ("fence_ironbeat_ilo", Protocol::Redfish),
    ("fence_ironbeat_idrac", Protocol::Redfish),
    ("fence_ironbeat_apc", Protocol::Apc),
    ("fence_ironbeat_apc_snmp", Protocol::Apc),
];

/// Which protocol's agent `program` is.
pub fn agent_protocol(program: &str) -> Protocol {
    OTHER_AGENTS
        .iter()
        .find(|(name, _)| *name == program)
        .map_or(Protocol::Ipmi, |(_, p)| *p)
}

/// Runs one invocation as `program` with `args`, reading `stdin` when there
/// are no arguments; returns the exit code.
pub fn run(program: &str, args: &[String], stdin: impl Read) -> u8 {
    // Another protocol's agent: one arm per protocol, calling its module's
    // `agent_run(program, args, stdin)`. (Manual fencing has no agent: it is
    // the cluster waiting for `ironbeat fence confirm`.)
    match agent_protocol(program) {
        Protocol::Ipmi | Protocol::Manual => {}
        Protocol::Redfish => {
            return crate::cli::stonith::redfish::agent_run(program, args, stdin);
        }
        Protocol::Apc => {
            return crate::cli::stonith::apc::agent_run(program, args, stdin);
        }
    }
    let input = if args.is_empty() {
        let mut text = String::new();
        let mut bytes = Vec::new();
        let mut stdin = stdin;
        match stdin.read_to_end(&mut bytes) {
            Ok(_) => text.push_str(&String::from_utf8_lossy(&bytes)),
            Err(e) => {
                eprintln!("Failed: cannot read stdin: {e}");
                return exit::fence_agent_fault_code(Fault::Usage);
            }
        }
        Input::from_lines(&text)
    } else {
        match Input::from_args(args) {
            Ok(i) => i,
            Err(p) => {
                eprintln!("{}", p.message);
                eprintln!("Please use '-h' for usage");
                return exit::fence_agent_fault_code(p.fault);
            }
        }
    };
    let quiet = input.flag("quiet");
    if !quiet {
        for w in &input.warnings {
            eprintln!("WARNING: {w}");
        }
    }
    if input.flag("help") {
        print!("{}", usage(program));
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
            if !quiet {
                eprintln!("{}", p.message);
                if p.fault == Fault::Usage {
                    eprintln!("Please use '-h' for usage");
                }
            }
            return exit::fence_agent_fault_code(p.fault);
        }
    };
    if request.verbose || request.action == AgentAction::ValidateAll {
        for name in &request.unused {
            if !quiet {
                eprintln!("NOTICE: {name} has no effect here (it tuned ipmitool); it is ignored");
            }
        }
    }
    perform(&request, quiet)
}

fn perform(request: &Request, quiet: bool) -> u8 {
    let say = |text: &str| {
        if !quiet {
            eprintln!("{text}");
        }
    };
    match request.action {
        AgentAction::Metadata | AgentAction::ValidateAll => exit::fence_agent::SUCCESS,
        AgentAction::Status | AgentAction::Monitor | AgentAction::List => {
            let result = device::execute(&request.bmc, Action::Status, request.verbose);
            match (&result, request.action) {
                (Ok(done), AgentAction::Status) => {
                    println!("Status: {}", done.power.to_string().to_uppercase());
                    exit::fence_agent_code(Ok(Some(done.power)))
                }
                (Ok(_), _) => exit::fence_agent_code(Ok(None)),
                (Err(e), _) => {
                    say(&format!("Failed: {e}"));
                    exit::fence_agent_code(Err(e))
                }
            }
        }
        AgentAction::Power(action) => {
            if matches!(action, Action::Off | Action::Reboot | Action::Cycle)
                && !request.delay.is_zero()
            {
                if request.verbose {
                    say(&format!(
                        "Delay {} second(s) before logging in to the fence device",
                        request.delay.as_secs_f64()
                    ));
                }
                std::thread::sleep(request.delay);
            }
            let result = device::execute(&request.bmc, action, request.verbose);
            match result {
                Ok(done) => {
                    if let Some(warning) = &done.warning {
                        say(&format!("WARNING: {warning}"));
                    }
                    println!("{}", success_text(action, done.changed));
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

fn success_text(action: Action, changed: bool) -> &'static str {
    match action {
        Action::On if !changed => "Success: Already ON",
        Action::Off if !changed => "Success: Already OFF",
        Action::On => "Success: Powered ON",
        Action::Off => "Success: Powered OFF",
        Action::Reboot | Action::Cycle | Action::Reset => "Success: Rebooted",
        Action::Diag => "Success: Diagnostic interrupt sent",
        Action::Status => "Success",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdin_protocol() {
        let input = Input::from_lines(
            "# from pacemaker\naction=off\nipaddr=198.18.1.2\n  login=admin\npasswd=\"lab pass\"\n\
             lanplus=yes\ncipher=3\nport=node2\nnodename=node2\nbogus=1\npower-wait=1\n\
             action=status\nverbose\n",
        );
        assert_eq!(input.get("action"), Some("status"));
        assert_eq!(input.get("ip"), Some("198.18.1.2"));
        assert_eq!(input.get("username"), Some("admin"));
        assert_eq!(input.get("password"), Some("lab pass"));
        assert_eq!(input.get("lanplus"), Some("1"));
        assert_eq!(input.get("plug"), Some("node2"));
        assert_eq!(input.get("power_wait"), Some("1"));
        assert_eq!(input.warnings.len(), 2, "{:?}", input.warnings);
        assert!(input.warnings[0].contains("bogus"));
        let r = check(&input).unwrap();
        assert_eq!(r.action, AgentAction::Status);
        assert_eq!(r.bmc.interface, Interface::Lanplus { cipher: Some(3) });
        assert_eq!(r.bmc.timeout, Some(Duration::from_secs(20)));
        assert_eq!(r.bmc.unreachable_after, Some(Duration::from_secs(5)));
    }

    #[test]
    fn command_line_protocol() {
        let args: Vec<String> = [
            "-a",
            "198.18.1.2",
            "-l",
            "admin",
            "-p",
            "labpass",
            "-P",
            "-C",
            "17",
            "-L",
            "OPERATOR",
            "--method=cycle",
            "--power-timeout",
            "7",
            "-o",
            "reboot",
            "-n",
            "node2",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let r = check(&Input::from_args(&args).unwrap()).unwrap();
        assert_eq!(r.action, AgentAction::Power(Action::Cycle));
        assert_eq!(r.bmc.privilege, Privilege::Operator);
        assert_eq!(r.bmc.timeout, Some(Duration::from_secs(7)));
        assert_eq!(r.plug.as_deref(), Some("node2"));
    }

    #[test]
    fn bad_input() {
        let bad = |text: &str| check(&Input::from_lines(text)).unwrap_err();
        assert!(bad("action=off\n").message.contains("fence address"));
        assert!(bad("ip=h\n").message.contains("password"));
        assert!(bad("ip=h\npassword=p\naction=explode\n")
            .message
            .contains("Unrecognised"));
        assert!(bad("ip=h\npassword=p\ncipher=9\n")
            .message
            .contains("cipher suite 9"));
        assert!(bad("ip=h\npassword=p\ncipher=0\n")
            .message
            .contains("any password"));
        assert!(bad("ip=h\npassword=p\nlanplus=0\ncipher=3\n")
            .message
            .contains("lanplus"));
        assert!(bad("ip=h\npassword=p\nprivlvl=user\n")
            .message
            .contains("valid choice"));
        assert!(bad("ip=h\npassword=p\nmethod=pull\n")
            .message
            .contains("valid choice"));
        assert!(bad("ip=h\npassword=p\npower_timeout=soon\n")
            .message
            .contains("seconds"));
        assert!(bad("ip=h\npassword=p\nipport=x\n")
            .message
            .contains("integer"));
        assert!(bad("ip=h\npassword=p\nhexadecimal_kg=0g\n")
            .message
            .contains("hexadecimal"));
        let kg = check(&Input::from_lines(
            "ip=h\npassword=p\nhexadecimal_kg=00fF10\n",
        ))
        .unwrap();
        assert_eq!(
            kg.bmc.bmc_key.as_ref().map(|k| k.expose().to_vec()),
            Some(vec![0, 0xff, 0x10])
        );
        assert!(bad("ip=h\npassword=p\nlanplus=0\nhexadecimal_kg=00\n")
            .message
            .contains("Kg"));
        let ok = check(&Input::from_lines(
            "ip=h\npassword=p\nlanplus=0\nauth=md5\nshell_timeout=3\n",
        ))
        .unwrap();
        assert_eq!(
            ok.bmc.interface,
            Interface::Lan {
                auth: Some(device::LanAuth::Md5)
            }
        );
        assert_eq!(ok.unused, vec!["shell_timeout"]);
    }

    #[test]
    fn hostile_input_never_panics() {
        // Mutations of a real Pacemaker request (bounded: 20k, deterministic).
        let base = "action=reboot\nip=198.18.1.2\nusername=admin\npassword=labpass\n\
                    lanplus=1\ncipher=17\nprivlvl=operator\npower_timeout=20\n\
                    hexadecimal_kg=00ff\nport=node2\n"
            .as_bytes()
            .to_vec();
        let alphabet = b"=\n\r\t #\"-_0xff9.e\xc3\xa9\x00";
        for bytes in
            crate::cli::mutate::mutations(&base, alphabet, 0x2545_f491_4f6c_dd1du64, 20_000, b'=')
        {
            let text = String::from_utf8_lossy(&bytes);
            let input = Input::from_lines(&text);
            if input.get("password_script").is_none() {
                let _ = check(&input);
            }
            let args: Vec<String> = text.split_whitespace().map(String::from).collect();
            if let Ok(input) = Input::from_args(&args) {
                if input.get("password_script").is_none() {
                    let _ = check(&input);
                }
            }
        }
    }

    #[test]
    fn every_option_has_unique_spellings() {
        let mut shorts = Vec::new();
        let mut longs = Vec::new();
        for o in OPTIONS {
            if let Some(c) = o.short {
                assert!(!shorts.contains(&c), "-{c}");
                shorts.push(c);
            }
            assert!(!longs.contains(&o.long), "--{}", o.long);
            longs.push(o.long);
            assert!(o.shortdesc.len() > 3 || !o.listed, "{}", o.name);
        }
        for name in UNUSED {
            assert!(option_by_key(name).is_some(), "{name}");
        }
    }
}
