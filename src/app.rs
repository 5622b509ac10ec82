//! The program's phases, in order: options, logging, rule files, then (later) the engine.
//! `main.rs` calls [`run`]; this module wires the rooms together and owns nothing else.

use std::ffi::OsString;

use crate::config::{self, LoadOptions, RuleFile};

/// Options this phase needs (temporary, until the full command line lands).
#[derive(Default)]
struct Opts {
    conf: Vec<String>,
    log: Option<String>,
    debug: u8,
    testonly: bool,
    bufsize: usize,
}

fn parse_args(args: &[OsString]) -> Opts {
    let mut o = Opts {
        debug: 6,
        ..Opts::default()
    };
    let args: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let mut i = 0;
    while i < args.len() {
        let a = args[i].trim_start_matches('-');
        let (name, value) = match a.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (a.to_string(), None),
        };
        let mut take = || {
            value.clone().or_else(|| {
                i += 1;
                args.get(i).cloned()
            })
        };
        match name.as_str() {
            "conf" => o.conf.extend(take()),
            "log" => o.log = take(),
            "debug" => o.debug = take().and_then(|v| v.parse().ok()).unwrap_or(6),
            "bufsize" => o.bufsize = take().and_then(|v| v.parse().ok()).unwrap_or(0),
            "testonly" => o.testonly = true,
            _ => {}
        }
        i += 1;
    }
    o
}

/// Loads every rule file named by the `--conf` patterns, in order, skipping duplicates.
pub fn load_rule_files(patterns: &[String], opts: &LoadOptions) -> Vec<RuleFile> {
    let mut seen = std::collections::HashSet::new();
    let mut files = Vec::new();
    for pat in patterns {
        for name in crate::glob::glob(pat) {
            if seen.insert(name.clone()) {
                files.push(config::load_file(&name, opts));
            }
        }
    }
    files
}

/// Runs rsec with the given arguments (without the program name); returns the exit status.
pub fn run(args: Vec<OsString>) -> i32 {
    let o = parse_args(&args);
    if let Err(e) = crate::logging::init(o.debug, o.log.as_deref()) {
        eprintln!(
            "Can't open logfile {} ({e})",
            o.log.as_deref().unwrap_or("")
        );
        return 1;
    }
    crate::notice!(
        "SEC (Simple Event Correlator) 2.9.1 (rsec {})",
        env!("CARGO_PKG_VERSION")
    );
    let load = LoadOptions {
        bufsize: o.bufsize,
        ..LoadOptions::default()
    };
    let files = load_rule_files(&o.conf, &load);
    if o.testonly {
        return if files.iter().all(|f| f.ok) { 0 } else { 1 };
    }
    0
}
