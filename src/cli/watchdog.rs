//! `ironbeat watchdog list | feed | test`: the watchdog devices of this
//! machine, an operator's feeder, and a real reset test.
//!
//! * `list` reads `/sys/class/watchdog`: identity, driver, timeout, time
//!   left, state, nowayout, options.
//! * `feed --device DEV --timeout T` arms the device and feeds it every
//!   T/3 until SIGTERM or SIGINT, then disarms it (magic close). Killed with
//!   SIGKILL it cannot disarm: the machine resets within T. This is how to
//!   check a device by hand (`kill -9` it), and what the QEMU test runs.
//! * `test` arms the device, feeds it once and then stops feeding, so the
//!   machine resets: it warns and asks for confirmation first (`--yes` skips
//!   the question; without a terminal `--yes` is required).

use std::io::{self, BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use ironbeat_fence::watchdog::{sysfs, Closed, SysfsEntry, Watchdog};

/// `ironbeat watchdog …`.
#[derive(Debug, Subcommand)]
pub enum WatchdogCommand {
    /// List the watchdog devices (/sys/class/watchdog): identity, driver,
    /// timeout, state, nowayout.
    List,
    /// Arm a watchdog and feed it every timeout/3 until SIGTERM/SIGINT, then
    /// disarm it (magic close); `kill -9` leaves it armed: the machine resets.
    Feed(FeedArgs),
    /// Arm a watchdog and stop feeding it: the machine RESETS. Asks first.
    Test(TestArgs),
}

/// Options of `ironbeat watchdog feed`.
#[derive(Debug, Clone, Args)]
pub struct FeedArgs {
    /// The device.
    #[arg(long, value_name = "DEV", default_value = "/dev/watchdog")]
    pub device: PathBuf,
    /// The timeout to set (whole seconds, e.g. 5s).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_seconds)]
    pub timeout: Duration,
    /// Stop (and disarm) after this long instead of waiting for a signal.
    #[arg(long = "for", value_name = "DURATION", value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Print a line for every feed.
    #[arg(long, short)]
    pub verbose: bool,
}

/// Options of `ironbeat watchdog test`.
#[derive(Debug, Clone, Args)]
pub struct TestArgs {
    /// The device.
    #[arg(long, value_name = "DEV", default_value = "/dev/watchdog")]
    pub device: PathBuf,
    /// The timeout to set (whole seconds).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_seconds)]
    pub timeout: Duration,
    /// Do not ask: reset this machine.
    #[arg(long)]
    pub yes: bool,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    ironbeat_link::parse_duration(text)
        .ok_or_else(|| format!("{text:?} is not a duration; write e.g. \"5s\" or \"1m\""))
}

fn parse_seconds(text: &str) -> Result<Duration, String> {
    let d = parse_duration(text)?;
    if d.is_zero() || d.subsec_nanos() != 0 || d > crate::config::MAX_WATCHDOG_TIMEOUT {
        return Err(format!(
            "{text:?}: a watchdog counts whole seconds; give 1s to {}s",
            crate::config::MAX_WATCHDOG_TIMEOUT.as_secs()
        ));
    }
    Ok(d)
}

/// Runs a `watchdog` subcommand.
pub fn run(command: &WatchdogCommand) -> anyhow::Result<()> {
    match command {
        WatchdogCommand::List => list(),
        WatchdogCommand::Feed(args) => feed(args),
        WatchdogCommand::Test(args) => test(args),
    }
}

/// `ironbeat watchdog list`.
pub fn list() -> anyhow::Result<()> {
    let entries = sysfs::list()?;
    let mut out = io::stdout().lock();
    if entries.is_empty() {
        writeln!(
            out,
            "no watchdog in {} (load a driver: the hardware's, e.g. `modprobe i6300esb`, \
             `modprobe iTCO_wdt`, or `modprobe softdog`)",
            sysfs::SYSFS_CLASS
        )?;
        return Ok(());
    }
    for line in list_lines(&entries) {
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// The lines `watchdog list` prints for `entries`.
pub fn list_lines(entries: &[SysfsEntry]) -> Vec<String> {
    let unknown = || "?".to_string();
    entries
        .iter()
        .map(|e| {
            format!(
                "{} identity={:?} driver={} timeout={} range={} timeleft={} state={} \
                 nowayout={} options={}",
                e.device_path(),
                e.identity.clone().unwrap_or_default(),
                e.driver.clone().unwrap_or_else(unknown),
                e.timeout
                    .map_or_else(unknown, |t| format!("{}s", t.as_secs())),
                match (e.min_timeout, e.max_timeout) {
                    (Some(min), Some(max)) => format!("{}-{}s", min.as_secs(), max.as_secs()),
                    _ => unknown(),
                },
                e.timeleft
                    .map_or_else(unknown, |t| format!("{}s", t.as_secs())),
                e.state.map_or_else(unknown, |s| s.to_string()),
                match e.nowayout {
                    Some(true) => "yes (a clean stop cannot disarm it)".to_string(),
                    Some(false) => "no".to_string(),
                    None => unknown(),
                },
                e.options.map_or_else(unknown, |o| o.to_string()),
            )
        })
        .collect()
}

/// `config check --runnable`: the configured device exists and is a
/// character device (it is not opened: that would arm it).
pub fn machine_check(
    device: &std::path::Path,
    location: &crate::config::Location,
) -> crate::cli::config_check::MachineCheck {
    use std::os::unix::fs::FileTypeExt;
    let failure = match std::fs::metadata(device) {
        Ok(meta) if meta.file_type().is_char_device() => None,
        Ok(_) => Some(format!(
            "it is not a character device; name a watchdog device ({location}; `ironbeat \
             watchdog list` shows them)"
        )),
        Err(e) => Some(format!(
            "{e}; load the watchdog's driver (e.g. `modprobe i6300esb`, `modprobe iTCO_wdt`, \
             `modprobe softdog`) or fix the path at {location}"
        )),
    };
    crate::cli::config_check::MachineCheck {
        what: format!("watchdog device {}", device.display()),
        failure,
    }
}

fn arm(device: &std::path::Path, timeout: Duration) -> anyhow::Result<Watchdog> {
    let mut dog = Watchdog::open(device)?;
    let set = dog.set_timeout(timeout)?;
    dog.keepalive()?;
    let support = dog.support();
    println!(
        "watchdog {} ({}) armed: timeout {}s, options {}, nowayout {}",
        device.display(),
        support.identity,
        set.as_secs(),
        support.options,
        match dog.nowayout() {
            Some(true) => "yes",
            Some(false) => "no",
            None => "unknown",
        }
    );
    Ok(dog)
}

fn report_close(dog: Watchdog) -> anyhow::Result<()> {
    let path = dog.path().display().to_string();
    match dog.close()? {
        Closed::Disarmed => println!("watchdog {path} disarmed (magic close)"),
        Closed::StillArmed(why) => println!("watchdog {path} NOT disarmed: {why}"),
    }
    Ok(())
}

/// `ironbeat watchdog feed`.
pub fn feed(args: &FeedArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).context("installing SIGTERM handler")?;
        let mut int = signal(SignalKind::interrupt()).context("installing SIGINT handler")?;
        let mut dog = arm(&args.device, args.timeout)?;
        let interval = (dog.timeout()? / 3).max(Duration::from_millis(100));
        let started = Instant::now();
        let end = args.duration.map(|d| tokio::time::Instant::now() + d);
        let mut ticker = tokio::time::interval(interval);
        let mut feeds: u64 = 0;
        println!(
            "feeding every {} ms; SIGTERM/SIGINT disarm it, SIGKILL leaves it armed",
            interval.as_millis()
        );
        let _ = io::stdout().flush();
        let why = loop {
            let until_end = async {
                match end {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = ticker.tick() => {
                    dog.keepalive()?;
                    feeds += 1;
                    if args.verbose {
                        println!("fed {feeds} at +{:.1}s", started.elapsed().as_secs_f64());
                        let _ = io::stdout().flush();
                    }
                }
                _ = term.recv() => break "SIGTERM",
                _ = int.recv() => break "SIGINT",
                () = until_end => break "--for elapsed",
            }
        };
        println!("{why} after {feeds} feeds");
        report_close(dog)
    })
}

/// `ironbeat watchdog test`.
pub fn test(args: &TestArgs) -> anyhow::Result<()> {
    let warning = format!(
        "WARNING: this arms {} with a {}s timeout and then STOPS FEEDING it: if the watchdog \
         works, this machine RESETS without shutting down (unsaved data is lost, services stop \
         hard). Run it only on a node whose resources have moved away.",
        args.device.display(),
        args.timeout.as_secs()
    );
    eprintln!("{warning}");
    if !args.yes {
        if !io::stdin().is_terminal() {
            bail!("not on a terminal: pass --yes to confirm the reset");
        }
        eprint!("Type `reset` to go on: ");
        let _ = io::stderr().flush();
        let mut answer = String::new();
        io::stdin().lock().read_line(&mut answer)?;
        if answer.trim() != "reset" {
            bail!("not confirmed; nothing was armed");
        }
    }
    let dog = arm(&args.device, args.timeout)?;
    let timeout = dog.timeout()?;
    println!(
        "feeding stopped: expect a reset within {}s",
        timeout.as_secs()
    );
    let started = Instant::now();
    let give_up = timeout * 2 + Duration::from_secs(5);
    while started.elapsed() < give_up {
        std::thread::sleep(Duration::from_secs(1));
        let left = dog
            .time_left()
            .ok()
            .flatten()
            .map_or_else(String::new, |l| format!(", {}s left", l.as_secs()));
        println!("+{}s{left}", started.elapsed().as_secs());
        let _ = io::stdout().flush();
    }
    let _ = report_close(dog);
    bail!(
        "this machine did not reset within {}s: the watchdog's action is not a reset (a \
         hypervisor's watchdog action may be `none`/`debug`), or the device only raises an \
         alarm; do not rely on it for self-fencing",
        give_up.as_secs()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use ironbeat_fence::watchdog::{Options, State};

    #[test]
    fn timeouts_are_whole_seconds() {
        assert_eq!(parse_seconds("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_seconds("1m"), Ok(Duration::from_secs(60)));
        // A bare number is seconds, as heartbeat's times are.
        assert_eq!(parse_seconds("5"), Ok(Duration::from_secs(5)));
        for bad in ["0s", "1500ms", "x", "100000s"] {
            assert!(parse_seconds(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_runnable_check_wants_a_character_device() {
        let at = crate::config::Location {
            file: "ha.cf".into(),
            line: 3,
        };
        assert_eq!(
            machine_check(std::path::Path::new("/dev/null"), &at).failure,
            None
        );
        let missing = machine_check(std::path::Path::new("/nonexistent/watchdog9"), &at);
        assert!(missing.failure.unwrap().contains("modprobe"));
        let dir = machine_check(std::path::Path::new("/"), &at);
        assert!(dir.failure.unwrap().contains("ha.cf:3"));
    }

    #[test]
    fn list_lines_say_what_is_known() {
        let entries = vec![
            SysfsEntry {
                name: "watchdog0".into(),
                identity: Some("i6300ESB timer".into()),
                timeout: Some(Duration::from_secs(30)),
                min_timeout: Some(Duration::from_secs(1)),
                max_timeout: Some(Duration::from_secs(2046)),
                state: Some(State::Inactive),
                nowayout: Some(true),
                options: Some(Options(0x8180)),
                driver: Some("i6300ESB timer".into()),
                ..SysfsEntry::default()
            },
            SysfsEntry {
                name: "watchdog1".into(),
                ..SysfsEntry::default()
            },
        ];
        let lines = list_lines(&entries);
        assert_eq!(
            lines[0],
            "/dev/watchdog0 identity=\"i6300ESB timer\" driver=i6300ESB timer timeout=30s \
             range=1-2046s timeleft=? state=inactive nowayout=yes (a clean stop cannot disarm it) \
             options=settimeout,magicclose,keepaliveping"
        );
        assert!(lines[1].starts_with("/dev/watchdog1 identity=\"\" driver=? timeout=?"));
    }
}
