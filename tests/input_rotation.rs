//! Tail mode under load: a writer appends about 10 000 lines/s for about 2 s while the file
//! is rotated, alternately by rename + create and by copytruncate. Every line must be seen
//! exactly once and in order.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::sleep;
use std::time::{Duration, Instant};

use rsec::io::input::{InputConfig, Inputs};

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

const LINES: u64 = 20_000;
const BATCH: u64 = 100; // lines per 10 ms: 10 000 lines/s
const ROTATE_EVERY: u64 = 4_000; // lines between rotations (0.4 s)

fn open_append(p: &PathBuf) -> File {
    OpenOptions::new()
        .append(true)
        .create(true)
        .open(p)
        .expect("open log for append")
}

#[test]
fn every_line_once_in_order_across_rotations() {
    let d = tmpdir("stress");
    let log = d.join("app.log");
    fs::write(&log, "").unwrap();
    let mut inputs = Inputs::open(InputConfig {
        patterns: vec![(log.to_str().unwrap().to_string(), Some("APP".into()))],
        ..InputConfig::default()
    });
    // The last sequence number the reader has seen (+1), so the writer can wait for it.
    let seen = Arc::new(AtomicU64::new(0));
    let writer_done = Arc::new(AtomicBool::new(false));
    let writer = {
        let (seen, done, log, d) = (
            seen.clone(),
            writer_done.clone(),
            log.clone(),
            d.to_path_buf(),
        );
        std::thread::spawn(move || {
            let mut f = open_append(&log);
            let mut rotations = (0, 0);
            let start = Instant::now();
            let mut seq = 0;
            while seq < LINES {
                let mut chunk = String::new();
                for _ in 0..BATCH {
                    chunk.push_str(&format!("{seq:08} some payload to make the line longer\n"));
                    seq += 1;
                }
                f.write_all(chunk.as_bytes()).expect("write");
                if seq % ROTATE_EVERY == 0 && seq < LINES {
                    if (seq / ROTATE_EVERY) % 2 == 1 {
                        // rename + create, as logrotate's default does.
                        fs::rename(&log, d.join(format!("app.log.{seq}"))).expect("rename");
                        f = open_append(&log);
                        rotations.0 += 1;
                    } else {
                        // copytruncate. It inherently races: lines written after the copy
                        // and before the truncate are lost for any tailer, and lines the
                        // tailer has not read yet when the file is truncated are gone from
                        // it. So the writer pauses here until the reader has caught up;
                        // the test is about the reader noticing the truncation, not about
                        // that race.
                        let wait_end = Instant::now() + Duration::from_secs(5);
                        while seen.load(Ordering::SeqCst) < seq && Instant::now() < wait_end {
                            sleep(Duration::from_millis(1));
                        }
                        fs::copy(&log, d.join(format!("app.log.{seq}"))).expect("copy");
                        f.set_len(0).expect("truncate");
                        rotations.1 += 1;
                    }
                }
                // Keep the pace at about 10 000 lines per second.
                let due = start + Duration::from_millis(seq / BATCH * 10);
                if let Some(wait) = due.checked_duration_since(Instant::now()) {
                    sleep(wait);
                }
            }
            done.store(true, Ordering::SeqCst);
            rotations
        })
    };
    let deadline = Instant::now() + Duration::from_secs(9);
    let mut next = 0u64;
    while next < LINES && Instant::now() < deadline {
        match inputs.read_line() {
            Some(l) => {
                let text = String::from_utf8(l.line).expect("utf-8 line");
                let n: u64 = text[..8].parse().expect("sequence number");
                assert_eq!(n, next, "line out of order or lost/duplicated: {text:?}");
                assert_eq!(l.context.as_deref(), Some("APP"));
                next += 1;
                seen.store(next, Ordering::SeqCst);
            }
            None => sleep(inputs.poll_timeout_hint(Duration::from_millis(1))),
        }
    }
    let (renames, truncates) = writer.join().expect("writer thread");
    assert!(writer_done.load(Ordering::SeqCst));
    assert_eq!(next, LINES, "lines seen");
    assert!(renames >= 2 && truncates >= 2, "{renames} {truncates}");
    // Nothing extra afterwards.
    sleep(Duration::from_millis(50));
    assert!(inputs.read_line().is_none());
}
