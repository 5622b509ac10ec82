//! Live versus replay: real SEC (/usr/bin/sec) follows a log written at the real pace, each
//! line stamped with the wall-clock second it was written; rsec then replays the same file
//! with `--time-source=event`. Both must write the same actions: thresholds, PairWithWindow
//! timeouts and completions, context expiry actions and delayed events. The actions leave
//! out %t and %u (the live run's are wall-clock times, the replay's the event times).
//!
//! Lines are written half a second into their second: SEC checks its timers in the first
//! poll of each second, so a timer due in the same second fires before the line, as the
//! replay does. The whole test takes about 22 seconds; it is skipped without SEC.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const RULES: &str = r#"
type=SingleWithThreshold
ptype=RegExp
pattern=sshd\[\d+\]: Failed password for (\S+)
desc=brute force against $1
action=write @OUT@ THRESHOLD %s
window=4
thresh=3

type=PairWithWindow
ptype=RegExp
pattern=kernel: link (\S+) down
desc=link $1 down
action=write @OUT@ TIMEOUT %s
ptype2=RegExp
pattern2=kernel: link $1 up
desc2=link %1 recovered
action2=write @OUT@ RECOVERED %s
window=3

type=Single
ptype=RegExp
pattern=session (\S+) opened
desc=session $1
action=create SESS_$1 3 (write @OUT@ EXPIRED session $1)

type=Single
ptype=RegExp
pattern=session (\S+) closed
context=SESS_$1
desc=close $1
action=delete SESS_$1; write @OUT@ CLOSED session $1

type=Single
ptype=RegExp
pattern=check (\S+)
context=SESS_$1
desc=check $1
action=write @OUT@ ACTIVE session $1

type=Single
ptype=RegExp
pattern=job (\S+) queued
desc=job $1
action=event 2 JOBRUN $1

type=Single
ptype=RegExp
pattern=^JOBRUN (\S+)
desc=run $1
action=write @OUT@ JOB RAN $1
"#;

/// (second offset, message): realistic gaps, noise in between.
const SCHEDULE: &[(u64, &str)] = &[
    (0, "sshd[101]: Failed password for alice from 10.0.0.1"),
    (0, "cron[5]: (root) CMD (run-parts /etc/cron.hourly)"),
    (1, "sshd[102]: Failed password for alice from 10.0.0.1"),
    (1, "kernel: link eth0 down"),
    (2, "sshd[103]: Failed password for alice from 10.0.0.1"),
    (2, "app: session s1 opened"),
    (3, "app: job j1 queued"),
    (3, "kernel: link eth1 down"),
    (4, "kernel: link eth1 up"),
    (4, "app: check s1"),
    (5, "sshd[104]: Failed password for bob from 10.0.0.2"),
    (6, "app: session s2 opened"),
    (7, "sshd[105]: Failed password for bob from 10.0.0.2"),
    (7, "systemd[1]: Started Session 4 of user carol."),
    (8, "app: session s2 closed"),
    (10, "sshd[106]: Failed password for bob from 10.0.0.2"),
    (11, "app: job j2 queued"),
    (12, "app: check s1"),
    (13, "sshd[107]: Failed password for bob from 10.0.0.2"),
    (14, "kernel: link eth2 down"),
    (14, "sshd[109]: Failed password for bob from 10.0.0.2"),
    (15, "sshd[108]: Failed password for bob from 10.0.0.2"),
    (16, "app: session s3 opened"),
    (18, "app: check s3"),
    (20, "cron[6]: (root) CMD (end of test)"),
];

fn rsec() -> &'static str {
    env!("CARGO_BIN_EXE_rsec")
}

struct Dir(PathBuf);

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn stamp_now() -> String {
    jiff::Timestamp::now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .strftime("%b %e %H:%M:%S")
        .to_string()
}

fn sleep_until(t: Instant) {
    let now = Instant::now();
    if t > now {
        std::thread::sleep(t - now);
    }
}

fn rules(dir: &Path, out: &str) -> PathBuf {
    let p = dir.join("rules.sec");
    std::fs::write(&p, RULES.replace("@OUT@", out)).unwrap();
    p
}

#[test]
fn live_sec_and_event_time_replay_write_the_same_actions() {
    if !Path::new("/usr/bin/sec").exists() {
        eprintln!("skipped: /usr/bin/sec is not installed");
        return;
    }
    let dir = Dir(std::env::temp_dir().join(format!("rsec-evlive-{}", std::process::id())));
    std::fs::create_dir_all(&dir.0).unwrap();
    let log = dir.0.join("live.log");
    std::fs::write(&log, b"").unwrap();
    let live_out = dir.0.join("live.out").to_string_lossy().into_owned();
    let replay_out = dir.0.join("replay.out").to_string_lossy().into_owned();
    let live_rules = rules(&dir.0, &live_out);

    let mut sec = Command::new("/usr/bin/sec")
        .arg(format!("--conf={}", live_rules.display()))
        .arg(format!("--input={}", log.display()))
        .arg("--poll-timeout=0.05")
        .arg("--log=/dev/null")
        .env("TZ", "UTC")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start sec");
    // Start at the middle of a second, well after SEC has opened the log.
    std::thread::sleep(Duration::from_millis(1500));
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let to_half = Duration::from_millis(1500) - Duration::from_nanos(since.subsec_nanos() as u64);
    let t0 = Instant::now() + to_half;
    let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    for (off, msg) in SCHEDULE {
        sleep_until(t0 + Duration::from_secs(*off));
        writeln!(f, "{} gw {msg}", stamp_now()).unwrap();
        f.flush().unwrap();
    }
    std::thread::sleep(Duration::from_millis(300));
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(sec.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    );
    let _ = sec.wait();

    let replay_rules = rules(&dir.0, &replay_out);
    let start = Instant::now();
    let st = Command::new(rsec())
        .arg(format!("--conf={}", replay_rules.display()))
        .arg(format!("--input={}", log.display()))
        .args(["--notail", "--time-source=event", "--tz=UTC"])
        .env("TZ", "UTC")
        .stdin(Stdio::null())
        .status()
        .unwrap();
    let took = start.elapsed();
    assert!(st.success());
    let live = std::fs::read_to_string(&live_out).unwrap_or_default();
    let replay = std::fs::read_to_string(&replay_out).unwrap_or_default();
    eprintln!("replay took {took:?}\n--- live SEC\n{live}--- rsec replay\n{replay}");
    assert_eq!(
        live,
        replay,
        "log:\n{}",
        std::fs::read_to_string(&log).unwrap()
    );
    // Every kind of action happened.
    for what in [
        "THRESHOLD",
        "TIMEOUT",
        "RECOVERED",
        "EXPIRED",
        "CLOSED",
        "ACTIVE",
        "JOB RAN",
    ] {
        assert!(replay.contains(what), "no {what} in\n{replay}");
    }
    assert!(took < Duration::from_secs(5), "replay took {took:?}");
}
