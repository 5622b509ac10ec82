//! Output destinations of the write-family actions: `write`, `writen`, `owritecl`, `udgram`,
//! `ustream`, `udpsock` and `tcpsock`, and their close actions (`closef`, `closeudgr`,
//! `closeustr`, `closeudp`, `closetcp`).
//!
//! [`Outputs`] owns every handle these actions open, keyed by the name the action gave, and
//! keeps them open until a close action, [`Outputs::close_all`] (SIGHUP, SIGABRT, SIGUSR2) or
//! drop. Nothing here blocks. Regular files are written in batches: `write` and `writen`
//! append to a per-file buffer that [`Outputs::flush`] writes out, and the owner must call
//! it whenever someone could look (before reading more input, before starting a child,
//! before sleeping, at exit); this module itself flushes before any other output or close,
//! and when 16 KiB are waiting, so the order of everything written stays SEC's. Standard
//! output and FIFOs are written at once (SEC's unbuffered `syswrite`). FIFOs
//! are opened non-blocking, stream sockets connect non-blocking and buffer until connected,
//! and [`Outputs::poll`] moves pending connects and flushes along. The log lines are SEC
//! 2.9.1's, word for word, at the levels SEC uses (all debug), including the per-action
//! `Writing event '...' to file '...'` and `Sending event '...' to ...` lines, so the engine
//! must not log those itself. A write to a standard output whose reader has gone fails
//! with EPIPE and is logged (`Error when writing event 'x' to '-' (Broken pipe)`) at each
//! attempt, as SEC does; the process goes on (see [`ignore_sigpipe`]).
//!
//! This module decides nothing about correlation: the engine has already chosen the target
//! and substituted the text, and nothing written here flows back into event processing.

mod sock;

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::os::unix::net::{UnixDatagram, UnixStream};
use std::path::Path;
use std::time::{Duration, Instant};

use nix::poll::{PollFd, PollFlags, PollTimeout};

pub use crate::config::action::{CloseKind, WriteKind};
use crate::debug;

use sock::Peer;

/// SEC's default `--socket-timeout`, in seconds.
pub const DEFAULT_SOCKET_TIMEOUT: Duration = Duration::from_secs(60);

/// Makes the process ignore SIGPIPE, as SEC does, so that a write to a closed pipe or socket
/// fails with `EPIPE` (logged, the process goes on) instead of killing rsec. Children get
/// the default disposition back: the standard library resets SIGPIPE when it spawns.
pub fn ignore_sigpipe() {
    use nix::sys::signal::{signal, SigHandler, Signal};
    // SAFETY: SIG_IGN installs no handler code, so no async-signal-safety rule can be broken;
    // it only changes the disposition of SIGPIPE for this process.
    let _ = unsafe { signal(Signal::SIGPIPE, SigHandler::SigIgn) };
}

/// Perl's `$!` text for an I/O error: the C library's message without Rust's
/// "(os error N)" suffix.
pub(crate) fn errstr(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => nix::errno::Errno::from_raw(code).desc().to_string(),
        None => {
            let s = e.to_string();
            match s.strip_prefix("failed to lookup address information: ") {
                Some(rest) => rest.to_string(),
                None => s,
            }
        }
    }
}

/// The event text as SEC puts it into a log line.
fn show(text: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(text)
}

/// Which kind of stream socket a [`Stream`] is, for the log wording.
#[derive(Clone, Copy, PartialEq, Eq)]
enum StreamKind {
    Tcp,
    Unix,
}

impl StreamKind {
    /// How SEC names the peer in error messages.
    fn peer(self) -> &'static str {
        match self {
            StreamKind::Tcp => "TCP peer",
            StreamKind::Unix => "socket",
        }
    }
}

/// The socket of a [`Stream`].
enum StreamSock {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl StreamSock {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            StreamSock::Tcp(s) => s.write(buf),
            StreamSock::Unix(s) => s.write(buf),
        }
    }
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            StreamSock::Tcp(s) => s.read(buf),
            StreamSock::Unix(s) => s.read(buf),
        }
    }
    fn take_error(&self) -> io::Result<Option<io::Error>> {
        match self {
            StreamSock::Tcp(s) => s.take_error(),
            StreamSock::Unix(s) => s.take_error(),
        }
    }
    fn fd(&self) -> BorrowedFd<'_> {
        match self {
            StreamSock::Tcp(s) => s.as_fd(),
            StreamSock::Unix(s) => s.as_fd(),
        }
    }
}

/// A `tcpsock` or `ustream` connection: connecting or connected, with the bytes not yet
/// sent.
struct Stream {
    sock: StreamSock,
    connected: bool,
    started: Instant,
    pending: Vec<u8>,
    /// The first string of those in `pending`: SEC names it when sending fails.
    first: Vec<u8>,
}

impl Stream {
    /// Writes as much of `pending` as the socket takes now. An error means the connection
    /// is unusable.
    fn flush(&mut self) -> io::Result<()> {
        while !self.pending.is_empty() {
            match self.sock.write(&self.pending) {
                Ok(0) => return Err(io::Error::from(io::ErrorKind::WriteZero)),
                Ok(n) => {
                    self.pending.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// Why a file could not be opened for writing.
enum OpenError {
    /// It exists but is neither a regular file nor a FIFO.
    NotRegular,
    /// open(2) failed (for a FIFO without a reader: `ENXIO`).
    Io(io::Error),
}

/// Opens `name` as SEC's write actions do: `-` is a duplicate of standard output, a FIFO is
/// opened write-only and non-blocking, a regular (or missing) file is opened for appending
/// and created if needed, anything else is refused.
fn open_for_write(name: &str) -> Result<File, OpenError> {
    if name == "-" {
        return io::stdout()
            .as_fd()
            .try_clone_to_owned()
            .map(File::from)
            .map_err(OpenError::Io);
    }
    match std::fs::metadata(name) {
        Ok(m) if m.file_type().is_fifo() => OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(name)
            .map_err(OpenError::Io),
        Ok(m) if !m.file_type().is_file() => Err(OpenError::NotRegular),
        _ => OpenOptions::new()
            .append(true)
            .create(true)
            .open(name)
            .map_err(OpenError::Io),
    }
}

/// Writes `data` to `file` whole, retrying after interrupts. Errors, including `EAGAIN` on
/// a full FIFO, are returned to be logged.
fn write_whole(file: &mut File, data: &[u8]) -> io::Result<()> {
    file.write_all(data)
}

/// Splits `host:port` (the port all digits; `[v6addr]:port` allowed).
fn split_peer(peer: &str) -> Option<(&str, u16)> {
    let (host, port) = peer.rsplit_once(':')?;
    if host.is_empty() || port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    Some((host, port.parse().ok()?))
}

/// Resolves `host:port` to its first address.
fn resolve(host: &str, port: u16) -> io::Result<SocketAddr> {
    (host, port)
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::other("Name or service not known"))
}

/// Batched bytes (all files together) at which [`Outputs::flush`] runs by itself.
const FLUSH_AT: usize = 16 << 10;

/// A file opened by `write` or `writen`.
struct OutFile {
    file: File,
    /// A regular file other than standard output: writes wait in `buf`.
    batched: bool,
    buf: Vec<u8>,
}

/// Every output handle the write-family actions have opened, keyed by the action's name
/// for it (file name, socket path or `host:port`).
pub struct Outputs {
    socket_timeout: Duration,
    files: HashMap<String, OutFile>,
    /// Bytes waiting in the files' buffers.
    pending: usize,
    udgram: HashMap<String, UnixDatagram>,
    ustream: HashMap<String, Stream>,
    udp: HashMap<String, UdpSocket>,
    tcp: HashMap<String, Stream>,
}

impl Default for Outputs {
    fn default() -> Self {
        Outputs::new(DEFAULT_SOCKET_TIMEOUT)
    }
}

impl Outputs {
    /// No handles open yet; `socket_timeout` is `--socket-timeout`, how long a `tcpsock` or
    /// `ustream` connect may take before its buffered data are dropped.
    pub fn new(socket_timeout: Duration) -> Outputs {
        Outputs {
            socket_timeout,
            files: HashMap::new(),
            pending: 0,
            udgram: HashMap::new(),
            ustream: HashMap::new(),
            udp: HashMap::new(),
            tcp: HashMap::new(),
        }
    }

    /// Changes `--socket-timeout` (option reload); connects already running keep their
    /// start time.
    pub fn set_socket_timeout(&mut self, timeout: Duration) {
        self.socket_timeout = timeout;
    }

    /// Runs one write-family action: `text` goes to `target` as `kind` says. `write` adds a
    /// newline, the others send `text` as it is. Failures are logged (debug, SEC's wording)
    /// and never returned: an action that cannot write does nothing.
    pub fn write(&mut self, kind: WriteKind, target: &str, text: &[u8]) {
        if !matches!(kind, WriteKind::Write | WriteKind::Writen) {
            self.flush();
        }
        match kind {
            WriteKind::Write | WriteKind::Writen => {
                debug!("Writing event '{}' to file '{}'", show(text), target);
                self.write_file(target, text, kind == WriteKind::Write);
            }
            WriteKind::Owritecl => {
                debug!("Writing event '{}' to file '{}'", show(text), target);
                match open_for_write(target) {
                    Ok(mut f) => {
                        if let Err(e) = write_whole(&mut f, text) {
                            debug!(
                                "Error when writing event '{}' to '{}' ({})",
                                show(text),
                                target,
                                errstr(&e)
                            );
                        }
                    }
                    Err(e) => log_open_error(target, text, &e),
                }
            }
            WriteKind::Udgram => {
                debug!(
                    "Sending event '{}' to unix datagram socket '{}'",
                    show(text),
                    target
                );
                self.send_udgram(target, text);
            }
            WriteKind::Ustream => {
                debug!(
                    "Sending event '{}' to unix stream socket '{}'",
                    show(text),
                    target
                );
                self.send_stream(StreamKind::Unix, target, text);
            }
            WriteKind::Udpsock => {
                debug!("Sending event '{}' to UDP peer '{}'", show(text), target);
                self.send_udp(target, text);
            }
            WriteKind::Tcpsock => {
                debug!("Sending event '{}' to TCP peer '{}'", show(text), target);
                self.send_stream(StreamKind::Tcp, target, text);
            }
        }
    }

    fn write_file(&mut self, target: &str, text: &[u8], newline: bool) {
        if !self.files.contains_key(target) {
            match open_for_write(target) {
                Ok(file) => {
                    let batched =
                        target != "-" && file.metadata().is_ok_and(|m| m.file_type().is_file());
                    let f = OutFile {
                        file,
                        batched,
                        buf: Vec::new(),
                    };
                    self.files.insert(target.to_string(), f);
                }
                Err(e) => return log_open_error(target, text, &e),
            }
        }
        let Some(f) = self.files.get_mut(target) else {
            return;
        };
        if f.batched {
            f.buf.extend_from_slice(text);
            self.pending += text.len();
            if newline {
                f.buf.push(b'\n');
                self.pending += 1;
            }
            if self.pending >= FLUSH_AT {
                self.flush();
            }
            return;
        }
        if self.pending > 0 {
            self.flush();
        }
        let Some(OutFile { file, .. }) = self.files.get_mut(target) else {
            return;
        };
        let result = if newline {
            let mut line = Vec::with_capacity(text.len() + 1);
            line.extend_from_slice(text);
            line.push(b'\n');
            write_whole(file, &line)
        } else {
            write_whole(file, text)
        };
        if let Err(e) = result {
            debug!(
                "Error when writing event '{}' to '{}' ({})",
                show(text),
                target,
                errstr(&e)
            );
        }
    }

    /// Writes out what `write` and `writen` have batched for regular files. Cheap when
    /// nothing waits.
    pub fn flush(&mut self) {
        if self.pending == 0 {
            return;
        }
        self.pending = 0;
        for (target, f) in self.files.iter_mut() {
            if f.buf.is_empty() {
                continue;
            }
            if let Err(e) = write_whole(&mut f.file, &f.buf) {
                let text = f.buf.strip_suffix(b"\n").unwrap_or(&f.buf);
                debug!(
                    "Error when writing event '{}' to '{}' ({})",
                    show(text),
                    target,
                    errstr(&e)
                );
            }
            f.buf.clear();
        }
    }

    fn send_udgram(&mut self, target: &str, text: &[u8]) {
        if !self.udgram.contains_key(target) {
            if !is_socket(target) {
                debug!(
                    "Can't send event '{}' to socket '{}' (socket does not exist)",
                    show(text),
                    target
                );
                return;
            }
            let sock = UnixDatagram::unbound().and_then(|s| {
                s.connect(target)?;
                s.set_nonblocking(true)?;
                Ok(s)
            });
            match sock {
                Ok(s) => {
                    self.udgram.insert(target.to_string(), s);
                }
                Err(e) => {
                    debug!(
                        "Can't connect to socket '{}' for sending event '{}' ({})",
                        target,
                        show(text),
                        errstr(&e)
                    );
                    return;
                }
            }
        }
        let Some(sock) = self.udgram.get(target) else {
            return;
        };
        if let Err(e) = sock.send(text) {
            debug!(
                "Error when sending event '{}' to socket '{}' ({})",
                show(text),
                target,
                errstr(&e)
            );
            // A receiver that went away may come back on a new socket: reconnect next time.
            if e.kind() != io::ErrorKind::WouldBlock {
                self.udgram.remove(target);
            }
        }
    }

    fn send_udp(&mut self, target: &str, text: &[u8]) {
        if !self.udp.contains_key(target) {
            let Some((host, port)) = split_peer(target) else {
                debug!(
                    "Can't connect to UDP peer '{}' for sending event '{}' (peer not in host:portnumber format)",
                    target,
                    show(text)
                );
                return;
            };
            let sock = resolve(host, port).and_then(|addr| {
                let local: SocketAddr = if addr.is_ipv4() {
                    SocketAddr::from(([0, 0, 0, 0], 0))
                } else {
                    SocketAddr::from(([0u16; 8], 0))
                };
                let s = UdpSocket::bind(local)?;
                s.connect(addr)?;
                s.set_nonblocking(true)?;
                Ok(s)
            });
            match sock {
                Ok(s) => {
                    self.udp.insert(target.to_string(), s);
                }
                Err(e) => {
                    debug!("Can't create socket for {}/udp ({})", target, errstr(&e));
                    debug!(
                        "Can't connect to UDP peer '{}' for sending event '{}'",
                        target,
                        show(text)
                    );
                    return;
                }
            }
        }
        if let Some(sock) = self.udp.get(target) {
            if let Err(e) = sock.send(text) {
                debug!(
                    "Error when sending event '{}' to UDP peer '{}' ({})",
                    show(text),
                    target,
                    errstr(&e)
                );
            }
        }
    }

    fn streams(&mut self, kind: StreamKind) -> &mut HashMap<String, Stream> {
        match kind {
            StreamKind::Tcp => &mut self.tcp,
            StreamKind::Unix => &mut self.ustream,
        }
    }

    fn send_stream(&mut self, kind: StreamKind, target: &str, text: &[u8]) {
        let Some(stream) = self.streams(kind).get_mut(target) else {
            return self.open_stream(kind, target, text);
        };
        if stream.pending.is_empty() {
            stream.first = text.to_vec();
        }
        stream.pending.extend_from_slice(text);
        if !stream.connected {
            return;
        }
        if let Err(e) = stream.flush() {
            debug!(
                "Error when sending event '{}' to {} '{}' ({})",
                show(text),
                kind.peer(),
                target,
                errstr(&e)
            );
            debug!(
                "Retrying to send event '{}' to {} '{}'",
                show(text),
                kind.peer(),
                target
            );
            self.streams(kind).remove(target);
            self.open_stream(kind, target, text);
        }
    }

    /// Starts a connection for `target` with `text` as its first data.
    fn open_stream(&mut self, kind: StreamKind, target: &str, text: &[u8]) {
        let started = match kind {
            StreamKind::Unix => {
                if !is_socket(target) {
                    debug!(
                        "Can't send event '{}' to socket '{}' (socket does not exist)",
                        show(text),
                        target
                    );
                    return;
                }
                sock::connect_nonblocking(&Peer::Unix(Path::new(target)))
                    .map(|(fd, ok)| (StreamSock::Unix(UnixStream::from(fd)), ok))
            }
            StreamKind::Tcp => {
                let Some((host, port)) = split_peer(target) else {
                    debug!(
                        "Can't connect to TCP peer '{}' for sending event '{}' (peer not in host:portnumber format)",
                        target,
                        show(text)
                    );
                    return;
                };
                resolve(host, port).and_then(|addr| {
                    sock::connect_nonblocking(&Peer::Inet(addr))
                        .map(|(fd, ok)| (StreamSock::Tcp(TcpStream::from(fd)), ok))
                })
            }
        };
        let (sock, connected) = match started {
            Ok(s) => s,
            Err(e) => {
                match kind {
                    StreamKind::Tcp => {
                        debug!("Can't create socket for {}/tcp ({})", target, errstr(&e));
                        debug!(
                            "Can't connect to TCP peer '{}' for sending event '{}'",
                            target,
                            show(text)
                        );
                    }
                    StreamKind::Unix => debug!(
                        "Can't connect to socket '{}' for sending event '{}' ({})",
                        target,
                        show(text),
                        errstr(&e)
                    ),
                }
                return;
            }
        };
        let mut stream = Stream {
            sock,
            connected,
            started: Instant::now(),
            pending: text.to_vec(),
            first: text.to_vec(),
        };
        if connected {
            if let Err(e) = stream.flush() {
                debug!(
                    "Error when sending event '{}' to {} '{}' ({})",
                    show(text),
                    kind.peer(),
                    target,
                    errstr(&e)
                );
                return;
            }
        }
        self.streams(kind).insert(target.to_string(), stream);
    }

    /// Runs one close action. `closef` closes a `write`/`writen` handle, the others close
    /// the socket for that name; each logs SEC's line, or SEC's complaint if nothing was
    /// open. `dropinput` ([`CloseKind::Input`]) is not an output and is ignored.
    pub fn close(&mut self, kind: CloseKind, target: &str) {
        self.flush();
        match kind {
            CloseKind::File => {
                debug!("Closing file '{}'", target);
                if self.files.remove(target).is_none() {
                    debug!("File '{}' is not open, can't close", target);
                }
            }
            CloseKind::Udgram => {
                debug!("Closing unix datagram socket '{}'", target);
                if self.udgram.remove(target).is_none() {
                    debug!("Socket '{}' is not open, can't close", target);
                }
            }
            CloseKind::Ustream => {
                debug!("Closing unix stream socket '{}'", target);
                if self.ustream.remove(target).is_none() {
                    debug!("Socket '{}' is not open, can't close", target);
                }
            }
            CloseKind::Udp => {
                debug!("Closing socket for UDP peer '{}'", target);
                if self.udp.remove(target).is_none() {
                    debug!("No socket for UDP peer '{}', can't close", target);
                }
            }
            CloseKind::Tcp => {
                debug!("Closing socket for TCP peer '{}'", target);
                if self.tcp.remove(target).is_none() {
                    debug!("No socket for TCP peer '{}', can't close", target);
                }
            }
            CloseKind::Input => {}
        }
    }

    /// Closes every file and socket (SIGHUP, SIGABRT, SIGUSR2); they reopen on demand.
    /// Data still waiting for a connect are dropped, as in SEC.
    pub fn close_all(&mut self) {
        self.flush();
        self.files.clear();
        self.udgram.clear();
        self.ustream.clear();
        self.udp.clear();
        self.tcp.clear();
    }

    /// Whether a handle is open under `name` for the given close kind (for tests and
    /// dumps).
    pub fn is_open(&self, kind: CloseKind, name: &str) -> bool {
        match kind {
            CloseKind::File => self.files.contains_key(name),
            CloseKind::Udgram => self.udgram.contains_key(name),
            CloseKind::Ustream => self.ustream.contains_key(name),
            CloseKind::Udp => self.udp.contains_key(name),
            CloseKind::Tcp => self.tcp.contains_key(name),
            CloseKind::Input => false,
        }
    }

    /// Whether any stream socket is still connecting or has unsent data, i.e. whether
    /// [`Outputs::poll`] has work to do.
    pub fn has_pending(&self) -> bool {
        self.tcp
            .values()
            .chain(self.ustream.values())
            .any(|s| !s.connected || !s.pending.is_empty())
    }

    /// Moves stream sockets along without blocking; the event loop calls it every
    /// iteration. Finished connects send their buffered data, connects older than
    /// `--socket-timeout` are given up (data dropped), unsent data are flushed, and a peer
    /// that closed or reset its end is noticed, so the next write reconnects.
    /// True when a `tcpsock` or `ustream` socket is open ([`Outputs::poll`] has work).
    pub fn has_streams(&self) -> bool {
        !self.tcp.is_empty() || !self.ustream.is_empty()
    }

    pub fn poll(&mut self) {
        if self.tcp.is_empty() && self.ustream.is_empty() {
            return;
        }
        for kind in [StreamKind::Tcp, StreamKind::Unix] {
            let timeout = self.socket_timeout;
            let map = self.streams(kind);
            let mut ready: Vec<(String, PollFlags)> = Vec::new();
            {
                let names: Vec<&String> = map.keys().collect();
                let mut fds: Vec<PollFd> = map
                    .values()
                    .map(|s| {
                        let want = if !s.connected || !s.pending.is_empty() {
                            PollFlags::POLLOUT | PollFlags::POLLIN
                        } else {
                            PollFlags::POLLIN
                        };
                        PollFd::new(s.sock.fd(), want)
                    })
                    .collect();
                if nix::poll::poll(&mut fds, PollTimeout::ZERO).is_err() {
                    continue;
                }
                for (name, fd) in names.iter().zip(fds.iter()) {
                    let rev = fd.revents().unwrap_or(PollFlags::empty());
                    ready.push(((*name).clone(), rev));
                }
            }
            for (name, rev) in ready {
                let Some(stream) = map.get_mut(&name) else {
                    continue;
                };
                if !stream.connected {
                    if rev.is_empty() {
                        if stream.started.elapsed() >= timeout {
                            debug!(
                                "Can't connect to {} '{}' (connection establishment timeout)",
                                kind.peer(),
                                name
                            );
                            map.remove(&name);
                        }
                        continue;
                    }
                    let failure = match stream.sock.take_error() {
                        Ok(None) => None,
                        Ok(Some(e)) | Err(e) => Some(e),
                    };
                    if let Some(e) = failure {
                        debug!(
                            "Error when sending event '{}' to {} '{}' ({})",
                            show(&stream.first),
                            kind.peer(),
                            name,
                            errstr(&e)
                        );
                        map.remove(&name);
                        continue;
                    }
                    stream.connected = true;
                }
                if rev.contains(PollFlags::POLLIN)
                    || rev.intersects(PollFlags::POLLHUP | PollFlags::POLLERR)
                {
                    let mut buf = [0u8; 4096];
                    match stream.sock.read(&mut buf) {
                        Ok(0) => {
                            debug!("Connection to {} '{}' closed by peer", kind.peer(), name);
                            map.remove(&name);
                            continue;
                        }
                        Ok(_) => {}
                        Err(e)
                            if matches!(
                                e.kind(),
                                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                            ) => {}
                        Err(e) => {
                            debug!(
                                "Connection error to {} '{}' ({})",
                                kind.peer(),
                                name,
                                errstr(&e)
                            );
                            map.remove(&name);
                            continue;
                        }
                    }
                }
                if !stream.pending.is_empty() {
                    if let Err(e) = stream.flush() {
                        debug!(
                            "Error when sending event '{}' to {} '{}' ({})",
                            show(&stream.first),
                            kind.peer(),
                            name,
                            errstr(&e)
                        );
                        map.remove(&name);
                    }
                }
            }
        }
    }
}

/// Whether `path` names a socket (SEC's `-S` test before a unix socket action).
fn is_socket(path: &str) -> bool {
    std::fs::metadata(path)
        .map(|m| m.file_type().is_socket())
        .unwrap_or(false)
}

/// Logs SEC's line for a file that could not be opened.
fn log_open_error(target: &str, text: &[u8], e: &OpenError) {
    match e {
        OpenError::NotRegular => debug!(
            "Can't write event '{}' to file '{}' (not a regular file or pipe)",
            show(text),
            target
        ),
        OpenError::Io(e) => debug!(
            "Can't open '{}' for writing event '{}' ({})",
            target,
            show(text),
            errstr(e)
        ),
    }
}
