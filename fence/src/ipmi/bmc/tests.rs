//! The responder on a fake clock, against a scripted console built from the
//! same wire and crypto modules (the real-peer tests — ipmitool, fence_ipmilan,
//! our client — live in hw-tests/tests/ipmi_bmc.rs).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::*;
use crate::ipmi::commands::{
    ActivateSession, Body, ChannelAuthCapabilities, ChassisStatus, GetChannelAuthCapabilities,
    GetSessionChallenge, SessionActivated, SessionChallenge,
};
use crate::ipmi::crypto::{
    v15_auth_code, verify_v15_auth_code, CipherSuite, RakpExchange, SessionKeys,
};
use crate::ipmi::wire::message::{NetFn, Repr as Message};
use crate::ipmi::wire::open_session::{self, Status};
use crate::ipmi::wire::rakp::{Rakp1, Rakp2, Rakp3, Rakp4, Role};
use crate::ipmi::wire::testutil::unhex;
use crate::ipmi::wire::v15;
use crate::ipmi::wire::v20::{self, PayloadType};

const GUID: [u8; 16] = *b"ironbeat-bmc\x00\x00\x00\x01";

fn peer() -> SocketAddr {
    "198.18.20.1:40000".parse().unwrap()
}

fn config() -> BmcConfig {
    let mut c = BmcConfig::new(vec![
        User::new("admin", b"labpass", Privilege::Administrator),
        User::new("operator", b"oppass", Privilege::Operator),
        User::new("viewer", b"viewpass", Privilege::User),
    ]);
    c.cipher_suites = vec![17, 3, 2, 1, 16, 15];
    c
}

/// A BMC on a fake clock, and what it sent.
struct Lab<P: PowerBackend = MemoryPower> {
    bmc: Bmc<P>,
    now: Instant,
}

impl Lab {
    fn new(config: BmcConfig) -> Lab {
        Lab {
            bmc: Bmc::new(config, MemoryPower::new(PowerState::On), [7; 32]).unwrap(),
            now: Instant::now(),
        }
    }
}

impl<P: PowerBackend> Lab<P> {
    /// Feeds `datagram`; returns what the BMC sent back (to `peer()` only).
    fn send(&mut self, datagram: &[u8]) -> Vec<Vec<u8>> {
        self.bmc.handle_datagram(self.now, peer(), datagram);
        let mut out = Vec::new();
        while let Some(t) = self.bmc.poll_transmit() {
            assert_eq!(t.to, peer());
            out.push(t.bytes);
        }
        out
    }

    /// Feeds `datagram`, expects exactly one answer.
    fn ask(&mut self, datagram: &[u8]) -> Vec<u8> {
        let mut out = self.send(datagram);
        assert_eq!(out.len(), 1, "expected one answer, got {}", out.len());
        out.remove(0)
    }

    fn advance(&mut self, by: Duration) {
        self.now += by;
        self.bmc.handle_timeout(self.now);
    }

    fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.bmc.poll_event()).collect()
    }
}

fn rmcp_ipmi(session: &[u8]) -> Vec<u8> {
    rmcp::wrap(MessageClass::Ipmi, session)
}

/// The session part of an answer (after the RMCP header).
fn strip(datagram: &[u8]) -> &[u8] {
    assert_eq!(&datagram[..4], &[0x06, 0x00, 0xff, 0x07]);
    &datagram[4..]
}

fn sessionless_v20(payload_type: PayloadType, payload: &[u8]) -> Vec<u8> {
    rmcp_ipmi(
        &v20::Repr {
            payload_type,
            encrypted: false,
            authenticated: false,
            oem: None,
            session_id: 0,
            sequence: 0,
            payload,
        }
        .to_vec(),
    )
}

/// The payload of a session-less RMCP+ answer of `payload_type`.
fn v20_payload(datagram: &[u8], payload_type: PayloadType) -> Vec<u8> {
    let repr = v20::Repr::parse(strip(datagram), None).unwrap();
    assert_eq!(repr.payload_type, payload_type);
    assert_eq!(repr.session_id, 0);
    repr.payload.to_vec()
}

fn open_request(console_id: u32, suite: Option<u8>, privilege: u8) -> open_session::Request {
    let a = suite.map(|id| CipherSuite::from_id(id).unwrap().algorithms());
    open_session::Request {
        tag: 0x2a,
        max_privilege: Privilege::from(privilege),
        console_session_id: console_id,
        authentication: a.map(|a| a.authentication),
        integrity: a.map(|a| a.integrity),
        confidentiality: a.map(|a| a.confidentiality),
    }
}

/// An RMCP+ console session.
struct Console {
    console_id: u32,
    managed_id: u32,
    keys: SessionKeys,
    seq: u32,
    rq_seq: u8,
    inbound: u32,
}

/// What went wrong in a scripted login.
#[derive(Debug, PartialEq, Eq)]
enum LoginError {
    Open(Status),
    Rakp2(Status),
    Rakp4(Status),
}

fn login<P: PowerBackend>(
    lab: &mut Lab<P>,
    suite: u8,
    user: &str,
    password: &[u8],
    role: u8,
) -> Result<Console, LoginError> {
    login_with(lab, suite, user, password, password, role)
}

/// Logs in; `password` is what the console believes, `rakp3_password` what
/// it signs RAKP 3 with (a console that skips its RAKP 2 check).
fn login_with<P: PowerBackend>(
    lab: &mut Lab<P>,
    suite_id: u8,
    user: &str,
    password: &[u8],
    rakp3_password: &[u8],
    role: u8,
) -> Result<Console, LoginError> {
    let suite = CipherSuite::from_id(suite_id).unwrap();
    let console_id = 0xa0a2_a3a4;
    let reply = lab.ask(&sessionless_v20(
        PayloadType::OpenSessionRequest,
        &open_request(console_id, Some(suite_id), 0).to_vec(),
    ));
    let open =
        open_session::Response::parse(&v20_payload(&reply, PayloadType::OpenSessionResponse))
            .unwrap();
    assert_eq!(open.tag, 0x2a);
    if open.status != Status::NoErrors {
        return Err(LoginError::Open(open.status));
    }
    let accepted = open.accepted.unwrap();
    assert_eq!(accepted.algorithms, suite.algorithms());
    let managed_id = accepted.managed_session_id;
    let console_random = [0x5a; 16];
    let rakp1 = Rakp1 {
        tag: 1,
        managed_session_id: managed_id,
        console_random,
        role: Role::from_byte(role),
        user_name: user.as_bytes(),
    };
    let reply = lab.ask(&sessionless_v20(PayloadType::Rakp1, &rakp1.to_vec()));
    let payload = v20_payload(&reply, PayloadType::Rakp2);
    let rakp2 = Rakp2::parse(&payload).unwrap();
    assert_eq!(rakp2.console_session_id, console_id);
    if rakp2.status != Status::NoErrors {
        return Err(LoginError::Rakp2(rakp2.status));
    }
    assert_eq!(rakp2.managed_guid, GUID);
    let x = RakpExchange {
        algorithm: suite.algorithms().authentication,
        console_session_id: console_id,
        managed_session_id: managed_id,
        console_random,
        managed_random: rakp2.managed_random,
        managed_guid: rakp2.managed_guid,
        role,
        user_name: user.as_bytes(),
    };
    assert!(
        x.verify_rakp2(password, rakp2.auth_code).unwrap(),
        "RAKP 2 code"
    );
    let code = x.rakp3_auth_code(rakp3_password).unwrap();
    let rakp3 = Rakp3 {
        tag: 2,
        status: Status::NoErrors,
        managed_session_id: managed_id,
        auth_code: &code,
    };
    let reply = lab.ask(&sessionless_v20(PayloadType::Rakp3, &rakp3.to_vec()));
    let payload = v20_payload(&reply, PayloadType::Rakp4);
    let rakp4 = Rakp4::parse(&payload).unwrap();
    if rakp4.status != Status::NoErrors {
        return Err(LoginError::Rakp4(rakp4.status));
    }
    let sik = x.session_integrity_key(password).unwrap();
    assert!(
        x.verify_rakp4(&sik, rakp4.integrity_check_value).unwrap(),
        "RAKP 4 ICV"
    );
    Ok(Console {
        console_id,
        managed_id,
        keys: SessionKeys::derive(suite.algorithms(), &sik).unwrap(),
        seq: 0,
        rq_seq: 0,
        inbound: 0,
    })
}

impl Console {
    /// The datagram carrying a request.
    fn request(&mut self, netfn: NetFn, command: u8, data: &[u8]) -> Vec<u8> {
        self.seq += 1;
        self.rq_seq = (self.rq_seq + 1) & 0x3f;
        let message = Message::request(netfn, command, self.rq_seq, data).to_vec();
        let payload = self.keys.encrypt(&message, [self.seq as u8; 16]);
        let packet = v20::Repr {
            payload_type: PayloadType::Ipmi,
            encrypted: self.keys.encrypts(),
            authenticated: self.keys.authenticates(),
            oem: None,
            session_id: self.managed_id,
            sequence: self.seq,
            payload: &payload,
        };
        rmcp_ipmi(&packet.to_vec_signed(self.keys.auth_code_len(), |c| self.keys.sign(c)))
    }

    /// Opens an answer: checks integrity, sequence, decrypts; the body.
    fn answer(&mut self, datagram: &[u8], command: u8) -> Vec<u8> {
        let session = strip(datagram);
        let packet = v20::Packet::new_checked(session).unwrap();
        assert_eq!(packet.session_id(), self.console_id);
        assert_eq!(packet.authenticated(), self.keys.authenticates());
        assert_eq!(packet.encrypted(), self.keys.encrypts());
        if self.keys.authenticates() {
            let (covered, code) = packet.split_auth_code(self.keys.auth_code_len()).unwrap();
            assert!(self.keys.verify(covered, code), "answer integrity");
        }
        assert!(
            packet.sequence() > self.inbound,
            "outbound sequence increases"
        );
        self.inbound = packet.sequence();
        let plain = self.keys.decrypt(packet.payload()).unwrap();
        let message = Message::parse(&plain).unwrap();
        assert!(message.response);
        assert_eq!(message.command, command);
        assert_eq!(message.sequence, self.rq_seq);
        message.body.to_vec()
    }

    fn call<P: PowerBackend>(
        &mut self,
        lab: &mut Lab<P>,
        netfn: NetFn,
        command: u8,
        data: &[u8],
    ) -> Vec<u8> {
        let datagram = self.request(netfn, command, data);
        let reply = lab.ask(&datagram);
        self.answer(&reply, command)
    }
}

const ROLE_ADMIN: u8 = 0x14;
const ROLE_USER: u8 = 0x12;

#[test]
fn asf_ping_from_ipmitool_gets_a_pong() {
    let mut lab = Lab::new(config());
    // lab/ipmi/lan15-md5-power-reset.pcap frame 1 (ipmitool -I lan).
    let reply = lab.ask(&unhex("0600ff06000011be80000000"));
    // The same Pong ipmi_sim sent (frame 2).
    assert_eq!(
        reply,
        unhex("0600ff06000011be40000010000011be000000008100000000000000")
    );
}

#[test]
fn channel_auth_capabilities_from_captured_requests() {
    let mut lab = Lab::new(config());
    // ipmitool -I lanplus's request (lanplus-c2 pcap frame 1): extended data, admin.
    let reply = lab.ask(&unhex("0600ff07000000000000000000092018c88100388e04b5"));
    let session = v15::Repr::parse_bytes(strip(&reply)).unwrap();
    assert_eq!(session.auth_type, v15::AuthType::None);
    let message = Message::parse(session.message).unwrap();
    assert_eq!(message.completion_code().map(u8::from), Some(0));
    let caps = ChannelAuthCapabilities::decode(message.response_data()).unwrap();
    assert!(caps.supports_v20());
    assert!(caps.supports(v15::AuthType::Md5) && caps.supports(v15::AuthType::Password));
    assert!(!caps.supports(v15::AuthType::None) && !caps.supports(v15::AuthType::Md2));
    assert_eq!((caps.channel, caps.flags, caps.extended), (1, 0x04, 0x03));
    // ipmitool -I lan's request (lan15 pcap frame 3): no extended data.
    let reply = lab.ask(&unhex("0600ff07000000000000000000092018c88104380e0431"));
    let message = Message::parse(v15::Repr::parse_bytes(strip(&reply)).unwrap().message).unwrap();
    let caps = ChannelAuthCapabilities::decode(message.response_data()).unwrap();
    assert_eq!((caps.auth_types, caps.extended), (0x14, 0));
    // Channel 5 does not exist; privilege 6 is not a level.
    for data in [[0x05, 0x04], [0x0e, 0x06]] {
        let m = Message::request(NetFn::App, 0x38, 1, &data).to_vec();
        let s = v15::Repr {
            auth_type: v15::AuthType::None,
            sequence: 0,
            session_id: 0,
            auth_code: [0; 16],
            message: &m,
        };
        let reply = lab.ask(&rmcp_ipmi(&s.to_vec()));
        let message =
            Message::parse(v15::Repr::parse_bytes(strip(&reply)).unwrap().message).unwrap();
        assert_eq!(message.body, &[0xcc]);
    }
}

#[test]
fn cipher_suite_list_as_ipmitool_asks_for_it() {
    let mut lab = Lab::new(config());
    let mut records = Vec::new();
    for index in 0..4u8 {
        let m = Message::request(NetFn::App, 0x54, index, &[0x0e, 0x00, 0x80 | index]).to_vec();
        let reply = lab.ask(&sessionless_v20(PayloadType::Ipmi, &m));
        let payload = v20_payload(&reply, PayloadType::Ipmi);
        let message = Message::parse(&payload).unwrap();
        assert_eq!(message.body[..2], [0x00, 0x01]);
        let data = &message.body[2..];
        records.extend_from_slice(data);
        if data.len() < 16 {
            break;
        }
    }
    assert_eq!(
        records,
        [
            0xc0, 17, 0x03, 0x44, 0x81, 0xc0, 3, 0x01, 0x41, 0x81, 0xc0, 2, 0x01, 0x41, 0x80, 0xc0,
            1, 0x01, 0x40, 0x80, 0xc0, 16, 0x03, 0x44, 0x80, 0xc0, 15, 0x03, 0x40, 0x80
        ]
    );
}

#[test]
fn suite_17_and_3_sessions_switch_power_and_close() {
    for suite in [17, 3, 16, 2, 15, 1] {
        let mut lab = Lab::new(config());
        let mut c = login(&mut lab, suite, "admin", b"labpass", ROLE_ADMIN).unwrap();
        assert_eq!(lab.bmc.active_sessions(), 1);
        // Sessions start at User: Chassis Control needs Operator.
        assert_eq!(c.call(&mut lab, NetFn::Chassis, 0x02, &[0x00]), [0xd4]);
        assert_eq!(c.call(&mut lab, NetFn::App, 0x3b, &[0x04]), [0x00, 0x04]);
        assert_eq!(c.call(&mut lab, NetFn::Chassis, 0x02, &[0x00]), [0x00]);
        assert_eq!(lab.bmc.power().state(), PowerState::Off);
        let status = c.call(&mut lab, NetFn::Chassis, 0x01, &[]);
        assert_eq!(status[0], 0);
        assert_eq!(
            ChassisStatus::decode(&status[1..]).unwrap().power(),
            PowerState::Off
        );
        assert_eq!(c.call(&mut lab, NetFn::Chassis, 0x02, &[0x01]), [0x00]);
        assert_eq!(lab.bmc.power().state(), PowerState::On);
        assert_eq!(c.call(&mut lab, NetFn::Chassis, 0x02, &[0x03]), [0x00]);
        assert_eq!(lab.bmc.power().resets(), 1);
        // Get Device ID; an OEM probe ipmitool sends is an invalid command.
        let id = c.call(&mut lab, NetFn::App, 0x01, &[]);
        assert_eq!(id.len(), 12);
        assert_eq!(c.call(&mut lab, NetFn::Group, 0x3e, &[0x00, 0x02]), [0xc1]);
        let close = c.managed_id.to_le_bytes();
        assert_eq!(c.call(&mut lab, NetFn::App, 0x3c, &close), [0x00]);
        assert_eq!(lab.bmc.session_count(), 0, "suite {suite}");
        // The closed session is gone.
        let datagram = c.request(NetFn::Chassis, 0x01, &[]);
        assert!(lab.send(&datagram).is_empty());
        assert_eq!(lab.bmc.counters().unknown_session, 1);
        let events = lab.events();
        assert!(matches!(
            events.first(),
            Some(Event::SessionOpened { user, protocol: Protocol::V20(s), max_privilege: Privilege::Administrator, .. })
                if user == "admin" && s.id() == suite
        ));
        assert!(events.iter().any(|e| matches!(
            e,
            Event::SessionClosed {
                reason: CloseReason::Requested,
                ..
            }
        )));
        assert!(events.iter().any(|e| matches!(
            e,
            Event::PowerChanged {
                from: PowerState::On,
                to: PowerState::Off,
                ..
            }
        )));
    }
}

#[test]
fn suite_0_and_disabled_or_unknown_algorithms_are_refused() {
    let mut cfg = config();
    cfg.cipher_suites = vec![17];
    let mut lab = Lab::new(cfg);
    assert_eq!(
        login(&mut lab, 0, "admin", b"labpass", ROLE_ADMIN).err(),
        Some(LoginError::Open(Status::NoMatchingCipherSuite))
    );
    assert_eq!(
        login(&mut lab, 3, "admin", b"labpass", ROLE_ADMIN).err(),
        Some(LoginError::Open(Status::NoMatchingCipherSuite))
    );
    let mut req = open_request(1, Some(17), 0);
    req.authentication = Some(open_session::AuthAlgorithm::Unknown(0x30));
    let reply = lab.ask(&sessionless_v20(
        PayloadType::OpenSessionRequest,
        &req.to_vec(),
    ));
    let open =
        open_session::Response::parse(&v20_payload(&reply, PayloadType::OpenSessionResponse))
            .unwrap();
    assert_eq!(open.status, Status::InvalidAuthenticationAlgorithm);
    assert_eq!(open.console_session_id, Some(1));
    let mut req = open_request(1, Some(17), 0);
    req.confidentiality = Some(open_session::ConfidentialityAlgorithm::Unknown(0x20));
    let reply = lab.ask(&sessionless_v20(
        PayloadType::OpenSessionRequest,
        &req.to_vec(),
    ));
    let payload = v20_payload(&reply, PayloadType::OpenSessionResponse);
    assert_eq!(payload[1], 0x10);
    // Null records ("any") get the first enabled suite.
    let reply = lab.ask(&sessionless_v20(
        PayloadType::OpenSessionRequest,
        &open_request(2, None, 0).to_vec(),
    ));
    let open =
        open_session::Response::parse(&v20_payload(&reply, PayloadType::OpenSessionResponse))
            .unwrap();
    assert_eq!(
        open.accepted.unwrap().algorithms,
        CipherSuite::SUITE_17.algorithms()
    );
    // Privilege 6 is no level; none of that left a slot behind but the last.
    let reply = lab.ask(&sessionless_v20(
        PayloadType::OpenSessionRequest,
        &open_request(3, Some(17), 6).to_vec(),
    ));
    assert_eq!(
        v20_payload(&reply, PayloadType::OpenSessionResponse)[1],
        0x09
    );
    assert_eq!(lab.bmc.session_count(), 1);
}

#[test]
fn unknown_user_and_wrong_passwords() {
    let mut lab = Lab::new(config());
    assert_eq!(
        login(&mut lab, 17, "root", b"labpass", ROLE_ADMIN).err(),
        Some(LoginError::Rakp2(Status::UnauthorizedName))
    );
    // A console that signs RAKP 3 with another password: 0x0f.
    assert_eq!(
        login_with(&mut lab, 17, "admin", b"labpass", b"wrong", ROLE_ADMIN).err(),
        Some(LoginError::Rakp4(Status::InvalidIntegrityCheckValue))
    );
    // Name/privilege lookup (bit 4 clear) must name the account's level.
    assert_eq!(
        login(&mut lab, 17, "viewer", b"viewpass", 0x04).err(),
        Some(LoginError::Rakp2(Status::UnauthorizedName))
    );
    login(&mut lab, 17, "viewer", b"viewpass", 0x02).unwrap();
    assert_eq!(lab.bmc.session_count(), 1, "failed logins hold no slot");
    let refusals: Vec<LoginRefusal> = lab
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::LoginRefused { reason, .. } => Some(reason),
            _ => None,
        })
        .collect();
    assert_eq!(
        refusals,
        [
            LoginRefusal::UnknownUser,
            LoginRefusal::WrongPassword,
            LoginRefusal::PrivilegeExceeded(Privilege::Administrator)
        ]
    );
}

#[test]
fn console_rejecting_rakp2_frees_the_slot_silently() {
    let mut lab = Lab::new(config());
    let reply = lab.ask(&sessionless_v20(
        PayloadType::OpenSessionRequest,
        &open_request(9, Some(17), 0).to_vec(),
    ));
    let open =
        open_session::Response::parse(&v20_payload(&reply, PayloadType::OpenSessionResponse))
            .unwrap();
    let id = open.accepted.unwrap().managed_session_id;
    let rakp1 = Rakp1 {
        tag: 0,
        managed_session_id: id,
        console_random: [1; 16],
        role: Role::from_byte(ROLE_ADMIN),
        user_name: b"admin",
    };
    lab.ask(&sessionless_v20(PayloadType::Rakp1, &rakp1.to_vec()));
    // What ipmitool sends when the RAKP 2 code does not match its password.
    let rakp3 = Rakp3 {
        tag: 0,
        status: Status::InvalidIntegrityCheckValue,
        managed_session_id: id,
        auth_code: &[],
    };
    assert!(lab
        .send(&sessionless_v20(PayloadType::Rakp3, &rakp3.to_vec()))
        .is_empty());
    assert_eq!(lab.bmc.session_count(), 0);
    assert!(lab.events().iter().any(|e| matches!(
        e,
        Event::LoginRefused {
            reason: LoginRefusal::RejectedByConsole(Status::InvalidIntegrityCheckValue),
            ..
        }
    )));
    // ipmitool just walks away instead: the slot waits for the handshake
    // timeout, and the log hints at the password.
    let reply = lab.ask(&sessionless_v20(
        PayloadType::OpenSessionRequest,
        &open_request(10, Some(17), 0).to_vec(),
    ));
    let open =
        open_session::Response::parse(&v20_payload(&reply, PayloadType::OpenSessionResponse))
            .unwrap();
    let rakp1 = Rakp1 {
        tag: 0,
        managed_session_id: open.accepted.unwrap().managed_session_id,
        console_random: [2; 16],
        role: Role::from_byte(ROLE_ADMIN),
        user_name: b"admin",
    };
    lab.ask(&sessionless_v20(PayloadType::Rakp1, &rakp1.to_vec()));
    let timeout = lab.bmc.config().handshake_timeout;
    lab.advance(timeout);
    assert_eq!(lab.bmc.session_count(), 0);
    let abandoned: Vec<String> = lab
        .events()
        .iter()
        .filter(|e| {
            matches!(
                e,
                Event::HandshakeAbandoned {
                    after: "RAKP 2",
                    ..
                }
            )
        })
        .map(|e| e.to_string())
        .collect();
    assert_eq!(abandoned.len(), 1);
    assert!(abandoned[0]
        .contains("(user admin) abandoned after RAKP 2: the client may have a wrong password"));
}

#[test]
fn user_account_is_capped_and_gets_0xd4_for_chassis_control() {
    let mut lab = Lab::new(config());
    // ipmitool's default: requests administrator, name-only lookup.
    let mut c = login(&mut lab, 17, "viewer", b"viewpass", ROLE_ADMIN).unwrap();
    assert_eq!(c.call(&mut lab, NetFn::App, 0x3b, &[0x04]), [0x81]);
    assert_eq!(c.call(&mut lab, NetFn::App, 0x3b, &[0x03]), [0x81]);
    assert_eq!(c.call(&mut lab, NetFn::App, 0x3b, &[0x00]), [0x00, 0x02]);
    assert_eq!(c.call(&mut lab, NetFn::Chassis, 0x02, &[0x00]), [0xd4]);
    assert_eq!(lab.bmc.power().state(), PowerState::On);
    assert_eq!(c.call(&mut lab, NetFn::Chassis, 0x01, &[])[0], 0x00);
    // ipmitool -L USER: requests user, and never raises it.
    let mut u = login(&mut lab, 17, "viewer", b"viewpass", ROLE_USER).unwrap();
    assert_eq!(u.call(&mut lab, NetFn::Chassis, 0x02, &[0x00]), [0xd4]);
    // Closing another session needs administrator.
    assert_eq!(c.call(&mut lab, NetFn::App, 0x3c, &[1, 2, 3, 4]), [0xd4]);
    let mut op = login(&mut lab, 3, "operator", b"oppass", 0x13).unwrap();
    assert_eq!(op.call(&mut lab, NetFn::App, 0x3b, &[0x03]), [0x00, 0x03]);
    assert_eq!(op.call(&mut lab, NetFn::Chassis, 0x02, &[0x00]), [0x00]);
    assert_eq!(lab.bmc.power().state(), PowerState::Off);
    // An administrator may close the viewer's session.
    let mut admin = login(&mut lab, 17, "admin", b"labpass", ROLE_ADMIN).unwrap();
    admin.call(&mut lab, NetFn::App, 0x3b, &[0x04]);
    assert_eq!(
        admin.call(&mut lab, NetFn::App, 0x3c, &[9, 9, 9, 9]),
        [0x87]
    );
    assert_eq!(
        admin.call(&mut lab, NetFn::App, 0x3c, &c.managed_id.to_le_bytes()),
        [0x00]
    );
    assert_eq!(lab.bmc.active_sessions(), 3);
}

#[test]
fn session_table_limits_and_timeouts() {
    let mut cfg = config();
    cfg.max_sessions = 3;
    cfg.users[0].max_sessions = 2;
    let timeout = cfg.session_timeout;
    let handshake = cfg.handshake_timeout;
    let mut lab = Lab::new(cfg);
    let mut a = login(&mut lab, 17, "admin", b"labpass", ROLE_ADMIN).unwrap();
    login(&mut lab, 17, "admin", b"labpass", ROLE_ADMIN).unwrap();
    // The account's share is used up: RAKP 2 says no resources.
    assert_eq!(
        login(&mut lab, 17, "admin", b"labpass", ROLE_ADMIN).err(),
        Some(LoginError::Rakp2(Status::InsufficientResources))
    );
    // A half-open session holds the last slot; the table is full.
    lab.ask(&sessionless_v20(
        PayloadType::OpenSessionRequest,
        &open_request(77, Some(17), 0).to_vec(),
    ));
    assert_eq!(
        login(&mut lab, 17, "operator", b"oppass", 0x13).err(),
        Some(LoginError::Open(Status::InsufficientResources))
    );
    // The half-open one lapses after the handshake timeout.
    assert_eq!(lab.bmc.poll_timeout(), Some(lab.now + handshake));
    lab.advance(handshake);
    assert_eq!(lab.bmc.session_count(), 2);
    assert!(lab.events().iter().any(|e| matches!(
        e,
        Event::HandshakeAbandoned {
            after: "Open Session",
            user: None,
            ..
        }
    )));
    // Activity keeps a session alive; idleness closes it.
    lab.advance(timeout - handshake - Duration::from_secs(1));
    assert_eq!(a.call(&mut lab, NetFn::App, 0x01, &[])[0], 0);
    lab.advance(Duration::from_secs(2));
    assert_eq!(lab.bmc.active_sessions(), 1);
    lab.advance(timeout);
    assert_eq!(lab.bmc.session_count(), 0);
    assert_eq!(lab.bmc.poll_timeout(), None);
    let datagram = a.request(NetFn::App, 0x01, &[]);
    assert!(lab.send(&datagram).is_empty());
    let closed = lab
        .events()
        .into_iter()
        .filter(|e| {
            matches!(
                e,
                Event::SessionClosed {
                    reason: CloseReason::IdleTimeout,
                    ..
                }
            )
        })
        .count();
    assert_eq!(closed, 2);
}

#[test]
fn replays_tampering_and_wrong_framing_are_dropped() {
    let mut lab = Lab::new(config());
    let mut c = login(&mut lab, 17, "admin", b"labpass", ROLE_ADMIN).unwrap();
    let datagram = c.request(NetFn::App, 0x01, &[]);
    assert_eq!(lab.send(&datagram).len(), 1);
    assert!(lab.send(&datagram).is_empty(), "replay");
    assert_eq!(lab.bmc.counters().replayed, 1);
    let mut tampered = c.request(NetFn::App, 0x01, &[]);
    let n = tampered.len();
    tampered[n - 20] ^= 1;
    assert!(lab.send(&tampered).is_empty());
    assert_eq!(lab.bmc.counters().bad_auth, 1);
    // The same request unauthenticated.
    let m = Message::request(NetFn::Chassis, 0x02, 9, &[0x00]).to_vec();
    let plain = v20::Repr {
        payload_type: PayloadType::Ipmi,
        encrypted: false,
        authenticated: false,
        oem: None,
        session_id: c.managed_id,
        sequence: 1000,
        payload: &m,
    };
    assert!(lab.send(&rmcp_ipmi(&plain.to_vec())).is_empty());
    assert_eq!(lab.bmc.power().state(), PowerState::On);
    // Late but unseen numbers inside the window are fine.
    c.seq += 5;
    let ahead = c.request(NetFn::App, 0x01, &[]);
    c.seq -= 3;
    let late = c.request(NetFn::App, 0x01, &[]);
    assert_eq!(lab.send(&ahead).len(), 1);
    assert_eq!(lab.send(&late).len(), 1);
}

#[test]
fn handshake_retransmissions_get_the_same_answers() {
    let mut lab = Lab::new(config());
    let open = sessionless_v20(
        PayloadType::OpenSessionRequest,
        &open_request(5, Some(17), 0).to_vec(),
    );
    let first = lab.ask(&open);
    assert_eq!(lab.ask(&open), first);
    assert_eq!(lab.bmc.session_count(), 1);
    let id = open_session::Response::parse(&v20_payload(&first, PayloadType::OpenSessionResponse))
        .unwrap()
        .accepted
        .unwrap()
        .managed_session_id;
    let rakp1 = sessionless_v20(
        PayloadType::Rakp1,
        &Rakp1 {
            tag: 3,
            managed_session_id: id,
            console_random: [9; 16],
            role: Role::from_byte(ROLE_ADMIN),
            user_name: b"admin",
        }
        .to_vec(),
    );
    let rakp2 = lab.ask(&rakp1);
    assert_eq!(lab.ask(&rakp1), rakp2);
    let r2_payload = v20_payload(&rakp2, PayloadType::Rakp2);
    let r2 = Rakp2::parse(&r2_payload).unwrap();
    let x = RakpExchange {
        algorithm: open_session::AuthAlgorithm::HmacSha256,
        console_session_id: 5,
        managed_session_id: id,
        console_random: [9; 16],
        managed_random: r2.managed_random,
        managed_guid: r2.managed_guid,
        role: ROLE_ADMIN,
        user_name: b"admin",
    };
    let code = x.rakp3_auth_code(b"labpass").unwrap();
    let rakp3 = sessionless_v20(
        PayloadType::Rakp3,
        &Rakp3 {
            tag: 4,
            status: Status::NoErrors,
            managed_session_id: id,
            auth_code: &code,
        }
        .to_vec(),
    );
    let rakp4 = lab.ask(&rakp3);
    assert_eq!(lab.ask(&rakp3), rakp4);
    assert_eq!(lab.bmc.counters().sessions_opened, 1);
    // RAKP 1 for a session that does not exist.
    let stray_payload = v20_payload(&rakp1, PayloadType::Rakp1);
    let mut stray = Rakp1::parse(&stray_payload).unwrap();
    stray.managed_session_id = 0x1234_5678;
    let reply = lab.ask(&sessionless_v20(PayloadType::Rakp1, &stray.to_vec()));
    assert_eq!(v20_payload(&reply, PayloadType::Rakp2)[1], 0x02);
}

/// An IPMI 1.5 console.
struct V15Console {
    auth: v15::AuthType,
    password: Vec<u8>,
    session_id: u32,
    seq: u32,
    rq_seq: u8,
}

fn v15_datagram(
    auth: v15::AuthType,
    password: &[u8],
    sid: u32,
    seq: u32,
    message: &[u8],
) -> Vec<u8> {
    let auth_code = v15_auth_code(auth, password, sid, seq, message).unwrap();
    rmcp_ipmi(
        &v15::Repr {
            auth_type: auth,
            sequence: seq,
            session_id: sid,
            auth_code,
            message,
        }
        .to_vec(),
    )
}

/// The message of an IPMI 1.5 answer, its auth code checked.
fn v15_answer<'a>(datagram: &'a [u8], password: &[u8]) -> (v15::Repr<'a>, Message<'a>) {
    let session = v15::Repr::parse_bytes(strip(datagram)).unwrap();
    if session.auth_type != v15::AuthType::None {
        assert!(verify_v15_auth_code(
            session.auth_type,
            password,
            session.session_id,
            session.sequence,
            session.message,
            &session.auth_code
        ));
    }
    let message = Message::parse(session.message).unwrap();
    (session, message)
}

fn v15_login(
    lab: &mut Lab,
    auth: v15::AuthType,
    user: &str,
    password: &[u8],
    privilege: Privilege,
) -> Result<V15Console, u8> {
    let mut name = [0u8; 16];
    name[..user.len()].copy_from_slice(user.as_bytes());
    let body = GetSessionChallenge {
        auth_type: auth,
        user_name: name,
    }
    .to_vec();
    let m = Message::request(NetFn::App, 0x39, 1, &body).to_vec();
    let reply = lab.ask(&v15_datagram(v15::AuthType::None, &[], 0, 0, &m));
    let (_, message) = v15_answer(&reply, &[]);
    if message.body[0] != 0 {
        return Err(message.body[0]);
    }
    let challenge = SessionChallenge::decode(message.response_data()).unwrap();
    let body = ActivateSession {
        auth_type: auth,
        max_privilege: privilege,
        challenge: challenge.challenge,
        initial_outbound_sequence: 0x1000,
    }
    .to_vec();
    let m = Message::request(NetFn::App, 0x3a, 2, &body).to_vec();
    let datagram = v15_datagram(auth, password, challenge.temporary_session_id, 0, &m);
    let mut replies = lab.send(&datagram);
    let Some(reply) = replies.pop() else {
        return Err(0);
    };
    let (session, message) = v15_answer(&reply, password);
    assert_eq!(session.session_id, challenge.temporary_session_id);
    assert_eq!(session.sequence, 0x1000);
    if message.body[0] != 0 {
        return Err(message.body[0]);
    }
    // A retransmitted Activate Session gets the same answer, no new session.
    let sessions = lab.bmc.session_count();
    assert_eq!(lab.ask(&datagram), reply);
    assert_eq!(lab.bmc.session_count(), sessions);
    let activated = SessionActivated::decode(message.response_data()).unwrap();
    assert_eq!(activated.max_privilege, privilege);
    Ok(V15Console {
        auth,
        password: password.to_vec(),
        session_id: activated.session_id,
        seq: activated.initial_inbound_sequence,
        rq_seq: 2,
    })
}

impl V15Console {
    fn call(&mut self, lab: &mut Lab, netfn: NetFn, command: u8, data: &[u8]) -> Vec<u8> {
        self.rq_seq += 1;
        let m = Message::request(netfn, command, self.rq_seq, data).to_vec();
        let datagram = v15_datagram(self.auth, &self.password, self.session_id, self.seq, &m);
        self.seq += 1;
        let reply = lab.ask(&datagram);
        let (session, message) = v15_answer(&reply, &self.password);
        assert_eq!(session.session_id, self.session_id);
        assert_eq!(message.sequence, self.rq_seq);
        message.body.to_vec()
    }
}

#[test]
fn ipmi_15_md5_and_straight_password_sessions() {
    for auth in [v15::AuthType::Md5, v15::AuthType::Password] {
        let mut lab = Lab::new(config());
        let mut c = v15_login(&mut lab, auth, "operator", b"oppass", Privilege::Operator).unwrap();
        assert_eq!(c.call(&mut lab, NetFn::Chassis, 0x02, &[0x00]), [0xd4]);
        assert_eq!(c.call(&mut lab, NetFn::App, 0x3b, &[0x03]), [0x00, 0x03]);
        assert_eq!(c.call(&mut lab, NetFn::Chassis, 0x02, &[0x00]), [0x00]);
        assert_eq!(lab.bmc.power().state(), PowerState::Off);
        let id = c.session_id.to_le_bytes();
        assert_eq!(c.call(&mut lab, NetFn::App, 0x3c, &id), [0x00]);
        assert_eq!(lab.bmc.session_count(), 0);
    }
}

#[test]
fn ipmi_15_refusals() {
    let mut lab = Lab::new(config());
    let md5 = v15::AuthType::Md5;
    // Unknown user: 0x81 at once.
    assert_eq!(
        v15_login(&mut lab, md5, "root", b"x", Privilege::User).err(),
        Some(0x81)
    );
    // Wrong password: silence.
    assert_eq!(
        v15_login(&mut lab, md5, "admin", b"wrong", Privilege::Administrator).err(),
        Some(0)
    );
    assert_eq!(lab.bmc.counters().bad_auth, 1);
    // Above the account's limit: 0x86.
    assert_eq!(
        v15_login(
            &mut lab,
            md5,
            "viewer",
            b"viewpass",
            Privilege::Administrator
        )
        .err(),
        Some(0x86)
    );
    // MD2 and none are not offered.
    assert_eq!(
        v15_login(
            &mut lab,
            v15::AuthType::Md2,
            "admin",
            b"labpass",
            Privilege::User
        )
        .err(),
        Some(0xcc)
    );
    let mut cfg = config();
    cfg.v15.straight_password = false;
    let mut lab = Lab::new(cfg);
    assert_eq!(
        v15_login(
            &mut lab,
            v15::AuthType::Password,
            "admin",
            b"labpass",
            Privilege::User
        )
        .err(),
        Some(0xcc)
    );
    // A user-level session works but cannot switch power.
    let mut c = v15_login(&mut lab, md5, "viewer", b"viewpass", Privilege::User).unwrap();
    assert_eq!(c.call(&mut lab, NetFn::Chassis, 0x02, &[0x02]), [0xd4]);
    // A packet signed with the wrong password is dropped.
    c.password = b"nope".to_vec();
    let m = Message::request(NetFn::App, 0x01, 9, &[]).to_vec();
    let datagram = v15_datagram(md5, b"nope", c.session_id, c.seq, &m);
    assert!(lab.send(&datagram).is_empty());
}

#[test]
fn power_cycle_turns_power_back_on_after_the_interval() {
    let mut lab = Lab::new(config());
    let mut c = login(&mut lab, 17, "admin", b"labpass", ROLE_ADMIN).unwrap();
    c.call(&mut lab, NetFn::App, 0x3b, &[0x04]);
    assert_eq!(c.call(&mut lab, NetFn::Chassis, 0x02, &[0x02]), [0x00]);
    assert_eq!(lab.bmc.power().state(), PowerState::Off);
    let on_at = lab.now + Duration::from_secs(1);
    assert_eq!(lab.bmc.poll_timeout(), Some(on_at));
    // A cycle of a chassis that is off is refused (spec: 0xd5).
    assert_eq!(c.call(&mut lab, NetFn::Chassis, 0x02, &[0x02]), [0xd5]);
    lab.advance(Duration::from_millis(999));
    assert_eq!(lab.bmc.power().state(), PowerState::Off);
    lab.advance(Duration::from_millis(1));
    assert_eq!(lab.bmc.power().state(), PowerState::On);
    // Power off during a cycle cancels the power-on.
    c.call(&mut lab, NetFn::Chassis, 0x02, &[0x02]);
    c.call(&mut lab, NetFn::Chassis, 0x02, &[0x00]);
    lab.advance(Duration::from_secs(2));
    assert_eq!(lab.bmc.power().state(), PowerState::Off);
    // Diagnostic interrupt, soft off, and an undefined control.
    c.call(&mut lab, NetFn::Chassis, 0x02, &[0x01]);
    assert_eq!(c.call(&mut lab, NetFn::Chassis, 0x02, &[0x04]), [0x00]);
    assert_eq!(c.call(&mut lab, NetFn::Chassis, 0x02, &[0x05]), [0x00]);
    assert_eq!(c.call(&mut lab, NetFn::Chassis, 0x02, &[0x06]), [0xcc]);
    assert_eq!(c.call(&mut lab, NetFn::Chassis, 0x02, &[]), [0xc7]);
    assert_eq!(
        lab.bmc.power().operations(),
        &[
            PowerOperation::Set(PowerState::Off),
            PowerOperation::Set(PowerState::On),
            PowerOperation::Set(PowerState::Off),
            PowerOperation::Set(PowerState::Off),
            PowerOperation::Set(PowerState::On),
            PowerOperation::DiagnosticInterrupt,
            PowerOperation::SoftOff,
        ]
    );
    let status = c.call(&mut lab, NetFn::Chassis, 0x01, &[]);
    assert_eq!(status, [0x00, 0x20, 0x10, 0x00]);
}

/// A backend whose chassis refuses everything.
struct Broken;

impl PowerBackend for Broken {
    fn power(&mut self) -> Result<PowerState, BackendError> {
        Err(BackendError::Failed("no chassis".into()))
    }
    fn set_power(&mut self, _: PowerState) -> Result<(), BackendError> {
        Err(BackendError::Failed("no chassis".into()))
    }
    fn hard_reset(&mut self) -> Result<(), BackendError> {
        Err(BackendError::Failed("no chassis".into()))
    }
}

#[test]
fn backend_failures_answer_0xff_and_unsupported_0xcc() {
    let mut lab = Lab {
        bmc: Bmc::new(config(), Broken, [2; 32]).unwrap(),
        now: Instant::now(),
    };
    let mut c = login(&mut lab, 3, "admin", b"labpass", ROLE_ADMIN).unwrap();
    c.call(&mut lab, NetFn::App, 0x3b, &[0x04]);
    assert_eq!(c.call(&mut lab, NetFn::Chassis, 0x01, &[]), [0xff]);
    assert_eq!(c.call(&mut lab, NetFn::Chassis, 0x02, &[0x00]), [0xff]);
    assert_eq!(c.call(&mut lab, NetFn::Chassis, 0x02, &[0x03]), [0xff]);
    // The default diagnostic interrupt is unsupported: 0xcc, like ipmi_sim.
    assert_eq!(c.call(&mut lab, NetFn::Chassis, 0x02, &[0x04]), [0xcc]);
    let failures = lab
        .events()
        .into_iter()
        .filter(|e| matches!(e, Event::BackendFailed { .. }))
        .count();
    assert_eq!(failures, 3);
}

#[test]
fn configuration_is_validated() {
    let mut cfg = config();
    cfg.cipher_suites = vec![0];
    assert!(Bmc::new(cfg, MemoryPower::new(PowerState::On), [0; 32]).is_err());
}

/// Hostile input: every truncation and many bit flips of real datagrams,
/// and random bytes, in every session state; nothing panics and the table
/// stays bounded.
#[test]
fn hostile_datagrams_never_panic() {
    let mut lab = Lab::new(config());
    let mut c = login(&mut lab, 17, "admin", b"labpass", ROLE_ADMIN).unwrap();
    let mut samples = vec![
        unhex("0600ff06000011be80000000"),
        unhex("0600ff07000000000000000000092018c88100388e04b5"),
        sessionless_v20(
            PayloadType::OpenSessionRequest,
            &open_request(1, Some(17), 0).to_vec(),
        ),
        sessionless_v20(
            PayloadType::Rakp1,
            &Rakp1 {
                tag: 0,
                managed_session_id: c.managed_id,
                console_random: [0; 16],
                role: Role::from_byte(ROLE_ADMIN),
                user_name: b"admin",
            }
            .to_vec(),
        ),
        sessionless_v20(
            PayloadType::Rakp3,
            &Rakp3 {
                tag: 0,
                status: Status::NoErrors,
                managed_session_id: c.managed_id,
                auth_code: &[0; 32],
            }
            .to_vec(),
        ),
        c.request(NetFn::Chassis, 0x02, &[0x00]),
        v15_datagram(
            v15::AuthType::Md5,
            b"labpass",
            1,
            1,
            &Message::request(NetFn::App, 0x3a, 1, &[2; 22]).to_vec(),
        ),
    ];
    let mut state = 0x1234_5678_u32;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state
    };
    for _ in 0..200 {
        let len = (next() % 80) as usize;
        samples.push((0..len).map(|_| next() as u8).collect());
    }
    for sample in &samples {
        for cut in 0..=sample.len() {
            lab.send(&sample[..cut]);
        }
        for _ in 0..64 {
            let mut s = sample.clone();
            if s.is_empty() {
                continue;
            }
            let at = next() as usize % s.len();
            s[at] ^= 1 << (next() % 8);
            lab.send(&s);
        }
    }
    assert!(lab.bmc.session_count() <= lab.bmc.config().max_sessions);
    assert_eq!(
        lab.bmc.power().state(),
        PowerState::On,
        "no forged power off"
    );
    // The genuine session survived all that.
    assert_eq!(c.call(&mut lab, NetFn::App, 0x01, &[])[0], 0);
}

#[test]
fn session_less_commands_outside_discovery_are_refused() {
    let mut lab = Lab::new(config());
    let m = Message::request(NetFn::Chassis, 0x02, 1, &[0x00]).to_vec();
    let reply = lab.ask(&v15_datagram(v15::AuthType::None, &[], 0, 0, &m));
    let (_, message) = v15_answer(&reply, &[]);
    assert_eq!(message.body, &[0xd5]);
    let reply = lab.ask(&sessionless_v20(PayloadType::Ipmi, &m));
    assert_eq!(
        Message::parse(&v20_payload(&reply, PayloadType::Ipmi))
            .unwrap()
            .body,
        &[0xd5]
    );
    assert_eq!(lab.bmc.power().state(), PowerState::On);
    let guid = Message::request(NetFn::App, 0x37, 1, &[]).to_vec();
    let reply = lab.ask(&v15_datagram(v15::AuthType::None, &[], 0, 0, &guid));
    let (_, message) = v15_answer(&reply, &[]);
    assert_eq!(message.response_data(), GUID);
    // Get Channel Auth Capabilities decodes with the client's codec too.
    let request = GetChannelAuthCapabilities {
        extended: true,
        channel: 0x0e,
        privilege: Privilege::Operator,
    };
    let m = Message::request(NetFn::App, 0x38, 2, &request.to_vec()).to_vec();
    let reply = lab.ask(&sessionless_v20(PayloadType::Ipmi, &m));
    let message = Message::parse(&v20_payload(&reply, PayloadType::Ipmi))
        .unwrap()
        .body
        .to_vec();
    assert_eq!(message[0], 0);
    assert!(ChannelAuthCapabilities::decode(&message[1..])
        .unwrap()
        .supports_v20());
}

/// Our client against this responder in memory, on the fake clock: every
/// datagram is delivered at once, time jumps to the next deadline.
fn run_client(
    lab: &mut Lab,
    protocol: crate::ipmi::client::Protocol,
    user: &str,
    password: &str,
    action: crate::power::Action,
) -> Result<crate::ipmi::client::Outcome, crate::Error> {
    use crate::ipmi::client::{Client, Config};
    let mut config = Config::new(user, crate::ipmi::crypto::Secret::from(password), action);
    config.protocol = protocol;
    config.privilege = match user {
        "operator" => Privilege::Operator,
        "viewer" if action == crate::power::Action::Status => Privilege::User,
        _ => Privilege::Administrator,
    };
    let mut client = Client::new(config, lab.now, [3; 32])?;
    for _ in 0..10_000 {
        while let Some(datagram) = client.poll_transmit() {
            for reply in lab.send(&datagram) {
                client.handle_datagram(lab.now, &reply);
            }
        }
        if let Some(outcome) = client.poll_outcome() {
            return outcome;
        }
        let next = [client.poll_timeout(), lab.bmc.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
            .expect("the client always has a deadline");
        lab.now = lab.now.max(next);
        lab.bmc.handle_timeout(lab.now);
        client.handle_timeout(lab.now);
    }
    panic!("the client did not finish");
}

#[test]
fn our_client_in_memory_suites_17_3_and_ipmi_15() {
    use crate::ipmi::client::{CipherPolicy, Protocol as ClientProtocol, SessionProtocol, V15Auth};
    use crate::power::Action;
    let mut lab = Lab::new(config());
    let s17 = ClientProtocol::LanPlus(CipherPolicy::Fixed(CipherSuite::SUITE_17));
    let off = run_client(&mut lab, s17, "admin", "labpass", Action::Off).unwrap();
    assert!(off.off_seen && off.session_closed);
    assert_eq!(off.session, SessionProtocol::V20(CipherSuite::SUITE_17));
    assert_eq!(lab.bmc.power().state(), PowerState::Off);
    let start = lab.now;
    let reboot = run_client(
        &mut lab,
        ClientProtocol::LanPlus(CipherPolicy::Auto),
        "operator",
        "oppass",
        Action::Reboot,
    );
    let reboot = reboot.unwrap();
    assert_eq!(reboot.power, PowerState::On);
    // The hardware power cycle: off now, on by the BMC's timer 1 s later.
    let cycle = run_client(&mut lab, s17, "admin", "labpass", Action::Cycle).unwrap();
    assert_eq!(cycle.action, Action::Cycle);
    lab.advance(Duration::from_secs(1));
    assert_eq!(lab.bmc.power().state(), PowerState::On);
    let md5 = ClientProtocol::Lan15(V15Auth::Md5);
    let status = run_client(&mut lab, md5, "viewer", "viewpass", Action::Status).unwrap();
    assert_eq!(status.power, PowerState::On);
    assert!(matches!(
        status.session,
        SessionProtocol::V15(v15::AuthType::Md5)
    ));
    // Refusals come back as authentication errors with the raw code.
    let err = run_client(&mut lab, s17, "viewer", "viewpass", Action::Off).unwrap_err();
    assert_eq!(
        (err.kind(), err.code()),
        (crate::ErrorKind::Auth, Some(0x81)),
        "{err}"
    );
    let err = run_client(&mut lab, s17, "admin", "nope", Action::Off).unwrap_err();
    assert_eq!(err.kind(), crate::ErrorKind::Auth, "{err}");
    assert_eq!(lab.bmc.power().state(), PowerState::On);
    assert_eq!(lab.bmc.session_count(), 0, "every session closed");
    assert!(lab.now - start < Duration::from_secs(10));
}
