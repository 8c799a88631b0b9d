//! `ironbeat run`: the cluster daemon (see `docs/daemon.md`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use ironbeat_link::driver::{realtime, state};
use tokio::sync::mpsc;

use super::link::{load_config, node_name, path_specs, start_link};
use super::stonith::Source;
use crate::config::to_crm::{load_ha_d_crm, load_native_crm};
use crate::daemon::control::Socket;
use crate::daemon::fencer::Fencer;
use crate::daemon::log::{Level, Logger};
use crate::daemon::notify::{Notifier, CHILD_ENV_REMOVE};
use crate::daemon::protocol::DEFAULT_SOCKET;
use crate::daemon::run::{run as run_daemon, Daemon};
use crate::daemon::setup::{node_config, FenceDevices};

/// heartbeat's real-time priority when `rtprio` is not set: low, above every
/// normal process, below the kernel's own real-time threads.
pub const DEFAULT_RTPRIO: u8 = 5;

/// Options of `ironbeat run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// A classic heartbeat directory (ha.cf, authkeys, haresources).
    #[arg(long = "ha-d", value_name = "DIR", conflicts_with = "config")]
    ha_d: Option<PathBuf>,
    /// The native configuration file (TOML).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// This node's name (default: `uname -n`, as heartbeat does).
    #[arg(long, value_name = "NAME")]
    node: Option<String>,
    /// Where the node's generation is persisted across restarts.
    #[arg(long, value_name = "DIR", default_value = "/var/lib/ironbeat")]
    state_dir: PathBuf,
    /// The admin socket (`ironbeat status` and the other admin commands).
    #[arg(long, value_name = "PATH", default_value = DEFAULT_SOCKET)]
    socket: PathBuf,
    /// Accept `crc` keys in authkeys (they authenticate nothing).
    #[arg(long)]
    allow_insecure_crc: bool,
    /// Log to stderr too, whatever the configuration says.
    #[arg(long)]
    foreground: bool,
    /// How long the side of a two-node split that runs no services waits
    /// before fencing (`10s`, `0s`); overrides the configuration's
    /// `priority_fencing_delay` (default 10 s).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    priority_fencing_delay: Option<Duration>,
}

fn parse_duration(text: &str) -> std::result::Result<Duration, String> {
    ironbeat_link::parse_duration(text)
        .ok_or_else(|| format!("{text:?} is not a duration; write 10s or 500ms"))
}

/// Runs the daemon until SIGTERM or SIGINT.
pub fn run(args: &RunArgs) -> Result<()> {
    // Children (agents) must not talk to systemd in our name.
    let notifier = Notifier::from_env();
    for name in CHILD_ENV_REMOVE {
        std::env::remove_var(name);
    }
    // A parent (a lab, a test harness) may have blocked these; the mask is
    // inherited across exec, and the daemon must see them.
    unblock_signals();
    let node = node_name(args.node.as_deref())?;
    let config = load_config(
        args.ha_d.as_deref(),
        args.config.as_deref(),
        &node,
        args.allow_insecure_crc,
    )?;
    let logger = Logger::from_config(&config, args.foreground)?;
    if let Some(problem) = notifier.problem() {
        logger.warning(&format!("systemd notification: {problem}"));
    }
    path_specs(&config)?;
    let ha_d = args
        .ha_d
        .clone()
        .unwrap_or_else(|| PathBuf::from("/etc/ha.d"));
    let (model, source) = match &args.config {
        Some(file) => (
            load_native_crm(file, Some(Path::new("/etc/ha.d")))?,
            Source::Native {
                file: file.clone(),
                defaulted: false,
            },
        ),
        None => (load_ha_d_crm(&ha_d)?, Source::HaD(ha_d.clone())),
    };
    let devices = FenceDevices::resolve(&config, Some(&source))?;
    let fencing = devices.enabled(&config.origin)? && model.options.stonith_enabled;
    if !fencing && !devices.devices.is_empty() {
        logger.warning(
            "fencing is disabled (stonith-enabled is false) although fence devices are \
             configured: a lost node's resources are started elsewhere although it may only be \
             cut off and still run them; remove `stonith_enabled = false` to fence first",
        );
    } else if !fencing {
        logger.warning(
            "no fencing configured: a lost node's resources are started elsewhere although it \
             may only be cut off and still run them; add `stonith_host * ipmi NODE BMC-ADDRESS \
             USER passwd_file=FILE` lines to ha.cf (or [[fence.device]] tables to the native \
             file) for every node",
        );
    }
    for device in devices
        .devices
        .values()
        .flatten()
        .flatten()
        .filter_map(|d| d.warning.as_ref())
    {
        logger.warning(device);
    }
    // Real time, as heartbeat did (`realtime on` is its default).
    let realtime_on = config.heartbeat.realtime.as_ref().map_or(true, |r| r.value);
    if realtime_on {
        real_time(&logger, &config);
    }
    // One daemon per state directory: a second one (another --socket) would
    // join the cluster under the same name.
    let _lock = lock_state_dir(&args.state_dir)?;
    let clean_start = take_clean_exit(&args.state_dir);
    let generation = state::load_and_bump_generation(&args.state_dir)?;
    let mut node_config = node_config(
        &config,
        model,
        fencing,
        generation.0,
        args.priority_fencing_delay.or(config
            .heartbeat
            .priority_fencing_delay
            .as_ref()
            .map(|d| d.value)),
    );
    node_config.clean_start = clean_start;
    if !clean_start && fencing {
        logger.notice(
            "the previous run of this node did not end cleanly (fenced, crashed or power \
             lost): it fences no peer at start and waits until every node was seen",
        );
    }
    logger.notice(&format!(
        "{} starting: generation {}, nodes {}, configuration {} (digest {:016x}), fencing {}",
        config.local_node,
        generation.0,
        config.nodes.join(", "),
        config.origin.display(),
        node_config.digest,
        if fencing { "on" } else { "off" }
    ));
    let (fence_tx, fence_results) = mpsc::unbounded_channel();
    let fencer = Fencer::new(
        devices.devices,
        node_config.model.options.stonith_action,
        fence_tx,
    );
    for warning in fencer.warnings() {
        logger.warning(&warning);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the event loop")?;
    let state_dir = args.state_dir.clone();
    let result = runtime.block_on(async move {
        let _lock = _lock;
        let socket = Socket::bind(&args.socket)?;
        let link = start_link(&config, generation)?;
        run_daemon(Daemon {
            config,
            node: node_config,
            link,
            socket,
            fencer,
            fence_results,
            logger,
            notifier,
        })
        .await
    });
    if result.is_ok() {
        mark_clean_exit(&state_dir);
    }
    result
}

/// The marker a clean exit leaves in the state directory.
const CLEAN_EXIT_FILE: &str = "clean-exit";

/// Whether the previous run ended cleanly (its marker is there), or there
/// was none (no generation yet); removes the marker, so a crash of this run
/// is seen by the next one.
fn take_clean_exit(dir: &Path) -> bool {
    let first_run = !dir.join(state::GENERATION_FILE).exists();
    let marker = dir.join(CLEAN_EXIT_FILE);
    let clean = marker.exists();
    let _ = std::fs::remove_file(&marker);
    first_run || clean
}

/// Leaves the clean-exit marker (best effort: without it the next start
/// only waits for every node instead of fencing an unseen one).
fn mark_clean_exit(dir: &Path) {
    let _ = std::fs::write(dir.join(CLEAN_EXIT_FILE), b"");
}

/// Takes `DIR/ironbeat.lock` (flock, released when the process ends).
fn lock_state_dir(dir: &Path) -> Result<nix::fcntl::Flock<std::fs::File>> {
    use nix::fcntl::{Flock, FlockArg};
    std::fs::create_dir_all(dir).with_context(|| {
        format!(
            "cannot create the state directory {}: run as root, or give --state-dir a \
                 directory this user can write",
            dir.display()
        )
    })?;
    let path = dir.join("ironbeat.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| {
            format!(
                "cannot open {}: run as root, or give --state-dir a directory this user can \
                 write",
                path.display()
            )
        })?;
    Flock::lock(file, FlockArg::LockExclusiveNonblock).map_err(|(_, e)| {
        anyhow::anyhow!(
            "{}: {e}: another `ironbeat run` uses the state directory {} (two daemons would \
             join the cluster under one name); stop it first, or give this one its own \
             --state-dir and --node",
            path.display(),
            dir.display()
        )
    })
}

/// Unblocks SIGTERM, SIGINT and SIGHUP in this thread (the runtime's only
/// one).
fn unblock_signals() {
    use nix::sys::signal::{pthread_sigmask, SigSet, SigmaskHow, Signal};
    let mut set = SigSet::empty();
    for signal in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        set.add(signal);
    }
    let _ = pthread_sigmask(SigmaskHow::SIG_UNBLOCK, Some(&set), None);
}

/// Locks memory and takes a low real-time priority; failures are warnings.
fn real_time(logger: &Logger, config: &crate::config::Config) {
    let mut all = true;
    if let Err(e) = realtime::lock_memory() {
        all = false;
        logger.warning(&format!(
            "cannot lock memory (mlockall): {e}; a page-in may delay heartbeats under memory \
             pressure (run as root, or set `realtime off` in {})",
            config.origin.display()
        ));
    }
    let priority = config
        .heartbeat
        .rtprio
        .as_ref()
        .map_or(DEFAULT_RTPRIO, |p| p.value);
    if let Err(e) = realtime::set_round_robin(priority) {
        all = false;
        logger.warning(&format!(
            "cannot take real-time priority {priority} (SCHED_RR): {e}; a busy machine may \
             delay heartbeats (run as root, or set `realtime off` in {})",
            config.origin.display()
        ));
    }
    if all {
        logger.log(
            Level::Info,
            &format!("real time: memory locked, SCHED_RR priority {priority}"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_first_run_or_a_clean_exit_allows_startup_fencing() {
        let dir = std::env::temp_dir().join(format!("ib-clean-exit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        // No generation yet: the very first run.
        assert!(take_clean_exit(&dir));
        state::load_and_bump_generation(&dir).expect("generation");
        // The first run crashed (no marker): the next one waits for all.
        assert!(!take_clean_exit(&dir));
        // A clean exit leaves the marker; it is taken once.
        mark_clean_exit(&dir);
        assert!(take_clean_exit(&dir));
        assert!(!take_clean_exit(&dir));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
