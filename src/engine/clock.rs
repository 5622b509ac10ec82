//! The engine's one source of time. SEC reads the wall clock in whole seconds; the
//! event-time issue adds a clock driven by log timestamps, and tests use a clock they set.
//! Rule logic asks only this interface.

use std::cell::Cell;
use std::rc::Rc;

/// A source of the current time in whole epoch seconds.
pub trait Clock {
    /// The current time.
    fn now(&self) -> i64;
}

/// The wall clock, as SEC's `time()`.
#[derive(Clone, Copy, Debug, Default)]
pub struct WallClock;

impl Clock for WallClock {
    fn now(&self) -> i64 {
        crate::timefmt::now()
    }
}

/// A clock that tests move by hand.
#[derive(Clone, Debug, Default)]
pub struct TestClock(Rc<Cell<i64>>);

impl TestClock {
    /// A clock starting at `t`.
    pub fn new(t: i64) -> Self {
        Self(Rc::new(Cell::new(t)))
    }

    /// Sets the time.
    pub fn set(&self, t: i64) {
        self.0.set(t);
    }

    /// Moves the time forward by `d` seconds.
    pub fn advance(&self, d: i64) {
        self.0.set(self.0.get() + d);
    }
}

impl Clock for TestClock {
    fn now(&self) -> i64 {
        self.0.get()
    }
}
