//! What an APC fence request asks for, with which credentials, and what it
//! reports. Credentials come from a file (`key = value` lines, mode 0600
//! checked by the driver) and never appear in `Debug`, errors or events.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use super::oid::Oid;
use super::profile::Profile;
use crate::ipmi::crypto::Secret;
use crate::power::{Action, PowerState};
use crate::{Error, ErrorKind};

/// Largest credentials file we read.
pub const MAX_CREDENTIALS_FILE: usize = 4096;

/// Highest outlet number we accept (APC PDUs have at most 48).
pub const MAX_OUTLET: u32 = 1024;

/// Longest outlet name we accept in a request.
pub const MAX_OUTLET_NAME: usize = 64;

/// The SNMP version and, for v3, the USM protocols (the user and passwords
/// are in [`Credentials`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// SNMPv1 (fence_apc_snmp's default; what APC cards usually speak).
    V1,
    /// SNMPv2c.
    V2c,
    /// SNMPv3 with the user-based security model.
    V3(Usm),
}

/// SNMPv3 security settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usm {
    /// noAuthNoPriv, authNoPriv or authPriv.
    pub level: SecurityLevel,
    /// The authentication (HMAC) protocol.
    pub auth: AuthProtocol,
    /// The privacy (encryption) protocol.
    pub privacy: PrivProtocol,
}

impl Default for Usm {
    /// authPriv with SHA and AES (APC's recommended setting).
    fn default() -> Self {
        Usm {
            level: SecurityLevel::AuthPriv,
            auth: AuthProtocol::Sha1,
            privacy: PrivProtocol::Aes128,
        }
    }
}

/// SNMPv3 security level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecurityLevel {
    /// No authentication, no privacy.
    NoAuthNoPriv,
    /// Authentication only.
    AuthNoPriv,
    /// Authentication and privacy.
    AuthPriv,
}

/// SNMPv3 authentication protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthProtocol {
    /// HMAC-MD5-96.
    Md5,
    /// HMAC-SHA-96.
    Sha1,
    /// HMAC-SHA-224.
    Sha224,
    /// HMAC-SHA-256.
    Sha256,
    /// HMAC-SHA-384.
    Sha384,
    /// HMAC-SHA-512.
    Sha512,
}

/// SNMPv3 privacy protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrivProtocol {
    /// DES-CBC.
    Des,
    /// AES-128-CFB.
    Aes128,
    /// AES-192-CFB (Blumenthal key extension).
    Aes192,
    /// AES-256-CFB (Blumenthal key extension).
    Aes256,
}

impl FromStr for SecurityLevel {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "noauthnopriv" => SecurityLevel::NoAuthNoPriv,
            "authnopriv" => SecurityLevel::AuthNoPriv,
            "authpriv" => SecurityLevel::AuthPriv,
            _ => {
                return Err(config_error(
                    "snmp_sec_level",
                    s,
                    "noAuthNoPriv, authNoPriv or authPriv",
                ))
            }
        })
    }
}

impl FromStr for AuthProtocol {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Ok(
            match s.trim().to_ascii_uppercase().replace('-', "").as_str() {
                "MD5" => AuthProtocol::Md5,
                "SHA" | "SHA1" => AuthProtocol::Sha1,
                "SHA224" => AuthProtocol::Sha224,
                "SHA256" => AuthProtocol::Sha256,
                "SHA384" => AuthProtocol::Sha384,
                "SHA512" => AuthProtocol::Sha512,
                _ => {
                    return Err(config_error(
                        "snmp_auth_prot",
                        s,
                        "MD5, SHA, SHA-224, SHA-256, SHA-384 or SHA-512",
                    ))
                }
            },
        )
    }
}

impl FromStr for PrivProtocol {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Ok(
            match s.trim().to_ascii_uppercase().replace('-', "").as_str() {
                "DES" => PrivProtocol::Des,
                "AES" | "AES128" => PrivProtocol::Aes128,
                "AES192" => PrivProtocol::Aes192,
                "AES256" => PrivProtocol::Aes256,
                _ => {
                    return Err(config_error(
                        "snmp_priv_prot",
                        s,
                        "DES, AES, AES-192 or AES-256",
                    ))
                }
            },
        )
    }
}

impl Version {
    /// `1`, `2c` or `3` (with the default USM settings).
    pub fn parse(s: &str) -> Result<Version, Error> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "1" | "v1" => Version::V1,
            "2" | "2c" | "v2c" => Version::V2c,
            "3" | "v3" => Version::V3(Usm::default()),
            _ => return Err(config_error("snmp_version", s, "1, 2c or 3")),
        })
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Version::V1 => f.write_str("SNMPv1"),
            Version::V2c => f.write_str("SNMPv2c"),
            Version::V3(u) => write!(f, "SNMPv3 {:?} {:?}/{:?}", u.level, u.auth, u.privacy),
        }
    }
}

fn config_error(what: &str, got: &str, allowed: &str) -> Error {
    Error::new(
        ErrorKind::Config,
        format!(
            "{what} {:?} is not supported; use {allowed}",
            got.chars().take(40).collect::<String>()
        ),
    )
}

/// Community (v1/v2c) or USM user and passwords (v3). `Debug` shows which
/// fields are set, never their values.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    /// The community (v1/v2c).
    pub community: Option<Secret>,
    /// The USM user name (v3; not secret).
    pub user: Option<String>,
    /// The authentication passphrase (v3).
    pub auth_password: Option<Secret>,
    /// The privacy passphrase (v3).
    pub priv_password: Option<Secret>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let set = |s: &Option<Secret>| if s.is_some() { "<redacted>" } else { "-" };
        f.debug_struct("Credentials")
            .field("community", &set(&self.community))
            .field("user", &self.user)
            .field("auth_password", &set(&self.auth_password))
            .field("priv_password", &set(&self.priv_password))
            .finish()
    }
}

impl Credentials {
    /// A community.
    pub fn community(community: &str) -> Self {
        Credentials {
            community: Some(Secret::from(community)),
            ..Credentials::default()
        }
    }

    /// A USM user with an authentication and an optional privacy passphrase.
    pub fn usm(user: &str, auth: &str, privacy: Option<&str>) -> Self {
        Credentials {
            user: Some(user.to_string()),
            auth_password: Some(Secret::from(auth)),
            priv_password: privacy.map(Secret::from),
            ..Credentials::default()
        }
    }

    /// Parses the text of a credentials file: `key = value` lines, `#`
    /// comments, values optionally in double quotes. Keys: `community`;
    /// `user` (or `username`), `auth_password` (or `password`),
    /// `priv_password` (or `privacy_password`). Errors name the line and the
    /// key, never a value.
    pub fn parse(text: &str) -> Result<Credentials, Error> {
        let bad = |line: usize, why: String| {
            Error::new(
                ErrorKind::Config,
                format!("credentials file line {line}: {why}"),
            )
        };
        if text.len() > MAX_CREDENTIALS_FILE {
            return Err(Error::new(
                ErrorKind::Config,
                format!("credentials file is larger than {MAX_CREDENTIALS_FILE} bytes; it should hold a few key = value lines"),
            ));
        }
        let mut c = Credentials::default();
        for (n, raw) in text.lines().enumerate() {
            let line = n + 1;
            let trimmed = raw.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let Some((key, value)) = trimmed.split_once('=') else {
                return Err(bad(
                    line,
                    "expected key = value (keys: community, user, auth_password, priv_password)"
                        .into(),
                ));
            };
            let key = key.trim().to_ascii_lowercase();
            // Name the key in messages only when it is a plain word: a
            // mangled line may hold a secret in what looks like its key.
            let plain =
                key.len() <= 32 && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            let label = if plain {
                key.clone()
            } else {
                "the key".to_string()
            };
            let mut value = value.trim();
            if value.len() >= 2 && value.starts_with('"') && value.ends_with('"') {
                value = &value[1..value.len() - 1];
            }
            if value.is_empty() {
                return Err(bad(line, format!("{label} is empty")));
            }
            if value.chars().any(char::is_control) {
                return Err(bad(line, format!("{label} contains control characters")));
            }
            if value.len() > 255 {
                return Err(bad(line, format!("{label} is longer than 255 bytes")));
            }
            let slot_secret = |slot: &mut Option<Secret>| {
                if slot.is_some() {
                    return Err(bad(line, format!("{label} is given twice")));
                }
                *slot = Some(Secret::from(value));
                Ok(())
            };
            match key.as_str() {
                "community" => slot_secret(&mut c.community)?,
                "auth_password" | "password" | "authpassword" => slot_secret(&mut c.auth_password)?,
                "priv_password" | "privacy_password" | "privpassword" => {
                    slot_secret(&mut c.priv_password)?
                }
                "user" | "username" => {
                    if c.user.is_some() {
                        return Err(bad(line, "user is given twice".into()));
                    }
                    c.user = Some(value.to_string());
                }
                other => {
                    let shown = if plain {
                        format!(" {other:?}")
                    } else {
                        String::new()
                    };
                    return Err(bad(
                        line,
                        format!("unknown key{shown}; use community, user, auth_password or priv_password"),
                    ));
                }
            }
        }
        Ok(c)
    }

    /// Checks the credentials fit `version`; errors say what is missing.
    pub fn check(&self, version: &Version) -> Result<(), Error> {
        let missing = |what: &str| Err(Error::new(ErrorKind::Config, what.to_string()));
        match version {
            Version::V1 | Version::V2c => {
                if self.community.is_none() {
                    return missing("SNMPv1/v2c needs a community (community = … in the credentials file; APC's read-write default is private)");
                }
            }
            Version::V3(usm) => {
                if self.user.as_deref().map_or(true, str::is_empty) {
                    return missing(
                        "SNMPv3 needs a user name (user = … in the credentials file, or username)",
                    );
                }
                if usm.level != SecurityLevel::NoAuthNoPriv {
                    match &self.auth_password {
                        None => return missing("SNMPv3 authNoPriv/authPriv needs auth_password"),
                        Some(p) if p.len() < 8 => {
                            return missing(
                                "SNMPv3 auth_password must be at least 8 characters (RFC 3414)",
                            )
                        }
                        _ => {}
                    }
                }
                if usm.level == SecurityLevel::AuthPriv {
                    match &self.priv_password {
                        None => return missing("SNMPv3 authPriv needs priv_password"),
                        Some(p) if p.len() < 8 => {
                            return missing(
                                "SNMPv3 priv_password must be at least 8 characters (RFC 3414)",
                            )
                        }
                        _ => {}
                    }
                }
            }
        }
        Ok(())
    }
}

/// Which outlet(s): by number, or every outlet carrying a name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outlet {
    /// Outlet number (1-based, as printed on the PDU).
    Number(u32),
    /// Every outlet with this name (a dual-PSU host has two).
    Name(String),
}

impl FromStr for Outlet {
    type Err = Error;

    /// Digits are a number (1..=1024); anything else a name (at most 64
    /// bytes, no control characters).
    fn from_str(s: &str) -> Result<Self, Error> {
        let s = s.trim();
        if s.is_empty() {
            return Err(Error::new(
                ErrorKind::Config,
                "outlet (plug) is empty; give its number or its name",
            ));
        }
        if s.bytes().all(|b| b.is_ascii_digit()) {
            return match s.parse::<u32>() {
                Ok(n) if (1..=MAX_OUTLET).contains(&n) => Ok(Outlet::Number(n)),
                _ => Err(Error::new(
                    ErrorKind::Config,
                    format!(
                        "outlet number {} is out of range; outlets are numbered from 1",
                        s.chars().take(20).collect::<String>()
                    ),
                )),
            };
        }
        if s.len() > MAX_OUTLET_NAME || s.chars().any(char::is_control) {
            return Err(Error::new(
                ErrorKind::Config,
                format!("outlet name must be at most {MAX_OUTLET_NAME} bytes without control characters"),
            ));
        }
        Ok(Outlet::Name(s.to_string()))
    }
}

impl fmt::Display for Outlet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outlet::Number(n) => write!(f, "outlet {n}"),
            Outlet::Name(name) => write!(f, "outlet(s) named {name:?}"),
        }
    }
}

/// What to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    /// Read the outlet state(s): on if any is on.
    Status,
    /// Switch on; succeeds once every outlet is seen on.
    On,
    /// Switch off; succeeds once every outlet is *seen* off with no command pending.
    Off,
    /// Off, verify off (every outlet), on, verify on.
    Reboot,
    /// The outlets' numbers and names.
    List,
    /// The outlets' numbers, names and states.
    ListStatus,
}

impl Request {
    /// The request for a power action; cycle, reset and diag have no
    /// verified equivalent on a PDU.
    pub fn from_action(action: Action) -> Result<Request, Error> {
        Ok(match action {
            Action::Status => Request::Status,
            Action::On => Request::On,
            Action::Off => Request::Off,
            Action::Reboot => Request::Reboot,
            other => {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!("an APC PDU outlet cannot {other}; use status, on, off or reboot (off, verify off, on)"),
                ))
            }
        })
    }

    /// Whether it names outlets.
    pub fn needs_outlet(self) -> bool {
        !matches!(self, Request::List | Request::ListStatus)
    }
}

impl fmt::Display for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Request::Status => "status",
            Request::On => "on",
            Request::Off => "off",
            Request::Reboot => "reboot",
            Request::List => "list",
            Request::ListStatus => "list-status",
        })
    }
}

/// Time limits; every one is part of the single overall deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// The whole request must finish within this.
    pub timeout: Duration,
    /// First retransmit interval; doubles up to 2 s.
    pub retransmit: Duration,
    /// How often states are read while waiting for a change.
    pub poll_interval: Duration,
    /// Extra wait after a state is seen (fence-agents' `power_wait`).
    pub power_wait: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            timeout: Duration::from_secs(20),
            retransmit: Duration::from_millis(500),
            poll_interval: Duration::from_millis(200),
            power_wait: Duration::ZERO,
        }
    }
}

/// One APC fence request (the address is the driver's business).
#[derive(Debug, Clone)]
pub struct Config {
    /// SNMP version and USM settings.
    pub version: Version,
    /// Community or USM user and passwords.
    pub credentials: Credentials,
    /// What to do.
    pub request: Request,
    /// Which outlet(s) (required unless listing).
    pub outlet: Option<Outlet>,
    /// Force a profile instead of identifying the device by sysObjectID.
    pub profile: Option<Profile>,
    /// Time limits.
    pub timing: Timing,
}

impl Config {
    /// A request with default timing and profile detection.
    pub fn new(
        version: Version,
        credentials: Credentials,
        request: Request,
        outlet: Option<Outlet>,
    ) -> Self {
        Config {
            version,
            credentials,
            request,
            outlet,
            profile: None,
            timing: Timing::default(),
        }
    }

    /// Checks credentials, outlet and timing; errors say what to fix.
    pub fn validate(&self) -> Result<(), Error> {
        self.credentials.check(&self.version)?;
        if self.request.needs_outlet() && self.outlet.is_none() {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "{} needs an outlet (plug): its number or its name",
                    self.request
                ),
            ));
        }
        for (name, d) in [
            ("timeout", self.timing.timeout),
            ("retransmit", self.timing.retransmit),
            ("poll_interval", self.timing.poll_interval),
        ] {
            if d.is_zero() {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!("{name} must be greater than zero"),
                ));
            }
        }
        Ok(())
    }
}

/// One outlet as seen by the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutletStatus {
    /// Its number.
    pub number: u32,
    /// Its name, when the name column was read (control characters replaced).
    pub name: Option<String>,
    /// Its state, when read.
    pub power: Option<PowerState>,
}

/// What a successful request did and saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The request done.
    pub request: Request,
    /// The profile used.
    pub profile: Profile,
    /// The device's sysObjectID (absent when the profile was forced).
    pub sys_object_id: Option<Oid>,
    /// Power requests: on if any outlet was last seen on, else off.
    pub power: Option<PowerState>,
    /// The outlets acted on, or listed.
    pub outlets: Vec<OutletStatus>,
    /// SET commands sent.
    pub commands_sent: u32,
    /// Whether every outlet was seen off (off and reboot: always true).
    pub off_seen: bool,
    /// Time from start to the outcome.
    pub elapsed: Duration,
    /// SNMP requests sent, retransmits included.
    pub requests_sent: u32,
    /// Of which retransmits.
    pub retransmits: u32,
    /// Reboot only: every outlet was seen off (the host is fenced) but
    /// switching on again failed, and why.
    pub power_on_failed: Option<String>,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.request)?;
        if let Some(p) = self.power {
            write!(f, ": power {p}")?;
        }
        let numbers: Vec<String> = self.outlets.iter().map(|o| o.number.to_string()).collect();
        write!(
            f,
            " (outlets {}; {}; {} ms, {} requests)",
            numbers.join(","),
            self.profile.name(),
            self.elapsed.as_millis(),
            self.requests_sent
        )?;
        if let Some(why) = &self.power_on_failed {
            write!(f, "; seen off, but switching on failed: {why}")?;
        }
        Ok(())
    }
}

/// One verbose-log line. Never holds a community or a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Time since the request started.
    pub elapsed: Duration,
    /// What happened.
    pub text: String,
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:9.3} ms {}",
            self.elapsed.as_secs_f64() * 1000.0,
            self.text
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_file() {
        let c = Credentials::parse("# pdu\ncommunity = \"private\"\n").unwrap();
        assert_eq!(c.community.as_ref().unwrap().expose(), b"private");
        assert!(c.check(&Version::V1).is_ok());
        assert!(c.check(&Version::V3(Usm::default())).is_err());
        let c = Credentials::parse(
            "user=fenceuser\nauth_password = fenceauth1\npriv_password=fencepriv1",
        )
        .unwrap();
        assert!(c.check(&Version::V3(Usm::default())).is_ok());
        let dbg = format!("{c:?}");
        assert!(
            !dbg.contains("fenceauth1") && !dbg.contains("fencepriv1"),
            "{dbg}"
        );
        for (text, needle) in [
            ("community private", "line 1"),
            ("community = a\ncommunity = b", "twice"),
            ("colour = red", "unknown key"),
            ("community = ", "empty"),
            ("community = a\u{1b}[2J", "control"),
        ] {
            let e = Credentials::parse(text).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Config);
            assert!(e.message().contains(needle), "{text:?}: {}", e.message());
        }
        // Never echo a value in an error.
        let e = Credentials::parse("community = s3cret\nbogus_key = s3cret2").unwrap_err();
        assert!(!e.message().contains("s3cret"));
        let short = Credentials::usm("u", "short", Some("alsoshort"));
        assert!(short.check(&Version::V3(Usm::default())).is_err());
    }

    #[test]
    fn outlets_and_requests() {
        assert_eq!("3".parse::<Outlet>().unwrap(), Outlet::Number(3));
        assert_eq!(
            "node1".parse::<Outlet>().unwrap(),
            Outlet::Name("node1".into())
        );
        for bad in ["", "0", "1025", "99999999999999", "a\nb"] {
            assert!(bad.parse::<Outlet>().is_err(), "{bad:?}");
        }
        assert!("x".repeat(65).parse::<Outlet>().is_err());
        assert!(Request::from_action(Action::Cycle).is_err());
        assert_eq!(
            Request::from_action(Action::Reboot).unwrap(),
            Request::Reboot
        );
        let c = Config::new(
            Version::V1,
            Credentials::community("private"),
            Request::Off,
            None,
        );
        assert!(c.validate().unwrap_err().message().contains("outlet"));
        assert!("AES-256".parse::<PrivProtocol>().is_ok());
        assert!("SHA".parse::<AuthProtocol>().is_ok());
        assert!("rot13".parse::<PrivProtocol>().is_err());
        assert_eq!(Version::parse("2c").unwrap(), Version::V2c);
    }
}
