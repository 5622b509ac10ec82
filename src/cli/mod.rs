//! SEC's command line and the SECRC resource file.
//!
//! This module owns turning the words of the command line into typed [`Options`], with
//! SEC 2.9.1's defaults, its abbreviations and its forgiving handling of mistakes: a word
//! SEC does not understand, or a value out of range, gives a message and leaves the option
//! at its default, and the program goes on (see [`Options::warnings`]). It also owns the
//! usage and version texts, and rsec's own options, which SEC does not have.
//!
//! It must not touch the engine: it does not open files, expand globs, look up users,
//! change the umask or start logging. It only describes what the user asked for; the
//! caller acts on it.

mod getopt;
mod number;
mod secrc;
#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::ffi::OsString;

use getopt::{Item, Value};
pub use secrc::{load_secrc, parse_secrc, read_secrc_file, SecrcError};

/// The version of SEC whose behaviour rsec reproduces.
pub const SEC_VERSION: &str = "2.9.1";

/// Which rule-file language the configuration is written in (`--dialect`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Dialect {
    /// SEC's own rule files (the default).
    #[default]
    Sec,
    /// LogZilla's variant of SEC rules.
    Logzilla,
}

/// How Perl code in rules is run (`--perl`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PerlMode {
    /// Use the built-in subset where it suffices, a Perl interpreter otherwise (default).
    #[default]
    Auto,
    /// Only the built-in subset; code outside it is an error.
    Native,
    /// No Perl at all; rules that need it are rejected.
    Off,
}

/// Which clock drives windows and timers (`--time-source`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TimeSource {
    /// The system clock, as SEC does (the default).
    #[default]
    Wall,
    /// The time stamps found in the events.
    Event,
}

/// What to do with an event older than the reorder window (`--late`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LateMode {
    /// Process it anyway (the default).
    #[default]
    Process,
    /// Drop it.
    Drop,
}

/// How input lines are read (`--input-format`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum InputFormat {
    /// Plain text lines, as SEC reads them (the default).
    #[default]
    Line,
    /// One JSON object per line.
    Json,
    /// One logfmt record (`key=value ...`) per line.
    Logfmt,
}

/// Everything the command line asked for, typed, with SEC's defaults for what it did not
/// mention. Numbers are already checked: a value SEC refuses is replaced by the default,
/// with a message in [`Options::warnings`].
#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    /// `--conf`: rule-file glob patterns, in the order given (repeatable).
    pub conf: Vec<String>,
    /// `--input`: input glob patterns, each optionally followed by `=CONTEXT`, in the order
    /// given (repeatable). See [`split_input_spec`].
    pub input: Vec<String>,
    /// `--input-timeout`: seconds without new data before the timeout script runs; 0 is off.
    pub input_timeout: u64,
    /// `--timeout-script`: the script run by the input timeout.
    pub timeout_script: Option<String>,
    /// `--reopen-timeout`: seconds between attempts to reopen a closed input; 0 is off.
    pub reopen_timeout: u64,
    /// `--check-timeout`: seconds to leave an input unpolled after it gave no data; 0 is off.
    pub check_timeout: u64,
    /// `--poll-timeout`: seconds to sleep when no input had data (default 0.1).
    pub poll_timeout: f64,
    /// `--socket-timeout`: seconds allowed for connecting a socket (default 60).
    pub socket_timeout: u64,
    /// `--blocksize`: bytes read at once from an input (default 8192).
    pub blocksize: u64,
    /// `--bufsize`: lines in each input buffer; 0 means decided from the rules (default).
    pub bufsize: u64,
    /// `--evstoresize`: the most events a context may store; 0 is no limit (default).
    pub evstoresize: u64,
    /// `--cleantime`: seconds between the timer passes (default 1).
    pub cleantime: u64,
    /// `--log`: the log file.
    pub log: Option<String>,
    /// `--syslog`: the syslog facility to log to.
    pub syslog: Option<String>,
    /// `--debug`: the log level, 1 to 6 (default 6).
    pub debug: u8,
    /// `--pid`: the file to write the process id to.
    pub pid: Option<String>,
    /// `--dump`: the dump file (default `/tmp/sec.dump`).
    pub dump: String,
    /// `--user`: the user to switch to when started as root.
    pub user: Option<String>,
    /// `--group`: the groups to switch to, the first one primary (repeatable). Always empty
    /// when `--user` is not given: SEC drops the groups then, with a message.
    pub group: Vec<String>,
    /// `--umask`: the file mode creation mask, 0 to 0o777.
    pub umask: Option<u32>,
    /// `--ruleperf`: collect CPU time per rule for the dump (default off).
    pub ruleperf: bool,
    /// `--dumpfts`: append `.<epoch>` to the dump file name (default off).
    pub dumpfts: bool,
    /// `--dumpfjson`: write the dump as JSON (default off).
    pub dumpfjson: bool,
    /// `--quoting`: single-quote `%s` in shellcmd, spawn and cspawn commands (default off).
    pub quoting: bool,
    /// `--tail`: follow the inputs from their end (default on); `--notail` reads to EOF
    /// and exits.
    pub tail: bool,
    /// `--fromstart`: with tail, read the existing content first (default off).
    pub fromstart: bool,
    /// `--detach`: become a daemon (default off).
    pub detach: bool,
    /// `--jointbuf` / `--nojointbuf`: `None` when not given, meaning SEC's automatic choice
    /// (joint buffer when the buffer size is 1, separate buffers otherwise).
    pub jointbuf: Option<bool>,
    /// `--keepopen`: keep inputs open across a soft restart (default on).
    pub keepopen: bool,
    /// `--rwfifo`: open named pipes read-write (default on).
    pub rwfifo: bool,
    /// `--childterm`: send SIGTERM to the children on exit or full restart (default on).
    pub childterm: bool,
    /// `--intevents`: generate SEC's internal events (default off).
    pub intevents: bool,
    /// `--intcontexts`: set an internal context for each input line (default off). Turned
    /// on, even over `--nointcontexts`, when an `--input` names a context, as SEC does.
    pub intcontexts: bool,
    /// `--testonly`: check the rules and exit (default off).
    pub testonly: bool,

    /// `--dialect` (rsec only): the rule-file language.
    pub dialect: Dialect,
    /// `--perl` (rsec only): how Perl code in rules is run.
    pub perl: PerlMode,
    /// `--time-source` (rsec only): which clock drives the timers.
    pub time_source: TimeSource,
    /// `--tz` (rsec only): the time zone for event time stamps without one.
    pub tz: Option<String>,
    /// `--reorder-window` (rsec only): seconds to hold events back to put them in order.
    pub reorder_window: Option<f64>,
    /// `--late` (rsec only): what to do with events older than the reorder window.
    pub late: LateMode,
    /// `--state` (rsec only): the file to save and restore the correlation state in.
    pub state: Option<String>,
    /// `--state-interval` (rsec only): seconds between saves of the state file.
    pub state_interval: Option<f64>,
    /// `--input-format` (rsec only): how input lines are read.
    pub input_format: InputFormat,
    /// `--match-field` (rsec only): with structured input, the field patterns match.
    pub match_field: Option<String>,
    /// `--timestamp-regex` (rsec only): a regular expression that finds the time stamp.
    pub timestamp_regex: Option<String>,
    /// `--timestamp-format` (rsec only): the strftime-like format of the time stamp.
    pub timestamp_format: Option<String>,

    /// The canonical names (`conf`, `input-timeout`, `tail`, `dialect`, ...) of the options
    /// the user set with an accepted value, whether or not a later range check replaced
    /// the value by the default. `--noX` counts as setting `X`.
    pub given: BTreeSet<String>,
    /// The messages SEC would print to stderr about the command line, in its order: first
    /// the words that were not understood (unknown options and stray arguments), in
    /// command-line order, then the values out of range. None of them is fatal.
    pub warnings: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            conf: Vec::new(),
            input: Vec::new(),
            input_timeout: 0,
            timeout_script: None,
            reopen_timeout: 0,
            check_timeout: 0,
            poll_timeout: 0.1,
            socket_timeout: 60,
            blocksize: 8192,
            bufsize: 0,
            evstoresize: 0,
            cleantime: 1,
            log: None,
            syslog: None,
            debug: 6,
            pid: None,
            dump: "/tmp/sec.dump".to_string(),
            user: None,
            group: Vec::new(),
            umask: None,
            ruleperf: false,
            dumpfts: false,
            dumpfjson: false,
            quoting: false,
            tail: true,
            fromstart: false,
            detach: false,
            jointbuf: None,
            keepopen: true,
            rwfifo: true,
            childterm: true,
            intevents: false,
            intcontexts: false,
            testonly: false,
            dialect: Dialect::Sec,
            perl: PerlMode::Auto,
            time_source: TimeSource::Wall,
            tz: None,
            reorder_window: None,
            late: LateMode::Process,
            state: None,
            state_interval: None,
            input_format: InputFormat::Line,
            match_field: None,
            timestamp_regex: None,
            timestamp_format: None,
            given: BTreeSet::new(),
            warnings: Vec::new(),
        }
    }
}

/// What the command line asks the program to do.
// Made once per start or reload, so boxing the options would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Run (or, with `testonly`, check the rules) with these options.
    Run(Options),
    /// Print [`usage`] to stdout and exit 0 (`--help`, `-?`). Wins over `--version`.
    Help,
    /// Print [`version`] to stdout and exit 0.
    Version,
}

/// A command-line problem that stops rsec. SEC itself never stops on its command line;
/// these are the cases where rsec cannot follow it safely.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CliError {
    /// A value that is not valid UTF-8 (shown lossily). rsec keeps names as text, and
    /// using a mangled file name would act on the wrong file.
    NonUtf8 {
        /// The option's canonical name.
        option: String,
        /// The value, with the invalid bytes replaced.
        value: String,
    },
    /// A value an rsec-only option does not accept.
    InvalidValue {
        /// The option's canonical name.
        option: String,
        /// The value given.
        value: String,
        /// What the option accepts.
        expected: String,
    },
}

impl std::fmt::Display for CliError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CliError::NonUtf8 { option, value } => write!(
                f,
                "'--{option}' option value \"{value}\" is not valid UTF-8, which rsec cannot \
                 use safely; rename the file or use a valid UTF-8 value"
            ),
            CliError::InvalidValue {
                option,
                value,
                expected,
            } => write!(
                f,
                "'--{option}' option value \"{value}\" is invalid: expected {expected} \
                 (see rsec --help)"
            ),
        }
    }
}

impl std::error::Error for CliError {}

/// Parses the command line (without the program name, with the SECRC words already
/// appended) as SEC 2.9.1 does. Messages about words that were not accepted are in
/// [`Options::warnings`]; with `--help` or `--version` they are dropped, see
/// [`parse_with_warnings`] to keep them.
pub fn parse(args: &[OsString]) -> Result<Command, CliError> {
    parse_with_warnings(args).map(|(command, _)| command)
}

/// Like [`parse`], but also returns the messages SEC would print to stderr, also for
/// `--help` and `--version` (SEC prints them before the usage or version text).
pub fn parse_with_warnings(args: &[OsString]) -> Result<(Command, Vec<String>), CliError> {
    let mut o = Options::default();
    let mut help = false;
    let mut version = false;
    let mut numbers = Numbers::new();
    for item in getopt::read(args) {
        match item {
            Item::Warn(message) => o.warnings.push(message),
            Item::Stray(word) => o
                .warnings
                .push(format!("Unknown argument: {}", word.to_string_lossy())),
            Item::Set(spec, value) => match spec.canonical {
                "help" => help = true,
                "version" => version = true,
                name => {
                    apply(&mut o, &mut numbers, name, value)?;
                    o.given.insert(name.to_string());
                }
            },
        }
    }
    check_ranges(&mut o, &numbers);
    if o.input
        .iter()
        .any(|spec| split_input_spec(spec).1.is_some())
    {
        o.intcontexts = true;
    }
    let warnings = o.warnings.clone();
    let command = if help {
        Command::Help
    } else if version {
        Command::Version
    } else {
        Command::Run(o)
    };
    Ok((command, warnings))
}

fn text(option: &str, value: OsString) -> Result<String, CliError> {
    value.into_string().map_err(|v| CliError::NonUtf8 {
        option: option.to_string(),
        value: v.to_string_lossy().into_owned(),
    })
}

fn invalid(option: &str, value: &str, expected: &str) -> CliError {
    CliError::InvalidValue {
        option: option.to_string(),
        value: value.to_string(),
        expected: expected.to_string(),
    }
}

/// Parses an rsec-only choice among fixed words.
fn choice<T: Copy>(option: &str, value: &str, words: &[(&str, T)]) -> Result<T, CliError> {
    words
        .iter()
        .find(|(w, _)| *w == value)
        .map(|&(_, t)| t)
        .ok_or_else(|| {
            let list: Vec<&str> = words.iter().map(|(w, _)| *w).collect();
            invalid(option, value, &format!("one of {}", list.join(", ")))
        })
}

/// Parses an rsec-only number of seconds: a finite real, not negative.
fn seconds(option: &str, value: &str) -> Result<f64, CliError> {
    match value.trim().parse::<f64>() {
        Ok(n) if n.is_finite() && n >= 0.0 => Ok(n),
        _ => Err(invalid(option, value, "a non-negative number of seconds")),
    }
}

/// The numbers the command line set, by canonical name, before SEC's range checks.
type Numbers = std::collections::BTreeMap<&'static str, f64>;

/// Stores one accepted option value.
fn apply(
    o: &mut Options,
    numbers: &mut Numbers,
    name: &'static str,
    value: Value,
) -> Result<(), CliError> {
    let string = match value {
        Value::Num(n) => {
            numbers.insert(name, n);
            return Ok(());
        }
        Value::Bool(b) => {
            apply_flag(o, name, b);
            return Ok(());
        }
        Value::Str(s) => text(name, s)?,
    };
    match name {
        "conf" => o.conf.push(string),
        "input" => o.input.push(string),
        "timeout-script" => o.timeout_script = Some(string),
        "log" => o.log = Some(string),
        "syslog" => o.syslog = Some(string),
        "pid" => o.pid = Some(string),
        "dump" => o.dump = string,
        "user" => o.user = Some(string),
        "group" => o.group.push(string),
        "dialect" => {
            o.dialect = choice(
                name,
                &string,
                &[("sec", Dialect::Sec), ("logzilla", Dialect::Logzilla)],
            )?
        }
        "perl" => {
            o.perl = choice(
                name,
                &string,
                &[
                    ("auto", PerlMode::Auto),
                    ("native", PerlMode::Native),
                    ("off", PerlMode::Off),
                ],
            )?
        }
        "time-source" => {
            o.time_source = choice(
                name,
                &string,
                &[("wall", TimeSource::Wall), ("event", TimeSource::Event)],
            )?
        }
        "tz" => o.tz = Some(string),
        "reorder-window" => o.reorder_window = Some(seconds(name, &string)?),
        "late" => {
            o.late = choice(
                name,
                &string,
                &[("process", LateMode::Process), ("drop", LateMode::Drop)],
            )?
        }
        "state" => o.state = Some(string),
        "state-interval" => o.state_interval = Some(seconds(name, &string)?),
        "input-format" => {
            o.input_format = choice(
                name,
                &string,
                &[
                    ("line", InputFormat::Line),
                    ("json", InputFormat::Json),
                    ("logfmt", InputFormat::Logfmt),
                ],
            )?
        }
        "match-field" => o.match_field = Some(string),
        "timestamp-regex" => o.timestamp_regex = Some(string),
        "timestamp-format" => o.timestamp_format = Some(string),
        _ => {}
    }
    Ok(())
}

/// Stores one flag: `on` is false for the `--noX` form.
fn apply_flag(o: &mut Options, name: &str, on: bool) {
    match name {
        "ruleperf" => o.ruleperf = on,
        "dumpfts" => o.dumpfts = on,
        "dumpfjson" => o.dumpfjson = on,
        "quoting" => o.quoting = on,
        "tail" => o.tail = on,
        "fromstart" => o.fromstart = on,
        "detach" => o.detach = on,
        "jointbuf" => o.jointbuf = Some(on),
        "keepopen" => o.keepopen = on,
        "rwfifo" => o.rwfifo = on,
        "childterm" => o.childterm = on,
        "intevents" => o.intevents = on,
        "intcontexts" => o.intcontexts = on,
        "testonly" => o.testonly = on,
        _ => {}
    }
}

/// One range check of an unsigned option: its name, what it requires, the test, the field.
type WholeCheck = (
    &'static str,
    &'static str,
    fn(f64) -> bool,
    fn(&mut Options) -> &mut u64,
);

/// SEC's checks of the final values, in SEC's order: a value out of range gives a message
/// and leaves the default. The last value given is the one checked, so `--debug=3
/// --debug=9` falls back to 6, not to 3.
fn check_ranges(o: &mut Options, numbers: &Numbers) {
    let non_negative = "a non-negative value";
    let positive = "a positive value";
    let whole: [WholeCheck; 8] = [
        (
            "input-timeout",
            non_negative,
            |n| n >= 0.0,
            |o| &mut o.input_timeout,
        ),
        (
            "reopen-timeout",
            non_negative,
            |n| n >= 0.0,
            |o| &mut o.reopen_timeout,
        ),
        (
            "check-timeout",
            non_negative,
            |n| n >= 0.0,
            |o| &mut o.check_timeout,
        ),
        (
            "socket-timeout",
            positive,
            |n| n > 0.0,
            |o| &mut o.socket_timeout,
        ),
        ("blocksize", positive, |n| n > 0.0, |o| &mut o.blocksize),
        ("bufsize", non_negative, |n| n >= 0.0, |o| &mut o.bufsize),
        (
            "evstoresize",
            non_negative,
            |n| n >= 0.0,
            |o| &mut o.evstoresize,
        ),
        (
            "cleantime",
            non_negative,
            |n| n >= 0.0,
            |o| &mut o.cleantime,
        ),
    ];
    let complain = |o: &mut Options, name: &str, what: &str| {
        o.warnings
            .push(format!("'--{name}' option requires {what}"));
    };
    for (i, (name, what, ok, field)) in whole.iter().enumerate() {
        // SEC checks the poll timeout between the check timeout and the socket timeout.
        if i == 3 {
            if let Some(&n) = numbers.get("poll-timeout") {
                if n >= 0.0 {
                    o.poll_timeout = n;
                } else {
                    complain(o, "poll-timeout", non_negative);
                }
            }
        }
        if let Some(&n) = numbers.get(name) {
            if ok(n) {
                // Saturates: Perl keeps huge integers as floating-point numbers.
                *field(o) = n as u64;
            } else {
                complain(o, name, what);
            }
        }
    }
    if let Some(&n) = numbers.get("debug") {
        if (1.0..=6.0).contains(&n) {
            o.debug = n as u8;
        } else {
            complain(o, "debug", "a value from range 1..6");
        }
    }
    if !o.group.is_empty() && o.user.is_none() {
        complain(o, "group", "the '--user' option");
        o.group.clear();
    }
    if let Some(&n) = numbers.get("umask") {
        if (0.0..=511.0).contains(&n) {
            o.umask = Some(n as u32);
        } else {
            complain(o, "umask", "a value from range 0..0777");
        }
    }
}

/// Splits an `--input` value into the glob pattern and the context name, as SEC does: at
/// the last `=` that has something on both sides (`in==` is file `in`, context `=`;
/// `in=` and `=ctx` are file names without a context).
pub fn split_input_spec(spec: &str) -> (&str, Option<&str>) {
    let bytes = spec.as_bytes();
    for (i, &b) in bytes.iter().enumerate().rev() {
        if b == b'=' && i > 0 && i + 1 < bytes.len() {
            return (&spec[..i], Some(&spec[i + 1..]));
        }
    }
    (spec, None)
}

/// The words of the resource file named by `SECRC`, to append to the command line; empty
/// when `SECRC` is not set. When the file cannot be read, prints SEC's message to stderr
/// and returns nothing, as SEC does at startup. Call it again on reload; to log the error
/// instead of printing it, use [`load_secrc`].
pub fn secrc_args() -> Vec<OsString> {
    match load_secrc() {
        Ok(words) => words.unwrap_or_default(),
        Err(e) => {
            eprintln!("{e}");
            Vec::new()
        }
    }
}

/// The help text, in SEC's layout, listing every option (SEC's, then rsec's own).
pub fn usage() -> String {
    let mut s = String::from("Usage: rsec [options]\n\nOptions:\n");
    for line in USAGE_SEC.iter().chain(USAGE_RSEC.iter()) {
        if !line.is_empty() {
            s.push_str("  ");
            s.push_str(line);
        }
        s.push('\n');
    }
    s
}

const USAGE_SEC: &[&str] = &[
    "--conf=<file pattern> ...",
    "--input=<file pattern>[=<context>] ...",
    "--input-timeout=<input timeout>",
    "--timeout-script=<timeout script>",
    "--reopen-timeout=<reopen timeout>",
    "--check-timeout=<check timeout>",
    "--poll-timeout=<poll timeout>",
    "--socket-timeout=<socket timeout>",
    "--blocksize=<io block size>",
    "--bufsize=<input buffer size>",
    "--evstoresize=<event store size>",
    "--cleantime=<clean time>",
    "--log=<logfile>",
    "--syslog=<facility>",
    "--debug=<debuglevel>",
    "--pid=<pidfile>",
    "--dump=<dumpfile>",
    "--user=<username>",
    "--group=<groupname> ...",
    "--umask=<mode>",
    "--ruleperf, --noruleperf",
    "--dumpfts, --nodumpfts",
    "--dumpfjson, --nodumpfjson",
    "--quoting, --noquoting",
    "--tail, --notail",
    "--fromstart, --nofromstart",
    "--detach, --nodetach",
    "--jointbuf, --nojointbuf",
    "--keepopen, --nokeepopen",
    "--rwfifo, --norwfifo",
    "--childterm, --nochildterm",
    "--intevents, --nointevents",
    "--intcontexts, --nointcontexts",
    "--testonly, --notestonly",
    "--help, -?",
    "--version",
];

const USAGE_RSEC: &[&str] = &[
    "",
    "rsec options (not in SEC):",
    "--dialect=sec|logzilla",
    "--perl=auto|native|off",
    "--time-source=wall|event",
    "--tz=<time zone>",
    "--reorder-window=<seconds>",
    "--late=process|drop",
    "--state=<state file>",
    "--state-interval=<seconds>",
    "--input-format=line|json|logfmt",
    "--match-field=<field name>",
    "--timestamp-regex=<regular expression>",
    "--timestamp-format=<format>",
];

/// The version text: rsec's version, the SEC version it follows, and the licence.
pub fn version() -> String {
    format!(
        "rsec {}, compatible with SEC (Simple Event Correlator) {SEC_VERSION}\n\
         \n\
         This program is free software; you can redistribute it and/or\n\
         modify it under the terms of the GNU General Public License\n\
         as published by the Free Software Foundation; either version 2\n\
         of the License, or (at your option) any later version.\n\
         \n\
         This program is distributed in the hope that it will be useful,\n\
         but WITHOUT ANY WARRANTY; without even the implied warranty of\n\
         MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the\n\
         GNU General Public License for more details.\n",
        env!("CARGO_PKG_VERSION")
    )
}
