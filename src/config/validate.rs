//! The second phase of loading: a raw rule to a typed [`Rule`], with SEC 2.9.1's checks
//! (required, optional and illegal keywords per type; integer fields; pattern types and
//! line counts; varmaps; continue values; context expressions; action lists; Calendar
//! times). A rejected rule yields the messages SEC logs for it.

use std::sync::{Arc, LazyLock};

use regex::Regex;

use crate::config::action::{parse_list_cached, Action};
use crate::config::calendar::CalendarSpec;
use crate::config::context::{self, ContextExpr, ContextReport, SplitPerl};
use crate::config::model::{
    Continue, FileOptions, GroupEvent, Match, Pattern, PatternKind, Rule, RuleKind, Script,
    VarMapEntry,
};
use crate::config::perlcode::looks_like_code_ref;
use crate::config::reader::{perl_trim, RawRule};
use crate::config::{Dialect, LoadOptions};
use crate::pattern::regex::PerlRegex;

/// What validating one raw rule gave.
pub enum Checked {
    /// A valid rule (to be numbered).
    Rule(Box<Rule>),
    /// A valid Options rule.
    Options(FileOptions),
    /// A rejected rule; the messages have been logged.
    Rejected,
}

/// Messages about one rule, logged with SEC's `Rule in FILE at line N:` prefix.
pub struct Diag<'a> {
    file: &'a str,
    line: usize,
}

impl Diag<'_> {
    fn err(&self, msg: &str) {
        crate::err!("Rule in {} at line {}: {}", self.file, self.line, msg);
    }
    fn warn(&self, msg: &str) {
        crate::warn!("Rule in {} at line {}: {}", self.file, self.line, msg);
    }
}

static INT_RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^0*([0-9]+)$").expect("static"));
static VARMAP_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[ \t\n\x0B\x0C\r]*([A-Za-z][A-Za-z0-9_]*)(?:[ \t\n\x0B\x0C\r]*=[ \t\n\x0B\x0C\r]*0*([0-9]+))?[ \t\n\x0B\x0C\r]*$")
        .expect("static")
});
static VARMAP_SPLIT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[ \t\n\x0B\x0C\r]*;[ \t\n\x0B\x0C\r]*").expect("static"));
static PTYPE_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^(n?)(regexp|substr|perlfunc)(?:0*([1-9][0-9]*))?$").expect("static")
});
static MATCHVAR_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\$(?:\$|[0-9]+|\{[0-9]+\}|\+\{(?:[A-Za-z_][A-Za-z0-9_!]*|[0-9]+)\}|:\{[A-Za-z][A-Za-z0-9_]*:(?:[A-Za-z_][A-Za-z0-9_!]*|[0-9]+)\})")
        .expect("static")
});
static EVENTGROUP_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^EVENTGROUP([0-9]*)$").expect("static"));

/// True if the text holds a `$` match variable (or `$$`), as SEC tests it.
pub fn contains_matchvars(s: &str) -> bool {
    MATCHVAR_RE.is_match(s)
}

fn int_field(v: &str, allow_zero: bool) -> Option<u64> {
    let c = INT_RE.captures(v)?;
    // Perl turns huge integers into floats and accepts them; saturate instead.
    let n: u64 = c.get(1)?.as_str().parse().unwrap_or(u64::MAX / 4);
    if n == 0 && !allow_zero {
        None
    } else {
        Some(n)
    }
}

/// SEC's SubStr escapes: `\t \n \r \s \0 \\` (`\0` means nothing).
pub fn substr_escapes(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.peek() {
                Some('0') => {
                    chars.next();
                }
                Some('n') => {
                    chars.next();
                    out.push('\n');
                }
                Some('r') => {
                    chars.next();
                    out.push('\r');
                }
                Some('s') => {
                    chars.next();
                    out.push(' ');
                }
                Some('t') => {
                    chars.next();
                    out.push('\t');
                }
                Some('\\') => {
                    chars.next();
                    out.push('\\');
                }
                _ => out.push('\\'),
            }
        } else {
            out.push(c);
        }
    }
    out
}

struct Checker<'a> {
    raw: &'a RawRule,
    d: Diag<'a>,
    opts: &'a LoadOptions,
    number: usize,
    type_name: String,
}

/// The keywords of a rule type: (name, required).
type Keywords = Vec<(String, bool)>;

fn kw(list: &[(&str, bool)]) -> Keywords {
    list.iter().map(|(k, r)| (k.to_string(), *r)).collect()
}

impl Checker<'_> {
    fn get(&self, k: &str) -> Option<&str> {
        self.raw.get(k)
    }

    /// SEC's missing/illegal keyword check; every problem is logged.
    fn keywords(&self, keys: &Keywords) -> bool {
        let mut ok = true;
        for (k, required) in keys {
            if *required && !self.raw.has(k) {
                self.d.err(&format!(
                    "Keyword '{k}' missing (needed for {} rule)",
                    self.type_name
                ));
                ok = false;
            }
        }
        for (k, _) in &self.raw.fields {
            if !keys.iter().any(|(name, _)| name == k) {
                self.d.err(&format!(
                    "Keyword '{k}' illegal (not allowed for {} rule)",
                    self.type_name
                ));
                ok = false;
            }
        }
        ok
    }

    fn cont(&self, key: &str) -> Option<Continue> {
        let Some(v) = self.get(key) else {
            return Some(Continue::DontCont);
        };
        let upper = v.to_ascii_uppercase();
        match upper.as_str() {
            "TAKENEXT" => return Some(Continue::TakeNext),
            "DONTCONT" => return Some(Continue::DontCont),
            "ENDMATCH" => return Some(Continue::EndMatch),
            _ => {}
        }
        if upper.starts_with("GOTO") {
            let rest = &v[4..];
            if rest.starts_with(crate::config::reader::is_perl_space) {
                let label = perl_trim(rest);
                if !label.is_empty() {
                    return Some(Continue::GoTo {
                        label: label.to_string(),
                        target: None,
                    });
                }
            }
        }
        self.d.err(&format!("Invalid continue value '{v}'"));
        None
    }

    /// SEC's analyze_pattern. `first` is the first pattern's type, for pattern2.
    fn pattern(
        &self,
        ptype: &str,
        pat: &str,
        first: Option<PatternKind>,
    ) -> Option<(Pattern, bool)> {
        let mut deferred = false;
        if let Some(c) = PTYPE_RE.captures(ptype) {
            let neg = !c.get(1).map_or("", |m| m.as_str()).is_empty();
            let base = c.get(2).map_or("", |m| m.as_str()).to_ascii_lowercase();
            let lines: usize = c
                .get(3)
                .map_or(Some(1), |m| m.as_str().parse().ok())
                .unwrap_or(usize::MAX);
            if self.opts.bufsize > 0 && lines > self.opts.bufsize {
                self.d.err(&format!(
                    "Pattern type '{ptype}' is designed to match {lines} lines, please set --bufsize command line option to at least {lines}"
                ));
                return None;
            }
            let kind = match (base.as_str(), neg) {
                ("regexp", false) => PatternKind::RegExp,
                ("regexp", true) => PatternKind::NRegExp,
                ("substr", false) => PatternKind::SubStr,
                ("substr", true) => PatternKind::NSubStr,
                ("perlfunc", false) => PatternKind::PerlFunc,
                _ => PatternKind::NPerlFunc,
            };
            let mut p = Pattern {
                kind,
                lines,
                text: pat.to_string(),
                regex: None,
                truth: false,
            };
            match kind {
                PatternKind::RegExp | PatternKind::NRegExp => {
                    let compile_now = match first {
                        None => true,
                        Some(PatternKind::TValue | PatternKind::SubStr | PatternKind::NSubStr) => {
                            true
                        }
                        Some(_) => !contains_matchvars(pat),
                    };
                    if compile_now {
                        match PerlRegex::from_bytes(&crate::config::text::encode(pat)) {
                            Ok(re) => p.regex = Some(Arc::new(re)),
                            Err(e) => {
                                self.d
                                    .err(&format!("Invalid regular expression '{pat}': {e}"));
                                return None;
                            }
                        }
                    } else {
                        deferred = true;
                    }
                }
                PatternKind::SubStr | PatternKind::NSubStr => p.text = substr_escapes(pat),
                _ => {
                    if !looks_like_code_ref(pat) {
                        self.d.err(&format!(
                            "Invalid function '{pat}', eval didn't return a code reference: undef"
                        ));
                        return None;
                    }
                }
            }
            return Some((p, deferred));
        }
        let lower = ptype.to_ascii_lowercase();
        if lower == "cached" || lower == "ncached" {
            let valid = pat.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && pat.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                self.d.err(&format!(
                    "Invalid cached pattern name '{pat}': the name does not have the form <letter>[<letter>|<digit>|<underscore>]..."
                ));
                return None;
            }
            let kind = if lower == "cached" {
                PatternKind::Cached
            } else {
                PatternKind::NCached
            };
            return Some((
                Pattern {
                    kind,
                    lines: 1,
                    text: pat.to_string(),
                    regex: None,
                    truth: false,
                },
                false,
            ));
        }
        if lower == "tvalue" {
            let up = pat.to_ascii_uppercase();
            if up != "TRUE" && up != "FALSE" {
                self.d.err(&format!("Invalid truth value '{pat}'"));
                return None;
            }
            return Some((
                Pattern {
                    kind: PatternKind::TValue,
                    lines: 1,
                    text: pat.to_string(),
                    regex: None,
                    truth: up == "TRUE",
                },
                false,
            ));
        }
        self.d.err(&format!("Invalid pattern type '{ptype}'"));
        None
    }

    fn varmap(&self, kind: PatternKind, key: &str) -> Option<Vec<VarMapEntry>> {
        let Some(v) = self.get(key) else {
            return Some(Vec::new());
        };
        if !matches!(kind, PatternKind::RegExp | PatternKind::PerlFunc) {
            self.d.warn(&format!(
                "Variable maps are supported for RegExp and PerlFunc patterns only, ignoring variable map '{v}'"
            ));
            return Some(Vec::new());
        }
        let mut parts: Vec<&str> = VARMAP_SPLIT.split(v).collect();
        while parts.last().is_some_and(|p| p.is_empty()) {
            parts.pop();
        }
        let mut out: Vec<VarMapEntry> = Vec::new();
        for m in parts {
            let Some(c) = VARMAP_RE.captures(m) else {
                self.d.err(&format!(
                    "Invalid variable map '{v}': the variable mapping '{m}' does not have the form <letter>[<letter>|<digit>|<underscore>]... [= <number>]"
                ));
                return None;
            };
            let name = c.get(1).map_or("", |x| x.as_str()).to_string();
            let group = c.get(2).and_then(|x| x.as_str().parse().ok());
            out.retain(|e| e.name != name);
            out.push(VarMapEntry { name, group });
        }
        Some(out)
    }

    fn context(&self, key: &str) -> Option<Option<ContextExpr>> {
        let Some(v) = self.get(key) else {
            return Some(None);
        };
        let mut report = ContextReport::default();
        let parsed = context::parse(v, &mut report);
        for e in &report.errors {
            crate::err!("{e}");
        }
        match parsed {
            Some(c) => {
                if let Some(meant) = report.ambiguous {
                    // Not SEC's "Rule in" prefix: that one marks SEC's own diagnostics.
                    crate::warn!(
                        "Context expression in {} at line {}: '{}' mixes || and && without parentheses; SEC 2.9.1 evaluates it with its own (surprising) grouping, and so does rsec; if you mean Perl's precedence, write '{}'",
                        self.d.file,
                        self.d.line,
                        perl_trim(&c.source),
                        meant
                    );
                }
                Some(Some(c))
            }
            None => {
                if self.opts.dialect == Dialect::Sec && v.contains("$ENV{") {
                    self.d.err(&format!(
                        "Invalid context expression '{v}' (this looks like the LogZilla rule dialect; --dialect=logzilla accepts Perl in context operands)"
                    ));
                } else {
                    self.d.err(&format!("Invalid context expression '{v}'"));
                }
                None
            }
        }
    }

    fn actions(&self, key: &str) -> Option<Option<Vec<Action>>> {
        let Some(v) = self.get(key) else {
            return Some(None);
        };
        match parse_list_cached(v, self.number) {
            Ok(a) => Some(Some(a)),
            Err(msgs) => {
                for m in msgs {
                    self.d.err(&m);
                }
                self.d.err(&format!("Invalid action list '{v}'"));
                None
            }
        }
    }

    fn required_actions(&self, key: &str) -> Option<Vec<Action>> {
        self.actions(key).map(Option::unwrap_or_default)
    }

    fn window(&self, key: &str, what: &str) -> Option<u64> {
        let v = self.get(key).unwrap_or("");
        let w = int_field(v, false);
        if w.is_none() {
            self.d.err(&format!("Invalid {what} '{v}'"));
        }
        w
    }

    fn thresh(&self, key: &str, what: &str, allow_zero: bool) -> Option<usize> {
        let v = self.get(key).unwrap_or("");
        let t = int_field(v, allow_zero).and_then(|n| usize::try_from(n).ok());
        if t.is_none() {
            self.d.err(&format!("Invalid {what} '{v}'"));
        }
        t
    }

    fn match_part(&self, suffix: &str, first: Option<PatternKind>) -> Option<(Match, bool)> {
        let cont = self.cont(&format!("continue{suffix}"))?;
        let (pattern, deferred) = self.pattern(
            self.get(&format!("ptype{suffix}")).unwrap_or(""),
            self.get(&format!("pattern{suffix}")).unwrap_or(""),
            first,
        )?;
        let varmap = self.varmap(pattern.kind, &format!("varmap{suffix}"))?;
        let context = self.context(&format!("context{suffix}"))?;
        Some((
            Match {
                pattern,
                varmap,
                context,
                cont,
            },
            deferred,
        ))
    }

    fn yes_no(&self, key: &str, default: bool, what: &str) -> Option<bool> {
        match self.get(key) {
            None => Some(default),
            Some(v) if v.eq_ignore_ascii_case("yes") => Some(true),
            Some(v) if v.eq_ignore_ascii_case("no") => Some(false),
            Some(v) => {
                self.d.err(&format!("Invalid {what} value '{v}'"));
                None
            }
        }
    }

    fn desc(&self) -> String {
        self.get("desc").unwrap_or("").to_string()
    }

    fn check(&self) -> Option<Checked> {
        let t = self.type_name.as_str();
        let single = [
            ("type", true),
            ("continue", false),
            ("ptype", true),
            ("pattern", true),
            ("varmap", false),
            ("context", false),
            ("desc", true),
            ("action", true),
        ];
        let with = |extra: &[(&str, bool)]| {
            let mut k = kw(&single);
            k.extend(kw(extra));
            k
        };
        let kind = match t {
            "SINGLE" => {
                if !self.keywords(&kw(&single)) {
                    return None;
                }
                let (m, _) = self.match_part("", None)?;
                RuleKind::Single {
                    m,
                    action: self.required_actions("action")?,
                }
            }
            "SINGLEWITHSCRIPT" => {
                if !self.keywords(&with(&[
                    ("script", true),
                    ("shell", false),
                    ("action2", false),
                ])) {
                    return None;
                }
                let (m, _) = self.match_part("", None)?;
                let shell = self.yes_no("shell", true, "shell")?;
                let script_text = self.get("script").unwrap_or("").to_string();
                let script = if shell {
                    Script::Shell(script_text)
                } else {
                    Script::Exec(script_text.split_whitespace_perl())
                };
                let action = self.required_actions("action")?;
                let action2 = self.actions("action2")?;
                RuleKind::SingleWithScript {
                    m,
                    script,
                    action,
                    action2,
                }
            }
            "SINGLEWITHSUPPRESS" => {
                if !self.keywords(&with(&[("window", true)])) {
                    return None;
                }
                let (m, _) = self.match_part("", None)?;
                let action = self.required_actions("action")?;
                let window = self.window("window", "time window")?;
                RuleKind::SingleWithSuppress { m, action, window }
            }
            "PAIR" | "PAIRWITHWINDOW" => {
                let with_window = t == "PAIRWITHWINDOW";
                let keys = with(&[
                    ("continue2", false),
                    ("ptype2", true),
                    ("pattern2", true),
                    ("varmap2", false),
                    ("context2", false),
                    ("desc2", true),
                    ("action2", true),
                    ("window", with_window),
                ]);
                if !self.keywords(&keys) {
                    return None;
                }
                let cont = self.cont("continue")?;
                let cont2 = self.cont("continue2")?;
                let (pattern, _) = self.pattern(
                    self.get("ptype").unwrap_or(""),
                    self.get("pattern").unwrap_or(""),
                    None,
                )?;
                let (pattern2, deferred) = self.pattern(
                    self.get("ptype2").unwrap_or(""),
                    self.get("pattern2").unwrap_or(""),
                    Some(pattern.kind),
                )?;
                let varmap = self.varmap(pattern.kind, "varmap")?;
                let varmap2 = self.varmap(pattern2.kind, "varmap2")?;
                let context = self.context("context")?;
                let context2 = self.context("context2")?;
                let action = self.required_actions("action")?;
                let action2 = self.required_actions("action2")?;
                let window = if with_window {
                    self.window("window", "time window")?
                } else {
                    match self.get("window") {
                        None => 0,
                        Some(v) => match int_field(v, true) {
                            Some(w) => w,
                            None => {
                                self.d.err(&format!("Invalid time window '{v}'"));
                                return None;
                            }
                        },
                    }
                };
                RuleKind::Pair {
                    with_window,
                    m: Match {
                        pattern,
                        varmap,
                        context,
                        cont,
                    },
                    action,
                    m2: Match {
                        pattern: pattern2,
                        varmap: varmap2,
                        context: context2,
                        cont: cont2,
                    },
                    pattern2_deferred: deferred,
                    desc2: self.get("desc2").unwrap_or("").to_string(),
                    action2,
                    window,
                }
            }
            "SINGLEWITHTHRESHOLD" => {
                if !self.keywords(&with(&[
                    ("action2", false),
                    ("window", true),
                    ("thresh", true),
                ])) {
                    return None;
                }
                let (m, _) = self.match_part("", None)?;
                let action = self.required_actions("action")?;
                let action2 = self.actions("action2")?;
                let window = self.window("window", "time window")?;
                let thresh = self.thresh("thresh", "threshold", false)?;
                RuleKind::SingleWithThreshold {
                    m,
                    action,
                    action2,
                    window,
                    thresh,
                }
            }
            "SINGLEWITH2THRESHOLDS" => {
                let keys = with(&[
                    ("window", true),
                    ("thresh", true),
                    ("desc2", true),
                    ("action2", true),
                    ("window2", true),
                    ("thresh2", true),
                ]);
                if !self.keywords(&keys) {
                    return None;
                }
                let (m, _) = self.match_part("", None)?;
                let action = self.required_actions("action")?;
                let action2 = self.required_actions("action2")?;
                let window = self.window("window", "1st time window")?;
                let window2 = self.window("window2", "2nd time window")?;
                let thresh = self.thresh("thresh", "1st threshold", false)?;
                let thresh2 = self.thresh("thresh2", "2nd threshold", true)?;
                RuleKind::SingleWith2Thresholds {
                    m,
                    action,
                    window,
                    thresh,
                    desc2: self.get("desc2").unwrap_or("").to_string(),
                    action2,
                    window2,
                    thresh2,
                }
            }
            "SUPPRESS" => {
                let keys = kw(&[
                    ("type", true),
                    ("ptype", true),
                    ("pattern", true),
                    ("varmap", false),
                    ("context", false),
                    ("desc", false),
                ]);
                if !self.keywords(&keys) {
                    return None;
                }
                let (m, _) = self.match_part("", None)?;
                RuleKind::Suppress { m }
            }
            "JUMP" => {
                let keys = kw(&[
                    ("type", true),
                    ("continue", false),
                    ("ptype", true),
                    ("pattern", true),
                    ("varmap", false),
                    ("context", false),
                    ("cfset", false),
                    ("constset", false),
                    ("desc", false),
                ]);
                if !self.keywords(&keys) {
                    return None;
                }
                let (m, _) = self.match_part("", None)?;
                let cfset = self
                    .get("cfset")
                    .map(|s| s.split_whitespace_perl())
                    .unwrap_or_default();
                let constset = self.yes_no("constset", true, "constset")?;
                RuleKind::Jump { m, cfset, constset }
            }
            "CALENDAR" => {
                let keys = kw(&[
                    ("type", true),
                    ("time", true),
                    ("context", false),
                    ("desc", true),
                    ("action", true),
                ]);
                if !self.keywords(&keys) {
                    return None;
                }
                let time = match CalendarSpec::parse(self.get("time").unwrap_or("")) {
                    Ok(t) => t,
                    Err(e) => {
                        self.d.err(&e);
                        return None;
                    }
                };
                let mut context = self.context("context")?;
                if let Some(c) = context.as_mut() {
                    c.preeval = false;
                }
                let action = self.required_actions("action")?;
                RuleKind::Calendar {
                    time,
                    context,
                    action,
                }
            }
            "OPTIONS" => {
                let keys = kw(&[("type", true), ("joincfset", false), ("procallin", false)]);
                if !self.keywords(&keys) {
                    return None;
                }
                let mut o = FileOptions::default();
                if let Some(v) = self.get("procallin") {
                    if v.eq_ignore_ascii_case("no") {
                        o.procallin = false;
                    } else if !v.eq_ignore_ascii_case("yes") {
                        self.d.warn(&format!(
                            "Invalid procallin value '{v}', assuming procallin=Yes"
                        ));
                    }
                }
                if let Some(v) = self.get("joincfset") {
                    o.joincfset = v.split_whitespace_perl();
                }
                return Some(Checked::Options(o));
            }
            _ => return self.eventgroup(),
        };
        Some(Checked::Rule(Box::new(Rule {
            number: self.number,
            line: self.raw.start_line,
            desc: self.default_desc(&kind),
            kind,
        })))
    }

    fn default_desc(&self, kind: &RuleKind) -> String {
        if let Some(d) = self.get("desc") {
            return d.to_string();
        }
        let what = match kind {
            RuleKind::Suppress { .. } => "Suppress",
            RuleKind::Jump { .. } => "Jump",
            _ => return self.desc(),
        };
        let Some(m) = kind.first_match() else {
            return String::new();
        };
        let p = &m.pattern;
        match p.kind {
            PatternKind::TValue => format!(
                "{what} rule with pattern: {}",
                if p.truth { "TRUE" } else { "FALSE" }
            ),
            k if k.negated() => format!("{what} rule with negative pattern: {}", p.text),
            _ => format!("{what} rule with pattern: {}", p.text),
        }
    }

    fn eventgroup(&self) -> Option<Checked> {
        let t = self.type_name.as_str();
        let Some(c) = EVENTGROUP_RE.captures(t) else {
            self.d.err(&format!("Invalid rule type {t}"));
            return None;
        };
        let digits = c.get(1).map_or("", |m| m.as_str());
        let n: usize = if digits.is_empty() {
            1
        } else {
            digits.parse().unwrap_or(usize::MAX)
        };
        if n < 1 {
            self.d.err(&format!(
                "Invalid rule type {t} (N must be at least 1 for EventGroupN rule)"
            ));
            return None;
        }
        let mut keys = kw(&[
            ("type", true),
            ("desc", true),
            ("action", true),
            ("multact", false),
            ("init", false),
            ("slide", false),
            ("end", false),
            ("window", true),
            ("egptype", false),
            ("egpattern", false),
        ]);
        // A huge N cannot be satisfied by any real file; avoid building millions of keys.
        let n_keys = n.min(self.raw.fields.len() + 1);
        for i in 0..n_keys {
            let s = suffix(i);
            for (k, r) in [
                ("continue", false),
                ("ptype", true),
                ("pattern", true),
                ("varmap", false),
                ("context", false),
                ("count", false),
                ("thresh", false),
                ("egtoken", false),
            ] {
                keys.push((format!("{k}{s}"), r));
            }
        }
        if n_keys < n {
            self.d.err(&format!(
                "Keyword 'ptype{}' missing (needed for {t} rule)",
                suffix(n - 1)
            ));
            return None;
        }
        if !self.keywords(&keys) {
            return None;
        }
        let mut events = Vec::with_capacity(n);
        let has_egpattern = self.raw.has("egpattern");
        for i in 0..n {
            let s = suffix(i);
            let (m, _) = self.match_part(&s, None)?;
            let count = self.actions(&format!("count{s}"))?;
            let thresh = if self.raw.has(&format!("thresh{s}")) {
                self.thresh(&format!("thresh{s}"), "threshold", false)?
            } else {
                1
            };
            let token_key = format!("egtoken{s}");
            if self.raw.has(&token_key) && !has_egpattern {
                self.d.err(&format!(
                    "'egtoken{s}' keyword requires the 'egpattern' keyword"
                ));
                return None;
            }
            let token = has_egpattern.then(|| {
                self.get(&token_key)
                    .map_or_else(|| (i + 1).to_string(), str::to_string)
            });
            events.push(GroupEvent {
                m,
                count,
                thresh,
                token,
            });
        }
        let action = self.required_actions("action")?;
        let init = self.actions("init")?;
        let slide = self.actions("slide")?;
        let end = self.actions("end")?;
        let window = self.window("window", "time window")?;
        let multact = self.yes_no("multact", false, "multact")?;
        let egpattern = match (self.get("egptype"), self.get("egpattern")) {
            (Some(_), None) => {
                self.d
                    .err("'egptype' keyword requires the 'egpattern' keyword");
                return None;
            }
            (None, Some(_)) => {
                self.d
                    .err("'egpattern' keyword requires the 'egptype' keyword");
                return None;
            }
            (Some(pt), Some(pat)) => Some(self.eg_pattern(pt, pat)?),
            (None, None) => None,
        };
        let kind = RuleKind::EventGroup {
            events,
            action,
            init,
            slide,
            end,
            window,
            multact,
            egpattern,
        };
        Some(Checked::Rule(Box::new(Rule {
            number: self.number,
            line: self.raw.start_line,
            desc: self.desc(),
            kind,
        })))
    }

    fn eg_pattern(&self, ptype: &str, pat: &str) -> Option<Pattern> {
        let kind = match ptype.to_ascii_lowercase().as_str() {
            "substr" => PatternKind::SubStr,
            "nsubstr" => PatternKind::NSubStr,
            "regexp" => PatternKind::RegExp,
            "nregexp" => PatternKind::NRegExp,
            "perlfunc" => PatternKind::PerlFunc,
            "nperlfunc" => PatternKind::NPerlFunc,
            _ => {
                self.d
                    .err(&format!("Invalid event group pattern type '{ptype}'"));
                return None;
            }
        };
        let mut p = Pattern {
            kind,
            lines: 1,
            text: pat.to_string(),
            regex: None,
            truth: false,
        };
        match kind {
            PatternKind::SubStr | PatternKind::NSubStr => p.text = substr_escapes(pat),
            PatternKind::RegExp | PatternKind::NRegExp => {
                match PerlRegex::from_bytes(&crate::config::text::encode(pat)) {
                    Ok(re) => p.regex = Some(Arc::new(re)),
                    Err(e) => {
                        self.d
                            .err(&format!("Invalid regular expression '{pat}': {e}"));
                        return None;
                    }
                }
            }
            _ => {
                if !looks_like_code_ref(pat) {
                    self.d.err(&format!(
                        "Invalid function '{pat}', eval didn't return a code reference: undef"
                    ));
                    return None;
                }
            }
        }
        Some(p)
    }
}

/// The keyword suffix of EventGroup event type `i` (0-based): "" for the first.
pub fn suffix(i: usize) -> String {
    if i == 0 {
        String::new()
    } else {
        (i + 1).to_string()
    }
}

/// Validates one raw rule. `number` is the number it gets if valid.
pub fn check_rule(file: &str, raw: &RawRule, number: usize, opts: &LoadOptions) -> Checked {
    let d = Diag {
        file,
        line: raw.start_line,
    };
    let Some(t) = raw.get("type") else {
        d.err("Keyword 'type' missing");
        return Checked::Rejected;
    };
    let checker = Checker {
        raw,
        d,
        opts,
        number,
        type_name: t.to_ascii_uppercase(),
    };
    match checker.check() {
        Some(Checked::Rule(rule)) => {
            match crate::config::perlcode::check_rule_perl(&rule, opts.perl) {
                Ok(()) => Checked::Rule(rule),
                Err(msg) => {
                    let d = Diag {
                        file,
                        line: raw.start_line,
                    };
                    d.err(&msg);
                    Checked::Rejected
                }
            }
        }
        other => other.unwrap_or(Checked::Rejected),
    }
}
