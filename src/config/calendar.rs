//! Calendar rules' `time=` specification: five or six crontab-like fields (minute, hour,
//! day with 0 = last day of the month, month, weekday with 7 = Sunday, optional two-digit
//! year), parsed as SEC 2.9.1 parses them, and the test of a local time against them.

use crate::config::context::SplitPerl;
use crate::timefmt::LocalTime;

/// A parsed `time=` value: the set of allowed values of each field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CalendarSpec {
    minutes: [bool; 60],
    hours: [bool; 24],
    days: [bool; 32],
    months: [bool; 12],
    weekdays: [bool; 7],
    years: [bool; 100],
}

/// Expands one field (`*`, `N`, `A-B`, `A-`, `-B`, lists, `/step`) into `set`, where the
/// field's values run from `min` to `max` and index `v + offset` is set for value `v`.
fn expand(spec: &str, min: i64, max: i64, offset: i64, set: &mut [bool]) -> bool {
    // Perl's split(/,/) drops trailing empty fields; an all-empty list is an error.
    let mut parts: Vec<&str> = spec.split(',').collect();
    while parts.last().is_some_and(|p| p.is_empty()) {
        parts.pop();
    }
    if parts.is_empty() {
        return false;
    }
    let number = |s: &str| -> Option<i64> {
        if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
            let digits = s.trim_start_matches('0');
            Some(if digits.is_empty() {
                0
            } else {
                digits.parse().unwrap_or(i64::MAX)
            })
        } else {
            None
        }
    };
    let mut mark = |from: i64, to: i64, step: i64| {
        let mut v = from;
        while v <= to {
            if let Some(slot) = usize::try_from(v + offset)
                .ok()
                .and_then(|i| set.get_mut(i))
            {
                *slot = true;
            }
            v += step;
        }
    };
    for part in parts {
        if part.is_empty() {
            continue;
        }
        let (body, step) = match part.rfind('/') {
            Some(pos) if pos > 0 => match number(&part[pos + 1..]) {
                Some(0) => return false,
                Some(s) => (&part[..pos], Some(s)),
                None => (part, None),
            },
            _ => (part, None),
        };
        if body == "*" {
            mark(min, max, step.unwrap_or(1));
            continue;
        }
        match body.find('-') {
            None => {
                let Some(v) = number(body) else { return false };
                if v < min || v > max || step.is_some() {
                    return false;
                }
                mark(v, v, 1);
            }
            Some(pos) => {
                let (a, b) = (&body[..pos], &body[pos + 1..]);
                let from = if a.is_empty() {
                    min
                } else {
                    match number(a) {
                        Some(v) if v >= min && v <= max => v,
                        _ => return false,
                    }
                };
                let to = if b.is_empty() {
                    max
                } else {
                    match number(b) {
                        Some(v) if v >= min && v <= max => v,
                        _ => return false,
                    }
                };
                mark(from, to, step.unwrap_or(1));
            }
        }
    }
    true
}

impl CalendarSpec {
    /// Parses a `time=` value; the error is SEC's message.
    pub fn parse(value: &str) -> Result<CalendarSpec, String> {
        let mut fields = value.split_whitespace_perl();
        if fields.len() < 5 || fields.len() > 6 {
            return Err("Wrong number of elements in time specification".into());
        }
        if fields.len() == 5 {
            fields.push("*".into());
        }
        let mut spec = CalendarSpec {
            minutes: [false; 60],
            hours: [false; 24],
            days: [false; 32],
            months: [false; 12],
            weekdays: [false; 7],
            years: [false; 100],
        };
        let mut weekdays = [false; 8];
        let checks: [(&str, bool); 6] = [
            ("minute", expand(&fields[0], 0, 59, 0, &mut spec.minutes)),
            ("hour", expand(&fields[1], 0, 23, 0, &mut spec.hours)),
            ("day", expand(&fields[2], 0, 31, 0, &mut spec.days)),
            ("month", expand(&fields[3], 1, 12, -1, &mut spec.months)),
            ("weekday", expand(&fields[4], 0, 7, 0, &mut weekdays)),
            ("year", expand(&fields[5], 0, 99, 0, &mut spec.years)),
        ];
        for (i, (what, ok)) in checks.iter().enumerate() {
            if !ok {
                return Err(format!("Invalid {what} specification '{}'", fields[i]));
            }
        }
        spec.weekdays.copy_from_slice(&weekdays[..7]);
        if weekdays[7] {
            spec.weekdays[0] = true;
        }
        Ok(spec)
    }

    /// True if the local time falls in the specification (day and weekday are ANDed; day
    /// 0 matches the last day of the month).
    pub fn matches(&self, t: &LocalTime) -> bool {
        let day_ok = self.days[t.mday as usize % 32] || (self.days[0] && t.mday == t.days_in_month);
        self.minutes[t.min as usize % 60]
            && self.hours[t.hour as usize % 24]
            && day_ok
            && self.months[(t.mon as usize + 11) % 12]
            && self.weekdays[t.wday as usize % 7]
            && self.years[t.year.rem_euclid(100) as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects_like_sec() {
        assert!(CalendarSpec::parse("* * * * *").is_ok());
        assert!(CalendarSpec::parse("*/5 0-6,20- -3 1,12 7 26").is_ok());
        assert!(CalendarSpec::parse("5/2 * * * *").is_err());
        assert!(CalendarSpec::parse("*/0 * * * *").is_err());
        assert!(CalendarSpec::parse("60 * * * *").is_err());
        assert!(CalendarSpec::parse("* * * 0 *").is_err());
        assert!(CalendarSpec::parse("* * * *").is_err());
        assert!(CalendarSpec::parse(", * * * *").is_err());
        assert!(CalendarSpec::parse("1,, * * * *").is_ok());
        assert_eq!(
            CalendarSpec::parse("* 24 * * *"),
            Err("Invalid hour specification '24'".into())
        );
    }

    #[test]
    fn last_day_and_sunday() {
        let s = CalendarSpec::parse("0 0 0 * 7").unwrap_or_else(|e| panic!("{e}"));
        let mut t = crate::timefmt::local(0);
        t.min = 0;
        t.hour = 0;
        t.mday = 30;
        t.days_in_month = 30;
        t.wday = 0;
        assert!(s.matches(&t));
        t.wday = 1;
        assert!(!s.matches(&t));
    }
}
