//! Engine hooks for event time (`--time-source=event`), read-only.
//!
//! Owns the question "when does the engine next have timed work?", so that the event loop
//! can move the event clock from one event to the next through every moment at which a
//! live run would have fired a timer. It must not change engine state: firing is done by
//! the ordinary [`Engine::maybe_tick`] after the clock has moved.

use std::cmp::Reverse;

use super::compile::CKind;
use super::Engine;

impl Engine {
    /// True if a rule file has a Calendar rule (they need a check every minute).
    pub fn has_calendar_rules(&self) -> bool {
        self.prog.files.iter().any(|f| {
            f.rules
                .iter()
                .any(|r| matches!(r.kind, CKind::Calendar { .. }))
        })
    }

    /// The earliest time after now at which the periodic tasks (SEC's process_lists) have
    /// work: a context lifetime or operation window ends, a delayed event is due, or (with
    /// `calendar`) a new minute starts. The time is put on the `--cleantime` grid a live run
    /// follows (checks at `last_clean + k * cleantime`), and is always later than now.
    pub fn next_wakeup(&self, calendar: bool) -> Option<i64> {
        let now = self.now();
        let mut due = self.timers.peek().map(|Reverse((t, _, _))| *t);
        if let Some(Reverse((t, _, _, _))) = self.pending.peek() {
            due = Some(due.map_or(*t, |d| d.min(*t)));
        }
        if calendar {
            let minute = now.div_euclid(60) * 60 + 60;
            due = Some(due.map_or(minute, |d| d.min(minute)));
        }
        let due = due?;
        let ct = self.opts.cleantime.max(1);
        let steps = (due - self.last_clean + ct - 1).div_euclid(ct).max(1);
        Some((self.last_clean + steps * ct).max(now + 1))
    }
}
