#!/usr/bin/env bash
# test_memd_net.sh - whole programs under `farsight run --backend tcp://...` when the
# network or the server misbehaves (issue 18):
#   1. memd stops answering (SIGSTOP: what a partition looks like to the client): the
#      program stops within backend_timeout_ms with exit 70 and a message naming the
#      server, and its pager does not spin meanwhile.
set -u
source "$(dirname "$0")/lib.sh"
BIN=$FARSIGHT_BIN
CHURN="$BUILD/tests/memd_churn"
tmp=$(mktemp -d /tmp/fs-memd-net.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -CONT "$p" 2>/dev/null; kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null; rm -rf "$tmp"
}
trap cleanup EXIT
fail=0
check() { if eval "$1"; then echo "ok   $2"; else echo "FAIL $2"; fail=1; fi; }

# CPU ticks (user + system) of the thread called $2 in process $1.
thread_ticks() {
	local t
	for t in /proc/"$1"/task/*; do
		[ "$(cat "$t/comm" 2>/dev/null)" = "$2" ] && awk '{ print $14 + $15 }' "$t/stat" && return
	done
	echo -1
}

# 1. memd stopped mid-run.
start_memd stopped
timeout 60 "$BIN" run --backend "tcp://127.0.0.1:$port" --local-mem 1M --backend-timeout-ms 3000 \
	-- "$CHURN" 30 >"$tmp/churn.out" 2>"$tmp/churn.err" &
rpid=$!; pids+=("$rpid")
for _ in $(seq 200); do grep -q "demand connection" "$tmp/stopped.log" && break; sleep 0.05; done
sleep 0.5
kill -STOP "$mpid"
# Measure the pager over 2 s of the 3 s wait: its thread is in the program's process,
# the child of `farsight run` (a child of timeout).
prog=$(pgrep -P "$(pgrep -P "$rpid" | head -1)" | head -1)
sleep 0.3
t0=$(thread_ticks "$prog" farsight-pager)
sleep 2
t1=$(thread_ticks "$prog" farsight-pager)
hz=$(getconf CLK_TCK)
wait "$rpid"; rc=$?
check '[ $rc -eq 70 ]' "memd stopped mid-run: exit status 70 ($rc; 124 = it hung for 60 s)"
check 'grep -q "memd at 127.0.0.1:$port (.* connection) sent nothing for 3" "$tmp/churn.err"' \
	"memd stopped mid-run: the message names the server and the silence"
check '! grep -q checksum "$tmp/churn.out"' "memd stopped mid-run: the program did not finish"
# Before the deadline the pager used ~40% of a CPU here; its wait now backs off to 1 ms
# slices (~2%).  A quarter of a CPU is the line.
check '[ "$t0" -ge 0 ] && [ $((t1 - t0)) -lt $((hz / 2)) ]' \
	"memd stopped mid-run: the waiting pager used $((t1 - t0)) of $((2 * hz)) ticks (less than a quarter of a CPU)"
kill -CONT "$mpid"; kill -TERM "$mpid"; wait "$mpid"

[ $fail -ne 0 ] && { echo "--- churn.err"; cat "$tmp/churn.err"; }
exit $fail
