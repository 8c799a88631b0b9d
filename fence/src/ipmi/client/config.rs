//! What a fence request asks for, and what it reports.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::ipmi::crypto::{CipherSuite, Secret, MAX_PASSWORD_LEN_V15, MAX_PASSWORD_LEN_V20};
use crate::ipmi::wire::rakp::MAX_USER_NAME_LEN;
use crate::ipmi::wire::v15::AuthType;
use crate::ipmi::Privilege;
use crate::power::{Action, PowerState};
use crate::{Error, ErrorKind};

/// Which cipher suites an RMCP+ session may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CipherPolicy {
    /// Try suite 17, then 3, falling back only when the BMC answers that the
    /// suite is not supported. No pre-session Get Channel Cipher Suites probe.
    Auto,
    /// This suite only, sent directly.
    Fixed(CipherSuite),
}

impl CipherPolicy {
    /// The suites to try, in order.
    pub fn suites(&self) -> Vec<CipherSuite> {
        match self {
            CipherPolicy::Auto => vec![CipherSuite::SUITE_17, CipherSuite::SUITE_3],
            CipherPolicy::Fixed(s) => vec![*s],
        }
    }
}

impl FromStr for CipherPolicy {
    type Err = Error;

    /// `auto` (or empty), or a suite number.
    fn from_str(s: &str) -> Result<Self, Error> {
        let s = s.trim();
        if s.is_empty() || s.eq_ignore_ascii_case("auto") {
            return Ok(CipherPolicy::Auto);
        }
        let id: u8 = s.parse().map_err(|_| {
            Error::new(
                ErrorKind::Config,
                format!("cipher {s:?} is not a number; use 17, 3 or auto"),
            )
        })?;
        Ok(CipherPolicy::Fixed(CipherSuite::from_id(id)?))
    }
}

/// Which IPMI 1.5 authentication type a session may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum V15Auth {
    /// MD5 if the BMC offers it, else straight password.
    Auto,
    /// MD5 only.
    Md5,
    /// Straight password only (the password crosses the network in clear).
    Password,
    /// No authentication (the BMC does not check the password).
    None,
}

impl V15Auth {
    /// The auth types to consider, in order of preference.
    pub fn candidates(&self) -> &'static [AuthType] {
        match self {
            V15Auth::Auto => &[AuthType::Md5, AuthType::Password],
            V15Auth::Md5 => &[AuthType::Md5],
            V15Auth::Password => &[AuthType::Password],
            V15Auth::None => &[AuthType::None],
        }
    }
}

impl FromStr for V15Auth {
    type Err = Error;

    /// `auto`, `md5`, `password` (or `straight`), `none`.
    fn from_str(s: &str) -> Result<Self, Error> {
        Ok(match s.trim().to_ascii_lowercase().as_str() {
            "" | "auto" => V15Auth::Auto,
            "md5" => V15Auth::Md5,
            "password" | "straight" | "key" => V15Auth::Password,
            "none" => V15Auth::None,
            other => {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!(
                        "IPMI 1.5 auth type {other:?} is not supported; use md5, password or none"
                    ),
                ))
            }
        })
    }
}

/// IPMI 1.5 (`lan`) or IPMI 2.0 RMCP+ (`lanplus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// IPMI 1.5 sessions.
    Lan15(V15Auth),
    /// IPMI 2.0 RMCP+ sessions.
    LanPlus(CipherPolicy),
}

/// Time limits of one request. Every limit is part of one overall deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// The whole request, power waits included, must finish within this.
    pub timeout: Duration,
    /// A BMC silent for this long after a request is declared unreachable
    /// (or, mid-request, timed out).
    pub unreachable_after: Duration,
    /// First retransmit interval; it doubles up to 2 s.
    pub retransmit: Duration,
    /// How often Get Chassis Status polls while waiting for a power state.
    pub poll_interval: Duration,
    /// Extra wait after a power state is seen (fence-agents' `power_wait`).
    pub power_wait: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            timeout: Duration::from_secs(20),
            unreachable_after: Duration::from_secs(5),
            retransmit: Duration::from_millis(500),
            poll_interval: Duration::from_millis(250),
            power_wait: Duration::ZERO,
        }
    }
}

/// Everything the sans-I/O client needs for one fence request (the address
/// is the driver's business).
#[derive(Debug, Clone)]
pub struct Config {
    /// User name (at most 16 bytes; empty for the null user).
    pub user: String,
    /// Password (at most 20 bytes for RMCP+, 16 for IPMI 1.5).
    pub password: Secret,
    /// The BMC key Kg, when the BMC has one set (RMCP+ only).
    pub bmc_key: Option<Secret>,
    /// Session privilege: operator or administrator (user only for status).
    pub privilege: Privilege,
    /// Session protocol.
    pub protocol: Protocol,
    /// Accept cipher suite 0 (a BMC then logs anyone in with any password).
    pub allow_cipher_zero: bool,
    /// What to do.
    pub action: Action,
    /// Time limits.
    pub timing: Timing,
}

impl Config {
    /// A request with the defaults: administrator, RMCP+ with suites 17 then 3,
    /// default timing.
    pub fn new(user: impl Into<String>, password: Secret, action: Action) -> Self {
        Config {
            user: user.into(),
            password,
            bmc_key: None,
            privilege: Privilege::Administrator,
            protocol: Protocol::LanPlus(CipherPolicy::Auto),
            allow_cipher_zero: false,
            action,
            timing: Timing::default(),
        }
    }

    /// Checks lengths, privilege, cipher suite 0 and timing; errors say what to fix.
    pub fn validate(&self) -> Result<(), Error> {
        let config = |msg: String| Err(Error::new(ErrorKind::Config, msg));
        if self.user.len() > MAX_USER_NAME_LEN {
            return config(format!(
                "user name is {} bytes; IPMI allows at most {MAX_USER_NAME_LEN}",
                self.user.len()
            ));
        }
        let max_password = match self.protocol {
            Protocol::Lan15(_) => MAX_PASSWORD_LEN_V15,
            Protocol::LanPlus(_) => MAX_PASSWORD_LEN_V20,
        };
        if self.password.len() > max_password {
            return config(format!(
                "password is {} bytes; this protocol allows at most {max_password}{}",
                self.password.len(),
                if max_password == MAX_PASSWORD_LEN_V15 {
                    " (use lanplus for up to 20)"
                } else {
                    ""
                }
            ));
        }
        if let Some(k) = &self.bmc_key {
            if k.len() > MAX_PASSWORD_LEN_V20 {
                return config(format!(
                    "BMC key (Kg) is {} bytes; at most {MAX_PASSWORD_LEN_V20}",
                    k.len()
                ));
            }
        }
        match self.privilege {
            Privilege::Operator | Privilege::Administrator => {}
            Privilege::User if self.action == Action::Status => {}
            other => {
                return config(format!(
                    "privilege {other} cannot {}; use operator or administrator",
                    self.action
                ))
            }
        }
        if let Protocol::LanPlus(CipherPolicy::Fixed(s)) = self.protocol {
            if s.is_unauthenticated() && !self.allow_cipher_zero {
                return config(
                    "cipher suite 0 is refused: a BMC then logs anyone in with any password; \
                     use 17 or 3, or set allow_cipher_zero to accept the risk"
                        .into(),
                );
            }
        }
        let t = &self.timing;
        for (name, d) in [
            ("timeout", t.timeout),
            ("unreachable_after", t.unreachable_after),
            ("retransmit", t.retransmit),
            ("poll_interval", t.poll_interval),
        ] {
            if d.is_zero() {
                return config(format!("{name} must be greater than zero"));
            }
        }
        Ok(())
    }
}

/// The session a request ran in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionProtocol {
    /// IPMI 1.5 with this auth type.
    V15(AuthType),
    /// RMCP+ with this cipher suite.
    V20(CipherSuite),
}

impl fmt::Display for SessionProtocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionProtocol::V15(a) => write!(f, "IPMI 1.5, {a} authentication"),
            SessionProtocol::V20(s) => write!(f, "IPMI 2.0 RMCP+, {s}"),
        }
    }
}

/// What a successful request did and saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The action done.
    pub action: Action,
    /// The power state last seen by Get Chassis Status.
    pub power: PowerState,
    /// The power state seen before any command (on, off, reboot, status).
    pub initial: Option<PowerState>,
    /// Whether a Chassis Control was sent (false: the state was already as asked).
    pub command_sent: bool,
    /// Whether Off was seen during the request (always true after off and reboot).
    pub off_seen: bool,
    /// The session used.
    pub session: SessionProtocol,
    /// The session's privilege.
    pub privilege: Privilege,
    /// Time from start to the outcome.
    pub elapsed: std::time::Duration,
    /// Datagrams sent, retransmits included.
    pub datagrams_sent: u32,
    /// Of which retransmits.
    pub retransmits: u32,
    /// Whether the BMC confirmed Close Session.
    pub session_closed: bool,
    /// Reboot only: Off was seen (the node is fenced) but powering it on
    /// again failed, and why. fence-agents' rule: a reboot whose off half
    /// succeeded is a successful fence.
    pub power_on_failed: Option<String>,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: power {} ({}; {} ms, {} datagrams)",
            self.action,
            self.power,
            self.session,
            self.elapsed.as_millis(),
            self.datagrams_sent
        )?;
        if let Some(why) = &self.power_on_failed {
            write!(f, "; seen off, but powering on failed: {why}")?;
        }
        Ok(())
    }
}

/// One verbose-log line: what was sent or received, decoded. Never holds a
/// password or an auth code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Time since the request started.
    pub elapsed: Duration,
    /// What happened.
    pub kind: EventKind,
}

/// What an [`Event`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventKind {
    /// A datagram was sent.
    Sent {
        /// Its length.
        bytes: usize,
        /// 1 for the first transmission, more for retransmits.
        attempt: u32,
        /// The decoded message.
        summary: String,
    },
    /// A datagram was received and accepted.
    Received {
        /// Its length.
        bytes: usize,
        /// The decoded message.
        summary: String,
    },
    /// A datagram was received and dropped.
    Ignored {
        /// Its length.
        bytes: usize,
        /// Why.
        reason: String,
    },
    /// A decision (cipher fallback, power state seen, close result).
    Note(String),
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ms = self.elapsed.as_secs_f64() * 1000.0;
        match &self.kind {
            EventKind::Sent {
                bytes,
                attempt,
                summary,
            } => {
                write!(f, "{ms:9.3} ms -> {bytes:3} B {summary}")?;
                if *attempt > 1 {
                    write!(f, " (retransmit {})", attempt - 1)?;
                }
                Ok(())
            }
            EventKind::Received { bytes, summary } => {
                write!(f, "{ms:9.3} ms <- {bytes:3} B {summary}")
            }
            EventKind::Ignored { bytes, reason } => {
                write!(f, "{ms:9.3} ms <- {bytes:3} B ignored: {reason}")
            }
            EventKind::Note(text) => write!(f, "{ms:9.3} ms    {text}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation() {
        let ok = Config::new("admin", "labpass".into(), Action::Off);
        assert!(ok.validate().is_ok());
        let mut c = ok.clone();
        c.protocol = Protocol::LanPlus("0".parse().unwrap());
        let e = c.validate().unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(e.message().contains("allow_cipher_zero"));
        c.allow_cipher_zero = true;
        assert!(c.validate().is_ok());
        let mut c = ok.clone();
        c.privilege = Privilege::User;
        assert!(c.validate().unwrap_err().message().contains("operator"));
        c.action = Action::Status;
        assert!(c.validate().is_ok());
        let mut c = ok.clone();
        c.password = Secret::from("0123456789abcdefX");
        assert!(c.validate().is_ok());
        c.protocol = Protocol::Lan15(V15Auth::Auto);
        assert!(c.validate().unwrap_err().message().contains("lanplus"));
        let mut c = ok.clone();
        c.user = "a".repeat(17);
        assert!(c.validate().is_err());
        let mut c = ok;
        c.timing.timeout = Duration::ZERO;
        assert!(c.validate().is_err());
        assert!("4".parse::<CipherPolicy>().is_err());
        assert!("x".parse::<CipherPolicy>().is_err());
        assert_eq!("auto".parse::<CipherPolicy>().unwrap(), CipherPolicy::Auto);
        assert_eq!("straight".parse::<V15Auth>().unwrap(), V15Auth::Password);
        assert!("md2".parse::<V15Auth>().is_err());
        assert!(
            !format!("{:?}", Config::new("a", "secretpw".into(), Action::On)).contains("secretpw")
        );
    }
}
