//! Framing of heartbeat frames on a serial byte stream (null-modem cable, pty).
//!
//! HDLC-like (RFC 1662 byte stuffing): every record is delimited by the flag
//! byte `0x7E`; inside a record `0x7E` and `0x7D` are sent as `0x7D` followed by
//! the byte XOR `0x20`. A record's content is the frame followed by the CRC-32
//! (IEEE, as `crc32fast` computes it) of the frame, big-endian:
//!
//! ```text
//!  7E | frame bytes (escaped) | CRC-32 of frame, big-endian (escaped) | 7E
//! ```
//!
//! [`encode`] writes a flag before *and* after each record, so a receiver that
//! joined mid-record, or lost bytes, is back in step at the next record. The
//! [`Decoder`] is sans-I/O: the driver [`push`](Decoder::push)es whatever the
//! tty returned and drains [`next_frame`](Decoder::next_frame). Noise between
//! records, truncated records and records with lost bytes are reported once
//! (CRC, short, oversize or aborted) and counted; the next intact record decodes.
//!
//! Panic contract: [`encode`] and every [`Decoder`] method never panic on any
//! input; decoder memory is bounded by [`MAX_RECORD_LEN`] plus the bytes pushed
//! and not yet drained.

use std::fmt;

use crate::wire::frame::MAX_FRAME_LEN;
use crate::Error;

/// Delimits records.
pub const FLAG: u8 = 0x7E;
/// Announces an escaped byte.
pub const ESCAPE: u8 = 0x7D;
/// An escaped byte is sent XOR this value.
pub const ESCAPE_XOR: u8 = 0x20;
/// Length of the CRC-32 that closes every record's content.
pub const CRC_LEN: usize = 4;
/// Longest record content (unescaped frame + CRC); longer records are discarded.
pub const MAX_RECORD_LEN: usize = MAX_FRAME_LEN + CRC_LEN;

/// Why a record was dropped. Each is reported once, then decoding goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SerialError {
    /// The CRC did not match: line noise, lost or inserted bytes.
    Crc {
        /// The CRC the record carried.
        received: u32,
        /// The CRC of the bytes that arrived.
        computed: u32,
    },
    /// More than [`MAX_RECORD_LEN`] content bytes without a closing flag.
    Oversize {
        /// Bytes seen before the record was closed (escapes counted once
        /// the limit was passed).
        len: usize,
    },
    /// Too short to hold one frame byte and the CRC.
    Short {
        /// Content bytes in the record.
        len: usize,
    },
    /// An escape byte was directly followed by a flag (the HDLC abort sequence).
    Aborted {
        /// Content bytes before the abort.
        len: usize,
    },
}

impl fmt::Display for SerialError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            SerialError::Crc { received, computed } => write!(
                f,
                "serial record CRC mismatch (received {received:#010x}, computed {computed:#010x}): \
                 line noise or lost bytes; check cable, baud rate and parity on both ends"
            ),
            SerialError::Oversize { len } => write!(
                f,
                "serial record of {len}+ bytes exceeds {MAX_RECORD_LEN}; \
                 the peer does not speak ironbeat framing or the baud rates differ"
            ),
            SerialError::Short { len } => write!(
                f,
                "serial record of {len} bytes is too short for a frame and its CRC (line noise?)"
            ),
            SerialError::Aborted { len } => {
                write!(f, "serial record aborted by the sender after {len} bytes")
            }
        }
    }
}

impl std::error::Error for SerialError {}

impl From<SerialError> for Error {
    fn from(e: SerialError) -> Self {
        Error::invalid_message(e.to_string())
    }
}

/// What a [`Decoder`] has seen since it was created.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SerialCounters {
    /// Records delivered with a good CRC.
    pub frames: u64,
    /// Records dropped for a CRC mismatch.
    pub crc_errors: u64,
    /// Records dropped for exceeding [`MAX_RECORD_LEN`].
    pub oversize: u64,
    /// Records dropped as too short.
    pub short: u64,
    /// Records aborted by an escape-flag sequence.
    pub aborted: u64,
    /// Received bytes (flags excluded) that were thrown away: noise before the
    /// first flag and the content of every dropped record.
    pub garbage_bytes: u64,
}

/// Appends `frame` as one record (leading flag, escaped frame and CRC, trailing
/// flag) to `out`. Frames longer than [`MAX_FRAME_LEN`] are encoded anyway, but
/// a [`Decoder`] drops them as oversize.
pub fn encode(frame: &[u8], out: &mut Vec<u8>) {
    let crc = crc32fast::hash(frame).to_be_bytes();
    out.reserve(frame.len() + CRC_LEN + 2 + frame.len() / 32);
    out.push(FLAG);
    for &byte in frame.iter().chain(crc.iter()) {
        if byte == FLAG || byte == ESCAPE {
            out.push(ESCAPE);
            out.push(byte ^ ESCAPE_XOR);
        } else {
            out.push(byte);
        }
    }
    out.push(FLAG);
}

/// Returns `frame` encoded as one record in a new vector.
pub fn encode_to_vec(frame: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode(frame, &mut out);
    out
}

/// Where the decoder is within the byte stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// No flag seen yet: bytes are noise.
    Hunting,
    /// Inside a record, collecting content.
    InRecord,
    /// Inside a record that grew too long: dropping bytes until the next flag.
    Discarding,
}

/// Sans-I/O decoder of the record stream.
///
/// Driver loop: after every read from the tty, [`push`](Self::push) the bytes,
/// then call [`next_frame`](Self::next_frame) until it returns `None`.
#[derive(Debug, Clone)]
pub struct Decoder {
    input: Vec<u8>,
    position: usize,
    state: State,
    escaped: bool,
    record: Vec<u8>,
    /// Content bytes of the record being discarded as oversize.
    discarded: usize,
    counters: SerialCounters,
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new()
    }
}

impl Decoder {
    /// A decoder that waits for the first flag.
    pub fn new() -> Self {
        Decoder {
            input: Vec::new(),
            position: 0,
            state: State::Hunting,
            escaped: false,
            record: Vec::with_capacity(MAX_RECORD_LEN),
            discarded: 0,
            counters: SerialCounters::default(),
        }
    }

    /// Queues bytes read from the line.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.position > 0 {
            self.input.drain(..self.position);
            self.position = 0;
        }
        self.input.extend_from_slice(bytes);
    }

    /// The next record decoded from the queued bytes: `Some(Ok(frame))` for a
    /// good record, `Some(Err(_))` once per dropped record, `None` when the
    /// queued bytes hold no complete record.
    pub fn next_frame(&mut self) -> Option<Result<Vec<u8>, SerialError>> {
        while let Some(&byte) = self.input.get(self.position) {
            self.position += 1;
            if let Some(result) = self.accept(byte) {
                return Some(result);
            }
        }
        self.input.clear();
        self.position = 0;
        None
    }

    /// What the decoder has seen so far.
    pub fn counters(&self) -> &SerialCounters {
        &self.counters
    }

    /// Bytes queued and not yet examined.
    pub fn pending(&self) -> usize {
        self.input.len() - self.position
    }

    /// Forgets any partial record and waits for the next flag (e.g. after the
    /// driver reopened the tty). Counters are kept.
    pub fn reset(&mut self) {
        self.input.clear();
        self.position = 0;
        self.state = State::Hunting;
        self.escaped = false;
        self.record.clear();
        self.discarded = 0;
    }

    fn accept(&mut self, byte: u8) -> Option<Result<Vec<u8>, SerialError>> {
        if byte == FLAG {
            return self.close_record();
        }
        match self.state {
            State::Hunting => {
                self.counters.garbage_bytes += 1;
                None
            }
            State::Discarding => {
                self.discarded += 1;
                None
            }
            State::InRecord => {
                if byte == ESCAPE && !self.escaped {
                    self.escaped = true;
                    return None;
                }
                let value = if self.escaped {
                    byte ^ ESCAPE_XOR
                } else {
                    byte
                };
                self.escaped = false;
                if self.record.len() == MAX_RECORD_LEN {
                    self.discarded = self.record.len() + 1;
                    self.record.clear();
                    self.state = State::Discarding;
                } else {
                    self.record.push(value);
                }
                None
            }
        }
    }

    /// A flag ends the current record (if any) and opens the next.
    fn close_record(&mut self) -> Option<Result<Vec<u8>, SerialError>> {
        let state = std::mem::replace(&mut self.state, State::InRecord);
        let escaped = std::mem::replace(&mut self.escaped, false);
        match state {
            State::Hunting => None,
            State::Discarding => {
                let len = std::mem::take(&mut self.discarded);
                self.counters.oversize += 1;
                self.counters.garbage_bytes += len as u64;
                Some(Err(SerialError::Oversize { len }))
            }
            State::InRecord => {
                let len = self.record.len();
                if escaped {
                    self.record.clear();
                    self.counters.aborted += 1;
                    self.counters.garbage_bytes += len as u64 + 1;
                    return Some(Err(SerialError::Aborted { len }));
                }
                if len == 0 {
                    // Back-to-back flags: the closing flag of one record and
                    // the opening flag of the next, or idle fill.
                    return None;
                }
                if len <= CRC_LEN {
                    self.record.clear();
                    self.counters.short += 1;
                    self.counters.garbage_bytes += len as u64;
                    return Some(Err(SerialError::Short { len }));
                }
                let body_len = len - CRC_LEN;
                let tail = &self.record[body_len..];
                let received = u32::from_be_bytes([tail[0], tail[1], tail[2], tail[3]]);
                let computed = crc32fast::hash(&self.record[..body_len]);
                if received != computed {
                    self.record.clear();
                    self.counters.crc_errors += 1;
                    self.counters.garbage_bytes += len as u64;
                    return Some(Err(SerialError::Crc { received, computed }));
                }
                let frame = self.record[..body_len].to_vec();
                self.record.clear();
                self.counters.frames += 1;
                Some(Ok(frame))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A tiny deterministic PRNG (xorshift64*), so failures reproduce.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
        fn bytes(&mut self, len: usize) -> Vec<u8> {
            (0..len).map(|_| self.next() as u8).collect()
        }
    }

    /// Frames that exercise escaping: flags and escapes inside.
    fn frames() -> Vec<Vec<u8>> {
        vec![
            b"IB\x01\x01 plain".to_vec(),
            vec![
                FLAG,
                ESCAPE,
                FLAG ^ ESCAPE_XOR,
                ESCAPE ^ ESCAPE_XOR,
                0,
                0xff,
            ],
            vec![FLAG; 40],
            vec![ESCAPE; 3],
            (0..=255u8).collect(),
            vec![0x5a],
        ]
    }

    fn decode_all(decoder: &mut Decoder) -> (Vec<Vec<u8>>, Vec<SerialError>) {
        let mut good = Vec::new();
        let mut bad = Vec::new();
        while let Some(result) = decoder.next_frame() {
            match result {
                Ok(frame) => good.push(frame),
                Err(e) => bad.push(e),
            }
        }
        (good, bad)
    }

    #[test]
    fn encoding_escapes_flag_and_escape_bytes() {
        let record = encode_to_vec(&[0x01, FLAG, 0x02, ESCAPE]);
        let crc = crc32fast::hash(&[0x01, FLAG, 0x02, ESCAPE]).to_be_bytes();
        assert_eq!(
            &record[..7],
            &[FLAG, 0x01, ESCAPE, 0x5e, 0x02, ESCAPE, 0x5d]
        );
        assert_eq!(record.last(), Some(&FLAG));
        assert_eq!(record.iter().filter(|&&b| b == FLAG).count(), 2);
        let mut decoder = Decoder::new();
        decoder.push(&record);
        assert_eq!(
            decoder.next_frame(),
            Some(Ok(vec![0x01, FLAG, 0x02, ESCAPE]))
        );
        assert_eq!(decoder.next_frame(), None);
        // The CRC is the frame's CRC-32, big-endian, before escaping.
        let unescaped_tail: Vec<u8> = {
            let mut v = Vec::new();
            let mut esc = false;
            for &b in &record[1..record.len() - 1] {
                if b == ESCAPE {
                    esc = true;
                } else {
                    v.push(if esc { b ^ ESCAPE_XOR } else { b });
                    esc = false;
                }
            }
            v[v.len() - 4..].to_vec()
        };
        assert_eq!(unescaped_tail, crc);
    }

    #[test]
    fn round_trip_in_one_push_and_byte_by_byte() {
        let mut stream = Vec::new();
        for f in frames() {
            encode(&f, &mut stream);
        }
        let mut decoder = Decoder::new();
        decoder.push(&stream);
        let (good, bad) = decode_all(&mut decoder);
        assert_eq!(good, frames());
        assert!(bad.is_empty());

        let mut decoder = Decoder::new();
        let mut good = Vec::new();
        for &b in &stream {
            decoder.push(&[b]);
            while let Some(r) = decoder.next_frame() {
                good.push(r.unwrap());
            }
        }
        assert_eq!(good, frames());
        assert_eq!(decoder.counters().frames, frames().len() as u64);
        assert_eq!(decoder.counters().garbage_bytes, 0);
        assert_eq!(decoder.pending(), 0);
    }

    #[test]
    fn largest_frame_passes_and_one_more_byte_is_oversize() {
        let max = vec![0x11; MAX_FRAME_LEN];
        let too_big = vec![0x11; MAX_FRAME_LEN + 1];
        let mut stream = encode_to_vec(&max);
        encode(&too_big, &mut stream);
        encode(b"after", &mut stream);
        let mut decoder = Decoder::new();
        decoder.push(&stream);
        assert_eq!(decoder.next_frame(), Some(Ok(max)));
        assert!(matches!(
            decoder.next_frame(),
            Some(Err(SerialError::Oversize { len })) if len > MAX_RECORD_LEN
        ));
        assert_eq!(decoder.next_frame(), Some(Ok(b"after".to_vec())));
        assert_eq!(decoder.counters().oversize, 1);
    }

    #[test]
    fn endless_noise_without_flags_stays_bounded() {
        let mut decoder = Decoder::new();
        decoder.push(&[FLAG]);
        let noise = vec![0x42; 4096];
        for _ in 0..100 {
            decoder.push(&noise);
            assert_eq!(decoder.next_frame(), None);
            assert!(decoder.record.capacity() <= MAX_RECORD_LEN * 2);
        }
        decoder.push(&encode_to_vec(b"ok"));
        let (good, bad) = decode_all(&mut decoder);
        assert_eq!(good, vec![b"ok".to_vec()]);
        assert_eq!(bad, vec![SerialError::Oversize { len: 409_600 }]);
    }

    #[test]
    fn noise_before_the_first_flag_is_skipped() {
        let mut stream = vec![0x00, 0x13, 0x11, ESCAPE, 0xff];
        stream.extend(encode_to_vec(b"first"));
        let mut decoder = Decoder::new();
        decoder.push(&stream);
        assert_eq!(decoder.next_frame(), Some(Ok(b"first".to_vec())));
        assert_eq!(decoder.counters().garbage_bytes, 5);
    }

    #[test]
    fn random_garbage_between_records_never_loses_a_record() {
        let mut rng = Rng(0x1b_eef);
        for round in 0..300 {
            let mut stream = Vec::new();
            let mut sent = Vec::new();
            for i in 0..5 {
                let garbage_len = rng.below(40);
                // Garbage biased towards the special bytes.
                for _ in 0..garbage_len {
                    let b = match rng.below(4) {
                        0 => FLAG,
                        1 => ESCAPE,
                        _ => rng.next() as u8,
                    };
                    stream.push(b);
                }
                let len = 1 + rng.below(200);
                let frame = rng.bytes(len);
                encode(&frame, &mut stream);
                sent.push((i, frame));
            }
            let mut decoder = Decoder::new();
            // Feed in random chunk sizes.
            let mut at = 0;
            let mut good = Vec::new();
            while at < stream.len() {
                let n = (1 + rng.below(64)).min(stream.len() - at);
                decoder.push(&stream[at..at + n]);
                at += n;
                while let Some(r) = decoder.next_frame() {
                    if let Ok(f) = r {
                        good.push(f);
                    }
                }
            }
            let expected: Vec<Vec<u8>> = sent.into_iter().map(|(_, f)| f).collect();
            assert_eq!(good, expected, "round {round}");
        }
    }

    #[test]
    fn every_truncation_resynchronises_on_the_next_record() {
        let first = frames()[1].clone();
        let record = encode_to_vec(&first);
        let next = encode_to_vec(b"next frame");
        for cut in 0..=record.len() {
            let mut stream = record[..cut].to_vec();
            stream.extend_from_slice(&next);
            let mut decoder = Decoder::new();
            decoder.push(&stream);
            let (good, bad) = decode_all(&mut decoder);
            // Only a record that lost nothing but its closing flag survives:
            // the next record's opening flag closes it.
            let first_survives = cut >= record.len() - 1;
            let mut expected = Vec::new();
            if first_survives {
                expected.push(first.clone());
            }
            expected.push(b"next frame".to_vec());
            assert_eq!(good, expected, "cut at {cut}");
            assert!(bad.len() <= 1, "cut at {cut}: {bad:?}");
        }
    }

    #[test]
    fn bytes_lost_in_the_middle_are_a_crc_error_then_the_next_record_decodes() {
        let first: Vec<u8> = (0..64).collect();
        let record = encode_to_vec(&first);
        for start in 1..record.len() - 1 {
            for lost in 1..=3usize {
                if start + lost >= record.len() {
                    continue;
                }
                let mut stream = record[..start].to_vec();
                stream.extend_from_slice(&record[start + lost..]);
                encode(b"next", &mut stream);
                let mut decoder = Decoder::new();
                decoder.push(&stream);
                let (good, bad) = decode_all(&mut decoder);
                assert_eq!(good, vec![b"next".to_vec()], "lost {lost} at {start}");
                assert_eq!(bad.len(), 1, "lost {lost} at {start}");
            }
        }
    }

    #[test]
    fn every_bit_flip_is_detected_and_the_next_record_decodes() {
        let first = frames()[1].clone();
        let record = encode_to_vec(&first);
        let next = encode_to_vec(b"next");
        // Flip every bit of the record's content (not its flags).
        for at in 1..record.len() - 1 {
            for bit in 0..8 {
                let mut stream = record.clone();
                stream[at] ^= 1 << bit;
                stream.extend_from_slice(&next);
                let mut decoder = Decoder::new();
                decoder.push(&stream);
                let (good, bad) = decode_all(&mut decoder);
                assert_eq!(good, vec![b"next".to_vec()], "byte {at} bit {bit}");
                assert!(!bad.is_empty(), "byte {at} bit {bit}");
            }
        }
        let mut plain = encode_to_vec(b"some frame bytes");
        plain[3] ^= 0x01;
        let mut decoder = Decoder::new();
        decoder.push(&plain);
        assert!(matches!(
            decoder.next_frame(),
            Some(Err(SerialError::Crc { .. }))
        ));
        assert_eq!(decoder.counters().crc_errors, 1);
    }

    #[test]
    fn short_and_aborted_records_are_reported() {
        let mut decoder = Decoder::new();
        decoder.push(&[FLAG, 1, 2, 3, FLAG, 9, ESCAPE, FLAG]);
        decoder.push(&encode_to_vec(b"x"));
        assert_eq!(
            decoder.next_frame(),
            Some(Err(SerialError::Short { len: 3 }))
        );
        assert_eq!(
            decoder.next_frame(),
            Some(Err(SerialError::Aborted { len: 1 }))
        );
        assert_eq!(decoder.next_frame(), Some(Ok(b"x".to_vec())));
        let c = decoder.counters();
        assert_eq!((c.short, c.aborted, c.frames), (1, 1, 1));
        let err: Error = SerialError::Short { len: 3 }.into();
        assert!(err.to_string().contains("too short"));
    }

    #[test]
    fn reset_drops_a_partial_record() {
        let record = encode_to_vec(b"whole");
        let mut decoder = Decoder::new();
        decoder.push(&record[..4]);
        assert_eq!(decoder.next_frame(), None);
        decoder.reset();
        decoder.push(&record[4..]);
        // The tail (no opening flag after reset) is noise until its closing flag.
        assert_eq!(decoder.next_frame(), None);
        decoder.push(&record);
        assert_eq!(decoder.next_frame(), Some(Ok(b"whole".to_vec())));
    }
}
