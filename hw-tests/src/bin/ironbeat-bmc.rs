//! `ironbeat-bmc`: ironbeat's IPMI BMC responder on a UDP socket, for the
//! interop tests (ipmitool, fence_ipmilan and our client against it) and the
//! demo.
//!
//! ```text
//! ironbeat-bmc --listen 127.0.0.1:6231 --power-file /tmp/x/power \
//!     --user admin:labpass:admin --user viewer:viewpass:user \
//!     [--suites 17,3] [--no-v15] [--max-sessions N] [--user-sessions N]
//!     [--session-timeout SECONDS] [--handshake-timeout SECONDS] [--kg KEY]
//! ```
//!
//! Power lives in `--power-file` (`1` on, `0` off; created on if missing),
//! operations are logged to `<power-file>.log`. Without `--power-file` the
//! power is kept in memory. Prints `listening on ADDR` once bound, then one
//! line per event (`<unix seconds.micros> <event>`), and `counters …` on
//! exit (SIGTERM or SIGINT).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context};
use ironbeat_fence::driver::bmc::{BmcServer, FilePower};
use ironbeat_fence::driver::kernel_seed;
use ironbeat_fence::ipmi::bmc::{Bmc, BmcConfig, Event, MemoryPower, PowerBackend, User};
use ironbeat_fence::power::PowerState;

const USAGE: &str = "usage: ironbeat-bmc --listen ADDR:PORT [--power-file PATH] \
--user NAME:PASSWORD[:user|operator|admin]... [--suites 17,3] [--no-v15] \
[--max-sessions N] [--user-sessions N] [--session-timeout SECONDS] \
[--handshake-timeout SECONDS] [--kg KEY]";

struct Options {
    listen: SocketAddr,
    power_file: Option<PathBuf>,
    config: BmcConfig,
}

fn parse(args: &[String]) -> anyhow::Result<Options> {
    let mut listen = None;
    let mut power_file = None;
    let mut users = Vec::new();
    let mut suites = None;
    let mut v15 = true;
    let mut max_sessions = None;
    let mut user_sessions = None;
    let mut session_timeout = None;
    let mut handshake_timeout = None;
    let mut kg = None;
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| anyhow!("{flag} needs a value\n{USAGE}"))
        };
        match flag.as_str() {
            "--listen" => listen = Some(value()?.parse().context("--listen ADDR:PORT")?),
            "--power-file" => power_file = Some(PathBuf::from(value()?)),
            "--user" => users.push(User::parse_spec(&value()?)?),
            "--suites" => {
                suites = Some(
                    value()?
                        .split(',')
                        .map(|s| s.trim().parse::<u8>())
                        .collect::<Result<Vec<_>, _>>()
                        .context("--suites takes numbers like 17,3")?,
                )
            }
            "--no-v15" => v15 = false,
            "--max-sessions" => max_sessions = Some(value()?.parse().context("--max-sessions N")?),
            "--user-sessions" => {
                user_sessions = Some(value()?.parse().context("--user-sessions N")?)
            }
            "--session-timeout" => {
                session_timeout = Some(seconds(&value()?).context("--session-timeout")?)
            }
            "--handshake-timeout" => {
                handshake_timeout = Some(seconds(&value()?).context("--handshake-timeout")?)
            }
            "--kg" => kg = Some(value()?.into_bytes()),
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown option {other:?}\n{USAGE}"),
        }
    }
    let listen = listen.ok_or_else(|| anyhow!("--listen is required\n{USAGE}"))?;
    if users.is_empty() {
        bail!("at least one --user is required\n{USAGE}");
    }
    if let Some(n) = user_sessions {
        for u in &mut users {
            u.max_sessions = n;
        }
    }
    let mut config = BmcConfig::new(users);
    if let Some(s) = suites {
        config.cipher_suites = s;
    }
    if !v15 {
        config.v15.md5 = false;
        config.v15.straight_password = false;
    }
    if let Some(n) = max_sessions {
        config.max_sessions = n;
    }
    if let Some(t) = session_timeout {
        config.session_timeout = t;
    }
    if let Some(t) = handshake_timeout {
        config.handshake_timeout = t;
    }
    if let Some(k) = kg {
        config.kg = k;
    }
    config.validate()?;
    Ok(Options {
        listen,
        power_file,
        config,
    })
}

fn seconds(text: &str) -> anyhow::Result<Duration> {
    let secs: f64 = text.parse().context("expected seconds, e.g. 60 or 0.5")?;
    if !(secs.is_finite() && secs > 0.0) {
        bail!("expected a positive number of seconds, got {text}");
    }
    Ok(Duration::from_secs_f64(secs))
}

fn print_event(event: &Event) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    println!("{}.{:06} {event}", now.as_secs(), now.subsec_micros());
}

async fn serve<P: PowerBackend>(listen: SocketAddr, bmc: Bmc<P>) -> anyhow::Result<()> {
    let mut server = BmcServer::bind(listen, bmc).await?;
    println!("listening on {}", server.local_addr()?);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    let shutdown = async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    };
    server.run(shutdown, print_event).await?;
    println!("counters {:?}", server.bmc().counters());
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = parse(&args)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let seed = kernel_seed()?;
    runtime.block_on(async {
        match options.power_file {
            Some(path) => {
                let power = FilePower::open(&path)?;
                serve(options.listen, Bmc::new(options.config, power, seed)?).await
            }
            None => {
                let power = MemoryPower::new(PowerState::On);
                serve(options.listen, Bmc::new(options.config, power, seed)?).await
            }
        }
    })
}
