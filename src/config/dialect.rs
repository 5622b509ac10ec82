//! The LogZilla rule dialect (`--dialect=logzilla`): rewriting raw rules into SEC rules
//! that mean what LogZilla's event-correlation documentation means.
//!
//! This module owns only text-to-text rewriting of [`RawRule`]s, done once at load time,
//! before validation; it runs nothing. The engine's part is small and lives in
//! `engine::structured` (fields of the current event, action-list variables in Perl
//! context operands) and `engine::subst` ([`crate::engine::subst::MatchVars::field_lookup`]
//! for the `$ENV{NAME}` forms).
//!
//! # What is rewritten
//!
//! * `type=PairWithWindow` becomes `type=Pair` with its window: the action runs at the
//!   first event, action2 at the second if it arrives within the window, and nothing when
//!   the window ends (SEC's PairWithWindow would run the first action only at expiry). A
//!   missing `desc2` defaults to `desc`, with a warning.
//! * An EventGroup rule without `window` gets [`EVENTGROUP_WINDOW`] seconds, with a
//!   warning.
//! * In context expressions, a parenthesised operand holding Perl
//!   (`($ENV{X} eq "4625")`, `($ENV{M} =~ /Down/)`, `($ENV{CPU} > 80)`) becomes SEC's
//!   `=( ... )` operand; see [`looks_like_perl`] for the test. `&&`, `||`, `!`, grouping
//!   and plain context names keep their meaning.
//! * `$ENV{NAME}` becomes a match variable whose value is the current event's field
//!   `NAME` (`EVENT_HOST` is field `host`), else the process environment: as text in
//!   desc, desc2, script, actions and context names (`$+{_ENV_NAME}`), as a Perl string
//!   literal in Perl code (eval actions and Perl context operands, `$+{_ENVQ_NAME}`), and
//!   escaped inside a Perl double-quoted string (`$+{_ENVS_NAME}`). So Perl code sees the
//!   value of the event that matched, even when it runs later (SingleWithScript).
//!   Patterns are left as written. In the second half of a Pair (desc2, context2,
//!   action2) whose pattern2 sets no match variables, SEC substitutes `$` variables from
//!   the first event when the operation starts; there the forms are written with `$$`,
//!   which that step turns into `$`, so they still read the second (current) event.
//! * `$thresh`, `$thresh2`, `$window`, `$window2` (any `thresh`/`window` keyword of the
//!   rule) in actions, descriptions, script and contexts become the keyword's value.
//! * `%username_%src_ip`: when `%username_` is not assigned anywhere in the file but
//!   `%username` is, it becomes `%{username}_%src_ip`.

use std::collections::HashSet;

use crate::config::reader::RawRule;

/// The window (seconds) an EventGroup rule gets when the rule has none.
pub const EVENTGROUP_WINDOW: &str = "3600";

/// Action-list variable names that actions of these rules assign (the target of
/// `assign`, `eval`, `call`, `lcall` and the other commands that set `%var`), plus SEC's
/// built-in `%s`, `%t`, `%u`.
pub fn assigned_vars<'a>(rules: impl IntoIterator<Item = &'a RawRule>) -> HashSet<String> {
    let mut out: HashSet<String> = ["s", "t", "u"].iter().map(|s| s.to_string()).collect();
    for raw in rules {
        for (k, v) in &raw.fields {
            if !k.starts_with("action") {
                continue;
            }
            let b = v.as_bytes();
            let mut i = 0;
            while i < b.len() {
                // a command word followed by white space and %name
                if b[i].is_ascii_alphabetic() && (i == 0 || !is_word(b[i - 1])) {
                    let w0 = i;
                    while i < b.len() && b[i].is_ascii_alphanumeric() {
                        i += 1;
                    }
                    let word = &v[w0..i];
                    let mut j = i;
                    while j < b.len() && b[j].is_ascii_whitespace() {
                        j += 1;
                    }
                    if j > i && b.get(j) == Some(&b'%') && is_setter(word) {
                        let n = var_len(&b[j + 1..]);
                        if n > 0 {
                            out.insert(v[j + 1..j + 1 + n].to_string());
                        }
                    }
                    continue;
                }
                i += 1;
            }
        }
    }
    out
}

fn is_setter(word: &str) -> bool {
    matches!(
        word,
        "assign"
            | "assignsq"
            | "eval"
            | "call"
            | "lcall"
            | "getsize"
            | "getaliases"
            | "getltime"
            | "getctime"
            | "getlifetime"
            | "pop"
            | "shift"
            | "copy"
            | "exists"
            | "empty"
            | "cmd"
    )
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The length of an action-list variable name (`\.?[A-Za-z]\w*`) at the start of `s`.
fn var_len(s: &[u8]) -> usize {
    let dot = usize::from(s.first() == Some(&b'.'));
    if s.get(dot).is_some_and(u8::is_ascii_alphabetic) {
        dot + s[dot..].iter().take_while(|&&c| is_word(c)).count()
    } else {
        0
    }
}

/// Rewrites one raw rule of `file` (see the module docs); `assigned` is
/// [`assigned_vars`] of the file. Warnings name the file and the rule's line.
pub fn rewrite(file: &str, raw: &RawRule, assigned: &HashSet<String>) -> RawRule {
    let mut out = raw.clone();
    let warn = |msg: &str| {
        crate::warn!(
            "Rule in {file} at line {}: {msg} (--dialect=logzilla)",
            raw.start_line
        )
    };
    let ty = raw.get("type").unwrap_or("").to_ascii_lowercase();
    if ty == "pairwithwindow" {
        set(&mut out, "type", "Pair");
        if !raw.has("desc2") {
            if let Some(d) = raw.get("desc") {
                warn("PairWithWindow without desc2, using desc");
                set(&mut out, "desc2", d);
            }
        }
    }
    if ty.starts_with("eventgroup") && !raw.has("window") {
        warn(&format!(
            "EventGroup without window, using window={EVENTGROUP_WINDOW}"
        ));
        set(&mut out, "window", EVENTGROUP_WINDOW);
    }
    let ptype2 = raw.get("ptype2").unwrap_or("").to_ascii_lowercase();
    let pair_first_vars = (ty == "pair" || ty == "pairwithwindow")
        && !matches!(
            ptype2.as_str(),
            "regexp" | "nregexp" | "perlfunc" | "nperlfunc" | "cached"
        )
        && !ptype2.starts_with("regexp")
        && !ptype2.starts_with("nregexp")
        && !ptype2.starts_with("perlfunc")
        && !ptype2.starts_with("nperlfunc");
    let params: Vec<(String, String)> = out
        .fields
        .iter()
        .filter(|(k, _)| {
            let base = k.trim_end_matches(|c: char| c.is_ascii_digit());
            base == "thresh" || base == "window"
        })
        .cloned()
        .collect();
    for (k, v) in out.fields.iter_mut() {
        let base = k.trim_end_matches(|c: char| c.is_ascii_digit());
        let new = match base {
            "action" => {
                let a = subst_params(v, &params);
                backoff_vars(&rewrite_action(&a), assigned)
            }
            "desc" | "script" => rewrite_text_env(&subst_params(v, &params)),
            "context" => rewrite_context(&subst_params(v, &params)),
            _ => continue,
        };
        // A Pair whose pattern2 sets no match variables (SubStr, TValue, ...) has the
        // second half's `$` variables substituted from the first event when the
        // operation starts; `$$` survives that, so `$ENV{NAME}` there still reads the
        // second (current) event.
        *v = if pair_first_vars && k.ends_with('2') {
            new.replace("$+{_ENV", "$$+{_ENV")
        } else {
            new
        };
    }
    out
}

fn set(raw: &mut RawRule, key: &str, value: &str) {
    match raw.fields.iter_mut().find(|(k, _)| k == key) {
        Some(f) => f.1 = value.to_string(),
        None => raw.fields.push((key.to_string(), value.to_string())),
    }
}

/// `$thresh` and friends replaced by the values in `params`.
fn subst_params(s: &str, params: &[(String, String)]) -> String {
    if params.is_empty() || !s.contains('$') {
        return s.to_string();
    }
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'$' && b.get(i + 1).is_some_and(u8::is_ascii_alphabetic) {
            let n = b[i + 1..].iter().take_while(|&&c| is_word(c)).count();
            let name = &s[i + 1..i + 1 + n];
            if let Some((_, v)) = params.iter().find(|(k, _)| k == name) {
                out.push_str(v);
                i += 1 + n;
                continue;
            }
        }
        let ch = s[i..].chars().next().unwrap_or('\0');
        out.push(ch);
        i += ch.len_utf8().max(1);
    }
    out
}

/// Calls `f(name, start, end)` for each `$ENV{NAME}` and copies the rest.
fn map_env(s: &str, f: &mut dyn FnMut(&str, usize) -> String) -> String {
    if !s.contains("$ENV{") {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 16);
    let mut rest = s;
    let mut base = 0;
    while let Some(p) = rest.find("$ENV{") {
        let body = &rest[p + 5..];
        let n = body
            .bytes()
            .take_while(|&c| c.is_ascii_alphanumeric() || c == b'_')
            .count();
        out.push_str(&rest[..p]);
        if n > 0 && body.as_bytes().get(n) == Some(&b'}') {
            out.push_str(&f(&body[..n], base + p));
            rest = &body[n + 1..];
            base += p + 5 + n + 1;
        } else {
            out.push_str("$ENV{");
            rest = body;
            base += p + 5;
        }
    }
    out.push_str(rest);
    out
}

/// `$ENV{NAME}` in text: the value as it is.
pub fn rewrite_text_env(s: &str) -> String {
    map_env(s, &mut |name, _| format!("$+{{_ENV_{name}}}"))
}

/// `$ENV{NAME}` in Perl code: a string literal outside strings, escaped inside
/// double-quoted strings, left alone inside single-quoted ones.
pub fn rewrite_perl_env(code: &str) -> String {
    // Quote state at each byte offset: 0 none, 1 double, 2 single.
    let b = code.as_bytes();
    let mut state = vec![0u8; b.len() + 1];
    let mut q = 0u8;
    let mut i = 0;
    while i < b.len() {
        state[i] = q;
        match (q, b[i]) {
            (_, b'\\') if q != 0 => {
                if i + 1 < b.len() {
                    state[i + 1] = q;
                }
                i += 2;
                continue;
            }
            (0, b'"') => q = 1,
            (0, b'\'') => q = 2,
            (1, b'"') | (2, b'\'') => q = 0,
            _ => {}
        }
        i += 1;
    }
    map_env(
        code,
        &mut |name, at| match state.get(at).copied().unwrap_or(0) {
            0 => format!("$+{{_ENVQ_{name}}}"),
            1 => format!("$+{{_ENVS_{name}}}"),
            _ => format!("$ENV{{{name}}}"),
        },
    )
}

/// An action list: eval code gets [`rewrite_perl_env`], the code of `lcall` is left
/// alone, and everything else gets [`rewrite_text_env`]; the bodies of `if`/`while`/
/// `else` are action lists themselves.
pub fn rewrite_action(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for (i, seg) in split_top(s, b';').iter().enumerate() {
        if i > 0 {
            out.push(';');
        }
        let lead = seg.len() - seg.trim_start().len();
        let body = &seg[lead..];
        let word: String = body
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        out.push_str(&seg[..lead]);
        match word.as_str() {
            "eval" => {
                // eval %var code
                let after = &body[4..];
                let ws = after.len() - after.trim_start().len();
                let var = after[ws..]
                    .split(|c: char| c.is_whitespace())
                    .next()
                    .unwrap_or("");
                let code_at = 4 + ws + var.len();
                out.push_str(&body[..code_at]);
                out.push_str(&rewrite_perl_env(&body[code_at..]));
            }
            "lcall" => out.push_str(body),
            "if" | "while" | "else" | "break" | "continue" => out.push_str(&map_groups(body)),
            _ => out.push_str(&rewrite_text_env(body)),
        }
    }
    out
}

/// Rewrites the parenthesised groups of an `if`/`while` action as action lists.
fn map_groups(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    let mut last = 0;
    while i < b.len() {
        if b[i] == b'(' {
            if let Some(end) = matching(b, i) {
                out.push_str(&rewrite_text_env(&s[last..i]));
                out.push('(');
                out.push_str(&rewrite_action(&s[i + 1..end]));
                out.push(')');
                i = end + 1;
                last = i;
                continue;
            }
        }
        i += 1;
    }
    out.push_str(&rewrite_text_env(&s[last..]));
    out
}

/// Splits at `sep` outside parentheses and quotes.
fn split_top(s: &str, sep: u8) -> Vec<&str> {
    let b = s.as_bytes();
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 1,
            b'(' => depth += 1,
            b')' => depth -= 1,
            c if c == sep && depth <= 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    parts.push(&s[start..]);
    parts
}

/// The index of the `)` matching the `(` at `open`, skipping quoted strings.
fn matching(b: &[u8], open: usize) -> Option<usize> {
    let mut depth = 0i32;
    let mut q = 0u8;
    let mut i = open;
    while i < b.len() {
        let c = b[i];
        if q != 0 {
            if c == b'\\' {
                i += 2;
                continue;
            }
            if c == q {
                q = 0;
            }
        } else {
            match c {
                b'"' | b'\'' => q = c,
                b'(' => depth += 1,
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(i);
                    }
                }
                _ => {}
            }
        }
        i += 1;
    }
    None
}

/// Whether the text of a parenthesised context operand is Perl rather than a
/// sub-expression of context names. Nested parenthesised groups are set aside (they are
/// judged on their own); in what is left, a quote, a comparison or match operator
/// (`=~ !~ == != < > eq ne lt gt le ge`) or a Perl variable (`$name`, but not the match
/// variables `$1`, `${1}`, `$+{name}`, nor `$ENV{NAME}`) makes it Perl, and so does
/// `$ENV{NAME}` when no `&&` or `||` joins operands at this level (`($ENV{FLAG})`).
pub fn looks_like_perl(s: &str) -> bool {
    let b = s.as_bytes();
    let mut top = String::with_capacity(s.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'(' {
            if let Some(end) = matching(b, i) {
                top.push_str("()");
                i = end + 1;
                continue;
            }
        }
        let ch = s[i..].chars().next().unwrap_or('\0');
        top.push(ch);
        i += ch.len_utf8().max(1);
    }
    let t = top.as_bytes();
    for (i, &c) in t.iter().enumerate() {
        match c {
            b'$' if t
                .get(i + 1)
                .is_some_and(|n| n.is_ascii_alphabetic() || *n == b'_')
                && !top[i..].starts_with("$ENV{") =>
            {
                return true
            }
            b'"' | b'\'' | b'<' | b'>' => return true,
            b'=' | b'!' if matches!(t.get(i + 1), Some(b'~') | Some(b'=')) => return true,
            _ => {}
        }
    }
    if top
        .split(|c: char| !c.is_ascii_alphanumeric())
        .any(|w| matches!(w, "eq" | "ne" | "lt" | "gt" | "le" | "ge"))
    {
        return true;
    }
    top.contains("$ENV{") && !top.contains("&&") && !top.contains("||")
}

/// A context expression: Perl operands become `=( ... )` with [`rewrite_perl_env`]; the
/// rest gets [`rewrite_text_env`].
pub fn rewrite_context(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len() + 8);
    let mut i = 0;
    let mut last = 0;
    while i < b.len() {
        if b[i] == b'(' {
            if let Some(end) = matching(b, i) {
                let before = s[last..i].trim_end();
                let inner = &s[i + 1..end];
                out.push_str(&rewrite_text_env(&s[last..i]));
                if before.ends_with("->") || before.ends_with(":>") {
                    out.push_str(&s[i..=end]);
                } else if before.ends_with('=') {
                    out.push('(');
                    out.push_str(&rewrite_perl_env(inner));
                    out.push(')');
                } else if looks_like_perl(inner) {
                    out.push_str("=(");
                    out.push_str(&rewrite_perl_env(inner));
                    out.push(')');
                } else {
                    out.push('(');
                    out.push_str(&rewrite_context(inner));
                    out.push(')');
                }
                i = end + 1;
                last = i;
                continue;
            }
        }
        i += 1;
    }
    out.push_str(&rewrite_text_env(&s[last..]));
    out
}

/// `%name_` that no action assigns, where `%name` is assigned, becomes `%{name}_`.
fn backoff_vars(s: &str, assigned: &HashSet<String>) -> String {
    if !s.contains('%') {
        return s.to_string();
    }
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len() + 8);
    let mut i = 0;
    let mut last = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if b.get(i + 1) == Some(&b'%') {
                i += 2;
                continue;
            }
            let n = var_len(&b[i + 1..]);
            if n > 0 {
                let name = &s[i + 1..i + 1 + n];
                let short = name.trim_end_matches('_');
                if name.ends_with('_') && !assigned.contains(name) && assigned.contains(short) {
                    out.push_str(&s[last..i]);
                    out.push_str("%{");
                    out.push_str(short);
                    out.push('}');
                    out.push_str(&name[short.len()..]);
                    last = i + 1 + n;
                }
                i += 1 + n;
                continue;
            }
        }
        i += 1;
    }
    out.push_str(&s[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_operands() {
        assert_eq!(
            rewrite_context(r#"($ENV{EVENT_P} eq "x") && ($ENV{M} =~ /Down/)"#),
            r#"=($+{_ENVQ_EVENT_P} eq "x") && =($+{_ENVQ_M} =~ /Down/)"#
        );
        assert_eq!(rewrite_context("(A || B) && !C"), "(A || B) && !C");
        assert_eq!(rewrite_context("!($ENV{F})"), "!=($+{_ENVQ_F})");
        assert_eq!(
            rewrite_context(r#"A && (($ENV{X} > 80) || B_$ENV{H})"#),
            r#"A && (=($+{_ENVQ_X} > 80) || B_$+{_ENV_H})"#
        );
        assert_eq!(
            rewrite_context(r#"$1 -> ( sub { $ENV{X} } )"#),
            r#"$1 -> ( sub { $ENV{X} } )"#
        );
        assert_eq!(
            rewrite_context(r#"($ENV{S} eq "%ip" && "$ENV{H}" ne '$ENV{H}')"#),
            r#"=($+{_ENVQ_S} eq "%ip" && "$+{_ENVS_H}" ne '$ENV{H}')"#
        );
    }

    #[test]
    fn actions() {
        let assigned = assigned_vars(&[RawRule {
            start_line: 1,
            fields: vec![("action".into(), "eval %username 1; assign %src_ip x".into())],
        }]);
        let a = rewrite_action(
            "eval %h $ENV{EVENT_HOST}; create C_%username_%src_ip; shellcmd (echo \"$ENV{EVENT_HOST}\")",
        );
        assert_eq!(
            a,
            "eval %h $+{_ENVQ_EVENT_HOST}; create C_%username_%src_ip; shellcmd (echo \"$+{_ENV_EVENT_HOST}\")"
        );
        assert_eq!(
            backoff_vars(&a, &assigned),
            "eval %h $+{_ENVQ_EVENT_HOST}; create C_%{username}_%src_ip; shellcmd (echo \"$+{_ENV_EVENT_HOST}\")"
        );
        assert_eq!(
            rewrite_action("if %x ( eval %y $ENV{A} ) else ( write - $ENV{A} )"),
            "if %x ( eval %y $+{_ENVQ_A} ) else ( write - $+{_ENV_A} )"
        );
    }

    #[test]
    fn params() {
        let p = vec![
            ("thresh".to_string(), "10".to_string()),
            ("window".to_string(), "300".to_string()),
        ];
        assert_eq!(
            subst_params("a=$thresh w=$window $thresh2 $1", &p),
            "a=10 w=300 $thresh2 $1"
        );
    }
}
