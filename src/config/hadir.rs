//! The classic front door: a heartbeat `/etc/ha.d` directory (`ha.cf` and
//! `authkeys`; `haresources` is left to the resource stage).

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use ironbeat_link::auth::{parse_authkeys, KeyRing};
use ironbeat_link::ErrorKind;

use super::error::ConfigError;
use super::hacf::parse_ha_cf;
use super::model::Config;

/// Loads `DIR/ha.cf` and `DIR/authkeys` into a [`Config`] for `local_node`
/// (`uname -n`, or `--node`). CRC keys are refused unless `allow_crc`.
///
/// Checks, in order: ha.cf syntax and values, members (this node listed),
/// media present, timers, then the authkeys file (mode 0600 or stricter, then
/// its contents). `DIR/haresources` may exist; it is not read here.
pub fn load_ha_d(dir: &Path, local_node: &str, allow_crc: bool) -> Result<Config, ConfigError> {
    let ha_cf = dir.join("ha.cf");
    let text = read_text(&ha_cf, "the heartbeat configuration", || {
        "copy the annotated sample (/usr/share/doc/heartbeat/ha.cf.gz) there and edit it, or \
         point --ha-d at the right directory"
            .to_string()
    })?;
    let cf = parse_ha_cf(&text, &ha_cf)?;
    let (nodes, local_node) = cf.members(local_node)?;
    cf.check_links()?;
    let timing = cf.timing()?;
    let autojoin = cf.autojoin();
    let cluster = cf.cluster_name().to_string();
    let udp_port = cf.udp_port();
    let authkeys = dir.join("authkeys");
    let keys = read_authkeys(&authkeys, allow_crc)?;
    let config = Config {
        origin: ha_cf,
        cluster,
        nodes,
        local_node,
        timing,
        udp_port,
        links: cf.links,
        authkeys,
        keys,
        allow_insecure_crc: allow_crc,
        autojoin,
        heartbeat: cf.options,
        fencing: Default::default(),
    };
    config.check_serial_budget()?;
    Ok(config)
}

/// Reads an authkeys file after checking that only its owner can read it
/// (as heartbeat did: `mode & 077 == 0`).
pub fn read_authkeys(path: &Path, allow_crc: bool) -> Result<KeyRing, ConfigError> {
    let shown = path.display();
    let metadata = fs::metadata(path).map_err(|e| {
        io_error(path, "cannot read the cluster keys", &e, || {
            format!(
                "create it with the two lines `auth 1` and `1 sha256 SECRET` (same file on every \
                 node), then run chmod 600 {shown}"
            )
        })
    })?;
    if !metadata.is_file() {
        return Err(ConfigError::in_file(
            path,
            "is not a regular file; it must hold the keys (`auth 1`, `1 sha256 SECRET`)",
        ));
    }
    let mode = metadata.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(ConfigError::in_file(
            path,
            format!("mode {mode:04o} lets other users read the cluster key; run chmod 600 {shown}"),
        )
        .with_kind(ErrorKind::Auth));
    }
    let text = read_text(path, "the cluster keys", || format!("check {shown}"))?;
    let origin = path.display().to_string();
    parse_authkeys(&text, &origin, allow_crc).map_err(|e| ConfigError::from_link(path, &origin, &e))
}

/// Reads a UTF-8 text file; errors say which file, why, and what to do.
pub(crate) fn read_text(
    path: &Path,
    what: &str,
    fix: impl FnOnce() -> String,
) -> Result<String, ConfigError> {
    let bytes =
        fs::read(path).map_err(|e| io_error(path, &format!("cannot read {what}"), &e, fix))?;
    String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let line = super::values::line_of(&String::from_utf8_lossy(&e.as_bytes()[..valid]), valid);
        ConfigError::at_line(
            path,
            line,
            "is not UTF-8 text (a binary file, or a legacy encoding); save it as UTF-8",
        )
    })
}

fn io_error(
    path: &Path,
    doing: &str,
    error: &io::Error,
    fix: impl FnOnce() -> String,
) -> ConfigError {
    match error.kind() {
        io::ErrorKind::NotFound => {
            ConfigError::in_file(path, format!("{doing}: {error}; {}", fix()))
        }
        io::ErrorKind::PermissionDenied => ConfigError::in_file(
            path,
            format!("{doing}: {error}; run as root (the cluster daemon needs it anyway)"),
        )
        .with_kind(ErrorKind::Io),
        _ => ConfigError::in_file(path, format!("{doing}: {error}")).with_kind(ErrorKind::Io),
    }
}
