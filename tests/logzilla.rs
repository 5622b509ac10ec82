//! The six LogZilla rule files (../shared/seeds-examples/logzilla) run through the rsec
//! binary with `--dialect=logzilla`, structured input and event time, checking the exact
//! `logger` command lines they produce: a stub `logger` first on PATH records its
//! arguments (and its standard input's first line) to a file.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{rsec_bin, shared_dir, TempDir};

const LOGGER: &str = r#"#!/bin/sh
{ printf 'logger'; for a in "$@"; do printf ' [%s]' "$a"; done
  if [ ! -t 0 ] && read -r l; then printf ' <%s>' "$l"; fi; printf '\n'; } >> "$LOGGER_OUT"
"#;

fn rule_file(name: &str) -> PathBuf {
    shared_dir().join("seeds-examples/logzilla").join(name)
}

fn write_exec(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write script");
    let mut p = std::fs::metadata(path).expect("stat").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut p, 0o755);
    std::fs::set_permissions(path, p).expect("chmod");
}

/// Runs rsec on `conf` with `input` (lines) and extra options, and returns the recorded
/// logger calls. With `want` 0 it replays the file (`--notail`) and checks nothing came;
/// otherwise it follows the file from its start until the stub has been called `want`
/// times (children, SingleWithScript's script among them, finish after the lines are
/// read, and a replay would end rsec first), then stops rsec.
fn run(dir: &TempDir, conf: &Path, input: &str, extra: &[&str], want: usize) -> Vec<String> {
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    write_exec(&bin.join("logger"), LOGGER);
    let out = dir.path().join("logger.out");
    let _ = std::fs::remove_file(&out);
    let inp = dir.path().join("input.log");
    std::fs::write(&inp, input).expect("write input");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mode = if want == 0 { "--notail" } else { "--fromstart" };
    let mut child = Command::new(rsec_bin())
        .arg(format!("--conf={}", conf.display()))
        .arg(format!("--input={}", inp.display()))
        .args([
            mode,
            "--nochildterm",
            "--dialect=logzilla",
            "--time-source=event",
        ])
        .arg(format!("--log={}", dir.path().join("rsec.log").display()))
        .args(extra)
        .env("PATH", path)
        .env("LOGGER_OUT", &out)
        .stdin(std::process::Stdio::null())
        .spawn()
        .expect("run rsec");
    let read = || -> Vec<String> {
        std::fs::read_to_string(&out)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect()
    };
    if want == 0 {
        let status = child.wait().expect("wait rsec");
        assert!(status.success(), "rsec failed: {status}");
    } else {
        let deadline = Instant::now() + Duration::from_secs(10);
        while read().len() < want && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    std::thread::sleep(Duration::from_millis(200));
    let _ = child.kill();
    let _ = child.wait();
    read()
}

fn log_of(dir: &TempDir) -> String {
    std::fs::read_to_string(dir.path().join("rsec.log")).unwrap_or_default()
}

fn auth_failure(sec: u32, user: &str, src: &str) -> String {
    format!(
        "2026-03-01T10:{:02}:{:02}Z host=dc01 program=Microsoft-Windows-Security-Auditing \
         message=\"WINDOWS_AUTH An account failed to log on\" user_tags.mswin_eventid=4625 \
         user_tags.mswin_failed_login_user={user} \
         user_tags.mswin_failed_login_source_network={src}\n",
        sec / 60,
        sec % 60
    )
}

#[test]
fn brute_force_after_the_tenth_failure_within_300s() {
    let dir = TempDir::new("lz-threshold");
    let mut input = String::new();
    // Nine failures, then a successful logon (4624, not counted), then the tenth.
    for i in 0..9 {
        input.push_str(&auth_failure(i * 30, "alice", "10.0.0.66"));
    }
    input.push_str(
        "2026-03-01T10:04:31Z host=dc01 program=Microsoft-Windows-Security-Auditing \
         message=\"WINDOWS_AUTH logon\" user_tags.mswin_eventid=4624\n",
    );
    input.push_str(&auth_failure(295, "alice", "10.0.0.66"));
    let calls = run(
        &dir,
        &rule_file("single-with-threshold.sec"),
        &input,
        &["--input-format=logfmt"],
        1,
    );
    assert_eq!(
        calls,
        ["logger [-t] [SEC-WINDOWS-SECURITY] [-p] [local0.alert] \
          [BRUTE_FORCE_DETECTED user=\"alice\" src_ip=\"10.0.0.66\" target=\"dc01\" attempts=\"10\"]"],
        "{}",
        log_of(&dir)
    );
    // %username_%src_ip is %username, `_`, %src_ip.
    assert!(
        log_of(&dir).contains("Creating context 'BRUTE_FORCE_ACTIVE_alice_10.0.0.66'"),
        "{}",
        log_of(&dir)
    );
}

#[test]
fn ten_failures_spread_over_more_than_300s_do_not_alert() {
    let dir = TempDir::new("lz-threshold-slow");
    let input: String = (0..10)
        .map(|i| auth_failure(i * 40, "bob", "10.0.0.7"))
        .collect();
    let calls = run(
        &dir,
        &rule_file("single-with-threshold.sec"),
        &input,
        &["--input-format=logfmt"],
        0,
    );
    assert!(calls.is_empty(), "{calls:?}");
}

#[test]
fn successful_login_single_rule_on_the_message_field() {
    let dir = TempDir::new("lz-single");
    let input = concat!(
        r#"{"host":"dc02","program":"Microsoft-Windows-Security-Auditing","message":"WINDOWS_AUTH MSWin EventID=\"4625\" failure"}"#,
        "\n",
        r#"{"host":"dc01","program":"Microsoft-Windows-Security-Auditing","message":"WINDOWS_AUTH MSWin EventID=\"4624\" logon","user_tags":{"mswin_eventid":"4624"}}"#,
        "\n"
    );
    let calls = run(
        &dir,
        &rule_file("single.sec"),
        input,
        &["--input-format=json", "--match-field=message"],
        1,
    );
    assert_eq!(
        calls,
        ["logger [-t] [SEC-WINDOWS-SECURITY] [-p] [local0.crit] \
          [WINDOWS_COMPROMISE_SUSPECTED target=\"dc01\"]"]
    );
}

const BGP: &str = "\
2026-03-01T10:00:00Z host=rtr1 program=cisco_ios cisco_mnemonic=BGP-5-ADJCHANGE message=\"BGP_EVENT %BGP-5-ADJCHANGE: neighbor 192.0.2.1 Down BGP Notification sent\" user_tags.srcip=192.0.2.1
2026-03-01T10:01:00Z host=rtr2 program=cisco_ios cisco_mnemonic=BGP-5-ADJCHANGE message=\"BGP_EVENT %BGP-5-ADJCHANGE: neighbor 192.0.2.9 Up\" user_tags.srcip=192.0.2.9
2026-03-01T10:05:00Z host=rtr1 program=cisco_ios cisco_mnemonic=BGP-5-ADJCHANGE message=\"BGP_EVENT %BGP-5-ADJCHANGE: neighbor 198.51.100.4 Up\" user_tags.srcip=198.51.100.4
2026-03-01T10:12:34Z host=rtr1 program=cisco_ios cisco_mnemonic=BGP-5-ADJCHANGE message=\"BGP_EVENT %BGP-5-ADJCHANGE: neighbor 192.0.2.1 Up\" user_tags.srcip=192.0.2.1
";

#[test]
fn bgp_pair_outage_duration() {
    let dir = TempDir::new("lz-pair");
    let calls = run(
        &dir,
        &rule_file("pair.sec"),
        BGP,
        &["--input-format=logfmt"],
        1,
    );
    // Only the Up of the same neighbour on the same router ends the outage: 754 s.
    assert_eq!(
        calls,
        ["logger [-t] [SEC-BGP] [BGP_OUTAGE_RESOLVED neighbor=\"192.0.2.1\" downtime=\"754\"]"],
        "{}",
        log_of(&dir)
    );
}

#[test]
fn bgp_pair_with_window_within_and_after_the_window() {
    let dir = TempDir::new("lz-pww");
    let calls = run(
        &dir,
        &rule_file("pair-with-window.sec"),
        BGP,
        &["--input-format=logfmt"],
        1,
    );
    assert_eq!(
        calls,
        ["logger [-t] [SEC-BGP] [BGP_OUTAGE host=rtr1 neighbor=192.0.2.1 duration=754]"]
    );
    let log = log_of(&dir);
    assert!(
        log.contains("PairWithWindow without desc2, using desc"),
        "{log}"
    );
    // The Up after 4 hours (14400 s) is outside the window: nothing.
    let late = "\
2026-03-01T10:00:00Z host=rtr1 cisco_mnemonic=BGP-5-ADJCHANGE message=\"BGP_EVENT neighbor 192.0.2.1 Down\" user_tags.srcip=192.0.2.1
2026-03-01T14:00:01Z host=rtr1 cisco_mnemonic=BGP-5-ADJCHANGE message=\"BGP_EVENT neighbor 192.0.2.1 Up\" user_tags.srcip=192.0.2.1
";
    let dir = TempDir::new("lz-pww-late");
    let calls = run(
        &dir,
        &rule_file("pair-with-window.sec"),
        late,
        &["--input-format=logfmt"],
        0,
    );
    assert!(calls.is_empty(), "{calls:?}");
}

#[test]
fn memory_leak_split_by_the_script_exit_status() {
    let dir = TempDir::new("lz-script");
    // The rule names /usr/local/bin/check-memory-trend.sh; the test's copy names a stub
    // in its directory that reports a leak (exit 0) at 90 % or more.
    let script = dir.path().join("check-memory-trend.sh");
    write_exec(
        &script,
        "#!/bin/sh\necho \"$1 $2\" >> \"$(dirname \"$0\")/script.args\"\n[ \"$2\" -ge 90 ]\n",
    );
    let text = std::fs::read_to_string(rule_file("single-with-script.sec")).expect("rule");
    let conf = dir.path().join("sws.sec");
    std::fs::write(
        &conf,
        text.replace(
            "/usr/local/bin/check-memory-trend.sh",
            &script.display().to_string(),
        ),
    )
    .expect("write rule");
    let input = concat!(
        r#"{"host":"app01","program":"collectd","message":"MEMORY_USAGE sample","user_tags":{"memory_usage":95,"service":"billing"}}"#,
        "\n",
        r#"{"host":"app02","program":"collectd","message":"MEMORY_USAGE sample","user_tags":{"memory_usage":40,"service":"search"}}"#,
        "\n",
    );
    let calls = run(&dir, &conf, input, &["--input-format=json"], 1);
    assert_eq!(
        calls,
        ["logger [-t] [SEC-PERFORMANCE] [-p] [local0.alert] \
          [MEMORY_LEAK_DETECTED host=app01 service=billing memory_usage=95]"]
    );
    let mut args: Vec<String> = std::fs::read_to_string(dir.path().join("script.args"))
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect();
    args.sort();
    assert_eq!(args, ["app01 95", "app02 40"]);
}

const HEALTH: &str = "\
2026-03-01T12:00:00Z host=sw1 program=cisco_ios message=\"DEVICE_HEALTH poll\" user_tags.cpu_usage=85 user_tags.memory_usage=50
2026-03-01T12:00:05Z host=sw2 program=cisco_ios message=\"DEVICE_HEALTH poll\" user_tags.cpu_usage=99 user_tags.memory_usage=99
2026-03-01T12:00:10Z host=sw1 program=cisco_ios message=\"DEVICE_HEALTH poll\" user_tags.cpu_usage=88 user_tags.memory_usage=50
2026-03-01T12:00:15Z host=sw1 program=junos message=\"DEVICE_HEALTH poll\" user_tags.cpu_usage=99 user_tags.memory_usage=99
2026-03-01T12:00:20Z host=sw1 program=cisco_ios message=\"DEVICE_HEALTH poll\" user_tags.cpu_usage=91 user_tags.memory_usage=50
2026-03-01T12:00:30Z host=sw1 program=cisco_ios message=\"DEVICE_HEALTH poll\" user_tags.cpu_usage=20 user_tags.memory_usage=95
2026-03-01T12:00:40Z host=sw1 program=cisco_ios cisco_mnemonic=LINK-3-UPDOWN message=\"INTERFACE_EVENT Interface Gi0/1, changed state to down\"
";

#[test]
fn device_health_only_when_all_three_thresholds_are_met() {
    // Three high-CPU events, one high-memory event (two needed) and an interface down:
    // not yet.
    let dir = TempDir::new("lz-eg3-not-yet");
    let calls = run(
        &dir,
        &rule_file("event-group3.sec"),
        HEALTH,
        &["--input-format=logfmt"],
        0,
    );
    assert!(calls.is_empty(), "{calls:?}");
    assert!(
        log_of(&dir).contains("EventGroup without window, using window=3600"),
        "{}",
        log_of(&dir)
    );
    // The second high-memory event completes the group for sw1 only.
    let dir = TempDir::new("lz-eg3");
    let more = format!(
        "{HEALTH}2026-03-01T12:00:50Z host=sw1 program=cisco_ios message=\"DEVICE_HEALTH poll\" user_tags.cpu_usage=20 user_tags.memory_usage=97\n"
    );
    let calls = run(
        &dir,
        &rule_file("event-group3.sec"),
        &more,
        &["--input-format=logfmt"],
        1,
    );
    assert_eq!(
        calls,
        ["logger [-t] [SEC-CRITICAL] [-p] [local0.crit] \
          <DEVICE_HEALTH_ALERT host=sw1 cpu_high=true memory_high=true interface_down=true>"]
    );
}

#[test]
fn env_falls_back_to_the_process_environment_on_plain_lines() {
    let dir = TempDir::new("lz-env");
    let conf = dir.path().join("env.sec");
    std::fs::write(
        &conf,
        "type=Single\nptype=SubStr\npattern=PING\ncontext=($ENV{LZ_TEST_MODE} eq \"on\")\n\
         desc=ping\naction=shellcmd (logger -t T \"mode=$ENV{LZ_TEST_MODE} host=$ENV{EVENT_HOST}.\")\n",
    )
    .expect("write rule");
    std::env::set_var("LZ_TEST_MODE", "on");
    let calls = run(&dir, &conf, "Mar  1 10:00:00 PING\n", &[], 1);
    assert_eq!(calls, ["logger [-t] [T] [mode=on host=.]"]);
}
