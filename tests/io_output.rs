//! Outputs: the write-family actions against real files, FIFOs and loopback sockets.

use std::fs::{self, OpenOptions};
use std::io::Read;
use std::net::{TcpListener, UdpSocket};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::{UnixDatagram, UnixListener};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rsec::config::action::{CloseKind, WriteKind};
use rsec::io::output::{ignore_sigpipe, Outputs};
use rsec::logging;

/// Tests that look at the log take turns: the capture is process-wide.
static LOG: Mutex<()> = Mutex::new(());

fn with_log<F: FnOnce()>(f: F) -> Vec<String> {
    let _guard = LOG.lock().unwrap_or_else(|e| e.into_inner());
    logging::start_capture();
    f();
    logging::take_capture()
        .into_iter()
        .map(|(_, m)| m)
        .collect()
}

fn has(log: &[String], msg: &str) -> bool {
    log.iter().any(|m| m == msg)
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("rsec-io-out-{}-{}", std::process::id(), name));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn mkfifo(path: &std::path::Path) {
    nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
}

#[test]
fn write_writen_keep_the_file_open_and_closef_reopens() {
    let dir = tempdir("files");
    let f = dir.join("out");
    let name = f.to_str().expect("utf8");
    let mut out = Outputs::default();
    let log = with_log(|| {
        out.write(WriteKind::Write, name, b"a");
        out.write(WriteKind::Writen, name, b"b");
        out.write(WriteKind::Writen, name, b"c");
    });
    assert!(has(&log, &format!("Writing event 'a' to file '{name}'")));
    // Regular files are written in batches, out when the owner flushes.
    assert_eq!(fs::read(&f).expect("read"), b"");
    out.flush();
    assert_eq!(fs::read(&f).expect("read"), b"a\nbc");
    assert!(out.is_open(CloseKind::File, name));

    // The handle stays open: writes go to the unlinked file, not to a new one.
    fs::remove_file(&f).expect("rm");
    out.write(WriteKind::Write, name, b"lost");
    assert!(!f.exists());

    let log = with_log(|| out.close(CloseKind::File, name));
    assert!(has(&log, &format!("Closing file '{name}'")));
    assert!(!out.is_open(CloseKind::File, name));
    out.write(WriteKind::Write, name, b"new");
    out.flush();
    assert_eq!(fs::read(&f).expect("read"), b"new\n");

    let log = with_log(|| out.close(CloseKind::File, "/no/such/open/file"));
    assert!(has(
        &log,
        "File '/no/such/open/file' is not open, can't close"
    ));
}

#[test]
fn owritecl_opens_and_closes_each_time_without_newline() {
    let dir = tempdir("owritecl");
    let f = dir.join("o");
    let name = f.to_str().expect("utf8");
    let mut out = Outputs::default();
    out.write(WriteKind::Owritecl, name, b"x");
    assert!(!out.is_open(CloseKind::File, name));
    fs::remove_file(&f).expect("rm");
    out.write(WriteKind::Owritecl, name, b"y");
    out.write(WriteKind::Owritecl, name, b"z");
    assert_eq!(fs::read(&f).expect("read"), b"yz");
}

#[test]
fn fifo_without_reader_is_dropped_with_a_log_line() {
    let dir = tempdir("fifo-noreader");
    let p = dir.join("fifo");
    mkfifo(&p);
    let name = p.to_str().expect("utf8");
    let mut out = Outputs::default();
    let start = Instant::now();
    let log = with_log(|| {
        out.write(WriteKind::Write, name, b"hi");
        out.write(WriteKind::Owritecl, name, b"hi");
    });
    assert!(start.elapsed() < Duration::from_secs(1), "must not block");
    let msg = format!("Can't open '{name}' for writing event 'hi' (No such device or address)");
    assert_eq!(log.iter().filter(|m| **m == msg).count(), 2, "{log:?}");
    assert!(!out.is_open(CloseKind::File, name));
}

#[test]
fn fifo_with_reader_gets_the_line_and_a_gone_reader_does_not_kill() {
    ignore_sigpipe();
    let dir = tempdir("fifo-reader");
    let p = dir.join("fifo");
    mkfifo(&p);
    let name = p.to_str().expect("utf8");
    let mut reader = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(&p)
        .expect("open reader");
    let mut out = Outputs::default();
    out.write(WriteKind::Write, name, b"to fifo");
    let mut got = String::new();
    reader.read_to_string(&mut got).ok();
    assert_eq!(got, "to fifo\n");
    drop(reader);
    let log = with_log(|| out.write(WriteKind::Write, name, b"nobody"));
    assert!(has(
        &log,
        &format!("Error when writing event 'nobody' to '{name}' (Broken pipe)")
    ));
}

#[test]
fn other_file_types_are_refused() {
    let dir = tempdir("refuse");
    let mut out = Outputs::default();
    let d = dir.to_str().expect("utf8");
    let log = with_log(|| {
        out.write(WriteKind::Write, "/dev/null", b"x");
        out.write(WriteKind::Writen, d, b"y");
    });
    assert!(has(
        &log,
        "Can't write event 'x' to file '/dev/null' (not a regular file or pipe)"
    ));
    assert!(has(
        &log,
        &format!("Can't write event 'y' to file '{d}' (not a regular file or pipe)")
    ));
    let missing = format!("{d}/nodir/f");
    let log = with_log(|| out.write(WriteKind::Write, &missing, b"z"));
    assert!(has(
        &log,
        &format!("Can't open '{missing}' for writing event 'z' (No such file or directory)")
    ));
}

#[test]
fn udgram_sends_without_newline_and_keeps_the_socket() {
    let dir = tempdir("udgram");
    let p = dir.join("sock");
    let rx = UnixDatagram::bind(&p).expect("bind");
    rx.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let name = p.to_str().expect("utf8");
    let mut out = Outputs::default();
    out.write(WriteKind::Udgram, name, b"dg1");
    out.write(WriteKind::Udgram, name, b"dg2");
    let mut buf = [0u8; 100];
    let n = rx.recv(&mut buf).expect("recv");
    assert_eq!(&buf[..n], b"dg1");
    let n = rx.recv(&mut buf).expect("recv");
    assert_eq!(&buf[..n], b"dg2");
    assert!(out.is_open(CloseKind::Udgram, name));
    let log = with_log(|| {
        out.close(CloseKind::Udgram, name);
        out.close(CloseKind::Udgram, name);
        out.write(WriteKind::Udgram, "/dev/null", b"x");
    });
    assert!(has(&log, &format!("Closing unix datagram socket '{name}'")));
    assert!(has(
        &log,
        &format!("Socket '{name}' is not open, can't close")
    ));
    assert!(has(
        &log,
        "Can't send event 'x' to socket '/dev/null' (socket does not exist)"
    ));
}

#[test]
fn udpsock_sends_datagrams_to_a_loopback_peer() {
    let rx = UdpSocket::bind("127.0.0.1:0").expect("bind");
    rx.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    let peer = format!("127.0.0.1:{}", rx.local_addr().expect("addr").port());
    let mut out = Outputs::default();
    out.write(WriteKind::Udpsock, &peer, b"up");
    let mut buf = [0u8; 100];
    let n = rx.recv(&mut buf).expect("recv");
    assert_eq!(&buf[..n], b"up");
    assert!(out.is_open(CloseKind::Udp, &peer));
    let log = with_log(|| {
        out.close(CloseKind::Udp, &peer);
        out.close(CloseKind::Udp, &peer);
        out.write(WriteKind::Udpsock, "127.0.0.1", b"x");
    });
    assert!(has(&log, &format!("Closing socket for UDP peer '{peer}'")));
    assert!(has(
        &log,
        &format!("No socket for UDP peer '{peer}', can't close")
    ));
    assert!(has(
        &log,
        "Can't connect to UDP peer '127.0.0.1' for sending event 'x' (peer not in host:portnumber format)"
    ));
}

/// Polls `out` until `done` or 5 s.
fn poll_until(out: &mut Outputs, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() && start.elapsed() < Duration::from_secs(5) {
        out.poll();
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn tcpsock_buffers_until_accepted_and_keeps_the_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let peer = format!("127.0.0.1:{}", listener.local_addr().expect("addr").port());
    let mut out = Outputs::new(Duration::from_secs(5));
    // Nobody has accepted yet: the data wait in rsec or in the kernel, never blocking.
    out.write(WriteKind::Tcpsock, &peer, b"first ");
    out.write(WriteKind::Tcpsock, &peer, b"second");
    out.poll();
    let (mut conn, _) = listener.accept().expect("accept");
    conn.set_read_timeout(Some(Duration::from_millis(50)))
        .expect("timeout");
    let mut got = Vec::new();
    let mut buf = [0u8; 100];
    poll_until(&mut out, || {
        if let Ok(n) = conn.read(&mut buf) {
            got.extend_from_slice(&buf[..n]);
        }
        got.len() >= 12
    });
    assert_eq!(got, b"first second");
    assert!(!out.has_pending());
    // Same connection for the next write.
    out.write(WriteKind::Tcpsock, &peer, b"third");
    got.clear();
    poll_until(&mut out, || {
        if let Ok(n) = conn.read(&mut buf) {
            got.extend_from_slice(&buf[..n]);
        }
        got.len() >= 5
    });
    assert_eq!(got, b"third");

    // The peer hangs up: noticed by poll, and the next write reconnects.
    drop(conn);
    let log = with_log(|| {
        let start = Instant::now();
        while out.is_open(CloseKind::Tcp, &peer) && start.elapsed() < Duration::from_secs(5) {
            out.poll();
            std::thread::sleep(Duration::from_millis(5));
        }
    });
    assert!(!out.is_open(CloseKind::Tcp, &peer));
    assert!(has(
        &log,
        &format!("Connection to TCP peer '{peer}' closed by peer")
    ));
    out.write(WriteKind::Tcpsock, &peer, b"again");
    let (mut conn, _) = listener.accept().expect("accept again");
    conn.set_read_timeout(Some(Duration::from_millis(50)))
        .expect("timeout");
    got.clear();
    poll_until(&mut out, || {
        if let Ok(n) = conn.read(&mut buf) {
            got.extend_from_slice(&buf[..n]);
        }
        got.len() >= 5
    });
    assert_eq!(got, b"again");
    let log = with_log(|| {
        out.close(CloseKind::Tcp, &peer);
        out.close(CloseKind::Tcp, &peer);
    });
    assert!(has(&log, &format!("Closing socket for TCP peer '{peer}'")));
    assert!(has(
        &log,
        &format!("No socket for TCP peer '{peer}', can't close")
    ));
}

#[test]
fn tcpsock_to_a_closed_port_is_logged_and_dropped() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let peer = format!("127.0.0.1:{port}");
    let mut out = Outputs::new(Duration::from_secs(5));
    let log = with_log(|| {
        out.write(WriteKind::Tcpsock, &peer, b"hi");
        let start = Instant::now();
        while out.is_open(CloseKind::Tcp, &peer) && start.elapsed() < Duration::from_secs(5) {
            out.poll();
            std::thread::sleep(Duration::from_millis(5));
        }
    });
    assert!(!out.is_open(CloseKind::Tcp, &peer));
    assert!(
        has(
            &log,
            &format!("Error when sending event 'hi' to TCP peer '{peer}' (Connection refused)")
        ) || has(
            &log,
            &format!("Can't create socket for {peer}/tcp (Connection refused)")
        ),
        "{log:?}"
    );
}

#[test]
fn ustream_sends_to_a_unix_listener() {
    let dir = tempdir("ustream");
    let p = dir.join("sock");
    let listener = UnixListener::bind(&p).expect("bind");
    let name = p.to_str().expect("utf8");
    let mut out = Outputs::default();
    out.write(WriteKind::Ustream, name, b"st1 ");
    out.write(WriteKind::Ustream, name, b"st2");
    out.poll();
    let (mut conn, _) = listener.accept().expect("accept");
    conn.set_read_timeout(Some(Duration::from_millis(50)))
        .expect("timeout");
    let mut got = Vec::new();
    let mut buf = [0u8; 100];
    poll_until(&mut out, || {
        if let Ok(n) = conn.read(&mut buf) {
            got.extend_from_slice(&buf[..n]);
        }
        got.len() >= 7
    });
    assert_eq!(got, b"st1 st2");
    let log = with_log(|| {
        out.close(CloseKind::Ustream, name);
        out.write(WriteKind::Ustream, "/dev/null", b"x");
    });
    assert!(has(&log, &format!("Closing unix stream socket '{name}'")));
    assert!(has(
        &log,
        "Can't send event 'x' to socket '/dev/null' (socket does not exist)"
    ));
}

#[test]
fn close_all_closes_everything() {
    let dir = tempdir("closeall");
    let f = dir.join("f");
    let name = f.to_str().expect("utf8");
    let rx = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let peer = format!("127.0.0.1:{}", rx.local_addr().expect("addr").port());
    let mut out = Outputs::default();
    out.write(WriteKind::Write, name, b"x");
    out.write(WriteKind::Udpsock, &peer, b"x");
    out.close_all();
    assert!(!out.is_open(CloseKind::File, name));
    assert!(!out.is_open(CloseKind::Udp, &peer));
    // dropinput is not an output: ignored.
    out.close(CloseKind::Input, name);
}
