//! The watchdog's sysfs parser (`watchdog::info::SysfsEntry::parse`) and the
//! ioctl identity decoder: the input is split at 0xFF bytes into the name,
//! the driver and one value per attribute file (absent when the input runs
//! out). Nothing may panic, and what is kept must be printable.
#![no_main]

use ironbeat_fence::watchdog::info::{
    identity_from_bytes, parse_number, SysfsEntry, SYSFS_ATTRIBUTES,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.split(|b| *b == 0xff);
    let name = String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let driver = parts
        .next()
        .map(|d| String::from_utf8_lossy(d).into_owned());
    let values: Vec<&[u8]> = parts.collect();
    let entry = SysfsEntry::parse(
        &name,
        |attr| {
            let i = SYSFS_ATTRIBUTES.iter().position(|a| *a == attr)?;
            values.get(i).map(|v| v.to_vec())
        },
        driver.as_deref(),
    );
    for text in [&Some(entry.name.clone()), &entry.identity, &entry.driver] {
        if let Some(text) = text {
            assert!(!text.chars().any(char::is_control));
        }
    }
    let _ = entry.options.map(|o| o.to_string());
    let _ = entry.device_path();
    let identity = identity_from_bytes(data);
    assert!(!identity.chars().any(char::is_control));
    let _ = parse_number(&String::from_utf8_lossy(data));
});
