//! Benchmark: completing Pair operations with 3 000 vs 12 000 open operations.
//! Run with `cargo bench --bench pairops`; prints, per size, the median time to start
//! every operation and to offer each one the line that completes it (plus as many lines
//! that pass the generic pattern2 but complete nothing), per line.
//! The per-line completion cost must not grow with the number of open operations.

use std::time::Instant;

use rsec::config::action::{CloseKind, Command, WriteKind};
use rsec::config::{parse_rule_text, LoadOptions};
use rsec::engine::compile::compile;
use rsec::engine::subst::Bytes;
use rsec::engine::{ChildMode, Effects, Engine, EngineOptions, TestClock};

/// Counts written lines.
struct Count(std::rc::Rc<std::cell::Cell<usize>>);

impl Effects for Count {
    fn write(&mut self, _kind: WriteKind, _target: &[u8], _text: &[u8]) {
        self.0.set(self.0.get() + 1);
    }
    fn close(&mut self, _kind: CloseKind, _target: &[u8]) {}
    fn command(&mut self, _cmd: Command<Bytes>, _mode: ChildMode) {}
}

const RULES: &str = "type=PairWithWindow
ptype=RegExp
pattern=^\\w+ +\\d+ [\\d:]+ (\\S+) \\d+: %LINK-3-UPDOWN: Interface (\\S+), changed state to down
ptype2=RegExp
pattern2=^\\w+ +\\d+ [\\d:]+ $1 \\d+: %LINK-3-UPDOWN: Interface $2, changed state to up
desc=link $2 on $1 down
action=write - %s and did not recover
desc2=link %2 on %1 flapped
action2=write - %s
window=3600
";

fn line(host: usize, iface: usize, state: &str) -> String {
    format!(
        "Nov 22 08:00:00 host{host:03} 123: %LINK-3-UPDOWN: Interface GigabitEthernet0/0/{iface}, changed state to {state}"
    )
}

/// (start seconds, completion seconds per line) for `keys` operations on 100 hosts.
fn run(keys: usize) -> (f64, f64) {
    let file = parse_rule_text("bench.sec", RULES.as_bytes(), &LoadOptions::default());
    let prog = compile(&[file], 0);
    let written = std::rc::Rc::new(std::cell::Cell::new(0));
    let clock = TestClock::new(1_000_000);
    let mut e = Engine::new(
        prog,
        EngineOptions::default(),
        Box::new(clock),
        Box::new(Count(written.clone())),
    );
    let src: Option<std::rc::Rc<str>> = Some(std::rc::Rc::from("-"));
    let ifaces = keys / 100;
    let t = Instant::now();
    for i in 0..ifaces {
        for h in 0..100 {
            e.process(line(h, i, "down").as_bytes(), src.clone(), None);
        }
    }
    let start = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut n = 0;
    for i in 0..ifaces {
        for h in 0..100 {
            // Passes the generic pattern2, matches no open operation.
            e.process(line(h, i + ifaces, "up").as_bytes(), src.clone(), None);
            e.process(line(h, i, "up").as_bytes(), src.clone(), None);
            n += 2;
        }
    }
    let done = t.elapsed().as_secs_f64();
    assert_eq!(
        written.get(),
        ifaces * 100,
        "every operation completes once"
    );
    (start, done / n as f64)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    for keys in [3_000, 12_000] {
        let runs: Vec<(f64, f64)> = (0..5).map(|_| run(keys)).collect();
        let start = median(runs.iter().map(|r| r.0).collect());
        let per = median(runs.iter().map(|r| r.1).collect());
        println!(
            "pairops {keys:>6} open ops: start all {:>7.1} ms, completion {:>6.2} us/line",
            start * 1e3,
            per * 1e6
        );
    }
}
