//! Redfish over HTTP/1.1: the response parser (Content-Length, chunked,
//! close-delimited, interim 1xx, limits), the JSON resource readers, and the
//! fence request machine fed the parsed response. Nothing may panic; a
//! complete response never claims more bytes than it was given.
#![no_main]

use std::time::{Duration, Instant};

use ironbeat_fence::ipmi::crypto::Secret;
use ironbeat_fence::power::Action;
use ironbeat_fence::redfish::http::{parse_at_eof, parse_response, Parse};
use ironbeat_fence::redfish::{resource, Client, Config, Vendor};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for head in [false, true] {
        if let Ok(Parse::Complete { response, consumed }) = parse_response(data, head) {
            assert!(consumed <= data.len());
            let _ = resource::parse_root(&response.body);
            let _ = resource::parse_members(&response.body);
            let _ = resource::parse_system(&response.body);
            let _ = resource::message_ids(&response.body);
            let _ = resource::error_message(&response.body);
            // The machine, at every step, answered with this response.
            let action = [Action::Reboot, Action::Off, Action::Status][data.len() % 3];
            let mut cfg = Config::new(Vendor::Ilo, "u", Secret::from("p"), action);
            if data.first().is_some_and(|b| b & 1 == 1) {
                cfg.systems_uri = None;
            }
            cfg.timing.timeout = Duration::from_secs(5);
            let t0 = Instant::now();
            if let Ok(mut c) = Client::new(cfg, t0) {
                let mut now = t0;
                for _ in 0..64 {
                    while c.poll_event().is_some() {}
                    if c.poll_outcome().is_some() {
                        break;
                    }
                    if c.poll_request().is_some() {
                        c.handle_response(now, &response);
                    } else if let Some(t) = c.poll_timeout() {
                        now = t.max(now);
                        c.handle_timeout(now);
                    } else {
                        break;
                    }
                }
            }
        }
    }
    let _ = parse_at_eof(data, false);
    let _ = resource::parse_system(data);
    let _ = resource::message_ids(data);
});
