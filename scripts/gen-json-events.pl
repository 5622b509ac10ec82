#!/usr/bin/perl
# Writes N JSON events of about 1 KB each (one object per line) for the JSON input
# throughput benchmark; see BENCHMARKS.md. Usage: gen-json-events.pl [N] > events.json
# Every tenth event has "program":"sshd" and a "Failed password" message; the others are
# varied syslog-like events with nested user_tags.
use strict;
use warnings;
my $n = shift // 500_000;
my @prog = qw(cisco_ios nginx postgres kernel cron systemd);
my $pad = 'x' x 660;
for my $i (0 .. $n - 1) {
    my ($prog, $msg);
    if ($i % 10 == 0) {
        $prog = 'sshd';
        $msg = sprintf 'Failed password for user%d from 10.%d.%d.%d port %d ssh2',
            $i % 97, $i % 256, ($i >> 8) % 256, ($i >> 16) % 256, 1024 + $i % 60000;
    } else {
        $prog = $prog[$i % @prog];
        $msg = sprintf 'request %d served in %d ms status=200 path=/api/v1/items/%d', $i, $i % 500, $i % 10007;
    }
    my $sec = $i % 86400;
    printf '{"timestamp":"2026-03-01T%02d:%02d:%02dZ","host":"host%03d.example.net",'
      . '"program":"%s","severity":"info","facility":"local0","message":"%s",'
      . '"user_tags":{"srcip":"192.0.2.%d","service":"svc%d","region":"eu-west-1","cpu_usage":%d,'
      . '"memory_usage":%d,"mswin_eventid":"%d"},"event_id":%d,"pad":"%s"}' . "\n",
      int($sec / 3600), int($sec / 60) % 60, $sec % 60, $i % 500, $prog, $msg,
      $i % 254 + 1, $i % 40, $i % 100, ($i * 7) % 100, 4600 + $i % 50, $i, $pad;
}
