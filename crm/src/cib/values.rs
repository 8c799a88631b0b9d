//! Scalar values as Pacemaker 2.1.5 reads them: booleans, scores, roles,
//! durations (`10s`, `1m`, ISO 8601 `PT10S`), integers written by the
//! cluster, and feature-set versions.

use std::cmp::Ordering;

use crate::model::Role;
use crate::score::Score;

/// Pacemaker's boolean words (`crm_str_to_boolean`): true, on, yes, y, 1
/// and false, off, no, n, 0, in any case.
pub(crate) fn parse_bool(text: &str) -> Option<bool> {
    let t = text.to_ascii_lowercase();
    match t.as_str() {
        "true" | "on" | "yes" | "y" | "1" => Some(true),
        "false" | "off" | "no" | "n" | "0" => Some(false),
        _ => None,
    }
}

/// `crm_is_true`: a boolean that is false unless it says true.
pub(crate) fn is_true(text: Option<&str>) -> bool {
    text.and_then(parse_bool).unwrap_or(false)
}

/// A score: an integer (clamped to ±INFINITY) or ±INFINITY.
pub(crate) fn parse_score(text: &str) -> Option<Score> {
    // As `Score::from_str` reads it, without its upper-cased copy.
    let t = text.trim();
    if t.eq_ignore_ascii_case("INFINITY") || t.eq_ignore_ascii_case("+INFINITY") {
        return Some(Score::INFINITY);
    }
    if t.eq_ignore_ascii_case("-INFINITY") {
        return Some(Score::MINUS_INFINITY);
    }
    t.parse::<i64>().ok().map(Score::new)
}

/// A score in the configuration: as [`parse_score`], and also a decimal
/// number, whose fraction Pacemaker drops (`1.0` is 1); the flag says a
/// fraction was dropped.
pub(crate) fn parse_config_score(text: &str) -> Option<(Score, bool)> {
    if let Some(s) = parse_score(text) {
        return Some((s, false));
    }
    let t = text.trim();
    let (whole, fraction) = t.split_once('.')?;
    let digits = whole.trim_start_matches(['+', '-']);
    if digits.is_empty()
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
        || whole.len() - digits.len() > 1
    {
        return None;
    }
    let s = parse_score(whole)?;
    Some((s, fraction.bytes().any(|b| b != b'0')))
}

/// Pacemaker's lenient score reading (`char2score`) for values written by
/// the cluster itself: ±INFINITY, else the leading integer, else 0.
pub(crate) fn lenient_score(text: &str) -> Score {
    if let Some(s) = parse_score(text) {
        return s;
    }
    Score::new(leading_integer(text).unwrap_or(0))
}

/// A role name as `text2role` reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RoleName {
    /// `Unknown`.
    Unknown,
    /// A real role (old names Master/Slave mapped to Promoted/Unpromoted).
    Role(Role),
}

/// `Stopped`, `Started`, `Unpromoted`/`Slave`, `Promoted`/`Master`,
/// `Unknown` (any case); None for anything else.
pub(crate) fn parse_role(text: &str) -> Option<RoleName> {
    match text.to_ascii_lowercase().as_str() {
        "stopped" => Some(RoleName::Role(Role::Stopped)),
        "started" => Some(RoleName::Role(Role::Started)),
        "unpromoted" | "slave" => Some(RoleName::Role(Role::Unpromoted)),
        "promoted" | "master" => Some(RoleName::Role(Role::Promoted)),
        "unknown" => Some(RoleName::Unknown),
        _ => None,
    }
}

/// A duration read the way Pacemaker reads intervals, timeouts and delays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Duration {
    /// Milliseconds, as Pacemaker computes them.
    pub ms: u64,
    /// Pacemaker's reading differs from the obvious one (a fraction was
    /// dropped, or an ISO 8601 day or year counted short): worth a warning.
    pub surprising: bool,
}

/// `crm_parse_interval_spec`: an ISO 8601 duration (`P…`), else
/// `crm_get_msec`. Milliseconds are capped at `u32::MAX` as Pacemaker's
/// `guint` is. None when the text is not a duration.
pub(crate) fn parse_interval(text: &str) -> Option<Duration> {
    let d = if text.starts_with('P') {
        iso8601_duration_ms(text)?
    } else {
        parse_msec(text)?
    };
    Some(Duration {
        ms: d.ms.min(u64::from(u32::MAX)),
        surprising: d.surprising,
    })
}

/// `crm_get_msec`: a whole number with an optional unit (ms, msec, us,
/// usec, s, sec, m, min, h, hr and their longer spellings; seconds when
/// none). A fraction is dropped (`1.5s` is 1000 ms), as Pacemaker does.
pub(crate) fn parse_msec(text: &str) -> Option<Duration> {
    let t = text.trim_start_matches(is_space);
    let num_len = t
        .bytes()
        .take_while(|b| b.is_ascii_digit() || *b == b'.')
        .count();
    if num_len == 0 {
        return None;
    }
    let (number, rest) = t.split_at(num_len);
    // Lower-cased on the stack: no unit is longer than 12 bytes.
    let written = rest.trim_matches(is_space).as_bytes();
    let mut lower = [0u8; 12];
    let slot = lower.get_mut(..written.len())?;
    slot.copy_from_slice(written);
    slot.make_ascii_lowercase();
    let units = std::str::from_utf8(slot).unwrap_or("?");
    let (multiplier, divisor): (u64, u64) = match units {
        "" => (1000, 1),
        "ms" | "msec" | "msecs" | "millisecond" | "milliseconds" => (1, 1),
        "us" | "usec" | "usecs" | "microsecond" | "microseconds" => (1, 1000),
        "s" | "sec" | "secs" | "second" | "seconds" => (1000, 1),
        "m" | "min" | "mins" | "minute" | "minutes" => (60_000, 1),
        "h" | "hr" | "hrs" | "hour" | "hours" => (3_600_000, 1),
        _ => return None,
    };
    let whole_len = number.bytes().take_while(u8::is_ascii_digit).count();
    let whole = &number[..whole_len];
    let fraction = &number[whole_len..];
    if whole.is_empty() {
        return None;
    }
    let surprising = fraction.trim_end_matches('0') != "." && !fraction.is_empty();
    let value: u64 = whole.parse().unwrap_or(u64::MAX);
    Some(Duration {
        ms: value.saturating_mul(multiplier) / divisor,
        surprising,
    })
}

/// `crm_time_parse_duration` + `crm_time_get_seconds` in Pacemaker 2.1.5,
/// quirks included: years count the days of the years *before* the
/// given number (`P1Y` is 0 s, `P2Y` 365 days), months are 30 days, and
/// days count one short (`P1D` is 0 s, `P2D` one day).
fn iso8601_duration_ms(text: &str) -> Option<Duration> {
    let body = text.strip_prefix('P')?;
    if body.is_empty() || body.starts_with(is_space) {
        return None;
    }
    let bytes = body.as_bytes();
    let mut i = 0;
    let mut is_time = false;
    let (mut years, mut months, mut days, mut seconds) = (0i64, 0i64, 0i64, 0i64);
    while i < bytes.len() && bytes[i] != b'/' && !bytes[i].is_ascii_whitespace() {
        if bytes[i] == b'T' {
            is_time = true;
            i += 1;
            continue;
        }
        // An integer must come next (an optional sign, up to 10 digits).
        let mut j = i;
        let mut negative = false;
        match bytes[j] {
            b'-' => {
                negative = true;
                j += 1;
            }
            b'+' | b':' => j += 1,
            _ => {}
        }
        let start = j;
        let mut value: i64 = 0;
        while j < bytes.len() && j - start < 10 && bytes[j].is_ascii_digit() {
            value = value * 10 + i64::from(bytes[j] - b'0');
            j += 1;
        }
        if j == start {
            return None;
        }
        if negative {
            value = -value;
        }
        let unit = *bytes.get(j)?;
        match unit {
            b'Y' => years = value,
            b'M' if is_time => seconds += value * 60,
            b'M' => months = value,
            b'W' => days += value * 7,
            b'D' => days += value,
            b'H' => seconds += value * 3600,
            b'S' => seconds += value,
            _ => return None,
        }
        i = j + 1;
    }
    let mut total: i64 = 0;
    for year in 1..years.min(10_000) {
        total += 86_400 * year_days(year);
    }
    if months > 0 {
        total += 86_400 * 30 * months;
    }
    if days > 0 {
        total += 86_400 * (days - 1);
    }
    total += seconds;
    let naive = years * 365 * 86_400 + months * 30 * 86_400 + days * 86_400 + seconds;
    let ms = if total < 0 { 0 } else { (total as u64) * 1000 };
    Some(Duration {
        ms,
        surprising: naive != total,
    })
}

fn year_days(year: i64) -> i64 {
    if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) {
        366
    } else {
        365
    }
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0c')
}

/// `strtoll`-style reading of values the cluster writes (call ids, return
/// codes, timestamps): optional blanks and sign, then digits; anything
/// after them is ignored. None when there are no digits.
pub(crate) fn leading_integer(text: &str) -> Option<i64> {
    let t = text.trim_start_matches(is_space);
    let (negative, digits) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let len = digits.bytes().take_while(u8::is_ascii_digit).count();
    if len == 0 {
        return None;
    }
    let mut value: i64 = 0;
    for b in digits[..len].bytes() {
        value = value.saturating_mul(10).saturating_add(i64::from(b - b'0'));
    }
    Some(if negative { -value } else { value })
}

/// `compare_version`: dotted numbers compared field by field, a missing
/// version sorting first.
pub(crate) fn compare_version(a: Option<&str>, b: Option<&str>) -> Ordering {
    match (a, b) {
        (None, None) => return Ordering::Equal,
        (None, Some(_)) => return Ordering::Less,
        (Some(_), None) => return Ordering::Greater,
        _ => {}
    }
    let fields = |s: &str| -> Vec<i64> {
        s.split('.')
            .map(|f| leading_integer(f).unwrap_or(-1))
            .collect()
    };
    let (fa, fb) = (fields(a.unwrap_or("")), fields(b.unwrap_or("")));
    for i in 0..fa.len().max(fb.len()) {
        let x = fa.get(i).copied().unwrap_or(0);
        let y = fb.get(i).copied().unwrap_or(0);
        match x.cmp(&y) {
            Ordering::Equal => {}
            other => return other,
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booleans_as_pacemaker() {
        for t in ["true", "TRUE", "on", "yes", "y", "1"] {
            assert_eq!(parse_bool(t), Some(true), "{t}");
        }
        for f in ["false", "Off", "no", "N", "0"] {
            assert_eq!(parse_bool(f), Some(false), "{f}");
        }
        assert_eq!(parse_bool("maybe"), None);
        assert!(!is_true(Some("maybe")));
        assert!(!is_true(None));
    }

    #[test]
    fn roles_old_and_new_names() {
        assert_eq!(parse_role("Master"), Some(RoleName::Role(Role::Promoted)));
        assert_eq!(parse_role("slave"), Some(RoleName::Role(Role::Unpromoted)));
        assert_eq!(parse_role("Promoted"), Some(RoleName::Role(Role::Promoted)));
        assert_eq!(parse_role("started"), Some(RoleName::Role(Role::Started)));
        assert_eq!(parse_role("Unknown"), Some(RoleName::Unknown));
        assert_eq!(parse_role("Primary"), None);
    }

    #[test]
    fn intervals_as_pacemaker_reads_them() {
        // Checked against crm_simulate 2.1.5 (the monitor=N it schedules).
        let ms = |t: &str| parse_interval(t).map(|d| d.ms);
        assert_eq!(ms("10"), Some(10_000));
        assert_eq!(ms("10s"), Some(10_000));
        assert_eq!(ms("0s"), Some(0));
        assert_eq!(ms("1m"), Some(60_000));
        assert_eq!(ms("2 minutes"), Some(120_000));
        assert_eq!(ms("500ms"), Some(500));
        assert_eq!(ms("1h"), Some(3_600_000));
        assert_eq!(ms("1.5s"), Some(1000));
        assert!(parse_interval("1.5s").unwrap().surprising);
        assert_eq!(ms("PT1M5S"), Some(65_000));
        assert_eq!(ms("P2DT10S"), Some(86_410_000));
        assert_eq!(ms("P1D"), Some(0));
        assert!(parse_interval("P1D").unwrap().surprising);
        assert_eq!(ms("P1Y"), Some(0));
        assert_eq!(ms("P1M"), Some(2_592_000_000));
        assert_eq!(ms("PT10S"), Some(10_000));
        assert!(!parse_interval("PT10S").unwrap().surprising);
        for bad in ["", "abc", "-5", "10 fortnights", "P", "PX", "P10", "s"] {
            assert_eq!(parse_interval(bad), None, "{bad}");
        }
        assert_eq!(ms("99999999999999999999h"), Some(u64::from(u32::MAX)));
    }

    #[test]
    fn integers_and_versions() {
        assert_eq!(leading_integer(" 42abc"), Some(42));
        assert_eq!(leading_integer("-1"), Some(-1));
        assert_eq!(leading_integer("x"), None);
        assert_eq!(leading_integer("99999999999999999999999"), Some(i64::MAX));
        assert_eq!(
            compare_version(Some("3.0.6"), Some("3.0.13")),
            Ordering::Less
        );
        assert_eq!(
            compare_version(Some("3.16.1"), Some("3.0.13")),
            Ordering::Greater
        );
        assert_eq!(compare_version(None, Some("3.0.13")), Ordering::Less);
        assert_eq!(compare_version(Some("3.0"), Some("3.0.0")), Ordering::Equal);
        assert_eq!(lenient_score("INFINITY"), Score::INFINITY);
        assert_eq!(lenient_score("7x"), Score::new(7));
        assert_eq!(lenient_score("x"), Score::ZERO);
        assert_eq!(parse_config_score("1.0"), Some((Score::new(1), false)));
        assert_eq!(parse_config_score("-2.5"), Some((Score::new(-2), true)));
        assert_eq!(
            parse_config_score("INFINITY"),
            Some((Score::INFINITY, false))
        );
        for bad in ["1.x", ".5", "--1.0", "1.2.3", "abc"] {
            assert_eq!(parse_config_score(bad), None, "{bad}");
        }
    }
}
