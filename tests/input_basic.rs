//! The input layer's SEC behaviours on regular files: round-robin order, partial lines,
//! `--notail` EOF, tail start position, rotation and truncation, missing files,
//! addinput/dropinput, saved positions, check and input timeouts.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::thread::sleep;
use std::time::{Duration, Instant};

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

fn path_str(p: &Path) -> String {
    p.to_str().expect("utf-8 temp path").to_string()
}

fn append(p: &Path, data: &[u8]) {
    let mut f = OpenOptions::new()
        .append(true)
        .create(true)
        .open(p)
        .expect("open for append");
    f.write_all(data).expect("append");
}

fn cfg(files: &[&Path], tail: bool) -> InputConfig {
    InputConfig {
        patterns: files.iter().map(|p| (path_str(p), None)).collect(),
        tail,
        ..InputConfig::default()
    }
}

/// Reads lines until `n` have come or `limit` has passed.
fn collect(inputs: &mut Inputs, n: usize, limit: Duration) -> Vec<InputLine> {
    let end = Instant::now() + limit;
    let mut out = Vec::new();
    while out.len() < n && Instant::now() < end {
        match inputs.read_line() {
            Some(l) => out.push(l),
            None => sleep(Duration::from_millis(5)),
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

#[test]
fn round_robin_in_sorted_name_order() {
    let d = tmpdir("rr");
    let (a, z) = (d.join("a.log"), d.join("z.log"));
    fs::write(&z, "z1\nz2\n").unwrap();
    fs::write(&a, "a1\na2\na3\n").unwrap();
    // Given z first: SEC still reads in sorted name order, one line per file per round.
    let mut inputs = Inputs::open(cfg(&[&z, &a], false));
    let got = collect(&mut inputs, 5, Duration::from_secs(2));
    assert_eq!(texts(&got), ["a1", "z1", "a2", "z2", "a3"]);
    assert_eq!(&*got[0].source, path_str(&a));
    assert_eq!(got[0].context, None);
    assert!(inputs.read_line().is_none());
    assert!(inputs.all_closed());
}

#[test]
fn notail_processes_final_unterminated_line() {
    // `printf 'a\nb' | sec --notail` processes a and b, then exits.
    let d = tmpdir("notail");
    let f = d.join("f");
    fs::write(&f, "a\nb").unwrap();
    let mut inputs = Inputs::open(cfg(&[&f], false));
    assert!(!inputs.all_closed());
    let got = collect(&mut inputs, 2, Duration::from_secs(2));
    assert_eq!(texts(&got), ["a", "b"]);
    assert!(inputs.read_line().is_none());
    assert!(inputs.all_closed());
}

#[test]
fn notail_missing_file_counts_as_closed() {
    let d = tmpdir("notail-missing");
    let mut inputs = Inputs::open(cfg(&[&d.join("nothere")], false));
    assert!(inputs.read_line().is_none());
    assert!(inputs.all_closed());
}

#[test]
fn tail_mode_never_reports_all_closed() {
    let d = tmpdir("tail-closed");
    let inputs = Inputs::open(cfg(&[&d.join("nothere")], true));
    assert!(!inputs.all_closed());
}

#[test]
fn partial_lines_across_small_blocks() {
    let d = tmpdir("partial");
    let f = d.join("f");
    fs::write(&f, "hello world\nab").unwrap();
    let mut c = cfg(&[&f], true);
    c.fromstart = true;
    c.blocksize = 3;
    let mut inputs = Inputs::open(c);
    assert_eq!(
        texts(&collect(&mut inputs, 1, Duration::from_secs(1))),
        ["hello world"]
    );
    // In tail mode a partial last line waits for the rest.
    assert!(collect(&mut inputs, 1, Duration::from_millis(100)).is_empty());
    append(&f, b"cd\nef");
    append(&f, b"gh\n");
    assert_eq!(
        texts(&collect(&mut inputs, 2, Duration::from_secs(1))),
        ["abcd", "efgh"]
    );
}

#[test]
fn bytes_are_data() {
    let d = tmpdir("bytes");
    let f = d.join("f");
    fs::write(&f, b"\xff\xfe\r\n\n\x00x\n").unwrap();
    let mut inputs = Inputs::open(cfg(&[&f], false));
    let got = collect(&mut inputs, 3, Duration::from_secs(1));
    let lines: Vec<&[u8]> = got.iter().map(|l| &l.line[..]).collect();
    assert_eq!(lines, [&b"\xff\xfe\r"[..], b"", b"\x00x"]);
}

#[test]
fn tail_starts_at_end_unless_fromstart() {
    let d = tmpdir("start");
    let f = d.join("f");
    fs::write(&f, "old\n").unwrap();
    let mut tail = Inputs::open(cfg(&[&f], true));
    let mut c = cfg(&[&f], true);
    c.fromstart = true;
    let mut from = Inputs::open(c);
    assert!(collect(&mut tail, 1, Duration::from_millis(100)).is_empty());
    append(&f, b"new\n");
    assert_eq!(
        texts(&collect(&mut tail, 1, Duration::from_secs(1))),
        ["new"]
    );
    assert_eq!(
        texts(&collect(&mut from, 2, Duration::from_secs(1))),
        ["old", "new"]
    );
}

#[test]
fn follows_truncation_and_recreation_keeping_partial_line() {
    let d = tmpdir("rotate");
    let f = d.join("f");
    fs::write(&f, "aaaa\nbbbb\n").unwrap();
    let mut c = cfg(&[&f], true);
    c.fromstart = true;
    let mut inputs = Inputs::open(c);
    assert_eq!(
        texts(&collect(&mut inputs, 2, Duration::from_secs(1))),
        ["aaaa", "bbbb"]
    );
    // Truncated (copytruncate): read again from the start.
    OpenOptions::new()
        .write(true)
        .open(&f)
        .unwrap()
        .set_len(0)
        .unwrap();
    assert!(collect(&mut inputs, 1, Duration::from_millis(50)).is_empty());
    append(&f, b"c\n");
    assert_eq!(
        texts(&collect(&mut inputs, 1, Duration::from_secs(1))),
        ["c"]
    );
    // Renamed and recreated: the old file's rest first, then the new file from its start.
    append(&f, b"d\nab");
    fs::rename(&f, d.join("f.1")).unwrap();
    fs::write(&f, "cd\ne\n").unwrap();
    // SEC keeps the partial "ab" and completes it with the new file's first line.
    assert_eq!(
        texts(&collect(&mut inputs, 3, Duration::from_secs(1))),
        ["d", "abcd", "e"]
    );
    // Removed: the open inode is kept until the name comes back.
    fs::remove_file(&f).unwrap();
    assert!(collect(&mut inputs, 1, Duration::from_millis(50)).is_empty());
    fs::write(&f, "back\n").unwrap();
    assert_eq!(
        texts(&collect(&mut inputs, 1, Duration::from_secs(1))),
        ["back"]
    );
}

#[test]
fn missing_file_is_retried_with_reopen_timeout() {
    let d = tmpdir("reopen");
    let (m, n) = (d.join("m"), d.join("n"));
    let mut c = cfg(&[&m, &n], true);
    c.reopen_timeout = 1;
    let mut inputs = Inputs::open(c);
    // Without --reopen-timeout SEC gives up on a missing file.
    let mut never = Inputs::open(cfg(&[&n], true));
    assert!(inputs.read_line().is_none());
    fs::write(&m, "m1\n").unwrap();
    fs::write(&n, "n1\n").unwrap();
    // A file that appears later is read from its start.
    let got = collect(&mut inputs, 2, Duration::from_secs(4));
    assert_eq!(texts(&got), ["m1", "n1"]);
    assert!(collect(&mut never, 1, Duration::from_millis(1200)).is_empty());
}

#[test]
fn addinput_and_dropinput() {
    let d = tmpdir("dyn");
    let (base, x, y) = (d.join("base"), d.join("x"), d.join("y"));
    fs::write(&base, "").unwrap();
    fs::write(&x, "x1\nx2\n").unwrap();
    fs::write(&y, "y-old\n").unwrap();
    let mut inputs = Inputs::open(cfg(&[&base], true));
    let (xs, ys) = (path_str(&x), path_str(&y));
    assert!(inputs.add_input(&xs, "0", Some("XCTX")));
    assert!(inputs.add_input(&ys, "-", None));
    assert!(!inputs.add_input(&xs, "0", None), "already an input");
    assert!(
        !inputs.add_input(&path_str(&base), "0", None),
        "static input"
    );
    assert!(
        !inputs.add_input(&path_str(&d.join("z")), "x1", None),
        "bad offset"
    );
    append(&y, b"y-new\n");
    let got = collect(&mut inputs, 3, Duration::from_secs(1));
    assert_eq!(texts(&got), ["x1", "y-new", "x2"]);
    assert_eq!(got[0].context.as_deref(), Some("XCTX"));
    assert_eq!(got[1].context, None);
    assert!(
        !inputs.drop_input(&path_str(&base)),
        "only dynamic inputs drop"
    );
    assert!(inputs.drop_input(&ys));
    assert!(!inputs.drop_input(&ys));
    append(&y, b"y-gone\n");
    append(&x, b"x3\n");
    assert_eq!(
        texts(&collect(&mut inputs, 2, Duration::from_millis(300))),
        ["x3"]
    );
    // A full restart forgets dynamic inputs and reopens the rest at EOF.
    append(&base, b"before\n");
    inputs.reopen_all();
    append(&base, b"after\n");
    append(&x, b"x4\n");
    assert_eq!(
        texts(&collect(&mut inputs, 2, Duration::from_millis(300))),
        ["after"]
    );
}

#[test]
fn soft_restart_keeps_open_inputs_in_place() {
    let d = tmpdir("soft");
    let f = d.join("f");
    let x = d.join("x");
    fs::write(&f, "").unwrap();
    fs::write(&x, "").unwrap();
    let c = cfg(&[&f], true);
    let mut inputs = Inputs::open(c.clone());
    assert!(inputs.add_input(&path_str(&x), "-", None));
    append(&f, b"kept\n");
    append(&x, b"dyn\n");
    inputs.soft_restart(c, true);
    let got = collect(&mut inputs, 2, Duration::from_secs(1));
    assert_eq!(texts(&got), ["kept", "dyn"]);
}

#[test]
fn positions_resume_where_reading_stopped() {
    let d = tmpdir("pos");
    let f = d.join("f");
    fs::write(&f, "l1\nl2\nl3\npart").unwrap();
    let mut c = cfg(&[&f], true);
    c.fromstart = true;
    let mut inputs = Inputs::open(c.clone());
    assert_eq!(
        texts(&collect(&mut inputs, 1, Duration::from_secs(1))),
        ["l1"]
    );
    let pos = inputs.positions();
    assert_eq!(pos.len(), 1);
    assert_eq!(pos[0].0, path_str(&f));
    assert_eq!(pos[0].3, 3, "offset of the first byte not returned");
    drop(inputs);
    append(&f, b"ial\n");
    let mut again = Inputs::open_with_positions(cfg(&[&f], true), &pos);
    assert_eq!(
        texts(&collect(&mut again, 3, Duration::from_secs(1))),
        ["l2", "l3", "partial"]
    );
    // A different file under the same name is not resumed (tail mode: from its end).
    // (Written beside it first, so the new file cannot reuse the old inode number.)
    fs::write(d.join("f.new"), "other1\nother2\nother3\n").unwrap();
    fs::rename(d.join("f.new"), &f).unwrap();
    let mut other = Inputs::open_with_positions(cfg(&[&f], true), &pos);
    assert!(collect(&mut other, 1, Duration::from_millis(100)).is_empty());
    assert!(other.seek_input(&path_str(&f), 7));
    assert_eq!(
        texts(&collect(&mut other, 2, Duration::from_secs(1))),
        ["other2", "other3"]
    );
}

#[test]
fn check_timeout_delays_polls() {
    let d = tmpdir("check");
    let f = d.join("f");
    fs::write(&f, "").unwrap();
    let mut c = cfg(&[&f], true);
    c.check_timeout = 2;
    let mut inputs = Inputs::open(c);
    assert!(inputs.read_line().is_none()); // an empty poll: leave the file alone for 2 s
    let t0 = Instant::now();
    append(&f, b"x\n");
    let got = collect(&mut inputs, 1, Duration::from_secs(4));
    assert_eq!(texts(&got), ["x"]);
    assert!(
        t0.elapsed() >= Duration::from_millis(900),
        "{:?}",
        t0.elapsed()
    );
}

#[test]
fn input_timeout_runs_script() {
    use std::os::unix::fs::PermissionsExt;
    let d = tmpdir("itimeout");
    let f = d.join("f");
    let out = d.join("calls");
    let script = d.join("script.sh");
    fs::write(&f, "").unwrap();
    fs::write(
        &script,
        format!("#!/bin/sh\necho \"$1 $2\" >> '{}'\n", path_str(&out)),
    )
    .unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    let mut c = cfg(&[&f], true);
    c.input_timeout = 1;
    c.timeout_script = Some(path_str(&script));
    let mut inputs = Inputs::open(c);
    let fs_ = path_str(&f);
    let wait_for = |inputs: &mut Inputs, want: &str| {
        let end = Instant::now() + Duration::from_secs(4);
        while Instant::now() < end {
            let _ = inputs.read_line();
            if fs::read_to_string(&out).unwrap_or_default() == want {
                return true;
            }
            sleep(Duration::from_millis(20));
        }
        false
    };
    assert!(wait_for(&mut inputs, &format!("1 {fs_}\n")));
    append(&f, b"data\n");
    assert!(wait_for(&mut inputs, &format!("1 {fs_}\n0 {fs_}\n")));
}
