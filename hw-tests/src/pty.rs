//! A null-modem cable: two ptys joined by `socat`.
//!
//! `socat pty,raw,echo=0,link=A pty,raw,echo=0,link=B` copies every byte
//! written to one end to the other, like a crossed serial cable. A node may
//! close and reopen its end (a restart) and the pair stays up. Bytes written by
//! a third party into one end reach the other end, which is how tests inject
//! line noise.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context};

use crate::{cmd, Result};

/// Two linked ptys, `a` and `b`, alive while this value lives.
#[derive(Debug)]
pub struct PtyPair {
    child: Child,
    a: PathBuf,
    b: PathBuf,
}

impl PtyPair {
    /// Starts socat with the two pty symlinks `<dir>/<name>A` and `<dir>/<name>B`.
    pub fn new(dir: &Path, name: &str) -> Result<Self> {
        let a = dir.join(format!("{name}A"));
        let b = dir.join(format!("{name}B"));
        let _ = std::fs::remove_file(&a);
        let _ = std::fs::remove_file(&b);
        let mut child = Command::new("socat")
            .arg("-d")
            .arg(format!("pty,raw,echo=0,link={}", a.display()))
            .arg(format!("pty,raw,echo=0,link={}", b.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start socat (package socat)")?;
        let ready = cmd::poll(Duration::from_secs(5), Duration::from_millis(10), || {
            (a.exists() && b.exists()).then_some(())
        });
        if ready.is_none() {
            let _ = child.kill();
            let _ = child.wait();
            bail!(
                "socat did not create {} and {} within 5 s",
                a.display(),
                b.display()
            );
        }
        Ok(PtyPair { child, a, b })
    }

    /// End A (the symlink; a node's ha.cf names it in `serial`).
    pub fn a(&self) -> &Path {
        &self.a
    }

    /// End B.
    pub fn b(&self) -> &Path {
        &self.b
    }

    /// The `/dev/pts/N` device behind end A.
    pub fn a_device(&self) -> Result<PathBuf> {
        Ok(std::fs::canonicalize(&self.a)?)
    }

    /// The `/dev/pts/N` device behind end B.
    pub fn b_device(&self) -> Result<PathBuf> {
        Ok(std::fs::canonicalize(&self.b)?)
    }

    /// Writes `bytes` into end `end` (so they arrive at the other end), in one write.
    pub fn inject(&self, end: &Path, bytes: &[u8]) -> Result<()> {
        let mut tty = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NOCTTY)
            .open(end)
            .with_context(|| format!("cannot open {}", end.display()))?;
        tty.write_all(bytes)?;
        tty.flush()?;
        Ok(())
    }

    /// Whether socat still runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for PtyPair {
    fn drop(&mut self) {
        cmd::stop_child(&mut self.child, Duration::from_secs(2));
        let _ = std::fs::remove_file(&self.a);
        let _ = std::fs::remove_file(&self.b);
    }
}
