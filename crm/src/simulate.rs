//! crm_simulate-style rendering of a cluster and of what the engine decided.
//!
//! The text matches what Pacemaker 2.1.5's `crm_simulate -S` prints
//! (`LC_ALL=C`, text output) for the parts that describe placement:
//!
//! * [`current_status`]: `Current cluster status:` — the node list and the
//!   full list of resources, derived from the model's history;
//! * [`transition_summary`]: `Transition Summary:` — one line per change,
//!   with crm_simulate's column alignment, `due to` reasons and `(blocked)`,
//!   Fence lines first (newest fencing action first), stops of orphans last;
//! * [`revised_status`]: `Revised Cluster Status:` — the same list after the
//!   transition, derived again from the history the transition leaves, as
//!   crm_simulate reads its CIB again; actions a loop of orderings keeps
//!   from running ([`Transition::never_run`]) leave it unchanged;
//! * [`scores`]: the allocation score lines of `--show-scores`;
//! * [`placement_lines`]: the normalised `action` / `node` / `place` lines of
//!   the scheduler corpus (`placement/T.placement`), for conformance tests;
//! * [`to_json`]: everything above for tools.
//!
//! [`executed_actions`] prints the low-level actions in a readable form (the
//! `Executing Cluster Transition:` section); its order is the graph's, not
//! crm_simulate's, and it ends with crm_simulate's `Transition failed:
//! terminated` when some can never run. [`simulation`] puts the sections
//! together.
//!
//! Rendering never fails: indexes the model does not hold are printed as
//! `?`, never a panic.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt::Write as _;

use serde_json::{json, Value};

use crate::model::{
    Cluster, FenceAction, MultipleActive, NodeId, OnFail, Requires, ResourceId, ResourceKind, Role,
    Task,
};
use crate::transition::{
    Action, AllocationScore, Change, ChangeNote, Instance, Placed, Transition,
};

/// Which sections [`simulation`] prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Sections {
    /// Print the allocation scores (`--show-scores`) before the summary.
    pub scores: bool,
    /// Print `Using the original execution date of: …` first (the CIB's
    /// `execution-date`, Unix seconds), as crm_simulate does.
    pub execution_date: Option<i64>,
}

/// The whole `crm_simulate -S` text: notices, current status, (scores,)
/// transition summary, executed actions and revised status.
pub fn simulation(cluster: &Cluster, transition: &Transition, sections: Sections) -> String {
    let mut out = String::new();
    if let Some(date) = sections.execution_date {
        let _ = writeln!(
            out,
            "Using the original execution date of: {}Z",
            format_utc(date)
        );
    }
    out.push_str(&notices(cluster));
    out.push_str(&current_status(cluster));
    out.push('\n');
    if sections.scores {
        out.push_str("Allocation Scores:\n");
        for line in scores(cluster, transition).lines() {
            let _ = writeln!(out, "  * {line}");
        }
        out.push('\n');
    }
    out.push_str(&transition_summary(cluster, transition));
    out.push('\n');
    out.push_str(&executed_actions(cluster, transition));
    out.push('\n');
    out.push_str(&revised_status(cluster, transition));
    out
}

/// The lines crm_simulate prints before the current status: maintenance
/// mode, and how many resource instances are disabled or blocked.
pub fn notices(cluster: &Cluster) -> String {
    let view = current_view(cluster);
    let mut out = String::new();
    if cluster.options.maintenance_mode {
        out.push_str(
            "\n              *** Resource management is DISABLED ***\n  \
             The cluster will not attempt to start, stop or recover services\n\n",
        );
    }
    let (total, disabled, blocked) = view.instance_counts();
    if disabled > 0 || blocked > 0 {
        let _ = writeln!(
            out,
            "{disabled} of {total} resource instances DISABLED and {blocked} BLOCKED from \
             further action due to failure\n"
        );
    }
    out
}

/// `Current cluster status:` with the node list and every resource, as the
/// model's history leaves them.
pub fn current_status(cluster: &Cluster) -> String {
    let view = current_view(cluster);
    render_status("Current cluster status", &view, true)
}

/// `Revised Cluster Status:` — nodes and resources after the transition.
pub fn revised_status(cluster: &Cluster, transition: &Transition) -> String {
    let view = revised_view(cluster, transition);
    render_status("Revised Cluster Status", &view, false)
}

/// `Transition Summary:` — one line per change, fencing first, aligned as
/// crm_simulate aligns them.
pub fn transition_summary(cluster: &Cluster, transition: &Transition) -> String {
    let mut out = String::from("Transition Summary:\n");
    let lines = summary_lines(cluster, transition);
    // crm_simulate formats the summary twice (to its log, then to stdout)
    // with column widths that only grow, so every printed line uses the
    // widths of the whole summary.
    let mut widths = Widths::default();
    for line in &lines {
        line.text(&mut widths);
    }
    for line in &lines {
        let _ = writeln!(out, "  * {}", line.text(&mut widths));
    }
    out
}

/// The allocation score lines (`--show-scores`), in the engine's order:
/// `pcmk__primitive_assign: rsc allocation score on node1: 100`, and
/// `rsc:0 promotion score on node1: 10` for the `promotion` stage.
pub fn scores(cluster: &Cluster, transition: &Transition) -> String {
    let mut out = String::new();
    for s in &transition.scores {
        let node = score_node_name(cluster, s.node);
        if s.stage == "promotion" {
            let _ = writeln!(
                out,
                "{} promotion score on {}: {}",
                s.resource, node, s.score
            );
        } else {
            let _ = writeln!(
                out,
                "{}: {} allocation score on {}: {}",
                s.stage, s.resource, node, s.score
            );
        }
    }
    out
}

/// `Executing Cluster Transition:` — every action of the graph, in an order
/// that respects its edges: `* Resource action: rsc start on node1`,
/// `* Pseudo action: grp_running_0`, `* Fencing node1 (reboot)`. When a
/// cycle keeps some from ever running, they are left out and the section
/// ends as crm_simulate's does: `Transition failed: terminated`.
pub fn executed_actions(cluster: &Cluster, transition: &Transition) -> String {
    let mut out = String::from("Executing Cluster Transition:\n");
    for index in graph_order(transition) {
        if transition.never_run.contains(&index) {
            continue;
        }
        let text = match &transition.actions[index] {
            Action::Resource {
                instance,
                task,
                node,
            } => format!(
                "Resource action: {:<15} {} on {}",
                instance_label(cluster, *instance),
                task,
                node_name(cluster, *node)
            ),
            Action::Probe { instance, node } => format!(
                "Resource action: {:<15} monitor on {}",
                instance_label(cluster, *instance),
                node_name(cluster, *node)
            ),
            Action::Monitor {
                instance,
                node,
                interval_ms,
            } => format!(
                "Resource action: {:<15} monitor={} on {}",
                instance_label(cluster, *instance),
                interval_ms,
                node_name(cluster, *node)
            ),
            Action::Fence { node, action } => format!(
                "Fencing {} ({})",
                node_name(cluster, *node),
                fence_action_name(*action)
            ),
            Action::Pseudo {
                resource,
                task,
                done,
            } => format!(
                "Pseudo action:   {}_{}_0",
                resource_name(cluster, *resource),
                pseudo_task_name(*task, *done)
            ),
        };
        let _ = writeln!(out, "  * {text}");
    }
    if !transition.never_run.is_empty() {
        out.push_str("Transition failed: terminated\nAn invalid transition was produced\n");
    }
    out
}

/// The normalised, sorted lines of the scheduler corpus's
/// `placement/T.placement`: one `action` line per summary line (`reason=`
/// last), one `node` line per node after the transition, one `place` line
/// per (instance, node) after the transition.
pub fn placement_lines(cluster: &Cluster, transition: &Transition) -> Vec<String> {
    let mut lines = Vec::new();
    for line in summary_lines(cluster, transition) {
        lines.push(line.placement());
    }
    let view = revised_view(cluster, transition);
    for node in &view.nodes {
        lines.push(format!(
            "node\t{}\tonline={}\tstandby={}\tmaintenance={}\tunclean={}\tshutdown={}",
            node.name, node.online, node.standby, node.maintenance, node.unclean, node.shutdown
        ));
    }
    for place in view.places() {
        lines.push(format!(
            "place\t{}\t{}\t{}\t{}",
            place.path,
            place.role,
            place.node.as_deref().unwrap_or("-"),
            if place.flags.is_empty() {
                "-".to_string()
            } else {
                place.flags.join(",")
            }
        ));
    }
    lines.sort();
    lines
}

/// Everything in one JSON document for tools: `nodes` and `resources`
/// (current and revised), `summary`, `actions` with `edges`, and `scores`.
pub fn to_json(cluster: &Cluster, transition: &Transition) -> Value {
    to_json_with(cluster, transition, true)
}

/// [`to_json`], with the allocation scores only when `with_scores` (they
/// are one entry per resource, node and assignment stage: the bulk of the
/// document on a large cluster).
pub fn to_json_with(cluster: &Cluster, transition: &Transition, with_scores: bool) -> Value {
    let current = current_view(cluster);
    let revised = revised_view(cluster, transition);
    let summary: Vec<Value> = summary_lines(cluster, transition)
        .iter()
        .map(SummaryLine::json)
        .collect();
    let actions: Vec<Value> = transition
        .actions
        .iter()
        .map(|a| action_json(cluster, a))
        .collect();
    let scores: Vec<Value> = transition
        .scores
        .iter()
        .take(if with_scores { usize::MAX } else { 0 })
        .map(|s| {
            json!({
                "stage": s.stage,
                "resource": s.resource,
                "node": score_node_name(cluster, s.node),
                "score": s.score.to_string(),
            })
        })
        .collect();
    let mut doc = json!({
        "current": current.json(),
        "summary": summary,
        "actions": actions,
        "edges": transition.edges,
        "revised": revised.json(),
    });
    if let (true, Some(map)) = (with_scores, doc.as_object_mut()) {
        map.insert("scores".into(), Value::Array(scores));
    }
    doc
}

// ---------------------------------------------------------------------------
// Names

fn node_name(cluster: &Cluster, node: NodeId) -> &str {
    cluster.nodes.get(node.0).map_or("?", |n| n.name.as_str())
}

/// The node of a score line: `none` for [`AllocationScore::NO_NODE`] (a
/// promotion score of an instance that will not be active), as
/// crm_simulate prints it.
fn score_node_name(cluster: &Cluster, node: NodeId) -> &str {
    if node == AllocationScore::NO_NODE {
        "none"
    } else {
        node_name(cluster, node)
    }
}

fn resource_name(cluster: &Cluster, id: ResourceId) -> &str {
    cluster.resources.get(id.0).map_or("?", |r| r.id.as_str())
}

/// `rsc`, or `rsc:N` for a clone instance.
fn instance_label(cluster: &Cluster, instance: Instance) -> String {
    match instance.number {
        Some(n) => format!("{}:{}", resource_name(cluster, instance.resource), n),
        None => resource_name(cluster, instance.resource).to_string(),
    }
}

/// A task's name, as it displays.
fn task_name(task: Task) -> &'static str {
    match task {
        Task::Start => "start",
        Task::Stop => "stop",
        Task::Promote => "promote",
        Task::Demote => "demote",
    }
}

fn fence_action_name(action: FenceAction) -> &'static str {
    match action {
        FenceAction::Reboot => "reboot",
        FenceAction::Off => "off",
    }
}

fn pseudo_task_name(task: Task, done: bool) -> &'static str {
    match (task, done) {
        (Task::Start, false) => "start",
        (Task::Start, true) => "running",
        (Task::Stop, false) => "stop",
        (Task::Stop, true) => "stopped",
        (Task::Promote, false) => "promote",
        (Task::Promote, true) => "promoted",
        (Task::Demote, false) => "demote",
        (Task::Demote, true) => "demoted",
    }
}

/// The clone holding a resource (itself, a parent or a grandparent).
fn clone_of(cluster: &Cluster, id: ResourceId) -> Option<ResourceId> {
    let mut current = Some(id);
    let mut steps = 0;
    while let Some(c) = current {
        let r = cluster.resources.get(c.0)?;
        if matches!(r.kind, ResourceKind::Clone(_)) {
            return Some(c);
        }
        current = r.parent;
        steps += 1;
        if steps > cluster.resources.len() {
            return None;
        }
    }
    None
}

fn clone_data(cluster: &Cluster, id: ResourceId) -> Option<&crate::model::Clone> {
    match &cluster.resources.get(id.0)?.kind {
        ResourceKind::Clone(c) => Some(c),
        _ => None,
    }
}

fn is_promotable(cluster: &Cluster, id: ResourceId) -> bool {
    clone_of(cluster, id)
        .and_then(|c| clone_data(cluster, c))
        .is_some_and(|c| c.promotable)
}

/// `clone-max`, defaulting to the number of nodes.
fn clone_max(cluster: &Cluster, clone: &crate::model::Clone) -> usize {
    clone.clone_max.map_or(cluster.nodes.len(), |m| m as usize)
}

/// The role crm_simulate shows: Started inside a promotable clone is
/// Unpromoted.
fn displayable_role(role: Role, promotable: bool) -> Role {
    if role == Role::Started && promotable {
        Role::Unpromoted
    } else {
        role
    }
}

/// Pacemaker's node name order: case-insensitive, runs of digits compared
/// as numbers (`node2` before `node10`).
pub fn compare_node_names(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let a = a.as_bytes();
    let b = b.as_bytes();
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        if a[i].is_ascii_digit() && b[j].is_ascii_digit() {
            let si = i;
            while i < a.len() && a[i].is_ascii_digit() {
                i += 1;
            }
            let sj = j;
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            let na = trim_zeros(&a[si..i]);
            let nb = trim_zeros(&b[sj..j]);
            let by_value = na.len().cmp(&nb.len()).then_with(|| na.cmp(nb));
            if by_value != Ordering::Equal {
                return by_value;
            }
            let by_length = (i - si).cmp(&(j - sj));
            if by_length != Ordering::Equal {
                return by_length;
            }
        } else {
            let (x, y) = (a[i].to_ascii_lowercase(), b[j].to_ascii_lowercase());
            if x != y {
                return x.cmp(&y);
            }
            i += 1;
            j += 1;
        }
    }
    (a.len() - i.min(a.len()))
        .min(1)
        .cmp(&(b.len() - j.min(b.len())).min(1))
}

fn trim_zeros(digits: &[u8]) -> &[u8] {
    let first = digits
        .iter()
        .position(|&d| d != b'0')
        .unwrap_or(digits.len());
    &digits[first..]
}

/// `YYYY-MM-DD HH:MM:SS` in UTC for Unix seconds.
fn format_utc(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let secs = seconds.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
        y,
        m,
        d,
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

// ---------------------------------------------------------------------------
// Status views: what the node and resource lists show

/// A node as the status sections show it.
#[derive(Debug, Clone, PartialEq, Default)]
struct NodeView {
    /// The node's name.
    name: String,
    /// The node's state flags, as the model (or the transition) has them.
    online: bool,
    unclean: bool,
    pending: bool,
    standby: bool,
    standby_onfail: bool,
    maintenance: bool,
    shutdown: bool,
    /// Some resource is active there.
    active_resources: bool,
    /// 1 green, 0 yellow, -1 red (node-health-strategy).
    health: i32,
}

/// One primitive (or clone instance of one) as the status sections show it.
#[derive(Debug, Clone, PartialEq)]
struct PrimitiveView {
    /// The resource, when configured (orphans have none).
    resource: Option<ResourceId>,
    /// The name printed (and the last element of a `place` path): `rsc`,
    /// or `rsc:2` in globally-unique clones.
    label: String,
    /// `class:provider:type`.
    agent: String,
    /// Nodes it is active on, in history order.
    running_on: Vec<NodeId>,
    /// The highest role it has there (Stopped when inactive).
    role: Role,
    /// A pending operation and where (shown in the current status).
    pending: Option<(Task, NodeId)>,
    /// A failure needs handling (`FAILED`).
    failed: bool,
    /// Not in the configuration, or an instance beyond `clone-max`.
    orphan: bool,
    /// Left alone after a failure or multiple activity (`blocked`).
    blocked: bool,
    /// The cluster may act on it (`unmanaged` when not).
    managed: bool,
    /// A failure with `on-fail=ignore` (`failure ignored`).
    failure_ignored: bool,
    /// Its effective `target-role`.
    target_role: Option<Role>,
    /// Inside a promotable clone (Started shows as Unpromoted).
    promotable: bool,
    /// Masked probe failures of this resource: (node, OCF exit code).
    failed_probes: Vec<(NodeId, i32)>,
}

#[derive(Debug, Clone, PartialEq)]
struct GroupView {
    /// `grp`, or `grp:N` inside a clone.
    id: String,
    /// Its members, in order.
    members: Vec<PrimitiveView>,
    /// The group's own `is-managed` (`unmanaged` in its header).
    managed: bool,
    /// Its target-role stops it (`disabled` in its header).
    disabled: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum InstanceView {
    Primitive(PrimitiveView),
    Group(GroupView),
}

#[derive(Debug, Clone, PartialEq)]
struct CloneView {
    /// The clone's id.
    id: String,
    /// The cloned resource's id (`Clone Set: c [child]`).
    child_id: String,
    /// Promotable (`Promoted:` / `Unpromoted:` lists).
    promotable: bool,
    /// Globally unique (every instance listed by name).
    unique: bool,
    /// The clone's own `is-managed`.
    managed: bool,
    /// Its target-role stops it (or keeps a promotable clone unpromoted).
    disabled: bool,
    /// target-role of the clone, else of its child.
    configured_role: Option<Role>,
    /// `clone-max`.
    clone_max: usize,
    /// Instances by number, orphan instances last.
    instances: Vec<InstanceView>,
    /// Nodes an inactive instance could be listed on (`Stopped: [ … ]`).
    allowed: Vec<NodeId>,
}

#[derive(Debug, Clone, PartialEq)]
enum ItemView {
    Primitive(PrimitiveView),
    Group(GroupView),
    Clone(CloneView),
}

#[derive(Debug, Clone, PartialEq, Default)]
struct StatusView {
    /// Every node, in Pacemaker's name order.
    nodes: Vec<NodeView>,
    /// Node names by NodeId.
    names: Vec<String>,
    /// Online flag by NodeId.
    online: Vec<bool>,
    /// Unclean flag by NodeId.
    unclean: Vec<bool>,
    items: Vec<ItemView>,
}

/// A `place` line's path: its first `.1` parts joined with `/`.
#[derive(Clone, Copy)]
struct PlacePath<'a>([&'a str; 3], usize);

impl<'a> PlacePath<'a> {
    /// The path as text: the one part itself, else joined in `buffer`
    /// (reused from one place to the next).
    fn text<'b>(&self, buffer: &'b mut String) -> &'b str
    where
        'a: 'b,
    {
        if self.1 == 1 {
            return self.0[0];
        }
        buffer.clear();
        for (i, part) in self.0[..self.1].iter().enumerate() {
            if i > 0 {
                buffer.push('/');
            }
            buffer.push_str(part);
        }
        buffer
    }
}

impl std::fmt::Display for PlacePath<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, part) in self.0[..self.1].iter().enumerate() {
            if i > 0 {
                f.write_str("/")?;
            }
            f.write_str(part)?;
        }
        Ok(())
    }
}

/// A `place` line before formatting.
struct Place {
    path: String,
    role: Role,
    node: Option<String>,
    flags: Vec<&'static str>,
}

impl PrimitiveView {
    fn active(&self, view: &StatusView) -> bool {
        self.running_on.iter().any(|&n| {
            let unclean = view.unclean.get(n.0).copied().unwrap_or(false);
            let online = view.online.get(n.0).copied().unwrap_or(false);
            unclean || online || !self.managed
        })
    }

    /// Whether this member makes its group or clone count as running
    /// somewhere: Pacemaker adds the node of an unmanaged resource to its
    /// parents only when the node is online.
    fn runs_for_parent(&self, view: &StatusView) -> bool {
        self.running_on
            .iter()
            .any(|&n| self.managed || view.online.get(n.0).copied().unwrap_or(false))
    }

    fn display_role(&self) -> Role {
        displayable_role(self.role, self.promotable)
    }

    fn disabled(&self) -> bool {
        self.target_role == Some(Role::Stopped)
            || (self.promotable && self.target_role == Some(Role::Unpromoted))
    }

    /// The text after the agent: ` Started node1 (blocked)`.
    fn state_text(&self, view: &StatusView, show_pending: bool) -> String {
        let mut s = String::new();
        if self.orphan {
            s.push_str(" ORPHANED");
        }
        let role = self.display_role();
        if self.failed {
            s.push_str(" FAILED");
            if role == Role::Promoted {
                s.push_str(" Promoted");
            }
        } else {
            let pending = if show_pending {
                self.pending.map(|(task, _)| match task {
                    Task::Start => "Starting",
                    Task::Stop => "Stopping",
                    Task::Promote => "Promoting",
                    Task::Demote => "Demoting",
                })
            } else {
                None
            };
            s.push(' ');
            s.push_str(pending.unwrap_or(role_text(role)));
        }
        let multiple = self.running_on.len() > 1;
        let node = if multiple {
            None
        } else {
            self.running_on.first().copied().or(if show_pending {
                self.pending.map(|(_, n)| n)
            } else {
                None
            })
        };
        if let Some(n) = node {
            s.push(' ');
            s.push_str(view.name(n));
        }
        if role == Role::Stopped {
            let probe = self
                .failed_probes
                .iter()
                .find(|(n, _)| node.is_none() || node == Some(*n));
            if let Some((_, rc)) = probe {
                let _ = write!(s, " ({}) ", ocf_exit_text(*rc));
            }
        }
        let mut flags: Vec<String> = Vec::new();
        if let Some(n) = node {
            if !view.online.get(n.0).copied().unwrap_or(false)
                && view.unclean.get(n.0).copied().unwrap_or(false)
            {
                flags.push("UNCLEAN".into());
            }
        }
        match self.target_role {
            Some(Role::Stopped) => flags.push("disabled".into()),
            Some(Role::Unpromoted) if self.promotable => {
                flags.push("target-role:Unpromoted".into())
            }
            _ => {}
        }
        if self.blocked {
            flags.push("blocked".into());
        } else if !self.managed {
            flags.push("unmanaged".into());
        }
        if self.failure_ignored {
            flags.push("failure ignored".into());
        }
        if !flags.is_empty() {
            let _ = write!(s, " ({})", flags.join(", "));
        }
        if multiple {
            s.push_str(" [");
            for n in &self.running_on {
                s.push(' ');
                s.push_str(view.name(*n));
            }
            s.push_str(" ]");
        }
        s
    }

    fn line(&self, view: &StatusView, show_pending: bool) -> String {
        format!(
            "{}\t({}):\t{}",
            self.label,
            self.agent,
            self.state_text(view, show_pending)
        )
    }
}

/// Pacemaker's text for an OCF exit code (`services_ocf_exitcode_str`).
fn ocf_exit_text(rc: i32) -> &'static str {
    match rc {
        0 => "ok",
        1 => "error",
        2 => "invalid parameter",
        3 => "unimplemented feature",
        4 => "insufficient privileges",
        5 => "not installed",
        6 => "not configured",
        7 => "not running",
        8 => "promoted",
        9 => "promoted (failed)",
        190 => "degraded",
        191 => "promoted (degraded)",
        _ => "unknown",
    }
}

fn role_text(role: Role) -> &'static str {
    match role {
        Role::Stopped => "Stopped",
        Role::Started => "Started",
        Role::Unpromoted => "Unpromoted",
        Role::Promoted => "Promoted",
    }
}

impl GroupView {
    fn header(&self) -> String {
        let mut attrs = Vec::new();
        if !self.managed {
            attrs.push("unmanaged");
        }
        if self.disabled {
            attrs.push("disabled");
        }
        if attrs.is_empty() {
            format!("Resource Group: {}:", self.id)
        } else {
            format!("Resource Group: {} ({}):", self.id, attrs.join(", "))
        }
    }
}

impl InstanceView {
    fn members(&self) -> Vec<&PrimitiveView> {
        match self {
            InstanceView::Primitive(p) => vec![p],
            InstanceView::Group(g) => g.members.iter().collect(),
        }
    }

    fn active_any(&self, view: &StatusView) -> bool {
        self.members().iter().any(|m| m.active(view))
    }

    fn active_all(&self, view: &StatusView) -> bool {
        let members = self.members();
        !members.is_empty() && members.iter().all(|m| m.active(view))
    }

    fn pending(&self) -> bool {
        self.members().iter().any(|m| m.pending.is_some())
    }

    /// Active somewhere, yet running nowhere for its parents: Pacemaker's
    /// status output leaves such an instance out.
    fn hidden(&self, view: &StatusView) -> bool {
        let members = self.members();
        members.iter().any(|m| m.active(view)) && !members.iter().any(|m| m.runs_for_parent(view))
    }

    fn orphan_any(&self) -> bool {
        self.members().iter().any(|m| m.orphan)
    }

    fn unmanaged_any(&self) -> bool {
        self.members().iter().any(|m| !m.managed)
    }

    fn failed_any(&self) -> bool {
        self.members().iter().any(|m| m.failed)
    }

    /// The single node the instance runs on, if it runs on exactly one.
    fn location(&self) -> Option<NodeId> {
        let nodes: BTreeSet<NodeId> = self
            .members()
            .iter()
            .flat_map(|m| m.running_on.iter().copied())
            .collect();
        if nodes.len() == 1 {
            nodes.into_iter().next()
        } else {
            None
        }
    }

    fn role(&self) -> Role {
        self.members()
            .iter()
            .map(|m| m.role)
            .max()
            .unwrap_or(Role::Stopped)
    }
}

impl StatusView {
    fn name(&self, node: NodeId) -> &str {
        self.names.get(node.0).map_or("?", |n| n.as_str())
    }

    /// (instances, disabled, blocked) as crm_simulate counts them.
    fn instance_counts(&self) -> (usize, usize, usize) {
        let mut counts = (0, 0, 0);
        let mut count = |p: &PrimitiveView| {
            if !p.orphan || p.role > Role::Stopped {
                counts.0 += 1;
                if p.disabled() {
                    counts.1 += 1;
                }
                if p.blocked {
                    counts.2 += 1;
                }
            }
        };
        for item in &self.items {
            match item {
                ItemView::Primitive(p) => count(p),
                ItemView::Group(g) => g.members.iter().for_each(&mut count),
                ItemView::Clone(c) => {
                    for i in &c.instances {
                        i.members().into_iter().for_each(&mut count);
                    }
                }
            }
        }
        counts
    }

    fn places(&self) -> Vec<Place> {
        let mut out = Vec::new();
        let _ = self.each_place(|path, role, node, flags| -> Result<(), ()> {
            out.push(Place {
                path: path.to_string(),
                role,
                node: node.map(str::to_string),
                flags: flags.to_vec(),
            });
            Ok(())
        });
        out
    }

    /// Calls `f` with each `place` line's parts, in order, building none
    /// of them (the path is written as it is displayed); stops at the
    /// first error.
    fn each_place<E>(
        &self,
        mut f: impl FnMut(PlacePath<'_>, Role, Option<&str>, &[&'static str]) -> Result<(), E>,
    ) -> Result<(), E> {
        let mut add = |path: PlacePath<'_>, p: &PrimitiveView| -> Result<(), E> {
            let mut flags = [""; 5];
            let mut count = 0;
            for (set, flag) in [
                (p.failed, "failed"),
                (p.blocked, "blocked"),
                (p.orphan, "orphaned"),
                (!p.managed, "unmanaged"),
                (p.target_role == Some(Role::Stopped), "disabled"),
            ] {
                if set {
                    flags[count] = flag;
                    count += 1;
                }
            }
            let role = p.display_role();
            if p.running_on.is_empty() {
                f(path, role, None, &flags[..count])
            } else {
                for n in &p.running_on {
                    f(path, role, Some(self.name(*n)), &flags[..count])?;
                }
                Ok(())
            }
        };
        for item in &self.items {
            if item_hidden(self, item) {
                continue;
            }
            match item {
                // Inactive orphans are no longer listed.
                ItemView::Primitive(p) if p.orphan && !p.active(self) => {}
                ItemView::Primitive(p) => add(PlacePath([&p.label, "", ""], 1), p)?,
                ItemView::Group(g) => {
                    for m in &g.members {
                        add(PlacePath([&g.id, &m.label, ""], 2), m)?;
                    }
                }
                ItemView::Clone(c) => {
                    for i in &c.instances {
                        if matches!(i, InstanceView::Group(_)) && i.hidden(self) {
                            continue;
                        }
                        match i {
                            InstanceView::Primitive(p) => {
                                add(PlacePath([&c.id, &p.label, ""], 2), p)?
                            }
                            InstanceView::Group(g) => {
                                for m in &g.members {
                                    add(PlacePath([&c.id, &g.id, &m.label], 3), m)?;
                                }
                            }
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn json(&self) -> Value {
        let nodes: Vec<Value> = self
            .nodes
            .iter()
            .map(|n| {
                json!({
                    "name": n.name,
                    "online": n.online,
                    "standby": n.standby,
                    "maintenance": n.maintenance,
                    "unclean": n.unclean,
                    "shutdown": n.shutdown,
                    "pending": n.pending,
                })
            })
            .collect();
        let resources: Vec<Value> = self
            .places()
            .into_iter()
            .map(|p| {
                json!({
                    "path": p.path,
                    "role": role_text(p.role),
                    "node": p.node,
                    "flags": p.flags,
                })
            })
            .collect();
        json!({ "nodes": nodes, "resources": resources })
    }
}

// ---------------------------------------------------------------------------
// Rendering a status view

fn render_status(title: &str, view: &StatusView, show_pending: bool) -> String {
    let mut out = format!("{title}:\n");
    out.push_str("  * Node List:\n");
    let mut online = Vec::new();
    let mut offline = Vec::new();
    for node in &view.nodes {
        let individual = node.unclean
            || node.pending
            || (node.standby_onfail && node.online)
            || node.standby
            || node.maintenance
            || node.health <= 0;
        if individual {
            let mut line = format!("Node {}: {}", node.name, node_status_text(node));
            if node.health < 0 {
                line.push_str(" (health is RED)");
            } else if node.health == 0 {
                line.push_str(" (health is YELLOW)");
            }
            let _ = writeln!(out, "    * {line}");
        } else if node.online {
            online.push(node.name.as_str());
        } else {
            offline.push(node.name.as_str());
        }
    }
    if !online.is_empty() {
        let _ = writeln!(out, "    * Online: [ {} ]", online.join(" "));
    }
    if !offline.is_empty() {
        let _ = writeln!(out, "    * OFFLINE: [ {} ]", offline.join(" "));
    }
    out.push('\n');
    out.push_str("  * Full List of Resources:\n");
    let mut printed = false;
    for item in &view.items {
        let mut lines = Vec::new();
        match item {
            ItemView::Primitive(p) => {
                if p.orphan && !p.active(view) {
                    continue;
                }
                lines.push((0, p.line(view, show_pending)));
            }
            ItemView::Group(g) => {
                if item_hidden(view, item) {
                    continue;
                }
                group_lines(view, g, 0, show_pending, &mut lines)
            }
            ItemView::Clone(c) => {
                if item_hidden(view, item) {
                    continue;
                }
                clone_lines(view, c, show_pending, &mut lines)
            }
        }
        for (depth, line) in lines {
            printed = true;
            let _ = writeln!(out, "    {}* {}", "  ".repeat(depth), line);
        }
    }
    if !printed {
        out.push_str("    * No resources\n");
    }
    out
}

/// Whether Pacemaker's resource list leaves a group or clone out: it is
/// active (on an unclean node) but running nowhere for its parents.
fn item_hidden(view: &StatusView, item: &ItemView) -> bool {
    match item {
        ItemView::Primitive(_) => false,
        ItemView::Group(g) => {
            g.members.iter().any(|m| m.active(view))
                && !g.members.iter().any(|m| m.runs_for_parent(view))
        }
        ItemView::Clone(c) => {
            c.instances
                .iter()
                .any(|i| i.members().iter().any(|m| m.active(view)))
                && !c
                    .instances
                    .iter()
                    .any(|i| i.members().iter().any(|m| m.runs_for_parent(view)))
        }
    }
}

fn node_status_text(node: &NodeView) -> &'static str {
    if node.unclean {
        if node.online {
            "UNCLEAN (online)"
        } else if node.pending {
            "UNCLEAN (pending)"
        } else {
            "UNCLEAN (offline)"
        }
    } else if node.pending {
        "pending"
    } else if node.standby_onfail && node.online {
        "standby (on-fail)"
    } else if node.standby {
        if node.online {
            if node.active_resources {
                "standby (with active resources)"
            } else {
                "standby"
            }
        } else {
            "OFFLINE (standby)"
        }
    } else if node.maintenance {
        if node.online {
            "maintenance"
        } else {
            "OFFLINE (maintenance)"
        }
    } else if node.online {
        "online"
    } else {
        "OFFLINE"
    }
}

fn group_lines(
    view: &StatusView,
    group: &GroupView,
    depth: usize,
    show_pending: bool,
    lines: &mut Vec<(usize, String)>,
) {
    lines.push((depth, group.header()));
    for m in &group.members {
        lines.push((depth + 1, m.line(view, show_pending)));
    }
}

fn clone_lines(
    view: &StatusView,
    clone: &CloneView,
    show_pending: bool,
    lines: &mut Vec<(usize, String)>,
) {
    let mut attrs = Vec::new();
    if clone.promotable {
        attrs.push("promotable");
    }
    if clone.unique {
        attrs.push("unique");
    }
    if !clone.managed {
        attrs.push("unmanaged");
    }
    if clone.disabled {
        attrs.push("disabled");
    }
    let header = if attrs.is_empty() {
        format!("Clone Set: {} [{}]:", clone.id, clone.child_id)
    } else {
        format!(
            "Clone Set: {} [{}] ({}):",
            clone.id,
            clone.child_id,
            attrs.join(", ")
        )
    };
    lines.push((0, header));
    let mut promoted: Vec<NodeId> = Vec::new();
    let mut started: Vec<NodeId> = Vec::new();
    for instance in &clone.instances {
        if matches!(instance, InstanceView::Group(_)) && instance.hidden(view) {
            continue;
        }
        let partially_active = instance.active_any(view);
        let print_full = if clone.unique || (show_pending && instance.pending()) {
            true
        } else if !partially_active {
            false
        } else if instance.orphan_any() || instance.unmanaged_any() || instance.failed_any() {
            true
        } else if instance.active_all(view) {
            match instance.location() {
                Some(node) => {
                    let online = view.online.get(node.0).copied().unwrap_or(false);
                    let unclean = view.unclean.get(node.0).copied().unwrap_or(false);
                    if !online && unclean {
                        true
                    } else {
                        if instance.role() > Role::Unpromoted {
                            promoted.push(node);
                        } else {
                            started.push(node);
                        }
                        false
                    }
                }
                None => true,
            }
        } else {
            true
        };
        if print_full {
            match instance {
                InstanceView::Primitive(p) => lines.push((1, p.line(view, show_pending))),
                InstanceView::Group(g) => group_lines(view, g, 1, show_pending, lines),
            }
        }
    }
    let sort = |nodes: &mut Vec<NodeId>| {
        nodes.sort_by(|a, b| compare_node_names(view.name(*a), view.name(*b)));
    };
    sort(&mut promoted);
    sort(&mut started);
    let list = |nodes: &[NodeId]| {
        nodes
            .iter()
            .map(|n| view.name(*n))
            .collect::<Vec<_>>()
            .join(" ")
    };
    if !promoted.is_empty() {
        lines.push((1, format!("Promoted: [ {} ]", list(&promoted))));
    }
    if !started.is_empty() {
        let label = if clone.promotable {
            if clone.configured_role == Some(Role::Unpromoted) {
                "Unpromoted (target-role)"
            } else {
                "Unpromoted"
            }
        } else {
            "Started"
        };
        lines.push((1, format!("{label}: [ {} ]", list(&started))));
    }
    let active_instances = promoted.len() + started.len();
    if !clone.unique && clone.clone_max > active_instances {
        // The clone's own node list: an unmanaged instance counts only on
        // an online node.
        let running: BTreeSet<NodeId> = clone
            .instances
            .iter()
            .flat_map(|i| {
                i.members()
                    .into_iter()
                    .flat_map(|m| {
                        m.running_on
                            .iter()
                            .copied()
                            .filter(|n| m.managed || view.online.get(n.0).copied().unwrap_or(false))
                            .collect::<Vec<_>>()
                    })
                    .collect::<Vec<_>>()
            })
            .collect();
        let mut stopped: Vec<NodeId> = clone
            .allowed
            .iter()
            .copied()
            .filter(|n| !running.contains(n))
            .collect();
        sort(&mut stopped);
        let probes: Vec<(NodeId, i32)> = clone
            .instances
            .first()
            .map(|i| {
                i.members()
                    .first()
                    .map(|m| m.failed_probes.clone())
                    .unwrap_or_default()
            })
            .unwrap_or_default();
        let mut by_state: BTreeMap<String, Vec<NodeId>> = BTreeMap::new();
        for node in stopped {
            let state = match probes.iter().find(|(n, _)| *n == node) {
                Some((_, rc)) => format!("Stopped ({})", ocf_exit_text(*rc)),
                None if clone.configured_role == Some(Role::Stopped) => {
                    "Stopped (disabled)".to_string()
                }
                None => "Stopped".to_string(),
            };
            by_state.entry(state).or_default().push(node);
        }
        for (state, nodes) in by_state {
            lines.push((1, format!("{state}: [ {} ]", list(&nodes))));
        }
    }
}

// ---------------------------------------------------------------------------
// The current view, from the model's history

/// Where each history entry lands: the clone instance (for anonymous
/// clones, numbered as Pacemaker numbers them while unpacking) and whether
/// it is an orphan instance.
#[derive(Debug, Clone, Copy)]
struct Slot {
    number: Option<u32>,
    orphan: bool,
}

/// The order in which Pacemaker unpacks the history: with fencing
/// disabled, online nodes first (so active clone instances get the low
/// numbers), then the rest.
fn history_order(cluster: &Cluster, st: &State<'_>) -> Vec<usize> {
    let online = |i: usize| {
        st.history
            .get(i)
            .and_then(|h| st.nodes.get(h.node.0))
            .is_some_and(|n| n.online)
    };
    // Entries made from fail counts alone are no history to unpack.
    let mut order: Vec<usize> = (0..st.history.len())
        .filter(|i| !st.failcount_only.contains(i))
        .collect();
    if !cluster.options.stonith_enabled {
        order.sort_by_key(|&i| !online(i));
    }
    order
}

fn needs_fencing(cluster: &Cluster, id: ResourceId) -> bool {
    let Some(r) = cluster.resources.get(id.0) else {
        return false;
    };
    match r.meta.requires {
        Some(Requires::Fencing) => true,
        Some(_) => false,
        None => {
            let stonith_class =
                matches!(&r.kind, ResourceKind::Primitive(p) if p.class == "stonith");
            cluster.options.stonith_enabled && !stonith_class
        }
    }
}

/// Numbers the history entries of anonymous clones the way Pacemaker's
/// unpacker does: an entry joins the instance already active on its node,
/// else the first instance not active anywhere; a second active history of
/// the same primitive on one node, an entry when every instance is taken,
/// and (for resources not requiring fencing) an active entry on a lost node
/// become orphan instances numbered from `clone-max` up.
fn assign_slots(cluster: &Cluster, st: &State<'_>) -> Vec<Slot> {
    let mut slots = vec![
        Slot {
            number: None,
            orphan: false
        };
        st.history.len()
    ];
    // Per clone: instance number → nodes it is active on, and the
    // primitives running in it.
    struct Instances {
        located: Vec<Option<NodeId>>,
        running: Vec<BTreeSet<ResourceId>>,
        pending_elsewhere: Vec<Option<NodeId>>,
    }
    let mut per_clone: BTreeMap<ResourceId, Instances> = BTreeMap::new();
    for index in history_order(cluster, st) {
        let h = &st.history[index];
        let Some(clone_id) = clone_of(cluster, h.resource) else {
            continue;
        };
        let Some(clone) = clone_data(cluster, clone_id) else {
            continue;
        };
        let max = clone_max(cluster, clone);
        if clone.globally_unique {
            let n = h.instance.unwrap_or(0);
            slots[index] = Slot {
                number: Some(n),
                orphan: n as usize >= max,
            };
            continue;
        }
        let inst = per_clone.entry(clone_id).or_insert_with(|| Instances {
            located: vec![None; max],
            running: vec![BTreeSet::new(); max],
            pending_elsewhere: vec![None; max],
        });
        let active = h.role > Role::Stopped || h.pending.is_some();
        let mut chosen: Option<usize> = None;
        let mut skip_inactive = false;
        let mut inactive: Option<usize> = None;
        for k in 0..inst.located.len() {
            match inst.located[k] {
                Some(node) if node == h.node => {
                    if inst.running[k].contains(&h.resource) {
                        skip_inactive = true;
                    } else {
                        chosen = Some(k);
                    }
                    break;
                }
                Some(_) => {}
                None => {
                    if !skip_inactive && inactive.is_none() {
                        let pending_other = inst.pending_elsewhere[k].is_some_and(|n| n != h.node);
                        if !pending_other {
                            inactive = Some(k);
                        }
                    }
                }
            }
        }
        if chosen.is_none() && !skip_inactive {
            chosen = inactive;
        }
        let node = st.nodes.get(h.node.0);
        let lost = node.is_some_and(|n| !n.online || n.unclean);
        if chosen.is_some() && !needs_fencing(cluster, h.resource) && lost && max != st.nodes.len()
        {
            chosen = None;
        }
        match chosen {
            Some(k) => {
                if active && k < max {
                    inst.located[k] = Some(h.node);
                    inst.running[k].insert(h.resource);
                }
                slots[index] = Slot {
                    number: Some(k as u32),
                    orphan: k >= max,
                };
            }
            None => {
                let k = inst.located.len();
                inst.located.push(if active { Some(h.node) } else { None });
                let mut running = BTreeSet::new();
                if active {
                    running.insert(h.resource);
                }
                inst.running.push(running);
                inst.pending_elsewhere.push(None);
                slots[index] = Slot {
                    number: Some(k as u32),
                    orphan: true,
                };
            }
        }
    }
    slots
}

/// Accumulates a primitive instance's state from history entries.
fn base_primitive(
    cluster: &Cluster,
    st: &State<'_>,
    id: ResourceId,
    number: Option<u32>,
) -> PrimitiveView {
    let r = &cluster.resources[id.0];
    let agent = match &r.kind {
        ResourceKind::Primitive(p) => p.agent_spec(),
        _ => String::new(),
    };
    let unique = clone_of(cluster, id)
        .and_then(|c| clone_data(cluster, c))
        .is_some_and(|c| c.globally_unique);
    let label = match number {
        Some(n) if unique => format!("{}:{}", r.id, n),
        _ => r.id.clone(),
    };
    let managed = r.meta.managed && !r.meta.maintenance && !cluster.options.maintenance_mode;
    PrimitiveView {
        resource: Some(id),
        label,
        agent,
        running_on: Vec::new(),
        role: Role::Stopped,
        pending: None,
        failed: false,
        orphan: false,
        blocked: false,
        managed,
        failure_ignored: false,
        target_role: r.meta.target_role,
        promotable: is_promotable(cluster, id),
        failed_probes: st
            .failed_probes
            .iter()
            .filter(|f| f.resource == id)
            .map(|f| (f.node, f.rc))
            .collect(),
    }
}

/// The parts of a cluster that a status derives from: its nodes and what
/// the history says. The configuration comes from the [`Cluster`] itself.
struct State<'a> {
    nodes: &'a [crate::model::Node],
    history: &'a [crate::model::History],
    orphans: &'a [crate::model::Orphan],
    failed_probes: &'a [crate::model::FailedProbe],
    /// History entries made from fail counts alone (not "known" there).
    failcount_only: BTreeSet<usize>,
}

impl<'a> State<'a> {
    fn of(cluster: &'a Cluster) -> State<'a> {
        State {
            nodes: &cluster.nodes,
            history: &cluster.history,
            orphans: &cluster.orphans,
            failed_probes: &cluster.failed_probes,
            failcount_only: cluster.failcount_only.iter().copied().collect(),
        }
    }
}

fn current_view(cluster: &Cluster) -> StatusView {
    derive_view(cluster, &State::of(cluster))
}

fn derive_view(cluster: &Cluster, st: &State<'_>) -> StatusView {
    let slots = assign_slots(cluster, st);
    // (primitive, instance number) → state.
    let mut states: HashMap<(ResourceId, Option<u32>), PrimitiveView> =
        HashMap::with_capacity(st.history.len());
    // Orphan instances of clones, in creation order: (clone, number).
    let mut orphan_instances: BTreeMap<ResourceId, BTreeSet<u32>> = BTreeMap::new();
    // Nodes with any history of each clone (opt-in clusters list these).
    let mut known_on: BTreeMap<ResourceId, BTreeSet<NodeId>> = BTreeMap::new();
    for index in history_order(cluster, st) {
        let h = &st.history[index];
        if h.resource.0 >= cluster.resources.len() || h.node.0 >= st.nodes.len() {
            continue;
        }
        let slot = slots[index];
        let clone = clone_of(cluster, h.resource);
        if let Some(c) = clone {
            known_on.entry(c).or_default().insert(h.node);
            if slot.orphan {
                if let Some(n) = slot.number {
                    orphan_instances.entry(c).or_default().insert(n);
                }
            }
        }
        let key = (h.resource, if clone.is_some() { slot.number } else { None });
        let state = states
            .entry(key)
            .or_insert_with(|| base_primitive(cluster, st, h.resource, key.1));
        if slot.orphan {
            state.orphan = true;
        }
        let node = &st.nodes[h.node.0];
        let ignored = h.on_fail == Some(OnFail::Ignore) || h.failure_ignored;
        if h.failure_ignored {
            state.failure_ignored = true;
        }
        if let Some(task) = h.pending {
            state.pending = Some((task, h.node));
        }
        if h.role > Role::Stopped {
            if !state.running_on.contains(&h.node) {
                state.running_on.push(h.node);
            }
            if h.role > state.role {
                state.role = h.role;
            }
            if node.maintenance {
                state.managed = false;
            }
            if h.failed && !ignored {
                state.failed = true;
                if h.on_fail == Some(OnFail::Block) {
                    state.blocked = true;
                    state.managed = false;
                }
            }
        } else if h.failed && h.on_fail == Some(OnFail::Block) {
            state.blocked = true;
            state.managed = false;
        }
    }
    // multiple-active=block leaves the resource alone, and with the group
    // configured so, the whole group: when it becomes active on a second
    // node while still managed (a node in maintenance among the first two
    // made it unmanaged already, and Pacemaker then checks no further).
    let mut blocked_groups: Vec<(ResourceId, Option<u32>)> = Vec::new();
    for ((id, number), state) in states.iter_mut() {
        let r = &cluster.resources[id.0];
        let configured_managed =
            r.meta.managed && !r.meta.maintenance && !cluster.options.maintenance_mode;
        let maintenance_first = state
            .running_on
            .iter()
            .take(2)
            .any(|n| st.nodes.get(n.0).is_some_and(|node| node.maintenance));
        if state.running_on.len() > 1
            && r.meta.multiple_active == MultipleActive::Block
            && configured_managed
            && !maintenance_first
        {
            state.blocked = true;
            state.managed = false;
            if let Some(parent) = r.parent {
                let p = &cluster.resources[parent.0];
                if matches!(p.kind, ResourceKind::Group(_))
                    && p.meta.multiple_active == MultipleActive::Block
                {
                    blocked_groups.push((parent, *number));
                }
            }
        }
    }
    for (group, number) in blocked_groups {
        if let ResourceKind::Group(g) = &cluster.resources[group.0].kind {
            for &member in &g.members {
                let state = states
                    .entry((member, number))
                    .or_insert_with(|| base_primitive(cluster, st, member, number));
                state.blocked = true;
                state.managed = false;
            }
        }
    }
    let mut view = base_view(cluster, st);
    for node in &mut view.nodes {
        node.active_resources = false;
    }
    let mut active_nodes: BTreeSet<NodeId> = states
        .values()
        .flat_map(|s| s.running_on.iter().copied())
        .collect();
    for o in st.orphans {
        if o.role > Role::Stopped {
            active_nodes.insert(o.node);
        }
    }
    for (i, name) in view.names.clone().iter().enumerate() {
        if active_nodes.contains(&NodeId(i)) {
            if let Some(n) = view.nodes.iter_mut().find(|n| &n.name == name) {
                n.active_resources = true;
            }
        }
    }
    view.items = build_items(cluster, st, &mut states, &orphan_instances, &known_on);
    // Orphans of primitives outside clones, in history order.
    let mut orphan_views: Vec<PrimitiveView> = Vec::new();
    for o in st.orphans {
        let existing = orphan_views.iter_mut().find(|p| p.label == o.id);
        let view_entry = match existing {
            Some(p) => p,
            None => {
                orphan_views.push(PrimitiveView {
                    resource: None,
                    label: o.id.clone(),
                    agent: o.agent_spec.clone(),
                    running_on: Vec::new(),
                    role: Role::Stopped,
                    pending: None,
                    failed: false,
                    orphan: true,
                    blocked: o.blocked,
                    managed: o.managed && !o.blocked,
                    failure_ignored: false,
                    target_role: None,
                    promotable: false,
                    failed_probes: Vec::new(),
                });
                let last = orphan_views.len() - 1;
                &mut orphan_views[last]
            }
        };
        if o.role > Role::Stopped && !view_entry.running_on.contains(&o.node) {
            view_entry.running_on.push(o.node);
            view_entry.role = view_entry.role.max(o.role);
            if o.failed {
                view_entry.failed = true;
            }
        }
    }
    view.items
        .extend(orphan_views.into_iter().map(ItemView::Primitive));
    view
}

/// The node part of a view, from the model (before the transition).
fn base_view(cluster: &Cluster, st: &State<'_>) -> StatusView {
    let health_on = cluster
        .options
        .other
        .get("node-health-strategy")
        .is_some_and(|s| !s.eq_ignore_ascii_case("none"));
    let mut nodes: Vec<NodeView> = st
        .nodes
        .iter()
        .map(|n| NodeView {
            name: n.name.clone(),
            online: n.online,
            unclean: n.unclean,
            pending: n.pending,
            standby: n.standby,
            standby_onfail: n.standby_onfail,
            maintenance: n.maintenance,
            shutdown: n.shutdown,
            active_resources: false,
            health: if health_on {
                node_health(&n.attributes)
            } else {
                1
            },
        })
        .collect();
    nodes.sort_by(|a, b| compare_node_names(&a.name, &b.name));
    StatusView {
        nodes,
        names: st.nodes.iter().map(|n| n.name.clone()).collect(),
        online: st.nodes.iter().map(|n| n.online).collect(),
        unclean: st.nodes.iter().map(|n| n.unclean).collect(),
        items: Vec::new(),
    }
}

/// Pacemaker's node health colour from `#health*` attributes: -1 red,
/// 0 yellow, 1 green.
fn node_health(attributes: &BTreeMap<String, String>) -> i32 {
    let mut health = 1;
    for (name, value) in attributes {
        if !name.starts_with("#health") {
            continue;
        }
        if value.eq_ignore_ascii_case("red") {
            return -1;
        } else if value.eq_ignore_ascii_case("yellow") {
            health = 0;
        } else if let Ok(score) = value.parse::<crate::score::Score>() {
            if score.is_minus_infinity() {
                return -1;
            }
        }
    }
    health
}

/// Builds the resource items in configuration order, taking primitive
/// states from `states` (keyed by primitive and instance number).
fn build_items(
    cluster: &Cluster,
    st: &State<'_>,
    states: &mut HashMap<(ResourceId, Option<u32>), PrimitiveView>,
    orphan_instances: &BTreeMap<ResourceId, BTreeSet<u32>>,
    known_on: &BTreeMap<ResourceId, BTreeSet<NodeId>>,
) -> Vec<ItemView> {
    let mut items = Vec::new();
    // Pacemaker lists (and schedules) resources by priority, highest
    // first, configuration order among equals.
    let mut tops: Vec<ResourceId> = cluster.top_level().collect();
    tops.sort_by_key(|t| std::cmp::Reverse(cluster.resources[t.0].meta.priority));
    for top in tops {
        let r = &cluster.resources[top.0];
        match &r.kind {
            ResourceKind::Primitive(_) => {
                let p = states
                    .remove(&(top, None))
                    .unwrap_or_else(|| base_primitive(cluster, st, top, None));
                items.push(ItemView::Primitive(p));
            }
            ResourceKind::Group(g) => {
                items.push(ItemView::Group(group_view(
                    cluster, st, top, &g.members, None, states,
                )));
            }
            ResourceKind::Clone(c) => {
                let max = clone_max(cluster, c);
                let mut numbers: Vec<u32> = (0..max as u32).collect();
                if let Some(extra) = orphan_instances.get(&top) {
                    numbers.extend(extra.iter().copied().filter(|&n| n as usize >= max));
                }
                let child = c.child;
                let mut instances = Vec::new();
                for n in numbers {
                    let orphan = n as usize >= max;
                    let instance = match cluster.resources.get(child.0).map(|r| &r.kind) {
                        Some(ResourceKind::Group(g)) => {
                            let mut gv =
                                group_view(cluster, st, child, &g.members, Some(n), states);
                            if orphan {
                                for m in &mut gv.members {
                                    m.orphan = true;
                                }
                            }
                            InstanceView::Group(gv)
                        }
                        Some(ResourceKind::Primitive(_)) => {
                            let mut p = states
                                .remove(&(child, Some(n)))
                                .unwrap_or_else(|| base_primitive(cluster, st, child, Some(n)));
                            if orphan {
                                p.orphan = true;
                            }
                            InstanceView::Primitive(p)
                        }
                        _ => continue,
                    };
                    instances.push(instance);
                }
                let allowed: Vec<NodeId> = if cluster.options.symmetric_cluster {
                    (0..st.nodes.len()).map(NodeId).collect()
                } else {
                    // Opt-in: before constraints, the clone's nodes are
                    // those its history bans (hard and fatal errors,
                    // on-fail=stop), else those it is known on.
                    let banned = clone_ban_nodes(cluster, top, st.nodes.len());
                    if banned.is_empty() {
                        known_on
                            .get(&top)
                            .map(|s| s.iter().copied().collect())
                            .unwrap_or_default()
                    } else {
                        banned
                    }
                };
                let child_resource = cluster.resources.get(child.0);
                let configured_role = r
                    .meta
                    .target_role
                    .or_else(|| child_resource.and_then(|cr| cr.meta.target_role));
                items.push(ItemView::Clone(CloneView {
                    id: r.id.clone(),
                    child_id: child_resource.map_or_else(String::new, |cr| cr.id.clone()),
                    promotable: c.promotable,
                    unique: c.globally_unique,
                    managed: r.meta.managed
                        && !r.meta.maintenance
                        && !cluster.options.maintenance_mode,
                    disabled: r.meta.target_role == Some(Role::Stopped)
                        || (c.promotable && r.meta.target_role == Some(Role::Unpromoted)),
                    configured_role,
                    clone_max: max,
                    instances,
                    allowed,
                }));
            }
        }
    }
    items
}

/// The nodes the history bans a whole (anonymous) clone from: Pacemaker
/// adds them to the clone's node table while reading the status.
fn clone_ban_nodes(cluster: &Cluster, clone: ResourceId, nodes: usize) -> Vec<NodeId> {
    let unique = clone_data(cluster, clone).is_some_and(|c| c.globally_unique);
    let mut out: BTreeSet<NodeId> = BTreeSet::new();
    for ban in &cluster.history_bans {
        if clone_of(cluster, ban.resource) != Some(clone) || (ban.instance_only || unique) {
            continue;
        }
        match ban.node {
            Some(n) if n.0 < nodes => {
                out.insert(n);
            }
            Some(_) => {}
            None => out.extend((0..nodes).map(NodeId)),
        }
    }
    out.into_iter().collect()
}

fn group_view(
    cluster: &Cluster,
    st: &State<'_>,
    group: ResourceId,
    members: &[ResourceId],
    number: Option<u32>,
    states: &mut HashMap<(ResourceId, Option<u32>), PrimitiveView>,
) -> GroupView {
    let r = &cluster.resources[group.0];
    let id = match number {
        Some(n) => format!("{}:{}", r.id, n),
        None => r.id.clone(),
    };
    let members: Vec<PrimitiveView> = members
        .iter()
        .filter(|m| m.0 < cluster.resources.len())
        .map(|&m| {
            states
                .remove(&(m, number))
                .unwrap_or_else(|| base_primitive(cluster, st, m, number))
        })
        .collect();
    let promotable = is_promotable(cluster, group);
    GroupView {
        id,
        members,
        managed: r.meta.managed && !r.meta.maintenance && !cluster.options.maintenance_mode,
        disabled: r.meta.target_role == Some(Role::Stopped)
            || (promotable && r.meta.target_role == Some(Role::Unpromoted)),
    }
}

// ---------------------------------------------------------------------------
// The revised view, from the transition

/// The status after the transition: crm_simulate executes every action,
/// records each result in the CIB's history, then reads the CIB again. The
/// same is done here from the engine's final placement, and the result goes
/// through the same derivation as the current status (so clone instances
/// are numbered, and left-over histories become orphan instances, the way
/// Pacemaker's re-read makes them).
fn revised_view(cluster: &Cluster, transition: &Transition) -> StatusView {
    let after = simulated_cluster(cluster, transition);
    let after = State {
        nodes: &after.nodes,
        history: &after.history,
        orphans: &after.orphans,
        failed_probes: &after.failed_probes,
        failcount_only: after.failcount_only.clone(),
    };
    // Everything, unmanaged and blocked included, as the re-read history
    // says: crm_simulate reads the CIB again.
    derive_view(cluster, &after)
}

/// The key a history entry and a placement share: the primitive, the
/// instance number for globally-unique clones (anonymous instances are
/// numbered while reading), the node.
type HistoryKey = (ResourceId, Option<u32>, NodeId);

fn history_key(
    unique: &[bool],
    resource: ResourceId,
    instance: Option<u32>,
    node: NodeId,
) -> HistoryKey {
    let unique = unique.get(resource.0).copied().unwrap_or(false);
    (
        resource,
        if unique {
            Some(instance.unwrap_or(0))
        } else {
            None
        },
        node,
    )
}

/// The state parts of [`State`], owned: what the transition leaves.
struct Simulated {
    nodes: Vec<crate::model::Node>,
    history: Vec<crate::model::History>,
    orphans: Vec<crate::model::Orphan>,
    failed_probes: Vec<crate::model::FailedProbe>,
    /// Entries still made from fail counts alone: nothing ran there.
    failcount_only: BTreeSet<usize>,
}

/// The cluster as the transition leaves it: nodes as the engine says
/// (fenced nodes offline, clean, their history and transient attributes
/// cleared), each primitive's history entry on a node set to its final role
/// there (new entries after the node's others, probes first), orphans whose
/// history is deleted gone.
fn simulated_cluster(cluster: &Cluster, transition: &Transition) -> Simulated {
    let mut after = Simulated {
        nodes: cluster.nodes.clone(),
        history: Vec::new(),
        orphans: cluster.orphans.clone(),
        failed_probes: cluster.failed_probes.clone(),
        failcount_only: BTreeSet::new(),
    };
    // Fenced: every node with a Fence line, unless its fencing is stuck
    // behind a cycle of the graph (then it never runs).
    let mut fenced: BTreeSet<NodeId> = BTreeSet::new();
    let mut stuck_fencing: BTreeSet<NodeId> = BTreeSet::new();
    for (i, action) in transition.actions.iter().enumerate() {
        if let Action::Fence { node, .. } = action {
            if transition.never_run.contains(&i) {
                stuck_fencing.insert(*node);
            } else {
                fenced.insert(*node);
            }
        }
    }
    for change in &transition.summary {
        if let Change::Fence { node, .. } = change {
            if !stuck_fencing.contains(node) {
                fenced.insert(*node);
            }
        }
    }
    for a in &transition.nodes {
        if let Some(node) = after.nodes.get_mut(a.node.0) {
            node.online = a.online;
            node.unclean = a.unclean;
            node.standby = a.standby;
            if !a.standby {
                node.standby_onfail = false;
            }
        }
    }
    for n in &fenced {
        if let Some(node) = after.nodes.get_mut(n.0) {
            node.shutdown = false;
            node.unclean = false;
        }
    }
    // Whether each resource is inside a globally-unique clone.
    let unique: Vec<bool> = (0..cluster.resources.len())
        .map(|i| {
            clone_of(cluster, ResourceId(i))
                .and_then(|c| clone_data(cluster, c))
                .is_some_and(|c| c.globally_unique)
        })
        .collect();
    // Final placement per (primitive, unique instance, node): sorted by
    // key, each key's placements in placement order (a stable sort), read
    // a key at a time.
    let mut finals: Vec<(HistoryKey, &Placed)> = Vec::with_capacity(transition.placement.len());
    for p in &transition.placement {
        let Some(node) = p.node else { continue };
        if p.role == Role::Stopped
            || p.instance.resource.0 >= cluster.resources.len()
            || node.0 >= cluster.nodes.len()
        {
            continue;
        }
        let key = history_key(&unique, p.instance.resource, p.instance.number, node);
        finals.push((key, p));
    }
    finals.sort_by_key(|a| a.0);
    let final_places: Vec<&Placed> = finals.iter().map(|(_, p)| *p).collect();
    // A key's placements.
    let wanted_for = |key: &HistoryKey| -> &[&Placed] {
        let from = finals.partition_point(|(k, _)| k < key);
        let to = from + finals[from..].partition_point(|(k, _)| k == key);
        &final_places[from..to]
    };
    // Entries made from fail counts alone stay as they are, at the end:
    // they are no operation history, so nothing is recorded in them.
    let mut history: Vec<crate::model::History> = Vec::new();
    let mut failcount_tail: Vec<crate::model::History> = Vec::new();
    for (i, h) in cluster.history.iter().enumerate() {
        if fenced.contains(&h.node) {
            continue;
        }
        if cluster.failcount_only.contains(&i) {
            failcount_tail.push(h.clone());
        } else {
            history.push(h.clone());
        }
    }
    // Where the transition starts an instance: a start there leaves the
    // recurring monitors recorded before it out of the re-read, and with
    // them an ignored failure.
    let mut started: HashSet<HistoryKey> = HashSet::with_capacity(transition.actions.len());
    started.extend(
        transition
            .actions
            .iter()
            .enumerate()
            .filter(|(i, _)| transition.never_run.binary_search(i).is_err())
            .filter_map(|(_, a)| match a {
                Action::Resource {
                    instance,
                    task: Task::Start,
                    node,
                } => Some(history_key(
                    &unique,
                    instance.resource,
                    instance.number,
                    *node,
                )),
                _ => None,
            }),
    );
    let set_final = |h: &mut crate::model::History, p: &Placed| {
        if h.role != p.role {
            h.pending = None;
        }
        if started.contains(&history_key(&unique, h.resource, h.instance, h.node)) {
            h.failure_ignored = false;
        }
        h.role = p.role;
        // A failure stays recorded on its node until an action there clears
        // it; the transition fails nothing new.
        h.failed &= p.failed;
        if !h.failed {
            h.on_fail = None;
        }
    };
    // How many of each key's placements the entries already stand for;
    // active entries beyond that are stopped. crm_simulate records a result
    // in the last history element with the resource's id, so an entry
    // followed by a duplicate of itself (same recorded id on the same node:
    // an invalid CIB) keeps its role.
    let mut last_copy: HashMap<(ResourceId, Option<u32>, NodeId), usize> =
        HashMap::with_capacity(history.len());
    for (i, h) in history.iter().enumerate() {
        last_copy.insert((h.resource, h.instance, h.node), i);
    }
    let mut satisfied: HashMap<HistoryKey, usize> = HashMap::with_capacity(history.len());
    for (i, h) in history.iter_mut().enumerate() {
        let key = history_key(&unique, h.resource, h.instance, h.node);
        let wanted = wanted_for(&key);
        let done = satisfied.get(&key).copied().unwrap_or(0);
        if last_copy.get(&(h.resource, h.instance, h.node)) != Some(&i) {
            if h.role > Role::Stopped && done < wanted.len() {
                satisfied.insert(key, done + 1);
            }
            continue;
        }
        match wanted.get(done) {
            Some(p) if h.role > Role::Stopped => {
                set_final(h, p);
                satisfied.insert(key, done + 1);
            }
            _ => {
                // Stopped. A failure that was ignored stays in the
                // history (crm_simulate records the stop after it), and
                // the status still says so.
                if h.role > Role::Stopped {
                    h.role = Role::Stopped;
                    h.failed = false;
                    h.on_fail = None;
                    h.pending = None;
                }
            }
        }
    }
    // Entries to add, per node: probes first, then what starts there.
    let mut added: BTreeMap<NodeId, Vec<crate::model::History>> = BTreeMap::new();
    let mut node_order: Vec<NodeId> = Vec::new();
    let mut known: HashSet<HistoryKey> = history
        .iter()
        .map(|h| history_key(&unique, h.resource, h.instance, h.node))
        .collect();
    fn add(
        added: &mut BTreeMap<NodeId, Vec<crate::model::History>>,
        node_order: &mut Vec<NodeId>,
        entry: crate::model::History,
    ) {
        if !added.contains_key(&entry.node) {
            node_order.push(entry.node);
        }
        added.entry(entry.node).or_default().push(entry);
    }
    let blank = |resource: ResourceId, instance: Option<u32>, node: NodeId| crate::model::History {
        resource,
        instance,
        node,
        role: Role::Stopped,
        failed: false,
        on_fail: None,
        pending: None,
        fail_count: 0,
        last_failure: None,
        next_role: None,
        failure_ignored: false,
    };
    for action in &transition.actions {
        if let Action::Probe { instance, node } = action {
            if instance.resource.0 >= cluster.resources.len()
                || node.0 >= cluster.nodes.len()
                || fenced.contains(node)
            {
                continue;
            }
            let key = history_key(&unique, instance.resource, instance.number, *node);
            if known.insert(key) {
                add(&mut added, &mut node_order, blank(key.0, key.1, key.2));
            }
        }
    }
    // Where each key's entries are (history and added, in order): the
    // search for a stopped one to reuse is then per key, not a scan of
    // every entry for every placement.
    let mut history_at: HashMap<HistoryKey, Vec<usize>> = HashMap::with_capacity(history.len());
    for (i, h) in history.iter().enumerate() {
        history_at
            .entry(history_key(&unique, h.resource, h.instance, h.node))
            .or_default()
            .push(i);
    }
    let mut added_at: HashMap<HistoryKey, Vec<usize>> = HashMap::with_capacity(finals.len());
    for entries in added.values() {
        for (i, h) in entries.iter().enumerate() {
            added_at
                .entry(history_key(&unique, h.resource, h.instance, h.node))
                .or_default()
                .push(i);
        }
    }
    let mut next = 0;
    while let Some(&(first_key, _)) = finals.get(next) {
        let key = &first_key;
        let count = finals[next..].partition_point(|(k, _)| *k == first_key);
        let wanted = &final_places[next..next + count];
        next += count;
        let done = satisfied.get(key).copied().unwrap_or(0);
        // Anonymous clone instances that newly run on one node share one
        // history entry there (crm_simulate records them all under the
        // resource's name): the highest role stands.
        let merged: Option<Placed> =
            if key.1.is_none() && clone_of(cluster, key.0).is_some() && wanted.len() > done + 1 {
                wanted[done..]
                    .iter()
                    .max_by_key(|p| p.role)
                    .map(|p| (*p).clone())
            } else {
                None
            };
        let merged = merged.as_ref();
        let rest: &[&Placed] = match &merged {
            Some(p) => std::slice::from_ref(p),
            None => wanted.get(done..).unwrap_or(&[]),
        };
        for &p in rest {
            // The first stopped entry of the key, in the history, else
            // among the added ones.
            let stopped = |at: Option<&Vec<usize>>, entries: &[crate::model::History]| {
                at.and_then(|list| {
                    list.iter()
                        .copied()
                        .find(|&i| entries.get(i).is_some_and(|h| h.role == Role::Stopped))
                })
            };
            if let Some(i) = stopped(history_at.get(key), &history) {
                set_final(&mut history[i], p);
                continue;
            }
            let on_node = added.get(&key.2).map_or(&[][..], |v| v.as_slice());
            if let Some(i) = stopped(added_at.get(key), on_node) {
                if let Some(h) = added.get_mut(&key.2).and_then(|v| v.get_mut(i)) {
                    set_final(h, p);
                }
                continue;
            }
            let mut entry = blank(key.0, key.1, key.2);
            set_final(&mut entry, p);
            let position = added.get(&key.2).map_or(0, Vec::len);
            add(&mut added, &mut node_order, entry);
            added_at.entry(*key).or_default().push(position);
        }
    }
    // Rebuild in status order: each node's new entries after its others.
    // A node without history yet gets its entries where its node_state
    // is, taken to be in configuration order among the nodes with history.
    let with_history: BTreeSet<NodeId> = history.iter().map(|h| h.node).collect();
    let mut newcomers: Vec<NodeId> = node_order
        .iter()
        .copied()
        .filter(|n| !with_history.contains(n))
        .collect();
    newcomers.sort_unstable();
    let mut newcomers = newcomers.into_iter().peekable();
    let mut rebuilt = Vec::with_capacity(
        history.len() + failcount_tail.len() + added.values().map(Vec::len).sum::<usize>(),
    );
    let mut current: Option<NodeId> = None;
    for h in history {
        if current != Some(h.node) {
            if let Some(extra) = current.and_then(|c| added.remove(&c)) {
                rebuilt.extend(extra);
            }
            while let Some(n) = newcomers.next_if(|n| n.0 < h.node.0) {
                if let Some(extra) = added.remove(&n) {
                    rebuilt.extend(extra);
                }
            }
            current = Some(h.node);
        }
        rebuilt.push(h);
    }
    if let Some(extra) = current.and_then(|c| added.remove(&c)) {
        rebuilt.extend(extra);
    }
    for n in newcomers.chain(node_order) {
        if let Some(extra) = added.remove(&n) {
            rebuilt.extend(extra);
        }
    }
    after.failcount_only = (rebuilt.len()..rebuilt.len() + failcount_tail.len()).collect();
    rebuilt.extend(failcount_tail);
    after.history = rebuilt;
    after.failed_probes.retain(|f| !fenced.contains(&f.node));
    // An orphan's history on an online node is deleted (after its stop);
    // on a fenced node it is cleared with the rest.
    after.orphans.retain(|o| {
        let online = cluster.nodes.get(o.node.0).is_some_and(|n| n.online);
        let delete = o.managed && !o.blocked;
        !(fenced.contains(&o.node) || (delete && online))
    });
    after
}

// ---------------------------------------------------------------------------
// Transition Summary lines

/// crm_simulate widens its columns as it prints (static widths).
#[derive(Debug)]
struct Widths {
    resource: usize,
    details: usize,
}

impl Default for Widths {
    fn default() -> Self {
        Widths {
            resource: 5,
            details: 5,
        }
    }
}

/// One summary line with everything both renderings need.
#[derive(Debug, Clone, PartialEq)]
enum SummaryLine {
    Resource {
        /// `Start`, `Stop`, `Move`, `Recover`, `Restart`, `Promote`, `Demote`.
        change: &'static str,
        resource: String,
        /// Role before and after.
        role: Role,
        next_role: Role,
        origin: Option<String>,
        destination: Option<String>,
        reason: Option<String>,
        blocked: bool,
    },
    Fence {
        node: String,
        action: FenceAction,
        reason: String,
    },
}

impl SummaryLine {
    fn need_role(&self) -> bool {
        match self {
            SummaryLine::Resource {
                role, next_role, ..
            } => *role > Role::Started || *next_role > Role::Unpromoted,
            SummaryLine::Fence { .. } => false,
        }
    }

    /// The `( … )` details and the XML attributes crm_simulate gives them.
    fn details(&self) -> (String, Vec<(&'static str, String)>) {
        let SummaryLine::Resource {
            role,
            next_role,
            origin,
            destination,
            ..
        } = self
        else {
            return (String::new(), Vec::new());
        };
        let need_role = self.need_role();
        let same_host = origin.is_some() && origin == destination;
        let same_role = role == next_role;
        let r = role_text(*role).to_string();
        let nr = role_text(*next_role).to_string();
        match (origin, destination) {
            (None, Some(d)) if need_role => (
                format!("{r} -> {nr} {d}"),
                vec![("role", r), ("next-role", nr), ("dest", d.clone())],
            ),
            (None, Some(d)) => (d.clone(), vec![("node", d.clone())]),
            (Some(o), None) if need_role => {
                (format!("{r} {o}"), vec![("role", r), ("node", o.clone())])
            }
            (Some(o), None) => (o.clone(), vec![("node", o.clone())]),
            (Some(o), Some(_)) if need_role && same_role && same_host => {
                (format!("{r} {o}"), vec![("role", r), ("source", o.clone())])
            }
            (Some(o), Some(_)) if same_role && same_host => {
                (o.clone(), vec![("source", o.clone())])
            }
            (Some(o), Some(d)) if need_role && same_role => (
                format!("{o} -> {d} {r}"),
                vec![("source", o.clone()), ("dest", d.clone()), ("role", r)],
            ),
            (Some(o), Some(d)) if same_role => (
                format!("{o} -> {d}"),
                vec![("source", o.clone()), ("dest", d.clone())],
            ),
            (Some(o), Some(_)) if same_host => (
                format!("{r} -> {nr} {o}"),
                vec![("role", r), ("next-role", nr), ("source", o.clone())],
            ),
            (Some(o), Some(d)) => (
                format!("{r} {o} -> {nr} {d}"),
                vec![
                    ("role", r),
                    ("source", o.clone()),
                    ("next-role", nr),
                    ("dest", d.clone()),
                ],
            ),
            (None, None) => (String::new(), Vec::new()),
        }
    }

    /// [`SummaryLine::details`]'s attributes without building anything:
    /// (name, value) pairs, the first `count` of the array, names with `_`
    /// for `-` as the JSON document writes them.
    fn json_attributes(&self) -> ([(&'static str, &str); 4], usize) {
        let mut out = [("", ""); 4];
        let SummaryLine::Resource {
            role,
            next_role,
            origin,
            destination,
            ..
        } = self
        else {
            return (out, 0);
        };
        let need_role = self.need_role();
        let same_host = origin.is_some() && origin == destination;
        let same_role = role == next_role;
        let r = role_text(*role);
        let nr = role_text(*next_role);
        let mut count = 0;
        let mut push = |name: &'static str, value| {
            out[count] = (name, value);
            count += 1;
        };
        // The arms of `details`, in its order.
        match (origin.as_deref(), destination.as_deref()) {
            (None, Some(d)) if need_role => {
                push("role", r);
                push("next_role", nr);
                push("dest", d);
            }
            (None, Some(d)) => push("node", d),
            (Some(o), None) if need_role => {
                push("role", r);
                push("node", o);
            }
            (Some(o), None) => push("node", o),
            (Some(o), Some(_)) if need_role && same_role && same_host => {
                push("role", r);
                push("source", o);
            }
            (Some(o), Some(_)) if same_role && same_host => push("source", o),
            (Some(o), Some(d)) if need_role && same_role => {
                push("source", o);
                push("dest", d);
                push("role", r);
            }
            (Some(o), Some(d)) if same_role => {
                push("source", o);
                push("dest", d);
            }
            (Some(o), Some(_)) if same_host => {
                push("role", r);
                push("next_role", nr);
                push("source", o);
            }
            (Some(o), Some(d)) => {
                push("role", r);
                push("source", o);
                push("next_role", nr);
                push("dest", d);
            }
            (None, None) => {}
        }
        (out, count)
    }

    fn reason_text(&self) -> Option<String> {
        match self {
            SummaryLine::Resource {
                reason: Some(r),
                blocked: true,
                ..
            } => Some(format!("due to {r} (blocked)")),
            SummaryLine::Resource {
                reason: Some(r), ..
            } => Some(format!("due to {r}")),
            SummaryLine::Resource { blocked: true, .. } => Some("blocked".into()),
            _ => None,
        }
    }

    fn text(&self, widths: &mut Widths) -> String {
        match self {
            SummaryLine::Fence {
                node,
                action,
                reason,
            } => format!(
                "Fence ({}) {} '{}'",
                fence_action_name(*action),
                node,
                reason
            ),
            SummaryLine::Resource {
                change, resource, ..
            } => {
                if resource.len() > widths.resource {
                    widths.resource = resource.len() + 2;
                }
                let (details, _) = self.details();
                widths.details = widths.details.max(details.len());
                let reason = self.reason_text();
                format!(
                    "{:<8}   {:<rw$}   ( {:>dw$} ){}{}",
                    change,
                    resource,
                    details,
                    if reason.is_some() { "  " } else { "" },
                    reason.unwrap_or_default(),
                    rw = widths.resource,
                    dw = widths.details
                )
            }
        }
    }

    /// The `action` line of a placement file.
    fn placement(&self) -> String {
        match self {
            SummaryLine::Fence {
                node,
                action,
                reason,
            } => format!(
                "action\ttask=Fence ({})\tnode={}\treason={}",
                fence_action_name(*action),
                node,
                reason
            ),
            SummaryLine::Resource {
                change,
                resource,
                reason,
                blocked,
                ..
            } => {
                let (_, mut attrs) = self.details();
                if *blocked {
                    attrs.push(("blocked", "true".into()));
                }
                let rank = |k: &str| match k {
                    "node" => 2,
                    "source" => 3,
                    "dest" => 4,
                    _ => 9,
                };
                attrs.sort_by(|a, b| rank(a.0).cmp(&rank(b.0)).then(a.0.cmp(b.0)));
                let mut s = format!(
                    "action\taction={}\tresource={}",
                    change.to_ascii_lowercase(),
                    resource
                );
                for (k, v) in attrs {
                    let _ = write!(s, "\t{k}={v}");
                }
                if let Some(r) = reason {
                    let _ = write!(s, "\treason={r}");
                }
                s
            }
        }
    }

    fn json(&self) -> Value {
        match self {
            SummaryLine::Fence {
                node,
                action,
                reason,
            } => json!({
                "action": "fence",
                "fence_action": fence_action_name(*action),
                "node": node,
                "reason": reason,
            }),
            SummaryLine::Resource {
                change,
                resource,
                reason,
                blocked,
                ..
            } => {
                let (_, attrs) = self.details();
                let mut map = serde_json::Map::new();
                map.insert("action".into(), json!(change.to_ascii_lowercase()));
                map.insert("resource".into(), json!(resource));
                for (k, v) in attrs {
                    map.insert(k.replace('-', "_"), json!(v));
                }
                map.insert("reason".into(), json!(reason));
                map.insert("blocked".into(), json!(blocked));
                Value::Object(map)
            }
        }
    }
}

/// Roles before and after the transition, indexed once per summary.
struct Roles {
    /// (primitive, node) → the highest role its history leaves there.
    before: BTreeMap<(ResourceId, NodeId), Role>,
    /// (instance, node, role) where each ends active, by instance (each
    /// instance's in placement order).
    after: Vec<(Instance, Option<NodeId>, Role)>,
}

impl Roles {
    fn new(cluster: &Cluster, transition: &Transition) -> Roles {
        let mut before: BTreeMap<(ResourceId, NodeId), Role> = BTreeMap::new();
        for h in &cluster.history {
            let role = before.entry((h.resource, h.node)).or_insert(h.role);
            *role = (*role).max(h.role);
        }
        let mut after: Vec<(Instance, Option<NodeId>, Role)> = transition
            .placement
            .iter()
            .filter(|p| p.role > Role::Stopped)
            .map(|p| (p.instance, p.node, p.role))
            .collect();
        // Stable: each instance's places stay in placement order.
        after.sort_by_key(|a| a.0);
        Roles { before, after }
    }

    /// The role a primitive has on a node before the transition (Started
    /// when the history does not say).
    fn before(&self, resource: ResourceId, node: NodeId) -> Role {
        match self.before.get(&(resource, node)) {
            Some(Role::Stopped) | None => Role::Started,
            Some(role) => *role,
        }
    }

    /// The role an instance ends in (on `node` when it ends there).
    fn after(&self, instance: Instance, node: NodeId) -> Option<Role> {
        let from = self.after.partition_point(|p| p.0 < instance);
        let count = self.after[from..].partition_point(|p| p.0 == instance);
        let places = &self.after[from..from + count];
        places
            .iter()
            .find(|(_, n, _)| *n == Some(node))
            .or_else(|| places.last())
            .map(|(_, _, role)| *role)
    }
}

/// crm_simulate's rsc->role for a promotable instance: Started means
/// Unpromoted there.
fn engine_role(role: Role, promotable: bool) -> Role {
    if promotable && role == Role::Started {
        Role::Unpromoted
    } else {
        role
    }
}

fn summary_lines(cluster: &Cluster, transition: &Transition) -> Vec<SummaryLine> {
    let notes: BTreeMap<usize, &ChangeNote> =
        transition.notes.iter().map(|n| (n.change, n)).collect();
    let roles = Roles::new(cluster, transition);
    // crm_simulate lists resources as it holds them: top-level resources by
    // priority (configuration order among equals), each group's members in
    // order, a clone's instances as it last sorted them: by number when it
    // scheduled probes (startup probes on, a node online and clean), else
    // as assignment sorted them (the engine's order).
    let by_number =
        cluster.options.startup_probes && cluster.nodes.iter().any(|n| n.online && !n.unclean);
    let mut tops: Vec<ResourceId> = cluster.top_level().collect();
    tops.sort_by_key(|t| std::cmp::Reverse(cluster.resources[t.0].meta.priority));
    let mut rank = vec![usize::MAX; cluster.resources.len()];
    for (i, t) in tops.iter().enumerate() {
        rank[t.0] = i;
    }
    let mut fences = Vec::new();
    let mut resources = Vec::new();
    for (index, change) in transition.summary.iter().enumerate() {
        let note = notes.get(&index);
        let reason = note.and_then(|n| n.reason.clone());
        let blocked = note.is_some_and(|n| n.blocked);
        let name = |n: NodeId| node_name(cluster, n).to_string();
        let line = |change: &'static str,
                    instance: Instance,
                    role: Role,
                    next_role: Role,
                    origin: Option<NodeId>,
                    destination: Option<NodeId>| {
            let promotable = is_promotable(cluster, instance.resource);
            let key = (
                rank.get(top_of(cluster, instance.resource).0)
                    .copied()
                    .unwrap_or(usize::MAX),
                if by_number {
                    instance.number.unwrap_or(0)
                } else {
                    0
                },
            );
            let line = SummaryLine::Resource {
                change,
                resource: instance_label(cluster, instance),
                role: engine_role(role, promotable),
                next_role: engine_role(next_role, promotable),
                origin: origin.map(name),
                destination: destination.map(name),
                reason: reason.clone(),
                blocked,
            };
            (key, line)
        };
        match change {
            Change::Fence {
                node,
                action,
                reason,
            } => fences.push(SummaryLine::Fence {
                node: name(*node),
                action: *action,
                reason: reason.clone(),
            }),
            Change::Start { instance, node } => {
                let next = roles.after(*instance, *node).unwrap_or(Role::Started);
                resources.push(line(
                    "Start",
                    *instance,
                    Role::Stopped,
                    next,
                    None,
                    Some(*node),
                ));
            }
            Change::Stop { instance, node } => {
                let role = roles.before(instance.resource, *node);
                resources.push(line(
                    "Stop",
                    *instance,
                    role,
                    Role::Stopped,
                    Some(*node),
                    None,
                ));
            }
            Change::Move { instance, from, to } => {
                let role = roles.before(instance.resource, *from);
                let next = roles.after(*instance, *to).unwrap_or(role);
                resources.push(line("Move", *instance, role, next, Some(*from), Some(*to)));
            }
            Change::Recover { instance, from, to } => {
                let role = roles.before(instance.resource, *from);
                let next = roles.after(*instance, *to).unwrap_or(role);
                let promotable = is_promotable(cluster, instance.resource);
                let same_role = engine_role(role, promotable) == engine_role(next, promotable);
                // In place with an unchanged role, crm_simulate gives no
                // destination; otherwise origin and destination.
                let destination = if from == to && same_role {
                    None
                } else {
                    Some(*to)
                };
                resources.push(line(
                    "Recover",
                    *instance,
                    role,
                    next,
                    Some(*from),
                    destination,
                ));
            }
            Change::Restart { instance, node } => {
                let role = roles.before(instance.resource, *node);
                let next = roles.after(*instance, *node).unwrap_or(role);
                resources.push(line(
                    "Restart",
                    *instance,
                    role,
                    next,
                    Some(*node),
                    Some(*node),
                ));
            }
            Change::Promote {
                instance,
                from,
                node,
            } => {
                let origin = if *from == Role::Stopped {
                    None
                } else {
                    Some(*node)
                };
                resources.push(line(
                    "Promote",
                    *instance,
                    *from,
                    Role::Promoted,
                    origin,
                    Some(*node),
                ));
            }
            Change::Demote { instance, to, node } => {
                if *to == Role::Stopped {
                    resources.push(line(
                        "Stop",
                        *instance,
                        Role::Promoted,
                        Role::Stopped,
                        Some(*node),
                        None,
                    ));
                } else {
                    resources.push(line(
                        "Demote",
                        *instance,
                        Role::Promoted,
                        *to,
                        Some(*node),
                        Some(*node),
                    ));
                }
            }
        }
    }
    resources.sort_by_key(|(key, _)| *key);
    fences.extend(resources.into_iter().map(|(_, line)| line));
    fences.extend(orphan_stop_lines(cluster, transition));
    fences
}

/// `Stop old ( node )  due to node availability` for every orphan the
/// transition stops. Pacemaker creates an orphan's resource when its
/// history first names it, after every configured resource: the lines come
/// last, one resource after the other in that order, each on its nodes in
/// history order.
fn orphan_stop_lines(cluster: &Cluster, transition: &Transition) -> Vec<SummaryLine> {
    let mut ids: Vec<&str> = Vec::new();
    for o in &cluster.orphans {
        if !ids.contains(&o.id.as_str()) {
            ids.push(&o.id);
        }
    }
    let mut lines = Vec::new();
    let mut stops: Vec<(usize, bool)> = transition
        .stopped_orphans
        .iter()
        .map(|&i| (i, false))
        .chain(transition.blocked_orphans.iter().map(|&i| (i, true)))
        .collect();
    stops.sort_unstable();
    for id in ids {
        for &(index, blocked) in &stops {
            let Some(o) = cluster.orphans.get(index) else {
                continue;
            };
            if o.id != id {
                continue;
            }
            lines.push(SummaryLine::Resource {
                change: "Stop",
                resource: o.id.clone(),
                role: if o.role == Role::Stopped {
                    Role::Started
                } else {
                    o.role
                },
                next_role: Role::Stopped,
                origin: Some(node_name(cluster, o.node).to_string()),
                destination: None,
                reason: Some("node availability".to_string()),
                blocked,
            });
        }
    }
    lines
}

/// The top-level resource holding `id` (itself when top-level).
fn top_of(cluster: &Cluster, id: ResourceId) -> ResourceId {
    let mut current = id;
    for _ in 0..cluster.resources.len() {
        match cluster.resources.get(current.0).and_then(|r| r.parent) {
            Some(parent) => current = parent,
            None => break,
        }
    }
    current
}

// ---------------------------------------------------------------------------
// Actions

fn action_json(cluster: &Cluster, action: &Action) -> Value {
    match action {
        Action::Resource {
            instance,
            task,
            node,
        } => json!({
            "type": "resource",
            "resource": instance_label(cluster, *instance),
            "task": task.to_string(),
            "node": node_name(cluster, *node),
        }),
        Action::Probe { instance, node } => json!({
            "type": "probe",
            "resource": instance_label(cluster, *instance),
            "node": node_name(cluster, *node),
        }),
        Action::Monitor {
            instance,
            node,
            interval_ms,
        } => json!({
            "type": "monitor",
            "resource": instance_label(cluster, *instance),
            "node": node_name(cluster, *node),
            "interval_ms": interval_ms,
        }),
        Action::Fence { node, action } => json!({
            "type": "fence",
            "node": node_name(cluster, *node),
            "action": fence_action_name(*action),
        }),
        Action::Pseudo {
            resource,
            task,
            done,
        } => json!({
            "type": "pseudo",
            "name": format!("{}_{}_0", resource_name(cluster, *resource), pseudo_task_name(*task, *done)),
        }),
    }
}

/// Action indexes in an order that respects the graph's edges (Kahn's
/// algorithm, lowest index first among the ready ones); actions on a cycle
/// follow in index order.
fn graph_order(transition: &Transition) -> Vec<usize> {
    let n = transition.actions.len();
    let mut indegree = vec![0usize; n];
    let mut after: Vec<Vec<usize>> = vec![Vec::new(); n];
    for &(a, b) in &transition.edges {
        if a < n && b < n && a != b {
            after[a].push(b);
            indegree[b] += 1;
        }
    }
    let mut ready: BTreeSet<usize> = (0..n).filter(|&i| indegree[i] == 0).collect();
    let mut order = Vec::with_capacity(n);
    let mut done = vec![false; n];
    while let Some(&i) = ready.iter().next() {
        ready.remove(&i);
        order.push(i);
        done[i] = true;
        for &j in &after[i] {
            indegree[j] -= 1;
            if indegree[j] == 0 {
                ready.insert(j);
            }
        }
    }
    order.extend((0..n).filter(|&i| !done[i]));
    order
}

// ---------------------------------------------------------------------------
// JSON without a Value

/// [`to_json_with`]'s document, serialized directly rather than built as a
/// [`Value`] first: `serde_json::to_string_pretty(&json_document(…))` is
/// the text of `serde_json::to_string_pretty` of [`to_json_with`]'s value
/// with the `extra` members inserted, at a fraction of the cost (a `Value`
/// is a tree of maps and strings, one per member of every object; at
/// 10,000 resources building, printing and freeing it is most of a
/// `crm simulate --json` run).
pub struct JsonDocument<'a> {
    cluster: &'a Cluster,
    transition: &'a Transition,
    with_scores: bool,
    current: StatusView,
    revised: StatusView,
    summary: Vec<SummaryLine>,
    extra: BTreeMap<String, Value>,
}

/// The document of [`to_json_with`] plus `extra` top-level members (one of
/// the same name as the document's replaces it), for serde to serialize,
/// members in key order as a [`Value`] keeps them.
pub fn json_document<'a>(
    cluster: &'a Cluster,
    transition: &'a Transition,
    with_scores: bool,
    extra: BTreeMap<String, Value>,
) -> JsonDocument<'a> {
    JsonDocument {
        cluster,
        transition,
        with_scores,
        current: current_view(cluster),
        revised: revised_view(cluster, transition),
        summary: summary_lines(cluster, transition),
        extra,
    }
}

impl JsonDocument<'_> {
    /// The top-level keys, in the order written: the document's own and
    /// the extra ones, sorted as a `Value` keeps them.
    fn keys(&self) -> Vec<&str> {
        let mut keys: Vec<&str> = vec!["actions", "current", "edges", "revised", "summary"];
        if self.with_scores {
            keys.push("scores");
        }
        for key in self.extra.keys() {
            if !keys.contains(&key.as_str()) {
                keys.push(key);
            }
        }
        keys.sort_unstable();
        keys
    }
}

impl serde::Serialize for JsonDocument<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let keys = self.keys();
        let mut map = serializer.serialize_map(Some(keys.len()))?;
        for key in keys {
            if let Some(value) = self.extra.get(key) {
                map.serialize_entry(key, value)?;
                continue;
            }
            match key {
                "actions" => map.serialize_entry(key, &JsonActions(self))?,
                "current" => map.serialize_entry(key, &self.current)?,
                "edges" => map.serialize_entry(key, &self.transition.edges)?,
                "revised" => map.serialize_entry(key, &self.revised)?,
                "summary" => map.serialize_entry(key, &self.summary)?,
                _ => map.serialize_entry(key, &JsonScores(self))?,
            }
        }
        map.end()
    }
}

/// A member value of the document's objects.
enum JsonScalar<'a> {
    Str(&'a str),
    Owned(String),
    /// Written as it displays (a string), without building it first.
    Shown(&'a dyn std::fmt::Display),
    Strs(&'a [&'static str]),
    U64(u64),
    Bool(bool),
    Null,
}

impl serde::Serialize for JsonScalar<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            JsonScalar::Str(s) => serializer.serialize_str(s),
            JsonScalar::Owned(s) => serializer.serialize_str(s),
            JsonScalar::Shown(d) => serializer.collect_str(d),
            JsonScalar::Strs(list) => serializer.collect_seq(list.iter()),
            JsonScalar::U64(n) => serializer.serialize_u64(*n),
            JsonScalar::Bool(b) => serializer.serialize_bool(*b),
            JsonScalar::Null => serializer.serialize_unit(),
        }
    }
}

/// An object of members already in key order.
struct JsonObject<'m, 'a>(&'m [(&'m str, JsonScalar<'a>)]);

impl serde::Serialize for JsonObject<'_, '_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// `rsc` or `rsc:N`, as [`instance_label`] writes it.
struct InstanceLabel<'a>(&'a Cluster, Instance);

impl std::fmt::Display for InstanceLabel<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = resource_name(self.0, self.1.resource);
        match self.1.number {
            Some(n) => write!(f, "{name}:{n}"),
            None => f.write_str(name),
        }
    }
}

/// `grp_running_0`: a pseudo-action's name.
struct PseudoName<'a>(&'a str, &'static str);

impl std::fmt::Display for PseudoName<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}_{}_0", self.0, self.1)
    }
}

/// The `actions` member: [`action_json`]'s objects.
struct JsonActions<'d, 'a>(&'d JsonDocument<'a>);

impl serde::Serialize for JsonActions<'_, '_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let actions = &self.0.transition.actions;
        let mut seq = serializer.serialize_seq(Some(actions.len()))?;
        for action in actions {
            with_action(self.0.cluster, action, |m| {
                seq.serialize_element(&JsonObject(m))
            })?;
        }
        seq.end()
    }
}

/// Calls `f` with the members of an action's object, in key order.
fn with_action<R>(
    cluster: &Cluster,
    action: &Action,
    f: impl FnOnce(&[(&str, JsonScalar<'_>)]) -> R,
) -> R {
    // `rsc`, written as it is; `rsc:N` formatted as it is written.
    let label = |instance: &Instance| -> JsonScalar<'_> {
        match instance.number {
            None => JsonScalar::Str(resource_name(cluster, instance.resource)),
            Some(_) => JsonScalar::Owned(InstanceLabel(cluster, *instance).to_string()),
        }
    };
    match action {
        Action::Resource {
            instance,
            task,
            node,
        } => f(&[
            ("node", JsonScalar::Str(node_name(cluster, *node))),
            ("resource", label(instance)),
            ("task", JsonScalar::Str(task_name(*task))),
            ("type", JsonScalar::Str("resource")),
        ]),
        Action::Probe { instance, node } => f(&[
            ("node", JsonScalar::Str(node_name(cluster, *node))),
            ("resource", label(instance)),
            ("type", JsonScalar::Str("probe")),
        ]),
        Action::Monitor {
            instance,
            node,
            interval_ms,
        } => f(&[
            ("interval_ms", JsonScalar::U64(*interval_ms)),
            ("node", JsonScalar::Str(node_name(cluster, *node))),
            ("resource", label(instance)),
            ("type", JsonScalar::Str("monitor")),
        ]),
        Action::Fence { node, action } => f(&[
            ("action", JsonScalar::Str(fence_action_name(*action))),
            ("node", JsonScalar::Str(node_name(cluster, *node))),
            ("type", JsonScalar::Str("fence")),
        ]),
        Action::Pseudo {
            resource,
            task,
            done,
        } => f(&[
            (
                "name",
                JsonScalar::Shown(&PseudoName(
                    resource_name(cluster, *resource),
                    pseudo_task_name(*task, *done),
                )),
            ),
            ("type", JsonScalar::Str("pseudo")),
        ]),
    }
}

/// The `scores` member.
struct JsonScores<'d, 'a>(&'d JsonDocument<'a>);

impl serde::Serialize for JsonScores<'_, '_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let scores = &self.0.transition.scores;
        let mut seq = serializer.serialize_seq(Some(scores.len()))?;
        for s in scores {
            with_score(self.0.cluster, s, |m| seq.serialize_element(&JsonObject(m)))?;
        }
        seq.end()
    }
}

/// Calls `f` with the members of an allocation score's object.
fn with_score<R>(
    cluster: &Cluster,
    s: &AllocationScore,
    f: impl FnOnce(&[(&str, JsonScalar<'_>)]) -> R,
) -> R {
    f(&[
        ("node", JsonScalar::Str(score_node_name(cluster, s.node))),
        ("resource", JsonScalar::Str(s.resource.as_str())),
        ("score", JsonScalar::Shown(&s.score)),
        ("stage", JsonScalar::Str(s.stage.as_str())),
    ])
}

impl serde::Serialize for StatusView {
    /// As [`StatusView::json`].
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(2))?;
        map.serialize_entry("nodes", &JsonNodes(&self.nodes))?;
        map.serialize_entry("resources", &JsonPlaces(self))?;
        map.end()
    }
}

/// A status's `nodes`.
struct JsonNodes<'a>(&'a [NodeView]);

impl serde::Serialize for JsonNodes<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
        for n in self.0 {
            seq.serialize_element(&JsonObject(&node_members(n)))?;
        }
        seq.end()
    }
}

/// The members of a status node's object.
fn node_members(n: &NodeView) -> [(&'static str, JsonScalar<'_>); 7] {
    [
        ("maintenance", JsonScalar::Bool(n.maintenance)),
        ("name", JsonScalar::Str(&n.name)),
        ("online", JsonScalar::Bool(n.online)),
        ("pending", JsonScalar::Bool(n.pending)),
        ("shutdown", JsonScalar::Bool(n.shutdown)),
        ("standby", JsonScalar::Bool(n.standby)),
        ("unclean", JsonScalar::Bool(n.unclean)),
    ]
}

/// The members of a `place`'s object.
fn place_members<'a>(
    path: &'a str,
    role: Role,
    node: Option<&'a str>,
    flags: &'a [&'static str],
) -> [(&'static str, JsonScalar<'a>); 4] {
    [
        ("flags", JsonScalar::Strs(flags)),
        ("node", node.map_or(JsonScalar::Null, JsonScalar::Str)),
        ("path", JsonScalar::Str(path)),
        ("role", JsonScalar::Str(role_text(role))),
    ]
}

/// A status's `resources`, written as [`StatusView::each_place`] visits
/// them.
struct JsonPlaces<'a>(&'a StatusView);

impl serde::Serialize for JsonPlaces<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = serializer.serialize_seq(None)?;
        let mut buffer = String::new();
        self.0.each_place(|path, role, node, flags| {
            let path = path.text(&mut buffer);
            seq.serialize_element(&JsonObject(&place_members(path, role, node, flags)))
        })?;
        seq.end()
    }
}

impl serde::Serialize for SummaryLine {
    /// As [`SummaryLine::json`].
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.with_members(|m| JsonObject(m).serialize(serializer))
    }
}

impl SummaryLine {
    /// Calls `f` with the members of the line's object, in key order.
    fn with_members<R>(&self, f: impl FnOnce(&[(&str, JsonScalar<'_>)]) -> R) -> R {
        match self {
            SummaryLine::Fence {
                node,
                action,
                reason,
            } => f(&[
                ("action", JsonScalar::Str("fence")),
                ("fence_action", JsonScalar::Str(fence_action_name(*action))),
                ("node", JsonScalar::Str(node)),
                ("reason", JsonScalar::Str(reason)),
            ]),
            SummaryLine::Resource {
                change,
                resource,
                reason,
                blocked,
                ..
            } => {
                let (attributes, count) = self.json_attributes();
                // Names never repeat (the details' names are none of the
                // other four); written in key order.
                let lower: std::borrow::Cow<str> = match *change {
                    "Start" => "start".into(),
                    "Stop" => "stop".into(),
                    "Move" => "move".into(),
                    "Recover" => "recover".into(),
                    "Restart" => "restart".into(),
                    "Promote" => "promote".into(),
                    "Demote" => "demote".into(),
                    other => other.to_ascii_lowercase().into(),
                };
                let mut members: [(&str, JsonScalar); 8] = [
                    ("action", JsonScalar::Str(&lower)),
                    ("resource", JsonScalar::Str(resource)),
                    (
                        "reason",
                        reason.as_deref().map_or(JsonScalar::Null, JsonScalar::Str),
                    ),
                    ("blocked", JsonScalar::Bool(*blocked)),
                    ("", JsonScalar::Null),
                    ("", JsonScalar::Null),
                    ("", JsonScalar::Null),
                    ("", JsonScalar::Null),
                ];
                for (slot, (name, value)) in members[4..].iter_mut().zip(&attributes[..count]) {
                    *slot = (name, JsonScalar::Str(value));
                }
                let members = &mut members[..4 + count];
                members.sort_unstable_by(|a, b| a.0.cmp(b.0));
                f(members)
            }
        }
    }
}

// ---------------------------------------------------------------------------
// The JSON document's text, written directly

impl JsonDocument<'_> {
    /// Writes the document as `serde_json::to_writer_pretty` writes it,
    /// byte for byte, without going through serde: the same members, in
    /// the same order, formatted as serde_json's pretty printer formats
    /// them (two-space indents, `": "`, its string escapes), written into
    /// one buffer. At 10,000 resources the document is megabytes and
    /// serde's call per key, value and indent is most of the cost of
    /// printing it.
    pub fn write_pretty<W: std::io::Write>(&self, out: &mut W) -> std::io::Result<()> {
        let mut p = Pretty::new(out);
        let keys = self.keys();
        p.begin(b'{');
        for (i, key) in keys.iter().enumerate() {
            p.key(i == 0, key);
            if let Some(value) = self.extra.get(*key) {
                p.value(value);
            } else {
                match *key {
                    "actions" => {
                        let cluster = self.cluster;
                        p.array(&self.transition.actions, |p, a| {
                            with_action(cluster, a, |m| p.object(m))
                        })?;
                    }
                    "current" => self.current.write_pretty(&mut p)?,
                    "edges" => {
                        p.array(&self.transition.edges, |p, &(a, b)| {
                            p.array([a, b], |p, n| {
                                // usize is at most 64 bits wide.
                                p.number(n as u64);
                                Ok(())
                            })
                        })?;
                    }
                    "revised" => self.revised.write_pretty(&mut p)?,
                    "summary" => {
                        p.array(&self.summary, |p, line| line.with_members(|m| p.object(m)))?
                    }
                    _ => {
                        let cluster = self.cluster;
                        p.array(&self.transition.scores, |p, s| {
                            with_score(cluster, s, |m| p.object(m))
                        })?;
                    }
                }
            }
            p.has_value = true;
        }
        p.end(b'}');
        p.finish()
    }
}

impl StatusView {
    /// As its [`serde::Serialize`] implementation writes it.
    fn write_pretty<W: std::io::Write>(&self, p: &mut Pretty<'_, W>) -> std::io::Result<()> {
        p.begin(b'{');
        p.key(true, "nodes");
        p.array(&self.nodes, |p, n| p.object(&node_members(n)))?;
        p.has_value = true;
        p.key(false, "resources");
        p.begin(b'[');
        let mut first = true;
        let mut buffer = String::new();
        self.each_place(|path, role, node, flags| {
            p.item(first);
            first = false;
            p.object(&place_members(path.text(&mut buffer), role, node, flags))?;
            p.has_value = true;
            p.spill()
        })?;
        p.end(b']');
        p.has_value = true;
        p.end(b'}');
        Ok(())
    }
}

/// serde_json's `PrettyFormatter` with its default two-space indent, by
/// hand: the same bytes for the same sequence of values. `has_value` is
/// one flag, as there (a nested value sets it for its container).
struct Pretty<'w, W: std::io::Write> {
    out: &'w mut W,
    buf: Vec<u8>,
    depth: usize,
    has_value: bool,
}

impl<'w, W: std::io::Write> Pretty<'w, W> {
    /// Bytes buffered before they are written out.
    const SPILL: usize = 1 << 16;

    fn new(out: &'w mut W) -> Self {
        Pretty {
            out,
            buf: Vec::with_capacity(Self::SPILL + 4096),
            depth: 0,
            has_value: false,
        }
    }

    /// Writes out what is buffered once there is enough of it.
    fn spill(&mut self) -> std::io::Result<()> {
        if self.buf.len() >= Self::SPILL {
            self.out.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    /// Writes out the rest.
    fn finish(mut self) -> std::io::Result<()> {
        self.out.write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }

    /// A new line and the indent of the current depth.
    fn newline(&mut self) {
        // One copy for the usual depths (the document is five deep).
        const LINE: &[u8; 33] = b"\n                                ";
        match LINE.get(..1 + 2 * self.depth) {
            Some(line) => self.buf.extend_from_slice(line),
            None => {
                self.buf.push(b'\n');
                for _ in 0..self.depth {
                    self.buf.extend_from_slice(b"  ");
                }
            }
        }
    }

    /// `[` or `{`.
    fn begin(&mut self, open: u8) {
        self.depth += 1;
        self.has_value = false;
        self.buf.push(open);
    }

    /// `]` or `}`, on a line of its own unless the container is empty.
    fn end(&mut self, close: u8) {
        self.depth -= 1;
        if self.has_value {
            self.newline();
        }
        self.buf.push(close);
    }

    /// Before an element or a key.
    fn item(&mut self, first: bool) {
        if !first {
            self.buf.push(b',');
        }
        self.newline();
    }

    /// A key and its `: `.
    fn key(&mut self, first: bool, key: &str) {
        self.item(first);
        self.string(key);
        self.buf.extend_from_slice(b": ");
    }

    /// An array of `items`, each written by `each`.
    fn array<T>(
        &mut self,
        items: impl IntoIterator<Item = T>,
        mut each: impl FnMut(&mut Self, T) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        self.begin(b'[');
        for (i, item) in items.into_iter().enumerate() {
            self.item(i == 0);
            each(self, item)?;
            self.has_value = true;
            self.spill()?;
        }
        self.end(b']');
        Ok(())
    }

    /// An object of members in order.
    fn object(&mut self, members: &[(&str, JsonScalar<'_>)]) -> std::io::Result<()> {
        self.begin(b'{');
        for (i, (key, value)) in members.iter().enumerate() {
            self.key(i == 0, key);
            self.scalar(value)?;
            self.has_value = true;
        }
        self.end(b'}');
        Ok(())
    }

    fn scalar(&mut self, value: &JsonScalar<'_>) -> std::io::Result<()> {
        match value {
            JsonScalar::Str(s) => self.string(s),
            JsonScalar::Owned(s) => self.string(s),
            JsonScalar::Shown(d) => {
                self.buf.push(b'"');
                std::fmt::Write::write_fmt(&mut Escaped(&mut self.buf), format_args!("{d}"))
                    .map_err(std::io::Error::other)?;
                self.buf.push(b'"');
            }
            JsonScalar::Strs(list) => {
                self.array(list.iter(), |p, s| {
                    p.string(s);
                    Ok(())
                })?;
            }
            JsonScalar::U64(n) => self.number(*n),
            JsonScalar::Bool(b) => self
                .buf
                .extend_from_slice(if *b { b"true" } else { b"false" }),
            JsonScalar::Null => self.buf.extend_from_slice(b"null"),
        }
        Ok(())
    }

    /// An unsigned integer, in decimal.
    fn number(&mut self, n: impl Into<u64>) {
        let mut n: u64 = n.into();
        let mut digits = [0u8; 20];
        let mut at = digits.len();
        loop {
            at -= 1;
            // A decimal digit: below 10.
            digits[at] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.buf.extend_from_slice(&digits[at..]);
    }

    /// A string, escaped as serde_json escapes it.
    fn string(&mut self, s: &str) {
        self.buf.push(b'"');
        // Names and ids need no escapes: checked without branching per
        // byte, then copied whole.
        let plain = !s.bytes().fold(false, |any, b| {
            any | (b < 0x20) | (b == b'"') | (b == b'\\')
        });
        if plain {
            self.buf.extend_from_slice(s.as_bytes());
        } else {
            escape_into(&mut self.buf, s);
        }
        self.buf.push(b'"');
    }

    /// Any JSON value (the caller's extra members).
    fn value(&mut self, v: &Value) {
        match v {
            Value::Null => self.buf.extend_from_slice(b"null"),
            Value::Bool(b) => self
                .buf
                .extend_from_slice(if *b { b"true" } else { b"false" }),
            // serde_json's own number text (integers and floats alike).
            Value::Number(n) => {
                let _ = serde_json::to_writer(&mut self.buf, n);
            }
            Value::String(s) => self.string(s),
            Value::Array(items) => {
                self.begin(b'[');
                for (i, item) in items.iter().enumerate() {
                    self.item(i == 0);
                    self.value(item);
                    self.has_value = true;
                }
                self.end(b']');
            }
            Value::Object(map) => {
                self.begin(b'{');
                for (i, (key, item)) in map.iter().enumerate() {
                    self.key(i == 0, key);
                    self.value(item);
                    self.has_value = true;
                }
                self.end(b'}');
            }
        }
    }
}

/// Appends `s` with serde_json's escapes: `"` and `\\`, and control
/// characters as `\b \t \n \f \r` or `\u00XX`.
fn escape_into(buf: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x0c => b"\\f",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x00..=0x1f => b"",
            _ => continue,
        };
        buf.extend_from_slice(&bytes[start..i]);
        if short.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            buf.extend_from_slice(b"\\u00");
            buf.push(HEX[usize::from(b >> 4)]);
            buf.push(HEX[usize::from(b & 0xf)]);
        } else {
            buf.extend_from_slice(short);
        }
        start = i + 1;
    }
    buf.extend_from_slice(&bytes[start..]);
}

/// A `fmt::Write` that escapes what it is given into a buffer.
struct Escaped<'b>(&'b mut Vec<u8>);

impl std::fmt::Write for Escaped<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        escape_into(self.0, s);
        Ok(())
    }
}

#[cfg(test)]
mod json_document_tests {
    use super::*;

    /// Extra members of every kind of value, one replacing a member of
    /// the document, strings that need escapes.
    fn extra_members() -> BTreeMap<String, Value> {
        let mut extra = BTreeMap::new();
        extra.insert("now".to_string(), Value::from(1_700_000_100i64));
        extra.insert("warnings".to_string(), Value::Array(Vec::new()));
        extra.insert("edges".to_string(), Value::from("replaced"));
        extra.insert(
            "unsupported".to_string(),
            serde_json::json!([
                {"what": "a \"quote\", a \\ and \u{1}\t\n\r\u{8}\u{c}\u{7f} é", "id": null, "n": -3, "f": 1.5},
                {},
                [],
                [true, false, 0.1, 18446744073709551615u64]
            ]),
        );
        extra
    }

    /// The JSON members of a summary line are its details' attributes,
    /// for every combination of roles and places.
    #[test]
    fn json_attributes_are_the_details_attributes() {
        let roles = [
            Role::Stopped,
            Role::Started,
            Role::Unpromoted,
            Role::Promoted,
        ];
        let places = [None, Some("n1".to_string()), Some("n2".to_string())];
        for role in roles {
            for next_role in roles {
                for origin in &places {
                    for destination in &places {
                        let line = SummaryLine::Resource {
                            change: "Move",
                            resource: "r".into(),
                            role,
                            next_role,
                            origin: origin.clone(),
                            destination: destination.clone(),
                            reason: None,
                            blocked: false,
                        };
                        let (attributes, count) = line.json_attributes();
                        let expected: Vec<(String, String)> = line
                            .details()
                            .1
                            .into_iter()
                            .map(|(k, v)| (k.replace('-', "_"), v))
                            .collect();
                        let got: Vec<(String, String)> = attributes[..count]
                            .iter()
                            .map(|(k, v)| (k.to_string(), v.to_string()))
                            .collect();
                        assert_eq!(
                            got, expected,
                            "{role} {next_role} {origin:?} {destination:?}"
                        );
                    }
                }
            }
        }
    }

    /// Clusters of the shapes the document has: groups, anonymous and
    /// promotable clones, resources running, failed and moving, a node to
    /// fence; each document written both ways.
    #[test]
    fn json_document_writes_the_text_of_to_json_with() {
        let cib = r#"<cib have-quorum="1" dc-uuid="1" execution-date="1700000100">
  <configuration>
    <crm_config><cluster_property_set id="o">
      <nvpair id="o1" name="stonith-enabled" value="true"/>
      <nvpair id="o2" name="enable-startup-probes" value="true"/>
    </cluster_property_set></crm_config>
    <nodes><node id="1" uname="n1"/><node id="2" uname="n2"/><node id="3" uname="n3"/></nodes>
    <resources>
      <primitive id="fence" class="stonith" type="fence_dummy"/>
      <group id="g"><primitive id="a" class="ocf" provider="heartbeat" type="Dummy"/><primitive id="b" class="ocf" provider="heartbeat" type="Dummy"/></group>
      <clone id="c"><primitive id="p" class="ocf" provider="heartbeat" type="Dummy"><operations><op id="p-m" name="monitor" interval="10s"/></operations></primitive></clone>
      <clone id="m"><meta_attributes id="m-meta"><nvpair id="m-p" name="promotable" value="true"/></meta_attributes>
        <primitive id="s" class="ocf" provider="pacemaker" type="Stateful"/></clone>
      <primitive id="x" class="ocf" provider="heartbeat" type="Dummy"/>
    </resources>
    <constraints><rsc_location id="l1" rsc="x" node="n2" score="100"/></constraints>
  </configuration>
  <status>
    <node_state id="1" uname="n1" in_ccm="true" crmd="online" join="member" expected="member">
      <lrm id="1"><lrm_resources>
        <lrm_resource id="x" class="ocf" provider="heartbeat" type="Dummy"><lrm_rsc_op id="x1" operation="start" interval="0" rc-code="0" op-status="0" call-id="2" transition-magic="0:0;1:1:0:a"/></lrm_resource>
        <lrm_resource id="a" class="ocf" provider="heartbeat" type="Dummy"><lrm_rsc_op id="a1" operation="monitor" interval="10000" rc-code="1" op-status="0" call-id="3" transition-magic="0:1;1:1:0:a"/></lrm_resource>
      </lrm_resources></lrm>
    </node_state>
    <node_state id="2" uname="n2" in_ccm="true" crmd="online" join="member" expected="member"/>
    <node_state id="3" uname="n3" in_ccm="false" crmd="offline" join="down" expected="member">
      <lrm id="3"><lrm_resources>
        <lrm_resource id="s" class="ocf" provider="pacemaker" type="Stateful"><lrm_rsc_op id="s1" operation="promote" interval="0" rc-code="0" op-status="0" call-id="4" transition-magic="0:0;1:1:0:a"/></lrm_resource>
      </lrm_resources></lrm>
    </node_state>
  </status>
</cib>"#;
        let document = crate::cib::read(cib).expect("the test CIB reads");
        let cluster = &document.cluster;
        for scores in [false, true] {
            let transition = crate::policy::schedule_with(
                cluster,
                1_700_000_100,
                crate::policy::Options { scores },
            );
            assert!(!transition.summary.is_empty() && !transition.actions.is_empty());
            let extra = extra_members();
            let mut value = to_json_with(cluster, &transition, scores);
            if let Some(map) = value.as_object_mut() {
                for (k, v) in &extra {
                    map.insert(k.clone(), v.clone());
                }
            }
            let expected = serde_json::to_string_pretty(&value).expect("a Value prints");
            let written =
                serde_json::to_string_pretty(&json_document(cluster, &transition, scores, extra))
                    .expect("the document prints");
            assert_eq!(written, expected);
            let mut direct = Vec::new();
            json_document(cluster, &transition, scores, extra_members())
                .write_pretty(&mut direct)
                .expect("writing into a Vec cannot fail");
            assert_eq!(String::from_utf8(direct).expect("UTF-8"), expected);

            let plain = serde_json::to_string(&json_document(
                cluster,
                &transition,
                scores,
                BTreeMap::new(),
            ))
            .expect("the document prints");
            assert_eq!(
                plain,
                serde_json::to_string(&to_json_with(cluster, &transition, scores))
                    .expect("a Value prints")
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Clone, Group, History, Meta, Node, Primitive, Resource};
    use crate::transition::{AllocationScore, NodeAfter};

    fn node(name: &str) -> Node {
        Node {
            name: name.into(),
            id: name.into(),
            online: true,
            ..Node::default()
        }
    }

    fn primitive(id: &str, parent: Option<usize>) -> Resource {
        Resource {
            id: id.into(),
            parent: parent.map(ResourceId),
            kind: ResourceKind::Primitive(Primitive {
                class: "ocf".into(),
                provider: Some("heartbeat".into()),
                agent: "apache".into(),
                ..Primitive::default()
            }),
            meta: Meta::default(),
        }
    }

    fn history(resource: usize, node: usize, role: Role) -> History {
        History {
            resource: ResourceId(resource),
            instance: None,
            node: NodeId(node),
            role,
            failed: false,
            on_fail: None,
            pending: None,
            fail_count: 0,
            last_failure: None,
            next_role: None,
            failure_ignored: false,
        }
    }

    /// rsc1 on node1; group foo (rsc3, rsc4 failed) on node1.
    fn group_cluster() -> Cluster {
        let mut c = Cluster {
            nodes: vec![node("node1"), node("node2")],
            have_quorum: true,
            ..Cluster::default()
        };
        c.options.stonith_enabled = false;
        c.resources = vec![
            primitive("rsc1", None),
            Resource {
                id: "foo".into(),
                parent: None,
                kind: ResourceKind::Group(Group {
                    members: vec![ResourceId(2), ResourceId(3)],
                    ordered: true,
                    collocated: true,
                }),
                meta: Meta::default(),
            },
            primitive("rsc3", Some(1)),
            primitive("rsc4", Some(1)),
        ];
        c.history = vec![
            history(0, 0, Role::Started),
            history(2, 0, Role::Started),
            History {
                failed: true,
                on_fail: Some(OnFail::Restart),
                ..history(3, 0, Role::Started)
            },
        ];
        c
    }

    #[test]
    fn current_status_of_primitives_and_groups() {
        let c = group_cluster();
        let text = current_status(&c);
        let want = "Current cluster status:\n  * Node List:\n    * Online: [ node1 node2 ]\n\n  \
                    * Full List of Resources:\n    \
                    * rsc1\t(ocf:heartbeat:apache):\t Started node1\n    \
                    * Resource Group: foo:\n      \
                    * rsc3\t(ocf:heartbeat:apache):\t Started node1\n      \
                    * rsc4\t(ocf:heartbeat:apache):\t FAILED node1\n";
        assert_eq!(text, want);
    }

    fn clone_cluster(promotable: bool, unique: bool) -> Cluster {
        let mut c = Cluster {
            nodes: vec![node("node1"), node("node2"), node("node10")],
            have_quorum: true,
            ..Cluster::default()
        };
        c.resources = vec![
            Resource {
                id: "c".into(),
                parent: None,
                kind: ResourceKind::Clone(Clone {
                    child: ResourceId(1),
                    promotable,
                    clone_max: None,
                    clone_node_max: 1,
                    promoted_max: 1,
                    promoted_node_max: 1,
                    clone_min: 0,
                    interleave: false,
                    globally_unique: unique,
                    ordered: false,
                }),
                meta: Meta::default(),
            },
            primitive("child", Some(0)),
        ];
        c
    }

    #[test]
    fn anonymous_clone_lists_nodes_in_name_order() {
        let mut c = clone_cluster(false, false);
        c.history = vec![history(1, 2, Role::Started), history(1, 0, Role::Started)];
        let text = current_status(&c);
        assert!(text.contains("    * Clone Set: c [child]:\n      * Started: [ node1 node10 ]\n      * Stopped: [ node2 ]\n"), "{text}");
    }

    #[test]
    fn promotable_clone_lists_roles() {
        let mut c = clone_cluster(true, false);
        c.history = vec![
            history(1, 0, Role::Promoted),
            history(1, 1, Role::Unpromoted),
        ];
        let text = current_status(&c);
        assert!(
            text.contains(
                "    * Clone Set: c [child] (promotable):\n      * Promoted: [ node1 ]\n      \
                 * Unpromoted: [ node2 ]\n      * Stopped: [ node10 ]\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn unique_clone_lists_every_instance() {
        let mut c = clone_cluster(false, true);
        c.history = vec![History {
            instance: Some(1),
            ..history(1, 1, Role::Started)
        }];
        let text = current_status(&c);
        assert!(
            text.contains(
                "    * Clone Set: c [child] (unique):\n      \
                 * child:0\t(ocf:heartbeat:apache):\t Stopped\n      \
                 * child:1\t(ocf:heartbeat:apache):\t Started node2\n      \
                 * child:2\t(ocf:heartbeat:apache):\t Stopped\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn node_states() {
        let mut c = group_cluster();
        c.nodes.push(Node {
            unclean: true,
            online: false,
            ..node("node3")
        });
        c.nodes.push(Node {
            standby: true,
            ..node("node4")
        });
        c.nodes.push(Node {
            online: false,
            ..node("node5")
        });
        c.nodes[0].standby = true;
        let text = current_status(&c);
        assert!(
            text.contains(
                "  * Node List:\n    * Node node1: standby (with active resources)\n    \
                 * Node node3: UNCLEAN (offline)\n    * Node node4: standby\n    \
                 * Online: [ node2 ]\n    * OFFLINE: [ node5 ]\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn multiply_active_and_blocked() {
        let mut c = group_cluster();
        c.history.push(history(0, 1, Role::Started));
        c.resources[0].meta.multiple_active = MultipleActive::Block;
        let text = current_status(&c);
        assert!(
            text.contains("rsc1\t(ocf:heartbeat:apache):\t Started (blocked) [ node1 node2 ]"),
            "{text}"
        );
        let (total, disabled, blocked) = current_view(&c).instance_counts();
        assert_eq!((total, disabled, blocked), (3, 0, 1));
        assert!(notices(&c).contains("0 of 3 resource instances DISABLED and 1 BLOCKED"));
    }

    fn group_transition() -> Transition {
        let i = |r: usize| Instance {
            resource: ResourceId(r),
            number: None,
        };
        Transition {
            summary: vec![
                Change::Recover {
                    instance: i(3),
                    from: NodeId(0),
                    to: NodeId(0),
                },
                Change::Move {
                    instance: i(0),
                    from: NodeId(0),
                    to: NodeId(1),
                },
                Change::Fence {
                    node: NodeId(1),
                    action: FenceAction::Reboot,
                    reason: "peer is no longer part of the cluster".into(),
                },
            ],
            actions: vec![
                Action::Resource {
                    instance: i(3),
                    task: Task::Start,
                    node: NodeId(0),
                },
                Action::Resource {
                    instance: i(3),
                    task: Task::Stop,
                    node: NodeId(0),
                },
                Action::Pseudo {
                    resource: ResourceId(1),
                    task: Task::Start,
                    done: true,
                },
            ],
            edges: vec![(1, 0), (0, 2)],
            scores: vec![AllocationScore {
                stage: "pcmk__primitive_assign".into(),
                resource: "rsc1".into(),
                node: NodeId(0),
                score: crate::score::Score::INFINITY,
            }],
            placement: vec![
                Placed {
                    instance: i(0),
                    node: Some(NodeId(1)),
                    role: Role::Started,
                    failed: false,
                    managed: true,
                    blocked: false,
                },
                Placed {
                    instance: i(2),
                    node: Some(NodeId(0)),
                    role: Role::Started,
                    failed: false,
                    managed: true,
                    blocked: false,
                },
                Placed {
                    instance: i(3),
                    node: Some(NodeId(0)),
                    role: Role::Started,
                    failed: false,
                    managed: true,
                    blocked: false,
                },
            ],
            nodes: vec![
                NodeAfter {
                    node: NodeId(0),
                    online: true,
                    unclean: false,
                    standby: false,
                },
                NodeAfter {
                    node: NodeId(1),
                    online: true,
                    unclean: false,
                    standby: false,
                },
            ],
            notes: vec![ChangeNote {
                change: 1,
                reason: Some("node availability".into()),
                blocked: false,
            }],
            ..Transition::default()
        }
    }

    #[test]
    fn summary_alignment_fencing_first_then_configuration_order() {
        let c = group_cluster();
        let t = group_transition();
        let text = transition_summary(&c, &t);
        assert_eq!(
            text,
            "Transition Summary:\n  \
             * Fence (reboot) node2 'peer is no longer part of the cluster'\n  \
             * Move       rsc1    ( node1 -> node2 )  due to node availability\n  \
             * Recover    rsc4    (          node1 )\n"
        );
    }

    #[test]
    fn placement_lines_match_the_corpus_format() {
        let c = group_cluster();
        let t = group_transition();
        let lines = placement_lines(&c, &t);
        assert_eq!(
            lines,
            vec![
                "action\taction=move\tresource=rsc1\tsource=node1\tdest=node2\treason=node availability",
                "action\taction=recover\tresource=rsc4\tnode=node1",
                "action\ttask=Fence (reboot)\tnode=node2\treason=peer is no longer part of the cluster",
                "node\tnode1\tonline=true\tstandby=false\tmaintenance=false\tunclean=false\tshutdown=false",
                "node\tnode2\tonline=true\tstandby=false\tmaintenance=false\tunclean=false\tshutdown=false",
                "place\tfoo/rsc3\tStarted\tnode1\t-",
                "place\tfoo/rsc4\tStarted\tnode1\t-",
                "place\trsc1\tStarted\tnode2\t-",
            ]
        );
    }

    #[test]
    fn revised_status_and_actions() {
        let c = group_cluster();
        let t = group_transition();
        let text = revised_status(&c, &t);
        assert!(
            text.contains("* rsc1\t(ocf:heartbeat:apache):\t Started node2\n"),
            "{text}"
        );
        assert!(
            text.contains("* rsc4\t(ocf:heartbeat:apache):\t Started node1\n"),
            "{text}"
        );
        let actions = executed_actions(&c, &t);
        assert_eq!(
            actions,
            "Executing Cluster Transition:\n  \
             * Resource action: rsc4            stop on node1\n  \
             * Resource action: rsc4            start on node1\n  \
             * Pseudo action:   foo_running_0\n"
        );
        assert_eq!(
            scores(&c, &t),
            "pcmk__primitive_assign: rsc1 allocation score on node1: INFINITY\n"
        );
        let j = to_json(&c, &t);
        // Fencing first, then resources in configuration order.
        assert_eq!(j["summary"][0]["action"], "fence");
        assert_eq!(j["summary"][1]["action"], "move");
        assert_eq!(j["summary"][2]["action"], "recover");
        assert_eq!(j["revised"]["resources"][0]["node"], "node2");
    }

    #[test]
    fn promotable_summary_lines_carry_roles() {
        let mut c = clone_cluster(true, false);
        c.history = vec![
            history(1, 0, Role::Promoted),
            history(1, 1, Role::Unpromoted),
        ];
        let i = |n| Instance {
            resource: ResourceId(1),
            number: Some(n),
        };
        let t = Transition {
            summary: vec![
                Change::Demote {
                    instance: i(0),
                    to: Role::Unpromoted,
                    node: NodeId(0),
                },
                Change::Promote {
                    instance: i(1),
                    from: Role::Unpromoted,
                    node: NodeId(1),
                },
                Change::Promote {
                    instance: i(2),
                    from: Role::Stopped,
                    node: NodeId(2),
                },
                Change::Demote {
                    instance: i(0),
                    to: Role::Stopped,
                    node: NodeId(0),
                },
            ],
            ..Transition::default()
        };
        let lines = placement_lines(&c, &t);
        assert!(lines.contains(&"action\taction=demote\tresource=child:0\tsource=node1\tnext-role=Unpromoted\trole=Promoted".to_string()), "{lines:?}");
        assert!(lines.contains(&"action\taction=promote\tresource=child:1\tsource=node2\tnext-role=Promoted\trole=Unpromoted".to_string()), "{lines:?}");
        assert!(lines.contains(&"action\taction=promote\tresource=child:2\tdest=node10\tnext-role=Promoted\trole=Stopped".to_string()), "{lines:?}");
        assert!(
            lines.contains(
                &"action\taction=stop\tresource=child:0\tnode=node1\trole=Promoted".to_string()
            ),
            "{lines:?}"
        );
        let text = transition_summary(&c, &t);
        assert!(
            text.contains("* Promote    child:2     (   Stopped -> Promoted node10 )"),
            "{text}"
        );
    }

    #[test]
    fn node_names_sort_like_pacemaker() {
        let mut names = vec!["node10", "Node2", "node1", "alpha", "node01", "node2a"];
        names.sort_by(|a, b| compare_node_names(a, b));
        assert_eq!(
            names,
            vec!["alpha", "node1", "node01", "Node2", "node2a", "node10"]
        );
    }

    #[test]
    fn execution_date_is_utc() {
        assert_eq!(format_utc(0), "1970-01-01 00:00:00");
        assert_eq!(format_utc(1_571_777_586), "2019-10-22 20:53:06");
    }

    #[test]
    fn out_of_range_indexes_do_not_panic() {
        let c = group_cluster();
        let mut t = group_transition();
        t.summary.push(Change::Start {
            instance: Instance {
                resource: ResourceId(99),
                number: None,
            },
            node: NodeId(42),
        });
        t.edges.push((7, 99));
        t.placement.push(Placed {
            instance: Instance {
                resource: ResourceId(99),
                number: Some(3),
            },
            node: Some(NodeId(42)),
            role: Role::Started,
            failed: false,
            managed: true,
            blocked: false,
        });
        let mut c2 = c.clone();
        c2.history.push(history(99, 42, Role::Started));
        let _ = simulation(&c2, &t, Sections::default());
        let _ = placement_lines(&c2, &t);
        let _ = to_json(&c2, &t);
    }

    fn placed(resource: usize, number: Option<u32>, node: Option<usize>, role: Role) -> Placed {
        Placed {
            instance: Instance {
                resource: ResourceId(resource),
                number,
            },
            node: node.map(NodeId),
            role,
            failed: false,
            managed: true,
            blocked: false,
        }
    }

    #[test]
    fn resources_are_listed_by_priority() {
        let mut c = group_cluster();
        c.resources[1].meta.priority = 10;
        let text = current_status(&c);
        let group = text.find("Resource Group: foo:").unwrap();
        let rsc1 = text.find("* rsc1\t").unwrap();
        assert!(group < rsc1, "{text}");
    }

    #[test]
    fn failed_probes_show_their_result() {
        let mut c = group_cluster();
        c.history.clear();
        c.failed_probes.push(crate::model::FailedProbe {
            resource: ResourceId(0),
            node: NodeId(1),
            rc: 5,
        });
        let text = current_status(&c);
        assert!(
            text.contains("* rsc1\t(ocf:heartbeat:apache):\t Stopped (not installed) \n"),
            "{text}"
        );
        let mut c = clone_cluster(false, false);
        c.failed_probes.push(crate::model::FailedProbe {
            resource: ResourceId(1),
            node: NodeId(2),
            rc: 5,
        });
        let text = current_status(&c);
        assert!(
            text.contains(
                "      * Stopped: [ node1 node2 ]\n      * Stopped (not installed): [ node10 ]\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn an_unmanaged_instance_on_a_lost_node_hides_its_clone() {
        // Pacemaker counts an unmanaged resource's node for its parents only
        // when the node is online: the clone is active, yet runs nowhere,
        // and its status output leaves it out.
        let mut c = clone_cluster(false, false);
        c.nodes[1].online = false;
        c.nodes[1].unclean = true;
        c.history = vec![History {
            failed: true,
            on_fail: Some(OnFail::Block),
            ..history(1, 1, Role::Started)
        }];
        let text = current_status(&c);
        assert!(!text.contains("Clone Set"), "{text}");
        assert!(text.contains("    * No resources\n"), "{text}");
        // Blocked and counted.
        assert!(notices(&c).contains("0 of 3 resource instances DISABLED and 1 BLOCKED"));
    }

    #[test]
    fn revised_status_rereads_the_history_the_transition_leaves() {
        // clone-max=1: the only instance moves from node1 to node2 (the
        // first node in the status). Re-reading, node2's history takes
        // instance 0 and node1's stopped history is left over: an orphan
        // instance, stopped, as crm_simulate shows it.
        let mut c = clone_cluster(false, false);
        if let ResourceKind::Clone(clone) = &mut c.resources[0].kind {
            clone.clone_max = Some(1);
        }
        c.history = vec![history(1, 1, Role::Stopped), history(1, 0, Role::Started)];
        let t = Transition {
            summary: vec![Change::Move {
                instance: Instance {
                    resource: ResourceId(1),
                    number: Some(0),
                },
                from: NodeId(0),
                to: NodeId(1),
            }],
            placement: vec![placed(1, Some(0), Some(1), Role::Started)],
            ..Transition::default()
        };
        let lines = placement_lines(&c, &t);
        assert!(
            lines.contains(&"place\tc/child\tStarted\tnode2\t-".to_string()),
            "{lines:?}"
        );
        assert!(
            lines.contains(&"place\tc/child\tStopped\t-\torphaned".to_string()),
            "{lines:?}"
        );
        let text = revised_status(&c, &t);
        assert!(text.contains("      * Started: [ node2 ]\n"), "{text}");
        assert!(!text.contains("ORPHANED"), "{text}");
    }

    #[test]
    fn fencing_clears_the_node_and_orphans_are_deleted() {
        let mut c = group_cluster();
        c.nodes[1].online = false;
        c.nodes[1].unclean = true;
        c.nodes[1].shutdown = true;
        c.history.push(history(0, 1, Role::Started));
        c.orphans.push(crate::model::Orphan {
            id: "old".into(),
            agent_spec: "ocf:heartbeat:Dummy".into(),
            node: NodeId(0),
            role: Role::Started,
            failed: false,
            managed: true,
            blocked: false,
        });
        let before = current_status(&c);
        assert!(
            before.contains("* old\t(ocf:heartbeat:Dummy):\t ORPHANED Started node1\n"),
            "{before}"
        );
        let t = Transition {
            summary: vec![Change::Fence {
                node: NodeId(1),
                action: FenceAction::Reboot,
                reason: "peer is no longer part of the cluster".into(),
            }],
            placement: vec![
                placed(0, None, Some(0), Role::Started),
                placed(2, None, Some(0), Role::Started),
                placed(3, None, Some(0), Role::Started),
            ],
            nodes: vec![
                NodeAfter {
                    node: NodeId(0),
                    online: true,
                    unclean: false,
                    standby: false,
                },
                NodeAfter {
                    node: NodeId(1),
                    online: false,
                    unclean: false,
                    standby: false,
                },
            ],
            ..Transition::default()
        };
        let lines = placement_lines(&c, &t);
        assert!(
            lines.contains(
                &"node\tnode2\tonline=false\tstandby=false\tmaintenance=false\tunclean=false\tshutdown=false"
                    .to_string()
            ),
            "{lines:?}"
        );
        assert!(!lines.iter().any(|l| l.contains("old")), "{lines:?}");
        let text = revised_status(&c, &t);
        assert!(text.contains("    * OFFLINE: [ node2 ]\n"), "{text}");
        assert!(
            text.contains("* rsc1\t(ocf:heartbeat:apache):\t Started node1\n"),
            "{text}"
        );
    }

    #[test]
    fn orphans_stop_last_blocked_ones_too() {
        let mut c = group_cluster();
        c.nodes[1].online = false;
        c.nodes[1].unclean = true;
        for (id, node) in [("old", 0), ("gone", 1), ("old", 1)] {
            c.orphans.push(crate::model::Orphan {
                id: id.into(),
                agent_spec: "ocf:heartbeat:Dummy".into(),
                node: NodeId(node),
                role: Role::Started,
                failed: false,
                managed: true,
                blocked: false,
            });
        }
        let t = Transition {
            summary: vec![Change::Start {
                instance: Instance {
                    resource: ResourceId(0),
                    number: None,
                },
                node: NodeId(0),
            }],
            stopped_orphans: vec![0],
            blocked_orphans: vec![1, 2],
            ..Transition::default()
        };
        let text = transition_summary(&c, &t);
        // Configured resources first; each orphan's nodes together, in the
        // order the history first names the orphan.
        assert_eq!(
            text,
            "Transition Summary:\n  \
             * Start      rsc1    ( node1 )\n  \
             * Stop       old     ( node1 )  due to node availability\n  \
             * Stop       old     ( node2 )  due to node availability (blocked)\n  \
             * Stop       gone    ( node2 )  due to node availability (blocked)\n"
        );
    }

    #[test]
    fn a_promotion_score_without_a_node_is_on_none() {
        let c = clone_cluster(true, false);
        let t = Transition {
            scores: vec![AllocationScore {
                stage: "promotion".into(),
                resource: "child:2".into(),
                node: AllocationScore::NO_NODE,
                score: crate::score::Score::ZERO,
            }],
            ..Transition::default()
        };
        assert_eq!(scores(&c, &t), "child:2 promotion score on none: 0\n");
    }

    #[test]
    fn actions_a_loop_keeps_from_running_end_the_execution() {
        let c = group_cluster();
        let mut t = group_transition();
        // The start of rsc4 and the running marker wait for each other.
        t.edges.push((2, 0));
        t.never_run = vec![0, 2];
        let text = executed_actions(&c, &t);
        assert_eq!(
            text,
            "Executing Cluster Transition:\n  \
             * Resource action: rsc4            stop on node1\n\
             Transition failed: terminated\n\
             An invalid transition was produced\n"
        );
    }

    #[test]
    fn maintenance_mode_notice_and_unmanaged_resources() {
        let mut c = group_cluster();
        c.options.maintenance_mode = true;
        assert!(notices(&c).contains("*** Resource management is DISABLED ***"));
        let text = current_status(&c);
        assert!(text.contains("Started node1 (unmanaged)"), "{text}");
        assert!(text.contains("Resource Group: foo (unmanaged):"), "{text}");
    }
}
