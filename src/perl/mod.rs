//! A native interpreter for the Perl subset that SEC rule files embed.
//!
//! This module owns Perl values (undef, numbers, strings, references) with Perl's coercions,
//! and the compilation and evaluation of Perl snippets: PerlFunc patterns, context operands
//! (`->`, `:>`, `=(...)`) and the `eval`, `call` and `lcall` actions all come here as text or
//! code references. It knows nothing about rules, events or contexts; callers hand it code
//! and arguments and get values back.
//!
//! All code runs as if in package `main::SEC`: package variables (`$b`, `%hash`) persist in
//! the [`Interp`] between snippets, while `my` variables are resolved to frame slots at
//! compile time. Code outside the supported subset (`require`, `open`, backticks, `system`,
//! string `eval`, `local`, `main::` internals, other packages' functions, filehandles other
//! than STDOUT, ...) is rejected at compile time with [`ErrorKind::Unsupported`] naming the
//! construct, so that a bridge to a real perl can run it instead ([`supports`]).
//!
//! # The subset
//!
//! * Values: undef, integers and floats (printed as Perl prints them, `%.15g`), strings,
//!   references to arrays, hashes, code and scalars; Perl's numification (`"10abc"` is 10),
//!   truthiness (`"0"`, `""`, `0`, undef false; `"0.0"`, `"00"` true) and string increment.
//! * Syntax: `my`/`our`, scalars, arrays, hashes, elements, slices, `$#a`, derefs (`@{$r}`,
//!   `$r->{k}[0]`, `$$r[0]`), anonymous arrays/hashes/subs with closures, `$f->(...)`,
//!   `&$f(...)`, named subs; `if`/`elsif`/`else`/`unless`, `while`/`until`, C-style `for`,
//!   `foreach` (aliasing array elements), statement modifiers, `do {} while`, `last`/`next`,
//!   `return`, `do {}`, `eval {}`; all the usual operators; `m//`, `s///` (`g i m s x e r`),
//!   `tr///` (`d s r`), `\G` with `pos`, `$1`.., `$&`, `$+{name}`; interpolation of `$x`,
//!   `${x}`, elements, slices, `@a`, `$#a`, `\u \l \U \L \Q \E` and the usual escapes;
//!   `q qq qw`, numeric literals, v-strings, comments.
//! * Builtins: defined undef exists delete length substr index rindex lc uc lcfirst ucfirst
//!   sprintf join split keys values each scalar map grep sort reverse push pop shift unshift
//!   splice wantarray time localtime gmtime int abs sqrt log exp sin cos atan2 hex oct rand chr
//!   ord chomp chop quotemeta ref pos stat print printf die warn exit, `%ENV`.
//!
//! # Differences from perl
//!
//! * Strings are Rust strings (UTF-8). `length`, `substr`, `index`, `ord` and the case
//!   functions use bytes and ASCII, as perl does on undecoded input; regexes, `reverse`,
//!   `tr` and `chr` work on characters.
//! * Integers are 64-bit signed; perl's unsigned range above 2**63 becomes a float.
//! * Regexes run on `fancy-regex` behind a small internal shim (`re.rs`) that translates
//!   Perl-only syntax (`$`, `\Z`, `\h`, literal braces); it is the one place to swap in the
//!   project's Perl-dialect regex wrapper.
//! * `@_` holds copies of the arguments (assigning to `$_[0]` does not change the caller's
//!   variable); `map`/`grep` give `$_` a copy.
//! * `die` messages end in ` at (eval) line 1.` rather than perl's `(eval N) line L`.
//! * Evaluation nesting is bounded (sub call depth and about 1 MiB of stack below the
//!   `eval`/`call` entry point); exceeding it is a [`ErrorKind::Die`] error, never a crash.
//!
//! ```
//! use rsec::perl::{Context, Interp, Value};
//! let mut p = Interp::new();
//! let code = p.compile("sub { $_[0] > 1024 }").unwrap();
//! let f = p.eval(&code, Context::Scalar).unwrap().remove(0);
//! let r = p.call(&f, vec![Value::from("2048")], Context::Scalar).unwrap();
//! assert!(r[0].truthy());
//! ```

mod ast;
pub mod bridge;
mod builtins;
mod eval;
mod parse;
mod re;
mod value;

thread_local! {
    /// Where Perl's `time()` reads the time (None: the wall clock).
    static TIME_SOURCE: std::cell::RefCell<Option<Box<dyn Fn() -> i64>>> =
        const { std::cell::RefCell::new(None) };
}

/// Makes Perl's `time()` (and `localtime`/`gmtime` without an argument) follow `now`
/// instead of the wall clock, in the native interpreter and in the bridge: in event mode
/// (`--time-source=event`) user code sees the event time. None restores the wall clock.
pub fn set_time_source(now: Option<Box<dyn Fn() -> i64>>) {
    TIME_SOURCE.with(|t| *t.borrow_mut() = now);
}

/// The time set by [`set_time_source`], if any.
pub fn event_now() -> Option<i64> {
    TIME_SOURCE.with(|t| t.borrow().as_ref().map(|f| f()))
}

/// What Perl's `time()` returns.
pub fn now() -> i64 {
    event_now().unwrap_or_else(crate::timefmt::now)
}

use std::collections::HashMap;
use std::fmt;
use std::io::Write;
use std::rc::Rc;

pub use value::{
    format_num, looks_like_number, parse_num, string_increment, ArrayRc, CodeRef, HashRc, Num,
    PerlHash, ScalarCell, Value,
};

/// The context a snippet or sub is evaluated in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// Scalar context: the result is one value.
    Scalar,
    /// List context: the result is a list.
    List,
}

/// What kind of failure a [`PerlError`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// The code is not valid Perl as far as this interpreter can tell.
    Syntax,
    /// The code uses something outside the native subset (see [`PerlError::construct`]);
    /// this includes syntax the native parser does not understand.
    Unsupported,
    /// `die` or a run-time error (division by zero, calling a non-code value, ...).
    Die,
    /// The code called `exit(N)`.
    Exit(i32),
}

/// An error from compiling or running Perl code, with a Perl-like message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PerlError {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// The message, worded like Perl's (`die` messages end in a newline as in `$@`).
    pub message: String,
    /// For [`ErrorKind::Unsupported`]: the construct that is not supported.
    pub construct: Option<String>,
}

impl fmt::Display for PerlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message.trim_end())
    }
}

impl std::error::Error for PerlError {}

/// A snippet uses a construct the native interpreter does not support.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported {
    /// The construct, e.g. `require Storable`, `open`, `call to Storable::store()`.
    pub construct: String,
}

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unsupported in native Perl: {}", self.construct)
    }
}

/// Compiled code: parsed once, cheap to clone and keep (shares the tree).
#[derive(Clone)]
pub struct Code(Rc<ast::SubDef>);

impl fmt::Debug for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Code({:p})", Rc::as_ptr(&self.0))
    }
}

/// The interpreter: package variables of `main::SEC`, named subs, the output writer and
/// the match state. Not thread-safe (values use `Rc`); keep one per engine thread.
pub struct Interp {
    globals: parse::Globals,
    out: Box<dyn Write>,
    depth: usize,
    ret: Vec<Value>,
    last_match: Option<Rc<eval::LastMatch>>,
    re_cache: HashMap<(String, String), Rc<re::Re>>,
    pos_other: HashMap<usize, (usize, bool)>,
    each_state: HashMap<usize, usize>,
    topic: Rc<ScalarCell>,
    sort_a: Rc<ScalarCell>,
    sort_b: Rc<ScalarCell>,
    eval_error: Rc<ScalarCell>,
    rand_state: u64,
    stack_base: usize,
    awk_re: Option<Rc<re::Re>>,
    compiled: HashMap<String, Code>,
}

/// How many compiled snippets [`Interp::compile`] keeps.
const COMPILE_CACHE_SIZE: usize = 4096;

impl Default for Interp {
    fn default() -> Self {
        Interp::new()
    }
}

impl Interp {
    /// A fresh interpreter printing to standard output, with `%ENV` filled from the process
    /// environment.
    pub fn new() -> Interp {
        let mut globals = parse::Globals::default();
        let topic = globals.scalar("_");
        let sort_a = globals.scalar("a");
        let sort_b = globals.scalar("b");
        let eval_error = globals.scalar("@");
        eval_error.set(Value::str(""));
        globals.scalar("0").set(Value::str("sec"));
        {
            let env = globals.hash("ENV");
            let mut e = env.borrow_mut();
            for (k, v) in std::env::vars_os() {
                e.insert(
                    k.to_string_lossy().into_owned(),
                    Value::from(v.to_string_lossy().into_owned()),
                );
            }
        }
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0x9E37_79B9_7F4A_7C15)
            | 1;
        Interp {
            globals,
            out: Box::new(std::io::stdout()),
            depth: 0,
            ret: Vec::new(),
            last_match: None,
            re_cache: HashMap::new(),
            pos_other: HashMap::new(),
            each_state: HashMap::new(),
            topic,
            sort_a,
            sort_b,
            eval_error,
            rand_state: seed,
            stack_base: 0,
            awk_re: None,
            compiled: HashMap::new(),
        }
    }

    /// Sends `print` output to `w` instead of standard output.
    pub fn set_output(&mut self, w: Box<dyn Write>) {
        self.out = w;
    }

    /// Flushes the `print` writer.
    pub fn flush(&mut self) {
        let _ = self.out.flush();
    }

    /// Parses and compiles `code` once. Named subs (`sub name {...}`) are defined now, as
    /// Perl defines them at compile time; package variables are created as they are seen.
    ///
    /// Compiled code is cached by its text (SEC compiles `=(...)` operands on every
    /// evaluation), so compiling the same text again is a lookup.
    pub fn compile(&mut self, code: &str) -> Result<Code, PerlError> {
        if let Some(c) = self.compiled.get(code) {
            return Ok(c.clone());
        }
        let globals = &mut self.globals;
        let c = guard(|| parse::compile(code, globals))
            .and_then(|r| r)
            .map(|d| Code(Rc::new(d)))?;
        if self.compiled.len() >= COMPILE_CACHE_SIZE {
            self.compiled.clear();
        }
        self.compiled.insert(code.to_string(), c.clone());
        Ok(c)
    }

    /// Runs compiled code (like Perl's `eval` of the text) in the given context and returns
    /// its value: the value of the last statement, or what `return` gave.
    pub fn eval(&mut self, code: &Code, ctx: Context) -> Result<Vec<Value>, PerlError> {
        self.enter();
        let r = guard(|| self.run_sub(&code.0, &[], Vec::new(), ctx)).and_then(|r| r);
        self.leave();
        r
    }

    /// Calls a code reference with `args` as `@_`.
    pub fn call(
        &mut self,
        f: &Value,
        args: Vec<Value>,
        ctx: Context,
    ) -> Result<Vec<Value>, PerlError> {
        self.enter();
        let r = guard(|| match self.call_list(f, args, ctx) {
            Ok(v) => Ok(v),
            Err(eval::Flow::Err(e)) => Err(e),
            Err(_) => Err(eval::die("Can't return outside a subroutine")),
        })
        .and_then(|r| r);
        self.leave();
        r
    }

    fn enter(&mut self) {
        if self.depth == 0 {
            self.stack_base = eval::stack_here();
        }
    }

    fn leave(&mut self) {
        // after an internal error the depth count may be off: it is 0 between calls
        self.depth = 0;
        self.stack_base = 0;
    }

    /// The value of package scalar `$name` (in `main::SEC`), undef if never set.
    pub fn get_scalar(&mut self, name: &str) -> Value {
        self.globals.scalar(name).get()
    }

    /// Sets package scalar `$name` (in `main::SEC`).
    pub fn set_scalar(&mut self, name: &str, v: Value) {
        self.globals.scalar(name).set(v);
    }

    /// The package hash `%name` (in `main::SEC`), shared with running code.
    pub fn hash(&mut self, name: &str) -> HashRc {
        self.globals.hash(name)
    }

    /// The package array `@name` (in `main::SEC`), shared with running code.
    pub fn array(&mut self, name: &str) -> ArrayRc {
        self.globals.array(name)
    }
}

/// Runs `f`, turning a panic (an interpreter bug) into an error instead of unwinding into
/// the caller.
fn guard<T>(f: impl FnOnce() -> T) -> Result<T, PerlError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|p| {
        let what = p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        PerlError {
            kind: ErrorKind::Die,
            message: format!("internal error in the native Perl interpreter: {what}\n"),
            construct: None,
        }
    })
}

/// Checks whether `code` is inside the native subset, without running it; the error names
/// the first unsupported construct (text the native parser does not understand counts as
/// unsupported, so that a real perl can judge it).
pub fn supports(code: &str) -> Result<(), Unsupported> {
    let mut g = parse::Globals::default();
    match guard(|| parse::compile(code, &mut g)).and_then(|r| r) {
        Ok(_) => Ok(()),
        Err(e) if e.kind == ErrorKind::Unsupported => Err(Unsupported {
            construct: e.construct.unwrap_or(e.message),
        }),
        Err(_) => Ok(()),
    }
}
