//! External agents' output parsers (`ironbeat_fence::external::output`):
//! cluster-glue word lists, fence-agents `list`, metadata XML, failure
//! classification, and the request core fed arbitrary exits. Nothing may
//! panic; results stay within their bounds.
#![no_main]

use std::time::{Duration, Instant};

use ironbeat_fence::deadline::Deadline;
use ironbeat_fence::external::output::{self, MAX_WORDS, MAX_XML_PARAMS};
use ironbeat_fence::external::{query_answer, Device, Exit, Fence, Kind, Next, Query};
use ironbeat_fence::power::Action;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(words) = output::parse_words("fuzz", data) {
        assert!(words.len() <= MAX_WORDS);
    }
    let _ = output::parse_agent_list(data, b',');
    if let Ok(meta) = output::parse_metadata(data) {
        assert!(meta.params.len() <= MAX_XML_PARAMS);
    }
    let _ = output::classify_agent_failure(data);
    let _ = output::stderr_tail(data, 3);

    // The request core: every exit of every run is the input, split in parts.
    let (selector, rest) = data.split_first().map_or((0, data), |(s, r)| (*s, r));
    let kind = if selector & 1 == 0 {
        Kind::Agent
    } else {
        Kind::Plugin
    };
    let action = [
        Action::Status,
        Action::On,
        Action::Off,
        Action::Reboot,
        Action::Reset,
    ][usize::from(selector >> 1) % 5];
    let mut device = Device::new(kind, "fuzz");
    device.accept_unverified = selector & 0x80 != 0;
    let _ = device.params.insert("passwd", "fuzzpass");
    for query in [Query::ConfigNames, Query::Hosts, Query::Metadata] {
        let exit = Exit {
            code: Some(i32::from(selector & 3)),
            stdout: rest.to_vec(),
            stderr: rest.to_vec(),
        };
        if let Ok(answer) = query_answer(&device, query, &exit) {
            assert!(!format!("{answer:?}").contains("fuzzpass"));
        }
    }
    let t0 = Instant::now();
    let Ok(mut fence) = Fence::new(
        device,
        "node2",
        action,
        Deadline::after(t0, Duration::from_secs(5)),
    ) else {
        return;
    };
    let mut now = t0;
    let mut chunks = rest.chunks(8);
    for _ in 0..64 {
        match fence.next(now) {
            Next::Done(result) => {
                if let Err(e) = result {
                    assert!(!e.message().contains("fuzzpass"));
                }
                return;
            }
            Next::Sleep(at) => now = at.max(now + Duration::from_millis(1)),
            Next::Run(_) => {
                now += Duration::from_millis(50);
                match chunks.next() {
                    Some(c) if !c.is_empty() => fence.handle_exit(
                        now,
                        Exit {
                            code: Some(i32::from(c[0] % 4)),
                            stdout: c[1..].to_vec(),
                            stderr: c.to_vec(),
                        },
                    ),
                    _ => {
                        now = fence.deadline().end();
                        fence.handle_deadline(now);
                    }
                }
            }
        }
    }
});
