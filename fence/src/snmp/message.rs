//! What the fence flow asks of SNMP ([`Op`]) and what comes back
//! ([`Response`]), independent of the SNMP version and of the codec.
//!
//! The BER codec and the v3 USM are snmp2's; [`Response::from_pdu`] turns a
//! decoded snmp2 message into our owned view, and [`decode`] does the same
//! from the bytes of an SNMPv1/v2c message (captures, fuzzing). Contract:
//! neither panics on any input; values we do not use are kept by type name.

use std::fmt;

use super::oid::{Oid, MAX_ARCS};
use crate::{Error, ErrorKind};

/// Most varbinds we read out of one response.
pub const MAX_VARBINDS: usize = 64;

/// Longest OCTET STRING value we keep (APC outlet names are at most 20-32
/// bytes); longer ones are cut here.
pub const MAX_STRING: usize = 256;

/// One SNMP operation the flow wants done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// SNMPv3 engine discovery (the driver's session `init`).
    Discover,
    /// GetRequest for these instances.
    Get(Vec<Oid>),
    /// GetNextRequest (one step of a walk).
    GetNext(Oid),
    /// SetRequest of one INTEGER.
    Set(Oid, i64),
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::Discover => f.write_str("SNMPv3 engine discovery"),
            Op::Get(oids) => {
                f.write_str("GET")?;
                for o in oids {
                    write!(f, " {o}")?;
                }
                Ok(())
            }
            Op::GetNext(o) => write!(f, "GETNEXT {o}"),
            Op::Set(o, v) => write!(f, "SET {o} = INTEGER {v}"),
        }
    }
}

/// A varbind value, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// INTEGER.
    Integer(i64),
    /// OCTET STRING (at most [`MAX_STRING`] bytes kept).
    OctetString(Vec<u8>),
    /// OBJECT IDENTIFIER.
    ObjectId(Oid),
    /// NULL.
    Null,
    /// v2c/v3 exception: noSuchObject.
    NoSuchObject,
    /// v2c/v3 exception: noSuchInstance.
    NoSuchInstance,
    /// v2c/v3 exception: endOfMibView.
    EndOfMibView,
    /// Any other type, by name.
    Other(&'static str),
}

impl Value {
    /// Whether this is one of the v2c exceptions.
    pub fn is_exception(&self) -> bool {
        matches!(
            self,
            Value::NoSuchObject | Value::NoSuchInstance | Value::EndOfMibView
        )
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Integer(v) => write!(f, "INTEGER {v}"),
            Value::OctetString(b) => write!(f, "STRING {}", printable(b)),
            Value::ObjectId(o) => write!(f, "OID {o}"),
            Value::Null => f.write_str("NULL"),
            Value::NoSuchObject => f.write_str("noSuchObject"),
            Value::NoSuchInstance => f.write_str("noSuchInstance"),
            Value::EndOfMibView => f.write_str("endOfMibView"),
            Value::Other(t) => write!(f, "({t})"),
        }
    }
}

/// An SNMP error-status (RFC 3416), open: unknown codes are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ErrorStatus(pub u32);

impl ErrorStatus {
    /// noSuchName (v1): unknown instance, or (v1) a SET with a read-only community.
    pub const NO_SUCH_NAME: ErrorStatus = ErrorStatus(2);
    /// badValue (v1).
    pub const BAD_VALUE: ErrorStatus = ErrorStatus(3);
    /// readOnly (v1).
    pub const READ_ONLY: ErrorStatus = ErrorStatus(4);
    /// noAccess: the community or user may not write this.
    pub const NO_ACCESS: ErrorStatus = ErrorStatus(6);
    /// wrongType.
    pub const WRONG_TYPE: ErrorStatus = ErrorStatus(7);
    /// wrongValue: the value is not in the object's enumeration.
    pub const WRONG_VALUE: ErrorStatus = ErrorStatus(10);
    /// authorizationError.
    pub const AUTHORIZATION_ERROR: ErrorStatus = ErrorStatus(16);
    /// notWritable.
    pub const NOT_WRITABLE: ErrorStatus = ErrorStatus(17);

    /// The RFC 3416 name.
    pub fn name(self) -> &'static str {
        match self.0 {
            0 => "noError",
            1 => "tooBig",
            2 => "noSuchName",
            3 => "badValue",
            4 => "readOnly",
            5 => "genErr",
            6 => "noAccess",
            7 => "wrongType",
            8 => "wrongLength",
            9 => "wrongEncoding",
            10 => "wrongValue",
            11 => "noCreation",
            12 => "inconsistentValue",
            13 => "resourceUnavailable",
            14 => "commitFailed",
            15 => "undoFailed",
            16 => "authorizationError",
            17 => "notWritable",
            18 => "inconsistentName",
            _ => "unknown",
        }
    }
}

impl fmt::Display for ErrorStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.name(), self.0)
    }
}

/// A Response-PDU, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// error-status (0 = noError).
    pub error_status: ErrorStatus,
    /// error-index (1-based varbind, 0 = none).
    pub error_index: u32,
    /// The varbinds, in order (at most [`MAX_VARBINDS`]).
    pub varbinds: Vec<(Oid, Value)>,
}

impl Response {
    /// Our view of a decoded snmp2 message. Varbinds whose OID does not fit
    /// our [`Oid`] end the list (the flow then sees too few and says so).
    pub fn from_pdu(pdu: &snmp2::Pdu<'_>) -> Response {
        let mut varbinds = Vec::new();
        for (name, value) in pdu.varbinds.clone().take(MAX_VARBINDS) {
            let Some(oid) = convert_oid(&name) else { break };
            varbinds.push((oid, convert_value(&value)));
        }
        Response {
            error_status: ErrorStatus(pdu.error_status),
            error_index: pdu.error_index,
            varbinds,
        }
    }
}

impl fmt::Display for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Response")?;
        if self.error_status.0 != 0 {
            write!(f, " {} at {}", self.error_status, self.error_index)?;
        }
        for (o, v) in &self.varbinds {
            write!(f, " {o} = {v}")?;
        }
        Ok(())
    }
}

/// Decodes an SNMPv1/v2c message (a Response from an agent) from its bytes.
/// Never panics; anything but a well-formed message is `InvalidMessage`.
pub fn decode(bytes: &[u8]) -> Result<Response, Error> {
    let pdu = snmp2::Pdu::from_bytes(bytes).map_err(|e| {
        Error::new(
            ErrorKind::InvalidMessage,
            format!("not an SNMP message ({e}; {} bytes)", bytes.len()),
        )
    })?;
    if pdu.message_type != snmp2::MessageType::Response {
        return Err(Error::new(
            ErrorKind::InvalidMessage,
            format!("expected a Response, got {:?}", pdu.message_type),
        ));
    }
    Ok(Response::from_pdu(&pdu))
}

fn convert_oid(oid: &snmp2::Oid<'_>) -> Option<Oid> {
    let arcs = oid.iter()?;
    if arcs.len() > MAX_ARCS {
        return None;
    }
    let arcs: Option<Vec<u32>> = arcs.map(|a| u32::try_from(a).ok()).collect();
    Some(Oid::new(&arcs?))
}

fn convert_value(value: &snmp2::Value<'_>) -> Value {
    use snmp2::Value as V;
    match value {
        V::Integer(i) => Value::Integer(*i),
        V::OctetString(b) => Value::OctetString(b[..b.len().min(MAX_STRING)].to_vec()),
        V::ObjectIdentifier(o) => convert_oid(o)
            .map(Value::ObjectId)
            .unwrap_or(Value::Other("OBJECT IDENTIFIER (unsupported arcs)")),
        V::Null => Value::Null,
        V::NoSuchObject => Value::NoSuchObject,
        V::NoSuchInstance => Value::NoSuchInstance,
        V::EndOfMibView => Value::EndOfMibView,
        V::Counter32(_) => Value::Other("Counter32"),
        V::Unsigned32(_) => Value::Other("Gauge32"),
        V::Timeticks(_) => Value::Other("TimeTicks"),
        V::Counter64(_) => Value::Other("Counter64"),
        V::IpAddress(_) => Value::Other("IpAddress"),
        V::Opaque(_) => Value::Other("Opaque"),
        V::Boolean(_) => Value::Other("BOOLEAN"),
        _ => Value::Other("constructed"),
    }
}

/// Bytes as text safe for one log or output line: printable ASCII kept,
/// everything else (control characters, escapes, non-ASCII) as `\xNN`.
pub fn printable(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() + 2);
    s.push('"');
    for &b in bytes {
        match b {
            b'"' => s.push_str("\\\""),
            b'\\' => s.push_str("\\\\"),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s.push('"');
    s
}
