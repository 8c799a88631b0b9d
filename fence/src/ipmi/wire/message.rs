//! The IPMI LAN message (IPMI 2.0 spec §13.8, table 13-4): the request or
//! response inside a 1.5 session or an RMCP+ IPMI payload, with its two
//! checksums; and the completion codes of responses.
//!
//! ```text
//!  request:   rsAddr | netFn<<2|rsLUN | chk1 | rqAddr | rqSeq<<2|rqLUN | cmd | data...    | chk2
//!  response:  rqAddr | netFn<<2|rqLUN | chk1 | rsAddr | rqSeq<<2|rsLUN | cmd | cc data... | chk2
//! ```
//!
//! Both have the same shape: destination, function, checksum over the first
//! two bytes, source, sequence, command, body, checksum over source..body.
//! A response's function is the request's plus one (odd).
//!
//! Panic contract: [`Packet::new_checked`] validates the length; after it no
//! accessor panics. [`Repr::parse`] never panics on any input; [`Repr::emit`]
//! never panics into a buffer of [`Repr::buffer_len`] bytes.

use std::fmt;

use super::malformed;
use crate::Error;

/// The BMC's IPMB slave address.
pub const BMC_ADDRESS: u8 = 0x20;
/// The remote console's software ID (what ipmitool uses).
pub const REMOTE_CONSOLE_ADDRESS: u8 = 0x81;
/// Shortest message: header, command and second checksum.
pub const MIN_LEN: usize = 7;

mod field {
    pub const DESTINATION: usize = 0;
    pub const NETFN_LUN: usize = 1;
    pub const CHECKSUM1: usize = 2;
    pub const SOURCE: usize = 3;
    pub const SEQUENCE_LUN: usize = 4;
    pub const COMMAND: usize = 5;
    pub const BODY: usize = 6;
}

/// The two's-complement checksum IPMI uses: the byte that makes the sum zero.
pub fn checksum(bytes: &[u8]) -> u8 {
    0u8.wrapping_sub(bytes.iter().fold(0u8, |sum, b| sum.wrapping_add(*b)))
}

/// A network function (the request's, even value); responses set bit 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NetFn {
    /// 0x00: chassis.
    Chassis,
    /// 0x02: bridge.
    Bridge,
    /// 0x04: sensor/event.
    SensorEvent,
    /// 0x06: application (sessions, device ID).
    App,
    /// 0x08: firmware.
    Firmware,
    /// 0x0a: storage.
    Storage,
    /// 0x0c: transport.
    Transport,
    /// 0x2c: group extension (PICMG, DCMI, ...).
    Group,
    /// 0x2e: OEM/group.
    OemGroup,
    /// Another function (even value).
    Unknown(u8),
}

impl NetFn {
    /// From a raw 6-bit function code (bit 0, the response bit, ignored).
    pub fn from_code(raw: u8) -> NetFn {
        match raw & 0x3e {
            0x00 => NetFn::Chassis,
            0x02 => NetFn::Bridge,
            0x04 => NetFn::SensorEvent,
            0x06 => NetFn::App,
            0x08 => NetFn::Firmware,
            0x0a => NetFn::Storage,
            0x0c => NetFn::Transport,
            0x2c => NetFn::Group,
            0x2e => NetFn::OemGroup,
            other => NetFn::Unknown(other),
        }
    }

    /// The request's (even) code.
    pub fn code(self) -> u8 {
        match self {
            NetFn::Chassis => 0x00,
            NetFn::Bridge => 0x02,
            NetFn::SensorEvent => 0x04,
            NetFn::App => 0x06,
            NetFn::Firmware => 0x08,
            NetFn::Storage => 0x0a,
            NetFn::Transport => 0x0c,
            NetFn::Group => 0x2c,
            NetFn::OemGroup => 0x2e,
            NetFn::Unknown(raw) => raw & 0x3e,
        }
    }
}

impl fmt::Display for NetFn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NetFn::Chassis => f.write_str("Chassis"),
            NetFn::Bridge => f.write_str("Bridge"),
            NetFn::SensorEvent => f.write_str("Sensor/Event"),
            NetFn::App => f.write_str("App"),
            NetFn::Firmware => f.write_str("Firmware"),
            NetFn::Storage => f.write_str("Storage"),
            NetFn::Transport => f.write_str("Transport"),
            NetFn::Group => f.write_str("Group"),
            NetFn::OemGroup => f.write_str("OEM/Group"),
            NetFn::Unknown(raw) => write!(f, "netFn 0x{raw:02x}"),
        }
    }
}

/// A response's completion code (IPMI 2.0 spec §5.2, table 5-2). Codes
/// 0x01..=0x7e are OEM, 0x80..=0xbe command-specific: see
/// [`crate::ipmi::commands::describe_completion`] for those.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompletionCode {
    /// 0x00: command completed normally.
    Normal,
    /// 0xc0: node busy.
    NodeBusy,
    /// 0xc1: invalid command.
    InvalidCommand,
    /// 0xc2: command invalid for the given LUN.
    InvalidForLun,
    /// 0xc3: timeout while processing the command.
    Timeout,
    /// 0xc4: out of space.
    OutOfSpace,
    /// 0xc5: reservation canceled or invalid reservation ID.
    ReservationCanceled,
    /// 0xc6: request data truncated.
    RequestDataTruncated,
    /// 0xc7: request data length invalid.
    RequestDataLengthInvalid,
    /// 0xc8: request data field length limit exceeded.
    RequestDataFieldLengthExceeded,
    /// 0xc9: parameter out of range.
    ParameterOutOfRange,
    /// 0xca: cannot return the number of requested data bytes.
    CannotReturnRequestedBytes,
    /// 0xcb: requested sensor, data or record not present.
    NotPresent,
    /// 0xcc: invalid data field in the request.
    InvalidDataField,
    /// 0xcd: command illegal for the specified sensor or record type.
    IllegalForSensor,
    /// 0xce: command response could not be provided.
    ResponseNotProvided,
    /// 0xcf: cannot execute a duplicated request.
    DuplicatedRequest,
    /// 0xd0: SDR repository in update mode.
    SdrRepositoryInUpdate,
    /// 0xd1: device in firmware update mode.
    FirmwareUpdateMode,
    /// 0xd2: BMC initialization in progress.
    BmcInitializing,
    /// 0xd3: destination unavailable.
    DestinationUnavailable,
    /// 0xd4: insufficient privilege level.
    InsufficientPrivilege,
    /// 0xd5: command not supported in present state.
    NotSupportedInPresentState,
    /// 0xd6: command sub-function disabled or unavailable.
    SubFunctionDisabled,
    /// 0xff: unspecified error.
    Unspecified,
    /// 0x01..=0x7e: OEM-specific.
    Oem(u8),
    /// 0x80..=0xbe: specific to the command (see its description).
    CommandSpecific(u8),
    /// A code this table does not know.
    Unknown(u8),
}

impl From<u8> for CompletionCode {
    fn from(raw: u8) -> Self {
        use CompletionCode::*;
        match raw {
            0x00 => Normal,
            0xc0 => NodeBusy,
            0xc1 => InvalidCommand,
            0xc2 => InvalidForLun,
            0xc3 => Timeout,
            0xc4 => OutOfSpace,
            0xc5 => ReservationCanceled,
            0xc6 => RequestDataTruncated,
            0xc7 => RequestDataLengthInvalid,
            0xc8 => RequestDataFieldLengthExceeded,
            0xc9 => ParameterOutOfRange,
            0xca => CannotReturnRequestedBytes,
            0xcb => NotPresent,
            0xcc => InvalidDataField,
            0xcd => IllegalForSensor,
            0xce => ResponseNotProvided,
            0xcf => DuplicatedRequest,
            0xd0 => SdrRepositoryInUpdate,
            0xd1 => FirmwareUpdateMode,
            0xd2 => BmcInitializing,
            0xd3 => DestinationUnavailable,
            0xd4 => InsufficientPrivilege,
            0xd5 => NotSupportedInPresentState,
            0xd6 => SubFunctionDisabled,
            0xff => Unspecified,
            0x01..=0x7e => Oem(raw),
            0x80..=0xbe => CommandSpecific(raw),
            other => Unknown(other),
        }
    }
}

impl From<CompletionCode> for u8 {
    fn from(c: CompletionCode) -> u8 {
        use CompletionCode::*;
        match c {
            Normal => 0x00,
            NodeBusy => 0xc0,
            InvalidCommand => 0xc1,
            InvalidForLun => 0xc2,
            Timeout => 0xc3,
            OutOfSpace => 0xc4,
            ReservationCanceled => 0xc5,
            RequestDataTruncated => 0xc6,
            RequestDataLengthInvalid => 0xc7,
            RequestDataFieldLengthExceeded => 0xc8,
            ParameterOutOfRange => 0xc9,
            CannotReturnRequestedBytes => 0xca,
            NotPresent => 0xcb,
            InvalidDataField => 0xcc,
            IllegalForSensor => 0xcd,
            ResponseNotProvided => 0xce,
            DuplicatedRequest => 0xcf,
            SdrRepositoryInUpdate => 0xd0,
            FirmwareUpdateMode => 0xd1,
            BmcInitializing => 0xd2,
            DestinationUnavailable => 0xd3,
            InsufficientPrivilege => 0xd4,
            NotSupportedInPresentState => 0xd5,
            SubFunctionDisabled => 0xd6,
            Unspecified => 0xff,
            Oem(raw) | CommandSpecific(raw) | Unknown(raw) => raw,
        }
    }
}

impl CompletionCode {
    /// Whether the command succeeded.
    pub fn is_normal(self) -> bool {
        self == CompletionCode::Normal
    }

    /// What the code means, in the spec's words.
    pub fn description(self) -> &'static str {
        use CompletionCode::*;
        match self {
            Normal => "command completed normally",
            NodeBusy => "node busy",
            InvalidCommand => "invalid command",
            InvalidForLun => "command invalid for the given LUN",
            Timeout => "timeout while processing the command",
            OutOfSpace => "out of space",
            ReservationCanceled => "reservation canceled or invalid reservation ID",
            RequestDataTruncated => "request data truncated",
            RequestDataLengthInvalid => "request data length invalid",
            RequestDataFieldLengthExceeded => "request data field length limit exceeded",
            ParameterOutOfRange => "parameter out of range",
            CannotReturnRequestedBytes => "cannot return the number of requested data bytes",
            NotPresent => "requested sensor, data or record not present",
            InvalidDataField => "invalid data field in request",
            IllegalForSensor => "command illegal for the specified sensor or record type",
            ResponseNotProvided => "command response could not be provided",
            DuplicatedRequest => "cannot execute a duplicated request",
            SdrRepositoryInUpdate => "SDR repository in update mode",
            FirmwareUpdateMode => "device in firmware update mode",
            BmcInitializing => "BMC initialization in progress",
            DestinationUnavailable => "destination unavailable",
            InsufficientPrivilege => "insufficient privilege level",
            NotSupportedInPresentState => "command not supported in present state",
            SubFunctionDisabled => "command sub-function disabled or unavailable",
            Unspecified => "unspecified error",
            Oem(_) => "OEM-specific error",
            CommandSpecific(_) => "command-specific error",
            Unknown(_) => "reserved completion code",
        }
    }

    /// What the operator can do about it, where there is something.
    pub fn fix(self) -> Option<&'static str> {
        use CompletionCode::*;
        Some(match self {
            NodeBusy | Timeout | BmcInitializing | SdrRepositoryInUpdate => {
                "the BMC is busy; retry in a few seconds"
            }
            InvalidCommand => "the BMC does not implement this command",
            InvalidDataField => {
                "the BMC rejects this request's parameters (e.g. a chassis control it does not \
                 support, such as diag); use another action"
            }
            InsufficientPrivilege => {
                "the account lacks the privilege for this command; try privilege=operator or \
                 administrator, or raise the user's limit on the BMC"
            }
            NotSupportedInPresentState => {
                "the BMC cannot do this in its present state (e.g. a power cycle while the \
                 power is off); read the power status and use on/off instead"
            }
            SubFunctionDisabled => "the BMC has this function disabled; enable it in its settings",
            FirmwareUpdateMode => "the BMC is updating its firmware; wait for it to finish",
            Unspecified => {
                "the BMC failed the command without saying why; check its event log and \
                 power controller"
            }
            DestinationUnavailable => "the target controller is unreachable from the BMC",
            _ => return None,
        })
    }
}

impl fmt::Display for CompletionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{:02x} {}", u8::from(*self), self.description())
    }
}

/// A read/write view of an IPMI LAN message.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checking it; accessors may panic until
    /// [`check_len`](Self::check_len) succeeded.
    pub fn new_unchecked(buffer: T) -> Self {
        Packet { buffer }
    }

    /// Wraps a buffer and checks its length.
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        let packet = Self::new_unchecked(buffer);
        packet.check_len()?;
        Ok(packet)
    }

    /// Checks that the message has a header, a command and a checksum.
    pub fn check_len(&self) -> Result<(), Error> {
        let len = self.buffer.as_ref().len();
        if len < MIN_LEN {
            return Err(malformed(format!(
                "IPMI message truncated: {len} bytes, needs at least {MIN_LEN}"
            )));
        }
        Ok(())
    }

    /// The destination's address (rsAddr of a request, rqAddr of a response).
    pub fn destination(&self) -> u8 {
        self.buffer.as_ref()[field::DESTINATION]
    }

    /// The raw 6-bit network function (odd for responses).
    pub fn netfn_raw(&self) -> u8 {
        self.buffer.as_ref()[field::NETFN_LUN] >> 2
    }

    /// The destination's LUN.
    pub fn destination_lun(&self) -> u8 {
        self.buffer.as_ref()[field::NETFN_LUN] & 0x03
    }

    /// The header checksum as received.
    pub fn checksum1(&self) -> u8 {
        self.buffer.as_ref()[field::CHECKSUM1]
    }

    /// The source's address (rqAddr of a request, rsAddr of a response).
    pub fn source(&self) -> u8 {
        self.buffer.as_ref()[field::SOURCE]
    }

    /// The request sequence number (6 bits).
    pub fn sequence(&self) -> u8 {
        self.buffer.as_ref()[field::SEQUENCE_LUN] >> 2
    }

    /// The source's LUN.
    pub fn source_lun(&self) -> u8 {
        self.buffer.as_ref()[field::SEQUENCE_LUN] & 0x03
    }

    /// The command code.
    pub fn command(&self) -> u8 {
        self.buffer.as_ref()[field::COMMAND]
    }

    /// The body: request data, or completion code and response data.
    pub fn body(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        &b[field::BODY..b.len() - 1]
    }

    /// The data checksum as received.
    pub fn checksum2(&self) -> u8 {
        let b = self.buffer.as_ref();
        b[b.len() - 1]
    }

    /// Checks both checksums.
    pub fn verify_checksums(&self) -> Result<(), Error> {
        let b = self.buffer.as_ref();
        let want1 = checksum(&b[..field::CHECKSUM1]);
        if self.checksum1() != want1 {
            return Err(malformed(format!(
                "IPMI message header checksum 0x{:02x}, should be 0x{want1:02x}",
                self.checksum1()
            )));
        }
        let want2 = checksum(&b[field::SOURCE..b.len() - 1]);
        if self.checksum2() != want2 {
            return Err(malformed(format!(
                "IPMI message data checksum 0x{:02x}, should be 0x{want2:02x}",
                self.checksum2()
            )));
        }
        Ok(())
    }
}

/// An IPMI LAN message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr<'a> {
    /// Destination address (0x20 for a request to the BMC).
    pub destination: u8,
    /// Destination LUN.
    pub destination_lun: u8,
    /// Network function (the request's).
    pub netfn: NetFn,
    /// Whether this is a response (odd function code).
    pub response: bool,
    /// Source address (0x81 for a remote console).
    pub source: u8,
    /// Source LUN.
    pub source_lun: u8,
    /// Request sequence number, 6 bits, echoed by the response.
    pub sequence: u8,
    /// Command code.
    pub command: u8,
    /// Request data, or completion code followed by response data.
    pub body: &'a [u8],
}

impl<'a> Repr<'a> {
    /// A request from the remote console to the BMC.
    pub fn request(netfn: NetFn, command: u8, sequence: u8, data: &'a [u8]) -> Self {
        Repr {
            destination: BMC_ADDRESS,
            destination_lun: 0,
            netfn,
            response: false,
            source: REMOTE_CONSOLE_ADDRESS,
            source_lun: 0,
            sequence: sequence & 0x3f,
            command,
            body: data,
        }
    }

    /// The response header for this request (addresses and LUNs swapped);
    /// `body` is the completion code followed by the response data.
    pub fn response_to(&self, body: &'a [u8]) -> Repr<'a> {
        Repr {
            destination: self.source,
            destination_lun: self.source_lun,
            netfn: self.netfn,
            response: true,
            source: self.destination,
            source_lun: self.destination_lun,
            sequence: self.sequence,
            command: self.command,
            body,
        }
    }

    /// Parses and checks both checksums.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, Error> {
        let packet = Packet::new_checked(bytes)?;
        packet.verify_checksums()?;
        let raw = packet.netfn_raw();
        Ok(Repr {
            destination: packet.destination(),
            destination_lun: packet.destination_lun(),
            netfn: NetFn::from_code(raw),
            response: raw & 1 != 0,
            source: packet.source(),
            source_lun: packet.source_lun(),
            sequence: packet.sequence(),
            command: packet.command(),
            body: &bytes[field::BODY..bytes.len() - 1],
        })
    }

    /// Length of the encoded message.
    pub fn buffer_len(&self) -> usize {
        MIN_LEN + self.body.len()
    }

    /// Writes the message with both checksums into a buffer of exactly
    /// [`buffer_len`](Self::buffer_len) bytes.
    pub fn emit(&self, buf: &mut [u8]) {
        let end = self.buffer_len();
        buf[field::DESTINATION] = self.destination;
        buf[field::NETFN_LUN] =
            ((self.netfn.code() | u8::from(self.response)) << 2) | (self.destination_lun & 0x03);
        buf[field::CHECKSUM1] = checksum(&buf[..field::CHECKSUM1]);
        buf[field::SOURCE] = self.source;
        buf[field::SEQUENCE_LUN] = ((self.sequence & 0x3f) << 2) | (self.source_lun & 0x03);
        buf[field::COMMAND] = self.command;
        buf[field::BODY..end - 1].copy_from_slice(self.body);
        buf[end - 1] = checksum(&buf[field::SOURCE..end - 1]);
    }

    /// The message as bytes.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = vec![0; self.buffer_len()];
        self.emit(&mut out);
        out
    }

    /// A response's completion code (None for a request or an empty body).
    pub fn completion_code(&self) -> Option<CompletionCode> {
        if !self.response {
            return None;
        }
        self.body.first().map(|&c| CompletionCode::from(c))
    }

    /// A response's data after the completion code (empty for a request).
    pub fn response_data(&self) -> &'a [u8] {
        if self.response && !self.body.is_empty() {
            &self.body[1..]
        } else {
            &[]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipmi::wire::testutil::unhex;

    // lab/ipmi/lanplus-c2-power-reset-plaintext.pcap frame 19: Chassis Control, hard reset.
    const CHASSIS_RESET_REQ: &str = "2000e08118020362";
    // Same pcap, frame 20: its response, completion code 0x00.
    const CHASSIS_RESET_RSP: &str = "81047b20180200c6";
    // Same pcap, frame 12: Get HPM.x Capabilities answered 0xC1 invalid command.
    const HPM_RSP: &str = "81b4cb20083ec1d9";

    #[test]
    fn captured_request() {
        let bytes = unhex(CHASSIS_RESET_REQ);
        let repr = Repr::parse(&bytes).unwrap();
        assert_eq!(repr, Repr::request(NetFn::Chassis, 0x02, 6, &[0x03]));
        assert_eq!(repr.to_vec(), bytes);
        assert_eq!(repr.completion_code(), None);
    }

    #[test]
    fn captured_responses() {
        let bytes = unhex(CHASSIS_RESET_RSP);
        let repr = Repr::parse(&bytes).unwrap();
        let req_bytes = unhex(CHASSIS_RESET_REQ);
        let req = Repr::parse(&req_bytes).unwrap();
        assert_eq!(repr, req.response_to(&[0x00]));
        assert_eq!(repr.completion_code(), Some(CompletionCode::Normal));
        assert_eq!(repr.to_vec(), bytes);

        let bytes = unhex(HPM_RSP);
        let repr = Repr::parse(&bytes).unwrap();
        assert_eq!(repr.netfn, NetFn::Group);
        assert!(repr.response);
        assert_eq!(repr.completion_code(), Some(CompletionCode::InvalidCommand));
        assert!(repr.response_data().is_empty());
        assert_eq!(repr.to_vec(), bytes);
    }

    #[test]
    fn bad_checksums() {
        let mut bytes = unhex(CHASSIS_RESET_REQ);
        bytes[2] ^= 1;
        assert!(Repr::parse(&bytes)
            .unwrap_err()
            .message()
            .contains("header checksum"));
        let mut bytes = unhex(CHASSIS_RESET_REQ);
        bytes[7] ^= 1;
        assert!(Repr::parse(&bytes)
            .unwrap_err()
            .message()
            .contains("data checksum"));
        assert!(Repr::parse(&bytes[..6]).is_err());
    }

    #[test]
    fn completion_codes() {
        for raw in 0..=255u8 {
            assert_eq!(u8::from(CompletionCode::from(raw)), raw);
        }
        let d4 = CompletionCode::from(0xd4);
        assert_eq!(d4.to_string(), "0xd4 insufficient privilege level");
        assert!(d4.fix().unwrap().contains("privilege=operator"));
        assert!(CompletionCode::from(0xcc).fix().unwrap().contains("diag"));
        assert_eq!(
            CompletionCode::from(0x81),
            CompletionCode::CommandSpecific(0x81)
        );
        assert_eq!(CompletionCode::from(0x05), CompletionCode::Oem(0x05));
        assert_eq!(CompletionCode::from(0xe0), CompletionCode::Unknown(0xe0));
        for raw in 0..=255u8 {
            assert!(!NetFn::from_code(raw).to_string().is_empty());
            assert_eq!(NetFn::from_code(raw).code(), raw & 0x3e);
        }
    }
}
