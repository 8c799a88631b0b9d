//! The status section: node states and each resource's operation history,
//! unpacked as Pacemaker 2.1.5's `unpack.c` does (`unpack_node_state`,
//! `determine_online_status`, `unpack_lrm_resource`, `unpack_rsc_op`,
//! `remap_operation`, `update_resource_state`, `unpack_rsc_op_failure`,
//! `process_rsc_state`, `check_operation_expiry`, `pe_get_failcount`).
//!
//! Each `lrm_resource` on a node becomes one [`History`]: the role its
//! operations leave it in (ordered by call id, then last change), whether
//! it failed and what the failure asks for (`on-fail` of the failed
//! operation, or Pacemaker's default for it), a pending operation, and the
//! resource's fail count and last failure on that node. Node states change
//! along the way as in Pacemaker (a failure with `on-fail=fence` makes the
//! node unclean, `on-fail=standby` puts it in standby), and bans the
//! history implies are recorded as [`HistoryBan`]s.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::rc::Rc;

use crate::model::{
    FailedProbe, History, HistoryBan, NoQuorumPolicy, NodeId, Orphan, ResourceId, ResourceKind,
    Role, Task,
};
use crate::score::Score;

use super::config::OpConfig;
use super::values::{compare_version, is_true, leading_integer, lenient_score, parse_bool};
use super::xml::{children_named, elements, first_child, tag, XNode};
use super::{Error, Reader};

/// Reader-side facts about one node (parallel to `Cluster::nodes`).
#[derive(Debug, Clone)]
pub(crate) struct NodeInfo {
    /// Expected to be up (`expected="member"` and not shutting down).
    pub expected_up: bool,
    /// Pacemaker's node weight: the base score, -INFINITY once the status
    /// says the node cannot run resources (used by `or` location rules).
    pub weight: Score,
    /// Its resource history has been unpacked.
    pub unpacked: bool,
    /// Fail-count and last-failure attributes by resource name, built on
    /// first use.
    failcounts: Option<FailIndex>,
}

impl NodeInfo {
    /// A configured node not yet seen in the status.
    pub(crate) fn new(score: Score) -> NodeInfo {
        NodeInfo {
            expected_up: false,
            weight: score,
            unpacked: false,
            failcounts: None,
        }
    }
}

/// Pacemaker's role order (`enum rsc_role_e`), Unknown first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum PRole {
    Unknown,
    Stopped,
    Started,
    Unpromoted,
    Promoted,
}

impl PRole {
    fn model(self) -> Role {
        match self {
            PRole::Unknown | PRole::Stopped => Role::Stopped,
            PRole::Started => Role::Started,
            PRole::Unpromoted => Role::Unpromoted,
            PRole::Promoted => Role::Promoted,
        }
    }
}

/// Failure responses in Pacemaker's order of severity (`cmp_on_fail`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Fail {
    Ignore,
    Demote,
    Recover,
    Migrate,
    Block,
    Stop,
    Standby,
    Fence,
}

impl Fail {
    fn model(self) -> Option<crate::model::OnFail> {
        use crate::model::OnFail;
        match self {
            Fail::Ignore => None,
            Fail::Demote | Fail::Recover | Fail::Migrate => Some(OnFail::Restart),
            Fail::Block => Some(OnFail::Block),
            Fail::Stop => Some(OnFail::Stop),
            Fail::Standby => Some(OnFail::Standby),
            Fail::Fence => Some(OnFail::Fence),
        }
    }
}

// Execution statuses (`enum pcmk_exec_status`).
const EXEC_PENDING: i64 = -1;
const EXEC_DONE: i64 = 0;
const EXEC_CANCELLED: i64 = 1;
const EXEC_NOT_SUPPORTED: i64 = 3;
const EXEC_ERROR: i64 = 4;
const EXEC_ERROR_HARD: i64 = 5;
const EXEC_ERROR_FATAL: i64 = 6;
const EXEC_NOT_INSTALLED: i64 = 7;
const EXEC_MAX: i64 = 11;

// OCF return codes.
const OCF_OK: i64 = 0;
const OCF_INVALID_PARAM: i64 = 2;
const OCF_UNIMPLEMENT_FEATURE: i64 = 3;
const OCF_INSUFFICIENT_PRIV: i64 = 4;
const OCF_NOT_INSTALLED: i64 = 5;
const OCF_NOT_CONFIGURED: i64 = 6;
const OCF_NOT_RUNNING: i64 = 7;
const OCF_RUNNING_PROMOTED: i64 = 8;
const OCF_FAILED_PROMOTED: i64 = 9;
const OCF_DEGRADED: i64 = 190;
const OCF_DEGRADED_PROMOTED: i64 = 191;

/// One `lrm_rsc_op`, its fields parsed as Pacemaker parses them.
#[derive(Debug, Clone)]
struct OpRecord<'a> {
    id: Option<&'a str>,
    task: &'a str,
    /// `operation_key`, else the id.
    key: &'a str,
    interval_ms: u64,
    rc: i64,
    status: i64,
    call_id: i64,
    target_rc: i64,
    last_rc_change: Option<i64>,
    on_node: Option<&'a str>,
    magic: Option<&'a str>,
    /// The values as written, for the probe-masking test.
    xml_rc: i64,
    xml_status: i64,
}

impl OpRecord<'_> {
    fn is_probe(&self) -> bool {
        self.interval_ms == 0 && self.task == "monitor"
    }

    /// `pcmk_xe_mask_probe_failure`: a probe that found the agent not
    /// installed or not configured is treated as "not running".
    fn masked_probe_failure(&self) -> bool {
        self.is_probe()
            && (self.xml_rc == OCF_NOT_INSTALLED
                || self.xml_rc == OCF_INVALID_PARAM
                || self.xml_status == EXEC_NOT_INSTALLED)
    }
}

/// What one resource's history is being unpacked for.
struct Subject<'s> {
    /// The id in the history.
    history_id: &'s str,
    /// The primitive's id (the orphan's id).
    base_id: &'s str,
    /// Pacemaker's `pe_rsc_unique`.
    unique: bool,
    /// In a promotable clone: active means Unpromoted.
    promotable: bool,
    ops: &'s [OpConfig],
    managed: bool,
    failure_timeout_s: u64,
    /// The name fail-count attributes use.
    fail_name: String,
}

/// The state one history builds up (per resource and node).
struct State<'a> {
    role: PRole,
    on_fail: Fail,
    last_failure: Option<OpRecord<'a>>,
    next_role: Option<PRole>,
    pending: Option<&'a str>,
    failure_ignored: bool,
    blocked: bool,
    /// (node or every node, on the instance only).
    bans: Vec<(Option<NodeId>, bool)>,
    /// Exit codes of masked probe failures (not installed, bad parameters).
    failed_probes: Vec<i32>,
}

impl Subject<'_> {
    /// Pacemaker's id for the resource (`rsc`, `rsc:2` in a globally
    /// unique clone, the history id of an orphan); None for an anonymous
    /// clone instance, whose number the engine gives.
    fn pacemaker_id(&self) -> Option<&str> {
        self.unique.then_some(self.fail_name.as_str())
    }
}

impl<'a, 'i> Reader<'a, 'i> {
    /// The `<status>` section.
    pub(crate) fn read_status(&mut self) -> Result<(), Error> {
        let Some(status) = first_child(self.root, "status") else {
            return Ok(());
        };
        let mut states = Vec::new();
        for child in elements(status) {
            match tag(child) {
                "node_state" => {
                    if let Some(node) = self.unpack_node_state(child)? {
                        states.push((node, child));
                    }
                }
                "tickets" => {
                    if elements(child).next().is_some() {
                        self.unsupported(
                            "tickets",
                            None,
                            "ticket state is outside the subset; ignored",
                        );
                    }
                }
                _ => self.warn(child, "unknown element in <status>; ignored"),
            }
        }
        // Without fencing, offline nodes' histories are not unpacked at all:
        // what ran there is considered stopped.
        let stonith = self.cluster.options.stonith_enabled;
        for (node, state) in states {
            if self.node_info[node.0].unpacked {
                continue;
            }
            if !stonith && !self.cluster.nodes[node.0].online {
                continue;
            }
            self.node_info[node.0].unpacked = true;
            self.unpack_node_lrm(node, state);
        }
        self.add_failcount_only_history();
        self.sync_failure_timeouts();
        Ok(())
    }

    /// One `node_state`: transient attributes and online status.
    fn unpack_node_state(&mut self, state: XNode<'a, 'i>) -> Result<Option<NodeId>, Error> {
        let (Some(id), Some(uname)) = (state.attribute("id"), state.attribute("uname")) else {
            self.warn(
                state,
                "a node_state needs id and uname; Pacemaker ignores this one, and so does \
                 ironbeat",
            );
            return Ok(None);
        };
        let node = self
            .nodes_by_id
            .get(&id.to_ascii_lowercase())
            .or_else(|| self.nodes_by_name.get(&uname.to_ascii_lowercase()))
            .copied();
        let Some(node) = node else {
            self.warn(
                state,
                format!(
                    "status for node `{uname}`, which is not in the configuration; ignored \
                     (as Pacemaker does)"
                ),
            );
            return Ok(None);
        };
        let mut attributes = std::mem::take(&mut self.cluster.nodes[node.0].attributes);
        let result = match first_child(state, "transient_attributes") {
            Some(t) => self.unpack_sets(t, "instance_attributes", None, true, &mut attributes),
            None => Ok(()),
        };
        self.cluster.nodes[node.0].attributes = attributes;
        result?;
        self.node_info[node.0].failcounts = None;
        let n = &mut self.cluster.nodes[node.0];
        if is_true(n.attributes.get("standby").map(String::as_str)) {
            n.standby = true;
        }
        if is_true(n.attributes.get("maintenance").map(String::as_str)) {
            n.maintenance = true;
        }
        if n.attributes
            .get("resource-discovery-enabled")
            .is_some_and(|v| parse_bool(v) == Some(false))
        {
            self.warn(
                state,
                "resource-discovery-enabled=false is not allowed for cluster nodes; \
                 Pacemaker ignores it, and so does ironbeat",
            );
        }
        self.cluster.nodes[node.0].unclean = false;
        self.cluster.nodes[node.0].unclean_reason = None;
        self.cluster.unclean_order.retain(|&n| n != node);
        self.determine_online_status(state, node);
        let n = &self.cluster.nodes[node.0];
        if !self.cluster.have_quorum
            && n.online
            && self.cluster.options.no_quorum_policy == NoQuorumPolicy::Suicide
        {
            self.fence(node, Some("cluster does not have quorum"));
        }
        Ok(Some(node))
    }

    /// `determine_online_status` (with and without fencing).
    fn determine_online_status(&mut self, state: XNode<'a, 'i>, node: NodeId) {
        let attr = |n: &str| state.attribute(n);
        let in_ccm = attr("in_ccm");
        let in_cluster = is_true(in_ccm);
        let crmd_online = attr("crmd").is_some_and(|p| p.eq_ignore_ascii_case("online"));
        let join = attr("join");
        let join_is = |v: &str| join.is_some_and(|j| j.eq_ignore_ascii_case(v));
        let expected = attr("expected");
        let shutdown = self.cluster.nodes[node.0]
            .attributes
            .get("shutdown")
            .is_some_and(|s| s != "0");
        self.cluster.nodes[node.0].shutdown = shutdown;
        let expected_up = !shutdown && expected.is_some_and(|e| e.eq_ignore_ascii_case("member"));
        self.node_info[node.0].expected_up = expected_up;

        let online = if !self.cluster.options.stonith_enabled {
            if !in_cluster {
                false
            } else if crmd_online {
                join_is("member")
            } else if !expected_up {
                false
            } else {
                self.fence(node, Some("peer is unexpectedly down"));
                false
            }
        } else {
            let terminate = self.cluster.nodes[node.0]
                .attributes
                .get("terminate")
                .cloned();
            let do_terminate = match terminate.as_deref() {
                None => false,
                Some(t) if is_true(Some(t)) => true,
                Some(t) => t
                    .bytes()
                    .next()
                    .is_some_and(|c| c != b'0' && c.is_ascii_digit()),
            };
            let expected_down = expected.map_or(true, |e| e.eq_ignore_ascii_case("down"));
            let mut online = in_cluster;
            if shutdown {
                online = crmd_online;
            } else if in_ccm.is_none() {
                self.fence(node, Some("peer has not been seen by the cluster"));
            } else if join_is("banned") {
                self.fence(node, Some("peer failed Pacemaker membership criteria"));
            } else if !do_terminate && expected_down {
                if in_cluster || crmd_online {
                    self.set_pending(node);
                }
            } else if do_terminate && join_is("down") && !in_cluster && !crmd_online {
                online = false;
            } else if !in_cluster {
                self.fence(node, Some("peer is no longer part of the cluster"));
            } else if !crmd_online {
                self.fence(node, Some("peer process is no longer available"));
            } else if do_terminate {
                self.fence(node, Some("termination was requested"));
            } else if join_is("member") {
            } else if join_is("pending") || join_is("down") {
                self.set_pending(node);
            } else {
                self.fence(node, Some("peer was in an unknown state"));
            }
            online
        };
        if online {
            self.cluster.nodes[node.0].online = true;
        }
        if !online || shutdown {
            self.node_info[node.0].weight = Score::MINUS_INFINITY;
        }
    }

    /// A node that joined but may not run resources yet.
    fn set_pending(&mut self, node: NodeId) {
        let n = &mut self.cluster.nodes[node.0];
        n.standby = true;
        n.pending = true;
    }

    /// `pe_fence_node` for a cluster node: it becomes unclean, and the
    /// first reason given while it was clean is the one its fencing shows.
    /// Reasons that name an anonymous clone instance (`rsc:1 is thought to
    /// be active there`) are left to the engine (`None`): only it numbers
    /// those instances.
    fn fence(&mut self, node: NodeId, reason: Option<&str>) {
        let n = &mut self.cluster.nodes[node.0];
        if !n.unclean {
            n.unclean = true;
            n.unclean_reason = reason.map(str::to_string);
            self.cluster.unclean_order.push(node);
        }
    }

    /// `pe_can_fence`.
    fn can_fence(&self, node: NodeId) -> bool {
        let o = &self.cluster.options;
        o.stonith_enabled
            && self.have_stonith_resource
            && (self.cluster.have_quorum
                || o.no_quorum_policy == NoQuorumPolicy::Ignore
                || self.cluster.nodes[node.0].online)
    }

    /// Every `lrm_resource` of one node.
    fn unpack_node_lrm(&mut self, node: NodeId, state: XNode<'a, 'i>) {
        let Some(lrm) = first_child(state, "lrm") else {
            return;
        };
        let Some(resources) = first_child(lrm, "lrm_resources") else {
            return;
        };
        for entry in children_named(resources, "lrm_resource") {
            if let Some(id) = entry.attribute("id") {
                self.lrm_entries
                    .entry(node.0)
                    .or_default()
                    .entry(id)
                    .or_insert(entry);
            }
            self.unpack_lrm_resource(node, entry);
        }
    }

    /// One resource's history on one node.
    fn unpack_lrm_resource(&mut self, node: NodeId, entry: XNode<'a, 'i>) {
        let Some(history_id) = entry.attribute("id") else {
            self.warn(
                entry,
                "an lrm_resource without id; Pacemaker ignores it, and so does ironbeat",
            );
            return;
        };
        let mut ops: Vec<OpRecord<'a>> =
            children_named(entry, "lrm_rsc_op").map(op_record).collect();
        if ops.is_empty() {
            return;
        }
        // Pacemaker prepends each op, then merge-sorts them by call id.
        ops.reverse();
        let ops = glib_merge_sort(ops, &|a, b| newer_op(a, b));

        match self.find_history_resource(history_id) {
            Some((rid, instance)) => {
                let info = &self.resources[rid.0];
                let base_id = self.cluster.resources[rid.0].id.clone();
                let fail_name = if info.unique {
                    match (info.clone, instance) {
                        (Some(_), Some(n)) => format!("{base_id}:{n}"),
                        _ => base_id.clone(),
                    }
                } else {
                    base_id.clone()
                };
                let ops_config = Rc::clone(&info.ops);
                let instance_key = match (info.unique, info.clone, instance) {
                    (true, Some(_), Some(n)) => Some((rid, n)),
                    _ => None,
                };
                let (managed, failure_timeout_s) = instance_key
                    .and_then(|k| self.instance_state.get(&k).copied())
                    .unwrap_or((info.managed_now, info.failure_timeout_s));
                let mut subject = Subject {
                    history_id,
                    base_id: &base_id,
                    unique: info.unique,
                    promotable: info.promotable,
                    ops: &ops_config,
                    managed,
                    failure_timeout_s,
                    fail_name,
                };
                if info.clone.is_some() && !info.unique {
                    // Pacemaker renames the instance after the history id.
                    self.renamed.insert(history_id.to_string());
                }
                let mut st = self.unpack_ops(&mut subject, node, &ops);
                let (role, failed, on_fail) = self.process_rsc_state(&mut subject, node, &mut st);
                let (count, last) = self.fail_count(node, &subject.fail_name, subject.unique);
                match instance_key {
                    Some(k) => {
                        self.instance_state
                            .insert(k, (subject.managed, subject.failure_timeout_s));
                    }
                    None => {
                        let info = &mut self.resources[rid.0];
                        info.managed_now = subject.managed;
                        info.failure_timeout_s = subject.failure_timeout_s;
                    }
                }
                for &(node, instance_only) in &st.bans {
                    self.cluster.history_bans.push(HistoryBan {
                        resource: rid,
                        node,
                        instance_only,
                    });
                }
                for &rc in &st.failed_probes {
                    self.cluster.failed_probes.push(FailedProbe {
                        resource: rid,
                        node,
                        rc,
                    });
                }
                let on_fail = if st.blocked {
                    Some(crate::model::OnFail::Block)
                } else {
                    on_fail
                };
                self.cluster.history.push(History {
                    resource: rid,
                    instance,
                    node,
                    role: role.model(),
                    failed,
                    on_fail,
                    pending: st.pending.and_then(pending_task),
                    fail_count: count,
                    last_failure: last,
                    next_role: st
                        .next_role
                        .filter(|r| *r != PRole::Unknown)
                        .map(PRole::model),
                    failure_ignored: st.failure_ignored,
                });
            }
            None => self.unpack_orphan(node, entry, history_id, &ops),
        }
    }

    /// A history entry for a resource the configuration no longer has.
    fn unpack_orphan(
        &mut self,
        node: NodeId,
        entry: XNode<'a, 'i>,
        history_id: &str,
        ops: &[OpRecord<'a>],
    ) {
        let class = entry.attribute("class").unwrap_or("");
        let agent = entry.attribute("type").unwrap_or("");
        let agent_spec = match entry.attribute("provider") {
            Some(p) => format!("{class}:{p}:{agent}"),
            None => format!("{class}:{agent}"),
        };
        let defaults = self.orphan_defaults.clone();
        let (managed, timeout) = *self.orphan_state.entry(history_id.to_string()).or_insert((
            defaults.managed
                && self.cluster.options.stop_orphan_resources
                && !self.cluster.options.maintenance_mode,
            defaults.failure_timeout_s,
        ));
        let mut subject = Subject {
            history_id,
            base_id: history_id,
            unique: true,
            promotable: false,
            ops: &[],
            managed,
            failure_timeout_s: timeout,
            fail_name: history_id.to_string(),
        };
        let mut st = self.unpack_ops(&mut subject, node, ops);
        let (role, failed, on_fail) = self.process_rsc_state(&mut subject, node, &mut st);
        self.orphan_state.insert(
            history_id.to_string(),
            (subject.managed, subject.failure_timeout_s),
        );
        let blocked = st.blocked || on_fail == Some(crate::model::OnFail::Block);
        self.cluster.orphans.push(Orphan {
            id: history_id.to_string(),
            agent_spec,
            node,
            role: role.model(),
            failed,
            managed: subject.managed,
            blocked,
        });
        // Flags belong to the resource: every entry of this id has them.
        for o in &mut self.cluster.orphans {
            if o.id == history_id {
                o.managed = subject.managed;
                o.blocked |= blocked;
            }
        }
    }

    /// Which configured primitive a history id belongs to
    /// (`unpack_find_resource`), and the clone instance number it names.
    fn find_history_resource(&self, history_id: &str) -> Option<(ResourceId, Option<u32>)> {
        let (base, number) = split_instance(history_id);
        if let Some(&rid) = self.resource_ids.get(history_id) {
            let info = &self.resources[rid.0];
            if !matches!(
                self.cluster.resources[rid.0].kind,
                ResourceKind::Primitive(_)
            ) {
                return None;
            }
            return match info.clone {
                None => Some((rid, None)),
                // A unique clone's instances are named `rsc:N`.
                Some(_) if info.unique => None,
                Some(_) => Some((rid, None)),
            };
        }
        let number = number?;
        let &rid = self.resource_ids.get(base)?;
        if !matches!(
            self.cluster.resources[rid.0].kind,
            ResourceKind::Primitive(_)
        ) {
            return None;
        }
        let info = &self.resources[rid.0];
        let clone = info.clone?;
        if !info.unique {
            return Some((rid, Some(number)));
        }
        let max = match &self.cluster.resources[clone.0].kind {
            ResourceKind::Clone(c) => c
                .clone_max
                .unwrap_or(self.cluster.nodes.len().max(1) as u32)
                .max(1),
            _ => 1,
        };
        (number < max).then_some((rid, Some(number)))
    }

    /// `unpack_rsc_op` for every operation, in order.
    fn unpack_ops(
        &mut self,
        subject: &mut Subject<'_>,
        node: NodeId,
        ops: &[OpRecord<'a>],
    ) -> State<'a> {
        let mut st = State {
            role: PRole::Unknown,
            on_fail: Fail::Ignore,
            last_failure: None,
            next_role: None,
            pending: None,
            failure_ignored: false,
            blocked: false,
            bans: Vec::new(),
            failed_probes: Vec::new(),
        };
        for op in ops {
            self.unpack_rsc_op(subject, node, op, &mut st);
        }
        st
    }

    /// One operation (`unpack_rsc_op`).
    fn unpack_rsc_op(
        &mut self,
        subject: &mut Subject<'_>,
        node: NodeId,
        op: &OpRecord<'a>,
        st: &mut State<'a>,
    ) {
        if !(EXEC_PENDING..=EXEC_MAX).contains(&op.status) {
            return;
        }
        if op.task == "notify" || op.task == "meta-data" {
            return;
        }
        if matches!(op.task, "migrate_to" | "migrate_from") {
            self.unsupported(
                "lrm_rsc_op",
                op.id,
                format!(
                    "live migration ({}) in the history of {} is outside the subset; the \
                     operation is ignored",
                    op.task, subject.history_id
                ),
            );
            return;
        }
        let expired =
            op.status != EXEC_NOT_INSTALLED && self.check_operation_expiry(subject, node, op);
        let (old_rc, old_target) = (op.rc, op.target_rc);
        let (rc, mut status) = self.remap_operation(subject, node, op, st);
        let maskable = op.masked_probe_failure();

        if expired && maskable && old_rc != old_target {
            if st.role <= PRole::Stopped {
                st.role = PRole::Unknown;
            }
            return;
        } else if expired && rc != op.target_rc {
            let n = &self.cluster.nodes[node.0];
            if op.interval_ms == 0 || (n.online && !n.unclean) {
                return;
            }
        }
        if maskable {
            self.update_resource_state(subject, op, op.target_rc, st);
            st.bans.push((Some(node), false));
            st.failed_probes
                .push(i32::try_from(old_rc).unwrap_or(i32::MAX));
            return;
        }
        match status {
            EXEC_CANCELLED => return,
            EXEC_PENDING => {
                if op.task == "start" {
                    set_active(subject, st);
                } else if op.task == "promote" {
                    st.role = PRole::Promoted;
                }
                if st.pending.is_none() && (op.interval_ms != 0 || op.task != "monitor") {
                    st.pending = Some(op.task);
                }
                return;
            }
            EXEC_DONE => {
                self.update_resource_state(subject, op, rc, st);
                return;
            }
            EXEC_NOT_INSTALLED => {
                let (fail, _) = self.action_on_fail(subject, op);
                if fail == Fail::Ignore {
                    st.on_fail = Fail::Migrate;
                }
                st.bans.push((Some(node), false));
                self.unpack_rsc_op_failure(subject, node, rc, op, st);
                return;
            }
            10 | 11 => status = EXEC_ERROR_HARD,
            _ => {}
        }
        let (fail, _) = self.action_on_fail(subject, op);
        if fail == Fail::Ignore {
            self.update_resource_state(subject, op, op.target_rc, st);
            st.failure_ignored = true;
        } else {
            self.unpack_rsc_op_failure(subject, node, rc, op, st);
            if status == EXEC_ERROR_HARD {
                st.bans.push((Some(node), false));
            } else if status == EXEC_ERROR_FATAL {
                st.bans.push((None, false));
            }
        }
    }

    /// `remap_operation`: what the result means given what was expected.
    /// Returns the remapped return code and execution status.
    fn remap_operation(
        &mut self,
        subject: &mut Subject<'_>,
        node: NodeId,
        op: &OpRecord<'a>,
        st: &mut State<'a>,
    ) -> (i64, i64) {
        let mut rc = op.rc;
        let mut status = op.status;
        if op.task == "monitor" {
            rc = match rc {
                OCF_DEGRADED => OCF_OK,
                OCF_DEGRADED_PROMOTED => OCF_RUNNING_PROMOTED,
                other => other,
            };
        }
        if op.masked_probe_failure() {
            status = EXEC_DONE;
            rc = OCF_NOT_RUNNING;
        }
        if status != EXEC_DONE && status != EXEC_ERROR {
            return (rc, status);
        }
        status = EXEC_DONE;
        let probe = op.is_probe();
        let task = if probe { "probe" } else { op.task };
        if op.target_rc < 0 || op.target_rc != rc {
            status = EXEC_ERROR;
        }
        match rc {
            OCF_OK => {
                if probe && op.target_rc == OCF_NOT_RUNNING {
                    status = EXEC_DONE;
                }
            }
            OCF_NOT_RUNNING => {
                if probe || op.target_rc == rc || !subject.managed {
                    status = EXEC_DONE;
                    st.role = PRole::Stopped;
                    st.on_fail = Fail::Ignore;
                    st.next_role = None;
                }
            }
            OCF_RUNNING_PROMOTED => {
                if probe && rc != op.target_rc {
                    status = EXEC_DONE;
                }
                st.role = PRole::Promoted;
            }
            OCF_DEGRADED_PROMOTED | OCF_FAILED_PROMOTED => {
                st.role = PRole::Promoted;
                status = EXEC_ERROR;
            }
            OCF_NOT_CONFIGURED => status = EXEC_ERROR_FATAL,
            OCF_UNIMPLEMENT_FEATURE => {
                if op.interval_ms == 0 {
                    self.check_recoverable(subject, node, task, st);
                    status = EXEC_ERROR_HARD;
                } else {
                    status = EXEC_NOT_SUPPORTED;
                }
            }
            OCF_NOT_INSTALLED | OCF_INVALID_PARAM | OCF_INSUFFICIENT_PRIV => {
                self.check_recoverable(subject, node, task, st);
                status = EXEC_ERROR_HARD;
            }
            _ => {
                if status == EXEC_DONE {
                    status = EXEC_ERROR;
                }
            }
        }
        (rc, status)
    }

    /// A failed stop that cannot be fixed by fencing blocks the resource.
    fn check_recoverable(
        &mut self,
        subject: &mut Subject<'_>,
        node: NodeId,
        task: &str,
        st: &mut State<'a>,
    ) {
        if task != "stop" || self.can_fence(node) {
            return;
        }
        subject.managed = false;
        st.blocked = true;
    }

    /// `update_resource_state`: a successful (or ignored) result.
    fn update_resource_state(
        &mut self,
        subject: &Subject<'_>,
        op: &OpRecord<'a>,
        rc: i64,
        st: &mut State<'a>,
    ) {
        let mut clear = false;
        let task = op.task;
        let is = |t: &str| task.eq_ignore_ascii_case(t);
        if rc == OCF_NOT_INSTALLED || op.masked_probe_failure() {
            st.role = PRole::Stopped;
        } else if rc == OCF_NOT_RUNNING {
            clear = true;
        } else if is("monitor") {
            if let Some(last) = &st.last_failure {
                if op.key.eq_ignore_ascii_case(last.key) {
                    clear = true;
                }
            }
            if st.role < PRole::Started {
                set_active(subject, st);
            }
        } else if is("start") {
            st.role = PRole::Started;
            clear = true;
        } else if is("stop") {
            st.role = PRole::Stopped;
            clear = true;
        } else if is("promote") {
            st.role = PRole::Promoted;
            clear = true;
        } else if is("demote") {
            if st.on_fail == Fail::Demote {
                clear = true;
            }
            st.role = PRole::Unpromoted;
        } else if st.role < PRole::Started {
            set_active(subject, st);
        }
        if clear {
            match st.on_fail {
                Fail::Stop | Fail::Fence | Fail::Migrate | Fail::Standby => {}
                Fail::Block | Fail::Ignore | Fail::Demote | Fail::Recover => {
                    st.on_fail = Fail::Ignore;
                    st.next_role = None;
                }
            }
        }
    }

    /// `unpack_rsc_op_failure`: a failed operation.
    fn unpack_rsc_op_failure(
        &mut self,
        subject: &Subject<'_>,
        node: NodeId,
        rc: i64,
        op: &OpRecord<'a>,
        st: &mut State<'a>,
    ) {
        st.last_failure = Some(op.clone());
        let (fail, fail_role) = self.action_on_fail(subject, op);
        if st.on_fail < fail {
            st.on_fail = fail;
        }
        match op.task {
            "stop" => st.bans.push((Some(node), true)),
            "promote" => st.role = PRole::Promoted,
            "demote" => {
                if fail == Fail::Block {
                    st.role = PRole::Promoted;
                    st.next_role = Some(PRole::Stopped);
                } else if rc == OCF_NOT_RUNNING {
                    st.role = PRole::Stopped;
                } else {
                    st.role = PRole::Unpromoted;
                }
            }
            _ => {}
        }
        if op.is_probe() && rc == OCF_NOT_INSTALLED {
            st.role = PRole::Stopped;
        } else if st.role < PRole::Started {
            set_active(subject, st);
        }
        let next = st.next_role.unwrap_or(PRole::Unknown);
        if fail_role != PRole::Started && next < fail_role {
            st.next_role = Some(fail_role);
        }
        if fail_role == PRole::Stopped {
            st.bans.push((None, false));
        }
    }

    /// The failure response and the role after failure of the operation
    /// `op` stands for (`unpack_operation` for its configured op, or the
    /// defaults when none is configured).
    fn action_on_fail(&self, subject: &Subject<'_>, op: &OpRecord<'a>) -> (Fail, PRole) {
        let task = op.task;
        let is = |t: &str| task.eq_ignore_ascii_case(t);
        // Disabled operations count here (`find_rsc_op_entry_helper` with
        // `include_disabled`).
        let config = subject.ops.iter().find(|c| {
            [subject.base_id, subject.history_id].iter().any(|rsc| {
                let key = format!("{rsc}_{}_{}", c.name, c.interval_ms);
                key.eq_ignore_ascii_case(op.key)
            })
        });
        let mut value: Option<String> = match config {
            Some(c) => c.on_fail.clone(),
            None => self.op_defaults_on_fail.clone(),
        };
        let lower = value.as_deref().map(str::to_ascii_lowercase);
        if is("stop") && matches!(lower.as_deref(), Some("standby" | "demote" | "stop")) {
            value = None;
        } else if is("demote") && value.is_none() {
            value = subject
                .ops
                .iter()
                .find(|c| {
                    c.on_fail_attribute.is_some()
                        && c.enabled
                        && c.name.eq_ignore_ascii_case("monitor")
                        && c.role_attribute.as_deref().is_some_and(|r| {
                            r.eq_ignore_ascii_case("promoted") || r.eq_ignore_ascii_case("master")
                        })
                        && c.interval_ms != 0
                        && !c
                            .on_fail_attribute
                            .as_deref()
                            .is_some_and(|f| f.eq_ignore_ascii_case("demote"))
                })
                .and_then(|c| c.on_fail_attribute.clone());
        } else if lower.as_deref() == Some("demote") {
            let allowed = config.is_some_and(|c| {
                c.name.eq_ignore_ascii_case("promote")
                    || (c.name.eq_ignore_ascii_case("monitor")
                        && c.interval_ms != 0
                        && c.role_attribute.as_deref().is_some_and(|r| {
                            r.eq_ignore_ascii_case("promoted") || r.eq_ignore_ascii_case("master")
                        }))
            });
            if !allowed {
                value = None;
            }
        }
        let stonith = self.cluster.options.stonith_enabled;
        let mut fail_role = None;
        let fail = match value.map(|v| v.to_ascii_lowercase()).as_deref() {
            Some("block") => Some(Fail::Block),
            Some("fence") if stonith => Some(Fail::Fence),
            Some("fence") | Some("stop") => {
                fail_role = Some(PRole::Stopped);
                Some(Fail::Stop)
            }
            Some("standby") => Some(Fail::Standby),
            Some("ignore") | Some("nothing") => Some(Fail::Ignore),
            Some("migrate") => Some(Fail::Migrate),
            Some("restart") => Some(Fail::Recover),
            Some("demote") => Some(Fail::Demote),
            _ => None,
        };
        let fail = fail.unwrap_or(if is("stop") {
            if stonith {
                Fail::Fence
            } else {
                Fail::Block
            }
        } else {
            Fail::Recover
        });
        let fail_role = fail_role.unwrap_or(if is("promote") {
            PRole::Unpromoted
        } else {
            PRole::Started
        });
        (fail, fail_role)
    }

    /// `process_rsc_state`: what the history means for the node and the
    /// resource. Returns the role, whether it failed, and what the failure
    /// asks for.
    fn process_rsc_state(
        &mut self,
        subject: &mut Subject<'_>,
        node: NodeId,
        st: &mut State<'a>,
    ) -> (PRole, bool, Option<crate::model::OnFail>) {
        let active = st.role > PRole::Stopped;
        {
            let n = &self.cluster.nodes[node.0];
            if active
                && !n.online
                && !n.maintenance
                && subject.managed
                && self.cluster.options.stonith_enabled
            {
                let reason = subject
                    .pacemaker_id()
                    .map(|id| format!("{id} is thought to be active there"));
                self.fence(node, reason.as_deref());
            }
        }
        let mut on_fail = st.on_fail;
        if self.cluster.nodes[node.0].unclean {
            on_fail = Fail::Ignore;
        }
        match on_fail {
            Fail::Fence => {
                let reason = subject
                    .pacemaker_id()
                    .map(|id| format!("{id} failed there"));
                self.fence(node, reason.as_deref());
            }
            Fail::Standby => {
                let n = &mut self.cluster.nodes[node.0];
                n.standby = true;
                n.standby_onfail = true;
            }
            Fail::Block => subject.managed = false,
            Fail::Migrate => st.bans.push((Some(node), true)),
            Fail::Stop => st.next_role = Some(PRole::Stopped),
            Fail::Recover if active => {
                // Pacemaker schedules the stop now; a stop of a managed
                // resource on a node that is down cannot run, so the node
                // is fenced (`update_resource_action_runnable`).
                let n = &self.cluster.nodes[node.0];
                if subject.managed && !n.online && !n.unclean {
                    self.fence(node, Some("stop is unrunnable"));
                }
            }
            _ => {}
        }
        if active && self.cluster.nodes[node.0].maintenance {
            subject.managed = false;
        }
        let failed = active && on_fail != Fail::Ignore;
        let mut model_fail = on_fail.model();
        if on_fail == Fail::Migrate {
            model_fail = Some(crate::model::OnFail::Restart);
        }
        (st.role, failed, model_fail)
    }

    /// `check_operation_expiry`: whether a failure in this operation is
    /// older than the resource's `failure-timeout` (and the fail count has
    /// expired too).
    fn check_operation_expiry(
        &mut self,
        subject: &mut Subject<'_>,
        node: NodeId,
        op: &OpRecord<'a>,
    ) -> bool {
        let mut expired = false;
        let mut unexpired = 0;
        if subject.failure_timeout_s > 0 {
            if let Some(last_run) = op.last_rc_change {
                let timeout = subject.failure_timeout_s as i64;
                if self.now >= last_run.saturating_add(timeout) {
                    expired = true;
                }
                let (count, last) = self.raw_fail_count(node, &subject.fail_name, subject.unique);
                if count > 0 && self.block_failure(subject, Some(op), node) {
                    self.warn_about(
                        "primitive",
                        Some(subject.base_id),
                        "failure-timeout is ignored because a failure blocks the resource \
                         (on-fail=block), as Pacemaker does",
                    );
                    subject.failure_timeout_s = 0;
                }
                unexpired = count;
                let timeout = subject.failure_timeout_s as i64;
                if count > 0 && last > 0 && timeout > 0 && self.now > last.saturating_add(timeout) {
                    unexpired = 0;
                }
            }
        }
        if expired {
            let (count, _) = self.raw_fail_count(node, &subject.fail_name, subject.unique);
            if count > 0 && unexpired != 0 {
                expired = false;
            }
        }
        if expired
            && op.is_probe()
            && matches!(
                op.rc,
                OCF_OK
                    | OCF_NOT_RUNNING
                    | OCF_RUNNING_PROMOTED
                    | OCF_DEGRADED
                    | OCF_DEGRADED_PROMOTED
            )
        {
            expired = false;
        }
        expired
    }

    /// `block_failure`: a failure of an operation configured with
    /// `on-fail="block"` (such failures never expire).
    fn block_failure(
        &self,
        subject: &Subject<'_>,
        op: Option<&OpRecord<'_>>,
        node: NodeId,
    ) -> bool {
        let name = subject.base_id;
        let blocking = subject
            .ops
            .iter()
            .filter(|c| c.on_fail_attribute.as_deref() == Some("block"));
        for config in blocking {
            match op {
                Some(op) => {
                    if matched_failure(name, config, op) {
                        return true;
                    }
                }
                None => {
                    let Some(entry) = self.lrm_entry(node, name) else {
                        continue;
                    };
                    for lrm in children_named(entry, "lrm_rsc_op") {
                        let rec = op_record(lrm);
                        if rec.task == config.name
                            && lrm.attribute("interval")
                                == Some(config.interval_ms.to_string().as_str())
                            && matched_failure(name, config, &rec)
                        {
                            return true;
                        }
                    }
                }
            }
        }
        false
    }

    /// The `lrm_resource` with this id in a node's status.
    fn lrm_entry(&self, node: NodeId, id: &str) -> Option<XNode<'a, 'i>> {
        self.lrm_entries.get(&node.0)?.get(id).copied()
    }

    /// The fail count and last failure of a resource on a node
    /// (`pe_get_failcount`, expiry left to the engine).
    fn fail_count(&mut self, node: NodeId, name: &str, unique: bool) -> (u32, Option<i64>) {
        let (count, last) = self.raw_fail_count(node, name, unique);
        let count = count.clamp(0, i64::from(Score::INFINITY_VALUE)) as u32;
        let last = (count > 0 && last > 0).then_some(last);
        (count, last)
    }

    /// Sum of the matching fail-count attributes, and the latest matching
    /// last-failure.
    fn raw_fail_count(&mut self, node: NodeId, name: &str, unique: bool) -> (i64, i64) {
        let legacy = compare_version(self.root.attribute("crm_feature_set"), Some("3.0.13"))
            == std::cmp::Ordering::Less;
        if self.node_info[node.0].failcounts.is_none() {
            let index = FailIndex::build(&self.cluster.nodes[node.0].attributes, legacy);
            self.node_info[node.0].failcounts = Some(index);
        }
        let Some(index) = &self.node_info[node.0].failcounts else {
            return (0, 0);
        };
        let mut seen = HashSet::new();
        let mut count = Score::ZERO;
        let mut last = 0i64;
        let lists = [
            index.exact.get(name),
            if unique {
                None
            } else {
                index.stripped.get(name)
            },
        ];
        for list in lists.into_iter().flatten() {
            for &i in list {
                if !seen.insert(i) {
                    continue;
                }
                let (is_last, value) = &index.values[i];
                if *is_last {
                    if let Some(v) = leading_integer(value) {
                        last = last.max(v);
                    }
                } else {
                    count += lenient_score(value);
                }
            }
        }
        (i64::from(count.value()), last)
    }

    /// Fail counts on nodes where the resource has no history still count
    /// (the engine bans a node once the count reaches the threshold): such
    /// resources get a Stopped history entry carrying the count.
    fn add_failcount_only_history(&mut self) {
        let mut known: HashSet<(usize, usize, Option<u32>)> = HashSet::new();
        let mut known_any: HashSet<(usize, usize)> = HashSet::new();
        for h in &self.cluster.history {
            known.insert((h.resource.0, h.node.0, h.instance));
            known_any.insert((h.resource.0, h.node.0));
        }
        let legacy = compare_version(self.root.attribute("crm_feature_set"), Some("3.0.13"))
            == std::cmp::Ordering::Less;
        for node in 0..self.cluster.nodes.len() {
            let names: Vec<String> = self.cluster.nodes[node]
                .attributes
                .keys()
                .filter_map(|k| k.strip_prefix("fail-count-"))
                .flat_map(|rest| fail_candidates(rest, legacy))
                .collect();
            for candidate in names {
                let Some((rid, instance)) = self.find_history_resource(&candidate) else {
                    continue;
                };
                let unique = self.resources[rid.0].unique;
                let seen = if unique {
                    known.contains(&(rid.0, node, instance))
                } else {
                    known_any.contains(&(rid.0, node))
                };
                if seen {
                    continue;
                }
                let base = &self.cluster.resources[rid.0].id;
                let name = match (unique && self.resources[rid.0].clone.is_some(), instance) {
                    (true, Some(n)) => format!("{base}:{n}"),
                    _ => base.clone(),
                };
                let (count, last) = self.fail_count(NodeId(node), &name, unique);
                if count == 0 {
                    continue;
                }
                known.insert((rid.0, node, instance));
                known_any.insert((rid.0, node));
                self.cluster.failcount_only.push(self.cluster.history.len());
                self.cluster.history.push(History {
                    resource: rid,
                    instance: if unique { instance } else { None },
                    node: NodeId(node),
                    role: Role::Stopped,
                    failed: false,
                    on_fail: None,
                    pending: None,
                    fail_count: count,
                    last_failure: last,
                    next_role: None,
                    failure_ignored: false,
                });
            }
        }
    }

    /// Copies the failure timeouts the unpacking zeroed into the model, and
    /// zeroes the ones a blocking failure anywhere makes moot.
    fn sync_failure_timeouts(&mut self) {
        for h in 0..self.cluster.history.len() {
            let (rid, node, count) = {
                let h = &self.cluster.history[h];
                (h.resource, h.node, h.fail_count)
            };
            let info = &self.resources[rid.0];
            if count == 0 || info.failure_timeout_s == 0 {
                continue;
            }
            let base_id = self.cluster.resources[rid.0].id.clone();
            let ops = Rc::clone(&info.ops);
            let subject = Subject {
                history_id: &base_id,
                base_id: &base_id,
                unique: info.unique,
                promotable: info.promotable,
                ops: &ops,
                managed: info.managed_now,
                failure_timeout_s: info.failure_timeout_s,
                fail_name: base_id.clone(),
            };
            if self.block_failure(&subject, None, node) {
                self.warn_about(
                    "primitive",
                    Some(&base_id),
                    "failure-timeout is ignored because a failure blocks the resource \
                     (on-fail=block), as Pacemaker does",
                );
                self.resources[rid.0].failure_timeout_s = 0;
            }
        }
        for (i, info) in self.resources.iter().enumerate() {
            let meta = &mut self.cluster.resources[i].meta;
            if meta.failure_timeout_s != info.failure_timeout_s {
                meta.failure_timeout_s = info.failure_timeout_s;
            }
        }
    }
}

/// The role "active" means for this resource.
fn set_active(subject: &Subject<'_>, st: &mut State<'_>) {
    st.role = if subject.promotable {
        PRole::Unpromoted
    } else {
        PRole::Started
    };
}

fn pending_task(task: &str) -> Option<Task> {
    match task {
        "start" => Some(Task::Start),
        "stop" => Some(Task::Stop),
        "promote" => Some(Task::Promote),
        "demote" => Some(Task::Demote),
        _ => None,
    }
}

/// `is_matched_failure`: the history op is a failure of the configured op.
fn matched_failure(rsc: &str, config: &OpConfig, op: &OpRecord<'_>) -> bool {
    if config.interval_ms != op.interval_ms || !config.name.eq_ignore_ascii_case(op.task) {
        return false;
    }
    let Some(id) = op.id else { return false };
    if id.eq_ignore_ascii_case(&format!("{rsc}_last_failure_0")) {
        return true;
    }
    id.eq_ignore_ascii_case(&format!("{rsc}_{}_{}", config.name, config.interval_ms))
        && op.rc != op.target_rc
}

/// `rsc:3` → ("rsc", Some(3)); ids without a numeric suffix unchanged.
fn split_instance(id: &str) -> (&str, Option<u32>) {
    if let Some((base, digits)) = id.rsplit_once(':') {
        if !base.is_empty() && !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            return (base, digits.parse().ok());
        }
    }
    (id, None)
}

/// Parses one `lrm_rsc_op`.
fn op_record<'a>(op: XNode<'a, '_>) -> OpRecord<'a> {
    let int = |name: &str, missing: i64| -> i64 {
        match op.attribute(name) {
            None => missing,
            Some(v) => match leading_integer(v) {
                Some(n) if (i64::from(i32::MIN)..=i64::from(i32::MAX)).contains(&n) => n,
                _ => -1,
            },
        }
    };
    let rc = int("rc-code", 0);
    let status = int("op-status", -2);
    let target_rc = op
        .attribute("transition-key")
        .map_or(-1, |k| decode_transition_key(k).map_or(-1, |k| k.target_rc));
    OpRecord {
        id: op.attribute("id"),
        task: op.attribute("operation").unwrap_or(""),
        key: op
            .attribute("operation_key")
            .or_else(|| op.attribute("id"))
            .unwrap_or(""),
        interval_ms: op
            .attribute("interval")
            .and_then(leading_integer)
            .map_or(0, |v| v.clamp(0, i64::from(u32::MAX)) as u64),
        rc,
        status,
        call_id: int("call-id", -1),
        target_rc,
        last_rc_change: op.attribute("last-rc-change").and_then(leading_integer),
        on_node: op.attribute("on_node"),
        magic: op.attribute("transition-magic"),
        xml_rc: rc,
        xml_status: status,
    }
}

/// A decoded transition key: `action:transition:target_rc:uuid`.
struct TransitionKey<'a> {
    transition: i64,
    target_rc: i64,
    uuid: &'a str,
}

/// `decode_transition_key` (`%d:%d:%d:%36s`).
fn decode_transition_key(key: &str) -> Option<TransitionKey<'_>> {
    let mut rest = key;
    let mut numbers = [0i64; 3];
    for n in &mut numbers {
        let t = rest.trim_start();
        let sign = usize::from(t.starts_with('-') || t.starts_with('+'));
        let digits = t[sign..].bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        let end = sign + digits;
        *n = leading_integer(&t[..end])?;
        rest = t[end..].strip_prefix(':')?;
    }
    let uuid = rest.trim_start();
    // `%36s`: up to 36 bytes, stopping at white space (and here at a
    // character boundary).
    let mut uuid_len = uuid
        .bytes()
        .take_while(|b| !b.is_ascii_whitespace())
        .count()
        .min(36);
    while !uuid.is_char_boundary(uuid_len) {
        uuid_len -= 1;
    }
    if uuid_len == 0 {
        return None;
    }
    Some(TransitionKey {
        transition: numbers[1],
        target_rc: numbers[2],
        uuid: &uuid[..uuid_len],
    })
}

/// `decode_transition_magic` (`%d:%d;KEY`): the key's uuid and transition.
fn decode_magic(magic: &str) -> Option<(&str, i64)> {
    let (_, key) = magic.split_once(';')?;
    let head = &magic[..magic.len() - key.len() - 1];
    let (a, b) = head.split_once(':')?;
    leading_integer(a)?;
    leading_integer(b)?;
    let key = decode_transition_key(key)?;
    Some((key.uuid, key.transition))
}

/// `pe__is_newer_op` as a comparator: negative when `a` is older.
fn newer_op(a: &OpRecord<'_>, b: &OpRecord<'_>) -> i32 {
    let same_node = match (a.on_node, b.on_node) {
        (Some(x), Some(y)) => x.eq_ignore_ascii_case(y),
        _ => true,
    };
    if same_node && a.id == b.id {
        return 0;
    }
    let (ac, bc) = (a.call_id, b.call_id);
    if ac == -1 && bc == -1 {
        return 0;
    } else if same_node && ac >= 0 && ac < bc {
        return -1;
    } else if same_node && bc >= 0 && ac > bc {
        return 1;
    } else if ac >= 0 && bc >= 0 && (!same_node || ac == bc) {
        let la = a.last_rc_change.unwrap_or(-1);
        let lb = b.last_rc_change.unwrap_or(-1);
        if la >= 0 && la < lb {
            return -1;
        } else if lb >= 0 && la > lb {
            return 1;
        }
        return 0;
    }
    let (Some(am), Some(bm)) = (a.magic, b.magic) else {
        return 0;
    };
    let (Some((au, at)), Some((bu, bt))) = (decode_magic(am), decode_magic(bm)) else {
        return 0;
    };
    if !au.eq_ignore_ascii_case(bu) || at == bt {
        if bc == -1 {
            return -1;
        } else if ac == -1 {
            return 1;
        }
    } else if (at >= 0 && at < bt) || bt == -1 {
        return -1;
    } else if (bt >= 0 && at > bt) || at == -1 {
        return 1;
    }
    0
}

/// GLib's `g_list_sort` (a stable top-down merge sort), so that operations
/// compare exactly as in Pacemaker even when the comparison is not a total
/// order (pending operations).
fn glib_merge_sort<T: Clone>(items: Vec<T>, cmp: &dyn Fn(&T, &T) -> i32) -> Vec<T> {
    if items.len() <= 1 {
        return items;
    }
    let half = (items.len() / 2).max(1);
    let mut left = items;
    let right = left.split_off(half);
    let left = glib_merge_sort(left, cmp);
    let right = glib_merge_sort(right, cmp);
    let mut out = Vec::with_capacity(left.len() + right.len());
    let (mut i, mut j) = (0, 0);
    while i < left.len() && j < right.len() {
        if cmp(&left[i], &right[j]) <= 0 {
            out.push(left[i].clone());
            i += 1;
        } else {
            out.push(right[j].clone());
            j += 1;
        }
    }
    out.extend_from_slice(&left[i..]);
    out.extend_from_slice(&right[j..]);
    out
}

/// A node's fail-count and last-failure attributes, indexed by the
/// resource names they can stand for (`fail-count-rsc#monitor_10000`, and
/// before feature set 3.0.13 `fail-count-rsc`).
#[derive(Debug, Clone)]
struct FailIndex {
    /// (is last-failure, value) per attribute.
    values: Vec<(bool, String)>,
    /// Name as written (with any `:N`) → attributes.
    exact: HashMap<String, Vec<usize>>,
    /// Name without its `:N` instance suffix → attributes (anonymous clones
    /// count every instance's failures).
    stripped: HashMap<String, Vec<usize>>,
}

impl FailIndex {
    fn build(attributes: &BTreeMap<String, String>, legacy: bool) -> FailIndex {
        let mut index = FailIndex {
            values: Vec::new(),
            exact: HashMap::new(),
            stripped: HashMap::new(),
        };
        for (key, value) in attributes {
            let (is_last, rest) = if let Some(r) = key.strip_prefix("fail-count-") {
                (false, r)
            } else if let Some(r) = key.strip_prefix("last-failure-") {
                (true, r)
            } else {
                continue;
            };
            let i = index.values.len();
            index.values.push((is_last, value.clone()));
            for candidate in fail_candidates(rest, legacy) {
                if let (base, Some(_)) = split_instance(&candidate) {
                    index.stripped.entry(base.to_string()).or_default().push(i);
                }
                index.exact.entry(candidate).or_default().push(i);
            }
        }
        index
    }
}

/// The resource names (with any instance suffix) a fail-count attribute
/// name (after its prefix) can belong to: `NAME` (legacy) or
/// `NAME#OP_INTERVAL`.
fn fail_candidates(rest: &str, legacy: bool) -> Vec<String> {
    if legacy {
        return vec![rest.to_string()];
    }
    let mut out = Vec::new();
    for (p, _) in rest.match_indices('#') {
        let tail = &rest[p + 1..];
        // `.+_[0-9]+$`
        let digits = tail.bytes().rev().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits >= tail.len() {
            continue;
        }
        let underscore = tail.len() - digits - 1;
        if underscore >= 1 && tail.as_bytes()[underscore] == b'_' {
            out.push(rest[..p].to_string());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transition_keys() {
        let k = decode_transition_key("4:1:7:03e4bb5f-f762-43ae-a1b0-d2319b3a598c").unwrap();
        assert_eq!((k.transition, k.target_rc), (1, 7));
        assert_eq!(k.uuid, "03e4bb5f-f762-43ae-a1b0-d2319b3a598c");
        let k = decode_transition_key("1:-1:0:xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx").unwrap();
        assert_eq!((k.transition, k.target_rc), (-1, 0));
        for bad in ["", "1:2:3", "1:2:3:", "a:2:3:u", "1:2:x:u"] {
            assert!(decode_transition_key(bad).is_none(), "{bad}");
        }
        assert_eq!(
            decode_magic("0:7;4:5:7:abcd").map(|(u, t)| (u.to_string(), t)),
            Some(("abcd".to_string(), 5))
        );
        assert!(decode_magic("0:7").is_none());
        // Found by the fuzzer: a multi-byte character across the 36th byte.
        let key = format!("1:2:3:{}", "é".repeat(40));
        assert_eq!(decode_transition_key(&key).unwrap().uuid.len(), 36);
        let key = format!("1:2:3:x{}", "é".repeat(40));
        assert_eq!(decode_transition_key(&key).unwrap().uuid.len(), 35);
    }

    #[test]
    fn fail_count_names() {
        assert_eq!(fail_candidates("rsc1#monitor_10000", false), vec!["rsc1"]);
        assert_eq!(fail_candidates("rsc1:2#start_0", false), vec!["rsc1:2"]);
        assert!(fail_candidates("rsc1", false).is_empty());
        assert!(fail_candidates("rsc1#_0", false).is_empty());
        assert_eq!(fail_candidates("rsc1", true), vec!["rsc1"]);
        assert_eq!(split_instance("rsc:12"), ("rsc", Some(12)));
        assert_eq!(split_instance("rsc:"), ("rsc:", None));
        assert_eq!(split_instance(":1"), (":1", None));
    }

    #[test]
    fn merge_sort_is_stable_and_total() {
        let v: Vec<(i32, i32)> = vec![(3, 0), (1, 1), (3, 2), (2, 3), (1, 4)];
        let sorted = glib_merge_sort(v, &|a, b| a.0 - b.0);
        assert_eq!(sorted, vec![(1, 1), (1, 4), (2, 3), (3, 0), (3, 2)]);
        // An inconsistent comparison must not panic.
        let v: Vec<i32> = (0..100).collect();
        let out = glib_merge_sort(v, &|a, b| if (a + b) % 3 == 0 { -1 } else { 1 });
        assert_eq!(out.len(), 100);
    }
}
