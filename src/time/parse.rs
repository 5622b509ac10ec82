//! Time stamps in log lines: finding them and turning them into epoch seconds.
//!
//! Owns the formats rsec recognises (RFC 3164 with year inference, RFC 5424 / ISO 8601 with
//! zones and fractions, epoch seconds and milliseconds, a user regex with a strftime-like
//! format) and the caches that make the common ones fast. Calendar arithmetic is jiff's:
//! the fast paths only split digits and look up the epoch second of the hour in a one-entry
//! cache filled by jiff. It knows nothing about the engine or the input files.

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use regex::bytes::Regex;

/// An error in the time-stamp options (`--tz`, `--timestamp-regex`, `--timestamp-format`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseSetupError(pub String);

impl std::fmt::Display for ParseSetupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ParseSetupError {}

/// The epoch second of the start of one civil hour in one zone, with a flag telling whether
/// the whole hour has the same UTC offset (no transition inside it).
#[derive(Clone, Copy, Debug, Default)]
struct HourSlot {
    key: u64,
    base: i64,
    uniform: bool,
}

/// A one-entry cache of [`HourSlot`]s for one zone: logs are nearly sorted, so one entry
/// serves thousands of lines and a miss costs one jiff conversion.
struct HourCache {
    tz: TimeZone,
    slot: HourSlot,
}

impl HourCache {
    fn new(tz: TimeZone) -> Self {
        HourCache {
            tz,
            slot: HourSlot::default(),
        }
    }

    /// Epoch seconds of a civil time in this cache's zone (the earlier one of an ambiguous
    /// time, jiff's "compatible" choice); None for an impossible date.
    #[inline]
    fn epoch(&mut self, y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Option<i64> {
        if mi > 59 || s > 60 || h > 23 {
            return None;
        }
        let s = s.min(59);
        let key = ((y as u64) << 32) | ((mo as u64) << 16) | ((d as u64) << 8) | h as u64;
        if key != self.slot.key || self.slot.key == 0 {
            let start = self.civil(y, mo, d, h, 0, 0)?;
            let end = self.civil(y, mo, d, h, 59, 59)?;
            self.slot = HourSlot {
                key,
                base: start,
                uniform: end - start == 3599,
            };
        }
        if self.slot.uniform {
            Some(self.slot.base + (mi * 60 + s) as i64)
        } else {
            self.civil(y, mo, d, h, mi, s)
        }
    }

    fn civil(&self, y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> Option<i64> {
        let dt = DateTime::new(
            i16::try_from(y).ok()?,
            mo as i8,
            d as i8,
            h as i8,
            mi as i8,
            s as i8,
            0,
        )
        .ok()?;
        let ts = self.tz.to_ambiguous_timestamp(dt).compatible().ok()?;
        Some(ts.as_second())
    }
}

/// The year of RFC 3164 time stamps, which have none: the first one takes the year that
/// puts it not after tomorrow (so a December log read in January is last year's); after
/// that, a month more than six months before the previous one starts the next year (New
/// Year), and one more than six months after it is a straggler from the year before.
#[derive(Clone, Copy, Debug)]
struct YearGuess {
    year: i32,
    month: u32,
    known: bool,
    /// The reference "today" (year, month, day) for the first guess.
    today: (i32, u32, u32),
}

impl YearGuess {
    fn year_for(&mut self, month: u32, day: u32) -> i32 {
        if !self.known {
            let (ty, tm, td) = self.today;
            self.year = if month * 32 + day > tm * 32 + td + 1 {
                ty - 1
            } else {
                ty
            };
            self.month = month;
            self.known = true;
            return self.year;
        }
        if month + 6 < self.month {
            self.year += 1;
            self.month = month;
            self.year
        } else if month > self.month + 6 {
            self.year - 1
        } else {
            self.month = month;
            self.year
        }
    }
}

/// A user-given time stamp: a regex that finds it (group `ts`, else group 1, else the whole
/// match) and an optional strftime-like format (jiff's `strptime`).
struct UserFormat {
    re: Regex,
    format: Option<String>,
}

/// Finds and converts the time stamp of a line. Keep one per input stream: it remembers
/// the year of RFC 3164 stamps and caches the last hour.
pub struct TimestampParser {
    local: HourCache,
    utc: HourCache,
    year: YearGuess,
    user: Option<UserFormat>,
}

/// Months as their three ASCII bytes, little-endian, case-sensitive as syslog writes them.
#[inline]
fn month3(b: &[u8]) -> Option<u32> {
    let k = u32::from_le_bytes([b[0], b[1], b[2], 0]);
    const fn m(s: &[u8; 3]) -> u32 {
        u32::from_le_bytes([s[0], s[1], s[2], 0])
    }
    Some(match k {
        k if k == m(b"Jan") => 1,
        k if k == m(b"Feb") => 2,
        k if k == m(b"Mar") => 3,
        k if k == m(b"Apr") => 4,
        k if k == m(b"May") => 5,
        k if k == m(b"Jun") => 6,
        k if k == m(b"Jul") => 7,
        k if k == m(b"Aug") => 8,
        k if k == m(b"Sep") => 9,
        k if k == m(b"Oct") => 10,
        k if k == m(b"Nov") => 11,
        k if k == m(b"Dec") => 12,
        _ => return None,
    })
}

#[inline]
fn d2(b: &[u8], i: usize) -> Option<u32> {
    let (x, y) = (
        b.get(i)?.wrapping_sub(b'0'),
        b.get(i + 1)?.wrapping_sub(b'0'),
    );
    if x < 10 && y < 10 {
        Some(x as u32 * 10 + y as u32)
    } else {
        None
    }
}

#[inline]
fn digits(b: &[u8]) -> usize {
    b.iter().take_while(|c| c.is_ascii_digit()).count()
}

/// Skips a syslog priority `<N>` and an RFC 5424 version `1 ` after it.
#[inline]
fn skip_prefix(line: &[u8]) -> &[u8] {
    if line.first() != Some(&b'<') {
        return line;
    }
    let n = digits(&line[1..]);
    if !(1..=3).contains(&n) || line.get(n + 1) != Some(&b'>') {
        return line;
    }
    let rest = &line[n + 2..];
    match rest {
        [v, b' ', ..] if v.is_ascii_digit() => &rest[2..],
        _ => rest,
    }
}

impl TimestampParser {
    /// A parser for stamps without a zone in `tz` (an IANA name; None for the system zone),
    /// with an optional user regex and format. `today` is epoch seconds of "now", the
    /// reference for the first RFC 3164 year.
    pub fn new(
        tz: Option<&str>,
        regex: Option<&str>,
        format: Option<&str>,
        today: i64,
    ) -> Result<Self, ParseSetupError> {
        let zone = match tz {
            Some(name) => TimeZone::get(name)
                .map_err(|e| ParseSetupError(format!("Invalid time zone '{name}': {e}")))?,
            None => TimeZone::system(),
        };
        let user = match regex {
            Some(r) => Some(UserFormat {
                re: Regex::new(r).map_err(|e| {
                    ParseSetupError(format!("Invalid --timestamp-regex '{r}': {e}"))
                })?,
                format: format.map(str::to_string),
            }),
            None => format.map(|f| UserFormat {
                re: Regex::new(r"^.*$").expect("static regex"),
                format: Some(f.to_string()),
            }),
        };
        let now = jiff::Timestamp::from_second(today)
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
            .to_zoned(zone.clone());
        Ok(TimestampParser {
            local: HourCache::new(zone),
            utc: HourCache::new(TimeZone::UTC),
            year: YearGuess {
                year: 0,
                month: 0,
                known: false,
                today: (now.year() as i32, now.month() as u32, now.day() as u32),
            },
            user,
        })
    }

    /// The time stamp of a line in epoch seconds (fractions dropped), or None.
    #[inline]
    pub fn parse(&mut self, line: &[u8]) -> Option<i64> {
        if self.user.is_some() {
            return self.parse_user(line);
        }
        let b = skip_prefix(line);
        if let Some(t) = self.fast(b) {
            return Some(t);
        }
        self.general(b)
    }

    /// The zero-allocation paths: RFC 3164, ISO 8601 / RFC 5424, epoch, at `b`'s start.
    #[inline]
    fn fast(&mut self, b: &[u8]) -> Option<i64> {
        let first = *b.first()?;
        if first.is_ascii_uppercase() {
            return self.rfc3164(b);
        }
        if !first.is_ascii_digit() {
            return None;
        }
        if b.len() >= 19 && b[4] == b'-' {
            return self.iso(b);
        }
        epoch(b)
    }

    /// `Mmm dd hh:mm:ss` (day space- or zero-padded).
    #[inline]
    fn rfc3164(&mut self, b: &[u8]) -> Option<i64> {
        if b.len() < 15 || b[3] != b' ' || b[9] != b':' || b[12] != b':' {
            return None;
        }
        let mo = month3(b)?;
        let d = match b[4] {
            b' ' => (b[5].wrapping_sub(b'0') < 10).then(|| (b[5] - b'0') as u32)?,
            _ => d2(b, 4)?,
        };
        if b[6] != b' ' {
            return None;
        }
        let (h, mi, s) = (d2(b, 7)?, d2(b, 10)?, d2(b, 13)?);
        let y = self.year.year_for(mo, d);
        self.local.epoch(y, mo, d, h, mi, s)
    }

    /// `YYYY-MM-DD[T ]hh:mm:ss[.frac][Z|±hh:mm|±hhmm|±hh]`; no zone means `--tz`.
    #[inline]
    fn iso(&mut self, b: &[u8]) -> Option<i64> {
        let y = d2(b, 0)? * 100 + d2(b, 2)?;
        if b[7] != b'-' || !(b[10] == b'T' || b[10] == b' ' || b[10] == b't') {
            return None;
        }
        if b[13] != b':' || b[16] != b':' {
            return None;
        }
        let (mo, d, h, mi, s) = (d2(b, 5)?, d2(b, 8)?, d2(b, 11)?, d2(b, 14)?, d2(b, 17)?);
        let mut i = 19;
        if matches!(b.get(i), Some(b'.') | Some(b',')) {
            i += 1 + digits(&b[i + 1..]);
        }
        let off = match b.get(i) {
            Some(b'Z') | Some(b'z') => Some(0),
            Some(&c @ (b'+' | b'-')) => {
                let oh = d2(b, i + 1)? as i64;
                let om = match b.get(i + 3) {
                    Some(b':') => d2(b, i + 4)?,
                    Some(c) if c.is_ascii_digit() => d2(b, i + 3)?,
                    _ => 0,
                } as i64;
                let o = oh * 3600 + om * 60;
                Some(if c == b'-' { -o } else { o })
            }
            _ => None,
        };
        match off {
            Some(o) => Some(self.utc.epoch(y as i32, mo, d, h, mi, s)? - o),
            None => self.local.epoch(y as i32, mo, d, h, mi, s),
        }
    }

    /// What the fast paths miss: the first word parsed by jiff as an instant (with a zone)
    /// or as a civil date-time in `--tz`.
    #[cold]
    fn general(&mut self, b: &[u8]) -> Option<i64> {
        let end = b
            .iter()
            .position(|c| c.is_ascii_whitespace())
            .unwrap_or(b.len());
        let word = std::str::from_utf8(&b[..end]).ok()?;
        if word.len() < 10 || !word.as_bytes()[0].is_ascii_digit() {
            return None;
        }
        if let Ok(ts) = word.parse::<jiff::Timestamp>() {
            return Some(ts.as_second());
        }
        let dt = word.parse::<DateTime>().ok()?;
        let ts = self.local.tz.to_ambiguous_timestamp(dt).compatible().ok()?;
        Some(ts.as_second())
    }

    /// `--timestamp-regex` / `--timestamp-format`.
    fn parse_user(&mut self, line: &[u8]) -> Option<i64> {
        let u = self.user.as_ref()?;
        let caps = u.re.captures(line)?;
        let m = caps
            .name("ts")
            .or_else(|| caps.get(1))
            .or_else(|| caps.get(0))?;
        let text = m.as_bytes();
        let Some(fmt) = u.format.clone() else {
            let b = skip_prefix(text);
            return self.fast(b).or_else(|| self.general(b));
        };
        let mut bdt = jiff::fmt::strtime::parse(fmt.as_bytes(), text).ok()?;
        if bdt.timestamp().is_some() || bdt.offset().is_some() {
            if let Ok(ts) = bdt.to_timestamp() {
                return Some(ts.as_second());
            }
        }
        if bdt.year().is_none() {
            let (mo, d) = (bdt.month()? as u32, bdt.day()? as u32);
            let y = self.year.year_for(mo, d);
            bdt.set_year(i16::try_from(y).ok()).ok()?;
        }
        let dt = bdt.to_datetime().ok()?;
        let ts = self.local.tz.to_ambiguous_timestamp(dt).compatible().ok()?;
        Some(ts.as_second())
    }
}

/// Epoch seconds (10 digits, optional fraction) or milliseconds (13 digits) at the start.
#[inline]
fn epoch(b: &[u8]) -> Option<i64> {
    let n = digits(b);
    if let Some(c) = b.get(n) {
        if c.is_ascii_alphanumeric() || (*c == b'.' && n != 10) || *c == b':' || *c == b'-' {
            return None;
        }
    }
    let v = b[..n].iter().fold(0i64, |a, c| a * 10 + (c - b'0') as i64);
    match n {
        10 => Some(v),
        13 => Some(v.div_euclid(1000)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-11-23 12:00:00 UTC
    const TODAY: i64 = 1_795_435_200;

    fn p(tz: &str) -> TimestampParser {
        TimestampParser::new(Some(tz), None, None, TODAY).unwrap()
    }

    fn at(s: &str) -> i64 {
        s.parse::<jiff::Timestamp>().unwrap().as_second()
    }

    #[test]
    fn rfc3164_formats() {
        let mut x = p("UTC");
        assert_eq!(
            x.parse(b"Nov 22 08:00:01 host sshd[1]: x"),
            Some(at("2026-11-22T08:00:01Z"))
        );
        assert_eq!(
            x.parse(b"<34>Nov  2 08:00:01 h"),
            Some(at("2026-11-02T08:00:01Z"))
        );
        assert_eq!(x.parse(b"Foo 22 08:00:01 h"), None);
        assert_eq!(x.parse(b"no stamp here"), None);
    }

    #[test]
    fn rfc3164_year_inference_and_new_year() {
        let mut x = p("UTC");
        // After "today" (Nov 23): last year's December.
        assert_eq!(
            x.parse(b"Dec 31 23:59:59 a"),
            Some(at("2025-12-31T23:59:59Z"))
        );
        assert_eq!(
            x.parse(b"Jan  1 00:00:01 a"),
            Some(at("2026-01-01T00:00:01Z"))
        );
        // A straggler from December after the new year stays in the old year.
        assert_eq!(
            x.parse(b"Dec 31 23:59:58 a"),
            Some(at("2025-12-31T23:59:58Z"))
        );
        assert_eq!(
            x.parse(b"Jan  1 00:00:02 a"),
            Some(at("2026-01-01T00:00:02Z"))
        );
    }

    #[test]
    fn rfc3164_in_zone_with_dst() {
        let mut x = p("Europe/Helsinki");
        assert_eq!(
            x.parse(b"Jul  1 12:00:00 a"),
            Some(at("2026-07-01T09:00:00Z"))
        );
        // 2026-03-29 03:00 local becomes 04:00 (EET -> EEST); 03:30 does not exist and
        // jiff's compatible choice moves it forward.
        assert_eq!(
            x.parse(b"Jul  1 12:00:00 a"),
            Some(at("2026-07-01T09:00:00Z"))
        );
        let mut y = p("Europe/Helsinki");
        assert_eq!(
            y.parse(b"Mar 29 02:59:59 a"),
            Some(at("2026-03-29T00:59:59Z"))
        );
        assert_eq!(
            y.parse(b"Mar 29 04:00:00 a"),
            Some(at("2026-03-29T01:00:00Z"))
        );
    }

    #[test]
    fn iso_and_rfc5424() {
        let mut x = p("Europe/Helsinki");
        assert_eq!(
            x.parse(b"<165>1 2026-11-22T08:00:01.123456+02:00 host app - - - msg"),
            Some(at("2026-11-22T06:00:01Z"))
        );
        assert_eq!(
            x.parse(b"2026-11-22T08:00:01Z x"),
            Some(at("2026-11-22T08:00:01Z"))
        );
        assert_eq!(
            x.parse(b"2026-11-22 08:00:01 x"),
            Some(at("2026-11-22T06:00:01Z"))
        );
        assert_eq!(
            x.parse(b"2026-11-22T08:00:01-0530 x"),
            Some(at("2026-11-22T13:30:01Z"))
        );
        assert_eq!(
            x.parse(b"2026-11-22T08:00:01,5+01 x"),
            Some(at("2026-11-22T07:00:01Z"))
        );
    }

    #[test]
    fn epochs() {
        let mut x = p("UTC");
        assert_eq!(x.parse(b"1795435200 x"), Some(1_795_435_200));
        assert_eq!(x.parse(b"1795435200.25 x"), Some(1_795_435_200));
        assert_eq!(x.parse(b"1795435200999 x"), Some(1_795_435_200));
        assert_eq!(x.parse(b"12345 x"), None);
        assert_eq!(x.parse(b"1795435200abc"), None);
    }

    #[test]
    fn user_regex_and_format() {
        let mut x = TimestampParser::new(
            Some("UTC"),
            Some(r"\[(\d\d/\w+/\d{4}:\d\d:\d\d:\d\d [+-]\d{4})\]"),
            Some("%d/%b/%Y:%H:%M:%S %z"),
            TODAY,
        )
        .unwrap();
        assert_eq!(
            x.parse(b"1.2.3.4 - - [22/Nov/2026:08:00:01 +0100] \"GET / HTTP/1.1\" 200"),
            Some(at("2026-11-22T07:00:01Z"))
        );
        let mut y = TimestampParser::new(
            Some("UTC"),
            Some(r"^\S+ (?P<ts>\w+ +\d+ [\d:]+)"),
            Some("%b %e %H:%M:%S"),
            TODAY,
        )
        .unwrap();
        assert_eq!(
            y.parse(b"host Nov 22 08:00:01 x"),
            Some(at("2026-11-22T08:00:01Z"))
        );
        assert!(TimestampParser::new(Some("Nowhere/Else"), None, None, TODAY).is_err());
        assert!(TimestampParser::new(None, Some("("), None, TODAY).is_err());
    }
}
