//! Whole clusters of endpoints on a fake clock: several media, loss, one-way
//! links, partitions, heals and restarts, with exact event times.
//!
//! The simulated network delivers every frame a node sends on a path to every
//! other member of that medium after a fixed latency, unless the medium is down,
//! the direction is blocked, or the pseudo-random loss drops it. Deterministic:
//! the same test always sees the same events at the same instants.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};
use std::time::{Duration, Instant};

use ironbeat_link::auth::{Algorithm, Key, KeyRing};
use ironbeat_link::proto::endpoint::{Endpoint, EndpointConfig, Event, Rejection};
use ironbeat_link::{ClusterId, Generation, PathId, Timing};

const MS: Duration = Duration::from_millis(1);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

struct Medium {
    members: Vec<(usize, PathId)>,
    up: bool,
    latency: Duration,
    loss_percent: u64,
    blocked: BTreeSet<(usize, usize)>,
}

struct Node {
    name: String,
    endpoint: Option<Endpoint>,
    generation: u64,
    events: Vec<(Duration, Event)>,
}

/// A frame on its way: (arrival, tie-breaker, to node, to path, bytes).
type InFlight = Reverse<(Instant, u64, usize, u8, Vec<u8>)>;

struct Net {
    t0: Instant,
    now: Instant,
    nodes: Vec<Node>,
    media: Vec<Medium>,
    in_flight: BinaryHeap<InFlight>,
    sent: u64,
    rng: u64,
    timing: Timing,
    keys: KeyRing,
    cluster: &'static str,
    /// Every frame sent, for replay attacks: (from, path, bytes).
    wiretap: Vec<(usize, PathId, Vec<u8>)>,
}

fn timing() -> Timing {
    Timing {
        keepalive: ms(100),
        warntime: ms(300),
        deadtime: ms(500),
        initdead: ms(1000),
    }
}

fn keys(secret: &str) -> KeyRing {
    KeyRing::new(vec![Key::new(1, Algorithm::Sha256, secret)], 1).unwrap()
}

impl Net {
    /// `n` nodes named node1…; `media` lists, per medium, the member nodes
    /// (each member uses path id = medium index).
    fn new(n: usize, media: &[&[usize]]) -> Net {
        let t0 = Instant::now();
        let mut net = Net {
            t0,
            now: t0,
            nodes: Vec::new(),
            media: media
                .iter()
                .enumerate()
                .map(|(i, members)| Medium {
                    members: members.iter().map(|&m| (m, PathId(i as u8))).collect(),
                    up: true,
                    latency: MS,
                    loss_percent: 0,
                    blocked: BTreeSet::new(),
                })
                .collect(),
            in_flight: BinaryHeap::new(),
            sent: 0,
            rng: 0x2545_f491_4f6c_dd1d,
            timing: timing(),
            keys: keys("cluster-secret"),
            cluster: "sim",
            wiretap: Vec::new(),
        };
        for i in 0..n {
            net.nodes.push(Node {
                name: format!("node{}", i + 1),
                endpoint: None,
                generation: 0,
                events: Vec::new(),
            });
        }
        for i in 0..n {
            net.start(i);
        }
        net
    }

    fn paths_of(&self, node: usize) -> Vec<PathId> {
        self.media
            .iter()
            .flat_map(|m| m.members.iter())
            .filter(|(n, _)| *n == node)
            .map(|(_, p)| *p)
            .collect()
    }

    fn start(&mut self, i: usize) {
        self.nodes[i].generation += 1;
        let config = EndpointConfig {
            cluster: ClusterId::from_name(self.cluster),
            node_name: self.nodes[i].name.clone(),
            generation: Generation(self.nodes[i].generation),
            timing: self.timing,
            keys: self.keys.clone(),
            paths: self.paths_of(i),
            peers: self.nodes.iter().map(|n| n.name.clone()).collect(),
            autojoin: false,
        };
        self.nodes[i].endpoint = Some(Endpoint::new(config, self.now).unwrap());
        self.flush(i);
    }

    fn kill(&mut self, i: usize) {
        self.nodes[i].endpoint = None;
    }

    fn random_percent(&mut self) -> u64 {
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng % 100
    }

    /// Drains node `i`'s transmits onto the media and its events into its log.
    fn flush(&mut self, i: usize) {
        let now = self.now;
        let t0 = self.t0;
        let node = &mut self.nodes[i];
        let Some(ep) = node.endpoint.as_mut() else {
            return;
        };
        let mut out = Vec::new();
        while let Some(t) = ep.poll_transmit() {
            out.push(t);
        }
        while let Some(e) = ep.poll_event() {
            node.events.push((now - t0, e));
        }
        for t in out {
            self.wiretap.push((i, t.path, t.bytes.clone()));
            for m in 0..self.media.len() {
                if !self.media[m].members.contains(&(i, t.path)) || !self.media[m].up {
                    continue;
                }
                let targets: Vec<(usize, PathId)> = self.media[m]
                    .members
                    .iter()
                    .copied()
                    .filter(|(n, _)| *n != i)
                    .collect();
                for (to, path) in targets {
                    if self.media[m].blocked.contains(&(i, to)) {
                        continue;
                    }
                    let loss = self.media[m].loss_percent;
                    if loss > 0 && self.random_percent() < loss {
                        continue;
                    }
                    self.sent += 1;
                    let at = now + self.media[m].latency;
                    self.in_flight
                        .push(Reverse((at, self.sent, to, path.0, t.bytes.clone())));
                }
            }
        }
    }

    /// Runs until `t0 + until`, processing deliveries and timeouts in order.
    fn run_until(&mut self, until: Duration) {
        let end = self.t0 + until;
        for _ in 0..10_000_000 {
            let next_delivery = self.in_flight.peek().map(|Reverse(f)| f.0);
            let next_timeout = self
                .nodes
                .iter()
                .filter_map(|n| n.endpoint.as_ref().and_then(|e| e.poll_timeout()))
                .min();
            let next = match (next_delivery, next_timeout) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => a.or(b).unwrap_or(end),
            };
            if next > end {
                self.now = end;
                return;
            }
            self.now = self.now.max(next);
            if next_delivery == Some(next) {
                let Reverse((_, _, to, path, bytes)) = self.in_flight.pop().unwrap();
                if let Some(ep) = self.nodes[to].endpoint.as_mut() {
                    ep.handle_datagram(self.now, PathId(path), &bytes);
                }
                self.flush(to);
            } else {
                for i in 0..self.nodes.len() {
                    let due = self.nodes[i]
                        .endpoint
                        .as_ref()
                        .and_then(|e| e.poll_timeout())
                        .is_some_and(|t| t <= self.now);
                    if due {
                        let now = self.now;
                        self.nodes[i].endpoint.as_mut().unwrap().handle_timeout(now);
                        self.flush(i);
                    }
                }
            }
        }
        panic!("simulation did not reach its end time");
    }

    fn send(&mut self, i: usize, body: &[u8]) {
        let now = self.now;
        self.nodes[i]
            .endpoint
            .as_mut()
            .unwrap()
            .send(now, None, body)
            .unwrap();
        self.flush(i);
    }

    fn inject(&mut self, to: usize, path: PathId, bytes: &[u8]) {
        let now = self.now;
        self.nodes[to]
            .endpoint
            .as_mut()
            .unwrap()
            .handle_datagram(now, path, bytes);
        self.flush(to);
    }

    /// Node `i`'s liveness events (messages and rejections left out) since `from`.
    fn liveness(&self, i: usize, from: Duration) -> Vec<(Duration, String)> {
        self.nodes[i]
            .events
            .iter()
            .filter(|(t, _)| *t >= from)
            .filter_map(|(t, e)| {
                let s = match e {
                    Event::PathUp { node, path } => format!("{node} path {path} up"),
                    Event::PathDown { node, path } => format!("{node} path {path} down"),
                    Event::NodeAlive { node, generation } => {
                        format!("{node} alive gen {generation}")
                    }
                    Event::NodeLate { node, silent_for } => {
                        format!("{node} late {}ms", silent_for.as_millis())
                    }
                    Event::NodeDead { node } => format!("{node} dead"),
                    Event::NodeBack { node, generation } => format!("{node} back gen {generation}"),
                    _ => return None,
                };
                Some((*t, s))
            })
            .collect()
    }

    fn messages(&self, i: usize) -> Vec<(String, Vec<u8>)> {
        self.nodes[i]
            .events
            .iter()
            .filter_map(|(_, e)| match e {
                Event::Message { from, body } => Some((from.clone(), body.clone())),
                _ => None,
            })
            .collect()
    }

    fn rejections(&self, i: usize) -> Vec<&Rejection> {
        self.nodes[i]
            .events
            .iter()
            .filter_map(|(_, e)| match e {
                Event::Rejected { reason, .. } => Some(reason),
                _ => None,
            })
            .collect()
    }
}

fn ev(t: u64, s: &str) -> (Duration, String) {
    (ms(t), s.to_owned())
}

#[test]
fn three_nodes_two_media_start_up_in_one_latency() {
    let mut net = Net::new(3, &[&[0, 1, 2], &[0, 1, 2]]);
    net.run_until(ms(2000));
    for i in 0..3 {
        let events = net.liveness(i, ms(0));
        let peers: Vec<String> = (0..3)
            .filter(|&j| j != i)
            .map(|j| net.nodes[j].name.clone())
            .collect();
        let mut expected = Vec::new();
        for p in 0..2 {
            for peer in &peers {
                expected.push(ev(1, &format!("{peer} path {p} up")));
                if p == 0 {
                    expected.push(ev(1, &format!("{peer} alive gen 1")));
                }
            }
        }
        let mut got = events.clone();
        got.sort();
        expected.sort();
        assert_eq!(got, expected, "node{}", i + 1);
    }
}

#[test]
fn pulled_cable_takes_only_its_path_down() {
    let mut net = Net::new(3, &[&[0, 1, 2], &[0, 1, 2]]);
    net.run_until(ms(2050));
    net.media[0].up = false;
    net.run_until(ms(4000));
    // Last heartbeat on medium 0 left at 2000 ms and arrived at 2001 ms.
    // (Within one instant, peers are visited in node-id order: sort.)
    let mut down = net.liveness(0, ms(2050));
    down.sort();
    assert_eq!(
        down,
        vec![ev(2501, "node2 path 0 down"), ev(2501, "node3 path 0 down")]
    );
    net.media[0].up = true;
    net.run_until(ms(5000));
    // The 4000 ms heartbeats left before the cable went back in; the next
    // ones (4100 ms) reach the peers 1 ms later.
    let mut up = net.liveness(0, ms(4000));
    up.sort();
    assert_eq!(
        up,
        vec![ev(4101, "node2 path 0 up"), ev(4101, "node3 path 0 up")]
    );
}

#[test]
fn killed_node_is_late_then_dead_within_deadtime_plus_keepalive() {
    let mut net = Net::new(3, &[&[0, 1, 2], &[0, 1, 2]]);
    net.run_until(ms(3050));
    net.kill(2);
    net.run_until(ms(5000));
    // Last frames from node3 left at 3000 and arrived at 3001.
    let expected = vec![
        ev(3301, "node3 late 300ms"),
        ev(3501, "node3 path 0 down"),
        ev(3501, "node3 path 1 down"),
        ev(3501, "node3 dead"),
    ];
    assert_eq!(net.liveness(0, ms(3050)), expected);
    assert_eq!(net.liveness(1, ms(3050)), expected);
    let detection = ms(3501) - ms(3050);
    assert!(detection <= timing().deadtime + timing().keepalive);
}

#[test]
fn restarted_node_comes_back_with_a_new_generation() {
    let mut net = Net::new(2, &[&[0, 1]]);
    net.run_until(ms(1010));
    net.kill(1);
    net.run_until(ms(2000));
    net.start(1);
    net.run_until(ms(2500));
    assert_eq!(
        net.liveness(0, ms(1010)),
        vec![
            ev(1301, "node2 late 300ms"),
            ev(1501, "node2 path 0 down"),
            ev(1501, "node2 dead"),
            ev(2001, "node2 path 0 up"),
            ev(2001, "node2 back gen 2"),
        ]
    );
    // A restart faster than deadtime is still seen as "back".
    net.kill(1);
    net.start(1);
    net.run_until(ms(3000));
    assert_eq!(
        net.liveness(0, ms(2500)),
        vec![ev(2501, "node2 back gen 3")]
    );
}

#[test]
fn one_way_link_is_judged_from_each_side() {
    let mut net = Net::new(2, &[&[0, 1]]);
    net.run_until(ms(1050));
    net.media[0].blocked.insert((1, 0)); // node2 -> node1 lost
    net.run_until(ms(2000));
    assert_eq!(
        net.liveness(0, ms(1050)),
        vec![
            ev(1301, "node2 late 300ms"),
            ev(1501, "node2 path 0 down"),
            ev(1501, "node2 dead"),
        ]
    );
    assert_eq!(net.liveness(1, ms(1050)), vec![]);
}

#[test]
fn partition_and_heal_keeps_generations() {
    // node1 | node2 node3 on both media.
    let mut net = Net::new(3, &[&[0, 1, 2], &[0, 1, 2]]);
    net.run_until(ms(1050));
    for m in 0..2 {
        for other in [1, 2] {
            net.media[m].blocked.insert((0, other));
            net.media[m].blocked.insert((other, 0));
        }
    }
    net.run_until(ms(3050));
    for i in [1, 2] {
        let seen = net.liveness(i, ms(1050));
        assert!(seen.contains(&ev(1501, "node1 dead")), "{seen:?}");
        assert!(!seen
            .iter()
            .any(|(_, s)| s.contains("node2 dead") || s.contains("node3 dead")));
    }
    assert!(net.liveness(0, ms(1050)).contains(&ev(1501, "node2 dead")));
    for m in 0..2 {
        net.media[m].blocked.clear();
    }
    net.run_until(ms(4000));
    // Healed: the same incarnations come back as alive, not restarted.
    let healed = net.liveness(0, ms(3050));
    assert!(
        healed.contains(&ev(3101, "node2 alive gen 1")),
        "{healed:?}"
    );
    assert!(
        healed.contains(&ev(3101, "node3 alive gen 1")),
        "{healed:?}"
    );
    assert!(!healed.iter().any(|(_, s)| s.contains("back")));
}

#[test]
fn never_heard_peer_is_dead_at_initdead() {
    let mut net = Net::new(2, &[&[0, 1]]);
    net.kill(1);
    net.nodes[0].events.clear();
    // Restart node1 alone at t = 0 so the initdead clock starts there.
    net.nodes[0].generation = 0;
    net.start(0);
    net.run_until(ms(1500));
    assert_eq!(net.liveness(0, ms(0)), vec![ev(1000, "node2 dead")]);
}

#[test]
fn reliable_channel_delivers_in_order_through_loss() {
    let mut net = Net::new(3, &[&[0, 1, 2], &[0, 1, 2]]);
    net.run_until(ms(1000));
    for m in 0..2 {
        net.media[m].loss_percent = 30;
    }
    for k in 0..200u32 {
        net.send(0, &k.to_be_bytes());
        let t = 1000 + 5 * u64::from(k) + 5;
        net.run_until(ms(t));
    }
    net.run_until(ms(6000));
    let expected: Vec<(String, Vec<u8>)> = (0..200u32)
        .map(|k| ("node1".to_owned(), k.to_be_bytes().to_vec()))
        .collect();
    assert_eq!(net.messages(1), expected);
    assert_eq!(net.messages(2), expected);
    // 30 % loss over two media never killed anyone.
    for i in 0..3 {
        assert!(!net
            .liveness(i, ms(1000))
            .iter()
            .any(|(_, s)| s.ends_with("dead")));
    }
    let c = net.nodes[1].endpoint.as_ref().unwrap().counters();
    assert!(
        c.retransmit_requests > 0,
        "loss must have forced retransmits"
    );
}

#[test]
fn lost_last_message_is_recovered_from_the_heartbeat_high_water_mark() {
    let mut net = Net::new(2, &[&[0, 1]]);
    net.run_until(ms(1050));
    net.media[0].up = false;
    net.send(0, b"only");
    net.media[0].up = true;
    net.run_until(ms(1300));
    assert_eq!(
        net.messages(1),
        vec![("node1".to_owned(), b"only".to_vec())]
    );
}

#[test]
fn forged_replayed_and_foreign_frames_are_rejected_and_counted() {
    let mut net = Net::new(2, &[&[0, 1]]);
    // At 550 ms the heartbeat sent at 500 ms has been delivered (501 ms).
    net.run_until(ms(550));
    let (_, path, captured) = net
        .wiretap
        .iter()
        .rev()
        .find(|(from, _, _)| *from == 0)
        .cloned()
        .unwrap();
    // Replay of a frame node2 already accepted.
    net.inject(1, path, &captured);
    // Forged: one byte of the payload changed.
    let mut forged = captured.clone();
    let at = forged.len() - 40;
    forged[at] ^= 0x01;
    net.inject(1, path, &forged);
    // A frame of another cluster, validly signed with the same key.
    let mut other = Net::new(1, &[&[0]]);
    other.cluster = "other";
    other.nodes[0].generation = 0;
    other.start(0);
    other.run_until(ms(1));
    let foreign = other.wiretap.last().unwrap().2.clone();
    net.inject(1, path, &foreign);
    // Garbage and a truncated frame.
    net.inject(1, path, b"\x00\x01garbage");
    net.inject(1, path, &captured[..captured.len() - 1]);

    let kinds: Vec<&str> = net.rejections(1).iter().map(|r| r.kind()).collect();
    assert_eq!(
        kinds,
        [
            "replayed",
            "forged",
            "foreign_cluster",
            "malformed",
            "malformed"
        ]
    );
    let c = net.nodes[1].endpoint.as_ref().unwrap().counters().clone();
    assert_eq!(
        (c.replayed, c.forged, c.foreign_cluster, c.malformed),
        (1, 1, 1, 2)
    );
    // None of them disturbed liveness.
    net.run_until(ms(1500));
    assert!(!net
        .liveness(1, ms(500))
        .iter()
        .any(|(_, s)| s.contains("dead")));
}

#[test]
fn frames_of_an_old_generation_are_rejected_after_a_restart() {
    let mut net = Net::new(2, &[&[0, 1]]);
    net.run_until(ms(300));
    let old = net
        .wiretap
        .iter()
        .rev()
        .find(|(f, _, _)| *f == 0)
        .cloned()
        .unwrap();
    net.kill(0);
    net.start(0);
    net.run_until(ms(600));
    net.inject(1, old.1, &old.2);
    assert_eq!(
        net.rejections(1)
            .iter()
            .map(|r| r.kind())
            .collect::<Vec<_>>(),
        ["stale_generation"]
    );
}

#[test]
fn wrong_key_node_cannot_join() {
    let mut net = Net::new(2, &[&[0, 1]]);
    net.keys = keys("another-secret");
    net.kill(1);
    net.start(1);
    net.run_until(ms(1500));
    assert!(net.liveness(0, ms(0)).contains(&ev(1000, "node2 dead")));
    assert!(net.nodes[0].endpoint.as_ref().unwrap().counters().forged > 0);
}
