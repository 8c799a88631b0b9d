//! The watchdog settings (self-fencing) of both front doors, and the checks
//! that make them safe.
//!
//! ```toml
//! [watchdog]                          # native file; ha.cf: `watchdog /dev/watchdog`
//! device = "/dev/watchdog0"
//! timeout = "10s"                     # whole seconds; default 10s
//! stonith_watchdog_timeout = "20s"    # how long a peer waits before it takes a
//!                                     # self-fenced node for down; default 2 × timeout
//! ```
//!
//! ha.cf's `watchdog DEVICE` (heartbeat's directive) has no timeout: the
//! defaults above apply.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::error::ConfigError;
use super::model::{Config, HeartbeatOptions, Located};
use super::native::{duration, Source};

/// The watchdog timeout when none is configured.
pub const DEFAULT_WATCHDOG_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest watchdog timeout accepted (the kernel's ioctl takes an int of
/// seconds; real devices stop far below).
pub const MAX_WATCHDOG_TIMEOUT: Duration = Duration::from_secs(65535);

/// `[watchdog]` of the native file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWatchdog {
    device: Option<Spanned<String>>,
    timeout: Option<Spanned<String>>,
    stonith_watchdog_timeout: Option<Spanned<String>>,
}

/// Checks `[watchdog]` and fills the options.
pub(super) fn native(
    src: &Source<'_>,
    raw: &Spanned<RawWatchdog>,
    options: &mut HeartbeatOptions,
) -> Result<(), ConfigError> {
    let table = raw.get_ref();
    let Some(device) = &table.device else {
        return Err(src.error(
            &raw.span(),
            "[watchdog] has no `device`; add `device = \"/dev/watchdog0\"` (`ironbeat watchdog \
             list` shows the devices) or remove the table",
        ));
    };
    let path = PathBuf::from(device.get_ref());
    if !path.is_absolute() || device.get_ref().chars().any(char::is_control) {
        return Err(src.error(
            &device.span(),
            format!(
                "watchdog device {:?} must be an absolute path such as /dev/watchdog0",
                device.get_ref()
            ),
        ));
    }
    options.watchdog = Some(Located {
        value: path,
        location: src.location(&device.span()),
    });
    let seconds = |name: &str, value: &Spanned<String>| -> Result<Duration, ConfigError> {
        let d = duration(src, name, value)?;
        check_seconds(name, d).map_err(|m| src.error(&value.span(), m))?;
        Ok(d)
    };
    if let Some(timeout) = &table.timeout {
        options.watchdog_timeout = Some(Located {
            value: seconds("timeout", timeout)?,
            location: src.location(&timeout.span()),
        });
    }
    if let Some(wait) = &table.stonith_watchdog_timeout {
        let value = duration(src, "stonith_watchdog_timeout", wait)?;
        options.stonith_watchdog_timeout = Some(Located {
            value,
            location: src.location(&wait.span()),
        });
        let timeout = watchdog_timeout(options);
        if value < timeout * 2 {
            return Err(src.error(&wait.span(), too_short(value, timeout)));
        }
    }
    Ok(())
}

fn check_seconds(name: &str, d: Duration) -> Result<(), String> {
    if d.subsec_nanos() != 0 || d.is_zero() || d > MAX_WATCHDOG_TIMEOUT {
        return Err(format!(
            "{name} {d:?}: a watchdog counts whole seconds; write 1s to {}s, e.g. \"10s\"",
            MAX_WATCHDOG_TIMEOUT.as_secs()
        ));
    }
    Ok(())
}

fn too_short(wait: Duration, timeout: Duration) -> String {
    format!(
        "stonith_watchdog_timeout {}s is less than twice the watchdog timeout ({}s): a peer \
         could take over before the self-fenced node has reset; set it to at least {}s, or \
         lower `timeout`",
        wait.as_secs_f64(),
        timeout.as_secs(),
        (timeout * 2).as_secs()
    )
}

/// The watchdog timeout in force: configured, or [`DEFAULT_WATCHDOG_TIMEOUT`].
pub fn watchdog_timeout(options: &HeartbeatOptions) -> Duration {
    options
        .watchdog_timeout
        .as_ref()
        .map_or(DEFAULT_WATCHDOG_TIMEOUT, |t| t.value)
}

/// How long a peer waits before it takes a node that stopped answering for
/// self-fenced: configured, or twice the watchdog timeout.
pub fn stonith_watchdog_timeout(options: &HeartbeatOptions) -> Duration {
    options
        .stonith_watchdog_timeout
        .as_ref()
        .map_or(watchdog_timeout(options) * 2, |t| t.value)
}

/// The checks of a watchdog configuration as a whole, each
/// `FILE:LINE: what is wrong; the fix`. `fencing`: whether a fence device
/// covers the peers (`None`: unknown, the devices are in error).
///
/// * a peer must wait at least twice the watchdog timeout before it takes a
///   self-fenced node for down;
/// * watchdog-only fencing is refused for a two-node cluster without a
///   quorum device: in two-node mode a lone survivor keeps quorum, so after a
///   split *both* nodes stay healthy, keep feeding and run the resources.
pub fn watchdog_errors(config: &Config, fencing: Option<bool>) -> Vec<String> {
    let o = &config.heartbeat;
    let mut errors = Vec::new();
    let Some(device) = &o.watchdog else {
        return errors;
    };
    let timeout = watchdog_timeout(o);
    if let Some(wait) = &o.stonith_watchdog_timeout {
        if wait.value < timeout * 2 {
            errors.push(format!(
                "{}: {}",
                wait.location,
                too_short(wait.value, timeout)
            ));
        }
    }
    if fencing == Some(false) && config.nodes.len() == 2 && o.quorum_server.is_none() {
        errors.push(format!(
            "{}: watchdog-only fencing in a two-node cluster without a quorum device: after a \
             split each node keeps quorum on its own (two-node mode), neither stops feeding its \
             watchdog and both run the resources; configure a fence device per node \
             ([[fence.device]] or stonith_host, docs/fencing.md) or a quorum device \
             (quorum_server), or add a third node",
            device.location
        ));
    }
    errors
}

/// A one-line summary for `config check`.
pub fn describe(options: &HeartbeatOptions) -> Option<String> {
    let device = options.watchdog.as_ref()?;
    Some(format!(
        "watchdog {} (timeout {}s, fed every {:.1}s while healthy; a peer waits {}s before \
         taking this node for self-fenced)",
        device.value.display(),
        watchdog_timeout(options).as_secs(),
        watchdog_timeout(options).as_secs_f64() / 3.0,
        stonith_watchdog_timeout(options).as_secs_f64()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{load_native, validate_native};
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;

    const BASE: &str = "[cluster]\nnodes = [\"node1\", \"node2\"]\n\n[[link]]\nkind = \"ucast\"\n\
                        iface = \"lo\"\npeer = \"127.0.0.2\"\n";

    fn check(extra: &str) -> Result<(), String> {
        validate_native(&format!("{BASE}{extra}"), Path::new("ib.toml"), "node1")
            .map_err(|e| e.to_string())
    }

    /// Loads BASE + `extra` from a scratch directory (with an authkeys file).
    fn load(name: &str, extra: &str) -> Config {
        let dir =
            std::env::temp_dir().join(format!("ironbeat-wdcfg-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let keys = dir.join("authkeys");
        std::fs::write(&keys, "auth 1\n1 sha256 watchdog-test-key\n").unwrap();
        std::fs::set_permissions(&keys, std::fs::Permissions::from_mode(0o600)).unwrap();
        let file = dir.join("ironbeat.toml");
        std::fs::write(&file, format!("{BASE}{extra}")).unwrap();
        let config = load_native(&file, "node1");
        let _ = std::fs::remove_dir_all(&dir);
        config.unwrap()
    }

    #[test]
    fn the_watchdog_table_is_read_with_defaults() {
        let c = load("defaults", "\n[watchdog]\ndevice = \"/dev/watchdog0\"\n");
        let o = &c.heartbeat;
        assert_eq!(
            o.watchdog.as_ref().unwrap().value,
            Path::new("/dev/watchdog0")
        );
        assert_eq!(o.watchdog.as_ref().unwrap().location.line, 10);
        assert_eq!(watchdog_timeout(o), DEFAULT_WATCHDOG_TIMEOUT);
        assert_eq!(stonith_watchdog_timeout(o), DEFAULT_WATCHDOG_TIMEOUT * 2);
        assert!(describe(o).unwrap().contains("timeout 10s"));
        let c = load(
            "set",
            "\n[watchdog]\ndevice = \"/dev/watchdog\"\ntimeout = \"5s\"\n\
             stonith_watchdog_timeout = \"12s\"\n",
        );
        assert_eq!(watchdog_timeout(&c.heartbeat), Duration::from_secs(5));
        assert_eq!(
            stonith_watchdog_timeout(&c.heartbeat),
            Duration::from_secs(12)
        );
        let none = load("none", "");
        assert!(describe(&none.heartbeat).is_none());
        assert!(watchdog_errors(&none, Some(false)).is_empty());
    }

    #[test]
    fn wrong_watchdog_tables_are_located_and_say_the_fix() {
        let cases = [
            (
                "[watchdog]\ntimeout = \"5s\"\n",
                "ib.toml:9:",
                "no `device`",
            ),
            (
                "[watchdog]\ndevice = \"watchdog0\"\n",
                "ib.toml:10:",
                "absolute path",
            ),
            (
                "[watchdog]\ndevice = \"/dev/watchdog\"\ntimeout = \"1500ms\"\n",
                "ib.toml:11:",
                "whole seconds",
            ),
            (
                "[watchdog]\ndevice = \"/dev/watchdog\"\ntimeout = \"0s\"\n",
                "ib.toml:11:",
                "whole seconds",
            ),
            (
                "[watchdog]\ndevice = \"/dev/watchdog\"\ntimeout = \"5\"\n",
                "ib.toml:11:",
                "no unit",
            ),
            (
                "[watchdog]\ndevice = \"/dev/watchdog\"\ntimeout = \"10s\"\n\
                 stonith_watchdog_timeout = \"15s\"\n",
                "ib.toml:12:",
                "at least 20s",
            ),
            (
                "[watchdog]\ndevice = \"/dev/watchdog\"\nstonith_watchdog_timeout = \"19s\"\n",
                "ib.toml:11:",
                "less than twice",
            ),
            (
                "[watchdog]\ndevice = \"/dev/watchdog\"\nfoo = 1\n",
                "ib.toml:",
                "foo",
            ),
        ];
        for (extra, at, needle) in cases {
            let e = check(&format!("\n{extra}")).unwrap_err();
            assert!(e.starts_with(at), "{extra:?}: {e}");
            assert!(e.contains(needle), "{extra:?}: {e}");
        }
        assert_eq!(
            check("\n[watchdog]\ndevice = \"/dev/watchdog\"\nstonith_watchdog_timeout = \"20s\"\n"),
            Ok(())
        );
    }

    #[test]
    fn watchdog_only_fencing_of_two_nodes_needs_a_quorum_device() {
        let c = load("two", "\n[watchdog]\ndevice = \"/dev/watchdog\"\n");
        let errors = watchdog_errors(&c, Some(false));
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].contains("ironbeat.toml:10: watchdog-only fencing"),
            "{errors:?}"
        );
        assert!(errors[0].contains("quorum device"), "{errors:?}");
        // A fence device per node, or fencing unknown (the devices are in
        // error, reported on their own): no watchdog error.
        assert!(watchdog_errors(&c, Some(true)).is_empty());
        assert!(watchdog_errors(&c, None).is_empty());
        let mut three = c.clone();
        three.nodes.push("node3".into());
        assert!(watchdog_errors(&three, Some(false)).is_empty());
        let mut qdevice = c;
        qdevice.heartbeat.quorum_server = Some(Located {
            value: "qs.example".into(),
            location: qdevice
                .heartbeat
                .watchdog
                .as_ref()
                .unwrap()
                .location
                .clone(),
        });
        assert!(watchdog_errors(&qdevice, Some(false)).is_empty());
    }
}
