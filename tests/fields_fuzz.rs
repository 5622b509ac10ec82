//! Robustness of the field parsers on random and mutated lines, with serde_json as the
//! oracle for what is valid JSON and what it holds.

use rsec::fields::{parse_json, parse_logfmt, Fields, Kind};
use serde_json::Value;

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

const SEEDS: &[&str] = &[
    r#"{"host":"r1","program":"cisco_ios","cisco_mnemonic":"BGP-5-ADJCHANGE","message":"%BGP-5-ADJCHANGE: neighbor 10.0.0.2 Down","user_tags":{"srcip":"10.0.0.2","n":[1,2.5e-3,-0]}}"#,
    r#"{"a":{"b":{"c":[[],{},[{"d":null}],true,false]}},"e":"\u00e9\ud83d\ude00\n\"","":""}"#,
    r#"{"k":"v","k":{"x":1},"k.x":2}"#,
    r#" { "sp" : [ 1 , "two" , { } ] } "#,
    r#"level=info msg="quoted \"value\" here" bare k=v =junk "stray""#,
    r#"{"é":"ü","num":12345678901234567890,"neg":-0.5E+10}"#,
];

/// Alphabet for random bytes: JSON and logfmt punctuation, plus a few hostile bytes.
const ALPHABET: &[u8] = b"{}[]\":,\\ =.-+0123456789eEtrufalsn\tu\xff\xc3\xa9\xed\xa0\x80\x00\r";

fn mutate(rng: &mut Rng, line: &mut Vec<u8>) {
    for _ in 0..1 + rng.below(4) {
        let n = line.len();
        match rng.below(6) {
            0 if n > 0 => {
                line.remove(rng.below(n));
            }
            1 => {
                let b = ALPHABET[rng.below(ALPHABET.len())];
                line.insert(rng.below(n + 1), b);
            }
            2 if n > 0 => {
                let i = rng.below(n);
                line[i] = ALPHABET[rng.below(ALPHABET.len())];
            }
            3 if n > 0 => line.truncate(rng.below(n)),
            4 if n > 1 => {
                // Duplicate a slice somewhere else.
                let a = rng.below(n);
                let b = a + rng.below(n - a);
                let piece = line[a..b].to_vec();
                let at = rng.below(n + 1);
                line.splice(at..at, piece);
            }
            _ => {
                let i = rng.below(n + 1);
                line.insert(i, b'"');
            }
        }
    }
}

/// Flattens a serde_json value the way `parse_json` documents, for comparison.
fn flatten(v: &Value, name: &str, top: bool, out: &mut Fields) {
    if top && matches!(v, Value::Object(m) if m.is_empty()) {
        return;
    }
    let join = |k: &str| {
        if top {
            k.to_string()
        } else {
            format!("{name}.{k}")
        }
    };
    match v {
        Value::Object(m) if m.is_empty() => {
            out.insert_kind(name.as_bytes(), b"{}", Kind::EmptyObject)
        }
        Value::Array(a) if a.is_empty() => {
            out.insert_kind(name.as_bytes(), b"[]", Kind::EmptyArray)
        }
        Value::Object(m) => {
            for (k, v) in m {
                flatten(v, &join(k), false, out);
            }
        }
        Value::Array(a) => {
            for (i, v) in a.iter().enumerate() {
                flatten(v, &join(&i.to_string()), false, out);
            }
        }
        Value::String(s) => out.insert_kind(name.as_bytes(), s.as_bytes(), Kind::String),
        Value::Bool(b) => out.insert_kind(name.as_bytes(), b.to_string().as_bytes(), Kind::Bool),
        Value::Null => out.insert_kind(name.as_bytes(), b"null", Kind::Null),
        Value::Number(_) => out.insert_kind(name.as_bytes(), b"<number>", Kind::Number),
    }
}

/// Numbers are compared by kind only (serde_json reformats them).
fn normalize(f: &Fields) -> Fields {
    let mut g = Fields::new();
    for (n, v, k) in f.iter_kinds() {
        g.insert_kind(n, if k == Kind::Number { b"<number>" } else { v }, k);
    }
    g
}

/// A random valid JSON value: nesting, escapes, unicode, numbers, duplicate keys.
fn gen_value(rng: &mut Rng, depth: usize, out: &mut String) {
    let pick = if depth > 4 {
        2 + rng.below(5)
    } else {
        rng.below(7)
    };
    match pick {
        0 => {
            out.push('{');
            let mut seen = std::collections::HashSet::new();
            for i in 0..rng.below(5) {
                if i > 0 {
                    out.push(',');
                }
                gen_key(rng, &mut seen, out);
                out.push_str(if rng.below(2) == 0 { ":" } else { " : " });
                gen_value(rng, depth + 1, out);
            }
            out.push('}');
        }
        1 => {
            out.push('[');
            for i in 0..rng.below(13) {
                if i > 0 {
                    out.push(',');
                }
                gen_value(rng, depth + 1, out);
            }
            out.push(']');
        }
        2 | 3 => gen_string(rng, out),
        4 => {
            const NUMS: &[&str] = &[
                "0",
                "-0",
                "12",
                "-3.25",
                "1e5",
                "2E-3",
                "6.02e+23",
                "18446744073709551616",
            ];
            out.push_str(NUMS[rng.below(NUMS.len())]);
        }
        5 => out.push_str(if rng.below(2) == 0 { "true" } else { "false" }),
        _ => out.push_str("null"),
    }
}

/// A key not yet used in this object (its text decides; escapes are never generated
/// two ways for one character, except `\u00e9` and `é`, so compare decoded).
fn gen_key(rng: &mut Rng, seen: &mut std::collections::HashSet<String>, out: &mut String) {
    loop {
        let mut k = String::new();
        gen_string(rng, &mut k);
        let decoded: String = serde_json::from_str(&k).unwrap();
        if seen.insert(decoded) {
            out.push_str(&k);
            return;
        }
    }
}

fn gen_string(rng: &mut Rng, out: &mut String) {
    const PIECES: &[&str] = &[
        "a",
        "k",
        "host",
        "é",
        "€",
        "😀",
        r#"\""#,
        r"\\",
        r"\/",
        r"\n",
        r"\t",
        r"\u00e9",
        r"\ud83d\ude00",
        r"\u0000",
        " ",
        "_",
        "-",
    ];
    out.push('"');
    for _ in 0..rng.below(5) {
        out.push_str(PIECES[rng.below(PIECES.len())]);
    }
    out.push('"');
}

#[test]
fn random_and_mutated_lines_never_panic_and_agree_with_serde_json() {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let (mut ok, mut agree) = (0, 0);
    for round in 0..10_000usize {
        let line: Vec<u8> = if round % 4 == 1 {
            let mut s = String::from("{");
            let mut seen = std::collections::HashSet::new();
            for i in 0..rng.below(6) {
                if i > 0 {
                    s.push(',');
                }
                gen_key(&mut rng, &mut seen, &mut s);
                s.push(':');
                gen_value(&mut rng, 1, &mut s);
            }
            s.push('}');
            s.into_bytes()
        } else if round.is_multiple_of(4) {
            // Pure random bytes.
            let n = rng.below(80);
            (0..n)
                .map(|_| {
                    if rng.below(3) == 0 {
                        rng.next() as u8
                    } else {
                        ALPHABET[rng.below(ALPHABET.len())]
                    }
                })
                .collect()
        } else {
            let mut l = SEEDS[rng.below(SEEDS.len())].as_bytes().to_vec();
            mutate(&mut rng, &mut l);
            l
        };
        let ours = std::panic::catch_unwind(|| parse_json(&line));
        let ours = ours.unwrap_or_else(|_| panic!("parse_json panicked on {line:?}"));
        std::panic::catch_unwind(|| parse_logfmt(&line))
            .unwrap_or_else(|_| panic!("parse_logfmt panicked on {line:?}"));
        // serde_json's Value keeps the last duplicate but sorts keys, so compare as sets
        // of flattened fields: same validity, and same fields when both accept.
        let theirs = serde_json::from_slice::<Value>(&line);
        match (&ours, theirs) {
            (Ok(f), Ok(v)) => {
                assert!(v.is_object(), "accepted a non-object: {line:?}");
                ok += 1;
                let mut expect = Fields::new();
                flatten(&v, "", true, &mut expect);
                let mut a: Vec<_> = normalize(f)
                    .iter_kinds()
                    .map(|(n, v, k)| (n.to_vec(), v.to_vec(), k))
                    .collect();
                let mut b: Vec<_> = expect
                    .iter_kinds()
                    .map(|(n, v, k)| (n.to_vec(), v.to_vec(), k))
                    .collect();
                a.sort_by(|x, y| x.0.cmp(&y.0));
                b.sort_by(|x, y| x.0.cmp(&y.0));
                // Generated lines have unique keys and no `.` in keys, so flattening
                // cannot collide and the fields must be the same. (Mutated lines may
                // repeat keys, where serde_json's sorted map loses the order.)
                if round % 4 == 1 {
                    assert_eq!(
                        a,
                        b,
                        "fields differ on {:?}",
                        String::from_utf8_lossy(&line)
                    );
                    agree += 1;
                }
            }
            (Err(_), Err(_)) => {}
            (Err(e), Ok(v)) => {
                assert!(
                    !v.is_object(),
                    "refused an object ({e}): {:?}",
                    String::from_utf8_lossy(&line)
                );
            }
            // Numbers are kept as text, so their range does not matter to us.
            (Ok(_), Err(e)) if e.to_string().contains("number out of range") => {}
            (Ok(_), Err(e)) => panic!(
                "accepted invalid JSON ({e}): {:?}",
                String::from_utf8_lossy(&line)
            ),
        }
    }
    // The mutations must leave enough valid lines for the comparison to mean something.
    assert!(ok > 2500, "only {ok} valid lines");
    assert!(agree > 2000, "only {agree} compared");
}

#[test]
fn hostile_shapes_never_panic() {
    let mut lines: Vec<Vec<u8>> = vec![
        b"[".repeat(100_000),
        b"{".repeat(100_000),
        [b"{\"a\":".as_slice(), &b"[".repeat(100_000)].concat(),
        [b"{\"a\":".as_slice(), &b"{\"a\":".repeat(100_000)].concat(),
        b"\"".repeat(100_001),
        b"\\".repeat(100_001),
        b"=".repeat(100_000),
        b"a=\"".repeat(50_000),
        [b"{\"a\":\"".as_slice(), &b"\\u".repeat(50_000)].concat(),
        [b"{\"a\":\"".as_slice(), &b"\\ud83d".repeat(50_000)].concat(),
        vec![0xff; 10_000],
    ];
    lines.push((0..=255u8).collect());
    for line in &lines {
        assert!(parse_json(line).is_err());
        let _ = parse_logfmt(line);
    }
}
