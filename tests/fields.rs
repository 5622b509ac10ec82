//! Field extraction from structured lines: JSON and logfmt parsing, flattening, lookups.

use rsec::fields::{
    env_name, extract, match_text, parse_json, parse_json_into, parse_logfmt, FieldError, Fields,
    InputFormat, Kind, MAX_DEPTH,
};

fn pairs(f: &Fields) -> Vec<(String, String)> {
    f.iter()
        .map(|(n, v)| {
            (
                String::from_utf8(n.to_vec()).unwrap(),
                String::from_utf8_lossy(v).into_owned(),
            )
        })
        .collect()
}

fn json(s: &str) -> Vec<(String, String)> {
    pairs(&parse_json(s.as_bytes()).unwrap_or_else(|e| panic!("{s}: {e}")))
}

fn logfmt(s: &[u8]) -> Vec<(String, String)> {
    parse_logfmt(s)
        .iter()
        .map(|(n, v)| {
            (
                String::from_utf8_lossy(n).into_owned(),
                String::from_utf8_lossy(v).into_owned(),
            )
        })
        .collect()
}

fn p(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

fn json_err(s: &[u8]) -> FieldError {
    match parse_json(s) {
        Ok(f) => panic!("{:?} parsed: {f:?}", String::from_utf8_lossy(s)),
        Err(e) => e,
    }
}

#[test]
fn flat_object_keeps_order_and_scalar_text() {
    assert_eq!(
        json(r#"{"host":"r1","n":-1.50e+3,"z":0,"t":true,"f":false,"x":null,"s":""}"#),
        p(&[
            ("host", "r1"),
            ("n", "-1.50e+3"),
            ("z", "0"),
            ("t", "true"),
            ("f", "false"),
            ("x", "null"),
            ("s", "")
        ])
    );
    let f = parse_json(br#"{"x":null,"s":"null","n":12345678901234567890123}"#).unwrap();
    assert_eq!(f.kind(b"x"), Some(Kind::Null));
    assert_eq!(f.kind(b"s"), Some(Kind::String));
    assert_eq!(f.get(b"n"), Some(&b"12345678901234567890123"[..]));
    assert_eq!(f.kind(b"n"), Some(Kind::Number));
    assert_eq!(f.kind(b"nope"), None);
}

#[test]
fn nesting_is_flattened_with_dots_and_indexes() {
    assert_eq!(
        json(r#"{"a":{"b":1,"c":[true,"x",{"d":[[]],"e":{}}]},"f":[],"g":{}}"#),
        p(&[
            ("a.b", "1"),
            ("a.c.0", "true"),
            ("a.c.1", "x"),
            ("a.c.2.d.0", "[]"),
            ("a.c.2.e", "{}"),
            ("f", "[]"),
            ("g", "{}")
        ])
    );
    let f = parse_json(br#"{"f":[],"g":{}}"#).unwrap();
    assert_eq!(f.kind(b"f"), Some(Kind::EmptyArray));
    assert_eq!(f.kind(b"g"), Some(Kind::EmptyObject));
    // Indexes past one digit, and an empty key.
    let mut s = String::from(r#"{"a":["#);
    for i in 0..12 {
        s.push_str(&format!("{}{i}", if i > 0 { "," } else { "" }));
    }
    s.push_str(r#"],"":{"":"e"}}"#);
    let f = parse_json(s.as_bytes()).unwrap();
    assert_eq!(f.get(b"a.11"), Some(&b"11"[..]));
    assert_eq!(f.get(b"."), Some(&b"e"[..]));
}

#[test]
fn empty_object_and_whitespace() {
    assert!(parse_json(b"{}").unwrap().is_empty());
    assert!(parse_json(b" \t{ }\r").unwrap().is_empty());
    assert_eq!(
        json(" { \"a\" :\n[ 1 , 2 ] , \"b\"\t: { \"c\" : \"d\" } } \r\n"),
        p(&[("a.0", "1"), ("a.1", "2"), ("b.c", "d")])
    );
}

#[test]
fn duplicates_last_value_first_position() {
    assert_eq!(json(r#"{"a":1,"b":2,"a":3}"#), p(&[("a", "3"), ("b", "2")]));
    // A dotted key collides with the nested form.
    assert_eq!(
        json(r#"{"a.b":"dotted","c":0,"a":{"b":"nested"}}"#),
        p(&[("a.b", "nested"), ("c", "0")])
    );
    let f = parse_json(br#"{"a":"s","a":null}"#).unwrap();
    assert_eq!(f.kind(b"a"), Some(Kind::Null));
    // Many duplicates: the table and the buffer stay consistent.
    let mut s = String::from("{");
    for i in 0..500 {
        s.push_str(&format!("\"k{}\":{i},", i % 37));
    }
    s.push_str("\"end\":1}");
    let f = parse_json(s.as_bytes()).unwrap();
    assert_eq!(f.len(), 38);
    assert_eq!(f.get(b"k0"), Some(&b"481"[..]));
    assert_eq!(f.get(b"k36"), Some(&b"480"[..]));
    assert_eq!(f.iter().next().unwrap().0, b"k0");
}

#[test]
fn string_escapes_and_unicode() {
    assert_eq!(
        json(r#"{"e":"q\" b\\ s\/ \b\f\n\r\t"}"#),
        p(&[("e", "q\" b\\ s/ \u{8}\u{c}\n\r\t")])
    );
    assert_eq!(
        json(r#"{"u":"\u00e9\u20AC\ud83d\ude00 é€😀","k\u0041":"\u0000"}"#),
        p(&[("u", "é€😀 é€😀"), ("kA", "\0")])
    );
    // Escaped key characters are part of the name.
    let f = parse_json(br#"{"a\"b":{"c.d":1}}"#).unwrap();
    assert_eq!(f.get(b"a\"b.c.d"), Some(&b"1"[..]));
}

#[test]
fn invalid_json_every_kind() {
    let cases: &[(&[u8], &str)] = &[
        (b"", "empty line"),
        (b"   ", "empty line"),
        (b"[1,2]", "not a JSON object"),
        (b"\"s\"", "not a JSON object"),
        (b"42", "not a JSON object"),
        (b"null", "not a JSON object"),
        (b"plain syslog line", "not a JSON object"),
        (b"\xef\xbb\xbf{}", "not a JSON object"),
        (b"{", "unexpected end of line"),
        (b"{\"a\"", "expected ':' after a key"),
        (b"{\"a\":", "unexpected end of line"),
        (b"{\"a\":1", "unexpected end of line"),
        (b"{\"a\":[1,", "unexpected end of line"),
        (b"{\"a\":\"x", "unterminated string"),
        (b"{\"a\":\"x\\", "unterminated string"),
        (b"{\"a\":\"\\u12", "unterminated string"),
        (b"{\"a\":1}x", "trailing characters after the object"),
        (b"{\"a\":1}{}", "trailing characters after the object"),
        (b"{\"a\":1},", "trailing characters after the object"),
        (b"{\"a\":1,}", "expected a string key"),
        (b"{,}", "expected a string key"),
        (b"{a:1}", "expected a string key"),
        (b"{'a':1}", "expected a string key"),
        (b"{\"a\":[1,]}", "expected a value"),
        (b"{\"a\":[1 2]}", "expected ',' or ']'"),
        (b"{\"a\":1 \"b\":2}", "expected ',' or '}'"),
        (b"{\"a\":1]", "expected ',' or '}'"),
        (b"{\"a\":[1}", "expected ',' or ']'"),
        (b"{\"a\":tru}", "invalid literal"),
        (b"{\"a\":True}", "expected a value"),
        (b"{\"a\":nul", "invalid literal"),
        (b"{\"a\":01}", "expected ',' or '}'"),
        (b"{\"a\":-}", "invalid number"),
        (b"{\"a\":+1}", "expected a value"),
        (b"{\"a\":1.}", "invalid number: no digit after '.'"),
        (b"{\"a\":.5}", "expected a value"),
        (b"{\"a\":1e}", "invalid number: no digit in the exponent"),
        (b"{\"a\":1e+}", "invalid number: no digit in the exponent"),
        (b"{\"a\":NaN}", "expected a value"),
        (b"{\"a\":\"\\x\"}", "invalid escape"),
        (b"{\"a\":\"\\u12g4\"}", "invalid \\u escape"),
        (
            b"{\"a\":\"\\ud800\"}",
            "lone leading surrogate in a \\u escape",
        ),
        (
            b"{\"a\":\"\\ud800\\u0041\"}",
            "invalid trailing surrogate in a \\u escape",
        ),
        (
            b"{\"a\":\"\\udc00\"}",
            "lone trailing surrogate in a \\u escape",
        ),
        (b"{\"a\":\"tab\there\"}", "control character in a string"),
        (b"{\"a\":\"nl\nhere\"}", "control character in a string"),
        (b"{\"a\":\"\xff\"}", "invalid UTF-8 in a string"),
        (b"{\"a\":\"ok \xc3\"}", "invalid UTF-8 in a string"),
        (b"{\"a\":\"\xed\xa0\x80\"}", "invalid UTF-8 in a string"),
        (b"{\"\xc0\xaf\":1}", "invalid UTF-8 in a string"),
        (b"{\"a\":1}\xff", "trailing characters after the object"),
        (b"{\"a\":\xff}", "expected a value"),
        (b"{\"a\"\x00:1}", "expected ':' after a key"),
    ];
    for (line, reason) in cases {
        let e = json_err(line);
        assert_eq!(
            e.reason,
            *reason,
            "{:?} (at {})",
            String::from_utf8_lossy(line),
            e.offset
        );
        assert!(e.offset <= line.len());
        assert!(e.to_string().starts_with("invalid JSON at byte "));
    }
    // The offset points at the problem.
    assert_eq!(json_err(b"{\"a\":1}x").offset, 7);
    assert_eq!(json_err(b"{\"a\":\"ok \xff\"}").offset, 9);
}

#[test]
fn deep_nesting_never_overflows() {
    for open in [b'[', b'{'] {
        // 100 000 unclosed, and 100 000 closed.
        let mut line = b"{\"a\":".to_vec();
        for _ in 0..100_000 {
            line.push(open);
            if open == b'{' {
                line.extend_from_slice(b"\"k\":");
            }
        }
        assert_eq!(json_err(&line).reason, "nesting too deep");
        let close = if open == b'[' { b']' } else { b'}' };
        line.extend(std::iter::repeat_n(close, 100_000));
        line.push(b'}');
        assert_eq!(json_err(&line).reason, "nesting too deep");
    }
    let line = "[".repeat(100_000);
    assert_eq!(json_err(line.as_bytes()).reason, "not a JSON object");
    // Exactly the limit is fine: the top-level object plus MAX_DEPTH - 1 arrays.
    let n = MAX_DEPTH - 1;
    let ok = format!("{{\"a\":{}1{}}}", "[".repeat(n), "]".repeat(n));
    let f = parse_json(ok.as_bytes()).unwrap();
    assert_eq!(
        f.iter().next().unwrap().0,
        format!("a{}", ".0".repeat(n)).as_bytes()
    );
    let over = format!("{{\"a\":{}1{}}}", "[".repeat(n + 1), "]".repeat(n + 1));
    assert_eq!(json_err(over.as_bytes()).reason, "nesting too deep");
}

#[test]
fn flattening_blowup_is_bounded() {
    // A long key repeated for every array element would be quadratic.
    let key = "k".repeat(200_000);
    let line = format!("{{\"{key}\":[{}0]}}", "0,".repeat(100_000));
    assert_eq!(
        json_err(line.as_bytes()).reason,
        "flattened fields too large"
    );
    let line = format!("{{\"{key}\":[{}[]]}}", "[],".repeat(100_000));
    assert_eq!(
        json_err(line.as_bytes()).reason,
        "flattened fields too large"
    );
    // An ordinary big array is fine.
    let line = format!("{{\"user_tags\":{{\"list\":[{}0]}}}}", "0,".repeat(100_000));
    assert_eq!(parse_json(line.as_bytes()).unwrap().len(), 100_001);
}

#[test]
fn env_names_and_lookups() {
    assert_eq!(env_name(b"user_tags.srcip"), b"USER_TAGS_SRCIP");
    assert_eq!(env_name(b"a-b c.0"), b"A_B_C_0");
    assert_eq!(env_name("café.ü".as_bytes()), b"CAF___");
    assert_eq!(env_name(b"x\xff\xfey"), b"X__Y");
    let f = parse_json(
        br#"{"host":"r1","cisco_mnemonic":"BGP-5-ADJCHANGE","user_tags":{"srcip":"10.0.0.1","MSWin Failed-Login User":"bob"},"list":["a"]}"#,
    )
    .unwrap();
    assert_eq!(f.get_env(b"EVENT_HOST"), Some(&b"r1"[..]));
    assert_eq!(
        f.get_env(b"EVENT_CISCO_MNEMONIC"),
        Some(&b"BGP-5-ADJCHANGE"[..])
    );
    assert_eq!(f.get_env(b"EVENT_USER_TAGS_SRCIP"), Some(&b"10.0.0.1"[..]));
    assert_eq!(
        f.get_env(b"EVENT_USER_TAGS_MSWIN_FAILED_LOGIN_USER"),
        Some(&b"bob"[..])
    );
    assert_eq!(f.get_env(b"EVENT_LIST_0"), Some(&b"a"[..]));
    assert_eq!(f.get_env(b"EVENT_host"), None);
    assert_eq!(f.get_env(b"HOST"), None);
    assert_eq!(f.get_env(b"EVENT_HOS"), None);
    assert_eq!(f.get_env(b"EVENT_HOSTX"), None);
    assert_eq!(f.get_env(b"EVENT_"), None);
    // Collisions: the later field in order wins, like setting variables in order.
    let f = parse_json(br#"{"a_b":1,"a":{"b":2}}"#).unwrap();
    assert_eq!(f.get_env(b"EVENT_A_B"), Some(&b"2"[..]));
    let vars: Vec<_> = f.env_vars().map(|(k, v)| (k, v.to_vec())).collect();
    assert_eq!(
        vars,
        vec![
            (b"EVENT_A_B".to_vec(), b"1".to_vec()),
            (b"EVENT_A_B".to_vec(), b"2".to_vec())
        ]
    );
}

#[test]
fn reuse_and_insert() {
    let mut f = Fields::new();
    parse_json_into(br#"{"a":1,"b":2}"#, &mut f).unwrap();
    parse_json_into(br#"{"c":3}"#, &mut f).unwrap();
    assert_eq!(pairs(&f), p(&[("c", "3")]));
    assert_eq!(f.get(b"a"), None);
    assert!(parse_json_into(b"{\"c\":", &mut f).is_err());
    let mut g = Fields::new();
    for i in 0..1000 {
        g.insert(format!("k{i}").as_bytes(), format!("v{i}").as_bytes());
    }
    g.insert(b"k500", b"new");
    assert_eq!(g.len(), 1000);
    assert_eq!(g.get(b"k500"), Some(&b"new"[..]));
    assert_eq!(g.get(b"k999"), Some(&b"v999"[..]));
    assert_eq!(g.clone(), g);
    assert_ne!(g, f);
}

#[test]
fn logfmt_pairs_quotes_and_bare_keys() {
    assert_eq!(
        logfmt(br#"level=info msg="hello \"world\" \\ done" host=r1 debug n=1.5"#),
        p(&[
            ("level", "info"),
            ("msg", "hello \"world\" \\ done"),
            ("host", "r1"),
            ("debug", ""),
            ("n", "1.5")
        ])
    );
    assert_eq!(
        logfmt(b"  a=1\t\tb=  c=\"\" d=\"x\\ny\\tz\\q\" "),
        p(&[("a", "1"), ("b", ""), ("c", ""), ("d", "x\ny\tz\\q")])
    );
    assert!(parse_logfmt(b"").is_empty());
    assert!(parse_logfmt(b"   \t ").is_empty());
}

#[test]
fn logfmt_edge_cases() {
    // Unterminated quote: the rest of the line.
    assert_eq!(
        logfmt(br#"a=1 msg="never closed b=2"#),
        p(&[("a", "1"), ("msg", "never closed b=2")])
    );
    assert_eq!(logfmt(br#"a="\"#), p(&[("a", "\\")]));
    // `=` without a key: the value is skipped.
    assert_eq!(
        logfmt(br#"=x a=1 = b=2 ="q r" c=3 =="#),
        p(&[("a", "1"), ("b", "2"), ("c", "3")])
    );
    // Stray quoted strings are skipped; a quote right after a key leaves it bare.
    assert_eq!(
        logfmt(br#""junk here" a=1 k"v w" z"#),
        p(&[("a", "1"), ("k", ""), ("z", "")])
    );
    // Unquoted values run to whitespace, `=` and `"` included.
    assert_eq!(logfmt(br#"a=b=c d=e"f"#), p(&[("a", "b=c"), ("d", "e\"f")]));
    // Duplicates: last wins at the first position.
    assert_eq!(logfmt(b"a=1 b=2 a=3 a"), p(&[("a", ""), ("b", "2")]));
    // Arbitrary bytes survive; the name is unchanged (no flattening).
    let f = parse_logfmt(b"k\xff=v\xfe x.y=1\r");
    assert_eq!(f.get(b"k\xff"), Some(&b"v\xfe"[..]));
    assert_eq!(f.get(b"x.y"), Some(&b"1"[..]));
    assert_eq!(f.get_env(b"EVENT_X_Y"), Some(&b"1"[..]));
    assert_eq!(f.kind(b"x.y"), Some(Kind::String));
}

#[test]
fn extract_and_match_text() {
    let line = br#"{"message":"BGP down","host":"r1"}"#;
    assert_eq!(extract(InputFormat::Line, line), None);
    let f = extract(InputFormat::Json, line).unwrap().unwrap();
    assert_eq!(f.get(b"host"), Some(&b"r1"[..]));
    assert!(extract(InputFormat::Json, b"not json").unwrap().is_err());
    let lf = extract(InputFormat::Logfmt, b"not json").unwrap().unwrap();
    assert_eq!(lf.len(), 2);

    assert_eq!(match_text(line, Some(&f), Some("message")), b"BGP down");
    assert_eq!(match_text(line, Some(&f), Some("missing")), line);
    assert_eq!(match_text(line, Some(&f), None), line);
    assert_eq!(match_text(line, None, Some("message")), line);
}

#[test]
fn loose_lookup_reads_underscores_as_dots() {
    let f =
        parse_json(br#"{"user_tags":{"srcip":"1.2.3.4"},"a_b":"x","a":{"b":"y"}}"#).expect("json");
    assert_eq!(f.get_loose(b"user_tags_srcip"), Some(&b"1.2.3.4"[..]));
    assert_eq!(f.get_loose(b"user_tags.srcip"), Some(&b"1.2.3.4"[..]));
    // an exact name wins over the loose reading
    assert_eq!(f.get_loose(b"a_b"), Some(&b"x"[..]));
    assert_eq!(f.get_loose(b"user"), None);
}

// ---------------------------------------------------------------------------------------
// End to end through the rsec binary: --input-format, --match-field, bad JSON lines.

mod e2e {
    use std::path::PathBuf;
    use std::process::{Command, Stdio};

    fn bin() -> PathBuf {
        PathBuf::from(env!("CARGO_BIN_EXE_rsec"))
    }

    struct Dir(PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// Runs rsec on `rules` and `input` with `args`; returns (stdout, log).
    fn run(tag: &str, rules: &str, input: &str, args: &[&str]) -> (String, String) {
        let d = std::env::temp_dir().join(format!("rsec-fields-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("mkdir");
        let d = Dir(d);
        let conf = d.0.join("r.sec");
        let inp = d.0.join("in.log");
        let log = d.0.join("rsec.log");
        std::fs::write(&conf, rules).expect("rules");
        std::fs::write(&inp, input).expect("input");
        let out = Command::new(bin())
            .arg(format!("--conf={}", conf.display()))
            .arg(format!("--input={}", inp.display()))
            .arg(format!("--log={}", log.display()))
            .arg("--notail")
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run rsec");
        assert!(out.status.success());
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            std::fs::read_to_string(&log).unwrap_or_default(),
        )
    }

    const WRITE: &str = "type=Single\nptype=SubStr\npattern=login\ndesc=x\n\
        action=write - host=$+{host} ip=$+{user_tags_srcip} q=$+{msg}\n";

    #[test]
    fn json_fields_are_match_variables_for_substr() {
        let (out, _) = run(
            "json",
            WRITE,
            concat!(
                r#"{"host":"web1","msg":"login \"ok\"","user_tags":{"srcip":"10.1.1.1"}}"#,
                "\n",
                r#"{"host":"web2","msg":"logout"}"#,
                "\n"
            ),
            &["--input-format=json"],
        );
        assert_eq!(out, "host=web1 ip=10.1.1.1 q=login \"ok\"\n");
    }

    #[test]
    fn logfmt_fields_and_named_captures_win() {
        let rules = "type=Single\nptype=RegExp\npattern=host=(?<host>\\S+)\ndesc=x\n\
            action=write - $+{host} $+{program} $+{message}\n";
        let (out, _) = run(
            "logfmt",
            rules,
            "host=db1 program=sshd message=\"Accepted password for root\"\n",
            &["--input-format=logfmt"],
        );
        // the pattern's own capture and the field agree here; the field fills the rest
        assert_eq!(out, "db1 sshd Accepted password for root\n");
        let rules = "type=Single\nptype=RegExp\npattern=(?<host>db)\\d\ndesc=x\n\
            action=write - $+{host}\n";
        let (out, _) = run(
            "logfmt-win",
            rules,
            "host=db1 program=sshd\n",
            &["--input-format=logfmt"],
        );
        assert_eq!(out, "db\n", "a named capture wins over the field");
    }

    #[test]
    fn match_field_picks_the_text_patterns_see() {
        let rules = "type=Single\nptype=RegExp\npattern=^Failed password for (\\S+)\ndesc=x\n\
            action=write - $1 on $+{host} [$0]\n";
        let input = concat!(
            r#"{"host":"h1","message":"Failed password for eve from 1.2.3.4"}"#,
            "\n",
            r#"{"host":"h2","note":"Failed password for nobody"}"#,
            "\n"
        );
        let (out, _) = run(
            "matchfield",
            rules,
            input,
            &["--input-format=json", "--match-field=message"],
        );
        // the second event has no message field: the raw line is matched, and `^` fails
        assert_eq!(out, "eve on h1 [Failed password for eve from 1.2.3.4]\n");
    }

    #[test]
    fn bad_json_is_counted_and_matched_as_text() {
        let rules = "type=Single\nptype=RegExp\npattern=login (\\S+)\ndesc=x\n\
            action=write - text $1 host=$+{host}.\n";
        let input = concat!(
            r#"{"host":"a","msg":"login one"}"#,
            "\n",
            "plain login two\n",
            r#"{"host":"b","msg":"login three""#,
            "\n",
            r#"{"host":"c","msg":"login four"}"#,
            "\n",
        );
        let (out, log) = run("badjson", rules, input, &["--input-format=json"]);
        assert_eq!(
            out,
            "text one\"} host=a.\ntext two host=.\ntext three\" host=.\ntext four\"} host=c.\n"
        );
        assert_eq!(
            log.matches("is not a JSON object").count(),
            2,
            "each bad line is logged: {log}"
        );
        assert!(
            log.contains("2 input lines were not valid JSON and were matched as plain text"),
            "{log}"
        );
    }

    #[test]
    fn bad_json_count_is_in_the_dump() {
        let d = std::env::temp_dir().join(format!("rsec-fields-dump-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).expect("mkdir");
        let dump = d.join("dump.txt");
        let rules = "type=Single\nptype=SubStr\npattern=DUMP\ndesc=x\naction=sigemul USR1\n";
        let (_, _) = run(
            "dumpcount",
            rules,
            "{oops\n[1]\n{\"m\":\"DUMP\"}\n",
            &["--input-format=json", &format!("--dump={}", dump.display())],
        );
        let text = std::fs::read_to_string(&dump).unwrap_or_default();
        let _ = std::fs::remove_dir_all(&d);
        assert!(text.contains("Input lines not valid JSON: 2"), "{text}");
    }
}
