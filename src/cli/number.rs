//! The number syntaxes that SEC's option parser (Perl's Getopt::Long) accepts, and Perl's
//! string-to-number conversion that turns an accepted value into a number.
//!
//! The rules were worked out by running SEC 2.9.1 with many values; they are quirky on
//! purpose, because a drop-in replacement must accept and reject exactly what SEC does:
//!
//! * integers (`--debug`, `--cleantime`, ...): an optional sign, then digits and
//!   underscores with at least one digit (`1_0` is 10, `_1` and `+_1` are 1, `0x3` is
//!   refused);
//! * extended integers (`--umask`): a decimal number without leading zero, `0x` hex, `0b`
//!   binary or `0` octal, case-insensitive, underscores allowed (`0x1ff`, `0B11`, `0_7_7`);
//!   `0999` and `0o17` are refused;
//! * reals (`--poll-timeout`): an optional sign, digits and underscores, then an optional
//!   "fraction" made of *any one character* followed by digits (SEC's parser lets any
//!   character stand for the decimal point, so `0x10` and `0b12` are accepted and are worth
//!   0, while `5.` and `0x1.8` are refused), then an optional exponent.
//!
//! Underscores are removed before the conversion. A value may end with one newline, as
//! Perl's `$` allows.

/// Removes one trailing newline, which Perl's end-of-string anchor `$` tolerates.
fn strip_final_newline(s: &[u8]) -> &[u8] {
    s.strip_suffix(b"\n").unwrap_or(s)
}

/// Length of the run of bytes at the start of `s` that satisfy `pred`.
fn run_len(s: &[u8], pred: impl Fn(u8) -> bool) -> usize {
    s.iter().take_while(|&&b| pred(b)).count()
}

fn is_digit_or_underscore(b: u8) -> bool {
    b.is_ascii_digit() || b == b'_'
}

/// Skips an optional leading `+` or `-`.
fn skip_sign(s: &[u8]) -> &[u8] {
    match s.first() {
        Some(b'+') | Some(b'-') => &s[1..],
        _ => s,
    }
}

/// Whether `s` is an integer as SEC's option parser accepts it: `[-+]?_*[0-9][0-9_]*`.
pub(crate) fn is_int(s: &[u8]) -> bool {
    let s = skip_sign(strip_final_newline(s));
    let u = run_len(s, |b| b == b'_');
    let rest = &s[u..];
    matches!(rest.first(), Some(b) if b.is_ascii_digit())
        && run_len(rest, is_digit_or_underscore) == rest.len()
}

/// Whether `s` is an extended integer (decimal, `0x` hex, `0b` binary or `0` octal).
pub(crate) fn is_ext_int(s: &[u8]) -> bool {
    let s = strip_final_newline(s);
    let lower: Vec<u8> = s.to_ascii_lowercase();
    let s = lower.as_slice();
    // Decimal: [-+]?_*[1-9][0-9_]*
    let decimal = {
        let d = skip_sign(s);
        let u = run_len(d, |b| b == b'_');
        let rest = &d[u..];
        matches!(rest.first(), Some(b'1'..=b'9'))
            && run_len(rest, is_digit_or_underscore) == rest.len()
    };
    // 0x_*[0-9a-f][0-9a-f_]* and 0b_*[01][01_]*
    let prefixed = |prefix: &[u8], digit: fn(u8) -> bool| -> bool {
        match s.strip_prefix(prefix) {
            Some(rest) => {
                let u = run_len(rest, |b| b == b'_');
                let rest = &rest[u..];
                matches!(rest.first(), Some(&b) if digit(b))
                    && run_len(rest, |b| digit(b) || b == b'_') == rest.len()
            }
            None => false,
        }
    };
    let hex = prefixed(b"0x", |b| b.is_ascii_hexdigit());
    let bin = prefixed(b"0b", |b| b == b'0' || b == b'1');
    // 0[0-7_]*
    let octal = s.first() == Some(&b'0')
        && run_len(&s[1..], |b| (b'0'..=b'7').contains(&b) || b == b'_') == s.len() - 1;
    decimal || hex || bin || octal
}

/// Whether `s` (after the sign, fraction and exponent parts) matches an exponent
/// `[eE][-+]?[0-9_]+` exactly, or is empty.
fn exponent_or_empty(s: &[u8]) -> bool {
    match s.first() {
        None => true,
        Some(b'e') | Some(b'E') => {
            let rest = skip_sign(&s[1..]);
            !rest.is_empty() && run_len(rest, is_digit_or_underscore) == rest.len()
        }
        _ => false,
    }
}

/// Whether `s` is a real number as SEC's option parser accepts it (see the module notes).
pub(crate) fn is_real(s: &[u8]) -> bool {
    let s = skip_sign(strip_final_newline(s));
    // The look-ahead: the number must start with a digit or a dot.
    if !matches!(s.first(), Some(b) if b.is_ascii_digit() || *b == b'.') {
        return false;
    }
    let max_int = run_len(s, is_digit_or_underscore);
    // Try every split the backtracking regular expression would try.
    (0..=max_int).rev().any(|i| {
        let rest = &s[i..];
        if exponent_or_empty(rest) {
            return true;
        }
        // The "fraction": one character other than a newline, then digits.
        match rest.first() {
            Some(&c) if c != b'\n' => {
                let digits = run_len(&rest[1..], is_digit_or_underscore);
                (1..=digits)
                    .rev()
                    .any(|k| exponent_or_empty(&rest[1 + k..]))
            }
            _ => false,
        }
    })
}

/// Perl's conversion of a string to a number: leading white space, then the longest
/// decimal number at the start (`"0x10"` is 0, `"1e"` is 1, `"abc"` is 0).
pub(crate) fn numify(s: &[u8]) -> f64 {
    let start = run_len(s, |b| b.is_ascii_whitespace() || b == 0x0b);
    let s = &s[start..];
    let mut end = 0;
    if matches!(s.first(), Some(b'+') | Some(b'-')) {
        end = 1;
    }
    let int_digits = run_len(&s[end..], |b| b.is_ascii_digit());
    end += int_digits;
    let mut frac_digits = 0;
    if s.get(end) == Some(&b'.') {
        frac_digits = run_len(&s[end + 1..], |b| b.is_ascii_digit());
        if int_digits > 0 || frac_digits > 0 {
            end += 1 + frac_digits;
        }
    }
    if int_digits == 0 && frac_digits == 0 {
        return 0.0;
    }
    if matches!(s.get(end), Some(b'e') | Some(b'E')) {
        let mut e = end + 1;
        if matches!(s.get(e), Some(b'+') | Some(b'-')) {
            e += 1;
        }
        let exp_digits = run_len(&s[e..], |b| b.is_ascii_digit());
        if exp_digits > 0 {
            end = e + exp_digits;
        }
    }
    std::str::from_utf8(&s[..end])
        .ok()
        .and_then(|t| t.parse::<f64>().ok())
        .unwrap_or(0.0)
}

/// Removes the underscores, as the option parser does before converting a number.
pub(crate) fn without_underscores(s: &[u8]) -> Vec<u8> {
    s.iter().copied().filter(|&b| b != b'_').collect()
}

/// The value of an accepted extended integer: Perl's `oct()` when it starts with `0`
/// (hex, binary or octal), else the decimal value. Saturates instead of overflowing.
pub(crate) fn ext_int_value(s: &[u8]) -> f64 {
    let s = without_underscores(s);
    let t = strip_final_newline(&s).to_ascii_lowercase();
    if t.first() != Some(&b'0') {
        return numify(&t);
    }
    let (digits, radix) = if let Some(h) = t.strip_prefix(b"0x") {
        (h, 16)
    } else if let Some(b) = t.strip_prefix(b"0b") {
        (b, 2)
    } else {
        (&t[..], 8)
    };
    digits.iter().fold(0.0, |acc: f64, &d| {
        let v = char::from(d).to_digit(radix).unwrap_or(0);
        acc * f64::from(radix) + f64::from(v)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_follow_sec() {
        for ok in [
            "3", "+3", "-1", "03", "1_0", "_1", "+_1", "-_1", "1_", "0_9", "5\n",
        ] {
            assert!(is_int(ok.as_bytes()), "{ok:?} should be accepted");
        }
        for bad in ["", "abc", "3x", " 3", "0x3", "1.5", "-", "_", "5\n\n"] {
            assert!(!is_int(bad.as_bytes()), "{bad:?} should be refused");
        }
    }

    #[test]
    fn extended_integers_follow_sec() {
        for ok in [
            "0x1ff", "0b111", "0777", "0_7_7", "1_0", "0X1F", "0B11", "512", "-1", "0", "00",
        ] {
            assert!(is_ext_int(ok.as_bytes()), "{ok:?} should be accepted");
        }
        for bad in ["0999", "08", "0o17", "0x", "0b", "+0x10", "abc", "-0", ""] {
            assert!(!is_ext_int(bad.as_bytes()), "{bad:?} should be refused");
        }
        assert_eq!(ext_int_value(b"0x1ff"), 511.0);
        assert_eq!(ext_int_value(b"0b000010111"), 23.0);
        assert_eq!(ext_int_value(b"0027"), 23.0);
        assert_eq!(ext_int_value(b"0_7_7"), 63.0);
        assert_eq!(ext_int_value(b"23"), 23.0);
        assert_eq!(ext_int_value(b"-1"), -1.0);
        assert_eq!(ext_int_value(b"0X1F"), 31.0);
    }

    #[test]
    fn reals_follow_sec() {
        for ok in [
            ".5", "+.5", "-.5e-3", "1_0.5", "+1e-2", "1E3", "1e+3", "0x10", "0b11", "0b12", "010",
            "-0x1", "0_x1", "+0x1", "0x_1", "1.5e_3", "1__", "1.5_", "1e_", "1e1_", "09", "00",
            "1_", "2",
        ] {
            assert!(is_real(ok.as_bytes()), "{ok:?} should be accepted");
        }
        for bad in [
            "5.", "e3", ".", "inf", "1e", " 1", "0x1.8", "_1", "0x1g", "0xg", "0X1F", "1e3.5",
            "1.5.5", "0b", "0x", "-_1", "",
        ] {
            assert!(!is_real(bad.as_bytes()), "{bad:?} should be refused");
        }
    }

    #[test]
    fn numify_is_perls() {
        assert_eq!(numify(b"0x10"), 0.0);
        assert_eq!(numify(b"1e"), 1.0);
        assert_eq!(numify(b".5"), 0.5);
        assert_eq!(numify(b"+.5"), 0.5);
        assert_eq!(numify(b"1e3"), 1000.0);
        assert_eq!(numify(b"10.5"), 10.5);
        assert_eq!(numify(b"abc"), 0.0);
        assert_eq!(numify(b"-3"), -3.0);
        assert_eq!(numify(b"99999999999999999999999"), 1e23);
    }
}
