//! `--time-source=event` through the binary: the replay example of `examples/replay/`
//! (its crontab command run as written, paths moved), reordering and late events, Calendar
//! rules on log time, the end of a --notail replay, lines without a time stamp, option
//! errors, and no progress bar when stderr is not a terminal.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

fn rsec() -> &'static str {
    env!("CARGO_BIN_EXE_rsec")
}

use common::TempDir as Dir;

fn run(args: &[String]) -> Output {
    Command::new(rsec())
        .args(args)
        .env("TZ", "UTC")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

/// Runs a replay; gives its standard output, and its stderr followed by its log file.
fn replay(rules: &str, log: &str, extra: &[&str]) -> (String, String) {
    let d = Dir::new("r");
    let conf = d.write("rules.sec", rules);
    let input = d.write("in.log", log);
    let mut args = vec![
        format!("--conf={conf}"),
        format!("--input={input}"),
        "--notail".into(),
        "--time-source=event".into(),
        "--tz=UTC".into(),
    ];
    let logfile = d.path().join("rsec.log");
    args.push(format!("--log={}", logfile.display()));
    args.extend(extra.iter().map(|s| s.to_string()));
    let out = run(&args);
    assert!(out.status.success(), "{out:?}");
    let log = std::fs::read_to_string(&logfile).unwrap_or_default();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        format!("{}{log}", String::from_utf8_lossy(&out.stderr)),
    )
}

/// Drops the weekday and year of `%t` (the year of RFC 3164 stamps is inferred from today).
fn no_year(s: &str) -> String {
    let re = regex::Regex::new(r"[A-Z][a-z]{2} (Nov 22 [0-9:]+) [0-9]{4}").unwrap();
    re.replace_all(s, "$1").into_owned()
}

#[test]
fn replay_example_runs_as_the_crontab_says() {
    let ex = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/replay");
    let crontab = std::fs::read_to_string(ex.join("crontab")).unwrap();
    let line = crontab
        .lines()
        .find(|l| l.contains("rsec ") && !l.starts_with('#'))
        .unwrap();
    let d = Dir::new("example");
    let logfile = d.path().join("replay.log").to_string_lossy().into_owned();
    // Minute, hour, day, month, weekday, then the command.
    let words: Vec<&str> = line.split_whitespace().skip(5).collect();
    assert_eq!(words[0], "rsec");
    let args: Vec<String> = words[1..]
        .iter()
        .map(|w| {
            w.replace("/etc/rsec/replay/", &format!("{}/", ex.display()))
                .replace(
                    "/var/log/auth.log.1",
                    &ex.join("auth.log").to_string_lossy(),
                )
                .replace("/var/log/rsec-replay.log", &logfile)
        })
        .collect();
    let out = run(&args);
    assert!(out.status.success(), "{out:?}");
    let expected = std::fs::read_to_string(ex.join("expected.out")).unwrap();
    assert_eq!(no_year(&String::from_utf8_lossy(&out.stdout)), expected);
    let log = std::fs::read_to_string(&logfile).unwrap();
    assert!(
        log.contains("Event time: 20 lines, 0 without a time stamp"),
        "{log}"
    );
}

const THRESH: &str = "type=SingleWithThreshold\nptype=RegExp\npattern=fail (\\w+)\n\
desc=$1\naction=write - THRESH $1 %t\nwindow=5\nthresh=3\n";

#[test]
fn windows_follow_the_time_stamps() {
    let log = "Nov 22 08:00:01 h fail a\nNov 22 08:00:03 h fail a\nNov 22 08:00:07 h fail a\n\
               Nov 22 08:00:08 h fail a\nNov 22 08:00:09 h fail a\n";
    let (out, _) = replay(THRESH, log, &[]);
    // 1, 3, 7: 7 - 1 > 5, so SEC slides the window to start at 3; 3, 7, 8 crosses the
    // threshold at 8.
    assert_eq!(no_year(&out), "THRESH a Nov 22 08:00:08\n");
}

#[test]
fn reorder_window_puts_lines_in_order_and_counts_late_ones() {
    let log = "Nov 22 08:00:05 h fail a\nNov 22 08:00:01 h fail a\nNov 22 08:00:03 h fail a\n\
               Nov 22 08:00:30 h x\nNov 22 08:00:02 h fail b\n";
    // Without reordering the first line's time holds for the older ones.
    let (out, _) = replay(THRESH, log, &[]);
    assert_eq!(no_year(&out), "THRESH a Nov 22 08:00:05\n");
    // With a window, the lines come in order; the last line is late.
    let (out, err) = replay(THRESH, log, &["--reorder-window=10", "--debug=5"]);
    assert_eq!(no_year(&out), "THRESH a Nov 22 08:00:05\n");
    assert!(err.contains("1 late processed, 0 late dropped"), "{err}");
    let (_, err) = replay(THRESH, log, &["--reorder-window=10", "--late=drop"]);
    assert!(err.contains("0 late processed, 1 late dropped"), "{err}");
}

#[test]
fn reorder_changes_which_window_a_line_falls_in() {
    // Arrival: 04, 00, 10, 02. With a 5 s window the order is 00, 04, then 02 is late
    // (processed at 04): three within the window, a crossing at 04. Without reordering the
    // times are 04, 04, 10, 10: the window slides past both 04s and nothing crosses.
    let log = "Nov 22 08:00:04 h fail a\nNov 22 08:00:00 h fail a\nNov 22 08:00:10 h fail a\n\
               Nov 22 08:00:02 h fail a\n";
    let (out, _) = replay(THRESH, log, &["--reorder-window=5"]);
    assert_eq!(no_year(&out), "THRESH a Nov 22 08:00:04\n");
    let (out, _) = replay(THRESH, log, &[]);
    assert_eq!(out, "");
}

#[test]
fn calendar_rules_run_on_log_time() {
    let rules = "type=Calendar\ntime=*/10 * * * *\ndesc=c\naction=write - TICK %t\n";
    let log = "2026-11-22T08:05:00Z a\n2026-11-22T08:31:00Z b\n2026-11-22T09:00:00Z c\n";
    let (out, _) = replay(rules, log, &[]);
    assert_eq!(
        out,
        "TICK Sun Nov 22 08:10:00 2026\nTICK Sun Nov 22 08:20:00 2026\n\
         TICK Sun Nov 22 08:30:00 2026\nTICK Sun Nov 22 08:40:00 2026\n\
         TICK Sun Nov 22 08:50:00 2026\nTICK Sun Nov 22 09:00:00 2026\n"
    );
}

#[test]
fn notail_end_stops_at_the_last_event_time() {
    // The context lives 5 seconds: it expires at 08:00:06 at the earliest, after the last
    // line (08:00:04), so a live run stopped then had not expired it, and nor does the
    // replay; the delayed event due at 08:00:03 is delivered.
    let rules = "type=Single\nptype=SubStr\npattern=go\ndesc=g\n\
                 action=create C 5 (write - EXPIRED); event 2 LATER\n\n\
                 type=Single\nptype=SubStr\npattern=LATER\ndesc=l\naction=write - LATER %t\n";
    let log = "1795334401 go\n1795334402 x\n1795334404 y\n";
    let (out, _) = replay(rules, log, &[]);
    assert_eq!(out, "LATER Sun Nov 22 08:00:03 2026\n");
    let log = "1795334401 go\n1795334407 y\n";
    let (out, _) = replay(rules, log, &[]);
    assert_eq!(out, "LATER Sun Nov 22 08:00:03 2026\nEXPIRED\n");
}

#[test]
fn lines_without_a_stamp_take_the_last_event_time() {
    let rules = "type=Single\nptype=SubStr\npattern=plain\ndesc=p\naction=write - %t\n";
    let log = "plain first\n1795334401 a\nplain\n1795334409 b\nplain\n";
    let (out, err) = replay(rules, log, &["--debug=5"]);
    assert_eq!(
        out,
        "Sun Nov 22 08:00:01 2026\nSun Nov 22 08:00:01 2026\nSun Nov 22 08:00:09 2026\n"
    );
    assert!(err.contains("5 lines, 3 without a time stamp"), "{err}");
    // Not a terminal: no progress bar (nothing on stderr at all).
    let d = Dir::new("tty");
    let conf = d.write("r.sec", rules);
    let input = d.write("in.log", log);
    let out = run(&[
        format!("--conf={conf}"),
        format!("--input={input}"),
        "--notail".into(),
        "--time-source=event".into(),
    ]);
    assert!(out.stderr.is_empty(), "{out:?}");
}

#[test]
fn user_regex_and_format() {
    let rules = "type=Single\nptype=SubStr\npattern=GET\ndesc=p\naction=write - %t\n";
    let log = "10.0.0.1 - - [22/Nov/2026:09:00:01 +0100] \"GET / HTTP/1.1\" 200 5\n";
    let (out, _) = replay(
        rules,
        log,
        &[
            r"--timestamp-regex=\[([^\]]+)\]",
            "--timestamp-format=%d/%b/%Y:%H:%M:%S %z",
        ],
    );
    assert_eq!(out, "Sun Nov 22 08:00:01 2026\n");
}

#[test]
fn bad_options_are_reported() {
    let d = Dir::new("bad");
    let conf = d.write("r.sec", THRESH);
    for bad in ["--tz=No/Such_Zone", "--timestamp-regex=("] {
        let out = run(&[
            format!("--conf={conf}"),
            "--input=/dev/null".into(),
            "--notail".into(),
            "--time-source=event".into(),
            bad.into(),
        ]);
        assert!(!out.status.success(), "{bad}");
        assert!(!out.stderr.is_empty(), "{bad}");
    }
}
