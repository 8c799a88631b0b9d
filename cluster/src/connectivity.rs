//! Ping nodes as connectivity: a member that reaches fewer ping targets than
//! another gives its resources away.
//!
//! Each node pings the configured targets (ha.cf `ping`, `ping6`,
//! `ping_group`; the daemon's pinger) and reports how many answer, its
//! *connectivity*, with its own status. The DC, building the policy
//! engine's model, gives every resource a -INFINITY location on each online
//! member whose connectivity is lower than the best among the members that
//! reported one: heartbeat's ipfail, or Pacemaker's `pingd` rule
//! `-inf: pingd lt max`. Two rules keep it from doing harm:
//!
//! - when no member reaches anything (the best is 0: the gateway itself
//!   died), nothing is banned; stopping every service would not help;
//! - a member that has not reported (its pinger has not judged every
//!   target yet, which it does within `deadping` of its start) is never
//!   the lower one;
//! - reported values count only once no node's value has changed for a
//!   hold time (the core uses the link's deadtime; Pacemaker's `dampen`),
//!   and then all at once: when the gateway dies or comes back, every node
//!   sees it within about one ping interval of the others, and the first
//!   to report must not be taken for the worse connected one in the
//!   meantime.
//!
//! Equal connectivity adds nothing, so placement (stickiness, preferred
//! node) decides as before: no flapping between nodes that reach the same.

use std::time::{Duration, Instant};

use ironbeat_crm::model::{Cluster, Discovery, Location, NodeId, ResourceId, ResourceKind};
use ironbeat_crm::score::Score;

/// One node's reported connectivity: the latest value and the one that
/// counts (the latest once it has held for the hold time).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reported {
    latest: Option<u32>,
    effective: Option<u32>,
    since: Option<Instant>,
}

impl Reported {
    /// A new value reported at `now`; true when it differs from the latest.
    pub fn report(&mut self, now: Instant, value: u32) -> bool {
        if self.latest == Some(value) {
            return false;
        }
        self.latest = Some(value);
        self.since = Some(now);
        true
    }

    /// Makes the latest value count once it has held for `hold`; true when
    /// the value that counts changed.
    pub fn settle(&mut self, now: Instant, hold: Duration) -> bool {
        match self.deadline(hold) {
            Some(at) if at <= now => {
                self.effective = self.latest;
                true
            }
            _ => false,
        }
    }

    /// When the latest value will count, while it does not yet.
    pub fn deadline(&self, hold: Duration) -> Option<Instant> {
        if self.latest == self.effective {
            return None;
        }
        let since = self.since?;
        Some(since.checked_add(hold).unwrap_or(since))
    }

    /// The latest value reported (`ironbeat status`).
    pub fn latest(&self) -> Option<u32> {
        self.latest
    }

    /// The value that counts for placement.
    pub fn effective(&self) -> Option<u32> {
        self.effective
    }
}

/// The members to keep free of resources: those whose connectivity is lower
/// than the best reported. `members` pairs each online member with its
/// reported connectivity (`None`: not reported yet, never lower).
pub fn outranked<'a>(members: &[(&'a str, Option<u32>)]) -> Vec<&'a str> {
    let best = members.iter().filter_map(|(_, c)| *c).max().unwrap_or(0);
    if best == 0 {
        return Vec::new();
    }
    members
        .iter()
        .filter(|(_, c)| c.is_some_and(|c| c < best))
        .map(|(name, _)| *name)
        .collect()
}

/// Adds to `model` a -INFINITY location for every top-level resource (fence
/// devices excepted: they are not services) on each of `nodes`.
pub fn ban(model: &mut Cluster, nodes: &[NodeId]) {
    if nodes.is_empty() {
        return;
    }
    let resources: Vec<usize> = model
        .resources
        .iter()
        .enumerate()
        .filter(|(_, r)| r.parent.is_none())
        .filter(|(_, r)| !matches!(&r.kind, ResourceKind::Primitive(p) if p.class == "stonith"))
        .map(|(i, _)| i)
        .collect();
    for i in resources {
        model.locations.push(Location {
            id: format!("ironbeat-connectivity-{}", model.resources[i].id),
            resource: ResourceId(i),
            role: None,
            scores: nodes.iter().map(|&n| (n, Score::MINUS_INFINITY)).collect(),
            discovery: Discovery::Always,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ironbeat_crm::model::{Group, Meta, Node, Primitive, Resource};

    #[test]
    fn a_value_counts_once_it_has_held() {
        let hold = Duration::from_millis(500);
        let t0 = Instant::now();
        let mut r = Reported::default();
        assert_eq!(
            (r.latest(), r.effective(), r.deadline(hold)),
            (None, None, None)
        );
        assert!(r.report(t0, 1));
        assert!(!r.report(t0 + hold / 2, 1), "the same value again");
        assert_eq!(r.deadline(hold), Some(t0 + hold));
        assert!(!r.settle(t0 + hold / 2, hold));
        assert_eq!((r.latest(), r.effective()), (Some(1), None));
        // A change restarts the hold; a change back before it ends is no
        // change at all.
        assert!(r.settle(t0 + hold, hold));
        assert_eq!(r.effective(), Some(1));
        assert!(r.report(t0 + hold * 2, 0));
        assert!(r.report(t0 + hold * 2 + hold / 10, 1));
        assert_eq!(r.deadline(hold), None);
        assert!(!r.settle(t0 + hold * 4, hold));
        assert_eq!(r.effective(), Some(1));
        assert!(r.report(t0 + hold * 5, 0));
        assert!(r.settle(t0 + hold * 6, hold));
        assert_eq!(r.effective(), Some(0));
    }

    #[test]
    fn lower_than_the_best_is_outranked() {
        assert_eq!(
            outranked(&[("a", Some(2)), ("b", Some(1)), ("c", Some(2))]),
            ["b"]
        );
        assert_eq!(outranked(&[("a", Some(1)), ("b", Some(0))]), ["b"]);
    }

    #[test]
    fn equal_all_zero_and_unknown_ban_nothing() {
        assert!(outranked(&[("a", Some(1)), ("b", Some(1))]).is_empty());
        assert!(outranked(&[("a", Some(0)), ("b", Some(0))]).is_empty());
        assert!(outranked(&[("a", Some(1)), ("b", None)]).is_empty());
        assert!(outranked(&[("a", None), ("b", None)]).is_empty());
        assert!(outranked(&[]).is_empty());
        assert_eq!(
            outranked(&[("a", Some(u32::MAX)), ("b", Some(0)), ("c", None)]),
            ["b"]
        );
    }

    fn primitive(id: &str, class: &str, parent: Option<usize>) -> Resource {
        Resource {
            id: id.into(),
            parent: parent.map(ResourceId),
            kind: ResourceKind::Primitive(Primitive {
                class: class.into(),
                provider: None,
                agent: "Dummy".into(),
                operations: Vec::new(),
                parameters: Default::default(),
            }),
            meta: Meta::default(),
        }
    }

    #[test]
    fn bans_top_level_services_only() {
        let mut m = Cluster::default();
        for n in ["a", "b"] {
            m.nodes.push(Node {
                name: n.into(),
                id: n.into(),
                ..Node::default()
            });
        }
        m.resources.push(Resource {
            id: "grp".into(),
            parent: None,
            kind: ResourceKind::Group(Group {
                members: vec![ResourceId(1)],
                ordered: true,
                collocated: true,
            }),
            meta: Meta::default(),
        });
        m.resources.push(primitive("vip", "ocf", Some(0)));
        m.resources.push(primitive("web", "lsb", None));
        m.resources.push(primitive("fence_a", "stonith", None));
        ban(&mut m, &[]);
        assert!(m.locations.is_empty());
        ban(&mut m, &[NodeId(1)]);
        let banned: Vec<(usize, &[(NodeId, Score)])> = m
            .locations
            .iter()
            .map(|l| (l.resource.0, l.scores.as_slice()))
            .collect();
        assert_eq!(
            banned,
            [
                (0, &[(NodeId(1), Score::MINUS_INFINITY)][..]),
                (2, &[(NodeId(1), Score::MINUS_INFINITY)][..])
            ]
        );
    }
}
