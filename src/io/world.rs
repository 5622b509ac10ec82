//! The engine's [`Effects`] carried out for real: outputs and sockets through
//! [`Outputs`], child processes through [`Children`], and addinput/dropinput requests
//! queued for the event loop (which owns the inputs). It translates requests; it decides
//! no correlation.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use crate::config::action::{CloseKind, Command, WriteKind};
use crate::engine::{self, ChildMode, Effects};
use crate::io::child::{self, ChildEvent, ChildId, ChildRequest, Children};
use crate::io::output::Outputs;

/// An addinput or dropinput request for the event loop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InputRequest {
    /// addinput FILE OFFSET CONTEXT.
    Add {
        /// File name.
        file: String,
        /// `-` or a byte offset.
        offset: String,
        /// Internal context.
        context: String,
    },
    /// dropinput FILE.
    Drop(String),
}

/// What the event loop gets back from children.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Report {
    /// A line from a spawned child, with its internal context.
    Line(Vec<u8>, Vec<u8>),
    /// A SingleWithScript script finished with this token and exit status.
    Script(u64, i32),
}

/// Outputs, children and pending input requests.
pub struct World {
    /// Files, FIFOs and sockets.
    pub outputs: Outputs,
    /// Child processes.
    pub children: Children,
    scripts: HashMap<ChildId, u64>,
    spawns: HashMap<ChildId, Vec<u8>>,
    /// addinput/dropinput requests not yet applied.
    pub input_requests: Vec<InputRequest>,
}

impl World {
    /// A world with the given socket timeout.
    pub fn new(socket_timeout: Duration) -> World {
        World {
            outputs: Outputs::new(socket_timeout),
            children: Children::new(),
            scripts: HashMap::new(),
            spawns: HashMap::new(),
            input_requests: Vec::new(),
        }
    }

    /// Writes out the outputs' batched file writes (see [`Outputs::flush`]).
    pub fn flush(&mut self) {
        self.outputs.flush();
    }

    /// True when a poll would find nothing to do: no children, no stream sockets and no
    /// input requests waiting.
    pub fn is_quiet(&self) -> bool {
        self.children.is_idle() && !self.outputs.has_streams() && self.input_requests.is_empty()
    }

    /// Polls outputs and children; returns spawned lines and script results.
    pub fn poll(&mut self, timeout: Duration) -> Vec<Report> {
        self.outputs.poll();
        if timeout.is_zero() && self.children.is_idle() {
            return Vec::new();
        }
        let mut out = Vec::new();
        for ev in self.children.poll(timeout) {
            match ev {
                ChildEvent::Line { id, line, .. } => {
                    let ctx = self
                        .spawns
                        .get(&id)
                        .cloned()
                        .unwrap_or_else(|| engine::SYNEVENT_CONTEXT.to_vec());
                    out.push(Report::Line(line, ctx));
                }
                ChildEvent::Exited { id, status } => {
                    self.spawns.remove(&id);
                    if let Some(token) = self.scripts.remove(&id) {
                        out.push(Report::Script(token, status));
                    }
                }
            }
        }
        out
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A shared handle to the world, given to the engine as its effects.
#[derive(Clone)]
pub struct SharedWorld(pub Rc<RefCell<World>>);

impl Effects for SharedWorld {
    fn write(&mut self, kind: WriteKind, target: &[u8], data: &[u8]) {
        self.0.borrow_mut().outputs.write(kind, &text(target), data);
    }

    fn close(&mut self, kind: CloseKind, target: &[u8]) {
        self.0.borrow_mut().outputs.close(kind, &text(target));
    }

    fn command(&mut self, cmd: Command<Vec<u8>>, mode: ChildMode) {
        let mut w = self.0.borrow_mut();
        // A child sees every file as the actions before it left it.
        w.outputs.flush();
        let empty = match &cmd {
            Command::Shell(s) => s.iter().all(u8::is_ascii_whitespace),
            Command::Exec(v) => v.is_empty(),
        };
        if empty {
            // pipe and report without a command write to standard output.
            if let ChildMode::Pipe { input } = &mode {
                w.outputs.write(WriteKind::Writen, "-", input);
            }
            return;
        }
        let (cmode, spawn_ctx, token) = match mode {
            ChildMode::Detached => (child::ChildMode::Detached, None, None),
            ChildMode::Spawn { context } => (
                child::ChildMode::Spawn {
                    context: Some(text(&context)),
                },
                Some(context),
                None,
            ),
            ChildMode::Pipe { input } => (child::ChildMode::Pipe { input }, None, None),
            ChildMode::Script { input, token } => {
                (child::ChildMode::Script { input }, None, Some(token))
            }
        };
        let req = match cmd {
            Command::Shell(s) => ChildRequest::Shell {
                cmd: text(&s),
                mode: cmode,
            },
            Command::Exec(v) => ChildRequest::Exec {
                argv: v.iter().map(|a| text(a)).collect(),
                mode: cmode,
            },
        };
        let id = w.children.run(req);
        if let Some(ctx) = spawn_ctx {
            w.spawns.insert(id, ctx);
        }
        if let Some(t) = token {
            w.scripts.insert(id, t);
        }
    }

    fn add_input(&mut self, file: &[u8], offset: &[u8], context: &[u8]) {
        self.0.borrow_mut().input_requests.push(InputRequest::Add {
            file: text(file),
            offset: text(offset),
            context: text(context),
        });
    }

    fn drop_input(&mut self, file: &[u8]) {
        self.0
            .borrow_mut()
            .input_requests
            .push(InputRequest::Drop(text(file)));
    }
}
