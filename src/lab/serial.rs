//! The null-modem cable: two pty pairs whose masters this process bridges
//! byte for byte (what `socat pty pty` does), with a switch to cut the line.

use std::fs;
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;

use anyhow::{Context, Result};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

/// A bridged pty pair; each end is a symlink to a slave tty.
#[derive(Debug)]
pub struct NullModem {
    ends: [PathBuf; 2],
    stop: Arc<AtomicBool>,
    cut: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl NullModem {
    /// Opens the two ptys (raw mode) and links them as `dir/<names[0]>` and
    /// `dir/<names[1]>`.
    pub fn open(dir: &Path, names: [&str; 2]) -> Result<Self> {
        let a = nix::pty::openpty(None, None).context("openpty")?;
        let b = nix::pty::openpty(None, None).context("openpty")?;
        let mut ends = Vec::new();
        for (pty, name) in [(&a, names[0]), (&b, names[1])] {
            // Raw from the start: a cooked slave would echo bridged bytes back.
            let mut termios = nix::sys::termios::tcgetattr(pty.slave.as_fd())?;
            nix::sys::termios::cfmakeraw(&mut termios);
            nix::sys::termios::tcsetattr(
                pty.slave.as_fd(),
                nix::sys::termios::SetArg::TCSANOW,
                &termios,
            )?;
            let slave = nix::unistd::ttyname(pty.slave.as_fd()).context("ttyname")?;
            let link = dir.join(name);
            let _ = fs::remove_file(&link);
            std::os::unix::fs::symlink(&slave, &link)
                .with_context(|| format!("linking {}", link.display()))?;
            ends.push(link);
        }
        let stop = Arc::new(AtomicBool::new(false));
        let cut = Arc::new(AtomicBool::new(false));
        let (s, c) = (Arc::clone(&stop), Arc::clone(&cut));
        let thread = thread::Builder::new()
            .name("lab-null-modem".into())
            .spawn(move || {
                // Keep the slaves open here too, so a daemon restart never
                // hangs up the line.
                let _slaves = (a.slave, b.slave);
                bridge(a.master, b.master, &s, &c);
            })?;
        let [e0, e1]: [PathBuf; 2] = ends
            .try_into()
            .map_err(|_| anyhow::anyhow!("two pty ends"))?;
        Ok(NullModem {
            ends: [e0, e1],
            stop,
            cut,
            thread: Some(thread),
        })
    }

    /// The tty path of end `i` (0 or 1).
    pub fn end(&self, i: usize) -> &Path {
        &self.ends[i.min(1)]
    }

    /// Cuts (`true`) or reconnects the line; while cut, bytes are dropped.
    pub fn set_cut(&self, cut: bool) {
        self.cut.store(cut, Ordering::SeqCst);
    }

    /// Whether the line is cut.
    pub fn is_cut(&self) -> bool {
        self.cut.load(Ordering::SeqCst)
    }

    /// Stops the bridge thread and closes the ptys.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        for end in &self.ends {
            let _ = fs::remove_file(end);
        }
    }
}

impl Drop for NullModem {
    fn drop(&mut self) {
        self.stop();
    }
}

fn bridge(a: OwnedFd, b: OwnedFd, stop: &AtomicBool, cut: &AtomicBool) {
    let mut fa = fs::File::from(a);
    let mut fb = fs::File::from(b);
    let mut buf = [0u8; 4096];
    while !stop.load(Ordering::SeqCst) {
        let (ra, rb) = {
            let mut fds = [
                PollFd::new(fa.as_fd(), PollFlags::POLLIN),
                PollFd::new(fb.as_fd(), PollFlags::POLLIN),
            ];
            if poll(&mut fds, PollTimeout::from(100u16)).is_err() {
                continue;
            }
            let ready = |fd: &PollFd| fd.revents().is_some_and(|r| r.contains(PollFlags::POLLIN));
            (ready(&fds[0]), ready(&fds[1]))
        };
        let open = !cut.load(Ordering::SeqCst);
        if ra {
            if let Ok(n) = fa.read(&mut buf) {
                if open {
                    let _ = fb.write_all(&buf[..n]);
                }
            }
        }
        if rb {
            if let Ok(n) = fb.read(&mut buf) {
                if open {
                    let _ = fa.write_all(&buf[..n]);
                }
            }
        }
    }
}
