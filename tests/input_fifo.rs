//! Named pipes: with `--rwfifo` (SEC's default) a writer may close and reopen the pipe
//! without the reader seeing EOF; with `--norwfifo` the pipe is reopened after the last
//! writer leaves (tail mode) or closed for good (`--notail`), and an unterminated last line
//! is processed when the writer goes (checked against SEC 2.9.1).

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::{Duration, Instant};

use nix::sys::stat::Mode;
use rsec::io::input::{InputConfig, InputLine, Inputs};

/// A fresh, empty directory for one test, removed when the test ends.
struct TmpDir(PathBuf);

impl std::ops::Deref for TmpDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TmpDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn tmpdir(test: &str) -> TmpDir {
    let d = std::env::temp_dir().join(format!("rsec-input-{}-{test}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).expect("create temp dir");
    TmpDir(d)
}

fn fifo(d: &Path) -> PathBuf {
    let p = d.join("pipe");
    nix::unistd::mkfifo(&p, Mode::from_bits_truncate(0o600)).expect("mkfifo");
    p
}

fn cfg(p: &Path, tail: bool, rwfifo: bool) -> InputConfig {
    InputConfig {
        patterns: vec![(p.to_str().unwrap().to_string(), None)],
        tail,
        rwfifo,
        ..InputConfig::default()
    }
}

fn collect(inputs: &mut Inputs, n: usize, limit: Duration) -> Vec<InputLine> {
    let end = Instant::now() + limit;
    let mut out = Vec::new();
    while out.len() < n && Instant::now() < end {
        match inputs.read_line() {
            Some(l) => out.push(l),
            None => sleep(Duration::from_millis(2)),
        }
    }
    out
}

fn texts(lines: &[InputLine]) -> Vec<String> {
    lines
        .iter()
        .map(|l| String::from_utf8_lossy(&l.line).into_owned())
        .collect()
}

/// Writes `data` to the pipe in one open/close (blocks until a reader has it open).
fn write_once(p: &Path, data: &[u8]) {
    let mut w = OpenOptions::new().write(true).open(p).expect("open fifo");
    w.write_all(data).expect("write fifo");
}

#[test]
fn rwfifo_writer_reopening_loses_nothing() {
    const LINES: u64 = 20_000;
    const PER_OPEN: u64 = 1_000; // the writer closes and reopens every 0.1 s
    let d = tmpdir("fifo-rw");
    let p = fifo(&d);
    let mut inputs = Inputs::open(cfg(&p, true, true));
    let writer = {
        let p = p.clone();
        std::thread::spawn(move || {
            let start = Instant::now();
            let mut seq = 0;
            while seq < LINES {
                let mut w = OpenOptions::new().write(true).open(&p).expect("open fifo");
                for _ in 0..PER_OPEN / 100 {
                    let mut chunk = String::new();
                    for _ in 0..100 {
                        chunk.push_str(&format!("{seq:08} fifo payload\n"));
                        seq += 1;
                    }
                    w.write_all(chunk.as_bytes()).expect("write fifo");
                    let due = start + Duration::from_millis(seq / 100 * 10);
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        sleep(wait);
                    }
                }
                drop(w); // the last writer goes away: no EOF with --rwfifo
            }
        })
    };
    let deadline = Instant::now() + Duration::from_secs(8);
    let mut next = 0u64;
    while next < LINES && Instant::now() < deadline {
        match inputs.read_line() {
            Some(l) => {
                let text = String::from_utf8(l.line).expect("utf-8");
                let n: u64 = text[..8].parse().expect("sequence number");
                assert_eq!(n, next, "lost, duplicated or reordered: {text:?}");
                next += 1;
            }
            None => sleep(Duration::from_millis(1)),
        }
    }
    writer.join().expect("writer");
    assert_eq!(next, LINES);
    assert!(!inputs.all_closed());
}

#[test]
fn norwfifo_tail_reopens_and_flushes_partial_line() {
    let d = tmpdir("fifo-ro");
    let p = fifo(&d);
    let mut inputs = Inputs::open(cfg(&p, true, false));
    // No writer yet: nothing, and no EOF either.
    assert!(collect(&mut inputs, 1, Duration::from_millis(50)).is_empty());
    write_once(&p, b"p1\np2");
    // SEC: "No writers on input pipe", the partial p2 is a line, the pipe is reopened.
    assert_eq!(
        texts(&collect(&mut inputs, 2, Duration::from_secs(2))),
        ["p1", "p2"]
    );
    write_once(&p, b"p3\n");
    assert_eq!(
        texts(&collect(&mut inputs, 1, Duration::from_secs(2))),
        ["p3"]
    );
    assert!(!inputs.all_closed());
}

#[test]
fn norwfifo_notail_closes_at_eof() {
    let d = tmpdir("fifo-notail");
    let p = fifo(&d);
    let mut inputs = Inputs::open(cfg(&p, false, false));
    assert!(!inputs.all_closed());
    write_once(&p, b"q1\nq2");
    assert_eq!(
        texts(&collect(&mut inputs, 2, Duration::from_secs(2))),
        ["q1", "q2"]
    );
    let end = Instant::now() + Duration::from_secs(2);
    while !inputs.all_closed() && Instant::now() < end {
        assert!(inputs.read_line().is_none());
        sleep(Duration::from_millis(2));
    }
    assert!(inputs.all_closed());
}
