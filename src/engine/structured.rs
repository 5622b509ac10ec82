//! Structured events in the engine: the fields of the current event
//! (`--input-format=json|logfmt`), the text patterns match (`--match-field`), the count of
//! lines that were not JSON, and the run-time parts of `--dialect=logzilla` (action-list
//! variables in Perl context operands).
//!
//! It owns only the current event's [`Fields`] slot; parsing is `crate::fields`, and the
//! rewriting of rule text is `crate::config::dialect`. Plain line input with the SEC
//! dialect never comes here (`Engine::process` pushes the line directly).

use crate::io::input::Src;
use std::sync::Arc;

use super::subst::Bytes;
use super::Engine;
use crate::cli::InputFormat;
use crate::fields::{self, Fields};

impl Engine {
    /// Makes `line` the current event, with its fields: parsed from an input line in the
    /// structured formats, none for synthetic and internal events (source None), and an
    /// empty set under the LogZilla dialect when there are none, so that `$ENV{NAME}`
    /// falls back to the process environment for every pattern type.
    pub(super) fn push_structured(&mut self, line: &[u8], source: Option<Src>) {
        let format = self.opts.input_format;
        if source.is_none() || format == InputFormat::Line {
            self.ev_fields = if self.opts.logzilla {
                Some(self.empty_fields())
            } else {
                None
            };
            self.buffers.push(line, source);
            return;
        }
        // Reuse the last event's map when no operation kept it.
        let mut arc = match self.ev_fields.take() {
            Some(a) if Arc::strong_count(&a) == 1 => a,
            _ => Arc::new(Fields::new()),
        };
        let mut parsed = true;
        if let Some(f) = Arc::get_mut(&mut arc) {
            match format {
                InputFormat::Json => {
                    if let Err(e) = fields::parse_json_into(line, f) {
                        self.bad_json += 1;
                        crate::warn!(
                            "Input line is not a JSON object ({e}), matching it as plain text: {}",
                            String::from_utf8_lossy(&line[..line.len().min(200)])
                        );
                        f.clear();
                        parsed = false;
                    }
                }
                InputFormat::Logfmt => fields::parse_logfmt_into(line, f),
                InputFormat::Line => {}
            }
        }
        if !parsed && !self.opts.logzilla {
            self.ev_fields = None;
            self.buffers.push(line, source);
            return;
        }
        let text = fields::match_text(line, Some(&arc), self.opts.match_field.as_deref());
        self.buffers.push(text, source);
        self.ev_fields = Some(arc);
    }

    fn empty_fields(&mut self) -> Arc<Fields> {
        match &self.ev_fields {
            Some(a) if a.is_empty() => a.clone(),
            _ => Arc::new(Fields::new()),
        }
    }

    /// How many input lines `--input-format=json` could not parse (they were matched as
    /// plain text).
    pub fn bad_json_lines(&self) -> u64 {
        self.bad_json
    }

    /// `--dialect=logzilla`: the action-list variables (`%neighbor_ip`) in the code of a
    /// Perl context operand, substituted as text. Only set variables are replaced, so
    /// Perl's own `%hash` and `$a % $b` are left alone.
    pub(super) fn dialect_code(&self, code: &[u8]) -> Bytes {
        if !self.opts.logzilla || !code.contains(&b'%') {
            return code.to_vec();
        }
        let mut out = Vec::with_capacity(code.len() + 16);
        let mut i = 0;
        while i < code.len() {
            let c = code[i];
            if c == b'%' && code.get(i + 1).is_some_and(u8::is_ascii_alphabetic) {
                let n = code[i + 1..]
                    .iter()
                    .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
                    .count();
                let name = String::from_utf8_lossy(&code[i + 1..i + 1 + n]);
                if let Some(Some(v)) = self.vars.get(name.as_ref()) {
                    out.extend_from_slice(v);
                    i += 1 + n;
                    continue;
                }
            }
            out.push(c);
            i += 1;
        }
        out
    }
}
