//! Tests of the command line against the behaviour observed with SEC 2.9.1.

use super::*;
use std::os::unix::ffi::OsStringExt;

fn words(args: &[&str]) -> Vec<OsString> {
    args.iter().map(OsString::from).collect()
}

/// Parses and expects a run; returns the options.
fn run(args: &[&str]) -> Options {
    match parse(&words(args)) {
        Ok(Command::Run(o)) => o,
        other => panic!("{args:?} gave {other:?}"),
    }
}

/// Both dash forms and both ways of giving a value.
fn forms(name: &str, value: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for dash in ["-", "--"] {
        out.push(vec![format!("{dash}{name}={value}")]);
        out.push(vec![format!("{dash}{name}"), value.to_string()]);
    }
    out
}

fn run_strings(args: &[String]) -> Options {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    run(&refs)
}

#[test]
fn defaults_are_secs() {
    let o = run(&[]);
    assert_eq!(o, Options::default());
    assert!(o.conf.is_empty() && o.input.is_empty());
    assert_eq!(o.poll_timeout, 0.1);
    assert_eq!(o.cleantime, 1);
    assert_eq!(o.debug, 6);
    assert_eq!(o.socket_timeout, 60);
    assert_eq!(o.blocksize, 8192);
    assert_eq!((o.bufsize, o.evstoresize), (0, 0));
    assert_eq!(o.dump, "/tmp/sec.dump");
    assert!(o.tail && o.keepopen && o.rwfifo && o.childterm);
    assert!(!o.fromstart && !o.detach && !o.intevents && !o.intcontexts && !o.testonly);
    assert!(!o.quoting && !o.ruleperf && !o.dumpfts && !o.dumpfjson);
    assert_eq!(o.jointbuf, None);
    assert_eq!(o.umask, None);
    assert_eq!(o.dialect, Dialect::Sec);
    assert_eq!(o.perl, PerlMode::Auto);
    assert_eq!(o.time_source, TimeSource::Wall);
    assert_eq!(o.late, LateMode::Process);
    assert_eq!(o.input_format, InputFormat::Line);
    assert!(o.given.is_empty() && o.warnings.is_empty());
}

#[test]
fn value_options_in_every_form() {
    type Check = fn(&Options) -> bool;
    let cases: &[(&str, &str, &str, Check)] = &[
        ("conf", "conf", "a.rules", |o| o.conf == ["a.rules"]),
        ("input", "input", "/var/log/x", |o| {
            o.input == ["/var/log/x"]
        }),
        ("input-timeout", "input-timeout", "5", |o| {
            o.input_timeout == 5
        }),
        ("input_timeout", "input-timeout", "5", |o| {
            o.input_timeout == 5
        }),
        ("timeout-script", "timeout-script", "/bin/t", |o| {
            o.timeout_script.as_deref() == Some("/bin/t")
        }),
        ("timeout_script", "timeout-script", "/bin/t", |o| {
            o.timeout_script.as_deref() == Some("/bin/t")
        }),
        ("reopen-timeout", "reopen-timeout", "7", |o| {
            o.reopen_timeout == 7
        }),
        ("reopen_timeout", "reopen-timeout", "7", |o| {
            o.reopen_timeout == 7
        }),
        ("check-timeout", "check-timeout", "8", |o| {
            o.check_timeout == 8
        }),
        ("check_timeout", "check-timeout", "8", |o| {
            o.check_timeout == 8
        }),
        ("poll-timeout", "poll-timeout", "0.25", |o| {
            o.poll_timeout == 0.25
        }),
        ("poll_timeout", "poll-timeout", "2", |o| {
            o.poll_timeout == 2.0
        }),
        ("socket-timeout", "socket-timeout", "9", |o| {
            o.socket_timeout == 9
        }),
        ("socket_timeout", "socket-timeout", "9", |o| {
            o.socket_timeout == 9
        }),
        ("blocksize", "blocksize", "1024", |o| o.blocksize == 1024),
        ("bufsize", "bufsize", "3", |o| o.bufsize == 3),
        ("evstoresize", "evstoresize", "100", |o| {
            o.evstoresize == 100
        }),
        ("cleantime", "cleantime", "0", |o| o.cleantime == 0),
        ("log", "log", "/tmp/l", |o| {
            o.log.as_deref() == Some("/tmp/l")
        }),
        ("syslog", "syslog", "local0", |o| {
            o.syslog.as_deref() == Some("local0")
        }),
        ("debug", "debug", "3", |o| o.debug == 3),
        ("pid", "pid", "/run/p", |o| {
            o.pid.as_deref() == Some("/run/p")
        }),
        ("dump", "dump", "/tmp/d", |o| o.dump == "/tmp/d"),
        ("user", "user", "nobody", |o| {
            o.user.as_deref() == Some("nobody")
        }),
        ("umask", "umask", "0027", |o| o.umask == Some(0o27)),
        ("dialect", "dialect", "logzilla", |o| {
            o.dialect == Dialect::Logzilla
        }),
        ("perl", "perl", "off", |o| o.perl == PerlMode::Off),
        ("time-source", "time-source", "event", |o| {
            o.time_source == TimeSource::Event
        }),
        ("tz", "tz", "Europe/Tallinn", |o| {
            o.tz.as_deref() == Some("Europe/Tallinn")
        }),
        ("reorder-window", "reorder-window", "2.5", |o| {
            o.reorder_window == Some(2.5)
        }),
        ("late", "late", "drop", |o| o.late == LateMode::Drop),
        ("state", "state", "/var/lib/s", |o| {
            o.state.as_deref() == Some("/var/lib/s")
        }),
        ("state-interval", "state-interval", "30", |o| {
            o.state_interval == Some(30.0)
        }),
        ("input-format", "input-format", "logfmt", |o| {
            o.input_format == InputFormat::Logfmt
        }),
        ("match-field", "match-field", "msg", |o| {
            o.match_field.as_deref() == Some("msg")
        }),
        ("timestamp-regex", "timestamp-regex", "^(\\S+)", |o| {
            o.timestamp_regex.as_deref() == Some("^(\\S+)")
        }),
        (
            "timestamp-format",
            "timestamp-format",
            "%b %d %H:%M:%S",
            |o| o.timestamp_format.as_deref() == Some("%b %d %H:%M:%S"),
        ),
    ];
    for (name, canonical, value, check) in cases {
        for args in forms(name, value) {
            let o = run_strings(&args);
            assert!(check(&o), "{args:?} gave {o:?}");
            assert!(o.warnings.is_empty(), "{args:?}: {:?}", o.warnings);
            assert_eq!(o.given.iter().collect::<Vec<_>>(), [canonical], "{args:?}");
        }
    }
    let o = run(&["--user=u", "-group", "g1", "--group=g2"]);
    assert_eq!(o.group, ["g1", "g2"]);
}

#[test]
fn flags_and_their_negations() {
    type Get = fn(&Options) -> bool;
    let flags: &[(&str, Get)] = &[
        ("ruleperf", |o| o.ruleperf),
        ("dumpfts", |o| o.dumpfts),
        ("dumpfjson", |o| o.dumpfjson),
        ("quoting", |o| o.quoting),
        ("tail", |o| o.tail),
        ("fromstart", |o| o.fromstart),
        ("detach", |o| o.detach),
        ("jointbuf", |o| o.jointbuf == Some(true)),
        ("keepopen", |o| o.keepopen),
        ("rwfifo", |o| o.rwfifo),
        ("childterm", |o| o.childterm),
        ("intevents", |o| o.intevents),
        ("intcontexts", |o| o.intcontexts),
        ("testonly", |o| o.testonly),
    ];
    for (name, get) in flags {
        for dash in ["-", "--"] {
            let on = run(&[&format!("{dash}{name}")]);
            assert!(get(&on), "{dash}{name}");
            assert!(on.given.contains(*name));
            for neg in ["no", "no-"] {
                let off = run(&[&format!("{dash}{neg}{name}")]);
                assert!(!get(&off), "{dash}{neg}{name}");
                assert!(off.given.contains(*name));
                // The last one wins.
                let o = run(&[&format!("--{name}"), &format!("--{neg}{name}")]);
                assert!(!get(&o));
                let o = run(&[&format!("--{neg}{name}"), &format!("-{name}")]);
                assert!(get(&o));
            }
        }
    }
    assert_eq!(run(&["--nojointbuf"]).jointbuf, Some(false));
    // Upper case is accepted, as Getopt::Long ignores case.
    assert!(run(&["--TESTONLY"]).testonly);
    assert!(!run(&["--testonly", "--No-TestOnly"]).testonly);
    // `+` starts an option too.
    assert!(run(&["+testonly"]).testonly);
}

#[test]
fn flags_refuse_values() {
    let o = run(&["--testonly=1", "--notail="]);
    assert!(!o.testonly && o.tail);
    assert_eq!(
        o.warnings,
        [
            "Option testonly does not take an argument",
            "Option notail does not take an argument"
        ]
    );
    let (command, warnings) = parse_with_warnings(&words(&["--help=1"])).unwrap();
    assert!(matches!(command, Command::Run(_)));
    assert_eq!(warnings, ["Option help does not take an argument"]);
    assert_eq!(run(&["--nohelp"]).warnings, ["Unknown option: nohelp"]);
}

#[test]
fn abbreviations() {
    let o = run(&["-co=x.rules", "-testo"]);
    assert_eq!(o.conf, ["x.rules"]);
    assert!(o.testonly);
    // A prefix of two names of one option is not ambiguous.
    assert_eq!(run(&["--check=5"]).check_timeout, 5);
    assert_eq!(run(&["--input_t", "4"]).input_timeout, 4);
    assert_eq!(parse(&words(&["-h"])), Ok(Command::Help));
    assert_eq!(parse(&words(&["--he"])), Ok(Command::Help));
    assert_eq!(parse(&words(&["--v"])), Ok(Command::Version));
    assert!(!run(&["--notest"]).testonly);
    assert_eq!(run(&["--CO", "a"]).conf, ["a"]);
    // An exact name wins over the longer names it starts.
    assert_eq!(run(&["--input", "f"]).input, ["f"]);
    // rsec's own options never make an SEC abbreviation ambiguous...
    assert_eq!(
        run(&["--ti=/bin/x"]).timeout_script.as_deref(),
        Some("/bin/x")
    );
    assert_eq!(run(&["--input-=3"]).input_timeout, 3);
    assert_eq!(run(&["--re=3"]).reopen_timeout, 3);
    // ...and are abbreviated among themselves when no SEC option matches.
    assert_eq!(run(&["--input-f=json"]).input_format, InputFormat::Json);
    assert_eq!(run(&["--dia=logzilla"]).dialect, Dialect::Logzilla);
    assert_eq!(
        run(&["--timestamp="]).warnings,
        ["Option timestamp is ambiguous (timestamp-format, timestamp-regex)"]
    );
}

#[test]
fn ambiguous_and_unknown_options_warn_and_go_on() {
    let o = run(&["--c=x", "--testonly"]);
    assert!(o.testonly && o.conf.is_empty());
    assert_eq!(
        o.warnings,
        ["Option c is ambiguous (check-timeout, check_timeout, childterm, cleantime, conf)"]
    );
    assert_eq!(
        run(&["--in=x"]).warnings,
        ["Option in is ambiguous (input, input-timeout, input_timeout, intcontexts, intevents)"]
    );
    assert_eq!(
        run(&["-t"]).warnings,
        ["Option t is ambiguous (tail, testonly, timeout-script, timeout_script)"]
    );
    assert_eq!(
        run(&["--not"]).warnings,
        ["Option not is ambiguous (notail, notestonly)"]
    );
    let no = run(&["--no"]);
    assert_eq!(no.warnings.len(), 1);
    assert!(no.warnings[0].starts_with("Option no is ambiguous (no-childterm, no-detach,"));
    assert!(no.warnings[0].ends_with("notail, notestonly)"));
    let o = run(&["--BOGUS", "--testonly", "---testonly", "--=x"]);
    assert!(o.testonly);
    assert_eq!(
        o.warnings,
        [
            "Unknown option: bogus",
            "Unknown option: -testonly",
            "Unknown option: =x"
        ]
    );
    assert_eq!(run(&["--noconf"]).warnings, ["Unknown option: noconf"]);
}

#[test]
fn stray_words_and_the_end_of_options() {
    let o = run(&["foo", "--bogus", "bar", "--testonly", "-"]);
    assert!(o.testonly);
    assert_eq!(
        o.warnings,
        [
            "Unknown argument: foo",
            "Unknown option: bogus",
            "Unknown argument: bar",
            "Unknown argument: -"
        ]
    );
    // After `--` SEC ignores everything, silently.
    let o = run(&["--", "--testonly", "foo"]);
    assert!(!o.testonly && o.warnings.is_empty());
    assert_eq!(run(&["+"]).warnings, ["Missing option after +"]);
}

#[test]
fn missing_values() {
    // The next word is the value, whatever it looks like.
    let o = run(&["--conf", "--testonly"]);
    assert_eq!(o.conf, ["--testonly"]);
    assert!(!o.testonly);
    let o = run(&["--testonly", "--conf"]);
    assert!(o.testonly && o.conf.is_empty());
    assert_eq!(o.warnings, ["Option conf requires an argument"]);
    let o = run(&["--conf=", "--user=", "--CO"]);
    assert_eq!(
        o.warnings,
        [
            "Option conf requires an argument",
            "Option user requires an argument",
            "Option conf requires an argument"
        ]
    );
    assert!(o.given.is_empty());
    // An empty next word is a value.
    assert_eq!(run(&["--user", ""]).user.as_deref(), Some(""));
    // A number option uses up the next word even when it is not a number.
    let o = run(&["--debug", "--testonly"]);
    assert!(!o.testonly);
    assert_eq!(o.debug, 6);
    assert_eq!(
        o.warnings,
        ["Value \"--testonly\" invalid for option debug (number expected)"]
    );
    assert_eq!(
        run(&["--pid"]).warnings,
        ["Option pid requires an argument"]
    );
}

#[test]
fn repeats_accumulate_or_replace() {
    let o = run(&[
        "--conf=a",
        "-conf",
        "b",
        "--input=x",
        "-input",
        "y",
        "--log=1",
        "--log=2",
        "--debug=2",
        "--debug=4",
    ]);
    assert_eq!(o.conf, ["a", "b"]);
    assert_eq!(o.input, ["x", "y"]);
    assert_eq!(o.log.as_deref(), Some("2"));
    assert_eq!(o.debug, 4);
    // `inp` also starts `input-timeout`: ambiguous, as in SEC.
    assert_eq!(
        run(&["--inp=y"]).warnings,
        ["Option inp is ambiguous (input, input-timeout, input_timeout)"]
    );
}

#[test]
fn number_syntax_errors_keep_the_previous_value() {
    let o = run(&["--debug=3", "--debug=abc"]);
    assert_eq!(o.debug, 3);
    assert_eq!(
        o.warnings,
        ["Value \"abc\" invalid for option debug (number expected)"]
    );
    let o = run(&[
        "--socket-timeout=1.5",
        "--cleantime=0x3",
        "--debug= 3",
        "--debug=3x",
    ]);
    assert_eq!((o.socket_timeout, o.cleantime, o.debug), (60, 1, 6));
    assert_eq!(
        o.warnings,
        [
            "Value \"1.5\" invalid for option socket-timeout (number expected)",
            "Value \"0x3\" invalid for option cleantime (number expected)",
            "Value \" 3\" invalid for option debug (number expected)",
            "Value \"3x\" invalid for option debug (number expected)"
        ]
    );
    let o = run(&[
        "--umask=0999",
        "--umask=0o17",
        "--poll-timeout=5.",
        "--poll-timeout=inf",
    ]);
    assert_eq!((o.umask, o.poll_timeout), (None, 0.1));
    assert_eq!(
        o.warnings,
        [
            "Value \"0999\" invalid for option umask (extended number expected)",
            "Value \"0o17\" invalid for option umask (extended number expected)",
            "Value \"5.\" invalid for option poll-timeout (real number expected)",
            "Value \"inf\" invalid for option poll-timeout (real number expected)"
        ]
    );
    // SEC's odd numbers: underscores vanish, any character may stand for the dot.
    assert_eq!(run(&["--debug=+3"]).debug, 3);
    assert_eq!(run(&["--debug=03"]).debug, 3);
    assert_eq!(run(&["--cleantime=1_0"]).cleantime, 10);
    assert_eq!(run(&["--poll-timeout=1_0.5"]).poll_timeout, 10.5);
    assert_eq!(run(&["--poll-timeout=.5"]).poll_timeout, 0.5);
    assert_eq!(run(&["--poll-timeout=1E3"]).poll_timeout, 1000.0);
    assert_eq!(run(&["--poll-timeout=0x10"]).poll_timeout, 0.0);
    assert_eq!(run(&["--umask=0x1ff"]).umask, Some(0o777));
    assert_eq!(run(&["--umask=0b000010111"]).umask, Some(0o27));
    assert_eq!(run(&["--umask=23"]).umask, Some(0o27));
    assert_eq!(run(&["--umask=0X17"]).umask, Some(0o27));
}

#[test]
fn out_of_range_values_fall_back_to_the_default() {
    let o = run(&[
        "--group=x",
        "--umask=-1",
        "--debug=0",
        "--cleantime=-1",
        "--evstoresize=-1",
        "--bufsize=-1",
        "--blocksize=0",
        "--socket-timeout=0",
        "--poll-timeout=-1",
        "--check-timeout=-1",
        "--reopen-timeout=-1",
        "--input-timeout=-1",
    ]);
    // SEC's order, whatever the order on the command line.
    assert_eq!(
        o.warnings,
        [
            "'--input-timeout' option requires a non-negative value",
            "'--reopen-timeout' option requires a non-negative value",
            "'--check-timeout' option requires a non-negative value",
            "'--poll-timeout' option requires a non-negative value",
            "'--socket-timeout' option requires a positive value",
            "'--blocksize' option requires a positive value",
            "'--bufsize' option requires a non-negative value",
            "'--evstoresize' option requires a non-negative value",
            "'--cleantime' option requires a non-negative value",
            "'--debug' option requires a value from range 1..6",
            "'--group' option requires the '--user' option",
            "'--umask' option requires a value from range 0..0777"
        ]
    );
    let mut expected = Options {
        given: o.given.clone(),
        warnings: o.warnings.clone(),
        ..Options::default()
    };
    expected.group.clear();
    assert_eq!(o, expected);
    assert_eq!(o.given.len(), 12);
    // The last value is checked: a bad one falls back to the default, not to the earlier.
    let o = run(&["--debug=3", "--debug=9"]);
    assert_eq!(o.debug, 6);
    let o = run(&["--debug=9", "--debug=3"]);
    assert_eq!((o.debug, o.warnings.len()), (3, 0));
    assert_eq!(run(&["--debug=1_0"]).debug, 6);
    assert_eq!(run(&["--debug=99999999999999999999999"]).debug, 6);
    assert_eq!(run(&["--umask=512"]).umask, None);
    assert_eq!(run(&["--umask=0777"]).umask, Some(0o777));
    // Huge values SEC accepts saturate instead of wrapping.
    assert_eq!(
        run(&["--cleantime=99999999999999999999999"]).cleantime,
        u64::MAX
    );
    let o = run(&["--user=u", "--group=g"]);
    assert_eq!(o.group, ["g"]);
    assert!(o.warnings.is_empty());
}

#[test]
fn help_and_version() {
    for args in [&["-?"][..], &["--?"], &["--help"], &["--version", "--help"]] {
        assert_eq!(parse(&words(args)), Ok(Command::Help), "{args:?}");
    }
    assert_eq!(parse(&words(&["--help", "--version"])), Ok(Command::Help));
    assert_eq!(parse(&words(&["--version"])), Ok(Command::Version));
    assert_eq!(parse(&words(&["-version"])), Ok(Command::Version));
    // SEC prints the command-line messages before the usage.
    let (command, warnings) =
        parse_with_warnings(&words(&["--bogus", "--debug=9", "--help"])).unwrap();
    assert_eq!(command, Command::Help);
    assert_eq!(
        warnings,
        [
            "Unknown option: bogus",
            "'--debug' option requires a value from range 1..6"
        ]
    );
    let text = usage();
    assert!(text.starts_with("Usage: rsec [options]\n"));
    for spec in getopt::SPECS {
        assert!(
            text.contains(&format!("--{}", spec.canonical)),
            "usage lacks --{}",
            spec.canonical
        );
        if spec.kind == getopt::ArgKind::Bool {
            assert!(text.contains(&format!("--no{}", spec.canonical)));
        }
    }
    assert!(text.contains("-?"));
    assert!(version().starts_with(&format!(
        "rsec {}, compatible with SEC (Simple Event Correlator) 2.9.1\n",
        env!("CARGO_PKG_VERSION")
    )));
}

#[test]
fn the_option_table_has_secs_36_options() {
    let sec = getopt::SPECS.iter().filter(|s| !s.rsec_only).count();
    assert_eq!(sec, 36);
}

#[test]
fn input_contexts() {
    assert_eq!(split_input_spec("in1=A=B"), ("in1=A", Some("B")));
    assert_eq!(split_input_spec("in2=X="), ("in2", Some("X=")));
    assert_eq!(split_input_spec("in3=="), ("in3", Some("=")));
    assert_eq!(split_input_spec("in1="), ("in1=", None));
    assert_eq!(split_input_spec("=D"), ("=D", None));
    assert_eq!(split_input_spec("/var/log/x"), ("/var/log/x", None));
    // A context on any input turns internal contexts on, over --nointcontexts.
    assert!(run(&["--input=f=CTX", "--nointcontexts"]).intcontexts);
    assert!(!run(&["--input=f="]).intcontexts);
}

#[test]
fn rsec_options_refuse_bad_values() {
    for (args, option) in [
        (&["--dialect=perl"][..], "dialect"),
        (&["--perl=yes"], "perl"),
        (&["--time-source=event-time"], "time-source"),
        (&["--late=keep"], "late"),
        (&["--input-format=xml"], "input-format"),
        (&["--reorder-window=-1"], "reorder-window"),
        (&["--state-interval=soon"], "state-interval"),
        (&["--reorder-window=inf"], "reorder-window"),
    ] {
        match parse(&words(args)) {
            Err(CliError::InvalidValue { option: o, .. }) => assert_eq!(o, option),
            other => panic!("{args:?} gave {other:?}"),
        }
    }
    let message = parse(&words(&["--late=keep"])).unwrap_err().to_string();
    assert!(
        message.contains("--late") && message.contains("process, drop"),
        "{message}"
    );
}

#[test]
fn non_utf8_words_do_not_panic() {
    let bad = |prefix: &[u8]| {
        let mut v = prefix.to_vec();
        v.extend_from_slice(b"\xff\xfe");
        OsString::from_vec(v)
    };
    // A value of a text option: an error, not a mangled file name.
    let err = parse(&[bad(b"--conf=x")]).unwrap_err();
    assert!(matches!(err, CliError::NonUtf8 { ref option, .. } if option == "conf"));
    assert!(err.to_string().contains("--conf"));
    assert!(parse(&[OsString::from("--log"), bad(b"")]).is_err());
    // Everywhere else: the usual messages.
    let o = match parse(&[bad(b"--"), bad(b""), bad(b"--debug="), bad(b"--testonly=")]) {
        Ok(Command::Run(o)) => o,
        other => panic!("{other:?}"),
    };
    assert_eq!(o.warnings.len(), 4, "{:?}", o.warnings);
    assert!(o.warnings[0].starts_with("Unknown option: "));
    assert!(o.warnings[1].starts_with("Unknown argument: "));
    assert!(o.warnings[2].starts_with("Value \""));
    assert_eq!(o.warnings[3], "Option testonly does not take an argument");
}

#[test]
fn secrc_lines_are_words() {
    let content = b"  --testonly  \n\n # comment\n#x\n--conf=empty.rules\n --debug 3\r\n\t\n--log\n/tmp/a b\n";
    assert_eq!(
        parse_secrc(content),
        words(&[
            "--testonly",
            "--conf=empty.rules",
            "--debug 3",
            "--log",
            "/tmp/a b"
        ])
    );
    assert!(parse_secrc(b"").is_empty());
    assert_eq!(parse_secrc(b"--tail"), words(&["--tail"]));
    assert_eq!(parse_secrc(b"\xff\n"), [OsString::from_vec(vec![0xff])]);
    // One line is one word: `--debug 3` is an unknown option, as in SEC.
    let o = run(&["--debug 3"]);
    assert_eq!(o.warnings, ["Unknown option: debug 3"]);
}

#[test]
fn secrc_file_errors_read_like_secs() {
    let dir = std::env::temp_dir().join(format!("rsec-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("secrc");
    std::fs::write(&file, "--conf=a\n# no\n--notail\n").unwrap();
    assert_eq!(
        read_secrc_file(file.as_os_str()).unwrap(),
        words(&["--conf=a", "--notail"])
    );
    let missing = dir.join("missing");
    let err = read_secrc_file(missing.as_os_str()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "Can't open resource file {} (No such file or directory)",
            missing.display()
        )
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
