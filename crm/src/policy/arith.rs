//! Score arithmetic on raw integers and the name orderings the scheduler
//! uses, kept as plain functions so the hot loops stay cheap.
//!
//! Scores are `i32` here (not [`crate::score::Score`]) because the
//! colocation merge marks nodes with a sentinel below -INFINITY
//! ([`UNUSABLE`]) that a `Score` cannot hold.

use std::cmp::Ordering;

/// INFINITY.
pub(super) const INF: i32 = 1_000_000;

/// A node marked unusable while merging colocated scores (below -INFINITY
/// so no ordinary sum produces it).
pub(super) const UNUSABLE: i32 = -100 * INF;

/// Sentinel for "node not in the allowed table".
pub(super) const ABSENT: i32 = i32::MIN;

/// Adds two scores: -INFINITY wins over everything, then +INFINITY, and
/// finite sums saturate at ±INFINITY.
pub(super) fn add(a: i32, b: i32) -> i32 {
    if a <= -INF || b <= -INF {
        -INF
    } else if a >= INF || b >= INF {
        INF
    } else {
        (a + b).clamp(-INF, INF)
    }
}

/// Pacemaker's node name order for lists (`pe__cmp_node_name`): runs of
/// digits compare as numbers, everything else case-insensitively.
pub(super) fn numeric_name_cmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i].is_ascii_digit() && b[j].is_ascii_digit() {
            let si = i;
            while i < a.len() && a[i].is_ascii_digit() {
                i += 1;
            }
            let sj = j;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            let na = digits_value(&a[si..i]);
            let nb = digits_value(&b[sj..j]);
            match na.cmp(&nb) {
                Ordering::Equal => {}
                other => return other,
            }
            match (i - si).cmp(&(j - sj)) {
                Ordering::Equal => {}
                other => return other,
            }
        } else {
            let (x, y) = (a[i].to_ascii_lowercase(), b[j].to_ascii_lowercase());
            match x.cmp(&y) {
                Ordering::Equal => {}
                other => return other,
            }
            i += 1;
            j += 1;
        }
    }
    (a.len() - i).min(1).cmp(&(b.len() - j).min(1))
}

/// The value of a run of ASCII digits, saturating (names are short).
fn digits_value(digits: &[u8]) -> u128 {
    digits.iter().fold(0u128, |acc, d| {
        acc.saturating_mul(10).saturating_add(u128::from(d - b'0'))
    })
}

/// Rounds `factor * score` the way the colocation merge does: half away
/// from zero, and never to zero when the score is not zero.
pub(super) fn scaled(factor: f32, score: i32) -> i32 {
    let weight_f = factor * score as f32;
    let mut weight = if weight_f < 0.0 {
        (weight_f - 0.5) as i32
    } else {
        (weight_f + 0.5) as i32
    };
    if weight == 0 && score != 0 {
        if factor > 0.0 {
            weight = 1;
        } else if factor < 0.0 {
            weight = -1;
        }
    }
    weight
}

/// A colocation score as a fraction of INFINITY.
pub(super) fn factor_of(score: i32) -> f32 {
    score as f32 / INF as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_saturates_and_minus_infinity_wins() {
        assert_eq!(add(INF, -INF), -INF);
        assert_eq!(add(-INF, INF), -INF);
        assert_eq!(add(999_999, 5), INF);
        assert_eq!(add(UNUSABLE, 5), -INF);
        assert_eq!(add(3, -5), -2);
    }

    #[test]
    fn numeric_names() {
        assert_eq!(numeric_name_cmp("node2", "node10"), Ordering::Less);
        assert_eq!(numeric_name_cmp("Node1", "node1"), Ordering::Equal);
        assert_eq!(numeric_name_cmp("n007", "n7"), Ordering::Greater);
        assert_eq!(numeric_name_cmp("a", "ab"), Ordering::Less);
        assert_eq!(numeric_name_cmp("b", "a1"), Ordering::Greater);
    }

    #[test]
    fn scaled_rounding() {
        assert_eq!(scaled(0.5, 3), 2);
        assert_eq!(scaled(-0.5, 3), -2);
        assert_eq!(scaled(0.000_001, 3), 1);
        assert_eq!(scaled(-0.000_001, 3), -1);
        assert_eq!(scaled(1.0, -INF), -INF);
    }
}
