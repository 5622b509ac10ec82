//! Event time (`--time-source=event`): the engine's time taken from the log lines.
//!
//! This module owns time-stamp parsing ([`parse`]), the event clock ([`clock`]), the
//! `--reorder-window` buffer ([`reorder`]), the replay progress bar ([`progress`]) and
//! [`EventTime`], which turns input lines into (time, line) pairs in the order the engine
//! must see them. It must not touch the engine's internals or rule semantics: the engine
//! only reads the [`clock::EventClock`] through its `Clock` interface, and the event loop
//! (`app.rs`) moves the clock and fires timers between events through the engine's public
//! hooks (`engine/evclock.rs`). Perl's `time()` (src/perl) still reads the wall clock.

pub mod clock;
pub mod parse;
pub mod progress;
pub mod reorder;

use std::collections::VecDeque;

pub use clock::EventClock;
pub use parse::{ParseSetupError, TimestampParser};
pub use reorder::ReorderBuffer;

/// What to do with an event that arrives after the reorder window has passed it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Late {
    /// Process it at the current event time.
    #[default]
    Process,
    /// Drop it.
    Drop,
}

/// The settings of event time.
#[derive(Clone, Debug, Default)]
pub struct EventTimeConfig {
    /// Zone of time stamps without one (`--tz`); None is the system zone.
    pub tz: Option<String>,
    /// `--timestamp-regex`.
    pub regex: Option<String>,
    /// `--timestamp-format`.
    pub format: Option<String>,
    /// `--reorder-window` in seconds (rounded up); None or 0 is no reordering.
    pub reorder_window: Option<f64>,
    /// `--late`.
    pub late: Late,
}

/// Counts of what event time did with the lines, for the log.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EventStats {
    /// Lines admitted.
    pub lines: u64,
    /// Lines without a time stamp (they took the last event time).
    pub no_timestamp: u64,
    /// Lines older than the event time without reordering (taken as the current time).
    pub backwards: u64,
    /// Lines later than the reorder window, processed at the current time.
    pub late_processed: u64,
    /// Lines later than the reorder window, dropped.
    pub late_dropped: u64,
}

impl std::fmt::Display for EventStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Event time: {} lines, {} without a time stamp (given the last event time), \
             {} out of order (given the current time), {} late processed, {} late dropped",
            self.lines, self.no_timestamp, self.backwards, self.late_processed, self.late_dropped
        )
    }
}

/// Assigns event times to input items (`T`: an input line with its source) and releases
/// them in the order and with the times the engine must see. Times never go backwards.
pub struct EventTime<T> {
    parser: TimestampParser,
    reorder: Option<ReorderBuffer<T>>,
    late: Late,
    ready: VecDeque<(i64, T)>,
    /// Items seen before the first time stamp: they get its time.
    waiting: Vec<T>,
    /// Time of the last admitted line (what a line without a stamp gets).
    last: Option<i64>,
    /// Latest time released (the current event time).
    current: Option<i64>,
    stats: EventStats,
}

impl<T> EventTime<T> {
    /// Event time with these settings; `today` (epoch seconds) anchors the year of RFC 3164
    /// stamps.
    pub fn new(cfg: &EventTimeConfig, today: i64) -> Result<Self, ParseSetupError> {
        let parser = TimestampParser::new(
            cfg.tz.as_deref(),
            cfg.regex.as_deref(),
            cfg.format.as_deref(),
            today,
        )?;
        let window = cfg.reorder_window.unwrap_or(0.0).max(0.0).ceil() as i64;
        Ok(EventTime {
            parser,
            reorder: (window > 0).then(|| ReorderBuffer::new(window)),
            late: cfg.late,
            ready: VecDeque::new(),
            waiting: Vec::new(),
            last: None,
            current: None,
            stats: EventStats::default(),
        })
    }

    /// Continues a saved timeline (`--state`): event time is at `t` already, so a line
    /// without a time stamp gets `t` and an older stamp counts as going backwards.
    pub fn resume(&mut self, t: i64) {
        self.last = Some(t);
        self.current = Some(t);
    }

    /// The counts so far.
    pub fn stats(&self) -> EventStats {
        self.stats
    }

    /// Items held back (reorder buffer and lines before the first stamp).
    pub fn held(&self) -> usize {
        self.reorder.as_ref().map_or(0, |r| r.len()) + self.waiting.len()
    }

    /// Takes a line in: finds its time stamp and queues it (or holds it for reordering).
    pub fn admit(&mut self, line: &[u8], item: T) {
        let stamp = self.stamp(line);
        self.admit_stamped(stamp, item);
    }

    /// The time stamp of a line (None if it has none), for [`EventTime::admit_stamped`].
    #[inline]
    pub fn stamp(&mut self, line: &[u8]) -> Option<i64> {
        self.parser.parse(line)
    }

    /// Takes a line in whose stamp [`EventTime::stamp`] found.
    pub fn admit_stamped(&mut self, stamp: Option<i64>, item: T) {
        self.stats.lines += 1;
        let t = match stamp {
            Some(t) => t,
            None => {
                self.stats.no_timestamp += 1;
                match self.last {
                    Some(t) => t,
                    None => {
                        self.waiting.push(item);
                        return;
                    }
                }
            }
        };
        if self.last.is_none() {
            for w in std::mem::take(&mut self.waiting) {
                self.route(t, w);
            }
        }
        self.route(t, item);
    }

    fn route(&mut self, t: i64, item: T) {
        let Some(buf) = self.reorder.as_mut() else {
            let cur = self.current.unwrap_or(t);
            if t < cur {
                self.stats.backwards += 1;
            }
            let t = t.max(cur);
            self.last = Some(t);
            self.current = Some(t);
            self.ready.push_back((t, item));
            return;
        };
        self.last = Some(t);
        match buf.push(t, item) {
            Ok(()) => {
                while let Some((t, it)) = buf.pop_ready() {
                    self.current = Some(t);
                    self.ready.push_back((t, it));
                }
            }
            Err(it) => match self.late {
                Late::Process => {
                    self.stats.late_processed += 1;
                    self.ready.push_back((self.current.unwrap_or(t), it));
                }
                Late::Drop => self.stats.late_dropped += 1,
            },
        }
    }

    /// The next item to process and its time.
    pub fn next_ready(&mut self) -> Option<(i64, T)> {
        self.ready.pop_front()
    }

    /// Releases everything held (end of input, or input idle for the reorder window);
    /// lines that never saw a time stamp get `fallback`.
    pub fn flush(&mut self, fallback: i64) {
        if self.last.is_none() {
            for w in std::mem::take(&mut self.waiting) {
                self.ready.push_back((fallback, w));
            }
        }
        if let Some(buf) = self.reorder.as_mut() {
            while let Some((t, it)) = buf.pop() {
                self.current = Some(t);
                self.ready.push_back((t, it));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn et(window: Option<f64>, late: Late) -> EventTime<&'static str> {
        let cfg = EventTimeConfig {
            tz: Some("UTC".into()),
            reorder_window: window,
            late,
            ..Default::default()
        };
        EventTime::new(&cfg, 1_795_435_200).unwrap()
    }

    fn all(e: &mut EventTime<&'static str>) -> Vec<(i64, &'static str)> {
        std::iter::from_fn(|| e.next_ready()).collect()
    }

    #[test]
    fn without_reorder_time_never_goes_back() {
        let mut e = et(None, Late::Process);
        for l in [
            "junk first",
            "1795435210 a",
            "1795435205 b",
            "cont",
            "1795435220 c",
        ] {
            e.admit(l.as_bytes(), l);
        }
        let got: Vec<i64> = all(&mut e).into_iter().map(|x| x.0).collect();
        assert_eq!(
            got,
            vec![1795435210, 1795435210, 1795435210, 1795435210, 1795435220]
        );
        let s = e.stats();
        assert_eq!((s.no_timestamp, s.backwards), (2, 1));
    }

    #[test]
    fn reorder_and_late() {
        for (late, n) in [(Late::Process, 5), (Late::Drop, 4)] {
            let mut e = et(Some(3.0), late);
            for l in [
                "1795435210 a",
                "1795435212 c",
                "1795435211 b",
                "1795435214 d",
                "1795435209 late",
            ] {
                e.admit(l.as_bytes(), l);
            }
            e.flush(0);
            let got = all(&mut e);
            assert_eq!(got.len(), n);
            assert_eq!(got[0], (1795435210, "1795435210 a"));
            assert_eq!(got[1], (1795435211, "1795435211 b"));
            if late == Late::Process {
                assert_eq!(got[2], (1795435211, "1795435209 late"));
            }
        }
    }
}
