//! Bad input, with Pacemaker 2.1.5's `crm_simulate` as the oracle: order
//! constraints that loop, constraints that cannot be satisfied, references
//! to nothing, malformed XML. Each case is `tests/bad-input/T.xml`, with
//! what crm_simulate printed for it beside it: `T.summary` (stdout) and
//! `T.stderr` (when not empty). They were made on Debian 12
//! (pacemaker-cli-utils 2.1.5) with:
//!
//! ```text
//! cd crm/tests/bad-input
//! for f in *.xml; do n=${f%.xml}
//!   LC_ALL=C crm_simulate -x $f -S >$n.summary 2>$n.stderr
//!   [ -s $n.stderr ] || rm $n.stderr; [ -s $n.summary ] || rm $n.summary
//! done
//! ```
//!
//! What Pacemaker does, and what ironbeat does:
//!
//! * **Orders that loop** (`A then B` and `B then A`, three in a ring, loops
//!   closed by the inverse order a symmetrical constraint implies): the
//!   scheduler plans the actions, crm_verify finds nothing wrong, and the
//!   transition cannot complete: `Transition failed: terminated`, the
//!   actions on the loop (and after it) never run, crm_simulate exits 1.
//!   ironbeat plans the same, marks those actions
//!   [`Transition::never_run`](ironbeat_crm::transition::Transition), shows
//!   the same revised status, and the reader warns about the loop naming
//!   its constraints.
//! * **Constraints that cannot be satisfied** (colocated with a resource on
//!   a node it is banned from, +INFINITY to an offline node, a colocation
//!   chain that contradicts itself): what can run runs, the rest stays
//!   stopped, as crm_simulate shows.
//! * **A constraint naming no element** (`rsc="ghost"`): Pacemaker's schema
//!   rejects the whole CIB (crm_simulate exits 78, naming FILE:LINE); the
//!   reader returns an error with the constraint's line. **A constraint
//!   naming an element that is not a resource**: Pacemaker ignores it with
//!   a configuration error; the reader ignores it with a warning naming it.
//! * **Malformed XML**: libxml2's recovering parser lets crm_simulate guess
//!   (and fail validation, or run a repaired document); the reader refuses
//!   it with the line of the fault.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ironbeat_crm::cib::{self, ErrorKind};
use ironbeat_crm::model::{
    Cluster, Meta, Node, Order, OrderKind, Primitive, Resource, ResourceId, ResourceKind, Task,
};
use ironbeat_crm::{policy, simulate};

/// "Now" for scheduling: these CIBs record no failures, so any will do.
const NOW: i64 = 1_800_000_000;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad-input")
}

fn input(name: &str) -> String {
    let path = dir().join(format!("{name}.xml"));
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// What crm_simulate printed: (stdout, stderr), empty when it printed none.
fn oracle(name: &str) -> (String, String) {
    let read =
        |ext: &str| fs::read_to_string(dir().join(format!("{name}.{ext}"))).unwrap_or_default();
    (read("summary"), read("stderr"))
}

/// The lines from `start` up to (not including) `end`.
fn section(text: &str, start: &str, end: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for line in text.lines() {
        if line.starts_with(start) {
            inside = true;
        } else if line.starts_with(end) {
            break;
        }
        if inside {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Lines without whitespace, blank lines dropped (`diff -w -B`).
fn squeeze(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.chars().filter(|c| !c.is_whitespace()).collect::<String>())
        .filter(|l| !l.is_empty())
        .collect()
}

/// Reads and schedules a case, checks the three sections against
/// crm_simulate's, and returns what it read and decided.
fn simulate_like_crm_simulate(name: &str) -> (cib::Document, ironbeat_crm::transition::Transition) {
    let document = cib::read(&input(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
    let cluster = &document.cluster;
    let transition = policy::schedule(cluster, NOW);
    let (stdout, _) = oracle(name);
    for (ours, start, end) in [
        (
            simulate::current_status(cluster),
            "Current cluster status:",
            "Transition Summary:",
        ),
        (
            simulate::transition_summary(cluster, &transition),
            "Transition Summary:",
            "Executing Cluster Transition:",
        ),
        (
            simulate::revised_status(cluster, &transition),
            "Revised Cluster Status:",
            "\u{0}",
        ),
    ] {
        assert_eq!(
            squeeze(&ours),
            squeeze(&section(&stdout, start, end)),
            "{name}: `{start}` differs from crm_simulate's"
        );
    }
    (document, transition)
}

#[test]
fn orders_that_loop_never_run_and_are_named() {
    for (name, constraints) in [
        ("order-cycle-2", &["A-then-B", "B-then-A"][..]),
        ("order-cycle-3", &["A-then-B", "B-then-C", "C-then-A"]),
        ("order-cycle-optional", &["A-then-B", "B-then-A"]),
        ("order-cycle-asymmetrical", &["A-then-B", "B-then-A"]),
        (
            "order-cycle-symmetrical-start",
            &["A-then-B", "A-stop-then-B-stop"],
        ),
        (
            "order-cycle-symmetrical-stop",
            &["A-then-B", "A-stop-then-B-stop"],
        ),
        ("order-cycle-one-running", &["A-then-B", "B-then-A"]),
    ] {
        let (document, transition) = simulate_like_crm_simulate(name);
        // The loop is reported once, by the names of its constraints.
        let loops: Vec<&cib::Warning> = document
            .warnings
            .iter()
            .filter(|w| w.what.contains("loop"))
            .collect();
        assert_eq!(loops.len(), 1, "{name}: {:?}", document.warnings);
        for id in constraints {
            assert!(
                loops[0].what.contains(&format!("`{id}`")),
                "{name}: {id} not named in {}",
                loops[0].what
            );
        }
        // crm_simulate stops: so does the simulated execution.
        assert!(!transition.never_run.is_empty(), "{name}");
        let (_, stderr) = oracle(name);
        assert!(stderr.contains("Transition failed: terminated"), "{name}");
        let executed = simulate::executed_actions(&document.cluster, &transition);
        assert!(
            executed
                .ends_with("Transition failed: terminated\nAn invalid transition was produced\n"),
            "{name}: {executed}"
        );
    }
}

#[test]
fn constraints_that_cannot_hold_leave_resources_stopped() {
    for name in [
        "impossible-colocation",
        "impossible-location-offline",
        "impossible-location-opt-in",
        "impossible-colocation-chain",
        "impossible-colocation-chain-running",
    ] {
        let (document, transition) = simulate_like_crm_simulate(name);
        assert!(transition.never_run.is_empty(), "{name}");
        // A cannot run anywhere in any of them.
        let a = document.cluster.resource_by_name("A").expect("A");
        assert!(
            transition
                .placement
                .iter()
                .filter(|p| p.instance.resource == a)
                .all(|p| p.node.is_none())
                || name == "impossible-location-offline",
            "{name}: A placed"
        );
    }
}

#[test]
fn a_reference_to_nothing_is_an_error_with_its_line() {
    let e = cib::read(&input("dangling-references")).expect_err("a dangling IDREF");
    assert_eq!(e.kind(), ErrorKind::Config);
    assert_eq!(
        (e.element(), e.id()),
        ("rsc_location", Some("loc-missing-rsc"))
    );
    assert!(e.message().contains("rsc=\"ghost\" names nothing"), "{e}");
    // crm_simulate's first complaint is about the same line.
    let (stdout, stderr) = oracle("dangling-references");
    assert!(stdout.is_empty(), "crm_simulate refused the CIB");
    let first = stderr.lines().next().unwrap_or_default();
    assert!(
        first.starts_with(&format!(
            "dangling-references.xml:{}:",
            e.line().unwrap_or(0)
        )),
        "{first} vs {e}"
    );
}

#[test]
fn a_reference_to_something_else_is_ignored_and_named() {
    let (document, _) = simulate_like_crm_simulate("dangling-not-a-resource");
    let named = |id: &str| {
        document
            .warnings
            .iter()
            .find(|w| w.id.as_deref() == Some(id))
            .unwrap_or_else(|| panic!("no warning about {id}: {:?}", document.warnings))
    };
    assert!(named("loc-missing-node")
        .what
        .contains("node=\"node9\" names no node"));
    for id in [
        "loc-not-a-resource",
        "col-not-a-resource",
        "ord-not-a-resource",
    ] {
        let w = named(id);
        assert!(
            w.what
                .contains("\"opt-stonith\" names a <nvpair>, not a resource"),
            "{}",
            w.what
        );
        assert!(w.line.is_some(), "{id}: no line");
    }
}

#[test]
fn malformed_xml_is_an_error_with_its_line() {
    for (name, line, what) in [
        (
            "malformed-truncated",
            14,
            "ends before its elements are closed",
        ),
        ("malformed-attribute", 13, "expected a quote"),
        (
            "malformed-mismatched",
            15,
            "expected 'resources' tag, not 'resource'",
        ),
    ] {
        let e = cib::read(&input(name)).expect_err(name);
        assert_eq!(e.kind(), ErrorKind::Xml, "{name}");
        assert_eq!(e.line(), Some(line), "{name}: {e}");
        assert!(e.message().contains(what), "{name}: {e}");
    }
    // Where crm_simulate names a line, it is the same one.
    let (_, stderr) = oracle("malformed-attribute");
    assert!(
        stderr.starts_with("malformed-attribute.xml:13:"),
        "{stderr}"
    );
}

fn primitive(id: String) -> Resource {
    Resource {
        id,
        parent: None,
        kind: ResourceKind::Primitive(Primitive {
            class: "ocf".into(),
            provider: Some("pacemaker".into()),
            agent: "Dummy".into(),
            ..Primitive::default()
        }),
        meta: Meta::default(),
    }
}

/// `n` resources ordered in a chain, the last back to the first.
fn ring(n: usize) -> Cluster {
    let mut c = Cluster {
        have_quorum: true,
        ..Cluster::default()
    };
    c.options.stonith_enabled = false;
    for name in ["node1", "node2"] {
        c.nodes.push(Node {
            name: name.into(),
            id: name.into(),
            online: true,
            ..Node::default()
        });
    }
    for i in 0..n {
        c.resources.push(primitive(format!("r{i}")));
        c.orders.push(Order {
            id: format!("o{i}"),
            first: ResourceId(i),
            first_action: Task::Start,
            then: ResourceId((i + 1) % n),
            then_action: Task::Start,
            kind: OrderKind::Mandatory,
            symmetrical: true,
            require_all: true,
        });
    }
    c
}

#[test]
fn a_long_loop_is_scheduled_on_a_small_stack_in_bounded_time() {
    // Propagation nests (as Pacemaker's does) only so deep; a ring of
    // thousands of orders must neither exhaust a small stack nor hang.
    let worker = std::thread::Builder::new()
        .stack_size(256 * 1024)
        .spawn(|| {
            let c = ring(5_000);
            let start = Instant::now();
            let t = policy::schedule(&c, NOW);
            (t, start.elapsed())
        })
        .expect("spawning the worker thread");
    let (t, took) = worker.join().expect("scheduling a long loop");
    assert!(took < Duration::from_secs(60), "took {took:?}");
    // Every start waits on the loop: none runs, all are planned.
    let starts = t
        .summary
        .iter()
        .filter(|c| matches!(c, ironbeat_crm::transition::Change::Start { .. }))
        .count();
    assert_eq!(starts, 5_000);
    assert!(t.placement.iter().all(|p| p.node.is_none()));
    assert!(!t.never_run.is_empty());
}
