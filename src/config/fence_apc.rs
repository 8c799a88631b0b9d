//! `[[fence.device]]` of type `apc`: an APC switched PDU over SNMP (v1, v2c,
//! v3 USM), one device for every node plugged into it. The community or the
//! SNMPv3 user and passphrases only ever come from a 0600 file.
//!
//! ```toml
//! [[fence.device]]
//! name = "pdu1"
//! type = "apc"
//! nodes = ["node2", "node3"]
//! ip = "198.18.2.10"
//! credentials_file = "/etc/ironbeat/pdu1.snmp"  # `community = …`, or `user = …`,
//!                                               # `auth_password = …`, `priv_password = …`
//! snmp_version = "1"                            # 1 (default) | 2c | 3
//! # outlets = ["5", "db1"]  one per node, in the order of nodes: a number or a name
//! #                         (default: the outlets named like the node; a dual-PSU
//! #                         node's two outlets carry its name and are both switched)
//! # snmp_sec_level = "authPriv", snmp_auth_prot = "SHA", snmp_priv_prot = "AES" (v3)
//! # port = 161, profile = "rpdu" | "rpdu2" | "masterswitch" (default: by sysObjectID),
//! # timeout = "20s", power_wait = "0s"
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use ironbeat_fence::snmp::{
    AuthProtocol, Outlet, PrivProtocol, Profile, SecurityLevel, Usm, Version,
};
use toml::Spanned;

use super::{duration, ConfigError, Files, RawDevice, Source};

/// The SNMP agent port.
pub const SNMP_PORT: u16 = 161;

/// An APC PDU of the native configuration (or of `stonith` parameters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApcDevice {
    /// The PDU's address or host name.
    pub address: String,
    /// Its SNMP port (161 when unset).
    pub port: Option<u16>,
    /// SNMP version and USM protocols.
    pub version: Version,
    /// The 0600 file with the community or the USM user and passphrases.
    pub credentials_file: PathBuf,
    /// Each node's outlet(s): a number, or a name (every outlet with it).
    pub outlets: Vec<(String, Outlet)>,
    /// Forced table set (detected by sysObjectID when unset).
    pub profile: Option<Profile>,
    /// The deadline of one request (20 s when unset).
    pub timeout: Option<Duration>,
    /// Pause after a state is seen, inside the deadline.
    pub power_wait: Duration,
}

impl ApcDevice {
    /// The outlet selector of `node` (its own name when none was written).
    pub fn outlet_of(&self, node: &str) -> Outlet {
        self.outlets
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(node))
            .map(|(_, o)| o.clone())
            .unwrap_or_else(|| Outlet::Name(node.to_string()))
    }
}

/// The SNMP version and USM settings from the words fence_apc_snmp uses
/// (`snmp_version`, `snmp_sec_level`, `snmp_auth_prot`, `snmp_priv_prot`).
/// Errors say what to write.
pub fn snmp_version(
    version: Option<&str>,
    level: Option<&str>,
    auth: Option<&str>,
    privacy: Option<&str>,
) -> Result<Version, String> {
    let version = Version::parse(version.unwrap_or("1")).map_err(|e| e.message().to_string())?;
    match version {
        Version::V3(_) => {
            let mut usm = Usm::default();
            if let Some(l) = level {
                usm.level = l
                    .parse::<SecurityLevel>()
                    .map_err(|e| e.message().to_string())?;
            }
            if let Some(a) = auth {
                usm.auth = a
                    .parse::<AuthProtocol>()
                    .map_err(|e| e.message().to_string())?;
            }
            if let Some(p) = privacy {
                usm.privacy = p
                    .parse::<PrivProtocol>()
                    .map_err(|e| e.message().to_string())?;
            }
            Ok(Version::V3(usm))
        }
        v => {
            if level.is_some() || auth.is_some() || privacy.is_some() {
                return Err(format!(
                    "snmp_sec_level, snmp_auth_prot and snmp_priv_prot are SNMPv3 settings, but \
                     snmp_version is {}; set snmp_version = \"3\" or remove them",
                    if v == Version::V1 { "1" } else { "2c" }
                ));
            }
            Ok(v)
        }
    }
}

/// `[[fence.device]]` of type `apc`, checked; errors point at the line and
/// say the fix.
pub(super) fn parse(
    src: &Source<'_>,
    raw: &RawDevice,
    name: &str,
    name_span: &std::ops::Range<usize>,
    nodes: &[String],
    files: Files,
) -> Result<ApcDevice, ConfigError> {
    let Some(ip) = raw.ip.clone() else {
        return Err(src.error(
            name_span,
            format!("apc device {name:?} needs `ip`; add ip = \"198.18.2.10\""),
        ));
    };
    super::check_host(ip.get_ref().trim()).map_err(|m| src.error(&ip.span(), m))?;
    let port = match &raw.port {
        Some(p) => match u16::try_from(*p.get_ref()) {
            Ok(v) if v > 0 => Some(v),
            _ => {
                return Err(src.error(
                    &p.span(),
                    format!(
                        "port {} is not a UDP port; use 1 to 65535 (SNMP is 161)",
                        p.get_ref()
                    ),
                ))
            }
        },
        None => None,
    };
    for (key, span, why) in [
        (
            "username",
            raw.username.as_ref().map(Spanned::span),
            "the SNMPv3 user goes into credentials_file (user = …)",
        ),
        (
            "password_file",
            raw.password_file.as_ref().map(Spanned::span),
            "use credentials_file (community = …, or user/auth_password/priv_password)",
        ),
        (
            "password",
            raw.password.as_ref().map(Spanned::span),
            "secrets go into credentials_file, mode 0600",
        ),
        (
            "interface",
            raw.interface.as_ref().map(Spanned::span),
            "it is an IPMI setting",
        ),
        (
            "cipher",
            raw.cipher.as_ref().map(Spanned::span),
            "it is an IPMI setting",
        ),
        (
            "privilege",
            raw.privilege.as_ref().map(Spanned::span),
            "it is an IPMI setting",
        ),
        (
            "method",
            raw.method.as_ref().map(Spanned::span),
            "a PDU reboots by off, verify off, on",
        ),
    ] {
        if let Some(span) = span {
            return Err(src.error(
                &span,
                format!("`{key}` does not apply to an apc device: {why}; remove it"),
            ));
        }
    }
    let Some(credentials) = &raw.credentials_file else {
        return Err(src.error(
            name_span,
            format!(
                "apc device {name:?} needs `credentials_file`, a file only root can read holding \
                 `community = …` (SNMPv1/v2c) or `user = …`, `auth_password = …`, \
                 `priv_password = …` (SNMPv3): install -m 600 /dev/null /etc/ironbeat/{name}.snmp, \
                 write it, and add credentials_file = \"/etc/ironbeat/{name}.snmp\""
            ),
        ));
    };
    let base = src.path.parent().unwrap_or(Path::new("."));
    let credentials_file = {
        let p = PathBuf::from(credentials.get_ref().trim());
        if p.is_absolute() {
            p
        } else {
            base.join(p)
        }
    };
    fn text(v: &Option<Spanned<String>>) -> Option<&str> {
        v.as_ref().map(|s| s.get_ref().as_str())
    }
    let version_span = raw
        .snmp_version
        .as_ref()
        .or(raw.snmp_sec_level.as_ref())
        .or(raw.snmp_auth_prot.as_ref())
        .or(raw.snmp_priv_prot.as_ref())
        .map_or(name_span.clone(), Spanned::span);
    let version = snmp_version(
        text(&raw.snmp_version),
        text(&raw.snmp_sec_level),
        text(&raw.snmp_auth_prot),
        text(&raw.snmp_priv_prot),
    )
    .map_err(|m| src.error(&version_span, m))?;
    let outlets = match &raw.outlets {
        None => nodes
            .iter()
            .map(|n| (n.clone(), Outlet::Name(n.clone())))
            .collect(),
        Some(list) => {
            if list.get_ref().len() != nodes.len() {
                return Err(src.error(
                    &list.span(),
                    format!(
                        "outlets lists {} outlets for {} nodes; give one per node, in the order of \
                         nodes (a number, or the outlet's name)",
                        list.get_ref().len(),
                        nodes.len()
                    ),
                ));
            }
            let mut out = Vec::new();
            for (node, o) in nodes.iter().zip(list.get_ref()) {
                let outlet = o
                    .get_ref()
                    .parse::<Outlet>()
                    .map_err(|e| src.error(&o.span(), e.message().to_string()))?;
                out.push((node.clone(), outlet));
            }
            out
        }
    };
    let profile = match &raw.profile {
        None => None,
        Some(p) => Some(
            p.get_ref()
                .parse::<Profile>()
                .map_err(|e| src.error(&p.span(), e.message().to_string()))?,
        ),
    };
    let timeout = match &raw.timeout {
        None => None,
        Some(t) => {
            let d = duration(src, "timeout", t)?;
            if d.is_zero() {
                return Err(src.error(
                    &t.span(),
                    "timeout 0 leaves no time to reach the PDU; write e.g. \"20s\"",
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
    if files == Files::Check {
        let creds = ironbeat_fence::driver::snmp::read_credentials(&credentials_file)
            .map_err(|e| src.error(&credentials.span(), e.to_string()))?;
        creds.check(&version).map_err(|e| {
            src.error(
                &credentials.span(),
                format!("{}: {}", credentials_file.display(), e.message()),
            )
        })?;
    }
    Ok(ApcDevice {
        address: ip.get_ref().trim().to_string(),
        port,
        version,
        credentials_file,
        outlets,
        profile,
        timeout,
        power_wait,
    })
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::super::super::native::parse_native;
    use super::*;
    use crate::config::model::FenceAgent;

    const HEAD: &str = "[cluster]\nnodes = [\"node1\", \"node2\", \"node3\"]\n[[link]]\nkind = \"ether\"\niface = \"eth0\"\n";

    fn device(body: &str, files: Files) -> Result<ApcDevice, ConfigError> {
        let text = format!(
            "{HEAD}[[fence.device]]\nname = \"pdu1\"\ntype = \"apc\"\nnodes = [\"node2\", \"node3\"]\nip = \"198.18.2.10\"\n{body}"
        );
        let native = parse_native(
            &text,
            Path::new("/etc/ironbeat/ironbeat.toml"),
            Some("node1"),
            files,
        )?;
        match &native.fencing.devices[0].agent {
            FenceAgent::Apc(d) => Ok(d.clone()),
            _ => panic!("not an apc device"),
        }
    }

    #[test]
    fn parses_and_defaults() {
        let d = device("credentials_file = \"pdu1.snmp\"\n", Files::Skip).unwrap();
        assert_eq!(d.credentials_file, PathBuf::from("/etc/ironbeat/pdu1.snmp"));
        assert_eq!(d.version, Version::V1);
        assert_eq!(d.outlet_of("node3"), Outlet::Name("node3".into()));
        assert_eq!(d.port, None);
        let d = device(
            "credentials_file = \"/x\"\nsnmp_version = \"3\"\nsnmp_auth_prot = \"MD5\"\nsnmp_priv_prot = \"DES\"\n\
             outlets = [\"5\", \"db 1\"]\nprofile = \"rpdu2\"\nport = 16161\ntimeout = \"5s\"\n",
            Files::Skip,
        )
        .unwrap();
        assert_eq!(d.outlet_of("node2"), Outlet::Number(5));
        assert_eq!(d.outlet_of("NODE3"), Outlet::Name("db 1".into()));
        assert_eq!(d.profile, Some(Profile::RackPdu2));
        assert!(
            matches!(d.version, Version::V3(u) if u.auth == AuthProtocol::Md5 && u.privacy == PrivProtocol::Des)
        );
    }

    #[test]
    fn errors_are_located_and_say_the_fix() {
        for (body, line, needle) in [
            ("", 7, "needs `credentials_file`"),
            (
                "credentials_file = \"/x\"\npassword = \"s3cret\"\n",
                12,
                "credentials_file, mode 0600",
            ),
            (
                "credentials_file = \"/x\"\nsnmp_priv_prot = \"AES\"\n",
                12,
                "SNMPv3 settings",
            ),
            (
                "credentials_file = \"/x\"\nsnmp_version = \"4\"\n",
                12,
                "1, 2c or 3",
            ),
            (
                "credentials_file = \"/x\"\noutlets = [\"1\"]\n",
                12,
                "one per node",
            ),
            (
                "credentials_file = \"/x\"\noutlets = [\"1\", \"0\"]\n",
                12,
                "out of range",
            ),
            (
                "credentials_file = \"/x\"\nprofile = \"ap7921\"\n",
                12,
                "rpdu",
            ),
            ("credentials_file = \"/x\"\nport = 0\n", 12, "UDP port"),
            ("credentials_file = \"/x\"\ncipher = 3\n", 12, "IPMI"),
        ] {
            let e = device(body, Files::Skip).unwrap_err();
            let shown = e.to_string();
            assert_eq!(e.line(), Some(line), "{body}: {shown}");
            assert!(shown.contains(needle), "{body}: {shown}");
            assert!(!shown.contains("s3cret"), "{shown}");
        }
    }

    #[test]
    fn credentials_file_is_checked() {
        let dir = std::env::temp_dir().join(format!("ibt-apccfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("pdu1.snmp");
        std::fs::write(&file, "community = private\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        let body = format!("credentials_file = \"{}\"\n", file.display());
        let e = device(&body, Files::Check).unwrap_err();
        assert!(e.to_string().contains("chmod 600"), "{e}");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(device(&body, Files::Check).is_ok());
        let v3 = format!("{body}snmp_version = \"3\"\n");
        let e = device(&v3, Files::Check).unwrap_err();
        assert!(e.to_string().contains("user name"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
