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
    devices: BTreeMap<String, Device>,
    action: FenceAction,
    results: mpsc::UnboundedSender<Fenced>,
    /// Nodes with a request in progress (a second request waits for it).
    busy: BTreeSet<String>,
}

struct Device {
    target: Arc<Target>,
    action: Action,
    origin: String,
}

impl Fencer {
    /// A fencer for `devices` (peer → device) doing `action`.
    pub fn new(
        devices: BTreeMap<String, NodeDevice>,
        action: FenceAction,
        results: mpsc::UnboundedSender<Fenced>,
    ) -> Fencer {
        let devices = devices
            .into_iter()
            .map(|(node, d)| {
                let action = match action {
                    FenceAction::Off => Action::Off,
                    FenceAction::Reboot => d.settings.reset.action(),
                };
                let device = Device {
                    target: Arc::new(d.settings.target),
                    action,
                    origin: d.origin,
                };
                (node, device)
            })
            .collect();
        Fencer {
            devices,
            action,
            results,
            busy: BTreeSet::new(),
        }
    }

    /// Warnings about the devices, to log at start (a method that cannot
    /// confirm a fencing).
    pub fn warnings(&self) -> Vec<String> {
        self.devices
            .iter()
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
    /// (the configured one, or off); never waits. A node already being
    /// fenced is not fenced twice at once (the core asks again after a
    /// failure).
    pub fn fence(&mut self, node: &str, request: CoreAction) {
        let Some(device) = self.devices.get(node) else {
            let _ = self.results.send(Fenced {
                node: node.to_string(),
                outcome: FenceOutcome::Failed,
                detail: format!(
                    "no fence device covers {node}: add `stonith_host * ipmi {node} BMC-ADDRESS \
                     USER passwd_file=/etc/ironbeat/{node}.bmc` to ha.cf, or a [[fence.device]] \
                     with nodes = [\"{node}\"] to the native file (docs/fencing.md), on every node"
                ),
            });
            return;
        };
        if !self.busy.insert(node.to_string()) {
            return;
        }
        let target = device.target.clone();
        let action = match request {
            CoreAction::Configured => device.action,
            CoreAction::Off => Action::Off,
        };
        let origin = device.origin.clone();
        let results = self.results.clone();
        let node = node.to_string();
        let why = match request {
            CoreAction::Configured => format!("stonith-action {:?}", self.action),
            CoreAction::Off => "never seen since start: powered off, not rebooted".to_string(),
        };
        tokio::spawn(async move {
            let bound = target
                .timeout()
                .map_or(GUARD, |t| t + Duration::from_secs(5));
            let done =
                tokio::time::timeout(bound, device::execute_target_async(&target, action)).await;
            let (outcome, detail) = match done {
                Ok(Ok(done)) if done.off_seen => (
                    FenceOutcome::Confirmed,
                    format!(
                        "{node} fenced ({action:?} by {origin}, {why}): seen off{}",
                        done.warning.map(|w| format!("; {w}")).unwrap_or_default()
                    ),
                ),
                Ok(Ok(done)) => (
                    FenceOutcome::Failed,
                    format!(
                        "{node}: {action:?} by {origin} was sent but the node was never seen \
                         off (power {}); it is not fenced; use method onoff",
                        done.power
                    ),
                ),
                Ok(Err(e)) => (
                    FenceOutcome::Failed,
                    format!("{node}: fencing by {origin} failed: {e}"),
                ),
                Err(_) => (
                    FenceOutcome::Failed,
                    format!("{node}: fencing by {origin} did not finish within {bound:?}"),
                ),
            };
            let _ = results.send(Fenced {
                node,
                outcome,
                detail,
            });
        });
    }

    /// The main loop saw the result of `node`'s request.
    pub fn finished(&mut self, node: &str) {
        self.busy.remove(node);
    }
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
            origin: "test device".into(),
            warning: None,
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn confirmed_only_when_the_bmc_showed_the_node_off() {
        let addr = bmc().await;
        let (tx, mut rx) = mpsc::unbounded_channel();
        let devices = BTreeMap::from([("node2".to_string(), device(addr, RebootMethod::OnOff))]);
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
        let devices =
            BTreeMap::from([("node2".to_string(), device(addr, RebootMethod::HardReset))]);
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
        let devices = BTreeMap::from([("node2".to_string(), d)]);
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
            BTreeMap::from([("node2".to_string(), d)]),
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
}
