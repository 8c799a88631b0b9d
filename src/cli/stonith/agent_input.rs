//! The fence-agents input (`key=value` lines on stdin, or `--long`/`-s`
//! options) of the agents `fence_ironbeat` serves for protocols other than
//! IPMI (Redfish, APC): each brings its option table and its aliases; the
//! parsing, the help text and the reading of stdin are here, once.

use std::fmt::Write as _;
use std::io::Read;
use std::time::Duration;

use crate::cli::exit::{self, Fault};
use crate::cli::stonith::device::{parse_bool, Problem};

/// One option: stdin name, long option, short letter, takes a value,
/// description.
pub struct AgentOpt {
    /// The name on stdin (and in [`AgentInput::get`]).
    pub name: &'static str,
    /// The long option, without `--`.
    pub long: &'static str,
    /// The short option letter.
    pub short: Option<char>,
    /// Whether the option takes a value.
    pub value: bool,
    /// The help text.
    pub desc: &'static str,
}

/// An [`AgentOpt`], for tables.
pub const fn o(
    name: &'static str,
    long: &'static str,
    short: Option<char>,
    value: bool,
    desc: &'static str,
) -> AgentOpt {
    AgentOpt {
        name,
        long,
        short,
        value,
        desc,
    }
}

/// An agent's options and how an old or alternative name maps to one.
pub struct AgentSpec {
    /// Every option.
    pub opts: &'static [AgentOpt],
    /// The option a stdin key or long option stands for (aliases included).
    pub lookup: fn(&str) -> Option<&'static AgentOpt>,
}

impl AgentSpec {
    /// [`AgentInput::from_lines`] with this agent's options.
    pub fn lines(&self, text: &str) -> AgentInput {
        AgentInput::from_lines(text, self)
    }

    /// [`AgentInput::from_args`] with this agent's options.
    pub fn args(&self, args: &[String]) -> Result<AgentInput, Problem> {
        AgentInput::from_args(args, self)
    }
}

/// The option names every fence-agents agent also answers to (the old
/// stdin names: `ipaddr`, `login`, `passwd`, `passwd_script`, `port`),
/// `-` and `_` alike: the canonical name, for an agent's own lookup.
pub fn fence_agents_alias(key: &str) -> String {
    let k = key.trim().replace('-', "_");
    match k.as_str() {
        "ipaddr" => "ip".into(),
        "login" => "username".into(),
        "passwd" => "password".into(),
        "passwd_script" => "password_script".into(),
        "port" => "plug".into(),
        _ => k,
    }
}

/// The options given, by name; the last value wins.
#[derive(Debug, Default)]
pub struct AgentInput {
    values: Vec<(&'static str, String)>,
    /// Unknown stdin keys (the key only: the line may hold a secret).
    pub warnings: Vec<String>,
}

impl AgentInput {
    fn set(&mut self, name: &'static str, value: String) {
        self.values.retain(|(n, _)| *n != name);
        self.values.push((name, value));
    }

    /// The value of option `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// A number of seconds (fence-agents' timeouts and waits): none, or
    /// 0 to under a day.
    pub fn seconds(&self, name: &str) -> Result<Option<Duration>, Problem> {
        match self.get(name) {
            None => Ok(None),
            Some(t) => t
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s >= 0.0 && *s < 86_400.0)
                .map(|s| Some(Duration::from_secs_f64(s)))
                .ok_or_else(|| {
                    Problem::invalid(format!("{name} `{}` is not a number of seconds", t.trim()))
                }),
        }
    }

    /// A flag: given without a value, or with a true one.
    pub fn flag(&self, name: &str) -> bool {
        self.get(name)
            .is_some_and(|v| parse_bool(v).unwrap_or(true))
    }

    /// `key=value` lines (stdin): `#` lines skipped, quotes dropped, unknown
    /// keys warned about (`nodename` silently), as fence-agents does.
    pub fn from_lines(text: &str, spec: &AgentSpec) -> Self {
        let mut input = AgentInput::default();
        for line in text.lines() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (k, v) = line.split_once('=').unwrap_or((line, "1"));
            let v = v.trim().trim_matches('"').trim_matches('\'').to_string();
            match (spec.lookup)(k.trim()) {
                Some(o) => input.set(o.name, v),
                None if k.trim() == "nodename" => {}
                // The line itself is not shown: it may hold a secret.
                None => input.warnings.push(format!(
                    "Parse error: Ignoring unknown option '{}'",
                    k.trim().chars().take(40).collect::<String>()
                )),
            }
        }
        input
    }

    /// Command-line options: `--long[=value]`, `--long value`, `-s value`,
    /// `-svalue`.
    pub fn from_args(args: &[String], spec: &AgentSpec) -> Result<Self, Problem> {
        let mut input = AgentInput::default();
        let mut i = 0;
        while i < args.len() {
            let a = &args[i];
            i += 1;
            let (opt, inline) = if let Some(long) = a.strip_prefix("--") {
                let (k, v) = match long.split_once('=') {
                    Some((k, v)) => (k, Some(v.to_string())),
                    None => (long, None),
                };
                let opt = spec
                    .opts
                    .iter()
                    .find(|o| o.long == k)
                    .or_else(|| (spec.lookup)(k))
                    .ok_or_else(|| Problem::usage(format!("--{k}: option not recognized")))?;
                (opt, v)
            } else if let Some(short) = a.strip_prefix('-').filter(|s| !s.is_empty()) {
                let c = short.chars().next().unwrap_or('?');
                let opt = spec
                    .opts
                    .iter()
                    .find(|o| o.short == Some(c))
                    .ok_or_else(|| Problem::usage(format!("-{c}: option not recognized")))?;
                let rest = &short[c.len_utf8()..];
                (opt, (!rest.is_empty()).then(|| rest.to_string()))
            } else {
                return Err(Problem::usage(
                    "unexpected argument (options start with - or --)",
                ));
            };
            let value = if opt.value {
                match inline {
                    Some(v) => v,
                    None => {
                        let v = args.get(i).cloned().ok_or_else(|| {
                            Problem::usage(format!("option --{} requires a value", opt.long))
                        })?;
                        i += 1;
                        v
                    }
                }
            } else {
                inline.unwrap_or_else(|| "1".to_string())
            };
            input.set(opt.name, value);
        }
        Ok(input)
    }
}

/// The input of one invocation: stdin when there are no arguments, else
/// the options. On failure the message is printed and the exit code
/// returned.
pub fn read(args: &[String], stdin: impl Read, spec: &AgentSpec) -> Result<AgentInput, u8> {
    if args.is_empty() {
        let mut bytes = Vec::new();
        let mut stdin = stdin;
        if let Err(e) = stdin.read_to_end(&mut bytes) {
            eprintln!("Failed: cannot read stdin: {e}");
            return Err(exit::fence_agent_fault_code(Fault::Usage));
        }
        return Ok(AgentInput::from_lines(
            &String::from_utf8_lossy(&bytes),
            spec,
        ));
    }
    AgentInput::from_args(args, spec).map_err(|p| {
        eprintln!("{}", p.message);
        eprintln!("Please use '-h' for usage");
        exit::fence_agent_fault_code(p.fault)
    })
}

/// `--help`: the usage line and every option.
pub fn help(program: &str, spec: &AgentSpec) -> String {
    let mut text = format!("Usage:\n\t{program} [options]\nOptions:\n");
    for o in spec.opts {
        let _ = writeln!(
            text,
            "   {}--{}{}\t{}",
            o.short.map(|c| format!("-{c}, ")).unwrap_or_default(),
            o.long,
            if o.value { "=[value]" } else { "" },
            o.desc
        );
    }
    text
}
