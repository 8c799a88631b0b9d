//! `ironbeat crm simulate` through its binary: the crm_simulate text on a
//! committed CIB (and, when `crm_simulate` is installed, beside its own
//! output on the same files), "what if" edits, JSON, scores, the time
//! options, every input error with its exit code, hostile input that must
//! never crash it, and (when the scheduler corpus is present) Pacemaker's
//! own regression inputs.
//!
//! The fixture `tests/fixtures/crm/two-node-failed.xml` was made with
//! crm_simulate 2.1.5 itself (a cold CIB run to a steady state with `-S -O`,
//! then `-i db_monitor_10000@node1=1 -I` to record a monitor failure), so its
//! history carries real operation digests.

use std::path::{Path, PathBuf};

mod common;
use common::{run, simulate, CONFIG, FAILURE, IRONBEAT, OK, USAGE};

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/crm/two-node-failed.xml")
}

fn fixture_text() -> String {
    std::fs::read_to_string(fixture()).unwrap()
}

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("ib-crm-cli-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn file(&self, name: &str, contents: &[u8]) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, contents).unwrap();
        path.to_string_lossy().into_owned()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The lines from `start` up to (not including) the next section title.
fn section(text: &str, start: &str) -> String {
    let titles = [
        "Current cluster status:",
        "Allocation Scores:",
        "Transition Summary:",
        "Executing Cluster Transition:",
        "Revised Cluster Status:",
    ];
    let mut out = String::new();
    let mut inside = false;
    for line in text.lines() {
        if line.starts_with(start) {
            inside = true;
        } else if titles.iter().any(|t| line.starts_with(t)) && inside {
            break;
        }
        if inside {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Lines without whitespace, blank lines dropped (cts-scheduler's
/// `diff --ignore-all-space --ignore-blank-lines`).
fn squeeze(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.chars().filter(|c| !c.is_whitespace()).collect::<String>())
        .filter(|l| !l.is_empty())
        .collect()
}

/// When crm_simulate is installed: the same sections from it, on the same
/// file, must read the same (whitespace aside).
fn same_as_crm_simulate(file: &str, ours: &str) {
    if !Path::new("/usr/sbin/crm_simulate").exists() {
        eprintln!("crm_simulate not installed (pacemaker-cli-utils): live comparison skipped");
        return;
    }
    let theirs = run("/usr/sbin/crm_simulate", &["-x", file, "-S"], None);
    theirs.expect(0);
    for title in [
        "Current cluster status:",
        "Transition Summary:",
        "Revised Cluster Status:",
    ] {
        assert_eq!(
            squeeze(&section(ours, title)),
            squeeze(&section(&theirs.stdout, title)),
            "{title} differs from crm_simulate's on {file}\nours:\n{ours}\ncrm_simulate:\n{}",
            theirs.stdout
        );
    }
}

#[test]
fn prints_what_crm_simulate_prints() {
    let file = fixture().to_string_lossy().into_owned();
    let out = simulate(&["--xml", &file]);
    out.expect(OK);
    assert_eq!(out.stderr, "");
    assert_eq!(
        section(&out.stdout, "Current cluster status:"),
        "Current cluster status:\n  * Node List:\n    * Online: [ node1 node2 ]\n\n  \
         * Full List of Resources:\n    * Resource Group: web:\n      \
         * vip\t(ocf:pacemaker:Dummy):\t Started node1\n      \
         * site\t(ocf:pacemaker:Dummy):\t Started node1\n    \
         * db\t(ocf:pacemaker:Dummy):\t FAILED node1\n    \
         * Clone Set: ping-clone [ping]:\n      * Started: [ node1 node2 ]\n\n"
    );
    assert_eq!(
        section(&out.stdout, "Transition Summary:"),
        "Transition Summary:\n  * Recover    db      ( node1 -> node2 )\n\n"
    );
    let actions = section(&out.stdout, "Executing Cluster Transition:");
    let stop = actions
        .find("db              stop on node1")
        .expect(&actions);
    let start = actions
        .find("db              start on node2")
        .expect(&actions);
    assert!(stop < start, "{actions}");
    assert!(
        section(&out.stdout, "Revised Cluster Status:")
            .contains("    * db\t(ocf:pacemaker:Dummy):\t Started node2\n"),
        "{}",
        out.stdout
    );
    same_as_crm_simulate(&file, &out.stdout);
}

#[test]
fn what_if_a_node_goes_into_standby() {
    let scratch = Scratch::new("standby");
    let text = fixture_text().replace(
        "<node id=\"1\" uname=\"node1\"/>",
        "<node id=\"1\" uname=\"node1\"><instance_attributes id=\"n1-attrs\">\
         <nvpair id=\"n1-standby\" name=\"standby\" value=\"on\"/></instance_attributes></node>",
    );
    let file = scratch.file("standby.xml", text.as_bytes());
    let out = simulate(&["--xml", &file]);
    out.expect(OK);
    assert_eq!(
        squeeze(&section(&out.stdout, "Transition Summary:")),
        squeeze(
            "Transition Summary:\n  * Move vip ( node1 -> node2 )\n  * Move site ( node1 -> node2 )\n  \
             * Recover db ( node1 -> node2 )\n  * Stop ping:0 ( node1 ) due to node availability\n"
        ),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("    * Node node1: standby\n"),
        "{}",
        out.stdout
    );
    same_as_crm_simulate(&file, &out.stdout);
}

#[test]
fn json_for_tools() {
    let file = fixture().to_string_lossy().into_owned();
    let out = simulate(&["--xml", &file, "--json", "--now", "1800000000"]);
    out.expect(OK);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).expect(&out.stdout);
    assert_eq!(v["now"], 1_800_000_000);
    let summary = v["summary"].as_array().unwrap();
    assert_eq!(summary.len(), 1, "{summary:?}");
    assert_eq!(summary[0]["action"], "recover");
    assert_eq!(summary[0]["resource"], "db");
    assert_eq!(summary[0]["source"], "node1");
    assert_eq!(summary[0]["dest"], "node2");
    let revised = v["revised"]["resources"].as_array().unwrap();
    let db: Vec<_> = revised.iter().filter(|r| r["path"] == "db").collect();
    assert_eq!(db.len(), 1);
    assert_eq!(db[0]["node"], "node2");
    assert_eq!(db[0]["role"], "Started");
    let current = v["current"]["resources"].as_array().unwrap();
    assert!(current
        .iter()
        .any(|r| r["path"] == "db" && r["flags"][0] == "failed"));
    assert!(!v["actions"].as_array().unwrap().is_empty());
    assert!(v["edges"].is_array());
    assert_eq!(v["unsupported"].as_array().unwrap().len(), 0);
}

#[test]
fn scores_on_request() {
    let file = fixture().to_string_lossy().into_owned();
    let out = simulate(&["--xml", &file, "--show-scores"]);
    out.expect(OK);
    let scores = section(&out.stdout, "Allocation Scores:");
    assert!(
        scores.contains("pcmk__primitive_assign: db allocation score on node1: -INFINITY"),
        "{scores}"
    );
    assert!(
        scores.contains("pcmk__primitive_assign: db allocation score on node2: 0"),
        "{scores}"
    );
    assert!(!simulate(&["--xml", &file])
        .stdout
        .contains("allocation score"));
}

#[test]
fn reads_standard_input() {
    let text = fixture_text();
    let out = run(
        IRONBEAT,
        &["crm", "simulate", "--xml", "-"],
        Some(text.as_bytes()),
    );
    out.expect(OK);
    assert!(out.stdout.contains("Recover    db"), "{}", out.stdout);
}

#[test]
fn time_options_and_the_execution_date() {
    let file = fixture().to_string_lossy().into_owned();
    let by_now = simulate(&["--xml", &file, "--now", "1399422480"]);
    by_now.expect(OK);
    let by_date = simulate(&["--xml", &file, "--date", "2014-05-07 00:28:00"]);
    by_date.expect(OK);
    assert_eq!(by_now.stdout, by_date.stdout);
    assert!(!by_now.stdout.contains("execution date"));

    let scratch = Scratch::new("date");
    let text = fixture_text().replacen("<cib ", "<cib execution-date=\"1571777586\" ", 1);
    let dated = scratch.file("dated.xml", text.as_bytes());
    let out = simulate(&["--xml", &dated]);
    out.expect(OK);
    assert!(
        out.stdout
            .starts_with("Using the original execution date of: 2019-10-22 20:53:06Z\n"),
        "{}",
        out.stdout
    );
    // An explicit time wins over the CIB's, without the notice.
    let out = simulate(&["--xml", &dated, "--now", "1571777586"]);
    out.expect(OK);
    assert!(
        out.stdout.starts_with("Current cluster status:"),
        "{}",
        out.stdout
    );

    let out = simulate(&[
        "--xml",
        &file,
        "--now",
        "5",
        "--date",
        "2014-05-07 00:28:00",
    ]);
    out.expect(USAGE);
    let out = simulate(&["--xml", &file, "--date", "2014-13-07 00:28:00"]);
    out.expect(USAGE);
    assert!(out.stderr.contains("YYYY-MM-DD HH:MM:SS"), "{}", out.stderr);
}

#[test]
fn unsupported_features_are_named_on_stderr() {
    let scratch = Scratch::new("unsupported");
    let text = fixture_text().replacen(
        "<constraints>",
        "<constraints>\n      <rsc_ticket id=\"db-needs-ticket\" rsc=\"db\" ticket=\"T1\"/>",
        1,
    );
    let file = scratch.file("ticket.xml", text.as_bytes());
    let out = simulate(&["--xml", &file]);
    out.expect(OK);
    assert!(
        out.stderr.contains("rsc_ticket") && out.stderr.contains("db-needs-ticket"),
        "stderr: {}",
        out.stderr
    );
    assert!(out.stderr.contains("not supported"), "{}", out.stderr);
    assert!(out.stdout.contains("Transition Summary:"));
    let json = simulate(&["--xml", &file, "--json"]);
    json.expect(OK);
    let v: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert!(v["unsupported"]
        .as_array()
        .unwrap()
        .iter()
        .any(|u| u["element_or_attribute"] == "rsc_ticket"));
}

#[test]
fn bad_input_has_exit_codes_and_says_what_to_fix() {
    let scratch = Scratch::new("bad");
    // Malformed XML: configuration error, with file and line.
    let file = scratch.file("broken.xml", b"<cib>\n  <configuration>\n</cib>\n");
    let out = simulate(&["--xml", &file]);
    out.expect(CONFIG);
    assert!(
        out.stderr.contains(&format!("{file}:")) && out.stderr.contains("malformed"),
        "{}",
        out.stderr
    );
    assert_eq!(out.stdout, "");
    // Well-formed, but not a CIB.
    let file = scratch.file("other.xml", b"<configuration/>");
    let out = simulate(&["--xml", &file]);
    out.expect(CONFIG);
    assert!(out.stderr.contains("not a Pacemaker CIB"), "{}", out.stderr);
    // Empty, binary.
    for (name, bytes) in [
        ("empty.xml", &b""[..]),
        ("binary.xml", &[0xff, 0xfe, 0x00, 0x3c, 0x80][..]),
    ] {
        let file = scratch.file(name, bytes);
        let out = simulate(&["--xml", &file]);
        out.expect(CONFIG);
        assert!(out.stderr.contains(&file), "{}", out.stderr);
    }
    // A configuration Pacemaker's schema rejects names the element.
    let text = fixture_text().replacen(
        "<rsc_location id=\"web-prefers-node1\" rsc=\"web\" node=\"node1\" score=\"100\"/>",
        "<rsc_location id=\"web-prefers-node1\" rsc=\"web\" node=\"node1\" score=\"lots\"/>",
        1,
    );
    assert!(text.contains("score=\"lots\""));
    let file = scratch.file("score.xml", text.as_bytes());
    let out = simulate(&["--xml", &file]);
    out.expect(CONFIG);
    assert!(
        out.stderr.contains("rsc_location") && out.stderr.contains("web-prefers-node1"),
        "{}",
        out.stderr
    );
    // Missing file, a directory: run-time failures.
    let out = simulate(&["--xml", "/nonexistent/cib.xml"]);
    out.expect(FAILURE);
    assert!(
        out.stderr.contains("/nonexistent/cib.xml"),
        "{}",
        out.stderr
    );
    let dir = scratch.0.to_string_lossy().into_owned();
    simulate(&["--xml", &dir]).expect(FAILURE);
    // No --xml at all.
    simulate(&[]).expect(USAGE);
}

/// A small deterministic generator (SplitMix64).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Mutations of a valid CIB: truncation, byte flips, deleted and repeated
/// slices, swapped attribute values, deep nesting, dangling references.
fn mutate(rng: &mut Rng, base: &[u8]) -> Vec<u8> {
    let mut b = base.to_vec();
    match rng.below(8) {
        0 => b.truncate(rng.below(b.len())),
        1 => {
            for _ in 0..1 + rng.below(8) {
                let i = rng.below(b.len());
                b[i] = rng.next() as u8;
            }
        }
        2 => {
            let i = rng.below(b.len());
            let j = (i + rng.below(400)).min(b.len());
            b.drain(i..j);
        }
        3 => {
            let i = rng.below(b.len());
            let j = (i + rng.below(400)).min(b.len());
            let slice = b[i..j].to_vec();
            let at = rng.below(b.len());
            b.splice(at..at, slice);
        }
        4 => {
            let text = String::from_utf8_lossy(&b).into_owned();
            let words = [
                "INFINITY",
                "-INFINITY",
                "0",
                "",
                "abc",
                "99999999999",
                "Promoted",
                "node9",
            ];
            let mut out = String::new();
            for (k, piece) in text.split("value=\"").enumerate() {
                if k > 0 {
                    out.push_str("value=\"");
                    if rng.below(6) == 0 {
                        out.push_str(words[rng.below(words.len())]);
                        out.push_str(&piece[piece.find('"').unwrap_or(0)..]);
                        continue;
                    }
                }
                out.push_str(piece);
            }
            b = out.into_bytes();
        }
        5 => {
            let depth = 1 + rng.below(5000);
            let mut deep = String::new();
            for _ in 0..depth {
                deep.push_str("<group id=\"g\">");
            }
            let text = String::from_utf8_lossy(&b).replacen(
                "<resources>",
                &format!("<resources>{deep}"),
                1,
            );
            b = text.into_bytes();
        }
        6 => {
            let text = String::from_utf8_lossy(&b).replace("rsc=\"db\"", "rsc=\"missing\"");
            let extra = "<rsc_order id=\"o1\" first=\"db\" then=\"web\"/>\
                         <rsc_order id=\"o2\" first=\"web\" then=\"db\"/>\
                         <rsc_colocation id=\"c1\" rsc=\"db\" with-rsc=\"db\" score=\"INFINITY\"/>\
                         <rsc_colocation id=\"c2\" rsc=\"nothing\" with-rsc=\"web\" score=\"-INFINITY\"/>";
            b = text
                .replacen("<constraints>", &format!("<constraints>{extra}"), 1)
                .into_bytes();
        }
        _ => {
            let text = String::from_utf8_lossy(&b).into_owned();
            let tags = [
                "<lrm_rsc_op/>",
                "<node_state/>",
                "<primitive/>",
                "<clone id=\"c\"/>",
                "<op/>",
                "&amp;",
                "]]>",
            ];
            let at = rng.below(text.len());
            let at = (0..=at)
                .rev()
                .find(|&i| text.is_char_boundary(i))
                .unwrap_or(0);
            let mut t = text;
            t.insert_str(at, tags[rng.below(tags.len())]);
            b = t.into_bytes();
        }
    }
    b
}

#[test]
fn hostile_input_never_crashes() {
    let scratch = Scratch::new("hostile");
    let base = fixture_text().into_bytes();
    let mut rng = Rng(0x1b_c0de);
    let mut codes = std::collections::BTreeMap::new();
    for round in 0..150 {
        let input = mutate(&mut rng, &base);
        let file = scratch.file("m.xml", &input);
        let out = simulate(&["--xml", &file]);
        assert!(
            out.code == OK || out.code == CONFIG,
            "round {round}: exit {} (a crash is 101 or a signal)\nstderr: {}\ninput kept at {}",
            out.code,
            out.stderr,
            {
                let kept = std::env::temp_dir().join(format!("ib-crm-cli-crash-{round}.xml"));
                let _ = std::fs::write(&kept, &input);
                kept.display().to_string()
            }
        );
        assert!(
            !out.stderr.contains("panicked"),
            "round {round}: {}",
            out.stderr
        );
        *codes.entry(out.code).or_insert(0) += 1;
    }
    // Both outcomes occur: the mutations reach the reader's checks and the
    // engine.
    assert!(codes.len() == 2, "{codes:?}");
}

/// Pacemaker's own inputs (when the corpus is next to the repository):
/// current and revised status as crm_simulate printed them.
#[test]
fn corpus_inputs_print_like_crm_simulate() {
    let dir = match std::env::var_os("IRONBEAT_SCHEDULER_CORPUS") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/scheduler-corpus"),
    };
    if !dir.join("SUBSET-core").is_file() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!(
                "scheduler corpus not found at {}: set IRONBEAT_SCHEDULER_CORPUS",
                dir.display()
            );
        }
        eprintln!("SKIP: scheduler corpus not found at {}", dir.display());
        return;
    }
    for name in [
        "simple1",
        "group9",
        "rec-node-15",
        "promoted-stop",
        "coloc-many-one",
        "standby",
    ] {
        let file = dir.join("xml").join(format!("{name}.xml"));
        let file = file.to_string_lossy().into_owned();
        let out = simulate(&["--xml", &file]);
        out.expect(OK);
        let expected =
            std::fs::read_to_string(dir.join("summary").join(format!("{name}.summary"))).unwrap();
        for title in ["Current cluster status:", "Revised Cluster Status:"] {
            assert_eq!(
                squeeze(&section(&out.stdout, title)),
                squeeze(&section(&expected, title)),
                "{name}: {title}\n{}",
                out.stdout
            );
        }
    }
}

#[test]
fn an_order_loop_is_named_and_the_run_fails_as_crm_simulate_does() {
    // Two Mandatory orders that loop (A then B, B then A): Pacemaker plans
    // the starts and stops with "Transition failed: terminated" (exit 1).
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("crm/tests/bad-input/order-cycle-2.xml");
    let shown = file.to_str().unwrap();
    let out = simulate(&["--xml", shown]);
    out.expect(FAILURE);
    assert!(out.stdout.contains("Transition Summary:"), "{}", out.stdout);
    // The warning names the file, the line and both constraints.
    let warning = out
        .stderr
        .lines()
        .find(|l| l.starts_with(&format!("ironbeat: warning: {shown}:")))
        .unwrap_or_else(|| panic!("no warning with FILE:LINE:\n{}", out.stderr));
    assert!(
        warning.contains("A-then-B") && warning.contains("B-then-A"),
        "{warning}"
    );
    assert!(
        out.stderr.contains("the transition cannot complete") && out.stderr.contains("remove one"),
        "{}",
        out.stderr
    );
}
