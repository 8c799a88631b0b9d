//! What a BMC is: its users, the cipher suites and IPMI 1.5 authentication
//! types it accepts, its session limits and its identity.

use std::time::Duration;

use crate::ipmi::wire::v15::AuthType;
use crate::ipmi::wire::Privilege;
use crate::{Error, ErrorKind};

/// RMCP+ cipher suites this responder can run (IPMI 2.0 table 22-20): 1
/// (RAKP-HMAC-SHA1, no integrity, no encryption), 2 (+ HMAC-SHA1-96), 3
/// (+ AES-CBC-128), 15, 16 and 17 (the same three with SHA-256).
pub const IMPLEMENTED_SUITES: [u8; 6] = [1, 2, 3, 15, 16, 17];

/// One BMC account.
#[derive(Clone, PartialEq, Eq)]
pub struct User {
    /// Login name, 1 to 16 bytes (the null user is not supported).
    pub name: String,
    /// Password, at most 20 bytes (IPMI 1.5 uses at most 16).
    pub password: Vec<u8>,
    /// Highest privilege this account may reach.
    pub privilege_limit: Privilege,
    /// How many sessions this account may hold at once.
    pub max_sessions: usize,
}

impl std::fmt::Debug for User {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("User")
            .field("name", &self.name)
            .field("password", &"<hidden>")
            .field("privilege_limit", &self.privilege_limit)
            .field("max_sessions", &self.max_sessions)
            .finish()
    }
}

impl User {
    /// An account with the default session limit (4).
    pub fn new(name: &str, password: &[u8], privilege_limit: Privilege) -> Self {
        User {
            name: name.to_string(),
            password: password.to_vec(),
            privilege_limit,
            max_sessions: 4,
        }
    }

    /// Parses `NAME:PASSWORD[:PRIVILEGE]` (privilege `user`, `operator` or
    /// `admin`; default admin), the form the test binary takes.
    pub fn parse_spec(spec: &str) -> Result<Self, Error> {
        let mut parts = spec.splitn(3, ':');
        let (Some(name), Some(password)) = (parts.next(), parts.next()) else {
            return Err(Error::new(
                ErrorKind::Config,
                format!("user {spec:?}: expected NAME:PASSWORD[:PRIVILEGE]"),
            ));
        };
        let privilege = match parts.next() {
            Some(p) => p.parse()?,
            None => Privilege::Administrator,
        };
        Ok(User::new(name, password.as_bytes(), privilege))
    }
}

/// Which IPMI 1.5 authentication types the BMC accepts (no "none": like
/// cipher suite 0, it logs anyone in).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct V15Auth {
    /// MD5 authcodes.
    pub md5: bool,
    /// The password in clear in every packet.
    pub straight_password: bool,
}

impl V15Auth {
    /// Whether `auth` is accepted.
    pub fn allows(&self, auth: AuthType) -> bool {
        match auth {
            AuthType::Md5 => self.md5,
            AuthType::Password => self.straight_password,
            _ => false,
        }
    }

    /// The auth type support bits of Get Channel Authentication Capabilities.
    pub fn support_bits(&self) -> u8 {
        let mut bits = 0;
        if self.md5 {
            bits |= AuthType::Md5.support_bit();
        }
        if self.straight_password {
            bits |= AuthType::Password.support_bit();
        }
        bits
    }

    /// Whether IPMI 1.5 sessions are enabled at all.
    pub fn any(&self) -> bool {
        self.md5 || self.straight_password
    }
}

/// What Get Device ID reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceIdentity {
    /// Device ID.
    pub device_id: u8,
    /// Device revision (low 4 bits).
    pub device_revision: u8,
    /// Firmware major revision (7 bits).
    pub firmware_major: u8,
    /// Firmware minor revision (BCD).
    pub firmware_minor: u8,
    /// IANA manufacturer ID (20 bits).
    pub manufacturer: u32,
    /// Product ID.
    pub product: u16,
}

impl Default for DeviceIdentity {
    fn default() -> Self {
        DeviceIdentity {
            device_id: 0x20,
            device_revision: 0x01,
            firmware_major: 0x00,
            firmware_minor: 0x01,
            manufacturer: 0,
            product: 0x1b0b,
        }
    }
}

/// A BMC's configuration. [`BmcConfig::new`] gives the defaults; adjust the
/// public fields, then [`Bmc::new`](super::Bmc::new) validates them.
#[derive(Debug, Clone)]
pub struct BmcConfig {
    /// The accounts.
    pub users: Vec<User>,
    /// RMCP+ cipher suites accepted, in the order Get Channel Cipher Suites
    /// lists them; default 17, 3. Suite 0 cannot be enabled.
    pub cipher_suites: Vec<u8>,
    /// IPMI 1.5 authentication types accepted; default MD5 and straight
    /// password.
    pub v15: V15Auth,
    /// The BMC key Kg for RMCP+ (empty: none, the user's password is used,
    /// what almost every BMC ships with). At most 20 bytes.
    pub kg: Vec<u8>,
    /// The system GUID sent in RAKP 2.
    pub guid: [u8; 16],
    /// Highest privilege on this channel.
    pub channel_privilege_limit: Privilege,
    /// Sessions (established or being established) at once, all users.
    pub max_sessions: usize,
    /// An established session idle this long is closed (the spec's default
    /// is 60 s).
    pub session_timeout: Duration,
    /// A session still negotiating after this long is dropped.
    pub handshake_timeout: Duration,
    /// How long Chassis Control "power cycle" keeps the power off (ipmi_sim:
    /// 1 s; the spec asks for at least 1 s).
    pub power_cycle_interval: Duration,
    /// What Get Device ID reports.
    pub identity: DeviceIdentity,
}

impl BmcConfig {
    /// A BMC with `users` and the defaults: suites 17 and 3, IPMI 1.5 MD5
    /// and straight password, no Kg, 16 sessions, 60 s idle timeout.
    pub fn new(users: Vec<User>) -> Self {
        BmcConfig {
            users,
            cipher_suites: vec![17, 3],
            v15: V15Auth {
                md5: true,
                straight_password: true,
            },
            kg: Vec::new(),
            guid: *b"ironbeat-bmc\x00\x00\x00\x01",
            channel_privilege_limit: Privilege::Administrator,
            max_sessions: 16,
            session_timeout: Duration::from_secs(60),
            handshake_timeout: Duration::from_secs(10),
            power_cycle_interval: Duration::from_secs(1),
            identity: DeviceIdentity::default(),
        }
    }

    /// Checks the configuration; errors say what to change.
    pub fn validate(&self) -> Result<(), Error> {
        let config = |msg: String| Err(Error::new(ErrorKind::Config, msg));
        if self.users.is_empty() {
            return config("BMC has no users; add at least one NAME:PASSWORD account".into());
        }
        for (i, user) in self.users.iter().enumerate() {
            if user.name.is_empty() || user.name.len() > 16 {
                return config(format!(
                    "BMC user {:?}: names are 1 to 16 bytes (the null user is not supported)",
                    user.name
                ));
            }
            if user.password.len() > 20 {
                return config(format!(
                    "BMC user {:?}: password of {} bytes; IPMI allows at most 20",
                    user.name,
                    user.password.len()
                ));
            }
            if !matches!(
                user.privilege_limit,
                Privilege::Callback
                    | Privilege::User
                    | Privilege::Operator
                    | Privilege::Administrator
                    | Privilege::Oem
            ) {
                return config(format!(
                    "BMC user {:?}: privilege limit {} is not a privilege level",
                    user.name, user.privilege_limit
                ));
            }
            if user.max_sessions == 0 {
                return config(format!(
                    "BMC user {:?}: max_sessions is 0; the account could never log in",
                    user.name
                ));
            }
            if self.users[..i].iter().any(|u| u.name == user.name) {
                return config(format!("BMC user {:?} is defined twice", user.name));
            }
        }
        if self.cipher_suites.is_empty() && !self.v15.any() {
            return config(
                "BMC accepts neither a cipher suite nor an IPMI 1.5 auth type; enable one".into(),
            );
        }
        for &suite in &self.cipher_suites {
            if !IMPLEMENTED_SUITES.contains(&suite) {
                return config(format!(
                    "cipher suite {suite} is not supported by this BMC; use {}",
                    IMPLEMENTED_SUITES.map(|s| s.to_string()).join(", ")
                ));
            }
        }
        if self.kg.len() > 20 {
            return config(format!("BMC key Kg of {} bytes; at most 20", self.kg.len()));
        }
        if self.max_sessions == 0 {
            return config("max_sessions is 0; nobody could log in".into());
        }
        if self.session_timeout.is_zero() || self.handshake_timeout.is_zero() {
            return config("session and handshake timeouts must be longer than 0".into());
        }
        if self.power_cycle_interval < Duration::from_secs(1) {
            return config(format!(
                "power_cycle_interval {:?}: the spec requires at least 1 s off",
                self.power_cycle_interval
            ));
        }
        Ok(())
    }

    /// The user called `name` (byte-exact, as RAKP and 1.5 send it).
    pub(crate) fn user_index(&self, name: &[u8]) -> Option<usize> {
        self.users.iter().position(|u| u.name.as_bytes() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_specs() {
        let u = User::parse_spec("viewer:view:pass:user").unwrap_err();
        assert_eq!(u.kind(), ErrorKind::Config);
        let u = User::parse_spec("viewer:viewpass:user").unwrap();
        assert_eq!(u.privilege_limit, Privilege::User);
        assert_eq!(u.password, b"viewpass");
        let u = User::parse_spec("admin:labpass").unwrap();
        assert_eq!(u.privilege_limit, Privilege::Administrator);
        assert!(User::parse_spec("admin").is_err());
        assert!(!format!("{u:?}").contains("labpass"));
    }

    #[test]
    fn validation() {
        let ok = BmcConfig::new(vec![User::new(
            "admin",
            b"labpass",
            Privilege::Administrator,
        )]);
        ok.validate().unwrap();
        let mut c = ok.clone();
        c.cipher_suites = vec![0];
        assert!(c
            .validate()
            .unwrap_err()
            .message()
            .contains("cipher suite 0"));
        let mut c = ok.clone();
        c.users.push(c.users[0].clone());
        assert!(c.validate().is_err());
        let mut c = ok.clone();
        c.users[0].password = vec![b'x'; 21];
        assert!(c.validate().is_err());
        let mut c = ok.clone();
        c.users[0].name = "seventeen-bytes!!".into();
        assert!(c.validate().is_err());
        let mut c = ok.clone();
        c.power_cycle_interval = Duration::from_millis(500);
        assert!(c.validate().is_err());
        let mut c = ok;
        c.users.clear();
        assert!(c.validate().is_err());
    }
}
