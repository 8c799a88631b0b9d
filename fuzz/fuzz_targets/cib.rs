//! The Pacemaker CIB reader (`ironbeat_crm::cib::read`): any input gives a
//! model whose references are in range, or an error that says where.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match ironbeat_crm::cib::read(&text) {
        Ok(doc) => {
            let c = &doc.cluster;
            let (nodes, resources) = (c.nodes.len(), c.resources.len());
            for r in &c.resources {
                assert!(r.parent.map_or(true, |p| p.0 < resources));
            }
            for h in &c.history {
                assert!(h.node.0 < nodes && h.resource.0 < resources);
            }
            for b in &c.history_bans {
                assert!(b.resource.0 < resources && b.node.map_or(true, |n| n.0 < nodes));
            }
            for l in &c.locations {
                assert!(l.resource.0 < resources && l.scores.iter().all(|(n, _)| n.0 < nodes));
            }
            for col in &c.colocations {
                assert!(col.dependent.0 < resources && col.primary.0 < resources);
            }
            for o in &c.orders {
                assert!(o.first.0 < resources && o.then.0 < resources);
            }
            for o in &c.orphans {
                assert!(o.node.0 < nodes);
            }
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
});
