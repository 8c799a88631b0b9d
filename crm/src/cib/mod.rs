//! The Pacemaker CIB reader: a CIB XML document (configuration and status)
//! in, a [`Cluster`] out, interpreted as Pacemaker 2.1.5 interprets it.
//!
//! What is read (the compact CRM's subset):
//! - `crm_config` properties ([`crate::model::ClusterOptions`], unknown ones
//!   kept in `options.other`), `<cib have-quorum dc-uuid execution-date>`;
//! - nodes with their `score` and `instance_attributes` (standby,
//!   maintenance, `#uname`, `#id`, `#kind`, `#is_dc`);
//! - primitives, groups, clones and promotable clones (`<master>` or
//!   `promotable=true`) with effective meta attributes (`rsc_defaults`, then
//!   the parents', then the resource's own; deprecated `master-max` etc.),
//!   operations with `op_defaults`, instance attributes, `id-ref`;
//! - `rsc_location` (node and score, rules on `#uname` and other node
//!   attributes, roles, `resource-discovery`, `rsc-pattern`),
//!   `rsc_colocation` and `rsc_order`;
//! - the status: node states (online, unclean, pending, shutdown, standby,
//!   maintenance), transient attributes (fail counts, last failures) and
//!   each resource's operation history, unpacked into one
//!   [`crate::model::History`] per resource and node the way `unpack.c`
//!   does (plus a Stopped entry carrying the fail count where a resource
//!   has failures but no history); failures that forbid nodes (Pacemaker's
//!   `hard-error`, `fatal-error`, `masked-probe-failure`, `__stop_fail__`,
//!   `on-fail=stop`) become [`crate::model::HistoryBan`]s.
//!
//! Everything else is listed in [`Document::unsupported`] by element or
//! attribute and id, and the rest is still read. Problems Pacemaker
//! tolerates (a constraint naming an element that is not a resource, or a
//! node that does not exist; invalid values it resets; order constraints
//! that loop, which it accepts and then cannot complete) are listed in
//! [`Document::warnings`], with their line. Malformed XML and invalid
//! configuration that Pacemaker's schema rejects (a constraint naming an
//! id nothing has) are an [`Error`], with its line. Nothing here panics.
//!
//! Failure expiry (`failure-timeout`) depends on the time: [`read_at`]
//! takes it; [`read`] uses the CIB's `execution-date` when it has one, and
//! otherwise treats every recorded failure as old (as `crm_simulate` run
//! today does for a saved CIB).

mod config;
mod constraints;
mod error;
mod nvpairs;
mod pattern;
mod rules;
mod status;
mod values;
mod xml;

#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};

use roxmltree::ParsingOptions;

use crate::model::{Cluster, NodeId, ResourceId};
use crate::score::Score;

pub use error::{Error, ErrorKind};

use config::{OrphanDefaults, RscInfo};
use status::NodeInfo;
use xml::{first_child, tag, IdIndex, XNode};

/// A CIB read into the model.
#[derive(Debug, Clone)]
pub struct Document {
    /// The cluster: configuration and current state.
    pub cluster: Cluster,
    /// What the CIB uses that the compact CRM does not support.
    pub unsupported: Vec<Unsupported>,
    /// What Pacemaker would complain about but tolerate (and how the
    /// reader handled it the way Pacemaker does).
    pub warnings: Vec<Warning>,
    /// The time failures were judged against: [`read_at`]'s `now`, else
    /// the CIB's `execution-date`; None when neither was given (every
    /// failure with a `failure-timeout` was then treated as expired).
    pub now: Option<i64>,
}

/// A feature outside the compact CRM's subset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported {
    /// The element (`rsc_ticket`) or attribute (`allow-migrate`) used.
    pub element_or_attribute: String,
    /// The id of the element it appears in.
    pub id: Option<String>,
    /// What it is and what the reader did instead.
    pub what: String,
}

/// A problem Pacemaker tolerates, handled as Pacemaker handles it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The element concerned.
    pub element: String,
    /// Its id.
    pub id: Option<String>,
    /// Its line in the input (1-based), when the warning is about one
    /// element there.
    pub line: Option<u32>,
    /// What is wrong, what was done, and how to fix it.
    pub what: String,
}

impl std::fmt::Display for Warning {
    /// `line 12: <rsc_location id="loc1">: what`, as [`Error`] prints.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(line) = self.line {
            write!(f, "line {line}: ")?;
        }
        write!(f, "<{}", self.element)?;
        if let Some(id) = &self.id {
            write!(f, " id=\"{id}\"")?;
        }
        write!(f, ">: {}", self.what)
    }
}

/// Reads a CIB. Failure expiry is judged at the CIB's `execution-date`,
/// or, without one, as if every recorded failure were old.
pub fn read(xml: &str) -> Result<Document, Error> {
    read_inner(xml, None)
}

/// Reads a CIB, judging failure expiry at `now` (Unix seconds).
pub fn read_at(xml: &str, now: i64) -> Result<Document, Error> {
    read_inner(xml, Some(now))
}

fn read_inner(text: &str, now: Option<i64>) -> Result<Document, Error> {
    // Plain XML is read directly; anything else (or anything malformed,
    // to name the problem) by roxmltree.
    let parsed;
    let doc = match xml::Tree::parse(text) {
        Some(tree) => tree,
        None => {
            parsed = parse_with_roxmltree(text)?;
            xml::Tree::from_roxmltree(&parsed)
        }
    };
    let root = doc.root_element();
    if tag(root) != "cib" {
        return Err(Error::xml(
            Some(doc.text_pos_at(root.range().start).row),
            format!(
                "the root element is <{}>, not <cib>: this is not a Pacemaker CIB \
                 (export one with `cibadmin --query`)",
                tag(root)
            ),
        ));
    }
    let Some(configuration) = first_child(root, "configuration") else {
        return Err(Error::config(
            "cib",
            None,
            Some(doc.text_pos_at(root.range().start).row),
            "there is no <configuration> section; a CIB needs one (with \
             crm_config, nodes, resources and constraints, which may be empty)",
        ));
    };
    let execution_date = root
        .attribute("execution-date")
        .and_then(values::leading_integer);
    let document_now = now.or(execution_date);
    let mut reader = Reader {
        doc: &doc,
        index: IdIndex::new(&doc, Some(configuration)),
        cluster: Cluster::default(),
        unsupported: Vec::new(),
        warnings: Vec::new(),
        now: document_now.unwrap_or(i64::MAX),
        root,
        configuration,
        rsc_defaults: first_child(configuration, "rsc_defaults"),
        op_defaults: first_child(configuration, "op_defaults"),
        have_stonith_resource: false,
        resources: Vec::new(),
        resource_ids: HashMap::new(),
        node_info: Vec::new(),
        nodes_by_id: HashMap::new(),
        nodes_by_name: HashMap::new(),
        renamed: HashSet::new(),
        instance_state: HashMap::new(),
        forced_anonymous: HashSet::new(),
        op_defaults_on_fail: None,
        orphan_defaults: OrphanDefaults::default(),
        typed_meta_cache: None,
        orphan_state: HashMap::new(),
        lrm_entries: HashMap::new(),
    };
    reader.read_cib_attributes();
    reader.read_options()?;
    reader.read_nodes()?;
    reader.read_resources()?;
    reader.check_other_sections();
    reader.read_status()?;
    reader.read_constraints()?;
    Ok(reader.finish(document_now))
}

/// roxmltree's reading of a document [`xml::Tree::parse`] does not take,
/// with its errors (and a depth limit first: it recurses per level).
fn parse_with_roxmltree(text: &str) -> Result<roxmltree::Document<'_>, Error> {
    if let Some(at) = xml::too_deep(text) {
        let line = text[..at].bytes().filter(|&c| c == b'\n').count() + 1;
        return Err(Error::xml(
            Some(u32::try_from(line).unwrap_or(u32::MAX)),
            format!(
                "elements are nested more than {} deep; a CIB is about ten levels deep",
                xml::MAX_DEPTH
            ),
        ));
    }
    let options = ParsingOptions {
        allow_dtd: false,
        nodes_limit: u32::MAX,
    };
    roxmltree::Document::parse_with_options(text, options).map_err(|e| match e {
        // These carry no position: the input ended, so say where it did.
        roxmltree::Error::UnclosedRootNode | roxmltree::Error::UnexpectedEndOfStream => {
            let last = text.trim_end().lines().count().max(1);
            Error::xml(
                Some(u32::try_from(last).unwrap_or(u32::MAX)),
                format!(
                    "{e}: the document ends before its elements are closed (is the file \
                     complete? `cibadmin --query` exports a whole CIB)"
                ),
            )
        }
        _ => Error::xml(Some(e.pos().row), e.to_string()),
    })
}

/// Everything the reader needs while it walks the document.
pub(crate) struct Reader<'a, 'i> {
    doc: &'a xml::Tree<'i>,
    index: IdIndex<'a, 'i>,
    cluster: Cluster,
    unsupported: Vec<Unsupported>,
    warnings: Vec<Warning>,
    /// The time failure expiry is judged at.
    now: i64,
    root: XNode<'a, 'i>,
    configuration: XNode<'a, 'i>,
    rsc_defaults: Option<XNode<'a, 'i>>,
    op_defaults: Option<XNode<'a, 'i>>,
    /// A fencing device is configured (or `have-watchdog` is true).
    have_stonith_resource: bool,
    /// Reader-side facts per resource, parallel to `cluster.resources`.
    resources: Vec<RscInfo<'a, 'i>>,
    resource_ids: HashMap<&'a str, ResourceId>,
    /// Reader-side facts per node, parallel to `cluster.nodes`.
    node_info: Vec<NodeInfo>,
    /// Nodes by lower-cased id and name (Pacemaker compares them without
    /// case).
    nodes_by_id: HashMap<String, NodeId>,
    nodes_by_name: HashMap<String, NodeId>,
    /// History ids Pacemaker renames to anonymous clone instances (a
    /// constraint naming one of them applies to the clone).
    renamed: HashSet<String>,
    /// Each globally-unique clone instance is a resource of its own to
    /// Pacemaker: its `managed_now` and `failure_timeout_s`, by
    /// (primitive, instance), once its history has changed them.
    instance_state: HashMap<(ResourceId, u32), (bool, u64)>,
    /// Clones made anonymous because their agent class cannot be unique.
    forced_anonymous: HashSet<ResourceId>,
    /// `on-fail` from `op_defaults` (for operations not configured).
    op_defaults_on_fail: Option<String>,
    /// What orphans get from `rsc_defaults`.
    orphan_defaults: OrphanDefaults,
    /// The last typed reading of a shared set of meta attributes.
    typed_meta_cache: Option<config::TypedMetaCache<'a>>,
    /// Orphans' managed flag and failure timeout as their histories are
    /// unpacked, by id.
    orphan_state: HashMap<String, (bool, u64)>,
    /// `lrm_resource` elements by node and id, as unpacked.
    lrm_entries: HashMap<usize, HashMap<&'a str, XNode<'a, 'i>>>,
}

impl<'a, 'i> Reader<'a, 'i> {
    /// An invalid-configuration error about `node`.
    fn error(&self, node: XNode<'a, 'i>, message: impl Into<String>) -> Error {
        Error::config(
            tag(node),
            node.attribute("id"),
            Some(self.doc.text_pos_at(node.range().start).row),
            message,
        )
    }

    /// Records a feature outside the subset.
    fn unsupported(&mut self, what_element: &str, id: Option<&str>, what: impl Into<String>) {
        self.unsupported.push(Unsupported {
            element_or_attribute: what_element.to_string(),
            id: id.map(str::to_string),
            what: what.into(),
        });
    }

    /// Records a tolerated problem about `node`.
    fn warn(&mut self, node: XNode<'a, 'i>, what: impl Into<String>) {
        let line = self.doc.text_pos_at(node.range().start).row;
        self.warnings.push(Warning {
            element: tag(node).to_string(),
            id: node.attribute("id").map(str::to_string),
            line: Some(line),
            what: what.into(),
        });
    }

    /// Records a tolerated problem about an element named `element`.
    fn warn_about(&mut self, element: &str, id: Option<&str>, what: impl Into<String>) {
        self.warnings.push(Warning {
            element: element.to_string(),
            id: id.map(str::to_string),
            line: None,
            what: what.into(),
        });
    }

    /// `id-ref` resolution: the element itself, or the first element of the
    /// same name with that id (None, with a warning, when there is none).
    fn expand_idref(&mut self, node: XNode<'a, 'i>) -> Option<XNode<'a, 'i>> {
        let Some(reference) = node.attribute("id-ref") else {
            return Some(node);
        };
        let found = self.index.find(tag(node), reference);
        if found.is_none() {
            self.warn(
                node,
                format!(
                    "id-ref=\"{reference}\" names no <{}> element; Pacemaker ignores \
                     this reference, and so does ironbeat (fix the id)",
                    tag(node)
                ),
            );
        }
        found
    }

    /// A score written in the configuration (`attribute` of `node`):
    /// integers and ±INFINITY; a decimal loses its fraction as in
    /// Pacemaker, with a warning.
    fn score(&mut self, node: XNode<'a, 'i>, attribute: &str, text: &str) -> Result<Score, Error> {
        match values::parse_config_score(text) {
            Some((score, dropped)) => {
                if dropped {
                    self.warn(
                        node,
                        format!(
                            "{attribute}=\"{text}\" is read as {score}: Pacemaker drops the \
                             fraction (write a whole number)"
                        ),
                    );
                }
                Ok(score)
            }
            None => Err(self.error(
                node,
                format!(
                    "{attribute}=\"{text}\" is not a score; use an integer, INFINITY or \
                     -INFINITY"
                ),
            )),
        }
    }

    /// `have-quorum` and `dc-uuid` on `<cib>`.
    fn read_cib_attributes(&mut self) {
        self.cluster.have_quorum = values::is_true(self.root.attribute("have-quorum"));
    }

    /// Configuration sections outside the subset, and unknown elements.
    fn check_other_sections(&mut self) {
        for section in xml::elements(self.configuration) {
            let name = tag(section);
            let empty = xml::elements(section).next().is_none();
            match name {
                "crm_config" | "nodes" | "resources" | "constraints" | "rsc_defaults"
                | "op_defaults" => {}
                "fencing-topology" | "tags" | "acls" if !empty => {
                    let what = match name {
                        "fencing-topology" => {
                            "fencing topology is outside the subset; every device may fence                              every node"
                        }
                        "tags" => "tags are outside the subset; constraints naming a tag are ignored",
                        _ => "access control lists are outside the subset; ignored",
                    };
                    self.unsupported(name, None, what);
                }
                "alerts" if !empty => self.warn_about(
                    "alerts",
                    None,
                    "alerts are not part of scheduling; ironbeat does not run alert agents",
                ),
                "fencing-topology" | "tags" | "acls" | "alerts" => {}
                _ => self.warn(section, "unknown configuration section; ignored"),
            }
        }
        for child in xml::elements(self.root) {
            if !matches!(tag(child), "configuration" | "status") {
                self.warn(child, "unknown element in <cib>; ignored");
            }
        }
    }

    /// Collects the result.
    fn finish(mut self, now: Option<i64>) -> Document {
        let dc = self
            .root
            .attribute("dc-uuid")
            .and_then(|uuid| self.nodes_by_id.get(&uuid.to_ascii_lowercase()).copied());
        self.cluster.dc = dc;
        Document {
            cluster: self.cluster,
            unsupported: self.unsupported,
            warnings: self.warnings,
            now,
        }
    }
}
