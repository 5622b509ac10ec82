//! SEC's dump file (SIGUSR1): the text layout of SEC 2.9.1's dump and its `--dumpfjson`
//! form, produced from the engine's state. This module only reads the engine (rules,
//! operations, contexts, buffers, pending events, the match cache, variables); facts the
//! engine does not have (start time, options, inputs, children, CPU times) come in a
//! [`DumpInfo`] from the event loop. Writing the file is the caller's business.

use std::fmt::Write as _;

use serde_json::{json, Map, Value};

use crate::config::action::{Action, CloseKind, Command, Query, StoreEdit, StoreTake, WriteKind};
use crate::config::PatternKind;
use crate::engine::compile::{CActions, CContext, CKind, CMatch, COp, CPattern, Next};
use crate::engine::ops::{GroupOp, Op, PairOp, State, TwoOp};
use crate::engine::subst::Bytes;
use crate::engine::{Engine, OpKey};
use crate::timefmt::ctime;

/// One input source as the dump shows it.
#[derive(Clone, Debug, Default)]
pub struct InputInfo {
    /// The file name.
    pub name: String,
    /// True if the file is open.
    pub open: bool,
    /// `regular file`, `named pipe`, `character device`...
    pub kind: String,
    /// The read offset, when known.
    pub offset: Option<u64>,
    /// File size, device and inode, when the file exists.
    pub stat: Option<(u64, u64, u64)>,
    /// Lines received from it.
    pub lines: u64,
    /// Its internal context, if set.
    pub context: Option<String>,
}

/// One child process as the dump shows it.
#[derive(Clone, Debug, Default)]
pub struct ChildInfo {
    /// Its process id.
    pub pid: u32,
    /// The command line, when known.
    pub cmdline: String,
}

/// What the dump needs that the engine does not know.
#[derive(Clone, Debug, Default)]
pub struct DumpInfo {
    /// Program start (epoch seconds).
    pub start_time: i64,
    /// Last configuration load (epoch seconds).
    pub conf_load_time: i64,
    /// The load time of each rule file, by the engine's file index.
    pub file_load_times: Vec<i64>,
    /// Rule matches by (file index, rule index), when counted.
    pub rule_matches: std::collections::HashMap<(usize, usize), u64>,
    /// The `SECRC` file, if any.
    pub rcfile: Option<String>,
    /// The command line options, as given.
    pub options: String,
    /// Effective user and group ids and supplementary groups.
    pub ids: (u32, u32, Vec<u32>),
    /// User, system, child user and child system CPU seconds.
    pub cpu: (f64, f64, f64, f64),
    /// Lines processed (input lines, synthetic and internal events).
    pub lines: u64,
    /// The input sources in reading order.
    pub inputs: Vec<InputInfo>,
    /// Running children.
    pub children: Vec<ChildInfo>,
}

const EQ: &str = "============================================================";
const DASH: &str = "------------------------------------------------------------";

fn s(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn header(out: &mut String, title: &str) {
    let _ = writeln!(out, "{title}:\n{EQ}");
}

/// SEC's text form of a command: the line, or the exec arguments joined by spaces.
fn cmd_text(c: &Command<Bytes>) -> (bool, String) {
    match c {
        Command::Shell(x) => (false, s(x)),
        Command::Exec(v) => (true, v.iter().map(|a| s(a)).collect::<Vec<_>>().join(" ")),
    }
}

fn join(parts: &[String]) -> String {
    parts
        .iter()
        .filter(|p| !p.is_empty())
        .cloned()
        .collect::<Vec<_>>()
        .join(" ")
}

/// One action as SEC's dump prints it (its name and parameters, parentheses removed).
fn action_text(a: &Action<Bytes>) -> String {
    let v = |n: &str| format!("%{n}");
    match a {
        Action::None => "none".into(),
        Action::Logonly(t) => join(&["logonly".into(), s(t)]),
        Action::Write { kind, target, text } => {
            let name = match kind {
                WriteKind::Write => "write",
                WriteKind::Writen => "writen",
                WriteKind::Owritecl => "owritecl",
                WriteKind::Udgram => "udgram",
                WriteKind::Ustream => "ustream",
                WriteKind::Udpsock => "udpsock",
                WriteKind::Tcpsock => "tcpsock",
            };
            join(&[name.into(), s(target), s(text)])
        }
        Action::Close { kind, target } => {
            let name = match kind {
                CloseKind::File => "closef",
                CloseKind::Udgram => "closeudgr",
                CloseKind::Ustream => "closeustr",
                CloseKind::Udp => "closeudp",
                CloseKind::Tcp => "closetcp",
                CloseKind::Input => "dropinput",
            };
            join(&[name.into(), s(target)])
        }
        Action::ShellCmd(c) => {
            let (exec, t) = cmd_text(c);
            join(&[if exec { "cmdexec" } else { "shellcmd" }.into(), t])
        }
        Action::Spawn { context, cmd } => {
            let (exec, t) = cmd_text(cmd);
            let name = match (context.is_some(), exec) {
                (false, false) => "spawn",
                (false, true) => "spawnexec",
                (true, false) => "cspawn",
                (true, true) => "cspawnexec",
            };
            join(&[
                name.into(),
                context.as_deref().map(s).unwrap_or_default(),
                t,
            ])
        }
        Action::Pipe { text, cmd } => {
            let (exec, t) = cmd_text(cmd);
            join(&[if exec { "pipeexec" } else { "pipe" }.into(), s(text), t])
        }
        Action::Create {
            name,
            lifetime,
            list,
        } => {
            let lt = if lifetime.is_empty() {
                "0".into()
            } else {
                s(lifetime)
            };
            let mut t = join(&["create".into(), s(name), lt]);
            if !list.is_empty() {
                let _ = write!(t, " ({})", list_text(list));
            }
            t
        }
        Action::Delete(n) => join(&["delete".into(), s(n)]),
        Action::Obsolete(n) => join(&["obsolete".into(), s(n)]),
        Action::Unalias(n) => join(&["unalias".into(), s(n)]),
        Action::Set {
            name,
            lifetime,
            list,
        } => {
            let mut t = join(&["set".into(), s(name), s(lifetime)]);
            if let Some(l) = list {
                let _ = write!(t, " ({})", list_text(l));
            }
            t
        }
        Action::Alias { name, alias } => join(&["alias".into(), s(name), s(alias)]),
        Action::Store { edit, name, text } => {
            let n = match edit {
                StoreEdit::Add => "add",
                StoreEdit::Prepend => "prepend",
                StoreEdit::Fill => "fill",
            };
            join(&[n.into(), s(name), s(text)])
        }
        Action::Report { name, cmd } => {
            let (exec, t) = cmd_text(cmd);
            join(&[
                if exec { "reportexec" } else { "report" }.into(),
                s(name),
                t,
            ])
        }
        Action::Take { op, name, var } => {
            let n = match op {
                StoreTake::Copy => "copy",
                StoreTake::Pop => "pop",
                StoreTake::Shift => "shift",
                StoreTake::Empty => "empty",
            };
            let var = if var.is_empty() {
                String::new()
            } else {
                v(var)
            };
            join(&[n.into(), s(name), var])
        }
        Action::Query { op, var, name } => {
            let n = match op {
                Query::Exists => "exists",
                Query::GetSize => "getsize",
                Query::GetAliases => "getaliases",
                Query::GetLtime => "getltime",
                Query::GetCtime => "getctime",
            };
            join(&[n.into(), v(var), s(name)])
        }
        Action::SetLtime { name, lifetime } => join(&["setltime".into(), s(name), s(lifetime)]),
        Action::SetCtime { time, name } => join(&["setctime".into(), s(time), s(name)]),
        Action::Event { delay, text } => join(&["event".into(), delay.to_string(), s(text)]),
        Action::TEvent {
            context,
            delay,
            text,
        } => match context {
            Some(c) => join(&["cevent".into(), s(c), s(delay), s(text)]),
            None => join(&["tevent".into(), s(delay), s(text)]),
        },
        Action::Reset { rule, text, .. } => join(&[
            "reset".into(),
            rule.map(|r| r.to_string()).unwrap_or_default(),
            s(text),
        ]),
        Action::GetWpos {
            var, rule, text, ..
        } => join(&["getwpos".into(), v(var), rule.to_string(), s(text)]),
        Action::SetWpos {
            time, rule, text, ..
        } => join(&["setwpos".into(), s(time), rule.to_string(), s(text)]),
        Action::Assign { var, text, quote } => join(&[
            if *quote { "assignsq" } else { "assign" }.into(),
            v(var),
            s(text),
        ]),
        Action::Free(var) => join(&["free".into(), v(var)]),
        Action::Eval { var, code } => join(&["eval".into(), v(var), s(code)]),
        Action::Call {
            var,
            code_var,
            params,
        } => {
            let mut p = vec!["call".into(), v(var), v(code_var)];
            p.extend(params.iter().map(|x| s(x)));
            join(&p)
        }
        Action::LCall { var, params, .. } => {
            let mut p = vec!["lcall".into(), v(var)];
            p.extend(params.iter().map(|x| s(x)));
            p.push("->".into());
            p.push("CODE(0x0)".into());
            join(&p)
        }
        Action::Rewrite { count, text } => join(&["rewrite".into(), s(count), s(text)]),
        Action::AddInput {
            file,
            offset,
            context,
        } => join(&["addinput".into(), s(file), s(offset), s(context)]),
        Action::SigEmul(sig) => join(&["sigemul".into(), s(sig)]),
        Action::VarSet { var, entry } => join(&["varset".into(), v(var), s(entry)]),
        Action::If {
            var,
            then,
            otherwise,
        } => format!(
            "if {} ({}) else ({})",
            v(var),
            list_text(then),
            list_text(otherwise)
        ),
        Action::While { var, body } => format!("while {} ({})", v(var), list_text(body)),
        Action::Break => "break".into(),
        Action::Continue => "continue".into(),
    }
}

/// An action list as SEC's dump prints it: every action followed by `; `.
pub fn list_text(list: &[Action<Bytes>]) -> String {
    list.iter()
        .map(|a| format!("{}; ", action_text(a)))
        .collect()
}

/// A pattern as SEC's dump prints it.
fn pattern_text(p: &CPattern) -> String {
    let lines = p.lines.max(1);
    let t = s(&p.text);
    match p.kind {
        PatternKind::RegExp => format!("regexp for {lines} line(s): (?^:{t})"),
        PatternKind::NRegExp => format!("negative regexp for {lines} line(s): (?^:{t})"),
        PatternKind::SubStr => format!("substring for {lines} line(s): {t}"),
        PatternKind::NSubStr => format!("negative substring for {lines} line(s): {t}"),
        PatternKind::PerlFunc => format!("perlfunc for {lines} line(s): CODE(0x0)"),
        PatternKind::NPerlFunc => format!("negative perlfunc for {lines} line(s): CODE(0x0)"),
        PatternKind::Cached => format!("cached match: {t}"),
        PatternKind::NCached => format!("negative cached match: {t}"),
        PatternKind::TValue => format!("truth value: {}", if p.truth { "TRUE" } else { "FALSE" }),
    }
}

/// A context expression (postfix steps) in infix form.
fn ops_text(ops: &[COp]) -> String {
    let mut stack: Vec<String> = Vec::new();
    for op in ops {
        match op {
            COp::Operand(n) => stack.push(s(n)),
            COp::Expr(inner) => stack.push(format!("({})", ops_text(inner))),
            COp::ECode(c) => stack.push(format!("= {}", s(c))),
            COp::CCode {
                params,
                code,
                cache,
            } => {
                let p: Vec<String> = params.iter().map(|x| s(x)).collect();
                let arrow = if *cache { ":>" } else { "->" };
                stack.push(format!("{} {arrow} {code}", p.join(" ")).trim().to_string());
            }
            COp::VarSet(n) => stack.push(format!("varset {}", s(n))),
            COp::Not => {
                let x = stack.pop().unwrap_or_default();
                stack.push(format!("!{x}"));
            }
            COp::And | COp::Or => {
                let b = stack.pop().unwrap_or_default();
                let a = stack.pop().unwrap_or_default();
                let o = if matches!(op, COp::And) { "&&" } else { "||" };
                stack.push(format!("{a} {o} {b}"));
            }
        }
    }
    stack.join(" ")
}

fn ctx_text(c: &Option<std::sync::Arc<CContext>>) -> String {
    c.as_ref().map(|c| ops_text(&c.ops)).unwrap_or_default()
}

fn next_text(n: Next, ri: usize, len: usize) -> String {
    match n {
        Next::End => "end matching".into(),
        Next::Rule(j) if j == ri + 1 && j < len => "take next".into(),
        Next::Rule(j) if j >= len => "don't continue".into(),
        Next::Rule(j) => format!("go to rule {}", j + 1),
    }
}

fn lifetime_text(l: i64) -> String {
    if l == 0 {
        "infinite".into()
    } else {
        format!("{l} seconds")
    }
}

/// The type-specific lines of one operation, as (label, value) pairs, plus the event
/// times (with their `(matched by pattern #N)` suffix for EventGroup) and status.
struct OpView {
    type_name: String,
    lines: Vec<(String, String)>,
    status: Option<&'static str>,
    times: Vec<String>,
    times_json: Vec<i64>,
}

impl Engine {
    fn op_view(&self, key: &OpKey, op: &Op) -> Option<OpView> {
        let (fi, ri, _) = key;
        let file = self.prog.files.get(*fi)?;
        let rule = file.rules.get(*ri)?;
        let len = file.rules.len();
        let mut l: Vec<(String, String)> = Vec::new();
        let mut push = |a: &str, b: String| l.push((a.to_string(), b));
        let m_lines = |push: &mut dyn FnMut(&str, String), m: &CMatch, sfx: &str| {
            push(&format!("Pattern{sfx}"), pattern_text(&m.pat));
            push(&format!("Context{sfx}"), ctx_text(&m.ctx));
            push(
                &format!("Behavior after match{sfx}"),
                next_text(m.next, *ri, len),
            );
        };
        let acts = |a: &CActions| list_text(&a.list);
        let mut status = None;
        let mut times = Vec::new();
        let mut times_json = Vec::new();
        let type_name;
        match (&rule.kind, &op.state) {
            (CKind::SingleWithSuppress { m, action, .. }, _) => {
                type_name = "SingleWithSuppress".to_string();
                m_lines(&mut push, m, "");
                push("Description", s(&key.2));
                push("Action", acts(action));
                push("Window", format!("{} seconds", op.window));
            }
            (CKind::Pair { m, m2, .. }, State::Pair(p)) => {
                let PairOp {
                    with_window,
                    action,
                    pattern2,
                    context2,
                    desc2,
                    action2,
                    ..
                } = &**p;
                type_name = if *with_window {
                    "PairWithWindow"
                } else {
                    "Pair"
                }
                .to_string();
                m_lines(&mut push, m, "");
                push("Description", s(&key.2));
                push("Action", list_text(action));
                push("Pattern2", pattern_text(pattern2));
                push(
                    "Context2",
                    context2.as_ref().map(|c| ops_text(c)).unwrap_or_default(),
                );
                push("Behavior after match2", next_text(m2.next, *ri, len));
                push("Description2", s(desc2));
                push("Action2", list_text(action2));
                push("Window", format!("{} seconds", op.window));
            }
            (
                CKind::Threshold { m, thresh, .. },
                State::Threshold {
                    times: t,
                    suppress,
                    action,
                    action2,
                },
            ) => {
                type_name = "SingleWithThreshold".to_string();
                m_lines(&mut push, m, "");
                push("Description", s(&key.2));
                push("Action", list_text(action));
                push("Action2", list_text(action2));
                push("Window", format!("{} seconds", op.window));
                push("Threshold", thresh.to_string());
                status = Some(if *suppress {
                    "seen before threshold was crossed"
                } else {
                    "checking for threshold"
                });
                times = t.iter().map(|x| ctime(*x)).collect();
                times_json = t.iter().copied().collect();
            }
            (
                CKind::TwoThresholds {
                    m,
                    thresh,
                    window,
                    window2,
                    thresh2,
                    ..
                },
                State::TwoThresholds(p),
            ) => {
                let TwoOp {
                    times: t,
                    second,
                    action,
                    desc2,
                    action2,
                } = &**p;
                type_name = "SingleWith2Thresholds".to_string();
                m_lines(&mut push, m, "");
                push("Description", s(&key.2));
                push("Action", list_text(action));
                push("Window", format!("{window} seconds"));
                push("Threshold", thresh.to_string());
                push("Description2", s(desc2));
                push("Action2", list_text(action2));
                push("Window2", format!("{window2} seconds"));
                push("Threshold2", thresh2.to_string());
                status = Some(if *second {
                    "checking for 2nd threshold"
                } else {
                    "checking for 1st threshold"
                });
                times = t.iter().map(|x| ctime(*x)).collect();
                times_json = t.iter().copied().collect();
            }
            (CKind::EventGroup { events, .. }, State::Group(g)) => {
                let GroupOp {
                    all,
                    suppress,
                    action,
                    slide,
                    end,
                    ..
                } = &**g;
                type_name = format!("EventGroup{}", events.len());
                for (i, e) in events.iter().enumerate() {
                    let sfx = if i == 0 {
                        String::new()
                    } else {
                        (i + 1).to_string()
                    };
                    m_lines(&mut push, &e.m, &sfx);
                    push(&format!("Count action{sfx}"), acts(&e.count));
                    push(&format!("Threshold{sfx}"), e.thresh.to_string());
                }
                let init = match &rule.kind {
                    CKind::EventGroup { init, .. } => acts(init),
                    _ => String::new(),
                };
                push("Init action", init);
                push("Slide action", list_text(slide));
                push("End action", list_text(end));
                push("Description", s(&key.2));
                push("Action", list_text(action));
                push("Window", format!("{} seconds", op.window));
                status = Some(if *suppress {
                    "seen before thresholds were crossed"
                } else {
                    "checking for thresholds"
                });
                times = all
                    .iter()
                    .map(|(t, i, _)| format!("{} (matched by pattern #{})", ctime(*t), i + 1))
                    .collect();
                times_json = all.iter().map(|(t, _, _)| *t).collect();
            }
            _ => return None,
        }
        Some(OpView {
            type_name,
            lines: l,
            status,
            times,
            times_json,
        })
    }

    fn sorted_ops(&self) -> Vec<(&OpKey, &Op)> {
        let mut v: Vec<(&OpKey, &Op)> = self.ops.iter().collect();
        v.sort_by(|a, b| (a.1.time, a.0).cmp(&(b.1.time, b.0)));
        v
    }

    fn op_key_text(&self, key: &OpKey) -> String {
        let name = self
            .prog
            .files
            .get(key.0)
            .map(|f| f.name.to_string())
            .unwrap_or_default();
        format!("{name} | {} | {}", key.1, s(&key.2))
    }

    /// Context records in a stable order (creation time, then first name).
    fn sorted_contexts(&self) -> Vec<&super::contexts::Record> {
        let mut seen = std::collections::HashSet::new();
        let mut recs = Vec::new();
        let mut names: Vec<&Bytes> = self.contexts.names().collect();
        names.sort();
        for n in names {
            let Some(id) = self.contexts.id(n) else {
                continue;
            };
            if !seen.insert(id) {
                continue;
            }
            if let Some(r) = self.contexts.record(id) {
                if !r.internal {
                    recs.push(r);
                }
            }
        }
        recs.sort_by(|a, b| (a.ctime, &a.aliases).cmp(&(b.ctime, &b.aliases)));
        recs
    }

    /// Every action-list variable the dump lists: SEC's built-ins with their values at
    /// the last action run (or now), then the user's, sorted by name.
    fn all_vars(&self) -> Vec<(String, Option<Bytes>)> {
        let (now, t) = match &self.time_vars {
            Some((n, t)) => (*n, t.clone()),
            None => (self.now(), crate::timefmt::local(self.now())),
        };
        let _ = now;
        let mut v: Vec<(String, Option<Bytes>)> = Vec::new();
        let mut add = |k: &str, val: String| v.push((k.to_string(), Some(val.into_bytes())));
        add("%", "%".into());
        for i in 0..32u8 {
            v.push((format!(".chr{i}"), Some(vec![i])));
        }
        let mut add = |k: &str, val: String| v.push((k.to_string(), Some(val.into_bytes())));
        add(".cr", "\r".into());
        add(".nl", "\n".into());
        add(".sp", " ".into());
        add(".tab", "\t".into());
        add(".sec", format!("{:02}", t.sec));
        add(".min", format!("{:02}", t.min));
        add(".hour", format!("{:02}", t.hour));
        add(
            ".hmsstr",
            format!("{:02}:{:02}:{:02}", t.hour, t.min, t.sec),
        );
        add(".mday", format!("{:02}", t.mday));
        add(".mdaystr", format!("{:>2}", t.mday));
        add(".mon", format!("{:02}", t.mon));
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
        add(".monstr", MONTHS[(t.mon as usize + 11) % 12].to_string());
        add(".year", t.year.to_string());
        add(".wday", t.wday.to_string());
        add(".wdaystr", DAYS[t.wday as usize % 7].to_string());
        add(".tzname", t.tzname.clone());
        let sign = if t.tzoff < 0 { '-' } else { '+' };
        let off = t.tzoff.abs();
        let (h, m) = (off / 3600, (off % 3600) / 60);
        add(".tzoff", format!("{sign}{h:02}{m:02}"));
        add(".tzoff2", format!("{sign}{h:02}:{m:02}"));
        for (k, val) in &self.vars {
            if !v.iter().any(|(n, _)| n == k) {
                v.push((k.clone(), val.clone()));
            }
        }
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// The input buffer lines of a per-source ring (empty strings where nothing came yet).
    fn ring_lines(&self, src: &Option<crate::io::input::Src>) -> Vec<String> {
        match self.buffers.per.get(src) {
            Some(r) => r.iter().map(|l| s(l)).collect(),
            None => vec![String::new(); self.buffers.size],
        }
    }

    /// SEC's text dump.
    pub fn dump_text(&self, info: &DumpInfo) -> String {
        let mut o = String::new();
        let now = self.now();
        header(&mut o, "Program information");
        let _ = writeln!(
            o,
            "Program version: SEC (Simple Event Correlator) {}",
            crate::cli::SEC_VERSION
        );
        let _ = writeln!(o, "Time of the start: {}", ctime(info.start_time));
        let _ = writeln!(
            o,
            "Time of the last configuration load: {}",
            ctime(info.conf_load_time)
        );
        let _ = writeln!(o, "Time of the dump: {}", ctime(now));
        let _ = writeln!(
            o,
            "Program resource file: {}",
            info.rcfile.as_deref().unwrap_or("none")
        );
        let _ = writeln!(o, "Program options: {}", info.options);
        let _ = writeln!(o, "Effective user ID: {}", info.ids.0);
        let _ = writeln!(o, "Effective group ID: {}", info.ids.1);
        let sg: Vec<String> = info.ids.2.iter().map(|g| g.to_string()).collect();
        let _ = writeln!(o, "Supplementary group IDs: {}", sg.join(" "));
        o.push('\n');

        header(&mut o, "Environment");
        let mut env: Vec<(String, String)> = std::env::vars_os()
            .map(|(k, v)| (k.to_string_lossy().into(), v.to_string_lossy().into()))
            .collect();
        env.sort();
        for (k, v) in env {
            let _ = writeln!(o, "{k}={v}");
        }
        o.push('\n');

        header(&mut o, "Performance statistics");
        let _ = writeln!(o, "Run time: {} seconds", now - info.start_time);
        let _ = writeln!(o, "User time: {} seconds", info.cpu.0);
        let _ = writeln!(o, "System time: {} seconds", info.cpu.1);
        let _ = writeln!(o, "Child user time: {} seconds", info.cpu.2);
        let _ = writeln!(o, "Child system time: {} seconds", info.cpu.3);
        let _ = writeln!(o, "Processed input lines: {}", info.lines);
        if self.opts.input_format == crate::cli::InputFormat::Json {
            let _ = writeln!(o, "Input lines not valid JSON: {}", self.bad_json);
        }
        o.push('\n');

        header(&mut o, "Rule usage statistics");
        for (fi, f) in self.prog.files.iter().enumerate() {
            let loaded = info
                .file_load_times
                .get(fi)
                .copied()
                .unwrap_or(info.conf_load_time);
            let _ = writeln!(
                o,
                "\nStatistics for the rules from {}\n(loaded at {})\n{DASH}",
                f.name,
                ctime(loaded)
            );
            let nw = f.rules.len().to_string().len();
            let lw = f
                .rules
                .iter()
                .map(|r| r.line.to_string().len())
                .max()
                .unwrap_or(1);
            for (ri, r) in f.rules.iter().enumerate() {
                let m = info.rule_matches.get(&(fi, ri)).copied().unwrap_or(0);
                let _ = writeln!(
                    o,
                    "Rule {:>nw$} line {:>lw$} matched {m} events ({})",
                    ri + 1,
                    r.line,
                    s(&r.desc)
                );
            }
        }
        o.push('\n');

        header(&mut o, "Input sources");
        for i in &info.inputs {
            let _ = writeln!(o, "{}", input_line(i));
        }
        o.push('\n');
        let b = &self.buffers;
        if b.joint {
            let _ = writeln!(
                o,
                "Input buffering mode: joint buffer for all input sources\nSize of input buffer: {}\n",
                b.size
            );
            let _ = writeln!(
                o,
                "Content of input buffer (last {} input line(s)):\n{DASH}",
                b.size
            );
            for (l, _) in &b.ring {
                let _ = writeln!(o, "{}", s(l));
            }
            let _ = writeln!(o, "{DASH}\n\nLast {} input source(s):\n{DASH}", b.size);
            for (_, src) in &b.ring {
                let _ = writeln!(o, "{}", src.as_deref().unwrap_or(""));
            }
            let _ = writeln!(o, "{DASH}\n");
        } else {
            let _ = writeln!(
                o,
                "Input buffering mode: separate buffer for each input source\nSize of each input buffer: {}\n",
                b.size
            );
            let mut keys: Vec<&Option<crate::io::input::Src>> =
                b.per.keys().filter(|k| k.is_some()).collect();
            keys.sort();
            for k in keys {
                let _ = writeln!(
                    o,
                    "Content of input buffer for {}:\n{DASH}",
                    k.as_deref().unwrap_or("")
                );
                for l in self.ring_lines(k) {
                    let _ = writeln!(o, "{l}");
                }
                let _ = writeln!(o, "{DASH}\n");
            }
            let _ = writeln!(o, "Content of input buffer for synthetic events:\n{DASH}");
            for l in self.ring_lines(&None) {
                let _ = writeln!(o, "{l}");
            }
            let _ = writeln!(o, "{DASH}\n");
        }

        header(&mut o, "Pending events");
        let mut pending: Vec<_> = self.pending.iter().map(|r| &r.0).collect();
        pending.sort();
        for (t, _, text, ctx) in &pending {
            let _ = writeln!(o, "Event: {}", s(text));
            if ctx.as_slice() != super::SYNEVENT_CONTEXT {
                let _ = writeln!(o, "Context: {}", s(ctx));
            }
            let _ = writeln!(o, "Will be created at {}\n", ctime(*t));
        }
        let _ = writeln!(o, "Total: {} elements\n", pending.len());

        header(&mut o, "Pattern match cache");
        let mut cache: Vec<(&String, _)> = self.cache.iter().collect();
        cache.sort_by(|a, b| a.0.cmp(b.0));
        for (name, vars) in &cache {
            let _ = writeln!(o, "Entry: {name}");
            let mut vs: Vec<_> = vars.iter().map(|(k, v)| (k.to_string(), v)).collect();
            vs.sort_by(|a, b| a.0.cmp(&b.0));
            for (k, v) in vs {
                let _ = writeln!(
                    o,
                    "${k} = {}",
                    v.as_ref()
                        .map(|v| format!("'{}'", s(v)))
                        .unwrap_or("undef".into())
                );
            }
            let _ = writeln!(o, "{DASH}");
        }
        let _ = writeln!(o, "Total: {} elements\n", cache.len());

        header(&mut o, "List of event correlation operations");
        let ops = self.sorted_ops();
        for (key, op) in &ops {
            let Some(v) = self.op_view(key, op) else {
                continue;
            };
            let fname = self
                .prog
                .files
                .get(key.0)
                .map(|f| f.name.to_string())
                .unwrap_or_default();
            let _ = writeln!(o, "Key: {}", self.op_key_text(key));
            let _ = writeln!(o, "Operation started at: {}", ctime(op.time));
            let _ = writeln!(o, "Correlation window begins at: {}", ctime(op.time));
            let _ = writeln!(
                o,
                "Correlation window ends at: {}",
                ctime(op.time + op.window)
            );
            let _ = writeln!(o, "Configuration file: {fname}");
            let _ = writeln!(o, "Rule number: {}", key.1 + 1);
            let _ = writeln!(o, "Rule internal ID: {}", key.1);
            let _ = writeln!(o, "Type: {}", v.type_name);
            for (a, b) in &v.lines {
                let _ = writeln!(o, "{a}: {b}");
            }
            if let Some(st) = v.status {
                let _ = writeln!(o, "{} events observed at ({st}):", v.times.len());
                for t in &v.times {
                    let _ = writeln!(o, "{t}");
                }
            }
            let _ = writeln!(o, "\n{DASH}");
        }
        let _ = writeln!(o, "Total: {} elements\n", ops.len());

        header(&mut o, "List of contexts");
        let recs = self.sorted_contexts();
        for r in &recs {
            for a in r.aliases.iter().rev() {
                let _ = writeln!(o, "Context Name: {}", s(a));
            }
            let _ = writeln!(o, "Creation Time: {}", ctime(r.ctime));
            let _ = writeln!(o, "Lifetime: {}", lifetime_text(r.lifetime));
            if !r.action.is_empty() {
                let _ = writeln!(
                    o,
                    "Action on delete: {} (%s = {})",
                    list_text(&r.action),
                    s(&r.desc)
                );
            }
            if !r.store.is_empty() {
                let _ = writeln!(o, "{} events associated with context:", r.store.len());
                for e in &r.store {
                    let _ = writeln!(o, "{}", s(e));
                }
            }
            let _ = writeln!(o, "{DASH}");
        }
        let _ = writeln!(o, "Total: {} elements\n", recs.len());

        header(&mut o, "Child processes");
        for c in &info.children {
            let _ = writeln!(
                o,
                "Child PID: {}\nCommandline started by child: {}\n{DASH}",
                c.pid, c.cmdline
            );
        }
        let _ = writeln!(o, "Total: {} elements\n", info.children.len());

        header(&mut o, "Action list variables");
        let vars = self.all_vars();
        for (k, v) in &vars {
            match v {
                Some(v) => {
                    let _ = writeln!(o, "%{k} = '{}'", s(v));
                }
                None => {
                    let _ = writeln!(o, "%{k} = undef");
                }
            }
        }
        let _ = writeln!(o, "Total: {} elements", vars.len());
        o
    }

    /// SEC's `--dumpfjson` dump: the same data as [`Engine::dump_text`] as one JSON
    /// object with SEC's keys.
    pub fn dump_json(&self, info: &DumpInfo) -> String {
        let now = self.now();
        let mut root = Map::new();
        root.insert(
            "program".into(),
            json!({
                "version": format!("SEC (Simple Event Correlator) {}", crate::cli::SEC_VERSION),
                "startuptime": info.start_time,
                "confloadtime": info.conf_load_time,
                "dumptime": now,
                "rcfile": info.rcfile.clone().unwrap_or_else(|| "none".into()),
                "options": info.options,
                "euid": info.ids.0,
                "egid": info.ids.1,
                "sgid": info.ids.2,
            }),
        );
        let env: Map<String, Value> = std::env::vars_os()
            .map(|(k, v)| {
                (
                    k.to_string_lossy().into_owned(),
                    Value::String(v.to_string_lossy().into_owned()),
                )
            })
            .collect();
        root.insert("env".into(), Value::Object(env));
        root.insert(
            "perf".into(),
            json!({
                "runtime": now - info.start_time,
                "user": info.cpu.0,
                "system": info.cpu.1,
                "childuser": info.cpu.2,
                "childsystem": info.cpu.3,
                "lines": info.lines,
            }),
        );
        if self.opts.input_format == crate::cli::InputFormat::Json {
            if let Some(Value::Object(perf)) = root.get_mut("perf") {
                perf.insert("badjson".into(), json!(self.bad_json));
            }
        }
        let mut rulestats = Map::new();
        for (fi, f) in self.prog.files.iter().enumerate() {
            let stats: Vec<Value> = f
                .rules
                .iter()
                .enumerate()
                .map(|(ri, r)| {
                    json!({
                        "desc": s(&r.desc),
                        "ruleline": r.line,
                        "matches": info.rule_matches.get(&(fi, ri)).copied().unwrap_or(0),
                    })
                })
                .collect();
            rulestats.insert(
                f.name.to_string(),
                json!({
                    "loadtime": info.file_load_times.get(fi).copied().unwrap_or(info.conf_load_time),
                    "stats": stats,
                }),
            );
        }
        root.insert("rulestats".into(), Value::Object(rulestats));
        let mut inputs = Map::new();
        for i in &info.inputs {
            let mut m = Map::new();
            m.insert("file".into(), json!(i.name));
            m.insert(
                "status".into(),
                json!(if i.open { "Open" } else { "Closed" }),
            );
            m.insert("type".into(), json!(i.kind));
            if let Some(off) = i.offset {
                m.insert("offset".into(), json!(off));
            }
            if let Some((size, dev, ino)) = i.stat {
                m.insert("size".into(), json!(size));
                m.insert("dev".into(), json!(dev));
                m.insert("inode".into(), json!(ino));
            }
            m.insert("lines".into(), json!(i.lines));
            if let Some(c) = &i.context {
                m.insert("context".into(), json!(c));
            }
            inputs.insert(i.name.clone(), Value::Object(m));
        }
        root.insert("inputs".into(), Value::Object(inputs));
        let b = &self.buffers;
        let buffer = if b.joint {
            json!({
                "bufmode": "joint buffer for all input sources",
                "bufsize": b.size,
                "lastlines": b.ring.iter().map(|(l, _)| s(l)).collect::<Vec<_>>(),
                "lastinputs": b.ring.iter().map(|(_, src)| src.as_deref().unwrap_or("").to_string()).collect::<Vec<_>>(),
            })
        } else {
            let mut bufs = Map::new();
            for k in b.per.keys() {
                let name = k.as_deref().unwrap_or("synthetic events").to_string();
                bufs.insert(name, json!(self.ring_lines(k)));
            }
            json!({
                "bufmode": "separate buffer for each input source",
                "bufsize": b.size,
                "buffers": bufs,
            })
        };
        root.insert("buffer".into(), buffer);
        let mut pending: Vec<_> = self.pending.iter().map(|r| &r.0).collect();
        pending.sort();
        root.insert(
            "pendingevents".into(),
            Value::Array(
                pending
                    .iter()
                    .map(|(t, _, text, _)| json!({"event": s(text), "time": t}))
                    .collect(),
            ),
        );
        let cache: Map<String, Value> = self
            .cache
            .iter()
            .map(|(k, v)| {
                let vars: Map<String, Value> = v
                    .iter()
                    .map(|(n, x)| {
                        (
                            n.to_string(),
                            x.as_ref()
                                .map(|x| Value::String(s(x)))
                                .unwrap_or(Value::Null),
                        )
                    })
                    .collect();
                (k.clone(), Value::Object(vars))
            })
            .collect();
        root.insert("pmatchcache".into(), Value::Object(cache));
        let mut ops = Map::new();
        for (key, op) in self.sorted_ops() {
            let Some(v) = self.op_view(key, op) else {
                continue;
            };
            let k = self.op_key_text(key);
            let mut m = Map::new();
            m.insert("key".into(), json!(k));
            m.insert(
                "configfile".into(),
                json!(self.prog.files[key.0].name.to_string()),
            );
            m.insert("ruleid".into(), json!(key.1));
            m.insert("type".into(), json!(v.type_name));
            m.insert("starttime".into(), json!(op.time));
            m.insert("windowstart".into(), json!(op.time));
            m.insert("windowend".into(), json!(op.time + op.window));
            for (label, val) in &v.lines {
                let jk = json_key(label);
                if jk == "window" || jk == "window2" || jk.starts_with("threshold") {
                    let n: i64 = val.trim_end_matches(" seconds").parse().unwrap_or_default();
                    m.insert(jk, json!(n));
                } else {
                    m.insert(jk, json!(val));
                }
            }
            if let Some(st) = v.status {
                m.insert("status".into(), json!(st));
                m.insert("eventtimes".into(), json!(v.times_json));
            }
            ops.insert(k, Value::Object(m));
        }
        root.insert("operations".into(), Value::Object(ops));
        let contexts: Vec<Value> = self
            .sorted_contexts()
            .iter()
            .map(|r| {
                let mut m = Map::new();
                m.insert(
                    "name".into(),
                    json!(r.aliases.iter().map(|a| s(a)).collect::<Vec<_>>()),
                );
                m.insert("creationtime".into(), json!(r.ctime));
                m.insert("lifetime".into(), json!(r.lifetime));
                if !r.action.is_empty() {
                    m.insert("action".into(), json!(list_text(&r.action)));
                    m.insert("desc".into(), json!(s(&r.desc)));
                }
                m.insert(
                    "buffer".into(),
                    json!(r.store.iter().map(|e| s(e)).collect::<Vec<_>>()),
                );
                Value::Object(m)
            })
            .collect();
        root.insert("contexts".into(), Value::Array(contexts));
        let children: Map<String, Value> = info
            .children
            .iter()
            .map(|c| {
                (
                    c.pid.to_string(),
                    json!({"pid": c.pid, "cmdline": c.cmdline}),
                )
            })
            .collect();
        root.insert("children".into(), Value::Object(children));
        let vars: Map<String, Value> = self
            .all_vars()
            .into_iter()
            .map(|(k, v)| (k, v.map(|v| Value::String(s(&v))).unwrap_or(Value::Null)))
            .collect();
        root.insert("variables".into(), Value::Object(vars));
        serde_json::to_string(&Value::Object(root)).unwrap_or_default()
    }
}

/// The JSON key SEC uses for a dump label ("Behavior after match2" -> "continue2").
fn json_key(label: &str) -> String {
    let (base, n) = match label.trim_end_matches(|c: char| c.is_ascii_digit()) {
        b if b.len() < label.len() => (b, &label[b.len()..]),
        b => (b, ""),
    };
    let k = match base {
        "Pattern" => "pattern",
        "Context" => "context",
        "Behavior after match" => "continue",
        "Description" => "desc",
        "Action" => "action",
        "Window" => "window",
        "Threshold" => "threshold",
        "Count action" => "countaction",
        "Init action" => "init",
        "Slide action" => "slide",
        "End action" => "end",
        other => return other.to_ascii_lowercase().replace(' ', ""),
    };
    format!("{k}{n}")
}

fn input_line(i: &InputInfo) -> String {
    let mut parts = vec![
        format!("status: {}", if i.open { "Open" } else { "Closed" }),
        format!("type: {}", i.kind),
    ];
    if let Some(off) = i.offset {
        parts.push(format!("read offset: {off}"));
    }
    if let Some((size, dev, ino)) = i.stat {
        parts.push(format!("file size: {size}"));
        parts.push(format!("device/inode: {dev}/{ino}"));
    }
    parts.push(format!("received data: {} lines", i.lines));
    parts.push(match &i.context {
        Some(c) => format!("context: {c}"),
        None => "no context set".into(),
    });
    format!("{} ({})", i.name, parts.join(", "))
}
