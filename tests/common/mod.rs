//! Shared by the integration tests: running the binary with a deadline and
//! checking its exit code (`crm simulate` tests), and the virtual-cluster
//! harness of the Cluster Test Suite ([`cluster`]).
#![allow(dead_code)]

pub mod cluster;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The `ironbeat` binary under test.
pub const IRONBEAT: &str = env!("CARGO_BIN_EXE_ironbeat");

/// Exit codes of `ironbeat` (src/cli/exit.rs).
pub const OK: i32 = 0;
pub const FAILURE: i32 = 1;
pub const USAGE: i32 = 2;
pub const CONFIG: i32 = 3;

/// Runs `ironbeat crm simulate ARGS`.
pub fn simulate(args: &[&str]) -> Outcome {
    let mut all = vec!["crm", "simulate"];
    all.extend_from_slice(args);
    run(IRONBEAT, &all, None)
}

/// What a run printed and returned.
#[derive(Debug)]
pub struct Outcome {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    #[track_caller]
    pub fn expect(&self, code: i32) {
        assert_eq!(
            self.code, code,
            "exit code {} instead of {code}\nstdout:\n{}\nstderr:\n{}",
            self.code, self.stdout, self.stderr
        );
    }
}

/// Runs `program args` with `stdin`, killing it (by PID) after 60 s.
pub fn run(program: &str, args: &[&str], stdin: Option<&[u8]>) -> Outcome {
    let mut child = Command::new(program)
        .args(args)
        .env("LC_ALL", "C")
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    if let Some(bytes) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        pipe.write_all(bytes).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{program} {args:?} did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let out = child.wait_with_output().unwrap();
    Outcome {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}
