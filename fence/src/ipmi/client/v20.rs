//! The RMCP+ (IPMI 2.0) session handshake, one type per state:
//!
//! ```text
//!  ExpectOpenSessionResponse  sent Open Session Request (one suite)  -> BMC session ID, or fall back
//!  ExpectRakp2                sent RAKP 1 (random, role, user)        -> verify the BMC's code (password)
//!  ExpectRakp4                sent RAKP 3 (our code)                  -> verify the ICV (SIK) -> Session::V20
//! ```
//!
//! With the default policy a refused suite 17 falls back to 3, but only on
//! the status codes that mean "not supported". A RAKP 2 code that does not
//! verify means a wrong password: we answer RAKP 3 with an error status so
//! the BMC frees the half-open session, and fail.

use super::session::{Session, V20Session};
use super::{Context, Outgoing, Phase, Step};
use crate::ipmi::crypto::{self, CipherSuite, RakpExchange, Secret, SessionKeys};
use crate::ipmi::wire::open_session::{self, Status};
use crate::ipmi::wire::rakp::{self, Role};
use crate::ipmi::wire::rmcp::{self, MessageClass};
use crate::ipmi::wire::v20::{self, PayloadType};
use crate::ipmi::wire::{hex, Privilege};
use crate::{Error, ErrorKind};

/// Sent an Open Session Request proposing `suite`.
#[derive(Debug)]
pub(super) struct ExpectOpenSessionResponse {
    suite: CipherSuite,
    fallbacks: Vec<CipherSuite>,
    console_session_id: u32,
    tag: u8,
}

/// Sent RAKP 1.
#[derive(Debug)]
pub(super) struct ExpectRakp2 {
    suite: CipherSuite,
    console_session_id: u32,
    managed_session_id: u32,
    console_random: [u8; 16],
    role: u8,
    tag: u8,
}

/// Sent RAKP 3.
#[derive(Debug)]
pub(super) struct ExpectRakp4 {
    suite: CipherSuite,
    console_session_id: u32,
    managed_session_id: u32,
    console_random: [u8; 16],
    managed_random: [u8; 16],
    managed_guid: [u8; 16],
    role: u8,
    tag: u8,
    sik: Secret,
}

/// A session-less RMCP+ datagram.
fn datagram(payload_type: PayloadType, payload: &[u8]) -> Vec<u8> {
    let repr = v20::Repr {
        payload_type,
        encrypted: false,
        authenticated: false,
        oem: None,
        session_id: 0,
        sequence: 0,
        payload,
    };
    rmcp::wrap(MessageClass::Ipmi, &repr.to_vec())
}

/// The payload of a session-less RMCP+ datagram of type `want`, or why not.
fn payload(bytes: &[u8], want: PayloadType) -> Result<&[u8], String> {
    let packet = rmcp::Packet::new_checked(bytes).map_err(|e| e.message().to_string())?;
    let header = rmcp::Repr::parse(&packet).map_err(|e| e.message().to_string())?;
    if header.class != MessageClass::Ipmi {
        return Err(format!(
            "RMCP class {:?} while waiting for {want}",
            header.class
        ));
    }
    let repr =
        v20::Repr::parse(&bytes[rmcp::HEADER_LEN..], None).map_err(|e| e.message().to_string())?;
    if repr.payload_type != want {
        return Err(format!("expected {want}, got {}", repr.payload_type));
    }
    Ok(repr.payload)
}

/// The error for a refusal in `step`, by who is at fault.
fn status_error(step: &str, status: Status, detail: &str) -> Error {
    use Status::*;
    let kind = if status.means_unsupported() {
        ErrorKind::DeviceIncompatible
    } else {
        match status {
            InvalidRole
            | UnauthorizedRole
            | InvalidNameLength
            | UnauthorizedName
            | UnauthorizedGuid
            | InvalidIntegrityCheckValue
            | IllegalParameter => ErrorKind::Auth,
            _ => ErrorKind::DeviceMisbehaved,
        }
    };
    let fix = status.fix().map(|f| format!("; {f}")).unwrap_or_default();
    Error::new(
        kind,
        format!("{step}{detail} refused by the BMC: RMCP+ status {status}{fix}"),
    )
    .with_code(u32::from(u8::from(status)))
}

fn open_session(
    cx: &mut Context<'_>,
    suite: CipherSuite,
    fallbacks: Vec<CipherSuite>,
) -> (Phase, Outgoing) {
    let tag = cx.next_rq_seq();
    let console_session_id = cx.rng.nonzero_u32();
    let a = suite.algorithms();
    let request = open_session::Request {
        tag,
        max_privilege: Privilege::Unknown(0),
        console_session_id,
        authentication: Some(a.authentication),
        integrity: Some(a.integrity),
        confidentiality: Some(a.confidentiality),
    };
    let out = Outgoing {
        datagram: datagram(PayloadType::OpenSessionRequest, &request.to_vec()),
        summary: format!(
            "RMCP+ Open Session Request: {suite}, console session 0x{console_session_id:08x}"
        ),
        expect: "Open Session Response".into(),
        message: None,
    };
    (
        Phase::V20OpenSession(ExpectOpenSessionResponse {
            suite,
            fallbacks,
            console_session_id,
            tag,
        }),
        out,
    )
}

impl ExpectOpenSessionResponse {
    /// Starts the handshake with the first of `suites`.
    pub fn start(cx: &mut Context<'_>, mut suites: Vec<CipherSuite>) -> (Phase, Outgoing) {
        let suite = if suites.is_empty() {
            CipherSuite::SUITE_3
        } else {
            suites.remove(0)
        };
        open_session(cx, suite, suites)
    }

    pub fn handle(mut self, cx: &mut Context<'_>, bytes: &[u8]) -> Result<Step, Error> {
        let rsp = match payload(bytes, PayloadType::OpenSessionResponse)
            .and_then(|p| open_session::Response::parse(p).map_err(|e| e.message().to_string()))
        {
            Ok(r) => r,
            Err(why) => return Ok(Step::Ignore(Phase::V20OpenSession(self), why)),
        };
        if rsp.tag != self.tag
            || rsp
                .console_session_id
                .is_some_and(|id| id != self.console_session_id)
        {
            return Ok(Step::Ignore(
                Phase::V20OpenSession(self),
                format!(
                    "Open Session Response for tag {} / console session {:?}, not ours",
                    rsp.tag, rsp.console_session_id
                ),
            ));
        }
        match rsp.accepted {
            None => {
                cx.accepted(format!(
                    "RMCP+ Open Session Response: status {}",
                    rsp.status
                ));
                if rsp.status.means_unsupported() && !self.fallbacks.is_empty() {
                    let next = self.fallbacks.remove(0);
                    cx.note(format!(
                        "{} refused ({}); trying cipher suite {}",
                        self.suite,
                        rsp.status,
                        next.id()
                    ));
                    let (phase, out) = open_session(cx, next, self.fallbacks);
                    return Ok(Step::Send(phase, out));
                }
                let detail = format!(" of {}", self.suite);
                Err(status_error("Open Session", rsp.status, &detail))
            }
            Some(accepted) => {
                cx.accepted(format!(
                    "RMCP+ Open Session Response: ok, BMC session 0x{:08x}, {}",
                    accepted.managed_session_id, accepted.algorithms
                ));
                if accepted.algorithms != self.suite.algorithms() {
                    let chosen = CipherSuite::from_algorithms(accepted.algorithms)
                        .map(|s| s.to_string())
                        .unwrap_or_else(|| accepted.algorithms.to_string());
                    return Err(Error::new(
                        ErrorKind::DeviceMisbehaved,
                        format!(
                            "the BMC chose {chosen}, but we proposed only {}; refusing the session",
                            self.suite
                        ),
                    ));
                }
                if self.suite.is_unauthenticated() {
                    cx.note(
                        "cipher suite 0: the BMC does not check the password (allow_cipher_zero is set)"
                            .into(),
                    );
                }
                let tag = cx.next_rq_seq();
                let console_random = cx.rng.array();
                let role = Role {
                    privilege: cx.config.privilege,
                    name_only_lookup: true,
                }
                .to_byte();
                let rakp1 = rakp::Rakp1 {
                    tag,
                    managed_session_id: accepted.managed_session_id,
                    console_random,
                    role: Role::from_byte(role),
                    user_name: cx.config.user.as_bytes(),
                };
                let out = Outgoing {
                    datagram: datagram(PayloadType::Rakp1, &rakp1.to_vec()),
                    summary: format!(
                        "RMCP+ RAKP 1: user {:?}, role {} (name-only lookup), BMC session 0x{:08x}",
                        cx.config.user, cx.config.privilege, accepted.managed_session_id
                    ),
                    expect: "RAKP 2".into(),
                    message: None,
                };
                Ok(Step::Send(
                    Phase::V20Rakp2(ExpectRakp2 {
                        suite: self.suite,
                        console_session_id: self.console_session_id,
                        managed_session_id: accepted.managed_session_id,
                        console_random,
                        role,
                        tag,
                    }),
                    out,
                ))
            }
        }
    }
}

impl ExpectRakp2 {
    pub fn handle(self, cx: &mut Context<'_>, bytes: &[u8]) -> Result<Step, Error> {
        let algorithm = self.suite.algorithms().authentication;
        let parsed = payload(bytes, PayloadType::Rakp2)
            .and_then(|p| rakp::Rakp2::parse(p).map_err(|e| e.message().to_string()));
        let m = match parsed {
            Ok(m) if m.tag == self.tag && m.console_session_id == self.console_session_id => m,
            Ok(m) => {
                return Ok(Step::Ignore(
                    Phase::V20Rakp2(self),
                    format!(
                        "RAKP 2 for tag {} / console session 0x{:08x}, not ours",
                        m.tag, m.console_session_id
                    ),
                ))
            }
            Err(why) => return Ok(Step::Ignore(Phase::V20Rakp2(self), why)),
        };
        cx.accepted(format!(
            "RMCP+ RAKP 2: status {}, BMC GUID {}",
            m.status,
            hex(&m.managed_guid)
        ));
        if m.status != Status::NoErrors {
            let detail = format!(" for user {:?}", cx.config.user);
            return Err(status_error("RAKP 1", m.status, &detail));
        }
        let exchange = RakpExchange {
            algorithm,
            console_session_id: self.console_session_id,
            managed_session_id: self.managed_session_id,
            console_random: self.console_random,
            managed_random: m.managed_random,
            managed_guid: m.managed_guid,
            role: self.role,
            user_name: cx.config.user.as_bytes(),
        };
        let kuid = cx.config.password.expose();
        if !exchange.verify_rakp2(kuid, m.auth_code)? {
            // Tell the BMC, so it drops the half-open session at once.
            let rakp3 = rakp::Rakp3 {
                tag: self.tag,
                status: Status::InvalidIntegrityCheckValue,
                managed_session_id: self.managed_session_id,
                auth_code: &[],
            };
            cx.send_once(
                datagram(PayloadType::Rakp3, &rakp3.to_vec()),
                "RMCP+ RAKP 3: status 0x0f (RAKP 2 did not verify), closing the half-open session"
                    .into(),
            );
            return Err(Error::new(
                ErrorKind::Auth,
                format!(
                    "wrong password for user {:?}: the BMC's RAKP 2 key-exchange code does not \
                     verify with it; check the password",
                    cx.config.user
                ),
            ));
        }
        let code = exchange.rakp3_auth_code(kuid)?;
        let kg = cx.config.bmc_key.as_ref().unwrap_or(&cx.config.password);
        let sik = Secret::new(exchange.session_integrity_key(kg.expose())?);
        let tag = cx.next_rq_seq();
        let rakp3 = rakp::Rakp3 {
            tag,
            status: Status::NoErrors,
            managed_session_id: self.managed_session_id,
            auth_code: &code,
        };
        let out = Outgoing {
            datagram: datagram(PayloadType::Rakp3, &rakp3.to_vec()),
            summary: format!("RMCP+ RAKP 3: status 0x00, {}-byte auth code", code.len()),
            expect: "RAKP 4".into(),
            message: None,
        };
        Ok(Step::Send(
            Phase::V20Rakp4(ExpectRakp4 {
                suite: self.suite,
                console_session_id: self.console_session_id,
                managed_session_id: self.managed_session_id,
                console_random: self.console_random,
                managed_random: m.managed_random,
                managed_guid: m.managed_guid,
                role: self.role,
                tag,
                sik,
            }),
            out,
        ))
    }
}

impl ExpectRakp4 {
    pub fn handle(self, cx: &mut Context<'_>, bytes: &[u8]) -> Result<Step, Error> {
        let parsed = payload(bytes, PayloadType::Rakp4)
            .and_then(|p| rakp::Rakp4::parse(p).map_err(|e| e.message().to_string()));
        let m = match parsed {
            Ok(m) if m.tag == self.tag && m.console_session_id == self.console_session_id => m,
            Ok(m) => {
                return Ok(Step::Ignore(
                    Phase::V20Rakp4(self),
                    format!(
                        "RAKP 4 for tag {} / console session 0x{:08x}, not ours",
                        m.tag, m.console_session_id
                    ),
                ))
            }
            Err(why) => return Ok(Step::Ignore(Phase::V20Rakp4(self), why)),
        };
        cx.accepted(format!("RMCP+ RAKP 4: status {}", m.status));
        if m.status != Status::NoErrors {
            let detail = format!(" for user {:?}", cx.config.user);
            return Err(status_error("RAKP 3", m.status, &detail));
        }
        let exchange = RakpExchange {
            algorithm: self.suite.algorithms().authentication,
            console_session_id: self.console_session_id,
            managed_session_id: self.managed_session_id,
            console_random: self.console_random,
            managed_random: self.managed_random,
            managed_guid: self.managed_guid,
            role: self.role,
            user_name: cx.config.user.as_bytes(),
        };
        if !exchange.verify_rakp4(self.sik.expose(), m.integrity_check_value)? {
            return Err(Error::new(
                ErrorKind::Auth,
                format!(
                    "the BMC's RAKP 4 integrity check value does not verify ({} bytes): the BMC \
                     key (Kg) differs from ours{}",
                    m.integrity_check_value.len(),
                    if cx.config.bmc_key.is_some() {
                        "; check the configured BMC key"
                    } else {
                        "; the BMC has a key set: configure it"
                    }
                ),
            ));
        }
        let keys = SessionKeys::derive(self.suite.algorithms(), self.sik.expose())?;
        debug_assert_eq!(
            keys.auth_code_len(),
            crypto::integrity_code_len(self.suite.algorithms().integrity).unwrap_or(0)
        );
        Ok(Step::Established(Session::V20(V20Session {
            suite: self.suite,
            keys,
            console_session_id: self.console_session_id,
            managed_session_id: self.managed_session_id,
            outbound: 1,
            inbound: 0,
        })))
    }
}
