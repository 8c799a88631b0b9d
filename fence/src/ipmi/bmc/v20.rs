//! RMCP+ (IPMI 2.0) sessions, BMC side: Open Session, RAKP 1–4, then
//! session packets with integrity (HMAC-SHA1-96 / HMAC-SHA256-128) and
//! AES-CBC-128 as the negotiated suite requires.
//!
//! Status codes (IPMI 2.0 table 13-15) the handshake answers:
//!
//! | situation | message | status |
//! |---|---|---|
//! | an algorithm code the spec does not define | Open Session Response | 0x04 / 0x05 / 0x10 |
//! | no enabled suite matches (suite 0 included) | Open Session Response | 0x11 |
//! | requested privilege not a level / above the channel's | Open Session Response | 0x09 / 0x0a |
//! | session table full | Open Session Response, RAKP 2 | 0x01 |
//! | unknown session ID | RAKP 2, RAKP 4 | 0x02 |
//! | role not a privilege level | RAKP 2 | 0x09 |
//! | unknown user (or name/privilege lookup mismatch) | RAKP 2 | 0x0d |
//! | RAKP 3 code wrong (wrong password) | RAKP 4 | 0x0f |
//!
//! A requested role above the account's limit is not refused (name-only
//! lookup, like OpenBMC): the session's maximum is capped, and raising the
//! privilege beyond it later fails with completion code 0x81.

use std::net::SocketAddr;
use std::time::Instant;

use super::commands::Caller;
use super::session::{Active, Link, Opened, Rakp2Sent, SeqWindow, Session, State};
use super::{Bmc, Event, LoginRefusal, PowerBackend, Protocol};
use crate::ipmi::crypto::{CipherSuite, RakpExchange, SessionKeys};
use crate::ipmi::wire::message::Repr as Message;
use crate::ipmi::wire::open_session::{
    self, Accepted, AuthAlgorithm, ConfidentialityAlgorithm, IntegrityAlgorithm, Status,
};
use crate::ipmi::wire::rakp::{Rakp1, Rakp2, Rakp3, Rakp4, MAX_USER_NAME_LEN};
use crate::ipmi::wire::rmcp::{self, MessageClass};
use crate::ipmi::wire::v20::{self, PayloadType};
use crate::ipmi::wire::Privilege;

/// A session-less RMCP+ datagram (handshake answers, discovery answers).
fn sessionless(payload_type: PayloadType, payload: &[u8]) -> Vec<u8> {
    let packet = v20::Repr {
        payload_type,
        encrypted: false,
        authenticated: false,
        oem: None,
        session_id: 0,
        sequence: 0,
        payload,
    };
    rmcp::wrap(MessageClass::Ipmi, &packet.to_vec())
}

/// An RAKP 2 or RAKP 4 that carries only an error status.
fn rakp_error(payload_type: PayloadType, tag: u8, status: Status, console_id: u32) -> Vec<u8> {
    let payload = if payload_type == PayloadType::Rakp2 {
        Rakp2 {
            tag,
            status,
            console_session_id: console_id,
            managed_random: [0; 16],
            managed_guid: [0; 16],
            auth_code: &[],
        }
        .to_vec()
    } else {
        Rakp4 {
            tag,
            status,
            console_session_id: console_id,
            integrity_check_value: &[],
        }
        .to_vec()
    };
    sessionless(payload_type, &payload)
}

/// What a RAKP exchange is computed over.
fn exchange<'a>(
    session_id: u32,
    opened: &Opened,
    rakp: &Rakp2Sent,
    guid: [u8; 16],
    user_name: &'a [u8],
) -> RakpExchange<'a> {
    RakpExchange {
        algorithm: opened.suite.algorithms().authentication,
        console_session_id: opened.console_id,
        managed_session_id: session_id,
        console_random: rakp.console_random,
        managed_random: rakp.managed_random,
        managed_guid: guid,
        role: rakp.role,
        user_name,
    }
}

impl<P: PowerBackend> Bmc<P> {
    /// An RMCP+ packet (after the RMCP header).
    pub(super) fn handle_v20(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) {
        let packet = match v20::Packet::new_checked(bytes) {
            Ok(p) => p,
            Err(e) => return self.malformed(from, e.message()),
        };
        if packet.session_id() != 0 {
            return self.v20_in_session(now, from, &packet);
        }
        if packet.authenticated() || packet.encrypted() {
            return self.drop_datagram(
                from,
                "session-less RMCP+ packet marked authenticated or encrypted".into(),
            );
        }
        let payload = packet.payload();
        match packet.payload_type() {
            PayloadType::OpenSessionRequest => self.open_session(now, from, payload),
            PayloadType::Rakp1 => self.rakp1(now, from, payload),
            PayloadType::Rakp3 => self.rakp3(now, from, payload),
            PayloadType::Ipmi => {
                let message = match Message::parse(payload) {
                    Ok(m) if !m.response => m,
                    Ok(_) => {
                        return self.drop_datagram(from, "an IPMI response sent to the BMC".into())
                    }
                    Err(e) => return self.malformed(from, e.message()),
                };
                let body = if super::commands::is_get_session_challenge(&message) {
                    // IPMI 1.5 challenges need IPMI 1.5 framing.
                    vec![
                        crate::ipmi::wire::message::CompletionCode::NotSupportedInPresentState
                            .into(),
                    ]
                } else {
                    self.answer_sessionless(&message)
                };
                let answer = message.response_to(&body).to_vec();
                self.send(from, sessionless(PayloadType::Ipmi, &answer));
            }
            other => self.drop_datagram(from, format!("session-less {other} not served")),
        }
    }

    /// The enabled suite matching the proposal (null records match anything;
    /// the configured order decides), or the status refusing it.
    fn choose_suite(&self, request: &open_session::Request) -> Result<CipherSuite, Status> {
        if let Some(AuthAlgorithm::Unknown(_)) = request.authentication {
            return Err(Status::InvalidAuthenticationAlgorithm);
        }
        if let Some(IntegrityAlgorithm::Unknown(_)) = request.integrity {
            return Err(Status::InvalidIntegrityAlgorithm);
        }
        if let Some(ConfidentialityAlgorithm::Unknown(_)) = request.confidentiality {
            return Err(Status::InvalidConfidentialityAlgorithm);
        }
        self.config
            .cipher_suites
            .iter()
            .filter_map(|&id| CipherSuite::from_id(id).ok())
            .find(|suite| {
                let a = suite.algorithms();
                request
                    .authentication
                    .map_or(true, |x| x == a.authentication)
                    && request.integrity.map_or(true, |x| x == a.integrity)
                    && request
                        .confidentiality
                        .map_or(true, |x| x == a.confidentiality)
            })
            .ok_or(Status::NoMatchingCipherSuite)
    }

    /// Open Session Request (payload 0x10).
    fn open_session(&mut self, now: Instant, from: SocketAddr, payload: &[u8]) {
        let request = match open_session::Request::parse(payload) {
            Ok(r) => r,
            Err(e) => return self.malformed(from, e.message()),
        };
        if let Some(Session {
            state: State::Opened(opened),
            ..
        }) = self.table.find_opened(from, payload)
        {
            let response = opened.response.clone();
            return self.send(from, response);
        }
        let refuse = |status: Status| open_session::Response {
            tag: request.tag,
            status,
            max_privilege: Privilege::Unknown(0),
            console_session_id: Some(request.console_session_id),
            accepted: None,
        };
        let decision = self
            .choose_suite(&request)
            .map_err(|status| (status, LoginRefusal::CipherSuite(status)));
        let decision = decision.and_then(|suite| {
            let limit = self.config.channel_privilege_limit;
            let max = match request.max_privilege {
                Privilege::Unknown(0) => limit,
                Privilege::Unknown(_) => {
                    return Err((
                        Status::InvalidRole,
                        LoginRefusal::Refused(Status::InvalidRole),
                    ))
                }
                p if p > limit => {
                    return Err((Status::UnauthorizedRole, LoginRefusal::PrivilegeExceeded(p)))
                }
                p => p,
            };
            if request.console_session_id == 0 {
                return Err((
                    Status::IllegalParameter,
                    LoginRefusal::Refused(Status::IllegalParameter),
                ));
            }
            if !self.has_slot(None) {
                return Err((Status::InsufficientResources, LoginRefusal::NoSlot));
            }
            Ok((suite, max))
        });
        let (suite, max_privilege) = match decision {
            Ok(d) => d,
            Err((status, why)) => {
                self.refuse(from, None, why);
                let datagram =
                    sessionless(PayloadType::OpenSessionResponse, &refuse(status).to_vec());
                return self.send(from, datagram);
            }
        };
        let id = self.fresh_id();
        let response = open_session::Response {
            tag: request.tag,
            status: Status::NoErrors,
            max_privilege,
            console_session_id: Some(request.console_session_id),
            accepted: Some(Accepted {
                managed_session_id: id,
                algorithms: suite.algorithms(),
            }),
        };
        let datagram = sessionless(PayloadType::OpenSessionResponse, &response.to_vec());
        self.table.insert(Session {
            id,
            peer: from,
            expires: now + self.config.handshake_timeout,
            state: State::Opened(Opened {
                console_id: request.console_session_id,
                suite,
                max_privilege,
                request: payload.to_vec(),
                response: datagram.clone(),
            }),
        });
        self.send(from, datagram);
    }

    /// RAKP Message 1 (payload 0x12): answered by RAKP 2.
    fn rakp1(&mut self, now: Instant, from: SocketAddr, payload: &[u8]) {
        let rakp1 = match Rakp1::parse(payload) {
            Ok(r) => r,
            Err(e) => {
                // A name longer than 16 bytes has its own status.
                if payload.len() >= 28 && usize::from(payload[27]) > MAX_USER_NAME_LEN {
                    let id = u32::from_le_bytes([payload[4], payload[5], payload[6], payload[7]]);
                    let console = self.console_id_of(id);
                    if let Some(State::Opened(_) | State::Rakp2Sent(_)) =
                        self.table.get(id).map(|s| &s.state)
                    {
                        self.table.remove(id);
                    }
                    self.refuse(from, None, LoginRefusal::Refused(Status::InvalidNameLength));
                    let d = rakp_error(
                        PayloadType::Rakp2,
                        payload[0],
                        Status::InvalidNameLength,
                        console,
                    );
                    return self.send(from, d);
                }
                return self.malformed(from, e.message());
            }
        };
        let id = rakp1.managed_session_id;
        let opened = match self.table.get(id).map(|s| &s.state) {
            Some(State::Opened(o)) => o.clone(),
            Some(State::Rakp2Sent(r)) if r.rakp1 == payload => {
                // A retransmission: the same answer again.
                let d = r.rakp2.clone();
                return self.send(from, d);
            }
            // A different RAKP 1 restarts the key exchange.
            Some(State::Rakp2Sent(r)) => r.opened.clone(),
            _ => {
                self.counters.unknown_session += 1;
                let d = rakp_error(PayloadType::Rakp2, rakp1.tag, Status::InvalidSessionId, 0);
                return self.send(from, d);
            }
        };
        let fail = |bmc: &mut Self, status: Status, user: Option<usize>, why: LoginRefusal| {
            bmc.table.remove(id);
            bmc.refuse(from, user, why);
            let d = rakp_error(PayloadType::Rakp2, rakp1.tag, status, opened.console_id);
            bmc.send(from, d);
        };
        if let Privilege::Unknown(_) = rakp1.role.privilege {
            return fail(
                self,
                Status::InvalidRole,
                None,
                LoginRefusal::Refused(Status::InvalidRole),
            );
        }
        let Some(user) = self.config.user_index(rakp1.user_name) else {
            return fail(
                self,
                Status::UnauthorizedName,
                None,
                LoginRefusal::UnknownUser,
            );
        };
        if !rakp1.role.name_only_lookup
            && rakp1.role.privilege != self.config.users[user].privilege_limit
        {
            // Name/privilege lookup: no account of that name at that level.
            return fail(
                self,
                Status::UnauthorizedName,
                Some(user),
                LoginRefusal::PrivilegeExceeded(rakp1.role.privilege),
            );
        }
        let held = self.table.count_user(user)
            - usize::from(self.table.get(id).and_then(Session::user) == Some(user));
        if held >= self.config.users[user].max_sessions {
            return fail(
                self,
                Status::InsufficientResources,
                Some(user),
                LoginRefusal::NoSlot,
            );
        }
        let max_privilege =
            self.cap_privilege(rakp1.role.privilege.min(opened.max_privilege), user);
        let mut state = Rakp2Sent {
            opened: opened.clone(),
            user,
            role: rakp1.role.to_byte(),
            console_random: rakp1.console_random,
            managed_random: self.random.array(),
            max_privilege,
            rakp1: payload.to_vec(),
            rakp2: Vec::new(),
        };
        let guid = self.config.guid;
        let code = exchange(id, &opened, &state, guid, rakp1.user_name)
            .rakp2_auth_code(&self.config.users[user].password);
        let code = match code {
            Ok(c) => c,
            Err(e) => {
                let why = LoginRefusal::Refused(Status::InvalidAuthenticationAlgorithm);
                self.drop_datagram(from, e.message().to_string());
                return fail(
                    self,
                    Status::InvalidAuthenticationAlgorithm,
                    Some(user),
                    why,
                );
            }
        };
        let rakp2 = Rakp2 {
            tag: rakp1.tag,
            status: Status::NoErrors,
            console_session_id: opened.console_id,
            managed_random: state.managed_random,
            managed_guid: guid,
            auth_code: &code,
        };
        state.rakp2 = sessionless(PayloadType::Rakp2, &rakp2.to_vec());
        let datagram = state.rakp2.clone();
        if let Some(session) = self.table.get_mut(id) {
            session.state = State::Rakp2Sent(state);
            session.peer = from;
            session.expires = now + self.config.handshake_timeout;
        }
        self.send(from, datagram);
    }

    /// RAKP Message 3 (payload 0x14): answered by RAKP 4; the session is
    /// established.
    fn rakp3(&mut self, now: Instant, from: SocketAddr, payload: &[u8]) {
        let rakp3 = match Rakp3::parse(payload) {
            Ok(r) => r,
            Err(e) => return self.malformed(from, e.message()),
        };
        let id = rakp3.managed_session_id;
        let rakp = match self.table.get(id).map(|s| &s.state) {
            Some(State::Rakp2Sent(r)) => r.clone(),
            Some(State::Active(Active {
                last_handshake: Some((request, response)),
                ..
            })) if request == payload => {
                // A retransmission: the same answer again.
                let d = response.clone();
                return self.send(from, d);
            }
            other => {
                let console = match other {
                    Some(State::Opened(o)) => o.console_id,
                    _ => 0,
                };
                self.counters.unknown_session += 1;
                let d = rakp_error(
                    PayloadType::Rakp4,
                    rakp3.tag,
                    Status::InvalidSessionId,
                    console,
                );
                return self.send(from, d);
            }
        };
        let user = rakp.user;
        if rakp3.status != Status::NoErrors {
            // The console refused our RAKP 2 (ipmitool: "RAKP 2 HMAC is
            // invalid", i.e. its password differs). Nothing to answer.
            self.table.remove(id);
            return self.refuse(
                from,
                Some(user),
                LoginRefusal::RejectedByConsole(rakp3.status),
            );
        }
        let name = self.config.users[user].name.clone();
        let password = self.config.users[user].password.clone();
        let x = exchange(id, &rakp.opened, &rakp, self.config.guid, name.as_bytes());
        if !x.verify_rakp3(&password, rakp3.auth_code).unwrap_or(false) {
            self.table.remove(id);
            self.counters.bad_auth += 1;
            self.refuse(from, Some(user), LoginRefusal::WrongPassword);
            let d = rakp_error(
                PayloadType::Rakp4,
                rakp3.tag,
                Status::InvalidIntegrityCheckValue,
                rakp.opened.console_id,
            );
            return self.send(from, d);
        }
        let kg = if self.config.kg.is_empty() {
            &password
        } else {
            &self.config.kg
        };
        let keys = x.session_integrity_key(kg).and_then(|sik| {
            let icv = x.rakp4_integrity_check_value(&sik)?;
            let keys = SessionKeys::derive(rakp.opened.suite.algorithms(), &sik)?;
            Ok((icv, keys))
        });
        let (icv, keys) = match keys {
            Ok(k) => k,
            Err(e) => {
                self.table.remove(id);
                return self.drop_datagram(from, e.message().to_string());
            }
        };
        let rakp4 = Rakp4 {
            tag: rakp3.tag,
            status: Status::NoErrors,
            console_session_id: rakp.opened.console_id,
            integrity_check_value: &icv,
        };
        let datagram = sessionless(PayloadType::Rakp4, &rakp4.to_vec());
        let active = Active {
            user,
            max_privilege: rakp.max_privilege,
            privilege: rakp.max_privilege.min(Privilege::User),
            inbound: SeqWindow::open(),
            outbound: 1,
            link: Link::V20 {
                console_id: rakp.opened.console_id,
                keys: Box::new(keys),
            },
            last_handshake: Some((payload.to_vec(), datagram.clone())),
        };
        if let Some(session) = self.table.get_mut(id) {
            session.state = State::Active(active);
            session.peer = from;
            session.expires = now + self.config.session_timeout;
        }
        self.counters.sessions_opened += 1;
        self.event(Event::SessionOpened {
            session_id: id,
            user: name,
            protocol: Protocol::V20(rakp.opened.suite),
            max_privilege: rakp.max_privilege,
            peer: from,
        });
        self.send(from, datagram);
    }

    /// The console session ID of a negotiating session (0 if unknown).
    fn console_id_of(&self, id: u32) -> u32 {
        match self.table.get(id).map(|s| &s.state) {
            Some(State::Opened(o)) => o.console_id,
            Some(State::Rakp2Sent(r)) => r.opened.console_id,
            Some(State::Active(Active {
                link: Link::V20 { console_id, .. },
                ..
            })) => *console_id,
            _ => 0,
        }
    }

    /// A packet of an established RMCP+ session.
    fn v20_in_session(&mut self, now: Instant, from: SocketAddr, packet: &v20::Packet<&[u8]>) {
        let id = packet.session_id();
        let seq = packet.sequence();
        let (caller, plain) = {
            let Some(entry) = self.table.get_mut(id) else {
                self.counters.unknown_session += 1;
                return self.drop_datagram(from, format!("unknown session 0x{id:08x}"));
            };
            let State::Active(active) = &mut entry.state else {
                self.counters.unknown_session += 1;
                return self.drop_datagram(from, format!("session 0x{id:08x} is not established"));
            };
            let Link::V20 { keys, .. } = &active.link else {
                self.counters.unknown_session += 1;
                return self
                    .drop_datagram(from, format!("session 0x{id:08x} is an IPMI 1.5 session"));
            };
            if keys.authenticates() {
                let verified = packet.authenticated()
                    && packet
                        .split_auth_code(keys.auth_code_len())
                        .is_ok_and(|(covered, code)| keys.verify(covered, code));
                if !verified {
                    self.counters.bad_auth += 1;
                    return self.drop_datagram(
                        from,
                        format!("integrity check failed in session 0x{id:08x}"),
                    );
                }
            } else if packet.authenticated() {
                self.counters.malformed += 1;
                return self.drop_datagram(
                    from,
                    format!("session 0x{id:08x} has no integrity algorithm, packet claims one"),
                );
            }
            if !active.inbound.check(seq) {
                self.counters.replayed += 1;
                return self.drop_datagram(
                    from,
                    format!("sequence 0x{seq:08x} outside the window of session 0x{id:08x}"),
                );
            }
            if packet.encrypted() != keys.encrypts() {
                self.counters.malformed += 1;
                return self.drop_datagram(
                    from,
                    format!("packet encryption does not match session 0x{id:08x}'s suite"),
                );
            }
            if packet.payload_type() != PayloadType::Ipmi {
                return self.drop_datagram(
                    from,
                    format!("{} payloads are not served", packet.payload_type()),
                );
            }
            let plain = match keys.decrypt(packet.payload()) {
                Ok(p) => p,
                Err(e) => {
                    self.counters.malformed += 1;
                    return self.drop_datagram(from, e.message().to_string());
                }
            };
            active.inbound.record(seq);
            active.last_handshake = None;
            entry.expires = now + self.config.session_timeout;
            entry.peer = from;
            let caller = Caller {
                id,
                user: active.user,
                privilege: active.privilege,
                max_privilege: active.max_privilege,
            };
            (caller, plain)
        };
        let message = match Message::parse(&plain) {
            Ok(m) if !m.response => m,
            Ok(_) => return self.drop_datagram(from, "an IPMI response sent to the BMC".into()),
            Err(e) => return self.malformed(from, e.message()),
        };
        let answer = self.answer_in_session(now, &caller, &message);
        let response = message.response_to(&answer.body).to_vec();
        let iv = self.random.array();
        let Some(State::Active(active)) = self.table.get_mut(id).map(|s| &mut s.state) else {
            return;
        };
        let sequence = active.next_outbound();
        let Link::V20 {
            console_id, keys, ..
        } = &active.link
        else {
            return;
        };
        let payload = keys.encrypt(&response, iv);
        let packet = v20::Repr {
            payload_type: PayloadType::Ipmi,
            encrypted: keys.encrypts(),
            authenticated: keys.authenticates(),
            oem: None,
            session_id: *console_id,
            sequence,
            payload: &payload,
        };
        let bytes = packet.to_vec_signed(keys.auth_code_len(), |covered| keys.sign(covered));
        self.send(from, rmcp::wrap(MessageClass::Ipmi, &bytes));
        self.apply_effect(&caller, answer.effect);
    }
}
