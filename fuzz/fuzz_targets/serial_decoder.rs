//! Serial framing: arbitrary byte streams in arbitrary chunks, and the
//! encode → decode round trip of arbitrary frames.
#![no_main]

use ironbeat_link::wire::frame::MAX_FRAME_LEN;
use ironbeat_link::wire::serial::{encode, Decoder};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, stream)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(chunk).max(1);
    let mut decoder = Decoder::new();
    let mut frames = 0u64;
    let mut errors = 0u64;
    for piece in stream.chunks(chunk) {
        decoder.push(piece);
        while let Some(result) = decoder.next_frame() {
            match result {
                Ok(frame) => {
                    assert!(!frame.is_empty() && frame.len() <= MAX_FRAME_LEN);
                    frames += 1;
                }
                Err(_) => errors += 1,
            }
        }
    }
    let c = decoder.counters();
    assert_eq!(c.frames, frames);
    assert_eq!(c.crc_errors + c.oversize + c.short + c.aborted, errors);

    // Whatever the stream left behind, a whole record after it decodes.
    if !stream.is_empty() && stream.len() <= MAX_FRAME_LEN {
        let mut record = Vec::new();
        encode(stream, &mut record);
        decoder.push(&record);
        let mut last = None;
        while let Some(result) = decoder.next_frame() {
            last = Some(result);
        }
        assert_eq!(last, Some(Ok(stream.to_vec())));
    }
});
