//! The lab's BMCs: one IPMI-over-LAN responder per node (the fence crate's
//! [`BmcServer`]), all served by one thread inside the switch namespace, on
//! the management network. Each BMC's [`PowerBackend`] really powers its
//! virtual node ([`Node::power_off`], [`Node::power_on`]).

use std::net::{SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::thread;

use anyhow::{Context, Result};
use ironbeat_fence::driver::bmc::BmcServer;
use ironbeat_fence::ipmi::bmc::{BackendError, Bmc, BmcConfig, PowerBackend, User};
use ironbeat_fence::ipmi::Privilege;
use ironbeat_fence::power::PowerState;
use tokio::sync::watch;

use super::command::enter_netns;
use super::{Node, PowerCause};

/// The chassis of one virtual node, as its BMC sees it.
#[derive(Debug, Clone)]
pub struct NodePower {
    node: Arc<Node>,
}

impl NodePower {
    /// The chassis of `node`.
    pub fn new(node: Arc<Node>) -> Self {
        NodePower { node }
    }
}

fn failed(e: anyhow::Error) -> BackendError {
    BackendError::Failed(format!("{e:#}"))
}

impl PowerBackend for NodePower {
    fn power(&mut self) -> Result<PowerState, BackendError> {
        match self.node.is_powered() {
            Ok(true) => Ok(PowerState::On),
            Ok(false) => Ok(PowerState::Off),
            Err(e) => Err(failed(e)),
        }
    }

    fn set_power(&mut self, state: PowerState) -> Result<(), BackendError> {
        match state {
            PowerState::Off => self.node.power_off(PowerCause::Bmc).map_err(failed),
            PowerState::On => self.node.power_on(PowerCause::Bmc).map_err(failed),
        }
    }

    fn hard_reset(&mut self) -> Result<(), BackendError> {
        // A chassis that is off stays off.
        if self.node.is_powered().map_err(failed)? {
            self.node.power_off(PowerCause::Bmc).map_err(failed)?;
            self.node.power_on(PowerCause::Bmc).map_err(failed)?;
        }
        Ok(())
    }
}

/// The thread serving every node's BMC; stopped on drop.
#[derive(Debug)]
pub(crate) struct BmcFarm {
    stop: watch::Sender<bool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl BmcFarm {
    /// Binds one BMC per node (at [`Node::bmc_addr`]) inside `switch_ns`,
    /// user `user` with `password`, and serves them until dropped. Returns
    /// once every socket is bound (or with the first error).
    pub(crate) fn start(
        switch_ns: &str,
        nodes: &[Arc<Node>],
        user: &str,
        password: &[u8],
    ) -> Result<Self> {
        let mut bmcs = Vec::new();
        for node in nodes {
            let Some(addr) = node.bmc_addr() else {
                continue;
            };
            let config = BmcConfig::new(vec![User::new(user, password, Privilege::Administrator)]);
            let seed = ironbeat_fence::driver::kernel_seed().context("seeding the BMC")?;
            let bmc = Bmc::new(config, NodePower::new(Arc::clone(node)), seed)
                .with_context(|| format!("configuring {}'s BMC", node.name()))?;
            bmcs.push((addr, bmc));
        }
        let (stop, stopped) = watch::channel(false);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<()>>();
        let ns = switch_ns.to_owned();
        let thread = thread::Builder::new()
            .name("lab-bmcs".into())
            .spawn(move || {
                let bound = enter_netns(&ns).and_then(|()| bind_all(bmcs));
                let sockets = match bound {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(r) => r,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e.into()));
                        return;
                    }
                };
                runtime.block_on(serve(sockets, stopped, ready_tx));
            })?;
        let ready = ready_rx
            .recv()
            .context("the BMC thread ended before binding")?;
        ready?;
        Ok(BmcFarm {
            stop,
            thread: Some(thread),
        })
    }
}

type Bound = Vec<(std::net::UdpSocket, Bmc<NodePower>)>;

fn bind_all(bmcs: Vec<(SocketAddrV4, Bmc<NodePower>)>) -> Result<Bound> {
    bmcs.into_iter()
        .map(|(addr, bmc)| {
            let socket = std::net::UdpSocket::bind(SocketAddr::V4(addr))
                .with_context(|| format!("binding a lab BMC to UDP {addr}"))?;
            socket.set_nonblocking(true)?;
            Ok((socket, bmc))
        })
        .collect()
}

async fn serve(
    sockets: Bound,
    stopped: watch::Receiver<bool>,
    ready: std::sync::mpsc::Sender<Result<()>>,
) {
    let mut tasks = Vec::new();
    for (socket, bmc) in sockets {
        let socket = match tokio::net::UdpSocket::from_std(socket) {
            Ok(s) => s,
            Err(e) => {
                let _ = ready.send(Err(e.into()));
                return;
            }
        };
        let mut stop = stopped.clone();
        tasks.push(tokio::spawn(async move {
            let mut server = BmcServer::from_socket(socket, bmc);
            let shutdown = async move {
                let _ = stop.wait_for(|s| *s).await;
            };
            let _ = server.run(shutdown, |_| {}).await;
        }));
    }
    let _ = ready.send(Ok(()));
    for t in tasks {
        let _ = t.await;
    }
}

impl Drop for BmcFarm {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
