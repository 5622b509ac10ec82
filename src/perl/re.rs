//! The regex engine behind `=~`, `split` and `s///`: Perl pattern text in, match offsets out.
//!
//! This is the one place that knows which engine runs Perl patterns; it can be swapped for
//! the project's Perl-dialect wrapper without touching the interpreter.

use std::cell::OnceCell;

/// Capture group offsets of one match: group 0 is the whole match.
pub type Groups = Vec<Option<(usize, usize)>>;

/// A compiled Perl regex.
#[derive(Debug)]
pub struct Re {
    /// The Perl source (for diagnostics).
    pub source: String,
    /// Whether the pattern began with `\G` (must match exactly at `pos`).
    pub anchored_g: bool,
    /// Compiled with `$` as end-of-string only.
    fast: fancy_regex::Regex,
    /// Compiled with `$` also before a final newline (used when the subject ends in `\n`).
    nl_src: Option<String>,
    nl: OnceCell<Option<fancy_regex::Regex>>,
    /// Capture group names by group index (None for unnamed groups).
    pub names: Vec<Option<String>>,
}

impl Re {
    /// Compiles Perl pattern text with flags (`i`, `m`, `s`, `x`; others ignored).
    pub fn new(pat: &str, flags: &str) -> Result<Re, String> {
        let mut inline = String::new();
        for c in flags.chars() {
            if matches!(c, 'i' | 'm' | 's' | 'x') && !inline.contains(c) {
                inline.push(c);
            }
        }
        let multi = inline.contains('m');
        let (body, anchored_g) = match pat.strip_prefix("\\G") {
            Some(rest) => (rest, true),
            None => (pat, false),
        };
        let (fast_src, needs_nl) = translate(body, multi, false);
        let prefix = if inline.is_empty() {
            String::new()
        } else {
            format!("(?{inline})")
        };
        let fast = fancy_regex::Regex::new(&format!("{prefix}{fast_src}"))
            .map_err(|e| format!("{e} in regex; marked by <-- HERE in m/{pat}/"))?;
        let nl_src = if needs_nl {
            Some(format!("{prefix}{}", translate(body, multi, true).0))
        } else {
            None
        };
        Ok(Re {
            source: pat.to_string(),
            anchored_g,
            names: fast
                .capture_names()
                .map(|n| n.map(str::to_string))
                .collect(),
            fast,
            nl_src,
            nl: OnceCell::new(),
        })
    }

    /// Finds the first match starting at or after byte `pos` (exactly at `pos` when the
    /// pattern began with `\G`).
    pub fn find_at(&self, s: &str, pos: usize) -> Result<Option<Groups>, String> {
        if pos > s.len() || !s.is_char_boundary(pos) {
            return Ok(None);
        }
        let re = if self.nl_src.is_some() && s.ends_with('\n') {
            let nl = self.nl.get_or_init(|| {
                self.nl_src
                    .as_ref()
                    .and_then(|src| fancy_regex::Regex::new(src).ok())
            });
            nl.as_ref().unwrap_or(&self.fast)
        } else {
            &self.fast
        };
        let caps = re.captures_from_pos(s, pos).map_err(|e| e.to_string())?;
        let Some(caps) = caps else { return Ok(None) };
        let g: Groups = (0..caps.len())
            .map(|i| caps.get(i).map(|m| (m.start(), m.end())))
            .collect();
        if self.anchored_g && g.first().copied().flatten().map(|m| m.0) != Some(pos) {
            return Ok(None);
        }
        Ok(Some(g))
    }
}

/// Rewrites Perl-only syntax for the engine: `$` (end or before a final newline), `\Z`,
/// `\h`, and literal braces that are not quantifiers. Returns the text and whether a `$`
/// anchor was seen (so a newline-aware variant is needed).
fn translate(p: &str, multi: bool, nl: bool) -> (String, bool) {
    let chars: Vec<char> = p.chars().collect();
    let mut out = String::with_capacity(p.len() + 8);
    let mut in_class = false;
    let mut saw_dollar = false;
    let mut i = 0;
    let end_anchor = if nl { "(?=\\n?\\z)" } else { "\\z" };
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && i + 1 < chars.len() {
            let n = chars[i + 1];
            match n {
                'Z' if !in_class => {
                    saw_dollar = true;
                    out.push_str(end_anchor);
                }
                'h' => out.push_str(if in_class {
                    "\\t \\x{A0}"
                } else {
                    "[\\t \\x{A0}]"
                }),
                _ => {
                    out.push(c);
                    out.push(n);
                }
            }
            i += 2;
            continue;
        }
        if in_class {
            if c == ']' {
                in_class = false;
            }
            if c == '[' && chars.get(i + 1) == Some(&':') {
                // POSIX class [:alpha:]
                if let Some(end) = find_posix_end(&chars, i) {
                    out.extend(&chars[i..=end]);
                    i = end + 1;
                    continue;
                }
            }
            out.push(c);
            i += 1;
            continue;
        }
        match c {
            '[' => {
                in_class = true;
                out.push('[');
                i += 1;
                if chars.get(i) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
                if chars.get(i) == Some(&']') {
                    out.push_str("\\]");
                    i += 1;
                }
                continue;
            }
            '$' if !multi => {
                saw_dollar = true;
                out.push_str(end_anchor);
            }
            '{' => {
                if is_quantifier(&chars, i) {
                    out.push('{');
                } else {
                    out.push_str("\\{");
                }
            }
            '}' => {
                // A closing brace of a quantifier was pushed by is_quantifier's caller path;
                // decide by looking back for a matching quantifier opening.
                if closes_quantifier(&out) {
                    out.push('}');
                } else {
                    out.push_str("\\}");
                }
            }
            _ => out.push(c),
        }
        i += 1;
    }
    (out, saw_dollar)
}

fn find_posix_end(chars: &[char], start: usize) -> Option<usize> {
    let mut j = start + 2;
    while j + 1 < chars.len() {
        if chars[j] == ':' && chars[j + 1] == ']' {
            return Some(j + 1);
        }
        if !chars[j].is_ascii_alphabetic() && chars[j] != '^' {
            return None;
        }
        j += 1;
    }
    None
}

fn is_quantifier(chars: &[char], i: usize) -> bool {
    let mut j = i + 1;
    let mut digits = 0;
    while j < chars.len() && chars[j].is_ascii_digit() {
        j += 1;
        digits += 1;
    }
    if digits == 0 {
        return false;
    }
    if j < chars.len() && chars[j] == ',' {
        j += 1;
        while j < chars.len() && chars[j].is_ascii_digit() {
            j += 1;
        }
    }
    j < chars.len() && chars[j] == '}' && i > 0
}

fn closes_quantifier(out: &str) -> bool {
    // out ends with `{digits[,digits]` that was emitted unescaped
    let b = out.as_bytes();
    let mut j = b.len();
    while j > 0 && (b[j - 1].is_ascii_digit() || b[j - 1] == b',') {
        j -= 1;
    }
    j > 0 && j < b.len() && b[j - 1] == b'{' && (j < 2 || b[j - 2] != b'\\')
}
