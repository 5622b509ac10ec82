//! Parser for the Perl 5 pattern dialect (as `qr/$pattern/` sees a run-time string of
//! bytes), producing [`Node`] trees with byte-set leaves. Errors use Perl's wording where
//! Perl rejects a pattern, and say "not supported by rsec" where Perl accepts a construct
//! that neither engine can run.

use super::ast::{Assert, ByteSet, GroupRef, Node};

/// Perl's largest `{n,m}` bound.
const MAX_QUANT: u32 = 65534;
/// Nesting limit, to keep recursion bounded on hostile input.
const MAX_DEPTH: usize = 250;

/// Result of parsing a pattern.
#[derive(Debug)]
pub(crate) struct Parsed {
    pub(crate) root: Node,
    /// Number of Perl capture groups.
    pub(crate) group_count: usize,
    /// Perl group number of each internal capture (index = internal number - 1).
    pub(crate) ext_of_int: Vec<usize>,
    /// Named groups with their Perl group number, in pattern order.
    pub(crate) names: Vec<(String, usize)>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Charset {
    D,
    U,
    A,
    L,
}

#[derive(Clone, Copy, Debug)]
struct Flags {
    i: bool,
    m: bool,
    s: bool,
    x: u8,
    n: bool,
    cs: Charset,
}

impl Flags {
    const DEFAULT: Flags = Flags {
        i: false,
        m: false,
        s: false,
        x: 0,
        n: false,
        cs: Charset::D,
    };
}

enum ClassItem {
    Char(u32),
    Set(ByteSet),
}

struct Parser<'a> {
    p: &'a [u8],
    pos: usize,
    force_uni: bool,
    /// Set when the pattern implies Unicode rules (`\p`, `\N{}`, code point > 255).
    implies_uni: bool,
    n_int: usize,
    n_ext: usize,
    max_ext: usize,
    ext_of_int: Vec<usize>,
    names: Vec<(String, usize)>,
    refs: Vec<GroupRef>,
}

/// Parses `pattern` as Perl would compile it with `qr/$pattern/`.
pub(crate) fn parse(pattern: &[u8]) -> Result<Parsed, String> {
    let first = parse_with(pattern, false)?;
    if first.1 {
        return Ok(parse_with(pattern, true)?.0);
    }
    Ok(first.0)
}

fn parse_with(pattern: &[u8], force_uni: bool) -> Result<(Parsed, bool), String> {
    let mut ps = Parser {
        p: pattern,
        pos: 0,
        force_uni,
        implies_uni: false,
        n_int: 0,
        n_ext: 0,
        max_ext: 0,
        ext_of_int: Vec::new(),
        names: Vec::new(),
        refs: Vec::new(),
    };
    let mut flags = Flags::DEFAULT;
    let root = ps.parse_alt(&mut flags, 0, false)?;
    if ps.pos < ps.p.len() {
        // Only an unbalanced ')' stops the top level early.
        return Err(ps.err("Unmatched )"));
    }
    let group_count = ps.max_ext.max(ps.n_ext);
    for r in &ps.refs {
        match r {
            GroupRef::Num(n) => {
                if *n == 0 || *n > group_count {
                    return Err("Reference to nonexistent group".into());
                }
            }
            GroupRef::Name(name) => {
                if !ps.names.iter().any(|(n, _)| n == name) {
                    return Err("Reference to nonexistent named group".into());
                }
            }
        }
    }
    let implies = ps.implies_uni && !force_uni;
    Ok((
        Parsed {
            root,
            group_count,
            ext_of_int: ps.ext_of_int,
            names: ps.names,
        },
        implies,
    ))
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// `\w` for one byte, under ASCII or Unicode (Latin-1) rules.
pub(crate) fn word_set(uni: bool) -> ByteSet {
    ByteSet::from_fn(|b| is_word_byte(b) || (uni && b >= 0x80 && (b as char).is_alphabetic()))
}

fn space_set(uni: bool) -> ByteSet {
    ByteSet::from_fn(|b| {
        matches!(b, b'\t' | b'\n' | 0x0B | 0x0C | b'\r' | b' ') || (uni && (b == 0x85 || b == 0xA0))
    })
}

fn digit_set() -> ByteSet {
    ByteSet::from_fn(|b| b.is_ascii_digit())
}

fn hspace_set() -> ByteSet {
    ByteSet::from_fn(|b| matches!(b, b'\t' | b' ' | 0xA0))
}

fn vspace_set() -> ByteSet {
    ByteSet::from_fn(|b| matches!(b, b'\n' | 0x0B | 0x0C | b'\r' | 0x85))
}

fn latin1_punct(b: u8) -> bool {
    matches!(b, 0xA1 | 0xA7 | 0xAB | 0xB6 | 0xB7 | 0xBB | 0xBF)
}

/// A POSIX class by name (`alpha`, ...), or None when Perl does not know it.
fn posix_set(name: &str, uni: bool, icase: bool) -> Option<ByteSet> {
    let hi = |f: fn(char) -> bool| move |b: u8| uni && b >= 0x80 && f(b as char);
    let s = match name {
        "alpha" => ByteSet::from_fn(|b| b.is_ascii_alphabetic() || hi(char::is_alphabetic)(b)),
        "alnum" => ByteSet::from_fn(|b| b.is_ascii_alphanumeric() || hi(char::is_alphabetic)(b)),
        "word" => word_set(uni),
        "digit" => digit_set(),
        "xdigit" => ByteSet::from_fn(|b| b.is_ascii_hexdigit()),
        "space" => space_set(uni),
        "blank" => ByteSet::from_fn(|b| b == b' ' || b == b'\t' || (uni && b == 0xA0)),
        "cntrl" => {
            ByteSet::from_fn(|b| b < 0x20 || b == 0x7F || (uni && (0x80..0xA0).contains(&b)))
        }
        "ascii" => ByteSet::from_fn(|b| b < 0x80),
        "lower" | "upper" if icase => ByteSet::from_fn(|b| {
            b.is_ascii_alphabetic() || (uni && super::ast::other_case(b, true).is_some())
        }),
        "lower" => ByteSet::from_fn(|b| b.is_ascii_lowercase() || hi(char::is_lowercase)(b)),
        "upper" => ByteSet::from_fn(|b| b.is_ascii_uppercase() || hi(char::is_uppercase)(b)),
        "punct" => ByteSet::from_fn(|b| b.is_ascii_punctuation() || (uni && latin1_punct(b))),
        "graph" => ByteSet::from_fn(|b| b.is_ascii_graphic() || (uni && b >= 0xA1)),
        "print" => ByteSet::from_fn(|b| (0x20..0x7F).contains(&b) || (uni && b >= 0xA0)),
        _ => return None,
    };
    Some(s)
}

/// `\p{name}`: the bytes (as Latin-1 code points) that have the property.
fn property_set(name: &str, icase: bool) -> Result<ByteSet, String> {
    let (neg, name) = match name.strip_prefix('^') {
        Some(rest) => (true, rest),
        None => (false, name),
    };
    let loose: String = name
        .chars()
        .filter(|c| !matches!(c, ' ' | '_' | '-'))
        .collect::<String>()
        .to_ascii_lowercase();
    let key = loose.strip_prefix("is").unwrap_or(&loose);
    let posix = |k: &str| -> Option<ByteSet> {
        let (uni, base) = if let Some(b) = k.strip_prefix("xposix") {
            (true, b)
        } else if let Some(b) = k.strip_prefix("posix") {
            (false, b)
        } else {
            (true, k)
        };
        match base {
            "alpha" | "alnum" | "word" | "digit" | "xdigit" | "space" | "blank" | "cntrl"
            | "lower" | "upper" | "punct" | "graph" | "print" => posix_set(base, uni, icase),
            _ => None,
        }
    };
    let set = match key {
        "any" | "all" | "assigned" => Some(ByteSet::FULL),
        "ascii" => Some(ByteSet::from_fn(|b| b < 0x80)),
        "perlspace" => Some(space_set(false)),
        "spaceperl" => Some(space_set(true)),
        "perlword" => Some(word_set(false)),
        "l&" | "lc" | "casedletter" => Some(ByteSet::from_fn(|b| {
            let c = b as char;
            (c.is_lowercase() || c.is_uppercase()) && c.is_alphabetic() && b != 0xAA && b != 0xBA
        })),
        "punct" | "xposixpunct" => posix_set("punct", true, icase),
        "posixpunct" => posix_set("punct", false, icase),
        k => posix(k),
    };
    let set = match set {
        Some(s) => s,
        None => {
            let re = ::regex::Regex::new(&format!("^\\p{{{}}}$", name))
                .map_err(|_| format!("Can't find Unicode property definition \"{}\"", name))?;
            ByteSet::from_fn(|b| re.is_match((b as char).encode_utf8(&mut [0u8; 4])))
        }
    };
    let set = if icase { set.fold(true) } else { set };
    Ok(if neg { set.negated() } else { set })
}

impl<'a> Parser<'a> {
    fn err(&self, msg: &str) -> String {
        let shown = String::from_utf8_lossy(&self.p[..self.pos.min(self.p.len())]);
        format!(
            "{} in regex; marked by <-- HERE in m/{} <-- HERE /",
            msg, shown
        )
    }

    fn peek(&self) -> Option<u8> {
        self.p.get(self.pos).copied()
    }

    fn peek_at(&self, off: usize) -> Option<u8> {
        self.p.get(self.pos + off).copied()
    }

    fn starts(&self, s: &[u8]) -> bool {
        self.p[self.pos..].starts_with(s)
    }

    fn uni(&self, f: &Flags) -> bool {
        match f.cs {
            // /l follows the locale; in the UTF-8 locales in use today that is Unicode.
            Charset::U | Charset::L => true,
            Charset::D => self.force_uni,
            Charset::A => false,
        }
    }

    fn new_capture(&mut self) -> usize {
        self.n_int += 1;
        self.n_ext += 1;
        self.ext_of_int.push(self.n_ext);
        self.max_ext = self.max_ext.max(self.n_ext);
        self.n_int
    }

    /// Skips `(?#...)` comments always, and whitespace and `#` comments under /x.
    fn skip_ws(&mut self, f: &Flags) -> Result<(), String> {
        loop {
            if self.starts(b"(?#") {
                match self.p[self.pos..].iter().position(|&b| b == b')') {
                    Some(k) => self.pos += k + 1,
                    None => return Err(self.err("Sequence (?#... not terminated")),
                }
                continue;
            }
            if f.x > 0 {
                match self.peek() {
                    Some(b' ' | b'\t' | b'\n' | b'\r' | 0x0B | 0x0C) => {
                        self.pos += 1;
                        continue;
                    }
                    Some(b'#') => {
                        while let Some(b) = self.peek() {
                            self.pos += 1;
                            if b == b'\n' {
                                break;
                            }
                        }
                        continue;
                    }
                    _ => {}
                }
            }
            return Ok(());
        }
    }

    fn parse_alt(&mut self, f: &mut Flags, depth: usize, reset: bool) -> Result<Node, String> {
        if depth > MAX_DEPTH {
            return Err(self.err("Too deeply nested"));
        }
        let start_ext = self.n_ext;
        let mut end_ext = start_ext;
        let mut branches = Vec::new();
        loop {
            if reset {
                self.n_ext = start_ext;
            }
            branches.push(self.parse_seq(f, depth)?);
            end_ext = end_ext.max(self.n_ext);
            if self.peek() == Some(b'|') {
                self.pos += 1;
            } else {
                break;
            }
        }
        if reset {
            self.n_ext = end_ext;
        }
        Ok(if branches.len() == 1 {
            branches.pop().unwrap_or(Node::Empty)
        } else {
            Node::Alt(branches)
        })
    }

    fn parse_seq(&mut self, f: &mut Flags, depth: usize) -> Result<Node, String> {
        let mut items: Vec<Node> = Vec::new();
        loop {
            self.skip_ws(f)?;
            let Some(c) = self.peek() else { break };
            if c == b'|' || c == b')' {
                break;
            }
            let atom = match c {
                b'*' | b'+' | b'?' => {
                    self.pos += 1;
                    return Err(self.err("Quantifier follows nothing"));
                }
                b'(' => match self.parse_group(f, depth)? {
                    Some(n) => n,
                    None => continue,
                },
                b'[' => {
                    self.pos += 1;
                    Node::Set(self.parse_class(f)?)
                }
                b'.' => {
                    self.pos += 1;
                    Node::Set(if f.s {
                        ByteSet::FULL
                    } else {
                        ByteSet::single(b'\n').negated()
                    })
                }
                b'^' => {
                    self.pos += 1;
                    Node::Assert(if f.m {
                        Assert::LineStart
                    } else {
                        Assert::TextStart
                    })
                }
                b'$' => {
                    self.pos += 1;
                    Node::Assert(if f.m {
                        Assert::LineEnd
                    } else {
                        Assert::TextEndNl
                    })
                }
                b'\\' => {
                    self.pos += 1;
                    self.parse_escape(f)?
                }
                _ => {
                    self.pos += 1;
                    self.literal(c as u32, f)
                }
            };
            // Perl refuses a literal `{` right after a backslash and a letter (`\d{`,
            // `\t{`), judging by the text alone, so even after an escaped backslash.
            let letter_escape = self.pos >= 2
                && self.p[self.pos - 2] == b'\\'
                && self.p[self.pos - 1].is_ascii_alphabetic();
            if letter_escape && self.peek() == Some(b'{') && self.brace_quant()?.is_none() {
                self.pos += 1;
                return Err(self.err("Unescaped left brace in regex is illegal here"));
            }
            let node = self.parse_quant(atom, f)?;
            items.push(node);
        }
        Ok(match items.len() {
            0 => Node::Empty,
            1 => items.pop().unwrap_or(Node::Empty),
            _ => Node::Seq(items),
        })
    }

    fn literal(&mut self, cp: u32, f: &Flags) -> Node {
        if cp > 255 {
            self.implies_uni = true;
            return Node::Set(ByteSet::EMPTY);
        }
        let s = ByteSet::single(cp as u8);
        Node::Set(if f.i { s.fold(self.uni(f)) } else { s })
    }

    /// Tries to read `{n}`, `{n,}`, `{n,m}`, `{,m}` (spaces allowed) at the cursor.
    fn brace_quant(&self) -> Result<Option<(u32, Option<u32>, usize)>, String> {
        let p = self.p;
        let mut i = self.pos + 1;
        let skip = |i: &mut usize| {
            while *i < p.len() && (p[*i] == b' ' || p[*i] == b'\t') {
                *i += 1;
            }
        };
        let num = |i: &mut usize| -> Option<u64> {
            let st = *i;
            let mut v: u64 = 0;
            while *i < p.len() && p[*i].is_ascii_digit() {
                v = v.saturating_mul(10).saturating_add((p[*i] - b'0') as u64);
                *i += 1;
            }
            (*i > st).then_some(v)
        };
        skip(&mut i);
        let min = num(&mut i);
        skip(&mut i);
        let mut comma = false;
        let mut max = None;
        if i < p.len() && p[i] == b',' {
            comma = true;
            i += 1;
            skip(&mut i);
            max = num(&mut i);
            skip(&mut i);
        }
        if i >= p.len() || p[i] != b'}' {
            return Ok(None);
        }
        if min.is_none() && max.is_none() {
            return Ok(None);
        }
        let big = |v: u64| v > MAX_QUANT as u64;
        if min.is_some_and(big) || max.is_some_and(big) {
            return Err("Quantifier in {,} bigger than 65534".into());
        }
        let lo = min.unwrap_or(0) as u32;
        let hi = if comma {
            max.map(|v| v as u32)
        } else {
            Some(lo)
        };
        Ok(Some((lo, hi, i + 1)))
    }

    fn read_quant(&mut self) -> Result<Option<(u32, Option<u32>)>, String> {
        match self.peek() {
            Some(b'*') => {
                self.pos += 1;
                Ok(Some((0, None)))
            }
            Some(b'+') => {
                self.pos += 1;
                Ok(Some((1, None)))
            }
            Some(b'?') => {
                self.pos += 1;
                Ok(Some((0, Some(1))))
            }
            Some(b'{') => match self.brace_quant().map_err(|e| self.err(&e))? {
                Some((lo, hi, end)) => {
                    self.pos = end;
                    Ok(Some((lo, hi)))
                }
                None => Ok(None),
            },
            _ => Ok(None),
        }
    }

    fn parse_quant(&mut self, atom: Node, f: &Flags) -> Result<Node, String> {
        self.skip_ws(f)?;
        let Some((min, max)) = self.read_quant()? else {
            return Ok(atom);
        };
        let mut greedy = true;
        let mut possessive = false;
        match self.peek() {
            Some(b'?') => {
                self.pos += 1;
                greedy = false;
            }
            Some(b'+') => {
                self.pos += 1;
                possessive = true;
            }
            _ => {}
        }
        self.skip_ws(f)?;
        let save = self.pos;
        if self.read_quant()?.is_some() {
            return Err(self.err("Nested quantifiers"));
        }
        self.pos = save;
        if atom.fixed_len() == Some(0) && max.is_none_or(|m| m >= min) {
            // A zero-width item repeated: once, or optionally once (the engines handle
            // quantified assertions poorly; the result is the same).
            if min > 0 {
                return Ok(atom);
            }
            if max == Some(0) {
                return Ok(Node::Empty);
            }
            return Ok(Node::Alt(if greedy {
                vec![atom, Node::Empty]
            } else {
                vec![Node::Empty, atom]
            }));
        }
        Ok(Node::Repeat {
            node: Box::new(atom),
            min,
            max,
            greedy,
            possessive,
        })
    }

    fn read_name(&mut self) -> Result<String, String> {
        let st = self.pos;
        match self.peek() {
            Some(b) if b.is_ascii_alphabetic() || b == b'_' => {}
            Some(b) if b.is_ascii_digit() => {
                self.pos += 1;
                return Err(self.err("Group name must start with a non-digit word character"));
            }
            _ => return Err(self.err("Group name must start with a non-digit word character")),
        }
        while self.peek().is_some_and(is_word_byte) {
            self.pos += 1;
        }
        Ok(String::from_utf8_lossy(&self.p[st..self.pos]).into_owned())
    }

    fn expect(&mut self, b: u8, what: &str) -> Result<(), String> {
        if self.peek() == Some(b) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.err(&format!("Sequence {} not terminated", what)))
        }
    }

    /// Parses a group body up to and including its `)`.
    fn group_body(&mut self, f: &Flags, depth: usize, reset: bool) -> Result<Node, String> {
        let open = self.pos;
        let mut inner = *f;
        let n = self.parse_alt(&mut inner, depth + 1, reset)?;
        if self.peek() != Some(b')') {
            self.pos = open;
            return Err(self.err("Unmatched ("));
        }
        self.pos += 1;
        Ok(n)
    }

    fn capture(&mut self, f: &Flags, depth: usize, name: Option<String>) -> Result<Node, String> {
        let idx = self.new_capture();
        if let Some(name) = name {
            let ext = self.n_ext;
            if !self.names.iter().any(|(n, e)| *n == name && *e == ext) {
                self.names.push((name, ext));
            }
        }
        let body = self.group_body(f, depth, false)?;
        Ok(Node::Group(Some(idx), Box::new(body)))
    }

    /// Parses a group at `(`; None for constructs that produce no node (`(?i)`).
    fn parse_group(&mut self, f: &mut Flags, depth: usize) -> Result<Option<Node>, String> {
        self.pos += 1;
        if self.peek() == Some(b'*') {
            return self.parse_verb(f, depth).map(Some);
        }
        if self.peek() != Some(b'?') {
            if f.n {
                let body = self.group_body(f, depth, false)?;
                return Ok(Some(Node::Group(None, Box::new(body))));
            }
            return self.capture(f, depth, None).map(Some);
        }
        self.pos += 1;
        let Some(c) = self.peek() else {
            return Err(self.err("Sequence (? incomplete"));
        };
        let look = |ahead, neg| {
            move |n: Node| Node::Look {
                ahead,
                neg,
                node: Box::new(n),
            }
        };
        match c {
            b':' => {
                self.pos += 1;
                let b = self.group_body(f, depth, false)?;
                Ok(Some(Node::Group(None, Box::new(b))))
            }
            b'|' => {
                self.pos += 1;
                let b = self.group_body(f, depth, true)?;
                Ok(Some(Node::Group(None, Box::new(b))))
            }
            b'=' | b'!' => {
                self.pos += 1;
                let b = self.group_body(f, depth, false)?;
                Ok(Some(look(true, c == b'!')(b)))
            }
            b'>' => {
                self.pos += 1;
                let b = self.group_body(f, depth, false)?;
                Ok(Some(Node::Atomic(Box::new(b))))
            }
            b'<' if matches!(self.peek_at(1), Some(b'=' | b'!')) => {
                let neg = self.peek_at(1) == Some(b'!');
                self.pos += 2;
                let b = self.group_body(f, depth, false)?;
                self.check_lookbehind(&b)?;
                Ok(Some(look(false, neg)(b)))
            }
            b'<' | b'\'' => {
                self.pos += 1;
                let name = self.read_name()?;
                let close = if c == b'<' { b'>' } else { b'\'' };
                self.expect(close, "(?<...")?;
                self.capture(f, depth, Some(name)).map(Some)
            }
            b'P' => {
                self.pos += 1;
                match self.peek() {
                    Some(b'<') => {
                        self.pos += 1;
                        let name = self.read_name()?;
                        self.expect(b'>', "(?P<...")?;
                        self.capture(f, depth, Some(name)).map(Some)
                    }
                    Some(b'=') => {
                        self.pos += 1;
                        let name = self.read_name()?;
                        self.expect(b')', "(?P=...")?;
                        Ok(Some(self.backref(GroupRef::Name(name))))
                    }
                    Some(b'>') => Err(self.err("Recursion (?P>name) is not supported by rsec")),
                    _ => Err(self.err("Sequence (?P... not recognized")),
                }
            }
            b'#' => {
                // Handled by skip_ws; reached only when skip_ws was bypassed.
                Err(self.err("Sequence (?#... not terminated"))
            }
            b'(' => self.parse_cond(f, depth).map(Some),
            b'{' => Err(self.err("Eval-group not allowed at runtime, use re 'eval'")),
            b'?' if self.peek_at(1) == Some(b'{') => {
                Err(self.err("Eval-group not allowed at runtime, use re 'eval'"))
            }
            b'R' | b'&' | b'0'..=b'9' | b'+' => {
                Err(self.err("Recursion and subroutine calls are not supported by rsec"))
            }
            b'-' if self.peek_at(1).is_some_and(|b| b.is_ascii_digit()) => {
                Err(self.err("Recursion and subroutine calls are not supported by rsec"))
            }
            _ => self.parse_flag_group(f, depth),
        }
    }

    fn check_lookbehind(&self, b: &Node) -> Result<(), String> {
        let ok = match b {
            Node::Alt(v) => v.iter().all(|n| n.fixed_len().is_some()),
            n => n.fixed_len().is_some(),
        };
        if ok {
            Ok(())
        } else {
            Err(self.err("Variable length lookbehind is not supported by rsec"))
        }
    }

    fn parse_verb(&mut self, f: &Flags, depth: usize) -> Result<Node, String> {
        self.pos += 1;
        let st = self.pos;
        while self
            .peek()
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        {
            self.pos += 1;
        }
        let word = String::from_utf8_lossy(&self.p[st..self.pos]).into_owned();
        match self.peek() {
            Some(b')') => {
                self.pos += 1;
                match word.as_str() {
                    "FAIL" | "F" => Ok(Node::Set(ByteSet::EMPTY)),
                    "" => Err(self.err("Unknown verb pattern ''")),
                    "ACCEPT" | "COMMIT" | "PRUNE" | "SKIP" | "THEN" | "MARK" => Err(self.err(
                        &format!("Backtracking verb (*{}) is not supported by rsec", word),
                    )),
                    _ => Err(self.err(&format!("Unknown verb pattern '{}'", word))),
                }
            }
            Some(b':') => {
                self.pos += 1;
                let (ahead, neg, atomic) = match word.as_str() {
                    "pla" | "positive_lookahead" => (true, false, false),
                    "nla" | "negative_lookahead" => (true, true, false),
                    "plb" | "positive_lookbehind" => (false, false, false),
                    "nlb" | "negative_lookbehind" => (false, true, false),
                    "atomic" => (true, false, true),
                    _ => return Err(self.err(&format!("'(*{}:' is not supported by rsec", word))),
                };
                let b = self.group_body(f, depth, false)?;
                if atomic {
                    return Ok(Node::Atomic(Box::new(b)));
                }
                if !ahead {
                    self.check_lookbehind(&b)?;
                }
                Ok(Node::Look {
                    ahead,
                    neg,
                    node: Box::new(b),
                })
            }
            _ => Err(self.err("Unterminated verb pattern")),
        }
    }

    fn parse_cond(&mut self, f: &Flags, depth: usize) -> Result<Node, String> {
        // At the inner '('.
        self.pos += 1;
        let target = match self.peek() {
            Some(b'?') if matches!(self.peek_at(1), Some(b'=' | b'!' | b'<')) => {
                self.pos -= 1;
                let cond = match self.parse_group(&mut f.clone(), depth + 1)? {
                    Some(n @ Node::Look { .. }) => n,
                    _ => return Err(self.err("Switch condition not recognized")),
                };
                let (yes, no) = self.cond_branches(f, depth)?;
                return Ok(Node::CondLook {
                    cond: Box::new(cond),
                    yes: Box::new(yes),
                    no: Box::new(no),
                });
            }
            Some(b'0'..=b'9') => {
                let mut v: usize = 0;
                while let Some(d @ b'0'..=b'9') = self.peek() {
                    v = v.saturating_mul(10).saturating_add((d - b'0') as usize);
                    self.pos += 1;
                }
                self.expect(b')', "(?(...")?;
                GroupRef::Num(v)
            }
            Some(b'<' | b'\'') => {
                let close = if self.peek() == Some(b'<') {
                    b'>'
                } else {
                    b'\''
                };
                self.pos += 1;
                let name = self.read_name()?;
                self.expect(close, "(?(<...")?;
                self.expect(b')', "(?(...")?;
                GroupRef::Name(name)
            }
            _ => {
                return Err(self
                    .err("Switch condition not recognized or not supported by rsec (R, DEFINE)"))
            }
        };
        self.refs.push(target.clone());
        let (yes, no) = self.cond_branches(f, depth)?;
        Ok(Node::CondGroup {
            target,
            yes: Box::new(yes),
            no: Box::new(no),
        })
    }

    fn cond_branches(&mut self, f: &Flags, depth: usize) -> Result<(Node, Node), String> {
        let open = self.pos;
        match self.group_body(f, depth, false)? {
            Node::Alt(mut v) => {
                if v.len() > 2 {
                    self.pos = open;
                    return Err(self.err("Switch (?(condition)... contains too many branches"));
                }
                let no = v.pop().unwrap_or(Node::Empty);
                let yes = v.pop().unwrap_or(Node::Empty);
                Ok((yes, no))
            }
            n => Ok((n, Node::Empty)),
        }
    }

    fn parse_flag_group(&mut self, f: &mut Flags, depth: usize) -> Result<Option<Node>, String> {
        let mut nf = *f;
        let mut neg = false;
        let mut a_count = 0;
        let mut cs_seen = false;
        if self.peek() == Some(b'^') {
            self.pos += 1;
            nf = Flags::DEFAULT;
            if self.peek() == Some(b'-') {
                self.pos += 1;
                return Err(self.err("Sequence (?^-...) not recognized"));
            }
        }
        let mut x_count = 0;
        loop {
            let Some(c) = self.peek() else {
                return Err(self.err("Sequence (?... not terminated"));
            };
            self.pos += 1;
            match c {
                b':' | b')' => break,
                b'-' if !neg => neg = true,
                b'i' => nf.i = !neg,
                b'm' => nf.m = !neg,
                b's' => nf.s = !neg,
                b'n' => nf.n = !neg,
                b'x' => {
                    if neg {
                        nf.x = 0;
                    } else {
                        x_count += 1;
                        nf.x = if x_count >= 2 { 2 } else { 1 };
                    }
                }
                b'p' | b'o' | b'g' | b'c' => {}
                b'a' | b'u' | b'l' | b'd' => {
                    if neg {
                        return Err(self.err(&format!(
                            "Regexp modifier \"{}\" may not appear after the \"-\"",
                            c as char
                        )));
                    }
                    if c == b'a' {
                        a_count += 1;
                        if a_count > 2 || (cs_seen && a_count == 1) {
                            return Err(
                                self.err("Regexp modifier \"a\" may appear a maximum of twice")
                            );
                        }
                    } else if cs_seen {
                        return Err(self.err("Regexp modifiers are mutually exclusive"));
                    }
                    cs_seen = true;
                    nf.cs = match c {
                        b'a' => Charset::A,
                        b'u' => Charset::U,
                        b'l' => Charset::L,
                        _ => Charset::D,
                    };
                }
                _ => return Err(self.err(&format!("Sequence (?{}...) not recognized", c as char))),
            }
        }
        if self.p[self.pos - 1] == b')' {
            *f = nf;
            return Ok(None);
        }
        let b = self.group_body(&nf, depth, false)?;
        Ok(Some(Node::Group(None, Box::new(b))))
    }

    fn backref(&mut self, target: GroupRef) -> Node {
        self.refs.push(target.clone());
        Node::Backref(target)
    }

    fn hex_digits(&mut self, max: usize) -> u32 {
        let mut v: u32 = 0;
        let mut n = 0;
        while n < max {
            match self.peek().and_then(|b| (b as char).to_digit(16)) {
                Some(d) => {
                    v = v.saturating_mul(16).saturating_add(d);
                    self.pos += 1;
                    n += 1;
                }
                None => break,
            }
        }
        v
    }

    /// Reads `{...}` after `\x`, `\o`, `\N`; returns the inner text.
    fn braced(&mut self, what: &str) -> Result<Vec<u8>, String> {
        self.pos += 1;
        match self.p[self.pos..].iter().position(|&b| b == b'}') {
            Some(k) => {
                let inner = self.p[self.pos..self.pos + k].to_vec();
                self.pos += k + 1;
                Ok(inner)
            }
            None => Err(self.err(&format!("Missing right brace on \\{}{{}}", what))),
        }
    }

    fn braced_number(inner: &[u8], radix: u32) -> u32 {
        let mut v: u32 = 0;
        let mut seen = false;
        for &b in inner.iter().filter(|&&b| b != b' ' && b != b'\t') {
            match (b as char).to_digit(radix) {
                Some(d) => {
                    v = v.saturating_mul(radix).saturating_add(d);
                    seen = true;
                }
                None if b == b'_' && seen => {}
                None => break,
            }
        }
        v
    }

    /// Escapes that denote one character, shared by classes and the main parser.
    /// The cursor is after the backslash and at the escape letter.
    fn char_escape(&mut self, c: u8) -> Result<Option<u32>, String> {
        let v = match c {
            b'a' => 7,
            b'e' => 0x1B,
            b'f' => 0x0C,
            b'n' => b'\n' as u32,
            b'r' => b'\r' as u32,
            b't' => b'\t' as u32,
            b'x' => {
                self.pos += 1;
                if self.peek() == Some(b'{') {
                    let inner = self.braced("x")?;
                    return Ok(Some(Self::braced_number(&inner, 16)));
                }
                return Ok(Some(self.hex_digits(2)));
            }
            b'o' => {
                self.pos += 1;
                if self.peek() != Some(b'{') {
                    return Err(self.err("Missing braces on \\o{}"));
                }
                let inner = self.braced("o")?;
                if inner.iter().all(|b| *b == b' ') {
                    return Err(self.err("Empty \\o{}"));
                }
                return Ok(Some(Self::braced_number(&inner, 8)));
            }
            b'c' => {
                self.pos += 1;
                match self.peek() {
                    Some(b) if (0x20..0x7F).contains(&b) => {
                        self.pos += 1;
                        return Ok(Some((b.to_ascii_uppercase() ^ 64) as u32));
                    }
                    _ => {
                        return Err(self.err("Character following \"\\c\" must be printable ASCII"))
                    }
                }
            }
            b'N' if self.peek_at(1) == Some(b'{') => {
                self.pos += 1;
                let inner = self.braced("N")?;
                self.implies_uni = true;
                return match inner.strip_prefix(b"U+") {
                    Some(hex) => Ok(Some(Self::braced_number(hex, 16))),
                    None => Err(self.err("Named characters \\N{NAME} are not supported by rsec")),
                };
            }
            b'0' => {
                let mut v = 0u32;
                let mut n = 0;
                while n < 3 {
                    match self.peek() {
                        Some(d @ b'0'..=b'7') => {
                            v = v * 8 + (d - b'0') as u32;
                            self.pos += 1;
                            n += 1;
                        }
                        _ => break,
                    }
                }
                return Ok(Some(v));
            }
            _ => return Ok(None),
        };
        self.pos += 1;
        Ok(Some(v))
    }

    fn octal_from(&mut self) -> u32 {
        let mut v = 0u32;
        let mut n = 0;
        while n < 3 {
            match self.peek() {
                Some(d @ b'0'..=b'7') => {
                    v = v * 8 + (d - b'0') as u32;
                    self.pos += 1;
                    n += 1;
                }
                _ => break,
            }
        }
        v
    }

    fn class_escape_set(&mut self, c: u8, f: &Flags) -> Result<Option<ByteSet>, String> {
        let uni = self.uni(f);
        let s = match c {
            b'd' => digit_set(),
            b'D' => digit_set().negated(),
            b'w' => word_set(uni),
            b'W' => word_set(uni).negated(),
            b's' => space_set(uni),
            b'S' => space_set(uni).negated(),
            b'h' => hspace_set(),
            b'H' => hspace_set().negated(),
            b'v' => vspace_set(),
            b'V' => vspace_set().negated(),
            b'p' | b'P' => {
                self.pos += 1;
                self.implies_uni = true;
                let name = if self.peek() == Some(b'{') {
                    let inner = self.braced(&(c as char).to_string())?;
                    String::from_utf8_lossy(&inner).trim().to_string()
                } else {
                    match self.peek() {
                        Some(b) => {
                            self.pos += 1;
                            (b as char).to_string()
                        }
                        None => return Err(self.err("Empty \\p")),
                    }
                };
                let set = property_set(&name, f.i).map_err(|e| self.err(&e))?;
                return Ok(Some(if c == b'P' { set.negated() } else { set }));
            }
            _ => return Ok(None),
        };
        self.pos += 1;
        Ok(Some(s))
    }

    fn parse_escape(&mut self, f: &Flags) -> Result<Node, String> {
        let Some(c) = self.peek() else {
            return Err(format!(
                "Trailing \\ in regex m/{}/",
                String::from_utf8_lossy(self.p)
            ));
        };
        if let Some(set) = self.class_escape_set(c, f)? {
            return Ok(Node::Set(set));
        }
        if let Some(cp) = self.char_escape(c)? {
            return Ok(self.literal(cp, f));
        }
        self.pos += 1;
        let uni = self.uni(f);
        let n = match c {
            b'A' | b'G' => Node::Assert(Assert::TextStart),
            b'z' => Node::Assert(Assert::TextEnd),
            b'Z' => Node::Assert(Assert::TextEndNl),
            b'b' | b'B' if self.peek() == Some(b'{') => {
                return Err(self.err("\\b{...} and \\B{...} are not supported by rsec"))
            }
            b'b' => Node::Assert(Assert::WordB(uni)),
            b'B' => Node::Assert(Assert::NotWordB(uni)),
            b'K' => Node::Keep,
            b'N' => Node::Set(ByteSet::single(b'\n').negated()),
            b'R' => Node::Alt(vec![
                Node::Seq(vec![
                    Node::Set(ByteSet::single(b'\r')),
                    Node::Set(ByteSet::single(b'\n')),
                ]),
                Node::Set(vspace_set()),
            ]),
            b'X' => return Err(self.err("\\X is not supported by rsec")),
            b'C' => return Err(self.err("\\C no longer supported")),
            b'1'..=b'9' => {
                self.pos -= 1;
                let st = self.pos;
                let mut v: usize = 0;
                while let Some(d @ b'0'..=b'9') = self.peek() {
                    v = v.saturating_mul(10).saturating_add((d - b'0') as usize);
                    self.pos += 1;
                }
                if self.pos - st == 1 || v <= self.n_ext {
                    self.backref(GroupRef::Num(v))
                } else {
                    self.pos = st;
                    if matches!(self.peek(), Some(b'8' | b'9')) {
                        self.pos += 1;
                        self.literal(c as u32, f)
                    } else {
                        let v = self.octal_from();
                        self.literal(v, f)
                    }
                }
            }
            b'g' => self.parse_g()?,
            b'k' => {
                let close = match self.peek() {
                    Some(b'<') => b'>',
                    Some(b'\'') => b'\'',
                    Some(b'{') => b'}',
                    _ => return Err(self.err("Sequence \\k... not terminated")),
                };
                self.pos += 1;
                let name = self.read_name()?;
                self.expect(close, "\\k<...")?;
                self.backref(GroupRef::Name(name))
            }
            _ => self.literal(c as u32, f),
        };
        Ok(n)
    }

    fn parse_g(&mut self) -> Result<Node, String> {
        let braced = self.peek() == Some(b'{');
        if braced {
            self.pos += 1;
        }
        let neg = self.peek() == Some(b'-');
        if neg {
            self.pos += 1;
        }
        let target = if self.peek().is_some_and(|b| b.is_ascii_digit()) {
            let mut v: usize = 0;
            while let Some(d @ b'0'..=b'9') = self.peek() {
                v = v.saturating_mul(10).saturating_add((d - b'0') as usize);
                self.pos += 1;
            }
            if neg {
                if v == 0 || v > self.n_ext {
                    return Err(self.err("Reference to nonexistent or unclosed group"));
                }
                GroupRef::Num(self.n_ext + 1 - v)
            } else {
                GroupRef::Num(v)
            }
        } else if braced && !neg {
            GroupRef::Name(self.read_name()?)
        } else {
            return Err(self.err("Unterminated \\g... pattern"));
        };
        if braced {
            self.expect(b'}', "\\g{...")?;
        }
        if target == GroupRef::Num(0) {
            return Err(self.err("Reference to invalid group 0"));
        }
        Ok(self.backref(target))
    }

    fn class_item(&mut self, f: &Flags) -> Result<ClassItem, String> {
        let Some(c) = self.peek() else {
            return Err(self.err("Unmatched ["));
        };
        if c == b'[' && matches!(self.peek_at(1), Some(b':' | b'.' | b'=')) {
            let kind = self.p[self.pos + 1];
            let body_start = self.pos + 2;
            let close = [kind, b']'];
            if let Some(k) = self.p[body_start..].windows(2).position(|w| w == close) {
                let body = &self.p[body_start..body_start + k];
                if kind != b':' {
                    self.pos = body_start + k + 2;
                    return Err(self.err(&format!(
                        "POSIX syntax [{} {}] is reserved for future extensions",
                        kind as char, kind as char
                    )));
                }
                let (neg, name) = match body.strip_prefix(b"^") {
                    Some(n) => (true, n),
                    None => (false, body),
                };
                if name.iter().all(|b| b.is_ascii_alphabetic()) && !name.is_empty() {
                    let name = String::from_utf8_lossy(name).into_owned();
                    self.pos = body_start + k + 2;
                    let Some(set) = posix_set(&name, self.uni(f), f.i) else {
                        return Err(self.err(&format!("POSIX class [:{}:] unknown", name)));
                    };
                    return Ok(ClassItem::Set(if neg { set.negated() } else { set }));
                }
            }
        }
        self.pos += 1;
        if c != b'\\' {
            return Ok(ClassItem::Char(c as u32));
        }
        let Some(e) = self.peek() else {
            return Err(self.err("Unmatched ["));
        };
        if e == b'N' && self.peek_at(1) != Some(b'{') {
            self.pos += 1;
            return Err(self.err("\\N in a character class must be a named character: \\N{...}"));
        }
        if let Some(set) = self.class_escape_set(e, f)? {
            return Ok(ClassItem::Set(set));
        }
        if let Some(cp) = self.char_escape(e)? {
            return Ok(ClassItem::Char(cp));
        }
        self.pos += 1;
        Ok(ClassItem::Char(match e {
            b'b' => 8,
            b'1'..=b'7' => {
                self.pos -= 1;
                self.octal_from()
            }
            _ => e as u32,
        }))
    }

    fn parse_class(&mut self, f: &Flags) -> Result<ByteSet, String> {
        let open = self.pos - 1;
        let unmatched = |ps: &mut Self| {
            ps.pos = open + 1;
            ps.err("Unmatched [")
        };
        let neg = self.peek() == Some(b'^');
        if neg {
            self.pos += 1;
        }
        let mut set = ByteSet::EMPTY;
        let mut first = true;
        let add_cp = |set: &mut ByteSet, ps: &mut Self, lo: u32, hi: u32| {
            if hi > 255 {
                ps.implies_uni = true;
            }
            if lo <= 255 {
                set.insert_range(lo as u8, hi.min(255) as u8);
            }
        };
        loop {
            let Some(c) = self.peek() else {
                return Err(unmatched(self));
            };
            if c == b']' && !first {
                self.pos += 1;
                break;
            }
            first = false;
            if f.x == 2 && (c == b' ' || c == b'\t') {
                self.pos += 1;
                continue;
            }
            let item = self.class_item(f).map_err(|e| {
                if e.starts_with("Unmatched [") {
                    unmatched(self)
                } else {
                    e
                }
            })?;
            match item {
                ClassItem::Set(s) => set.union(&s),
                ClassItem::Char(lo) => {
                    if self.peek() == Some(b'-') && self.peek_at(1).is_some_and(|b| b != b']') {
                        let save = self.pos;
                        self.pos += 1;
                        match self.class_item(f)? {
                            ClassItem::Char(hi) => {
                                if hi < lo {
                                    return Err(self.err(&format!(
                                        "Invalid [] range \"{}\"",
                                        String::from_utf8_lossy(&self.p[save - 1..self.pos])
                                    )));
                                }
                                add_cp(&mut set, self, lo, hi);
                            }
                            ClassItem::Set(s) => {
                                add_cp(&mut set, self, lo, lo);
                                set.insert(b'-');
                                set.union(&s);
                            }
                        }
                    } else {
                        add_cp(&mut set, self, lo, lo);
                    }
                }
            }
        }
        if f.i {
            set = set.fold(self.uni(f));
        }
        Ok(if neg { set.negated() } else { set })
    }
}
