//! The correlation engine: events in, actions out, with SEC 2.9.1's semantics.
//!
//! It owns rule dispatch (rule files in order, `continue`, Suppress, Jump), pattern
//! matching against the input buffers, match variables and the pattern-match cache,
//! context expressions, the context store, correlation operations of every rule type,
//! timers, synthetic events and action execution. It does no I/O itself: writes, sockets
//! and child processes go through [`Effects`], and time comes from a [`Clock`].

pub mod clock;
pub mod compile;
pub mod contexts;
mod dump;
mod evclock;
mod exec;
mod ops;
mod optable;
pub mod pairindex;
mod perl;
pub mod prefilter;
mod reload;
pub mod state;
mod structured;
pub mod subst;

pub use dump::{list_text, ChildInfo, DumpInfo, InputInfo};

use crate::io::input::Src;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::sync::Arc;

use crate::config::action::{Action, CloseKind, Command, WriteKind};
use crate::config::PatternKind;
pub use clock::{Clock, TestClock, WallClock};
use compile::{CContext, CKind, CMatch, COp, CPattern, Next, Program};
use contexts::Contexts;
use subst::{subst_matchvars, Bytes, MatchCache, MatchVars, VarName};

/// A hash map for keys that come from log text (operation keys, context names): a fast
/// hash, seeded per process.
pub type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// A runtime action list (shared; copied only when match variables are substituted).
pub type ActionList = Arc<Vec<Action<Bytes>>>;

/// How a child process is used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChildMode {
    /// shellcmd, cmdexec: run and forget.
    Detached,
    /// spawn and friends: each output line becomes a synthetic event with this context.
    Spawn {
        /// Internal context of the events.
        context: Bytes,
    },
    /// pipe, report: write this to the command's standard input.
    Pipe {
        /// The data.
        input: Bytes,
    },
    /// SingleWithScript: write this (the context names) and report the exit status.
    Script {
        /// The data.
        input: Bytes,
        /// Handed back to [`Engine::script_finished`].
        token: u64,
    },
}

/// What the engine asks of the outside world.
pub trait Effects {
    /// write, writen, owritecl and the socket writers.
    fn write(&mut self, kind: WriteKind, target: &[u8], text: &[u8]);
    /// closef and the socket closers.
    fn close(&mut self, kind: CloseKind, target: &[u8]);
    /// Starts a child process (an empty command with Pipe mode writes to standard output).
    fn command(&mut self, cmd: Command<Bytes>, mode: ChildMode);
    /// addinput: starts reading a file at an offset (`-` for its end) with a context.
    fn add_input(&mut self, _file: &[u8], _offset: &[u8], _context: &[u8]) {}
    /// dropinput.
    fn drop_input(&mut self, _file: &[u8]) {}
}

/// One remembered RegExp match: pattern, event generation, line count, result.
#[derive(Default)]
struct Memo {
    gen: u64,
    lines: usize,
    re: Option<Arc<crate::pattern::regex::PerlRegex>>,
    matched: bool,
    locs: Vec<Option<(usize, usize)>>,
}

/// Settings of the engine (from the command line).
#[derive(Clone, Debug)]
pub struct EngineOptions {
    /// One shared input buffer (`--jointbuf`) or one per source (default).
    pub jointbuf: bool,
    /// `--intcontexts`.
    pub intcontexts: bool,
    /// `--intevents`.
    pub intevents: bool,
    /// `--cleantime`.
    pub cleantime: i64,
    /// `--evstoresize` (0 = unlimited).
    pub evstoresize: usize,
    /// `--quoting`.
    pub quoting: bool,
    /// `--perl`: how Perl code runs.
    pub perl: crate::cli::PerlMode,
    /// With `--perl=auto`: run all Perl code in the perl bridge, because some snippet of
    /// the loaded rules is outside the native subset (see `engine::perl`).
    pub perl_bridge: bool,
    /// `--input-format`: how input lines become fields (see `engine::structured`).
    pub input_format: crate::cli::InputFormat,
    /// `--match-field`: the field whose value patterns match instead of the raw line.
    pub match_field: Option<String>,
    /// `--dialect=logzilla`: `$ENV{NAME}` reads the event's fields, and Perl context
    /// operands see action-list variables (the rule text itself is rewritten at load
    /// time, in `config::dialect`).
    pub logzilla: bool,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            jointbuf: false,
            intcontexts: false,
            intevents: false,
            cleantime: 1,
            evstoresize: 0,
            quoting: false,
            perl: crate::cli::PerlMode::Auto,
            perl_bridge: false,
            input_format: crate::cli::InputFormat::Line,
            match_field: None,
            logzilla: false,
        }
    }
}

/// Signals that actions emulate (`sigemul`), for the main loop to handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    /// Full restart.
    Hup,
    /// Soft restart.
    Abrt,
    /// Dump.
    Usr1,
    /// Reopen outputs.
    Usr2,
    /// Debug level cycling.
    Int,
    /// Shutdown.
    Term,
}

/// A calendar minute: (minute, hour, day, month, year).
type MinuteStamp = (i32, i32, i32, i32, i32);

/// An operation key: file index, rule number, desc.
pub type OpKey = (usize, usize, Bytes);

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    Op(optable::OpId),
    Ctx(usize, u64),
}

/// The internal context name of synthetic events.
pub const SYNEVENT_CONTEXT: &[u8] = b"_INTERNAL_EVENT";
/// The internal context name of SEC's internal events.
pub const SECEVENT_CONTEXT: &[u8] = b"SEC_INTERNAL_EVENT";

/// Input buffers for multi-line patterns, as `--jointbuf` / `--nojointbuf` arrange them.
struct Buffers {
    size: usize,
    joint: bool,
    /// Joint ring: (line, source) with the newest last.
    ring: VecDeque<(Bytes, Option<Src>)>,
    /// Per-source rings (nojointbuf), and the synthetic ring under the key None.
    per: HashMap<Option<Src>, VecDeque<Bytes>>,
    /// Source of the current event.
    current: Option<Src>,
}

impl Buffers {
    fn new(size: usize, joint: bool) -> Self {
        let size = size.max(1);
        Buffers {
            size,
            joint: joint || size == 1,
            ring: std::iter::repeat_n((Vec::new(), None), size).collect(),
            per: HashMap::new(),
            current: None,
        }
    }

    fn push(&mut self, line: &[u8], source: Option<Src>) {
        // Reuse the oldest slot's allocation: no allocation per line in steady state.
        let mut slot = if self.ring.len() >= self.size {
            self.ring.pop_front().map(|(v, _)| v).unwrap_or_default()
        } else {
            Vec::new()
        };
        slot.clear();
        slot.extend_from_slice(line);
        self.push_slot(slot, source);
    }

    /// Pushes a line that the caller gives away (no copy); gives back the buffer of the
    /// line that fell out of the ring, for the caller to reuse.
    fn push_owned(&mut self, line: Vec<u8>, source: Option<Src>) -> Vec<u8> {
        let old = if self.ring.len() >= self.size {
            self.ring.pop_front().map(|(v, _)| v).unwrap_or_default()
        } else {
            Vec::new()
        };
        if self.joint {
            self.ring.push_back((line, source.clone()));
            self.current = source;
        } else {
            // The per-source rings need their own copy.
            self.push_slot(line, source);
        }
        old
    }

    fn push_slot(&mut self, slot: Vec<u8>, source: Option<Src>) {
        if !self.joint {
            let line = &slot[..];
            let size = self.size;
            let r = self
                .per
                .entry(source.clone())
                .or_insert_with(|| std::iter::repeat_n(Vec::new(), size).collect());
            let mut slot = if r.len() >= size {
                r.pop_front().unwrap_or_default()
            } else {
                Vec::new()
            };
            slot.clear();
            slot.extend_from_slice(line);
            r.push_back(slot);
        }
        self.ring.push_back((slot, source.clone()));
        self.current = source;
    }

    /// The last `n` lines joined with newlines (borrowed when `n` is 1).
    fn text(&self, n: usize) -> std::borrow::Cow<'_, [u8]> {
        use std::borrow::Cow;
        let n = n.clamp(1, self.size);
        if self.joint {
            if n == 1 {
                return Cow::Borrowed(self.ring.back().map_or(&[][..], |(l, _)| l.as_slice()));
            }
            let start = self.ring.len().saturating_sub(n);
            let lines: Vec<&[u8]> = self
                .ring
                .iter()
                .skip(start)
                .map(|(l, _)| l.as_slice())
                .collect();
            Cow::Owned(lines.join(&b'\n'))
        } else {
            match self.per.get(&self.current) {
                Some(r) if n == 1 => Cow::Borrowed(r.back().map_or(&[][..], Vec::as_slice)),
                Some(r) => {
                    let start = r.len().saturating_sub(n);
                    Cow::Owned(
                        r.iter()
                            .skip(start)
                            .map(Vec::as_slice)
                            .collect::<Vec<_>>()
                            .join(&b'\n'),
                    )
                }
                None => Cow::Borrowed(&[][..]),
            }
        }
    }

    /// The `_inputsrc` value for a match of `n` lines.
    fn source(&self, n: usize) -> Bytes {
        let n = n.clamp(1, self.size);
        let src = |s: &Option<Src>| s.as_deref().unwrap_or("synthetic").as_bytes().to_vec();
        if self.joint && self.size > 1 {
            let start = self.ring.len().saturating_sub(n);
            let srcs: Vec<Bytes> = self.ring.iter().skip(start).map(|(_, s)| src(s)).collect();
            srcs.join(&b' ')
        } else {
            src(&self.current)
        }
    }

    /// The last `n` lines one by one, with their sources (as PerlFunc receives them:
    /// every line's source under jointbuf, the current source once otherwise).
    fn lines(&self, n: usize) -> (Vec<Bytes>, Vec<Option<Src>>) {
        let n = n.clamp(1, self.size);
        if self.joint {
            let start = self.ring.len().saturating_sub(n);
            let lines = self
                .ring
                .iter()
                .skip(start)
                .map(|(l, _)| l.clone())
                .collect();
            let srcs = if self.size == 1 {
                vec![self.current.clone()]
            } else {
                self.ring
                    .iter()
                    .skip(start)
                    .map(|(_, s)| s.clone())
                    .collect()
            };
            (lines, srcs)
        } else {
            let lines = match self.per.get(&self.current) {
                Some(r) => {
                    let start = r.len().saturating_sub(n);
                    r.iter().skip(start).cloned().collect()
                }
                None => Vec::new(),
            };
            (lines, vec![self.current.clone()])
        }
    }

    /// The rewrite action: replaces the last `n` lines of the current buffer.
    fn rewrite(&mut self, lines: &[Bytes]) {
        let n = lines.len();
        if self.joint {
            let len = self.ring.len();
            for (i, l) in lines.iter().enumerate() {
                if let Some(slot) = self.ring.get_mut(len - n + i) {
                    slot.0 = l.clone();
                }
            }
        } else if let Some(r) = self.per.get_mut(&self.current) {
            let len = r.len();
            for (i, l) in lines.iter().enumerate() {
                if let Some(slot) = r.get_mut(len - n + i) {
                    *slot = l.clone();
                }
            }
        }
    }
}

/// A pending SingleWithScript result.
struct ScriptWait {
    desc: Bytes,
    action: ActionList,
    action2: ActionList,
}

/// The correlation engine.
pub struct Engine {
    prog: std::rc::Rc<Program>,
    opts: EngineOptions,
    clock: Box<dyn Clock>,
    effects: Box<dyn Effects>,
    buffers: Buffers,
    contexts: Contexts,
    int_record: Option<usize>,
    intcontext: Option<Bytes>,
    ops: optable::OpTable,
    pair_ops: FastMap<(usize, usize), pairindex::PairOps>,
    timers: BinaryHeap<Reverse<(i64, u64, Timer)>>,
    seq: u64,
    vars: HashMap<String, Option<Bytes>>,
    cache: MatchCache,
    queue: VecDeque<(Bytes, Bytes)>,
    pending: BinaryHeap<Reverse<(i64, u64, Bytes, Bytes)>>,
    calendar_last: HashMap<(usize, usize), MinuteStamp>,
    scripts: HashMap<u64, ScriptWait>,
    last_clean: i64,
    signals: Vec<Signal>,
    time_vars: Option<(i64, crate::timefmt::LocalTime)>,
    /// The Perl interpreter, started on first need.
    perl: Option<perl::PerlState>,
    /// How many events each rule matched (file, rule), for the dump.
    match_counts: FastMap<(usize, usize), u64>,
    /// Reused capture-offset buffer.
    locs: Vec<Option<(usize, usize)>>,
    /// A context name being substituted (reused).
    name_buf: Vec<u8>,
    /// The last RegExp match of this event (see [`Engine::captures_memo`]).
    memo: Memo,
    /// Counts events and buffer rewrites: prefilter results are valid for one value.
    event_gen: u64,
    /// Per file: (event_gen, candidate rules) for the current event.
    cands: Vec<(u64, Vec<u64>)>,
    /// The fields of the current event (structured input, or always with the LogZilla
    /// dialect; empty for synthetic events).
    ev_fields: Option<Arc<crate::fields::Fields>>,
    /// Input lines that `--input-format=json` could not parse.
    bad_json: u64,
}

impl Engine {
    /// Creates an engine for a compiled program.
    pub fn new(
        prog: Program,
        opts: EngineOptions,
        clock: Box<dyn Clock>,
        effects: Box<dyn Effects>,
    ) -> Engine {
        let buffers = Buffers::new(prog.bufsize, opts.jointbuf);
        let now = clock.now();
        Engine {
            prog: std::rc::Rc::new(prog),
            opts,
            clock,
            effects,
            buffers,
            contexts: Contexts::default(),
            int_record: None,
            intcontext: None,
            ops: optable::OpTable::default(),
            pair_ops: FastMap::default(),
            timers: BinaryHeap::new(),
            seq: 0,
            vars: HashMap::new(),
            cache: MatchCache::default(),
            queue: VecDeque::new(),
            pending: BinaryHeap::new(),
            calendar_last: HashMap::new(),
            scripts: HashMap::new(),
            last_clean: now,
            signals: Vec::new(),
            time_vars: None,
            perl: None,
            match_counts: FastMap::default(),
            locs: Vec::new(),
            name_buf: Vec::new(),
            memo: Memo::default(),
            event_gen: 1,
            cands: Vec::new(),
            ev_fields: None,
            bad_json: 0,
        }
    }

    /// The current time of the engine's clock.
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// How many events each rule (file index, rule number) has matched.
    pub fn rule_match_counts(&self) -> &FastMap<(usize, usize), u64> {
        &self.match_counts
    }

    fn count_match(&mut self, fi: usize, ri: usize) {
        *self.match_counts.entry((fi, ri)).or_insert(0) += 1;
    }

    /// Signals emulated by `sigemul` since the last call.
    pub fn take_signals(&mut self) -> Vec<Signal> {
        std::mem::take(&mut self.signals)
    }

    /// True if an action raised a signal (`sigemul`) that is not taken yet.
    pub fn has_signals(&self) -> bool {
        !self.signals.is_empty()
    }

    /// True if synthetic events wait to be processed.
    pub fn has_synthetic(&self) -> bool {
        !self.queue.is_empty()
    }

    /// Takes the next synthetic event (text, internal context).
    pub fn next_synthetic(&mut self) -> Option<(Bytes, Bytes)> {
        self.queue.pop_front()
    }

    /// Queues a synthetic event (from a spawned child's output, for example).
    pub fn push_synthetic(&mut self, line: Bytes, context: Bytes) {
        self.queue.push_back((line, context));
    }

    /// The startup sequence: SEC_STARTUP (with `--intevents`), then the first run of the
    /// periodic tasks (so Calendar rules can fire at once).
    pub fn startup(&mut self) {
        if self.opts.intevents {
            self.internal_event(b"SEC_STARTUP");
        }
        self.process_lists();
        self.last_clean = self.now();
    }

    /// SEC_SHUTDOWN (with `--intevents`).
    pub fn shutdown(&mut self) {
        if self.opts.intevents {
            self.internal_event(b"SEC_SHUTDOWN");
        }
    }

    /// Runs the periodic tasks if `--cleantime` seconds have passed since the last run.
    pub fn maybe_tick(&mut self) {
        let now = self.now();
        if now - self.last_clean >= self.opts.cleantime {
            self.process_lists();
            self.last_clean = self.now();
        }
    }

    /// Processes one event: an input line (with its source and internal context) or a
    /// synthetic event (source None).
    pub fn process(&mut self, line: &[u8], source: Option<Src>, context: Option<Bytes>) {
        self.begin_event(source.as_ref(), context);
        if self.structured() {
            self.push_structured(line, source);
        } else {
            self.buffers.push(line, source);
        }
        self.run_event();
    }

    /// [`Engine::process`] for a line the caller gives away: it goes into the input
    /// buffer without a copy, and the buffer of an older line comes back for reuse.
    pub fn process_owned(
        &mut self,
        line: Vec<u8>,
        source: Option<Src>,
        context: Option<Bytes>,
    ) -> Vec<u8> {
        self.begin_event(source.as_ref(), context);
        if self.structured() {
            self.push_structured(&line, source);
            self.run_event();
            return line;
        }
        let old = self.buffers.push_owned(line, source);
        self.run_event();
        old
    }

    fn begin_event(&mut self, source: Option<&Src>, context: Option<Bytes>) {
        if self.opts.intcontexts {
            let name = match (&source, context) {
                (_, Some(c)) => c,
                (Some(s), None) => [b"_FILE_EVENT_".as_slice(), s.as_bytes()].concat(),
                (None, None) => SYNEVENT_CONTEXT.to_vec(),
            };
            self.set_internal_context(Some(name));
        }
    }

    /// True when events need `engine::structured`: structured input or the LogZilla
    /// dialect. Plain lines with SEC's dialect never do.
    fn structured(&self) -> bool {
        self.opts.input_format != crate::cli::InputFormat::Line || self.opts.logzilla
    }

    fn run_event(&mut self) {
        self.event_gen += 1;
        self.cache.clear();
        self.run_main_files();
        if self.opts.intcontexts {
            self.set_internal_context(None);
        }
    }

    /// An internal event (SEC_STARTUP and friends), processed at once with the
    /// SEC_INTERNAL_EVENT context.
    pub fn internal_event(&mut self, text: &[u8]) {
        crate::info!(
            "Creating SEC internal event '{}'",
            String::from_utf8_lossy(text)
        );
        self.set_internal_context(Some(SECEVENT_CONTEXT.to_vec()));
        if self.opts.logzilla {
            self.push_structured(text, None);
        } else {
            self.buffers.push(text, None);
        }
        self.event_gen += 1;
        self.cache.clear();
        self.run_main_files();
        self.set_internal_context(None);
    }

    fn set_internal_context(&mut self, name: Option<Bytes>) {
        if let Some(old) = self.intcontext.take() {
            self.contexts.remove_name(&old);
            if self.contexts.id(&old).is_none() {
                self.int_record = None;
            }
        }
        if let Some(name) = name {
            match self
                .int_record
                .filter(|id| self.contexts.record(*id).is_some())
            {
                Some(id) => self.contexts.add_name(name.clone(), id),
                None => {
                    let mut rec =
                        Contexts::new_record(0, 0, Contexts::no_actions(), Vec::new(), &name);
                    rec.internal = true;
                    self.int_record = Some(self.contexts.insert(name.clone(), rec));
                }
            }
            self.intcontext = Some(name);
        }
    }

    /// Runs the files that see input directly (procallin), in order, until EndMatch.
    fn run_main_files(&mut self) {
        let prog = self.prog.clone();
        for &fi in &prog.main {
            if self.process_rules(fi, &mut Vec::new()) {
                break;
            }
        }
    }

    /// Runs the rules of one file on the current event; true means EndMatch.
    fn process_rules(&mut self, fi: usize, trace: &mut Vec<Bytes>) -> bool {
        let prog = self.prog.clone();
        let file = &prog.files[fi];
        let n = file.rules.len();
        let mut i = 0;
        loop {
            i = self.next_rule(fi, i, n);
            if i >= n {
                break;
            }
            let next = match &file.rules[i].kind {
                CKind::Calendar { .. } => Next::Rule(i + 1),
                CKind::Pair { .. } => self.match_pair_rule(fi, i),
                CKind::EventGroup { .. } => self.match_eventgroup_rule(fi, i),
                _ => self.match_1pattern_rule(fi, i, trace),
            };
            match next {
                Next::End => return true,
                Next::Rule(j) => i = j,
            }
        }
        false
    }

    /// The next rule at or after `i` that the current event can match.
    fn next_rule(&mut self, fi: usize, i: usize, n: usize) -> usize {
        if self.cands.len() <= fi {
            self.cands
                .resize_with(self.prog.files.len().max(fi + 1), Default::default);
        }
        if self.cands[fi].0 != self.event_gen {
            let mut bits = std::mem::take(&mut self.cands[fi].1);
            match self.prog.prefilters.get(fi) {
                Some(p) => p.candidates(&self.buffers.text(1), &mut bits),
                None => {
                    bits.clear();
                    bits.resize(n.div_ceil(64), u64::MAX);
                }
            }
            self.cands[fi] = (self.event_gen, bits);
        }
        prefilter::next_candidate(&self.cands[fi].1, i, n)
    }

    /// Matches a pattern against the current buffers; Some(vars) on a match, carrying the
    /// event's fields when it has them.
    fn match_pattern(
        &mut self,
        pat: &CPattern,
        varmap: &[crate::config::VarMapEntry],
    ) -> Option<MatchVars> {
        let mut vars = self.match_pattern_text(pat, varmap)?;
        if let Some(f) = &self.ev_fields {
            vars.fields = Some(f.clone());
        }
        Some(vars)
    }

    /// [`Engine::match_pattern`] without the fields.
    fn match_pattern_text(
        &mut self,
        pat: &CPattern,
        varmap: &[crate::config::VarMapEntry],
    ) -> Option<MatchVars> {
        match pat.kind {
            PatternKind::TValue => pat.truth.then(MatchVars::default),
            PatternKind::Cached => self
                .cache
                .get(&String::from_utf8_lossy(&pat.text).into_owned())
                .cloned(),
            PatternKind::NCached => (!self
                .cache
                .contains_key(String::from_utf8_lossy(&pat.text).as_ref()))
            .then(MatchVars::default),
            PatternKind::SubStr | PatternKind::NSubStr => {
                let found = memfind(&self.buffers.text(pat.lines), &pat.text);
                (found == (pat.kind == PatternKind::SubStr)).then(MatchVars::default)
            }
            PatternKind::RegExp if !pat.vars => {
                // Nothing uses the groups: a match with one variable, so that the rule
                // still counts as matched by a RegExp (no field changes in substitution).
                let re = pat.regex.as_ref()?;
                re.is_match(&self.buffers.text(pat.lines)).then(|| {
                    let mut v = MatchVars::default();
                    v.set("0", None);
                    v
                })
            }
            PatternKind::RegExp | PatternKind::NRegExp => {
                let re = pat.regex.as_ref()?;
                let mut locs = std::mem::take(&mut self.locs);
                let matched = self.captures_memo(re, pat.lines, &mut locs);
                let result = if pat.kind == PatternKind::NRegExp {
                    (!matched).then(|| {
                        let mut v = MatchVars::default();
                        v.set("0", Some(self.buffers.text(pat.lines).into_owned()));
                        v.set("_inputsrc", Some(self.buffers.source(pat.lines)));
                        v.set("_intcontext", self.intcontext.clone());
                        v
                    })
                } else if matched {
                    Some(self.regexp_vars(re, pat.lines, &locs, varmap))
                } else {
                    None
                };
                self.locs = locs;
                result
            }
            PatternKind::PerlFunc | PatternKind::NPerlFunc => {
                let negate = pat.kind == PatternKind::NPerlFunc;
                self.perlfunc_match(&pat.text, pat.lines, negate, varmap)
            }
        }
    }

    /// Matches `re` against the last `lines` lines, or gives the result of the same
    /// pattern on the same text earlier in this event: rule files often try one pattern in
    /// consecutive rules (one with `continue=TakeNext` and a context, the next without).
    /// A `rewrite` starts a new event generation, so a changed buffer is matched again.
    fn captures_memo(
        &mut self,
        re: &Arc<crate::pattern::regex::PerlRegex>,
        lines: usize,
        locs: &mut Vec<Option<(usize, usize)>>,
    ) -> bool {
        let m = &self.memo;
        if m.gen == self.event_gen
            && m.lines == lines
            && m.re
                .as_ref()
                .is_some_and(|p| Arc::ptr_eq(p, re) || p.as_str() == re.as_str())
        {
            locs.clear();
            locs.extend_from_slice(&m.locs);
            return m.matched;
        }
        let matched = re.captures_into(&self.buffers.text(lines), locs);
        let m = &mut self.memo;
        m.gen = self.event_gen;
        m.lines = lines;
        if !m.re.as_ref().is_some_and(|p| Arc::ptr_eq(p, re)) {
            m.re = Some(re.clone());
        }
        m.matched = matched;
        m.locs.clear();
        m.locs.extend_from_slice(locs);
        matched
    }

    /// The match variables of a RegExp match (SEC's `%subst`), and the varmap's cache
    /// entries.
    fn regexp_vars(
        &mut self,
        re: &crate::pattern::regex::PerlRegex,
        lines: usize,
        locs: &[Option<(usize, usize)>],
        varmap: &[crate::config::VarMapEntry],
    ) -> MatchVars {
        let text = self.buffers.text(lines).into_owned();
        let names = re.group_names();
        let groups = locs.len().saturating_sub(1);
        let mut v = MatchVars::with_capacity(names.len() + groups.max(1) + 3);
        for (name, idx) in names {
            if let Some(Some((s, e))) = locs.get(*idx) {
                v.set(name.clone(), Some(text[*s..*e].to_vec()));
            }
        }
        // Without named groups every name below is new: no search per variable.
        let fresh = names.is_empty();
        let put = |v: &mut MatchVars, name: VarName, val: Option<Bytes>| {
            if fresh {
                v.push_new(name, val);
            } else {
                v.set(name, val);
            }
        };
        if groups == 0 {
            put(&mut v, VarName::Num(1), Some(b"1".to_vec()));
        } else {
            for (i, l) in locs.iter().enumerate().skip(1) {
                put(
                    &mut v,
                    VarName::Num(i as u32),
                    l.map(|(s, e)| text[s..e].to_vec()),
                );
            }
        }
        let ngroups = groups.max(1);
        put(&mut v, "_inputsrc".into(), Some(self.buffers.source(lines)));
        put(&mut v, "_intcontext".into(), self.intcontext.clone());
        put(&mut v, VarName::Num(0), Some(text));
        if !varmap.is_empty() {
            let mut cache_names = Vec::new();
            for e in varmap {
                match e.group {
                    None => cache_names.push(e.name.clone()),
                    Some(g) => {
                        let val = if g <= ngroups {
                            v.group(g).cloned()
                        } else {
                            None
                        };
                        v.set(e.name.clone(), val);
                    }
                }
            }
            for name in cache_names {
                self.cache.insert(name, v.clone());
            }
        }
        v
    }

    /// A context expression with match variables substituted (a copy).
    fn subst_context(&self, ctx: &CContext, vars: &MatchVars, token: u8) -> Vec<COp> {
        fn walk(ops: &[COp], f: &dyn Fn(&[u8]) -> Bytes) -> Vec<COp> {
            ops.iter()
                .map(|op| match op {
                    COp::Operand(s) => COp::Operand(f(s)),
                    COp::ECode(s) => COp::ECode(f(s)),
                    COp::VarSet(s) => COp::VarSet(f(s)),
                    COp::Expr(inner) => COp::Expr(walk(inner, f)),
                    COp::CCode {
                        params,
                        code,
                        cache,
                    } => COp::CCode {
                        params: params.iter().map(|p| f(p)).collect(),
                        code: code.clone(),
                        cache: *cache,
                    },
                    other => other.clone(),
                })
                .collect()
        }
        let cache = &self.cache;
        walk(&ctx.ops, &|s| subst_matchvars(vars, cache, s, token))
    }

    /// Checks a rule's context after its pattern matched.
    fn context_after_match(&mut self, ctx: &Option<Arc<CContext>>, vars: &MatchVars) -> bool {
        let Some(ctx) = ctx else {
            return true;
        };
        if ctx.preeval {
            return true;
        }
        if !vars.is_empty() && ctx.volatile {
            self.tval_v(&ctx.ops, Some(vars))
        } else {
            self.tval(&ctx.ops)
        }
    }

    /// The pre-evaluated (`[ ]`) context check before pattern matching.
    fn context_before_match(&mut self, ctx: &Option<Arc<CContext>>) -> bool {
        match ctx {
            Some(c) if c.preeval => self.tval(&c.ops),
            _ => true,
        }
    }

    /// SEC's context-expression evaluator, kept linear as SEC's is (so that unparenthesised
    /// `A || B && C` gives SEC's answer).
    fn tval(&mut self, ops: &[COp]) -> bool {
        self.tval_v(ops, None)
    }

    /// [`Engine::tval`] with `$` match variables substituted into each operand as it is
    /// looked at (a context name goes through a reused buffer): the same result as
    /// substituting the whole expression first, since nothing in an evaluation changes the
    /// variables.
    fn tval_v(&mut self, ops: &[COp], vars: Option<&MatchVars>) -> bool {
        let mut left: Option<bool> = None;
        // The operands gathered since the last `&&`/`||`: always a contiguous run.
        let mut right: Option<(usize, usize)> = None;
        for (i, op) in ops.iter().enumerate() {
            match op {
                COp::Not => match &mut right {
                    None => left = Some(!left.unwrap_or(false)),
                    Some((_, e)) => *e = i + 1,
                },
                COp::And => {
                    let r = right.take();
                    left = Some(
                        left.unwrap_or(false)
                            && r.is_some_and(|(s, e)| self.tval_v(&ops[s..e], vars)),
                    );
                }
                COp::Or => {
                    let r = right.take();
                    left = Some(
                        left.unwrap_or(false)
                            || r.is_some_and(|(s, e)| self.tval_v(&ops[s..e], vars)),
                    );
                }
                other => {
                    if left.is_some() {
                        match &mut right {
                            None => right = Some((i, i + 1)),
                            Some((_, e)) => *e = i + 1,
                        }
                    } else {
                        left = Some(self.operand(other, vars));
                    }
                }
            }
        }
        left.unwrap_or(false)
    }

    fn operand<'a>(&mut self, op: &'a COp, vars: Option<&MatchVars>) -> bool {
        // Without variables the texts are used as they are (no copy).
        let sub = |e: &Engine, s: &'a [u8]| -> std::borrow::Cow<'a, [u8]> {
            match vars {
                Some(v) => std::borrow::Cow::Owned(subst_matchvars(v, &e.cache, s, b'$')),
                None => std::borrow::Cow::Borrowed(s),
            }
        };
        match op {
            COp::Operand(name) => match vars {
                Some(v) => {
                    let mut buf = std::mem::take(&mut self.name_buf);
                    buf.clear();
                    subst::subst_matchvars_into(v, &self.cache, name, b'$', None, &mut buf);
                    let alive = self.valid_context(&buf);
                    self.name_buf = buf;
                    alive
                }
                None => self.valid_context(name),
            },
            COp::Expr(inner) => self.tval_v(inner, vars),
            COp::VarSet(name) => {
                let name = sub(self, name);
                self.cache
                    .contains_key(String::from_utf8_lossy(&name).as_ref())
            }
            COp::ECode(code) => {
                let code = sub(self, code);
                self.perl_ecode(&code)
            }
            COp::CCode {
                params,
                code,
                cache,
            } => match vars {
                Some(_) => {
                    let params: Vec<Bytes> =
                        params.iter().map(|p| sub(self, p).into_owned()).collect();
                    self.perl_ccode(&params, code, *cache)
                }
                None => self.perl_ccode(params, code, *cache),
            },
            _ => false,
        }
    }

    /// SEC's valid_context: true if the context exists and is alive; a stale one is
    /// removed here, after its expiry action list runs.
    pub fn valid_context(&mut self, name: &[u8]) -> bool {
        let now = self.now();
        let Some(id) = self.contexts.id(name) else {
            return false;
        };
        let Some(rec) = self.contexts.record(id) else {
            return false;
        };
        if !rec.expired(now) {
            return true;
        }
        if rec.deleting {
            return false;
        }
        self.expire_context(id);
        false
    }

    fn expire_context(&mut self, id: usize) {
        let Some(rec) = self.contexts.record_mut(id) else {
            return;
        };
        crate::debug!(
            "Deleting stale context '{}'",
            String::from_utf8_lossy(rec.aliases.first().map_or(&b""[..], |a| a.as_slice()))
        );
        if !rec.action.is_empty() {
            rec.deleting = true;
            let action = rec.action.clone();
            let desc = rec.desc.clone();
            // _THIS names the expiring context while its list runs; it is a name in the
            // index only, never one of the record's aliases.
            let prev_this = self.contexts.id(b"_THIS");
            self.contexts.link(b"_THIS".to_vec(), id);
            self.exec_list(&action, &desc);
            match prev_this {
                Some(p) => self.contexts.link(b"_THIS".to_vec(), p),
                None => self.contexts.forget_name(b"_THIS"),
            }
        }
        self.contexts.remove_record(id);
    }

    fn schedule(&mut self, due: i64, t: Timer) {
        self.seq += 1;
        self.timers.push(Reverse((due, self.seq, t)));
    }

    fn schedule_context(&mut self, id: usize) {
        let Some(rec) = self.contexts.record_mut(id) else {
            return;
        };
        rec.generation += 1;
        let generation = rec.generation;
        if let Some(due) = rec.due() {
            self.schedule(due, Timer::Ctx(id, generation));
        }
    }

    /// SEC's process_lists: expired contexts, due delayed events, Calendar rules, expired
    /// operations. Only what is due is visited.
    pub fn process_lists(&mut self) {
        let now = self.now();
        // Contexts first, then the rest, as SEC orders them.
        let mut due_ops = Vec::new();
        while let Some(Reverse((due, _, _))) = self.timers.peek() {
            if *due > now {
                break;
            }
            let Some(Reverse((_, _, t))) = self.timers.pop() else {
                break;
            };
            match t {
                Timer::Ctx(id, generation) => {
                    let live = self.contexts.record(id).is_some_and(|r| {
                        r.generation == generation && r.expired(now) && !r.deleting
                    });
                    if live {
                        self.expire_context(id);
                    }
                }
                Timer::Op(id) => {
                    if let Some(key) = self.ops.key_of(id) {
                        due_ops.push(key.clone());
                    }
                }
            }
        }
        while let Some(Reverse((due, _, _, _))) = self.pending.peek() {
            if *due > now {
                break;
            }
            if let Some(Reverse((_, _, text, ctx))) = self.pending.pop() {
                crate::debug!("Creating event '{}'", String::from_utf8_lossy(&text));
                self.queue.push_back((text, ctx));
            }
        }
        self.run_calendar(now);
        for key in due_ops {
            // Its timer has fired: the next schedule_op sets a new one.
            if let Some(op) = self.ops.get_mut(&key) {
                op.scheduled = i64::MIN;
            }
            self.expire_op(&key);
        }
    }

    fn run_calendar(&mut self, now: i64) {
        let prog = self.prog.clone();
        let t = crate::timefmt::local(now);
        let stamp = (t.min, t.hour, t.mday, t.mon, t.year);
        for (fi, f) in prog.files.iter().enumerate() {
            for (ri, r) in f.rules.iter().enumerate() {
                let CKind::Calendar { time, ctx, action } = &r.kind else {
                    continue;
                };
                if self.calendar_last.get(&(fi, ri)) == Some(&stamp) || !time.matches(&t) {
                    continue;
                }
                let ok = match ctx {
                    Some(c) => self.tval(&c.ops),
                    None => true,
                };
                if ok {
                    self.exec_list(&action.list, &r.desc);
                    self.calendar_last.insert((fi, ri), stamp);
                    self.count_match(fi, ri);
                }
            }
        }
    }

    /// Reports a finished SingleWithScript child: exit status 0 runs action, else action2.
    pub fn script_finished(&mut self, token: u64, status: i32) {
        if let Some(w) = self.scripts.remove(&token) {
            let list = if status == 0 { w.action } else { w.action2 };
            self.exec_list(&list, &w.desc);
        }
    }

    fn single_rule_match(&mut self, m: &CMatch) -> Option<MatchVars> {
        if !self.context_before_match(&m.ctx) {
            return None;
        }
        let vars = self.match_pattern(&m.pat, &m.varmap)?;
        if !self.context_after_match(&m.ctx, &vars) {
            return None;
        }
        Some(vars)
    }

    fn match_1pattern_rule(&mut self, fi: usize, ri: usize, trace: &mut Vec<Bytes>) -> Next {
        let prog = self.prog.clone();
        let rule = &prog.files[fi].rules[ri];
        let Some(m) = rule.kind.single_match() else {
            return Next::Rule(ri + 1);
        };
        let Some(vars) = self.single_rule_match(m) else {
            return Next::Rule(ri + 1);
        };
        self.count_match(fi, ri);
        match &rule.kind {
            CKind::Suppress { .. } => return m.next,
            CKind::Jump {
                cfset, constset, ..
            } => {
                if self.jump(fi, cfset, *constset, &vars, trace) {
                    return Next::End;
                }
                return m.next;
            }
            _ => self.process_rule(fi, ri, &vars),
        }
        m.next
    }

    fn jump(
        &mut self,
        fi: usize,
        cfset: &[Bytes],
        constset: bool,
        vars: &MatchVars,
        trace: &mut Vec<Bytes>,
    ) -> bool {
        if cfset.is_empty() {
            return false;
        }
        let sets: Vec<Bytes> = if !constset && !vars.is_empty() {
            cfset
                .iter()
                .map(|s| subst_matchvars(vars, &self.cache, s, b'$'))
                .collect()
        } else {
            cfset.to_vec()
        };
        let prog = self.prog.clone();
        let from = &prog.files[fi].name;
        for set in sets {
            let name = String::from_utf8_lossy(&set).into_owned();
            if trace.contains(&set) {
                crate::warn!("Can't jump to fileset '{name}' from {from}, loop detected");
                continue;
            }
            let Some(files) = prog.cfsets.get(&set) else {
                crate::warn!("Can't jump to fileset '{name}' from {from}, set does not exist");
                continue;
            };
            trace.push(set.clone());
            for &cf in files {
                if self.process_rules(cf, trace) {
                    trace.retain(|s| *s != set);
                    return true;
                }
            }
            trace.retain(|s| *s != set);
        }
        false
    }

    fn match_pair_rule(&mut self, fi: usize, ri: usize) -> Next {
        let prog = self.prog.clone();
        let rule = &prog.files[fi].rules[ri];
        let CKind::Pair { m, m2, .. } = &rule.kind else {
            return Next::Rule(ri + 1);
        };
        if let Some(vars) = self.single_rule_match(m) {
            self.count_match(fi, ri);
            self.process_rule(fi, ri, &vars);
            return m.next;
        }
        if self.pair_ops.get(&(fi, ri)).is_some_and(|v| !v.is_empty())
            && self.match_pair_operations(fi, ri)
        {
            return m2.next;
        }
        Next::Rule(ri + 1)
    }

    fn match_eventgroup_rule(&mut self, fi: usize, ri: usize) -> Next {
        let prog = self.prog.clone();
        let rule = &prog.files[fi].rules[ri];
        let CKind::EventGroup { events, .. } = &rule.kind else {
            return Next::Rule(ri + 1);
        };
        for (i, e) in events.iter().enumerate() {
            if let Some(vars) = self.single_rule_match(&e.m) {
                self.count_match(fi, ri);
                self.process_eventgroup(fi, ri, i, &vars);
                return e.m.next;
            }
        }
        Next::Rule(ri + 1)
    }
}

/// Byte-substring search.
pub fn memfind(hay: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(hay, needle).is_some()
}

#[cfg(test)]
mod tests;
