#!/usr/bin/env bash
# test_memd_run.sh - whole programs under `farsight run --backend tcp://...` with 1 MiB
# of local memory: sort's output equals plain sort's (with a shared secret, passed as
# FARSIGHT_SECRET_FILE); and killing memd mid-run stops the program with a non-zero
# exit and the backend's message, never with wrong data.
set -u
BIN=${FARSIGHT_BIN:-build/farsight}
BUILD=${BUILD:-build}
CHURN="$BUILD/tests/memd_churn"
case "$BUILD" in
*asan* | *tsan*)
	# `farsight run` preloads the shim, which cannot share a process with a sanitizer
	# runtime; test_memd.c covers the backend itself under the sanitizers.
	echo "skip: farsight run cannot run under a sanitizer build ($BUILD)"
	exit 0
	;;
esac
tmp=$(mktemp -d /tmp/fs-memd-run.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
fail=0
check() { if eval "$1"; then echo "ok   $2"; else echo "FAIL $2"; fail=1; fi; }

start_memd() { # name [args...]: sets port and mpid
	local name=$1; shift
	FARSIGHT_DEBUG=1 "$BIN" memd --listen 127.0.0.1:0 --port-file "$tmp/$name.port" "$@" \
		2>"$tmp/$name.log" &
	mpid=$!; pids+=("$mpid")
	for _ in $(seq 200); do [ -s "$tmp/$name.port" ] && break; sleep 0.05; done
	port=$(cat "$tmp/$name.port")
}

# 1. sort through far memory held by memd, with a secret.
awk 'BEGIN { srand(7); for (i = 0; i < 150000; i++) printf "%08d line %d\n", int(rand() * 1e8), i }' \
	>"$tmp/in.txt"
head -c 32 /dev/urandom | base64 >"$tmp/secret"
start_memd sort --secret-file "$tmp/secret"
FARSIGHT_SECRET_FILE="$tmp/secret" timeout 120 "$BIN" run --backend "tcp://127.0.0.1:$port" --local-mem 1M \
	--stats-json "$tmp/stats.json" -- sort "$tmp/in.txt" >"$tmp/far.txt" 2>"$tmp/run.err"
rc=$?
sort "$tmp/in.txt" >"$tmp/local.txt"
check '[ $rc -eq 0 ]' "sort under the tcp backend exits 0 (status $rc; 124 = hung for 120 s)"
check 'cmp -s "$tmp/far.txt" "$tmp/local.txt"' "its output equals plain sort's"
check 'grep -q "authenticated (demand connection, joined session)" "$tmp/sort.log"' \
	"it went through memd (bulk and demand connections)"
check 'grep -q "\"far_bytes_read\": [1-9]" "$tmp/stats.json"' "pages were read back from memd"
kill -TERM "$mpid"; wait "$mpid"

# 2. memd killed mid-run: a clear message and a non-zero exit.
start_memd doomed
timeout 120 "$BIN" run --backend "tcp://127.0.0.1:$port" --local-mem 1M -- "$CHURN" 30 \
	>"$tmp/churn.out" 2>"$tmp/churn.err" &
rpid=$!; pids+=("$rpid")
for _ in $(seq 200); do grep -q "demand connection" "$tmp/doomed.log" && break; sleep 0.05; done
sleep 0.5
kill -9 "$mpid"; wait "$mpid" 2>/dev/null
wait "$rpid"; rc=$?
check '[ $rc -ne 0 ]' "killing memd mid-run: non-zero exit ($rc)"
check 'grep -q "connection to memd at 127.0.0.1:$port broke" "$tmp/churn.err"' \
	"killing memd mid-run: the message names the server and says the connection broke"
check '! grep -q checksum "$tmp/churn.out"' "killing memd mid-run: the program did not finish"
[ $fail -ne 0 ] && { echo "--- run.err"; cat "$tmp/run.err"; echo "--- churn.err"; cat "$tmp/churn.err"; }
exit $fail
