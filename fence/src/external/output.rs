//! What external agents print, parsed: cluster-glue's word lists
//! (`getconfignames`, `gethosts`), fence-agents' `list` output, the parameter
//! names of either's metadata XML, status exit codes and failure messages.
//!
//! Contract: every function here takes any bytes and never panics; results
//! are bounded ([`MAX_WORDS`], [`MAX_WORD`], [`MAX_XML_PARAMS`]); output that
//! cannot be what the protocol says is an [`ErrorKind::InvalidMessage`] error
//! that names the command and shows the offending text escaped.

use crate::power::PowerState;
use crate::{Error, ErrorKind};

/// The most words (parameter names, hosts, plugs) taken from one output.
pub const MAX_WORDS: usize = 1024;
/// The longest word (a host name, a plug id, a parameter name).
pub const MAX_WORD: usize = 255;
/// The most parameters read from a metadata document.
pub const MAX_XML_PARAMS: usize = 256;

/// fence-agents' exit codes of `action=status` (FenceAgentAPI).
pub mod status_code {
    /// The plug is on.
    pub const ON: i32 = 0;
    /// Could not tell.
    pub const ERROR: i32 = 1;
    /// The plug is off.
    pub const OFF: i32 = 2;
}

/// A fence-agents `action=status` answer, from its exit code.
pub fn agent_status(code: i32) -> Option<PowerState> {
    match code {
        status_code::ON => Some(PowerState::On),
        status_code::OFF => Some(PowerState::Off),
        _ => None,
    }
}

/// Whitespace-separated words (cluster-glue's `getconfignames` and
/// `gethosts`; external/ssh prints one host per line, external/ipmi one on a
/// line, some plugins several on a line). Each word must be printable ASCII
/// or UTF-8 without control characters, at most [`MAX_WORD`] bytes.
pub fn parse_words(what: &str, output: &[u8]) -> Result<Vec<String>, Error> {
    let mut words = Vec::new();
    for raw in output
        .split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty())
    {
        if words.len() == MAX_WORDS {
            return Err(invalid(what, format!("more than {MAX_WORDS} words")));
        }
        words.push(word(what, raw)?);
    }
    Ok(words)
}

/// Host names from cluster-glue's `gethosts` (see [`parse_words`]); a plugin
/// that lists nobody controls nobody.
pub fn parse_hosts(output: &[u8]) -> Result<Vec<String>, Error> {
    parse_words("gethosts", output)
}

/// One plug of fence-agents' `action=list` output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plug {
    /// What `plug=` takes.
    pub id: String,
    /// The device's name for it, when it has one.
    pub alias: Option<String>,
}

/// fence-agents' `action=list` output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentList {
    /// `ID,ALIAS` lines (the separator is `,` unless `separator=` changed it).
    Plugs(Vec<Plug>),
    /// The agent does not list (fence_ipmilan: "NOTICE: List option is not
    /// working on this device yet"): it powers one machine.
    Unsupported(String),
}

/// Parses fence-agents' `action=list` output with `separator` (`,` by default).
pub fn parse_agent_list(output: &[u8], separator: u8) -> Result<AgentList, Error> {
    let mut plugs = Vec::new();
    for line in output.split(|b| *b == b'\n') {
        let line = trim(line);
        if line.is_empty() {
            continue;
        }
        if line.starts_with(b"NOTICE:") {
            return Ok(AgentList::Unsupported(printable(line)));
        }
        if plugs.len() == MAX_WORDS {
            return Err(invalid("list", format!("more than {MAX_WORDS} plugs")));
        }
        let (id, alias) = match line.iter().position(|b| *b == separator) {
            Some(at) => (trim(&line[..at]), Some(trim(&line[at + 1..]))),
            None => (line, None),
        };
        if id.is_empty() {
            return Err(invalid(
                "list",
                format!("a line without a plug id: {}", printable(line)),
            ));
        }
        plugs.push(Plug {
            id: word("list", id)?,
            alias: match alias {
                Some(a) if !a.is_empty() => Some(text("list", a)?),
                _ => None,
            },
        });
    }
    Ok(AgentList::Plugs(plugs))
}

/// A parameter of an agent's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaParam {
    /// Its name.
    pub name: String,
    /// Marked `required="1"` (fence-agents' metadata; cluster-glue's has no such mark).
    pub required: bool,
    /// The `<content default="...">`, when there is one.
    pub default: Option<String>,
}

/// The parts of a metadata document we use: parameter names (to check a
/// device's parameters before running it) and, for fence-agents, the actions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    /// `<resource-agent name="...">`, fence-agents only.
    pub agent: Option<String>,
    /// The parameters, in document order.
    pub params: Vec<MetaParam>,
    /// `<action name="...">` entries.
    pub actions: Vec<String>,
}

impl Metadata {
    /// The parameter of that name.
    pub fn param(&self, name: &str) -> Option<&MetaParam> {
        self.params.iter().find(|p| p.name == name)
    }
}

/// Reads the parameter names, required marks and defaults, and action names
/// from fence-agents' `action=metadata` or cluster-glue's `getinfo-xml`. Not
/// a general XML parser: it scans start tags and their attributes, which is
/// all both projects emit. A document with no `<parameter` at all is an
/// error (the command printed something else).
pub fn parse_metadata(xml: &[u8]) -> Result<Metadata, Error> {
    let mut meta = Metadata::default();
    let mut current: Option<usize> = None;
    let mut rest = xml;
    let mut saw_parameters = false;
    while let Some(open) = rest.iter().position(|b| *b == b'<') {
        rest = &rest[open + 1..];
        let Some(close) = rest.iter().position(|b| *b == b'>') else {
            break;
        };
        let tag = &rest[..close];
        rest = &rest[close + 1..];
        let (name, attrs) = split_tag(tag);
        match name {
            b"resource-agent" => {
                meta.agent = attribute(attrs, b"name").map(|v| printable(&v));
            }
            b"parameters" => saw_parameters = true,
            b"parameter" => {
                saw_parameters = true;
                let Some(param) = attribute(attrs, b"name") else {
                    return Err(invalid(
                        "metadata",
                        "a <parameter> without a name".to_string(),
                    ));
                };
                if meta.params.len() == MAX_XML_PARAMS {
                    return Err(invalid(
                        "metadata",
                        format!("more than {MAX_XML_PARAMS} parameters"),
                    ));
                }
                let required = attribute(attrs, b"required").is_some_and(|v| v == b"1");
                meta.params.push(MetaParam {
                    name: word("metadata", &param)?,
                    required,
                    default: None,
                });
                current = Some(meta.params.len() - 1);
            }
            b"/parameter" => current = None,
            b"content" => {
                if let (Some(i), Some(d)) = (current, attribute(attrs, b"default")) {
                    if let Some(p) = meta.params.get_mut(i) {
                        p.default = Some(printable(&d));
                    }
                }
            }
            b"action" => {
                if let Some(a) = attribute(attrs, b"name") {
                    if meta.actions.len() < MAX_WORDS {
                        meta.actions.push(word("metadata", &a)?);
                    }
                }
            }
            _ => {}
        }
    }
    if !saw_parameters {
        return Err(invalid(
            "metadata",
            format!("no <parameters> element in {}", excerpt(xml)),
        ));
    }
    Ok(meta)
}

/// How a failed fence-agents run reads, from its stderr: who is at fault and
/// the line that says so (fence-agents exits 1 for every failure and tells
/// them apart only in text: fencing.py's `fail()` messages).
pub fn classify_agent_failure(stderr: &[u8]) -> (ErrorKind, Option<String>) {
    let lines = meaningful_lines(stderr);
    const PATTERNS: &[(&str, ErrorKind)] = &[
        ("Unable to connect/login", ErrorKind::Auth),
        (
            "The user does not have the correct privileges",
            ErrorKind::Auth,
        ),
        ("You have to set login password", ErrorKind::Config),
        ("Connection timed out", ErrorKind::Unreachable),
        ("Connection lost", ErrorKind::Unreachable),
        ("Timed out waiting to power", ErrorKind::Timeout),
        (
            "Unable to obtain correct plug status",
            ErrorKind::DeviceMisbehaved,
        ),
        ("Failed: You have to enter", ErrorKind::Config),
        ("required", ErrorKind::Config),
        ("Unrecognised action", ErrorKind::DeviceIncompatible),
        ("Failed: Unrecognised", ErrorKind::Config),
        ("not supported", ErrorKind::DeviceIncompatible),
    ];
    for line in lines.iter().rev() {
        for (pattern, kind) in PATTERNS {
            if line.contains(pattern) {
                return (*kind, Some(line.clone()));
            }
        }
    }
    (ErrorKind::DeviceMisbehaved, lines.last().cloned())
}

/// The last `n` lines of an agent's stderr worth showing: without Python's
/// warnings about the agent itself (`DeprecationWarning`, the source line
/// under it) and with fence-agents' timestamp prefix removed, each escaped
/// and at most 300 bytes. Redact secrets before calling this.
pub fn stderr_tail(stderr: &[u8], n: usize) -> String {
    let lines = meaningful_lines(stderr);
    let start = lines.len().saturating_sub(n);
    lines[start..].join(" | ")
}

fn meaningful_lines(stderr: &[u8]) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut skip_next = false;
    for raw in stderr.split(|b| *b == b'\n') {
        let raw = trim(raw);
        if skip_next {
            skip_next = false;
            if raw.starts_with(b"from ") || raw.starts_with(b"import ") {
                continue;
            }
        }
        if raw.is_empty() {
            continue;
        }
        if contains(raw, b"Warning: ") && contains(raw, b".py")
            || contains(raw, b"DeprecationWarning")
        {
            skip_next = true;
            continue;
        }
        let mut line = printable(strip_timestamp(raw));
        if line.len() > 300 {
            let mut cut = 300;
            while !line.is_char_boundary(cut) {
                cut -= 1;
            }
            line.truncate(cut);
            line.push('…');
        }
        if lines.len() == 64 {
            lines.remove(0);
        }
        lines.push(line);
    }
    lines
}

/// "2026-11-22 14:02:52,817 ERROR: text" → "ERROR: text".
fn strip_timestamp(line: &[u8]) -> &[u8] {
    let looks_dated = line.len() > 24
        && line[..4].iter().all(u8::is_ascii_digit)
        && line[4] == b'-'
        && line[10] == b' '
        && line[23] == b' ';
    if looks_dated {
        &line[24..]
    } else {
        line
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn split_tag(tag: &[u8]) -> (&[u8], &[u8]) {
    let tag = tag.strip_suffix(b"/").unwrap_or(tag);
    match tag.iter().position(|b| b.is_ascii_whitespace()) {
        Some(at) => (&tag[..at], &tag[at..]),
        None => (tag, &[]),
    }
}

/// The value of `name="..."` (or `'...'`) among a start tag's attributes,
/// with the five predefined entities decoded.
fn attribute(attrs: &[u8], name: &[u8]) -> Option<Vec<u8>> {
    let mut rest = attrs;
    loop {
        let at = rest.iter().position(|b| !b.is_ascii_whitespace())?;
        rest = &rest[at..];
        let eq = rest.iter().position(|b| *b == b'=')?;
        let key = trim(&rest[..eq]);
        rest = trim_start(&rest[eq + 1..]);
        let quote = *rest.first()?;
        if quote != b'"' && quote != b'\'' {
            return None;
        }
        let end = rest[1..].iter().position(|b| *b == quote)?;
        let value = &rest[1..1 + end];
        rest = &rest[end + 2..];
        if key == name {
            return Some(unescape(value));
        }
    }
}

fn unescape(value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len());
    let mut i = 0;
    while i < value.len() {
        if value[i] == b'&' {
            let table: [(&[u8], u8); 5] = [
                (b"&amp;", b'&'),
                (b"&lt;", b'<'),
                (b"&gt;", b'>'),
                (b"&quot;", b'"'),
                (b"&apos;", b'\''),
            ];
            if let Some((entity, c)) = table.iter().find(|(e, _)| value[i..].starts_with(e)) {
                out.push(*c);
                i += entity.len();
                continue;
            }
        }
        out.push(value[i]);
        i += 1;
    }
    out
}

fn trim(bytes: &[u8]) -> &[u8] {
    let bytes = trim_start(bytes);
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(0, |p| p + 1);
    &bytes[..end]
}

fn trim_start(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    &bytes[start..]
}

/// A word: UTF-8, no whitespace or control characters, at most [`MAX_WORD`].
fn word(what: &str, raw: &[u8]) -> Result<String, Error> {
    let s = text(what, raw)?;
    if s.chars().any(char::is_whitespace) {
        return Err(invalid(
            what,
            format!("a name with spaces: {}", printable(raw)),
        ));
    }
    Ok(s)
}

/// Text: UTF-8 without control characters, at most [`MAX_WORD`] bytes.
fn text(what: &str, raw: &[u8]) -> Result<String, Error> {
    if raw.len() > MAX_WORD {
        return Err(invalid(
            what,
            format!(
                "a name of {} bytes (at most {MAX_WORD}): {}",
                raw.len(),
                excerpt(raw)
            ),
        ));
    }
    match std::str::from_utf8(raw) {
        Ok(s) if !s.chars().any(char::is_control) => Ok(s.to_string()),
        _ => Err(invalid(
            what,
            format!("a name that is not printable text: {}", printable(raw)),
        )),
    }
}

/// The bytes as text with anything unprintable escaped.
fn printable(raw: &[u8]) -> String {
    let mut out = String::with_capacity(raw.len());
    for chunk in raw.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_control() {
                out.extend(c.escape_default());
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

fn excerpt(raw: &[u8]) -> String {
    let cut = &raw[..raw.len().min(80)];
    let mut s = format!("\"{}\"", printable(cut));
    if raw.len() > 80 {
        s.push('…');
    }
    s
}

fn invalid(what: &str, detail: String) -> Error {
    Error::new(
        ErrorKind::InvalidMessage,
        format!("the agent's `{what}` output makes no sense: {detail}; run it by hand to see"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const IPMI_XML: &[u8] = include_bytes!("testdata/external_ipmi_getinfo_xml.txt");
    const IPMILAN_XML: &[u8] = include_bytes!("testdata/fence_ipmilan_metadata.xml");
    const UNREACHABLE: &[u8] = include_bytes!("testdata/fence_ipmilan_unreachable_stderr.txt");

    #[test]
    fn cluster_glue_words_captured() {
        let names = parse_words(
            "getconfignames",
            include_bytes!("testdata/external_ipmi_getconfignames.txt"),
        )
        .unwrap();
        assert_eq!(
            names,
            ["hostname", "ipaddr", "userid", "passwd", "interface"]
        );
        let hosts = parse_hosts(include_bytes!("testdata/external_ipmi_gethosts.txt")).unwrap();
        assert_eq!(hosts, ["node2"]);
        let hosts = parse_hosts(include_bytes!("testdata/external_ssh_gethosts.txt")).unwrap();
        assert_eq!(hosts, ["node1", "node2", "node3"]);
        assert!(parse_hosts(b"").unwrap().is_empty());
        assert!(parse_hosts(b"node\x01x").is_err());
        assert!(parse_hosts(&vec![b'a'; 300]).is_err());
    }

    #[test]
    fn cluster_glue_metadata_captured() {
        let m = parse_metadata(IPMI_XML).unwrap();
        let names: Vec<_> = m.params.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "hostname",
                "ipaddr",
                "userid",
                "passwd",
                "passwd_method",
                "interface",
                "priv",
                "ipmitool"
            ]
        );
        assert_eq!(
            m.param("interface").unwrap().default.as_deref(),
            Some("lan")
        );
        assert_eq!(m.agent, None);
    }

    #[test]
    fn fence_agents_metadata_captured() {
        let m = parse_metadata(IPMILAN_XML).unwrap();
        assert_eq!(m.agent.as_deref(), Some("fence_ipmilan"));
        assert!(m.param("ip").is_some());
        assert!(m.param("password").is_some());
        assert!(m.param("lanplus").is_some());
        assert_eq!(
            m.param("action").unwrap().default.as_deref(),
            Some("reboot")
        );
        assert!(m.param("action").unwrap().required);
        for a in ["on", "off", "reboot", "status", "monitor", "metadata"] {
            assert!(m.actions.iter().any(|x| x == a), "{a}: {:?}", m.actions);
        }
        assert!(parse_metadata(b"Usage: fence_x [options]").is_err());
    }

    #[test]
    fn agent_list_captured_and_typical() {
        let notice = parse_agent_list(
            include_bytes!("testdata/fence_ipmilan_list_stdout.txt"),
            b',',
        )
        .unwrap();
        assert!(matches!(notice, AgentList::Unsupported(t) if t.contains("List option")));
        let list = parse_agent_list(b"1,web1\n2,\n3\n\n", b',').unwrap();
        assert_eq!(
            list,
            AgentList::Plugs(vec![
                Plug {
                    id: "1".into(),
                    alias: Some("web1".into())
                },
                Plug {
                    id: "2".into(),
                    alias: None
                },
                Plug {
                    id: "3".into(),
                    alias: None
                },
            ])
        );
        assert!(parse_agent_list(b",alias\n", b',').is_err());
    }

    #[test]
    fn failures_are_classified() {
        let (kind, line) = classify_agent_failure(UNREACHABLE);
        assert_eq!(kind, ErrorKind::Unreachable);
        assert_eq!(line.as_deref(), Some("ERROR: Connection timed out"));
        assert_eq!(stderr_tail(UNREACHABLE, 3), "ERROR: Connection timed out");
        let (kind, _) = classify_agent_failure(
            b"2026-11-22 14:02:52,817 ERROR: Unable to connect/login to fencing device\n",
        );
        assert_eq!(kind, ErrorKind::Auth);
        assert_eq!(classify_agent_failure(b"").0, ErrorKind::DeviceMisbehaved);
        assert_eq!(agent_status(0), Some(PowerState::On));
        assert_eq!(agent_status(2), Some(PowerState::Off));
        assert_eq!(agent_status(1), None);
    }

    fn mutations(seed: &[u8], rounds: usize, f: &mut dyn FnMut(&[u8])) {
        let mut state = 0x9e37_79b9_u32;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            state
        };
        for cut in 0..seed.len().min(600) {
            f(&seed[..cut]);
        }
        for _ in 0..rounds {
            let mut b = seed.to_vec();
            for _ in 0..1 + next() % 8 {
                if b.is_empty() {
                    break;
                }
                let at = next() as usize % b.len();
                match next() % 3 {
                    0 => b[at] = next() as u8,
                    1 => {
                        b.remove(at);
                    }
                    _ => b.insert(
                        at,
                        [b'<', b'>', b'"', b'=', b'&', b'\n', 0xff][next() as usize % 7],
                    ),
                }
            }
            f(&b);
        }
    }

    #[test]
    fn hostile_input_never_panics() {
        for seed in [IPMI_XML, IPMILAN_XML, UNREACHABLE, b"1,a\n2,b\n" as &[u8]] {
            mutations(seed, 800, &mut |b| {
                let _ = parse_metadata(b);
                let _ = parse_words("x", b);
                let _ = parse_agent_list(b, b',');
                let _ = classify_agent_failure(b);
                let _ = stderr_tail(b, 3);
            });
        }
        let big = vec![b'a'; 100_000];
        let _ = parse_metadata(&big);
        let many = b"x ".repeat(MAX_WORDS + 1);
        assert!(parse_words("x", &many).is_err());
        let params = b"<parameter name=\"a\"/>".repeat(MAX_XML_PARAMS + 1);
        assert!(parse_metadata(&params).is_err());
    }
}
