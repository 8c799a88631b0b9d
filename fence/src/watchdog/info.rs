//! What a watchdog is: its option bits (`WDIOF_*`), its identity, and the
//! entry the kernel publishes in `/sys/class/watchdog/watchdogN/`. Pure
//! parsers of the kernel's text; reading the files is [`super::list`]'s job.

use std::fmt;
use std::time::Duration;

/// The `options` word of `struct watchdog_info` (`WDIOF_*`, linux/watchdog.h):
/// what the device supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Options(pub u32);

impl Options {
    /// Reset due to CPU overheat.
    pub const OVERHEAT: u32 = 0x0001;
    /// Fan failed.
    pub const FANFAULT: u32 = 0x0002;
    /// External relay 1.
    pub const EXTERN1: u32 = 0x0004;
    /// External relay 2.
    pub const EXTERN2: u32 = 0x0008;
    /// Power bad/power fault.
    pub const POWERUNDER: u32 = 0x0010;
    /// The card previously reset the CPU.
    pub const CARDRESET: u32 = 0x0020;
    /// Power over voltage.
    pub const POWEROVER: u32 = 0x0040;
    /// The timeout can be set (`WDIOC_SETTIMEOUT`).
    pub const SETTIMEOUT: u32 = 0x0080;
    /// Writing `V` before closing disarms it (magic close).
    pub const MAGICCLOSE: u32 = 0x0100;
    /// A pretimeout can be set.
    pub const PRETIMEOUT: u32 = 0x0200;
    /// It only raises an alarm; it does not reset the machine.
    pub const ALARMONLY: u32 = 0x0400;
    /// `WDIOC_KEEPALIVE` is supported.
    pub const KEEPALIVEPING: u32 = 0x8000;

    const NAMES: [(u32, &'static str); 12] = [
        (Self::OVERHEAT, "overheat"),
        (Self::FANFAULT, "fanfault"),
        (Self::EXTERN1, "extern1"),
        (Self::EXTERN2, "extern2"),
        (Self::POWERUNDER, "powerunder"),
        (Self::CARDRESET, "cardreset"),
        (Self::POWEROVER, "powerover"),
        (Self::SETTIMEOUT, "settimeout"),
        (Self::MAGICCLOSE, "magicclose"),
        (Self::PRETIMEOUT, "pretimeout"),
        (Self::ALARMONLY, "alarmonly"),
        (Self::KEEPALIVEPING, "keepaliveping"),
    ];

    /// Whether every bit of `flag` is set.
    pub fn has(self, flag: u32) -> bool {
        self.0 & flag == flag
    }

    /// The names of the bits set (unknown bits as `0x…`).
    pub fn names(self) -> Vec<String> {
        let mut names: Vec<String> = Self::NAMES
            .iter()
            .filter(|(bit, _)| self.0 & bit != 0)
            .map(|(_, name)| (*name).to_string())
            .collect();
        let known = Self::NAMES.iter().fold(0, |acc, (bit, _)| acc | bit);
        if self.0 & !known != 0 {
            names.push(format!("{:#x}", self.0 & !known));
        }
        names
    }
}

impl fmt::Display for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = self.names();
        if names.is_empty() {
            f.write_str("none")
        } else {
            f.write_str(&names.join(","))
        }
    }
}

/// The `identity` of `struct watchdog_info` (32 bytes, NUL-padded) as text:
/// up to the first NUL, invalid UTF-8 replaced, control characters dropped.
pub fn identity_from_bytes(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end])
        .chars()
        .filter(|c| !c.is_control())
        .collect::<String>()
        .trim()
        .to_string()
}

/// Whether the watchdog is running (`state`: `active` / `inactive`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Armed: someone must feed it.
    Active,
    /// Stopped.
    Inactive,
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            State::Active => "active",
            State::Inactive => "inactive",
        })
    }
}

/// One watchdog as `/sys/class/watchdog/watchdogN/` describes it. Every
/// field but the name is optional: attributes need `CONFIG_WATCHDOG_SYSFS`,
/// and `timeleft` a driver that can tell.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SysfsEntry {
    /// `watchdogN`.
    pub name: String,
    /// `identity` (e.g. `i6300ESB timer`).
    pub identity: Option<String>,
    /// `timeout`, whole seconds.
    pub timeout: Option<Duration>,
    /// `timeleft`, whole seconds.
    pub timeleft: Option<Duration>,
    /// `min_timeout`: the shortest timeout the device takes.
    pub min_timeout: Option<Duration>,
    /// `max_timeout`: the longest timeout the device takes.
    pub max_timeout: Option<Duration>,
    /// `state`.
    pub state: Option<State>,
    /// `nowayout`: once armed it cannot be stopped (magic close is ignored).
    pub nowayout: Option<bool>,
    /// `options` (newer kernels).
    pub options: Option<Options>,
    /// `bootstatus`: why the last boot happened (`WDIOF_CARDRESET`: this watchdog).
    pub bootstatus: Option<u32>,
    /// `status`: the core's status bits (`WDOG_*` of linux/watchdog.h).
    pub status: Option<u32>,
    /// `dev`: the character device's major and minor number.
    pub dev: Option<(u32, u32)>,
    /// The driver bound to the parent device (the `device/driver` link's
    /// name); `None` when the watchdog has no parent device (i6300esb on
    /// Linux 6.1 registers without one).
    pub driver: Option<String>,
}

/// The attribute files [`SysfsEntry::parse`] reads.
pub const SYSFS_ATTRIBUTES: &[&str] = &[
    "identity",
    "timeout",
    "timeleft",
    "min_timeout",
    "max_timeout",
    "state",
    "nowayout",
    "options",
    "bootstatus",
    "status",
    "dev",
];

/// The most bytes of one attribute that are parsed (the kernel writes one
/// short line; anything longer is not its text).
const MAX_ATTRIBUTE: usize = 256;

impl SysfsEntry {
    /// The entry `name`, from the attribute files' contents (`read(attr)`:
    /// `None` when the file is absent or unreadable) and the driver's name.
    /// Malformed values are left out, never guessed.
    pub fn parse(
        name: &str,
        mut read: impl FnMut(&str) -> Option<Vec<u8>>,
        driver: Option<&str>,
    ) -> SysfsEntry {
        let mut text = |attr: &str| -> Option<String> {
            let bytes = read(attr)?;
            if bytes.len() > MAX_ATTRIBUTE {
                return None;
            }
            let text = std::str::from_utf8(&bytes).ok()?.trim().to_string();
            (!text.is_empty() && !text.chars().any(char::is_control)).then_some(text)
        };
        let seconds = |t: Option<String>| t.and_then(|t| parse_number(&t)).map(u64::from);
        SysfsEntry {
            name: clean_name(name),
            identity: text("identity"),
            timeout: seconds(text("timeout")).map(Duration::from_secs),
            timeleft: seconds(text("timeleft")).map(Duration::from_secs),
            min_timeout: seconds(text("min_timeout")).map(Duration::from_secs),
            max_timeout: seconds(text("max_timeout")).map(Duration::from_secs),
            state: text("state").and_then(|s| match s.as_str() {
                "active" => Some(State::Active),
                "inactive" => Some(State::Inactive),
                _ => None,
            }),
            nowayout: text("nowayout").and_then(|s| match s.as_str() {
                "0" => Some(false),
                "1" => Some(true),
                _ => None,
            }),
            options: text("options").and_then(|s| parse_number(&s)).map(Options),
            bootstatus: text("bootstatus").and_then(|s| parse_number(&s)),
            status: text("status").and_then(|s| parse_number(&s)),
            dev: text("dev").and_then(|s| {
                let (major, minor) = s.split_once(':')?;
                Some((major.parse().ok()?, minor.parse().ok()?))
            }),
            driver: driver.map(clean_name).filter(|d| !d.is_empty()),
        }
    }

    /// The device node udev makes for it: `/dev/watchdogN`.
    pub fn device_path(&self) -> String {
        format!("/dev/{}", self.name)
    }
}

/// A name as printable text (a file name from sysfs may hold anything).
fn clean_name(name: &str) -> String {
    name.chars().filter(|c| !c.is_control()).take(64).collect()
}

/// A sysfs number: decimal, or hexadecimal with `0x`.
pub fn parse_number(text: &str) -> Option<u32> {
    let text = text.trim();
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) if !hex.is_empty() && hex.len() <= 8 => u32::from_str_radix(hex, 16).ok(),
        Some(_) => None,
        None if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => text.parse().ok(),
        None => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    /// `/sys/class/watchdog/watchdog0/*` of the QEMU guest's i6300esb
    /// (Debian kernel 6.1.0-56-amd64, `i6300esb heartbeat=30` default),
    /// captured by hw-tests/tests/watchdog_qemu.rs: see
    /// fence/tests/data/watchdog-sysfs-i6300esb.txt.
    const CAPTURED: &str = include_str!("../../tests/data/watchdog-sysfs-i6300esb.txt");

    fn captured() -> HashMap<String, Vec<u8>> {
        CAPTURED
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), format!("{v}\n").into_bytes()))
            .collect()
    }

    #[test]
    fn the_captured_i6300esb_entry_parses() {
        let files = captured();
        let entry = SysfsEntry::parse("watchdog0", |attr| files.get(attr).cloned(), None);
        assert_eq!(
            entry,
            SysfsEntry {
                name: "watchdog0".into(),
                identity: Some("i6300ESB timer".into()),
                timeout: Some(Duration::from_secs(30)),
                timeleft: None,
                min_timeout: Some(Duration::from_secs(1)),
                max_timeout: Some(Duration::from_secs(2046)),
                state: Some(State::Inactive),
                nowayout: Some(false),
                // Linux 6.1 has no `options` attribute.
                options: None,
                bootstatus: Some(0),
                status: Some(0x200),
                dev: Some((246, 0)),
                driver: None,
            }
        );
        assert_eq!(entry.device_path(), "/dev/watchdog0");
        // Attributes it does not read are ignored (pretimeout_governor, ...).
        assert!(files.contains_key("pretimeout_available_governors"));
    }

    #[test]
    fn numbers_decimal_and_hex_and_nothing_else() {
        assert_eq!(parse_number("30"), Some(30));
        assert_eq!(parse_number(" 0x8180\n"), Some(0x8180));
        assert_eq!(parse_number("0X10"), Some(16));
        for bad in [
            "",
            "0x",
            "-1",
            "+1",
            "1.5",
            "0x123456789",
            "99999999999",
            "1 2",
            "x1",
        ] {
            assert_eq!(parse_number(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn options_name_their_bits() {
        let o = Options(0x8180);
        assert_eq!(o.to_string(), "settimeout,magicclose,keepaliveping");
        assert!(o.has(Options::MAGICCLOSE));
        assert!(!o.has(Options::ALARMONLY));
        assert_eq!(Options(0).to_string(), "none");
        assert_eq!(Options(0x1_0000).names(), vec!["0x10000".to_string()]);
    }

    #[test]
    fn identity_stops_at_the_first_nul() {
        let mut raw = [0u8; 32];
        raw[..14].copy_from_slice(b"i6300ESB timer");
        raw[20] = b'x';
        assert_eq!(identity_from_bytes(&raw), "i6300ESB timer");
        assert_eq!(identity_from_bytes(b"no nul at all"), "no nul at all");
        assert_eq!(identity_from_bytes(&[0xff, b'\n', b'a', 0]), "\u{fffd}a");
        assert_eq!(identity_from_bytes(&[]), "");
    }

    #[test]
    fn hostile_attribute_files_are_left_out() {
        let hostile: [&[u8]; 9] = [
            b"",
            b"\n",
            b"\xff\xfe",
            b"act\x00ive",
            b"30 30",
            b"1:2:3",
            b"-5",
            &[b'9'; 300],
            b"0x",
        ];
        for bytes in hostile {
            let entry = SysfsEntry::parse("watchdog0", |_| Some(bytes.to_vec()), Some("\u{7}"));
            assert_eq!(
                entry.identity.is_some(),
                bytes.len() <= MAX_ATTRIBUTE
                    && std::str::from_utf8(bytes).is_ok_and(|t| {
                        let t = t.trim();
                        !t.is_empty() && !t.chars().any(char::is_control)
                    }),
                "{bytes:?}"
            );
            assert_eq!(entry.timeout, None, "{bytes:?}");
            assert_eq!(entry.state, None);
            assert_eq!(entry.nowayout, None);
            assert_eq!(entry.dev, None);
            assert_eq!(entry.driver, None);
        }
    }

    #[test]
    fn mutated_captures_never_panic() {
        let files = captured();
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for round in 0..2000 {
            let mut next = || {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                seed
            };
            let mutated: HashMap<String, Vec<u8>> = files
                .iter()
                .map(|(k, v)| {
                    let mut v = v.clone();
                    match next() % 4 {
                        0 if !v.is_empty() => {
                            let at = (next() as usize) % v.len();
                            v[at] = next() as u8;
                        }
                        1 => v.truncate((next() as usize) % (v.len() + 1)),
                        2 => v.extend((0..next() % 8).map(|_| next() as u8)),
                        _ => {}
                    }
                    (k.clone(), v)
                })
                .collect();
            let name: String = (0..round % 12).map(|_| next() as u8 as char).collect();
            let entry = SysfsEntry::parse(&name, |a| mutated.get(a).cloned(), Some(&name));
            let _ = entry.device_path();
            let _ = entry.options.map(|o| o.to_string());
        }
    }
}
