//! RMCP+ session wrapper (with and without a trailer), Open Session, RAKP 1-4,
//! integrity check and AES-CBC-128 decryption with a fixed key.
#![no_main]

use std::sync::OnceLock;

use ironbeat_fence::ipmi::crypto::{CipherSuite, SessionKeys};
use ironbeat_fence::ipmi::wire::{open_session, rakp, rmcp, v20};
use libfuzzer_sys::fuzz_target;

fn keys() -> &'static SessionKeys {
    static KEYS: OnceLock<SessionKeys> = OnceLock::new();
    KEYS.get_or_init(|| {
        SessionKeys::derive(CipherSuite::SUITE_17.algorithms(), &[0x5a; 32])
            .expect("suite 17 derives keys")
    })
}

fuzz_target!(|data: &[u8]| {
    let body = data.get(rmcp::HEADER_LEN..).unwrap_or(&[]);
    for bytes in [data, body] {
        for auth_len in [None, Some(12), Some(16)] {
            if let Ok(repr) = v20::Repr::parse(bytes, auth_len) {
                if !repr.authenticated {
                    assert_eq!(repr.to_vec(), bytes);
                }
                let p = repr.payload;
                let _ = keys().decrypt(p);
                if let Ok(r) = open_session::Request::parse(p) {
                    assert_eq!(open_session::Request::parse(&r.to_vec()).unwrap(), r);
                }
                if let Ok(r) = open_session::Response::parse(p) {
                    assert_eq!(open_session::Response::parse(&r.to_vec()).unwrap(), r);
                }
                if let Ok(r) = rakp::Rakp1::parse(p) {
                    assert_eq!(rakp::Rakp1::parse(&r.to_vec()).unwrap(), r);
                }
                let _ = rakp::Rakp2::parse(p).map(|r| r.to_vec());
                let _ = rakp::Rakp3::parse(p).map(|r| r.to_vec());
                let _ = rakp::Rakp4::parse(p).map(|r| r.to_vec());
            }
        }
        if let Ok(packet) = v20::Packet::new_checked(bytes) {
            if let Ok((covered, code)) = packet.split_auth_code(keys().auth_code_len()) {
                let _ = keys().verify(covered, code);
            }
        }
    }
});
