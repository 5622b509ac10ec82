//! The time-ordering buffer of `--reorder-window`.
//!
//! Owns holding events back and releasing them in time-stamp order; it neither parses
//! time stamps nor touches the engine. An event is released once an event at least
//! `window` seconds newer has been seen (or on [`ReorderBuffer::drain`]); equal time stamps
//! keep their arrival order. An event older than the last one released is late.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// An entry: time, arrival number, item. Ordered by time then arrival only.
struct Entry<T>(i64, u64, T);

impl<T> PartialEq for Entry<T> {
    fn eq(&self, o: &Self) -> bool {
        (self.0, self.1) == (o.0, o.1)
    }
}
impl<T> Eq for Entry<T> {}
impl<T> PartialOrd for Entry<T> {
    fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(o))
    }
}
impl<T> Ord for Entry<T> {
    fn cmp(&self, o: &Self) -> std::cmp::Ordering {
        (self.0, self.1).cmp(&(o.0, o.1))
    }
}

/// Holds events for up to `window` seconds of event time and releases them in order.
pub struct ReorderBuffer<T> {
    window: i64,
    heap: BinaryHeap<Reverse<Entry<T>>>,
    seq: u64,
    newest: i64,
    released: Option<i64>,
}

impl<T> ReorderBuffer<T> {
    /// A buffer of `window` seconds.
    pub fn new(window: i64) -> Self {
        ReorderBuffer {
            window: window.max(0),
            heap: BinaryHeap::new(),
            seq: 0,
            newest: i64::MIN,
            released: None,
        }
    }

    /// Adds an event; gives it back (`Err`) if it is late: older than the last released.
    pub fn push(&mut self, t: i64, item: T) -> Result<(), T> {
        if self.released.is_some_and(|r| t < r) {
            return Err(item);
        }
        self.seq += 1;
        self.newest = self.newest.max(t);
        self.heap.push(Reverse(Entry(t, self.seq, item)));
        Ok(())
    }

    /// The next event whose time is at least `window` seconds before the newest seen.
    pub fn pop_ready(&mut self) -> Option<(i64, T)> {
        let Reverse(Entry(t, _, _)) = self.heap.peek()?;
        if *t > self.newest.saturating_sub(self.window) {
            return None;
        }
        self.pop()
    }

    /// The oldest held event, ready or not (end of input, idle input).
    pub fn pop(&mut self) -> Option<(i64, T)> {
        let Reverse(Entry(t, _, item)) = self.heap.pop()?;
        self.released = Some(t);
        Some((t, item))
    }

    /// Events held.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// True if nothing is held.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_in_order_after_window() {
        let mut b = ReorderBuffer::new(5);
        for (t, s) in [(10, "a"), (12, "c"), (11, "b"), (12, "d")] {
            b.push(t, s).unwrap();
        }
        assert!(b.pop_ready().is_none());
        b.push(16, "e").unwrap();
        assert_eq!(b.pop_ready(), Some((10, "a")));
        assert_eq!(b.pop_ready(), Some((11, "b")));
        assert!(b.pop_ready().is_none());
        assert_eq!(b.push(10, "late"), Err("late"));
        b.push(11, "ok").unwrap();
        let rest: Vec<_> = std::iter::from_fn(|| b.pop()).collect();
        assert_eq!(rest, vec![(11, "ok"), (12, "c"), (12, "d"), (16, "e")]);
    }
}
