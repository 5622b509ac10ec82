//! The engine's Perl points (man sec, "PERL INTEGRATION"): PerlFunc and NPerlFunc
//! patterns, egptype PerlFunc, context operands `->`, `:>` and `=( )`, and the actions
//! eval, call and lcall. This module owns only the choice of backend and the conversion of
//! values; it must not parse Perl (that is [`crate::perl`]) nor talk to the perl process
//! directly (that is [`crate::perl::bridge`]).
//!
//! Semantics shared by both backends: a runtime error makes a pattern not match and an
//! operand false, and leaves an eval variable unchanged; it is logged and never stops the
//! engine. `exit(N)` in user code ends rsec with status N, as it ends SEC. Code of
//! PerlFunc patterns, `->`/`:>` operands and lcall is evaluated once (by its text) into a
//! code reference; `=( )` operands and eval actions are evaluated each time.
//!
//! # Backends and package variables
//!
//! User code runs either in the native interpreter ([`crate::perl::Interp`]) or in a real
//! perl through the bridge. Each keeps its own package variables (SEC's `main::SEC`), so a
//! variable set by code run in one is invisible to code run in the other. The policy
//! (`EngineOptions::perl_bridge`, decided when the rules are loaded): with `--perl=auto`,
//! if ANY Perl snippet of the loaded rule files is outside the native subset, ALL Perl
//! code of the ruleset runs in the bridge; otherwise all of it runs natively. Code built at
//! run time (an eval action or `=( )` operand whose text changed after match-variable
//! substitution) that the native subset refuses still runs in the bridge when perl is
//! available; the first time that happens a warning says that package variables are not
//! shared. With `--perl=native` and `--perl=off` the bridge is never used.

use std::collections::HashMap;

use crate::cli::PerlMode;
use crate::engine::subst::{Bytes, MatchVars};
use crate::engine::Engine;
use crate::perl::bridge::{self, BError, BValue, Ctx};
use crate::perl::{Context, ErrorKind, Interp, PerlHash, Value};

/// A code reference in one of the backends.
#[derive(Clone)]
pub(crate) enum Func {
    Native(Value),
    Bridge(BValue),
}

/// A value returned by user code, from either backend.
#[derive(Clone)]
pub(crate) enum PVal {
    Native(Value),
    Bridge(BValue),
}

impl PVal {
    fn truthy(&self) -> bool {
        match self {
            PVal::Native(v) => v.truthy(),
            PVal::Bridge(v) => v.truthy(),
        }
    }

    fn to_bytes(&self) -> Option<Bytes> {
        match self {
            PVal::Native(v) => v.is_defined().then(|| v.to_string_perl().into_bytes()),
            PVal::Bridge(v) => v.to_bytes(),
        }
    }

    fn is_ref(&self) -> bool {
        match self {
            PVal::Native(v) => v.is_ref(),
            PVal::Bridge(v) => v.is_ref(),
        }
    }

    /// The pairs of a hash reference.
    fn hash_pairs(&self) -> Option<Vec<(String, Option<Bytes>)>> {
        match self {
            PVal::Native(Value::HashRef(h)) => Some(
                h.borrow()
                    .iter()
                    .map(|(k, v)| (k.clone(), PVal::Native(v.clone()).to_bytes()))
                    .collect(),
            ),
            PVal::Bridge(BValue::Hash(_, items)) => Some(
                items
                    .iter()
                    .map(|(k, v)| (String::from_utf8_lossy(k).into_owned(), v.to_bytes()))
                    .collect(),
            ),
            _ => None,
        }
    }

    fn func(&self) -> Option<Func> {
        match self {
            PVal::Native(v @ Value::CodeRef(_)) => Some(Func::Native(v.clone())),
            PVal::Bridge(v @ BValue::Code(..)) => Some(Func::Bridge(v.clone())),
            _ => None,
        }
    }
}

/// An argument handed to user code.
enum Arg {
    Str(Bytes),
    /// A pattern-match-cache entry as a hash reference (undef if absent).
    Cache(Option<Vec<(String, Option<Bytes>)>>),
    /// The tokens of an egpattern, as an array reference.
    List(Vec<Bytes>),
    Undef,
}

impl Arg {
    fn native(&self) -> Value {
        match self {
            Arg::Str(b) => to_value(b),
            Arg::Undef => Value::Undef,
            Arg::Cache(None) => Value::Undef,
            Arg::Cache(Some(pairs)) => {
                let h: PerlHash = pairs
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_deref().map_or(Value::Undef, to_value)))
                    .collect();
                Value::hash_ref(h)
            }
            Arg::List(items) => Value::array_ref(items.iter().map(|t| to_value(t)).collect()),
        }
    }

    fn bridged(&self) -> BValue {
        match self {
            Arg::Str(b) => BValue::Str(b.clone()),
            Arg::Undef | Arg::Cache(None) => BValue::Undef,
            Arg::Cache(Some(pairs)) => BValue::Hash(
                String::new(),
                pairs
                    .iter()
                    .map(|(k, v)| {
                        let v = v.clone().map_or(BValue::Undef, BValue::Str);
                        (k.clone().into_bytes(), v)
                    })
                    .collect(),
            ),
            Arg::List(items) => BValue::Array(
                String::new(),
                items.iter().map(|t| BValue::Str(t.clone())).collect(),
            ),
        }
    }
}

/// The interpreter and what the engine keeps of its values.
pub(crate) struct PerlState {
    interp: Interp,
    /// Code references made from rule code (evaluated once), by source text.
    subs: HashMap<Bytes, Option<Func>>,
    /// Action-list variables whose value is a Perl reference (for `call`).
    pub(crate) refs: HashMap<String, PVal>,
    /// The mixed-backend warning was given.
    warned_mixed: bool,
}

impl PerlState {
    pub(crate) fn new() -> PerlState {
        PerlState {
            interp: Interp::new(),
            subs: HashMap::new(),
            refs: HashMap::new(),
            warned_mixed: false,
        }
    }
}

fn to_value(b: &[u8]) -> Value {
    Value::from(String::from_utf8_lossy(b).into_owned())
}

fn one_line(msg: &str) -> String {
    msg.trim_end().to_string()
}

fn bctx(ctx: Context) -> Ctx {
    match ctx {
        Context::Scalar => Ctx::Scalar,
        Context::List => Ctx::List,
    }
}

/// Ends rsec as `exit(N)` in SEC's user code ends SEC.
fn perl_exit(code: i32) -> ! {
    crate::notice!("Perl code called exit({code}), terminating");
    use std::io::Write;
    let _ = std::io::stdout().flush();
    std::process::exit(code)
}

impl Engine {
    fn perl_state(&mut self) -> &mut PerlState {
        self.perl.get_or_insert_with(PerlState::new)
    }

    /// True when all Perl code goes to the bridge (see the module doc).
    fn bridge_all(&self) -> bool {
        self.opts.perl == PerlMode::Auto && self.opts.perl_bridge
    }

    /// Whether code the native interpreter refused (with `kind`) may run in the bridge.
    fn may_bridge(&mut self, kind: &ErrorKind, code: &[u8]) -> bool {
        let refused = matches!(kind, ErrorKind::Unsupported | ErrorKind::Syntax);
        if !(refused && self.opts.perl == PerlMode::Auto && bridge::perl_available()) {
            return false;
        }
        let st = self.perl_state();
        if !st.warned_mixed && *kind == ErrorKind::Unsupported {
            st.warned_mixed = true;
            crate::warn!(
                "Perl code '{}' runs in perl while the other Perl code of the rules runs \
                 natively: package variables are not shared between them",
                String::from_utf8_lossy(code)
            );
        }
        true
    }

    /// Evaluates `code` as Perl's string `eval` in `ctx`.
    fn perl_eval(&mut self, code: &[u8], ctx: Context) -> Result<Vec<PVal>, String> {
        if !self.bridge_all() {
            let text = String::from_utf8_lossy(code);
            let st = self.perl_state();
            let r = st
                .interp
                .compile(&text)
                .and_then(|c| st.interp.eval(&c, ctx));
            st.interp.flush();
            match r {
                Ok(v) => return Ok(v.into_iter().map(PVal::Native).collect()),
                Err(e) => match e.kind {
                    ErrorKind::Exit(c) => perl_exit(c),
                    ref k if self.may_bridge(k, code) => {}
                    _ => return Err(one_line(&e.to_string())),
                },
            }
        }
        bridged(bridge::eval(code, bctx(ctx)))
    }

    /// Calls `f` with `args` in `ctx`.
    fn perl_call(&mut self, f: &Func, args: &[Arg], ctx: Context) -> Result<Vec<PVal>, String> {
        match f {
            Func::Native(f) => {
                let args = args.iter().map(Arg::native).collect();
                let st = self.perl_state();
                let r = st.interp.call(f, args, ctx);
                st.interp.flush();
                match r {
                    Ok(v) => Ok(v.into_iter().map(PVal::Native).collect()),
                    Err(e) => match e.kind {
                        ErrorKind::Exit(c) => perl_exit(c),
                        _ => Err(one_line(&e.to_string())),
                    },
                }
            }
            Func::Bridge(f) => {
                let args: Vec<BValue> = args.iter().map(Arg::bridged).collect();
                bridged(bridge::call(f, &args, bctx(ctx)))
            }
        }
    }

    /// The code reference that `code` evaluates to (SEC evaluates such code once, when it
    /// loads the rule); None, logged, if it does not give one.
    pub(crate) fn code_ref(&mut self, code: &[u8]) -> Option<Func> {
        let bridge_all = self.bridge_all();
        if let Some(v) = self.perl_state().subs.get(code) {
            match v {
                // the perl child was restarted: its code references are gone
                Some(Func::Bridge(BValue::Code(_, _, g))) if *g != bridge::generation() => {}
                // a reload moved the ruleset's Perl to the bridge
                Some(Func::Native(_)) if bridge_all => {}
                other => return other.clone(),
            }
        }
        let value = match self.perl_eval(code, Context::Scalar) {
            Ok(vals) => match vals.first().and_then(PVal::func) {
                Some(f) => Some(f),
                None => {
                    crate::err!(
                        "Eval '{}' didn't return a code reference: {}",
                        String::from_utf8_lossy(code),
                        vals.first()
                            .and_then(PVal::to_bytes)
                            .map_or("undef".to_string(), |b| String::from_utf8_lossy(&b)
                                .into_owned())
                    );
                    None
                }
            },
            Err(e) => {
                crate::err!(
                    "Eval '{}' didn't return a code reference: {e}",
                    String::from_utf8_lossy(code)
                );
                None
            }
        };
        self.perl_state().subs.insert(code.to_vec(), value.clone());
        value
    }

    fn cache_arg(&self, name: &[u8]) -> Arg {
        Arg::Cache(
            self.cache
                .get(String::from_utf8_lossy(name).as_ref())
                .map(|v| {
                    v.iter()
                        .map(|(k, val)| (k.to_string(), val.clone()))
                        .collect()
                }),
        )
    }

    /// A PerlFunc (or NPerlFunc) pattern against the current buffers.
    pub(crate) fn perlfunc_match(
        &mut self,
        code: &[u8],
        lines: usize,
        negate: bool,
        varmap: &[crate::config::VarMapEntry],
    ) -> Option<MatchVars> {
        let f = self.code_ref(code)?;
        let (ls, srcs) = self.buffers.lines(lines);
        let mut args: Vec<Arg> = ls.iter().map(|l| Arg::Str(l.to_vec())).collect();
        args.extend(srcs.iter().map(|s| match s.as_deref() {
            Some(s) => Arg::Str(s.as_bytes().to_vec()),
            None => Arg::Undef,
        }));
        let result = match self.perl_call(&f, &args, Context::List) {
            Ok(r) => r,
            Err(e) => {
                let kind = if negate { "NPerlFunc" } else { "PerlFunc" };
                crate::err!("{kind} pattern runtime error: {e}");
                return None;
            }
        };
        let matched = !(result.is_empty() || (result.len() == 1 && !result[0].truthy()));
        if matched == negate {
            return None;
        }
        let text = self.buffers.text(lines).into_owned();
        let src = self.buffers.source(lines);
        let mut v = MatchVars::default();
        if !negate {
            match result.as_slice() {
                [one] if one.hash_pairs().is_some() => {
                    for (k, val) in one.hash_pairs().unwrap_or_default() {
                        v.set(k, val);
                    }
                }
                _ => {
                    for (i, val) in result.iter().enumerate() {
                        v.set(i + 1, val.to_bytes());
                    }
                }
            }
        }
        v.set("0", Some(text));
        v.set("_inputsrc", Some(src));
        v.set("_intcontext", self.intcontext.clone());
        if !negate && !varmap.is_empty() {
            let n = result.len();
            let mut entries = Vec::new();
            for e in varmap {
                match e.group {
                    None => entries.push(e.name.clone()),
                    Some(g) => {
                        let val = if g <= n { v.group(g).cloned() } else { None };
                        v.set(e.name.clone(), val);
                    }
                }
            }
            for name in entries {
                self.cache.insert(name, v.clone());
            }
        }
        Some(v)
    }

    fn args_of(&self, params: &[Bytes], cache: bool) -> Vec<Arg> {
        params
            .iter()
            .map(|p| {
                if cache {
                    self.cache_arg(p)
                } else {
                    Arg::Str(p.clone())
                }
            })
            .collect()
    }

    /// A `params -> code` or `params :> code` operand.
    pub(crate) fn perl_ccode(&mut self, params: &[Bytes], code: &str, cache: bool) -> bool {
        let Some(f) = self.code_ref(code.as_bytes()) else {
            return false;
        };
        let args = self.args_of(params, cache);
        match self.perl_call(&f, &args, Context::Scalar) {
            Ok(r) => r.first().is_some_and(PVal::truthy),
            Err(e) => {
                crate::err!("Context expression runtime error: {e}");
                false
            }
        }
    }

    /// A `= code` operand, run in scalar context.
    pub(crate) fn perl_ecode(&mut self, code: &[u8]) -> bool {
        let code = &self.dialect_code(code)[..];
        match self.perl_eval(code, Context::Scalar) {
            Ok(v) => v.first().is_some_and(PVal::truthy),
            Err(e) => {
                crate::err!(
                    "Error evaluating code '{}': {e}",
                    String::from_utf8_lossy(code)
                );
                false
            }
        }
    }

    /// An egptype PerlFunc/NPerlFunc test of the group string and its tokens.
    pub(crate) fn perl_egpattern(&mut self, code: &[u8], group: &[u8], tokens: &[Bytes]) -> bool {
        let Some(f) = self.code_ref(code) else {
            return false;
        };
        let args = [Arg::Str(group.to_vec()), Arg::List(tokens.to_vec())];
        match self.perl_call(&f, &args, Context::Scalar) {
            Ok(r) => r.first().is_some_and(PVal::truthy),
            Err(e) => {
                crate::err!("Event group pattern runtime error: {e}");
                false
            }
        }
    }

    fn store_result(&mut self, var: &str, values: Vec<PVal>, keep_single: bool) {
        if let Some(PVal::Bridge(old)) = self.perl_state().refs.remove(var) {
            bridge::free(&old);
        }
        match values.len() {
            0 => {
                crate::debug!("No value received for variable '%{var}', set to undef");
                self.vars.insert(var.to_string(), None);
            }
            1 if keep_single => {
                let v = values.into_iter().next().expect("one value");
                self.set_var(var, Some(v.to_bytes().unwrap_or_default()));
                if v.is_ref() {
                    self.perl_state().refs.insert(var.to_string(), v);
                }
            }
            _ => {
                let joined: Vec<Bytes> = values
                    .iter()
                    .map(|v| v.to_bytes().unwrap_or_default())
                    .collect();
                self.set_var(var, Some(joined.join(&b'\n')));
            }
        }
    }

    /// `eval %var code`.
    pub(crate) fn perl_eval_action(&mut self, var: &str, code: &[u8]) {
        let text = String::from_utf8_lossy(code).into_owned();
        crate::debug!("Evaluating code '{text}' and setting variable '%{var}'");
        match self.perl_eval(code, Context::List) {
            Ok(values) => self.store_result(var, values, true),
            Err(e) => crate::err!("Error evaluating code '{text}': {e}"),
        }
    }

    /// `call %var %ref params`.
    pub(crate) fn perl_call_action(&mut self, var: &str, code_var: &str, params: Vec<Bytes>) {
        crate::debug!("Calling code '%{code_var}->()' and setting variable '%{var}'");
        let f = match self
            .perl
            .as_ref()
            .and_then(|p| p.refs.get(code_var))
            .and_then(PVal::func)
        {
            Some(f) => f,
            None => {
                crate::warn!("Variable '%{code_var}' is not a code reference");
                return;
            }
        };
        let args: Vec<Arg> = params.into_iter().map(Arg::Str).collect();
        match self.perl_call(&f, &args, Context::List) {
            Ok(values) => self.store_result(var, values, false),
            Err(e) => crate::err!("Code '%{code_var}->()' runtime error: {e}"),
        }
    }

    /// `lcall %var [params] -> code` / `:> code`.
    pub(crate) fn perl_lcall_action(
        &mut self,
        var: &str,
        params: Vec<Bytes>,
        code: &[u8],
        cache: bool,
    ) {
        let Some(f) = self.code_ref(code) else {
            return;
        };
        let args = self.args_of(&params, cache);
        match self.perl_call(&f, &args, Context::List) {
            Ok(values) => self.store_result(var, values, false),
            Err(e) => crate::err!(
                "Code '{}' runtime error: {e}",
                String::from_utf8_lossy(code)
            ),
        }
    }
}

/// A bridge result as engine values; `exit` ends rsec.
fn bridged(r: Result<Vec<BValue>, BError>) -> Result<Vec<PVal>, String> {
    match r {
        Ok(v) => Ok(v.into_iter().map(PVal::Bridge).collect()),
        Err(BError::Exit(c)) => perl_exit(c),
        Err(e) => Err(e.to_string()),
    }
}
