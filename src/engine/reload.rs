//! Soft restart (SIGABRT): the engine takes a new compiled program and settings while it
//! keeps its contexts, variables, pending events and the operations of the rule files
//! that did not change. This module owns only that swap; which files changed is decided
//! by the caller (`app.rs`), and nothing here matches or runs actions.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::engine::compile::Program;
use crate::engine::{Buffers, Engine, EngineOptions, Timer};

impl Engine {
    /// Swaps in `prog` and `opts`. `keep[i]` is the new index of the old program's file
    /// `i` when its operations survive (the file is unchanged and still loaded), or None
    /// when its operations are dropped (the file changed or is gone). Contexts, action
    /// list variables, pending events and SingleWithScript waits are kept; the input
    /// buffers are rebuilt only when their size or mode changes.
    pub fn soft_restart(&mut self, prog: Program, opts: EngineOptions, keep: &[Option<usize>]) {
        let map = |fi: usize| keep.get(fi).copied().flatten();
        // Operation handles (the timers') stay valid for the operations kept.
        self.ops.remap_files(map);
        let old_pairs = std::mem::take(&mut self.pair_ops);
        for ((fi, ri), descs) in old_pairs {
            if let Some(nf) = map(fi) {
                self.pair_ops.insert((nf, ri), descs);
            }
        }
        let old_cal = std::mem::take(&mut self.calendar_last);
        for ((fi, ri), stamp) in old_cal {
            if let Some(nf) = map(fi) {
                self.calendar_last.insert((nf, ri), stamp);
            }
        }
        let old_timers = std::mem::take(&mut self.timers);
        let mut timers = BinaryHeap::new();
        for Reverse((due, seq, t)) in old_timers {
            match t {
                Timer::Op(id) => {
                    if self.ops.key_of(id).is_some() {
                        timers.push(Reverse((due, seq, Timer::Op(id))));
                    }
                }
                ctx @ Timer::Ctx(..) => timers.push(Reverse((due, seq, ctx))),
            }
        }
        self.timers = timers;
        if prog.bufsize.max(1) != self.buffers.size
            || (opts.jointbuf || prog.bufsize <= 1) != self.buffers.joint
        {
            self.buffers = Buffers::new(prog.bufsize, opts.jointbuf);
        }
        self.cache.clear();
        self.prog = std::rc::Rc::new(prog);
        self.opts = opts;
    }
}
