//! Benchmark: time stamps parsed per second, for each common format.
//! Run with `cargo bench --bench timestamps`; prints the best of several runs. The lines
//! are a day of syslog at about 60 lines a second (time stamps rise as in a real log),
//! so the hour cache behaves as it does on real input.

use std::hint::black_box;
use std::time::Instant;

use rsec::time::TimestampParser;

const N: usize = 2_000_000;
const START: i64 = 1_795_392_000; // 2026-11-23T00:00:00Z

fn lines(fmt: &str) -> Vec<Vec<u8>> {
    let tz = jiff::tz::TimeZone::UTC;
    (0..N)
        .map(|i| {
            let t = START + (i as i64) / 60;
            let z = jiff::Timestamp::from_second(t)
                .unwrap()
                .to_zoned(tz.clone());
            let stamp = z.strftime(fmt).to_string();
            format!("{stamp} web01 sshd[{i}]: Failed password for root from 10.0.0.1 port 22")
                .into_bytes()
        })
        .collect()
}

fn run(name: &str, data: &[Vec<u8>], tz: &str) -> f64 {
    let mut best = f64::MAX;
    for _ in 0..5 {
        let mut p = TimestampParser::new(Some(tz), None, None, START + 86_400).unwrap();
        let t = Instant::now();
        let mut sum = 0i64;
        for l in data {
            sum = sum.wrapping_add(p.parse(black_box(l)).unwrap_or(0));
        }
        black_box(sum);
        best = best.min(t.elapsed().as_secs_f64());
    }
    let rate = data.len() as f64 / best;
    println!("{name:<28} {:>8.1} M timestamps/s", rate / 1e6);
    rate
}

fn main() {
    let rfc3164 = lines("%b %e %H:%M:%S");
    let r = run("RFC 3164 (UTC)", &rfc3164, "UTC");
    run("RFC 3164 (Europe/Helsinki)", &rfc3164, "Europe/Helsinki");
    let pri: Vec<Vec<u8>> = rfc3164
        .iter()
        .map(|l| [b"<34>".as_slice(), l].concat())
        .collect();
    run("<PRI>RFC 3164", &pri, "UTC");
    run(
        "ISO 8601 / RFC 5424",
        &lines("%Y-%m-%dT%H:%M:%S%.6f%:z"),
        "UTC",
    );
    run("epoch seconds", &lines("%s"), "UTC");
    println!("RFC 3164 rate: {:.1} M/s (target >= 5 M/s)", r / 1e6);
}
