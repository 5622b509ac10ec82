# rsec's Perl bridge server (embedded in rsec, see src/perl/bridge.rs for the protocol).
#
# Reads requests on standard input and answers on file descriptor 3. Every message is a
# 4-byte big-endian length and a body. User code runs in package main::SEC, as SEC runs it,
# so package variables persist between requests; what it prints goes to the inherited
# standard output, flushed before each answer.

# The evaluators come first, so that user code sees none of the server's lexicals.
sub RsecBridge::eval_scalar { package main::SEC; no strict; return scalar eval $_[0]; }
sub RsecBridge::eval_list   { package main::SEC; no strict; my @RsecBridge_r = eval $_[0]; return @RsecBridge_r; }

package RsecBridge;
use strict;
use warnings;
use Fcntl qw(F_GETFD F_SETFD FD_CLOEXEC);
use Scalar::Util qw(reftype);

# exit() in user code ends rsec, not just this server: answer 'X' instead of exiting.
BEGIN {
    *CORE::GLOBAL::exit = sub (;$) {
        my $code = @_ ? $_[0] : 0;
        die bless { code => (defined $code ? int($code) : 0) }, 'RsecBridge::Exit';
    };
}

# In event mode rsec sends the event time ('T' requests): time(), and localtime() and
# gmtime() without an argument, follow it.
our $NOW;
BEGIN {
    *CORE::GLOBAL::time = sub () { defined $RsecBridge::NOW ? $RsecBridge::NOW : CORE::time() };
    *CORE::GLOBAL::localtime = sub (;$) {
        my $t = @_ ? $_[0] : defined $RsecBridge::NOW ? $RsecBridge::NOW : CORE::time();
        return wantarray ? (CORE::localtime($t)) : scalar(CORE::localtime($t));
    };
    *CORE::GLOBAL::gmtime = sub (;$) {
        my $t = @_ ? $_[0] : defined $RsecBridge::NOW ? $RsecBridge::NOW : CORE::time();
        return wantarray ? (CORE::gmtime($t)) : scalar(CORE::gmtime($t));
    };
}

my $DEPTH = 8;
my (%code, %code_id, %regex);
my $next_id = 1;

open(my $req, '<&', \*STDIN) or die "rsec bridge: can't dup stdin: $!";
open(my $resp, '>&=', 3) or die "rsec bridge: can't open fd 3: $!";
open(STDIN, '<', '/dev/null');
for my $fh ($req, $resp) {
    my $flags = fcntl($fh, F_GETFD, 0);
    fcntl($fh, F_SETFD, $flags | FD_CLOEXEC) if defined $flags;
    binmode $fh;
}

# Requests are read through one buffer: a whole request usually takes one sysread.
my $inbuf = '';

# Waking a sleeping process costs tens of microseconds on a virtual machine, twice per
# request. So the request pipe is non-blocking and, right after an answer, the server
# polls it for up to $SPIN seconds (rsec's next request usually follows at once when
# rules call perl in a row) before it sleeps in select(). An idle server spins once,
# after its last answer, and then costs nothing. Each poll yields the CPU (sched_yield):
# when rsec waits on the same CPU, it runs at once instead of after the whole spin.
# Where the number of sched_yield is not known, the server does not spin.
use Config ();
my $YIELD = { 'x86_64' => 24, 'aarch64' => 124 }->{ (split /-/, $Config::Config{archname})[0] };
my $SPIN = defined $YIELD ? ($ENV{RSEC_BRIDGE_SPIN_US} // 100) / 1e6 : 0;
my $spinning = 0;
{
    use Fcntl qw(F_GETFL F_SETFL O_NONBLOCK);
    my $fl = fcntl($req, F_GETFL, 0);
    fcntl($req, F_SETFL, $fl | O_NONBLOCK) if defined $fl;
}
use Time::HiRes ();
use POSIX ();

sub read_exact {
    my ($n) = @_;
    my $until;
    while (length($inbuf) < $n) {
        my $got = sysread($req, $inbuf, 65536, length($inbuf));
        next if $got;
        return undef if defined $got;
        return undef if $! != POSIX::EAGAIN && $! != POSIX::EINTR;
        if ($spinning) {
            $until //= Time::HiRes::time() + $SPIN;
            if (Time::HiRes::time() < $until) { syscall($YIELD); next; }
            $spinning = 0;
        }
        my $rin = '';
        vec($rin, fileno($req), 1) = 1;
        select($rin, undef, undef, undef);
    }
    return substr($inbuf, 0, $n, '');
}

sub send_msg {
    my ($body) = @_;
    STDOUT->flush();
    my $msg = pack('N', length($body)) . $body;
    my $off = 0;
    while ($off < length($msg)) {
        my $w = syswrite($resp, $msg, length($msg) - $off, $off);
        exit(0) if !defined $w;
        $off += $w;
    }
    $spinning = 1;
}

sub str { return pack('N/a*', defined $_[0] ? $_[0] : '') }

sub code_handle {
    my ($f) = @_;
    my $key = 0 + $f;
    return $code_id{$key} if exists $code_id{$key};
    my $id = $next_id++;
    $code{$id} = $f;
    $code_id{$key} = $id;
    return $id;
}

sub enc {
    my ($v, $depth) = @_;
    return 'U' if !defined $v;
    my $t = reftype($v);
    if (!defined $t) {
        my $s = "$v";
        utf8::encode($s) if utf8::is_utf8($s);
        return 'S' . str($s);
    }
    my $s = "$v";
    if ($t eq 'CODE') { return 'C' . str($s) . pack('N', code_handle($v)); }
    return 'R' . str($s) if $depth <= 0;
    if ($t eq 'ARRAY') {
        return 'A' . str($s) . pack('N', scalar @$v) . join('', map { enc($_, $depth - 1) } @$v);
    }
    if ($t eq 'HASH') {
        my @k = sort keys %$v;
        return 'H' . str($s) . pack('N', scalar @k)
            . join('', map { my $k = $_; utf8::encode($k) if utf8::is_utf8($k); str($k) . enc($v->{$_}, $depth - 1) } @k);
    }
    return 'R' . str($s);
}

# Decodes one value at $_[1] (an offset, advanced) of $_[0].
sub dec {
    my $pos = \$_[1];
    my $tag = substr($_[0], $$pos, 1);
    $$pos++;
    return undef if $tag eq 'U';
    my $take = sub {
        my $n = unpack('N', substr($_[0], $$pos, 4));
        my $s = substr($_[0], $$pos + 4, $n);
        $$pos += 4 + $n;
        return $s;
    };
    my $num = sub { my $n = unpack('N', substr($_[0], $$pos, 4)); $$pos += 4; return $n; };
    if ($tag eq 'S') { return $take->($_[0]); }
    if ($tag eq 'A') {
        my $n = $num->($_[0]);
        return [ map { dec($_[0], $$pos) } 1 .. $n ];
    }
    if ($tag eq 'H') {
        my $n = $num->($_[0]);
        my %h;
        for (1 .. $n) { my $k = $take->($_[0]); $h{$k} = dec($_[0], $$pos); }
        return \%h;
    }
    if ($tag eq 'C') { return $code{ $num->($_[0]) }; }
    die "rsec bridge: bad value tag '$tag'\n";
}

sub answer {
    my ($ok, $err, @vals) = @_;
    if ($ok) {
        send_msg('O' . pack('N', scalar @vals) . join('', map { enc($_, $DEPTH) } @vals));
    } elsif (ref($err) eq 'RsecBridge::Exit') {
        send_msg('X' . pack('N', $err->{code} & 0xFFFFFFFF));
    } else {
        my $e = defined $err ? "$err" : '';
        utf8::encode($e) if utf8::is_utf8($e);
        send_msg('E' . str($e));
    }
}

sub run {
    my ($ctx, $f) = @_;
    my @r;
    if ($ctx eq 'L') { @r = $f->(); } else { $r[0] = $f->(); }
    return @r;
}

while (1) {
    my $len = read_exact(4);
    last if !defined $len;
    my $body = read_exact(unpack('N', $len));
    last if !defined $body;
    my $op = substr($body, 0, 1);
    if ($op eq 'T') {
        $NOW = unpack('q>', substr($body, 1, 8));
        next;
    }
    if ($op eq 'E' || $op eq 'K') {
        my $ctx = substr($body, 1, 1);
        my $pos = 2;
        my @r;
        if ($op eq 'E') {
            my $src = dec($body, $pos);
            @r = $ctx eq 'L' ? RsecBridge::eval_list($src) : (RsecBridge::eval_scalar($src));
        } else {
            my $id = unpack('N', substr($body, $pos, 4));
            $pos += 4;
            my $n = unpack('N', substr($body, $pos, 4));
            $pos += 4;
            my @args = map { dec($body, $pos) } 1 .. $n;
            my $f = $code{$id};
            if (!defined $f) {
                answer(0, "rsec bridge: no code reference $id\n");
                next;
            }
            @r = eval {
                package main::SEC;
                $ctx eq 'L' ? $f->(@args) : scalar($f->(@args));
            };
        }
        if ($@) { answer(0, $@); } else { answer(1, undef, @r); }
    } elsif ($op eq 'F') {
        my $id = unpack('N', substr($body, 1, 4));
        my $f = delete $code{$id};
        delete $code_id{ 0 + $f } if defined $f;
        send_msg('O' . pack('N', 0));
    } elsif ($op eq 'R') {
        my $pos = 1;
        my $pat = dec($body, $pos);
        my $re = eval { qr/$pat/ };
        if (!defined $re) { answer(0, $@); next; }
        $regex{$pat} = $re;
        # the number of groups: '' =~ /|re/ gives one (undef) value per group, or (1)
        my @g = ('' =~ /|$re/);
        my $n = (@g == 1 && defined $g[0]) ? 0 : scalar @g;
        send_msg('O' . pack('N', 1) . enc($n, 1));
    } elsif ($op eq 'M') {
        my $pos = 1;
        my $pat = dec($body, $pos);
        my $subj = dec($body, $pos);
        my $re = $regex{$pat};
        if (!defined $re) {
            $re = eval { qr/$pat/ };
            if (!defined $re) { answer(0, $@); next; }
            $regex{$pat} = $re;
        }
        if ($subj =~ $re) {
            my $out = 'Y' . pack('N', scalar @+);
            for my $i (0 .. $#+) {
                my ($s, $e) = ($-[$i], $+[$i]);
                $out .= defined $s ? pack('NN', $s, $e) : pack('NN', 0xFFFFFFFF, 0xFFFFFFFF);
            }
            send_msg($out);
        } else {
            send_msg('N');
        }
    } else {
        send_msg('E' . str("rsec bridge: unknown request '$op'\n"));
    }
}
