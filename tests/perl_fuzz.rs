//! Robustness of the native Perl interpreter on mangled input (no perl needed).

use rsec::perl::{Context, Interp, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
static PANICS: AtomicUsize = AtomicUsize::new(0);
/// Mutates real snippets (deterministically) and runs whatever still compiles: the
/// interpreter must report errors, never panic or hang.
#[test]
fn mutated_snippets_never_panic() {
    std::panic::set_hook(Box::new(|info| {
        PANICS.fetch_add(1, Ordering::SeqCst);
        eprintln!("PANIC {info}");
    }));
    let seeds = [
        r#"sub { my(%var); my($line) = $_[0]; if ($line !~ /kernel: iptables:/g) { return 0; } while ($line =~ /\G\s*([A-Z]+)(?:=(\S*))?/g) { $var{$1} = defined($2)?$2:1; } return \%var; }"#,
        r#"my $s = "a,b,,c"; my @p = split /,/, $s, -1; join '|', map { uc } grep { length } @p"#,
        r#"my %h = (a => [1, {b => 2}]); $h{a}[1]{b} += 3; sprintf("%05.1f|%-3s|%x", $h{a}[1]{b}, "x", 255)"#,
        r#"my $x = "aa"; $x++ for 1..30; my @r = ('a'..'e'); "$x @r[1,2] $#r ${\ scalar(@r)}""#,
        r#"my $s = "Hello World"; (my $t = $s) =~ s/(\w+)/\u\L$1/g; $t =~ tr/a-z/A-Z/; substr($t, 1, 3) . index($t, "O")"#,
        r#"sub f { my $n = shift; return $n < 2 ? $n : f($n-1) + f($n-2) } my @l = sort { $b <=> $a } map { f($_) } 1..10; "@l""#,
    ];
    let mut p = Interp::new();
    p.set_output(Box::new(std::io::sink()));
    let mut rng: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let junk = [
        "$", "@", "%", "{", "}", "[", "]", "(", ")", "/", "\\", "\"", "'", "=~", "->", "x", "..",
        "?", ":", ";", "0", "-1", "s/a/b/", "tr/a/b/", "qw(", "sub {", "my ", "$_[0]", "\\G", "**",
        "<<", "#", "\n", "é", "\u{0}",
    ];
    let mut n = 0;
    for _round in 0..3000 {
        let seed = seeds[(next() % seeds.len() as u64) as usize];
        let mut s: Vec<char> = seed.chars().collect();
        for _ in 0..(1 + next() % 4) {
            let pos = (next() % (s.len() as u64 + 1)) as usize;
            match next() % 3 {
                0 if pos < s.len() => {
                    s.remove(pos);
                }
                1 => {
                    let j = junk[(next() % junk.len() as u64) as usize];
                    for (k, c) in j.chars().enumerate() {
                        s.insert(pos + k, c);
                    }
                }
                _ => {
                    if pos < s.len() {
                        let q = (next() % s.len() as u64) as usize;
                        s.swap(pos, q);
                    }
                }
            }
        }
        let src: String = s.into_iter().collect();
        if let Ok(c) = p.compile(&src) {
            n += 1;
            for ctx in [Context::Scalar, Context::List] {
                if let Ok(v) = p.eval(&c, ctx) {
                    for f in v {
                        if let Value::CodeRef(_) = f {
                            let _ = p.call(
                                &f,
                                vec![Value::from("kernel: iptables: SRC=1 SYN"), Value::Undef],
                                Context::List,
                            );
                        }
                    }
                }
            }
        }
    }
    eprintln!("compiled {n}");
    assert_eq!(PANICS.load(Ordering::SeqCst), 0);
}
