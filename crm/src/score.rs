//! Pacemaker's score arithmetic: integers saturating at ±INFINITY
//! (1 000 000), where -INFINITY wins over +INFINITY ("Pacemaker Explained",
//! *Infinity Math*): `INFINITY + -INFINITY = -INFINITY`, any value plus
//! ±INFINITY is ±INFINITY, and finite sums are clamped to the range.

use std::fmt;
use std::ops::{Add, AddAssign, Neg};
use std::str::FromStr;

/// A placement score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Score(i32);

impl Score {
    /// The value of INFINITY.
    pub const INFINITY_VALUE: i32 = 1_000_000;
    /// +INFINITY: must.
    pub const INFINITY: Score = Score(Self::INFINITY_VALUE);
    /// -INFINITY: must not (wins over +INFINITY).
    pub const MINUS_INFINITY: Score = Score(-Self::INFINITY_VALUE);
    /// Zero.
    pub const ZERO: Score = Score(0);

    /// A score from an integer, clamped to ±INFINITY.
    pub fn new(value: i64) -> Score {
        let v = value.clamp(
            -i64::from(Self::INFINITY_VALUE),
            i64::from(Self::INFINITY_VALUE),
        );
        // Clamped into i32 range just above.
        Score(v as i32)
    }

    /// The integer value (±1 000 000 for ±INFINITY).
    pub fn value(self) -> i32 {
        self.0
    }

    /// Whether this is +INFINITY.
    pub fn is_infinity(self) -> bool {
        self.0 >= Self::INFINITY_VALUE
    }

    /// Whether this is -INFINITY (the resource may not run there).
    pub fn is_minus_infinity(self) -> bool {
        self.0 <= -Self::INFINITY_VALUE
    }
}

impl Add for Score {
    type Output = Score;

    fn add(self, other: Score) -> Score {
        if self.is_minus_infinity() || other.is_minus_infinity() {
            Score::MINUS_INFINITY
        } else if self.is_infinity() || other.is_infinity() {
            Score::INFINITY
        } else {
            Score::new(i64::from(self.0) + i64::from(other.0))
        }
    }
}

impl AddAssign for Score {
    fn add_assign(&mut self, other: Score) {
        *self = *self + other;
    }
}

impl Neg for Score {
    type Output = Score;

    fn neg(self) -> Score {
        Score(-self.0)
    }
}

impl fmt::Display for Score {
    /// `INFINITY`, `-INFINITY` or the integer, as crm_simulate prints them.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_infinity() {
            f.write_str("INFINITY")
        } else if self.is_minus_infinity() {
            f.write_str("-INFINITY")
        } else {
            write!(f, "{}", self.0)
        }
    }
}

/// Why a score did not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseScoreError(pub String);

impl fmt::Display for ParseScoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` is not a score; use an integer, INFINITY, +INFINITY or -INFINITY",
            self.0
        )
    }
}

impl std::error::Error for ParseScoreError {}

impl FromStr for Score {
    type Err = ParseScoreError;

    /// `INFINITY`, `+INFINITY`, `-INFINITY` (any case) or an integer
    /// (clamped); Pacemaker also reads `red`/`yellow`/`green` node-health
    /// names, which this subset does not use.
    fn from_str(text: &str) -> Result<Score, ParseScoreError> {
        let t = text.trim();
        match t.to_ascii_uppercase().as_str() {
            "INFINITY" | "+INFINITY" => return Ok(Score::INFINITY),
            "-INFINITY" => return Ok(Score::MINUS_INFINITY),
            _ => {}
        }
        t.parse::<i64>()
            .map(Score::new)
            .map_err(|_| ParseScoreError(text.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn infinity_math() {
        let inf = Score::INFINITY;
        let ninf = Score::MINUS_INFINITY;
        assert_eq!(inf + ninf, ninf);
        assert_eq!(ninf + inf, ninf);
        assert_eq!(inf + Score::new(-5), inf);
        assert_eq!(Score::new(999_999) + Score::new(5), inf);
        assert_eq!(Score::new(-999_999) + Score::new(-5), ninf);
        assert_eq!(Score::new(3) + Score::new(-5), Score::new(-2));
        assert_eq!(Score::new(i64::MAX), inf);
    }

    #[test]
    fn parse_and_print() {
        for (text, want) in [
            ("INFINITY", "INFINITY"),
            ("+infinity", "INFINITY"),
            ("-INFINITY", "-INFINITY"),
            (" 100 ", "100"),
            ("-7", "-7"),
            ("5000000", "INFINITY"),
        ] {
            assert_eq!(text.parse::<Score>().unwrap().to_string(), want, "{text}");
        }
        for bad in ["", "inf", "1.5", "abc", "--1"] {
            assert!(bad.parse::<Score>().is_err(), "{bad}");
        }
    }
}
