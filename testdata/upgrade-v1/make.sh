#!/bin/bash
# make.sh DUET_V1 OUT: writes the upgrade fixture (README.txt) into OUT
# with DUET_V1, a duet built from 791c3cf (protocol 1). Ports 23301
# (alice) and 23302 (bob) must be free; the fixture's database names and
# known_peers entries carry them. Needs bash, grep, mkfifo.
set -eu
duet=$1 out=$2
mkdir -p "$out/alice" "$out/bob"
chmod 700 "$out/alice" "$out/bob"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# start RUN NAME MAIN SUB: NAME's duet, headless, reading the fifo
# $work/RUN.in (held open on a descriptor of ours) and writing its events
# to $work/RUN.out (the run's name: NAME, then NAME.2).
declare -A fd
next=10
start() {
  local run=$1 name=$2 main=$3 sub=$4
  mkfifo "$work/$run.in"
  "$duet" --headless --main "$main" --sub "$sub" --ping 200ms \
    --identity "$out/$name/$name.pem" --known-peers "$out/$name/known_peers" \
    <"$work/$run.in" >"$work/$run.out" 2>"$work/$run.err" &
  eval "exec $next>\"$work/$run.in\""
  fd[$run]=$next; next=$((next + 1))
}
# say RUN LINE: writes LINE to RUN's stdin.
say() { echo "$2" >&"${fd[$1]}"; }
# await RUN COUNT PATTERN: waits (30 s at most) for COUNT lines of RUN's
# output matching PATTERN.
await() {
  for _ in $(seq 300); do
    [ "$(grep -c -- "$3" "$work/$1.out" || true)" -ge "$2" ] && return 0
    sleep 0.1
  done
  echo "timeout: $1 waiting for $2 x $3" >&2; cat "$work/$1.out" >&2; exit 1
}
# quit RUN PID: /quit, then waits for RUN's duet to exit.
quit() { say "$1" /quit; eval "exec ${fd[$1]}>&-"; wait "$2"; unset "fd[$1]"; }

# 1. Both up: keys made and pinned, four messages both ways, delivered.
start alice alice 23301 23302; pa=$!
start bob bob 23302 23301; pb=$!
await alice 1 '"state":"established"'
await bob 1 '"state":"established"'
say alice 'hello bob, from protocol 1'
await bob 1 '"text":"hello bob, from protocol 1"'
say bob 'hi alice, protocol 1 here too'
await alice 1 '"text":"hi alice, protocol 1 here too"'
say alice 'an old message with ünïcödé and 日本語'
await bob 1 '"text":"an old message with'
say bob 'the last reply before the upgrade'
await alice 1 '"text":"the last reply before the upgrade"'
await alice 2 '"event":"delivered"'
await bob 2 '"event":"delivered"'

# 2. bob quits; alice writes three messages while he is away, and quits:
# they stay queued in her database.
quit bob $pb
await alice 1 '"state":"peer-left"'
say alice 'queued 1 while bob was away'
say alice 'queued 2 while bob was away'
say alice 'queued 3 while bob was away'
await alice 3 '"event":"queued"'
quit alice $pa

# 3. bob alone writes one message and quits: queued in his database.
start bob.2 bob 23302 23301; pb=$!
await bob.2 1 '"event":"ready"'
say bob.2 'queued by bob while alice was away'
await bob.2 1 '"event":"queued"'
quit bob.2 $pb

for n in alice bob bob.2; do
  if grep -q '"event":"rejected"\|"event":"error"' "$work/$n.out"; then
    echo "$n reported a rejection or an error:" >&2; cat "$work/$n.out" >&2; exit 1
  fi
done
cat "$work/alice.out" >"$out/alice.events"
cat "$work/bob.out" "$work/bob.2.out" >"$out/bob.events"
