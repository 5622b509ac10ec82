//! Signals sent to a running rsec: HUP reloads changed rules, ABRT keeps contexts, USR1
//! writes the dump (text and JSON, never over an existing file), USR2 reopens a renamed
//! log, INT cycles the debug level when rsec is not interactive, TERM runs SEC_SHUTDOWN,
//! and `sigemul` goes the same way.

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Dir {
        let p = std::env::temp_dir().join(format!("rsec-sig-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Dir(p)
    }
    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
    fn s(&self, name: &str) -> String {
        self.path(name).to_string_lossy().into_owned()
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

/// Waits up to 5 s for `p` to contain `needle`.
fn wait_for(p: &Path, needle: &str) -> bool {
    let end = Instant::now() + Duration::from_secs(5);
    while Instant::now() < end {
        if read(p).contains(needle) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

fn append(p: &Path, line: &str) {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(p)
        .unwrap();
    writeln!(f, "{line}").unwrap();
}

/// Starts rsec in its own process group (so it is never the terminal's foreground job,
/// which makes INT cycle the debug level as in daemon mode).
fn start(d: &Dir, rules: &str, extra: &[String]) -> Child {
    std::fs::write(d.path("rules.sec"), rules).unwrap();
    if !d.path("in.log").exists() {
        std::fs::write(d.path("in.log"), "").unwrap();
    }
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rsec"));
    cmd.arg(format!("--conf={}", d.s("rules.sec")))
        .arg(format!("--input={}", d.s("in.log")))
        .arg(format!("--log={}", d.s("log")))
        .arg("--intevents")
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    let child = cmd.spawn().unwrap();
    assert!(
        wait_for(&d.path("out"), "SEC_STARTUP"),
        "rsec did not start: {}",
        read(&d.path("log"))
    );
    child
}

fn signal(c: &Child, s: Signal) {
    kill(Pid::from_raw(c.id() as i32), s).unwrap();
}

fn stop(mut c: Child) -> i32 {
    signal(&c, Signal::SIGTERM);
    let end = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(st) = c.try_wait().unwrap() {
            return st.code().unwrap_or(-1);
        }
        if Instant::now() > end {
            let _ = c.kill();
            panic!("rsec did not exit on SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Rules that write every internal event and a marker per input pattern to `out`.
fn rules(d: &Dir, body: &str) -> String {
    format!(
        "type=Single\nptype=RegExp\npattern=^SEC_\ncontext=SEC_INTERNAL_EVENT\ndesc=int\naction=write {out} $0\n\n{body}",
        out = d.s("out")
    )
}

#[test]
fn hup_reloads_a_changed_rule_file() {
    let d = Dir::new("hup");
    let one = rules(
        &d,
        &format!(
            "type=Single\nptype=SubStr\npattern=ping\ndesc=p\naction=write {} first; create KEEP\n",
            d.s("out")
        ),
    );
    let c = start(&d, &one, &[]);
    append(&d.path("in.log"), "ping");
    assert!(wait_for(&d.path("out"), "first"));
    let two = rules(
        &d,
        &format!(
            "type=Single\nptype=SubStr\npattern=ping\ncontext=!KEEP\ndesc=p\naction=write {} second\n",
            d.s("out")
        ),
    );
    std::fs::write(d.path("rules.sec"), two).unwrap();
    signal(&c, Signal::SIGHUP);
    assert!(wait_for(&d.path("out"), "SEC_RESTART"));
    let out = read(&d.path("out"));
    assert!(out.contains("SEC_PRE_RESTART\n"), "{out}");
    // The context made before the restart is gone, and the new rule is in force.
    append(&d.path("in.log"), "ping");
    assert!(
        wait_for(&d.path("out"), "second"),
        "{}",
        read(&d.path("log"))
    );
    assert!(read(&d.path("log")).contains("SIGHUP received: full restart of SEC"));
    assert_eq!(stop(c), 0);
}

#[test]
fn abrt_keeps_contexts_and_reloads_changed_files() {
    let d = Dir::new("abrt");
    let one = rules(
        &d,
        &format!(
            "type=Single\nptype=SubStr\npattern=make\ndesc=m\naction=create KEEP; write {} made\n",
            d.s("out")
        ),
    );
    let c = start(&d, &one, &[]);
    append(&d.path("in.log"), "make");
    assert!(wait_for(&d.path("out"), "made"));
    let two = rules(
        &d,
        &format!(
            "type=Single\nptype=SubStr\npattern=check\ncontext=KEEP\ndesc=c\naction=write {} still-there\n",
            d.s("out")
        ),
    );
    // A different size and a later mtime, so the file counts as changed.
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(d.path("rules.sec"), two).unwrap();
    signal(&c, Signal::SIGABRT);
    assert!(wait_for(&d.path("out"), "SEC_SOFTRESTART"));
    assert!(read(&d.path("out")).contains("SEC_PRE_SOFTRESTART\n"));
    append(&d.path("in.log"), "check");
    assert!(
        wait_for(&d.path("out"), "still-there"),
        "{}",
        read(&d.path("log"))
    );
    assert_eq!(stop(c), 0);
}

#[test]
fn usr1_writes_the_dump_once_and_dumpfts_json() {
    let d = Dir::new("usr1");
    let body_for = |d: &Dir| {
        format!(
        "type=Single\nptype=RegExp\npattern=^make (\\S+)\ndesc=make $1\naction=create $1 60 (write {out} gone); add $1 $0; assign %v hello; write {out} made\n\n\
         type=SingleWithThreshold\nptype=SubStr\npattern=make\ndesc=count makes\naction=none\nwindow=60\nthresh=5\n",
        out = d.s("out")
    )
    };
    let body = body_for(&d);
    let rules_text = rules(&d, &body).replace(
        "type=Single\nptype=RegExp\npattern=^make",
        "type=Single\nptype=RegExp\ncontinue=TakeNext\npattern=^make",
    );
    let dump = d.s("dump");
    let c = start(&d, &rules_text, &[format!("--dump={dump}")]);
    append(&d.path("in.log"), "make CTX_A");
    assert!(wait_for(&d.path("out"), "made"));
    signal(&c, Signal::SIGUSR1);
    assert!(wait_for(&d.path("dump"), "Action list variables:"));
    let text = read(&d.path("dump"));
    for needle in [
        "Program information:\n====",
        "Program version: SEC (Simple Event Correlator) 2.9.1",
        "Processed input lines: 2",
        "Rule usage statistics:",
        "Input sources:",
        "received data: 1 lines",
        "Pending events:",
        "List of event correlation operations:",
        "| 2 | count makes",
        "Type: SingleWithThreshold",
        "1 events observed at (checking for threshold):",
        "Context Name: CTX_A\nCreation Time: ",
        "Lifetime: 60 seconds",
        "(%s = make CTX_A)",
        "1 events associated with context:\nmake CTX_A\n",
        "%v = 'hello'",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in\n{text}");
    }
    // A second dump never overwrites the first.
    std::fs::write(d.path("dump"), "keep").unwrap();
    signal(&c, Signal::SIGUSR1);
    assert!(wait_for(&d.path("log"), "exists"));
    assert_eq!(read(&d.path("dump")), "keep");
    assert_eq!(stop(c), 0);

    // --dumpfts --dumpfjson: a new JSON file named dump.<epoch>.
    let d2 = Dir::new("usr1j");
    let c = start(
        &d2,
        &rules(&d2, &body_for(&d2)),
        &[
            format!("--dump={}", d2.s("dump")),
            "--dumpfts".into(),
            "--dumpfjson".into(),
        ],
    );
    append(&d2.path("in.log"), "make CTX_B");
    assert!(wait_for(&d2.path("out"), "made"));
    signal(&c, Signal::SIGUSR1);
    assert!(wait_for(&d2.path("log"), "completed"));
    let name = std::fs::read_dir(&d2.0)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| n.starts_with("dump."))
        .expect("dump.<epoch>");
    assert!(name["dump.".len()..].parse::<u64>().is_ok(), "{name}");
    let v: serde_json::Value = serde_json::from_str(&read(&d2.path(&name))).expect("valid JSON");
    assert_eq!(v["contexts"][0]["name"][0], "CTX_B");
    assert_eq!(v["variables"]["v"], "hello");
    assert_eq!(v["perf"]["lines"], 2);
    assert_eq!(stop(c), 0);
}

#[test]
fn usr2_reopens_the_log_after_a_rename() {
    let d = Dir::new("usr2");
    let c = start(&d, &rules(&d, ""), &[]);
    std::fs::rename(d.path("log"), d.path("log.1")).unwrap();
    signal(&c, Signal::SIGUSR2);
    assert!(wait_for(&d.path("out"), "SEC_LOGROTATE"));
    assert!(wait_for(&d.path("log"), "SEC_LOGROTATE"));
    let old = read(&d.path("log.1"));
    assert!(
        old.contains("SIGUSR2 received: closing outputs and restarting logging"),
        "{old}"
    );
    assert!(old.contains("SEC_PRE_LOGROTATE"));
    assert_eq!(stop(c), 0);
}

#[test]
fn int_cycles_the_debug_level_when_not_interactive() {
    let d = Dir::new("int");
    let c = start(&d, &rules(&d, ""), &["--debug=5".into()]);
    signal(&c, Signal::SIGINT);
    assert!(wait_for(
        &d.path("log"),
        "SIGINT signal(s) received: setting debuglevel from 5 to 6"
    ));
    signal(&c, Signal::SIGINT);
    assert!(wait_for(&d.path("log"), "setting debuglevel from 6 to 1"));
    assert_eq!(stop(c), 0);
}

#[test]
fn term_runs_the_shutdown_rule_and_exits_0() {
    let d = Dir::new("term");
    let c = start(&d, &rules(&d, ""), &[]);
    assert_eq!(stop(c), 0);
    assert!(read(&d.path("out")).ends_with("SEC_SHUTDOWN\n"));
    assert!(read(&d.path("log")).contains("SIGTERM received: shutting down SEC"));
}

#[test]
fn sigemul_goes_the_same_way() {
    let d = Dir::new("emul");
    let body = "type=Single\nptype=SubStr\npattern=restart\ndesc=r\naction=sigemul HUP\n\n\
                type=Single\nptype=SubStr\npattern=quit\ndesc=q\naction=sigemul TERM\n";
    let mut c = start(&d, &rules(&d, body), &[]);
    append(&d.path("in.log"), "restart");
    assert!(wait_for(&d.path("out"), "SEC_RESTART"));
    append(&d.path("in.log"), "quit");
    assert!(wait_for(&d.path("out"), "SEC_SHUTDOWN"));
    let end = Instant::now() + Duration::from_secs(5);
    while c.try_wait().unwrap().is_none() {
        assert!(Instant::now() < end, "rsec did not exit after sigemul TERM");
        std::thread::sleep(Duration::from_millis(20));
    }
}
