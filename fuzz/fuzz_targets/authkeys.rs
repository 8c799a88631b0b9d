//! heartbeat's authkeys format.
#![no_main]

use ironbeat_link::auth::parse_authkeys;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for allow_crc in [false, true] {
        if let Err(e) = parse_authkeys(&text, "authkeys", allow_crc) {
            assert!(e.to_string().starts_with("authkeys"));
        }
    }
});
