//! Processes in a lab node: started in the node's namespaces, recorded, and
//! killed only by recorded PID, process group, or membership of the node's
//! own network namespace (which only this lab's processes can be in).

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, Result};
use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;

use super::command::wait_deadline;

/// How a node's process sees the file system.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mounts {
    /// The host's file system (our daemon takes every path as an option).
    #[default]
    Host,
    /// heartbeat's layout: private `/etc/ha.d`, `/var/lib/heartbeat` and
    /// `/run` bound from the node's directory (a mount namespace of its own).
    Heartbeat,
}

/// A process a node should run: program, arguments, file-system view, and
/// the name of its log file in the node's `logs/` directory.
#[derive(Debug, Clone)]
pub struct NodeCommand {
    /// The program (a path or a name found on `PATH`).
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// File-system view.
    pub mounts: Mounts,
    /// Log file name (stdout and stderr), e.g. `heartbeat.log`.
    pub log: String,
}

impl NodeCommand {
    /// `program args…` on the host's file system, logging to `<program>.log`.
    pub fn new(program: impl Into<PathBuf>, args: &[&str]) -> Self {
        let program = program.into();
        let log = format!(
            "{}.log",
            program
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| "process".into())
        );
        NodeCommand {
            program,
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            mounts: Mounts::Host,
            log,
        }
    }

    /// Runs with heartbeat's private mounts.
    pub fn with_mounts(mut self, mounts: Mounts) -> Self {
        self.mounts = mounts;
        self
    }
}

/// Builds the command line that runs `c` inside node `node`: its network
/// namespace (`ip netns exec`), a UTS namespace whose host name is the node
/// name, and for [`Mounts::Heartbeat`] a private mount namespace with the
/// bind mounts. Every step execs in place, so the child's PID is the program's.
pub(crate) fn node_command(netns: &str, node: &str, dir: &Path, c: &NodeCommand) -> Command {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", netns, "unshare", "--uts"]);
    match c.mounts {
        Mounts::Host => {
            cmd.args([
                "--",
                "/bin/sh",
                "-c",
                r#"hostname "$1" && shift && exec "$@""#,
                "sh",
            ]);
            cmd.arg(node);
        }
        Mounts::Heartbeat => {
            cmd.args([
                "--mount",
                "--propagation",
                "private",
                "--",
                "/bin/sh",
                "-c",
                r#"hostname "$1" && mount --bind "$2" /etc/ha.d && mount --bind "$3" /var/lib/heartbeat && mount --bind "$4" /run && shift 4 && exec "$@""#,
                "sh",
            ]);
            cmd.arg(node)
                .arg(dir.join("etc-ha.d"))
                .arg(dir.join("var-lib-heartbeat"))
                .arg(dir.join("run"));
        }
    }
    cmd.arg(&c.program).args(&c.args);
    cmd
}

/// Starts `cmd` in its own process group, output appended to `log`.
pub(crate) fn spawn_logged(mut cmd: Command, log: &Path) -> Result<Child> {
    let out = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("opening {}", log.display()))?;
    let err = out.try_clone()?;
    cmd.stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0);
    let shown = format!("{cmd:?}");
    cmd.spawn()
        .with_context(|| format!("starting {shown} (iproute2 and util-linux installed?)"))
}

/// The parent PID of every process, from `/proc/<pid>/stat`.
fn parents() -> BTreeMap<i32, i32> {
    let mut map = BTreeMap::new();
    let Ok(entries) = fs::read_dir("/proc") else {
        return map;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok())
        else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        if let Some((_, ppid)) = parse_stat(&stat) {
            map.insert(pid, ppid);
        }
    }
    map
}

/// Whether `pid` exists and is not a zombie.
pub fn is_alive(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| parse_stat(&stat))
        .is_some_and(|(state, _)| state != 'Z')
}

/// The state letter and the parent PID from a `/proc/<pid>/stat` line. The
/// command name is in parentheses and may hold anything, `)` included:
/// the fields are read after the last `)`.
fn parse_stat(stat: &str) -> Option<(char, i32)> {
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace();
    let state = fields.next()?;
    let mut letters = state.chars();
    let letter = letters.next()?;
    if letters.next().is_some() {
        return None;
    }
    let ppid = fields.next()?.parse::<i32>().ok()?;
    Some((letter, ppid))
}

/// `pid` and all its descendants, descendants first (children before their
/// parents, so a parent cannot react to its children's deaths).
pub fn process_tree(pid: u32) -> Vec<u32> {
    let parents = parents();
    let mut tree = vec![pid as i32];
    let mut i = 0;
    while i < tree.len() && tree.len() < 4096 {
        let p = tree[i];
        tree.extend(parents.iter().filter(|(_, pp)| **pp == p).map(|(c, _)| *c));
        i += 1;
    }
    tree.reverse();
    tree.into_iter().map(|p| p as u32).collect()
}

/// SIGKILLs `pid` and its descendants in one pass, descendants first.
/// Returns how many signals were delivered.
pub fn kill_tree(pid: u32) -> usize {
    process_tree(pid)
        .into_iter()
        .filter(|p| kill(Pid::from_raw(*p as i32), Signal::SIGKILL).is_ok())
        .count()
}

/// The PIDs whose network namespace is `netns` (named, under /run/netns).
/// Our own process is never listed.
pub fn pids_in_netns(netns: &str) -> Vec<u32> {
    let Ok(target) = fs::metadata(format!("/run/netns/{netns}")) else {
        return Vec::new();
    };
    let wanted = format!("net:[{}]", target.ino());
    let me = std::process::id();
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()))
        .filter(|pid| *pid != me)
        .filter(|pid| {
            fs::read_link(format!("/proc/{pid}/ns/net"))
                .map(|l| l.to_string_lossy() == wanted)
                .unwrap_or(false)
        })
        .collect()
}

/// The processes a node runs, as started by the lab.
#[derive(Debug, Default)]
pub(crate) struct Processes {
    children: Vec<Child>,
}

impl Processes {
    pub(crate) fn push(&mut self, child: Child) {
        self.reap();
        self.children.push(child);
    }

    /// Forgets children that have exited.
    pub(crate) fn reap(&mut self) {
        self.children
            .retain_mut(|c| !matches!(c.try_wait(), Ok(Some(_)) | Err(_)));
    }

    /// SIGKILLs every recorded process group and every process in the
    /// node's network namespace, then reaps the children (bounded).
    pub(crate) fn kill_all(&mut self, netns: &str) {
        for child in &mut self.children {
            if let Ok(None) = child.try_wait() {
                let _ = killpg(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
            }
        }
        // Daemons that forked away (heartbeat daemonizes) are still in the
        // node's network namespace; a few passes catch late forks.
        for _ in 0..5 {
            let left = pids_in_netns(netns);
            if left.is_empty() {
                break;
            }
            for pid in left {
                let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        for child in &mut self.children {
            let _ = wait_deadline(child, Duration::from_secs(2));
        }
        self.reap();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_parse_and_hostile_ones_are_refused() {
        assert_eq!(parse_stat("42 (sleep) S 7 42 42 0"), Some(('S', 7)));
        assert_eq!(parse_stat("42 (a) b) Z 1 2"), Some(('Z', 1)));
        assert_eq!(parse_stat("42 (x (y)) R 9"), Some(('R', 9)));
        for bad in [
            "",
            ")",
            "42 (sleep)",
            "42 (sleep) S",
            "42 (sleep) S x",
            "42 (sleep) SS 1",
            "42 sleep S 1",
            "42 (sleep) S 99999999999999999999",
            "\u{0}\u{ff})\n",
        ] {
            assert_eq!(parse_stat(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_tree_of_this_process_holds_its_child_first() {
        let mut child = Command::new("sleep").arg("5").spawn().unwrap();
        let me = std::process::id();
        let tree = process_tree(me);
        assert_eq!(tree.last(), Some(&me));
        assert!(tree.contains(&child.id()));
        assert!(is_alive(child.id()));
        child.kill().unwrap();
        // A zombie until reaped: not alive.
        std::thread::sleep(Duration::from_millis(50));
        assert!(!is_alive(child.id()));
        child.wait().unwrap();
        assert!(!is_alive(u32::MAX));
    }
}
