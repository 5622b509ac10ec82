//! Builtins that work on plain values: sprintf, number parsing, time and file status.

use super::value::{format_g, Value};

/// Perl's `sprintf`: `%s %d %i %u %c %f %F %e %E %g %G %x %X %o %b %%`, flags `-+ 0#`,
/// widths and precisions (also `*`).
pub fn sprintf(fmt: &str, args: &[Value]) -> String {
    let mut out = String::with_capacity(fmt.len() + 16);
    let chars: Vec<char> = fmt.chars().collect();
    let mut ai = 0;
    let next_arg = |ai: &mut usize| -> Value {
        let v = args.get(*ai).cloned().unwrap_or_default();
        *ai += 1;
        v
    };
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c != '%' {
            out.push(c);
            i += 1;
            continue;
        }
        let start = i;
        i += 1;
        let mut left = false;
        let mut plus = false;
        let mut space = false;
        let mut zero = false;
        let mut alt = false;
        while i < chars.len() {
            match chars[i] {
                '-' => left = true,
                '+' => plus = true,
                ' ' => space = true,
                '0' => zero = true,
                '#' => alt = true,
                _ => break,
            }
            i += 1;
        }
        let mut width: Option<usize> = None;
        if i < chars.len() && chars[i] == '*' {
            let w = next_arg(&mut ai).to_int();
            if w < 0 {
                left = true;
            }
            width = Some(w.unsigned_abs() as usize);
            i += 1;
        } else {
            let mut w = String::new();
            while i < chars.len() && chars[i].is_ascii_digit() {
                w.push(chars[i]);
                i += 1;
            }
            if !w.is_empty() {
                width = w.parse().ok();
            }
        }
        let mut prec: Option<usize> = None;
        if i < chars.len() && chars[i] == '.' {
            i += 1;
            if i < chars.len() && chars[i] == '*' {
                prec = Some(next_arg(&mut ai).to_int().max(0) as usize);
                i += 1;
            } else {
                let mut p = String::new();
                while i < chars.len() && chars[i].is_ascii_digit() {
                    p.push(chars[i]);
                    i += 1;
                }
                prec = Some(p.parse().unwrap_or(0));
            }
        }
        // length modifiers are accepted and ignored
        while i < chars.len() && matches!(chars[i], 'l' | 'h' | 'q' | 'L' | 'V') {
            i += 1;
        }
        let Some(&conv) = chars.get(i) else {
            out.extend(&chars[start..]);
            break;
        };
        i += 1;
        let width = width.map(|w| w.min(1 << 20));
        let prec = prec.map(|p| p.min(1 << 10));
        let (body, numeric) = match conv {
            '%' => {
                out.push('%');
                continue;
            }
            's' => {
                let s = next_arg(&mut ai).to_string_perl();
                let s = match prec {
                    Some(p) if p < s.len() => {
                        String::from_utf8_lossy(&s.as_bytes()[..p]).into_owned()
                    }
                    _ => s,
                };
                (s, false)
            }
            'c' => {
                let n = next_arg(&mut ai).to_int();
                (
                    char::from_u32(u32::try_from(n).unwrap_or(0xFFFD))
                        .unwrap_or('\u{FFFD}')
                        .to_string(),
                    false,
                )
            }
            'd' | 'i' | 'u' => {
                let v = next_arg(&mut ai);
                let n = match v.to_number() {
                    super::value::Num::I(i) => i as i128,
                    super::value::Num::F(f) => {
                        if f.is_nan() {
                            0
                        } else {
                            f.trunc().clamp(-1.8e19, 1.8e19) as i128
                        }
                    }
                };
                let mut digits = n.unsigned_abs().to_string();
                if let Some(p) = prec {
                    while digits.len() < p {
                        digits.insert(0, '0');
                    }
                    if p == 0 && n == 0 {
                        digits.clear();
                    }
                }
                let sign = if n < 0 {
                    "-"
                } else if plus {
                    "+"
                } else if space {
                    " "
                } else {
                    ""
                };
                (format!("{sign}{digits}"), prec.is_none())
            }
            'x' | 'X' | 'o' | 'b' | 'B' => {
                let v = next_arg(&mut ai);
                let n = match v.to_number() {
                    super::value::Num::I(i) => i as u64,
                    super::value::Num::F(f) => {
                        if f < 0.0 {
                            f as i64 as u64
                        } else {
                            f as u64
                        }
                    }
                };
                let mut digits = match conv {
                    'x' => format!("{n:x}"),
                    'X' => format!("{n:X}"),
                    'o' => format!("{n:o}"),
                    _ => format!("{n:b}"),
                };
                if let Some(p) = prec {
                    while digits.len() < p {
                        digits.insert(0, '0');
                    }
                }
                if alt && n != 0 {
                    let pre = match conv {
                        'x' => "0x",
                        'X' => "0X",
                        'o' => "0",
                        'b' => "0b",
                        _ => "0B",
                    };
                    if !(conv == 'o' && digits.starts_with('0')) {
                        digits.insert_str(0, pre);
                    }
                }
                (digits, prec.is_none())
            }
            'f' | 'F' | 'e' | 'E' | 'g' | 'G' => {
                let f = next_arg(&mut ai).to_num();
                let p = prec.unwrap_or(6);
                let mut s = if f.is_nan() {
                    "NaN".to_string()
                } else if f.is_infinite() {
                    if f > 0.0 { "Inf" } else { "-Inf" }.to_string()
                } else {
                    match conv {
                        'f' | 'F' => format!("{:.*}", p, f),
                        'e' | 'E' => {
                            let s = format!("{:.*e}", p, f);
                            let (m, e) = s.split_once('e').unwrap_or((&s, "0"));
                            let ev: i32 = e.parse().unwrap_or(0);
                            let sign = if ev < 0 { '-' } else { '+' };
                            let r = format!("{m}e{sign}{:02}", ev.abs());
                            if conv == 'E' {
                                r.to_uppercase()
                            } else {
                                r
                            }
                        }
                        _ => format_g(f, p, conv == 'G', alt),
                    }
                };
                if !s.starts_with('-') && f.is_finite() {
                    if plus {
                        s.insert(0, '+');
                    } else if space {
                        s.insert(0, ' ');
                    }
                }
                (s, f.is_finite())
            }
            other => {
                // unknown conversion: Perl prints it literally
                out.extend(&chars[start..i]);
                let _ = other;
                continue;
            }
        };
        // widths count bytes, as Perl does on undecoded text
        let len = body.len();
        match width {
            Some(w) if w > len => {
                let pad = w - len;
                if left {
                    out.push_str(&body);
                    out.push_str(&" ".repeat(pad));
                } else if zero && numeric {
                    let (sign, digits) = match body.chars().next() {
                        Some(c @ ('-' | '+' | ' ')) => (c.to_string(), &body[1..]),
                        _ => (String::new(), &body[..]),
                    };
                    let (pfx, digits) = if digits.starts_with("0x") || digits.starts_with("0X") {
                        (&digits[..2], &digits[2..])
                    } else {
                        ("", digits)
                    };
                    out.push_str(&sign);
                    out.push_str(pfx);
                    out.push_str(&"0".repeat(pad));
                    out.push_str(digits);
                } else {
                    out.push_str(&" ".repeat(pad));
                    out.push_str(&body);
                }
            }
            _ => out.push_str(&body),
        }
    }
    out
}

/// Perl's `hex`.
pub fn hex(s: &str) -> Value {
    let t = s.trim();
    let t = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .or_else(|| t.strip_prefix('x'))
        .unwrap_or(t);
    let digits: String = t
        .chars()
        .take_while(|c| c.is_ascii_hexdigit() || *c == '_')
        .filter(|c| *c != '_')
        .collect();
    u64::from_str_radix(&digits, 16)
        .map(|u| {
            if u <= i64::MAX as u64 {
                Value::Int(u as i64)
            } else {
                Value::Num(u as f64)
            }
        })
        .unwrap_or(Value::Int(0))
}

/// Perl's `oct` (also `0x`, `0b`, `0o` prefixes).
pub fn oct(s: &str) -> Value {
    let t = s.trim();
    let (radix, body) = if let Some(r) = t
        .strip_prefix("0x")
        .or_else(|| t.strip_prefix("0X"))
        .or_else(|| t.strip_prefix('x'))
    {
        (16, r)
    } else if let Some(r) = t
        .strip_prefix("0b")
        .or_else(|| t.strip_prefix("0B"))
        .or_else(|| t.strip_prefix('b'))
    {
        (2, r)
    } else if let Some(r) = t.strip_prefix("0o").or_else(|| t.strip_prefix('o')) {
        (8, r)
    } else {
        (8, t)
    };
    let digits: String = body
        .chars()
        .take_while(|c| c.is_digit(radix) || *c == '_')
        .filter(|c| *c != '_')
        .collect();
    Value::Int(i64::from_str_radix(&digits, radix).unwrap_or(0))
}

/// Perl's `index`/`rindex`, on bytes (Perl's view of undecoded text).
pub fn index(s: &str, t: &str, pos: Option<i64>, reverse: bool) -> i64 {
    let sc = s.as_bytes();
    let tc = t.as_bytes();
    let n = sc.len() as i64;
    let m = tc.len() as i64;
    if !reverse {
        let mut i = pos.unwrap_or(0).clamp(0, n);
        while i + m <= n {
            if &sc[i as usize..(i + m) as usize] == tc {
                return i;
            }
            i += 1;
        }
        -1
    } else {
        let start = pos.unwrap_or(n).clamp(0, n);
        let mut i = start.min(n - m);
        while i >= 0 {
            if &sc[i as usize..(i + m) as usize] == tc {
                return i;
            }
            i -= 1;
        }
        -1
    }
}

/// Perl's `quotemeta`.
pub fn quotemeta(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    for c in s.chars() {
        if c.is_ascii() && !(c.is_ascii_alphanumeric() || c == '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146097 + doe - 719468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719468;
    let era = if z >= 0 { z } else { z - 146096 } / 146097;
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

struct Tm {
    sec: i64,
    min: i64,
    hour: i64,
    mday: i64,
    mon: i64,
    year: i64,
    wday: i64,
    yday: i64,
}

fn tm(t: i64, gmt: bool) -> Tm {
    if gmt {
        let days = t.div_euclid(86400);
        let secs = t.rem_euclid(86400);
        let (y, m, d) = civil_from_days(days);
        Tm {
            sec: secs % 60,
            min: secs / 60 % 60,
            hour: secs / 3600,
            mday: d,
            mon: m,
            year: y,
            wday: (days + 4).rem_euclid(7),
            yday: days - days_from_civil(y, 1, 1),
        }
    } else {
        let l = crate::timefmt::local(t);
        let (y, m, d) = (l.year as i64, l.mon as i64, l.mday as i64);
        Tm {
            sec: l.sec as i64,
            min: l.min as i64,
            hour: l.hour as i64,
            mday: d,
            mon: m,
            year: y,
            wday: l.wday as i64,
            yday: days_from_civil(y, m, d) - days_from_civil(y, 1, 1),
        }
    }
}

/// `localtime`/`gmtime` in list context: (sec, min, hour, mday, mon, year, wday, yday, isdst).
/// isdst is always 0 (not known from the time-zone database interface used).
pub fn time_list(t: i64, gmt: bool) -> Vec<Value> {
    let x = tm(t, gmt);
    [
        x.sec,
        x.min,
        x.hour,
        x.mday,
        x.mon - 1,
        x.year - 1900,
        x.wday,
        x.yday,
        0,
    ]
    .into_iter()
    .map(Value::Int)
    .collect()
}

/// `localtime`/`gmtime` in scalar context: `Thu Sep  9 01:46:40 2001`.
pub fn time_string(t: i64, gmt: bool) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let x = tm(t, gmt);
    format!(
        "{} {} {:2} {:02}:{:02}:{:02} {}",
        DAYS[x.wday.clamp(0, 6) as usize],
        MONS[(x.mon - 1).clamp(0, 11) as usize],
        x.mday,
        x.hour,
        x.min,
        x.sec,
        x.year
    )
}

/// Perl's `stat`: 13 fields, or an empty list when the file cannot be examined.
pub fn stat(path: &str) -> Vec<Value> {
    use std::os::unix::fs::MetadataExt;
    match std::fs::metadata(path) {
        Ok(m) => [
            m.dev() as i64,
            m.ino() as i64,
            m.mode() as i64,
            m.nlink() as i64,
            m.uid() as i64,
            m.gid() as i64,
            m.rdev() as i64,
            m.size() as i64,
            m.atime(),
            m.mtime(),
            m.ctime(),
            m.blksize() as i64,
            m.blocks() as i64,
        ]
        .into_iter()
        .map(Value::Int)
        .collect(),
        Err(_) => Vec::new(),
    }
}
