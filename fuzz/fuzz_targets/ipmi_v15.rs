//! IPMI 1.5 session wrapper, the IPMI message inside it, the command bodies
//! and the MD5 auth code check: nothing panics, what parses re-emits.
#![no_main]

use ironbeat_fence::ipmi::commands::{
    ActivateSession, Body, ChannelAuthCapabilities, ChassisStatus, GetSessionChallenge,
    SessionActivated, SessionChallenge,
};
use ironbeat_fence::ipmi::crypto::verify_v15_auth_code;
use ironbeat_fence::ipmi::wire::{message, rmcp, v15};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let body = data.get(rmcp::HEADER_LEN..).unwrap_or(&[]);
    for bytes in [data, body] {
        if let Ok(repr) = v15::Repr::parse_bytes(bytes) {
            let again = repr.to_vec();
            assert_eq!(&again[..], &bytes[..again.len()]);
            let _ = verify_v15_auth_code(
                repr.auth_type,
                b"fuzz",
                repr.session_id,
                repr.sequence,
                repr.message,
                &repr.auth_code,
            );
            if let Ok(m) = message::Repr::parse(repr.message) {
                assert_eq!(m.to_vec(), repr.message);
                let _ = ironbeat_fence::ipmi::commands::summary(&m);
                let d = m.response_data();
                let _ = ChannelAuthCapabilities::decode(d).map(|b| b.to_vec());
                let _ = SessionChallenge::decode(d).map(|b| b.to_vec());
                let _ = SessionActivated::decode(d).map(|b| b.to_vec());
                let _ = ChassisStatus::decode(d).map(|b| b.to_vec());
                let _ = GetSessionChallenge::decode(m.body).map(|b| b.to_vec());
                let _ = ActivateSession::decode(m.body).map(|b| b.to_vec());
            }
        }
    }
});
