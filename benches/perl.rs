//! Benchmark: the cost of one evaluation of the Perl points the engine uses most.
//! Run with `cargo bench --bench perl`; prints the median of several runs per native
//! evaluation, and the median and 90th percentile of single bridge round trips.
//!
//! The native figures go through `rsec::perl::Interp` the way `engine::perl` drives it
//! (the engine's own entry points are crate-private): a `->` operand is a call of the code
//! reference compiled once at load, with the parameter converted to a Perl string; an
//! `=( )` operand is a compile of its text (a cache lookup after the first time) and a
//! scalar-context eval. The bridge figure is a call of a code reference kept in the perl
//! child (`rsec::perl::bridge::call`), with one string argument, a full round trip.

use std::hint::black_box;
use std::time::Instant;

use rsec::perl::bridge::{self, BValue, Ctx};
use rsec::perl::{Context, Interp, Value};

/// Median over `runs` runs of `iters` calls of `f`, in nanoseconds per call.
fn median_ns(runs: usize, iters: u32, mut f: impl FnMut()) -> f64 {
    let mut per: Vec<f64> = (0..runs)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..iters {
                f();
            }
            t.elapsed().as_nanos() as f64 / f64::from(iters)
        })
        .collect();
    per.sort_by(|a, b| a.total_cmp(b));
    per[per.len() / 2]
}

/// Median and 90th percentile of `n` single calls of `f`, each timed on its own, in
/// nanoseconds (for round trips, whose cost varies with scheduling).
fn latency_ns(n: usize, mut f: impl FnMut()) -> (f64, f64) {
    let mut per: Vec<f64> = (0..n)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_nanos() as f64
        })
        .collect();
    per.sort_by(|a, b| a.total_cmp(b));
    (per[n / 2], per[n * 9 / 10])
}

fn main() {
    let mut p = Interp::new();

    // `$1 -> ( sub { $_[0] > 1024 } )`
    let code = p.compile("sub { $_[0] > 1024 }").expect("compile");
    let f = p.eval(&code, Context::Scalar).expect("eval").remove(0);
    let param = b"2048".to_vec();
    let arrow = median_ns(11, 200_000, || {
        let arg = Value::from(String::from_utf8_lossy(&param).into_owned());
        let r = p.call(&f, vec![arg], Context::Scalar).expect("call");
        black_box(r.first().is_some_and(Value::truthy));
    });
    println!("native  ->  numeric comparison: {arrow:8.0} ns per evaluation (budget 1000 ns)");

    // `=("$1" eq "x")` after substitution of $1
    let text = "(\"x\" eq \"x\")";
    let ecode = median_ns(11, 200_000, || {
        let c = p.compile(black_box(text)).expect("compile");
        let r = p.eval(&c, Context::Scalar).expect("eval");
        black_box(r.first().is_some_and(Value::truthy));
    });
    println!("native  =() string comparison:  {ecode:8.0} ns per evaluation (budget 1000 ns)");

    if !bridge::perl_available() {
        println!("bridge: perl is not installed, skipped");
        return;
    }
    let f = bridge::compile(b"sub { $_[0] > 1024 }")
        .expect("bridge")
        .expect("code ref");
    let args = [BValue::str("2048")];
    let mut call = || {
        let r = bridge::call(&f, &args, Ctx::Scalar).expect("bridge call");
        black_box(r.first().is_some_and(BValue::truthy));
    };
    let (med, p90) = latency_ns(50_000, &mut call);
    println!(
        "bridge  ->  numeric comparison: {med:8.0} ns per call, p90 {p90:6.0} ns (budget 50000 ns)"
    );
    let mut ev = || {
        let r = bridge::eval(b"\"x\" eq \"x\"", Ctx::Scalar).expect("bridge eval");
        black_box(r.first().is_some_and(BValue::truthy));
    };
    let (med, p90) = latency_ns(50_000, &mut ev);
    println!(
        "bridge  =() string comparison:  {med:8.0} ns per eval, p90 {p90:6.0} ns (budget 50000 ns)"
    );
}
