//! The IPMI commands the BMC answers, with the privilege each needs (IPMI
//! 2.0 appendix G), and the chassis behind Chassis Control.
//!
//! Request bodies are decoded and response bodies encoded with
//! [`crate::ipmi::commands`]; the three commands fencing clients only probe
//! (Get Device ID, Get System GUID, Get Channel Cipher Suites) are encoded
//! here. Anything else is answered 0xc1 (invalid command), which is what
//! ipmitool's OEM probes (PICMG, VSO, HPM) expect from a plain BMC.

use std::time::Instant;

use super::{Bmc, Event, PowerBackend};
use crate::ipmi::commands::{
    Body, ChannelAuthCapabilities, ChassisControl, ChassisControlRequest, ChassisStatus,
    CloseSession, GetChannelAuthCapabilities, SetSessionPrivilegeLevel, CURRENT_CHANNEL,
};
use crate::ipmi::crypto::CipherSuite;
use crate::ipmi::wire::message::{CompletionCode, NetFn, Repr as Message};
use crate::ipmi::wire::Privilege;
use crate::power::PowerState;

/// The LAN channel this BMC serves (what "current channel" 0x0e resolves to).
pub(super) const LAN_CHANNEL: u8 = 0x01;

/// App command codes answered here.
mod app {
    pub const GET_DEVICE_ID: u8 = 0x01;
    pub const GET_SYSTEM_GUID: u8 = 0x37;
    pub const GET_CHANNEL_AUTH_CAPABILITIES: u8 = 0x38;
    pub const GET_SESSION_CHALLENGE: u8 = 0x39;
    pub const ACTIVATE_SESSION: u8 = 0x3a;
    pub const SET_SESSION_PRIVILEGE_LEVEL: u8 = 0x3b;
    pub const CLOSE_SESSION: u8 = 0x3c;
    pub const GET_CHANNEL_CIPHER_SUITES: u8 = 0x54;
}

/// Chassis command codes answered here.
mod chassis {
    pub const GET_CHASSIS_STATUS: u8 = 0x01;
    pub const CHASSIS_CONTROL: u8 = 0x02;
}

/// Completion codes as bytes.
fn cc(code: CompletionCode) -> u8 {
    code.into()
}

/// The established session a request arrived in.
#[derive(Debug, Clone, Copy)]
pub(super) struct Caller {
    /// The BMC's session ID.
    pub(super) id: u32,
    /// The account.
    pub(super) user: usize,
    /// The session's current privilege.
    pub(super) privilege: Privilege,
    /// The session's highest privilege.
    pub(super) max_privilege: Privilege,
}

/// What answering a request changes in the session table (applied by the
/// protocol code, which owns the session).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Effect {
    /// Nothing.
    None,
    /// The session's privilege becomes this.
    Privilege(Privilege),
    /// Close this session after the answer is sent.
    Close(u32),
}

/// A response body (completion code first) and its effect.
#[derive(Debug, Clone)]
pub(super) struct Answer {
    pub(super) body: Vec<u8>,
    pub(super) effect: Effect,
}

impl Answer {
    fn code(code: CompletionCode) -> Answer {
        Answer {
            body: vec![cc(code)],
            effect: Effect::None,
        }
    }

    fn ok(data: Vec<u8>) -> Answer {
        let mut body = Vec::with_capacity(data.len() + 1);
        body.push(0);
        body.extend_from_slice(&data);
        Answer {
            body,
            effect: Effect::None,
        }
    }

    /// The completion code answered.
    pub(super) fn completion(&self) -> u8 {
        self.body.first().copied().unwrap_or(0xff)
    }
}

/// The privilege a command needs in a session; `None`: not implemented.
fn required_privilege(netfn: NetFn, command: u8) -> Option<Privilege> {
    Some(match (netfn, command) {
        (NetFn::App, app::GET_DEVICE_ID) => Privilege::User,
        (NetFn::App, app::GET_SYSTEM_GUID) => Privilege::User,
        (NetFn::App, app::GET_CHANNEL_AUTH_CAPABILITIES) => Privilege::Callback,
        (NetFn::App, app::GET_SESSION_CHALLENGE) => Privilege::Callback,
        (NetFn::App, app::ACTIVATE_SESSION) => Privilege::Callback,
        (NetFn::App, app::SET_SESSION_PRIVILEGE_LEVEL) => Privilege::User,
        (NetFn::App, app::CLOSE_SESSION) => Privilege::Callback,
        (NetFn::App, app::GET_CHANNEL_CIPHER_SUITES) => Privilege::Callback,
        (NetFn::Chassis, chassis::GET_CHASSIS_STATUS) => Privilege::User,
        (NetFn::Chassis, chassis::CHASSIS_CONTROL) => Privilege::Operator,
        _ => return None,
    })
}

/// Whether `message` is Get Session Challenge (IPMI 1.5 handles it itself).
pub(super) fn is_get_session_challenge(message: &Message<'_>) -> bool {
    message.netfn == NetFn::App && message.command == app::GET_SESSION_CHALLENGE
}

/// Whether `message` is Activate Session.
pub(super) fn is_activate_session(message: &Message<'_>) -> bool {
    message.netfn == NetFn::App && message.command == app::ACTIVATE_SESSION
}

impl<P: PowerBackend> Bmc<P> {
    /// Answers a request outside any session: only the discovery commands.
    pub(super) fn answer_sessionless(&mut self, request: &Message<'_>) -> Vec<u8> {
        let answer = match (request.netfn, request.command) {
            (NetFn::App, app::GET_CHANNEL_AUTH_CAPABILITIES) => {
                self.channel_auth_capabilities(request.body)
            }
            (NetFn::App, app::GET_CHANNEL_CIPHER_SUITES) => {
                self.channel_cipher_suites(request.body)
            }
            (NetFn::App, app::GET_SYSTEM_GUID) => self.system_guid(request.body),
            _ if request.netfn == NetFn::App || request.netfn == NetFn::Chassis => {
                Answer::code(CompletionCode::NotSupportedInPresentState)
            }
            _ => Answer::code(CompletionCode::InvalidCommand),
        };
        answer.body
    }

    /// Answers a request inside an established session, after the privilege
    /// check. Emits a [`Event::Command`].
    pub(super) fn answer_in_session(
        &mut self,
        now: Instant,
        caller: &Caller,
        request: &Message<'_>,
    ) -> Answer {
        let answer = match required_privilege(request.netfn, request.command) {
            None => Answer::code(CompletionCode::InvalidCommand),
            Some(needed) if caller.privilege < needed => {
                Answer::code(CompletionCode::InsufficientPrivilege)
            }
            Some(_) => self.dispatch(now, caller, request),
        };
        self.event(Event::Command {
            session_id: caller.id,
            netfn: request.netfn.code(),
            command: request.command,
            completion: answer.completion(),
        });
        answer
    }

    fn dispatch(&mut self, now: Instant, caller: &Caller, request: &Message<'_>) -> Answer {
        let data = request.body;
        match (request.netfn, request.command) {
            (NetFn::App, app::GET_DEVICE_ID) => self.device_id(data),
            (NetFn::App, app::GET_SYSTEM_GUID) => self.system_guid(data),
            (NetFn::App, app::GET_CHANNEL_AUTH_CAPABILITIES) => {
                self.channel_auth_capabilities(data)
            }
            (NetFn::App, app::GET_CHANNEL_CIPHER_SUITES) => self.channel_cipher_suites(data),
            (NetFn::App, app::SET_SESSION_PRIVILEGE_LEVEL) => set_privilege(caller, data),
            (NetFn::App, app::CLOSE_SESSION) => self.close_session(caller, data),
            (NetFn::Chassis, chassis::GET_CHASSIS_STATUS) => self.chassis_status(data),
            (NetFn::Chassis, chassis::CHASSIS_CONTROL) => self.chassis_control(now, caller, data),
            // Get Session Challenge and Activate Session inside a session.
            _ => Answer::code(CompletionCode::NotSupportedInPresentState),
        }
    }

    fn channel_auth_capabilities(&self, data: &[u8]) -> Answer {
        let Ok(request) = GetChannelAuthCapabilities::decode(data) else {
            return Answer::code(CompletionCode::RequestDataLengthInvalid);
        };
        if request.channel != CURRENT_CHANNEL && request.channel != LAN_CHANNEL {
            return Answer::code(CompletionCode::InvalidDataField);
        }
        if matches!(request.privilege, Privilege::Unknown(_))
            || request.privilege > self.config.channel_privilege_limit
        {
            return Answer::code(CompletionCode::InvalidDataField);
        }
        let v20 = !self.config.cipher_suites.is_empty();
        let mut auth_types = self.config.v15.support_bits();
        let mut extended = 0;
        if request.extended {
            if v20 {
                auth_types |= 0x80;
                extended |= 0x02;
            }
            if self.config.v15.any() {
                extended |= 0x01;
            }
        }
        // Non-null user names only; per-message and user-level authentication
        // on; bit 5 tells whether a BMC key (Kg) is set.
        let flags = 0x04 | if self.config.kg.is_empty() { 0 } else { 0x20 };
        Answer::ok(
            ChannelAuthCapabilities {
                channel: LAN_CHANNEL,
                auth_types,
                flags,
                extended,
                oem_id: 0,
                oem_aux: 0,
            }
            .to_vec(),
        )
    }

    /// Get Channel Cipher Suites (App 0x54): request channel, payload type,
    /// list index (bit 7: list by suite); the answer is 16 bytes of the
    /// record list per index.
    fn channel_cipher_suites(&self, data: &[u8]) -> Answer {
        let [channel, payload_type, index] = data else {
            return Answer::code(CompletionCode::RequestDataLengthInvalid);
        };
        let channel = channel & 0x0f;
        if channel != CURRENT_CHANNEL && channel != LAN_CHANNEL {
            return Answer::code(CompletionCode::InvalidDataField);
        }
        if payload_type & 0x3f != 0 {
            return Answer::code(CompletionCode::InvalidDataField);
        }
        let suites: Vec<CipherSuite> = self
            .config
            .cipher_suites
            .iter()
            .filter_map(|&id| CipherSuite::from_id(id).ok())
            .collect();
        let mut records = Vec::new();
        if index & 0x80 != 0 {
            for suite in &suites {
                let a = suite.algorithms();
                records.extend_from_slice(&[
                    0xc0,
                    suite.id(),
                    u8::from(a.authentication),
                    0x40 | u8::from(a.integrity),
                    0x80 | u8::from(a.confidentiality),
                ]);
            }
        } else {
            // Supported algorithms, each once, tagged by kind.
            let mut push = |byte: u8| {
                if !records.contains(&byte) {
                    records.push(byte);
                }
            };
            for suite in &suites {
                let a = suite.algorithms();
                push(u8::from(a.authentication));
                push(0x40 | u8::from(a.integrity));
                push(0x80 | u8::from(a.confidentiality));
            }
        }
        let start = usize::from(index & 0x3f) * 16;
        let mut out = vec![LAN_CHANNEL];
        if start < records.len() {
            out.extend_from_slice(&records[start..(start + 16).min(records.len())]);
        }
        Answer::ok(out)
    }

    fn system_guid(&self, data: &[u8]) -> Answer {
        if !data.is_empty() {
            return Answer::code(CompletionCode::RequestDataLengthInvalid);
        }
        Answer::ok(self.config.guid.to_vec())
    }

    /// Get Device ID (App 0x01): the 11 mandatory bytes.
    fn device_id(&self, data: &[u8]) -> Answer {
        if !data.is_empty() {
            return Answer::code(CompletionCode::RequestDataLengthInvalid);
        }
        let id = &self.config.identity;
        let mut out = vec![
            id.device_id,
            id.device_revision & 0x0f,
            id.firmware_major & 0x7f,
            id.firmware_minor,
            0x02, // IPMI 2.0 (BCD, digits swapped)
            0x80, // chassis device
        ];
        out.extend_from_slice(&(id.manufacturer & 0x000f_ffff).to_le_bytes()[..3]);
        out.extend_from_slice(&id.product.to_le_bytes());
        Answer::ok(out)
    }

    fn close_session(&self, caller: &Caller, data: &[u8]) -> Answer {
        let Ok(request) = CloseSession::decode(data) else {
            return Answer::code(CompletionCode::RequestDataLengthInvalid);
        };
        if request.session_id == 0 {
            // Session handles are not kept: no handle is valid.
            return Answer::code(CompletionCode::CommandSpecific(0x88));
        }
        if request.session_id != caller.id {
            if caller.privilege < Privilege::Administrator {
                return Answer::code(CompletionCode::InsufficientPrivilege);
            }
            if self.table.get(request.session_id).is_none() {
                return Answer::code(CompletionCode::CommandSpecific(0x87));
            }
        }
        Answer {
            body: vec![0],
            effect: Effect::Close(request.session_id),
        }
    }

    fn chassis_status(&mut self, data: &[u8]) -> Answer {
        if !data.is_empty() {
            return Answer::code(CompletionCode::RequestDataLengthInvalid);
        }
        let power = match self.power.power() {
            Ok(p) => p,
            Err(e) => return self.backend_failed("read power", &e.to_string()),
        };
        // Power restore policy "previous state" (01b in bits 6..5).
        let current = 0x20 | u8::from(power == PowerState::On);
        let last_event = if self.chassis.last_on_by_command {
            0x10
        } else {
            0
        };
        Answer::ok(
            ChassisStatus {
                current_power_state: current,
                last_power_event: last_event,
                misc_chassis_state: 0,
                front_panel: None,
            }
            .to_vec(),
        )
    }

    fn chassis_control(&mut self, now: Instant, caller: &Caller, data: &[u8]) -> Answer {
        let Ok(request) = ChassisControlRequest::decode(data) else {
            return Answer::code(CompletionCode::RequestDataLengthInvalid);
        };
        let by = format!("{} by {}", request.control, self.user_name(caller.user));
        match request.control {
            ChassisControl::PowerDown => {
                self.chassis.cycle_on_at = None;
                self.set_power(PowerState::Off, by)
            }
            ChassisControl::PowerUp => {
                self.chassis.cycle_on_at = None;
                self.set_power(PowerState::On, by)
            }
            ChassisControl::PowerCycle => {
                // The spec recommends refusing a cycle of a chassis that is off.
                match self.power.power() {
                    Ok(PowerState::Off) => Answer::code(CompletionCode::NotSupportedInPresentState),
                    Ok(PowerState::On) => {
                        let answer = self.set_power(PowerState::Off, by);
                        if answer.completion() == 0 {
                            self.chassis.cycle_on_at = Some(now + self.config.power_cycle_interval);
                        }
                        answer
                    }
                    Err(e) => self.backend_failed("read power", &e.to_string()),
                }
            }
            ChassisControl::HardReset => match self.power.hard_reset() {
                Ok(()) => {
                    let user = self.user_name(caller.user);
                    self.event(Event::Pulsed {
                        what: "hard reset",
                        user,
                    });
                    Answer::ok(Vec::new())
                }
                Err(e) => self.backend_error("hard reset", e),
            },
            ChassisControl::DiagnosticInterrupt => match self.power.diagnostic_interrupt() {
                Ok(()) => {
                    let user = self.user_name(caller.user);
                    self.event(Event::Pulsed {
                        what: "diagnostic interrupt",
                        user,
                    });
                    Answer::ok(Vec::new())
                }
                Err(e) => self.backend_error("pulse a diagnostic interrupt", e),
            },
            ChassisControl::SoftShutdown => {
                self.chassis.cycle_on_at = None;
                let from = self.power.power();
                match self.power.soft_off() {
                    Ok(()) => {
                        if let Ok(PowerState::On) = from {
                            self.event(Event::PowerChanged {
                                from: PowerState::On,
                                to: PowerState::Off,
                                cause: by,
                            });
                        }
                        Answer::ok(Vec::new())
                    }
                    Err(e) => self.backend_error("soft off", e),
                }
            }
            ChassisControl::Unknown(_) => Answer::code(CompletionCode::InvalidDataField),
        }
    }

    pub(super) fn set_power(&mut self, to: PowerState, cause: String) -> Answer {
        let from = match self.power.power() {
            Ok(p) => p,
            Err(e) => return self.backend_failed("read power", &e.to_string()),
        };
        match self.power.set_power(to) {
            Ok(()) => {
                if to == PowerState::On {
                    self.chassis.last_on_by_command = true;
                }
                if from != to {
                    self.event(Event::PowerChanged { from, to, cause });
                }
                Answer::ok(Vec::new())
            }
            Err(e) => self.backend_error(&format!("power {to}"), e),
        }
    }

    fn backend_error(&mut self, operation: &str, error: super::BackendError) -> Answer {
        match error {
            super::BackendError::Unsupported => Answer::code(CompletionCode::InvalidDataField),
            super::BackendError::Failed(why) => self.backend_failed(operation, &why),
        }
    }

    fn backend_failed(&mut self, operation: &str, error: &str) -> Answer {
        self.event(Event::BackendFailed {
            operation: operation.to_string(),
            error: error.to_string(),
        });
        Answer::code(CompletionCode::Unspecified)
    }
}

/// Set Session Privilege Level (App 0x3b): 0 reads the current level; a
/// level above the session's maximum is refused with 0x81.
fn set_privilege(caller: &Caller, data: &[u8]) -> Answer {
    let Ok(request) = SetSessionPrivilegeLevel::decode(data) else {
        return Answer::code(CompletionCode::RequestDataLengthInvalid);
    };
    let new = match request.privilege {
        Privilege::Unknown(0) => caller.privilege,
        Privilege::Unknown(_) => return Answer::code(CompletionCode::InvalidDataField),
        wanted if wanted > caller.max_privilege => {
            return Answer::code(CompletionCode::CommandSpecific(0x81))
        }
        wanted => wanted,
    };
    Answer {
        body: {
            let mut body = vec![0];
            SetSessionPrivilegeLevel { privilege: new }.encode(&mut body);
            body
        },
        effect: Effect::Privilege(new),
    }
}
