//! Runs external agents (cluster-glue plugins, fence-agents agents) for the
//! sans-I/O [`crate::external::request`] core.
//!
//! Each run: the program is spawned directly (no shell), with exactly the
//! environment the core built (nothing of ours is inherited), in its own
//! process group, working directory `/`. Its stdin gets the core's bytes and
//! is closed; stdout and stderr are read concurrently, each kept up to
//! [`OUTPUT_LIMIT`] bytes (the rest is drained and dropped so the agent never
//! blocks on a full pipe). At the request's deadline the whole process group
//! gets SIGKILL (an agent's ipmitool or ssh children too). Secrets travel only
//! in the environment or stdin, never in argv.
#![forbid(unsafe_code)]

use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use crate::deadline::Deadline;
use crate::external::request::{query_answer, query_invocation};
use crate::external::{Answer, Device, Exit, Fence, Invocation, Kind, Next, Outcome, Query};
use crate::{Error, ErrorKind};

/// The most bytes kept of an agent's stdout, and of its stderr.
pub const OUTPUT_LIMIT: usize = 64 * 1024;
/// Where Debian, Ubuntu, SUSE and RHEL's cluster-glue install `external/*` plugins.
pub const PLUGIN_DIRS: &[&str] = &[
    "/usr/lib/stonith/plugins/external",
    "/usr/lib64/stonith/plugins/external",
];
/// Where fence-agents installs its agents.
pub const AGENT_DIRS: &[&str] = &["/usr/sbin", "/sbin", "/usr/local/sbin"];
/// After the agent exits, how long its leftover children may hold its
/// output pipes open before they are killed.
const LINGER: Duration = Duration::from_millis(200);

/// The program of a cluster-glue plugin: `name` (`ipmi` for
/// `external/ipmi`) in the first of [`PLUGIN_DIRS`] that has it, or an
/// absolute path.
pub fn plugin_program(name: &str) -> Result<PathBuf, Error> {
    find_program(
        name,
        PLUGIN_DIRS,
        "cluster-glue plugin",
        "apt-get install cluster-glue",
    )
}

/// The program of a fence-agents agent: `name` (`fence_ipmilan`) in the
/// first of [`AGENT_DIRS`] that has it, or an absolute path.
pub fn agent_program(name: &str) -> Result<PathBuf, Error> {
    find_program(
        name,
        AGENT_DIRS,
        "fence agent",
        "apt-get install fence-agents",
    )
}

/// The program of `device` ([`plugin_program`] or [`agent_program`]).
pub fn program(device: &Device) -> Result<PathBuf, Error> {
    match device.kind {
        Kind::Plugin => plugin_program(&device.name),
        Kind::Agent => agent_program(&device.name),
    }
}

fn find_program(name: &str, dirs: &[&str], what: &str, install: &str) -> Result<PathBuf, Error> {
    if name.starts_with('/') {
        let path = PathBuf::from(name);
        if path.is_file() {
            return Ok(path);
        }
        return Err(Error::new(
            ErrorKind::Config,
            format!("{what} {name} does not exist or is not a file; give the agent's full path"),
        ));
    }
    let valid = !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
    if !valid {
        return Err(Error::new(
            ErrorKind::Config,
            format!(
                "{what} name {name:?} is not valid; give a name like {} or an absolute path",
                if dirs == AGENT_DIRS {
                    "fence_ipmilan"
                } else {
                    "ipmi (for external/ipmi)"
                }
            ),
        ));
    }
    for dir in dirs {
        let path = Path::new(dir).join(name);
        if path.is_file() {
            return Ok(path);
        }
    }
    Err(Error::new(
        ErrorKind::Config,
        format!(
            "no {what} {name} in {}; {install}, or check the name",
            dirs.join(" or ")
        ),
    ))
}

/// Runs one invocation of `program`, killed with its process group at
/// `until`. `Ok(None)`: it was still running at `until`.
pub async fn run(program: &Path, inv: &Invocation, until: Instant) -> Result<Option<Exit>, Error> {
    let mut child = spawn(program, inv).await?;
    let pgid = child.id().map(|id| Pid::from_raw(id as i32));
    let stdin = child.stdin.take();
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let mut out = Vec::new();
    let mut err = Vec::new();
    let mut status = None;
    let mut io_done = false;
    let deadline = tokio::time::Instant::from_std(until);
    {
        let io = async {
            let write = async {
                if let Some(mut pipe) = stdin {
                    // An agent that reads no stdin (a plugin) closes it: EPIPE is fine.
                    let _ = pipe.write_all(&inv.stdin).await;
                    let _ = pipe.shutdown().await;
                }
            };
            tokio::join!(
                write,
                read_limited(stdout, &mut out),
                read_limited(stderr, &mut err)
            );
        };
        tokio::pin!(io);
        let mut limit = deadline;
        loop {
            tokio::select! {
                () = &mut io, if !io_done => io_done = true,
                s = child.wait(), if status.is_none() => {
                    status = Some(s.map_err(|e| Error::io("waiting for the agent", e))?);
                    limit = limit.min(tokio::time::Instant::now() + LINGER);
                }
                () = tokio::time::sleep_until(limit) => break,
            }
            if io_done && status.is_some() {
                break;
            }
        }
    }
    // Still running at the deadline, or children still holding its pipes:
    // the whole group goes (the group exists while those members do, so its
    // id cannot have been reused).
    if status.is_none() || !io_done {
        if let Some(pgid) = pgid {
            let _ = killpg(pgid, Signal::SIGKILL);
        }
    }
    let Some(status) = status else {
        let _ = child.wait().await;
        return Ok(None);
    };
    Ok(Some(Exit {
        code: status.code(),
        stdout: out,
        stderr: err,
    }))
}

async fn spawn(program: &Path, inv: &Invocation) -> Result<tokio::process::Child, Error> {
    let mut command = tokio::process::Command::new(program);
    command
        .args(&inv.args)
        .env_clear()
        .envs(
            inv.env
                .iter()
                .map(|(k, v)| (k.as_str(), OsStr::from_bytes(v))),
        )
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true);
    // ETXTBSY: another thread of ours still had the (freshly written)
    // script open for writing when it forked; it closes within moments.
    let mut attempts = 0;
    loop {
        match command.spawn() {
            Ok(child) => return Ok(child),
            Err(e)
                if e.raw_os_error() == Some(nix::errno::Errno::ETXTBSY as i32) && attempts < 20 =>
            {
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(e) => return Err(spawn_error(program, e)),
        }
    }
}

fn spawn_error(program: &Path, e: io::Error) -> Error {
    let shown = program.display();
    match e.kind() {
        io::ErrorKind::NotFound => Error::new(
            ErrorKind::Config,
            format!("cannot run {shown}: it (or its interpreter) does not exist; install it or fix the path"),
        ),
        io::ErrorKind::PermissionDenied => Error::new(
            ErrorKind::Config,
            format!("cannot run {shown}: permission denied; it must be executable (chmod 755 {shown})"),
        ),
        _ => Error::io(format!("running {shown}"), e),
    }
}

async fn read_limited<R: AsyncRead + Unpin>(pipe: Option<R>, into: &mut Vec<u8>) {
    let Some(mut pipe) = pipe else {
        return;
    };
    let mut buf = [0u8; 4096];
    loop {
        match pipe.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                let room = OUTPUT_LIMIT.saturating_sub(into.len());
                into.extend_from_slice(&buf[..n.min(room)]);
            }
        }
    }
}

/// Runs a fence request to its end; `trace` sees one line per run
/// (what ran, how it ended, how long it took; never a parameter value).
pub async fn fence_with_trace(
    program: &Path,
    mut fence: Fence,
    mut trace: impl FnMut(&str),
) -> Result<Outcome, Error> {
    let label = fence.device().label();
    // Bounded: every run or sleep moves time forward, and the deadline ends it.
    loop {
        let now = Instant::now();
        match fence.next(now) {
            Next::Done(result) => return result,
            Next::Sleep(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
            Next::Run(inv) => {
                let what = describe(&label, &inv);
                trace(&format!("running {what}"));
                let until = fence.deadline().end();
                let started = Instant::now();
                match run(program, &inv, until).await {
                    Ok(Some(exit)) => {
                        trace(&format!(
                            "{what}: {} after {} ms",
                            exit.code
                                .map_or("killed by a signal".to_string(), |c| format!("exit {c}")),
                            started.elapsed().as_millis()
                        ));
                        fence.handle_exit(Instant::now(), exit);
                    }
                    Ok(None) => {
                        trace(&format!("{what}: killed at the deadline"));
                        fence.handle_deadline(Instant::now());
                    }
                    Err(e) => return Err(e),
                }
            }
        }
    }
}

/// Runs a fence request to its end, quietly.
pub async fn fence(program: &Path, fence: Fence) -> Result<Outcome, Error> {
    fence_with_trace(program, fence, |_| {}).await
}

/// [`fence_with_trace`] on a runtime of its own (for the command-line tools).
pub fn fence_blocking(
    program: &Path,
    request: Fence,
    trace: impl FnMut(&str),
) -> Result<Outcome, Error> {
    super::block_on(fence_with_trace(program, request, trace))?
}

/// Asks `device` an information question, within `budget`.
pub async fn query(
    program: &Path,
    device: &Device,
    what: Query,
    budget: Duration,
) -> Result<Answer, Error> {
    let inv = query_invocation(device, what)?;
    let deadline = Deadline::after(Instant::now(), budget);
    match run(program, &inv, deadline.end()).await? {
        Some(exit) => query_answer(device, what, &exit),
        None => Err(Error::new(
            ErrorKind::Timeout,
            format!(
                "{} did not answer {what:?} within {} s and was killed; check that it can reach \
                 its device",
                device.label(),
                budget.as_secs_f64()
            ),
        )),
    }
}

/// [`query`] on a runtime of its own.
pub fn query_blocking(
    program: &Path,
    device: &Device,
    what: Query,
    budget: Duration,
) -> Result<Answer, Error> {
    super::block_on(query(program, device, what, budget))?
}

fn describe(label: &str, inv: &Invocation) -> String {
    if inv.args.is_empty() {
        let action = inv
            .stdin
            .split(|b| *b == b'\n')
            .next()
            .map(|l| String::from_utf8_lossy(l).into_owned())
            .unwrap_or_default();
        format!("{label} ({action} on stdin)")
    } else {
        format!("{label} {}", inv.args.join(" "))
    }
}
