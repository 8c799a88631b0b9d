//! The external-agent driver against real processes (agents written by the
//! tests as /bin/sh scripts): the environment is exactly the core's, secrets
//! never reach argv, stdin is delivered and closed, output is bounded, a
//! child left holding the pipes does not hold the request, and the deadline
//! kills the whole process group. Needs only /bin/sh.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ironbeat_fence::deadline::Deadline;
use ironbeat_fence::driver::external::{self, OUTPUT_LIMIT};
use ironbeat_fence::external::{Device, Fence, Invocation, Kind, Step};
use ironbeat_fence::power::{Action, PowerState};
use ironbeat_fence::ErrorKind;

struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let dir = std::env::temp_dir().join(format!("ibf-ext-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        Dir(dir)
    }

    fn script(&self, name: &str, body: &str) -> PathBuf {
        let path = self.0.join(name);
        fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o700)).unwrap();
        path
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn invocation(args: &[&str], env: &[(&str, &str)], stdin: &str) -> Invocation {
    Invocation {
        args: args.iter().map(|a| a.to_string()).collect(),
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
            .collect(),
        stdin: stdin.as_bytes().to_vec(),
        step: Step::Status,
    }
}

fn alive(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
}

#[test]
fn environment_argv_and_stdin_are_exactly_the_cores() {
    let dir = Dir::new("env");
    let agent = dir.script("agent", "env | sort\necho \"ARGS:$*\"\ncat\n");
    std::env::set_var("IBF_LEAK_CHECK", "leaked");
    let inv = invocation(
        &["off", "node2"],
        &[("passwd", "labpass"), ("PATH", "/usr/bin:/bin")],
        "action=off\n",
    );
    let exit = runtime()
        .block_on(external::run(
            &agent,
            &inv,
            Instant::now() + Duration::from_secs(10),
        ))
        .unwrap()
        .expect("finished");
    assert_eq!(exit.code, Some(0));
    let out = String::from_utf8(exit.stdout).unwrap();
    assert!(out.contains("passwd=labpass\n"), "{out}");
    assert!(
        !out.contains("IBF_LEAK_CHECK"),
        "our environment leaked: {out}"
    );
    assert!(out.contains("ARGS:off node2\n"), "{out}");
    assert!(out.ends_with("action=off\n"), "{out}");
}

#[test]
fn output_is_bounded_and_a_plugin_that_ignores_stdin_is_fine() {
    let dir = Dir::new("big");
    // 4 MiB on each pipe; never reads stdin (cluster-glue plugins don't).
    let agent = dir.script(
        "agent",
        "head -c 4194304 /dev/zero | tr '\\0' x\nhead -c 4194304 /dev/zero | tr '\\0' y >&2\nexit 3\n",
    );
    let inv = invocation(&[], &[("PATH", "/usr/bin:/bin")], &"k=v\n".repeat(100_000));
    let started = Instant::now();
    let exit = runtime()
        .block_on(external::run(
            &agent,
            &inv,
            Instant::now() + Duration::from_secs(20),
        ))
        .unwrap()
        .expect("finished");
    assert_eq!(exit.code, Some(3));
    assert_eq!(exit.stdout.len(), OUTPUT_LIMIT);
    assert_eq!(exit.stderr.len(), OUTPUT_LIMIT);
    assert!(started.elapsed() < Duration::from_secs(15));
}

#[test]
fn a_child_holding_the_pipes_does_not_hold_the_request() {
    let dir = Dir::new("linger");
    let pids = dir.0.join("pids");
    let agent = dir.script(
        "agent",
        &format!(
            "sleep 300 &\necho $! > {}\necho done\nexit 0\n",
            pids.display()
        ),
    );
    let inv = invocation(&[], &[("PATH", "/usr/bin:/bin")], "");
    let started = Instant::now();
    let exit = runtime()
        .block_on(external::run(
            &agent,
            &inv,
            Instant::now() + Duration::from_secs(20),
        ))
        .unwrap()
        .expect("finished");
    assert_eq!(exit.code, Some(0));
    assert_eq!(exit.stdout, b"done\n");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    let pid: u32 = fs::read_to_string(&pids).unwrap().trim().parse().unwrap();
    let gone = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(10));
        !alive(pid)
    });
    assert!(gone, "the leftover child {pid} was not killed");
}

#[test]
fn the_deadline_kills_the_process_group() {
    let dir = Dir::new("hang");
    let pids = dir.0.join("pids");
    let agent = dir.script(
        "agent",
        &format!("sleep 300 &\necho $$ $! > {}\nwait\n", pids.display()),
    );
    let mut device = Device::new(Kind::Agent, agent.to_str().unwrap());
    device.params.insert("password", "labpass").unwrap();
    let fence = Fence::new(
        device,
        "node2",
        Action::Off,
        Deadline::after(Instant::now(), Duration::from_millis(800)),
    )
    .unwrap();
    let started = Instant::now();
    let mut trace = Vec::new();
    let e = runtime()
        .block_on(external::fence_with_trace(&agent, fence, |l| {
            trace.push(l.to_string())
        }))
        .unwrap_err();
    let took = started.elapsed();
    assert_eq!(e.kind(), ErrorKind::Timeout, "{e}");
    assert!(
        took >= Duration::from_millis(750) && took < Duration::from_secs(2),
        "{took:?}"
    );
    assert!(
        trace.iter().any(|l| l.contains("killed at the deadline")),
        "{trace:?}"
    );
    assert!(!trace.iter().any(|l| l.contains("labpass")));
    for pid in fs::read_to_string(&pids).unwrap().split_whitespace() {
        let pid: u32 = pid.parse().unwrap();
        let gone = (0..100).any(|_| {
            std::thread::sleep(Duration::from_millis(10));
            !alive(pid)
        });
        assert!(gone, "process {pid} survived the deadline");
    }
}

#[test]
fn an_agent_that_tells_the_truth_is_verified() {
    let dir = Dir::new("truth");
    let state = dir.0.join("state");
    fs::write(&state, "on").unwrap();
    let agent = dir.script(
        "agent",
        &format!(
            "while read l; do case \"$l\" in action=*) a=${{l#action=}};; esac; done\n\
             case $a in\n\
             off) echo off > {s}; exit 0;;\n\
             on) echo on > {s}; exit 0;;\n\
             status) grep -q off {s} && exit 2; exit 0;;\n\
             esac\nexit 1\n",
            s = state.display()
        ),
    );
    let device = Device::new(Kind::Agent, agent.to_str().unwrap());
    let fence = Fence::new(
        device,
        "node2",
        Action::Reboot,
        Deadline::after(Instant::now(), Duration::from_secs(10)),
    )
    .unwrap();
    let o = runtime().block_on(external::fence(&agent, fence)).unwrap();
    assert!(o.off_seen && o.verified && o.command_sent);
    assert_eq!(o.power, Some(PowerState::On));
    assert_eq!(o.runs, 4);
    assert_eq!(fs::read_to_string(&state).unwrap().trim(), "on");
}

#[test]
fn a_missing_or_unexecutable_program_is_a_configuration_error() {
    let dir = Dir::new("missing");
    let inv = invocation(&[], &[], "");
    let e = runtime()
        .block_on(external::run(
            Path::new("/nonexistent/fence_x"),
            &inv,
            Instant::now() + Duration::from_secs(1),
        ))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    let plain = dir.0.join("plain");
    fs::write(&plain, "#!/bin/sh\n").unwrap();
    fs::set_permissions(&plain, fs::Permissions::from_mode(0o600)).unwrap();
    let e = runtime()
        .block_on(external::run(
            &plain,
            &inv,
            Instant::now() + Duration::from_secs(1),
        ))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert!(e.message().contains("chmod"), "{e}");
    assert!(external::agent_program("fence_nonesuch").is_err());
    assert!(external::agent_program("../etc/passwd").is_err());
    assert!(external::plugin_program("a/b").is_err());
}
