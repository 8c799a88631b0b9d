//! Serial paths (`serial /dev/ttyS0`): heartbeat frames over a null-modem
//! cable or a pty pair, framed by [`wire::serial`](crate::wire::serial).
//!
//! The serialport crate opens and configures the tty: `O_NOCTTY`, exclusive
//! (`TIOCEXCL` plus `flock(LOCK_EX)`; root passes `TIOCEXCL`, the flock still
//! stops a second ironbeat), raw 8N1, no flow control, `CLOCAL`, the baud rate
//! via `TCSETS2`. It issues no modem-control ioctls (DTR is left alone), so pty
//! slaves open like real UARTs; the pty tests below prove it.
//!
//! A reader thread per path waits for input with a timeout (to notice when the
//! driver is dropped), decodes records and forwards frames to the runner.
//! Writes happen on the runner's thread and never block: the fd is
//! `O_NONBLOCK`; a frame the tty cannot take whole is finished on the next
//! send, and frames offered meanwhile are dropped (heartbeats are periodic,
//! channel messages are retransmitted). tokio's `AsyncFd` would avoid the
//! thread, but its constructors are `unsafe` (or deprecated as unsound) and
//! the crate forbids `unsafe`.
//!
//! A hang-up (EOF, `EIO`, `POLLHUP`: the far end of a pty closed, a USB adapter
//! was unplugged) closes the tty and is reported once; the path then stays
//! silent — liveness marks it down — while the thread reopens the device after
//! 100 ms, backing off to 1 s. heartbeat logged 35 552 errors a second here.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::poll::{PollFd, PollFlags, PollTimeout};
use serialport::{DataBits, FlowControl, Parity, SerialPort, StopBits, TTYPort};
use std::os::fd::AsRawFd;
use tokio::sync::mpsc;

use crate::wire::serial::{encode, Decoder, SerialCounters};
use crate::{Error, PathId};

/// Baud rates a serial path accepts (heartbeat's `baud` values).
pub const BAUD_RATES: [u32; 5] = [9600, 19200, 38400, 57600, 115200];
/// How long the reader thread waits for input before checking for shutdown.
pub const READ_TIMEOUT: Duration = Duration::from_millis(250);
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(1);
const QUEUE: usize = 64;

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
    writer: Option<Tty>,
    inbound: mpsc::Receiver<ReaderMessage>,
    /// Encoded bytes not yet written (the tail of one record at most).
    unwritten: Vec<u8>,
    counters: Arc<Mutex<SerialCounters>>,
    dropped: u64,
}

/// An open tty: a configured device or a caller's fd.
#[derive(Debug)]
enum Tty {
    Port(TTYPort),
    File(File),
}

#[derive(Debug)]
enum ReaderMessage {
    Frame(Vec<u8>),
    /// The line hung up; `true` if the writer's fd is dead too.
    HungUp(String, bool),
    /// The line works again, with a new writer if the device was reopened.
    Restored(Option<Tty>),
}

/// Where the reader thread gets a tty again after a hang-up.
#[derive(Debug)]
enum Reopen {
    Device(PathBuf, u32),
    /// A caller's fd cannot be reopened; it is polled again after the back-off.
    Keep,
}

impl SerialDriver {
    /// Opens `device` at `baud` (one of [`BAUD_RATES`]) and starts its reader
    /// thread.
    pub fn open(path: PathId, device: &Path, baud: u32) -> Result<Self, Error> {
        if !BAUD_RATES.contains(&baud) {
            return Err(Error::config(format!(
                "baud {baud} is not supported on serial {}; use one of 9600, 19200, 38400, \
                 57600, 115200",
                device.display()
            )));
        }
        let (reader, writer) = open_device(device, baud)?;
        let reopen = Reopen::Device(device.to_owned(), baud);
        Self::start(path, device.display().to_string(), reader, writer, reopen)
    }

    /// Drives an fd the caller opened and configured (e.g. a pty master from
    /// `openpty`). After a hang-up it is polled again with back-off, never
    /// reopened.
    pub fn from_fd(path: PathId, name: &str, fd: OwnedFd) -> Result<Self, Error> {
        let fail = |e: io::Error| Error::io(format!("cannot use {name}"), e);
        let writer = fd.try_clone().map_err(fail)?;
        set_nonblocking(&fd, name)?;
        Self::start(
            path,
            name.to_owned(),
            Tty::File(fd.into()),
            Tty::File(writer.into()),
            Reopen::Keep,
        )
    }

    fn start(
        path: PathId,
        name: String,
        reader: Tty,
        writer: Tty,
        reopen: Reopen,
    ) -> Result<Self, Error> {
        let (tx, inbound) = mpsc::channel(QUEUE);
        let counters = Arc::new(Mutex::new(SerialCounters::default()));
        let thread = Reader {
            name: name.clone(),
            reopen,
            out: tx,
            counters: Arc::clone(&counters),
        };
        std::thread::Builder::new()
            .name(format!("serial-{path}"))
            .spawn(move || thread.run(reader))
            .map_err(|e| Error::io(format!("cannot start the reader thread for {name}"), e))?;
        Ok(SerialDriver {
            path,
            name,
            writer: Some(writer),
            inbound,
            unwritten: Vec::with_capacity(2 * crate::wire::serial::MAX_RECORD_LEN + 2),
            counters,
            dropped: 0,
        })
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
        self.counters.lock().map(|c| *c).unwrap_or_default()
    }

    /// Frames dropped because the line was busy or down.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Sends one frame; never blocks. `WouldBlock` while the line is still busy
    /// with the previous frame, `NotConnected` while the tty is being reopened.
    pub fn send(&mut self, frame: &[u8]) -> io::Result<()> {
        let Some(writer) = self.writer.as_mut() else {
            self.dropped += 1;
            let detail = format!("serial {} is hung up; reopening", self.name);
            return Err(io::Error::new(io::ErrorKind::NotConnected, detail));
        };
        if !self.unwritten.is_empty() {
            write_some(writer, &mut self.unwritten)?;
            if !self.unwritten.is_empty() {
                self.dropped += 1;
                return Err(io::ErrorKind::WouldBlock.into());
            }
        }
        encode(frame, &mut self.unwritten);
        let result = write_some(writer, &mut self.unwritten);
        if result.is_err() {
            self.unwritten.clear();
        }
        result
    }

    /// The next frame (copied into `buf`) or a change of the line's state.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<SerialInput> {
        match self.inbound.poll_recv(cx) {
            Poll::Ready(Some(ReaderMessage::Frame(frame))) => {
                let len = frame.len().min(buf.len());
                buf[..len].copy_from_slice(&frame[..len]);
                Poll::Ready(SerialInput::Frame(len))
            }
            Poll::Ready(Some(ReaderMessage::HungUp(detail, writer_dead))) => {
                if writer_dead {
                    self.writer = None;
                }
                self.unwritten.clear();
                Poll::Ready(SerialInput::Fault(detail))
            }
            Poll::Ready(Some(ReaderMessage::Restored(writer))) => {
                if writer.is_some() {
                    self.writer = writer;
                }
                Poll::Ready(SerialInput::Restored)
            }
            // The reader ends only when we are dropped; stay quiet.
            Poll::Ready(None) | Poll::Pending => Poll::Pending,
        }
    }
}

/// The reader thread's state.
struct Reader {
    name: String,
    reopen: Reopen,
    out: mpsc::Sender<ReaderMessage>,
    counters: Arc<Mutex<SerialCounters>>,
}

impl Reader {
    fn run(self, mut tty: Tty) {
        let mut decoder = Decoder::new();
        let mut buf = [0u8; 1024];
        loop {
            match read_timeout(&mut tty, &mut buf) {
                Ok(Some(n)) => {
                    decoder.push(&buf[..n]);
                    while let Some(decoded) = decoder.next_frame() {
                        // Damaged records are counted by the decoder.
                        if let Ok(frame) = decoded {
                            if self.deliver(ReaderMessage::Frame(frame)).is_err() {
                                return;
                            }
                        }
                    }
                    if let Ok(mut counters) = self.counters.lock() {
                        *counters = *decoder.counters();
                    }
                }
                Ok(None) if self.out.is_closed() => return,
                Ok(None) => {}
                Err(error) => {
                    decoder.reset();
                    match self.recover(tty, &error) {
                        Some(next) => tty = next,
                        None => return,
                    }
                }
            }
        }
    }

    /// Reports the hang-up once, then waits with back-off until the tty
    /// works again; `None` when the driver was dropped meanwhile.
    fn recover(&self, tty: Tty, error: &io::Error) -> Option<Tty> {
        let device = matches!(self.reopen, Reopen::Device(..));
        let detail = format!(
            "serial {} hung up ({error}): the far end closed or the cable is gone; \
             retrying every {} s at most",
            self.name,
            MAX_BACKOFF.as_secs()
        );
        self.deliver(ReaderMessage::HungUp(detail, device)).ok()?;
        let mut held = match self.reopen {
            Reopen::Keep => Some(tty),
            Reopen::Device(..) => {
                drop(tty); // closes the fd and releases the lock
                None
            }
        };
        let mut backoff = FIRST_BACKOFF;
        let mut buf = [0u8; 1];
        loop {
            std::thread::sleep(backoff);
            if self.out.is_closed() {
                return None;
            }
            backoff = (backoff * 2).min(MAX_BACKOFF);
            match (&self.reopen, held.as_mut()) {
                (Reopen::Device(device, baud), _) => {
                    if let Ok((reader, writer)) = open_device(device, *baud) {
                        self.deliver(ReaderMessage::Restored(Some(writer))).ok()?;
                        return Some(reader);
                    }
                }
                // A kept fd works again once it is no longer hung up: readable
                // without error (the byte read is a record flag or noise the
                // decoder resynchronises past) or quietly timing out.
                (Reopen::Keep, Some(tty)) => {
                    if poll_once(tty, &mut buf).is_ok() {
                        self.deliver(ReaderMessage::Restored(None)).ok()?;
                        return held;
                    }
                }
                (Reopen::Keep, None) => return None,
            }
        }
    }

    fn deliver(&self, message: ReaderMessage) -> Result<(), ()> {
        match self.out.try_send(message) {
            Ok(()) | Err(mpsc::error::TrySendError::Full(_)) => Ok(()),
            Err(mpsc::error::TrySendError::Closed(_)) => Err(()),
        }
    }
}

/// Waits up to [`READ_TIMEOUT`] for input: `Ok(Some(n))` bytes read,
/// `Ok(None)` nothing yet, `Err` hang-up or device error.
fn read_timeout(tty: &mut Tty, buf: &mut [u8]) -> io::Result<Option<usize>> {
    let n = match tty {
        Tty::Port(port) => match port.read(buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::TimedOut => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
            Err(e) => return Err(e),
        },
        Tty::File(file) => {
            let mut fds = [PollFd::new(file.as_fd(), PollFlags::POLLIN)];
            let timeout = PollTimeout::try_from(READ_TIMEOUT).unwrap_or(PollTimeout::MAX);
            match nix::poll::poll(&mut fds, timeout) {
                Ok(0) | Err(nix::errno::Errno::EINTR) => return Ok(None),
                Ok(_) => {}
                Err(e) => return Err(e.into()),
            }
            let revents = fds[0].revents().unwrap_or(PollFlags::empty());
            if !revents.contains(PollFlags::POLLIN) {
                return Err(io::Error::new(io::ErrorKind::BrokenPipe, "hung up"));
            }
            match file.read(buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                Err(e) => return Err(e),
            }
        }
    };
    if n == 0 {
        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "end of file"));
    }
    Ok(Some(n))
}

/// One probe of a hung-up fd: readable or quiet is `Ok`, hang-up is `Err`.
fn poll_once(tty: &mut Tty, buf: &mut [u8]) -> io::Result<()> {
    read_timeout(tty, buf).map(|_| ())
}

/// Writes as much of `bytes` as the tty takes now and removes it from the
/// front; a full tty is not an error.
fn write_some(tty: &mut Tty, bytes: &mut Vec<u8>) -> io::Result<()> {
    let written = match tty {
        // serialport polls with a zero timeout first: "timed out" means full.
        Tty::Port(port) => port.write(bytes),
        Tty::File(file) => file.write(bytes),
    };
    match written {
        Ok(n) => {
            bytes.drain(..n);
            Ok(())
        }
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
            ) =>
        {
            Ok(())
        }
        Err(e) => Err(e),
    }
}

/// Opens and configures `device`; returns a reader (waits up to
/// [`READ_TIMEOUT`]) and a writer (never waits) on the same tty.
fn open_device(device: &Path, baud: u32) -> Result<(Tty, Tty), Error> {
    let d = device.display();
    let port = serialport::new(device.to_string_lossy(), baud)
        .data_bits(DataBits::Eight)
        .parity(Parity::None)
        .stop_bits(StopBits::One)
        .flow_control(FlowControl::None)
        .timeout(READ_TIMEOUT)
        .open_native()
        .map_err(|e| {
            let hint = match e.kind() {
                serialport::ErrorKind::NoDevice => format!(
                    "it is missing or in use by another program (check `ls -l {d}`, `fuser {d}`)"
                ),
                _ => format!("check `ls -l {d}` and that we run as root or in group dialout"),
            };
            Error::io(
                format!("cannot open serial port {d}: {e}; {hint}"),
                io::Error::other(e.to_string()),
            )
        })?;
    // O_NONBLOCK is shared by both descriptors: reads wait in poll (with the
    // timeout above), writes never wait.
    fcntl(port.as_raw_fd(), FcntlArg::F_SETFL(OFlag::O_NONBLOCK))
        .map_err(|e| Error::io(format!("cannot make {d} non-blocking"), e.into()))?;
    let mut writer = port.try_clone_native().map_err(|e| {
        Error::io(
            format!("cannot duplicate {d}: {e}"),
            io::Error::other(e.to_string()),
        )
    })?;
    writer.set_timeout(Duration::ZERO).map_err(|e| {
        Error::io(
            format!("cannot configure {d}: {e}"),
            io::Error::other(e.to_string()),
        )
    })?;
    Ok((Tty::Port(port), Tty::Port(writer)))
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

    /// CPU time (ns) of this process's thread named `name`.
    fn thread_cpu_ns(name: &str) -> u64 {
        for task in std::fs::read_dir("/proc/self/task").unwrap() {
            let dir = task.unwrap().path();
            let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
            if comm.trim() == name {
                let stat = std::fs::read_to_string(dir.join("schedstat")).unwrap();
                return stat.split_whitespace().next().unwrap().parse().unwrap();
            }
        }
        panic!("no thread named {name}");
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
            vec![PathDriver::Serial(one)],
        );
        let (h2, mut out2, task2) = start(
            endpoint("node2", &[PathId(42)], fast()),
            vec![PathDriver::Serial(two)],
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
        // One report, then silence while the driver retries with back-off.
        let cpu = thread_cpu_ns("serial-41");
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
        let spent = thread_cpu_ns("serial-41") - cpu;
        eprintln!("hang-up: {total} fault report(s), reader CPU {spent} ns in 1.5 s: {seen:?}");
        assert_eq!(total, 1, "{seen:#?} {later:#?}");
        assert!(
            spent < 20_000_000,
            "reader spent {spent} ns in 1.5 s of hang-up"
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
            vec![PathDriver::Serial(one)],
        );
        let run_node2 = |generation| {
            let two = SerialDriver::open(PathId(0), &slave_path, 38_400).unwrap();
            let node2 = endpoint_generation("node2", &[PathId(0)], fast(), generation);
            start(node2, vec![PathDriver::Serial(two)])
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
            vec![PathDriver::Serial(one)],
        );
        let (h2, mut out2, task2) = start(
            endpoint("node2", &[PathId(0)], fast()),
            vec![PathDriver::Serial(two)],
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
