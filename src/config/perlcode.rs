//! Load-time checks of Perl code in rules (PerlFunc patterns, `->`/`:>` operands, lcall).
//!
//! SEC evaluates such code when it loads the rule and rejects the rule unless the result
//! is a code reference. Until the Perl interpreter is wired in, rsec accepts code that has
//! the shape of an anonymous sub with balanced brackets outside strings; the Perl issue
//! replaces this with a real compile.

/// True if `code` has the shape `sub { ... }` (optionally followed by `;`) with balanced
/// brackets outside quoted strings.
pub fn looks_like_code_ref(code: &str) -> bool {
    let t = code.trim();
    let Some(rest) = t.strip_prefix("sub") else {
        return false;
    };
    let rest = rest.trim_start();
    if !rest.starts_with('{') {
        return false;
    }
    let body = rest.trim_end().trim_end_matches(';').trim_end();
    if !body.ends_with('}') {
        return false;
    }
    balanced(body)
}

fn balanced(s: &str) -> bool {
    let mut stack = Vec::new();
    let mut chars = s.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        if let Some(q) = quote {
            if c == '\\' {
                chars.next();
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\\' => {
                chars.next();
            }
            '"' | '\'' => quote = Some(c),
            '{' | '(' | '[' => stack.push(c),
            '}' | ')' | ']' => {
                let want = match c {
                    '}' => '{',
                    ')' => '(',
                    _ => '[',
                };
                if stack.pop() != Some(want) {
                    return false;
                }
            }
            _ => {}
        }
    }
    stack.is_empty() && quote.is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert!(looks_like_code_ref("sub { $_[0] > 1 }"));
        assert!(looks_like_code_ref(" sub {return \"}\";} ; "));
        assert!(!looks_like_code_ref("sub { $_[0] > 1 "));
        assert!(!looks_like_code_ref("1"));
        assert!(!looks_like_code_ref("subx { }"));
    }
}
