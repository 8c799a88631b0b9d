//! The built-in Filesystem agent with a loop-mounted ext4 image (tmpfs when
//! loop devices are unavailable; the test prints which): mount, monitor,
//! stop killing the processes that hold the mount, unmount.

mod common;

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{spec, TIMEOUT};
use ironbeat_agents::{execute, Class, ExecEnv, OcfCode, Operation};
use ironbeat_hw_tests::Scratch;

fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// Detaches the mount and the loop device even when the test fails.
struct Cleanup {
    mountpoint: std::path::PathBuf,
    loop_device: Option<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.mountpoint, nix::mount::MntFlags::MNT_DETACH);
        if let Some(dev) = &self.loop_device {
            let _ = Command::new("losetup").args(["-d", dev]).status();
        }
    }
}

/// Straight to the stderr handle (libtest captures print!/eprint!).
fn say(line: &str) {
    use std::io::Write;
    let _ = std::io::stderr().write_all(format!("\n{line}\n").as_bytes());
}

fn loop_device(image: &std::path::Path) -> Option<String> {
    let ok = Command::new("truncate")
        .args(["-s", "16M"])
        .arg(image)
        .status()
        .ok()?
        .success()
        && Command::new("mkfs.ext4")
            .args(["-q", "-F"])
            .arg(image)
            .stdout(Stdio::null())
            .status()
            .ok()?
            .success();
    if !ok {
        return None;
    }
    let out = Command::new("losetup")
        .args(["-f", "--show"])
        .arg(image)
        .output()
        .ok()?;
    let dev = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && dev.starts_with("/dev/loop")).then_some(dev)
}

#[test]
fn mount_monitor_and_stop_kills_holders() {
    if !common::can_run("mount_monitor_and_stop_kills_holders", true, &[]) {
        return;
    }
    let scratch = Scratch::new("agfs").unwrap();
    let mountpoint = scratch.join("mnt");
    let loop_dev = loop_device(&scratch.join("fs.img"));
    let mut cleanup = Cleanup {
        mountpoint: mountpoint.clone(),
        loop_device: None,
    };
    let (device, fstype) = match &loop_dev {
        Some(dev) => {
            say(&format!(
                "filesystem test: loop-mounted ext4 image on {dev}"
            ));
            cleanup.loop_device = Some(dev.clone());
            (dev.clone(), "ext4")
        }
        None => {
            say("filesystem test: loop devices unavailable, using tmpfs");
            ("tmpfs".to_string(), "tmpfs")
        }
    };
    let s = spec(
        "fs",
        Class::Ocf,
        Some("heartbeat"),
        "Filesystem",
        &[
            ("device", &device),
            ("directory", mountpoint.to_str().unwrap()),
            ("fstype", fstype),
            ("options", "noatime"),
        ],
    );
    let env = ExecEnv::default();
    let run = |op| block_on(execute(&s, op, TIMEOUT, &env));
    assert_eq!(run(Operation::Probe).code, OcfCode::NotRunning);
    let r = run(Operation::Start);
    assert_eq!(r.code, OcfCode::Ok, "{r:?}");
    assert_eq!(
        run(Operation::Start).code,
        OcfCode::Ok,
        "start is idempotent"
    );
    assert_eq!(
        run(Operation::Monitor {
            interval: Duration::from_secs(20)
        })
        .code,
        OcfCode::Ok
    );
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        mountinfo.contains(&format!(" {} ", mountpoint.display())),
        "not mounted"
    );

    let file = mountpoint.join("held");
    std::fs::write(&file, "x").unwrap();
    // One holder by its cwd, one by an open file only.
    let mut by_cwd = Command::new("sleep")
        .arg("300")
        .current_dir(&mountpoint)
        .spawn()
        .unwrap();
    let mut by_fd = Command::new("sh")
        .args(["-c", &format!("exec 3<{}; exec sleep 300", file.display())])
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let r = run(Operation::Stop);
    assert_eq!(r.code, OcfCode::Ok, "{r:?}");
    let status = ironbeat_hw_tests::cmd::wait_deadline(&mut by_cwd, Duration::from_secs(5));
    assert_eq!(
        status.and_then(|s| s.signal()),
        Some(libc::SIGTERM),
        "cwd holder not killed by SIGTERM"
    );
    let status = ironbeat_hw_tests::cmd::wait_deadline(&mut by_fd, Duration::from_secs(5));
    assert_eq!(
        status.and_then(|s| s.signal()),
        Some(libc::SIGTERM),
        "fd holder not killed by SIGTERM"
    );
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mountinfo.contains(&format!(" {} ", mountpoint.display())),
        "still mounted"
    );
    assert_eq!(run(Operation::Stop).code, OcfCode::Ok, "stop is idempotent");
    assert_eq!(run(Operation::Probe).code, OcfCode::NotRunning);
    drop(cleanup);
}

#[test]
fn bad_parameters_are_not_configured() {
    let s = spec(
        "fs",
        Class::Ocf,
        Some("heartbeat"),
        "Filesystem",
        &[
            ("device", "/dev/null"),
            ("directory", "/tmp/x"),
            ("fstype", "ext4"),
            ("size", "1"),
        ],
    );
    let r = block_on(execute(&s, Operation::Start, TIMEOUT, &ExecEnv::default()));
    assert_eq!(r.code, OcfCode::NotConfigured);
    assert!(r.exit_reason.unwrap_or_default().contains("size"));
}
