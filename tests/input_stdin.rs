//! `--input=-`: the test binary runs itself again as a child with a chosen stdin (a pipe or
//! a regular file), and the child reports what the input layer read from it.

use std::io::Write;
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use rsec::io::input::{InputConfig, Inputs};

const HELPER_ENV: &str = "RSEC_INPUT_STDIN_HELPER";

/// Runs in the child only: reads stdin per the mode in the environment variable and prints
/// `@@LINE <text>` for each line, then `@@CLOSED <all_closed>`.
#[test]
fn stdin_helper() {
    let Ok(mode) = std::env::var(HELPER_ENV) else {
        return; // not the child
    };
    let mut inputs = Inputs::open(InputConfig {
        patterns: vec![("-".to_string(), None)],
        tail: mode != "notail",
        fromstart: mode == "fromstart",
        ..InputConfig::default()
    });
    let end = Instant::now() + Duration::from_millis(1500);
    let mut out = String::new();
    while Instant::now() < end && !inputs.all_closed() {
        match inputs.read_line() {
            Some(l) => {
                assert_eq!(&*l.source, "-");
                out.push_str(&format!("@@LINE {}\n", String::from_utf8_lossy(&l.line)));
            }
            None => sleep(Duration::from_millis(5)),
        }
    }
    out.push_str(&format!("@@CLOSED {}\n", inputs.all_closed()));
    print!("{out}");
}

/// Runs the helper with `stdin` and returns its report lines.
fn run_helper(mode: &str, stdin: Stdio, feed: Option<&[u8]>) -> Vec<String> {
    let exe = std::env::current_exe().expect("test binary");
    let mut child = Command::new(exe)
        .args(["stdin_helper", "--exact", "--nocapture", "--test-threads=1"])
        .env(HELPER_ENV, mode)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn helper");
    if let Some(data) = feed {
        let mut w = child.stdin.take().expect("child stdin");
        w.write_all(data).expect("feed");
    }
    let out = child.wait_with_output().expect("helper output");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        // The harness may print its own text before ours on the same line.
        .filter_map(|l| l.find("@@").map(|i| l[i + 2..].to_string()))
        .collect()
}

#[test]
fn stdin_pipe_in_tail_mode_flushes_partial_line_at_eof() {
    // `printf 'a\nb' | sec --input=-`: both lines; SEC keeps running (tail mode).
    let got = run_helper("tail", Stdio::piped(), Some(b"a\nb"));
    assert_eq!(got, ["LINE a", "LINE b", "CLOSED false"]);
}

#[test]
fn stdin_pipe_with_notail_closes_at_eof() {
    let got = run_helper("notail", Stdio::piped(), Some(b"a\nb"));
    assert_eq!(got, ["LINE a", "LINE b", "CLOSED true"]);
}

#[test]
fn stdin_regular_file_is_tailed_from_its_end() {
    let d = std::env::temp_dir().join(format!("rsec-input-{}-stdin", std::process::id()));
    std::fs::create_dir_all(&d).expect("temp dir");
    let f = d.join("in");
    std::fs::write(&f, "x\ny\n").expect("write");
    let open = || Stdio::from(std::fs::File::open(&f).expect("open"));
    // `sec --input=- < file`: tail mode starts at the end, --fromstart reads it.
    assert_eq!(run_helper("tail", open(), None), ["CLOSED false"]);
    assert_eq!(
        run_helper("fromstart", open(), None),
        ["LINE x", "LINE y", "CLOSED false"]
    );
    assert_eq!(
        run_helper("notail", open(), None),
        ["LINE x", "LINE y", "CLOSED true"]
    );
    let _ = std::fs::remove_dir_all(&d);
}
