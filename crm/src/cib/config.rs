//! The configuration part of the CIB: cluster options (`crm_config`),
//! nodes, and resources with their effective meta attributes, operations
//! and instance attributes (`complex.c`, `clone.c`, `group.c`,
//! `pe_actions.c` in Pacemaker 2.1.5).

use std::collections::BTreeMap;
use std::rc::Rc;

use crate::model::{
    Clone, FenceAction, Group, Meta, MultipleActive, NoQuorumPolicy, Node, NodeId, OnFail,
    Operation, Primitive, Requires, Resource, ResourceId, ResourceKind, Role,
};
use crate::score::Score;

use super::nvpairs::Pairs;
use super::status::NodeInfo;
use super::values::{parse_bool, parse_interval, parse_msec, parse_role, RoleName};
use super::xml::{elements, first_child, tag, XNode};
use super::{Error, Reader};

/// Reader-side facts about one resource (parallel to
/// `Cluster::resources`).
pub(crate) struct RscInfo<'a, 'i> {
    /// The resource's element.
    pub xml: XNode<'a, 'i>,
    /// Meta attributes set on the resource itself.
    pub explicit_meta: Pairs<'a>,
    /// All effective meta attributes, the clone's implicit ones included
    /// (what children inherit last); shared with the children that add
    /// nothing to them.
    pub full_meta: Rc<Pairs<'a>>,
    /// Effective instance attributes (own, then the parents', then
    /// `rsc_defaults`); shared in the same way.
    pub params: Rc<Pairs<'a>>,
    /// Operations as configured (primitives).
    pub ops: Rc<[OpConfig]>,
    /// Pacemaker's `pe_rsc_unique`: outside clones, or in a globally
    /// unique clone.
    pub unique: bool,
    /// The clone this resource is in (or is), if any.
    pub clone: Option<ResourceId>,
    /// That clone is promotable.
    pub promotable: bool,
    /// Managed as the history is unpacked (`is-managed`, maintenance, and
    /// blocks found on earlier nodes).
    pub managed_now: bool,
    /// `failure-timeout` in seconds as the unpacking sees it (Pacemaker
    /// zeroes it when a failure blocks the resource).
    pub failure_timeout_s: u64,
}

/// The typed meta attributes last read from a shared set
/// ([`Reader::typed_meta`] depends on nothing else but the two flags).
pub(crate) struct TypedMetaCache<'a> {
    /// The set.
    pub meta: Rc<Pairs<'a>>,
    /// Read for a promotable clone's resource.
    pub promotable: bool,
    /// Read for a fencing device (`requires` defaults differ).
    pub fencing_device: bool,
    /// The reading.
    pub typed: Meta,
}

/// An operation as configured, with the raw values failure handling needs.
#[derive(Debug, Clone)]
pub(crate) struct OpConfig {
    /// `name`.
    pub name: String,
    /// Interval in milliseconds.
    pub interval_ms: u64,
    /// Not `enabled=false`.
    pub enabled: bool,
    /// Effective `on-fail` (op attribute, op meta, `op_defaults`).
    pub on_fail: Option<String>,
    /// `on-fail` written on the `<op>` element itself.
    pub on_fail_attribute: Option<String>,
    /// `role` written on the `<op>` element.
    pub role_attribute: Option<String>,
}

/// What a resource found only in the history (an orphan) gets from
/// `rsc_defaults`.
#[derive(Debug, Clone)]
pub(crate) struct OrphanDefaults {
    /// Managed (`is-managed`, not in maintenance).
    pub managed: bool,
    /// `failure-timeout`, seconds.
    pub failure_timeout_s: u64,
}

impl Default for OrphanDefaults {
    fn default() -> Self {
        OrphanDefaults {
            managed: true,
            failure_timeout_s: 0,
        }
    }
}

/// Resource meta attributes with a typed field in [`Meta`].
const TYPED_META: &[&str] = &[
    "priority",
    "target-role",
    "is-managed",
    "maintenance",
    "resource-stickiness",
    "migration-threshold",
    "failure-timeout",
    "requires",
    "multiple-active",
    "critical",
    "allow-migrate",
];

/// The meta attributes Pacemaker 2.1.5 knows besides [`TYPED_META`] (any
/// other is a typo).
const OTHER_KNOWN_META: &[&str] = &[
    "description",
    "clone-max",
    "clone-node-max",
    "clone-min",
    "promotable",
    "promoted-max",
    "promoted-node-max",
    "master-max",
    "master-node-max",
    "interleave",
    "globally-unique",
    "ordered",
    "collocated",
    "notify",
    "restart-type",
    "record-pending",
    "remote-node",
    "remote-addr",
    "remote-port",
    "remote-connect-timeout",
    "remote-allow-migrate",
    "container",
    "container-attribute-target",
    "provides",
    "target_role",
    "resource-failure-stickiness",
];

/// Cluster options Pacemaker 2.1.5 knows but that do not change placement
/// (timers of the daemons, log retention, informational values).
const INFORMATIONAL_OPTIONS: &[&str] = &[
    "dc-version",
    "cluster-infrastructure",
    "cluster-name",
    "last-lrm-refresh",
    "cluster-recheck-interval",
    "batch-limit",
    "migration-limit",
    "dc-deadtime",
    "election-timeout",
    "shutdown-escalation",
    "join-integration-timeout",
    "join-finalization-timeout",
    "crmd-integration-timeout",
    "crmd-finalization-timeout",
    "transition-delay",
    "crmd-transition-delay",
    "pe-error-series-max",
    "pe-warn-series-max",
    "pe-input-series-max",
    "stonith-timeout",
    "stonith-max-attempts",
    "stonith-watchdog-timeout",
    "cluster-delay",
    "cluster-ipc-limit",
    "load-threshold",
    "node-action-limit",
    "fence-reaction",
    "node-health-base",
    "node-health-green",
    "node-health-yellow",
    "node-health-red",
    "shutdown-lock-limit",
    "priority-fencing-delay",
    "placement-strategy",
    "node-health-strategy",
    "shutdown-lock",
    "remove-after-stop",
    "have-watchdog",
    "no-quorum-panic",
    "transition-idle-timeout",
    "default-action-timeout",
];

impl<'a, 'i> Reader<'a, 'i> {
    /// `crm_config`: the cluster options.
    pub(crate) fn read_options(&mut self) -> Result<(), Error> {
        let mut pairs = Pairs::new();
        let section = first_child(self.configuration, "crm_config");
        if let Some(cc) = section {
            self.unpack_sets(
                cc,
                "cluster_property_set",
                Some("cib-bootstrap-options"),
                false,
                &mut pairs,
            )?;
        }
        let mut suicide = false;
        for (&name, &value) in &pairs {
            let bad = |r: &Self, what: &str| pair_error(r, section, name, value, what);
            let boolean =
                |r: &Self| parse_bool(value).ok_or_else(|| bad(r, "a boolean (true or false)"));
            match name {
                "stonith-enabled" => self.cluster.options.stonith_enabled = boolean(self)?,
                "symmetric-cluster" => self.cluster.options.symmetric_cluster = boolean(self)?,
                "start-failure-is-fatal" => {
                    self.cluster.options.start_failure_is_fatal = boolean(self)?
                }
                "stop-orphan-resources" => {
                    self.cluster.options.stop_orphan_resources = boolean(self)?
                }
                "stop-orphan-actions" => self.cluster.options.stop_orphan_actions = boolean(self)?,
                "maintenance-mode" => self.cluster.options.maintenance_mode = boolean(self)?,
                "stop-all-resources" => self.cluster.options.stop_all_resources = boolean(self)?,
                "startup-fencing" => self.cluster.options.startup_fencing = boolean(self)?,
                "concurrent-fencing" => self.cluster.options.concurrent_fencing = boolean(self)?,
                "enable-startup-probes" => self.cluster.options.startup_probes = boolean(self)?,
                "stonith-action" => {
                    let action = match value {
                        "reboot" => FenceAction::Reboot,
                        "off" => FenceAction::Off,
                        "poweroff" => {
                            self.warn_about(
                                "nvpair",
                                None,
                                "stonith-action=poweroff is deprecated; read as `off` \
                                 (write off instead)",
                            );
                            FenceAction::Off
                        }
                        _ => return Err(bad(self, "one of reboot, off")),
                    };
                    self.cluster.options.stonith_action = action;
                }
                "no-quorum-policy" => {
                    let policy = match value.to_ascii_lowercase().as_str() {
                        "stop" => NoQuorumPolicy::Stop,
                        "freeze" => NoQuorumPolicy::Freeze,
                        "ignore" => NoQuorumPolicy::Ignore,
                        "suicide" => {
                            suicide = true;
                            NoQuorumPolicy::Suicide
                        }
                        "demote" => {
                            self.unsupported(
                                "no-quorum-policy",
                                None,
                                "no-quorum-policy=demote is outside the subset; read as stop",
                            );
                            NoQuorumPolicy::Stop
                        }
                        _ => return Err(bad(self, "one of stop, freeze, ignore, suicide")),
                    };
                    self.cluster.options.no_quorum_policy = policy;
                }
                _ => {
                    self.option_other(name, value)?;
                    self.cluster
                        .options
                        .other
                        .insert(name.to_string(), value.to_string());
                }
            }
        }
        if self
            .cluster
            .options
            .other
            .get("have-watchdog")
            .map(String::as_str)
            .and_then(parse_bool)
            == Some(true)
        {
            self.have_stonith_resource = true;
        }
        if suicide {
            let panic = super::values::is_true(self.root.attribute("no-quorum-panic"));
            if !self.cluster.options.stonith_enabled {
                self.warn_about(
                    "nvpair",
                    None,
                    "no-quorum-policy=suicide needs fencing; Pacemaker resets it to stop \
                     because stonith-enabled is false",
                );
                self.cluster.options.no_quorum_policy = NoQuorumPolicy::Stop;
            } else if !panic && !self.cluster.have_quorum {
                self.warn_about(
                    "nvpair",
                    None,
                    "no-quorum-policy=suicide is reset to stop: the cluster has never had \
                     quorum",
                );
                self.cluster.options.no_quorum_policy = NoQuorumPolicy::Stop;
            }
        }
        Ok(())
    }

    /// Options without a typed field: report the ones that change behaviour
    /// this engine does not implement, warn about unknown names.
    fn option_other(&mut self, name: &str, value: &str) -> Result<(), Error> {
        let lower = value.to_ascii_lowercase();
        match name {
            "placement-strategy" if lower != "default" => self.unsupported(
                "placement-strategy",
                None,
                format!(
                    "placement-strategy={value} (utilization-based placement) is outside \
                     the subset; placement uses scores only"
                ),
            ),
            "node-health-strategy" if lower != "none" => self.unsupported(
                "node-health-strategy",
                None,
                format!(
                    "node-health-strategy={value} is outside the subset; node health is ignored"
                ),
            ),
            "shutdown-lock" if parse_bool(value) == Some(true) => self.unsupported(
                "shutdown-lock",
                None,
                "shutdown locks are outside the subset; resources of a node shut down \
                 cleanly move as usual",
            ),
            "remove-after-stop" if parse_bool(value) == Some(true) => self.unsupported(
                "remove-after-stop",
                None,
                "remove-after-stop is outside the subset (and deprecated)",
            ),
            "priority-fencing-delay" => {
                if parse_interval(value).map(|d| d.ms) != Some(0) {
                    self.unsupported(
                        "priority-fencing-delay",
                        None,
                        "priority-fencing-delay is outside the subset; fencing is not \
                         delayed",
                    );
                }
            }
            _ if INFORMATIONAL_OPTIONS.contains(&name) => {}
            _ => self.warn_about(
                "nvpair",
                None,
                format!(
                    "unknown cluster option `{name}`; Pacemaker ignores it, and so does \
                     ironbeat (check the spelling)"
                ),
            ),
        }
        Ok(())
    }

    /// `<nodes>`: every cluster node, its base score and attributes.
    pub(crate) fn read_nodes(&mut self) -> Result<(), Error> {
        let Some(nodes) = first_child(self.configuration, "nodes") else {
            return Ok(());
        };
        let dc_uuid = self.root.attribute("dc-uuid");
        let fence_unseen =
            self.cluster.options.stonith_enabled && self.cluster.options.startup_fencing;
        for xml in elements(nodes) {
            if tag(xml) != "node" {
                self.warn(xml, "unknown element in <nodes>; ignored");
                continue;
            }
            let id = match xml.attribute("id") {
                Some(id) if !id.is_empty() => id,
                _ => {
                    return Err(self.error(
                        xml,
                        "a node needs an id (the cluster layer's node id, or its name)",
                    ))
                }
            };
            let Some(uname) = xml.attribute("uname").filter(|u| !u.is_empty()) else {
                return Err(self.error(xml, "a node needs uname=\"…\" (its name)"));
            };
            match xml
                .attribute("type")
                .map(str::to_ascii_lowercase)
                .as_deref()
            {
                None | Some("member") => {}
                Some("remote") => {
                    self.unsupported(
                        "node",
                        Some(id),
                        "Pacemaker Remote nodes are outside the subset; the node is not read",
                    );
                    continue;
                }
                Some(other) => {
                    self.unsupported(
                        "node",
                        Some(id),
                        format!(
                            "node type `{other}` (a deprecated ping node) is outside the \
                             subset; the node is not read"
                        ),
                    );
                    continue;
                }
            }
            let key = id.to_ascii_lowercase();
            if self.nodes_by_id.contains_key(&key) {
                return Err(self.error(
                    xml,
                    format!("node id \"{id}\" is used twice; node ids must be unique"),
                ));
            }
            let score = match xml.attribute("score") {
                None => Score::ZERO,
                Some(s) => self.score(xml, "score", s)?,
            };
            let mut attributes = BTreeMap::new();
            attributes.insert("#uname".to_string(), uname.to_string());
            attributes.insert("#id".to_string(), id.to_string());
            attributes.insert("#kind".to_string(), "cluster".to_string());
            let is_dc = dc_uuid.is_some_and(|d| d.eq_ignore_ascii_case(id));
            attributes.insert("#is_dc".to_string(), is_dc.to_string());
            let cluster_name = self.cluster.options.other.get("cluster-name").cloned();
            if let Some(name) = &cluster_name {
                attributes.insert("#cluster-name".to_string(), name.clone());
            }
            self.unpack_sets(xml, "instance_attributes", None, false, &mut attributes)?;
            if !attributes.contains_key("#site-name") {
                if let Some(site) = attributes.get("site-name").or(cluster_name.as_ref()) {
                    let site = site.clone();
                    attributes.insert("#site-name".to_string(), site);
                }
            }
            if Self::has_nonempty_set(xml, "utilization") {
                self.unsupported(
                    "utilization",
                    Some(id),
                    "node utilization is outside the subset; capacities are ignored",
                );
            }
            let node_id = NodeId(self.cluster.nodes.len());
            let name_key = uname.to_ascii_lowercase();
            if let std::collections::hash_map::Entry::Vacant(e) = self.nodes_by_name.entry(name_key)
            {
                e.insert(node_id);
            } else {
                self.warn(
                    xml,
                    format!(
                        "more than one node is named `{uname}`; constraints and the status \
                         refer to the first"
                    ),
                );
            }
            self.nodes_by_id.insert(key, node_id);
            self.cluster.nodes.push(Node {
                name: uname.to_string(),
                id: id.to_string(),
                unclean: fence_unseen,
                attributes,
                score,
                ..Node::default()
            });
            self.node_info.push(NodeInfo::new(score));
        }
        Ok(())
    }

    /// `<resources>`: primitives, groups and clones, parents first.
    pub(crate) fn read_resources(&mut self) -> Result<(), Error> {
        let Some(resources) = first_child(self.configuration, "resources") else {
            return Ok(());
        };
        let defaults = self.rsc_defaults;
        let mut defaults_meta = Pairs::new();
        let mut defaults_params = Pairs::new();
        if let Some(d) = defaults {
            self.unpack_sets(d, "meta_attributes", None, false, &mut defaults_meta)?;
            self.unpack_sets(d, "instance_attributes", None, false, &mut defaults_params)?;
            self.report_meta_features(d, &defaults_meta);
        }
        let mut op_defaults = Pairs::new();
        if let Some(d) = self.op_defaults {
            self.unpack_sets(d, "meta_attributes", None, false, &mut op_defaults)?;
            self.report_op_features(d, &op_defaults);
        }
        self.op_defaults_on_fail = op_defaults.get("on-fail").map(|v| v.to_string());
        if let Some(d) = self.rsc_defaults {
            let typed = self.typed_meta(d, &defaults_meta, false, false)?;
            self.orphan_defaults = OrphanDefaults {
                managed: typed.managed && !typed.maintenance,
                failure_timeout_s: typed.failure_timeout_s,
            };
        }
        let context = Defaults {
            meta: Rc::new(defaults_meta),
            params: Rc::new(defaults_params),
            op: op_defaults,
        };
        // Room for every resource element up front.
        let count = resources
            .descendants()
            .filter(|n| matches!(tag(*n), "primitive" | "group" | "clone" | "master"))
            .count();
        self.cluster.resources.reserve(count);
        self.resources.reserve(count);
        self.resource_ids.reserve(count);
        for xml in elements(resources) {
            match tag(xml) {
                "primitive" | "group" | "clone" | "master" => {
                    self.unpack_resource(xml, None, &context)?;
                }
                "template" => self.unsupported(
                    "template",
                    xml.attribute("id"),
                    "resource templates are outside the subset; primitives using one are \
                     not read",
                ),
                "bundle" => self.unsupported(
                    "bundle",
                    xml.attribute("id"),
                    "bundles (containers) are outside the subset; the bundle is not read",
                ),
                other => {
                    let what = format!("<{other}> is not a resource type; ignored");
                    self.unsupported(other, xml.attribute("id"), what);
                }
            }
        }
        Ok(())
    }

    /// One resource element and its children.
    fn unpack_resource(
        &mut self,
        xml: XNode<'a, 'i>,
        parent: Option<ResourceId>,
        defaults: &Defaults<'a>,
    ) -> Result<Option<ResourceId>, Error> {
        let id = match xml.attribute("id") {
            Some(id) if !id.is_empty() => id,
            _ => return Err(self.error(xml, "a resource needs an id")),
        };
        if self.resource_ids.contains_key(id) {
            return Err(self.error(
                xml,
                format!("resource id \"{id}\" is used twice; resource ids must be unique"),
            ));
        }
        let element = tag(xml);
        if element == "primitive" {
            if xml.attribute("template").is_some() {
                self.unsupported(
                    "template",
                    Some(id),
                    "the primitive uses a resource template, which is outside the subset; \
                     it is not read",
                );
                return Ok(None);
            }
            let class = xml.attribute("class");
            let agent = xml.attribute("type");
            let (Some(class), Some(_)) = (class, agent) else {
                return Err(self.error(
                    xml,
                    "a primitive needs class=\"…\" and type=\"…\" (e.g. class=\"ocf\" \
                     provider=\"heartbeat\" type=\"IPaddr2\")",
                ));
            };
            if class.eq_ignore_ascii_case("ocf") && xml.attribute("provider").is_none() {
                return Err(self.error(
                    xml,
                    "an OCF primitive needs provider=\"…\" (e.g. heartbeat or pacemaker)",
                ));
            }
            if class.eq_ignore_ascii_case("ocf")
                && xml.attribute("provider") == Some("pacemaker")
                && xml.attribute("type") == Some("remote")
            {
                self.unsupported(
                    "primitive",
                    Some(id),
                    "Pacemaker Remote connections (ocf:pacemaker:remote) are outside the \
                     subset; the resource is not read",
                );
                return Ok(None);
            }
        }
        let is_clone = matches!(element, "clone" | "master");
        if is_clone {
            // A clone of something outside the subset is not read either.
            let inner = elements(xml).find(|c| matches!(tag(*c), "primitive" | "group"));
            let template = inner.is_some_and(|c| {
                c.attribute("template").is_some()
                    || (tag(c) == "group" && elements(c).any(|m| m.attribute("template").is_some()))
            });
            if template {
                self.unsupported(
                    "template",
                    Some(id),
                    "the clone's resource uses a resource template, which is outside the \
                     subset; the clone is not read",
                );
                return Ok(None);
            }
        }

        // Meta attributes: own, the parents' own, rsc_defaults, then what
        // the parent has implicitly (a clone's stickiness of 1).
        let mut explicit = Pairs::new();
        self.unpack_sets(xml, "meta_attributes", None, false, &mut explicit)?;
        self.report_meta_features(xml, &explicit);
        // Without meta attributes of its own, a child's are exactly its
        // parent's: the parent's come from the same ancestors, in the same
        // order, then the same defaults, then the grandparent's.
        let mut meta: Rc<Pairs<'a>> = match parent {
            Some(p) if explicit.is_empty() => Rc::clone(&self.resources[p.0].full_meta),
            // Nor are a top-level resource's anything but the defaults.
            None if explicit.is_empty() => Rc::clone(&defaults.meta),
            _ => {
                let mut meta = explicit.clone();
                let mut ancestor = parent;
                while let Some(p) = ancestor {
                    for (&k, &v) in &self.resources[p.0].explicit_meta {
                        meta.entry(k).or_insert(v);
                    }
                    ancestor = self.cluster.resources[p.0].parent;
                }
                for (&k, &v) in defaults.meta.iter() {
                    meta.entry(k).or_insert(v);
                }
                if let Some(p) = parent {
                    for (&k, &v) in self.resources[p.0].full_meta.iter() {
                        meta.entry(k).or_insert(v);
                    }
                }
                Rc::new(meta)
            }
        };
        let clone = if is_clone {
            Some(ResourceId(self.cluster.resources.len()))
        } else {
            parent.and_then(|p| self.resources[p.0].clone)
        };
        let (unique, promotable) = if is_clone {
            let unique = self.meta_bool(xml, &meta, "globally-unique", false)?;
            let promotable =
                element == "master" || self.meta_bool(xml, &meta, "promotable", false)?;
            let implicit = Rc::make_mut(&mut meta);
            implicit.entry("resource-stickiness").or_insert("1");
            implicit
                .entry("globally-unique")
                .or_insert(if unique { "true" } else { "false" });
            if promotable {
                implicit.insert("promotable", "true");
            }
            (unique, promotable)
        } else if let Some(c) = clone {
            let unique = self.meta_bool(xml, &meta, "globally-unique", false)?;
            (unique, self.resources[c.0].promotable)
        } else {
            (true, false)
        };
        // Resources sharing one set of meta attributes (a group's members,
        // resources using only the defaults) read the same typed values:
        // the last reading is reused when it warned about nothing.
        let fencing_device = xml
            .attribute("class")
            .is_some_and(|c| c.eq_ignore_ascii_case("stonith"));
        let typed = match &self.typed_meta_cache {
            Some(cached)
                if Rc::ptr_eq(&cached.meta, &meta)
                    && cached.promotable == promotable
                    && cached.fencing_device == fencing_device =>
            {
                cached.typed.clone()
            }
            _ => {
                let warnings = self.warnings.len();
                let typed = self.typed_meta(xml, &meta, promotable, clone.is_some())?;
                if self.warnings.len() == warnings {
                    self.typed_meta_cache = Some(TypedMetaCache {
                        meta: Rc::clone(&meta),
                        promotable,
                        fencing_device,
                        typed: typed.clone(),
                    });
                }
                typed
            }
        };

        // Instance attributes: own, then the parent's (which include theirs
        // and rsc_defaults').
        let mut own = Pairs::new();
        self.unpack_sets(xml, "instance_attributes", None, false, &mut own)?;
        let inherited = match parent {
            Some(p) => &self.resources[p.0].params,
            None => &defaults.params,
        };
        let params = if own.is_empty() {
            Rc::clone(inherited)
        } else {
            for (&k, &v) in inherited.iter() {
                own.entry(k).or_insert(v);
            }
            Rc::new(own)
        };
        if Self::has_nonempty_set(xml, "utilization") {
            self.unsupported(
                "utilization",
                Some(id),
                "resource utilization is outside the subset; it is ignored",
            );
        }

        let rid = ResourceId(self.cluster.resources.len());
        let managed = typed.managed && !typed.maintenance && !self.cluster.options.maintenance_mode;
        let failure_timeout_s = typed.failure_timeout_s;
        self.cluster.resources.push(Resource {
            id: id.to_string(),
            parent,
            kind: ResourceKind::Group(Group {
                members: Vec::new(),
                ordered: true,
                collocated: true,
            }),
            meta: typed,
        });
        self.resources.push(RscInfo {
            xml,
            explicit_meta: explicit,
            full_meta: Rc::clone(&meta),
            params: Rc::clone(&params),
            ops: Rc::from(Vec::new()),
            unique,
            clone,
            promotable,
            managed_now: managed,
            failure_timeout_s,
        });
        self.resource_ids.insert(id, rid);

        let kind = match element {
            "primitive" => self.unpack_primitive(xml, rid, &params, defaults, clone.is_some())?,
            "group" => {
                let mut members = Vec::new();
                for child in elements(xml) {
                    match tag(child) {
                        "primitive" => {
                            if let Some(m) = self.unpack_resource(child, Some(rid), defaults)? {
                                members.push(m);
                            }
                        }
                        "group" | "clone" | "master" | "bundle" => {
                            return Err(self.error(
                                child,
                                format!(
                                    "a group may contain only primitives, not <{}> (put \
                                     the group inside the clone instead)",
                                    tag(child)
                                ),
                            ))
                        }
                        _ => {}
                    }
                }
                if members.is_empty() {
                    self.warn(
                        xml,
                        "the group has no members; Pacemaker ignores it (add primitives or \
                         remove the group)",
                    );
                }
                ResourceKind::Group(Group {
                    members,
                    ordered: self.meta_bool(xml, &meta, "ordered", true)?,
                    collocated: self.meta_bool(xml, &meta, "collocated", true)?,
                })
            }
            _ => self.unpack_clone(xml, rid, &meta, unique, promotable, defaults)?,
        };
        self.cluster.resources[rid.0].kind = kind;
        Ok(Some(rid))
    }

    /// A clone's own settings and its child.
    fn unpack_clone(
        &mut self,
        xml: XNode<'a, 'i>,
        rid: ResourceId,
        meta: &Pairs,
        unique: bool,
        promotable: bool,
        defaults: &Defaults<'a>,
    ) -> Result<ResourceKind, Error> {
        let children: Vec<_> = elements(xml)
            .filter(|c| {
                matches!(
                    tag(*c),
                    "primitive" | "group" | "clone" | "master" | "bundle"
                )
            })
            .collect();
        let child_xml = match children.as_slice() {
            [one] if matches!(tag(*one), "primitive" | "group") => *one,
            [] => {
                return Err(self.error(
                    xml,
                    "the clone has nothing to clone; put one primitive or group inside",
                ))
            }
            [one] => {
                return Err(self.error(
                    *one,
                    "a clone may contain one primitive or group, not another clone or bundle",
                ))
            }
            [_, second, ..] => {
                return Err(self.error(
                    *second,
                    "a clone may contain only one primitive or group; make a group of them",
                ))
            }
        };
        let clone_max = match meta.get("clone-max") {
            None => None,
            Some(v) => Some(self.meta_count(xml, "clone-max", v)?),
        };
        let mut clone_node_max = match meta.get("clone-node-max") {
            None => 1,
            Some(v) => self.meta_count(xml, "clone-node-max", v)?,
        };
        if !unique && clone_node_max > 1 {
            self.warn(
                xml,
                "clone-node-max > 1 needs globally-unique=true; Pacemaker uses 1 for \
                 anonymous clones, and so does ironbeat",
            );
            clone_node_max = 1;
        }
        let promoted = |name: &str, legacy: &str| meta.get(name).or_else(|| meta.get(legacy));
        let promoted_max = match promoted("promoted-max", "master-max") {
            None => 1,
            Some(v) => self.meta_count(xml, "promoted-max", v)?,
        };
        let promoted_node_max = match promoted("promoted-node-max", "master-node-max") {
            None => 1,
            Some(v) => self.meta_count(xml, "promoted-node-max", v)?,
        };
        let clone_min = match meta.get("clone-min") {
            None => 0,
            Some(v) => self.meta_count(xml, "clone-min", v)?,
        };
        let interleave = self.meta_bool(xml, meta, "interleave", false)?;
        let ordered = self.meta_bool(xml, meta, "ordered", false)?;
        let Some(child) = self.unpack_resource(child_xml, Some(rid), defaults)? else {
            return Err(self.error(
                xml,
                "the clone's only child is not supported (see the report above), so the \
                 clone cannot be read",
            ));
        };
        // A child whose agent class cannot be unique made the clone
        // anonymous while it was read (`force_anonymous`); Pacemaker then
        // also caps the instances at one per node and at most one per node
        // of the cluster.
        let unique = unique && self.resources[child.0].unique;
        let (clone_max, clone_node_max) = if unique || !self.resources_forced_anonymous(rid) {
            (clone_max, clone_node_max)
        } else {
            let nodes = u32::try_from(self.cluster.nodes.len()).unwrap_or(u32::MAX);
            (Some(clone_max.unwrap_or(nodes).min(nodes)), 1)
        };
        if promotable {
            let mut non_ocf = None;
            for (i, info) in self.resources.iter().enumerate().skip(child.0) {
                if info.clone != Some(rid) {
                    continue;
                }
                if let ResourceKind::Primitive(p) = &self.cluster.resources[i].kind {
                    if !p.class.eq_ignore_ascii_case("ocf") {
                        non_ocf = Some(i);
                    }
                }
            }
            if let Some(i) = non_ocf {
                let prim = self.resources[i].xml;
                return Err(self.error(
                    prim,
                    "only OCF agents can be promotable; use an ocf:… agent or a plain clone",
                ));
            }
        }
        Ok(ResourceKind::Clone(Clone {
            child,
            promotable,
            clone_max,
            clone_node_max,
            promoted_max,
            promoted_node_max,
            clone_min,
            interleave,
            globally_unique: unique,
            ordered,
        }))
    }

    /// A primitive's agent, operations and parameters.
    fn unpack_primitive(
        &mut self,
        xml: XNode<'a, 'i>,
        rid: ResourceId,
        params: &Pairs,
        defaults: &Defaults<'a>,
        in_clone: bool,
    ) -> Result<ResourceKind, Error> {
        let class = xml.attribute("class").unwrap_or_default().to_string();
        let agent = xml.attribute("type").unwrap_or_default().to_string();
        let provider = xml.attribute("provider").map(str::to_string);
        if class.eq_ignore_ascii_case("stonith") {
            self.have_stonith_resource = true;
        }
        // Only OCF and fencing agents can be unique clone instances.
        if in_clone
            && self.resources[rid.0].unique
            && !class.eq_ignore_ascii_case("ocf")
            && !class.eq_ignore_ascii_case("stonith")
        {
            self.warn(
                xml,
                format!(
                    "{class} agents cannot be globally unique clones; Pacemaker makes the \
                     clone anonymous, and so does ironbeat"
                ),
            );
            if let Some(c) = self.resources[rid.0].clone {
                self.force_anonymous(c);
            }
        }
        if params
            .get("provides")
            .is_some_and(|v| v.eq_ignore_ascii_case("unfencing"))
        {
            self.unsupported(
                "provides",
                xml.attribute("id"),
                "unfencing is outside the subset",
            );
        }
        let mut operations = Vec::new();
        let mut configs = Vec::new();
        if let Some(ops) = first_child(xml, "operations") {
            if let Some(ops) = self.expand_idref(ops) {
                let count = elements(ops).filter(|o| tag(*o) == "op").count();
                operations.reserve_exact(count);
                configs.reserve_exact(count);
                for op in elements(ops).filter(|o| tag(*o) == "op") {
                    let (operation, config) = self.unpack_op(op, &defaults.op)?;
                    operations.push(operation);
                    configs.push(config);
                }
            }
        }
        self.resources[rid.0].ops = Rc::from(configs);
        Ok(ResourceKind::Primitive(Primitive {
            class,
            provider,
            agent,
            operations,
            parameters: params
                .iter()
                .map(|(&k, &v)| (k.to_string(), v.to_string()))
                .collect(),
        }))
    }

    /// Clears globally-unique on a clone and everything in it.
    /// Whether reading `clone`'s children forced it anonymous.
    fn resources_forced_anonymous(&self, clone: ResourceId) -> bool {
        self.forced_anonymous.contains(&clone)
    }

    fn force_anonymous(&mut self, clone: ResourceId) {
        self.forced_anonymous.insert(clone);
        for i in clone.0..self.resources.len() {
            if self.resources[i].clone == Some(clone) {
                self.resources[i].unique = false;
                Rc::make_mut(&mut self.resources[i].full_meta).insert("globally-unique", "false");
                if let ResourceKind::Clone(c) = &mut self.cluster.resources[i].kind {
                    c.globally_unique = false;
                }
            }
        }
    }

    /// One `<op>`.
    fn unpack_op(
        &mut self,
        op: XNode<'a, 'i>,
        op_defaults: &Pairs<'a>,
    ) -> Result<(Operation, OpConfig), Error> {
        let Some(name) = op.attribute("name").filter(|n| !n.is_empty()) else {
            return Err(self.error(op, "an op needs name=\"…\" (start, stop, monitor, …)"));
        };
        if op.attribute("id").is_none() {
            return Err(self.error(op, "an op needs an id"));
        }
        let Some(interval_text) = op.attribute("interval") else {
            return Err(self.error(
                op,
                "an op needs interval=\"…\" (0 for start/stop, e.g. 10s for monitors)",
            ));
        };
        let interval = parse_interval(interval_text).ok_or_else(|| {
            self.error(
                op,
                format!(
                    "interval `{interval_text}` is not a duration; write e.g. 10s, 1m, 500ms \
                     or PT10S"
                ),
            )
        })?;
        if interval.surprising {
            self.warn(
                op,
                format!(
                    "interval `{interval_text}` means {} ms to Pacemaker 2.1.5 (fractions are \
                     dropped; ISO 8601 days and years count short); write it in seconds",
                    interval.ms
                ),
            );
        }
        let mut meta = op_defaults.clone();
        self.unpack_sets(op, "meta_attributes", None, true, &mut meta)?;
        for attr in op.attributes() {
            // `id` would be removed right after: not inserted at all.
            if attr.name() != "id" {
                meta.insert(attr.name(), attr.value());
            }
        }
        meta.remove("id");
        self.report_op_features(op, &meta);

        let role = match op.attribute("role") {
            None => None,
            Some(r) => match parse_role(r) {
                Some(RoleName::Role(role)) => Some(role),
                Some(RoleName::Unknown) => None,
                None => {
                    return Err(self.error(
                        op,
                        format!(
                            "role `{r}` is not a role; use Stopped, Started, Unpromoted or \
                             Promoted"
                        ),
                    ))
                }
            },
        };
        let enabled = match meta.get("enabled") {
            None => true,
            Some(v) => parse_bool(v).ok_or_else(|| {
                self.error(
                    op,
                    format!("enabled `{v}` is not a boolean; use true or false"),
                )
            })?,
        };
        let timeout_ms = self.op_duration(op, &meta, "timeout")?;
        let start_delay_ms = self.op_duration(op, &meta, "start-delay")?.unwrap_or(0);
        let on_fail_raw = meta.get("on-fail").cloned();
        let on_fail = match &on_fail_raw {
            None => None,
            Some(v) => self.model_on_fail(op, name, v)?,
        };
        Ok((
            Operation {
                name: name.to_string(),
                interval_ms: interval.ms,
                role,
                on_fail,
                enabled,
                timeout_ms,
                start_delay_ms,
            },
            OpConfig {
                name: name.to_string(),
                interval_ms: interval.ms,
                enabled,
                on_fail: on_fail_raw.map(str::to_string),
                on_fail_attribute: op.attribute("on-fail").map(str::to_string),
                role_attribute: op.attribute("role").map(str::to_string),
            },
        ))
    }

    /// `timeout` / `start-delay` of an op (`crm_get_msec`).
    fn op_duration(
        &mut self,
        op: XNode<'a, 'i>,
        meta: &Pairs,
        name: &str,
    ) -> Result<Option<u64>, Error> {
        let Some(v) = meta.get(name) else {
            return Ok(None);
        };
        if let Some(d) = parse_msec(v) {
            return Ok(Some(d.ms));
        }
        // Pacemaker reads neither ISO 8601 nor anything else here, and uses
        // its default (the op_defaults or 20 s timeout, no start delay).
        self.warn(
            op,
            format!(
                "{name} `{v}` is not a duration Pacemaker reads here; it uses the default, and \
                 so does ironbeat (write e.g. 20s, 1m or 500ms)"
            ),
        );
        Ok(None)
    }

    /// The model's view of an op's configured `on-fail`.
    fn model_on_fail(
        &mut self,
        op: XNode<'a, 'i>,
        name: &str,
        value: &str,
    ) -> Result<Option<OnFail>, Error> {
        let v = value.to_ascii_lowercase();
        if name == "stop" && matches!(v.as_str(), "standby" | "demote" | "stop") {
            self.warn(
                op,
                format!(
                    "on-fail={value} is not allowed for stop; Pacemaker uses the default \
                     (fence, or block without fencing), and so does ironbeat"
                ),
            );
            return Ok(None);
        }
        Ok(match v.as_str() {
            "ignore" | "nothing" => Some(OnFail::Ignore),
            "block" => Some(OnFail::Block),
            "stop" => Some(OnFail::Stop),
            "restart" => Some(OnFail::Restart),
            "standby" => Some(OnFail::Standby),
            "fence" if self.cluster.options.stonith_enabled => Some(OnFail::Fence),
            "fence" => {
                self.warn(
                    op,
                    "on-fail=fence needs fencing; Pacemaker uses stop because stonith-enabled \
                     is false, and so does ironbeat",
                );
                Some(OnFail::Stop)
            }
            "migrate" => {
                self.unsupported(
                    "on-fail",
                    op.attribute("id"),
                    "on-fail=migrate is outside the subset; read as restart (the node is \
                     banned after a failure)",
                );
                Some(OnFail::Restart)
            }
            "demote" => {
                self.unsupported(
                    "on-fail",
                    op.attribute("id"),
                    "on-fail=demote is outside the subset; the default applies",
                );
                None
            }
            "restart-container" => {
                self.unsupported(
                    "on-fail",
                    op.attribute("id"),
                    "on-fail=restart-container (bundles) is outside the subset; the default \
                     applies",
                );
                None
            }
            _ => {
                return Err(self.error(
                    op,
                    format!(
                        "on-fail `{value}` is not known; use ignore, block, stop, restart, \
                         standby or fence"
                    ),
                ))
            }
        })
    }

    /// The typed meta attributes.
    fn typed_meta(
        &mut self,
        xml: XNode<'a, 'i>,
        meta: &Pairs,
        promotable: bool,
        in_clone: bool,
    ) -> Result<Meta, Error> {
        let mut m = Meta::default();
        let score = |this: &mut Self, name: &str| -> Result<Option<Score>, Error> {
            match meta.get(name) {
                None => Ok(None),
                Some(v) if v.eq_ignore_ascii_case("default") => Ok(None),
                Some(v) => this.score(xml, name, v).map(Some),
            }
        };
        if let Some(p) = score(self, "priority")? {
            m.priority = p.value();
        }
        m.stickiness = score(self, "resource-stickiness")?;
        if let Some(t) = score(self, "migration-threshold")? {
            m.migration_threshold = if t.value() < 0 {
                self.warn(
                    xml,
                    "migration-threshold must not be negative; Pacemaker uses 1, and so does \
                     ironbeat",
                );
                1
            } else {
                t.value() as u32
            };
        }
        if let Some(v) = meta.get("is-managed") {
            if !v.eq_ignore_ascii_case("default") {
                m.managed = self.meta_bool(xml, meta, "is-managed", true)?;
            }
        }
        m.maintenance = self.meta_bool(xml, meta, "maintenance", false)?;
        m.critical = self.meta_bool(xml, meta, "critical", true)?;
        m.allow_migrate = self.meta_bool(xml, meta, "allow-migrate", false)?;
        if let Some(v) = meta.get("failure-timeout") {
            let d = parse_interval(v).ok_or_else(|| {
                self.error(
                    xml,
                    format!("failure-timeout `{v}` is not a duration; write e.g. 60s or 10m"),
                )
            })?;
            m.failure_timeout_s = d.ms / 1000;
        }
        m.target_role = self.target_role(xml, meta.get("target-role").copied(), promotable)?;
        m.multiple_active = match meta.get("multiple-active").map(|v| v.to_ascii_lowercase()) {
            None => MultipleActive::StopStart,
            Some(v) => match v.as_str() {
                "stop_start" => MultipleActive::StopStart,
                "stop_only" => MultipleActive::StopOnly,
                "block" => MultipleActive::Block,
                "stop_unexpected" => MultipleActive::StopUnexpected,
                _ => {
                    return Err(self.error(
                        xml,
                        format!(
                            "multiple-active `{v}` is not known; use stop_start, stop_only, \
                             block or stop_unexpected"
                        ),
                    ))
                }
            },
        };
        m.requires = Some(self.requires(xml, meta.get("requires").copied())?);
        let _ = in_clone;
        m.other = meta
            .iter()
            .filter(|(k, _)| !TYPED_META.contains(k))
            .map(|(&k, &v)| (k.to_string(), v.to_string()))
            .collect();
        Ok(m)
    }

    /// `target-role` as `get_target_role` reads it: Started (or Promoted
    /// for a promotable clone) is the default and reads as None.
    fn target_role(
        &mut self,
        xml: XNode<'a, 'i>,
        value: Option<&str>,
        promotable: bool,
    ) -> Result<Option<Role>, Error> {
        let Some(v) = value else { return Ok(None) };
        if v.eq_ignore_ascii_case("started") || v.eq_ignore_ascii_case("default") {
            return Ok(None);
        }
        match parse_role(v) {
            Some(RoleName::Role(Role::Stopped)) => Ok(Some(Role::Stopped)),
            Some(RoleName::Role(Role::Started)) => Ok(None),
            Some(RoleName::Role(role)) => {
                if !promotable {
                    self.warn(
                        xml,
                        format!(
                            "target-role={v} only makes sense for promotable clones; Pacemaker \
                             ignores it, and so does ironbeat"
                        ),
                    );
                    Ok(None)
                } else if role == Role::Promoted {
                    Ok(None)
                } else {
                    Ok(Some(role))
                }
            }
            Some(RoleName::Unknown) | None => {
                self.warn(
                    xml,
                    format!(
                        "target-role `{v}` is not a role; Pacemaker ignores it, and so does \
                         ironbeat (use Stopped, Started, Unpromoted or Promoted)"
                    ),
                );
                Ok(None)
            }
        }
    }

    /// `requires`, with Pacemaker's default (`unpack_requires`).
    fn requires(&mut self, xml: XNode<'a, 'i>, value: Option<&str>) -> Result<Requires, Error> {
        let fencing_device = xml
            .attribute("class")
            .is_some_and(|c| c.eq_ignore_ascii_case("stonith"));
        let stonith = self.cluster.options.stonith_enabled;
        let default = if fencing_device {
            Requires::Quorum
        } else if stonith {
            Requires::Fencing
        } else if self.cluster.options.no_quorum_policy == NoQuorumPolicy::Ignore {
            Requires::Nothing
        } else {
            Requires::Quorum
        };
        let Some(v) = value else { return Ok(default) };
        Ok(match v.to_ascii_lowercase().as_str() {
            "nothing" => Requires::Nothing,
            "quorum" => Requires::Quorum,
            "fencing" => Requires::Fencing,
            "unfencing" => {
                if fencing_device || !stonith {
                    Requires::Quorum
                } else {
                    Requires::Fencing
                }
            }
            _ => {
                return Err(self.error(
                    xml,
                    format!("requires `{v}` is not known; use nothing, quorum or fencing"),
                ))
            }
        })
    }

    /// A boolean meta attribute (`default` when absent).
    fn meta_bool(
        &self,
        xml: XNode<'a, 'i>,
        meta: &Pairs,
        name: &str,
        default: bool,
    ) -> Result<bool, Error> {
        match meta.get(name) {
            None => Ok(default),
            Some(v) => parse_bool(v).ok_or_else(|| {
                self.error(
                    xml,
                    format!("meta attribute {name}=\"{v}\" is not a boolean; use true or false"),
                )
            }),
        }
    }

    /// A count meta attribute (clone-max …): a whole number, negatives
    /// read as 0 as Pacemaker does.
    fn meta_count(&self, xml: XNode<'a, 'i>, name: &str, v: &str) -> Result<u32, Error> {
        let n: i64 = v.trim().parse().map_err(|_| {
            self.error(
                xml,
                format!("meta attribute {name}=\"{v}\" is not a whole number"),
            )
        })?;
        Ok(n.clamp(0, i64::from(u32::MAX)) as u32)
    }

    /// Reports meta attributes outside the subset, and warns about unknown
    /// names, where they are set.
    fn report_meta_features(&mut self, xml: XNode<'a, 'i>, explicit: &Pairs) {
        let id = xml.attribute("id");
        for (name, value) in explicit {
            let truthy = parse_bool(value) == Some(true);
            let what = match *name {
                "allow-migrate" if truthy => Some(
                    "live migration is outside the subset; the resource is stopped and \
                     started instead",
                ),
                "notify" if truthy => Some(
                    "clone notifications are outside the subset; no notify actions are \
                     scheduled",
                ),
                "remote-node" => Some(
                    "guest nodes (remote-node) are outside the subset; no guest node is \
                     created",
                ),
                "container" => Some("resources in containers are outside the subset"),
                "container-attribute-target" => Some("bundle attributes are outside the subset"),
                "restart-type" => Some(
                    "the deprecated restart-type is outside the subset; it is kept in \
                     meta.other only",
                ),
                "record-pending" if truthy => Some(
                    "record-pending is outside the subset; pending operations are not \
                     recorded",
                ),
                "requires" if value.eq_ignore_ascii_case("unfencing") => {
                    Some("unfencing is outside the subset; read as requires=fencing")
                }
                _ => None,
            };
            if let Some(what) = what {
                self.unsupported(name, id, what);
            } else if !TYPED_META.contains(name) && !OTHER_KNOWN_META.contains(name) {
                self.warn(
                    xml,
                    format!(
                        "unknown meta attribute `{name}`; Pacemaker ignores it, and so does \
                         ironbeat (check the spelling)"
                    ),
                );
            }
        }
    }

    /// Reports operation options outside the subset.
    fn report_op_features(&mut self, xml: XNode<'a, 'i>, meta: &Pairs) {
        let id = xml.attribute("id");
        for (name, value) in meta {
            let what = match *name {
                "interval-origin" => Some(
                    "interval-origin is outside the subset; recurring operations start \
                     without the computed delay",
                ),
                "record-pending" if parse_bool(value) == Some(true) => Some(
                    "record-pending is outside the subset; pending operations are not \
                     recorded",
                ),
                "role_after_failure" => {
                    Some("the deprecated role_after_failure is outside the subset; ignored")
                }
                _ => None,
            };
            if let Some(what) = what {
                self.unsupported(name, id, what);
            }
        }
        if Self::has_nonempty_set(xml, "instance_attributes") && tag(xml) == "op_defaults" {
            self.unsupported(
                "instance_attributes",
                id,
                "instance attributes in op_defaults are outside the subset; ignored",
            );
        }
    }
}

/// `rsc_defaults` and `op_defaults`, unpacked once.
struct Defaults<'a> {
    meta: Rc<Pairs<'a>>,
    params: Rc<Pairs<'a>>,
    op: Pairs<'a>,
}

/// An error about the cluster option `name` (found again for its line).
fn pair_error(
    reader: &Reader<'_, '_>,
    section: Option<XNode<'_, '_>>,
    name: &str,
    value: &str,
    expected: &str,
) -> Error {
    let message = format!("cluster option {name}=\"{value}\" is invalid: it must be {expected}");
    let found = section.and_then(|s| {
        s.descendants()
            .find(|n| n.is_element() && tag(*n) == "nvpair" && n.attribute("name") == Some(name))
    });
    match found {
        Some(n) => reader.error(n, message),
        None => Error::config("crm_config", None, None, message),
    }
}
