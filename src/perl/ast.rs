//! The compiled form of a snippet: a tree with `my` variables resolved to frame slots and
//! package variables resolved to their shared containers.

use std::cell::RefCell;
use std::rc::Rc;

use super::re::Re;
use super::value::{ArrayRc, HashRc, ScalarCell, Value};

/// A compiled sub (or a whole snippet): its body and frame layout.
#[derive(Debug)]
pub struct SubDef {
    /// The statements.
    pub body: Block,
    /// Number of frame slots for `my` variables (including captured ones).
    pub nslots: usize,
    /// Captured variables: (slot in the enclosing frame, slot in this frame).
    pub captures: Vec<(usize, usize)>,
}

/// A sequence of statements.
pub type Block = Vec<Stmt>;

/// A statement.
#[derive(Debug)]
pub enum Stmt {
    /// An expression statement.
    Expr(Expr),
    /// `if`/`elsif`/`else` (an `unless` condition is negated at compile time).
    If(Vec<(Expr, Block)>, Option<Block>),
    /// `while`/`until`/C-style `for`: condition (None = forever), body, step.
    While(Option<Expr>, Block, Option<Expr>),
    /// `foreach`.
    Foreach(LoopVar, Expr, Block),
    /// A bare block (a loop that runs once, for `last`).
    Block(Block),
    /// `sub NAME {...}`: binds the named sub when executed.
    SubDecl(Rc<RefCell<Option<Value>>>, Rc<SubDef>),
}

/// The variable a `foreach` loop sets.
#[derive(Debug)]
pub enum LoopVar {
    /// `foreach my $x`: a fresh lexical per iteration.
    My(usize),
    /// `foreach $x` where `$x` is a lexical declared earlier.
    Lex(usize),
    /// A package variable (including `$_`), restored after the loop.
    Global(Rc<ScalarCell>),
}

/// The array an element access or array expression refers to.
#[derive(Debug)]
pub enum ArrT {
    /// A `my` array.
    Lex(usize),
    /// A package array.
    Global(ArrayRc),
    /// `@_`.
    Args,
    /// `@{EXPR}`, `$x->[...]`.
    Deref(Box<Expr>),
}

/// The hash an element access or hash expression refers to.
#[derive(Debug)]
pub enum HashT {
    /// A `my` hash.
    Lex(usize),
    /// A package hash.
    Global(HashRc),
    /// `%{EXPR}`, `$x->{...}`.
    Deref(Box<Expr>),
}

/// A piece of an interpolated string.
#[derive(Debug)]
pub enum Part {
    /// Literal text.
    Lit(String),
    /// A scalar expression, stringified.
    Scalar(Expr),
    /// An array expression, joined with a space.
    List(Expr),
}

/// A regex operand: compiled once, or built at run time from interpolated parts.
#[derive(Debug)]
pub enum ReSrc {
    /// A constant pattern.
    Static(Rc<Re>),
    /// A pattern with interpolated variables, and its flags.
    Dynamic(Vec<Part>, String),
}

/// Binary operators with both operands evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum BinOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Concat,
    Repeat,
    NumEq,
    NumNe,
    NumLt,
    NumGt,
    NumLe,
    NumGe,
    NumCmp,
    StrEq,
    StrNe,
    StrLt,
    StrGt,
    StrLe,
    StrGe,
    StrCmp,
    BitAnd,
    BitOr,
    BitXor,
    Shl,
    Shr,
}

/// Short-circuit operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogOp {
    /// `&&`, `and`.
    And,
    /// `||`, `or`.
    Or,
    /// `//`.
    Dor,
}

/// Builtin functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Bi {
    Defined,
    Undef,
    Exists,
    Delete,
    Length,
    Substr,
    Index,
    Rindex,
    Lc,
    Uc,
    Lcfirst,
    Ucfirst,
    Sprintf,
    Join,
    Keys,
    Values,
    Each,
    Scalar,
    Reverse,
    Push,
    Pop,
    Shift,
    Unshift,
    Splice,
    Time,
    Localtime,
    Gmtime,
    Int,
    Abs,
    Sqrt,
    Log,
    Exp,
    Sin,
    Cos,
    Atan2,
    Hex,
    Oct,
    Rand,
    Chr,
    Ord,
    Die,
    Warn,
    Ref,
    Chomp,
    Chop,
    Quotemeta,
    Wantarray,
    Pos,
    Stat,
    Exit,
}

/// An expression.
#[derive(Debug)]
pub enum Expr {
    /// A constant.
    Const(Value),
    /// An interpolated string.
    Interp(Vec<Part>),
    /// A `my` scalar.
    Lex(usize),
    /// A package scalar.
    Global(Rc<ScalarCell>),
    /// `$1`, `$2`, ... of the last successful match.
    Capture(usize),
    /// `$&`.
    MatchAll,
    /// `$+{name}`: a named capture group of the last successful match.
    NamedCapture(Box<Expr>),
    /// An array used as a whole.
    Arr(ArrT),
    /// A hash used as a whole.
    Hash(HashT),
    /// An array element.
    ElemA(ArrT, Box<Expr>),
    /// A hash element.
    ElemH(HashT, Box<Expr>),
    /// `$#array`.
    LastIdx(ArrT),
    /// `${EXPR}` / `$$x`.
    DerefScalar(Box<Expr>),
    /// `my` declaration of these (kind, slot) variables; `paren` for the list form.
    My(Vec<MyVar>, bool),
    /// A parenthesised list.
    List(Vec<Expr>),
    /// An array slice `@a[LIST]`.
    SliceA(ArrT, Box<Expr>),
    /// A hash slice `@h{LIST}`.
    SliceH(HashT, Box<Expr>),
    /// A list slice `(LIST)[IDX]`.
    Slice(Box<Expr>, Box<Expr>),
    /// `[ ... ]`.
    AnonArray(Option<Box<Expr>>),
    /// `{ ... }`.
    AnonHash(Option<Box<Expr>>),
    /// `sub { ... }`.
    AnonSub(Rc<SubDef>),
    /// `\EXPR`.
    RefOf(Box<Expr>),
    /// Scalar assignment.
    Assign(Box<Expr>, Box<Expr>),
    /// List assignment.
    ListAssign(Box<Expr>, Box<Expr>),
    /// `lhs OP= rhs`.
    OpAssign(BinOp, Box<Expr>, Box<Expr>),
    /// `lhs &&= rhs` etc.
    LogAssign(LogOp, Box<Expr>, Box<Expr>),
    /// A binary operator.
    Bin(BinOp, Box<Expr>, Box<Expr>),
    /// A short-circuit operator.
    Log(LogOp, Box<Expr>, Box<Expr>),
    /// `!`, `not`.
    Not(Box<Expr>),
    /// Unary minus.
    Neg(Box<Expr>),
    /// `~`.
    BitNot(Box<Expr>),
    /// `?:`.
    Ternary(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `++`/`--`: (is_increment, is_prefix, operand).
    IncDec(bool, bool, Box<Expr>),
    /// `a .. b`.
    Range(Box<Expr>, Box<Expr>),
    /// `m//`: target (None = `$_`), regex, flags, negated (`!~`).
    Match(Option<Box<Expr>>, ReSrc, ReFlags, bool),
    /// `s///`: target, regex, replacement, flags.
    Subst(Option<Box<Expr>>, ReSrc, Box<Expr>, ReFlags),
    /// `tr///`: target, from-chars, to-chars, flags (c d s r).
    Trans(Option<Box<Expr>>, Vec<char>, Vec<char>, String),
    /// `$f->(...)`, `&$f(...)`.
    CallRef(Box<Expr>, Vec<Expr>),
    /// `name(...)`: the named sub's slot, its name, arguments.
    CallNamed(Rc<RefCell<Option<Value>>>, String, Vec<Expr>),
    /// A builtin.
    Builtin(Bi, Vec<Expr>),
    /// `split`: pattern (None = awk-style `' '`), string, limit.
    Split(Option<ReSrc>, Option<Box<Expr>>, Option<Box<Expr>>),
    /// `sort`: comparator block, list.
    Sort(Option<Block>, Box<Expr>),
    /// `map`/`grep`: is_grep, block, list.
    MapGrep(bool, Block, Box<Expr>),
    /// `print`/`printf`: is_printf, arguments.
    Print(bool, Vec<Expr>),
    /// `return`.
    Return(Option<Box<Expr>>),
    /// `last` (true) / `next` (false).
    LoopCtl(bool),
    /// `do { ... }`.
    DoBlock(Block),
    /// `eval { ... }`.
    EvalBlock(Block),
}

/// A variable in a `my` declaration.
#[derive(Debug, Clone, Copy)]
pub enum MyVar {
    /// `my $x` in slot.
    Scalar(usize),
    /// `my @x` in slot.
    Array(usize),
    /// `my %x` in slot.
    Hash(usize),
    /// `undef` placeholder in `my (undef, $x)`.
    Skip,
}

/// Regex operator flags.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReFlags {
    /// `/g`.
    pub global: bool,
    /// `/r` (s/// only).
    pub ret: bool,
}
