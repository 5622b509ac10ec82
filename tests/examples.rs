//! The example setups in `examples/`, each started for real with its own command line
//! (paths moved into a temporary directory): the tail -F pipeline, rsyslog omprog,
//! syslog-ng program(), the systemd units (simple, and forking with --detach --pid) and
//! the logrotate postrotate command.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Dir {
        let p = std::env::temp_dir().join(format!("rsec-ex-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
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

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("examples")
}

fn example(name: &str) -> String {
    std::fs::read_to_string(examples().join(name)).unwrap()
}

fn read(p: &str) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

/// The installed paths of the examples, moved to the test's binary and directory.
fn localize(line: &str, d: &Dir) -> String {
    line.replace("/usr/local/bin/rsec", env!("CARGO_BIN_EXE_rsec"))
        .replace("/etc/rsec/", &format!("{}/", examples().display()))
        .replace("/var/log/auth.log", &d.s("auth.log"))
        .replace("/var/log/rsec.log", &d.s("rsec.log"))
        .replace("/run/rsec.pid", &d.s("rsec.pid"))
}

/// The value of `key=` in a systemd unit.
fn unit_value(unit: &str, key: &str) -> String {
    unit.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key}"))
        .to_string()
}

/// The text between `start` and the next `"` after it.
fn quoted_after(text: &str, start: &str) -> String {
    let i = text.find(start).unwrap() + start.len();
    let rest = &text[i..];
    rest[..rest.find('"').unwrap()].to_string()
}

fn argv(cmdline: &str) -> Command {
    let words: Vec<&str> = cmdline.split_whitespace().collect();
    let mut c = Command::new(words[0]);
    c.args(&words[1..]);
    c
}

fn ssh_log() -> String {
    example("ssh-bruteforce.log")
}

const CRITICAL: &str = "CRITICAL SSH login of root from brute-forcing address 203.0.113.7";

fn wait_for(p: &str, needle: &str) -> bool {
    let end = Instant::now() + Duration::from_secs(5);
    while Instant::now() < end {
        if read(p).contains(needle) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn append(p: &str, text: &str) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(p)
        .unwrap();
    f.write_all(text.as_bytes()).unwrap();
}

/// Lines of a child's standard output, read on a thread.
fn lines_of(out: std::process::ChildStdout) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(out).lines().map_while(Result::ok) {
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    rx
}

fn expect_line(rx: &mpsc::Receiver<String>, needle: &str) {
    let end = Instant::now() + Duration::from_secs(5);
    while let Some(left) = end.checked_duration_since(Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(l) if l.contains(needle) => return,
            Ok(_) => {}
            Err(_) => break,
        }
    }
    panic!("no line with {needle:?}");
}

/// The stdin-reading setups (rsyslog omprog, syslog-ng program()): the log on standard
/// input, alerts on standard output, exit 0 at end of input.
fn run_stdin_setup(cmdline: &str) {
    let mut child = argv(cmdline)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(ssh_log().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(CRITICAL), "{text}");
    assert!(
        text.contains("ALERT SSH brute force from 203.0.113.7"),
        "{text}"
    );
}

#[test]
fn rsyslog_omprog() {
    let d = Dir::new("rsyslog");
    let cmd = localize(
        &quoted_after(&example("rsyslog-omprog.conf"), "binary=\""),
        &d,
    );
    run_stdin_setup(&cmd);
    assert!(read(&d.s("rsec.log")).contains("rsec lifecycle SHUTDOWN"));
}

#[test]
fn syslog_ng_program() {
    let d = Dir::new("syslogng");
    let cmd = localize(&quoted_after(&example("syslog-ng.conf"), "program(\""), &d);
    run_stdin_setup(&cmd);
    assert!(read(&d.s("rsec.log")).contains("rsec lifecycle STARTUP"));
}

#[test]
fn tail_pipeline() {
    let d = Dir::new("tail");
    std::fs::write(d.s("auth.log"), "").unwrap();
    let mut child = Command::new("sh")
        .arg(examples().join("tail-pipeline.sh"))
        .arg(d.s("auth.log"))
        .arg(examples().join("ssh-alerts.sec"))
        .env("RSEC", env!("CARGO_BIN_EXE_rsec"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    let rx = lines_of(child.stdout.take().unwrap());
    // tail -n 0 starts at the end: give it a moment to open the file, then write.
    std::thread::sleep(Duration::from_millis(300));
    append(&d.s("auth.log"), &ssh_log());
    expect_line(&rx, CRITICAL);
    // Stopping the pipeline: rsec sees end of input and exits.
    let _ = kill(Pid::from_raw(-(child.id() as i32)), Signal::SIGTERM);
    let _ = child.wait();
}

#[test]
fn systemd_simple_unit() {
    let d = Dir::new("simple");
    std::fs::write(d.s("auth.log"), "").unwrap();
    let unit = example("rsec.service");
    assert_eq!(unit_value(&unit, "Type"), "simple");
    let cmd = localize(&unit_value(&unit, "ExecStart"), &d);
    let mut child = argv(&format!("{cmd} --log={}", d.s("rsec.log")))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let rx = lines_of(child.stdout.take().unwrap());
    assert!(wait_for(&d.s("rsec.log"), "rsec lifecycle STARTUP"));
    append(&d.s("auth.log"), &ssh_log());
    expect_line(&rx, CRITICAL);
    // ExecReload: kill -HUP $MAINPID.
    let reload = unit_value(&unit, "ExecReload").replace("$MAINPID", &child.id().to_string());
    assert!(argv(&reload).status().unwrap().success());
    assert!(wait_for(&d.s("rsec.log"), "rsec lifecycle RESTART"));
    // systemctl stop: SIGTERM.
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    assert!(child.wait().unwrap().success());
    assert!(read(&d.s("rsec.log")).contains("rsec lifecycle SHUTDOWN"));
}

#[test]
fn systemd_forking_unit_and_logrotate() {
    let d = Dir::new("forking");
    std::fs::write(d.s("auth.log"), "").unwrap();
    let unit = example("rsec-forking.service");
    assert_eq!(unit_value(&unit, "Type"), "forking");
    let pidfile = localize(&unit_value(&unit, "PIDFile"), &d);
    let cmd = localize(&unit_value(&unit, "ExecStart"), &d);
    assert!(argv(&cmd).status().unwrap().success());
    // systemd reads PIDFile= as soon as ExecStart returns.
    let pid: i32 = read(&pidfile).trim().parse().expect("pid file");
    assert!(wait_for(&d.s("rsec.log"), "rsec lifecycle STARTUP"));
    append(&d.s("auth.log"), &ssh_log());
    assert!(wait_for(&d.s("rsec.log"), CRITICAL));

    // logrotate: move the log away, run the postrotate script.
    let conf = example("logrotate-rsec");
    let script: String = conf
        .lines()
        .skip_while(|l| !l.trim().starts_with("postrotate"))
        .skip(1)
        .take_while(|l| !l.trim().starts_with("endscript"))
        .collect::<Vec<_>>()
        .join("\n");
    std::fs::rename(d.s("rsec.log"), d.s("rsec.log.1")).unwrap();
    let st = Command::new("sh")
        .arg("-c")
        .arg(localize(&script, &d))
        .status()
        .unwrap();
    assert!(st.success());
    assert!(wait_for(&d.s("rsec.log"), "rsec lifecycle LOGROTATE"));
    assert!(read(&d.s("rsec.log.1")).contains("SIGUSR2 received"));

    kill(Pid::from_raw(pid), Signal::SIGTERM).unwrap();
    assert!(wait_for(&d.s("rsec.log"), "rsec lifecycle SHUTDOWN"));
}
