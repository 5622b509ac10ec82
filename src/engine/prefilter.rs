//! The rule prefilter: one pass over an event's text tells which rules of a file can
//! possibly match, so that rules whose pattern cannot match are not tried at all.
//!
//! A rule is skipped only when its pattern cannot match and nothing else about it could
//! have an effect: SubStr patterns and RegExp patterns with required literals (every
//! match holds one of them), on one line, with no pre-evaluated `[ ]` context (whose
//! evaluation may expire contexts and run their actions). A Pair rule is skipped when
//! neither its pattern nor its (generic) pattern2 can match. Every other rule is always
//! tried, so SEC's order, `continue`, contexts and side effects stay exactly as they are.

use aho_corasick::AhoCorasick;

use crate::config::PatternKind;
use crate::engine::compile::{CFile, CKind, CMatch};
use crate::engine::subst::{has_matchvars, Bytes};

/// A file's prefilter.
///
/// The automaton finds the longest literal at the leftmost position (which lets it skip
/// ahead with its SIMD prefilters, as an overlapping search cannot), and the search
/// resumes one byte after that start. Every literal that occurs somewhere is found: at
/// each position where any literal starts the search stops once, and the literals that
/// start there are the longest one and those that are its prefixes (`prefixes`).
#[derive(Clone, Debug, Default)]
pub struct Prefilter {
    /// Few literals: one SIMD substring searcher each beats an automaton whose start
    /// bytes are common in log lines.
    finders: Vec<memchr::memmem::Finder<'static>>,
    /// Two to 64 literals: one SIMD (Teddy) pass finds the leftmost-longest of them.
    packed: Option<aho_corasick::packed::Searcher>,
    ac: Option<AhoCorasick>,
    /// Prefixes (two bytes or more) of which every automaton literal starts with one: no
    /// literal can start before the first occurrence of one, and a line without any has
    /// none.
    gate: Option<Gate>,
    /// For each literal, the other literals that are prefixes of it.
    prefixes: Vec<Vec<usize>>,
    /// Literal index to the rules that need it.
    lit_rules: Vec<Vec<usize>>,
    /// Rules tried whatever the text.
    always: Vec<u64>,
}

/// Up to this many distinct literals, each is searched for on its own (when the packed
/// searcher cannot be built).
const MAX_FINDERS: usize = 8;
/// Up to this many literals, the packed (Teddy) searcher.
const MAX_PACKED: usize = 64;

/// What a match needs: one of these literals, or None (always try).
fn needs(m: &CMatch) -> Option<Vec<Bytes>> {
    if m.ctx.as_ref().is_some_and(|c| c.preeval) || m.pat.lines != 1 {
        return None;
    }
    match m.pat.kind {
        PatternKind::SubStr if !m.pat.text.is_empty() => Some(vec![m.pat.text.clone()]),
        PatternKind::RegExp => m.pat.regex.as_ref()?.required_literals(),
        _ => None,
    }
}

impl Prefilter {
    /// Builds the prefilter of a compiled file.
    pub fn build(file: &CFile) -> Prefilter {
        let n = file.rules.len();
        let mut always = vec![0u64; n.div_ceil(64)];
        let mut lits: Vec<Bytes> = Vec::new();
        let mut lit_rules: Vec<Vec<usize>> = Vec::new();
        let mut index: std::collections::HashMap<Bytes, usize> = std::collections::HashMap::new();
        for (i, r) in file.rules.iter().enumerate() {
            let single = r.kind.single_match();
            let req = match &r.kind {
                _ if single.is_some() => single.and_then(needs),
                CKind::EventGroup { events, .. } => {
                    let mut all = Vec::new();
                    let mut ok = true;
                    for e in events {
                        match needs(&e.m) {
                            Some(l) => all.extend(l),
                            None => ok = false,
                        }
                    }
                    ok.then_some(all)
                }
                // A Pair rule starts an operation (pattern) or ends one (pattern2, whose
                // generic form every operation's pattern2 implies): a line holding
                // neither's literals can do neither.
                CKind::Pair {
                    m,
                    m2,
                    deferred,
                    generic2,
                    ..
                } => {
                    let second = if m2.ctx.as_ref().is_some_and(|c| c.preeval) {
                        None
                    } else if let Some(g) = generic2.as_ref().filter(|_| *deferred) {
                        (m2.pat.lines == 1).then(|| g.required_literals()).flatten()
                    } else if has_matchvars(&m2.pat.text, b'$') || has_matchvars(&m2.pat.text, b'%')
                    {
                        // Each operation has its own text (a SubStr with values in it).
                        None
                    } else {
                        needs(m2)
                    };
                    match (needs(m), second) {
                        (Some(mut a), Some(b)) => {
                            a.extend(b);
                            Some(a)
                        }
                        _ => None,
                    }
                }
                _ => None,
            };
            match req {
                Some(l) if !l.is_empty() => {
                    for lit in l {
                        let id = *index.entry(lit.clone()).or_insert_with(|| {
                            lits.push(lit);
                            lit_rules.push(Vec::new());
                            lits.len() - 1
                        });
                        if lit_rules[id].last() != Some(&i) {
                            lit_rules[id].push(i);
                        }
                    }
                }
                _ => always[i / 64] |= 1 << (i % 64),
            }
        }
        let packed = if (2..=MAX_PACKED).contains(&lits.len()) {
            teddy(&lits, aho_corasick::packed::MatchKind::LeftmostLongest)
        } else {
            None
        };
        let finders = if packed.is_none() && lits.len() <= MAX_FINDERS {
            lits.iter()
                .map(|l| memchr::memmem::Finder::new(l).into_owned())
                .collect()
        } else {
            Vec::new()
        };
        let ac = if lits.is_empty() || !finders.is_empty() || packed.is_some() {
            None
        } else {
            AhoCorasick::builder()
                .match_kind(aho_corasick::MatchKind::LeftmostLongest)
                .build(&lits)
                .ok()
        };
        let gate = ac.as_ref().and_then(|_| gate_for(&lits));
        let prefixes = prefix_lists(&lits);
        if ac.is_none() && finders.is_empty() && packed.is_none() {
            // Without an automaton every rule is tried.
            for i in 0..n {
                always[i / 64] |= 1 << (i % 64);
            }
        }
        Prefilter {
            finders,
            packed,
            ac,
            gate,
            prefixes,
            lit_rules,
            always,
        }
    }

    /// The candidate rules for `text`, as a bit set (bit i: rule i may match).
    pub fn candidates(&self, text: &[u8], out: &mut Vec<u64>) {
        out.clear();
        out.extend_from_slice(&self.always);
        if !self.finders.is_empty() {
            for (i, f) in self.finders.iter().enumerate() {
                if f.find(text).is_some() {
                    self.mark(i, out);
                }
            }
            return;
        }
        if let Some(p) = &self.packed {
            let mut at = 0;
            while at < text.len() {
                let Some(m) = p.find_in(text, aho_corasick::Span::from(at..text.len())) else {
                    break;
                };
                self.mark_with_prefixes(m.pattern().as_usize(), out);
                at = m.start() + 1;
            }
            return;
        }
        let Some(ac) = &self.ac else {
            return;
        };
        let mut at = match &self.gate {
            Some(g) => match g.find(text) {
                Some(i) => i,
                None => return,
            },
            None => 0,
        };
        while at < text.len() {
            let input = aho_corasick::Input::new(text).span(at..text.len());
            let Some(m) = ac.find(input) else {
                break;
            };
            self.mark_with_prefixes(m.pattern().as_usize(), out);
            at = m.start() + 1;
        }
    }

    /// Marks the rules of a found literal and of the literals that are its prefixes (they
    /// occur at the same place).
    fn mark_with_prefixes(&self, id: usize, out: &mut [u64]) {
        self.mark(id, out);
        for &p in &self.prefixes[id] {
            self.mark(p, out);
        }
    }

    fn mark(&self, lit: usize, out: &mut [u64]) {
        for &r in &self.lit_rules[lit] {
            out[r / 64] |= 1 << (r % 64);
        }
    }
}

/// The searcher in front of the automaton (see [`Prefilter::gate`]).
#[derive(Clone, Debug)]
enum Gate {
    /// The prefix all literals share.
    One(memchr::memmem::Finder<'static>),
    /// At most 64 prefixes of the same length, found in one Teddy pass.
    Many(aho_corasick::packed::Searcher),
}

impl Gate {
    /// Where the first prefix starts, if any does.
    fn find(&self, text: &[u8]) -> Option<usize> {
        match self {
            Gate::One(f) => f.find(text),
            Gate::Many(p) => p.find(text).map(|m| m.start()),
        }
    }
}

/// The gate for `lits`: their common prefix when it has two bytes or more, else the
/// longest prefix length (2 to 8 bytes) at which they have at most 64 distinct prefixes.
fn gate_for(lits: &[Bytes]) -> Option<Gate> {
    let first = lits.first()?;
    let lcp = lits.iter().fold(first.len(), |n, l| {
        n.min(first.iter().zip(l).take_while(|(a, b)| a == b).count())
    });
    if lcp >= 2 {
        return Some(Gate::One(
            memchr::memmem::Finder::new(&first[..lcp]).into_owned(),
        ));
    }
    let shortest = lits.iter().map(Vec::len).min()?;
    let mut best = None;
    for k in 2..=shortest.min(8) {
        let set: std::collections::BTreeSet<&[u8]> = lits.iter().map(|l| &l[..k]).collect();
        if set.len() > 64 {
            break;
        }
        best = Some(set);
    }
    teddy(best?, aho_corasick::packed::MatchKind::LeftmostFirst).map(Gate::Many)
}

/// aho-corasick's packed (Teddy) searcher for `lits`, when it can be built.
fn teddy<I, P>(
    lits: I,
    kind: aho_corasick::packed::MatchKind,
) -> Option<aho_corasick::packed::Searcher>
where
    I: IntoIterator<Item = P>,
    P: AsRef<[u8]>,
{
    aho_corasick::packed::Config::new()
        .match_kind(kind)
        .builder()
        .extend(lits)
        .build()
}

/// For each literal, the indexes of the other (distinct) literals that are its prefixes.
fn prefix_lists(lits: &[Bytes]) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lits.len()).collect();
    order.sort_by(|&a, &b| lits[a].cmp(&lits[b]));
    let mut out = vec![Vec::new(); lits.len()];
    // In sorted order a literal's prefixes come before it; a stack holds the chain of
    // literals that are prefixes of the current one.
    let mut chain: Vec<usize> = Vec::new();
    for &i in &order {
        while let Some(&top) = chain.last() {
            if lits[i].starts_with(&lits[top]) {
                break;
            }
            chain.pop();
        }
        out[i] = chain.clone();
        chain.push(i);
    }
    out
}

/// The first set bit at or after `i` (or `n` if none).
pub fn next_candidate(bits: &[u64], i: usize, n: usize) -> usize {
    let mut w = i / 64;
    if w >= bits.len() {
        return n;
    }
    let mut word = bits[w] & (u64::MAX << (i % 64));
    loop {
        if word != 0 {
            return (w * 64 + word.trailing_zeros() as usize).min(n);
        }
        w += 1;
        if w >= bits.len() {
            return n;
        }
        word = bits[w];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_bit() {
        let bits = vec![0b1010u64, 0, 1];
        assert_eq!(next_candidate(&bits, 0, 200), 1);
        assert_eq!(next_candidate(&bits, 2, 200), 3);
        assert_eq!(next_candidate(&bits, 4, 200), 128);
        assert_eq!(next_candidate(&bits, 129, 200), 200);
    }

    /// The leftmost-longest search with restarts finds exactly the literals that an
    /// overlapping search finds, on random literal sets (with shared prefixes, literals
    /// inside others) and random texts.
    #[test]
    fn finds_every_literal_like_an_overlapping_search() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        let mut rnd = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        for round in 0..3000 {
            let nlits = 1 + rnd(12) as usize;
            let mut lits: Vec<Bytes> = Vec::new();
            // A third of the sets share a prefix (the automaton's gate of one prefix).
            let shared: &[u8] = if round % 3 == 0 { b"ab" } else { b"" };
            for _ in 0..nlits {
                // Another third have two bytes or more (the gate of several prefixes).
                let len = if round % 3 == 1 { 2 } else { 1 } + rnd(4) as usize;
                let lit: Bytes = shared
                    .iter()
                    .copied()
                    .chain((0..len).map(|_| b"abc"[rnd(3) as usize]))
                    .collect();
                if !lits.contains(&lit) {
                    lits.push(lit);
                }
            }
            let text: Bytes = (0..rnd(90)).map(|_| b"abcd"[rnd(4) as usize]).collect();
            let ac = Prefilter {
                finders: Vec::new(),
                packed: None,
                gate: gate_for(&lits),
                ac: AhoCorasick::builder()
                    .match_kind(aho_corasick::MatchKind::LeftmostLongest)
                    .build(&lits)
                    .ok(),
                prefixes: prefix_lists(&lits),
                lit_rules: (0..lits.len()).map(|i| vec![i]).collect(),
                always: vec![0],
            };
            let packed = Prefilter {
                ac: None,
                gate: None,
                packed: teddy(&lits, aho_corasick::packed::MatchKind::LeftmostLongest),
                ..ac.clone()
            };
            let mut want = 0u64;
            let all = AhoCorasick::new(&lits).unwrap();
            for m in all.find_overlapping_iter(&text) {
                want |= 1 << m.pattern().as_usize();
            }
            for p in [&ac, &packed] {
                let mut got = Vec::new();
                p.candidates(&text, &mut got);
                assert_eq!(got, vec![want], "lits {lits:?} text {text:?}");
            }
        }
    }
}

#[cfg(test)]
mod build_tests {
    use crate::config::{parse_rule_text, LoadOptions};
    use crate::engine::compile::compile;

    #[test]
    fn substr_and_regexp_rules_are_filtered() {
        let text = "type=Single\nptype=SubStr\npattern=[E1]\ndesc=d\naction=none\n\n\
                    type=Single\nptype=RegExp\npattern=foo (\\d+)\ndesc=d\naction=none\n\n\
                    type=Single\nptype=TValue\npattern=TRUE\ndesc=d\naction=none\n";
        let f = parse_rule_text("t", text.as_bytes(), &LoadOptions::default());
        let prog = compile(&[f], 0);
        let mut bits = Vec::new();
        prog.prefilters[0].candidates(b"nothing here", &mut bits);
        assert_eq!(bits, vec![0b100]);
        prog.prefilters[0].candidates(b"x [E1] foo 12", &mut bits);
        assert_eq!(bits, vec![0b111]);
    }

    /// A Pair rule is a candidate for lines of either pattern; a SubStr pattern2 with
    /// values of the first match in it leaves the rule always tried.
    #[test]
    fn pair_rules_are_filtered_by_both_patterns() {
        let text = "type=Pair\nptype=RegExp\npattern=^begin (\\S+)\ndesc=b $1\naction=none\n\
                    ptype2=RegExp\npattern2=^end $1 now\ndesc2=e\naction2=none\n\n\
                    type=Pair\nptype=RegExp\npattern=^start (\\S+)\ndesc=b $1\naction=none\n\
                    ptype2=SubStr\npattern2=stop $1\ndesc2=e\naction2=none\n";
        let f = parse_rule_text("t", text.as_bytes(), &LoadOptions::default());
        let prog = compile(&[f], 0);
        let mut bits = Vec::new();
        prog.prefilters[0].candidates(b"nothing here", &mut bits);
        assert_eq!(bits, vec![0b10]);
        prog.prefilters[0].candidates(b"end job now", &mut bits);
        assert_eq!(bits, vec![0b11]);
        prog.prefilters[0].candidates(b"begin job", &mut bits);
        assert_eq!(bits, vec![0b11]);
    }
}
