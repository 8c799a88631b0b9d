//! Serial paths (`serial /dev/ttyS0`): heartbeat frames over a null-modem
//! cable or a pty pair, framed by [`wire::serial`](crate::wire::serial).
//!
//! The serialport crate opens and configures the tty: `O_NOCTTY`, exclusive
//! (`TIOCEXCL` plus `flock(LOCK_EX)`; root passes `TIOCEXCL`, the flock still
//! stops a second ironbeat), raw 8N1, no flow control, `CLOCAL`, the baud rate
//! via `TCSETS2`. It issues no modem-control ioctls (DTR is left alone), so pty
//! slaves open like real UARTs; the pty tests below prove it.
//!
//! The driver reads and writes through its own descriptor of the tty, opened
//! `O_NONBLOCK` just before serialport's (which then only holds the lock and
//! the settings, so `TIOCEXCL` cannot lock us out of our own device). Reads
//! are driven by the runtime's reactor on the runner's thread: the tty is
//! registered with epoll through tokio's pipe receiver, whose safe constructor
//! takes ownership of any non-blocking fd (a tty reads like a pipe). A frame
//! costs one wake-up of the runner and a `read` or two, with no reader thread,
//! no cross-thread hand-off and no periodic wake-ups. Writes never block: a
//! frame the tty cannot take whole is finished on the next send, and frames
//! offered meanwhile are dropped (heartbeats are periodic, channel messages are
//! retransmitted).
//!
//! A hang-up (EOF, `EIO`, `POLLHUP`: the far end of a pty closed, a USB adapter
//! was unplugged) closes the tty and is reported once; the path then stays
//! silent — liveness marks it down — while the driver reopens the device after
//! 100 ms, backing off to 1 s. heartbeat logged 35 552 errors a second here.

use std::fs::{File, OpenOptions};
use std::future::Future;
use std::io::{self, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::poll::{PollFd, PollFlags, PollTimeout};
use serialport::{DataBits, FlowControl, Parity, StopBits, TTYPort};
use std::os::fd::AsRawFd;
use tokio::net::unix::pipe;
use tokio::time::Sleep;

use crate::wire::serial::{encode, Decoder, SerialCounters};
use crate::{Error, PathId};

/// Baud rates a serial path accepts (heartbeat's `baud` values).
pub const BAUD_RATES: [u32; 5] = [9600, 19200, 38400, 57600, 115200];
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(1);
/// Reads per poll without a complete frame before yielding to the other paths
/// (a line streaming noise must not starve them).
const READS_PER_POLL: usize = 16;
const READ_CHUNK: usize = 1024;

/// What a serial path yields to the runner.
#[derive(Debug, PartialEq, Eq)]
pub enum SerialInput {
    /// A frame of `len` bytes was copied into the caller's buffer.
    Frame(usize),
    /// The line hung up (reported once per outage).
    Fault(String),
    /// The line works again.
    Restored,
}

/// A serial path on one tty.
#[derive(Debug)]
pub struct SerialDriver {
    path: PathId,
    name: String,
    reopen: Reopen,
    /// The open tty; `None` while a hung-up device is closed.
    tty: Option<Tty>,
    /// Set while the line is hung up.
    down: Option<Down>,
    decoder: Decoder,
    chunk: Box<[u8]>,
    /// Encoded bytes not yet written (the tail of one record at most).
    unwritten: Vec<u8>,
    dropped: u64,
}

/// Where the driver gets a tty again after a hang-up.
#[derive(Debug)]
enum Reopen {
    Device(PathBuf, u32),
    /// A caller's fd cannot be reopened; it is kept (its writer still accepts
    /// writes) and probed again after the back-off.
    Keep,
}

/// An open tty.
#[derive(Debug)]
struct Tty {
    /// Reads, registered with the reactor.
    reader: pipe::Receiver,
    /// Writes: a duplicate of the reader's descriptor (non-blocking too).
    writer: File,
    /// serialport's descriptor, which holds the exclusive lock and the line
    /// settings (`None` for a caller's fd).
    _port: Option<TTYPort>,
}

/// A hung-up line waiting for its next retry.
#[derive(Debug)]
struct Down {
    retry: Pin<Box<Sleep>>,
    /// The wait after the next failed retry.
    backoff: Duration,
}

impl SerialDriver {
    /// Opens `device` at `baud` (one of [`BAUD_RATES`]). Must run inside a
    /// tokio runtime.
    pub fn open(path: PathId, device: &Path, baud: u32) -> Result<Self, Error> {
        if !BAUD_RATES.contains(&baud) {
            return Err(Error::config(format!(
                "baud {baud} is not supported on serial {}; use one of 9600, 19200, 38400, \
                 57600, 115200",
                device.display()
            )));
        }
        let tty = open_device(device, baud)?;
        let reopen = Reopen::Device(device.to_owned(), baud);
        Ok(Self::start(path, device.display().to_string(), tty, reopen))
    }

    /// Drives an fd the caller opened and configured (e.g. a pty master from
    /// `openpty`). After a hang-up it is polled again with back-off, never
    /// reopened. Must run inside a tokio runtime.
    pub fn from_fd(path: PathId, name: &str, fd: OwnedFd) -> Result<Self, Error> {
        let fail = |e: io::Error| Error::io(format!("cannot use {name}"), e);
        set_nonblocking(&fd, name)?;
        let file = File::from(fd);
        let writer = file.try_clone().map_err(fail)?;
        let reader = pipe::Receiver::from_file_unchecked(file).map_err(fail)?;
        let tty = Tty {
            reader,
            writer,
            _port: None,
        };
        Ok(Self::start(path, name.to_owned(), tty, Reopen::Keep))
    }

    fn start(path: PathId, name: String, tty: Tty, reopen: Reopen) -> Self {
        SerialDriver {
            path,
            name,
            reopen,
            tty: Some(tty),
            down: None,
            decoder: Decoder::new(),
            chunk: vec![0u8; READ_CHUNK].into_boxed_slice(),
            unwritten: Vec::with_capacity(2 * crate::wire::serial::MAX_RECORD_LEN + 2),
            dropped: 0,
        }
    }

    /// The path this driver serves.
    pub fn path(&self) -> PathId {
        self.path
    }

    /// The device name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Framing statistics of the receive side (CRC errors, noise).
    pub fn counters(&self) -> SerialCounters {
        *self.decoder.counters()
    }

    /// Frames dropped because the line was busy or down.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Sends one frame; never blocks. `WouldBlock` while the line is still busy
    /// with the previous frame, `NotConnected` while the tty is being reopened.
    pub fn send(&mut self, frame: &[u8]) -> io::Result<()> {
        let Some(tty) = self.tty.as_mut() else {
            self.dropped += 1;
            let detail = format!("serial {} is hung up; reopening", self.name);
            return Err(io::Error::new(io::ErrorKind::NotConnected, detail));
        };
        if !self.unwritten.is_empty() {
            write_some(&mut tty.writer, &mut self.unwritten)?;
            if !self.unwritten.is_empty() {
                self.dropped += 1;
                return Err(io::ErrorKind::WouldBlock.into());
            }
        }
        encode(frame, &mut self.unwritten);
        let result = write_some(&mut tty.writer, &mut self.unwritten);
        if result.is_err() {
            self.unwritten.clear();
        }
        result
    }

    /// The next frame (copied into `buf`) or a change of the line's state.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<SerialInput> {
        for _ in 0..READS_PER_POLL {
            // Damaged records are counted by the decoder and skipped.
            while let Some(decoded) = self.decoder.next_frame() {
                if let Ok(frame) = decoded {
                    let len = frame.len().min(buf.len());
                    buf[..len].copy_from_slice(&frame[..len]);
                    return Poll::Ready(SerialInput::Frame(len));
                }
            }
            if self.down.is_some() {
                std::task::ready!(self.poll_retry(cx));
                return Poll::Ready(SerialInput::Restored);
            }
            // Up: `down` is `None` only while a tty is open.
            let Some(tty) = self.tty.as_mut() else {
                return Poll::Pending;
            };
            let error = match tty.reader.poll_read_ready(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => e,
                Poll::Ready(Ok(())) => match tty.reader.try_read(&mut self.chunk) {
                    Ok(0) => io::Error::new(io::ErrorKind::UnexpectedEof, "end of file"),
                    Ok(n) => {
                        self.decoder.push(&self.chunk[..n]);
                        continue;
                    }
                    // Readiness is cleared: the next round waits for input.
                    Err(e)
                        if matches!(
                            e.kind(),
                            io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                        ) =>
                    {
                        continue
                    }
                    Err(e) => e,
                },
            };
            return Poll::Ready(SerialInput::Fault(self.hang_up(&error)));
        }
        // A stream of noise: let the other paths run, then read on.
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// Closes a device (a caller's fd is kept), schedules the first retry and
    /// says what happened.
    fn hang_up(&mut self, error: &io::Error) -> String {
        self.decoder.reset();
        self.unwritten.clear();
        if let Reopen::Device(..) = self.reopen {
            self.tty = None; // closes the fds and releases the lock
        }
        self.down = Some(Down {
            retry: Box::pin(tokio::time::sleep(FIRST_BACKOFF)),
            backoff: FIRST_BACKOFF,
        });
        format!(
            "serial {} hung up ({error}): the far end closed or the cable is gone; \
             retrying every {} s at most",
            self.name,
            MAX_BACKOFF.as_secs()
        )
    }

    /// Waits out the back-off and retries until the line works again.
    fn poll_retry(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            let Some(down) = self.down.as_mut() else {
                return Poll::Ready(());
            };
            std::task::ready!(down.retry.as_mut().poll(cx));
            down.backoff = (down.backoff * 2).min(MAX_BACKOFF);
            let restored = match (&self.reopen, self.tty.as_ref()) {
                (Reopen::Device(device, baud), _) => match open_device(device, *baud) {
                    Ok(tty) => {
                        self.tty = Some(tty);
                        true
                    }
                    Err(_) => false,
                },
                // A kept fd works again once it is no longer hung up: readable
                // without error or quiet.
                (Reopen::Keep, Some(tty)) => !hung_up(tty),
                (Reopen::Keep, None) => false,
            };
            if restored {
                self.down = None;
                return Poll::Ready(());
            }
            let next = tokio::time::Instant::now() + down.backoff;
            down.retry.as_mut().reset(next);
        }
    }
}

/// Whether the tty reports a hang-up (or an error) right now.
fn hung_up(tty: &Tty) -> bool {
    let mut fds = [PollFd::new(tty.reader.as_fd(), PollFlags::POLLIN)];
    match nix::poll::poll(&mut fds, PollTimeout::ZERO) {
        Ok(_) => fds[0].revents().is_some_and(|revents| {
            revents.intersects(PollFlags::POLLHUP | PollFlags::POLLERR | PollFlags::POLLNVAL)
        }),
        // Interrupted: decide at the next retry.
        Err(_) => true,
    }
}

/// Writes as much of `bytes` as the tty takes now and removes it from the
/// front; a full tty is not an error.
fn write_some(writer: &mut File, bytes: &mut Vec<u8>) -> io::Result<()> {
    match writer.write(bytes) {
        Ok(n) => {
            bytes.drain(..n);
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(()),
        Err(e) => Err(e),
    }
}

/// Opens and configures `device`: our non-blocking descriptor for reading
/// (registered with the reactor) and writing, and serialport's, which holds
/// the lock and the settings.
fn open_device(device: &Path, baud: u32) -> Result<Tty, Error> {
    let d = device.display();
    let in_use =
        || format!("it is missing or in use by another program (check `ls -l {d}`, `fuser {d}`)");
    let access = || format!("check `ls -l {d}` and that we run as root or in group dialout");
    // Ours first: once serialport has set TIOCEXCL, only root could open it.
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags((OFlag::O_NOCTTY | OFlag::O_NONBLOCK).bits())
        .open(device)
        .map_err(|e| {
            let hint = match e.kind() {
                io::ErrorKind::NotFound | io::ErrorKind::ResourceBusy => in_use(),
                _ => access(),
            };
            Error::io(format!("cannot open serial port {d}: {e}; {hint}"), e)
        })?;
    let port = serialport::new(device.to_string_lossy(), baud)
        .data_bits(DataBits::Eight)
        .parity(Parity::None)
        .stop_bits(StopBits::One)
        .flow_control(FlowControl::None)
        .open_native()
        .map_err(|e| {
            let hint = match e.kind() {
                serialport::ErrorKind::NoDevice => in_use(),
                _ => access(),
            };
            Error::io(
                format!("cannot open serial port {d}: {e}; {hint}"),
                io::Error::other(e.to_string()),
            )
        })?;
    let writer = file
        .try_clone()
        .map_err(|e| Error::io(format!("cannot duplicate the descriptor of {d}"), e))?;
    let reader = pipe::Receiver::from_file_unchecked(file)
        .map_err(|e| Error::io(format!("cannot register {d} with the event loop"), e))?;
    Ok(Tty {
        reader,
        writer,
        _port: Some(port),
    })
}

fn set_nonblocking(fd: &OwnedFd, name: &str) -> Result<(), Error> {
    fcntl(fd.as_raw_fd(), FcntlArg::F_SETFL(OFlag::O_NONBLOCK))
        .map(|_| ())
        .map_err(|e| Error::io(format!("cannot make {name} non-blocking"), e.into()))
}

#[cfg(test)]
mod tests {
    use std::process::{Child, Command, Stdio};

    use super::*;
    use crate::driver::tests::{alive, dead, endpoint, endpoint_generation, fast, start, wait_for};
    use crate::driver::{Output, PathDriver};
    use crate::proto::endpoint::Event;

    const LIMIT: Duration = Duration::from_secs(3);

    /// CPU time (ns) of the calling thread, which runs the runners here.
    fn thread_cpu_ns() -> u64 {
        let stat = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap();
        stat.split_whitespace().next().unwrap().parse().unwrap()
    }

    #[tokio::test(flavor = "current_thread")]
    async fn openpty_pair_carries_two_endpoints_and_a_hang_up_stays_quiet() {
        let pty = nix::pty::openpty(None, None).unwrap();
        let slave_path = nix::unistd::ttyname(&pty.slave).unwrap();
        // node1 opens the slave by name like any tty; node2 drives the master.
        let one = SerialDriver::open(PathId(41), &slave_path, 115_200).unwrap();
        drop(pty.slave);
        let two = SerialDriver::from_fd(PathId(42), "pty master", pty.master).unwrap();
        let (h1, mut out1, task1) = start(
            endpoint("node1", &[PathId(41)], fast()),
            vec![PathDriver::Serial(Box::new(one))],
        );
        let (h2, mut out2, task2) = start(
            endpoint("node2", &[PathId(42)], fast()),
            vec![PathDriver::Serial(Box::new(two))],
        );
        wait_for(&mut out1, LIMIT, "node2 alive", alive("node2")).await;
        wait_for(&mut out2, LIMIT, "node1 alive", alive("node1")).await;
        let body = vec![0x7e; 300]; // flag bytes inside the payload get escaped
        h2.send(None, body.clone()).await.unwrap();
        wait_for(&mut out1, LIMIT, "the message", |o| {
            matches!(o, Output::Endpoint(Event::Message { from, body: b })
                if from == "node2" && *b == body)
        })
        .await;

        // node2 goes away: the master closes and node1's tty hangs up.
        h2.shutdown().await;
        task2.await.unwrap();
        drop(h2);
        let seen = wait_for(&mut out1, LIMIT, "node2 dead", dead("node2")).await;
        let faults = |seen: &[Output]| {
            seen.iter()
                .filter(|o| {
                    matches!(
                        o,
                        Output::PathFault {
                            path: PathId(41),
                            ..
                        }
                    )
                })
                .count()
        };
        let mut total = faults(&seen);
        // One report, then silence while the driver retries with back-off: no
        // spinning on the hung-up fd (node1's runner still beats every 20 ms).
        let cpu = thread_cpu_ns();
        let quiet = tokio::time::sleep(Duration::from_millis(1500));
        tokio::pin!(quiet);
        let mut later = Vec::new();
        loop {
            tokio::select! {
                () = &mut quiet => break,
                Some(output) = out1.recv() => later.push(output),
            }
        }
        total += faults(&later);
        let spent = thread_cpu_ns() - cpu;
        eprintln!("hang-up: {total} fault report(s), runner CPU {spent} ns in 1.5 s: {seen:?}");
        assert_eq!(total, 1, "{seen:#?} {later:#?}");
        // A spinning driver would take most of the 1.5 s.
        assert!(
            spent < 150_000_000,
            "the runner spent {spent} ns in 1.5 s of hang-up"
        );
        h1.shutdown().await;
        task1.await.unwrap();
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_master_fd_recovers_when_the_slave_is_reopened() {
        let pty = nix::pty::openpty(None, None).unwrap();
        let slave_path = nix::unistd::ttyname(&pty.slave).unwrap();
        let one = SerialDriver::from_fd(PathId(0), "pty master", pty.master).unwrap();
        let (h1, mut out1, task1) = start(
            endpoint("node1", &[PathId(0)], fast()),
            vec![PathDriver::Serial(Box::new(one))],
        );
        let run_node2 = |generation| {
            let two = SerialDriver::open(PathId(0), &slave_path, 38_400).unwrap();
            let node2 = endpoint_generation("node2", &[PathId(0)], fast(), generation);
            start(node2, vec![PathDriver::Serial(Box::new(two))])
        };
        let (h2, _out2, task2) = run_node2(1);
        drop(pty.slave);
        wait_for(&mut out1, LIMIT, "node2 alive", alive("node2")).await;
        h2.shutdown().await;
        task2.await.unwrap();
        wait_for(&mut out1, LIMIT, "a fault", |o| {
            matches!(o, Output::PathFault { .. })
        })
        .await;
        // Writes into the master still succeed, but that is no recovery.
        tokio::time::sleep(Duration::from_millis(300)).await;
        while let Ok(output) = out1.try_recv() {
            assert!(!matches!(output, Output::PathRestored { .. }), "flapped");
        }
        // The slave node lives as long as the master: node2 comes back on it.
        let (h2, _out2, task2) = run_node2(2);
        wait_for(&mut out1, LIMIT, "restored", |o| {
            matches!(o, Output::PathRestored { .. })
        })
        .await;
        wait_for(
            &mut out1,
            LIMIT,
            "node2 back",
            |o| matches!(o, Output::Endpoint(Event::NodeBack { node, .. }) if node == "node2"),
        )
        .await;
        h2.shutdown().await;
        h1.shutdown().await;
        task1.await.unwrap();
        task2.await.unwrap();
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_tty_is_opened_exclusively_and_bad_baud_is_refused() {
        let pty = nix::pty::openpty(None, None).unwrap();
        let path = nix::unistd::ttyname(&pty.slave).unwrap();
        let _first = SerialDriver::open(PathId(0), &path, 19_200).unwrap();
        let err = SerialDriver::open(PathId(1), &path, 19_200).unwrap_err();
        assert!(err.to_string().contains("in use"), "{err}");
        let err = SerialDriver::open(PathId(1), &path, 12_345).unwrap_err();
        assert_eq!(err.kind(), crate::ErrorKind::Config);
        let err = SerialDriver::open(PathId(1), Path::new("/dev/ib-no-tty"), 9600).unwrap_err();
        assert!(err.to_string().contains("/dev/ib-no-tty"), "{err}");
    }

    struct Socat(Child);

    impl Socat {
        /// `socat -d -d pty,raw,echo=0,link=A pty,raw,echo=0,link=B`, as the
        /// heartbeat lab ran it; waits (bounded) for both links.
        fn start(a: &Path, b: &Path) -> Option<Socat> {
            let arg = |p: &Path| format!("pty,raw,echo=0,link={}", p.display());
            let child = Command::new("socat")
                .args(["-d", "-d", &arg(a), &arg(b)])
                .stderr(Stdio::null())
                .spawn()
                .ok()?;
            let socat = Socat(child);
            for _ in 0..100 {
                if a.exists() && b.exists() {
                    return Some(socat);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            panic!("socat did not create {} and {}", a.display(), b.display());
        }

        /// SIGTERM, so socat removes its links, then reap it.
        fn stop(mut self) {
            let pid = nix::unistd::Pid::from_raw(self.0.id() as i32);
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
            let _ = self.0.wait();
        }
    }

    impl Drop for Socat {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn socat_pair_survives_a_restart_of_the_cable() {
        let dir = std::env::temp_dir().join(format!("ironbeat-socat-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (a, b) = (dir.join("A"), dir.join("B"));
        let Some(socat) = Socat::start(&a, &b) else {
            eprintln!("skipped: socat is not installed (apt-get install socat)");
            return;
        };
        let one = SerialDriver::open(PathId(0), &a, 19_200).unwrap();
        let two = SerialDriver::open(PathId(0), &b, 19_200).unwrap();
        let (h1, mut out1, task1) = start(
            endpoint("node1", &[PathId(0)], fast()),
            vec![PathDriver::Serial(Box::new(one))],
        );
        let (h2, mut out2, task2) = start(
            endpoint("node2", &[PathId(0)], fast()),
            vec![PathDriver::Serial(Box::new(two))],
        );
        wait_for(&mut out1, LIMIT, "node2 alive", alive("node2")).await;
        wait_for(&mut out2, LIMIT, "node1 alive", alive("node1")).await;

        socat.stop(); // the cable is pulled
        wait_for(&mut out1, LIMIT, "a fault", |o| {
            matches!(o, Output::PathFault { .. })
        })
        .await;
        wait_for(&mut out1, LIMIT, "node2 dead", dead("node2")).await;

        let socat = Socat::start(&a, &b).unwrap(); // and plugged back in
        wait_for(&mut out1, LIMIT, "restored", |o| {
            matches!(o, Output::PathRestored { .. })
        })
        .await;
        wait_for(&mut out2, LIMIT, "restored", |o| {
            matches!(o, Output::PathRestored { .. })
        })
        .await;
        wait_for(&mut out1, LIMIT, "node2 alive again", alive("node2")).await;
        wait_for(&mut out2, LIMIT, "node1 alive again", alive("node1")).await;

        h1.shutdown().await;
        h2.shutdown().await;
        task1.await.unwrap();
        task2.await.unwrap();
        socat.stop();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
