//! Helpers for the differential engine suite (`tests/engine_diff.rs`).
//!
//! A case is a directory `tests/cases/<name>/` holding rule files (`rules*.sec`), an `input`
//! script, and optional `args`, `compare` and `README` files. The runner starts real SEC and
//! rsec side by side, feeds both the same input with the same timing, and compares what the
//! case's `compare` file asks for. See `tests/cases/README.md` for the format.
#![allow(dead_code)]

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Files of a case directory that are metadata, not files for the programs' working dir.
const META_FILES: &[&str] = &["input", "args", "compare", "README", "setup"];

/// Default time stdin stays open after the last directive.
const DEFAULT_HOLD: f64 = 1.5;

/// How long to wait for a program to open its input before the schedule starts anyway.
const READY_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a program may take to exit after stdin is closed before it is killed.
const EXIT_TIMEOUT: Duration = Duration::from_secs(15);

/// One directive of an `input` script.
#[derive(Debug, Clone, PartialEq)]
pub enum Directive {
    /// Write the text followed by `\n`.
    Line(String),
    /// Write the text as is.
    Raw(String),
    /// Advance the schedule by this many seconds.
    Sleep(f64),
}

/// What to compare between the two runs.
#[derive(Debug, Clone, PartialEq)]
pub enum CompareItem {
    Stdout,
    StdoutSorted,
    /// stdout with epoch-like numbers and `%t`-style timestamps masked.
    StdoutMasked,
    Stderr,
    File(String),
    FileSorted(String),
    LogGrep(String),
}

impl CompareItem {
    pub fn label(&self) -> String {
        match self {
            CompareItem::Stdout => "stdout".into(),
            CompareItem::StdoutSorted => "stdout-sorted".into(),
            CompareItem::StdoutMasked => "stdout-masked".into(),
            CompareItem::Stderr => "stderr".into(),
            CompareItem::File(n) => format!("file {n}"),
            CompareItem::FileSorted(n) => format!("file-sorted {n}"),
            CompareItem::LogGrep(r) => format!("log-grep {r}"),
        }
    }
}

/// A parsed case.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    pub dir: PathBuf,
    /// Files copied into each working dir (everything but the metadata files).
    pub files: Vec<String>,
    /// The complete argument list after the program name.
    pub argv: Vec<String>,
    pub compare: Vec<CompareItem>,
    pub directives: Vec<Directive>,
    pub hold: f64,
    pub readme: String,
    /// Sockets the runner listens on for each program run (`setup` file).
    pub listens: Vec<Listen>,
}

/// Kind of a `listen` line of a `setup` file.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ListenKind {
    UnixDgram,
    UnixStream,
    Udp,
    Tcp,
}

/// `listen KIND ADDR OUT`: a socket opened before the program starts; what arrives is written
/// to the file OUT of the working dir once the program has exited.
#[derive(Debug, Clone, PartialEq)]
pub struct Listen {
    pub kind: ListenKind,
    /// Socket path (relative to the working dir) for unix kinds; placeholder name for udp/tcp.
    pub addr: String,
    pub out: String,
}

fn parse_setup(lines: &[String]) -> Result<Vec<Listen>, String> {
    let mut v = Vec::new();
    for l in lines {
        let w: Vec<&str> = l.split_whitespace().collect();
        let kind = match w.as_slice() {
            ["listen", k, _, _] => match *k {
                "unix-dgram" => ListenKind::UnixDgram,
                "unix-stream" => ListenKind::UnixStream,
                "udp" => ListenKind::Udp,
                "tcp" => ListenKind::Tcp,
                _ => return Err(format!("setup: unknown socket kind '{k}'")),
            },
            _ => return Err(format!("setup: bad line '{l}'")),
        };
        v.push(Listen {
            kind,
            addr: w[2].to_string(),
            out: w[3].to_string(),
        });
    }
    Ok(v)
}

fn read_lines(p: &Path) -> Vec<String> {
    match fs::read_to_string(p) {
        Ok(s) => s.lines().map(|l| l.to_string()).collect(),
        Err(_) => Vec::new(),
    }
}

/// Lines of an `args` or `compare` file: trimmed, without blanks and `#` comments.
fn meta_lines(p: &Path) -> Vec<String> {
    read_lines(p)
        .into_iter()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

/// Parse an `input` script. Returns the directives and the hold time.
pub fn parse_input(text: &str) -> Result<(Vec<Directive>, f64), String> {
    let mut out = Vec::new();
    let mut hold = DEFAULT_HOLD;
    for (i, line) in text.lines().enumerate() {
        if let Some(rest) = line.strip_prefix('@') {
            if rest.starts_with('#') {
                continue;
            }
            if let Some(lit) = rest.strip_prefix('@') {
                out.push(Directive::Line(format!("@{lit}")));
                continue;
            }
            let (kw, arg) = match rest.find(' ') {
                Some(p) => (&rest[..p], &rest[p + 1..]),
                None => (rest, ""),
            };
            let num = || -> Result<f64, String> {
                arg.trim()
                    .parse::<f64>()
                    .map_err(|_| format!("input line {}: bad number '{arg}'", i + 1))
            };
            match kw {
                "sleep" => out.push(Directive::Sleep(num()?)),
                "hold" => hold = num()?,
                "raw" => out.push(Directive::Raw(arg.to_string())),
                _ => return Err(format!("input line {}: unknown directive @{kw}", i + 1)),
            }
        } else {
            out.push(Directive::Line(line.to_string()));
        }
    }
    Ok((out, hold))
}

/// Load the case in `dir`.
pub fn load_case(dir: &Path) -> Result<Case, String> {
    let name = dir.file_name().unwrap().to_string_lossy().to_string();
    let mut files: Vec<String> = fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| !META_FILES.contains(&n.as_str()))
        .collect();
    files.sort();
    let input_text =
        fs::read_to_string(dir.join("input")).map_err(|e| format!("{name}: input: {e}"))?;
    let (directives, hold) = parse_input(&input_text).map_err(|e| format!("{name}: {e}"))?;

    let extra = meta_lines(&dir.join("args"));
    let mut argv = Vec::new();
    if !extra
        .iter()
        .any(|a| a.starts_with("--conf") || a.starts_with("-conf"))
    {
        for f in files
            .iter()
            .filter(|f| f.starts_with("rules") && f.ends_with(".sec"))
        {
            argv.push(format!("--conf={f}"));
        }
    }
    if !extra
        .iter()
        .any(|a| a.starts_with("--input") || a.starts_with("-input"))
    {
        argv.push("--input=-".into());
    }
    argv.push("--notail".into());
    argv.push("--log=log.txt".into());
    argv.extend(extra);

    let mut compare = Vec::new();
    for l in meta_lines(&dir.join("compare")) {
        let (kw, arg) = match l.find(' ') {
            Some(p) => (&l[..p], l[p + 1..].trim()),
            None => (l.as_str(), ""),
        };
        compare.push(match kw {
            "stdout" => CompareItem::Stdout,
            "stdout-sorted" => CompareItem::StdoutSorted,
            "stdout-masked" => CompareItem::StdoutMasked,
            "stderr" => CompareItem::Stderr,
            "file" => CompareItem::File(arg.to_string()),
            "file-sorted" => CompareItem::FileSorted(arg.to_string()),
            "log-grep" => {
                regex::Regex::new(arg).map_err(|e| format!("{name}: compare: {e}"))?;
                CompareItem::LogGrep(arg.to_string())
            }
            _ => return Err(format!("{name}: compare: unknown item '{l}'")),
        });
    }
    if compare.is_empty() {
        compare.push(CompareItem::Stdout);
    }
    let readme = fs::read_to_string(dir.join("README"))
        .unwrap_or_default()
        .trim()
        .to_string();
    let listens =
        parse_setup(&meta_lines(&dir.join("setup"))).map_err(|e| format!("{name}: {e}"))?;
    Ok(Case {
        name,
        dir: dir.to_path_buf(),
        files,
        argv,
        compare,
        directives,
        hold,
        readme,
        listens,
    })
}

/// Shell-style glob with `*` and `?` (no classes).
pub fn glob_match(pat: &str, s: &str) -> bool {
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

/// `RSEC_CASES` may hold several globs separated by commas or spaces.
pub fn selected(filter: Option<&str>, name: &str) -> bool {
    match filter {
        None => true,
        Some(f) => f
            .split([',', ' '])
            .filter(|g| !g.is_empty())
            .any(|g| glob_match(g, name)),
    }
}

/// All cases under `root`, sorted by name, filtered by `RSEC_CASES`.
pub fn discover(root: &Path, filter: Option<&str>) -> Vec<Result<Case, String>> {
    let mut dirs: Vec<PathBuf> = match fs::read_dir(root) {
        Ok(rd) => rd
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect(),
        Err(_) => Vec::new(),
    };
    dirs.sort();
    dirs.into_iter()
        .filter(|d| selected(filter, &d.file_name().unwrap().to_string_lossy()))
        .map(|d| load_case(&d))
        .collect()
}

/// Find real SEC: `RSEC_SEC_BIN`, else `sec` on PATH, else /usr/bin/sec.
pub fn find_sec() -> Option<PathBuf> {
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

/// What one program run produced.
#[derive(Debug, Clone, Default)]
pub struct RunOutput {
    pub stdout: String,
    pub stderr: String,
    pub log: String,
    pub workdir: PathBuf,
    pub status: String,
    pub killed: bool,
}

impl RunOutput {
    /// The text that `item` selects, as lines.
    pub fn select(&self, item: &CompareItem) -> Vec<String> {
        let lines = |s: &str| s.lines().map(|l| l.to_string()).collect::<Vec<_>>();
        let file = |n: &str| match fs::read(self.workdir.join(n)) {
            Ok(b) => lines(&String::from_utf8_lossy(&b)),
            Err(_) => vec!["<file missing>".to_string()],
        };
        match item {
            CompareItem::Stdout => lines(&self.stdout),
            CompareItem::StdoutSorted => {
                let mut v = lines(&self.stdout);
                v.sort();
                v
            }
            CompareItem::StdoutMasked => lines(&mask_times(&self.stdout)),
            CompareItem::Stderr => lines(&self.stderr),
            CompareItem::File(n) => file(n),
            CompareItem::FileSorted(n) => {
                let mut v = file(n);
                v.sort();
                v
            }
            CompareItem::LogGrep(r) => {
                let re = regex::Regex::new(r).expect("regex checked at load");
                self.log
                    .lines()
                    .map(strip_log_prefix)
                    .filter(|l| re.is_match(l))
                    .map(|l| l.to_string())
                    .collect()
            }
        }
    }
}

/// Replace epoch seconds (9-11 digits) by `<EPOCH>` and localtime() strings by `<TIME>`.
pub fn mask_times(s: &str) -> String {
    let t = regex::Regex::new(r"[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \d{4}").unwrap();
    let e = regex::Regex::new(r"\b\d{9,11}\b").unwrap();
    let s = t.replace_all(s, "<TIME>");
    e.replace_all(&s, "<EPOCH>").into_owned()
}

/// Remove SEC's `Mon Nov 23 17:57:05 2026: ` prefix (localtime() is fixed-width, 24 chars).
pub fn strip_log_prefix(l: &str) -> &str {
    if l.len() >= 26 && l.is_char_boundary(24) && &l[24..26] == ": " {
        &l[26..]
    } else {
        l
    }
}

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// Make a fresh, empty working dir holding the case's files.
pub fn make_workdir(case: &Case, tag: &str) -> std::io::Result<PathBuf> {
    let n = SEQ.fetch_add(1, Ordering::SeqCst);
    let d = std::env::temp_dir().join(format!(
        "rsec-engine-diff-{}-{}-{}-{}",
        std::process::id(),
        n,
        case.name,
        tag
    ));
    if d.exists() {
        fs::remove_dir_all(&d)?;
    }
    fs::create_dir_all(&d)?;
    for f in &case.files {
        fs::copy(case.dir.join(f), d.join(f))?;
    }
    Ok(d)
}

/// Collects a pipe's bytes in the background; `done` fires at EOF.
struct Collector {
    buf: Arc<Mutex<Vec<u8>>>,
    done: mpsc::Receiver<()>,
}

fn collect<R: Read + Send + 'static>(mut r: R) -> Collector {
    let buf = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = mpsc::channel();
    let b = buf.clone();
    thread::spawn(move || {
        let mut chunk = [0u8; 8192];
        loop {
            match r.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => b.lock().unwrap().extend_from_slice(&chunk[..n]),
            }
        }
        let _ = tx.send(());
    });
    Collector { buf, done: rx }
}

impl Collector {
    /// Wait up to `t` for EOF (a lingering grandchild may hold the pipe), then take the bytes.
    fn finish(self, t: Duration) -> String {
        let _ = self.done.recv_timeout(t);
        let b = self.buf.lock().unwrap();
        String::from_utf8_lossy(&b).into_owned()
    }
}

/// How often listener threads look at their stop flag.
const LISTEN_POLL: Duration = Duration::from_millis(50);

/// The sockets of a case's `setup` file, listening for one program run.
struct Listeners {
    stop: Arc<AtomicBool>,
    handles: Vec<thread::JoinHandle<()>>,
}

impl Listeners {
    /// Let in-flight data arrive, then stop listening and write every OUT file.
    fn finish(self) {
        if self.handles.is_empty() {
            return;
        }
        thread::sleep(Duration::from_millis(300));
        self.stop.store(true, Ordering::SeqCst);
        for h in self.handles {
            let _ = h.join();
        }
    }
}

/// Datagrams, one line each (the datagram's bytes followed by `\n`).
fn dgram_loop(
    mut recv: impl FnMut(&mut [u8]) -> std::io::Result<usize>,
    stop: Arc<AtomicBool>,
    out: PathBuf,
) {
    let mut data = Vec::new();
    let mut buf = vec![0u8; 65536];
    loop {
        match recv(&mut buf) {
            Ok(n) => {
                data.extend_from_slice(&buf[..n]);
                data.push(b'\n');
            }
            Err(_) if !stop.load(Ordering::SeqCst) => {}
            Err(_) => break,
        }
    }
    let _ = fs::write(out, data);
}

/// Read one connection until EOF (true) or until told to stop (false).
fn read_conn(mut c: Box<dyn Read + Send>, stop: Arc<AtomicBool>) -> (Vec<u8>, bool) {
    let mut data = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match c.read(&mut buf) {
            Ok(0) => return (data, true),
            Ok(n) => data.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock
                        | std::io::ErrorKind::TimedOut
                        | std::io::ErrorKind::Interrupted
                ) && !stop.load(Ordering::SeqCst) => {}
            Err(_) => return (data, false),
        }
    }
}

/// Connections in accept order: `<connection>\n`, the bytes received, then `<eof>\n` if the
/// peer closed it (or `<open>\n` if it was still open when the program had exited).
fn stream_loop(
    mut accept: impl FnMut() -> std::io::Result<Box<dyn Read + Send>>,
    stop: Arc<AtomicBool>,
    out: PathBuf,
) {
    let mut conns = Vec::new();
    loop {
        match accept() {
            Ok(c) => {
                let st = stop.clone();
                conns.push(thread::spawn(move || read_conn(c, st)));
            }
            Err(_) if !stop.load(Ordering::SeqCst) => thread::sleep(LISTEN_POLL / 5),
            Err(_) => break,
        }
    }
    let mut data = Vec::new();
    for h in conns {
        let (bytes, eof) = h.join().unwrap_or_default();
        data.extend_from_slice(b"<connection>\n");
        data.extend_from_slice(&bytes);
        data.extend_from_slice(if eof { b"<eof>\n" } else { b"<open>\n" });
    }
    let _ = fs::write(out, data);
}

/// Open the case's `listen` sockets for a run in `workdir`, and replace each udp/tcp
/// placeholder `%NAME%` in the working dir's copies of the case files by the port.
fn open_listeners(case: &Case, workdir: &Path) -> std::io::Result<Listeners> {
    use std::net::{TcpListener, UdpSocket};
    use std::os::unix::net::{UnixDatagram, UnixListener};
    let stop = Arc::new(AtomicBool::new(false));
    let mut handles = Vec::new();
    let mut ports = Vec::new();
    for l in &case.listens {
        let out = workdir.join(&l.out);
        let st = stop.clone();
        match l.kind {
            ListenKind::UnixDgram => {
                let s = UnixDatagram::bind(workdir.join(&l.addr))?;
                s.set_read_timeout(Some(LISTEN_POLL))?;
                handles.push(thread::spawn(move || dgram_loop(|b| s.recv(b), st, out)));
            }
            ListenKind::Udp => {
                let s = UdpSocket::bind("127.0.0.1:0")?;
                ports.push((l.addr.clone(), s.local_addr()?.port()));
                s.set_read_timeout(Some(LISTEN_POLL))?;
                handles.push(thread::spawn(move || dgram_loop(|b| s.recv(b), st, out)));
            }
            ListenKind::UnixStream => {
                let li = UnixListener::bind(workdir.join(&l.addr))?;
                li.set_nonblocking(true)?;
                let accept = move || -> std::io::Result<Box<dyn Read + Send>> {
                    let (c, _) = li.accept()?;
                    c.set_nonblocking(false)?;
                    c.set_read_timeout(Some(LISTEN_POLL))?;
                    Ok(Box::new(c))
                };
                handles.push(thread::spawn(move || stream_loop(accept, st, out)));
            }
            ListenKind::Tcp => {
                let li = TcpListener::bind("127.0.0.1:0")?;
                ports.push((l.addr.clone(), li.local_addr()?.port()));
                li.set_nonblocking(true)?;
                let accept = move || -> std::io::Result<Box<dyn Read + Send>> {
                    let (c, _) = li.accept()?;
                    c.set_nonblocking(false)?;
                    c.set_read_timeout(Some(LISTEN_POLL))?;
                    Ok(Box::new(c))
                };
                handles.push(thread::spawn(move || stream_loop(accept, st, out)));
            }
        }
    }
    if !ports.is_empty() {
        for f in &case.files {
            let p = workdir.join(f);
            let Ok(text) = fs::read_to_string(&p) else {
                continue;
            };
            let mut new = text.clone();
            for (name, port) in &ports {
                new = new.replace(&format!("%{name}%"), &port.to_string());
            }
            if new != text {
                fs::write(&p, new)?;
            }
        }
    }
    Ok(Listeners { stop, handles })
}

/// A started program.
struct Running {
    child: Child,
    stdin: Option<ChildStdin>,
    out: Collector,
    err: Collector,
    workdir: PathBuf,
    listeners: Listeners,
}

fn start(prog: &Path, case: &Case, workdir: &Path) -> std::io::Result<Running> {
    use std::os::unix::process::CommandExt;
    let listeners = open_listeners(case, workdir)?;
    // The working dir comes first on PATH, so that a case's stub scripts shadow commands.
    let mut path = std::ffi::OsString::from(workdir);
    if let Some(p) = std::env::var_os("PATH") {
        path.push(":");
        path.push(p);
    }
    let mut cmd = Command::new(prog);
    cmd.args(&case.argv)
        .env("PATH", path)
        .current_dir(workdir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let mut child = cmd.spawn()?;
    let stdin = child.stdin.take();
    let out = collect(child.stdout.take().unwrap());
    let err = collect(child.stderr.take().unwrap());
    Ok(Running {
        child,
        stdin,
        out,
        err,
        workdir: workdir.to_path_buf(),
        listeners,
    })
}

fn kill_group(child: &Child, sig: nix::sys::signal::Signal) {
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let _ = nix::sys::signal::killpg(pid, sig);
}

fn finish(mut r: Running) -> RunOutput {
    let deadline = Instant::now() + EXIT_TIMEOUT;
    let mut killed = false;
    let status = loop {
        match r.child.try_wait() {
            Ok(Some(s)) => break format!("{s}"),
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                killed = true;
                kill_group(&r.child, nix::sys::signal::Signal::SIGKILL);
                let s = r.child.wait();
                break format!("killed after timeout ({s:?})");
            }
            Err(e) => break format!("wait error {e}"),
        }
    };
    r.listeners.finish();
    // Children the program left behind (same process group) would keep the pipes open.
    let stdout = r.out.finish(Duration::from_secs(3));
    kill_group(&r.child, nix::sys::signal::Signal::SIGKILL);
    let stderr = r.err.finish(Duration::from_millis(500));
    let log = fs::read(r.workdir.join("log.txt"))
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    RunOutput {
        stdout,
        stderr,
        log,
        workdir: r.workdir,
        status,
        killed,
    }
}

/// Sleep until `t`.
fn sleep_until(t: Instant) {
    let now = Instant::now();
    if t > now {
        thread::sleep(t - now);
    }
}

/// The start instant: 0.25 s after a whole second of the wall clock, at least `min_lead` away.
fn aligned_start(min_lead: Duration) -> Instant {
    let now_i = Instant::now();
    let now_s = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let frac = now_s.subsec_nanos() as f64 / 1e9;
    let lead = min_lead.as_secs_f64();
    // Candidate offsets: to the next X.25 after now + lead.
    let mut wait = 0.25 - frac;
    while wait < lead {
        wait += 1.0;
    }
    now_i + Duration::from_secs_f64(wait)
}

/// Calendar rules fire once per wall-clock minute: a run that crosses a minute boundary
/// fires them again, in one program and maybe not in the other (each checks the clock on
/// its own schedule). So a case with a Calendar rule waits, when it would cross a
/// boundary, until just after the next one (at most a minute, only for such cases).
fn avoid_minute_boundary(case: &Case) {
    let calendar = case
        .files
        .iter()
        .any(|f| fs::read_to_string(case.dir.join(f)).is_ok_and(|t| t.contains("type=Calendar")));
    if !calendar {
        return;
    }
    let sched: f64 = case
        .directives
        .iter()
        .map(|d| match d {
            Directive::Sleep(s) => *s,
            _ => 0.0,
        })
        .sum();
    // Start-up (SEC's Perl, aligned start) and shutdown margins.
    let needed = sched + case.hold + 6.0;
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let into = now % 60.0;
    if needed < 55.0 && into + needed > 59.0 {
        thread::sleep(Duration::from_secs_f64(60.5 - into));
    }
}

/// Run the programs in `progs` on `case` at the same time, feeding the same input to all.
pub fn run_case(case: &Case, progs: &[(&str, &Path)]) -> Result<Vec<RunOutput>, String> {
    avoid_minute_boundary(case);
    let mut running = Vec::new();
    for (tag, prog) in progs {
        let wd = make_workdir(case, tag).map_err(|e| format!("workdir: {e}"))?;
        let r = start(prog, case, &wd).map_err(|e| format!("start {}: {e}", prog.display()))?;
        running.push(r);
    }
    // Wait until every program has opened its input (SEC logs "Opening input file"), so that
    // a slow Perl start under load does not shift the schedule; then align to X.25 s.
    let ready_deadline = Instant::now() + READY_TIMEOUT;
    // A program that does not log the opening is taken as ready 0.2 s after its rules loaded.
    for r in running.iter_mut() {
        let mut loaded_at: Option<Instant> = None;
        while Instant::now() < ready_deadline {
            let log = fs::read_to_string(r.workdir.join("log.txt")).unwrap_or_default();
            if log.contains("Opening input file") || !matches!(r.child.try_wait(), Ok(None)) {
                break;
            }
            if log.contains(" loaded from ") {
                let t = *loaded_at.get_or_insert_with(Instant::now);
                if t.elapsed() >= Duration::from_millis(200) {
                    break;
                }
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
    let t0 = aligned_start(Duration::from_millis(150));
    let mut t = 0.0f64;
    let mut stdins: Vec<Option<ChildStdin>> = running.iter_mut().map(|r| r.stdin.take()).collect();
    let write_all = |stdins: &mut Vec<Option<ChildStdin>>, data: &[u8]| {
        for s in stdins.iter_mut() {
            let failed = match s {
                Some(w) => w.write_all(data).and_then(|_| w.flush()).is_err(),
                None => false,
            };
            if failed {
                *s = None;
            }
        }
    };
    for d in &case.directives {
        match d {
            Directive::Sleep(s) => t += s,
            Directive::Line(l) => {
                sleep_until(t0 + Duration::from_secs_f64(t));
                write_all(&mut stdins, format!("{l}\n").as_bytes());
            }
            Directive::Raw(l) => {
                sleep_until(t0 + Duration::from_secs_f64(t));
                write_all(&mut stdins, l.as_bytes());
            }
        }
    }
    sleep_until(t0 + Duration::from_secs_f64(t + case.hold));
    drop(stdins);
    // Wait for all of them in parallel so that one hang does not delay the other's timing.
    let handles: Vec<_> = running
        .into_iter()
        .map(|r| thread::spawn(move || finish(r)))
        .collect();
    Ok(handles.into_iter().map(|h| h.join().unwrap()).collect())
}

/// A line-based diff (LCS). Lines of `a` only get `-`, of `b` only `+`, shared ones ` `.
pub fn diff_lines(a: &[String], b: &[String]) -> Vec<String> {
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

/// Compare two runs on every item of the case; returns a report of the differences.
pub fn compare_runs(case: &Case, exp: &RunOutput, act: &RunOutput) -> Option<String> {
    let mut report = String::new();
    for item in &case.compare {
        let a = exp.select(item);
        let b = act.select(item);
        if a != b {
            report.push_str(&format!(
                "  --- {} (- expected = SEC, + actual)\n",
                item.label()
            ));
            let d = diff_lines(&a, &b);
            for l in d.iter().take(150) {
                report.push_str(&format!("  {l}\n"));
            }
            if d.len() > 150 {
                report.push_str(&format!("  ... ({} diff lines in all)\n", d.len()));
            }
        }
    }
    if exp.killed != act.killed {
        report.push_str(&format!(
            "  --- exit: expected {}, actual {}\n",
            exp.status, act.status
        ));
    }
    if report.is_empty() {
        None
    } else {
        Some(report)
    }
}

/// Render a run's compared outputs (for `RSEC_SEC_ONLY`).
pub fn show_run(case: &Case, out: &RunOutput) -> String {
    let mut s = String::new();
    s.push_str(&format!(
        "=== {} [{}] ({})\n",
        case.name, out.status, case.readme
    ));
    for item in &case.compare {
        s.push_str(&format!("--- {}\n", item.label()));
        let lines = out.select(item);
        for l in lines.iter().take(200) {
            s.push_str(&format!("{l}\n"));
        }
        if lines.len() > 200 {
            s.push_str(&format!("... ({} lines in all)\n", lines.len()));
        }
    }
    if !out.stderr.trim().is_empty() {
        s.push_str("--- stderr\n");
        s.push_str(&out.stderr);
    }
    if std::env::var_os("RSEC_SHOW_LOG").is_some() {
        s.push_str("--- log\n");
        for l in out.log.lines() {
            s.push_str(&format!("{l}\n"));
        }
    }
    s
}

/// Run `jobs` on `threads` worker threads; results come back in job order.
pub fn parallel_map<T: Send + 'static, R: Send + 'static>(
    jobs: Vec<T>,
    threads: usize,
    f: impl Fn(T) -> R + Send + Sync + 'static,
) -> Vec<R> {
    let n = jobs.len();
    let queue = Arc::new(Mutex::new(jobs.into_iter().enumerate().collect::<Vec<_>>()));
    queue.lock().unwrap().reverse();
    let f = Arc::new(f);
    let (tx, rx) = mpsc::channel();
    let mut hs = Vec::new();
    for _ in 0..threads.max(1) {
        let q = queue.clone();
        let f = f.clone();
        let tx = tx.clone();
        hs.push(thread::spawn(move || loop {
            let job = q.lock().unwrap().pop();
            match job {
                Some((i, j)) => {
                    let r = f(j);
                    let _ = tx.send((i, r));
                }
                None => break,
            }
        }));
    }
    drop(tx);
    let mut res: Vec<Option<R>> = (0..n).map(|_| None).collect();
    for (i, r) in rx {
        res[i] = Some(r);
    }
    for h in hs {
        let _ = h.join();
    }
    res.into_iter().map(|r| r.unwrap()).collect()
}
