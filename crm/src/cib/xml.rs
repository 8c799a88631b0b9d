//! The parsed CIB the reader walks: its elements and their attributes
//! ([`Tree`], [`Node`]); element children by name; the `id-ref` index
//! (Pacemaker resolves `id-ref="x"` on an element `<t>` to the first
//! `<t id="x">` in the document).
//!
//! A CIB as the cluster writes it is plain XML: elements, attributes,
//! whitespace. [`Tree::parse`] reads exactly that, in one pass over the
//! bytes, keeping only elements and attributes (borrowed from the input),
//! and refuses everything else: entity or character references, comments,
//! CDATA, processing instructions, a DTD, namespaces, non-ASCII bytes,
//! attribute values with whitespace to normalise, or anything malformed.
//! Such input is parsed by `roxmltree` instead ([`Tree::from_roxmltree`]),
//! which also names what is wrong with malformed XML; both give the same
//! tree for what the first accepts. Line numbers are computed only for
//! messages ([`Tree::text_pos_at`]).

use std::collections::HashMap;

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

/// A parsed document: its elements in document order, after a document
/// node (index 0) that holds the root element.
pub(crate) struct Tree<'s> {
    text: &'s str,
    elements: Vec<Element<'s>>,
    attributes: Vec<Attribute<'s>>,
}

/// One element of a [`Tree`].
struct Element<'s> {
    /// The local name (`roxmltree`'s `tag_name().name()`).
    name: &'s str,
    /// Byte offset of its `<` in the input.
    start: usize,
    /// Its attributes in [`Tree::attributes`].
    attributes: std::ops::Range<u32>,
    /// First child element (0: none; the document node is nobody's child).
    first_child: u32,
    /// Next sibling element (0: none).
    next_sibling: u32,
    /// One past its last descendant, in document order.
    end: u32,
}

/// An attribute: local name and value.
#[derive(Clone, Copy)]
pub(crate) struct Attribute<'s> {
    name: &'s str,
    value: &'s str,
    /// In a namespace (`p:name`): `Node::attribute` looks such an
    /// attribute up only by its namespace, as roxmltree does.
    namespaced: bool,
}

impl<'s> Attribute<'s> {
    /// The local name.
    pub(crate) fn name(&self) -> &'s str {
        self.name
    }

    /// The value (references resolved, whitespace normalised).
    pub(crate) fn value(&self) -> &'s str {
        self.value
    }
}

/// A line in the input (`roxmltree::TextPos`'s row).
pub(crate) struct TextPos {
    /// 1-based.
    pub row: u32,
}

/// A node of a [`Tree`]: the document node or an element.
#[derive(Clone, Copy)]
pub(crate) struct Node<'a, 's> {
    tree: &'a Tree<'s>,
    index: u32,
}

impl PartialEq for Node<'_, '_> {
    fn eq(&self, other: &Self) -> bool {
        self.index == other.index && std::ptr::eq(self.tree, other.tree)
    }
}

impl Eq for Node<'_, '_> {}

impl std::fmt::Debug for Node<'_, '_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "<{}> at byte {}",
            self.element().name,
            self.element().start
        )
    }
}

/// An element's name, as `roxmltree::ExpandedName` gives it.
pub(crate) struct TagName<'a>(&'a str);

impl<'a> TagName<'a> {
    /// The local name.
    pub(crate) fn name(&self) -> &'a str {
        self.0
    }
}

impl<'a, 's: 'a> Node<'a, 's> {
    fn element(&self) -> &'a Element<'s> {
        &self.tree.elements[self.index as usize]
    }

    /// Whether this is an element (not the document node).
    pub(crate) fn is_element(&self) -> bool {
        self.index != 0
    }

    /// The element's name.
    pub(crate) fn tag_name(&self) -> TagName<'a> {
        TagName(self.element().name)
    }

    /// Where the element starts in the input (its `<`).
    pub(crate) fn range(&self) -> std::ops::Range<usize> {
        let start = self.element().start;
        start..start
    }

    /// The value of the attribute `name` (outside any namespace).
    pub(crate) fn attribute(&self, name: &str) -> Option<&'a str> {
        // Names are short: compared inline rather than through `memcmp`.
        let wanted = name.as_bytes();
        self.attributes_slice()
            .iter()
            .find(|a| {
                let have = a.name.as_bytes();
                have.len() == wanted.len()
                    && have.iter().zip(wanted).all(|(x, y)| x == y)
                    && !a.namespaced
            })
            .map(|a| a.value)
    }

    /// The attributes, in document order.
    pub(crate) fn attributes(&self) -> impl Iterator<Item = Attribute<'a>> + 'a {
        self.attributes_slice().iter().copied()
    }

    fn attributes_slice(&self) -> &'a [Attribute<'s>] {
        let r = &self.element().attributes;
        &self.tree.attributes[r.start as usize..r.end as usize]
    }

    /// The child elements, in order.
    pub(crate) fn children(&self) -> impl Iterator<Item = Node<'a, 's>> + 'a {
        let tree = self.tree;
        let mut next = self.element().first_child;
        std::iter::from_fn(move || {
            if next == 0 {
                return None;
            }
            let node = Node { tree, index: next };
            next = tree.elements[next as usize].next_sibling;
            Some(node)
        })
    }

    /// How many nodes [`Node::descendants`] visits.
    pub(crate) fn descendant_count(&self) -> usize {
        (self.element().end - self.index) as usize
    }

    /// This node and every element inside it, in document order.
    pub(crate) fn descendants(&self) -> impl Iterator<Item = Node<'a, 's>> + 'a {
        let tree = self.tree;
        (self.index..self.element().end).map(move |index| Node { tree, index })
    }
}

impl<'s> Tree<'s> {
    /// The document node.
    pub(crate) fn root(&self) -> Node<'_, 's> {
        Node {
            tree: self,
            index: 0,
        }
    }

    /// The root element (every tree has one).
    pub(crate) fn root_element(&self) -> Node<'_, 's> {
        Node {
            tree: self,
            index: self.elements[0].first_child,
        }
    }

    /// The line of a byte offset, as `roxmltree::Document::text_pos_at`
    /// counts it.
    pub(crate) fn text_pos_at(&self, pos: usize) -> TextPos {
        let end = pos.min(self.text.len());
        let newlines = self.text.as_bytes()[..end]
            .iter()
            .filter(|&&c| c == b'\n')
            .count();
        TextPos {
            row: u32::try_from(newlines + 1).unwrap_or(u32::MAX),
        }
    }

    /// The same tree from a document roxmltree parsed.
    pub(crate) fn from_roxmltree(doc: &'s roxmltree::Document<'_>) -> Tree<'s> {
        let mut tree = Tree {
            text: doc.input_text(),
            elements: Vec::new(),
            attributes: Vec::new(),
        };
        tree.elements.push(Element {
            name: "",
            start: 0,
            attributes: 0..0,
            first_child: 0,
            next_sibling: 0,
            end: 0,
        });
        // (element index, its last child so far), open elements only.
        let mut open: Vec<(u32, u32, roxmltree::Node<'s, '_>)> = vec![(0, 0, doc.root())];
        for n in doc.root().descendants().filter(|n| n.is_element()) {
            while let Some(&(index, _, node)) = open.last() {
                if n.parent() == Some(node) {
                    break;
                }
                tree.elements[index as usize].end = tree.len();
                open.pop();
            }
            let first = tree.attributes.len() as u32;
            tree.attributes.extend(n.attributes().map(|a| Attribute {
                name: a.name(),
                value: a.value(),
                namespaced: a.namespace().is_some(),
            }));
            let index = tree.len();
            tree.elements.push(Element {
                name: n.tag_name().name(),
                start: n.range().start,
                attributes: first..tree.attributes.len() as u32,
                first_child: 0,
                next_sibling: 0,
                end: 0,
            });
            tree.link(&mut open, index);
            open.push((index, 0, n));
        }
        while let Some((index, _, _)) = open.pop() {
            tree.elements[index as usize].end = tree.len();
        }
        tree
    }

    /// The plain-XML reading described at the top of this module; None
    /// for anything else (roxmltree then parses it).
    pub(crate) fn parse(text: &'s str) -> Option<Tree<'s>> {
        let b = text.as_bytes();
        // Offsets and counts are u32s below: no more nodes or attributes
        // than bytes.
        if u32::try_from(b.len()).is_err() {
            return None;
        }
        // A CIB has an element per 60 bytes or so and an attribute per 25:
        // room for twice that is reserved (pages never written cost
        // nothing), so the lists are seldom copied to grow.
        let mut tree = Tree {
            text,
            elements: Vec::with_capacity(b.len() / 32 + 2),
            attributes: Vec::with_capacity(b.len() / 12 + 2),
        };
        tree.elements.push(Element {
            name: "",
            start: 0,
            attributes: 0..0,
            first_child: 0,
            next_sibling: 0,
            end: 0,
        });
        let mut open: Vec<(u32, u32, ())> = vec![(0, 0, ())];
        let mut rooted = false;
        let mut i = 0;
        loop {
            // Character data up to the next tag: whitespace outside the
            // root; inside, text without references, control or non-ASCII
            // bytes, `]` or `>` (nothing the reader reads).
            let outside = open.len() == 1;
            while let Some(&c) = b.get(i) {
                if c == b'<' {
                    break;
                }
                let class = CLASS[usize::from(c)];
                if class & SPACE == 0 && (outside || class & TEXT == 0) {
                    return None;
                }
                i += 1;
            }
            if i >= b.len() {
                break;
            }
            let start = i;
            i += 1;
            match b.get(i) {
                Some(b'/') => {
                    let (index, _, ()) = *open.last()?;
                    if index == 0 {
                        return None;
                    }
                    let (name, after) = name_at(b, i + 1)?;
                    i = skip_space(b, after);
                    if b.get(i) != Some(&b'>')
                        || name != tree.elements[index as usize].name.as_bytes()
                    {
                        return None;
                    }
                    i += 1;
                    tree.elements[index as usize].end = tree.len();
                    open.pop();
                }
                Some(b'!' | b'?') | None => return None,
                Some(_) => {
                    if outside && rooted {
                        return None;
                    }
                    let (_, after) = name_at(b, i)?;
                    let name = &text[i..after];
                    i = after;
                    let first = tree.attributes.len();
                    let closed = loop {
                        let spaced = skip_space(b, i);
                        let had_space = spaced > i;
                        i = spaced;
                        match b.get(i) {
                            Some(b'>') => {
                                i += 1;
                                break false;
                            }
                            Some(b'/') if b.get(i + 1) == Some(&b'>') => {
                                i += 2;
                                break true;
                            }
                            _ if !had_space => return None,
                            _ => {}
                        }
                        let (_, after) = name_at(b, i)?;
                        let attribute = &text[i..after];
                        if attribute == "xmlns"
                            || tree.attributes[first..].iter().any(|a| a.name == attribute)
                        {
                            return None;
                        }
                        i = skip_space(b, after);
                        if b.get(i) != Some(&b'=') {
                            return None;
                        }
                        i = skip_space(b, i + 1);
                        let quote = match b.get(i) {
                            Some(&q @ (b'"' | b'\'')) => q,
                            _ => return None,
                        };
                        let value_start = i + 1;
                        i = value_start;
                        loop {
                            let c = *b.get(i)?;
                            if c == quote {
                                break;
                            }
                            if CLASS[usize::from(c)] & VALUE == 0 {
                                return None;
                            }
                            i += 1;
                        }
                        tree.attributes.push(Attribute {
                            name: attribute,
                            value: &text[value_start..i],
                            namespaced: false,
                        });
                        i += 1;
                    };
                    let index = tree.len();
                    tree.elements.push(Element {
                        name,
                        start,
                        attributes: first as u32..tree.attributes.len() as u32,
                        first_child: 0,
                        next_sibling: 0,
                        end: index + 1,
                    });
                    tree.link(&mut open, index);
                    rooted = true;
                    if !closed {
                        if open.len() > MAX_DEPTH {
                            return None;
                        }
                        open.push((index, 0, ()));
                    }
                }
            }
        }
        // One root element, closed.
        if open.len() != 1 || !rooted {
            return None;
        }
        tree.elements[0].end = tree.len();
        Some(tree)
    }

    /// The number of nodes so far (the next index).
    fn len(&self) -> u32 {
        // Both readers keep fewer nodes than u32 counts: the direct one
        // reads less than 4 GiB, roxmltree's node ids are u32s.
        self.elements.len() as u32
    }

    /// Links a new element `index` under the innermost open one.
    fn link<T>(&mut self, open: &mut [(u32, u32, T)], index: u32) {
        if let Some((parent, last, _)) = open.last_mut() {
            if *last == 0 {
                self.elements[*parent as usize].first_child = index;
            } else {
                self.elements[*last as usize].next_sibling = index;
            }
            *last = index;
        }
    }
}

/// An ASCII XML name at `at` (a letter or `_`, then letters, digits, `_`,
/// `-`, `.`) followed by whitespace, `/`, `>` or `=`: (the name, where it
/// ends). None for anything else (a prefix's `:` included).
fn name_at(b: &[u8], at: usize) -> Option<(&[u8], usize)> {
    let first = *b.get(at)?;
    if CLASS[usize::from(first)] & NAME_START == 0 {
        return None;
    }
    let mut end = at + 1;
    while let Some(&c) = b.get(end) {
        let class = CLASS[usize::from(c)];
        if class & NAME != 0 {
            end += 1;
        } else if class & NAME_END != 0 {
            return Some((&b[at..end], end));
        } else {
            return None;
        }
    }
    None
}

/// The first offset at or after `at` that is not XML whitespace.
fn skip_space(b: &[u8], mut at: usize) -> usize {
    while b
        .get(at)
        .is_some_and(|&c| CLASS[usize::from(c)] & SPACE != 0)
    {
        at += 1;
    }
    at
}

/// What each byte may be in [`Tree::parse`]'s XML: bits of [`CLASS`].
/// A letter or `_`.
const NAME_START: u8 = 1;
/// A letter, digit, `_`, `-` or `.`.
const NAME: u8 = 2;
/// Whitespace, `/`, `>` or `=`: ends a name.
const NAME_END: u8 = 4;
/// Space, tab, newline, carriage return.
const SPACE: u8 = 8;
/// Printable ASCII but `<` and `&`: in an attribute value.
const VALUE: u8 = 16;
/// Printable ASCII but `<`, `&`, `]` and `>`: in character data.
const TEXT: u8 = 32;

/// The class bits of every byte.
static CLASS: [u8; 256] = classes();

const fn classes() -> [u8; 256] {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        // i < 256: a byte.
        let c = i as u8;
        let mut class = 0;
        if c.is_ascii_alphabetic() || c == b'_' {
            class |= NAME_START | NAME;
        }
        if c.is_ascii_digit() || c == b'-' || c == b'.' {
            class |= NAME;
        }
        if matches!(c, b' ' | b'\n' | b'\t' | b'\r') {
            class |= SPACE | NAME_END;
        }
        if matches!(c, b'/' | b'>' | b'=') {
            class |= NAME_END;
        }
        let printable = c >= 0x20 && c <= 0x7e;
        if printable && c != b'<' && c != b'&' {
            class |= VALUE;
        }
        if printable && !matches!(c, b'<' | b'&' | b']' | b'>') {
            class |= TEXT;
        }
        table[i] = class;
        i += 1;
    }
    table
}

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

/// Elements indexed by (tag, id), first occurrence in document order;
/// built when first asked (only `id-ref`s, and constraints naming
/// something that is not a resource, need it).
pub(crate) struct IdIndex<'a, 'i> {
    doc: &'a Tree<'i>,
    /// The configuration section, indexed on the first lookup.
    section: Option<XNode<'a, 'i>>,
    configuration: Option<ById<'a, 'i>>,
    /// Built on the first miss: the whole document (status included), as
    /// Pacemaker's `//tag[@id='x']` search covers it.
    everything: Option<ById<'a, 'i>>,
}

impl<'a, 'i> IdIndex<'a, 'i> {
    /// An index of every element with an `id` under `configuration`.
    pub(crate) fn new(doc: &'a Tree<'i>, configuration: Option<XNode<'a, 'i>>) -> Self {
        IdIndex {
            doc,
            section: configuration,
            configuration: None,
            everything: None,
        }
    }

    fn configuration(&mut self) -> &ById<'a, 'i> {
        let section = self.section;
        self.configuration.get_or_insert_with(|| {
            let mut map = ById::default();
            if let Some(conf) = section {
                // Nearly every element of a configuration has an id.
                map.first.reserve(conf.descendant_count());
                map.entries.reserve(conf.descendant_count());
                index_into(conf, &mut map);
            }
            map
        })
    }

    /// The tag of an element of the configuration with this `id`, if any
    /// (what a schema `IDREF` may point at: the status has no ids).
    pub(crate) fn configuration_tag(&mut self, id: &str) -> Option<&'a str> {
        let configuration = self.configuration();
        let first = *configuration.first.get(id)?;
        configuration.entries.get(first).map(|e| e.tag)
    }

    /// The first `<tag id="id">` in the document.
    pub(crate) fn find(&mut self, tag: &str, id: &str) -> Option<XNode<'a, 'i>> {
        if let Some(n) = lookup(self.configuration(), tag, id) {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Everything the reader can see of a tree.
    fn shape(tree: &Tree<'_>) -> Vec<String> {
        tree.root()
            .descendants()
            .map(|n| {
                let attributes: Vec<String> = n
                    .attributes()
                    .map(|a| {
                        format!(
                            "{}{}={:?}",
                            if a.namespaced { "ns:" } else { "" },
                            a.name,
                            a.value
                        )
                    })
                    .collect();
                let children: Vec<u32> = n.children().map(|c| c.index).collect();
                let e = n.element();
                format!(
                    "{} {} @{} [{}] children {:?} end {}",
                    n.index,
                    e.name,
                    e.start,
                    attributes.join(" "),
                    children,
                    e.end
                )
            })
            .collect()
    }

    fn roxmltree_shape(text: &str) -> Option<Vec<String>> {
        let doc = roxmltree::Document::parse(text).ok()?;
        Some(shape(&Tree::from_roxmltree(&doc)))
    }

    #[test]
    fn plain_xml_reads_as_roxmltree_reads_it() {
        for text in [
            "<cib/>",
            "<cib></cib>",
            "\n  <cib a='1' b=\"x'y\" c = \"p>q\"  >\n <x/><y id=\"1\"><z/></y>text<w\n/></cib >\n\n",
            "<a><b><c/><d></d></b><e x=\"\"/></a>",
            "<A_b.c-d x-y.z_='v'/>",
        ] {
            let fast = Tree::parse(text).map(|t| shape(&t));
            assert!(fast.is_some(), "{text:?} is plain XML");
            assert_eq!(fast, roxmltree_shape(text), "{text:?}");
            let tree = Tree::parse(text).expect("plain");
            assert_eq!(tree.root_element().index, 1);
            assert!(!tree.root().is_element() && tree.root_element().is_element());
        }
        // The repository's bad-input CIBs: the same tree whenever both read
        // one.
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad-input");
        let mut compared = 0;
        for entry in std::fs::read_dir(&dir).expect("crm/tests/bad-input is in the repository") {
            let path = entry.expect("a directory entry").path();
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            if let Some(tree) = Tree::parse(&text) {
                assert_eq!(
                    Some(shape(&tree)),
                    roxmltree_shape(&text),
                    "{}",
                    path.display()
                );
                compared += 1;
            }
        }
        assert!(
            compared > 10,
            "only {compared} bad-input files were plain XML"
        );
    }

    #[test]
    fn anything_else_is_left_to_roxmltree() {
        for text in [
            "",
            "   ",
            "<a>",
            "<a></b>",
            "</a>",
            "<a/><b/>",
            "text<a/>",
            "<a/>text",
            "<?xml version=\"1.0\"?><a/>",
            "<!DOCTYPE a><a/>",
            "<a><!-- c --></a>",
            "<a><![CDATA[x]]></a>",
            "<a>&amp;</a>",
            "<a x=\"&amp;\"/>",
            "<a x=\"1\ty\"/>",
            "<a x=\"1\ny\"/>",
            "<a x=\"<\"/>",
            "<a x=\"1\"y=\"2\"/>",
            "<a x=\"1\" x=\"2\"/>",
            "<a x=1/>",
            "<a x/>",
            "<a x=\"1/>",
            "<p:a xmlns:p=\"u\"/>",
            "<a xmlns=\"u\"/>",
            "<a p:x=\"1\"/>",
            "<1a/>",
            "<a\u{e9}/>",
            "<a x=\"\u{e9}\"/>",
            "<a>\u{e9}</a>",
            "<a>\u{1}</a>",
            "<a>]]></a>",
            "< a/>",
            "</ a>",
            "<a></ a>",
            "<a/ >",
        ] {
            assert!(
                Tree::parse(text).is_none(),
                "{text:?} is not for the direct reading"
            );
        }
        let deep = format!(
            "{}{}",
            "<a>".repeat(MAX_DEPTH + 1),
            "</a>".repeat(MAX_DEPTH + 1)
        );
        assert!(Tree::parse(&deep).is_none());
        let ok = format!("{}{}", "<a>".repeat(MAX_DEPTH), "</a>".repeat(MAX_DEPTH));
        assert!(Tree::parse(&ok).is_some());
    }

    #[test]
    fn namespaced_attributes_are_found_only_by_namespace() {
        let doc = roxmltree::Document::parse("<a xmlns:p=\"u\" p:id=\"x\" n=\"y\"/>").expect("XML");
        let tree = Tree::from_roxmltree(&doc);
        let a = tree.root_element();
        assert_eq!(a.attribute("id"), None);
        assert_eq!(a.attribute("n"), Some("y"));
        let names: Vec<&str> = a.attributes().map(|a| a.name()).collect();
        assert_eq!(names, ["id", "n"]);
    }

    #[test]
    fn lines_count_newlines_before_the_offset() {
        let tree = Tree::parse("<a>\n<b/>\r\n<c/></a>").expect("plain");
        let rows: Vec<u32> = tree
            .root()
            .descendants()
            .skip(1)
            .map(|n| tree.text_pos_at(n.range().start).row)
            .collect();
        assert_eq!(rows, [1, 2, 3]);
        assert_eq!(tree.text_pos_at(usize::MAX).row, 3);
    }
}
