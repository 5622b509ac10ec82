//! Differential engine suite: every case under `tests/cases/` is run by real SEC 2.9.1 and by
//! rsec at the same time, with the same input and timing, and their outputs are compared.
//!
//! Environment:
//! * `RSEC_CASES=glob[,glob]` runs a subset (`*` and `?`).
//! * `RSEC_SEC_ONLY=1` runs only SEC and prints what each case compares (for writing cases).
//!   With `RSEC_SEC_RUNS=N` (N>1) it runs SEC N times side by side and reports cases whose
//!   output is not stable across runs.
//! * `RSEC_SHOW_LOG=1` adds the log file to the printed outputs.
//! * `RSEC_THREADS=N` sets how many cases run concurrently (default 8).
//! * `RSEC_SEC_BIN=path` selects SEC; `RSEC_ACTUAL_BIN=path` replaces rsec (e.g. SEC itself).
//! * With no SEC found the suite fails when `CI=true`, else it is skipped with a message.
//!
//! Run with `cargo test --test engine_diff -- --nocapture` to see the table.

mod engine_common;

use engine_common::*;
use std::path::{Path, PathBuf};
use std::time::Instant;

fn cases_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases")
}

fn env_flag(name: &str) -> bool {
    matches!(std::env::var(name).as_deref(), Ok(v) if !v.is_empty() && v != "0")
}

enum Outcome {
    Ok,
    Diff(String),
    Error(String),
}

#[test]
fn engine_diff() {
    let Some(sec) = find_sec() else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("real SEC (sec) not found, and CI=true: the differential suite cannot run");
        }
        println!("engine_diff: real SEC not found (install Debian's `sec`); skipping");
        return;
    };
    let filter = std::env::var("RSEC_CASES").ok();
    let threads: usize = std::env::var("RSEC_THREADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(8);
    let cases = discover(&cases_root(), filter.as_deref());
    assert!(
        !cases.is_empty(),
        "no cases selected under {}",
        cases_root().display()
    );
    let started = Instant::now();

    if env_flag("RSEC_SEC_ONLY") {
        sec_only(cases, sec, threads);
        println!("wall time {:.1}s", started.elapsed().as_secs_f64());
        return;
    }

    let actual: PathBuf = std::env::var("RSEC_ACTUAL_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_BIN_EXE_rsec")));
    let results = parallel_map(cases, threads, move |c| match c {
        Err(e) => ("?".to_string(), Outcome::Error(e)),
        Ok(case) => {
            let progs = [("sec", sec.as_path()), ("rsec", actual.as_path())];
            match run_case(&case, &progs) {
                Err(e) => (case.name.clone(), Outcome::Error(e)),
                Ok(outs) => match compare_runs(&case, &outs[0], &outs[1]) {
                    None => {
                        for o in &outs {
                            let _ = std::fs::remove_dir_all(&o.workdir);
                        }
                        (case.name.clone(), Outcome::Ok)
                    }
                    Some(mut d) => {
                        d.push_str(&format!(
                            "  (readme: {})\n  (workdirs kept: {} {})\n",
                            case.readme,
                            outs[0].workdir.display(),
                            outs[1].workdir.display()
                        ));
                        if !outs[1].stderr.trim().is_empty() {
                            d.push_str("  rsec stderr:\n");
                            for l in outs[1].stderr.lines().take(20) {
                                d.push_str(&format!("    {l}\n"));
                            }
                        }
                        (case.name.clone(), Outcome::Diff(d))
                    }
                },
            }
        }
    });

    let width = results
        .iter()
        .map(|(n, _)| n.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let mut bad = Vec::new();
    println!("{:width$}  result", "case");
    for (name, o) in &results {
        let tag = match o {
            Outcome::Ok => "OK",
            Outcome::Diff(_) => "DIFF",
            Outcome::Error(_) => "ERROR",
        };
        println!("{name:width$}  {tag}");
    }
    for (name, o) in &results {
        match o {
            Outcome::Ok => {}
            Outcome::Diff(d) => {
                println!("\n### DIFF {name}\n{d}");
                bad.push(name.clone());
            }
            Outcome::Error(e) => {
                println!("\n### ERROR {name}\n  {e}");
                bad.push(name.clone());
            }
        }
    }
    println!(
        "\n{} cases, {} OK, {} failed, wall time {:.1}s",
        results.len(),
        results.len() - bad.len(),
        bad.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        bad.is_empty(),
        "cases differing from SEC: {}",
        bad.join(" ")
    );
}

/// Run only SEC: print outputs, or with `RSEC_SEC_RUNS=N` check stability across N runs.
fn sec_only(cases: Vec<Result<Case, String>>, sec: PathBuf, threads: usize) {
    let runs: usize = std::env::var("RSEC_SEC_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1)
        .max(1);
    let results = parallel_map(cases, threads, move |c| match c {
        Err(e) => (false, format!("ERROR {e}\n")),
        Ok(case) => {
            let progs: Vec<(&str, &Path)> = (0..runs).map(|_| ("sec", sec.as_path())).collect();
            match run_case(&case, &progs) {
                Err(e) => (false, format!("ERROR {}: {e}\n", case.name)),
                Ok(outs) => {
                    let mut s = show_run(&case, &outs[0]);
                    let mut stable = true;
                    for o in &outs[1..] {
                        if let Some(d) = compare_runs(&case, &outs[0], o) {
                            stable = false;
                            s.push_str(&format!("UNSTABLE {}:\n{d}", case.name));
                        }
                    }
                    for o in &outs {
                        let _ = std::fs::remove_dir_all(&o.workdir);
                    }
                    (stable, s)
                }
            }
        }
    });
    let mut unstable = 0;
    for (ok, s) in &results {
        println!("{s}");
        if !ok {
            unstable += 1;
        }
    }
    if runs > 1 {
        println!(
            "{} cases, {} unstable across {runs} runs",
            results.len(),
            unstable
        );
    }
}
