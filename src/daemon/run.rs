//! The daemon's main loop: one task on a current-thread runtime that feeds
//! the cluster core every input and carries out everything it asks.
//!
//! ```text
//!   link Runner ──outputs──┐                         ┌──► link Handle::send (sender task, in order)
//!   lrm results ───────────┤                         ├──► fencer (a task per fencing)
//!   fencer results ────────┼──► Node::handle_* ──────┼──► lrm (a task per operation)
//!   admin socket asks ─────┤      then drain         ├──► log, events subscribers, sd_notify STATUS
//!   timer (poll_timeout) ──┤                         └──► re-arm the one timer
//!   ping driver ───────────┘ (connectivity, once every ping target is judged)
//! ```
//!
//! Nothing on this path blocks or sleeps: sends go through an unbounded
//! queue to a sender task, agents and fence requests run in their own tasks,
//! event subscribers get `try_send` (a full queue drops the subscriber).

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use ironbeat_cluster::{Event, LinkEvent, Node, NodeConfig, OpKind, OpOutcome};
use ironbeat_link::driver::ping::{PingDriver, PingOutput};
use ironbeat_link::driver::{Handle, Output};
use ironbeat_link::proto::endpoint::Event as LinkOutput;
use ironbeat_link::proto::ping::PingEvent;
use serde_json::json;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;

use super::control::{Ask, LinkView, Socket};
use super::fencer::{Fenced, Fencer};
use super::log::{Level, Logger};
use super::lrm::{Done, Lrm};
use super::notify::Notifier;
use super::protocol::{DaemonInfo, EventRecord, Reply, Request};
use super::setup::ping_config;
use crate::cli::link::Link;
use crate::config::Config;

/// How long a clean stop waits for the resources to move away (and then
/// for the local stops of what still runs), at most.
pub const STOP_BUDGET: Duration = Duration::from_secs(120);

/// How many queued link reports the loop takes in, when the core's timer
/// fires, before the core judges its deadlines (bounded: a flood must not
/// hold back the timer).
const CATCH_UP_LIMIT: usize = 256;

/// Everything the main loop runs with.
pub struct Daemon {
    /// The link configuration (path names, origin).
    pub config: Config,
    /// The cluster core's configuration.
    pub node: NodeConfig,
    /// The running link layer.
    pub link: Link,
    /// The listening admin socket.
    pub socket: Socket,
    /// The fencer.
    pub fencer: Fencer,
    /// Where fence results arrive.
    pub fence_results: mpsc::UnboundedReceiver<Fenced>,
    /// The log.
    pub logger: Logger,
    /// systemd's notification socket.
    pub notifier: Notifier,
}

/// The main loop's state besides the core.
struct Loop {
    node: Node,
    name: String,
    lrm: Lrm,
    fencer: Fencer,
    sender: mpsc::UnboundedSender<(Option<String>, Vec<u8>)>,
    subscribers: Vec<mpsc::Sender<EventRecord>>,
    logger: Arc<Logger>,
    notifier: Notifier,
    started: Instant,
    config_path: PathBuf,
    path_names: Vec<String>,
    /// DC, quorum and members as last told to systemd.
    shown: Option<String>,
    /// Ping nodes: each target's state (`None`: not judged yet).
    ping: Option<BTreeMap<String, Option<bool>>>,
}

/// Runs the daemon until SIGTERM or SIGINT; then leaves the cluster (see
/// `Node::leave`) and stops what still runs here.
pub async fn run(daemon: Daemon) -> anyhow::Result<()> {
    let Daemon {
        config,
        node: node_config,
        link,
        socket,
        fencer,
        mut fence_results,
        logger,
        notifier,
    } = daemon;
    let Link {
        handle,
        mut outputs,
        task: link_task,
    } = link;
    // Ping nodes: resolved and the raw sockets opened before anything runs.
    let ping = ping_config(&config, node_config.incarnation)?;
    let ping_targets: Option<BTreeMap<String, Option<bool>>> = ping
        .as_ref()
        .map(|p| p.targets.iter().map(|t| (t.name.clone(), None)).collect());
    let pinger = ping
        .map(|p| PingDriver::open(p, Instant::now()))
        .transpose()
        .map_err(|e| anyhow::anyhow!("ping nodes ({}): {e}", config.origin.display()))?;
    let (results_tx, mut results) = mpsc::unbounded_channel::<Done>();
    let lrm = Lrm::new(&node_config.model, results_tx);
    let (sender, queue) = mpsc::unbounded_channel();
    let logger = Arc::new(logger);
    let sender_task = tokio::spawn(send_in_order(handle.clone(), queue, logger.clone()));
    let (asks_tx, mut asks) = mpsc::channel::<Ask>(64);
    let links = LinkView::new(&config, handle.clone());
    let socket_path = socket.path().to_path_buf();
    let server = tokio::spawn(async move { socket.serve(asks_tx, links).await });

    let mut terminate =
        signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut interrupt = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let mut hangup = signal(SignalKind::hangup()).context("installing the SIGHUP handler")?;
    let watchdog_every = notifier.watchdog_interval();
    let mut watchdog = tokio::time::interval(watchdog_every.unwrap_or(Duration::from_secs(3600)));
    // The watchdog device (self-fencing), beside systemd's WATCHDOG_USEC above.
    let mut feeder = super::watchdog::Feeder::from_config(&config, node_config.fencing, &logger)?;

    let now = Instant::now();
    let mut state = Loop {
        name: node_config.name.clone(),
        node: Node::new(node_config, now),
        lrm,
        fencer,
        sender,
        subscribers: Vec::new(),
        logger,
        notifier,
        started: now,
        config_path: config.origin.clone(),
        path_names: config.links.iter().map(|l| l.name()).collect(),
        shown: None,
        ping: ping_targets,
    };
    state.drain();
    let (ping_tx, mut ping_outputs) = mpsc::channel::<PingOutput>(64);
    let ping_task = pinger.map(|driver| tokio::spawn(driver.run(ping_tx)));
    let ready = format!(
        "{} running: {} link(s), admin socket {}",
        state.name,
        state.path_names.len(),
        socket_path.display()
    );
    state.logger.notice(&ready);
    if let Err(e) = state.notifier.ready(&ready) {
        state
            .logger
            .warning(&format!("cannot tell systemd we are ready: {e}"));
    }

    // SIGTERM/SIGINT: leave the cluster (the core moves the resources away,
    // stop before start elsewhere) within STOP_BUDGET; a second signal, or
    // the budget running out, stops what still runs here directly.
    let mut leaving: Option<(String, tokio::time::Instant)> = None;
    let mut link_failed = false;
    let stop_reason = loop {
        let deadline = state.node.poll_timeout();
        let timer = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
                None => std::future::pending().await,
            }
        };
        let leave_by = leaving.as_ref().map(|(_, by)| *by);
        let give_up = async {
            match leave_by {
                Some(by) => tokio::time::sleep_until(by).await,
                None => std::future::pending().await,
            }
        };
        let mut signalled = None;
        let feed_at = feeder.as_ref().and_then(|f| f.next_poll(Instant::now()));
        tokio::select! {
            output = outputs.recv() => match output {
                Some(output) => state.link_output(output),
                None => {
                    link_failed = true;
                    break "the link layer stopped unexpectedly".to_string();
                }
            },
            Some(done) = results.recv() => state.op_done(done),
            Some(fenced) = fence_results.recv() => state.fenced(fenced),
            Some(ask) = asks.recv() => state.ask(ask),
            Some(output) = ping_outputs.recv() => state.ping(output),
            () = timer => {
                // After a late wake, take in what the link layer already
                // reported before the core judges its own deadlines.
                for _ in 0..CATCH_UP_LIMIT {
                    match outputs.try_recv() {
                        Ok(output) => state.link_output(output),
                        Err(_) => break,
                    }
                }
                state.node.handle_timeout(Instant::now());
            }
            () = give_up => {
                break format!(
                    "{}: the resources did not move away within {STOP_BUDGET:?}",
                    leaving.as_ref().map_or("", |(why, _)| why.as_str())
                );
            }
            _ = watchdog.tick(), if watchdog_every.is_some() => {
                let _ = state.notifier.watchdog();
            }
            () = super::watchdog::sleep_until(feed_at) => {
                if let Some(feeder) = feeder.as_mut() {
                    feeder.tick(Instant::now(), &state.node, &state.logger);
                }
            }
            _ = terminate.recv() => signalled = Some("SIGTERM"),
            _ = interrupt.recv() => signalled = Some("SIGINT"),
            _ = hangup.recv() => {
                state.logger.warning(
                    "SIGHUP: reloading the configuration is not supported yet; restart ironbeat \
                     (systemctl restart ironbeat) on every node to apply a change",
                );
            }
        }
        if let Some(signal) = signalled {
            if let Some((first, _)) = &leaving {
                break format!("{first}, then {signal}: stopping at once");
            }
            state.logger.notice(&format!(
                "{signal}: leaving the cluster; the resources running here move away first \
                 (send it again to stop them here at once)"
            ));
            let _ = state.notifier.stopping();
            // systemd's stop timeout may be shorter than the budget.
            let _ = state
                .notifier
                .extend_timeout(STOP_BUDGET + Duration::from_secs(10));
            leaving = Some((
                signal.to_string(),
                tokio::time::Instant::now() + STOP_BUDGET,
            ));
            state.node.leave(Instant::now());
        }
        state.drain();
        if leaving.is_some() && state.node.can_leave() {
            break format!(
                "{}: left the cluster",
                leaving.as_ref().map_or("", |(why, _)| why.as_str())
            );
        }
    };

    // Stop: whatever still runs here (nothing after a clean leave) is
    // stopped directly.
    state.logger.notice(&format!("{stop_reason}; stopping"));
    // A clean stop disarms the watchdog; a failed daemon leaves it armed.
    if let Some(feeder) = feeder.take().filter(|_| !link_failed) {
        feeder.stop(&state.logger);
    }
    let _ = state.notifier.stopping();
    server.abort();
    let _ = server.await; // drops the socket: its file is removed
    if let Some(task) = ping_task {
        task.abort();
    }
    state.stop_local(&mut results).await;
    for subscriber in state.subscribers.drain(..) {
        let record = EventRecord::now(
            "stopping",
            format!("{} stopping ({stop_reason})", state.name),
            json!({}),
        );
        let _ = subscriber.try_send(record);
    }
    drop(state.sender);
    let _ = sender_task.await;
    handle.shutdown().await;
    if link_failed {
        let runner = link_task.await;
        state.logger.error("stopped: the link layer failed");
        anyhow::bail!(
            "the link layer stopped unexpectedly ({}); the resources of this node were \
             stopped; see the log above for the cause",
            match runner {
                Ok(_) => "its runner returned".to_string(),
                Err(e) => e.to_string(),
            }
        );
    }
    let _ = link_task.await;
    state.logger.notice("stopped");
    Ok(())
}

/// Sends the core's messages on the link's reliable channel, in order. A
/// message the channel refuses (too long, unknown destination: a bug) is
/// logged and skipped; only a stopped runner ends the task.
async fn send_in_order(
    handle: Handle,
    mut queue: mpsc::UnboundedReceiver<(Option<String>, Vec<u8>)>,
    logger: Arc<Logger>,
) {
    while let Some((dest, body)) = queue.recv().await {
        match handle.send(dest.as_deref(), body).await {
            Ok(_) => {}
            // The runner stopped: the main loop sees its outputs close.
            Err(e) if e.kind() == ironbeat_link::ErrorKind::Io => return,
            Err(e) => logger.error(&format!(
                "a cluster message to {} was not sent: {e}",
                dest.as_deref().unwrap_or("every node")
            )),
        }
    }
}

impl Loop {
    /// Drains the core in the documented order, then tells systemd about
    /// a change of DC, quorum or membership.
    fn drain(&mut self) {
        while let Some((dest, body)) = self.node.poll_message() {
            let _ = self.sender.send((dest, body));
        }
        while let Some(request) = self.node.poll_fence() {
            let how = match request.action {
                ironbeat_cluster::FenceAction::Configured => "",
                ironbeat_cluster::FenceAction::Off => {
                    " (power off: never seen since this node started)"
                }
            };
            self.logger
                .notice(&format!("fencing {}{how}", request.node));
            if let Some(todo) = self.fencer.fence(&request.node, request.action) {
                let data = json!({"node": request.node});
                self.record("manual_fence_needed", todo, data, Level::Warning);
            }
        }
        while let Some(op) = self.node.poll_op() {
            if self.logger.enabled(Level::Debug) {
                self.logger.debug(&format!(
                    "executing {:?} {} (#{}, timeout {:?})",
                    op.kind, op.resource, op.id, op.timeout
                ));
            }
            self.lrm.execute(op);
        }
        while let Some(event) = self.node.poll_event() {
            self.cluster_event(&event);
        }
        let status = self.node.status();
        let members: Vec<&str> = status
            .nodes
            .iter()
            .filter(|n| n.member)
            .map(|n| n.name.as_str())
            .collect();
        let line = format!(
            "DC {}, {}, members {}",
            status.dc.as_deref().unwrap_or("none yet"),
            if status.quorum { "quorum" } else { "no quorum" },
            members.join(", ")
        );
        if self.shown.as_deref() != Some(line.as_str()) {
            let _ = self.notifier.status(&line);
            self.shown = Some(line);
        }
    }

    fn link_output(&mut self, output: Output) {
        let now = Instant::now();
        match output {
            Output::Endpoint(event) => match event {
                LinkOutput::NodeAlive { node, generation }
                | LinkOutput::NodeBack { node, generation } => {
                    self.record(
                        "node_alive",
                        format!("{node} heard (generation {})", generation.0),
                        json!({"node": node, "generation": generation.0}),
                        Level::Info,
                    );
                    self.node.handle_link_event(
                        now,
                        LinkEvent::Alive {
                            node,
                            generation: generation.0,
                        },
                    );
                }
                LinkOutput::NodeDead { node } => {
                    self.record(
                        "node_dead",
                        format!("{node} is dead on every link"),
                        json!({"node": node}),
                        Level::Warning,
                    );
                    self.node.handle_link_event(now, LinkEvent::Dead { node });
                }
                LinkOutput::NodeLate { node, silent_for } => self.record(
                    "node_late",
                    format!("{node} is late: silent for {} ms", silent_for.as_millis()),
                    json!({"node": node, "silent_ms": silent_for.as_millis() as u64}),
                    Level::Warning,
                ),
                LinkOutput::PathUp { node, path } => {
                    let name = self.path_name(path.0);
                    self.record(
                        "link_up",
                        format!("{node} heard on {name}"),
                        json!({"node": node, "path": name}),
                        Level::Info,
                    );
                }
                LinkOutput::PathDown { node, path } => {
                    let name = self.path_name(path.0);
                    self.record(
                        "link_down",
                        format!("{node} no longer heard on {name}"),
                        json!({"node": node, "path": name}),
                        Level::Warning,
                    );
                }
                LinkOutput::Message { from, body } => {
                    self.node.handle_message(now, &from, &body);
                }
                LinkOutput::MessagesLost { from, first, last } => {
                    self.logger.warning(&format!(
                        "messages {first}–{last} from {from} were lost; both sides resend \
                         their state"
                    ));
                    self.node
                        .handle_link_event(now, LinkEvent::MessagesLost { node: from });
                }
                LinkOutput::Rejected { path, reason } => {
                    if self.logger.enabled(Level::Debug) {
                        let name = self.path_name(path.0);
                        self.logger
                            .debug(&format!("frame dropped on {name}: {reason:?}"));
                    }
                }
            },
            Output::PathFault { path, detail } => {
                let name = self.path_name(path.0);
                self.record(
                    "path_fault",
                    format!("fault on {name}: {detail}"),
                    json!({"path": name, "detail": detail}),
                    Level::Warning,
                );
            }
            Output::PathRestored { path } => {
                let name = self.path_name(path.0);
                self.record(
                    "path_restored",
                    format!("{name} works again"),
                    json!({"path": name}),
                    Level::Notice,
                );
            }
            Output::Dropped { count } => self.logger.warning(&format!(
                "{count} link events dropped: the main loop fell behind"
            )),
        }
    }

    fn op_done(&mut self, done: Done) {
        if let Some(reason) = &done.reason {
            self.logger.warning(&format!(
                "{:?} {} on {}: {:?}: {reason}",
                done.kind, done.resource, self.name, done.result.outcome
            ));
        } else if self.logger.enabled(Level::Debug) {
            self.logger.debug(&format!(
                "{:?} {} (#{}): {:?}",
                done.kind, done.resource, done.result.id, done.result.outcome
            ));
        }
        if matches!(done.kind, OpKind::Start | OpKind::Stop) && done.result.outcome == OpOutcome::Ok
        {
            let verb = if done.kind == OpKind::Start {
                "started"
            } else {
                "stopped"
            };
            self.record(
                &format!("resource_{verb}"),
                format!("{} {verb} on {}", done.resource, self.name),
                json!({"resource": done.resource, "node": self.name}),
                Level::Notice,
            );
        }
        self.node.handle_op_result(Instant::now(), done.result);
    }

    fn fenced(&mut self, fenced: Fenced) {
        self.fencer.finished(&fenced.node);
        let level = match fenced.outcome {
            ironbeat_cluster::FenceOutcome::Confirmed => Level::Notice,
            ironbeat_cluster::FenceOutcome::Failed => Level::Error,
        };
        self.logger.log(level, &fenced.detail);
        self.node
            .handle_fence_result(Instant::now(), &fenced.node, fenced.outcome);
    }

    fn ask(&mut self, ask: Ask) {
        match ask {
            Ask::Subscribe(queue) => self.subscribers.push(queue),
            Ask::Admin(request, reply) => {
                let answer = self.admin(&request);
                let _ = reply.send(answer);
            }
        }
    }

    fn admin(&mut self, request: &Request) -> Reply {
        let Some(admin) = request.to_admin() else {
            return Reply::BadRequest {
                message: "events are served by the connection".into(),
            };
        };
        if request != &Request::Status {
            self.logger
                .notice(&format!("operator request: {request:?}"));
        }
        let mut reply = Reply::from(self.node.handle_admin(Instant::now(), admin));
        if let (Request::FenceConfirm { node }, Reply::Accepted { .. }) = (request, &reply) {
            // A manual fencing waiting for this is over.
            self.fencer.finished(node);
        }
        if let Reply::Status(report) = &mut reply {
            report.daemon = DaemonInfo {
                pid: std::process::id(),
                uptime_s: self.started.elapsed().as_secs(),
                rss_kib: rss_kib().unwrap_or(0),
                config: self.config_path.display().to_string(),
                version: env!("CARGO_PKG_VERSION").to_string(),
            };
        }
        reply
    }

    fn cluster_event(&mut self, event: &Event) {
        let (kind, level) = match event {
            Event::NodeJoined(_) => ("node_joined", Level::Notice),
            Event::NodeLeft(_) => ("node_left", Level::Notice),
            Event::Leaving(_) => ("leaving", Level::Notice),
            Event::ConfigMismatch { .. } => ("config_mismatch", Level::Error),
            Event::DcElected(_) => ("dc_elected", Level::Notice),
            Event::Quorum(_) => ("quorum", Level::Notice),
            Event::Membership { .. } => ("membership", Level::Info),
            Event::FenceScheduled { .. } => ("fence_scheduled", Level::Notice),
            Event::FenceRaceYielded { .. } => ("fence_race_yielded", Level::Warning),
            Event::Fenced { .. } => ("fenced", Level::Notice),
            Event::FenceConfirmedByOperator(_) => ("fence_confirmed_by_operator", Level::Warning),
            Event::SelfFenced { .. } => ("self_fenced", Level::Notice),
            Event::RecoveryWithoutFencing(_) => ("recovery_without_fencing", Level::Warning),
            Event::WaitingForAll(_) => ("waiting_for_all", Level::Warning),
            Event::Transition(_) => ("transition", Level::Info),
            Event::OpSent { .. } => ("op_sent", Level::Info),
            Event::OpFailed { .. } => ("op_failed", Level::Warning),
            Event::NotSent(_) => ("not_sent", Level::Error),
            Event::BadMessage { .. } => ("bad_message", Level::Warning),
            Event::Connectivity { .. } => ("connectivity", Level::Notice),
        };
        let data = serde_json::to_value(event).unwrap_or_default();
        self.record(kind, event.to_string(), data, level);
    }

    /// A ping target went up or down. The core hears the connectivity only
    /// once every target is judged (within `deadping` of the start): a
    /// count of the targets heard so far would make this node look worse
    /// connected than it is.
    fn ping(&mut self, output: PingOutput) {
        let Some(targets) = self.ping.as_mut() else {
            return;
        };
        let (target, up) = match &output.event {
            PingEvent::Up { target } => (target, true),
            PingEvent::Down { target } => (target, false),
        };
        if let Some(state) = targets.get_mut(target) {
            *state = Some(up);
        }
        let judged = targets.values().all(Option::is_some);
        let total = targets.len();
        let data = json!({"target": target, "connectivity": output.connectivity});
        if up {
            let text = format!(
                "ping target {target} answers ({} of {total} up)",
                output.connectivity
            );
            self.record("ping_up", text, data, Level::Notice);
        } else {
            let text = format!(
                "ping target {target} does not answer ({} of {total} up)",
                output.connectivity
            );
            self.record("ping_down", text, data, Level::Warning);
        }
        if judged {
            self.node
                .handle_connectivity(Instant::now(), output.connectivity);
        }
    }

    /// Logs an event and sends it to every subscriber; drops those whose
    /// queue is full or closed.
    fn record(&mut self, kind: &str, text: String, data: serde_json::Value, level: Level) {
        self.logger.log(level, &text);
        if self.subscribers.is_empty() {
            return;
        }
        let record = EventRecord::now(kind, text, data);
        broadcast(&mut self.subscribers, &record);
    }

    fn path_name(&self, path: u8) -> String {
        self.path_names
            .get(usize::from(path))
            .cloned()
            .unwrap_or_else(|| format!("path {path}"))
    }

    /// Stops every resource that runs here, last configured first (groups
    /// stop in reverse), and waits for the results within [`STOP_BUDGET`].
    /// Says what still runs when a stop fails or does not finish.
    async fn stop_local(&mut self, results: &mut mpsc::UnboundedReceiver<Done>) {
        self.lrm.cancel_monitors();
        let status = self.node.status();
        let running: Vec<String> = status
            .resources
            .iter()
            .filter(|r| r.running_on.contains(&self.name))
            .map(|r| r.name.clone())
            .collect();
        let mut waiting: BTreeSet<u64> = BTreeSet::new();
        let deadline = tokio::time::Instant::now() + STOP_BUDGET;
        for (i, resource) in running.iter().rev().enumerate() {
            // Ids far above the core's, which is no longer fed.
            let id = u64::MAX - i as u64;
            waiting.insert(id);
            self.lrm.execute(ironbeat_cluster::OpRequest {
                id,
                resource: resource.clone(),
                kind: OpKind::Stop,
                interval: Duration::ZERO,
                timeout: Duration::ZERO,
            });
            // One at a time, in order: a group's members stop in reverse.
            loop {
                match tokio::time::timeout_at(deadline, results.recv()).await {
                    Ok(Some(done)) if done.result.id == id => {
                        waiting.remove(&id);
                        if done.result.outcome == OpOutcome::Ok {
                            self.logger.notice(&format!("{resource} stopped"));
                        } else {
                            self.logger.error(&format!(
                                "{resource} did not stop ({:?}{}); it may still run here",
                                done.result.outcome,
                                done.reason.map(|r| format!(": {r}")).unwrap_or_default()
                            ));
                        }
                        break;
                    }
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => {
                        self.logger.error(&format!(
                            "the stops did not finish within {STOP_BUDGET:?}; still running \
                             here: {}",
                            running.join(", ")
                        ));
                        return;
                    }
                }
            }
        }
    }
}

/// Sends `record` to every subscriber without waiting; a subscriber whose
/// queue is full (too slow) or closed (gone) is dropped, which closes its
/// connection.
fn broadcast(subscribers: &mut Vec<mpsc::Sender<EventRecord>>, record: &EventRecord) {
    subscribers.retain(|s| s.try_send(record.clone()).is_ok());
}

/// This process's resident set, KiB (`/proc/self/statm`).
pub fn rss_kib() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    let page = nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .and_then(|p| u64::try_from(p).ok())
        .unwrap_or(4096);
    Some(pages * page / 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slow_and_gone_subscribers_are_dropped_and_the_others_served() {
        let (fast, mut fast_rx) = mpsc::channel(16);
        let (slow, _slow_rx) = mpsc::channel(1);
        let (gone, gone_rx) = mpsc::channel(16);
        drop(gone_rx);
        let mut subscribers = vec![fast, slow, gone];
        for i in 0..3 {
            let record = EventRecord::now("test", format!("event {i}"), json!({}));
            broadcast(&mut subscribers, &record);
            // The closed one goes at once, the slow one when its queue is full.
            assert_eq!(subscribers.len(), if i == 0 { 2 } else { 1 });
        }
        for i in 0..3 {
            assert_eq!(fast_rx.try_recv().unwrap().text, format!("event {i}"));
        }
    }

    #[test]
    fn rss_is_read_from_proc() {
        let kib = rss_kib().unwrap();
        assert!(kib > 100 && kib < 10 * 1024 * 1024, "{kib}");
    }
}
