//! The program's phases, in order: options, logging, rule files, compile, then the event
//! loop. `main.rs` calls [`run`]; this module wires the rooms together and owns nothing
//! else.

use crate::io::input::Src;
use std::cell::RefCell;
use std::ffi::OsString;
use std::rc::Rc;
use std::time::Duration;

use std::collections::HashMap;
use std::os::unix::fs::{FileTypeExt, MetadataExt};

use crate::io::daemon;
use crate::io::input::{InputConfig, InputLine, Inputs};
use crate::io::signals;
use crate::io::statefile::{self, StateFile};
use crate::io::world::{InputRequest, Report, SharedWorld, World};

use crate::cli::{self, Command as CliCommand, Options};
use crate::config::{self, LoadOptions, RuleFile};
use crate::engine::state::{self as engine_state, Fingerprints};
use crate::engine::{
    compile, ChildInfo, Clock, DumpInfo, Engine, EngineOptions, InputInfo, Signal, WallClock,
};
use crate::time::{progress::Progress, EventClock, EventTime, EventTimeConfig, Late};

/// Runs rsec with the given arguments (without the program name); returns the exit status.
pub fn run(args: Vec<OsString>) -> i32 {
    let base_args = args.clone();
    let mut args = args;
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
    // SEC's order: privileges and umask first (the log file is created as the new user),
    // then the log, chdir for --detach, the rule files, the inputs, the fork, the pid file.
    if let Some(user) = opts.user.as_deref() {
        if nix::unistd::Uid::effective().is_root() {
            if let Err(e) = daemon::drop_privileges(user, &opts.group) {
                eprintln!("{e}");
                return 1;
            }
        }
    }
    if let Some(mask) = opts.umask {
        daemon::set_umask(mask);
    }
    if let Err(e) = crate::logging::init(opts.debug, opts.log.as_deref()) {
        eprintln!(
            "Can't open logfile {} ({})",
            opts.log.as_deref().unwrap_or(""),
            config::io_reason(&e)
        );
        return 1;
    }
    if let Err(e) = crate::logging::set_syslog(opts.syslog.as_deref()) {
        eprintln!("{e}");
        return 1;
    }
    crate::notice!(
        "SEC (Simple Event Correlator) {} (rsec {})",
        cli::SEC_VERSION,
        env!("CARGO_PKG_VERSION")
    );
    log_pending_options(&opts);
    if opts.detach && !opts.testonly {
        daemon::chdir_root();
    }
    let now = unix_now();
    let loaded = load_tracked(&opts.conf, &load_options(&opts), &[], now);
    if opts.testonly {
        return if loaded.iter().all(|f| f.file.ok) {
            0
        } else {
            1
        };
    }
    let files: Vec<RuleFile> = loaded.iter().map(|l| l.file.clone()).collect();
    let prog = compile::compile(&files, opts.bufsize as usize);
    let eopts = engine_options(&opts, &prog, &files);
    crate::io::output::ignore_sigpipe();
    let world = Rc::new(RefCell::new(World::new(Duration::from_secs(
        opts.socket_timeout,
    ))));
    let effects = SharedWorld(world.clone());
    let mut evt = match EvState::new(&opts, now) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    let clock = clock_for(&evt);
    if let Some(e) = evt.as_ref() {
        let c = e.clock.clone();
        crate::perl::set_time_source(Some(Box::new(move || c.now())));
    }
    let mut engine = Engine::new(prog, eopts, clock, Box::new(effects));
    let fps = state_fingerprints(&opts, &files);
    let positions = match opts.state.as_deref() {
        Some(path) => restore_saved(path, &mut engine, &mut evt, &fps),
        None => Vec::new(),
    };
    let preload = rotated_lines(&positions, &opts);
    let inputs = Inputs::open_with_positions(input_config(&opts), &positions);
    // Before the pid file exists, so that a signal sent as soon as it appears is caught.
    signals::install(signals::non_interactive(opts.detach));
    let mut detached = None;
    if opts.detach {
        match daemon::detach() {
            Ok(d) => detached = Some(d),
            Err(e) => {
                crate::crit!("{e}");
                return 1;
            }
        }
        crate::logging::no_stderr();
    }
    if let Some(pid) = opts.pid.as_deref() {
        if !daemon::write_pid(pid) {
            return 1;
        }
    }
    drop(detached);
    let mut rt = Runtime {
        base_args,
        opts,
        loaded,
        world,
        inputs,
        engine,
        start_time: now,
        conf_load_time: now,
        lines: 0,
        per_source: HashMap::new(),
        last_source: None,
        evt,
        fps,
        preload,
        last_save: std::time::Instant::now(),
    };
    let code = rt.event_loop();
    // The process ends now: freeing millions of operations and contexts one by one would
    // only delay the exit (batched writes went out in `finish`; files, sockets and pipes
    // close with the process).
    std::mem::forget(rt);
    code
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Options rsec accepts but whose behaviour is not built yet: each one that was given is
/// logged, so that nothing is ignored silently.
const PENDING_OPTIONS: &[&str] = &["ruleperf"];

fn log_pending_options(opts: &Options) {
    if opts.match_field.is_some() && opts.input_format == cli::InputFormat::Line {
        crate::warn!("Option --match-field has no effect without --input-format=json or logfmt");
    }
    for name in PENDING_OPTIONS {
        if opts.given.contains(*name) {
            crate::warn!("Option --{name} is accepted, but its behaviour is not implemented yet in this version of rsec");
        }
    }
}

fn load_options(opts: &Options) -> LoadOptions {
    LoadOptions {
        bufsize: opts.bufsize as usize,
        dialect: match opts.dialect {
            cli::Dialect::Sec => config::Dialect::Sec,
            cli::Dialect::Logzilla => config::Dialect::LogZilla,
        },
        perl: opts.perl,
    }
}

fn engine_options(opts: &Options, prog: &compile::Program, files: &[RuleFile]) -> EngineOptions {
    EngineOptions {
        perl: opts.perl,
        perl_bridge: opts.perl == cli::PerlMode::Auto && config::perlcode::files_need_bridge(files),
        jointbuf: opts.jointbuf.unwrap_or(prog.bufsize == 1),
        intcontexts: opts.intcontexts,
        intevents: opts.intevents,
        cleantime: opts.cleantime as i64,
        evstoresize: opts.evstoresize as usize,
        quoting: opts.quoting,
        input_format: opts.input_format,
        match_field: opts.match_field.clone(),
        logzilla: opts.dialect == cli::Dialect::Logzilla,
    }
}

/// A loaded rule file with what a soft restart needs to know about it.
#[derive(Clone)]
struct Loaded {
    file: RuleFile,
    mtime: Option<std::time::SystemTime>,
    loaded_at: i64,
}

fn mtime(name: &str) -> Option<std::time::SystemTime> {
    std::fs::metadata(name).and_then(|m| m.modified()).ok()
}

/// Loads the rule files named by the `--conf` patterns, in order, skipping duplicates.
/// A file in `old` whose modification time is unchanged is taken from there instead of
/// being read again (SEC's soft restart); pass no `old` to read every file.
fn load_tracked(patterns: &[String], opts: &LoadOptions, old: &[Loaded], now: i64) -> Vec<Loaded> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for pat in patterns {
        for name in crate::glob::glob(pat) {
            if !seen.insert(name.clone()) {
                continue;
            }
            let mt = mtime(&name);
            if let Some(prev) = old
                .iter()
                .find(|l| l.file.name == name && l.mtime.is_some() && l.mtime == mt)
            {
                out.push(prev.clone());
                continue;
            }
            out.push(Loaded {
                file: config::load_file(&name, opts),
                mtime: mt,
                loaded_at: now,
            });
        }
    }
    out
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
        hold_partial: opts.state.is_some() && !opts.tail,
    }
}

/// Everything the event loop holds, so that signals can rebuild parts of it.
struct Runtime {
    base_args: Vec<OsString>,
    opts: Options,
    loaded: Vec<Loaded>,
    world: Rc<RefCell<World>>,
    inputs: Inputs,
    engine: Engine,
    start_time: i64,
    conf_load_time: i64,
    lines: u64,
    /// Lines read and the internal context, by input source (for the dump).
    per_source: HashMap<String, (u64, Option<String>)>,
    /// The source of the previous input line and its count so far, not yet added to
    /// `per_source` (lines mostly come from one source: no lookup per line).
    last_source: Option<(Src, Option<Src>, u64)>,
    /// Event time (`--time-source=event`); None in wall-clock mode.
    evt: Option<EvState>,
    /// Fingerprints of the loaded rules (`--state` keeps operations of unchanged rules).
    fps: Fingerprints,
    /// Lines read before the inputs: the rest of rotated-away files (`--state`).
    preload: std::collections::VecDeque<InputLine>,
    /// When the state file was last saved (`--state-interval`).
    last_save: std::time::Instant,
}

impl Runtime {
    fn event_loop(&mut self) -> i32 {
        let poll = Duration::from_secs_f64(self.opts.poll_timeout.max(0.0));
        if self.opts.intevents {
            self.lines += 1;
        }
        if self.evt.is_none() {
            // In event mode the first event's time stamp starts the engine.
            self.engine.startup();
        }
        loop {
            let mut child_data = false;
            if !self.engine.has_synthetic() {
                let reports = self.world.borrow_mut().poll(Duration::ZERO);
                for r in reports {
                    child_data = true;
                    match r {
                        Report::Line(line, ctx) => self.engine.push_synthetic(line, ctx),
                        Report::Script(token, status) => self.engine.script_finished(token, status),
                    }
                }
            }
            let requests: Vec<InputRequest> =
                std::mem::take(&mut self.world.borrow_mut().input_requests);
            for r in requests {
                match r {
                    InputRequest::Add {
                        file,
                        offset,
                        context,
                    } => {
                        self.inputs.add_input(&file, &offset, Some(&context));
                    }
                    InputRequest::Drop(file) => {
                        self.inputs.drop_input(&file);
                    }
                }
            }
            if let Some((line, ctx)) = self.engine.next_synthetic() {
                self.lines += 1;
                self.engine.process(&line, None, Some(ctx));
            } else if let Some(l) = self.preload.pop_front().or_else(|| {
                // Batched writes go out before rsec reads (or waits for) more input: a
                // file that is also an input, or a reader of an output, sees what SEC's
                // unbuffered writes would have shown by then.
                self.inputs.read_buffered().or_else(|| {
                    self.world.borrow_mut().flush();
                    self.inputs.read_line()
                })
            }) {
                if self.evt.is_some() {
                    self.event_input(l);
                } else {
                    self.process_input(l);
                    self.drain_buffered();
                }
            } else {
                if !self.opts.tail && self.inputs.all_closed() {
                    if self.evt.is_some() {
                        self.event_eof();
                    }
                    return self.finish();
                }
                if self.evt.is_some() {
                    self.event_idle();
                }
                if !child_data {
                    // Sleep in short steps so that a signal is handled promptly.
                    let deadline = std::time::Instant::now() + self.inputs.poll_timeout_hint(poll);
                    loop {
                        let now = std::time::Instant::now();
                        if now >= deadline || signals::pending() {
                            break;
                        }
                        std::thread::sleep((deadline - now).min(Duration::from_millis(50)));
                    }
                }
            }
            if self.evt.as_ref().is_none_or(|e| e.started) {
                self.engine.maybe_tick();
            }
            if let Some(iv) = self.opts.state_interval {
                if iv > 0.0 && self.last_save.elapsed().as_secs_f64() >= iv {
                    self.save_state();
                }
            }
            let mut sigs = signals::take();
            sigs.extend(self.engine.take_signals().into_iter().map(|s| (s, 1)));
            for (sig, n) in sigs {
                if let Some(code) = self.handle_signal(sig, n) {
                    return code;
                }
            }
        }
    }

    /// Processes the lines already read while nothing else waits: no synthetic event,
    /// child, socket, input request or signal, no state file to save. It does what the
    /// event loop's iterations would do for these lines, without looking at each of
    /// those things again for every line.
    fn drain_buffered(&mut self) {
        if self.opts.state_interval.is_some() || !self.preload.is_empty() {
            return;
        }
        while !self.engine.has_synthetic()
            && !self.engine.has_signals()
            && !signals::any()
            && self.world.borrow().is_quiet()
        {
            // The tick the event loop makes after each line, here before the next one.
            self.engine.maybe_tick();
            let Some(l) = self.inputs.read_buffered() else {
                break;
            };
            self.process_input(l);
        }
    }

    /// One input line through the engine, counted for the dump.
    fn process_input(&mut self, l: InputLine) {
        self.lines += 1;
        match &mut self.last_source {
            Some((src, ctx, n)) if Src::ptr_eq(src, &l.source) && opt_ptr_eq(ctx, &l.context) => {
                *n += 1;
            }
            _ => {
                self.flush_source_counts();
                self.last_source = Some((l.source.clone(), l.context.clone(), 1));
            }
        }
        let ctx = l.context.as_ref().map(|c| c.as_bytes().to_vec());
        let spare = self.engine.process_owned(l.line, Some(l.source), ctx);
        self.inputs.recycle(spare);
    }

    /// Adds the pending count of the last source to the per-source line counts.
    fn flush_source_counts(&mut self) {
        if let Some((src, ctx, n)) = self.last_source.take() {
            let e = match self.per_source.get_mut(&*src) {
                Some(e) => e,
                None => self.per_source.entry(src.to_string()).or_default(),
            };
            e.0 += n;
            e.1 = ctx.map(|c| c.to_string());
        }
    }

    fn internal_event(&mut self, text: &[u8]) {
        if self.opts.intevents {
            self.lines += 1;
            self.engine.internal_event(text);
        }
    }

    /// Handles one signal (caught or emulated by `sigemul`); Some(status) means exit.
    fn handle_signal(&mut self, sig: Signal, count: usize) -> Option<i32> {
        self.world.borrow_mut().flush();
        match sig {
            Signal::Hup => {
                crate::notice!("SIGHUP received: full restart of SEC");
                self.full_restart();
            }
            Signal::Abrt => {
                crate::notice!("SIGABRT received: soft restart of SEC");
                self.soft_restart();
            }
            Signal::Usr1 => {
                crate::notice!("SIGUSR1 received: dumping performance and debug data");
                self.dump();
                self.save_state();
            }
            Signal::Usr2 => {
                crate::notice!("SIGUSR2 received: closing outputs and restarting logging");
                self.internal_event(b"SEC_PRE_LOGROTATE");
                self.reopen_log();
                self.world.borrow_mut().outputs.close_all();
                self.internal_event(b"SEC_LOGROTATE");
            }
            Signal::Int => {
                let old = crate::logging::level();
                let mut new = old;
                for _ in 0..count {
                    new = if new >= 6 { 1 } else { new + 1 };
                }
                crate::logging::set_level(new);
                // SEC reports this whatever the level is.
                crate::crit!(
                    "{count} SIGINT signal(s) received: setting debuglevel from {old} to {new}"
                );
            }
            Signal::Term => {
                crate::notice!("SIGTERM received: shutting down SEC");
                return Some(self.finish());
            }
        }
        None
    }

    /// The command line and SECRC read again (SIGHUP, SIGABRT). On a problem the old
    /// options stay, with a message.
    fn reread_options(&mut self) {
        let mut args = self.base_args.clone();
        match cli::load_secrc() {
            Ok(words) => args.extend(words.unwrap_or_default()),
            Err(e) => crate::err!("{e}"),
        }
        match cli::parse_with_warnings(&args) {
            Ok((CliCommand::Run(o), warnings)) => {
                for w in warnings {
                    crate::warn!("{w}");
                }
                self.opts = o;
            }
            Ok(_) => {}
            Err(e) => crate::err!("{e}"),
        }
        crate::logging::set_level(self.opts.debug);
        self.reopen_log();
        if let Err(e) = crate::logging::set_syslog(self.opts.syslog.as_deref()) {
            crate::err!("{e}");
        }
        self.world
            .borrow_mut()
            .outputs
            .set_socket_timeout(Duration::from_secs(self.opts.socket_timeout));
    }

    fn reopen_log(&mut self) {
        let level = crate::logging::level();
        let res = if crate::logging::log_path().as_deref() == self.opts.log.as_deref() {
            crate::logging::reopen()
        } else {
            crate::logging::init(level, self.opts.log.as_deref())
        };
        if let Err(e) = res {
            crate::crit!(
                "Can't open logfile {} ({})",
                self.opts.log.as_deref().unwrap_or(""),
                config::io_reason(&e)
            );
        }
        if self.opts.detach {
            crate::logging::no_stderr();
        }
    }

    /// SIGHUP: SEC_PRE_RESTART, outputs closed, children terminated (--childterm), all
    /// state dropped (a new engine), options and rule files read again, inputs reopened,
    /// then SEC_RESTART.
    fn full_restart(&mut self) {
        self.internal_event(b"SEC_PRE_RESTART");
        {
            let mut w = self.world.borrow_mut();
            w.outputs.close_all();
            if self.opts.childterm {
                w.children.terminate_all();
            }
        }
        self.reread_options();
        let now = unix_now();
        self.loaded = load_tracked(&self.opts.conf, &load_options(&self.opts), &[], now);
        self.conf_load_time = now;
        let files: Vec<RuleFile> = self.loaded.iter().map(|l| l.file.clone()).collect();
        let prog = compile::compile(&files, self.opts.bufsize as usize);
        let eopts = engine_options(&self.opts, &prog, &files);
        self.fps = state_fingerprints(&self.opts, &files);
        let effects = SharedWorld(self.world.clone());
        self.engine = Engine::new(prog, eopts, clock_for(&self.evt), Box::new(effects));
        if let Some(e) = self.evt.as_mut() {
            e.calendar = self.engine.has_calendar_rules();
        }
        self.inputs.restart(input_config(&self.opts));
        self.internal_event(b"SEC_RESTART");
    }

    /// SIGABRT: SEC_PRE_SOFTRESTART, options read again, outputs closed, only new or
    /// changed rule files read, the operations of changed or removed files dropped,
    /// contexts and variables kept, inputs kept open with --keepopen, SEC_SOFTRESTART.
    fn soft_restart(&mut self) {
        self.internal_event(b"SEC_PRE_SOFTRESTART");
        self.reread_options();
        self.world.borrow_mut().outputs.close_all();
        let now = unix_now();
        let old = std::mem::take(&mut self.loaded);
        self.loaded = load_tracked(&self.opts.conf, &load_options(&self.opts), &old, now);
        let keep: Vec<Option<usize>> = old
            .iter()
            .map(|o| {
                self.loaded.iter().position(|n| {
                    n.file.name == o.file.name && n.loaded_at == o.loaded_at && n.mtime == o.mtime
                })
            })
            .collect();
        self.conf_load_time = now;
        let files: Vec<RuleFile> = self.loaded.iter().map(|l| l.file.clone()).collect();
        let prog = compile::compile(&files, self.opts.bufsize as usize);
        let eopts = engine_options(&self.opts, &prog, &files);
        self.fps = state_fingerprints(&self.opts, &files);
        self.engine.soft_restart(prog, eopts, &keep);
        self.inputs
            .soft_restart(input_config(&self.opts), self.opts.keepopen);
        self.internal_event(b"SEC_SOFTRESTART");
    }

    /// SIGUSR1: SEC's dump, never over an existing file.
    fn dump(&mut self) {
        let mut path = self.opts.dump.clone();
        if self.opts.dumpfts {
            path = format!("{path}.{}", unix_now());
        }
        if std::path::Path::new(&path).exists() {
            crate::err!("Can't write to dumpfile: {path} exists");
            return;
        }
        let info = self.dump_info();
        let text = if self.opts.dumpfjson {
            self.engine.dump_json(&info)
        } else {
            self.engine.dump_text(&info)
        };
        let res = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()));
        match res {
            Ok(()) => crate::notice!("Dump to {path} completed"),
            Err(e) => crate::err!("Can't open dumpfile {path} ({})", config::io_reason(&e)),
        }
    }

    fn dump_info(&self) -> DumpInfo {
        let mut counts = self.per_source.clone();
        if let Some((src, ctx, n)) = &self.last_source {
            let e = counts.entry(src.to_string()).or_default();
            e.0 += n;
            e.1 = ctx.as_ref().map(|c| c.to_string());
        }
        let positions = self.inputs.positions();
        let inputs = self
            .inputs
            .sources()
            .into_iter()
            .map(|(name, open)| {
                let meta = std::fs::metadata(&name).ok();
                let kind = match &meta {
                    Some(m) if m.file_type().is_file() => "regular file",
                    Some(m) if m.file_type().is_fifo() => "FIFO",
                    Some(m) if m.file_type().is_char_device() => "character device",
                    Some(_) => "other",
                    None if name == "-" => "standard input",
                    None => "unknown",
                };
                let (lines, context) = counts.get(&name).cloned().unwrap_or_default();
                InputInfo {
                    offset: positions.iter().find(|p| p.0 == name).map(|p| p.3),
                    stat: meta
                        .as_ref()
                        .filter(|m| m.file_type().is_file())
                        .map(|m| (m.len(), m.dev(), m.ino())),
                    kind: kind.to_string(),
                    name,
                    open,
                    lines,
                    context,
                }
            })
            .collect();
        let children = self
            .world
            .borrow()
            .children
            .pids()
            .into_iter()
            .map(|pid| ChildInfo {
                pid,
                cmdline: proc_cmdline(pid),
            })
            .collect();
        let file_load_times = self.loaded.iter().map(|l| l.loaded_at).collect();
        DumpInfo {
            start_time: self.start_time,
            conf_load_time: self.conf_load_time,
            file_load_times,
            rule_matches: self
                .engine
                .rule_match_counts()
                .iter()
                .map(|(k, v)| (*k, *v))
                .collect(),
            rcfile: std::env::var("SECRC").ok(),
            options: self
                .base_args
                .iter()
                .map(|a| a.to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join(" "),
            ids: daemon::ids(),
            cpu: cpu_times(),
            lines: self.lines,
            inputs,
            children,
        }
    }

    /// SEC's exit: SEC_SHUTDOWN, then with --childterm the children get up to three
    /// seconds (SEC sleeps that long when it generated SEC_SHUTDOWN) before they are sent
    /// SIGTERM.
    fn finish(&mut self) -> i32 {
        if self.opts.input_format == cli::InputFormat::Json {
            crate::notice!(
                "{} input lines were not valid JSON and were matched as plain text",
                self.engine.bad_json_lines()
            );
        }
        if let Some(e) = self.evt.as_mut() {
            e.progress.finish();
            crate::notice!("{}", e.time.stats());
        }
        let code = finish(&mut self.engine, &self.opts, &self.world);
        self.save_state();
        code
    }

    /// `--state`: saves the engine's state, the event clock and the input positions.
    fn save_state(&mut self) {
        self.last_save = std::time::Instant::now();
        let Some(path) = self.opts.state.clone() else {
            return;
        };
        let positions = self.inputs.saved_positions();
        let state = StateFile {
            time_source: time_source_name(&self.evt).to_string(),
            event_clock: self
                .evt
                .as_ref()
                .filter(|e| e.started)
                .map(|e| e.clock.now()),
            checks: positions.iter().map(statefile::tail_check).collect(),
            inputs: positions,
            engine: self.engine.save_state(&self.fps),
        };
        statefile::save(&path, &state);
    }
}

fn time_source_name(evt: &Option<EvState>) -> &'static str {
    if evt.is_some() {
        "event"
    } else {
        "wall"
    }
}

/// `--state` at start: restores the saved engine state and event clock; returns the saved
/// input positions. A file that cannot be used is logged and ignored (a fresh start).
fn restore_saved(
    path: &str,
    engine: &mut Engine,
    evt: &mut Option<EvState>,
    fps: &Fingerprints,
) -> Vec<crate::io::input::Position> {
    let Some(saved) = statefile::load(path) else {
        return Vec::new();
    };
    let mode = time_source_name(evt);
    if saved.time_source != mode {
        crate::err!(
            "Ignoring state file {path}: it was saved with --time-source={}, this run uses {mode}; starting with no saved state",
            saved.time_source
        );
        return Vec::new();
    }
    match engine.restore_state(&saved.engine, fps) {
        Ok(r) => {
            crate::notice!(
                "Restored state from {path}: {} contexts, {} operations, {} delayed events",
                r.contexts,
                r.ops,
                r.pending
            );
            if r.dropped_ops > 0 {
                crate::notice!(
                    "State file {path}: dropped {} operations of rules that changed or are gone",
                    r.dropped_ops
                );
            }
        }
        Err(e) => {
            crate::err!("Ignoring state file {path}: {e}; starting with no saved state");
            return Vec::new();
        }
    }
    if let (Some(e), Some(t)) = (evt.as_mut(), saved.event_clock) {
        e.clock.advance_to(t);
        e.started = true;
        e.time.resume(t);
        e.calendar = engine.has_calendar_rules();
    }
    statefile::still_valid(&saved)
}

/// `--state`: for each input whose saved file was rotated away (the name is now another
/// file, or shorter) and is still present as `NAME.1` with the saved inode, the lines after
/// the saved offset, to be processed before the new file.
fn rotated_lines(
    positions: &[crate::io::input::Position],
    opts: &Options,
) -> std::collections::VecDeque<InputLine> {
    let mut out = std::collections::VecDeque::new();
    for pos in positions {
        let Some((old, data)) = statefile::rotated_rest(pos) else {
            continue;
        };
        crate::notice!(
            "Input file {} was rotated: reading the rest of {old} from offset {}",
            pos.0,
            pos.3
        );
        let context = opts
            .input
            .iter()
            .map(|spec| cli::split_input_spec(spec))
            .find(|(pat, _)| *pat == pos.0)
            .and_then(|(_, c)| c.map(crate::io::input::Src::from));
        let source: crate::io::input::Src = crate::io::input::Src::from(pos.0.as_str());
        let mut lines: Vec<&[u8]> = data.split(|b| *b == b'\n').collect();
        if lines.last().is_some_and(|l| l.is_empty()) {
            lines.pop();
        }
        for l in lines {
            out.push_back(InputLine {
                line: l.to_vec(),
                source: source.clone(),
                context: context.clone(),
            });
        }
    }
    out
}

/// A child's command line from /proc (`sh -c CMD` shows as CMD).
fn proc_cmdline(pid: u32) -> String {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let args: Vec<String> = raw
        .split(|b| *b == 0)
        .filter(|a| !a.is_empty())
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    match args.as_slice() {
        [sh, c, cmd] if sh.ends_with("sh") && c == "-c" => cmd.clone(),
        _ => args.join(" "),
    }
}

/// User, system, child user and child system CPU seconds.
fn cpu_times() -> (f64, f64, f64, f64) {
    fn get(who: libc::c_int) -> (f64, f64) {
        let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: getrusage fills the struct it is given and nothing else.
        if unsafe { libc::getrusage(who, &mut ru) } != 0 {
            return (0.0, 0.0);
        }
        let t = |tv: libc::timeval| {
            ((tv.tv_sec as f64 + tv.tv_usec as f64 / 1e6) * 100.0).round() / 100.0
        };
        (t(ru.ru_utime), t(ru.ru_stime))
    }
    let (u, s) = get(libc::RUSAGE_SELF);
    let (cu, cs) = get(libc::RUSAGE_CHILDREN);
    (u, s, cu, cs)
}

/// SEC's exit: SEC_SHUTDOWN, then with --childterm the children get up to three seconds
/// (SEC sleeps that long when it generated SEC_SHUTDOWN) before they are sent SIGTERM.
fn finish(engine: &mut Engine, opts: &Options, world: &Rc<RefCell<World>>) -> i32 {
    engine.shutdown();
    world.borrow_mut().flush();
    if opts.childterm {
        if opts.intevents {
            let deadline = std::time::Instant::now() + Duration::from_secs(3);
            while world.borrow().children.count() > 0 && std::time::Instant::now() < deadline {
                world.borrow_mut().poll(Duration::from_millis(50));
            }
        }
        world.borrow_mut().children.terminate_all();
    }
    0
}

// ---------------------------------------------------------------------------------------
// Event time (`--time-source=event`). The engine's clock is an EventClock; each line's time
// stamp moves it before the line is processed, and between two lines it stops at every
// moment a live run would have fired a timer (the engine's next_wakeup), so expiries,
// delayed events and Calendar rules happen at the times and in the order a live run had
// them. Time stands still while no line comes. At the end of a --notail replay the clock
// stays at the last line's time: the result is what a live run had produced right after
// the last line was written (timers due later are not fired, as a live run that was
// stopped then would not have fired them).

/// Event-time state of the event loop.
struct EvState {
    time: EventTime<InputLine>,
    clock: EventClock,
    /// The engine was started (at the first event's time).
    started: bool,
    /// The rules have Calendar rules (the clock must stop at every minute).
    calendar: bool,
    progress: Progress,
    /// The progress bar was set up (at the first line).
    progress_set: bool,
    /// When the last line came in (tail mode releases a reorder buffer idle this long).
    last_input: std::time::Instant,
    reorder_window: Duration,
}

impl EvState {
    fn new(opts: &Options, now: i64) -> Result<Option<EvState>, String> {
        if opts.time_source != cli::TimeSource::Event {
            return Ok(None);
        }
        let cfg = EventTimeConfig {
            tz: opts.tz.clone(),
            regex: opts.timestamp_regex.clone(),
            format: opts.timestamp_format.clone(),
            reorder_window: opts.reorder_window,
            late: match opts.late {
                cli::LateMode::Process => Late::Process,
                cli::LateMode::Drop => Late::Drop,
            },
        };
        let time = EventTime::new(&cfg, now).map_err(|e| e.to_string())?;
        Ok(Some(EvState {
            time,
            clock: EventClock::new(0),
            started: false,
            calendar: false,
            progress: Progress::new(0, false),
            progress_set: false,
            last_input: std::time::Instant::now(),
            reorder_window: Duration::from_secs_f64(opts.reorder_window.unwrap_or(0.0).max(0.0)),
        }))
    }
}

/// The engine's clock: the event clock in event mode, else the wall clock.
fn clock_for(evt: &Option<EvState>) -> Box<dyn Clock> {
    match evt {
        Some(e) => Box::new(e.clock.clone()),
        None => Box::new(WallClock),
    }
}

impl Runtime {
    /// Event mode: a line read. It gets its time and goes through any ready lines.
    fn event_input(&mut self, l: InputLine) {
        let Some(e) = self.evt.as_mut() else {
            return;
        };
        if !e.progress_set {
            e.progress_set = true;
            let total = self
                .inputs
                .sources()
                .iter()
                .filter_map(|(n, _)| std::fs::metadata(n).ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum();
            e.progress = Progress::new(total, !self.opts.tail);
            e.calendar = self.engine.has_calendar_rules();
        }
        if self.opts.tail && !e.reorder_window.is_zero() {
            e.last_input = std::time::Instant::now();
        }
        if e.progress.active() {
            let inputs = &self.inputs;
            e.progress
                .line(|| inputs.positions().iter().map(|p| p.3).sum());
        }
        let stamp = e.time.stamp(&l.line);
        e.time.admit_stamped(stamp, l);
        self.event_release();
    }

    /// Processes every line event time has released, each at its time.
    fn event_release(&mut self) {
        while let Some((t, l)) = self.evt.as_mut().and_then(|e| e.time.next_ready()) {
            self.event_advance(t);
            self.process_input(l);
            self.engine.maybe_tick();
            self.drain_synthetic();
        }
    }

    /// Moves the event clock to `t`, stopping wherever a live run would have fired timers.
    fn event_advance(&mut self, t: i64) {
        let Some(e) = self.evt.as_mut() else {
            return;
        };
        if !e.started {
            e.started = true;
            e.clock.advance_to(t);
            self.engine.startup();
            self.drain_synthetic();
            return;
        }
        let calendar = e.calendar;
        let clock = e.clock.clone();
        while let Some(w) = self.engine.next_wakeup(calendar) {
            if w > t {
                break;
            }
            clock.advance_to(w);
            self.engine.maybe_tick();
            self.drain_synthetic();
        }
        clock.advance_to(t);
    }

    /// Synthetic events queued by the last step, processed now (as the main loop would,
    /// before the next input line).
    fn drain_synthetic(&mut self) {
        while let Some((line, ctx)) = self.engine.next_synthetic() {
            self.lines += 1;
            self.engine.process(&line, None, Some(ctx));
            self.engine.maybe_tick();
        }
    }

    /// End of a --notail replay: lines still held are released and processed; the clock
    /// stays at the last event's time.
    fn event_eof(&mut self) {
        if let Some(e) = self.evt.as_mut() {
            e.time.flush(unix_now());
        }
        self.event_release();
    }

    /// No input now: in tail mode, a reorder buffer idle for its window is released.
    fn event_idle(&mut self) {
        let Some(e) = self.evt.as_mut() else {
            return;
        };
        if e.time.held() > 0 && e.last_input.elapsed() >= e.reorder_window {
            e.time.flush(unix_now());
            self.event_release();
        }
    }
}

/// Two optional shared strings that are the same allocation (or both absent).
fn opt_ptr_eq(a: &Option<Src>, b: &Option<Src>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => Src::ptr_eq(a, b),
        (None, None) => true,
        _ => false,
    }
}

/// Rule fingerprints for the state file; not computed without `--state`.
fn state_fingerprints(opts: &Options, files: &[RuleFile]) -> Fingerprints {
    if opts.state.is_some() {
        engine_state::fingerprints(files)
    } else {
        Fingerprints::default()
    }
}
