//! The SECRC resource file: extra command-line words, one per line.
//!
//! SEC reads the file named by the `SECRC` environment variable at startup and again on
//! every reload (SIGHUP, SIGABRT). Each line, with the white space at both ends removed,
//! is one word appended to the command line, unless it is empty or starts with `#`. There
//! is no shell-like splitting: a line `--debug 3` is one word, which SEC reports as the
//! unknown option `debug 3`. When `SECRC` is set but the file cannot be opened (even when
//! the variable is empty), SEC prints `Can't open resource file NAME (REASON)` and goes on.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStringExt;

/// Perl's `\s`: space, tab, newline, vertical tab, form feed, carriage return.
fn is_perl_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn trim(mut line: &[u8]) -> &[u8] {
    while let [first, rest @ ..] = line {
        if !is_perl_space(*first) {
            break;
        }
        line = rest;
    }
    while let [rest @ .., last] = line {
        if !is_perl_space(*last) {
            break;
        }
        line = rest;
    }
    line
}

/// Turns the content of a resource file into command-line words: one word per line that
/// is neither empty nor a comment after trimming. Works on bytes, so any content is fine.
pub fn parse_secrc(content: &[u8]) -> Vec<OsString> {
    content
        .split(|&b| b == b'\n')
        .map(trim)
        .filter(|line| !line.is_empty() && !line.starts_with(b"#"))
        .map(|line| OsString::from_vec(line.to_vec()))
        .collect()
}

/// The error when the resource file cannot be read.
#[derive(Debug)]
pub struct SecrcError {
    /// The file name, as `SECRC` gives it.
    pub path: OsString,
    /// Why it could not be read.
    pub error: std::io::Error,
}

impl std::fmt::Display for SecrcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The system's message without Rust's " (os error N)" suffix, like Perl's `$!`.
        let reason = self.error.to_string();
        let reason = match reason.rfind(" (os error ") {
            Some(p) => &reason[..p],
            None => &reason,
        };
        write!(
            f,
            "Can't open resource file {} ({reason})",
            self.path.to_string_lossy()
        )
    }
}

impl std::error::Error for SecrcError {}

/// Reads the resource file named by `SECRC`. `Ok(None)` when the variable is not set;
/// an error when it is set (even to the empty string) but the file cannot be read.
/// Call it again on every reload: SEC re-reads the file then.
pub fn load_secrc() -> Result<Option<Vec<OsString>>, SecrcError> {
    let Some(path) = std::env::var_os("SECRC") else {
        return Ok(None);
    };
    read_secrc_file(&path).map(Some)
}

/// Reads one resource file and returns its words.
pub fn read_secrc_file(path: &OsStr) -> Result<Vec<OsString>, SecrcError> {
    match std::fs::read(path) {
        Ok(content) => Ok(parse_secrc(&content)),
        Err(error) => Err(SecrcError {
            path: path.to_os_string(),
            error,
        }),
    }
}
