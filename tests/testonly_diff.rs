//! Differential test of rule-file loading: for every rule file of the shared corpus, the
//! LogZilla seed examples and our own rejection fixtures, real SEC 2.9.1 and rsec are run
//! with `--testonly --conf=FILE --log=TMP` (plus a fixture's `# args:` line), and must agree
//! on the exit status, the number of loaded rules, the line numbers of `Rule in FILE at line
//! N` messages, and the line numbers of bad (non keyword=value) lines.
//!
//! Run with `cargo test --test testonly_diff -- --nocapture` to see the table.

mod common;

use common::{TestonlyLog, TestonlyRun};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(60);

/// The rule files to compare, in a stable order.
fn rule_files() -> Vec<PathBuf> {
    let shared = common::shared_dir();
    let mut files = common::files_under(&shared.join("corpus"));
    files.extend(common::files_under(&shared.join("seeds-examples/logzilla")));
    files.extend(
        common::files_under(&common::reject_fixtures_dir())
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "sec")),
    );
    files
}

/// The file name as shown in the table: relative to `../shared` or to the repository.
fn display_name(path: &Path) -> String {
    let shared = common::shared_dir();
    let root = common::repo_root();
    path.strip_prefix(&shared)
        .or_else(|_| path.strip_prefix(&root))
        .unwrap_or(path)
        .display()
        .to_string()
}

/// One side's result, reduced to what is compared.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    exit: Option<i32>,
    /// Loaded-rule count per file name; `None` if the log has no count for the file.
    loaded: Option<usize>,
    rule_lines: BTreeSet<usize>,
    bad_lines: BTreeSet<usize>,
}

impl Outcome {
    fn of(run: &TestonlyRun) -> Outcome {
        // One --conf per run: every count in the log belongs to that file.
        let loaded = match run.log.loaded.len() {
            0 => None,
            _ => Some(run.log.loaded.values().sum()),
        };
        Outcome {
            exit: run.exit,
            loaded,
            rule_lines: run.log.rule_line_numbers(),
            bad_lines: run.log.bad_line_numbers(),
        }
    }

    fn cell(&self) -> String {
        let opt = |v: Option<usize>| v.map_or("-".to_owned(), |v| v.to_string());
        format!(
            "{:>2} {:>3} {}",
            self.exit.map_or("-".to_owned(), |e| e.to_string()),
            opt(self.loaded),
            abbreviate(&self.rule_lines, &self.bad_lines)
        )
    }
}

/// `3,9,15,+4 b7` style summary of rule lines and bad lines for the table.
fn abbreviate(rule_lines: &BTreeSet<usize>, bad_lines: &BTreeSet<usize>) -> String {
    let mut s: Vec<String> = rule_lines.iter().take(5).map(usize::to_string).collect();
    if rule_lines.len() > 5 {
        s.push(format!("+{}", rule_lines.len() - 5));
    }
    let mut out = if s.is_empty() {
        "[]".to_owned()
    } else {
        format!("[{}]", s.join(","))
    };
    if !bad_lines.is_empty() {
        let b: Vec<String> = bad_lines.iter().take(3).map(usize::to_string).collect();
        let more = if bad_lines.len() > 3 { ",..." } else { "" };
        out.push_str(&format!(" b{}{more}", b.join(",")));
    }
    out
}

fn list(lines: &BTreeSet<usize>) -> String {
    let v: Vec<String> = lines.iter().map(usize::to_string).collect();
    v.join(", ")
}

/// The messages a log has for the given line numbers, one line each, for mismatch reports.
fn describe(log: &TestonlyLog, lines: &BTreeSet<usize>, indent: &str) -> String {
    let mut out = String::new();
    for n in lines {
        for ((_, line), msgs) in &log.rule_lines {
            if line == n {
                for m in msgs {
                    out.push_str(&format!("{indent}line {n}: {}\n", shorten(m)));
                }
            }
        }
        for ((_, line), text) in &log.bad_lines {
            if line == n {
                out.push_str(&format!("{indent}line {n}: bad line ({})\n", shorten(text)));
            }
        }
    }
    out
}

fn shorten(s: &str) -> String {
    let s = s.lines().next().unwrap_or_default();
    match s.char_indices().nth(140) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_owned(),
    }
}

/// A readable account of how rsec differs from SEC on one file.
fn mismatch_report(name: &str, sec: &TestonlyRun, rsec: &TestonlyRun) -> String {
    let (s, r) = (Outcome::of(sec), Outcome::of(rsec));
    let mut out = format!("{name}:\n");
    if let Some(e) = &rsec.error {
        out.push_str(&format!("  rsec: {e}\n"));
    }
    if s.exit != r.exit {
        out.push_str(&format!(
            "  exit status: SEC {:?}, rsec {:?}\n",
            s.exit, r.exit
        ));
    }
    if s.loaded != r.loaded {
        out.push_str(&format!(
            "  rules loaded: SEC {:?}, rsec {:?}\n",
            s.loaded, r.loaded
        ));
    }
    let only = |a: &BTreeSet<usize>, b: &BTreeSet<usize>| -> BTreeSet<usize> {
        a.difference(b).copied().collect()
    };
    let sec_only = only(&s.rule_lines, &r.rule_lines);
    if !sec_only.is_empty() {
        out.push_str(&format!(
            "  'Rule in' lines only SEC reports: {}\n{}",
            list(&sec_only),
            describe(&sec.log, &sec_only, "    SEC: ")
        ));
    }
    let rsec_only = only(&r.rule_lines, &s.rule_lines);
    if !rsec_only.is_empty() {
        out.push_str(&format!(
            "  'Rule in' lines only rsec reports: {}\n{}",
            list(&rsec_only),
            describe(&rsec.log, &rsec_only, "    rsec: ")
        ));
    }
    let sec_only = only(&s.bad_lines, &r.bad_lines);
    if !sec_only.is_empty() {
        out.push_str(&format!(
            "  bad lines only SEC reports: {}\n{}",
            list(&sec_only),
            describe(&sec.log, &sec_only, "    SEC: ")
        ));
    }
    let rsec_only = only(&r.bad_lines, &s.bad_lines);
    if !rsec_only.is_empty() {
        out.push_str(&format!(
            "  bad lines only rsec reports: {}\n{}",
            list(&rsec_only),
            describe(&rsec.log, &rsec_only, "    rsec: ")
        ));
    }
    out
}

/// The known differences of tests/fixtures/known-gaps.txt: (file, line, rsec rejects).
fn known_gaps() -> Vec<(String, usize, bool)> {
    let path = common::repo_root().join("tests/fixtures/known-gaps.txt");
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let file = f.next()?.to_owned();
            let line = f.next()?.parse().ok()?;
            let who = f.next()?;
            Some((file, line, who == "rsec"))
        })
        .collect()
}

#[test]
fn testonly_matches_real_sec() {
    let Some(sec) = common::sec_or_skip("testonly_matches_real_sec") else {
        return;
    };
    let rsec = common::rsec_bin();
    let files = rule_files();
    assert!(
        files.len() > 20,
        "expected the shared corpus and the fixtures, found only {} rule files; is ../shared there?",
        files.len()
    );

    // SEC needs ~50 ms to start: run the files on a few threads, SEC and rsec side by side.
    let results: Mutex<Vec<Option<(TestonlyRun, TestonlyRun)>>> =
        Mutex::new(files.iter().map(|_| None).collect());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get() * 2);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let Some(file) = files.get(i) else { break };
                let args = common::fixture_args(file);
                let s = common::run_testonly(&sec, file, &args, TIMEOUT);
                let r = common::run_testonly(&rsec, file, &args, TIMEOUT);
                results.lock().unwrap()[i] = Some((s, r));
            });
        }
    });
    let results = results.into_inner().unwrap();

    let width = files
        .iter()
        .map(|f| display_name(f).len())
        .max()
        .unwrap_or(0);
    println!(
        "{:width$}  {:<34}  {:<34}  result",
        "file", "SEC: exit loaded [rule lines] bN", "rsec: exit loaded [rule lines] bN"
    );
    let gaps = known_gaps();
    let mut known = 0;
    let mut mismatches = Vec::new();
    let mut sec_failures = Vec::new();
    for (file, result) in files.iter().zip(results) {
        let name = display_name(file);
        let (s, r) = result.expect("every file was run");
        if let Some(e) = &s.error {
            sec_failures.push(format!("{name}: SEC {e}"));
        }
        let (mut so, ro) = (Outcome::of(&s), Outcome::of(&r));
        for (line, rsec_rejects) in gaps.iter().filter(|g| g.0 == name).map(|g| (g.1, g.2)) {
            // A known gap: expect rsec to differ from SEC on exactly this rule.
            let changed = if rsec_rejects {
                so.rule_lines.insert(line)
            } else {
                so.rule_lines.remove(&line)
            };
            if changed {
                so.loaded = so.loaded.map(|n| {
                    if rsec_rejects {
                        n.saturating_sub(1)
                    } else {
                        n + 1
                    }
                });
            }
            known += 1;
        }
        let ok = so == ro && r.error.is_none();
        println!(
            "{name:width$}  {:<34}  {:<34}  {}",
            so.cell(),
            ro.cell(),
            if ok { "OK" } else { "DIFF" }
        );
        if !ok {
            mismatches.push(mismatch_report(&name, &s, &r));
        }
    }
    assert!(sec_failures.is_empty(), "{}", sec_failures.join("\n"));
    println!(
        "{} of {} rule files agree with SEC ({known} known gaps expected, listed in tests/fixtures/known-gaps.txt)",
        files.len() - mismatches.len(),
        files.len()
    );
    assert!(
        mismatches.is_empty(),
        "rsec --testonly differs from SEC 2.9.1 on {} of {} rule files:\n{}",
        mismatches.len(),
        files.len(),
        mismatches.join("")
    );
}

/// Our fixtures' headers record SEC's verdict; make sure they still describe SEC (guards
/// against editing a fixture without re-verifying it).
#[test]
fn fixture_headers_match_real_sec() {
    let Some(sec) = common::sec_or_skip("fixture_headers_match_real_sec") else {
        return;
    };
    let mut stale = Vec::new();
    for file in common::files_under(&common::reject_fixtures_dir()) {
        let text = String::from_utf8_lossy(&std::fs::read(&file).unwrap()).into_owned();
        let Some(status) = text
            .lines()
            .find_map(|l| l.strip_prefix("# exit status "))
            .and_then(|l| l.split(';').next())
            .and_then(|n| n.trim().parse::<i32>().ok())
        else {
            stale.push(format!(
                "{}: no '# exit status N;' header",
                display_name(&file)
            ));
            continue;
        };
        let recorded: BTreeSet<usize> = text
            .lines()
            .filter_map(|l| l.strip_prefix("#   line "))
            .filter_map(|l| l.split(':').next()?.parse().ok())
            .collect();
        let run = common::run_testonly(&sec, &file, &common::fixture_args(&file), TIMEOUT);
        let mut actual = run.log.rule_line_numbers();
        actual.extend(run.log.bad_line_numbers());
        if run.exit != Some(status) || actual != recorded {
            stale.push(format!(
                "{}: header says exit {status}, lines {}; SEC gives exit {:?}, lines {}",
                display_name(&file),
                list(&recorded),
                run.exit,
                list(&actual)
            ));
        }
    }
    assert!(
        stale.is_empty(),
        "fixture headers out of date:\n{}",
        stale.join("\n")
    );
}
