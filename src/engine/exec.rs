//! Executing action lists: action-list variables are substituted into each parameter as
//! the action runs (SEC's second substitution phase), contexts and variables change here,
//! and effects on the outside world go through [`Effects`](crate::engine::Effects).

use std::sync::Arc;

use crate::config::action::{Action, Command, Query, StoreEdit, StoreTake};
use crate::engine::contexts::Contexts;
use crate::engine::subst::{subst_actionvars, Bytes, VarSource};
use crate::engine::{ActionList, ChildMode, Engine, Signal, SYNEVENT_CONTEXT};
use crate::timefmt::LocalTime;

/// Parses SEC's `^\s*0*([0-9]+)\s*$` integers.
fn parse_uint(s: &[u8]) -> Option<i64> {
    let t = std::str::from_utf8(s)
        .ok()?
        .trim_matches(|c: char| c.is_ascii_whitespace());
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let digits = t.trim_start_matches('0');
    if digits.is_empty() {
        Some(0)
    } else {
        digits.parse().ok()
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Perl truthiness of a variable value (undef, "" and "0" are false).
fn truthy(v: Option<&Option<Bytes>>) -> bool {
    match v {
        Some(Some(b)) => !(b.is_empty() || b.as_slice() == b"0"),
        _ => false,
    }
}

fn pad2(n: i32) -> String {
    format!("{n:02}")
}

/// The variable view actions see: user variables plus SEC's built-in ones.
struct Vars<'a> {
    user: &'a std::collections::HashMap<String, Option<Bytes>>,
    desc: &'a [u8],
    now: i64,
    local: &'a LocalTime,
}

impl VarSource for Vars<'_> {
    fn lookup(&mut self, name: &str) -> Option<Bytes> {
        let t = self.local;
        let s = |v: String| Some(v.into_bytes());
        match name {
            "s" => Some(self.desc.to_vec()),
            "u" => s(self.now.to_string()),
            "t" => s(crate::timefmt::ctime(self.now)),
            ".sec" => s(pad2(t.sec)),
            ".min" => s(pad2(t.min)),
            ".hour" => s(pad2(t.hour)),
            ".hmsstr" => s(format!("{}:{}:{}", pad2(t.hour), pad2(t.min), pad2(t.sec))),
            ".mday" => s(pad2(t.mday)),
            ".mdaystr" => s(format!("{:>2}", t.mday)),
            ".mon" => s(pad2(t.mon)),
            ".monstr" => s(MONTHS[(t.mon as usize + 11) % 12].to_string()),
            ".year" => s(t.year.to_string()),
            ".wday" => s(t.wday.to_string()),
            ".wdaystr" => s(DAYS[t.wday as usize % 7].to_string()),
            ".tzname" => s(t.tzname.clone()),
            ".tzoff" | ".tzoff2" => {
                let sign = if t.tzoff < 0 { '-' } else { '+' };
                let off = t.tzoff.abs();
                let (h, m) = (off / 3600, (off % 3600) / 60);
                if name == ".tzoff" {
                    s(format!("{sign}{h:02}{m:02}"))
                } else {
                    s(format!("{sign}{h:02}:{m:02}"))
                }
            }
            ".nl" => Some(b"\n".to_vec()),
            ".cr" => Some(b"\r".to_vec()),
            ".tab" => Some(b"\t".to_vec()),
            ".sp" => Some(b" ".to_vec()),
            _ => {
                if let Some(n) = name.strip_prefix(".chr") {
                    if let Ok(n) = n.parse::<u8>() {
                        if n < 32 && (n.to_string() == n_str(name)) {
                            return Some(vec![n]);
                        }
                    }
                }
                self.user.get(name).cloned().flatten()
            }
        }
    }
}

fn n_str(name: &str) -> &str {
    name.strip_prefix(".chr").unwrap_or("")
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

/// Splits on newlines as Perl's `split(/\n/, ...)` does (trailing empty fields dropped).
fn split_lines(s: &[u8]) -> Vec<Bytes> {
    let mut v: Vec<Bytes> = s.split(|b| *b == b'\n').map(<[u8]>::to_vec).collect();
    while v.last().is_some_and(Vec::is_empty) {
        v.pop();
    }
    v
}

impl Engine {
    /// Substitutes action-list variables into one parameter.
    fn av(&mut self, s: &[u8], desc: &[u8]) -> Bytes {
        if !s.contains(&b'%') {
            return s.to_vec();
        }
        let now = self.now();
        if self.time_vars.as_ref().is_none_or(|(t, _)| *t != now) {
            self.time_vars = Some((now, crate::timefmt::local(now)));
        }
        let Some((_, local)) = self.time_vars.as_ref() else {
            return s.to_vec();
        };
        let mut vars = Vars {
            user: &self.vars,
            desc,
            now,
            local,
        };
        subst_actionvars(s, &mut vars)
    }

    pub(crate) fn set_var(&mut self, var: &str, value: Option<Bytes>) {
        if let Some(p) = self.perl.as_mut() {
            p.refs.remove(var);
        }
        if let Some(v) = &value {
            crate::debug!("Variable '%{var}' set to '{}'", text(v));
        }
        self.vars.insert(var.to_string(), value);
    }

    /// Runs an action list with `desc` as `%s`. Returns SEC's code: 1 normally, 0 after
    /// `continue`, -1 after `break`.
    pub(crate) fn exec_list(&mut self, list: &ActionList, desc: &[u8]) -> i32 {
        let list = list.clone();
        for action in list.iter() {
            let k = self.exec(action, desc);
            if k <= 0 {
                return k;
            }
        }
        1
    }

    fn exec(&mut self, action: &Action<Bytes>, desc: &[u8]) -> i32 {
        let now = self.now();
        match action {
            Action::None => {}
            Action::Logonly(t) => {
                let t = self.av(t, desc);
                crate::notice!("{}", text(&t));
            }
            Action::Write {
                kind,
                target,
                text: t,
            } => {
                let target = self.av(target, desc);
                let t = self.av(t, desc);
                self.effects.write(*kind, &target, &t);
            }
            Action::Close { kind, target } => {
                let target = self.av(target, desc);
                if *kind == crate::config::action::CloseKind::Input {
                    self.effects.drop_input(&target);
                } else {
                    self.effects.close(*kind, &target);
                }
            }
            Action::ShellCmd(cmd) => {
                let cmd = self.command_text(cmd, desc, true);
                match &cmd {
                    Command::Shell(c) => crate::info!("Executing shell command '{}'", text(c)),
                    Command::Exec(v) => {
                        crate::info!("Executing command '{}'", text(&v.join(&b' ')))
                    }
                }
                self.effects.command(cmd, ChildMode::Detached);
            }
            Action::Spawn { context, cmd } => {
                let ctx = match context {
                    Some(c) => self.av(c, desc),
                    None => SYNEVENT_CONTEXT.to_vec(),
                };
                let cmd = self.command_text(cmd, desc, true);
                let (kind, line) = match &cmd {
                    Command::Shell(c) => ("shell command", text(c)),
                    Command::Exec(v) => ("command", text(&v.join(&b' '))),
                };
                if context.is_some() {
                    crate::info!("Spawning {kind} '{line}' with context '{}'", text(&ctx));
                } else {
                    crate::info!("Spawning {kind} '{line}'");
                }
                self.effects.command(cmd, ChildMode::Spawn { context: ctx });
            }
            Action::Pipe { text: t, cmd } => {
                let mut input = self.av(t, desc);
                input.push(b'\n');
                let cmd = self.command_text(cmd, desc, false);
                let (kind, line) = match &cmd {
                    Command::Shell(c) => ("shell command", text(c)),
                    Command::Exec(v) => ("command", text(&v.join(&b' '))),
                };
                crate::info!(
                    "Feeding event '{}' to {kind} '{line}'",
                    text(&input[..input.len() - 1])
                );
                self.effects.command(cmd, ChildMode::Pipe { input });
            }
            Action::Report { name, cmd } => {
                let name = self.av(name, desc);
                let store = match self.contexts.get(&name) {
                    Some(r) if !r.store.is_empty() => r.store.clone(),
                    _ => return 1,
                };
                let mut input = Vec::new();
                for l in store {
                    input.extend_from_slice(&l);
                    input.push(b'\n');
                }
                let cmd = self.command_text(cmd, desc, false);
                let (kind, line) = match &cmd {
                    Command::Shell(c) => ("shell command", text(c)),
                    Command::Exec(v) => ("command", text(&v.join(&b' '))),
                };
                crate::info!(
                    "Reporting the event store of context '{}' through {kind} '{line}'",
                    text(&name)
                );
                self.effects.command(cmd, ChildMode::Pipe { input });
            }
            Action::Create {
                name,
                lifetime,
                list,
            } => {
                let name = self.av(name, desc);
                let lt = self.av(lifetime, desc);
                crate::debug!("Creating context '{}'", text(&name));
                let Some(lt) = parse_uint(&lt) else {
                    crate::warn!(
                        "Invalid lifetime '{}' for context '{}', can't create",
                        text(&lt),
                        text(&name)
                    );
                    return 1;
                };
                let list: ActionList = Arc::new(list.clone());
                match self.contexts.id(&name) {
                    Some(id) => {
                        let Some(r) = self.contexts.record_mut(id) else {
                            return 1;
                        };
                        if r.internal {
                            crate::warn!(
                                "Invalid use of create action for internal context '{}'",
                                text(&name)
                            );
                            return 1;
                        }
                        r.ctime = now;
                        r.lifetime = lt;
                        r.action = list;
                        r.desc = desc.to_vec();
                        r.store.clear();
                        self.schedule_context(id);
                    }
                    None => {
                        let rec = Contexts::new_record(now, lt, list, desc.to_vec(), &name);
                        let id = self.contexts.insert(name, rec);
                        self.schedule_context(id);
                    }
                }
            }
            Action::Delete(name) => {
                let name = self.av(name, desc);
                crate::debug!("Deleting context '{}'", text(&name));
                match self.contexts.get(&name) {
                    Some(r) if !r.deleting => {
                        if r.internal {
                            crate::warn!(
                                "Invalid use of delete action for internal context '{}'",
                                text(&name)
                            );
                        } else if let Some(id) = self.contexts.id(&name) {
                            self.contexts.remove_record(id);
                        }
                    }
                    _ => {}
                }
            }
            Action::Obsolete(name) => {
                let name = self.av(name, desc);
                crate::debug!("Obsoleting context '{}'", text(&name));
                match self.contexts.get(&name) {
                    Some(r) if !r.deleting => {
                        if r.internal {
                            crate::warn!(
                                "Invalid use of obsolete action for internal context '{}'",
                                text(&name)
                            );
                        } else {
                            if let Some(r) = self.contexts.get_mut(&name) {
                                r.lifetime = -1;
                            }
                            self.valid_context(&name);
                        }
                    }
                    _ => {}
                }
            }
            Action::Set {
                name,
                lifetime,
                list,
            } => {
                let name = self.av(name, desc);
                let lt = self.av(lifetime, desc);
                crate::debug!("Changing settings for context '{}'", text(&name));
                let trimmed = String::from_utf8_lossy(&lt).trim().to_string();
                let lt = if trimmed == "-" {
                    None
                } else {
                    match parse_uint(&lt) {
                        Some(v) => Some(v),
                        None => {
                            crate::warn!(
                                "Invalid lifetime '{}' for context '{}', can't change settings",
                                text(&lt),
                                text(&name)
                            );
                            return 1;
                        }
                    }
                };
                let Some(id) = self.changeable(&name, "set", "can't change settings") else {
                    return 1;
                };
                let Some(r) = self.contexts.record_mut(id) else {
                    return 1;
                };
                if let Some(lt) = lt {
                    r.ctime = now;
                    r.lifetime = lt;
                }
                if let Some(l) = list.as_ref().filter(|l| !l.is_empty()) {
                    r.action = Arc::new(l.clone());
                    r.desc = desc.to_vec();
                }
                self.schedule_context(id);
            }
            Action::Alias { name, alias } => {
                let name = self.av(name, desc);
                let alias = self.av(alias, desc);
                crate::debug!(
                    "Creating alias '{}' for context '{}'",
                    text(&alias),
                    text(&name)
                );
                match self.contexts.id(&name) {
                    None => crate::warn!(
                        "Context '{}' does not exist, can't create alias",
                        text(&name)
                    ),
                    Some(_) if self.contexts.exists(&alias) => {}
                    Some(id) => {
                        if self.contexts.record(id).is_some_and(|r| r.internal) {
                            crate::warn!(
                                "Invalid use of alias action for internal context '{}'",
                                text(&name)
                            );
                        } else {
                            self.contexts.add_name(alias, id);
                        }
                    }
                }
            }
            Action::Unalias(alias) => {
                let alias = self.av(alias, desc);
                crate::debug!("Removing alias '{}'", text(&alias));
                match self.contexts.get(&alias) {
                    Some(r) if !r.deleting => {
                        if r.internal {
                            crate::warn!(
                                "Invalid use of unalias action for internal context '{}'",
                                text(&alias)
                            );
                        } else {
                            self.contexts.remove_name(&alias);
                        }
                    }
                    _ => {}
                }
            }
            Action::Store {
                edit,
                name,
                text: t,
            } => {
                let name = self.av(name, desc);
                let t = self.av(t, desc);
                match edit {
                    StoreEdit::Add => crate::debug!(
                        "Adding event(s) '{}' to context '{}'",
                        text(&t),
                        text(&name)
                    ),
                    StoreEdit::Prepend => crate::debug!(
                        "Prepending event(s) '{}' to context '{}'",
                        text(&t),
                        text(&name)
                    ),
                    StoreEdit::Fill => crate::debug!(
                        "Filling context '{}' with event(s) '{}'",
                        text(&name),
                        text(&t)
                    ),
                }
                if !self.contexts.exists(&name) {
                    let rec =
                        Contexts::new_record(now, 0, Contexts::no_actions(), Vec::new(), &name);
                    self.contexts.insert(name.clone(), rec);
                }
                let limit = self.opts.evstoresize;
                let Some(r) = self.contexts.get_mut(&name) else {
                    return 1;
                };
                if r.internal {
                    crate::warn!(
                        "Invalid use of {} action for internal context '{}'",
                        edit_name(*edit),
                        text(&name)
                    );
                    return 1;
                }
                let lines = split_lines(&t);
                let fits = match edit {
                    StoreEdit::Fill => limit == 0 || lines.len() <= limit,
                    _ => limit == 0 || r.store.len() + lines.len() <= limit,
                };
                if !fits {
                    crate::warn!(
                        "Can't {} event(s) '{}' to context '{}', store full",
                        edit_name(*edit),
                        text(&t),
                        text(&name)
                    );
                    return 1;
                }
                match edit {
                    StoreEdit::Add => r.store.extend(lines),
                    StoreEdit::Prepend => {
                        r.store.splice(0..0, lines);
                    }
                    StoreEdit::Fill => r.store = lines,
                }
            }
            Action::Take { op, name, var } => {
                let name = self.av(name, desc);
                let Some(r) = self.contexts.get_mut(&name) else {
                    let what = match op {
                        StoreTake::Copy => "copy",
                        StoreTake::Pop => "pop",
                        StoreTake::Shift => "shift",
                        StoreTake::Empty => "empty",
                    };
                    crate::warn!("Context '{}' does not exist, can't {what}", text(&name));
                    return 1;
                };
                let value = match op {
                    StoreTake::Copy => Some(r.store.join(&b'\n')),
                    StoreTake::Empty => {
                        let v = r.store.join(&b'\n');
                        r.store.clear();
                        (!var.is_empty()).then_some(v)
                    }
                    StoreTake::Pop => Some(r.store.pop().unwrap_or_default()),
                    StoreTake::Shift => Some(if r.store.is_empty() {
                        Vec::new()
                    } else {
                        r.store.remove(0)
                    }),
                };
                if let Some(v) = value {
                    self.set_var(var, Some(v));
                }
            }
            Action::Query { op, var, name } => {
                let name = self.av(name, desc);
                let rec = self.contexts.get(&name);
                match op {
                    Query::Exists => {
                        let v = if rec.is_some() {
                            b"1".to_vec()
                        } else {
                            b"0".to_vec()
                        };
                        self.set_var(var, Some(v));
                    }
                    Query::GetSize => {
                        let v = rec.map(|r| r.store.len().to_string().into_bytes());
                        self.set_var(var, v);
                    }
                    Query::GetAliases | Query::GetLtime | Query::GetCtime => {
                        let (value, what) = match op {
                            Query::GetAliases => {
                                (rec.map(|r| r.aliases.join(&b'\n')), "get aliases")
                            }
                            Query::GetLtime => (
                                rec.map(|r| r.lifetime.to_string().into_bytes()),
                                "get lifetime",
                            ),
                            _ => (
                                rec.map(|r| r.ctime.to_string().into_bytes()),
                                "get creation time",
                            ),
                        };
                        match value {
                            Some(v) => self.set_var(var, Some(v)),
                            None => crate::warn!(
                                "Context '{}' does not exist, can't {what}",
                                text(&name)
                            ),
                        }
                    }
                }
            }
            Action::SetLtime { name, lifetime } => {
                let name = self.av(name, desc);
                let lt = self.av(lifetime, desc);
                let Some(lt) = parse_uint(&lt) else {
                    crate::warn!(
                        "Invalid lifetime '{}' for context '{}'",
                        text(&lt),
                        text(&name)
                    );
                    return 1;
                };
                let Some(id) = self.changeable(&name, "setltime", "can't set lifetime") else {
                    return 1;
                };
                let Some(r) = self.contexts.record_mut(id) else {
                    return 1;
                };
                r.lifetime = lt;
                let stale = lt != 0 && now - r.ctime > lt;
                self.schedule_context(id);
                if stale {
                    self.valid_context(&name);
                }
            }
            Action::SetCtime { time, name } => {
                let time = self.av(time, desc);
                let name = self.av(name, desc);
                let Some(ts) = parse_uint(&time) else {
                    crate::warn!(
                        "Invalid timestamp '{}' for creation time of context '{}'",
                        text(&time),
                        text(&name)
                    );
                    return 1;
                };
                let Some(id) = self.contexts.id(&name) else {
                    crate::warn!(
                        "Context '{}' does not exist, can't set creation time",
                        text(&name)
                    );
                    return 1;
                };
                let Some(r) = self.contexts.record_mut(id) else {
                    return 1;
                };
                if r.internal {
                    crate::warn!(
                        "Invalid use of setctime action for internal context '{}'",
                        text(&name)
                    );
                } else if ts < r.ctime {
                    crate::warn!(
                        "Can't set context creation time backwards to '{}'",
                        crate::timefmt::ctime(ts)
                    );
                } else if ts > now {
                    crate::warn!(
                        "Can't set context creation time into future to '{}'",
                        crate::timefmt::ctime(ts)
                    );
                } else if ts != r.ctime {
                    r.ctime = ts;
                    self.schedule_context(id);
                }
            }
            Action::Event { delay, text: t } => {
                let t = self.av(t, desc);
                self.emit(split_lines(&t), *delay as i64, SYNEVENT_CONTEXT.to_vec());
            }
            Action::TEvent {
                context,
                delay,
                text: t,
            } => {
                let ctx = match context {
                    Some(c) => self.av(c, desc),
                    None => SYNEVENT_CONTEXT.to_vec(),
                };
                let d = self.av(delay, desc);
                let t = self.av(t, desc);
                match parse_uint(&d) {
                    Some(d) => self.emit(split_lines(&t), d, ctx),
                    None => crate::warn!(
                        "Invalid time specification '{}' for creating events",
                        text(&d)
                    ),
                }
            }
            Action::Reset {
                file,
                rule,
                text: t,
            } => {
                let t = self.av(t, desc);
                self.reset(*file, *rule, t);
            }
            Action::GetWpos {
                file,
                var,
                rule,
                text: t,
            } => {
                let t = self.av(t, desc);
                let key = key_for(*file, *rule, t);
                match key.as_ref().and_then(|k| self.ops.get(k)) {
                    Some(op) => {
                        let v = op.time.to_string().into_bytes();
                        self.set_var(var, Some(v));
                    }
                    None => crate::warn!("Operation does not exist, can't get window position"),
                }
            }
            Action::SetWpos {
                file,
                time,
                rule,
                text: t,
            } => {
                let time = self.av(time, desc);
                let t = self.av(t, desc);
                self.setwpos(&time, key_for(*file, *rule, t));
            }
            Action::Assign {
                var,
                text: t,
                quote,
            } => {
                let mut v = self.av(t, desc);
                if *quote {
                    let mut q = vec![b'\''];
                    for &c in &v {
                        if c == b'\'' {
                            q.extend_from_slice(b"'\\''");
                        } else {
                            q.push(c);
                        }
                    }
                    q.push(b'\'');
                    v = q;
                }
                self.set_var(var, Some(v));
            }
            Action::Free(var) => {
                self.vars.remove(var);
                if let Some(p) = self.perl.as_mut() {
                    p.refs.remove(var);
                }
            }
            Action::Eval { var, code } => {
                let code = self.av(code, desc);
                self.perl_eval_action(var, &code);
            }
            Action::Call {
                var,
                code_var,
                params,
            } => {
                let params = params.iter().map(|p| self.av(p, desc)).collect();
                self.perl_call_action(var, code_var, params);
            }
            Action::LCall {
                var,
                params,
                code,
                cache,
            } => {
                let params = params.iter().map(|p| self.av(p, desc)).collect();
                self.perl_lcall_action(var, params, code, *cache);
            }
            Action::Rewrite { count, text: t } => {
                let count = self.av(count, desc);
                let t = self.av(t, desc);
                let Some(mut n) = parse_uint(&count) else {
                    crate::warn!(
                        "Invalid linecount '{}', can't rewrite input buffer",
                        text(&count)
                    );
                    return 1;
                };
                let mut lines = split_lines(&t);
                if n == 0 {
                    if lines.is_empty() {
                        crate::warn!("No data for rewriting input buffer");
                        return 1;
                    }
                    n = lines.len() as i64;
                }
                let n = (n as usize).min(self.buffers.size);
                lines.truncate(n);
                while lines.len() < n {
                    lines.insert(0, Vec::new());
                }
                self.buffers.rewrite(&lines);
                self.event_gen += 1;
            }
            Action::AddInput {
                file,
                offset,
                context,
            } => {
                let file = self.av(file, desc);
                let offset = self.av(offset, desc);
                let context = self.av(context, desc);
                self.effects.add_input(&file, &offset, &context);
            }
            Action::SigEmul(sig) => {
                let sig = self.av(sig, desc);
                let s = match text(&sig).to_ascii_uppercase().as_str() {
                    "HUP" => Some(Signal::Hup),
                    "ABRT" => Some(Signal::Abrt),
                    "USR1" => Some(Signal::Usr1),
                    "USR2" => Some(Signal::Usr2),
                    "INT" => Some(Signal::Int),
                    "TERM" => Some(Signal::Term),
                    _ => None,
                };
                match s {
                    Some(s) => self.signals.push(s),
                    None => crate::warn!(
                        "Invalid signal name '{}' given for sigemul action",
                        text(&sig)
                    ),
                }
            }
            Action::VarSet { var, entry } => {
                let entry = self.av(entry, desc);
                let v = if self.cache.contains_key(text(&entry).as_str()) {
                    b"1".to_vec()
                } else {
                    b"0".to_vec()
                };
                self.set_var(var, Some(v));
            }
            Action::If {
                var,
                then,
                otherwise,
            } => {
                let list = if truthy(self.vars.get(var)) {
                    then
                } else {
                    otherwise
                };
                if !list.is_empty() {
                    let ret = self.exec_list(&Arc::new(list.clone()), desc);
                    if ret != 1 {
                        return ret;
                    }
                }
            }
            Action::While { var, body } => {
                let body = Arc::new(body.clone());
                while truthy(self.vars.get(var)) {
                    if self.exec_list(&body, desc) == -1 {
                        break;
                    }
                }
            }
            Action::Break => return -1,
            Action::Continue => return 0,
        }
        1
    }

    /// The context an action is about to change: None (logged as SEC logs it) when it does
    /// not exist (`missing` says what cannot be done) or is internal.
    fn changeable(&self, name: &[u8], action: &str, missing: &str) -> Option<usize> {
        let Some(id) = self.contexts.id(name) else {
            crate::warn!("Context '{}' does not exist, {missing}", text(name));
            return None;
        };
        if self.contexts.record(id).is_some_and(|r| r.internal) {
            crate::warn!(
                "Invalid use of {action} action for internal context '{}'",
                text(name)
            );
            return None;
        }
        Some(id)
    }

    /// Substitutes action-list variables into a command; with `--quoting`, `%s` is
    /// shell-quoted in shell command lines (shellcmd, spawn, cspawn).
    fn command_text(
        &mut self,
        cmd: &Command<Bytes>,
        desc: &[u8],
        quotable: bool,
    ) -> Command<Bytes> {
        match cmd {
            Command::Shell(s) if quotable && self.opts.quoting => {
                let mut q = vec![b'\''];
                for &c in desc {
                    if c == b'\'' {
                        q.extend_from_slice(b"'\\''");
                    } else {
                        q.push(c);
                    }
                }
                q.push(b'\'');
                Command::Shell(self.av(s, &q))
            }
            Command::Shell(s) => Command::Shell(self.av(s, desc)),
            Command::Exec(v) => Command::Exec(v.iter().map(|a| self.av(a, desc)).collect()),
        }
    }

    fn emit(&mut self, lines: Vec<Bytes>, delay: i64, ctx: Bytes) {
        let now = self.now();
        for l in lines {
            if delay > 0 {
                self.seq += 1;
                self.pending
                    .push(std::cmp::Reverse((now + delay, self.seq, l, ctx.clone())));
            } else {
                self.queue.push_back((l, ctx.clone()));
            }
        }
    }

    fn reset(&mut self, fi: usize, rule: Option<i64>, text_: Bytes) {
        let numbers: Vec<usize> = match rule {
            Some(r) if r >= 0 => vec![r as usize],
            Some(_) => Vec::new(),
            None => (0..self.prog.files.get(fi).map_or(0, |f| f.rules.len())).collect(),
        };
        for n in numbers {
            let key = (fi, n, text_.clone());
            self.remove_pair_op(&key);
        }
    }

    fn setwpos(&mut self, time: &[u8], key: Option<crate::engine::OpKey>) {
        use crate::engine::ops::{slide, GroupOp, State};
        let Some(ts) = parse_uint(time) else {
            crate::warn!(
                "Invalid timestamp '{}' for moving the window of an operation",
                text(time)
            );
            return;
        };
        let Some(key) = key else {
            return;
        };
        let now = self.now();
        let Some(op) = self.ops.get_mut(&key) else {
            crate::warn!("Operation does not exist, can't set window position");
            return;
        };
        if let State::Group(g) = &op.state {
            if g.init_running {
                crate::warn!("Operation is initializing, can't set window position");
                return;
            }
            if g.deleting {
                crate::warn!("Operation is terminating, can't set window position");
                return;
            }
        }
        if ts < op.time {
            crate::warn!(
                "Can't move event correlation window backwards to '{}'",
                crate::timefmt::ctime(ts)
            );
            return;
        }
        if ts > now {
            crate::warn!(
                "Can't move event correlation window into future to '{}'",
                crate::timefmt::ctime(ts)
            );
            return;
        }
        if ts == op.time {
            return;
        }
        let desc = key.2.clone();
        let mut end_list = None;
        let mut remove = false;
        match &mut op.state {
            State::Threshold {
                times,
                suppress: false,
                ..
            } => {
                slide(times, ts);
                op.time = ts;
                remove = times.is_empty();
            }
            State::TwoThresholds(t) => {
                slide(&mut t.times, ts);
                op.time = ts;
                remove = t.times.is_empty() && !t.second;
            }
            State::Group(g) if !g.suppress => {
                let GroupOp {
                    all,
                    counts,
                    deleting,
                    end,
                    ..
                } = &mut **g;
                while all.front().is_some_and(|(t, _, _)| *t < ts) {
                    if let Some((_, i, _)) = all.pop_front() {
                        if let Some(c) = counts.get_mut(i) {
                            *c -= 1;
                        }
                    }
                }
                op.time = ts;
                if all.is_empty() {
                    *deleting = true;
                    end_list = Some(end.clone());
                    remove = true;
                }
            }
            _ => op.time = ts,
        }
        if let Some(l) = end_list {
            self.exec_list(&l, &desc);
        }
        if remove {
            self.ops.remove(&key);
        } else {
            self.schedule_op(&key);
        }
    }
}

/// The key of an operation of rule `rule` (0-based, may be out of range) in file `file`.
fn key_for(file: usize, rule: i64, desc: Bytes) -> Option<crate::engine::OpKey> {
    (rule >= 0).then_some((file, rule as usize, desc))
}

fn edit_name(e: StoreEdit) -> &'static str {
    match e {
        StoreEdit::Add => "add",
        StoreEdit::Prepend => "prepend",
        StoreEdit::Fill => "fill",
    }
}
