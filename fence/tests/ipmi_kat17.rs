//! Cipher suite 17 (RAKP-HMAC-SHA256, HMAC-SHA256-128, AES-CBC-128) known
//! answers, from a captured exchange: `ipmitool -I lanplus -C 17 -U admin
//! -P labpass -vvvv chassis power status` (ipmitool 1.8.19) against
//! ironbeat's BMC responder on 127.0.0.1, captured with tcpdump on `lo`.
//!
//! Three implementations agree on every value here: ipmitool (it computed
//! the RAKP 3 code and accepted our RAKP 2 and RAKP 4, and printed its SIK,
//! K1 and K2 with `-vvvv`), Python's `hmac`/`hashlib` plus `openssl enc`
//! (recomputed from the frames), and this crate.
//!
//! Note K1 and K2: HMAC-SHA256 of the SIK over **20** bytes of 0x01 / 0x02
//! (the spec's Const1/Const2 are 20 bytes for every algorithm; ipmitool,
//! OpenBMC and FreeIPMI all use 20), not over 32.

use ironbeat_fence::ipmi::crypto::{CipherSuite, RakpExchange, SessionKeys};
use ironbeat_fence::ipmi::wire::message::{NetFn, Repr as Message};
use ironbeat_fence::ipmi::wire::open_session::{self, AuthAlgorithm, Status};
use ironbeat_fence::ipmi::wire::rakp::{Rakp1, Rakp2, Rakp3, Rakp4};
use ironbeat_fence::ipmi::wire::rmcp;
use ironbeat_fence::ipmi::wire::v20::{self, PayloadType};
use ironbeat_fence::ipmi::Privilege;

/// UDP payloads of the capture, in order (frame number in the comment).
const OPEN_REQUEST: &str = "0600ff0706100000000000000000200000000000a4a3a2a0000000080300000001000008040000000200000801000000"; // 3
const OPEN_RESPONSE: &str = "0600ff0706110000000000000000240000000400a4a3a2a0dc1be03c000000080300000001000008040000000200000801000000"; // 4
const RAKP1: &str = "0600ff0706120000000000000000210000000000dc1be03c5289c33e3e353749184110829104982b1400000561646d696e"; // 5
const RAKP2: &str = "0600ff0706130000000000000000480000000000a4a3a2a0342a5829fbcb76b425c55ca6edcffc8469726f6e626561742d626d63000000013daab67191eb9c38a520fff0f9dd4fdfe3d3665e822ba095d26bf025f64eeda9"; // 6
const RAKP3: &str = "0600ff0706140000000000000000280000000000dc1be03c158810b4ba8f3d2afa64e66240f389aa855944291ceda9d9c6885c3ca9e85ff6"; // 7
const RAKP4: &str =
    "0600ff0706150000000000000000180000000000a4a3a2a00a79148121b02f89301883b064ebb477"; // 8
/// ipmitool -> BMC: Set Session Privilege Level (administrator).
const SET_PRIVILEGE: &str = "0600ff0706c0dc1be03c030000002000b0a70a2186daf4109425ad1d6bb9230b36fe53849788273e01b98a2e434553b2ffff0207e120370d0060d3fc4bfdee3963fd7584"; // 9
/// BMC -> ipmitool: its answer.
const SET_PRIVILEGE_OK: &str = "0600ff0706c0a4a3a2a0010000002000ad7b49948d94c2eac5d60a29102ec30096baedcd12592f8132ef541179bde9e3ffff0207513ed78a082f9f0d963a7e2b01567432"; // 10
/// BMC -> ipmitool: the Get Device ID answer (two AES blocks).
const DEVICE_ID: &str = "0600ff0706c0a4a3a2a003000000300046111a9846feaa1b0f78cf486e172a7b72a924c51177d3d76dcfb840d474a184e2d02ff8c10b0ece271389b87bdc66ddffff0207d3ba285cafdd9da4ef3ea1f64908c3f1"; // 14

/// What ipmitool printed with -vvvv for this session.
const IPMITOOL_SIK: &str = "4d79edd9a7bf5e284860ab4667623b68ccce36795152f117ba5b6a9168f10222";
const IPMITOOL_K1: &str = "8dd284cd30d54027726191eb7cbe9de59477d5ffc6c75c64b1f1f560be322808";
const IPMITOOL_K2: &str = "2291a52389b9d559ab797990ceeb3fd27fb7d0710678fe0405ccabae53824327";
/// ipmitool's RAKP 2 HMAC input buffer (-vvvv): SIDm, SIDc, Rm, Rc, GUIDc, role, ULEN, UNAME.
const IPMITOOL_RAKP2_INPUT: &str = "a4a3a2a0dc1be03c5289c33e3e353749184110829104982b342a5829fbcb76b425c55ca6edcffc8469726f6e626561742d626d6300000001140561646d696e";

const PASSWORD: &[u8] = b"labpass";

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// The RMCP+ payload of a captured datagram.
fn payload(datagram: &str, expected: PayloadType) -> Vec<u8> {
    let bytes = unhex(datagram);
    let repr = v20::Repr::parse(&bytes[rmcp::HEADER_LEN..], None).unwrap();
    assert_eq!(repr.payload_type, expected);
    repr.payload.to_vec()
}

struct Captured {
    rakp1: Vec<u8>,
    rakp2: Vec<u8>,
    rakp3: Vec<u8>,
    rakp4: Vec<u8>,
}

fn captured() -> Captured {
    Captured {
        rakp1: payload(RAKP1, PayloadType::Rakp1),
        rakp2: payload(RAKP2, PayloadType::Rakp2),
        rakp3: payload(RAKP3, PayloadType::Rakp3),
        rakp4: payload(RAKP4, PayloadType::Rakp4),
    }
}

fn exchange<'a>(r1: &'a Rakp1<'a>, r2: &Rakp2<'_>) -> RakpExchange<'a> {
    RakpExchange {
        algorithm: AuthAlgorithm::HmacSha256,
        console_session_id: r2.console_session_id,
        managed_session_id: r1.managed_session_id,
        console_random: r1.console_random,
        managed_random: r2.managed_random,
        managed_guid: r2.managed_guid,
        role: r1.role.to_byte(),
        user_name: r1.user_name,
    }
}

#[test]
fn open_session_negotiates_suite_17() {
    let request =
        open_session::Request::parse(&payload(OPEN_REQUEST, PayloadType::OpenSessionRequest))
            .unwrap();
    assert_eq!(request.console_session_id, 0xa0a2_a3a4);
    assert_eq!(request.max_privilege, Privilege::Unknown(0));
    let response =
        open_session::Response::parse(&payload(OPEN_RESPONSE, PayloadType::OpenSessionResponse))
            .unwrap();
    assert_eq!(response.status, Status::NoErrors);
    assert_eq!(response.max_privilege, Privilege::Administrator);
    let accepted = response.accepted.unwrap();
    assert_eq!(accepted.managed_session_id, 0x3ce0_1bdc);
    assert_eq!(
        CipherSuite::from_algorithms(accepted.algorithms),
        Some(CipherSuite::SUITE_17)
    );
}

#[test]
fn rakp_codes_and_sik_match_ipmitool() {
    let c = captured();
    let r1 = Rakp1::parse(&c.rakp1).unwrap();
    let r2 = Rakp2::parse(&c.rakp2).unwrap();
    let r3 = Rakp3::parse(&c.rakp3).unwrap();
    let r4 = Rakp4::parse(&c.rakp4).unwrap();
    assert_eq!((r1.user_name, r1.role.to_byte()), (&b"admin"[..], 0x14));
    assert_eq!(
        (
            r2.auth_code.len(),
            r3.auth_code.len(),
            r4.integrity_check_value.len()
        ),
        (32, 32, 16)
    );
    let x = exchange(&r1, &r2);
    // The BMC's RAKP 2 code, which ipmitool verified over this input.
    let input = unhex(IPMITOOL_RAKP2_INPUT);
    assert_eq!(&input[..4], &r2.console_session_id.to_le_bytes());
    assert_eq!(&input[8..24], &r1.console_random);
    assert_eq!(&input[24..40], &r2.managed_random);
    assert_eq!(x.rakp2_auth_code(PASSWORD).unwrap(), r2.auth_code);
    // ipmitool's RAKP 3 code: computed by an independent implementation.
    assert_eq!(x.rakp3_auth_code(PASSWORD).unwrap(), r3.auth_code);
    assert!(x.verify_rakp3(PASSWORD, r3.auth_code).unwrap());
    assert!(!x.verify_rakp3(b"labpasS", r3.auth_code).unwrap());
    let sik = x.session_integrity_key(PASSWORD).unwrap();
    assert_eq!(sik, unhex(IPMITOOL_SIK));
    // The BMC's RAKP 4 value, which ipmitool verified.
    assert_eq!(
        x.rakp4_integrity_check_value(&sik).unwrap(),
        r4.integrity_check_value
    );
}

#[test]
fn k1_and_k2_match_ipmitool() {
    let c = captured();
    let r1 = Rakp1::parse(&c.rakp1).unwrap();
    let r2 = Rakp2::parse(&c.rakp2).unwrap();
    let sik = exchange(&r1, &r2).session_integrity_key(PASSWORD).unwrap();
    let keys = SessionKeys::derive(CipherSuite::SUITE_17.algorithms(), &sik).unwrap();
    assert_eq!(
        keys.k1(),
        &unhex(IPMITOOL_K1)[..],
        "K1 = HMAC-SHA256(SIK, 0x01 x 20)"
    );
    assert_eq!(
        keys.k2(),
        &unhex(IPMITOOL_K2)[..],
        "K2 = HMAC-SHA256(SIK, 0x02 x 20)"
    );
}

/// Opens a captured session packet: integrity (HMAC-SHA256-128 with K1),
/// then AES-CBC-128 with K2's first 16 bytes.
fn open_packet(keys: &SessionKeys, datagram: &str) -> Vec<u8> {
    let bytes = unhex(datagram);
    let packet = v20::Packet::new_checked(&bytes[rmcp::HEADER_LEN..]).unwrap();
    assert!(packet.authenticated() && packet.encrypted());
    let (covered, code) = packet.split_auth_code(16).unwrap();
    assert!(keys.verify(covered, code), "integrity of {datagram}");
    let mut forged = covered.to_vec();
    forged[10] ^= 1;
    assert!(!keys.verify(&forged, code));
    keys.decrypt(packet.payload()).unwrap()
}

fn session_keys() -> SessionKeys {
    let c = captured();
    let r1 = Rakp1::parse(&c.rakp1).unwrap();
    let r2 = Rakp2::parse(&c.rakp2).unwrap();
    let sik = exchange(&r1, &r2).session_integrity_key(PASSWORD).unwrap();
    SessionKeys::derive(CipherSuite::SUITE_17.algorithms(), &sik).unwrap()
}

#[test]
fn ipmitool_session_packets_verify_and_decrypt() {
    let keys = session_keys();
    // ipmitool's Set Session Privilege Level, administrator.
    let plain = open_packet(&keys, SET_PRIVILEGE);
    let m = Message::parse(&plain).unwrap();
    assert_eq!(
        (m.netfn, m.command, m.response, m.body),
        (NetFn::App, 0x3b, false, &[0x04][..])
    );
    // Our answer: completion 0, privilege administrator.
    let plain = open_packet(&keys, SET_PRIVILEGE_OK);
    let m = Message::parse(&plain).unwrap();
    assert_eq!(
        (m.command, m.response, m.body),
        (0x3b, true, &[0x00, 0x04][..])
    );
    // Our Get Device ID answer spans two AES blocks.
    let plain = open_packet(&keys, DEVICE_ID);
    let m = Message::parse(&plain).unwrap();
    assert_eq!((m.netfn, m.command, m.body[0]), (NetFn::App, 0x01, 0x00));
    assert_eq!(m.body.len(), 12);
}

#[test]
fn our_encryption_reproduces_ipmitool_bytes() {
    // Re-encrypting ipmitool's plaintext with its IV gives its ciphertext,
    // and signing gives its auth code: byte-exact agreement.
    let keys = session_keys();
    let bytes = unhex(SET_PRIVILEGE);
    let packet = v20::Packet::new_checked(&bytes[rmcp::HEADER_LEN..]).unwrap();
    let iv: [u8; 16] = packet.payload()[..16].try_into().unwrap();
    let plain = keys.decrypt(packet.payload()).unwrap();
    assert_eq!(keys.encrypt(&plain, iv), packet.payload());
    let repr = v20::Repr {
        payload_type: PayloadType::Ipmi,
        encrypted: true,
        authenticated: true,
        oem: None,
        session_id: packet.session_id(),
        sequence: packet.sequence(),
        payload: packet.payload(),
    };
    let rebuilt = repr.to_vec_signed(keys.auth_code_len(), |c| keys.sign(c));
    assert_eq!(rmcp::wrap(rmcp::MessageClass::Ipmi, &rebuilt), bytes);
}
