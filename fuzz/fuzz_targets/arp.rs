//! Ethernet + ARP: view, `Repr::parse`, and emit of what parsed.
#![no_main]

use ironbeat_link::wire::arp::{Packet, Repr, FRAME_LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let unchecked = Repr::parse(&Packet::new_unchecked(data));
    match Packet::new_checked(data) {
        Ok(packet) => {
            let _ = (
                packet.operation(),
                packet.sender_protocol_addr(),
                packet.target_hardware_addr(),
            );
            if let Ok(repr) = Repr::parse(&packet) {
                assert_eq!(repr.to_vec(), data[..FRAME_LEN]);
            }
        }
        Err(_) => assert!(unchecked.is_err()),
    }
});
