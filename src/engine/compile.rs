//! Compiling the validated rule model into the engine's runtime form: byte strings,
//! continue values resolved to rule indexes, volatility flags (does a field hold match
//! variables, so that it must be copied and substituted per match), and rule-file sets.

use std::collections::HashMap;
use std::sync::Arc;

use crate::config::action::{map_list, set_file, Action, Command};
use crate::config::calendar::CalendarSpec;
use crate::config::context::CtxOp;
use crate::config::{
    Continue, Match, Pattern, PatternKind, RuleFile, RuleKind, Script, VarMapEntry,
};
use crate::engine::subst::{has_matchvars, Bytes};
use crate::engine::ActionList;
use crate::pattern::regex::PerlRegex;

/// A runtime context-expression step (see [`CtxOp`]), with byte-string operands.
#[derive(Clone, Debug)]
pub enum COp {
    /// A context name.
    Operand(Bytes),
    /// A parenthesised sub-expression.
    Expr(Vec<COp>),
    /// `= CODE`.
    ECode(Bytes),
    /// `params -> CODE` / `params :> CODE`.
    CCode {
        /// Parameters.
        params: Vec<Bytes>,
        /// Perl code.
        code: String,
        /// `:>`.
        cache: bool,
    },
    /// `varset NAME`.
    VarSet(Bytes),
    /// `!`.
    Not,
    /// `&&`.
    And,
    /// `||`.
    Or,
}

/// A compiled context expression.
#[derive(Clone, Debug)]
pub struct CContext {
    /// The postfix program.
    pub ops: Vec<COp>,
    /// Evaluated before the pattern (`[ ... ]`).
    pub preeval: bool,
    /// Holds `$` match variables.
    pub volatile: bool,
    /// Holds `%` match variables (Pair's context2).
    pub volatile_pct: bool,
}

/// A compiled pattern.
#[derive(Clone, Debug)]
pub struct CPattern {
    /// Its type.
    pub kind: PatternKind,
    /// Lines it matches.
    pub lines: usize,
    /// SubStr text, cache entry name, or regex / Perl source.
    pub text: Bytes,
    /// The compiled regex (RegExp/NRegExp, unless deferred).
    pub regex: Option<Arc<PerlRegex>>,
    /// TValue's constant.
    pub truth: bool,
    /// The rule uses the variables of a match (some field holds `$` variables, or there
    /// is a varmap). When false a RegExp only needs to know whether it matches, which is
    /// much cheaper than finding its groups: no field changes under substitution.
    pub vars: bool,
}

/// Where scanning goes after a match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Next {
    /// Continue at this rule index (the file's length means: stop this file).
    Rule(usize),
    /// EndMatch: stop every file.
    End,
}

/// A compiled pattern with its varmap, context and continue.
#[derive(Clone, Debug)]
pub struct CMatch {
    /// The pattern.
    pub pat: CPattern,
    /// The varmap.
    pub varmap: Vec<VarMapEntry>,
    /// The context expression.
    pub ctx: Option<Arc<CContext>>,
    /// Where to go after a match.
    pub next: Next,
}

/// An action list with its volatility flag.
#[derive(Clone, Debug)]
pub struct CActions {
    /// The actions.
    pub list: ActionList,
    /// True if the text holds `$` match variables (copy and substitute per match).
    pub volatile: bool,
    /// True if the text holds `%` match variables (Pair action2).
    pub volatile_pct: bool,
}

/// One EventGroup event type.
#[derive(Clone, Debug)]
pub struct CGroupEvent {
    /// Its match.
    pub m: CMatch,
    /// countN.
    pub count: CActions,
    /// threshN.
    pub thresh: usize,
    /// egtokenN (when egpattern is set).
    pub token: Option<Bytes>,
}

/// The compiled rule types.
#[derive(Clone, Debug)]
#[allow(missing_docs)]
pub enum CKind {
    Single {
        m: CMatch,
        action: CActions,
    },
    Script {
        m: CMatch,
        script: Command<Bytes>,
        script_volatile: bool,
        action: CActions,
        action2: CActions,
    },
    SingleWithSuppress {
        m: CMatch,
        action: CActions,
        window: i64,
    },
    Pair {
        with_window: bool,
        m: CMatch,
        action: CActions,
        m2: CMatch,
        deferred: bool,
        generic2: Option<Arc<PerlRegex>>,
        /// The operation index plan of a deferred RegExp pattern2 (see `pairindex`).
        plan: Option<Arc<crate::engine::pairindex::Plan>>,
        desc2: Bytes,
        action2: CActions,
        window: i64,
    },
    Threshold {
        m: CMatch,
        action: CActions,
        action2: CActions,
        window: i64,
        thresh: usize,
    },
    TwoThresholds {
        m: CMatch,
        action: CActions,
        window: i64,
        thresh: usize,
        desc2: Bytes,
        action2: CActions,
        window2: i64,
        thresh2: usize,
    },
    EventGroup {
        events: Vec<CGroupEvent>,
        action: CActions,
        init: CActions,
        slide: CActions,
        end: CActions,
        window: i64,
        multact: bool,
        egpattern: Option<CPattern>,
    },
    Suppress {
        m: CMatch,
    },
    Calendar {
        time: CalendarSpec,
        ctx: Option<Arc<CContext>>,
        action: CActions,
    },
    Jump {
        m: CMatch,
        cfset: Vec<Bytes>,
        constset: bool,
    },
}

/// A compiled rule.
#[derive(Clone, Debug)]
pub struct CRule {
    /// 0-based number.
    pub number: usize,
    /// Starting line in the file.
    pub line: usize,
    /// desc.
    pub desc: Bytes,
    /// The type and its fields.
    pub kind: CKind,
}

/// A compiled rule file.
#[derive(Clone, Debug)]
pub struct CFile {
    /// Its name (the first part of operation keys).
    pub name: Arc<str>,
    /// Its rules.
    pub rules: Vec<CRule>,
    /// procallin: sees input directly, not only through Jump.
    pub procallin: bool,
}

/// Every compiled file, with the rule-file sets.
#[derive(Clone, Debug, Default)]
pub struct Program {
    /// Files in `--conf` order.
    pub files: Vec<CFile>,
    /// Rule-file set name to file indexes.
    pub cfsets: HashMap<Bytes, Vec<usize>>,
    /// Indexes of files with procallin.
    pub main: Vec<usize>,
    /// The input buffer size: `--bufsize`, or the largest pattern line count.
    pub bufsize: usize,
    /// Per file, which rules an event's text can match.
    pub prefilters: Vec<crate::engine::prefilter::Prefilter>,
}

fn b(s: &str) -> Bytes {
    crate::config::text::encode(s).into_owned()
}

fn actions_has(list: &[Action<Bytes>], token: u8) -> bool {
    let mut found = false;
    for a in list {
        let _ = a.map(&mut |s: &Bytes| {
            if !found && has_matchvars(s, token) {
                found = true;
            }
        });
    }
    found
}

fn cactions(list: Option<&Vec<Action>>, file: usize) -> CActions {
    let mut list: Vec<Action<Bytes>> = list
        .map(|l| map_list(l, &mut |s: &String| b(s)))
        .unwrap_or_default();
    set_file(&mut list, file);
    CActions {
        volatile: actions_has(&list, b'$'),
        volatile_pct: actions_has(&list, b'%'),
        list: Arc::new(list),
    }
}

fn cops(ops: &[CtxOp]) -> Vec<COp> {
    ops.iter()
        .map(|op| match op {
            CtxOp::Operand(s) => COp::Operand(b(s)),
            CtxOp::Expression(inner) => COp::Expr(cops(inner)),
            CtxOp::ECode(c) => COp::ECode(b(c)),
            CtxOp::CCode {
                params,
                code,
                cache,
            } => COp::CCode {
                params: params.iter().map(|p| b(p)).collect(),
                code: code.clone(),
                cache: *cache,
            },
            CtxOp::VarSet(s) => COp::VarSet(b(s)),
            CtxOp::Not => COp::Not,
            CtxOp::And => COp::And,
            CtxOp::Or => COp::Or,
        })
        .collect()
}

fn ops_have(ops: &[COp], token: u8) -> bool {
    ops.iter().any(|op| match op {
        COp::Operand(s) | COp::ECode(s) | COp::VarSet(s) => has_matchvars(s, token),
        COp::Expr(inner) => ops_have(inner, token),
        COp::CCode { params, .. } => params.iter().any(|p| has_matchvars(p, token)),
        _ => false,
    })
}

fn cpattern(p: &Pattern) -> CPattern {
    CPattern {
        kind: p.kind,
        lines: p.lines,
        text: b(&p.text),
        regex: p.regex.clone(),
        truth: p.truth,
        vars: true,
    }
}

/// Whether a single-pattern rule uses its match variables anywhere (see
/// [`CPattern::vars`]); rules of the other types always do.
fn uses_matchvars(kind: &CKind, desc: &[u8]) -> bool {
    let m_uses = |m: &CMatch| !m.varmap.is_empty() || m.ctx.as_ref().is_some_and(|c| c.volatile);
    let desc_uses = has_matchvars(desc, b'$');
    match kind {
        CKind::Single { m, action } => m_uses(m) || desc_uses || action.volatile,
        CKind::Script {
            m,
            script_volatile,
            action,
            action2,
            ..
        } => m_uses(m) || desc_uses || *script_volatile || action.volatile || action2.volatile,
        CKind::SingleWithSuppress { m, action, .. } => m_uses(m) || desc_uses || action.volatile,
        CKind::Threshold {
            m, action, action2, ..
        } => m_uses(m) || desc_uses || action.volatile || action2.volatile,
        CKind::TwoThresholds {
            m,
            action,
            desc2,
            action2,
            ..
        } => {
            m_uses(m)
                || desc_uses
                || action.volatile
                || action2.volatile
                || has_matchvars(desc2, b'$')
        }
        CKind::Suppress { m } => m_uses(m),
        CKind::Jump { m, cfset, constset } => {
            m_uses(m) || (!constset && cfset.iter().any(|s| has_matchvars(s, b'$')))
        }
        _ => true,
    }
}

impl CKind {
    /// The one pattern of a rule of the single-pattern types (Single, SingleWithScript,
    /// SingleWithSuppress, both threshold types, Suppress, Jump); None for the others.
    pub fn single_match(&self) -> Option<&CMatch> {
        match self {
            CKind::Single { m, .. }
            | CKind::Script { m, .. }
            | CKind::SingleWithSuppress { m, .. }
            | CKind::Threshold { m, .. }
            | CKind::TwoThresholds { m, .. }
            | CKind::Suppress { m }
            | CKind::Jump { m, .. } => Some(m),
            _ => None,
        }
    }

    /// [`CKind::single_match`], to change.
    fn single_match_mut(&mut self) -> Option<&mut CMatch> {
        match self {
            CKind::Single { m, .. }
            | CKind::Script { m, .. }
            | CKind::SingleWithSuppress { m, .. }
            | CKind::Threshold { m, .. }
            | CKind::TwoThresholds { m, .. }
            | CKind::Suppress { m }
            | CKind::Jump { m, .. } => Some(m),
            _ => None,
        }
    }
}

fn next_of(cont: &Continue, index: usize, len: usize) -> Next {
    match cont {
        Continue::TakeNext => Next::Rule(index + 1),
        Continue::DontCont => Next::Rule(len),
        Continue::EndMatch => Next::End,
        Continue::GoTo { target, .. } => Next::Rule(target.unwrap_or(len)),
    }
}

fn cmatch(m: &Match, index: usize, len: usize) -> CMatch {
    let ctx = m.context.as_ref().map(|c| {
        let ops = cops(&c.ops);
        Arc::new(CContext {
            volatile: ops_have(&ops, b'$'),
            volatile_pct: ops_have(&ops, b'%'),
            ops,
            preeval: c.preeval,
        })
    });
    CMatch {
        pat: cpattern(&m.pattern),
        varmap: m.varmap.clone(),
        ctx,
        next: next_of(&m.cont, index, len),
    }
}

/// For a Pair's RegExp pattern2 with match variables: the same pattern with every
/// variable replaced by `(?s:.*)`. Each operation's pattern2 puts a literal (the quoted
/// value) where this has `(?s:.*)`, so whatever an operation's pattern2 matches, this
/// matches too: a line it does not match cannot end any operation of the rule. Only built
/// when every variable stands outside bracket classes and escapes, where that holds.
fn generic_pattern2(template: &[u8]) -> Option<Arc<PerlRegex>> {
    let mut in_class = false;
    let mut i = 0;
    while i < template.len() {
        match template[i] {
            b'\\' => {
                if template.get(i + 1) == Some(&b'$') {
                    return None;
                }
                i += 2;
                continue;
            }
            b'[' if !in_class => {
                in_class = true;
                i += 1;
                if template.get(i) == Some(&b'^') {
                    i += 1;
                }
                if template.get(i) == Some(&b']') {
                    i += 1;
                }
                continue;
            }
            b']' if in_class => in_class = false,
            b'$' if in_class => return None,
            _ => {}
        }
        i += 1;
    }
    let generic = crate::engine::subst::subst_with(template, b'$', &mut |_, out| {
        out.extend_from_slice(b"(?s:.*)")
    });
    let re = PerlRegex::from_bytes(&generic).ok()?;
    (!re.uses_fallback()).then(|| Arc::new(re))
}

/// Compiles loaded rule files. `bufsize` is `--bufsize` (0 = automatic).
pub fn compile(files: &[RuleFile], bufsize: usize) -> Program {
    let mut prog = Program::default();
    let mut max_lines = 1;
    for (fi, f) in files.iter().enumerate() {
        let len = f.rules.len();
        let mut rules = Vec::with_capacity(len);
        for (i, r) in f.rules.iter().enumerate() {
            let kind = match &r.kind {
                RuleKind::Single { m, action } => CKind::Single {
                    m: cmatch(m, i, len),
                    action: cactions(Some(action), fi),
                },
                RuleKind::SingleWithScript {
                    m,
                    script,
                    action,
                    action2,
                } => {
                    let script = match script {
                        Script::Shell(s) => Command::Shell(b(s)),
                        Script::Exec(v) => Command::Exec(v.iter().map(|s| b(s)).collect()),
                    };
                    let script_volatile = match &script {
                        Command::Shell(s) => has_matchvars(s, b'$'),
                        Command::Exec(v) => v.iter().any(|s| has_matchvars(s, b'$')),
                    };
                    CKind::Script {
                        m: cmatch(m, i, len),
                        script,
                        script_volatile,
                        action: cactions(Some(action), fi),
                        action2: cactions(action2.as_ref(), fi),
                    }
                }
                RuleKind::SingleWithSuppress { m, action, window } => CKind::SingleWithSuppress {
                    m: cmatch(m, i, len),
                    action: cactions(Some(action), fi),
                    window: *window as i64,
                },
                RuleKind::Pair {
                    with_window,
                    m,
                    action,
                    m2,
                    pattern2_deferred,
                    desc2,
                    action2,
                    window,
                } => {
                    let generic2 = if *pattern2_deferred {
                        generic_pattern2(&b(&m2.pattern.text))
                    } else {
                        None
                    };
                    let plan = if generic2.is_some() && m2.pattern.kind == PatternKind::RegExp {
                        crate::engine::pairindex::Plan::new(&b(&m2.pattern.text)).map(Arc::new)
                    } else {
                        None
                    };
                    CKind::Pair {
                        with_window: *with_window,
                        m: cmatch(m, i, len),
                        action: cactions(Some(action), fi),
                        m2: cmatch(m2, i, len),
                        deferred: *pattern2_deferred,
                        generic2,
                        plan,
                        desc2: b(desc2),
                        action2: cactions(Some(action2), fi),
                        window: *window as i64,
                    }
                }
                RuleKind::SingleWithThreshold {
                    m,
                    action,
                    action2,
                    window,
                    thresh,
                } => CKind::Threshold {
                    m: cmatch(m, i, len),
                    action: cactions(Some(action), fi),
                    action2: cactions(action2.as_ref(), fi),
                    window: *window as i64,
                    thresh: *thresh,
                },
                RuleKind::SingleWith2Thresholds {
                    m,
                    action,
                    window,
                    thresh,
                    desc2,
                    action2,
                    window2,
                    thresh2,
                } => CKind::TwoThresholds {
                    m: cmatch(m, i, len),
                    action: cactions(Some(action), fi),
                    window: *window as i64,
                    thresh: *thresh,
                    desc2: b(desc2),
                    action2: cactions(Some(action2), fi),
                    window2: *window2 as i64,
                    thresh2: *thresh2,
                },
                RuleKind::EventGroup {
                    events,
                    action,
                    init,
                    slide,
                    end,
                    window,
                    multact,
                    egpattern,
                } => CKind::EventGroup {
                    events: events
                        .iter()
                        .map(|e| CGroupEvent {
                            m: cmatch(&e.m, i, len),
                            count: cactions(e.count.as_ref(), fi),
                            thresh: e.thresh,
                            token: e.token.as_ref().map(|t| b(t)),
                        })
                        .collect(),
                    action: cactions(Some(action), fi),
                    init: cactions(init.as_ref(), fi),
                    slide: cactions(slide.as_ref(), fi),
                    end: cactions(end.as_ref(), fi),
                    window: *window as i64,
                    multact: *multact,
                    egpattern: egpattern.as_ref().map(cpattern),
                },
                RuleKind::Suppress { m } => CKind::Suppress {
                    m: CMatch {
                        next: Next::Rule(len),
                        ..cmatch(m, i, len)
                    },
                },
                RuleKind::Calendar {
                    time,
                    context,
                    action,
                } => CKind::Calendar {
                    time: time.clone(),
                    ctx: context.as_ref().map(|c| {
                        Arc::new(CContext {
                            ops: cops(&c.ops),
                            preeval: false,
                            volatile: false,
                            volatile_pct: false,
                        })
                    }),
                    action: cactions(Some(action), fi),
                },
                RuleKind::Jump { m, cfset, constset } => CKind::Jump {
                    m: cmatch(m, i, len),
                    cfset: cfset.iter().map(|s| b(s)).collect(),
                    constset: *constset,
                },
            };
            let mut kind = kind;
            let desc = b(&r.desc);
            if !uses_matchvars(&kind, &desc) {
                if let Some(m) = kind.single_match_mut() {
                    m.pat.vars = false;
                }
            }
            rules.push(CRule {
                number: r.number,
                line: r.line,
                desc,
                kind,
            });
        }
        max_lines = max_lines.max(f.max_lines);
        for set in &f.options.joincfset {
            prog.cfsets.entry(b(set)).or_default().push(fi);
        }
        if f.options.procallin {
            prog.main.push(fi);
        }
        prog.files.push(CFile {
            name: Arc::from(f.name.as_str()),
            rules,
            procallin: f.options.procallin,
        });
    }
    prog.bufsize = if bufsize > 0 {
        bufsize
    } else {
        max_lines.max(1)
    };
    prog.prefilters = prog
        .files
        .iter()
        .map(crate::engine::prefilter::Prefilter::build)
        .collect();
    prog
}
