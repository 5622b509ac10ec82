//! The program's phases, in order: options, logging, rule files, compile, then the event
//! loop. `main.rs` calls [`run`]; this module wires the rooms together and owns nothing
//! else.

use std::ffi::OsString;
use std::io::{BufRead, Write};

use crate::io::input::{InputConfig, Inputs};
use std::sync::mpsc::{self, Receiver, Sender};
use std::time::Duration;

use crate::cli::{self, Command as CliCommand, Options};
use crate::config::action::{CloseKind, Command, WriteKind};
use crate::config::{self, LoadOptions, RuleFile};
use crate::engine::{compile, ChildMode, Effects, Engine, EngineOptions, WallClock};

/// Loads every rule file named by the `--conf` patterns, in order, skipping duplicates.
pub fn load_rule_files(patterns: &[String], opts: &LoadOptions) -> Vec<RuleFile> {
    let mut seen = std::collections::HashSet::new();
    let mut files = Vec::new();
    for pat in patterns {
        for name in crate::glob::glob(pat) {
            if seen.insert(name.clone()) {
                files.push(config::load_file(&name, opts));
            }
        }
    }
    files
}

/// Runs rsec with the given arguments (without the program name); returns the exit status.
pub fn run(mut args: Vec<OsString>) -> i32 {
    args.extend(cli::secrc_args());
    let (cmd, warnings) = match cli::parse_with_warnings(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    for w in &warnings {
        eprintln!("{w}");
    }
    let opts = match cmd {
        CliCommand::Help => {
            print!("{}", cli::usage());
            return 0;
        }
        CliCommand::Version => {
            print!("{}", cli::version());
            return 0;
        }
        CliCommand::Run(o) => o,
    };
    if let Err(e) = crate::logging::init(opts.debug, opts.log.as_deref()) {
        eprintln!(
            "Can't open logfile {} ({})",
            opts.log.as_deref().unwrap_or(""),
            config::io_reason(&e)
        );
        return 1;
    }
    crate::notice!(
        "SEC (Simple Event Correlator) {} (rsec {})",
        cli::SEC_VERSION,
        env!("CARGO_PKG_VERSION")
    );
    let load = LoadOptions {
        bufsize: opts.bufsize as usize,
        dialect: match opts.dialect {
            cli::Dialect::Sec => config::Dialect::Sec,
            cli::Dialect::Logzilla => config::Dialect::LogZilla,
        },
    };
    let files = load_rule_files(&opts.conf, &load);
    if opts.testonly {
        return if files.iter().all(|f| f.ok) { 0 } else { 1 };
    }
    let prog = compile::compile(&files, opts.bufsize as usize);
    let eopts = EngineOptions {
        jointbuf: opts.jointbuf.unwrap_or(prog.bufsize == 1),
        intcontexts: opts.intcontexts,
        intevents: opts.intevents,
        cleantime: opts.cleantime as i64,
        evstoresize: opts.evstoresize as usize,
        quoting: opts.quoting,
    };
    let (child_tx, child_rx) = mpsc::channel();
    let effects = BasicEffects::new(child_tx);
    let mut engine = Engine::new(prog, eopts, Box::new(WallClock), Box::new(effects));
    event_loop(&mut engine, &opts, child_rx)
}

/// What a child process reports back.
enum ChildEvent {
    Line(Vec<u8>, Vec<u8>),
    ScriptDone(u64, i32),
}

fn input_config(opts: &Options) -> InputConfig {
    InputConfig {
        patterns: opts
            .input
            .iter()
            .map(|spec| {
                let (pat, ctx) = cli::split_input_spec(spec);
                (pat.to_string(), ctx.map(str::to_string))
            })
            .collect(),
        tail: opts.tail,
        fromstart: opts.fromstart,
        reopen_timeout: opts.reopen_timeout,
        check_timeout: opts.check_timeout,
        blocksize: opts.blocksize.max(1) as usize,
        rwfifo: opts.rwfifo,
        input_timeout: opts.input_timeout,
        timeout_script: opts.timeout_script.clone(),
    }
}

fn event_loop(engine: &mut Engine, opts: &Options, children: Receiver<ChildEvent>) -> i32 {
    let mut inputs = Inputs::open(input_config(opts));
    let poll = Duration::from_secs_f64(opts.poll_timeout.max(0.0));
    engine.startup();
    loop {
        let mut child_data = false;
        if !engine.has_synthetic() {
            while let Ok(ev) = children.try_recv() {
                child_data = true;
                match ev {
                    ChildEvent::Line(line, ctx) => engine.push_synthetic(line, ctx),
                    ChildEvent::ScriptDone(token, status) => engine.script_finished(token, status),
                }
            }
        }
        if let Some((line, ctx)) = engine.next_synthetic() {
            engine.process(&line, None, Some(ctx));
        } else if let Some(l) = inputs.read_line() {
            let ctx = l.context.as_ref().map(|c| c.as_bytes().to_vec());
            engine.process(&l.line, Some(l.source), ctx);
        } else {
            if !opts.tail && inputs.all_closed() {
                engine.shutdown();
                return 0;
            }
            if !child_data {
                std::thread::sleep(inputs.poll_timeout_hint(poll));
            }
        }
        engine.maybe_tick();
        for s in engine.take_signals() {
            if s == crate::engine::Signal::Term {
                engine.shutdown();
                return 0;
            }
        }
    }
}

/// Minimal effects until the full output and child-process layer lands: standard output
/// and files (kept open), child processes run through threads.
struct BasicEffects {
    files: std::collections::HashMap<Vec<u8>, std::fs::File>,
    child_tx: Sender<ChildEvent>,
}

impl BasicEffects {
    fn new(child_tx: Sender<ChildEvent>) -> Self {
        Self {
            files: Default::default(),
            child_tx,
        }
    }
}

fn has_shell_meta(s: &[u8]) -> bool {
    s.iter().any(|c| b"$&*(){}[]'\";\\|?<>~`\n".contains(c))
}

fn to_os(b: &[u8]) -> OsString {
    use std::os::unix::ffi::OsStringExt;
    OsString::from_vec(b.to_vec())
}

impl Effects for BasicEffects {
    fn write(&mut self, kind: WriteKind, target: &[u8], text: &[u8]) {
        let mut data = text.to_vec();
        if kind == WriteKind::Write {
            data.push(b'\n');
        }
        if target == b"-" {
            let mut out = std::io::stdout().lock();
            let _ = out.write_all(&data);
            let _ = out.flush();
            return;
        }
        let path = to_os(target);
        if kind == WriteKind::Owritecl {
            if let Ok(mut f) = std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(&path)
            {
                let _ = f.write_all(&data);
            }
            return;
        }
        if !self.files.contains_key(target) {
            match std::fs::OpenOptions::new()
                .append(true)
                .create(true)
                .open(&path)
            {
                Ok(f) => {
                    self.files.insert(target.to_vec(), f);
                }
                Err(e) => {
                    crate::err!(
                        "Can't open output file {} ({})",
                        String::from_utf8_lossy(target),
                        config::io_reason(&e)
                    );
                    return;
                }
            }
        }
        if let Some(f) = self.files.get_mut(target) {
            let _ = f.write_all(&data);
        }
    }

    fn close(&mut self, _kind: CloseKind, target: &[u8]) {
        self.files.remove(target);
    }

    fn command(&mut self, cmd: Command<Vec<u8>>, mode: ChildMode) {
        let mut c = match &cmd {
            Command::Shell(s) if s.is_empty() => {
                if let ChildMode::Pipe { input } | ChildMode::Script { input, .. } = &mode {
                    let mut out = std::io::stdout().lock();
                    let _ = out.write_all(input);
                    let _ = out.flush();
                }
                return;
            }
            Command::Shell(s) if has_shell_meta(s) => {
                let mut c = std::process::Command::new("/bin/sh");
                c.arg("-c").arg(to_os(s));
                c
            }
            Command::Shell(s) => {
                let words: Vec<&[u8]> = s
                    .split(|b| b.is_ascii_whitespace())
                    .filter(|w| !w.is_empty())
                    .collect();
                let Some((first, rest)) = words.split_first() else {
                    return;
                };
                let mut c = std::process::Command::new(to_os(first));
                c.args(rest.iter().map(|w| to_os(w)));
                c
            }
            Command::Exec(v) => {
                let Some((first, rest)) = v.split_first() else {
                    return;
                };
                let mut c = std::process::Command::new(to_os(first));
                c.args(rest.iter().map(|w| to_os(w)));
                c
            }
        };
        let piped_in = matches!(mode, ChildMode::Pipe { .. } | ChildMode::Script { .. });
        c.stdin(if piped_in {
            std::process::Stdio::piped()
        } else {
            std::process::Stdio::null()
        });
        if matches!(mode, ChildMode::Spawn { .. }) {
            c.stdout(std::process::Stdio::piped());
        }
        let mut child = match c.spawn() {
            Ok(ch) => ch,
            Err(e) => {
                crate::err!("Could not fork command ({e})");
                return;
            }
        };
        let tx = self.child_tx.clone();
        std::thread::spawn(move || {
            if let (Some(mut stdin), ChildMode::Pipe { input } | ChildMode::Script { input, .. }) =
                (child.stdin.take(), &mode)
            {
                let _ = stdin.write_all(input);
            }
            if let (Some(out), ChildMode::Spawn { context }) = (child.stdout.take(), &mode) {
                for line in std::io::BufReader::new(out)
                    .split(b'\n')
                    .map_while(Result::ok)
                {
                    let _ = tx.send(ChildEvent::Line(line, context.clone()));
                }
            }
            let status = child.wait().ok().and_then(|s| s.code()).unwrap_or(-1);
            if let ChildMode::Script { token, .. } = mode {
                let _ = tx.send(ChildEvent::ScriptDone(token, status));
            }
        });
    }
}
