//! Children: shell versus direct exec, spawn lines, pipe and script input, exit statuses,
//! reaping, and a child that never reads its input.

use std::collections::HashSet;
use std::fs;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rsec::io::child::{
    needs_shell, shell_quote, ChildEvent, ChildId, ChildMode, ChildRequest, Children,
};
use rsec::logging;

/// Tests that look at the log take turns: the capture is process-wide.
static LOG: Mutex<()> = Mutex::new(());

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rsec-io-child-{}-{}", std::process::id(), name));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn shell(cmd: &str, mode: ChildMode) -> ChildRequest {
    ChildRequest::Shell {
        cmd: cmd.to_string(),
        mode,
    }
}

fn exec(argv: &[&str], mode: ChildMode) -> ChildRequest {
    ChildRequest::Exec {
        argv: argv.iter().map(|s| s.to_string()).collect(),
        mode,
    }
}

fn spawn() -> ChildMode {
    ChildMode::Spawn { context: None }
}

/// Polls until every child in `ids` has exited (10 s at most); returns all events.
fn run_until_exited(children: &mut Children, ids: &[ChildId]) -> Vec<ChildEvent> {
    let mut events = Vec::new();
    let mut waiting: HashSet<ChildId> = ids.iter().copied().collect();
    let start = Instant::now();
    while !waiting.is_empty() && start.elapsed() < Duration::from_secs(10) {
        for ev in children.poll(Duration::from_millis(10)) {
            if let ChildEvent::Exited { id, .. } = &ev {
                waiting.remove(id);
            }
            events.push(ev);
        }
    }
    assert!(
        waiting.is_empty(),
        "{} children did not exit",
        waiting.len()
    );
    events
}

fn lines_of(events: &[ChildEvent], who: ChildId) -> Vec<String> {
    events
        .iter()
        .filter_map(|e| match e {
            ChildEvent::Line { id, line, .. } if *id == who => {
                Some(String::from_utf8_lossy(line).into_owned())
            }
            _ => None,
        })
        .collect()
}

fn status_of(events: &[ChildEvent], who: ChildId) -> i32 {
    events
        .iter()
        .find_map(|e| match e {
            ChildEvent::Exited { id, status } if *id == who => Some(*status),
            _ => None,
        })
        .expect("exit status")
}

#[test]
fn perl_metacharacter_rule() {
    for cmd in [
        "echo a;b",
        "echo $HOME",
        "echo a | cat",
        "echo 'q'",
        "echo \"q\"",
        "echo ~",
        "echo *",
        "echo a > f",
        "echo `id`",
        "echo (a)",
        "echo {a}",
        "echo [a]",
        "echo a?",
        "echo a\\b",
        "echo a &",
        "echo x\ny",
        "FOO=1 env",
        "exec echo",
        "exec\techo",
        ". /dev/null",
        "  . x",
    ] {
        assert!(needs_shell(cmd), "{cmd:?} needs the shell");
    }
    for cmd in [
        "echo a b",
        "echo a #",
        "echo a! %x a=b a, a^ a@ a+ a: a/ a- a.",
        "echo é",
        "echo ab\n",
        "  echo lead",
        "exit 3",
        "execute now",
        "/bin/true",
    ] {
        assert!(!needs_shell(cmd), "{cmd:?} runs directly");
    }
}

#[test]
fn quoting_masks_single_quotes() {
    assert_eq!(shell_quote("abc"), "'abc'");
    assert_eq!(shell_quote("aa'bb"), "'aa'\\''bb'");
    assert_eq!(shell_quote(""), "''");
}

#[test]
fn shell_is_used_only_with_metacharacters() {
    let mut ch = Children::new();
    // `#` is not a metacharacter: echo gets it as an argument (a shell would drop it).
    let direct = ch.run(shell("echo a  #b", spawn()));
    // `;` is: two commands.
    let sh = ch.run(shell("echo x; echo y #z", spawn()));
    // `$0` only means something to a shell.
    let dollar = ch.run(shell("echo $0", spawn()));
    let ev = run_until_exited(&mut ch, &[direct, sh, dollar]);
    assert_eq!(lines_of(&ev, direct), ["a #b"]);
    assert_eq!(lines_of(&ev, sh), ["x", "y"]);
    assert_eq!(lines_of(&ev, dollar), ["/bin/sh"]);
}

#[test]
fn exec_never_uses_a_shell() {
    let mut ch = Children::new();
    let id = ch.run(exec(&["echo", "a;b", "$HOME", "it's"], spawn()));
    let ev = run_until_exited(&mut ch, &[id]);
    assert_eq!(lines_of(&ev, id), ["a;b $HOME it's"]);
    assert_eq!(status_of(&ev, id), 0);
}

#[test]
fn spawn_lines_come_before_the_exit_and_keep_a_partial_last_line() {
    let mut ch = Children::new();
    let id = ch.run(shell(
        "printf 'l1\\nl2\\n'; sleep 0.2; printf 'l3\\npart'",
        ChildMode::Spawn {
            context: Some("CTX".to_string()),
        },
    ));
    let ev = run_until_exited(&mut ch, &[id]);
    assert_eq!(lines_of(&ev, id), ["l1", "l2", "l3", "part"]);
    let exit_pos = ev
        .iter()
        .position(|e| matches!(e, ChildEvent::Exited { .. }))
        .expect("exit");
    assert_eq!(exit_pos, ev.len() - 1, "{ev:?}");
    assert!(ev.iter().all(|e| match e {
        ChildEvent::Line { context, .. } => context.as_deref() == Some("CTX"),
        _ => true,
    }));
    assert_eq!(ch.count(), 0);
}

#[test]
fn pipe_input_reaches_the_child_and_is_closed() {
    let dir = tempdir("pipe");
    let f = dir.join("got");
    let mut ch = Children::new();
    let id = ch.run(exec(
        &["/bin/sh", "-c", &format!("cat > {}", f.display())],
        ChildMode::Pipe {
            input: b"line one\nline two\n".to_vec(),
        },
    ));
    let ev = run_until_exited(&mut ch, &[id]);
    assert_eq!(status_of(&ev, id), 0);
    assert_eq!(fs::read(&f).expect("read"), b"line one\nline two\n");
}

#[test]
fn exit_statuses_and_their_log_lines() {
    let _guard = LOG.lock().unwrap_or_else(|e| e.into_inner());
    logging::start_capture();
    let mut ch = Children::new();
    // Script: the status is what counts, logged at debug without the command.
    let script = ch.run(exec(
        &["/bin/sh", "-c", "grep -q CTX2 && exit 3"],
        ChildMode::Script {
            input: b"CTX1\nCTX2\n".to_vec(),
        },
    ));
    let ok_script = ch.run(exec(
        &["/bin/true"],
        ChildMode::Script { input: Vec::new() },
    ));
    // shellcmd: non-zero logged as a warning with the command.
    let three = ch.run(shell("sh -c 'exit 3'", ChildMode::Detached));
    // No metacharacter: Perl execs "exit", which fails, so the child exits with 1.
    let not_found = ch.run(shell("exit 3", ChildMode::Detached));
    // A signal death is exit code 0 for SEC and is not logged.
    let killed = ch.run(shell("kill -9 $$", ChildMode::Detached));
    let ids = [script, ok_script, three, not_found, killed];
    let ev = run_until_exited(&mut ch, &ids);
    let log: Vec<(logging::Level, String)> = logging::take_capture();
    assert_eq!(status_of(&ev, script), 3);
    assert_eq!(status_of(&ev, ok_script), 0);
    assert_eq!(status_of(&ev, three), 3);
    assert_eq!(status_of(&ev, not_found), 1);
    assert_eq!(status_of(&ev, killed), 0);

    let warn = |s: &str| {
        log.iter()
            .any(|(l, m)| *l == logging::Level::Warn && m.starts_with("Child ") && m.ends_with(s))
    };
    assert!(
        warn("terminated with non-zero exitcode 3 ( sh -c 'exit 3' )"),
        "{log:?}"
    );
    assert!(
        warn("terminated with non-zero exitcode 1 ( exit 3 )"),
        "{log:?}"
    );
    assert!(!log
        .iter()
        .any(|(_, m)| m.contains("kill -9") && m.contains("terminated")));
    let debug = |s: &str| {
        log.iter()
            .any(|(l, m)| *l == logging::Level::Debug && m.starts_with("Child ") && m.ends_with(s))
    };
    assert!(debug("terminated with non-zero exitcode 3"), "{log:?}");
    assert!(debug("terminated with exitcode 0"), "{log:?}");
    assert!(debug("created for command 'exit 3'"), "{log:?}");
}

#[test]
fn command_not_found_and_scripts_without_shebang() {
    let dir = tempdir("noexec");
    let script = dir.join("plain.sh");
    fs::write(&script, "echo from plain script\n").expect("write");
    let mut perms = fs::metadata(&script).expect("meta").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    fs::set_permissions(&script, perms).expect("chmod");
    let mut ch = Children::new();
    let missing = ch.run(exec(&["/nonexistent/prog", "x"], spawn()));
    let plain = ch.run(exec(&[script.to_str().expect("utf8")], spawn()));
    let ev = run_until_exited(&mut ch, &[missing, plain]);
    assert_eq!(status_of(&ev, missing), 1);
    assert!(lines_of(&ev, missing).is_empty());
    assert_eq!(lines_of(&ev, plain), ["from plain script"]);
    assert_eq!(status_of(&ev, plain), 0);
}

#[test]
fn children_get_default_sigpipe_and_no_extra_descriptors() {
    rsec::io::output::ignore_sigpipe();
    let dir = tempdir("fds");
    let secret = dir.join("secret-file");
    let _held = fs::File::create(&secret).expect("create");
    let mut ch = Children::new();
    let sig = ch.run(exec(&["grep", "SigIgn", "/proc/self/status"], spawn()));
    let fds = ch.run(exec(&["/bin/sh", "-c", "ls -l /proc/$$/fd"], spawn()));
    let ev = run_until_exited(&mut ch, &[sig, fds]);
    let line = lines_of(&ev, sig).pop().expect("SigIgn line");
    let mask =
        u64::from_str_radix(line.split_whitespace().last().expect("mask"), 16).expect("hex mask");
    assert_eq!(
        mask & (1 << (libc::SIGPIPE - 1)),
        0,
        "SIGPIPE ignored in child"
    );
    let listing = lines_of(&ev, fds).join("\n");
    assert!(!listing.contains("secret-file"), "{listing}");
}

#[test]
fn a_child_that_never_reads_does_not_block() {
    let mut ch = Children::new();
    let big = vec![b'x'; 8 << 20];
    let start = Instant::now();
    let id = ch.run(exec(&["sleep", "0.5"], ChildMode::Pipe { input: big }));
    let _ = ch.poll(Duration::ZERO);
    assert!(
        start.elapsed() < Duration::from_millis(400),
        "run/poll blocked"
    );
    let ev = run_until_exited(&mut ch, &[id]);
    assert_eq!(status_of(&ev, id), 0);
    // Input dropped once the child is gone: nothing left to track.
    let _ = ch.poll(Duration::ZERO);
    assert_eq!(ch.count(), 0);
}

#[test]
fn terminate_all_sends_sigterm() {
    let mut ch = Children::new();
    let id = ch.run(shell("sleep 30", ChildMode::Detached));
    let _ = ch.poll(Duration::ZERO);
    assert_eq!(ch.count(), 1);
    ch.terminate_all();
    let start = Instant::now();
    let ev = run_until_exited(&mut ch, &[id]);
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(status_of(&ev, id), 0);
    assert_eq!(ch.count(), 0);
}

/// Pids of this process's children, from /proc (every thread's list).
fn proc_children() -> HashSet<u32> {
    let mut pids = HashSet::new();
    if let Ok(tasks) = fs::read_dir("/proc/self/task") {
        for t in tasks.flatten() {
            if let Ok(s) = fs::read_to_string(t.path().join("children")) {
                pids.extend(s.split_whitespace().filter_map(|p| p.parse::<u32>().ok()));
            }
        }
    }
    pids
}

#[test]
fn many_short_children_are_all_reaped() {
    let mut ch = Children::new();
    let mut ids = Vec::new();
    let mut pids = HashSet::new();
    let mut ev = Vec::new();
    let start = Instant::now();
    for _ in 0..1500 {
        ids.push(ch.run(exec(&["/bin/true"], ChildMode::Detached)));
        pids.extend(ch.pids());
        // The loop polls between events; keep that rhythm so children do not pile up.
        ev.extend(ch.poll(Duration::ZERO));
    }
    let spawned = start.elapsed();
    let seen: HashSet<ChildId> = ev
        .iter()
        .filter_map(|e| match e {
            ChildEvent::Exited { id, .. } => Some(*id),
            _ => None,
        })
        .collect();
    let rest: Vec<ChildId> = ids.iter().copied().filter(|i| !seen.contains(i)).collect();
    ev.extend(run_until_exited(&mut ch, &rest));
    assert_eq!(
        ev.iter()
            .filter(|e| matches!(e, ChildEvent::Exited { status: 0, .. }))
            .count(),
        1500
    );
    assert_eq!(ch.count(), 0);
    let left: Vec<u32> = proc_children().intersection(&pids).copied().collect();
    assert!(left.is_empty(), "zombies or live children left: {left:?}");
    eprintln!("1500 spawns took {spawned:?}");
}
