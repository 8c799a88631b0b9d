//! `<constraints>`: `rsc_location`, `rsc_colocation` and `rsc_order`
//! (`pcmk_sched_location.c`, `pcmk_sched_colocation.c`,
//! `pcmk_sched_ordering.c`). A constraint naming an element that is not a
//! resource is ignored with a warning, as Pacemaker ignores it with a
//! configuration error; one naming an id no element of the configuration
//! has is an error, as Pacemaker's schema rejects the whole CIB then
//! (`IDREF attribute rsc references an unknown ID`). Resource sets,
//! tickets, tags and lifetimes are outside the subset.

use std::collections::{HashMap, HashSet};

use crate::model::{Colocation, Discovery, Location, Order, OrderKind, ResourceId, Role, Task};
use crate::score::Score;

use super::pattern::Pattern;
use super::values::{parse_bool, parse_role, RoleName};
use super::xml::{elements, first_child, tag, XNode};
use super::{Error, Reader};

impl<'a, 'i> Reader<'a, 'i> {
    /// Every constraint, in document order.
    pub(crate) fn read_constraints(&mut self) -> Result<(), Error> {
        let Some(constraints) = first_child(self.configuration, "constraints") else {
            return Ok(());
        };
        for xml in elements(constraints) {
            let element = tag(xml);
            let Some(id) = xml.attribute("id") else {
                return Err(self.error(xml, "a constraint needs an id"));
            };
            if first_child(xml, "lifetime").is_some() {
                self.unsupported(
                    "lifetime",
                    Some(id),
                    "constraint lifetimes are outside the subset; the constraint is ignored",
                );
                continue;
            }
            if matches!(element, "rsc_location" | "rsc_colocation" | "rsc_order")
                && first_child(xml, "resource_set").is_some()
            {
                self.unsupported(
                    "resource_set",
                    Some(id),
                    "resource sets are outside the subset; the constraint is ignored",
                );
                continue;
            }
            match element {
                "rsc_location" => self.location(xml, id)?,
                "rsc_colocation" => self.colocation(xml, id)?,
                "rsc_order" => self.order(xml, id)?,
                "rsc_ticket" => self.unsupported(
                    "rsc_ticket",
                    Some(id),
                    "ticket constraints are outside the subset; the constraint is ignored",
                ),
                other => {
                    let what = format!("<{other}> is not a constraint this reader knows; ignored");
                    self.unsupported(other, Some(id), what);
                }
            }
        }
        self.warn_about_order_loops();
        Ok(())
    }

    /// Order constraints that loop (`A then B`, `B then A`; or through the
    /// inverse orders symmetrical ones imply). Pacemaker accepts them, and
    /// crm_verify says nothing, but once the looping actions are scheduled
    /// together its transition cannot complete: they never run, nor does
    /// anything ordered after them. Each loop is reported once, with the
    /// constraints that make it.
    fn warn_about_order_loops(&mut self) {
        let orders = &self.cluster.orders;
        // Nodes: (resource, action); edges carry the order's index.
        let mut nodes: HashMap<(ResourceId, Task), usize> = HashMap::new();
        let mut names: Vec<(ResourceId, Task)> = Vec::new();
        let mut edges: Vec<Vec<(usize, usize)>> = Vec::new();
        let mut node = |key: (ResourceId, Task), edges: &mut Vec<Vec<(usize, usize)>>| {
            *nodes.entry(key).or_insert_with(|| {
                names.push(key);
                edges.push(Vec::new());
                names.len() - 1
            })
        };
        for (i, o) in orders.iter().enumerate() {
            let first = node((o.first, o.first_action), &mut edges);
            let then = node((o.then, o.then_action), &mut edges);
            edges[first].push((then, i));
            if o.symmetrical {
                let first = node((o.then, inverse(o.then_action)), &mut edges);
                let then = node((o.first, inverse(o.first_action)), &mut edges);
                edges[first].push((then, i));
            }
        }
        // One warning per set of constraints (a symmetrical pair loops on
        // the starts and, inverted, on the stops).
        let mut loops: Vec<(Vec<usize>, Vec<String>)> = Vec::new();
        for component in strongly_connected(&edges) {
            let inside: HashSet<usize> = component.iter().copied().collect();
            let mut ids: Vec<usize> = component
                .iter()
                .flat_map(|&n| edges[n].iter())
                .filter(|(to, _)| inside.contains(to))
                .map(|&(_, order)| order)
                .collect();
            ids.sort_unstable();
            ids.dedup();
            let path = loop_path(&edges, &component, &inside)
                .iter()
                .map(|&n| {
                    let (r, task) = names[n];
                    format!("{} {task}", self.cluster.resources[r.0].id)
                })
                .collect::<Vec<_>>()
                .join(" → ");
            match loops.iter_mut().find(|(known, _)| *known == ids) {
                Some((_, paths)) => paths.push(path),
                None => loops.push((ids, vec![path])),
            }
        }
        for (ids, paths) in loops {
            let constraints = ids
                .iter()
                .map(|&i| format!("`{}`", self.cluster.orders[i].id))
                .collect::<Vec<_>>()
                .join(", ");
            let Some(first) = ids.first().map(|&i| self.cluster.orders[i].id.clone()) else {
                continue;
            };
            let what = format!(
                "the order constraints {constraints} loop ({}); Pacemaker accepts them, but \
                 when these actions are scheduled together its transition cannot complete \
                 (\"Transition failed: terminated\"): they never run, nor does anything \
                 ordered after them. Remove one of the constraints (or, when the loop goes \
                 through the inverse order a symmetrical constraint implies, set \
                 symmetrical=\"false\" on it)",
                paths.join("; ")
            );
            match self.index.find("rsc_order", &first) {
                Some(xml) => self.warn(xml, what),
                None => self.warn_about("rsc_order", Some(&first), what),
            }
        }
    }

    /// The resource a constraint names (`pcmk__find_constraint_resource`),
    /// None with a warning when Pacemaker ignores the constraint, or an
    /// error when its schema rejects the CIB.
    fn constraint_resource(
        &mut self,
        xml: XNode<'a, 'i>,
        attribute: &str,
        name: &str,
    ) -> Result<Option<ResourceId>, Error> {
        if let Some(&rid) = self.resource_ids.get(name) {
            let info = &self.resources[rid.0];
            return Ok(match info.clone {
                Some(clone) if clone != rid => {
                    // Inside a clone the resource exists only as instances;
                    // Pacemaker finds it under this name only when the
                    // history named an instance so.
                    if self.renamed.contains(name) {
                        Some(clone)
                    } else {
                        let clone_id = self.cluster.resources[clone.0].id.clone();
                        self.warn(
                            xml,
                            format!(
                                "{attribute}=\"{name}\" names a resource inside the clone \
                                 `{clone_id}`; Pacemaker ignores the constraint, and so does \
                                 ironbeat (name the clone instead)"
                            ),
                        );
                        None
                    }
                }
                _ => Some(rid),
            });
        }
        if let Some((base, digits)) = name.rsplit_once(':') {
            if digits.bytes().all(|b| b.is_ascii_digit())
                && self
                    .resource_ids
                    .get(base)
                    .is_some_and(|r| self.resources[r.0].clone.is_some())
            {
                self.unsupported(
                    attribute,
                    xml.attribute("id"),
                    format!(
                        "constraints on a single clone instance (`{name}`) are outside the \
                         subset; the constraint is ignored"
                    ),
                );
                return Ok(None);
            }
        }
        if let Some(other) = self.index.configuration_tag(name) {
            // The schema is satisfied (an IDREF to an existing id); the
            // scheduler ignores the constraint with a configuration error.
            self.warn(
                xml,
                format!(
                    "{attribute}=\"{name}\" names a <{other}>, not a resource; Pacemaker \
                     ignores the constraint (\"is not a valid resource or tag\"), and so does \
                     ironbeat (name a resource, or remove the constraint)"
                ),
            );
            return Ok(None);
        }
        let what = if self.orphan_state.contains_key(name) {
            format!(
                "{attribute}=\"{name}\" names a resource that is no longer configured (only \
                 its history is left); Pacemaker's schema rejects a CIB whose constraint refers \
                 to an id nothing in the configuration has: remove the constraint"
            )
        } else {
            format!(
                "{attribute}=\"{name}\" names nothing in the configuration; Pacemaker's schema \
                 rejects such a CIB (\"IDREF attribute {attribute} references an unknown ID\"): \
                 fix the name or remove the constraint"
            )
        };
        Err(self.error(xml, what))
    }

    /// `rsc_location`.
    fn location(&mut self, xml: XNode<'a, 'i>, id: &'a str) -> Result<(), Error> {
        let discovery = match xml.attribute("resource-discovery") {
            None => Discovery::Always,
            Some(d) => match d.to_ascii_lowercase().as_str() {
                "always" => Discovery::Always,
                "never" => Discovery::Never,
                "exclusive" => Discovery::Exclusive,
                _ => {
                    return Err(self.error(
                        xml,
                        format!(
                            "resource-discovery `{d}` is not known; use always, never or \
                             exclusive"
                        ),
                    ))
                }
            },
        };
        let rsc = xml.attribute("rsc");
        let pattern = xml.attribute("rsc-pattern");
        if rsc.is_none() && pattern.is_none() {
            return Err(self.error(
                xml,
                "a location constraint needs rsc=\"…\" (or rsc-pattern=\"…\")",
            ));
        }
        if let Some(name) = rsc {
            if let Some(rid) = self.constraint_resource(xml, "rsc", name)? {
                self.location_for(xml, id, rid, discovery)?;
            }
        }
        if let Some(p) = pattern {
            let (invert, p) = match p.strip_prefix('!') {
                Some(rest) => (true, rest),
                None => (false, p),
            };
            let compiled = Pattern::compile(p).map_err(|e| {
                self.error(
                    xml,
                    format!(
                        "rsc-pattern `{p}` is not a valid regular expression: {}",
                        e.0
                    ),
                )
            })?;
            let matching: Vec<ResourceId> = self
                .cluster
                .top_level()
                .filter(|r| compiled.is_match(&self.cluster.resources[r.0].id) != invert)
                .collect();
            for rid in matching {
                self.location_for(xml, id, rid, discovery)?;
            }
        }
        Ok(())
    }

    /// One location constraint for one resource (`unpack_rsc_location`).
    fn location_for(
        &mut self,
        xml: XNode<'a, 'i>,
        id: &'a str,
        resource: ResourceId,
        discovery: Discovery,
    ) -> Result<(), Error> {
        let node = xml.attribute("node");
        let score = xml.attribute("score");
        if let (Some(node), Some(score)) = (node, score) {
            let score = self.score(xml, "score", score)?;
            let role = match xml.attribute("role") {
                None => None,
                Some(r) => match parse_role(r) {
                    Some(RoleName::Role(Role::Started | Role::Unpromoted))
                    | Some(RoleName::Unknown) => None,
                    Some(RoleName::Role(role)) => Some(role),
                    None => {
                        return Err(self.error(
                            xml,
                            format!(
                                "role `{r}` is not a role; use Started, Unpromoted or Promoted"
                            ),
                        ))
                    }
                },
            };
            let Some(&n) = self.nodes_by_name.get(&node.to_ascii_lowercase()) else {
                self.warn(
                    xml,
                    format!(
                        "node=\"{node}\" names no node; Pacemaker ignores the constraint, and \
                         so does ironbeat"
                    ),
                );
                return Ok(());
            };
            self.cluster.locations.push(Location {
                id: id.to_string(),
                resource,
                role,
                scores: vec![(n, score)],
                discovery,
            });
            return Ok(());
        }
        let rules: Vec<_> = elements(xml).filter(|c| tag(*c) == "rule").collect();
        if rules.is_empty() {
            return Err(self.error(
                xml,
                "a location constraint needs node=\"…\" and score=\"…\", or a <rule>",
            ));
        }
        if xml.attribute("role").is_some() {
            self.warn(
                xml,
                "role on a location constraint with rules is ignored by Pacemaker, and by \
                 ironbeat; put role=\"…\" on the rule",
            );
        }
        for rule in rules {
            if let Some(location) = self.location_rule(rule, resource, discovery)? {
                self.cluster.locations.push(location);
            }
        }
        Ok(())
    }

    /// `rsc_colocation`.
    fn colocation(&mut self, xml: XNode<'a, 'i>, id: &'a str) -> Result<(), Error> {
        let (Some(rsc), Some(with)) = (xml.attribute("rsc"), xml.attribute("with-rsc")) else {
            return Err(self.error(
                xml,
                "a colocation constraint needs rsc=\"…\" and with-rsc=\"…\"",
            ));
        };
        let Some(score_text) = xml.attribute("score") else {
            self.warn(
                xml,
                "a colocation without a score counts as score 0, which Pacemaker ignores, and \
                 so does ironbeat (add score=\"INFINITY\" to keep them together)",
            );
            return Ok(());
        };
        let score = self.score(xml, "score", score_text)?;
        if let Some(attr) = xml.attribute("node-attribute") {
            if attr != "#uname" {
                self.unsupported(
                    "node-attribute",
                    Some(id),
                    format!(
                        "colocation by the node attribute `{attr}` is outside the subset; the \
                         constraint is ignored"
                    ),
                );
                return Ok(());
            }
        }
        for attr in ["rsc-instance", "with-rsc-instance"] {
            if xml.attribute(attr).is_some() {
                self.unsupported(
                    attr,
                    Some(id),
                    "colocation with a single clone instance is outside the subset; the \
                     constraint is ignored",
                );
                return Ok(());
            }
        }
        if xml.attribute("symmetrical").is_some() {
            self.warn(
                xml,
                "the colocation attribute `symmetrical` has been removed from Pacemaker; ignored",
            );
        }
        let dependent_role = self.colocation_role(xml, "rsc-role")?;
        let primary_role = self.colocation_role(xml, "with-rsc-role")?;
        let influence = match xml.attribute("influence") {
            None => None,
            Some(v) => {
                let parsed = parse_bool(v);
                if parsed.is_none() {
                    self.warn(
                        xml,
                        format!(
                            "influence `{v}` is not a boolean; Pacemaker uses the default (the \
                             dependent's `critical`), and so does ironbeat"
                        ),
                    );
                }
                parsed
            }
        };
        let dependent = self.constraint_resource(xml, "rsc", rsc)?;
        let primary = self.constraint_resource(xml, "with-rsc", with)?;
        let (Some(dependent), Some(primary)) = (dependent, primary) else {
            return Ok(());
        };
        if score == Score::ZERO {
            return Ok(());
        }
        let influence = influence.unwrap_or(self.cluster.resources[dependent.0].meta.critical);
        self.cluster.colocations.push(Colocation {
            id: id.to_string(),
            dependent,
            primary,
            score,
            dependent_role,
            primary_role,
            influence,
        });
        Ok(())
    }

    /// `rsc-role` / `with-rsc-role`: Started (or none) means any role.
    fn colocation_role(&self, xml: XNode<'a, 'i>, attribute: &str) -> Result<Option<Role>, Error> {
        let Some(r) = xml.attribute(attribute) else {
            return Ok(None);
        };
        match parse_role(r) {
            Some(RoleName::Role(Role::Started)) | Some(RoleName::Unknown) => Ok(None),
            Some(RoleName::Role(role)) => Ok(Some(role)),
            None => Err(self.error(
                xml,
                format!(
                    "{attribute} `{r}` is not a role; use Started, Unpromoted, Promoted or \
                     Stopped"
                ),
            )),
        }
    }

    /// `rsc_order`.
    fn order(&mut self, xml: XNode<'a, 'i>, id: &'a str) -> Result<(), Error> {
        let (Some(first), Some(then)) = (xml.attribute("first"), xml.attribute("then")) else {
            return Err(self.error(xml, "an order constraint needs first=\"…\" and then=\"…\""));
        };
        for attr in ["first-instance", "then-instance"] {
            if xml.attribute(attr).is_some() {
                self.unsupported(
                    attr,
                    Some(id),
                    "ordering a single clone instance is outside the subset; the constraint \
                     is ignored",
                );
                return Ok(());
            }
        }
        let first_action = self.order_action(xml, "first-action", Task::Start)?;
        let then_action = self.order_action(xml, "then-action", first_action)?;
        let kind = match xml.attribute("kind") {
            Some(k) => match k.to_ascii_lowercase().as_str() {
                "mandatory" => OrderKind::Mandatory,
                "optional" => OrderKind::Optional,
                "serialize" => OrderKind::Serialize,
                _ => {
                    self.warn(
                        xml,
                        format!(
                            "kind `{k}` is not valid; Pacemaker resets it to Mandatory, and so \
                             does ironbeat (use Mandatory, Optional or Serialize)"
                        ),
                    );
                    OrderKind::Mandatory
                }
            },
            None => match xml.attribute("score") {
                None => OrderKind::Mandatory,
                Some(s) => {
                    let score = self.score(xml, "score", s)?;
                    if score == Score::ZERO {
                        OrderKind::Optional
                    } else {
                        OrderKind::Mandatory
                    }
                }
            },
        };
        let symmetrical = match xml.attribute("symmetrical") {
            None => kind != OrderKind::Serialize,
            Some(v) => {
                let v = parse_bool(v).ok_or_else(|| {
                    self.error(
                        xml,
                        format!("symmetrical `{v}` is not a boolean; use true or false"),
                    )
                })?;
                if v && kind == OrderKind::Serialize {
                    self.warn(
                        xml,
                        "symmetrical is not valid with kind=Serialize; Pacemaker ignores it, and \
                         so does ironbeat",
                    );
                    false
                } else {
                    v
                }
            }
        };
        let require_all = match xml.attribute("require-all") {
            None => true,
            Some(v) => parse_bool(v).ok_or_else(|| {
                self.error(
                    xml,
                    format!("require-all `{v}` is not a boolean; use true or false"),
                )
            })?,
        };
        let first_rsc = self.constraint_resource(xml, "first", first)?;
        let then_rsc = self.constraint_resource(xml, "then", then)?;
        let (Some(first), Some(then)) = (first_rsc, then_rsc) else {
            return Ok(());
        };
        self.cluster.orders.push(Order {
            id: id.to_string(),
            first,
            first_action,
            then,
            then_action,
            kind,
            symmetrical,
            require_all,
        });
        Ok(())
    }

    /// `first-action` / `then-action`.
    fn order_action(
        &self,
        xml: XNode<'a, 'i>,
        attribute: &str,
        default: Task,
    ) -> Result<Task, Error> {
        match xml.attribute(attribute) {
            None => Ok(default),
            Some("start") => Ok(Task::Start),
            Some("stop") => Ok(Task::Stop),
            Some("promote") => Ok(Task::Promote),
            Some("demote") => Ok(Task::Demote),
            Some(other) => Err(self.error(
                xml,
                format!(
                    "{attribute} `{other}` is not an action; use start, stop, promote or demote"
                ),
            )),
        }
    }
}

/// The action a symmetrical order's inverse orders.
fn inverse(task: Task) -> Task {
    match task {
        Task::Start => Task::Stop,
        Task::Stop => Task::Start,
        Task::Promote => Task::Demote,
        Task::Demote => Task::Promote,
    }
}

/// The strongly connected components with a loop (more than one node),
/// each sorted, in order of their smallest node (Tarjan's algorithm,
/// iterative: no recursion however long the chains).
fn strongly_connected(edges: &[Vec<(usize, usize)>]) -> Vec<Vec<usize>> {
    let n = edges.len();
    let mut index = vec![usize::MAX; n];
    let mut low = vec![0usize; n];
    let mut on_stack = vec![false; n];
    let mut stack: Vec<usize> = Vec::new();
    let mut next = 0usize;
    let mut out = Vec::new();
    for root in 0..n {
        if index[root] != usize::MAX {
            continue;
        }
        // (node, position in its edge list)
        let mut work: Vec<(usize, usize)> = vec![(root, 0)];
        index[root] = next;
        low[root] = next;
        next += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&mut (v, ref mut pos)) = work.last_mut() {
            if let Some(&(w, _)) = edges[v].get(*pos) {
                *pos += 1;
                if index[w] == usize::MAX {
                    index[w] = next;
                    low[w] = next;
                    next += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    work.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(index[w]);
                }
                continue;
            }
            work.pop();
            if let Some(&(parent, _)) = work.last() {
                low[parent] = low[parent].min(low[v]);
            }
            if low[v] == index[v] {
                let mut component = Vec::new();
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    component.push(w);
                    if w == v {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort_unstable();
                    out.push(component);
                }
            }
        }
    }
    out.sort_by_key(|c| c[0]);
    out
}

/// One loop through a component, from its smallest node back to it.
fn loop_path(
    edges: &[Vec<(usize, usize)>],
    component: &[usize],
    inside: &HashSet<usize>,
) -> Vec<usize> {
    let Some(&start) = component.first() else {
        return Vec::new();
    };
    // Breadth-first from start's successors back to start, within the
    // component (which guarantees a way back).
    let mut came_from: HashMap<usize, usize> = HashMap::new();
    let mut queue = std::collections::VecDeque::from([start]);
    while let Some(v) = queue.pop_front() {
        for &(w, _) in &edges[v] {
            if !inside.contains(&w) {
                continue;
            }
            if w == start {
                let mut path = vec![start];
                let mut at = v;
                while at != start {
                    path.push(at);
                    at = came_from.get(&at).copied().unwrap_or(start);
                }
                path.push(start);
                let len = path.len();
                path[1..len - 1].reverse();
                return path;
            }
            if let std::collections::hash_map::Entry::Vacant(e) = came_from.entry(w) {
                e.insert(v);
                queue.push_back(w);
            }
        }
    }
    vec![start, start]
}
