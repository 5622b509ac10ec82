//! The rule prefilter: one pass over an event's text tells which rules of a file can
//! possibly match, so that rules whose pattern cannot match are not tried at all.
//!
//! A rule is skipped only when its pattern cannot match and nothing else about it could
//! have an effect: SubStr patterns and RegExp patterns with required literals (every
//! match holds one of them), on one line, with no pre-evaluated `[ ]` context (whose
//! evaluation may expire contexts and run their actions). Every other rule is always
//! tried, so SEC's order, `continue`, contexts and side effects stay exactly as they are.

use aho_corasick::AhoCorasick;

use crate::config::PatternKind;
use crate::engine::compile::{CFile, CKind, CMatch};
use crate::engine::subst::Bytes;

/// A file's prefilter.
#[derive(Clone, Debug, Default)]
pub struct Prefilter {
    ac: Option<AhoCorasick>,
    /// Literal index to the rules that need it.
    lit_rules: Vec<Vec<usize>>,
    /// Rules tried whatever the text.
    always: Vec<u64>,
}

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
            let req = match &r.kind {
                CKind::Single { m, .. }
                | CKind::Script { m, .. }
                | CKind::SingleWithSuppress { m, .. }
                | CKind::Threshold { m, .. }
                | CKind::TwoThresholds { m, .. }
                | CKind::Suppress { m }
                | CKind::Jump { m, .. } => needs(m),
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
                // Pair rules also offer events to their running operations.
                CKind::Pair { .. } | CKind::Calendar { .. } => None,
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
        let ac = if lits.is_empty() {
            None
        } else {
            AhoCorasick::builder().build(&lits).ok()
        };
        if ac.is_none() {
            // Without an automaton every rule is tried.
            for i in 0..n {
                always[i / 64] |= 1 << (i % 64);
            }
        }
        Prefilter {
            ac,
            lit_rules,
            always,
        }
    }

    /// The candidate rules for `text`, as a bit set (bit i: rule i may match).
    pub fn candidates(&self, text: &[u8], out: &mut Vec<u64>) {
        out.clear();
        out.extend_from_slice(&self.always);
        if let Some(ac) = &self.ac {
            for m in ac.find_overlapping_iter(text) {
                for &r in &self.lit_rules[m.pattern().as_usize()] {
                    out[r / 64] |= 1 << (r % 64);
                }
            }
        }
    }
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
}
