//! Load-time checks of Perl code in rules (PerlFunc patterns, `->`/`:>` operands, lcall).
//!
//! SEC evaluates such code when it loads the rule and rejects the rule unless the result
//! is a code reference. rsec evaluates it with its native interpreter in a scratch
//! interpreter (the code of these points is a `sub { ... }` expression, which has no side
//! effects); when the native subset does not cover the code, real perl, if installed,
//! settles whether SEC would accept it.

use std::process::{Command, Stdio};

use crate::perl::{Context, ErrorKind, Interp, Value};

/// Why code was refused: the message SEC-style errors show after "didn't return a code
/// reference:".
pub type Refusal = String;

/// Checks that `code` evaluates to a code reference, as SEC requires at load time.
pub fn check_code_ref(code: &str) -> Result<(), Refusal> {
    let mut interp = Interp::new();
    let native = interp
        .compile(code)
        .and_then(|c| interp.eval(&c, Context::Scalar));
    match native {
        Ok(v) => match v.first() {
            Some(Value::CodeRef(_)) => Ok(()),
            Some(other) if other.is_defined() => Err(other.to_string_perl()),
            _ => Err("undef".into()),
        },
        Err(e) if e.kind == ErrorKind::Unsupported || e.kind == ErrorKind::Syntax => {
            match real_perl_accepts(code) {
                Some(true) => Ok(()),
                Some(false) => Err(e.message.trim_end().to_string()),
                None if e.kind == ErrorKind::Syntax => Err(e.message.trim_end().to_string()),
                None => Err(format!(
                    "{} (outside rsec's native Perl subset, and perl is not installed)",
                    e.message.trim_end()
                )),
            }
        }
        Err(e) => Err(e.message.trim_end().to_string()),
    }
}

/// Asks real perl whether `code` evaluates to a code reference; None if perl is missing.
fn real_perl_accepts(code: &str) -> Option<bool> {
    let status = Command::new("perl")
        .args([
            "-e",
            "package main::SEC; my $r = eval $ARGV[0]; exit(ref($r) eq 'CODE' ? 0 : 1);",
            code,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .ok()?;
    Some(status.success())
}

/// True if `code` evaluates to a code reference (see [`check_code_ref`]).
pub fn looks_like_code_ref(code: &str) -> bool {
    check_code_ref(code).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_refs() {
        assert!(looks_like_code_ref("sub { $_[0] > 1 }"));
        assert!(looks_like_code_ref(" sub {return \"}\";} ; "));
        assert!(!looks_like_code_ref("sub { $_[0] > 1 "));
        assert!(!looks_like_code_ref("1"));
    }
}
