//! Window edges with a controllable clock: no test sleeps.

use std::cell::RefCell;
use std::rc::Rc;

use super::*;
use crate::config::{parse_rule_text, LoadOptions};

#[derive(Clone, Default)]
struct Recorder(Rc<RefCell<Vec<String>>>);

impl Effects for Recorder {
    fn write(&mut self, _kind: WriteKind, _target: &[u8], text: &[u8]) {
        self.0
            .borrow_mut()
            .push(String::from_utf8_lossy(text).into_owned());
    }
    fn close(&mut self, _kind: CloseKind, _target: &[u8]) {}
    fn command(&mut self, _cmd: Command<Bytes>, _mode: ChildMode) {}
}

struct Harness {
    engine: Engine,
    clock: TestClock,
    out: Recorder,
}

impl Harness {
    fn new(rules: &str) -> Harness {
        let file = parse_rule_text("t.sec", rules.as_bytes(), &LoadOptions::default());
        assert!(file.ok, "rules must load");
        let prog = compile::compile(&[file], 0);
        let clock = TestClock::new(1_000_000);
        let out = Recorder::default();
        let engine = Engine::new(
            prog,
            EngineOptions::default(),
            Box::new(clock.clone()),
            Box::new(out.clone()),
        );
        let mut h = Harness { engine, clock, out };
        h.engine.startup();
        h
    }

    /// Feeds a line at time `t` (seconds after the start), then runs what SEC's loop runs.
    fn at(&mut self, t: i64, line: &str) -> &mut Self {
        self.clock.set(1_000_000 + t);
        self.engine
            .process(line.as_bytes(), Some(std::rc::Rc::from("-")), None);
        while let Some((l, c)) = self.engine.next_synthetic() {
            self.engine.process(&l, None, Some(c));
        }
        self.engine.maybe_tick();
        self
    }

    /// Lets time pass to `t` with periodic ticks and no events.
    fn idle(&mut self, t: i64) -> &mut Self {
        let now = self.clock.now() - 1_000_000;
        for s in now..=t {
            self.clock.set(1_000_000 + s);
            self.engine.maybe_tick();
            while let Some((l, c)) = self.engine.next_synthetic() {
                self.engine.process(&l, None, Some(c));
            }
        }
        self
    }

    fn out(&self) -> Vec<String> {
        self.out.0.borrow().clone()
    }
}

const SWT: &str = "type=SingleWithThreshold\nptype=RegExp\npattern=fail (\\S+)\ndesc=fails $1\naction=write - FIRE %s\naction2=write - END %s\nwindow=3\nthresh=2\n";

#[test]
fn threshold_window_is_inclusive() {
    let mut h = Harness::new(SWT);
    h.at(0, "fail a").at(3, "fail a");
    assert_eq!(h.out(), vec!["FIRE fails a"]);
    let mut h = Harness::new(SWT);
    h.at(0, "fail a").at(4, "fail a");
    assert!(h.out().is_empty(), "{:?}", h.out());
}

#[test]
fn threshold_action2_when_window_of_first_event_ends() {
    let mut h = Harness::new(SWT);
    h.at(0, "fail a").at(1, "fail a").at(2, "fail a");
    h.idle(3);
    assert_eq!(h.out(), vec!["FIRE fails a"]);
    h.idle(4);
    assert_eq!(h.out(), vec!["FIRE fails a", "END fails a"]);
}

#[test]
fn threshold_slides() {
    let mut h = Harness::new("type=SingleWithThreshold\nptype=SubStr\npattern=x\ndesc=d\naction=write - FIRE\nwindow=3\nthresh=3\n");
    // 0, 2: two events; at 4 the first drops out (4-0 > 3), so 2, 4 count; 5 makes three.
    h.at(0, "x").at(2, "x").at(4, "x");
    assert!(h.out().is_empty());
    h.at(5, "x");
    assert_eq!(h.out(), vec!["FIRE"]);
}

const PWW: &str = "type=PairWithWindow\nptype=RegExp\npattern=down (\\S+)\ndesc=down $1\naction=write - TIMEOUT %s\nptype2=RegExp\npattern2=up $1\ndesc2=up %1\naction2=write - UP %s\nwindow=2\n";

#[test]
fn pair_with_window_edges() {
    let mut h = Harness::new(PWW);
    h.at(0, "down a").at(2, "up a");
    assert_eq!(h.out(), vec!["UP up a"]);
    let mut h = Harness::new(PWW);
    h.at(0, "down a").idle(2);
    assert!(h.out().is_empty());
    h.idle(3);
    assert_eq!(h.out(), vec!["TIMEOUT down a"]);
}

#[test]
fn pair_window_expiry_between_events() {
    let rules = "type=Pair\nptype=RegExp\npattern=down (\\S+)\ndesc=down $1\naction=write - DOWN %s\nptype2=RegExp\npattern2=up $1\ndesc2=up\naction2=write - UP\nwindow=2\n";
    let mut h = Harness::new(rules);
    h.at(0, "down a").idle(3).at(4, "up a");
    assert_eq!(h.out(), vec!["DOWN down a"]);
    // An expired but unswept operation is dropped without action2 (cleantime 100).
    let file = parse_rule_text("t.sec", rules.as_bytes(), &LoadOptions::default());
    let clock = TestClock::new(0);
    let out = Recorder::default();
    let opts = EngineOptions {
        cleantime: 100,
        ..EngineOptions::default()
    };
    let mut e = Engine::new(
        compile::compile(&[file], 0),
        opts,
        Box::new(clock.clone()),
        Box::new(out.clone()),
    );
    e.process(b"down a", None, None);
    clock.set(5);
    e.process(b"up a", None, None);
    assert_eq!(*out.0.borrow(), vec!["DOWN down a"]);
}

#[test]
fn suppress_window() {
    let mut h = Harness::new(
        "type=SingleWithSuppress\nptype=SubStr\npattern=x\ndesc=d\naction=write - FIRE\nwindow=2\n",
    );
    h.at(0, "x").at(1, "x").at(2, "x");
    assert_eq!(h.out().len(), 1);
    h.at(3, "x");
    assert_eq!(h.out().len(), 2);
}

#[test]
fn context_lifetime_and_lazy_expiry() {
    let rules = "type=Single\nptype=SubStr\npattern=start\ndesc=creator\naction=create C 2 (write - EXPIRED %s)\n\n\
                 type=Single\nptype=SubStr\npattern=check\ncontext=C\ndesc=d\naction=write - ALIVE\n";
    let mut h = Harness::new(rules);
    h.at(0, "start").at(2, "check");
    assert_eq!(h.out(), vec!["ALIVE"]);
    // No tick in between: the reference at 3 finds it stale and runs its list first.
    let file = parse_rule_text("t.sec", rules.as_bytes(), &LoadOptions::default());
    let clock = TestClock::new(0);
    let out = Recorder::default();
    let opts = EngineOptions {
        cleantime: 100,
        ..EngineOptions::default()
    };
    let mut e = Engine::new(
        compile::compile(&[file], 0),
        opts,
        Box::new(clock.clone()),
        Box::new(out.clone()),
    );
    e.process(b"start", None, None);
    clock.set(3);
    e.process(b"check", None, None);
    assert_eq!(*out.0.borrow(), vec!["EXPIRED creator"]);
}

#[test]
fn two_thresholds() {
    let rules = "type=SingleWith2Thresholds\nptype=RegExp\npattern=(hi|lo) (\\S+)\ndesc=$1 $2\naction=write - UP %s\nwindow=2\nthresh=2\ndesc2=clear $2\naction2=write - DOWN %s\nwindow2=2\nthresh2=0\n";
    let mut h = Harness::new(rules);
    h.at(0, "hi a").at(1, "hi a");
    assert_eq!(h.out(), vec!["UP hi a"]);
    h.at(2, "hi a");
    // The event at 2 restarts the quiet window; DOWN comes when 2 s pass with none.
    h.idle(4);
    assert_eq!(h.out(), vec!["UP hi a"]);
    h.idle(5);
    assert_eq!(h.out(), vec!["UP hi a", "DOWN clear a"]);
}

#[test]
fn event_group_slide_and_end() {
    let rules = "type=EventGroup2\nptype=SubStr\npattern=a\nptype2=SubStr\npattern2=b\ndesc=g\naction=write - FIRE\nslide=write - SLIDE\nend=write - END\nwindow=2\n";
    let mut h = Harness::new(rules);
    h.at(0, "a").at(2, "a");
    h.idle(3);
    assert_eq!(h.out(), vec!["SLIDE"]);
    h.at(4, "b");
    assert_eq!(h.out(), vec!["SLIDE", "FIRE"]);
    h.idle(7);
    assert_eq!(h.out(), vec!["SLIDE", "FIRE", "END"]);
}

#[test]
fn delayed_events_come_due() {
    let mut h = Harness::new("type=Single\nptype=SubStr\npattern=go\ndesc=d\naction=event 3 later\n\ntype=Single\nptype=SubStr\npattern=later\ndesc=d\naction=write - LATER\n");
    h.at(0, "go").idle(2);
    assert!(h.out().is_empty());
    h.idle(3);
    assert_eq!(h.out(), vec!["LATER"]);
}

#[test]
fn or_and_quirk_is_secs() {
    // A || B && C is evaluated by SEC 2.9.1 as A && B.
    let rules = "type=Single\nptype=SubStr\npattern=mk\ndesc=d\naction=create A; create B\n\n\
                 type=Single\nptype=SubStr\npattern=test\ncontext=A || B && C\ndesc=d\naction=write - TRUE\n";
    let mut h = Harness::new(rules);
    h.at(0, "mk").at(0, "test");
    assert_eq!(h.out(), vec!["TRUE"]);
}
