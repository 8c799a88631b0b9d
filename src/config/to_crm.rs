//! The configuration as the compact CRM's model: the front doors into the
//! same [`Cluster`] a Pacemaker CIB reads into.
//!
//! * The native file's resource tables ([`native_to_crm`],
//!   [`load_native_crm`]), checked and compiled by the `resources` module.
//! * heartbeat's `haresources` ([`haresources_to_crm`], [`load_ha_d_crm`]):
//!
//! ```text
//!   # preferred node, then its resources, started left to right
//!   node1 IPaddr2::198.18.4.100/24/eth0 Filesystem::/dev/sdb1::/srv::ext4 nginx
//! ```
//!
//! Both start from `base_cluster`: the members, the options, and one
//! `stonith`-class primitive per fence device.
//!
//! Each haresources line becomes a group (`group_1`, `group_2`, … in file
//! order) whose members are the line's resources in order (start left to
//! right, stop right to left, all on one node: heartbeat's v1 semantics),
//! with a location preference of [`PREFERRED_NODE_SCORE`] for the line's
//! node. A resource is `NAME::ARG1::ARG2…`, run as a heartbeat-class agent
//! (`class heartbeat`, type `NAME`, parameters `1`, `2`, … in order), which
//! the executor looks up in `resource.d` then `init.d` as heartbeat's
//! ResourceManager did; a bare address (`198.18.4.100/24/eth0`) is short for
//! `IPaddr::198.18.4.100/24/eth0`.
//!
//! `auto_failback off` (ha.cf) keeps resources where they run: every group
//! and member gets a stickiness of INFINITY. `on` (and `legacy`, heartbeat's
//! default) leaves stickiness at 0, so a group moves back to its preferred
//! node when that node returns.
//!
//! heartbeat v1 had no quorum: the model is quorate with
//! `no-quorum-policy=ignore`. Fencing is enabled when ha.cf (`stonith`,
//! `stonith_host`) or the native file (`[[fence.device]]`) configures a
//! device; each becomes a `stonith`-class primitive. Node states (online,
//! standby, …) are not configuration: the caller fills them in from
//! membership (every model here has its nodes offline and clean).

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use ironbeat_crm::model::{
    Cluster, ClusterOptions, Discovery, Group, Location as Preference, Meta, NoQuorumPolicy, Node,
    NodeId, Primitive, Requires, Resource, ResourceId, ResourceKind,
};
use ironbeat_crm::score::Score;

use super::error::ConfigError;
use super::fence::Files;
use super::hacf::parse_ha_cf;
use super::hadir::read_text;
use super::model::{AutoFailback, Config, Fencing, HeartbeatOptions, Location};
use super::native::parse_native;

/// The location score of a group for the node its haresources line names.
pub const PREFERRED_NODE_SCORE: i32 = 100;

/// A parsed haresources file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Haresources {
    /// One entry per resource line, in file order.
    pub lines: Vec<HaresourcesLine>,
}

/// One line: a preferred node and its resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HaresourcesLine {
    /// The node the group prefers.
    pub node: String,
    /// The resources, in start order.
    pub resources: Vec<HaResource>,
    /// Where the line starts.
    pub location: Location,
}

/// One resource of a line: `NAME::ARG1::ARG2…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HaResource {
    /// The agent (`IPaddr2`, `Filesystem`, an init script name).
    pub agent: String,
    /// Its arguments, in order.
    pub args: Vec<String>,
    /// The token as written.
    pub written: String,
}

/// Reads `DIR/haresources` if it exists (heartbeat v1 resource management
/// is optional: a missing file means no resources).
pub fn load_haresources(dir: &Path) -> Result<Option<Haresources>, ConfigError> {
    let path = dir.join("haresources");
    if !path.exists() {
        return Ok(None);
    }
    let text = read_text(&path, "the heartbeat resources", || {
        format!("check {}", path.display())
    })?;
    parse_haresources(&text, &path).map(Some)
}

/// Parses haresources text (`path` names it in errors). `#` starts a
/// comment; a line ending in `\` continues on the next.
pub fn parse_haresources(text: &str, path: &Path) -> Result<Haresources, ConfigError> {
    let mut lines = Vec::new();
    let mut pending = String::new();
    let mut start = 0;
    for (index, raw) in text.lines().enumerate() {
        let number = index + 1;
        let content = raw.split('#').next().unwrap_or("");
        if pending.is_empty() {
            start = number;
        }
        let trimmed = content.trim_end();
        if let Some(body) = trimmed.strip_suffix('\\') {
            pending.push_str(body);
            pending.push(' ');
            continue;
        }
        pending.push_str(trimmed);
        let logical = std::mem::take(&mut pending);
        if let Some(line) = parse_line(&logical, path, start)? {
            lines.push(line);
        }
    }
    if !pending.trim().is_empty() {
        return Err(ConfigError::at_line(
            path,
            start,
            "the last line ends in `\\` but nothing follows; remove the backslash",
        ));
    }
    Ok(Haresources { lines })
}

fn parse_line(
    text: &str,
    path: &Path,
    line: usize,
) -> Result<Option<HaresourcesLine>, ConfigError> {
    let mut words = text.split_whitespace();
    let Some(node) = words.next() else {
        return Ok(None);
    };
    let at = |message: String| ConfigError::at_line(path, line, message);
    if node.contains("::") {
        return Err(at(format!(
            "`{node}` is a resource, but a line starts with the node that prefers its \
             resources: write `NODE {node} …`"
        )));
    }
    let mut resources = Vec::new();
    for token in words {
        let mut parts = token.split("::");
        let name = parts.next().unwrap_or("");
        let args: Vec<String> = parts.map(str::to_string).collect();
        if name.is_empty() {
            return Err(at(format!(
                "`{token}` has no resource name before `::`; write NAME::ARG (e.g. \
                 IPaddr2::198.18.4.100/24/eth0)"
            )));
        }
        if name.contains('/') && !name.starts_with(|c: char| c.is_ascii_digit()) {
            return Err(at(format!(
                "`{name}` is not a resource name (a script in /etc/ha.d/resource.d or \
                 /etc/init.d, without its path)"
            )));
        }
        let resource = if name.starts_with(|c: char| c.is_ascii_digit()) && args.is_empty() {
            // heartbeat's shorthand for an IP address.
            HaResource {
                agent: "IPaddr".to_string(),
                args: vec![name.to_string()],
                written: token.to_string(),
            }
        } else {
            HaResource {
                agent: name.to_string(),
                args,
                written: token.to_string(),
            }
        };
        resources.push(resource);
    }
    if resources.is_empty() {
        return Err(at(format!(
            "node `{node}` is given no resources; list them after it on the same line \
             (or end the line with `\\` to continue)"
        )));
    }
    Ok(Some(HaresourcesLine {
        node: node.to_string(),
        resources,
        location: Location {
            file: path.to_path_buf(),
            line,
        },
    }))
}

/// The CRM model of a heartbeat cluster: `config`'s nodes, fencing and
/// `auto_failback`, and `haresources`' groups. Every line's node must be a
/// member, and a resource may appear on one line only.
pub fn haresources_to_crm(
    config: &Config,
    haresources: &Haresources,
) -> Result<Cluster, ConfigError> {
    heartbeat_to_crm(
        &config.cluster,
        &config.nodes,
        &config.heartbeat,
        &config.fencing,
        haresources,
    )
}

/// The CRM model of a heartbeat directory, for `ironbeat crm simulate
/// --ha-d DIR`: `DIR/ha.cf`'s members, fencing and `auto_failback`, and
/// `DIR/haresources` (none if the file is missing). Neither the authkeys
/// file nor this node's membership is checked: a simulation may run
/// anywhere.
pub fn load_ha_d_crm(dir: &Path) -> Result<Cluster, ConfigError> {
    let path = dir.join("ha.cf");
    let text = read_text(&path, "the heartbeat configuration", || {
        "point --ha-d at the directory holding ha.cf".to_string()
    })?;
    let cf = parse_ha_cf(&text, &path)?;
    let nodes: Vec<String> = cf.nodes.iter().map(|n| n.value.clone()).collect();
    if nodes.is_empty() {
        return Err(ConfigError::in_file(
            &path,
            "no `node` line: the cluster's resources are placed on its members; add one \
             `node NAME` line per member",
        ));
    }
    let haresources = load_haresources(dir)?.unwrap_or(Haresources { lines: Vec::new() });
    heartbeat_to_crm(
        cf.cluster_name(),
        &nodes,
        &cf.options,
        &Fencing::default(),
        &haresources,
    )
}

/// The CRM model of a native file (`origin` names it in errors), for tests,
/// fuzzing and `config check`: its members, fence devices, policy,
/// resources and constraints. Neither authkeys nor password files are read.
pub fn native_to_crm(text: &str, origin: &Path) -> Result<Cluster, ConfigError> {
    Ok(parse_native(text, origin, None, Files::Skip)?.crm.cluster)
}

/// The CRM model of the native file at `path` (authkeys and password files
/// are not read; this node need not be a member).
///
/// Resources are configured in one place. With `ha_d` (the heartbeat
/// directory the daemon would otherwise use, `/etc/ha.d`), a
/// `haresources` file there that lists resources is an error, whether or not
/// the native file has resource tables of its own: the message says which
/// file to keep, so that neither is silently ignored. `ironbeat crm simulate
/// --config FILE` passes None: it reads the file it is given.
pub fn load_native_crm(path: &Path, ha_d: Option<&Path>) -> Result<Cluster, ConfigError> {
    let text = read_text(path, "the configuration", || {
        "write one (docs/config.md shows a complete example)".to_string()
    })?;
    let native = parse_native(&text, path, None, Files::Skip)?;
    if let Some(dir) = ha_d {
        if let Some(haresources) = load_haresources(dir)?.filter(|h| !h.lines.is_empty()) {
            let other = &haresources.lines[0].location;
            let shown = path.display();
            return Err(match &native.crm.first_resource {
                Some(first) => ConfigError::at(
                    first,
                    format!(
                        "resources are configured twice: here and in {other}; keep one. To \
                         keep this file, remove (or rename) {} after checking that these \
                         tables describe its lines (each line is a [[group]] with a \
                         [[location]] for its node, docs/config.md); to keep haresources, \
                         remove the resource tables here and use --ha-d {}",
                        other.file.display(),
                        dir.display()
                    ),
                ),
                None => ConfigError::at(
                    other,
                    format!(
                        "this haresources file lists resources, but the configuration in use \
                         is {shown}, which has none; keep one: move the lines into {shown} \
                         (each line is a [[group]] with a [[location]] for its node, \
                         docs/config.md) and remove {}, or use --ha-d {} instead of {shown}",
                        other.file.display(),
                        dir.display()
                    ),
                ),
            });
        }
    }
    Ok(native.crm.cluster)
}

/// The id of the stonith primitive a native `[[fence.device]]` becomes.
pub(super) fn fence_primitive_id(device: &str) -> String {
    format!("fence_{device}")
}

/// What every front door's model starts with: the cluster's nodes (in
/// order, not yet online: the caller fills node states in from
/// membership), its options with `cluster-name`, quorum, and one
/// `stonith`-class primitive per fence device (the executor fences through
/// `fence_ironbeat`).
pub(super) fn base_cluster(
    name: &str,
    nodes: &[String],
    fence_devices: &[String],
    mut options: ClusterOptions,
) -> Cluster {
    options
        .other
        .insert("cluster-name".to_string(), name.to_string());
    let mut cluster = Cluster {
        options,
        have_quorum: true,
        ..Cluster::default()
    };
    for name in nodes {
        let attributes = BTreeMap::from([
            ("#uname".to_string(), name.clone()),
            ("#id".to_string(), name.clone()),
            ("#kind".to_string(), "cluster".to_string()),
        ]);
        cluster.nodes.push(Node {
            name: name.clone(),
            id: name.clone(),
            attributes,
            ..Node::default()
        });
    }
    for device in fence_devices {
        cluster.resources.push(Resource {
            id: device.clone(),
            parent: None,
            kind: ResourceKind::Primitive(Primitive {
                class: "stonith".to_string(),
                agent: "fence_ironbeat".to_string(),
                ..Primitive::default()
            }),
            meta: Meta {
                requires: Some(Requires::Quorum),
                ..Meta::default()
            },
        });
    }
    cluster
}

/// haresources over a heartbeat cluster's members, options and fencing.
fn heartbeat_to_crm(
    cluster_name: &str,
    nodes: &[String],
    heartbeat: &HeartbeatOptions,
    fencing: &Fencing,
    haresources: &Haresources,
) -> Result<Cluster, ConfigError> {
    let fence_devices = fence_device_names(fencing, heartbeat);
    let stonith = !fence_devices.is_empty();
    let options = ClusterOptions {
        stonith_enabled: stonith,
        no_quorum_policy: NoQuorumPolicy::Ignore,
        ..ClusterOptions::default()
    };
    let mut cluster = base_cluster(cluster_name, nodes, &fence_devices, options);
    let node_ids: HashMap<String, NodeId> = nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.to_ascii_lowercase(), NodeId(i)))
        .collect();

    let sticky = heartbeat
        .auto_failback
        .as_ref()
        .is_some_and(|a| a.value == AutoFailback::Off);
    let meta = Meta {
        stickiness: sticky.then_some(Score::INFINITY),
        requires: Some(if stonith {
            Requires::Fencing
        } else {
            Requires::Nothing
        }),
        ..Meta::default()
    };

    let mut ids: HashMap<String, usize> = cluster
        .resources
        .iter()
        .map(|r| (r.id.clone(), 1))
        .collect();
    let mut seen: HashMap<String, &Location> = HashMap::new();
    for (n, line) in haresources.lines.iter().enumerate() {
        let Some(&node) = node_ids.get(&line.node.to_ascii_lowercase()) else {
            return Err(ConfigError::at(
                &line.location,
                format!(
                    "node `{}` is not a cluster member ({}); add `node {}` to ha.cf or fix \
                     the name",
                    line.node,
                    nodes.join(", "),
                    line.node
                ),
            ));
        };
        let group_id = unique_id(&mut ids, &format!("group_{}", n + 1));
        let group = ResourceId(cluster.resources.len());
        cluster.resources.push(Resource {
            id: group_id.clone(),
            parent: None,
            kind: ResourceKind::Group(Group {
                members: Vec::new(),
                ordered: true,
                collocated: true,
            }),
            meta: meta.clone(),
        });
        let mut members = Vec::new();
        for resource in &line.resources {
            let key = canonical(resource);
            if let Some(first) = seen.get(&key) {
                return Err(ConfigError::at(
                    &line.location,
                    format!(
                        "`{}` is already managed by the line at {first}; a resource can \
                         belong to one line only",
                        resource.written
                    ),
                ));
            }
            seen.insert(key, &line.location);
            let base = match resource.args.first() {
                Some(arg) => format!("{}_{}", resource.agent, arg),
                None => resource.agent.clone(),
            };
            let id = unique_id(&mut ids, &sanitize(&base));
            let parameters = resource
                .args
                .iter()
                .enumerate()
                .map(|(i, a)| ((i + 1).to_string(), a.clone()))
                .collect();
            members.push(ResourceId(cluster.resources.len()));
            cluster.resources.push(Resource {
                id,
                parent: Some(group),
                kind: ResourceKind::Primitive(Primitive {
                    class: "heartbeat".to_string(),
                    provider: None,
                    agent: resource.agent.clone(),
                    operations: Vec::new(),
                    parameters,
                }),
                meta: meta.clone(),
            });
        }
        if let ResourceKind::Group(g) = &mut cluster.resources[group.0].kind {
            g.members = members;
        }
        cluster.locations.push(Preference {
            id: format!("location_{group_id}"),
            resource: group,
            role: None,
            scores: vec![(node, Score::new(i64::from(PREFERRED_NODE_SCORE)))],
            discovery: Discovery::Always,
        });
    }
    Ok(cluster)
}

/// The fence devices of a configuration, as primitive ids: native
/// `[[fence.device]]` names, else one per ha.cf `stonith`/`stonith_host`
/// line.
fn fence_device_names(fencing: &Fencing, heartbeat: &HeartbeatOptions) -> Vec<String> {
    if !fencing.devices.is_empty() {
        return fencing
            .devices
            .iter()
            .map(|d| fence_primitive_id(&d.name))
            .collect();
    }
    let mut names = Vec::new();
    if heartbeat.stonith.is_some() {
        names.push("stonith_1".to_string());
    }
    for i in 0..heartbeat.stonith_hosts.len() {
        names.push(format!("stonith_host_{}", i + 1));
    }
    names
}

/// What makes two resources the same one (agent and arguments).
fn canonical(resource: &HaResource) -> String {
    let mut key = resource.agent.clone();
    for a in &resource.args {
        key.push_str("::");
        key.push_str(a);
    }
    key
}

/// An id made of letters, digits, `_`, `-` and `.` (as CIB ids are).
fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// `base`, or `base_2`, `base_3`, … when taken.
pub(super) fn unique_id(ids: &mut HashMap<String, usize>, base: &str) -> String {
    let mut id = base.to_string();
    let mut n = ids.get(base).copied().unwrap_or(0);
    while ids.contains_key(&id) {
        n += 1;
        id = format!("{base}_{n}");
    }
    ids.insert(base.to_string(), n.max(1));
    ids.insert(id.clone(), 1);
    id
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::path::PathBuf;

    use ironbeat_crm::model::Role;

    /// A scratch copy of a fixture directory (authkeys made private, as
    /// the loader requires).
    struct Scratch(PathBuf);

    impl Scratch {
        fn fixture(name: &str) -> Scratch {
            let src = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/fixtures/config")
                .join(name);
            static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let dir = std::env::temp_dir()
                .join(format!("ironbeat-to-crm-{}-{name}-{n}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            for entry in std::fs::read_dir(&src).unwrap() {
                let entry = entry.unwrap();
                std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
            }
            std::fs::set_permissions(dir.join("authkeys"), std::fs::Permissions::from_mode(0o600))
                .unwrap();
            Scratch(dir)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn lab() -> (Scratch, Config) {
        let s = Scratch::fixture("lab-node1");
        let config = super::super::load_ha_d(&s.0, "node1", false).unwrap();
        (s, config)
    }

    fn parse(text: &str) -> Result<Haresources, ConfigError> {
        parse_haresources(text, Path::new("haresources"))
    }

    #[test]
    fn the_lab_cluster_becomes_a_group_on_node1() {
        let (s, config) = lab();
        let haresources = load_haresources(&s.0).unwrap().unwrap();
        let cluster = haresources_to_crm(&config, &haresources).unwrap();
        let names: Vec<&str> = cluster.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["node1", "node2"]);
        assert!(!cluster.options.stonith_enabled);
        assert_eq!(cluster.options.no_quorum_policy, NoQuorumPolicy::Ignore);
        assert!(cluster.have_quorum);
        assert_eq!(cluster.resources.len(), 2);
        let group = cluster.resource(ResourceId(0));
        assert_eq!(group.id, "group_1");
        let ResourceKind::Group(g) = &group.kind else {
            panic!("{group:?}")
        };
        assert_eq!(g.members, vec![ResourceId(1)]);
        let ip = cluster.resource(ResourceId(1));
        assert_eq!(ip.id, "IPaddr2_198.18.4.100_24_eth0");
        assert_eq!(ip.parent, Some(ResourceId(0)));
        let ResourceKind::Primitive(p) = &ip.kind else {
            panic!()
        };
        assert_eq!(p.agent_spec(), "heartbeat:IPaddr2");
        assert_eq!(
            p.parameters.get("1").map(String::as_str),
            Some("198.18.4.100/24/eth0")
        );
        // auto_failback on: no stickiness, the group returns to node1.
        assert_eq!(ip.meta.stickiness, None);
        assert_eq!(cluster.locations.len(), 1);
        let l = &cluster.locations[0];
        assert_eq!((l.resource, l.role), (ResourceId(0), None::<Role>));
        assert_eq!(l.scores, vec![(NodeId(0), Score::new(100))]);
    }

    #[test]
    fn auto_failback_off_is_stickiness_and_fencing_adds_devices() {
        let (_s, mut config) = lab();
        config.heartbeat.auto_failback = Some(super::super::Located {
            value: AutoFailback::Off,
            location: Location {
                file: PathBuf::from("ha.cf"),
                line: 1,
            },
        });
        config.heartbeat.stonith_hosts.push(super::super::Located {
            value: super::super::StonithHost {
                from: "*".to_string(),
                kind: "external/ipmi".to_string(),
                params: "node2 198.18.4.12 admin secret".to_string(),
            },
            location: Location {
                file: PathBuf::from("ha.cf"),
                line: 2,
            },
        });
        let haresources =
            parse("node2 198.18.4.101 Filesystem::/dev/sdb1::/srv::ext4 nginx\n").unwrap();
        let cluster = haresources_to_crm(&config, &haresources).unwrap();
        assert!(cluster.options.stonith_enabled);
        let ids: Vec<&str> = cluster.resources.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "stonith_host_1",
                "group_1",
                "IPaddr_198.18.4.101",
                "Filesystem__dev_sdb1",
                "nginx"
            ]
        );
        let ResourceKind::Primitive(fence) = &cluster.resources[0].kind else {
            panic!()
        };
        assert_eq!(fence.class, "stonith");
        for r in &cluster.resources[1..] {
            assert_eq!(r.meta.stickiness, Some(Score::INFINITY), "{}", r.id);
            assert_eq!(r.meta.requires, Some(Requires::Fencing));
        }
        let ResourceKind::Primitive(fs) = &cluster.resources[3].kind else {
            panic!()
        };
        let params: Vec<(&str, &str)> = fs
            .parameters
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(params, [("1", "/dev/sdb1"), ("2", "/srv"), ("3", "ext4")]);
        assert_eq!(
            cluster.locations[0].scores,
            vec![(NodeId(1), Score::new(100))]
        );
    }

    #[test]
    fn lines_comments_and_continuations() {
        let text = "# two groups\n\nnode1 IPaddr2::10.0.0.1 \\\n   apache  # web\nnode2 mysql\n";
        let h = parse(text).unwrap();
        assert_eq!(h.lines.len(), 2);
        assert_eq!(h.lines[0].location.line, 3);
        let agents: Vec<&str> = h.lines[0]
            .resources
            .iter()
            .map(|r| r.agent.as_str())
            .collect();
        assert_eq!(agents, ["IPaddr2", "apache"]);
        assert_eq!(h.lines[1].location.line, 5);
        let (_s, config) = lab();
        let cluster = haresources_to_crm(&config, &h).unwrap();
        let groups: Vec<&str> = cluster
            .top_level()
            .map(|r| cluster.resource(r).id.as_str())
            .collect();
        assert_eq!(groups, ["group_1", "group_2"]);
    }

    #[test]
    fn errors_name_the_line_and_the_fix() {
        let cases = [
            ("node1\n", 1, "no resources"),
            ("IPaddr::1.2.3.4 node1\n", 1, "starts with the node"),
            ("\n\nnode1 ::x\n", 3, "no resource name"),
            ("node1 /etc/init.d/apache\n", 1, "without its path"),
            ("node1 a \\\n", 1, "nothing follows"),
        ];
        for (text, line, fragment) in cases {
            let e = parse(text).unwrap_err();
            assert_eq!(e.line(), Some(line), "{text:?}: {e}");
            assert!(
                e.to_string().starts_with(&format!("haresources:{line}: ")),
                "{e}"
            );
            assert!(e.message().contains(fragment), "{text:?}: {e}");
        }
        let (_s, config) = lab();
        let e = haresources_to_crm(&config, &parse("node1 a\nnode3 b\n").unwrap()).unwrap_err();
        assert_eq!(e.line(), Some(2));
        assert!(e.message().contains("not a cluster member"), "{e}");
        let e =
            haresources_to_crm(&config, &parse("node1 a::x\nnode2 a::x\n").unwrap()).unwrap_err();
        assert!(e.message().contains("one line only"), "{e}");
    }

    #[test]
    fn ids_stay_unique() {
        let (_s, config) = lab();
        let h = parse("node1 group_2 x::1 x::1_b\nnode2 x::1@b\n").unwrap();
        let cluster = haresources_to_crm(&config, &h).unwrap();
        let mut ids: Vec<&str> = cluster.resources.iter().map(|r| r.id.as_str()).collect();
        let n = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), n, "{ids:?}");
    }

    #[test]
    fn no_haresources_file_means_no_resources() {
        let dir = std::env::temp_dir().join(format!("ironbeat-no-hares-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(load_haresources(&dir).unwrap(), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
