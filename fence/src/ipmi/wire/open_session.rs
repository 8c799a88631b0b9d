//! RMCP+ Open Session Request and Response (IPMI 2.0 spec §13.17, §13.18),
//! the algorithm codes they negotiate, and the RMCP+ status codes (table 13-15)
//! shared with the RAKP messages.
//!
//! ```text
//!  request (32 bytes):
//!   0 tag | 1 requested max privilege (0 = highest the suite allows) | 2..4 reserved
//!   4..8  console session ID (LE)
//!   8..16 authentication record | 16..24 integrity record | 24..32 confidentiality record
//!  record: 0 record type (0/1/2) | 1..3 reserved | 3 length (8, or 0 = "any") | 4 algorithm | 5..8 reserved
//!
//!  response (36 bytes on success):
//!   0 tag | 1 status | 2 max privilege | 3 reserved | 4..8 console session ID
//!   8..12 managed system session ID | 12..36 the three records, as chosen
//! ```
//!
//! An error response may stop after the console session ID (8 bytes), and
//! OpenIPMI's ipmi_sim sends only tag and status (2 bytes); parsing accepts both.
//!
//! Panic contract: `parse` never panics on any input; `emit` never panics into
//! a buffer of `buffer_len()` bytes.

use std::fmt;

use super::{malformed, put_u32_le, Privilege, Reader};
use crate::Error;

/// Length of an Open Session Request.
pub const REQUEST_LEN: usize = 32;
/// Length of a successful Open Session Response.
pub const RESPONSE_LEN: usize = 36;

/// An RMCP+ authentication (RAKP) algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthAlgorithm {
    /// 0x00: RAKP-none (cipher suite 0: anyone logs in).
    None,
    /// 0x01: RAKP-HMAC-SHA1.
    HmacSha1,
    /// 0x02: RAKP-HMAC-MD5.
    HmacMd5,
    /// 0x03: RAKP-HMAC-SHA256.
    HmacSha256,
    /// Another code (0xc0..=0xff are OEM).
    Unknown(u8),
}

/// An RMCP+ integrity algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IntegrityAlgorithm {
    /// 0x00: none.
    None,
    /// 0x01: HMAC-SHA1-96.
    HmacSha1_96,
    /// 0x02: HMAC-MD5-128.
    HmacMd5_128,
    /// 0x03: MD5-128.
    Md5_128,
    /// 0x04: HMAC-SHA256-128.
    HmacSha256_128,
    /// Another code.
    Unknown(u8),
}

/// An RMCP+ confidentiality algorithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConfidentialityAlgorithm {
    /// 0x00: none.
    None,
    /// 0x01: AES-CBC-128.
    AesCbc128,
    /// 0x02: xRC4-128.
    Xrc4_128,
    /// 0x03: xRC4-40.
    Xrc4_40,
    /// Another code.
    Unknown(u8),
}

macro_rules! algorithm_codes {
    ($ty:ident { $($variant:ident = $code:expr, $name:expr;)* }) => {
        impl From<u8> for $ty {
            /// From the low 6 bits of the algorithm byte.
            fn from(raw: u8) -> Self {
                match raw & 0x3f {
                    $($code => $ty::$variant,)*
                    other => $ty::Unknown(other),
                }
            }
        }
        impl From<$ty> for u8 {
            fn from(a: $ty) -> u8 {
                match a {
                    $($ty::$variant => $code,)*
                    $ty::Unknown(raw) => raw & 0x3f,
                }
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self {
                    $($ty::$variant => f.write_str($name),)*
                    $ty::Unknown(raw) => write!(f, "algorithm 0x{raw:02x}"),
                }
            }
        }
    };
}

algorithm_codes!(AuthAlgorithm {
    None = 0x00, "RAKP-none";
    HmacSha1 = 0x01, "RAKP-HMAC-SHA1";
    HmacMd5 = 0x02, "RAKP-HMAC-MD5";
    HmacSha256 = 0x03, "RAKP-HMAC-SHA256";
});
algorithm_codes!(IntegrityAlgorithm {
    None = 0x00, "no integrity";
    HmacSha1_96 = 0x01, "HMAC-SHA1-96";
    HmacMd5_128 = 0x02, "HMAC-MD5-128";
    Md5_128 = 0x03, "MD5-128";
    HmacSha256_128 = 0x04, "HMAC-SHA256-128";
});
algorithm_codes!(ConfidentialityAlgorithm {
    None = 0x00, "no encryption";
    AesCbc128 = 0x01, "AES-CBC-128";
    Xrc4_128 = 0x02, "xRC4-128";
    Xrc4_40 = 0x03, "xRC4-40";
});

/// The three algorithms of a session (what a cipher suite names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Algorithms {
    /// Authentication (RAKP) algorithm.
    pub authentication: AuthAlgorithm,
    /// Integrity algorithm.
    pub integrity: IntegrityAlgorithm,
    /// Confidentiality algorithm.
    pub confidentiality: ConfidentialityAlgorithm,
}

impl fmt::Display for Algorithms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}, {}, {}",
            self.authentication, self.integrity, self.confidentiality
        )
    }
}

/// An RMCP+ status code (IPMI 2.0 spec table 13-15), in Open Session
/// Response and RAKP 2/3/4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// 0x00: no errors.
    NoErrors,
    /// 0x01: insufficient resources to create a session.
    InsufficientResources,
    /// 0x02: invalid session ID.
    InvalidSessionId,
    /// 0x03: invalid payload type.
    InvalidPayloadType,
    /// 0x04: invalid authentication algorithm.
    InvalidAuthenticationAlgorithm,
    /// 0x05: invalid integrity algorithm.
    InvalidIntegrityAlgorithm,
    /// 0x06: no matching authentication payload.
    NoMatchingAuthenticationPayload,
    /// 0x07: no matching integrity payload.
    NoMatchingIntegrityPayload,
    /// 0x08: inactive session ID.
    InactiveSessionId,
    /// 0x09: invalid role.
    InvalidRole,
    /// 0x0a: unauthorized role or privilege level requested.
    UnauthorizedRole,
    /// 0x0b: insufficient resources to create a session at the requested role.
    InsufficientResourcesForRole,
    /// 0x0c: invalid name length.
    InvalidNameLength,
    /// 0x0d: unauthorized name.
    UnauthorizedName,
    /// 0x0e: unauthorized GUID.
    UnauthorizedGuid,
    /// 0x0f: invalid integrity check value.
    InvalidIntegrityCheckValue,
    /// 0x10: invalid confidentiality algorithm.
    InvalidConfidentialityAlgorithm,
    /// 0x11: no cipher suite match with proposed security algorithms.
    NoMatchingCipherSuite,
    /// 0x12: illegal or unrecognized parameter.
    IllegalParameter,
    /// A code this table does not know.
    Unknown(u8),
}

impl From<u8> for Status {
    fn from(raw: u8) -> Self {
        use Status::*;
        match raw {
            0x00 => NoErrors,
            0x01 => InsufficientResources,
            0x02 => InvalidSessionId,
            0x03 => InvalidPayloadType,
            0x04 => InvalidAuthenticationAlgorithm,
            0x05 => InvalidIntegrityAlgorithm,
            0x06 => NoMatchingAuthenticationPayload,
            0x07 => NoMatchingIntegrityPayload,
            0x08 => InactiveSessionId,
            0x09 => InvalidRole,
            0x0a => UnauthorizedRole,
            0x0b => InsufficientResourcesForRole,
            0x0c => InvalidNameLength,
            0x0d => UnauthorizedName,
            0x0e => UnauthorizedGuid,
            0x0f => InvalidIntegrityCheckValue,
            0x10 => InvalidConfidentialityAlgorithm,
            0x11 => NoMatchingCipherSuite,
            0x12 => IllegalParameter,
            other => Unknown(other),
        }
    }
}

impl From<Status> for u8 {
    fn from(s: Status) -> u8 {
        use Status::*;
        match s {
            NoErrors => 0x00,
            InsufficientResources => 0x01,
            InvalidSessionId => 0x02,
            InvalidPayloadType => 0x03,
            InvalidAuthenticationAlgorithm => 0x04,
            InvalidIntegrityAlgorithm => 0x05,
            NoMatchingAuthenticationPayload => 0x06,
            NoMatchingIntegrityPayload => 0x07,
            InactiveSessionId => 0x08,
            InvalidRole => 0x09,
            UnauthorizedRole => 0x0a,
            InsufficientResourcesForRole => 0x0b,
            InvalidNameLength => 0x0c,
            UnauthorizedName => 0x0d,
            UnauthorizedGuid => 0x0e,
            InvalidIntegrityCheckValue => 0x0f,
            InvalidConfidentialityAlgorithm => 0x10,
            NoMatchingCipherSuite => 0x11,
            IllegalParameter => 0x12,
            Unknown(raw) => raw,
        }
    }
}

impl Status {
    /// What the code means, in the spec's words.
    pub fn description(self) -> &'static str {
        use Status::*;
        match self {
            NoErrors => "no errors",
            InsufficientResources => "insufficient resources to create a session",
            InvalidSessionId => "invalid session ID",
            InvalidPayloadType => "invalid payload type",
            InvalidAuthenticationAlgorithm => "invalid authentication algorithm",
            InvalidIntegrityAlgorithm => "invalid integrity algorithm",
            NoMatchingAuthenticationPayload => "no matching authentication payload",
            NoMatchingIntegrityPayload => "no matching integrity payload",
            InactiveSessionId => "inactive session ID",
            InvalidRole => "invalid role",
            UnauthorizedRole => "unauthorized role or privilege level requested",
            InsufficientResourcesForRole => {
                "insufficient resources to create a session at the requested role"
            }
            InvalidNameLength => "invalid name length",
            UnauthorizedName => "unauthorized name",
            UnauthorizedGuid => "unauthorized GUID",
            InvalidIntegrityCheckValue => "invalid integrity check value",
            InvalidConfidentialityAlgorithm => "invalid confidentiality algorithm",
            NoMatchingCipherSuite => "no cipher suite match with proposed security algorithms",
            IllegalParameter => "illegal or unrecognized parameter",
            Unknown(_) => "reserved status code",
        }
    }

    /// What the operator can do about it, where there is something.
    pub fn fix(self) -> Option<&'static str> {
        use Status::*;
        Some(match self {
            InsufficientResources | InsufficientResourcesForRole => {
                "the BMC has no free session slot (sessions leaked by other clients time out, \
                 often after 30-60 s); retry later or reset the BMC"
            }
            InvalidAuthenticationAlgorithm
            | InvalidIntegrityAlgorithm
            | InvalidConfidentialityAlgorithm
            | NoMatchingAuthenticationPayload
            | NoMatchingIntegrityPayload
            | NoMatchingCipherSuite => {
                "the BMC does not support this cipher suite; configure another (cipher=3 is the \
                 most widely supported) or enable it on the BMC"
            }
            InvalidRole | UnauthorizedRole => {
                "the account may not log in at this privilege; try privilege=operator, or raise \
                 the user's limit on the BMC"
            }
            InvalidNameLength => "user names are at most 16 bytes",
            UnauthorizedName => {
                "the BMC does not know this user name (or it is disabled); check the login"
            }
            UnauthorizedGuid => "the BMC rejected its own GUID; check the BMC key (Kg)",
            InvalidIntegrityCheckValue => {
                "the BMC rejected our key-exchange code: wrong password or BMC key (Kg)"
            }
            IllegalParameter => {
                "the BMC rejected a parameter, often an unknown user name or a privilege above the \
                 account's limit; check the login and privilege"
            }
            _ => return None,
        })
    }

    /// Whether the status means "this cipher suite is not supported", the only
    /// reason to fall back to another suite.
    pub fn means_unsupported(self) -> bool {
        use Status::*;
        matches!(
            self,
            InvalidAuthenticationAlgorithm
                | InvalidIntegrityAlgorithm
                | InvalidConfidentialityAlgorithm
                | NoMatchingAuthenticationPayload
                | NoMatchingIntegrityPayload
                | NoMatchingCipherSuite
        )
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:02x} {}", u8::from(*self), self.description())
    }
}

/// An Open Session Request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Request {
    /// Echoed by the response.
    pub tag: u8,
    /// Requested maximum privilege; `Privilege::Unknown(0)` asks for the
    /// highest the suite allows (what ipmitool sends).
    pub max_privilege: Privilege,
    /// The console's session ID (the BMC puts it in every packet it sends).
    pub console_session_id: u32,
    /// Proposed authentication algorithm; `None` sends a null record ("any").
    pub authentication: Option<AuthAlgorithm>,
    /// Proposed integrity algorithm; `None` sends a null record.
    pub integrity: Option<IntegrityAlgorithm>,
    /// Proposed confidentiality algorithm; `None` sends a null record.
    pub confidentiality: Option<ConfidentialityAlgorithm>,
}

fn read_record(r: &mut Reader<'_>, record_type: u8) -> Result<Option<u8>, Error> {
    let raw: [u8; 8] = r.array()?;
    if raw[0] != record_type {
        return Err(malformed(format!(
            "Open Session algorithm record type 0x{:02x}, expected 0x{record_type:02x}",
            raw[0]
        )));
    }
    match raw[3] {
        0 => Ok(None),
        8 => Ok(Some(raw[4] & 0x3f)),
        other => Err(malformed(format!(
            "Open Session algorithm record length {other}, expected 8 or 0"
        ))),
    }
}

fn write_record(buf: &mut [u8], record_type: u8, algorithm: Option<u8>) {
    buf[..8].fill(0);
    buf[0] = record_type;
    if let Some(a) = algorithm {
        buf[3] = 8;
        buf[4] = a & 0x3f;
    }
}

impl Request {
    /// Parses a request.
    pub fn parse(bytes: &[u8]) -> Result<Request, Error> {
        let mut r = Reader::new("Open Session Request", bytes);
        let tag = r.u8()?;
        let max_privilege = Privilege::from(r.u8()? & 0x0f);
        let _reserved = r.take(2)?;
        let console_session_id = r.u32_le()?;
        let authentication = read_record(&mut r, 0)?.map(AuthAlgorithm::from);
        let integrity = read_record(&mut r, 1)?.map(IntegrityAlgorithm::from);
        let confidentiality = read_record(&mut r, 2)?.map(ConfidentialityAlgorithm::from);
        r.finish()?;
        Ok(Request {
            tag,
            max_privilege,
            console_session_id,
            authentication,
            integrity,
            confidentiality,
        })
    }

    /// Length of the encoded request.
    pub fn buffer_len(&self) -> usize {
        REQUEST_LEN
    }

    /// Writes the request into a buffer of at least [`REQUEST_LEN`] bytes.
    pub fn emit(&self, buf: &mut [u8]) {
        buf[0] = self.tag;
        buf[1] = u8::from(self.max_privilege) & 0x0f;
        buf[2] = 0;
        buf[3] = 0;
        put_u32_le(buf, 4, self.console_session_id);
        write_record(&mut buf[8..16], 0, self.authentication.map(u8::from));
        write_record(&mut buf[16..24], 1, self.integrity.map(u8::from));
        write_record(&mut buf[24..32], 2, self.confidentiality.map(u8::from));
    }

    /// The request as bytes.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = vec![0; REQUEST_LEN];
        self.emit(&mut out);
        out
    }
}

/// What a successful Open Session Response grants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    /// The BMC's session ID (the console puts it in every packet it sends).
    pub managed_session_id: u32,
    /// The algorithms the BMC chose.
    pub algorithms: Algorithms,
}

/// An Open Session Response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Response {
    /// The request's tag.
    pub tag: u8,
    /// Status; anything but [`Status::NoErrors`] refuses the session.
    pub status: Status,
    /// Maximum privilege the session may reach (0 on errors).
    pub max_privilege: Privilege,
    /// The console's session ID (absent in a 2-byte error response).
    pub console_session_id: Option<u32>,
    /// The session, when status is no errors.
    pub accepted: Option<Accepted>,
}

impl Response {
    /// Parses a response: 36 bytes on success; on error 2 bytes (ipmi_sim) are
    /// enough and anything after the console session ID is ignored.
    pub fn parse(bytes: &[u8]) -> Result<Response, Error> {
        let mut r = Reader::new("Open Session Response", bytes);
        let tag = r.u8()?;
        let status = Status::from(r.u8()?);
        if status != Status::NoErrors && r.remaining() < 6 {
            return Ok(Response {
                tag,
                status,
                max_privilege: Privilege::Unknown(0),
                console_session_id: None,
                accepted: None,
            });
        }
        let max_privilege = Privilege::from(r.u8()? & 0x0f);
        let _reserved = r.u8()?;
        let console_session_id = Some(r.u32_le()?);
        if status != Status::NoErrors {
            // Whatever follows an error status carries nothing we use.
            return Ok(Response {
                tag,
                status,
                max_privilege,
                console_session_id,
                accepted: None,
            });
        }
        let managed_session_id = r.u32_le()?;
        let missing = |what| {
            malformed(format!(
                "Open Session Response: the BMC chose no {what} algorithm"
            ))
        };
        let authentication = read_record(&mut r, 0)?.ok_or_else(|| missing("authentication"))?;
        let integrity = read_record(&mut r, 1)?.ok_or_else(|| missing("integrity"))?;
        let confidentiality = read_record(&mut r, 2)?.ok_or_else(|| missing("confidentiality"))?;
        r.finish()?;
        let accepted = Some(Accepted {
            managed_session_id,
            algorithms: Algorithms {
                authentication: authentication.into(),
                integrity: integrity.into(),
                confidentiality: confidentiality.into(),
            },
        });
        Ok(Response {
            tag,
            status,
            max_privilege,
            console_session_id,
            accepted,
        })
    }

    /// Length of the encoded response: 36 bytes with a session, 8 with only
    /// the console session ID, else 2.
    pub fn buffer_len(&self) -> usize {
        match (self.accepted, self.console_session_id) {
            (Some(_), _) => RESPONSE_LEN,
            (None, Some(_)) => 8,
            (None, None) => 2,
        }
    }

    /// Writes the response into a buffer of at least [`buffer_len`](Self::buffer_len) bytes.
    pub fn emit(&self, buf: &mut [u8]) {
        buf[0] = self.tag;
        buf[1] = self.status.into();
        if self.buffer_len() == 2 {
            return;
        }
        buf[2] = u8::from(self.max_privilege) & 0x0f;
        buf[3] = 0;
        put_u32_le(buf, 4, self.console_session_id.unwrap_or(0));
        if let Some(a) = self.accepted {
            put_u32_le(buf, 8, a.managed_session_id);
            write_record(
                &mut buf[12..20],
                0,
                Some(a.algorithms.authentication.into()),
            );
            write_record(&mut buf[20..28], 1, Some(a.algorithms.integrity.into()));
            write_record(
                &mut buf[28..36],
                2,
                Some(a.algorithms.confidentiality.into()),
            );
        }
    }

    /// The response as bytes.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = vec![0; self.buffer_len()];
        self.emit(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipmi::wire::testutil::unhex;

    // lab/ipmi/lanplus-c3-power-reset.pcap frame 3, RMCP+ payload: Open Session Request, suite 3.
    const REQUEST_C3: &str = "00000000a4a3a2a0000000080100000001000008010000000200000801000000";
    // Same pcap, frame 4: Open Session Response.
    const RESPONSE_C3: &str =
        "00000000a4a3a2a084190000000000080100000001000008010000000200000801000000";

    #[test]
    fn captured_request() {
        let bytes = unhex(REQUEST_C3);
        let req = Request::parse(&bytes).unwrap();
        assert_eq!(
            req,
            Request {
                tag: 0,
                max_privilege: Privilege::Unknown(0),
                console_session_id: 0xa0a2a3a4,
                authentication: Some(AuthAlgorithm::HmacSha1),
                integrity: Some(IntegrityAlgorithm::HmacSha1_96),
                confidentiality: Some(ConfidentialityAlgorithm::AesCbc128),
            }
        );
        assert_eq!(req.to_vec(), bytes);
    }

    #[test]
    fn captured_response() {
        let bytes = unhex(RESPONSE_C3);
        let rsp = Response::parse(&bytes).unwrap();
        assert_eq!(rsp.status, Status::NoErrors);
        assert_eq!(rsp.console_session_id, Some(0xa0a2a3a4));
        let a = rsp.accepted.unwrap();
        assert_eq!(a.managed_session_id, 0x1984);
        assert_eq!(
            a.algorithms.to_string(),
            "RAKP-HMAC-SHA1, HMAC-SHA1-96, AES-CBC-128"
        );
        assert_eq!(rsp.to_vec(), bytes);
    }

    #[test]
    fn error_responses() {
        // ipmi_sim's answer to suite 17: tag, status 0x04, nothing else.
        let short = Response::parse(&[0x00, 0x04]).unwrap();
        assert_eq!(short.status, Status::InvalidAuthenticationAlgorithm);
        assert!(short.status.means_unsupported());
        assert!(short.accepted.is_none());
        assert_eq!(short.to_vec(), vec![0x00, 0x04]);
        let spec = unhex("0711000044332211");
        let rsp = Response::parse(&spec).unwrap();
        assert_eq!(rsp.status, Status::NoMatchingCipherSuite);
        assert_eq!(rsp.console_session_id, Some(0x11223344));
        assert_eq!(rsp.to_vec(), spec);
        // A success must carry the whole session.
        assert!(Response::parse(&unhex("0000000044332211")).is_err());
        assert!(Response::parse(&[0x00]).is_err());
    }

    #[test]
    fn status_codes() {
        for raw in 0..=255u8 {
            assert_eq!(u8::from(Status::from(raw)), raw);
        }
        assert_eq!(
            Status::from(0x11).to_string(),
            "0x11 no cipher suite match with proposed security algorithms"
        );
        assert!(Status::from(0x0d).fix().unwrap().contains("user name"));
        assert!(!Status::from(0x01).means_unsupported());
        assert!(!Status::from(0x0d).means_unsupported());
        for raw in 0..=255u8 {
            assert_eq!(u8::from(AuthAlgorithm::from(raw)), raw & 0x3f);
            assert_eq!(u8::from(IntegrityAlgorithm::from(raw)), raw & 0x3f);
            assert_eq!(u8::from(ConfidentialityAlgorithm::from(raw)), raw & 0x3f);
        }
    }

    #[test]
    fn bad_records() {
        let mut bytes = unhex(REQUEST_C3);
        bytes[8] = 1;
        assert!(Request::parse(&bytes).is_err());
        let mut bytes = unhex(REQUEST_C3);
        bytes[11] = 4;
        assert!(Request::parse(&bytes).is_err());
        let mut bytes = unhex(REQUEST_C3);
        bytes[11] = 0;
        assert_eq!(Request::parse(&bytes).unwrap().authentication, None);
        assert!(Request::parse(&unhex(REQUEST_C3)[..31]).is_err());
    }
}
