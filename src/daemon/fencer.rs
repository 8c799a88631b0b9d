//! The fencer: powers a lost node off through its fence device (issue 3's
//! IPMI client) and reports the outcome to the main loop.
//!
//! A node is reported `Confirmed` only when the client saw its power Off
//! during the request (off, verify off; then on again for a reboot). The
//! action is the cluster's `stonith-action`: `off`, or `reboot` with the
//! device's method (`onoff` by default). A `hard_reset` never powers the
//! node off and a `cycle` may be too quick to be seen: unless the BMC
//! reported the node off during the request, the fencer reports `Failed`
//! and says to use `onoff`. A node never seen since the daemon started
//! (startup fencing at `initdead`, [`ironbeat_cluster::FenceAction::Off`])
//! is only powered off, whatever the `stonith-action`: rebooted, it could
//! come back with broken links and shoot back. Each request runs in its
//! own task under the device's one deadline (`timeout=`, the client's
//! default otherwise); the main loop never waits for a BMC.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use ironbeat_cluster::{FenceAction as CoreAction, FenceOutcome};
use ironbeat_crm::model::FenceAction;
use ironbeat_fence::power::Action;
use tokio::sync::mpsc;

use crate::cli::stonith::device::{self, Target};
use crate::cli::stonith::NodeDevice;

/// The overall bound of a request when the device sets no `timeout=`; the
/// client's own deadline is shorter, this only guards against a hang.
const GUARD: Duration = Duration::from_secs(120);

/// How a fencing ended, for the main loop.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fenced {
    /// The node.
    pub node: String,
    /// For `Node::handle_fence_result`.
    pub outcome: FenceOutcome,
    /// What happened, for the log and `ironbeat events` (no secrets).
    pub detail: String,
}

/// Runs fence requests.
pub struct Fencer {
    /// Each peer's levels, tried in order; the devices of one level must
    /// all succeed (fencing topology; one device: one level of one).
    plans: BTreeMap<String, Vec<Vec<Device>>>,
    action: FenceAction,
    results: mpsc::UnboundedSender<Fenced>,
    /// Nodes with a request in progress (a second request waits for it).
    busy: BTreeSet<String>,
}

#[derive(Clone)]
struct Device {
    target: Arc<Target>,
    /// What the device does for the cluster's stonith-action.
    action: Action,
    origin: String,
    /// Waited before the device acts (its `delay`).
    delay: Duration,
}

impl Device {
    fn is_manual(&self) -> bool {
        matches!(*self.target, Target::Manual { .. })
    }
}

impl Fencer {
    /// A fencer for `levels` (peer → its levels, each a list of devices)
    /// doing `action`.
    pub fn new(
        levels: BTreeMap<String, Vec<Vec<NodeDevice>>>,
        action: FenceAction,
        results: mpsc::UnboundedSender<Fenced>,
    ) -> Fencer {
        let plans = levels
            .into_iter()
            .map(|(node, levels)| (node, plan(levels, action)))
            .filter(|(_, levels)| !levels.is_empty())
            .collect();
        Fencer {
            plans,
            action,
            results,
            busy: BTreeSet::new(),
        }
    }

    /// Warnings about the devices, to log at start (a method that cannot
    /// confirm a fencing).
    pub fn warnings(&self) -> Vec<String> {
        self.plans
            .iter()
            .flat_map(|(node, levels)| levels.iter().flatten().map(move |d| (node, d)))
            .filter(|(_, d)| matches!(d.action, Action::Cycle | Action::Reset))
            .map(|(node, d)| {
                format!(
                    "{}: the fence device of {node} resets with a {}, which may never show the \
                     node off; a fencing is confirmed only when the BMC reports it off, so \
                     recovery of {node}'s resources may wait for ever; use method onoff \
                     (reset_method=onoff)",
                    d.origin,
                    if d.action == Action::Cycle {
                        "power cycle"
                    } else {
                        "hard reset"
                    }
                )
            })
            .collect()
    }

    /// Starts fencing `node` in a task with the core's `request` action
    /// (the configured one, or off); never waits. Levels are tried in order
    /// until one succeeds. A node already being fenced is not fenced twice
    /// at once (the core asks again after a failure). When the first level
    /// is manual, nothing runs: the returned text says what the operator
    /// must do, and the request stays open until `ironbeat fence confirm`
    /// ([`Fencer::finished`]).
    pub fn fence(&mut self, node: &str, request: CoreAction) -> Option<String> {
        let Some(levels) = self.plans.get(node) else {
            let _ = self.results.send(Fenced {
                node: node.to_string(),
                outcome: FenceOutcome::Failed,
                detail: format!(
                    "no fence device covers {node}: add `stonith_host * ipmi {node} BMC-ADDRESS \
                     USER passwd_file=/etc/ironbeat/{node}.bmc` to ha.cf, or a [[fence.device]] \
                     with nodes = [\"{node}\"] to the native file (docs/fencing.md), on every node"
                ),
            });
            return None;
        };
        if !self.busy.insert(node.to_string()) {
            return None;
        }
        if levels[0].iter().any(Device::is_manual) {
            return Some(manual_notice(node, &levels[0]));
        }
        let levels = levels.clone();
        let reboot = request == CoreAction::Configured && self.action == FenceAction::Reboot;
        let why = match request {
            CoreAction::Configured => format!("stonith-action {:?}", self.action),
            CoreAction::Off => "never seen since start: powered off, not rebooted".to_string(),
        };
        let results = self.results.clone();
        let node = node.to_string();
        tokio::spawn(async move {
            let (outcome, detail) = run_levels(&node, &levels, request, reboot, &why).await;
            let _ = results.send(Fenced {
                node,
                outcome,
                detail,
            });
        });
        None
    }

    /// The main loop saw the result of `node`'s request.
    pub fn finished(&mut self, node: &str) {
        self.busy.remove(node);
    }
}

/// A node's levels as devices doing `action` (empty levels dropped).
fn plan(levels: Vec<Vec<NodeDevice>>, action: FenceAction) -> Vec<Vec<Device>> {
    let device = |d: NodeDevice| Device {
        action: match action {
            FenceAction::Off => Action::Off,
            FenceAction::Reboot => d.settings.reset.action(),
        },
        target: Arc::new(d.settings.target),
        origin: d.origin,
        delay: d.delay,
    };
    levels
        .into_iter()
        .map(|level| level.into_iter().map(device).collect::<Vec<_>>())
        .filter(|level| !level.is_empty())
        .collect()
}

/// Fences `node` once through its levels, as the daemon would (`stonith
/// -H NODE reset|off` with several devices): Ok with what was seen, or why
/// every level failed. Blocking.
pub fn fence_now(
    node: &str,
    levels: Vec<Vec<NodeDevice>>,
    action: FenceAction,
) -> Result<String, String> {
    let plan = plan(levels, action);
    if plan.is_empty() {
        return Err(format!(
            "{node} has no fence device: add a [[fence.device]] with nodes = [\"{node}\"], or a \
             `stonith_host * TYPE {node} …` line to ha.cf (docs/fencing.md)"
        ));
    }
    let reboot = action == FenceAction::Reboot;
    let run = run_levels(node, &plan, CoreAction::Configured, reboot, "stonith -H");
    match ironbeat_fence::driver::block_on(run) {
        Ok((FenceOutcome::Confirmed, detail)) => Ok(detail),
        Ok((FenceOutcome::Failed, detail)) => Err(detail),
        Err(e) => Err(e.to_string()),
    }
}

/// What the operator must do for a manual level.
fn manual_notice(node: &str, level: &[Device]) -> String {
    let origins: Vec<&str> = level.iter().map(|d| d.origin.as_str()).collect();
    format!(
        "{node} must be fenced by hand ({}): make sure it is powered off (or cut from the \
         shared resources), then run `ironbeat fence confirm {node}` on any cluster node; its \
         resources stay stopped until then",
        origins.join(", ")
    )
}

/// Tries `node`'s levels in order: the first that succeeds fences it.
async fn run_levels(
    node: &str,
    levels: &[Vec<Device>],
    request: CoreAction,
    reboot: bool,
    why: &str,
) -> (FenceOutcome, String) {
    let mut failures = Vec::new();
    for (i, level) in levels.iter().enumerate() {
        let result = if level.iter().any(Device::is_manual) {
            Err(manual_notice(node, level))
        } else if let [device] = &level[..] {
            let action = match request {
                CoreAction::Configured => device.action,
                CoreAction::Off => Action::Off,
            };
            run_device(node, device, action).await
        } else {
            run_together(node, level, reboot).await
        };
        match result {
            Ok(text) if failures.is_empty() => {
                return (
                    FenceOutcome::Confirmed,
                    format!("{node} fenced ({text}, {why})"),
                )
            }
            Ok(text) => {
                return (
                    FenceOutcome::Confirmed,
                    format!(
                        "{node} fenced by level {} ({text}, {why}) after {}",
                        i + 1,
                        failures.join("; ")
                    ),
                )
            }
            Err(text) if levels.len() == 1 => return (FenceOutcome::Failed, text),
            Err(text) => failures.push(format!("level {}: {text}", i + 1)),
        }
    }
    (
        FenceOutcome::Failed,
        format!(
            "{node}: every fencing level failed, it is not fenced: {}",
            failures.join("; ")
        ),
    )
}

/// One device doing `action` after its delay, under its deadline: Ok with
/// what was seen when the node was seen off, else why not.
async fn run_device(node: &str, device: &Device, action: Action) -> Result<String, String> {
    let origin = &device.origin;
    tokio::time::sleep(device.delay).await;
    let bound = device
        .target
        .timeout()
        .map_or(GUARD, |t| t + Duration::from_secs(5));
    let done = tokio::time::timeout(bound, device::execute_target_async(&device.target, action));
    match done.await {
        Ok(Ok(done)) if done.off_seen => Ok(format!(
            "{action:?} by {origin}: seen off{}",
            done.warning.map(|w| format!("; {w}")).unwrap_or_default()
        )),
        Ok(Ok(done)) => Err(format!(
            "{node}: {action:?} by {origin} was sent but the node was never seen off (power \
             {}); it is not fenced; use method onoff",
            done.power
        )),
        Ok(Err(e)) => Err(format!("{node}: fencing by {origin} failed: {e}")),
        Err(_) => Err(format!(
            "{node}: fencing by {origin} did not finish within {bound:?}"
        )),
    }
}

/// A level of several devices (both power supplies of one server): every
/// device powers its part off and each must be seen off before the node
/// counts as fenced; for a reboot they are all powered on again only then
/// (a failure there is a warning: the node was fenced).
async fn run_together(node: &str, level: &[Device], reboot: bool) -> Result<String, String> {
    let all = |action: Action| {
        let mut set = tokio::task::JoinSet::new();
        for device in level {
            let (device, node) = (device.clone(), node.to_string());
            set.spawn(async move { run_device(&node, &device, action).await });
        }
        set
    };
    let mut offs = all(Action::Off);
    let mut failed = Vec::new();
    while let Some(done) = offs.join_next().await {
        match done {
            Ok(Ok(_)) => {}
            Ok(Err(why)) => failed.push(why),
            Err(e) => failed.push(format!("{node}: a fencing task ended: {e}")),
        }
    }
    let origins: Vec<&str> = level.iter().map(|d| d.origin.as_str()).collect();
    if !failed.is_empty() {
        return Err(format!(
            "{} of {} devices of the level did not see {node} off ({})",
            failed.len(),
            level.len(),
            failed.join("; ")
        ));
    }
    let mut text = format!("Off by {}: each seen off", origins.join(" and "));
    if reboot {
        let mut ons = all(Action::On);
        let mut warnings = Vec::new();
        while let Some(done) = ons.join_next().await {
            if let Ok(Err(why)) = done {
                warnings.push(why);
            }
        }
        if warnings.is_empty() {
            text.push_str(", then on again");
        } else {
            text.push_str(&format!(
                "; powering it on again failed: {}",
                warnings.join("; ")
            ));
        }
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use ironbeat_fence::driver::bmc::BmcServer;
    use ironbeat_fence::ipmi::bmc::{Bmc as Responder, BmcConfig, MemoryPower, User};
    use ironbeat_fence::ipmi::crypto::Secret;
    use ironbeat_fence::ipmi::Privilege;
    use ironbeat_fence::power::PowerState;

    use super::*;
    use crate::cli::stonith::Settings;
    use crate::config::{IpmiDevice, IpmiInterface, IpmiPrivilege, PasswordSource, RebootMethod};

    /// A real BMC responder (issue 3's) on loopback, powered on.
    async fn bmc() -> std::net::SocketAddr {
        let config = BmcConfig::new(vec![User::new(
            "admin",
            b"fencer-pass",
            Privilege::Administrator,
        )]);
        let responder = Responder::new(config, MemoryPower::new(PowerState::On), [7; 32]).unwrap();
        let mut server = BmcServer::bind("127.0.0.1:0".parse().unwrap(), responder)
            .await
            .unwrap();
        let addr = server.local_addr().unwrap();
        tokio::spawn(async move { server.run(std::future::pending(), |_| {}).await });
        addr
    }

    fn device(addr: std::net::SocketAddr, method: RebootMethod) -> NodeDevice {
        let ipmi = IpmiDevice {
            address: addr.ip().to_string(),
            port: addr.port(),
            username: "admin".into(),
            password: PasswordSource::Inline(Secret::new("fencer-pass")),
            interface: IpmiInterface::Lanplus { cipher: None },
            privilege: IpmiPrivilege::Administrator,
            allow_cipher_zero: false,
            timeout: Some(Duration::from_secs(5)),
            power_wait: Duration::ZERO,
            method,
        };
        NodeDevice {
            settings: Settings::from_device(Some("node2".into()), &ipmi).unwrap(),
            origin: format!("test device {}", addr.port()),
            warning: None,
            delay: Duration::ZERO,
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn confirmed_only_when_the_bmc_showed_the_node_off() {
        let addr = bmc().await;
        let (tx, mut rx) = mpsc::unbounded_channel();
        let devices = BTreeMap::from([(
            "node2".to_string(),
            vec![vec![device(addr, RebootMethod::OnOff)]],
        )]);
        let mut fencer = Fencer::new(devices, FenceAction::Reboot, tx);
        assert!(fencer.warnings().is_empty());
        fencer.fence("node2", CoreAction::Configured);
        fencer.fence("node2", CoreAction::Configured); // already under way: not sent twice
        let f = tokio::time::timeout(Duration::from_secs(20), rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(f.outcome, FenceOutcome::Confirmed, "{}", f.detail);
        assert!(f.detail.contains("seen off"), "{}", f.detail);
        assert!(!f.detail.contains("fencer-pass"));
        fencer.finished("node2");

        // A hard reset never shows the node off: not a fencing.
        let (tx, mut rx) = mpsc::unbounded_channel();
        let devices = BTreeMap::from([(
            "node2".to_string(),
            vec![vec![device(addr, RebootMethod::HardReset)]],
        )]);
        let mut fencer = Fencer::new(devices, FenceAction::Reboot, tx);
        assert!(fencer.warnings()[0].contains("use method onoff"));
        fencer.fence("node2", CoreAction::Configured);
        let f = tokio::time::timeout(Duration::from_secs(20), rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(f.outcome, FenceOutcome::Failed, "{}", f.detail);
        assert!(f.detail.contains("never seen off"), "{}", f.detail);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn startup_fencing_powers_off_even_when_the_action_is_reboot() {
        let addr = bmc().await;
        let (tx, mut rx) = mpsc::unbounded_channel();
        let d = device(addr, RebootMethod::OnOff);
        let status_target = d.settings.target.clone();
        let devices = BTreeMap::from([("node2".to_string(), vec![vec![d]])]);
        let mut fencer = Fencer::new(devices, FenceAction::Reboot, tx);
        fencer.fence("node2", CoreAction::Off);
        let f = tokio::time::timeout(Duration::from_secs(20), rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(f.outcome, FenceOutcome::Confirmed, "{}", f.detail);
        assert!(f.detail.contains("never seen since start"), "{}", f.detail);
        // Left off: not rebooted.
        let status = device::execute_target_async(&status_target, Action::Status)
            .await
            .unwrap();
        assert_eq!(status.power, PowerState::Off);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_silent_bmc_fails_within_its_deadline() {
        // A UDP port nobody answers on.
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = silent.local_addr().unwrap();
        let mut d = device(addr, RebootMethod::OnOff);
        let bmc = d.settings.target.bmc_mut().expect("an IPMI device");
        bmc.timeout = Some(Duration::from_secs(2));
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut fencer = Fencer::new(
            BTreeMap::from([("node2".to_string(), vec![vec![d]])]),
            FenceAction::Off,
            tx,
        );
        let start = std::time::Instant::now();
        fencer.fence("node2", CoreAction::Configured);
        let f = tokio::time::timeout(Duration::from_secs(20), rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(f.outcome, FenceOutcome::Failed, "{}", f.detail);
        assert!(
            start.elapsed() < Duration::from_secs(8),
            "{:?}",
            start.elapsed()
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn no_device_fails_and_says_how_to_configure_one() {
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut fencer = Fencer::new(BTreeMap::new(), FenceAction::Reboot, tx);
        fencer.fence("node2", CoreAction::Off);
        let f = rx.recv().await.unwrap();
        assert_eq!(f.outcome, FenceOutcome::Failed);
        assert!(
            f.detail.contains("stonith_host * ipmi node2"),
            "{}",
            f.detail
        );
        assert!(f.detail.contains("[[fence.device]]"), "{}", f.detail);
    }

    /// Levels: a silent BMC first (it fails at its deadline), then a level
    /// of two devices (both power supplies): both are seen off, then both
    /// powered on again; the detail names the failed level.
    #[tokio::test(flavor = "current_thread")]
    async fn levels_are_tried_in_order_and_a_level_needs_all_its_devices() {
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut dead = device(silent.local_addr().unwrap(), RebootMethod::OnOff);
        dead.settings.target.bmc_mut().unwrap().timeout = Some(Duration::from_secs(1));
        let (psu_a, psu_b) = (bmc().await, bmc().await);
        let mut second = device(psu_b, RebootMethod::OnOff);
        second.delay = Duration::from_millis(200);
        let levels = vec![vec![dead], vec![device(psu_a, RebootMethod::OnOff), second]];
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut fencer = Fencer::new(
            BTreeMap::from([("node2".to_string(), levels)]),
            FenceAction::Reboot,
            tx,
        );
        let start = std::time::Instant::now();
        assert!(fencer.fence("node2", CoreAction::Configured).is_none());
        let f = tokio::time::timeout(Duration::from_secs(30), rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(f.outcome, FenceOutcome::Confirmed, "{}", f.detail);
        assert!(
            f.detail.contains("each seen off, then on again")
                && f.detail.contains("by level 2")
                && f.detail.contains("after level 1:"),
            "{}",
            f.detail
        );
        // The second device's delay was waited.
        assert!(
            start.elapsed() >= Duration::from_millis(1200),
            "{:?}",
            start.elapsed()
        );
        for psu in [psu_a, psu_b] {
            let target = device(psu, RebootMethod::OnOff).settings.target;
            let status = device::execute_target_async(&target, Action::Status)
                .await
                .unwrap();
            assert_eq!(status.power, PowerState::On, "rebooted: on again");
        }

        // A level fails when one of its devices fails: both levels failing
        // is a failure naming each.
        let silent2 = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let mut dead = device(silent2.local_addr().unwrap(), RebootMethod::OnOff);
        dead.settings.target.bmc_mut().unwrap().timeout = Some(Duration::from_secs(1));
        let mut dead2 = device(silent2.local_addr().unwrap(), RebootMethod::OnOff);
        dead2.settings.target.bmc_mut().unwrap().timeout = Some(Duration::from_secs(1));
        let levels = vec![vec![dead], vec![device(psu_a, RebootMethod::OnOff), dead2]];
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut fencer = Fencer::new(
            BTreeMap::from([("node2".to_string(), levels)]),
            FenceAction::Off,
            tx,
        );
        fencer.fence("node2", CoreAction::Configured);
        let f = tokio::time::timeout(Duration::from_secs(30), rx.recv())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(f.outcome, FenceOutcome::Failed, "{}", f.detail);
        assert!(
            f.detail.contains("every fencing level failed")
                && f.detail.contains("level 1:")
                && f.detail.contains("level 2: 1 of 2 devices"),
            "{}",
            f.detail
        );
    }

    /// A manual first level: nothing runs, the operator is told, and the
    /// request stays open until confirmed.
    #[tokio::test(flavor = "current_thread")]
    async fn a_manual_level_waits_for_the_operator() {
        let manual = NodeDevice {
            settings: Settings {
                hostname: None,
                target: Target::Manual {
                    hosts: vec!["node2".into()],
                },
                reset: RebootMethod::OnOff,
                notes: Vec::new(),
            },
            origin: "ha.cf:9, meatware".into(),
            warning: None,
            delay: Duration::ZERO,
        };
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut fencer = Fencer::new(
            BTreeMap::from([("node2".to_string(), vec![vec![manual]])]),
            FenceAction::Reboot,
            tx,
        );
        let todo = fencer.fence("node2", CoreAction::Configured).unwrap();
        assert!(todo.contains("ironbeat fence confirm node2"), "{todo}");
        assert!(
            fencer.fence("node2", CoreAction::Configured).is_none(),
            "said once"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(rx.try_recv().is_err(), "no result before the operator");
        fencer.finished("node2");
        assert!(fencer.fence("node2", CoreAction::Configured).is_some());
    }
}
