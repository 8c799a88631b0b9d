//! A sliding replay window per peer (as IPsec's anti-replay, RFC 4303 §3.4.3).

/// What the window says of a sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayVerdict {
    /// New: accept (and [`ReplayWindow::commit`] once the frame authenticated).
    Fresh,
    /// Seen before: drop.
    Replayed,
    /// Older than the window reaches: drop.
    TooOld,
}

/// Remembers which of the last [`ReplayWindow::SIZE`] sequence numbers arrived.
///
/// Frames of all paths share one counter, so reordering between paths is
/// expected; the window tolerates up to `SIZE` frames of it.
#[derive(Debug, Clone, Default)]
pub struct ReplayWindow {
    highest: u64,
    bits: [u64; 4],
}

impl ReplayWindow {
    /// How far behind the highest sequence a frame may arrive.
    pub const SIZE: u64 = 256;

    /// An empty window (nothing seen).
    pub fn new() -> Self {
        Self::default()
    }

    /// The highest sequence committed.
    pub fn highest(&self) -> u64 {
        self.highest
    }

    /// Checks without changing state.
    pub fn check(&self, seq: u64) -> ReplayVerdict {
        if seq == 0 {
            return ReplayVerdict::TooOld;
        }
        if seq > self.highest {
            return ReplayVerdict::Fresh;
        }
        let behind = self.highest - seq;
        if behind >= Self::SIZE {
            return ReplayVerdict::TooOld;
        }
        if self.bit(behind) {
            ReplayVerdict::Replayed
        } else {
            ReplayVerdict::Fresh
        }
    }

    /// Records `seq` as seen; call only after the frame authenticated.
    pub fn commit(&mut self, seq: u64) {
        if self.check(seq) != ReplayVerdict::Fresh {
            return;
        }
        if seq > self.highest {
            let shift = seq - self.highest;
            self.shift(shift);
            self.highest = seq;
            self.set(0);
        } else {
            self.set(self.highest - seq);
        }
    }

    fn bit(&self, behind: u64) -> bool {
        let (word, bit) = ((behind / 64) as usize, behind % 64);
        self.bits[word] & (1 << bit) != 0
    }

    fn set(&mut self, behind: u64) {
        let (word, bit) = ((behind / 64) as usize, behind % 64);
        self.bits[word] |= 1 << bit;
    }

    fn shift(&mut self, by: u64) {
        if by >= Self::SIZE {
            self.bits = [0; 4];
            return;
        }
        let words = (by / 64) as usize;
        let bits = (by % 64) as u32;
        let old = self.bits;
        for i in (0..4).rev() {
            let mut v = 0u64;
            if i >= words {
                v = old[i - words] << bits;
                if bits > 0 && i > words {
                    v |= old[i - words - 1] >> (64 - bits);
                }
            }
            self.bits[i] = v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_each_sequence_once() {
        let mut w = ReplayWindow::new();
        for s in [1, 3, 2, 10, 5, 300, 299, 100] {
            assert_eq!(w.check(s), ReplayVerdict::Fresh, "{s}");
            w.commit(s);
            assert_eq!(w.check(s), ReplayVerdict::Replayed, "{s}");
        }
        assert_eq!(w.check(10), ReplayVerdict::TooOld);
        // 300 - 44 = 256: just outside the window; 45 is its oldest slot.
        assert_eq!(w.check(44), ReplayVerdict::TooOld);
        assert_eq!(w.check(45), ReplayVerdict::Fresh);
        assert_eq!(w.check(0), ReplayVerdict::TooOld);
    }

    #[test]
    fn shifting_across_words_keeps_bits() {
        let mut w = ReplayWindow::new();
        w.commit(1);
        w.commit(70);
        w.commit(130);
        w.commit(200);
        for s in [1, 70, 130, 200] {
            assert_eq!(w.check(s), ReplayVerdict::Replayed, "{s}");
        }
        for s in [2, 69, 71, 129, 199] {
            assert_eq!(w.check(s), ReplayVerdict::Fresh, "{s}");
        }
        w.commit(257);
        assert_eq!(w.check(1), ReplayVerdict::TooOld);
        assert_eq!(w.check(70), ReplayVerdict::Replayed);
    }
}
