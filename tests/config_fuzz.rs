//! Property test of the rule-file loader: `rsec::config::parse_rule_text` must return (never
//! panic, never hang) on any bytes, and can never produce more rules than there are lines
//! mentioning `type`.
//!
//! Inputs are mutations of the shared corpus and of our rejection fixtures (lines deleted,
//! duplicated, swapped and spliced in; bytes deleted, inserted, duplicated and flipped, with a
//! bias towards the characters that matter to SEC's syntax), plus purely random rule-ish files.
//! A seeded xorshift-style PRNG (SplitMix64) keeps every run reproducible:
//!
//! * `RSEC_FUZZ_SEED=N` (decimal or 0x-hex) picks the seed (default: a fixed one);
//! * `RSEC_FUZZ_CASES=N` sets the number of cases (default 10 000).
//!
//! A failing input is shrunk by deleting lines, saved to a temp file, and reported.

mod common;

use rsec::config::{parse_rule_text, LoadOptions};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const DEFAULT_SEED: u64 = 0x5EC2_0901_F022_1E55;
const DEFAULT_CASES: u64 = 10_000;
/// A single parse taking longer than this is reported as a hang.
const HANG_LIMIT: Duration = Duration::from_secs(20);

/// SplitMix64: tiny, fast and good enough to drive mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

/// Bytes that matter to rule-file syntax, plus a few non-UTF-8 ones.
const SPECIAL_BYTES: &[u8] = b"\\()\n;=%$#[]{}! \t\r&|-:>/*,0129\x00\x80\xc3\xa9\xff\xfe";

/// Fragments spliced in as whole lines or inside lines.
const FRAGMENTS: &[&str] = &[
    "type=Single",
    "type=Pair",
    "type=PairWithWindow",
    "type=SingleWithThreshold",
    "type=SingleWith2Thresholds",
    "type=SingleWithSuppress",
    "type=SingleWithScript",
    "type=EventGroup3",
    "type=EventGroup0",
    "type=Suppress",
    "type=Calendar",
    "type=Jump",
    "type=Options",
    "ptype=RegExp",
    "ptype=RegExp2",
    "ptype=SubStr",
    "ptype=PerlFunc",
    "ptype=Cached",
    "ptype=TValue",
    "ptype2=NRegExp",
    "pattern=(\\S+) (\\d+)",
    "pattern=sub { 1 }",
    "pattern=TRUE",
    "pattern2=$1 %1",
    "desc=$1 %s",
    "desc=",
    "action=write - %s; create X 10 (add X $0); if %v ( none ) else ( none )",
    "action=lcall %o $1 -> ( sub { $_[0] } ); while %v ( break )",
    "action2=none",
    "context=A && !(B || C) && $1 -> ( sub { 1 } )",
    "context=[ varset x ]",
    "continue=GoTo L",
    "continue=TakeNext",
    "label=L",
    "varmap=a=1; b=2; c",
    "window=10",
    "thresh=0",
    "time=*/5 0-23 * 1,2 0-7",
    "egptype=RegExp",
    "egpattern=a(",
    "egtoken2=x",
    "rem=\\",
    "\\",
    "#",
    "",
    "   ",
    "==",
    "((((",
    "))",
    ";;",
];

/// Mutates `input` with 1 to 8 random edits.
fn mutate(rng: &mut Rng, input: &[u8], others: &[Vec<u8>]) -> Vec<u8> {
    let mut lines: Vec<Vec<u8>> = input.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
    for _ in 0..1 + rng.below(8) {
        let n = lines.len().max(1);
        match rng.below(9) {
            0 if !lines.is_empty() => {
                lines.remove(rng.below(n));
            }
            1 if !lines.is_empty() => {
                let l = lines[rng.below(lines.len())].clone();
                lines.insert(rng.below(n), l);
            }
            2 if lines.len() > 1 => {
                let (a, b) = (rng.below(lines.len()), rng.below(lines.len()));
                lines.swap(a, b);
            }
            3 => {
                let other = rng.pick(others);
                let l = other
                    .split(|&b| b == b'\n')
                    .nth(rng.below(40))
                    .unwrap_or(b"");
                lines.insert(rng.below(n), l.to_vec());
            }
            4 => {
                let frag = rng.pick(FRAGMENTS).as_bytes().to_vec();
                lines.insert(rng.below(n), frag);
            }
            _ => {
                // Byte-level edit inside one line (newlines may be inserted too).
                if lines.is_empty() {
                    lines.push(Vec::new());
                }
                let i = rng.below(lines.len());
                mutate_bytes(rng, &mut lines[i]);
            }
        }
    }
    lines.join(&b'\n')
}

fn mutate_bytes(rng: &mut Rng, line: &mut Vec<u8>) {
    let pos = rng.below(line.len() + 1);
    match rng.below(6) {
        0 if pos < line.len() => {
            line.remove(pos);
        }
        1 => line.insert(pos, *rng.pick(SPECIAL_BYTES)),
        2 if pos < line.len() => {
            let end = (pos + 1 + rng.below(8)).min(line.len());
            let chunk = line[pos..end].to_vec();
            line.splice(pos..pos, chunk);
        }
        3 if pos < line.len() => line[pos] ^= 1 << rng.below(8),
        4 if pos < line.len() => line[pos] = *rng.pick(SPECIAL_BYTES),
        _ => {
            let frag = rng.pick(FRAGMENTS).as_bytes();
            let cut = rng.below(frag.len() + 1);
            line.splice(pos..pos, frag[cut..].iter().copied());
        }
    }
}

/// A random file of rule-ish lines and noise.
fn random_file(rng: &mut Rng) -> Vec<u8> {
    let mut out = Vec::new();
    for _ in 0..rng.below(30) {
        match rng.below(4) {
            0 => {
                for _ in 0..rng.below(20) {
                    out.push(if rng.chance(50) {
                        *rng.pick(SPECIAL_BYTES)
                    } else {
                        rng.next() as u8
                    });
                }
            }
            _ => {
                let mut line = rng.pick(FRAGMENTS).as_bytes().to_vec();
                if rng.chance(30) {
                    mutate_bytes(rng, &mut line);
                }
                out.extend_from_slice(&line);
            }
        }
        out.push(if rng.chance(5) { b'\r' } else { b'\n' });
    }
    out
}

/// A contiguous run of lines from `input`, so most cases stay small and fast.
fn window(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let lines: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
    if lines.len() <= 60 || rng.chance(10) {
        return input.to_vec();
    }
    let start = rng.below(lines.len());
    let end = (start + 10 + rng.below(50)).min(lines.len());
    lines[start..end].join(&b'\n')
}

/// How many lines contain `type` (an upper bound on the number of rules).
fn type_lines(input: &[u8]) -> usize {
    input
        .split(|&b| b == b'\n')
        .filter(|l| l.windows(4).any(|w| w == b"type"))
        .count()
}

/// Some(description) if parsing `input` panics or breaks the rule-count bound.
fn check(input: &[u8]) -> Option<String> {
    let result = catch_unwind(AssertUnwindSafe(|| {
        let file = parse_rule_text("fuzz.sec", input, &LoadOptions::default());
        (file.rules.len(), file.ok)
    }));
    match result {
        Err(payload) => {
            let msg = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "non-string panic payload".to_owned());
            let location = LAST_PANIC.lock().map(|l| l.clone()).unwrap_or_default();
            Some(format!("panicked: {msg} ({location})"))
        }
        Ok((rules, _)) if rules > type_lines(input) => Some(format!(
            "returned {rules} rules but only {} lines contain 'type'",
            type_lines(input)
        )),
        Ok(_) => None,
    }
}

/// Location of the last panic, recorded by the quiet panic hook.
static LAST_PANIC: Mutex<String> = Mutex::new(String::new());

/// Deletes lines from a failing input while it still fails.
fn shrink(mut input: Vec<u8>) -> Vec<u8> {
    let mut progress = true;
    while progress {
        progress = false;
        let lines: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
        for i in 0..lines.len() {
            let mut fewer = lines.clone();
            fewer.remove(i);
            let candidate = fewer.join(&b'\n');
            if check(&candidate).is_some() {
                input = candidate;
                progress = true;
                break;
            }
        }
    }
    input
}

fn env_u64(name: &str) -> Option<u64> {
    let v = std::env::var(name).ok()?;
    let v = v.trim();
    match v.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => v.parse().ok(),
    }
}

/// The corpus and fixture files the mutations start from.
fn seed_inputs() -> Vec<Vec<u8>> {
    let shared = common::shared_dir();
    let mut files = common::files_under(&shared.join("corpus"));
    files.extend(common::files_under(&shared.join("seeds-examples")));
    files.extend(common::files_under(&common::reject_fixtures_dir()));
    let inputs: Vec<Vec<u8>> = files.iter().filter_map(|f| std::fs::read(f).ok()).collect();
    assert!(
        !inputs.is_empty(),
        "no seed inputs: neither ../shared/corpus nor tests/fixtures/reject was found"
    );
    inputs
}

#[test]
fn parse_rule_text_survives_mutated_rule_files() {
    let seed = env_u64("RSEC_FUZZ_SEED").unwrap_or(DEFAULT_SEED);
    let cases = env_u64("RSEC_FUZZ_CASES").unwrap_or(DEFAULT_CASES);
    println!(
        "config_fuzz: seed {seed:#x} ({cases} cases); reproduce with RSEC_FUZZ_SEED={seed:#x}"
    );
    let inputs = seed_inputs();
    let mut rng = Rng(seed);

    // Watchdog: if one case runs too long, save it and abort the whole test binary.
    let progress = Arc::new(AtomicU64::new(0));
    let current = Arc::new(Mutex::new(Vec::<u8>::new()));
    let done = Arc::new(AtomicU64::new(0));
    {
        let (progress, current, done) = (progress.clone(), current.clone(), done.clone());
        std::thread::spawn(move || {
            let mut last = (u64::MAX, Instant::now());
            while done.load(Ordering::Relaxed) == 0 {
                std::thread::sleep(Duration::from_millis(200));
                let p = progress.load(Ordering::Relaxed);
                if p != last.0 {
                    last = (p, Instant::now());
                } else if last.1.elapsed() > HANG_LIMIT {
                    let input = current.lock().map(|c| c.clone()).unwrap_or_default();
                    let path = save_failure(seed, p, &input);
                    eprintln!(
                        "config_fuzz: case {p} (seed {seed:#x}) did not return within \
                         {HANG_LIMIT:?}; input saved to {}",
                        path.display()
                    );
                    std::process::abort();
                }
            }
        });
    }

    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|info| {
        if let Ok(mut last) = LAST_PANIC.lock() {
            *last = info.location().map(|l| l.to_string()).unwrap_or_default();
        }
    }));
    let start = Instant::now();
    let mut failure = None;
    let mut run = 0;
    for case in 0..cases {
        run = case + 1;
        let input = if rng.chance(5) {
            random_file(&mut rng)
        } else {
            let source = rng.pick(&inputs);
            let base = window(&mut rng, source);
            mutate(&mut rng, &base, &inputs)
        };
        if let Ok(mut c) = current.lock() {
            c.clone_from(&input);
        }
        progress.store(case, Ordering::Relaxed);
        if let Some(problem) = check(&input) {
            failure = Some((case, input, problem));
            break;
        }
    }
    let failure = failure.map(|(case, input, problem)| {
        let small = shrink(input);
        let problem = check(&small).unwrap_or(problem);
        (case, small, problem)
    });
    std::panic::set_hook(previous_hook);
    done.store(1, Ordering::Relaxed);
    println!("config_fuzz: {run} cases in {:.1?}", start.elapsed());

    if let Some((case, input, problem)) = failure {
        let path = save_failure(seed, case, &input);
        panic!(
            "parse_rule_text failed on case {case} (seed {seed:#x}): {problem}\n\
             shrunk input ({} bytes) saved to {}:\n{}",
            input.len(),
            path.display(),
            String::from_utf8_lossy(&input)
        );
    }
}

fn save_failure(seed: u64, case: u64, input: &[u8]) -> PathBuf {
    let path = std::env::temp_dir().join(format!("rsec-fuzz-{seed:x}-{case}.sec"));
    if let Err(e) = std::fs::write(&path, input) {
        eprintln!("config_fuzz: cannot save {}: {e}", path.display());
    }
    path
}
