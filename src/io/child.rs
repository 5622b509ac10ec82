//! Child processes of the actions `shellcmd`, `cmdexec`, `spawn`, `cspawn`, `spawnexec`,
//! `cspawnexec`, `pipe`, `pipeexec`, `report`, `reportexec`, and of the SingleWithScript rule.
//!
//! [`Children`] owns the running children: it starts them (without a shell unless Perl's
//! `exec(STRING)` would use one, see [`needs_shell`]), feeds their standard input without
//! blocking, splits the standard output of spawned children into lines, reaps them with
//! `waitpid(WNOHANG)` so that none is left a zombie, and logs their creation and exit
//! statuses with SEC 2.9.1's wording (`Child PID created for command '...'` at debug; a
//! non-zero exit as a warning, `Child PID terminated with non-zero exitcode N ( CMD )`; for
//! SingleWithScript, `Child PID terminated with [non-zero ]exitcode N` at debug). The
//! action's own line (`Executing shell command '...'`, `Feeding event ...`) is the
//! engine's to log, as it alone knows which action ran. It does not decide what to run or what a line or an
//! exit status means: the engine turns [`ChildEvent`]s into synthetic events and
//! SingleWithScript's action choice.
//!
//! Children inherit rsec's standard input, output and error, except for the pipes made for
//! them, and no other descriptor (everything rsec opens is close-on-exec). SIGPIPE is back to
//! its default in them.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::process::{Command, Stdio};
use std::time::Duration;

use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use crate::io::output::errstr;
use crate::{debug, err, warn};

/// Identifies one child started by [`Children::run`]; unique for the life of the
/// [`Children`] value (not a process id).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChildId(pub u64);

/// What the child is fed and what is collected from it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChildMode {
    /// `shellcmd`, `cmdexec`: nothing is fed or collected; the child shares rsec's standard
    /// input and output.
    Detached,
    /// `spawn`, `cspawn`, `spawnexec`, `cspawnexec`: each line of the child's standard output
    /// becomes a [`ChildEvent::Line`] carrying `context` (cspawn's internal context name).
    Spawn {
        /// The internal context for the synthetic events (`None`: `_INTERNAL_EVENT`).
        context: Option<String>,
    },
    /// `pipe`, `pipeexec`, `report`, `reportexec`: `input` is written to the child's standard
    /// input, which is then closed. The child's standard output is rsec's.
    Pipe {
        /// The bytes to write, newlines included.
        input: Vec<u8>,
    },
    /// SingleWithScript: as [`ChildMode::Pipe`] (the input is the context names), and the
    /// exit status decides between `action` and `action2`. Only the log wording differs.
    Script {
        /// The bytes to write, newlines included.
        input: Vec<u8>,
    },
}

/// A command to run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChildRequest {
    /// A command line for Perl's `exec(STRING)`: run by `/bin/sh -c` when it has shell
    /// metacharacters ([`needs_shell`]), else split on whitespace and executed directly.
    Shell {
        /// The command line, variables already substituted.
        cmd: String,
        /// What to feed and collect.
        mode: ChildMode,
    },
    /// An argument vector executed directly (`execvp`), never through a shell: the `*exec`
    /// actions and SingleWithScript with `shell=no`.
    Exec {
        /// Program (searched in `PATH` when it has no `/`) and arguments.
        argv: Vec<String>,
        /// What to feed and collect.
        mode: ChildMode,
    },
}

/// Something that happened to a child, reported by [`Children::poll`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChildEvent {
    /// One line of a spawned child's standard output, without its newline (a last line
    /// without a newline is reported at end of file).
    Line {
        /// The child.
        id: ChildId,
        /// The `context` of [`ChildMode::Spawn`].
        context: Option<String>,
        /// The line.
        line: Vec<u8>,
    },
    /// The child was reaped. `status` is SEC's exit code, `$? >> 8`: the exit status, or 0
    /// when a signal killed the child. Reported for every mode; lines a spawned child wrote
    /// before exiting come first.
    Exited {
        /// The child.
        id: ChildId,
        /// The exit code.
        status: i32,
    },
}

/// Perl's `exec(STRING)` rule: whether `cmd` goes to `/bin/sh -c` rather than being split
/// on whitespace and executed directly.
///
/// Checked against `perl -e 'exec $ARGV[0]'` (Perl 5): leading whitespace is skipped; a
/// command starting with `. ` or `exec ` (any whitespace after), or with `NAME=` (word
/// characters then `=`), uses the shell; so does any of `` $&*(){}[]'";\|?<>~` `` or a
/// newline, except one newline at the very end. `#`, `!`, `%`, `=` later on, and non-ASCII
/// bytes do not.
pub fn needs_shell(cmd: &str) -> bool {
    let s = cmd.trim_start_matches(is_perl_space);
    let b = s.as_bytes();
    if b.len() >= 2 && b[0] == b'.' && is_perl_space(b[1] as char) {
        return true;
    }
    if b.len() >= 5 && &b[..4] == b"exec" && is_perl_space(b[4] as char) {
        return true;
    }
    let word = b
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
        .count();
    if b.get(word) == Some(&b'=') {
        return true;
    }
    let body = b.strip_suffix(b"\n").unwrap_or(b);
    body.iter().any(|c| b"$&*(){}[]'\";\\|?<>~`\n".contains(c))
}

/// Perl's `isSPACE`: space, tab, newline, carriage return, form feed, vertical tab.
fn is_perl_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0c' | '\x0b')
}

/// `--quoting`: `s` inside single quotes, each `'` written as `'\''` (SEC's rule for `%s` in
/// `shellcmd`, `spawn` and `cspawn`).
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Sets `O_NONBLOCK` on a pipe end.
fn set_nonblocking(fd: &impl AsFd) -> io::Result<()> {
    let raw = fd.as_fd().as_raw_fd();
    let flags = fcntl(raw, FcntlArg::F_GETFL).map_err(io::Error::from)?;
    let flags = OFlag::from_bits_truncate(flags) | OFlag::O_NONBLOCK;
    fcntl(raw, FcntlArg::F_SETFL(flags)).map_err(io::Error::from)?;
    Ok(())
}

/// How many bytes one child's standard output may deliver per [`Children::poll`], so that a
/// chatty child cannot starve the loop.
const READ_BUDGET: usize = 1 << 20;

/// One started child.
struct Child {
    id: ChildId,
    process: std::process::Child,
    /// The command line as SEC logs it.
    cmdline: String,
    script: bool,
    context: Option<String>,
    /// Spawned child's standard output (non-blocking) and its unfinished line.
    out: Option<File>,
    partial: Vec<u8>,
    /// Standard input still to be written (non-blocking) and what is left of it.
    stdin: Option<File>,
    input: Vec<u8>,
    written: usize,
    reaped: bool,
}

impl Child {
    /// Writes what the pipe takes of the remaining input; closes the pipe when all is
    /// written or the child stopped reading.
    fn feed(&mut self) {
        let Some(pipe) = self.stdin.as_mut() else {
            return;
        };
        while self.written < self.input.len() {
            match pipe.write(&self.input[self.written..]) {
                Ok(n) => self.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // EPIPE: the child exited or closed its input; the rest is dropped.
                Err(_) => break,
            }
        }
        self.stdin = None;
        self.input = Vec::new();
    }

    /// Reads the spawned child's output, turning complete lines into events.
    fn drain(&mut self, events: &mut Vec<ChildEvent>) {
        let Some(out) = self.out.as_mut() else {
            return;
        };
        let mut buf = [0u8; 8192];
        let mut budget = READ_BUDGET;
        let mut eof = false;
        while budget > 0 {
            match out.read(&mut buf) {
                Ok(0) => {
                    eof = true;
                    break;
                }
                Ok(n) => {
                    budget = budget.saturating_sub(n);
                    self.partial.extend_from_slice(&buf[..n]);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    eof = true;
                    break;
                }
            }
        }
        let mut start = 0;
        while let Some(pos) = self.partial[start..].iter().position(|&c| c == b'\n') {
            events.push(ChildEvent::Line {
                id: self.id,
                context: self.context.clone(),
                line: self.partial[start..start + pos].to_vec(),
            });
            start += pos + 1;
        }
        self.partial.drain(..start);
        if eof {
            if !self.partial.is_empty() {
                events.push(ChildEvent::Line {
                    id: self.id,
                    context: self.context.clone(),
                    line: std::mem::take(&mut self.partial),
                });
            }
            self.out = None;
        }
    }

    /// Reaps the child if it has exited, logging its status as SEC does.
    fn reap(&mut self, events: &mut Vec<ChildEvent>) {
        if self.reaped {
            return;
        }
        let status = match self.process.try_wait() {
            Ok(Some(st)) => st.code().unwrap_or(0),
            Ok(None) => return,
            Err(e) => {
                // ECHILD: someone else reaped it; nothing more will come.
                debug!(
                    "Can't get the status of child {} ({})",
                    self.process.id(),
                    errstr(&e)
                );
                0
            }
        };
        self.reaped = true;
        // The child's last output is already in the pipe: deliver it before the exit.
        self.drain(events);
        let pid = self.process.id();
        if self.script {
            if status == 0 {
                debug!("Child {} terminated with exitcode 0", pid);
            } else {
                debug!("Child {} terminated with non-zero exitcode {}", pid, status);
            }
        } else if status != 0 {
            warn!(
                "Child {} terminated with non-zero exitcode {} ( {} )",
                pid, status, self.cmdline
            );
        }
        if self.stdin.is_some() {
            self.stdin = None;
            self.input = Vec::new();
        }
        events.push(ChildEvent::Exited {
            id: self.id,
            status,
        });
    }

    fn finished(&self) -> bool {
        self.reaped && self.out.is_none() && self.stdin.is_none()
    }
}

/// The running children, and the events they produce.
#[derive(Default)]
pub struct Children {
    next_id: u64,
    children: Vec<Child>,
    /// Events of children that could not be started at all.
    queued: Vec<ChildEvent>,
}

impl Children {
    /// No children yet.
    pub fn new() -> Children {
        Children::default()
    }

    /// Starts a child and returns at once. A command that cannot be executed still yields a
    /// child, as in SEC (whose forked copy fails to exec): it prints `Can't exec "PROG": ERROR`
    /// on standard error and exits with 1, which is then logged and reported like any exit.
    pub fn run(&mut self, req: ChildRequest) -> ChildId {
        self.next_id += 1;
        let id = ChildId(self.next_id);
        let (argv, cmdline, mode) = match req {
            ChildRequest::Shell { cmd, mode } => {
                let argv = if needs_shell(&cmd) {
                    vec!["/bin/sh".to_string(), "-c".to_string(), cmd.clone()]
                } else {
                    cmd.split(is_perl_space)
                        .filter(|w| !w.is_empty())
                        .map(str::to_string)
                        .collect()
                };
                (argv, cmd, mode)
            }
            ChildRequest::Exec { argv, mode } => {
                let cmdline = argv.join(" ");
                (argv, cmdline, mode)
            }
        };
        let (input, script, context, spawn) = match mode {
            ChildMode::Detached => (None, false, None, false),
            ChildMode::Spawn { context } => (None, false, context, true),
            ChildMode::Pipe { input } => (Some(input), false, None, false),
            ChildMode::Script { input } => (Some(input), true, None, false),
        };
        let configure = |cmd: &mut Command| {
            cmd.stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::inherit()
            });
            cmd.stdout(if spawn {
                Stdio::piped()
            } else {
                Stdio::inherit()
            });
        };
        let process = match start(&argv, &configure) {
            Ok(p) => p,
            Err(e) => {
                let prog = argv.first().map(String::as_str).unwrap_or("");
                let msg = format!("Can't exec \"{}\": {}", prog, errstr(&e));
                let mut fail = Command::new("/bin/sh");
                fail.args(["-c", "printf '%s\\n' \"$1\" >&2; exit 1", "sh", &msg]);
                configure(&mut fail);
                match fail.spawn() {
                    Ok(p) => p,
                    Err(e) => {
                        err!("Can't fork for command '{}' ({})", cmdline, errstr(&e));
                        self.queued.push(ChildEvent::Exited { id, status: 1 });
                        return id;
                    }
                }
            }
        };
        let mut process = process;
        debug!("Child {} created for command '{}'", process.id(), cmdline);
        let out = process.stdout.take().map(|p| File::from(OwnedFd::from(p)));
        let stdin = process.stdin.take().map(|p| File::from(OwnedFd::from(p)));
        for f in out.iter().chain(stdin.iter()) {
            if let Err(e) = set_nonblocking(f) {
                debug!("Can't make a pipe non-blocking ({})", errstr(&e));
            }
        }
        let mut child = Child {
            id,
            process,
            cmdline,
            script,
            context,
            out,
            partial: Vec::new(),
            stdin,
            input: input.unwrap_or_default(),
            written: 0,
            reaped: false,
        };
        child.feed();
        self.children.push(child);
        id
    }

    /// Collects what the children did, waiting at most `timeout`: spawned children's
    /// output lines, exits (reaped, so no zombie stays), and progress on pending standard
    /// input. Returns at once when there is something to report; otherwise waits until a
    /// child pipe is ready or `timeout` has passed (with no pipe to watch, it sleeps the
    /// whole `timeout`; give `Duration::ZERO` never to wait). Exits are noticed on the next
    /// call, as they do not wake the wait.
    pub fn poll(&mut self, timeout: Duration) -> Vec<ChildEvent> {
        if self.is_idle() && timeout.is_zero() {
            return Vec::new();
        }
        let mut events = std::mem::take(&mut self.queued);
        self.step(&mut events);
        if !events.is_empty() || timeout.is_zero() {
            return events;
        }
        self.wait(timeout);
        self.step(&mut events);
        events
    }

    /// One non-blocking pass over every child.
    fn step(&mut self, events: &mut Vec<ChildEvent>) {
        for child in &mut self.children {
            child.feed();
            child.drain(events);
            child.reap(events);
        }
        self.children.retain(|c| !c.finished());
    }

    /// Waits until a child pipe is ready, at most `timeout`.
    fn wait(&self, timeout: Duration) {
        let mut fds: Vec<PollFd> = Vec::new();
        for c in &self.children {
            if let Some(out) = &c.out {
                fds.push(PollFd::new(out.as_fd(), PollFlags::POLLIN));
            }
            if let Some(stdin) = &c.stdin {
                fds.push(PollFd::new(stdin.as_fd(), PollFlags::POLLOUT));
            }
        }
        if fds.is_empty() {
            std::thread::sleep(timeout);
            return;
        }
        let ms = timeout.as_millis().clamp(1, i32::MAX as u128) as i32;
        let pt = PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX);
        let _ = nix::poll::poll(&mut fds, pt);
    }

    /// Sends SIGTERM to every child not yet reaped (`--childterm`, at shutdown and full
    /// restart). Only the immediate child gets it: a shell's own children do not, as in SEC.
    pub fn terminate_all(&mut self) {
        for c in self.children.iter().filter(|c| !c.reaped) {
            if let Ok(pid) = i32::try_from(c.process.id()) {
                let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
            }
        }
    }

    /// No children and nothing queued: a poll would report nothing.
    pub fn is_idle(&self) -> bool {
        self.children.is_empty() && self.queued.is_empty()
    }

    /// The number of children not yet reaped.
    pub fn count(&self) -> usize {
        self.children.iter().filter(|c| !c.reaped).count()
    }

    /// The process ids of the children not yet reaped (for dumps and tests).
    pub fn pids(&self) -> Vec<u32> {
        self.children
            .iter()
            .filter(|c| !c.reaped)
            .map(|c| c.process.id())
            .collect()
    }
}

/// Spawns `argv` with the stdio `configure` sets. A file the kernel cannot execute
/// (`ENOEXEC`, a script without `#!`) is run by `/bin/sh`, as `execvp` does.
fn start(argv: &[String], configure: &dyn Fn(&mut Command)) -> io::Result<std::process::Child> {
    let Some(prog) = argv.first() else {
        return Err(io::Error::from_raw_os_error(libc::ENOENT));
    };
    let mut cmd = Command::new(prog);
    cmd.args(&argv[1..]);
    configure(&mut cmd);
    match cmd.spawn() {
        Err(e) if e.raw_os_error() == Some(libc::ENOEXEC) => {
            let mut sh = Command::new("/bin/sh");
            sh.args(argv);
            configure(&mut sh);
            sh.spawn()
        }
        other => other,
    }
}
