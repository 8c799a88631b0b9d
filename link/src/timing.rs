//! Liveness timers as heartbeat's ha.cf(5) defines them, and their rules.

use std::time::Duration;

use crate::Error;

/// The four liveness timers of ha.cf: how often we send, and how long a silent
/// peer is merely late, then dead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Interval between two heartbeats on each path (`keepalive`).
    pub keepalive: Duration,
    /// Silence after which a node is reported late (`warntime`).
    pub warntime: Duration,
    /// Silence after which a path is down and a node dead (`deadtime`).
    pub deadtime: Duration,
    /// Deadtime applied to nodes not yet heard since start (`initdead`):
    /// networks can take a while to come up after a boot.
    pub initdead: Duration,
}

impl Default for Timing {
    /// heartbeat 3.0.6's defaults: keepalive 1 s, warntime = deadtime 30 s…
    /// we use the ha.cf sample values (2 s / 10 s / 30 s / 120 s).
    fn default() -> Self {
        Timing {
            keepalive: Duration::from_secs(2),
            warntime: Duration::from_secs(10),
            deadtime: Duration::from_secs(30),
            initdead: Duration::from_secs(120),
        }
    }
}

impl Timing {
    /// Checks the rules between the timers; the error says which value to change.
    ///
    /// heartbeat refuses deadtime ≤ 2 × keepalive and initdead < deadtime; it
    /// accepts warntime ≥ deadtime silently, which makes the warning useless, so
    /// we refuse that too.
    pub fn validate(&self) -> Result<(), Error> {
        if self.keepalive.is_zero() {
            return Err(Error::config(
                "keepalive must be greater than zero; try keepalive 1 (one second) or 100ms",
            ));
        }
        if self.deadtime <= self.keepalive * 2 {
            return Err(Error::config(format!(
                "deadtime ({}) must be more than twice keepalive ({}): one lost heartbeat would \
                 declare a node dead; raise deadtime to at least {} or lower keepalive",
                format_duration(self.deadtime),
                format_duration(self.keepalive),
                format_duration(self.keepalive * 2 + Duration::from_millis(1)),
            )));
        }
        if self.warntime >= self.deadtime {
            return Err(Error::config(format!(
                "warntime ({}) must be less than deadtime ({}), or no late warning can ever be \
                 given; try warntime {}",
                format_duration(self.warntime),
                format_duration(self.deadtime),
                format_duration(self.deadtime / 2),
            )));
        }
        if self.warntime < self.keepalive {
            return Err(Error::config(format!(
                "warntime ({}) must be at least keepalive ({}), or every heartbeat is late",
                format_duration(self.warntime),
                format_duration(self.keepalive),
            )));
        }
        if self.initdead < self.deadtime {
            return Err(Error::config(format!(
                "initdead ({}) must be at least deadtime ({}); try initdead {}",
                format_duration(self.initdead),
                format_duration(self.deadtime),
                format_duration(self.deadtime * 2),
            )));
        }
        Ok(())
    }
}

/// Parses a duration as ha.cf writes them: bare seconds (`2`, `0.5`), or with a
/// unit suffix `ms`, `s`, `m`, `h`. Returns `None` for anything else.
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let (number, scale_ms) = if let Some(n) = text.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = text.strip_suffix('s') {
        (n, 1000.0)
    } else if let Some(n) = text.strip_suffix('m') {
        (n, 60_000.0)
    } else if let Some(n) = text.strip_suffix('h') {
        (n, 3_600_000.0)
    } else {
        (text, 1000.0)
    };
    let number = number.trim();
    if number.is_empty()
        || !number.chars().all(|c| c.is_ascii_digit() || c == '.')
        || number.matches('.').count() > 1
    {
        return None;
    }
    let value: f64 = number.parse().ok()?;
    let millis = value * scale_ms;
    if !millis.is_finite() || millis > 1e12 {
        return None;
    }
    Some(Duration::from_micros((millis * 1000.0).round() as u64))
}

/// Formats a duration the way an operator writes it in ha.cf (`100ms`, `2s`).
pub(crate) fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms % 1000 == 0 && ms > 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hacf_durations() {
        assert_eq!(parse_duration("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_duration("100ms"), Some(Duration::from_millis(100)));
        assert_eq!(parse_duration("0.5"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("10s"), Some(Duration::from_secs(10)));
        assert_eq!(parse_duration("2m"), Some(Duration::from_secs(120)));
        for bad in ["", "ms", "-1", "1.2.3", "abc", "10 ms x", "1e9", "1x"] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn validates_like_heartbeat_but_stricter() {
        let ms = Duration::from_millis;
        let t = |k, w, d, i| Timing {
            keepalive: ms(k),
            warntime: ms(w),
            deadtime: ms(d),
            initdead: ms(i),
        };
        assert!(t(20, 60, 100, 1000).validate().is_ok());
        assert!(t(100, 300, 500, 10000).validate().is_ok());
        assert!(Timing::default().validate().is_ok());
        let err = t(100, 150, 200, 1000).validate().unwrap_err();
        assert!(
            err.to_string().contains("more than twice keepalive"),
            "{err}"
        );
        assert!(t(0, 1, 2, 3).validate().is_err());
        assert!(t(100, 600, 500, 1000).validate().is_err());
        assert!(t(100, 300, 500, 400).validate().is_err());
    }
}
