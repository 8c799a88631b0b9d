//! IPMI 1.5 sessions, BMC side: session-less discovery, Get Session
//! Challenge, Activate Session, then authenticated messages (MD5 or straight
//! password in every packet, a sequence window).
//!
//! A packet whose auth code does not verify is dropped without an answer,
//! Activate Session included: an answer could not be authenticated, and
//! the spec has the BMC stay silent (so a client with a wrong password
//! times out, as against every real BMC).

use std::net::SocketAddr;
use std::time::Instant;

use super::commands::{self, Caller};
use super::session::{Active, Challenge, Link, SeqWindow, Session, State};
use super::{Bmc, Event, LoginRefusal, PowerBackend, Protocol};
use crate::ipmi::commands::{
    ActivateSession, Body, GetSessionChallenge, SessionActivated, SessionChallenge,
};
use crate::ipmi::crypto::{v15_auth_code, verify_v15_auth_code};
use crate::ipmi::wire::message::{CompletionCode, Repr as Message};
use crate::ipmi::wire::rmcp::{self, MessageClass};
use crate::ipmi::wire::v15::{self, AuthType};
use crate::ipmi::wire::Privilege;

/// One IPMI 1.5 answer to build: who signs it and with what header.
struct Reply<'a> {
    auth_type: AuthType,
    password: &'a [u8],
    session_id: u32,
    sequence: u32,
}

/// The datagram answering `request` with `body` (completion code first).
fn reply_datagram(reply: &Reply<'_>, request: &Message<'_>, body: &[u8]) -> Vec<u8> {
    let message = request.response_to(body).to_vec();
    // Only MD5 and straight password reach here (none for session-less
    // answers); the fallback of zeros is never used.
    let auth_code = v15_auth_code(
        reply.auth_type,
        reply.password,
        reply.session_id,
        reply.sequence,
        &message,
    )
    .unwrap_or([0; v15::AUTH_CODE_LEN]);
    let session = v15::Repr {
        auth_type: reply.auth_type,
        sequence: reply.sequence,
        session_id: reply.session_id,
        auth_code,
        message: &message,
    };
    rmcp::wrap(MessageClass::Ipmi, &session.to_vec())
}

const SESSIONLESS: Reply<'static> = Reply {
    auth_type: AuthType::None,
    password: &[],
    session_id: 0,
    sequence: 0,
};

impl<P: PowerBackend> Bmc<P> {
    /// An IPMI 1.5 session packet (after the RMCP header).
    pub(super) fn handle_v15(&mut self, now: Instant, from: SocketAddr, bytes: &[u8]) {
        let session = match v15::Repr::parse_bytes(bytes) {
            Ok(s) => s,
            Err(e) => return self.malformed(from, e.message()),
        };
        let message = match Message::parse(session.message) {
            Ok(m) => m,
            Err(e) => return self.malformed(from, e.message()),
        };
        if message.response {
            return self.drop_datagram(from, "an IPMI response sent to the BMC".into());
        }
        if session.session_id == 0 {
            if session.auth_type != AuthType::None || session.sequence != 0 {
                return self.drop_datagram(
                    from,
                    "session-less IPMI 1.5 message with an auth type or sequence number".into(),
                );
            }
            let body = if commands::is_get_session_challenge(&message) {
                self.session_challenge(now, from, message.body)
            } else {
                self.answer_sessionless(&message)
            };
            let datagram = reply_datagram(&SESSIONLESS, &message, &body);
            return self.send(from, datagram);
        }
        if commands::is_activate_session(&message) {
            if let Some(challenge) = self.table.take_challenge(session.session_id) {
                return self.activate(now, from, bytes, &session, &message, challenge);
            }
            // A retransmitted Activate Session (its answer was lost).
            if let Some(State::Active(Active {
                last_handshake: Some((request, response)),
                ..
            })) = self
                .table
                .find_by_temp_id(session.session_id)
                .map(|s| &s.state)
            {
                if request == bytes {
                    let response = response.clone();
                    return self.send(from, response);
                }
            }
        }
        self.v15_in_session(now, from, &session, &message);
    }

    /// Get Session Challenge (App 0x39): the body of the answer.
    fn session_challenge(&mut self, now: Instant, from: SocketAddr, data: &[u8]) -> Vec<u8> {
        let Ok(request) = GetSessionChallenge::decode(data) else {
            return vec![CompletionCode::RequestDataLengthInvalid.into()];
        };
        let end = request
            .user_name
            .iter()
            .rposition(|&b| b != 0)
            .map_or(0, |i| i + 1);
        let name = &request.user_name[..end];
        if name.is_empty() {
            self.refuse(from, None, LoginRefusal::UnknownUser);
            return vec![0x82];
        }
        let Some(user) = self.config.user_index(name) else {
            self.refuse(from, None, LoginRefusal::UnknownUser);
            return vec![0x81];
        };
        if !self.config.v15.allows(request.auth_type) {
            self.refuse(from, Some(user), LoginRefusal::AuthType(request.auth_type));
            return vec![CompletionCode::InvalidDataField.into()];
        }
        let temp_id = self.fresh_id();
        let challenge = self.random.array::<16>();
        let limit = self.config.max_sessions.saturating_mul(2);
        self.table.add_challenge(
            Challenge {
                temp_id,
                user,
                challenge,
                expires: now + self.config.handshake_timeout,
            },
            limit,
        );
        let mut body = vec![0];
        SessionChallenge {
            temporary_session_id: temp_id,
            challenge,
        }
        .encode(&mut body);
        body
    }

    /// Activate Session (App 0x3a) on a challenge's temporary session ID.
    fn activate(
        &mut self,
        now: Instant,
        from: SocketAddr,
        bytes: &[u8],
        session: &v15::Repr<'_>,
        message: &Message<'_>,
        challenge: Challenge,
    ) {
        let user = challenge.user;
        if !self.config.v15.allows(session.auth_type) {
            return self.refuse(from, Some(user), LoginRefusal::AuthType(session.auth_type));
        }
        let password = self.config.users[user].password.clone();
        if !verify_v15_auth_code(
            session.auth_type,
            &password,
            session.session_id,
            session.sequence,
            session.message,
            &session.auth_code,
        ) {
            self.counters.bad_auth += 1;
            return self.refuse(from, Some(user), LoginRefusal::WrongPassword);
        }
        // From here answers can be authenticated with the password.
        let mut reply = Reply {
            auth_type: session.auth_type,
            password: &password,
            session_id: session.session_id,
            sequence: 0,
        };
        let request = match ActivateSession::decode(message.body) {
            Ok(r) => r,
            Err(_) => {
                let d = reply_datagram(
                    &reply,
                    message,
                    &[CompletionCode::RequestDataLengthInvalid.into()],
                );
                return self.send(from, d);
            }
        };
        if request.challenge != challenge.challenge {
            return self.drop_datagram(from, "Activate Session with a wrong challenge".into());
        }
        reply.sequence = request.initial_outbound_sequence;
        let refusal = if !self.config.v15.allows(request.auth_type) {
            Some((
                CompletionCode::InvalidDataField.into(),
                LoginRefusal::AuthType(request.auth_type),
            ))
        } else if request.initial_outbound_sequence == 0 {
            Some((
                0x84,
                LoginRefusal::Refused(crate::ipmi::wire::open_session::Status::IllegalParameter),
            ))
        } else if matches!(request.max_privilege, Privilege::Unknown(_)) {
            Some((
                CompletionCode::InvalidDataField.into(),
                LoginRefusal::PrivilegeExceeded(request.max_privilege),
            ))
        } else if self.cap_privilege(request.max_privilege, user) != request.max_privilege {
            Some((0x86, LoginRefusal::PrivilegeExceeded(request.max_privilege)))
        } else if self.table.len() >= self.config.max_sessions {
            Some((0x81, LoginRefusal::NoSlot))
        } else if !self.has_slot(Some(user)) {
            Some((0x82, LoginRefusal::NoSlot))
        } else {
            None
        };
        if let Some((code, why)) = refusal {
            self.refuse(from, Some(user), why);
            let d = reply_datagram(&reply, message, &[code]);
            return self.send(from, d);
        }
        let id = self.fresh_id();
        let inbound = self.random.nonzero_u32();
        let mut active = Active {
            user,
            max_privilege: request.max_privilege,
            privilege: request.max_privilege.min(Privilege::User),
            inbound: SeqWindow::starting_at(inbound),
            outbound: request.initial_outbound_sequence,
            link: Link::V15 {
                auth_type: request.auth_type,
                temp_id: session.session_id,
            },
            last_handshake: None,
        };
        reply.sequence = active.next_outbound();
        let mut body = vec![0];
        SessionActivated {
            auth_type: request.auth_type,
            session_id: id,
            initial_inbound_sequence: inbound,
            max_privilege: request.max_privilege,
        }
        .encode(&mut body);
        let datagram = reply_datagram(&reply, message, &body);
        active.last_handshake = Some((bytes.to_vec(), datagram.clone()));
        self.table.insert(Session {
            id,
            peer: from,
            expires: now + self.config.session_timeout,
            state: State::Active(active),
        });
        self.counters.sessions_opened += 1;
        let name = self.user_name(user);
        self.event(Event::SessionOpened {
            session_id: id,
            user: name,
            protocol: Protocol::V15(request.auth_type),
            max_privilege: request.max_privilege,
            peer: from,
        });
        self.send(from, datagram);
    }

    /// A message in an established IPMI 1.5 session.
    fn v15_in_session(
        &mut self,
        now: Instant,
        from: SocketAddr,
        session: &v15::Repr<'_>,
        message: &Message<'_>,
    ) {
        let id = session.session_id;
        let caller = {
            let Some(entry) = self.table.get_mut(id) else {
                self.counters.unknown_session += 1;
                return self.drop_datagram(from, format!("unknown session 0x{id:08x}"));
            };
            let State::Active(active) = &mut entry.state else {
                self.counters.unknown_session += 1;
                return self.drop_datagram(from, format!("session 0x{id:08x} is not established"));
            };
            let Link::V15 { auth_type, .. } = active.link else {
                self.counters.unknown_session += 1;
                return self.drop_datagram(from, format!("session 0x{id:08x} is an RMCP+ session"));
            };
            let password = &self.config.users[active.user].password;
            if session.auth_type != auth_type
                || !verify_v15_auth_code(
                    auth_type,
                    password,
                    id,
                    session.sequence,
                    session.message,
                    &session.auth_code,
                )
            {
                self.counters.bad_auth += 1;
                return self.drop_datagram(from, format!("bad auth code in session 0x{id:08x}"));
            }
            if !active.inbound.check(session.sequence) {
                self.counters.replayed += 1;
                return self.drop_datagram(
                    from,
                    format!(
                        "sequence 0x{:08x} outside the window of session 0x{id:08x}",
                        session.sequence
                    ),
                );
            }
            active.inbound.record(session.sequence);
            active.last_handshake = None;
            entry.expires = now + self.config.session_timeout;
            entry.peer = from;
            Caller {
                id,
                user: active.user,
                privilege: active.privilege,
                max_privilege: active.max_privilege,
            }
        };
        let answer = self.answer_in_session(now, &caller, message);
        let Some(entry) = self.table.get_mut(id) else {
            return;
        };
        let State::Active(active) = &mut entry.state else {
            return;
        };
        let Link::V15 { auth_type, .. } = active.link else {
            return;
        };
        let reply = Reply {
            auth_type,
            password: &self.config.users[active.user].password,
            session_id: id,
            sequence: active.next_outbound(),
        };
        let datagram = reply_datagram(&reply, message, &answer.body);
        self.send(from, datagram);
        self.apply_effect(&caller, answer.effect);
    }
}
