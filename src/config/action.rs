//! Action lists: parsing `action=` (and action2, init, end, slide, countN, and the nested
//! lists of create, set, if, else, while) into typed actions, as SEC 2.9.1 parses them.
//!
//! grammar/actionlist.pest splits a list on `;` outside parentheses. Each part is then
//! read with SEC's per-action syntax, including its quirks: one outer parenthesis pair is
//! removed from a parameter, `\(` and `\)` lose their backslash, a leading integer of
//! `event` is a delay, empty trailing parts vanish (Perl's split). Parameters stay text:
//! variables are substituted when the action runs, which is the engine's business.

use std::sync::LazyLock;

use pest::Parser;
use regex::Regex;

use crate::config::context::SplitPerl;
use crate::config::perlcode::looks_like_code_ref;
use crate::config::reader::perl_trim;

#[derive(pest_derive::Parser)]
#[grammar = "../grammar/actionlist.pest"]
struct ActionListParser;

/// Output destinations that take a name and a string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteKind {
    /// `write`: append with a newline, keep the file open.
    Write,
    /// `writen`: append without a newline.
    Writen,
    /// `owritecl`: open, write, close.
    Owritecl,
    /// `udgram`: a unix datagram socket.
    Udgram,
    /// `ustream`: a unix stream socket.
    Ustream,
    /// `udpsock`: a UDP peer.
    Udpsock,
    /// `tcpsock`: a TCP peer.
    Tcpsock,
}

/// Handles that can be closed or dropped by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseKind {
    /// `closef`.
    File,
    /// `closeudgr`.
    Udgram,
    /// `closeustr`.
    Ustream,
    /// `closeudp`.
    Udp,
    /// `closetcp`.
    Tcp,
    /// `dropinput`.
    Input,
}

/// How a child-process action runs its command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command<S = String> {
    /// A command line for Perl's `exec(STRING)` (a shell only with metacharacters).
    Shell(S),
    /// Split on whitespace at load time, run without a shell.
    Exec(Vec<S>),
}

/// Context store edits that take a context name and a string.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreEdit {
    /// `add`: append.
    Add,
    /// `prepend`: put in front.
    Prepend,
    /// `fill`: replace.
    Fill,
}

/// Actions that take a context's store into a variable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoreTake {
    /// `copy`: the whole store joined by newlines.
    Copy,
    /// `pop`: the last element.
    Pop,
    /// `shift`: the first element.
    Shift,
    /// `empty`: copy, then clear.
    Empty,
}

/// Queries about a context that set a variable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Query {
    /// `exists`.
    Exists,
    /// `getsize`.
    GetSize,
    /// `getaliases`.
    GetAliases,
    /// `getltime`.
    GetLtime,
    /// `getctime`.
    GetCtime,
}

/// One action. Text fields are unsubstituted; variable fields are names without `%`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action<S = String> {
    /// `none`.
    None,
    /// `logonly [str]`.
    Logonly(S),
    /// write, writen, owritecl, udgram, ustream, udpsock, tcpsock.
    Write {
        /// Which one.
        kind: WriteKind,
        /// File, socket path or host:port.
        target: S,
        /// The string.
        text: S,
    },
    /// closef, closeudgr, closeustr, closeudp, closetcp, dropinput.
    Close {
        /// Which one.
        kind: CloseKind,
        /// The name.
        target: S,
    },
    /// shellcmd and cmdexec.
    ShellCmd(Command<S>),
    /// spawn, spawnexec, cspawn, cspawnexec.
    Spawn {
        /// The internal context of the events (cspawn*), else `_INTERNAL_EVENT`.
        context: Option<S>,
        /// The command.
        cmd: Command<S>,
    },
    /// pipe and pipeexec.
    Pipe {
        /// The string written to the command.
        text: S,
        /// The command (empty: standard output).
        cmd: Command<S>,
    },
    /// `create [name [lifetime [(list)]]]`.
    Create {
        /// Context name.
        name: S,
        /// Lifetime (text, may hold variables).
        lifetime: S,
        /// Action list run at expiry.
        list: Vec<Action<S>>,
    },
    /// `delete [name]`.
    Delete(S),
    /// `obsolete [name]`.
    Obsolete(S),
    /// `unalias [alias]`.
    Unalias(S),
    /// `set name lifetime [(list)]`.
    Set {
        /// Context name.
        name: S,
        /// Lifetime, or `-` to keep it.
        lifetime: S,
        /// Replacement expiry list, if given.
        list: Option<Vec<Action<S>>>,
    },
    /// `alias name [alias]`.
    Alias {
        /// Existing name.
        name: S,
        /// New name.
        alias: S,
    },
    /// add, prepend, fill.
    Store {
        /// Which one.
        edit: StoreEdit,
        /// Context name.
        name: S,
        /// The string.
        text: S,
    },
    /// report and reportexec.
    Report {
        /// Context name.
        name: S,
        /// The command (empty: standard output).
        cmd: Command<S>,
    },
    /// copy, pop, shift, empty.
    Take {
        /// Which one.
        op: StoreTake,
        /// Context name.
        name: S,
        /// Variable (may be empty for `empty`).
        var: String,
    },
    /// exists, getsize, getaliases, getltime, getctime.
    Query {
        /// Which one.
        op: Query,
        /// Variable.
        var: String,
        /// Context name.
        name: S,
    },
    /// `setltime name [lifetime]`.
    SetLtime {
        /// Context name.
        name: S,
        /// Lifetime.
        lifetime: S,
    },
    /// `setctime time name`.
    SetCtime {
        /// Timestamp.
        time: S,
        /// Context name.
        name: S,
    },
    /// `event [N] [str]`: N is a literal delay.
    Event {
        /// Delay in seconds.
        delay: u64,
        /// The event text.
        text: S,
    },
    /// `tevent time [str]` and `cevent ctx time [str]`.
    TEvent {
        /// Internal context for cevent.
        context: Option<S>,
        /// Delay (text).
        delay: S,
        /// The event text.
        text: S,
    },
    /// `reset [[+|-]N] [str]`.
    Reset {
        /// The rule file (an index the engine fills in when it compiles the rules).
        file: usize,
        /// The rule, as SEC computes it: N, or this rule's number plus or minus N.
        rule: Option<i64>,
        /// The desc string.
        text: S,
    },
    /// `getwpos %var [+|-]N [str]`.
    GetWpos {
        /// The rule file (an index the engine fills in when it compiles the rules).
        file: usize,
        /// Variable.
        var: String,
        /// The rule.
        rule: i64,
        /// The desc string.
        text: S,
    },
    /// `setwpos time [+|-]N [str]`.
    SetWpos {
        /// The rule file (an index the engine fills in when it compiles the rules).
        file: usize,
        /// The new window start.
        time: S,
        /// The rule.
        rule: i64,
        /// The desc string.
        text: S,
    },
    /// assign and assignsq.
    Assign {
        /// Variable.
        var: String,
        /// Value.
        text: S,
        /// True for assignsq (shell single quoting).
        quote: bool,
    },
    /// `free %var`.
    Free(String),
    /// `eval %var code`.
    Eval {
        /// Variable.
        var: String,
        /// Perl code.
        code: S,
    },
    /// `call %var %ref [params]`.
    Call {
        /// Variable.
        var: String,
        /// Variable holding the code reference.
        code_var: String,
        /// Parameters.
        params: Vec<S>,
    },
    /// `lcall %var [params] -> code` / `:> code`.
    LCall {
        /// Variable.
        var: String,
        /// Parameters.
        params: Vec<S>,
        /// Perl code of the sub.
        code: S,
        /// True for `:>`.
        cache: bool,
    },
    /// `rewrite N [str]`.
    Rewrite {
        /// Line count (text).
        count: S,
        /// The new text.
        text: S,
    },
    /// `addinput file [offset [ctx]]`.
    AddInput {
        /// File name.
        file: S,
        /// Offset or `-`.
        offset: S,
        /// Internal context.
        context: S,
    },
    /// `sigemul SIGNAL`.
    SigEmul(S),
    /// `varset %var entry`.
    VarSet {
        /// Variable.
        var: String,
        /// Cache entry name.
        entry: S,
    },
    /// `if %var (list) [else (list)]`.
    If {
        /// Variable.
        var: String,
        /// Run when true.
        then: Vec<Action<S>>,
        /// Run when false.
        otherwise: Vec<Action<S>>,
    },
    /// `while %var (list)`.
    While {
        /// Variable.
        var: String,
        /// Body.
        body: Vec<Action<S>>,
    },
    /// `break`.
    Break,
    /// `continue`.
    Continue,
}

const MASK: char = '\u{1}';

macro_rules! re {
    ($name:ident, $pat:expr) => {
        static $name: LazyLock<Regex> = LazyLock::new(|| {
            Regex::new(
                &$pat
                    .replace("\\s", r"[ \t\n\x0B\x0C\r]")
                    .replace("\\S", r"[^ \t\n\x0B\x0C\r]"),
            )
            .expect("built-in pattern")
        });
    };
}

re!(RE_NONE, r"(?i)^none$");
re!(RE_LOGONLY, r"(?i)^logonly(?:\s+(.*\S))?$");
re!(
    RE_WRITE,
    r"(?i)^(write|writen|owritecl|udgram|ustream|udpsock|tcpsock)\s+(\S+)(?:\s+(.*\S))?$"
);
re!(
    RE_CLOSE,
    r"(?i)^(closef|closeudgr|closeustr|dropinput|closeudp|closetcp)\s+(\S+)$"
);
re!(RE_CMD, r"(?i)^(shellcmd|cmdexec|spawn|spawnexec)\s+(.*\S)$");
re!(RE_CSPAWN, r"(?i)^(cspawn|cspawnexec)\s+(\S+)\s+(.*\S)$");
re!(RE_PIPE, r"(?i)^(pipe|pipeexec)\s+'([^']*)'(?:\s+(.*\S))?$");
re!(
    RE_CREATE,
    r"(?i)^create(?:\s+(\S+)(?:\s+(\S+)(?:\s+(.*\S))?)?)?$"
);
re!(RE_DELETE, r"(?i)^(delete|obsolete|unalias)(?:\s+(\S+))?$");
re!(RE_SET, r"(?i)^set\s+(\S+)\s+(\S+)(?:\s+(.*\S))?$");
re!(RE_ALIAS, r"(?i)^alias\s+(\S+)(?:\s+(\S+))?$");
re!(RE_STORE, r"(?i)^(add|prepend|fill)\s+(\S+)(?:\s+(.*\S))?$");
re!(
    RE_REPORT,
    r"(?i)^(report|reportexec)\s+(\S+)(?:\s+(.*\S))?$"
);
re!(RE_TAKE, r"(?i)^(copy|pop|shift)\s+(\S+)\s+(\S+)$");
re!(RE_EMPTY, r"(?i)^empty\s+(\S+)(?:\s+(\S+))?$");
re!(
    RE_QUERY,
    r"(?i)^(exists|getsize|getaliases|getltime|getctime)\s+(\S+)\s+(\S+)$"
);
re!(RE_SETLTIME, r"(?i)^setltime\s+(\S+)(?:\s+(\S+))?$");
re!(RE_SETCTIME, r"(?i)^setctime\s+(\S+)\s+(\S+)$");
re!(RE_EVENT, r"(?i)^event(?:\s+0*([0-9]+))?(?:\s+(.*\S))?$");
re!(RE_TEVENT, r"(?i)^tevent\s+(\S+)(?:\s+(.*\S))?$");
re!(RE_CEVENT, r"(?i)^cevent\s+(\S+)\s+(\S+)(?:\s+(.*\S))?$");
re!(
    RE_RESET,
    r"(?i)^reset(?:\s+([+-]?)0*([0-9]+))?(?:\s+(.*\S))?$"
);
re!(
    RE_GETWPOS,
    r"(?i)^getwpos\s+(\S+)\s+([+-]?)0*([0-9]+)(?:\s+(.*\S))?$"
);
re!(
    RE_SETWPOS,
    r"(?i)^setwpos\s+(\S+)\s+([+-]?)0*([0-9]+)(?:\s+(.*\S))?$"
);
re!(RE_ASSIGN, r"(?i)^(assign|assignsq)\s+(\S+)(?:\s+(.*\S))?$");
re!(RE_FREE, r"(?i)^free\s+(\S+)$");
re!(RE_EVAL, r"(?i)^eval\s+(\S+)\s+(.*\S)$");
re!(RE_CALL, r"(?i)^call\s+(\S+)\s+(\S+)(?:\s+(.*\S))?$");
re!(RE_LCALL, r"(?i)^lcall\s+(\S+)\s*(.*?)\s*(->|:>)\s*(.*\S)$");
re!(RE_REWRITE, r"(?i)^rewrite\s+(\S+)(?:\s+(.*\S))?$");
re!(
    RE_ADDINPUT,
    r"(?i)^addinput\s+(\S+)(?:\s+(\S+)(?:\s+(\S+))?)?$"
);
re!(RE_SIGEMUL, r"(?i)^sigemul\s+(\S+)$");
re!(RE_VARSET, r"(?i)^varset\s+(\S+)\s+(\S+)$");
re!(RE_IF, r"(?i)^if\s");
re!(RE_IF_ELSE, "(?i)^if\\s+(\\S+)\\s+\u{1}\\s+else\\s+\u{1}$");
re!(RE_IF_ONLY, "(?i)^if\\s+(\\S+)\\s+\u{1}$");
re!(RE_WHILE, r"(?i)^while\s");
re!(RE_WHILE_BODY, "(?i)^while\\s+(\\S+)\\s+\u{1}$");
re!(RE_BREAK, r"(?i)^break$");
re!(RE_CONTINUE, r"(?i)^continue$");
re!(RE_OUTER_PARENS, r"^\s*\(\s*(.*?)\s*\)\s*$");
re!(RE_VARNAME, r"^%[A-Za-z][A-Za-z0-9_]*$");

/// SEC's parameter clean-up: one outer pair of parentheses removed, `\(` `\)` unescaped.
pub fn strip_parens(s: &str) -> String {
    let inner = match RE_OUTER_PARENS.captures(s) {
        Some(c) => c.get(1).map_or("", |m| m.as_str()).to_string(),
        None => s.to_string(),
    };
    inner.replace("\\(", "(").replace("\\)", ")")
}

fn nested_list_text(s: &str) -> String {
    match RE_OUTER_PARENS.captures(s) {
        Some(c) => c.get(1).map_or("", |m| m.as_str()).to_string(),
        None => s.to_string(),
    }
}

/// [`parse_list`], remembering the results for texts without rule references (rule sets
/// repeat the same few action lists over thousands of rules; parsing is pure).
pub fn parse_list_cached(text: &str, rule: usize) -> Result<Vec<Action>, Vec<String>> {
    use std::cell::RefCell;
    use std::collections::HashMap;
    type Parsed = Result<Vec<Action>, Vec<String>>;
    thread_local! {
        static SEEN: RefCell<HashMap<String, Parsed>> = RefCell::new(HashMap::new());
    }
    // reset, getwpos and setwpos name rules relative to this one.
    if ["reset", "getwpos", "setwpos"]
        .iter()
        .any(|k| text.contains(k))
    {
        return parse_list(text, rule);
    }
    if let Some(hit) = SEEN.with(|m| m.borrow().get(text).cloned()) {
        return hit;
    }
    let parsed = parse_list(text, rule);
    SEEN.with(|m| {
        let mut m = m.borrow_mut();
        if m.len() >= 4096 {
            m.clear();
        }
        m.insert(text.to_string(), parsed.clone());
    });
    parsed
}

/// Parses an action list. `rule` is the rule's number (for relative rule references).
/// On failure, the error lines SEC would log (without the `Rule in ...:` prefix).
pub fn parse_list(text: &str, rule: usize) -> Result<Vec<Action>, Vec<String>> {
    let text = perl_trim(text);
    let mut parts: Vec<(String, String, Vec<String>)> = Vec::new();
    if !text.contains(['(', ')']) {
        // Without parentheses the grammar only splits on `;` (and cannot fail): the
        // common case, done without the parser.
        for part in text.split(';') {
            let part = perl_trim(part).to_string();
            parts.push((part.clone(), part, Vec::new()));
        }
    }
    let parsed = if parts.is_empty() {
        Some(ActionListParser::parse(Rule::list, text).map_err(|_| {
            vec![format!(
                "Unbalanced parentheses found in action list '{text}'"
            )]
        })?)
    } else {
        None
    };
    for list in parsed.into_iter().flatten() {
        for part in list.into_inner() {
            if part.as_rule() != Rule::part {
                continue;
            }
            let full = part.as_str();
            let base = part.as_span().start();
            let mut masked = String::new();
            let mut groups = Vec::new();
            let mut last = 0;
            for inner in part.into_inner() {
                if inner.as_rule() == Rule::group {
                    let (s, e) = (inner.as_span().start() - base, inner.as_span().end() - base);
                    masked.push_str(&full[last..s]);
                    masked.push(MASK);
                    let g = inner.as_str();
                    groups.push(g[1..g.len() - 1].to_string());
                    last = e;
                }
            }
            masked.push_str(&full[last..]);
            parts.push((
                perl_trim(full).to_string(),
                perl_trim(&masked).to_string(),
                groups,
            ));
        }
    }
    // Perl's split drops trailing empty fields.
    while parts.last().is_some_and(|p| p.0.is_empty()) {
        parts.pop();
    }
    let mut actions = Vec::with_capacity(parts.len());
    for (part, masked, groups) in parts {
        actions.push(parse_action(&part, &masked, &groups, rule)?);
    }
    Ok(actions)
}

fn cap(c: &regex::Captures<'_>, i: usize) -> String {
    c.get(i).map_or(String::new(), |m| m.as_str().to_string())
}

fn or_default(s: String) -> String {
    if s.is_empty() {
        "%s".to_string()
    } else {
        s
    }
}

fn check_var(v: &str) -> Result<String, Vec<String>> {
    if RE_VARNAME.is_match(v) {
        Ok(v[1..].to_string())
    } else {
        Err(vec![format!(
            "Variable {v} does not have the form %<letter>[<letter>|<digit>|<underscore>]..."
        )])
    }
}

fn nonempty(v: String, what: &str) -> Result<String, Vec<String>> {
    if v.is_empty() {
        Err(vec![what.to_string()])
    } else {
        Ok(v)
    }
}

/// SEC's rule reference: `+N`/`-N` relative to this rule, `0` this rule, `N` the rule
/// numbered N from 1; the result is a 0-based rule number (possibly out of range).
fn rule_ref(sign: &str, n: &str, rule: usize) -> i64 {
    let n: i64 = n.parse().unwrap_or(i64::MAX);
    let rule = rule as i64;
    match sign {
        "+" => rule.saturating_add(n),
        "-" => rule - n,
        _ if n == 0 => rule,
        _ => n - 1,
    }
}

fn nested(text: &str, rule: usize) -> Result<Vec<Action>, Vec<String>> {
    if perl_trim(text).is_empty() {
        Ok(Vec::new())
    } else {
        parse_list(text, rule)
    }
}

fn parse_action(
    part: &str,
    masked: &str,
    groups: &[String],
    rule: usize,
) -> Result<Action, Vec<String>> {
    let kw = |c: &regex::Captures<'_>| cap(c, 1).to_ascii_lowercase();
    if RE_NONE.is_match(part) {
        return Ok(Action::None);
    }
    if let Some(c) = RE_LOGONLY.captures(part) {
        return Ok(Action::Logonly(or_default(strip_parens(&cap(&c, 1)))));
    }
    if let Some(c) = RE_WRITE.captures(part) {
        let k = kw(&c);
        let kind = match k.as_str() {
            "write" => WriteKind::Write,
            "writen" => WriteKind::Writen,
            "owritecl" => WriteKind::Owritecl,
            "udgram" => WriteKind::Udgram,
            "ustream" => WriteKind::Ustream,
            "udpsock" => WriteKind::Udpsock,
            _ => WriteKind::Tcpsock,
        };
        let what = if matches!(kind, WriteKind::Udpsock | WriteKind::Tcpsock) {
            "peername"
        } else {
            "filename"
        };
        let target = nonempty(
            strip_parens(&cap(&c, 2)),
            &format!("Empty {what} given for {k} action"),
        )?;
        return Ok(Action::Write {
            kind,
            target,
            text: or_default(strip_parens(&cap(&c, 3))),
        });
    }
    if let Some(c) = RE_CLOSE.captures(part) {
        let k = kw(&c);
        let kind = match k.as_str() {
            "closef" => CloseKind::File,
            "closeudgr" => CloseKind::Udgram,
            "closeustr" => CloseKind::Ustream,
            "dropinput" => CloseKind::Input,
            "closeudp" => CloseKind::Udp,
            _ => CloseKind::Tcp,
        };
        let what = if matches!(kind, CloseKind::Udp | CloseKind::Tcp) {
            "peername"
        } else {
            "filename"
        };
        let target = nonempty(
            strip_parens(&cap(&c, 2)),
            &format!("Empty {what} given for {k} action"),
        )?;
        return Ok(Action::Close { kind, target });
    }
    if let Some(c) = RE_CMD.captures(part) {
        let k = kw(&c);
        let line = nonempty(
            strip_parens(&cap(&c, 2)),
            &format!("Empty commandline given for {k} action"),
        )?;
        let cmd = if k.ends_with("exec") {
            Command::Exec(line.split_whitespace_perl())
        } else {
            Command::Shell(line)
        };
        return Ok(if k.starts_with("spawn") {
            Action::Spawn { context: None, cmd }
        } else {
            Action::ShellCmd(cmd)
        });
    }
    if let Some(c) = RE_CSPAWN.captures(part) {
        let k = kw(&c);
        let ctx = nonempty(
            strip_parens(&cap(&c, 2)),
            &format!("Empty context name given for {k} action"),
        )?;
        let line = nonempty(
            strip_parens(&cap(&c, 3)),
            &format!("Empty commandline given for {k} action"),
        )?;
        let cmd = if k.ends_with("exec") {
            Command::Exec(line.split_whitespace_perl())
        } else {
            Command::Shell(line)
        };
        return Ok(Action::Spawn {
            context: Some(ctx),
            cmd,
        });
    }
    if let Some(c) = RE_PIPE.captures(part) {
        let k = kw(&c);
        let text = or_default(strip_parens(&cap(&c, 2)));
        let line = strip_parens(&cap(&c, 3));
        let cmd = if k.ends_with("exec") {
            Command::Exec(line.split_whitespace_perl())
        } else {
            Command::Shell(line)
        };
        return Ok(Action::Pipe { text, cmd });
    }
    if let Some(c) = RE_CREATE.captures(part) {
        let name = or_default(strip_parens(&cap(&c, 1)));
        let mut lifetime = strip_parens(&cap(&c, 2));
        if lifetime.is_empty() {
            lifetime = "0".into();
        }
        let list = nested(&nested_list_text(&cap(&c, 3)), rule)?;
        return Ok(Action::Create {
            name,
            lifetime,
            list,
        });
    }
    if let Some(c) = RE_DELETE.captures(part) {
        let name = or_default(strip_parens(&cap(&c, 2)));
        return Ok(match kw(&c).as_str() {
            "delete" => Action::Delete(name),
            "obsolete" => Action::Obsolete(name),
            _ => Action::Unalias(name),
        });
    }
    if let Some(c) = RE_SET.captures(part) {
        let name = nonempty(
            strip_parens(&cap(&c, 1)),
            "Empty context name given for set action",
        )?;
        let lifetime = nonempty(
            strip_parens(&cap(&c, 2)),
            "Empty lifetime given for set action",
        )?;
        let text = nested_list_text(&cap(&c, 3));
        let list = if text.is_empty() {
            None
        } else {
            Some(parse_list(&text, rule)?)
        };
        return Ok(Action::Set {
            name,
            lifetime,
            list,
        });
    }
    if let Some(c) = RE_ALIAS.captures(part) {
        let name = nonempty(
            strip_parens(&cap(&c, 1)),
            "Empty context name given for alias action",
        )?;
        return Ok(Action::Alias {
            name,
            alias: or_default(strip_parens(&cap(&c, 2))),
        });
    }
    if let Some(c) = RE_STORE.captures(part) {
        let k = kw(&c);
        let name = nonempty(
            strip_parens(&cap(&c, 2)),
            &format!("Empty context name given for {k} action"),
        )?;
        let edit = match k.as_str() {
            "add" => StoreEdit::Add,
            "prepend" => StoreEdit::Prepend,
            _ => StoreEdit::Fill,
        };
        return Ok(Action::Store {
            edit,
            name,
            text: or_default(strip_parens(&cap(&c, 3))),
        });
    }
    if let Some(c) = RE_REPORT.captures(part) {
        let k = kw(&c);
        let name = nonempty(
            strip_parens(&cap(&c, 2)),
            &format!("Empty context name given for {k} action"),
        )?;
        let line = strip_parens(&cap(&c, 3));
        let cmd = if k.ends_with("exec") {
            Command::Exec(line.split_whitespace_perl())
        } else {
            Command::Shell(line)
        };
        return Ok(Action::Report { name, cmd });
    }
    if let Some(c) = RE_TAKE.captures(part) {
        let k = kw(&c);
        let name = nonempty(
            strip_parens(&cap(&c, 2)),
            &format!("Empty context name given for {k} action"),
        )?;
        let var = check_var(&cap(&c, 3))?;
        let op = match k.as_str() {
            "copy" => StoreTake::Copy,
            "pop" => StoreTake::Pop,
            _ => StoreTake::Shift,
        };
        return Ok(Action::Take { op, name, var });
    }
    if let Some(c) = RE_EMPTY.captures(part) {
        let name = nonempty(
            strip_parens(&cap(&c, 1)),
            "Empty context name given for empty action",
        )?;
        let v = cap(&c, 2);
        let var = if v.is_empty() {
            String::new()
        } else {
            check_var(&v)?
        };
        return Ok(Action::Take {
            op: StoreTake::Empty,
            name,
            var,
        });
    }
    if let Some(c) = RE_QUERY.captures(part) {
        let k = kw(&c);
        let name = strip_parens(&cap(&c, 3));
        let var = check_var(&cap(&c, 2))?;
        let name = nonempty(name, &format!("Empty context name given for {k} action"))?;
        let op = match k.as_str() {
            "exists" => Query::Exists,
            "getsize" => Query::GetSize,
            "getaliases" => Query::GetAliases,
            "getltime" => Query::GetLtime,
            _ => Query::GetCtime,
        };
        return Ok(Action::Query { op, var, name });
    }
    if let Some(c) = RE_SETLTIME.captures(part) {
        let name = nonempty(
            strip_parens(&cap(&c, 1)),
            "Empty context name given for setltime action",
        )?;
        let mut lifetime = strip_parens(&cap(&c, 2));
        if lifetime.is_empty() {
            lifetime = "0".into();
        }
        return Ok(Action::SetLtime { name, lifetime });
    }
    if let Some(c) = RE_SETCTIME.captures(part) {
        let time = nonempty(
            strip_parens(&cap(&c, 1)),
            "Empty timestamp given for setctime action",
        )?;
        let name = nonempty(
            strip_parens(&cap(&c, 2)),
            "Empty context name given for setctime action",
        )?;
        return Ok(Action::SetCtime { time, name });
    }
    if let Some(c) = RE_EVENT.captures(part) {
        let delay = cap(&c, 1).parse().unwrap_or(0);
        return Ok(Action::Event {
            delay,
            text: or_default(strip_parens(&cap(&c, 2))),
        });
    }
    if let Some(c) = RE_TEVENT.captures(part) {
        let delay = nonempty(
            strip_parens(&cap(&c, 1)),
            "Empty time offset given for tevent action",
        )?;
        return Ok(Action::TEvent {
            context: None,
            delay,
            text: or_default(strip_parens(&cap(&c, 2))),
        });
    }
    if let Some(c) = RE_CEVENT.captures(part) {
        let ctx = nonempty(
            strip_parens(&cap(&c, 1)),
            "Empty context name given for cevent action",
        )?;
        let delay = nonempty(
            strip_parens(&cap(&c, 2)),
            "Empty time offset given for cevent action",
        )?;
        return Ok(Action::TEvent {
            context: Some(ctx),
            delay,
            text: or_default(strip_parens(&cap(&c, 3))),
        });
    }
    if let Some(c) = RE_RESET.captures(part) {
        let n = cap(&c, 2);
        let rule = if n.is_empty() {
            None
        } else {
            Some(rule_ref(&cap(&c, 1), &n, rule))
        };
        return Ok(Action::Reset {
            file: 0,
            rule,
            text: or_default(strip_parens(&cap(&c, 3))),
        });
    }
    if let Some(c) = RE_GETWPOS.captures(part) {
        let var = check_var(&cap(&c, 1))?;
        return Ok(Action::GetWpos {
            file: 0,
            var,
            rule: rule_ref(&cap(&c, 2), &cap(&c, 3), rule),
            text: or_default(strip_parens(&cap(&c, 4))),
        });
    }
    if let Some(c) = RE_SETWPOS.captures(part) {
        let time = strip_parens(&cap(&c, 1));
        let rule = rule_ref(&cap(&c, 2), &cap(&c, 3), rule);
        let time = nonempty(time, "Empty timestamp given for setwpos action")?;
        return Ok(Action::SetWpos {
            file: 0,
            time,
            rule,
            text: or_default(strip_parens(&cap(&c, 4))),
        });
    }
    if let Some(c) = RE_ASSIGN.captures(part) {
        let quote = kw(&c) == "assignsq";
        let text = or_default(strip_parens(&cap(&c, 3)));
        let var = check_var(&cap(&c, 2))?;
        return Ok(Action::Assign { var, text, quote });
    }
    if let Some(c) = RE_FREE.captures(part) {
        return Ok(Action::Free(check_var(&cap(&c, 1))?));
    }
    if let Some(c) = RE_EVAL.captures(part) {
        let code = strip_parens(&cap(&c, 2));
        let var = check_var(&cap(&c, 1))?;
        return Ok(Action::Eval { var, code });
    }
    if let Some(c) = RE_CALL.captures(part) {
        let params = strip_parens(&cap(&c, 3)).split_whitespace_perl();
        let var = check_var(&cap(&c, 1))?;
        let code_var = check_var(&cap(&c, 2))?;
        return Ok(Action::Call {
            var,
            code_var,
            params,
        });
    }
    if let Some(c) = RE_LCALL.captures(part) {
        let params = strip_parens(&cap(&c, 2)).split_whitespace_perl();
        let cache = cap(&c, 3) == ":>";
        let code = strip_parens(&cap(&c, 4));
        let var = check_var(&cap(&c, 1))?;
        if !looks_like_code_ref(&code) {
            return Err(vec![format!(
                "Eval '{code}' didn't return a code reference: undef"
            )]);
        }
        return Ok(Action::LCall {
            var,
            params,
            code,
            cache,
        });
    }
    if let Some(c) = RE_REWRITE.captures(part) {
        let count = nonempty(
            strip_parens(&cap(&c, 1)),
            "Empty linecount given for rewrite action",
        )?;
        return Ok(Action::Rewrite {
            count,
            text: or_default(strip_parens(&cap(&c, 2))),
        });
    }
    if let Some(c) = RE_ADDINPUT.captures(part) {
        let file = nonempty(
            strip_parens(&cap(&c, 1)),
            "Empty filename given for addinput action",
        )?;
        let mut offset = strip_parens(&cap(&c, 2));
        if offset.is_empty() {
            offset = "-".into();
        }
        let mut context = strip_parens(&cap(&c, 3));
        if context.is_empty() {
            context = format!("_FILE_EVENT_{file}");
        }
        return Ok(Action::AddInput {
            file,
            offset,
            context,
        });
    }
    if let Some(c) = RE_SIGEMUL.captures(part) {
        return Ok(Action::SigEmul(nonempty(
            strip_parens(&cap(&c, 1)),
            "Empty signal name given for sigemul action",
        )?));
    }
    if let Some(c) = RE_VARSET.captures(part) {
        let entry = strip_parens(&cap(&c, 2));
        let var = check_var(&cap(&c, 1))?;
        let entry = nonempty(
            entry,
            "Empty pattern match cache entry name given for varset action",
        )?;
        return Ok(Action::VarSet { var, entry });
    }
    if RE_IF.is_match(part) {
        let (var, then, otherwise) = if let Some(c) = RE_IF_ELSE.captures(masked) {
            (
                cap(&c, 1),
                groups.first().cloned().unwrap_or_default(),
                groups.get(1).cloned().unwrap_or_default(),
            )
        } else if let Some(c) = RE_IF_ONLY.captures(masked) {
            (
                cap(&c, 1),
                groups.first().cloned().unwrap_or_default(),
                String::new(),
            )
        } else {
            return Err(Vec::new());
        };
        let var = check_var(&var)?;
        let then = nested(&then, rule)?;
        let otherwise = nested(&otherwise, rule)?;
        if then.is_empty() && otherwise.is_empty() {
            return Err(vec!["empty action lists given for if-else".into()]);
        }
        return Ok(Action::If {
            var,
            then,
            otherwise,
        });
    }
    if RE_WHILE.is_match(part) {
        let Some(c) = RE_WHILE_BODY.captures(masked) else {
            return Err(Vec::new());
        };
        let var = check_var(&cap(&c, 1))?;
        let body_text = groups.first().cloned().unwrap_or_default();
        if perl_trim(&body_text).is_empty() {
            return Err(vec!["empty action list given for while".into()]);
        }
        let body = parse_list(&body_text, rule)?;
        return Ok(Action::While { var, body });
    }
    if RE_BREAK.is_match(part) {
        return Ok(Action::Break);
    }
    if RE_CONTINUE.is_match(part) {
        return Ok(Action::Continue);
    }
    Err(vec![format!("Invalid action '{part}'")])
}

impl<S> Command<S> {
    /// Maps every string of the command.
    pub fn map<T>(&self, f: &mut impl FnMut(&S) -> T) -> Command<T> {
        match self {
            Command::Shell(s) => Command::Shell(f(s)),
            Command::Exec(v) => Command::Exec(v.iter().map(&mut *f).collect()),
        }
    }
}

/// Maps every string of an action list (see [`Action::map`]).
pub fn map_list<S, T>(list: &[Action<S>], f: &mut impl FnMut(&S) -> T) -> Vec<Action<T>> {
    list.iter().map(|a| a.map(f)).collect()
}

impl<S> Action<S> {
    /// Maps every string field that SEC substitutes variables into (not variable names),
    /// recursing into nested action lists. Used to convert the parsed text to bytes and to
    /// substitute match variables.
    pub fn map<T>(&self, f: &mut impl FnMut(&S) -> T) -> Action<T> {
        use Action as A;
        match self {
            A::None => A::None,
            A::Logonly(s) => A::Logonly(f(s)),
            A::Write { kind, target, text } => A::Write {
                kind: *kind,
                target: f(target),
                text: f(text),
            },
            A::Close { kind, target } => A::Close {
                kind: *kind,
                target: f(target),
            },
            A::ShellCmd(c) => A::ShellCmd(c.map(f)),
            A::Spawn { context, cmd } => A::Spawn {
                context: context.as_ref().map(&mut *f),
                cmd: cmd.map(f),
            },
            A::Pipe { text, cmd } => A::Pipe {
                text: f(text),
                cmd: cmd.map(f),
            },
            A::Create {
                name,
                lifetime,
                list,
            } => A::Create {
                name: f(name),
                lifetime: f(lifetime),
                list: map_list(list, f),
            },
            A::Delete(s) => A::Delete(f(s)),
            A::Obsolete(s) => A::Obsolete(f(s)),
            A::Unalias(s) => A::Unalias(f(s)),
            A::Set {
                name,
                lifetime,
                list,
            } => A::Set {
                name: f(name),
                lifetime: f(lifetime),
                list: list.as_ref().map(|l| map_list(l, f)),
            },
            A::Alias { name, alias } => A::Alias {
                name: f(name),
                alias: f(alias),
            },
            A::Store { edit, name, text } => A::Store {
                edit: *edit,
                name: f(name),
                text: f(text),
            },
            A::Report { name, cmd } => A::Report {
                name: f(name),
                cmd: cmd.map(f),
            },
            A::Take { op, name, var } => A::Take {
                op: *op,
                name: f(name),
                var: var.clone(),
            },
            A::Query { op, var, name } => A::Query {
                op: *op,
                var: var.clone(),
                name: f(name),
            },
            A::SetLtime { name, lifetime } => A::SetLtime {
                name: f(name),
                lifetime: f(lifetime),
            },
            A::SetCtime { time, name } => A::SetCtime {
                time: f(time),
                name: f(name),
            },
            A::Event { delay, text } => A::Event {
                delay: *delay,
                text: f(text),
            },
            A::TEvent {
                context,
                delay,
                text,
            } => A::TEvent {
                context: context.as_ref().map(&mut *f),
                delay: f(delay),
                text: f(text),
            },
            A::Reset { file, rule, text } => A::Reset {
                file: *file,
                rule: *rule,
                text: f(text),
            },
            A::GetWpos {
                file,
                var,
                rule,
                text,
            } => A::GetWpos {
                file: *file,
                var: var.clone(),
                rule: *rule,
                text: f(text),
            },
            A::SetWpos {
                file,
                time,
                rule,
                text,
            } => A::SetWpos {
                file: *file,
                time: f(time),
                rule: *rule,
                text: f(text),
            },
            A::Assign { var, text, quote } => A::Assign {
                var: var.clone(),
                text: f(text),
                quote: *quote,
            },
            A::Free(v) => A::Free(v.clone()),
            A::Eval { var, code } => A::Eval {
                var: var.clone(),
                code: f(code),
            },
            A::Call {
                var,
                code_var,
                params,
            } => A::Call {
                var: var.clone(),
                code_var: code_var.clone(),
                params: params.iter().map(&mut *f).collect(),
            },
            A::LCall {
                var,
                params,
                code,
                cache,
            } => A::LCall {
                var: var.clone(),
                params: params.iter().map(&mut *f).collect(),
                code: f(code),
                cache: *cache,
            },
            A::Rewrite { count, text } => A::Rewrite {
                count: f(count),
                text: f(text),
            },
            A::AddInput {
                file,
                offset,
                context,
            } => A::AddInput {
                file: f(file),
                offset: f(offset),
                context: f(context),
            },
            A::SigEmul(s) => A::SigEmul(f(s)),
            A::VarSet { var, entry } => A::VarSet {
                var: var.clone(),
                entry: f(entry),
            },
            A::If {
                var,
                then,
                otherwise,
            } => A::If {
                var: var.clone(),
                then: map_list(then, f),
                otherwise: map_list(otherwise, f),
            },
            A::While { var, body } => A::While {
                var: var.clone(),
                body: map_list(body, f),
            },
            A::Break => A::Break,
            A::Continue => A::Continue,
        }
    }
}

/// Sets the rule-file index of every reset, getwpos and setwpos in a list (nested lists
/// included): they address operations of the file their rule comes from.
pub fn set_file<S>(list: &mut [Action<S>], index: usize) {
    for a in list {
        match a {
            Action::Reset { file, .. }
            | Action::GetWpos { file, .. }
            | Action::SetWpos { file, .. } => *file = index,
            Action::Create { list, .. } => set_file(list, index),
            Action::Set {
                list: Some(list), ..
            } => set_file(list, index),
            Action::If {
                then, otherwise, ..
            } => {
                set_file(then, index);
                set_file(otherwise, index);
            }
            Action::While { body, .. } => set_file(body, index),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Vec<Action> {
        parse_list(s, 0).unwrap_or_else(|e| panic!("{s}: {e:?}"))
    }

    #[test]
    fn splitting() {
        assert_eq!(ok("none; none;").len(), 2);
        assert!(parse_list("none;;none", 0).is_err());
        assert!(parse_list("write - a;b", 0).is_err());
        assert_eq!(ok(";").len(), 0);
        assert!(parse_list("write - (a", 0).is_err());
    }

    #[test]
    fn parens_are_stripped_once() {
        assert_eq!(
            ok("write - (hello; world)"),
            vec![Action::Write {
                kind: WriteKind::Write,
                target: "-".into(),
                text: "hello; world".into()
            }]
        );
        assert_eq!(
            ok("write - \\(x\\)"),
            vec![Action::Write {
                kind: WriteKind::Write,
                target: "-".into(),
                text: "(x)".into()
            }]
        );
    }

    #[test]
    fn nested_lists() {
        let a = ok("create X 10 (write - a; delete X); if %v ( write - b ) else ( none )");
        assert!(matches!(&a[0], Action::Create { list, .. } if list.len() == 2));
        assert!(
            matches!(&a[1], Action::If { then, otherwise, .. } if then.len() == 1 && otherwise.len() == 1)
        );
        assert!(parse_list("if %v ()", 0).is_err());
        assert!(parse_list("while %v ()", 0).is_err());
    }

    #[test]
    fn event_delay() {
        assert_eq!(
            ok("event 2024 year"),
            vec![Action::Event {
                delay: 2024,
                text: "year".into()
            }]
        );
        assert_eq!(
            ok("event"),
            vec![Action::Event {
                delay: 0,
                text: "%s".into()
            }]
        );
    }

    #[test]
    fn variables_are_checked() {
        assert!(parse_list("assign x y", 0).is_err());
        assert!(parse_list("assign %1x y", 0).is_err());
        assert!(parse_list("assign %x_1 y", 0).is_ok());
        assert!(parse_list("set X", 0).is_err());
        assert!(parse_list("write", 0).is_err());
    }

    #[test]
    fn rule_refs() {
        assert_eq!(
            parse_list("reset -1 x", 3),
            Ok(vec![Action::Reset {
                file: 0,
                rule: Some(2),
                text: "x".into()
            }])
        );
    }
}
