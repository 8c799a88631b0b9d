//! The native file's resources and constraints, checked and compiled into
//! the compact CRM's model ([`Cluster`]) — the same model a Pacemaker CIB
//! and heartbeat's haresources become.
//!
//! ```toml
//! [cluster]                          # besides name, nodes, …: the policy
//! no_quorum_policy = "stop"          # no-quorum-policy
//!
//! [resource_defaults]                # rsc_defaults
//! stickiness = 100                   # resource-stickiness
//!
//! [[resource]]                       # a primitive
//! id = "vip"
//! agent = "ocf:heartbeat:IPaddr2"
//! params = { ip = "198.18.0.10", cidr_netmask = "24" }
//! [[resource.op]]
//! name = "monitor"
//! interval = "10s"
//!
//! [[group]]                          # members start in order, on one node
//! id = "web"
//! members = ["vip", "site"]
//!
//! [[clone]]                          # copies of a resource or group
//! id = "ping-clone"
//! of = "ping"
//!
//! [[location]]                       # rsc_location
//! resource = "web"
//! node = "node1"
//! score = 100
//!
//! [[colocation]]                     # rsc_colocation: resource with `with`
//! resource = "web"
//! with = "ping-clone"
//! score = "INFINITY"
//!
//! [[order]]                          # rsc_order
//! first = "ping-clone"
//! then = "web"
//! ```
//!
//! Every rule is checked here, every error located at the line of the
//! value to change; compiling the checked tables cannot fail. The keys, their
//! defaults and the Pacemaker name of each are in docs/config.md
//! ("Resources and constraints").

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;

use ironbeat_crm::model::{
    Clone, Cluster, ClusterOptions, Colocation, Discovery, FenceAction, Group,
    Location as Preference, Meta, NoQuorumPolicy, OnFail, Operation, Order, OrderKind, Primitive,
    Resource, ResourceId, ResourceKind, Role, Task,
};
use ironbeat_crm::score::Score;
use serde::Deserialize;
use toml::Spanned;

use super::error::ConfigError;
use super::model::Location;
use super::native::{duration, Source};
use super::to_crm::{base_cluster, unique_id};
use super::values::nearest;

/// The agent classes `agent` accepts, as written before the first `:`.
pub const AGENT_CLASSES: &[&str] = &["ocf", "lsb", "systemd", "service", "heartbeat"];

/// The operations `[[resource.op]]` accepts.
const OPERATIONS: &[&str] = &["monitor", "start", "stop", "promote", "demote"];

/// The `on_fail` values.
const ON_FAIL: &[&str] = &["ignore", "block", "stop", "restart", "standby", "fence"];

/// How many names a "resources are: …" list shows.
const LISTED: usize = 20;

/// Declares a raw table with the meta keys every resource kind takes
/// (`stickiness`, `migration_threshold`, …) after its own keys, and a
/// [`MetaKeys`] view of them (serde's `flatten` cannot be combined with
/// `deny_unknown_fields`).
macro_rules! with_meta_keys {
    (
        $(#[$attr:meta])*
        struct $name:ident { $($(#[$field_attr:meta])* $field:ident: $ty:ty,)* }
    ) => {
        $(#[$attr])*
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        pub(super) struct $name {
            $($(#[$field_attr])* $field: $ty,)*
            stickiness: Option<Spanned<toml::Value>>,
            migration_threshold: Option<Spanned<toml::Value>>,
            failure_timeout: Option<Spanned<String>>,
            priority: Option<Spanned<i64>>,
            target_role: Option<Spanned<String>>,
            managed: Option<Spanned<bool>>,
        }

        impl $name {
            fn meta_keys(&self) -> MetaKeys<'_> {
                MetaKeys {
                    stickiness: self.stickiness.as_ref(),
                    migration_threshold: self.migration_threshold.as_ref(),
                    failure_timeout: self.failure_timeout.as_ref(),
                    priority: self.priority.as_ref(),
                    target_role: self.target_role.as_ref(),
                    managed: self.managed.as_ref(),
                }
            }
        }
    };
}

with_meta_keys! {
    /// `[resource_defaults]`: Pacemaker's `rsc_defaults`.
    struct RawDefaults {}
}

with_meta_keys! {
    /// One `[[resource]]`: a primitive.
    struct RawResource {
        id: Option<Spanned<String>>,
        agent: Option<Spanned<String>>,
        params: Option<Spanned<BTreeMap<Spanned<String>, Spanned<toml::Value>>>>,
        #[serde(default)]
        op: Vec<Spanned<RawOp>>,
    }
}

with_meta_keys! {
    /// One `[[group]]`.
    struct RawGroup {
        id: Option<Spanned<String>>,
        members: Option<Spanned<Vec<Spanned<String>>>>,
    }
}

with_meta_keys! {
    /// One `[[clone]]`.
    struct RawClone {
        id: Option<Spanned<String>>,
        of: Option<Spanned<String>>,
        clone_max: Option<Spanned<i64>>,
        clone_node_max: Option<Spanned<i64>>,
        clone_min: Option<Spanned<i64>>,
        promotable: Option<Spanned<bool>>,
        promoted_max: Option<Spanned<i64>>,
        promoted_node_max: Option<Spanned<i64>>,
        interleave: Option<Spanned<bool>>,
        ordered: Option<Spanned<bool>>,
        globally_unique: Option<Spanned<bool>>,
    }
}

/// One `[[resource.op]]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOp {
    name: Option<Spanned<String>>,
    interval: Option<Spanned<String>>,
    timeout: Option<Spanned<String>>,
    on_fail: Option<Spanned<String>>,
    role: Option<Spanned<String>>,
    enabled: Option<Spanned<bool>>,
}

/// One `[[location]]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLocation {
    resource: Option<Spanned<String>>,
    node: Option<Spanned<String>>,
    score: Option<Spanned<toml::Value>>,
    role: Option<Spanned<String>>,
}

/// One `[[colocation]]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawColocation {
    resource: Option<Spanned<String>>,
    with: Option<Spanned<String>>,
    score: Option<Spanned<toml::Value>>,
    resource_role: Option<Spanned<String>>,
    with_role: Option<Spanned<String>>,
}

/// One `[[order]]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOrder {
    first: Option<Spanned<String>>,
    then: Option<Spanned<String>>,
    kind: Option<Spanned<String>>,
    symmetrical: Option<Spanned<bool>>,
    first_action: Option<Spanned<String>>,
    then_action: Option<Spanned<String>>,
}

/// The `[cluster]` keys of the policy (Pacemaker's cluster options).
#[derive(Default)]
pub(super) struct RawPolicy<'a> {
    /// `stonith_enabled`.
    pub stonith_enabled: Option<&'a Spanned<bool>>,
    /// `stonith_action`.
    pub stonith_action: Option<&'a Spanned<String>>,
    /// `no_quorum_policy`.
    pub no_quorum_policy: Option<&'a Spanned<String>>,
    /// `symmetric_cluster`.
    pub symmetric_cluster: Option<&'a Spanned<bool>>,
    /// `start_failure_is_fatal`.
    pub start_failure_is_fatal: Option<&'a Spanned<bool>>,
    /// `maintenance_mode`.
    pub maintenance_mode: Option<&'a Spanned<bool>>,
}

/// The file's resource tables, as serde read them.
pub(super) struct RawSections<'a> {
    /// `[resource_defaults]`.
    pub defaults: Option<&'a Spanned<RawDefaults>>,
    /// `[[resource]]`.
    pub resources: &'a [Spanned<RawResource>],
    /// `[[group]]`.
    pub groups: &'a [Spanned<RawGroup>],
    /// `[[clone]]`.
    pub clones: &'a [Spanned<RawClone>],
    /// `[[location]]`.
    pub locations: &'a [Spanned<RawLocation>],
    /// `[[colocation]]`.
    pub colocations: &'a [Spanned<RawColocation>],
    /// `[[order]]`.
    pub orders: &'a [Spanned<RawOrder>],
}

/// The cluster facts the resources are checked against.
pub(super) struct Members<'a> {
    /// `[cluster] name`.
    pub name: &'a str,
    /// The members.
    pub nodes: &'a [String],
    /// The ids of the fence primitives (`fence_<device name>`), with the
    /// line of each device.
    pub fence_devices: &'a [(String, Location)],
}

/// The native file's cluster, compiled.
#[derive(Debug, Clone)]
pub(super) struct NativeCrm {
    /// The model: nodes (not yet online: the caller fills node states in),
    /// options, fence primitives, resources and constraints.
    pub cluster: Cluster,
    /// The first resource table of the file, if it has any (`[[resource]]`,
    /// `[[group]]`, `[[clone]]`).
    pub first_resource: Option<Location>,
}

/// The meta keys of one table.
struct MetaKeys<'a> {
    stickiness: Option<&'a Spanned<toml::Value>>,
    migration_threshold: Option<&'a Spanned<toml::Value>>,
    failure_timeout: Option<&'a Spanned<String>>,
    priority: Option<&'a Spanned<i64>>,
    target_role: Option<&'a Spanned<String>>,
    managed: Option<&'a Spanned<bool>>,
}

/// Checked meta keys of one table; unset keys are inherited.
#[derive(Debug, Clone, Default)]
struct MetaSpec {
    stickiness: Option<Score>,
    migration_threshold: Option<u32>,
    failure_timeout_s: Option<u64>,
    priority: Option<i32>,
    /// The role, and the span of the value (checked once the resource's
    /// place is known: Promoted needs a promotable clone).
    target_role: Option<(Role, Range<usize>)>,
    managed: Option<bool>,
}

/// What a configured id names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `[[resource]]` number n.
    Primitive(usize),
    /// `[[group]]` number n.
    Group(usize),
    /// `[[clone]]` number n.
    Clone(usize),
    /// A fence device's primitive (index into `Members::fence_devices`).
    Fence(usize),
}

/// One configured id.
struct Entry {
    id: String,
    kind: Kind,
    /// Where its table starts (file order of top-level resources).
    start: usize,
    /// The line of its `id`.
    id_span: Range<usize>,
    /// The group or clone holding it.
    parent: Option<usize>,
}

impl Kind {
    fn noun(self) -> &'static str {
        match self {
            Kind::Primitive(_) => "resource",
            Kind::Group(_) => "group",
            Kind::Clone(_) => "clone",
            Kind::Fence(_) => "fence device",
        }
    }
}

/// The resource sections checked and compiled with the cluster's members
/// and fence devices into the model.
pub(super) fn compile(
    src: &Source<'_>,
    raw: &RawSections<'_>,
    policy: &RawPolicy<'_>,
    members: &Members<'_>,
) -> Result<NativeCrm, ConfigError> {
    let options = options(src, policy, members)?;
    let fence_ids: Vec<String> = members
        .fence_devices
        .iter()
        .map(|(id, _)| id.clone())
        .collect();
    let mut cluster = base_cluster(members.name, members.nodes, &fence_ids, options);
    let defaults = match raw.defaults {
        Some(d) => meta_spec(src, &d.get_ref().meta_keys())?,
        None => MetaSpec::default(),
    };

    let mut ids = Ids::default();
    for (i, (id, location)) in members.fence_devices.iter().enumerate() {
        ids.entries.push(Entry {
            id: id.clone(),
            kind: Kind::Fence(i),
            start: 0,
            id_span: 0..0,
            parent: None,
        });
        ids.fence_lines.push(location.line);
        ids.by_name.insert(id.clone(), ids.entries.len() - 1);
    }
    let table_id = |span: Range<usize>, id: Option<&Spanned<String>>, table: &str| {
        id.cloned().ok_or_else(|| {
            src.error(
                &span,
                format!(
                    "this [[{table}]] has no `id`; add one, e.g. id = \"{}\" (constraints and \
                     messages name it by its id)",
                    match table {
                        "resource" => "vip",
                        "group" => "web",
                        _ => "ping-clone",
                    }
                ),
            )
        })
    };
    for (i, r) in raw.resources.iter().enumerate() {
        let id = table_id(r.span(), r.get_ref().id.as_ref(), "resource")?;
        ids.add(src, &id, Kind::Primitive(i), r.span().start)?;
    }
    ids.group_base = ids.entries.len();
    for (i, g) in raw.groups.iter().enumerate() {
        let id = table_id(g.span(), g.get_ref().id.as_ref(), "group")?;
        ids.add(src, &id, Kind::Group(i), g.span().start)?;
    }
    ids.clone_base = ids.entries.len();
    for (i, c) in raw.clones.iter().enumerate() {
        let id = table_id(c.span(), c.get_ref().id.as_ref(), "clone")?;
        ids.add(src, &id, Kind::Clone(i), c.span().start)?;
    }

    // Agents first: whether a clone may be promotable depends on them.
    let mut agents = Vec::with_capacity(raw.resources.len());
    for r in raw.resources {
        let Some(agent) = &r.get_ref().agent else {
            return Err(src.error(
                &r.span(),
                "this [[resource]] has no `agent`; add one, e.g. agent = \
                 \"ocf:heartbeat:IPaddr2\", \"systemd:nginx\" or \"lsb:apache2\"",
            ));
        };
        agents.push(parse_agent(src, agent)?);
    }

    // Groups: members are resources, each in one group.
    for (gi, g) in raw.groups.iter().enumerate() {
        let group = ids.entry_of(Kind::Group(gi));
        let Some(list) = &g.get_ref().members else {
            return Err(src.error(
                &g.span(),
                format!(
                    "group `{}` has no `members`; list its resources in start order, e.g. \
                     members = [\"vip\", \"nginx\"]",
                    ids.entries[group].id
                ),
            ));
        };
        if list.get_ref().is_empty() {
            return Err(src.error(
                &list.span(),
                format!(
                    "group `{}` has no members; list its resources in start order, or remove \
                     the group",
                    ids.entries[group].id
                ),
            ));
        }
        for (k, name) in list.get_ref().iter().enumerate() {
            let member = ids.resolve(src, name, "group member")?;
            if list.get_ref()[..k]
                .iter()
                .any(|n| n.get_ref() == name.get_ref())
            {
                return Err(src.error(
                    &name.span(),
                    format!(
                        "`{}` is listed twice in group `{}`; list each member once",
                        name.get_ref(),
                        ids.entries[group].id
                    ),
                ));
            }
            match ids.entries[member].kind {
                Kind::Primitive(_) => {}
                Kind::Group(_) => {
                    return Err(src.error(
                        &name.span(),
                        format!(
                            "`{}` is a group, and a group holds resources only (groups do not \
                             nest); list that group's members here instead",
                            name.get_ref()
                        ),
                    ))
                }
                Kind::Clone(_) => {
                    return Err(src.error(
                        &name.span(),
                        format!(
                            "`{}` is a clone, and a group holds resources only; to run the group \
                             on every node, clone the group instead ([[clone]] of = \"{}\")",
                            name.get_ref(),
                            ids.entries[group].id
                        ),
                    ))
                }
                Kind::Fence(_) => {
                    return Err(src.error(
                        &name.span(),
                        format!(
                            "`{}` is a fence device, which cannot be a group member",
                            name.get_ref()
                        ),
                    ))
                }
            }
            if let Some(other) = ids.entries[member].parent {
                return Err(src.error(
                    &name.span(),
                    format!(
                        "resource `{}` is already a member of group `{}` (line {}); a \
                         resource belongs to one group",
                        name.get_ref(),
                        ids.entries[other].id,
                        src.location(&ids.entries[other].id_span).line
                    ),
                ));
            }
            ids.entries[member].parent = Some(group);
        }
    }

    // Clones: of a resource or a group that nothing else holds.
    for (ci, c) in raw.clones.iter().enumerate() {
        let clone = ids.entry_of(Kind::Clone(ci));
        let Some(of) = &c.get_ref().of else {
            return Err(src.error(
                &c.span(),
                format!(
                    "clone `{}` has no `of`; name the resource or group to clone, e.g. of = \
                     \"ping\"",
                    ids.entries[clone].id
                ),
            ));
        };
        let child = ids.resolve(src, of, "cloned resource")?;
        match ids.entries[child].kind {
            Kind::Primitive(_) | Kind::Group(_) => {}
            Kind::Clone(_) => {
                return Err(src.error(
                    &of.span(),
                    format!(
                        "`{}` is a clone already; a clone is of a resource or a group",
                        of.get_ref()
                    ),
                ))
            }
            Kind::Fence(_) => {
                return Err(src.error(
                    &of.span(),
                    format!(
                        "`{}` is a fence device, which cannot be cloned",
                        of.get_ref()
                    ),
                ))
            }
        }
        if let Some(holder) = ids.entries[child].parent {
            let h = &ids.entries[holder];
            let fix = match h.kind {
                Kind::Group(_) => format!(
                    "a group member runs with its group; clone the whole group (of = \"{}\") \
                     or take `{}` out of it",
                    h.id,
                    of.get_ref()
                ),
                _ => "clone it once".to_string(),
            };
            return Err(src.error(
                &of.span(),
                format!(
                    "`{}` is already in {} `{}` (line {}); {fix}",
                    of.get_ref(),
                    h.kind.noun(),
                    h.id,
                    src.location(&h.id_span).line
                ),
            ));
        }
        ids.entries[child].parent = Some(clone);
    }

    let mut built = Built {
        resource_of: vec![None; ids.entries.len()],
        promotable: vec![false; ids.entries.len()],
    };
    for (i, _) in members.fence_devices.iter().enumerate() {
        built.resource_of[i] = Some(ResourceId(i));
    }

    // Top-level resources in file order, each followed by its children.
    let mut top: Vec<usize> = (0..ids.entries.len())
        .filter(|&e| {
            ids.entries[e].parent.is_none() && !matches!(ids.entries[e].kind, Kind::Fence(_))
        })
        .collect();
    top.sort_by_key(|&e| ids.entries[e].start);
    let context = Context {
        src,
        raw,
        ids: &ids,
        agents: &agents,
        defaults: &defaults,
        stonith: cluster.options.stonith_enabled,
    };
    for e in top {
        context.push(&mut cluster, &mut built, e, None, false)?;
    }

    let mut generated: HashMap<String, usize> = HashMap::new();
    for l in raw.locations {
        let location = context.location(&cluster, &built, l, &mut generated)?;
        cluster.locations.push(location);
    }
    for c in raw.colocations {
        let colocation = context.colocation(&cluster, &built, c, &mut generated)?;
        cluster.colocations.push(colocation);
    }
    let mut order_spans = Vec::new();
    for o in raw.orders {
        let order = context.order(&built, o, &mut generated)?;
        cluster.orders.push(order);
        order_spans.push(o.span());
    }
    if let Some(cycle) = order_cycle(&cluster) {
        let listed: Vec<String> = cycle
            .iter()
            .map(|&i| {
                let o = &cluster.orders[i];
                format!(
                    "line {} ({} {} then {} {})",
                    src.location(&order_spans[i]).line,
                    cluster.resource(o.first).id,
                    o.first_action,
                    cluster.resource(o.then).id,
                    o.then_action
                )
            })
            .collect();
        let message = if cycle.len() == 1 {
            format!(
                "this order contradicts the order its resources keep anyway (a group starts \
                 its members in order and stops them in reverse; a resource stops before it \
                 starts), so its actions could never run: {}; remove or reverse it{}",
                listed.join(", "),
                if cluster.orders[cycle[0]].symmetrical {
                    ", or make it symmetrical = false"
                } else {
                    ""
                }
            )
        } else {
            format!(
                "these orders form a cycle (with the order groups keep between their \
                 members), so none of their actions could ever run: {}; remove or reverse one",
                listed.join(", ")
            )
        };
        return Err(src.error(&order_spans[cycle[0]], message));
    }

    let first_resource = raw
        .resources
        .iter()
        .map(Spanned::span)
        .chain(raw.groups.iter().map(Spanned::span))
        .chain(raw.clones.iter().map(Spanned::span))
        .min_by_key(|s| s.start)
        .map(|s| src.location(&s));
    Ok(NativeCrm {
        cluster,
        first_resource,
    })
}

/// Every configured id, and where each is.
#[derive(Default)]
struct Ids {
    entries: Vec<Entry>,
    by_name: HashMap<String, usize>,
    /// The line of each fence device (for "taken by" messages).
    fence_lines: Vec<usize>,
    /// The entry of the first group.
    group_base: usize,
    /// The entry of the first clone.
    clone_base: usize,
}

impl Ids {
    fn add(
        &mut self,
        src: &Source<'_>,
        id: &Spanned<String>,
        kind: Kind,
        start: usize,
    ) -> Result<(), ConfigError> {
        let name = id.get_ref();
        check_id(name).map_err(|m| src.error(&id.span(), m))?;
        if let Some(&e) = self.by_name.get(name) {
            let other = &self.entries[e];
            let line = match other.kind {
                Kind::Fence(i) => self.fence_lines[i],
                _ => src.location(&other.id_span).line,
            };
            let extra = if matches!(other.kind, Kind::Fence(_)) {
                " (each [[fence.device]] becomes a resource `fence_NAME`)"
            } else {
                ""
            };
            return Err(src.error(
                &id.span(),
                format!(
                    "id `{name}` is already used by the {} at line {line}{extra}; ids of \
                     resources, groups and clones are unique",
                    other.kind.noun()
                ),
            ));
        }
        self.entries.push(Entry {
            id: name.clone(),
            kind,
            start,
            id_span: id.span(),
            parent: None,
        });
        self.by_name.insert(name.clone(), self.entries.len() - 1);
        Ok(())
    }

    /// The entry of a table: entries are fence devices, then resources,
    /// then groups, then clones, each in file order (as `compile` adds them).
    fn entry_of(&self, kind: Kind) -> usize {
        match kind {
            Kind::Fence(i) => i,
            Kind::Primitive(i) => self.fence_lines.len() + i,
            Kind::Group(i) => self.group_base + i,
            Kind::Clone(i) => self.clone_base + i,
        }
    }

    /// The entry a reference names, or an error listing what exists.
    fn resolve(
        &self,
        src: &Source<'_>,
        name: &Spanned<String>,
        what: &str,
    ) -> Result<usize, ConfigError> {
        if let Some(&e) = self.by_name.get(name.get_ref()) {
            return Ok(e);
        }
        let names: Vec<&str> = self.entries.iter().map(|e| e.id.as_str()).collect();
        let hint = nearest(name.get_ref(), names.iter().copied())
            .map(|n| format!(" (did you mean `{n}`?)"))
            .unwrap_or_default();
        let list = if names.is_empty() {
            "none is configured yet; add a [[resource]] with this id".to_string()
        } else if names.len() > LISTED {
            format!(
                "resources are: {}, … ({} in all)",
                names[..LISTED].join(", "),
                names.len()
            )
        } else {
            format!("resources are: {}", names.join(", "))
        };
        Err(src.error(
            &name.span(),
            format!(
                "no resource `{}` for this {what}{hint}; {list}",
                name.get_ref()
            ),
        ))
    }
}

/// What compiling has produced so far, per entry.
struct Built {
    /// The model resource of each entry.
    resource_of: Vec<Option<ResourceId>>,
    /// Whether each entry is, or is inside, a promotable clone.
    promotable: Vec<bool>,
}

/// A parsed `agent`.
#[derive(Debug, Clone)]
struct Agent {
    class: String,
    provider: Option<String>,
    kind: String,
}

/// The inputs every compile step reads.
struct Context<'s, 'r> {
    src: &'s Source<'s>,
    raw: &'r RawSections<'r>,
    ids: &'r Ids,
    agents: &'r [Agent],
    defaults: &'r MetaSpec,
    stonith: bool,
}

impl Context<'_, '_> {
    /// Adds entry `e` (and its children) under `parent`.
    fn push(
        &self,
        cluster: &mut Cluster,
        built: &mut Built,
        e: usize,
        parent: Option<ResourceId>,
        promotable: bool,
    ) -> Result<ResourceId, ConfigError> {
        let src = self.src;
        let entry = &self.ids.entries[e];
        let rid = ResourceId(cluster.resources.len());
        built.resource_of[e] = Some(rid);
        let (own, promotable) = match entry.kind {
            Kind::Primitive(i) => (self.raw.resources[i].get_ref().meta_keys(), promotable),
            Kind::Group(i) => (self.raw.groups[i].get_ref().meta_keys(), promotable),
            Kind::Clone(i) => {
                let c = self.raw.clones[i].get_ref();
                let p = c.promotable.as_ref().is_some_and(|p| *p.get_ref());
                (c.meta_keys(), p)
            }
            Kind::Fence(_) => return Ok(rid),
        };
        built.promotable[e] = promotable;
        let meta = self.meta(e, &own, promotable)?;
        cluster.resources.push(Resource {
            id: entry.id.clone(),
            parent,
            kind: ResourceKind::Group(Group {
                members: Vec::new(),
                ordered: true,
                collocated: true,
            }),
            meta,
        });
        let kind = match entry.kind {
            Kind::Primitive(i) => ResourceKind::Primitive(self.primitive(i, promotable)?),
            Kind::Group(i) => {
                let mut members = Vec::new();
                let list = self.raw.groups[i]
                    .get_ref()
                    .members
                    .as_ref()
                    .map_or(&[][..], |m| &m.get_ref()[..]);
                for name in list {
                    if let Some(&m) = self.ids.by_name.get(name.get_ref()) {
                        members.push(self.push(cluster, built, m, Some(rid), promotable)?);
                    }
                }
                ResourceKind::Group(Group {
                    members,
                    ordered: true,
                    collocated: true,
                })
            }
            Kind::Clone(i) => {
                let raw = self.raw.clones[i].get_ref();
                let child_entry = raw
                    .of
                    .as_ref()
                    .and_then(|o| self.ids.by_name.get(o.get_ref()).copied());
                // Checked by `compile` before anything is pushed.
                let Some(child_entry) = child_entry else {
                    return Err(src.error(
                        &self.raw.clones[i].span(),
                        "this [[clone]] names no resource in `of`; name the resource or group \
                         to clone",
                    ));
                };
                let spec = self.clone_spec(i, child_entry)?;
                let child = self.push(cluster, built, child_entry, Some(rid), promotable)?;
                ResourceKind::Clone(Clone { child, ..spec })
            }
            Kind::Fence(_) => return Ok(rid),
        };
        cluster.resources[rid.0].kind = kind;
        Ok(rid)
    }

    /// Effective meta attributes of entry `e`: its own keys, then its
    /// parents', then `[resource_defaults]`; clones and their contents have
    /// a stickiness of 1 unless one of those sets it (as Pacemaker does).
    fn meta(&self, e: usize, own: &MetaKeys<'_>, promotable: bool) -> Result<Meta, ConfigError> {
        let mut spec = meta_spec(self.src, own)?;
        let mut in_clone = matches!(self.ids.entries[e].kind, Kind::Clone(_));
        let mut ancestor = self.ids.entries[e].parent;
        while let Some(a) = ancestor {
            let keys = match self.ids.entries[a].kind {
                Kind::Group(i) => self.raw.groups[i].get_ref().meta_keys(),
                Kind::Clone(i) => {
                    in_clone = true;
                    self.raw.clones[i].get_ref().meta_keys()
                }
                Kind::Primitive(_) | Kind::Fence(_) => break,
            };
            spec = spec.or(meta_spec(self.src, &keys)?);
            ancestor = self.ids.entries[a].parent;
        }
        spec = spec.or(self.defaults.clone());
        let id = &self.ids.entries[e].id;
        let target_role = match spec.target_role {
            None | Some((Role::Started, _)) => None,
            Some((Role::Stopped, _)) => Some(Role::Stopped),
            Some((Role::Promoted, _)) if promotable => None,
            Some((Role::Unpromoted, _)) if promotable => Some(Role::Unpromoted),
            Some((role, span)) => {
                return Err(self.src.error(
                    &span,
                    format!(
                        "target_role \"{role}\" applies to promotable clones only, and `{id}` \
                         is not in one; use \"Started\" or \"Stopped\""
                    ),
                ))
            }
        };
        Ok(Meta {
            priority: spec.priority.unwrap_or(0),
            target_role,
            managed: spec.managed.unwrap_or(true),
            stickiness: spec.stickiness.or(in_clone.then(|| Score::new(1))),
            migration_threshold: spec.migration_threshold.unwrap_or(1_000_000),
            failure_timeout_s: spec.failure_timeout_s.unwrap_or(0),
            ..Meta::default()
        })
    }

    /// `[[resource]]` number `i` as a primitive.
    fn primitive(&self, i: usize, promotable: bool) -> Result<Primitive, ConfigError> {
        let src = self.src;
        let raw = self.raw.resources[i].get_ref();
        let agent = &self.agents[i];
        let mut parameters = BTreeMap::new();
        if let Some(params) = &raw.params {
            for (name, value) in params.get_ref() {
                check_param_name(name.get_ref()).map_err(|m| src.error(&name.span(), m))?;
                let text = param_value(name.get_ref(), value.get_ref())
                    .map_err(|m| src.error(&value.span(), m))?;
                parameters.insert(name.get_ref().clone(), text);
            }
        }
        let mut operations: Vec<(Operation, Range<usize>)> = Vec::new();
        for op in &raw.op {
            let operation = self.operation(op, promotable, &raw.id)?;
            if let Some((_, first)) = operations
                .iter()
                .find(|(o, _)| o.name == operation.name && o.interval_ms == operation.interval_ms)
            {
                return Err(src.error(
                    &op.span(),
                    format!(
                        "this op repeats the {} op at line {} (same name and interval); give \
                         each op its own interval",
                        operation.name,
                        src.location(first).line
                    ),
                ));
            }
            operations.push((operation, op.span()));
        }
        Ok(Primitive {
            class: agent.class.clone(),
            provider: agent.provider.clone(),
            agent: agent.kind.clone(),
            operations: operations.into_iter().map(|(o, _)| o).collect(),
            parameters,
        })
    }

    /// One `[[resource.op]]`.
    fn operation(
        &self,
        raw: &Spanned<RawOp>,
        promotable: bool,
        resource: &Option<Spanned<String>>,
    ) -> Result<Operation, ConfigError> {
        let src = self.src;
        let table = raw.span();
        let raw = raw.get_ref();
        let id = resource.as_ref().map_or("", |r| r.get_ref().as_str());
        let Some(name) = &raw.name else {
            return Err(src.error(
                &table,
                "this op has no `name`; add name = \"monitor\" (or start, stop, promote, \
                 demote)",
            ));
        };
        let Some(&op) = OPERATIONS.iter().find(|o| **o == name.get_ref()) else {
            let hint = nearest(name.get_ref(), OPERATIONS.iter().copied())
                .map(|n| format!("did you mean \"{n}\"? "))
                .unwrap_or_default();
            return Err(src.error(
                &name.span(),
                format!(
                    "unknown op {:?}; {hint}use \"monitor\", \"start\", \"stop\", \"promote\" \
                     or \"demote\"",
                    name.get_ref()
                ),
            ));
        };
        if matches!(op, "promote" | "demote") && !promotable {
            return Err(src.error(
                &name.span(),
                format!(
                    "a {op} op applies to promotable clones only, and `{id}` is not in one; \
                     remove it or clone `{id}` with promotable = true"
                ),
            ));
        }
        let interval_ms = match &raw.interval {
            Some(i) => millis(duration(src, "interval", i)?),
            None => 0,
        };
        if op == "monitor" && interval_ms == 0 {
            let span = raw.interval.as_ref().map_or(name.span(), Spanned::span);
            return Err(src.error(
                &span,
                "a monitor needs an interval; add interval = \"10s\" (how often it checks)",
            ));
        }
        if op != "monitor" && interval_ms != 0 {
            let span = raw.interval.as_ref().map_or(name.span(), Spanned::span);
            return Err(src.error(
                &span,
                format!("only monitors recur; remove `interval` from this {op} op"),
            ));
        }
        let timeout_ms = match &raw.timeout {
            Some(t) => {
                let ms = millis(duration(src, "timeout", t)?);
                if ms == 0 {
                    return Err(src.error(
                        &t.span(),
                        "timeout must be longer than 0; write e.g. \"20s\"",
                    ));
                }
                Some(ms)
            }
            None => None,
        };
        let on_fail = match &raw.on_fail {
            None => None,
            Some(v) => Some(self.on_fail(v, op)?),
        };
        let role = match &raw.role {
            None => None,
            Some(r) => match parse_role(r.get_ref()) {
                Some(Role::Started) => None,
                Some(role @ (Role::Promoted | Role::Unpromoted)) if op == "monitor" => {
                    if !promotable {
                        return Err(src.error(
                            &r.span(),
                            format!(
                                "role \"{role}\" applies to promotable clones only, and `{id}` is \
                                 not in one; remove `role`"
                            ),
                        ));
                    }
                    Some(role)
                }
                _ => {
                    return Err(src.error(
                        &r.span(),
                        format!(
                            "role {:?} is not valid here; a monitor of a promotable clone takes \
                             role = \"Promoted\" or \"Unpromoted\" (other ops take no role)",
                            r.get_ref()
                        ),
                    ))
                }
            },
        };
        Ok(Operation {
            name: op.to_string(),
            interval_ms,
            role,
            on_fail,
            enabled: raw.enabled.as_ref().map_or(true, |e| *e.get_ref()),
            timeout_ms,
            start_delay_ms: 0,
        })
    }

    /// `on_fail` of an op.
    fn on_fail(&self, value: &Spanned<String>, op: &str) -> Result<OnFail, ConfigError> {
        let src = self.src;
        let text = value.get_ref().to_ascii_lowercase();
        let on_fail = match text.as_str() {
            "ignore" => OnFail::Ignore,
            "block" => OnFail::Block,
            "stop" => OnFail::Stop,
            "restart" => OnFail::Restart,
            "standby" => OnFail::Standby,
            "fence" => OnFail::Fence,
            _ => {
                let hint = nearest(&text, ON_FAIL.iter().copied())
                    .map(|n| format!("did you mean \"{n}\"? "))
                    .unwrap_or_default();
                return Err(src.error(
                    &value.span(),
                    format!(
                        "unknown on_fail {:?}; {hint}use \"restart\", \"stop\", \"block\", \
                         \"standby\", \"fence\" or \"ignore\"",
                        value.get_ref()
                    ),
                ));
            }
        };
        if op == "stop" && matches!(on_fail, OnFail::Stop | OnFail::Standby | OnFail::Restart) {
            return Err(src.error(
                &value.span(),
                format!(
                    "on_fail \"{text}\" cannot answer a failed stop (the resource may still \
                     run); use \"fence\" or \"block\" (the default: fence when fencing is \
                     enabled, else block)"
                ),
            ));
        }
        if on_fail == OnFail::Fence && !self.stonith {
            return Err(src.error(
                &value.span(),
                "on_fail = \"fence\" needs fencing, which is off; add a [[fence.device]] (or \
                 set stonith_enabled = true in [cluster]), or use \"block\"",
            ));
        }
        Ok(on_fail)
    }

    /// The settings of `[[clone]]` number `i` (the child is filled in by
    /// the caller).
    fn clone_spec(&self, i: usize, child: usize) -> Result<Clone, ConfigError> {
        let src = self.src;
        let raw = self.raw.clones[i].get_ref();
        let id = &self.ids.entries[self.ids.entry_of(Kind::Clone(i))].id;
        let promotable = raw.promotable.as_ref().is_some_and(|p| *p.get_ref());
        let unique = raw.globally_unique.as_ref().is_some_and(|u| *u.get_ref());
        let count = |value: Option<&Spanned<i64>>, name: &str, min: i64| {
            value
                .map(|v| match u32::try_from(*v.get_ref()) {
                    Ok(n) if i64::from(n) >= min => Ok(n),
                    _ => Err(src.error(
                        &v.span(),
                        format!(
                            "{name} {} must be a whole number from {min} up",
                            v.get_ref()
                        ),
                    )),
                })
                .transpose()
        };
        let clone_max = count(raw.clone_max.as_ref(), "clone_max", 1)?;
        let clone_node_max = count(raw.clone_node_max.as_ref(), "clone_node_max", 1)?;
        let clone_min = count(raw.clone_min.as_ref(), "clone_min", 0)?;
        if let (Some(max), Some(min)) = (clone_max, clone_min) {
            if min > max {
                let span = raw
                    .clone_min
                    .as_ref()
                    .map(Spanned::span)
                    .unwrap_or_default();
                return Err(src.error(
                    &span,
                    format!(
                        "clone_min {min} is more than clone_max {max}; the clone could never \
                         count as up"
                    ),
                ));
            }
        }
        if let Some(v) = &raw.clone_node_max {
            if *v.get_ref() > 1 && !unique {
                return Err(src.error(
                    &v.span(),
                    "clone_node_max above 1 needs globally_unique = true (anonymous copies on \
                     one node are the same copy)",
                ));
            }
        }
        for (key, value) in [
            ("promoted_max", &raw.promoted_max),
            ("promoted_node_max", &raw.promoted_node_max),
        ] {
            if let Some(v) = value {
                if !promotable {
                    return Err(src.error(
                        &v.span(),
                        format!(
                            "{key} applies to promotable clones; add promotable = true to \
                             clone `{id}` or remove {key}"
                        ),
                    ));
                }
            }
        }
        let promoted_max = count(raw.promoted_max.as_ref(), "promoted_max", 0)?;
        let promoted_node_max = count(raw.promoted_node_max.as_ref(), "promoted_node_max", 1)?;
        if promotable || unique {
            let (key, span, why) = if promotable {
                (
                    "promotable",
                    raw.promotable.as_ref().map(Spanned::span),
                    "only OCF agents can be promoted",
                )
            } else {
                (
                    "globally_unique",
                    raw.globally_unique.as_ref().map(Spanned::span),
                    "only OCF agents can run as distinct copies",
                )
            };
            if let Some(bad) = self.primitives_in(child).find(|&p| {
                matches!(self.ids.entries[p].kind, Kind::Primitive(r) if self.agents[r].class != "ocf")
            }) {
                let p = &self.ids.entries[bad];
                let Kind::Primitive(r) = p.kind else {
                    return Err(src.error(&span.unwrap_or_default(), why));
                };
                let agent = &self.agents[r];
                return Err(src.error(
                    &span.unwrap_or_default(),
                    format!(
                        "{key} = true, but `{}` uses {}:{}; {why} (use an ocf:… agent, or a \
                         plain clone)",
                        p.id, agent.class, agent.kind
                    ),
                ));
            }
        }
        Ok(Clone {
            child: ResourceId(0),
            promotable,
            clone_max,
            clone_node_max: clone_node_max.unwrap_or(1),
            promoted_max: promoted_max.unwrap_or(1),
            promoted_node_max: promoted_node_max.unwrap_or(1),
            clone_min: clone_min.unwrap_or(0),
            interleave: raw.interleave.as_ref().is_some_and(|v| *v.get_ref()),
            globally_unique: unique,
            ordered: raw.ordered.as_ref().is_some_and(|v| *v.get_ref()),
        })
    }

    /// The primitives of entry `e` (itself, or a group's members).
    fn primitives_in(&self, e: usize) -> impl Iterator<Item = usize> + '_ {
        (0..self.ids.entries.len())
            .filter(move |&p| p == e || self.ids.entries[p].parent == Some(e))
    }

    /// The model resource a constraint names: a top-level resource, group
    /// or clone (or a group member outside clones).
    fn target(
        &self,
        built: &Built,
        name: &Spanned<String>,
        what: &str,
    ) -> Result<(ResourceId, usize), ConfigError> {
        let e = self.ids.resolve(self.src, name, what)?;
        let mut ancestor = self.ids.entries[e].parent;
        while let Some(a) = ancestor {
            if matches!(self.ids.entries[a].kind, Kind::Clone(_)) {
                let clone = &self.ids.entries[a].id;
                return Err(self.src.error(
                    &name.span(),
                    format!(
                        "`{}` runs inside clone `{clone}`, as its copies; constraints name the \
                         clone: write \"{clone}\"",
                        name.get_ref()
                    ),
                ));
            }
            ancestor = self.ids.entries[a].parent;
        }
        match built.resource_of[e] {
            Some(r) => Ok((r, e)),
            None => Err(self
                .src
                .error(&name.span(), "this resource was not compiled")),
        }
    }

    /// A role in a constraint: Started means any role; Promoted and
    /// Unpromoted need a promotable clone.
    fn role(
        &self,
        built: &Built,
        value: Option<&Spanned<String>>,
        entry: usize,
        allowed: &[Role],
    ) -> Result<Option<Role>, ConfigError> {
        let Some(value) = value else { return Ok(None) };
        let names: Vec<String> = allowed.iter().map(|r| format!("\"{r}\"")).collect();
        let role = match parse_role(value.get_ref()) {
            Some(Role::Started) => return Ok(None),
            Some(role) if allowed.contains(&role) => role,
            _ => {
                return Err(self.src.error(
                    &value.span(),
                    format!(
                        "role {:?} is not valid here; use {} (or leave the role out: any role)",
                        value.get_ref(),
                        names.join(" or ")
                    ),
                ))
            }
        };
        let e = &self.ids.entries[entry];
        if !(matches!(e.kind, Kind::Clone(_)) && built.promotable[entry]) {
            return Err(self.src.error(
                &value.span(),
                format!(
                    "role \"{role}\" applies to promotable clones, and `{}` is not one; remove \
                     the role, or name a clone with promotable = true",
                    e.id
                ),
            ));
        }
        Ok(Some(role))
    }

    fn location(
        &self,
        cluster: &Cluster,
        built: &Built,
        raw: &Spanned<RawLocation>,
        generated: &mut HashMap<String, usize>,
    ) -> Result<Preference, ConfigError> {
        let src = self.src;
        let table = raw.span();
        let raw = raw.get_ref();
        let resource = required(
            src,
            &table,
            raw.resource.as_ref(),
            "location",
            "resource",
            "\"web\"",
        )?;
        let node = required(
            src,
            &table,
            raw.node.as_ref(),
            "location",
            "node",
            "\"node1\"",
        )?;
        let Some(score_value) = &raw.score else {
            return Err(src.error(
                &table,
                "this [[location]] has no `score`; add one: a number (a preference), \
                 \"INFINITY\" (must run there) or \"-INFINITY\" (never there)",
            ));
        };
        let (rid, entry) = self.target(built, resource, "location")?;
        let Some(n) = cluster.node_by_name(node.get_ref()) else {
            let names: Vec<&str> = cluster.nodes.iter().map(|n| n.name.as_str()).collect();
            let hint = nearest(node.get_ref(), names.iter().copied())
                .map(|n| format!(" (did you mean `{n}`?)"))
                .unwrap_or_default();
            return Err(src.error(
                &node.span(),
                format!(
                    "no node `{}`{hint}; nodes are: {} ([cluster] nodes; names are \
                     case-sensitive)",
                    node.get_ref(),
                    names.join(", ")
                ),
            ));
        };
        let score = score(src, "score", score_value)?;
        let role = self.role(built, raw.role.as_ref(), entry, &[Role::Promoted])?;
        Ok(Preference {
            id: unique_id(
                generated,
                &format!("location-{}-{}", resource.get_ref(), node.get_ref()),
            ),
            resource: rid,
            role,
            scores: vec![(n, score)],
            discovery: Discovery::Always,
        })
    }

    fn colocation(
        &self,
        cluster: &Cluster,
        built: &Built,
        raw: &Spanned<RawColocation>,
        generated: &mut HashMap<String, usize>,
    ) -> Result<Colocation, ConfigError> {
        let src = self.src;
        let table = raw.span();
        let raw = raw.get_ref();
        let resource = required(
            src,
            &table,
            raw.resource.as_ref(),
            "colocation",
            "resource",
            "\"web\"",
        )?;
        let with = required(
            src,
            &table,
            raw.with.as_ref(),
            "colocation",
            "with",
            "\"db\"",
        )?;
        let Some(score_value) = &raw.score else {
            return Err(src.error(
                &table,
                "this [[colocation]] has no `score`; add score = \"INFINITY\" (always \
                 together), \"-INFINITY\" (never together) or a number (a preference)",
            ));
        };
        let (dependent, dependent_entry) = self.target(built, resource, "colocation")?;
        let (primary, primary_entry) = self.target(built, with, "colocation")?;
        if dependent == primary {
            return Err(src.error(
                &with.span(),
                "a resource cannot be placed relative to itself; `with` names another resource",
            ));
        }
        let score = score(src, "score", score_value)?;
        if score == Score::ZERO {
            return Err(src.error(
                &score_value.span(),
                "a colocation with score 0 does nothing (Pacemaker ignores it); use \
                 \"INFINITY\", \"-INFINITY\" or a preference such as 100",
            ));
        }
        let roles = [Role::Promoted, Role::Unpromoted];
        let dependent_role =
            self.role(built, raw.resource_role.as_ref(), dependent_entry, &roles)?;
        let primary_role = self.role(built, raw.with_role.as_ref(), primary_entry, &roles)?;
        Ok(Colocation {
            id: unique_id(
                generated,
                &format!("colocation-{}-with-{}", resource.get_ref(), with.get_ref()),
            ),
            dependent,
            primary,
            score,
            dependent_role,
            primary_role,
            influence: cluster.resource(dependent).meta.critical,
        })
    }

    fn order(
        &self,
        built: &Built,
        raw: &Spanned<RawOrder>,
        generated: &mut HashMap<String, usize>,
    ) -> Result<Order, ConfigError> {
        let src = self.src;
        let table = raw.span();
        let raw = raw.get_ref();
        let first = required(src, &table, raw.first.as_ref(), "order", "first", "\"db\"")?;
        let then = required(src, &table, raw.then.as_ref(), "order", "then", "\"web\"")?;
        let (first_rid, first_entry) = self.target(built, first, "order")?;
        let (then_rid, then_entry) = self.target(built, then, "order")?;
        if first_rid == then_rid {
            return Err(src.error(
                &then.span(),
                "an order ties two different resources; `then` names the same one as `first`",
            ));
        }
        let kind = match &raw.kind {
            None => OrderKind::Mandatory,
            Some(k) => match k.get_ref().to_ascii_lowercase().as_str() {
                "mandatory" => OrderKind::Mandatory,
                "optional" => OrderKind::Optional,
                "serialize" => OrderKind::Serialize,
                _ => {
                    let hint = nearest(
                        &k.get_ref().to_ascii_lowercase(),
                        ["mandatory", "optional", "serialize"],
                    )
                    .map(|n| format!("did you mean \"{}\"? ", capitalize(n)))
                    .unwrap_or_default();
                    return Err(src.error(
                        &k.span(),
                        format!(
                            "unknown order kind {:?}; {hint}use \"Mandatory\" (the default), \
                             \"Optional\" or \"Serialize\"",
                            k.get_ref()
                        ),
                    ));
                }
            },
        };
        let symmetrical = match &raw.symmetrical {
            None => kind != OrderKind::Serialize,
            Some(s) if *s.get_ref() && kind == OrderKind::Serialize => {
                return Err(src.error(
                    &s.span(),
                    "a Serialize order is never symmetrical (it only keeps the two apart); \
                     remove `symmetrical`",
                ))
            }
            Some(s) => *s.get_ref(),
        };
        let first_action =
            self.action(built, raw.first_action.as_ref(), first_entry, Task::Start)?;
        let then_action = self.action(built, raw.then_action.as_ref(), then_entry, first_action)?;
        Ok(Order {
            id: unique_id(
                generated,
                &format!("order-{}-then-{}", first.get_ref(), then.get_ref()),
            ),
            first: first_rid,
            first_action,
            then: then_rid,
            then_action,
            kind,
            symmetrical,
            require_all: true,
        })
    }

    /// `first_action` / `then_action`.
    fn action(
        &self,
        built: &Built,
        value: Option<&Spanned<String>>,
        entry: usize,
        default: Task,
    ) -> Result<Task, ConfigError> {
        let task = match value {
            None => default,
            Some(v) => match v.get_ref().to_ascii_lowercase().as_str() {
                "start" => Task::Start,
                "stop" => Task::Stop,
                "promote" => Task::Promote,
                "demote" => Task::Demote,
                _ => {
                    return Err(self.src.error(
                        &v.span(),
                        format!(
                            "unknown action {:?}; use \"start\" (the default), \"stop\", \
                             \"promote\" or \"demote\"",
                            v.get_ref()
                        ),
                    ))
                }
            },
        };
        let e = &self.ids.entries[entry];
        if matches!(task, Task::Promote | Task::Demote)
            && !(matches!(e.kind, Kind::Clone(_)) && built.promotable[entry])
        {
            let span = value.map(Spanned::span).unwrap_or_default();
            return Err(self.src.error(
                &span,
                format!(
                    "`{}` is not a promotable clone, so it is never {task}d; use \"start\" or \
                     \"stop\"",
                    e.id
                ),
            ));
        }
        Ok(task)
    }
}

/// A required key of a constraint table.
fn required<'v>(
    src: &Source<'_>,
    table: &Range<usize>,
    value: Option<&'v Spanned<String>>,
    kind: &str,
    key: &str,
    example: &str,
) -> Result<&'v Spanned<String>, ConfigError> {
    value.ok_or_else(|| {
        src.error(
            table,
            format!("this [[{kind}]] has no `{key}`; add {key} = {example}"),
        )
    })
}

/// The cluster options from `[cluster]`.
fn options(
    src: &Source<'_>,
    policy: &RawPolicy<'_>,
    members: &Members<'_>,
) -> Result<ClusterOptions, ConfigError> {
    let have_devices = !members.fence_devices.is_empty();
    let stonith_enabled = match policy.stonith_enabled {
        Some(s) if *s.get_ref() && !have_devices => {
            return Err(src.error(
                &s.span(),
                "stonith_enabled = true, but there is no [[fence.device]]; with fencing \
                 required and no way to fence, no resource would ever start. Add a \
                 [[fence.device]], or remove stonith_enabled",
            ))
        }
        Some(s) => *s.get_ref(),
        None => have_devices,
    };
    let stonith_action = match policy.stonith_action {
        None => FenceAction::Reboot,
        Some(a) => match a.get_ref().to_ascii_lowercase().as_str() {
            "reboot" => FenceAction::Reboot,
            "off" => FenceAction::Off,
            _ => {
                return Err(src.error(
                    &a.span(),
                    format!(
                        "stonith_action {:?} must be \"reboot\" (the default) or \"off\"",
                        a.get_ref()
                    ),
                ))
            }
        },
    };
    let no_quorum_policy = match policy.no_quorum_policy {
        None => NoQuorumPolicy::Stop,
        Some(p) => match p.get_ref().to_ascii_lowercase().as_str() {
            "stop" => NoQuorumPolicy::Stop,
            "freeze" => NoQuorumPolicy::Freeze,
            "ignore" => NoQuorumPolicy::Ignore,
            "suicide" if !stonith_enabled => {
                return Err(src.error(
                    &p.span(),
                    "no_quorum_policy = \"suicide\" fences the nodes without quorum, and \
                     fencing is off; add a [[fence.device]] or choose \"stop\"",
                ))
            }
            "suicide" => NoQuorumPolicy::Suicide,
            other => {
                let hint = nearest(other, ["stop", "freeze", "ignore", "suicide"])
                    .map(|n| format!("did you mean \"{n}\"? "))
                    .unwrap_or_default();
                return Err(src.error(
                    &p.span(),
                    format!(
                        "unknown no_quorum_policy {:?}; {hint}use \"stop\" (the default), \
                         \"freeze\", \"ignore\" or \"suicide\"",
                        p.get_ref()
                    ),
                ));
            }
        },
    };
    let flag = |v: Option<&Spanned<bool>>, default: bool| v.map_or(default, |b| *b.get_ref());
    Ok(ClusterOptions {
        stonith_enabled,
        stonith_action,
        no_quorum_policy,
        symmetric_cluster: flag(policy.symmetric_cluster, true),
        start_failure_is_fatal: flag(policy.start_failure_is_fatal, true),
        maintenance_mode: flag(policy.maintenance_mode, false),
        ..ClusterOptions::default()
    })
}

impl MetaSpec {
    /// `self`, with what it leaves unset taken from `fallback`.
    fn or(self, fallback: MetaSpec) -> MetaSpec {
        MetaSpec {
            stickiness: self.stickiness.or(fallback.stickiness),
            migration_threshold: self.migration_threshold.or(fallback.migration_threshold),
            failure_timeout_s: self.failure_timeout_s.or(fallback.failure_timeout_s),
            priority: self.priority.or(fallback.priority),
            target_role: self.target_role.or(fallback.target_role),
            managed: self.managed.or(fallback.managed),
        }
    }
}

/// Checks one table's meta keys.
fn meta_spec(src: &Source<'_>, keys: &MetaKeys<'_>) -> Result<MetaSpec, ConfigError> {
    let stickiness = keys
        .stickiness
        .map(|s| score(src, "stickiness", s))
        .transpose()?;
    let migration_threshold = match keys.migration_threshold {
        None => None,
        Some(v) => {
            let bad = || {
                src.error(
                    &v.span(),
                    "migration_threshold is the number of failures after which the resource \
                     leaves a node: a whole number from 1 up, or 0 or \"INFINITY\" for never",
                )
            };
            let parsed = match v.get_ref() {
                toml::Value::Integer(n) => *n,
                toml::Value::String(s) => match s.parse::<Score>() {
                    Ok(s) if s.is_infinity() => i64::from(Score::INFINITY_VALUE),
                    _ => return Err(bad()),
                },
                _ => return Err(bad()),
            };
            if !(0..=i64::from(Score::INFINITY_VALUE)).contains(&parsed) {
                return Err(bad());
            }
            // In range just above.
            Some(parsed as u32)
        }
    };
    let failure_timeout_s = match keys.failure_timeout {
        None => None,
        Some(v) => {
            let d = duration(src, "failure_timeout", v)?;
            if !d.is_zero() && d.as_secs() == 0 {
                return Err(src.error(
                    &v.span(),
                    "failure_timeout counts whole seconds; write at least \"1s\" (or \"0s\": \
                     failures never expire)",
                ));
            }
            Some(d.as_secs())
        }
    };
    let priority = match keys.priority {
        None => None,
        Some(p) => Some(
            i32::try_from(*p.get_ref())
                .ok()
                .filter(|v| v.unsigned_abs() <= Score::INFINITY_VALUE as u32)
                .ok_or_else(|| {
                    src.error(
                        &p.span(),
                        format!(
                            "priority {} is out of range; use -1000000 to 1000000 (higher \
                             places first)",
                            p.get_ref()
                        ),
                    )
                })?,
        ),
    };
    let target_role = match keys.target_role {
        None => None,
        Some(r) => match parse_role(r.get_ref()) {
            Some(role) => Some((role, r.span())),
            None => {
                return Err(src.error(
                    &r.span(),
                    format!(
                        "target_role {:?} is not a role; use \"Started\", \"Stopped\", \
                         \"Promoted\" or \"Unpromoted\"",
                        r.get_ref()
                    ),
                ))
            }
        },
    };
    Ok(MetaSpec {
        stickiness,
        migration_threshold,
        failure_timeout_s,
        priority,
        target_role,
        managed: keys.managed.map(|m| *m.get_ref()),
    })
}

/// A score: an integer from -1000000 to 1000000, or `"INFINITY"`,
/// `"+INFINITY"`, `"-INFINITY"` (any case); an integer may be quoted.
fn score(src: &Source<'_>, key: &str, value: &Spanned<toml::Value>) -> Result<Score, ConfigError> {
    let limit = i64::from(Score::INFINITY_VALUE);
    let bad = |what: String| {
        src.error(
            &value.span(),
            format!(
                "{key} {what} is not a score; write a whole number from -1000000 to 1000000, or \
                 \"INFINITY\" / \"-INFINITY\""
            ),
        )
    };
    let n = match value.get_ref() {
        toml::Value::Integer(n) => *n,
        toml::Value::String(s) => {
            let t = s.trim();
            if t.eq_ignore_ascii_case("infinity") || t.eq_ignore_ascii_case("+infinity") {
                return Ok(Score::INFINITY);
            }
            if t.eq_ignore_ascii_case("-infinity") {
                return Ok(Score::MINUS_INFINITY);
            }
            t.parse::<i64>().map_err(|_| bad(format!("{s:?}")))?
        }
        other => return Err(bad(other.to_string())),
    };
    if !(-limit..=limit).contains(&n) {
        return Err(src.error(
            &value.span(),
            format!(
                "{key} {n} is beyond ±1000000, which is INFINITY; write \"INFINITY\" or \
                 \"-INFINITY\" if that is meant"
            ),
        ));
    }
    Ok(Score::new(n))
}

/// `agent = "class:provider:type"` or `"class:type"`.
fn parse_agent(src: &Source<'_>, value: &Spanned<String>) -> Result<Agent, ConfigError> {
    let text = value.get_ref();
    let err = |m: String| src.error(&value.span(), m);
    let parts: Vec<&str> = text.split(':').collect();
    let forms = "ocf:PROVIDER:TYPE, lsb:NAME, systemd:UNIT, service:NAME or heartbeat:NAME";
    if parts.len() == 1 {
        return Err(err(format!(
            "agent {text:?} has no class; write it as {forms} (e.g. \"ocf:heartbeat:{text}\" or \
             \"systemd:{text}\")"
        )));
    }
    let class = parts[0].to_ascii_lowercase();
    if class == "stonith" {
        return Err(err(
            "fence devices are [[fence.device]] tables (docs/config.md), which the cluster \
             fences with and which become its stonith resources; move this one there"
                .to_string(),
        ));
    }
    if !AGENT_CLASSES.contains(&class.as_str()) {
        let hint = nearest(&class, AGENT_CLASSES.iter().copied())
            .map(|n| format!("did you mean \"{n}\"? "))
            .unwrap_or_default();
        return Err(err(format!(
            "unknown agent class {:?}; {hint}write the agent as {forms}",
            parts[0]
        )));
    }
    let (provider, kind) = match (class.as_str(), parts.as_slice()) {
        ("ocf", [_, provider, kind]) => (Some(*provider), *kind),
        ("ocf", _) => {
            return Err(err(format!(
                "an OCF agent is ocf:PROVIDER:TYPE (e.g. \"ocf:heartbeat:IPaddr2\"); {text:?} \
                 has {} part(s)",
                parts.len()
            )))
        }
        (_, [_, kind]) => (None, *kind),
        _ => {
            return Err(err(format!(
                "a {class} agent is {class}:NAME, without a provider; {text:?} has {} parts",
                parts.len()
            )))
        }
    };
    for (what, word) in provider
        .iter()
        .map(|p| ("provider", *p))
        .chain([("type", kind)])
    {
        if word.is_empty()
            || word.len() > 255
            || word.contains('/')
            || word.chars().any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(err(format!(
                "the agent's {what} {word:?} must be a name without blanks or `/` (e.g. \
                 \"ocf:heartbeat:IPaddr2\")"
            )));
        }
    }
    Ok(Agent {
        class,
        provider: provider.map(str::to_string),
        kind: kind.to_string(),
    })
}

/// A resource, group or clone id: a CIB id (letters, digits, `_`, `-`,
/// `.`; not starting with a digit, `-` or `.`).
fn check_id(id: &str) -> Result<(), String> {
    let valid = !id.is_empty()
        && id.len() <= 255
        && id.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "id {id:?} must start with a letter or `_` and hold only letters, digits, `_`, `-` \
             and `.` (at most 255), as Pacemaker ids do"
        ))
    }
}

/// A parameter name: what follows `OCF_RESKEY_` in the agent's environment.
fn check_param_name(name: &str) -> Result<(), String> {
    if name.is_empty()
        || name.len() > 255
        || name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '=')
    {
        return Err(format!(
            "parameter name {name:?} must be a word without blanks or `=` (as the agent's \
             metadata names it)"
        ));
    }
    Ok(())
}

/// A parameter value as the agent receives it: text; numbers and booleans
/// are written out.
fn param_value(name: &str, value: &toml::Value) -> Result<String, String> {
    let text = match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(n) => n.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        toml::Value::Float(f) => {
            return Err(format!(
                "parameter {name} = {f} is a fraction; quote it as the agent should see it, \
                 e.g. \"{f}\""
            ))
        }
        _ => {
            return Err(format!(
                "parameter {name} must be text (or a number or boolean), not {}; agents \
                 receive one value per parameter",
                value.type_str()
            ))
        }
    };
    if text.chars().any(|c| c.is_control() && c != '\t') {
        return Err(format!(
            "parameter {name} holds a control character (a newline?); agents receive it in an \
             environment variable, so write it on one line"
        ));
    }
    Ok(text)
}

/// `Started`, `Stopped`, `Promoted`, `Unpromoted` (any case).
fn parse_role(text: &str) -> Option<Role> {
    match text.to_ascii_lowercase().as_str() {
        "started" => Some(Role::Started),
        "stopped" => Some(Role::Stopped),
        "promoted" => Some(Role::Promoted),
        "unpromoted" => Some(Role::Unpromoted),
        _ => None,
    }
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(c) => c.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

fn millis(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A cycle of ordering constraints, as indexes into `cluster.orders` (one
/// index when a single order contradicts a group's start order), or None.
///
/// The graph: each resource's start, stop, promote and demote, each with a
/// begin and an end (the same moment for a primitive; for a group or clone,
/// before its first member and after its last); a primitive stops before it
/// starts, demotes before it stops and promotes after it starts; an ordered
/// group starts its members in order and stops them in reverse; `first`'s
/// action ends before `then`'s begins, and a symmetrical order also puts the
/// inverse actions the other way. Serialize orders order nothing.
fn order_cycle(cluster: &Cluster) -> Option<Vec<usize>> {
    const TASKS: [Task; 4] = [Task::Start, Task::Stop, Task::Promote, Task::Demote];
    let task_ix = |t: Task| match t {
        Task::Start => 0,
        Task::Stop => 1,
        Task::Promote => 2,
        Task::Demote => 3,
    };
    let node = |r: ResourceId, t: Task, end: bool| r.0 * 8 + task_ix(t) * 2 + usize::from(end);
    let count = cluster.resources.len() * 8;
    // Edges: (to, the order that made it).
    let mut edges: Vec<Vec<(usize, Option<usize>)>> = vec![Vec::new(); count];
    for (i, r) in cluster.resources.iter().enumerate() {
        let rid = ResourceId(i);
        match &r.kind {
            ResourceKind::Primitive(_) => {
                for t in TASKS {
                    edges[node(rid, t, false)].push((node(rid, t, true), None));
                }
                edges[node(rid, Task::Stop, true)].push((node(rid, Task::Start, false), None));
                edges[node(rid, Task::Demote, true)].push((node(rid, Task::Stop, false), None));
                edges[node(rid, Task::Start, true)].push((node(rid, Task::Promote, false), None));
            }
            ResourceKind::Group(g) => {
                for t in TASKS {
                    for m in &g.members {
                        edges[node(rid, t, false)].push((node(*m, t, false), None));
                        edges[node(*m, t, true)].push((node(rid, t, true), None));
                    }
                    if g.ordered {
                        for pair in g.members.windows(2) {
                            let (a, b) = match t {
                                Task::Start | Task::Promote => (pair[0], pair[1]),
                                Task::Stop | Task::Demote => (pair[1], pair[0]),
                            };
                            edges[node(a, t, true)].push((node(b, t, false), None));
                        }
                    }
                }
            }
            ResourceKind::Clone(c) => {
                for t in TASKS {
                    edges[node(rid, t, false)].push((node(c.child, t, false), None));
                    edges[node(c.child, t, true)].push((node(rid, t, true), None));
                }
            }
        }
    }
    let inverse = |t: Task| match t {
        Task::Start => Task::Stop,
        Task::Stop => Task::Start,
        Task::Promote => Task::Demote,
        Task::Demote => Task::Promote,
    };
    for (i, o) in cluster.orders.iter().enumerate() {
        if o.kind == OrderKind::Serialize {
            continue;
        }
        edges[node(o.first, o.first_action, true)]
            .push((node(o.then, o.then_action, false), Some(i)));
        if o.symmetrical {
            edges[node(o.then, inverse(o.then_action), true)]
                .push((node(o.first, inverse(o.first_action), false), Some(i)));
        }
    }

    // Iterative depth-first search; a back edge closes a cycle.
    let mut state = vec![0u8; count]; // 0 new, 1 on the stack, 2 done
    let mut via: Vec<Option<(usize, Option<usize>)>> = vec![None; count];
    for start in 0..count {
        if state[start] != 0 {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        state[start] = 1;
        while let Some(&mut (n, ref mut next)) = stack.last_mut() {
            if let Some(&(to, label)) = edges[n].get(*next) {
                *next += 1;
                match state[to] {
                    0 => {
                        state[to] = 1;
                        via[to] = Some((n, label));
                        stack.push((to, 0));
                    }
                    1 => {
                        // The cycle: to → … → n → to.
                        let mut orders: Vec<usize> = label.into_iter().collect();
                        let mut at = n;
                        while at != to {
                            let Some((from, l)) = via[at] else { break };
                            orders.extend(l);
                            at = from;
                        }
                        orders.sort_unstable();
                        orders.dedup();
                        return Some(orders);
                    }
                    _ => {}
                }
            } else {
                state[n] = 2;
                stack.pop();
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    use ironbeat_crm::model::NodeId;

    /// Members and a link: 5 lines, so a body's line n is the file's n + 5.
    const HEAD: &str =
        "[cluster]\nnodes = [\"node1\", \"node2\"]\n[[link]]\nkind = \"bcast\"\niface = \"eth0\"\n";

    const FENCE: &str = "[[fence.device]]\nname = \"node2-bmc\"\ntype = \"ipmi\"\nnodes = [\"node2\"]\n\
        ip = \"198.18.1.2\"\nusername = \"admin\"\npassword_file = \"/etc/ironbeat/node2-bmc.pass\"\n";

    /// Every kind of table, defaults and inheritance.
    const FULL: &str = r#"
[resource_defaults]
stickiness = 100
migration_threshold = 3
failure_timeout = "10m"

[[resource]]
id = "vip"
agent = "ocf:heartbeat:IPaddr2"
params = { ip = "198.18.0.10", cidr_netmask = 24, lvs_support = false }
stickiness = "INFINITY"
[[resource.op]]
name = "monitor"
interval = "10s"
timeout = "20s"
on_fail = "restart"

[[resource]]
id = "site"
agent = "systemd:nginx"

[[resource]]
id = "db"
agent = "ocf:heartbeat:pgsql"
[[resource.op]]
name = "monitor"
interval = "15s"
role = "Promoted"
[[resource.op]]
name = "monitor"
interval = "30s"
role = "Unpromoted"
[[resource.op]]
name = "promote"
timeout = "1m"

[[group]]
id = "web"
members = ["vip", "site"]
migration_threshold = 1
priority = 10

[[clone]]
id = "db-clone"
of = "db"
promotable = true
clone_max = 2
promoted_max = 1

[[resource]]
id = "ping"
agent = "ocf:pacemaker:ping"

[[clone]]
id = "ping-clone"
of = "ping"
stickiness = 0

[[location]]
resource = "web"
node = "node1"
score = 50

[[location]]
resource = "db-clone"
node = "node2"
score = "+INFINITY"
role = "Promoted"

[[colocation]]
resource = "web"
with = "db-clone"
score = "INFINITY"
with_role = "Promoted"

[[order]]
first = "db-clone"
first_action = "promote"
then = "web"
then_action = "start"

[[order]]
first = "ping-clone"
then = "web"
kind = "Optional"
symmetrical = false
"#;

    fn compile(text: &str) -> Result<Cluster, ConfigError> {
        super::super::to_crm::native_to_crm(text, Path::new("/etc/ironbeat/ironbeat.toml"))
    }

    fn err(text: &str) -> ConfigError {
        match compile(text) {
            Ok(_) => panic!("accepted:\n{text}"),
            Err(e) => e,
        }
    }

    fn ids(cluster: &Cluster) -> Vec<&str> {
        cluster.resources.iter().map(|r| r.id.as_str()).collect()
    }

    fn by_id<'c>(cluster: &'c Cluster, id: &str) -> &'c Resource {
        cluster.resource(cluster.resource_by_name(id).unwrap())
    }

    #[test]
    fn every_table_compiles_into_the_model() {
        let cluster = compile(&format!("{HEAD}{FENCE}{FULL}")).unwrap();
        // Fence primitives first, then top-level resources in file order,
        // each followed by its children.
        assert_eq!(
            ids(&cluster),
            [
                "fence_node2-bmc",
                "web",
                "vip",
                "site",
                "db-clone",
                "db",
                "ping-clone",
                "ping"
            ]
        );
        let fence = &cluster.resources[0];
        let ResourceKind::Primitive(p) = &fence.kind else {
            panic!("{fence:?}")
        };
        assert_eq!(p.agent_spec(), "stonith:fence_ironbeat");
        assert!(cluster.options.stonith_enabled, "a device turns fencing on");
        assert_eq!(cluster.options.no_quorum_policy, NoQuorumPolicy::Stop);
        assert_eq!(
            cluster
                .options
                .other
                .get("cluster-name")
                .map(String::as_str),
            Some("linux-ha")
        );
        let names: Vec<&str> = cluster.nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["node1", "node2"]);
        assert!(
            cluster.nodes.iter().all(|n| !n.online),
            "the caller sets node states"
        );

        let web = by_id(&cluster, "web");
        let ResourceKind::Group(g) = &web.kind else {
            panic!("{web:?}")
        };
        let members: Vec<&str> = g
            .members
            .iter()
            .map(|m| cluster.resource(*m).id.as_str())
            .collect();
        assert_eq!(members, ["vip", "site"]);
        // Own value, then the group's, then [resource_defaults].
        let vip = by_id(&cluster, "vip");
        assert_eq!(vip.parent, cluster.resource_by_name("web"));
        assert_eq!(vip.meta.stickiness, Some(Score::INFINITY));
        assert_eq!(vip.meta.migration_threshold, 1);
        assert_eq!(vip.meta.priority, 10);
        assert_eq!(vip.meta.failure_timeout_s, 600);
        let site = by_id(&cluster, "site");
        assert_eq!(site.meta.stickiness, Some(Score::new(100)));
        let ResourceKind::Primitive(p) = &vip.kind else {
            panic!()
        };
        assert_eq!(p.agent_spec(), "ocf:heartbeat:IPaddr2");
        let params: Vec<(&str, &str)> = p
            .parameters
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            params,
            [
                ("cidr_netmask", "24"),
                ("ip", "198.18.0.10"),
                ("lvs_support", "false")
            ]
        );
        assert_eq!(
            p.operations,
            [Operation {
                name: "monitor".into(),
                interval_ms: 10_000,
                role: None,
                on_fail: Some(OnFail::Restart),
                enabled: true,
                timeout_ms: Some(20_000),
                start_delay_ms: 0,
            }]
        );
        let ResourceKind::Primitive(site) = &site.kind else {
            panic!()
        };
        assert_eq!(site.agent_spec(), "systemd:nginx");

        let db_clone = by_id(&cluster, "db-clone");
        let ResourceKind::Clone(c) = &db_clone.kind else {
            panic!()
        };
        assert!(c.promotable);
        assert_eq!(
            (c.clone_max, c.promoted_max, c.clone_node_max),
            (Some(2), 1, 1)
        );
        assert_eq!(cluster.resource(c.child).id, "db");
        let ResourceKind::Primitive(db) = &cluster.resource(c.child).kind else {
            panic!()
        };
        let roles: Vec<Option<Role>> = db.operations.iter().map(|o| o.role).collect();
        assert_eq!(roles, [Some(Role::Promoted), Some(Role::Unpromoted), None]);
        // A clone with its own stickiness 0 keeps it; defaults still apply
        // to the other clone.
        assert_eq!(
            by_id(&cluster, "ping-clone").meta.stickiness,
            Some(Score::ZERO)
        );
        assert_eq!(by_id(&cluster, "ping").meta.stickiness, Some(Score::ZERO));
        assert_eq!(db_clone.meta.stickiness, Some(Score::new(100)));

        assert_eq!(cluster.locations.len(), 2);
        let l = &cluster.locations[1];
        assert_eq!(l.id, "location-db-clone-node2");
        assert_eq!(l.scores, [(NodeId(1), Score::INFINITY)]);
        assert_eq!(l.role, Some(Role::Promoted));
        let c = &cluster.colocations[0];
        assert_eq!(cluster.resource(c.dependent).id, "web");
        assert_eq!(cluster.resource(c.primary).id, "db-clone");
        assert_eq!(
            (c.dependent_role, c.primary_role),
            (None, Some(Role::Promoted))
        );
        assert!(c.influence);
        let o = &cluster.orders[0];
        assert_eq!(
            (o.first_action, o.then_action),
            (Task::Promote, Task::Start)
        );
        assert_eq!(o.kind, OrderKind::Mandatory);
        assert!(o.symmetrical);
        let o = &cluster.orders[1];
        assert_eq!((o.kind, o.symmetrical), (OrderKind::Optional, false));
    }

    #[test]
    fn clones_are_sticky_by_one_unless_told_and_policy_keys_apply() {
        let text = format!(
            "{HEAD}[[resource]]\nid = \"a\"\nagent = \"lsb:a\"\n[[clone]]\nid = \"c\"\nof = \"a\"\n\
             [[resource]]\nid = \"b\"\nagent = \"heartbeat:b\"\ntarget_role = \"Stopped\"\nmanaged = false\n"
        );
        let cluster = compile(&text).unwrap();
        assert_eq!(by_id(&cluster, "c").meta.stickiness, Some(Score::new(1)));
        assert_eq!(by_id(&cluster, "a").meta.stickiness, Some(Score::new(1)));
        let b = by_id(&cluster, "b");
        assert_eq!(b.meta.stickiness, None);
        assert_eq!(b.meta.target_role, Some(Role::Stopped));
        assert!(!b.meta.managed);
        assert!(!cluster.options.stonith_enabled, "no device: fencing off");

        let text = HEAD.replace(
            "nodes = [\"node1\", \"node2\"]\n",
            "nodes = [\"node1\", \"node2\"]\nno_quorum_policy = \"freeze\"\nsymmetric_cluster = false\n\
             stonith_action = \"off\"\nstart_failure_is_fatal = false\nmaintenance_mode = true\n",
        );
        let cluster = compile(&format!("{text}{FENCE}")).unwrap();
        let o = &cluster.options;
        assert_eq!(o.no_quorum_policy, NoQuorumPolicy::Freeze);
        assert!(!o.symmetric_cluster && !o.start_failure_is_fatal && o.maintenance_mode);
        assert_eq!(o.stonith_action, FenceAction::Off);
        let off = HEAD.replace(
            "nodes = [\"node1\", \"node2\"]\n",
            "nodes = [\"node1\", \"node2\"]\nstonith_enabled = false\n",
        );
        let cluster = compile(&format!("{off}{FENCE}")).unwrap();
        assert!(!cluster.options.stonith_enabled);
        assert_eq!(ids(&cluster), ["fence_node2-bmc"]);
    }

    #[test]
    fn errors_name_the_line_and_the_fix() {
        let r =
            |id: &str, agent: &str| format!("[[resource]]\nid = \"{id}\"\nagent = \"{agent}\"\n");
        let ab = format!("{}{}", r("a", "lsb:a"), r("b", "lsb:b")); // lines 1-6
        let pa = format!(
            "{}[[clone]]\nid = \"pc\"\nof = \"p\"\npromotable = true\n",
            r("p", "ocf:x:p")
        ); // 1-7
        let cases: Vec<(String, usize, &str)> = vec![
            // Names and references.
            (format!("{ab}[[group]]\nid = \"g\"\nmembers = [\"a\", \"x\"]\n"), 9, "no resource `x` for this group member (did you mean `a`?); resources are: a, b, g"),
            (format!("{ab}[[group]]\nid = \"g\"\nmembers = [\"a\", \"bb\"]\n"), 9, "did you mean `b`?"),
            (format!("{ab}[[group]]\nid = \"g\"\nmembers = [\"a\"]\n[[group]]\nid = \"h\"\nmembers = [\"a\"]\n"), 12, "already a member of group `g` (line 13)"),
            (format!("{ab}{}", r("a", "lsb:c")), 8, "id `a` is already used by the resource at line 7"),
            (format!("{ab}[[group]]\nid = \"b\"\nmembers = [\"a\"]\n"), 8, "already used by the resource at line 10"),
            (format!("{FENCE}{}", r("fence_node2-bmc", "lsb:x")), 9, "fence device at line 7"),
            (r("1st", "lsb:x"), 2, "must start with a letter"),
            (r("a b", "lsb:x"), 2, "must start with a letter"),
            ("[[resource]]\nagent = \"lsb:x\"\n".into(), 1, "has no `id`"),
            ("[[resource]]\nid = \"a\"\n".into(), 1, "has no `agent`"),
            (format!("{ab}[[group]]\nid = \"g\"\nmembers = [\"a\", \"a\"]\n"), 9, "listed twice"),
            (format!("{ab}[[group]]\nid = \"g\"\nmembers = []\n"), 9, "has no members"),
            (format!("{ab}[[group]]\nid = \"g\"\n"), 7, "has no `members`"),
            // Groups do not nest, so they cannot form a cycle.
            (format!("{ab}[[group]]\nid = \"g\"\nmembers = [\"h\"]\n[[group]]\nid = \"h\"\nmembers = [\"g\"]\n"), 9, "groups do not nest"),
            (format!("{ab}[[group]]\nid = \"g\"\nmembers = [\"g\"]\n"), 9, "groups do not nest"),
            (format!("{ab}[[group]]\nid = \"g\"\nmembers = [\"c\"]\n[[clone]]\nid = \"c\"\nof = \"a\"\n"), 9, "clone the group instead"),
            // Clones.
            (format!("{ab}[[group]]\nid = \"g\"\nmembers = [\"a\", \"b\"]\n[[clone]]\nid = \"c\"\nof = \"a\"\n"), 12, "already in group `g` (line 13); a group member runs with its group"),
            (format!("{ab}[[clone]]\nid = \"c\"\nof = \"a\"\n[[clone]]\nid = \"d\"\nof = \"a\"\n"), 12, "already in clone `c`"),
            (format!("{ab}[[clone]]\nid = \"c\"\nof = \"a\"\n[[clone]]\nid = \"d\"\nof = \"c\"\n"), 12, "a clone already"),
            (format!("{ab}[[clone]]\nid = \"c\"\n"), 7, "has no `of`"),
            (format!("{ab}[[clone]]\nid = \"c\"\nof = \"a\"\npromotable = true\n"), 10, "uses lsb:a; only OCF agents can be promoted"),
            (format!("{ab}[[clone]]\nid = \"c\"\nof = \"a\"\npromoted_max = 2\n"), 10, "add promotable = true"),
            (format!("{ab}[[clone]]\nid = \"c\"\nof = \"a\"\nclone_node_max = 2\n"), 10, "needs globally_unique = true"),
            (format!("{ab}[[clone]]\nid = \"c\"\nof = \"a\"\nclone_max = 0\n"), 10, "from 1 up"),
            (format!("{ab}[[clone]]\nid = \"c\"\nof = \"a\"\nclone_max = 2\nclone_min = 3\n"), 11, "more than clone_max"),
            // Agents.
            (r("a", "ocf:IPaddr2"), 3, "ocf:PROVIDER:TYPE"),
            (r("a", "IPaddr2"), 3, "has no class"),
            (r("a", "lsbb:apache"), 3, "did you mean \"lsb\"?"),
            (r("a", "upstart:x"), 3, "unknown agent class"),
            (r("a", "stonith:fence_ipmilan"), 3, "[[fence.device]]"),
            (r("a", "lsb:x:y"), 3, "without a provider"),
            (r("a", "ocf:heartbeat:a b"), 3, "without blanks"),
            // Scores and values.
            (format!("{ab}[[location]]\nresource = \"a\"\nnode = \"node1\"\nscore = \"lots\"\n"), 10, "not a score"),
            (format!("{ab}[[location]]\nresource = \"a\"\nnode = \"node1\"\nscore = 2000000\n"), 10, "beyond ±1000000"),
            (format!("{ab}[[location]]\nresource = \"a\"\nnode = \"node1\"\nscore = 1.5\n"), 10, "not a score"),
            (format!("{ab}[[location]]\nresource = \"a\"\nnode = \"node1\"\n"), 7, "has no `score`"),
            (format!("{ab}[[location]]\nresource = \"a\"\nnode = \"node9\"\nscore = 1\n"), 9, "no node `node9` (did you mean `node1`?); nodes are: node1, node2"),
            (format!("{ab}[[location]]\nnode = \"node1\"\nscore = 1\n"), 7, "has no `resource`"),
            (format!("{ab}[[location]]\nresource = \"a\"\nnode = \"node1\"\nscore = 1\nrole = \"Promoted\"\n"), 11, "not one"),
            ("[[resource]]\nid = \"a\"\nagent = \"lsb:a\"\nstickiness = \"sticky\"\n".into(), 4, "not a score"),
            ("[[resource]]\nid = \"a\"\nagent = \"lsb:a\"\nfailure_timeout = \"10\"\n".into(), 4, "has no unit"),
            ("[[resource]]\nid = \"a\"\nagent = \"lsb:a\"\nfailure_timeout = \"soon\"\n".into(), 4, "not a duration"),
            ("[[resource]]\nid = \"a\"\nagent = \"lsb:a\"\nfailure_timeout = \"500ms\"\n".into(), 4, "whole seconds"),
            ("[[resource]]\nid = \"a\"\nagent = \"lsb:a\"\nmigration_threshold = -1\n".into(), 4, "from 1 up"),
            ("[[resource]]\nid = \"a\"\nagent = \"lsb:a\"\npriority = 99999999999\n".into(), 4, "out of range"),
            ("[[resource]]\nid = \"a\"\nagent = \"lsb:a\"\ntarget_role = \"Master\"\n".into(), 4, "not a role"),
            ("[[resource]]\nid = \"a\"\nagent = \"lsb:a\"\ntarget_role = \"Promoted\"\n".into(), 4, "promotable clones only"),
            ("[resource_defaults]\ntarget_role = \"Unpromoted\"\n[[resource]]\nid = \"a\"\nagent = \"lsb:a\"\n".into(), 2, "`a` is not in one"),
            ("[[resource]]\nid = \"a\"\nagent = \"lsb:a\"\nparams = { x = 1.5 }\n".into(), 4, "quote it"),
            ("[[resource]]\nid = \"a\"\nagent = \"lsb:a\"\nparams = { x = [1] }\n".into(), 4, "not array"),
            ("[[resource]]\nid = \"a\"\nagent = \"lsb:a\"\nparams = { x = \"a\\nb\" }\n".into(), 4, "one line"),
            ("[[resource]]\nid = \"a\"\nagent = \"lsb:a\"\nparams = { \"a b\" = \"1\" }\n".into(), 4, "without blanks"),
            // Operations.
            ("[[resource]]\nid = \"a\"\nagent = \"lsb:a\"\n[[resource.op]]\nname = \"monitor\"\n".into(), 5, "needs an interval"),
            ("[[resource]]\nid = \"a\"\nagent = \"lsb:a\"\n[[resource.op]]\nname = \"start\"\ninterval = \"10s\"\n".into(), 6, "only monitors recur"),
            ("[[resource]]\nid = \"a\"\nagent = \"lsb:a\"\n[[resource.op]]\nname = \"monitr\"\n".into(), 5, "did you mean \"monitor\"?"),
            ("[[resource]]\nid = \"a\"\nagent = \"lsb:a\"\n[[resource.op]]\ninterval = \"1s\"\n".into(), 4, "has no `name`"),
            ("[[resource]]\nid = \"a\"\nagent = \"lsb:a\"\n[[resource.op]]\nname = \"monitor\"\ninterval = \"5\"\n".into(), 6, "has no unit"),
            ("[[resource]]\nid = \"a\"\nagent = \"lsb:a\"\n[[resource.op]]\nname = \"monitor\"\ninterval = \"5s\"\n[[resource.op]]\nname = \"monitor\"\ninterval = \"5000ms\"\n".into(), 7, "repeats the monitor op at line 9"),
            ("[[resource]]\nid = \"a\"\nagent = \"lsb:a\"\n[[resource.op]]\nname = \"stop\"\non_fail = \"fence\"\n".into(), 6, "needs fencing"),
            ("[[resource]]\nid = \"a\"\nagent = \"lsb:a\"\n[[resource.op]]\nname = \"stop\"\non_fail = \"restart\"\n".into(), 6, "cannot answer a failed stop"),
            ("[[resource]]\nid = \"a\"\nagent = \"lsb:a\"\n[[resource.op]]\nname = \"start\"\non_fail = \"reboot\"\n".into(), 6, "unknown on_fail"),
            ("[[resource]]\nid = \"a\"\nagent = \"lsb:a\"\n[[resource.op]]\nname = \"promote\"\n".into(), 5, "promotable clones only"),
            ("[[resource]]\nid = \"a\"\nagent = \"lsb:a\"\n[[resource.op]]\nname = \"monitor\"\ninterval = \"5s\"\nrole = \"Promoted\"\n".into(), 7, "promotable clones only"),
            ("[[resource]]\nid = \"a\"\nagent = \"lsb:a\"\n[[resource.op]]\nname = \"start\"\ntimeout = \"0s\"\n".into(), 6, "longer than 0"),
            // Constraints.
            (format!("{pa}[[location]]\nresource = \"p\"\nnode = \"node1\"\nscore = 1\n"), 9, "inside clone `pc`"),
            (format!("{ab}[[colocation]]\nresource = \"a\"\nwith = \"a\"\nscore = 1\n"), 9, "relative to itself"),
            (format!("{ab}[[colocation]]\nresource = \"a\"\nwith = \"b\"\nscore = 0\n"), 10, "does nothing"),
            (format!("{ab}[[colocation]]\nresource = \"a\"\nwith = \"b\"\n"), 7, "has no `score`"),
            (format!("{ab}{pa}[[colocation]]\nresource = \"a\"\nwith = \"pc\"\nscore = 1\nwith_role = \"Master\"\n"), 18, "not valid here"),
            (format!("{ab}{pa}[[colocation]]\nresource = \"a\"\nwith = \"pc\"\nscore = 1\nresource_role = \"Promoted\"\n"), 18, "`a` is not one"),
            (format!("{ab}[[order]]\nfirst = \"a\"\nthen = \"a\"\n"), 9, "two different resources"),
            (format!("{ab}[[order]]\nfirst = \"a\"\nthen = \"b\"\nkind = \"mandatry\"\n"), 10, "did you mean \"Mandatory\"?"),
            (format!("{ab}[[order]]\nfirst = \"a\"\nthen = \"b\"\nkind = \"Serialize\"\nsymmetrical = true\n"), 11, "never symmetrical"),
            (format!("{ab}[[order]]\nfirst = \"a\"\nthen = \"b\"\nfirst_action = \"promote\"\n"), 10, "never promoted"),
            (format!("{ab}[[order]]\nfirst = \"a\"\nthen = \"b\"\nthen_action = \"reload\"\n"), 10, "unknown action"),
            (format!("{ab}[[order]]\nthen = \"b\"\n"), 7, "has no `first`"),
            (format!("{ab}[[order]]\nfirst = \"a\"\nthen = \"b\"\n[[order]]\nfirst = \"b\"\nthen = \"a\"\n"), 7, "cycle"),
            (format!("{ab}[[group]]\nid = \"g\"\nmembers = [\"a\", \"b\"]\n[[order]]\nfirst = \"b\"\nthen = \"a\"\n"), 10, "a group starts its members in order"),
            // Policy.
            ("[[resource]]\nid = \"a\"\nagent = \"lsb:a\"\n[cluster]\n".into(), 4, "duplicate key"),
            // Unknown keys, with the valid ones.
            ("[[resource]]\nid = \"a\"\nagent = \"lsb:a\"\nstickyness = 1\n".into(), 4, "did you mean `stickiness`?"),
            ("[[resource]]\nid = \"a\"\nagent = \"lsb:a\"\n[[resource.op]]\nname = \"monitor\"\nintervall = \"1s\"\n".into(), 6, "unknown key `intervall`"),
            ("[[group]]\nid = \"g\"\nmember = []\n".into(), 3, "did you mean `members`?"),
            ("[[clone]]\nid = \"c\"\nmax = 2\n".into(), 3, "valid here"),
            ("[[location]]\nrsc = \"a\"\n".into(), 2, "unknown key `rsc`"),
            ("[[colocation]]\nwith_rsc = \"a\"\n".into(), 2, "unknown key `with_rsc`"),
            ("[[order]]\nsymmetric = true\n".into(), 2, "did you mean `symmetrical`?"),
            ("[resource_defaults]\nresource_stickiness = 1\n".into(), 2, "unknown key"),
            ("[[resources]]\nid = \"a\"\n".into(), 1, "did you mean `resource`?"),
        ];
        let mut wrong = Vec::new();
        for (body, line, needle) in &cases {
            let text = format!("{HEAD}{body}");
            let shown = match compile(&text) {
                Ok(_) => "accepted".to_string(),
                Err(e) => e.to_string(),
            };
            let prefix = format!("/etc/ironbeat/ironbeat.toml:{}: ", line + 5);
            if !shown.starts_with(&prefix) || !shown.contains(needle) {
                wrong.push(format!("{body}\n  want {prefix}…{needle}…\n  got  {shown}"));
            }
        }
        assert!(
            wrong.is_empty(),
            "{} of {} cases:\n{}",
            wrong.len(),
            cases.len(),
            wrong.join("\n")
        );
        // [cluster] keys (their lines are inside HEAD).
        for (key, needle) in [
            ("stonith_enabled = true", "no [[fence.device]]"),
            ("no_quorum_policy = \"stp\"", "did you mean \"stop\"?"),
            ("no_quorum_policy = \"suicide\"", "fencing is off"),
            ("stonith_action = \"poweroff\"", "\"reboot\""),
            ("symmetric_cluster = \"yes\"", "true or false"),
        ] {
            let text = HEAD.replace("[cluster]\n", &format!("[cluster]\n{key}\n"));
            let e = err(&text);
            assert_eq!(e.line(), Some(2), "{key}: {e}");
            assert!(e.to_string().contains(needle), "{key}: {e}");
        }
    }

    #[test]
    fn constraints_through_groups_and_clones_that_make_no_cycle_are_accepted() {
        let text = format!(
            "{HEAD}{FULL}[[resource]]\nid = \"fs\"\nagent = \"ocf:heartbeat:Filesystem\"\n\
             [[order]]\nfirst = \"fs\"\nthen = \"web\"\n[[order]]\nfirst = \"fs\"\nthen = \"ping-clone\"\n\
             kind = \"Serialize\"\n[[order]]\nfirst = \"db-clone\"\nthen = \"fs\"\nfirst_action = \"promote\"\n\
             then_action = \"start\"\n"
        );
        let cluster = compile(&text).unwrap();
        assert_eq!(cluster.orders.len(), 5);
        assert_eq!(cluster.orders[3].kind, OrderKind::Serialize);
        assert!(!cluster.orders[3].symmetrical);
        // Generated ids stay unique.
        let text = format!(
            "{HEAD}[[resource]]\nid = \"a\"\nagent = \"lsb:a\"\n[[location]]\nresource = \"a\"\n\
             node = \"node1\"\nscore = 1\n[[location]]\nresource = \"a\"\nnode = \"node1\"\nscore = 2\n"
        );
        let cluster = compile(&text).unwrap();
        assert_ne!(cluster.locations[0].id, cluster.locations[1].id);
    }

    /// A small generator (xorshift64*).
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
            from[(self.next() % from.len() as u64) as usize]
        }
    }

    #[test]
    fn hostile_input_never_panics() {
        // Byte mutations of a file with every table.
        let good = format!("{HEAD}{FENCE}{FULL}");
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..1500 {
            let mut bytes = good.as_bytes().to_vec();
            for _ in 0..3 {
                let at = (rng.next() as usize) % bytes.len();
                bytes[at] = b"[]=\"'#\n.,x0 -\\{}"[(rng.next() >> 40) as usize % 16];
            }
            let _ = compile(&String::from_utf8_lossy(&bytes));
        }
        // Line-level mutations: tables cut, repeated and reordered.
        let lines: Vec<&str> = good.lines().collect();
        for _ in 0..1500 {
            let mut out: Vec<&str> = Vec::new();
            for line in &lines {
                match rng.next() % 20 {
                    0 => {}
                    1 => {
                        out.push(line);
                        out.push(line);
                    }
                    2 => out.push(lines[(rng.next() as usize) % lines.len()]),
                    _ => out.push(line),
                }
            }
            let _ = compile(&(out.join("\n") + "\n"));
        }
    }

    #[test]
    fn random_structures_are_refused_or_scheduled_without_panics() {
        // Random references between a few resources, groups and clones,
        // mostly sensible and sometimes not: dangling names, groups in
        // groups, clones of clones and of group members, constraints inside
        // clones, cycles of orders. Whatever compiles must also schedule.
        let resources = ["r0", "r1", "r2", "r3", "r4"];
        let all = [
            "r0", "r1", "r2", "r3", "r4", "g0", "g1", "c0", "c1", "node1", "x",
        ];
        let agents = [
            "ocf:heartbeat:Dummy",
            "ocf:pacemaker:Stateful",
            "lsb:a",
            "systemd:b",
        ];
        let scores = [
            "100",
            "-5",
            "\"INFINITY\"",
            "\"-INFINITY\"",
            "0",
            "\"+INFINITY\"",
        ];
        let mut rng = Rng(0x51_7cc1_b727_220a);
        let mut accepted = 0;
        let rounds = 1000;
        for round in 0..rounds {
            // One name in ten from anywhere, else from `good`.
            let name = |rng: &mut Rng, good: &[&'static str]| -> &'static str {
                if rng.next() % 10 == 0 {
                    rng.pick(&all)
                } else {
                    rng.pick(good)
                }
            };
            let mut text = HEAD.to_string();
            for r in resources {
                let agent = if rng.next() % 4 == 0 {
                    rng.pick(&agents[2..])
                } else {
                    rng.pick(&agents[..2])
                };
                text += &format!("[[resource]]\nid = \"{r}\"\nagent = \"{agent}\"\n");
                if rng.next() % 3 == 0 {
                    text += "[[resource.op]]\nname = \"monitor\"\ninterval = \"10s\"\n";
                }
            }
            let mut free: Vec<&str> = resources.to_vec();
            let mut tops: Vec<&str> = Vec::new();
            for g in ["g0", "g1"] {
                if rng.next() % 2 == 0 {
                    let mut m = Vec::new();
                    for _ in 0..1 + rng.next() % 3 {
                        let pick = if free.is_empty() {
                            rng.pick(&all)
                        } else {
                            name(&mut rng, &free)
                        };
                        free.retain(|f| *f != pick);
                        m.push(format!("\"{pick}\""));
                    }
                    text += &format!("[[group]]\nid = \"{g}\"\nmembers = [{}]\n", m.join(", "));
                    tops.push(g);
                }
            }
            for c in ["c0", "c1"] {
                if rng.next() % 2 == 0 {
                    let mut good: Vec<&'static str> = free.clone();
                    good.extend(tops.iter().filter(|t| t.starts_with('g')));
                    let of = if good.is_empty() {
                        rng.pick(&all)
                    } else {
                        name(&mut rng, &good)
                    };
                    free.retain(|f| *f != of);
                    tops.retain(|t| *t != of);
                    tops.push(c);
                    let promotable = rng.next() % 3 == 0;
                    text += &format!(
                        "[[clone]]\nid = \"{c}\"\nof = \"{of}\"\npromotable = {promotable}\n"
                    );
                }
            }
            tops.extend(free.iter().copied());
            for _ in 0..rng.next() % 5 {
                let (a, b) = (name(&mut rng, &tops), name(&mut rng, &tops));
                text += &match rng.next() % 3 {
                    0 => format!(
                        "[[location]]\nresource = \"{a}\"\nnode = \"{}\"\nscore = {}\n",
                        rng.pick(&["node1", "node2", "node1", "node3"]),
                        rng.pick(&scores)
                    ),
                    1 => format!(
                        "[[colocation]]\nresource = \"{a}\"\nwith = \"{b}\"\nscore = {}\n",
                        rng.pick(&scores)
                    ),
                    _ => format!(
                        "[[order]]\nfirst = \"{a}\"\nthen = \"{b}\"\nkind = \"{}\"\n",
                        rng.pick(&["Mandatory", "Optional", "Serialize"])
                    ),
                };
            }
            match compile(&text) {
                Ok(mut cluster) => {
                    accepted += 1;
                    for n in &mut cluster.nodes {
                        n.online = rng.next() % 4 != 0;
                    }
                    let t = ironbeat_crm::policy::schedule(&cluster, 0);
                    assert_eq!(t.nodes.len(), cluster.nodes.len(), "{round}");
                }
                Err(e) => assert!(
                    e.to_string().starts_with("/etc/ironbeat/ironbeat.toml:"),
                    "{round}: {e}"
                ),
            }
        }
        // Both outcomes are common: the generator reaches the checks and
        // the engine.
        assert!(
            accepted > rounds / 4 && accepted < rounds,
            "{accepted} of {rounds} random files compiled"
        );
    }
}
