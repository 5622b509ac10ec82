//! A small backtracking matcher with Perl's semantics, for the common shape of log rule
//! patterns: a literal start, then literals, byte classes with quantifiers, captures,
//! optional groups and alternations (`sshd\[\d+\]: Failed password for (\S+) from ...`).
//!
//! The `regex` crate finds such a match in three passes (a forward DFA for the end, a
//! reverse DFA for the start, then an anchored capture engine); a backtracker that starts
//! only where the leading literal occurs does it in one short pass. Perl itself is a
//! backtracker, so trying alternatives and quantifier counts in Perl's order gives Perl's
//! match and groups directly.
//!
//! This module owns only that matcher. It accepts a tree (see `ast`) only when it can run
//! all of it (no look-around, back-references, atomic groups, Unicode word boundaries,
//! group resets, nor loops whose body can match the empty string), and it gives up on a
//! line after a step or depth budget; in both cases the caller uses the `regex` crate,
//! which finds the same match. It must not know about rules or match variables.

use super::ast::{Assert, ByteSet, Node};

/// One instruction; `next` fields are program counters.
#[derive(Debug)]
enum Inst {
    /// The bytes, in order.
    Lit(Box<[u8]>, usize),
    /// One byte of the set.
    Set(ByteSet, usize),
    /// `set{min,max}`, greedy or lazy; `first` is the byte the continuation must start
    /// with, when it is known.
    Star {
        set: ByteSet,
        min: u32,
        max: u32,
        greedy: bool,
        first: Option<u8>,
        next: usize,
    },
    /// Alternatives, tried in order.
    Alt(Box<[usize]>),
    /// Records the position in capture slot `.0`.
    Save(usize, usize),
    /// A zero-width assertion.
    Assert(Assert, usize),
    /// Enters loop `.0`: its counter starts at zero.
    LoopInit(usize, usize),
    /// The loop's decision point, reached on entry and after each iteration.
    LoopTest {
        id: usize,
        body: usize,
        min: u32,
        max: u32,
        greedy: bool,
        next: usize,
    },
    /// The whole pattern matched.
    Match,
}

/// A compiled pattern.
#[derive(Debug)]
pub(crate) struct Quick {
    prog: Vec<Inst>,
    start: usize,
    /// Every match starts with these bytes (empty when the pattern is anchored at 0).
    prefix: Box<[u8]>,
    finder: Option<memchr::memmem::Finder<'static>>,
    /// Two slots per engine group, group 0 included.
    slots: usize,
    loops: usize,
}

/// What undoing a choice restores.
#[derive(Clone, Copy)]
enum Undo {
    Slot(usize, usize),
    Count(usize, u32, usize),
}

/// Reusable matching state.
#[derive(Default)]
pub(crate) struct Scratch {
    slots: Vec<usize>,
    counts: Vec<(u32, usize)>,
    trail: Vec<Undo>,
}

const UNSET: usize = usize::MAX;
/// Deepest recursion (nested choice points) before giving up on a line.
const MAX_DEPTH: usize = 512;

/// Why a run stopped.
#[derive(PartialEq, Eq, Clone, Copy)]
enum R {
    Match,
    Fail,
    Abort,
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// The shortest length `n` can match, or None when it is not supported here.
fn min_len(n: &Node) -> usize {
    match n {
        Node::Set(_) => 1,
        Node::Seq(v) => v.iter().map(min_len).sum(),
        Node::Alt(v) => v.iter().map(min_len).min().unwrap_or(0),
        Node::Group(_, b) => min_len(b),
        Node::Repeat { node, min, .. } => min_len(node) * *min as usize,
        _ => 0,
    }
}

/// The single byte set a node is, through non-capturing groups.
fn as_set(n: &Node) -> Option<ByteSet> {
    match n {
        Node::Set(s) => Some(*s),
        Node::Group(None, b) => as_set(b),
        Node::Seq(v) if v.len() == 1 => as_set(&v[0]),
        _ => None,
    }
}

struct Compiler {
    prog: Vec<Inst>,
    loops: usize,
    max_group: usize,
}

impl Compiler {
    fn push(&mut self, i: Inst) -> usize {
        self.prog.push(i);
        self.prog.len() - 1
    }

    fn first_byte(&self, mut pc: usize) -> Option<u8> {
        loop {
            match &self.prog[pc] {
                Inst::Lit(b, _) => return b.first().copied(),
                Inst::Save(_, n) => pc = *n,
                _ => return None,
            }
        }
    }

    /// Compiles `n` so that it continues at `next`; returns its entry.
    fn comp(&mut self, n: &Node, next: usize) -> Option<usize> {
        Some(match n {
            Node::Empty => next,
            Node::Set(s) => match s.only() {
                Some(b) => self.push(Inst::Lit(Box::new([b]), next)),
                None => self.push(Inst::Set(*s, next)),
            },
            Node::Seq(v) => {
                let mut pc = next;
                let mut i = v.len();
                while i > 0 {
                    // A run of single bytes becomes one literal.
                    let mut j = i;
                    while j > 0 && matches!(&v[j - 1], Node::Set(s) if s.count() == 1) {
                        j -= 1;
                    }
                    if j < i {
                        let bytes: Vec<u8> = v[j..i]
                            .iter()
                            .filter_map(|n| match n {
                                Node::Set(s) => s.only(),
                                _ => None,
                            })
                            .collect();
                        pc = self.push(Inst::Lit(bytes.into(), pc));
                        i = j;
                    } else {
                        pc = self.comp(&v[i - 1], pc)?;
                        i -= 1;
                    }
                }
                pc
            }
            Node::Alt(v) => {
                let branches = v
                    .iter()
                    .map(|b| self.comp(b, next))
                    .collect::<Option<Vec<_>>>()?;
                self.push(Inst::Alt(branches.into()))
            }
            Node::Group(None, b) => self.comp(b, next)?,
            Node::Group(Some(i), b) => {
                self.max_group = self.max_group.max(*i);
                let close = self.push(Inst::Save(2 * i + 1, next));
                let body = self.comp(b, close)?;
                self.push(Inst::Save(2 * i, body))
            }
            Node::Repeat {
                node,
                min,
                max,
                greedy,
                possessive: false,
            } => {
                let max = max.unwrap_or(u32::MAX);
                if max == 0 {
                    return Some(next);
                }
                if let Some(set) = as_set(node) {
                    let first = self.first_byte(next);
                    return Some(self.push(Inst::Star {
                        set,
                        min: *min,
                        max,
                        greedy: *greedy,
                        first,
                        next,
                    }));
                }
                if min_len(node) == 0 {
                    return None;
                }
                let id = self.loops;
                self.loops += 1;
                let test = self.push(Inst::Match);
                let body = self.comp(node, test)?;
                self.prog[test] = Inst::LoopTest {
                    id,
                    body,
                    min: *min,
                    max,
                    greedy: *greedy,
                    next,
                };
                self.push(Inst::LoopInit(id, test))
            }
            Node::Assert(a) => match a {
                Assert::WordB(true) | Assert::NotWordB(true) => return None,
                a => self.push(Inst::Assert(*a, next)),
            },
            _ => return None,
        })
    }
}

impl Quick {
    /// Compiles a lowered tree; None when the tree is outside what this matcher runs or
    /// when it has no leading literal nor start anchor to find candidate starts by.
    /// `groups` is the number of engine groups, group 0 excluded.
    pub(crate) fn new(root: &Node, groups: usize) -> Option<Quick> {
        let mut c = Compiler {
            prog: Vec::new(),
            loops: 0,
            max_group: groups,
        };
        let m = c.push(Inst::Match);
        let end = c.push(Inst::Save(1, m));
        let body = c.comp(root, end)?;
        let start = c.push(Inst::Save(0, body));
        // The first consuming instruction decides where a match can start.
        let mut pc = body;
        let prefix: Box<[u8]> = loop {
            match &c.prog[pc] {
                Inst::Save(_, n) => pc = *n,
                Inst::Lit(b, _) if b.len() >= 2 => break b.clone(),
                Inst::Assert(Assert::TextStart, _) => break Box::new([]),
                _ => return None,
            }
        };
        let finder =
            (!prefix.is_empty()).then(|| memchr::memmem::Finder::new(&prefix[..]).into_owned());
        Some(Quick {
            slots: 2 * (c.max_group + 1),
            loops: c.loops,
            prog: c.prog,
            start,
            prefix,
            finder,
        })
    }

    /// Number of engine groups, group 0 included.
    pub(crate) fn groups(&self) -> usize {
        self.slots / 2
    }

    /// Finds the leftmost match; Some(true) leaves the group spans in `s` (read them with
    /// [`Scratch::get`]); None when the budget ran out (the caller must decide another way).
    pub(crate) fn captures(&self, hay: &[u8], s: &mut Scratch) -> Option<bool> {
        let mut steps = 10_000usize.saturating_add(hay.len().saturating_mul(32));
        let mut at = 0;
        loop {
            let cand = match &self.finder {
                Some(f) => match f.find(&hay[at..]) {
                    Some(i) => at + i,
                    None => return Some(false),
                },
                None if at == 0 => 0,
                None => return Some(false),
            };
            s.slots.clear();
            s.slots.resize(self.slots, UNSET);
            s.counts.clear();
            s.counts.resize(self.loops, (0, 0));
            s.trail.clear();
            let mut vm = Vm {
                prog: &self.prog,
                hay,
                s,
                steps: &mut steps,
            };
            match vm.run(self.start, cand, 0) {
                R::Match => return Some(true),
                R::Abort => return None,
                R::Fail => {}
            }
            if self.finder.is_none() {
                return Some(false);
            }
            at = cand + 1;
            if at + self.prefix.len() > hay.len() {
                return Some(false);
            }
        }
    }
}

impl Scratch {
    /// The span of engine group `i` after a match.
    pub(crate) fn get(&self, i: usize) -> Option<(usize, usize)> {
        let (a, b) = (*self.slots.get(2 * i)?, *self.slots.get(2 * i + 1)?);
        (a != UNSET && b != UNSET).then_some((a, b))
    }
}

struct Vm<'a> {
    prog: &'a [Inst],
    hay: &'a [u8],
    s: &'a mut Scratch,
    steps: &'a mut usize,
}

impl Vm<'_> {
    fn undo(&mut self, mark: usize) {
        while self.s.trail.len() > mark {
            match self.s.trail.pop() {
                Some(Undo::Slot(i, v)) => self.s.slots[i] = v,
                Some(Undo::Count(i, c, p)) => self.s.counts[i] = (c, p),
                None => break,
            }
        }
    }

    /// Tries `pc` at `pos` and, on failure, undoes what it changed.
    fn attempt(&mut self, pc: usize, pos: usize, depth: usize) -> R {
        let mark = self.s.trail.len();
        let r = self.run(pc, pos, depth + 1);
        if r == R::Fail {
            self.undo(mark);
        }
        r
    }

    /// A quantifier's continuation tried at `p` (skipped when the byte it must start
    /// with is not there); Some when that ends the search (a match or an abort).
    fn continue_at(&mut self, next: usize, first: Option<u8>, p: usize, depth: usize) -> Option<R> {
        if first.is_some_and(|f| self.hay.get(p) != Some(&f)) {
            return None;
        }
        match self.attempt(next, p, depth) {
            R::Fail => None,
            r => Some(r),
        }
    }

    fn assert(&self, a: Assert, pos: usize) -> bool {
        let h = self.hay;
        let n = h.len();
        match a {
            Assert::TextStart => pos == 0,
            Assert::TextEnd => pos == n,
            Assert::TextEndNl => pos == n || (pos + 1 == n && h[pos] == b'\n'),
            Assert::LineStart => pos == 0 || (h[pos - 1] == b'\n' && pos < n),
            Assert::LineEnd => pos == n || h[pos] == b'\n',
            Assert::WordB(_) | Assert::NotWordB(_) => {
                let before = pos > 0 && is_word(h[pos - 1]);
                let after = pos < n && is_word(h[pos]);
                (before != after) == matches!(a, Assert::WordB(_))
            }
        }
    }

    fn run(&mut self, mut pc: usize, mut pos: usize, depth: usize) -> R {
        if depth > MAX_DEPTH {
            return R::Abort;
        }
        let hay = self.hay;
        loop {
            if *self.steps == 0 {
                return R::Abort;
            }
            *self.steps -= 1;
            match &self.prog[pc] {
                Inst::Lit(b, next) => {
                    if !hay[pos..].starts_with(b) {
                        return R::Fail;
                    }
                    pos += b.len();
                    pc = *next;
                }
                Inst::Set(set, next) => {
                    if pos >= hay.len() || !set.contains(hay[pos]) {
                        return R::Fail;
                    }
                    pos += 1;
                    pc = *next;
                }
                Inst::Star {
                    set,
                    min,
                    max,
                    greedy,
                    first,
                    next,
                } => {
                    let limit = (hay.len() - pos).min(*max as usize);
                    let (min, next, first) = (*min as usize, *next, *first);
                    if *greedy {
                        let mut avail = 0;
                        while avail < limit && set.contains(hay[pos + avail]) {
                            avail += 1;
                        }
                        if avail < min {
                            return R::Fail;
                        }
                        let mut k = avail;
                        loop {
                            if let Some(r) = self.continue_at(next, first, pos + k, depth) {
                                return r;
                            }
                            if k == min {
                                return R::Fail;
                            }
                            k -= 1;
                            *self.steps = self.steps.saturating_sub(1);
                        }
                    }
                    let mut k = 0;
                    while k < min {
                        if k >= limit || !set.contains(hay[pos + k]) {
                            return R::Fail;
                        }
                        k += 1;
                    }
                    loop {
                        let p = pos + k;
                        if let Some(r) = self.continue_at(next, first, p, depth) {
                            return r;
                        }
                        if k >= limit || !set.contains(hay[p]) {
                            return R::Fail;
                        }
                        k += 1;
                        if *self.steps == 0 {
                            return R::Abort;
                        }
                        *self.steps -= 1;
                    }
                }
                Inst::Alt(branches) => {
                    let (last, rest) = match branches.split_last() {
                        Some(x) => x,
                        None => return R::Fail,
                    };
                    for &b in rest {
                        match self.attempt(b, pos, depth) {
                            R::Fail => {}
                            r => return r,
                        }
                    }
                    pc = *last;
                }
                Inst::Save(slot, next) => {
                    self.s.trail.push(Undo::Slot(*slot, self.s.slots[*slot]));
                    self.s.slots[*slot] = pos;
                    pc = *next;
                }
                Inst::Assert(a, next) => {
                    if !self.assert(*a, pos) {
                        return R::Fail;
                    }
                    pc = *next;
                }
                Inst::LoopInit(id, next) => {
                    let (c, p) = self.s.counts[*id];
                    self.s.trail.push(Undo::Count(*id, c, p));
                    self.s.counts[*id] = (0, pos);
                    pc = *next;
                }
                Inst::LoopTest {
                    id,
                    body,
                    min,
                    max,
                    greedy,
                    next,
                } => {
                    let id = *id;
                    let (c, p) = self.s.counts[id];
                    if c < *min {
                        self.s.trail.push(Undo::Count(id, c, p));
                        self.s.counts[id] = (c + 1, pos);
                        pc = *body;
                        continue;
                    }
                    let more = c < *max;
                    if *greedy {
                        if more {
                            let mark = self.s.trail.len();
                            self.s.trail.push(Undo::Count(id, c, p));
                            self.s.counts[id] = (c + 1, pos);
                            match self.run(*body, pos, depth + 1) {
                                R::Fail => self.undo(mark),
                                r => return r,
                            }
                        }
                        pc = *next;
                    } else {
                        match self.attempt(*next, pos, depth) {
                            R::Fail => {}
                            r => return r,
                        }
                        if !more {
                            return R::Fail;
                        }
                        self.s.trail.push(Undo::Count(id, c, p));
                        self.s.counts[id] = (c + 1, pos);
                        pc = *body;
                    }
                }
                Inst::Match => return R::Match,
            }
        }
    }
}
