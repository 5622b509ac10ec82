//! Reading SEC's input sources: standard input, regular files and named pipes given with
//! `--input` (and added or dropped at run time by `addinput` / `dropinput`).
//!
//! This module owns everything between the file system and a complete input line: glob
//! expansion of the `--input` patterns, opening (tail mode jumps to EOF unless
//! `--fromstart`), non-blocking reads in `--blocksize` blocks, splitting into lines while
//! keeping partial lines buffered, SEC's round-robin order (sources sorted by name, at most
//! one line per source per round), following files across rotation (rename + create) and
//! truncation, reopening named pipes and missing files (`--rwfifo`, `--reopen-timeout`),
//! `--check-timeout`, and the `--input-timeout` / `--timeout-script` notifications.
//!
//! It must not touch correlation: it knows nothing about rules, contexts, buffers of the
//! engine or synthetic events. A line comes out as bytes with its source name and the
//! `=CTX` internal context name, and the engine decides what it means. Time here is SEC's:
//! whole seconds from `time()`, except for the caller's sleep after an empty poll.
//!
//! Behaviours copied from SEC 2.9.1 (checked against the real program):
//! * at EOF with `--notail`, and when the last writer of a pipe goes away, an unterminated
//!   last line is processed as a line of its own;
//! * in tail mode a partial last line of a regular file stays buffered, also across
//!   rotation and truncation, and is completed by the next data (`ab` + `c\n` is `abc`);
//! * `\r` and non-UTF-8 bytes are data; only `\n` ends a line;
//! * stdin that is a regular file is treated like a file (tail mode jumps to its end), stdin
//!   that is a pipe is closed for good at EOF;
//! * a file missing at start is retried only with `--reopen-timeout` (then read from its
//!   start); without it SEC warns `Input file X does not exist!` and forgets it;
//! * a restart (SIGHUP) reopens every input at EOF in tail mode (`--fromstart` applies only
//!   to the first open) and forgets `addinput` files; a soft restart keeps them.

use std::collections::{BTreeMap, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom};
use std::os::fd::AsFd;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

/// The input options of SEC's command line, as the input layer needs them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputConfig {
    /// `--input=<glob>[=<context>]` in command-line order: the glob, and the internal context
    /// name for lines from the matching files. When several patterns name the same file,
    /// the last one decides its context (as in SEC).
    pub patterns: Vec<(String, Option<String>)>,
    /// `--tail` (default true) / `--notail`: follow files forever, or read to EOF and close.
    pub tail: bool,
    /// `--fromstart`: in tail mode, read the existing content first (first open only).
    pub fromstart: bool,
    /// `--reopen-timeout` seconds (0: off): retry opening closed inputs this often; tail mode
    /// only.
    pub reopen_timeout: u64,
    /// `--check-timeout` seconds (0: off): after a poll of a file finds no data, leave the
    /// file alone (no read, no stat) for this long.
    pub check_timeout: u64,
    /// `--blocksize` bytes (default 8192): the size of each `read()`.
    pub blocksize: usize,
    /// `--rwfifo` (default true): open named pipes read-write so EOF never appears.
    pub rwfifo: bool,
    /// `--input-timeout` seconds (0: off): run the timeout script when a file gives no data
    /// for this long.
    pub input_timeout: u64,
    /// `--timeout-script`: the program run with `1 FILE` after the input timeout and with
    /// `0 FILE` when data comes again (exec'd directly, no shell).
    pub timeout_script: Option<String>,
    /// With `--notail`: an unterminated last line of a regular file is not returned at EOF
    /// but left unread (its start is the saved position), for `--state` batch runs.
    pub hold_partial: bool,
}

impl Default for InputConfig {
    /// SEC's defaults: no inputs, tail mode, 8 KiB blocks, read-write FIFOs, timeouts off.
    fn default() -> Self {
        InputConfig {
            patterns: Vec::new(),
            tail: true,
            fromstart: false,
            reopen_timeout: 0,
            check_timeout: 0,
            blocksize: 8192,
            rwfifo: true,
            input_timeout: 0,
            timeout_script: None,
            hold_partial: false,
        }
    }
}

/// The name of an input source, shared by every line read from it (one thread: a
/// plain reference count, no atomics per line).
pub type Src = std::rc::Rc<str>;

/// One complete input line and where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputLine {
    /// The line's bytes without the trailing `\n` (any `\r` is kept, as SEC keeps it).
    pub line: Vec<u8>,
    /// The file name as given on the command line or to `addinput`; `-` for stdin.
    pub source: Src,
    /// The internal context given with `--input=GLOB=CTX` or `addinput FILE OFFSET CTX`;
    /// `None` means SEC's default name, `_FILE_EVENT_<source>`.
    pub context: Option<Src>,
}

/// Where reading starts when a file is opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartAt {
    /// Offset 0.
    Beginning,
    /// The current end of file (`-` in `addinput`).
    End,
    /// A byte offset (an `addinput` offset, or a saved position).
    Offset(u64),
}

impl StartAt {
    /// Parses an `addinput` offset: `-` is EOF, an unsigned decimal integer is a byte offset.
    pub fn parse(s: &str) -> Option<StartAt> {
        if s == "-" {
            Some(StartAt::End)
        } else if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            s.parse().ok().map(StartAt::Offset)
        } else {
            None
        }
    }
}

/// A saved read position: file name, device, inode and the offset of the first byte not yet
/// returned as (part of) a line.
pub type Position = (String, u64, u64, u64);

/// How a source is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// A regular file: reads never block; EOF is a read of 0 bytes.
    Regular,
    /// A pipe, FIFO or terminal: polled before reading; EOF means no writers are left.
    Pipe,
}

/// Bytes read but not yet returned, with the start of the unreturned part and how far it
/// has been searched for `\n` (so a long partial line is not rescanned for every block).
#[derive(Debug, Default)]
struct LineBuf {
    /// Bytes `head..end` are unreturned input; the rest is room for the next read.
    data: Vec<u8>,
    head: usize,
    end: usize,
    scanned: usize,
}

impl LineBuf {
    /// Reads up to `want` bytes from `r` straight into the buffer (no copy through a
    /// scratch block); returns the count, 0 at EOF.
    fn read_from(&mut self, r: &mut impl Read, want: usize) -> io::Result<usize> {
        if self.head > 0 && (self.head * 2 >= self.end || self.end + want > self.data.len()) {
            self.data.copy_within(self.head..self.end, 0);
            self.end -= self.head;
            self.scanned = self.scanned.saturating_sub(self.head);
            self.head = 0;
        }
        if self.end + want > self.data.len() {
            self.data.resize(self.end + want, 0);
        }
        let n = r.read(&mut self.data[self.end..self.end + want])?;
        self.end += n;
        Ok(n)
    }

    /// True when the last `n` bytes read hold a newline.
    fn last_has_newline(&self, n: usize) -> bool {
        memchr::memchr(b'\n', &self.data[self.end - n..self.end]).is_some()
    }

    /// The next complete line, copied into a buffer from `spare` when one is there.
    fn next_line(&mut self, spare: &mut Vec<Vec<u8>>) -> Option<Vec<u8>> {
        let from = self.scanned.max(self.head);
        match memchr::memchr(b'\n', &self.data[from..self.end]) {
            Some(i) => {
                let nl = from + i;
                let mut line = spare.pop().unwrap_or_default();
                line.clear();
                line.extend_from_slice(&self.data[self.head..nl]);
                self.head = nl + 1;
                self.scanned = self.head;
                if self.head == self.end {
                    self.clear();
                }
                Some(line)
            }
            None => {
                self.scanned = self.end;
                None
            }
        }
    }

    fn has_line(&self) -> bool {
        memchr::memchr(b'\n', &self.data[self.scanned.max(self.head)..self.end]).is_some()
    }

    /// Takes the unterminated rest, if any (EOF with `--notail`, or a pipe without writers).
    fn take_rest(&mut self) -> Option<Vec<u8>> {
        let rest = (self.head < self.end).then(|| self.data[self.head..self.end].to_vec());
        self.clear();
        rest
    }

    fn len(&self) -> usize {
        self.end - self.head
    }

    /// Empties the buffer (its memory is kept for the next read).
    fn clear(&mut self) {
        self.head = 0;
        self.end = 0;
        self.scanned = 0;
    }
}

/// One input source: its name, its open file (if any) and its reading state.
#[derive(Debug)]
struct Source {
    name: Src,
    ctx: Option<Src>,
    /// Added by `addinput` (only these may be dropped; a full restart forgets them).
    dynamic: bool,
    file: Option<File>,
    kind: Kind,
    /// A named pipe (reopened at EOF in tail mode with `--norwfifo`).
    fifo: bool,
    dev: u64,
    ino: u64,
    /// The file offset after the last read (regular files).
    pos: u64,
    buf: LineBuf,
    /// Closed for good: EOF with `--notail`, or stdin that is a pipe reached EOF.
    done: bool,
    /// `--check-timeout`: no poll before this time.
    next_check: u64,
    /// `--reopen-timeout`: no reopen attempt before this time.
    next_reopen: u64,
    /// `--input-timeout`: the time data was last seen (or the source was set up).
    last_data: u64,
    /// The timeout script has been run with `1` and not yet with `0`.
    timed_out: bool,
}

impl Source {
    /// Its read position: name, device, inode and the offset of the first byte not yet
    /// returned (a buffered partial line is read again when resuming there).
    fn position(&self) -> Position {
        (
            self.name.to_string(),
            self.dev,
            self.ino,
            self.pos.saturating_sub(self.buf.len() as u64),
        )
    }

    fn new(name: &str, ctx: Option<&str>, dynamic: bool, now: u64) -> Source {
        Source {
            name: Src::from(name),
            ctx: ctx.map(Src::from),
            dynamic,
            file: None,
            kind: Kind::Regular,
            fifo: false,
            dev: 0,
            ino: 0,
            pos: 0,
            buf: LineBuf::default(),
            done: false,
            next_check: 0,
            next_reopen: 0,
            last_data: now,
            timed_out: false,
        }
    }

    fn is_stdin(&self) -> bool {
        &*self.name == "-"
    }

    fn close(&mut self) {
        self.file = None;
    }
}

/// All input sources of one SEC process, read in SEC's order.
///
/// The engine's main loop calls [`Inputs::read_line`] whenever it wants the next line; when
/// that returns `None` it sleeps (see [`Inputs::poll_timeout_hint`]) and, with `--notail`,
/// stops once [`Inputs::all_closed`] is true.
#[derive(Debug)]
pub struct Inputs {
    cfg: InputConfig,
    sources: BTreeMap<String, Source>,
    /// Lines read in the current round and not yet handed out.
    pending: VecDeque<InputLine>,
    /// Line buffers handed back by the caller ([`Inputs::recycle`]), reused for new lines.
    spare: Vec<Vec<u8>>,
    /// Timeout-script children not yet reaped, with their command lines.
    children: Vec<(Child, String)>,
}

/// SEC's clock: whole seconds since the epoch.
fn now_secs() -> u64 {
    crate::timefmt::now().max(0) as u64
}

/// Expands the `--input` patterns into file names with their contexts; a later pattern
/// overrides the context of an earlier one for the same file (SEC keeps the last).
fn expand(patterns: &[(String, Option<String>)]) -> BTreeMap<String, Option<String>> {
    let mut files = BTreeMap::new();
    for (pat, ctx) in patterns {
        for name in crate::glob::glob(pat) {
            files.insert(name, ctx.clone());
        }
    }
    files
}

/// Moves a freshly opened regular file to `start`; returns the new offset.
fn seek_to(file: &mut File, name: &str, start: StartAt) -> u64 {
    let target = match start {
        StartAt::Beginning => return 0,
        StartAt::End => SeekFrom::End(0),
        StartAt::Offset(n) => SeekFrom::Start(n),
    };
    match file.seek(target) {
        Ok(p) => p,
        Err(e) => {
            crate::err!("Can't seek input file {name} ({e}), reading from the start");
            0
        }
    }
}

/// Opens `src` (closing what was open); logs failures as SEC does and returns whether the
/// source is now open. Does not touch the line buffer.
fn open_source(cfg: &InputConfig, src: &mut Source, start: StartAt) -> bool {
    src.close();
    src.pos = 0;
    let name = src.name.clone();
    if src.is_stdin() {
        let file = match io::stdin().as_fd().try_clone_to_owned() {
            Ok(fd) => File::from(fd),
            Err(e) => {
                crate::err!("Can't open input file - ({e})");
                return false;
            }
        };
        let meta = file.metadata().ok();
        let regular = meta.as_ref().is_some_and(|m| m.is_file());
        src.dev = meta.as_ref().map_or(0, |m| m.dev());
        src.ino = meta.as_ref().map_or(0, |m| m.ino());
        src.fifo = false;
        src.kind = if regular { Kind::Regular } else { Kind::Pipe };
        let mut file = file;
        if regular {
            src.pos = seek_to(&mut file, &name, start);
        }
        src.file = Some(file);
        return true;
    }
    let meta = match std::fs::metadata(&*name) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if cfg.tail && cfg.reopen_timeout > 0 {
                crate::debug!("Input file {name} has not been created yet");
            } else {
                crate::warn!("Input file {name} does not exist!");
            }
            return false;
        }
        Err(e) => {
            crate::err!("Can't open input file {name} ({e})");
            return false;
        }
    };
    let ft = meta.file_type();
    let mut opts = OpenOptions::new();
    opts.read(true);
    let kind = if ft.is_fifo() {
        if cfg.rwfifo {
            opts.write(true);
        }
        opts.custom_flags(libc::O_NONBLOCK);
        Kind::Pipe
    } else if ft.is_file() {
        Kind::Regular
    } else {
        crate::err!("Input file {name} is of unsupported type!");
        return false;
    };
    let mut file = match opts.open(&*name) {
        Ok(f) => f,
        Err(e) => {
            crate::err!("Can't open input file {name} ({e})");
            return false;
        }
    };
    // The identity of what was really opened, not of what the name pointed to a moment ago.
    let meta = file.metadata().unwrap_or(meta);
    src.dev = meta.dev();
    src.ino = meta.ino();
    src.kind = kind;
    src.fifo = kind == Kind::Pipe;
    if kind == Kind::Regular {
        src.pos = seek_to(&mut file, &name, start);
    }
    src.file = Some(file);
    true
}

/// Why [`fill`] stopped reading.
#[derive(Debug, PartialEq, Eq)]
enum Stop {
    /// The data read contains a `\n`.
    Line,
    /// Nothing more to read just now (a pipe with no data).
    Again,
    /// End of file (regular file), or no writers left (pipe).
    Eof,
    /// A read error; the source has been closed.
    Error,
}

/// The smallest read from a regular file.
const REGULAR_BLOCK: usize = 64 << 10;

/// Reads blocks (of `blocksize` bytes from pipes, larger from regular files) from `src`
/// without blocking until a block brings a `\n`, or nothing more can be read. Returns
/// whether any bytes came, and why it stopped. With `drain`, reads on to EOF even past
/// newlines (used to empty a rotated file before switching).
fn fill(src: &mut Source, blocksize: usize, drain: bool) -> (bool, Stop) {
    let mut got = false;
    loop {
        let Some(file) = src.file.as_mut() else {
            return (got, Stop::Error);
        };
        if src.kind == Kind::Pipe {
            let mut fds = [PollFd::new(file.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, PollTimeout::ZERO) {
                Ok(0) | Err(Errno::EINTR) => return (got, Stop::Again),
                Ok(_) => {} // readable, hung up or in error: the read tells which
                Err(e) => {
                    crate::err!("Can't poll input file {} ({e}), closing it", src.name);
                    src.close();
                    return (got, Stop::Error);
                }
            }
        }
        // A regular file is read in large blocks: how much one read() takes is not
        // visible in what rsec does (lines are returned one by one either way), and fewer
        // system calls matter when a day of logs is replayed. Pipes keep --blocksize.
        let want = match src.kind {
            Kind::Regular => blocksize.max(REGULAR_BLOCK),
            Kind::Pipe => blocksize.max(1),
        };
        match src.buf.read_from(file, want) {
            Ok(0) => return (got, Stop::Eof),
            Ok(n) => {
                got = true;
                src.pos += n as u64;
                if !drain && src.buf.last_has_newline(n) {
                    return (got, Stop::Line);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return (got, Stop::Again),
            Err(e) => {
                crate::err!("Can't read input file {} ({e}), closing it", src.name);
                src.close();
                return (got, Stop::Error);
            }
        }
    }
}

/// What one poll of a source produced.
#[derive(Debug, Default)]
struct Polled {
    /// At most one line (SEC's one line per source per round).
    line: Option<Vec<u8>>,
    /// Bytes arrived (for `--input-timeout`).
    data: bool,
}

/// Polls one source for one line: from the buffer if a complete line is there, otherwise
/// by reading; handles reopening, EOF, rotation and truncation on the way.
fn poll_source(cfg: &InputConfig, src: &mut Source, spare: &mut Vec<Vec<u8>>, now: u64) -> Polled {
    let mut out = Polled::default();
    if let Some(line) = src.buf.next_line(spare) {
        out.line = Some(line);
        return out;
    }
    if src.file.is_none() {
        if src.done
            || !cfg.tail
            || cfg.reopen_timeout == 0
            || src.is_stdin()
            || now < src.next_reopen
        {
            return out;
        }
        crate::debug!("Attempting to (re)open {}", src.name);
        if !open_source(cfg, src, StartAt::Beginning) {
            src.next_reopen = now + cfg.reopen_timeout;
            return out;
        }
    }
    if cfg.check_timeout > 0 && now < src.next_check {
        return out;
    }
    // At most one switch to a new file (rotation or truncation) per poll.
    for attempt in 0..2 {
        let (got, stop) = fill(src, cfg.blocksize, false);
        out.data |= got;
        if let Some(line) = src.buf.next_line(spare) {
            out.line = Some(line);
            return out;
        }
        match stop {
            Stop::Line | Stop::Again => break,
            Stop::Error => {
                src.next_reopen = now + cfg.reopen_timeout;
                return out;
            }
            Stop::Eof if src.kind == Kind::Pipe => {
                crate::debug!("No writers on input pipe {}, closing the pipe", src.name);
                src.close();
                out.line = src.buf.take_rest();
                if src.fifo && cfg.tail {
                    crate::debug!("Reopening input pipe {}", src.name);
                    if !open_source(cfg, src, StartAt::Beginning) {
                        src.next_reopen = now + cfg.reopen_timeout;
                    }
                } else {
                    src.done = true;
                }
                return out;
            }
            Stop::Eof if !cfg.tail => {
                src.close();
                src.done = true;
                // With --state an unterminated last line waits for the next run.
                if !cfg.hold_partial {
                    out.line = src.buf.take_rest();
                }
                return out;
            }
            Stop::Eof => {
                if src.is_stdin() || attempt > 0 || !rotated(cfg, src) {
                    break;
                }
                out.data = true;
            }
        }
    }
    if !out.data {
        src.next_check = now + cfg.check_timeout;
    }
    out
}

/// At EOF of a followed regular file: checks whether its name now points to another file
/// (recreated) or the file shrank below our offset (truncated). If so, reads what is left
/// in the old file, then reopens the name from its start; the partial-line buffer carries
/// over, as in SEC. Returns whether it switched.
fn rotated(cfg: &InputConfig, src: &mut Source) -> bool {
    let Ok(meta) = std::fs::metadata(&*src.name) else {
        // Removed: keep reading the open inode until the name comes back.
        return false;
    };
    if (meta.dev(), meta.ino()) != (src.dev, src.ino) {
        // Lines written to the old file between our EOF read and the rename are still there.
        let _ = fill(src, cfg.blocksize, true);
        crate::notice!("Input file {} has been recreated", src.name);
    } else if meta.len() < src.pos {
        crate::notice!("Input file {} has been truncated", src.name);
    } else {
        return false;
    }
    crate::notice!("Reopening {} and processing from the start", src.name);
    open_source(cfg, src, StartAt::Beginning)
}

impl Inputs {
    /// Expands the `--input` patterns and opens every file, in sorted name order. In tail mode
    /// files are read from their end unless `fromstart`; with `--notail` from the start.
    /// Files that cannot be opened stay in the list, closed (retried per `--reopen-timeout`).
    pub fn open(cfg: InputConfig) -> Inputs {
        Self::open_with_positions(cfg, &[])
    }

    /// Like [`Inputs::open`], but a file whose name, device and inode match a saved
    /// [`Position`] (from [`Inputs::positions`]) and which is still at least that long is
    /// read from the saved offset instead.
    pub fn open_with_positions(cfg: InputConfig, saved: &[Position]) -> Inputs {
        let start = if !cfg.tail || cfg.fromstart {
            StartAt::Beginning
        } else {
            StartAt::End
        };
        let mut inputs = Inputs {
            spare: Vec::new(),
            cfg,
            sources: BTreeMap::new(),
            pending: VecDeque::new(),
            children: Vec::new(),
        };
        inputs.open_patterns(start, saved);
        inputs
    }

    /// Builds and opens the sources named by the configured patterns.
    fn open_patterns(&mut self, start: StartAt, saved: &[Position]) {
        let now = now_secs();
        for (name, ctx) in expand(&self.cfg.patterns) {
            let mut src = Source::new(&name, ctx.as_deref(), false, now);
            let at = resume_offset(&name, saved).unwrap_or(start);
            crate::notice!("Opening input file {name}");
            if !open_source(&self.cfg, &mut src, at) {
                src.next_reopen = now + self.cfg.reopen_timeout;
            }
            self.sources.insert(name, src);
        }
    }

    /// Returns the next complete line in SEC's order, or `None` when no source has one now.
    ///
    /// Lines come in rounds: each round polls every source once in sorted name order and
    /// takes at most one line from each. Never blocks; I/O errors are logged and the source
    /// is closed (and retried per `--reopen-timeout`).
    pub fn read_line(&mut self) -> Option<InputLine> {
        if let Some(line) = self.read_buffered() {
            return Some(line);
        }
        let now = now_secs();
        self.reap_children();
        self.round(now);
        self.check_input_timeouts(now);
        self.pending.pop_front()
    }

    /// The next line when it can be had without reading, polling or looking at the clock:
    /// a line read earlier, or a complete line in a single source's buffer.
    pub fn read_buffered(&mut self) -> Option<InputLine> {
        if let Some(line) = self.pending.pop_front() {
            return Some(line);
        }
        // One source with a complete line buffered: what a round would return, without
        // the round (the clock, timeouts and children are looked at when it runs dry).
        if self.sources.len() == 1 {
            if let Some(src) = self.sources.values_mut().next() {
                if let Some(line) = src.buf.next_line(&mut self.spare) {
                    return Some(InputLine {
                        line,
                        source: src.name.clone(),
                        context: src.ctx.clone(),
                    });
                }
            }
        }
        None
    }

    /// Hands a line's buffer back for reuse by a later line (no allocation per line).
    pub fn recycle(&mut self, mut line: Vec<u8>) {
        if self.spare.len() < 16 {
            line.clear();
            self.spare.push(line);
        }
    }

    /// One round over all sources.
    fn round(&mut self, now: u64) {
        let mut resumed = Vec::new();
        let Inputs {
            cfg,
            sources,
            pending,
            spare,
            ..
        } = self;
        for src in sources.values_mut() {
            let polled = poll_source(cfg, src, spare, now);
            if polled.data {
                src.last_data = now;
                if src.timed_out {
                    src.timed_out = false;
                    resumed.push(src.name.clone());
                }
            }
            if let Some(line) = polled.line {
                pending.push_back(InputLine {
                    line,
                    source: src.name.clone(),
                    context: src.ctx.clone(),
                });
            }
        }
        for name in resumed {
            self.run_timeout_script(false, &name);
        }
    }

    /// `--input-timeout`: runs the script with `1 FILE` for every source silent for too long.
    fn check_input_timeouts(&mut self, now: u64) {
        if self.cfg.input_timeout == 0 || self.cfg.timeout_script.is_none() {
            return;
        }
        let mut silent = Vec::new();
        for src in self.sources.values_mut() {
            if !src.timed_out && now >= src.last_data + self.cfg.input_timeout {
                src.timed_out = true;
                silent.push(src.name.clone());
            }
        }
        for name in silent {
            self.run_timeout_script(true, &name);
        }
    }

    /// Starts the timeout script (no shell) with `1 FILE` or `0 FILE`.
    fn run_timeout_script(&mut self, silent: bool, name: &str) {
        let Some(script) = self.cfg.timeout_script.clone() else {
            return;
        };
        let flag = if silent { "1" } else { "0" };
        let cmdline = format!("{script} {flag} {name}");
        if silent {
            crate::info!("No input, executing script {cmdline}");
        } else {
            crate::info!("Input received, executing script {cmdline}");
        }
        // stdin is not passed on: it may be one of our inputs.
        match Command::new(&script)
            .arg(flag)
            .arg(name)
            .stdin(Stdio::null())
            .spawn()
        {
            Ok(child) => {
                crate::debug!("Child {} created for command '{cmdline}'", child.id());
                self.children.push((child, cmdline));
            }
            Err(e) => crate::err!("Can't execute script {cmdline} ({e})"),
        }
    }

    /// Collects finished timeout-script children, warning about failures as SEC does.
    fn reap_children(&mut self) {
        self.children
            .retain_mut(|(child, cmdline)| match child.try_wait() {
                Ok(None) => true,
                Ok(Some(status)) => {
                    if let Some(code) = status.code().filter(|&c| c != 0) {
                        crate::warn!(
                            "Child {} terminated with non-zero exitcode {code} ( {cmdline} )",
                            child.id()
                        );
                    }
                    false
                }
                // Someone else (a global SIGCHLD reaper) collected it.
                Err(_) => false,
            });
    }

    /// With `--notail`: true when every input has reached EOF (or could not be opened) and
    /// been closed, and no line read is still waiting. Always false in tail mode, where SEC
    /// never stops because of its inputs.
    pub fn all_closed(&self) -> bool {
        !self.cfg.tail
            && self.pending.is_empty()
            && self
                .sources
                .values()
                .all(|s| s.file.is_none() && (s.buf.len() == 0 || s.done))
    }

    /// How long the caller may sleep before calling [`Inputs::read_line`] again after it
    /// returned `None`: zero when complete lines are already buffered, else `poll_timeout`
    /// (`--poll-timeout`); sources are polled, so there is nothing better to wait on.
    pub fn poll_timeout_hint(&self, poll_timeout: Duration) -> Duration {
        if !self.pending.is_empty() || self.sources.values().any(|s| s.buf.has_line()) {
            Duration::ZERO
        } else {
            poll_timeout
        }
    }

    /// The `addinput` action: adds `file` to the inputs and opens it at `offset` (`-` for EOF,
    /// else a byte offset; SEC's default is `-`), with internal context `ctx` (`None`: the
    /// default `_FILE_EVENT_<file>`). A file that cannot be opened stays in the list, closed.
    /// Returns false (with SEC's warning) when the file is already an input or the offset is
    /// not valid.
    pub fn add_input(&mut self, file: &str, offset: &str, ctx: Option<&str>) -> bool {
        let shown = ctx.map_or_else(|| format!("_FILE_EVENT_{file}"), str::to_string);
        crate::debug!(
            "Adding dynamic input file '{file}' with context '{shown}' to the list of inputs"
        );
        if let Some(src) = self.sources.get(file) {
            if src.dynamic {
                crate::warn!(
                    "Dynamic input file '{file}' already exists in the list of inputs, can't add"
                );
            } else {
                crate::warn!("Input file '{file}' already exists in the list of inputs, can't add");
            }
            return false;
        }
        let Some(start) = StartAt::parse(offset) else {
            crate::warn!("Invalid offset '{offset}' for dynamic input file '{file}', can't add");
            return false;
        };
        match start {
            StartAt::Offset(n) => {
                crate::debug!("Opening input file '{file}' and seeking offset '{n}'")
            }
            _ => crate::debug!("Opening input file '{file}' and seeking EOF"),
        }
        let now = now_secs();
        let mut src = Source::new(file, ctx, true, now);
        if !open_source(&self.cfg, &mut src, start) {
            src.next_reopen = now + self.cfg.reopen_timeout;
        }
        self.sources.insert(file.to_string(), src);
        true
    }

    /// The `dropinput` action: closes `file` and removes it from the inputs. Only files added
    /// with [`Inputs::add_input`] can be dropped; returns false (with SEC's warning) otherwise.
    pub fn drop_input(&mut self, file: &str) -> bool {
        crate::debug!("Dropping dynamic input file '{file}' from the list of inputs");
        if self.sources.get(file).is_some_and(|s| s.dynamic) {
            self.sources.remove(file);
            true
        } else {
            crate::warn!("Dynamic input file '{file}' not found, can't drop");
            false
        }
    }

    /// SIGHUP with an unchanged command line: see [`Inputs::restart`].
    pub fn reopen_all(&mut self) {
        let cfg = self.cfg.clone();
        self.restart(cfg);
    }

    /// Full restart (SIGHUP): closes every input, forgets `addinput` files and partial
    /// lines, re-expands the (possibly new) patterns and opens everything again — at EOF in
    /// tail mode (`--fromstart` is not applied again), from the start with `--notail`.
    pub fn restart(&mut self, cfg: InputConfig) {
        self.sources.clear();
        self.cfg = cfg;
        let start = if self.cfg.tail {
            StartAt::End
        } else {
            StartAt::Beginning
        };
        self.open_patterns(start, &[]);
    }

    /// Soft restart (SIGABRT): re-expands the patterns; with `keepopen` (`--keepopen`, SEC's
    /// default) inputs already open stay open where they are, otherwise every input is
    /// reopened as in [`Inputs::restart`]. `addinput` files are kept; files no longer named
    /// by any pattern are closed.
    pub fn soft_restart(&mut self, cfg: InputConfig, keepopen: bool) {
        self.cfg = cfg;
        let start = if self.cfg.tail {
            StartAt::End
        } else {
            StartAt::Beginning
        };
        let now = now_secs();
        let wanted = expand(&self.cfg.patterns);
        self.sources
            .retain(|name, src| src.dynamic || wanted.contains_key(name));
        // A dynamic input keeps its own context; a name the patterns now give takes theirs.
        let mut names: Vec<(String, Option<Option<String>>)> = self
            .sources
            .iter()
            .filter(|(name, src)| src.dynamic && !wanted.contains_key(*name))
            .map(|(name, _)| (name.clone(), None))
            .collect();
        names.extend(wanted.into_iter().map(|(n, c)| (n, Some(c))));
        names.sort();
        for (name, ctx) in names {
            let src = self
                .sources
                .entry(name.clone())
                .or_insert_with(|| Source::new(&name, None, false, now));
            if let Some(ctx) = ctx {
                src.ctx = ctx.as_deref().map(Src::from);
            }
            crate::notice!("Opening input file {name}");
            if keepopen && src.file.is_some() {
                crate::debug!("Input file {name} already open");
                continue;
            }
            src.buf.clear();
            src.done = false;
            if !open_source(&self.cfg, src, start) {
                src.next_reopen = now + self.cfg.reopen_timeout;
            }
        }
    }

    /// The read positions of open regular files, for saving state: name, device, inode and
    /// the offset of the first byte not yet returned (a buffered partial line is read again
    /// when resuming there).
    pub fn positions(&self) -> Vec<Position> {
        self.sources
            .values()
            .filter(|s| s.file.is_some() && s.kind == Kind::Regular)
            .map(Source::position)
            .collect()
    }

    /// The read positions to save in a state file: those of [`Inputs::positions`], and
    /// also of regular files closed at EOF with `--notail` (where the next batch run goes
    /// on).
    pub fn saved_positions(&self) -> Vec<Position> {
        self.sources
            .values()
            .filter(|s| (s.file.is_some() || s.done) && s.kind == Kind::Regular)
            .filter(|s| (s.dev, s.ino) != (0, 0) && !s.is_stdin())
            .map(Source::position)
            .collect()
    }

    /// Moves an open regular input to byte `offset`, dropping what was buffered for it.
    /// Returns false if `file` is not an open regular input or the seek fails.
    pub fn seek_input(&mut self, file: &str, offset: u64) -> bool {
        let Some(src) = self.sources.get_mut(file) else {
            return false;
        };
        if src.kind != Kind::Regular {
            return false;
        }
        let Some(f) = src.file.as_mut() else {
            return false;
        };
        match f.seek(SeekFrom::Start(offset)) {
            Ok(p) => {
                src.pos = p;
                src.buf.clear();
                true
            }
            Err(e) => {
                crate::err!("Can't seek input file {file} ({e})");
                false
            }
        }
    }

    /// The input file names in the order they are read (sorted), with whether each is open.
    pub fn sources(&self) -> Vec<(String, bool)> {
        self.sources
            .iter()
            .map(|(n, s)| (n.clone(), s.file.is_some()))
            .collect()
    }

    /// The configuration in force.
    pub fn config(&self) -> &InputConfig {
        &self.cfg
    }
}

/// The saved offset for `name`, if the file is still the same one and long enough.
fn resume_offset(name: &str, saved: &[Position]) -> Option<StartAt> {
    let (_, dev, ino, off) = saved.iter().find(|p| p.0 == name)?;
    let meta = std::fs::metadata(name).ok()?;
    (meta.is_file() && meta.dev() == *dev && meta.ino() == *ino && meta.len() >= *off)
        .then_some(StartAt::Offset(*off))
}

#[cfg(test)]
mod tests {
    use super::*;

    impl LineBuf {
        fn push(&mut self, bytes: &[u8]) {
            assert_eq!(
                self.read_from(&mut &bytes[..], bytes.len()).ok(),
                Some(bytes.len())
            );
        }
    }

    #[test]
    fn linebuf_compacts_and_loses_nothing() {
        let text: Vec<u8> = (0..500)
            .flat_map(|i| format!("line {i} {}\n", "x".repeat(i % 37)).into_bytes())
            .collect();
        for block in [1, 7, 64, 1000] {
            let mut b = LineBuf::default();
            let mut r = &text[..];
            let mut out = Vec::new();
            loop {
                match b.read_from(&mut r, block) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) => panic!("{e}"),
                }
                while let Some(l) = b.next_line(&mut Vec::new()) {
                    out.extend_from_slice(&l);
                    out.push(b'\n');
                }
            }
            assert_eq!(out, text, "block {block}");
            assert_eq!(b.len(), 0);
        }
    }

    #[test]
    fn linebuf_splits_and_keeps_partials() {
        let mut b = LineBuf::default();
        b.push(b"ab");
        assert_eq!(b.next_line(&mut Vec::new()), None);
        b.push(b"c\nd\n\ne");
        assert_eq!(b.next_line(&mut Vec::new()).as_deref(), Some(&b"abc"[..]));
        assert_eq!(b.next_line(&mut Vec::new()).as_deref(), Some(&b"d"[..]));
        assert!(b.has_line());
        assert_eq!(b.next_line(&mut Vec::new()).as_deref(), Some(&b""[..]));
        assert_eq!(b.next_line(&mut Vec::new()), None);
        assert_eq!(b.len(), 1);
        b.push(b"f\r\n");
        assert_eq!(b.next_line(&mut Vec::new()).as_deref(), Some(&b"ef\r"[..]));
        assert_eq!(b.take_rest(), None);
    }

    #[test]
    fn start_at_parse() {
        assert_eq!(StartAt::parse("-"), Some(StartAt::End));
        assert_eq!(StartAt::parse("0"), Some(StartAt::Offset(0)));
        assert_eq!(StartAt::parse("123"), Some(StartAt::Offset(123)));
        assert_eq!(StartAt::parse("+1"), None);
        assert_eq!(StartAt::parse(""), None);
    }
}
