//! `write -` when standard output is a pipe whose reader has gone: the write fails with
//! EPIPE, is logged, and the process goes on. Alone in its test binary because it points
//! file descriptor 1 at a broken pipe for a moment.

use std::os::fd::AsRawFd;

use rsec::config::action::WriteKind;
use rsec::io::output::{ignore_sigpipe, Outputs};
use rsec::logging;

#[test]
fn broken_stdout_pipe_does_not_kill_the_process() {
    ignore_sigpipe();
    let saved = nix::unistd::dup(1).expect("dup stdout");
    let (rd, wr) = nix::unistd::pipe().expect("pipe");
    nix::unistd::dup2(wr.as_raw_fd(), 1).expect("dup2");
    drop(wr);
    drop(rd); // no reader any more

    logging::start_capture();
    let mut out = Outputs::default();
    out.write(WriteKind::Write, "-", b"a");
    out.write(WriteKind::Writen, "-", b"b");
    let log: Vec<String> = logging::take_capture()
        .into_iter()
        .map(|(_, m)| m)
        .collect();

    nix::unistd::dup2(saved, 1).expect("restore stdout");
    let _ = nix::unistd::close(saved);
    assert!(
        log.contains(&"Writing event 'a' to file '-'".to_string()),
        "{log:?}"
    );
    assert!(
        log.contains(&"Error when writing event 'a' to '-' (Broken pipe)".to_string()),
        "{log:?}"
    );
    assert!(
        log.contains(&"Error when writing event 'b' to '-' (Broken pipe)".to_string()),
        "{log:?}"
    );
}
