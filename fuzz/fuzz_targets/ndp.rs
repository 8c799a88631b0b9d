//! IPv6 neighbour advertisement: view, options, checksum, `Repr::parse`, and
//! emit → parse of what parsed. Half the inputs get their checksum fixed so
//! the checks behind it are reached.
#![no_main]

use ironbeat_link::wire::ndp::{Packet, Repr};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&fix, rest)) = data.split_first() else {
        return;
    };
    let mut bytes = rest.to_vec();
    let unchecked = Repr::parse(&Packet::new_unchecked(&bytes[..]));
    if Packet::new_checked(&bytes[..]).is_err() {
        assert!(unchecked.is_err());
        return;
    }
    if fix & 1 == 1 {
        Packet::new_unchecked(&mut bytes[..]).fill_checksum();
    }
    let packet = Packet::new_unchecked(&bytes[..]);
    let _ = (
        packet.flow_label(),
        packet.icmp_type(),
        packet.reserved(),
        packet.verify_checksum(),
    );
    for option in packet.options() {
        let _ = option;
    }
    if let Ok(repr) = Repr::parse(&packet) {
        let again = repr.to_vec();
        let reparsed = Repr::parse(&Packet::new_checked(&again[..]).expect("emitted frame checks"));
        assert_eq!(reparsed.expect("emitted frame parses"), repr);
    }
});
