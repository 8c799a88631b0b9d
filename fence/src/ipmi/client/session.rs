//! An established session: wraps outgoing IPMI messages (sequence number,
//! encryption, auth code) and unwraps incoming ones (session ID, auth code,
//! sequence window, decryption). One type per protocol, one enum over both.

use super::config::SessionProtocol;
use crate::ipmi::commands::CloseSession;
use crate::ipmi::crypto::{self, CipherSuite, Random, Secret, SessionKeys};
use crate::ipmi::wire::malformed;
use crate::ipmi::wire::rmcp::{self, MessageClass};
use crate::ipmi::wire::v15::{self, AuthType};
use crate::ipmi::wire::v20::{self, PayloadType};
use crate::Error;

/// How far behind the highest sequence number seen an IPMI 1.5 response may
/// be (the spec's window; BMCs reuse numbers for some responses).
const V15_WINDOW: u32 = 8;

/// An IPMI 1.5 session after Activate Session.
#[derive(Debug)]
pub(super) struct V15Session {
    pub auth_type: AuthType,
    pub password: Secret,
    pub session_id: u32,
    /// Next sequence number we send.
    pub outbound: u32,
    /// Highest sequence number accepted from the BMC.
    pub inbound: u32,
}

/// An RMCP+ session after RAKP 4.
#[derive(Debug)]
pub(super) struct V20Session {
    pub suite: CipherSuite,
    pub keys: SessionKeys,
    pub console_session_id: u32,
    pub managed_session_id: u32,
    /// Next sequence number we send (authenticated and unauthenticated
    /// packets count separately; a session uses only one kind).
    pub outbound: u32,
    /// Highest authenticated sequence number accepted from the BMC.
    pub inbound: u32,
}

/// A datagram's IPMI message, checked but not yet accepted.
#[derive(Debug)]
pub(super) struct Unwrapped {
    /// The IPMI message (decrypted).
    pub message: Vec<u8>,
    /// The session header, described.
    pub header: String,
    /// The authenticated sequence number, to commit once accepted.
    pub sequence: Option<u32>,
}

/// An established session of either protocol.
#[derive(Debug)]
pub(super) enum Session {
    V15(V15Session),
    V20(V20Session),
}

fn next_nonzero(seq: &mut u32) -> u32 {
    let out = *seq;
    *seq = seq.wrapping_add(1);
    if *seq == 0 {
        *seq = 1;
    }
    out
}

impl Session {
    /// The protocol, for the outcome.
    pub fn protocol(&self) -> SessionProtocol {
        match self {
            Session::V15(s) => SessionProtocol::V15(s.auth_type),
            Session::V20(s) => SessionProtocol::V20(s.suite),
        }
    }

    /// A short description of the session header of the next packet we send.
    pub fn describe(&self) -> String {
        match self {
            Session::V15(s) => format!(
                "IPMI 1.5 [{}, session 0x{:08x}, seq 0x{:08x}]",
                s.auth_type, s.session_id, s.outbound
            ),
            Session::V20(s) => format!(
                "RMCP+ [{}{}session 0x{:08x}, seq {}]",
                if s.keys.encrypts() { "encrypted, " } else { "" },
                if s.keys.authenticates() {
                    "authenticated, "
                } else {
                    ""
                },
                s.managed_session_id,
                s.outbound
            ),
        }
    }

    /// The Close Session request for this session (the BMC's session ID).
    pub fn close_request(&self) -> CloseSession {
        CloseSession {
            session_id: match self {
                Session::V15(s) => s.session_id,
                Session::V20(s) => s.managed_session_id,
            },
            handle: None,
        }
    }

    /// A datagram carrying `message`, with the next session sequence number.
    pub fn wrap(&mut self, message: &[u8], rng: &mut Random) -> Vec<u8> {
        match self {
            Session::V15(s) => {
                let sequence = next_nonzero(&mut s.outbound);
                // An auth type we could not compute never gets here: the
                // handshake only establishes MD5, password or none.
                let auth_code = crypto::v15_auth_code(
                    s.auth_type,
                    s.password.expose(),
                    s.session_id,
                    sequence,
                    message,
                )
                .unwrap_or([0; v15::AUTH_CODE_LEN]);
                let repr = v15::Repr {
                    auth_type: s.auth_type,
                    sequence,
                    session_id: s.session_id,
                    auth_code,
                    message,
                };
                rmcp::wrap(MessageClass::Ipmi, &repr.to_vec())
            }
            Session::V20(s) => {
                let sequence = next_nonzero(&mut s.outbound);
                let payload = s.keys.encrypt(message, rng.array());
                let repr = v20::Repr {
                    payload_type: PayloadType::Ipmi,
                    encrypted: s.keys.encrypts(),
                    authenticated: s.keys.authenticates(),
                    oem: None,
                    session_id: s.managed_session_id,
                    sequence,
                    payload: &payload,
                };
                let keys = &s.keys;
                let packet = repr.to_vec_signed(keys.auth_code_len(), |covered| keys.sign(covered));
                rmcp::wrap(MessageClass::Ipmi, &packet)
            }
        }
    }

    /// Accepts the sequence number of a datagram whose message was the
    /// response we waited for (later datagrams must be newer).
    pub fn commit(&mut self, received: &Unwrapped) {
        match (self, received.sequence) {
            (Session::V15(s), Some(seq)) if seq.wrapping_sub(s.inbound) <= u32::MAX / 2 => {
                s.inbound = seq
            }
            (Session::V20(s), Some(seq)) => s.inbound = seq,
            _ => {}
        }
    }

    /// The IPMI message in a datagram of this session, after every check
    /// (nothing changes until [`commit`](Self::commit)).
    pub fn unwrap(&self, datagram: &[u8]) -> Result<Unwrapped, Error> {
        let packet = rmcp::Packet::new_checked(datagram)?;
        let header = rmcp::Repr::parse(&packet)?;
        if header.class != MessageClass::Ipmi {
            return Err(malformed(format!(
                "RMCP class {:?}, expected IPMI",
                header.class
            )));
        }
        let body = packet.payload();
        match self {
            Session::V15(s) => {
                let p = v15::Repr::parse_bytes(body)?;
                if p.session_id != s.session_id {
                    return Err(malformed(format!(
                        "IPMI 1.5 packet for session 0x{:08x}, ours is 0x{:08x}",
                        p.session_id, s.session_id
                    )));
                }
                if p.auth_type != s.auth_type {
                    return Err(malformed(format!(
                        "IPMI 1.5 packet authenticated with {}, the session uses {}",
                        p.auth_type, s.auth_type
                    )));
                }
                if !crypto::verify_v15_auth_code(
                    s.auth_type,
                    s.password.expose(),
                    p.session_id,
                    p.sequence,
                    p.message,
                    &p.auth_code,
                ) {
                    return Err(malformed(
                        "IPMI 1.5 auth code does not verify (forged or corrupted)",
                    ));
                }
                let ahead = p.sequence.wrapping_sub(s.inbound);
                let behind = s.inbound.wrapping_sub(p.sequence);
                if ahead > u32::MAX / 2 && behind > V15_WINDOW {
                    return Err(malformed(format!(
                        "IPMI 1.5 sequence number 0x{:08x} is {behind} behind the highest seen \
                         (0x{:08x}): replayed?",
                        p.sequence, s.inbound
                    )));
                }
                let what = format!(
                    "IPMI 1.5 [{}, session 0x{:08x}, seq 0x{:08x}]",
                    s.auth_type, p.session_id, p.sequence
                );
                Ok(Unwrapped {
                    message: p.message.to_vec(),
                    header: what,
                    sequence: Some(p.sequence),
                })
            }
            Session::V20(s) => {
                let len = s.keys.auth_code_len();
                let p = v20::Repr::parse(body, s.keys.authenticates().then_some(len))?;
                if p.payload_type != PayloadType::Ipmi {
                    return Err(malformed(format!(
                        "RMCP+ {} inside the session, expected an IPMI message",
                        p.payload_type
                    )));
                }
                if p.session_id != s.console_session_id {
                    return Err(malformed(format!(
                        "RMCP+ packet for session 0x{:08x}, ours is 0x{:08x}",
                        p.session_id, s.console_session_id
                    )));
                }
                if s.keys.authenticates() {
                    if !p.authenticated {
                        return Err(malformed(
                            "unauthenticated RMCP+ packet in an authenticated session",
                        ));
                    }
                    let packet = v20::Packet::new_checked(body)?;
                    let (covered, code) = packet.split_auth_code(len)?;
                    if !s.keys.verify(covered, code) {
                        return Err(malformed(
                            "RMCP+ integrity auth code does not verify (forged or corrupted)",
                        ));
                    }
                    if p.sequence.wrapping_sub(s.inbound) == 0
                        || p.sequence.wrapping_sub(s.inbound) > u32::MAX / 2
                    {
                        return Err(malformed(format!(
                            "RMCP+ sequence number {} is not after {} (replayed or reordered)",
                            p.sequence, s.inbound
                        )));
                    }
                }
                if p.encrypted != s.keys.encrypts() {
                    return Err(malformed(format!(
                        "RMCP+ packet {} encrypted, the session {}",
                        if p.encrypted { "is" } else { "is not" },
                        if s.keys.encrypts() {
                            "encrypts"
                        } else {
                            "does not"
                        }
                    )));
                }
                let message = s.keys.decrypt(p.payload)?;
                let what = format!(
                    "RMCP+ [{}{}session 0x{:08x}, seq {}]",
                    if p.encrypted { "encrypted, " } else { "" },
                    if p.authenticated {
                        "authenticated, "
                    } else {
                        ""
                    },
                    p.session_id,
                    p.sequence
                );
                Ok(Unwrapped {
                    message,
                    header: what,
                    sequence: s.keys.authenticates().then_some(p.sequence),
                })
            }
        }
    }
}
