//! The native TOML configuration.
#![no_main]

use std::path::Path;

use ironbeat::config::validate_native;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Err(e) = validate_native(&text, Path::new("ironbeat.toml"), "node1") {
        assert!(e.to_string().starts_with("ironbeat.toml"));
    }
});
