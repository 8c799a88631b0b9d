//! The daemon's watchdog: a [`Feeder`] the main loop drives, so a hung loop
//! (nothing drives it) or an isolated node (the policy refuses) stops
//! feeding and the device resets the machine.
//!
//! The loop asks [`Feeder::next_poll`] for the next deadline, sleeps on it
//! alongside everything else ([`sleep_until`]) and then calls
//! [`Feeder::tick`], which judges the node's [`Health`] from the cluster
//! core (quorum, members, whether the core's own deadlines are served in
//! time) and feeds the device when the policy
//! ([`ironbeat_fence::watchdog::FeedPolicy`]) says so. On a clean stop,
//! [`Feeder::stop`] disarms the device (magic close) — unless the policy has
//! stopped feeding, in which case the peers count on this node resetting.
//!
//! systemd's `WATCHDOG_USEC` (`notify`) is independent: it restarts a hung
//! daemon; this device resets a hung or isolated *machine*.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use ironbeat_cluster::{Node, Status};
use ironbeat_fence::watchdog::{Closed, Decision, FeedPolicy, Health, Watchdog};

use super::log::Logger;
use crate::config::{watchdog_errors, watchdog_timeout, Config};

/// The watchdog device and its feeding policy.
#[derive(Debug)]
pub struct Feeder {
    device: Watchdog,
    policy: FeedPolicy,
    /// A feeding error was logged (said once until a feed works again).
    failing: bool,
}

impl Feeder {
    /// The configured watchdog (`watchdog` in ha.cf, `[watchdog]` in the
    /// native file), opened (armed), its timeout set and fed once; `None`
    /// when none is configured. `fencing`: whether fence devices cover the
    /// peers; a configuration `config check` refuses (watchdog-only fencing
    /// of two nodes without a quorum device, a too short
    /// `stonith_watchdog_timeout`) is refused here too.
    pub fn from_config(
        config: &Config,
        fencing: bool,
        logger: &Logger,
    ) -> anyhow::Result<Option<Feeder>> {
        let Some(device) = &config.heartbeat.watchdog else {
            return Ok(None);
        };
        let errors = watchdog_errors(config, Some(fencing));
        if !errors.is_empty() {
            anyhow::bail!("{}", errors.join("\n"));
        }
        let timeout = watchdog_timeout(&config.heartbeat);
        let feeder = Feeder::open(&device.value, timeout)
            .with_context(|| format!("watchdog ({})", device.location))?;
        logger.notice(&feeder.describe());
        if feeder.device.nowayout() == Some(true) {
            logger.warning(&format!(
                "{} has nowayout set: stopping ironbeat, even cleanly, resets this machine \
                 within {}s",
                feeder.device.path().display(),
                feeder.policy.timeout().as_secs()
            ));
        }
        Ok(Some(feeder))
    }

    /// Opens (arms) `path`, sets `timeout` and feeds it once.
    pub fn open(path: &Path, timeout: Duration) -> anyhow::Result<Feeder> {
        let mut device = Watchdog::open(path)?;
        let set = device.set_timeout(timeout)?;
        device.keepalive()?;
        let mut policy = FeedPolicy::new(set);
        policy.fed(Instant::now());
        Ok(Feeder {
            device,
            policy,
            failing: false,
        })
    }

    /// One line: the device, its identity and timeout, the feeding period.
    pub fn describe(&self) -> String {
        format!(
            "watchdog {} ({}) armed: timeout {}s, fed every {} ms while this node is healthy",
            self.device.path().display(),
            self.device.support().identity,
            self.policy.timeout().as_secs(),
            self.policy.interval().as_millis()
        )
    }

    /// When [`Feeder::tick`] should run next (`None`: never, feeding has
    /// stopped for good).
    pub fn next_poll(&self, now: Instant) -> Option<Instant> {
        self.policy.next_poll(now)
    }

    /// Judges the node and feeds the device if the policy says so; logs
    /// (once) when feeding stops and when feeding fails.
    pub fn tick(&mut self, now: Instant, node: &Node, logger: &Logger) {
        let health = health(
            &node.status(),
            node.poll_timeout(),
            now,
            self.policy.interval(),
        );
        self.apply(now, health, logger);
    }

    /// [`Feeder::tick`] with the health already judged.
    pub fn apply(&mut self, now: Instant, health: Health, logger: &Logger) {
        match self.policy.poll(now, health) {
            Decision::Feed => match self.device.keepalive() {
                Ok(()) => {
                    self.policy.fed(now);
                    if std::mem::take(&mut self.failing) {
                        logger.notice(&format!(
                            "watchdog {} is fed again",
                            self.device.path().display()
                        ));
                    }
                }
                Err(e) => {
                    if !std::mem::replace(&mut self.failing, true) {
                        logger.error(&format!("{e}; the machine resets if this persists"));
                    }
                }
            },
            Decision::StopFeeding(why) => logger.error(&format!(
                "{why}: no longer feeding watchdog {}; this machine resets within {}s \
                 (self-fencing)",
                self.device.path().display(),
                self.policy.timeout().as_secs()
            )),
            Decision::Wait | Decision::Starving => {}
        }
    }

    /// A clean stop: disarms the device (magic close) unless feeding has
    /// stopped (then it stays armed on purpose) or the driver has nowayout.
    /// Logs what happened.
    pub fn stop(self, logger: &Logger) {
        let path = self.device.path().display().to_string();
        if !self.policy.may_disarm() {
            logger.error(&format!(
                "watchdog {path} left armed: feeding had stopped, this machine resets \
                 (self-fencing)"
            ));
            // Dropped without the magic character: it stays armed.
            return;
        }
        match self.device.close() {
            Ok(Closed::Disarmed) => logger.notice(&format!("watchdog {path} disarmed")),
            Ok(Closed::StillArmed(why)) => logger.warning(&why),
            Err(e) => logger.error(&format!("{e}; the watchdog may still be armed")),
        }
    }
}

/// The node's health as the feeding policy sees it: quorum, a peer among
/// the members, and a main loop that serves the core's deadlines in time
/// (the core's earliest deadline not overdue by more than `slack`).
pub fn health(
    status: &Status,
    core_deadline: Option<Instant>,
    now: Instant,
    slack: Duration,
) -> Health {
    let overdue = core_deadline.map_or(Duration::ZERO, |at| now.saturating_duration_since(at));
    Health {
        loop_turning: overdue <= slack,
        quorum: status.quorum,
        peer_seen: status
            .nodes
            .iter()
            .any(|n| n.member && n.name != status.node),
    }
}

/// Sleeps until `at`, or forever when `None` (a `select!` arm).
pub async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ironbeat_cluster::NodeStatus;

    fn node(name: &str, member: bool) -> NodeStatus {
        NodeStatus {
            name: name.into(),
            member,
            probed: true,
            standby: false,
            config_mismatch: false,
            connectivity: None,
        }
    }

    fn status(quorum: bool, nodes: Vec<NodeStatus>) -> Status {
        Status {
            node: "node1".into(),
            dc: None,
            epoch: 0,
            quorum,
            nodes,
            resources: Vec::new(),
            fencing: Vec::new(),
            waiting: None,
        }
    }

    #[test]
    fn health_reads_quorum_peers_and_the_core_deadline() {
        let now = Instant::now();
        let slack = Duration::from_secs(1);
        // Only this node is a member: no peer seen.
        let alone = status(false, vec![node("node1", true), node("node2", false)]);
        let h = health(&alone, None, now, slack);
        assert_eq!(
            h,
            Health {
                loop_turning: true,
                quorum: false,
                peer_seen: false
            }
        );
        let pair = status(true, vec![node("node1", true), node("node2", true)]);
        let h = health(&pair, Some(now + slack), now, slack);
        assert!(h.loop_turning && h.quorum && h.peer_seen);
        // The core's deadline overdue by more than the slack: stalled.
        let later = now + Duration::from_secs(5);
        assert!(!health(&pair, Some(now), later, slack).loop_turning);
        assert!(health(&pair, Some(later - slack), later, slack).loop_turning);
    }
}
