//! Unit tests on small CIB snippets, one rule each. Operation histories are
//! written like the ones in Pacemaker's regression inputs (several are
//! copied from them, as noted).

use super::*;
use crate::model::{
    Discovery, FenceAction, History, NoQuorumPolicy, OnFail, OrderKind, Requires, ResourceKind,
    Role, Task,
};
use crate::score::Score;

const UUID: &str = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";

fn cib(options: &str, nodes: &str, resources: &str, constraints: &str, status: &str) -> String {
    format!(
        r#"<cib crm_feature_set="3.16.1" have-quorum="1" dc-uuid="n1" epoch="1">
  <configuration>
    <crm_config><cluster_property_set id="cib-bootstrap-options">{options}</cluster_property_set></crm_config>
    <nodes>{nodes}</nodes>
    <resources>{resources}</resources>
    <constraints>{constraints}</constraints>
  </configuration>
  <status>{status}</status>
</cib>"#
    )
}

fn opt(name: &str, value: &str) -> String {
    format!(r#"<nvpair id="o-{name}" name="{name}" value="{value}"/>"#)
}

/// No fencing, quorum ignored: the usual regression-test preamble.
fn no_fencing() -> String {
    opt("stonith-enabled", "false") + &opt("no-quorum-policy", "ignore")
}

const TWO_NODES: &str = r#"<node id="n1" uname="node1"/><node id="n2" uname="node2"/>"#;

fn dummy(id: &str) -> String {
    format!(r#"<primitive id="{id}" class="ocf" provider="pacemaker" type="Dummy"/>"#)
}

/// An online node's state with `inner` (transient attributes, lrm).
fn online(id: &str, uname: &str, inner: &str) -> String {
    format!(
        r#"<node_state id="{id}" uname="{uname}" in_ccm="true" crmd="online" join="member" expected="member">{inner}</node_state>"#
    )
}

fn lrm(resources: &str) -> String {
    format!("<lrm><lrm_resources>{resources}</lrm_resources></lrm>")
}

fn lrm_resource(id: &str, ops: &str) -> String {
    format!(
        r#"<lrm_resource id="{id}" class="ocf" provider="pacemaker" type="Dummy">{ops}</lrm_resource>"#
    )
}

/// One `lrm_rsc_op`: task, interval, call id, rc, expected rc, op-status.
fn op(
    rsc: &str,
    task: &str,
    interval: u64,
    call: i64,
    rc: i64,
    target: i64,
    status: i64,
) -> String {
    format!(
        r#"<lrm_rsc_op id="{rsc}_{task}_{interval}_{call}" operation_key="{rsc}_{task}_{interval}" operation="{task}" transition-key="1:1:{target}:{UUID}" transition-magic="{status}:{rc};1:1:{target}:{UUID}" call-id="{call}" rc-code="{rc}" op-status="{status}" interval="{interval}" last-rc-change="1000{call}"/>"#
    )
}

fn transient(pairs: &[(&str, &str)]) -> String {
    let mut s = String::from(r#"<transient_attributes id="t"><instance_attributes id="ta">"#);
    for (i, (n, v)) in pairs.iter().enumerate() {
        s += &format!(r#"<nvpair id="ta-{i}" name="{n}" value="{v}"/>"#);
    }
    s + "</instance_attributes></transient_attributes>"
}

fn read_ok(xml: &str) -> Document {
    match read(xml) {
        Ok(d) => d,
        Err(e) => panic!("{e}"),
    }
}

fn rid(doc: &Document, id: &str) -> ResourceId {
    doc.cluster.resource_by_name(id).expect(id)
}

fn history<'d>(doc: &'d Document, rsc: &str, node: &str) -> &'d History {
    let r = rid(doc, rsc);
    let n = doc.cluster.node_by_name(node).expect(node);
    doc.cluster
        .history
        .iter()
        .find(|h| h.resource == r && h.node == n)
        .unwrap_or_else(|| panic!("no history for {rsc} on {node}"))
}

/// The history of one resource on node1 from a list of operations.
fn one_history(options: &str, ops: &str) -> (Document, History) {
    let status = online("n1", "node1", &lrm(&lrm_resource("r", ops))) + &online("n2", "node2", "");
    let doc = read_ok(&cib(options, TWO_NODES, &dummy("r"), "", &status));
    let h = history(&doc, "r", "node1").clone();
    (doc, h)
}

// ---- cluster options ----

#[test]
fn options_defaults_and_values() {
    let doc = read_ok(&cib("", TWO_NODES, "", "", ""));
    let o = &doc.cluster.options;
    assert!(o.stonith_enabled && o.symmetric_cluster && o.start_failure_is_fatal);
    assert_eq!(o.no_quorum_policy, NoQuorumPolicy::Stop);
    assert!(doc.cluster.have_quorum);
    assert_eq!(doc.cluster.dc, doc.cluster.node_by_name("node1"));

    let options = opt("stonith-enabled", "0")
        + &opt("symmetric-cluster", "off")
        + &opt("no-quorum-policy", "Freeze")
        + &opt("stonith-action", "poweroff")
        + &opt("cluster-name", "c1")
        + &opt("no_quorum-policy", "stop");
    let doc = read_ok(&cib(&options, TWO_NODES, "", "", ""));
    let o = &doc.cluster.options;
    assert!(!o.stonith_enabled && !o.symmetric_cluster);
    assert_eq!(o.no_quorum_policy, NoQuorumPolicy::Freeze);
    assert_eq!(o.stonith_action, FenceAction::Off);
    assert_eq!(o.other.get("cluster-name").map(String::as_str), Some("c1"));
    assert_eq!(
        o.other.get("no_quorum-policy").map(String::as_str),
        Some("stop")
    );
    assert!(doc
        .warnings
        .iter()
        .any(|w| w.what.contains("no_quorum-policy")));
    assert!(doc.unsupported.is_empty());
}

#[test]
fn property_sets_first_bootstrap_then_by_score() {
    // The set named cib-bootstrap-options wins; among others, the higher
    // score wins.
    let xml = r#"<cib><configuration><crm_config>
        <cluster_property_set id="low" score="1"><nvpair id="a" name="symmetric-cluster" value="false"/></cluster_property_set>
        <cluster_property_set id="high" score="10"><nvpair id="b" name="symmetric-cluster" value="true"/>
          <nvpair id="c" name="no-quorum-policy" value="freeze"/></cluster_property_set>
        <cluster_property_set id="cib-bootstrap-options"><nvpair id="d" name="no-quorum-policy" value="ignore"/></cluster_property_set>
      </crm_config><nodes/><resources/><constraints/></configuration></cib>"#;
    let doc = read_ok(xml);
    assert!(doc.cluster.options.symmetric_cluster);
    assert_eq!(doc.cluster.options.no_quorum_policy, NoQuorumPolicy::Ignore);
}

#[test]
fn bad_option_values_are_errors_with_location() {
    let xml = cib(&opt("stonith-enabled", "maybe"), TWO_NODES, "", "", "");
    let e = read(&xml).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    assert_eq!(e.element(), "nvpair");
    assert_eq!(e.id(), Some("o-stonith-enabled"));
    assert!(e.line().is_some());
    assert!(e.message().contains("boolean"), "{e}");
    let xml = cib(&opt("no-quorum-policy", "panic"), TWO_NODES, "", "", "");
    assert!(read(&xml).unwrap_err().message().contains("stop, freeze"));
}

#[test]
fn suicide_without_fencing_is_stop() {
    let options = opt("stonith-enabled", "false") + &opt("no-quorum-policy", "suicide");
    let doc = read_ok(&cib(&options, TWO_NODES, "", "", ""));
    assert_eq!(doc.cluster.options.no_quorum_policy, NoQuorumPolicy::Stop);
}

// ---- nodes ----

#[test]
fn node_attributes_score_and_standby() {
    let nodes = r#"<node id="n1" uname="node1" score="100">
          <instance_attributes id="n1-ia"><nvpair id="n1-sb" name="standby" value="on"/></instance_attributes></node>
        <node id="n2" uname="node2"><instance_attributes id="n2-ia"><nvpair id="n2-m" name="maintenance" value="true"/></instance_attributes></node>"#;
    let status = online("n1", "node1", "") + &online("n2", "node2", "");
    let doc = read_ok(&cib(&no_fencing(), nodes, "", "", &status));
    let n1 = &doc.cluster.nodes[0];
    assert_eq!(n1.score, Score::new(100));
    assert!(n1.standby && n1.online);
    assert_eq!(
        n1.attributes.get("#uname").map(String::as_str),
        Some("node1")
    );
    assert_eq!(
        n1.attributes.get("#is_dc").map(String::as_str),
        Some("true")
    );
    assert!(doc.cluster.nodes[1].maintenance);
    // A transient attribute overrides the configuration.
    let status = online("n1", "node1", &transient(&[("standby", "off")]));
    let doc = read_ok(&cib(&no_fencing(), nodes, "", "", &status));
    assert!(!doc.cluster.nodes[0].standby);
}

#[test]
fn unseen_nodes_are_unclean_with_startup_fencing() {
    let stonith = r#"<primitive id="fence" class="stonith" type="fence_dummy"/>"#;
    let status = online("n1", "node1", "");
    let doc = read_ok(&cib("", TWO_NODES, stonith, "", &status));
    assert!(!doc.cluster.nodes[0].unclean);
    assert!(doc.cluster.nodes[1].unclean && !doc.cluster.nodes[1].online);
    let doc = read_ok(&cib(
        &opt("startup-fencing", "false"),
        TWO_NODES,
        stonith,
        "",
        &status,
    ));
    assert!(!doc.cluster.nodes[1].unclean);
    let doc = read_ok(&cib(&no_fencing(), TWO_NODES, "", "", &status));
    assert!(!doc.cluster.nodes[1].unclean);
}

/// (in_ccm, crmd, join, expected, shutdown) → (online, unclean, pending)
/// with fencing, as `determine_online_status_fencing` decides.
#[test]
fn node_states_with_fencing() {
    let cases = [
        (
            "true",
            "online",
            "member",
            "member",
            "0",
            (true, false, false),
        ),
        (
            "false",
            "offline",
            "down",
            "down",
            "0",
            (false, false, false),
        ),
        (
            "false",
            "offline",
            "down",
            "member",
            "0",
            (false, true, false),
        ),
        (
            "true",
            "offline",
            "down",
            "member",
            "0",
            (true, true, false),
        ),
        (
            "true",
            "online",
            "pending",
            "member",
            "0",
            (true, false, true),
        ),
        ("true", "online", "member", "down", "0", (true, false, true)),
        (
            "true",
            "online",
            "banned",
            "member",
            "0",
            (true, true, false),
        ),
        (
            "true",
            "online",
            "member",
            "member",
            "1234",
            (true, false, false),
        ),
        (
            "true",
            "offline",
            "member",
            "member",
            "1234",
            (false, false, false),
        ),
    ];
    for (in_ccm, crmd, join, expected, shutdown, want) in cases {
        let state = format!(
            r#"<node_state id="n1" uname="node1" in_ccm="{in_ccm}" crmd="{crmd}" join="{join}" expected="{expected}">{}</node_state>"#,
            transient(&[("shutdown", shutdown)])
        );
        let doc = read_ok(&cib("", TWO_NODES, "", "", &state));
        let n = &doc.cluster.nodes[0];
        assert_eq!(
            (n.online, n.unclean, n.pending),
            want,
            "{in_ccm} {crmd} {join} {expected} {shutdown}"
        );
        assert_eq!(n.shutdown, shutdown != "0");
    }
    // No in_ccm at all: never seen by the cluster layer.
    let state = r#"<node_state id="n1" uname="node1" crmd="offline" join="down"/>"#;
    let doc = read_ok(&cib("", TWO_NODES, "", "", state));
    assert!(doc.cluster.nodes[0].unclean);
}

/// Why each node must be fenced, in Pacemaker's words, and the order the
/// status found them unclean (the order their fencing actions are made).
#[test]
fn unclean_nodes_carry_pacemakers_reason_in_status_order() {
    let nodes = r#"<node id="n1" uname="node1"/><node id="n2" uname="node2"/>
        <node id="n3" uname="node3"/><node id="n4" uname="node4"/><node id="n5" uname="node5"/>
        <node id="n6" uname="node6"/>"#;
    let running = |rsc: &str| {
        format!(
            r#"<lrm id="x"><lrm_resources><lrm_resource id="{rsc}" class="ocf" provider="pacemaker" type="Dummy">
            <lrm_rsc_op id="{rsc}_last_0" operation_key="{rsc}_start_0" operation="start" transition-key="1:1:0:x" transition-magic="0:0;1:1:0:x" call-id="1" rc-code="0" op-status="0" interval="0"/>
            </lrm_resource></lrm_resources></lrm>"#
        )
    };
    let state = format!(
        r#"<node_state id="n5" uname="node5" in_ccm="false" crmd="offline" join="down" expected="down">{}</node_state>
        <node_state id="n2" uname="node2" in_ccm="true" crmd="offline" join="down" expected="member"/>
        <node_state id="n1" uname="node1" in_ccm="false" crmd="offline" join="down" expected="member"/>
        <node_state id="n3" uname="node3" in_ccm="true" crmd="online" join="banned" expected="member"/>
        <node_state id="n4" uname="node4" crmd="offline" join="down"/>"#,
        running("r")
    );
    let doc = read_ok(&cib("", nodes, &dummy("r"), "", &state));
    let reason = |i: usize| doc.cluster.nodes[i].unclean_reason.as_deref();
    assert_eq!(reason(0), Some("peer is no longer part of the cluster"));
    assert_eq!(reason(1), Some("peer process is no longer available"));
    assert_eq!(reason(2), Some("peer failed Pacemaker membership criteria"));
    assert_eq!(reason(3), Some("peer has not been seen by the cluster"));
    // Down as expected, but a resource is active there.
    assert_eq!(reason(4), Some("r is thought to be active there"));
    // Never seen, fenced by startup-fencing: no reason of its own.
    assert!(doc.cluster.nodes[5].unclean);
    assert_eq!(reason(5), None);
    // Node states first (in status order), then the histories.
    let order: Vec<&str> = doc
        .cluster
        .unclean_order
        .iter()
        .map(|n| doc.cluster.nodes[n.0].name.as_str())
        .collect();
    assert_eq!(order, ["node2", "node1", "node3", "node4", "node5"]);
}

#[test]
fn node_states_without_fencing() {
    let cases = [
        ("true", "online", "member", "member", (true, false)),
        ("true", "online", "pending", "member", (false, false)),
        ("false", "offline", "down", "member", (false, false)),
        ("true", "offline", "down", "member", (false, true)),
        ("true", "offline", "down", "down", (false, false)),
    ];
    for (in_ccm, crmd, join, expected, want) in cases {
        let state = format!(
            r#"<node_state id="n1" uname="node1" in_ccm="{in_ccm}" crmd="{crmd}" join="{join}" expected="{expected}"/>"#
        );
        let doc = read_ok(&cib(&no_fencing(), TWO_NODES, "", "", &state));
        let n = &doc.cluster.nodes[0];
        assert_eq!(
            (n.online, n.unclean),
            want,
            "{in_ccm} {crmd} {join} {expected}"
        );
    }
}

#[test]
fn node_errors_and_unsupported_types() {
    let e = read(&cib("", r#"<node id="n1"/>"#, "", "", "")).unwrap_err();
    assert!(e.message().contains("uname"), "{e}");
    let e = read(&cib("", r#"<node uname="x"/>"#, "", "", "")).unwrap_err();
    assert!(e.message().contains("id"), "{e}");
    let nodes = r#"<node id="n1" uname="node1"/><node id="r1" uname="remote1" type="remote"/>"#;
    let doc = read_ok(&cib("", nodes, "", "", ""));
    assert_eq!(doc.cluster.nodes.len(), 1);
    assert_eq!(doc.unsupported[0].element_or_attribute, "node");
}

// ---- resources and meta attributes ----

#[test]
fn meta_defaults_parent_then_own() {
    let resources = r#"
      <group id="g">
        <meta_attributes id="g-m"><nvpair id="g-p" name="priority" value="5"/>
          <nvpair id="g-t" name="target-role" value="Stopped"/></meta_attributes>
        <primitive id="a" class="ocf" provider="heartbeat" type="IPaddr2">
          <meta_attributes id="a-m"><nvpair id="a-s" name="resource-stickiness" value="200"/></meta_attributes>
        </primitive>
        <primitive id="b" class="lsb" type="nginx"/>
      </group>"#;
    let defaults = r#"<rsc_defaults><meta_attributes id="d"><nvpair id="d-s" name="resource-stickiness" value="100"/>
        <nvpair id="d-p" name="priority" value="1"/><nvpair id="d-mt" name="migration-threshold" value="3"/></meta_attributes></rsc_defaults>"#;
    let xml = cib(&no_fencing(), TWO_NODES, resources, "", "")
        .replace("<constraints>", &format!("{defaults}<constraints>"));
    let doc = read_ok(&xml);
    let a = doc.cluster.resource(rid(&doc, "a"));
    let b = doc.cluster.resource(rid(&doc, "b"));
    assert_eq!(a.meta.stickiness, Some(Score::new(200)));
    assert_eq!(b.meta.stickiness, Some(Score::new(100)));
    assert_eq!((a.meta.priority, b.meta.priority), (5, 5));
    assert_eq!(a.meta.target_role, Some(Role::Stopped));
    assert_eq!(a.meta.migration_threshold, 3);
    assert_eq!(a.parent, Some(rid(&doc, "g")));
    let ResourceKind::Primitive(p) = &b.kind else {
        panic!()
    };
    assert_eq!(p.agent_spec(), "lsb:nginx");
    let ResourceKind::Group(g) = &doc.cluster.resource(rid(&doc, "g")).kind else {
        panic!()
    };
    assert_eq!(g.members, vec![rid(&doc, "a"), rid(&doc, "b")]);
    assert!(g.ordered && g.collocated);
    // Parents come before children.
    assert!(rid(&doc, "g") < rid(&doc, "a"));
}

#[test]
fn clones_and_promotable_clones() {
    let resources = r#"
      <clone id="c"><meta_attributes id="c-m"><nvpair id="c1" name="clone-max" value="3"/>
          <nvpair id="c2" name="clone-node-max" value="2"/><nvpair id="c3" name="interleave" value="true"/></meta_attributes>
        <primitive id="cp" class="ocf" provider="pacemaker" type="Dummy"/></clone>
      <master id="ms"><meta_attributes id="ms-m"><nvpair id="m1" name="master-max" value="2"/>
          <nvpair id="m2" name="master-node-max" value="1"/></meta_attributes>
        <primitive id="sp" class="ocf" provider="pacemaker" type="Stateful">
          <meta_attributes id="sp-m"><nvpair id="sp-t" name="target-role" value="Slave"/></meta_attributes></primitive></master>
      <clone id="pc"><meta_attributes id="pc-m"><nvpair id="p1" name="promotable" value="true"/>
          <nvpair id="p2" name="promoted-max" value="3"/><nvpair id="p3" name="resource-stickiness" value="0"/></meta_attributes>
        <group id="pg"><primitive id="pg1" class="ocf" provider="pacemaker" type="Stateful"/></group></clone>"#;
    let doc = read_ok(&cib(&no_fencing(), TWO_NODES, resources, "", ""));
    let kind = |id: &str| doc.cluster.resource(rid(&doc, id)).kind.clone();
    let ResourceKind::Clone(c) = kind("c") else {
        panic!()
    };
    assert_eq!(c.clone_max, Some(3));
    // Anonymous clones run one instance per node.
    assert_eq!(c.clone_node_max, 1);
    assert!(c.interleave && !c.promotable && !c.globally_unique);
    assert_eq!(c.child, rid(&doc, "cp"));
    // Clone instances are slightly sticky unless told otherwise.
    assert_eq!(
        doc.cluster.resource(rid(&doc, "cp")).meta.stickiness,
        Some(Score::new(1))
    );
    let ResourceKind::Clone(ms) = kind("ms") else {
        panic!()
    };
    assert!(ms.promotable);
    assert_eq!((ms.promoted_max, ms.promoted_node_max), (2, 1));
    assert_eq!(ms.clone_max, None);
    assert_eq!(
        doc.cluster.resource(rid(&doc, "sp")).meta.target_role,
        Some(Role::Unpromoted)
    );
    let ResourceKind::Clone(pc) = kind("pc") else {
        panic!()
    };
    assert!(pc.promotable);
    assert_eq!(pc.promoted_max, 3);
    assert_eq!(
        doc.cluster.resource(rid(&doc, "pg1")).meta.stickiness,
        Some(Score::ZERO)
    );
    assert!(doc
        .warnings
        .iter()
        .any(|w| w.what.contains("clone-node-max")));
}

#[test]
fn requires_defaults() {
    let resources = dummy("r") + r#"<primitive id="f" class="stonith" type="fence_dummy"/>"#;
    let req = |options: &str, id: &str| {
        let doc = read_ok(&cib(options, TWO_NODES, &resources, "", ""));
        doc.cluster.resource(rid(&doc, id)).meta.requires
    };
    assert_eq!(req("", "r"), Some(Requires::Fencing));
    assert_eq!(req("", "f"), Some(Requires::Quorum));
    assert_eq!(req(&no_fencing(), "r"), Some(Requires::Nothing));
    assert_eq!(
        req(&opt("stonith-enabled", "false"), "r"),
        Some(Requires::Quorum)
    );
}

#[test]
fn operations_intervals_roles_and_defaults() {
    let resources = r#"<primitive id="r" class="ocf" provider="pacemaker" type="Stateful">
        <operations>
          <op id="r-m1" name="monitor" interval="10s" role="Master" timeout="20s"/>
          <op id="r-m2" name="monitor" interval="PT1M" role="Slave" on-fail="fence"/>
          <op id="r-m3" name="monitor" interval="11" enabled="false" start-delay="1m"/>
          <op id="r-st" name="stop" interval="0" on-fail="standby"/>
          <op id="r-s" name="start" interval="0s">
            <meta_attributes id="r-s-m"><nvpair id="r-s-f" name="on-fail" value="block"/></meta_attributes></op>
        </operations></primitive>"#;
    let defaults = r#"<op_defaults><meta_attributes id="od"><nvpair id="od-t" name="timeout" value="90s"/></meta_attributes></op_defaults>"#;
    let xml = cib(&no_fencing(), TWO_NODES, resources, "", "")
        .replace("<constraints>", &format!("{defaults}<constraints>"));
    let doc = read_ok(&xml);
    let ResourceKind::Primitive(p) = &doc.cluster.resource(rid(&doc, "r")).kind else {
        panic!()
    };
    let ops = &p.operations;
    assert_eq!(ops.len(), 5);
    assert_eq!(
        (ops[0].interval_ms, ops[0].role, ops[0].timeout_ms),
        (10_000, Some(Role::Promoted), Some(20_000))
    );
    // on-fail=fence without fencing is stop.
    assert_eq!(
        (ops[1].interval_ms, ops[1].role, ops[1].on_fail),
        (60_000, Some(Role::Unpromoted), Some(OnFail::Stop))
    );
    assert_eq!(
        (ops[2].interval_ms, ops[2].enabled, ops[2].start_delay_ms),
        (11_000, false, 60_000)
    );
    assert_eq!(ops[2].timeout_ms, Some(90_000));
    // standby is not allowed for stop: the default applies.
    assert_eq!(ops[3].on_fail, None);
    assert_eq!(ops[4].on_fail, Some(OnFail::Block));
}

#[test]
fn resource_errors() {
    let bad = [
        (
            r#"<primitive id="r" class="ocf" type="Dummy"/>"#,
            "provider",
        ),
        (r#"<primitive id="r" provider="x" type="Dummy"/>"#, "class"),
        (r#"<primitive class="lsb" type="x"/>"#, "id"),
        (&(dummy("r") + &dummy("r")), "used twice"),
        (r#"<clone id="c"/>"#, "nothing to clone"),
        (
            r#"<group id="g"><group id="h"/></group>"#,
            "only primitives",
        ),
        (
            r#"<primitive id="r" class="ocf" provider="p" type="D"><operations><op id="o" name="monitor" interval="soon"/></operations></primitive>"#,
            "not a duration",
        ),
        (
            r#"<primitive id="r" class="ocf" provider="p" type="D"><operations><op id="o" name="monitor" interval="1" role="Boss"/></operations></primitive>"#,
            "not a role",
        ),
        (
            r#"<primitive id="r" class="ocf" provider="p" type="D"><meta_attributes id="m"><nvpair id="x" name="priority" value="high"/></meta_attributes></primitive>"#,
            "not a score",
        ),
        (
            r#"<master id="m"><primitive id="r" class="lsb" type="x"/></master>"#,
            "OCF",
        ),
    ];
    for (resources, want) in bad {
        let e = read(&cib("", TWO_NODES, resources, "", "")).unwrap_err();
        assert!(e.to_string().contains(want), "{resources}: {e}");
    }
}

#[test]
fn id_ref_on_nvpairs_and_sets() {
    // From the nvpair-id-ref regression test, plus a referenced set.
    let resources = r#"
      <primitive class="ocf" id="rsc1" provider="pacemaker" type="Dummy">
        <instance_attributes id="rsc1-instance_attributes">
          <nvpair id="rsc1-instance_attributes-fake" name="fake" value="common-value"/>
        </instance_attributes>
        <meta_attributes id="shared-meta"><nvpair id="sm" name="resource-stickiness" value="7"/></meta_attributes>
      </primitive>
      <primitive class="ocf" id="rsc2" provider="pacemaker" type="Dummy">
        <instance_attributes id="rsc2-instance_attributes">
          <nvpair id-ref="rsc1-instance_attributes-fake"/>
          <nvpair id-ref="rsc1-instance_attributes-fake" name="fake_fake"/>
          <nvpair id-ref="no-such-pair"/>
        </instance_attributes>
        <meta_attributes id-ref="shared-meta"/>
      </primitive>"#;
    let doc = read_ok(&cib(&no_fencing(), TWO_NODES, resources, "", ""));
    let r2 = doc.cluster.resource(rid(&doc, "rsc2"));
    let ResourceKind::Primitive(p) = &r2.kind else {
        panic!()
    };
    assert_eq!(
        p.parameters.get("fake").map(String::as_str),
        Some("common-value")
    );
    assert_eq!(
        p.parameters.get("fake_fake").map(String::as_str),
        Some("common-value")
    );
    assert_eq!(r2.meta.stickiness, Some(Score::new(7)));
    assert!(doc.warnings.iter().any(|w| w.what.contains("no-such-pair")));
}

#[test]
fn default_value_removes_an_attribute() {
    let resources = r##"<primitive id="r" class="ocf" provider="p" type="D">
        <meta_attributes id="m1" score="2"><nvpair id="a" name="resource-stickiness" value="5"/></meta_attributes>
        <meta_attributes id="m2" score="1"><nvpair id="b" name="resource-stickiness" value="#default"/></meta_attributes>
      </primitive>"##;
    let doc = read_ok(&cib(&no_fencing(), TWO_NODES, resources, "", ""));
    assert_eq!(doc.cluster.resource(rid(&doc, "r")).meta.stickiness, None);
}

#[test]
fn unsupported_features_are_reported_and_the_rest_reads() {
    let resources = r#"
      <template id="t" class="ocf" provider="p" type="D"/>
      <primitive id="uses-t" template="t"/>
      <bundle id="b"><docker image="x"/></bundle>
      <primitive id="m" class="ocf" provider="p" type="D">
        <meta_attributes id="mm"><nvpair id="am" name="allow-migrate" value="true"/></meta_attributes>
        <utilization id="u"><nvpair id="u1" name="cpu" value="2"/></utilization></primitive>
      <primitive id="ok" class="ocf" provider="p" type="D"/>"#;
    let constraints = r#"
      <rsc_ticket id="tk" rsc="ok" ticket="T"/>
      <rsc_order id="set"><resource_set id="s"><resource_ref id="ok"/></resource_set></rsc_order>
      <rsc_location id="date" rsc="ok"><rule id="dr" score="10"><date_expression id="de" operation="gt" start="2020-01-01"/></rule></rsc_location>
      <rsc_location id="good" rsc="ok" node="node1" score="5"/>"#;
    let xml = cib(&no_fencing(), TWO_NODES, resources, constraints, "").replace(
        "</configuration>",
        r#"<fencing-topology><fencing-level id="fl" target="node1" index="1" devices="f"/></fencing-topology></configuration>"#,
    );
    let doc = read_ok(&xml);
    let reported: Vec<&str> = doc
        .unsupported
        .iter()
        .map(|u| u.element_or_attribute.as_str())
        .collect();
    for want in [
        "template",
        "bundle",
        "allow-migrate",
        "utilization",
        "rsc_ticket",
        "resource_set",
        "date_expression",
        "fencing-topology",
    ] {
        assert!(reported.contains(&want), "{want} not in {reported:?}");
    }
    assert!(doc.cluster.resource_by_name("ok").is_some());
    assert!(doc.cluster.resource_by_name("uses-t").is_none());
    assert_eq!(doc.cluster.locations.len(), 1);
    assert_eq!(doc.cluster.locations[0].id, "good");
}

// ---- constraints ----

fn three_nodes() -> &'static str {
    r#"<node id="n1" uname="node1"/><node id="n2" uname="node2"/><node id="n3" uname="node3"/>"#
}

fn scores(doc: &Document, i: usize) -> Vec<(String, Score)> {
    doc.cluster.locations[i]
        .scores
        .iter()
        .map(|(n, s)| (doc.cluster.node(*n).name.clone(), *s))
        .collect()
}

#[test]
fn location_node_score_role_and_discovery() {
    let constraints = r#"
      <rsc_location id="l1" rsc="r" node="node2" score="-INFINITY" resource-discovery="never"/>
      <rsc_location id="l2" rsc="r" node="NODE1" score="+INFINITY" role="Master"/>
      <rsc_location id="l3" rsc="r" node="node3" score="10" role="Slave"/>
      <rsc_location id="l4" rsc="r" node="node9" score="10"/>
      <rsc_location id="l5" rsc="n2" node="node1" score="10"/>"#;
    let doc = read_ok(&cib(
        &no_fencing(),
        three_nodes(),
        &dummy("r"),
        constraints,
        "",
    ));
    let l = &doc.cluster.locations;
    assert_eq!(l.len(), 3);
    assert_eq!(
        scores(&doc, 0),
        vec![("node2".to_string(), Score::MINUS_INFINITY)]
    );
    assert_eq!(l[0].discovery, Discovery::Never);
    assert_eq!(l[1].role, Some(Role::Promoted));
    assert_eq!(
        scores(&doc, 1),
        vec![("node1".to_string(), Score::INFINITY)]
    );
    assert_eq!(l[2].role, None);
    // node9 is no node, n2 is a <node>, not a resource: both ignored.
    assert_eq!(doc.warnings.len(), 2, "{:?}", doc.warnings);
    assert!(doc.warnings[0]
        .what
        .contains("node=\"node9\" names no node"));
    assert!(doc.warnings[1]
        .what
        .contains("names a <node>, not a resource"));
    assert_eq!(doc.warnings[1].id.as_deref(), Some("l5"));
    // An id nothing has: Pacemaker's schema rejects the CIB.
    let constraints = r#"<rsc_location id="l6" rsc="missing" node="node1" score="10"/>"#;
    let e = read(&cib(
        &no_fencing(),
        three_nodes(),
        &dummy("r"),
        constraints,
        "",
    ))
    .unwrap_err();
    assert_eq!((e.element(), e.id()), ("rsc_location", Some("l6")));
    assert!(e.line().is_some());
    assert!(e.message().contains("rsc=\"missing\" names nothing"), "{e}");
}

#[test]
fn location_rules_on_uname() {
    let constraints = r##"
      <rsc_location id="eq" rsc="r"><rule id="eq-r" score="100">
        <expression id="e1" attribute="#uname" operation="eq" value="node2"/></rule></rsc_location>
      <rsc_location id="ne" rsc="r"><rule id="ne-r" score="-50" boolean-op="and">
        <expression id="e2" attribute="#uname" operation="ne" value="node1"/>
        <expression id="e3" attribute="#uname" operation="ne" value="node2"/></rule></rsc_location>
      <rsc_location id="or" rsc="r"><rule id="or-r" score="7" boolean-op="or">
        <expression id="e4" attribute="#uname" operation="eq" value="node1"/>
        <expression id="e5" attribute="#uname" operation="eq" value="node3"/></rule></rsc_location>
      <rsc_location id="def" rsc="r"><rule id="def-r" score="1" role="Promoted">
        <expression id="e6" attribute="#uname" operation="defined"/></rule></rsc_location>
      <rsc_location id="none" rsc="r"><rule id="none-r" score="1">
        <expression id="e7" attribute="#uname" operation="not_defined"/></rule></rsc_location>"##;
    let nodes = r#"<node id="n1" uname="node1" score="3"/><node id="n2" uname="node2"/><node id="n3" uname="node3"/>"#;
    let status = online("n1", "node1", "") + &online("n2", "node2", "");
    let doc = read_ok(&cib(
        &no_fencing(),
        nodes,
        &dummy("r"),
        constraints,
        &status,
    ));
    let l = &doc.cluster.locations;
    assert_eq!(l.len(), 4, "a rule matching no node makes no location");
    assert_eq!(l[0].id, "eq-r");
    assert_eq!(
        scores(&doc, 0),
        vec![("node2".to_string(), Score::new(100))]
    );
    assert_eq!(
        scores(&doc, 1),
        vec![("node3".to_string(), Score::new(-50))]
    );
    // `or` adds the node's weight: its score when online, -INFINITY when
    // its state says it is offline (node3 has no state: its score).
    assert_eq!(
        scores(&doc, 2),
        vec![
            ("node1".to_string(), Score::new(10)),
            ("node3".to_string(), Score::new(7))
        ]
    );
    assert_eq!(l[3].role, Some(Role::Promoted));
    assert_eq!(scores(&doc, 3).len(), 3);
    assert!(doc.unsupported.is_empty());
}

#[test]
fn location_rule_on_other_attributes_is_reported_but_evaluated() {
    let nodes = r#"<node id="n1" uname="node1"><instance_attributes id="a"><nvpair id="a1" name="rack" value="2"/></instance_attributes></node>
                   <node id="n2" uname="node2"/>"#;
    let constraints = r#"<rsc_location id="l" rsc="r"><rule id="lr" score="5">
        <expression id="e" attribute="rack" operation="gte" value="2"/></rule></rsc_location>"#;
    let doc = read_ok(&cib(&no_fencing(), nodes, &dummy("r"), constraints, ""));
    assert_eq!(scores(&doc, 0), vec![("node1".to_string(), Score::new(5))]);
    assert_eq!(doc.unsupported[0].element_or_attribute, "rack");
}

#[test]
fn location_rsc_pattern() {
    let resources = dummy("web-1") + &dummy("web-2") + &dummy("db-1");
    let constraints = r#"
      <rsc_location id="p" rsc-pattern="^web-[0-9]+$" node="node1" score="20"/>
      <rsc_location id="np" rsc-pattern="!^web" node="node2" score="30"/>"#;
    let doc = read_ok(&cib(&no_fencing(), TWO_NODES, &resources, constraints, ""));
    let named: Vec<(String, String)> = doc
        .cluster
        .locations
        .iter()
        .map(|l| (l.id.clone(), doc.cluster.resource(l.resource).id.clone()))
        .collect();
    assert_eq!(
        named,
        vec![
            ("p".to_string(), "web-1".to_string()),
            ("p".to_string(), "web-2".to_string()),
            ("np".to_string(), "db-1".to_string())
        ]
    );
    let bad = r#"<rsc_location id="p" rsc-pattern="(" node="node1" score="20"/>"#;
    let e = read(&cib(&no_fencing(), TWO_NODES, &resources, bad, "")).unwrap_err();
    assert!(e.message().contains("regular expression"), "{e}");
}

#[test]
fn colocation_roles_influence_and_score() {
    let resources = dummy("a")
        + r#"<primitive id="b" class="ocf" provider="p" type="D"><meta_attributes id="bm"><nvpair id="bc" name="critical" value="false"/></meta_attributes></primitive>"#
        + r#"<master id="ms"><primitive id="s" class="ocf" provider="p" type="S"/></master>"#;
    let constraints = r#"
      <rsc_colocation id="c1" rsc="a" with-rsc="ms" with-rsc-role="Master" score="INFINITY"/>
      <rsc_colocation id="c2" rsc="b" with-rsc="a" rsc-role="Started" score="-10"/>
      <rsc_colocation id="c3" rsc="a" with-rsc="b" score="0"/>
      <rsc_colocation id="c4" rsc="ms" with-rsc="a" rsc-role="Slave" score="5" influence="false"/>
      <rsc_colocation id="c5" rsc="a" with-rsc="bm" score="5"/>"#;
    let doc = read_ok(&cib(&no_fencing(), TWO_NODES, &resources, constraints, ""));
    let c = &doc.cluster.colocations;
    assert_eq!(c.len(), 3);
    assert_eq!(
        (c[0].primary_role, c[0].dependent_role),
        (Some(Role::Promoted), None)
    );
    assert!(c[0].influence);
    assert_eq!(c[1].score, Score::new(-10));
    assert!(
        !c[1].influence,
        "influence defaults to the dependent's critical"
    );
    assert_eq!(
        (c[2].dependent_role, c[2].influence),
        (Some(Role::Unpromoted), false)
    );
    assert_eq!(doc.warnings.len(), 1);
    // No score is score 0 (the schema allows it): ignored, with a warning;
    // an invalid influence falls back to the default (colocation-influence).
    let constraints = r#"<rsc_colocation id="x" rsc="a" with-rsc="b"/>
        <rsc_colocation id="y" rsc="a" with-rsc="b" score="10" influence="invalid"/>"#;
    let doc = read_ok(&cib("", TWO_NODES, &resources, constraints, ""));
    assert_eq!(doc.cluster.colocations.len(), 1);
    assert!(doc.cluster.colocations[0].influence);
    assert_eq!(doc.warnings.len(), 2);
}

#[test]
fn order_kinds_actions_and_symmetry() {
    let resources = dummy("a") + &dummy("b");
    let constraints = r#"
      <rsc_order id="o1" first="a" then="b"/>
      <rsc_order id="o2" first="a" then="b" score="0" first-action="promote"/>
      <rsc_order id="o3" first="a" then="b" kind="Serialize"/>
      <rsc_order id="o4" first="a" then="b" kind="foo" then-action="stop" symmetrical="false" require-all="false"/>
      <rsc_order id="o5" first="a" then="b" kind="Optional" symmetrical="true"/>"#;
    let doc = read_ok(&cib(&no_fencing(), TWO_NODES, &resources, constraints, ""));
    let o = &doc.cluster.orders;
    assert_eq!(
        (o[0].kind, o[0].first_action, o[0].then_action),
        (OrderKind::Mandatory, Task::Start, Task::Start)
    );
    assert!(o[0].symmetrical && o[0].require_all);
    assert_eq!(
        (o[1].kind, o[1].first_action, o[1].then_action),
        (OrderKind::Optional, Task::Promote, Task::Promote)
    );
    assert_eq!((o[2].kind, o[2].symmetrical), (OrderKind::Serialize, false));
    assert_eq!(
        (
            o[3].kind,
            o[3].then_action,
            o[3].symmetrical,
            o[3].require_all
        ),
        (OrderKind::Mandatory, Task::Stop, false, false)
    );
    assert!(doc.warnings.iter().any(|w| w.what.contains("kind `foo`")));
    assert!(o[4].symmetrical);
    let bad = r#"<rsc_order id="x" first="a" then="b" first-action="reload"/>"#;
    assert!(read(&cib("", TWO_NODES, &resources, bad, "")).is_err());
}

#[test]
fn constraints_on_cloned_resources() {
    let resources =
        r#"<clone id="c"><primitive id="p" class="ocf" provider="p" type="D"/></clone>"#;
    let constraints = r#"<rsc_location id="l" rsc="p" node="node1" score="5"/>
                         <rsc_location id="i" rsc="p:1" node="node1" score="5"/>"#;
    // Without history naming `p`, Pacemaker does not find it.
    let doc = read_ok(&cib(&no_fencing(), TWO_NODES, resources, constraints, ""));
    assert!(doc.cluster.locations.is_empty());
    assert!(doc.warnings[0].what.contains("inside the clone"));
    assert_eq!(doc.unsupported[0].element_or_attribute, "rsc");
    // With it, the constraint applies to the clone.
    let status = online(
        "n1",
        "node1",
        &lrm(&lrm_resource("p", &op("p", "start", 0, 2, 0, 0, 0))),
    );
    let doc = read_ok(&cib(
        &no_fencing(),
        TWO_NODES,
        resources,
        constraints,
        &status,
    ));
    assert_eq!(doc.cluster.locations[0].resource, rid(&doc, "c"));
}

// ---- resource history ----

#[test]
fn history_start_then_monitor() {
    let (_, h) = one_history(
        &no_fencing(),
        &(op("r", "monitor", 0, 1, 7, 7, 0)
            + &op("r", "start", 0, 2, 0, 0, 0)
            + &op("r", "monitor", 10000, 3, 0, 0, 0)),
    );
    assert_eq!((h.role, h.failed, h.on_fail), (Role::Started, false, None));
    assert_eq!(h.instance, None);
}

#[test]
fn history_ordered_by_call_id_not_document_order() {
    // The stop (call 5) is newer than the start (call 4) written after it.
    let (_, h) = one_history(
        &no_fencing(),
        &(op("r", "stop", 0, 5, 0, 0, 0) + &op("r", "start", 0, 4, 0, 0, 0)),
    );
    assert_eq!(h.role, Role::Stopped);
}

#[test]
fn history_probe_results() {
    let probe = |rc: i64| one_history(&no_fencing(), &op("r", "monitor", 0, 1, rc, 7, 0)).1;
    assert_eq!((probe(7).role, probe(7).failed), (Role::Stopped, false));
    // A probe that finds it running is not a failure.
    assert_eq!((probe(0).role, probe(0).failed), (Role::Started, false));
    assert_eq!(probe(8).role, Role::Promoted);
    // rc 1 from a probe: running and failed.
    assert_eq!(
        (probe(1).role, probe(1).failed, probe(1).on_fail),
        (Role::Started, true, Some(OnFail::Restart))
    );
}

#[test]
fn history_masked_probe_failure_bans_the_node() {
    // From failed-probe-primitive: rc 5 (not installed) on a probe.
    let (doc, h) = one_history(&no_fencing(), &op("r", "monitor", 0, 5, 5, 7, 0));
    assert_eq!((h.role, h.failed), (Role::Stopped, false));
    let n1 = doc.cluster.node_by_name("node1");
    assert_eq!(doc.cluster.history_bans.len(), 1);
    assert_eq!(doc.cluster.history_bans[0].node, n1);
    // rc 4 (insufficient privileges) on a probe is a hard error: failed.
    let (doc, h) = one_history(&no_fencing(), &op("r", "monitor", 0, 9, 4, 7, 0));
    assert!(h.failed && h.role == Role::Started);
    assert_eq!(doc.cluster.history_bans[0].node, n1);
}

#[test]
fn history_monitor_failure_and_recovery_by_stop() {
    // From group9: a failed monitor leaves it running and failed.
    let failed = op("r", "start", 0, 2, 0, 0, 0) + &op("r", "monitor", 10000, 3, 7, 0, 0);
    let (_, h) = one_history(&no_fencing(), &failed);
    // "Not running" when running was expected is a failure to recover.
    assert_eq!(
        (h.role, h.failed, h.on_fail),
        (Role::Started, true, Some(OnFail::Restart))
    );
    let failed = op("r", "start", 0, 2, 0, 0, 0) + &op("r", "monitor", 10000, 3, 1, 0, 0);
    let (_, h) = one_history(&no_fencing(), &failed);
    assert_eq!(
        (h.role, h.failed, h.on_fail),
        (Role::Started, true, Some(OnFail::Restart))
    );
    // A stop after the failure clears it.
    let stopped = failed + &op("r", "stop", 0, 4, 0, 0, 0);
    let (_, h) = one_history(&no_fencing(), &stopped);
    assert_eq!((h.role, h.failed, h.on_fail), (Role::Stopped, false, None));
}

#[test]
fn history_failed_start_fail_count() {
    let ops = op("r", "start", 0, 2, 1, 0, 0);
    let status = online(
        "n1",
        "node1",
        &(transient(&[
            ("fail-count-r#start_0", "INFINITY"),
            ("last-failure-r#start_0", "1700000000"),
        ]) + &lrm(&lrm_resource("r", &ops))),
    );
    let doc = read_ok(&cib(&no_fencing(), TWO_NODES, &dummy("r"), "", &status));
    let h = history(&doc, "r", "node1");
    assert_eq!((h.role, h.failed), (Role::Started, true));
    assert_eq!(h.fail_count, 1_000_000);
    assert_eq!(h.last_failure, Some(1_700_000_000));
}

#[test]
fn fail_counts_per_operation_and_legacy() {
    let attrs = transient(&[
        ("fail-count-r#monitor_10000", "2"),
        ("fail-count-r#start_0", "1"),
        ("fail-count-r", "5"),
        ("fail-count-rr#start_0", "9"),
    ]);
    let status = online("n1", "node1", &attrs);
    let doc = read_ok(&cib(&no_fencing(), TWO_NODES, &dummy("r"), "", &status));
    // No lrm history: a Stopped entry carries the count.
    let h = history(&doc, "r", "node1");
    assert_eq!((h.fail_count, h.role), (3, Role::Stopped));
    // Before feature set 3.0.13 only the per-resource name counts.
    let legacy = cib(&no_fencing(), TWO_NODES, &dummy("r"), "", &status)
        .replace(r#"crm_feature_set="3.16.1""#, r#"crm_feature_set="3.0.7""#);
    let doc = read_ok(&legacy);
    assert_eq!(history(&doc, "r", "node1").fail_count, 5);
}

#[test]
fn history_degraded_results_are_remapped() {
    // ocf_degraded-remap-ocf_ok: 190 from a monitor is success.
    let ops = op("r", "start", 0, 2, 0, 0, 0) + &op("r", "monitor", 10000, 3, 190, 0, 0);
    let (_, h) = one_history(&no_fencing(), &ops);
    assert_eq!((h.role, h.failed), (Role::Started, false));
    // ocf_degraded_promoted-remap-ocf_ok: 191 is "running promoted".
    let ops = op("r", "promote", 0, 4, 0, 0, 0) + &op("r", "monitor", 10000, 5, 191, 8, 0);
    let (_, h) = one_history(&no_fencing(), &ops);
    assert_eq!((h.role, h.failed), (Role::Promoted, false));
    // 9 (failed promoted) is a failure in the promoted role.
    let ops = op("r", "promote", 0, 4, 0, 0, 0) + &op("r", "monitor", 10000, 5, 9, 8, 0);
    let (_, h) = one_history(&no_fencing(), &ops);
    assert_eq!((h.role, h.failed), (Role::Promoted, true));
}

#[test]
fn history_pending_operations() {
    let (_, h) = one_history(&no_fencing(), &op("r", "start", 0, -1, 193, 0, -1));
    assert_eq!((h.role, h.pending), (Role::Started, Some(Task::Start)));
    let ops = op("r", "start", 0, 2, 0, 0, 0) + &op("r", "stop", 0, -1, 193, 0, -1);
    let (_, h) = one_history(&no_fencing(), &ops);
    assert_eq!((h.role, h.pending), (Role::Started, Some(Task::Stop)));
}

#[test]
fn history_failed_promote_caps_the_role() {
    let ops = op("r", "start", 0, 2, 0, 0, 0) + &op("r", "promote", 0, 3, 1, 0, 0);
    let (_, h) = one_history(&no_fencing(), &ops);
    assert_eq!(
        (h.role, h.failed, h.next_role),
        (Role::Promoted, true, Some(Role::Unpromoted))
    );
}

/// A primitive `r` with `op` configured.
fn with_op(op_xml: &str) -> String {
    format!(
        r#"<primitive id="r" class="ocf" provider="pacemaker" type="Dummy"><operations>{op_xml}</operations></primitive>"#
    )
}

fn history_with(options: &str, resources: &str, ops: &str) -> (Document, History) {
    let status = online("n1", "node1", &lrm(&lrm_resource("r", ops))) + &online("n2", "node2", "");
    let doc = read_ok(&cib(options, TWO_NODES, resources, "", &status));
    let h = history(&doc, "r", "node1").clone();
    (doc, h)
}

#[test]
fn history_on_fail_from_the_configured_operation() {
    let failed = op("r", "start", 0, 2, 0, 0, 0) + &op("r", "monitor", 10000, 3, 1, 0, 0);
    let cases = [
        ("block", Some(OnFail::Block), true),
        ("ignore", None, false),
        ("stop", Some(OnFail::Stop), true),
        ("standby", Some(OnFail::Standby), true),
    ];
    for (on_fail, want, failed_flag) in cases {
        let resources = with_op(&format!(
            r#"<op id="m" name="monitor" interval="10s" on-fail="{on_fail}"/>"#
        ));
        let (doc, h) = history_with(&no_fencing(), &resources, &failed);
        assert_eq!((h.on_fail, h.failed), (want, failed_flag), "{on_fail}");
        match on_fail {
            "ignore" => assert!(h.failure_ignored),
            "stop" => {
                assert_eq!(h.next_role, Some(Role::Stopped));
                assert!(doc.cluster.history_bans.iter().any(|b| b.node.is_none()));
            }
            "standby" => {
                let n = &doc.cluster.nodes[0];
                assert!(n.standby && n.standby_onfail);
            }
            _ => {}
        }
    }
}

#[test]
fn history_failed_stop_fences_or_blocks() {
    let failed_stop = op("r", "start", 0, 2, 0, 0, 0) + &op("r", "stop", 0, 3, 1, 0, 0);
    // Without fencing: the default on-fail for stop is block.
    let (doc, h) = history_with(&no_fencing(), &dummy("r"), &failed_stop);
    assert_eq!(
        (h.role, h.failed, h.on_fail),
        (Role::Started, true, Some(OnFail::Block))
    );
    assert_eq!(doc.cluster.history_bans.len(), 1);
    // With fencing and a device: the node is fenced.
    let resources = dummy("r") + r#"<primitive id="f" class="stonith" type="fence_dummy"/>"#;
    let (doc, h) = history_with("", &resources, &failed_stop);
    assert_eq!((h.failed, h.on_fail), (true, Some(OnFail::Fence)));
    assert!(doc.cluster.nodes[0].unclean);
    // With fencing but no device, the stop cannot be recovered: blocked.
    let (_, h) = history_with(
        "",
        &dummy("r"),
        &(op("r", "start", 0, 2, 0, 0, 0) + &op("r", "stop", 0, 3, 5, 0, 0)),
    );
    assert_eq!(h.on_fail, Some(OnFail::Block));
}

#[test]
fn history_failure_timeout_expiry() {
    let resources = r#"<primitive id="r" class="ocf" provider="pacemaker" type="Dummy">
        <meta_attributes id="m"><nvpair id="ft" name="failure-timeout" value="60s"/></meta_attributes></primitive>"#;
    let ops = op("r", "start", 0, 2, 1, 0, 0); // last-rc-change 10002
    let status = online(
        "n1",
        "node1",
        &(transient(&[
            ("fail-count-r#start_0", "1"),
            ("last-failure-r#start_0", "10002"),
        ]) + &lrm(&lrm_resource("r", &ops))),
    );
    let xml = cib(&no_fencing(), TWO_NODES, resources, "", &status);
    // Long after the failure: it is ignored.
    let doc = read_at(&xml, 20_000).unwrap();
    let h = history(&doc, "r", "node1");
    assert_eq!((h.failed, h.role), (false, Role::Stopped));
    assert_eq!(doc.now, Some(20_000));
    // Just after it: it counts.
    let doc = read_at(&xml, 10_010).unwrap();
    assert!(history(&doc, "r", "node1").failed);
    // The CIB's execution-date is the time when none is given.
    let dated = xml.replace("<cib ", r#"<cib execution-date="10010" "#);
    let doc = read_ok(&dated);
    assert!(history(&doc, "r", "node1").failed);
    assert_eq!(doc.now, Some(10_010));
    // Without either, every failure is old.
    assert!(!history(&read_ok(&xml), "r", "node1").failed);
}

#[test]
fn offline_history_is_ignored_without_fencing() {
    let ops = op("r", "start", 0, 2, 0, 0, 0);
    let status = format!(
        r#"<node_state id="n1" uname="node1" in_ccm="false" crmd="offline" join="down" expected="down">{}</node_state>"#,
        lrm(&lrm_resource("r", &ops))
    );
    let doc = read_ok(&cib(&no_fencing(), TWO_NODES, &dummy("r"), "", &status));
    assert!(doc.cluster.history.is_empty());
    // With fencing, a resource thought active on an offline node makes
    // it unclean.
    let resources = dummy("r") + r#"<primitive id="f" class="stonith" type="fence_dummy"/>"#;
    let status = status.replace("expected=\"down\"", "expected=\"member\"");
    let doc = read_ok(&cib("", TWO_NODES, &resources, "", &status));
    assert_eq!(history(&doc, "r", "node1").role, Role::Started);
    assert!(doc.cluster.nodes[0].unclean);
}

#[test]
fn clone_instances_and_orphans() {
    let resources = r#"
      <clone id="anon"><primitive id="a" class="ocf" provider="p" type="D"/></clone>
      <clone id="uniq"><meta_attributes id="um"><nvpair id="u" name="globally-unique" value="true"/>
          <nvpair id="ux" name="clone-max" value="2"/></meta_attributes>
        <primitive id="u" class="ocf" provider="p" type="D"/></clone>"#;
    let entries = lrm_resource("a", &op("a", "start", 0, 1, 0, 0, 0))
        + &lrm_resource("u:1", &op("u:1", "start", 0, 2, 0, 0, 0))
        + &lrm_resource("u:5", &op("u:5", "start", 0, 3, 0, 0, 0))
        + &lrm_resource("gone", &op("gone", "start", 0, 4, 0, 0, 0))
        + &lrm_resource("anon", &op("anon", "start", 0, 5, 0, 0, 0));
    let status = online("n1", "node1", &lrm(&entries))
        + &online(
            "n2",
            "node2",
            &lrm(&lrm_resource("a:3", &op("a:3", "start", 0, 1, 0, 0, 0))),
        );
    let doc = read_ok(&cib(&no_fencing(), TWO_NODES, resources, "", &status));
    let a = history(&doc, "a", "node1");
    assert_eq!((a.instance, a.role), (None, Role::Started));
    assert_eq!(history(&doc, "a", "node2").instance, Some(3));
    assert_eq!(history(&doc, "u", "node1").instance, Some(1));
    let orphans: Vec<&str> = doc.cluster.orphans.iter().map(|o| o.id.as_str()).collect();
    // u:5 is beyond clone-max of a unique clone; "anon" is a clone, not a
    // primitive.
    assert_eq!(orphans, vec!["u:5", "gone", "anon"]);
    assert_eq!(doc.cluster.orphans[1].agent_spec, "ocf:pacemaker:Dummy");
    assert_eq!(doc.cluster.orphans[1].role, Role::Started);
}

#[test]
fn promotable_instances_start_as_started() {
    // Pacemaker keeps a started promotable instance as Started internally
    // (it is shown as Unpromoted).
    let resources =
        r#"<master id="ms"><primitive id="s" class="ocf" provider="p" type="S"/></master>"#;
    let status = online(
        "n1",
        "node1",
        &lrm(&lrm_resource("s", &op("s", "start", 0, 1, 0, 0, 0))),
    ) + &online(
        "n2",
        "node2",
        &lrm(&lrm_resource("s", &op("s", "monitor", 0, 1, 0, 7, 0))),
    );
    let doc = read_ok(&cib(&no_fencing(), TWO_NODES, resources, "", &status));
    assert_eq!(history(&doc, "s", "node1").role, Role::Started);
    // A probe that finds it running sets it active: Unpromoted.
    assert_eq!(history(&doc, "s", "node2").role, Role::Unpromoted);
}

// ---- malformed input ----

#[test]
fn malformed_documents() {
    for (xml, kind) in [
        ("", ErrorKind::Xml),
        ("<cib>", ErrorKind::Xml),
        ("<notcib/>", ErrorKind::Xml),
        ("<cib/>", ErrorKind::Config),
        ("<!DOCTYPE cib [<!ENTITY a \"b\">]><cib/>", ErrorKind::Xml),
    ] {
        let e = read(xml).unwrap_err();
        assert_eq!(e.kind(), kind, "{xml}: {e}");
    }
    let e = read("<cib>\n<configuration>\n<nodes><node id=\"a\" uname=\"a\"></nodes>").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Xml);
    assert!(e.line().is_some());
}

#[test]
fn unreadable_timeouts_fall_back_to_the_default() {
    // intervals.xml in Pacemaker's regression tests: timeout="bad".
    let resources = with_op(r#"<op id="m" name="monitor" interval="28s" timeout="bad"/>"#);
    let doc = read_ok(&cib(&no_fencing(), TWO_NODES, &resources, "", ""));
    let ResourceKind::Primitive(p) = &doc.cluster.resource(rid(&doc, "r")).kind else {
        panic!()
    };
    assert_eq!(p.operations[0].timeout_ms, None);
    assert!(doc.warnings[0].what.contains("timeout `bad`"));
}
