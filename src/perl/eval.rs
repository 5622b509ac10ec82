//! The tree-walking evaluator: frames, contexts, lvalues, control flow and operators.

use std::rc::Rc;

use super::ast::*;
use super::builtins;
use super::re::{Groups, Re};
use super::value::*;
use super::{Context, ErrorKind, Interp, PerlError};

/// How deep Perl sub calls may nest before the call fails. The stack budget below is
/// usually the tighter limit (a few hundred levels in release builds).
pub(crate) const MAX_CALL_DEPTH: usize = 1000;
/// The largest list a range or repetition may build.
const MAX_LIST: usize = 10_000_000;

/// One `my` variable's storage in a frame.
#[derive(Clone, Debug, Default)]
pub enum Slot {
    /// Not yet declared in this call.
    #[default]
    Empty,
    /// A scalar.
    S(Rc<ScalarCell>),
    /// An array.
    A(ArrayRc),
    /// A hash.
    H(HashRc),
}

/// The variables of one sub call.
pub(crate) struct Frame {
    slots: Vec<Slot>,
    args: ArrayRc,
    want: Context,
}

impl Frame {
    fn scalar(&mut self, s: usize) -> Rc<ScalarCell> {
        match self.slots.get(s) {
            Some(Slot::S(c)) => c.clone(),
            _ => {
                let c = ScalarCell::new(Value::Undef);
                if let Some(x) = self.slots.get_mut(s) {
                    *x = Slot::S(c.clone());
                }
                c
            }
        }
    }
    fn array(&mut self, s: usize) -> ArrayRc {
        match self.slots.get(s) {
            Some(Slot::A(c)) => c.clone(),
            _ => {
                let c = ArrayRc::default();
                if let Some(x) = self.slots.get_mut(s) {
                    *x = Slot::A(c.clone());
                }
                c
            }
        }
    }
    fn hash(&mut self, s: usize) -> HashRc {
        match self.slots.get(s) {
            Some(Slot::H(c)) => c.clone(),
            _ => {
                let c = HashRc::default();
                if let Some(x) = self.slots.get_mut(s) {
                    *x = Slot::H(c.clone());
                }
                c
            }
        }
    }
    fn set(&mut self, s: usize, v: Slot) {
        if let Some(x) = self.slots.get_mut(s) {
            *x = v;
        }
    }
}

/// Non-local control flow.
pub(crate) enum Flow {
    Err(PerlError),
    Return,
    Last,
    Next,
}

impl From<PerlError> for Flow {
    fn from(e: PerlError) -> Flow {
        Flow::Err(e)
    }
}

type R<T> = Result<T, Flow>;

/// The last successful match: subject and group offsets.
pub(crate) struct LastMatch {
    subject: Rc<str>,
    groups: Groups,
    re: Rc<Re>,
}

pub(crate) fn die(msg: impl Into<String>) -> PerlError {
    let mut m: String = msg.into();
    if !m.ends_with('\n') {
        m.push_str(" at (eval) line 1.\n");
    }
    PerlError {
        kind: ErrorKind::Die,
        message: m,
        construct: None,
    }
}

fn ferr<T>(msg: impl Into<String>) -> R<T> {
    Err(Flow::Err(die(msg)))
}

fn num_cmp(a: Num, b: Num) -> Option<std::cmp::Ordering> {
    match (a, b) {
        (Num::I(x), Num::I(y)) => Some(x.cmp(&y)),
        _ => a.f().partial_cmp(&b.f()),
    }
}

/// A binary operator on two values.
pub(crate) fn binop(op: BinOp, a: &Value, b: &Value) -> Result<Value, PerlError> {
    use std::cmp::Ordering::*;
    Ok(match op {
        BinOp::Add => num_add(a.to_number(), b.to_number()).val(),
        BinOp::Sub => num_sub(a.to_number(), b.to_number()).val(),
        BinOp::Mul => num_mul(a.to_number(), b.to_number()).val(),
        BinOp::Div => {
            let (x, y) = (a.to_number(), b.to_number());
            if y.f() == 0.0 {
                return Err(die("Illegal division by zero"));
            }
            match (x, y) {
                (Num::I(p), Num::I(q)) if q != 0 && p.checked_rem(q) == Some(0) => {
                    Value::Int(p / q)
                }
                _ => Value::Num(x.f() / y.f()),
            }
        }
        BinOp::Mod => {
            let (x, y) = (a.to_number(), b.to_number());
            let (p, q) = match (x, y) {
                (Num::I(p), Num::I(q)) => (p, q),
                _ => {
                    let (pf, qf) = (x.f().trunc(), y.f().trunc());
                    if pf.abs() >= 9.2e18 || qf.abs() >= 9.2e18 {
                        let r = pf % qf;
                        let r = if r != 0.0 && (r < 0.0) != (qf < 0.0) {
                            r + qf
                        } else {
                            r
                        };
                        return Ok(Value::Num(r));
                    }
                    (pf as i64, qf as i64)
                }
            };
            if q == 0 {
                return Err(die("Illegal modulus zero"));
            }
            let r = p.wrapping_rem(q);
            Value::Int(if r != 0 && (r < 0) != (q < 0) {
                r + q
            } else {
                r
            })
        }
        BinOp::Pow => {
            let (x, y) = (a.to_number(), b.to_number());
            match (x, y) {
                (Num::I(p), Num::I(q)) if (0..64).contains(&q) => match p.checked_pow(q as u32) {
                    Some(r) if r.unsigned_abs() < (1u64 << 53) => Value::Int(r),
                    _ => Value::Num(x.f().powf(y.f())),
                },
                _ => Value::Num(x.f().powf(y.f())),
            }
        }
        BinOp::Concat => {
            let mut s = a.to_string_perl();
            s.push_str(&b.to_str_cow());
            Value::from(s)
        }
        BinOp::Repeat => {
            let n = b.to_int();
            let s = a.to_str_cow();
            if n <= 0 || s.is_empty() {
                return Ok(Value::str(""));
            }
            if (n as u128) * (s.len() as u128) > (1u128 << 31) {
                return Err(die("Out of memory in string repetition"));
            }
            Value::from(s.repeat(n as usize))
        }
        BinOp::NumEq => Value::bool(num_cmp(a.to_number(), b.to_number()) == Some(Equal)),
        BinOp::NumNe => Value::bool(num_cmp(a.to_number(), b.to_number()) != Some(Equal)),
        BinOp::NumLt => Value::bool(num_cmp(a.to_number(), b.to_number()) == Some(Less)),
        BinOp::NumGt => Value::bool(num_cmp(a.to_number(), b.to_number()) == Some(Greater)),
        BinOp::NumLe => Value::bool(matches!(
            num_cmp(a.to_number(), b.to_number()),
            Some(Less | Equal)
        )),
        BinOp::NumGe => Value::bool(matches!(
            num_cmp(a.to_number(), b.to_number()),
            Some(Greater | Equal)
        )),
        BinOp::NumCmp => match num_cmp(a.to_number(), b.to_number()) {
            Some(o) => Value::Int(o as i64),
            None => Value::Undef,
        },
        BinOp::StrEq => Value::bool(a.to_str_cow() == b.to_str_cow()),
        BinOp::StrNe => Value::bool(a.to_str_cow() != b.to_str_cow()),
        BinOp::StrLt => Value::bool(a.to_str_cow() < b.to_str_cow()),
        BinOp::StrGt => Value::bool(a.to_str_cow() > b.to_str_cow()),
        BinOp::StrLe => Value::bool(a.to_str_cow() <= b.to_str_cow()),
        BinOp::StrGe => Value::bool(a.to_str_cow() >= b.to_str_cow()),
        BinOp::StrCmp => Value::Int(a.to_str_cow().cmp(&b.to_str_cow()) as i64),
        BinOp::BitAnd => uv(to_uv(a) & to_uv(b)),
        BinOp::BitOr => uv(to_uv(a) | to_uv(b)),
        BinOp::BitXor => uv(to_uv(a) ^ to_uv(b)),
        BinOp::Shl => {
            let n = b.to_int();
            uv(if (0..64).contains(&n) {
                to_uv(a) << n
            } else {
                0
            })
        }
        BinOp::Shr => {
            let n = b.to_int();
            uv(if (0..64).contains(&n) {
                to_uv(a) >> n
            } else {
                0
            })
        }
    })
}

fn to_uv(v: &Value) -> u64 {
    match v.to_number() {
        Num::I(i) => i as u64,
        Num::F(f) => {
            if f < 0.0 {
                (f as i64) as u64
            } else {
                f as u64
            }
        }
    }
}

fn uv(u: u64) -> Value {
    if u <= i64::MAX as u64 {
        Value::Int(u as i64)
    } else {
        Value::Num(u as f64)
    }
}

fn neg(v: &Value) -> Value {
    if let Value::Str(s) = v {
        if let Some(c) = s.chars().next() {
            if c.is_alphabetic() || c == '_' {
                return Value::from(format!("-{s}"));
            }
            if c == '-' && s[1..].chars().next().is_some_and(|c| c.is_alphabetic()) {
                return Value::from(format!("+{}", &s[1..]));
            }
        }
    }
    match v.to_number() {
        Num::I(i) => i.checked_neg().map_or(Value::Num(-(i as f64)), Value::Int),
        Num::F(f) => Value::Num(-f),
    }
}

fn incdec_value(v: &Value, inc: bool) -> Value {
    if inc {
        match v {
            Value::Undef => return Value::Int(1),
            Value::Str(s) if !s.is_empty() && !looks_like_number(s) => {
                if let Some(n) = string_increment(s) {
                    return Value::from(n);
                }
            }
            _ => {}
        }
        num_add(v.to_number(), Num::I(1)).val()
    } else {
        num_sub(v.to_number(), Num::I(1)).val()
    }
}

fn autoviv_array(v: &mut Value) -> Result<ArrayRc, PerlError> {
    match v {
        Value::ArrayRef(r) => Ok(r.clone()),
        Value::Undef => {
            let r = ArrayRc::default();
            *v = Value::ArrayRef(r.clone());
            Ok(r)
        }
        _ => Err(die("Not an ARRAY reference")),
    }
}

fn autoviv_hash(v: &mut Value) -> Result<HashRc, PerlError> {
    match v {
        Value::HashRef(r) => Ok(r.clone()),
        Value::Undef => {
            let r = HashRc::default();
            *v = Value::HashRef(r.clone());
            Ok(r)
        }
        _ => Err(die("Not a HASH reference")),
    }
}

fn norm_index(i: i64, len: usize) -> Option<usize> {
    if i < 0 {
        let k = len as i64 + i;
        if k < 0 {
            None
        } else {
            Some(k as usize)
        }
    } else {
        Some(i as usize)
    }
}

/// The most stack the evaluator may use below the entry point of `eval`/`call`.
const STACK_BUDGET: usize = 1 << 20;

/// The address of a local: where the stack currently is.
#[inline(always)]
pub(crate) fn stack_here() -> usize {
    let marker = 0u8;
    std::hint::black_box(&marker) as *const u8 as usize
}

impl Interp {
    /// Fails (instead of overflowing the Rust stack) when evaluation has used more than
    /// [`STACK_BUDGET`] bytes of stack since `eval`/`call` was entered.
    #[inline(always)]
    fn stack_check(&self) -> Result<(), PerlError> {
        let here = stack_here();
        if self.stack_base != 0 && self.stack_base.saturating_sub(here) > STACK_BUDGET {
            return Err(die(
                "Deep recursion: evaluation nested too deeply (stack limit reached)",
            ));
        }
        Ok(())
    }

    // ------------------------------------------------------------ calls
    pub(crate) fn run_sub(
        &mut self,
        def: &Rc<SubDef>,
        captures: &[Slot],
        args: Vec<Value>,
        want: Context,
    ) -> Result<Vec<Value>, PerlError> {
        if self.depth >= MAX_CALL_DEPTH {
            return Err(die(format!(
                "Deep recursion limit ({MAX_CALL_DEPTH} nested sub calls) exceeded"
            )));
        }
        let mut slots = vec![Slot::Empty; def.nslots];
        for ((_, inner), cap) in def.captures.iter().zip(captures) {
            if let Some(s) = slots.get_mut(*inner) {
                *s = cap.clone();
            }
        }
        let mut f = Frame {
            slots,
            args: Rc::new(std::cell::RefCell::new(args)),
            want,
        };
        self.stack_check()?;
        self.depth += 1;
        let saved = self.last_match.clone();
        let r = self.exec_body(&def.body, &mut f, want);
        self.last_match = saved;
        self.depth -= 1;
        match r {
            Ok(v) => Ok(v),
            Err(Flow::Return) => Ok(std::mem::take(&mut self.ret)),
            Err(Flow::Err(e)) => Err(e),
            Err(Flow::Last) => Err(die("Can't \"last\" outside a loop block")),
            Err(Flow::Next) => Err(die("Can't \"next\" outside a loop block")),
        }
    }

    fn call_value(&mut self, fv: &Value, args: Vec<Value>, want: Context) -> R<Value> {
        let r = self.call_list(fv, args, want)?;
        Ok(r.into_iter().last().unwrap_or_default())
    }

    pub(crate) fn call_list(
        &mut self,
        fv: &Value,
        args: Vec<Value>,
        want: Context,
    ) -> R<Vec<Value>> {
        match fv {
            Value::CodeRef(c) => {
                let c = c.clone();
                Ok(self.run_sub(&c.def, &c.captures, args, want)?)
            }
            Value::Undef => ferr("Can't use an undefined value as a subroutine reference"),
            other => ferr(format!("Not a CODE reference ({})", other.to_str_cow())),
        }
    }

    fn eval_args(&mut self, args: &[Expr], f: &mut Frame) -> R<Vec<Value>> {
        let mut v = Vec::with_capacity(args.len());
        for a in args {
            self.list(a, f, &mut v)?;
        }
        Ok(v)
    }

    // ------------------------------------------------------------ statements
    /// Runs statements; the last one's value (in `want` context) is the result.
    pub(crate) fn exec_body(&mut self, b: &[Stmt], f: &mut Frame, want: Context) -> R<Vec<Value>> {
        // trailing sub declarations are not statements that give a value
        let k = b
            .iter()
            .rposition(|s| !matches!(s, Stmt::SubDecl(..)))
            .unwrap_or(0);
        let Some((last, init)) = b[..(k + 1).min(b.len())].split_last() else {
            return Ok(Vec::new());
        };
        for s in init {
            self.exec(s, f)?;
        }
        let v = self.exec_last(last, f, want)?;
        for s in &b[(k + 1).min(b.len())..] {
            self.exec(s, f)?;
        }
        Ok(v)
    }

    fn exec_last(&mut self, last: &Stmt, f: &mut Frame, want: Context) -> R<Vec<Value>> {
        match last {
            Stmt::Expr(e) => self.ctx(e, f, want),
            Stmt::If(conds, els) => {
                let mut cv = Value::Undef;
                for (c, body) in conds {
                    cv = self.scalar(c, f)?;
                    if cv.truthy() {
                        return self.exec_body(body, f, want);
                    }
                }
                match els {
                    Some(e) => self.exec_body(e, f, want),
                    None => Ok(if want == Context::Scalar {
                        vec![cv]
                    } else {
                        Vec::new()
                    }),
                }
            }
            Stmt::Block(body) => match self.exec_body(body, f, want) {
                Err(Flow::Last) => Ok(Vec::new()),
                r => r,
            },
            other => {
                self.exec(other, f)?;
                Ok(Vec::new())
            }
        }
    }

    fn ctx(&mut self, e: &Expr, f: &mut Frame, want: Context) -> R<Vec<Value>> {
        match want {
            Context::Scalar => Ok(vec![self.scalar(e, f)?]),
            Context::List => {
                let mut v = Vec::new();
                self.list(e, f, &mut v)?;
                Ok(v)
            }
        }
    }

    fn exec_block(&mut self, b: &[Stmt], f: &mut Frame) -> R<()> {
        for s in b {
            self.exec(s, f)?;
        }
        Ok(())
    }

    fn exec(&mut self, s: &Stmt, f: &mut Frame) -> R<()> {
        match s {
            Stmt::Expr(e) => {
                self.void(e, f)?;
            }
            Stmt::If(conds, els) => {
                for (c, body) in conds {
                    if self.scalar(c, f)?.truthy() {
                        return self.exec_block(body, f);
                    }
                }
                if let Some(e) = els {
                    self.exec_block(e, f)?;
                }
            }
            Stmt::While(cond, body, step) => loop {
                if let Some(c) = cond {
                    if !self.scalar(c, f)?.truthy() {
                        break;
                    }
                }
                match self.exec_block(body, f) {
                    Ok(()) | Err(Flow::Next) => {}
                    Err(Flow::Last) => break,
                    Err(e) => return Err(e),
                }
                if let Some(st) = step {
                    self.void(st, f)?;
                }
            },
            Stmt::Foreach(var, list, body) => return self.foreach(var, list, body, f),
            Stmt::Block(b) => match self.exec_block(b, f) {
                Ok(()) | Err(Flow::Last) | Err(Flow::Next) => {}
                Err(e) => return Err(e),
            },
            Stmt::SubDecl(slot, def) => {
                let caps = def
                    .captures
                    .iter()
                    .map(|(o, _)| self.capture(f, *o))
                    .collect();
                *slot.borrow_mut() = Some(Value::CodeRef(Rc::new(CodeRef {
                    def: def.clone(),
                    captures: caps,
                })));
            }
        }
        Ok(())
    }

    /// `foreach`. Over a single array the loop variable is an alias: changes to it are
    /// written back to the element, as in Perl.
    #[inline(never)]
    fn foreach(&mut self, var: &LoopVar, list: &Expr, body: &[Stmt], f: &mut Frame) -> R<()> {
        let alias = match list {
            Expr::Arr(t) => self.get_array(t, f, false)?,
            _ => None,
        };
        let mut items = Vec::new();
        if alias.is_none() {
            self.list(list, f, &mut items)?;
        }
        let saved = match var {
            LoopVar::Global(c) => Some((c.clone(), c.get())),
            _ => None,
        };
        let mut result = Ok(());
        let mut i = 0;
        loop {
            let item = match &alias {
                Some(a) => match a.borrow().get(i) {
                    Some(v) => v.clone(),
                    None => break,
                },
                None => match items.get_mut(i) {
                    Some(v) => std::mem::take(v),
                    None => break,
                },
            };
            let cell = match var {
                LoopVar::My(s) => {
                    let c = ScalarCell::new(item);
                    f.set(*s, Slot::S(c.clone()));
                    c
                }
                LoopVar::Lex(s) => {
                    let c = f.scalar(*s);
                    c.set(item);
                    c
                }
                LoopVar::Global(c) => {
                    c.set(item);
                    c.clone()
                }
            };
            let r = self.exec_block(body, f);
            if let Some(a) = &alias {
                if let Some(slot) = a.borrow_mut().get_mut(i) {
                    *slot = cell.get();
                }
            }
            match r {
                Ok(()) | Err(Flow::Next) => {}
                Err(Flow::Last) => break,
                Err(e) => {
                    result = Err(e);
                    break;
                }
            }
            i += 1;
        }
        if let Some((c, v)) = saved {
            c.set(v);
        }
        result
    }

    fn capture(&mut self, f: &mut Frame, slot: usize) -> Slot {
        match f.slots.get(slot) {
            Some(Slot::Empty) | None => Slot::S(f.scalar(slot)),
            Some(s) => s.clone(),
        }
    }

    /// Evaluates for side effects.
    fn void(&mut self, e: &Expr, f: &mut Frame) -> R<()> {
        match e {
            Expr::ListAssign(..) | Expr::List(_) | Expr::CallRef(..) | Expr::CallNamed(..) => {
                let mut v = Vec::new();
                self.list(e, f, &mut v)?;
            }
            _ => {
                self.scalar(e, f)?;
            }
        }
        Ok(())
    }

    // ------------------------------------------------------------ containers
    fn get_array(&mut self, t: &ArrT, f: &mut Frame, create: bool) -> R<Option<ArrayRc>> {
        Ok(match t {
            ArrT::Lex(s) => Some(f.array(*s)),
            ArrT::Global(a) => Some(a.clone()),
            ArrT::Args => Some(f.args.clone()),
            ArrT::Deref(e) => {
                if create {
                    Some(self.with_lvalue(e, f, &mut autoviv_array)?)
                } else {
                    // undef and (symbolic-reference) strings give an empty array, as
                    // under `no strict refs` with an unused package variable
                    match self.scalar(e, f)? {
                        Value::ArrayRef(r) => Some(r),
                        Value::HashRef(_) | Value::CodeRef(_) | Value::ScalarRef(_) => {
                            return ferr("Not an ARRAY reference")
                        }
                        _ => None,
                    }
                }
            }
        })
    }

    fn get_hash(&mut self, t: &HashT, f: &mut Frame, create: bool) -> R<Option<HashRc>> {
        Ok(match t {
            HashT::Lex(s) => Some(f.hash(*s)),
            HashT::Global(h) => Some(h.clone()),
            HashT::Deref(e) => {
                if create {
                    Some(self.with_lvalue(e, f, &mut autoviv_hash)?)
                } else {
                    match self.scalar(e, f)? {
                        Value::HashRef(r) => Some(r),
                        Value::ArrayRef(_) | Value::CodeRef(_) | Value::ScalarRef(_) => {
                            return ferr("Not a HASH reference")
                        }
                        _ => None,
                    }
                }
            }
        })
    }

    /// The array an element access reads from: like Perl, an undefined variable or element
    /// used as an array reference is autovivified even when only read.
    fn elem_array(&mut self, t: &ArrT, f: &mut Frame) -> R<Option<ArrayRc>> {
        match t {
            ArrT::Deref(e) if is_viv_base(e) => self.with_lvalue(e, f, &mut |v| {
                Ok(match v {
                    Value::ArrayRef(r) => Some(r.clone()),
                    Value::Undef => Some(autoviv_array(v)?),
                    Value::HashRef(_) | Value::CodeRef(_) | Value::ScalarRef(_) => {
                        return Err(die("Not an ARRAY reference"))
                    }
                    _ => None,
                })
            }),
            _ => self.get_array(t, f, false),
        }
    }

    /// The hash an element access reads from (autovivified like [`Interp::elem_array`]).
    fn elem_hash(&mut self, t: &HashT, f: &mut Frame) -> R<Option<HashRc>> {
        match t {
            HashT::Deref(e) if is_viv_base(e) => self.with_lvalue(e, f, &mut |v| {
                Ok(match v {
                    Value::HashRef(r) => Some(r.clone()),
                    Value::Undef => Some(autoviv_hash(v)?),
                    Value::ArrayRef(_) | Value::CodeRef(_) | Value::ScalarRef(_) => {
                        return Err(die("Not a HASH reference"))
                    }
                    _ => None,
                })
            }),
            _ => self.get_hash(t, f, false),
        }
    }

    fn declare(&mut self, f: &mut Frame, v: &MyVar) {
        match v {
            MyVar::Scalar(s) => f.set(*s, Slot::S(ScalarCell::new(Value::Undef))),
            MyVar::Array(s) => f.set(*s, Slot::A(ArrayRc::default())),
            MyVar::Hash(s) => f.set(*s, Slot::H(HashRc::default())),
            MyVar::Skip => {}
        }
    }

    /// Runs `op` on the storage an lvalue expression names (autovivifying containers).
    fn with_lvalue<T>(
        &mut self,
        e: &Expr,
        f: &mut Frame,
        op: &mut dyn FnMut(&mut Value) -> Result<T, PerlError>,
    ) -> R<T> {
        match e {
            Expr::Lex(s) => {
                let c = f.scalar(*s);
                c.pos.set(None);
                let mut b = c.value.borrow_mut();
                Ok(op(&mut b)?)
            }
            Expr::Global(c) => {
                c.pos.set(None);
                let mut b = c.value.borrow_mut();
                Ok(op(&mut b)?)
            }
            Expr::My(vars, _) if vars.len() == 1 => {
                self.declare(f, &vars[0]);
                match vars[0] {
                    MyVar::Scalar(s) => self.with_lvalue(&Expr::Lex(s), f, op),
                    _ => ferr("Can't modify array or hash declaration in scalar assignment"),
                }
            }
            Expr::ElemA(t, i) => {
                let idx = self.scalar(i, f)?.to_int();
                let arr = self.get_array(t, f, true)?.unwrap_or_default();
                let mut a = arr.borrow_mut();
                let Some(k) = norm_index(idx, a.len()) else {
                    return ferr("Modification of non-creatable array value attempted");
                };
                if k >= a.len() {
                    if k > MAX_LIST {
                        return ferr("Out of memory during array extend");
                    }
                    a.resize(k + 1, Value::Undef);
                }
                Ok(op(&mut a[k])?)
            }
            Expr::ElemH(t, k) => {
                let key = self.scalar(k, f)?.to_string_perl();
                let h = self.get_hash(t, f, true)?.unwrap_or_default();
                let mut hb = h.borrow_mut();
                let slot = hb.entry(key).or_insert(Value::Undef);
                Ok(op(slot)?)
            }
            Expr::DerefScalar(inner) => match self.scalar(inner, f)? {
                Value::ScalarRef(c) => {
                    let mut b = c.value.borrow_mut();
                    Ok(op(&mut b)?)
                }
                _ => ferr("Not a SCALAR reference"),
            },
            Expr::Ternary(c, a, b) => {
                if self.scalar(c, f)?.truthy() {
                    self.with_lvalue(a, f, op)
                } else {
                    self.with_lvalue(b, f, op)
                }
            }
            Expr::LastIdx(t) => {
                let arr = self.get_array(t, f, true)?.unwrap_or_default();
                let mut a = arr.borrow_mut();
                let mut v = Value::Int(a.len() as i64 - 1);
                let r = op(&mut v)?;
                let n = (v.to_int() + 1).max(0) as usize;
                if n > MAX_LIST {
                    return ferr("Out of memory during array extend");
                }
                a.resize(n, Value::Undef);
                Ok(r)
            }
            Expr::Assign(l, r) => {
                let v = self.scalar(r, f)?;
                self.assign_scalar(l, v, f)?;
                match simple_lvalue(l) {
                    Some(x) => self.with_lvalue(&x, f, op),
                    None => ferr("Can't modify this assignment"),
                }
            }
            Expr::Builtin(Bi::Pos, args) => {
                let cell = self.pos_cell(args.first(), f);
                let Some(cell) = cell else {
                    return ferr("pos() of this expression is not supported");
                };
                let mut v = cell
                    .pos
                    .get()
                    .map_or(Value::Undef, |p| Value::Int(p as i64));
                let r = op(&mut v)?;
                cell.pos.set(if v.is_defined() {
                    Some(v.to_int().max(0) as usize)
                } else {
                    None
                });
                cell.pos_empty.set(false);
                Ok(r)
            }
            Expr::Capture(_) | Expr::MatchAll | Expr::NamedCapture(_) => {
                ferr("Modification of a read-only value attempted")
            }
            _ => ferr("Can't modify non-lvalue expression"),
        }
    }

    fn assign_scalar(&mut self, lhs: &Expr, v: Value, f: &mut Frame) -> R<()> {
        let mut v = Some(v);
        self.with_lvalue(lhs, f, &mut |slot| {
            *slot = v.take().unwrap_or_default();
            Ok(())
        })
    }

    fn assign_list(&mut self, lhs: &Expr, vals: Vec<Value>, f: &mut Frame) -> R<()> {
        let mut it = vals.into_iter();
        match lhs {
            Expr::My(vars, _) => {
                for v in vars {
                    self.declare(f, v);
                    match v {
                        MyVar::Scalar(s) => f.scalar(*s).set(it.next().unwrap_or_default()),
                        MyVar::Array(s) => *f.array(*s).borrow_mut() = it.by_ref().collect(),
                        MyVar::Hash(s) => fill_hash(&f.hash(*s), it.by_ref()),
                        MyVar::Skip => {
                            it.next();
                        }
                    }
                }
            }
            Expr::List(items) => {
                for t in items {
                    self.assign_one(t, &mut it, f)?;
                }
            }
            other => self.assign_one(other, &mut it, f)?,
        }
        Ok(())
    }

    fn assign_one(&mut self, t: &Expr, it: &mut std::vec::IntoIter<Value>, f: &mut Frame) -> R<()> {
        match t {
            Expr::Arr(a) => {
                let arr = self.get_array(a, f, true)?.unwrap_or_default();
                *arr.borrow_mut() = it.by_ref().collect();
            }
            Expr::Hash(h) => {
                let hash = self.get_hash(h, f, true)?.unwrap_or_default();
                fill_hash(&hash, it.by_ref());
            }
            Expr::My(..) => {
                let rest: Vec<Value> = it.by_ref().collect();
                let n = my_count(t);
                let (head, tail) = if n == usize::MAX || n >= rest.len() {
                    (rest, Vec::new())
                } else {
                    let mut r = rest;
                    let tail = r.split_off(n);
                    (r, tail)
                };
                self.assign_list(t, head, f)?;
                *it = tail.into_iter();
            }
            Expr::Const(Value::Undef) | Expr::Builtin(Bi::Undef, _) => {
                it.next();
            }
            Expr::SliceA(t, keys) => {
                let mut idx = Vec::new();
                self.list(keys, f, &mut idx)?;
                let arr = self.get_array(t, f, true)?.unwrap_or_default();
                for k in idx {
                    let v = it.next().unwrap_or_default();
                    let mut a = arr.borrow_mut();
                    let Some(p) = norm_index(k.to_int(), a.len()) else {
                        return ferr("Modification of non-creatable array value attempted");
                    };
                    if p >= a.len() {
                        if p > MAX_LIST {
                            return ferr("Out of memory during array extend");
                        }
                        a.resize(p + 1, Value::Undef);
                    }
                    a[p] = v;
                }
            }
            Expr::SliceH(t, keys) => {
                let mut ks = Vec::new();
                self.list(keys, f, &mut ks)?;
                let h = self.get_hash(t, f, true)?.unwrap_or_default();
                let mut hb = h.borrow_mut();
                for k in ks {
                    hb.insert(k.to_string_perl(), it.next().unwrap_or_default());
                }
            }
            other => self.assign_scalar(other, it.next().unwrap_or_default(), f)?,
        }
        Ok(())
    }

    // ------------------------------------------------------------ scalar context
    /// Scalar-context evaluation. The common, recursive cases are handled here with a small
    /// stack frame; everything else goes to [`Interp::scalar_slow`].
    pub(crate) fn scalar(&mut self, e: &Expr, f: &mut Frame) -> R<Value> {
        self.stack_check()?;
        match e {
            Expr::Const(v) => Ok(v.clone()),
            Expr::Lex(s) => Ok(match f.slots.get(*s) {
                Some(Slot::S(c)) => c.get(),
                _ => Value::Undef,
            }),
            Expr::Global(c) => Ok(c.get()),
            Expr::Bin(op, a, b) => {
                let av = self.scalar(a, f)?;
                let bv = self.scalar(b, f)?;
                Ok(binop(*op, &av, &bv)?)
            }
            Expr::Log(op, a, b) => {
                let av = self.scalar(a, f)?;
                let take_b = match op {
                    LogOp::And => av.truthy(),
                    LogOp::Or => !av.truthy(),
                    LogOp::Dor => !av.is_defined(),
                };
                if take_b {
                    self.scalar(b, f)
                } else {
                    Ok(av)
                }
            }
            Expr::Not(a) => Ok(Value::bool(!self.scalar(a, f)?.truthy())),
            Expr::Ternary(c, a, b) => {
                if self.scalar(c, f)?.truthy() {
                    self.scalar(a, f)
                } else {
                    self.scalar(b, f)
                }
            }
            Expr::CallRef(..) | Expr::CallNamed(..) => self.call_expr(e, f, Context::Scalar),
            Expr::Return(x) => self.do_return(x.as_deref(), f),
            Expr::ElemA(..) | Expr::ElemH(..) => self.elem(e, f),
            _ => self.scalar_slow(e, f),
        }
    }

    #[inline(never)]
    fn elem(&mut self, e: &Expr, f: &mut Frame) -> R<Value> {
        match e {
            Expr::ElemA(ArrT::Args, i) => {
                let idx = self.scalar(i, f)?.to_int();
                let a = f.args.borrow();
                Ok(norm_index(idx, a.len())
                    .and_then(|k| a.get(k).cloned())
                    .unwrap_or_default())
            }
            Expr::ElemH(t, k) => {
                let key = self.scalar(k, f)?;
                Ok(match self.elem_hash(t, f)? {
                    Some(h) => h
                        .borrow()
                        .get(&*key.to_str_cow())
                        .cloned()
                        .unwrap_or_default(),
                    None => Value::Undef,
                })
            }
            _ => self.scalar_slow(e, f),
        }
    }

    #[inline(never)]
    fn call_expr(&mut self, e: &Expr, f: &mut Frame, want: Context) -> R<Value> {
        let (fv, args) = match e {
            Expr::CallRef(fe, args) => (self.scalar(fe, f)?, args),
            Expr::CallNamed(slot, name, args) => {
                let fv = slot.borrow().clone();
                match fv {
                    Some(v) => (v, args),
                    None => return ferr(format!("Undefined subroutine &main::SEC::{name} called")),
                }
            }
            _ => return Ok(Value::Undef),
        };
        let a = self.eval_args(args, f)?;
        self.call_value(&fv, a, want)
    }

    #[inline(never)]
    fn do_return(&mut self, x: Option<&Expr>, f: &mut Frame) -> R<Value> {
        let want = f.want;
        self.ret = match x {
            Some(x) => self.ctx(x, f, want)?,
            None => Vec::new(),
        };
        Err(Flow::Return)
    }

    #[inline(never)]
    fn scalar_slow(&mut self, e: &Expr, f: &mut Frame) -> R<Value> {
        self.stack_check()?;
        Ok(match e {
            Expr::Const(v) => v.clone(),
            Expr::Interp(parts) => Value::from(self.interp(parts, f)?),
            Expr::Lex(s) => match f.slots.get(*s) {
                Some(Slot::S(c)) => c.get(),
                _ => Value::Undef,
            },
            Expr::Global(c) => c.get(),
            Expr::Capture(n) => self.capture_value(*n),
            Expr::MatchAll => self.capture_value(0),
            Expr::NamedCapture(k) => {
                let key = self.scalar(k, f)?.to_string_perl();
                let idx = self.last_match.as_ref().and_then(|m| {
                    m.re.names
                        .iter()
                        .position(|n| n.as_deref() == Some(key.as_str()))
                });
                match idx {
                    Some(i) => self.capture_value(i),
                    None => Value::Undef,
                }
            }
            Expr::Arr(t) => match self.get_array(t, f, false)? {
                Some(a) => Value::Int(a.borrow().len() as i64),
                None => Value::Int(0),
            },
            Expr::Hash(t) => match self.get_hash(t, f, false)? {
                Some(h) => Value::Int(h.borrow().len() as i64),
                None => Value::Int(0),
            },
            Expr::ElemA(t, i) => {
                let idx = self.scalar(i, f)?.to_int();
                match self.elem_array(t, f)? {
                    Some(a) => {
                        let a = a.borrow();
                        norm_index(idx, a.len())
                            .and_then(|k| a.get(k).cloned())
                            .unwrap_or_default()
                    }
                    None => Value::Undef,
                }
            }
            Expr::ElemH(t, k) => {
                let key = self.scalar(k, f)?;
                match self.elem_hash(t, f)? {
                    Some(h) => h
                        .borrow()
                        .get(&*key.to_str_cow())
                        .cloned()
                        .unwrap_or_default(),
                    None => Value::Undef,
                }
            }
            Expr::LastIdx(t) => match self.get_array(t, f, false)? {
                Some(a) => Value::Int(a.borrow().len() as i64 - 1),
                None => Value::Int(-1),
            },
            Expr::DerefScalar(inner) => match self.scalar(inner, f)? {
                Value::ScalarRef(c) => c.get(),
                Value::Undef => Value::Undef,
                _ => return ferr("Not a SCALAR reference"),
            },
            Expr::My(vars, _) => {
                for v in vars {
                    self.declare(f, v);
                }
                Value::Undef
            }
            Expr::List(items) => {
                let Some((last, init)) = items.split_last() else {
                    return Ok(Value::Undef);
                };
                for i in init {
                    self.void(i, f)?;
                }
                self.scalar(last, f)?
            }
            Expr::Slice(..) | Expr::SliceA(..) | Expr::SliceH(..) | Expr::Range(..) => {
                let mut v = Vec::new();
                if let Expr::Range(..) = e {
                    return ferr("Range (flip-flop) in scalar context is not supported");
                }
                self.list(e, f, &mut v)?;
                v.pop().unwrap_or_default()
            }
            Expr::AnonArray(inner) => {
                let mut v = Vec::new();
                if let Some(i) = inner {
                    self.list(i, f, &mut v)?;
                }
                Value::array_ref(v)
            }
            Expr::AnonHash(inner) => {
                let mut v = Vec::new();
                if let Some(i) = inner {
                    self.list(i, f, &mut v)?;
                }
                let h = HashRc::default();
                fill_hash(&h, v.into_iter());
                Value::HashRef(h)
            }
            Expr::AnonSub(def) => {
                let caps = def
                    .captures
                    .iter()
                    .map(|(o, _)| self.capture(f, *o))
                    .collect();
                Value::CodeRef(Rc::new(CodeRef {
                    def: def.clone(),
                    captures: caps,
                }))
            }
            Expr::RefOf(inner) => self.ref_of(inner, f)?,
            Expr::Assign(l, r) => {
                let v = self.scalar(r, f)?;
                self.assign_scalar(l, v.clone(), f)?;
                v
            }
            Expr::ListAssign(l, r) => {
                let mut vals = Vec::new();
                self.list(r, f, &mut vals)?;
                let n = vals.len();
                self.assign_list(l, vals, f)?;
                Value::Int(n as i64)
            }
            Expr::OpAssign(op, l, r) => {
                let rv = self.scalar(r, f)?;
                let op = *op;
                self.with_lvalue(l, f, &mut |slot| {
                    if op == BinOp::Concat {
                        let mut s = std::mem::take(slot).to_string_perl();
                        s.push_str(&rv.to_str_cow());
                        *slot = Value::from(s);
                    } else {
                        *slot = binop(op, slot, &rv)?;
                    }
                    Ok(slot.clone())
                })?
            }
            Expr::LogAssign(op, l, r) => {
                let cur = self.scalar(l, f)?;
                let need = match op {
                    LogOp::And => cur.truthy(),
                    LogOp::Or => !cur.truthy(),
                    LogOp::Dor => !cur.is_defined(),
                };
                if need {
                    let v = self.scalar(r, f)?;
                    self.assign_scalar(l, v.clone(), f)?;
                    v
                } else {
                    cur
                }
            }
            Expr::Bin(op, a, b) => {
                let av = self.scalar(a, f)?;
                let bv = self.scalar(b, f)?;
                binop(*op, &av, &bv)?
            }
            Expr::Log(op, a, b) => {
                let av = self.scalar(a, f)?;
                let take_b = match op {
                    LogOp::And => av.truthy(),
                    LogOp::Or => !av.truthy(),
                    LogOp::Dor => !av.is_defined(),
                };
                if take_b {
                    self.scalar(b, f)?
                } else {
                    av
                }
            }
            Expr::Not(a) => Value::bool(!self.scalar(a, f)?.truthy()),
            Expr::Neg(a) => neg(&self.scalar(a, f)?),
            Expr::BitNot(a) => uv(!to_uv(&self.scalar(a, f)?)),
            Expr::Ternary(c, a, b) => {
                if self.scalar(c, f)?.truthy() {
                    self.scalar(a, f)?
                } else {
                    self.scalar(b, f)?
                }
            }
            Expr::IncDec(inc, prefix, target) => {
                let (inc, prefix) = (*inc, *prefix);
                self.with_lvalue(target, f, &mut |slot| {
                    let old = std::mem::take(slot);
                    let new = incdec_value(&old, inc);
                    *slot = new.clone();
                    Ok(if prefix {
                        new
                    } else if old.is_defined() {
                        old
                    } else if inc {
                        Value::Int(0)
                    } else {
                        Value::Undef
                    })
                })?
            }
            Expr::Match(t, src, flags, negate) => {
                let mut out = Vec::new();
                let r =
                    self.do_match(t.as_deref(), e, src, *flags, f, Context::Scalar, &mut out)?;
                Value::bool(r != *negate)
            }
            Expr::Subst(t, src, repl, flags) => {
                self.do_subst(t.as_deref(), src, repl, *flags, f)?
            }
            Expr::Trans(t, from, to, flags) => self.do_trans(t.as_deref(), from, to, flags, f)?,
            Expr::CallRef(fe, args) => {
                let fv = self.scalar(fe, f)?;
                let a = self.eval_args(args, f)?;
                self.call_value(&fv, a, Context::Scalar)?
            }
            Expr::CallNamed(slot, name, args) => {
                let fv = slot.borrow().clone();
                let Some(fv) = fv else {
                    return ferr(format!("Undefined subroutine &main::SEC::{name} called"));
                };
                let a = self.eval_args(args, f)?;
                self.call_value(&fv, a, Context::Scalar)?
            }
            Expr::Builtin(bi, args) => {
                let mut out = Vec::new();
                self.builtin(*bi, args, f, Context::Scalar, &mut out)?;
                out.pop().unwrap_or_default()
            }
            Expr::Split(..) | Expr::MapGrep(..) | Expr::Sort(..) => {
                let mut v = Vec::new();
                self.list(e, f, &mut v)?;
                Value::Int(v.len() as i64)
            }
            Expr::Print(is_printf, args) => {
                let vals = self.eval_args(args, f)?;
                let text = if *is_printf {
                    let (fmt, rest) = match vals.split_first() {
                        Some((a, b)) => (a.to_string_perl(), b),
                        None => (String::new(), &[][..]),
                    };
                    builtins::sprintf(&fmt, rest)
                } else {
                    let mut s = String::new();
                    for v in &vals {
                        s.push_str(&v.to_str_cow());
                    }
                    s
                };
                match self.out.write_all(text.as_bytes()) {
                    Ok(()) => Value::Int(1),
                    Err(_) => Value::Int(0),
                }
            }
            Expr::Return(x) => {
                let want = f.want;
                self.ret = match x {
                    Some(x) => self.ctx(x, f, want)?,
                    None => Vec::new(),
                };
                return Err(Flow::Return);
            }
            Expr::LoopCtl(last) => return Err(if *last { Flow::Last } else { Flow::Next }),
            Expr::DoBlock(b) => self
                .exec_body(b, f, Context::Scalar)?
                .pop()
                .unwrap_or_default(),
            Expr::EvalBlock(b) => {
                let mut v = self.eval_block(b, f, Context::Scalar)?;
                v.pop().unwrap_or_default()
            }
        })
    }

    fn eval_block(&mut self, b: &[Stmt], f: &mut Frame, want: Context) -> R<Vec<Value>> {
        let err = self.eval_error.clone();
        match self.exec_body(b, f, want) {
            Ok(v) => {
                err.set(Value::str(""));
                Ok(v)
            }
            Err(Flow::Err(e)) if !matches!(e.kind, ErrorKind::Exit(_)) => {
                err.set(Value::from(e.message));
                Ok(if want == Context::Scalar {
                    vec![Value::Undef]
                } else {
                    Vec::new()
                })
            }
            Err(other) => Err(other),
        }
    }

    fn ref_of(&mut self, inner: &Expr, f: &mut Frame) -> R<Value> {
        Ok(match inner {
            Expr::Lex(s) => Value::ScalarRef(f.scalar(*s)),
            Expr::Global(c) => Value::ScalarRef(c.clone()),
            Expr::Arr(t) => Value::ArrayRef(self.get_array(t, f, true)?.unwrap_or_default()),
            Expr::Hash(t) => Value::HashRef(self.get_hash(t, f, true)?.unwrap_or_default()),
            Expr::My(vars, _) if vars.len() == 1 => {
                self.declare(f, &vars[0]);
                match vars[0] {
                    MyVar::Scalar(s) => Value::ScalarRef(f.scalar(s)),
                    MyVar::Array(s) => Value::ArrayRef(f.array(s)),
                    MyVar::Hash(s) => Value::HashRef(f.hash(s)),
                    MyVar::Skip => Value::Undef,
                }
            }
            Expr::CallNamed(slot, name, args) if args.is_empty() => match slot.borrow().clone() {
                Some(v) => v,
                None => return ferr(format!("Undefined subroutine &main::SEC::{name}")),
            },
            other => Value::ScalarRef(ScalarCell::new(self.scalar(other, f)?)),
        })
    }

    fn capture_value(&self, n: usize) -> Value {
        match &self.last_match {
            Some(m) => match m.groups.get(n).copied().flatten() {
                Some((a, b)) => Value::str(m.subject.get(a..b).unwrap_or("")),
                None => Value::Undef,
            },
            None => Value::Undef,
        }
    }

    fn interp(&mut self, parts: &[Part], f: &mut Frame) -> R<String> {
        let mut s = String::new();
        for p in parts {
            match p {
                Part::Lit(l) => s.push_str(l),
                Part::Scalar(e) => {
                    let v = self.scalar(e, f)?;
                    s.push_str(&v.to_str_cow());
                }
                Part::List(e) => {
                    let mut v = Vec::new();
                    self.list(e, f, &mut v)?;
                    for (i, x) in v.iter().enumerate() {
                        if i > 0 {
                            s.push(' ');
                        }
                        s.push_str(&x.to_str_cow());
                    }
                }
            }
        }
        Ok(s)
    }

    // ------------------------------------------------------------ list context
    pub(crate) fn list(&mut self, e: &Expr, f: &mut Frame, out: &mut Vec<Value>) -> R<()> {
        self.stack_check()?;
        match e {
            Expr::List(items) => {
                for i in items {
                    self.list(i, f, out)?;
                }
                Ok(())
            }
            Expr::Ternary(c, a, b) => {
                if self.scalar(c, f)?.truthy() {
                    self.list(a, f, out)
                } else {
                    self.list(b, f, out)
                }
            }
            Expr::CallRef(..) | Expr::CallNamed(..) => self.call_list_expr(e, f, out),
            Expr::Const(_) | Expr::Lex(_) | Expr::Global(_) | Expr::Log(..) | Expr::Not(_) => {
                out.push(self.scalar(e, f)?);
                Ok(())
            }
            Expr::Return(x) => self.do_return(x.as_deref(), f).map(|_| ()),
            _ => self.list_slow(e, f, out),
        }
    }

    #[inline(never)]
    fn call_list_expr(&mut self, e: &Expr, f: &mut Frame, out: &mut Vec<Value>) -> R<()> {
        let (fv, args) = match e {
            Expr::CallRef(fe, args) => (self.scalar(fe, f)?, args),
            Expr::CallNamed(slot, name, args) => {
                let fv = slot.borrow().clone();
                match fv {
                    Some(v) => (v, args),
                    None => return ferr(format!("Undefined subroutine &main::SEC::{name} called")),
                }
            }
            _ => return Ok(()),
        };
        let a = self.eval_args(args, f)?;
        out.extend(self.call_list(&fv, a, Context::List)?);
        Ok(())
    }

    #[inline(never)]
    fn list_slow(&mut self, e: &Expr, f: &mut Frame, out: &mut Vec<Value>) -> R<()> {
        match e {
            Expr::SliceA(t, keys) => {
                let mut idx = Vec::new();
                self.list(keys, f, &mut idx)?;
                let a = self.elem_array(t, f)?;
                for k in idx {
                    out.push(match &a {
                        Some(a) => {
                            let a = a.borrow();
                            norm_index(k.to_int(), a.len())
                                .and_then(|p| a.get(p).cloned())
                                .unwrap_or_default()
                        }
                        None => Value::Undef,
                    });
                }
            }
            Expr::SliceH(t, keys) => {
                let mut ks = Vec::new();
                self.list(keys, f, &mut ks)?;
                let h = self.elem_hash(t, f)?;
                for k in ks {
                    out.push(match &h {
                        Some(h) => h
                            .borrow()
                            .get(&*k.to_str_cow())
                            .cloned()
                            .unwrap_or_default(),
                        None => Value::Undef,
                    });
                }
            }
            Expr::List(items) => {
                for i in items {
                    self.list(i, f, out)?;
                }
            }
            Expr::Arr(t) => {
                if let Some(a) = self.get_array(t, f, false)? {
                    out.extend(a.borrow().iter().cloned());
                }
            }
            Expr::Hash(t) => {
                if let Some(h) = self.get_hash(t, f, false)? {
                    for (k, v) in h.borrow().iter() {
                        out.push(Value::str(k));
                        out.push(v.clone());
                    }
                }
            }
            Expr::My(vars, _) => {
                for v in vars {
                    self.declare(f, v);
                    if let MyVar::Scalar(_) = v {
                        out.push(Value::Undef);
                    }
                }
            }
            Expr::ListAssign(l, r) => {
                let mut vals = Vec::new();
                self.list(r, f, &mut vals)?;
                out.extend(vals.iter().cloned());
                self.assign_list(l, vals, f)?;
            }
            Expr::Slice(l, i) => {
                let mut items = Vec::new();
                self.list(l, f, &mut items)?;
                let mut idx = Vec::new();
                self.list(i, f, &mut idx)?;
                for k in idx {
                    let n = k.to_int();
                    out.push(
                        norm_index(n, items.len())
                            .and_then(|p| items.get(p).cloned())
                            .unwrap_or_default(),
                    );
                }
            }
            Expr::Range(a, b) => {
                let av = self.scalar(a, f)?;
                let bv = self.scalar(b, f)?;
                range(&av, &bv, out)?;
            }
            Expr::Ternary(c, a, b) => {
                if self.scalar(c, f)?.truthy() {
                    self.list(a, f, out)?
                } else {
                    self.list(b, f, out)?
                }
            }
            Expr::Match(t, src, flags, negate) => {
                if *negate {
                    let v = self.scalar(e, f)?;
                    out.push(v);
                } else {
                    let mut caps = Vec::new();
                    let ok =
                        self.do_match(t.as_deref(), e, src, *flags, f, Context::List, &mut caps)?;
                    if ok {
                        out.extend(caps);
                    }
                }
            }
            Expr::CallRef(fe, args) => {
                let fv = self.scalar(fe, f)?;
                let a = self.eval_args(args, f)?;
                out.extend(self.call_list(&fv, a, Context::List)?);
            }
            Expr::CallNamed(slot, name, args) => {
                let fv = slot.borrow().clone();
                let Some(fv) = fv else {
                    return ferr(format!("Undefined subroutine &main::SEC::{name} called"));
                };
                let a = self.eval_args(args, f)?;
                out.extend(self.call_list(&fv, a, Context::List)?);
            }
            Expr::Builtin(bi, args) => self.builtin(*bi, args, f, Context::List, out)?,
            Expr::Split(re, s, limit) => {
                self.split(re.as_ref(), s.as_deref(), limit.as_deref(), f, out)?
            }
            Expr::Sort(block, list) => {
                let mut items = Vec::new();
                self.list(list, f, &mut items)?;
                let sorted = self.sort(block.as_deref(), items, f)?;
                out.extend(sorted);
            }
            Expr::MapGrep(is_grep, block, list) => {
                let mut items = Vec::new();
                self.list(list, f, &mut items)?;
                let topic = self.topic.clone();
                let saved = topic.get();
                let mut res = Ok(());
                for item in items {
                    topic.set(item.clone());
                    if *is_grep {
                        match self.exec_body(block, f, Context::Scalar) {
                            Ok(v) => {
                                if v.last().is_some_and(Value::truthy) {
                                    out.push(item);
                                }
                            }
                            Err(e) => {
                                res = Err(e);
                                break;
                            }
                        }
                    } else {
                        match self.exec_body(block, f, Context::List) {
                            Ok(v) => out.extend(v),
                            Err(e) => {
                                res = Err(e);
                                break;
                            }
                        }
                    }
                }
                topic.set(saved);
                res?;
            }
            Expr::Bin(BinOp::Repeat, a, n) if matches!(**a, Expr::List(_)) => {
                let mut items = Vec::new();
                self.list(a, f, &mut items)?;
                let n = self.scalar(n, f)?.to_int().max(0) as usize;
                if n.saturating_mul(items.len()) > MAX_LIST {
                    return ferr("Out of memory in list repetition");
                }
                for _ in 0..n {
                    out.extend(items.iter().cloned());
                }
            }
            Expr::Return(_) | Expr::LoopCtl(_) => {
                self.scalar(e, f)?;
            }
            Expr::DoBlock(b) => out.extend(self.exec_body(b, f, Context::List)?),
            Expr::EvalBlock(b) => out.extend(self.eval_block(b, f, Context::List)?),
            _ => out.push(self.scalar(e, f)?),
        }
        Ok(())
    }

    // ------------------------------------------------------------ regex operators
    fn get_re(&mut self, src: &ReSrc, f: &mut Frame) -> R<Rc<Re>> {
        match src {
            ReSrc::Static(r) => Ok(r.clone()),
            ReSrc::Dynamic(parts, flags) => {
                let text = self.interp(parts, f)?;
                let key = (text, flags.clone());
                if let Some(r) = self.re_cache.get(&key) {
                    return Ok(r.clone());
                }
                let re = Rc::new(Re::new(&key.0, flags).map_err(die)?);
                if self.re_cache.len() > 1000 {
                    self.re_cache.clear();
                }
                self.re_cache.insert(key, re.clone());
                Ok(re)
            }
        }
    }

    fn target_value(&mut self, t: Option<&Expr>, f: &mut Frame) -> R<Value> {
        match t {
            Some(e) => self.scalar(e, f),
            None => Ok(self.topic.get()),
        }
    }

    fn pos_cell(&mut self, t: Option<&Expr>, f: &mut Frame) -> Option<Rc<ScalarCell>> {
        match t {
            None => Some(self.topic.clone()),
            Some(Expr::Lex(s)) => Some(f.scalar(*s)),
            Some(Expr::Global(c)) => Some(c.clone()),
            _ => None,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn do_match(
        &mut self,
        t: Option<&Expr>,
        node: &Expr,
        src: &ReSrc,
        flags: ReFlags,
        f: &mut Frame,
        want: Context,
        out: &mut Vec<Value>,
    ) -> R<bool> {
        let re = self.get_re(src, f)?;
        let v = self.target_value(t, f)?;
        let subject: Rc<str> = match &v {
            Value::Str(s) => s.clone(),
            other => Rc::from(other.to_str_cow().as_ref()),
        };
        if !flags.global {
            let Some(g) = re.find_at(&subject, 0).map_err(die)? else {
                return Ok(false);
            };
            if want == Context::List {
                if g.len() > 1 {
                    for grp in &g[1..] {
                        out.push(match grp {
                            Some((a, b)) => Value::str(subject.get(*a..*b).unwrap_or("")),
                            None => Value::Undef,
                        });
                    }
                } else {
                    out.push(Value::Int(1));
                }
            }
            self.last_match = Some(Rc::new(LastMatch {
                subject,
                groups: g,
                re: re.clone(),
            }));
            return Ok(true);
        }
        let cell = self.pos_cell(t, f);
        let node_key = node as *const Expr as usize;
        let (start, was_empty) = match &cell {
            Some(c) => (c.pos.get(), c.pos_empty.get()),
            None => self
                .pos_other
                .get(&node_key)
                .map_or((None, false), |&(p, e)| (Some(p), e)),
        };
        let set_pos = |me: &mut Interp, p: Option<(usize, bool)>| match &cell {
            Some(c) => {
                c.pos.set(p.map(|x| x.0));
                c.pos_empty.set(p.is_some_and(|x| x.1));
            }
            None => {
                match p {
                    Some(x) => me.pos_other.insert(node_key, x),
                    None => me.pos_other.remove(&node_key),
                };
            }
        };
        // Perl's rule for repeated matches: an empty match may not occur where the
        // previous match ended if that one was empty too.
        let mut from = start.unwrap_or(0);
        let mut prev_end = start;
        let mut prev_empty = was_empty;
        let mut any = false;
        let mut last = None;
        while let Some(g) = re.find_at(&subject, from).map_err(die)? {
            let (ms, me) = g[0].unwrap_or((from, from));
            if ms == me && prev_end == Some(ms) && prev_empty {
                if re.anchored_g {
                    break;
                }
                from = next_char(&subject, ms);
                if from > subject.len() {
                    break;
                }
                continue;
            }
            any = true;
            prev_end = Some(me);
            prev_empty = ms == me;
            from = me;
            if want == Context::List {
                if g.len() > 1 {
                    for grp in &g[1..] {
                        out.push(match grp {
                            Some((a, b)) => Value::str(subject.get(*a..*b).unwrap_or("")),
                            None => Value::Undef,
                        });
                    }
                } else {
                    out.push(Value::str(subject.get(ms..me).unwrap_or("")));
                }
                last = Some(g);
            } else {
                last = Some(g);
                break;
            }
        }
        if want == Context::List || !any {
            set_pos(self, None);
        } else {
            set_pos(self, prev_end.map(|p| (p, prev_empty)));
        }
        if let Some(g) = last {
            self.last_match = Some(Rc::new(LastMatch {
                subject,
                groups: g,
                re: re.clone(),
            }));
        }
        Ok(any)
    }

    fn do_subst(
        &mut self,
        t: Option<&Expr>,
        src: &ReSrc,
        repl: &Expr,
        flags: ReFlags,
        f: &mut Frame,
    ) -> R<Value> {
        let re = self.get_re(src, f)?;
        let assigned;
        let t = match t {
            Some(a @ Expr::Assign(l, _)) => {
                self.scalar(a, f)?;
                assigned = simple_lvalue(l);
                match &assigned {
                    Some(x) => Some(x),
                    None => return ferr("Can't modify this assignment in substitution"),
                }
            }
            other => other,
        };
        let v = self.target_value(t, f)?;
        let subject: Rc<str> = Rc::from(v.to_str_cow().as_ref());
        let mut out = String::new();
        let mut pos = 0;
        let mut copied = 0;
        let mut count = 0i64;
        while pos <= subject.len() {
            let Some(g) = re.find_at(&subject, pos).map_err(die)? else {
                break;
            };
            let (ms, me) = g[0].unwrap_or((pos, pos));
            self.last_match = Some(Rc::new(LastMatch {
                subject: subject.clone(),
                groups: g,
                re: re.clone(),
            }));
            let r = self.scalar(repl, f)?;
            out.push_str(subject.get(copied..ms).unwrap_or(""));
            out.push_str(&r.to_str_cow());
            copied = me;
            count += 1;
            if !flags.global {
                break;
            }
            pos = if me == ms {
                if me < subject.len() {
                    let np = next_char(&subject, me);
                    out.push_str(subject.get(me..np).unwrap_or(""));
                    copied = np;
                    np
                } else {
                    break;
                }
            } else {
                me
            };
        }
        if count == 0 {
            return Ok(if flags.ret { v } else { Value::bool(false) });
        }
        out.push_str(subject.get(copied..).unwrap_or(""));
        if flags.ret {
            return Ok(Value::from(out));
        }
        match t {
            Some(e) => self.assign_scalar(e, Value::from(out), f)?,
            None => self.topic.set(Value::from(out)),
        }
        Ok(Value::Int(count))
    }

    fn do_trans(
        &mut self,
        t: Option<&Expr>,
        from: &[char],
        to: &[char],
        flags: &str,
        f: &mut Frame,
    ) -> R<Value> {
        let assigned;
        let t = match t {
            Some(a @ Expr::Assign(l, _)) => {
                self.scalar(a, f)?;
                assigned = simple_lvalue(l);
                match &assigned {
                    Some(x) => Some(x),
                    None => return ferr("Can't modify this assignment in transliteration"),
                }
            }
            other => other,
        };
        let v = self.target_value(t, f)?;
        let s = v.to_string_perl();
        let delete = flags.contains('d');
        let ret = flags.contains('r');
        let to: Vec<char> = if to.is_empty() && !delete {
            from.to_vec()
        } else {
            to.to_vec()
        };
        let squeeze = flags.contains('s');
        let mut count = 0;
        let mut out = String::with_capacity(s.len());
        let mut last_tr: Option<char> = None;
        for c in s.chars() {
            match from.iter().position(|&x| x == c) {
                Some(i) => {
                    count += 1;
                    let r = match to.get(i) {
                        Some(&r) => Some(r),
                        None if delete => None,
                        None => Some(*to.last().unwrap_or(&c)),
                    };
                    if let Some(r) = r {
                        if !(squeeze && last_tr == Some(r)) {
                            out.push(r);
                        }
                        last_tr = Some(r);
                    }
                }
                None => {
                    out.push(c);
                    last_tr = None;
                }
            }
        }
        if ret {
            return Ok(Value::from(out));
        }
        if out != s {
            match t {
                Some(e) => self.assign_scalar(e, Value::from(out), f)?,
                None => self.topic.set(Value::from(out)),
            }
        }
        Ok(Value::Int(count))
    }

    fn split(
        &mut self,
        re: Option<&ReSrc>,
        s: Option<&Expr>,
        limit: Option<&Expr>,
        f: &mut Frame,
        out: &mut Vec<Value>,
    ) -> R<()> {
        let awk = re.is_none();
        let re = match re {
            Some(r) => self.get_re(r, f)?,
            None => match &self.awk_re {
                Some(r) => r.clone(),
                None => {
                    let r = Rc::new(Re::new("\\s+", "").map_err(die)?);
                    self.awk_re = Some(r.clone());
                    r
                }
            },
        };
        let sv = self.target_value(s, f)?;
        let subject = sv.to_string_perl();
        let limit = match limit {
            Some(l) => self.scalar(l, f)?.to_int(),
            None => 0,
        };
        let text = if awk {
            subject.trim_start_matches([' ', '\t', '\n', '\r', '\x0c'])
        } else {
            subject.as_str()
        };
        if text.is_empty() {
            return Ok(());
        }
        let start = out.len();
        let mut fields = 0i64;
        let mut field_start = 0usize;
        while field_start < text.len() {
            if limit > 0 && fields + 1 >= limit {
                break;
            }
            // a match must not be empty at the start of the current field
            let mut from = field_start;
            let g = loop {
                match re.find_at(text, from).map_err(die)? {
                    Some(g) => {
                        let (ms, me) = g[0].unwrap_or((from, from));
                        if ms == me && ms == field_start {
                            from = next_char(text, from);
                            if from >= text.len() {
                                break None;
                            }
                            continue;
                        }
                        break Some(g);
                    }
                    None => break None,
                }
            };
            let Some(g) = g else { break };
            let (ms, me) = g[0].unwrap_or((from, from));
            if ms == me && ms >= text.len() {
                break;
            }
            out.push(Value::str(&text[field_start..ms]));
            fields += 1;
            for grp in g.iter().skip(1) {
                out.push(grp.map_or(Value::Undef, |(a, b)| Value::str(&text[a..b])));
            }
            field_start = me;
        }
        out.push(Value::str(&text[field_start.min(text.len())..]));
        if limit == 0 {
            while out.len() > start && out.last().is_some_and(|v| v.to_str_cow().is_empty()) {
                out.pop();
            }
        }
        Ok(())
    }

    // ------------------------------------------------------------ sort
    fn sort(&mut self, block: Option<&[Stmt]>, items: Vec<Value>, f: &mut Frame) -> R<Vec<Value>> {
        let Some(block) = block else {
            let mut keyed: Vec<(String, Value)> =
                items.into_iter().map(|v| (v.to_string_perl(), v)).collect();
            keyed.sort_by(|a, b| a.0.cmp(&b.0));
            return Ok(keyed.into_iter().map(|(_, v)| v).collect());
        };
        let (ca, cb) = (self.sort_a.clone(), self.sort_b.clone());
        let saved = (ca.get(), cb.get());
        let mut err = None;
        let mut cmp = |me: &mut Interp, x: &Value, y: &Value| -> bool {
            if err.is_some() {
                return false;
            }
            ca.set(x.clone());
            cb.set(y.clone());
            match me.exec_body(block, f, Context::Scalar) {
                Ok(v) => v.last().map(|r| r.to_num() > 0.0).unwrap_or(false),
                Err(e) => {
                    err = Some(e);
                    false
                }
            }
        };
        let sorted = merge_sort(self, items, &mut cmp);
        ca.set(saved.0);
        cb.set(saved.1);
        if let Some(e) = err {
            return Err(e);
        }
        Ok(sorted)
    }

    // ------------------------------------------------------------ builtins
    fn builtin(
        &mut self,
        bi: Bi,
        args: &[Expr],
        f: &mut Frame,
        want: Context,
        out: &mut Vec<Value>,
    ) -> R<()> {
        let arg0 = args.first();
        macro_rules! s0 {
            () => {
                match arg0 {
                    Some(a) => self.scalar(a, f)?,
                    None => self.topic.get(),
                }
            };
        }
        let v: Value = match bi {
            Bi::Defined => match arg0 {
                Some(Expr::ElemH(t, k)) => {
                    let key = self.scalar(k, f)?.to_string_perl();
                    let h = self.elem_hash(t, f)?;
                    Value::bool(
                        h.is_some_and(|h| h.borrow().get(&key).is_some_and(Value::is_defined)),
                    )
                }
                Some(Expr::Arr(t)) => Value::bool(
                    self.get_array(t, f, false)?
                        .is_some_and(|a| !a.borrow().is_empty()),
                ),
                Some(Expr::CallNamed(slot, _, a)) if a.is_empty() => {
                    Value::bool(slot.borrow().is_some())
                }
                Some(a) => Value::bool(self.scalar(a, f)?.is_defined()),
                None => Value::bool(self.topic.get().is_defined()),
            },
            Bi::Undef => {
                match arg0 {
                    Some(Expr::Arr(t)) => {
                        if let Some(a) = self.get_array(t, f, true)? {
                            a.borrow_mut().clear();
                        }
                    }
                    Some(Expr::Hash(t)) => {
                        if let Some(h) = self.get_hash(t, f, true)? {
                            h.borrow_mut().clear();
                        }
                    }
                    Some(e) => self.assign_scalar(e, Value::Undef, f)?,
                    None => {}
                }
                Value::Undef
            }
            Bi::Exists => match arg0 {
                Some(Expr::ElemH(t, k)) => {
                    let key = self.scalar(k, f)?.to_string_perl();
                    let h = self.elem_hash(t, f)?;
                    Value::bool(h.is_some_and(|h| h.borrow().contains_key(&key)))
                }
                Some(Expr::ElemA(t, i)) => {
                    let idx = self.scalar(i, f)?.to_int();
                    let a = self.elem_array(t, f)?;
                    Value::bool(a.is_some_and(|a| {
                        let l = a.borrow().len();
                        norm_index(idx, l).is_some_and(|k| k < l)
                    }))
                }
                _ => return ferr("exists argument is not a HASH or ARRAY element"),
            },
            Bi::Delete => match arg0 {
                Some(Expr::ElemH(t, k)) => {
                    let key = self.scalar(k, f)?.to_string_perl();
                    match self.elem_hash(t, f)? {
                        Some(h) => h.borrow_mut().remove(&key).unwrap_or_default(),
                        None => Value::Undef,
                    }
                }
                Some(Expr::ElemA(t, i)) => {
                    let idx = self.scalar(i, f)?.to_int();
                    match self.elem_array(t, f)? {
                        Some(a) => {
                            let mut a = a.borrow_mut();
                            let l = a.len();
                            match norm_index(idx, l).filter(|k| *k < l) {
                                Some(k) => {
                                    let v = std::mem::take(&mut a[k]);
                                    if k + 1 == l {
                                        a.pop();
                                    }
                                    v
                                }
                                None => Value::Undef,
                            }
                        }
                        None => Value::Undef,
                    }
                }
                _ => return ferr("delete argument is not a HASH or ARRAY element"),
            },
            Bi::Scalar => s0!(),
            Bi::Keys | Bi::Values | Bi::Each => {
                let mut pairs: Vec<(Value, Value)> = Vec::new();
                let mut id = 0usize;
                match arg0 {
                    Some(Expr::Hash(t)) => {
                        if let Some(h) = self.get_hash(t, f, true)? {
                            id = Rc::as_ptr(&h) as usize;
                            if want == Context::Scalar && bi != Bi::Each {
                                self.each_state.remove(&id);
                                out.push(Value::Int(h.borrow().len() as i64));
                                return Ok(());
                            }
                            pairs = h
                                .borrow()
                                .iter()
                                .map(|(k, v)| (Value::str(k), v.clone()))
                                .collect();
                        }
                    }
                    Some(Expr::Arr(t)) => {
                        if let Some(a) = self.get_array(t, f, true)? {
                            id = Rc::as_ptr(&a) as usize;
                            pairs = a
                                .borrow()
                                .iter()
                                .enumerate()
                                .map(|(i, v)| (Value::Int(i as i64), v.clone()))
                                .collect();
                        }
                    }
                    _ => return ferr("keys/values/each need a hash or array"),
                }
                if bi == Bi::Each {
                    let st = self.each_state.entry(id).or_insert(0);
                    let i = *st;
                    *st += 1;
                    match pairs.into_iter().nth(i) {
                        Some((k, v)) => {
                            out.push(k);
                            if want == Context::List {
                                out.push(v);
                            }
                        }
                        None => {
                            self.each_state.remove(&id);
                        }
                    }
                    return Ok(());
                }
                self.each_state.remove(&id);
                if want == Context::Scalar {
                    Value::Int(pairs.len() as i64)
                } else {
                    for (k, v) in pairs {
                        out.push(if bi == Bi::Keys { k } else { v });
                    }
                    return Ok(());
                }
            }
            Bi::Reverse => {
                let mut items = self.eval_args(args, f)?;
                if want == Context::List {
                    items.reverse();
                    out.extend(items);
                    return Ok(());
                }
                let s: String = if args.is_empty() {
                    self.topic.get().to_string_perl()
                } else {
                    items.iter().map(|v| v.to_string_perl()).collect()
                };
                Value::from(s.chars().rev().collect::<String>())
            }
            Bi::Push | Bi::Unshift => {
                let Some(Expr::Arr(t)) = arg0 else {
                    return ferr("push needs an array");
                };
                let vals = self.eval_args(&args[1..], f)?;
                let a = self.get_array(t, f, true)?.unwrap_or_default();
                let mut a = a.borrow_mut();
                if bi == Bi::Push {
                    a.extend(vals);
                } else {
                    a.splice(0..0, vals);
                }
                Value::Int(a.len() as i64)
            }
            Bi::Pop | Bi::Shift => {
                let Some(Expr::Arr(t)) = arg0 else {
                    return ferr("pop needs an array");
                };
                match self.get_array(t, f, true)? {
                    Some(a) => {
                        let mut a = a.borrow_mut();
                        if bi == Bi::Pop {
                            a.pop().unwrap_or_default()
                        } else if a.is_empty() {
                            Value::Undef
                        } else {
                            a.remove(0)
                        }
                    }
                    None => Value::Undef,
                }
            }
            Bi::Splice => {
                let Some(Expr::Arr(t)) = arg0 else {
                    return ferr("splice needs an array");
                };
                let off = match args.get(1) {
                    Some(e) => Some(self.scalar(e, f)?.to_int()),
                    None => None,
                };
                let len = match args.get(2) {
                    Some(e) => Some(self.scalar(e, f)?.to_int()),
                    None => None,
                };
                let repl = if args.len() > 3 {
                    self.eval_args(&args[3..], f)?
                } else {
                    Vec::new()
                };
                let a = self.get_array(t, f, true)?.unwrap_or_default();
                let mut a = a.borrow_mut();
                let l = a.len();
                let s = norm_index(off.unwrap_or(0), l).unwrap_or(0).min(l);
                let e = match len {
                    None => l,
                    Some(n) if n < 0 => ((l as i64 + n).max(s as i64)) as usize,
                    Some(n) => (s + n as usize).min(l),
                };
                let removed: Vec<Value> = a.splice(s..e, repl).collect();
                if want == Context::List {
                    out.extend(removed);
                    return Ok(());
                }
                removed.into_iter().last().unwrap_or_default()
            }
            Bi::Time => Value::Int(crate::perl::now()),
            Bi::Localtime | Bi::Gmtime => {
                let t = match arg0 {
                    Some(a) => self.scalar(a, f)?.to_int(),
                    None => crate::perl::now(),
                };
                if want == Context::List {
                    out.extend(builtins::time_list(t, bi == Bi::Gmtime));
                    return Ok(());
                }
                Value::from(builtins::time_string(t, bi == Bi::Gmtime))
            }
            Bi::Int => match s0!().to_number() {
                Num::I(i) => Value::Int(i),
                Num::F(x) => {
                    let t = x.trunc();
                    if t.is_finite() && t.abs() < 9.2e18 {
                        Value::Int(t as i64)
                    } else {
                        Value::Num(t)
                    }
                }
            },
            Bi::Abs => match s0!().to_number() {
                Num::I(i) => i
                    .checked_abs()
                    .map_or(Value::Num((i as f64).abs()), Value::Int),
                Num::F(x) => Value::Num(x.abs()),
            },
            Bi::Sqrt => {
                let x = s0!().to_num();
                if x < 0.0 {
                    return ferr(format!("Can't take sqrt of {}", format_num(x)));
                }
                Value::Num(x.sqrt())
            }
            Bi::Log => {
                let x = s0!().to_num();
                if x <= 0.0 {
                    return ferr(format!("Can't take log of {}", format_num(x)));
                }
                Value::Num(x.ln())
            }
            Bi::Exp => Value::Num(s0!().to_num().exp()),
            Bi::Sin => Value::Num(s0!().to_num().sin()),
            Bi::Cos => Value::Num(s0!().to_num().cos()),
            Bi::Atan2 => {
                let v = self.eval_args(args, f)?;
                let y = v.first().map_or(0.0, Value::to_num);
                let x = v.get(1).map_or(0.0, Value::to_num);
                Value::Num(y.atan2(x))
            }
            Bi::Hex => builtins::hex(&s0!().to_string_perl()),
            Bi::Oct => builtins::oct(&s0!().to_string_perl()),
            Bi::Rand => {
                let n = match arg0 {
                    Some(a) => self.scalar(a, f)?.to_num(),
                    None => 1.0,
                };
                let n = if n == 0.0 { 1.0 } else { n };
                Value::Num(self.next_rand() * n)
            }
            Bi::Chr => {
                let n = s0!().to_int();
                Value::from(
                    char::from_u32(u32::try_from(n).unwrap_or(0xFFFD))
                        .unwrap_or('\u{FFFD}')
                        .to_string(),
                )
            }
            // Byte semantics, as Perl without `use utf8` (and SEC, which does not decode
            // its input): ord gives the first byte, case mapping is ASCII-only.
            Bi::Ord => Value::Int(s0!().to_str_cow().bytes().next().map_or(0, i64::from)),
            Bi::Lc => Value::from(s0!().to_str_cow().to_ascii_lowercase()),
            Bi::Uc => Value::from(s0!().to_str_cow().to_ascii_uppercase()),
            Bi::Lcfirst | Bi::Ucfirst => {
                let mut s = s0!().to_string_perl();
                if let Some(first) = s.get_mut(0..1) {
                    if bi == Bi::Lcfirst {
                        first.make_ascii_lowercase();
                    } else {
                        first.make_ascii_uppercase();
                    }
                }
                Value::from(s)
            }
            Bi::Length => {
                let v = s0!();
                if v.is_defined() {
                    Value::Int(v.to_str_cow().len() as i64)
                } else {
                    Value::Undef
                }
            }
            Bi::Substr => return self.substr(args, f, out),
            Bi::Index | Bi::Rindex => {
                let v = self.eval_args(args, f)?;
                let s = v.first().map(Value::to_string_perl).unwrap_or_default();
                let t = v.get(1).map(Value::to_string_perl).unwrap_or_default();
                let p = v.get(2).map(Value::to_int);
                Value::Int(builtins::index(&s, &t, p, bi == Bi::Rindex))
            }
            Bi::Sprintf => {
                let v = self.eval_args(args, f)?;
                let (fmt, rest) = match v.split_first() {
                    Some((a, b)) => (a.to_string_perl(), b),
                    None => (String::new(), &[][..]),
                };
                Value::from(builtins::sprintf(&fmt, rest))
            }
            Bi::Join => {
                let v = self.eval_args(args, f)?;
                let mut it = v.iter();
                let sep = it.next().map(Value::to_string_perl).unwrap_or_default();
                let mut s = String::new();
                for (i, x) in it.enumerate() {
                    if i > 0 {
                        s.push_str(&sep);
                    }
                    s.push_str(&x.to_str_cow());
                }
                Value::from(s)
            }
            Bi::Die | Bi::Warn => {
                let v = self.eval_args(args, f)?;
                let mut msg: String = v.iter().map(Value::to_string_perl).collect();
                if bi == Bi::Warn {
                    if msg.is_empty() {
                        msg = "Warning: something's wrong".into();
                    }
                    if !msg.ends_with('\n') {
                        msg.push_str(" at (eval) line 1.\n");
                    }
                    eprint!("{msg}");
                    Value::Int(1)
                } else {
                    if msg.is_empty() {
                        msg = "Died".into();
                    }
                    return Err(Flow::Err(die(msg)));
                }
            }
            Bi::Ref => Value::str(s0!().ref_type()),
            Bi::Chomp | Bi::Chop => {
                let target = arg0.ok_or_else(|| die("chomp needs an argument"))?;
                let chomp = bi == Bi::Chomp;
                self.with_lvalue(target, f, &mut |slot| {
                    if !slot.is_defined() {
                        return Ok(Value::Int(0));
                    }
                    let mut s = slot.to_string_perl();
                    let r = if chomp {
                        if s.ends_with('\n') {
                            s.pop();
                            Value::Int(1)
                        } else {
                            Value::Int(0)
                        }
                    } else {
                        Value::from(s.pop().map(String::from).unwrap_or_default())
                    };
                    *slot = Value::from(s);
                    Ok(r)
                })?
            }
            Bi::Quotemeta => Value::from(builtins::quotemeta(&s0!().to_str_cow())),
            Bi::Wantarray => match f.want {
                Context::List => Value::Int(1),
                Context::Scalar => Value::Int(0),
            },
            Bi::Pos => {
                let cell = self.pos_cell(arg0, f);
                match cell.and_then(|c| c.pos.get()) {
                    Some(p) => Value::Int(p as i64),
                    None => Value::Undef,
                }
            }
            Bi::Stat => {
                let path = s0!().to_string_perl();
                let st = builtins::stat(&path);
                if want == Context::List {
                    out.extend(st);
                    return Ok(());
                }
                Value::bool(!st.is_empty())
            }
            Bi::Exit => {
                let code = match arg0 {
                    Some(a) => self.scalar(a, f)?.to_int() as i32,
                    None => 0,
                };
                return Err(Flow::Err(PerlError {
                    kind: ErrorKind::Exit(code),
                    message: format!("exit({code})"),
                    construct: None,
                }));
            }
        };
        out.push(v);
        Ok(())
    }

    fn substr(&mut self, args: &[Expr], f: &mut Frame, out: &mut Vec<Value>) -> R<()> {
        let mut vals = Vec::new();
        for a in args.iter().skip(1) {
            vals.push(self.scalar(a, f)?);
        }
        let Some(target) = args.first() else {
            return ferr("Not enough arguments for substr");
        };
        // byte offsets, as Perl on undecoded text
        let s = self.scalar(target, f)?.to_string_perl();
        let chars = s.as_bytes();
        let n = chars.len() as i64;
        let off = vals.first().map_or(0, Value::to_int);
        let start = if off < 0 { n + off } else { off };
        if start < 0 || start > n {
            out.push(Value::Undef);
            return Ok(());
        }
        let len = vals.get(1).map(Value::to_int);
        let end = match len {
            None => n,
            Some(l) if l < 0 => (n + l).max(start),
            Some(l) => (start + l).min(n),
        };
        let (a, b) = (start as usize, end.max(start) as usize);
        let piece = String::from_utf8_lossy(&chars[a..b]).into_owned();
        if let Some(r) = vals.get(2) {
            let mut ns: Vec<u8> = chars[..a].to_vec();
            ns.extend_from_slice(r.to_str_cow().as_bytes());
            ns.extend_from_slice(&chars[b..]);
            let ns = String::from_utf8_lossy(&ns).into_owned();
            self.assign_scalar(target, Value::from(ns), f)?;
        }
        out.push(Value::from(piece));
        Ok(())
    }

    fn next_rand(&mut self) -> f64 {
        let mut x = self.rand_state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rand_state = x;
        (x >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The plain variable an assignment's left side names (`my $x` becomes `$x`).
fn simple_lvalue(e: &Expr) -> Option<Expr> {
    match e {
        Expr::Lex(s) => Some(Expr::Lex(*s)),
        Expr::Global(c) => Some(Expr::Global(c.clone())),
        Expr::My(vars, _) if vars.len() == 1 => match vars[0] {
            MyVar::Scalar(s) => Some(Expr::Lex(s)),
            _ => None,
        },
        _ => None,
    }
}

/// Whether an expression names storage that element access may autovivify.
fn is_viv_base(e: &Expr) -> bool {
    matches!(
        e,
        Expr::Lex(_) | Expr::Global(_) | Expr::ElemA(..) | Expr::ElemH(..)
    )
}

fn my_count(e: &Expr) -> usize {
    match e {
        Expr::My(vars, _) => {
            if vars
                .iter()
                .any(|v| matches!(v, MyVar::Array(_) | MyVar::Hash(_)))
            {
                usize::MAX
            } else {
                vars.len()
            }
        }
        _ => 1,
    }
}

fn fill_hash(h: &HashRc, mut it: impl Iterator<Item = Value>) {
    let mut hb = h.borrow_mut();
    hb.clear();
    while let Some(k) = it.next() {
        let v = it.next().unwrap_or_default();
        hb.insert(k.to_string_perl(), v);
    }
}

fn next_char(s: &str, i: usize) -> usize {
    if i >= s.len() {
        return i + 1;
    }
    let mut j = i + 1;
    while j < s.len() && !s.is_char_boundary(j) {
        j += 1;
    }
    j
}

fn range(a: &Value, b: &Value, out: &mut Vec<Value>) -> R<()> {
    // Perl's RANGE_IS_NUMERIC: numbers, or numeric-looking strings not starting with "0"
    let is_str = |v: &Value| matches!(v, Value::Str(_));
    let lln = |v: &Value| match v {
        Value::Str(s) => looks_like_number(s),
        _ => true,
    };
    let numeric = (a.is_defined() && !is_str(a))
        || (b.is_defined() && !is_str(b))
        || (((!a.is_defined() && b.is_defined())
            || ((!a.is_defined() || lln(a)) && is_str(a) && !a.to_str_cow().starts_with('0')))
            && (!b.is_defined() || lln(b)));
    if numeric {
        let (lo, hi) = (a.to_int(), b.to_int());
        if hi >= lo {
            if (hi as i128 - lo as i128) > MAX_LIST as i128 {
                return ferr("Out of memory in range");
            }
            out.extend((lo..=hi).map(Value::Int));
        }
        return Ok(());
    }
    let mut s = a.to_string_perl();
    let end = b.to_string_perl();
    let mut n = 0;
    loop {
        out.push(Value::str(&s));
        if s == end || s.len() > end.len() {
            break;
        }
        n += 1;
        if n > MAX_LIST {
            return ferr("Out of memory in range");
        }
        match string_increment(&s) {
            Some(x) if x.len() <= end.len() => s = x,
            _ => break,
        }
    }
    Ok(())
}

/// A stable merge sort with a fallible, possibly inconsistent comparator (never panics).
fn merge_sort(
    me: &mut Interp,
    items: Vec<Value>,
    gt: &mut dyn FnMut(&mut Interp, &Value, &Value) -> bool,
) -> Vec<Value> {
    if items.len() <= 1 {
        return items;
    }
    let mut v = items;
    let right = v.split_off(v.len() / 2);
    let l = merge_sort(me, v, gt);
    let r = merge_sort(me, right, gt);
    let mut out = Vec::with_capacity(l.len() + r.len());
    let mut li = l.into_iter().peekable();
    let mut ri = r.into_iter().peekable();
    loop {
        match (li.peek(), ri.peek()) {
            (Some(a), Some(b)) => {
                if gt(me, a, b) {
                    out.extend(ri.next());
                } else {
                    out.extend(li.next());
                }
            }
            (Some(_), None) => out.extend(li.by_ref()),
            (None, Some(_)) => out.extend(ri.by_ref()),
            (None, None) => break,
        }
    }
    out
}
