//! The replay progress bar on stderr: lines, lines/s, percent and ETA.
//!
//! Owns only drawing; it is shown only when stderr is a terminal and the input is a
//! replay (`--notail`), and it never writes anywhere else.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How many lines between two updates (a position query costs a system call per input).
const EVERY: u64 = 8192;

/// A progress bar over the total size of the input files; inert without a terminal.
pub struct Progress {
    bar: Option<ProgressBar>,
    lines: u64,
    start: Instant,
}

impl Progress {
    /// A bar over `total` bytes, drawn only if `enabled` and stderr is a terminal.
    pub fn new(total: u64, enabled: bool) -> Self {
        let bar = (enabled && total > 0 && std::io::stderr().is_terminal()).then(|| {
            let b = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template("{wide_bar} {percent:>3}% {msg} ETA {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar());
            b.set_style(style);
            b.enable_steady_tick(Duration::from_millis(200));
            b
        });
        Progress {
            bar,
            lines: 0,
            start: Instant::now(),
        }
    }

    /// True if a bar is drawn.
    pub fn active(&self) -> bool {
        self.bar.is_some()
    }

    /// Counts a line; every few thousand lines asks `pos` for the bytes read so far.
    #[inline]
    pub fn line(&mut self, pos: impl FnOnce() -> u64) {
        self.lines += 1;
        if !self.lines.is_multiple_of(EVERY) {
            return;
        }
        if let Some(b) = &self.bar {
            let secs = self.start.elapsed().as_secs_f64().max(1e-3);
            b.set_position(pos());
            b.set_message(format!(
                "{} lines, {:.0} lines/s",
                self.lines,
                self.lines as f64 / secs
            ));
        }
    }

    /// Removes the bar.
    pub fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}
