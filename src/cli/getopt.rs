//! A word-by-word reader of the command line that behaves like SEC's (Perl's
//! Getopt::Long with its default settings), written from observed behaviour:
//!
//! * an option starts with `--`, `-` or `+`; its name is case-insensitive; `--` ends the
//!   options and everything after it is ignored; `-` alone is not an option;
//! * the value follows `=` or is the next word (whatever it looks like, even `--testonly`);
//!   `--opt=` with nothing after `=` is "requires an argument";
//! * an exact name wins; otherwise a prefix that names one option only is accepted, and a
//!   prefix shared by several options is an error that lists them;
//! * a flag given a value (`--tail=1`) is an error; `--noX` and `--no-X` turn a flag off;
//! * a number that does not fit its syntax is an error, and the word is used up.
//!
//! None of these errors stops SEC: each prints a message and the option is left as it was.
//! This reader does the same: it returns the items it understood and the messages, in the
//! order of the command line. rsec's own options are only matched by a prefix when no SEC
//! option matches it, so every abbreviation SEC accepts still means the same thing.

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use super::number;

/// What kind of value an option takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ArgKind {
    /// A string (`=s`).
    Str,
    /// An integer (`=i`).
    Int,
    /// A decimal, hex, binary or octal integer (`=o`).
    ExtInt,
    /// A real number (`=f`).
    Real,
    /// A flag with a `--noX` form (`!`).
    Bool,
    /// A flag without a negative form (`--help`, `--version`).
    Flag,
}

/// One option of the table.
#[derive(Debug, PartialEq)]
pub(crate) struct OptSpec {
    /// The name used in messages and in [`super::Options::given`].
    pub canonical: &'static str,
    /// Other names of the same option.
    pub aliases: &'static [&'static str],
    /// What value it takes.
    pub kind: ArgKind,
    /// True for rsec's own options, which SEC does not have.
    pub rsec_only: bool,
}

const fn opt(canonical: &'static str, kind: ArgKind) -> OptSpec {
    OptSpec {
        canonical,
        aliases: &[],
        kind,
        rsec_only: false,
    }
}

const fn alias(canonical: &'static str, alias: &'static [&'static str], kind: ArgKind) -> OptSpec {
    OptSpec {
        canonical,
        aliases: alias,
        kind,
        rsec_only: false,
    }
}

const fn rsec(canonical: &'static str) -> OptSpec {
    OptSpec {
        canonical,
        aliases: &[],
        kind: ArgKind::Str,
        rsec_only: true,
    }
}

use ArgKind::{Bool, ExtInt, Flag, Int, Real, Str};

/// Every option: SEC's 36, then rsec's own.
pub(crate) const SPECS: &[OptSpec] = &[
    opt("conf", Str),
    opt("input", Str),
    alias("input-timeout", &["input_timeout"], Int),
    alias("timeout-script", &["timeout_script"], Str),
    alias("reopen-timeout", &["reopen_timeout"], Int),
    alias("check-timeout", &["check_timeout"], Int),
    alias("poll-timeout", &["poll_timeout"], Real),
    alias("socket-timeout", &["socket_timeout"], Int),
    opt("blocksize", Int),
    opt("bufsize", Int),
    opt("evstoresize", Int),
    opt("cleantime", Int),
    opt("log", Str),
    opt("syslog", Str),
    opt("debug", Int),
    opt("pid", Str),
    opt("dump", Str),
    opt("user", Str),
    opt("group", Str),
    opt("umask", ExtInt),
    opt("ruleperf", Bool),
    opt("dumpfts", Bool),
    opt("dumpfjson", Bool),
    opt("quoting", Bool),
    opt("tail", Bool),
    opt("fromstart", Bool),
    opt("detach", Bool),
    opt("jointbuf", Bool),
    opt("keepopen", Bool),
    opt("rwfifo", Bool),
    opt("childterm", Bool),
    opt("intevents", Bool),
    opt("intcontexts", Bool),
    opt("testonly", Bool),
    alias("help", &["?"], Flag),
    opt("version", Flag),
    rsec("dialect"),
    rsec("perl"),
    rsec("time-source"),
    rsec("tz"),
    rsec("reorder-window"),
    rsec("late"),
    rsec("state"),
    rsec("state-interval"),
    rsec("input-format"),
    rsec("match-field"),
    rsec("timestamp-regex"),
    rsec("timestamp-format"),
];

/// A value the reader accepted for an option.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// A string option's value, as given.
    Str(OsString),
    /// A number option's value, already converted as SEC converts it.
    Num(f64),
    /// A flag: true for `--X`, false for `--noX`.
    Bool(bool),
}

/// One thing found on the command line, in order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Item {
    /// An option and its accepted value.
    Set(&'static OptSpec, Value),
    /// A word that is not an option (SEC reports it as an unknown argument).
    Stray(OsString),
    /// A message about a word that was not accepted.
    Warn(String),
}

/// One name of the table: the option, and whether this name is its `no` form.
struct Name {
    text: String,
    spec: &'static OptSpec,
    negated: bool,
}

fn names() -> Vec<Name> {
    let mut out = Vec::new();
    for spec in SPECS {
        for n in std::iter::once(&spec.canonical).chain(spec.aliases.iter()) {
            out.push(Name {
                text: (*n).to_string(),
                spec,
                negated: false,
            });
            if spec.kind == Bool {
                for prefix in ["no", "no-"] {
                    out.push(Name {
                        text: format!("{prefix}{n}"),
                        spec,
                        negated: true,
                    });
                }
            }
        }
    }
    out
}

/// The result of looking a name up.
enum Lookup {
    Found(&'static OptSpec, bool),
    Unknown,
    Ambiguous(Vec<String>),
}

fn lookup(name: &str) -> Lookup {
    let table = names();
    if let Some(n) = table.iter().find(|n| n.text == name) {
        return Lookup::Found(n.spec, n.negated);
    }
    // SEC's options first, so that rsec's additions never make an SEC abbreviation
    // ambiguous; rsec's options are abbreviated only among themselves.
    for rsec_only in [false, true] {
        let hits: Vec<&Name> = table
            .iter()
            .filter(|n| n.spec.rsec_only == rsec_only && n.text.starts_with(name))
            .collect();
        let Some(first) = hits.first() else {
            continue;
        };
        let same = hits
            .iter()
            .all(|n| std::ptr::eq(n.spec, first.spec) && n.negated == first.negated);
        if same {
            return Lookup::Found(first.spec, first.negated);
        }
        let mut list: Vec<String> = hits.iter().map(|n| n.text.clone()).collect();
        list.sort();
        return Lookup::Ambiguous(list);
    }
    Lookup::Unknown
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Reads the command line (without the program name) the way SEC does.
pub(crate) fn read(args: &[OsString]) -> Vec<Item> {
    let mut items = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let word = args[i].as_bytes();
        i += 1;
        if word == b"--" {
            // The end of the options: SEC silently ignores whatever follows.
            break;
        }
        let (starter, rest) = if let Some(r) = word.strip_prefix(b"--") {
            ("--", r)
        } else if let Some(r) = word.strip_prefix(b"-") {
            ("-", r)
        } else if let Some(r) = word.strip_prefix(b"+") {
            ("+", r)
        } else {
            items.push(Item::Stray(args[i - 1].clone()));
            continue;
        };
        if rest.is_empty() {
            if starter == "+" {
                items.push(Item::Warn("Missing option after +".to_string()));
            } else {
                items.push(Item::Stray(args[i - 1].clone()));
            }
            continue;
        }
        // `name=value`; an `=` in the first position is part of the name.
        let (name, optarg) = match rest.iter().skip(1).position(|&b| b == b'=') {
            Some(p) => (&rest[..=p], Some(&rest[p + 2..])),
            None => (rest, None),
        };
        let name = lossy(name).to_ascii_lowercase();
        let (spec, negated) = match lookup(&name) {
            Lookup::Found(spec, negated) => (spec, negated),
            Lookup::Unknown => {
                items.push(Item::Warn(format!("Unknown option: {name}")));
                continue;
            }
            Lookup::Ambiguous(list) => {
                items.push(Item::Warn(format!(
                    "Option {name} is ambiguous ({})",
                    list.join(", ")
                )));
                continue;
            }
        };
        let shown = if negated {
            format!("no{}", spec.canonical)
        } else {
            spec.canonical.to_string()
        };
        if matches!(spec.kind, Bool | Flag) {
            if optarg.is_some() {
                items.push(Item::Warn(format!(
                    "Option {shown} does not take an argument"
                )));
            } else {
                items.push(Item::Set(spec, Value::Bool(!negated)));
            }
            continue;
        }
        // The option needs a value: after `=`, or the next word whatever it is.
        let value: Vec<u8> = match optarg {
            Some(v) if !v.is_empty() => v.to_vec(),
            None if i < args.len() => {
                i += 1;
                args[i - 1].as_bytes().to_vec()
            }
            _ => {
                items.push(Item::Warn(format!("Option {shown} requires an argument")));
                continue;
            }
        };
        let bad = |what: &str| {
            Item::Warn(format!(
                "Value \"{}\" invalid for option {shown} ({what} expected)",
                lossy(&value)
            ))
        };
        let item = match spec.kind {
            Int if number::is_int(&value) => Item::Set(
                spec,
                Value::Num(number::numify(&number::without_underscores(&value))),
            ),
            Int => bad("number"),
            ExtInt if number::is_ext_int(&value) => {
                Item::Set(spec, Value::Num(number::ext_int_value(&value)))
            }
            ExtInt => bad("extended number"),
            Real if number::is_real(&value) => Item::Set(
                spec,
                Value::Num(number::numify(&number::without_underscores(&value))),
            ),
            Real => bad("real number"),
            _ => Item::Set(spec, Value::Str(OsString::from_vec(value))),
        };
        items.push(item);
    }
    items
}
