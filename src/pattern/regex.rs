//! Perl regex dialect and matching for `RegExp`-family patterns.
//!
//! SEC compiles every RegExp pattern with `qr/$pattern/` and matches it against input
//! lines that are raw bytes, so this module reproduces Perl 5's pattern syntax and its
//! byte-string semantics: ASCII `\w` `\d` `\s`, `.` = any byte but `\n`, `$` matching at
//! the end or before a final newline, case folding of ASCII letters only, literal `{`
//! where it is not a quantifier, and so on (sec-reference G43).
//!
//! This module owns only the dialect and the matching: it turns a pattern into a
//! [`PerlRegex`], reports whether it matches and where its groups are. It must not touch
//! rule semantics (pattern types, line counts, negation) or match variables (`$1`,
//! `$+{name}`, `$0`, the list-context `(1)` for group-less patterns); callers build those
//! from the offsets returned here.
//!
//! A pattern is parsed once into a tree whose character leaves are byte sets (see
//! `ast`), then emitted for one of two engines:
//! - primary: `regex::bytes::Regex` with Unicode off, allocation-free matching;
//! - fallback: `fancy-regex`, for look-around, back-references, atomic groups,
//!   possessive quantifiers, `\K`, conditionals and Unicode-rule word boundaries. It
//!   runs on `&str`, so each byte is mapped to the Latin-1 char of the same value and
//!   offsets are mapped back. The fallback also runs a primary-engine pattern whose
//!   `$`, `\Z` or `/m ^` depend on a final newline when the text ends with `\n`.
//!
//! Refused with a "not supported by rsec" error although Perl accepts them: recursion and
//! subroutine calls (`(?R)`, `(?1)`, `(?&n)`, `(?P>n)`), `(?(R)..)`, `(?(DEFINE)..)`,
//! backtracking verbs other than `(*FAIL)`, `\X`, `\b{..}`, `\N{NAME}`, and variable-length
//! look-behind other than alternatives of fixed lengths; with `--perl=auto` such patterns
//! are compiled and matched by real perl through [`crate::perl::bridge`] instead (the only
//! hook is [`PerlRegex::from_bytes`] and the `bridged` field). Known differences: back-references
//! are case-sensitive under `/i`; a back-reference to a group that a zero-count loop reset
//! still sees the old value; `/l` follows Unicode rules (UTF-8 locale); `/u` multi-char
//! folds (`ß` = `ss`) are not applied.

mod ast;
mod parse;
mod quick;

use std::borrow::Cow;
use std::fmt::Write as _;
use std::sync::Mutex;

use ast::{Assert, ByteSet, GroupRef, Node};

/// Compile-size limit for both engines (Perl allows `{n}` up to 65534).
const SIZE_LIMIT: usize = 256 << 20;

/// The longest literal that every match of `h` contains, if any.
fn inner_literal(h: &regex_syntax::hir::Hir) -> Option<Vec<u8>> {
    use regex_syntax::hir::HirKind;
    match h.kind() {
        HirKind::Literal(l) => Some(l.0.to_vec()),
        HirKind::Capture(c) => inner_literal(&c.sub),
        HirKind::Concat(parts) => parts.iter().filter_map(inner_literal).max_by_key(Vec::len),
        _ => None,
    }
    .filter(|l| !l.is_empty())
}

/// The primary engine's regex, built from its source on first use.
#[derive(Clone)]
struct LazyPrimary {
    src: String,
    re: std::sync::OnceLock<Option<regex::bytes::Regex>>,
}

impl LazyPrimary {
    fn get(&self) -> Option<&regex::bytes::Regex> {
        self.re
            .get_or_init(|| {
                regex::bytes::RegexBuilder::new(&self.src)
                    .unicode(false)
                    .size_limit(SIZE_LIMIT)
                    .dfa_size_limit(SIZE_LIMIT)
                    .build()
                    .map_err(|e| {
                        crate::err!("Regular expression '{}' could not be built: {e}", self.src)
                    })
                    .ok()
            })
            .as_ref()
    }
}
/// Backtracking budget of the fallback engine per match attempt.
const BACKTRACK_LIMIT: usize = 10_000_000;

/// A compiled Perl-dialect pattern.
pub struct PerlRegex {
    pattern: String,
    primary: Option<LazyPrimary>,
    /// The one-pass backtracker for the common shapes (see `quick`), tried first.
    quick: Option<std::sync::Arc<quick::Quick>>,
    scratch: Mutex<quick::Scratch>,
    fallback: Option<fancy_regex::Regex>,
    /// The primary result may be wrong when the text ends with `\n`.
    nl_sensitive: bool,
    group_count: usize,
    /// Perl group number of each engine group (index = engine group - 1; 0 = none).
    ext_of_int: Vec<usize>,
    /// (marker, group) engine-group pairs: the group is unset when its marker matched
    /// at or after the group's end (Perl's CURLYM/CURLYN reset, see `ast::lower`).
    shadows: Vec<(usize, usize)>,
    identity: bool,
    names: Vec<(String, usize)>,
    locs: Mutex<Option<regex::bytes::CaptureLocations>>,
    /// The pattern bytes when perl matches it (a pattern rsec's engines refuse).
    bridged: Option<Vec<u8>>,
}

impl std::fmt::Debug for PerlRegex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PerlRegex")
            .field("pattern", &self.pattern)
            .field("fallback", &self.uses_fallback())
            .field("groups", &self.group_count)
            .finish()
    }
}

impl Clone for PerlRegex {
    fn clone(&self) -> Self {
        PerlRegex {
            pattern: self.pattern.clone(),
            primary: self.primary.clone(),
            quick: self.quick.clone(),
            scratch: Mutex::new(quick::Scratch::default()),
            fallback: self.fallback.clone(),
            nl_sensitive: self.nl_sensitive,
            group_count: self.group_count,
            ext_of_int: self.ext_of_int.clone(),
            shadows: self.shadows.clone(),
            identity: self.identity,
            names: self.names.clone(),
            locs: Mutex::new(None),
            bridged: self.bridged.clone(),
        }
    }
}

impl PerlRegex {
    /// Compiles `pattern` as Perl's `qr/$pattern/` would. The error explains why the
    /// pattern is invalid (Perl's wording where Perl rejects it), or names the Perl
    /// feature rsec does not support.
    pub fn new(pattern: &str) -> Result<PerlRegex, String> {
        PerlRegex::from_bytes(pattern.as_bytes())
    }

    /// Like [`PerlRegex::new`], for a pattern that is not valid UTF-8 (every byte is
    /// one pattern character, as in Perl).
    pub fn from_bytes(pattern: &[u8]) -> Result<PerlRegex, String> {
        match PerlRegex::from_bytes_native(pattern) {
            Err(e)
                if e.contains("not supported by rsec") && crate::perl::bridge::regex_fallback() =>
            {
                PerlRegex::bridged(pattern, e)
            }
            r => r,
        }
    }

    /// A pattern that perl compiles and matches through the bridge; `native_err` is the
    /// reason rsec's own engines refused it.
    fn bridged(pattern: &[u8], native_err: String) -> Result<PerlRegex, String> {
        use crate::perl::bridge::{regex_compile, BError};
        let group_count = match regex_compile(pattern) {
            Ok(n) => n,
            Err(BError::Die(m)) => return Err(m.trim_end().to_string()),
            Err(e) => return Err(format!("{native_err} ({e})")),
        };
        let mut names = scan_names(pattern);
        if names.iter().any(|(_, g)| *g > group_count) {
            names.clear();
        }
        Ok(PerlRegex {
            pattern: String::from_utf8_lossy(pattern).into_owned(),
            primary: None,
            quick: None,
            scratch: Mutex::new(quick::Scratch::default()),
            fallback: None,
            nl_sensitive: false,
            group_count,
            ext_of_int: (1..=group_count).collect(),
            shadows: Vec::new(),
            identity: true,
            names,
            locs: Mutex::new(None),
            bridged: Some(pattern.to_vec()),
        })
    }

    fn from_bytes_native(pattern: &[u8]) -> Result<PerlRegex, String> {
        let parsed = parse::parse(pattern)?;
        let (root, ext_of_int, shadows) = ast::lower(parsed.root, &parsed.ext_of_int);
        let needs_fallback = root.needs_fallback();
        let nl_sensitive = root.newline_sensitive();
        let em = Emitter {
            ext_of_int: &ext_of_int,
            names: &parsed.names,
        };
        let quick = if needs_fallback || !shadows.is_empty() {
            None
        } else {
            quick::Quick::new(&root, ext_of_int.len()).map(std::sync::Arc::new)
        };
        let primary = if needs_fallback {
            None
        } else {
            let mut src = String::new();
            em.emit(&root, false, &mut src);
            // Check the syntax now; build the matcher on first use, since building
            // thousands of rule patterns up front made loading slow. A pattern the
            // backtracker runs is made of pieces the emitter always writes validly, so
            // the check is skipped there (Pair rules compile a pattern2 per operation).
            if quick.is_none() {
                regex_syntax::ParserBuilder::new()
                    .unicode(false)
                    .utf8(false)
                    .build()
                    .parse(&src)
                    .map_err(|e| format!("pattern too complex for rsec: {}", e))?;
            }
            Some(LazyPrimary {
                src,
                re: std::sync::OnceLock::new(),
            })
        };
        let fallback = if needs_fallback || nl_sensitive {
            let mut src = String::new();
            em.emit(&root, true, &mut src);
            let built = fancy_regex::RegexBuilder::new(&src)
                .backtrack_limit(BACKTRACK_LIMIT)
                .delegate_size_limit(SIZE_LIMIT)
                .delegate_dfa_size_limit(SIZE_LIMIT)
                .build();
            match built {
                Ok(re) => Some(re),
                Err(e) if needs_fallback => {
                    return Err(format!("pattern not supported by rsec: {}", e))
                }
                Err(_) => None,
            }
        } else {
            None
        };
        let identity = ext_of_int.iter().enumerate().all(|(i, &e)| e == i + 1);
        Ok(PerlRegex {
            pattern: String::from_utf8_lossy(pattern).into_owned(),
            primary,
            quick,
            scratch: Mutex::new(quick::Scratch::default()),
            nl_sensitive: nl_sensitive && fallback.is_some(),
            fallback,
            group_count: parsed.group_count,
            ext_of_int,
            shadows,
            identity,
            names: parsed.names,
            locs: Mutex::new(None),
            bridged: None,
        })
    }

    /// The pattern text as given.
    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// Number of capture groups (Perl numbering, excluding group 0).
    pub fn group_count(&self) -> usize {
        self.group_count
    }

    /// Named groups with their group number, in pattern order. A name may appear more
    /// than once (Perl allows it; `%+` then takes the leftmost group that matched).
    pub fn group_names(&self) -> &[(String, usize)] {
        &self.names
    }

    /// Literals of which every match must contain one (the longest such set found as
    /// prefixes or suffixes), for prefiltering; None when there is no useful set.
    pub fn required_literals(&self) -> Option<Vec<Vec<u8>>> {
        use regex_syntax::hir::literal::{ExtractKind, Extractor};
        let p = self.primary.as_ref()?;
        if self.fallback.is_some() {
            return None;
        }
        let hir = regex_syntax::ParserBuilder::new()
            .unicode(false)
            .utf8(false)
            .build()
            .parse(&p.src)
            .ok()?;
        let mut best: Option<(usize, Vec<Vec<u8>>)> = None;
        for kind in [ExtractKind::Prefix, ExtractKind::Suffix] {
            let mut ex = Extractor::new();
            ex.kind(kind);
            let seq = ex.extract(&hir);
            let Some(lits) = seq.literals() else { continue };
            if lits.is_empty() || lits.iter().any(|l| l.as_bytes().is_empty()) {
                continue;
            }
            let min = lits.iter().map(|l| l.as_bytes().len()).min().unwrap_or(0);
            if best.as_ref().is_none_or(|(m, _)| min > *m) {
                best = Some((min, lits.iter().map(|l| l.as_bytes().to_vec()).collect()));
            }
        }
        // A literal that every match contains somewhere inside (a piece of the top-level
        // concatenation), when it is longer than the prefix or suffix sets.
        if let Some(inner) = inner_literal(&hir) {
            if best.as_ref().is_none_or(|(m, _)| inner.len() > *m) {
                best = Some((inner.len(), vec![inner]));
            }
        }
        best.map(|(_, l)| l)
    }

    /// True when the pattern needs the backtracking fallback engine for every match.
    pub fn uses_fallback(&self) -> bool {
        self.primary.is_none()
    }

    /// True when real perl matches the pattern (through the bridge).
    pub fn uses_perl(&self) -> bool {
        self.bridged.is_some()
    }

    /// Matches through the bridge (a failure is logged and counts as no match).
    fn perl_captures(
        &self,
        pat: &[u8],
        hay: &[u8],
        locs: &mut Vec<Option<(usize, usize)>>,
    ) -> bool {
        match crate::perl::bridge::regex_match(pat, hay) {
            Ok(Some(l)) => {
                locs.extend(l);
                locs.resize(self.group_count + 1, None);
                true
            }
            Ok(None) => false,
            Err(e) => {
                crate::err!("Regular expression '{}' failed in perl: {e}", self.pattern);
                false
            }
        }
    }

    fn primary_for(&self, hay: &[u8]) -> Option<&regex::bytes::Regex> {
        match &self.primary {
            Some(p) if !(self.nl_sensitive && hay.last() == Some(&b'\n')) => p.get(),
            _ => None,
        }
    }

    /// True when the pattern matches somewhere in `hay`.
    pub fn is_match(&self, hay: &[u8]) -> bool {
        if let Some(p) = &self.bridged {
            return self.perl_captures(p, hay, &mut Vec::new());
        }
        if let Some(re) = self.primary_for(hay) {
            return re.is_match(hay);
        }
        let Some(re) = &self.fallback else {
            return false;
        };
        let (text, _) = latin1(hay, false);
        re.is_match(&text).unwrap_or(false)
    }

    /// Matches `hay` and, on success, fills `locs` with `group_count() + 1` entries:
    /// index 0 is the whole match, then each group as byte offsets into `hay`, `None`
    /// for a group that did not participate. Returns false (and leaves `locs` empty)
    /// when there is no match.
    pub fn captures_into(&self, hay: &[u8], locs: &mut Vec<Option<(usize, usize)>>) -> bool {
        locs.clear();
        if let Some(p) = &self.bridged {
            return self.perl_captures(p, hay, locs);
        }
        if let Some(q) = &self.quick {
            if let Ok(mut s) = self.scratch.try_lock() {
                match q.captures(hay, &mut s) {
                    Some(true) => {
                        self.fill(q.groups(), |i| s.get(i), locs);
                        return true;
                    }
                    Some(false) => return false,
                    None => {}
                }
            }
        }
        if let Some(re) = self.primary_for(hay) {
            return self.primary_captures(re, hay, locs);
        }
        let Some(re) = &self.fallback else {
            return false;
        };
        let (text, map) = latin1(hay, true);
        let caps = match re.captures(&text) {
            Ok(Some(c)) => c,
            _ => return false,
        };
        let back = |o: usize| map.as_ref().map_or(o, |m| m[o]);
        let get = |i: usize| caps.get(i).map(|m| (back(m.start()), back(m.end())));
        self.fill(caps.len(), get, locs);
        true
    }

    /// Fills `locs` (Perl numbering) from engine group spans.
    fn fill(
        &self,
        n: usize,
        get: impl Fn(usize) -> Option<(usize, usize)>,
        locs: &mut Vec<Option<(usize, usize)>>,
    ) {
        locs.resize(self.group_count + 1, None);
        if self.identity {
            for (i, slot) in locs.iter_mut().enumerate() {
                *slot = get(i);
            }
            return;
        }
        locs[0] = get(0);
        for i in 1..n {
            let Some(span) = get(i) else { continue };
            let ext = self.ext_of_int.get(i - 1).copied().unwrap_or(0);
            if ext == 0 || locs[ext].is_some() {
                continue;
            }
            let reset = self
                .shadows
                .iter()
                .any(|&(s, t)| t == i && get(s).is_some_and(|z| z.0 >= span.1));
            if !reset {
                locs[ext] = Some(span);
            }
        }
    }

    fn primary_captures(
        &self,
        re: &regex::bytes::Regex,
        hay: &[u8],
        locs: &mut Vec<Option<(usize, usize)>>,
    ) -> bool {
        if self.group_count == 0 {
            return match re.find(hay) {
                Some(m) => {
                    locs.push(Some((m.start(), m.end())));
                    true
                }
                None => false,
            };
        }
        let mut guard = self.locs.try_lock();
        let mut local;
        let cl = match guard.as_deref_mut() {
            Ok(slot) => slot.get_or_insert_with(|| re.capture_locations()),
            Err(_) => {
                local = re.capture_locations();
                &mut local
            }
        };
        if re.captures_read(cl, hay).is_none() {
            return false;
        }
        self.fill(cl.len(), |i| cl.get(i), locs);
        true
    }
}

/// The named groups of a pattern that perl matches, numbered as perl numbers them. A plain
/// scan: escapes, character classes and `(?#...)` comments are skipped; branch reset
/// `(?|...)` and `/x` comments are not understood (the caller drops the names when the
/// numbers do not fit perl's group count).
fn scan_names(p: &[u8]) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let mut n = 0;
    let mut i = 0;
    while i < p.len() {
        match p[i] {
            b'\\' => i += 1,
            b'[' => {
                i += 1;
                if p.get(i) == Some(&b'^') {
                    i += 1;
                }
                if p.get(i) == Some(&b']') {
                    i += 1;
                }
                while i < p.len() && p[i] != b']' {
                    if p[i] == b'\\' {
                        i += 1;
                    } else if p[i] == b'[' && p.get(i + 1) == Some(&b':') {
                        if let Some(e) = p[i + 2..].windows(2).position(|w| w == b":]") {
                            i += e + 3;
                        }
                    }
                    i += 1;
                }
            }
            b'(' => {
                let rest = &p[i + 1..];
                let name_at = if rest.starts_with(b"?P<") {
                    Some(3)
                } else if rest.starts_with(b"?'")
                    || (rest.starts_with(b"?<") && !matches!(rest.get(2), Some(b'=' | b'!')))
                {
                    Some(2)
                } else {
                    None
                };
                if rest.starts_with(b"?#") {
                    i += rest.iter().position(|&c| c == b')').unwrap_or(rest.len());
                } else if let Some(at) = name_at {
                    n += 1;
                    let name: Vec<u8> = rest[at..]
                        .iter()
                        .take_while(|&&c| c != b'>' && c != b'\'')
                        .copied()
                        .collect();
                    out.push((String::from_utf8_lossy(&name).into_owned(), n));
                } else if !matches!(rest.first(), Some(b'?' | b'*')) {
                    n += 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// Maps bytes to a `&str` of Latin-1 chars; with `want_map`, also returns the original
/// byte offset of every string offset (None when the text is ASCII and offsets agree).
fn latin1(hay: &[u8], want_map: bool) -> (Cow<'_, str>, Option<Vec<usize>>) {
    if hay.is_ascii() {
        if let Ok(s) = std::str::from_utf8(hay) {
            return (Cow::Borrowed(s), None);
        }
    }
    let text: String = hay.iter().map(|&b| b as char).collect();
    if !want_map {
        return (Cow::Owned(text), None);
    }
    let mut map = Vec::with_capacity(text.len() + 1);
    for (i, &b) in hay.iter().enumerate() {
        map.push(i);
        if b >= 0x80 {
            map.push(i);
        }
    }
    map.push(hay.len());
    (Cow::Owned(text), Some(map))
}

/// Writes a tree as the source of either engine.
struct Emitter<'a> {
    ext_of_int: &'a [usize],
    names: &'a [(String, usize)],
}

impl Emitter<'_> {
    /// The engine groups for a Perl group reference (several under `(?|...)`).
    fn targets(&self, t: &GroupRef) -> Vec<usize> {
        let ext = self.ext(t);
        let v: Vec<usize> = (0..self.ext_of_int.len())
            .filter(|&i| self.ext_of_int[i] == ext)
            .map(|i| i + 1)
            .collect();
        if v.is_empty() {
            vec![ext]
        } else {
            v
        }
    }

    fn ext(&self, t: &GroupRef) -> usize {
        match t {
            GroupRef::Num(n) => *n,
            GroupRef::Name(name) => self
                .names
                .iter()
                .find(|(n, _)| n == name)
                .map_or(0, |(_, e)| *e),
        }
    }

    fn byte(b: u8, out: &mut String) {
        if b.is_ascii_alphanumeric() {
            out.push(b as char);
        } else {
            let _ = write!(out, "\\x{:02X}", b);
        }
    }

    fn set(s: &ByteSet, fancy: bool, out: &mut String) {
        if let Some(b) = s.only() {
            return Self::byte(b, out);
        }
        if s.count() == 0 {
            // Never matches.
            out.push_str(if fancy { "(?!)" } else { "[^\\x00-\\xFF]" });
            return;
        }
        if *s == ByteSet::FULL && !fancy {
            out.push_str("[\\x00-\\xFF]");
            return;
        }
        let (neg, body) = if s.count() > 128 && !fancy {
            (true, s.negated())
        } else {
            (false, *s)
        };
        out.push('[');
        if neg {
            out.push('^');
        }
        let mut b: u16 = 0;
        while b < 256 {
            if body.contains(b as u8) {
                let lo = b as u8;
                while b + 1 < 256 && body.contains((b + 1) as u8) {
                    b += 1;
                }
                let _ = write!(out, "\\x{:02X}", lo);
                if b as u8 != lo {
                    let _ = write!(out, "-\\x{:02X}", b);
                }
            }
            b += 1;
        }
        out.push(']');
    }

    fn word_boundary(uni: bool, neg: bool, out: &mut String) {
        let mut w = String::new();
        Self::set(&parse::word_set(uni), true, &mut w);
        if neg {
            let _ = write!(out, "(?:(?<={w})(?={w})|(?<!{w})(?!{w}))");
        } else {
            let _ = write!(out, "(?:(?<={w})(?!{w})|(?<!{w})(?={w}))");
        }
    }

    fn emit(&self, n: &Node, fancy: bool, out: &mut String) {
        match n {
            Node::Empty => out.push_str("(?:)"),
            Node::Set(s) => Self::set(s, fancy, out),
            Node::Seq(v) => {
                for x in v {
                    self.emit(x, fancy, out);
                }
            }
            Node::Alt(v) => {
                out.push_str("(?:");
                for (i, x) in v.iter().enumerate() {
                    if i > 0 {
                        out.push('|');
                    }
                    self.emit(x, fancy, out);
                }
                out.push(')');
            }
            Node::Group(cap, inner) => {
                out.push_str(if cap.is_some() { "(" } else { "(?:" });
                self.emit(inner, fancy, out);
                out.push(')');
            }
            Node::Look { ahead, neg, node } => self.emit_look(*ahead, *neg, node, fancy, out),
            Node::Atomic(inner) => {
                out.push_str("(?>");
                self.emit(inner, fancy, out);
                out.push(')');
            }
            Node::Repeat {
                node,
                min,
                max,
                greedy,
                possessive,
            } => {
                if max.is_some_and(|m| m < *min) {
                    out.push_str(if fancy { "(?!)" } else { "[^\\x00-\\xFF]" });
                    return;
                }
                if *possessive {
                    out.push_str("(?>");
                }
                out.push_str("(?:");
                self.emit(node, fancy, out);
                out.push(')');
                match (min, max) {
                    (0, None) => out.push('*'),
                    (1, None) => out.push('+'),
                    (0, Some(1)) => out.push('?'),
                    (m, None) => {
                        let _ = write!(out, "{{{m},}}");
                    }
                    (m, Some(x)) if m == x => {
                        let _ = write!(out, "{{{m}}}");
                    }
                    (m, Some(x)) => {
                        let _ = write!(out, "{{{m},{x}}}");
                    }
                }
                if !*greedy {
                    out.push('?');
                }
                if *possessive {
                    out.push(')');
                }
            }
            Node::Backref(target) => {
                let t = self.targets(target);
                if t.len() == 1 {
                    let _ = write!(out, "\\{}", t[0]);
                } else {
                    out.push_str("(?:");
                    for (k, i) in t.iter().enumerate() {
                        if k > 0 {
                            out.push('|');
                        }
                        let _ = write!(out, "\\{}", i);
                    }
                    out.push(')');
                }
            }
            Node::Shadow(..) => out.push_str("()"),
            Node::Assert(a) => match (a, fancy) {
                (Assert::TextStart, _) => out.push_str("\\A"),
                (Assert::TextEnd, _) => out.push_str("\\z"),
                (Assert::TextEndNl, false) => out.push_str("\\z"),
                (Assert::TextEndNl, true) => out.push_str("(?=\\n?\\z)"),
                (Assert::LineStart, false) => out.push_str("(?m:^)"),
                (Assert::LineStart, true) => out.push_str("(?:\\A|(?<=\\n)(?!\\z))"),
                (Assert::LineEnd, false) => out.push_str("(?m:$)"),
                (Assert::LineEnd, true) => out.push_str("(?=\\n|\\z)"),
                (Assert::WordB(_), false) => out.push_str("\\b"),
                (Assert::NotWordB(_), false) => out.push_str("\\B"),
                (Assert::WordB(u), true) => Self::word_boundary(*u, false, out),
                (Assert::NotWordB(u), true) => Self::word_boundary(*u, true, out),
            },
            Node::Keep => out.push_str("\\K"),
            Node::CondGroup { target, yes, no } => {
                let _ = write!(out, "(?({})", self.targets(target)[0]);
                self.emit(yes, fancy, out);
                out.push('|');
                self.emit(no, fancy, out);
                out.push(')');
            }
            Node::CondLook { cond, yes, no } => {
                out.push_str("(?(");
                self.emit(cond, fancy, out);
                out.push(')');
                self.emit(yes, fancy, out);
                out.push('|');
                self.emit(no, fancy, out);
                out.push(')');
            }
        }
    }

    fn emit_look(&self, ahead: bool, neg: bool, node: &Node, fancy: bool, out: &mut String) {
        let open = match (ahead, neg) {
            (true, false) => "(?=",
            (true, true) => "(?!",
            (false, false) => "(?<=",
            (false, true) => "(?<!",
        };
        if let (false, Node::Alt(v)) = (ahead, node) {
            if node.fixed_len().is_none() {
                // Perl allows alternatives of different lengths; split them.
                if !neg {
                    out.push_str("(?:");
                }
                for (i, x) in v.iter().enumerate() {
                    if i > 0 && !neg {
                        out.push('|');
                    }
                    out.push_str(open);
                    self.emit(x, fancy, out);
                    out.push(')');
                }
                if !neg {
                    out.push(')');
                }
                return;
            }
        }
        out.push_str(open);
        self.emit(node, fancy, out);
        out.push(')');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caps(p: &str, s: &[u8]) -> Option<Vec<Option<(usize, usize)>>> {
        let re = PerlRegex::new(p).expect("compiles");
        let mut v = Vec::new();
        re.captures_into(s, &mut v).then_some(v)
    }

    #[test]
    fn dollar_before_final_newline() {
        assert_eq!(caps("(a$)", b"a\n"), Some(vec![Some((0, 1)), Some((0, 1))]));
        assert_eq!(caps("a\\z", b"a\n"), None);
        assert_eq!(caps("a$", b"ab"), None);
    }

    #[test]
    fn literal_braces_and_escapes() {
        assert!(caps("a{foo}", b"a{foo}").is_some());
        assert!(caps("x{", b"x{").is_some());
        assert!(caps("\\<a\\>", b"<a>").is_some());
        assert!(caps("\\/x", b"/x").is_some());
    }

    #[test]
    fn byte_semantics() {
        assert!(!PerlRegex::new("\\w").unwrap().is_match(b"\xe9"));
        assert!(PerlRegex::new(".").unwrap().is_match(b"\xff"));
        assert!(!PerlRegex::new("(?i)\\xe9").unwrap().is_match(b"\xc9"));
        assert_eq!(
            caps("(?<=\\xe9)(b)", b"\xe9\xe9b"),
            Some(vec![Some((2, 3)), Some((2, 3))])
        );
    }

    #[test]
    fn errors() {
        for p in ["(", ")", "[a", "*a", "a**", "abc\\", "\\1", "[z-a]", "(?z)"] {
            assert!(PerlRegex::new(p).is_err(), "{p}");
        }
    }

    /// Known differences from Perl, kept visible so a fix updates this test.
    #[test]
    fn known_divergences() {
        // fancy-regex back-references are case-sensitive (Perl: match).
        assert!(caps("(?i)(a)\\1", b"aA").is_none());
        // A back-reference to a group Perl reset by a zero-count loop still sees the
        // old value (Perl: no match).
        assert!(caps("(?:x(y)?)+\\1", b"xyxy").is_some());
    }

    #[test]
    fn perl_loop_resets_fixed_length_group() {
        assert_eq!(caps("(?:x(y)?)+", b"xyx"), Some(vec![Some((0, 3)), None]));
        assert_eq!(
            caps("(?:x(yy|z)?)+", b"xyyx"),
            Some(vec![Some((0, 4)), Some((1, 3))])
        );
    }

    #[test]
    fn groups_and_names() {
        let re = PerlRegex::new("(?<x>a)(?:b)(c)?(?'y'd)").unwrap();
        assert_eq!(re.group_count(), 3);
        assert_eq!(
            re.group_names(),
            &[("x".to_string(), 1), ("y".to_string(), 3)]
        );
        let mut v = Vec::new();
        assert!(re.captures_into(b"abd", &mut v));
        assert_eq!(v, vec![Some((0, 3)), Some((0, 1)), None, Some((2, 3))]);
    }
}

#[cfg(test)]
mod fuzz {
    use super::PerlRegex;

    /// A xorshift generator: the same sequence on every run.
    fn xorshift(mut seed: u64) -> impl FnMut() -> u64 {
        move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        }
    }

    /// Random patterns over Perl's metacharacters must never panic, compiled or matched.
    #[test]
    fn random_patterns_do_not_panic() {
        const ALPHA: &[u8] = b"ab()[]{}^$.*+?|\\-,:<>=!#'PkgxNpdwsbBAzZGK0123456789^ \n\xe9";
        let mut next = xorshift(0x2545_F491_4F6C_DD1D);
        let mut locs = Vec::new();
        for _ in 0..20_000 {
            let len = (next() % 12) as usize;
            let p: Vec<u8> = (0..len)
                .map(|_| ALPHA[(next() % ALPHA.len() as u64) as usize])
                .collect();
            if let Ok(re) = PerlRegex::from_bytes(&p) {
                for hay in [&b""[..], b"ab{1}\n", b"a\xe9b-ab\n", b"0a:b=<x>"] {
                    let m = re.captures_into(hay, &mut locs);
                    assert_eq!(m, re.is_match(hay));
                    if m {
                        assert_eq!(locs.len(), re.group_count() + 1);
                    }
                }
            }
        }
    }

    /// The backtracker must find what the `regex` crate finds, groups included, on
    /// random patterns it accepts (a leading literal) and random lines.
    #[test]
    fn random_patterns_agree() {
        const TOK: &[&str] = &[
            "a", "b", "c", "x", " ", ".", "\\d", "\\s", "\\S", "\\w", "[ab]", "[^a]", "(", ")",
            "(?:", ")?", ")*", ")+", "*", "+", "?", "*?", "+?", "??", "|", "{1,2}", "{2}",
            "{0,3}?", "$", "^", "\\b", "\\B", "\\z", "\\Z", "(?i)", "(?m)", "(?s)",
        ];
        const HAY: &[u8] = b"abcx 1\nAB";
        let mut next = xorshift(0x9E37_79B9_7F4A_7C15);
        let (mut compared, mut matched) = (0, 0);
        let mut a = Vec::new();
        for _ in 0..30_000 {
            let mut p = String::from(if next().is_multiple_of(2) { "ab" } else { "^" });
            for _ in 0..(next() % 9) {
                p.push_str(TOK[(next() % TOK.len() as u64) as usize]);
            }
            let Ok(re) = PerlRegex::new(&p) else { continue };
            let (Some(_), Some(prim)) = (&re.quick, re.primary.as_ref().and_then(|p| p.get()))
            else {
                continue;
            };
            for _ in 0..8 {
                let mut hay: Vec<u8> = if next().is_multiple_of(2) {
                    b"ab".to_vec()
                } else {
                    Vec::new()
                };
                for _ in 0..(next() % 14) {
                    hay.push(HAY[(next() % HAY.len() as u64) as usize]);
                }
                if re.nl_sensitive && hay.last() == Some(&b'\n') {
                    continue;
                }
                let m = re.captures_into(&hay, &mut a);
                let mut b = Vec::new();
                let mb = re.primary_captures(prim, &hay, &mut b);
                assert_eq!(
                    (m, &a),
                    (mb, &b),
                    "pattern {p:?} on {:?}",
                    String::from_utf8_lossy(&hay)
                );
                compared += 1;
                matched += usize::from(m);
            }
        }
        assert!(compared > 20_000 && matched > 2_000, "{compared} {matched}");
    }
}
