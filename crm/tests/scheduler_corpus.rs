//! Conformance against Pacemaker 2.1.5's own scheduler regression tests.
//!
//! For every case of the corpus's `SUBSET-core` and `SUBSET-extended`
//! (`$IRONBEAT_SCHEDULER_CORPUS`, else `<repo>/../shared/scheduler-corpus`;
//! its README says how the cases were made), this test reads `xml/T.xml`
//! with [`ironbeat_crm::cib::read`], schedules it with
//! [`ironbeat_crm::policy::schedule`] and compares:
//!
//! * **placement**: our [`simulate::placement_lines`] with
//!   `placement/T.placement` — the Transition Summary actions and where
//!   everything ends up — with `reason=` dropped and the instance numbers of
//!   anonymous clones stripped (both are implementation details);
//! * **status**: our [`simulate::current_status`] with the `Current cluster
//!   status` section of `summary/T.summary`, ignoring whitespace and blank
//!   lines as cts-scheduler does.
//!
//! It prints the counts (and, for information, how many allocation score
//! files match) and checks the cases that differ against
//! `tests/scheduler-corpus-differences.txt`: a case that matched there and
//! differs now fails the test, so progress is locked in. Regenerate the file
//! with `IRONBEAT_UPDATE_DIFFERENCES=1`. Without the corpus the test skips,
//! or fails under `CI=true`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use ironbeat_crm::model::{Cluster, ResourceKind};
use ironbeat_crm::{cib, policy, simulate};

/// "Now" for cases whose CIB has no execution date: 2027-01-15, years after
/// every failure in the corpus, so failure timeouts have expired as they had
/// when crm_simulate produced the expected output.
const FIXED_NOW: i64 = 1_800_000_000;

const DIFFERENCES: &str = "tests/scheduler-corpus-differences.txt";

fn corpus_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("IRONBEAT_SCHEDULER_CORPUS") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/scheduler-corpus"),
    };
    dir.join("SUBSET-core").is_file().then_some(dir)
}

/// One way a case can differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Check {
    Placement,
    Status,
}

impl Check {
    fn name(self) -> &'static str {
        match self {
            Check::Placement => "placement",
            Check::Status => "status",
        }
    }
}

/// What one case gave.
struct Outcome {
    /// Differences: (check, first differing line or error).
    differences: Vec<(Check, String)>,
    /// Whether the sorted allocation scores match (informational).
    scores_match: bool,
    /// Whether the Transition Summary and the Revised Cluster Status texts
    /// match crm_simulate's, whitespace aside (informational: the summary
    /// includes the `due to` reasons).
    text_match: [bool; 2],
}

#[test]
fn scheduler_corpus() {
    let Some(dir) = corpus_dir() else {
        let msg = "scheduler corpus not found: set IRONBEAT_SCHEDULER_CORPUS to the folder \
                   holding SUBSET-core (shared/scheduler-corpus next to the repository)";
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("{msg}");
        }
        eprintln!("SKIP: {msg}");
        return;
    };
    let mut counts: BTreeMap<&str, [usize; 6]> = BTreeMap::new();
    let mut now_differing: BTreeSet<(String, String, String)> = BTreeSet::new();
    let mut reasons: BTreeMap<(String, String, String), String> = BTreeMap::new();
    // Quiet the default hook while cases run: a panic is recorded as a
    // difference, not printed as a backtrace.
    let hook = panic::take_hook();
    panic::set_hook(Box::new(|_| {}));
    for tier in ["core", "extended"] {
        let list = fs::read_to_string(dir.join(format!("SUBSET-{tier}")))
            .unwrap_or_else(|e| panic!("reading SUBSET-{tier}: {e}"));
        for name in list.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let outcome = run_case(&dir, name);
            let c = counts.entry(tier).or_default();
            c[0] += 1;
            let placement_ok = !outcome
                .differences
                .iter()
                .any(|(k, _)| *k == Check::Placement);
            let status_ok = !outcome.differences.iter().any(|(k, _)| *k == Check::Status);
            c[1] += usize::from(placement_ok);
            c[2] += usize::from(status_ok);
            c[3] += usize::from(outcome.scores_match);
            c[4] += usize::from(outcome.text_match[0]);
            c[5] += usize::from(outcome.text_match[1]);
            for (check, reason) in outcome.differences {
                let key = (check.name().to_string(), tier.to_string(), name.to_string());
                now_differing.insert(key.clone());
                reasons.insert(key, reason);
            }
        }
    }
    panic::set_hook(hook);

    let summary: Vec<String> = counts
        .iter()
        .map(|(tier, [n, placement, status, scores, summary, revised])| {
            format!(
                "{tier}: {placement}/{n} identical placement, {status}/{n} identical current \
                 status (for information: {scores}/{n} identical scores, {summary}/{n} identical \
                 Transition Summary text, {revised}/{n} identical Revised Cluster Status text)"
            )
        })
        .collect();
    for line in &summary {
        println!("{line}");
    }
    eprintln!("{}", summary.join("\n"));

    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(DIFFERENCES);
    let mut text = String::from(
        "# Scheduler corpus cases where ironbeat differs from Pacemaker 2.1.5, with the first\n\
         # differing line (written by crm/tests/scheduler_corpus.rs; regenerate with\n\
         # IRONBEAT_UPDATE_DIFFERENCES=1 cargo test -p ironbeat-crm --test scheduler_corpus).\n\
         # The test fails when a case not listed here differs.\n",
    );
    for line in &summary {
        text.push_str(&format!("# {line}\n"));
    }
    for (key, reason) in &reasons {
        text.push_str(&format!(
            "{}\t{}\t{}\t{}\n",
            key.0,
            key.1,
            key.2,
            one_line(reason)
        ));
    }
    if std::env::var("IRONBEAT_UPDATE_DIFFERENCES").is_ok_and(|v| v == "1") {
        fs::write(&path, &text).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
        eprintln!("wrote {}", path.display());
        return;
    }
    let recorded: BTreeSet<(String, String, String)> = fs::read_to_string(&path)
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let mut f = l.split('\t');
            Some((
                f.next()?.to_string(),
                f.next()?.to_string(),
                f.next()?.to_string(),
            ))
        })
        .collect();
    let regressions: Vec<String> = now_differing
        .difference(&recorded)
        .map(|k| format!("{} {} {}: {}", k.0, k.1, k.2, reasons[k]))
        .collect();
    let fixed: Vec<String> = recorded
        .difference(&now_differing)
        .map(|k| format!("{} {} {}", k.0, k.1, k.2))
        .collect();
    if !fixed.is_empty() {
        eprintln!(
            "now identical (record with IRONBEAT_UPDATE_DIFFERENCES=1): {}",
            fixed.join(", ")
        );
    }
    assert!(
        regressions.is_empty(),
        "{} case(s) that matched Pacemaker now differ (see {}):\n{}",
        regressions.len(),
        DIFFERENCES,
        regressions.join("\n")
    );
}

fn one_line(s: &str) -> String {
    s.replace(['\n', '\t'], " ")
}

fn run_case(dir: &Path, name: &str) -> Outcome {
    let mut differences = Vec::new();
    let xml = match fs::read_to_string(dir.join("xml").join(format!("{name}.xml"))) {
        Ok(x) => x,
        Err(e) => {
            differences.push((Check::Placement, format!("cannot read the input: {e}")));
            return Outcome {
                differences,
                scores_match: false,
                text_match: [false; 2],
            };
        }
    };
    let document = match panic::catch_unwind(|| cib::read(&xml)) {
        Ok(Ok(d)) => d,
        Ok(Err(e)) => {
            for check in [Check::Placement, Check::Status] {
                differences.push((check, format!("reader error: {e}")));
            }
            return Outcome {
                differences,
                scores_match: false,
                text_match: [false; 2],
            };
        }
        Err(p) => {
            for check in [Check::Placement, Check::Status] {
                differences.push((check, format!("reader panicked: {}", panic_text(&p))));
            }
            return Outcome {
                differences,
                scores_match: false,
                text_match: [false; 2],
            };
        }
    };
    let cluster = &document.cluster;

    // The current status echoes the input: no engine needed.
    match panic::catch_unwind(AssertUnwindSafe(|| simulate::current_status(cluster))) {
        Ok(ours) => {
            let summary = fs::read_to_string(dir.join("summary").join(format!("{name}.summary")))
                .unwrap_or_default();
            let expected = section(&summary, "Current cluster status:", "Transition Summary:");
            if let Some(diff) = first_difference(&squeeze(&expected), &squeeze(&ours)) {
                differences.push((Check::Status, diff));
            }
        }
        Err(p) => differences.push((
            Check::Status,
            format!("current_status panicked: {}", panic_text(&p)),
        )),
    }

    let now = document.now.unwrap_or(FIXED_NOW);
    let transition = match panic::catch_unwind(AssertUnwindSafe(|| policy::schedule(cluster, now)))
    {
        Ok(t) => t,
        Err(p) => {
            differences.push((
                Check::Placement,
                format!("schedule panicked: {}", panic_text(&p)),
            ));
            return Outcome {
                differences,
                scores_match: false,
                text_match: [false; 2],
            };
        }
    };
    let ours = match panic::catch_unwind(AssertUnwindSafe(|| {
        simulate::placement_lines(cluster, &transition)
    })) {
        Ok(lines) => normalise(cluster, &lines),
        Err(p) => {
            differences.push((
                Check::Placement,
                format!("placement_lines panicked: {}", panic_text(&p)),
            ));
            Vec::new()
        }
    };
    let expected_text = fs::read_to_string(dir.join("placement").join(format!("{name}.placement")))
        .unwrap_or_default();
    let expected: Vec<String> = expected_text.lines().map(String::from).collect();
    let expected = normalise(cluster, &expected);
    if !differences.iter().any(|(k, _)| *k == Check::Placement) {
        if let Some(diff) = multiset_difference(&expected, &ours) {
            differences.push((Check::Placement, diff));
        }
    }

    let scores_match = {
        let ours = simulate::scores(cluster, &transition);
        let mut ours: Vec<&str> = ours
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        ours.sort_unstable();
        let expected = fs::read_to_string(dir.join("scores").join(format!("{name}.scores")))
            .unwrap_or_default();
        let mut expected: Vec<&str> = expected
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        expected.sort_unstable();
        ours == expected
    };
    let summary_text =
        fs::read_to_string(dir.join("summary").join(format!("{name}.summary"))).unwrap_or_default();
    let expected_summary = section(
        &summary_text,
        "Transition Summary:",
        "Executing Cluster Transition:",
    );
    let expected_revised = section(&summary_text, "Revised Cluster Status:", "\u{0}");
    let text_match = [
        squeeze(&expected_summary) == squeeze(&simulate::transition_summary(cluster, &transition)),
        squeeze(&expected_revised) == squeeze(&simulate::revised_status(cluster, &transition)),
    ];
    if std::env::var_os("IRONBEAT_CORPUS_TEXT").is_some() {
        for (i, title) in ["summary", "revised"].iter().enumerate() {
            if !text_match[i] {
                let (e, o) = if i == 0 {
                    (
                        squeeze(&expected_summary),
                        squeeze(&simulate::transition_summary(cluster, &transition)),
                    )
                } else {
                    (
                        squeeze(&expected_revised),
                        squeeze(&simulate::revised_status(cluster, &transition)),
                    )
                };
                eprintln!(
                    "text {title} {name}: {}",
                    first_difference(&e, &o).unwrap_or_default()
                );
            }
        }
    }
    Outcome {
        differences,
        scores_match,
        text_match,
    }
}

fn panic_text(p: &Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<String>()
        .cloned()
        .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_else(|| "(no message)".into())
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

/// Placement lines with `reason=` dropped and anonymous clone instance
/// numbers stripped, sorted.
fn normalise(cluster: &Cluster, lines: &[String]) -> Vec<String> {
    let mut out: Vec<String> = lines
        .iter()
        .map(|line| {
            let fields: Vec<String> = line
                .split('\t')
                .filter(|f| !f.starts_with("reason="))
                .map(|f| match f.strip_prefix("resource=") {
                    Some(r) => format!("resource={}", strip_anonymous(cluster, r)),
                    None => f.to_string(),
                })
                .collect();
            if fields.first().map(String::as_str) == Some("place") && fields.len() > 1 {
                let mut fields = fields;
                fields[1] = fields[1]
                    .split('/')
                    .map(|p| strip_anonymous(cluster, p))
                    .collect::<Vec<_>>()
                    .join("/");
                fields.join("\t")
            } else {
                fields.join("\t")
            }
        })
        .collect();
    out.sort();
    out
}

/// `rsc:3` → `rsc` when rsc is inside an anonymous clone.
fn strip_anonymous(cluster: &Cluster, name: &str) -> String {
    let Some((base, number)) = name.rsplit_once(':') else {
        return name.to_string();
    };
    if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return name.to_string();
    }
    let Some(mut id) = cluster.resource_by_name(base) else {
        return name.to_string();
    };
    loop {
        let r = cluster.resource(id);
        if let ResourceKind::Clone(c) = &r.kind {
            return if c.globally_unique {
                name.to_string()
            } else {
                base.to_string()
            };
        }
        match r.parent {
            Some(p) => id = p,
            None => return name.to_string(),
        }
    }
}

/// The first line where two sorted lists differ, as "expected X, got Y".
fn first_difference(expected: &[String], ours: &[String]) -> Option<String> {
    if expected == ours {
        return None;
    }
    for i in 0..expected.len().max(ours.len()) {
        let e = expected.get(i);
        let o = ours.get(i);
        if e != o {
            return Some(format!(
                "expected `{}`, got `{}`",
                e.map_or("(nothing)", |s| s.as_str()),
                o.map_or("(nothing)", |s| s.as_str())
            ));
        }
    }
    None
}

/// What two sorted line lists disagree on, as multisets: the first line
/// Pacemaker has and we do not, and the first we have that it does not.
fn multiset_difference(expected: &[String], ours: &[String]) -> Option<String> {
    if expected == ours {
        return None;
    }
    let mut theirs: BTreeMap<&str, isize> = BTreeMap::new();
    for l in expected {
        *theirs.entry(l).or_default() += 1;
    }
    for l in ours {
        *theirs.entry(l).or_default() -= 1;
    }
    let missing = theirs.iter().find(|(_, &n)| n > 0).map(|(l, _)| *l);
    let extra = theirs.iter().find(|(_, &n)| n < 0).map(|(l, _)| *l);
    let mut parts = Vec::new();
    if let Some(m) = missing {
        parts.push(format!("missing `{m}`"));
    }
    if let Some(e) = extra {
        parts.push(format!("unexpected `{e}`"));
    }
    Some(parts.join("; "))
}
