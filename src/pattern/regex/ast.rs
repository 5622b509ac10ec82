//! The parsed form of a Perl pattern: a small tree whose character-matching leaves are
//! already resolved to sets of bytes (case folding, `/s`, `/u` and negation applied), so
//! both engines see exactly the same byte semantics.

/// A set of byte values, one bit per byte.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub(crate) struct ByteSet(pub(crate) [u64; 4]);

impl ByteSet {
    pub(crate) const EMPTY: ByteSet = ByteSet([0; 4]);
    pub(crate) const FULL: ByteSet = ByteSet([u64::MAX; 4]);

    pub(crate) fn single(b: u8) -> ByteSet {
        let mut s = ByteSet::EMPTY;
        s.insert(b);
        s
    }

    pub(crate) fn insert(&mut self, b: u8) {
        self.0[(b >> 6) as usize] |= 1u64 << (b & 63);
    }

    pub(crate) fn contains(&self, b: u8) -> bool {
        self.0[(b >> 6) as usize] & (1u64 << (b & 63)) != 0
    }

    pub(crate) fn insert_range(&mut self, lo: u8, hi: u8) {
        for b in lo..=hi {
            self.insert(b);
        }
    }

    pub(crate) fn union(&mut self, o: &ByteSet) {
        for i in 0..4 {
            self.0[i] |= o.0[i];
        }
    }

    pub(crate) fn negated(&self) -> ByteSet {
        ByteSet([!self.0[0], !self.0[1], !self.0[2], !self.0[3]])
    }

    pub(crate) fn from_fn(f: impl Fn(u8) -> bool) -> ByteSet {
        let mut s = ByteSet::EMPTY;
        for b in 0..=255u8 {
            if f(b) {
                s.insert(b);
            }
        }
        s
    }

    pub(crate) fn count(&self) -> u32 {
        self.0.iter().map(|w| w.count_ones()).sum()
    }

    /// The only member, when there is exactly one.
    pub(crate) fn only(&self) -> Option<u8> {
        if self.count() != 1 {
            return None;
        }
        (0..=255u8).find(|&b| self.contains(b))
    }

    /// Adds the other case of every member: ASCII letters always, and the Latin-1
    /// letters too under Unicode rules (`/u`).
    pub(crate) fn fold(&self, unicode: bool) -> ByteSet {
        let mut out = *self;
        for b in 0..=255u8 {
            if self.contains(b) {
                if let Some(o) = other_case(b, unicode) {
                    out.insert(o);
                }
            }
        }
        out
    }
}

/// The single-byte case partner of `b`, if any.
pub(crate) fn other_case(b: u8, unicode: bool) -> Option<u8> {
    match b {
        b'a'..=b'z' => Some(b - 32),
        b'A'..=b'Z' => Some(b + 32),
        0xC0..=0xDE if unicode && b != 0xD7 => Some(b + 32),
        0xE0..=0xFE if unicode && b != 0xF7 => Some(b - 32),
        _ => None,
    }
}

/// A zero-width assertion.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Assert {
    /// `\A`, `\G` (a fresh match always starts at pos 0), `^` without /m.
    TextStart,
    /// `\z`.
    TextEnd,
    /// `$` without /m, `\Z`: end of text or before a final newline.
    TextEndNl,
    /// `^` under /m: start of text or after a newline that is not the last byte.
    LineStart,
    /// `$` under /m: before any newline or at the end.
    LineEnd,
    /// `\b`; true = Unicode (Latin-1) word characters under /u.
    WordB(bool),
    /// `\B`.
    NotWordB(bool),
}

/// What a back-reference or a condition refers to, resolved after parsing.
#[derive(Clone, PartialEq, Eq, Debug)]
pub(crate) enum GroupRef {
    /// A Perl group number.
    Num(usize),
    /// A group name.
    Name(String),
}

/// A node of the pattern tree.
#[derive(Clone, Debug)]
pub(crate) enum Node {
    /// Matches the empty string.
    Empty,
    /// One byte out of the set (an empty set never matches).
    Set(ByteSet),
    /// Concatenation.
    Seq(Vec<Node>),
    /// Alternation, leftmost first.
    Alt(Vec<Node>),
    /// A group; `Some(i)` is a capture with internal index `i`.
    Group(Option<usize>, Box<Node>),
    /// Look-around.
    Look {
        ahead: bool,
        neg: bool,
        node: Box<Node>,
    },
    /// `(?>...)`.
    Atomic(Box<Node>),
    /// A quantified node.
    Repeat {
        node: Box<Node>,
        min: u32,
        max: Option<u32>,
        greedy: bool,
        possessive: bool,
    },
    /// `\1`, `\k<n>` ... (always case-sensitive: fancy-regex has no case-insensitive
    /// back-references, so `(?i)(a)\1` does not match "aA" as it does in Perl).
    Backref(GroupRef),
    /// A zero-width assertion.
    Assert(Assert),
    /// `\K`.
    Keep,
    /// `(?(N)yes|no)` / `(?(<name>)yes|no)`.
    CondGroup {
        target: GroupRef,
        yes: Box<Node>,
        no: Box<Node>,
    },
    /// `(?(?=..)yes|no)`.
    CondLook {
        cond: Box<Node>,
        yes: Box<Node>,
        no: Box<Node>,
    },
    /// An empty capture with internal index `.0` recording where a zero-count
    /// repetition of internal group `.1` happened (see [`lower`]).
    Shadow(usize, usize),
}

impl Node {
    /// True when the `regex` crate cannot run this tree.
    pub(crate) fn needs_fallback(&self) -> bool {
        match self {
            Node::Empty | Node::Set(_) => false,
            Node::Seq(v) | Node::Alt(v) => v.iter().any(Node::needs_fallback),
            Node::Group(_, n) => n.needs_fallback(),
            Node::Repeat {
                node, possessive, ..
            } => *possessive || node.needs_fallback(),
            Node::Assert(Assert::WordB(u)) | Node::Assert(Assert::NotWordB(u)) => *u,
            Node::Assert(_) => false,
            Node::Look { .. }
            | Node::Atomic(_)
            | Node::Backref(_)
            | Node::Keep
            | Node::CondGroup { .. }
            | Node::CondLook { .. } => true,
            Node::Shadow(..) => false,
        }
    }

    fn has_captures(&self) -> bool {
        match self {
            Node::Group(Some(_), _) | Node::Shadow(..) => true,
            Node::Seq(v) | Node::Alt(v) => v.iter().any(Node::has_captures),
            Node::Group(None, n) | Node::Atomic(n) => n.has_captures(),
            Node::Look { node, .. } | Node::Repeat { node, .. } => node.has_captures(),
            Node::CondGroup { yes, no, .. } => yes.has_captures() || no.has_captures(),
            Node::CondLook { cond, yes, no } => {
                cond.has_captures() || yes.has_captures() || no.has_captures()
            }
            _ => false,
        }
    }

    /// True when the result depends on whether the text ends with a newline in a way the
    /// `regex` crate cannot express (`$`, `\Z`, and `^` under /m).
    pub(crate) fn newline_sensitive(&self) -> bool {
        match self {
            Node::Assert(Assert::TextEndNl) | Node::Assert(Assert::LineStart) => true,
            Node::Seq(v) | Node::Alt(v) => v.iter().any(Node::newline_sensitive),
            Node::Group(_, n) | Node::Atomic(n) => n.newline_sensitive(),
            Node::Look { node, .. } | Node::Repeat { node, .. } => node.newline_sensitive(),
            Node::CondGroup { yes, no, .. } => yes.newline_sensitive() || no.newline_sensitive(),
            Node::CondLook { cond, yes, no } => {
                cond.newline_sensitive() || yes.newline_sensitive() || no.newline_sensitive()
            }
            _ => false,
        }
    }

    /// The possible match lengths, if finite and small (used to split look-behinds).
    pub(crate) fn fixed_len(&self) -> Option<usize> {
        match self {
            Node::Empty | Node::Assert(_) | Node::Look { .. } => Some(0),
            Node::Set(_) => Some(1),
            Node::Seq(v) => v.iter().map(Node::fixed_len).sum(),
            Node::Alt(v) => {
                let first = v.first().map_or(Some(0), Node::fixed_len)?;
                if v.iter().all(|n| n.fixed_len() == Some(first)) {
                    Some(first)
                } else {
                    None
                }
            }
            Node::Group(_, n) | Node::Atomic(n) => n.fixed_len(),
            Node::Repeat { node, min, max, .. } => {
                if Some(*min) == *max {
                    node.fixed_len().map(|l| l * *min as usize)
                } else {
                    None
                }
            }
            _ => None,
        }
    }
}

/// The capture group a quantifier applies to directly (through non-capturing groups),
/// when its body has a fixed non-zero length and no captures of its own: Perl compiles
/// such a loop as CURLYN/CURLYM, which resets the group to undef when the loop matches
/// zero times, e.g. `(?:x(y)?)+` on "xyx" leaves `$1` undefined.
fn resetting_group(n: &Node) -> Option<usize> {
    match n {
        Node::Group(None, inner) => resetting_group(inner),
        Node::Group(Some(i), body) => {
            (!body.has_captures() && body.fixed_len().is_some_and(|l| l > 0)).then_some(*i)
        }
        _ => None,
    }
}

/// Rewrites loops that may reset their group (see [`resetting_group`]) into an
/// alternative of one-or-more iterations and a [`Node::Shadow`] marker, then numbers all
/// captures in emission order. Returns the new Perl group number of every internal
/// capture (0 for shadows) and the (shadow, target) internal pairs.
pub(crate) fn lower(root: Node, ext_of_int: &[usize]) -> (Node, Vec<usize>, Vec<(usize, usize)>) {
    fn rewrite(n: Node) -> Node {
        match n {
            Node::Repeat {
                node,
                min,
                max,
                greedy,
                possessive,
            } => {
                let node = Box::new(rewrite(*node));
                match resetting_group(&node) {
                    Some(target) if min == 0 && max != Some(0) => {
                        let once = Node::Repeat {
                            node,
                            min: 1,
                            max,
                            greedy,
                            possessive: false,
                        };
                        let shadow = Node::Shadow(0, target);
                        let alt = if greedy {
                            Node::Alt(vec![once, shadow])
                        } else {
                            Node::Alt(vec![shadow, once])
                        };
                        if possessive {
                            Node::Atomic(Box::new(alt))
                        } else {
                            alt
                        }
                    }
                    _ => Node::Repeat {
                        node,
                        min,
                        max,
                        greedy,
                        possessive,
                    },
                }
            }
            Node::Seq(v) => Node::Seq(v.into_iter().map(rewrite).collect()),
            Node::Alt(v) => Node::Alt(v.into_iter().map(rewrite).collect()),
            Node::Group(c, b) => Node::Group(c, Box::new(rewrite(*b))),
            Node::Atomic(b) => Node::Atomic(Box::new(rewrite(*b))),
            Node::Look { ahead, neg, node } => Node::Look {
                ahead,
                neg,
                node: Box::new(rewrite(*node)),
            },
            Node::CondGroup { target, yes, no } => Node::CondGroup {
                target,
                yes: Box::new(rewrite(*yes)),
                no: Box::new(rewrite(*no)),
            },
            Node::CondLook { cond, yes, no } => Node::CondLook {
                cond: Box::new(rewrite(*cond)),
                yes: Box::new(rewrite(*yes)),
                no: Box::new(rewrite(*no)),
            },
            other => other,
        }
    }

    struct Num<'a> {
        old_ext: &'a [usize],
        new_of_old: Vec<usize>,
        ext: Vec<usize>,
        shadows: Vec<(usize, usize)>,
    }

    // Visits nodes in the order the emitter writes them.
    fn number(n: &mut Node, st: &mut Num<'_>) {
        match n {
            Node::Group(cap, b) => {
                if let Some(old) = cap {
                    st.ext.push(st.old_ext.get(*old - 1).copied().unwrap_or(0));
                    st.new_of_old[*old] = st.ext.len();
                    *old = st.ext.len();
                }
                number(b, st);
            }
            Node::Shadow(idx, target) => {
                st.ext.push(0);
                *idx = st.ext.len();
                st.shadows.push((*idx, *target));
            }
            Node::Seq(v) | Node::Alt(v) => v.iter_mut().for_each(|x| number(x, st)),
            Node::Atomic(b) => number(b, st),
            Node::Look { node, .. } | Node::Repeat { node, .. } => number(node, st),
            Node::CondGroup { yes, no, .. } => {
                number(yes, st);
                number(no, st);
            }
            Node::CondLook { cond, yes, no } => {
                number(cond, st);
                number(yes, st);
                number(no, st);
            }
            _ => {}
        }
    }

    let mut root = rewrite(root);
    let mut st = Num {
        old_ext: ext_of_int,
        new_of_old: vec![0; ext_of_int.len() + 1],
        ext: Vec::new(),
        shadows: Vec::new(),
    };
    number(&mut root, &mut st);
    // Shadow targets were recorded with old numbers; groups are numbered before the
    // shadows that follow them, but lazy loops put the shadow first, so map at the end.
    let shadows = st
        .shadows
        .iter()
        .map(|&(s, t)| (s, st.new_of_old.get(t).copied().unwrap_or(0)))
        .collect();
    (root, st.ext, shadows)
}
