//! SEC's log: six levels (1 critical .. 6 debug), written to the `--log` file with a
//! `localtime: ` prefix, to syslog with `--syslog`, and to stderr only when stderr is a
//! terminal (SEC's rule). This module owns the destinations and the level filter (and
//! reopening them on SIGUSR2, SIGHUP and SIGABRT); it knows nothing about rules or events.
//!
//! Syslog is written directly to the local syslog socket (`/dev/log`, datagrams in the
//! traditional BSD format with the tag `sec[PID]`), which is all `openlog`/`syslog` do
//! there: a few lines of std code instead of another dependency or libc's global state.

use std::fs::{File, OpenOptions};
use std::io::{IsTerminal, Write};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Mutex;

/// SEC's log levels, numbered as `--debug` numbers them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// 1: the program cannot go on.
    Crit = 1,
    /// 2: an error, such as a rejected rule.
    Err = 2,
    /// 3: a warning.
    Warn = 3,
    /// 4: a notice, such as `logonly` output.
    Notice = 4,
    /// 5: information.
    Info = 5,
    /// 6: debugging detail, such as `N rules loaded`.
    Debug = 6,
}

struct Sink {
    level: u8,
    file: Option<File>,
    path: Option<String>,
    syslog: Option<Syslog>,
    stderr: bool,
    /// Messages kept in memory (tests and `--testonly` summaries).
    capture: Option<Vec<(Level, String)>>,
}

static SINK: Mutex<Sink> = Mutex::new(Sink {
    level: 6,
    file: None,
    path: None,
    syslog: None,
    stderr: false,
    capture: None,
});

/// The level below which a message reaches some destination (0: none has one): the
/// macros check it before formatting, so a debug message costs nothing when no log is
/// written, which is the common case on a busy input.
static EFFECTIVE: AtomicU8 = AtomicU8::new(0);

/// The sink, locked; unlocking recomputes [`EFFECTIVE`].
struct Guard(std::sync::MutexGuard<'static, Sink>);

impl std::ops::Deref for Guard {
    type Target = Sink;
    fn deref(&self) -> &Sink {
        &self.0
    }
}

impl std::ops::DerefMut for Guard {
    fn deref_mut(&mut self) -> &mut Sink {
        &mut self.0
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        let s = &self.0;
        let any = s.file.is_some() || s.syslog.is_some() || s.stderr || s.capture.is_some();
        EFFECTIVE.store(if any { s.level } else { 0 }, Ordering::Relaxed);
    }
}

fn sink() -> Guard {
    Guard(SINK.lock().unwrap_or_else(|e| e.into_inner()))
}

/// True when a message at `level` would be written anywhere.
pub fn enabled(level: Level) -> bool {
    level as u8 <= EFFECTIVE.load(Ordering::Relaxed)
}

/// Sets up the destinations: the debug level, an optional log file (appended to), and
/// stderr when it is a terminal.
pub fn init(level: u8, logfile: Option<&str>) -> std::io::Result<()> {
    let file = match logfile {
        Some(path) => Some(OpenOptions::new().append(true).create(true).open(path)?),
        None => None,
    };
    let mut sink = sink();
    sink.level = level.clamp(1, 6);
    sink.file = file;
    sink.path = logfile.map(str::to_string);
    sink.stderr = std::io::stderr().is_terminal();
    Ok(())
}

/// Logs to syslog with this facility (`--syslog`), or stops logging there (None). An
/// unknown facility name is an error (SEC cannot open syslog then either).
pub fn set_syslog(facility: Option<&str>) -> Result<(), String> {
    let sys = match facility {
        Some(f) => Some(Syslog::new(f)?),
        None => None,
    };
    sink().syslog = sys;
    Ok(())
}

/// Closes and reopens the log file (SIGUSR2 after a log rotation) and the syslog
/// connection. On failure the file is left closed and the error returned.
pub fn reopen() -> std::io::Result<()> {
    let mut sink = sink();
    sink.file = None;
    if let Some(s) = sink.syslog.as_mut() {
        s.sock = None;
    }
    if let Some(path) = sink.path.clone() {
        sink.file = Some(OpenOptions::new().append(true).create(true).open(path)?);
    }
    Ok(())
}

/// The log file in use (`--log`), if any.
pub fn log_path() -> Option<String> {
    sink().path.clone()
}

/// Stops writing to stderr (after `--detach` pointed it at `/dev/null`).
pub fn no_stderr() {
    sink().stderr = false;
}

/// A syslog destination: a facility code and a datagram socket to `/dev/log`, connected
/// on first use and again after a failed send.
struct Syslog {
    facility: u8,
    sock: Option<std::os::unix::net::UnixDatagram>,
}

/// The syslog facility codes by name, as syslog(3) names them.
const FACILITIES: [(&str, u8); 20] = [
    ("kern", 0),
    ("user", 1),
    ("mail", 2),
    ("daemon", 3),
    ("auth", 4),
    ("syslog", 5),
    ("lpr", 6),
    ("news", 7),
    ("uucp", 8),
    ("cron", 9),
    ("authpriv", 10),
    ("ftp", 11),
    ("local0", 16),
    ("local1", 17),
    ("local2", 18),
    ("local3", 19),
    ("local4", 20),
    ("local5", 21),
    ("local6", 22),
    ("local7", 23),
];

impl Syslog {
    fn new(facility: &str) -> Result<Syslog, String> {
        let name = facility.to_ascii_lowercase();
        let name = name.strip_prefix("log_").unwrap_or(&name);
        let code = FACILITIES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, c)| *c)
            .ok_or_else(|| format!("Invalid syslog facility '{facility}'"))?;
        Ok(Syslog {
            facility: code,
            sock: None,
        })
    }

    /// The datagram for one message: `<PRI>Mmm dd hh:mm:ss sec[PID]: message`.
    fn datagram(&self, level: Level, msg: &str) -> Vec<u8> {
        // syslog severities: crit 2, err 3, warning 4, notice 5, info 6, debug 7.
        let pri = u32::from(self.facility) * 8 + (level as u32 + 1);
        let ts = crate::timefmt::ctime_now();
        // ctime is "Www Mmm dd hh:mm:ss yyyy": syslog wants "Mmm dd hh:mm:ss".
        let stamp = ts.get(4..19).unwrap_or(&ts);
        format!("<{pri}>{stamp} sec[{}]: {msg}", std::process::id()).into_bytes()
    }

    fn send(&mut self, level: Level, msg: &str) {
        let data = self.datagram(level, msg);
        for _ in 0..2 {
            if self.sock.is_none() {
                let Ok(s) = std::os::unix::net::UnixDatagram::unbound() else {
                    return;
                };
                if s.connect("/dev/log").is_err() {
                    return;
                }
                self.sock = Some(s);
            }
            if let Some(s) = self.sock.as_ref() {
                if s.send(&data).is_ok() {
                    return;
                }
            }
            self.sock = None;
        }
    }
}

/// Changes the debug level (SIGINT cycling, option reload).
pub fn set_level(level: u8) {
    sink().level = level.clamp(1, 6);
}

/// The current debug level.
pub fn level() -> u8 {
    sink().level
}

/// Starts keeping a copy of every message in memory, for tests.
pub fn start_capture() {
    sink().capture = Some(Vec::new());
}

/// Returns the captured messages and stops capturing.
pub fn take_capture() -> Vec<(Level, String)> {
    SINK.lock()
        .unwrap_or_else(|e| e.into_inner())
        .capture
        .take()
        .unwrap_or_default()
}

/// Writes one message at the given level, if the level passes the filter.
pub fn log(level: Level, msg: &str) {
    let mut sink = sink();
    if level as u8 > sink.level {
        return;
    }
    if let Some(cap) = sink.capture.as_mut() {
        cap.push((level, msg.to_string()));
    }
    if let Some(sys) = sink.syslog.as_mut() {
        sys.send(level, msg);
    }
    if sink.file.is_none() && !sink.stderr {
        return;
    }
    let line = format!("{}: {}\n", crate::timefmt::ctime_now(), msg);
    if let Some(f) = sink.file.as_mut() {
        let _ = f.write_all(line.as_bytes());
    }
    if sink.stderr {
        let _ = std::io::stderr().write_all(line.as_bytes());
    }
}

/// Logs at [`Level::Crit`].
#[macro_export]
macro_rules! crit { ($($a:tt)*) => { if $crate::logging::enabled($crate::logging::Level::Crit) { $crate::logging::log($crate::logging::Level::Crit, &format!($($a)*)) } } }
/// Logs at [`Level::Err`].
#[macro_export]
macro_rules! err { ($($a:tt)*) => { if $crate::logging::enabled($crate::logging::Level::Err) { $crate::logging::log($crate::logging::Level::Err, &format!($($a)*)) } } }
/// Logs at [`Level::Warn`].
#[macro_export]
macro_rules! warn { ($($a:tt)*) => { if $crate::logging::enabled($crate::logging::Level::Warn) { $crate::logging::log($crate::logging::Level::Warn, &format!($($a)*)) } } }
/// Logs at [`Level::Notice`].
#[macro_export]
macro_rules! notice { ($($a:tt)*) => { if $crate::logging::enabled($crate::logging::Level::Notice) { $crate::logging::log($crate::logging::Level::Notice, &format!($($a)*)) } } }
/// Logs at [`Level::Info`].
#[macro_export]
macro_rules! info { ($($a:tt)*) => { if $crate::logging::enabled($crate::logging::Level::Info) { $crate::logging::log($crate::logging::Level::Info, &format!($($a)*)) } } }
/// Logs at [`Level::Debug`].
#[macro_export]
macro_rules! debug { ($($a:tt)*) => { if $crate::logging::enabled($crate::logging::Level::Debug) { $crate::logging::log($crate::logging::Level::Debug, &format!($($a)*)) } } }
