//! Identifiers carried in every frame.

use std::fmt;

use sha2::{Digest, Sha256};

/// Identifies a cluster on the wire; frames of another cluster are dropped.
///
/// Derived from the cluster name (`cluster` in ha.cf, default `linux-ha`) so two
/// clusters sharing a segment never mistake each other's frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClusterId(pub u32);

/// Identifies a node on the wire, derived from its name unless configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub u32);

/// A local path (one configured link: a UDP medium, an Ethernet port, a tty).
///
/// Path ids are local to the node that configured them; a frame carries the
/// sender's path id for diagnostics only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PathId(pub u8);

/// A node's incarnation: persisted and incremented at every start, so peers
/// recognise a restart ("back") and reject frames of an older incarnation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Generation(pub u64);

fn hash32(domain: &str, name: &str) -> u32 {
    let digest = Sha256::new()
        .chain_update(domain.as_bytes())
        .chain_update([0u8])
        .chain_update(name.as_bytes())
        .finalize();
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

impl ClusterId {
    /// The id of a cluster with this name.
    pub fn from_name(name: &str) -> Self {
        ClusterId(hash32("ironbeat-cluster", name))
    }
}

impl NodeId {
    /// The id of a node with this name (its `uname -n`).
    pub fn from_name(name: &str) -> Self {
        NodeId(hash32("ironbeat-node", name))
    }
}

impl fmt::Display for ClusterId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#010x}", self.0)
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#010x}", self.0)
    }
}

impl fmt::Display for PathId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Display for Generation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_distinct() {
        assert_eq!(NodeId::from_name("node1"), NodeId::from_name("node1"));
        assert_ne!(NodeId::from_name("node1"), NodeId::from_name("node2"));
        assert_ne!(ClusterId::from_name("a").0, NodeId::from_name("a").0);
    }
}
