//! The event clock: the engine's time in `--time-source=event` mode.
//!
//! Owns only the shared "current event time" cell. The event loop sets it from each event
//! (before the engine processes it) and moves it forward to fire timers between events;
//! the engine reads it through [`Clock`]. It never goes backwards.

use std::cell::Cell;
use std::rc::Rc;

use crate::engine::Clock;

/// A clock whose time is the last event's time stamp. Clones share the same time.
#[derive(Clone, Debug, Default)]
pub struct EventClock(Rc<Cell<i64>>);

impl EventClock {
    /// A clock at `t` (0 until the first event sets it).
    pub fn new(t: i64) -> Self {
        EventClock(Rc::new(Cell::new(t)))
    }

    /// Moves the clock to `t`; an earlier `t` leaves it where it is.
    pub fn advance_to(&self, t: i64) {
        if t > self.0.get() {
            self.0.set(t);
        }
    }
}

impl Clock for EventClock {
    fn now(&self) -> i64 {
        self.0.get()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_goes_back_and_clones_share() {
        let c = EventClock::new(10);
        let d = c.clone();
        c.advance_to(20);
        c.advance_to(15);
        assert_eq!(d.now(), 20);
    }
}
