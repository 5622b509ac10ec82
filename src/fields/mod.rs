//! Field extraction from structured input lines (`--input-format=json|logfmt`).
//!
//! This module owns turning one input line into [`Fields`]: an ordered map from flattened
//! field names to value bytes, with lookups by name and by LogZilla's environment form
//! (`EVENT_<FIELD>`), and choosing the text patterns match (`--match-field`). It must not
//! touch correlation: it knows nothing of rules, contexts, match variables or actions;
//! the engine decides what to do with the fields (and with a line that failed to parse).
//!
//! # Field names
//!
//! Nested object keys are joined with `.` and array elements are named by their index:
//! `{"a":{"b":1,"c":[true,"x"]}}` gives `a.b` = `1`, `a.c.0` = `true`, `a.c.1` = `x`.
//! A key that itself contains a `.` is not escaped, so `{"a.b":1}` and `{"a":{"b":1}}`
//! both give the field `a.b`.
//!
//! # Values
//!
//! * Strings are unescaped (`\uXXXX` and surrogate pairs decoded); the bytes are UTF-8.
//! * Numbers are kept as their JSON text, byte for byte (`1.50` stays `1.50`, `1e3`
//!   stays `1e3`): no precision is lost and nothing is reformatted. The grammar is
//!   checked, the range is not (`1e999` is accepted, as its text).
//! * `true`, `false` and `null` are the four or five bytes of their JSON text. A caller
//!   that must tell `null` from the string `"null"` asks [`Fields::kind`].
//! * An empty object or array is a field of its own with the value `{}` or `[]`, so that
//!   the key is still visible; a non-empty container gives only its leaves.
//!
//! # Duplicates
//!
//! Duplicates are resolved per flattened name: when a name occurs twice (a duplicate
//! key, or `a.b` written both ways), the last value wins and the field keeps the position
//! of its first occurrence, as an insertion-ordered map does. For the usual case, a
//! repeated key with a scalar value, this is JSON's "last key wins". A key repeated with
//! an object merges: `{"k":{"a":1,"b":2},"k":{"a":3}}` gives `k.a` = `3` and `k.b` = `2`,
//! and `{"k":1,"k":{"a":2}}` gives both `k` and `k.a`. (Dropping the earlier leaves would
//! cost a prefix search on every key for a case that well-formed producers never emit.)
//!
//! # Errors
//!
//! [`parse_json`] is strict RFC 8259 on one line: the line must hold exactly one object
//! (surrounding JSON whitespace allowed, so a trailing `\r` is fine), strings must be
//! valid UTF-8 without raw control characters, lone surrogates in `\u` escapes are
//! refused, and nesting deeper than [`MAX_DEPTH`] is refused (the parser is iterative, so
//! depth can never overflow the stack; the limit only bounds the work on hostile input).
//! A leading byte-order mark is an error. The caller logs the [`FieldError`], counts it
//! and treats the line as plain text. [`parse_logfmt`] never fails.

use std::fmt;

pub use crate::cli::InputFormat;

/// The deepest nesting of objects and arrays [`parse_json`] accepts; the top-level
/// object is depth 1. The same bound as serde_json's default recursion limit (128).
pub const MAX_DEPTH: usize = 128;

/// How many times its length a JSON line may grow when flattened (plus 64 KiB): each
/// leaf repeats its full name, so `{"<long key>":[1,1,1,...]}` would otherwise take
/// memory quadratic in the line. Past this, [`parse_json`] fails.
pub const BLOWUP: usize = 64;

/// What a field's value was in the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A JSON string, or any logfmt value (a bare logfmt key has an empty string).
    String,
    /// A JSON number; the value is its text as written.
    Number,
    /// `true` or `false`.
    Bool,
    /// `null`; the value is the text `null`.
    Null,
    /// An empty object; the value is `{}`.
    EmptyObject,
    /// An empty array; the value is `[]`.
    EmptyArray,
}

/// One field: spans into [`Fields::buf`].
#[derive(Clone, Copy, Debug)]
struct Entry {
    name: (u32, u32),
    value: (u32, u32),
    hash: u64,
    kind: Kind,
}

/// The fields of one structured event: an insertion-ordered map from flattened name to
/// value bytes. Names and values live in one buffer; a hash table indexes the names.
///
/// Build one with [`parse_json`], [`parse_logfmt`] or [`Fields::insert`]; reuse one
/// across lines with [`parse_json_into`] / [`parse_logfmt_into`] to save allocations.
#[derive(Clone, Default)]
pub struct Fields {
    buf: Vec<u8>,
    entries: Vec<Entry>,
    /// Open addressing: 0 is empty, otherwise entry index + 1. Length is 0 or a power of two.
    table: Vec<u32>,
}

impl Fields {
    /// An empty map.
    pub fn new() -> Fields {
        Fields::default()
    }

    /// Removes every field, keeping the allocations.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.entries.clear();
        self.table.iter_mut().for_each(|s| *s = 0);
    }

    /// Room for a line of `len` bytes: names repeat their prefixes, so a little more
    /// than the line for the bytes, and a guess at the number of fields.
    fn reserve(&mut self, len: usize) {
        self.buf.reserve(len + len / 2 + 64);
        let fields = (len / 32).max(8);
        self.entries.reserve(fields);
        if self.table.len() < fields * 2 {
            self.table.clear();
            self.table.resize((fields * 2).next_power_of_two(), 0);
        }
    }

    /// The number of fields.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are no fields.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn name_of(&self, e: &Entry) -> &[u8] {
        &self.buf[e.name.0 as usize..(e.name.0 + e.name.1) as usize]
    }

    fn value_of(&self, e: &Entry) -> &[u8] {
        &self.buf[e.value.0 as usize..(e.value.0 + e.value.1) as usize]
    }

    /// The fields in order: name, value.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        self.entries
            .iter()
            .map(|e| (self.name_of(e), self.value_of(e)))
    }

    /// The fields in order: name, value and kind.
    pub fn iter_kinds(&self) -> impl Iterator<Item = (&[u8], &[u8], Kind)> + '_ {
        self.entries
            .iter()
            .map(|e| (self.name_of(e), self.value_of(e), e.kind))
    }

    fn find(&self, name: &[u8], hash: u64) -> Result<usize, usize> {
        let mask = self.table.len().wrapping_sub(1);
        if self.table.is_empty() {
            return Err(usize::MAX);
        }
        let mut slot = hash as usize & mask;
        loop {
            match self.table[slot] {
                0 => return Err(slot),
                i => {
                    let e = &self.entries[i as usize - 1];
                    if e.hash == hash && self.name_of(e) == name {
                        return Ok(i as usize - 1);
                    }
                }
            }
            slot = (slot + 1) & mask;
        }
    }

    /// The value of a field by its flattened name (`user_tags.srcip`).
    pub fn get(&self, name: &[u8]) -> Option<&[u8]> {
        self.find(name, hash(name))
            .ok()
            .map(|i| self.value_of(&self.entries[i]))
    }

    /// The value of a field by its flattened name, or, when there is none, of the first
    /// field whose name with each `.` read as `_` is `name` (`user_tags_srcip` finds
    /// `user_tags.srcip`): the form a SEC match variable (`$+{name}`) can hold.
    pub fn get_loose(&self, name: &[u8]) -> Option<&[u8]> {
        if let Some(v) = self.get(name) {
            return Some(v);
        }
        if !name.contains(&b'_') {
            return None;
        }
        self.entries
            .iter()
            .find(|e| {
                let n = self.name_of(e);
                n.len() == name.len()
                    && n.iter()
                        .zip(name)
                        .all(|(&a, &b)| a == b || (a == b'.' && b == b'_'))
            })
            .map(|e| self.value_of(e))
    }

    /// What a field's value was in the input, by flattened name.
    pub fn kind(&self, name: &[u8]) -> Option<Kind> {
        self.find(name, hash(name))
            .ok()
            .map(|i| self.entries[i].kind)
    }

    /// The value of a field by its LogZilla environment name, `EVENT_` followed by the
    /// field name in [`env_name`]'s form (`EVENT_USER_TAGS_SRCIP` finds
    /// `user_tags.srcip`). Without the `EVENT_` prefix nothing is found. When several
    /// fields have the same environment name (`a.b` and `a_b`), the one later in the
    /// field order wins, as if the variables were set in order.
    pub fn get_env(&self, env: &[u8]) -> Option<&[u8]> {
        let want = env.strip_prefix(b"EVENT_")?;
        self.entries
            .iter()
            .rev()
            .find(|e| env_matches(self.name_of(e), want))
            .map(|e| self.value_of(e))
    }

    /// The fields as LogZilla environment variables, in field order: `EVENT_<NAME>`, value.
    /// Setting them in this order gives [`Fields::get_env`]'s answers.
    pub fn env_vars(&self) -> impl Iterator<Item = (Vec<u8>, &[u8])> + '_ {
        self.iter().map(|(n, v)| {
            let mut k = b"EVENT_".to_vec();
            push_env_name(&mut k, n);
            (k, v)
        })
    }

    /// Sets a field (a string): a new name goes at the end, an existing one gets the new
    /// value and keeps its place.
    pub fn insert(&mut self, name: &[u8], value: &[u8]) {
        self.insert_kind(name, value, Kind::String);
    }

    /// Sets a field with its kind; see [`Fields::insert`].
    pub fn insert_kind(&mut self, name: &[u8], value: &[u8], kind: Kind) {
        let n0 = self.buf.len();
        self.buf.extend_from_slice(name);
        let v0 = self.buf.len();
        self.buf.extend_from_slice(value);
        self.commit(n0, v0, kind);
    }

    /// Records the field whose name is `buf[n0..v0]` and value `buf[v0..]`.
    fn commit(&mut self, n0: usize, v0: usize, kind: Kind) {
        let end = self.buf.len();
        let h = hash(&self.buf[n0..v0]);
        if self.table.len() < (self.entries.len() + 1) * 2 {
            self.grow();
        }
        match self.find(&self.buf[n0..v0], h) {
            Ok(i) => {
                // A duplicate: drop the repeated name, moving the value over it.
                self.buf.copy_within(v0..end, n0);
                self.buf.truncate(n0 + end - v0);
                let e = &mut self.entries[i];
                e.value = (n0 as u32, (end - v0) as u32);
                e.kind = kind;
            }
            Err(slot) => {
                self.entries.push(Entry {
                    name: (n0 as u32, (v0 - n0) as u32),
                    value: (v0 as u32, (end - v0) as u32),
                    hash: h,
                    kind,
                });
                self.table[slot] = self.entries.len() as u32;
            }
        }
    }

    fn grow(&mut self) {
        let cap = (self.table.len() * 2).max(64);
        self.table.clear();
        self.table.resize(cap, 0);
        let mask = cap - 1;
        for (i, e) in self.entries.iter().enumerate() {
            let mut slot = e.hash as usize & mask;
            while self.table[slot] != 0 {
                slot = (slot + 1) & mask;
            }
            self.table[slot] = i as u32 + 1;
        }
    }
}

impl PartialEq for Fields {
    fn eq(&self, other: &Fields) -> bool {
        self.len() == other.len() && self.iter_kinds().eq(other.iter_kinds())
    }
}

impl Eq for Fields {}

impl fmt::Debug for Fields {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(
                self.iter()
                    .map(|(n, v)| (String::from_utf8_lossy(n), String::from_utf8_lossy(v))),
            )
            .finish()
    }
}

/// A fast hash of a name, eight bytes at a time (FxHash's mixing, with a final fold so
/// the low bits, which pick the table slot, depend on every byte).
#[inline]
fn hash(b: &[u8]) -> u64 {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    let mut h: u64 = b.len() as u64;
    let mut chunks = b.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes(c.try_into().unwrap());
        h = (h.rotate_left(5) ^ w).wrapping_mul(K);
    }
    let rest = chunks.remainder();
    // The tail in one word, read in place (copying it to a stack buffer stalls on store
    // forwarding): the last eight bytes, overlapping, or two overlapping halves.
    let n = rest.len();
    let w = if n == 0 {
        None
    } else if b.len() >= 8 {
        Some(u64::from_le_bytes(b[b.len() - 8..].try_into().unwrap()))
    } else if n >= 4 {
        let lo = u32::from_le_bytes(rest[..4].try_into().unwrap()) as u64;
        let hi = u32::from_le_bytes(rest[n - 4..].try_into().unwrap()) as u64;
        Some(lo | hi << 32)
    } else {
        Some(rest[0] as u64 | (rest[n / 2] as u64) << 8 | (rest[n - 1] as u64) << 16)
    };
    if let Some(w) = w {
        h = (h.rotate_left(5) ^ w).wrapping_mul(K);
    }
    h ^ (h >> 29) ^ (h >> 47)
}

/// Calls `f` with each character of a field name in environment form: ASCII letters
/// upper-cased, ASCII digits kept, and `_` for every other character (a `.` of
/// nesting, punctuation, a space, one `_` per non-ASCII UTF-8 character, one per byte of
/// invalid UTF-8).
fn env_chars(name: &[u8], mut f: impl FnMut(u8) -> bool) -> bool {
    for chunk in name.utf8_chunks() {
        for c in chunk.valid().chars() {
            let b = if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase() as u8
            } else {
                b'_'
            };
            if !f(b) {
                return false;
            }
        }
        for _ in chunk.invalid() {
            if !f(b'_') {
                return false;
            }
        }
    }
    true
}

fn push_env_name(out: &mut Vec<u8>, name: &[u8]) {
    env_chars(name, |b| {
        out.push(b);
        true
    });
}

fn env_matches(name: &[u8], want: &[u8]) -> bool {
    // An environment name is never longer than the field name (one byte per character
    // at most), and as long for ASCII, which is compared without decoding.
    if name.len() < want.len() {
        return false;
    }
    if name.is_ascii() {
        return name.len() == want.len()
            && name.iter().zip(want).all(|(&c, &w)| {
                w == if c.is_ascii_alphanumeric() {
                    c.to_ascii_uppercase()
                } else {
                    b'_'
                }
            });
    }
    let mut i = 0;
    env_chars(name, |b| {
        let ok = want.get(i) == Some(&b);
        i += 1;
        ok
    }) && i == want.len()
}

/// A field name in LogZilla's environment form, without the `EVENT_` prefix:
/// `user_tags.srcip` gives `USER_TAGS_SRCIP`. ASCII letters are upper-cased, ASCII
/// digits kept, and every other character (one per UTF-8 character, one per invalid
/// byte) becomes `_`.
pub fn env_name(name: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len());
    push_env_name(&mut out, name);
    out
}

/// Why a line is not a JSON object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldError {
    /// The byte offset in the line where parsing stopped.
    pub offset: usize,
    /// What was wrong there.
    pub reason: &'static str,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid JSON at byte {}: {}", self.offset, self.reason)
    }
}

impl std::error::Error for FieldError {}

/// Parses a line holding one JSON object into flattened fields; see the module docs for
/// names, values, duplicates and what is an error.
pub fn parse_json(line: &[u8]) -> Result<Fields, FieldError> {
    let mut f = Fields::new();
    parse_json_into(line, &mut f)?;
    Ok(f)
}

/// [`parse_json`] into an existing map, which is cleared first (and left holding a
/// partial result on error). Reusing one map across lines saves its allocations.
pub fn parse_json_into(line: &[u8], out: &mut Fields) -> Result<(), FieldError> {
    out.clear();
    out.reserve(line.len());
    let mut p = JsonParser {
        s: line,
        i: 0,
        out,
        name: Vec::new(),
        stack: Vec::new(),
        limit: line
            .len()
            .saturating_mul(BLOWUP)
            .saturating_add(1 << 16)
            .min(u32::MAX as usize),
    };
    p.run()
}

#[derive(Clone, Copy)]
enum Frame {
    Object { base: usize },
    Array { base: usize, index: usize },
}

struct JsonParser<'a, 'f> {
    s: &'a [u8],
    i: usize,
    out: &'f mut Fields,
    /// The flattened name of the value being parsed.
    name: Vec<u8>,
    stack: Vec<Frame>,
    /// The most bytes of names and values the line may flatten to.
    limit: usize,
}

/// The parser's position in the grammar.
enum State {
    /// Just after `{` or `[`.
    Open,
    /// Before a value, whose name is in `name`.
    Value,
    /// After a value, in the container on top of the stack.
    After,
}

impl JsonParser<'_, '_> {
    fn err<T>(&self, reason: &'static str) -> Result<T, FieldError> {
        Err(FieldError {
            offset: self.i,
            reason,
        })
    }

    #[inline]
    fn skip_ws(&mut self) {
        while let Some(&c) = self.s.get(self.i) {
            if !matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
                break;
            }
            self.i += 1;
        }
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn run(&mut self) -> Result<(), FieldError> {
        self.skip_ws();
        match self.peek() {
            Some(b'{') => {}
            None => return self.err("empty line"),
            Some(_) => return self.err("not a JSON object"),
        }
        self.i += 1;
        self.stack.push(Frame::Object { base: 0 });
        let mut state = State::Open;
        loop {
            state = match state {
                State::Open => {
                    self.skip_ws();
                    match (*self.stack.last().unwrap(), self.peek()) {
                        (Frame::Object { .. }, Some(b'}')) => {
                            self.i += 1;
                            if self.close_empty(b"{}", Kind::EmptyObject)? {
                                return self.finish();
                            }
                            State::After
                        }
                        (Frame::Array { .. }, Some(b']')) => {
                            self.i += 1;
                            if self.close_empty(b"[]", Kind::EmptyArray)? {
                                return self.finish();
                            }
                            State::After
                        }
                        (Frame::Object { base }, _) => {
                            self.key(base)?;
                            State::Value
                        }
                        (Frame::Array { base, .. }, _) => {
                            self.index_name(base, 0);
                            State::Value
                        }
                    }
                }
                State::Value => {
                    self.skip_ws();
                    match self.peek() {
                        Some(b'{') => {
                            self.open(Frame::Object {
                                base: self.name.len(),
                            })?;
                            State::Open
                        }
                        Some(b'[') => {
                            self.open(Frame::Array {
                                base: self.name.len(),
                                index: 0,
                            })?;
                            State::Open
                        }
                        _ => {
                            self.scalar()?;
                            State::After
                        }
                    }
                }
                State::After => {
                    self.skip_ws();
                    let top = self.stack.len() - 1;
                    match (self.stack[top], self.peek()) {
                        (Frame::Object { base }, Some(b',')) => {
                            self.i += 1;
                            self.skip_ws();
                            self.key(base)?;
                            State::Value
                        }
                        (Frame::Array { base, index }, Some(b',')) => {
                            self.i += 1;
                            self.stack[top] = Frame::Array {
                                base,
                                index: index + 1,
                            };
                            self.index_name(base, index + 1);
                            State::Value
                        }
                        (Frame::Object { .. }, Some(b'}')) | (Frame::Array { .. }, Some(b']')) => {
                            self.i += 1;
                            self.stack.pop();
                            if self.stack.is_empty() {
                                return self.finish();
                            }
                            State::After
                        }
                        (_, None) => return self.err("unexpected end of line"),
                        (Frame::Object { .. }, _) => return self.err("expected ',' or '}'"),
                        (Frame::Array { .. }, _) => return self.err("expected ',' or ']'"),
                    }
                }
            }
        }
    }

    fn open(&mut self, frame: Frame) -> Result<(), FieldError> {
        if self.stack.len() >= MAX_DEPTH {
            return self.err("nesting too deep");
        }
        self.i += 1;
        self.stack.push(frame);
        Ok(())
    }

    /// Pops an empty container; true when it was the top-level object. A nested empty
    /// container becomes a field of its own.
    fn close_empty(&mut self, text: &[u8], kind: Kind) -> Result<bool, FieldError> {
        let base = match self.stack.pop().unwrap() {
            Frame::Object { base } | Frame::Array { base, .. } => base,
        };
        if self.stack.is_empty() {
            return Ok(true);
        }
        if self.out.buf.len() + base + text.len() > self.limit {
            return self.err("flattened fields too large");
        }
        self.out.insert_kind(&self.name[..base], text, kind);
        Ok(false)
    }

    fn finish(&mut self) -> Result<(), FieldError> {
        self.skip_ws();
        if self.i < self.s.len() {
            return self.err("trailing characters after the object");
        }
        Ok(())
    }

    fn index_name(&mut self, base: usize, index: usize) {
        self.name.truncate(base);
        if self.stack.len() > 1 {
            self.name.push(b'.');
        }
        let mut digits = [0u8; 20];
        let mut n = index;
        let mut k = digits.len();
        loop {
            k -= 1;
            digits[k] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.name.extend_from_slice(&digits[k..]);
    }

    /// Reads `"key"` and the `:` after it, setting `name` to the key's flattened name.
    fn key(&mut self, base: usize) -> Result<(), FieldError> {
        if self.peek() != Some(b'"') {
            return match self.peek() {
                None => self.err("unexpected end of line"),
                _ => self.err("expected a string key"),
            };
        }
        self.i += 1;
        self.name.truncate(base);
        if self.stack.len() > 1 {
            self.name.push(b'.');
        }
        let mut name = std::mem::take(&mut self.name);
        let r = self.string_body(&mut name);
        self.name = name;
        r?;
        self.skip_ws();
        if self.peek() != Some(b':') {
            return self.err("expected ':' after a key");
        }
        self.i += 1;
        Ok(())
    }

    fn scalar(&mut self) -> Result<(), FieldError> {
        let n0 = self.out.buf.len();
        self.out.buf.extend_from_slice(&self.name);
        let v0 = self.out.buf.len();
        let kind = match self.peek() {
            Some(b'"') => {
                self.i += 1;
                let mut buf = std::mem::take(&mut self.out.buf);
                let r = self.string_body(&mut buf);
                self.out.buf = buf;
                r?;
                Kind::String
            }
            Some(b'-' | b'0'..=b'9') => {
                let start = self.i;
                self.number()?;
                self.out.buf.extend_from_slice(&self.s[start..self.i]);
                Kind::Number
            }
            Some(b't') => self.literal(b"true", Kind::Bool)?,
            Some(b'f') => self.literal(b"false", Kind::Bool)?,
            Some(b'n') => self.literal(b"null", Kind::Null)?,
            None => return self.err("unexpected end of line"),
            Some(_) => return self.err("expected a value"),
        };
        if self.out.buf.len() > self.limit {
            return self.err("flattened fields too large");
        }
        self.out.commit(n0, v0, kind);
        Ok(())
    }

    fn literal(&mut self, word: &'static [u8], kind: Kind) -> Result<Kind, FieldError> {
        if self.s[self.i..].starts_with(word) {
            self.i += word.len();
            self.out.buf.extend_from_slice(word);
            Ok(kind)
        } else {
            self.err("invalid literal")
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.i;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.i += 1;
        }
        self.i - start
    }

    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`
    fn number(&mut self) -> Result<(), FieldError> {
        if self.peek() == Some(b'-') {
            self.i += 1;
        }
        match self.peek() {
            Some(b'0') => self.i += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return self.err("invalid number"),
        }
        if self.peek() == Some(b'.') {
            self.i += 1;
            if self.digits() == 0 {
                return self.err("invalid number: no digit after '.'");
            }
        }
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.i += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.i += 1;
            }
            if self.digits() == 0 {
                return self.err("invalid number: no digit in the exponent");
            }
        }
        Ok(())
    }

    /// Reads a string's body after its opening quote, through the closing quote,
    /// appending the unescaped bytes to `out`.
    fn string_body(&mut self, out: &mut Vec<u8>) -> Result<(), FieldError> {
        loop {
            // The run of plain bytes up to a quote, a backslash or a control character.
            let start = self.i;
            let mut high = 0u8;
            let s = self.s;
            let mut i = self.i;
            // Eight bytes at a time (SWAR): a byte is flagged when it is `"`, `\\` or below
            // 0x20. Borrows can set false flags, but only above a true one, so the lowest
            // flag is exact: that byte ends the run. The last few bytes of the line go
            // one at a time.
            const ONES: u64 = 0x0101_0101_0101_0101;
            const HIGHS: u64 = 0x8080_8080_8080_8080;
            let mut high_w = 0u64;
            while let Some(c) = s.get(i..i + 8) {
                let w = u64::from_le_bytes(c.try_into().unwrap());
                let q = w ^ (ONES * b'"' as u64);
                let b = w ^ (ONES * b'\\' as u64);
                let special = (q.wrapping_sub(ONES) & !q)
                    | (b.wrapping_sub(ONES) & !b)
                    | (w.wrapping_sub(ONES * 0x20) & !w);
                let special = special & HIGHS;
                if special != 0 {
                    let k = special.trailing_zeros() / 8;
                    high_w |= w & ((1u64 << (8 * k)) - 1);
                    i += k as usize;
                    break;
                }
                high_w |= w;
                i += 8;
            }
            if high_w & HIGHS != 0 {
                high = 0x80;
            }
            while let Some(&c) = s.get(i) {
                if c == b'"' || c == b'\\' || c < 0x20 {
                    break;
                }
                high |= c;
                i += 1;
            }
            let run = &s[start..i];
            if high >= 0x80 {
                if let Err(e) = std::str::from_utf8(run) {
                    self.i = start + e.valid_up_to();
                    return self.err("invalid UTF-8 in a string");
                }
            }
            out.extend_from_slice(run);
            self.i = i;
            match s.get(i) {
                Some(b'"') => {
                    self.i += 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    self.i += 1;
                    self.escape(out)?;
                }
                Some(_) => return self.err("control character in a string"),
                None => return self.err("unterminated string"),
            }
        }
    }

    fn escape(&mut self, out: &mut Vec<u8>) -> Result<(), FieldError> {
        let c = match self.peek() {
            None => return self.err("unterminated string"),
            Some(c) => c,
        };
        self.i += 1;
        let b = match c {
            b'"' => b'"',
            b'\\' => b'\\',
            b'/' => b'/',
            b'b' => 0x08,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => {
                let hi = self.hex4()?;
                let cp = if (0xD800..0xDC00).contains(&hi) {
                    if self.s.get(self.i) != Some(&b'\\') || self.s.get(self.i + 1) != Some(&b'u') {
                        return self.err("lone leading surrogate in a \\u escape");
                    }
                    self.i += 2;
                    let lo = self.hex4()?;
                    if !(0xDC00..0xE000).contains(&lo) {
                        return self.err("invalid trailing surrogate in a \\u escape");
                    }
                    0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                } else if (0xDC00..0xE000).contains(&hi) {
                    return self.err("lone trailing surrogate in a \\u escape");
                } else {
                    hi
                };
                let ch = char::from_u32(cp).expect("a scalar value");
                let mut tmp = [0u8; 4];
                out.extend_from_slice(ch.encode_utf8(&mut tmp).as_bytes());
                return Ok(());
            }
            _ => {
                self.i -= 1;
                return self.err("invalid escape");
            }
        };
        out.push(b);
        Ok(())
    }

    fn hex4(&mut self) -> Result<u32, FieldError> {
        let mut v = 0u32;
        for _ in 0..4 {
            let d = match self.peek() {
                Some(c @ b'0'..=b'9') => c - b'0',
                Some(c @ b'a'..=b'f') => c - b'a' + 10,
                Some(c @ b'A'..=b'F') => c - b'A' + 10,
                None => return self.err("unterminated string"),
                Some(_) => return self.err("invalid \\u escape"),
            };
            v = v * 16 + d as u32;
            self.i += 1;
        }
        Ok(v)
    }
}

/// Parses a logfmt line: `key=value`, `key="quoted value"` and bare `key` (an empty
/// value), separated by whitespace (any byte up to and including space). Never fails:
///
/// * A key is a run of bytes other than whitespace, `=` and `"`.
/// * An unquoted value runs to the next whitespace (it may contain `=` and `"`).
/// * In a quoted value, `\"`, `\\`, `\n`, `\r` and `\t` are unescaped; any other
///   backslash is kept as it is. An unterminated quote runs to the end of the line.
/// * Garbage is skipped: a `=value` or `"quoted"` with no key before it, and a quoted
///   string right after a key with no `=` (the key is kept as bare).
/// * Bytes need not be UTF-8; they are kept as they are.
/// * A duplicate key: the last value wins, at the first key's position.
pub fn parse_logfmt(line: &[u8]) -> Fields {
    let mut f = Fields::new();
    parse_logfmt_into(line, &mut f);
    f
}

/// [`parse_logfmt`] into an existing map, which is cleared first.
pub fn parse_logfmt_into(line: &[u8], out: &mut Fields) {
    out.clear();
    out.reserve(line.len());
    let s = line;
    let n = s.len();
    let is_ws = |c: u8| c <= b' ';
    let mut i = 0;
    while i < n {
        let c = s[i];
        if is_ws(c) {
            i += 1;
            continue;
        }
        if c == b'=' {
            // A value without a key: skip it.
            i += 1;
            if i < n && s[i] == b'"' {
                i = skip_quoted(s, i + 1);
            } else {
                while i < n && !is_ws(s[i]) {
                    i += 1;
                }
            }
            continue;
        }
        if c == b'"' {
            i = skip_quoted(s, i + 1);
            continue;
        }
        let k0 = i;
        while i < n && !is_ws(s[i]) && s[i] != b'=' && s[i] != b'"' {
            i += 1;
        }
        let n0 = out.buf.len();
        out.buf.extend_from_slice(&s[k0..i]);
        let v0 = out.buf.len();
        if i < n && s[i] == b'=' {
            i += 1;
            if i < n && s[i] == b'"' {
                i += 1;
                while i < n {
                    match s[i] {
                        b'"' => {
                            i += 1;
                            break;
                        }
                        b'\\' if i + 1 < n => {
                            match s[i + 1] {
                                b'"' => out.buf.push(b'"'),
                                b'\\' => out.buf.push(b'\\'),
                                b'n' => out.buf.push(b'\n'),
                                b'r' => out.buf.push(b'\r'),
                                b't' => out.buf.push(b'\t'),
                                other => out.buf.extend_from_slice(&[b'\\', other]),
                            }
                            i += 2;
                        }
                        b => {
                            out.buf.push(b);
                            i += 1;
                        }
                    }
                }
            } else {
                let v = i;
                while i < n && !is_ws(s[i]) {
                    i += 1;
                }
                out.buf.extend_from_slice(&s[v..i]);
            }
        }
        out.commit(n0, v0, Kind::String);
    }
}

/// The index after a quoted string whose body starts at `i` (backslash escapes skipped),
/// or the end of the line when it is unterminated.
fn skip_quoted(s: &[u8], mut i: usize) -> usize {
    while i < s.len() {
        match s[i] {
            b'"' => return i + 1,
            b'\\' => i += 2,
            _ => i += 1,
        }
    }
    s.len()
}

/// The fields of one input line in the given format: `None` for plain lines
/// ([`InputFormat::Line`]), otherwise the parse result. Logfmt never fails; a JSON error
/// is for the caller to log and count, treating the line as plain text.
pub fn extract(format: InputFormat, line: &[u8]) -> Option<Result<Fields, FieldError>> {
    match format {
        InputFormat::Line => None,
        InputFormat::Json => Some(parse_json(line)),
        InputFormat::Logfmt => Some(Ok(parse_logfmt(line))),
    }
}

/// The bytes patterns match (`--match-field`): the value of `match_field` when it is
/// given and the line has that field, otherwise the raw line (plain input, a line that
/// failed to parse, or an event without the field).
pub fn match_text<'a>(
    line: &'a [u8],
    fields: Option<&'a Fields>,
    match_field: Option<&str>,
) -> &'a [u8] {
    match (fields, match_field) {
        (Some(f), Some(name)) => f.get(name.as_bytes()).unwrap_or(line),
        _ => line,
    }
}
