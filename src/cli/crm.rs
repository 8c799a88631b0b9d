//! `ironbeat crm simulate`: what the policy engine would do with a
//! Pacemaker CIB, or with ironbeat's own configuration (the native file or
//! a heartbeat directory), printed as `crm_simulate -S` prints it.
//!
//! Reading the files, the clock and printing happen here; parsing
//! ([`ironbeat_crm::cib`], [`crate::config::to_crm`]), deciding
//! ([`ironbeat_crm::policy`]) and rendering ([`ironbeat_crm::simulate`]) are
//! pure.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Result;
use clap::{ArgGroup, Args};
use ironbeat_crm::model::Cluster;
use ironbeat_crm::{cib, policy, simulate};

use crate::config::to_crm::{load_ha_d_crm, load_native_crm};

/// Options of `ironbeat crm simulate`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("input").required(true).args(["xml", "config", "ha_d"])))]
pub struct SimulateArgs {
    /// The CIB to read (configuration and status), as `cibadmin -Q` or
    /// `crm_simulate -x` take it; `-` reads standard input.
    #[arg(long, value_name = "FILE")]
    xml: Option<PathBuf>,
    /// ironbeat's native configuration (its resources and constraints),
    /// with every node online unless --offline or --standby say otherwise
    /// and nothing running yet.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// A heartbeat directory: ha.cf's nodes and haresources, like --config.
    #[arg(long = "ha-d", value_name = "DIR")]
    ha_d: Option<PathBuf>,
    /// With --config or --ha-d: this node is down (cleanly); repeatable.
    #[arg(long, value_name = "NODE", conflicts_with = "xml")]
    offline: Vec<String>,
    /// With --config or --ha-d: this node is in standby (runs nothing);
    /// repeatable.
    #[arg(long, value_name = "NODE", conflicts_with = "xml")]
    standby: Vec<String>,
    /// Also print the allocation scores (with --json: a `scores` array).
    #[arg(long)]
    show_scores: bool,
    /// Print one JSON document instead of text.
    #[arg(long)]
    json: bool,
    /// Evaluate failure timeouts at this time (Unix seconds) instead of the
    /// CIB's execution date or the clock.
    #[arg(long, value_name = "UNIX", conflicts_with = "date")]
    now: Option<i64>,
    /// The same as --now, as a UTC date: 'YYYY-MM-DD HH:MM:SS' (crm_simulate's -t).
    #[arg(long, value_name = "DATE", value_parser = parse_date)]
    date: Option<i64>,
}

/// What went wrong, by who is at fault; [`super::exit::for_error`] turns it
/// into an exit code.
#[derive(Debug)]
pub enum CrmError {
    /// The input cannot be read (missing file, permissions).
    Io(String),
    /// The CIB is not one we can use; the message names the element and
    /// what to fix.
    Config(String),
    /// The command line names something the input does not have (a node
    /// for `--offline`/`--standby`).
    Usage(String),
}

impl CrmError {
    /// Whether the configuration is at fault (exit code 3) rather than the
    /// system (exit code 1).
    pub fn is_config(&self) -> bool {
        matches!(self, CrmError::Config(_))
    }

    /// Whether the command line is at fault (exit code 2).
    pub fn is_usage(&self) -> bool {
        matches!(self, CrmError::Usage(_))
    }
}

impl fmt::Display for CrmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CrmError::Io(m) | CrmError::Config(m) | CrmError::Usage(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for CrmError {}

/// `YYYY-MM-DD HH:MM:SS` (or `YYYY-MM-DDTHH:MM:SS`, optional trailing `Z`)
/// in UTC, to Unix seconds.
pub fn parse_date(text: &str) -> std::result::Result<i64, String> {
    let bad = || {
        format!(
            "{text:?} is not a date; write it as 'YYYY-MM-DD HH:MM:SS' (UTC), \
             or pass --now with Unix seconds"
        )
    };
    let t = text.trim().trim_end_matches('Z');
    let (date, time) = t
        .split_once(' ')
        .or_else(|| t.split_once('T'))
        .unwrap_or((t, "00:00:00"));
    let numbers = |s: &str, sep: char, count: usize| -> Option<Vec<i64>> {
        let parts: Vec<&str> = s.split(sep).collect();
        if parts.len() != count {
            return None;
        }
        parts
            .iter()
            .map(|p| {
                if p.is_empty() || p.len() > 4 || !p.bytes().all(|b| b.is_ascii_digit()) {
                    None
                } else {
                    p.parse::<i64>().ok()
                }
            })
            .collect()
    };
    let d = numbers(date, '-', 3).ok_or_else(bad)?;
    let h = numbers(time.trim(), ':', 3).ok_or_else(bad)?;
    let (year, month, day) = (d[0], d[1], d[2]);
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => return Err(bad()),
    };
    if !(1970..=9999).contains(&year) || day < 1 || day > days_in_month {
        return Err(bad());
    }
    if h[0] > 23 || h[1] > 59 || h[2] > 60 {
        return Err(bad());
    }
    // Days from civil (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Ok(days * 86_400 + h[0] * 3600 + h[1] * 60 + h[2])
}

/// Runs `ironbeat crm simulate`: reads the CIB (or compiles the
/// configuration), reports what it cannot honour on stderr, schedules and
/// prints.
pub fn simulate(args: &SimulateArgs) -> Result<()> {
    let asked = args.now.or(args.date);
    let (shown, document) = match (&args.xml, &args.config, &args.ha_d) {
        (Some(xml), _, _) => {
            let shown = xml.display().to_string();
            let text = read_input(xml)?;
            let document = match asked {
                Some(t) => cib::read_at(&text, t),
                None => cib::read(&text),
            }
            .map_err(|e| CrmError::Config(describe(&shown, &e)))?;
            (shown, document)
        }
        (None, Some(file), _) => (
            file.display().to_string(),
            configured(load_native_crm(file, None)?, args)?,
        ),
        (None, None, Some(dir)) => (
            dir.display().to_string(),
            configured(load_ha_d_crm(dir)?, args)?,
        ),
        (None, None, None) => {
            return Err(CrmError::Config(
                "nothing to simulate: give --xml FILE, --config FILE or --ha-d DIR".to_string(),
            )
            .into())
        }
    };
    for u in &document.unsupported {
        let id =
            u.id.as_deref()
                .map(|i| format!(" (id {i})"))
                .unwrap_or_default();
        eprintln!(
            "ironbeat: warning: {shown}: {}{id} is not supported and was ignored: {}",
            u.element_or_attribute, u.what
        );
    }
    for w in &document.warnings {
        // `FILE:LINE: <element id="…">: what`, as errors print.
        let text = w.to_string();
        match text.strip_prefix("line ") {
            Some(rest) => eprintln!("ironbeat: warning: {shown}:{rest}"),
            None => eprintln!("ironbeat: warning: {shown}: {text}"),
        }
    }
    // The time failures are judged at: --now/--date, else the CIB's
    // execution date (announced, as crm_simulate does), else the clock.
    let (now, from_cib) = match (asked, document.now) {
        (Some(t), _) => (t, false),
        (None, Some(t)) => (t, true),
        (None, None) => (
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
                .unwrap_or(0),
            false,
        ),
    };
    let transition = policy::schedule_with(
        &document.cluster,
        now,
        policy::Options {
            scores: args.show_scores,
        },
    );
    if args.json {
        let unsupported: Vec<serde_json::Value> = document
            .unsupported
            .iter()
            .map(|u| {
                serde_json::json!({
                    "element_or_attribute": u.element_or_attribute,
                    "id": u.id,
                    "what": u.what,
                })
            })
            .collect();
        let warnings: Vec<serde_json::Value> = document
            .warnings
            .iter()
            .map(|w| {
                serde_json::json!({
                    "element": w.element,
                    "id": w.id,
                    "line": w.line,
                    "what": w.what,
                })
            })
            .collect();
        let extra = BTreeMap::from([
            ("now".to_string(), now.into()),
            ("unsupported".to_string(), unsupported.into()),
            ("warnings".to_string(), warnings.into()),
        ]);
        // Written as it is serialized (no `Value` tree), through one
        // buffer: the document is megabytes at 10,000 resources.
        let doc = simulate::json_document(&document.cluster, &transition, args.show_scores, extra);
        let mut out = BufWriter::with_capacity(1 << 16, std::io::stdout().lock());
        doc.write_pretty(&mut out)?;
        out.write_all(b"\n")?;
        out.flush()?;
    } else {
        let sections = simulate::Sections {
            scores: args.show_scores,
            execution_date: if from_cib { Some(now) } else { None },
        };
        print!(
            "{}",
            simulate::simulation(&document.cluster, &transition, sections)
        );
    }
    // Actions on an ordering loop never run: the transition cannot finish,
    // and crm_simulate exits 1 too ("Transition failed: terminated").
    if !transition.never_run.is_empty() {
        anyhow::bail!(
            "{shown}: the transition cannot complete: {} action(s) wait on an ordering loop \
             (the warnings above name its constraints); remove one of them to break \
             the loop",
            transition.never_run.len()
        );
    }
    Ok(())
}

/// A configured cluster as a simulation input: every node online, except
/// those `--offline` takes down and those `--standby` puts in standby;
/// nothing running yet.
fn configured(mut cluster: Cluster, args: &SimulateArgs) -> Result<cib::Document, CrmError> {
    for node in &mut cluster.nodes {
        node.online = true;
    }
    for (option, names) in [("--offline", &args.offline), ("--standby", &args.standby)] {
        for name in names {
            let found = cluster
                .node_by_name(name)
                .or_else(|| {
                    cluster
                        .nodes
                        .iter()
                        .position(|n| n.name.eq_ignore_ascii_case(name))
                        .map(ironbeat_crm::model::NodeId)
                })
                .ok_or_else(|| {
                    let known: Vec<&str> = cluster.nodes.iter().map(|n| n.name.as_str()).collect();
                    CrmError::Usage(format!(
                        "{option} {name}: the configuration has no such node; its nodes are: {}",
                        known.join(", ")
                    ))
                })?;
            let node = &mut cluster.nodes[found.0];
            if option == "--offline" {
                node.online = false;
            } else {
                node.standby = true;
            }
        }
    }
    Ok(cib::Document {
        cluster,
        unsupported: Vec::new(),
        warnings: Vec::new(),
        now: None,
    })
}

/// `FILE:LINE: <element id="…">: what is wrong and how to fix it`.
fn describe(shown: &str, e: &cib::Error) -> String {
    let place = match e.line() {
        Some(line) => format!("{shown}:{line}"),
        None => shown.to_string(),
    };
    match e.kind() {
        cib::ErrorKind::Xml => format!("{place}: malformed CIB: {}", e.message()),
        _ => {
            let id = e.id().map(|i| format!(" id=\"{i}\"")).unwrap_or_default();
            format!("{place}: <{}{id}>: {}", e.element(), e.message())
        }
    }
}

fn read_input(xml: &Path) -> Result<String, CrmError> {
    let shown = xml.display().to_string();
    let mut bytes = Vec::new();
    let result = if shown == "-" {
        std::io::stdin().read_to_end(&mut bytes).map(|_| ())
    } else {
        std::fs::File::open(xml).and_then(|mut f| f.read_to_end(&mut bytes).map(|_| ()))
    };
    result.map_err(|e| CrmError::Io(format!("reading {shown}: {e}")))?;
    String::from_utf8(bytes).map_err(|e| {
        CrmError::Config(format!(
            "{shown}: not UTF-8 text (invalid byte at offset {}); a CIB is XML in UTF-8",
            e.utf8_error().valid_up_to()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_parse_as_utc() {
        assert_eq!(parse_date("1970-01-01 00:00:00"), Ok(0));
        assert_eq!(parse_date("2014-05-07 00:28:00"), Ok(1_399_422_480));
        assert_eq!(parse_date("2019-10-22T20:53:06Z"), Ok(1_571_777_586));
        assert_eq!(parse_date("2024-02-29"), Ok(1_709_164_800));
        for bad in [
            "",
            "yesterday",
            "2023-02-29 00:00:00",
            "2023-13-01 00:00:00",
            "2023-01-01 24:00:00",
            "2023-01-01 +1:00:00",
            "99999-01-01 00:00:00",
            "2023-01-01 00:00",
        ] {
            let err = parse_date(bad).unwrap_err();
            assert!(err.contains("YYYY-MM-DD HH:MM:SS"), "{bad}: {err}");
        }
    }
}
