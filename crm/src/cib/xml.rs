//! Small helpers over `roxmltree`: element children by name, and the
//! `id-ref` index (Pacemaker resolves `id-ref="x"` on an element `<t>` to
//! the first `<t id="x">` in the document).

use std::collections::HashMap;

use roxmltree::{Document, Node};

/// Elements nested deeper than this are refused before parsing (a CIB is
/// about ten levels deep; the XML parser recurses per level).
pub(crate) const MAX_DEPTH: usize = 512;

/// Scans `text` for element nesting deeper than [`MAX_DEPTH`]; returns the
/// byte offset where it happens. Comments, CDATA, processing instructions
/// and quoted attribute values are skipped; anything malformed is left for
/// the parser to report.
pub(crate) fn too_deep(text: &str) -> Option<usize> {
    let b = text.as_bytes();
    let mut i = 0;
    let mut depth = 0usize;
    let find = |from: usize, pat: &[u8]| -> usize {
        b[from.min(b.len())..]
            .windows(pat.len())
            .position(|w| w == pat)
            .map_or(b.len(), |p| from + p + pat.len())
    };
    while i < b.len() {
        match b[i..].iter().position(|&c| c == b'<') {
            Some(p) => i += p,
            None => break,
        }
        let rest = &b[i..];
        if rest.starts_with(b"<!--") {
            i = find(i + 4, b"-->");
        } else if rest.starts_with(b"<![CDATA[") {
            i = find(i + 9, b"]]>");
        } else if rest.starts_with(b"<?") {
            i = find(i + 2, b"?>");
        } else if rest.starts_with(b"<!") {
            i = find(i + 2, b">");
        } else if rest.starts_with(b"</") {
            depth = depth.saturating_sub(1);
            i = find(i + 2, b">");
        } else {
            // A start tag: find its end outside quoted values.
            let mut j = i + 1;
            let mut quote = 0u8;
            while j < b.len() {
                if quote != 0 {
                    match b[j..].iter().position(|&c| c == quote) {
                        Some(p) => j += p,
                        None => j = b.len(),
                    }
                    quote = 0;
                } else {
                    match b[j..]
                        .iter()
                        .position(|&c| matches!(c, b'"' | b'\'' | b'>'))
                    {
                        Some(p) => j += p,
                        None => j = b.len(),
                    }
                    if j < b.len() && b[j] == b'>' {
                        break;
                    }
                    if j < b.len() {
                        quote = b[j];
                    }
                }
                j += 1;
            }
            if j >= b.len() || b[j - 1] != b'/' {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Some(i);
                }
            }
            i = j + 1;
        }
    }
    None
}

/// An element of the parsed CIB.
pub(crate) type XNode<'a, 'i> = Node<'a, 'i>;

/// The element children of `node`.
pub(crate) fn elements<'a, 'i>(node: XNode<'a, 'i>) -> impl Iterator<Item = XNode<'a, 'i>> {
    node.children().filter(|c| c.is_element())
}

/// The element children of `node` named `name`.
pub(crate) fn children_named<'a, 'i: 'a>(
    node: XNode<'a, 'i>,
    name: &'a str,
) -> impl Iterator<Item = XNode<'a, 'i>> + 'a {
    node.children()
        .filter(move |c| c.is_element() && c.tag_name().name() == name)
}

/// The first element child of `node` named `name`.
pub(crate) fn first_child<'a, 'i: 'a>(node: XNode<'a, 'i>, name: &str) -> Option<XNode<'a, 'i>> {
    node.children()
        .find(|c| c.is_element() && c.tag_name().name() == name)
}

/// The tag name of an element.
pub(crate) fn tag<'a>(node: XNode<'a, '_>) -> &'a str {
    node.tag_name().name()
}

/// Elements indexed by (tag, id), first occurrence in document order.
pub(crate) struct IdIndex<'a, 'i> {
    doc: &'a Document<'i>,
    configuration: ById<'a, 'i>,
    /// Built on the first miss: the whole document (status included), as
    /// Pacemaker's `//tag[@id='x']` search covers it.
    everything: Option<ById<'a, 'i>>,
}

impl<'a, 'i> IdIndex<'a, 'i> {
    /// Indexes every element with an `id` under `configuration`.
    pub(crate) fn new(doc: &'a Document<'i>, configuration: Option<XNode<'a, 'i>>) -> Self {
        let mut map = ById::default();
        if let Some(conf) = configuration {
            index_into(conf, &mut map);
        }
        IdIndex {
            doc,
            configuration: map,
            everything: None,
        }
    }

    /// The tag of an element of the configuration with this `id`, if any
    /// (what a schema `IDREF` may point at: the status has no ids).
    pub(crate) fn configuration_tag(&self, id: &str) -> Option<&'a str> {
        let first = *self.configuration.first.get(id)?;
        self.configuration.entries.get(first).map(|e| e.tag)
    }

    /// The first `<tag id="id">` in the document.
    pub(crate) fn find(&mut self, tag: &str, id: &str) -> Option<XNode<'a, 'i>> {
        if let Some(n) = lookup(&self.configuration, tag, id) {
            return Some(n);
        }
        let doc = self.doc;
        let all = self.everything.get_or_insert_with(|| {
            let mut map = ById::default();
            index_into(doc.root(), &mut map);
            map
        });
        lookup(all, tag, id)
    }
}

/// Elements by id, then by tag name: each id's first element in
/// `first`, the others (other tags) chained after it in document order.
/// One map and one list rather than a map per id: a CIB has an id on
/// nearly every element.
#[derive(Default)]
struct ById<'a, 'i> {
    first: HashMap<&'a str, usize>,
    entries: Vec<IdEntry<'a, 'i>>,
}

/// One (id, tag) of [`ById`].
struct IdEntry<'a, 'i> {
    tag: &'a str,
    node: XNode<'a, 'i>,
    /// The id's next entry (another tag), if any.
    next: Option<usize>,
}

fn lookup<'a, 'i>(map: &ById<'a, 'i>, tag: &str, id: &str) -> Option<XNode<'a, 'i>> {
    let mut at = map.first.get(id).copied();
    while let Some(i) = at {
        let entry = map.entries.get(i)?;
        if entry.tag == tag {
            return Some(entry.node);
        }
        at = entry.next;
    }
    None
}

fn index_into<'a, 'i>(top: XNode<'a, 'i>, map: &mut ById<'a, 'i>) {
    // `descendants` walks the tree without recursion.
    for n in top.descendants().filter(|n| n.is_element()) {
        let Some(id) = n.attribute("id") else {
            continue;
        };
        let tag = n.tag_name().name();
        let new = map.entries.len();
        let Some(&first) = map.first.get(id) else {
            map.first.insert(id, new);
            map.entries.push(IdEntry {
                tag,
                node: n,
                next: None,
            });
            continue;
        };
        // The first element with this (id, tag) stays; another tag is
        // chained after the id's last entry.
        let mut last = first;
        loop {
            if map.entries[last].tag == tag {
                break;
            }
            match map.entries[last].next {
                Some(next) => last = next,
                None => {
                    map.entries[last].next = Some(new);
                    map.entries.push(IdEntry {
                        tag,
                        node: n,
                        next: None,
                    });
                    break;
                }
            }
        }
    }
}
