//! Heartbeat frame: view, `Repr::parse`, auth verification and payload codecs.
#![no_main]

use std::sync::OnceLock;

use ironbeat_link::auth::{parse_authkeys, KeyRing};
use ironbeat_link::wire::frame::{payload, Packet, Repr};
use libfuzzer_sys::fuzz_target;

fn keys() -> &'static KeyRing {
    static KEYS: OnceLock<KeyRing> = OnceLock::new();
    KEYS.get_or_init(|| {
        parse_authkeys(
            "auth 1\n1 sha256 fuzz\n2 sha1 fuzz\n3 md5 fuzz\n4 crc\n",
            "fuzz",
            true,
        )
        .expect("fixed authkeys text parses")
    })
}

fuzz_target!(|data: &[u8]| {
    if let Ok(packet) = Packet::new_checked(data) {
        let _ = (
            packet.msg_type(),
            packet.generation(),
            packet.sequence(),
            packet.name(),
        );
        let _ = keys().verify(&packet);
        if let Ok(repr) = Repr::parse(&packet) {
            let again = repr.to_vec();
            assert_eq!(again.len(), data.len());
            assert_eq!(&again[..packet.signed_bytes().len()], packet.signed_bytes());
            let _ = payload::Heartbeat::parse(repr.payload);
            let _ = payload::Data::parse(repr.payload);
            let _ = payload::RetransmitRequest::parse(repr.payload);
            let _ = payload::Ack::parse(repr.payload);
        }
    }
    if let Ok(hb) = payload::Heartbeat::parse(data) {
        assert_eq!(hb.to_bytes(), data);
    }
    if let Ok((header, body)) = payload::Data::parse(data) {
        assert_eq!(header.to_bytes(body), data);
    }
    if let Ok(r) = payload::RetransmitRequest::parse(data) {
        assert_eq!(r.to_bytes(), data);
    }
    if let Ok(a) = payload::Ack::parse(data) {
        assert_eq!(a.to_bytes(), data);
    }
});
