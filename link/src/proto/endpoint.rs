//! The link endpoint: one node's view of its peers over every path.
//!
//! An [`Endpoint`] sends a heartbeat on every path each `keepalive`, checks
//! every frame it receives (cluster, authentication, generation, replay
//! window), and judges liveness exactly as heartbeat's ha.cf defines it:
//!
//! * per path and peer: **up** when a valid frame arrives on it, **down** after
//!   `deadtime` of silence on that path;
//! * per peer: **alive** while any path hears it; **late** after `warntime` of
//!   silence on all paths; **dead** after `deadtime`; peers never heard are dead
//!   `initdead` after start; **back** when a frame shows a new generation (the
//!   peer restarted).
//!
//! On top runs a reliable, ordered broadcast channel ([`Endpoint::send`]):
//! per-sender sequence numbers, delivery in order, retransmit requests for
//! gaps (noticed from later messages or from the sequence high-water mark that
//! every heartbeat carries), cumulative acks to free the sender's history, and
//! every message sent over every live path.
//!
//! # Driving it
//!
//! The endpoint does no I/O and reads no clock. After *every* call to
//! [`handle_datagram`](Endpoint::handle_datagram),
//! [`handle_timeout`](Endpoint::handle_timeout) or [`send`](Endpoint::send),
//! a driver drains [`poll_transmit`](Endpoint::poll_transmit) (send each frame
//! to everyone on its path), then [`poll_event`](Endpoint::poll_event), then
//! waits for the next input or until [`poll_timeout`](Endpoint::poll_timeout),
//! when it calls `handle_timeout`.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

use crate::auth::{AuthFailure, KeyRing, ReplayVerdict, ReplayWindow};
use crate::wire::frame::{self, payload, MessageType, Packet, Repr};
use crate::{ClusterId, Error, Generation, NodeId, PathId, Timing};

/// What an endpoint needs to know.
#[derive(Debug, Clone)]
pub struct EndpointConfig {
    /// The cluster this node belongs to.
    pub cluster: ClusterId,
    /// This node's name (`uname -n`).
    pub node_name: String,
    /// This node's incarnation, persisted and bumped at each start.
    pub generation: Generation,
    /// Liveness timers.
    pub timing: Timing,
    /// Keys to sign and verify frames.
    pub keys: KeyRing,
    /// The local paths; the driver maps each to a socket or tty.
    pub paths: Vec<PathId>,
    /// The peers we expect (ha.cf `node` lines; our own name is ignored).
    pub peers: Vec<String>,
    /// Accept authenticated nodes that are not in `peers` (ha.cf `autojoin`).
    pub autojoin: bool,
}

/// A frame to send to everyone on one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// The local path to send on.
    pub path: PathId,
    /// The complete, signed frame.
    pub bytes: Vec<u8>,
}

/// Something an operator or the cluster manager needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A peer is heard on a path that was down (or never up).
    PathUp {
        /// The peer.
        node: String,
        /// The local path.
        path: PathId,
    },
    /// A path heard nothing from a peer for `deadtime`.
    PathDown {
        /// The peer.
        node: String,
        /// The local path.
        path: PathId,
    },
    /// A peer is heard for the first time, or again after being late or dead
    /// (same generation: it did not restart).
    NodeAlive {
        /// The peer.
        node: String,
        /// Its generation.
        generation: Generation,
    },
    /// A peer has been silent on every path for `warntime`.
    NodeLate {
        /// The peer.
        node: String,
        /// Time since it was last heard.
        silent_for: Duration,
    },
    /// A peer has been silent on every path for `deadtime` (or was never
    /// heard within `initdead` of our start).
    NodeDead {
        /// The peer.
        node: String,
    },
    /// A peer is heard with a new generation: it restarted.
    NodeBack {
        /// The peer.
        node: String,
        /// Its new generation.
        generation: Generation,
    },
    /// A frame was dropped.
    Rejected {
        /// The local path it came in on.
        path: PathId,
        /// Why.
        reason: Rejection,
    },
    /// A reliable-channel message, delivered in order.
    Message {
        /// The sender.
        from: String,
        /// The message.
        body: Vec<u8>,
    },
    /// Messages of a sender that can no longer be recovered (its history
    /// no longer holds them, for instance after a long partition).
    MessagesLost {
        /// The sender.
        from: String,
        /// First lost sequence.
        first: u64,
        /// Last lost sequence.
        last: u64,
    },
}

/// Why a frame was dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// Not a well-formed frame (truncated, garbage, bad fields).
    Malformed(String),
    /// A frame of another cluster (different cluster id).
    ForeignCluster(ClusterId),
    /// An authenticated frame from a node not in the configuration.
    UnknownNode(String),
    /// The tag did not verify: a forged or altered frame, or a key mismatch.
    BadAuth(AuthFailure),
    /// A sequence number already seen (or older than the replay window).
    Replayed {
        /// The claimed sender.
        node: String,
        /// The sequence number.
        sequence: u64,
    },
    /// A frame of an older incarnation of a node than the one we know.
    StaleGeneration {
        /// The claimed sender.
        node: String,
        /// The frame's generation.
        generation: Generation,
    },
}

impl Rejection {
    /// A short stable name (`forged`, `replayed`, …) for logs and JSON.
    pub fn kind(&self) -> &'static str {
        match self {
            Rejection::Malformed(_) => "malformed",
            Rejection::ForeignCluster(_) => "foreign_cluster",
            Rejection::UnknownNode(_) => "unknown_node",
            Rejection::BadAuth(_) => "forged",
            Rejection::Replayed { .. } => "replayed",
            Rejection::StaleGeneration { .. } => "stale_generation",
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::Malformed(why) => write!(f, "malformed frame: {why}"),
            Rejection::ForeignCluster(id) => write!(
                f,
                "frame of another cluster ({id}); check the cluster name and udpport"
            ),
            Rejection::UnknownNode(name) => write!(
                f,
                "authenticated frame from {name:?}, which is not a configured node; \
                 add `node {name}` or set autojoin"
            ),
            Rejection::BadAuth(why) => write!(f, "forged or altered frame: {why}"),
            Rejection::Replayed { node, sequence } => {
                write!(f, "replayed frame claiming {node} sequence {sequence}")
            }
            Rejection::StaleGeneration { node, generation } => write!(
                f,
                "frame of an old incarnation of {node} (generation {generation})"
            ),
        }
    }
}

/// What happened to frames, for `status` and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    /// Frames handed to the driver.
    pub sent: u64,
    /// Frames accepted.
    pub received: u64,
    /// Frames that did not parse.
    pub malformed: u64,
    /// Frames of another cluster.
    pub foreign_cluster: u64,
    /// Frames whose tag did not verify.
    pub forged: u64,
    /// Frames already seen.
    pub replayed: u64,
    /// Frames of an older incarnation.
    pub stale_generation: u64,
    /// Authenticated frames from unconfigured nodes.
    pub unknown_node: u64,
    /// Our own frames looped back (broadcast, multicast loop).
    pub own_frames: u64,
    /// Channel messages delivered.
    pub delivered: u64,
    /// Retransmit requests we sent.
    pub retransmit_requests: u64,
    /// Channel messages we sent again.
    pub retransmissions: u64,
    /// Rejection events not emitted because of the rate limit (still counted).
    pub suppressed_events: u64,
}

/// A peer's liveness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    /// Not yet heard; `initdead` has not expired.
    Waiting,
    /// Heard within `warntime`.
    Alive,
    /// Silent for more than `warntime`.
    Late,
    /// Silent for more than `deadtime` (or never heard within `initdead`).
    Dead,
}

/// A snapshot of one peer, for status displays.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerStatus {
    /// The peer's name.
    pub name: String,
    /// Its liveness.
    pub liveness: Liveness,
    /// Its generation, once heard.
    pub generation: Option<Generation>,
    /// When it was last heard on any path.
    pub last_heard: Option<Instant>,
    /// Per local path: up, and when it was last heard there.
    pub paths: Vec<(PathId, bool, Instant)>,
}

/// One node's link layer: see the module documentation.
#[derive(Debug)]
pub struct Endpoint {
    cluster: ClusterId,
    node_name: String,
    node_id: NodeId,
    generation: Generation,
    timing: Timing,
    keys: KeyRing,
    paths: Vec<PathId>,
    autojoin: bool,
    started: Instant,
    next_heartbeat: Instant,
    sequence: u64,
    peers: BTreeMap<NodeId, Peer>,
    outbound: Outbound,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    counters: Counters,
    rejection_budget: (Instant, u32),
}

#[derive(Debug)]
struct Peer {
    name: String,
    generation: Option<Generation>,
    replay: ReplayWindow,
    liveness: Liveness,
    last_heard: Option<Instant>,
    paths: BTreeMap<PathId, PathState>,
    inbound: Inbound,
    /// Highest of our channel messages this peer acknowledged.
    acked_ours: u64,
}

#[derive(Debug, Clone, Copy)]
struct PathState {
    last_heard: Instant,
    up: bool,
}

/// Our side of the channel: what we sent, kept until every live peer has it.
#[derive(Debug, Default)]
struct Outbound {
    last_seq: u64,
    history: VecDeque<(u64, Option<NodeId>, Vec<u8>)>,
}

/// A peer's channel as we receive it.
#[derive(Debug, Default)]
struct Inbound {
    /// False until the first frame of this incarnation set `delivered`.
    synced: bool,
    delivered: u64,
    highest_known: u64,
    pending: BTreeMap<u64, (Option<NodeId>, Vec<u8>)>,
    next_request: Option<Instant>,
    ack_due: Option<Instant>,
}

/// How many channel messages we keep for retransmission.
const HISTORY_LIMIT: usize = 1024;
/// How many out-of-order messages we buffer per sender.
const PENDING_LIMIT: usize = 1024;
/// Largest range one retransmit request asks for (and one answer sends).
const RETRANSMIT_BATCH: u64 = 64;
/// Rejection events per second before they are only counted.
const REJECTION_EVENTS_PER_SECOND: u32 = 20;

impl Endpoint {
    /// A new endpoint, started at `now`.
    pub fn new(config: EndpointConfig, now: Instant) -> Result<Self, Error> {
        config.timing.validate()?;
        if config.node_name.is_empty() || config.node_name.len() > frame::MAX_NAME_LEN {
            return Err(Error::config(format!(
                "node name {:?} must be 1 to {} bytes",
                config.node_name,
                frame::MAX_NAME_LEN
            )));
        }
        if config.paths.is_empty() {
            return Err(Error::config(
                "no heartbeat path configured; add at least one medium \
                 (ucast, bcast, mcast, ether or serial)",
            ));
        }
        let node_id = NodeId::from_name(&config.node_name);
        let mut peers = BTreeMap::new();
        for name in config.peers.iter().filter(|n| **n != config.node_name) {
            if name.is_empty() || name.len() > frame::MAX_NAME_LEN {
                return Err(Error::config(format!(
                    "node name {name:?} must be 1 to {} bytes",
                    frame::MAX_NAME_LEN
                )));
            }
            let id = NodeId::from_name(name);
            if id == node_id {
                return Err(Error::config(format!(
                    "node names {name:?} and {:?} collide on the wire; rename one",
                    config.node_name
                )));
            }
            if let Some(existing) = peers.insert(id, Peer::new(name.clone())) {
                if existing.name != *name {
                    return Err(Error::config(format!(
                        "node names {name:?} and {:?} collide on the wire; rename one",
                        existing.name
                    )));
                }
            }
        }
        Ok(Endpoint {
            cluster: config.cluster,
            node_name: config.node_name,
            node_id,
            generation: config.generation,
            timing: config.timing,
            keys: config.keys,
            paths: config.paths,
            autojoin: config.autojoin,
            started: now,
            next_heartbeat: now,
            sequence: 0,
            peers,
            outbound: Outbound::default(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            counters: Counters::default(),
            rejection_budget: (now, 0),
        })
    }

    /// This node's name.
    pub fn node_name(&self) -> &str {
        &self.node_name
    }

    /// This node's generation.
    pub fn generation(&self) -> Generation {
        self.generation
    }

    /// The liveness timers in force.
    pub fn timing(&self) -> Timing {
        self.timing
    }

    /// Frame counters.
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// A snapshot of every known peer, in node-id order.
    pub fn peers(&self) -> Vec<PeerStatus> {
        self.peers
            .values()
            .map(|p| PeerStatus {
                name: p.name.clone(),
                liveness: p.liveness,
                generation: p.generation,
                last_heard: p.last_heard,
                paths: p
                    .paths
                    .iter()
                    .map(|(id, s)| (*id, s.up, s.last_heard))
                    .collect(),
            })
            .collect()
    }

    /// The next frame to send, if any.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let mut next = self.next_heartbeat;
        let mut consider = |t: Instant| {
            if t < next {
                next = t;
            }
        };
        for peer in self.peers.values() {
            for state in peer.paths.values().filter(|s| s.up) {
                consider(state.last_heard + self.timing.deadtime);
            }
            match (peer.liveness, peer.last_heard) {
                (Liveness::Waiting, _) => consider(self.started + self.timing.initdead),
                (Liveness::Alive, Some(last)) => consider(last + self.timing.warntime),
                (Liveness::Late, Some(last)) => consider(last + self.timing.deadtime),
                _ => {}
            }
            if let Some(t) = peer.inbound.next_request {
                consider(t);
            }
            if let Some(t) = peer.inbound.ack_due {
                consider(t);
            }
        }
        Some(next)
    }

    /// Sends `body` reliably, in order, to `dest` (or every node if `None`).
    /// Returns the message's channel sequence number.
    pub fn send(&mut self, _now: Instant, dest: Option<&str>, body: &[u8]) -> Result<u64, Error> {
        if body.len() + payload::Data::LEN > frame::MAX_PAYLOAD_LEN {
            return Err(Error::invalid_message(format!(
                "message of {} bytes exceeds the channel limit of {}",
                body.len(),
                frame::MAX_PAYLOAD_LEN - payload::Data::LEN
            )));
        }
        let dest = match dest {
            None => None,
            Some(name) => {
                let id = NodeId::from_name(name);
                if !self.peers.contains_key(&id) {
                    return Err(Error::config(format!("no node named {name:?}")));
                }
                Some(id)
            }
        };
        self.outbound.last_seq += 1;
        let seq = self.outbound.last_seq;
        self.outbound.history.push_back((seq, dest, body.to_vec()));
        while self.outbound.history.len() > HISTORY_LIMIT {
            self.outbound.history.pop_front();
        }
        let data = payload::Data {
            channel_seq: seq,
            dest,
        }
        .to_bytes(body);
        self.broadcast_on_live_paths(MessageType::Data, &data);
        Ok(seq)
    }

    /// Advances timers: sends due heartbeats, declares silent paths down and
    /// silent peers late or dead, asks for missing messages, sends acks.
    pub fn handle_timeout(&mut self, now: Instant) {
        if now >= self.next_heartbeat {
            let hb = payload::Heartbeat {
                channel_high: self.outbound.last_seq,
            }
            .to_bytes();
            for path in self.paths.clone() {
                self.queue_frame(path, MessageType::Heartbeat, &hb);
            }
            self.next_heartbeat += self.timing.keepalive;
            if self.next_heartbeat <= now {
                self.next_heartbeat = now + self.timing.keepalive;
            }
        }
        let timing = self.timing;
        let retransmit_interval = self.retransmit_interval();
        let ids: Vec<NodeId> = self.peers.keys().copied().collect();
        for id in ids {
            let Some(peer) = self.peers.get_mut(&id) else {
                continue;
            };
            for (path, state) in peer.paths.iter_mut() {
                if state.up && now >= state.last_heard + timing.deadtime {
                    state.up = false;
                    self.events.push_back(Event::PathDown {
                        node: peer.name.clone(),
                        path: *path,
                    });
                }
            }
            match (peer.liveness, peer.last_heard) {
                (Liveness::Waiting, _) if now >= self.started + timing.initdead => {
                    peer.liveness = Liveness::Dead;
                    self.events.push_back(Event::NodeDead {
                        node: peer.name.clone(),
                    });
                }
                (Liveness::Alive | Liveness::Late, Some(last)) if now >= last + timing.deadtime => {
                    peer.liveness = Liveness::Dead;
                    self.events.push_back(Event::NodeDead {
                        node: peer.name.clone(),
                    });
                }
                (Liveness::Alive, Some(last)) if now >= last + timing.warntime => {
                    peer.liveness = Liveness::Late;
                    self.events.push_back(Event::NodeLate {
                        node: peer.name.clone(),
                        silent_for: now - last,
                    });
                }
                _ => {}
            }
            let mut request = None;
            if peer.inbound.next_request.is_some_and(|t| now >= t) {
                peer.inbound.next_request = None;
                if let Some((first, last)) = peer.inbound.missing() {
                    request = Some(payload::RetransmitRequest {
                        origin: id,
                        first,
                        last: last.min(first + RETRANSMIT_BATCH - 1),
                    });
                    peer.inbound.next_request = Some(now + retransmit_interval);
                }
            }
            let mut ack = None;
            if peer.inbound.ack_due.is_some_and(|t| now >= t) {
                peer.inbound.ack_due = None;
                ack = Some(payload::Ack {
                    origin: id,
                    cumulative: peer.inbound.delivered,
                });
            }
            if let Some(request) = request {
                self.counters.retransmit_requests += 1;
                self.broadcast_on_live_paths(MessageType::RetransmitRequest, &request.to_bytes());
            }
            if let Some(ack) = ack {
                self.broadcast_on_live_paths(MessageType::Ack, &ack.to_bytes());
            }
        }
    }

    /// Handles bytes that arrived on `path`.
    pub fn handle_datagram(&mut self, now: Instant, path: PathId, bytes: &[u8]) {
        let packet = match Packet::new_checked(bytes) {
            Ok(p) => p,
            Err(e) => return self.reject(now, path, Rejection::Malformed(e.to_string())),
        };
        let repr = match Repr::parse(&packet) {
            Ok(r) => r,
            Err(e) => return self.reject(now, path, Rejection::Malformed(e.to_string())),
        };
        if repr.cluster_id != self.cluster {
            return self.reject(now, path, Rejection::ForeignCluster(repr.cluster_id));
        }
        if let Err(failure) = self.keys.verify(&packet) {
            return self.reject(now, path, Rejection::BadAuth(failure));
        }
        if repr.node_id == self.node_id {
            self.counters.own_frames += 1;
            return;
        }
        if repr.node_id != NodeId::from_name(repr.node_name) {
            let why = format!("node id does not match name {:?}", repr.node_name);
            return self.reject(now, path, Rejection::Malformed(why));
        }
        if !self.peers.contains_key(&repr.node_id) {
            if !self.autojoin {
                let name = repr.node_name.to_owned();
                return self.reject(now, path, Rejection::UnknownNode(name));
            }
            self.peers
                .insert(repr.node_id, Peer::new(repr.node_name.to_owned()));
        }
        let Some(peer) = self.peers.get_mut(&repr.node_id) else {
            return;
        };
        // Generation: older is a replay of a past incarnation; newer is a restart.
        let mut restarted = false;
        match peer.generation {
            Some(known) if repr.generation < known => {
                let rejection = Rejection::StaleGeneration {
                    node: peer.name.clone(),
                    generation: repr.generation,
                };
                return self.reject(now, path, rejection);
            }
            Some(known) if repr.generation > known => restarted = true,
            _ => {}
        }
        if restarted {
            peer.replay = ReplayWindow::new();
            peer.inbound = Inbound::default();
            peer.acked_ours = 0;
        }
        if peer.replay.check(repr.sequence) != ReplayVerdict::Fresh {
            let rejection = Rejection::Replayed {
                node: peer.name.clone(),
                sequence: repr.sequence,
            };
            return self.reject(now, path, rejection);
        }
        peer.replay.commit(repr.sequence);
        let first_heard = peer.generation.is_none();
        peer.generation = Some(repr.generation);
        self.counters.received += 1;

        // Liveness.
        let state = peer.paths.entry(path).or_insert(PathState {
            last_heard: now,
            up: false,
        });
        state.last_heard = now;
        if !state.up {
            state.up = true;
            self.events.push_back(Event::PathUp {
                node: peer.name.clone(),
                path,
            });
        }
        peer.last_heard = Some(now);
        let node = peer.name.clone();
        let generation = repr.generation;
        if restarted {
            peer.liveness = Liveness::Alive;
            self.events.push_back(Event::NodeBack { node, generation });
        } else if first_heard || peer.liveness != Liveness::Alive {
            peer.liveness = Liveness::Alive;
            self.events.push_back(Event::NodeAlive { node, generation });
        }

        let sender = repr.node_id;
        match repr.msg_type {
            MessageType::Heartbeat => {
                if let Ok(hb) = payload::Heartbeat::parse(repr.payload) {
                    self.on_channel_high(now, sender, hb.channel_high, None);
                }
            }
            MessageType::Data => {
                if let Ok((data, body)) = payload::Data::parse(repr.payload) {
                    let item = (data.dest, body.to_vec());
                    self.on_channel_high(now, sender, data.channel_seq, Some(item));
                }
            }
            MessageType::RetransmitRequest => {
                if let Ok(request) = payload::RetransmitRequest::parse(repr.payload) {
                    if request.origin == self.node_id {
                        self.retransmit(request.first, request.last);
                    }
                }
            }
            MessageType::Ack => {
                if let Ok(ack) = payload::Ack::parse(repr.payload) {
                    self.on_ack(sender, ack);
                }
            }
            MessageType::Unknown(_) => {}
        }
    }

    /// Records that `sender`'s channel reached `seq` (from a heartbeat's
    /// high-water mark, or a data message carrying `item`), delivers what is
    /// now in order, and schedules requests for what is missing.
    fn on_channel_high(
        &mut self,
        now: Instant,
        sender: NodeId,
        seq: u64,
        item: Option<(Option<NodeId>, Vec<u8>)>,
    ) {
        let interval = self.retransmit_interval();
        let own_id = self.node_id;
        let Some(peer) = self.peers.get_mut(&sender) else {
            return;
        };
        let inbound = &mut peer.inbound;
        if !inbound.synced {
            // A new incarnation (ours or theirs): start at the sender's current
            // position; what it sent before it knew us is not for us.
            inbound.synced = true;
            inbound.delivered = if item.is_some() {
                seq.saturating_sub(1)
            } else {
                seq
            };
            inbound.highest_known = inbound.delivered;
        }
        if seq > inbound.highest_known {
            inbound.highest_known = seq;
        }
        if let Some(item) = item {
            if seq > inbound.delivered && inbound.pending.len() < PENDING_LIMIT {
                inbound.pending.entry(seq).or_insert(item);
            }
        }
        let mut delivered_any = false;
        while let Some(entry) = inbound.pending.first_entry() {
            if *entry.key() != inbound.delivered + 1 {
                if *entry.key() <= inbound.delivered {
                    entry.remove();
                    continue;
                }
                break;
            }
            let (seq, (dest, body)) = entry.remove_entry();
            inbound.delivered = seq;
            delivered_any = true;
            if dest.is_none() || dest == Some(own_id) {
                self.counters.delivered += 1;
                self.events.push_back(Event::Message {
                    from: peer.name.clone(),
                    body,
                });
            }
        }
        if delivered_any && inbound.ack_due.is_none() {
            inbound.ack_due = Some(now);
        }
        if inbound.missing().is_some() {
            // Wait a little before asking: the copy on another path may be in flight.
            if inbound.next_request.is_none() {
                inbound.next_request = Some(now + interval / 4);
            }
        } else {
            inbound.next_request = None;
        }
    }

    fn on_ack(&mut self, sender: NodeId, ack: payload::Ack) {
        if ack.origin == self.node_id {
            if let Some(peer) = self.peers.get_mut(&sender) {
                peer.acked_ours = peer.acked_ours.max(ack.cumulative);
            }
            self.prune_history();
        } else if ack.origin == sender {
            // The sender tells us its history no longer reaches back to what we
            // miss: skip ahead and say what was lost.
            let own_id = self.node_id;
            let Some(peer) = self.peers.get_mut(&sender) else {
                return;
            };
            let inbound = &mut peer.inbound;
            if inbound.synced && ack.cumulative > inbound.delivered {
                self.events.push_back(Event::MessagesLost {
                    from: peer.name.clone(),
                    first: inbound.delivered + 1,
                    last: ack.cumulative,
                });
                inbound.delivered = ack.cumulative;
                inbound.highest_known = inbound.highest_known.max(ack.cumulative);
                inbound.pending = inbound.pending.split_off(&(ack.cumulative + 1));
                while let Some(entry) = inbound.pending.first_entry() {
                    if *entry.key() != inbound.delivered + 1 {
                        break;
                    }
                    let (seq, (dest, body)) = entry.remove_entry();
                    inbound.delivered = seq;
                    if dest.is_none() || dest == Some(own_id) {
                        self.counters.delivered += 1;
                        self.events.push_back(Event::Message {
                            from: peer.name.clone(),
                            body,
                        });
                    }
                }
                if inbound.missing().is_none() {
                    inbound.next_request = None;
                }
            }
        }
    }

    /// Sends our messages `first..=last` again, or tells the asker they are gone.
    fn retransmit(&mut self, first: u64, last: u64) {
        let floor = self
            .outbound
            .history
            .front()
            .map_or(self.outbound.last_seq + 1, |(seq, _, _)| *seq);
        if first < floor {
            let notice = payload::Ack {
                origin: self.node_id,
                cumulative: floor - 1,
            };
            self.broadcast_on_live_paths(MessageType::Ack, &notice.to_bytes());
        }
        let last = last.min(first.saturating_add(RETRANSMIT_BATCH - 1));
        let frames: Vec<Vec<u8>> = self
            .outbound
            .history
            .iter()
            .filter(|(seq, _, _)| (first..=last).contains(seq))
            .map(|(seq, dest, body)| {
                payload::Data {
                    channel_seq: *seq,
                    dest: *dest,
                }
                .to_bytes(body)
            })
            .collect();
        for data in frames {
            self.counters.retransmissions += 1;
            self.broadcast_on_live_paths(MessageType::Data, &data);
        }
    }

    /// Drops history every live peer has acknowledged.
    fn prune_history(&mut self) {
        let floor = self
            .peers
            .values()
            .filter(|p| matches!(p.liveness, Liveness::Alive | Liveness::Late))
            .map(|p| p.acked_ours)
            .min()
            .unwrap_or(0);
        while self
            .outbound
            .history
            .front()
            .is_some_and(|(seq, _, _)| *seq <= floor)
        {
            self.outbound.history.pop_front();
        }
    }

    fn retransmit_interval(&self) -> Duration {
        self.timing
            .keepalive
            .clamp(Duration::from_millis(10), Duration::from_millis(250))
    }

    /// Queues a frame on every path some peer is heard on, or on all paths
    /// when none is.
    fn broadcast_on_live_paths(&mut self, msg_type: MessageType, payload: &[u8]) {
        let live: Vec<PathId> = self
            .paths
            .iter()
            .copied()
            .filter(|path| {
                self.peers
                    .values()
                    .any(|p| p.paths.get(path).is_some_and(|s| s.up))
            })
            .collect();
        let targets = if live.is_empty() {
            self.paths.clone()
        } else {
            live
        };
        for path in targets {
            self.queue_frame(path, msg_type, payload);
        }
    }

    fn queue_frame(&mut self, path: PathId, msg_type: MessageType, payload: &[u8]) {
        self.sequence += 1;
        let key = self.keys.active();
        let repr = Repr {
            cluster_id: self.cluster,
            node_id: self.node_id,
            node_name: &self.node_name,
            generation: self.generation,
            sequence: self.sequence,
            path_id: path,
            msg_type,
            key_index: key.index(),
            // A tag is at most 32 bytes (SHA-256), so it fits a u8.
            auth_len: key.algorithm().tag_len() as u8,
            payload,
        };
        let mut bytes = repr.to_vec();
        self.keys.sign(&mut Packet::new_unchecked(&mut bytes[..]));
        self.counters.sent += 1;
        self.transmits.push_back(Transmit { path, bytes });
    }

    fn reject(&mut self, now: Instant, path: PathId, reason: Rejection) {
        match reason {
            Rejection::Malformed(_) => self.counters.malformed += 1,
            Rejection::ForeignCluster(_) => self.counters.foreign_cluster += 1,
            Rejection::UnknownNode(_) => self.counters.unknown_node += 1,
            Rejection::BadAuth(_) => self.counters.forged += 1,
            Rejection::Replayed { .. } => self.counters.replayed += 1,
            Rejection::StaleGeneration { .. } => self.counters.stale_generation += 1,
        }
        let (window, count) = &mut self.rejection_budget;
        if now.duration_since(*window) >= Duration::from_secs(1) {
            *window = now;
            *count = 0;
        }
        if *count >= REJECTION_EVENTS_PER_SECOND {
            self.counters.suppressed_events += 1;
            return;
        }
        *count += 1;
        self.events.push_back(Event::Rejected { path, reason });
    }
}

impl Peer {
    fn new(name: String) -> Self {
        Peer {
            name,
            generation: None,
            replay: ReplayWindow::new(),
            liveness: Liveness::Waiting,
            last_heard: None,
            paths: BTreeMap::new(),
            inbound: Inbound::default(),
            acked_ours: 0,
        }
    }
}

impl Inbound {
    /// The first range of messages known to exist but not yet received.
    fn missing(&self) -> Option<(u64, u64)> {
        if !self.synced || self.highest_known <= self.delivered {
            return None;
        }
        let first = self.delivered + 1;
        let last = match self.pending.first_key_value() {
            Some((seq, _)) if *seq > first => *seq - 1,
            Some(_) => return None,
            None => self.highest_known,
        };
        Some((first, last))
    }
}
