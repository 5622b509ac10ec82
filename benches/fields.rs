//! Benchmark: field extraction from ~1 KB structured events (LogZilla-like JSON with
//! nested user_tags, and the same events as logfmt).
//! Run with `cargo bench --bench fields`; prints events/s per CPU second (median and best
//! of 5 runs) and per wall-clock second (median).

use std::hint::black_box;
use std::time::Instant;

use rsec::fields::{parse_json, parse_json_into, parse_logfmt_into, Fields};

const HOSTS: &[&str] = &[
    "core-rtr-01.dc1",
    "edge-fw-02.dc2",
    "dc-sw-17",
    "WIN-DC01.corp.example.com",
];
const MNEMONICS: &[&str] = &[
    "BGP-5-ADJCHANGE",
    "LINK-3-UPDOWN",
    "SYS-5-CONFIG_I",
    "SEC-6-IPACCESSLOGP",
];

/// One event of about 1 KB: the fields LogZilla sends, with a long message, escapes and
/// a little non-ASCII text.
fn event(i: usize) -> String {
    let host = HOSTS[i % HOSTS.len()];
    let mn = MNEMONICS[i % MNEMONICS.len()];
    let ip = format!("10.{}.{}.{}", i % 256, (i / 256) % 256, i % 251);
    let message = format!(
        "%{mn}: neighbor {ip} vpn vrf CUST-{} {} (hold time expired) after {} s; \
         peer \\\"AS{}\\\" session reset by \\\"bgp-daemon\\\", last update {}ms ago, \
         prefixes received {} accepted {} — interface GigabitEthernet0/{}/{} \
         description \\\"uplink to café-core\\\" state changed, counters: in {} out {} \
         errors {} drops {} crc {} (event {i})",
        i % 97,
        if i.is_multiple_of(2) { "Down" } else { "Up" },
        i % 3600,
        64512 + i % 1000,
        i % 10_000,
        i % 800_000,
        i % 700_000,
        i % 4,
        i % 48,
        i * 7919 % 1_000_000_007,
        i * 104_729 % 1_000_000_007,
        i % 13,
        i % 17,
        i % 5,
    );
    format!(
        concat!(
            r#"{{"id":{},"ts":1714070400.{:06},"first_occurrence":1714070400{:06},"#,
            r#""host":"{}","program":"cisco_ios","severity":{},"facility":23,"#,
            r#""cisco_mnemonic":"{}","message":"{}","#,
            r#""user_tags":{{"srcip":"{}","dstip":"192.168.{}.{}","srcport":{},"dstport":179,"#,
            r#""site":"DC{}","service":"bgp","cpu_usage":{},"memory_usage":{},"#,
            r#""MSWin EventID":"{}","MSWin Failed Login User":"svc_backup{}"}},"#,
            r#""status":"unknown","repeat":false,"tags":["network","bgp","prod"],"#,
            r#""counter":{},"extra":null,"event_type":"network_routing","source":"syslog-ng relay 3 (rack A)"}}"#
        ),
        i,
        i % 1_000_000,
        i % 1_000_000,
        host,
        i % 8,
        mn,
        message,
        ip,
        i % 256,
        i % 200,
        1024 + i % 60_000,
        i % 4,
        i % 100,
        (i * 7) % 100,
        4624 + i % 2,
        i % 10,
        i,
    )
}

/// The same fields as logfmt, quoting values with spaces.
fn to_logfmt(f: &Fields) -> String {
    let mut s = String::new();
    for (n, v) in f.iter() {
        let v = String::from_utf8_lossy(v);
        let n = String::from_utf8_lossy(n).replace(' ', "_");
        if v.is_empty() || v.contains([' ', '"', '=']) {
            s.push_str(&format!(
                "{n}=\"{}\" ",
                v.replace('\\', "\\\\").replace('"', "\\\"")
            ));
        } else {
            s.push_str(&format!("{n}={v} "));
        }
    }
    s
}

/// CPU time of this thread: the machine may be shared, and wall time then measures the
/// neighbours; both are printed.
fn cpu_now() -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: a valid clock id and a pointer to a live timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

fn run(name: &str, lines: &[Vec<u8>], rounds: usize, mut f: impl FnMut(&[u8]) -> usize) {
    // FIELDS_BENCH=<substring> runs only the matching cases (for profiling).
    if let Ok(only) = std::env::var("FIELDS_BENCH") {
        if !name.contains(&only) {
            return;
        }
    }
    let bytes: usize = lines.iter().map(|l| l.len()).sum::<usize>() * rounds;
    let events = (lines.len() * rounds) as f64;
    let (mut wall, mut cpu) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        let (t, c) = (Instant::now(), cpu_now());
        let mut n = 0;
        for _ in 0..rounds {
            for l in lines {
                n += f(black_box(l));
            }
        }
        black_box(n);
        cpu.push(cpu_now() - c);
        wall.push(t.elapsed().as_secs_f64());
    }
    wall.sort_by(f64::total_cmp);
    cpu.sort_by(f64::total_cmp);
    println!(
        "{name:<34} {:>9.0} events/s CPU ({:>6.1} MB/s; best {:.0}), {:>9.0} events/s wall",
        events / cpu[2],
        bytes as f64 / cpu[2] / 1e6,
        events / cpu[0],
        events / wall[2],
    );
}

fn main() {
    let json: Vec<Vec<u8>> = (0..10_000).map(|i| event(i).into_bytes()).collect();
    let avg = json.iter().map(|l| l.len()).sum::<usize>() / json.len();
    let first = parse_json(&json[0]).expect("valid event");
    println!(
        "{} JSON events, {avg} bytes on average, {} fields each",
        json.len(),
        first.len()
    );
    let logfmt: Vec<Vec<u8>> = json
        .iter()
        .map(|l| to_logfmt(&parse_json(l).unwrap()).into_bytes())
        .collect();
    let rounds = 20;

    run("parse_json (new Fields each)", &json, rounds, |l| {
        parse_json(l).map(|f| f.len()).unwrap_or(0)
    });
    let mut reuse = Fields::new();
    run("parse_json_into (reused Fields)", &json, rounds, |l| {
        parse_json_into(l, &mut reuse)
            .map(|_| reuse.len())
            .unwrap_or(0)
    });
    run("parse_json_into + 3 lookups", &json, rounds, |l| {
        parse_json_into(l, &mut reuse).unwrap();
        reuse.get(b"host").map_or(0, |v| v.len())
            + reuse.get(b"message").map_or(0, |v| v.len())
            + reuse
                .get_env(b"EVENT_USER_TAGS_SRCIP")
                .map_or(0, |v| v.len())
    });
    run("serde_json::Value (reference)", &json, rounds, |l| {
        serde_json::from_slice::<serde_json::Value>(l)
            .map(|v| v.as_object().map_or(0, |o| o.len()))
            .unwrap_or(0)
    });
    run("parse_logfmt_into (reused Fields)", &logfmt, rounds, |l| {
        parse_logfmt_into(l, &mut reuse);
        reuse.len()
    });
}
