//! What `ironbeat run` derives from the configuration before it starts: the
//! cluster core's [`NodeConfig`], its digest, the fence devices and the ping
//! nodes.

use std::collections::hash_map::RandomState;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::hash::{BuildHasher, Hasher};
use std::net::{IpAddr, ToSocketAddrs};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ironbeat_cluster::{NodeConfig, DEFAULT_PRIORITY_FENCING_DELAY};
use ironbeat_crm::model::Cluster;
use ironbeat_link::proto::ping::{PingConfig, PingTarget};
use sha2::{Digest, Sha256};

use crate::cli::exit::Fault;
use crate::cli::stonith::{node_levels, NodeDevice, Source};
use crate::config::{Config, Location};

/// The timeout of operations the configuration gives none (Pacemaker's).
pub const DEFAULT_OP_TIMEOUT: Duration = Duration::from_secs(20);

/// Where the daemon's fence devices come from, resolved at start.
#[derive(Debug, Default)]
pub struct FenceDevices {
    /// Each peer's fencing levels (each a list of devices that must all
    /// succeed), by peer name.
    pub devices: BTreeMap<String, Vec<Vec<NodeDevice>>>,
    /// Peers no device covers.
    pub uncovered: Vec<String>,
}

impl FenceDevices {
    /// Finds every peer's device in `source` (`None`: no fencing source at
    /// all). A device that exists but cannot be used (its password file is
    /// unreadable, its parameters are wrong) is an error: the daemon must not
    /// start believing it can fence.
    pub fn resolve(config: &Config, source: Option<&Source>) -> anyhow::Result<FenceDevices> {
        let mut found = FenceDevices::default();
        for peer in config.peers() {
            let device = match source {
                // ha.cf's stonith_host lines compare names in lower case,
                // as cluster-glue does.
                Some(source) => match node_levels(
                    source,
                    &config.local_node.to_lowercase(),
                    &peer.to_lowercase(),
                ) {
                    Ok(device) => Some(device),
                    Err(p) if p.fault == Fault::UnknownNode => None,
                    Err(p) => anyhow::bail!("the fence device of {peer}: {}", p.message),
                },
                None => None,
            };
            match device {
                Some(device) => {
                    found.devices.insert(peer, device);
                }
                None => found.uncovered.push(peer),
            }
        }
        Ok(found)
    }

    /// Every peer is covered: lost nodes can be fenced before recovery.
    /// Some covered and others not is an error (the uncovered ones would be
    /// recovered unsafely while the others wait for fencing); none covered
    /// is "no fencing" (the core says so at every recovery).
    pub fn enabled(&self, origin: &Path) -> anyhow::Result<bool> {
        match (self.devices.is_empty(), self.uncovered.is_empty()) {
            (_, true) => Ok(!self.devices.is_empty()),
            (true, false) => Ok(false),
            (false, false) => anyhow::bail!(
                "{}: fencing covers {} but not {}: configure a device for every node (ha.cf \
                 `stonith_host * ipmi NODE BMC-ADDRESS USER passwd_file=FILE`, or a native \
                 [[fence.device]] with nodes = [\"NODE\"]), or none",
                origin.display(),
                self.devices.keys().cloned().collect::<Vec<_>>().join(", "),
                self.uncovered.join(", ")
            ),
        }
    }
}

/// The cluster core's configuration for this node: every node with one
/// vote; two-node mode with two nodes; wait-for-all (no quorum until every
/// node was seen once, so a node never starts services alone after a cold
/// start); the engine's no-quorum-policy; the link's deadtime.
pub fn node_config(
    config: &Config,
    model: Cluster,
    fencing: bool,
    incarnation: u64,
    priority_fencing_delay: Option<Duration>,
) -> NodeConfig {
    let digest = digest(config, &model, fencing);
    NodeConfig {
        name: config.local_node.clone(),
        nodes: config.nodes.iter().map(|n| (n.clone(), 1)).collect(),
        two_node: config.nodes.len() == 2,
        wait_for_all: true,
        no_quorum_policy: model.options.no_quorum_policy,
        model,
        digest,
        fencing,
        deadtime: config.timing.deadtime,
        initdead: config.timing.initdead,
        clean_start: true,
        priority_fencing_delay: priority_fencing_delay.unwrap_or(DEFAULT_PRIORITY_FENCING_DELAY),
        // Watchdog-only fencing (config check refuses it for two nodes):
        // with a watchdog and no device, a lost node counts as fenced once
        // its watchdog must have reset it.
        watchdog_fencing: (!fencing && config.heartbeat.watchdog.is_some())
            .then(|| crate::config::stonith_watchdog_timeout(&config.heartbeat)),
        connectivity_grace: has_ping_nodes(config)
            .then(|| deadping(config).saturating_add(config.timing.keepalive)),
        default_op_timeout: DEFAULT_OP_TIMEOUT,
        incarnation,
        unix_time_at_start: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
    }
}

/// A stable hash of what must be identical on every node: the cluster name,
/// the nodes, the crm model's options, resources and constraints, and
/// whether fencing is on. Per-node lines (media, ucast peers, tty names,
/// which device fences which peer from here) are left out. The model is
/// hashed in its `Debug` form, which holds no hash maps (ordered maps and
/// vectors only), so the same files give the same digest on every node
/// running the same ironbeat version.
pub fn digest(config: &Config, model: &Cluster, fencing: bool) -> u64 {
    let mut text = String::new();
    let _ = writeln!(text, "cluster {:?}", config.cluster);
    let _ = writeln!(text, "nodes {:?}", config.nodes);
    let _ = writeln!(text, "fencing {fencing}");
    let _ = writeln!(text, "options {:?}", model.options);
    let _ = writeln!(text, "model nodes {:?}", model.nodes);
    let _ = writeln!(text, "resources {:?}", model.resources);
    let _ = writeln!(text, "locations {:?}", model.locations);
    let _ = writeln!(text, "colocations {:?}", model.colocations);
    let _ = writeln!(text, "orders {:?}", model.orders);
    // Connectivity is compared between nodes: it means something only when
    // every node pings the same targets. Left out without ping nodes, so
    // such configurations keep their digest.
    let o = &config.heartbeat;
    if !o.ping.is_empty() || !o.ping_groups.is_empty() {
        let nodes: Vec<_> = o.ping.iter().map(|p| &p.value).collect();
        let groups: Vec<_> = o.ping_groups.iter().map(|g| &g.value).collect();
        let deadping = o.deadping.as_ref().map(|d| d.value);
        let _ = writeln!(text, "ping {nodes:?} {groups:?} deadping {deadping:?}");
    }
    let hash = Sha256::digest(text.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&hash[..8]);
    u64::from_be_bytes(first)
}

/// Ping nodes or groups are configured.
fn has_ping_nodes(config: &Config) -> bool {
    !config.heartbeat.ping.is_empty() || !config.heartbeat.ping_groups.is_empty()
}

/// Silence after which a ping target is down: `deadping`, or `deadtime`.
fn deadping(config: &Config) -> Duration {
    config
        .heartbeat
        .deadping
        .as_ref()
        .map_or(config.timing.deadtime, |d| d.value)
}

/// The ping nodes as the pinger's targets (ha.cf `ping`/`ping6`: one target
/// per host; `ping_group`: one target up while any of its hosts answers),
/// or `None` without any. Requests go out every `keepalive`; a target is down
/// after `deadping` (default: `deadtime`) of silence. Host names are resolved
/// once, now; one that does not resolve is an error at its line. The ICMP
/// identifier mixes the node's generation with the process id (a restarted
/// daemon ignores its predecessor's replies); the token is random.
pub fn ping_config(config: &Config, generation: u64) -> anyhow::Result<Option<PingConfig>> {
    let o = &config.heartbeat;
    if !has_ping_nodes(config) {
        return Ok(None);
    }
    let mut targets = Vec::new();
    for node in &o.ping {
        let address = resolve(&node.value.host, Some(node.value.ipv6), &node.location)?;
        targets.push(PingTarget {
            name: node.value.host.clone(),
            hosts: vec![address],
        });
    }
    for group in &o.ping_groups {
        let hosts = group
            .value
            .hosts
            .iter()
            .map(|h| resolve(h, None, &group.location))
            .collect::<anyhow::Result<Vec<IpAddr>>>()?;
        targets.push(PingTarget {
            name: group.value.name.clone(),
            hosts,
        });
    }
    let mixed = generation ^ u64::from(std::process::id()).rotate_left(29);
    let ident = (mixed ^ (mixed >> 16) ^ (mixed >> 32) ^ (mixed >> 48)) as u16;
    let mut token = RandomState::new().build_hasher();
    token.write_u64(generation);
    Ok(Some(PingConfig {
        targets,
        interval: config.timing.keepalive,
        deadping: deadping(config),
        ident,
        token: token.finish(),
    }))
}

/// An address of `host` (of the family `ipv6` asks for, when it does).
fn resolve(host: &str, ipv6: Option<bool>, at: &Location) -> anyhow::Result<IpAddr> {
    if let Ok(address) = host.parse::<IpAddr>() {
        return Ok(address);
    }
    let family = |a: &IpAddr| ipv6.map_or(true, |v6| a.is_ipv6() == v6);
    let found = (host, 0)
        .to_socket_addrs()
        .map(|all| all.map(|a| a.ip()).find(family));
    match found {
        Ok(Some(address)) => Ok(address),
        Ok(None) => anyhow::bail!(
            "{at}: ping node {host} has no {} address; write its address instead of its name",
            if ipv6 == Some(true) { "IPv6" } else { "IPv4" }
        ),
        Err(e) => anyhow::bail!(
            "{at}: ping node {host} does not resolve ({e}); write its IP address (a ping node \
             must not depend on DNS)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::config::{load_ha_d, to_crm::load_ha_d_crm};

    struct Dir(std::path::PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn ha_d(tag: &str, node: &str, peer_ip: &str, extra: &str, haresources: &str) -> Dir {
        let dir = std::env::temp_dir().join(format!(
            "ironbeat-setup-{tag}-{node}-{}",
            std::process::id()
        ));
        fs::create_dir_all(&dir).unwrap();
        fs::write(
            dir.join("ha.cf"),
            format!(
                "keepalive 100ms\ndeadtime 1s\nwarntime 500ms\ninitdead 2s\n\
                 ucast lo {peer_ip}\n{extra}node node1\nnode node2\n"
            ),
        )
        .unwrap();
        fs::write(dir.join("authkeys"), "auth 1\n1 sha256 setup-test-secret\n").unwrap();
        fs::set_permissions(dir.join("authkeys"), fs::Permissions::from_mode(0o600)).unwrap();
        fs::write(dir.join("haresources"), haresources).unwrap();
        Dir(dir)
    }

    fn built(dir: &Dir, node: &str) -> NodeConfig {
        let config = load_ha_d(&dir.0, node, false).unwrap();
        let model = load_ha_d_crm(&dir.0).unwrap();
        node_config(&config, model, false, 7, None)
    }

    #[test]
    fn per_node_lines_do_not_change_the_digest_and_resources_do() {
        let res = "node1 IPaddr2::198.18.7.100/24/eth0\n";
        let a = ha_d("same", "node1", "127.0.0.2", "", res);
        let b = ha_d("same", "node2", "127.0.0.3", "", res);
        let c = ha_d(
            "other",
            "node2",
            "127.0.0.3",
            "",
            "node1 IPaddr2::198.18.7.101/24/eth0\n",
        );
        let (na, nb, nc) = (built(&a, "node1"), built(&b, "node2"), built(&c, "node2"));
        assert_eq!(na.digest, nb.digest, "ucast peers are per node");
        assert_ne!(na.digest, nc.digest, "another VIP is another configuration");
        assert_eq!(na.name, "node1");
        assert_eq!(
            na.nodes,
            vec![("node1".to_string(), 1), ("node2".to_string(), 1)]
        );
        assert!(na.two_node && na.wait_for_all && !na.fencing);
        assert_eq!(na.deadtime, Duration::from_secs(1));
        assert_eq!(na.incarnation, 7);
        assert_eq!(na.priority_fencing_delay, DEFAULT_PRIORITY_FENCING_DELAY);
        // Fencing on one side only is a mismatch too.
        let config = load_ha_d(&a.0, "node1", false).unwrap();
        let model = load_ha_d_crm(&a.0).unwrap();
        assert_ne!(digest(&config, &model, true), na.digest);
    }

    #[test]
    fn the_priority_fencing_delay_comes_from_either_front_door() {
        let dir = ha_d(
            "delay",
            "node1",
            "127.0.0.2",
            "priority_fencing_delay 3s\n",
            "",
        );
        let config = load_ha_d(&dir.0, "node1", false).unwrap();
        let delay = config.heartbeat.priority_fencing_delay.as_ref().unwrap();
        assert_eq!(delay.value, Duration::from_secs(3));
        assert_eq!(delay.location.line, 6);
        let model = load_ha_d_crm(&dir.0).unwrap();
        let built = node_config(&config, model, false, 1, Some(delay.value));
        assert_eq!(built.priority_fencing_delay, Duration::from_secs(3));

        let native = dir.0.join("ironbeat.toml");
        fs::write(
            &native,
            "[cluster]\nnodes = [\"node1\", \"node2\"]\nauthkeys = \"authkeys\"\n\
             priority_fencing_delay = \"2500ms\"\nrealtime = false\n\
             [[link]]\nkind = \"ucast\"\niface = \"lo\"\npeer = \"127.0.0.2\"\n",
        )
        .unwrap();
        let config = crate::config::load_native(&native, "node1").unwrap();
        let h = &config.heartbeat;
        assert_eq!(
            h.priority_fencing_delay.as_ref().unwrap().value,
            Duration::from_millis(2500)
        );
        assert!(!h.realtime.as_ref().unwrap().value);
        fs::write(
            &native,
            "[cluster]\nnodes = [\"node1\", \"node2\"]\npriority_fencing_delay = \"10\"\n",
        )
        .unwrap();
        let e = crate::config::load_native(&native, "node1")
            .unwrap_err()
            .to_string();
        assert!(e.contains(":3:") && e.contains("has no unit"), "{e}");
    }

    #[test]
    fn ping_nodes_become_the_pingers_targets() {
        let res = "node1 IPaddr2::198.18.7.100/24/eth0\n";
        let plain = ha_d("noping", "node1", "127.0.0.2", "", res);
        let config = load_ha_d(&plain.0, "node1", false).unwrap();
        assert!(ping_config(&config, 3).unwrap().is_none());

        let lines = "ping 198.18.0.254 localhost\nping6 ::1\nping_group routers 198.18.0.252 \
                     198.18.0.253\n";
        let a = ha_d("ping", "node1", "127.0.0.2", lines, res);
        let config = load_ha_d(&a.0, "node1", false).unwrap();
        let ping = ping_config(&config, 3).unwrap().unwrap();
        let targets: Vec<(&str, Vec<String>)> = ping
            .targets
            .iter()
            .map(|t| {
                let hosts = t.hosts.iter().map(ToString::to_string).collect();
                (t.name.as_str(), hosts)
            })
            .collect();
        assert_eq!(
            targets,
            [
                ("198.18.0.254", vec!["198.18.0.254".to_string()]),
                // A name is resolved once, to the family of its directive.
                ("localhost", vec!["127.0.0.1".to_string()]),
                ("::1", vec!["::1".to_string()]),
                (
                    "routers",
                    vec!["198.18.0.252".to_string(), "198.18.0.253".to_string()]
                ),
            ]
        );
        assert_eq!(ping.interval, Duration::from_millis(100));
        assert_eq!(
            ping.deadping,
            Duration::from_secs(1),
            "deadping defaults to deadtime"
        );
        // Another generation, another identifier; a fresh random token.
        let again = ping_config(&config, 4).unwrap().unwrap();
        assert_ne!(again.ident, ping.ident);
        assert_ne!(again.token, ping.token);

        // Every node must ping the same targets: they are in the digest
        // (and a configuration without any keeps its digest).
        let b = ha_d("ping", "node2", "127.0.0.3", lines, res);
        let c = ha_d("ping2", "node2", "127.0.0.3", "ping 198.18.0.254\n", res);
        let noping_b = ha_d("noping", "node2", "127.0.0.3", "", res);
        let (na, nb, nc) = (built(&a, "node1"), built(&b, "node2"), built(&c, "node2"));
        assert_eq!(na.digest, nb.digest);
        assert_ne!(na.digest, nc.digest);
        assert_ne!(
            built(&noping_b, "node2").digest,
            nc.digest,
            "adding ping nodes"
        );
        let d = ha_d(
            "dp",
            "node2",
            "127.0.0.3",
            &format!("{lines}deadping 2s\n"),
            res,
        );
        assert_ne!(built(&d, "node2").digest, nb.digest, "another deadping");
        let deadping = ping_config(&load_ha_d(&d.0, "node2", false).unwrap(), 1)
            .unwrap()
            .unwrap()
            .deadping;
        assert_eq!(deadping, Duration::from_secs(2));

        // A name that does not resolve stops the start, at its line.
        let e = ha_d(
            "badping",
            "node1",
            "127.0.0.2",
            "ping no-such-host.invalid\n",
            res,
        );
        let config = load_ha_d(&e.0, "node1", false).unwrap();
        let err = ping_config(&config, 1).unwrap_err().to_string();
        assert!(
            err.contains("ha.cf:6:") && err.contains("no-such-host.invalid"),
            "{err}"
        );
        assert!(
            err.contains("IP address") || err.contains("address instead"),
            "{err}"
        );
    }

    #[test]
    fn fencing_needs_a_device_for_every_peer() {
        let dir = ha_d(
            "fence",
            "node1",
            "127.0.0.2",
            "stonith_host * ipmi node2 198.18.9.2 admin passwd=secret\n",
            "",
        );
        let config = load_ha_d(&dir.0, "node1", false).unwrap();
        let devices = FenceDevices::resolve(&config, Some(&Source::HaD(dir.0.clone()))).unwrap();
        assert_eq!(devices.devices.keys().collect::<Vec<_>>(), ["node2"]);
        assert!(devices.enabled(&config.origin).unwrap());
        // Secrets stay out of Debug output.
        assert!(!format!("{devices:?}").contains("secret\""));

        let none = FenceDevices::resolve(&config, None).unwrap();
        assert_eq!(none.uncovered, ["node2"]);
        assert!(!none.enabled(&config.origin).unwrap());

        let partial = FenceDevices {
            devices: devices.devices,
            uncovered: vec!["node3".into()],
        };
        let e = partial.enabled(&config.origin).unwrap_err().to_string();
        assert!(e.contains("not node3") && e.contains("stonith_host"), "{e}");
    }
}
