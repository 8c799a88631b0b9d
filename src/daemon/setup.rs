//! What `ironbeat run` derives from the configuration before it starts: the
//! cluster core's [`NodeConfig`], its digest, and the fence devices.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ironbeat_cluster::{NodeConfig, DEFAULT_PRIORITY_FENCING_DELAY};
use ironbeat_crm::model::Cluster;
use sha2::{Digest, Sha256};

use crate::cli::exit::Fault;
use crate::cli::stonith::{node_device, NodeDevice, Source};
use crate::config::Config;

/// The timeout of operations the configuration gives none (Pacemaker's).
pub const DEFAULT_OP_TIMEOUT: Duration = Duration::from_secs(20);

/// Where the daemon's fence devices come from, resolved at start.
#[derive(Debug, Default)]
pub struct FenceDevices {
    /// Each peer's device, by peer name.
    pub devices: BTreeMap<String, NodeDevice>,
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
                Some(source) => match node_device(
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
        priority_fencing_delay: priority_fencing_delay.unwrap_or(DEFAULT_PRIORITY_FENCING_DELAY),
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
    let hash = Sha256::digest(text.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&hash[..8]);
    u64::from_be_bytes(first)
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
