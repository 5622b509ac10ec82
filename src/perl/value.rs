//! Perl values: undef, numbers, strings and references, with Perl's coercions.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;

use super::ast::SubDef;

/// A Perl hash: string keys to values (iteration order is unspecified, as in Perl).
pub type PerlHash = HashMap<String, Value>;
/// A shared Perl array, as held by a variable or an array reference.
pub type ArrayRc = Rc<RefCell<Vec<Value>>>;
/// A shared Perl hash, as held by a variable or a hash reference.
pub type HashRc = Rc<RefCell<PerlHash>>;

/// A scalar variable's container: its value and the `pos()` of the last `m//g` on it.
#[derive(Debug, Default)]
pub struct ScalarCell {
    /// The value.
    pub value: RefCell<Value>,
    /// Where the next `m//g` match starts (Perl's `pos`), reset by assignment.
    pub pos: Cell<Option<usize>>,
    /// Whether the match that set `pos` was empty (then the next one may not be empty
    /// at the same place).
    pub pos_empty: Cell<bool>,
}

impl ScalarCell {
    /// A new container holding `v`.
    pub fn new(v: Value) -> Rc<ScalarCell> {
        Rc::new(ScalarCell {
            value: RefCell::new(v),
            pos: Cell::new(None),
            pos_empty: Cell::new(false),
        })
    }
    /// Replaces the value (and resets `pos`, as Perl does on assignment).
    pub fn set(&self, v: Value) {
        *self.value.borrow_mut() = v;
        self.pos.set(None);
    }
    /// A copy of the value.
    pub fn get(&self) -> Value {
        self.value.borrow().clone()
    }
}

/// A code reference: a compiled sub plus the lexical variables it closed over.
pub struct CodeRef {
    pub(crate) def: Rc<SubDef>,
    pub(crate) captures: Vec<super::eval::Slot>,
}

impl fmt::Debug for CodeRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CODE({:p})", Rc::as_ptr(&self.def))
    }
}

/// A Perl scalar value.
#[derive(Clone, Debug, Default)]
pub enum Value {
    /// Perl's undefined value.
    #[default]
    Undef,
    /// An integer (Perl IV).
    Int(i64),
    /// A floating-point number (Perl NV).
    Num(f64),
    /// A string.
    Str(Rc<str>),
    /// A reference to an array (`\@a`, `[...]`).
    ArrayRef(ArrayRc),
    /// A reference to a hash (`\%h`, `{...}`).
    HashRef(HashRc),
    /// A reference to code (`sub {...}`).
    CodeRef(Rc<CodeRef>),
    /// A reference to a scalar (`\$x`).
    ScalarRef(Rc<ScalarCell>),
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Str(Rc::from(s))
    }
}
impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Str(Rc::from(s))
    }
}
impl From<i64> for Value {
    fn from(n: i64) -> Value {
        Value::Int(n)
    }
}
impl From<f64> for Value {
    fn from(n: f64) -> Value {
        Value::Num(n)
    }
}
impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::bool(b)
    }
}

/// A parsed number: integer when it fits, float otherwise.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Num {
    /// Integer.
    I(i64),
    /// Float.
    F(f64),
}

impl Num {
    /// As a float.
    pub fn f(self) -> f64 {
        match self {
            Num::I(i) => i as f64,
            Num::F(f) => f,
        }
    }
    /// As a value.
    pub fn val(self) -> Value {
        match self {
            Num::I(i) => Value::Int(i),
            Num::F(f) => Value::Num(f),
        }
    }
}

impl Value {
    /// A string value.
    pub fn str(s: &str) -> Value {
        Value::Str(Rc::from(s))
    }
    /// Perl's boolean results: 1 for true, "" for false.
    pub fn bool(b: bool) -> Value {
        if b {
            Value::Int(1)
        } else {
            Value::Str(Rc::from(""))
        }
    }
    /// A new array reference holding `v`.
    pub fn array_ref(v: Vec<Value>) -> Value {
        Value::ArrayRef(Rc::new(RefCell::new(v)))
    }
    /// A new hash reference holding `h`.
    pub fn hash_ref(h: PerlHash) -> Value {
        Value::HashRef(Rc::new(RefCell::new(h)))
    }
    /// Whether the value is defined.
    pub fn is_defined(&self) -> bool {
        !matches!(self, Value::Undef)
    }
    /// Whether this is any kind of reference.
    pub fn is_ref(&self) -> bool {
        matches!(
            self,
            Value::ArrayRef(_) | Value::HashRef(_) | Value::CodeRef(_) | Value::ScalarRef(_)
        )
    }

    /// Perl truthiness: undef, `""`, `"0"` and numeric zero are false; everything else
    /// (including `"0.0"`, `"00"` and `" "`) is true.
    pub fn truthy(&self) -> bool {
        match self {
            Value::Undef => false,
            Value::Int(i) => *i != 0,
            Value::Num(f) => *f != 0.0,
            Value::Str(s) => !(s.is_empty() || &**s == "0"),
            _ => true,
        }
    }

    /// Perl's stringification (numbers as `%.15g`, refs as `HASH(0x...)`, undef as "").
    pub fn to_string_perl(&self) -> String {
        match self {
            Value::Str(s) => s.to_string(),
            _ => self.to_str_cow().into_owned(),
        }
    }

    /// Stringification without copying when the value is already a string.
    pub fn to_str_cow(&self) -> std::borrow::Cow<'_, str> {
        use std::borrow::Cow;
        match self {
            Value::Undef => Cow::Borrowed(""),
            Value::Int(i) => Cow::Owned(i.to_string()),
            Value::Num(f) => Cow::Owned(format_num(*f)),
            Value::Str(s) => Cow::Borrowed(s),
            Value::ArrayRef(r) => Cow::Owned(format!("ARRAY({:#x})", Rc::as_ptr(r) as usize)),
            Value::HashRef(r) => Cow::Owned(format!("HASH({:#x})", Rc::as_ptr(r) as usize)),
            Value::CodeRef(r) => Cow::Owned(format!("CODE({:#x})", Rc::as_ptr(r) as usize)),
            Value::ScalarRef(r) => Cow::Owned(format!("SCALAR({:#x})", Rc::as_ptr(r) as usize)),
        }
    }

    /// Perl's numification as a float (`"10abc"` is 10, `"abc"` is 0, `"0x10"` is 0).
    pub fn to_num(&self) -> f64 {
        self.to_number().f()
    }

    /// Perl's numification, keeping integers as integers.
    pub fn to_number(&self) -> Num {
        match self {
            Value::Undef => Num::I(0),
            Value::Int(i) => Num::I(*i),
            Value::Num(f) => Num::F(*f),
            Value::Str(s) => parse_num(s),
            Value::ArrayRef(r) => Num::I(Rc::as_ptr(r) as usize as i64),
            Value::HashRef(r) => Num::I(Rc::as_ptr(r) as usize as i64),
            Value::CodeRef(r) => Num::I(Rc::as_ptr(r) as usize as i64),
            Value::ScalarRef(r) => Num::I(Rc::as_ptr(r) as usize as i64),
        }
    }

    /// Perl's `int()` conversion to an integer (truncating toward zero, saturating).
    pub fn to_int(&self) -> i64 {
        match self.to_number() {
            Num::I(i) => i,
            Num::F(f) => {
                if f.is_nan() {
                    0
                } else {
                    f.trunc() as i64
                }
            }
        }
    }

    /// The name `ref()` gives this value, or "" when it is not a reference.
    pub fn ref_type(&self) -> &'static str {
        match self {
            Value::ArrayRef(_) => "ARRAY",
            Value::HashRef(_) => "HASH",
            Value::CodeRef(_) => "CODE",
            Value::ScalarRef(c) => {
                if c.value.borrow().is_ref() {
                    "REF"
                } else {
                    "SCALAR"
                }
            }
            _ => "",
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_str_cow())
    }
}

/// Formats a float as Perl does (`%.15g`, `Inf`, `NaN`).
pub fn format_num(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "Inf".into() } else { "-Inf".into() };
    }
    if f == 0.0 {
        return "0".into();
    }
    if f.fract() == 0.0 && f.abs() < 1e15 {
        return format!("{}", f as i64);
    }
    format_g(f, 15, false, false)
}

/// C's `%.<prec>g` formatting (`alt` keeps trailing zeros as `%#g` does).
pub fn format_g(f: f64, prec: usize, upper: bool, alt: bool) -> String {
    if f.is_nan() {
        return if upper { "NAN".into() } else { "NaN".into() };
    }
    if f.is_infinite() {
        let s = if f > 0.0 { "Inf" } else { "-Inf" };
        return if upper { s.to_uppercase() } else { s.into() };
    }
    let p = if prec == 0 { 1 } else { prec };
    if f == 0.0 {
        let mut s = if f.is_sign_negative() {
            "-0".to_string()
        } else {
            "0".to_string()
        };
        if alt && p > 1 {
            s.push('.');
            s.push_str(&"0".repeat(p - 1));
        }
        return s;
    }
    // Exponent after rounding to p significant digits.
    let e_repr = format!("{:.*e}", p - 1, f);
    let (mant, exp) = match e_repr.split_once('e') {
        Some((m, e)) => (m.to_string(), e.parse::<i32>().unwrap_or(0)),
        None => (e_repr.clone(), 0),
    };
    if exp < -4 || exp >= p as i32 {
        let mut m = mant;
        if !alt {
            m = strip_zeros(&m);
        }
        let sign = if exp < 0 { '-' } else { '+' };
        let e = if upper { 'E' } else { 'e' };
        format!("{m}{e}{sign}{:02}", exp.abs())
    } else {
        let decimals = (p as i32 - 1 - exp).max(0) as usize;
        let s = format!("{:.*}", decimals, f);
        if alt {
            s
        } else {
            strip_zeros(&s)
        }
    }
}

fn strip_zeros(s: &str) -> String {
    if s.contains('.') {
        let t = s.trim_end_matches('0');
        t.trim_end_matches('.').to_string()
    } else {
        s.to_string()
    }
}

/// Parses the numeric prefix of a string as Perl does: leading whitespace, sign, digits,
/// fraction, exponent, `Inf`/`NaN`; the rest is ignored; no prefix gives 0.
pub fn parse_num(s: &str) -> Num {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r' | b'\x0b' | b'\x0c') {
        i += 1;
    }
    let start = i;
    let mut neg = false;
    if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
        neg = b[i] == b'-';
        i += 1;
    }
    if i < b.len() && matches!(b[i], b'i' | b'I' | b'n' | b'N') {
        let head = &b[i..b.len().min(i + 3)];
        if head.eq_ignore_ascii_case(b"inf") {
            return Num::F(if neg {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            });
        }
        if head.eq_ignore_ascii_case(b"nan") {
            return Num::F(f64::NAN);
        }
        return Num::I(0);
    }
    let ds = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let int_digits = i - ds;
    let mut is_float = false;
    let mut frac_digits = 0;
    if i < b.len() && b[i] == b'.' {
        let mut j = i + 1;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        frac_digits = j - i - 1;
        if int_digits > 0 || frac_digits > 0 {
            is_float = frac_digits > 0;
            i = j;
        }
    }
    if int_digits == 0 && frac_digits == 0 {
        return Num::I(0);
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        let mut j = i + 1;
        if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
            j += 1;
        }
        let es = j;
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        if j > es {
            is_float = true;
            i = j;
        }
    }
    let text = &s[start..i];
    if !is_float {
        if let Ok(v) = text.trim_end_matches('.').parse::<i64>() {
            return Num::I(v);
        }
    }
    Num::F(text.parse::<f64>().unwrap_or(0.0))
}

/// Whether a string looks like a number to Perl (`looks_like_number`), used by `++`.
pub fn looks_like_number(s: &str) -> bool {
    let t = s.trim_start();
    let t = t.strip_suffix('\n').unwrap_or(t);
    if t.is_empty() {
        return false;
    }
    let t = t.strip_prefix(['+', '-']).unwrap_or(t);
    let l = t.to_ascii_lowercase();
    if l == "inf" || l == "infinity" || l == "nan" {
        return true;
    }
    let b = t.as_bytes();
    let mut i = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let mut digits = i > 0;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
            digits = true;
        }
    }
    if !digits {
        return false;
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let s = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == s {
            return false;
        }
    }
    i == b.len()
}

/// Perl's magic string increment (`"aa"` → `"ab"`, `"Az"` → `"Ba"`, `"zz"` → `"aaa"`,
/// `"a9"` → `"b0"`); `None` when the string is not of the form `/^[a-zA-Z]*[0-9]*$/`.
pub fn string_increment(s: &str) -> Option<String> {
    if s.is_empty() {
        return None;
    }
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && b[i].is_ascii_alphabetic() {
        i += 1;
    }
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    if i != b.len() {
        return None;
    }
    let mut out: Vec<u8> = b.to_vec();
    let mut k = out.len();
    loop {
        if k == 0 {
            let first = b[0];
            let ins = if first.is_ascii_digit() {
                b'1'
            } else if first.is_ascii_uppercase() {
                b'A'
            } else {
                b'a'
            };
            out.insert(0, ins);
            break;
        }
        k -= 1;
        match out[k] {
            b'z' => out[k] = b'a',
            b'Z' => out[k] = b'A',
            b'9' => out[k] = b'0',
            c => {
                out[k] = c + 1;
                break;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// Numeric addition with Perl's integer/float behaviour.
pub fn num_add(a: Num, b: Num) -> Num {
    match (a, b) {
        (Num::I(x), Num::I(y)) => x.checked_add(y).map_or(Num::F(x as f64 + y as f64), Num::I),
        _ => Num::F(a.f() + b.f()),
    }
}
/// Numeric subtraction.
pub fn num_sub(a: Num, b: Num) -> Num {
    match (a, b) {
        (Num::I(x), Num::I(y)) => x.checked_sub(y).map_or(Num::F(x as f64 - y as f64), Num::I),
        _ => Num::F(a.f() - b.f()),
    }
}
/// Numeric multiplication.
pub fn num_mul(a: Num, b: Num) -> Num {
    match (a, b) {
        (Num::I(x), Num::I(y)) => x.checked_mul(y).map_or(Num::F(x as f64 * y as f64), Num::I),
        _ => Num::F(a.f() * b.f()),
    }
}
