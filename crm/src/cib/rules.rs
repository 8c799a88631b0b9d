//! Location rules (`generate_location_rule`, `pe_eval_expr`,
//! `pe__eval_attr_expr`): a rule's expressions are evaluated against every
//! node's attributes (`#uname` and the rest), and the rule becomes one
//! location with a score per matching node. With `boolean-op="and"` (the
//! default) a matching node gets the rule's score; with `or` it gets the
//! node's weight plus the score (Pacemaker's quirk: an offline node's
//! weight is -INFINITY).
//!
//! Date expressions, resource and operation expressions, `#role`,
//! `score-attribute` and `value-source` are outside the subset: such a rule
//! is reported and skipped.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use crate::model::{Discovery, Location, NodeId, ResourceId, Role};

use super::values::{compare_version, parse_role, RoleName};
use super::xml::{elements, tag, XNode};
use super::{Error, Reader};

/// Nested rules deeper than this are refused.
const MAX_RULE_DEPTH: usize = 32;

/// Why a rule cannot be evaluated here.
enum Skip {
    /// Outside the subset: (element or attribute, what).
    Unsupported(String, String),
}

impl<'a, 'i> Reader<'a, 'i> {
    /// One `<rule>` of a location constraint for `resource`.
    pub(crate) fn location_rule(
        &mut self,
        rule: XNode<'a, 'i>,
        resource: ResourceId,
        discovery: Discovery,
    ) -> Result<Option<Location>, Error> {
        let Some(rule) = self.expand_idref(rule) else {
            return Ok(None);
        };
        let Some(rule_id) = rule.attribute("id") else {
            return Err(self.error(rule, "a rule needs an id"));
        };
        let role = match rule.attribute("role") {
            None => None,
            Some(r) => match parse_role(r) {
                Some(RoleName::Role(Role::Unpromoted)) => None,
                Some(RoleName::Role(role)) => Some(role),
                _ => {
                    return Err(self.error(
                        rule,
                        format!("role `{r}` is not a role; use Promoted or Unpromoted"),
                    ))
                }
            },
        };
        let score = match (rule.attribute("score"), rule.attribute("score-attribute")) {
            (Some(s), _) => self.score(rule, "score", s)?,
            (None, Some(_)) => {
                self.unsupported(
                    "score-attribute",
                    Some(rule_id),
                    "scores taken from node attributes are outside the subset; the rule is \
                     ignored",
                );
                return Ok(None);
            }
            (None, None) => {
                return Err(self.error(
                    rule,
                    "a location rule needs score=\"…\" (an integer, INFINITY or -INFINITY)",
                ))
            }
        };
        let or = rule
            .attribute("boolean-op")
            .is_some_and(|b| b.eq_ignore_ascii_case("or"));
        let mut scores = Vec::new();
        let mut other_attributes = BTreeSet::new();
        for n in 0..self.cluster.nodes.len() {
            let accept = match self.eval_rule(rule, NodeId(n), 0, &mut other_attributes) {
                Ok(accept) => accept,
                Err(Skip::Unsupported(what_element, what)) => {
                    self.unsupported(&what_element, Some(rule_id), what);
                    return Ok(None);
                }
            };
            if accept {
                let value = if or {
                    self.node_info[n].weight + score
                } else {
                    score
                };
                scores.push((NodeId(n), value));
            }
        }
        for attribute in other_attributes {
            self.unsupported(
                &attribute,
                Some(rule_id),
                format!(
                    "a location rule on the node attribute `{attribute}` is outside the \
                     subset (only #uname is); it was evaluated against the values in this \
                     CIB, which change at run time"
                ),
            );
        }
        if scores.is_empty() {
            return Ok(None);
        }
        Ok(Some(Location {
            id: rule_id.to_string(),
            resource,
            role,
            scores,
            discovery,
        }))
    }

    /// `pe_eval_expr` for one node.
    fn eval_rule(
        &mut self,
        rule: XNode<'a, 'i>,
        node: NodeId,
        depth: usize,
        other_attributes: &mut BTreeSet<String>,
    ) -> Result<bool, Skip> {
        if depth > MAX_RULE_DEPTH {
            return Err(Skip::Unsupported(
                "rule".to_string(),
                "rules nested this deeply are refused; the rule is ignored".to_string(),
            ));
        }
        let or = rule
            .attribute("boolean-op")
            .is_some_and(|b| b.eq_ignore_ascii_case("or"));
        for expr in elements(rule) {
            let passed = match tag(expr) {
                "rule" => {
                    let Some(nested) = self.expand_idref(expr) else {
                        return Err(Skip::Unsupported(
                            "rule".to_string(),
                            "a nested rule reference that names no rule; the rule is ignored"
                                .to_string(),
                        ));
                    };
                    self.eval_rule(nested, node, depth + 1, other_attributes)?
                }
                "expression" => self.eval_attribute_expression(expr, node, other_attributes)?,
                other => {
                    return Err(Skip::Unsupported(
                        other.to_string(),
                        format!(
                            "<{other}> in a location rule is outside the subset (only node \
                             attribute expressions are); the rule is ignored"
                        ),
                    ))
                }
            };
            if passed && or {
                return Ok(true);
            }
            if !passed && !or {
                return Ok(false);
            }
        }
        Ok(!or)
    }

    /// `pe__eval_attr_expr` against a node's attributes.
    fn eval_attribute_expression(
        &mut self,
        expr: XNode<'a, 'i>,
        node: NodeId,
        other_attributes: &mut BTreeSet<String>,
    ) -> Result<bool, Skip> {
        let Some(attribute) = expr.attribute("attribute") else {
            return Err(Skip::Unsupported(
                "expression".to_string(),
                "an expression without attribute=\"…\" never matches; the rule is ignored"
                    .to_string(),
            ));
        };
        if attribute == "#role" {
            return Err(Skip::Unsupported(
                "#role".to_string(),
                "role expressions are outside the subset; the rule is ignored".to_string(),
            ));
        }
        if let Some(source) = expr.attribute("value-source") {
            if !source.eq_ignore_ascii_case("literal") {
                return Err(Skip::Unsupported(
                    "value-source".to_string(),
                    format!("value-source={source} is outside the subset; the rule is ignored"),
                ));
            }
        }
        if attribute != "#uname" && !other_attributes.contains(attribute) {
            other_attributes.insert(attribute.to_string());
        }
        let operation = expr.attribute("operation").unwrap_or("");
        let value = expr.attribute("value").filter(|v| !v.is_empty());
        let type_ = expr.attribute("type");
        let held = self.cluster.nodes[node.0]
            .attributes
            .get(attribute)
            .map(String::as_str);
        Ok(accept_attribute(held, value, type_, operation))
    }
}

/// `accept_attr_expr`.
fn accept_attribute(
    held: Option<&str>,
    value: Option<&str>,
    type_: Option<&str>,
    op: &str,
) -> bool {
    let op = op.to_ascii_lowercase();
    match op.as_str() {
        "defined" => return held.is_some(),
        "not_defined" => return held.is_none(),
        _ => {}
    }
    let cmp = compare_values(held, value, type_, &op);
    match op.as_str() {
        "eq" => cmp == Ordering::Equal,
        "ne" => cmp != Ordering::Equal,
        _ if held.is_none() || value.is_none() => false,
        "lt" => cmp == Ordering::Less,
        "lte" => cmp != Ordering::Greater,
        "gt" => cmp == Ordering::Greater,
        "gte" => cmp != Ordering::Less,
        _ => false,
    }
}

/// `compare_attr_expr_vals`.
fn compare_values(l: Option<&str>, r: Option<&str>, type_: Option<&str>, op: &str) -> Ordering {
    let (l, r) = match (l, r) {
        (Some(l), Some(r)) => (l, r),
        (None, None) => return Ordering::Equal,
        (Some(_), None) => return Ordering::Greater,
        (None, Some(_)) => return Ordering::Less,
    };
    let type_ = match type_ {
        Some(t) => t.to_ascii_lowercase(),
        None if matches!(op, "lt" | "lte" | "gt" | "gte") => {
            if l.contains('.') || r.contains('.') {
                "number".to_string()
            } else {
                "integer".to_string()
            }
        }
        None => "string".to_string(),
    };
    let as_string = || {
        l.to_ascii_lowercase()
            .as_bytes()
            .cmp(r.to_ascii_lowercase().as_bytes())
    };
    match type_.as_str() {
        "string" => as_string(),
        "integer" => match (strict_integer(l), strict_integer(r)) {
            (Some(a), Some(b)) => a.cmp(&b),
            _ => as_string(),
        },
        "number" => match (l.trim().parse::<f64>(), r.trim().parse::<f64>()) {
            (Ok(a), Ok(b)) => a.partial_cmp(&b).unwrap_or(Ordering::Equal),
            _ => as_string(),
        },
        "version" => compare_version(Some(l), Some(r)),
        _ => Ordering::Equal,
    }
}

/// An integer that `pcmk__scan_ll` accepts: digits (with sign), maybe
/// followed by other characters.
fn strict_integer(text: &str) -> Option<i64> {
    super::values::leading_integer(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_expressions() {
        assert!(accept_attribute(Some("node1"), Some("NODE1"), None, "eq"));
        assert!(accept_attribute(Some("node1"), Some("node2"), None, "ne"));
        assert!(accept_attribute(None, Some("node2"), None, "ne"));
        assert!(accept_attribute(Some("x"), None, None, "defined"));
        assert!(accept_attribute(None, None, None, "not_defined"));
        assert!(accept_attribute(Some("10"), Some("9"), None, "gt"));
        assert!(accept_attribute(Some("1.5"), Some("1.25"), None, "gt"));
        assert!(accept_attribute(
            Some("abc"),
            Some("abd"),
            Some("string"),
            "lt"
        ));
        assert!(accept_attribute(
            Some("2.10"),
            Some("2.9"),
            Some("version"),
            "gt"
        ));
        assert!(!accept_attribute(None, Some("1"), None, "lt"));
        assert!(!accept_attribute(Some("1"), Some("1"), None, "bogus"));
    }
}
