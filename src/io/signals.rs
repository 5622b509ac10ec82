//! SEC's signals, caught as flags: HUP (full restart), ABRT (soft restart), USR1 (dump),
//! USR2 (log rotation), INT (debug level cycling, only when rsec is not interactive) and
//! TERM (shutdown). The handlers only count arrivals in atomics; the event loop reads them
//! with [`take`] at the end of an iteration, as SEC checks its signal flags. This module
//! owns the handlers and the "is rsec interactive" rule; what each signal does is the
//! event loop's business (`app.rs`), and it touches no engine state.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal as NixSignal};

use crate::engine::Signal;

static HUP: AtomicUsize = AtomicUsize::new(0);
static ABRT: AtomicUsize = AtomicUsize::new(0);
static USR1: AtomicUsize = AtomicUsize::new(0);
static USR2: AtomicUsize = AtomicUsize::new(0);
static INT: AtomicUsize = AtomicUsize::new(0);
static TERM: AtomicUsize = AtomicUsize::new(0);
/// Set after any counter moved: the event loop's per-iteration check is one relaxed load.
static ANY: AtomicBool = AtomicBool::new(false);

fn counter(sig: i32) -> Option<&'static AtomicUsize> {
    match NixSignal::try_from(sig).ok()? {
        NixSignal::SIGHUP => Some(&HUP),
        NixSignal::SIGABRT => Some(&ABRT),
        NixSignal::SIGUSR1 => Some(&USR1),
        NixSignal::SIGUSR2 => Some(&USR2),
        NixSignal::SIGINT => Some(&INT),
        NixSignal::SIGTERM => Some(&TERM),
        _ => None,
    }
}

extern "C" fn on_signal(sig: libc::c_int) {
    // Only an atomic add: async-signal-safe.
    if let Some(c) = counter(sig) {
        c.fetch_add(1, Ordering::SeqCst);
        ANY.store(true, Ordering::SeqCst);
    }
}

/// SEC's rule for SIGINT: it cycles the debug level only when rsec runs
/// non-interactively — with `--detach`, without a controlling terminal, or outside the
/// terminal's foreground process group. Otherwise INT keeps its default action.
pub fn non_interactive(detach: bool) -> bool {
    if detach {
        return true;
    }
    let Ok(tty) = std::fs::File::open("/dev/tty") else {
        return true;
    };
    match nix::unistd::tcgetpgrp(&tty) {
        Ok(fg) => fg != nix::unistd::getpgrp(),
        Err(_) => true,
    }
}

/// Installs the handlers. SIGINT is caught only when `catch_int` (see
/// [`non_interactive`]); otherwise its disposition is left alone. Handlers restart
/// interrupted system calls, so reads and sleeps go on; the loop notices the flags within
/// one poll interval.
pub fn install(catch_int: bool) {
    let action = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    let mut sigs = vec![
        NixSignal::SIGHUP,
        NixSignal::SIGABRT,
        NixSignal::SIGUSR1,
        NixSignal::SIGUSR2,
        NixSignal::SIGTERM,
    ];
    if catch_int {
        sigs.push(NixSignal::SIGINT);
    }
    for s in sigs {
        // SAFETY: the handler only touches atomics, which is async-signal-safe.
        let _ = unsafe { sigaction(s, &action) };
    }
}

/// The signals that arrived since the last call, in SEC's order of handling (HUP, ABRT,
/// USR1, USR2, INT, TERM), each with how many times it arrived (INT counts; the others
/// are handled once however often they came).
pub fn take() -> Vec<(Signal, usize)> {
    let mut out = Vec::new();
    // Cleared before the counters are read: a signal that arrives meanwhile sets it again.
    if !ANY.load(Ordering::Relaxed) || !ANY.swap(false, Ordering::SeqCst) {
        return out;
    }
    for (sig, c) in [
        (Signal::Hup, &HUP),
        (Signal::Abrt, &ABRT),
        (Signal::Usr1, &USR1),
        (Signal::Usr2, &USR2),
        (Signal::Int, &INT),
        (Signal::Term, &TERM),
    ] {
        let n = c.swap(0, Ordering::SeqCst);
        if n > 0 {
            out.push((sig, n));
        }
    }
    out
}

/// True if any signal is waiting (so the loop can skip its idle sleep).
/// True when some signal may have arrived (one relaxed load: for the per-line fast path).
pub fn any() -> bool {
    ANY.load(Ordering::Relaxed)
}

/// True when a signal arrived and has not been taken.
pub fn pending() -> bool {
    ANY.load(Ordering::SeqCst)
        && [&HUP, &ABRT, &USR1, &USR2, &INT, &TERM]
            .iter()
            .any(|c| c.load(Ordering::SeqCst) > 0)
}
