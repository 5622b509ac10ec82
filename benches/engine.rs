//! Benchmarks of the engine's hot paths: the rule prefilter, match-variable substitution,
//! the timer structure, and the per-line cost of a rule set as it grows from 10 to 1000
//! rules that do not match (issue #6: at most 1.5x). Run with `cargo bench --bench engine`;
//! each figure is the median of several runs, in nanoseconds per operation.

use std::time::Instant;

use rsec::config::action::{CloseKind, Command, WriteKind};
use rsec::config::{parse_rule_text, LoadOptions};
use rsec::engine::compile::{compile, Program};
use rsec::engine::subst::{subst_matchvars, MatchCache, MatchVars};
use rsec::engine::{ChildMode, Effects, Engine, EngineOptions, TestClock};

/// Effects that go nowhere (the engine's own cost is measured).
struct Nowhere;

impl Effects for Nowhere {
    fn write(&mut self, _: WriteKind, _: &[u8], _: &[u8]) {}
    fn close(&mut self, _: CloseKind, _: &[u8]) {}
    fn command(&mut self, _: Command<Vec<u8>>, _: ChildMode) {}
}

/// The median of `runs` timings of `f`, divided by `per` (ns per operation).
fn median_ns(runs: usize, per: usize, mut f: impl FnMut()) -> f64 {
    let mut t: Vec<f64> = (0..runs)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64() * 1e9 / per as f64
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[runs / 2]
}

/// Syslog-like lines, none of which holds an `[E.....]` code or a `rule NNNN` marker.
fn lines(n: usize) -> Vec<Vec<u8>> {
    let progs = [
        "sshd[4121]",
        "kernel:",
        "CRON[991]",
        "postfix/smtpd[77]",
        "nginx:",
    ];
    (0..n)
        .map(|i| {
            format!(
                "Nov 22 08:{:02}:{:02} host{:02} {} session {} opened for user user{:04} from 10.{}.{}.{} port {}",
                i / 60 % 60,
                i % 60,
                i % 40,
                progs[i % progs.len()],
                i,
                i % 5000,
                i % 256,
                i / 256 % 256,
                i % 200,
                1024 + i % 50000
            )
            .into_bytes()
        })
        .collect()
}

/// `n` rules that never match those lines: half SubStr codes, half RegExp with captures.
fn nonmatching_rules(n: usize) -> Program {
    let mut s = String::new();
    for i in 0..n {
        if i % 2 == 0 {
            s.push_str(&format!(
                "type=Single\nptype=SubStr\npattern=[E{i:05}]\ndesc=code {i}\naction=write - %s\n\n"
            ));
        } else {
            s.push_str(&format!(
                "type=Single\nptype=RegExp\npattern=app{i}\\[(\\d+)\\]: rule {i} fired for (\\S+)\ndesc=rule $1 $2\naction=write - %s\n\n"
            ));
        }
    }
    let f = parse_rule_text("bench.sec", s.as_bytes(), &LoadOptions::default());
    assert_eq!(f.rules.len(), n);
    compile(&[f], 0)
}

fn engine(prog: Program, clock: &TestClock) -> Engine {
    Engine::new(
        prog,
        EngineOptions::default(),
        Box::new(clock.clone()),
        Box::new(Nowhere),
    )
}

fn per_line(n_rules: usize, input: &[Vec<u8>]) -> f64 {
    let clock = TestClock::new(1_000_000);
    let mut e = engine(nonmatching_rules(n_rules), &clock);
    median_ns(5, input.len(), || {
        for l in input {
            e.process(l, None, None);
        }
    })
}

fn prefilter(input: &[Vec<u8>]) {
    for n in [10, 100, 1000] {
        let prog = nonmatching_rules(n);
        let p = &prog.prefilters[0];
        let mut bits = Vec::new();
        let ns = median_ns(5, input.len(), || {
            for l in input {
                p.candidates(l, &mut bits);
            }
        });
        println!("prefilter, {n:>4} rules: {ns:7.1} ns/line");
    }
}

fn substitution() {
    let mut vars = MatchVars::default();
    vars.set(
        "0",
        Some(b"sshd[4121]: Failed password for root from 10.1.2.3 port 22".to_vec()),
    );
    vars.set(1usize, Some(b"root".to_vec()));
    vars.set(2usize, Some(b"10.1.2.3".to_vec()));
    vars.set("_inputsrc", Some(b"/var/log/auth.log".to_vec()));
    let cache = MatchCache::default();
    let text = b"ssh failure for $1 from $2 (line: $0) in $+{_inputsrc}";
    let n = 200_000;
    let mut total = 0;
    let ns = median_ns(5, n, || {
        for _ in 0..n {
            total += subst_matchvars(&vars, &cache, text, b'$').len();
        }
    });
    assert!(total > 0);
    println!("substitution of 4 variables: {ns:7.1} ns/call");
}

/// Timer ticks with `live` contexts alive and none due: the cost must not follow `live`.
fn timers() {
    for live in [1_000, 100_000] {
        let mut s = String::new();
        s.push_str("type=Single\nptype=RegExp\npattern=make (\\d+)\ndesc=make\naction=create CTX_$1 100000\n");
        let f = parse_rule_text("t.sec", s.as_bytes(), &LoadOptions::default());
        let clock = TestClock::new(1_000_000);
        let mut e = engine(compile(&[f], 0), &clock);
        for i in 0..live {
            e.process(format!("make {i}").as_bytes(), None, None);
        }
        let ticks = 20_000;
        let ns = median_ns(5, ticks, || {
            for _ in 0..ticks {
                clock.advance(1);
                e.maybe_tick();
            }
        });
        println!("timer tick, {live:>6} live contexts, none due: {ns:7.1} ns/tick");
    }
}

fn main() {
    let input = lines(100_000);
    prefilter(&input);
    substitution();
    timers();
    let few = per_line(10, &input);
    let many = per_line(1000, &input);
    println!("engine per line, 10 non-matching rules: {few:7.1} ns");
    println!("engine per line, 1000 non-matching rules: {many:7.1} ns");
    println!(
        "1000 / 10 rules: {:.2}x per line (target at most 1.5x)",
        many / few
    );
}
