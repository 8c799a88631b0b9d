//! The admin socket: a Unix stream socket speaking [`protocol`].
//!
//! The socket's directory is created mode 0700 and the socket mode 0600:
//! only root administers the cluster. A socket file left by a daemon that
//! died is replaced; one a live daemon answers on is not (the second daemon
//! refuses to start and says so).
//!
//! Each connection is served by its own task: it reads one request line
//! (bounded by [`protocol::MAX_LINE`] and by [`REQUEST_TIMEOUT`]), asks the
//! main loop through a channel, and writes the reply. For `events` the main
//! loop hands out a bounded queue; a subscriber that lets it fill is dropped
//! (its connection closed), so a slow reader never holds up the daemon.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use ironbeat_link::driver::Handle;
use ironbeat_link::proto::endpoint::{Liveness, PeerStatus};
use tokio::io::{AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};

use super::protocol::{self, EventRecord, PathLink, PeerLinks, Reply, Request};
use crate::config::Config;

/// How long a client may take to send its request.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Event lines queued for one subscriber before it is dropped as too slow.
pub const SUBSCRIBER_QUEUE: usize = 256;

/// What a connection asks the main loop.
#[derive(Debug)]
pub enum Ask {
    /// A request other than `events`; the reply comes back on the channel.
    /// For `status`, the reply's `links` are filled by the connection.
    Admin(Request, oneshot::Sender<Reply>),
    /// `events`: send records on this queue until it is closed or full.
    Subscribe(mpsc::Sender<EventRecord>),
}

/// The listening socket; removes its file when dropped.
#[derive(Debug)]
pub struct Socket {
    listener: UnixListener,
    path: PathBuf,
}

/// Path names and the link handle, for the `links` part of a status.
#[derive(Debug, Clone)]
pub struct LinkView {
    handle: Handle,
    path_names: Vec<String>,
}

impl LinkView {
    /// The view of `config`'s links through `handle`.
    pub fn new(config: &Config, handle: Handle) -> LinkView {
        LinkView {
            handle,
            path_names: config.links.iter().map(|l| l.name()).collect(),
        }
    }

    /// Every peer as the link layer hears it now.
    pub async fn peers(&self) -> Vec<PeerLinks> {
        let now = Instant::now();
        let peers = self.handle.peers().await.unwrap_or_default();
        peers
            .into_iter()
            .map(|p| peer_links(&p, now, &self.path_names))
            .collect()
    }
}

fn peer_links(p: &PeerStatus, now: Instant, names: &[String]) -> PeerLinks {
    let ms = |t: Instant| u64::try_from(now.saturating_duration_since(t).as_millis()).ok();
    PeerLinks {
        node: p.name.clone(),
        liveness: match p.liveness {
            Liveness::Waiting => "unknown",
            Liveness::Alive => "alive",
            Liveness::Late => "late",
            Liveness::Dead => "dead",
        }
        .to_string(),
        generation: p.generation.map(|g| g.0),
        last_heard_ms: p.last_heard.and_then(ms),
        paths: p
            .paths
            .iter()
            .map(|&(path, up, last)| PathLink {
                name: names
                    .get(usize::from(path.0))
                    .cloned()
                    .unwrap_or_else(|| format!("path {}", path.0)),
                up,
                last_heard_ms: p.last_heard.and(ms(last)),
            })
            .collect(),
    }
}

impl Socket {
    /// Binds `path`: creates its directory (0700) if missing, replaces a
    /// stale socket, refuses when a live daemon answers there.
    pub fn bind(path: &Path) -> anyhow::Result<Socket> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if !dir.exists() {
                std::fs::create_dir_all(dir).with_context(|| {
                    format!("cannot create the socket directory {}", dir.display())
                })?;
                std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                    .with_context(|| format!("cannot make {} private (0700)", dir.display()))?;
            }
        }
        match std::fs::symlink_metadata(path) {
            Ok(meta) => {
                use std::os::unix::fs::FileTypeExt;
                if !meta.file_type().is_socket() {
                    bail!(
                        "{} exists and is not a socket; remove it or pass --socket PATH",
                        path.display()
                    );
                }
                match std::os::unix::net::UnixStream::connect(path) {
                    Ok(_) => bail!(
                        "another ironbeat daemon is running and listening on {}; stop it first \
                         (systemctl stop ironbeat, or kill its pid from `ironbeat status`), or \
                         give this one another --socket",
                        path.display()
                    ),
                    Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                        std::fs::remove_file(path).with_context(|| {
                            format!("cannot remove the stale socket {}", path.display())
                        })?;
                    }
                    Err(e) => {
                        return Err(e).with_context(|| {
                            format!("cannot tell whether a daemon listens on {}", path.display())
                        })
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(e).with_context(|| {
                    format!(
                        "cannot inspect {}: run as root, or give --socket a path this user \
                         can use",
                        path.display()
                    )
                })
            }
        }
        let listener = UnixListener::bind(path).with_context(|| {
            format!(
                "cannot listen on {}: run as root, or give --socket a path in a \
                     directory this user can write",
                path.display()
            )
        })?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("cannot make {} private (0600)", path.display()))?;
        Ok(Socket {
            listener,
            path: path.to_path_buf(),
        })
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Accepts connections for ever, serving each in its own task.
    pub async fn serve(&self, asks: mpsc::Sender<Ask>, links: LinkView) {
        loop {
            match self.listener.accept().await {
                Ok((stream, _)) => {
                    tokio::spawn(connection(stream, asks.clone(), links.clone()));
                }
                // Out of descriptors and the like: back off briefly rather
                // than spin.
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Serves one connection.
async fn connection(stream: UnixStream, asks: mpsc::Sender<Ask>, links: LinkView) {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let line = match tokio::time::timeout(REQUEST_TIMEOUT, protocol::read_line(&mut reader)).await {
        Ok(Ok(Some(line))) => line,
        Ok(Ok(None)) => return,
        Ok(Err(e)) => {
            let reply = Reply::BadRequest {
                message: format!("{e}; send one JSON request per line"),
            };
            let _ = write.write_all(&protocol::encode(&reply)).await;
            return;
        }
        Err(_) => {
            let reply = Reply::BadRequest {
                message: format!("no complete request line within {REQUEST_TIMEOUT:?}"),
            };
            let _ = write.write_all(&protocol::encode(&reply)).await;
            return;
        }
    };
    let request = match protocol::decode::<Request>(&line) {
        Ok(r) => r,
        Err(e) => {
            let reply = Reply::BadRequest {
                message: format!(
                    "{e}; a request is one JSON object such as {{\"request\":\"status\"}}"
                ),
            };
            let _ = write.write_all(&protocol::encode(&reply)).await;
            return;
        }
    };
    let stopping = || Reply::Refused {
        message: "the daemon is stopping".into(),
    };
    if request == Request::Events {
        let (tx, mut rx) = mpsc::channel(SUBSCRIBER_QUEUE);
        if asks.send(Ask::Subscribe(tx)).await.is_err() {
            let _ = write.write_all(&protocol::encode(&stopping())).await;
            return;
        }
        if write
            .write_all(&protocol::encode(&Reply::Streaming))
            .await
            .is_err()
        {
            return;
        }
        // Until the daemon drops us (too slow, or stopping) or the client
        // goes away (its read side ends or errs).
        let mut probe = [0u8; 64];
        loop {
            tokio::select! {
                record = rx.recv() => match record {
                    Some(record) => {
                        if write.write_all(&protocol::encode(&record)).await.is_err() {
                            return;
                        }
                    }
                    None => return,
                },
                n = tokio::io::AsyncReadExt::read(&mut reader, &mut probe) => {
                    if matches!(n, Ok(0) | Err(_)) {
                        return;
                    }
                }
            }
        }
    }
    let (tx, rx) = oneshot::channel();
    let is_status = request == Request::Status;
    let reply = if asks.send(Ask::Admin(request, tx)).await.is_err() {
        stopping()
    } else {
        rx.await.unwrap_or_else(|_| stopping())
    };
    let reply = match reply {
        Reply::Status(mut report) if is_status => {
            report.links = links.peers().await;
            Reply::Status(report)
        }
        other => other,
    };
    let _ = write.write_all(&protocol::encode(&reply)).await;
    let _ = write.shutdown().await;
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::FileTypeExt;

    use tokio::io::AsyncBufReadExt;

    use super::*;

    fn scratch(tag: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("ironbeat-control-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    /// A main loop that answers every request with Accepted naming it.
    async fn answer(mut asks: mpsc::Receiver<Ask>) {
        while let Some(ask) = asks.recv().await {
            match ask {
                Ask::Admin(request, reply) => {
                    let _ = reply.send(Reply::Accepted {
                        message: format!("{request:?}"),
                    });
                }
                Ask::Subscribe(events) => {
                    for i in 0..3 {
                        let record =
                            EventRecord::now("test", format!("event {i}"), Default::default());
                        let _ = events.try_send(record);
                    }
                }
            }
        }
    }

    async fn exchange(path: &Path, bytes: &[u8]) -> Vec<String> {
        let mut stream = UnixStream::connect(path).await.unwrap();
        stream.write_all(bytes).await.unwrap();
        let mut lines = Vec::new();
        let mut reader = BufReader::new(stream);
        loop {
            let mut line = String::new();
            match tokio::time::timeout(Duration::from_secs(8), reader.read_line(&mut line)).await {
                Ok(Ok(0)) | Err(_) | Ok(Err(_)) => return lines,
                Ok(Ok(_)) => {
                    lines.push(line);
                    if lines.len() == 4 {
                        return lines;
                    }
                }
            }
        }
    }

    fn dummy_links() -> LinkView {
        // A handle whose runner is gone: peers() answers an empty list.
        let endpoint = ironbeat_link::proto::endpoint::Endpoint::new(
            ironbeat_link::proto::endpoint::EndpointConfig {
                cluster: ironbeat_link::ClusterId::from_name("control-test"),
                node_name: "node1".into(),
                generation: ironbeat_link::Generation(1),
                timing: ironbeat_link::Timing {
                    keepalive: Duration::from_millis(100),
                    warntime: Duration::from_millis(300),
                    deadtime: Duration::from_millis(500),
                    initdead: Duration::from_secs(1),
                },
                keys: ironbeat_link::auth::KeyRing::new(
                    vec![ironbeat_link::auth::Key::new(
                        1,
                        ironbeat_link::auth::Algorithm::Sha256,
                        "control test",
                    )],
                    1,
                )
                .unwrap(),
                paths: vec![ironbeat_link::PathId(0)],
                peers: vec!["node2".into()],
                autojoin: false,
            },
            Instant::now(),
        )
        .unwrap();
        let (out, _) = mpsc::channel(1);
        let (runner, handle) = ironbeat_link::driver::Runner::new(endpoint, Vec::new(), out);
        drop(runner);
        LinkView {
            handle,
            path_names: vec![],
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn hostile_lines_get_bad_request_and_good_ones_an_answer() {
        let dir = scratch("hostile");
        let path = dir.join("sub").join("ironbeat.sock");
        let socket = Socket::bind(&path).unwrap();
        let dir_mode = std::fs::metadata(path.parent().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(dir_mode & 0o777, 0o700);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let (asks, rx) = mpsc::channel(8);
        tokio::spawn(answer(rx));
        let links = dummy_links();
        let server = async { socket.serve(asks, links).await };
        let client = async {
            let cases: &[&[u8]] = &[
                b"{\n",
                b"null\n",
                b"\xff\xfe\n",
                b"{\"request\":\"reboot_everything\"}\n",
                b"{\"request\":\"resource_stop\",\"resource\":7}\n",
                b"{\"request\":\"status\"}{\"request\":\"status\"}\n",
            ];
            for case in cases {
                let lines = exchange(&path, case).await;
                assert_eq!(lines.len(), 1, "{case:?}: {lines:?}");
                assert!(
                    lines[0].starts_with("{\"reply\":\"bad_request\""),
                    "{lines:?}"
                );
            }
            // Too long: refused without buffering it all.
            let long = vec![b'x'; protocol::MAX_LINE + 10];
            let lines = exchange(&path, &long).await;
            assert!(lines[0].contains("longer than"), "{lines:?}");
            let lines = exchange(&path, b"{\"request\":\"standby\"}\n").await;
            assert_eq!(
                lines,
                ["{\"reply\":\"accepted\",\"message\":\"Standby\"}\n"]
            );
            let lines = exchange(&path, b"{\"request\":\"events\"}\n").await;
            assert_eq!(lines[0], "{\"reply\":\"streaming\"}\n");
            assert_eq!(lines.len(), 4, "{lines:?}");
            assert!(lines[1].contains("event 0"), "{lines:?}");
        };
        tokio::select! {
            () = server => unreachable!(),
            () = client => {}
        }
        drop(socket);
        assert!(!path.exists(), "the socket file is removed at the end");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_stale_socket_is_replaced_and_a_live_one_refused() {
        let dir = scratch("stale");
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("ironbeat.sock");
        // Stale: bound by a listener that is gone.
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        assert!(std::fs::symlink_metadata(&path)
            .unwrap()
            .file_type()
            .is_socket());
        let live = Socket::bind(&path).unwrap();
        let e = Socket::bind(&path).unwrap_err().to_string();
        assert!(e.contains("another ironbeat daemon is running"), "{e}");
        drop(live);
        std::fs::write(&path, "not a socket").unwrap();
        let e = Socket::bind(&path).unwrap_err().to_string();
        assert!(e.contains("is not a socket"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
