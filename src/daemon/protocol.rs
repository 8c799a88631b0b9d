//! The admin socket's protocol, spoken between `ironbeat run` and the admin
//! commands (`ironbeat status`, `standby`, `resource …`, `events`).
//!
//! One JSON object per line each way over a Unix stream socket. The client
//! sends one [`Request`]; the daemon answers with one [`Reply`] and closes,
//! except for [`Request::Events`], after which the daemon writes one
//! [`EventRecord`] per line until the client goes away. Lines longer than
//! [`MAX_LINE`] are refused, so a hostile peer cannot make either side
//! buffer without bound. The socket is created mode 0600 in a root-owned
//! directory: only root administers the cluster.

use std::time::{SystemTime, UNIX_EPOCH};

use ironbeat_cluster::{AdminReply, AdminRequest, Status};
use serde::{Deserialize, Serialize};

/// Where the daemon listens unless `--socket` says otherwise.
pub const DEFAULT_SOCKET: &str = "/run/ironbeat/ironbeat.sock";

/// The longest line either side accepts, newline included.
pub const MAX_LINE: usize = 256 * 1024;

/// What an admin command asks the daemon.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "request", rename_all = "snake_case")]
pub enum Request {
    /// The cluster as this node sees it, with its links.
    Status,
    /// Put this node in standby (hb_standby): its resources move away.
    Standby,
    /// Leave standby.
    Online,
    /// Bring the resources to this node (hb_takeover).
    Takeover,
    /// Let the cluster run a resource stopped by `resource stop`.
    ResourceStart {
        /// The resource id.
        resource: String,
    },
    /// Stop a resource and keep it stopped.
    ResourceStop {
        /// The resource id.
        resource: String,
    },
    /// Move a resource to a node.
    ResourceMove {
        /// The resource id.
        resource: String,
        /// The node.
        node: String,
    },
    /// Forget a resource's failures (it is probed again).
    ResourceCleanup {
        /// The resource id.
        resource: String,
    },
    /// Stream every event from now on (one [`EventRecord`] per line).
    Events,
    /// An operator vouches that a node is powered off (`ironbeat fence confirm`).
    FenceConfirm {
        /// The node.
        node: String,
    },
}

impl Request {
    /// The cluster core's request, for all but [`Request::Status`]'s link
    /// part and [`Request::Events`] (`None`), which the daemon answers itself.
    pub fn to_admin(&self) -> Option<AdminRequest> {
        Some(match self {
            Request::Status => AdminRequest::Status,
            Request::Standby => AdminRequest::Standby,
            Request::Online => AdminRequest::Online,
            Request::Takeover => AdminRequest::Takeover,
            Request::ResourceStart { resource } => AdminRequest::ResourceStart(resource.clone()),
            Request::ResourceStop { resource } => AdminRequest::ResourceStop(resource.clone()),
            Request::ResourceMove { resource, node } => AdminRequest::ResourceMove {
                resource: resource.clone(),
                node: node.clone(),
            },
            Request::ResourceCleanup { resource } => {
                AdminRequest::ResourceCleanup(resource.clone())
            }
            Request::FenceConfirm { node } => AdminRequest::FenceConfirm(node.clone()),
            Request::Events => return None,
        })
    }
}

/// The daemon's answer to one [`Request`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    /// The answer to [`Request::Status`].
    Status(Box<StatusReport>),
    /// Done here, or forwarded to the DC.
    Accepted {
        /// What happens now.
        message: String,
    },
    /// Not done, with the reason and the fix.
    Refused {
        /// Why, and what to do.
        message: String,
    },
    /// The request itself was bad (not JSON, unknown request, too long).
    BadRequest {
        /// What was wrong.
        message: String,
    },
    /// [`Request::Events`] accepted: event lines follow.
    Streaming,
}

impl From<AdminReply> for Reply {
    fn from(reply: AdminReply) -> Reply {
        match reply {
            AdminReply::Status(status) => Reply::Status(Box::new(StatusReport {
                cluster: status,
                links: Vec::new(),
                daemon: DaemonInfo::default(),
            })),
            AdminReply::Accepted(message) => Reply::Accepted { message },
            AdminReply::Refused(message) => Reply::Refused { message },
        }
    }
}

/// `ironbeat status --json`: the cluster core's view, the link layer's view
/// of every peer, and the daemon itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusReport {
    /// Membership, DC, quorum, resources, fencing history.
    pub cluster: Status,
    /// Every peer as the link layer hears it, path by path.
    pub links: Vec<PeerLinks>,
    /// The daemon answering.
    pub daemon: DaemonInfo,
}

/// One peer in [`StatusReport::links`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerLinks {
    /// The peer's name.
    pub node: String,
    /// `alive`, `late`, `dead` or `unknown` (never heard).
    pub liveness: String,
    /// Its generation (incarnation), once heard.
    pub generation: Option<u64>,
    /// Milliseconds since it was last heard on any path.
    pub last_heard_ms: Option<u64>,
    /// Each local path to it.
    pub paths: Vec<PathLink>,
}

/// One path in [`PeerLinks::paths`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathLink {
    /// The link as configured (`ucast eth0 198.18.0.2`, `serial /dev/ttyS0`).
    pub name: String,
    /// The peer is heard on it.
    pub up: bool,
    /// Milliseconds since the peer was last heard on it, once heard.
    pub last_heard_ms: Option<u64>,
}

/// The daemon in [`StatusReport::daemon`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DaemonInfo {
    /// Its process id.
    pub pid: u32,
    /// Seconds since it started.
    pub uptime_s: u64,
    /// Its resident set size, KiB.
    pub rss_kib: u64,
    /// The configuration file it runs (ha.cf or the native file).
    pub config: String,
    /// Its version.
    pub version: String,
}

/// One line of `ironbeat events`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    /// Unix time, milliseconds.
    pub at_ms: u64,
    /// A short snake_case kind (`node_joined`, `dc_elected`, `fenced`,
    /// `op_failed`, `link_down`, …).
    pub kind: String,
    /// One line for people.
    pub text: String,
    /// The structured event, for tools.
    #[serde(default)]
    pub data: serde_json::Value,
}

impl EventRecord {
    /// An event happening now.
    pub fn now(kind: &str, text: String, data: serde_json::Value) -> EventRecord {
        let at_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        EventRecord {
            at_ms,
            kind: kind.to_string(),
            text,
            data,
        }
    }
}

/// Why a line could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    /// Longer than [`MAX_LINE`].
    #[error("the line is longer than {MAX_LINE} bytes")]
    TooLong,
    /// Not UTF-8 JSON of the expected shape.
    #[error("{0}")]
    Malformed(String),
}

/// Encodes one message as a line (JSON and a newline).
pub fn encode<T: Serialize>(message: &T) -> Vec<u8> {
    // Serializing these plain structs and enums cannot fail (no maps with
    // non-string keys, no custom Serialize that errors); an empty object is
    // a harmless fallback should that ever change.
    let mut line = serde_json::to_vec(message).unwrap_or_else(|_| b"{}".to_vec());
    line.push(b'\n');
    line
}

/// Decodes one line (with or without its newline).
pub fn decode<T: for<'de> Deserialize<'de>>(line: &[u8]) -> Result<T, LineError> {
    if line.len() > MAX_LINE {
        return Err(LineError::TooLong);
    }
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    serde_json::from_slice(line).map_err(|e| LineError::Malformed(e.to_string()))
}

/// Reads one line of at most [`MAX_LINE`] bytes; `Ok(None)` at a clean end
/// of stream.
pub async fn read_line<R>(reader: &mut R) -> std::io::Result<Option<Vec<u8>>>
where
    R: tokio::io::AsyncBufRead + Unpin,
{
    use tokio::io::AsyncBufReadExt;
    let mut line = Vec::new();
    loop {
        let available = reader.fill_buf().await?;
        if available.is_empty() {
            return Ok(if line.is_empty() { None } else { Some(line) });
        }
        let (taken, done) = match available.iter().position(|&b| b == b'\n') {
            Some(at) => (at + 1, true),
            None => (available.len(), false),
        };
        if line.len() + taken > MAX_LINE {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                LineError::TooLong.to_string(),
            ));
        }
        line.extend_from_slice(&available[..taken]);
        reader.consume(taken);
        if done {
            return Ok(Some(line));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_have_a_stable_wire_form() {
        assert_eq!(encode(&Request::Status), b"{\"request\":\"status\"}\n");
        let line = br#"{"request":"resource_move","resource":"vip","node":"node2"}"#;
        assert_eq!(
            decode::<Request>(line),
            Ok(Request::ResourceMove {
                resource: "vip".into(),
                node: "node2".into()
            })
        );
        for request in [
            Request::Status,
            Request::Standby,
            Request::Online,
            Request::Takeover,
            Request::ResourceStart {
                resource: "r".into(),
            },
            Request::ResourceStop {
                resource: "r".into(),
            },
            Request::ResourceCleanup {
                resource: "r".into(),
            },
            Request::Events,
        ] {
            assert_eq!(decode::<Request>(&encode(&request)), Ok(request));
        }
    }

    #[test]
    fn hostile_lines_are_errors() {
        let cases: &[&[u8]] = &[
            b"",
            b"\n",
            b"{",
            b"null",
            b"[]",
            b"{\"request\":\"reboot_everything\"}",
            b"{\"request\":\"resource_stop\"}",
            b"{\"request\":\"resource_stop\",\"resource\":7}",
            b"\xff\xfe",
            b"{\"request\":\"status\"}{\"request\":\"status\"}",
        ];
        for case in cases {
            assert!(decode::<Request>(case).is_err(), "{case:?}");
        }
        assert_eq!(
            decode::<Request>(&vec![b' '; MAX_LINE + 1]),
            Err(LineError::TooLong)
        );
    }

    #[test]
    fn replies_round_trip() {
        let reply = Reply::Refused {
            message: "no such resource vipp; did you mean vip?".into(),
        };
        assert_eq!(decode::<Reply>(&encode(&reply)), Ok(reply));
        let record = EventRecord::now(
            "dc_elected",
            "node1 is the DC".into(),
            serde_json::json!({}),
        );
        assert_eq!(decode::<EventRecord>(&encode(&record)), Ok(record));
    }

    #[tokio::test]
    async fn read_line_bounds_what_it_buffers() {
        let mut input: &[u8] = b"{\"request\":\"status\"}\nrest";
        let mut reader = tokio::io::BufReader::new(&mut input);
        let first = read_line(&mut reader).await.ok().flatten();
        assert_eq!(first.as_deref(), Some(&b"{\"request\":\"status\"}\n"[..]));
        let second = read_line(&mut reader).await.ok().flatten();
        assert_eq!(second.as_deref(), Some(&b"rest"[..]));
        assert!(matches!(read_line(&mut reader).await, Ok(None)));

        let long = vec![b'x'; MAX_LINE + 10];
        let mut input: &[u8] = &long;
        let mut reader = tokio::io::BufReader::new(&mut input);
        assert!(read_line(&mut reader).await.is_err());
    }
}
