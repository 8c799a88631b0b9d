//! The watchdog for real: a QEMU guest with an emulated Intel 6300ESB
//! watchdog (`-device i6300esb`, `-action watchdog=reset`), the Debian
//! kernel's own `i6300esb` driver, and our `ironbeat watchdog feed` inside.
//!
//! * while our process feeds it (several timeouts) the guest lives: one boot,
//!   no QMP `WATCHDOG` event;
//! * killed with SIGKILL, our process cannot disarm it: qemu reports the
//!   `WATCHDOG` event (`"action": "reset"`) within the timeout of the last
//!   feed and the guest boots again (a second boot line, a new `boot_id`);
//! * stopped with SIGTERM, it disarms it (magic close): no event, the guest
//!   keeps running for several timeouts;
//! * the same with the daemon (`ironbeat run` with a `[watchdog]` table):
//!   fed while it runs, disarmed by SIGTERM, a reset after SIGKILL.
//!
//! The guest is `scripts/build-qemu-guest.sh`'s (a stock Debian kernel, a
//! busybox initramfs with the `watchdog` and `i6300esb` modules) plus a
//! second cpio archive written here: `/bin/ironbeat` and `/test.sh`. The
//! binary is built static (`-C target-feature=+crt-static`, glibc, no
//! dynamic loader needed) for x86_64-unknown-linux-gnu into its own target
//! directory (`<target>/static-guest`), unless `IRONBEAT_STATIC_BIN` names
//! one. TCG only (see hw-tests/src/qemu.rs); no root needed. Only a missing
//! `qemu-system-x86_64` skips this test (`SKIPPED: …`; a failure under
//! `CI=true`/`IBT_REQUIRE=1`).

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ironbeat_hw_tests::qemu::{parse_boots, Boot, GuestImage};
use ironbeat_hw_tests::{binary, cmd, env};

/// The watchdog timeout set in the guest (whole seconds).
const TIMEOUT_S: u64 = 3;
/// Bound on one guest boot (TCG: ~3 s; a loaded box is slower).
const BOOT_LIMIT: Duration = Duration::from_secs(90);
/// Bound on building the static binary from scratch (release, one job).
const BUILD_LIMIT: Duration = Duration::from_secs(3600);

/// What the guest runs (an appended cpio archive's `/test.sh`): load the
/// driver, show the device (sysfs and `ironbeat watchdog list`), feed it with
/// `ironbeat watchdog feed` for `ironbeat.wdfeed=` seconds, then SIGKILL or
/// SIGTERM the feeder (`ironbeat.wd=kill|term`) and say it is alive every
/// second. `ironbeat.wd=daemon`: the daemon (`ironbeat run`, a one-node
/// cluster with `[watchdog]`) feeds it instead; it is stopped with SIGTERM,
/// started again and then killed with SIGKILL. `ironbeat.wd=cluster`: node
/// `g<ironbeat.wdme>` of a three-node cluster whose peer is
/// `198.18.13.<ironbeat.wdpeer>` across an e1000 link.
const TEST_SH: &str = r#"#!/bin/sh
# hw-tests/tests/watchdog_qemu.rs: the guest side.
arg() { sed -n "s/.*ironbeat\.$1=\([a-z0-9]*\).*/\1/p" /proc/cmdline; }
up() { cut -d' ' -f1 /proc/uptime; }
T=$(arg wdtimeout); MODE=$(arg wd); FEED=$(arg wdfeed)
insmod /lib/modules/watchdog.ko && insmod /lib/modules/i6300esb.ko ||
    { echo "IRONBEAT-WD-ERROR insmod failed"; exit 1; }
S=/sys/class/watchdog/watchdog0
for f in identity timeout state nowayout options bootstatus status fw_version dev; do
    [ -r $S/$f ] && echo "IRONBEAT-WD-SYSFS $f=$(cat $S/$f)"
done
echo "IRONBEAT-WD-SYSFS driver=$(busybox basename "$(busybox readlink $S/device/driver)")"
ironbeat watchdog list | sed 's/^/IRONBEAT-WD-LIST /'
if [ "$MODE" = daemon ]; then
    # The daemon itself: a one-node cluster (quorum held) with [watchdog].
    busybox ip link set lo up
    mkdir -p /etc/ironbeat /tmp/ib
    printf 'auth 1\n1 sha256 guest-test-key\n' >/etc/ironbeat/authkeys
    busybox chmod 600 /etc/ironbeat/authkeys
    printf '[cluster]\nnodes = ["g1"]\n\n[timing]\nkeepalive = "100ms"\ndeadtime = "1s"\ninitdead = "2s"\n\n[[link]]\nkind = "ucast"\niface = "lo"\npeer = "127.0.0.2"\n\n[watchdog]\ndevice = "/dev/watchdog0"\ntimeout = "%ss"\n' "$T" >/etc/ironbeat/ironbeat.toml
    run() { ironbeat run --config /etc/ironbeat/ironbeat.toml --node g1 --state-dir /tmp/ib --socket /tmp/ib.sock --foreground & }
    run
    pid=$!
    sleep "$FEED"
    echo "IRONBEAT-WD-DAEMON-FED state=$(cat $S/state) uptime=$(up)"
    kill -TERM $pid
    wait $pid
    echo "IRONBEAT-WD-DAEMON-TERM rc=$? state=$(cat $S/state) uptime=$(up)"
    sleep $((2 * T))
    echo "IRONBEAT-WD-DAEMON-ALIVE uptime=$(up)"
    run
    pid=$!
    echo "IRONBEAT-WD-FEEDING pid=$pid uptime=$(up)"
    sleep "$FEED"
    kill -9 $pid
    echo "IRONBEAT-WD-STOPPED mode=daemon uptime=$(up)"
elif [ "$MODE" = cluster ]; then
    # Node g$ME of a three-node cluster (g3 never runs), its peer across an
    # e1000 "crossover cable"; the daemon feeds the watchdog.
    ME=$(arg wdme); PEER=$(arg wdpeer)
    insmod /lib/modules/e1000.ko
    busybox ip link set lo up
    busybox ip link set eth0 up
    busybox ip addr add "198.18.13.$ME/24" dev eth0
    mkdir -p /etc/ironbeat /tmp/ib
    printf 'auth 1\n1 sha256 guest-cluster-key\n' >/etc/ironbeat/authkeys
    busybox chmod 600 /etc/ironbeat/authkeys
    printf '[cluster]\nnodes = ["g1", "g2", "g3"]\n\n[timing]\nkeepalive = "100ms"\ndeadtime = "1s"\ninitdead = "3s"\n\n[[link]]\nkind = "ucast"\niface = "eth0"\npeer = "198.18.13.%s"\n\n[watchdog]\ndevice = "/dev/watchdog0"\ntimeout = "%ss"\n' "$PEER" "$T" >/etc/ironbeat/ironbeat.toml
    ironbeat run --config /etc/ironbeat/ironbeat.toml --node "g$ME" --state-dir /tmp/ib --socket /tmp/ib.sock --foreground &
    echo "IRONBEAT-WD-CLUSTER-STARTED node=g$ME uptime=$(up)"
elif [ "$MODE" = selftest ]; then
    ironbeat watchdog test --yes --device /dev/watchdog0 --timeout "${T}s"
    echo "IRONBEAT-WD-SELFTEST-RETURNED rc=$?"
else
if [ "$MODE" = term ]; then
    # Not on a terminal and no --yes: refused, nothing armed.
    ironbeat watchdog test --device /dev/watchdog0 --timeout "${T}s" </dev/null
    echo "IRONBEAT-WD-TEST-REFUSED rc=$? state=$(cat $S/state)"
fi
ironbeat watchdog feed --device /dev/watchdog0 --timeout "${T}s" --verbose &
pid=$!
echo "IRONBEAT-WD-FEEDING pid=$pid uptime=$(up)"
sleep "$FEED"
if [ "$MODE" = kill ]; then
    kill -9 $pid
    echo "IRONBEAT-WD-STOPPED mode=kill uptime=$(up)"
else
    kill -TERM $pid
    wait $pid
    echo "IRONBEAT-WD-STOPPED mode=term rc=$? uptime=$(up)"
fi
fi
i=0
while [ $i -lt 120 ]; do
    sleep 1
    i=$((i + 1))
    echo "IRONBEAT-WD-ALIVE +$i uptime=$(up)"
done
"#;

/// One guest at a time: two TCG guests on a small machine distort timings.
fn one_at_a_time() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Skips (only) without qemu; otherwise the guest and the static binary,
/// built if missing (a failure to build them fails the test).
fn kit(test: &str) -> Option<(GuestImage, PathBuf)> {
    if !env::has_tool("qemu-system-x86_64") {
        let why = "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86)";
        if env::required() {
            panic!("{test}: {why}");
        }
        let _ = std::io::stderr().write_all(format!("\nSKIPPED: {test}: {why}\n").as_bytes());
        return None;
    }
    let image = GuestImage::ensure().expect("building the QEMU guest");
    let bin = static_ironbeat().expect("building the static ironbeat");
    Some((image, bin))
}

/// `ironbeat` built static for the guest (once per process).
fn static_ironbeat() -> Result<PathBuf, String> {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    BUILT
        .get_or_init(|| {
            if let Some(bin) = std::env::var_os("IRONBEAT_STATIC_BIN") {
                return Ok(PathBuf::from(bin));
            }
            let target = "x86_64-unknown-linux-gnu";
            let dir = binary::target_dir().join("static-guest");
            let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
            let started = Instant::now();
            // --target keeps RUSTFLAGS off build scripts and proc-macros.
            let out = cmd::run(
                Command::new(cargo)
                    .current_dir(binary::workspace_root())
                    .args([
                        "build",
                        "--release",
                        "--bin",
                        "ironbeat",
                        "--target",
                        target,
                    ])
                    .arg("--target-dir")
                    .arg(&dir)
                    .env(
                        "RUSTFLAGS",
                        "-C target-feature=+crt-static -C strip=symbols",
                    )
                    .env("CARGO_PROFILE_RELEASE_DEBUG", "0"),
                BUILD_LIMIT,
            )
            .map_err(|e| format!("{e:#}"))?;
            if !out.status.success() {
                return Err(format!(
                    "cargo build (static) failed: {}",
                    out.stderr.trim()
                ));
            }
            eprintln!(
                "static ironbeat built in {:.0} s",
                started.elapsed().as_secs_f64()
            );
            Ok(dir.join(target).join("release/ironbeat"))
        })
        .clone()
}

/// One newc cpio archive (what the kernel unpacks as an initramfs).
#[derive(Default)]
struct Cpio {
    bytes: Vec<u8>,
    ino: u32,
}

impl Cpio {
    fn entry(&mut self, name: &str, mode: u32, data: &[u8]) {
        self.ino += 1;
        let fields = [
            self.ino,
            mode,
            0,
            0,
            1,
            0,
            u32::try_from(data.len()).expect("a cpio member under 4 GiB"),
            0,
            0,
            0,
            0,
            u32::try_from(name.len() + 1).expect("short name"),
            0,
        ];
        self.bytes.extend_from_slice(b"070701");
        for f in fields {
            self.bytes.extend_from_slice(format!("{f:08X}").as_bytes());
        }
        self.bytes.extend_from_slice(name.as_bytes());
        self.bytes.push(0);
        self.pad();
        self.bytes.extend_from_slice(data);
        self.pad();
    }

    fn pad(&mut self) {
        while self.bytes.len() % 4 != 0 {
            self.bytes.push(0);
        }
    }

    fn finish(mut self) -> Vec<u8> {
        self.entry("TRAILER!!!", 0, &[]);
        self.bytes
    }
}

/// The guest's initramfs: the base archive, zero padding to a multiple of 4
/// (the kernel looks for an uncompressed archive only there), then ours.
fn initrd(image: &GuestImage, bin: &Path, out: &Path) {
    let mut bytes = fs::read(&image.initramfs).expect("reading the base initramfs");
    while bytes.len() % 4 != 0 {
        bytes.push(0);
    }
    let mut cpio = Cpio::default();
    cpio.entry("bin", 0o040755, &[]);
    cpio.entry(
        "bin/ironbeat",
        0o100755,
        &fs::read(bin).expect("reading the static ironbeat"),
    );
    cpio.entry("test.sh", 0o100755, TEST_SH.as_bytes());
    bytes.extend(cpio.finish());
    fs::write(out, bytes).expect("writing the initrd");
}

/// A QMP event as received: qemu's own timestamp (host wall clock) and the
/// event.
#[derive(Debug, Clone)]
struct Event {
    at: SystemTime,
    name: String,
    data: serde_json::Value,
}

/// A running guest: our qemu child, its console, its QMP events.
struct Guest {
    child: Child,
    dir: PathBuf,
    events: Arc<Mutex<Vec<Event>>>,
    qmp: Mutex<UnixStream>,
}

impl Guest {
    fn start(test: &str, image: &GuestImage, bin: &Path, mode: &str, feed_s: u64) -> Guest {
        Guest::start_with(test, image, bin, mode, feed_s, &[], "")
    }

    /// [`Guest::start`] with more qemu arguments and kernel command line.
    fn start_with(
        test: &str,
        image: &GuestImage,
        bin: &Path,
        mode: &str,
        feed_s: u64,
        extra: &[String],
        cmdline: &str,
    ) -> Guest {
        let dir = std::env::temp_dir().join(format!("ibwd-{}-{test}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).expect("test directory");
        let img = dir.join("initrd.img");
        initrd(image, bin, &img);
        let qmp = dir.join("qmp.sock");
        let child = Command::new("qemu-system-x86_64")
            .args([
                "-accel", "tcg", "-cpu", "max", "-M", "pc", "-smp", "1", "-m", "256",
            ])
            .args(["-nodefaults", "-no-user-config", "-display", "none"])
            .arg("-chardev")
            .arg(format!(
                "file,id=con,path={}",
                dir.join("console.log").display()
            ))
            .args(["-serial", "chardev:con"])
            .arg("-qmp")
            .arg(format!("unix:{},server=on,wait=off", qmp.display()))
            .args(["-device", "i6300esb", "-action", "watchdog=reset"])
            .args(extra)
            .arg("-kernel")
            .arg(&image.vmlinux)
            .arg("-initrd")
            .arg(&img)
            .arg("-append")
            .arg(format!(
                "console=ttyS0 panic=-1 quiet ironbeat.guest={test} ironbeat.lifetime=300 \
                 ironbeat.wd={mode} ironbeat.wdtimeout={TIMEOUT_S} ironbeat.wdfeed={feed_s} \
                 {cmdline}"
            ))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(dir.join("qemu.log")).expect("qemu.log"))
            .spawn()
            .expect("starting qemu-system-x86_64");
        let events = Arc::new(Mutex::new(Vec::new()));
        let stream = cmd::poll(Duration::from_secs(20), Duration::from_millis(20), || {
            UnixStream::connect(&qmp).ok()
        })
        .expect("connecting to qemu's QMP socket");
        let qmp = Mutex::new(stream.try_clone().expect("cloning the QMP socket"));
        let sink = events.clone();
        std::thread::spawn(move || read_events(stream, &sink));
        Guest {
            child,
            dir,
            events,
            qmp,
        }
    }

    /// Sends one QMP command (its answer is not waited for).
    fn qmp(&self, command: &str) {
        self.qmp
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .write_all(format!("{command}\n").as_bytes())
            .expect("writing to QMP");
    }

    fn console(&self) -> String {
        fs::read(self.dir.join("console.log"))
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    fn boots(&self) -> Vec<Boot> {
        parse_boots(self.console().as_bytes())
    }

    /// Waits for a console line starting with `prefix`; returns it and the
    /// host time it was seen (20 ms polling).
    fn wait_line(&self, prefix: &str, limit: Duration) -> (String, SystemTime) {
        cmd::poll(limit, Duration::from_millis(20), || {
            let console = self.console();
            let line = console.lines().find(|l| l.starts_with(prefix))?.to_string();
            Some((line, SystemTime::now()))
        })
        .unwrap_or_else(|| {
            panic!(
                "no `{prefix}` line within {limit:?}; console:\n{}\nqemu:\n{}",
                self.tail(),
                fs::read_to_string(self.dir.join("qemu.log")).unwrap_or_default()
            )
        })
    }

    fn watchdog_events(&self) -> Vec<Event> {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|e| e.name == "WATCHDOG")
            .cloned()
            .collect()
    }

    fn tail(&self) -> String {
        let console = self.console();
        let lines: Vec<&str> = console.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Guest {
    fn drop(&mut self) {
        // Our own child only.
        let _ = self.child.kill();
        let _ = cmd::wait_deadline(&mut self.child, Duration::from_secs(10));
        if !std::thread::panicking() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// Reads QMP: the greeting, `qmp_capabilities`, then every event until qemu
/// closes the socket.
fn read_events(stream: UnixStream, sink: &Mutex<Vec<Event>>) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    // Commands written before the capabilities are negotiated would be
    // refused; `Guest::qmp` is only used seconds after the start.
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    if writer
        .write_all(b"{\"execute\": \"qmp_capabilities\"}\n")
        .is_err()
    {
        return;
    }
    loop {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let Ok(value) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        let Some(name) = value.get("event").and_then(|e| e.as_str()) else {
            continue;
        };
        let ts = &value["timestamp"];
        let at = UNIX_EPOCH
            + Duration::from_secs(ts["seconds"].as_u64().unwrap_or(0))
            + Duration::from_micros(ts["microseconds"].as_u64().unwrap_or(0));
        sink.lock().unwrap_or_else(|e| e.into_inner()).push(Event {
            at,
            name: name.to_string(),
            data: value["data"].clone(),
        });
    }
}

/// The guest's uptime in a marker line (`… uptime=12.34`).
fn uptime(line: &str) -> f64 {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix("uptime="))
        .and_then(|u| u.parse().ok())
        .unwrap_or_else(|| panic!("no uptime in {line:?}"))
}

#[test]
fn killed_feeder_resets_the_guest_within_the_timeout() {
    let test = "killed_feeder_resets_the_guest_within_the_timeout";
    let _serial = one_at_a_time();
    let Some((image, bin)) = kit(test) else {
        return;
    };
    // Fed for four timeouts, then SIGKILL.
    let feed_s = 4 * TIMEOUT_S;
    let guest = Guest::start("wdkill", &image, &bin, "kill", feed_s);
    let first = guest.wait_line("IRONBEAT-GUEST-BOOT", BOOT_LIMIT).0;
    let (feeding, _) = guest.wait_line("IRONBEAT-WD-FEEDING", BOOT_LIMIT);
    let (stopped, killed_at) =
        guest.wait_line("IRONBEAT-WD-STOPPED", Duration::from_secs(feed_s + 60));
    let console = guest.console();
    for line in console.lines().filter(|l| l.starts_with("IRONBEAT-WD-")) {
        eprintln!("{line}");
    }
    assert!(
        console.contains("identity=i6300ESB timer"),
        "{}",
        guest.tail()
    );
    assert!(
        console.contains(&format!("armed: timeout {TIMEOUT_S}s")),
        "{}",
        guest.tail()
    );
    // Alive while fed: several timeouts of guest time, fed every T/3, one
    // boot, no watchdog event before the kill.
    let fed_for = uptime(&stopped) - uptime(&feeding);
    assert!(
        fed_for >= (feed_s as f64) - 0.5,
        "fed for {fed_for} s only:\n{}",
        guest.tail()
    );
    let feeds = console.lines().filter(|l| l.starts_with("fed ")).count();
    assert!(
        feeds as u64 >= feed_s * 3 / TIMEOUT_S - 1,
        "{feeds} feeds in {feed_s} s:\n{}",
        guest.tail()
    );
    let early: Vec<Event> = guest
        .watchdog_events()
        .into_iter()
        .filter(|e| e.at < killed_at - Duration::from_millis(100))
        .collect();
    assert!(early.is_empty(), "the watchdog fired while fed: {early:?}");
    assert_eq!(guest.boots().len(), 1, "{first}\n{}", guest.tail());

    let delay = expect_reset_after(&guest, killed_at);
    eprintln!(
        "RESULT i6300esb timeout={TIMEOUT_S}s, `ironbeat watchdog feed`: kill -9 seen on the \
         console -> QMP WATCHDOG {delay:.2} s (fed {feeds} times over {fed_for:.1} s guest time)"
    );
}

/// After the feeder was killed (seen on the console at `killed_at`): the
/// watchdog fires within the timeout of the last feed (which was at most T/3
/// before the kill), with action reset, and the guest boots again with a new
/// boot id. Returns the kill-to-event delay in seconds.
fn expect_reset_after(guest: &Guest, killed_at: SystemTime) -> f64 {
    let event = cmd::poll(
        Duration::from_secs(TIMEOUT_S + 30),
        Duration::from_millis(20),
        || guest.watchdog_events().into_iter().next(),
    )
    .unwrap_or_else(|| panic!("no WATCHDOG event after the kill:\n{}", guest.tail()));
    assert_eq!(event.data["action"], "reset", "{event:?}");
    let delay = event
        .at
        .duration_since(killed_at)
        .map(|d| d.as_secs_f64())
        .unwrap_or_else(|e| -e.duration().as_secs_f64());
    let t = TIMEOUT_S as f64;
    assert!(
        delay >= t * 2.0 / 3.0 - 0.5 && delay <= t + 2.0,
        "WATCHDOG {delay:.2} s after the kill; expected between 2/3 and 1 timeout ({t} s)"
    );
    let boots = cmd::poll(BOOT_LIMIT, Duration::from_millis(20), || {
        let boots = guest.boots();
        (boots.len() >= 2).then_some(boots)
    })
    .unwrap_or_else(|| panic!("no second boot after the reset:\n{}", guest.tail()));
    assert_ne!(boots[0].boot_id, boots[1].boot_id, "{boots:?}");
    delay
}

#[test]
fn daemon_feeds_disarms_on_sigterm_and_a_killed_daemon_resets() {
    let test = "daemon_feeds_disarms_on_sigterm_and_a_killed_daemon_resets";
    let _serial = one_at_a_time();
    let Some((image, bin)) = kit(test) else {
        return;
    };
    let feed_s = 3 * TIMEOUT_S;
    let guest = Guest::start("wddaemon", &image, &bin, "daemon", feed_s);
    guest.wait_line("IRONBEAT-GUEST-BOOT", BOOT_LIMIT);
    // Fed by the daemon for three timeouts: armed, no event.
    let (fed, _) = guest.wait_line(
        "IRONBEAT-WD-DAEMON-FED",
        BOOT_LIMIT + Duration::from_secs(feed_s),
    );
    assert!(fed.contains("state=active"), "{fed}\n{}", guest.tail());
    let (term, _) = guest.wait_line("IRONBEAT-WD-DAEMON-TERM", Duration::from_secs(60));
    let console = guest.console();
    assert!(
        console.contains(&format!(
            "watchdog /dev/watchdog0 (i6300ESB timer) armed: timeout {TIMEOUT_S}s"
        )),
        "{}",
        guest.tail()
    );
    // SIGTERM: a clean stop, the device disarmed (verified in sysfs).
    assert!(
        term.contains("rc=0") && term.contains("state=inactive"),
        "{term}\n{}",
        guest.tail()
    );
    assert!(
        console.contains("watchdog /dev/watchdog0 disarmed"),
        "{}",
        guest.tail()
    );
    // Two timeouts later the guest still runs.
    guest.wait_line(
        "IRONBEAT-WD-DAEMON-ALIVE",
        Duration::from_secs(2 * TIMEOUT_S + 30),
    );
    assert!(
        guest.watchdog_events().is_empty(),
        "{:?}",
        guest.watchdog_events()
    );
    assert_eq!(guest.boots().len(), 1, "{}", guest.tail());
    // Started again, then SIGKILL: the machine resets.
    let (_, killed_at) = guest.wait_line("IRONBEAT-WD-STOPPED", Duration::from_secs(feed_s + 60));
    assert!(
        guest
            .watchdog_events()
            .iter()
            .all(|e| e.at >= killed_at - Duration::from_millis(100)),
        "the watchdog fired while the daemon fed it: {:?}",
        guest.watchdog_events()
    );
    let delay = expect_reset_after(&guest, killed_at);
    eprintln!(
        "RESULT i6300esb timeout={TIMEOUT_S}s, `ironbeat run` with [watchdog]: kill -9 seen on \
         the console -> QMP WATCHDOG {delay:.2} s"
    );
}

#[test]
fn clean_stop_disarms_and_the_guest_keeps_running() {
    let test = "clean_stop_disarms_and_the_guest_keeps_running";
    let _serial = one_at_a_time();
    let Some((image, bin)) = kit(test) else {
        return;
    };
    let feed_s = 2 * TIMEOUT_S;
    let guest = Guest::start("wdterm", &image, &bin, "term", feed_s);
    guest.wait_line("IRONBEAT-GUEST-BOOT", BOOT_LIMIT);
    let (stopped, _) = guest.wait_line(
        "IRONBEAT-WD-STOPPED",
        BOOT_LIMIT + Duration::from_secs(feed_s),
    );
    assert!(stopped.contains("rc=0"), "{stopped}\n{}", guest.tail());
    let console = guest.console();
    let refused = console
        .lines()
        .find(|l| l.starts_with("IRONBEAT-WD-TEST-REFUSED"))
        .unwrap_or_default();
    assert!(
        refused.contains("rc=1 state=inactive") && console.contains("pass --yes to confirm"),
        "{refused}\n{}",
        guest.tail()
    );
    assert!(
        guest
            .console()
            .contains("watchdog /dev/watchdog0 disarmed (magic close)"),
        "{}",
        guest.tail()
    );
    // Three timeouts of guest time later it still runs, never reset.
    let alive = format!("IRONBEAT-WD-ALIVE +{}", 3 * TIMEOUT_S);
    guest.wait_line(&alive, Duration::from_secs(3 * TIMEOUT_S + 60));
    assert!(
        guest.watchdog_events().is_empty(),
        "{:?}",
        guest.watchdog_events()
    );
    assert_eq!(guest.boots().len(), 1, "{}", guest.tail());
}

#[test]
fn watchdog_test_command_resets_the_guest() {
    let test = "watchdog_test_command_resets_the_guest";
    let _serial = one_at_a_time();
    let Some((image, bin)) = kit(test) else {
        return;
    };
    let guest = Guest::start("wdselftest", &image, &bin, "selftest", 0);
    guest.wait_line("IRONBEAT-GUEST-BOOT", BOOT_LIMIT);
    // `ironbeat watchdog test --yes`: warns, arms, feeds once, stops feeding.
    let (_, stopped_at) = guest.wait_line("feeding stopped", BOOT_LIMIT);
    assert!(
        guest
            .console()
            .contains("WARNING: this arms /dev/watchdog0"),
        "{}",
        guest.tail()
    );
    let delay = expect_reset_after(&guest, stopped_at);
    assert!(
        !guest.console().contains("IRONBEAT-WD-SELFTEST-RETURNED"),
        "{}",
        guest.tail()
    );
    eprintln!(
        "RESULT i6300esb timeout={TIMEOUT_S}s, `ironbeat watchdog test --yes`: feeding stopped \
         -> QMP WATCHDOG {delay:.2} s"
    );
}

/// `ironbeat run` with a `[watchdog]` it cannot arm does not run unprotected:
/// it exits with an error naming the configuration line and the fix. Runs
/// on the host (no guest): `/dev/null` is a character device that is no
/// watchdog, and a missing device names the drivers to load.
#[test]
fn the_daemon_refuses_to_run_without_its_watchdog() {
    let test = "the_daemon_refuses_to_run_without_its_watchdog";
    if !env::has_binary(test) {
        return;
    }
    if !nix::unistd::geteuid().is_root() {
        let _ = std::io::stderr().write_all(
            format!("\nSKIPPED: {test}: needs root (the daemon binds its link to lo)\n").as_bytes(),
        );
        return;
    }
    let bin = binary::ironbeat().expect("the ironbeat binary");
    let dir = std::env::temp_dir().join(format!("ibwd-{}-daemon-refuses", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("test directory");
    let keys = dir.join("authkeys");
    fs::write(&keys, "auth 1\n1 sha256 watchdog-refusal-key\n").expect("authkeys");
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&keys, fs::Permissions::from_mode(0o600)).expect("chmod 600");
    for (nodes, device, needle) in [
        (
            "\"g1\"",
            "/dev/null",
            "/dev/null does not answer WDIOC_GETSUPPORT",
        ),
        ("\"g1\"", "/dev/watchdog-none", "modprobe"),
        // Two nodes, no fence device, no quorum device: refused before the
        // device is even opened.
        (
            "\"g1\", \"g2\"",
            "/dev/null",
            "watchdog-only fencing in a two-node cluster",
        ),
    ] {
        let config = dir.join("ironbeat.toml");
        fs::write(
            &config,
            format!(
                "[cluster]\nnodes = [{nodes}]\n\n[[link]]\nkind = \"ucast\"\niface = \"lo\"\n\
                 peer = \"127.0.0.2\"\n\n[watchdog]\ndevice = \"{device}\"\ntimeout = \"5s\"\n"
            ),
        )
        .expect("config");
        let out = cmd::run(
            Command::new(&bin)
                .args(["run", "--node", "g1", "--foreground", "--config"])
                .arg(&config)
                .arg("--state-dir")
                .arg(dir.join("state"))
                .arg("--socket")
                .arg(dir.join("ib.sock")),
            Duration::from_secs(30),
        )
        .expect("running ironbeat run");
        assert!(!out.status.success(), "{device}: {out:?}");
        assert!(
            (out.stderr
                .contains(&format!("watchdog ({}:10)", config.display()))
                || out.stderr.contains(&format!("{}:10: ", config.display())))
                && out.stderr.contains(needle),
            "{device}: {}",
            out.stderr
        );
    }
    let _ = fs::remove_dir_all(&dir);
}

/// Isolation, for real: two guests (g1, g2 of a three-node cluster whose g3
/// never runs) joined by an e1000 "cable" (qemu `dgram` netdevs on unix
/// sockets, nothing leaves qemu), each running the daemon with `[watchdog]`.
/// While they see each other they feed; when the test pulls the cable (QMP
/// `set_link`) each has neither quorum nor a peer, stops feeding and is
/// reset by its watchdog.
#[test]
fn isolated_nodes_stop_feeding_and_reset() {
    let test = "isolated_nodes_stop_feeding_and_reset";
    let _serial = one_at_a_time();
    let Some((image, bin)) = kit(test) else {
        return;
    };
    let net = std::env::temp_dir().join(format!("ibwd-{}-cable", std::process::id()));
    let _ = fs::remove_dir_all(&net);
    fs::create_dir_all(&net).expect("cable directory");
    let guest = |me: u8, peer: u8| {
        let local = net.join(format!("g{me}.sock"));
        let remote = net.join(format!("g{peer}.sock"));
        Guest::start_with(
            &format!("wdcluster{me}"),
            &image,
            &bin,
            "cluster",
            0,
            &[
                "-netdev".into(),
                format!(
                    "dgram,id=n0,local.type=unix,local.path={},remote.type=unix,remote.path={}",
                    local.display(),
                    remote.display()
                ),
                "-device".into(),
                format!("e1000,netdev=n0,mac=52:54:00:13:00:0{me}"),
            ],
            &format!("ironbeat.wdme={me} ironbeat.wdpeer={peer}"),
        )
    };
    let g1 = guest(1, 2);
    let g2 = guest(2, 1);
    // Both members of one partition (g3 never comes: without fencing,
    // wait-for-all keeps quorum away, so "a peer seen" is what keeps them
    // healthy) and the watchdog armed.
    for g in [&g1, &g2] {
        g.wait_line("IRONBEAT-WD-CLUSTER-STARTED", BOOT_LIMIT);
    }
    for g in [&g1, &g2] {
        cmd::poll(BOOT_LIMIT, Duration::from_millis(50), || {
            let c = g.console();
            (c.lines()
                .any(|l| l.contains("membership epoch") && l.trim_end().ends_with(": g1, g2"))
                && c.contains("watchdog /dev/watchdog0 (i6300ESB timer) armed"))
            .then_some(())
        })
        .unwrap_or_else(|| panic!("no membership g1, g2 or no watchdog:\n{}", g.tail()));
    }
    // Fed for three timeouts while connected.
    std::thread::sleep(Duration::from_secs(3 * TIMEOUT_S));
    for g in [&g1, &g2] {
        assert!(
            g.watchdog_events().is_empty(),
            "fired while healthy:\n{}",
            g.tail()
        );
        assert_eq!(g.boots().len(), 1, "{}", g.tail());
    }
    // Pull the cable at both ends.
    let pulled = SystemTime::now();
    for g in [&g1, &g2] {
        g.qmp(r#"{"execute": "set_link", "arguments": {"name": "n0", "up": false}}"#);
    }
    // deadtime (1 s) to notice, then at most one timeout since the last feed.
    let limit = Duration::from_secs(1 + TIMEOUT_S + 30);
    let mut delays = Vec::new();
    for g in [&g1, &g2] {
        let event = cmd::poll(limit, Duration::from_millis(20), || {
            g.watchdog_events().into_iter().next()
        })
        .unwrap_or_else(|| panic!("no WATCHDOG event after the cable pull:\n{}", g.tail()));
        assert_eq!(event.data["action"], "reset", "{event:?}");
        assert!(
            g.console()
                .contains("this node lost quorum and sees no peer: no longer feeding watchdog"),
            "{}",
            g.tail()
        );
        let delay = event
            .at
            .duration_since(pulled)
            .map(|d| d.as_secs_f64())
            .unwrap_or(0.0);
        assert!(
            delay <= 1.0 + TIMEOUT_S as f64 + 3.0,
            "reset {delay:.2} s after the cable pull:\n{}",
            g.tail()
        );
        delays.push(delay);
    }
    eprintln!(
        "RESULT two guests of a three-node cluster, watchdog timeout {TIMEOUT_S}s, deadtime 1s: \
         cable pulled -> QMP WATCHDOG after {:.2} s (g1) and {:.2} s (g2)",
        delays[0], delays[1]
    );
    drop(g1);
    drop(g2);
    let _ = fs::remove_dir_all(&net);
}
