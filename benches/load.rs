//! Benchmark: loading (parsing, validating, compiling) 10 000 rules.
//! Run with `cargo bench --bench load`; prints the median of several runs.

use std::time::Instant;

use rsec::config::{parse_rule_text, LoadOptions};
use rsec::engine::compile::compile;

fn rules(n: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        match i % 5 {
            0 => s.push_str(&format!(
                "type=Single\nptype=RegExp\npattern=sshd\\[\\d+\\]: Failed password for (\\S+) from ([\\d.]+) port {i}\ndesc=fail $1 $2\naction=write - %s; create C_$1 60 (write - expired $1)\n\n"
            )),
            1 => s.push_str(&format!(
                "type=SingleWithThreshold\nptype=RegExp\npattern=kernel: eth{i} link (\\w+)\ncontext=!SUPPRESS_{i} && (A || B)\ndesc=link $1\naction=write - %s\nwindow=60\nthresh=5\n\n"
            )),
            2 => s.push_str(&format!(
                "type=Single\nptype=SubStr\npattern=[E{i:05}]\ndesc=error {i}\naction=logonly; event E{i}\n\n"
            )),
            3 => s.push_str(&format!(
                "type=PairWithWindow\nptype=RegExp\npattern=down (\\S+) {i}\ndesc=down $1\naction=write - %s\nptype2=RegExp\npattern2=up $1 {i}\ndesc2=up %1\naction2=write - %s\nwindow=30\n\n"
            )),
            _ => s.push_str(&format!(
                "type=Calendar\ntime=*/5 * * * *\ndesc=tick {i}\naction=if %x ( write - a ) else ( assign %x 1 )\n\n"
            )),
        }
    }
    s
}

fn main() {
    let text = rules(10_000);
    let mut times = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let file = parse_rule_text("bench.sec", text.as_bytes(), &LoadOptions::default());
        assert_eq!(file.rules.len(), 10_000);
        let prog = compile(&[file], 0);
        assert_eq!(prog.files[0].rules.len(), 10_000);
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    println!(
        "load+compile 10000 rules: median {:.3} s (min {:.3} s, max {:.3} s)",
        times[2], times[0], times[4]
    );
}
