//! A GNU `getopt`-style tokenizer for the two compatibility front ends, whose
//! published command lines are getopt's (cluster-glue's `stonith` is C
//! `getopt`, fence-agents use Python's `gnu_getopt`), not clap's:
//! clustered short flags (`-lS`), option arguments attached or separate
//! (`-tipmi`, `-t ipmi`), long options with `=` or a separate argument and
//! unique prefixes (`--pass=x`), operands anywhere (permuted, order kept),
//! `--` ends the options.

use crate::cli::exit::Fault;

use super::device::Problem;

/// What a command accepts.
#[derive(Debug, Clone, Copy)]
pub struct Spec<'a> {
    /// Short options that take an argument.
    pub short_with_argument: &'a str,
    /// Short options that do not.
    pub short_flags: &'a str,
    /// Long options (without `--`) and their arguments.
    pub long: &'a [(&'static str, Argument)],
}

/// Whether a long option takes an argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Argument {
    /// Never (`--help`).
    No,
    /// Always, after `=` or as the next argument (`--ip=x`, `--ip x`).
    Required,
    /// Only after `=` (`--lanplus`, `--lanplus=0`).
    Optional,
}

/// One item of a command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    /// A short option and its argument.
    Short(char, Option<String>),
    /// A long option (its full name) and its argument.
    Long(&'static str, Option<String>),
    /// An operand.
    Operand(String),
}

/// Splits `args` (without the program name) into options and operands.
pub fn parse(args: &[String], spec: &Spec<'_>) -> Result<Vec<Item>, Problem> {
    let mut items = Vec::new();
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        if arg == "--" {
            items.extend(rest.by_ref().cloned().map(Item::Operand));
            break;
        }
        if let Some(long) = arg.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let (full, takes) = find_long(name, spec)?;
            let value = match (takes, inline) {
                (Argument::Required | Argument::Optional, Some(v)) => Some(v),
                (Argument::Required, None) => Some(
                    rest.next()
                        .cloned()
                        .ok_or_else(|| Problem::usage(format!("option --{full} needs a value")))?,
                ),
                (Argument::No, Some(_)) => {
                    return Err(Problem::usage(format!("option --{full} takes no value")))
                }
                (Argument::No | Argument::Optional, None) => None,
            };
            items.push(Item::Long(full, value));
            continue;
        }
        match arg.strip_prefix('-') {
            Some(cluster) if !cluster.is_empty() => {
                for (at, c) in cluster.char_indices() {
                    if spec.short_with_argument.contains(c) {
                        let attached = &cluster[at + c.len_utf8()..];
                        let value = if attached.is_empty() {
                            rest.next().cloned().ok_or_else(|| {
                                Problem::usage(format!("option -{c} needs a value"))
                            })?
                        } else {
                            attached.to_string()
                        };
                        items.push(Item::Short(c, Some(value)));
                        break;
                    } else if spec.short_flags.contains(c) {
                        items.push(Item::Short(c, None));
                    } else {
                        return Err(Problem::usage(format!("unknown option -{c}")));
                    }
                }
            }
            _ => items.push(Item::Operand(arg.clone())),
        }
    }
    Ok(items)
}

fn find_long(name: &str, spec: &Spec<'_>) -> Result<(&'static str, Argument), Problem> {
    if let Some(&(full, takes)) = spec.long.iter().find(|(n, _)| *n == name) {
        return Ok((full, takes));
    }
    let matches: Vec<_> = spec
        .long
        .iter()
        .filter(|(n, _)| !name.is_empty() && n.starts_with(name))
        .collect();
    match matches[..] {
        [&(full, takes)] => Ok((full, takes)),
        [] => Err(Problem::usage(format!("unknown option --{name}"))),
        _ => Err(Problem::new(
            Fault::Usage,
            format!(
                "option --{name} is ambiguous: {}",
                matches
                    .iter()
                    .map(|(n, _)| format!("--{n}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}

/// The command line as UTF-8 strings (a non-UTF-8 argument is a usage error).
pub fn utf8_args(args: impl Iterator<Item = std::ffi::OsString>) -> Result<Vec<String>, Problem> {
    args.map(|a| {
        a.into_string().map_err(|a| {
            Problem::usage(format!(
                "argument {} is not UTF-8 text",
                a.to_string_lossy()
            ))
        })
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: Spec<'static> = Spec {
        short_with_argument: "tpT",
        short_flags: "lSsv",
        long: &[
            ("ha-d", Argument::Required),
            ("help", Argument::No),
            ("password", Argument::Required),
            ("password-script", Argument::Required),
            ("lanplus", Argument::Optional),
        ],
    };

    fn run(args: &[&str]) -> Result<Vec<Item>, Problem> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        parse(&args, &SPEC)
    }

    #[test]
    fn getopt_shapes() {
        let items = run(&[
            "-lS",
            "-tipmi",
            "a=b",
            "-T",
            "reset",
            "node2",
            "--ha-d=/x",
            "--",
            "-v",
        ])
        .unwrap();
        assert_eq!(
            items,
            vec![
                Item::Short('l', None),
                Item::Short('S', None),
                Item::Short('t', Some("ipmi".into())),
                Item::Operand("a=b".into()),
                Item::Short('T', Some("reset".into())),
                Item::Operand("node2".into()),
                Item::Long("ha-d", Some("/x".into())),
                Item::Operand("-v".into()),
            ]
        );
        assert_eq!(
            run(&["-vt", "ipmi", "-"]).unwrap(),
            vec![
                Item::Short('v', None),
                Item::Short('t', Some("ipmi".into())),
                Item::Operand("-".into())
            ]
        );
    }

    #[test]
    fn long_prefixes_and_errors() {
        assert_eq!(run(&["--he"]).unwrap(), vec![Item::Long("help", None)]);
        assert_eq!(
            run(&["--password", "x"]).unwrap(),
            vec![Item::Long("password", Some("x".into()))]
        );
        assert!(run(&["--pass=x"])
            .unwrap_err()
            .message
            .contains("ambiguous"));
        assert!(run(&["--nope"]).is_err());
        assert!(run(&["--help=1"]).is_err());
        assert!(run(&["-x"]).is_err());
        assert!(run(&["-t"]).is_err());
        assert!(run(&["--ha-d"]).is_err());
        assert_eq!(
            run(&["--lanplus=0", "--lanplus", "x"]).unwrap(),
            vec![
                Item::Long("lanplus", Some("0".into())),
                Item::Long("lanplus", None),
                Item::Operand("x".into())
            ]
        );
    }
}
