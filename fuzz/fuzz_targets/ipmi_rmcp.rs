//! RMCP header and ASF presence ping/pong: view, `Repr::parse`, re-emit.
#![no_main]

use ironbeat_fence::ipmi::wire::rmcp::{self, asf};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(packet) = rmcp::Packet::new_checked(data) {
        let _ = (packet.sequence(), packet.class(), packet.is_ack());
        if let Ok(repr) = rmcp::Repr::parse(&packet) {
            let mut out = data.to_vec();
            repr.emit(&mut rmcp::Packet::new_unchecked(&mut out[..]));
            assert_eq!(
                rmcp::Repr::parse(&rmcp::Packet::new_checked(&out[..]).unwrap()).unwrap(),
                repr
            );
        }
        if let Ok(msg) = asf::Repr::parse(packet.payload()) {
            let again = msg.to_vec();
            assert_eq!(asf::Repr::parse(&again).unwrap(), msg);
            if let Ok(pong) = msg.pong() {
                assert_eq!(asf::Pong::parse(&pong.to_bytes()).unwrap(), pong);
            }
        }
    }
});
