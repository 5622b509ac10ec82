//! Variable substitution, as SEC does it in its two phases: match variables (`$1`,
//! `${1}`, `$+{name}`, `$:{entry:var}`, `$$`, and the `%` forms of Pair rules) when a rule
//! matches, and action-list variables (`%s`, `%t`, `%u`, `%.nl`, user `%var`, `%%`) when
//! an action runs. It owns the syntax of both; the values come from the engine.

use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;

use crate::fields::Fields;

/// A byte string: event text, variable values and substituted parameters are bytes.
pub type Bytes = Vec<u8>;

/// The name of a match variable: a group number, or a name (`_inputsrc`, named groups,
/// varmap names).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum VarName {
    /// `$N`.
    Num(u32),
    /// `$+{name}` and the special names (`_inputsrc`: no allocation for those).
    Named(std::borrow::Cow<'static, str>),
}

impl VarName {
    /// The name from its text: digits (without a leading zero, as Perl's `$N`) give a
    /// number.
    pub fn parse(name: &str) -> VarName {
        match Self::number(name) {
            Some(n) => VarName::Num(n),
            None => VarName::Named(name.to_string().into()),
        }
    }

    /// The group number `name` spells, if it does.
    fn number(name: &str) -> Option<u32> {
        let b = name.as_bytes();
        (!b.is_empty()
            && b.len() <= 9
            && b.iter().all(u8::is_ascii_digit)
            && (b[0] != b'0' || b.len() == 1))
            .then(|| name.parse().unwrap_or(0))
    }

    /// True if `text` names this variable.
    fn is(&self, text: &[u8]) -> bool {
        match self {
            VarName::Num(n) => {
                text.len() <= 9
                    && !text.is_empty()
                    && text.iter().all(u8::is_ascii_digit)
                    && (text[0] != b'0' || text.len() == 1)
                    && text.iter().fold(0u32, |a, d| a * 10 + u32::from(d - b'0')) == *n
            }
            VarName::Named(s) => s.as_bytes() == text,
        }
    }
}

impl std::fmt::Display for VarName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VarName::Num(n) => write!(f, "{n}"),
            VarName::Named(s) => f.write_str(s),
        }
    }
}

impl From<&'static str> for VarName {
    fn from(s: &'static str) -> Self {
        match Self::number(s) {
            Some(n) => VarName::Num(n),
            None => VarName::Named(s.into()),
        }
    }
}

impl From<String> for VarName {
    fn from(s: String) -> Self {
        match Self::number(&s) {
            Some(n) => VarName::Num(n),
            None => VarName::Named(s.into()),
        }
    }
}

impl From<&String> for VarName {
    fn from(s: &String) -> Self {
        VarName::parse(s)
    }
}

impl From<usize> for VarName {
    fn from(n: usize) -> Self {
        VarName::Num(n as u32)
    }
}

/// The match variables of one pattern match (SEC's `%subst`): `0`, `1`.., named groups,
/// `_inputsrc`, `_intcontext`, varmap names. `None` is Perl's undef.
///
/// A match has a handful of variables, so they live in a short list searched in order:
/// no hashing and no allocation for the names of numbered groups.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MatchVars {
    entries: Vec<(VarName, Option<Bytes>)>,
    /// With structured input (`--input-format=json|logfmt`) or `--dialect=logzilla`,
    /// the fields of the matched event; looked up only when a name is not among the
    /// entries, so a pattern's own named captures win (see [`MatchVars::lookup`]).
    pub fields: Option<Arc<Fields>>,
}

/// The prefix of the match variable that `--dialect=logzilla` writes for `$ENV{NAME}` in
/// text: the value as it is.
pub const ENV_TEXT: &str = "_ENV_";
/// The prefix for `$ENV{NAME}` in Perl code outside strings: the value as a Perl
/// single-quoted literal (`undef` when unset), so the code sees the value it had when the
/// event matched.
pub const ENV_PERL: &str = "_ENVQ_";
/// The prefix for `$ENV{NAME}` inside a Perl double-quoted string: the value with `\\`,
/// `"`, `$` and `@` escaped.
pub const ENV_STRING: &str = "_ENVS_";

impl MatchVars {
    /// True when the match set no variables (SubStr, TValue, NCached): then SEC does no
    /// substitution at all.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.fields.is_none()
    }

    /// The value of a variable that is not among the entries, from the event's fields:
    /// by name, or with `_` standing for the `.` of nested names (which SEC's variable
    /// syntax cannot hold), then the `$ENV{NAME}` forms of the LogZilla dialect (the
    /// event's `EVENT_` field, else the process environment).
    pub fn field_lookup(&self, name: &[u8]) -> Option<Bytes> {
        let fields = self.fields.as_deref()?;
        if let Some(v) = fields.get_loose(name) {
            return Some(v.to_vec());
        }
        let env = |n: &[u8]| -> Option<Bytes> {
            fields.get_env(n).map(<[u8]>::to_vec).or_else(|| {
                let n = std::ffi::OsStr::from_bytes(n);
                std::env::var_os(n).map(|v| v.as_bytes().to_vec())
            })
        };
        if let Some(n) = name.strip_prefix(ENV_PERL.as_bytes()) {
            return Some(match env(n) {
                Some(v) => perl_single_quoted(&v),
                None => b"undef".to_vec(),
            });
        }
        if let Some(n) = name.strip_prefix(ENV_STRING.as_bytes()) {
            let v = env(n)?;
            let mut out = Vec::with_capacity(v.len() + 4);
            for b in v {
                if matches!(b, b'\\' | b'"' | b'$' | b'@') {
                    out.push(b'\\');
                }
                out.push(b);
            }
            return Some(out);
        }
        if let Some(n) = name.strip_prefix(ENV_TEXT.as_bytes()) {
            return env(n);
        }
        None
    }

    /// No variables yet, room for `n`.
    pub fn with_capacity(n: usize) -> MatchVars {
        MatchVars {
            entries: Vec::with_capacity(n),
            fields: None,
        }
    }

    /// Adds a variable the caller knows is not set yet (no search).
    pub fn push_new(&mut self, name: impl Into<VarName>, value: Option<Bytes>) {
        self.entries.push((name.into(), value));
    }

    /// Sets a variable.
    pub fn set(&mut self, name: impl Into<VarName>, value: Option<Bytes>) {
        let name = name.into();
        match self.entries.iter_mut().find(|(n, _)| *n == name) {
            Some(e) => e.1 = value,
            None => self.entries.push((name, value)),
        }
    }

    /// The value of a variable named by `name` (`Some(None)`: set to undef).
    pub fn get(&self, name: &[u8]) -> Option<&Option<Bytes>> {
        self.entries
            .iter()
            .find(|(n, _)| n.is(name))
            .map(|(_, v)| v)
    }

    /// The value of group `n`, if set and defined.
    pub fn group(&self, n: usize) -> Option<&Bytes> {
        let n = VarName::Num(n as u32);
        self.entries
            .iter()
            .find(|(k, _)| *k == n)
            .and_then(|(_, v)| v.as_ref())
    }

    /// Every variable, in the order they were set.
    pub fn iter(&self) -> impl Iterator<Item = (&VarName, &Option<Bytes>)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    /// A copy with every value passed through `f` (escaping for a later round).
    pub fn map_values(&self, f: impl Fn(&[u8]) -> Bytes) -> MatchVars {
        MatchVars {
            entries: self
                .entries
                .iter()
                .map(|(k, v)| (k.clone(), v.as_ref().map(|v| f(v))))
                .collect(),
            fields: self.fields.clone(),
        }
    }
}

/// The pattern-match cache: entry name to the variables of the match that made it.
pub type MatchCache = crate::engine::FastMap<String, MatchVars>;

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Parses a name of the form `[A-Za-z_][\w!]*` or `[0-9]+` at the start of `s`.
fn name_len(s: &[u8]) -> usize {
    match s.first() {
        Some(c) if c.is_ascii_digit() => s.iter().take_while(|c| c.is_ascii_digit()).count(),
        Some(c) if c.is_ascii_alphabetic() || *c == b'_' => {
            s.iter().take_while(|&&c| is_word(c) || c == b'!').count()
        }
        _ => 0,
    }
}

/// A match variable reference found in text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VarRef<'a> {
    /// `$N`, `${N}` or `$+{name}`: a variable of the match.
    Var(&'a [u8]),
    /// `$:{entry:var}`: a variable of a pattern-match-cache entry.
    Cached(&'a [u8], &'a [u8]),
}

/// Walks `text`, copying it and replacing each match variable introduced by `token` with
/// what `value` appends to the output; `$$` (or `%%`) gives the token itself. This is
/// the one scanner of SEC's match-variable syntax.
pub fn subst_with(
    text: &[u8],
    token: u8,
    value: &mut dyn FnMut(VarRef<'_>, &mut Vec<u8>),
) -> Bytes {
    let mut out = Vec::with_capacity(text.len() + 16);
    subst_into(text, token, value, &mut out);
    out
}

/// [`subst_with`] appending to `out` (a reused buffer).
pub fn subst_into(
    text: &[u8],
    token: u8,
    value: &mut dyn FnMut(VarRef<'_>, &mut Vec<u8>),
    out: &mut Vec<u8>,
) {
    if !text.contains(&token) {
        out.extend_from_slice(text);
        return;
    }
    let mut i = 0;
    while i < text.len() {
        let c = text[i];
        if c != token {
            out.push(c);
            i += 1;
            continue;
        }
        let rest = &text[i + 1..];
        let (found, used) = match rest.first() {
            Some(&t) if t == token => {
                out.push(token);
                i += 2;
                continue;
            }
            Some(d) if d.is_ascii_digit() => {
                let n = rest.iter().take_while(|c| c.is_ascii_digit()).count();
                (Some(VarRef::Var(&rest[..n])), n)
            }
            Some(b'{') => {
                let n = rest[1..].iter().take_while(|c| c.is_ascii_digit()).count();
                if n > 0 && rest.get(1 + n) == Some(&b'}') {
                    (Some(VarRef::Var(&rest[1..1 + n])), n + 2)
                } else {
                    (None, 0)
                }
            }
            Some(b'+') if rest.get(1) == Some(&b'{') => {
                let n = name_len(&rest[2..]);
                if n > 0 && rest.get(2 + n) == Some(&b'}') {
                    (Some(VarRef::Var(&rest[2..2 + n])), n + 3)
                } else {
                    (None, 0)
                }
            }
            Some(b':') if rest.get(1) == Some(&b'{') => {
                let body = &rest[2..];
                let e = if body.first().is_some_and(|c| c.is_ascii_alphabetic()) {
                    body.iter().take_while(|&&c| is_word(c)).count()
                } else {
                    0
                };
                let v = if e > 0 && body.get(e) == Some(&b':') {
                    name_len(&body[e + 1..])
                } else {
                    0
                };
                if v > 0 && body.get(e + 1 + v) == Some(&b'}') {
                    (
                        Some(VarRef::Cached(&body[..e], &body[e + 1..e + 1 + v])),
                        2 + e + 1 + v + 1,
                    )
                } else {
                    (None, 0)
                }
            }
            _ => (None, 0),
        };
        match found {
            Some(r) => {
                value(r, out);
                i += 1 + used;
            }
            None => {
                out.push(c);
                i += 1;
            }
        }
    }
}

/// `v` as a Perl single-quoted string literal (`\\` and `'` escaped).
pub fn perl_single_quoted(v: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(v.len() + 2);
    out.push(b'\'');
    for &b in v {
        if b == b'\\' || b == b'\'' {
            out.push(b'\\');
        }
        out.push(b);
    }
    out.push(b'\'');
    out
}

/// Substitutes match variables introduced by `token` (`$` or `%`) into `text`.
/// `$$` (or `%%`) gives the token itself; an unset variable gives "".
pub fn subst_matchvars(vars: &MatchVars, cache: &MatchCache, text: &[u8], token: u8) -> Bytes {
    subst_matchvars_escaped(vars, cache, text, token, None)
}

/// [`subst_matchvars`] with every `escape` byte of a value doubled on the way in (SEC's
/// `%` doubling before action lists are substituted), without copying the variables.
pub fn subst_matchvars_escaped(
    vars: &MatchVars,
    cache: &MatchCache,
    text: &[u8],
    token: u8,
    escape: Option<u8>,
) -> Bytes {
    let mut out = Vec::with_capacity(text.len() + 16);
    subst_matchvars_into(vars, cache, text, token, escape, &mut out);
    out
}

/// [`subst_matchvars_escaped`] appending to `out` (a reused buffer).
pub fn subst_matchvars_into(
    vars: &MatchVars,
    cache: &MatchCache,
    text: &[u8],
    token: u8,
    escape: Option<u8>,
    out: &mut Vec<u8>,
) {
    subst_into(
        text,
        token,
        &mut |r, out| {
            // Only the match's own variables are escaped; cache entries are pasted as they are.
            let (m, name, escape) = match r {
                VarRef::Var(name) => (Some(vars), name, escape),
                VarRef::Cached(entry, name) => (
                    cache.get(String::from_utf8_lossy(entry).as_ref()),
                    name,
                    None,
                ),
            };
            let owned;
            let v = match m.map(|m| (m, m.get(name))) {
                Some((_, Some(Some(v)))) => v,
                Some((m, None)) if m.fields.is_some() => match m.field_lookup(name) {
                    Some(v) => {
                        owned = v;
                        &owned
                    }
                    None => return,
                },
                _ => return,
            };
            match escape {
                Some(e) => {
                    for &c in v {
                        out.push(c);
                        if c == e {
                            out.push(c);
                        }
                    }
                }
                None => out.extend_from_slice(v),
            }
        },
        out,
    )
}

/// True if `text` holds a match variable of `token` (SEC's volatility test).
pub fn has_matchvars(text: &[u8], token: u8) -> bool {
    if !text.contains(&token) {
        return false;
    }
    let empty = MatchVars::default();
    subst_matchvars(&empty, &MatchCache::default(), text, token) != text
}

/// Perl's `quotemeta`: a backslash before every byte that is not `[A-Za-z0-9_]` (bytes of
/// 128 and above included, as Perl does for byte strings).
pub fn quotemeta(s: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(s.len() * 2);
    for &b in s {
        if !is_word(b) {
            out.push(b'\\');
        }
        out.push(b);
    }
    out
}

/// Doubles every `b` in `s` (`%` to `%%`, `$` to `$$`).
pub fn double(s: &[u8], b: u8) -> Bytes {
    let mut out = Vec::with_capacity(s.len() + 4);
    for &c in s {
        out.push(c);
        if c == b {
            out.push(b);
        }
    }
    out
}

/// Where action-list variables get their values.
pub trait VarSource {
    /// The value of `%name` (None: unset, substitutes as "").
    fn lookup(&mut self, name: &str) -> Option<Bytes>;
}

/// Substitutes action-list variables into `text`: `%name` and `%{name}` with names
/// `\.?[A-Za-z]\w*` taken greedily, `%%` as `%`.
pub fn subst_actionvars(text: &[u8], src: &mut dyn VarSource) -> Bytes {
    if !text.contains(&b'%') {
        return text.to_vec();
    }
    let mut out = Vec::with_capacity(text.len() + 16);
    let mut i = 0;
    let name_at = |s: &[u8]| -> usize {
        let dot = usize::from(s.first() == Some(&b'.'));
        if s.get(dot).is_some_and(|c| c.is_ascii_alphabetic()) {
            dot + s[dot..].iter().take_while(|&&c| is_word(c)).count()
        } else {
            0
        }
    };
    while i < text.len() {
        let c = text[i];
        if c != b'%' {
            out.push(c);
            i += 1;
            continue;
        }
        let rest = &text[i + 1..];
        if rest.first() == Some(&b'%') {
            out.push(b'%');
            i += 2;
            continue;
        }
        let n = name_at(rest);
        if n > 0 {
            if let Some(v) = src.lookup(&String::from_utf8_lossy(&rest[..n])) {
                out.extend_from_slice(&v);
            }
            i += 1 + n;
            continue;
        }
        if rest.first() == Some(&b'{') {
            let n = name_at(&rest[1..]);
            if n > 0 && rest.get(1 + n) == Some(&b'}') {
                if let Some(v) = src.lookup(&String::from_utf8_lossy(&rest[1..1 + n])) {
                    out.extend_from_slice(&v);
                }
                i += 1 + n + 2;
                continue;
            }
        }
        out.push(c);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> MatchVars {
        let mut v = MatchVars::default();
        v.set("0", Some(b"line".to_vec()));
        v.set("1", Some(b"a".to_vec()));
        v.set("10", Some(b"ten".to_vec()));
        v.set("name", Some(b"N".to_vec()));
        v.set("2", None);
        v
    }

    #[test]
    fn dollar_forms() {
        let c = MatchCache::default();
        let s = |t: &str| {
            String::from_utf8(subst_matchvars(&vars(), &c, t.as_bytes(), b'$')).unwrap_or_default()
        };
        assert_eq!(
            s("$1 ${1}0 $10 $$ $2 $+{name} $0 $x"),
            "a a0 ten $  N line $x"
        );
        assert_eq!(s("$$1"), "$1");
        assert_eq!(s("$$$1"), "$a");
    }

    #[test]
    fn cache_form() {
        let mut c = MatchCache::default();
        c.insert("e".into(), vars());
        let out = subst_matchvars(&MatchVars::default(), &c, b"[$:{e:name}] [$:{x:y}]", b'$');
        assert_eq!(out, b"[N] []");
    }

    struct Fixed;
    impl VarSource for Fixed {
        fn lookup(&mut self, name: &str) -> Option<Bytes> {
            match name {
                "s" => Some(b"desc".to_vec()),
                ".nl" => Some(b"\n".to_vec()),
                _ => None,
            }
        }
    }

    #[test]
    fn action_vars_are_greedy() {
        assert_eq!(
            subst_actionvars(b"%s %{s}x %.nlY %{.nl}Y %% 50%u", &mut Fixed),
            b"desc descx  \nY % 50"
        );
    }

    #[test]
    fn quoting() {
        assert_eq!(quotemeta(b"a.b c"), b"a\\.b\\ c");
        assert_eq!(double(b"5%", b'%'), b"5%%");
        assert!(has_matchvars(b"x $1", b'$'));
        assert!(has_matchvars(b"x $$", b'$'));
        assert!(!has_matchvars(b"x $ y", b'$'));
    }
}
