//! heartbeat's `authkeys` file: `auth N` selects the signing key, then lines
//! `N sha1|md5|sha256|crc [SECRET]`, N in 1–15, `#` comments.

use super::{Algorithm, Key, KeyRing};
use crate::Error;

/// Parses authkeys text. `origin` names the file in errors (`origin:line: …`).
/// CRC keys are refused unless `allow_crc`: they authenticate nothing.
pub fn parse_authkeys(text: &str, origin: &str, allow_crc: bool) -> Result<KeyRing, Error> {
    let mut active: Option<(u8, usize)> = None;
    let mut keys: Vec<Key> = Vec::new();
    let err = |line: usize, msg: String| Error::config(format!("{origin}:{line}: {msg}"));
    for (number, raw) in text.lines().enumerate() {
        let line = number + 1;
        let content = raw.split('#').next().unwrap_or("").trim();
        if content.is_empty() {
            continue;
        }
        let mut words = content.split_whitespace();
        let first = words.next().unwrap_or("");
        if first == "auth" {
            let index = words
                .next()
                .ok_or_else(|| err(line, "`auth` needs a key number: `auth 1`".into()))?;
            let index = parse_index(index).ok_or_else(|| {
                err(
                    line,
                    format!("key number {index:?} must be 1 to 15: `auth 1`"),
                )
            })?;
            if words.next().is_some() {
                return Err(err(line, "`auth` takes one key number: `auth 1`".into()));
            }
            if active.is_some() {
                return Err(err(line, "`auth` given twice; keep one".into()));
            }
            active = Some((index, line));
            continue;
        }
        let index = parse_index(first).ok_or_else(|| {
            err(
                line,
                format!("expected `auth N` or `N sha256 SECRET`, found {first:?}"),
            )
        })?;
        let method = words.next().ok_or_else(|| {
            err(
                line,
                format!("key {index} needs a method: `{index} sha256 SECRET`"),
            )
        })?;
        let algorithm = match method.to_ascii_lowercase().as_str() {
            "sha256" => Algorithm::Sha256,
            "sha1" => Algorithm::Sha1,
            "md5" => Algorithm::Md5,
            "crc" => Algorithm::Crc,
            _ => {
                return Err(err(
                    line,
                    format!("unknown method {method:?}; use sha256, sha1, md5 (or crc)"),
                ))
            }
        };
        // The secret is the rest of the line after the method, however many
        // blanks separate the fields (spaces inside the secret are kept).
        let after_index = content[first.len()..].trim_start();
        let secret = after_index[method.len()..].trim();
        if algorithm == Algorithm::Crc {
            if !allow_crc {
                return Err(err(
                    line,
                    format!(
                        "key {index} uses crc, which authenticates nothing: anyone on the link \
                         can forge heartbeats; use `{index} sha256 SECRET` (or allow crc \
                         explicitly with --allow-insecure-crc)"
                    ),
                ));
            }
        } else if secret.is_empty() {
            return Err(err(
                line,
                format!("key {index} ({method}) has no secret: `{index} {method} SECRET`"),
            ));
        }
        if keys.iter().any(|k| k.index == index) {
            return Err(err(line, format!("key {index} defined twice; keep one")));
        }
        keys.push(Key::new(index, algorithm, secret.as_bytes()));
    }
    let (active, auth_line) = active.ok_or_else(|| {
        Error::config(format!(
            "{origin}: no `auth N` line selects the signing key; add `auth 1` before the keys"
        ))
    })?;
    if !keys.iter().any(|k| k.index == active) {
        return Err(err(
            auth_line,
            format!(
                "`auth {active}` names a key that is not defined; add `{active} sha256 SECRET`"
            ),
        ));
    }
    KeyRing::new(keys, active)
}

fn parse_index(text: &str) -> Option<u8> {
    match text.parse::<u8>() {
        Ok(n @ 1..=15) => Some(n),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_lab_authkeys() {
        // shared/lab/heartbeat/conf/authkeys, as heartbeat 3.0.6 used it.
        let text = "auth 1\n1 sha1 ironbeat-lab-key\n";
        let ring = parse_authkeys(text, "authkeys", false).unwrap();
        assert_eq!(ring.active().index(), 1);
        assert_eq!(ring.active().algorithm(), Algorithm::Sha1);
    }

    #[test]
    fn several_keys_and_comments() {
        let text = "# rotate\nauth 2\n1 md5 old\n2 sha256 new secret with spaces # note\n";
        let ring = parse_authkeys(text, "a", false).unwrap();
        assert_eq!(ring.active().index(), 2);
        assert_eq!(ring.active().secret, b"new secret with spaces");
    }

    #[test]
    fn errors_name_the_line_and_the_fix() {
        let cases = [
            ("auth 1\n1 crc\n", "a:2:", "crc"),
            ("auth 1\n1 sha512 x\n", "a:2:", "unknown method"),
            ("auth 3\n1 sha1 x\n", "a:1:", "not defined"),
            ("1 sha1 x\n", "a:", "no `auth N`"),
            ("auth 0\n", "a:1:", "1 to 15"),
            ("auth 1\n1 sha1\n", "a:2:", "no secret"),
            ("auth 1\n1 sha1 x\n1 md5 y\n", "a:3:", "twice"),
            ("auth 1\nfoo\n", "a:2:", "expected"),
        ];
        for (text, at, what) in cases {
            let e = parse_authkeys(text, "a", false).unwrap_err().to_string();
            assert!(e.starts_with(at) && e.contains(what), "{text:?} -> {e}");
        }
    }

    #[test]
    fn any_whitespace_separates_fields() {
        let one = parse_authkeys("auth 1\n1 sha1 abc\n", "a", false).unwrap();
        let many = parse_authkeys("auth\t1\n1   sha1 \t abc  \n", "a", false).unwrap();
        assert_eq!(one.active().secret, many.active().secret);
    }

    #[test]
    fn crc_only_when_allowed() {
        let ring = parse_authkeys("auth 1\n1 crc\n", "a", true).unwrap();
        assert!(ring.has_crc());
    }
}
