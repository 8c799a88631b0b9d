//! The IPMI 1.5 session handshake, one type per state:
//!
//! ```text
//!  ExpectAuthCaps    sent Get Channel Authentication Capabilities  -> pick MD5 / password / none
//!  ExpectChallenge   sent Get Session Challenge (user name)        -> temporary session, challenge
//!  ExpectActivate    sent Activate Session (authenticated)         -> Session::V15
//! ```
//!
//! A BMC silently drops an Activate Session whose auth code is wrong, so
//! silence in `ExpectActivate` is reported as a probable wrong password.

use super::config::V15Auth;
use super::session::{Session, V15Session};
use super::{Context, Outgoing, Phase, Step};
use crate::ipmi::commands::{
    self, ActivateSession, ChannelAuthCapabilities, GetChannelAuthCapabilities,
    GetSessionChallenge, Request, SessionActivated, SessionChallenge, CURRENT_CHANNEL,
};
use crate::ipmi::crypto;
use crate::ipmi::wire::message::Repr as Message;
use crate::ipmi::wire::rmcp::{self, MessageClass};
use crate::ipmi::wire::v15::{self, AuthType};
use crate::{Error, ErrorKind};

/// Sent Get Channel Authentication Capabilities.
#[derive(Debug)]
pub(super) struct ExpectAuthCaps {
    rq_seq: u8,
    auth: V15Auth,
}

/// Sent Get Session Challenge.
#[derive(Debug)]
pub(super) struct ExpectChallenge {
    rq_seq: u8,
    auth_type: AuthType,
}

/// Sent Activate Session.
#[derive(Debug)]
pub(super) struct ExpectActivate {
    rq_seq: u8,
    auth_type: AuthType,
    initial_outbound_sequence: u32,
}

/// A session-less (or temporary-session) 1.5 request datagram.
fn datagram(cx: &mut Context<'_>, auth_type: AuthType, session_id: u32, message: &[u8]) -> Vec<u8> {
    let auth_code = crypto::v15_auth_code(
        auth_type,
        cx.config.password.expose(),
        session_id,
        0,
        message,
    )
    .unwrap_or([0; v15::AUTH_CODE_LEN]);
    let repr = v15::Repr {
        auth_type,
        sequence: 0,
        session_id,
        auth_code,
        message,
    };
    rmcp::wrap(MessageClass::Ipmi, &repr.to_vec())
}

fn request<R: Request>(
    cx: &mut Context<'_>,
    body: &R,
    auth_type: AuthType,
    session_id: u32,
) -> (u8, Outgoing) {
    let rq_seq = cx.next_rq_seq();
    let data = body.to_vec();
    let message = Message::request(R::NETFN, R::COMMAND, rq_seq, &data).to_vec();
    let summary = match Message::parse(&message) {
        Ok(m) => format!("IPMI 1.5 [{auth_type}] {}", commands::summary(&m)),
        Err(_) => R::NAME.to_string(),
    };
    let datagram = datagram(cx, auth_type, session_id, &message);
    (
        rq_seq,
        Outgoing {
            datagram,
            summary,
            expect: format!("{} response", R::NAME),
            message: None,
        },
    )
}

/// The response to our request `rq_seq` of type `R` in a 1.5 datagram, or
/// why the datagram is not it.
fn response<'a, R: Request>(
    bytes: &'a [u8],
    rq_seq: u8,
) -> Result<(v15::Repr<'a>, Message<'a>), String> {
    let packet = rmcp::Packet::new_checked(bytes).map_err(|e| e.message().to_string())?;
    let header = rmcp::Repr::parse(&packet).map_err(|e| e.message().to_string())?;
    if header.class != MessageClass::Ipmi {
        return Err(format!(
            "RMCP class {:?} while waiting for {}",
            header.class,
            R::NAME
        ));
    }
    let body = &bytes[rmcp::HEADER_LEN..];
    let session = v15::Repr::parse_bytes(body).map_err(|e| e.message().to_string())?;
    let message = Message::parse(session.message).map_err(|e| e.message().to_string())?;
    if !message.response
        || message.netfn != R::NETFN
        || message.command != R::COMMAND
        || message.sequence != rq_seq
    {
        return Err(format!(
            "expected {} response (rqSeq {rq_seq}), got {}",
            R::NAME,
            commands::summary(&message)
        ));
    }
    Ok((session, message))
}

fn completion_error<R: Request>(message: &Message<'_>, kind: ErrorKind) -> Option<Error> {
    let code = message.completion_code().map(u8::from).unwrap_or(0xff);
    if code == 0 {
        return None;
    }
    let text = commands::describe_completion(R::NETFN, R::COMMAND, code);
    Some(Error::new(kind, format!("{} failed: {text}", R::NAME)).with_code(u32::from(code)))
}

fn decode<R: Request>(message: &Message<'_>) -> Result<R::Response, Error> {
    commands::decode_response::<R>(message.response_data())
        .map_err(|e| Error::new(ErrorKind::DeviceMisbehaved, e.message().to_string()))
}

impl ExpectAuthCaps {
    /// Starts the handshake.
    pub fn start(cx: &mut Context<'_>, auth: V15Auth) -> (Phase, Outgoing) {
        let body = GetChannelAuthCapabilities {
            extended: false,
            channel: CURRENT_CHANNEL,
            privilege: cx.config.privilege,
        };
        let (rq_seq, out) = request(cx, &body, AuthType::None, 0);
        (Phase::V15AuthCaps(ExpectAuthCaps { rq_seq, auth }), out)
    }

    pub fn handle(self, cx: &mut Context<'_>, bytes: &[u8]) -> Result<Step, Error> {
        let (_, message) = match response::<GetChannelAuthCapabilities>(bytes, self.rq_seq) {
            Ok(r) => r,
            Err(why) => return Ok(Step::Ignore(Phase::V15AuthCaps(self), why)),
        };
        cx.accepted(format!("IPMI 1.5 {}", commands::summary(&message)));
        if let Some(e) =
            completion_error::<GetChannelAuthCapabilities>(&message, ErrorKind::DeviceIncompatible)
        {
            return Err(e);
        }
        let caps: ChannelAuthCapabilities = decode::<GetChannelAuthCapabilities>(&message)?;
        let wanted = self.auth;
        let Some(&auth_type) = wanted.candidates().iter().find(|t| caps.supports(**t)) else {
            return Err(Error::new(
                ErrorKind::DeviceIncompatible,
                format!(
                    "the BMC offers IPMI 1.5 auth types {} for {}; ironbeat accepts {} here. \
                     Enable MD5 on the BMC, set auth=password or auth=none if you accept the \
                     risk, or use lanplus",
                    caps.auth_type_names(),
                    cx.config.privilege,
                    wanted
                        .candidates()
                        .iter()
                        .map(|t| t.to_string())
                        .collect::<Vec<_>>()
                        .join(" or ")
                ),
            ));
        };
        cx.note(format!("IPMI 1.5 auth type {auth_type} chosen"));
        let mut user_name = [0u8; 16];
        let n = cx.config.user.len().min(16);
        user_name[..n].copy_from_slice(&cx.config.user.as_bytes()[..n]);
        let body = GetSessionChallenge {
            auth_type,
            user_name,
        };
        let (rq_seq, out) = request(cx, &body, AuthType::None, 0);
        Ok(Step::Send(
            Phase::V15Challenge(ExpectChallenge { rq_seq, auth_type }),
            out,
        ))
    }
}

impl ExpectChallenge {
    pub fn handle(self, cx: &mut Context<'_>, bytes: &[u8]) -> Result<Step, Error> {
        let (_, message) = match response::<GetSessionChallenge>(bytes, self.rq_seq) {
            Ok(r) => r,
            Err(why) => return Ok(Step::Ignore(Phase::V15Challenge(self), why)),
        };
        cx.accepted(format!("IPMI 1.5 {}", commands::summary(&message)));
        if let Some(e) = completion_error::<GetSessionChallenge>(&message, ErrorKind::Auth) {
            return Err(Error::new(
                ErrorKind::Auth,
                format!("user {:?}: {}", cx.config.user, e.message()),
            )
            .with_code(e.code().unwrap_or(0)));
        }
        let challenge: SessionChallenge = decode::<GetSessionChallenge>(&message)?;
        let initial_outbound_sequence = cx.rng.nonzero_u32();
        let body = ActivateSession {
            auth_type: self.auth_type,
            max_privilege: cx.config.privilege,
            challenge: challenge.challenge,
            initial_outbound_sequence,
        };
        let (rq_seq, out) = request(cx, &body, self.auth_type, challenge.temporary_session_id);
        Ok(Step::Send(
            Phase::V15Activate(ExpectActivate {
                rq_seq,
                auth_type: self.auth_type,
                initial_outbound_sequence,
            }),
            out,
        ))
    }
}

impl ExpectActivate {
    pub fn handle(self, cx: &mut Context<'_>, bytes: &[u8]) -> Result<Step, Error> {
        let (session, message) = match response::<ActivateSession>(bytes, self.rq_seq) {
            Ok(r) => r,
            Err(why) => return Ok(Step::Ignore(Phase::V15Activate(self), why)),
        };
        let code = message.completion_code().map(u8::from).unwrap_or(0xff);
        // A success must carry our auth code; an error may come unauthenticated
        // (it cannot make us believe anything but a failure).
        let authentic = session.auth_type == self.auth_type
            && crypto::verify_v15_auth_code(
                self.auth_type,
                cx.config.password.expose(),
                session.session_id,
                session.sequence,
                session.message,
                &session.auth_code,
            );
        if !authentic && code == 0 {
            return Ok(Step::Ignore(
                Phase::V15Activate(self),
                "Activate Session response with a wrong auth code (forged, or the BMC uses \
                 another password)"
                    .into(),
            ));
        }
        cx.accepted(format!(
            "IPMI 1.5 [{}] {}",
            session.auth_type,
            commands::summary(&message)
        ));
        if let Some(e) = completion_error::<ActivateSession>(&message, ErrorKind::Auth) {
            let kind = match code {
                0x81..=0x83 => ErrorKind::DeviceMisbehaved,
                _ => ErrorKind::Auth,
            };
            return Err(Error::new(kind, e.message().to_string()).with_code(u32::from(code)));
        }
        let activated: SessionActivated = decode::<ActivateSession>(&message)?;
        if activated.auth_type != self.auth_type {
            return Err(Error::new(
                ErrorKind::DeviceMisbehaved,
                format!(
                    "the BMC activated the session with auth type {}, we asked for {}",
                    activated.auth_type, self.auth_type
                ),
            ));
        }
        Ok(Step::Established(Session::V15(V15Session {
            auth_type: self.auth_type,
            password: cx.config.password.clone(),
            session_id: activated.session_id,
            outbound: if activated.initial_inbound_sequence == 0 {
                1
            } else {
                activated.initial_inbound_sequence
            },
            inbound: self.initial_outbound_sequence,
        })))
    }
}
