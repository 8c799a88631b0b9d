//! Messages between nodes, carried by the link layer's reliable channel.
//!
//! Encoded with postcard (varints, no field names): a status entry is a few
//! bytes. Every message is at most [`MAX_MESSAGE_LEN`] bytes (the channel's
//! limit, and 0.6 s at 19200 baud); a node's status is split over as many
//! messages as it needs ([`STATUS_CHUNK`] entries each). Resources are
//! named by their index in the configuration, which is the same on every
//! member (same digest).
//!
//! Contract: [`Message::decode`] never panics, on any input.

use serde::{Deserialize, Serialize};

use crate::api::{FenceRecord, OpKind, OpOutcome};

/// The largest message, in bytes (the link channel takes 1 180).
pub const MAX_MESSAGE_LEN: usize = 1100;
/// Status entries per [`Message::Status`].
pub const STATUS_CHUNK: usize = 48;
/// Longest node or resource name accepted.
pub const MAX_NAME_LEN: usize = 64;

/// One message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Message {
    /// Sent to a peer when the link reports it alive: who we are.
    Hello {
        /// The sender's configuration digest.
        digest: u64,
        /// The sender's incarnation.
        incarnation: u64,
        /// The DC the sender follows (itself when DC).
        dc: Option<String>,
        /// Operations of another DC still run at the sender (arrives with
        /// the switch of DC, so the new DC cannot schedule before knowing).
        settling: bool,
    },
    /// The DC's member list.
    Members {
        /// Incremented at each change.
        epoch: u64,
        /// The members, DC included.
        members: Vec<String>,
    },
    /// Part of the sender's own status (per-node status is owned by its node).
    Status {
        /// The sender's incarnation.
        incarnation: u64,
        /// All its probes are in.
        probed: bool,
        /// First part of a full report: entries not listed are stopped.
        first: bool,
        /// Operations sent by a former DC still run there: a new DC waits.
        settling: bool,
        /// Entries.
        entries: Vec<Entry>,
    },
    /// The administrative state (DC-owned).
    Admin(AdminState),
    /// A fencing ended; when confirmed, the node's reports of that
    /// incarnation are void.
    Fenced(FenceRecord),
    /// DC → node: run an operation.
    Op {
        /// The DC's id for it.
        id: u64,
        /// Resource index.
        resource: u16,
        /// What.
        kind: OpKind,
        /// Recurring interval, ms.
        interval_ms: u32,
        /// Timeout, ms.
        timeout_ms: u32,
    },
    /// Node → DC: how an operation ended.
    OpDone {
        /// The DC's id.
        id: u64,
        /// The outcome.
        outcome: OpOutcome,
    },
    /// Node → DC: an operator's request.
    Admin2(AdminCommand),
    /// Messages of ours were lost: send your state again.
    Resync,
    /// The sender is shutting down cleanly: move its resources away; once
    /// its report shows nothing running, its death needs no fencing.
    Leaving,
    /// The answer to `Leaving`: the sender knows; the leaving node exits
    /// only once every member has answered.
    LeavingSeen,
    /// Part of the sender's own status: how many ping targets it reaches
    /// (see `connectivity`). Its own variant, last, because postcard cannot
    /// decode an older `Status` that lacks a trailing field, while a new
    /// variant leaves every older encoding valid.
    Connectivity {
        /// The sender's incarnation.
        incarnation: u64,
        /// Ping targets up.
        value: u32,
    },
}

/// One resource on the reporting node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Resource index.
    pub resource: u16,
    /// Running there.
    pub active: bool,
    /// Failed, not yet recovered.
    pub failed: bool,
    /// Failures counted.
    pub fail_count: u32,
    /// Unix time of the last failure.
    pub last_failure: Option<i64>,
}

/// The DC-owned administrative state.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct AdminState {
    /// Incremented at every change; the higher wins on merge.
    pub generation: u64,
    /// Nodes in standby.
    pub standby: Vec<String>,
    /// (resource index, node): move there.
    pub moves: Vec<(u16, String)>,
    /// Resources stopped by the operator.
    pub stopped: Vec<u16>,
    /// Cleanups: (resource index, the generation of this state when it was
    /// asked). Each node resets its own fail count and failure of that
    /// resource when it sees a cleanup newer than the last it applied.
    pub cleanups: Vec<(u16, u64)>,
}

/// An operator request forwarded to the DC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AdminCommand {
    /// Standby on or off for a node.
    Standby(String, bool),
    /// Take the resources to a node.
    Takeover(String),
    /// Stop (true) or release (false) a resource.
    Stop(u16, bool),
    /// Move a resource.
    Move(u16, String),
    /// Forget failures.
    Cleanup(u16),
}

/// Why a message was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl Message {
    /// Encodes; None when it would exceed [`MAX_MESSAGE_LEN`] (a caller bug:
    /// senders keep their messages within bounds).
    pub fn encode(&self) -> Option<Vec<u8>> {
        let bytes = postcard::to_allocvec(self).ok()?;
        (bytes.len() <= MAX_MESSAGE_LEN).then_some(bytes)
    }

    /// Decodes and checks the bounds (names, lists).
    pub fn decode(bytes: &[u8]) -> Result<Message, DecodeError> {
        if bytes.len() > MAX_MESSAGE_LEN {
            return Err(DecodeError(format!(
                "message of {} bytes exceeds {MAX_MESSAGE_LEN}",
                bytes.len()
            )));
        }
        let (msg, rest): (Message, &[u8]) = postcard::take_from_bytes(bytes)
            .map_err(|e| DecodeError(format!("undecodable message: {e}")))?;
        if !rest.is_empty() {
            return Err(DecodeError(format!(
                "{} trailing bytes after the message",
                rest.len()
            )));
        }
        msg.check()?;
        Ok(msg)
    }

    /// The variant's name, for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Message::Hello { .. } => "Hello",
            Message::Members { .. } => "Members",
            Message::Status { .. } => "Status",
            Message::Admin(_) => "Admin",
            Message::Fenced(_) => "Fenced",
            Message::Op { .. } => "Op",
            Message::OpDone { .. } => "OpDone",
            Message::Admin2(_) => "AdminCommand",
            Message::Resync => "Resync",
            Message::Leaving => "Leaving",
            Message::LeavingSeen => "LeavingSeen",
            Message::Connectivity { .. } => "Connectivity",
        }
    }

    fn check(&self) -> Result<(), DecodeError> {
        let name = |n: &str| {
            if n.is_empty() || n.len() > MAX_NAME_LEN {
                Err(DecodeError(format!(
                    "node name of {} bytes (1 to {MAX_NAME_LEN} allowed)",
                    n.len()
                )))
            } else {
                Ok(())
            }
        };
        match self {
            Message::Hello { dc: Some(d), .. } => name(d),
            Message::Members { members, .. } => members.iter().try_for_each(|m| name(m)),
            Message::Status { entries, .. } if entries.len() > STATUS_CHUNK => Err(DecodeError(
                format!("{} status entries (at most {STATUS_CHUNK})", entries.len()),
            )),
            Message::Admin(a) => {
                a.standby.iter().try_for_each(|m| name(m))?;
                a.moves.iter().try_for_each(|(_, m)| name(m))
            }
            Message::Fenced(r) => {
                name(&r.node)?;
                name(&r.by)
            }
            Message::Admin2(AdminCommand::Standby(n, _) | AdminCommand::Takeover(n))
            | Message::Admin2(AdminCommand::Move(_, n)) => name(n),
            _ => Ok(()),
        }
    }
}
