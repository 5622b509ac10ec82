//! Reading rule files into a typed, validated model, with SEC 2.9.1's diagnostics and rule
//! numbering. This module owns the meaning of rule-file text; it runs nothing, opens no
//! input and keeps no state between loads.
//!
//! Loading is two phases: [`reader`] turns bytes into raw rules (continuations, comments,
//! separators, labels), then [`validate`] checks each raw rule and types it. Context
//! expressions ([`context`]), action lists ([`action`]) and Calendar times ([`calendar`])
//! have their own parsers, the first two driven by the pest grammars in `grammar/`.

pub mod action;
pub mod calendar;
pub mod context;
pub mod dialect;
pub mod model;
pub mod perlcode;
pub mod reader;
pub mod text;
pub mod validate;

pub use model::{
    Continue, FileOptions, GroupEvent, Match, Pattern, PatternKind, Rule, RuleFile, RuleKind,
    Script, VarMapEntry,
};

use reader::Item;
use validate::Checked;

/// The rule dialect.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Dialect {
    /// SEC 2.9.1's rule language, exactly.
    #[default]
    Sec,
    /// The LogZilla documentation's dialect, rewritten into SEC rules at load time
    /// ([`dialect`]).
    LogZilla,
}

/// Settings that change how rule files load.
#[derive(Clone, Debug, Default)]
pub struct LoadOptions {
    /// `--bufsize` (0 = automatic): patterns of more lines are rejected.
    pub bufsize: usize,
    /// The rule dialect.
    pub dialect: Dialect,
    /// `--perl`: which Perl code is accepted (see [`perlcode::check_rule_perl`]).
    pub perl: crate::cli::PerlMode,
}

/// Parses the text of one rule file. Messages go to the log; `ok` is false if anything
/// was rejected.
pub fn parse_rule_text(name: &str, text: &[u8], opts: &LoadOptions) -> RuleFile {
    crate::perl::bridge::set_regex_fallback(opts.perl == crate::cli::PerlMode::Auto);
    let text = text::decode(text);
    let read = reader::read(name, &text);
    let mut file = RuleFile {
        name: name.to_string(),
        ok: read.ok,
        ..RuleFile::default()
    };
    let mut labels: Vec<(String, usize)> = Vec::new();
    let assigned = (opts.dialect == Dialect::LogZilla).then(|| {
        dialect::assigned_vars(read.items.iter().filter_map(|i| match i {
            Item::Rule(r) => Some(r),
            _ => None,
        }))
    });
    for item in &read.items {
        match item {
            Item::Label(l) => {
                labels.retain(|(name, _)| name != l);
                labels.push((l.clone(), file.rules.len()));
            }
            Item::Rule(raw) => {
                let rewritten;
                let raw = match &assigned {
                    Some(a) => {
                        rewritten = dialect::rewrite(name, raw, a);
                        &rewritten
                    }
                    None => raw,
                };
                match validate::check_rule(name, raw, file.rules.len(), opts) {
                    Checked::Rule(rule) => file.rules.push(*rule),
                    Checked::Options(o) => file.options = o,
                    Checked::Rejected => file.ok = false,
                }
            }
        }
    }
    if file.rules.is_empty() {
        crate::warn!("No valid rules found in configuration file {name}");
    } else {
        resolve_labels(&mut file, &labels);
        crate::debug!("{} rules loaded from {name}", file.rules.len());
    }
    file.max_lines = file
        .rules
        .iter()
        .flat_map(rule_matches)
        .map(|m| m.pattern.lines)
        .max()
        .unwrap_or(1);
    file
}

/// Reads and parses one rule file. A file that cannot be read is logged and gives an
/// empty, not-ok result.
pub fn load_file(path: &str, opts: &LoadOptions) -> RuleFile {
    crate::notice!("Reading configuration from {path}");
    match std::fs::read(path) {
        Ok(bytes) => parse_rule_text(path, &bytes, opts),
        Err(e) => {
            crate::err!("Can't open configuration file {path} ({})", io_reason(&e));
            RuleFile {
                name: path.to_string(),
                ok: false,
                ..RuleFile::default()
            }
        }
    }
}

/// The text of an I/O error as Perl's `$!` gives it.
pub fn io_reason(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.find(" (os error") {
        Some(pos) => s[..pos].to_string(),
        None => s,
    }
}

/// Every pattern-bearing part of a rule (pattern 1, pattern2, EventGroup's patterns).
pub fn rule_matches(rule: &Rule) -> Vec<&Match> {
    match &rule.kind {
        RuleKind::Pair { m, m2, .. } => vec![m, m2],
        RuleKind::EventGroup { events, .. } => events.iter().map(|e| &e.m).collect(),
        other => other.first_match().into_iter().collect(),
    }
}

fn resolve_labels(file: &mut RuleFile, labels: &[(String, usize)]) {
    let name = file.name.clone();
    for rule in &mut file.rules {
        let number = rule.number;
        let line = rule.line;
        let fix = |cont: &mut Continue, k: &str| {
            if let Continue::GoTo { label, target } = cont {
                match labels.iter().find(|(l, _)| l == label) {
                    Some((_, id)) if *id > number => *target = Some(*id),
                    Some(_) => {
                        crate::warn!(
                            "Rule in {name} at line {line}: can't go backwards to label {label}, assuming continue{k}=DontCont"
                        );
                        *cont = Continue::DontCont;
                    }
                    None => {
                        crate::warn!(
                            "Rule in {name} at line {line}: label {label} does not exist, assuming continue{k}=DontCont"
                        );
                        *cont = Continue::DontCont;
                    }
                }
            }
        };
        match &mut rule.kind {
            RuleKind::Pair { m, m2, .. } => {
                fix(&mut m.cont, "");
                fix(&mut m2.cont, "2");
            }
            RuleKind::EventGroup { events, .. } => {
                for (i, e) in events.iter_mut().enumerate() {
                    fix(&mut e.m.cont, &validate::suffix(i));
                }
            }
            RuleKind::Single { m, .. }
            | RuleKind::SingleWithScript { m, .. }
            | RuleKind::SingleWithSuppress { m, .. }
            | RuleKind::SingleWithThreshold { m, .. }
            | RuleKind::SingleWith2Thresholds { m, .. }
            | RuleKind::Jump { m, .. } => fix(&mut m.cont, ""),
            RuleKind::Suppress { .. } | RuleKind::Calendar { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> RuleFile {
        parse_rule_text("t.sec", text.as_bytes(), &LoadOptions::default())
    }

    #[test]
    fn numbering_skips_invalid_and_options() {
        let f = load(
            "type=Options\nprocallin=no\n\ntype=single\nptype=substr\npattern=x\ndesc=d\naction=none\n\n\
             type=bogus\n\ntype=Single\nptype=RegExp\npattern=(\ndesc=d\naction=none\n\n\
             type=SingleWithThreshold\nptype=regexp\npattern=a\ndesc=d\naction=none\nwindow=3\nthresh=2\n",
        );
        assert!(!f.ok);
        assert_eq!(f.rules.len(), 2);
        assert_eq!(f.rules[1].number, 1);
        assert_eq!(f.rules[1].line, 18);
        assert!(!f.options.procallin);
    }

    #[test]
    fn goto_labels() {
        let f = load(
            "type=single\nptype=substr\npattern=x\ndesc=d\naction=none\ncontinue=GoTo L\n\n\
             type=single\nptype=substr\npattern=x\ndesc=d\naction=none\ncontinue=goto nowhere\n\n\
             label=L\n\ntype=single\nptype=substr\npattern=x\ndesc=d\naction=none\n",
        );
        assert!(f.ok);
        assert!(matches!(
            f.rules[0].kind.first_match().map(|m| &m.cont),
            Some(Continue::GoTo {
                target: Some(2),
                ..
            })
        ));
        assert!(matches!(
            f.rules[1].kind.first_match().map(|m| &m.cont),
            Some(Continue::DontCont)
        ));
    }

    #[test]
    fn logzilla_hint() {
        crate::logging::start_capture();
        let f = load(
            "type=Single\nptype=RegExp\npattern=x\ncontext=( $ENV{A} eq \"1\" )\ndesc=d\naction=none\n",
        );
        let log = crate::logging::take_capture();
        assert!(f.rules.is_empty());
        assert!(log.iter().any(|(_, m)| m.contains("--dialect=logzilla")));
    }
}
