//! The cluster core's message handling (`ironbeat_cluster::Node::handle_message`):
//! the first byte picks the sender (a configured peer or a stranger), the
//! rest is the message. Decoding never panics and what decodes re-encodes
//! to the same message; the node never panics, its status stays consistent,
//! and every message it sends fits the link's reliable channel.
#![no_main]

use std::time::{Duration, Instant};

use ironbeat_cluster::wire::{Message, MAX_MESSAGE_LEN};
use ironbeat_cluster::{LinkEvent, Node, NodeConfig};
use ironbeat_crm::model::{
    Cluster, NoQuorumPolicy, Node as CrmNode, Operation, Primitive, Resource, ResourceKind,
};
use libfuzzer_sys::fuzz_target;

fn config() -> NodeConfig {
    let mut model = Cluster::default();
    for n in ["a", "b", "c"] {
        model.nodes.push(CrmNode {
            name: n.into(),
            id: n.into(),
            ..CrmNode::default()
        });
    }
    for r in ["vip", "web"] {
        model.resources.push(Resource {
            id: r.into(),
            parent: None,
            kind: ResourceKind::Primitive(Primitive {
                class: "ocf".into(),
                provider: Some("heartbeat".into()),
                agent: "Dummy".into(),
                operations: vec![Operation {
                    name: "monitor".into(),
                    interval_ms: 1000,
                    enabled: true,
                    ..Operation::default()
                }],
                parameters: Default::default(),
            }),
            meta: Default::default(),
        });
    }
    NodeConfig {
        name: "a".into(),
        nodes: vec![("a".into(), 1), ("b".into(), 1), ("c".into(), 1)],
        two_node: false,
        wait_for_all: false,
        no_quorum_policy: NoQuorumPolicy::Stop,
        model,
        digest: 42,
        fencing: true,
        deadtime: Duration::from_millis(500),
        initdead: Duration::from_secs(2),
        clean_start: true,
        priority_fencing_delay: Duration::from_secs(1),
        connectivity_grace: None,
        watchdog_fencing: None,
        default_op_timeout: Duration::from_secs(5),
        incarnation: 1,
        unix_time_at_start: 1_800_000_000,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    if let Ok(m) = Message::decode(body) {
        let again = m.encode().expect("a decoded message fits when encoded");
        assert_eq!(Message::decode(&again).ok(), Some(m));
    }
    let now = Instant::now();
    let mut node = Node::new(config(), now);
    node.handle_link_event(
        now,
        LinkEvent::Alive {
            node: "b".into(),
            generation: 1,
        },
    );
    let from = match selector % 4 {
        0 | 1 => "b",
        2 => "c",
        _ => "mallory",
    };
    // The same bytes twice, then as separate halves: ordering and replays.
    node.handle_message(now, from, body);
    node.handle_message(now + Duration::from_millis(10), from, body);
    let half = body.len() / 2;
    node.handle_message(now, from, &body[..half]);
    node.handle_message(now, from, &body[half..]);
    node.handle_timeout(now + Duration::from_secs(2));
    while let Some((_, bytes)) = node.poll_message() {
        assert!(bytes.len() <= MAX_MESSAGE_LEN);
        assert!(Message::decode(&bytes).is_ok());
    }
    while node.poll_op().is_some() {}
    while node.poll_fence().is_some() {}
    while node.poll_event().is_some() {}
    let status = node.status();
    assert_eq!(status.nodes.len(), 3);
    assert_eq!(status.resources.len(), 2);
});
