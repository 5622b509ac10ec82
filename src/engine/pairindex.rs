//! The open operations of one Pair / PairWithWindow rule, indexed so that an event finds
//! the operations whose pattern2 can match it without trying every one (SEC tries every
//! one: lines x open operations).
//!
//! Two parts. [`Plan`] is the compile-time analysis of a RegExp pattern2 template with
//! match variables (placeholders): which placeholder occurrences are *required* (every
//! match of an operation's substituted regex holds that placeholder's quotemeta'd value,
//! a literal, so the event must contain the value), and a capturing generic pattern that
//! verifies an operation without compiling its own regex. [`PairOps`] keeps a rule's open
//! operations in insertion order with an index from (key length, rolling hash) to the
//! operations whose key (one required value, or a SubStr pattern2's text) it is.
//!
//! It owns only these structures; which operation matches, with which variables, and
//! what runs then is decided in `ops.rs`. Nothing here changes SEC's semantics: the
//! candidates of an event are a superset of the operations that can match it, in the
//! same order as a scan of every operation.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use regex_syntax::ast::{self, Ast};

use crate::engine::subst::{quotemeta, subst_with, Bytes, MatchVars, VarRef};
use crate::pattern::regex::PerlRegex;

/// Group-name prefix of the placeholder groups of [`Plan::capture`].
const PH: &str = "rsecph";

/// Compile-time analysis of a Pair rule's deferred RegExp pattern2 template.
#[derive(Debug)]
pub struct Plan {
    /// Per placeholder occurrence (template order): true when every match of a
    /// substituted regex contains that occurrence's value literally.
    pub required: Vec<bool>,
    /// The template with occurrence `i` as the group `(?<rsecph{i}>(?s:.*))`, and the
    /// Perl group number of each occurrence's group; None when a capture equal to the
    /// value would not prove that the substituted regex matches (a placeholder under a
    /// quantifier).
    pub capture: Option<(Arc<PerlRegex>, Vec<usize>)>,
}

impl Plan {
    /// Analyses `template`. None when the fast path does not apply (the caller keeps
    /// compiling each operation's regex): cached-entry variables `$:{e:v}` (their
    /// values are not quoted), a template that needs the backtracking fallback engine
    /// (look-around, back-references) or that the `regex-syntax` parser refuses.
    pub fn new(template: &[u8]) -> Option<Plan> {
        let mut n = 0usize;
        let mut cached = false;
        let sentinel = subst_with(template, b'$', &mut |r, out| {
            if matches!(r, VarRef::Cached(..)) {
                cached = true;
            }
            out.extend_from_slice(format!("(?<{PH}{n}>(?s:.*))").as_bytes());
            n += 1;
        });
        if cached || n == 0 {
            return None;
        }
        let re = PerlRegex::from_bytes(&sentinel).ok()?;
        if re.uses_fallback() || re.uses_perl() {
            return None;
        }
        let text = std::str::from_utf8(&sentinel).ok()?;
        let parsed = ast::parse::Parser::new().parse(text).ok()?;
        let mut required = vec![false; n];
        if !has_case_insensitive(&parsed) {
            mark_required(&parsed, &mut required);
        }
        let capture = if quantified_placeholder(&parsed, false) {
            None
        } else {
            let mut groups = vec![0usize; n];
            let mut seen = 0;
            for (name, idx) in re.group_names() {
                if let Some(i) = name.strip_prefix(PH).and_then(|s| s.parse::<usize>().ok()) {
                    if i < n {
                        groups[i] = *idx;
                        seen += 1;
                    }
                }
            }
            (seen == n).then(|| (Arc::new(re), groups))
        };
        Some(Plan { required, capture })
    }

    /// An operation's substituted pattern2 source (as SEC builds it: each variable's
    /// value quotemeta'd, an unset one as "") and the raw value of each occurrence.
    pub fn substitute(&self, template: &[u8], vars: &MatchVars) -> (Bytes, Vec<Bytes>) {
        let mut vals = Vec::with_capacity(self.required.len());
        let src = subst_with(template, b'$', &mut |r, out| {
            let v = match r {
                VarRef::Var(name) => vars.get(name).cloned().flatten(),
                VarRef::Cached(..) => None,
            };
            let v = v.unwrap_or_default();
            out.extend_from_slice(&quotemeta(&v));
            vals.push(v);
        });
        (src, vals)
    }

    /// True when the substituted regex is certainly valid without compiling it: every
    /// value is non-empty printable ASCII, so each stands as a run of (escaped) literal
    /// characters where the template, compiled with groups there, was valid.
    pub fn valid_without_compiling(vals: &[Bytes]) -> bool {
        vals.iter()
            .all(|v| !v.is_empty() && v.iter().all(|b| (0x20..0x7f).contains(b)))
    }

    /// The values of the required occurrences.
    pub fn keys<'a>(&'a self, vals: &'a [Bytes]) -> impl Iterator<Item = &'a [u8]> + 'a {
        vals.iter()
            .zip(&self.required)
            .filter(|(_, r)| **r)
            .map(|(v, _)| v.as_slice())
    }

    /// True when the capturing generic pattern proves that the operation with these
    /// values matches `text` (given its captures `locs` for `text`); false when it cannot
    /// tell.
    pub fn verify(&self, text: &[u8], locs: &[Option<(usize, usize)>], vals: &[Bytes]) -> bool {
        let Some((_, groups)) = &self.capture else {
            return false;
        };
        groups.iter().zip(vals).all(|(g, v)| {
            matches!(locs.get(*g), Some(Some((s, e))) if text.get(*s..*e) == Some(v.as_slice()))
        })
    }
}

fn has_case_insensitive(a: &Ast) -> bool {
    let flags_i = |f: &ast::Flags| {
        f.items
            .iter()
            .any(|i| i.kind == ast::FlagsItemKind::Flag(ast::Flag::CaseInsensitive))
    };
    match a {
        Ast::Flags(f) => flags_i(&f.flags),
        Ast::Group(g) => {
            matches!(&g.kind, ast::GroupKind::NonCapturing(f) if flags_i(f))
                || has_case_insensitive(&g.ast)
        }
        Ast::Repetition(r) => has_case_insensitive(&r.ast),
        Ast::Concat(c) => c.asts.iter().any(has_case_insensitive),
        Ast::Alternation(al) => al.asts.iter().any(has_case_insensitive),
        _ => false,
    }
}

fn placeholder_of(g: &ast::Group) -> Option<usize> {
    match &g.kind {
        ast::GroupKind::CaptureName { name, .. } => name.name.strip_prefix(PH)?.parse().ok(),
        _ => None,
    }
}

/// Marks the placeholder groups every match passes through: pieces of the top-level
/// concatenation, through unquantified groups (never into alternations or repetitions).
fn mark_required(a: &Ast, out: &mut [bool]) {
    match a {
        Ast::Concat(c) => c.asts.iter().for_each(|x| mark_required(x, out)),
        Ast::Group(g) => match placeholder_of(g) {
            Some(i) => {
                if let Some(r) = out.get_mut(i) {
                    *r = true;
                }
            }
            None => mark_required(&g.ast, out),
        },
        _ => {}
    }
}

/// True when a placeholder group stands under a quantifier (there a capture equal to
/// the value does not prove a match of the substituted regex).
fn quantified_placeholder(a: &Ast, under: bool) -> bool {
    match a {
        Ast::Repetition(r) => quantified_placeholder(&r.ast, true),
        Ast::Group(g) => {
            (under && placeholder_of(g).is_some()) || quantified_placeholder(&g.ast, under)
        }
        Ast::Concat(c) => c.asts.iter().any(|x| quantified_placeholder(x, under)),
        Ast::Alternation(al) => al.asts.iter().any(|x| quantified_placeholder(x, under)),
        _ => false,
    }
}

const BASE: u64 = 0x0000_0100_0000_01b3;

fn hash(s: &[u8]) -> u64 {
    s.iter().fold(0u64, |h, &b| {
        h.wrapping_mul(BASE).wrapping_add(b as u64 + 1)
    })
}

/// The bucket of a key of length `len` with rolling hash `h`.
fn bucket(len: usize, h: u64) -> u64 {
    let x = h ^ (len as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (x ^ (x >> 29)).wrapping_mul(0xbf58_476d_1ce4_e5b9)
}

/// Buckets are already hashes: the map uses them as they are.
#[derive(Clone, Copy, Debug, Default)]
struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | b as u64;
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

type IdMap<V> = HashMap<u64, V, std::hash::BuildHasherDefault<IdHasher>>;

/// One open operation in the index.
#[derive(Clone, Debug)]
struct Entry {
    desc: Bytes,
    /// The literal every match holds (None: always a candidate).
    key: Option<Bytes>,
    /// The other literals every match holds.
    also: Vec<Bytes>,
}

/// True if `needle` occurs in `hay` (for the short needles of keys: no searcher to
/// build).
pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    match needle.first() {
        None => true,
        Some(&b) => memchr::memchr_iter(b, hay).any(|i| hay[i..].starts_with(needle)),
    }
}

/// The open operations of one Pair rule, in insertion order, with the key index.
#[derive(Clone, Debug, Default)]
pub struct PairOps {
    next: u64,
    order: BTreeMap<u64, Entry>,
    seq_of: HashMap<Bytes, u64>,
    buckets: IdMap<Vec<u64>>,
    /// Key length to the number of keys of that length.
    lens: BTreeMap<usize, usize>,
    always: BTreeSet<u64>,
    /// Compiled substituted regexes of operations verified the slow way (bounded).
    regexes: HashMap<Bytes, Arc<PerlRegex>>,
    /// One bit per bucket hash (a superset of the buckets in use): the window scan of
    /// [`PairOps::candidates`] looks into the map only where a bit is set, so its cost
    /// stays that of a small table in cache however many operations are open.
    filter: BucketFilter,
}

/// A bit set over bucket hashes; bits are set on insert and cleared only by a rebuild
/// (when many inserts have made it stale).
#[derive(Clone, Debug, Default)]
struct BucketFilter {
    bits: Vec<u64>,
    shift: u32,
    inserts: usize,
}

impl BucketFilter {
    fn slot(&self, bk: u64) -> usize {
        (bk.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> self.shift) as usize
    }

    fn may_hold(&self, bk: u64) -> bool {
        if self.bits.is_empty() {
            return true;
        }
        let i = self.slot(bk);
        self.bits[i / 64] & (1 << (i % 64)) != 0
    }

    fn set(&mut self, bk: u64) {
        if self.bits.is_empty() {
            return;
        }
        let i = self.slot(bk);
        self.bits[i / 64] |= 1 << (i % 64);
        self.inserts += 1;
    }

    /// Rebuilt for these buckets, with about 16 bits per bucket (at least 2^16).
    fn rebuild<'a>(&mut self, buckets: impl Iterator<Item = &'a u64>, n: usize) {
        let bits = (n.max(1) * 16).next_power_of_two().max(1 << 16);
        self.shift = 64 - bits.trailing_zeros();
        self.bits.clear();
        self.bits.resize(bits / 64, 0);
        self.inserts = 0;
        for &bk in buckets {
            self.set(bk);
        }
    }
}

/// How many compiled operation regexes a rule keeps (each holds its own lazy DFA
/// cache, tens of KB: a large cache cost more memory than the operations).
const REGEX_CACHE: usize = 16;

impl PairOps {
    /// True when no operation is open.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Number of open operations.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Adds an operation (removing an older one with the same desc first), keyed by the
    /// one of `keys` with the fewest operations under it (empty keys are skipped; no key
    /// left: always a candidate).
    pub fn insert<'a>(&mut self, desc: Bytes, keys: impl Iterator<Item = &'a [u8]>) {
        self.remove(&desc);
        let mut best: Option<(usize, &[u8])> = None;
        let keys: Vec<&[u8]> = keys.filter(|k| !k.is_empty()).collect();
        for &k in &keys {
            let n = self
                .buckets
                .get(&bucket(k.len(), hash(k)))
                .map_or(0, Vec::len);
            if best.is_none_or(|(m, b)| n < m || (n == m && k.len() > b.len())) {
                best = Some((n, k));
            }
        }
        let seq = self.next;
        self.next += 1;
        let key = best.map(|(_, k)| k.to_vec());
        let mut also: Vec<Bytes> = Vec::new();
        if let Some(k) = &key {
            let mut skipped = false;
            for &o in &keys {
                if o == k.as_slice() && !skipped {
                    skipped = true;
                } else if !also.iter().any(|a| a == o) {
                    also.push(o.to_vec());
                }
            }
        }
        match &key {
            Some(k) => {
                let bk = bucket(k.len(), hash(k));
                self.buckets.entry(bk).or_default().push(seq);
                if self.filter.bits.is_empty()
                    || self.filter.inserts > 4 * self.buckets.len() + 4096
                {
                    let n = self.buckets.len();
                    self.filter.rebuild(self.buckets.keys(), n);
                } else {
                    self.filter.set(bk);
                }
                *self.lens.entry(k.len()).or_insert(0) += 1;
            }
            None => {
                self.always.insert(seq);
            }
        }
        self.seq_of.insert(desc.clone(), seq);
        self.order.insert(seq, Entry { desc, key, also });
    }

    /// Removes the operation with this desc, if open.
    pub fn remove(&mut self, desc: &[u8]) {
        let Some(seq) = self.seq_of.remove(desc) else {
            return;
        };
        let Some(e) = self.order.remove(&seq) else {
            return;
        };
        match e.key {
            Some(k) => {
                let bk = bucket(k.len(), hash(&k));
                if let Some(v) = self.buckets.get_mut(&bk) {
                    v.retain(|s| *s != seq);
                    if v.is_empty() {
                        self.buckets.remove(&bk);
                    }
                }
                if let Some(c) = self.lens.get_mut(&k.len()) {
                    *c -= 1;
                    if *c == 0 {
                        self.lens.remove(&k.len());
                    }
                }
            }
            None => {
                self.always.remove(&seq);
            }
        }
        if self.order.is_empty() {
            self.regexes.clear();
        }
    }

    /// (sequence, desc) of every open operation started after the one with sequence
    /// `seq` (all with None), oldest first.
    pub fn after(&self, seq: Option<u64>) -> Vec<(u64, Bytes)> {
        let from = seq.map_or(0, |s| s + 1);
        self.order
            .range(from..)
            .map(|(s, e)| (*s, e.desc.clone()))
            .collect()
    }

    /// (sequence, desc) of the operations whose keys all occur in `text` and of those
    /// without a key, oldest first.
    pub fn candidates(&self, text: &[u8]) -> Vec<(u64, Bytes)> {
        if self.lens.is_empty() {
            return self.after(None);
        }
        let mut seqs: Vec<u64> = self.always.iter().copied().collect();
        for &len in self.lens.keys() {
            if len > text.len() {
                break;
            }
            let pow = (1..len).fold(1u64, |p, _| p.wrapping_mul(BASE));
            let mut h = hash(&text[..len]);
            let mut i = 0;
            loop {
                let bk = bucket(len, h);
                if let Some(v) = self
                    .filter
                    .may_hold(bk)
                    .then(|| self.buckets.get(&bk))
                    .flatten()
                {
                    let window = &text[i..i + len];
                    for s in v {
                        let hit = self.order.get(s).is_some_and(|e| {
                            e.key.as_deref() == Some(window)
                                && e.also.iter().all(|a| contains(text, a))
                        });
                        if hit {
                            seqs.push(*s);
                        }
                    }
                }
                if i + len >= text.len() {
                    break;
                }
                let out = text[i] as u64 + 1;
                let inn = text[i + len] as u64 + 1;
                h = h
                    .wrapping_sub(out.wrapping_mul(pow))
                    .wrapping_mul(BASE)
                    .wrapping_add(inn);
                i += 1;
            }
        }
        seqs.sort_unstable();
        seqs.dedup();
        seqs.iter()
            .filter_map(|s| self.order.get(s).map(|e| (*s, e.desc.clone())))
            .collect()
    }

    /// The compiled regex of a substituted pattern2 source (cached).
    pub fn regex(&mut self, src: &[u8]) -> Result<Arc<PerlRegex>, String> {
        if let Some(r) = self.regexes.get(src) {
            return Ok(r.clone());
        }
        let re = Arc::new(PerlRegex::from_bytes(src)?);
        if self.regexes.len() >= REGEX_CACHE {
            self.regexes.clear();
        }
        self.regexes.insert(src.to_vec(), re.clone());
        Ok(re)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(t: &str) -> Option<Vec<bool>> {
        Plan::new(t.as_bytes()).map(|p| p.required)
    }

    #[test]
    fn required_placeholders() {
        assert_eq!(req("^a $1 b $2$"), Some(vec![true, true]));
        assert_eq!(req("a(?:x|$1) $2"), Some(vec![false, true]));
        assert_eq!(req("a$1|b$2"), Some(vec![false, false]));
        assert_eq!(req("a(?:$1)? $2"), Some(vec![false, true]));
        assert_eq!(req("a($1)* (x$2)"), Some(vec![false, true]));
        assert_eq!(req("a$1+"), Some(vec![false]));
        assert_eq!(req("a$1{2}"), Some(vec![false]));
        assert_eq!(req("(?i)a $1"), Some(vec![false]));
        assert_eq!(req("a (?i:b) $1"), Some(vec![false]));
        assert_eq!(req("a ${1} $+{name}"), Some(vec![true, true]));
        // Escaped: no placeholder; no placeholder at all: no plan.
        assert_eq!(req(r"a \$1"), None);
        // Back-reference, look-around: fallback engine, no plan.
        assert_eq!(req(r"(a)\1 $1"), None);
        assert_eq!(req(r"(?<=x)$1"), None);
        // Cached entries are not quoted.
        assert_eq!(req("a $:{e:v}"), None);
        // \Q and a placeholder after an escape letter: refused.
        assert_eq!(req(r"\Q$1\E"), None);
        assert_eq!(req(r"\x$1"), None);
    }

    #[test]
    fn capture_verification() {
        let p = Plan::new(b"^host $1 if $2 up$").unwrap();
        assert!(p.capture.is_some());
        let mut v = MatchVars::default();
        v.set("1", Some(b"a.b".to_vec()));
        v.set("2", Some(b"x+y".to_vec()));
        let (src, vals) = p.substitute(b"^host $1 if $2 up$", &v);
        assert_eq!(src, br"^host a\.b if x\+y up$".to_vec());
        let text = b"host a.b if x+y up";
        let (re, _) = p.capture.as_ref().unwrap();
        let mut locs = Vec::new();
        assert!(re.captures_into(text, &mut locs));
        assert!(p.verify(text, &locs, &vals));
        assert!(!p.verify(text, &locs, &[b"a.c".to_vec(), b"x+y".to_vec()]));
        assert!(Plan::new(b"a$1+").unwrap().capture.is_none());
    }

    #[test]
    fn substituted_sources_are_valid() {
        // Every printable ASCII byte, quoted, compiles where a group compiled.
        let all: Vec<u8> = (0x20u8..0x7f).collect();
        let p = Plan::new(b"^x $1 (y)? $2{2}").unwrap();
        let mut v = MatchVars::default();
        v.set("1", Some(all.clone()));
        v.set("2", Some(b"ab".to_vec()));
        let (src, vals) = p.substitute(b"^x $1 (y)? $2{2}", &v);
        assert!(Plan::valid_without_compiling(&vals));
        let re = PerlRegex::from_bytes(&src).unwrap();
        let mut line = b"x ".to_vec();
        line.extend_from_slice(&all);
        line.extend_from_slice(b" y abb");
        assert!(re.is_match(&line));
        assert!(!Plan::valid_without_compiling(&[Vec::new()]));
        assert!(!Plan::valid_without_compiling(&["é".as_bytes().to_vec()]));
    }

    fn ops(v: &[(&str, Option<&str>)]) -> PairOps {
        let mut p = PairOps::default();
        for (d, k) in v {
            p.insert(d.as_bytes().to_vec(), k.iter().map(|k| k.as_bytes()));
        }
        p
    }

    fn s(v: Vec<(u64, Bytes)>) -> Vec<String> {
        v.into_iter()
            .map(|(_, b)| String::from_utf8(b).unwrap())
            .collect()
    }

    #[test]
    fn index_candidates() {
        let mut p = ops(&[
            ("a", Some("eth0")),
            ("b", None),
            ("c", Some("eth1")),
            ("d", Some("")),
            ("e", Some("eth0")),
            ("f", Some("host7")),
        ]);
        assert_eq!(s(p.candidates(b"x eth0 y")), ["a", "b", "d", "e"]);
        assert_eq!(
            s(p.candidates(b"eth1 host7 eth0")),
            ["a", "b", "c", "d", "e", "f"]
        );
        assert_eq!(s(p.candidates(b"eth")), ["b", "d"]);
        assert_eq!(s(p.candidates(b"")), ["b", "d"]);
        // Ended, then restarted: it moves to the end of the order.
        p.remove(b"a");
        assert_eq!(s(p.candidates(b"eth0")), ["b", "d", "e"]);
        p.insert(b"a".to_vec(), [b"eth0".as_slice()].into_iter());
        assert_eq!(s(p.candidates(b"eth0")), ["b", "d", "e", "a"]);
        // Restarted under the same desc with another key.
        p.insert(b"e".to_vec(), [b"eth1".as_slice()].into_iter());
        assert_eq!(s(p.candidates(b"eth0")), ["b", "d", "a"]);
        assert_eq!(p.len(), 6);
        for d in ["a", "b", "c", "d", "e", "f"] {
            p.remove(d.as_bytes());
        }
        assert!(p.is_empty() && p.lens.is_empty() && p.buckets.is_empty());
    }

    #[test]
    fn index_collisions_and_smallest_bucket() {
        // Many keys of one length; a key at the line's very end and start.
        let mut p = PairOps::default();
        for i in 0..500 {
            let k = format!("k{i:03}");
            p.insert(format!("d{i}").into_bytes(), [k.as_bytes()].into_iter());
        }
        assert_eq!(s(p.candidates(b"k007")), ["d7"]);
        assert_eq!(s(p.candidates(b"zk499")), ["d499"]);
        assert_eq!(s(p.candidates(b"k123k124")), ["d123", "d124"]);
        // Two keys offered: the one with the fewer operations is taken.
        let mut q = ops(&[("x", Some("h1")), ("y", Some("h1"))]);
        q.insert(
            b"z".to_vec(),
            [b"h1".as_slice(), b"if9".as_slice()].into_iter(),
        );
        assert_eq!(s(q.candidates(b"if9 h1")), ["x", "y", "z"]);
        // The other key must occur too.
        assert_eq!(s(q.candidates(b"if9")), Vec::<String>::new());
        assert!(contains(b"abcabd", b"abd") && !contains(b"abcab", b"abd"));
    }
}
