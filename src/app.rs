//! The program's phases, in order: options, logging, rule files, compile, then the event
//! loop. `main.rs` calls [`run`]; this module wires the rooms together and owns nothing
//! else.

use std::cell::RefCell;
use std::ffi::OsString;
use std::rc::Rc;
use std::time::Duration;

use crate::io::input::{InputConfig, Inputs};
use crate::io::world::{InputRequest, Report, SharedWorld, World};

use crate::cli::{self, Command as CliCommand, Options};
use crate::config::{self, LoadOptions, RuleFile};
use crate::engine::{compile, Engine, EngineOptions, WallClock};

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
    crate::io::output::ignore_sigpipe();
    let world = Rc::new(RefCell::new(World::new(Duration::from_secs(
        opts.socket_timeout,
    ))));
    let effects = SharedWorld(world.clone());
    let mut engine = Engine::new(prog, eopts, Box::new(WallClock), Box::new(effects));
    event_loop(&mut engine, &opts, &world)
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

fn event_loop(engine: &mut Engine, opts: &Options, world: &Rc<RefCell<World>>) -> i32 {
    let mut inputs = Inputs::open(input_config(opts));
    let poll = Duration::from_secs_f64(opts.poll_timeout.max(0.0));
    engine.startup();
    loop {
        let mut child_data = false;
        if !engine.has_synthetic() {
            let reports = world.borrow_mut().poll(Duration::ZERO);
            for r in reports {
                child_data = true;
                match r {
                    Report::Line(line, ctx) => engine.push_synthetic(line, ctx),
                    Report::Script(token, status) => engine.script_finished(token, status),
                }
            }
        }
        let requests: Vec<InputRequest> = std::mem::take(&mut world.borrow_mut().input_requests);
        for r in requests {
            match r {
                InputRequest::Add {
                    file,
                    offset,
                    context,
                } => {
                    inputs.add_input(&file, &offset, Some(&context));
                }
                InputRequest::Drop(file) => {
                    inputs.drop_input(&file);
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
                return finish(engine, opts, world);
            }
            if !child_data {
                std::thread::sleep(inputs.poll_timeout_hint(poll));
            }
        }
        engine.maybe_tick();
        for s in engine.take_signals() {
            if s == crate::engine::Signal::Term {
                return finish(engine, opts, world);
            }
        }
    }
}

/// SEC's exit: SEC_SHUTDOWN, then with --childterm the children get up to three seconds
/// (SEC sleeps that long when it generated SEC_SHUTDOWN) before they are sent SIGTERM.
fn finish(engine: &mut Engine, opts: &Options, world: &Rc<RefCell<World>>) -> i32 {
    engine.shutdown();
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
