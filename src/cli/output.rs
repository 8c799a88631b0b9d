//! How `ironbeat link watch` prints link events: one JSON object per line
//! (`--json`, for tools and tests) or one human line.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ironbeat_link::proto::endpoint::{Counters, Event};
use ironbeat_link::PathId;
use serde_json::{json, Map, Value};

/// Output format of event streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One human-readable line per event.
    Text,
    /// One JSON object per line.
    Json,
}

/// Formats events of one node, naming paths as the configuration wrote them.
#[derive(Debug, Clone)]
pub struct EventPrinter {
    format: Format,
    self_name: String,
    path_names: Vec<String>,
}

impl EventPrinter {
    /// A printer for node `self_name` whose path `i` is named `path_names[i]`.
    pub fn new(format: Format, self_name: &str, path_names: Vec<String>) -> Self {
        EventPrinter {
            format,
            self_name: self_name.to_owned(),
            path_names,
        }
    }

    fn path(&self, id: PathId) -> String {
        self.path_names
            .get(usize::from(id.0))
            .cloned()
            .unwrap_or_else(|| format!("path {id}"))
    }

    /// The `started` line.
    pub fn started(&self, at: SystemTime, generation: u64) -> String {
        let paths: Vec<Value> = self
            .path_names
            .iter()
            .enumerate()
            .map(|(id, name)| json!({"id": id, "name": name}))
            .collect();
        let mut fields = Map::new();
        fields.insert("generation".into(), json!(generation));
        fields.insert("paths".into(), Value::Array(paths));
        let text = format!(
            "started as {} generation {generation}, paths: {}",
            self.self_name,
            self.path_names.join(", ")
        );
        self.line(at, "started", fields, text)
    }

    /// One event.
    pub fn event(&self, at: SystemTime, event: &Event) -> String {
        let mut f = Map::new();
        let (name, text) = match event {
            Event::PathUp { node, path } => {
                f.insert("node".into(), json!(node));
                f.insert("path".into(), json!(self.path(*path)));
                ("path_up", format!("link {node}: {} up", self.path(*path)))
            }
            Event::PathDown { node, path } => {
                f.insert("node".into(), json!(node));
                f.insert("path".into(), json!(self.path(*path)));
                (
                    "path_down",
                    format!("link {node}: {} dead", self.path(*path)),
                )
            }
            Event::NodeAlive { node, generation } => {
                f.insert("node".into(), json!(node));
                f.insert("generation".into(), json!(generation.0));
                (
                    "node_alive",
                    format!("node {node} alive (generation {generation})"),
                )
            }
            Event::NodeLate { node, silent_for } => {
                f.insert("node".into(), json!(node));
                f.insert("silent_ms".into(), json!(silent_for.as_millis() as u64));
                (
                    "node_late",
                    format!("node {node} late: silent for {} ms", silent_for.as_millis()),
                )
            }
            Event::NodeDead { node } => {
                f.insert("node".into(), json!(node));
                ("node_dead", format!("node {node} is dead"))
            }
            Event::NodeBack { node, generation } => {
                f.insert("node".into(), json!(node));
                f.insert("generation".into(), json!(generation.0));
                (
                    "node_back",
                    format!("node {node} back: restarted (generation {generation})"),
                )
            }
            Event::Rejected { path, reason } => {
                f.insert("path".into(), json!(self.path(*path)));
                f.insert("reason".into(), json!(reason.kind()));
                f.insert("detail".into(), json!(reason.to_string()));
                (
                    "rejected",
                    format!("rejected on {}: {reason}", self.path(*path)),
                )
            }
            Event::Message { from, body } => {
                f.insert("node".into(), json!(from));
                f.insert("bytes".into(), json!(body.len()));
                (
                    "message",
                    format!("message from {from}: {} bytes", body.len()),
                )
            }
            Event::MessagesLost { from, first, last } => {
                f.insert("node".into(), json!(from));
                f.insert("first".into(), json!(first));
                f.insert("last".into(), json!(last));
                (
                    "messages_lost",
                    format!("messages {first}..={last} of {from} lost"),
                )
            }
        };
        self.line(at, name, f, text)
    }

    /// The frame counters.
    pub fn counters(&self, at: SystemTime, c: &Counters) -> String {
        let pairs = [
            ("sent", c.sent),
            ("received", c.received),
            ("malformed", c.malformed),
            ("foreign_cluster", c.foreign_cluster),
            ("forged", c.forged),
            ("replayed", c.replayed),
            ("stale_generation", c.stale_generation),
            ("unknown_node", c.unknown_node),
            ("own_frames", c.own_frames),
            ("delivered", c.delivered),
            ("retransmit_requests", c.retransmit_requests),
            ("retransmissions", c.retransmissions),
            ("suppressed_events", c.suppressed_events),
        ];
        let mut f = Map::new();
        for (k, v) in pairs {
            f.insert(k.into(), json!(v));
        }
        let text = pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ");
        self.line(at, "counters", f, format!("counters: {text}"))
    }

    /// Any other line: `fields` (a JSON object) for `--json`, `text` otherwise.
    pub fn other(&self, at: SystemTime, event: &str, fields: Value, text: String) -> String {
        let fields = match fields {
            Value::Object(map) => map,
            _ => Map::new(),
        };
        self.line(at, event, fields, text)
    }

    fn line(
        &self,
        at: SystemTime,
        event: &str,
        fields: Map<String, Value>,
        text: String,
    ) -> String {
        let since_epoch = at.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
        match self.format {
            Format::Json => {
                let mut object = Map::new();
                object.insert("event".into(), json!(event));
                object.insert("ts_us".into(), json!(since_epoch.as_micros() as u64));
                object.insert("self".into(), json!(self.self_name));
                object.extend(fields);
                Value::Object(object).to_string()
            }
            Format::Text => format!("{} {} {text}", rfc3339_millis(since_epoch), self.self_name),
        }
    }
}

/// `2026-11-22T03:04:05.123Z` for a time since the Unix epoch.
pub fn rfc3339_millis(since_epoch: Duration) -> String {
    let secs = since_epoch.as_secs();
    let millis = since_epoch.subsec_millis();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (h, m, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    // Civil-from-days (Howard Hinnant's algorithm), valid for all dates after 1970.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{s:02}.{millis:03}Z")
}

#[cfg(test)]
mod tests {
    use super::*;
    use ironbeat_link::Generation;

    #[test]
    fn formats_dates() {
        assert_eq!(rfc3339_millis(Duration::ZERO), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            rfc3339_millis(Duration::from_millis(1_795_316_645_123)),
            "2026-11-22T03:04:05.123Z"
        );
        assert_eq!(
            rfc3339_millis(Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00.000Z"
        );
    }

    #[test]
    fn json_lines_follow_the_contract() {
        let p = EventPrinter::new(Format::Json, "node1", vec!["ucast eth0 198.18.0.2".into()]);
        let at = UNIX_EPOCH + Duration::from_micros(1_700_000_000_123_456);
        let line = p.event(
            at,
            &Event::NodeBack {
                node: "node2".into(),
                generation: Generation(8),
            },
        );
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["event"], "node_back");
        assert_eq!(v["ts_us"], 1_700_000_000_123_456u64);
        assert_eq!(v["self"], "node1");
        assert_eq!(v["node"], "node2");
        assert_eq!(v["generation"], 8);
        let line = p.event(
            at,
            &Event::PathDown {
                node: "node2".into(),
                path: PathId(0),
            },
        );
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["path"], "ucast eth0 198.18.0.2");
        let text = EventPrinter::new(Format::Text, "node1", vec![]);
        assert!(text
            .event(
                at,
                &Event::NodeDead {
                    node: "node2".into()
                }
            )
            .ends_with("node1 node node2 is dead"));
    }
}
