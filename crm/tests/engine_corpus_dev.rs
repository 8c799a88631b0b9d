//! Development comparison of the policy engine against Pacemaker's
//! scheduler corpus (`placement/T.placement`): prints, per case, whether
//! the Transition Summary actions and the final placement match, and the
//! match counts for `SUBSET-core` and `SUBSET-extended`.
//!
//! The official conformance test is `scheduler_corpus.rs`; this one is the
//! engine's working tool: `ENGINE_CASE=name` prints one case's diff,
//! `ENGINE_VERBOSE=1` every diff. It never fails on mismatches (the
//! conformance test does); it fails only if the corpus is present but
//! unreadable.

use std::collections::BTreeSet;
use std::path::PathBuf;

use ironbeat_crm::model::{Cluster, ResourceKind};

fn corpus() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("IRONBEAT_SCHEDULER_CORPUS") {
        return Some(PathBuf::from(p));
    }
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/scheduler-corpus");
    p.exists().then_some(p)
}

/// Names of resources inside anonymous clones (their `:N` is dropped).
fn anonymous_names(c: &Cluster) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, r) in c.resources.iter().enumerate() {
        let mut cur = Some(ironbeat_crm::model::ResourceId(i));
        while let Some(id) = cur {
            let res = &c.resources[id.0];
            if let ResourceKind::Clone(cl) = &res.kind {
                if !cl.globally_unique {
                    out.insert(r.id.clone());
                }
                break;
            }
            cur = res.parent;
        }
    }
    out
}

fn normalize(line: &str, anon: &BTreeSet<String>) -> Option<String> {
    let fields: Vec<&str> = line.split('\t').collect();
    match fields.first() {
        Some(&"action") => {
            let kept: Vec<String> = fields[1..]
                .iter()
                .filter(|f| !f.starts_with("reason="))
                .map(|f| {
                    if let Some(v) = f.strip_prefix("resource=") {
                        let base = v.split(':').next().unwrap_or(v);
                        if anon.contains(base) {
                            return format!("resource={base}");
                        }
                    }
                    f.to_string()
                })
                .collect();
            Some(format!("action\t{}", kept.join("\t")))
        }
        Some(&"place") => {
            let mut fields: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
            if fields.len() > 1 {
                fields[1] = fields[1]
                    .split('/')
                    .map(|p| {
                        let base = p.split(':').next().unwrap_or(p);
                        if anon.contains(base) {
                            base.to_string()
                        } else {
                            p.to_string()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("/");
            }
            Some(fields.join("\t"))
        }
        Some(&"node") => Some(line.to_string()),
        _ => None,
    }
}

fn sorted(lines: impl Iterator<Item = String>) -> Vec<String> {
    let mut v: Vec<String> = lines.collect();
    v.sort();
    v
}

#[test]
fn engine_against_corpus() {
    let Some(dir) = corpus() else {
        eprintln!("scheduler corpus not found; skipping");
        return;
    };
    let only = std::env::var("ENGINE_CASE").ok();
    let verbose = std::env::var("ENGINE_VERBOSE").is_ok();
    for subset in ["SUBSET-core", "SUBSET-extended"] {
        let list = std::fs::read_to_string(dir.join(subset)).expect("subset list");
        let (mut ok, mut total) = (0, 0);
        let mut failing = Vec::new();
        let mut slow = Vec::new();
        for name in list.lines().map(str::trim).filter(|l| !l.is_empty()) {
            if let Some(o) = &only {
                if o != name {
                    continue;
                }
            }
            total += 1;
            let xml =
                std::fs::read_to_string(dir.join("xml").join(format!("{name}.xml"))).expect("xml");
            let expected =
                std::fs::read_to_string(dir.join("placement").join(format!("{name}.placement")))
                    .expect("placement");
            let doc = match ironbeat_crm::cib::read(&xml) {
                Ok(d) => d,
                Err(e) => {
                    failing.push(format!("{name}: reader error: {e}"));
                    continue;
                }
            };
            let start = std::time::Instant::now();
            let now = doc.now.unwrap_or(2_000_000_000);
            let t = ironbeat_crm::policy::schedule(&doc.cluster, now);
            let took = start.elapsed();
            if took.as_millis() > 50 {
                slow.push(format!("{name} {took:?}"));
            }
            let anon = anonymous_names(&doc.cluster);
            let got = sorted(
                ironbeat_crm::simulate::placement_lines(&doc.cluster, &t)
                    .iter()
                    .filter_map(|l| normalize(l, &anon)),
            );
            let want = sorted(expected.lines().filter_map(|l| normalize(l, &anon)));
            let actions_ok = got
                .iter()
                .filter(|l| l.starts_with("action"))
                .collect::<Vec<_>>()
                == want
                    .iter()
                    .filter(|l| l.starts_with("action"))
                    .collect::<Vec<_>>();
            let place_ok = got
                .iter()
                .filter(|l| l.starts_with("place"))
                .collect::<Vec<_>>()
                == want
                    .iter()
                    .filter(|l| l.starts_with("place"))
                    .collect::<Vec<_>>();
            let nodes_ok = got
                .iter()
                .filter(|l| l.starts_with("node"))
                .collect::<Vec<_>>()
                == want
                    .iter()
                    .filter(|l| l.starts_with("node"))
                    .collect::<Vec<_>>();
            if actions_ok && place_ok {
                ok += 1;
            } else {
                failing.push(format!(
                    "{name}: actions {} place {} nodes {}",
                    if actions_ok { "ok" } else { "DIFF" },
                    if place_ok { "ok" } else { "DIFF" },
                    if nodes_ok { "ok" } else { "DIFF" }
                ));
            }
            if std::env::var("ENGINE_SCORES_DIFF").is_ok() {
                let ours_text = ironbeat_crm::simulate::scores(&doc.cluster, &t);
                let mut ours: Vec<String> = ours_text
                    .lines()
                    .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
                    .filter(|l| !l.is_empty())
                    .collect();
                ours.sort();
                let exp =
                    std::fs::read_to_string(dir.join("scores").join(format!("{name}.scores")))
                        .unwrap_or_default();
                let mut want: Vec<String> = exp
                    .lines()
                    .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
                    .filter(|l| !l.is_empty())
                    .collect();
                want.sort();
                if ours != want {
                    let g: BTreeSet<&String> = ours.iter().collect();
                    let w: BTreeSet<&String> = want.iter().collect();
                    eprintln!("=== scores {name}");
                    for l in w.difference(&g).take(6) {
                        eprintln!("  - {l}");
                    }
                    for l in g.difference(&w).take(6) {
                        eprintln!("  + {l}");
                    }
                }
            }
            if only.is_some() && std::env::var("ENGINE_HISTORY").is_ok() {
                for h in &doc.cluster.history {
                    eprintln!("  history {h:?}");
                }
            }
            if only.is_some() && std::env::var("ENGINE_EXPLAIN").is_ok() {
                eprintln!("{}", ironbeat_crm::policy::explain(&doc.cluster, now));
            }
            if only.is_some() && std::env::var("ENGINE_PLACED").is_ok() {
                for p in &t.placement {
                    eprintln!("  placed {p:?}");
                }
                for c in &t.summary {
                    eprintln!("  change {c:?}");
                }
            }
            if only.is_some() && std::env::var("ENGINE_SCORES").is_ok() {
                let mut lines: Vec<String> = ironbeat_crm::simulate::scores(&doc.cluster, &t)
                    .lines()
                    .map(str::to_string)
                    .collect();
                lines.sort();
                for l in lines {
                    eprintln!("  score {l}");
                }
            }
            if (verbose || only.is_some()) && !(actions_ok && place_ok && nodes_ok) {
                let g: BTreeSet<&String> = got.iter().collect();
                let w: BTreeSet<&String> = want.iter().collect();
                eprintln!("=== {name}");
                for l in w.difference(&g) {
                    eprintln!("  - {l}");
                }
                for l in g.difference(&w) {
                    eprintln!("  + {l}");
                }
            }
        }
        eprintln!("{subset}: {ok}/{total} identical");
        for f in &failing {
            eprintln!("  {f}");
        }
        for s in &slow {
            eprintln!("  slow: {s}");
        }
    }
}
