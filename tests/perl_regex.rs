//! Differential test of `PerlRegex` against the real `perl`: every case is compiled with
//! `qr/$pattern/` and matched as SEC does (`$line =~ /$regexp/`) in one perl process, and
//! the compile status, group count, match and every group's byte offsets must agree.
//! Also compiles every RegExp pattern of the rule corpus in `../shared/corpus` and checks
//! it on a subject derived from the pattern.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use rsec::pattern::regex::PerlRegex;

const PERL_SCRIPT: &str = r#"
binmode STDIN; binmode STDOUT;
while (my $l = <STDIN>) {
    chomp $l;
    my ($hp, $hs) = split / /, $l, 2;
    my $p = pack("H*", $hp);
    my $s = pack("H*", defined $hs ? $hs : "");
    my $r = eval { qr/$p/ };
    if (!defined $r) { print "ERR\n"; next; }
    my $n;
    { "" =~ /(?:$r)|/; $n = $#+; }
    if ($s =~ /$r/) {
        my @o = map { defined $-[$_] ? "$-[$_],$+[$_]" : "-" } 0 .. $n;
        print "M $n @o\n";
    } else {
        print "NO $n\n";
    }
}
"#;

/// Hand-written cases: (pattern, subject).
fn cases() -> Vec<(&'static [u8], &'static [u8])> {
    vec![
        // plain and anchors
        (br"", b""),
        (br"", b"abc"),
        (br"abc", b"xxabcxx"),
        (br"^abc", b"xabc"),
        (br"^abc$", b"abc"),
        (br"abc$", b"abc\n"),
        (br"(abc$)", b"abc\n"),
        (br"abc$", b"abc\n\n"),
        (br"abc\Z", b"abc\n"),
        (br"abc\z", b"abc\n"),
        (br"\Aabc", b"abc"),
        (br"$", b"a\n"),
        (br"^$", b""),
        (br"^$", b"\n"),
        (br"(?m)^b", b"a\nb"),
        (br"(?m)^", b"a\n"),
        (br"(?m)^$", b"a\n"),
        (br"(?m)a$", b"a\nb"),
        (br"(?m)(^.*$)", b"x\ny\n"),
        (br"\Gabc", b"abc"),
        (br"a\Gb", b"ab"),
        // dot, classes, byte semantics
        (br".", b"\n"),
        (br"(?s).", b"\n"),
        (br"\N+", b"ab\ncd"),
        (br"a.c", b"a\xffc"),
        (br"\w+", b"\xe9abc\xe9"),
        (br"\W", b"\xe9"),
        (br"\d+", b"x123y"),
        (br"\D", b"1x"),
        (br"\s", b"\x0b"),
        (br"\s", b"\x85\xa0 "),
        (br"\S+", b"  ab\xa0"),
        (br"\h+", b"x \t\xa0y"),
        (br"\H", b" x"),
        (br"\v+", b"a\n\x0b\x0c\r\x85b"),
        (br"\V+", b"\nab\n"),
        (br"\R", b"a\r\nb"),
        (br"a\Rb", b"a\nb"),
        (br"[]a]+", b"x]a]"),
        (br"[^]a]+", b"]]xy"),
        (br"[a-]+", b"x-a-"),
        (br"[-a]+", b"x-a-"),
        (br"[\w-z]+", b"!a-z"),
        (br"[a-\w]+", b"!-a"),
        (br"[\d.]+", b"ip 10.0.0.1 x"),
        (br"[[:alpha:]]+", b"12ab\xe9"),
        (br"[[:^digit:]]+", b"12ab3"),
        (br"[[:punct:][:space:]]+", b"ab!? c"),
        (br"[[:upper:]]+", b"abCDe"),
        (br"(?i)[[:upper:]]+", b"12abCDe"),
        (br"(?i)[[:^lower:]]", b"aB1"),
        (br"[[:xdigit:]]+", b"xyzDEADbeefg"),
        (br"[[:word:]]+", b"-_a1-"),
        (br"[[:cntrl:]]", b"a\x7fb"),
        (br"[[:print:]]+", b"\x01ab c\x02"),
        (br"[[:graph:]]+", b" ab c"),
        (br"[[:blank:]]+", b"a \t b"),
        (br"[:alpha:]+", b"xlpha:"),
        (br"[\]]", b"]"),
        (br"[\\]", b"\\"),
        (br"[\b]", b"a\x08"),
        (br"[\x41-\x43]+", b"xABCD"),
        (br"[\x{41}-\x{5a}]+", b"abXYZ"),
        (br"[a-\x{100}]+", b"`az\xff"),
        (br"[\t\n]", b"a\tb"),
        (br"[\e\cA]", b"x\x01"),
        (br"[\1]", b"\x01"),
        (br"[\8]", b"8"),
        (br"[\R]", b"R"),
        (br"[.]", b"a."),
        (br"[$^]+", b"a^$"),
        (br"(?x)[ a]", b" "),
        (br"(?xx)[ a]", b" a"),
        (br"[^\n]+", b"ab\ncd"),
        (br"[^\xff]+", b"\xff\xfea"),
        (br"[\xe0-\xff]+", b"a\xe9\xffz"),
        // case folding: ASCII only
        (br"(?i)abc", b"xABC"),
        (br"(?i)\xe9", b"\xc9"),
        (br"(?i)[a-c]+", b"xAbC"),
        (br"(?i)[^a]", b"A"),
        (br"(?i)[^a]", b"b"),
        (br"(?i:a)b", b"AB Ab"),
        (br"a(?i)b|c", b"C"),
        (br"(a(?i)b)c", b"aBC aBc"),
        (br"(?i)a(?-i)b", b"AB Ab"),
        (br"(?^i:a)", b"A"),
        (br"(?i)(?^:a)", b"Aa"),
        (br"(?i-i:a)", b"Aa"),
        // /u and /a charsets
        (br"(?u)\w", b"\xe9"),
        (br"(?a)\w", b"\xe9a"),
        (br"(?u)(?i)\xe9", b"\xc9"),
        (br"(?u)\s", b"\xa0"),
        (br"(?u)\bx", b"\xe9x x"),
        (br"\p{L}", b"1\xe9"),
        (br"\p{Digit}|\w", b"\xe9"),
        (br"\P{L}", b"a1"),
        (br"\pL+", b"1ab"),
        (br"\p{IsWord}+", b"-a_1-"),
        (br"\p{^L}", b"a1"),
        (br"\p{XPosixPunct}", b"a\xa7"),
        (br"\p{PosixAlpha}+", b"\xe9ab"),
        (br"(?i)\p{Lu}", b"a"),
        (br"\N{U+41}+", b"xAA"),
        (br"\x{100}|a", b"a"),
        (br"\x{100}|\w", b"\xe9"),
        // braces: quantifier or literal
        (br"a{foo}", b"a{foo}"),
        (br"x{", b"x{"),
        (br"{}", b"a{}"),
        (br"{1}", b"{1}"),
        (br"a{,5}", b"aaa"),
        (br"a{,5}", b"a{,5}"),
        (br"a{,}", b"a{,}"),
        (br"a{ }", b"a{ }"),
        (br"a{ 2 , 3 }", b"aaaa"),
        (br"a{ ,3}", b"aaaa"),
        (br"a{1 }", b"aa"),
        (br"a{2}", b"aaa"),
        (br"a{2,}", b"aaaa"),
        (br"a{2,3}?", b"aaaa"),
        (br"a{1}?", b"aa"),
        (br"a{2,1}", b"aa"),
        (br"a{1,2", b"a{1,2"),
        (br"a{1,2}{", b"aa{"),
        (br"a{0}", b"x"),
        (br"(a){0}", b"x"),
        (br"\d{3}-\d{4}", b"tel 555-1234"),
        // escapes
        (br"\<a\>", b"<a>"),
        (br"\/usr\/bin", b"/usr/bin/x"),
        (br"\@\%\#\!\,\-\:\;\=\~\`\'\x22", b"@%#!,-:;=~`'\""),
        (br"\Qa.", b"Qa."),
        (br"\Qa.", b"a."),
        (br"a\E", b"aE"),
        (br"\y\i\j\m\q\_", b"yijmq_"),
        (br"\e\a\f\t\n\r", b"\x1b\x07\x0c\t\n\r"),
        (br"\cA\ca\c[\c?", b"\x01\x01\x1b\x7f"),
        (br"\x", b"\x00"),
        (br"\x4", b"\x04"),
        (br"\x41\x4a", b"AJ"),
        (br"\xg", b"\x00g"),
        (br"\x{}", b"\x00"),
        (br"\x{ 41 }", b"A"),
        (br"\x{4_1}", b"A"),
        (br"\x{ff}", b"\xff"),
        (br"\o{101}", b"A"),
        (br"\101\x42", b"AB"),
        (br"\0", b"\x00"),
        (br"\012", b"\n"),
        (br"\18", b"\x018"),
        (br"(a)\10", b"a\x08"),
        (br"(a)\11", b"a\t"),
        (br"\10(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)", b"\x08abcdefghij"),
        (br"(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)\10", b"abcdefghijj"),
        (b"caf\xc3\xa9", b"un caf\xc3\xa9"),
        (b"\xe9+", b"\xe9\xe9"),
        // comments and /x
        (br"a(?#comment)b", b"ab"),
        (br"a(?#x)*", b"aaa"),
        (br"(?x) a b # c", b"ab"),
        (br"(?x) a + b", b"aab"),
        (br"(?x)a\ b", b"a b"),
        (br"(?x)a#b", b"ab"),
        (br"(?x: a b ) c", b"ab c"),
        (br"(?^x:a b)", b"ab"),
        (br"(?xx)[a b]+", b" ab"),
        // groups and captures
        (br"(a)|(b)", b"b"),
        (br"(a)?b", b"b"),
        (br"(a)?(b)?c", b"ac"),
        (br"(?:(a)|b)+", b"ab"),
        (br"(a|ab)(c|bcd)(d*)", b"abcd"),
        (br"(a*)*", b"b"),
        (br"(a*)+", b"b"),
        (br"(a|)*", b"b"),
        (br"()*", b"x"),
        (br"(a?)*?", b"x"),
        (br"(a+|b+)*c", b"aabbc"),
        (br"((a)|(b))+", b"ab"),
        (br"(x)(?:y(z))?", b"xy"),
        (br"(.*?),(.*)", b"a,b,c"),
        (br"(\d+)\.(\d+)\.(\d+)\.(\d+)", b"from 10.1.2.3 port"),
        (br"(?<name>\w+)=(?<val>\S*)", b"  key=value x"),
        (br"(?P<x>a)(?'y'b)", b"ab"),
        (br"(?<n>a)|(?<n>b)", b"b"),
        (br"(?n)(a)(?<k>b)", b"ab"),
        (br"(?|(a)|(b))(c)", b"bc"),
        (br"(?|(a)(x)|(b))", b"b"),
        (br"x*", b"yx"),
        (br"a|", b"b"),
        (br"|a", b"a"),
        (br"(?:)*x", b"x"),
        (br"^*x", b"x"),
        (br"\b\w+\b", b" hello "),
        (br"\Bb\B", b"abc b"),
        (br"foo\b", b"foobar foo"),
        (br"\bx", b"\xe9x"),
        (br"(*FAIL)|a", b"a"),
        (br"(*F)", b"a"),
        // lazy, possessive, atomic, look-around, back-references (fallback)
        (br"a+?", b"aaa"),
        (br"<.+?>", b"<a><b>"),
        (br"a++a", b"aaa"),
        (br"a*+b", b"aab"),
        (br"a?+a", b"a"),
        (br"a{2}+", b"aaa"),
        (br"(?>a+)b", b"aab"),
        (br"(?>ab|a)c", b"abc"),
        (br"(?>ab|a)bc", b"abc"),
        (br"foo(?=bar)", b"foobaz foobar"),
        (br"foo(?!bar)", b"foobar foobaz"),
        (br"(?<=\$)\d+", b"a 12 $34"),
        (br"(?<!a)b", b"ab cb"),
        (br"(?<=a|bc)x", b"bcx"),
        (br"(?<!a|bc)x", b"bcx ax dx"),
        (br"(?<=\xe9)(b)", b"\xe9\xe9b"),
        (br"(\w)\1", b"abccd"),
        (br"(?<q>['\x22]).*?\k<q>", b"say 'hi' \"x\""),
        (br"(?<n>a)\k{n}\k'n'", b"aaa"),
        (br"(?P<n>a)(?P=n)", b"aa"),
        (br"(a)\g1\g{1}\g{-1}", b"aaaa"),
        (br"(a)(b)\g-2", b"aba"),
        (br"(\xe9)\1", b"x\xe9\xe9"),
        (br"(a)|\1b", b"b"),
        (br"a\Kb", b"ab"),
        (br"(a)\K(b)", b"xab"),
        (br"(a)?(?(1)b|c)", b"c"),
        (br"(a)?(?(1)b|c)", b"ab"),
        (br"(?<x>a)?(?(<x>)b|c)", b"ab"),
        (br"(*pla:a)a", b"a"),
        (br"(*nlb:x)a", b"xaya"),
        (br"(?=.*\d)\w+", b"!abc1"),
        (br"(\w+)(?=\.)", b"www.x"),
        (br"\bfoo\b(?!\.)", b"foo. foo"),
        (br"^(?:(?!ab).)*$", b"xxab"),
        (br"^(?:(?!ab).)*$", b"xxa"),
        (br"(?<=^|,)([^,]*)", b"a,b"),
        (br"(a$)(?=\n)", b"a\n"),
        (br"(?m)^(\w+)(?=\n)", b"ab\ncd"),
        (br"(?i)(a)(?=B)", b"Ab"),
        // more edge cases
        (br"a$b", b"a\nb"),
        (br"a\Zb", b"ab"),
        (br"(?m)a$", b"a\n"),
        (br"(?m)$", b"\n"),
        (br"(?m)(?<=x)^", b"x\ny"),
        (br"(?x)[#]a", b"#a"),
        (br"(?x)a # comment (\n b", b"ab"),
        (br"(?x)\#", b"#"),
        (br"(a|b)*c\1", b"abcb"),
        (br"(a|b)*?c", b"abc"),
        (br"(?:(a)|(b))*\2", b"abb"),
        (br"\b\xe9", b" \xe9"),
        (br"\Bx(?=a)", b"\xe9xa"),
        (br"(?=a)\Bb|a", b"a"),
        (br"(foo|foobar)\b", b"foobar"),
        (br"(?>foo|foobar)\b", b"foobar"),
        (br"(\d+)(?!\d)", b"12345x"),
        (br"(?<=\d{3})x", b"12x 123x"),
        (br"(?<![a-z])\d", b"a1 2"),
        (br"(?i)(?<=AB)c", b"abC"),
        (br"(?s)(?<=.)x", b"\nx"),
        (br"(?<=\n)x", b"a\nx"),
        (br"x(?=\z)", b"x\n"),
        (br"x(?=$)", b"x\n"),
        (br"(?=(a+))a*b\1", b"baaabac"),
        (br"(.)(?:(?!\1).)*\1", b"abcbd"),
        (br"^(\w+)\s+\1$", b"hello hello"),
        (br"^(\w+)\s+\1$", b"hello hello\n"),
        (br"(\w+)\s+\1\b", b"the the theme"),
        (br"a{3,5}+a", b"aaaaaa"),
        (br"(?:ab)++c", b"ababc"),
        (br"[a-z]*+\d", b"abc1"),
        (br"\d?+\d", b"12"),
        (br"(a(?<in>b)c)(?<out>d)", b"abcd"),
        (br"((a)(b(c)))(d)", b"abcd"),
        (br"(?:x(y)?)+", b"xyx"),
        (br"(?:x(yy|z)?)+", b"xyyx"),
        (br"(?:x(y|zz)?)+", b"xyx"),
        (br"(?:x(?:(y))?)+", b"xyx"),
        (br"(?:x(y)*)+", b"xyx"),
        (br"(?:x(y+)?)+", b"xyx"),
        (br"(?:x(y)??)+", b"xyx"),
        (br"(?:x(y)??)+$", b"xyx"),
        (br"(?:(y)?x)+", b"yxx"),
        (br"(?:x(y){0,2})+", b"xyx"),
        (br"(?:x((y))?)+", b"xyx"),
        (br"(?:x(\w)?)+", b"xyx-"),
        (br"(?:x(ab|cd)?)+", b"xabx"),
        (br"(?:x(y)?|q)+", b"xyq"),
        (br"(?:x(y)?+)+", b"xyx"),
        (br"(?:x(?<n>y)?)+", b"xyx"),
        (br"(?:x(y\b)?)+", b"xyx"),
        (br"(a)+", b"aaa"),
        (br"(a)*b|(c)", b"c"),
        (br"(?|(a)|b(c)|(d)(e))(f)", b"bcf"),
        (br"(?|(?<n>a)|(?<n>b))\k<n>", b"bb"),
        (br"(a)(?|x(b)|y(c))\2", b"aycc"),
        (br"(\x00)\1", b"\x00\x00"),
        (br"\0\01\012", b"\x00\x01\n"),
        (br"[\0-\x1f]+", b"ab\x00\x1f"),
        (br"[\o{60}-\o{71}]+", b"x42"),
        (br"[\x{ff}]", b"\xff"),
        (br"[\N{U+41}-\N{U+43}]+", b"ABCD"),
        (br"(?u)[[:alpha:]]+", b"1\xe9\xaa"),
        (br"(?u)[[:punct:]]+", b"a!\xa7\xbf"),
        (br"(?u)\W+", b"a\xd7\xf7b"),
        (br"(?u)(?i)[\xe0-\xe2]+", b"\xc0\xc1\xe2"),
        (br"(?i)[\xe0-\xe2]+", b"\xc0\xe1"),
        (br"(?u)\d", b"\xb2 1"),
        (br"(?a)\s", b"\xa0 "),
        (br"(?l)\w", b"\xe9a"),
        (br"(?aa)(?i)k", b"K"),
        (br"(?n)(?:(a)|b)", b"a"),
        (br"(?-n)(a)", b"a"),
        (br"(?x-x) a", b" a"),
        (br"(?s-s).", b"\na"),
        (br"(?ms)^a.b$", b"x\na\nb"),
        (br"(?mi)^AB$", b"x\nab\ny"),
        (br"((?i)a)A", b"aA AA"),
        (br"(?i)(?:a|(?-i)b)", b"B b"),
        (br"a|b|", b"c"),
        (br"((((((((((a))))))))))\10", b"aa"),
        (br"(a)(b)(c)(d)(e)(f)(g)(h)(i)\10", b"abcdefghi\x08"),
        (br"\11(a)", b"\ta"),
        (br"\377", b"\xff"),
        (br"\400", b"a"),
        (br"\400|\w", b"\xe9"),
        (br"\x{263A}|x", b"x"),
        (br"\cz\c@", b"\x1a\x00"),
        (br"\c\\", b"\x1c\\"),
        (br"\c\", b"\x1c"),
        (br".{2}\z", b"abc"),
        (br"^.*$", b"abc\n"),
        (br"^.*\Z", b"abc\n"),
        (br"^.*\z", b"abc\n"),
        (br"(?s)^.*$", b"abc\n"),
        (br"(?s)^(.*)$", b"abc\n"),
        (br"\$\d+", b"cost $12"),
        (br"\^a", b"x^a"),
        (br"a\|b", b"a|b"),
        (br"\(\)", b"()"),
        (br"\[x\]", b"[x]"),
        (br"\{1\}", b"a{1}"),
        (br"a\{1}", b"a{1}"),
        (br"a{1\}", b"a{1}"),
        (br"\.\*\+\?", b".*+?"),
        (br"a\ b", b"a b"),
        (br"\\\\", b"\\\\"),
        (br"(*pla:\d)\w", b"a1"),
        (br"(*atomic:a+)b", b"aab"),
        (br"(?(?=a)ab|cd)", b"cd ab"),
        (br"(?(?!a)cd|ab)", b"ab"),
        (br"(a)?x(?(1)y)", b"xy"),
        (br"(?'q'a)?(?('q')b|c)", b"c"),
        (br"$+|Bb", b"ab\n"),
        (br" :$*+|", b"x"),
        (br"^?$|$", b"ab\n"),
        (br"\x41{", b"A{"),
        (br"x\.{", b"x.{"),
        (br"(?=a)*a", b"a"),
        (br"\b{0}x", b"ax"),
        (br"\\ab{", b"\\ab{"),
    ]
}

/// Patterns Perl rejects; PerlRegex must reject them too.
const PERL_ERRORS: &[&[u8]] = &[
    br"(",
    br")",
    br"a)",
    br"[a",
    br"[]",
    br"[a\]",
    br"*a",
    br"a|*",
    br"a**",
    br"a+*",
    br"a{2}{3}",
    br"x{1}{2}",
    br"abc\",
    br"\1",
    br"(a)\2",
    br"\8",
    br"\k<n>",
    br"(?P=n)",
    br"\g{-1}",
    br"[z-a]",
    br"[[:foo:]]",
    br"[[.a.]]",
    br"[[=a=]]",
    br"(?z)",
    br"(?e)",
    br"(?^-i)",
    br"(?-d)",
    br"(?aaa)",
    br"(?i",
    br"(?i:",
    br"(?<n",
    br"(?<1a>x)",
    br"(?#abc",
    br"a{70000}",
    br"a{65535}",
    br"\C",
    br"\ox",
    br"\o{}",
    br"\c",
    br"[\N]",
    br"\p{Foo}",
    br"(?{1})",
    br"a\a{",
    br"\d{",
    br"\w{a}",
    br"a\\a{",
    br"(?<=a+)",
];

/// Patterns Perl accepts that rsec refuses (documented in the module).
const UNSUPPORTED: &[&[u8]] = &[
    br"(?R)",
    br"(a)(?1)",
    br"(?<n>a)(?&n)",
    br"(*ACCEPT)",
    br"(*PRUNE)a",
    br"\X",
    br"\b{wb}",
    br"\N{LATIN SMALL LETTER A}",
    br"(?<=a{1,3})x",
    br"(?(DEFINE)a)",
];

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{:02x}", x)).collect()
}

/// Returns the perl path, or None (and a message) when perl is absent.
fn perl_available() -> bool {
    let ok = Command::new("perl")
        .arg("-e1")
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !ok {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("perl is required for the differential regex test (CI=true)");
        }
        eprintln!("SKIP: perl not found; differential regex test skipped");
    }
    ok
}

/// Runs all cases through one perl process; one output line per case.
fn run_perl(cases: &[(Vec<u8>, Vec<u8>)]) -> Vec<String> {
    let mut child = Command::new("perl")
        .env("LC_ALL", "C.UTF-8")
        .arg("-e")
        .arg(PERL_SCRIPT)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn perl");
    let mut input = String::new();
    for (p, s) in cases {
        input.push_str(&hex(p));
        input.push(' ');
        input.push_str(&hex(s));
        input.push('\n');
    }
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || {
        stdin.write_all(input.as_bytes()).expect("write to perl");
    });
    let out = child.wait_with_output().expect("perl output");
    writer.join().expect("writer thread");
    let lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(lines.len(), cases.len(), "perl answered every case");
    lines
}

/// What PerlRegex says, in the perl script's output format.
fn ours(p: &[u8], s: &[u8]) -> String {
    let re = match PerlRegex::from_bytes(p) {
        Ok(r) => r,
        Err(_) => return "ERR".to_string(),
    };
    let n = re.group_count();
    let mut locs = Vec::new();
    let matched = re.captures_into(s, &mut locs);
    assert_eq!(
        matched,
        re.is_match(s),
        "is_match agrees with captures_into"
    );
    if !matched {
        return format!("NO {}", n);
    }
    let o: Vec<String> = locs
        .iter()
        .map(|l| match l {
            Some((a, b)) => format!("{},{}", a, b),
            None => "-".to_string(),
        })
        .collect();
    format!("M {} {}", n, o.join(" "))
}

fn show(b: &[u8]) -> String {
    b.iter()
        .flat_map(|&c| std::ascii::escape_default(c))
        .map(char::from)
        .collect()
}

/// Compares every case; returns the list of disagreements.
fn compare(cases: &[(Vec<u8>, Vec<u8>)], perl: &[String]) -> Vec<String> {
    let mut bad = Vec::new();
    for ((p, s), want) in cases.iter().zip(perl) {
        let got = ours(p, s);
        if &got != want {
            bad.push(format!(
                "pattern {:?} subject {:?}: perl `{}` rsec `{}`",
                show(p),
                show(s),
                want,
                got
            ));
        }
    }
    bad
}

#[test]
fn differential_against_perl() {
    if !perl_available() {
        return;
    }
    let mut all: Vec<(Vec<u8>, Vec<u8>)> = cases()
        .into_iter()
        .map(|(p, s)| (p.to_vec(), s.to_vec()))
        .collect();
    // Every case also against the subject with a trailing newline and the empty string.
    let n = all.len();
    for i in 0..n {
        let (p, s) = all[i].clone();
        let mut nl = s.clone();
        nl.push(b'\n');
        all.push((p.clone(), nl));
        all.push((p, Vec::new()));
    }
    for p in PERL_ERRORS {
        all.push((p.to_vec(), Vec::new()));
    }
    let perl = run_perl(&all);
    for (i, p) in PERL_ERRORS.iter().enumerate() {
        assert_eq!(perl[3 * n + i], "ERR", "perl rejects {:?}", show(p));
    }
    let bad = compare(&all, &perl);
    eprintln!(
        "differential: {} cases ({} hand-written), {} disagree",
        all.len(),
        n,
        bad.len()
    );
    assert!(bad.is_empty(), "disagreements:\n{}", bad.join("\n"));
}

#[test]
fn unsupported_features_are_refused_with_a_reason() {
    // rsec's own engines refuse them (as with --perl=native or off); with the default
    // --perl=auto perl matches them instead (tests/perl_bridge.rs)
    rsec::perl::bridge::set_regex_fallback(false);
    for p in UNSUPPORTED {
        match PerlRegex::from_bytes(p) {
            Ok(_) => panic!("{:?} should be refused", show(p)),
            Err(e) => assert!(e.contains("not supported"), "{:?}: {}", show(p), e),
        }
    }
    if !perl_available() {
        return;
    }
    // Compile only: matching `(?R)` would recurse forever.
    for p in UNSUPPORTED {
        let ok = Command::new("perl")
            .arg("-e")
            .arg("exit(defined(eval { qr/$ARGV[0]/ }) ? 0 : 1)")
            .arg(String::from_utf8_lossy(p).as_ref())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "perl accepts {:?}", show(p));
    }
}

// ---------------------------------------------------------------------------------
// Corpus patterns

/// Joins continuation lines and splits a rule file into rules of (keyword, value), as
/// SEC's read_configfile does.
fn read_rules(text: &[u8]) -> Vec<Vec<(String, Vec<u8>)>> {
    let mut rules = Vec::new();
    let mut rule: Vec<(String, Vec<u8>)> = Vec::new();
    let mut line: Vec<u8> = Vec::new();
    let mut cont = false;
    let raw: Vec<&[u8]> = text.split(|&b| b == b'\n').collect();
    for (i, l) in raw.iter().enumerate() {
        if cont {
            line.extend_from_slice(l);
        } else {
            line = l.to_vec();
        }
        let start = line.iter().position(|b| !b.is_ascii_whitespace());
        let end = line.iter().rposition(|b| !b.is_ascii_whitespace());
        line = match (start, end) {
            (Some(a), Some(b)) => line[a..=b].to_vec(),
            _ => Vec::new(),
        };
        if line.last() == Some(&b'\\') && i + 1 < raw.len() {
            line.pop();
            cont = true;
            continue;
        }
        cont = false;
        if line.is_empty() || line[0] == b'#' {
            if !rule.is_empty() {
                rules.push(std::mem::take(&mut rule));
            }
            continue;
        }
        if let Some(eq) = line.iter().position(|&b| b == b'=') {
            let key = String::from_utf8_lossy(&line[..eq])
                .trim()
                .to_ascii_lowercase();
            let mut v = &line[eq + 1..];
            while v.first().is_some_and(|b| b.is_ascii_whitespace()) {
                v = &v[1..];
            }
            rule.push((key, v.to_vec()));
        }
    }
    if !rule.is_empty() {
        rules.push(rule);
    }
    rules
}

fn corpus_patterns() -> Vec<(String, Vec<u8>)> {
    let mut root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    let far = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus");
    if !root.is_dir() && far.is_dir() {
        root = far;
    }
    let mut files = Vec::new();
    let mut stack = vec![root];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push(p);
            }
        }
    }
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let Ok(text) = std::fs::read(&f) else {
            continue;
        };
        for rule in read_rules(&text) {
            for (k, v) in &rule {
                let Some(suffix) = k.strip_prefix("ptype") else {
                    continue;
                };
                let t = String::from_utf8_lossy(v).to_ascii_lowercase();
                let t = t.trim_end_matches(|c: char| c.is_ascii_digit());
                if t != "regexp" && t != "nregexp" {
                    continue;
                }
                let pkey = format!("pattern{}", suffix);
                if let Some((_, pat)) = rule.iter().find(|(k2, _)| *k2 == pkey) {
                    out.push((format!("{} {}", f.display(), pkey), pat.clone()));
                }
            }
        }
    }
    out
}

/// Replaces match variables `$N` / `${N}` the way SEC fills a pattern2 from the first
/// pattern's values (quotemeta'd; the sample value needs no quoting).
fn substitute_vars(p: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < p.len() {
        if p[i] == b'$' && i + 1 < p.len() && (p[i + 1].is_ascii_digit() || p[i + 1] == b'{') {
            let mut j = i + 1;
            let braced = p[j] == b'{';
            if braced {
                j += 1;
            }
            let st = j;
            while j < p.len() && p[j].is_ascii_digit() {
                j += 1;
            }
            if j > st && (!braced || p.get(j) == Some(&b'}')) {
                out.extend_from_slice(b"host1");
                i = if braced { j + 1 } else { j };
                continue;
            }
        }
        out.push(p[i]);
        i += 1;
    }
    out
}

/// Builds a string the pattern should match: the first alternative of every group, one
/// repetition of every quantified atom (n for `{n}`), a representative of every class.
struct Example<'a> {
    p: &'a [u8],
    i: usize,
}

impl Example<'_> {
    fn alt(&mut self) -> Vec<u8> {
        let first = self.seq();
        while self.p.get(self.i) == Some(&b'|') {
            self.i += 1;
            let _ = self.seq();
        }
        first
    }

    fn seq(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        while let Some(&c) = self.p.get(self.i) {
            if c == b'|' || c == b')' {
                break;
            }
            self.i += 1;
            let atom: Vec<u8> = match c {
                b'(' => {
                    if self.p[self.i..].starts_with(b"?") {
                        let close = match self.p.get(self.i + 1) {
                            Some(b'<') | Some(b'P') => Some(b'>'),
                            Some(b'\'') => Some(b'\''),
                            _ => None,
                        };
                        match close {
                            Some(cl) => {
                                while self.p.get(self.i).is_some_and(|&b| b != cl) {
                                    self.i += 1;
                                }
                                self.i += 1;
                            }
                            None => self.i += 2,
                        }
                    }
                    let a = self.alt();
                    self.i += 1;
                    a
                }
                b'[' => vec![self.class()],
                b'.' => b"-".to_vec(),
                b'^' | b'$' => Vec::new(),
                b'\\' => {
                    let e = self.p.get(self.i).copied().unwrap_or(b'\\');
                    self.i += 1;
                    match e {
                        b'd' => b"1".to_vec(),
                        b'D' | b'w' | b'S' => b"a".to_vec(),
                        b'W' => b"-".to_vec(),
                        b's' => b" ".to_vec(),
                        b'b' | b'B' | b'A' | b'z' | b'Z' | b'G' => Vec::new(),
                        b'n' => b"\n".to_vec(),
                        b't' => b"\t".to_vec(),
                        other => vec![other],
                    }
                }
                other => vec![other],
            };
            let mut count = 1;
            match self.p.get(self.i) {
                Some(b'*' | b'+' | b'?') => self.i += 1,
                Some(b'{') => {
                    let rest = &self.p[self.i + 1..];
                    let digits: Vec<u8> = rest
                        .iter()
                        .take_while(|b| b.is_ascii_digit())
                        .copied()
                        .collect();
                    let after = rest.get(digits.len());
                    if !digits.is_empty() && matches!(after, Some(b'}' | b',')) {
                        count = String::from_utf8_lossy(&digits).parse().unwrap_or(1).max(1);
                        while self.p.get(self.i).is_some_and(|&b| b != b'}') {
                            self.i += 1;
                        }
                        self.i += 1;
                    }
                }
                _ => {}
            }
            if matches!(self.p.get(self.i), Some(b'?' | b'+')) {
                self.i += 1;
            }
            for _ in 0..count {
                out.extend_from_slice(&atom);
            }
        }
        out
    }

    fn class(&mut self) -> u8 {
        let neg = self.p.get(self.i) == Some(&b'^');
        if neg {
            self.i += 1;
        }
        let mut members = Vec::new();
        let mut first = true;
        while let Some(&c) = self.p.get(self.i) {
            self.i += 1;
            if c == b']' && !first {
                break;
            }
            first = false;
            let m = if c == b'\\' {
                let e = self.p.get(self.i).copied().unwrap_or(b'\\');
                self.i += 1;
                match e {
                    b'd' => b'1',
                    b'w' => b'a',
                    b's' => b' ',
                    other => other,
                }
            } else {
                c
            };
            members.push(m);
        }
        if neg {
            b"ax0 -"
                .iter()
                .copied()
                .find(|b| !members.contains(b))
                .unwrap_or(b'~')
        } else {
            members.first().copied().unwrap_or(b'a')
        }
    }
}

#[test]
fn corpus_patterns_compile_and_agree() {
    let pats = corpus_patterns();
    if pats.is_empty() {
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("no corpus patterns found under ../shared/corpus");
        }
        eprintln!("SKIP: ../shared/corpus not found");
        return;
    }
    let mut fallback = 0;
    for (where_, p) in &pats {
        match PerlRegex::from_bytes(p) {
            Ok(re) => fallback += usize::from(re.uses_fallback()),
            Err(e) => panic!("{}: pattern {:?} does not compile: {}", where_, show(p), e),
        }
    }
    eprintln!(
        "corpus: {} of {} patterns need the fallback engine",
        fallback,
        pats.len()
    );
    if !perl_available() {
        return;
    }
    let mut cases = Vec::new();
    for (_, raw) in &pats {
        let p = substitute_vars(raw);
        let subject = Example { p: &p, i: 0 }.alt();
        let mut framed = b"xx ".to_vec();
        framed.extend_from_slice(&subject);
        cases.push((p.clone(), subject.clone()));
        cases.push((p.clone(), framed));
        cases.push((p.clone(), subject.get(1..).unwrap_or_default().to_vec()));
        cases.push((raw.clone(), subject));
    }
    let perl = run_perl(&cases);
    let mut unmatched = Vec::new();
    for (k, (where_, raw)) in pats.iter().enumerate() {
        if !perl[4 * k].starts_with('M') {
            unmatched.push(format!("{}: {:?} -> {}", where_, show(raw), perl[4 * k]));
        }
    }
    assert!(
        unmatched.is_empty(),
        "derived subjects that perl does not match:\n{}",
        unmatched.join("\n")
    );
    let bad = compare(&cases, &perl);
    eprintln!(
        "corpus: {} RegExp patterns, {} cases, {} disagree",
        pats.len(),
        cases.len(),
        bad.len()
    );
    assert!(bad.is_empty(), "disagreements:\n{}", bad.join("\n"));
}

/// Random short patterns compared with perl (slow-ish; run with `--ignored`).
#[test]
#[ignore]
fn random_differential() {
    if !perl_available() {
        return;
    }
    const ALPHA: &[u8] = b"ab()[]{}^$.*+?|\\-,:<=!1wdsbBZ \n";
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut all = Vec::new();
    for _ in 0..5000 {
        let len = 1 + (next() % 8) as usize;
        let p: Vec<u8> = (0..len)
            .map(|_| ALPHA[(next() % ALPHA.len() as u64) as usize])
            .collect();
        for hay in [&b"ab{1}\n"[..], b"b-a ab:ba", b""] {
            all.push((p.clone(), hay.to_vec()));
        }
    }
    let perl = run_perl(&all);
    let bad = compare(&all, &perl);
    eprintln!("random: {} cases, {} disagree", all.len(), bad.len());
    assert!(bad.is_empty(), "{}", bad[..bad.len().min(40)].join("\n"));
}
