//! The Perl bridge against real SEC 2.9.1: rule sets whose Perl code is outside rsec's
//! native subset (global state, files, modules, `exit`), Perl regex features that only
//! perl implements, and the `--perl=native|off` rejections. Each run happens in a temp dir
//! with the files the rules read; SEC and rsec get the same rules and input, and their
//! standard output (and the files the rules write) must agree.
//!
//! Without real SEC these tests are skipped, or fail when `CI=true`. Without perl the
//! bridge tests are skipped too (rsec then rejects the rules, which `perl_missing_rejects`
//! checks with a perl that does not exist).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::TempDir;

const TIMEOUT: Duration = Duration::from_secs(60);

struct Run {
    status: Option<i32>,
    stdout: String,
    log: String,
}

/// Runs `bin` in `dir` with `args` (plus `--log`), waiting at most [`TIMEOUT`]. With
/// `--input=-`, standard input gets the file `in.log` and is closed a second later (so
/// that the children that actions start finish before the correlator exits).
fn run(bin: &Path, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    let log = dir.join(format!(
        "{}.log",
        bin.file_name().unwrap_or_default().to_string_lossy()
    ));
    let _ = std::fs::remove_file(&log);
    let mut cmd = Command::new(bin);
    cmd.current_dir(dir)
        .args(args)
        .arg(format!("--log={}", log.display()))
        .stdin(if args.contains(&"--input=-") {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn");
    if let Some(mut stdin) = child.stdin.take() {
        let input = std::fs::read(dir.join("in.log")).unwrap_or_default();
        std::thread::spawn(move || {
            use std::io::Write;
            let _ = stdin.write_all(&input);
            let _ = stdin.flush();
            std::thread::sleep(Duration::from_millis(1000));
        });
    }
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().expect("wait") {
            break s.code();
        }
        if start.elapsed() > TIMEOUT {
            let _ = child.kill();
            panic!("{} timed out in {}", bin.display(), dir.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = child.wait_with_output().expect("output");
    Run {
        status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        log: std::fs::read_to_string(&log).unwrap_or_default(),
    }
}

fn perl_present() -> bool {
    Command::new("perl")
        .args(["-e", "1"])
        .status()
        .is_ok_and(|s| s.success())
}

fn sec_and_perl(test: &str) -> Option<PathBuf> {
    let sec = common::sec_or_skip(test)?;
    if !perl_present() {
        println!("SKIPPED {test}: perl is not installed");
        return None;
    }
    Some(sec)
}

fn shared_rules(rel: &str) -> String {
    std::fs::read_to_string(common::shared_dir().join("corpus/sec-rulesets").join(rel))
        .expect("shared rule file")
}

/// A `mail` stand-in: each call writes its arguments and standard input to its own file.
const MAIL: &str =
    "#!/bin/sh\nf=mail.$$\n{ echo \"mail $*\"; cat; } > \"$f.tmp\"; mv \"$f.tmp\" \"$f.out\"\n";

fn setup_mail(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join("mail.sh");
    std::fs::write(&p, MAIL).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Takes the mails written so far (sorted, since the children run concurrently).
fn take_mails(dir: &Path) -> Vec<String> {
    // %t time stamps in reports differ between the runs
    let stamp = regex::Regex::new(r"(?m)^\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}: ").unwrap();
    let mut mails = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("mail.") && name.ends_with(".out") {
            let text = std::fs::read_to_string(e.path()).unwrap();
            mails.push(stamp.replace_all(&text, "TIME: ").into_owned());
            std::fs::remove_file(e.path()).unwrap();
        }
    }
    mails.sort();
    mails
}

/// Runs SEC then rsec on the same files; returns both runs and their mails.
fn both(
    sec: &Path,
    dir: &Path,
    args: &[&str],
    rsec_args: &[&str],
) -> ((Run, Vec<String>), (Run, Vec<String>)) {
    let s = run(sec, dir, args, &[]);
    let sm = take_mails(dir);
    let mut all: Vec<&str> = args.to_vec();
    all.extend_from_slice(rsec_args);
    let r = run(&common::rsec_bin(), dir, &all, &[]);
    let rm = take_mails(dir);
    ((s, sm), (r, rm))
}

fn assert_same(what: &str, s: &(Run, Vec<String>), r: &(Run, Vec<String>)) {
    assert_eq!(
        s.0.stdout, r.0.stdout,
        "{what}: standard output differs\nrsec log:\n{}",
        r.0.log
    );
    assert_eq!(s.1, r.1, "{what}: mails differ\nrsec log:\n{}", r.0.log);
    assert_eq!(s.0.status, r.0.status, "{what}: exit status differs");
}

#[test]
fn tutorial_read_from_file_matches_sec() {
    let Some(sec) = sec_and_perl("tutorial_read_from_file_matches_sec") else {
        return;
    };
    let tmp = TempDir::new("bridge-tutorial");
    let dir = tmp.path();
    let rules = shared_rules("tutorial-read-from-file.sec")
        .replace("/etc/sec/myhashes.txt", "myhashes.txt")
        .replace("/bin/mail", "./mail.sh");
    std::fs::write(dir.join("rules.sec"), rules).unwrap();
    std::fs::write(
        dir.join("myhashes.txt"),
        "GigabitEthernet1/4=FIREWALL\nGigabitEthernet3/16=WEBSERVER-01\n",
    )
    .unwrap();
    setup_mail(dir);
    let sw = "my-important-switch";
    let input = format!(
        "Nov 23 10:00:00 {sw} 1: %LINK-3-UPDOWN: Interface GigabitEthernet3/16, changed state to down\n\
         Nov 23 10:00:01 {sw} 2: %LINK-3-UPDOWN: Interface GigabitEthernet9/9, changed state to down\n\
         Nov 23 10:00:02 {sw} 3: %LINK-3-UPDOWN: Interface GigabitEthernet3/16, changed state to up\n\
         Nov 23 10:00:03 {sw} 4: %LINK-3-UPDOWN: Interface GigabitEthernet1/4, changed state to down\n\
         Nov 23 10:00:04 {sw} 5: %LINK-3-UPDOWN: Interface GigabitEthernet9/9, changed state to up\n"
    );
    std::fs::write(dir.join("in.log"), input).unwrap();
    let args = ["--conf=rules.sec", "--input=-", "--notail", "--intevents"];
    let (s, r) = both(&sec, dir, &args, &[]);
    assert_eq!(s.1.len(), 3, "SEC should send three mails: {:?}", s.1);
    assert_same("tutorial-read-from-file.sec", &s, &r);
    assert!(
        r.0.log.contains("Started the Perl bridge") || r.0.log.is_empty(),
        "open() in lcall runs through the bridge"
    );
}

fn portscan_input() -> String {
    let mut s = String::new();
    for i in 1..=12 {
        s.push_str(&format!("PORTSCAN FROM 10.0.0.1 TO 192.168.0.{i}:22\n"));
        if i % 3 == 0 {
            s.push_str(&format!("PORTSCAN FROM 10.0.0.2 TO 192.168.1.{i}:80\n"));
        }
    }
    // a repeated destination does not count twice
    s.push_str("PORTSCAN FROM 10.0.0.2 TO 192.168.1.3:80\n");
    s.push_str("DUMP\n");
    s
}

/// Shows the Perl globals of portscan.sec; `extra` is more Perl for the same file. (lcall,
/// because SEC substitutes `%name` action-list variables in eval code.)
fn dump_rules(extra: &str) -> String {
    format!(
        "type=Single\nptype=SubStr\npattern=DUMP\ndesc=dump\n\
         action=lcall %n -> ( sub {{ join(',', map {{ \"$_=\" . scalar(keys %{{$portscans{{$_}}}}) }} \
         sort keys %portscans) }} ); write - portscans %n{extra}\n"
    )
}

#[test]
fn portscan_matches_sec_natively_and_in_bridge() {
    let Some(sec) = sec_and_perl("portscan_matches_sec_natively_and_in_bridge") else {
        return;
    };
    let tmp = TempDir::new("bridge-portscan");
    let dir = tmp.path();
    let rules = shared_rules("portscan.sec").replace("mail -s", "./mail.sh -s");
    std::fs::write(dir.join("portscan.sec"), rules).unwrap();
    std::fs::write(dir.join("in.log"), portscan_input()).unwrap();
    setup_mail(dir);
    // natively: all of portscan.sec and the dump rule are in the subset
    std::fs::write(dir.join("dump.sec"), dump_rules("")).unwrap();
    let args = [
        "--conf=portscan.sec",
        "--conf=dump.sec",
        "--input=-",
        "--notail",
    ];
    let (s, r) = both(&sec, dir, &args, &[]);
    assert!(
        s.0.stdout.contains("10.0.0.1:22=1,10.0.0.2:80=4"),
        "{}",
        s.0.stdout
    );
    assert_eq!(s.1.len(), 1, "one alarm mail: {:?}", s.1);
    assert_same("portscan.sec (native)", &s, &r);
    assert!(!r.0.log.contains("Perl bridge"), "{}", r.0.log);
    // a snippet that needs perl puts all Perl code of the ruleset in the bridge, so the
    // globals that portscan.sec keeps are still seen by the dump rule
    std::fs::write(
        dir.join("dump.sec"),
        dump_rules("; eval %m ( require POSIX; POSIX::floor(2.5) ); write - floor %m"),
    )
    .unwrap();
    let (s, r) = both(&sec, dir, &args, &[]);
    assert!(s.0.stdout.contains("floor 2"), "{}", s.0.stdout);
    assert_same("portscan.sec (bridge)", &s, &r);
    assert!(r.0.log.contains("Started the Perl bridge"), "{}", r.0.log);
}

#[test]
fn parse_json_without_module_matches_sec() {
    let Some(sec) = sec_and_perl("parse_json_without_module_matches_sec") else {
        return;
    };
    if Path::new("/etc/sec/perl/SecJson.pm").exists() {
        println!("SKIPPED: /etc/sec/perl/SecJson.pm exists here");
        return;
    }
    let tmp = TempDir::new("bridge-json0");
    let dir = tmp.path();
    std::fs::write(
        dir.join("rules.sec"),
        shared_rules("parsing-json/parse-json.sec"),
    )
    .unwrap();
    std::fs::write(dir.join("in.log"), "x @cee: {\"test\":\"abc\"}\n").unwrap();
    let args = [
        "--conf=rules.sec",
        "--input=in.log",
        "--notail",
        "--intevents",
    ];
    let (s, r) = both(&sec, dir, &args, &[]);
    // SEC logs the failed require and the rule's `exit(1)` ends it with status 1
    assert_eq!(s.0.status, Some(1));
    assert!(s.0.log.contains("Failed to load SecJson.pm"));
    assert!(r.0.log.contains("Failed to load SecJson.pm"), "{}", r.0.log);
    assert!(r.0.log.contains("Can't locate /etc/sec/perl/SecJson.pm"));
    assert_same("parse-json.sec without SecJson.pm", &s, &r);
}

#[test]
fn parse_json_with_module_matches_sec() {
    let Some(sec) = sec_and_perl("parse_json_with_module_matches_sec") else {
        return;
    };
    let tmp = TempDir::new("bridge-json1");
    let dir = tmp.path();
    let module = dir.join("SecJson.pm");
    std::fs::write(
        &module,
        "package SecJson;\nuse JSON::PP;\n\
         sub json2matchvar { my $h = eval { decode_json($_[0]) }; return ref($h) eq 'HASH' ? $h : 0; }\n1;\n",
    )
    .unwrap();
    let rules = shared_rules("parsing-json/parse-json.sec")
        .replace("/etc/sec/perl/SecJson.pm", &module.display().to_string());
    std::fs::write(dir.join("rules.sec"), rules).unwrap();
    std::fs::write(
        dir.join("in.log"),
        "a @cee: {\"test\":\"abc\",\"n\":1}\nb @cee: {bad json\nc no json\nd @cee: {\"test\":\"x y\"}\n",
    )
    .unwrap();
    let args = [
        "--conf=rules.sec",
        "--input=in.log",
        "--notail",
        "--intevents",
    ];
    let (s, r) = both(&sec, dir, &args, &[]);
    assert!(s.0.stdout.contains("The value of test variable: abc"));
    assert_same("parse-json.sec with a SecJson.pm", &s, &r);
}

/// The patterns rsec's own regex engines refuse, each with a subject it matches.
const REGEX_GAPS: &[&str] = &[
    r"(\X)(\X)",
    r"(?<n>a+)b(?&n)",
    r"^(\((?:[^()]|(?1))*\))",
    r"(a)(?1)",
    r"(?<=\d{1,3})(x+)",
    r"\b{wb}(\w+)",
    r"(a)(*ACCEPT)b",
    r"a+(*SKIP)b|(c)",
    r"(*PRUNE)(a)",
    r"(*COMMIT)(a)",
    r"(*MARK:x)(a)",
    r"a(*THEN)b|(ac)",
    r"\N{LATIN SMALL LETTER A}(b)",
    r"(?:\1c|(ab))+",
];

#[test]
fn regex_gaps_match_like_sec() {
    let Some(sec) = sec_and_perl("regex_gaps_match_like_sec") else {
        return;
    };
    let tmp = TempDir::new("bridge-regex");
    let dir = tmp.path();
    let mut rules = String::new();
    for (i, p) in REGEX_GAPS.iter().enumerate() {
        let named = if p.contains("?<n>") { " n=$+{n}" } else { "" };
        rules.push_str(&format!(
            "type=Single\nptype=RegExp\npattern={p}\ncontinue=TakeNext\ndesc=r{i}\n\
             action=write - r{i} [$0] 1=[$1] 2=[$2]{named}\n\n"
        ));
    }
    std::fs::write(dir.join("rules.sec"), &rules).unwrap();
    let input = "aaba\n(a(b)c) rest\n12xx\nhello world\nab\naaac\nabab\nacac\nababc\nabcd\n";
    std::fs::write(dir.join("in.log"), input).unwrap();
    let args = ["--conf=rules.sec", "--input=in.log", "--notail"];
    let (s, r) = both(&sec, dir, &args, &[]);
    for (i, p) in REGEX_GAPS.iter().enumerate() {
        assert!(
            s.0.stdout.contains(&format!("r{i} ")),
            "pattern {p} matches nothing for SEC"
        );
    }
    assert_same("regex gaps", &s, &r);
    // with --perl=native they are refused again
    let r = run(
        &common::rsec_bin(),
        dir,
        &["--testonly", "--conf=rules.sec", "--perl=native"],
        &[],
    );
    assert_eq!(r.status, Some(1), "{}", r.log);
    assert!(r.log.contains("not supported by rsec"), "{}", r.log);
}

const BRIDGE_RULES: &str = "\
type=Single
ptype=SubStr
pattern=native
desc=d
action=eval %o ( $x = 1 + 1 ); write - %o

type=Single
ptype=SubStr
pattern=module
desc=d
action=eval %o ( require POSIX; POSIX::floor(1.5) ); write - %o
";

#[test]
fn perl_native_and_off_reject_rules() {
    let tmp = TempDir::new("bridge-modes");
    let dir = tmp.path();
    std::fs::write(dir.join("rules.sec"), BRIDGE_RULES).unwrap();
    let bin = common::rsec_bin();
    let args = |mode: &'static str| ["--testonly", "--conf=rules.sec", mode];
    // native: the module rule (line 7) is rejected, naming the construct
    let r = run(&bin, dir, &args("--perl=native"), &[]);
    assert_eq!(r.status, Some(1), "{}", r.log);
    assert!(r.log.contains("1 rules loaded"), "{}", r.log);
    let line = r
        .log
        .lines()
        .find(|l| l.contains("--perl=native"))
        .unwrap_or_else(|| panic!("no rejection in {}", r.log));
    assert!(line.contains("at line 7"), "{line}");
    assert!(line.contains("require"), "{line}");
    // off: both are rejected
    let r = run(&bin, dir, &args("--perl=off"), &[]);
    assert_eq!(r.status, Some(1), "{}", r.log);
    assert_eq!(
        r.log.matches("not allowed with --perl=off").count(),
        2,
        "{}",
        r.log
    );
    assert!(r.log.contains("at line 1:"), "{}", r.log);
    // auto: both load (when perl is here)
    if perl_present() {
        let r = run(&bin, dir, &args("--perl=auto"), &[]);
        assert_eq!(r.status, Some(0), "{}", r.log);
        assert!(r.log.contains("2 rules loaded"), "{}", r.log);
    }
}

#[test]
fn perl_missing_rejects() {
    let tmp = TempDir::new("bridge-noperl");
    let dir = tmp.path();
    std::fs::write(dir.join("rules.sec"), BRIDGE_RULES).unwrap();
    let r = run(
        &common::rsec_bin(),
        dir,
        &["--testonly", "--conf=rules.sec"],
        &[("RSEC_PERL", "/nonexistent/perl")],
    );
    assert_eq!(r.status, Some(1), "{}", r.log);
    assert!(r.log.contains("1 rules loaded"), "{}", r.log);
    assert!(r.log.contains("not installed"), "{}", r.log);
    assert!(r.log.contains("at line 7"), "{}", r.log);
}

#[test]
fn bridged_print_keeps_its_place_in_stdout() {
    if !perl_present() {
        println!("SKIPPED: perl is not installed");
        return;
    }
    let tmp = TempDir::new("bridge-print");
    let dir = tmp.path();
    let rules = "type=Single\nptype=RegExp\npattern=(\\d+)\ndesc=d\n\
                 action=write - before $1; eval %o ( require POSIX; print \"printed $1\\n\"; \
                 $n++ ); write - after $1 %o; lcall %p $1 -> ( sub { system(\"echo system $_[0]\") } )\n";
    std::fs::write(dir.join("rules.sec"), rules).unwrap();
    std::fs::write(dir.join("in.log"), "1\n2\n3\n").unwrap();
    let r = run(
        &common::rsec_bin(),
        dir,
        &["--conf=rules.sec", "--input=in.log", "--notail"],
        &[],
    );
    let want: String = (1..=3)
        .map(|i| format!("before {i}\nprinted {i}\nafter {i} {}\nsystem {i}\n", i - 1))
        .collect();
    // (SEC leaves Perl's print in Perl's buffer until it forks or exits, so through a pipe
    // its "printed N" lines come after "after N"; rsec keeps them in place.)
    assert_eq!(r.stdout, want, "{}", r.log);
}
