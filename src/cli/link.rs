//! `ironbeat link watch` and `ironbeat link send-arp`.

use std::net::{IpAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context, Result};
use clap::Args;
use ironbeat_link::driver::udp::{UdpKind, UdpMedium};
use ironbeat_link::driver::{garp, state, Handle, Output, PathDriver, PathSpec, Runner};
use ironbeat_link::proto::endpoint::{Endpoint, EndpointConfig};
use ironbeat_link::proto::garp::GarpMode;
use ironbeat_link::wire::arp::MacAddr;
use ironbeat_link::Generation;
use serde_json::json;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

use super::output::{EventPrinter, Format};
use crate::config::{self, Config, Medium};

/// Options of `ironbeat link watch`.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// A classic heartbeat directory holding ha.cf and authkeys.
    #[arg(long = "ha-d", value_name = "DIR", conflicts_with = "config")]
    ha_d: Option<PathBuf>,
    /// The native configuration file (TOML).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Print one JSON object per line instead of text.
    #[arg(long)]
    json: bool,
    /// This node's name (default: `uname -n`, as heartbeat does).
    #[arg(long, value_name = "NAME")]
    node: Option<String>,
    /// Where the node's generation is persisted across restarts.
    #[arg(long, value_name = "DIR", default_value = "/var/lib/ironbeat")]
    state_dir: PathBuf,
    /// Accept `crc` keys in authkeys (they authenticate nothing).
    #[arg(long)]
    allow_insecure_crc: bool,
    /// Also print the frame counters every this many seconds (0: only on
    /// SIGUSR1 and at exit).
    #[arg(long, value_name = "SECONDS", default_value_t = 0)]
    counters_every: u64,
}

/// Options of `ironbeat link send-arp`.
#[derive(Debug, Args)]
pub struct SendArpArgs {
    /// The interface to announce on.
    #[arg(long, value_name = "IF")]
    iface: String,
    /// The address(es) to announce: IPv4 (gratuitous ARP) or IPv6 (unsolicited
    /// neighbour advertisement). Repeat for several.
    #[arg(long = "ip", value_name = "ADDR", required = true)]
    ips: Vec<IpAddr>,
    /// How many rounds to send.
    #[arg(long, default_value_t = 5)]
    count: u32,
    /// Time between rounds (`200ms`, `1s`).
    #[arg(long, default_value = "200ms", value_parser = parse_interval)]
    interval: Duration,
    /// ARP form: `request`, `reply`, or `both` alternating (as heartbeat's send_arp).
    #[arg(long, default_value = "both")]
    mode: GarpMode,
    /// Announce this MAC instead of the interface's own.
    #[arg(long, value_name = "MAC")]
    mac: Option<MacAddr>,
}

fn parse_interval(text: &str) -> std::result::Result<Duration, String> {
    ironbeat_link::parse_duration(text)
        .ok_or_else(|| format!("{text:?} is not a duration; write 200ms or 1s"))
}

/// This node's name: `--node`, else `uname -n` (as heartbeat does).
pub fn node_name(node: Option<&str>) -> Result<String> {
    Ok(match node {
        Some(n) => n.to_string(),
        None => nix::unistd::gethostname()
            .context("reading the host name; pass --node NAME")?
            .to_string_lossy()
            .into_owned(),
    })
}

/// Loads the link configuration: `--config FILE` (native), else `--ha-d DIR`,
/// else `/etc/ha.d`. Shared by `ironbeat link watch` and `ironbeat run`.
pub fn load_config(
    ha_d: Option<&Path>,
    file: Option<&Path>,
    node: &str,
    allow_insecure_crc: bool,
) -> Result<Config> {
    Ok(match (ha_d, file) {
        (_, Some(file)) => config::load_native(file, node)?,
        (Some(dir), None) => config::load_ha_d(dir, node, allow_insecure_crc)?,
        (None, None) => config::load_ha_d(Path::new("/etc/ha.d"), node, allow_insecure_crc)?,
    })
}

/// A running link layer: the runner's handle, its outputs and its task.
pub struct Link {
    /// Sends messages, reads counters and peers, stops the runner.
    pub handle: Handle,
    /// The runner's events (liveness, messages, path faults).
    pub outputs: mpsc::Receiver<Output>,
    /// The runner; returns the endpoint when stopped.
    pub task: tokio::task::JoinHandle<Endpoint>,
}

/// Builds the endpoint of `config` in incarnation `generation`, opens every
/// configured path and spawns the runner on the current tokio runtime.
/// Shared by `ironbeat link watch` and `ironbeat run`.
pub fn start_link(config: &Config, generation: Generation) -> Result<Link> {
    let specs = path_specs(config)?;
    let endpoint = Endpoint::new(
        EndpointConfig {
            cluster: config.cluster_id(),
            node_name: config.local_node.clone(),
            generation,
            timing: config.timing,
            keys: config.keys.clone(),
            paths: config.path_ids(),
            peers: config.peers(),
            autojoin: config.autojoin.accepts_unlisted(),
        },
        Instant::now(),
    )?;
    let drivers = PathDriver::open_all(&specs)?;
    let (tx, outputs) = mpsc::channel(1024);
    let (runner, handle) = Runner::new(endpoint, drivers, tx);
    let task = tokio::spawn(runner.run());
    Ok(Link {
        handle,
        outputs,
        task,
    })
}

/// Runs the link layer alone and prints its events until interrupted.
pub fn watch(args: &WatchArgs) -> Result<()> {
    let node = node_name(args.node.as_deref())?;
    let config = load_config(
        args.ha_d.as_deref(),
        args.config.as_deref(),
        &node,
        args.allow_insecure_crc,
    )?;
    // Checked before anything else starts: a bad path is a configuration error.
    path_specs(&config)?;
    // The demo blocks these for its own threads; a watcher it starts inherits
    // the mask, and must handle them itself.
    crate::demo::set_interrupts_blocked(false);
    let generation = state::load_and_bump_generation(&args.state_dir)?;
    let format = if args.json {
        Format::Json
    } else {
        Format::Text
    };
    let names: Vec<String> = config.links.iter().map(|l| l.name()).collect();
    let printer = EventPrinter::new(format, &config.local_node, names);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the event loop")?;
    runtime.block_on(watch_loop(config, generation, printer, args.counters_every))
}

async fn watch_loop(
    config: Config,
    generation: Generation,
    printer: EventPrinter,
    counters_every: u64,
) -> Result<()> {
    let Link {
        handle,
        mut outputs,
        task,
    } = start_link(&config, generation)?;
    println!("{}", printer.started(SystemTime::now(), generation.0));

    let mut interrupt = signal(SignalKind::interrupt()).context("installing SIGINT handler")?;
    let mut terminate = signal(SignalKind::terminate()).context("installing SIGTERM handler")?;
    let mut usr1 = signal(SignalKind::user_defined1()).context("installing SIGUSR1 handler")?;
    let period = Duration::from_secs(counters_every.max(1));
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    loop {
        tokio::select! {
            output = outputs.recv() => match output {
                Some(output) => println!("{}", format_output(&printer, &config, &output)),
                None => break,
            },
            _ = usr1.recv() => {
                let counters = handle.counters().await?;
                println!("{}", printer.counters(SystemTime::now(), &counters));
            }
            _ = ticker.tick(), if counters_every > 0 => {
                let counters = handle.counters().await?;
                println!("{}", printer.counters(SystemTime::now(), &counters));
            }
            _ = interrupt.recv() => break,
            _ = terminate.recv() => break,
        }
    }
    handle.shutdown().await;
    let endpoint = task.await.context("the link runner failed")?;
    println!(
        "{}",
        printer.counters(SystemTime::now(), endpoint.counters())
    );
    Ok(())
}

fn format_output(printer: &EventPrinter, config: &Config, output: &Output) -> String {
    let now = SystemTime::now();
    let path_name = |path: ironbeat_link::PathId| {
        config
            .link(path)
            .map_or_else(|| format!("path {path}"), |l| l.name())
    };
    match output {
        Output::Endpoint(event) => printer.event(now, event),
        Output::PathFault { path, detail } => printer.other(
            now,
            "path_fault",
            json!({"path": path_name(*path), "detail": detail}),
            format!("fault on {}: {detail}", path_name(*path)),
        ),
        Output::PathRestored { path } => printer.other(
            now,
            "path_restored",
            json!({"path": path_name(*path)}),
            format!("{} works again", path_name(*path)),
        ),
        Output::Dropped { count } => printer.other(
            now,
            "dropped",
            json!({"count": count}),
            format!("{count} events dropped: output too slow"),
        ),
    }
}

/// The drivers' view of the configured links; `links[i]` is path `i`.
pub fn path_specs(config: &Config) -> Result<Vec<PathSpec>> {
    let mut specs = Vec::new();
    for (path, link) in config.path_ids().into_iter().zip(&config.links) {
        let location = format!("{}:{}", link.location.file.display(), link.location.line);
        let spec = match &link.medium {
            Medium::Ucast {
                iface,
                peer: IpAddr::V4(peer),
                port,
            } => PathSpec::Udp(UdpMedium {
                path,
                iface: iface.clone(),
                port: *port,
                kind: UdpKind::Unicast {
                    peer: SocketAddrV4::new(*peer, *port),
                },
            }),
            Medium::Bcast { iface, port } => PathSpec::Udp(UdpMedium {
                path,
                iface: iface.clone(),
                port: *port,
                kind: UdpKind::Broadcast,
            }),
            Medium::Mcast {
                iface,
                group: IpAddr::V4(group),
                port,
                ttl,
                loop_,
            } => PathSpec::Udp(UdpMedium {
                path,
                iface: iface.clone(),
                port: *port,
                kind: UdpKind::Multicast {
                    group: *group,
                    ttl: *ttl,
                    loopback: *loop_,
                },
            }),
            Medium::Ucast { .. } | Medium::Mcast { .. } => bail!(
                "{location}: `{}`: IPv6 heartbeat media are not supported by this version; \
                 use ucast/mcast over IPv4, ether or serial for this path",
                link.name()
            ),
            Medium::Ether { iface } => PathSpec::Ether {
                path,
                iface: iface.clone(),
            },
            Medium::Serial { tty, baud } => PathSpec::Serial {
                path,
                device: tty.clone(),
                baud: *baud,
            },
        };
        specs.push(spec);
    }
    Ok(specs)
}

/// Announces addresses with gratuitous ARP / unsolicited NA.
pub fn send_arp(args: &SendArpArgs) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the event loop")?;
    let done = runtime.block_on(garp::send_announcements(
        &args.iface,
        args.ips.clone(),
        args.mode,
        args.count,
        args.interval,
        args.mac,
    ))?;
    let addresses: Vec<String> = args.ips.iter().map(IpAddr::to_string).collect();
    println!(
        "announced {} at {} on {}: {} frames sent{}",
        addresses.join(", "),
        done.mac,
        args.iface,
        done.sent,
        if done.dropped > 0 {
            format!(", {} dropped (interface queue full)", done.dropped)
        } else {
            String::new()
        }
    );
    Ok(())
}
