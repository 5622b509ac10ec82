//! Load-time checks of Perl code in rules (PerlFunc patterns, `->`/`:>` operands, lcall,
//! `=( )` operands, eval actions). This module owns only these checks; it must not run
//! rule code for effect (that is the engine's job, `engine::perl`).
//!
//! SEC evaluates code-reference code when it loads the rule and rejects the rule unless
//! the result is a code reference. rsec evaluates it with its native interpreter in a
//! scratch interpreter (the code of these points is a `sub { ... }` expression, which has
//! no side effects); when the native subset does not cover the code, real perl, if
//! installed, settles whether SEC would accept it.
//!
//! [`check_rule_perl`] then applies `--perl`: with `off` any Perl code rejects the rule,
//! with `native` code outside the native subset does (naming the construct), and with
//! `auto` code outside the subset does when perl is not installed.
//! [`files_need_bridge`] tells whether the loaded rules need the perl bridge (in which
//! case, with `auto`, all their Perl code runs there; see `engine::perl`).

use std::process::{Command, Stdio};

use crate::cli::PerlMode;
use crate::config::action::Action;
use crate::config::context::{ContextExpr, CtxOp};
use crate::config::model::{PatternKind, Rule, RuleFile, RuleKind};
use crate::perl::{Context, ErrorKind, Interp, Value};

/// Why code was refused: the message SEC-style errors show after "didn't return a code
/// reference:".
pub type Refusal = String;

/// Checks that `code` evaluates to a code reference, as SEC requires at load time.
pub fn check_code_ref(code: &str) -> Result<(), Refusal> {
    let mut interp = Interp::new();
    let native = interp
        .compile(code)
        .and_then(|c| interp.eval(&c, Context::Scalar));
    match native {
        Ok(v) => match v.first() {
            Some(Value::CodeRef(_)) => Ok(()),
            Some(other) if other.is_defined() => Err(other.to_string_perl()),
            _ => Err("undef".into()),
        },
        Err(e) if e.kind == ErrorKind::Unsupported || e.kind == ErrorKind::Syntax => {
            match real_perl_accepts(code) {
                Some(true) => Ok(()),
                Some(false) => Err(e.message.trim_end().to_string()),
                None if e.kind == ErrorKind::Syntax => Err(e.message.trim_end().to_string()),
                None => Err(format!(
                    "{} (outside rsec's native Perl subset, and perl is not installed)",
                    e.message.trim_end()
                )),
            }
        }
        Err(e) => Err(e.message.trim_end().to_string()),
    }
}

/// Asks real perl whether `code` evaluates to a code reference; None if perl is missing.
fn real_perl_accepts(code: &str) -> Option<bool> {
    if !crate::perl::bridge::perl_available() {
        return None;
    }
    let status = Command::new(crate::perl::bridge::perl_program())
        .args([
            "-e",
            "package main::SEC; my $r = eval $ARGV[0]; exit(ref($r) eq 'CODE' ? 0 : 1);",
            code,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .ok()?;
    Some(status.success())
}

/// True if `code` evaluates to a code reference (see [`check_code_ref`]).
pub fn looks_like_code_ref(code: &str) -> bool {
    check_code_ref(code).is_ok()
}

/// Where a snippet of Perl code sits in a rule (for messages).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// A PerlFunc or NPerlFunc pattern, or egpattern.
    Pattern,
    /// A `->`, `:>` or `=( )` context operand.
    Context,
    /// An eval or lcall action.
    Action,
}

impl Place {
    fn name(self) -> &'static str {
        match self {
            Place::Pattern => "pattern",
            Place::Context => "context expression",
            Place::Action => "action",
        }
    }
}

fn context_snippets(c: &ContextExpr, out: &mut Vec<(Place, String)>) {
    fn walk(ops: &[CtxOp], out: &mut Vec<(Place, String)>) {
        for op in ops {
            match op {
                CtxOp::ECode(code) | CtxOp::CCode { code, .. } => {
                    out.push((Place::Context, code.clone()))
                }
                CtxOp::Expression(inner) => walk(inner, out),
                _ => {}
            }
        }
    }
    walk(&c.ops, out);
}

fn action_snippets(list: &[Action], out: &mut Vec<(Place, String)>) {
    for a in list {
        match a {
            Action::Eval { code, .. } | Action::LCall { code, .. } => {
                out.push((Place::Action, code.clone()))
            }
            Action::Create { list, .. } => action_snippets(list, out),
            Action::Set {
                list: Some(list), ..
            } => action_snippets(list, out),
            Action::If {
                then, otherwise, ..
            } => {
                action_snippets(then, out);
                action_snippets(otherwise, out);
            }
            Action::While { body, .. } => action_snippets(body, out),
            _ => {}
        }
    }
}

/// Every piece of Perl code in a rule, with where it sits.
pub fn rule_snippets(rule: &Rule) -> Vec<(Place, String)> {
    let mut out = Vec::new();
    for m in crate::config::rule_matches(rule) {
        if matches!(
            m.pattern.kind,
            PatternKind::PerlFunc | PatternKind::NPerlFunc
        ) {
            out.push((Place::Pattern, m.pattern.text.clone()));
        }
        if let Some(c) = &m.context {
            context_snippets(c, &mut out);
        }
    }
    let mut lists: Vec<&Vec<Action>> = Vec::new();
    match &rule.kind {
        RuleKind::Single { action, .. }
        | RuleKind::SingleWithSuppress { action, .. }
        | RuleKind::Calendar { action, .. } => lists.push(action),
        RuleKind::SingleWithScript {
            action, action2, ..
        }
        | RuleKind::SingleWithThreshold {
            action, action2, ..
        } => {
            lists.push(action);
            lists.extend(action2.iter());
        }
        RuleKind::Pair {
            action, action2, ..
        }
        | RuleKind::SingleWith2Thresholds {
            action, action2, ..
        } => {
            lists.push(action);
            lists.push(action2);
        }
        RuleKind::EventGroup {
            events,
            action,
            init,
            slide,
            end,
            egpattern,
            ..
        } => {
            lists.push(action);
            lists.extend(init.iter().chain(slide.iter()).chain(end.iter()));
            lists.extend(events.iter().filter_map(|e| e.count.as_ref()));
            if let Some(p) = egpattern {
                if matches!(p.kind, PatternKind::PerlFunc | PatternKind::NPerlFunc) {
                    out.push((Place::Pattern, p.text.clone()));
                }
            }
        }
        RuleKind::Suppress { .. } | RuleKind::Jump { .. } => {}
    }
    if let RuleKind::Calendar {
        context: Some(c), ..
    } = &rule.kind
    {
        context_snippets(c, &mut out);
    }
    for l in lists {
        action_snippets(l, &mut out);
    }
    out
}

fn short(code: &str) -> String {
    let one: String = code.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() > 60 {
        format!("{}...", one.chars().take(57).collect::<String>())
    } else {
        one
    }
}

/// Applies `--perl` to a valid rule: the reason it must be rejected, if it must.
pub fn check_rule_perl(rule: &Rule, mode: PerlMode) -> Result<(), String> {
    for (place, code) in rule_snippets(rule) {
        let unsupported = crate::perl::supports(&code).err();
        match mode {
            PerlMode::Off => {
                return Err(format!(
                    "Perl code in {} '{}' is not allowed with --perl=off",
                    place.name(),
                    short(&code)
                ))
            }
            PerlMode::Native => {
                if let Some(u) = unsupported {
                    return Err(format!(
                        "Perl code in {} '{}' is outside rsec's native Perl subset ({}), \
                         not allowed with --perl=native",
                        place.name(),
                        short(&code),
                        u.construct
                    ));
                }
            }
            PerlMode::Auto => {
                if let Some(u) = unsupported {
                    if !crate::perl::bridge::perl_available() {
                        return Err(format!(
                            "Perl code in {} '{}' is outside rsec's native Perl subset ({}) \
                             and needs perl, which is not installed",
                            place.name(),
                            short(&code),
                            u.construct
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

/// True if some Perl code of the loaded rules is outside the native subset, so that with
/// `--perl=auto` all Perl code of the ruleset runs in the perl bridge.
pub fn files_need_bridge(files: &[RuleFile]) -> bool {
    files.iter().flat_map(|f| &f.rules).any(|r| {
        rule_snippets(r)
            .iter()
            .any(|(_, code)| crate::perl::supports(code).is_err())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_refs() {
        assert!(looks_like_code_ref("sub { $_[0] > 1 }"));
        assert!(looks_like_code_ref(" sub {return \"}\";} ; "));
        assert!(!looks_like_code_ref("sub { $_[0] > 1 "));
        assert!(!looks_like_code_ref("1"));
    }
}
