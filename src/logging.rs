//! SEC's log: six levels (1 critical .. 6 debug), written to the `--log` file with a
//! `localtime: ` prefix, to syslog with `--syslog`, and to stderr only when stderr is a
//! terminal (SEC's rule). This module owns the destinations and the level filter; it knows
//! nothing about rules or events.

use std::fs::{File, OpenOptions};
use std::io::{IsTerminal, Write};
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
    stderr: bool,
    /// Messages kept in memory (tests and `--testonly` summaries).
    capture: Option<Vec<(Level, String)>>,
}

static SINK: Mutex<Sink> = Mutex::new(Sink {
    level: 6,
    file: None,
    stderr: false,
    capture: None,
});

/// Sets up the destinations: the debug level, an optional log file (appended to), and
/// stderr when it is a terminal.
pub fn init(level: u8, logfile: Option<&str>) -> std::io::Result<()> {
    let file = match logfile {
        Some(path) => Some(OpenOptions::new().append(true).create(true).open(path)?),
        None => None,
    };
    let mut sink = SINK.lock().unwrap_or_else(|e| e.into_inner());
    sink.level = level.clamp(1, 6);
    sink.file = file;
    sink.stderr = std::io::stderr().is_terminal();
    Ok(())
}

/// Changes the debug level (SIGINT cycling, option reload).
pub fn set_level(level: u8) {
    SINK.lock().unwrap_or_else(|e| e.into_inner()).level = level.clamp(1, 6);
}

/// The current debug level.
pub fn level() -> u8 {
    SINK.lock().unwrap_or_else(|e| e.into_inner()).level
}

/// Starts keeping a copy of every message in memory, for tests.
pub fn start_capture() {
    SINK.lock().unwrap_or_else(|e| e.into_inner()).capture = Some(Vec::new());
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
    let mut sink = SINK.lock().unwrap_or_else(|e| e.into_inner());
    if level as u8 > sink.level {
        return;
    }
    if let Some(cap) = sink.capture.as_mut() {
        cap.push((level, msg.to_string()));
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
macro_rules! crit { ($($a:tt)*) => { $crate::logging::log($crate::logging::Level::Crit, &format!($($a)*)) } }
/// Logs at [`Level::Err`].
#[macro_export]
macro_rules! err { ($($a:tt)*) => { $crate::logging::log($crate::logging::Level::Err, &format!($($a)*)) } }
/// Logs at [`Level::Warn`].
#[macro_export]
macro_rules! warn { ($($a:tt)*) => { $crate::logging::log($crate::logging::Level::Warn, &format!($($a)*)) } }
/// Logs at [`Level::Notice`].
#[macro_export]
macro_rules! notice { ($($a:tt)*) => { $crate::logging::log($crate::logging::Level::Notice, &format!($($a)*)) } }
/// Logs at [`Level::Info`].
#[macro_export]
macro_rules! info { ($($a:tt)*) => { $crate::logging::log($crate::logging::Level::Info, &format!($($a)*)) } }
/// Logs at [`Level::Debug`].
#[macro_export]
macro_rules! debug { ($($a:tt)*) => { $crate::logging::log($crate::logging::Level::Debug, &format!($($a)*)) } }
