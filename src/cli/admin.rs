//! The admin commands: `ironbeat status`, `standby`, `online`, `takeover`,
//! `resource start|stop|cleanup|move`, `events`.
//!
//! Each connects to the daemon's admin socket
//! ([`protocol::DEFAULT_SOCKET`] unless `--socket`), sends one
//! [`Request`] line and reads the [`Reply`] within [`REPLY_DEADLINE`];
//! `events` then prints event lines until the daemon closes the stream (or
//! the operator presses Ctrl-C). Errors say what to do: the daemon is not
//! running here, run as root, or the daemon's own reason for refusing.

use std::fmt::Write as _;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use ironbeat_cluster::{FenceOutcome, Status};

use crate::cli::output::rfc3339_millis;
use crate::daemon::protocol::{
    self, EventRecord, PeerLinks, Reply, Request, StatusReport, MAX_LINE,
};

/// How long a command waits for the daemon's reply (connecting included).
pub const REPLY_DEADLINE: Duration = Duration::from_secs(5);

/// `--socket`, shared by every admin command.
#[derive(Debug, Clone, Args)]
pub struct SocketArg {
    /// The daemon's admin socket.
    #[arg(long, value_name = "PATH", default_value = protocol::DEFAULT_SOCKET)]
    pub socket: PathBuf,
}

/// `ironbeat status`.
#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    /// Print the daemon's status report as JSON (the `StatusReport` of
    /// docs/operations.md), for tools.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub socket: SocketArg,
}

/// `ironbeat events`.
#[derive(Debug, Clone, Args)]
pub struct EventsArgs {
    /// One JSON object per event (`at_ms`, `kind`, `text`, `data`).
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub socket: SocketArg,
}

/// `ironbeat fence …`.
#[derive(Debug, Clone, Subcommand)]
pub enum FenceCommand {
    /// Vouch that NODE is powered off (manual fencing, cluster-glue's
    /// meatware and meatclient; or a peer that will not come back after a
    /// site-wide power loss): it counts as fenced and its resources may
    /// start elsewhere. Refused while NODE is heard on the cluster links.
    /// Confirming a node that still runs is how services end up running
    /// twice: look at it, or at its power, first.
    Confirm {
        /// The node that is off.
        node: String,
        #[command(flatten)]
        socket: SocketArg,
    },
}

/// `ironbeat resource …`.
#[derive(Debug, Clone, Subcommand)]
pub enum ResourceCommand {
    /// Let the cluster run a resource stopped by `resource stop`.
    Start {
        /// The resource id.
        name: String,
        #[command(flatten)]
        socket: SocketArg,
    },
    /// Stop a resource and keep it stopped.
    Stop {
        /// The resource id.
        name: String,
        #[command(flatten)]
        socket: SocketArg,
    },
    /// Forget a resource's failures and fail counts (it is probed again).
    Cleanup {
        /// The resource id.
        name: String,
        #[command(flatten)]
        socket: SocketArg,
    },
    /// Move a resource (its group) to a node.
    Move {
        /// The resource id.
        name: String,
        /// The node to run it on.
        node: String,
        #[command(flatten)]
        socket: SocketArg,
    },
}

/// Why an admin command failed; [`AdminError::exit_code`] is its exit code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AdminError {
    /// No daemon listens on the socket.
    #[error(
        "ironbeat is not running on this node ({detail}): start it with systemctl start ironbeat"
    )]
    NotRunning {
        /// What was found at the socket's path.
        detail: String,
    },
    /// The socket may only be used by root.
    #[error("permission denied on {0}: run as root (only root administers the cluster)")]
    PermissionDenied(PathBuf),
    /// The daemon refused the request (its message says why and what to do).
    #[error("{0}")]
    Refused(String),
    /// The daemon did not answer in time.
    #[error("ironbeat at {0} did not answer within {secs} s; it may be overloaded or hung: check `journalctl -u ironbeat`", secs = REPLY_DEADLINE.as_secs())]
    Timeout(PathBuf),
    /// The daemon answered something this command does not understand.
    #[error(
        "unexpected answer from the daemon: {0}; is the daemon the same version as this command?"
    )]
    Protocol(String),
    /// Talking on the socket failed.
    #[error("{0}")]
    Io(String),
}

impl AdminError {
    /// The exit code (`cli::exit`).
    pub fn exit_code(&self) -> u8 {
        use crate::cli::exit;
        match self {
            AdminError::NotRunning { .. } => exit::NOT_RUNNING,
            AdminError::PermissionDenied(_) => exit::AUTH,
            AdminError::Refused(_) => exit::REFUSED,
            AdminError::Timeout(_) | AdminError::Protocol(_) | AdminError::Io(_) => exit::FAILURE,
        }
    }
}

/// `ironbeat status [--json]`.
pub fn status(args: &StatusArgs) -> anyhow::Result<()> {
    let (reply, _) = exchange(&args.socket.socket, &Request::Status)?;
    let report = match reply {
        Reply::Status(report) => report,
        other => return Err(unexpected(other).into()),
    };
    let text = if args.json {
        let mut text = serde_json::to_string_pretty(&report)
            .map_err(|e| AdminError::Protocol(e.to_string()))?;
        text.push('\n');
        text
    } else {
        render_status(&report)
    };
    write_stdout(text.as_bytes())
}

/// `ironbeat standby`, `online`, `takeover` and `resource …`: one request,
/// its `Accepted` message printed.
pub fn request(socket: &Path, request: &Request) -> anyhow::Result<()> {
    let (reply, _) = exchange(socket, request)?;
    match reply {
        Reply::Accepted { message } => write_stdout(format!("{message}\n").as_bytes()),
        other => Err(unexpected(other).into()),
    }
}

/// `ironbeat resource …`.
pub fn resource(command: &ResourceCommand) -> anyhow::Result<()> {
    let (socket, wanted) = match command {
        ResourceCommand::Start { name, socket } => (
            socket,
            Request::ResourceStart {
                resource: name.clone(),
            },
        ),
        ResourceCommand::Stop { name, socket } => (
            socket,
            Request::ResourceStop {
                resource: name.clone(),
            },
        ),
        ResourceCommand::Cleanup { name, socket } => (
            socket,
            Request::ResourceCleanup {
                resource: name.clone(),
            },
        ),
        ResourceCommand::Move { name, node, socket } => (
            socket,
            Request::ResourceMove {
                resource: name.clone(),
                node: node.clone(),
            },
        ),
    };
    request(&socket.socket, &wanted)
}

/// `ironbeat fence …`.
pub fn fence(command: &FenceCommand) -> anyhow::Result<()> {
    match command {
        FenceCommand::Confirm { node, socket } => request(
            &socket.socket,
            &Request::FenceConfirm {
                node: node.to_lowercase(),
            },
        ),
    }
}

/// `ironbeat events [--json]`: prints events until the daemon closes the
/// stream (Ctrl-C ends it from this side).
pub fn events(args: &EventsArgs) -> anyhow::Result<()> {
    let (reply, mut reader) = exchange(&args.socket.socket, &Request::Events)?;
    if reply != Reply::Streaming {
        return Err(unexpected(reply).into());
    }
    // Events come when they come: no deadline from here on.
    reader
        .get_ref()
        .set_read_timeout(None)
        .map_err(|e| AdminError::Io(e.to_string()))?;
    loop {
        let line = match read_line(&mut reader, &args.socket.socket, None)? {
            Some(line) => line,
            None => return Ok(()),
        };
        let record: EventRecord =
            protocol::decode(&line).map_err(|e| AdminError::Protocol(e.to_string()))?;
        let text = if args.json {
            String::from_utf8_lossy(&protocol::encode(&record)).into_owned()
        } else {
            format!("{}\n", render_event(&record))
        };
        write_stdout(text.as_bytes())?;
    }
}

/// An event as one human line: `TIME KIND: TEXT`.
pub fn render_event(record: &EventRecord) -> String {
    format!(
        "{} {}: {}",
        rfc3339_millis(Duration::from_millis(record.at_ms)),
        record.kind,
        one_line(&record.text)
    )
}

/// The human status: the cluster line, nodes, links, resources, fencing
/// history and the daemon.
pub fn render_status(report: &StatusReport) -> String {
    let mut out = String::new();
    let cluster = &report.cluster;
    let members: Vec<&str> = cluster
        .nodes
        .iter()
        .filter(|n| n.member)
        .map(|n| n.name.as_str())
        .collect();
    let _ = writeln!(
        out,
        "Cluster: DC {}, {}, membership epoch {}, {} of {} nodes members{}",
        cluster.dc.as_deref().unwrap_or("none (electing)"),
        if cluster.quorum {
            "quorum"
        } else {
            "NO QUORUM"
        },
        cluster.epoch,
        members.len(),
        cluster.nodes.len(),
        if members.is_empty() {
            String::new()
        } else {
            format!(" ({})", members.join(", "))
        }
    );
    if let Some(waiting) = &cluster.waiting {
        let _ = writeln!(out, "Waiting: {waiting}");
    }
    render_nodes(&mut out, cluster);
    render_links(&mut out, &report.links);
    render_resources(&mut out, cluster);
    render_fencing(&mut out, cluster);
    let d = &report.daemon;
    let _ = writeln!(
        out,
        "Daemon: pid {}, up {}, RSS {}, ironbeat {}, config {}",
        d.pid,
        duration_words(Duration::from_secs(d.uptime_s)),
        kib_words(d.rss_kib),
        if d.version.is_empty() {
            "?"
        } else {
            &d.version
        },
        if d.config.is_empty() { "?" } else { &d.config }
    );
    out
}

fn render_nodes(out: &mut String, cluster: &Status) {
    let _ = writeln!(out, "Nodes:");
    let width = cluster
        .nodes
        .iter()
        .map(|n| n.name.len())
        .max()
        .unwrap_or(0);
    // Ping nodes: the best connectivity among members that may run resources.
    let best = cluster
        .nodes
        .iter()
        .filter(|n| n.member && !n.standby)
        .filter_map(|n| n.connectivity)
        .max();
    for node in &cluster.nodes {
        let mut state = if node.config_mismatch {
            "CONFIG MISMATCH: runs another configuration (not admitted; copy the same \
             configuration files to every node and restart ironbeat there)"
                .to_string()
        } else if !node.member {
            "offline".to_string()
        } else if !node.probed {
            "online, unprobed (probing what runs there)".to_string()
        } else if node.standby {
            "standby".to_string()
        } else {
            "online".to_string()
        };
        if node.member && node.standby && !node.probed {
            state.push_str(", standby");
        }
        if let Some(up) = node.connectivity.filter(|_| node.member) {
            let _ = write!(
                state,
                ", {up} ping target{} up",
                if up == 1 { "" } else { "s" }
            );
            if best.is_some_and(|b| up < b) && !node.standby {
                let _ = write!(
                    state,
                    " (fewer than another node: runs no resources until it reaches as many)"
                );
            }
        }
        if Some(&node.name) == cluster.dc.as_ref() {
            state.push_str(", DC");
        }
        if node.name == cluster.node {
            state.push_str(" (this node)");
        }
        let _ = writeln!(out, "  {:width$}  {state}", node.name);
    }
}

fn render_links(out: &mut String, links: &[PeerLinks]) {
    if links.is_empty() {
        return;
    }
    let _ = writeln!(out, "Links:");
    for peer in links {
        let mut line = format!("  {}  {}", peer.node, peer.liveness);
        if let Some(g) = peer.generation {
            let _ = write!(line, ", generation {g}");
        }
        let _ = write!(line, ", last heard {}", heard(peer.last_heard_ms));
        let _ = writeln!(out, "{line}");
        let width = peer.paths.iter().map(|p| p.name.len()).max().unwrap_or(0);
        for path in &peer.paths {
            let _ = writeln!(
                out,
                "    {:width$}  {:4}  {}",
                path.name,
                if path.up { "up" } else { "DOWN" },
                heard(path.last_heard_ms)
            );
        }
    }
}

fn render_resources(out: &mut String, cluster: &Status) {
    let _ = writeln!(out, "Resources:");
    if cluster.resources.is_empty() {
        let _ = writeln!(out, "  none configured");
        return;
    }
    let width = cluster
        .resources
        .iter()
        .map(|r| r.name.len())
        .max()
        .unwrap_or(0);
    for r in &cluster.resources {
        let mut line = match r.running_on.as_slice() {
            [] => "stopped".to_string(),
            [one] => format!("running on {one}"),
            many => format!("ACTIVE ON {} NODES: {}", many.len(), many.join(", ")),
        };
        if !r.failed_on.is_empty() {
            let _ = write!(line, "; FAILED on {}", r.failed_on.join(", "));
        }
        let counts: Vec<String> = r
            .fail_counts
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(node, n)| format!("{node}={n}"))
            .collect();
        if !counts.is_empty() {
            let _ = write!(
                line,
                "; fail counts {} (`ironbeat resource cleanup {}` resets them)",
                counts.join(" "),
                r.name
            );
        }
        let _ = writeln!(out, "  {:width$}  {line}", r.name);
    }
}

fn render_fencing(out: &mut String, cluster: &Status) {
    if cluster.fencing.is_empty() {
        return;
    }
    let _ = writeln!(out, "Fencing history:");
    for f in &cluster.fencing {
        let at = u64::try_from(f.at).map_or_else(
            |_| "before 1970".to_string(),
            |s| {
                let stamp = rfc3339_millis(Duration::from_secs(s));
                // Seconds are precision enough: drop ".000".
                format!("{}Z", stamp.get(..19).unwrap_or(&stamp))
            },
        );
        let outcome = match f.outcome {
            FenceOutcome::Confirmed => "confirmed off",
            FenceOutcome::Failed => "FAILED (retried)",
        };
        let _ = writeln!(out, "  {at}  {} fenced by {}: {outcome}", f.node, f.by);
    }
}

/// `12 ms ago`, `3.4 s ago`, `5 min ago`, `2 h ago`, `never heard`.
fn heard(ms: Option<u64>) -> String {
    match ms {
        None => "never".to_string(),
        Some(ms) if ms < 1000 => format!("{ms} ms ago"),
        Some(ms) if ms < 60_000 => format!("{:.1} s ago", ms as f64 / 1000.0),
        Some(ms) if ms < 3_600_000 => format!("{} min ago", ms / 60_000),
        Some(ms) => format!("{} h ago", ms / 3_600_000),
    }
}

/// `45 s`, `12 min`, `3 h 4 min`, `2 d 5 h`.
fn duration_words(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min", s / 60),
        3600..=86_399 => format!("{} h {} min", s / 3600, (s % 3600) / 60),
        _ => format!("{} d {} h", s / 86_400, (s % 86_400) / 3600),
    }
}

fn kib_words(kib: u64) -> String {
    if kib >= 1024 {
        format!("{:.1} MiB", kib as f64 / 1024.0)
    } else {
        format!("{kib} KiB")
    }
}

fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Connects, sends `request`, reads the first reply line within the
/// deadline. Returns the reply and the reader (for `events`).
fn exchange(
    socket: &Path,
    request: &Request,
) -> Result<(Reply, BufReader<UnixStream>), AdminError> {
    let deadline = Instant::now() + REPLY_DEADLINE;
    let mut stream = UnixStream::connect(socket).map_err(|e| connect_error(socket, &e))?;
    let io_error = |e: io::Error| -> AdminError {
        if matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ) {
            AdminError::Timeout(socket.to_path_buf())
        } else {
            AdminError::Io(format!(
                "talking to the daemon at {}: {e}",
                socket.display()
            ))
        }
    };
    stream
        .set_write_timeout(Some(REPLY_DEADLINE))
        .map_err(io_error)?;
    stream
        .write_all(&protocol::encode(request))
        .map_err(io_error)?;
    let mut reader = BufReader::new(stream);
    let line = read_line(&mut reader, socket, Some(deadline))?.ok_or_else(|| {
        AdminError::Protocol(
            "the daemon closed the connection without answering (see `journalctl -u ironbeat`)"
                .to_string(),
        )
    })?;
    let reply: Reply = protocol::decode(&line).map_err(|e| AdminError::Protocol(e.to_string()))?;
    match reply {
        Reply::Refused { message } => Err(AdminError::Refused(message)),
        Reply::BadRequest { message } => Err(AdminError::Protocol(format!(
            "the daemon did not understand the request: {message}"
        ))),
        reply => Ok((reply, reader)),
    }
}

/// One line of at most [`MAX_LINE`] bytes, before `deadline` when given;
/// `None` at a clean end of stream.
fn read_line(
    reader: &mut BufReader<UnixStream>,
    socket: &Path,
    deadline: Option<Instant>,
) -> Result<Option<Vec<u8>>, AdminError> {
    let mut line = Vec::new();
    loop {
        if let Some(deadline) = deadline {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(AdminError::Timeout(socket.to_path_buf()));
            }
            reader
                .get_ref()
                .set_read_timeout(Some(left))
                .map_err(|e| AdminError::Io(e.to_string()))?;
        }
        let room = (MAX_LINE - line.len()) as u64;
        let read = reader.by_ref().take(room).read_until(b'\n', &mut line);
        match read {
            Ok(0) => {
                return Ok(if line.is_empty() { None } else { Some(line) });
            }
            Ok(_) if line.ends_with(b"\n") => return Ok(Some(line)),
            Ok(_) if line.len() >= MAX_LINE => {
                return Err(AdminError::Protocol(format!(
                    "a line longer than {MAX_LINE} bytes"
                )))
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                return Err(AdminError::Timeout(socket.to_path_buf()))
            }
            Err(e) => {
                return Err(AdminError::Io(format!(
                    "reading from the daemon at {}: {e}",
                    socket.display()
                )))
            }
        }
    }
}

fn connect_error(socket: &Path, error: &io::Error) -> AdminError {
    let shown = socket.display();
    match error.kind() {
        io::ErrorKind::NotFound => AdminError::NotRunning {
            detail: format!("no socket at {shown}"),
        },
        io::ErrorKind::ConnectionRefused => AdminError::NotRunning {
            detail: format!("nothing listens on {shown}; the daemon stopped or died"),
        },
        io::ErrorKind::PermissionDenied => AdminError::PermissionDenied(socket.to_path_buf()),
        _ => AdminError::Io(format!("cannot connect to {shown}: {error}")),
    }
}

fn unexpected(reply: Reply) -> AdminError {
    let what = match reply {
        Reply::Status(_) => "a status report",
        Reply::Accepted { .. } => "an acceptance",
        Reply::Streaming => "the start of an event stream",
        Reply::Refused { .. } => "a refusal",
        Reply::BadRequest { .. } => "a bad-request answer",
    };
    AdminError::Protocol(format!("{what} where another reply was expected"))
}

/// Writes to stdout; a closed pipe (`ironbeat events | head`) ends quietly.
fn write_stdout(bytes: &[u8]) -> anyhow::Result<()> {
    let mut stdout = io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(AdminError::Io(format!("writing to stdout: {e}")).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::protocol::{DaemonInfo, PathLink};
    use ironbeat_cluster::{FenceRecord, NodeStatus, ResourceStatus};

    fn sample() -> StatusReport {
        let node = |name: &str, member, probed, standby, config_mismatch| NodeStatus {
            name: name.into(),
            member,
            probed,
            standby,
            config_mismatch,
            connectivity: None,
        };
        StatusReport {
            cluster: Status {
                node: "node1".into(),
                dc: Some("node1".into()),
                epoch: 4,
                quorum: true,
                nodes: vec![
                    node("node1", true, true, false, false),
                    node("node2", true, true, true, false),
                    node("node3", false, false, false, false),
                    node("node4", true, false, false, false),
                    node("node5", false, false, false, true),
                ],
                resources: vec![
                    ResourceStatus {
                        name: "vip".into(),
                        running_on: vec!["node1".into()],
                        failed_on: vec![],
                        fail_counts: vec![],
                    },
                    ResourceStatus {
                        name: "web".into(),
                        running_on: vec![],
                        failed_on: vec!["node2".into()],
                        fail_counts: vec![("node2".into(), 3), ("node1".into(), 0)],
                    },
                ],
                fencing: vec![FenceRecord {
                    node: "node3".into(),
                    by: "node1".into(),
                    at: 1_795_316_645,
                    outcome: FenceOutcome::Confirmed,
                }],
                waiting: None,
            },
            links: vec![PeerLinks {
                node: "node2".into(),
                liveness: "alive".into(),
                generation: Some(7),
                last_heard_ms: Some(12),
                paths: vec![
                    PathLink {
                        name: "ucast eth0 198.18.0.2".into(),
                        up: true,
                        last_heard_ms: Some(12),
                    },
                    PathLink {
                        name: "serial /dev/ttyS0".into(),
                        up: false,
                        last_heard_ms: Some(3_400),
                    },
                ],
            }],
            daemon: DaemonInfo {
                pid: 4242,
                uptime_s: 7_500,
                rss_kib: 5_300,
                config: "/etc/ha.d/ha.cf".into(),
                version: "0.1.0".into(),
            },
        }
    }

    #[test]
    fn status_reads_like_crm_mon() {
        let text = render_status(&sample());
        let expected = "\
Cluster: DC node1, quorum, membership epoch 4, 3 of 5 nodes members (node1, node2, node4)
Nodes:
  node1  online, DC (this node)
  node2  standby
  node3  offline
  node4  online, unprobed (probing what runs there)
  node5  CONFIG MISMATCH: runs another configuration (not admitted; copy the same configuration files to every node and restart ironbeat there)
Links:
  node2  alive, generation 7, last heard 12 ms ago
    ucast eth0 198.18.0.2  up    12 ms ago
    serial /dev/ttyS0      DOWN  3.4 s ago
Resources:
  vip  running on node1
  web  stopped; FAILED on node2; fail counts node2=3 (`ironbeat resource cleanup web` resets them)
Fencing history:
  2026-11-22T03:04:05Z  node3 fenced by node1: confirmed off
Daemon: pid 4242, up 2 h 5 min, RSS 5.2 MiB, ironbeat 0.1.0, config /etc/ha.d/ha.cf
";
        assert_eq!(text, expected, "\n{text}");
    }

    #[test]
    fn status_shows_connectivity_and_who_gives_way() {
        let mut report = sample();
        report.cluster.nodes[0].connectivity = Some(1);
        report.cluster.nodes[1].connectivity = Some(0); // standby: takes nothing anyway
        report.cluster.nodes[2].connectivity = Some(9); // offline: not shown
        report.cluster.nodes[3].connectivity = Some(2);
        let text = render_status(&report);
        for line in [
            "  node1  online, 1 ping target up (fewer than another node: runs no resources \
             until it reaches as many), DC (this node)\n",
            "  node2  standby, 0 ping targets up\n",
            "  node3  offline\n",
            "  node4  online, unprobed (probing what runs there), 2 ping targets up\n",
        ] {
            assert!(text.contains(line), "{line:?} in\n{text}");
        }
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(json["cluster"]["nodes"][3]["connectivity"], 2);
        // A report without the field (an older daemon) still reads.
        let mut old = json.clone();
        for node in old["cluster"]["nodes"].as_array_mut().unwrap() {
            node.as_object_mut().unwrap().remove("connectivity");
        }
        let back: StatusReport = serde_json::from_value(old).unwrap();
        assert!(back.cluster.nodes.iter().all(|n| n.connectivity.is_none()));
    }

    #[test]
    fn words() {
        assert_eq!(heard(None), "never");
        assert_eq!(heard(Some(59_999)), "60.0 s ago");
        assert_eq!(heard(Some(120_000)), "2 min ago");
        assert_eq!(heard(Some(7_200_000)), "2 h ago");
        assert_eq!(duration_words(Duration::from_secs(3)), "3 s");
        assert_eq!(duration_words(Duration::from_secs(200_000)), "2 d 7 h");
        assert_eq!(kib_words(800), "800 KiB");
        let record = EventRecord {
            at_ms: 1_795_316_645_123,
            kind: "node_left".into(),
            text: "node node2 left\n(dead)".into(),
            data: serde_json::Value::Null,
        };
        assert_eq!(
            render_event(&record),
            "2026-11-22T03:04:05.123Z node_left: node node2 left (dead)"
        );
    }
}
