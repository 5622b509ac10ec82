//! The real rsec binary tailing under load. A writer appends about 10 000 lines/s for about
//! 2 s, to a file that is rotated alternately by rename + create and by copytruncate, or to a
//! named pipe (default `--rwfifo`) that the writer closes and reopens several times. A rule
//! writes every line's sequence number to `out.txt`; after SIGTERM every number must be there
//! exactly once, in order. (`tests/input_rotation.rs` and `tests/input_fifo.rs` test the same
//! at the library level; this covers the binary's main loop, actions and shutdown.)

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::sys::stat::Mode;
use nix::unistd::Pid;

const LINES: u64 = 20_000;
const BATCH: u64 = 100; // lines per 10 ms: 10 000 lines/s
/// Width of a sequence number; an `out.txt` line is that plus `\n`.
const WIDTH: u64 = 8;

const RULES: &str = "\
type=Single
ptype=RegExp
pattern=^(\\d{8}) some payload
desc=$1
action=write out.txt $1

type=Single
ptype=SubStr
pattern=sync
desc=sync
action=write ready.txt ready
";

/// A fresh directory, removed at the end unless the test failed.
struct TmpDir(PathBuf);

impl TmpDir {
    fn new(test: &str) -> TmpDir {
        let d = std::env::temp_dir().join(format!("rsec-tail-{}-{test}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).expect("create temp dir");
        fs::write(d.join("rules.sec"), RULES).unwrap();
        TmpDir(d)
    }
    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TmpDir {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = fs::remove_dir_all(&self.0);
        }
    }
}

/// The running rsec; killed if the test panics before stopping it.
struct Rsec(Option<Child>);

impl Rsec {
    fn start(d: &TmpDir, input: &str) -> Rsec {
        let child = Command::new(env!("CARGO_BIN_EXE_rsec"))
            .args([
                "--conf=rules.sec",
                &format!("--input={input}"),
                "--log=log.txt",
            ])
            .current_dir(&d.0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start rsec");
        Rsec(Some(child))
    }

    /// SIGTERM, then wait (at most 5 s) for the exit.
    fn stop(mut self) {
        let mut c = self.0.take().unwrap();
        kill(Pid::from_raw(c.id() as i32), Signal::SIGTERM).unwrap();
        let end = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(st) = c.try_wait().unwrap() {
                assert!(st.success(), "rsec exited with {st} on SIGTERM");
                return;
            }
            if Instant::now() > end {
                let _ = c.kill();
                panic!("rsec did not exit on SIGTERM");
            }
            sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Rsec {
    fn drop(&mut self) {
        if let Some(c) = &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// How many numbers rsec has written to `out.txt` so far (each line is WIDTH + 1 bytes).
fn written(d: &TmpDir) -> u64 {
    fs::metadata(d.join("out.txt")).map_or(0, |m| m.len() / (WIDTH + 1))
}

/// Write `sync` lines through `write_line` until rsec has processed one: only then is it
/// reading the input (tail mode starts at the end of an existing file).
fn sync(d: &TmpDir, mut write_line: impl FnMut(&str)) {
    let end = Instant::now() + Duration::from_secs(10);
    while !d.join("ready.txt").exists() {
        assert!(Instant::now() < end, "rsec never processed the sync line");
        write_line("sync\n");
        sleep(Duration::from_millis(50));
    }
}

/// Write LINES numbered lines at about 10 000 lines/s; `after_batch(f, seq)` runs after each
/// batch and may replace the writer's file handle.
fn write_paced(f: &mut File, mut after_batch: impl FnMut(&mut File, u64)) {
    let start = Instant::now();
    let mut seq = 0;
    while seq < LINES {
        let mut chunk = String::new();
        for _ in 0..BATCH {
            chunk.push_str(&format!(
                "{seq:0w$} some payload to make the line longer\n",
                w = WIDTH as usize
            ));
            seq += 1;
        }
        f.write_all(chunk.as_bytes()).expect("write");
        after_batch(f, seq);
        let due = start + Duration::from_millis(seq / BATCH * 10);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            sleep(wait);
        }
    }
}

/// Wait (at most 8 s) until rsec has written every number, stop it, and check `out.txt`.
fn finish_and_check(d: &TmpDir, rsec: Rsec) {
    let end = Instant::now() + Duration::from_secs(8);
    while written(d) < LINES && Instant::now() < end {
        sleep(Duration::from_millis(20));
    }
    // A little longer, so that a duplicate written late would be caught too.
    sleep(Duration::from_millis(300));
    rsec.stop();
    let out = fs::read_to_string(d.join("out.txt")).unwrap_or_default();
    let got: Vec<u64> = out.lines().map(|l| l.parse().expect("number")).collect();
    let mut missing = Vec::new();
    let mut bad_order = None;
    let mut seen = vec![0u32; LINES as usize];
    for (i, &n) in got.iter().enumerate() {
        if let Some(c) = seen.get_mut(n as usize) {
            *c += 1;
        }
        if bad_order.is_none() && i > 0 && got[i - 1] >= n {
            bad_order = Some((i, got[i - 1], n));
        }
    }
    let dups: Vec<u64> = (0..LINES).filter(|&n| seen[n as usize] > 1).collect();
    for n in 0..LINES {
        if seen[n as usize] == 0 {
            missing.push(n);
        }
    }
    assert!(
        missing.is_empty() && dups.is_empty() && bad_order.is_none() && got.len() == LINES as usize,
        "{} numbers written for {LINES} lines; missing {} (first {:?}); duplicated {} (first {:?}); \
         first out-of-order {:?}; dir {}",
        got.len(),
        missing.len(),
        missing.iter().take(5).collect::<Vec<_>>(),
        dups.len(),
        dups.iter().take(5).collect::<Vec<_>>(),
        bad_order,
        d.0.display()
    );
}

fn open_append(p: &Path) -> File {
    OpenOptions::new()
        .append(true)
        .create(true)
        .open(p)
        .expect("open for append")
}

const ROTATE_EVERY: u64 = 4_000; // lines between rotations (0.4 s)

#[test]
fn tailed_file_rotated_by_rename_and_copytruncate() {
    let d = TmpDir::new("file");
    let log = d.join("app.log");
    fs::write(&log, "").unwrap();
    let rsec = Rsec::start(&d, "app.log");
    let mut f = open_append(&log);
    sync(&d, |l| f.write_all(l.as_bytes()).unwrap());
    let mut rotations = (0, 0);
    write_paced(&mut f, |f, seq| {
        if seq % ROTATE_EVERY != 0 || seq >= LINES {
            return;
        }
        if (seq / ROTATE_EVERY) % 2 == 1 {
            // rename + create, as logrotate's default does; the writer goes on at once.
            fs::rename(&log, d.join(&format!("app.log.{seq}"))).expect("rename");
            *f = open_append(&log);
            rotations.0 += 1;
        } else {
            // copytruncate inherently races: lines written after the copy and before the
            // truncate are lost for any tailer, and lines a tailer has not read yet when the
            // file is truncated are gone for it. So the writer pauses until rsec has
            // processed every line so far; what is tested is that rsec notices the
            // truncation and reads the new lines from the start, not that race.
            let end = Instant::now() + Duration::from_secs(5);
            while written(&d) < seq && Instant::now() < end {
                sleep(Duration::from_millis(1));
            }
            fs::copy(&log, d.join(&format!("app.log.{seq}"))).expect("copy");
            f.set_len(0).expect("truncate");
            rotations.1 += 1;
        }
    });
    assert_eq!(rotations, (2, 2), "rename and copytruncate rotations done");
    finish_and_check(&d, rsec);
}

const REOPEN_EVERY: u64 = 2_500; // lines between the writer's close and reopen (0.25 s)

#[test]
fn fifo_writer_closing_and_reopening() {
    let d = TmpDir::new("fifo");
    let fifo = d.join("in.fifo");
    nix::unistd::mkfifo(&fifo, Mode::from_bits_truncate(0o600)).expect("mkfifo");
    let rsec = Rsec::start(&d, "in.fifo");
    // Opening for writing blocks until rsec has opened the pipe for reading.
    let open_w = || {
        OpenOptions::new()
            .write(true)
            .open(&fifo)
            .expect("open fifo")
    };
    let mut f = open_w();
    sync(&d, |l| f.write_all(l.as_bytes()).unwrap());
    let mut reopens = 0;
    write_paced(&mut f, |f, seq| {
        if seq % REOPEN_EVERY == 0 && seq < LINES {
            // Replacing the handle closes the old one first: for a moment the pipe has no
            // writer but rsec (whose own write end, --rwfifo, keeps it from seeing EOF).
            *f = File::open("/dev/null").unwrap();
            sleep(Duration::from_millis(20));
            *f = open_w();
            reopens += 1;
        }
    });
    drop(f);
    assert_eq!(reopens, 7, "writer reopened the pipe");
    finish_and_check(&d, rsec);
}
