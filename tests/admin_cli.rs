//! The admin commands (`ironbeat status|standby|online|takeover|resource|events`)
//! against a peer speaking the admin socket protocol: a small server thread
//! started by each test answers with protocol replies (it is the CLI's peer,
//! as the daemon's control socket is). At the end, the real daemon: one node
//! in a network namespace answering every admin command (with `events`
//! seeing what they cause, and systemd's side played by the test: the
//! notification socket hears READY/STATUS/WATCHDOG/STOPPING, the log file
//! as journal stream gets `<N>` priorities), and two nodes joined by a veth cable and a pty
//! null-modem cable, whose status shows both paths and then the pulled one
//! DOWN. Those need root, `ip` and `socat`, and skip loudly otherwise.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{run, Outcome, FAILURE, IRONBEAT, OK};
use ironbeat::daemon::protocol::{
    decode, encode, DaemonInfo, EventRecord, PathLink, PeerLinks, Reply, Request, StatusReport,
    MAX_LINE,
};
use ironbeat_cluster::{FenceOutcome, FenceRecord, NodeStatus, ResourceStatus, Status};

const NOT_RUNNING: i32 = 5;
const REFUSED: i32 = 6;
const AUTH: i32 = 4;

/// A private directory for one test's socket, removed at the end.
struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let path =
            std::env::temp_dir().join(format!("ironbeat-admin-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Dir(path)
    }

    fn socket(&self) -> PathBuf {
        self.0.join("ironbeat.sock")
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What the server does once it has read the request.
#[derive(Clone)]
enum Answer {
    /// Write these bytes, then close.
    Bytes(Vec<u8>),
    /// Write nothing and hold the connection for this long.
    Silence(Duration),
}

/// Accepts one connection (within 30 s), reads one request line, answers.
/// Returns the request it read.
fn serve(socket: &Path, answer: Answer) -> JoinHandle<Option<Request>> {
    let listener = UnixListener::bind(socket).unwrap();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(30);
        let stream = loop {
            match listener.accept() {
                Ok((stream, _)) => break stream,
                Err(_) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(5)),
                Err(_) => return None,
            }
        };
        stream.set_nonblocking(false).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut reader = BufReader::new(stream);
        let mut line = Vec::new();
        reader.read_until(b'\n', &mut line).ok()?;
        let request = decode::<Request>(&line).ok();
        let mut stream = reader.into_inner();
        match answer {
            Answer::Bytes(bytes) => {
                let _ = stream.write_all(&bytes);
            }
            Answer::Silence(d) => std::thread::sleep(d),
        }
        request
    })
}

fn reply(reply: &Reply) -> Answer {
    Answer::Bytes(encode(reply))
}

fn ironbeat(args: &[&str], socket: &Path) -> Outcome {
    let mut all: Vec<&str> = args.to_vec();
    let socket = socket.to_str().unwrap();
    all.extend(["--socket", socket]);
    run(IRONBEAT, &all, None)
}

fn report() -> StatusReport {
    let node = |name: &str, member, standby| NodeStatus {
        name: name.into(),
        member,
        probed: member,
        standby,
        config_mismatch: false,
        connectivity: None,
    };
    StatusReport {
        cluster: Status {
            node: "alpha".into(),
            dc: Some("alpha".into()),
            epoch: 2,
            quorum: true,
            nodes: vec![node("alpha", true, false), node("bravo", true, true)],
            resources: vec![ResourceStatus {
                name: "vip".into(),
                running_on: vec!["alpha".into()],
                failed_on: vec![],
                fail_counts: vec![("bravo".into(), 1)],
            }],
            fencing: vec![FenceRecord {
                node: "bravo".into(),
                by: "alpha".into(),
                at: 1_795_316_645,
                outcome: FenceOutcome::Failed,
            }],
            waiting: None,
        },
        links: vec![PeerLinks {
            node: "bravo".into(),
            liveness: "alive".into(),
            generation: Some(3),
            last_heard_ms: Some(40),
            paths: vec![PathLink {
                name: "ucast veth0 198.18.7.2".into(),
                up: true,
                last_heard_ms: Some(40),
            }],
        }],
        daemon: DaemonInfo {
            pid: 77,
            uptime_s: 90,
            rss_kib: 4096,
            config: "/etc/ha.d/ha.cf".into(),
            version: "0.1.0".into(),
        },
    }
}

#[test]
fn status_prints_the_cluster_for_people_and_json_for_tools() {
    let dir = Dir::new("status");
    let server = serve(&dir.socket(), reply(&Reply::Status(Box::new(report()))));
    let out = ironbeat(&["status"], &dir.socket());
    out.expect(OK);
    assert_eq!(server.join().unwrap(), Some(Request::Status));
    for needle in [
        "Cluster: DC alpha, quorum, membership epoch 2, 2 of 2 nodes members (alpha, bravo)",
        "  alpha  online, DC (this node)",
        "  bravo  standby",
        "  bravo  alive, generation 3, last heard 40 ms ago",
        "    ucast veth0 198.18.7.2  up    40 ms ago",
        "  vip  running on alpha; fail counts bravo=1",
        "  2026-11-22T03:04:05Z  bravo fenced by alpha: FAILED (retried)",
        "Daemon: pid 77, up 1 min, RSS 4.0 MiB, ironbeat 0.1.0, config /etc/ha.d/ha.cf",
    ] {
        assert!(
            out.stdout.contains(needle),
            "{needle:?} missing:\n{}",
            out.stdout
        );
    }

    std::fs::remove_file(dir.socket()).unwrap();
    let server = serve(&dir.socket(), reply(&Reply::Status(Box::new(report()))));
    let out = ironbeat(&["status", "--json"], &dir.socket());
    out.expect(OK);
    server.join().unwrap();
    let parsed: StatusReport = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(parsed, report());
}

#[test]
fn node_and_resource_commands_send_their_request() {
    let dir = Dir::new("requests");
    let cases: Vec<(Vec<&str>, Request)> = vec![
        (vec!["standby"], Request::Standby),
        (vec!["online"], Request::Online),
        (vec!["takeover"], Request::Takeover),
        (
            vec!["resource", "start", "vip"],
            Request::ResourceStart {
                resource: "vip".into(),
            },
        ),
        (
            vec!["resource", "stop", "vip"],
            Request::ResourceStop {
                resource: "vip".into(),
            },
        ),
        (
            vec!["resource", "cleanup", "web"],
            Request::ResourceCleanup {
                resource: "web".into(),
            },
        ),
        (
            vec!["resource", "move", "vip", "bravo"],
            Request::ResourceMove {
                resource: "vip".into(),
                node: "bravo".into(),
            },
        ),
    ];
    for (args, expected) in cases {
        let _ = std::fs::remove_file(dir.socket());
        let message = format!("done: {}", args.join(" "));
        let server = serve(
            &dir.socket(),
            reply(&Reply::Accepted {
                message: message.clone(),
            }),
        );
        let out = ironbeat(&args, &dir.socket());
        out.expect(OK);
        assert_eq!(out.stdout, format!("{message}\n"));
        assert_eq!(server.join().unwrap(), Some(expected), "{args:?}");
    }
}

#[test]
fn a_refusal_is_an_error_with_the_daemons_reason() {
    let dir = Dir::new("refused");
    let why = "no node named brovo; did you mean bravo?";
    let server = serve(
        &dir.socket(),
        reply(&Reply::Refused {
            message: why.into(),
        }),
    );
    let out = ironbeat(&["resource", "move", "vip", "brovo"], &dir.socket());
    out.expect(REFUSED);
    server.join().unwrap();
    assert!(out.stderr.contains(why), "{}", out.stderr);
    assert!(out.stdout.is_empty());
}

#[test]
fn no_daemon_says_how_to_start_it() {
    let dir = Dir::new("absent");
    let out = ironbeat(&["status"], &dir.socket());
    out.expect(NOT_RUNNING);
    let expected = format!(
        "ironbeat is not running on this node (no socket at {}): start it with systemctl \
         start ironbeat",
        dir.socket().display()
    );
    assert!(out.stderr.contains(&expected), "{}", out.stderr);

    // A socket left behind by a daemon that died: nobody listens.
    drop(UnixListener::bind(dir.socket()).unwrap());
    let out = ironbeat(&["standby"], &dir.socket());
    out.expect(NOT_RUNNING);
    assert!(out.stderr.contains("nothing listens on"), "{}", out.stderr);
}

#[test]
fn a_non_root_user_is_told_to_run_as_root() {
    if !nix::unistd::geteuid().is_root() || !Path::new("/usr/bin/setpriv").exists() {
        eprintln!("skipped: needs root and setpriv (util-linux) to run the command as nobody");
        return;
    }
    let dir = Dir::new("perm");
    std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o755)).unwrap();
    let _listener = UnixListener::bind(dir.socket()).unwrap();
    std::fs::set_permissions(dir.socket(), std::fs::Permissions::from_mode(0o600)).unwrap();
    let socket = dir.socket();
    let out = run(
        "/usr/bin/setpriv",
        &[
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            IRONBEAT,
            "status",
            "--socket",
            socket.to_str().unwrap(),
        ],
        None,
    );
    if out.stderr.contains("Permission denied") && out.code == 126 {
        eprintln!("skipped: nobody cannot execute the test binary here");
        return;
    }
    out.expect(AUTH);
    assert!(out.stderr.contains("run as root"), "{}", out.stderr);
}

#[test]
fn a_silent_daemon_times_out_in_five_seconds() {
    let dir = Dir::new("silent");
    let server = serve(&dir.socket(), Answer::Silence(Duration::from_secs(8)));
    let started = Instant::now();
    let out = ironbeat(&["status"], &dir.socket());
    let took = started.elapsed();
    out.expect(FAILURE);
    assert!(
        out.stderr.contains("did not answer within 5 s"),
        "{}",
        out.stderr
    );
    assert!(
        took >= Duration::from_secs(5) && took < Duration::from_secs(7),
        "{took:?}"
    );
    server.join().unwrap();
}

#[test]
fn hostile_replies_are_errors_not_hangs() {
    let dir = Dir::new("hostile");
    let mut long = vec![b'x'; MAX_LINE + 100];
    long.push(b'\n');
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"not json\n".to_vec(), "unexpected answer"),
        (b"{\"reply\":\"launch\"}\n".to_vec(), "unexpected answer"),
        (Vec::new(), "closed the connection without answering"),
        (long, "longer than"),
        (
            encode(&Reply::BadRequest {
                message: "unknown request".into(),
            }),
            "did not understand the request: unknown request",
        ),
        // A status where an acceptance was expected (standby).
        (
            encode(&Reply::Status(Box::new(report()))),
            "a status report where another reply was expected",
        ),
    ];
    for (bytes, needle) in cases {
        let _ = std::fs::remove_file(dir.socket());
        let server = serve(&dir.socket(), Answer::Bytes(bytes));
        let out = ironbeat(&["standby"], &dir.socket());
        out.expect(FAILURE);
        assert!(out.stderr.contains(needle), "{needle}: {}", out.stderr);
        server.join().unwrap();
    }
}

#[test]
fn events_stream_until_the_daemon_closes() {
    let dir = Dir::new("events");
    let records = [
        EventRecord {
            at_ms: 1_795_316_645_123,
            kind: "node_left".into(),
            text: "node bravo left (dead on every link, or restarted)".into(),
            data: serde_json::json!({"node": "bravo"}),
        },
        EventRecord {
            at_ms: 1_795_316_646_000,
            kind: "fenced".into(),
            text: "fencing bravo: Confirmed".into(),
            data: serde_json::Value::Null,
        },
    ];
    let mut stream = encode(&Reply::Streaming);
    for r in &records {
        stream.extend(encode(r));
    }
    let server = serve(&dir.socket(), Answer::Bytes(stream.clone()));
    let out = ironbeat(&["events"], &dir.socket());
    out.expect(OK);
    assert_eq!(server.join().unwrap(), Some(Request::Events));
    assert_eq!(
        out.stdout,
        "2026-11-22T03:04:05.123Z node_left: node bravo left (dead on every link, or restarted)\n\
         2026-11-22T03:04:06.000Z fenced: fencing bravo: Confirmed\n"
    );

    std::fs::remove_file(dir.socket()).unwrap();
    let server = serve(&dir.socket(), Answer::Bytes(stream));
    let out = ironbeat(&["events", "--json"], &dir.socket());
    out.expect(OK);
    server.join().unwrap();
    let parsed: Vec<EventRecord> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(parsed, records);

    // A refusal instead of the stream.
    std::fs::remove_file(dir.socket()).unwrap();
    let server = serve(
        &dir.socket(),
        reply(&Reply::Refused {
            message: "too many event listeners (8); close one".into(),
        }),
    );
    let out = ironbeat(&["events"], &dir.socket());
    out.expect(REFUSED);
    server.join().unwrap();
    assert!(out.stderr.contains("too many event listeners"));
}

/// A network namespace with a veth pair (ib0 198.18.9.1/24 ↔ ib1), removed
/// on drop, with the daemon started in it killed (by its PID) first.
struct Netns {
    name: String,
    daemon: Option<std::process::Child>,
}

impl Netns {
    fn create(name: &str) -> Option<Netns> {
        let ip = |args: &[&str]| {
            std::process::Command::new("ip")
                .args(args)
                .status()
                .map(|s| s.success())
                .unwrap_or(false)
        };
        let _ = std::process::Command::new("ip")
            .args(["netns", "del", name])
            .stderr(std::process::Stdio::null())
            .status();
        if !ip(&["netns", "add", name]) {
            return None;
        }
        let ns = Netns {
            name: name.to_string(),
            daemon: None,
        };
        let ok = ip(&["-n", name, "link", "set", "lo", "up"])
            && ip(&[
                "-n", name, "link", "add", "ib0", "type", "veth", "peer", "name", "ib1",
            ])
            && ip(&["-n", name, "addr", "add", "198.18.9.1/24", "dev", "ib0"])
            && ip(&["-n", name, "link", "set", "ib0", "up"])
            && ip(&["-n", name, "link", "set", "ib1", "up"]);
        ok.then_some(ns)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Some(mut child) = self.daemon.take() {
            // SIGTERM first: the daemon stops its resources and exits.
            let pid = nix::unistd::Pid::from_raw(child.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::process::Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// Reads lines from `reader` until one contains `needle` (at most 10 s).
fn wait_for_line(lines: &std::sync::mpsc::Receiver<String>, needle: &str) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = Vec::new();
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match lines.recv_timeout(left) {
            Ok(line) => {
                let done = line.contains(needle);
                seen.push(line);
                if done {
                    return seen;
                }
            }
            Err(_) => break,
        }
    }
    panic!("no line with {needle:?} within 10 s; got {seen:#?}");
}

#[test]
fn the_real_daemon_answers_every_admin_command() {
    if !ironbeat_hw_tests::env::can_run("admin_cli real daemon", &[]) {
        return;
    }
    let dir = Dir::new("daemon");
    let ha_d = dir.0.join("ha.d");
    std::fs::create_dir_all(&ha_d).unwrap();
    // One node; its one link is a ucast to a 198.18 address inside the namespace.
    std::fs::write(
        ha_d.join("ha.cf"),
        "node solo\nkeepalive 100ms\ndeadtime 1s\ninitdead 2s\nucast ib0 198.18.9.2\n",
    )
    .unwrap();
    let authkeys = ha_d.join("authkeys");
    std::fs::write(&authkeys, "auth 1\n1 sha256 admin-cli-test-key\n").unwrap();
    std::fs::set_permissions(&authkeys, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(
        ha_d.join("haresources"),
        "solo IPaddr2::198.18.9.100/24/ib0\n",
    )
    .unwrap();
    let vip = "IPaddr2_198.18.9.100_24_ib0";

    let Some(mut ns) = Netns::create(&format!("ibadm{}", std::process::id())) else {
        eprintln!("skipped: cannot create a network namespace with a veth pair here");
        return;
    };
    let socket = dir.socket();
    let log = std::fs::File::create(dir.0.join("daemon.log")).unwrap();
    // systemd's side: a notification socket, a watchdog of 300 ms, and the
    // log file as the "journal" stream (JOURNAL_STREAM names stderr's inode).
    let notify_path = dir.0.join("notify.sock");
    let systemd = std::os::unix::net::UnixDatagram::bind(&notify_path).unwrap();
    systemd
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let (notify_tx, notifications) = std::sync::mpsc::channel::<String>();
    let stop_reading = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let stop = stop_reading.clone();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            // Bounded: the test stops it; 120 s is a backstop.
            let deadline = Instant::now() + Duration::from_secs(120);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && Instant::now() < deadline {
                if let Ok(n) = systemd.recv(&mut buffer) {
                    let _ = notify_tx.send(String::from_utf8_lossy(&buffer[..n]).into_owned());
                }
            }
        })
    };
    let journal = {
        use std::os::unix::fs::MetadataExt;
        let m = log.metadata().unwrap();
        format!("{}:{}", m.dev(), m.ino())
    };
    let daemon = std::process::Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns.name,
            IRONBEAT,
            "run",
            "--node",
            "solo",
            "--foreground",
        ])
        .arg("--ha-d")
        .arg(&ha_d)
        .arg("--state-dir")
        .arg(dir.0.join("state"))
        .arg("--socket")
        .arg(&socket)
        .env("NOTIFY_SOCKET", &notify_path)
        .env("WATCHDOG_USEC", "300000")
        .env_remove("WATCHDOG_PID")
        .env("JOURNAL_STREAM", &journal)
        .stdin(std::process::Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    ns.daemon = Some(daemon);
    let daemon_log = || std::fs::read_to_string(dir.0.join("daemon.log")).unwrap_or_default();

    // Ready when the status shows the VIP running (at most 15 s).
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        let out = ironbeat(&["status"], &socket);
        if out.code == OK && out.stdout.contains(&format!("{vip}  running on solo")) {
            break out;
        }
        assert!(
            Instant::now() < deadline,
            "the daemon did not run the VIP within 15 s:\n{}\n{}\ndaemon log:\n{}",
            out.stdout,
            out.stderr,
            daemon_log()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(
        status
            .stdout
            .starts_with("Cluster: DC solo, quorum, membership epoch "),
        "{}",
        status.stdout
    );
    assert!(status.stdout.contains("  solo  online, DC (this node)"));
    assert!(status.stdout.contains("config "), "{}", status.stdout);

    let json = ironbeat(&["status", "--json"], &socket);
    json.expect(OK);
    let report: StatusReport = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(report.cluster.dc.as_deref(), Some("solo"));
    assert!(report.daemon.pid > 0 && report.daemon.rss_kib > 0);

    // The event stream sees what the admin commands cause.
    let mut events = std::process::Command::new(IRONBEAT)
        .args(["events", "--socket", socket.to_str().unwrap()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let (tx, lines) = std::sync::mpsc::channel();
    let stdout = events.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // Give the subscription a moment to be registered before acting.
    std::thread::sleep(Duration::from_millis(300));

    let out = ironbeat(&["resource", "stop", vip], &socket);
    out.expect(OK);
    let seen = wait_for_line(&lines, &format!("{vip} stopped on solo"));
    assert!(seen.iter().all(|l| l.starts_with("20")), "{seen:#?}");

    let out = ironbeat(&["resource", "stop", "nosuch"], &socket);
    out.expect(REFUSED);
    assert!(out.stderr.contains("nosuch"), "{}", out.stderr);

    ironbeat(&["resource", "start", vip], &socket).expect(OK);
    wait_for_line(&lines, &format!("{vip} started on solo"));
    ironbeat(&["standby"], &socket).expect(OK);
    wait_for_line(&lines, &format!("{vip} stopped on solo"));
    let out = ironbeat(&["status"], &socket);
    assert!(out.stdout.contains("  solo  standby"), "{}", out.stdout);
    ironbeat(&["online"], &socket).expect(OK);
    wait_for_line(&lines, &format!("{vip} started on solo"));
    ironbeat(&["takeover"], &socket).expect(OK);
    ironbeat(&["resource", "move", vip, "solo"], &socket).expect(OK);
    ironbeat(&["resource", "cleanup", vip], &socket).expect(OK);

    // Two watchdog pings (every 150 ms) before the daemon stops (at most 5 s).
    let mut heard: Vec<String> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(5);
    while heard.iter().filter(|m| *m == "WATCHDOG=1").count() < 2 && Instant::now() < deadline {
        if let Ok(m) = notifications.recv_timeout(Duration::from_millis(100)) {
            heard.push(m);
        }
    }
    let _ = events.kill();
    let _ = events.wait();
    drop(ns);
    // The daemon removed its socket on the way out, or left nobody listening.
    let out = ironbeat(&["status"], &socket);
    out.expect(NOT_RUNNING);

    // What systemd heard: ready with a status, the cluster's state, the
    // watchdog, stopping.
    stop_reading.store(true, std::sync::atomic::Ordering::Relaxed);
    reader.join().unwrap();
    heard.extend(notifications.try_iter());
    let has = |prefix: &str| heard.iter().any(|m| m.starts_with(prefix));
    assert!(
        has("READY=1\nSTATUS=solo running: 1 link(s), admin socket "),
        "{heard:#?}"
    );
    assert!(has("STATUS=DC solo, quorum, members solo"), "{heard:#?}");
    assert!(has("STOPPING=1"), "{heard:#?}");
    let pings = heard.iter().filter(|m| *m == "WATCHDOG=1").count();
    assert!(pings >= 2, "{pings} watchdog pings: {heard:#?}");
    // The journal got priorities, not timestamps.
    let log = daemon_log();
    assert!(log.lines().any(|l| l.starts_with("<5>")), "{log}");
    assert!(!log.lines().any(|l| l.starts_with("20")), "{log}");
}

/// Runs `ironbeat status` against `socket` until `check` accepts its output
/// (at most `limit`); returns the last output.
fn status_until(socket: &Path, limit: Duration, check: impl Fn(&str) -> bool) -> Outcome {
    let deadline = Instant::now() + limit;
    loop {
        let out = ironbeat(&["status"], socket);
        if out.code == OK && check(&out.stdout) {
            return out;
        }
        if Instant::now() > deadline {
            return out;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Kills a daemon started in a namespace by its PID when dropped.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn status_shows_every_link_of_two_real_daemons() {
    use ironbeat_hw_tests::topology::{Media, Pair, Timers};
    if !ironbeat_hw_tests::env::can_run("admin_cli two daemons", &["socat"]) {
        return;
    }
    let media = Media {
        ucast: true,
        serial: true,
        ..Media::default()
    };
    let pair = Pair::build("admincli", media, Timers::millis(50, 500)).unwrap();
    let mut daemons = Vec::new();
    let mut sockets = Vec::new();
    for (ns, node) in [(&pair.n1, "node1"), (&pair.n2, "node2")] {
        let dir = pair.scratch.join(node);
        let socket = dir.join("ironbeat.sock");
        let log = std::fs::File::create(dir.join("daemon.log")).unwrap();
        // `ip netns exec` execs in place: the child's PID is the daemon's.
        let child = ns
            .command(IRONBEAT)
            .args(["run", "--foreground", "--node", node, "--ha-d"])
            .arg(dir.join("ha.d"))
            .arg("--state-dir")
            .arg(dir.join("state"))
            .arg("--socket")
            .arg(&socket)
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        daemons.push(Running(child));
        sockets.push(socket);
    }
    let logs = || {
        ["node1", "node2"]
            .iter()
            .map(|n| {
                std::fs::read_to_string(pair.scratch.join(n).join("daemon.log")).unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join("\n----\n")
    };
    let c0 = pair.c0.as_ref().unwrap();
    let ucast = format!("ucast eth0 {}", c0.b_addr());

    let out = status_until(&sockets[0], Duration::from_secs(20), |s| {
        s.contains("2 of 2 nodes members") && s.matches("  up  ").count() == 2
    });
    assert!(
        out.stdout.contains("2 of 2 nodes members (node1, node2)"),
        "{}\n{}\n{}",
        out.stdout,
        out.stderr,
        logs()
    );
    assert!(out.stdout.contains("  node1  online"), "{}", out.stdout);
    assert!(out.stdout.contains("  node2  online"), "{}", out.stdout);
    assert!(
        out.stdout.contains("\n  node2  alive, generation "),
        "{}",
        out.stdout
    );
    let path_line = |stdout: &str, name: &str| -> String {
        stdout
            .lines()
            .find(|l| l.trim_start().starts_with(name))
            .unwrap_or_default()
            .to_string()
    };
    let line = path_line(&out.stdout, &ucast);
    assert!(
        line.contains("  up  ") && line.ends_with(" ms ago"),
        "{line:?}\n{}",
        out.stdout
    );
    assert!(
        path_line(&out.stdout, "serial ").contains("  up  "),
        "{}",
        out.stdout
    );

    // Pull the ethernet cable: the serial line carries on, the ucast path is DOWN.
    c0.pull().unwrap();
    let out = status_until(&sockets[0], Duration::from_secs(10), |s| {
        path_line(s, &ucast).contains("DOWN")
    });
    let line = path_line(&out.stdout, &ucast);
    assert!(
        line.contains("DOWN"),
        "{line:?}\n{}\n{}",
        out.stdout,
        logs()
    );
    assert!(
        path_line(&out.stdout, "serial ").contains("  up  "),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("2 of 2 nodes members"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("\n  node2  alive"), "{}", out.stdout);

    // The other node answers on its own socket, with its own view.
    let out = ironbeat(&["status", "--json"], &sockets[1]);
    out.expect(OK);
    let report: StatusReport = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(report.cluster.node, "node2");
    assert_eq!(report.links.len(), 1);
    assert_eq!(report.links[0].node, "node1");
    assert_eq!(report.links[0].paths.len(), 2);
    drop(daemons);
}
