//! rsec: a fast, drop-in replacement for SEC, the Simple Event Correlator.
//!
//! The data flows one way through the modules, and the phases are separate:
//!
//! ```text
//! rule files -> config (parse, validate) -> pattern (compile) -> engine (match, correlate,
//! contexts, timers) -> action (execute) -> io (files, sockets, children) -> back to engine
//! ```
//!
//! * [`cli`] owns SEC's command line and the SECRC file.
//! * [`config`] owns reading rule files into a typed, validated model, with SEC's diagnostics.
//! * [`pattern`] owns the pattern types and their compiled matchers.
//! * [`logging`] owns SEC's log destinations and levels.
//! * [`io`] owns the outside world: output files and sockets, child processes.
//! * [`time`] owns event time: time stamps in log lines, the event clock, reordering.
//! * [`app`] wires the phases together for the binary.

pub mod app;
pub mod cli;
pub mod config;
pub mod engine;
pub mod glob;
pub mod io;
pub mod logging;
pub mod pattern;
pub mod perl;
pub mod time;
pub mod timefmt;

pub use app::run;
pub use config::parse_rule_text;
