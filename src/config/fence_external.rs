//! `type = "fence-agent"` and `type = "external"` devices of the native file:
//! a fence-agents agent or a cluster-glue `external/*` plugin run by
//! ironbeat (a child module of `config::fence`, which owns the raw table).
//!
//! ```toml
//! [[fence.device]]
//! name = "node2-ipmi"
//! type = "fence-agent"
//! agent = "fence_ipmilan"            # in /usr/sbin, or an absolute path
//! nodes = ["node2"]
//! params = { ip = "198.18.1.2", username = "admin", lanplus = 1 }
//! password_file = "/etc/ironbeat/node2.pass"   # → password=, mode 0600
//! timeout = "60s"
//!
//! [[fence.device]]
//! name = "rack-ssh"
//! type = "external"
//! plugin = "ssh"                     # cluster-glue's external/ssh
//! nodes = ["node3"]
//! params = { hostlist = "node3" }
//! accept_unverified = true           # a plugin cannot show the node off
//! ```
//!
//! Secrets never sit in this file: a `params` entry whose name says
//! password, passwd, secret, token, community or key is an error; write it
//! into a 0600 file named by `password_file` (the agent's `password`, the
//! plugin's `passwd`) or `secret_files = { NAME = "PATH" }`.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use ironbeat_fence::external::params::{is_secret_name, Params};
use ironbeat_fence::external::Kind;
use ironbeat_link::ErrorKind;
use toml::Spanned;

use super::{Files, RawDevice};
use crate::config::error::ConfigError;
use crate::config::native::{duration, Source};

/// An external agent's device (`type = "fence-agent"` or `"external"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalDevice {
    /// A fence-agents agent or a cluster-glue plugin.
    pub kind: Kind,
    /// The agent (`fence_ipmilan`) or plugin (`ssh`) name, or an absolute path.
    pub program: String,
    /// Parameters passed as they are (no secrets: see `secret_files`).
    pub params: Vec<(String, String)>,
    /// Secret parameters, each read from a 0600 file when a request is made.
    pub secret_files: Vec<(String, PathBuf)>,
    /// Take a plugin's word that off/reset succeeded (unverifiable).
    pub accept_unverified: bool,
    /// The one deadline of a request (the front end's default if unset).
    pub timeout: Option<Duration>,
}

/// The keys of the IPMI type, which these types do not take.
fn foreign_keys(raw: &RawDevice) -> [(&'static str, Option<std::ops::Range<usize>>); 10] {
    [
        ("ip", raw.ip.as_ref().map(Spanned::span)),
        ("port", raw.port.as_ref().map(Spanned::span)),
        ("username", raw.username.as_ref().map(Spanned::span)),
        ("interface", raw.interface.as_ref().map(Spanned::span)),
        ("cipher", raw.cipher.as_ref().map(Spanned::span)),
        ("auth", raw.auth.as_ref().map(Spanned::span)),
        ("privilege", raw.privilege.as_ref().map(Spanned::span)),
        (
            "allow_cipher_zero",
            raw.allow_cipher_zero.as_ref().map(Spanned::span),
        ),
        ("power_wait", raw.power_wait.as_ref().map(Spanned::span)),
        ("method", raw.method.as_ref().map(Spanned::span)),
    ]
}

/// Checks a `fence-agent` or `external` device.
pub(super) fn external(
    src: &Source<'_>,
    raw: &RawDevice,
    type_name: &str,
    name: &str,
    name_span: &std::ops::Range<usize>,
    files: Files,
) -> Result<ExternalDevice, ConfigError> {
    let (kind, program_key, password_name, example) = match type_name {
        "external" => (Kind::Plugin, "plugin", "passwd", "ssh"),
        _ => (Kind::Agent, "agent", "password", "fence_ipmilan"),
    };
    if let Some((key, span)) = foreign_keys(raw)
        .into_iter()
        .find_map(|(key, span)| span.map(|s| (key, s)))
    {
        return Err(src.error(
            &span,
            format!(
                "a {type_name} device takes the agent's own parameter names in `params`; move \
                 `{key}` there, e.g. params = {{ {key} = ... }} (the agent's metadata lists its \
                 names: stonith -t {} -n)",
                if kind == Kind::Plugin {
                    "external/NAME"
                } else {
                    "fence_NAME"
                }
            ),
        ));
    }
    let (program_value, wrong) = match kind {
        Kind::Plugin => (&raw.plugin, raw.agent.as_ref().map(|a| ("agent", a.span()))),
        Kind::Agent => (
            &raw.agent,
            raw.plugin.as_ref().map(|p| ("plugin", p.span())),
        ),
    };
    if let Some((key, span)) = wrong {
        return Err(src.error(
            &span,
            format!(
                "`{key}` belongs to the other external type; a {type_name} device names its \
                 program with `{program_key}`"
            ),
        ));
    }
    let Some(program) = program_value else {
        return Err(src.error(
            name_span,
            format!(
                "{type_name} device {name:?} needs `{program_key}`; add {program_key} = \
                 \"{example}\""
            ),
        ));
    };
    let program_text = program.get_ref().trim().to_string();
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    let valid = if program_text.starts_with('/') {
        !program_text.contains("/../")
    } else {
        !program_text.is_empty()
            && !program_text.starts_with('.')
            && program_text.chars().all(plain)
            && (kind == Kind::Plugin || program_text.starts_with("fence_"))
    };
    if !valid {
        return Err(src.error(
            &program.span(),
            format!(
                "{program_key} {program_text:?} is not valid; write a name like \"{example}\" \
                 or an absolute path"
            ),
        ));
    }
    if kind == Kind::Plugin && program_text == "ipmi" {
        // Allowed on purpose: the real plugin (running ipmitool), unlike
        // type "ipmi", which speaks IPMI natively.
    }

    let mut params = Vec::new();
    let mut check = Params::new();
    if let Some(table) = &raw.params {
        for (key, value) in table.get_ref() {
            let span = value.span();
            if is_secret_name(key) {
                return Err(src.error(
                    &span,
                    format!(
                        "params.{key} holds a secret, and this file is usually readable by \
                         every user and copied between nodes; put it on the first line of a \
                         0600 file and write secret_files = {{ {key} = \"/etc/ironbeat/{name}.{key}\" }}"
                    ),
                ));
            }
            let text = match value.get_ref() {
                toml::Value::String(s) => s.clone(),
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Float(f) => f.to_string(),
                toml::Value::Boolean(b) => if *b { "1" } else { "0" }.to_string(),
                _ => {
                    return Err(src.error(
                        &span,
                        format!(
                            "params.{key} must be a string, number or boolean (the agent gets \
                             it as text)"
                        ),
                    ))
                }
            };
            if matches!(key.as_str(), "action" | "option" | "nodename") {
                return Err(src.error(
                    &span,
                    format!("params.{key} is chosen per request by ironbeat; remove it"),
                ));
            }
            check
                .insert(key, text.clone().into_bytes())
                .map_err(|e| src.error(&span, e.message().to_string()))?;
            params.push((key.clone(), text));
        }
    }
    if kind == Kind::Plugin {
        if let Some((key, span)) = params
            .iter()
            .find(|(k, _)| k.contains('-'))
            .and_then(|(k, _)| raw.params.as_ref().map(|t| (k.clone(), t.span())))
        {
            return Err(src.error(
                &span,
                format!("params.{key}: cluster-glue plugins read environment variables, which cannot hold `-`"),
            ));
        }
    }

    let mut secret_files: Vec<(String, PathBuf)> = Vec::new();
    if let Some(p) = &raw.password {
        return Err(src.error(
            &p.span(),
            "a password is not written in this file; put it on the first line of a 0600 file \
             and write password_file = \"/etc/ironbeat/NAME.pass\"",
        ));
    }
    let mut file_entries: Vec<(String, Spanned<String>)> = Vec::new();
    if let Some(path) = &raw.password_file {
        file_entries.push((password_name.to_string(), path.clone()));
    }
    if let Some(table) = &raw.secret_files {
        for (key, path) in table.get_ref() {
            file_entries.push((key.clone(), path.clone()));
        }
    }
    for (key, path) in file_entries {
        if params.iter().any(|(k, _)| *k == key) || secret_files.iter().any(|(k, _)| *k == key) {
            return Err(src.error(
                &path.span(),
                format!("parameter {key} is given twice (in params and as a file); keep one"),
            ));
        }
        check
            .insert(&key, b"x".to_vec())
            .map_err(|e| src.error(&path.span(), e.message().to_string()))?;
        let file = PathBuf::from(path.get_ref().trim());
        if !file.is_absolute() {
            return Err(src.error(
                &path.span(),
                format!("the file of {key} must be an absolute path, e.g. \"/etc/ironbeat/{name}.pass\""),
            ));
        }
        if files == Files::Check {
            check_secret_file(&file).map_err(|m| {
                let e = src.error(&path.span(), m.0);
                match m.1 {
                    Some(kind) => e.with_kind(kind),
                    None => e,
                }
            })?;
        }
        secret_files.push((key, file));
    }

    let accept_unverified = match &raw.accept_unverified {
        Some(flag) if kind == Kind::Agent => {
            return Err(src.error(
                &flag.span(),
                "accept_unverified is for cluster-glue plugins (type \"external\"); a \
                 fence-agents agent's off is always read back with action=status",
            ))
        }
        Some(flag) => *flag.get_ref(),
        None => false,
    };
    let timeout = match &raw.timeout {
        None => None,
        Some(t) => {
            let d = duration(src, "timeout", t)?;
            if d.is_zero() {
                return Err(src.error(
                    &t.span(),
                    "timeout 0 leaves no time to run the agent; write e.g. \"60s\"",
                ));
            }
            Some(d)
        }
    };
    Ok(ExternalDevice {
        kind,
        program: program_text,
        params,
        secret_files,
        accept_unverified,
        timeout,
    })
}

/// A secret file: regular, mode 0600 or stricter, owned by root or us,
/// non-empty first line. The message (and the error kind, when not Config).
fn check_secret_file(path: &Path) -> Result<(), (String, Option<ErrorKind>)> {
    let shown = path.display();
    let metadata = fs::metadata(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => (
            format!(
                "secret file {shown} does not exist; create it: install -m 600 /dev/null \
                 {shown}, then write the secret on its first line"
            ),
            None,
        ),
        _ => (
            format!("cannot read secret file {shown}: {e}; run as root"),
            Some(ErrorKind::Io),
        ),
    })?;
    if !metadata.is_file() {
        return Err((format!("secret file {shown} is not a regular file"), None));
    }
    let mode = metadata.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err((
            format!("secret file {shown} has mode {mode:04o}: other users can read it; run chmod 600 {shown}"),
            Some(ErrorKind::Auth),
        ));
    }
    let owner = metadata.uid();
    if owner != 0 && owner != nix::unistd::geteuid().as_raw() {
        return Err((
            format!("secret file {shown} belongs to uid {owner}, who can read or replace it; run chown root: {shown}"),
            Some(ErrorKind::Auth),
        ));
    }
    Ok(())
}

/// The `[[fence.device]]` keys these types add to the raw table.
pub(super) type ParamsTable = BTreeMap<String, Spanned<toml::Value>>;
/// `secret_files = { NAME = "PATH" }`.
pub(super) type SecretFilesTable = BTreeMap<String, Spanned<String>>;

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::model::{FenceAgent, Fencing};
    use crate::config::native::parse_native;

    /// Five lines: a cluster of three and one link; the device from line 6.
    const HEAD: &str = "[cluster]\nnodes = [\"node1\", \"node2\", \"node3\"]\n\
                        [[link]]\nkind = \"ether\"\niface = \"eth0\"\n\
                        [[fence.device]]\nname = \"d\"\nnodes = [\"node2\"]\n";

    fn parse(device: &str) -> Result<Fencing, ConfigError> {
        parse_native(
            &format!("{HEAD}{device}"),
            Path::new("/etc/ironbeat/ironbeat.toml"),
            Some("node1"),
            Files::Skip,
        )
        .map(|n| n.fencing)
    }

    fn external(device: &str) -> ExternalDevice {
        match &parse(device).unwrap().devices[0].agent {
            FenceAgent::External(d) => d.clone(),
            other => panic!("{other:?}"),
        }
    }

    fn error(device: &str) -> String {
        parse(device).unwrap_err().to_string()
    }

    #[test]
    fn fence_agent_device() {
        let d = external(
            "type = \"fence-agent\"\nagent = \"fence_ipmilan\"\n\
             params = { ip = \"198.18.1.2\", lanplus = true, cipher = 3 }\n\
             password_file = \"/etc/ironbeat/node2.pass\"\n\
             secret_files = { snmp_priv_passwd = \"/etc/ironbeat/priv\" }\ntimeout = \"30s\"\n",
        );
        assert_eq!(d.kind, Kind::Agent);
        assert_eq!(d.program, "fence_ipmilan");
        assert!(d.params.contains(&("lanplus".into(), "1".into())));
        assert!(d.params.contains(&("cipher".into(), "3".into())));
        assert_eq!(
            d.secret_files,
            [
                (
                    "password".to_string(),
                    PathBuf::from("/etc/ironbeat/node2.pass")
                ),
                (
                    "snmp_priv_passwd".to_string(),
                    PathBuf::from("/etc/ironbeat/priv")
                ),
            ]
        );
        assert_eq!(d.timeout, Some(Duration::from_secs(30)));
        assert!(!d.accept_unverified);
    }

    #[test]
    fn plugin_device() {
        let d = external(
            "type = \"external\"\nplugin = \"ipmi\"\nparams = { hostname = \"node2\" }\n\
             password_file = \"/etc/ironbeat/p\"\naccept_unverified = true\n",
        );
        assert_eq!(d.kind, Kind::Plugin);
        assert_eq!(d.secret_files[0].0, "passwd");
        assert!(d.accept_unverified);
    }

    #[test]
    fn errors_say_where_and_how() {
        let e = error(
            "type = \"fence-agent\"\nagent = \"fence_x\"\nparams = { passwd = \"hunter2\" }\n",
        );
        assert!(e.contains("ironbeat.toml:11"), "{e}");
        assert!(e.contains("secret_files") && !e.contains("hunter2"), "{e}");
        let e = error("type = \"fence-agent\"\nagent = \"fence_x\"\nusername = \"admin\"\n");
        assert!(e.contains("move `username` there"), "{e}");
        let e =
            error("type = \"fence-agent\"\nagent = \"fence_x\"\nparams = { action = \"off\" }\n");
        assert!(e.contains("chosen per request"), "{e}");
        let e = error("type = \"fence-agent\"\nagent = \"fence_x\"\nparams = { a = [1] }\n");
        assert!(e.contains("string, number or boolean"), "{e}");
        let e = error("type = \"fence-agent\"\nagent = \"x; rm\"\n");
        assert!(e.contains("is not valid"), "{e}");
        let e = error("type = \"external\"\nplugin = \"ssh\"\npassword = \"x\"\n");
        assert!(e.contains("password_file"), "{e}");
        let e = error("type = \"external\"\nplugin = \"ssh\"\npassword_file = \"rel.pass\"\n");
        assert!(e.contains("absolute path"), "{e}");
        let e = error("type = \"external\"\nplugin = \"ssh\"\nparams = { power-wait = 1 }\n");
        assert!(e.contains("cannot hold `-`"), "{e}");
        let e = error(
            "type = \"external\"\nplugin = \"ssh\"\nparams = { hostlist = \"node2\" }\n\
             secret_files = { hostlist = \"/b\" }\n",
        );
        assert!(e.contains("given twice"), "{e}");
        let e = error("type = \"external\"\nplugin = \"ssh\"\ntimeout = \"0s\"\n");
        assert!(e.contains("timeout 0"), "{e}");
    }
}
