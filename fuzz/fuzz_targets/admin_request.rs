//! The admin socket protocol: a request line and a reply line as the daemon
//! and the admin commands decode them; what decodes re-encodes to a line that
//! decodes to the same value.
#![no_main]

use ironbeat::daemon::protocol::{decode, encode, EventRecord, Reply, Request};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = decode::<Request>(data) {
        assert_eq!(decode::<Request>(&encode(&request)).ok(), Some(request.clone()));
        let _ = request.to_admin();
    }
    if let Ok(reply) = decode::<Reply>(data) {
        let _ = encode(&reply);
    }
    let _ = decode::<EventRecord>(data);
});
