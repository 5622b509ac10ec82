#!/bin/sh
# Follow a log with tail -F (which survives rotation) and correlate it with rsec reading
# standard input. Alerts are printed to standard output.
#
#   examples/tail-pipeline.sh /var/log/auth.log examples/ssh-alerts.sec
#
# RSEC may name the binary (default: rsec on PATH). rsec stops when tail does.
LOG=${1:-/var/log/auth.log}
RULES=${2:-/etc/rsec/ssh-alerts.sec}
RSEC=${RSEC:-rsec}
exec tail -n 0 -F "$LOG" 2>/dev/null | "$RSEC" --conf="$RULES" --input=- --notail --intevents
