//! heartbeat's ha.cf, as `ironbeat --ha-d` reads it.
#![no_main]

use std::path::Path;

use ironbeat::config::parse_ha_cf;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Err(e) = parse_ha_cf(&text, Path::new("ha.cf")) {
        assert!(e.to_string().starts_with("ha.cf"));
    }
});
