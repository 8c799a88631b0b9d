//! Conformance against Pacemaker 2.1.5's own scheduler regression tests.
//!
//! For every case of the corpus's `SUBSET-core` and `SUBSET-extended`
//! (`$IRONBEAT_SCHEDULER_CORPUS`, else `<repo>/../shared/scheduler-corpus`;
//! its README says how the cases were made), this test reads `xml/T.xml`
//! with [`ironbeat_crm::cib::read`], schedules it with
//! [`ironbeat_crm::policy::schedule`] and compares, each check on its own:
//!
//! * **placement**: our [`simulate::placement_lines`] with
//!   `placement/T.placement` — the Transition Summary actions and where
//!   everything ends up — with `reason=` dropped and the instance numbers of
//!   anonymous clones stripped (both are implementation details);
//! * **status**: our [`simulate::current_status`] with the `Current cluster
//!   status` section of `summary/T.summary`;
//! * **summary**: our [`simulate::transition_summary`] with its `Transition
//!   Summary` section, `due to` reasons and instance numbers included;
//! * **revised**: our [`simulate::revised_status`] with its `Revised Cluster
//!   Status` section;
//! * **scores**: our [`simulate::scores`] with `scores/T.scores`, sorted.
//!
//! Texts are compared ignoring whitespace and blank lines, as cts-scheduler
//! does. The test prints the counts and checks the cases that differ
//! against `tests/scheduler-corpus-differences.txt`: a check that matched
//! there and differs now fails the test, so progress is locked in.
//! Regenerate the file with `IRONBEAT_UPDATE_DIFFERENCES=1`. Without the
//! corpus the test skips, or fails under `CI=true`.
//!
//! For looking into a difference: `IRONBEAT_CORPUS_TEXT=1` prints the first
//! differing line of every text check; `IRONBEAT_CORPUS_WARNINGS=1` prints
//! the reader's warnings; `IRONBEAT_CORPUS_OUT=DIR` writes our
//! `T.summary` (the three status/summary sections), `T.scores` (sorted),
//! `T.json` and `T.transition` (the engine's output) for every case, to
//! diff against the corpus by hand. Pointing `IRONBEAT_SCHEDULER_CORPUS` at
//! another folder of the same layout (generated CIBs with crm_simulate's
//! outputs) runs them the same way.

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
    Summary,
    Revised,
    Scores,
}

impl Check {
    const ALL: [Check; 5] = [
        Check::Placement,
        Check::Status,
        Check::Summary,
        Check::Revised,
        Check::Scores,
    ];

    fn name(self) -> &'static str {
        match self {
            Check::Placement => "placement",
            Check::Status => "status",
            Check::Summary => "summary",
            Check::Revised => "revised",
            Check::Scores => "scores",
        }
    }

    /// How the printed counts call it.
    fn label(self) -> &'static str {
        match self {
            Check::Placement => "placement",
            Check::Status => "current status",
            Check::Summary => "Transition Summary text",
            Check::Revised => "Revised Cluster Status text",
            Check::Scores => "scores",
        }
    }
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
    // Per tier: cases, then identical ones per check.
    let mut counts: BTreeMap<&str, (usize, [usize; 5])> = BTreeMap::new();
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
            let differences = run_case(&dir, name);
            let c = counts.entry(tier).or_default();
            c.0 += 1;
            for (i, check) in Check::ALL.iter().enumerate() {
                c.1[i] += usize::from(!differences.iter().any(|(k, _)| k == check));
            }
            for (check, reason) in differences {
                let key = (check.name().to_string(), tier.to_string(), name.to_string());
                now_differing.insert(key.clone());
                reasons.entry(key).or_insert(reason);
            }
        }
    }
    panic::set_hook(hook);

    let summary: Vec<String> = counts
        .iter()
        .map(|(tier, (n, identical))| {
            let parts: Vec<String> = Check::ALL
                .iter()
                .zip(identical)
                .map(|(check, same)| format!("{same}/{n} identical {}", check.label()))
                .collect();
            format!("{tier}: {}", parts.join(", "))
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
         # Checks: placement, status (current), summary (Transition Summary text), revised\n\
         # (Revised Cluster Status text), scores. The test fails when a check of a case not\n\
         # listed here differs.\n",
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
        "{} check(s) that matched Pacemaker now differ (see {}):\n{}",
        regressions.len(),
        DIFFERENCES,
        regressions.join("\n")
    );
}

fn one_line(s: &str) -> String {
    s.replace(['\n', '\t'], " ")
}

/// Every check of one case that differs: (check, first differing line or
/// the error).
fn run_case(dir: &Path, name: &str) -> Vec<(Check, String)> {
    let mut differences = Vec::new();
    let every = |why: String| -> Vec<(Check, String)> {
        Check::ALL.iter().map(|&c| (c, why.clone())).collect()
    };
    let xml = match fs::read_to_string(dir.join("xml").join(format!("{name}.xml"))) {
        Ok(x) => x,
        Err(e) => return every(format!("cannot read the input: {e}")),
    };
    let document = match panic::catch_unwind(|| cib::read(&xml)) {
        Ok(Ok(d)) => d,
        Ok(Err(e)) => return every(format!("reader error: {e}")),
        Err(p) => return every(format!("reader panicked: {}", panic_text(&p))),
    };
    let cluster = &document.cluster;
    if std::env::var_os("IRONBEAT_CORPUS_WARNINGS").is_some() {
        for w in &document.warnings {
            eprintln!("WARNING {name}: {w}");
        }
    }
    let summary_text =
        fs::read_to_string(dir.join("summary").join(format!("{name}.summary"))).unwrap_or_default();

    // The current status echoes the input: no engine needed.
    match panic::catch_unwind(AssertUnwindSafe(|| simulate::current_status(cluster))) {
        Ok(ours) => {
            let expected = section(
                &summary_text,
                "Current cluster status:",
                "Transition Summary:",
            );
            differences.extend(text_difference(Check::Status, name, &expected, &ours));
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
            let why = format!("schedule panicked: {}", panic_text(&p));
            differences.extend(every(why).into_iter().filter(|(c, _)| *c != Check::Status));
            return differences;
        }
    };
    // The texts, rendered once (a panic is a difference of every text).
    let texts = panic::catch_unwind(AssertUnwindSafe(|| {
        (
            simulate::transition_summary(cluster, &transition),
            simulate::revised_status(cluster, &transition),
            simulate::scores(cluster, &transition),
            normalise(cluster, &simulate::placement_lines(cluster, &transition)),
        )
    }));
    let (summary, revised, scores, placement) = match texts {
        Ok(t) => t,
        Err(p) => {
            let why = format!("rendering panicked: {}", panic_text(&p));
            differences.extend(every(why).into_iter().filter(|(c, _)| *c != Check::Status));
            return differences;
        }
    };
    let expected_summary = section(
        &summary_text,
        "Transition Summary:",
        "Executing Cluster Transition:",
    );
    differences.extend(text_difference(
        Check::Summary,
        name,
        &expected_summary,
        &summary,
    ));
    let expected_revised = section(&summary_text, "Revised Cluster Status:", "\u{0}");
    differences.extend(text_difference(
        Check::Revised,
        name,
        &expected_revised,
        &revised,
    ));

    let expected_scores =
        fs::read_to_string(dir.join("scores").join(format!("{name}.scores"))).unwrap_or_default();
    let sorted = |text: &str| {
        let mut lines: Vec<String> = squeeze(text);
        lines.sort_unstable();
        lines
    };
    if let Some(diff) = first_difference(&sorted(&expected_scores), &sorted(&scores)) {
        differences.push((Check::Scores, diff));
    }

    let expected_text = fs::read_to_string(dir.join("placement").join(format!("{name}.placement")))
        .unwrap_or_default();
    let expected: Vec<String> = expected_text.lines().map(String::from).collect();
    let expected = normalise(cluster, &expected);
    if let Some(diff) = multiset_difference(&expected, &placement) {
        differences.push((Check::Placement, diff));
    }

    if let Some(out) = std::env::var_os("IRONBEAT_CORPUS_OUT") {
        let out = PathBuf::from(out);
        let _ = fs::create_dir_all(&out);
        let text = format!(
            "{}\n{summary}\n{revised}",
            simulate::current_status(cluster)
        );
        let _ = fs::write(out.join(format!("{name}.summary")), text);
        let mut lines: Vec<&str> = scores.lines().collect();
        lines.sort_unstable();
        let _ = fs::write(out.join(format!("{name}.scores")), lines.join("\n") + "\n");
        let json = simulate::to_json_with(cluster, &transition, false);
        let _ = fs::write(out.join(format!("{name}.json")), format!("{json:#}"));
        let _ = fs::write(
            out.join(format!("{name}.transition")),
            format!("{transition:#?}"),
        );
    }
    differences
}

/// A text check's first difference, whitespace aside (printed too with
/// `IRONBEAT_CORPUS_TEXT`).
fn text_difference(
    check: Check,
    name: &str,
    expected: &str,
    ours: &str,
) -> Option<(Check, String)> {
    let diff = first_difference(&squeeze(expected), &squeeze(ours))?;
    if std::env::var_os("IRONBEAT_CORPUS_TEXT").is_some() {
        eprintln!("{} {name}: {diff}", check.name());
    }
    Some((check, diff))
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
