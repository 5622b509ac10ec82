//! Helpers shared by the integration tests: where the rsec binary, the real SEC and the shared
//! test data are, temporary directories, and reading SEC-format `--testonly` logs.
//!
//! Every test binary compiles this module and uses only part of it.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The repository root (where Cargo.toml is).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared`, the project's read-only test data, next to the repository (or
/// `../../shared` for a git worktree kept one level deeper, as in `wt/NAME`).
pub fn shared_dir() -> PathBuf {
    let near = repo_root().join("../shared");
    let far = repo_root().join("../../shared");
    if !near.exists() && far.exists() {
        far
    } else {
        near
    }
}

/// Our own fixtures of rule files that SEC rejects (`tests/fixtures/reject`).
pub fn reject_fixtures_dir() -> PathBuf {
    repo_root().join("tests/fixtures/reject")
}

/// The rsec binary built by Cargo for this test run.
pub fn rsec_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_rsec"))
}

/// True when running in CI (`CI=true`): tests that need real SEC fail instead of skipping.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true"))
}

/// The real SEC 2.9.1: `$RSEC_SEC_BIN` if set, else `sec` on `PATH`. It must answer
/// `--version` with "Simple Event Correlator".
pub fn find_sec() -> Option<PathBuf> {
    let candidate = match std::env::var_os("RSEC_SEC_BIN") {
        Some(p) => PathBuf::from(p),
        None => std::env::var_os("PATH")
            .into_iter()
            .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
            .map(|dir| dir.join("sec"))
            .find(|p| p.is_file())?,
    };
    let out = Command::new(&candidate)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout)
        .contains("Simple Event Correlator")
        .then_some(candidate)
}

/// The real SEC, or `None` after printing why the calling test is skipped. Panics instead
/// when `CI=true`, because CI must never skip the comparison silently.
pub fn sec_or_skip(test: &str) -> Option<PathBuf> {
    if let Some(sec) = find_sec() {
        return Some(sec);
    }
    if in_ci() {
        panic!(
            "{test}: real SEC not found (install Debian's `sec` package or set RSEC_SEC_BIN) \
             and CI=true forbids skipping"
        );
    }
    println!(
        "SKIPPED {test}: real SEC not found (install Debian's `sec` package or set \
         RSEC_SEC_BIN); set CI=true to make this a failure"
    );
    None
}

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let dir = std::env::temp_dir().join(format!(
            "rsec-{tag}-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// The path of `name` in this directory, as a string (for command-line arguments).
    pub fn file(&self, name: &str) -> String {
        self.0.join(name).to_string_lossy().into_owned()
    }

    /// Writes `text` to `name` in this directory and returns its path.
    pub fn write(&self, name: &str, text: &str) -> String {
        let p = self.file(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// Appends `text` to `name` in this directory (creating it).
    pub fn append(&self, name: &str, text: &str) {
        use std::io::Write;
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(self.0.join(name))
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Every regular file under `dir`, recursively, sorted.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.is_file() {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Extra command-line arguments a fixture asks for with a first line `# args: ...`.
pub fn fixture_args(path: &Path) -> Vec<String> {
    let text = std::fs::read(path).unwrap_or_default();
    let first = text.split(|&b| b == b'\n').next().unwrap_or_default();
    let first = String::from_utf8_lossy(first);
    match first.strip_prefix("# args:") {
        Some(rest) => rest.split_whitespace().map(str::to_owned).collect(),
        None => Vec::new(),
    }
}

/// What a program did with `--testonly`: its exit status and its parsed log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestonlyRun {
    /// The exit status; `None` if killed by a signal or by our timeout.
    pub exit: Option<i32>,
    /// Set when the program could not be run or timed out.
    pub error: Option<String>,
    pub log: TestonlyLog,
}

/// Runs `bin --testonly --conf=CONF --log=TMP EXTRA...` with stdin closed, killing it after
/// `timeout`.
pub fn run_testonly(bin: &Path, conf: &Path, extra: &[String], timeout: Duration) -> TestonlyRun {
    let tmp = TempDir::new("testonly");
    let log_path = tmp.path().join("testonly.log");
    let mut conf_arg = std::ffi::OsString::from("--conf=");
    conf_arg.push(conf);
    let mut log_arg = std::ffi::OsString::from("--log=");
    log_arg.push(&log_path);
    let child = Command::new(bin)
        .arg("--testonly")
        .arg(conf_arg)
        .arg(log_arg)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => {
            return TestonlyRun {
                exit: None,
                error: Some(format!("cannot run {}: {e}", bin.display())),
                log: TestonlyLog::default(),
            }
        }
    };
    let start = Instant::now();
    let (exit, error) = loop {
        match child.try_wait() {
            Ok(Some(status)) => break (status.code(), None),
            Ok(None) if start.elapsed() > timeout => {
                let _ = child.kill();
                let _ = child.wait();
                break (None, Some(format!("timed out after {timeout:?}")));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => break (None, Some(format!("wait failed: {e}"))),
        }
    };
    let log = std::fs::read(&log_path)
        .map(|bytes| TestonlyLog::parse(&bytes))
        .unwrap_or_default();
    TestonlyRun { exit, error, log }
}

/// The load-time facts of a SEC-format log, per rule file name as the log spells it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TestonlyLog {
    /// `N rules loaded from FILE` gives N; `No valid rules found in configuration file FILE`
    /// gives 0.
    pub loaded: BTreeMap<String, usize>,
    /// `Rule in FILE at line N: MESSAGE`: (FILE, N) with the messages for it. SEC also uses
    /// this prefix for warnings about rules that still load (varmap on SubStr, GoTo to a
    /// missing label, invalid procallin).
    pub rule_lines: BTreeMap<(String, usize), Vec<String>>,
    /// `FILE line N (TEXT): Line not in keyword=value format ...`: (FILE, N) with TEXT.
    pub bad_lines: BTreeMap<(String, usize), String>,
}

const BAD_LINE_SUFFIX: &str = "): Line not in keyword=value format or non-alphanumeric keyword";

impl TestonlyLog {
    /// Parses the lines that carry SEC's `Www Mmm dd hh:mm:ss yyyy: ` prefix; continuation
    /// lines of multi-line messages (Perl error texts) are ignored.
    pub fn parse(bytes: &[u8]) -> TestonlyLog {
        let mut log = TestonlyLog::default();
        for raw in bytes.split(|&b| b == b'\n') {
            let Some(msg) = strip_log_prefix(raw) else {
                continue;
            };
            let msg = String::from_utf8_lossy(msg);
            let msg = msg.trim_end_matches('\r');
            if let Some((file, line, text)) = parse_rule_in(msg) {
                log.rule_lines
                    .entry((file, line))
                    .or_default()
                    .push(text.to_owned());
            } else if let Some((file, line, text)) = parse_bad_line(msg) {
                log.bad_lines.insert((file, line), text);
            } else if let Some(file) =
                msg.strip_prefix("No valid rules found in configuration file ")
            {
                log.loaded.insert(file.to_owned(), 0);
            } else if let Some((n, file)) = msg.split_once(" rules loaded from ") {
                if let Ok(n) = n.parse() {
                    log.loaded.insert(file.to_owned(), n);
                }
            }
        }
        log
    }

    pub fn rule_line_numbers(&self) -> BTreeSet<usize> {
        self.rule_lines.keys().map(|(_, n)| *n).collect()
    }

    pub fn bad_line_numbers(&self) -> BTreeSet<usize> {
        self.bad_lines.keys().map(|(_, n)| *n).collect()
    }
}

/// The message after a `Www Mmm dd hh:mm:ss yyyy: ` prefix, if the line has one.
fn strip_log_prefix(line: &[u8]) -> Option<&[u8]> {
    const SHAPE: &[u8] = b"AAA AAA d9 99:99:99 9999: ";
    if line.len() < SHAPE.len() {
        return None;
    }
    let ok = SHAPE.iter().zip(line).all(|(&s, &c)| match s {
        b'A' => c.is_ascii_alphabetic(),
        b'9' => c.is_ascii_digit(),
        b'd' => c.is_ascii_digit() || c == b' ',
        _ => s == c,
    });
    ok.then(|| &line[SHAPE.len()..])
}

/// Splits `TEXT<digits>REST` into (digits as a number, REST).
fn leading_number(s: &str) -> Option<(usize, &str)> {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    Some((s[..end].parse().ok()?, &s[end..]))
}

/// `Rule in FILE at line N: MESSAGE`
fn parse_rule_in(msg: &str) -> Option<(String, usize, &str)> {
    let rest = msg.strip_prefix("Rule in ")?;
    for (at, _) in rest.match_indices(" at line ") {
        if let Some((n, tail)) = leading_number(&rest[at + " at line ".len()..]) {
            if let Some(text) = tail.strip_prefix(": ") {
                return Some((rest[..at].to_owned(), n, text));
            }
        }
    }
    None
}

/// `FILE line N (TEXT): Line not in keyword=value format or non-alphanumeric keyword`
fn parse_bad_line(msg: &str) -> Option<(String, usize, String)> {
    let body = msg.strip_suffix(BAD_LINE_SUFFIX)?;
    for (at, _) in body.match_indices(" line ") {
        if let Some((n, tail)) = leading_number(&body[at + " line ".len()..]) {
            if let Some(text) = tail.strip_prefix(" (") {
                return Some((body[..at].to_owned(), n, text.to_owned()));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sec_log_lines() {
        let log = b"Sat Jan  6 10:00:00 2024: SEC (Simple Event Correlator) 2.9.1\n\
Sat Jan  6 10:00:00 2024: Rule in /a b.sec at line 12: Invalid regular expression 'a(': x\n\
syntax error at (eval 4) line 1, at EOF\n\
Sat Jan  6 10:00:00 2024: Rule in /a b.sec at line 12: Invalid action list ' x '\n\
Sat Jan  6 10:00:00 2024: /a b.sec line 7 (x line 3 (y)): Line not in keyword=value format or non-alphanumeric keyword\n\
Sat Jan  6 10:00:00 2024: 3 rules loaded from /a b.sec\n\
Rule in /fake at line 99: not a log line\n";
        let log = TestonlyLog::parse(log);
        assert_eq!(log.loaded.get("/a b.sec"), Some(&3));
        assert_eq!(log.rule_line_numbers(), BTreeSet::from([12]));
        assert_eq!(log.rule_lines[&("/a b.sec".to_owned(), 12)].len(), 2);
        assert_eq!(log.bad_lines[&("/a b.sec".to_owned(), 7)], "x line 3 (y)");
    }
}
