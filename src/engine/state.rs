//! Engine state across runs (`--state`): the engine's live data to a JSON value and back.
//!
//! Owns the encoding of contexts (names, aliases, lifetimes, event stores, expiry action
//! lists), correlation operations of every rule type, the Pair rules' operation order,
//! timers, action-list variables, pending delayed and synthetic events, Calendar
//! last-fired minutes, the multi-line input buffers and the periodic-task time. It does no
//! file I/O (that is `io::statefile`) and never runs actions.
//!
//! The encoding is written by hand on `serde_json::Value` (no serde derive): lines and
//! every other engine string are bytes, and a byte string is stored as a JSON string when
//! it is UTF-8 and as `{"hex": ...}` otherwise, which is lossless and keeps the file
//! readable; and the action types live in `config`, which this module must not change.
//!
//! Operations belong to rules: each rule has a fingerprint of its text ([`fingerprints`]);
//! on restore an operation (with its timers and Calendar stamp) is kept only when its
//! rule file is loaded and a rule with the same fingerprint is at the same place (or, if
//! it moved, is the only rule of that text in the file), as SEC's soft restart keeps the
//! operations of unchanged rule files. Contexts, variables and events never depend on
//! rules and are always restored. Perl interpreter state (package variables, code
//! references held by variables) and SingleWithScript waits for children are not saved.

use crate::io::input::Src;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::sync::Arc;

use serde_json::{json, Value};

use crate::config::action::{Action, CloseKind, Command, Query, StoreEdit, StoreTake, WriteKind};
use crate::config::{PatternKind, RuleFile};
use crate::engine::compile::{CKind, COp};
use crate::engine::contexts::{Contexts, Record};
use crate::engine::ops::{GroupOp, Op, PairOp, State, TwoOp};
use crate::engine::subst::Bytes;
use crate::engine::{ActionList, Engine, Timer};
use crate::pattern::regex::PerlRegex;

/// Per rule file: its name and the fingerprint of each rule's text, in rule order.
pub type Fingerprints = Vec<(String, Vec<u64>)>;

/// What a restore kept and dropped, for the log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Restored {
    /// Contexts (records) restored.
    pub contexts: usize,
    /// Operations restored.
    pub ops: usize,
    /// Operations dropped because their rule changed or is gone.
    pub dropped_ops: usize,
    /// Delayed events restored.
    pub pending: usize,
}

/// FNV-1a, 64 bits: stable across builds and runs (std's hasher promises neither).
fn fnv(data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in data {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The fingerprint of every rule of the loaded files: a hash of its type, fields and desc
/// (not its line number, so comments added above a rule do not change it).
pub fn fingerprints(files: &[RuleFile]) -> Fingerprints {
    files
        .iter()
        .map(|f| {
            let fps = f
                .rules
                .iter()
                .map(|r| fnv(format!("{:?}\u{0}{:?}", r.desc, r.kind).as_bytes()))
                .collect();
            (f.name.clone(), fps)
        })
        .collect()
}

type R<T> = Result<T, String>;

// ---------------------------------------------------------------------------------------
// Scalars.

/// Bytes: a JSON string when UTF-8, else `{"hex": "..."}`.
pub fn enc_bytes(b: &[u8]) -> Value {
    match std::str::from_utf8(b) {
        Ok(s) => Value::String(s.to_string()),
        Err(_) => {
            let mut h = String::with_capacity(b.len() * 2);
            for x in b {
                h.push_str(&format!("{x:02x}"));
            }
            json!({ "hex": h })
        }
    }
}

/// The inverse of [`enc_bytes`].
pub fn dec_bytes(v: &Value) -> R<Bytes> {
    match v {
        Value::String(s) => Ok(s.as_bytes().to_vec()),
        Value::Object(m) => {
            let h = m
                .get("hex")
                .and_then(Value::as_str)
                .ok_or("bad byte string")?;
            if h.len() % 2 != 0 {
                return Err("odd hex length".into());
            }
            (0..h.len())
                .step_by(2)
                .map(|i| {
                    h.get(i..i + 2)
                        .and_then(|p| u8::from_str_radix(p, 16).ok())
                        .ok_or_else(|| "bad hex".to_string())
                })
                .collect()
        }
        _ => Err("expected a byte string".into()),
    }
}

fn dec_i64(v: &Value) -> R<i64> {
    v.as_i64()
        .ok_or_else(|| format!("expected an integer, got {v}"))
}

fn dec_u64(v: &Value) -> R<u64> {
    v.as_u64()
        .ok_or_else(|| format!("expected an unsigned integer, got {v}"))
}

fn dec_usize(v: &Value) -> R<usize> {
    dec_u64(v).and_then(|n| usize::try_from(n).map_err(|e| e.to_string()))
}

fn dec_bool(v: &Value) -> R<bool> {
    v.as_bool()
        .ok_or_else(|| format!("expected a boolean, got {v}"))
}

fn dec_str(v: &Value) -> R<String> {
    v.as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("expected a string, got {v}"))
}

fn arr(v: &Value) -> R<&Vec<Value>> {
    v.as_array().ok_or_else(|| "expected an array".to_string())
}

fn field<'a>(m: &'a Value, k: &str) -> R<&'a Value> {
    m.get(k).ok_or_else(|| format!("missing field {k}"))
}

fn enc_opt_bytes(b: &Option<Bytes>) -> Value {
    b.as_ref().map_or(Value::Null, |b| enc_bytes(b))
}

fn dec_opt_bytes(v: &Value) -> R<Option<Bytes>> {
    if v.is_null() {
        Ok(None)
    } else {
        dec_bytes(v).map(Some)
    }
}

/// Reads the fields of an encoded action in order.
struct Rd<'a> {
    items: &'a [Value],
    at: usize,
}

impl<'a> Rd<'a> {
    fn next(&mut self) -> R<&'a Value> {
        let v = self.items.get(self.at).ok_or("action too short")?;
        self.at += 1;
        Ok(v)
    }
    fn b(&mut self) -> R<Bytes> {
        dec_bytes(self.next()?)
    }
    fn ob(&mut self) -> R<Option<Bytes>> {
        dec_opt_bytes(self.next()?)
    }
    fn s(&mut self) -> R<String> {
        dec_str(self.next()?)
    }
    fn u(&mut self) -> R<usize> {
        dec_usize(self.next()?)
    }
    fn i(&mut self) -> R<i64> {
        dec_i64(self.next()?)
    }
    fn bo(&mut self) -> R<bool> {
        dec_bool(self.next()?)
    }
    fn list(&mut self) -> R<Vec<Action<Bytes>>> {
        dec_list(self.next()?)
    }
    fn cmd(&mut self) -> R<Command<Bytes>> {
        dec_cmd(self.next()?)
    }
    fn bl(&mut self) -> R<Vec<Bytes>> {
        arr(self.next()?)?.iter().map(dec_bytes).collect()
    }
    fn kind<T: Copy>(&mut self, all: &[T]) -> R<T> {
        let n = self.u()?;
        all.get(n).copied().ok_or_else(|| "bad kind".to_string())
    }
}

const WRITE_KINDS: [WriteKind; 7] = [
    WriteKind::Write,
    WriteKind::Writen,
    WriteKind::Owritecl,
    WriteKind::Udgram,
    WriteKind::Ustream,
    WriteKind::Udpsock,
    WriteKind::Tcpsock,
];
const CLOSE_KINDS: [CloseKind; 6] = [
    CloseKind::File,
    CloseKind::Udgram,
    CloseKind::Ustream,
    CloseKind::Udp,
    CloseKind::Tcp,
    CloseKind::Input,
];
const STORE_EDITS: [StoreEdit; 3] = [StoreEdit::Add, StoreEdit::Prepend, StoreEdit::Fill];
const STORE_TAKES: [StoreTake; 4] = [
    StoreTake::Copy,
    StoreTake::Pop,
    StoreTake::Shift,
    StoreTake::Empty,
];
const QUERIES: [Query; 5] = [
    Query::Exists,
    Query::GetSize,
    Query::GetAliases,
    Query::GetLtime,
    Query::GetCtime,
];

fn kix<T: PartialEq>(all: &[T], k: &T) -> Value {
    json!(all.iter().position(|x| x == k).unwrap_or(0))
}

// ---------------------------------------------------------------------------------------
// Action lists.

fn enc_cmd(c: &Command<Bytes>) -> Value {
    match c {
        Command::Shell(s) => json!(["sh", enc_bytes(s)]),
        Command::Exec(v) => json!(["ex", v.iter().map(|s| enc_bytes(s)).collect::<Vec<_>>()]),
    }
}

fn dec_cmd(v: &Value) -> R<Command<Bytes>> {
    let a = arr(v)?;
    match (a.first().and_then(Value::as_str), a.get(1)) {
        (Some("sh"), Some(s)) => Ok(Command::Shell(dec_bytes(s)?)),
        (Some("ex"), Some(l)) => Ok(Command::Exec(
            arr(l)?.iter().map(dec_bytes).collect::<R<_>>()?,
        )),
        _ => Err("bad command".into()),
    }
}

fn bl(v: &[Bytes]) -> Value {
    Value::Array(v.iter().map(|s| enc_bytes(s)).collect())
}

/// An action list as a JSON array of actions, each `[tag, fields...]`.
pub fn enc_list(list: &[Action<Bytes>]) -> Value {
    Value::Array(list.iter().map(enc_action).collect())
}

/// The inverse of [`enc_list`].
pub fn dec_list(v: &Value) -> R<Vec<Action<Bytes>>> {
    arr(v)?.iter().map(dec_action).collect()
}

fn enc_action(a: &Action<Bytes>) -> Value {
    use Action as A;
    let e = |s: &Bytes| enc_bytes(s);
    match a {
        A::None => json!(["none"]),
        A::Logonly(s) => json!(["logonly", e(s)]),
        A::Write { kind, target, text } => {
            json!(["write", kix(&WRITE_KINDS, kind), e(target), e(text)])
        }
        A::Close { kind, target } => json!(["close", kix(&CLOSE_KINDS, kind), e(target)]),
        A::ShellCmd(c) => json!(["shellcmd", enc_cmd(c)]),
        A::Spawn { context, cmd } => json!(["spawn", enc_opt_bytes(context), enc_cmd(cmd)]),
        A::Pipe { text, cmd } => json!(["pipe", e(text), enc_cmd(cmd)]),
        A::Create {
            name,
            lifetime,
            list,
        } => json!(["create", e(name), e(lifetime), enc_list(list)]),
        A::Delete(s) => json!(["delete", e(s)]),
        A::Obsolete(s) => json!(["obsolete", e(s)]),
        A::Unalias(s) => json!(["unalias", e(s)]),
        A::Set {
            name,
            lifetime,
            list,
        } => json!([
            "set",
            e(name),
            e(lifetime),
            list.as_ref().map_or(Value::Null, |l| enc_list(l))
        ]),
        A::Alias { name, alias } => json!(["alias", e(name), e(alias)]),
        A::Store { edit, name, text } => {
            json!(["store", kix(&STORE_EDITS, edit), e(name), e(text)])
        }
        A::Report { name, cmd } => json!(["report", e(name), enc_cmd(cmd)]),
        A::Take { op, name, var } => json!(["take", kix(&STORE_TAKES, op), e(name), var]),
        A::Query { op, var, name } => json!(["query", kix(&QUERIES, op), var, e(name)]),
        A::SetLtime { name, lifetime } => json!(["setltime", e(name), e(lifetime)]),
        A::SetCtime { time, name } => json!(["setctime", e(time), e(name)]),
        A::Event { delay, text } => json!(["event", delay, e(text)]),
        A::TEvent {
            context,
            delay,
            text,
        } => json!(["tevent", enc_opt_bytes(context), e(delay), e(text)]),
        A::Reset { file, rule, text } => json!(["reset", file, rule, e(text)]),
        A::GetWpos {
            file,
            var,
            rule,
            text,
        } => json!(["getwpos", file, var, rule, e(text)]),
        A::SetWpos {
            file,
            time,
            rule,
            text,
        } => json!(["setwpos", file, e(time), rule, e(text)]),
        A::Assign { var, text, quote } => json!(["assign", var, e(text), quote]),
        A::Free(v) => json!(["free", v]),
        A::Eval { var, code } => json!(["eval", var, e(code)]),
        A::Call {
            var,
            code_var,
            params,
        } => json!(["call", var, code_var, bl(params)]),
        A::LCall {
            var,
            params,
            code,
            cache,
        } => json!(["lcall", var, bl(params), e(code), cache]),
        A::Rewrite { count, text } => json!(["rewrite", e(count), e(text)]),
        A::AddInput {
            file,
            offset,
            context,
        } => json!(["addinput", e(file), e(offset), e(context)]),
        A::SigEmul(s) => json!(["sigemul", e(s)]),
        A::VarSet { var, entry } => json!(["varset", var, e(entry)]),
        A::If {
            var,
            then,
            otherwise,
        } => json!(["if", var, enc_list(then), enc_list(otherwise)]),
        A::While { var, body } => json!(["while", var, enc_list(body)]),
        A::Break => json!(["break"]),
        A::Continue => json!(["continue"]),
    }
}

fn dec_action(v: &Value) -> R<Action<Bytes>> {
    use Action as A;
    let items = arr(v)?;
    let tag = items
        .first()
        .and_then(Value::as_str)
        .ok_or("action without a tag")?;
    let mut r = Rd { items, at: 1 };
    Ok(match tag {
        "none" => A::None,
        "logonly" => A::Logonly(r.b()?),
        "write" => A::Write {
            kind: r.kind(&WRITE_KINDS)?,
            target: r.b()?,
            text: r.b()?,
        },
        "close" => A::Close {
            kind: r.kind(&CLOSE_KINDS)?,
            target: r.b()?,
        },
        "shellcmd" => A::ShellCmd(r.cmd()?),
        "spawn" => A::Spawn {
            context: r.ob()?,
            cmd: r.cmd()?,
        },
        "pipe" => A::Pipe {
            text: r.b()?,
            cmd: r.cmd()?,
        },
        "create" => A::Create {
            name: r.b()?,
            lifetime: r.b()?,
            list: r.list()?,
        },
        "delete" => A::Delete(r.b()?),
        "obsolete" => A::Obsolete(r.b()?),
        "unalias" => A::Unalias(r.b()?),
        "set" => A::Set {
            name: r.b()?,
            lifetime: r.b()?,
            list: {
                let l = r.next()?;
                if l.is_null() {
                    None
                } else {
                    Some(dec_list(l)?)
                }
            },
        },
        "alias" => A::Alias {
            name: r.b()?,
            alias: r.b()?,
        },
        "store" => A::Store {
            edit: r.kind(&STORE_EDITS)?,
            name: r.b()?,
            text: r.b()?,
        },
        "report" => A::Report {
            name: r.b()?,
            cmd: r.cmd()?,
        },
        "take" => A::Take {
            op: r.kind(&STORE_TAKES)?,
            name: r.b()?,
            var: r.s()?,
        },
        "query" => A::Query {
            op: r.kind(&QUERIES)?,
            var: r.s()?,
            name: r.b()?,
        },
        "setltime" => A::SetLtime {
            name: r.b()?,
            lifetime: r.b()?,
        },
        "setctime" => A::SetCtime {
            time: r.b()?,
            name: r.b()?,
        },
        "event" => A::Event {
            delay: dec_u64(r.next()?)?,
            text: r.b()?,
        },
        "tevent" => A::TEvent {
            context: r.ob()?,
            delay: r.b()?,
            text: r.b()?,
        },
        "reset" => A::Reset {
            file: r.u()?,
            rule: {
                let v = r.next()?;
                if v.is_null() {
                    None
                } else {
                    Some(dec_i64(v)?)
                }
            },
            text: r.b()?,
        },
        "getwpos" => A::GetWpos {
            file: r.u()?,
            var: r.s()?,
            rule: r.i()?,
            text: r.b()?,
        },
        "setwpos" => A::SetWpos {
            file: r.u()?,
            time: r.b()?,
            rule: r.i()?,
            text: r.b()?,
        },
        "assign" => A::Assign {
            var: r.s()?,
            text: r.b()?,
            quote: r.bo()?,
        },
        "free" => A::Free(r.s()?),
        "eval" => A::Eval {
            var: r.s()?,
            code: r.b()?,
        },
        "call" => A::Call {
            var: r.s()?,
            code_var: r.s()?,
            params: r.bl()?,
        },
        "lcall" => A::LCall {
            var: r.s()?,
            params: r.bl()?,
            code: r.b()?,
            cache: r.bo()?,
        },
        "rewrite" => A::Rewrite {
            count: r.b()?,
            text: r.b()?,
        },
        "addinput" => A::AddInput {
            file: r.b()?,
            offset: r.b()?,
            context: r.b()?,
        },
        "sigemul" => A::SigEmul(r.b()?),
        "varset" => A::VarSet {
            var: r.s()?,
            entry: r.b()?,
        },
        "if" => A::If {
            var: r.s()?,
            then: r.list()?,
            otherwise: r.list()?,
        },
        "while" => A::While {
            var: r.s()?,
            body: r.list()?,
        },
        "break" => A::Break,
        "continue" => A::Continue,
        other => return Err(format!("unknown action {other}")),
    })
}

/// Action lists shared by many records and operations are written once: a table of
/// distinct lists, referred to by index.
#[derive(Default)]
struct ListTable {
    index: HashMap<*const Vec<Action<Bytes>>, usize>,
    lists: Vec<Value>,
    /// Keeps the lists alive so that their addresses stay unique while encoding.
    keep: Vec<ActionList>,
}

impl ListTable {
    fn add(&mut self, l: &ActionList) -> Value {
        let p = Arc::as_ptr(l);
        if let Some(i) = self.index.get(&p) {
            return json!(i);
        }
        let i = self.lists.len();
        self.lists.push(enc_list(l));
        self.index.insert(p, i);
        self.keep.push(l.clone());
        json!(i)
    }
}

fn dec_list_ref(v: &Value, lists: &[ActionList]) -> R<ActionList> {
    let i = dec_usize(v)?;
    lists
        .get(i)
        .cloned()
        .ok_or_else(|| "bad action list index".to_string())
}

// ---------------------------------------------------------------------------------------
// Context expressions (a Pair operation's context2).

fn enc_cops(ops: &[COp]) -> Value {
    Value::Array(
        ops.iter()
            .map(|op| match op {
                COp::Operand(s) => json!(["o", enc_bytes(s)]),
                COp::Expr(v) => json!(["x", enc_cops(v)]),
                COp::ECode(s) => json!(["e", enc_bytes(s)]),
                COp::CCode {
                    params,
                    code,
                    cache,
                } => json!(["c", bl(params), code, cache]),
                COp::VarSet(s) => json!(["v", enc_bytes(s)]),
                COp::Not => json!(["!"]),
                COp::And => json!(["&"]),
                COp::Or => json!(["|"]),
            })
            .collect(),
    )
}

fn dec_cops(v: &Value) -> R<Vec<COp>> {
    arr(v)?
        .iter()
        .map(|item| {
            let items = arr(item)?;
            let tag = items
                .first()
                .and_then(Value::as_str)
                .ok_or("bad operator")?;
            let mut r = Rd { items, at: 1 };
            Ok(match tag {
                "o" => COp::Operand(r.b()?),
                "x" => COp::Expr(dec_cops(r.next()?)?),
                "e" => COp::ECode(r.b()?),
                "c" => COp::CCode {
                    params: r.bl()?,
                    code: r.s()?,
                    cache: r.bo()?,
                },
                "v" => COp::VarSet(r.b()?),
                "!" => COp::Not,
                "&" => COp::And,
                "|" => COp::Or,
                t => return Err(format!("unknown operator {t}")),
            })
        })
        .collect()
}

// ---------------------------------------------------------------------------------------
// Operations.

fn times(t: &VecDeque<i64>) -> Value {
    json!(t.iter().collect::<Vec<_>>())
}

fn dec_times(v: &Value) -> R<VecDeque<i64>> {
    arr(v)?.iter().map(dec_i64).collect()
}

fn enc_state(s: &State, t: &mut ListTable) -> Value {
    match s {
        State::Suppress => json!({"type": "suppress"}),
        State::Pair(x) => {
            let PairOp {
                with_window,
                action,
                pattern2,
                context2,
                desc2,
                action2,
                act2_copied,
                pvals,
            } = &**x;
            json!({
                "type": "pair",
                "pvals": bl(pvals),
                "with_window": with_window,
                "action": t.add(action),
                "pattern2": enc_bytes(&pattern2.text),
                "context2": context2.as_ref().map_or(Value::Null, |c| enc_cops(c)),
                "desc2": enc_bytes(desc2),
                "action2": t.add(action2),
                "act2_copied": act2_copied,
            })
        }
        State::Threshold {
            times: tm,
            suppress,
            action,
            action2,
        } => json!({
            "type": "threshold",
            "times": times(tm),
            "suppress": suppress,
            "action": t.add(action),
            "action2": t.add(action2),
        }),
        State::TwoThresholds(x) => {
            let TwoOp {
                times: tm,
                second,
                action,
                desc2,
                action2,
            } = &**x;
            json!({
                "type": "two",
                "times": times(tm),
                "second": second,
                "action": t.add(action),
                "desc2": enc_bytes(desc2),
                "action2": t.add(action2),
            })
        }
        State::Group(x) => {
            let GroupOp {
                all,
                counts,
                suppress,
                init_running,
                deleting,
                action,
                slide,
                end,
            } = &**x;
            json!({
                "type": "group",
                "all": all.iter().map(|(t, e, tok)| json!([t, e, enc_bytes(tok)])).collect::<Vec<_>>(),
                "counts": counts,
                "suppress": suppress,
                "init_running": init_running,
                "deleting": deleting,
                "action": t.add(action),
                "slide": t.add(slide),
                "end": t.add(end),
            })
        }
    }
}

/// Decodes an operation's state for the rule it now belongs to.
fn dec_state(v: &Value, lists: &[ActionList], kind: &CKind) -> R<State> {
    let l = |k: &str| dec_list_ref(field(v, k)?, lists);
    let ty = dec_str(field(v, "type")?)?;
    Ok(match (ty.as_str(), kind) {
        ("suppress", CKind::SingleWithSuppress { .. }) => State::Suppress,
        ("pair", CKind::Pair { m2, deferred, .. }) => {
            let text = dec_bytes(field(v, "pattern2")?)?;
            let mut p = m2.pat.clone();
            if text != p.text {
                if *deferred
                    && matches!(
                        p.kind,
                        PatternKind::RegExp
                            | PatternKind::NRegExp
                            | PatternKind::PerlFunc
                            | PatternKind::NPerlFunc
                            | PatternKind::Cached
                    )
                {
                    let re = PerlRegex::from_bytes(&text).map_err(|e| e.to_string())?;
                    p.regex = Some(Arc::new(re));
                }
                p.text = text;
            }
            let c2 = field(v, "context2")?;
            State::Pair(Box::new(PairOp {
                with_window: dec_bool(field(v, "with_window")?)?,
                action: l("action")?,
                pattern2: Arc::new(p),
                context2: if c2.is_null() {
                    None
                } else {
                    Some(dec_cops(c2)?)
                },
                desc2: dec_bytes(field(v, "desc2")?)?,
                action2: l("action2")?,
                act2_copied: dec_bool(field(v, "act2_copied")?)?,
                pvals: match v.get("pvals") {
                    Some(p) => arr(p)?.iter().map(dec_bytes).collect::<R<Vec<_>>>()?,
                    None => Vec::new(),
                },
            }))
        }
        ("threshold", CKind::Threshold { .. }) => State::Threshold {
            times: dec_times(field(v, "times")?)?,
            suppress: dec_bool(field(v, "suppress")?)?,
            action: l("action")?,
            action2: l("action2")?,
        },
        ("two", CKind::TwoThresholds { .. }) => State::TwoThresholds(Box::new(TwoOp {
            times: dec_times(field(v, "times")?)?,
            second: dec_bool(field(v, "second")?)?,
            action: l("action")?,
            desc2: dec_bytes(field(v, "desc2")?)?,
            action2: l("action2")?,
        })),
        ("group", CKind::EventGroup { events, .. }) => {
            let all = arr(field(v, "all")?)?
                .iter()
                .map(|e| {
                    let a = arr(e)?;
                    match a.as_slice() {
                        [t, ty, tok] => Ok((dec_i64(t)?, dec_usize(ty)?, dec_bytes(tok)?)),
                        _ => Err("bad group event".to_string()),
                    }
                })
                .collect::<R<VecDeque<_>>>()?;
            let counts = arr(field(v, "counts")?)?
                .iter()
                .map(dec_usize)
                .collect::<R<Vec<_>>>()?;
            if counts.len() != events.len() || all.iter().any(|(_, t, _)| *t >= events.len()) {
                return Err("event group does not fit its rule".into());
            }
            State::Group(Box::new(GroupOp {
                all,
                counts,
                suppress: dec_bool(field(v, "suppress")?)?,
                init_running: dec_bool(field(v, "init_running")?)?,
                deleting: dec_bool(field(v, "deleting")?)?,
                action: l("action")?,
                slide: l("slide")?,
                end: l("end")?,
            }))
        }
        _ => return Err(format!("operation of type {ty} does not fit its rule")),
    })
}

// ---------------------------------------------------------------------------------------
// Contexts.

fn enc_record(r: &Record, t: &mut ListTable) -> Value {
    json!({
        "ctime": r.ctime,
        "lifetime": r.lifetime,
        "store": bl(&r.store),
        "action": t.add(&r.action),
        "desc": enc_bytes(&r.desc),
        "aliases": bl(&r.aliases),
        "generation": r.generation,
    })
}

fn dec_record(v: &Value, lists: &[ActionList]) -> R<Record> {
    Ok(Record {
        ctime: dec_i64(field(v, "ctime")?)?,
        lifetime: dec_i64(field(v, "lifetime")?)?,
        store: arr(field(v, "store")?)?
            .iter()
            .map(dec_bytes)
            .collect::<R<_>>()?,
        action: dec_list_ref(field(v, "action")?, lists)?,
        desc: dec_bytes(field(v, "desc")?)?,
        aliases: arr(field(v, "aliases")?)?
            .iter()
            .map(dec_bytes)
            .collect::<R<_>>()?,
        deleting: false,
        internal: false,
        generation: dec_u64(field(v, "generation")?)?,
    })
}

// ---------------------------------------------------------------------------------------
// The engine.

/// Maps the saved rules onto the loaded ones: (old file, old rule) to (new file, new rule).
fn rule_map(saved: &Fingerprints, now: &Fingerprints) -> HashMap<(usize, usize), (usize, usize)> {
    let mut map = HashMap::new();
    for (ofi, (name, ofps)) in saved.iter().enumerate() {
        let Some(nfi) = now.iter().position(|(n, _)| n == name) else {
            continue;
        };
        let nfps = &now[nfi].1;
        for (ori, fp) in ofps.iter().enumerate() {
            if nfps.get(ori) == Some(fp) {
                map.insert((ofi, ori), (nfi, ori));
                continue;
            }
            let count = |v: &[u64]| v.iter().filter(|x| *x == fp).count();
            if count(ofps) == 1 && count(nfps) == 1 {
                if let Some(nri) = nfps.iter().position(|x| x == fp) {
                    map.insert((ofi, ori), (nfi, nri));
                }
            }
        }
    }
    map
}

fn enc_fps(fps: &Fingerprints) -> Value {
    Value::Array(
        fps.iter()
            .map(|(n, v)| {
                json!({
                    "name": n,
                    "rules": v.iter().map(|x| format!("{x:016x}")).collect::<Vec<_>>(),
                })
            })
            .collect(),
    )
}

fn dec_fps(v: &Value) -> R<Fingerprints> {
    arr(v)?
        .iter()
        .map(|f| {
            let name = dec_str(field(f, "name")?)?;
            let rules = arr(field(f, "rules")?)?
                .iter()
                .map(|x| {
                    x.as_str()
                        .and_then(|s| u64::from_str_radix(s, 16).ok())
                        .ok_or_else(|| "bad fingerprint".to_string())
                })
                .collect::<R<_>>()?;
            Ok((name, rules))
        })
        .collect()
}

fn src_enc(s: &Option<Src>) -> Value {
    s.as_ref().map_or(Value::Null, |s| json!(&**s))
}

fn src_dec(v: &Value) -> R<Option<Src>> {
    if v.is_null() {
        Ok(None)
    } else {
        Ok(Some(Src::from(dec_str(v)?.as_str())))
    }
}

/// Everything decoded, before any of it is applied (a bad file changes nothing).
struct Decoded {
    contexts: Contexts,
    ops: super::optable::OpTable,
    /// The open Pair operations of each rule, oldest first (indexed after restoring).
    pair_ops: super::FastMap<(usize, usize), Vec<Bytes>>,
    timers: BinaryHeap<Reverse<(i64, u64, Timer)>>,
    seq: u64,
    vars: HashMap<String, Option<Bytes>>,
    queue: VecDeque<(Bytes, Bytes)>,
    pending: BinaryHeap<Reverse<(i64, u64, Bytes, Bytes)>>,
    calendar_last: HashMap<(usize, usize), super::MinuteStamp>,
    last_clean: i64,
    match_counts: super::FastMap<(usize, usize), u64>,
    ring: Option<VecDeque<(Bytes, Option<Src>)>>,
    per: Option<HashMap<Option<Src>, VecDeque<Bytes>>>,
    report: Restored,
}

impl Engine {
    /// The engine's state as a JSON value (see the module doc). `fps` are the
    /// fingerprints of the loaded rule files ([`fingerprints`]).
    pub fn save_state(&self, fps: &Fingerprints) -> Value {
        let mut t = ListTable::default();
        let (names, records) = self.contexts.parts();
        let records_v: Vec<Value> = records
            .iter()
            .map(|r| match r {
                Some(r) if !r.internal => enc_record(r, &mut t),
                _ => Value::Null,
            })
            .collect();
        let mut names_v: Vec<(&Bytes, usize)> = names
            .iter()
            .filter(|(_, id)| {
                records
                    .get(**id)
                    .is_some_and(|r| r.as_ref().is_some_and(|r| !r.internal))
            })
            .map(|(n, id)| (n, *id))
            .collect();
        names_v.sort();
        let mut ops: Vec<(&super::OpKey, &Op)> = self.ops.iter().collect();
        ops.sort_by(|a, b| a.0.cmp(b.0));
        let ops_v: Vec<Value> = ops
            .into_iter()
            .map(|((fi, ri, desc), op)| {
                json!({
                    "file": fi, "rule": ri, "desc": enc_bytes(desc),
                    "time": op.time, "window": op.window, "scheduled": op.scheduled,
                    "op_desc": enc_bytes(desc),
                    "state": enc_state(&op.state, &mut t),
                })
            })
            .collect();
        let mut pairs: Vec<_> = self.pair_ops.iter().collect();
        pairs.sort_by_key(|(k, _)| **k);
        let mut timers: Vec<_> = self.timers.iter().map(|Reverse(x)| x).collect();
        timers.sort();
        let timers_v: Vec<Value> = timers
            .into_iter()
            .filter_map(|(due, seq, tm)| match tm {
                Timer::Op(id) => self
                    .ops
                    .key_of(*id)
                    .map(|(fi, ri, desc)| json!([due, seq, "op", fi, ri, enc_bytes(desc)])),
                Timer::Ctx(id, g) => records
                    .get(*id)
                    .and_then(Option::as_ref)
                    .filter(|r| !r.internal)
                    .map(|_| json!([due, seq, "ctx", id, g])),
            })
            .collect();
        let mut vars: Vec<_> = self.vars.iter().collect();
        vars.sort();
        let mut pending: Vec<_> = self.pending.iter().map(|Reverse(x)| x).collect();
        pending.sort();
        let mut cal: Vec<_> = self.calendar_last.iter().collect();
        cal.sort();
        let mut counts: Vec<_> = self.match_counts.iter().collect();
        counts.sort();
        let mut per: Vec<_> = self.buffers.per.iter().collect();
        per.sort_by(|a, b| a.0.cmp(b.0));
        json!({
            "rules": enc_fps(fps),
            "action_lists": t.lists,
            "contexts": {
                "records": records_v,
                "names": names_v.into_iter().map(|(n, id)| json!([enc_bytes(n), id])).collect::<Vec<_>>(),
            },
            "ops": ops_v,
            "pair_ops": pairs.into_iter().map(|((fi, ri), d)| {
                let descs: Vec<Bytes> = d.after(None).into_iter().map(|(_, desc)| desc).collect();
                json!([fi, ri, bl(&descs)])
            }).collect::<Vec<_>>(),
            "timers": timers_v,
            "seq": self.seq,
            "vars": vars.into_iter().map(|(k, v)| json!([k, enc_opt_bytes(v)])).collect::<Vec<_>>(),
            "queue": self.queue.iter().map(|(a, b)| json!([enc_bytes(a), enc_bytes(b)])).collect::<Vec<_>>(),
            "pending": pending.into_iter().map(|(t, s, a, b)| json!([t, s, enc_bytes(a), enc_bytes(b)])).collect::<Vec<_>>(),
            "calendar_last": cal.into_iter().map(|((fi, ri), (a, b, c, d, e))| json!([fi, ri, a, b, c, d, e])).collect::<Vec<_>>(),
            "last_clean": self.last_clean,
            "match_counts": counts.into_iter().map(|((fi, ri), n)| json!([fi, ri, n])).collect::<Vec<_>>(),
            "buffers": {
                "size": self.buffers.size,
                "joint": self.buffers.joint,
                "ring": self.buffers.ring.iter().map(|(l, s)| json!([enc_bytes(l), src_enc(s)])).collect::<Vec<_>>(),
                "per": per.into_iter().map(|(s, r)| json!([src_enc(s), bl(&r.iter().cloned().collect::<Vec<_>>())])).collect::<Vec<_>>(),
            },
        })
    }

    /// Restores a state saved by [`Engine::save_state`] into a fresh engine. Nothing is
    /// changed when the value is malformed (the error says why). Operations of rules
    /// whose fingerprint changed are dropped and counted in the result.
    pub fn restore_state(&mut self, v: &Value, fps: &Fingerprints) -> R<Restored> {
        let d = self.decode_state(v, fps)?;
        self.contexts = d.contexts;
        self.ops = d.ops;
        self.pair_ops = super::FastMap::default();
        let prog = self.prog.clone();
        for ((fi, number), descs) in d.pair_ops {
            let plan = prog.files.get(fi).and_then(|f| {
                f.rules
                    .iter()
                    .find(|r| r.number == number)
                    .and_then(|r| match &r.kind {
                        CKind::Pair { plan, .. } => plan.clone(),
                        _ => None,
                    })
            });
            for desc in descs {
                self.index_pair_op(fi, number, plan.as_deref(), &desc);
            }
        }
        self.timers = d.timers;
        self.seq = self.seq.max(d.seq);
        self.vars = d.vars;
        self.queue = d.queue;
        self.pending = d.pending;
        self.calendar_last = d.calendar_last;
        self.last_clean = d.last_clean;
        self.match_counts = d.match_counts;
        if let Some(ring) = d.ring {
            self.buffers.ring = ring;
        }
        if let Some(per) = d.per {
            self.buffers.per = per;
        }
        self.cache.clear();
        Ok(d.report)
    }

    fn decode_state(&self, v: &Value, fps: &Fingerprints) -> R<Decoded> {
        let mut report = Restored::default();
        let saved_fps = dec_fps(field(v, "rules")?)?;
        let map = rule_map(&saved_fps, fps);
        let lists: Vec<ActionList> = arr(field(v, "action_lists")?)?
            .iter()
            .map(|l| dec_list(l).map(Arc::new))
            .collect::<R<_>>()?;
        // Contexts.
        let c = field(v, "contexts")?;
        let records = arr(field(c, "records")?)?
            .iter()
            .map(|r| {
                if r.is_null() {
                    Ok(None)
                } else {
                    dec_record(r, &lists).map(Some)
                }
            })
            .collect::<R<Vec<_>>>()?;
        report.contexts = records.iter().flatten().count();
        let mut names = super::FastMap::default();
        for n in arr(field(c, "names")?)? {
            match arr(n)?.as_slice() {
                [name, id] => {
                    let id = dec_usize(id)?;
                    if records.get(id).and_then(Option::as_ref).is_none() {
                        return Err("context name without a record".into());
                    }
                    names.insert(dec_bytes(name)?, id);
                }
                _ => return Err("bad context name".into()),
            }
        }
        let contexts = Contexts::from_parts(names, records);
        // Operations.
        let prog = self.prog.clone();
        let kind_of = |fi: usize, ri: usize| prog.files.get(fi).and_then(|f| f.rules.get(ri));
        let mut ops = super::optable::OpTable::default();
        for o in arr(field(v, "ops")?)? {
            let (ofi, ori) = (dec_usize(field(o, "file")?)?, dec_usize(field(o, "rule")?)?);
            let Some(&(nfi, nri)) = map.get(&(ofi, ori)) else {
                report.dropped_ops += 1;
                continue;
            };
            let Some(rule) = kind_of(nfi, nri) else {
                report.dropped_ops += 1;
                continue;
            };
            let state = match dec_state(field(o, "state")?, &lists, &rule.kind) {
                Ok(s) => s,
                Err(e) => {
                    crate::warn!(
                        "State file: dropping an operation of rule {} in {}: {e}",
                        nri + 1,
                        prog.files[nfi].name
                    );
                    report.dropped_ops += 1;
                    continue;
                }
            };
            let op = Op {
                time: dec_i64(field(o, "time")?)?,
                window: dec_i64(field(o, "window")?)?,
                scheduled: dec_i64(field(o, "scheduled")?)?,
                state,
            };
            ops.insert((nfi, nri, dec_bytes(field(o, "desc")?)?), op);
        }
        report.ops = ops.len();
        let mut pair_ops = super::FastMap::default();
        for p in arr(field(v, "pair_ops")?)? {
            match arr(p)?.as_slice() {
                [fi, ri, descs] => {
                    if let Some(&(nfi, nri)) = map.get(&(dec_usize(fi)?, dec_usize(ri)?)) {
                        let descs: Vec<Bytes> = arr(descs)?
                            .iter()
                            .map(dec_bytes)
                            .collect::<R<Vec<_>>>()?
                            .into_iter()
                            .filter(|d| ops.contains_key(&(nfi, nri, d.clone())))
                            .collect();
                        pair_ops.insert((nfi, nri), descs);
                    }
                }
                _ => return Err("bad pair list".into()),
            }
        }
        let mut timers = BinaryHeap::new();
        for t in arr(field(v, "timers")?)? {
            let a = arr(t)?;
            let due = dec_i64(a.first().ok_or("bad timer")?)?;
            let seq = dec_u64(a.get(1).ok_or("bad timer")?)?;
            match (a.get(2).and_then(Value::as_str), &a[3.min(a.len())..]) {
                (Some("op"), [fi, ri, desc]) => {
                    if let Some(&(nfi, nri)) = map.get(&(dec_usize(fi)?, dec_usize(ri)?)) {
                        let key = (nfi, nri, dec_bytes(desc)?);
                        if let Some(id) = ops.id_of(&key) {
                            timers.push(Reverse((due, seq, Timer::Op(id))));
                        }
                    }
                }
                (Some("ctx"), [id, g]) => {
                    timers.push(Reverse((due, seq, Timer::Ctx(dec_usize(id)?, dec_u64(g)?))));
                }
                _ => return Err("bad timer".into()),
            }
        }
        let vars = arr(field(v, "vars")?)?
            .iter()
            .map(|p| match arr(p)?.as_slice() {
                [k, val] => Ok((dec_str(k)?, dec_opt_bytes(val)?)),
                _ => Err("bad variable".to_string()),
            })
            .collect::<R<HashMap<_, _>>>()?;
        let pair = |p: &Value| -> R<(Bytes, Bytes)> {
            match arr(p)?.as_slice() {
                [a, b] => Ok((dec_bytes(a)?, dec_bytes(b)?)),
                _ => Err("bad event".into()),
            }
        };
        let queue = arr(field(v, "queue")?)?
            .iter()
            .map(pair)
            .collect::<R<VecDeque<_>>>()?;
        let pending = arr(field(v, "pending")?)?
            .iter()
            .map(|p| match arr(p)?.as_slice() {
                [t, s, a, b] => Ok(Reverse((
                    dec_i64(t)?,
                    dec_u64(s)?,
                    dec_bytes(a)?,
                    dec_bytes(b)?,
                ))),
                _ => Err("bad delayed event".to_string()),
            })
            .collect::<R<BinaryHeap<_>>>()?;
        report.pending = pending.len();
        let mut calendar_last = HashMap::new();
        for c in arr(field(v, "calendar_last")?)? {
            let n = arr(c)?.iter().map(dec_i64).collect::<R<Vec<_>>>()?;
            let [fi, ri, a, b, c, d, e] = n.as_slice() else {
                return Err("bad calendar stamp".into());
            };
            if let Some(&k) = map.get(&(*fi as usize, *ri as usize)) {
                calendar_last.insert(k, (*a as i32, *b as i32, *c as i32, *d as i32, *e as i32));
            }
        }
        let mut match_counts = super::FastMap::default();
        for c in arr(field(v, "match_counts")?)? {
            let n = arr(c)?.iter().map(dec_u64).collect::<R<Vec<_>>>()?;
            if let [fi, ri, cnt] = n.as_slice() {
                if let Some(&k) = map.get(&(*fi as usize, *ri as usize)) {
                    match_counts.insert(k, *cnt);
                }
            }
        }
        // The input buffers, when their shape is unchanged.
        let b = field(v, "buffers")?;
        let (mut ring, mut per) = (None, None);
        if dec_usize(field(b, "size")?)? == self.buffers.size
            && dec_bool(field(b, "joint")?)? == self.buffers.joint
        {
            let r = arr(field(b, "ring")?)?
                .iter()
                .map(|e| match arr(e)?.as_slice() {
                    [l, s] => Ok((dec_bytes(l)?, src_dec(s)?)),
                    _ => Err("bad buffer line".to_string()),
                })
                .collect::<R<VecDeque<_>>>()?;
            if r.len() == self.buffers.size {
                ring = Some(r);
            }
            let mut m = HashMap::new();
            for e in arr(field(b, "per")?)? {
                match arr(e)?.as_slice() {
                    [s, lines] => {
                        let l = arr(lines)?
                            .iter()
                            .map(dec_bytes)
                            .collect::<R<VecDeque<_>>>()?;
                        m.insert(src_dec(s)?, l);
                    }
                    _ => return Err("bad buffer".into()),
                }
            }
            per = Some(m);
        }
        Ok(Decoded {
            contexts,
            ops,
            pair_ops,
            timers,
            seq: dec_u64(field(v, "seq")?)?,
            vars,
            queue,
            pending,
            calendar_last,
            last_clean: dec_i64(field(v, "last_clean")?)?,
            match_counts,
            ring,
            per,
            report,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_round_trip() {
        for b in [&b"plain"[..], b"", b"\xff\x00abc\x80", "é".as_bytes()] {
            assert_eq!(dec_bytes(&enc_bytes(b)).unwrap(), b);
        }
    }

    #[test]
    fn actions_round_trip() {
        let text = "create X 10 (write - a; event 5 b; if %v ( assign %w 1 ) else ( free %w )); \
                    set X 5 (shellcmd echo 1); event 3 hi; tevent 2 zz; cevent C 1 yy; \
                    add X y; copy X %z; getsize %n X; reset -1 foo; lcall %o %p -> ( sub {1} ); \
                    while %q (break); pipe 'x' cat; report X cat; spawn ls; cspawn C ls";
        let list = crate::config::action::parse_list(text, 0).unwrap();
        let list: Vec<Action<Bytes>> =
            crate::config::action::map_list(&list, &mut |s: &String| s.as_bytes().to_vec());
        let v = enc_list(&list);
        let text = serde_json::to_string(&v).unwrap();
        let back = dec_list(&serde_json::from_str(&text).unwrap()).unwrap();
        assert_eq!(back, list);
    }
}
