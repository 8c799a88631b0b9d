//! Frames captured off a real wire, checked field by field.
//!
//! Captured on 2026-11-22 from two `ironbeat link watch` processes in network
//! namespaces joined by a veth pair (ha.cf: `cluster capture`, keepalive 100ms,
//! `ucast eth0 198.18.9.x`, `ether eth0`; authkeys `auth 1` / `1 sha256
//! capture-secret`) with `ip netns exec ibcap-1 tcpdump -i eth0 -w cap.pcap`:
//! node2's first heartbeat over UDP (the payload of the datagram to port 694)
//! and its first over raw Ethernet (the whole Ethernet frame, EtherType 0x88B5).

use ironbeat_link::auth::{Algorithm, Key, KeyRing};
use ironbeat_link::wire::frame::{payload, MessageType, Packet, Repr};
use ironbeat_link::{ClusterId, Generation, NodeId, PathId};

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

const UDP_PAYLOAD: &str =
    "49420101012000058060fcf8e23b99420000000000000001000000000000000100080000\
6e6f646532000000000000000051026949023822e7e9c173f19d99a3d345ebf9134ef07041f78202e9ead1c1bd";

const ETHER_FRAME: &str = "ffffffffffff9a90eabaa6b688b5\
49420101012001058060fcf8e23b99420000000000000001000000000000000200080000\
6e6f6465320000000000000000072d14026cda54dbdd91ac708943ef2da5fb3a97568ba313ac36602278368f06";

fn keys() -> KeyRing {
    KeyRing::new(vec![Key::new(1, Algorithm::Sha256, "capture-secret")], 1).unwrap()
}

fn expected(sequence: u64, path: u8) -> Repr<'static> {
    Repr {
        cluster_id: ClusterId::from_name("capture"),
        node_id: NodeId::from_name("node2"),
        node_name: "node2",
        generation: Generation(1),
        sequence,
        path_id: PathId(path),
        msg_type: MessageType::Heartbeat,
        key_index: 1,
        auth_len: 32,
        payload: &[0; 8],
    }
}

fn check(bytes: &[u8], sequence: u64, path: u8) {
    let packet = Packet::new_checked(bytes).unwrap();
    let repr = Repr::parse(&packet).unwrap();
    assert_eq!(repr, expected(sequence, path));
    assert_eq!(
        payload::Heartbeat::parse(repr.payload)
            .unwrap()
            .channel_high,
        0
    );
    assert_eq!(keys().verify(&packet), Ok(()));
    // Construct: the same fields, emitted and signed, give the captured bytes.
    let mut emitted = expected(sequence, path).to_vec();
    keys().sign(&mut Packet::new_unchecked(&mut emitted[..]));
    assert_eq!(emitted, bytes);
    // A different key rejects it.
    let other = KeyRing::new(vec![Key::new(1, Algorithm::Sha256, "other")], 1).unwrap();
    assert!(other.verify(&packet).is_err());
}

#[test]
fn udp_heartbeat_from_the_wire() {
    check(&unhex(UDP_PAYLOAD), 1, 0);
}

#[test]
fn raw_ethernet_heartbeat_from_the_wire() {
    let frame = unhex(ETHER_FRAME);
    assert_eq!(&frame[..6], &[0xff; 6], "sent to the broadcast MAC");
    assert_eq!(
        &frame[12..14],
        &[0x88, 0xb5],
        "IEEE local experimental EtherType 1"
    );
    check(&frame[14..], 2, 1);
}
