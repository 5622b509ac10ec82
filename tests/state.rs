//! `--state` through the binary: five cron-style `--notail` batch runs over a growing log
//! give exactly the output of one run over the whole log (event mode); a kill -9 at random
//! moments while the state is being saved never leaves a corrupt state file; wall mode
//! keeps contexts, operations and variables across a restart; rotation and truncation of
//! inputs between runs; changed rules drop only their operations; a corrupt or
//! other-version state file is ignored; Perl `time()` follows event time.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn rsec() -> &'static str {
    env!("CARGO_BIN_EXE_rsec")
}

use common::TempDir as Dir;

fn run(args: &[String]) -> Output {
    let out = Command::new(rsec())
        .args(args)
        .env("TZ", "UTC")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(out.status.success(), "rsec failed: {out:?}");
    out
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Rules covering thresholds, both Pair types, contexts with lifetimes and expiry lists,
/// a delayed event, action-list variables and Perl (lcall with `time()`).
const RULES: &str = r#"
type=SingleWithThreshold
ptype=RegExp
pattern=sshd: fail user=(\S+)
desc=brute force $1
action=write - %t BRUTE $1; assign %lastbrute $1
window=120
thresh=10

type=PairWithWindow
ptype=RegExp
pattern=job (\d+) start
desc=job $1
action=write - %t JOB $1 TIMEOUT
ptype2=RegExp
pattern2=job $1 done
desc2=job %1 done
action2=write - %t JOB %1 OK
window=300

type=Pair
ptype=RegExp
pattern=link (\S+) down
desc=link $1
action=write - %t LINK $1 DOWN
ptype2=RegExp
pattern2=link $1 up
desc2=link %1 up
action2=write - %t LINK %1 UP
window=0

type=Single
ptype=RegExp
pattern=login (\S+)
context=!SESSION_$1
desc=login $1
action=create SESSION_$1 200 (write - %t SESSION $1 EXPIRED); add SESSION_$1 $0; \
       event 90 REMIND $1

type=Single
ptype=RegExp
pattern=cmd (\S+) (\S+)
context=SESSION_$1
desc=cmd $1
action=add SESSION_$1 $2; lcall %cnt %cnt -> ( sub { ($_[0] // 0) + 1 } )

type=Single
ptype=RegExp
pattern=logout (\S+)
context=SESSION_$1
desc=logout $1
action=copy SESSION_$1 %st; write - %t LOGOUT $1 [%st]; delete SESSION_$1

type=Single
ptype=RegExp
pattern=^REMIND (\S+)
context=SESSION_$1
desc=remind $1
action=lcall %now -> ( sub { time() } ); write - %t REMIND $1 perl=%now cmds=%cnt last=%lastbrute

type=Calendar
time=*/5 * * * *
desc=every five minutes
action=write - %t CALENDAR last=%lastbrute
"#;

/// A deterministic log: ~500 lines with gaps of 0-9 s, and the events that must cross the
/// run boundaries put at them (`cut` is the line count of each of the five chunks).
fn gen_log(cut: usize) -> Vec<String> {
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut rnd = |n: u64| {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) % n
    };
    let users = ["ann", "bob", "cid", "dan"];
    let mut t: i64 = 1_709_287_200; // 2024-03-01T10:00:00Z
    let mut lines = Vec::new();
    for i in 0..cut * 5 {
        t += rnd(10) as i64;
        let u = users[rnd(4) as usize];
        let text = match i {
            // 10 failures straddling the boundary between runs 1 and 2.
            _ if (cut - 5..cut + 5).contains(&i) => "sshd: fail user=eve".to_string(),
            // A job started in run 3 and done in run 4.
            _ if i == 3 * cut - 1 => "job 999 start".to_string(),
            _ if i == 3 * cut + 1 => "job 999 done".to_string(),
            // A session opened at the end of run 4: its reminder and expiry come in run 5.
            _ if i == 4 * cut - 1 => "login zed".to_string(),
            _ => match rnd(9) {
                0 | 1 => format!("sshd: fail user={u}"),
                2 => format!("login {u}"),
                3 => format!("cmd {u} ls{}", rnd(5)),
                4 => format!("logout {u}"),
                5 => format!("job {} start", rnd(20)),
                6 => format!("job {} done", rnd(20)),
                7 => format!(
                    "link eth{} {}",
                    rnd(3),
                    if rnd(2) == 0 { "down" } else { "up" }
                ),
                _ => format!("noise \u{e9}t\u{e9} {}", rnd(1000)),
            },
        };
        let ts = jiff::Timestamp::from_second(t).unwrap();
        lines.push(format!(
            "{} host {text}\n",
            ts.strftime("%Y-%m-%dT%H:%M:%SZ")
        ));
    }
    lines
}

fn base_args(d: &Dir, conf: &str) -> Vec<String> {
    vec![
        format!("--conf={conf}"),
        format!("--input={}", d.file("app.log")),
        "--notail".into(),
        "--time-source=event".into(),
        "--tz=UTC".into(),
        format!("--log={}", d.file("rsec.log")),
    ]
}

#[test]
fn five_batch_runs_equal_one_whole_run() {
    let cut = 100;
    let lines = gen_log(cut);
    let d = Dir::new("chunks");
    let conf = d.write("rules.sec", RULES);

    // One run over the whole log.
    d.write("app.log", &lines.concat());
    let whole = stdout(&run(&base_args(&d, &conf)));
    for want in [
        " BRUTE eve",
        " JOB 999 OK",
        " REMIND zed",
        " SESSION zed EXPIRED",
    ] {
        assert!(whole.contains(want), "{want} missing from:\n{whole}");
    }
    assert!(whole.contains("perl=") && !whole.contains("perl= "));

    // Five cron runs, the log growing between them.
    std::fs::remove_file(d.file("app.log")).unwrap();
    let mut args = base_args(&d, &conf);
    args.push(format!("--state={}", d.file("state.json")));
    let mut chunked = String::new();
    let mut fresh = String::new();
    for c in lines.chunks(cut) {
        d.append("app.log", &c.concat());
        chunked.push_str(&stdout(&run(&args)));
        // The same chunk alone, without state, for contrast.
        d.write("alone.log", &c.concat());
        let mut alone = base_args(&d, &conf);
        alone[1] = format!("--input={}", d.file("alone.log"));
        fresh.push_str(&stdout(&run(&alone)));
    }
    assert_eq!(chunked, whole);
    assert_ne!(fresh, whole, "the test must depend on state across runs");
    assert!(!fresh.contains(" BRUTE eve") && !fresh.contains(" JOB 999 OK"));
    let log = std::fs::read_to_string(d.file("rsec.log")).unwrap();
    assert!(log.contains("Restored state from"), "{log}");
    let mode = std::fs::metadata(d.file("state.json")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(mode.permissions().mode() & 0o777, 0o600);
}

#[test]
fn a_partial_last_line_waits_for_the_next_run() {
    let d = Dir::new("partial");
    let conf = d.write(
        "rules.sec",
        "type=Single\nptype=RegExp\npattern=msg (.*)\ndesc=m\naction=write - got $1\n",
    );
    let mut args = base_args(&d, &conf);
    args.push(format!("--state={}", d.file("state.json")));
    d.write(
        "app.log",
        "2024-03-01T10:00:00Z msg one\n2024-03-01T10:00:01Z msg tw",
    );
    assert_eq!(stdout(&run(&args)), "got one\n");
    d.append("app.log", "o\n");
    assert_eq!(stdout(&run(&args)), "got two\n");
    assert_eq!(stdout(&run(&args)), "");
}

#[test]
fn rotation_and_truncation_between_runs() {
    let d = Dir::new("rotate");
    let conf = d.write(
        "rules.sec",
        "type=Single\nptype=RegExp\npattern=msg (.*)\ndesc=m\naction=write - got $1\n",
    );
    let mut args = base_args(&d, &conf);
    args.push(format!("--state={}", d.file("state.json")));
    d.write("app.log", "2024-03-01T10:00:00Z msg 1\n");
    assert_eq!(stdout(&run(&args)), "got 1\n");
    // Written before the rotation, then rotated away (logrotate's rename).
    d.append("app.log", "2024-03-01T10:00:01Z msg 2\n");
    std::fs::rename(d.file("app.log"), d.file("app.log.1")).unwrap();
    d.write("app.log", "2024-03-01T10:00:02Z msg 3\n");
    assert_eq!(stdout(&run(&args)), "got 2\ngot 3\n");
    // Truncated in place (copytruncate): the new content is read from the start.
    d.write("app.log", "2024-03-01T10:00:03Z msg 4\n");
    assert_eq!(stdout(&run(&args)), "got 4\n");
    assert_eq!(stdout(&run(&args)), "");
}

#[test]
fn changed_rules_drop_only_their_operations() {
    let d = Dir::new("changed");
    let rule = |n: &str, thresh: u32| {
        format!(
            "type=SingleWithThreshold\nptype=RegExp\npattern={n} (\\S+)\ndesc={n} $1\n\
             action=write - {n} $1\nwindow=600\nthresh={thresh}\n\n"
        )
    };
    let conf = d.write("rules.sec", &(rule("aa", 2) + &rule("bb", 2)));
    let mut args = base_args(&d, &conf);
    args.push(format!("--state={}", d.file("state.json")));
    d.write(
        "app.log",
        "2024-03-01T10:00:00Z aa x\n2024-03-01T10:00:01Z bb x\n",
    );
    assert_eq!(stdout(&run(&args)), "");
    // The second rule changes (its threshold): its operation is dropped, the first's kept.
    d.write("rules.sec", &(rule("aa", 2) + &rule("bb", 3)));
    d.append(
        "app.log",
        "2024-03-01T10:00:02Z aa x\n2024-03-01T10:00:03Z bb x\n",
    );
    assert_eq!(stdout(&run(&args)), "aa x\n");
    let log = std::fs::read_to_string(d.file("rsec.log")).unwrap();
    assert!(
        log.contains("dropped 1 operations of rules that changed or are gone"),
        "{log}"
    );
}

#[test]
fn a_bad_state_file_is_ignored() {
    let d = Dir::new("bad");
    let conf = d.write(
        "rules.sec",
        "type=Single\nptype=RegExp\npattern=msg (.*)\ndesc=m\naction=write - got $1\n",
    );
    d.write("app.log", "2024-03-01T10:00:00Z msg 1\n");
    let mut args = base_args(&d, &conf);
    args.push(format!("--state={}", d.file("state.json")));
    for bad in [
        "{\"format\":\"rsec-state\",\"vers".to_string(),
        "\u{0}\u{1}garbage".to_string(),
        r#"{"format":"rsec-state","version":999,"time_source":"event","inputs":[],"engine":{}}"#
            .to_string(),
        r#"{"format":"rsec-state","version":1,"time_source":"event","inputs":[],"engine":{"rules":7}}"#
            .to_string(),
    ] {
        d.write("state.json", &bad);
        assert_eq!(stdout(&run(&args)), "got 1\n");
    }
    let log = std::fs::read_to_string(d.file("rsec.log")).unwrap();
    assert_eq!(log.matches("Ignoring state file").count(), 4, "{log}");
    // A state saved in event mode is not used by a wall-clock run.
    run(&args);
    let mut wall = args.clone();
    wall.retain(|a| a != "--time-source=event");
    assert_eq!(stdout(&run(&wall)), "got 1\n");
}

#[test]
fn wall_mode_keeps_contexts_operations_and_variables() {
    let d = Dir::new("wall");
    let conf = d.write(
        "rules.sec",
        "type=Single\nptype=RegExp\npattern=open (\\S+)\ndesc=o\n\
         action=create OPEN_$1 3600 (write - expired $1); add OPEN_$1 $0; assign %who $1\n\n\
         type=SingleWithThreshold\nptype=RegExp\npattern=fail\ndesc=f\n\
         action=write - threshold reached\nwindow=3600\nthresh=3\n\n\
         type=Single\nptype=RegExp\npattern=check (\\S+)\ncontext=OPEN_$1\ndesc=c\n\
         action=copy OPEN_$1 %st; write - open $1 [%st] who=%who\n",
    );
    let input = d.file("in.log");
    let args = |input: &str| {
        vec![
            format!("--conf={conf}"),
            format!("--input={input}"),
            "--notail".to_string(),
            format!("--state={}", d.file("state.json")),
            format!("--log={}", d.file("rsec.log")),
        ]
    };
    std::fs::write(&input, "open door\nfail\nfail\n").unwrap();
    assert_eq!(stdout(&run(&args(&input))), "");
    // A second input file: the first one is not read again.
    let input2 = d.write("in2.log", "check door\nfail\n");
    assert_eq!(
        stdout(&run(&args(&input2))),
        "open door [open door] who=door\nthreshold reached\n"
    );
}

/// Many contexts and operations, so that a save takes a while.
const BIG: usize = 1500;

fn big_state(d: &Dir) -> (String, String) {
    let conf = d.write(
        "rules.sec",
        "type=Single\nptype=RegExp\npattern=c (\\d+)\ndesc=c\n\
         action=create C_$1 86400 (write - gone $1); add C_$1 $0; add C_$1 more $1\n\n\
         type=SingleWithThreshold\nptype=RegExp\npattern=t (\\d+)\ndesc=t $1\n\
         action=write - t $1\nwindow=86400\nthresh=1000\n",
    );
    let mut text = String::new();
    for i in 0..BIG {
        text.push_str(&format!("c {i} \u{e9}t\u{e9}\nt {i}\n"));
    }
    let input = d.write("big.log", &text);
    let state = d.file("state.json");
    run(&[
        format!("--conf={conf}"),
        format!("--input={input}"),
        "--notail".into(),
        format!("--state={state}"),
    ]);
    (conf, state)
}

fn check_state(path: &str) -> usize {
    let data = std::fs::read(path).expect("the state file must exist");
    let v: serde_json::Value =
        serde_json::from_slice(&data).expect("the state file must be complete JSON");
    assert_eq!(v["format"], "rsec-state");
    assert_eq!(v["version"], 1);
    let ops = v["engine"]["ops"].as_array().expect("ops").len();
    let ctxs = v["engine"]["contexts"]["names"]
        .as_array()
        .expect("names")
        .len();
    assert_eq!((ops, ctxs), (BIG, BIG), "the state must be whole");
    data.len()
}

fn inode(path: &str) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path).map(|m| m.ino()).unwrap_or(0)
}

/// A saver: restores the big state, then saves it every 10 ms until killed.
fn saver(conf: &str, empty: &str, state: &str) -> std::process::Child {
    Command::new(rsec())
        .args([
            format!("--conf={conf}"),
            format!("--input={empty}"),
            format!("--state={state}"),
            "--state-interval=0.01".into(),
            "--poll-timeout=0.01".into(),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

#[test]
fn kill_9_during_saves_never_corrupts_the_state_file() {
    let d = Dir::new("kill");
    let (conf, state) = big_state(&d);
    let size = check_state(&state);
    assert!(size > 200_000, "state of {size} bytes is too small to test");
    let empty = d.write("empty.log", "");
    // Calibration: when the first and the second save complete (each rename is a new inode).
    let mut child = saver(&conf, &empty, &state);
    let t0 = Instant::now();
    let mut marks = Vec::new();
    let mut ino = inode(&state);
    while marks.len() < 2 && t0.elapsed() < Duration::from_secs(20) {
        let now = inode(&state);
        if now != ino {
            marks.push(t0.elapsed());
            ino = now;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(marks.len(), 2, "the saver never saved twice");
    // Kill moments spread over the first two saves.
    let (lo, hi) = (marks[0].mul_f64(0.8), marks[1] + (marks[1] - marks[0]));
    let started = Instant::now();
    let mut seed: u64 = 12345;
    let mut iterations = 0;
    let mut mid_save = 0;
    while iterations < 200 && started.elapsed() < Duration::from_secs(20) {
        iterations += 1;
        let _ = std::fs::remove_file(format!("{state}.tmp"));
        let mut child = saver(&conf, &empty, &state);
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let frac = (seed >> 33) as f64 / (1u64 << 31) as f64;
        if iterations % 2 == 0 {
            // At a random moment of the first saves.
            std::thread::sleep(lo + (hi - lo).mul_f64(frac));
        } else {
            // As soon as a save has created its temporary file, give or take a little.
            let tmp = format!("{state}.tmp");
            let t = Instant::now();
            while !Path::new(&tmp).exists() && t.elapsed() < hi * 2 {
                std::thread::sleep(Duration::from_micros(200));
            }
            std::thread::sleep(Duration::from_micros((frac * 3000.0) as u64));
        }
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        if Path::new(&format!("{state}.tmp")).exists() {
            mid_save += 1;
        }
        check_state(&state);
    }
    eprintln!("{iterations} kills between {lo:?} and {hi:?}, {mid_save} of them during a save");
    assert!(iterations >= 10);
    assert!(mid_save >= 1, "no kill hit a save: the test tests nothing");
    // The surviving file restores: the contexts are there.
    let input = d.write("probe.log", "c 7\n");
    let log = d.file("rsec.log");
    run(&[
        format!("--conf={conf}"),
        format!("--input={input}"),
        "--notail".into(),
        format!("--state={state}"),
        format!("--log={log}"),
    ]);
    let log = std::fs::read_to_string(&log).unwrap();
    let want = format!("{BIG} contexts, {BIG} operations");
    assert!(
        log.contains("Restored state from") && log.contains(&want),
        "{log}"
    );
}

#[test]
fn perl_time_follows_event_time() {
    let d = Dir::new("perl");
    let conf = d.write(
        "rules.sec",
        "type=Single\nptype=RegExp\npattern=native\ndesc=n\n\
         action=lcall %x -> ( sub { time() } ); write - native %x\n\n\
         type=Single\nptype=RegExp\npattern=local\ndesc=l\n\
         action=lcall %x -> ( sub { my @l = localtime(); $l[5] + 1900 } ); write - local %x\n",
    );
    d.write(
        "app.log",
        "2024-01-02T03:04:05Z native\n2024-01-02T03:04:06Z local\n",
    );
    let out = stdout(&run(&base_args(&d, &conf)));
    assert_eq!(out, "native 1704164645\nlocal 2024\n");
}

#[test]
fn replay_example_cron_line_with_state_in_five_runs() {
    let ex = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/replay");
    let crontab = std::fs::read_to_string(ex.join("crontab")).unwrap();
    let line = crontab
        .lines()
        .find(|l| l.contains("rsec ") && l.contains("--state=") && !l.starts_with('#'))
        .unwrap();
    let d = Dir::new("example");
    let words: Vec<&str> = line.split_whitespace().skip(5).collect();
    assert_eq!(words[0], "rsec");
    let args: Vec<String> = words[1..]
        .iter()
        .map(|w| {
            w.replace("/etc/rsec/replay/", &format!("{}/", ex.display()))
                .replace("/var/log/auth.log", &d.file("auth.log"))
                .replace("/var/lib/rsec/replay.state", &d.file("replay.state"))
                .replace("/var/log/rsec-replay.log", &d.file("replay.log"))
        })
        .collect();
    let log = std::fs::read_to_string(ex.join("auth.log")).unwrap();
    let lines: Vec<&str> = log.split_inclusive('\n').collect();
    let mut out = String::new();
    for c in lines.chunks(lines.len().div_ceil(5)) {
        d.append("auth.log", &c.concat());
        out.push_str(&stdout(&run(&args)));
    }
    let re = regex::Regex::new(r"[A-Z][a-z]{2} (Nov 22 [0-9:]+) [0-9]{4}").unwrap();
    let expected = std::fs::read_to_string(ex.join("expected.out")).unwrap();
    assert_eq!(re.replace_all(&out, "$1"), expected);
}

#[test]
fn sigusr1_saves_the_state_alongside_the_dump() {
    let d = Dir::new("usr1");
    let conf = d.write(
        "rules.sec",
        "type=Single\nptype=RegExp\npattern=open (\\S+)\ndesc=o\n\
         action=create OPEN_$1 3600; assign %who $1\n",
    );
    let input = d.write("in.log", "");
    let state = d.file("state.json");
    let mut child = Command::new(rsec())
        .args([
            format!("--conf={conf}"),
            format!("--input={input}"),
            format!("--state={state}"),
            format!("--dump={}", d.file("dump.txt")),
            "--poll-timeout=0.05".into(),
            format!("--log={}", d.file("rsec.log")),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    d.append("in.log", "open door\n");
    std::thread::sleep(Duration::from_millis(500));
    let pid = child.id().to_string();
    Command::new("kill").args(["-USR1", &pid]).status().unwrap();
    let t = Instant::now();
    while !Path::new(&state).exists() && t.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert_eq!(v["engine"]["contexts"]["names"][0][0], "OPEN_door");
    assert_eq!(v["engine"]["vars"][0], serde_json::json!(["who", "door"]));
    assert!(Path::new(&d.file("dump.txt")).exists());
}
