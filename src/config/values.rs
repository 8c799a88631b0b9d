//! Value checks shared by both front doors. Each returns the complete message
//! (what is wrong and how to fix it); the caller adds `FILE:LINE:`.

use std::net::IpAddr;
use std::path::PathBuf;

/// Serial speeds the serial driver opens (9600 – 115200, what null-modem
/// heartbeat links use; heartbeat itself took up to 460800). One list, so a
/// configuration that passes the check also opens.
pub(crate) const STANDARD_BAUDS: &[u32] = &ironbeat_link::driver::serial::BAUD_RATES;

/// heartbeat's booleans (`cl_str_to_boolean`): true, on, yes, y, 1 / false,
/// off, no, n, 0, any case.
pub(crate) fn parse_bool(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "on" | "yes" | "y" | "1" => Some(true),
        "false" | "off" | "no" | "n" | "0" => Some(false),
        _ => None,
    }
}

/// A node name as `uname -n` prints it: 1–64 characters of letters, digits,
/// `-`, `_`, `.`.
pub(crate) fn check_node_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 64 {
        return Err(format!(
            "node name {name:?} must be 1 to 64 characters, as `uname -n` prints it"
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
    {
        return Err(format!(
            "node name {name:?} contains {c:?}; use the host name as `uname -n` prints it \
             (letters, digits, `-`, `_`, `.`)"
        ));
    }
    Ok(())
}

/// A Linux interface name (kernel `dev_valid_name`: 1–15 bytes, no `/` or
/// white space, not `.` or `..`); `:` is allowed for legacy alias labels.
pub(crate) fn check_iface(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("the interface name is empty; write it as `ip link` shows it".into());
    }
    if name.len() > 15 {
        return Err(format!(
            "interface name {name:?} is longer than 15 bytes, which Linux never allows; \
             write it as `ip link` shows it"
        ));
    }
    if name == "." || name == ".." || name.contains('/') || name.chars().any(char::is_whitespace) {
        return Err(format!(
            "{name:?} is not an interface name; write it as `ip link` shows it (e.g. eth0)"
        ));
    }
    if name.parse::<IpAddr>().is_ok() {
        return Err(format!(
            "{name:?} is an address where an interface name belongs; write the interface \
             first (e.g. `eth0`), then the address"
        ));
    }
    Ok(())
}

/// A serial speed the driver opens.
pub(crate) fn check_baud(baud: u64) -> Result<u32, String> {
    match u32::try_from(baud) {
        Ok(b) if STANDARD_BAUDS.contains(&b) => Ok(b),
        _ => Err(format!(
            "baud {baud} is not a supported serial speed; use one of 9600, 19200, 38400, 57600, \
             115200 (heartbeat's default is 19200)"
        )),
    }
}

/// A serial device: an absolute path.
pub(crate) fn check_tty(tty: &str) -> Result<PathBuf, String> {
    if !tty.starts_with('/') || tty.len() < 2 {
        return Err(format!(
            "serial device {tty:?} must be an absolute path such as /dev/ttyS0"
        ));
    }
    Ok(PathBuf::from(tty))
}

/// A multicast group: 224.0.0.0/4 or ff00::/8.
pub(crate) fn check_mcast_group(group: IpAddr) -> Result<(), String> {
    if group.is_multicast() {
        Ok(())
    } else {
        Err(format!(
            "{group} is not a multicast group; use one from the organization-local scope, \
             e.g. 239.192.0.1 (or ff12::1:2:3:4 for IPv6)"
        ))
    }
}

/// A host for `ping`: an IP address or a DNS name.
pub(crate) fn check_host(host: &str) -> Result<(), String> {
    if host.parse::<IpAddr>().is_ok() {
        return Ok(());
    }
    let valid = !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        });
    if valid {
        Ok(())
    } else {
        Err(format!(
            "{host:?} is neither an IP address nor a host name; write e.g. 198.18.0.254"
        ))
    }
}

/// The candidate closest to `word` by edit distance, if close enough to be a
/// plausible typo.
pub(crate) fn nearest<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let word = word.to_ascii_lowercase();
    let limit = (word.chars().count() / 2).clamp(1, 3);
    candidates
        .into_iter()
        .map(|c| (edit_distance(&word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance on characters; inputs are short config words, and the
/// cost is capped by only comparing the first 64 characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().take(64).collect();
    let b: Vec<char> = b.chars().take(64).collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.iter().enumerate() {
        current[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

/// Splits off the first blank-separated word: `("a", "b c")` for `" a  b c"`.
pub(crate) fn first_word(text: &str) -> (&str, &str) {
    let text = text.trim_start();
    match text.find(char::is_whitespace) {
        Some(at) => (&text[..at], text[at..].trim()),
        None => (text, ""),
    }
}

/// The 1-based line of a byte offset.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|b| **b == b'\n')
        .count()
        + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_as_heartbeat_reads_them() {
        for t in ["true", "On", "YES", "y", "1"] {
            assert_eq!(parse_bool(t), Some(true), "{t}");
        }
        for f in ["false", "off", "No", "n", "0"] {
            assert_eq!(parse_bool(f), Some(false), "{f}");
        }
        assert_eq!(parse_bool("2"), None);
        assert_eq!(parse_bool(""), None);
    }

    #[test]
    fn names() {
        assert!(check_node_name("node1").is_ok());
        assert!(check_node_name("db-2.example.com").is_ok());
        assert!(check_node_name("").is_err());
        assert!(check_node_name("a/b").is_err());
        assert!(check_node_name(&"x".repeat(65)).is_err());
        assert!(check_iface("eth0").is_ok());
        assert!(check_iface("eth0:1").is_ok());
        assert!(check_iface("enp0s31f6.100").is_ok());
        assert!(check_iface("averyveryverylongname").is_err());
        assert!(check_iface("..").is_err());
        assert!(check_iface("a/b").is_err());
        assert!(check_iface("198.18.0.2").is_err());
        assert!(check_host("198.18.0.254").is_ok());
        assert!(check_host("router.example").is_ok());
        assert!(check_host("bad host").is_err());
        assert!(check_host("a..b").is_err());
    }

    #[test]
    fn bauds() {
        assert_eq!(check_baud(19200), Ok(19200));
        assert!(check_baud(300).is_err(), "below what null-modem links use");
        assert!(check_baud(460800).is_err(), "the driver does not open it");
        assert_eq!(check_baud(115200), Ok(115200));
        assert!(check_baud(12345).is_err());
        assert!(check_baud(u64::MAX).is_err());
    }

    #[test]
    fn suggestions() {
        let words = ["keepalive", "deadtime", "warntime", "initdead", "node"];
        assert_eq!(nearest("keepalives", words), Some("keepalive"));
        assert_eq!(nearest("deadtim", words), Some("deadtime"));
        assert_eq!(nearest("Node", words), Some("node"));
        assert_eq!(nearest("frobnicate", words), None);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn words() {
        assert_eq!(first_word(" a \t b  c "), ("a", "b  c"));
        assert_eq!(first_word("a"), ("a", ""));
        assert_eq!(first_word(""), ("", ""));
    }

    #[test]
    fn lines_of_offsets() {
        let text = "a\nb\nc";
        assert_eq!(line_of(text, 0), 1);
        assert_eq!(line_of(text, 2), 2);
        assert_eq!(line_of(text, 4), 3);
        assert_eq!(line_of(text, 999), 3);
    }
}
