//! Parameters of an external agent, and how each kind of agent receives
//! them: a cluster-glue plugin as environment variables, a fence-agents agent
//! as `name=value` lines on stdin. Never on the command line (other users can
//! read `/proc/PID/cmdline`), never in a message.

use std::fmt;

use crate::ipmi::crypto::Secret;
use crate::{Error, ErrorKind};

/// The most parameters one device may have.
pub const MAX_PARAMS: usize = 64;
/// The longest parameter name.
pub const MAX_NAME: usize = 64;
/// The longest parameter value.
pub const MAX_VALUE: usize = 4096;

/// Names (or name parts) whose values are secrets; any parameter whose name
/// contains one of these is redacted everywhere (`passwd`, `password`,
/// `snmp_priv_passwd`, `community`, `token`, `secret_key`...).
const SECRET_PARTS: &[&str] = &[
    "passw",
    "secret",
    "token",
    "community",
    "key",
    "credential",
    "auth_pass",
];

/// Names that contain a secret word but hold no secret: how the secret is
/// passed (`passwd_method`), a command that prints it (`password_script`), a
/// file naming it, a protocol choice (`snmp_auth_prot`).
const NOT_SECRET_SUFFIXES: &[&str] = &["_method", "_script", "_file", "_prot", "_protocol"];

/// Whether a parameter of this name holds a secret.
pub fn is_secret_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SECRET_PARTS.iter().any(|part| lower.contains(part))
        && !NOT_SECRET_SUFFIXES.iter().any(|s| lower.ends_with(s))
}

/// One `name=value` parameter; the value is kept as a [`Secret`] whatever the
/// name, so no parameter value ever reaches a `Debug` print.
#[derive(Clone)]
pub struct Param {
    name: String,
    value: Secret,
}

impl Param {
    /// The parameter's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The value, for the driver that hands it to the agent.
    pub fn value(&self) -> &[u8] {
        self.value.expose()
    }
}

impl fmt::Debug for Param {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}=<{} bytes>", self.name, self.value.len())
    }
}

/// A device's parameters, in the order given, names unique.
#[derive(Clone, Debug, Default)]
pub struct Params {
    list: Vec<Param>,
}

impl Params {
    /// No parameters.
    pub fn new() -> Self {
        Params::default()
    }

    /// Adds `name=value`. Names are shell variable names (letters, digits,
    /// `_`, `-` for fence-agents' long names; not starting with a digit); values
    /// are one line without NUL. Repeated names, and more than [`MAX_PARAMS`],
    /// are refused.
    pub fn insert(&mut self, name: &str, value: impl Into<Vec<u8>>) -> Result<(), Error> {
        check_name(name)?;
        let value: Vec<u8> = value.into();
        if value.len() > MAX_VALUE {
            return Err(config(format!(
                "parameter {name} is {} bytes long; at most {MAX_VALUE} are passed to an agent",
                value.len()
            )));
        }
        if let Some(bad) = value.iter().find(|b| matches!(b, 0 | b'\n' | b'\r')) {
            let what = match bad {
                0 => "a NUL byte",
                _ => "a line break",
            };
            return Err(config(format!(
                "parameter {name} holds {what}; agent parameters are one line of text"
            )));
        }
        if self.get(name).is_some() {
            return Err(config(format!("parameter {name} is given twice; keep one")));
        }
        if self.list.len() >= MAX_PARAMS {
            return Err(config(format!(
                "more than {MAX_PARAMS} parameters; no agent takes that many"
            )));
        }
        self.list.push(Param {
            name: name.to_string(),
            value: Secret::new(value),
        });
        Ok(())
    }

    /// Replaces (or adds) a parameter.
    pub fn set(&mut self, name: &str, value: impl Into<Vec<u8>>) -> Result<(), Error> {
        self.remove(name);
        self.insert(name, value)
    }

    /// Removes a parameter, returning whether it was there.
    pub fn remove(&mut self, name: &str) -> bool {
        let before = self.list.len();
        self.list.retain(|p| p.name != name);
        before != self.list.len()
    }

    /// A parameter's value.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.list
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.value.expose())
    }

    /// The parameters, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Param> {
        self.list.iter()
    }

    /// How many.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The values of secret parameters (see [`is_secret_name`]), at least 3
    /// bytes long: what [`redact`] removes from an agent's output.
    pub fn secrets(&self) -> Vec<&[u8]> {
        self.list
            .iter()
            .filter(|p| is_secret_name(&p.name) && p.value.len() >= 3)
            .map(|p| p.value.expose())
            .collect()
    }
}

fn config(message: String) -> Error {
    Error::new(ErrorKind::Config, message)
}

fn check_name(name: &str) -> Result<(), Error> {
    let valid = !name.is_empty()
        && name.len() <= MAX_NAME
        && !name.as_bytes()[0].is_ascii_digit()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if valid {
        Ok(())
    } else {
        let shown: String = name.chars().take(MAX_NAME).collect();
        Err(config(format!(
            "parameter name {shown:?} is not valid; names are letters, digits, `_` and `-` \
             (at most {MAX_NAME}), not starting with a digit"
        )))
    }
}

/// The environment of a cluster-glue plugin: one variable per parameter
/// (cluster-glue's external.c does `setenv(name, value)`), plus `PATH` and
/// `LANG=C`; nothing of ours leaks in. fence-agents-style names with `-` are
/// refused (no shell can read them).
pub fn plugin_environment(params: &Params) -> Result<Vec<(String, Vec<u8>)>, Error> {
    let mut env = Vec::with_capacity(params.len() + 3);
    for p in params.iter() {
        if p.name.contains('-') {
            return Err(config(format!(
                "parameter {} cannot be an environment variable (it has a `-`); \
                 cluster-glue plugins take names like ipaddr, userid, passwd",
                p.name
            )));
        }
        if matches!(p.name.as_str(), "PATH" | "LANG" | "LC_ALL") {
            return Err(config(format!(
                "parameter {} would replace the plugin's {} variable; rename it",
                p.name, p.name
            )));
        }
        env.push((p.name.clone(), p.value().to_vec()));
    }
    env.push((
        "PATH".to_string(),
        b"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_vec(),
    ));
    env.push(("LANG".to_string(), b"C".to_vec()));
    env.push(("LC_ALL".to_string(), b"C".to_vec()));
    Ok(env)
}

/// The stdin of a fence-agents agent: `action=ACTION`, then one `name=value`
/// line per parameter (fence-agents' FenceAgentAPI). An `action` among the
/// parameters is refused: we choose the action.
pub fn agent_stdin(action: &str, params: &Params) -> Result<Vec<u8>, Error> {
    let mut out = Vec::with_capacity(64 + params.len() * 32);
    out.extend_from_slice(b"action=");
    out.extend_from_slice(action.as_bytes());
    out.push(b'\n');
    for p in params.iter() {
        if p.name == "action" || p.name == "option" {
            return Err(config(format!(
                "parameter {} is chosen per request by ironbeat; remove it from the device",
                p.name
            )));
        }
        out.extend_from_slice(p.name.as_bytes());
        out.push(b'=');
        out.extend_from_slice(p.value());
        out.push(b'\n');
    }
    Ok(out)
}

/// `text` with every occurrence of every secret replaced by `<redacted>`
/// (an agent may echo its password in an error: ipmitool's command line in
/// fence_ipmilan's verbose output, a plugin's `set -x`).
pub fn redact(text: &[u8], secrets: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    let mut i = 0;
    'scan: while i < text.len() {
        for secret in secrets {
            if !secret.is_empty() && text[i..].starts_with(secret) {
                out.extend_from_slice(b"<redacted>");
                i += secret.len();
                continue 'scan;
            }
        }
        out.push(text[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Params {
        let mut p = Params::new();
        for (n, v) in pairs {
            p.insert(n, *v).unwrap();
        }
        p
    }

    #[test]
    fn stdin_is_key_value_lines() {
        let p = params(&[
            ("ip", "198.18.10.2"),
            ("username", "admin"),
            ("password", "s3cret"),
        ]);
        let stdin = agent_stdin("status", &p).unwrap();
        assert_eq!(
            stdin,
            b"action=status\nip=198.18.10.2\nusername=admin\npassword=s3cret\n"
        );
        let mut with_action = p.clone();
        with_action.insert("action", "off").unwrap();
        assert!(agent_stdin("status", &with_action)
            .unwrap_err()
            .message()
            .contains("chosen per request"));
    }

    #[test]
    fn environment_is_clean_and_complete() {
        let p = params(&[("hostname", "node2"), ("passwd", "labpass")]);
        let env = plugin_environment(&p).unwrap();
        assert_eq!(env[0], ("hostname".to_string(), b"node2".to_vec()));
        assert_eq!(env[1], ("passwd".to_string(), b"labpass".to_vec()));
        assert!(env.iter().any(|(n, _)| n == "PATH"));
        assert_eq!(env.len(), 5);
        let dashed = params(&[("power-wait", "3")]);
        assert!(plugin_environment(&dashed).is_err());
        let path = params(&[("PATH", "/tmp")]);
        assert!(plugin_environment(&path).is_err());
    }

    #[test]
    fn bad_names_and_values() {
        let mut p = Params::new();
        for bad in ["", "1abc", "a b", "a=b", "a;b", &"x".repeat(65)] {
            let e = p.insert(bad, "v").unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Config);
        }
        let e = p.insert("password", "line1\nline2").unwrap_err();
        assert!(e.message().contains("line break"));
        assert!(!e.message().contains("line1"), "{e}");
        assert!(p.insert("x", vec![b'a'; MAX_VALUE + 1]).is_err());
        p.insert("x", "1").unwrap();
        assert!(p.insert("x", "2").unwrap_err().message().contains("twice"));
        p.set("x", "2").unwrap();
        assert_eq!(p.get("x"), Some(&b"2"[..]));
        for i in 1..MAX_PARAMS {
            p.insert(&format!("p{i}"), "v").unwrap();
        }
        assert!(p.insert("one_more", "v").is_err());
    }

    #[test]
    fn secrets_are_never_printed() {
        let p = params(&[
            ("passwd", "labpass"),
            ("snmp_priv_passwd", "privpass"),
            ("ip", "h"),
        ]);
        let shown = format!("{p:?}");
        assert!(
            !shown.contains("labpass") && !shown.contains("privpass"),
            "{shown}"
        );
        assert!(shown.contains("passwd=<7 bytes>"));
        assert_eq!(p.secrets(), vec![&b"labpass"[..], &b"privpass"[..]]);
        assert!(is_secret_name("PASSWORD"));
        assert!(is_secret_name("community"));
        assert!(!is_secret_name("ipaddr"));
        assert!(!is_secret_name("passwd_method"));
        assert!(!is_secret_name("password_script"));
        assert!(is_secret_name("snmp_priv_passwd"));
    }

    #[test]
    fn redaction() {
        let out = redact(b"ipmitool -P labpass -U admin; labpass!", &[b"labpass"]);
        assert_eq!(out, b"ipmitool -P <redacted> -U admin; <redacted>!");
        assert_eq!(redact(b"abc", &[b""]), b"abc");
        assert_eq!(redact(b"", &[b"x"]), b"");
    }

    #[test]
    fn hostile_input_never_panics() {
        let mut seed = 0x1234_5678_u32;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed
        };
        for _ in 0..2000 {
            let len = (next() % 40) as usize;
            let bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            let name = String::from_utf8_lossy(&bytes[..len / 2]).into_owned();
            let mut p = Params::new();
            let _ = p.insert(&name, bytes[len / 2..].to_vec());
            let _ = plugin_environment(&p);
            let _ = agent_stdin("off", &p);
            let _ = redact(&bytes, &[&bytes[..len / 3]]);
        }
    }
}
