//! The typed rule model: what a rule file means once it has been validated. Nothing here
//! runs; the engine compiles these into its own runtime structures.

use std::sync::Arc;

use crate::config::action::Action;
use crate::config::calendar::CalendarSpec;
use crate::config::context::ContextExpr;
use crate::pattern::regex::PerlRegex;

/// The pattern types of `ptype=` (man sec, "PATTERN TYPES").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PatternKind {
    /// A literal substring.
    SubStr,
    /// A negated substring.
    NSubStr,
    /// A Perl regular expression.
    RegExp,
    /// A negated regular expression.
    NRegExp,
    /// A Perl function.
    PerlFunc,
    /// A negated Perl function.
    NPerlFunc,
    /// A pattern-match-cache entry.
    Cached,
    /// A negated cache entry.
    NCached,
    /// A constant truth value.
    TValue,
}

impl PatternKind {
    /// True for the types that set match variables (and so get `$` substitution).
    pub fn sets_vars(self) -> bool {
        matches!(self, Self::RegExp | Self::PerlFunc | Self::Cached)
    }

    /// True for the negated types.
    pub fn negated(self) -> bool {
        matches!(
            self,
            Self::NSubStr | Self::NRegExp | Self::NPerlFunc | Self::NCached
        )
    }
}

/// A validated pattern.
#[derive(Clone, Debug)]
pub struct Pattern {
    /// The pattern type.
    pub kind: PatternKind,
    /// How many lines it matches (the `3` of `RegExp3`).
    pub lines: usize,
    /// The pattern text: SubStr text with its escapes resolved, the regex or Perl source,
    /// the cache entry name, or `TRUE`/`FALSE`.
    pub text: String,
    /// The compiled regex, for RegExp and NRegExp patterns that could be compiled at load.
    /// A Pair's RegExp `pattern2` with match variables is compiled per operation instead.
    pub regex: Option<Arc<PerlRegex>>,
    /// The constant of a TValue pattern.
    pub truth: bool,
}

/// One entry of a `varmap`: a named variable taken from a numbered one, or, with no
/// number, the name of a pattern-match-cache entry for all of the match's variables.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VarMapEntry {
    /// The variable or cache entry name.
    pub name: String,
    /// The numbered match variable it copies, or `None` for a cache entry.
    pub group: Option<usize>,
}

/// What happens after a rule (or one of its patterns) matched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Continue {
    /// Go on with the next rule of the file.
    TakeNext,
    /// Stop scanning this file (the default).
    DontCont,
    /// Stop scanning every file.
    EndMatch,
    /// Go on at the rule this label names, if it lies after this rule; otherwise as
    /// DontCont (resolved after the whole file is read).
    GoTo {
        /// The label as written.
        label: String,
        /// The rule number it resolved to, or `None` (then DontCont).
        target: Option<usize>,
    },
}

/// A pattern with the fields that go with it: varmap, context and continue.
#[derive(Clone, Debug)]
pub struct Match {
    /// The pattern.
    pub pattern: Pattern,
    /// The variable map (empty if none, or ignored for a pattern type without one).
    pub varmap: Vec<VarMapEntry>,
    /// The context expression, if any.
    pub context: Option<ContextExpr>,
    /// The continue value.
    pub cont: Continue,
}

/// How SingleWithScript runs its script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Script {
    /// Through Perl's `exec(STRING)` (a shell only with metacharacters).
    Shell(String),
    /// Split on whitespace at load time, run without a shell (`shell=No`).
    Exec(Vec<String>),
}

/// One event type of an EventGroup rule.
#[derive(Clone, Debug)]
pub struct GroupEvent {
    /// Its pattern, varmap, context and continue.
    pub m: Match,
    /// The action list run for each of its events (`countN`).
    pub count: Option<Vec<Action>>,
    /// How many of its events the window needs (`threshN`, default 1).
    pub thresh: usize,
    /// Its token for `egpattern` (`egtokenN`, default N), when egpattern is set.
    pub token: Option<String>,
}

/// The rule types and their type-specific fields.
#[derive(Clone, Debug)]
pub enum RuleKind {
    /// Run the action on a match.
    Single {
        /// The pattern.
        m: Match,
        /// The action list.
        action: Vec<Action>,
    },
    /// Run a script; its exit status picks action or action2.
    SingleWithScript {
        /// The pattern.
        m: Match,
        /// The script.
        script: Script,
        /// Run on exit status 0.
        action: Vec<Action>,
        /// Run on any other exit status.
        action2: Option<Vec<Action>>,
    },
    /// Run the action, then suppress the same desc for `window` seconds.
    SingleWithSuppress {
        /// The pattern.
        m: Match,
        /// The action list.
        action: Vec<Action>,
        /// The suppression window.
        window: u64,
    },
    /// Pair and PairWithWindow.
    Pair {
        /// True for PairWithWindow.
        with_window: bool,
        /// The first pattern.
        m: Match,
        /// The first action list.
        action: Vec<Action>,
        /// The second pattern.
        m2: Match,
        /// True if pattern2 holds match variables and is compiled per operation.
        pattern2_deferred: bool,
        /// desc2.
        desc2: String,
        /// The second action list.
        action2: Vec<Action>,
        /// The window (0 = infinite, Pair only).
        window: u64,
    },
    /// Count events in a sliding window.
    SingleWithThreshold {
        /// The pattern.
        m: Match,
        /// Run at the threshold.
        action: Vec<Action>,
        /// Run when the window of a fired operation ends.
        action2: Option<Vec<Action>>,
        /// The window.
        window: u64,
        /// The threshold.
        thresh: usize,
    },
    /// A rising and a falling threshold.
    SingleWith2Thresholds {
        /// The pattern.
        m: Match,
        /// Run when the first threshold is crossed.
        action: Vec<Action>,
        /// The first window.
        window: u64,
        /// The first threshold.
        thresh: usize,
        /// desc2.
        desc2: String,
        /// Run when the second threshold holds.
        action2: Vec<Action>,
        /// The second window.
        window2: u64,
        /// The second threshold (may be 0).
        thresh2: usize,
    },
    /// EventGroup and EventGroupN.
    EventGroup {
        /// The event types, in order.
        events: Vec<GroupEvent>,
        /// Run when every threshold is met.
        action: Vec<Action>,
        /// Run when an operation starts.
        init: Option<Vec<Action>>,
        /// Run when the window slides.
        slide: Option<Vec<Action>>,
        /// Run when an operation ends.
        end: Option<Vec<Action>>,
        /// The window.
        window: u64,
        /// `multact=yes`.
        multact: bool,
        /// `egptype`/`egpattern`.
        egpattern: Option<Pattern>,
    },
    /// Stop processing this file for matching events.
    Suppress {
        /// The pattern.
        m: Match,
    },
    /// Cron-like scheduling.
    Calendar {
        /// The `time=` specification.
        time: CalendarSpec,
        /// The context expression (`[ ]` is stripped and means nothing here).
        context: Option<ContextExpr>,
        /// The action list.
        action: Vec<Action>,
    },
    /// Pass matching events to other rule-file sets.
    Jump {
        /// The pattern.
        m: Match,
        /// The sets, in order.
        cfset: Vec<String>,
        /// `constset` (default yes).
        constset: bool,
    },
}

impl RuleKind {
    /// SEC's upper-case type name, as in its messages and dumps.
    pub fn type_name(&self) -> String {
        match self {
            Self::Single { .. } => "SINGLE".into(),
            Self::SingleWithScript { .. } => "SINGLEWITHSCRIPT".into(),
            Self::SingleWithSuppress { .. } => "SINGLEWITHSUPPRESS".into(),
            Self::Pair {
                with_window: false, ..
            } => "PAIR".into(),
            Self::Pair { .. } => "PAIRWITHWINDOW".into(),
            Self::SingleWithThreshold { .. } => "SINGLEWITHTHRESHOLD".into(),
            Self::SingleWith2Thresholds { .. } => "SINGLEWITH2THRESHOLDS".into(),
            Self::EventGroup { events, .. } if events.len() == 1 => "EVENTGROUP".into(),
            Self::EventGroup { events, .. } => format!("EVENTGROUP{}", events.len()),
            Self::Suppress { .. } => "SUPPRESS".into(),
            Self::Calendar { .. } => "CALENDAR".into(),
            Self::Jump { .. } => "JUMP".into(),
        }
    }

    /// The main match (pattern 1) of the rule; None for Calendar.
    pub fn first_match(&self) -> Option<&Match> {
        match self {
            Self::Single { m, .. }
            | Self::SingleWithScript { m, .. }
            | Self::SingleWithSuppress { m, .. }
            | Self::Pair { m, .. }
            | Self::SingleWithThreshold { m, .. }
            | Self::SingleWith2Thresholds { m, .. }
            | Self::Suppress { m }
            | Self::Jump { m, .. } => Some(m),
            Self::EventGroup { events, .. } => events.first().map(|e| &e.m),
            Self::Calendar { .. } => None,
        }
    }
}

/// A validated rule.
#[derive(Clone, Debug)]
pub struct Rule {
    /// The 0-based number among the file's valid non-Options rules.
    pub number: usize,
    /// The line where the rule starts (as SEC counts it).
    pub line: usize,
    /// `desc=` (or the default SEC gives Suppress and Jump rules).
    pub desc: String,
    /// The type and its fields.
    pub kind: RuleKind,
}

/// What an Options rule sets for its file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileOptions {
    /// `joincfset`: the rule-file sets this file belongs to.
    pub joincfset: Vec<String>,
    /// `procallin` (default yes): whether the file sees input other than through Jump.
    pub procallin: bool,
}

impl Default for FileOptions {
    fn default() -> Self {
        Self {
            joincfset: Vec::new(),
            procallin: true,
        }
    }
}

/// A loaded rule file.
#[derive(Clone, Debug, Default)]
pub struct RuleFile {
    /// The file name as given (the key of its operations).
    pub name: String,
    /// The valid rules, numbered from 0.
    pub rules: Vec<Rule>,
    /// The last Options rule's settings.
    pub options: FileOptions,
    /// False when anything in the file was rejected (`--testonly` then exits 1).
    pub ok: bool,
    /// The largest line count of any pattern (for `--bufsize` 0).
    pub max_lines: usize,
}
