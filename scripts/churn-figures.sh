#!/bin/sh
# churn-figures.sh [RUNS]: issue 15's figures for docs/DESIGN.md ("Memory
# and connection bounds"), from real duet processes on loopback
# (TestMeasureChurn in e2e_hostile_net_test.go):
#   - time from the peer's ready to its session while an active churner
#     (16 connections sending PLAIN_PINGs, one new connection per turn)
#     works on the other side's port, at ~2k and ~8k new connections/s,
#     fresh and after a restart, RUNS runs each (default 10), and how many
#     were within 1 s; the attacked process's peak RSS;
#   - the same under connect+reset churn from 4 threads (rate as measured).
# The rates are targets; the churner reports what it reached (a loaded
# machine reaches less). Note the load average beside the figures.
set -eu
cd "$(dirname "$0")/.."
uptime
DUET_CHURN_RUNS="${1:-10}" go test -count=1 -timeout 30m -run '^TestMeasureChurn$' -v . |
	grep -E 'churn target|connect\+reset|FAIL|Error|timed out' || true
uptime
