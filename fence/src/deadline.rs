//! One overall deadline per fence request, divided across its steps.
//!
//! Never per-step timeouts multiplied by retries: a request given 5 s fails at
//! 5 s, whatever its steps and retransmits (ipmitool waits 20 s, cluster-glue's
//! ipmilan never gives up).

use std::time::{Duration, Instant};

/// When a whole request must be over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline {
    start: Instant,
    end: Instant,
}

impl Deadline {
    /// A deadline `budget` after `now`.
    pub fn after(now: Instant, budget: Duration) -> Self {
        Deadline {
            start: now,
            end: now + budget,
        }
    }

    /// The instant it expires.
    pub fn end(&self) -> Instant {
        self.end
    }

    /// Time left at `now` (zero once expired).
    pub fn remaining(&self, now: Instant) -> Duration {
        self.end.saturating_duration_since(now)
    }

    /// Whether it has expired at `now`.
    pub fn expired(&self, now: Instant) -> bool {
        now >= self.end
    }

    /// Time spent since the start, at `now`.
    pub fn elapsed(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.start)
    }

    /// When to retransmit a request sent at `now`: `interval` later, but never
    /// after the deadline.
    pub fn retransmit_at(&self, now: Instant, interval: Duration) -> Instant {
        (now + interval).min(self.end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_is_shared_and_capped() {
        let t0 = Instant::now();
        let d = Deadline::after(t0, Duration::from_secs(5));
        assert_eq!(
            d.remaining(t0 + Duration::from_secs(2)),
            Duration::from_secs(3)
        );
        assert!(!d.expired(t0 + Duration::from_millis(4999)));
        assert!(d.expired(t0 + Duration::from_secs(5)));
        assert_eq!(d.remaining(t0 + Duration::from_secs(9)), Duration::ZERO);
        let late = t0 + Duration::from_millis(4800);
        assert_eq!(d.retransmit_at(late, Duration::from_secs(1)), d.end());
        assert_eq!(d.elapsed(late), Duration::from_millis(4800));
    }
}
