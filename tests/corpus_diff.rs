//! Corpus differential test: the real-world rule files under `../shared/corpus/` (relative to
//! the repo root) are run by real SEC 2.9.1 and by rsec side by side, on input logs written for
//! them (`tests/corpus/<case>.log`), and everything observable is compared.
//!
//! A case is `tests/corpus/<case>.args` (settings, one per line, `#` comments):
//! * `conf <path>`: a rule file, relative to `../shared/corpus/`; one `--conf` each.
//! * `helper <file>`: an extra rule file from `tests/corpus/` that makes state visible, e.g.
//!   `show-context.sec` (a line `CORPUS-TEST show context NAME` reports the context NAME
//!   to the `ctxdump` stub, or writes that it does not exist to stdout).
//! * `stub <program>`: a program the rules call. A bare name is found through PATH, whose
//!   first directory holds the stubs; an absolute path (`/usr/bin/mail`) is rewritten to the
//!   stub in the copies of the rule files both programs get (nothing else in the files changes).
//! * `stubnostdin <program>`: like `stub`, but the stub does not read its stdin. For programs
//!   run by `shellcmd`: SEC gives those children its own stdin (the input pipe here), so a
//!   stub reading it would eat SEC's input, racing with SEC (rsec gives them /dev/null; that
//!   difference is reported, but cannot be compared deterministically).
//! * `stubexit <program> <substring> <code>`: that stub exits with `code` when its arguments
//!   contain `substring` (for `script=` programs such as ping), else 0.
//! * `arg <argument>`: an extra command-line argument for both programs.
//! * `loggrep <regex>`: also compare the log lines (without the timestamp prefix) matching it.
//! * `hold <seconds>`: how long stdin stays open after the last line (default 2).
//!
//! `tests/corpus/<case>.log` is fed to both programs' stdin with `--input=- --notail`
//! (unless an `arg --input...` is given); a line `@sleep N` waits N seconds instead.
//! Every stub appends one record (its name, arguments and stdin) to a log file; compared are:
//! stdout, the stub records (sorted: child order is undefined), every file the programs wrote
//! in their working dir, and the `loggrep` log lines. `%t`-style timestamps and epoch numbers
//! are masked since the two programs run a few milliseconds apart.
//!
//! Corpus files run by another test are listed in `EXCLUDED` with the reason, and printed. A corpus file that is neither run nor excluded fails the test.
//!
//! Environment: `RSEC_CORPUS=glob[,glob]` selects cases; `RSEC_SEC_BIN` picks SEC;
//! `RSEC_CORPUS_SHOW=1` prints both programs' outputs for every case.
//! No SEC found: fails when `CI=true`, else skipped with a message.
//! Run with `cargo test --test corpus_diff -- --nocapture` to see the table.

use std::collections::BTreeSet;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Corpus files not run, with the reason. Paths relative to `../shared/corpus/`.
const EXCLUDED: &[(&str, &str)] = &[
    (
        "sec-rulesets/parsing-json/parse-json.sec",
        "run by tests/perl_bridge.rs (needs the perl bridge: require SecJson.pm)",
    ),
    (
        "sec-rulesets/tutorial-read-from-file.sec",
        "run by tests/perl_bridge.rs (needs the perl bridge: reads files from Perl)",
    ),
    (
        "sec-rulesets/portscan.sec",
        "run by tests/perl_bridge.rs (natively and through the perl bridge)",
    ),
];

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn corpus_root() -> PathBuf {
    // ../shared next to the repository, or ../../shared for a worktree one level deeper
    let near = repo_root().join("../shared/corpus");
    let far = repo_root().join("../../shared/corpus");
    if !near.is_dir() && far.is_dir() {
        far
    } else {
        near
    }
}

fn cases_dir() -> PathBuf {
    repo_root().join("tests/corpus")
}

fn find_sec() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("RSEC_SEC_BIN") {
        let p = PathBuf::from(p);
        return p.is_file().then_some(p);
    }
    if let Some(path) = std::env::var_os("PATH") {
        for d in std::env::split_paths(&path) {
            let c = d.join("sec");
            if c.is_file() {
                return Some(c);
            }
        }
    }
    let p = PathBuf::from("/usr/bin/sec");
    p.is_file().then_some(p)
}

#[derive(Debug, Clone)]
enum Step {
    Line(String),
    Sleep(f64),
}

#[derive(Debug, Clone, Default)]
struct Case {
    name: String,
    confs: Vec<String>,
    helpers: Vec<String>,
    stubs: Vec<String>,
    stub_exits: Vec<(String, String, i32)>,
    no_stdin: Vec<String>,
    args: Vec<String>,
    loggrep: Vec<regex::Regex>,
    hold: f64,
    steps: Vec<Step>,
}

fn load_case(name: &str) -> Result<Case, String> {
    let dir = cases_dir();
    let settings = fs::read_to_string(dir.join(format!("{name}.args")))
        .map_err(|e| format!("{name}.args: {e}"))?;
    let mut c = Case {
        name: name.to_string(),
        hold: 2.0,
        ..Default::default()
    };
    for (i, l) in settings.lines().enumerate() {
        let l = l.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let (kw, arg) = l.split_once(' ').unwrap_or((l, ""));
        let arg = arg.trim().to_string();
        let bad = || format!("{name}.args line {}: bad setting '{l}'", i + 1);
        match kw {
            "conf" => c.confs.push(arg),
            "helper" => c.helpers.push(arg),
            "stub" => c.stubs.push(arg),
            "stubexit" => {
                let p: Vec<&str> = arg.split_whitespace().collect();
                if p.len() != 3 {
                    return Err(bad());
                }
                let code = p[2].parse().map_err(|_| bad())?;
                c.stub_exits
                    .push((p[0].to_string(), p[1].to_string(), code));
            }
            "stubnostdin" => {
                c.no_stdin.push(stub_name(&arg).to_string());
                c.stubs.push(arg);
            }
            "arg" => c.args.push(arg),
            "loggrep" => c
                .loggrep
                .push(regex::Regex::new(&arg).map_err(|e| format!("{}: {e}", bad()))?),
            "hold" => c.hold = arg.parse().map_err(|_| bad())?,
            _ => return Err(bad()),
        }
    }
    if c.confs.is_empty() {
        return Err(format!("{name}.args: no conf"));
    }
    let input = fs::read_to_string(dir.join(format!("{name}.log")))
        .map_err(|e| format!("{name}.log: {e}"))?;
    for (i, l) in input.lines().enumerate() {
        if let Some(s) = l.strip_prefix("@sleep ") {
            let s: f64 = s
                .trim()
                .parse()
                .map_err(|_| format!("{name}.log line {}: bad @sleep", i + 1))?;
            c.steps.push(Step::Sleep(s));
        } else {
            c.steps.push(Step::Line(l.to_string()));
        }
    }
    Ok(c)
}

fn case_names() -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(cases_dir())
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .filter_map(|e| {
                    e.file_name()
                        .to_str()
                        .and_then(|n| n.strip_suffix(".args"))
                        .map(|s| s.to_string())
                })
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn glob_match(pat: &str, s: &str) -> bool {
    fn rec(p: &[char], s: &[char]) -> bool {
        match p.first() {
            None => s.is_empty(),
            Some('*') => (0..=s.len()).any(|i| rec(&p[1..], &s[i..])),
            Some('?') => !s.is_empty() && rec(&p[1..], &s[1..]),
            Some(c) => s.first() == Some(c) && rec(&p[1..], &s[1..]),
        }
    }
    let p: Vec<char> = pat.chars().collect();
    let s: Vec<char> = s.chars().collect();
    rec(&p, &s)
}

/// All rule files of the corpus, relative to its root.
fn corpus_files() -> Vec<String> {
    fn walk(d: &Path, root: &Path, out: &mut Vec<String>) {
        if let Ok(rd) = fs::read_dir(d) {
            for e in rd.filter_map(|e| e.ok()) {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, root, out);
                } else if matches!(
                    p.extension().and_then(|x| x.to_str()),
                    Some("sec") | Some("rules")
                ) {
                    out.push(p.strip_prefix(root).unwrap().to_string_lossy().to_string());
                }
            }
        }
    }
    let root = corpus_root();
    let mut out = Vec::new();
    walk(&root, &root, &mut out);
    out.sort();
    out
}

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// Shell-quote for a single-quoted sh word.
fn sq(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

fn stub_name(prog: &str) -> &str {
    prog.rsplit('/').next().unwrap_or(prog)
}

/// Build a fresh working dir with the stub dir, the (rewritten) rule files and the stub log.
fn prepare(case: &Case, tag: &str) -> Result<PathBuf, String> {
    let n = SEQ.fetch_add(1, Ordering::SeqCst);
    let base = std::env::temp_dir().join(format!(
        "rsec-corpus-{}-{n}-{}-{tag}",
        std::process::id(),
        case.name
    ));
    let _ = fs::remove_dir_all(&base);
    let work = base.join("work");
    let stubs = base.join("stubs");
    let confdir = base.join("conf");
    for d in [&work, &stubs, &confdir] {
        fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
    }
    let stublog = base.join("stub.log");
    fs::write(&stublog, "").map_err(|e| e.to_string())?;
    let mut names: BTreeSet<&str> = case.stubs.iter().map(|s| stub_name(s)).collect();
    names.extend(case.stub_exits.iter().map(|(p, _, _)| stub_name(p)));
    for name in names {
        let mut exits = String::new();
        for (p, sub, code) in &case.stub_exits {
            if stub_name(p) == name {
                exits.push_str(&format!(
                    "case \"$*\" in *{}*) code={code};; esac\n",
                    sq(sub)
                ));
            }
        }
        let read = if case.no_stdin.iter().any(|n| n == name) {
            "body=''"
        } else {
            "if [ -t 0 ]; then body=''; else body=$(cat | sed 's/^/  | /'); fi"
        };
        // One record per call, written with a single append so that concurrent calls
        // do not interleave.
        let script = format!(
            "#!/bin/sh\n\
             code=0\n{exits}\
             {read}\n\
             rec=$(printf '%s' {name_q}; for a in \"$@\"; do printf ' [%s]' \"$a\"; done; \
             printf ' exit=%s' \"$code\")\n\
             printf '%s\\n%s\\n' \"$rec\" \"$body\" >> {log}\n\
             exit $code\n",
            name_q = sq(name),
            log = sq(&stublog.to_string_lossy()),
        );
        let p = stubs.join(name);
        fs::write(&p, script).map_err(|e| e.to_string())?;
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).map_err(|e| e.to_string())?;
    }
    for (i, conf) in case.confs.iter().enumerate() {
        let src = corpus_root().join(conf);
        let mut text = fs::read_to_string(&src).map_err(|e| format!("{}: {e}", src.display()))?;
        for s in case.stubs.iter().filter(|s| s.starts_with('/')) {
            let to = stubs.join(stub_name(s));
            text = text.replace(s.as_str(), &to.to_string_lossy());
        }
        let fname = format!("{i:02}-{}", stub_name(conf));
        fs::write(confdir.join(fname), text).map_err(|e| e.to_string())?;
    }
    for h in &case.helpers {
        let src = cases_dir().join(h);
        fs::copy(&src, confdir.join(format!("99-{h}")))
            .map_err(|e| format!("{}: {e}", src.display()))?;
    }
    Ok(base)
}

struct Out {
    stdout: String,
    stubs: Vec<String>,
    files: Vec<String>,
    log: Vec<String>,
    status: String,
    stderr: String,
}

fn collect<R: Read + Send + 'static>(mut r: R) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut v = Vec::new();
        let _ = r.read_to_end(&mut v);
        v
    })
}

fn mask(s: &str) -> String {
    let t = regex::Regex::new(r"[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}").unwrap();
    let e = regex::Regex::new(r"\b1\d{9}\b").unwrap();
    let s = t.replace_all(s, "<TIME>");
    e.replace_all(&s, "<EPOCH>").into_owned()
}

fn start(prog: &Path, case: &Case, base: &Path) -> Result<Child, String> {
    use std::os::unix::process::CommandExt;
    let mut confs: Vec<PathBuf> = fs::read_dir(base.join("conf"))
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    confs.sort();
    let mut args: Vec<String> = confs
        .iter()
        .map(|c| format!("--conf={}", c.display()))
        .collect();
    if !case.args.iter().any(|a| a.starts_with("--input")) {
        args.push("--input=-".into());
    }
    args.push("--notail".into());
    args.push(format!("--log={}", base.join("log.txt").display()));
    args.extend(case.args.iter().cloned());
    let path = format!(
        "{}:{}",
        base.join("stubs").display(),
        std::env::var("PATH").unwrap_or_else(|_| "/usr/bin:/bin".into())
    );
    Command::new(prog)
        .args(&args)
        .current_dir(base.join("work"))
        .env("PATH", path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|e| format!("start {}: {e}", prog.display()))
}

/// Waits (at most 30 s) until every program's log says it opened its input, then 100 ms more.
fn wait_ready(bases: &[PathBuf]) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let ready = bases.iter().all(|b| {
            fs::read_to_string(b.join("log.txt")).is_ok_and(|l| l.contains("Opening input file"))
        });
        if ready {
            break;
        }
        thread::sleep(Duration::from_millis(20));
    }
    thread::sleep(Duration::from_millis(100));
}

/// Run both programs at the same time on the case's input.
fn run_pair(case: &Case, progs: [&Path; 2]) -> Result<[Out; 2], String> {
    let bases = [prepare(case, "sec")?, prepare(case, "rsec")?];
    let mut children = Vec::new();
    for (p, b) in progs.iter().zip(&bases) {
        children.push(start(p, case, b)?);
    }
    let mut stdins: Vec<_> = children.iter_mut().map(|c| c.stdin.take()).collect();
    let readers: Vec<_> = children
        .iter_mut()
        .map(|c| {
            (
                collect(c.stdout.take().unwrap()),
                collect(c.stderr.take().unwrap()),
            )
        })
        .collect();
    // The first line goes out once both programs have loaded their rules and opened their
    // input (Perl compiling SEC can take seconds on a loaded machine; a window that starts
    // before it reads would otherwise be shorter for SEC than for rsec).
    wait_ready(&bases);
    let t0 = Instant::now();
    let mut t = 0.0;
    for s in &case.steps {
        match s {
            Step::Sleep(d) => t += d,
            Step::Line(l) => {
                let at = t0 + Duration::from_secs_f64(t);
                if let Some(d) = at.checked_duration_since(Instant::now()) {
                    thread::sleep(d);
                }
                for w in stdins.iter_mut() {
                    if let Some(s) = w {
                        if s.write_all(format!("{l}\n").as_bytes()).is_err() {
                            *w = None;
                        }
                    }
                }
            }
        }
    }
    let at = t0 + Duration::from_secs_f64(t + case.hold);
    if let Some(d) = at.checked_duration_since(Instant::now()) {
        thread::sleep(d);
    }
    drop(stdins);
    let mut statuses = Vec::new();
    for c in children.iter_mut() {
        let deadline = Instant::now() + Duration::from_secs(15);
        let st = loop {
            match c.try_wait() {
                Ok(Some(s)) => break format!("{s}"),
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
                _ => {
                    let _ = nix::sys::signal::killpg(
                        nix::unistd::Pid::from_raw(c.id() as i32),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                    let _ = c.wait();
                    break "killed after timeout".to_string();
                }
            }
        };
        statuses.push(st);
    }
    // Children left behind still hold the pipes; give them a moment, then end the groups.
    thread::sleep(Duration::from_millis(300));
    for c in &children {
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(c.id() as i32),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    let mut outs = Vec::new();
    for ((b, (o, e)), status) in bases.iter().zip(readers).zip(statuses) {
        let stdout = String::from_utf8_lossy(&o.join().unwrap_or_default()).into_owned();
        let stderr = String::from_utf8_lossy(&e.join().unwrap_or_default()).into_owned();
        let stublog = fs::read_to_string(b.join("stub.log")).unwrap_or_default();
        let mut stubs: Vec<String> = Vec::new();
        for l in mask(&stublog).lines() {
            if l.starts_with("  | ") {
                if let Some(last) = stubs.last_mut() {
                    last.push('\n');
                    last.push_str(l);
                }
            } else if !l.is_empty() {
                stubs.push(l.to_string());
            }
        }
        stubs.sort();
        let mut files = Vec::new();
        let mut names: Vec<_> = fs::read_dir(b.join("work"))
            .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_else(|_| Vec::new());
        names.sort();
        for p in names {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            let body = fs::read(&p).unwrap_or_default();
            files.push(format!("== {name}"));
            files.extend(
                mask(&String::from_utf8_lossy(&body))
                    .lines()
                    .map(|l| l.to_string()),
            );
        }
        let logtext = fs::read_to_string(b.join("log.txt")).unwrap_or_default();
        let log = logtext
            .lines()
            .map(|l| {
                if l.len() >= 26 && l.is_char_boundary(24) && &l[24..26] == ": " {
                    &l[26..]
                } else {
                    l
                }
            })
            .filter(|l| case.loggrep.iter().any(|r| r.is_match(l)))
            .map(mask)
            .collect();
        outs.push(Out {
            stdout: mask(&stdout),
            stubs,
            files,
            log,
            status,
            stderr,
        });
    }
    if std::env::var_os("RSEC_CORPUS_KEEP").is_none() {
        for b in &bases {
            let _ = fs::remove_dir_all(b);
        }
    }
    let rsec = outs.pop().unwrap();
    let sec = outs.pop().unwrap();
    Ok([sec, rsec])
}

/// A line-based diff (LCS): `-` only in SEC's output, `+` only in rsec's.
fn diff_lines(a: &[String], b: &[String]) -> Vec<String> {
    let (n, m) = (a.len(), b.len());
    let mut dp = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            dp[i][j] = if a[i] == b[j] {
                dp[i + 1][j + 1] + 1
            } else {
                dp[i + 1][j].max(dp[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            out.push(format!("  {}", a[i]));
            i += 1;
            j += 1;
        } else if j < m && (i == n || dp[i][j + 1] >= dp[i + 1][j]) {
            out.push(format!("+ {}", b[j]));
            j += 1;
        } else {
            out.push(format!("- {}", a[i]));
            i += 1;
        }
    }
    out
}

fn parts(o: &Out) -> Vec<(&'static str, Vec<String>)> {
    let lines = |s: &str| s.lines().map(|l| l.to_string()).collect::<Vec<_>>();
    vec![
        ("stdout", lines(&o.stdout)),
        (
            "stub calls (sorted)",
            o.stubs
                .iter()
                .flat_map(|r| r.lines().map(|l| l.to_string()))
                .collect(),
        ),
        ("working-dir files", o.files.clone()),
        ("log lines (loggrep)", o.log.clone()),
    ]
}

/// Differences between SEC's and rsec's outputs, if any.
fn compare(sec: &Out, rsec: &Out) -> Option<String> {
    let mut rep = String::new();
    for ((label, a), (_, b)) in parts(sec).into_iter().zip(parts(rsec)) {
        if a != b {
            rep.push_str(&format!("  --- {label} (- SEC, + rsec)\n"));
            for l in diff_lines(&a, &b) {
                rep.push_str(&format!("    {l}\n"));
            }
        }
    }
    if sec.status != rsec.status {
        rep.push_str(&format!(
            "  --- exit status: SEC {}, rsec {}\n",
            sec.status, rsec.status
        ));
    }
    (!rep.is_empty()).then_some(rep)
}

fn show(label: &str, o: &Out) -> String {
    let mut s = format!("  === {label} [{}]\n", o.status);
    for (l, v) in parts(o) {
        s.push_str(&format!("  --- {l} ({} lines)\n", v.len()));
        for x in v {
            s.push_str(&format!("    {x}\n"));
        }
    }
    if !o.stderr.trim().is_empty() {
        s.push_str("  --- stderr\n");
        for x in o.stderr.lines() {
            s.push_str(&format!("    {x}\n"));
        }
    }
    s
}

#[test]
fn corpus_diff() {
    let Some(sec) = find_sec() else {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("real SEC (sec) not found, and CI=true: the corpus diff cannot run");
        }
        println!("corpus_diff: real SEC not found (install Debian's `sec`); skipping");
        return;
    };
    assert!(
        corpus_root().is_dir(),
        "corpus not found at {}",
        corpus_root().display()
    );

    println!("corpus files excluded (need the Perl interpreter):");
    for (f, why) in EXCLUDED {
        println!("  {f}: {why}");
    }

    let filter = std::env::var("RSEC_CORPUS").ok();
    let names: Vec<String> = case_names()
        .into_iter()
        .filter(|n| match &filter {
            None => true,
            Some(f) => f.split([',', ' ']).any(|g| glob_match(g, n)),
        })
        .collect();
    let mut cases = Vec::new();
    let mut errors = Vec::new();
    for n in &names {
        match load_case(n) {
            Ok(c) => cases.push(c),
            Err(e) => errors.push(e),
        }
    }

    // Every corpus file is either run by some case or excluded with a reason.
    if filter.is_none() {
        let covered: BTreeSet<&str> = cases
            .iter()
            .flat_map(|c| c.confs.iter().map(|s| s.as_str()))
            .chain(EXCLUDED.iter().map(|(f, _)| *f))
            .collect();
        for f in corpus_files() {
            if !covered.contains(f.as_str()) {
                errors.push(format!("corpus file {f} is neither run nor excluded"));
            }
        }
    }

    let rsec = PathBuf::from(env!("CARGO_BIN_EXE_rsec"));
    let show_all = std::env::var_os("RSEC_CORPUS_SHOW").is_some();
    let started = Instant::now();
    let results = Arc::new(Mutex::new(Vec::new()));
    let queue = Arc::new(Mutex::new(cases));
    let mut hs = Vec::new();
    for _ in 0..8 {
        let (q, r, sec, rsec) = (queue.clone(), results.clone(), sec.clone(), rsec.clone());
        hs.push(thread::spawn(move || loop {
            let Some(case) = q.lock().unwrap().pop() else {
                break;
            };
            let t = Instant::now();
            let res = run_pair(&case, [&sec, &rsec]);
            let secs = t.elapsed().as_secs_f64();
            r.lock().unwrap().push((case, res, secs));
        }));
    }
    for h in hs {
        h.join().unwrap();
    }
    let mut results = Arc::try_unwrap(results).ok().unwrap().into_inner().unwrap();
    results.sort_by(|a, b| a.0.name.cmp(&b.0.name));

    let mut table =
        String::from("\ncase                    result   time  SEC stubs/stdout lines\n");
    let mut details = String::new();
    let mut failed = 0;
    for (case, res, secs) in &results {
        let (verdict, extra) = match res {
            Err(e) => {
                failed += 1;
                ("ERROR", format!("  {e}\n"))
            }
            Ok([s, r]) => {
                let size = format!("{}/{}", s.stubs.len(), s.stdout.lines().count());
                let d = compare(s, r);
                let mut extra = String::new();
                if show_all || d.is_some() {
                    extra.push_str(&show("SEC", s));
                    extra.push_str(&show("rsec", r));
                }
                table.push_str(&format!(
                    "{:<23} {:<7} {:>5.1}s  {size}\n",
                    case.name,
                    if d.is_some() { "DIFF" } else { "ok" },
                    secs
                ));
                if let Some(d) = d {
                    failed += 1;
                    details.push_str(&format!("\n##### {}: differences\n{d}", case.name));
                    if show_all {
                        details.push_str(&extra);
                    }
                } else if show_all {
                    details.push_str(&format!("\n##### {}\n{extra}", case.name));
                }
                continue;
            }
        };
        table.push_str(&format!("{:<23} {verdict}\n", case.name));
        details.push_str(&format!("\n##### {}\n{extra}", case.name));
    }
    println!("{details}");
    println!("{table}");
    println!(
        "{} cases, {} failing, wall time {:.1}s",
        results.len(),
        failed,
        started.elapsed().as_secs_f64()
    );
    for e in &errors {
        println!("setup error: {e}");
    }
    assert!(errors.is_empty(), "corpus setup errors: {errors:?}");
    assert!(
        failed == 0,
        "{failed} corpus case(s) differ between SEC and rsec (see above)"
    );
}
