//! Correlation operations: what each rule type does when its pattern matches, when a
//! Pair's second pattern arrives, and when an operation's window ends. The semantics are
//! SEC 2.9.1's, rule type by rule type (man sec, RULE TYPES; sec-reference.md section 2).

use std::collections::VecDeque;
use std::sync::Arc;

use crate::config::action::Command;
use crate::config::PatternKind;
use crate::engine::compile::{CActions, CKind, COp, CPattern};
use crate::engine::pairindex::Plan;
use crate::engine::subst::{double, quotemeta, subst_matchvars, Bytes, MatchVars};
use crate::engine::{ActionList, ChildMode, Engine, OpKey, ScriptWait, Timer};
use crate::pattern::regex::PerlRegex;

/// The capture offsets of one match (None: the pattern did not match).
type Captures = Option<Vec<Option<(usize, usize)>>>;

/// One live operation.
#[derive(Clone, Debug)]
pub struct Op {
    /// Window start ("Time").
    pub time: i64,
    /// Window length.
    pub window: i64,
    /// The due time of its scheduled timer (stale timers are skipped).
    pub scheduled: i64,
    /// Type-specific state.
    pub state: State,
}

/// Type-specific operation state.
#[derive(Clone, Debug)]
pub enum State {
    /// SingleWithSuppress.
    Suppress,
    /// Pair and PairWithWindow.
    Pair(Box<PairOp>),
    /// SingleWithThreshold.
    Threshold {
        /// Event times in the window.
        times: VecDeque<i64>,
        /// Fired, waiting for the window to end.
        suppress: bool,
        /// action.
        action: ActionList,
        /// action2.
        action2: ActionList,
    },
    /// SingleWith2Thresholds.
    TwoThresholds(Box<TwoOp>),
    /// EventGroup.
    Group(Box<GroupOp>),
}

// The large states are boxed: a live operation's slot is as small as the common
// threshold state (`optable.rs` keeps one slot per live operation).

/// The state of a Pair or PairWithWindow operation.
#[derive(Clone, Debug)]
pub struct PairOp {
    /// PairWithWindow.
    pub with_window: bool,
    /// The first action list (run at timeout for PairWithWindow).
    pub action: ActionList,
    /// pattern2 for this operation.
    pub pattern2: Arc<CPattern>,
    /// context2 for this operation.
    pub context2: Option<Vec<COp>>,
    /// desc2.
    pub desc2: Bytes,
    /// action2.
    pub action2: ActionList,
    /// True if action2 was already copied for this operation.
    pub act2_copied: bool,
    /// With an index plan (`pairindex::Plan`): the raw value of each placeholder
    /// occurrence of pattern2, whose `text` is then the substituted source and whose
    /// regex is compiled only when needed (None).
    pub pvals: Vec<Bytes>,
}

/// The state of a SingleWith2Thresholds operation.
#[derive(Clone, Debug)]
pub struct TwoOp {
    /// Event times.
    pub times: VecDeque<i64>,
    /// In the second (falling) phase.
    pub second: bool,
    /// action.
    pub action: ActionList,
    /// desc2.
    pub desc2: Bytes,
    /// action2.
    pub action2: ActionList,
}

/// The state of an EventGroup operation.
#[derive(Clone, Debug)]
pub struct GroupOp {
    /// (time, event type, token) of every event in the window, oldest first.
    pub all: VecDeque<(i64, usize, Bytes)>,
    /// Events per type in the window.
    pub counts: Vec<usize>,
    /// Fired, waiting for the window to end.
    pub suppress: bool,
    /// init is running.
    pub init_running: bool,
    /// end is running.
    pub deleting: bool,
    /// action.
    pub action: ActionList,
    /// slide.
    pub slide: ActionList,
    /// end.
    pub end: ActionList,
}

impl Op {
    /// A new operation whose window starts now (its timer is scheduled when inserted).
    fn new(now: i64, window: i64, state: State) -> Op {
        Op {
            time: now,
            window,
            scheduled: i64::MIN,
            state,
        }
    }

    fn expired(&self, now: i64) -> bool {
        now - self.time > self.window
    }
}

impl Engine {
    /// A rule's desc with match variables substituted.
    fn desc_of(&self, desc: &[u8], vars: &MatchVars) -> Bytes {
        if vars.is_empty() {
            desc.to_vec()
        } else {
            subst_matchvars(vars, &self.cache, desc, b'$')
        }
    }

    /// An action list with match variables substituted, if it needs it.
    pub(crate) fn actions_for(&self, a: &CActions, vars: &MatchVars, token: u8) -> ActionList {
        let volatile = if token == b'$' {
            a.volatile
        } else {
            a.volatile_pct
        };
        if vars.is_empty() || !volatile {
            return a.list.clone();
        }
        self.subst_list(&a.list, vars, token)
    }

    /// SEC's subst_actionlist: values get `%` doubled, then `token` variables are
    /// substituted into every parameter.
    pub(crate) fn subst_list(&self, list: &ActionList, vars: &MatchVars, token: u8) -> ActionList {
        let cache = &self.cache;
        Arc::new(crate::config::action::map_list(list, &mut |s: &Bytes| {
            crate::engine::subst::subst_matchvars_escaped(vars, cache, s, token, Some(b'%'))
        }))
    }

    pub(crate) fn schedule_op(&mut self, key: &OpKey) {
        let Some(op) = self.ops.get_mut(key) else {
            return;
        };
        if let State::Pair(p) = &op.state {
            if !p.with_window && op.window == 0 {
                return;
            }
        }
        let due = op.time + op.window + 1;
        // One timer per operation: when the window slid later, the pending earlier timer
        // finds the operation alive and schedules the next one then (no stale entry, and
        // no copy of the key, per slide).
        if op.scheduled != i64::MIN && op.scheduled <= due {
            return;
        }
        op.scheduled = due;
        if let Some(id) = self.ops.id_of(key) {
            self.schedule(due, Timer::Op(id));
        }
    }

    fn insert_op(&mut self, key: OpKey, op: Op) {
        self.ops.insert(key.clone(), op);
        self.schedule_op(&key);
    }

    /// Runs the type-specific processing of a rule whose pattern and context matched.
    pub(crate) fn process_rule(&mut self, fi: usize, ri: usize, vars: &MatchVars) {
        let prog = self.prog.clone();
        let rule = &prog.files[fi].rules[ri];
        let now = self.now();
        match &rule.kind {
            CKind::Single { action, .. } => {
                let desc = self.desc_of(&rule.desc, vars);
                let list = self.actions_for(action, vars, b'$');
                self.exec_list(&list, &desc);
            }
            CKind::Script {
                script,
                action,
                action2,
                ..
            } => {
                let desc = self.desc_of(&rule.desc, vars);
                let action = self.actions_for(action, vars, b'$');
                let action2 = self.actions_for(action2, vars, b'$');
                let script: Command<Bytes> = if vars.is_empty() {
                    script.clone()
                } else {
                    script.map(&mut |s: &Bytes| subst_matchvars(vars, &self.cache, s, b'$'))
                };
                let mut names: Vec<&Bytes> = self.contexts.names().collect();
                names.sort();
                let mut input = Vec::new();
                for n in names {
                    input.extend_from_slice(n);
                    input.push(b'\n');
                }
                self.seq += 1;
                let token = self.seq;
                self.scripts.insert(
                    token,
                    ScriptWait {
                        desc,
                        action,
                        action2,
                    },
                );
                self.effects
                    .command(script, ChildMode::Script { input, token });
            }
            CKind::SingleWithSuppress { action, window, .. } => {
                let desc = self.desc_of(&rule.desc, vars);
                let key = (fi, rule.number, desc.clone());
                let live = self.ops.get(&key).is_some_and(|op| !op.expired(now));
                if !live {
                    let list = self.actions_for(action, vars, b'$');
                    self.insert_op(key, Op::new(now, *window, State::Suppress));
                    self.exec_list(&list, &desc);
                }
            }
            CKind::Pair { .. } => self.start_pair(fi, ri, vars),
            CKind::Threshold {
                action,
                action2,
                window,
                thresh,
                ..
            } => {
                let desc = self.desc_of(&rule.desc, vars);
                let key = (fi, rule.number, desc.clone());
                self.expire_on_match(&key, now);
                if !self.ops.contains_key(&key) {
                    let action = self.actions_for(action, vars, b'$');
                    let action2 = self.actions_for(action2, vars, b'$');
                    self.insert_op(
                        key.clone(),
                        Op::new(
                            now,
                            *window,
                            State::Threshold {
                                times: VecDeque::new(),
                                suppress: false,
                                action,
                                action2,
                            },
                        ),
                    );
                }
                let mut fire = None;
                if let Some(Op {
                    state:
                        State::Threshold {
                            times,
                            suppress,
                            action,
                            ..
                        },
                    ..
                }) = self.ops.get_mut(&key)
                {
                    if !*suppress {
                        times.push_back(now);
                        if times.len() >= *thresh {
                            *suppress = true;
                            fire = Some(action.clone());
                        }
                    }
                }
                if let Some(list) = fire {
                    self.exec_list(&list, &desc);
                }
            }
            CKind::TwoThresholds {
                action,
                window,
                thresh,
                desc2,
                action2,
                window2,
                thresh2,
                ..
            } => {
                let desc = self.desc_of(&rule.desc, vars);
                let key = (fi, rule.number, desc.clone());
                self.expire_on_match(&key, now);
                if !self.ops.contains_key(&key) {
                    let desc2 = self.desc_of(desc2, vars);
                    let action = self.actions_for(action, vars, b'$');
                    let action2 = self.actions_for(action2, vars, b'$');
                    self.insert_op(
                        key.clone(),
                        Op::new(
                            now,
                            *window,
                            State::TwoThresholds(Box::new(TwoOp {
                                times: VecDeque::new(),
                                second: false,
                                action,
                                desc2,
                                action2,
                            })),
                        ),
                    );
                }
                let mut fire = None;
                if let Some(op) = self.ops.get_mut(&key) {
                    if let State::TwoThresholds(t) = &mut op.state {
                        let TwoOp {
                            times,
                            second,
                            action,
                            ..
                        } = &mut **t;
                        times.push_back(now);
                        if !*second {
                            if times.len() >= *thresh {
                                *second = true;
                                times.clear();
                                op.time = now;
                                op.window = *window2;
                                fire = Some(action.clone());
                            }
                        } else if times.len() > *thresh2 {
                            times.pop_front();
                            op.time = times.front().copied().unwrap_or(now);
                        }
                    }
                }
                self.schedule_op(&key);
                if let Some(list) = fire {
                    self.exec_list(&list, &desc);
                }
            }
            _ => {}
        }
    }

    /// The expiry check SEC makes when an event matches an existing operation's key.
    fn expire_on_match(&mut self, key: &OpKey, now: i64) {
        if self.ops.get(key).is_some_and(|op| op.expired(now)) {
            self.expire_op_now(key, now);
        }
    }

    /// Expires or slides one operation whose timer came due.
    pub(crate) fn expire_op(&mut self, key: &OpKey) {
        let now = self.now();
        let Some(op) = self.ops.get(key) else {
            return;
        };
        if !op.expired(now) {
            self.schedule_op(key);
            return;
        }
        self.expire_op_now(key, now);
    }

    fn expire_op_now(&mut self, key: &OpKey, now: i64) {
        let Some(op) = self.ops.get_mut(key) else {
            return;
        };
        let desc = key.2.clone();
        let cutoff = now - op.window;
        // A threshold operation that has not fired slides its window.
        let sliding = match &mut op.state {
            State::Threshold {
                times,
                suppress: false,
                ..
            } => Some(times),
            State::TwoThresholds(t) if !t.second => Some(&mut t.times),
            _ => None,
        };
        if let Some(times) = sliding {
            match slide(times, cutoff) {
                Some(t) => {
                    op.time = t;
                    self.schedule_op(key);
                }
                None => {
                    self.ops.remove(key);
                }
            }
            return;
        }
        match &mut op.state {
            State::Suppress => {
                self.ops.remove(key);
            }
            State::Pair(p) => {
                let with_window = p.with_window;
                let action = p.action.clone();
                let window = op.window;
                if with_window || window != 0 {
                    self.remove_pair_op(key);
                }
                if with_window {
                    self.exec_list(&action, &desc);
                }
            }
            State::Threshold { action2, .. } => {
                let list = action2.clone();
                self.ops.remove(key);
                self.exec_list(&list, &desc);
            }
            State::TwoThresholds(t) => {
                let (list, d2) = (t.action2.clone(), t.desc2.clone());
                self.ops.remove(key);
                self.exec_list(&list, &d2);
            }
            State::Group(g) => {
                let GroupOp {
                    all,
                    counts,
                    suppress,
                    deleting,
                    slide,
                    end,
                    ..
                } = &mut **g;
                if *suppress {
                    *deleting = true;
                    let list = end.clone();
                    self.exec_list(&list, &desc);
                    self.ops.remove(key);
                } else {
                    while all.front().is_some_and(|(t, _, _)| *t < cutoff) {
                        if let Some((_, i, _)) = all.pop_front() {
                            if let Some(c) = counts.get_mut(i) {
                                *c -= 1;
                            }
                        }
                    }
                    match all.front().map(|(t, _, _)| *t) {
                        None => {
                            *deleting = true;
                            let list = end.clone();
                            self.exec_list(&list, &desc);
                            self.ops.remove(key);
                        }
                        Some(t) => {
                            op.time = t;
                            let list = slide.clone();
                            self.schedule_op(key);
                            self.exec_list(&list, &desc);
                        }
                    }
                }
            }
        }
    }

    pub(crate) fn remove_pair_op(&mut self, key: &OpKey) {
        self.ops.remove(key);
        if let Some(list) = self.pair_ops.get_mut(&(key.0, key.1)) {
            list.remove(&key.2);
        }
    }

    fn start_pair(&mut self, fi: usize, ri: usize, vars: &MatchVars) {
        let prog = self.prog.clone();
        let rule = &prog.files[fi].rules[ri];
        let CKind::Pair {
            with_window,
            action,
            m2,
            deferred,
            desc2,
            action2,
            window,
            plan,
            ..
        } = &rule.kind
        else {
            return;
        };
        let now = self.now();
        let desc = self.desc_of(&rule.desc, vars);
        let key = (fi, rule.number, desc.clone());
        if *with_window {
            if self.ops.get(&key).is_some_and(|op| op.expired(now)) {
                if let Some(Op {
                    state: State::Pair(p),
                    ..
                }) = self.ops.get(&key)
                {
                    let list = p.action.clone();
                    self.exec_list(&list, &desc);
                }
                self.remove_pair_op(&key);
            }
            if self.ops.contains_key(&key) {
                return;
            }
        } else if let Some(op) = self.ops.get(&key) {
            if op.window == 0 || now - op.time <= op.window {
                return;
            }
        }
        let mut pattern2 = Arc::new(m2.pat.clone());
        let mut desc2 = desc2.clone();
        let mut context2 = m2.ctx.as_ref().map(|c| c.ops.clone());
        let mut pvals = Vec::new();
        let (act1, mut act2, mut act2_copied);
        if vars.is_empty() {
            act1 = action.list.clone();
            act2 = action2.list.clone();
            act2_copied = false;
        } else {
            act1 = self.actions_for(action, vars, b'$');
            act2 = action2.list.clone();
            act2_copied = action2.volatile || action2.volatile_pct;
            let ctx2_volatile = m2
                .ctx
                .as_ref()
                .is_some_and(|c| c.volatile || c.volatile_pct);
            match m2.pat.kind {
                PatternKind::RegExp
                | PatternKind::NRegExp
                | PatternKind::PerlFunc
                | PatternKind::NPerlFunc
                | PatternKind::Cached => {
                    let fast = match plan {
                        Some(plan) if *deferred => {
                            let (src, vals) = plan.substitute(&m2.pat.text, vars);
                            pvals = vals;
                            Plan::valid_without_compiling(&pvals).then_some(src)
                        }
                        _ => None,
                    };
                    if let Some(src) = fast {
                        // Valid by construction: compiled only when an event needs it.
                        let mut p = m2.pat.clone();
                        p.regex = None;
                        p.text = src;
                        pattern2 = Arc::new(p);
                    } else if *deferred {
                        let quoted = vars.map_values(quotemeta);
                        let src = subst_matchvars(&quoted, &self.cache, &m2.pat.text, b'$');
                        match PerlRegex::from_bytes(&src) {
                            Ok(re) => {
                                let mut p = m2.pat.clone();
                                p.regex = Some(Arc::new(re));
                                p.text = src;
                                pattern2 = Arc::new(p);
                            }
                            Err(e) => {
                                let kind = if *with_window {
                                    "PairWithWindow"
                                } else {
                                    "Pair"
                                };
                                crate::err!(
                                    "Runtime variable evaluation yielded an invalid regular expression '{}' for {kind} rule: {e}",
                                    String::from_utf8_lossy(&src)
                                );
                                crate::err!(
                                    "Can't start {kind} event correlation operation with the key '{}'",
                                    key_text(&prog.files[fi].name, rule.number, &desc)
                                );
                                return;
                            }
                        }
                    }
                    let dvars = vars.map_values(|v| double(v, b'$'));
                    desc2 = subst_matchvars(&dvars, &self.cache, &desc2, b'%');
                    if act2_copied {
                        act2 = self.subst_list(&act2, &dvars, b'%');
                    }
                    if ctx2_volatile {
                        if let Some(c) = m2.ctx.as_ref() {
                            context2 = Some(self.subst_context(c, &dvars, b'%'));
                        }
                    }
                }
                PatternKind::SubStr | PatternKind::NSubStr => {
                    let mut p = m2.pat.clone();
                    p.text = subst_matchvars(vars, &self.cache, &p.text, b'$');
                    pattern2 = Arc::new(p);
                    desc2 = subst_matchvars(vars, &self.cache, &desc2, b'$');
                    if act2_copied {
                        act2 = self.subst_list(&act2, vars, b'$');
                    }
                    if ctx2_volatile {
                        if let Some(c) = m2.ctx.as_ref() {
                            context2 = Some(self.subst_context(c, vars, b'$'));
                        }
                    }
                }
                PatternKind::NCached | PatternKind::TValue => {
                    desc2 = subst_matchvars(vars, &self.cache, &desc2, b'$');
                    if act2_copied {
                        act2 = self.subst_list(&act2, vars, b'$');
                    }
                    if ctx2_volatile {
                        if let Some(c) = m2.ctx.as_ref() {
                            context2 = Some(self.subst_context(c, vars, b'$'));
                        }
                    }
                }
            }
        }
        if !act2_copied {
            act2_copied = false;
        }
        self.remove_pair_op(&key);
        self.insert_op(
            key.clone(),
            Op::new(
                now,
                *window,
                State::Pair(Box::new(PairOp {
                    with_window: *with_window,
                    action: act1.clone(),
                    pattern2,
                    context2,
                    desc2,
                    action2: act2,
                    act2_copied,
                    pvals,
                })),
            ),
        );
        self.index_pair_op(fi, rule.number, plan.as_deref(), &desc);
        if !*with_window {
            self.exec_list(&act1, &desc);
        }
    }

    /// Puts a just-started Pair operation into its rule's index: keyed by one of its
    /// required placeholder values, or by a SubStr pattern2's text.
    pub(crate) fn index_pair_op(
        &mut self,
        fi: usize,
        number: usize,
        plan: Option<&Plan>,
        desc: &[u8],
    ) {
        let key = (fi, number, desc.to_vec());
        let list = self.pair_ops.entry((fi, number)).or_default();
        match self.ops.get(&key) {
            Some(Op {
                state: State::Pair(p),
                ..
            }) => match plan {
                Some(plan) if !p.pvals.is_empty() => list.insert(key.2, plan.keys(&p.pvals)),
                _ if p.pattern2.kind == PatternKind::SubStr => {
                    list.insert(key.2, std::iter::once(p.pattern2.text.as_slice()))
                }
                _ => list.insert(key.2, std::iter::empty()),
            },
            _ => list.insert(key.2, std::iter::empty()),
        }
    }

    /// Matches an indexed operation's pattern2 (regex compiled only on demand) against
    /// the current event. `caps` holds the captures of the plan's capturing pattern for
    /// this event once computed (None inside: it did not match). With `need_vars` false
    /// the caller uses no variable of the match, so a proof of a match is enough and
    /// gives empty variables.
    #[allow(clippy::too_many_arguments)]
    fn match_indexed(
        &mut self,
        fi: usize,
        number: usize,
        plan: &Plan,
        pattern2: &CPattern,
        pvals: &[Bytes],
        varmap: &[crate::config::VarMapEntry],
        need_vars: bool,
        caps: &mut Option<Captures>,
    ) -> Option<MatchVars> {
        {
            // Every required value is a literal of every match.
            let text = self.buffers.text(pattern2.lines);
            if plan
                .keys(pvals)
                .any(|k| !crate::engine::pairindex::contains(&text, k))
            {
                return None;
            }
        }
        if !need_vars {
            if let Some((re, _)) = &plan.capture {
                let text = self.buffers.text(pattern2.lines);
                let locs = caps.get_or_insert_with(|| {
                    let mut l = Vec::new();
                    re.captures_into(&text, &mut l).then_some(l)
                });
                if locs.as_ref().is_some_and(|l| plan.verify(&text, l, pvals)) {
                    return Some(MatchVars::default());
                }
            }
        }
        let re = self
            .pair_ops
            .entry((fi, number))
            .or_default()
            .regex(&pattern2.text);
        let re = match re {
            Ok(re) => re,
            Err(e) => {
                crate::err!(
                    "Invalid regular expression '{}': {e}",
                    String::from_utf8_lossy(&pattern2.text)
                );
                return None;
            }
        };
        let p = CPattern {
            regex: Some(re),
            ..pattern2.clone()
        };
        self.match_pattern(&p, varmap)
    }

    /// Offers the current event to the running operations of a Pair rule; true if any
    /// pattern2 matched.
    pub(crate) fn match_pair_operations(&mut self, fi: usize, ri: usize) -> bool {
        let prog = self.prog.clone();
        let rule = &prog.files[fi].rules[ri];
        let CKind::Pair {
            with_window,
            m2,
            action2: rule_action2,
            ..
        } = &rule.kind
        else {
            return false;
        };
        let preeval2 = m2.ctx.as_ref().is_some_and(|c| c.preeval);
        // A line the generic pattern2 does not match can end no operation. (Not with a
        // pre-evaluated context2: SEC evaluates it for every operation first, and that
        // evaluation may expire contexts.)
        if let CKind::Pair {
            generic2: Some(g), ..
        } = &rule.kind
        {
            if !preeval2 && !g.is_match(&self.buffers.text(m2.pat.lines)) {
                return false;
            }
        }
        let volatile2 = m2.ctx.as_ref().is_some_and(|c| c.volatile);
        let plan = match &rule.kind {
            CKind::Pair { plan, .. } => plan.clone(),
            _ => None,
        };
        // Would the variables of pattern2's match be used (beyond desc2's and action2's
        // own `$`, checked for each operation)?
        let rule_needs_vars = !m2.varmap.is_empty() || volatile2;
        // Only the operations whose key the event holds can match it (all of them with
        // a pre-evaluated context2, which is evaluated for each operation in turn).
        let mut descs = match self.pair_ops.get(&(fi, rule.number)) {
            None => Vec::new(),
            Some(list) if preeval2 => list.after(None),
            Some(list) => list.candidates(&self.buffers.text(m2.pat.lines)),
        }
        .into_iter();
        let mut caps = None;
        let mut ret = false;
        let mut gen = self.event_gen;
        let mut last = None;
        loop {
            if self.event_gen != gen {
                // An action rewrote the event: the candidates were found for the old
                // text, so every later operation is tried, as a full scan would.
                gen = self.event_gen;
                caps = None;
                descs = self
                    .pair_ops
                    .get(&(fi, rule.number))
                    .map(|l| l.after(last))
                    .unwrap_or_default()
                    .into_iter();
            }
            let Some((seq, d)) = descs.next() else {
                break;
            };
            last = Some(seq);
            let key = (fi, rule.number, d);
            let Some(Op {
                state: State::Pair(p),
                ..
            }) = self.ops.get(&key)
            else {
                continue;
            };
            let PairOp {
                pattern2,
                context2,
                pvals,
                desc2,
                action2,
                act2_copied,
                ..
            } = &**p;
            let indexed = pattern2.regex.is_none() && !pvals.is_empty();
            // The match's variables change desc2 and action2 only where they hold a `$`
            // (a variable, or a `$$` that pattern1's values left at the start).
            let need_vars = rule_needs_vars
                || desc2.contains(&b'$')
                || list_has_byte(
                    if *act2_copied {
                        action2
                    } else {
                        &rule_action2.list
                    },
                    b'$',
                );
            let (pattern2, context2, pvals) = (
                pattern2.clone(),
                context2.clone(),
                if indexed { pvals.clone() } else { Vec::new() },
            );
            if preeval2 {
                if let Some(c) = &context2 {
                    if !self.tval(c) {
                        continue;
                    }
                }
            }
            let matched = match &plan {
                Some(plan) if indexed => self.match_indexed(
                    fi,
                    rule.number,
                    plan,
                    &pattern2,
                    &pvals,
                    &m2.varmap,
                    need_vars,
                    &mut caps,
                ),
                _ => self.match_pattern(&pattern2, &m2.varmap),
            };
            let Some(vars) = matched else {
                continue;
            };
            if !preeval2 {
                if let Some(c) = &context2 {
                    let ok = if !vars.is_empty() && volatile2 {
                        let tmp = crate::engine::compile::CContext {
                            ops: c.clone(),
                            preeval: false,
                            volatile: true,
                            volatile_pct: false,
                        };
                        let ops = self.subst_context(&tmp, &vars, b'$');
                        self.tval(&ops)
                    } else {
                        self.tval(c)
                    };
                    if !ok {
                        continue;
                    }
                }
            }
            let now = self.now();
            let Some(op) = self.ops.get(&key) else {
                continue;
            };
            let in_window = *with_window || op.window == 0 || now - op.time <= op.window;
            if in_window {
                ret = true;
                self.count_match(fi, ri);
                if let Some(Op {
                    state: State::Pair(p),
                    ..
                }) = self.ops.get(&key)
                {
                    let (mut desc2, mut list) = (p.desc2.clone(), p.action2.clone());
                    let act2_copied = p.act2_copied;
                    if !vars.is_empty() {
                        if rule_action2.volatile || rule_action2.volatile_pct {
                            let base = if act2_copied {
                                list.clone()
                            } else {
                                rule_action2.list.clone()
                            };
                            list = self.subst_list(&base, &vars, b'$');
                        }
                        desc2 = subst_matchvars(&vars, &self.cache, &desc2, b'$');
                    }
                    self.remove_pair_op(&key);
                    self.exec_list(&list, &desc2);
                }
            } else {
                self.remove_pair_op(&key);
            }
        }
        ret
    }

    /// EventGroup processing of an event of type `idx`.
    pub(crate) fn process_eventgroup(
        &mut self,
        fi: usize,
        ri: usize,
        idx: usize,
        vars: &MatchVars,
    ) {
        let prog = self.prog.clone();
        let rule = &prog.files[fi].rules[ri];
        let CKind::EventGroup {
            events,
            action,
            init,
            slide,
            end,
            window,
            multact,
            egpattern,
        } = &rule.kind
        else {
            return;
        };
        let now = self.now();
        let desc = self.desc_of(&rule.desc, vars);
        let key = (fi, rule.number, desc.clone());
        self.expire_on_match(&key, now);
        if !self.ops.contains_key(&key) {
            let init_l = self.actions_for(init, vars, b'$');
            let slide_l = self.actions_for(slide, vars, b'$');
            let end_l = self.actions_for(end, vars, b'$');
            let action_l = self.actions_for(action, vars, b'$');
            self.insert_op(
                key.clone(),
                Op::new(
                    now,
                    *window,
                    State::Group(Box::new(GroupOp {
                        all: VecDeque::new(),
                        counts: vec![0; events.len()],
                        suppress: false,
                        init_running: true,
                        deleting: false,
                        action: action_l,
                        slide: slide_l,
                        end: end_l,
                    })),
                ),
            );
            self.exec_list(&init_l, &desc);
            match self.ops.get_mut(&key) {
                Some(Op {
                    state: State::Group(g),
                    ..
                }) => g.init_running = false,
                _ => return,
            }
        }
        let token = events[idx].token.as_ref().map(|t| {
            if vars.is_empty() {
                t.clone()
            } else {
                subst_matchvars(vars, &self.cache, t, b'$')
            }
        });
        if let Some(Op {
            state: State::Group(g),
            ..
        }) = self.ops.get_mut(&key)
        {
            if !g.suppress {
                g.all.push_back((now, idx, token.unwrap_or_default()));
                g.counts[idx] += 1;
            }
        }
        let count_l = self.actions_for(&events[idx].count, vars, b'$');
        self.exec_list(&count_l, &desc);
        let Some(Op {
            state: State::Group(g),
            ..
        }) = self.ops.get(&key)
        else {
            return;
        };
        let GroupOp {
            all,
            counts,
            suppress,
            action,
            ..
        } = &**g;
        if *suppress {
            return;
        }
        if events.iter().zip(counts.iter()).any(|(e, c)| *c < e.thresh) {
            return;
        }
        let list = action.clone();
        let group: Option<Bytes> = egpattern.as_ref().map(|_| {
            let tokens: Vec<&[u8]> = all.iter().map(|(_, _, t)| t.as_slice()).collect();
            tokens.join(&b' ')
        });
        if let (Some(p), Some(s)) = (egpattern, group) {
            let ok = match p.kind {
                PatternKind::SubStr => crate::engine::memfind(&s, &p.text),
                PatternKind::NSubStr => !crate::engine::memfind(&s, &p.text),
                PatternKind::RegExp => p.regex.as_ref().is_some_and(|r| r.is_match(&s)),
                PatternKind::NRegExp => p.regex.as_ref().is_some_and(|r| !r.is_match(&s)),
                PatternKind::PerlFunc | PatternKind::NPerlFunc => {
                    let tokens: Vec<Bytes> = match self.ops.get(&key) {
                        Some(Op {
                            state: State::Group(g),
                            ..
                        }) => g.all.iter().map(|(_, _, t)| t.clone()).collect(),
                        _ => Vec::new(),
                    };
                    let r = self.perl_egpattern(&p.text, &s, &tokens);
                    r == (p.kind == PatternKind::PerlFunc)
                }
                _ => false,
            };
            if !ok {
                return;
            }
        }
        if !*multact {
            if let Some(Op {
                state: State::Group(g),
                ..
            }) = self.ops.get_mut(&key)
            {
                g.suppress = true;
            }
        }
        self.exec_list(&list, &desc);
    }
}

/// True if any text of the action list holds the byte `b`.
fn list_has_byte(list: &[crate::config::action::Action<Bytes>], b: u8) -> bool {
    let mut found = false;
    for a in list {
        let _ = a.map(&mut |s: &Bytes| found |= s.contains(&b));
        if found {
            return true;
        }
    }
    false
}

/// Drops the event times older than `cutoff`; the earliest time left is the new window
/// start (None: the window is empty).
pub(crate) fn slide(times: &mut VecDeque<i64>, cutoff: i64) -> Option<i64> {
    while times.front().is_some_and(|t| *t < cutoff) {
        times.pop_front();
    }
    times.front().copied()
}

/// An operation key as SEC prints it: `file | number | desc`.
pub fn key_text(file: &str, number: usize, desc: &[u8]) -> String {
    format!("{file} | {number} | {}", String::from_utf8_lossy(desc))
}
