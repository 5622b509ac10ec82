//! A bridge to a real `perl` for code outside the native subset.
//!
//! This module owns the `perl` child process and its protocol; it must not know about
//! rules, events or the engine (callers in `engine::perl`, `config::perlcode` and
//! `pattern::regex` decide *when* to use it). The child runs the small server in
//! `bridge.pl`, started on first need and shared by the whole process: user code is
//! evaluated in package `main::SEC`, so package variables persist across snippets as they
//! do in SEC. If perl dies, the failure is logged and a new server is started on the next
//! request (its globals and code references are gone; [`generation`] tells callers).
//!
//! # Protocol
//!
//! Requests go to the child's standard input, answers come back on its file descriptor 3;
//! its standard output and standard error are rsec's, so what bridged code prints reaches
//! rsec's standard output (rsec flushes its own standard output before each request and
//! the server flushes its standard output before each answer, which keeps the order).
//! Every message is a 4-byte big-endian length and a body; strings are a 4-byte length and
//! bytes, so everything is binary-safe. Values are tagged: `U` undef, `S` string, `A`
//! array reference (string form, count, elements), `H` hash reference (string form, count,
//! key/value pairs), `C` code reference (string form, handle; the sub stays in the
//! server), `R` any other reference (string form). Nesting is serialised to depth 8.
//!
//! Requests: `E ctx code` evaluates a string (`ctx` is `S` or `L`), `K ctx handle n args`
//! calls a code reference, `F handle` frees one, `R pattern` compiles a regex (answers its
//! group count), `M pattern subject` matches (answers `Y n` and `n` pairs of offsets, with
//! `0xFFFFFFFF` for a group that did not take part, or `N`), and `T time` (8 bytes, signed
//! big-endian; no answer), sent before a request in event mode, sets what `time()` and
//! argument-less `localtime`/`gmtime` return. Answers: `O n values`,
//! `E message` (`$@`), `X status` (the code called `exit`).
//!
//! The perl program is `perl` from `PATH`, or the one named by the `RSEC_PERL` environment
//! variable.

use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

const SERVER: &str = include_str!("bridge.pl");

/// A value that crossed the bridge.
#[derive(Clone, Debug, PartialEq)]
pub enum BValue {
    /// undef.
    Undef,
    /// A string (numbers travel as their Perl string form).
    Str(Vec<u8>),
    /// An array reference: its string form (`ARRAY(0x...)`) and elements.
    Array(String, Vec<BValue>),
    /// A hash reference: its string form and key/value pairs (sorted by key).
    Hash(String, Vec<(Vec<u8>, BValue)>),
    /// A code reference kept in the server: its string form, handle and the
    /// [`generation`] of the server that holds it.
    Code(String, u32, u64),
    /// Any other reference (or one nested too deep), by its string form.
    Ref(String),
}

impl BValue {
    /// A string value.
    pub fn str(s: impl Into<Vec<u8>>) -> BValue {
        BValue::Str(s.into())
    }

    /// Perl's truth of the value.
    pub fn truthy(&self) -> bool {
        match self {
            BValue::Undef => false,
            BValue::Str(s) => !(s.is_empty() || s == b"0"),
            _ => true,
        }
    }

    /// The string form, None for undef.
    pub fn to_bytes(&self) -> Option<Vec<u8>> {
        match self {
            BValue::Undef => None,
            BValue::Str(s) => Some(s.clone()),
            BValue::Array(s, _) | BValue::Hash(s, _) | BValue::Code(s, ..) | BValue::Ref(s) => {
                Some(s.clone().into_bytes())
            }
        }
    }

    /// True for references.
    pub fn is_ref(&self) -> bool {
        !matches!(self, BValue::Undef | BValue::Str(_))
    }
}

/// Why a bridge request failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BError {
    /// The code died (`$@`, without its final newline).
    Die(String),
    /// The code called `exit` with this status.
    Exit(i32),
    /// perl could not be run, or the server died.
    Unavailable(String),
}

impl std::fmt::Display for BError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BError::Die(m) | BError::Unavailable(m) => f.write_str(m),
            BError::Exit(c) => write!(f, "exit({c})"),
        }
    }
}

/// Evaluation context of a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ctx {
    /// Scalar context.
    Scalar,
    /// List context.
    List,
}

struct Server {
    child: Child,
    req: ChildStdin,
    /// Non-blocking, read through [`AnswerReader`].
    resp: AnswerReader,
}

/// How long rsec polls for an answer before it sleeps, and (in `bridge.pl`) how long the
/// server polls for the next request after an answer.
///
/// A pipe round trip between two sleeping processes costs two wake-ups, which on a
/// virtual machine are tens of microseconds each (an idle vCPU halts and must be woken).
/// While both sides spin the round trip costs a few microseconds. Each spin round yields
/// the CPU (sched_yield), so that when both sides share one CPU the other runs at once
/// rather than after the whole spin. The spinning is bounded
/// and happens only right after traffic, so an idle bridge sleeps in poll(2) / select(2)
/// and burns no CPU; the price is up to this much CPU per request on each side.
/// `RSEC_BRIDGE_SPIN_US` overrides it (0 turns spinning off).
fn spin_budget() -> std::time::Duration {
    static SPIN: OnceLock<u64> = OnceLock::new();
    let us = *SPIN.get_or_init(|| {
        std::env::var("RSEC_BRIDGE_SPIN_US")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(DEFAULT_SPIN_US)
    });
    std::time::Duration::from_micros(us)
}

/// See [`spin_budget`].
const DEFAULT_SPIN_US: u64 = 100;

/// The answer pipe, non-blocking and buffered: an answer's length and body usually
/// arrive in one read.
struct AnswerReader {
    pipe: std::io::PipeReader,
    buf: Vec<u8>,
    pos: usize,
}

impl AnswerReader {
    fn new(pipe: std::io::PipeReader) -> std::io::Result<AnswerReader> {
        use std::os::fd::AsRawFd;
        let fd = pipe.as_raw_fd();
        // SAFETY: fcntl on a descriptor this struct owns.
        let ok = unsafe {
            let fl = libc::fcntl(fd, libc::F_GETFL);
            fl >= 0 && libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK) >= 0
        };
        if !ok {
            return Err(std::io::Error::last_os_error());
        }
        Ok(AnswerReader {
            pipe,
            buf: Vec::with_capacity(8192),
            pos: 0,
        })
    }

    /// Reads more bytes into the buffer: spins (bounded by `until`) while none are there,
    /// then sleeps in poll(2).
    fn fill(&mut self, until: &mut Option<std::time::Instant>) -> std::io::Result<()> {
        use std::io::ErrorKind;
        use std::os::fd::AsFd;
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        }
        let mut chunk = [0u8; 8192];
        loop {
            match self.pipe.read(&mut chunk) {
                Ok(0) => return Err(ErrorKind::UnexpectedEof.into()),
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Ok(());
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    let now = std::time::Instant::now();
                    let deadline = *until.get_or_insert_with(|| now + spin_budget());
                    if now < deadline {
                        // yield, not just spin: if perl waits for this CPU, it runs now
                        std::thread::yield_now();
                        continue;
                    }
                    let mut fds = [nix::poll::PollFd::new(
                        self.pipe.as_fd(),
                        nix::poll::PollFlags::POLLIN,
                    )];
                    match nix::poll::poll(&mut fds, nix::poll::PollTimeout::NONE) {
                        Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads exactly `out.len()` bytes.
    fn read_exact(
        &mut self,
        out: &mut [u8],
        until: &mut Option<std::time::Instant>,
    ) -> std::io::Result<()> {
        let mut done = 0;
        while done < out.len() {
            if self.pos == self.buf.len() {
                self.fill(until)?;
            }
            let n = (self.buf.len() - self.pos).min(out.len() - done);
            out[done..done + n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
            self.pos += n;
            done += n;
        }
        Ok(())
    }
}

static SERVER_PROC: Mutex<Option<Server>> = Mutex::new(None);
static REGEX_FALLBACK: AtomicBool = AtomicBool::new(true);

/// Whether regexes that rsec's engines refuse are handed to perl (`--perl=auto`, the
/// default); set when rule files are loaded.
pub fn set_regex_fallback(on: bool) {
    REGEX_FALLBACK.store(on, Ordering::SeqCst);
}

/// See [`set_regex_fallback`].
pub fn regex_fallback() -> bool {
    REGEX_FALLBACK.load(Ordering::SeqCst)
}
static GENERATION: AtomicU64 = AtomicU64::new(0);

/// The perl program to run: `$RSEC_PERL`, or `perl` from `PATH`.
pub fn perl_program() -> String {
    std::env::var("RSEC_PERL").unwrap_or_else(|_| "perl".to_string())
}

/// True if a perl interpreter can be run (checked once).
pub fn perl_available() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| {
        Command::new(perl_program())
            .args(["-e", "exit 0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// The number of the current server: code handles from another generation are stale.
/// It changes each time a server is started.
pub fn generation() -> u64 {
    GENERATION.load(Ordering::SeqCst)
}

fn start() -> Result<Server, String> {
    let (resp, writer) = std::io::pipe().map_err(|e| format!("can't create a pipe: {e}"))?;
    let resp = AnswerReader::new(resp).map_err(|e| format!("can't set up the answer pipe: {e}"))?;
    let mut cmd = Command::new(perl_program());
    cmd.args(["-w", "-e", SERVER])
        .stdin(Stdio::piped())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        // its own process group: a terminal's ^C or ^\ is for rsec, not for the server
        .process_group(0);
    {
        use std::os::fd::AsRawFd;
        let fd = writer.as_raw_fd();
        // SAFETY: only async-signal-safe calls (dup2/fcntl) between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                if fd == 3 {
                    let flags = libc::fcntl(3, libc::F_GETFD);
                    libc::fcntl(3, libc::F_SETFD, flags & !libc::FD_CLOEXEC);
                } else if libc::dup2(fd, 3) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("can't run {}: {e}", perl_program()))?;
    drop(writer);
    let req = child.stdin.take().ok_or("no stdin pipe")?;
    GENERATION.fetch_add(1, Ordering::SeqCst);
    crate::debug!("Started the Perl bridge (pid {})", child.id());
    Ok(Server { child, req, resp })
}

fn put_str(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(&(s.len() as u32).to_be_bytes());
    out.extend_from_slice(s);
}

fn put_value(out: &mut Vec<u8>, v: &BValue) {
    match v {
        BValue::Undef => out.push(b'U'),
        BValue::Str(s) => {
            out.push(b'S');
            put_str(out, s);
        }
        BValue::Array(_, items) => {
            out.push(b'A');
            out.extend_from_slice(&(items.len() as u32).to_be_bytes());
            for i in items {
                put_value(out, i);
            }
        }
        BValue::Hash(_, items) => {
            out.push(b'H');
            out.extend_from_slice(&(items.len() as u32).to_be_bytes());
            for (k, i) in items {
                put_str(out, k);
                put_value(out, i);
            }
        }
        BValue::Code(_, h, g) if *g == generation() => {
            out.push(b'C');
            out.extend_from_slice(&h.to_be_bytes());
        }
        BValue::Code(s, ..) | BValue::Ref(s) => {
            out.push(b'S');
            put_str(out, s.as_bytes());
        }
    }
}

/// A reader of an answer body.
struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    gen: u64,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], String> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        let end = end.ok_or("truncated answer from the Perl bridge")?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn bytes(&mut self) -> Result<Vec<u8>, String> {
        let n = self.u32()? as usize;
        Ok(self.take(n)?.to_vec())
    }
    fn string(&mut self) -> Result<String, String> {
        Ok(String::from_utf8_lossy(&self.bytes()?).into_owned())
    }
    fn value(&mut self) -> Result<BValue, String> {
        let tag = self.take(1)?[0];
        Ok(match tag {
            b'U' => BValue::Undef,
            b'S' => BValue::Str(self.bytes()?),
            b'A' => {
                let s = self.string()?;
                let n = self.u32()?;
                let mut items = Vec::new();
                for _ in 0..n {
                    items.push(self.value()?);
                }
                BValue::Array(s, items)
            }
            b'H' => {
                let s = self.string()?;
                let n = self.u32()?;
                let mut items = Vec::new();
                for _ in 0..n {
                    let k = self.bytes()?;
                    items.push((k, self.value()?));
                }
                BValue::Hash(s, items)
            }
            b'C' => {
                let s = self.string()?;
                BValue::Code(s, self.u32()?, self.gen)
            }
            b'R' => BValue::Ref(self.string()?),
            t => return Err(format!("bad value tag {t} from the Perl bridge")),
        })
    }
}

/// Sends one request and returns the answer body; starts the server if needed, and drops
/// it (logged) if it fails.
fn request(body: &[u8]) -> Result<(Vec<u8>, u64), BError> {
    let mut guard = SERVER_PROC.lock().unwrap_or_else(|p| p.into_inner());
    if guard.is_none() {
        if !perl_available() {
            return Err(BError::Unavailable(format!(
                "perl is not installed ({} can't be run)",
                perl_program()
            )));
        }
        let s = start().map_err(|e| {
            crate::err!("Can't start the Perl bridge: {e}");
            BError::Unavailable(e)
        })?;
        *guard = Some(s);
    }
    let server = guard.as_mut().expect("started above");
    let _ = std::io::stdout().flush();
    let event_now = crate::perl::event_now();
    let exchange = |s: &mut Server| -> std::io::Result<Vec<u8>> {
        let mut msg = Vec::with_capacity(body.len() + 17);
        if let Some(t) = event_now {
            // 'T': the time time() returns from now on (no answer).
            msg.extend_from_slice(&9u32.to_be_bytes());
            msg.push(b'T');
            msg.extend_from_slice(&t.to_be_bytes());
        }
        msg.extend_from_slice(&(body.len() as u32).to_be_bytes());
        msg.extend_from_slice(body);
        s.req.write_all(&msg)?;
        s.req.flush()?;
        let mut until = None;
        let mut len = [0u8; 4];
        s.resp.read_exact(&mut len, &mut until)?;
        let mut answer = vec![0u8; u32::from_be_bytes(len) as usize];
        s.resp.read_exact(&mut answer, &mut until)?;
        Ok(answer)
    };
    match exchange(server) {
        Ok(a) => Ok((a, generation())),
        Err(e) => {
            let mut s = guard.take().expect("present");
            let _ = s.child.kill();
            let status = s.child.wait().map(|st| st.to_string()).unwrap_or_default();
            let msg = format!("the Perl bridge died ({e}; {status}); it restarts on next need");
            crate::err!("{msg}");
            Err(BError::Unavailable(msg))
        }
    }
}

fn ctx_byte(ctx: Ctx) -> u8 {
    match ctx {
        Ctx::Scalar => b'S',
        Ctx::List => b'L',
    }
}

fn values_answer(a: &[u8], gen: u64) -> Result<Vec<BValue>, BError> {
    let mut r = Reader {
        buf: a,
        pos: 1,
        gen,
    };
    let bad = BError::Unavailable;
    match a.first() {
        Some(b'O') => {
            let n = r.u32().map_err(bad)?;
            let mut out = Vec::with_capacity(n as usize);
            for _ in 0..n {
                out.push(r.value().map_err(bad)?);
            }
            Ok(out)
        }
        Some(b'E') => {
            let m = r.string().map_err(bad)?;
            Err(BError::Die(m.trim_end_matches('\n').to_string()))
        }
        Some(b'X') => Err(BError::Exit(r.u32().map_err(bad)? as i32)),
        _ => Err(bad("bad answer from the Perl bridge".into())),
    }
}

/// Evaluates `code` (Perl's string `eval`, in package `main::SEC`) in `ctx`.
pub fn eval(code: &[u8], ctx: Ctx) -> Result<Vec<BValue>, BError> {
    let mut body = vec![b'E', ctx_byte(ctx)];
    put_value(&mut body, &BValue::Str(code.to_vec()));
    let (a, gen) = request(&body)?;
    values_answer(&a, gen)
}

/// Evaluates `code` in scalar context and returns the code reference it gives; Ok(Err(v))
/// with the value when it is not one.
pub fn compile(code: &[u8]) -> Result<Result<BValue, BValue>, BError> {
    let v = eval(code, Ctx::Scalar)?.into_iter().next();
    Ok(match v {
        Some(c @ BValue::Code(..)) => Ok(c),
        other => Err(other.unwrap_or(BValue::Undef)),
    })
}

/// Calls code reference `f` (a [`BValue::Code`]) with `args` in `ctx`.
pub fn call(f: &BValue, args: &[BValue], ctx: Ctx) -> Result<Vec<BValue>, BError> {
    let BValue::Code(_, handle, gen) = f else {
        return Err(BError::Die("Not a CODE reference".into()));
    };
    if *gen != generation() {
        return Err(BError::Die(
            "code reference lost when the Perl bridge restarted".into(),
        ));
    }
    let mut body = vec![b'K', ctx_byte(ctx)];
    body.extend_from_slice(&handle.to_be_bytes());
    body.extend_from_slice(&(args.len() as u32).to_be_bytes());
    for a in args {
        put_value(&mut body, a);
    }
    let (a, gen) = request(&body)?;
    values_answer(&a, gen)
}

/// Lets the server forget code reference `f`.
pub fn free(f: &BValue) {
    if let BValue::Code(_, handle, gen) = f {
        if *gen == generation() {
            let mut body = vec![b'F'];
            body.extend_from_slice(&handle.to_be_bytes());
            let _ = request(&body);
        }
    }
}

/// Compiles `pattern` with perl's `qr//`; gives its number of capture groups, or perl's
/// error message.
pub fn regex_compile(pattern: &[u8]) -> Result<usize, BError> {
    let mut body = vec![b'R'];
    put_value(&mut body, &BValue::Str(pattern.to_vec()));
    let (a, gen) = request(&body)?;
    match values_answer(&a, gen)?.first() {
        Some(BValue::Str(s)) => Ok(String::from_utf8_lossy(s).parse().unwrap_or(0)),
        _ => Err(BError::Unavailable(
            "bad answer from the Perl bridge".into(),
        )),
    }
}

/// Matches `subject` against `pattern` in perl: None for no match, else the offsets of
/// the whole match and of each group (None for a group that did not take part).
#[allow(clippy::type_complexity)]
pub fn regex_match(
    pattern: &[u8],
    subject: &[u8],
) -> Result<Option<Vec<Option<(usize, usize)>>>, BError> {
    let mut body = vec![b'M'];
    put_value(&mut body, &BValue::Str(pattern.to_vec()));
    put_value(&mut body, &BValue::Str(subject.to_vec()));
    let (a, gen) = request(&body)?;
    match a.first() {
        Some(b'N') => Ok(None),
        Some(b'Y') => {
            let mut r = Reader {
                buf: &a,
                pos: 1,
                gen,
            };
            let bad = BError::Unavailable;
            let n = r.u32().map_err(bad)?;
            let mut locs = Vec::with_capacity(n as usize);
            for _ in 0..n {
                let s = r.u32().map_err(bad)?;
                let e = r.u32().map_err(bad)?;
                locs.push((s != u32::MAX).then_some((s as usize, e as usize)));
            }
            Ok(Some(locs))
        }
        _ => values_answer(&a, gen).map(|_| None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        if !perl_available() {
            return;
        }
        let r = eval(b"$bridge_t = 41; $bridge_t + 1", Ctx::Scalar).unwrap();
        assert_eq!(r, vec![BValue::str("42")]);
        let r = eval(b"($bridge_t, undef, [1, {a => 2}])", Ctx::List).unwrap();
        assert_eq!(r[0], BValue::str("41"));
        assert_eq!(r[1], BValue::Undef);
        assert!(matches!(&r[2], BValue::Array(_, v) if v.len() == 2));
        let f = compile(b"sub { join ',', map { defined $_ ? (ref $_ ? ref $_ : $_) : 'u' } @_ }")
            .unwrap()
            .unwrap();
        let args = [
            BValue::str("a\0b"),
            BValue::Undef,
            BValue::Hash(String::new(), vec![(b"k".to_vec(), BValue::str("v"))]),
        ];
        let r = call(&f, &args, Ctx::Scalar).unwrap();
        assert_eq!(r, vec![BValue::str("a\0b,u,HASH")]);
        assert_eq!(
            eval(b"die \"boom\\n\"", Ctx::Scalar),
            Err(BError::Die("boom".into()))
        );
        assert_eq!(eval(b"exit(3)", Ctx::Scalar), Err(BError::Exit(3)));
        assert_eq!(regex_compile(b"(a)(?1)").unwrap(), 1);
        assert_eq!(
            regex_match(b"(a)(?1)", b"xaa").unwrap(),
            Some(vec![Some((1, 3)), Some((1, 2))])
        );
        assert_eq!(regex_match(b"(a)(?1)", b"xa").unwrap(), None);
        assert!(matches!(regex_compile(b"(a"), Err(BError::Die(_))));
    }
}
