//! Local calendar time for the log prefix, `%t`, the `%.` time variables and Calendar rules.
//! It owns the conversion from epoch seconds to local broken-down time (through the system
//! time-zone database) and Perl's `scalar localtime` text; it knows nothing about events.

use jiff::{tz::TimeZone, Timestamp, Zoned};

/// A local broken-down time, as Perl's `localtime` gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LocalTime {
    /// Seconds, 0..=60.
    pub sec: i32,
    /// Minutes, 0..=59.
    pub min: i32,
    /// Hours, 0..=23.
    pub hour: i32,
    /// Day of the month, 1..=31.
    pub mday: i32,
    /// Month, 1..=12.
    pub mon: i32,
    /// Full year, e.g. 2026.
    pub year: i32,
    /// Day of the week, 0 (Sunday)..=6.
    pub wday: i32,
    /// Days in this month (for Calendar's day 0, the last day).
    pub days_in_month: i32,
    /// Time-zone abbreviation, e.g. `UTC`, `EET`.
    pub tzname: String,
    /// Offset from UTC in seconds.
    pub tzoff: i32,
}

fn zoned(epoch: i64) -> Zoned {
    let ts = Timestamp::from_second(epoch).unwrap_or(Timestamp::UNIX_EPOCH);
    ts.to_zoned(TimeZone::system())
}

/// Converts epoch seconds to local time.
pub fn local(epoch: i64) -> LocalTime {
    let z = zoned(epoch);
    let tzname = z.strftime("%Z").to_string();
    LocalTime {
        sec: z.second() as i32,
        min: z.minute() as i32,
        hour: z.hour() as i32,
        mday: z.day() as i32,
        mon: z.month() as i32,
        year: z.year() as i32,
        wday: z.weekday().to_sunday_zero_offset() as i32,
        days_in_month: z.days_in_month() as i32,
        tzname,
        tzoff: z.offset().seconds(),
    }
}

/// Perl's `scalar localtime(epoch)`: `Mon Nov 23 17:50:01 2026`.
pub fn ctime(epoch: i64) -> String {
    zoned(epoch).strftime("%a %b %e %H:%M:%S %Y").to_string()
}

/// [`ctime`] of the current wall-clock second.
pub fn ctime_now() -> String {
    ctime(now())
}

/// The wall clock in whole seconds, as SEC's `time()`.
pub fn now() -> i64 {
    // The coarse clock is read without a hardware counter (the kernel's last tick, a few
    // milliseconds old at most): whole seconds are all SEC's time() gives, and the event
    // loop asks several times per line.
    match nix::time::clock_gettime(nix::time::ClockId::CLOCK_REALTIME_COARSE) {
        Ok(ts) => ts.tv_sec(),
        Err(_) => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctime_matches_perl_shape() {
        let s = ctime(0);
        assert_eq!(s.len(), 24, "{s}");
        assert!(s.ends_with("1970") || s.ends_with("1969"));
    }
}
