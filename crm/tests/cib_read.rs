//! The CIB reader against Pacemaker 2.1.5's own scheduler regression
//! inputs (the compact-CRM subset in `scheduler-corpus/`), against hostile
//! input, and at scale.
//!
//! The corpus is found at `$IRONBEAT_SCHEDULER_CORPUS`, else at
//! `<repo>/../shared/scheduler-corpus`. Without it the corpus tests are
//! skipped, except under `CI=true`, where they fail.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ironbeat_crm::cib::{self, ErrorKind};
use ironbeat_crm::model::{ResourceKind, Role};

fn corpus_dir() -> Option<PathBuf> {
    let dir = match std::env::var("IRONBEAT_SCHEDULER_CORPUS") {
        Ok(d) => PathBuf::from(d),
        Err(_) => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/scheduler-corpus"),
    };
    if dir.join("INDEX").is_file() {
        return Some(dir);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!(
            "scheduler corpus not found at {}: set IRONBEAT_SCHEDULER_CORPUS to the directory \
             holding INDEX, SUBSET-core, SUBSET-extended and xml/",
            dir.display()
        );
    }
    eprintln!("scheduler corpus not found at {}; skipping", dir.display());
    None
}

/// (test name, tier, features) from INDEX.
fn index(dir: &Path) -> HashMap<String, (String, Vec<String>)> {
    let text = std::fs::read_to_string(dir.join("INDEX")).expect("read INDEX");
    let mut out = HashMap::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() < 5 {
            continue;
        }
        let features: Vec<String> = cols[3]
            .split(',')
            .chain(cols[4].split(','))
            .map(|f| f.trim().to_string())
            .filter(|f| !f.is_empty() && f != "-")
            .collect();
        out.insert(cols[0].to_string(), (cols[1].to_string(), features));
    }
    out
}

fn subset(dir: &Path, tier: &str) -> Vec<String> {
    std::fs::read_to_string(dir.join(format!("SUBSET-{tier}")))
        .expect("read subset list")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

fn corpus_xml(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join("xml").join(format!("{name}.xml"))).expect("read corpus xml")
}

#[test]
fn every_corpus_cib_reads() {
    let Some(dir) = corpus_dir() else { return };
    let index = index(&dir);
    let mut counts = (0, 0);
    for tier in ["core", "extended"] {
        for name in subset(&dir, tier) {
            let xml = corpus_xml(&dir, &name);
            let doc = cib::read(&xml).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!doc.cluster.nodes.is_empty(), "{name}: no nodes");
            assert!(!doc.cluster.resources.is_empty(), "{name}: no resources");
            let (_, features) = &index[&name];
            for u in &doc.unsupported {
                assert!(
                    tier == "extended" && features.contains(&u.element_or_attribute),
                    "{name} ({tier}) reports {} ({}) which INDEX does not list: {features:?}",
                    u.element_or_attribute,
                    u.what
                );
            }
            if tier == "core" {
                counts.0 += 1;
            } else {
                counts.1 += 1;
            }
        }
    }
    println!("read {} core and {} extended CIBs", counts.0, counts.1);
    assert_eq!(counts, (63, 150));
}

/// Facts checked against `crm_mon` and `crm_simulate` 2.1.5 on the same
/// inputs.
#[test]
fn corpus_states_as_pacemaker_sees_them() {
    let Some(dir) = corpus_dir() else { return };
    let read = |name: &str| cib::read(&corpus_xml(&dir, name)).unwrap();

    // group9: failed probe (rc 1, expected 7) and failed start, both active.
    let doc = read("group9");
    for (id, failed) in [("rsc3", false), ("rsc4", true), ("rsc7", true)] {
        let r = doc.cluster.resource_by_name(id).unwrap();
        let h = doc
            .cluster
            .history
            .iter()
            .find(|h| h.resource == r)
            .unwrap();
        assert_eq!((h.role, h.failed), (Role::Started, failed), "group9 {id}");
    }

    // rec-node-15: an unclean node is fenced; its resources are thought
    // active there.
    let doc = read("rec-node-15");
    let unclean: Vec<&str> = doc
        .cluster
        .nodes
        .iter()
        .filter(|n| n.unclean)
        .map(|n| n.name.as_str())
        .collect();
    assert_eq!(unclean, vec!["sapcl03"]);

    // failed-probe-primitive: not-installed probes ban the node.
    let doc = read("failed-probe-primitive");
    assert_eq!(doc.cluster.history_bans.len(), 5);

    // coloc-list: feature set before 3.0.13 counts fail-count-<rsc>.
    let doc = read("coloc-list");
    let rsc2 = doc.cluster.resource_by_name("rsc2").unwrap();
    let counted = doc
        .cluster
        .history
        .iter()
        .filter(|h| h.resource == rsc2 && h.fail_count == 1)
        .count();
    assert_eq!(counted, 2);

    // ocf_degraded_promoted-remap-ocf_ok: 191 is "promoted, degraded".
    let doc = read("ocf_degraded_promoted-remap-ocf_ok");
    let state = doc.cluster.resource_by_name("state").unwrap();
    let promoted = doc
        .cluster
        .history
        .iter()
        .filter(|h| h.resource == state && h.role == Role::Promoted && !h.failed)
        .count();
    assert_eq!(promoted, 1);

    // nvpair-id-ref: parameters through id-ref.
    let doc = read("nvpair-id-ref");
    let r = doc
        .cluster
        .resource(doc.cluster.resource_by_name("rsc2").unwrap());
    let ResourceKind::Primitive(p) = &r.kind else {
        panic!()
    };
    assert_eq!(
        p.parameters.get("fake_fake").map(String::as_str),
        Some("common-value")
    );

    // base-score: node scores.
    let doc = read("base-score");
    let scores: Vec<i32> = doc.cluster.nodes.iter().map(|n| n.score.value()).collect();
    assert_eq!(scores, vec![100, 0, -2000, 0]);
}

#[test]
fn fuzz_seeds_read() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/seeds/cib");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).expect("fuzz/seeds/cib") {
        let path = entry.expect("seed").path();
        if path.extension().is_some_and(|e| e == "xml") {
            let xml = std::fs::read_to_string(&path).expect("read seed");
            let doc = cib::read(&xml).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(!doc.cluster.resources.is_empty());
            count += 1;
        }
    }
    assert!(count >= 2, "{count} seeds");
}

// ---- hostile input ----

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// Reading must end in a document or an error, never a panic.
fn survives(xml: &str) {
    match cib::read(xml) {
        Ok(doc) => {
            // The model's references are in range.
            let (n, r) = (doc.cluster.nodes.len(), doc.cluster.resources.len());
            for h in &doc.cluster.history {
                assert!(h.node.0 < n && h.resource.0 < r);
            }
            for l in &doc.cluster.locations {
                assert!(l.resource.0 < r && l.scores.iter().all(|(x, _)| x.0 < n));
            }
            for c in &doc.cluster.colocations {
                assert!(c.dependent.0 < r && c.primary.0 < r);
            }
            for o in &doc.cluster.orders {
                assert!(o.first.0 < r && o.then.0 < r);
            }
        }
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}

fn sample_names(dir: &Path) -> Vec<String> {
    let mut names = subset(dir, "core");
    names.extend(subset(dir, "extended"));
    names
}

#[test]
fn truncated_corpus_files_never_panic() {
    let Some(dir) = corpus_dir() else { return };
    for name in sample_names(&dir).iter().step_by(7) {
        let xml = corpus_xml(&dir, name);
        let step = (xml.len() / 150).max(1);
        for cut in (0..xml.len()).step_by(step) {
            survives(&xml[..cut]);
        }
    }
}

const SNIPPETS: &[&str] = &[
    "<rule id=\"r\" score=\"5\"><expression id=\"e\" attribute=\"#uname\" operation=\"eq\" value=\"x\"/></rule>",
    "<nvpair id-ref=\"nothing\"/>",
    "<meta_attributes id-ref=\"x\"/>",
    " score=\"-INFINITY\"",
    " interval=\"P\"",
    " rc-code=\"191\"",
    " op-status=\"99\"",
    " call-id=\"-1\"",
    " on-fail=\"fence\"",
    " role=\"Master\"",
    "<lrm_rsc_op id=\"x\" operation=\"stop\" rc-code=\"1\" op-status=\"0\" call-id=\"9\" transition-key=\"1:1:0:u\"/>",
    "<clone id=\"c\"><primitive id=\"p\" class=\"ocf\" provider=\"x\" type=\"y\"/></clone>",
    "<rsc_location id=\"l\" rsc-pattern=\"(a|b)*c{2,}\" node=\"node1\" score=\"1\"/>",
    "<rsc_order id=\"o\" first=\"a\" then=\"a\"/>",
    "&amp;", "&lt;", "]]>", "<!-- c -->", "<![CDATA[x]]>",
];

#[test]
fn mutated_corpus_files_never_panic() {
    let Some(dir) = corpus_dir() else { return };
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for name in sample_names(&dir).iter().step_by(3) {
        let xml = corpus_xml(&dir, name);
        for _ in 0..60 {
            let mut text = xml.clone();
            for _ in 0..1 + rng.below(4) {
                let at = rng.below(text.len());
                let at = (0..=at)
                    .rev()
                    .find(|i| text.is_char_boundary(*i))
                    .unwrap_or(0);
                match rng.below(5) {
                    0 => {
                        let end = (at + 1 + rng.below(40)).min(text.len());
                        let end = (end..=text.len())
                            .find(|i| text.is_char_boundary(*i))
                            .unwrap_or(text.len());
                        text.replace_range(at..end, "");
                    }
                    1 => text.insert_str(at, rng.pick(SNIPPETS)),
                    2 => {
                        let end = (at + rng.below(200)).min(text.len());
                        let end = (end..=text.len())
                            .find(|i| text.is_char_boundary(*i))
                            .unwrap_or(text.len());
                        let copy = text[at..end].to_string();
                        text.insert_str(at, &copy);
                    }
                    3 => {
                        let c = (b' ' + rng.below(95) as u8) as char;
                        let end = (at + 1..=text.len())
                            .find(|i| text.is_char_boundary(*i))
                            .unwrap_or(text.len());
                        text.replace_range(at..end, &c.to_string());
                    }
                    _ => {
                        // Swap a number for another.
                        let digits = [
                            "0",
                            "7",
                            "8",
                            "-1",
                            "190",
                            "4294967296",
                            "99999999999999999999",
                        ];
                        text.insert_str(at, rng.pick(&digits));
                    }
                }
            }
            survives(&text);
        }
    }
}

const ELEMENTS: &[&str] = &[
    "configuration",
    "status",
    "crm_config",
    "cluster_property_set",
    "nvpair",
    "nodes",
    "node",
    "resources",
    "primitive",
    "group",
    "clone",
    "master",
    "bundle",
    "template",
    "operations",
    "op",
    "meta_attributes",
    "instance_attributes",
    "utilization",
    "constraints",
    "rsc_location",
    "rsc_colocation",
    "rsc_order",
    "rsc_ticket",
    "resource_set",
    "resource_ref",
    "rule",
    "expression",
    "date_expression",
    "rsc_defaults",
    "op_defaults",
    "node_state",
    "transient_attributes",
    "lrm",
    "lrm_resources",
    "lrm_resource",
    "lrm_rsc_op",
    "tags",
    "fencing-topology",
    "lifetime",
];

const ATTRIBUTES: &[&str] = &[
    "id",
    "id-ref",
    "uname",
    "name",
    "value",
    "class",
    "provider",
    "type",
    "interval",
    "role",
    "on-fail",
    "score",
    "rsc",
    "with-rsc",
    "first",
    "then",
    "node",
    "kind",
    "symmetrical",
    "first-action",
    "then-action",
    "rsc-role",
    "with-rsc-role",
    "boolean-op",
    "attribute",
    "operation",
    "rc-code",
    "op-status",
    "call-id",
    "transition-key",
    "in_ccm",
    "crmd",
    "join",
    "expected",
    "operation_key",
    "rsc-pattern",
    "enabled",
    "timeout",
    "influence",
    "resource-discovery",
    "template",
    "require-all",
    "last-rc-change",
];

const VALUES: &[&str] = &[
    "a",
    "b",
    "node1",
    "node2",
    "r1",
    "INFINITY",
    "-INFINITY",
    "0",
    "7",
    "1",
    "-1",
    "10s",
    "P1D",
    "PT",
    "Master",
    "Slave",
    "Promoted",
    "start",
    "stop",
    "monitor",
    "promote",
    "demote",
    "true",
    "false",
    "member",
    "online",
    "#uname",
    "eq",
    "or",
    "ocf",
    "stonith",
    "pacemaker",
    "Dummy",
    "1:2:0:u",
    "3:4:7:x",
    "",
    "((",
    "^a.*$",
    "Mandatory",
    "Serialize",
    "block",
    "fence",
];

fn random_element(rng: &mut Rng, depth: usize, out: &mut String) {
    let tag = rng.pick(ELEMENTS);
    out.push('<');
    out.push_str(tag);
    for _ in 0..rng.below(5) {
        out.push_str(&format!(
            " {}=\"{}\"",
            rng.pick(ATTRIBUTES),
            rng.pick(VALUES)
        ));
    }
    if depth == 0 || rng.below(3) == 0 {
        out.push_str("/>");
        return;
    }
    out.push('>');
    for _ in 0..rng.below(5) {
        random_element(rng, depth - 1, out);
    }
    out.push_str(&format!("</{tag}>"));
}

#[test]
fn random_cibs_never_panic() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    for _ in 0..3000 {
        let mut text = String::from("<cib have-quorum=\"1\"><configuration>");
        for _ in 0..rng.below(6) {
            random_element(&mut rng, 5, &mut text);
        }
        text.push_str("</configuration><status>");
        for _ in 0..rng.below(3) {
            random_element(&mut rng, 5, &mut text);
        }
        text.push_str("</status></cib>");
        // Also with duplicate ids (attribute order may repeat an id).
        survives(&text);
    }
}

#[test]
fn deep_nesting_never_panics() {
    let depth = 100_000;
    let deep = format!(
        "<cib><configuration><resources>{}{}</resources></configuration></cib>",
        "<group id=\"g\">".repeat(depth),
        "</group>".repeat(depth)
    );
    let e = cib::read(&deep).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Xml);
    assert!(e.message().contains("nested"), "{e}");
    let rules = format!(
        "<cib><configuration><nodes><node id=\"n\" uname=\"n\"/></nodes><resources>\
         <primitive id=\"r\" class=\"ocf\" provider=\"p\" type=\"t\"/></resources><constraints>\
         <rsc_location id=\"l\" rsc=\"r\"><rule id=\"r0\" score=\"1\">{}{}</rule></rsc_location>\
         </constraints></configuration></cib>",
        (1..200)
            .map(|i| format!("<rule id=\"r{i}\">"))
            .collect::<String>(),
        "</rule>".repeat(199)
    );
    let doc = cib::read(&rules).expect("deep rules are reported, not errors");
    assert!(doc.cluster.locations.is_empty());
    assert!(!doc.unsupported.is_empty());
    let unknown = format!(
        "<cib><configuration>{}{}</configuration></cib>",
        "<x>".repeat(depth),
        "</x>".repeat(depth)
    );
    survives(&unknown);
}

#[test]
fn huge_attribute_values() {
    let big = "x".repeat(8 << 20);
    let xml = format!(
        "<cib><configuration><nodes><node id=\"{big}\" uname=\"{big}\"/></nodes><resources>\
         <primitive id=\"r\" class=\"ocf\" provider=\"p\" type=\"t\"><instance_attributes id=\"i\">\
         <nvpair id=\"v\" name=\"v\" value=\"{big}\"/></instance_attributes></primitive></resources>\
         <constraints><rsc_location id=\"l\" rsc=\"r\" node=\"{big}\" score=\"{big}\"/></constraints>\
         </configuration></cib>"
    );
    let e = cib::read(&xml).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Config);
    let pattern = format!(
        "<cib><configuration><resources><primitive id=\"r\" class=\"ocf\" provider=\"p\" type=\"t\"/>\
         </resources><constraints><rsc_location id=\"l\" rsc-pattern=\"{}\" node=\"n\" score=\"1\"/>\
         </constraints></configuration></cib>",
        "(a*)*".repeat(100_000)
    );
    survives(&pattern);
}

#[test]
fn a_megabyte_of_nodes() {
    let mut xml = String::from("<cib><configuration><nodes>");
    let mut count = 0;
    while xml.len() < 1 << 20 {
        xml.push_str(&format!("<node id=\"{count}\" uname=\"node-{count}\"/>"));
        count += 1;
    }
    xml.push_str(
        "</nodes><resources><clone id=\"c\"><primitive id=\"p\" class=\"ocf\" provider=\"x\" \
         type=\"y\"/></clone></resources><constraints><rsc_location id=\"l\" rsc=\"c\">\
         <rule id=\"lr\" score=\"5\" boolean-op=\"or\"><expression id=\"e\" attribute=\"#uname\" \
         operation=\"ne\" value=\"node-1\"/></rule></rsc_location></constraints></configuration></cib>",
    );
    let started = Instant::now();
    let doc = cib::read(&xml).unwrap();
    assert_eq!(doc.cluster.nodes.len(), count);
    assert_eq!(doc.cluster.locations[0].scores.len(), count - 1);
    assert!(started.elapsed() < Duration::from_secs(30));
}

// ---- scale ----

/// A generated CIB: `n` resources (a third in groups of three, one in fifty
/// cloned) over `m` nodes, with location, colocation and order
/// constraints, and each resource started on one node (probe, start,
/// monitor), as a steady cluster records them.
fn generated_cib(n: usize, m: usize) -> String {
    let mut rng = Rng(42);
    let mut xml = String::with_capacity(n * 1500);
    xml.push_str(
        "<cib crm_feature_set=\"3.16.1\" have-quorum=\"1\"><configuration><crm_config>\
         <cluster_property_set id=\"o\"><nvpair id=\"o1\" name=\"stonith-enabled\" value=\"false\"/>\
         </cluster_property_set></crm_config><nodes>",
    );
    for i in 0..m {
        xml.push_str(&format!("<node id=\"{i}\" uname=\"node{i}\"/>"));
    }
    xml.push_str("</nodes><resources>");
    let mut tops = Vec::new();
    let mut placed = Vec::new();
    let mut i = 0;
    while i < n {
        let prim = |id: &str| {
            format!(
                "<primitive id=\"{id}\" class=\"ocf\" provider=\"heartbeat\" type=\"Dummy\">\
                 <operations><op id=\"{id}-m\" name=\"monitor\" interval=\"10s\" timeout=\"20s\"/>\
                 </operations></primitive>"
            )
        };
        if i % 50 == 0 {
            xml.push_str(&format!(
                "<clone id=\"c{i}\">{}</clone>",
                prim(&format!("r{i}"))
            ));
            tops.push(format!("c{i}"));
            i += 1;
        } else if i % 3 == 0 && i + 3 <= n {
            xml.push_str(&format!("<group id=\"g{i}\">"));
            for k in 0..3 {
                xml.push_str(&prim(&format!("r{}", i + k)));
                placed.push(i + k);
            }
            xml.push_str("</group>");
            tops.push(format!("g{i}"));
            i += 3;
        } else {
            xml.push_str(&prim(&format!("r{i}")));
            tops.push(format!("r{i}"));
            placed.push(i);
            i += 1;
        }
    }
    xml.push_str("</resources><constraints>");
    for (k, t) in tops.iter().enumerate() {
        match k % 10 {
            0 | 1 => xml.push_str(&format!(
                "<rsc_location id=\"l{k}\" rsc=\"{t}\" node=\"node{}\" score=\"{}\"/>",
                rng.below(m),
                rng.below(1000) as i64 - 500
            )),
            2 => xml.push_str(&format!(
                "<rsc_location id=\"l{k}\" rsc=\"{t}\"><rule id=\"l{k}r\" score=\"100\">\
                 <expression id=\"l{k}e\" attribute=\"#uname\" operation=\"eq\" value=\"node{}\"/>\
                 </rule></rsc_location>",
                rng.below(m)
            )),
            3 if k > 0 => xml.push_str(&format!(
                "<rsc_colocation id=\"c{k}\" rsc=\"{t}\" with-rsc=\"{}\" score=\"INFINITY\"/>",
                tops[rng.below(k)]
            )),
            4 if k > 0 => xml.push_str(&format!(
                "<rsc_order id=\"o{k}\" first=\"{}\" then=\"{t}\"/>",
                tops[rng.below(k)]
            )),
            _ => {}
        }
    }
    xml.push_str("</constraints></configuration><status>");
    let mut per_node: Vec<Vec<usize>> = vec![Vec::new(); m];
    for &r in &placed {
        per_node[r % m].push(r);
    }
    for (node, resources) in per_node.iter().enumerate() {
        xml.push_str(&format!(
            "<node_state id=\"{node}\" uname=\"node{node}\" in_ccm=\"true\" crmd=\"online\" \
             join=\"member\" expected=\"member\"><lrm id=\"{node}\"><lrm_resources>"
        ));
        for r in resources {
            xml.push_str(&format!(
                "<lrm_resource id=\"r{r}\" class=\"ocf\" provider=\"heartbeat\" type=\"Dummy\">\
                 <lrm_rsc_op id=\"r{r}_last_0\" operation_key=\"r{r}_start_0\" operation=\"start\" \
                 transition-key=\"3:1:0:u\" transition-magic=\"0:0;3:1:0:u\" call-id=\"2\" \
                 rc-code=\"0\" op-status=\"0\" interval=\"0\" last-rc-change=\"1700000000\"/>\
                 <lrm_rsc_op id=\"r{r}_monitor_10000\" operation_key=\"r{r}_monitor_10000\" \
                 operation=\"monitor\" transition-key=\"4:1:0:u\" transition-magic=\"0:0;4:1:0:u\" \
                 call-id=\"3\" rc-code=\"0\" op-status=\"0\" interval=\"10000\" \
                 last-rc-change=\"1700000000\"/></lrm_resource>"
            ));
        }
        xml.push_str("</lrm_resources></lrm></node_state>");
    }
    xml.push_str("</status></cib>");
    xml
}

#[test]
fn ten_thousand_resources_read_in_linear_time() {
    let small = generated_cib(2_500, 32);
    let large = generated_cib(10_000, 32);
    let time = |xml: &str| {
        let started = Instant::now();
        let doc = cib::read(xml).unwrap();
        (started.elapsed(), doc)
    };
    let (t_small, _) = time(&small);
    let (t_large, doc) = time(&large);
    assert!(doc.cluster.resources.len() > 10_000);
    assert!(doc.cluster.history.len() > 9_000);
    assert!(doc.warnings.is_empty(), "{:?}", &doc.warnings[..1]);
    println!(
        "read {} bytes ({} resources) in {:?}; a quarter of it in {:?}",
        large.len(),
        doc.cluster.resources.len(),
        t_large,
        t_small
    );
    // Four times the input may take about four times as long; a quadratic
    // reader would take sixteen.
    assert!(
        t_large < t_small * 10 + Duration::from_millis(50),
        "{t_large:?} vs {t_small:?}"
    );
}
