//! The engine's Perl points (man sec, "PERL INTEGRATION"): PerlFunc and NPerlFunc
//! patterns, egptype PerlFunc, context operands `->`, `:>` and `=( )`, and the actions
//! eval, call and lcall, run by the native interpreter in [`crate::perl`]. All user code
//! shares one interpreter, so package variables persist between snippets as they do in
//! SEC's `main::SEC` package. A runtime error makes a pattern not match and an operand
//! false, and leaves an eval variable unchanged; it is logged and never stops the engine.

use std::collections::HashMap;

use crate::engine::subst::{Bytes, MatchVars};
use crate::engine::Engine;
use crate::perl::{Context, Interp, PerlHash, Value};

/// The interpreter and what the engine keeps of its values.
pub(crate) struct PerlState {
    interp: Interp,
    /// Code references made from rule code (compiled once), by source text.
    subs: HashMap<String, Option<Value>>,
    /// Action-list variables whose value is a Perl reference (for `call`).
    pub(crate) refs: HashMap<String, Value>,
}

impl PerlState {
    pub(crate) fn new() -> PerlState {
        PerlState {
            interp: Interp::new(),
            subs: HashMap::new(),
            refs: HashMap::new(),
        }
    }
}

fn to_value(b: &[u8]) -> Value {
    Value::from(String::from_utf8_lossy(b).into_owned())
}

fn to_bytes(v: &Value) -> Option<Bytes> {
    v.is_defined().then(|| v.to_string_perl().into_bytes())
}

fn cache_hashref(vars: Option<&MatchVars>) -> Value {
    match vars {
        None => Value::Undef,
        Some(v) => {
            let h: PerlHash = v
                .map
                .iter()
                .map(|(k, val)| (k.clone(), val.as_deref().map_or(Value::Undef, to_value)))
                .collect();
            Value::hash_ref(h)
        }
    }
}

fn one_line(msg: &str) -> String {
    msg.trim_end().to_string()
}

impl Engine {
    fn perl_state(&mut self) -> &mut PerlState {
        self.perl.get_or_insert_with(PerlState::new)
    }

    /// The code reference that `code` evaluates to (SEC evaluates such code once, when it
    /// loads the rule); None, logged, if it does not give one.
    pub(crate) fn code_ref(&mut self, code: &str) -> Option<Value> {
        if let Some(v) = self.perl_state().subs.get(code) {
            return v.clone();
        }
        let st = self.perl_state();
        let result = st
            .interp
            .compile(code)
            .and_then(|c| st.interp.eval(&c, Context::Scalar));
        let value = match result {
            Ok(vals) => match vals.into_iter().next() {
                Some(v @ Value::CodeRef(_)) => Some(v),
                other => {
                    crate::err!(
                        "Eval '{code}' didn't return a code reference: {}",
                        other.map_or("undef".to_string(), |v| v.to_string_perl())
                    );
                    None
                }
            },
            Err(e) => {
                crate::err!(
                    "Eval '{code}' didn't return a code reference: {}",
                    one_line(&e.to_string())
                );
                None
            }
        };
        self.perl_state()
            .subs
            .insert(code.to_string(), value.clone());
        value
    }

    fn call_perl(
        &mut self,
        f: &Value,
        args: Vec<Value>,
        ctx: Context,
    ) -> Result<Vec<Value>, String> {
        let r = self
            .perl_state()
            .interp
            .call(f, args, ctx)
            .map_err(|e| one_line(&e.to_string()));
        self.perl_state().interp.flush();
        r
    }

    /// A PerlFunc (or NPerlFunc) pattern against the current buffers.
    pub(crate) fn perlfunc_match(
        &mut self,
        code: &[u8],
        lines: usize,
        negate: bool,
        varmap: &[crate::config::VarMapEntry],
    ) -> Option<MatchVars> {
        let f = self.code_ref(&String::from_utf8_lossy(code))?;
        let (ls, srcs) = self.buffers.lines(lines);
        let mut args: Vec<Value> = ls.iter().map(|l| to_value(l)).collect();
        args.extend(
            srcs.iter()
                .map(|s| s.as_deref().map_or(Value::Undef, Value::str)),
        );
        let result = match self.call_perl(&f, args, Context::List) {
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
            if let [Value::HashRef(h)] = result.as_slice() {
                for (k, val) in h.borrow().iter() {
                    v.set(k.clone(), to_bytes(val));
                }
            } else {
                for (i, val) in result.iter().enumerate() {
                    v.set((i + 1).to_string(), to_bytes(val));
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
                        let val = if g <= n {
                            v.map.get(&g.to_string()).cloned().flatten()
                        } else {
                            None
                        };
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

    /// A `params -> code` or `params :> code` operand.
    pub(crate) fn perl_ccode(&mut self, params: &[Bytes], code: &str, cache: bool) -> bool {
        let Some(f) = self.code_ref(code) else {
            return false;
        };
        let args: Vec<Value> = params
            .iter()
            .map(|p| {
                if cache {
                    cache_hashref(self.cache.get(String::from_utf8_lossy(p).as_ref()))
                } else {
                    to_value(p)
                }
            })
            .collect();
        match self.call_perl(&f, args, Context::Scalar) {
            Ok(r) => r.first().is_some_and(Value::truthy),
            Err(e) => {
                crate::err!("Context expression runtime error: {e}");
                false
            }
        }
    }

    /// A `= code` operand: compiled (cached by its text) and run in scalar context.
    pub(crate) fn perl_ecode(&mut self, code: &[u8]) -> bool {
        let code = String::from_utf8_lossy(code).into_owned();
        let st = self.perl_state();
        let r = st
            .interp
            .compile(&code)
            .and_then(|c| st.interp.eval(&c, Context::Scalar));
        st.interp.flush();
        match r {
            Ok(v) => v.first().is_some_and(Value::truthy),
            Err(e) => {
                crate::err!(
                    "Error evaluating code '{code}': {}",
                    one_line(&e.to_string())
                );
                false
            }
        }
    }

    /// An egptype PerlFunc/NPerlFunc test of the group string and its tokens.
    pub(crate) fn perl_egpattern(&mut self, code: &[u8], group: &[u8], tokens: &[Bytes]) -> bool {
        let Some(f) = self.code_ref(&String::from_utf8_lossy(code)) else {
            return false;
        };
        let toks = Value::array_ref(tokens.iter().map(|t| to_value(t)).collect());
        match self.call_perl(&f, vec![to_value(group), toks], Context::Scalar) {
            Ok(r) => r.first().is_some_and(Value::truthy),
            Err(e) => {
                crate::err!("Event group pattern runtime error: {e}");
                false
            }
        }
    }

    fn store_result(&mut self, var: &str, values: Vec<Value>, keep_single: bool) {
        self.perl_state().refs.remove(var);
        match values.len() {
            0 => {
                crate::debug!("No value received for variable '%{var}', set to undef");
                self.vars.insert(var.to_string(), None);
            }
            1 if keep_single => {
                let v = values.into_iter().next().unwrap_or_default();
                let b = v.to_string_perl().into_bytes();
                self.set_var(var, Some(b));
                if v.is_ref() {
                    self.perl_state().refs.insert(var.to_string(), v);
                }
            }
            _ => {
                let joined: Vec<String> = values
                    .iter()
                    .map(|v| {
                        if v.is_defined() {
                            v.to_string_perl()
                        } else {
                            String::new()
                        }
                    })
                    .collect();
                self.set_var(var, Some(joined.join("\n").into_bytes()));
            }
        }
    }

    /// `eval %var code`.
    pub(crate) fn perl_eval_action(&mut self, var: &str, code: &[u8]) {
        let code = String::from_utf8_lossy(code).into_owned();
        crate::debug!("Evaluating code '{code}' and setting variable '%{var}'");
        let st = self.perl_state();
        let r = st
            .interp
            .compile(&code)
            .and_then(|c| st.interp.eval(&c, Context::List));
        st.interp.flush();
        match r {
            Ok(values) => self.store_result(var, values, true),
            Err(e) => crate::err!(
                "Error evaluating code '{code}': {}",
                one_line(&e.to_string())
            ),
        }
    }

    /// `call %var %ref params`.
    pub(crate) fn perl_call_action(&mut self, var: &str, code_var: &str, params: Vec<Bytes>) {
        crate::debug!("Calling code '%{code_var}->()' and setting variable '%{var}'");
        let f = match self.perl.as_ref().and_then(|p| p.refs.get(code_var)) {
            Some(f @ Value::CodeRef(_)) => f.clone(),
            _ => {
                crate::warn!("Variable '%{code_var}' is not a code reference");
                return;
            }
        };
        let args = params.iter().map(|p| to_value(p)).collect();
        match self.call_perl(&f, args, Context::List) {
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
        let code = String::from_utf8_lossy(code).into_owned();
        let Some(f) = self.code_ref(&code) else {
            return;
        };
        let args = params
            .iter()
            .map(|p| {
                if cache {
                    cache_hashref(self.cache.get(String::from_utf8_lossy(p).as_ref()))
                } else {
                    to_value(p)
                }
            })
            .collect();
        match self.call_perl(&f, args, Context::List) {
            Ok(values) => self.store_result(var, values, false),
            Err(e) => crate::err!("Code '{code}' runtime error: {e}"),
        }
    }
}
