//! Attribute sets (`meta_attributes`, `instance_attributes`,
//! `cluster_property_set`, `utilization`) unpacked as Pacemaker does
//! (`pe_eval_nvpairs`): sets sorted by their `score` (highest first, an
//! `always_first` id before all, later sets before earlier ones on equal
//! scores), `id-ref` on sets and nvpairs, `#default` removing a value.
//! Sets guarded by a `<rule>` are outside the subset: reported and skipped.

use std::collections::BTreeMap;

use super::xml::{elements, tag, XNode};
use super::{Error, Reader};

/// Name → value, as unpacked: borrowed from the document (the reader's
/// own maps; nothing is copied per resource or operation).
pub(crate) type Pairs<'a> = BTreeMap<&'a str, &'a str>;

/// Where [`Reader::unpack_sets`] puts what it unpacks: the reader's
/// borrowed [`Pairs`], or a model map that owns its strings (node
/// attributes).
pub(crate) trait PairSink<'a> {
    /// Whether `name` has a value.
    fn has(&self, name: &str) -> bool;
    /// Sets `name` to `value`.
    fn put(&mut self, name: &'a str, value: &'a str);
    /// Removes `name`.
    fn unset(&mut self, name: &str);
}

impl<'a> PairSink<'a> for Pairs<'a> {
    fn has(&self, name: &str) -> bool {
        self.contains_key(name)
    }
    fn put(&mut self, name: &'a str, value: &'a str) {
        self.insert(name, value);
    }
    fn unset(&mut self, name: &str) {
        self.remove(name);
    }
}

impl<'a> PairSink<'a> for BTreeMap<String, String> {
    fn has(&self, name: &str) -> bool {
        self.contains_key(name)
    }
    fn put(&mut self, name: &'a str, value: &'a str) {
        self.insert(name.to_string(), value.to_string());
    }
    fn unset(&mut self, name: &str) {
        self.remove(name);
    }
}

impl<'a, 'i> Reader<'a, 'i> {
    /// Unpacks the `set_name` children of `owner` into `into`. With
    /// `overwrite`, later sets replace values; without, the first wins.
    pub(crate) fn unpack_sets(
        &mut self,
        owner: XNode<'a, 'i>,
        set_name: &str,
        always_first: Option<&str>,
        overwrite: bool,
        into: &mut impl PairSink<'a>,
    ) -> Result<(), Error> {
        let mut sets = Vec::new();
        for child in elements(owner).filter(|c| tag(*c) == set_name) {
            let Some(set) = self.expand_idref(child) else {
                continue;
            };
            let score = match set.attribute("score") {
                None => 0,
                Some(s) => self.score(set, "score", s)?.value(),
            };
            let first = always_first.is_some_and(|f| set.attribute("id") == Some(f));
            sets.push((first, score, set));
        }
        // Pacemaker prepends each set, then sorts stably.
        sets.reverse();
        sets.sort_by_key(|(first, score, _)| (!*first, std::cmp::Reverse(*score)));
        for (_, _, set) in sets {
            if elements(set).any(|c| tag(c) == "rule") {
                self.unsupported(
                    "rule",
                    set.attribute("id"),
                    format!(
                        "a rule guarding <{}> is outside the subset (only location \
                         rules are evaluated); the set is ignored",
                        tag(set)
                    ),
                );
                continue;
            }
            self.populate(set, overwrite, into);
        }
        Ok(())
    }

    /// Copies one set's nvpairs into `into`.
    fn populate(&mut self, set: XNode<'a, 'i>, overwrite: bool, into: &mut impl PairSink<'a>) {
        // The legacy <attributes> wrapper.
        let list = match elements(set).next() {
            Some(first) if tag(first) == "attributes" => first,
            _ => set,
        };
        for pair in elements(list).filter(|c| tag(*c) == "nvpair") {
            let referenced = if pair.attribute("id-ref").is_some() {
                self.expand_idref(pair)
            } else {
                None
            };
            let name = pair
                .attribute("name")
                .or_else(|| referenced.and_then(|r| r.attribute("name")));
            let value = pair
                .attribute("value")
                .or_else(|| referenced.and_then(|r| r.attribute("value")));
            let (Some(name), Some(value)) = (name, value) else {
                continue;
            };
            if value.eq_ignore_ascii_case("#default") {
                into.unset(name);
                continue;
            }
            if overwrite || !into.has(name) {
                into.put(name, value);
            }
        }
    }

    /// Whether `owner` has a non-empty `set_name` set (for reporting sets
    /// the subset ignores, such as `utilization`).
    pub(crate) fn has_nonempty_set(owner: XNode<'a, 'i>, set_name: &str) -> bool {
        elements(owner)
            .filter(|c| tag(*c) == set_name)
            .any(|s| s.attribute("id-ref").is_some() || elements(s).next().is_some())
    }
}
