//! From source text to the compiled tree: the pest grammar, scope resolution of `my`
//! variables to frame slots, package variables to shared containers, and the checks that
//! reject constructs outside the supported subset.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use pest::iterators::Pair;
use pest::Parser;

use super::ast::*;
use super::re::Re;
use super::value::{ArrayRc, HashRc, ScalarCell, Value};
use super::{ErrorKind, PerlError};

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/perl.pest"]
struct PerlParser;

type P<'a> = Pair<'a, Rule>;
type R<T> = Result<T, PerlError>;

/// Deepest bracket nesting accepted (keeps parsing and evaluation off the Rust stack's edge).
const MAX_NESTING: usize = 60;
/// Most operators accepted in one flat operator chain.
const MAX_CHAIN: usize = 200;

/// Package variables and named subs of the `main::SEC` package.
#[derive(Default)]
pub struct Globals {
    pub(crate) scalars: HashMap<String, Rc<ScalarCell>>,
    pub(crate) arrays: HashMap<String, ArrayRc>,
    pub(crate) hashes: HashMap<String, HashRc>,
    pub(crate) subs: HashMap<String, Rc<RefCell<Option<Value>>>>,
}

impl Globals {
    pub(crate) fn scalar(&mut self, name: &str) -> Rc<ScalarCell> {
        self.scalars
            .entry(name.to_string())
            .or_insert_with(|| ScalarCell::new(Value::Undef))
            .clone()
    }
    pub(crate) fn array(&mut self, name: &str) -> ArrayRc {
        self.arrays.entry(name.to_string()).or_default().clone()
    }
    pub(crate) fn hash(&mut self, name: &str) -> HashRc {
        self.hashes.entry(name.to_string()).or_default().clone()
    }
    pub(crate) fn sub(&mut self, name: &str) -> Rc<RefCell<Option<Value>>> {
        self.subs.entry(name.to_string()).or_default().clone()
    }
}

fn unsupported(what: impl Into<String>) -> PerlError {
    let what = what.into();
    PerlError {
        kind: ErrorKind::Unsupported,
        message: format!("unsupported in native Perl: {what}"),
        construct: Some(what),
    }
}

fn syntax(msg: impl Into<String>) -> PerlError {
    PerlError {
        kind: ErrorKind::Syntax,
        message: msg.into(),
        construct: None,
    }
}

/// Perl builtins (and statements) that the native interpreter does not provide.
const UNSUPPORTED_FUNCS: &[&str] = &[
    "require",
    "use",
    "no",
    "open",
    "close",
    "opendir",
    "readdir",
    "closedir",
    "binmode",
    "system",
    "exec",
    "fork",
    "wait",
    "waitpid",
    "kill",
    "eval",
    "local",
    "format",
    "write",
    "read",
    "sysread",
    "syswrite",
    "sysopen",
    "seek",
    "tell",
    "eof",
    "readline",
    "select",
    "unlink",
    "mkdir",
    "rmdir",
    "rename",
    "chdir",
    "chmod",
    "chown",
    "utime",
    "symlink",
    "link",
    "readlink",
    "pack",
    "unpack",
    "sleep",
    "alarm",
    "bless",
    "tie",
    "untie",
    "tied",
    "goto",
    "dump",
    "socket",
    "connect",
    "bind",
    "listen",
    "accept",
    "send",
    "recv",
    "shutdown",
    "getc",
    "fileno",
    "flock",
    "ioctl",
    "fcntl",
    "pipe",
    "truncate",
    "dbmopen",
    "qx",
    "glob",
    "lstat",
    "caller",
    "import",
    "package",
    "BEGIN",
    "END",
    "vec",
    "study",
    "reset",
    "srand",
    "crypt",
    "sprintf_vector",
    "formline",
    "prototype",
    "lock",
    "chroot",
    "umask",
    "times",
    "getpwnam",
    "getpwuid",
    "getgrnam",
    "gethostbyname",
    "setpgrp",
    "getppid",
    "exists_or",
];

struct FuncScope {
    scopes: Vec<Vec<(String, usize)>>,
    nslots: usize,
    captures: Vec<(usize, usize)>,
}

impl FuncScope {
    fn new() -> FuncScope {
        FuncScope {
            scopes: vec![Vec::new()],
            nslots: 0,
            captures: Vec::new(),
        }
    }
}

/// Deepest parse tree accepted (about a dozen tree levels per level of syntactic nesting).
const MAX_TREE_DEPTH: usize = 700;
/// Inputs up to this size cannot nest deeply enough to exhaust the stack while parsing;
/// larger ones are first checked on a thread with a large stack.
const SMALL_INPUT: usize = 512;
/// Deepest nesting of expressions while building the tree.
const MAX_BUILD_DEPTH: usize = 100;

fn tree_depth(src: &str) -> Option<usize> {
    let pairs = PerlParser::parse(Rule::program, src).ok()?;
    Some(pairs_depth(pairs))
}

fn pairs_depth(pairs: pest::iterators::Pairs<Rule>) -> usize {
    let mut max = 0;
    let mut stack: Vec<(P, usize)> = pairs.map(|p| (p, 1)).collect();
    while let Some((p, d)) = stack.pop() {
        max = max.max(d);
        stack.extend(p.into_inner().map(|c| (c, d + 1)));
    }
    max
}

fn too_deep() -> PerlError {
    unsupported("code nested too deeply")
}

/// Compiles source text into a [`SubDef`] (the snippet as a sub without arguments).
pub(crate) fn compile(src: &str, globals: &mut Globals) -> R<SubDef> {
    check_nesting(src)?;
    if src.len() > SMALL_INPUT {
        let owned = src.to_string();
        let depth = std::thread::Builder::new()
            .stack_size(512 << 20)
            .spawn(move || tree_depth(&owned))
            .map_err(|e| syntax(format!("cannot check nesting: {e}")))?
            .join()
            .map_err(|_| too_deep())?;
        if depth.is_some_and(|d| d > MAX_TREE_DEPTH) {
            return Err(too_deep());
        }
    }
    let mut pairs = PerlParser::parse(Rule::program, src).map_err(|e| {
        let (line, col) = match e.line_col {
            pest::error::LineColLocation::Pos(p) => p,
            pest::error::LineColLocation::Span(p, _) => p,
        };
        PerlError {
            kind: ErrorKind::Unsupported,
            message: format!("syntax not understood at line {line}, column {col}"),
            construct: Some(format!("syntax at line {line}, column {col}")),
        }
    })?;
    if pairs_depth(pairs.clone()) > MAX_TREE_DEPTH {
        return Err(too_deep());
    }
    let program = pairs.next().ok_or_else(|| syntax("empty parse"))?;
    let mut c = Compiler {
        g: globals,
        funcs: vec![FuncScope::new()],
        depth: 0,
    };
    let stmts = program
        .into_inner()
        .next()
        .ok_or_else(|| syntax("empty program"))?;
    let body = c.stmts(stmts)?;
    let f = c.funcs.pop().ok_or_else(|| syntax("scope"))?;
    Ok(SubDef {
        body,
        nslots: f.nslots,
        captures: f.captures,
    })
}

fn check_nesting(src: &str) -> R<()> {
    let mut depth = 0usize;
    let mut max = 0usize;
    for c in src.chars() {
        match c {
            '(' | '[' | '{' => {
                depth += 1;
                max = max.max(depth);
            }
            ')' | ']' | '}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    if max > MAX_NESTING {
        return Err(unsupported(format!(
            "nesting deeper than {MAX_NESTING} levels"
        )));
    }
    Ok(())
}

struct Compiler<'g> {
    g: &'g mut Globals,
    funcs: Vec<FuncScope>,
    depth: usize,
}

fn inner(p: P) -> Vec<P> {
    p.into_inner().collect()
}

fn first(p: P) -> R<P> {
    let r = p.as_rule();
    p.into_inner()
        .next()
        .ok_or_else(|| syntax(format!("missing part of {r:?}")))
}

fn bx(e: Expr) -> Box<Expr> {
    Box::new(e)
}

/// Normalises a package variable name; `None` for names outside package main::SEC.
fn global_name(name: &str) -> Option<String> {
    let n = name
        .strip_prefix("main::SEC::")
        .or_else(|| name.strip_prefix("SEC::"))
        .unwrap_or(name);
    if n.contains("::") {
        None
    } else {
        Some(n.to_string())
    }
}

impl Compiler<'_> {
    // ------------------------------------------------------------ scopes
    fn func(&mut self) -> &mut FuncScope {
        // there is always at least one function scope while compiling
        let n = self.funcs.len() - 1;
        &mut self.funcs[n]
    }
    fn push_scope(&mut self) {
        self.func().scopes.push(Vec::new());
    }
    fn pop_scope(&mut self) {
        self.func().scopes.pop();
    }
    fn declare(&mut self, key: String) -> usize {
        let f = self.func();
        let slot = f.nslots;
        f.nslots += 1;
        if let Some(s) = f.scopes.last_mut() {
            s.push((key, slot));
        }
        slot
    }
    fn lookup_in(&mut self, level: usize, key: &str) -> Option<usize> {
        for scope in self.funcs[level].scopes.iter().rev() {
            if let Some((_, slot)) = scope.iter().rev().find(|(k, _)| k == key) {
                return Some(*slot);
            }
        }
        if level == 0 {
            return None;
        }
        let outer = self.lookup_in(level - 1, key)?;
        let f = &mut self.funcs[level];
        let slot = f.nslots;
        f.nslots += 1;
        f.captures.push((outer, slot));
        f.scopes[0].push((key.to_string(), slot));
        Some(slot)
    }
    fn lookup(&mut self, key: &str) -> Option<usize> {
        let level = self.funcs.len() - 1;
        self.lookup_in(level, key)
    }

    // ------------------------------------------------------------ statements
    fn stmts(&mut self, p: P) -> R<Block> {
        self.push_scope();
        let mut out = Vec::new();
        for s in p.into_inner() {
            if let Some(st) = self.stmt(s)? {
                out.push(st);
            }
        }
        self.pop_scope();
        Ok(out)
    }

    fn block(&mut self, p: P) -> R<Block> {
        let s = first(p)?;
        self.stmts(s)
    }

    fn stmt(&mut self, p: P) -> R<Option<Stmt>> {
        let s = first(p)?;
        Ok(Some(match s.as_rule() {
            Rule::empty_stmt => return Ok(None),
            Rule::block => Stmt::Block(self.block(s)?),
            Rule::sub_decl => {
                let mut it = s.into_inner();
                it.next(); // kw
                let name = it
                    .next()
                    .ok_or_else(|| syntax("sub name"))?
                    .as_str()
                    .to_string();
                let body = it.next().ok_or_else(|| syntax("sub body"))?;
                let def = Rc::new(self.sub_body(body)?);
                let slot = self.g.sub(&name);
                if def.captures.is_empty() {
                    *slot.borrow_mut() = Some(Value::CodeRef(Rc::new(super::value::CodeRef {
                        def: def.clone(),
                        captures: Vec::new(),
                    })));
                }
                Stmt::SubDecl(slot, def)
            }
            Rule::if_stmt | Rule::unless_stmt => {
                let unless = s.as_rule() == Rule::unless_stmt;
                let mut conds = Vec::new();
                let mut els = None;
                let mut it = s.into_inner();
                it.next();
                let c = self.expr(it.next().ok_or_else(|| syntax("if cond"))?)?;
                let c = if unless { Expr::Not(bx(c)) } else { c };
                let b = self.block(it.next().ok_or_else(|| syntax("if block"))?)?;
                conds.push((c, b));
                for part in it {
                    match part.as_rule() {
                        Rule::elsif_clause => {
                            let v = inner(part);
                            let c = self.expr(v[1].clone())?;
                            let b = self.block(v[2].clone())?;
                            conds.push((c, b));
                        }
                        _ => {
                            let v = inner(part);
                            els = Some(self.block(v[1].clone())?);
                        }
                    }
                }
                Stmt::If(conds, els)
            }
            Rule::while_stmt | Rule::until_stmt => {
                let until = s.as_rule() == Rule::until_stmt;
                let v = inner(s);
                let (cond, body) = if v.len() == 3 {
                    (Some(self.expr(v[1].clone())?), v[2].clone())
                } else {
                    (None, v[1].clone())
                };
                let cond = if until {
                    cond.map(|c| Expr::Not(bx(c)))
                } else {
                    cond
                };
                Stmt::While(cond, self.block(body)?, None)
            }
            Rule::for_c => {
                let v = inner(s);
                self.push_scope();
                let mut parts = Vec::new();
                for fp in &v[1..4] {
                    parts.push(match fp.clone().into_inner().next() {
                        Some(e) => Some(self.expr(e)?),
                        None => None,
                    });
                }
                let body = self.block(v[4].clone())?;
                self.pop_scope();
                let step = parts.pop().flatten();
                let cond = parts.pop().flatten().unwrap_or(Expr::Const(Value::Int(1)));
                let init = parts.pop().flatten();
                let mut b = Vec::new();
                if let Some(i) = init {
                    b.push(Stmt::Expr(i));
                }
                b.push(Stmt::While(Some(cond), body, step));
                Stmt::Block(b)
            }
            Rule::foreach_stmt => {
                let v = inner(s);
                let mut idx = 1;
                let mut var_pair = None;
                if v.get(idx).map(|p| p.as_rule()) == Some(Rule::foreach_var) {
                    var_pair = Some(v[idx].clone());
                    idx += 1;
                }
                let list = match v.get(idx).map(|p| p.as_rule()) {
                    Some(Rule::expr) => {
                        let e = self.expr(v[idx].clone())?;
                        idx += 1;
                        e
                    }
                    _ => Expr::List(Vec::new()),
                };
                self.push_scope();
                let var = match var_pair {
                    None => LoopVar::Global(self.g.scalar("_")),
                    Some(vp) => {
                        let vi = inner(vp);
                        let is_my = vi.len() == 2;
                        let name = var_name_of(vi.last().ok_or_else(|| syntax("var"))?);
                        if is_my {
                            LoopVar::My(self.declare(format!("${name}")))
                        } else if let Some(slot) = self.lookup(&format!("${name}")) {
                            LoopVar::Lex(slot)
                        } else {
                            let g = global_name(&name)
                                .ok_or_else(|| unsupported(format!("package variable ${name}")))?;
                            LoopVar::Global(self.g.scalar(&g))
                        }
                    }
                };
                let body = self.block(v[idx].clone())?;
                self.pop_scope();
                Stmt::Foreach(var, list, body)
            }
            Rule::simple_stmt => {
                let mut it = s.into_inner();
                let e = it.next().ok_or_else(|| syntax("statement"))?;
                match it.next() {
                    None => Stmt::Expr(self.expr(e)?),
                    Some(m) => {
                        let v = inner(m);
                        let kw = v[0].as_str().to_string();
                        let cond = self.expr(v[1].clone())?;
                        let body = self.expr(e)?;
                        match kw.as_str() {
                            "if" => Stmt::If(vec![(cond, vec![Stmt::Expr(body)])], None),
                            "unless" => {
                                Stmt::If(vec![(Expr::Not(bx(cond)), vec![Stmt::Expr(body)])], None)
                            }
                            "while" | "until" if matches!(body, Expr::DoBlock(_)) => {
                                // do BLOCK while COND: the block runs before the test
                                let stop = if kw == "while" {
                                    Expr::Not(bx(cond))
                                } else {
                                    cond
                                };
                                Stmt::While(
                                    None,
                                    vec![
                                        Stmt::Expr(body),
                                        Stmt::If(
                                            vec![(stop, vec![Stmt::Expr(Expr::LoopCtl(true))])],
                                            None,
                                        ),
                                    ],
                                    None,
                                )
                            }
                            "while" => Stmt::While(Some(cond), vec![Stmt::Expr(body)], None),
                            "until" => {
                                Stmt::While(Some(Expr::Not(bx(cond))), vec![Stmt::Expr(body)], None)
                            }
                            _ => Stmt::Foreach(
                                LoopVar::Global(self.g.scalar("_")),
                                cond,
                                vec![Stmt::Expr(body)],
                            ),
                        }
                    }
                }
            }
            r => return Err(syntax(format!("unexpected statement {r:?}"))),
        }))
    }

    fn sub_body(&mut self, block: P) -> R<SubDef> {
        self.funcs.push(FuncScope::new());
        let body = self.block(block);
        let f = self.funcs.pop().ok_or_else(|| syntax("scope"))?;
        Ok(SubDef {
            body: body?,
            nslots: f.nslots,
            captures: f.captures,
        })
    }

    // ------------------------------------------------------------ expressions
    /// Builds an expression. Chains of single-child wrapper rules (one per precedence
    /// level) are walked in a loop, so that nesting costs few stack frames.
    fn expr(&mut self, p: P) -> R<Expr> {
        if self.depth >= MAX_BUILD_DEPTH {
            return Err(too_deep());
        }
        self.depth += 1;
        let r = self.expr_walk(p);
        self.depth -= 1;
        r
    }

    fn expr_walk(&mut self, mut p: P) -> R<Expr> {
        while is_wrapper(p.as_rule()) {
            let mut it = p.clone().into_inner();
            match (it.next(), it.next()) {
                (Some(only), None) => p = only,
                _ => break,
            }
        }
        self.expr_inner(p)
    }

    fn expr_inner(&mut self, p: P) -> R<Expr> {
        match p.as_rule() {
            Rule::expr | Rule::lownot | Rule::for_part => self.expr(first(p)?),
            Rule::lowor | Rule::lowand => {
                let v = inner(p);
                let mut it = v.into_iter();
                let mut acc = self.expr(it.next().ok_or_else(|| syntax("operand"))?)?;
                while let Some(op) = it.next() {
                    let rhs = self.expr(it.next().ok_or_else(|| syntax("operand"))?)?;
                    acc = match op.as_str() {
                        "and" => Expr::Log(LogOp::And, bx(acc), bx(rhs)),
                        "or" => Expr::Log(LogOp::Or, bx(acc), bx(rhs)),
                        _ => Expr::Bin(
                            BinOp::NumNe,
                            bx(Expr::Not(bx(Expr::Not(bx(acc))))),
                            bx(Expr::Not(bx(Expr::Not(bx(rhs))))),
                        ),
                    };
                }
                Ok(acc)
            }
            Rule::not_op => {
                let v = inner(p);
                Ok(Expr::Not(bx(self.expr(v[1].clone())?)))
            }
            Rule::listexpr | Rule::expr_noop => {
                let v = inner(p);
                if p_is_noop(&v) {
                    return self.expr(v[0].clone());
                }
                let mut items = Vec::with_capacity(v.len());
                for a in v {
                    items.push(self.expr(a)?);
                }
                if items.len() == 1 {
                    Ok(items.pop().unwrap_or(Expr::List(Vec::new())))
                } else {
                    Ok(Expr::List(items))
                }
            }
            Rule::assign => self.assign(p),
            Rule::ternary => {
                let v = inner(p);
                let c = self.expr(v[0].clone())?;
                if v.len() == 1 {
                    return Ok(c);
                }
                let a = self.expr(v[1].clone())?;
                let b = self.expr(v[2].clone())?;
                Ok(Expr::Ternary(bx(c), bx(a), bx(b)))
            }
            Rule::range => {
                let v = inner(p);
                let a = self.expr(v[0].clone())?;
                if v.len() == 1 {
                    return Ok(a);
                }
                let b = self.expr(v[2].clone())?;
                Ok(Expr::Range(bx(a), bx(b)))
            }
            Rule::binary | Rule::arith => self.binary(p),
            Rule::unary => self.unary(p),
            Rule::pow => {
                let v = inner(p);
                let a = self.expr(v[0].clone())?;
                if v.len() == 1 {
                    return Ok(a);
                }
                let b = self.expr(v[1].clone())?;
                Ok(Expr::Bin(BinOp::Pow, bx(a), bx(b)))
            }
            Rule::incdec => {
                let v = inner(p);
                if v.len() == 1 {
                    return self.expr(v[0].clone());
                }
                let (op, e, prefix) = if v[0].as_rule() == Rule::pre_op {
                    (v[0].as_str(), v[1].clone(), true)
                } else {
                    (v[1].as_str(), v[0].clone(), false)
                };
                let e = self.expr(e)?;
                check_lvalue(&e)?;
                Ok(Expr::IncDec(op == "++", prefix, bx(e)))
            }
            Rule::postfix_expr => self.postfix_expr(p),
            Rule::primary => self.primary(first(p)?),
            r => Err(syntax(format!("unexpected expression {r:?}"))),
        }
    }

    fn assign(&mut self, p: P) -> R<Expr> {
        let v = inner(p);
        if v.len() == 1 {
            return self.expr(v[0].clone());
        }
        // The right side first: `my $x = $x` sees the outer `$x`.
        let rhs = self.expr(v[2].clone())?;
        let lhs = self.expr(v[0].clone())?;
        let op = v[1].as_str();
        check_lvalue(&lhs)?;
        let binop = match op {
            "=" => {
                return Ok(if is_list_lhs(&lhs) {
                    Expr::ListAssign(bx(lhs), bx(rhs))
                } else {
                    Expr::Assign(bx(lhs), bx(rhs))
                })
            }
            "||=" => return Ok(Expr::LogAssign(LogOp::Or, bx(lhs), bx(rhs))),
            "&&=" => return Ok(Expr::LogAssign(LogOp::And, bx(lhs), bx(rhs))),
            "//=" => return Ok(Expr::LogAssign(LogOp::Dor, bx(lhs), bx(rhs))),
            "+=" => BinOp::Add,
            "-=" => BinOp::Sub,
            "*=" => BinOp::Mul,
            "/=" => BinOp::Div,
            "%=" => BinOp::Mod,
            "**=" => BinOp::Pow,
            ".=" => BinOp::Concat,
            "x=" => BinOp::Repeat,
            "|=" => BinOp::BitOr,
            "&=" => BinOp::BitAnd,
            "^=" => BinOp::BitXor,
            "<<=" => BinOp::Shl,
            ">>=" => BinOp::Shr,
            o => return Err(syntax(format!("unknown assignment operator {o}"))),
        };
        if is_list_lhs(&lhs) {
            return Err(unsupported(format!("{op} on a list")));
        }
        Ok(Expr::OpAssign(binop, bx(lhs), bx(rhs)))
    }

    fn binary(&mut self, p: P) -> R<Expr> {
        let v = inner(p);
        if v.len() == 1 {
            return self.expr(v[0].clone());
        }
        if v.len() / 2 > MAX_CHAIN {
            return Err(unsupported(format!(
                "more than {MAX_CHAIN} chained operators"
            )));
        }
        let mut operands: Vec<Expr> = Vec::new();
        let mut ops: Vec<(&str, u8)> = Vec::new();
        let mut it = v.into_iter();
        operands.push(self.expr(it.next().ok_or_else(|| syntax("operand"))?)?);
        while let Some(op) = it.next() {
            let o = op.as_str().trim();
            let prec = prec_of(o);
            while let Some(&(top, tp)) = ops.last() {
                if tp >= prec {
                    ops.pop();
                    reduce(&mut operands, top)?;
                } else {
                    break;
                }
            }
            ops.push((o, prec));
            operands.push(self.expr(it.next().ok_or_else(|| syntax("operand"))?)?);
        }
        while let Some((top, _)) = ops.pop() {
            reduce(&mut operands, top)?;
        }
        operands.pop().ok_or_else(|| syntax("expression"))
    }

    fn unary(&mut self, p: P) -> R<Expr> {
        let v = inner(p);
        let n = v.len();
        if n > MAX_CHAIN {
            return Err(unsupported("too many prefix operators"));
        }
        let mut e = self.expr(v[n - 1].clone())?;
        for op in v[..n - 1].iter().rev() {
            e = match op.as_str() {
                "!" => Expr::Not(bx(e)),
                "\\" => Expr::RefOf(bx(e)),
                "-" => match e {
                    Expr::CallNamed(_, ref name, _) if name.len() == 1 => {
                        return Err(unsupported(format!("file test -{name}")))
                    }
                    Expr::Const(Value::Str(s))
                        if s.chars().next().is_some_and(char::is_alphabetic) =>
                    {
                        Expr::Const(Value::from(format!("-{s}")))
                    }
                    other => Expr::Neg(bx(other)),
                },
                "~" => Expr::BitNot(bx(e)),
                _ => e,
            };
        }
        Ok(e)
    }

    fn postfix_expr(&mut self, p: P) -> R<Expr> {
        let mut it = p.into_inner();
        let prim = it.next().ok_or_else(|| syntax("primary"))?;
        let posts: Vec<P> = it.collect();
        if posts.len() > MAX_CHAIN {
            return Err(unsupported(format!(
                "more than {MAX_CHAIN} chained subscripts"
            )));
        }
        if posts.is_empty() {
            return self.expr(prim);
        }
        let prim_inner = prim
            .clone()
            .into_inner()
            .next()
            .ok_or_else(|| syntax("primary"))?;
        let mut rest = &posts[..];
        let mut e;
        if posts[0].as_rule() == Rule::postfix
            && posts[0].clone().into_inner().next().map(|x| x.as_rule()) == Some(Rule::subscript)
            && matches!(prim_inner.as_rule(), Rule::scalar_var | Rule::scalar_deref)
        {
            // `$x[0]` / `$x{k}`: an element of @x / %x; `$$r[0]`: of @$r.
            let sub = first(first(posts[0].clone())?)?;
            let is_index = sub.as_rule() == Rule::index;
            let key = self.subscript_key(sub)?;
            if prim_inner.as_rule() == Rule::scalar_var {
                let name = var_name_of(&prim_inner);
                e = if name == "+" && !is_index {
                    Expr::NamedCapture(bx(key))
                } else if is_index {
                    Expr::ElemA(self.array_named(&name)?, bx(key))
                } else {
                    Expr::ElemH(self.hash_named(&name)?, bx(key))
                };
            } else {
                let target = self.deref_target(first(prim_inner)?)?;
                e = if is_index {
                    Expr::ElemA(ArrT::Deref(bx(target)), bx(key))
                } else {
                    Expr::ElemH(HashT::Deref(bx(target)), bx(key))
                };
            }
            rest = &posts[1..];
        } else if posts[0].clone().into_inner().next().map(|x| x.as_rule()) == Some(Rule::subscript)
            && matches!(prim_inner.as_rule(), Rule::array_var | Rule::array_deref)
        {
            // `@a[...]` / `@h{...}` / `@{$r}{...}`: slices
            let sub = first(first(posts[0].clone())?)?;
            let is_index = sub.as_rule() == Rule::index;
            let keys = self.subscript_key(sub)?;
            e = if prim_inner.as_rule() == Rule::array_var {
                let name = var_name_of(&prim_inner);
                if is_index {
                    Expr::SliceA(self.array_named(&name)?, bx(keys))
                } else {
                    Expr::SliceH(self.hash_named(&name)?, bx(keys))
                }
            } else {
                let target = self.deref_target(first(prim_inner)?)?;
                if is_index {
                    Expr::SliceA(ArrT::Deref(bx(target)), bx(keys))
                } else {
                    Expr::SliceH(HashT::Deref(bx(target)), bx(keys))
                }
            };
            rest = &posts[1..];
            if !rest.is_empty() {
                return Err(unsupported("subscript after a slice"));
            }
        } else if posts[0].clone().into_inner().next().map(|x| x.as_rule()) == Some(Rule::subscript)
            && prim_inner.as_rule() == Rule::hash_var
        {
            return Err(unsupported("key/value hash slices"));
        } else {
            e = self.expr(prim)?;
        }
        for post in rest {
            let x = first(post.clone())?;
            e = match x.as_rule() {
                Rule::subscript | Rule::arrow_subscript => {
                    let sub = x.into_inner().last().ok_or_else(|| syntax("subscript"))?;
                    let is_index = sub.as_rule() == Rule::index;
                    let key = self.subscript_key(sub)?;
                    if is_index {
                        Expr::ElemA(ArrT::Deref(bx(e)), bx(key))
                    } else {
                        Expr::ElemH(HashT::Deref(bx(e)), bx(key))
                    }
                }
                Rule::arrow_call => {
                    let args = match x.into_inner().next() {
                        Some(a) => self.arg_list(a)?,
                        None => Vec::new(),
                    };
                    Expr::CallRef(bx(e), args)
                }
                _ => return Err(unsupported(format!("method call {}", x.as_str()))),
            };
        }
        Ok(e)
    }

    fn subscript_key(&mut self, sub: P) -> R<Expr> {
        let k = first(sub)?;
        if k.as_rule() == Rule::bare_hkey {
            return Ok(Expr::Const(Value::str(k.as_str())));
        }
        self.expr(k)
    }

    /// An argument list: the items of a comma list, each evaluated in list context.
    fn arg_list(&mut self, p: P) -> R<Vec<Expr>> {
        let e = self.expr(p)?;
        Ok(match e {
            Expr::List(items) => items,
            other => vec![other],
        })
    }

    // ------------------------------------------------------------ variables
    fn scalar_named(&mut self, name: &str) -> R<Expr> {
        if let Some(slot) = self.lookup(&format!("${name}")) {
            return Ok(Expr::Lex(slot));
        }
        if !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit()) {
            let n: usize = name.parse().unwrap_or(0);
            if n > 0 {
                return Ok(Expr::Capture(n));
            }
        }
        if name == "&" {
            return Ok(Expr::MatchAll);
        }
        let g =
            global_name(name).ok_or_else(|| unsupported(format!("package variable ${name}")))?;
        Ok(Expr::Global(self.g.scalar(&g)))
    }
    fn array_named(&mut self, name: &str) -> R<ArrT> {
        if name == "_" {
            return Ok(ArrT::Args);
        }
        if let Some(slot) = self.lookup(&format!("@{name}")) {
            return Ok(ArrT::Lex(slot));
        }
        let g =
            global_name(name).ok_or_else(|| unsupported(format!("package variable @{name}")))?;
        Ok(ArrT::Global(self.g.array(&g)))
    }
    fn hash_named(&mut self, name: &str) -> R<HashT> {
        if let Some(slot) = self.lookup(&format!("%{name}")) {
            return Ok(HashT::Lex(slot));
        }
        let g =
            global_name(name).ok_or_else(|| unsupported(format!("package variable %{name}")))?;
        Ok(HashT::Global(self.g.hash(&g)))
    }
    fn deref_target(&mut self, p: P) -> R<Expr> {
        // deref_target = { "{" expr "}" | scalar_var }
        let x = first(p)?;
        match x.as_rule() {
            Rule::scalar_var => self.scalar_named(&var_name_of(&x)),
            _ => self.expr(x),
        }
    }

    // ------------------------------------------------------------ primaries
    fn primary(&mut self, p: P) -> R<Expr> {
        let rule = p.as_rule();
        let text = p.as_str();
        match rule {
            Rule::my_decl => {
                let v = inner(p);
                let target = v[1].clone();
                if v[0].as_str() == "our" {
                    // package variables, visible by their plain names afterwards
                    let vars: Vec<P> = if target.as_rule() == Rule::my_list {
                        target
                            .into_inner()
                            .filter_map(|i| i.into_inner().next())
                            .collect()
                    } else {
                        vec![target.clone()]
                    };
                    let mut out = Vec::new();
                    for var in vars {
                        let name = var_name_of(&var);
                        let g =
                            global_name(&name).ok_or_else(|| unsupported(format!("our {name}")))?;
                        out.push(match var.as_rule() {
                            Rule::scalar_var => Expr::Global(self.g.scalar(&g)),
                            Rule::array_var => Expr::Arr(ArrT::Global(self.g.array(&g))),
                            Rule::hash_var => Expr::Hash(HashT::Global(self.g.hash(&g))),
                            _ => Expr::Const(Value::Undef),
                        });
                    }
                    return Ok(if out.len() == 1 && v[1].as_rule() != Rule::my_list {
                        out.pop().unwrap_or(Expr::Const(Value::Undef))
                    } else {
                        Expr::List(out)
                    });
                }
                if target.as_rule() == Rule::my_list {
                    let mut vars = Vec::new();
                    for item in target.into_inner() {
                        let var = first(item)?;
                        vars.push(self.my_var(var)?);
                    }
                    Ok(Expr::My(vars, true))
                } else {
                    let mv = self.my_var(target)?;
                    Ok(Expr::My(vec![mv], false))
                }
            }
            Rule::local_decl => Err(unsupported("local")),
            Rule::anon_sub => {
                let v = inner(p);
                Ok(Expr::AnonSub(Rc::new(self.sub_body(v[1].clone())?)))
            }
            Rule::do_block => {
                let v = inner(p);
                Ok(Expr::DoBlock(self.block(v[1].clone())?))
            }
            Rule::eval_block => {
                let v = inner(p);
                Ok(Expr::EvalBlock(self.block(v[1].clone())?))
            }
            Rule::number => Ok(Expr::Const(parse_number_literal(text))),
            Rule::vstring => Ok(Expr::Const(Value::from(
                text.split('.')
                    .map(|n| char::from_u32(n.parse().unwrap_or(0)).unwrap_or('\u{FFFD}'))
                    .collect::<String>(),
            ))),
            Rule::fat_key => Ok(Expr::Const(Value::str(text))),
            Rule::sq_string => Ok(Expr::Const(Value::from(unescape_single(
                first(p)?.as_str(),
                '\'',
            )))),
            Rule::dq_string => self.interp_string(first(p)?.as_str()),
            Rule::backtick => Err(unsupported("backticks")),
            Rule::eval_string => Err(unsupported("eval STRING")),
            Rule::do_file => Err(unsupported("do FILE")),
            Rule::heredoc => Err(unsupported("here-document")),
            Rule::readline => Err(unsupported(format!("readline {text}"))),
            Rule::quote_like => self.quote_like(p),
            Rule::match_lit => {
                let v = inner(p);
                let flags = v.last().map(|f| f.as_str()).unwrap_or("");
                self.match_expr(v[0].as_str(), flags)
            }
            Rule::subst => self.subst(p),
            Rule::translit => self.translit(p),
            Rule::array_len => {
                let x = first(p)?;
                let t = if x.as_rule() == Rule::var_name {
                    self.array_named(x.as_str())?
                } else {
                    ArrT::Deref(bx(self.deref_target(x)?))
                };
                Ok(Expr::LastIdx(t))
            }
            Rule::scalar_var => self.scalar_named(&var_name_of(&p)),
            Rule::array_var => Ok(Expr::Arr(self.array_named(&var_name_of(&p))?)),
            Rule::hash_var => Ok(Expr::Hash(self.hash_named(&var_name_of(&p))?)),
            Rule::scalar_deref => Ok(Expr::DerefScalar(bx(self.deref_target(first(p)?)?))),
            Rule::array_deref => Ok(Expr::Arr(ArrT::Deref(bx(self.deref_target(first(p)?)?)))),
            Rule::hash_deref => Ok(Expr::Hash(HashT::Deref(bx(self.deref_target(first(p)?)?)))),
            Rule::code_call => {
                let v = inner(p);
                let args = match v.get(1) {
                    Some(a) => self.arg_list(a.clone())?,
                    None => Vec::new(),
                };
                let t = v[0].clone();
                match t.as_rule() {
                    Rule::func_name => self.call_named(t.as_str(), args),
                    Rule::scalar_var => Ok(Expr::CallRef(
                        bx(self.scalar_named(&var_name_of(&t))?),
                        args,
                    )),
                    _ => Ok(Expr::CallRef(bx(self.expr(t)?), args)),
                }
            }
            Rule::list_paren => {
                let v = inner(p);
                let mut items = Vec::new();
                let mut slice = None;
                for x in v {
                    if x.as_rule() == Rule::list_slice {
                        slice = Some(self.expr(first(x)?)?);
                    } else {
                        let e = self.expr(x)?;
                        match e {
                            Expr::List(i) => items = i,
                            other => items = vec![other],
                        }
                    }
                }
                let l = Expr::List(items);
                Ok(match slice {
                    Some(s) => Expr::Slice(bx(l), bx(s)),
                    None => l,
                })
            }
            Rule::anon_array => Ok(Expr::AnonArray(match p.into_inner().next() {
                Some(x) => Some(bx(self.expr(x)?)),
                None => None,
            })),
            Rule::anon_hash => Ok(Expr::AnonHash(match p.into_inner().next() {
                Some(x) => Some(bx(self.expr(x)?)),
                None => None,
            })),
            Rule::return_expr => {
                let v = inner(p);
                Ok(Expr::Return(match v.get(1) {
                    Some(x) => Some(bx(self.expr(x.clone())?)),
                    None => None,
                }))
            }
            Rule::loop_ctl => {
                let v = inner(p);
                if v.len() > 1 {
                    return Err(unsupported("loop labels"));
                }
                Ok(Expr::LoopCtl(v[0].as_str() == "last"))
            }
            Rule::print_call => self.print_call(p),
            r => self.primary2(r, p),
        }
    }
}

/// Rules that are a plain wrapper when they have a single child (one per precedence level).
fn is_wrapper(r: Rule) -> bool {
    matches!(
        r,
        Rule::expr
            | Rule::lownot
            | Rule::for_part
            | Rule::lowor
            | Rule::lowand
            | Rule::listexpr
            | Rule::expr_noop
            | Rule::assign
            | Rule::ternary
            | Rule::range
            | Rule::binary
            | Rule::arith
            | Rule::unary
            | Rule::pow
            | Rule::incdec
            | Rule::postfix_expr
    )
}

fn p_is_noop(v: &[P]) -> bool {
    v.len() == 1 && v[0].as_rule() == Rule::listexpr
}

fn var_name_of(p: &P) -> String {
    // scalar_var/array_var/hash_var contain a var_name pair
    p.clone()
        .into_inner()
        .find(|x| x.as_rule() == Rule::var_name)
        .map(|x| x.as_str().to_string())
        .unwrap_or_default()
}

fn prec_of(op: &str) -> u8 {
    match op {
        "=~" | "!~" => 10,
        "*" | "/" | "%" | "x" => 9,
        "+" | "-" | "." => 8,
        "<<" | ">>" => 7,
        "<" | ">" | "<=" | ">=" | "lt" | "gt" | "le" | "ge" => 6,
        "==" | "!=" | "<=>" | "eq" | "ne" | "cmp" => 5,
        "&" => 4,
        "|" | "^" => 3,
        "&&" => 2,
        _ => 1,
    }
}

fn reduce(operands: &mut Vec<Expr>, op: &str) -> R<()> {
    let b = operands.pop().ok_or_else(|| syntax("operand"))?;
    let a = operands.pop().ok_or_else(|| syntax("operand"))?;
    let e = match op {
        "=~" | "!~" => bind_match(a, b, op == "!~")?,
        "&&" => Expr::Log(LogOp::And, bx(a), bx(b)),
        "||" => Expr::Log(LogOp::Or, bx(a), bx(b)),
        "//" => Expr::Log(LogOp::Dor, bx(a), bx(b)),
        _ => {
            let o = match op {
                "*" => BinOp::Mul,
                "/" => BinOp::Div,
                "%" => BinOp::Mod,
                "x" => BinOp::Repeat,
                "+" => BinOp::Add,
                "-" => BinOp::Sub,
                "." => BinOp::Concat,
                "<<" => BinOp::Shl,
                ">>" => BinOp::Shr,
                "<" => BinOp::NumLt,
                ">" => BinOp::NumGt,
                "<=" => BinOp::NumLe,
                ">=" => BinOp::NumGe,
                "lt" => BinOp::StrLt,
                "gt" => BinOp::StrGt,
                "le" => BinOp::StrLe,
                "ge" => BinOp::StrGe,
                "==" => BinOp::NumEq,
                "!=" => BinOp::NumNe,
                "<=>" => BinOp::NumCmp,
                "eq" => BinOp::StrEq,
                "ne" => BinOp::StrNe,
                "cmp" => BinOp::StrCmp,
                "&" => BinOp::BitAnd,
                "|" => BinOp::BitOr,
                "^" => BinOp::BitXor,
                o => return Err(syntax(format!("unknown operator {o}"))),
            };
            Expr::Bin(o, bx(a), bx(b))
        }
    };
    operands.push(e);
    Ok(())
}

fn bind_match(target: Expr, re: Expr, negate: bool) -> R<Expr> {
    let target = match target {
        Expr::List(mut items) if items.len() == 1 => items.pop().unwrap_or(Expr::List(Vec::new())),
        t => t,
    };
    Ok(match re {
        Expr::Match(None, src, flags, _) => Expr::Match(Some(bx(target)), src, flags, negate),
        Expr::Subst(None, src, repl, flags) if !negate => {
            check_lvalue(&target)?;
            Expr::Subst(Some(bx(target)), src, repl, flags)
        }
        Expr::Trans(None, from, to, flags) if !negate => {
            check_lvalue(&target)?;
            Expr::Trans(Some(bx(target)), from, to, flags)
        }
        other => Expr::Match(
            Some(bx(target)),
            ReSrc::Dynamic(vec![Part::Scalar(other)], String::new()),
            ReFlags::default(),
            negate,
        ),
    })
}

fn is_list_lhs(e: &Expr) -> bool {
    match e {
        Expr::My(vars, paren) => *paren || vars.iter().any(|v| !matches!(v, MyVar::Scalar(_))),
        Expr::List(_) | Expr::Arr(_) | Expr::Hash(_) | Expr::SliceA(..) | Expr::SliceH(..) => true,
        _ => false,
    }
}

fn check_lvalue(e: &Expr) -> R<()> {
    match e {
        Expr::Lex(_)
        | Expr::Global(_)
        | Expr::ElemA(..)
        | Expr::ElemH(..)
        | Expr::DerefScalar(_)
        | Expr::My(..)
        | Expr::Arr(_)
        | Expr::Hash(_)
        | Expr::LastIdx(_)
        | Expr::Capture(_)
        | Expr::Assign(..)
        | Expr::Builtin(Bi::Pos, _)
        | Expr::SliceA(..)
        | Expr::SliceH(..)
        | Expr::Const(Value::Undef) => Ok(()),
        Expr::List(items) => items.iter().try_for_each(check_lvalue),
        Expr::Ternary(_, a, b) => {
            check_lvalue(a)?;
            check_lvalue(b)
        }
        Expr::Builtin(Bi::Undef, a) if a.is_empty() => Ok(()),
        Expr::Builtin(Bi::Substr, _) => Err(unsupported("substr as an lvalue")),
        _ => Err(syntax(
            "Can't modify non-lvalue subroutine call in assignment",
        )),
    }
}

/// Parses a numeric literal (`0x1f`, `0b101`, `1_000`, `1.5e3`).
fn parse_number_literal(t: &str) -> Value {
    let clean: String = t.chars().filter(|&c| c != '_').collect();
    if let Some(h) = clean
        .strip_prefix("0x")
        .or_else(|| clean.strip_prefix("0X"))
    {
        return i64::from_str_radix(h, 16)
            .map(Value::Int)
            .unwrap_or_else(|_| {
                Value::Num(u64::from_str_radix(h, 16).map(|u| u as f64).unwrap_or(0.0))
            });
    }
    if let Some(b) = clean
        .strip_prefix("0b")
        .or_else(|| clean.strip_prefix("0B"))
    {
        return Value::Int(i64::from_str_radix(b, 2).unwrap_or(0));
    }
    if clean.len() > 1 && clean.starts_with('0') && clean.bytes().all(|b| b.is_ascii_digit()) {
        return Value::Int(i64::from_str_radix(&clean[1..], 8).unwrap_or(0));
    }
    if !clean.contains(['.', 'e', 'E']) {
        if let Ok(i) = clean.parse::<i64>() {
            return Value::Int(i);
        }
    }
    let f = clean.parse::<f64>().unwrap_or(0.0);
    Value::Num(f)
}

/// The text of a single-quoted string: only `\\` and `\<delim>` are escapes.
fn unescape_single(s: &str, delim: char) -> String {
    let mut out = String::with_capacity(s.len());
    let mut it = s.chars().peekable();
    while let Some(c) = it.next() {
        if c == '\\' {
            match it.peek() {
                Some(&n) if n == '\\' || n == delim || (delim == '(' && n == ')') => {
                    out.push(n);
                    it.next();
                }
                _ => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

const BODY_RULES: &[Rule] = &[
    Rule::paren_body,
    Rule::brace_body,
    Rule::brack_body,
    Rule::angle_body,
    Rule::same_body,
];

fn bodies(p: P) -> (Vec<String>, String, char) {
    let mut out = Vec::new();
    let mut flags = String::new();
    let mut delim = '/';
    for x in p.into_inner() {
        let r = x.as_rule();
        if BODY_RULES.contains(&r) {
            if out.is_empty() {
                delim = match r {
                    Rule::paren_body => ')',
                    Rule::brace_body => '}',
                    Rule::brack_body => ']',
                    Rule::angle_body => '>',
                    _ => delim,
                };
            }
            out.push(x.as_str().to_string());
        } else if r == Rule::delim_char {
            delim = x.as_str().chars().next().unwrap_or('/');
        } else if r == Rule::re_flags {
            flags = x.as_str().to_string();
        }
    }
    (out, flags, delim)
}

fn expand_tr(s: &str) -> Vec<char> {
    let raw: Vec<char> = {
        let mut v = Vec::new();
        let mut it = s.chars().peekable();
        while let Some(c) = it.next() {
            if c == '\\' {
                match it.next() {
                    Some('n') => v.push('\n'),
                    Some('t') => v.push('\t'),
                    Some('r') => v.push('\r'),
                    Some('-') => v.push('\u{E000}'), // escaped dash placeholder
                    Some(o) => v.push(o),
                    None => v.push('\\'),
                }
            } else {
                v.push(c);
            }
        }
        v
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < raw.len() {
        if i + 2 < raw.len() && raw[i + 1] == '-' {
            let (a, b) = (raw[i] as u32, raw[i + 2] as u32);
            if a <= b {
                for c in a..=b {
                    if let Some(ch) = char::from_u32(c) {
                        out.push(ch);
                    }
                }
            }
            i += 3;
        } else {
            out.push(if raw[i] == '\u{E000}' { '-' } else { raw[i] });
            i += 1;
        }
    }
    out
}

fn find_close(chars: &[char], open_at: usize) -> Option<usize> {
    let open = chars[open_at];
    let close = match open {
        '{' => '}',
        '[' => ']',
        '(' => ')',
        _ => return None,
    };
    let mut depth = 0;
    let mut j = open_at;
    while j < chars.len() {
        let c = chars[j];
        if c == '\\' {
            j += 2;
            continue;
        }
        if c == open {
            depth += 1;
        } else if c == close {
            depth -= 1;
            if depth == 0 {
                return Some(j);
            }
        }
        j += 1;
    }
    None
}

/// The state of [`Compiler::interpolate`]: parts so far, pending literal text and the
/// active case modifiers.
struct InterpState {
    parts: Vec<Part>,
    lit: String,
    mode: Option<char>,
    next: Option<char>,
}

impl InterpState {
    /// Adds a literal character, applying the active case modifiers.
    fn push(&mut self, c: char) {
        let c = match self.next.take() {
            Some('u') => c.to_ascii_uppercase(),
            Some('l') => c.to_ascii_lowercase(),
            _ => c,
        };
        match self.mode {
            Some('L') => self.lit.push(c.to_ascii_lowercase()),
            Some('U') => self.lit.push(c.to_ascii_uppercase()),
            Some('Q') => {
                if c.is_ascii() && !(c.is_ascii_alphanumeric() || c == '_') {
                    self.lit.push('\\');
                }
                self.lit.push(c);
            }
            _ => self.lit.push(c),
        }
    }
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

/// The end (exclusive) of a variable expression starting at `chars[i]` (`$` or `@`) inside
/// an interpolated string or regex, or None when it is not a variable.
fn var_extent(chars: &[char], i: usize, regex: bool) -> Option<usize> {
    let sigil = chars[i];
    let mut j = i + 1;
    let mut c = *chars.get(j)?;
    if sigil == '$' && c == '#' {
        // $#array, $#{expr}, $#$ref
        let n = *chars.get(j + 1)?;
        if n == '{' {
            return Some(find_close(chars, j + 1)? + 1);
        }
        if !(n == '$' || is_ident_start(n)) {
            return None;
        }
        j += 1;
        c = n;
    }
    if sigil == '$' && c == '@' && j == i + 1 {
        return Some(j + 1);
    }
    if sigil == '$' && c == '+' && chars.get(j + 1) == Some(&'{') && !regex {
        return Some(find_close(chars, j + 1)? + 1);
    }
    if c == '{' {
        j = find_close(chars, j)? + 1;
    } else {
        if c == '$' {
            j += 1;
        }
        let c = *chars.get(j)?;
        if is_ident_start(c) {
            while j < chars.len() {
                if chars[j].is_ascii_alphanumeric() || chars[j] == '_' {
                    j += 1;
                } else if chars[j] == ':'
                    && chars.get(j + 1) == Some(&':')
                    && chars.get(j + 2).is_some_and(|c| is_ident_start(*c))
                {
                    j += 2;
                } else {
                    break;
                }
            }
        } else if c.is_ascii_digit() && sigil == '$' && j == i + 1 {
            while j < chars.len() && chars[j].is_ascii_digit() {
                j += 1;
            }
            return Some(j);
        } else if c == '&' && sigil == '$' && j == i + 1 {
            return Some(j + 1);
        } else {
            return None;
        }
    }
    if sigil == '@' {
        // a slice: @a[...] or @h{...}
        if matches!(chars.get(j), Some('[') | Some('{')) && !regex {
            if let Some(e) = find_close(chars, j) {
                return Some(e + 1);
            }
        }
        return Some(j);
    }
    loop {
        let arrow = chars.get(j) == Some(&'-') && chars.get(j + 1) == Some(&'>');
        let k = if arrow { j + 2 } else { j };
        match chars.get(k) {
            Some('[') if !regex || arrow => {
                let nx = chars.get(k + 1).copied().unwrap_or(' ');
                if !(arrow || nx.is_ascii_digit() || nx == '-' || nx == '$') {
                    break;
                }
                match find_close(chars, k) {
                    Some(e) => j = e + 1,
                    None => break,
                }
            }
            Some('{') if !regex || arrow => match find_close(chars, k) {
                Some(e) => j = e + 1,
                None => break,
            },
            _ => break,
        }
    }
    Some(j)
}

impl Compiler<'_> {
    fn primary2(&mut self, rule: Rule, p: P) -> R<Expr> {
        match rule {
            Rule::sort_call => {
                let args = p.into_inner().last().ok_or_else(|| syntax("sort"))?;
                let mut block = None;
                let mut list = Expr::List(Vec::new());
                for x in args.into_inner() {
                    if x.as_rule() == Rule::block {
                        block = Some(self.block(x)?);
                    } else {
                        list = self.expr(x)?;
                    }
                }
                Ok(Expr::Sort(block, bx(list)))
            }
            Rule::mapgrep_call => {
                let mut it = p.into_inner();
                let is_grep = it.next().is_some_and(|k| k.as_str() == "grep");
                let args = it.next().ok_or_else(|| syntax("map"))?;
                let mut block = None;
                let mut list = Expr::List(Vec::new());
                for x in args.into_inner() {
                    match x.as_rule() {
                        Rule::block => block = Some(self.block(x)?),
                        Rule::assign => block = Some(vec![Stmt::Expr(self.expr(x)?)]),
                        _ => list = self.expr(x)?,
                    }
                }
                Ok(Expr::MapGrep(is_grep, block.unwrap_or_default(), bx(list)))
            }
            Rule::zero_arg => match p.as_str().trim_end_matches(['(', ')', ' ']) {
                "time" => Ok(Expr::Builtin(Bi::Time, Vec::new())),
                "wantarray" => Ok(Expr::Builtin(Bi::Wantarray, Vec::new())),
                other => Err(unsupported(other.to_string())),
            },
            Rule::named_unary => {
                let v = inner(p);
                let name = v[0].as_str().to_string();
                let args = match v.get(1) {
                    Some(a) => vec![self.expr(a.clone())?],
                    None => Vec::new(),
                };
                self.builtin(&name, args)
            }
            Rule::func_call => {
                let v = inner(p);
                let name = v[0].as_str().to_string();
                let args = match v.get(1) {
                    Some(a) => self.arg_list(a.clone())?,
                    None => Vec::new(),
                };
                self.builtin(&name, args)
            }
            Rule::bareword => {
                let name = p.as_str();
                if UNSUPPORTED_FUNCS.contains(&name) {
                    return Err(unsupported(name.to_string()));
                }
                match name {
                    "time" => Ok(Expr::Builtin(Bi::Time, Vec::new())),
                    "__PACKAGE__" => Ok(Expr::Const(Value::str("main::SEC"))),
                    _ => Ok(Expr::Const(Value::str(name))),
                }
            }
            Rule::print_call => self.print_call(p),
            r => Err(syntax(format!("unexpected {r:?}"))),
        }
    }

    fn print_call(&mut self, p: P) -> R<Expr> {
        let mut it = p.into_inner();
        let is_printf = it.next().is_some_and(|k| k.as_str() == "printf");
        let args = it.next().ok_or_else(|| syntax("print"))?;
        let mut list = Vec::new();
        for x in args.into_inner() {
            if x.as_rule() == Rule::filehandle {
                let fh = x.as_str().trim();
                if fh != "STDOUT" {
                    return Err(unsupported(format!("print to filehandle {fh}")));
                }
            } else {
                list = self.arg_list(x)?;
            }
        }
        if list.is_empty() {
            list.push(Expr::Global(self.g.scalar("_")));
        }
        Ok(Expr::Print(is_printf, list))
    }

    fn my_var(&mut self, var: P) -> R<MyVar> {
        let name = var_name_of(&var);
        if name.contains("::") {
            return Err(syntax(format!(
                "\"my\" variable {name} can't be in a package"
            )));
        }
        Ok(match var.as_rule() {
            Rule::scalar_var => MyVar::Scalar(self.declare(format!("${name}"))),
            Rule::array_var => MyVar::Array(self.declare(format!("@{name}"))),
            Rule::hash_var => MyVar::Hash(self.declare(format!("%{name}"))),
            _ => MyVar::Skip,
        })
    }

    fn call_named(&mut self, name: &str, args: Vec<Expr>) -> R<Expr> {
        let n = global_name(name).ok_or_else(|| unsupported(format!("call to {name}()")))?;
        if UNSUPPORTED_FUNCS.contains(&n.as_str()) {
            return Err(unsupported(n));
        }
        Ok(Expr::CallNamed(self.g.sub(&n), n, args))
    }

    fn builtin(&mut self, name: &str, mut args: Vec<Expr>) -> R<Expr> {
        let topic = |c: &mut Compiler| Expr::Global(c.g.scalar("_"));
        let one_or_topic = |c: &mut Compiler, args: &mut Vec<Expr>| {
            if args.is_empty() {
                args.push(topic(c));
            }
        };
        let bi = match name {
            "defined" => Bi::Defined,
            "undef" => Bi::Undef,
            "exists" | "delete" => {
                if !matches!(args.first(), Some(Expr::ElemA(..) | Expr::ElemH(..)))
                    || args.len() != 1
                {
                    return Err(syntax(format!(
                        "{name} argument is not a HASH or ARRAY element"
                    )));
                }
                if name == "exists" {
                    Bi::Exists
                } else {
                    Bi::Delete
                }
            }
            "length" => Bi::Length,
            "substr" => Bi::Substr,
            "index" => Bi::Index,
            "rindex" => Bi::Rindex,
            "lc" | "fc" => Bi::Lc,
            "uc" => Bi::Uc,
            "lcfirst" => Bi::Lcfirst,
            "ucfirst" => Bi::Ucfirst,
            "sprintf" => Bi::Sprintf,
            "join" => Bi::Join,
            "keys" | "values" | "each" => {
                if !matches!(args.first(), Some(Expr::Hash(_) | Expr::Arr(_))) {
                    return Err(syntax(format!(
                        "Experimental {name} on scalar is now forbidden"
                    )));
                }
                match name {
                    "keys" => Bi::Keys,
                    "values" => Bi::Values,
                    _ => Bi::Each,
                }
            }
            "scalar" => Bi::Scalar,
            "reverse" => Bi::Reverse,
            "push" | "unshift" | "pop" | "shift" | "splice" => {
                if args.is_empty() && (name == "pop" || name == "shift") {
                    args.push(Expr::Arr(ArrT::Args));
                }
                if !matches!(args.first(), Some(Expr::Arr(_))) {
                    return Err(syntax(format!("Type of arg 1 to {name} must be array")));
                }
                match name {
                    "push" => Bi::Push,
                    "unshift" => Bi::Unshift,
                    "pop" => Bi::Pop,
                    "shift" => Bi::Shift,
                    _ => Bi::Splice,
                }
            }
            "time" => Bi::Time,
            "wantarray" => Bi::Wantarray,
            "localtime" => Bi::Localtime,
            "gmtime" => Bi::Gmtime,
            "int" | "abs" | "sqrt" | "log" | "exp" | "sin" | "cos" | "hex" | "oct" | "chr"
            | "ord" | "lc_" | "quotemeta" | "chomp" | "chop" | "ref" => {
                one_or_topic(self, &mut args);
                match name {
                    "int" => Bi::Int,
                    "abs" => Bi::Abs,
                    "sqrt" => Bi::Sqrt,
                    "log" => Bi::Log,
                    "exp" => Bi::Exp,
                    "sin" => Bi::Sin,
                    "cos" => Bi::Cos,
                    "hex" => Bi::Hex,
                    "oct" => Bi::Oct,
                    "chr" => Bi::Chr,
                    "ord" => Bi::Ord,
                    "quotemeta" => Bi::Quotemeta,
                    "chomp" => Bi::Chomp,
                    "chop" => Bi::Chop,
                    _ => Bi::Ref,
                }
            }
            "atan2" => Bi::Atan2,
            "rand" => Bi::Rand,
            "die" => Bi::Die,
            "warn" => Bi::Warn,
            "pos" => Bi::Pos,
            "stat" => {
                one_or_topic(self, &mut args);
                Bi::Stat
            }
            "exit" => Bi::Exit,
            "split" => return self.split(args),
            "use" | "no" => {
                let what = match args.first() {
                    Some(Expr::Const(v)) => v.to_string_perl(),
                    _ => String::new(),
                };
                if matches!(
                    what.as_str(),
                    "strict" | "warnings" | "utf8" | "integer_off"
                ) {
                    return Ok(Expr::List(Vec::new()));
                }
                return Err(unsupported(format!("{name} {what}")));
            }
            "require" => {
                let what = args
                    .first()
                    .map(|a| match a {
                        Expr::Const(v) => v.to_string_perl(),
                        _ => "EXPR".into(),
                    })
                    .unwrap_or_default();
                return Err(unsupported(format!("require {what}")));
            }
            _ => return self.call_named(name, args),
        };
        if matches!(
            bi,
            Bi::Length | Bi::Lc | Bi::Uc | Bi::Lcfirst | Bi::Ucfirst | Bi::Defined | Bi::Pos
        ) && args.is_empty()
            && bi != Bi::Defined
        {
            one_or_topic(self, &mut args);
        }
        if bi == Bi::Defined && args.is_empty() {
            one_or_topic(self, &mut args);
        }
        Ok(Expr::Builtin(bi, args))
    }

    fn split(&mut self, mut args: Vec<Expr>) -> R<Expr> {
        if args.is_empty() {
            return Ok(Expr::Split(
                None,
                Some(bx(Expr::Global(self.g.scalar("_")))),
                None,
            ));
        }
        let pat = args.remove(0);
        let re = match pat {
            Expr::Match(None, ReSrc::Static(r), _, _) if r.source == "^" => {
                // split /^/ means split /^/m
                Some(ReSrc::Static(Rc::new(Re::new("^", "m").map_err(syntax)?)))
            }
            Expr::Match(None, src, _, _) => Some(src),
            Expr::Const(v) if v.to_string_perl() == " " => None,
            Expr::Const(v) => Some(ReSrc::Static(Rc::new(
                Re::new(&v.to_string_perl(), "").map_err(syntax)?,
            ))),
            other => Some(ReSrc::Dynamic(vec![Part::Scalar(other)], String::new())),
        };
        let mut it = args.into_iter();
        let s = it
            .next()
            .unwrap_or_else(|| Expr::Global(self.g.scalar("_")));
        let limit = it.next();
        Ok(Expr::Split(re, Some(bx(s)), limit.map(bx)))
    }

    fn quote_like(&mut self, p: P) -> R<Expr> {
        let kw = p
            .clone()
            .into_inner()
            .next()
            .map(|k| k.as_str().to_string())
            .unwrap_or_default();
        let (b, flags, delim) = bodies(p);
        let body = b.first().cloned().unwrap_or_default();
        match kw.as_str() {
            "q" => Ok(Expr::Const(Value::from(unescape_single(&body, delim)))),
            "qq" => self.interp_string(&body),
            "qw" => Ok(Expr::List(
                body.split_whitespace()
                    .map(|w| Expr::Const(Value::str(w)))
                    .collect(),
            )),
            "m" => self.match_expr(&body, &flags),
            "qr" => Err(unsupported("qr//")),
            _ => Err(unsupported("qx//")),
        }
    }

    fn regex_src(&mut self, body: &str, flags: &str) -> R<ReSrc> {
        let parts = self.interpolate(body, true)?;
        let re_flags: String = flags.chars().filter(|c| "imsx".contains(*c)).collect();
        if parts.iter().all(|p| matches!(p, Part::Lit(_))) {
            let text: String = parts
                .iter()
                .map(|p| match p {
                    Part::Lit(s) => s.as_str(),
                    _ => "",
                })
                .collect();
            let re = Re::new(&text, &re_flags).map_err(syntax)?;
            Ok(ReSrc::Static(Rc::new(re)))
        } else {
            Ok(ReSrc::Dynamic(parts, re_flags))
        }
    }

    fn match_expr(&mut self, body: &str, flags: &str) -> R<Expr> {
        let src = self.regex_src(body, flags)?;
        let f = ReFlags {
            global: flags.contains('g'),
            ..Default::default()
        };
        Ok(Expr::Match(None, src, f, false))
    }

    fn subst(&mut self, p: P) -> R<Expr> {
        let (b, flags, _) = bodies(p);
        if b.len() != 2 {
            return Err(syntax("Substitution replacement not terminated"));
        }
        let src = self.regex_src(&b[0], &flags)?;
        let repl = if flags.contains('e') {
            let mut pairs = PerlParser::parse(Rule::program, &b[1])
                .map_err(|_| unsupported("s///e replacement syntax"))?;
            let prog = pairs.next().ok_or_else(|| syntax("s///e"))?;
            let st = first(prog)?;
            Expr::DoBlock(self.stmts(st)?)
        } else {
            self.interp_string(&b[1])?
        };
        let f = ReFlags {
            global: flags.contains('g'),
            ret: flags.contains('r'),
        };
        Ok(Expr::Subst(None, src, bx(repl), f))
    }

    fn translit(&mut self, p: P) -> R<Expr> {
        let (b, flags, _) = bodies(p);
        if b.len() != 2 {
            return Err(syntax("Transliteration replacement not terminated"));
        }
        if flags.contains('c') {
            return Err(unsupported("tr///c"));
        }
        Ok(Expr::Trans(None, expand_tr(&b[0]), expand_tr(&b[1]), flags))
    }

    fn interp_string(&mut self, body: &str) -> R<Expr> {
        let mut parts = self.interpolate(body, false)?;
        if parts.is_empty() {
            return Ok(Expr::Const(Value::str("")));
        }
        if parts.len() == 1 {
            if let Part::Lit(s) = &parts[0] {
                return Ok(Expr::Const(Value::str(s)));
            }
        }
        if parts.len() == 1 {
            if let Some(Part::Scalar(_)) = parts.first() {
                // keep as Interp: stringification matters ("$x" of a number)
            }
        }
        parts.shrink_to_fit();
        Ok(Expr::Interp(parts))
    }

    fn var_expr(&mut self, text: &str) -> R<Expr> {
        let mut pairs = PerlParser::parse(Rule::interp_expr, text)
            .map_err(|_| unsupported(format!("interpolation of {text}")))?;
        let top = pairs.next().ok_or_else(|| syntax("interpolation"))?;
        let pe = first(top)?;
        self.postfix_expr(pe)
    }

    /// Splits string or regex text into literal and interpolated parts, applying the
    /// escapes of double-quoted strings (`\n`, `\x{263A}`, ...) and the case modifiers
    /// `\l \u \L \U \Q \E` (in a regex, only `\Q...\E`; other escapes stay for the engine).
    fn interpolate(&mut self, s: &str, regex: bool) -> R<Vec<Part>> {
        let chars: Vec<char> = s.chars().collect();
        let mut st = InterpState {
            parts: Vec::new(),
            lit: String::new(),
            mode: None,
            next: None,
        };
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if c == '\\' && i + 1 < chars.len() {
                let n = chars[i + 1];
                match n {
                    'Q' | 'L' | 'U' if !regex || n == 'Q' => {
                        st.mode = Some(n);
                        i += 2;
                        continue;
                    }
                    'E' if !regex || st.mode.is_some() => {
                        st.mode = None;
                        i += 2;
                        continue;
                    }
                    'l' | 'u' if !regex => {
                        st.next = Some(n);
                        i += 2;
                        continue;
                    }
                    _ => {}
                }
                if regex {
                    if st.mode == Some('Q') {
                        st.push(n);
                    } else {
                        st.lit.push(c);
                        st.lit.push(n);
                    }
                    i += 2;
                    continue;
                }
                i += 2;
                match n {
                    'n' => st.push('\n'),
                    't' => st.push('\t'),
                    'r' => st.push('\r'),
                    'f' => st.push('\x0c'),
                    'a' => st.push('\x07'),
                    'e' => st.push('\x1b'),
                    'b' => st.push('\x08'),
                    '0'..='7' => {
                        let mut v = n.to_digit(8).unwrap_or(0);
                        let mut k = 0;
                        while k < 2 && i < chars.len() && chars[i].is_digit(8) {
                            v = v * 8 + chars[i].to_digit(8).unwrap_or(0);
                            i += 1;
                            k += 1;
                        }
                        st.push(char::from_u32(v).unwrap_or('\u{FFFD}'));
                    }
                    'x' => {
                        let mut hex = String::new();
                        if chars.get(i) == Some(&'{') {
                            i += 1;
                            while i < chars.len() && chars[i] != '}' {
                                hex.push(chars[i]);
                                i += 1;
                            }
                            i += 1;
                        } else {
                            while hex.len() < 2 && i < chars.len() && chars[i].is_ascii_hexdigit() {
                                hex.push(chars[i]);
                                i += 1;
                            }
                        }
                        let v = u32::from_str_radix(hex.trim(), 16).unwrap_or(0);
                        st.push(char::from_u32(v).unwrap_or('\u{FFFD}'));
                    }
                    other => st.push(other),
                }
                continue;
            }
            if c == '$' || (c == '@' && !regex) {
                if regex && c == '$' {
                    let nx = chars.get(i + 1).copied();
                    if matches!(nx, None | Some(')') | Some('|')) {
                        st.lit.push(c);
                        i += 1;
                        continue;
                    }
                }
                if let Some(end) = var_extent(&chars, i, regex) {
                    let text: String = chars[i..end].iter().collect();
                    let mut e = self.var_expr(&text)?;
                    let list = c == '@';
                    if list && (st.mode.is_some() || st.next.is_some()) {
                        // join first, then apply the modifiers to the text
                        let sep = Expr::Const(Value::str(" "));
                        e = Expr::Builtin(Bi::Join, vec![sep, e]);
                    }
                    e = match st.mode {
                        Some('L') => Expr::Builtin(Bi::Lc, vec![e]),
                        Some('U') => Expr::Builtin(Bi::Uc, vec![e]),
                        Some('Q') => Expr::Builtin(Bi::Quotemeta, vec![e]),
                        _ => e,
                    };
                    e = match st.next.take() {
                        Some('l') => Expr::Builtin(Bi::Lcfirst, vec![e]),
                        Some('u') => Expr::Builtin(Bi::Ucfirst, vec![e]),
                        _ => e,
                    };
                    if !st.lit.is_empty() {
                        st.parts.push(Part::Lit(std::mem::take(&mut st.lit)));
                    }
                    let modified = matches!(e, Expr::Builtin(..)) && list;
                    st.parts.push(if list && !modified {
                        Part::List(e)
                    } else {
                        Part::Scalar(e)
                    });
                    i = end;
                    continue;
                }
            }
            if regex && st.mode != Some('Q') {
                st.lit.push(c);
            } else {
                st.push(c);
            }
            i += 1;
        }
        if !st.lit.is_empty() {
            st.parts.push(Part::Lit(st.lit));
        }
        Ok(st.parts)
    }
}
