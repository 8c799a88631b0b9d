//! ironbeat's own configuration as the policy engine's input: the native
//! file's resources and constraints, and heartbeat's haresources, compiled
//! into the model and scheduled by the same engine as a Pacemaker CIB.
//!
//! * a native file with a group, a clone, locations, colocations and orders
//!   places where its constraints say, in order, also when nodes are taken
//!   down or put in standby;
//! * a native file and the haresources that say the same thing give the
//!   same simulation, text for text;
//! * a native file and the CIB that says the same thing give the same
//!   simulation, and (when `crm_simulate` is installed) the same Transition
//!   Summary and placement as Pacemaker's own scheduler on that CIB;
//! * `ironbeat crm simulate --config FILE` / `--ha-d DIR` with `--offline`
//!   and `--standby`, their errors and exit codes, and hostile files.

use std::collections::{BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::process::Command;

use ironbeat::config::to_crm::{load_ha_d_crm, load_native_crm, native_to_crm};
use ironbeat_crm::model::{Cluster, ResourceId, Task};
use ironbeat_crm::transition::{Action, Transition};
use ironbeat_crm::{cib, policy, simulate};

mod common;
use common::{simulate, CONFIG, OK, USAGE};

/// Failures are judged at this time (there are none; fixed for determinism).
const NOW: i64 = 1_700_000_000;

/// Three nodes; a web group that prefers node2 and needs the ping clone,
/// which node3 may not run; a database kept away from the web group, and a
/// backup job that follows the database and starts after it.
const NATIVE: &str = r#"# The example of tests/crm_config.rs.
[cluster]
name = "prod"
nodes = ["node1", "node2", "node3"]
no_quorum_policy = "ignore"

[[link]]
kind = "bcast"
iface = "eth0"

[resource_defaults]
stickiness = 100

[[resource]]
id = "vip"
agent = "ocf:heartbeat:IPaddr2"
params = { ip = "198.18.0.10", cidr_netmask = "24" }
[[resource.op]]
name = "monitor"
interval = "10s"
timeout = "20s"

[[resource]]
id = "site"
agent = "systemd:nginx"

[[resource]]
id = "ping"
agent = "ocf:pacemaker:ping"
params = { host_list = "198.18.0.1" }

[[resource]]
id = "db"
agent = "ocf:heartbeat:pgsql"

[[resource]]
id = "backup"
agent = "lsb:backup"

[[group]]
id = "web"
members = ["vip", "site"]

[[clone]]
id = "ping-clone"
of = "ping"

[[location]]
resource = "web"
node = "node2"
score = 100

[[location]]
resource = "ping-clone"
node = "node3"
score = "-INFINITY"

[[location]]
resource = "db"
node = "node1"
score = 50

[[colocation]]
resource = "web"
with = "ping-clone"
score = "INFINITY"

[[colocation]]
resource = "db"
with = "web"
score = "-INFINITY"

[[colocation]]
resource = "backup"
with = "db"
score = "INFINITY"

[[order]]
first = "ping-clone"
then = "web"

[[order]]
first = "db"
then = "backup"
"#;

/// The same cluster as a Pacemaker CIB, every node online and nothing
/// running (the top-level resources in the native file's order: tables
/// in file order, members inside their group or clone).
const CIB: &str = r#"<cib crm_feature_set="3.16.1" validate-with="pacemaker-3.7" epoch="1" num_updates="0" admin_epoch="0" have-quorum="1">
  <configuration>
    <crm_config>
      <cluster_property_set id="cib-bootstrap-options">
        <nvpair id="opt-stonith" name="stonith-enabled" value="false"/>
        <nvpair id="opt-quorum" name="no-quorum-policy" value="ignore"/>
        <nvpair id="opt-name" name="cluster-name" value="prod"/>
      </cluster_property_set>
    </crm_config>
    <nodes>
      <node id="node1" uname="node1"/>
      <node id="node2" uname="node2"/>
      <node id="node3" uname="node3"/>
    </nodes>
    <resources>
      <primitive id="db" class="ocf" provider="heartbeat" type="pgsql"/>
      <primitive id="backup" class="lsb" type="backup"/>
      <group id="web">
        <primitive id="vip" class="ocf" provider="heartbeat" type="IPaddr2">
          <instance_attributes id="vip-params">
            <nvpair id="vip-ip" name="ip" value="198.18.0.10"/>
            <nvpair id="vip-mask" name="cidr_netmask" value="24"/>
          </instance_attributes>
          <operations>
            <op id="vip-monitor" name="monitor" interval="10s" timeout="20s"/>
          </operations>
        </primitive>
        <primitive id="site" class="systemd" type="nginx"/>
      </group>
      <clone id="ping-clone">
        <primitive id="ping" class="ocf" provider="pacemaker" type="ping">
          <instance_attributes id="ping-params">
            <nvpair id="ping-hosts" name="host_list" value="198.18.0.1"/>
          </instance_attributes>
        </primitive>
      </clone>
    </resources>
    <constraints>
      <rsc_location id="l1" rsc="web" node="node2" score="100"/>
      <rsc_location id="l2" rsc="ping-clone" node="node3" score="-INFINITY"/>
      <rsc_location id="l3" rsc="db" node="node1" score="50"/>
      <rsc_colocation id="c1" rsc="web" with-rsc="ping-clone" score="INFINITY"/>
      <rsc_colocation id="c2" rsc="db" with-rsc="web" score="-INFINITY"/>
      <rsc_colocation id="c3" rsc="backup" with-rsc="db" score="INFINITY"/>
      <rsc_order id="o1" first="ping-clone" then="web"/>
      <rsc_order id="o2" first="db" then="backup"/>
    </constraints>
    <rsc_defaults>
      <meta_attributes id="rsc-options">
        <nvpair id="rsc-options-stickiness" name="resource-stickiness" value="100"/>
      </meta_attributes>
    </rsc_defaults>
  </configuration>
  <status>
    <node_state id="node1" uname="node1" in_ccm="true" crmd="online" join="member" expected="member"/>
    <node_state id="node2" uname="node2" in_ccm="true" crmd="online" join="member" expected="member"/>
    <node_state id="node3" uname="node3" in_ccm="true" crmd="online" join="member" expected="member"/>
  </status>
</cib>
"#;

/// A fence device, a promotable clone whose promoted copy the web group
/// follows and is started after, and a fence device kept off its node.
const NATIVE_PROMOTABLE: &str = r#"
[cluster]
name = "prod"
nodes = ["node1", "node2", "node3"]

[[link]]
kind = "bcast"
iface = "eth0"

[[fence.device]]
name = "node2-bmc"
type = "ipmi"
nodes = ["node2"]
ip = "198.18.1.2"
username = "admin"
password_file = "node2-bmc.pass"

[[resource]]
id = "db"
agent = "ocf:pacemaker:Stateful"
[[resource.op]]
name = "monitor"
interval = "10s"
role = "Promoted"
[[resource.op]]
name = "monitor"
interval = "11s"
role = "Unpromoted"

[[clone]]
id = "db-clone"
of = "db"
promotable = true
clone_max = 2

[[resource]]
id = "vip"
agent = "ocf:heartbeat:IPaddr2"

[[resource]]
id = "site"
agent = "ocf:heartbeat:apache"

[[group]]
id = "web"
members = ["vip", "site"]

[[location]]
resource = "db-clone"
node = "node1"
score = 50
role = "Promoted"

[[location]]
resource = "db-clone"
node = "node1"
score = 10

[[location]]
resource = "fence_node2-bmc"
node = "node2"
score = "-INFINITY"

[[colocation]]
resource = "web"
with = "db-clone"
with_role = "Promoted"
score = "INFINITY"

[[order]]
first = "db-clone"
first_action = "promote"
then = "web"
then_action = "start"
"#;

/// [`NATIVE_PROMOTABLE`] as a CIB.
const CIB_PROMOTABLE: &str = r#"<cib crm_feature_set="3.16.1" validate-with="pacemaker-3.7" epoch="1" num_updates="0" admin_epoch="0" have-quorum="1">
  <configuration>
    <crm_config>
      <cluster_property_set id="cib-bootstrap-options">
        <nvpair id="opt-stonith" name="stonith-enabled" value="true"/>
        <nvpair id="opt-name" name="cluster-name" value="prod"/>
      </cluster_property_set>
    </crm_config>
    <nodes>
      <node id="node1" uname="node1"/>
      <node id="node2" uname="node2"/>
      <node id="node3" uname="node3"/>
    </nodes>
    <resources>
      <primitive id="fence_node2-bmc" class="stonith" type="fence_ironbeat"/>
      <clone id="db-clone">
        <meta_attributes id="db-clone-meta">
          <nvpair id="db-clone-promotable" name="promotable" value="true"/>
          <nvpair id="db-clone-max" name="clone-max" value="2"/>
        </meta_attributes>
        <primitive id="db" class="ocf" provider="pacemaker" type="Stateful">
          <operations>
            <op id="db-monitor-promoted" name="monitor" interval="10s" role="Promoted"/>
            <op id="db-monitor-unpromoted" name="monitor" interval="11s" role="Unpromoted"/>
          </operations>
        </primitive>
      </clone>
      <group id="web">
        <primitive id="vip" class="ocf" provider="heartbeat" type="IPaddr2"/>
        <primitive id="site" class="ocf" provider="heartbeat" type="apache"/>
      </group>
    </resources>
    <constraints>
      <rsc_location id="l1" rsc="db-clone" node="node1" score="50" role="Promoted"/>
      <rsc_location id="l3" rsc="db-clone" node="node1" score="10"/>
      <rsc_location id="l2" rsc="fence_node2-bmc" node="node2" score="-INFINITY"/>
      <rsc_colocation id="c1" rsc="web" with-rsc="db-clone" with-rsc-role="Promoted" score="INFINITY"/>
      <rsc_order id="o1" first="db-clone" first-action="promote" then="web" then-action="start"/>
    </constraints>
  </configuration>
  <status>
    <node_state id="node1" uname="node1" in_ccm="true" crmd="online" join="member" expected="member"/>
    <node_state id="node2" uname="node2" in_ccm="true" crmd="online" join="member" expected="member"/>
    <node_state id="node3" uname="node3" in_ccm="true" crmd="online" join="member" expected="member"/>
  </status>
</cib>
"#;

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("ib-crm-config-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn file(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn native(text: &str) -> Cluster {
    native_to_crm(text, Path::new("ironbeat.toml")).unwrap_or_else(|e| panic!("{e}"))
}

/// Node states as membership would report them: every node online, then
/// the changes asked for.
fn with_nodes(mut cluster: Cluster, offline: &[&str], standby: &[&str]) -> Cluster {
    for node in &mut cluster.nodes {
        node.online = !offline.contains(&node.name.as_str());
        node.standby = standby.contains(&node.name.as_str());
    }
    cluster
}

/// `(resource path, node)` for every running instance after the transition.
fn placed(cluster: &Cluster, transition: &Transition) -> BTreeSet<(String, String)> {
    simulate::placement_lines(cluster, transition)
        .iter()
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f[0] == "place" && f[3] != "-").then(|| (f[1].to_string(), f[3].to_string()))
        })
        .collect()
}

fn pairs(list: &[(&str, &str)]) -> BTreeSet<(String, String)> {
    list.iter()
        .map(|(r, n)| (r.to_string(), n.to_string()))
        .collect()
}

/// Whether the graph runs `before` ahead of `after` (a path of edges).
fn ordered(transition: &Transition, before: usize, after: usize) -> bool {
    let mut seen = vec![false; transition.actions.len()];
    let mut queue = VecDeque::from([before]);
    while let Some(a) = queue.pop_front() {
        if a == after {
            return true;
        }
        for &(from, to) in &transition.edges {
            if from == a && !seen[to] {
                seen[to] = true;
                queue.push_back(to);
            }
        }
    }
    false
}

fn start_of(cluster: &Cluster, transition: &Transition, id: &str) -> usize {
    let rid = cluster.resource_by_name(id).unwrap();
    transition
        .actions
        .iter()
        .position(|a| {
            matches!(a, Action::Resource { instance, task: Task::Start, .. }
                if instance.resource == rid)
        })
        .unwrap_or_else(|| panic!("no start of {id}"))
}

fn pseudo(transition: &Transition, resource: ResourceId, task: Task, done: bool) -> usize {
    transition
        .actions
        .iter()
        .position(|a| {
            *a == Action::Pseudo {
                resource,
                task,
                done,
            }
        })
        .unwrap_or_else(|| panic!("no pseudo action {resource:?} {task} {done}"))
}

#[test]
fn a_native_file_places_and_orders_as_its_constraints_say() {
    let cluster = with_nodes(native(NATIVE), &[], &[]);
    let t = policy::schedule(&cluster, NOW);
    assert_eq!(
        placed(&cluster, &t),
        pairs(&[
            ("web/vip", "node2"),
            ("web/site", "node2"),
            ("ping-clone/ping", "node1"),
            ("ping-clone/ping", "node2"),
            ("db", "node1"),
            ("backup", "node1"),
        ]),
        "{}",
        simulate::transition_summary(&cluster, &t)
    );
    // The group starts in member order, after the whole clone is up; the
    // backup job after the database.
    let clone = cluster.resource_by_name("ping-clone").unwrap();
    let web = cluster.resource_by_name("web").unwrap();
    let clone_running = pseudo(&t, clone, Task::Start, true);
    let web_start = pseudo(&t, web, Task::Start, false);
    assert!(ordered(&t, clone_running, web_start));
    assert!(ordered(
        &t,
        start_of(&cluster, &t, "vip"),
        start_of(&cluster, &t, "site")
    ));
    assert!(!ordered(
        &t,
        start_of(&cluster, &t, "site"),
        start_of(&cluster, &t, "vip")
    ));
    assert!(ordered(
        &t,
        start_of(&cluster, &t, "db"),
        start_of(&cluster, &t, "backup")
    ));
    // The monitor configured on vip is scheduled after its start.
    assert!(t.actions.iter().any(|a| matches!(a,
        Action::Monitor { instance, interval_ms: 10_000, .. }
            if instance.resource == cluster.resource_by_name("vip").unwrap())));

    // What if node2 is down: the clone has node1 only, so the web group
    // follows it there, and the database (never with the web group) and its
    // backup go to node3.
    let cluster = with_nodes(native(NATIVE), &["node2"], &[]);
    let t = policy::schedule(&cluster, NOW);
    assert_eq!(
        placed(&cluster, &t),
        pairs(&[
            ("web/vip", "node1"),
            ("web/site", "node1"),
            ("ping-clone/ping", "node1"),
            ("db", "node3"),
            ("backup", "node3"),
        ]),
        "{}",
        simulate::transition_summary(&cluster, &t)
    );
    // A node in standby runs nothing; the same outcome.
    let standby = with_nodes(native(NATIVE), &[], &["node2"]);
    let s = policy::schedule(&standby, NOW);
    assert_eq!(placed(&standby, &s), placed(&cluster, &t));
    // With node1 down as well nothing can run the web group (its clone
    // may not run on node3): it stays stopped, the database keeps node3.
    let cluster = with_nodes(native(NATIVE), &["node1", "node2"], &[]);
    let t = policy::schedule(&cluster, NOW);
    assert_eq!(
        placed(&cluster, &t),
        pairs(&[("db", "node3"), ("backup", "node3")])
    );
}

/// heartbeat's way of saying: two groups, node1 and node2 preferred,
/// `auto_failback off`.
const HARESOURCES: &str = "\
node1 IPaddr2::198.18.4.100/24/eth0 Filesystem::/dev/sdb1::/srv::ext4 apache
node2 198.18.4.101 mysql
";

const HA_CF: &str = "node node1\nnode node2\nbcast eth0\nauto_failback off\n";

/// The same in the native file: one [[group]] and one [[location]] (score
/// 100) per haresources line, heartbeat-class agents with numbered
/// parameters, stickiness INFINITY for `auto_failback off`, and heartbeat
/// v1's disregard of quorum.
const NATIVE_OF_HARESOURCES: &str = r#"
[cluster]
nodes = ["node1", "node2"]
no_quorum_policy = "ignore"

[[link]]
kind = "bcast"
iface = "eth0"

[resource_defaults]
stickiness = "INFINITY"

[[group]]
id = "group_1"
members = ["IPaddr2_198.18.4.100_24_eth0", "Filesystem__dev_sdb1", "apache"]

[[resource]]
id = "IPaddr2_198.18.4.100_24_eth0"
agent = "heartbeat:IPaddr2"
params = { 1 = "198.18.4.100/24/eth0" }

[[resource]]
id = "Filesystem__dev_sdb1"
agent = "heartbeat:Filesystem"
params = { 1 = "/dev/sdb1", 2 = "/srv", 3 = "ext4" }

[[resource]]
id = "apache"
agent = "heartbeat:apache"

[[group]]
id = "group_2"
members = ["IPaddr_198.18.4.101", "mysql"]

[[resource]]
id = "IPaddr_198.18.4.101"
agent = "heartbeat:IPaddr"
params = { 1 = "198.18.4.101" }

[[resource]]
id = "mysql"
agent = "heartbeat:mysql"

[[location]]
resource = "group_1"
node = "node1"
score = 100

[[location]]
resource = "group_2"
node = "node2"
score = 100
"#;

#[test]
fn a_native_file_and_the_haresources_it_replaces_simulate_alike() {
    let scratch = Scratch::new("haresources");
    scratch.file("ha.cf", HA_CF);
    scratch.file("haresources", HARESOURCES);
    let heartbeat = load_ha_d_crm(&scratch.0).unwrap();
    let ours = native(NATIVE_OF_HARESOURCES);
    for (offline, standby) in [
        (&[][..], &[][..]),
        (&["node1"][..], &[][..]),
        (&[][..], &["node2"][..]),
        (&["node1", "node2"][..], &[][..]),
    ] {
        let a = with_nodes(heartbeat.clone(), offline, standby);
        let b = with_nodes(ours.clone(), offline, standby);
        let (ta, tb) = (policy::schedule(&a, NOW), policy::schedule(&b, NOW));
        let sections = simulate::Sections {
            scores: true,
            execution_date: None,
        };
        let (text_a, text_b) = (
            simulate::simulation(&a, &ta, sections),
            simulate::simulation(&b, &tb, sections),
        );
        assert_eq!(
            text_a, text_b,
            "offline {offline:?}, standby {standby:?}\nharesources:\n{text_a}\nnative:\n{text_b}"
        );
        assert_eq!(
            simulate::placement_lines(&a, &ta),
            simulate::placement_lines(&b, &tb)
        );
    }
    // And the placement is heartbeat's: each group on its node.
    let b = with_nodes(ours, &[], &[]);
    let t = policy::schedule(&b, NOW);
    assert!(placed(&b, &t).contains(&("group_2/mysql".to_string(), "node2".to_string())));
    assert!(placed(&b, &t).contains(&("group_1/apache".to_string(), "node1".to_string())));
}

/// The sections crm_simulate and we both print, whitespace aside.
fn section(text: &str, start: &str) -> Vec<String> {
    let titles = [
        "Current cluster status:",
        "Allocation Scores:",
        "Transition Summary:",
        "Executing Cluster Transition:",
        "Revised Cluster Status:",
    ];
    let mut out = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        if line.starts_with(start) {
            inside = true;
        } else if inside && titles.iter().any(|t| line.starts_with(t)) {
            break;
        }
        if inside {
            let squeezed: String = line.chars().filter(|c| !c.is_whitespace()).collect();
            if !squeezed.is_empty() {
                out.push(squeezed);
            }
        }
    }
    out
}

/// `cib` with `down` cleanly shut down (out of the membership, expected
/// down), as `--offline` means.
fn cib_with_offline(cib: &str, down: &[&str]) -> String {
    let mut text = cib.to_string();
    for node in down {
        let online = format!(
            "<node_state id=\"{node}\" uname=\"{node}\" in_ccm=\"true\" crmd=\"online\" join=\"member\" expected=\"member\"/>"
        );
        let offline = format!(
            "<node_state id=\"{node}\" uname=\"{node}\" in_ccm=\"false\" crmd=\"offline\" join=\"down\" expected=\"down\"/>"
        );
        assert!(text.contains(&online), "{node}");
        text = text.replace(&online, &offline);
    }
    text
}

#[test]
fn a_native_file_schedules_like_the_equivalent_cib_and_like_pacemaker() {
    let crm_simulate = Path::new("/usr/sbin/crm_simulate");
    let scratch = Scratch::new("cib");
    let mut compared = 0;
    for (native_text, cib_text) in [(NATIVE, CIB), (NATIVE_PROMOTABLE, CIB_PROMOTABLE)] {
        for down in [&[][..], &["node1"][..]] {
            let from_native = with_nodes(native(native_text), down, &[]);
            let cib_text = cib_with_offline(cib_text, down);
            let document = cib::read_at(&cib_text, NOW).unwrap();
            assert!(document.unsupported.is_empty() && document.warnings.is_empty());
            let from_cib = document.cluster;
            let tn = policy::schedule(&from_native, NOW);
            let tc = policy::schedule(&from_cib, NOW);
            let sections = simulate::Sections {
                scores: true,
                execution_date: None,
            };
            let ours = simulate::simulation(&from_native, &tn, sections);
            assert_eq!(
                ours,
                simulate::simulation(&from_cib, &tc, sections),
                "down {down:?}; native:\n{ours}"
            );
            assert_eq!(
                simulate::placement_lines(&from_native, &tn),
                simulate::placement_lines(&from_cib, &tc)
            );

            // Pacemaker's scheduler on the CIB: the same summary and
            // placement as ours on the native file.
            if !crm_simulate.exists() {
                continue;
            }
            let file = scratch.file("cib.xml", &cib_text);
            let out = Command::new(crm_simulate)
                .arg("-x")
                .arg(&file)
                .arg("-S")
                .env("LC_ALL", "C")
                .output()
                .unwrap();
            assert!(out.status.success(), "{out:?}");
            let theirs = String::from_utf8_lossy(&out.stdout);
            for title in [
                "Current cluster status:",
                "Transition Summary:",
                "Revised Cluster Status:",
            ] {
                assert_eq!(
                    section(&ours, title),
                    section(&theirs, title),
                    "{title}, down {down:?}\nours (native file):\n{ours}\ncrm_simulate (CIB):\n{theirs}"
                );
            }
            compared += 1;
        }
    }
    if compared == 0 {
        eprintln!("crm_simulate not installed (pacemaker-cli-utils): comparison skipped");
    }
    // The promotable example does promote, and the group follows.
    let cluster = with_nodes(native(NATIVE_PROMOTABLE), &[], &[]);
    let t = policy::schedule(&cluster, NOW);
    let lines = simulate::placement_lines(&cluster, &t);
    assert!(
        lines.contains(&"place\tdb-clone/db\tPromoted\tnode1\t-".to_string()),
        "{lines:?}"
    );
    assert!(
        lines.contains(&"place\tweb/site\tStarted\tnode1\t-".to_string()),
        "{lines:?}"
    );
}

#[test]
fn resources_are_configured_in_one_place() {
    let scratch = Scratch::new("one-place");
    let config = scratch.file("ironbeat.toml", NATIVE);
    let ha_d = scratch.0.join("ha.d");
    std::fs::create_dir_all(&ha_d).unwrap();
    // No haresources (or one without lines): the native file is used.
    assert!(load_native_crm(&config, Some(&ha_d)).is_ok());
    std::fs::write(ha_d.join("haresources"), "# nothing here\n\n").unwrap();
    let cluster = load_native_crm(&config, Some(&ha_d)).unwrap();
    assert_eq!(cluster.resources.len(), native(NATIVE).resources.len());
    // Both: the error is at the native file's first resource table and
    // says which to keep.
    std::fs::write(
        ha_d.join("haresources"),
        "# groups\nnode1 IPaddr2::198.18.0.10\n",
    )
    .unwrap();
    let e = load_native_crm(&config, Some(&ha_d)).unwrap_err();
    assert_eq!(e.file(), Some(config.as_path()));
    assert_eq!(
        e.line(),
        Some(NATIVE.lines().position(|l| l == "[[resource]]").unwrap() + 1)
    );
    let m = e.to_string();
    assert!(
        m.contains("configured twice") && m.contains("haresources:2"),
        "{m}"
    );
    assert!(m.contains("keep one") && m.contains("--ha-d"), "{m}");
    // A native file without resources does not silently ignore them.
    let links_only = scratch.file(
        "links.toml",
        "[cluster]\nnodes = [\"node1\"]\n[[link]]\nkind = \"bcast\"\niface = \"eth0\"\n",
    );
    let e = load_native_crm(&links_only, Some(&ha_d)).unwrap_err();
    assert_eq!(e.line(), Some(2));
    assert!(e.to_string().contains("has none; keep one"), "{e}");
    // Without a heartbeat directory to check, the file alone counts.
    assert!(load_native_crm(&links_only, None)
        .unwrap()
        .resources
        .is_empty());
}

#[test]
fn crm_simulate_reads_the_native_file_and_the_heartbeat_directory() {
    let scratch = Scratch::new("cli");
    let config = scratch.file("ironbeat.toml", NATIVE);
    let config = config.to_str().unwrap();
    let now = NOW.to_string();

    // Every node online, nothing running: the library's simulation, printed.
    let out = simulate(&["--config", config, "--now", &now]);
    out.expect(OK);
    assert_eq!(out.stderr, "");
    let cluster = with_nodes(native(NATIVE), &[], &[]);
    let expected = simulate::simulation(
        &cluster,
        &policy::schedule(&cluster, NOW),
        simulate::Sections {
            scores: false,
            execution_date: None,
        },
    );
    assert_eq!(out.stdout, expected);
    assert!(
        section(&out.stdout, "Transition Summary:").contains(&"*Startvip(node2)".to_string()),
        "{}",
        out.stdout
    );

    // What if node2 is down and node3 in standby: everything on node1.
    let out = simulate(&[
        "--config",
        config,
        "--offline",
        "node2",
        "--standby",
        "node3",
        "--json",
        "--now",
        &now,
    ]);
    out.expect(OK);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let nodes: Vec<(String, bool, bool)> = v["current"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            (
                n["name"].as_str().unwrap().to_string(),
                n["online"].as_bool().unwrap(),
                n["standby"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        nodes,
        [
            ("node1".to_string(), true, false),
            ("node2".to_string(), false, false),
            ("node3".to_string(), true, true)
        ]
    );
    let running: BTreeSet<(String, String)> = v["revised"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["role"] == "Started")
        .map(|r| {
            (
                r["path"].as_str().unwrap().to_string(),
                r["node"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        running,
        pairs(&[
            ("web/vip", "node1"),
            ("web/site", "node1"),
            ("ping-clone/ping", "node1"),
        ]),
        "{}",
        out.stdout
    );
    assert_eq!(v["unsupported"], serde_json::json!([]));

    // The heartbeat directory: ha.cf's nodes, haresources' groups.
    let ha_d = scratch.0.join("ha.d");
    std::fs::create_dir_all(&ha_d).unwrap();
    std::fs::write(ha_d.join("ha.cf"), HA_CF).unwrap();
    std::fs::write(ha_d.join("haresources"), HARESOURCES).unwrap();
    let ha_d = ha_d.to_str().unwrap();
    let out = simulate(&["--ha-d", ha_d, "--offline", "node1", "--now", &now]);
    out.expect(OK);
    let summary = section(&out.stdout, "Transition Summary:");
    for line in ["*Startapache(node2)", "*Startmysql(node2)"] {
        assert!(summary.contains(&line.to_string()), "{}", out.stdout);
    }
    // The native file that says the same prints the same.
    let same = scratch.file("same.toml", NATIVE_OF_HARESOURCES);
    let native_out = simulate(&[
        "--config",
        same.to_str().unwrap(),
        "--offline",
        "node1",
        "--now",
        &now,
    ]);
    native_out.expect(OK);
    assert_eq!(native_out.stdout, out.stdout);
}

#[test]
fn crm_simulate_config_errors_and_exit_codes() {
    let scratch = Scratch::new("cli-errors");
    let config = scratch.file("ironbeat.toml", NATIVE);
    let config = config.to_str().unwrap();

    // A dangling reference: FILE:LINE, what exists, exit 3.
    let bad = scratch.file(
        "bad.toml",
        &NATIVE.replace(
            "members = [\"vip\", \"site\"]",
            "members = [\"vip\", \"stie\"]",
        ),
    );
    let bad = bad.to_str().unwrap();
    let out = simulate(&["--config", bad]);
    out.expect(CONFIG);
    let line = NATIVE
        .lines()
        .position(|l| l.starts_with("members ="))
        .unwrap()
        + 1;
    assert!(
        out.stderr
            .contains(&format!("{bad}:{line}: no resource `stie` for this group member (did you mean `site`?); resources are: vip, site, ping, db, backup, web, ping-clone")),
        "{}",
        out.stderr
    );
    assert_eq!(out.stdout, "");
    // A node the configuration does not have: a command-line mistake.
    let out = simulate(&["--config", config, "--offline", "node9"]);
    out.expect(USAGE);
    assert!(
        out.stderr.contains("--offline node9") && out.stderr.contains("node1, node2, node3"),
        "{}",
        out.stderr
    );
    // A missing file and directory are named.
    let out = simulate(&["--config", "/nonexistent/ironbeat.toml"]);
    assert_ne!(out.code, OK);
    assert!(
        out.stderr.contains("/nonexistent/ironbeat.toml"),
        "{}",
        out.stderr
    );
    let out = simulate(&["--ha-d", "/nonexistent/ha.d"]);
    assert_ne!(out.code, OK);
    assert!(
        out.stderr.contains("/nonexistent/ha.d/ha.cf"),
        "{}",
        out.stderr
    );
    // Command-line mistakes: exit 2.
    simulate(&[]).expect(USAGE);
    simulate(&["--config", config, "--xml", "/dev/null"]).expect(USAGE);
    simulate(&["--config", config, "--ha-d", "/tmp"]).expect(USAGE);
    let cib = scratch.file("cib.xml", CIB);
    let out = simulate(&["--xml", cib.to_str().unwrap(), "--offline", "node1"]);
    out.expect(USAGE);
    assert!(out.stderr.contains("--offline"), "{}", out.stderr);
}

#[test]
fn hostile_native_files_never_crash_the_command() {
    let scratch = Scratch::new("cli-hostile");
    let lines: Vec<&str> = NATIVE.lines().collect();
    let mut state = 0x5eed_1234_u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let names = [
        "vip",
        "site",
        "ping",
        "db",
        "backup",
        "web",
        "ping-clone",
        "node1",
        "nope",
    ];
    let mut codes = BTreeSet::new();
    for round in 0..80 {
        let mut text = String::new();
        // One or two lines changed in each file.
        let (a, b) = (next() as usize % lines.len(), next() as usize % lines.len());
        for (i, line) in lines.iter().enumerate() {
            if i != a && i != b {
                text.push_str(line);
                text.push('\n');
                continue;
            }
            let r = next();
            match r % 5 {
                0 => {}
                1 => {
                    text.push_str(line);
                    text.push('\n');
                    text.push_str(line);
                }
                2 if line.contains('"') => {
                    // Swap a quoted value for another name.
                    let name = names[(r >> 8) as usize % names.len()];
                    let (key, _) = line.split_once('=').unwrap_or((line, ""));
                    text.push_str(&format!("{key}= \"{name}\""));
                }
                3 => text.push_str(&line.replacen('=', "= [", 1)),
                _ => text.push_str(line),
            }
            text.push('\n');
        }
        let file = scratch.file("m.toml", &text);
        let out = simulate(&["--config", file.to_str().unwrap(), "--now", "0"]);
        assert!(
            (out.code == OK || out.code == CONFIG) && !out.stderr.contains("panicked"),
            "round {round}: exit {}\n{}\ninput:\n{text}",
            out.code,
            out.stderr
        );
        if out.code == CONFIG {
            assert!(
                out.stderr.contains(file.to_str().unwrap()),
                "{}",
                out.stderr
            );
        }
        codes.insert(out.code);
    }
    assert_eq!(codes.len(), 2, "both outcomes occur: {codes:?}");
}
