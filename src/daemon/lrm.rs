//! The local resource manager: runs the cluster core's [`OpRequest`]s with
//! the resource agents and sends each [`OpResult`] back to the main loop.
//!
//! Every operation runs in its own task (the main loop never waits for an
//! agent). Operations on one resource run one at a time, in the order they
//! were requested (a per-resource lock, fair: FIFO). The built-in IP address
//! agent uses netlink and sends its gratuitous ARP itself, so a VIP
//! takeover forks nothing.
//!
//! Executor contract (docs/cluster.md): a `Monitor` is recurring; its first
//! result is reported, then every change (running → not running, and back).
//! A `Stop` or a `Probe` of the resource cancels it: a run in progress
//! finishes (agents' children are never killed half-way), its result is
//! dropped.
//!
//! Stonith-class primitives (a fence device the policy engine places, as
//! Pacemaker does) are the fencer's, not an agent's: here "started" only
//! records that this node may use the device, probes and monitors report
//! that record, and nothing is run.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use ironbeat_agents::{execute, AgentSpec, ExecEnv, OcfCode, Operation};
use ironbeat_cluster::{OpKind, OpOutcome, OpRequest, OpResult};
use ironbeat_crm::model::{Cluster, ResourceKind};
use tokio::sync::{mpsc, watch, Mutex};

use super::setup::DEFAULT_OP_TIMEOUT;

/// What the manager sends the main loop: a result, and for failures the
/// agent's reason (for the log).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Done {
    /// The result for `Node::handle_op_result`.
    pub result: OpResult,
    /// The resource.
    pub resource: String,
    /// The operation.
    pub kind: OpKind,
    /// The agent's exit reason, when it did not succeed.
    pub reason: Option<String>,
}

/// The local resource manager.
pub struct Lrm {
    resources: BTreeMap<String, Resource>,
    env: Arc<ExecEnv>,
    results: mpsc::UnboundedSender<Done>,
    /// Stonith-class primitives "started" here.
    devices: Arc<StdMutex<BTreeSet<String>>>,
}

struct Resource {
    /// `None`: a stonith-class primitive. `Err`: why no agent can run it.
    spec: Result<Option<Arc<AgentSpec>>, String>,
    lock: Arc<Mutex<()>>,
    /// Cancels the recurring monitor (true = cancelled).
    monitor: Option<watch::Sender<bool>>,
}

impl Lrm {
    /// A manager for the primitives of `model`, reporting to `results`.
    pub fn new(model: &Cluster, results: mpsc::UnboundedSender<Done>) -> Lrm {
        let resources = model
            .resources
            .iter()
            .filter_map(|r| match &r.kind {
                ResourceKind::Primitive(p) => {
                    let spec = if p.class == "stonith" {
                        Ok(None)
                    } else {
                        AgentSpec::from_primitive(&r.id, p)
                            .map(|s| Some(Arc::new(s)))
                            .map_err(|e| e.to_string())
                    };
                    Some((
                        r.id.clone(),
                        Resource {
                            spec,
                            lock: Arc::new(Mutex::new(())),
                            monitor: None,
                        },
                    ))
                }
                _ => None,
            })
            .collect();
        Lrm {
            resources,
            env: Arc::new(ExecEnv::default()),
            results,
            devices: Arc::default(),
        }
    }

    /// Starts `request` in a task; never waits. Must run inside a tokio
    /// runtime.
    pub fn execute(&mut self, request: OpRequest) {
        let Some(resource) = self.resources.get_mut(&request.resource) else {
            // The core only asks for configured primitives; answer anyway.
            let done = Done {
                result: OpResult {
                    id: request.id,
                    outcome: OpOutcome::Failed(OcfCode::NotConfigured.code()),
                },
                resource: request.resource.clone(),
                kind: request.kind,
                reason: Some("no such primitive in the configuration".into()),
            };
            let _ = self.results.send(done);
            return;
        };
        if matches!(request.kind, OpKind::Stop | OpKind::Probe | OpKind::Monitor) {
            if let Some(cancel) = resource.monitor.take() {
                let _ = cancel.send(true);
            }
        }
        let timeout = if request.timeout.is_zero() {
            DEFAULT_OP_TIMEOUT
        } else {
            request.timeout
        };
        let job = Job {
            request,
            timeout,
            spec: resource.spec.clone(),
            lock: resource.lock.clone(),
            env: self.env.clone(),
            results: self.results.clone(),
            devices: self.devices.clone(),
        };
        if job.request.kind == OpKind::Monitor {
            let (cancel, cancelled) = watch::channel(false);
            resource.monitor = Some(cancel);
            tokio::spawn(job.monitor(cancelled));
        } else {
            tokio::spawn(job.once());
        }
    }

    /// Cancels every recurring monitor (at shutdown).
    pub fn cancel_monitors(&mut self) {
        for resource in self.resources.values_mut() {
            if let Some(cancel) = resource.monitor.take() {
                let _ = cancel.send(true);
            }
        }
    }
}

struct Job {
    request: OpRequest,
    timeout: Duration,
    spec: Result<Option<Arc<AgentSpec>>, String>,
    lock: Arc<Mutex<()>>,
    env: Arc<ExecEnv>,
    results: mpsc::UnboundedSender<Done>,
    devices: Arc<StdMutex<BTreeSet<String>>>,
}

impl Job {
    async fn once(self) {
        let (outcome, reason) = {
            let _turn = self.lock.lock().await;
            self.run(operation(self.request.kind, self.request.interval))
                .await
        };
        self.report(outcome, reason);
    }

    /// First result, then every change, until cancelled.
    async fn monitor(self, mut cancelled: watch::Receiver<bool>) {
        let interval = if self.request.interval.is_zero() {
            Duration::from_secs(10)
        } else {
            self.request.interval
        };
        let mut last: Option<OpOutcome> = None;
        loop {
            let (outcome, reason) = {
                let _turn = self.lock.lock().await;
                if *cancelled.borrow() {
                    return;
                }
                self.run(Operation::Monitor { interval }).await
            };
            if *cancelled.borrow() {
                return;
            }
            if last != Some(outcome) {
                last = Some(outcome);
                self.report(outcome, reason);
            }
            tokio::select! {
                () = tokio::time::sleep(interval) => {}
                changed = cancelled.changed() => {
                    if changed.is_err() || *cancelled.borrow() {
                        return;
                    }
                }
            }
        }
    }

    async fn run(&self, op: Operation) -> (OpOutcome, Option<String>) {
        let spec = match &self.spec {
            Err(why) => {
                return (
                    OpOutcome::Failed(OcfCode::NotConfigured.code()),
                    Some(why.clone()),
                )
            }
            Ok(None) => return (self.device(op), None),
            Ok(Some(spec)) => spec.clone(),
        };
        let result = execute(&spec, op, self.timeout, &self.env).await;
        let outcome = if result.timed_out {
            OpOutcome::TimedOut
        } else {
            match (result.code, op.is_monitor()) {
                (OcfCode::Ok | OcfCode::Degraded, _) => OpOutcome::Ok,
                (OcfCode::RunningPromoted | OcfCode::DegradedPromoted, true) => OpOutcome::Ok,
                (OcfCode::NotRunning, true) => OpOutcome::NotRunning,
                (code, _) => OpOutcome::Failed(code.code()),
            }
        };
        let reason = (outcome != OpOutcome::Ok && outcome != OpOutcome::NotRunning).then(|| {
            result
                .exit_reason
                .unwrap_or_else(|| format!("{} returned {}", spec.name(), result.code))
        });
        (outcome, reason)
    }

    /// A stonith-class primitive: bookkeeping only (see the module doc).
    fn device(&self, op: Operation) -> OpOutcome {
        // A poisoned lock only means another task panicked while holding a
        // plain set; the set itself is still whole.
        let mut devices = self
            .devices
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let id = &self.request.resource;
        match op {
            Operation::Start => {
                devices.insert(id.clone());
                OpOutcome::Ok
            }
            Operation::Stop => {
                devices.remove(id);
                OpOutcome::Ok
            }
            Operation::Monitor { .. } | Operation::Probe => {
                if devices.contains(id) {
                    OpOutcome::Ok
                } else {
                    OpOutcome::NotRunning
                }
            }
            _ => OpOutcome::Failed(OcfCode::Unimplemented.code()),
        }
    }

    fn report(&self, outcome: OpOutcome, reason: Option<String>) {
        let _ = self.results.send(Done {
            result: OpResult {
                id: self.request.id,
                outcome,
            },
            resource: self.request.resource.clone(),
            kind: self.request.kind,
            reason,
        });
    }
}

/// The agent operation of a core operation kind.
fn operation(kind: OpKind, interval: Duration) -> Operation {
    match kind {
        OpKind::Probe => Operation::Probe,
        OpKind::Start => Operation::Start,
        OpKind::Stop => Operation::Stop,
        OpKind::Monitor => Operation::Monitor { interval },
        OpKind::Promote => Operation::Promote,
        OpKind::Demote => Operation::Demote,
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use ironbeat_crm::model::{Meta, Primitive, Resource as CrmResource};

    use super::*;

    fn primitive(id: &str, class: &str, provider: Option<&str>, agent: &str) -> CrmResource {
        CrmResource {
            id: id.into(),
            parent: None,
            kind: ResourceKind::Primitive(Primitive {
                class: class.into(),
                provider: provider.map(str::to_string),
                agent: agent.into(),
                operations: Vec::new(),
                parameters: BTreeMap::new(),
            }),
            meta: Meta::default(),
        }
    }

    fn request(id: u64, resource: &str, kind: OpKind, interval_ms: u64) -> OpRequest {
        OpRequest {
            id,
            resource: resource.into(),
            kind,
            interval: Duration::from_millis(interval_ms),
            timeout: Duration::from_secs(5),
        }
    }

    async fn next(rx: &mut mpsc::UnboundedReceiver<Done>) -> Done {
        tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("a result within 10 s")
            .expect("the manager is alive")
    }

    #[tokio::test(flavor = "current_thread")]
    async fn monitor_reports_first_result_then_changes_and_stop_cancels_it() {
        let mut model = Cluster::default();
        model
            .resources
            .push(primitive("fence_a", "stonith", None, "ipmi"));
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut lrm = Lrm::new(&model, tx);

        lrm.execute(request(1, "fence_a", OpKind::Probe, 0));
        assert_eq!(next(&mut rx).await.result.outcome, OpOutcome::NotRunning);
        lrm.execute(request(2, "fence_a", OpKind::Start, 0));
        assert_eq!(next(&mut rx).await.result.outcome, OpOutcome::Ok);
        lrm.execute(request(3, "fence_a", OpKind::Monitor, 20));
        let first = next(&mut rx).await;
        assert_eq!((first.result.id, first.result.outcome), (3, OpOutcome::Ok));
        // No repeat while nothing changes.
        let quiet = tokio::time::timeout(Duration::from_millis(150), rx.recv()).await;
        assert!(quiet.is_err(), "unchanged monitor results are not repeated");
        // The stop cancels the monitor: only the stop's result comes.
        lrm.execute(request(4, "fence_a", OpKind::Stop, 0));
        let stop = next(&mut rx).await;
        assert_eq!((stop.result.id, stop.result.outcome), (4, OpOutcome::Ok));
        let quiet = tokio::time::timeout(Duration::from_millis(150), rx.recv()).await;
        assert!(
            quiet.is_err(),
            "a cancelled monitor reports nothing: {quiet:?}"
        );
    }

    /// Runs `ip ARGS` (in the calling thread's network namespace).
    fn ip(args: &[&str]) {
        let status = std::process::Command::new("ip")
            .args(args)
            .status()
            .unwrap();
        assert!(status.success(), "ip {args:?}");
    }

    #[test]
    fn recurring_monitor_of_a_real_vip_reports_running_then_its_loss() {
        // In a network namespace of this thread alone (root only): a veth
        // pair, the built-in IP agent starts 198.18.251.100 there, the
        // monitor says running once; the address is removed behind its back
        // and the monitor reports the change; the stop cancels it.
        std::thread::spawn(|| {
            if nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).is_err() {
                eprintln!("SKIPPED: lrm netns test: needs root (unshare CLONE_NEWNET)");
                return;
            }
            ip(&["link", "add", "d0", "type", "veth", "peer", "name", "d1"]);
            ip(&["link", "set", "d1", "up"]);
            ip(&["link", "set", "d0", "up"]);
            ip(&["addr", "add", "198.18.251.1/24", "dev", "d0"]);
            let mut vip = primitive("vip", "ocf", Some("heartbeat"), "IPaddr2");
            if let ResourceKind::Primitive(p) = &mut vip.kind {
                p.parameters.insert("ip".into(), "198.18.251.100".into());
                p.parameters.insert("cidr_netmask".into(), "24".into());
                p.parameters.insert("nic".into(), "d0".into());
            }
            let mut model = Cluster::default();
            model.resources.push(vip);
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            runtime.block_on(async {
                let (tx, mut rx) = mpsc::unbounded_channel();
                let mut lrm = Lrm::new(&model, tx);
                lrm.execute(request(1, "vip", OpKind::Start, 0));
                assert_eq!(next(&mut rx).await.result.outcome, OpOutcome::Ok);
                lrm.execute(request(2, "vip", OpKind::Monitor, 50));
                let first = next(&mut rx).await;
                assert_eq!((first.result.id, first.result.outcome), (2, OpOutcome::Ok));
                let quiet = tokio::time::timeout(Duration::from_millis(200), rx.recv()).await;
                assert!(quiet.is_err(), "no repeat while running: {quiet:?}");
                ip(&["addr", "del", "198.18.251.100/24", "dev", "d0"]);
                let lost = next(&mut rx).await;
                assert_eq!(
                    (lost.result.id, lost.result.outcome),
                    (2, OpOutcome::NotRunning)
                );
                lrm.execute(request(3, "vip", OpKind::Stop, 0));
                assert_eq!(next(&mut rx).await.result.id, 3);
                let quiet = tokio::time::timeout(Duration::from_millis(200), rx.recv()).await;
                assert!(quiet.is_err(), "the stop cancelled the monitor: {quiet:?}");
            });
        })
        .join()
        .unwrap();
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_stopped_vip_monitors_as_not_running_and_bad_resources_fail() {
        // The built-in IP agent against an address on `lo` that is never
        // configured: not running, reported once; an unknown resource and a
        // bad class fail with the reason.
        let mut vip = primitive("vip", "ocf", Some("heartbeat"), "IPaddr2");
        if let ResourceKind::Primitive(p) = &mut vip.kind {
            p.parameters.insert("ip".into(), "198.18.250.77".into());
            p.parameters.insert("cidr_netmask".into(), "32".into());
            p.parameters.insert("nic".into(), "lo".into());
        }
        let mut model = Cluster::default();
        model.resources.push(vip);
        model
            .resources
            .push(primitive("odd", "nosuchclass", None, "x"));
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut lrm = Lrm::new(&model, tx);
        lrm.execute(request(1, "vip", OpKind::Monitor, 30));
        let first = next(&mut rx).await;
        assert_eq!(first.result.outcome, OpOutcome::NotRunning, "{first:?}");
        let quiet = tokio::time::timeout(Duration::from_millis(200), rx.recv()).await;
        assert!(quiet.is_err());
        lrm.execute(request(2, "vip", OpKind::Probe, 0));
        assert_eq!(next(&mut rx).await.result.id, 2);

        lrm.execute(request(3, "odd", OpKind::Start, 0));
        let odd = next(&mut rx).await;
        assert_eq!(odd.result.outcome, OpOutcome::Failed(6));
        assert!(odd.reason.unwrap().contains("unknown resource class"));
        lrm.execute(request(4, "missing", OpKind::Start, 0));
        let missing = next(&mut rx).await;
        assert_eq!(missing.result.outcome, OpOutcome::Failed(6));
        lrm.cancel_monitors();
    }
}
