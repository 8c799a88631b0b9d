//! `[[fence.device]]` of type `redfish`, `ilo` or `idrac`: a BMC spoken to
//! over Redfish (HTTPS). The password only ever comes from a 0600 file.
//!
//! ```toml
//! [[fence.device]]
//! name = "node2-ilo"
//! type = "ilo"                     # redfish | ilo | idrac (vendor defaults)
//! nodes = ["node2"]
//! ip = "198.18.3.10"
//! username = "fence"
//! password_file = "/etc/ironbeat/node2-ilo.pass"
//! ssl_fingerprint = "AB:CD:…"      # or ssl_ca = "/etc/ironbeat/bmc-ca.pem", or ssl_insecure = true
//! # port = 443, systems_uri = "/redfish/v1/Systems/1", auth = "session" | "basic",
//! # timeout = "20s", power_wait = "0s", method = "onoff" | "cycle" | "hard_reset"
//! ```

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ironbeat_fence::driver::redfish::{parse_fingerprint, TlsMode};
use ironbeat_fence::redfish::{Auth, Vendor};
use toml::Spanned;

use super::{duration, ConfigError, Files, PasswordSource, RawDevice, RebootMethod, Source};

/// A Redfish BMC of the native configuration (or of `stonith` parameters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedfishDevice {
    /// `redfish`, `ilo` or `idrac`: the defaults.
    pub vendor: Vendor,
    /// The BMC's address or host name.
    pub address: String,
    /// Its TCP port (443, or 80 for plain HTTP, when unset).
    pub port: Option<u16>,
    /// The account.
    pub username: String,
    /// Where the password comes from.
    pub password: PasswordSource,
    /// Session or Basic (the vendor's default when unset).
    pub auth: Option<Auth>,
    /// The ComputerSystem (the vendor's default when unset; discovery for `redfish`).
    pub systems_uri: Option<String>,
    /// Certificate checking (or plain HTTP).
    pub tls: TlsMode,
    /// The deadline of one request (20 s when unset).
    pub timeout: Option<Duration>,
    /// Pause after Off is seen in a reboot, inside the deadline.
    pub power_wait: Duration,
    /// What `reset` / `reboot` does.
    pub method: RebootMethod,
}

/// The device type names this module parses.
pub const TYPES: &[&str] = &["redfish", "ilo", "idrac"];

/// The TLS keys of a device, as written.
#[derive(Debug, Default, Clone)]
pub struct TlsKeys<'a> {
    /// `ssl_ca`: a CA file (PEM).
    pub ca: Option<&'a str>,
    /// `ssl_fingerprint`: the certificate's SHA-256.
    pub fingerprint: Option<&'a str>,
    /// `ssl_insecure`: accept any certificate.
    pub insecure: bool,
    /// `ssl = false`: plain HTTP.
    pub plain: bool,
}

/// Chooses the TLS mode from the keys; errors say what to change.
/// `base` resolves a relative CA path (the configuration file's directory).
pub fn tls_mode(keys: &TlsKeys<'_>, base: Option<&Path>) -> Result<TlsMode, String> {
    let given = [
        keys.ca.is_some(),
        keys.fingerprint.is_some(),
        keys.insecure,
        keys.plain,
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if given > 1 {
        return Err(
            "ssl_ca, ssl_fingerprint, ssl_insecure and ssl = false exclude each other; \
                    keep one (ssl_fingerprint for a factory iLO certificate, ssl_ca for a \
                    certificate your CA signed)"
                .into(),
        );
    }
    if keys.plain {
        return Ok(TlsMode::PlainHttp);
    }
    if keys.insecure {
        return Ok(TlsMode::Insecure);
    }
    if let Some(fp) = keys.fingerprint {
        return parse_fingerprint(fp)
            .map(TlsMode::Pinned)
            .map_err(|e| e.message().to_string());
    }
    if let Some(ca) = keys.ca {
        if ca.trim().is_empty() {
            return Err(
                "ssl_ca is empty; give the PEM file of the CA that signed the BMC's \
                        certificate"
                    .into(),
            );
        }
        let p = PathBuf::from(ca.trim());
        let p = match base {
            Some(dir) if p.is_relative() => dir.join(p),
            _ => p,
        };
        return Ok(TlsMode::Verify(Some(p)));
    }
    Ok(TlsMode::Verify(None))
}

/// Checks a `systems_uri` value.
pub fn check_systems_uri(uri: &str) -> Result<(), String> {
    if uri.starts_with("/redfish/") && uri.len() <= 512 && uri.bytes().all(|b| b.is_ascii_graphic())
    {
        Ok(())
    } else {
        Err(format!(
            "systems_uri {uri:?} must be a path like /redfish/v1/Systems/1 (iLO) or \
             /redfish/v1/Systems/System.Embedded.1 (iDRAC), without host or spaces"
        ))
    }
}

/// Parses `auth` (`session` or `basic`).
pub fn parse_auth(text: &str) -> Result<Auth, String> {
    text.trim()
        .parse::<Auth>()
        .map_err(|e| e.message().to_string())
}

/// The vendor of a type name.
pub fn vendor(type_name: &str) -> Option<Vendor> {
    TYPES
        .contains(&type_name)
        .then(|| type_name.parse().ok())
        .flatten()
}

/// `[[fence.device]]` of a Redfish type, checked; errors point at the line
/// and say the fix.
pub(super) fn parse(
    src: &Source<'_>,
    raw: &RawDevice,
    type_name: &str,
    name: &str,
    name_span: &std::ops::Range<usize>,
    nodes: &[String],
    files: Files,
) -> Result<RedfishDevice, ConfigError> {
    let vendor = vendor(type_name).unwrap_or(Vendor::Generic);
    if nodes.len() > 1 {
        let span = raw.nodes.as_ref().map_or(name_span.clone(), Spanned::span);
        return Err(src.error(
            &span,
            format!(
                "a {type_name} device is the BMC of one machine, but {name:?} lists {} nodes; \
                 keep one, and write a [[fence.device]] for each other node's BMC",
                nodes.len()
            ),
        ));
    }
    let required = |key: &str, value: Option<&Spanned<String>>, example: &str| {
        value.cloned().ok_or_else(|| {
            src.error(
                name_span,
                format!("{type_name} device {name:?} needs `{key}`; add {key} = \"{example}\""),
            )
        })
    };
    let ip = required("ip", raw.ip.as_ref(), "198.18.3.10")?;
    super::check_host(ip.get_ref().trim()).map_err(|m| src.error(&ip.span(), m))?;
    let port = match &raw.port {
        Some(p) => match u16::try_from(*p.get_ref()) {
            Ok(v) if v > 0 => Some(v),
            _ => {
                return Err(src.error(
                    &p.span(),
                    format!(
                        "port {} is not a TCP port; use 1 to 65535 (HTTPS is 443)",
                        p.get_ref()
                    ),
                ))
            }
        },
        None => None,
    };
    let username = required("username", raw.username.as_ref(), "fence")?;
    for (key, span) in [
        ("interface", raw.interface.as_ref().map(Spanned::span)),
        ("cipher", raw.cipher.as_ref().map(Spanned::span)),
        ("privilege", raw.privilege.as_ref().map(Spanned::span)),
        (
            "allow_cipher_zero",
            raw.allow_cipher_zero.as_ref().map(Spanned::span),
        ),
    ] {
        if let Some(span) = span {
            return Err(src.error(
                &span,
                format!(
                    "`{key}` is an IPMI setting; a {type_name} device speaks Redfish: remove it"
                ),
            ));
        }
    }
    if let Some(p) = &raw.password {
        return Err(src.error(
            &p.span(),
            format!(
                "a BMC password is not written in this file; put it on the first line of a file \
                 only root can read: install -m 600 /dev/null /etc/ironbeat/{name}.pass, write \
                 the password into it, and replace this line with password_file = \
                 \"/etc/ironbeat/{name}.pass\""
            ),
        ));
    }
    let Some(password_file) = &raw.password_file else {
        return Err(src.error(
            name_span,
            format!(
                "{type_name} device {name:?} needs `password_file`, a file only root can read \
                 whose first line is the BMC password: install -m 600 /dev/null \
                 /etc/ironbeat/{name}.pass, write the password into it, and add password_file \
                 = \"/etc/ironbeat/{name}.pass\""
            ),
        ));
    };
    let base = src.path.parent().unwrap_or(Path::new("."));
    let password_path = {
        let p = PathBuf::from(password_file.get_ref().trim());
        if p.is_absolute() {
            p
        } else {
            base.join(p)
        }
    };
    let keys = TlsKeys {
        ca: raw.ssl_ca.as_ref().map(|v| v.get_ref().as_str()),
        fingerprint: raw.ssl_fingerprint.as_ref().map(|v| v.get_ref().as_str()),
        insecure: raw.ssl_insecure.as_ref().is_some_and(|v| *v.get_ref()),
        plain: raw.ssl.as_ref().is_some_and(|v| !*v.get_ref()),
    };
    let tls_span = raw
        .ssl_fingerprint
        .as_ref()
        .map(Spanned::span)
        .or_else(|| raw.ssl_ca.as_ref().map(Spanned::span))
        .or_else(|| raw.ssl_insecure.as_ref().map(Spanned::span))
        .or_else(|| raw.ssl.as_ref().map(Spanned::span))
        .unwrap_or(name_span.clone());
    let tls = tls_mode(&keys, Some(base)).map_err(|m| src.error(&tls_span, m))?;
    let systems_uri = match &raw.systems_uri {
        None => None,
        Some(u) => {
            check_systems_uri(u.get_ref().trim()).map_err(|m| src.error(&u.span(), m))?;
            Some(u.get_ref().trim().to_string())
        }
    };
    let auth = match &raw.auth {
        None => None,
        Some(a) => Some(parse_auth(a.get_ref()).map_err(|m| src.error(&a.span(), m))?),
    };
    let timeout = match &raw.timeout {
        None => None,
        Some(t) => {
            let d = duration(src, "timeout", t)?;
            if d.is_zero() {
                return Err(src.error(
                    &t.span(),
                    "timeout 0 leaves no time to reach the BMC; write e.g. \"20s\"",
                ));
            }
            Some(d)
        }
    };
    let power_wait = match &raw.power_wait {
        None => Duration::ZERO,
        Some(w) => {
            let d = duration(src, "power_wait", w)?;
            if d >= timeout.unwrap_or(Duration::from_secs(20)) {
                return Err(src.error(
                    &w.span(),
                    "power_wait is not shorter than the request's deadline; shorten it or raise timeout",
                ));
            }
            d
        }
    };
    let method = match &raw.method {
        None => RebootMethod::OnOff,
        Some(m) => RebootMethod::parse(m.get_ref()).map_err(|e| src.error(&m.span(), e))?,
    };
    if files == Files::Check {
        check_secret_file(&password_path).map_err(|m| src.error(&password_file.span(), m))?;
        if let TlsMode::Verify(Some(ca)) = &tls {
            if !ca.is_file() {
                let span = raw.ssl_ca.as_ref().map_or(name_span.clone(), Spanned::span);
                return Err(src.error(
                    &span,
                    format!("CA file {} does not exist; give the PEM file of the CA that signed the BMC's certificate", ca.display()),
                ));
            }
        }
    }
    Ok(RedfishDevice {
        vendor,
        address: ip.get_ref().trim().to_string(),
        port,
        username: username.into_inner(),
        password: PasswordSource::File(password_path),
        auth,
        systems_uri,
        tls,
        timeout,
        power_wait,
        method,
    })
}

/// A password file: a regular file only its owner may read, one line.
fn check_secret_file(path: &Path) -> Result<(), String> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| {
        format!(
            "password file {shown}: {e}; create it: install -m 600 /dev/null {shown}, then write \
             the BMC password on its first line"
        )
    })?;
    if !meta.is_file() {
        return Err(format!("password file {shown} is not a regular file"));
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "password file {shown} has mode {mode:04o}: other users can read the BMC password; \
             run chmod 600 {shown}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::super::model::{FenceAgent, Fencing};
    use super::super::super::native::parse_native;
    use super::*;

    const HEAD: &str = "[cluster]\nnodes = [\"node1\", \"node2\", \"node3\"]\n\
                        [[link]]\nkind = \"ether\"\niface = \"eth0\"\n";

    fn parse(device: &str) -> Result<Fencing, ConfigError> {
        parse_native(
            &format!("{HEAD}[[fence.device]]\nname = \"node2-ilo\"\nnodes = [\"node2\"]\n{device}"),
            Path::new("/etc/ironbeat/ironbeat.toml"),
            Some("node1"),
            Files::Skip,
        )
        .map(|n| n.fencing)
    }

    #[test]
    fn native_devices_and_errors_at_their_line() {
        let f = parse(
            "type = \"ilo\"\nip = \"198.18.3.10\"\nusername = \"fence\"\n\
             password_file = \"node2.pass\"\nssl_fingerprint = \"sha256:\
             abababababababababababababababababababababababababababababababab\"\n",
        )
        .unwrap();
        let FenceAgent::Redfish(d) = &f.device_for("node2").unwrap().agent else {
            panic!("not redfish");
        };
        assert_eq!(d.vendor, Vendor::Ilo);
        assert_eq!(d.tls, TlsMode::Pinned([0xAB; 32]));
        assert_eq!(
            d.password,
            PasswordSource::File(PathBuf::from("/etc/ironbeat/node2.pass"))
        );

        let e = parse(
            "type = \"idrac\"\nip = \"198.18.3.11\"\nusername = \"root\"\npassword = \"calvin\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains(":12") && e.contains("password_file"), "{e}");
        assert!(!e.contains("calvin"), "{e}");
        let e = parse(
            "type = \"redfish\"\nip = \"h\"\nusername = \"u\"\npassword_file = \"p\"\n\
             ssl_insecure = true\nssl_ca = \"ca.pem\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("exclude each other"), "{e}");
        let e = parse(
            "type = \"redfish\"\nip = \"h\"\nusername = \"u\"\npassword_file = \"p\"\n\
             systems_uri = \"Systems/1\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains(":13") && e.contains("/redfish/v1/Systems/1"),
            "{e}"
        );
        let e = parse(
            "type = \"ilo\"\nip = \"h\"\nusername = \"u\"\npassword_file = \"p\"\ncipher = 3\n",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("IPMI setting"), "{e}");
    }

    #[test]
    fn tls_keys_choose_one_mode() {
        let short = "AB:".repeat(31);
        let k = TlsKeys {
            fingerprint: Some(&short),
            ..TlsKeys::default()
        };
        assert!(tls_mode(&k, None).is_err(), "31 bytes is not a SHA-256");
        let fp = format!("{}AB", "AB:".repeat(31));
        let k = TlsKeys {
            fingerprint: Some(&fp),
            ..TlsKeys::default()
        };
        assert_eq!(tls_mode(&k, None).unwrap(), TlsMode::Pinned([0xAB; 32]));
        let k = TlsKeys {
            ca: Some("ca.pem"),
            ..TlsKeys::default()
        };
        assert_eq!(
            tls_mode(&k, Some(Path::new("/etc/ironbeat"))).unwrap(),
            TlsMode::Verify(Some(PathBuf::from("/etc/ironbeat/ca.pem")))
        );
        let k = TlsKeys {
            ca: Some("ca.pem"),
            insecure: true,
            ..TlsKeys::default()
        };
        assert!(tls_mode(&k, None)
            .unwrap_err()
            .contains("exclude each other"));
        assert_eq!(
            tls_mode(&TlsKeys::default(), None).unwrap(),
            TlsMode::Verify(None)
        );
        assert!(check_systems_uri("/redfish/v1/Systems/1").is_ok());
        assert!(check_systems_uri("https://x/redfish/v1/Systems/1").is_err());
        assert_eq!(vendor("idrac"), Some(Vendor::Idrac));
        assert_eq!(vendor("ipmi"), None);
    }
}
