//! `<constraints>`: `rsc_location`, `rsc_colocation` and `rsc_order`
//! (`pcmk_sched_location.c`, `pcmk_sched_colocation.c`,
//! `pcmk_sched_ordering.c`). A constraint naming a resource that does not
//! exist is ignored with a warning, as Pacemaker ignores it with a
//! configuration error. Resource sets, tickets, tags and lifetimes are
//! outside the subset.

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
        Ok(())
    }

    /// The resource a constraint names (`pcmk__find_constraint_resource`),
    /// or None with a warning.
    fn constraint_resource(
        &mut self,
        xml: XNode<'a, 'i>,
        attribute: &str,
        name: &str,
    ) -> Option<ResourceId> {
        if let Some(&rid) = self.resource_ids.get(name) {
            let info = &self.resources[rid.0];
            return match info.clone {
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
            };
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
                return None;
            }
        }
        let what = if self.orphan_state.contains_key(name) {
            format!(
                "{attribute}=\"{name}\" names a resource that exists only in the history (an \
                 orphan); the constraint is ignored, as Pacemaker does"
            )
        } else {
            format!(
                "{attribute}=\"{name}\" names no resource; Pacemaker ignores the constraint, \
                 and so does ironbeat (fix the name or remove the constraint)"
            )
        };
        self.warn(xml, what);
        None
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
            if let Some(rid) = self.constraint_resource(xml, "rsc", name) {
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
        let dependent = self.constraint_resource(xml, "rsc", rsc);
        let primary = self.constraint_resource(xml, "with-rsc", with);
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
        let first_rsc = self.constraint_resource(xml, "first", first);
        let then_rsc = self.constraint_resource(xml, "then", then);
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
