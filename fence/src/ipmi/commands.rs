//! The IPMI commands fencing needs, as request and response bodies for both
//! ends (encode and decode each): session set-up and tear-down, and chassis
//! status and control. Response bodies here exclude the completion code,
//! which [`super::wire::message`] carries.
//!
//! | command | netFn/cmd | request | response |
//! |---|---|---|---|
//! | Get Channel Authentication Capabilities | App 0x38 | channel, privilege | auth types, flags |
//! | Get Session Challenge | App 0x39 | auth type, user name (16) | temporary session ID, challenge |
//! | Activate Session | App 0x3a | auth type, privilege, challenge, outbound seq | session ID, inbound seq, privilege |
//! | Set Session Privilege Level | App 0x3b | privilege | privilege |
//! | Close Session | App 0x3c | session ID (+ handle when ID is 0) | — |
//! | Get Chassis Status | Chassis 0x01 | — | power state, last event, misc |
//! | Chassis Control | Chassis 0x02 | control | — |
//!
//! Panic contract: `decode` never panics on any input; `encode` never panics.

use std::fmt;

use super::wire::message::{CompletionCode, NetFn, Repr as Message};
use super::wire::v15::AuthType;
use super::wire::{malformed, Privilege, Reader};
use crate::power::PowerState;
use crate::Error;

/// A request or response body.
pub trait Body: Sized {
    /// Parses the body (a response body without its completion code).
    fn decode(data: &[u8]) -> Result<Self, Error>;
    /// Appends the body to `out`.
    fn encode(&self, out: &mut Vec<u8>);
    /// The body as bytes.
    fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

/// A request: its command's identity and response type.
pub trait Request: Body {
    /// The network function.
    const NETFN: NetFn;
    /// The command code.
    const COMMAND: u8;
    /// The command's name as the spec spells it.
    const NAME: &'static str;
    /// The response body.
    type Response: Body;
}

/// Decoded with nothing to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Empty;

impl Body for Empty {
    fn decode(data: &[u8]) -> Result<Self, Error> {
        Reader::new("empty body", data).finish()?;
        Ok(Empty)
    }
    fn encode(&self, _out: &mut Vec<u8>) {}
}

/// The channel number meaning "the channel this request came in on".
pub const CURRENT_CHANNEL: u8 = 0x0e;

/// Get Channel Authentication Capabilities request (App 0x38).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GetChannelAuthCapabilities {
    /// Ask for IPMI 2.0 extended data (bit 7); a 1.5-only BMC may reject it.
    pub extended: bool,
    /// Channel ([`CURRENT_CHANNEL`]).
    pub channel: u8,
    /// The privilege the session will ask for.
    pub privilege: Privilege,
}

/// Get Channel Authentication Capabilities response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelAuthCapabilities {
    /// The channel number.
    pub channel: u8,
    /// IPMI 1.5 auth type support bits ([`AuthType::support_bit`]); bit 7 set
    /// means IPMI 2.0 extended capabilities follow.
    pub auth_types: u8,
    /// Bit 5 KG set, 4 per-message auth disabled, 3 user-level auth disabled,
    /// 2 non-null user names, 1 null user names, 0 anonymous login.
    pub flags: u8,
    /// Bit 1: IPMI 2.0 connections supported, bit 0: IPMI 1.5.
    pub extended: u8,
    /// OEM IANA (3 bytes).
    pub oem_id: u32,
    /// OEM auxiliary data.
    pub oem_aux: u8,
}

impl ChannelAuthCapabilities {
    /// Whether the BMC accepts this 1.5 auth type.
    pub fn supports(&self, auth_type: AuthType) -> bool {
        self.auth_types & auth_type.support_bit() != 0
    }

    /// Whether the BMC says it speaks IPMI 2.0 (only when it sent extended data).
    pub fn supports_v20(&self) -> bool {
        self.auth_types & 0x80 != 0 && self.extended & 0x02 != 0
    }

    /// The supported 1.5 auth types, by name.
    pub fn auth_type_names(&self) -> String {
        let names: Vec<String> = [
            AuthType::None,
            AuthType::Md2,
            AuthType::Md5,
            AuthType::Password,
            AuthType::Oem,
        ]
        .into_iter()
        .filter(|t| self.supports(*t))
        .map(|t| t.to_string())
        .collect();
        if names.is_empty() {
            "none offered".into()
        } else {
            names.join(", ")
        }
    }
}

impl Body for GetChannelAuthCapabilities {
    fn decode(data: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new("Get Channel Authentication Capabilities request", data);
        let c = r.u8()?;
        let p = r.u8()?;
        r.finish()?;
        Ok(GetChannelAuthCapabilities {
            extended: c & 0x80 != 0,
            channel: c & 0x0f,
            privilege: Privilege::from(p & 0x0f),
        })
    }
    fn encode(&self, out: &mut Vec<u8>) {
        out.push((self.channel & 0x0f) | if self.extended { 0x80 } else { 0 });
        out.push(u8::from(self.privilege) & 0x0f);
    }
}

impl Request for GetChannelAuthCapabilities {
    const NETFN: NetFn = NetFn::App;
    const COMMAND: u8 = 0x38;
    const NAME: &'static str = "Get Channel Authentication Capabilities";
    type Response = ChannelAuthCapabilities;
}

impl Body for ChannelAuthCapabilities {
    fn decode(data: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new("Get Channel Authentication Capabilities response", data);
        let caps = ChannelAuthCapabilities {
            channel: r.u8()?,
            auth_types: r.u8()?,
            flags: r.u8()?,
            extended: r.u8()?,
            oem_id: {
                let b: [u8; 3] = r.array()?;
                u32::from_le_bytes([b[0], b[1], b[2], 0])
            },
            oem_aux: r.u8()?,
        };
        r.finish()?;
        Ok(caps)
    }
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[self.channel, self.auth_types, self.flags, self.extended]);
        out.extend_from_slice(&self.oem_id.to_le_bytes()[..3]);
        out.push(self.oem_aux);
    }
}

/// Get Session Challenge request (App 0x39).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GetSessionChallenge {
    /// The auth type the session will use.
    pub auth_type: AuthType,
    /// The user name, zero-padded to 16 bytes.
    pub user_name: [u8; 16],
}

/// Get Session Challenge response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionChallenge {
    /// The temporary session ID for Activate Session.
    pub temporary_session_id: u32,
    /// The challenge string.
    pub challenge: [u8; 16],
}

impl Body for GetSessionChallenge {
    fn decode(data: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new("Get Session Challenge request", data);
        let auth_type = AuthType::from(r.u8()? & 0x0f);
        let user_name = r.array()?;
        r.finish()?;
        Ok(GetSessionChallenge {
            auth_type,
            user_name,
        })
    }
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.auth_type.into());
        out.extend_from_slice(&self.user_name);
    }
}

impl Request for GetSessionChallenge {
    const NETFN: NetFn = NetFn::App;
    const COMMAND: u8 = 0x39;
    const NAME: &'static str = "Get Session Challenge";
    type Response = SessionChallenge;
}

impl Body for SessionChallenge {
    fn decode(data: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new("Get Session Challenge response", data);
        let temporary_session_id = r.u32_le()?;
        let challenge = r.array()?;
        r.finish()?;
        Ok(SessionChallenge {
            temporary_session_id,
            challenge,
        })
    }
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.temporary_session_id.to_le_bytes());
        out.extend_from_slice(&self.challenge);
    }
}

/// Activate Session request (App 0x3a).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActivateSession {
    /// The session's auth type.
    pub auth_type: AuthType,
    /// Maximum privilege for the session.
    pub max_privilege: Privilege,
    /// The challenge from Get Session Challenge.
    pub challenge: [u8; 16],
    /// The first sequence number the BMC will use towards the console.
    pub initial_outbound_sequence: u32,
}

/// Activate Session response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionActivated {
    /// The auth type for the rest of the session.
    pub auth_type: AuthType,
    /// The session ID.
    pub session_id: u32,
    /// The first sequence number the console uses towards the BMC.
    pub initial_inbound_sequence: u32,
    /// Maximum privilege allowed.
    pub max_privilege: Privilege,
}

impl Body for ActivateSession {
    fn decode(data: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new("Activate Session request", data);
        let auth_type = AuthType::from(r.u8()? & 0x0f);
        let max_privilege = Privilege::from(r.u8()? & 0x0f);
        let challenge = r.array()?;
        let initial_outbound_sequence = r.u32_le()?;
        r.finish()?;
        Ok(ActivateSession {
            auth_type,
            max_privilege,
            challenge,
            initial_outbound_sequence,
        })
    }
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.auth_type.into());
        out.push(self.max_privilege.into());
        out.extend_from_slice(&self.challenge);
        out.extend_from_slice(&self.initial_outbound_sequence.to_le_bytes());
    }
}

impl Request for ActivateSession {
    const NETFN: NetFn = NetFn::App;
    const COMMAND: u8 = 0x3a;
    const NAME: &'static str = "Activate Session";
    type Response = SessionActivated;
}

impl Body for SessionActivated {
    fn decode(data: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new("Activate Session response", data);
        let auth_type = AuthType::from(r.u8()? & 0x0f);
        let session_id = r.u32_le()?;
        let initial_inbound_sequence = r.u32_le()?;
        let max_privilege = Privilege::from(r.u8()? & 0x0f);
        r.finish()?;
        Ok(SessionActivated {
            auth_type,
            session_id,
            initial_inbound_sequence,
            max_privilege,
        })
    }
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.auth_type.into());
        out.extend_from_slice(&self.session_id.to_le_bytes());
        out.extend_from_slice(&self.initial_inbound_sequence.to_le_bytes());
        out.push(self.max_privilege.into());
    }
}

/// Set Session Privilege Level request (App 0x3b); its response carries the
/// new level in the same shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetSessionPrivilegeLevel {
    /// Requested (or, in the response, new) privilege; 0 reads the current one.
    pub privilege: Privilege,
}

impl Body for SetSessionPrivilegeLevel {
    fn decode(data: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new("Set Session Privilege Level", data);
        let privilege = Privilege::from(r.u8()? & 0x0f);
        r.finish()?;
        Ok(SetSessionPrivilegeLevel { privilege })
    }
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(u8::from(self.privilege) & 0x0f);
    }
}

impl Request for SetSessionPrivilegeLevel {
    const NETFN: NetFn = NetFn::App;
    const COMMAND: u8 = 0x3b;
    const NAME: &'static str = "Set Session Privilege Level";
    type Response = SetSessionPrivilegeLevel;
}

/// Close Session request (App 0x3c).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloseSession {
    /// The session to close (the BMC's ID for RMCP+); 0 means "by handle".
    pub session_id: u32,
    /// The session handle, sent only when `session_id` is 0.
    pub handle: Option<u8>,
}

impl Body for CloseSession {
    fn decode(data: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new("Close Session request", data);
        let session_id = r.u32_le()?;
        let handle = if r.remaining() > 0 {
            Some(r.u8()?)
        } else {
            None
        };
        r.finish()?;
        Ok(CloseSession { session_id, handle })
    }
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.session_id.to_le_bytes());
        if let (0, Some(h)) = (self.session_id, self.handle) {
            out.push(h);
        }
    }
}

impl Request for CloseSession {
    const NETFN: NetFn = NetFn::App;
    const COMMAND: u8 = 0x3c;
    const NAME: &'static str = "Close Session";
    type Response = Empty;
}

/// Get Chassis Status request (Chassis 0x01).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct GetChassisStatus;

/// Get Chassis Status response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChassisStatus {
    /// Current power state: bit 0 power on, 1 overload, 2 interlock, 3 power
    /// fault, 4 control fault, 6..5 restore policy.
    pub current_power_state: u8,
    /// Last power event.
    pub last_power_event: u8,
    /// Misc chassis state.
    pub misc_chassis_state: u8,
    /// Front panel button capabilities (optional).
    pub front_panel: Option<u8>,
}

impl ChassisStatus {
    /// The power state.
    pub fn power(&self) -> PowerState {
        if self.current_power_state & 0x01 != 0 {
            PowerState::On
        } else {
            PowerState::Off
        }
    }

    /// Whether the BMC reports a power fault or control fault.
    pub fn fault(&self) -> bool {
        self.current_power_state & 0x18 != 0
    }
}

impl Body for GetChassisStatus {
    fn decode(data: &[u8]) -> Result<Self, Error> {
        Empty::decode(data).map(|_| GetChassisStatus)
    }
    fn encode(&self, _out: &mut Vec<u8>) {}
}

impl Request for GetChassisStatus {
    const NETFN: NetFn = NetFn::Chassis;
    const COMMAND: u8 = 0x01;
    const NAME: &'static str = "Get Chassis Status";
    type Response = ChassisStatus;
}

impl Body for ChassisStatus {
    fn decode(data: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new("Get Chassis Status response", data);
        let current_power_state = r.u8()?;
        let last_power_event = r.u8()?;
        let misc_chassis_state = r.u8()?;
        let front_panel = if r.remaining() > 0 {
            Some(r.u8()?)
        } else {
            None
        };
        r.finish()?;
        Ok(ChassisStatus {
            current_power_state,
            last_power_event,
            misc_chassis_state,
            front_panel,
        })
    }
    fn encode(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&[
            self.current_power_state,
            self.last_power_event,
            self.misc_chassis_state,
        ]);
        out.extend(self.front_panel);
    }
}

/// What Chassis Control asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChassisControl {
    /// 0x00: power down (immediate).
    PowerDown,
    /// 0x01: power up.
    PowerUp,
    /// 0x02: power cycle (off, at least 1 s, on).
    PowerCycle,
    /// 0x03: hard reset.
    HardReset,
    /// 0x04: pulse a diagnostic interrupt (NMI).
    DiagnosticInterrupt,
    /// 0x05: soft shutdown via ACPI.
    SoftShutdown,
    /// Another value.
    Unknown(u8),
}

impl From<u8> for ChassisControl {
    fn from(raw: u8) -> Self {
        match raw & 0x0f {
            0x00 => ChassisControl::PowerDown,
            0x01 => ChassisControl::PowerUp,
            0x02 => ChassisControl::PowerCycle,
            0x03 => ChassisControl::HardReset,
            0x04 => ChassisControl::DiagnosticInterrupt,
            0x05 => ChassisControl::SoftShutdown,
            other => ChassisControl::Unknown(other),
        }
    }
}

impl From<ChassisControl> for u8 {
    fn from(c: ChassisControl) -> u8 {
        match c {
            ChassisControl::PowerDown => 0x00,
            ChassisControl::PowerUp => 0x01,
            ChassisControl::PowerCycle => 0x02,
            ChassisControl::HardReset => 0x03,
            ChassisControl::DiagnosticInterrupt => 0x04,
            ChassisControl::SoftShutdown => 0x05,
            ChassisControl::Unknown(raw) => raw & 0x0f,
        }
    }
}

impl fmt::Display for ChassisControl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChassisControl::PowerDown => f.write_str("power down"),
            ChassisControl::PowerUp => f.write_str("power up"),
            ChassisControl::PowerCycle => f.write_str("power cycle"),
            ChassisControl::HardReset => f.write_str("hard reset"),
            ChassisControl::DiagnosticInterrupt => f.write_str("diagnostic interrupt"),
            ChassisControl::SoftShutdown => f.write_str("soft shutdown"),
            ChassisControl::Unknown(raw) => write!(f, "control 0x{raw:02x}"),
        }
    }
}

/// Chassis Control request (Chassis 0x02).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChassisControlRequest {
    /// What to do.
    pub control: ChassisControl,
}

impl Body for ChassisControlRequest {
    fn decode(data: &[u8]) -> Result<Self, Error> {
        let mut r = Reader::new("Chassis Control request", data);
        let control = ChassisControl::from(r.u8()?);
        r.finish()?;
        Ok(ChassisControlRequest { control })
    }
    fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.control.into());
    }
}

impl Request for ChassisControlRequest {
    const NETFN: NetFn = NetFn::Chassis;
    const COMMAND: u8 = 0x02;
    const NAME: &'static str = "Chassis Control";
    type Response = Empty;
}

/// The name of a command, if it is one of ours or a common one.
pub fn command_name(netfn: NetFn, command: u8) -> Option<&'static str> {
    Some(match (netfn, command) {
        (NetFn::App, 0x01) => "Get Device ID",
        (NetFn::App, 0x38) => GetChannelAuthCapabilities::NAME,
        (NetFn::App, 0x39) => GetSessionChallenge::NAME,
        (NetFn::App, 0x3a) => ActivateSession::NAME,
        (NetFn::App, 0x3b) => SetSessionPrivilegeLevel::NAME,
        (NetFn::App, 0x3c) => CloseSession::NAME,
        (NetFn::App, 0x54) => "Get Channel Cipher Suites",
        (NetFn::Chassis, 0x00) => "Get Chassis Capabilities",
        (NetFn::Chassis, 0x01) => GetChassisStatus::NAME,
        (NetFn::Chassis, 0x02) => ChassisControlRequest::NAME,
        _ => return None,
    })
}

/// A completion code explained for one command: the spec's text for the
/// command-specific codes (0x80..), then the generic text, and the fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompletionText {
    /// The raw code.
    pub code: u8,
    /// What it means.
    pub text: &'static str,
    /// What the operator can do, where there is something.
    pub fix: Option<&'static str>,
}

impl fmt::Display for CompletionText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "completion code 0x{:02x} ({})", self.code, self.text)?;
        if let Some(fix) = self.fix {
            write!(f, ": {fix}")?;
        }
        Ok(())
    }
}

/// Explains completion code `code` of command `netfn`/`command`.
pub fn describe_completion(netfn: NetFn, command: u8, code: u8) -> CompletionText {
    let specific: Option<(&'static str, Option<&'static str>)> = match (netfn, command, code) {
        (NetFn::App, 0x39, 0x81) => Some((
            "invalid user name",
            Some("the BMC does not know this user; check the login"),
        )),
        (NetFn::App, 0x39, 0x82) => Some((
            "null user name (user 1) not enabled",
            Some("set a user name"),
        )),
        (NetFn::App, 0x3a, 0x81) => Some((
            "no session slot available",
            Some("the BMC's sessions are all in use (leaked ones time out); retry later"),
        )),
        (NetFn::App, 0x3a, 0x82) => Some((
            "no slot available for the given user",
            Some("this user's session limit is reached; retry later or raise the limit"),
        )),
        (NetFn::App, 0x3a, 0x83) => Some((
            "no slot available for the user's privilege",
            Some("retry later, or use an account with another privilege"),
        )),
        (NetFn::App, 0x3a, 0x84) => Some(("session sequence number out of range", None)),
        (NetFn::App, 0x3a, 0x85) => Some(("invalid session ID in request", None)),
        (NetFn::App, 0x3a, 0x86) => Some((
            "requested maximum privilege level exceeds the user or channel limit",
            Some("the account lacks this privilege; try privilege=operator"),
        )),
        (NetFn::App, 0x3b, 0x80) => Some((
            "requested privilege level not available for this user",
            Some("the account lacks this privilege; try privilege=operator"),
        )),
        (NetFn::App, 0x3b, 0x81) => Some((
            "requested privilege level exceeds the user or channel limit",
            Some("the account lacks this privilege; try privilege=operator, or raise its limit"),
        )),
        (NetFn::App, 0x3b, 0x82) => Some(("cannot disable user-level authentication", None)),
        (NetFn::App, 0x3c, 0x87) => Some(("invalid session ID", None)),
        (NetFn::App, 0x3c, 0x88) => Some(("invalid session handle", None)),
        _ => None,
    };
    match specific {
        Some((text, fix)) => CompletionText { code, text, fix },
        None => {
            let cc = CompletionCode::from(code);
            CompletionText {
                code,
                text: cc.description(),
                fix: cc.fix(),
            }
        }
    }
}

/// One line describing a decoded IPMI message, for verbose logs: command
/// name, completion code and the fields fencing cares about. Never prints
/// secrets (no auth codes, no challenges).
pub fn summary(message: &Message<'_>) -> String {
    let name = command_name(message.netfn, message.command)
        .map(str::to_string)
        .unwrap_or_else(|| format!("{} command 0x{:02x}", message.netfn, message.command));
    if !message.response {
        let detail = match (message.netfn, message.command) {
            (NetFn::App, 0x38) => GetChannelAuthCapabilities::decode(message.body)
                .map(|r| format!(" channel 0x{:x}, privilege {}", r.channel, r.privilege)),
            (NetFn::App, 0x39) => GetSessionChallenge::decode(message.body).map(|r| {
                let end = r.user_name.iter().position(|&b| b == 0).unwrap_or(16);
                format!(
                    " auth {}, user {:?}",
                    r.auth_type,
                    String::from_utf8_lossy(&r.user_name[..end])
                )
            }),
            (NetFn::App, 0x3a) => ActivateSession::decode(message.body)
                .map(|r| format!(" auth {}, privilege {}", r.auth_type, r.max_privilege)),
            (NetFn::App, 0x3b) => {
                SetSessionPrivilegeLevel::decode(message.body).map(|r| format!(" {}", r.privilege))
            }
            (NetFn::App, 0x3c) => CloseSession::decode(message.body)
                .map(|r| format!(" session 0x{:08x}", r.session_id)),
            (NetFn::Chassis, 0x02) => {
                ChassisControlRequest::decode(message.body).map(|r| format!(" {}", r.control))
            }
            _ => Ok(String::new()),
        }
        .unwrap_or_else(|e| format!(" (bad data: {})", e.message()));
        return format!("{name} request{detail} [rqSeq {}]", message.sequence);
    }
    let code = message.completion_code().map(u8::from).unwrap_or(0xff);
    if code != 0 {
        let text = describe_completion(message.netfn, message.command, code);
        return format!(
            "{name} response: 0x{code:02x} {} [rqSeq {}]",
            text.text, message.sequence
        );
    }
    let data = message.response_data();
    let detail = match (message.netfn, message.command) {
        (NetFn::App, 0x38) => ChannelAuthCapabilities::decode(data).map(|r| {
            format!(
                " channel {}, auth types {}{}",
                r.channel,
                r.auth_type_names(),
                if r.supports_v20() { ", IPMI 2.0" } else { "" }
            )
        }),
        (NetFn::App, 0x39) => SessionChallenge::decode(data)
            .map(|r| format!(" temporary session 0x{:08x}", r.temporary_session_id)),
        (NetFn::App, 0x3a) => SessionActivated::decode(data).map(|r| {
            format!(
                " session 0x{:08x}, auth {}, max privilege {}",
                r.session_id, r.auth_type, r.max_privilege
            )
        }),
        (NetFn::App, 0x3b) => {
            SetSessionPrivilegeLevel::decode(data).map(|r| format!(" now {}", r.privilege))
        }
        (NetFn::Chassis, 0x01) => ChassisStatus::decode(data).map(|r| {
            format!(
                " power {}{}",
                r.power(),
                if r.fault() { " (power fault)" } else { "" }
            )
        }),
        _ => Ok(String::new()),
    }
    .unwrap_or_else(|e| format!(" (bad data: {})", e.message()));
    format!("{name} response: ok{detail} [rqSeq {}]", message.sequence)
}

/// Decodes a response body, with an error naming the command.
pub fn decode_response<R: Request>(data: &[u8]) -> Result<R::Response, Error> {
    R::Response::decode(data).map_err(|e| {
        malformed(format!(
            "{} response does not parse: {}",
            R::NAME,
            e.message()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipmi::wire::testutil::unhex;

    fn message_of(hex: &str) -> Vec<u8> {
        unhex(hex)
    }

    /// Request and response messages from lab/ipmi/lan15-md5-power-reset.pcap
    /// (frames 3-10, 19-22) and lanplus-c2-power-reset-plaintext.pcap (frame 1/2),
    /// the IPMI message part only.
    #[test]
    fn captured_bodies() {
        // lan15 frame 3 / 4: Get Channel Auth Caps "0e 04" -> MD2+MD5.
        let req = message_of("2018c88104380e0431");
        let m = Message::parse(&req).unwrap();
        let r = GetChannelAuthCapabilities::decode(m.body).unwrap();
        assert_eq!(
            r,
            GetChannelAuthCapabilities {
                extended: false,
                channel: CURRENT_CHANNEL,
                privilege: Privilege::Administrator
            }
        );
        assert_eq!(r.to_vec(), m.body);
        let rsp = message_of("811c6320043800010604000000000099");
        let m = Message::parse(&rsp).unwrap();
        let caps = ChannelAuthCapabilities::decode(m.response_data()).unwrap();
        assert!(caps.supports(AuthType::Md5) && caps.supports(AuthType::Md2));
        assert!(!caps.supports(AuthType::Password) && !caps.supports_v20());
        assert_eq!(caps.to_vec(), m.response_data());
        // c2 frame 2: the extended form says IPMI 2.0.
        let rsp = message_of("811c632000380001860403000000001a");
        let m = Message::parse(&rsp).unwrap();
        assert!(ChannelAuthCapabilities::decode(m.response_data())
            .unwrap()
            .supports_v20());

        // frame 5 / 6: Get Session Challenge for "admin".
        let req = message_of("2018c88108390261646d696e000000000000000000000033");
        let m = Message::parse(&req).unwrap();
        let r = GetSessionChallenge::decode(m.body).unwrap();
        assert_eq!(r.auth_type, AuthType::Md5);
        assert_eq!(&r.user_name[..6], b"admin\0");
        assert_eq!(r.to_vec(), m.body);
        assert!(summary(&m).contains("user \"admin\""));
        let rsp = message_of("811c63200839000502000040fd73688e4e9bb8a9d7f5a6bb0cf74137");
        let m = Message::parse(&rsp).unwrap();
        let c = SessionChallenge::decode(m.response_data()).unwrap();
        assert_eq!(c.temporary_session_id, 0x0205);
        assert_eq!(c.to_vec(), m.response_data());

        // frame 7 / 8: Activate Session.
        let req = message_of("2018c8810c3a020440fd73688e4e9bb8a9d7f5a6bb0cf741295d7fd9f4");
        let m = Message::parse(&req).unwrap();
        let a = ActivateSession::decode(m.body).unwrap();
        assert_eq!(a.max_privilege, Privilege::Administrator);
        assert_eq!(a.challenge, c.challenge);
        assert_eq!(a.initial_outbound_sequence, 0xd97f5d29);
        assert_eq!(a.to_vec(), m.body);
        let rsp = message_of("811c63200c3a0002021b0000781a1c3f048a");
        let m = Message::parse(&rsp).unwrap();
        let s = SessionActivated::decode(m.response_data()).unwrap();
        assert_eq!(s.session_id, 0x1b02);
        assert_eq!(s.initial_inbound_sequence, 0x3f1c1a78);
        assert_eq!(s.to_vec(), m.response_data());

        // frame 9 / 10: Set Session Privilege Level admin -> admin.
        let m_bytes = message_of("811c6320103b000491");
        let m = Message::parse(&m_bytes).unwrap();
        let p = SetSessionPrivilegeLevel::decode(m.response_data()).unwrap();
        assert_eq!(p.privilege, Privilege::Administrator);

        // frame 19 / 20: Chassis Control hard reset.
        let m_bytes = message_of("2000e08124020356");
        let m = Message::parse(&m_bytes).unwrap();
        let c = ChassisControlRequest::decode(m.body).unwrap();
        assert_eq!(c.control, ChassisControl::HardReset);
        assert_eq!(summary(&m), "Chassis Control request hard reset [rqSeq 9]");

        // frame 21: Close Session of 0x1b02.
        let m_bytes = message_of("2018c881283c021b0000fe");
        let m = Message::parse(&m_bytes).unwrap();
        let c = CloseSession::decode(m.body).unwrap();
        assert_eq!(
            c,
            CloseSession {
                session_id: 0x1b02,
                handle: None
            }
        );
        assert_eq!(c.to_vec(), m.body);
    }

    #[test]
    fn chassis_status() {
        let s = ChassisStatus::decode(&[0x01, 0x00, 0x00]).unwrap();
        assert_eq!(s.power(), PowerState::On);
        assert_eq!(s.to_vec(), vec![1, 0, 0]);
        let s = ChassisStatus::decode(&[0x40, 0x10, 0x00, 0x70]).unwrap();
        assert_eq!(s.power(), PowerState::Off);
        assert_eq!(s.front_panel, Some(0x70));
        assert!(ChassisStatus::decode(&[0x01, 0x00]).is_err());
        assert!(ChassisStatus::decode(&[0; 5]).is_err());
        let req = Message::request(NetFn::Chassis, 1, 3, &[]);
        let body = [0x00, 0x01, 0x00, 0x00];
        let rsp = req.response_to(&body);
        assert_eq!(
            summary(&rsp),
            "Get Chassis Status response: ok power on [rqSeq 3]"
        );
    }

    #[test]
    fn completion_texts() {
        let t = describe_completion(NetFn::Chassis, 0x02, 0xd4);
        assert!(t.to_string().contains("try privilege=operator"));
        let t = describe_completion(NetFn::App, 0x3b, 0x81);
        assert!(t.text.contains("exceeds"));
        let t = describe_completion(NetFn::Chassis, 0x02, 0xcc);
        assert!(t.fix.unwrap().contains("diag"));
        let req = Message::request(NetFn::App, 0x3a, 1, &[]);
        let rsp = req.response_to(&[0x86]);
        assert!(summary(&rsp).contains("exceeds the user or channel limit"));
        for raw in 0..=255u8 {
            assert_eq!(u8::from(ChassisControl::from(raw)), raw & 0x0f);
        }
    }
}
