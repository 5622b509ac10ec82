//! Daemon mode: --detach (the starting command returns once the pid file is written;
//! the daemon runs in / in its own session), --pid, --umask, --user and --group.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Dir {
        let p = std::env::temp_dir().join(format!("rsec-daemon-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o777)).unwrap();
        Dir(p)
    }
    fn s(&self, name: &str) -> String {
        self.0.join(name).to_string_lossy().into_owned()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn rsec() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rsec"));
    c.stdin(Stdio::null());
    c
}

fn read(p: &str) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

/// True while the process exists and is not a zombie (a detached daemon's parent is
/// init, which may reap it late).
fn alive(pid: i32) -> bool {
    let status = read(&format!("/proc/{pid}/status"));
    kill(Pid::from_raw(pid), None).is_ok() && !status.contains("State:\tZ")
}

fn wait_gone(pid: i32) -> bool {
    let end = Instant::now() + Duration::from_secs(5);
    while Instant::now() < end {
        if !alive(pid) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn write_rules(d: &Dir) -> String {
    let rules = d.s("rules.sec");
    std::fs::write(
        &rules,
        format!(
            "type=Single\nptype=RegExp\npattern=^SEC_\ndesc=int\naction=write {} $0\n",
            d.s("out")
        ),
    )
    .unwrap();
    std::fs::write(d.s("in.log"), "").unwrap();
    rules
}

#[test]
fn detach_writes_the_pid_file_and_stops_on_term() {
    let d = Dir::new("detach");
    let rules = write_rules(&d);
    let st = rsec()
        .arg("--detach")
        .arg(format!("--pid={}", d.s("pid")))
        .arg(format!("--conf={rules}"))
        .arg(format!("--input={}", d.s("in.log")))
        .arg(format!("--log={}", d.s("log")))
        .arg("--intevents")
        .status()
        .unwrap();
    assert!(st.success());
    // The starting process returns only after the pid file is in place.
    let pid: i32 = read(&d.s("pid")).trim().parse().expect("pid file");
    assert!(alive(pid));
    let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).unwrap();
    assert_eq!(cwd, Path::new("/"));
    let sid = nix::unistd::getsid(Some(Pid::from_raw(pid))).unwrap();
    assert_ne!(sid, nix::unistd::getsid(None).unwrap());
    let null = std::fs::read_link(format!("/proc/{pid}/fd/1")).unwrap();
    assert_eq!(null, Path::new("/dev/null"));
    kill(Pid::from_raw(pid), Signal::SIGTERM).unwrap();
    assert!(wait_gone(pid), "daemon still running");
    let out = read(&d.s("out"));
    assert_eq!(out, "SEC_STARTUP\nSEC_SHUTDOWN\n");
    let log = read(&d.s("log"));
    assert!(log.contains("Changing working directory to /"), "{log}");
    assert!(log.contains("Daemonization complete"), "{log}");
}

#[test]
fn detach_reads_relative_rule_files_from_root() {
    let d = Dir::new("relative");
    write_rules(&d);
    let st = rsec()
        .current_dir(&d.0)
        .args(["--detach", "--conf=rules.sec", "--input=in.log"])
        .arg(format!("--pid={}", d.s("pid")))
        .arg(format!("--log={}", d.s("log")))
        .status()
        .unwrap();
    assert!(st.success());
    let pid: i32 = read(&d.s("pid")).trim().parse().unwrap();
    kill(Pid::from_raw(pid), Signal::SIGTERM).unwrap();
    assert!(wait_gone(pid));
    // As in SEC: the rule file is looked for in / after chdir.
    assert!(read(&d.s("log")).contains("rules.sec"));
    assert!(!read(&d.s("log")).contains("1 rules loaded"));
}

#[test]
fn umask_applies_to_the_log_file() {
    let d = Dir::new("umask");
    let rules = write_rules(&d);
    let st = rsec()
        .arg("--umask=077")
        .arg(format!("--conf={rules}"))
        .arg(format!("--input={}", d.s("in.log")))
        .arg(format!("--log={}", d.s("log")))
        .arg("--notail")
        .status()
        .unwrap();
    assert!(st.success());
    let mode = std::fs::metadata(d.s("log")).unwrap().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn unknown_user_and_group_exit_1() {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let out = rsec()
        .args(["--user=no_such_user_rsec", "--notail"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("User name 'no_such_user_rsec' does not exist, exiting!"));
    let out = rsec()
        .args(["--user=root", "--group=no_such_group_rsec", "--notail"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("Group name 'no_such_group_rsec' does not exist, exiting!"));
}

#[test]
fn user_drops_privileges_before_the_log_and_pid_file() {
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("skipped: needs root");
        return;
    }
    let Ok(Some(nobody)) = nix::unistd::User::from_name("nobody") else {
        eprintln!("skipped: no user nobody");
        return;
    };
    let d = Dir::new("user");
    let rules = write_rules(&d);
    for f in ["rules.sec", "in.log"] {
        std::fs::set_permissions(d.s(f), std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let st = rsec()
        .arg("--user=nobody")
        .arg("--detach")
        .arg(format!("--pid={}", d.s("pid")))
        .arg(format!("--conf={rules}"))
        .arg(format!("--input={}", d.s("in.log")))
        .arg(format!("--log={}", d.s("log")))
        .status()
        .unwrap();
    assert!(st.success());
    let pid: i32 = read(&d.s("pid")).trim().parse().unwrap();
    assert_eq!(
        std::fs::metadata(d.s("pid")).unwrap().uid(),
        nobody.uid.as_raw()
    );
    assert_eq!(
        std::fs::metadata(d.s("log")).unwrap().uid(),
        nobody.uid.as_raw()
    );
    let status = read(&format!("/proc/{pid}/status"));
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert!(uid_line.contains(&nobody.uid.to_string()), "{uid_line}");
    kill(Pid::from_raw(pid), Signal::SIGTERM).unwrap();
    assert!(wait_gone(pid));
}
