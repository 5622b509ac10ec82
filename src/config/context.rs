//! Context expressions: parsing `context=` values into the postfix program SEC evaluates.
//!
//! The split into operands and operators comes from grammar/context.pest; the meaning of
//! each operand follows SEC's order of tests (`!`, then `->`/`:>` code, `=` code,
//! `varset`, then a plain name or a parenthesised sub-expression). The program is kept in
//! SEC's postfix form because SEC's evaluator reads it linearly, and rsec must give the
//! same result, including for `A || B && C` (evaluated as `A && B`). This module only
//! parses; evaluation belongs to the engine.

use pest::iterators::Pair;
use pest::Parser;

use crate::config::perlcode::looks_like_code_ref;
use crate::config::reader::{is_perl_space, perl_trim};

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/context.pest"]
struct ContextParser;

/// One step of a context expression program (postfix, as SEC stores it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CtxOp {
    /// A context name (may hold match variables).
    Operand(String),
    /// A parenthesised sub-expression.
    Expression(Vec<CtxOp>),
    /// `= CODE`: a Perl miniprogram evaluated each time.
    ECode(String),
    /// `params -> CODE` (`cache: false`) or `params :> CODE` (`cache: true`).
    CCode {
        /// Whitespace-separated parameters (may hold match variables).
        params: Vec<String>,
        /// The Perl source of the code reference.
        code: String,
        /// True for `:>`: parameters name pattern-match-cache entries.
        cache: bool,
    },
    /// `varset NAME`: whether a pattern-match-cache entry exists.
    VarSet(String),
    /// `!` applied to the preceding operand.
    Not,
    /// `&&` of the two preceding operands.
    And,
    /// `||` of the two preceding operands.
    Or,
}

/// A parsed context expression.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContextExpr {
    /// The expression as written (without the `[ ]` of pre-evaluation).
    pub source: String,
    /// True when written as `[ ... ]`: evaluated before the pattern is matched.
    pub preeval: bool,
    /// The postfix program.
    pub ops: Vec<CtxOp>,
}

impl ContextExpr {
    /// True if any operand runs Perl code.
    pub fn has_perl(&self) -> bool {
        fn walk(ops: &[CtxOp]) -> bool {
            ops.iter().any(|op| match op {
                CtxOp::ECode(_) | CtxOp::CCode { .. } => true,
                CtxOp::Expression(inner) => walk(inner),
                _ => false,
            })
        }
        walk(&self.ops)
    }
}

/// Why a context expression was rejected, and lint findings for accepted ones.
#[derive(Clone, Debug, Default)]
pub struct ContextReport {
    /// Extra error lines SEC logs before "Invalid context expression" (bad Perl code,
    /// unexpected sub-expressions).
    pub errors: Vec<String>,
    /// For `A || B && C` and friends: the parenthesised form the author probably meant.
    pub ambiguous: Option<String>,
}

/// Parses a `context=` value. `[ ... ]` around the whole value marks pre-evaluation.
pub fn parse(value: &str, report: &mut ContextReport) -> Option<ContextExpr> {
    let (text, preeval) = strip_preeval(value);
    let ops = parse_expr(text, report)?;
    Some(ContextExpr {
        source: text.to_string(),
        preeval,
        ops,
    })
}

/// SEC's `[ ... ]` test: brackets around the whole value, whitespace allowed outside.
pub fn strip_preeval(value: &str) -> (&str, bool) {
    let t = perl_trim(value);
    if t.len() >= 2 && t.starts_with('[') && t.ends_with(']') {
        (&t[1..t.len() - 1], true)
    } else {
        (value, false)
    }
}

/// The placeholder for a masked parenthesised group (SEC masks groups the same way).
const MASK: char = '\u{1}';

fn parse_expr(text: &str, report: &mut ContextReport) -> Option<Vec<CtxOp>> {
    let mut pairs = ContextParser::parse(Rule::expr, text).ok()?;
    let expr = pairs.next()?;
    let or_expr = expr.into_inner().next()?;
    let mut ops = Vec::new();
    let mut ands: Vec<Vec<String>> = Vec::new();
    for (i, and_expr) in or_expr.into_inner().enumerate() {
        let mut pieces_text = Vec::new();
        for (j, piece) in and_expr.into_inner().enumerate() {
            pieces_text.push(piece.as_str().trim_matches(is_perl_space).to_string());
            piece_ops(piece, &mut ops, report)?;
            if j > 0 {
                ops.push(CtxOp::And);
            }
        }
        ands.push(pieces_text);
        if i > 0 {
            ops.push(CtxOp::Or);
        }
    }
    if ands.len() > 1 && ands.iter().skip(1).any(|a| a.len() > 1) {
        let meant: Vec<String> = ands
            .iter()
            .map(|a| {
                if a.len() > 1 {
                    format!("({})", a.join(" && "))
                } else {
                    a.join("")
                }
            })
            .collect();
        report.ambiguous.get_or_insert(meant.join(" || "));
    }
    Some(ops)
}

/// Removes the backslash of `\(` and `\)`.
pub fn unescape_parens(s: &str) -> String {
    s.replace("\\(", "(").replace("\\)", ")")
}

/// Classifies one operand with SEC's order of tests and appends its program.
fn piece_ops(
    piece: Pair<'_, Rule>,
    ops: &mut Vec<CtxOp>,
    report: &mut ContextReport,
) -> Option<()> {
    // Mask the top-level groups, as SEC does before it looks at an operand.
    let base = piece.as_span().start();
    let full = piece.as_str();
    let mut masked = String::new();
    let mut groups = Vec::new();
    let mut last = 0;
    for inner in piece.into_inner() {
        if inner.as_rule() == Rule::group {
            let (s, e) = (inner.as_span().start() - base, inner.as_span().end() - base);
            masked.push_str(&full[last..s]);
            masked.push(MASK);
            let content = inner.as_str();
            groups.push(content[1..content.len() - 1].to_string());
            last = e;
        }
    }
    masked.push_str(&full[last..]);
    let mut groups = groups.into_iter();
    let result = classify(&masked, &mut groups, ops, report);
    let leftover: Vec<String> = groups.collect();
    if !leftover.is_empty() {
        for g in leftover {
            report
                .errors
                .push(format!("Unexpected subexpression '{g}' in '{full}'"));
        }
        return None;
    }
    result
}

fn classify(
    masked: &str,
    groups: &mut std::vec::IntoIter<String>,
    ops: &mut Vec<CtxOp>,
    report: &mut ContextReport,
) -> Option<()> {
    let t = masked.trim_start_matches(is_perl_space);
    let mask_s = MASK.to_string();
    // `!` in front of the operand.
    if let Some(rest) = t.strip_prefix('!') {
        classify(rest, groups, ops, report)?;
        ops.push(CtxOp::Not);
        return Some(());
    }
    // `params -> code` / `params :> code`: the first arrow of either kind.
    let arrow = [t.find("->"), t.find(":>")].into_iter().flatten().min();
    if let Some(pos) = arrow {
        let params_text = perl_trim(&t[..pos]);
        let code_text = perl_trim(&t[pos + 2..]);
        if !code_text.is_empty() {
            let cache = &t[pos..pos + 2] == ":>";
            let params = if params_text == mask_s {
                unescape_parens(&groups.next()?)
            } else {
                unescape_parens(params_text)
            };
            let params: Vec<String> = params.split_whitespace_perl();
            let code = if code_text == mask_s {
                unescape_parens(&groups.next()?)
            } else {
                unescape_parens(code_text)
            };
            if !looks_like_code_ref(&code) {
                report.errors.push(format!(
                    "Eval '{code}' didn't return a code reference: undef"
                ));
                return None;
            }
            ops.push(CtxOp::CCode {
                params,
                code,
                cache,
            });
            return Some(());
        }
    }
    // `= code`.
    if let Some(rest) = t.strip_prefix('=') {
        let code = perl_trim(rest);
        if !code.is_empty() {
            let code = if code == mask_s {
                unescape_parens(&groups.next()?)
            } else {
                unescape_parens(code)
            };
            ops.push(CtxOp::ECode(code));
            return Some(());
        }
    }
    let trimmed = perl_trim(t);
    // `varset NAME`.
    if let Some(rest) = trimmed.strip_prefix("varset") {
        if rest.starts_with(is_perl_space) {
            let name = perl_trim(rest);
            if !name.contains(is_perl_space) {
                let name = if name == mask_s {
                    unescape_parens(&groups.next()?)
                } else {
                    unescape_parens(name)
                };
                ops.push(CtxOp::VarSet(name));
                return Some(());
            }
        }
    }
    // A single token: a name, or a parenthesised sub-expression.
    if trimmed.is_empty() || trimmed.contains(is_perl_space) {
        return None;
    }
    if trimmed == mask_s {
        let inner = groups.next()?;
        let sub = parse_expr(&inner, report)?;
        ops.push(CtxOp::Expression(sub));
    } else {
        ops.push(CtxOp::Operand(unescape_parens(trimmed)));
    }
    Some(())
}

/// Perl's `split(' ', $s)`: fields separated by runs of whitespace, leading ones ignored.
pub trait SplitPerl {
    /// Splits as Perl's `split(' ', ...)` does.
    fn split_whitespace_perl(&self) -> Vec<String>;
}

impl SplitPerl for str {
    fn split_whitespace_perl(&self) -> Vec<String> {
        self.split(is_perl_space)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    }
}

impl SplitPerl for String {
    fn split_whitespace_perl(&self) -> Vec<String> {
        self.as_str().split_whitespace_perl()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use CtxOp::*;

    fn p(s: &str) -> Option<Vec<CtxOp>> {
        parse(s, &mut ContextReport::default()).map(|c| c.ops)
    }
    fn op(s: &str) -> CtxOp {
        Operand(s.to_string())
    }

    #[test]
    fn precedence_is_secs() {
        assert_eq!(
            p("A || B && C"),
            Some(vec![op("A"), op("B"), op("C"), And, Or])
        );
        assert_eq!(
            p("A && B || C"),
            Some(vec![op("A"), op("B"), And, op("C"), Or])
        );
        assert_eq!(p("!A && B"), Some(vec![op("A"), Not, op("B"), And]));
        assert_eq!(p("a|||b"), Some(vec![op("a|"), op("b"), Or]));
    }

    #[test]
    fn groups_and_code() {
        assert_eq!(
            p("!(A || B)"),
            Some(vec![Expression(vec![op("A"), op("B"), Or]), Not])
        );
        assert_eq!(
            p("$1 -> ( sub { $_[0] > 1 && $_[0] < 5 } )"),
            Some(vec![CCode {
                params: vec!["$1".into()],
                code: " sub { $_[0] > 1 && $_[0] < 5 } ".into(),
                cache: false
            }])
        );
        assert_eq!(
            p("=(\"$1\" eq \"x\")"),
            Some(vec![ECode("\"$1\" eq \"x\"".into())])
        );
        assert_eq!(p("varset foo"), Some(vec![VarSet("foo".into())]));
        assert_eq!(p("x\\(y\\)"), Some(vec![op("x(y)")]));
    }

    #[test]
    fn rejections() {
        assert_eq!(p(" $3 < 1025 && ! tie_$1 "), None);
        assert_eq!(p("$1 -> sub { $_[0] > 1 && $_[0] < 5 }"), None);
        assert_eq!(p("(A"), None);
        assert_eq!(p("A)"), None);
        assert_eq!(p("A &&"), None);
        assert_eq!(p("foo(bar)"), None);
        assert_eq!(p(" ($ENV{X} eq \"4625\") "), None);
    }

    #[test]
    fn ambiguity_is_reported() {
        let mut r = ContextReport::default();
        parse("A || B && C", &mut r);
        assert_eq!(r.ambiguous.as_deref(), Some("A || (B && C)"));
        let mut r = ContextReport::default();
        parse("A && B || C", &mut r);
        assert_eq!(r.ambiguous, None);
    }

    #[test]
    fn preeval() {
        let c = parse(" [ A && B ] ", &mut ContextReport::default());
        assert!(c.is_some_and(|c| c.preeval));
    }
}
